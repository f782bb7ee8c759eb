"""nn.utils.clip_grad_norm_ / clip_grad_value_: against torch.nn.utils on drawn gradients, the edge cases,
bad input, and inside a jitted training step (bit for bit with eager mode)."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_lite as tl
from tinygrad_lite import Tensor, nn, optim

torch = pytest.importorskip("torch", reason="torch is not installed: the PyTorch comparisons need it")

shapes = st.lists(st.integers(1, 4), min_size=0, max_size=3).map(tuple)


def _pairs(grads, dtypes):
    """Our parameters and PyTorch's with these gradients (None: no gradient)."""
    ours, theirs = [], []
    for g, dt in zip(grads, dtypes):
        shape = (2,) if g is None else g.shape
        p, q = Tensor(np.zeros(shape, dtype=dt), requires_grad=True), torch.zeros(shape, dtype=getattr(torch, dt),
                                                                                   requires_grad=True)
        if g is not None:
            p.grad, q.grad = Tensor(g.astype(dt)), torch.tensor(g.astype(dt))
        ours.append(p)
        theirs.append(q)
    return ours, theirs


@st.composite
def gradient_sets(draw):
    n = draw(st.integers(1, 4))
    scale = draw(st.sampled_from([1e-3, 1.0, 1e3]))
    grads = []
    for i in range(n):
        if i > 0 and draw(st.booleans()) and draw(st.booleans()):
            grads.append(None)  # a parameter without a gradient
            continue
        shape = draw(shapes)
        seed = draw(st.integers(0, 2**16))
        grads.append(np.random.default_rng(seed).standard_normal(shape) * scale)
    dtypes = draw(st.lists(st.sampled_from(["float32", "float64"]), min_size=n, max_size=n))
    return grads, dtypes


@settings(deadline=None)
@given(data=gradient_sets(), max_norm=st.sampled_from([0.0, 1e-3, 0.5, 1.0, 10.0, 1e6, math.inf]),
       norm_type=st.sampled_from([0.5, 1, 2.0, 3.5, math.inf, "inf"]))
def test_clip_grad_norm_matches_torch(data, max_norm, norm_type):
    grads, dtypes = data
    ours, theirs = _pairs(grads, dtypes)
    total = nn.utils.clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    ref = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    single = all(dt == "float64" for dt, g in zip(dtypes, grads) if g is not None)
    rtol = 1e-12 if single else 2e-6
    assert total.shape == () and total.dtype == np.dtype(str(ref.dtype).removeprefix("torch."))
    np.testing.assert_allclose(total.numpy(), ref.numpy(), rtol=rtol, atol=0)
    for p, q, dt in zip(ours, theirs, dtypes):
        assert (p.grad is None) == (q.grad is None)
        if p.grad is not None:
            assert p.grad.dtype == np.dtype(dt) and p.grad.shape == p.shape
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=rtol, atol=0)


@settings(deadline=None)
@given(data=gradient_sets(), clip_value=st.sampled_from([0.0, 1e-3, 0.5, 2.0, math.inf]), nan=st.booleans())
def test_clip_grad_value_matches_torch(data, clip_value, nan):
    grads, dtypes = data
    if nan and grads[0].size:
        grads[0].reshape(-1)[0] = np.nan  # NaN stays NaN in both
    ours, theirs = _pairs(grads, dtypes)
    assert nn.utils.clip_grad_value_(ours, clip_value) is None
    torch.nn.utils.clip_grad_value_(theirs, clip_value)
    for p, q in zip(ours, theirs):
        if p.grad is not None:
            assert p.grad.dtype == p.dtype
            np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())


def test_the_grad_is_replaced_by_a_copy_and_a_shared_gradient_array_is_scaled_once():
    shared = np.array([3.0, 4.0])  # the engine may hand one gradient array to several tensors
    a, b = Tensor([0.0, 0.0], requires_grad=True), Tensor([0.0, 0.0], requires_grad=True)
    a.grad = Tensor(shared)
    a.grad.data = b_data = shared
    b.grad = Tensor(b_data)
    b.grad.data = shared
    total = nn.utils.clip_grad_norm_([a, b], max_norm=1.0)
    assert total.item() == pytest.approx(math.sqrt(50.0))
    coef = 1.0 / (math.sqrt(50.0) + 1e-6)
    np.testing.assert_allclose(a.grad.numpy(), [3 * coef, 4 * coef], rtol=1e-15)
    np.testing.assert_allclose(b.grad.numpy(), [3 * coef, 4 * coef], rtol=1e-15)
    np.testing.assert_array_equal(shared, [3.0, 4.0])
    assert a.grad.data is not shared and a.grad.data is not b.grad.data


def test_no_gradients_give_a_zero_norm_and_single_tensors_and_generators_are_accepted():
    w = Tensor([1.0], requires_grad=True)
    total = nn.utils.clip_grad_norm_([w], 1.0)
    assert total.item() == 0.0 and total.dtype == np.float32 and w.grad is None
    assert nn.utils.clip_grad_norm_([], 1.0).item() == 0.0
    w.grad = Tensor([-4.0])
    assert nn.utils.clip_grad_norm_(w, 2.0).item() == 4.0  # a single Tensor
    assert w.grad.item() == pytest.approx(-2.0, rel=1e-6)
    model = nn.Linear(2, 2)
    model(Tensor([[1.0, 2.0]])).sum().backward()
    before = [p.grad.numpy() for p in model.parameters()]
    nn.utils.clip_grad_value_((p for p in model.parameters()), 0.5)  # a generator
    for p, g in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.grad.numpy(), np.clip(g, -0.5, 0.5))


def test_a_non_finite_norm_raises_with_error_if_nonfinite_and_changes_nothing():
    p, q = Tensor([0.0, 0.0], requires_grad=True), Tensor([0.0], requires_grad=True)
    p.grad, q.grad = Tensor([1.0, np.inf]), Tensor([2.0])
    with pytest.raises(RuntimeError, match=r"clip_grad_norm_: the total norm of order 2.0 of the gradients is inf"):
        nn.utils.clip_grad_norm_([p, q], 1.0, error_if_nonfinite=True)
    assert p.grad.tolist() == [1.0, np.inf] and q.grad.tolist() == [2.0]
    # Without the flag, as PyTorch: scaled by 1/inf (the infinite entry becomes NaN).
    theirs = [torch.tensor([0.0, 0.0], requires_grad=True), torch.tensor([0.0], requires_grad=True)]
    theirs[0].grad, theirs[1].grad = torch.tensor([1.0, np.inf]), torch.tensor([2.0])
    with pytest.warns(RuntimeWarning, match="invalid value encountered in multiply"):  # inf · 0, as NumPy says
        assert math.isinf(nn.utils.clip_grad_norm_([p, q], 1.0).item())
    torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    np.testing.assert_array_equal(p.grad.numpy(), theirs[0].grad.numpy())
    np.testing.assert_array_equal(q.grad.numpy(), theirs[1].grad.numpy())


@pytest.mark.parametrize("call, error, words", [
    (lambda p: nn.utils.clip_grad_norm_(p, -1.0), ValueError, "clip_grad_norm_: max_norm must be a number >= 0"),
    (lambda p: nn.utils.clip_grad_norm_(p, float("nan")), ValueError, "max_norm must be a number >= 0"),
    (lambda p: nn.utils.clip_grad_norm_(p, "1"), TypeError, "max_norm must be a number, got '1'"),
    (lambda p: nn.utils.clip_grad_norm_(p, 1.0, norm_type=0), ValueError, "norm_type must be a number > 0 or inf"),
    (lambda p: nn.utils.clip_grad_norm_(p, 1.0, norm_type=-2), ValueError, "got -2"),
    (lambda p: nn.utils.clip_grad_norm_(p, 1.0, norm_type="two"), ValueError, "got 'two'"),
    (lambda p: nn.utils.clip_grad_norm_(3, 1.0), TypeError, "parameters must be a Tensor or an iterable of Tensors"),
    (lambda p: nn.utils.clip_grad_norm_([*p, np.ones(2)], 1.0), TypeError, "parameter 1 must be a Tensor, got ndarray"),
    (lambda p: nn.utils.clip_grad_value_(p, -0.5), ValueError, "clip_value must be a number >= 0"),
    (lambda p: nn.utils.clip_grad_value_(p, None), TypeError, "clip_value must be a number"),
])
def test_bad_input_gives_a_clear_one_line_error_and_changes_nothing(call, error, words):
    p = Tensor([0.0, 0.0], requires_grad=True)
    p.grad = Tensor([3.0, -4.0])
    with pytest.raises(error, match=words) as info:
        call([p])
    assert "\n" not in str(info.value) and p.grad.tolist() == [3.0, -4.0]


# --- under the jit --------------------------------------------------------------------------------------------
def _train(jitted, norm_type, batches, error_if_nonfinite=False, max_norm=0.5):
    Tensor.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 1))
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    def step(x, y):
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        norm = nn.utils.clip_grad_norm_(model.parameters(), max_norm, norm_type=norm_type,
                                        error_if_nonfinite=error_if_nonfinite)
        nn.utils.clip_grad_value_(model.parameters(), 0.2)
        opt.step()
        return loss, norm

    run = tl.jit(step) if jitted else step
    outputs = [tuple(t.numpy() for t in run(x, y)) for x, y in batches]
    return outputs, [p.numpy() for p in model.parameters()], (run.captures if jitted else 0)


def _batches(n=8):
    rng = np.random.default_rng(0)  # inputs growing in scale: the norm, and whether clipping bites, change
    return [(Tensor(rng.standard_normal((8, 3)).astype(np.float32) * (0.1 + k)),
             Tensor(rng.standard_normal((8, 1)).astype(np.float32))) for k in range(n)]


@pytest.mark.parametrize("norm_type, max_norm", [(2.0, 1.5), (1.0, 4.0), (math.inf, 1.0), (3.0, 1.0)])
def test_clipping_inside_a_jitted_step_equals_eager_bit_for_bit(norm_type, max_norm):
    batches = _batches()
    eager, jitted = _train(False, norm_type, batches, max_norm=max_norm), _train(True, norm_type, batches,
                                                                                  max_norm=max_norm)
    assert jitted[2] == 1  # one capture; the later calls are replays
    norms = [float(out[1]) for out in eager[0]]
    assert min(norms) < max_norm < max(norms), norms  # some steps are clipped, some are not
    for (loss_e, norm_e), (loss_j, norm_j) in zip(eager[0], jitted[0]):
        assert loss_e.tobytes() == loss_j.tobytes() and norm_e.tobytes() == norm_j.tobytes()
    for a, b in zip(eager[1], jitted[1]):
        assert a.tobytes() == b.tobytes()


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # the infinite batch's forward
def test_error_if_nonfinite_is_checked_again_by_each_jit_replay():
    batches = _batches(5)
    batches[4] = (Tensor(np.full((8, 3), np.inf, dtype=np.float32)), batches[4][1])
    eager = _train(False, 2.0, batches[:4], error_if_nonfinite=True)
    jitted = _train(True, 2.0, batches[:4], error_if_nonfinite=True)
    assert all(a.tobytes() == b.tobytes() for a, b in zip(eager[1], jitted[1]))
    with pytest.raises(RuntimeError, match="total norm of order 2.0 of the gradients is nan"):
        _train(True, 2.0, batches, error_if_nonfinite=True)  # the fifth call is a replay
