"""SGD, Adam and AdamW against torch.optim over many steps, for many settings, in float64 and float32."""
import zlib

import numpy as np
import pytest

import tinygrad_lite.nn.functional as F
from tinygrad_lite import Tensor, nn, optim

torch = pytest.importorskip("torch", reason="torch is not installed: the PyTorch oracle comparisons need it")

STEPS = 60
SETTINGS = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "weight_decay": 0.05}),
    ("SGD", {"lr": 0.05, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.1}),
    ("Adam", {}),
    ("Adam", {"lr": 0.05, "betas": (0.3, 0.5)}),  # 1-β₁ ≥ ½ takes the other branch of lerp
    ("Adam", {"lr": 0.01, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.02, "amsgrad": True, "eps": 1e-3}),
    ("AdamW", {}),
    ("AdamW", {"lr": 0.05, "weight_decay": 0.2, "betas": (0.5, 0.9)}),
    ("AdamW", {"lr": 0.02, "weight_decay": 0.05, "amsgrad": True}),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'defaults'}" for name, kw in SETTINGS]


@pytest.mark.parametrize("dtype, atol", [(np.float64, 1e-12), (np.float32, 5e-6)])
@pytest.mark.parametrize("name, settings", SETTINGS, ids=IDS)
@pytest.mark.parametrize("gradients", ["fixed", "bowl"])
def test_optimizers_follow_torch_step_for_step(name, settings, dtype, atol, gradients):
    """Both optimizers get the same gradients: a fixed random sequence, or those of a noisy quadratic bowl
    evaluated at each side's own parameters. The parameters must agree after every one of 60 steps."""
    rng = np.random.default_rng(zlib.crc32(repr((name, settings)).encode()))  # stable across runs, unlike hash()
    start = [rng.standard_normal(s).astype(dtype) for s in ((3, 4), (5,), ())]
    noise = [[rng.standard_normal(a.shape).astype(dtype) for a in start] for _ in range(STEPS)]
    ours = [Tensor(a, requires_grad=True) for a in start]
    theirs = [torch.tensor(a, requires_grad=True) for a in start]
    opt, ref = getattr(optim, name)(ours, **settings), getattr(torch.optim, name)(theirs, **settings)
    for k in range(STEPS):
        for i, (p, q) in enumerate(zip(ours, theirs)):
            if gradients == "fixed":
                g_ours = g_theirs = noise[k][i]
            else:
                g_ours = p.data - 1 + 0.1 * noise[k][i]
                g_theirs = q.detach().numpy() - 1 + 0.1 * noise[k][i]
            p.grad, q.grad = Tensor(np.asarray(g_ours, dtype=dtype)), torch.tensor(np.asarray(g_theirs, dtype=dtype))
        opt.step()
        ref.step()
        for p, q in zip(ours, theirs):
            np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=0, atol=atol, err_msg=f"step {k}")
    assert all(p.dtype == dtype for p in ours)


def test_skipped_parameters_match_torch():
    """A parameter without a gradient is left alone by both, and its state does not advance."""
    a, b = np.array([1.0, 2.0]), np.array([3.0])
    ours = [Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)]
    theirs = [torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)]
    opt, ref = optim.Adam(ours, lr=0.1), torch.optim.Adam(theirs, lr=0.1)
    for k in range(6):
        ours[0].grad, theirs[0].grad = Tensor(a * k), torch.tensor(a * k)
        ours[1].grad = Tensor(b) if k % 2 else None
        theirs[1].grad = torch.tensor(b) if k % 2 else None
        opt.step()
        ref.step()
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=0, atol=1e-14)


@pytest.mark.parametrize("name, settings", [("SGD", {"lr": 0.1, "momentum": 0.9}), ("Adam", {"lr": 0.01}),
                                            ("AdamW", {"lr": 0.01, "amsgrad": True})])
def test_training_an_mlp_end_to_end_matches_torch(name, settings):
    """Our autograd and optimizer against PyTorch's on a 2-layer classifier, float64, 50 steps."""
    rng = np.random.default_rng(0)
    X, labels = rng.standard_normal((16, 4)), rng.integers(0, 3, 16)
    ours = nn.Sequential(nn.Linear(4, 8, dtype="float64"), nn.Tanh(), nn.Linear(8, 3, dtype="float64"))
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)).double()
    theirs.load_state_dict({k: torch.tensor(v.data) for k, v in ours.state_dict().items()})
    opt, ref = getattr(optim, name)(ours.parameters(), **settings), getattr(torch.optim, name)(theirs.parameters(),
                                                                                               **settings)
    for _ in range(50):
        loss = F.cross_entropy(ours(Tensor(X)), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        ref_loss = torch.nn.functional.cross_entropy(theirs(torch.tensor(X)), torch.tensor(labels))
        ref.zero_grad()
        ref_loss.backward()
        ref.step()
        assert loss.item() == pytest.approx(ref_loss.item(), rel=1e-10)
    for k, v in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[k].data, v.numpy(), rtol=1e-9, atol=1e-12)
