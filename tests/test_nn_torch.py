"""nn layers, activations and losses against PyTorch (values and gradients, float64)."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_lite.nn.functional as F
from tinygrad_lite import Tensor, nn

torch = pytest.importorskip("torch", reason="torch is not installed: the PyTorch oracle comparisons need it")
TF = torch.nn.functional
TOL = {"rtol": 1e-10, "atol": 1e-12}


def _both(fn_ours, fn_torch, *arrays, grad_args=(0,), tol=TOL):
    """Run a loss or layer in both libraries on the same float64 arrays; compare values and gradients."""
    ours = [Tensor(a, requires_grad=i in grad_args) if a.dtype.kind == "f" else Tensor(a)
            for i, a in enumerate(arrays)]
    theirs = [torch.tensor(a, requires_grad=i in grad_args and a.dtype.kind == "f") for i, a in enumerate(arrays)]
    out, ref = fn_ours(*ours), fn_torch(*theirs)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), **tol)
    seed = np.random.default_rng(0).standard_normal(ref.shape)
    out.backward(seed)
    ref.backward(torch.tensor(seed))
    for i in grad_args:
        np.testing.assert_allclose(ours[i].grad.data, theirs[i].grad.numpy(), **tol)


ACTIVATIONS = [
    (nn.Sigmoid(), torch.nn.Sigmoid()), (nn.LogSigmoid(), torch.nn.LogSigmoid()), (nn.Tanh(), torch.nn.Tanh()),
    (nn.ReLU(), torch.nn.ReLU()), (nn.ReLU6(), torch.nn.ReLU6()), (nn.LeakyReLU(0.05), torch.nn.LeakyReLU(0.05)),
    (nn.ELU(0.7), torch.nn.ELU(0.7)), (nn.CELU(1.5), torch.nn.CELU(1.5)),
    (nn.GELU(), torch.nn.GELU()), (nn.GELU(approximate="tanh"), torch.nn.GELU(approximate="tanh")),
    (nn.SiLU(), torch.nn.SiLU()), (nn.Mish(), torch.nn.Mish()),
    (nn.Softplus(), torch.nn.Softplus()), (nn.Softplus(2.0, 3.0), torch.nn.Softplus(2.0, 3.0)),
    (nn.Softsign(), torch.nn.Softsign()), (nn.Hardtanh(-0.5, 2.0), torch.nn.Hardtanh(-0.5, 2.0)),
    (nn.Hardsigmoid(), torch.nn.Hardsigmoid()), (nn.Hardswish(), torch.nn.Hardswish()),
    (nn.Softmax(dim=1), torch.nn.Softmax(dim=1)), (nn.LogSoftmax(dim=0), torch.nn.LogSoftmax(dim=0)),
    (nn.Flatten(), torch.nn.Flatten()),
]


# A dense sweep over [-25, 25] (saturation included) that steps over the kinks at 0, ±1, 3, 6, ...
SWEEP = np.linspace(-25, 25, 200).reshape(40, 5)


@pytest.mark.parametrize("ours, theirs", ACTIVATIONS, ids=[repr(m) for m, _ in ACTIVATIONS])
def test_activation_modules_match_torch(ours, theirs):
    # PyTorch's hardsigmoid/hardswish backward multiply by 1/6 rounded to float32 even for float64 data.
    tol = {"rtol": 1e-7, "atol": 1e-12} if isinstance(ours, (nn.Hardsigmoid, nn.Hardswish)) else TOL
    _both(ours, theirs, SWEEP, tol=tol)


@given(n_in=st.integers(1, 5), n_out=st.integers(1, 5), batch=st.integers(1, 4), bias=st.booleans(),
       seed=st.integers(0, 100))
def test_linear_matches_torch_with_the_same_weights(n_in, n_out, batch, bias, seed):
    ours = nn.Linear(n_in, n_out, bias=bias, dtype="float64")
    theirs = torch.nn.Linear(n_in, n_out, bias=bias, dtype=torch.float64)
    theirs.load_state_dict({k: torch.tensor(v.data) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(seed).standard_normal((batch, n_in))
    _both(ours, theirs, x)
    ours(Tensor(x)).sum().backward()
    theirs(torch.tensor(x)).sum().backward()
    for (name, p), (tname, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert name == tname
        np.testing.assert_allclose(p.grad.data, tp.grad.numpy(), **TOL)


def test_linear_state_dict_keys_and_layout_are_torchs():
    ours = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU(), torch.nn.Linear(2, 1))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x = np.ones((4, 3), dtype=np.float32)
    np.testing.assert_allclose(ours(Tensor(x)).data, theirs(torch.tensor(x)).detach().numpy(), rtol=1e-6)


floats = st.floats(-5, 5)
reductions = st.sampled_from(["mean", "sum", "none"])


@given(data=st.data(), reduction=reductions)
def test_regression_and_binary_losses_match_torch(data, reduction):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4))
    x = data.draw(hnp.arrays(np.float64, shape, elements=floats))
    y = data.draw(hnp.arrays(np.float64, shape, elements=st.floats(0, 1)))
    w = data.draw(hnp.arrays(np.float64, shape[-1:], elements=st.floats(0.1, 2)))
    p = 1 / (1 + np.exp(-x))
    _both(lambda a, b: F.mse_loss(a, b, reduction), lambda a, b: TF.mse_loss(a, b, reduction=reduction), x, y,
          grad_args=(0, 1))
    _both(lambda a, b: F.l1_loss(a, b, reduction), lambda a, b: TF.l1_loss(a, b, reduction=reduction), x, y + 6)
    _both(lambda a, b, c: F.binary_cross_entropy(a, b, c, reduction),
          lambda a, b, c: TF.binary_cross_entropy(a, b, c, reduction=reduction), p, y, w)
    _both(lambda a, b, c: F.binary_cross_entropy_with_logits(a, b, reduction=reduction, pos_weight=c),
          lambda a, b, c: TF.binary_cross_entropy_with_logits(a, b, reduction=reduction, pos_weight=c), x, y, w,
          grad_args=(0, 1))


@given(data=st.data(), reduction=reductions, weighted=st.booleans(), smoothing=st.sampled_from([0.0, 0.25]),
       spatial=st.booleans(), probs=st.booleans())
def test_cross_entropy_and_nll_match_torch(data, reduction, weighted, smoothing, spatial, probs):
    n, c = data.draw(st.integers(1, 4)), data.draw(st.integers(2, 4))
    shape = (n, c, data.draw(st.integers(1, 3))) if spatial else (n, c)
    z = data.draw(hnp.arrays(np.float64, shape, elements=st.floats(-10, 10)))
    w = data.draw(hnp.arrays(np.float64, (c,), elements=st.floats(0.1, 2)))
    weight = (Tensor(w), torch.tensor(w)) if weighted else (None, None)
    if probs:
        raw = data.draw(hnp.arrays(np.float64, shape, elements=st.floats(0.01, 1)))
        target = raw / raw.sum(1, keepdims=True)
    else:
        target_shape = shape[:1] + shape[2:]
        target = data.draw(hnp.arrays(np.int64, target_shape, elements=st.integers(0, c - 1)))
        if data.draw(st.booleans()):
            target.flat[0] = -100  # ignored
    _both(lambda a, t: F.cross_entropy(a, t, weight[0], reduction=reduction, label_smoothing=smoothing),
          lambda a, t: TF.cross_entropy(a, t, weight[1], reduction=reduction, label_smoothing=smoothing), z, target)
    if not probs:
        logp = z - np.log(np.exp(z).sum(1, keepdims=True))
        _both(lambda a, t: F.nll_loss(a, t, weight[0], reduction=reduction),
              lambda a, t: TF.nll_loss(a, t, weight[1], reduction=reduction), logp, target)
