"""Conv-net layers against PyTorch: dropout, convolution, pooling, normalization, and their modules."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_lite.nn.functional as F
from tinygrad_lite import Tensor, jit, nn, optim

torch = pytest.importorskip("torch", reason="the PyTorch equivalence tests need torch")


# --- dropout -------------------------------------------------------------------------------------------
def test_tensor_dropout_follows_tensor_training() -> None:
    x = Tensor.ones(50)
    assert Tensor.training is False
    assert x.dropout(0.5) is x
    with Tensor.train():
        assert Tensor.training is True
        y = x.dropout(0.5).numpy()
        with Tensor.train(False):
            assert x.dropout(0.5) is x
    assert Tensor.training is False
    assert set(np.unique(y)) <= {0.0, 2.0} and 0 < (y == 0).sum() < 50


@settings(max_examples=20)
@given(p=st.floats(0.05, 0.95), n=st.integers(1, 40), seed=st.integers(0, 2**16))
def test_dropout_keeps_or_scales_each_element_and_its_gradient(p: float, n: int, seed: int) -> None:
    Tensor.manual_seed(seed)
    x = Tensor(np.random.default_rng(seed).standard_normal(n) + 5.0, requires_grad=True)
    y = F.dropout(x, p)
    kept = y.numpy() != 0
    np.testing.assert_allclose(y.numpy()[kept], x.numpy()[kept] / (1 - p), rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), kept / (1 - p), rtol=1e-6)


def test_dropout_drops_about_p_of_the_elements() -> None:
    Tensor.manual_seed(0)
    y = F.dropout(Tensor.ones(20000), 0.3).numpy()
    assert abs((y == 0).mean() - 0.3) < 0.02
    assert abs(y.mean() - 1.0) < 0.03  # unbiased, as the 1/(1-p) scaling intends


def test_dropout_edge_probabilities_and_bad_input() -> None:
    x = Tensor([1.0, -2.0], requires_grad=True)
    assert F.dropout(x, 0.0) is x
    z = F.dropout(x, 1.0)
    assert z.tolist() == [0.0, 0.0]
    z.sum().backward()
    assert x.grad.tolist() == [0.0, 0.0]
    assert F.dropout(x, 0.5, training=False) is x
    with pytest.raises(ValueError, match=r"\[0, 1\].*1.5"):
        F.dropout(x, 1.5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        nn.Dropout(-0.1)
    with pytest.raises(TypeError, match="floating-point"):
        F.dropout(Tensor([1, 2]), 0.5)


def test_nn_dropout_follows_the_module_mode() -> None:
    Tensor.manual_seed(1)
    model = nn.Sequential(nn.Linear(3, 400), nn.Dropout(0.5))
    x = Tensor.ones(2, 3)
    assert (model(x).numpy() == 0).any()
    model.eval()
    out = model(x).numpy()
    np.testing.assert_array_equal(out, model[0](x).numpy())
    model.train()
    assert (model(x).numpy() == 0).any()
    assert model.state_dict().keys() == {"0.weight", "0.bias"}
    assert repr(nn.Dropout(0.25)) == "Dropout(p=0.25, inplace=False)"


def test_jitted_dropout_draws_fresh_masks_equal_to_eager() -> None:
    def make():
        Tensor.manual_seed(5)
        model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 1))
        opt = optim.SGD(model.parameters(), lr=0.05)

        def step(x: Tensor) -> Tensor:
            opt.zero_grad()
            hidden = model[2](model[1](model[0](x)))
            loss = model[3](hidden).square().mean()
            loss.backward()
            opt.step()
            return hidden
        return model, step

    (me, eager), (mj, step) = make(), make()
    jitted = jit(step)
    x = Tensor(np.random.default_rng(0).standard_normal((8, 4)).astype(np.float32))
    Tensor.manual_seed(42)
    expected = [eager(x).numpy() for _ in range(5)]
    Tensor.manual_seed(42)
    got = [jitted(x).numpy() for _ in range(5)]
    masks = [tuple((e == 0).ravel()) for e in expected]
    assert len(set(masks)) == 5  # a fresh mask on every call
    for e, g in zip(expected, got):
        np.testing.assert_array_equal(e, g)
    for (_, a), (_, b) in zip(me.named_parameters(), mj.named_parameters()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


# --- helpers ---------------------------------------------------------------------------------------------------
def _pair(shape: tuple[int, ...], seed: int, dtype: type = np.float64) -> tuple[Tensor, torch.Tensor]:
    a = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    return Tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


def _close(ours: Tensor | np.ndarray | None, theirs: torch.Tensor | None, tol: float = 1e-8) -> None:
    assert ours is not None and theirs is not None
    a = ours.numpy() if isinstance(ours, Tensor) else ours
    b = theirs.detach().numpy()
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def _backward_both(out: Tensor, ref: torch.Tensor, seed: int) -> None:
    g = np.random.default_rng(seed + 99).standard_normal(ref.shape)
    out.backward(g.astype(out.dtype))
    ref.backward(torch.tensor(g, dtype=ref.dtype))


# --- convolution against PyTorch ----------------------------------------------------------------------------------
@settings(max_examples=25)
@given(nd=st.sampled_from([1, 2, 3]), groups=st.sampled_from([1, 2, 3]), cg=st.integers(1, 2), og=st.integers(1, 2),
       k=st.integers(1, 3), stride=st.integers(1, 2), dilation=st.integers(1, 2), padding=st.integers(0, 2),
       extra=st.integers(0, 2), bias=st.booleans(), seed=st.integers(0, 2**16))
def test_conv_matches_torch(nd: int, groups: int, cg: int, og: int, k: int, stride: int, dilation: int, padding: int,
                            extra: int, bias: bool, seed: int) -> None:
    size = max(dilation * (k - 1) + 1 - 2 * padding, 1) + extra
    spatial = (size + 1, size, size + 2)[:nd]
    x, tx = _pair((2, cg * groups, *spatial), seed)
    w, tw = _pair((og * groups, cg, *(k,) * nd), seed + 1)
    b, tb = _pair((og * groups,), seed + 2) if bias else (None, None)
    fn = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[nd]
    tfn = {1: torch.nn.functional.conv1d, 2: torch.nn.functional.conv2d, 3: torch.nn.functional.conv3d}[nd]
    out = fn(x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)
    ref = tfn(tx, tw, tb, stride=stride, padding=padding, dilation=dilation, groups=groups)
    _close(out, ref)
    _backward_both(out, ref, seed)
    _close(x.grad, tx.grad)
    _close(w.grad, tw.grad)
    if bias:
        _close(b.grad, tb.grad)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths:UserWarning")  # torch's note
@pytest.mark.parametrize("padding", ["same", "valid", (1, 2)])
def test_conv2d_padding_words_and_pairs_match_torch(padding: object) -> None:
    x, tx = _pair((1, 2, 6, 7), 0)
    w, tw = _pair((3, 2, 4, 3), 1)
    out = F.conv2d(x, w, padding=padding, dilation=(1, 2))
    ref = torch.nn.functional.conv2d(tx, tw, padding=padding, dilation=(1, 2))
    _close(out, ref)


def test_flat_and_negative_padding_follow_tinygrad() -> None:
    x = Tensor(np.random.default_rng(0).standard_normal((1, 1, 5, 6)))
    w = Tensor(np.random.default_rng(1).standard_normal((1, 1, 2, 2)))
    flat = x.conv2d(w, padding=(1, 0, 2, -1))  # (left, right, top, bottom): W +1 before, H +2 before and -1 after
    padded = np.pad(x.numpy()[:, :, :-1, :], [(0, 0), (0, 0), (2, 0), (1, 0)])
    np.testing.assert_allclose(flat.numpy(), x._wrap(padded).conv2d(w).numpy())


def test_unbatched_input_and_depthwise() -> None:
    x, tx = _pair((4, 5, 5), 3)
    w, tw = _pair((8, 1, 3, 3), 4)  # depthwise with a channel multiplier of 2
    out = F.conv2d(x, w, groups=4, padding=1)
    ref = torch.nn.functional.conv2d(tx, tw, groups=4, padding=1)
    _close(out, ref)
    _backward_both(out, ref, 0)
    _close(x.grad, tx.grad)
    _close(w.grad, tw.grad)


@settings(max_examples=20)
@given(groups=st.sampled_from([1, 2]), k=st.integers(1, 3), stride=st.integers(1, 3), dilation=st.integers(1, 2),
       padding=st.integers(0, 1), seed=st.integers(0, 2**16), data=st.data())
def test_conv_transpose2d_matches_torch(groups: int, k: int, stride: int, dilation: int, padding: int, seed: int,
                                        data: st.DataObject) -> None:
    extra = data.draw(st.integers(0, max(stride, dilation) - 1), label="output_padding")
    x, tx = _pair((2, 2 * groups, 3, 4), seed)
    w, tw = _pair((2 * groups, 3, k, k), seed + 1)
    b, tb = _pair((3 * groups,), seed + 2)
    out = F.conv_transpose2d(x, w, b, stride=stride, padding=padding, output_padding=extra, groups=groups,
                             dilation=dilation)
    ref = torch.nn.functional.conv_transpose2d(tx, tw, tb, stride=stride, padding=padding, output_padding=extra,
                                               groups=groups, dilation=dilation)
    _close(out, ref)
    _backward_both(out, ref, seed)
    for ours, theirs in ((x, tx), (w, tw), (b, tb)):
        _close(ours.grad, theirs.grad)


@pytest.mark.parametrize("nd", [1, 3])
def test_conv_transpose_in_1d_and_3d_matches_torch(nd: int) -> None:
    x, tx = _pair((2, 4, *(3,) * nd), nd)
    w, tw = _pair((4, 3, *(2,) * nd), nd + 1)
    out = x.conv_transpose2d(w, groups=2, stride=2, padding=1, output_padding=1, dilation=1)
    tfn = {1: torch.nn.functional.conv_transpose1d, 3: torch.nn.functional.conv_transpose3d}[nd]
    ref = tfn(tx, tw, stride=2, padding=1, output_padding=1, groups=2)
    _close(out, ref)
    _backward_both(out, ref, nd)
    _close(x.grad, tx.grad)
    _close(w.grad, tw.grad)


def test_conv_errors_name_the_shapes() -> None:
    x = Tensor.zeros(1, 3, 5, 5)
    with pytest.raises(ValueError, match=r"3 channels.*\(4, 2, 3, 3\).*expects 2"):
        x.conv2d(Tensor.zeros(4, 2, 3, 3))
    with pytest.raises(ValueError, match="divisible by groups"):
        x.conv2d(Tensor.zeros(4, 1, 3, 3), groups=3)
    with pytest.raises(ValueError, match="smaller than the kernel"):
        x.conv2d(Tensor.zeros(4, 3, 7, 7))
    with pytest.raises(ValueError, match="stride must be at least 1"):
        x.conv2d(Tensor.zeros(4, 3, 3, 3), stride=0)
    with pytest.raises(TypeError, match="same dtype"):
        x.conv2d(Tensor.zeros(4, 3, 3, 3, dtype="float64"))
    with pytest.raises(ValueError, match="bias must have shape"):
        x.conv2d(Tensor.zeros(4, 3, 3, 3), Tensor.zeros(3))
    with pytest.raises(ValueError, match="output_padding"):
        x.conv_transpose2d(Tensor.zeros(3, 2, 3, 3), stride=2, output_padding=2)
    with pytest.raises(ValueError, match="padding needs"):
        x.conv2d(Tensor.zeros(4, 3, 3, 3), padding=(1, 1, 1))


# --- pooling against PyTorch -------------------------------------------------------------------------------------
@settings(max_examples=30)
@given(k=st.integers(1, 3), stride=st.sampled_from([None, 1, 2, 3]), dilation=st.integers(1, 2),
       ceil_mode=st.booleans(), seed=st.integers(0, 2**16), data=st.data())
def test_max_pool2d_matches_torch_ties_included(k: int, stride: int | None, dilation: int, ceil_mode: bool,
                                                seed: int, data: st.DataObject) -> None:
    padding = data.draw(st.integers(0, k // 2), label="padding")
    # few distinct values: many ties, whose gradient PyTorch sends to the first maximum of each window
    a = np.random.default_rng(seed).integers(-2, 3, (2, 3, 7, 6)).astype(np.float64)
    x, tx = Tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    out = x.max_pool2d(k, stride, dilation, padding, ceil_mode)
    ref = torch.nn.functional.max_pool2d(tx, k, stride, padding, dilation, ceil_mode=ceil_mode)
    _close(out, ref)
    _backward_both(out, ref, seed)
    _close(x.grad, tx.grad)


def test_max_pool2d_nan_propagates_like_torch() -> None:
    a = np.array([[[[1.0, np.nan, 3.0, np.nan], [0.0, 2.0, 5.0, 4.0]]]])
    x, tx = Tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    out, ref = x.max_pool2d(2), torch.nn.functional.max_pool2d(tx, 2)
    np.testing.assert_array_equal(np.isnan(out.numpy()), np.isnan(ref.detach().numpy()))
    out.sum().backward()
    ref.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())


@settings(max_examples=30)
@given(k=st.integers(1, 3), stride=st.sampled_from([None, 1, 2, 3]), ceil_mode=st.booleans(),
       count_include_pad=st.booleans(), divisor=st.sampled_from([None, 3]), seed=st.integers(0, 2**16),
       data=st.data())
def test_avg_pool2d_matches_torch(k: int, stride: int | None, ceil_mode: bool, count_include_pad: bool,
                                  divisor: int | None, seed: int, data: st.DataObject) -> None:
    padding = data.draw(st.integers(0, k // 2), label="padding")
    x, tx = _pair((2, 2, 7, 5), seed)
    out = F.avg_pool2d(x, k, stride, padding, ceil_mode, count_include_pad, divisor)
    ref = torch.nn.functional.avg_pool2d(tx, k, stride, padding, ceil_mode, count_include_pad, divisor)
    _close(out, ref)
    _backward_both(out, ref, seed)
    _close(x.grad, tx.grad)


@pytest.mark.parametrize("size", [1, 2, 3, (4, 2), (None, 3), (5, 7)])
def test_adaptive_avg_pool2d_matches_torch(size: object) -> None:
    x, tx = _pair((2, 3, 5, 7), 0)
    out = nn.AdaptiveAvgPool2d(size)(x)
    ref = torch.nn.AdaptiveAvgPool2d(size)(tx)
    _close(out, ref)
    _backward_both(out, ref, 0)
    _close(x.grad, tx.grad)


def test_pool_errors() -> None:
    x = Tensor.zeros(1, 1, 4, 4)
    with pytest.raises(ValueError, match="at most half"):
        x.max_pool2d(2, padding=2)
    with pytest.raises(ValueError, match="smaller than the kernel"):
        x.avg_pool2d(5)
    with pytest.raises(ValueError, match="kernel_size"):
        x.max_pool2d((2, 0))
    with pytest.raises(ValueError, match="pad2d"):
        x.pad2d((1, 1, 1))


# --- normalization against PyTorch --------------------------------------------------------------------------------
@pytest.mark.parametrize("kind, shape", [("1d", (6, 3)), ("1d", (4, 3, 5)), ("2d", (3, 3, 4, 5))])
@pytest.mark.parametrize("momentum", [0.1, None])
def test_batchnorm_matches_torch_with_running_stats(kind: str, shape: tuple[int, ...], momentum: float | None) -> None:
    ours = {"1d": nn.BatchNorm1d, "2d": nn.BatchNorm2d}[kind](3, momentum=momentum, dtype="float64")
    theirs = {"1d": torch.nn.BatchNorm1d, "2d": torch.nn.BatchNorm2d}[kind](3, momentum=momentum).double()
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor([0.5, 1.5, -1.0]))
        theirs.bias.copy_(torch.tensor([0.1, 0.0, -0.3]))
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    for step in range(3):
        x, tx = _pair(shape, step)
        out, ref = ours(x), theirs(tx)
        _close(out, ref)
        _backward_both(out, ref, step)
        _close(x.grad, tx.grad)
        for name in ("running_mean", "running_var", "num_batches_tracked"):
            _close(getattr(ours, name), getattr(theirs, name))
    _close(ours.weight.grad, theirs.weight.grad)
    _close(ours.bias.grad, theirs.bias.grad)
    ours.eval()
    theirs.eval()
    x, tx = _pair(shape, 10)
    _close(ours(x), theirs(tx))
    assert int(ours.num_batches_tracked.item()) == 3  # eval does not count


def test_batchnorm_without_running_stats_or_affine() -> None:
    ours, theirs = nn.BatchNorm2d(2, affine=False, track_running_stats=False), \
        torch.nn.BatchNorm2d(2, affine=False, track_running_stats=False)
    assert ours.state_dict() == {} and not ours.parameters()
    x, tx = _pair((3, 2, 2, 2), 0, np.float32)
    ours.eval()
    theirs.eval()
    _close(ours(x), theirs(tx), 1e-5)  # batch statistics even in eval mode


def test_batchnorm_errors() -> None:
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(Tensor.zeros(1, 3))
    with pytest.raises(ValueError, match="4-D input with 3 channels"):
        nn.BatchNorm2d(3)(Tensor.zeros(2, 4, 2, 2))


def test_functional_batch_norm_updates_given_running_stats() -> None:
    rm, rv = Tensor.zeros(2), Tensor.ones(2)
    trm, trv = torch.zeros(2), torch.ones(2)
    x, tx = _pair((4, 2, 3), 0, np.float32)
    out = F.batch_norm(x, rm, rv, training=True, momentum=0.3)
    ref = torch.nn.functional.batch_norm(tx, trm, trv, training=True, momentum=0.3)
    _close(out, ref, 1e-5)
    _close(rm, trm, 1e-6)
    _close(rv, trv, 1e-6)
    _close(F.batch_norm(x, rm, rv), torch.nn.functional.batch_norm(tx, trm, trv), 1e-5)


@pytest.mark.parametrize("groups, shape", [(1, (2, 4, 3)), (2, (2, 4, 3, 3)), (4, (3, 4, 2, 2))])
def test_groupnorm_matches_torch(groups: int, shape: tuple[int, ...]) -> None:
    ours, theirs = nn.GroupNorm(groups, 4, dtype="float64"), torch.nn.GroupNorm(groups, 4).double()
    with torch.no_grad():
        theirs.weight.uniform_(-1, 1)
        theirs.bias.uniform_(-1, 1)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x, tx = _pair(shape, groups)
    out, ref = ours(x), theirs(tx)
    _close(out, ref)
    _backward_both(out, ref, 0)
    _close(x.grad, tx.grad)
    _close(ours.weight.grad, theirs.weight.grad)
    _close(ours.bias.grad, theirs.bias.grad)


# --- modules: PyTorch's initialisation, state dicts and outputs ---------------------------------------------------
@pytest.mark.parametrize("ours, theirs", [
    (lambda: nn.Conv1d(4, 6, 3, stride=2, padding=1), lambda: torch.nn.Conv1d(4, 6, 3, stride=2, padding=1)),
    (lambda: nn.Conv2d(4, 6, (3, 2), dilation=2, groups=2, bias=False),
     lambda: torch.nn.Conv2d(4, 6, (3, 2), dilation=2, groups=2, bias=False)),
    (lambda: nn.Conv3d(2, 3, 2, padding="same"), lambda: torch.nn.Conv3d(2, 3, 2, padding="same")),
    (lambda: nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2),
     lambda: torch.nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2)),
])
def test_conv_modules_match_torch_init_keys_and_outputs(ours: object, theirs: object) -> None:
    Tensor.manual_seed(0)
    torch.manual_seed(0)
    a, b = ours(), theirs()  # type: ignore[operator]
    assert list(a.state_dict()) == list(b.state_dict())
    # PyTorch's default: weight and bias uniform on ±1/√fan_in, fan_in = weight.shape[1]·Πkernel
    bound = 1 / np.sqrt(np.prod(a.weight.shape[1:]))
    for (name, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        assert p.shape == tuple(q.shape), name
        assert float(q.detach().abs().max()) <= bound  # the formula is PyTorch's
        assert float(p.abs().max().item()) <= bound
        if p.numel() >= 50:  # and the draw fills the interval
            assert float(p.abs().max().item()) > 0.8 * bound and abs(float(p.numpy().mean())) < 0.3 * bound
    a.load_state_dict({k: v.detach().numpy() for k, v in b.state_dict().items()})
    shape = {1: (2, 4, 7), 2: (2, 4, 7, 6), 3: (2, 2, 4, 5, 3)}[a.weight.ndim - 2]
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    _close(a(Tensor(x)), b(torch.tensor(x)), 1e-5)


class _TorchCNN(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(4, 8, 3), torch.nn.BatchNorm2d(8), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1))
        self.head = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Dropout(0.5), torch.nn.Linear(8, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class _LiteCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(4, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(8, 3))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


def test_a_state_dict_saved_from_a_torch_cnn_loads_and_gives_the_same_outputs(tmp_path: object) -> None:
    torch.manual_seed(0)
    theirs = _TorchCNN()
    theirs.train()
    for _ in range(3):  # move the running statistics away from their initial values
        theirs(torch.randn(5, 1, 10, 10))
    path = f"{tmp_path}/cnn.pt"
    torch.save(theirs.state_dict(), path)
    ours = _LiteCNN()
    loaded = torch.load(path)
    assert list(ours.state_dict()) == list(loaded)
    ours.load_state_dict({k: v.numpy() for k, v in loaded.items()})
    ours.eval()
    theirs.eval()
    x = np.random.default_rng(0).standard_normal((4, 1, 10, 10)).astype(np.float32)
    _close(ours(Tensor(x)), theirs(torch.tensor(x)), 1e-5)


def test_a_jitted_cnn_training_step_equals_eager() -> None:
    def make():
        Tensor.manual_seed(1)
        model = _LiteCNN()
        opt = optim.Adam(model.parameters(), lr=0.01)

        def step(x: Tensor, y: Tensor) -> Tensor:
            opt.zero_grad()
            loss = model(x).sparse_categorical_crossentropy(y)
            loss.backward()
            opt.step()
            return loss
        return model, step

    (me, eager), (mj, step) = make(), make()
    jitted = jit(step)
    rng = np.random.default_rng(0)
    batches = [(Tensor(rng.standard_normal((6, 1, 8, 8)).astype(np.float32)), Tensor(rng.integers(0, 3, 6)))
               for _ in range(4)]
    Tensor.manual_seed(7)
    expected = [eager(x, y).item() for x, y in batches]
    Tensor.manual_seed(7)
    got = [jitted(x, y).item() for x, y in batches]
    assert jitted.captures == 1
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    for (name, a), (_, b) in zip(me.state_dict().items(), mj.state_dict().items()):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6, err_msg=name)
    assert int(mj.features[1].num_batches_tracked.item()) == 4


def test_an_empty_batch_goes_through_like_torch() -> None:
    x, tx = _pair((0, 3, 5, 5), 0)
    w, tw = _pair((4, 3, 3, 3), 1)
    out, ref = x.conv2d(w).max_pool2d(2), torch.nn.functional.max_pool2d(torch.nn.functional.conv2d(tx, tw), 2)
    assert out.shape == tuple(ref.shape) == (0, 4, 1, 1)
    out.sum().backward()
    assert x.grad.shape == x.shape and w.grad is not None and not w.grad.numpy().any()
    assert x.conv_transpose2d(Tensor.zeros(3, 2, 3, 3, dtype="float64"), stride=2).shape == (0, 2, 11, 11)


def test_the_jit_traces_pooling_over_tiles_and_says_which_ops_it_replays_whole() -> None:
    w = Tensor(np.random.default_rng(0).standard_normal((2, 2, 3, 3)), requires_grad=True)

    def step(x: Tensor) -> Tensor:
        w.grad = None
        loss = x.conv2d(w, padding=1).max_pool2d(2).avg_pool2d(2).sum()
        loss.backward()
        return loss

    x = Tensor(np.random.default_rng(1).standard_normal((2, 2, 8, 8)))
    jitted = jit(step)
    expected = []
    for i in range(3):
        expected.append(step(x * float(i + 1)).item())
    got = [jitted(x * float(i + 1)).item() for i in range(3)]
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    fallbacks = jitted.program(x).fallbacks
    assert not [f for f in fallbacks if f.startswith(("MaxPool", "WindowSum"))], fallbacks
