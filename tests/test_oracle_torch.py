"""PyTorch as an oracle: random composite graphs, forward values and gradients, in float64.

Hypothesis draws a chain of steps from a table of ops (unary, binary against a new leaf
of a broadcast-compatible shape, reductions, movement). The same chain runs in tinygrad_lite
and in PyTorch; values, first gradients and (for smooth chains) second derivatives must agree.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_lite import Tensor

torch = pytest.importorskip("torch", reason="PyTorch is the oracle here (pip install torch, the 'oracle' extra)")
F = torch.nn.functional

RTOL = 1e-10

Fn = Callable[..., Any]


@dataclass(frozen=True)
class Step:
    """One op of a chain: `tl(x, leaf)` in tinygrad_lite, `th(x, leaf)` in PyTorch."""

    name: str
    tl: Fn
    th: Fn
    leaf: np.ndarray | None = None


def same(fn: Fn) -> tuple[Fn, Fn]:
    """An op spelled the same way for both libraries."""
    return fn, fn


# Each entry: (tinygrad_lite, torch) on the running value x. The SMOOTH ones are C², so chains of them
# also get their second derivatives compared; the KINKED ones are checked to first order only.
SMOOTH_UNARY: dict[str, tuple[Fn, Fn]] = {
    "neg": same(lambda x: -x),
    "exp": same(lambda x: x.exp()),
    "log(x²+1)": same(lambda x: (x * x + 1).log()),
    "sqrt(x²+1)": same(lambda x: (x * x + 1).sqrt()),
    "sin": same(lambda x: x.sin()),
    "cos": same(lambda x: x.cos()),
    "tanh": same(lambda x: x.tanh()),
    "sigmoid": same(lambda x: x.sigmoid()),
    "softplus": (lambda x: x.softplus(), lambda x: torch.logaddexp(x, torch.zeros_like(x))),
    "silu": (lambda x: x.silu(), F.silu),
    "gelu": (lambda x: x.gelu(), lambda x: F.gelu(x, approximate="tanh")),
    "mish": (lambda x: x.mish(), F.mish),
    "logsigmoid": (lambda x: x.logsigmoid(), F.logsigmoid),
    "square": same(lambda x: x.square()),
    "1/(1+x²)": same(lambda x: (1 + x * x).reciprocal()),
    "x*3-1": same(lambda x: x * 3.0 - 1.0),
    "erf": same(lambda x: x.erf()),
    "gelu(none)": (lambda x: x.gelu(approximate="none"), F.gelu),
    "atan": same(lambda x: x.atan()),
    "log1p(x²)": same(lambda x: (x * x).log1p()),
    "expm1(x/2)": same(lambda x: (x * 0.5).expm1()),
    "asin(0.9tanh)": same(lambda x: (x.tanh() * 0.9).asin()),
    "acos(0.9tanh)": same(lambda x: (x.tanh() * 0.9).acos()),
}
KINKED_UNARY: dict[str, tuple[Fn, Fn]] = {
    "relu": same(lambda x: x.relu()),
    "abs": same(lambda x: x.abs()),
    "leaky_relu": (lambda x: x.leaky_relu(0.1), lambda x: F.leaky_relu(x, 0.1)),
    "elu": (lambda x: x.elu(), F.elu),
    "clip": (lambda x: x.clip(-0.5, 0.5), lambda x: torch.clamp(x, -0.5, 0.5)),
    "hardtanh": (lambda x: x.hardtanh(), F.hardtanh),
    "softsign": (lambda x: x.softsign(), F.softsign),
}
# (tinygrad_lite, torch) on (x, y) where y is a new leaf whose shape broadcasts with x's.
SMOOTH_BINARY: dict[str, tuple[Fn, Fn]] = {
    "add": same(lambda x, y: x + y),
    "sub": same(lambda x, y: y - x),
    "mul": same(lambda x, y: x * y),
    "div": same(lambda x, y: x / (y * y + 0.5)),
    # exponent kept in [2, 4]: at an exponent of exactly 0, torch's double backward of pow drops the
    # d/dy of y·x^(y-1) (its Hessian comes out asymmetric there), so it is no oracle at that point
    "pow": same(lambda x, y: (x * x + 0.5) ** (y * 0.5 + 3.0)),
    "rdiv": same(lambda x, y: y / (x * x + 1.0)),
    "atan2": same(lambda x, y: x.atan2(y * y + 0.5)),  # a positive second argument: never on the branch cut
}
KINKED_BINARY: dict[str, tuple[Fn, Fn]] = {
    "maximum": (lambda x, y: x.maximum(y), torch.maximum),
    "minimum": (lambda x, y: x.minimum(y), torch.minimum),
    "where": (lambda x, y: (y > 0).where(x, y), lambda x, y: torch.where(y > 0, x, y)),
}


def reduction_ops(axis: int, keepdim: bool) -> dict[str, tuple[Fn, Fn]]:
    return {
        "sum": (lambda x: x.sum(axis, keepdim), lambda x: x.sum(axis, keepdim)),
        "mean": (lambda x: x.mean(axis, keepdim), lambda x: x.mean(axis, keepdim)),
        "logsumexp": (lambda x: x.logsumexp(axis, keepdim), lambda x: torch.logsumexp(x, axis, keepdim)),
        "var0": (lambda x: x.var(axis, keepdim, correction=0), lambda x: torch.var(x, axis, correction=0,
                                                                                  keepdim=keepdim)),
        "softmax": (lambda x: x.softmax(axis), lambda x: torch.softmax(x, axis)),
        "log_softmax": (lambda x: x.log_softmax(axis), lambda x: torch.log_softmax(x, axis)),
        "cumsum": (lambda x: x.cumsum(axis), lambda x: torch.cumsum(x, axis)),
    }


def first_order_reduction_ops(axis: int, keepdim: bool) -> dict[str, tuple[Fn, Fn]]:
    # max/min: ties share the gradient equally, as torch.amax/amin (not torch.max(dim), which picks one).
    # prod: exact first derivative with zeros, but no second derivative through a zero factor.
    return {
        "prod": (lambda x: x.prod(axis, keepdim), lambda x: torch.prod(x, axis, keepdim)),
        "max": (lambda x: x.max(axis, keepdim), lambda x: torch.amax(x, axis, keepdim)),
        "min": (lambda x: x.min(axis, keepdim), lambda x: torch.amin(x, axis, keepdim)),
    }


def movement_ops(shape: tuple[int, ...], axis: int) -> dict[str, tuple[Fn, Fn]]:
    nd = len(shape)
    ops: dict[str, tuple[Fn, Fn]] = {
        "reshape(-1)": same(lambda x: x.reshape(-1)),
        "unsqueeze(0)": same(lambda x: x.unsqueeze(0)),
        "flip": (lambda x: x.flip(axis), lambda x: torch.flip(x, (axis,))),
        "reverse_axes": same(lambda x: x.permute(*reversed(range(nd)))),
        "pad": (lambda x: x.pad((1, 2)), lambda x: F.pad(x, (1, 2))),
        "cat_self": (lambda x: Tensor.cat(x, x * 2.0, dim=axis), lambda x: torch.cat([x, x * 2.0], dim=axis)),
        "take_0_0_last": same(lambda x: x[[0, 0, shape[0] - 1]]),  # a repeated index sums its gradient
    }
    if nd >= 2:
        ops["transpose"] = same(lambda x: x.transpose(0, -1))
    if shape[0] > 1:
        ops["slice[1:]"] = same(lambda x: x[1:])
    if 1 in shape:
        target = tuple(3 if n == 1 else n for n in shape)
        ops["expand"] = same(lambda x: x.expand(target))
    return ops


# --- drawing a chain ----------------------------------------------------------------------------
values = st.floats(-2, 2).map(lambda v: 0.0 if abs(v) < 1e-100 else v)  # no subnormals


def out_shape(step: Step, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The shape a step gives, found by running its PyTorch side on zeros."""
    x = torch.zeros(shape, dtype=torch.float64)
    y = None if step.leaf is None else torch.zeros(step.leaf.shape, dtype=torch.float64)
    return tuple((step.th(x, y) if y is not None else step.th(x)).shape)


@st.composite
def steps(draw: st.DrawFn, shape: tuple[int, ...], second_order: bool) -> Step:
    kinds = ["unary", "binary", "matmul", "reduce", "movement"] if shape else ["unary", "binary"]
    kind = draw(st.sampled_from(kinds))
    if kind == "unary":
        table = SMOOTH_UNARY if second_order else {**SMOOTH_UNARY, **KINKED_UNARY}
        name = draw(st.sampled_from(sorted(table)))
        return Step(name, *table[name])
    if kind == "binary":
        table = SMOOTH_BINARY if second_order else {**SMOOTH_BINARY, **KINKED_BINARY}
        name = draw(st.sampled_from(sorted(table)))
        leaf_shape = draw(hnp.broadcastable_shapes(shape, min_dims=0, max_dims=max(3, len(shape)),
                                                   min_side=1, max_side=3))
        leaf = draw(hnp.arrays(np.float64, leaf_shape, elements=values))
        return Step(f"{name} with {leaf_shape}", *table[name], leaf=leaf)
    if kind == "matmul":
        k = draw(st.integers(1, 3))
        leaf_shape = (shape[-1], k) if draw(st.booleans()) else (shape[-1],)
        leaf = draw(hnp.arrays(np.float64, leaf_shape, elements=values))
        return Step(f"matmul {leaf_shape}", *same(lambda x, y: x @ y), leaf=leaf)
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    if kind == "reduce":
        keepdim = draw(st.booleans())
        table = reduction_ops(axis, keepdim)
        if not second_order:
            table.update(first_order_reduction_ops(axis, keepdim))
        name = draw(st.sampled_from(sorted(table)))
        return Step(f"{name}(axis={axis}, keepdim={keepdim})", *table[name])
    table = movement_ops(shape, axis)
    name = draw(st.sampled_from(sorted(table)))
    return Step(f"{name} (axis {axis})", *table[name])


@st.composite
def chains(draw: st.DrawFn, second_order: bool = False) -> tuple[np.ndarray, list[Step], np.ndarray]:
    """A start value, 1-5 steps, and the weights v of the scalar readout Σ v ⊙ out."""
    x0 = draw(hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3),
                         elements=values))
    shape = x0.shape
    chain = []
    for _ in range(draw(st.integers(1, 5))):
        step = draw(steps(shape, second_order))
        shape = out_shape(step, shape)
        chain.append(step)
        if len(shape) > 4 or int(np.prod(shape)) > 200:  # keep graphs small
            break
    v = draw(hnp.arrays(np.float64, shape, elements=values))
    return x0, chain, v


# --- running a chain in both libraries ------------------------------------------------------------
def run_tl(x0: np.ndarray, chain: list[Step]) -> tuple[Tensor, list[Tensor]]:
    leaves = [Tensor(x0, requires_grad=True)]
    x = leaves[0]
    for s in chain:
        if s.leaf is None:
            x = s.tl(x)
        else:
            leaves.append(Tensor(s.leaf, requires_grad=True))
            x = s.tl(x, leaves[-1])
    return x, leaves


def run_torch(x0: np.ndarray, chain: list[Step]) -> tuple[Any, list[Any]]:
    leaves = [torch.tensor(x0, dtype=torch.float64, requires_grad=True)]
    x = leaves[0]
    for s in chain:
        if s.leaf is None:
            x = s.th(x)
        else:
            leaves.append(torch.tensor(s.leaf, dtype=torch.float64, requires_grad=True))
            x = s.th(x, leaves[-1])
    return x, leaves


def as_numpy(t: Any, shape: tuple[int, ...]) -> np.ndarray:
    """A gradient as an array; None (not reached / no dependence) is zeros."""
    if t is None:
        return np.zeros(shape)
    return t.detach().numpy() if isinstance(t, torch.Tensor) else t.numpy()


def assert_close(ours: np.ndarray, theirs: np.ndarray, what: str, chain: list[Step]) -> None:
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} vs torch {theirs.shape}"
    assert ours.dtype == np.float64, f"{what}: dtype {ours.dtype}"
    # rounding in sums and softmax scales with the largest magnitude involved, not each entry
    atol = RTOL * max(1.0, float(np.max(np.abs(theirs), initial=0.0)))
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=atol,
                               err_msg=f"{what} differs for chain {[s.name for s in chain]}")


def finite(*arrays: np.ndarray) -> bool:
    return all(np.all(np.isfinite(a)) for a in arrays)


# --- the tests -------------------------------------------------------------------------------
@given(chains())
def test_forward_and_gradients_match_torch(case):
    x0, chain, v = case
    th_out, th_leaves = run_torch(x0, chain)
    (th_out * torch.tensor(v)).sum().backward()
    th_grads = [as_numpy(t.grad, t.shape) for t in th_leaves]
    assume(finite(th_out.detach().numpy(), *th_grads))  # exp chains may overflow; nothing to compare then

    with np.errstate(all="ignore"):
        out, leaves = run_tl(x0, chain)
        (out * Tensor(v)).sum().backward()
    assert_close(out.numpy(), th_out.detach().numpy(), "forward", chain)
    for i, (t, g) in enumerate(zip(leaves, th_grads)):
        assert_close(as_numpy(t.grad, t.shape), g, f"gradient of leaf {i}", chain)


@given(chains(second_order=True), st.integers(0, 2**32 - 1))
def test_second_derivatives_match_torch(case, seed):
    x0, chain, v = case
    rng = np.random.default_rng(seed)
    th_out, th_leaves = run_torch(x0, chain)
    th_first = torch.autograd.grad((th_out * torch.tensor(v)).sum(), th_leaves, create_graph=True)
    us = [rng.uniform(-1, 1, t.shape) for t in th_leaves]
    # the Hessian-vector product H·u of the readout, through every leaf
    th_s = sum(((g * torch.tensor(u)).sum() for g, u in zip(th_first, us)), torch.zeros((), dtype=torch.float64))
    th_second = (torch.autograd.grad(th_s, th_leaves, allow_unused=True) if th_s.requires_grad
                 else [None] * len(th_leaves))
    th_second_np = [as_numpy(g, t.shape) for g, t in zip(th_second, th_leaves)]
    assume(finite(th_out.detach().numpy(), *[g.detach().numpy() for g in th_first], *th_second_np))

    with np.errstate(all="ignore"):
        out, leaves = run_tl(x0, chain)
        (out * Tensor(v)).sum().backward(create_graph=True)
        first = [t.grad for t in leaves]
        for t in leaves:
            t.grad = None
        s = sum(((g * Tensor(u)).sum() for g, u in zip(first, us) if g is not None), Tensor(np.zeros(())))
        if s.requires_grad:
            s.backward()
    for i, (g, th_g) in enumerate(zip(first, th_first)):
        assert_close(as_numpy(g, leaves[i].shape), th_g.detach().numpy(), f"first gradient of leaf {i}", chain)
    for i, (t, th_g) in enumerate(zip(leaves, th_second_np)):
        assert_close(as_numpy(t.grad, t.shape), th_g, f"second derivative (H·u) at leaf {i}", chain)


def test_oracle_sees_a_wrong_gradient():
    """The comparison is sharp enough to catch a gradient that is off by a factor of 1 + 1e-8."""
    x0 = np.array([0.3, -1.2])
    chain = [Step("sin", *SMOOTH_UNARY["sin"])]
    th_out, th_leaves = run_torch(x0, chain)
    th_out.sum().backward()
    out, leaves = run_tl(x0, chain)
    out.sum().backward()
    good = th_leaves[0].grad.numpy()
    assert_close(leaves[0].grad.numpy(), good, "gradient", chain)
    with pytest.raises(AssertionError):
        assert_close(leaves[0].grad.numpy() * (1 + 1e-8), good, "gradient", chain)
