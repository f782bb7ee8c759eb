"""The op table the registry-driven tests run over: one spec per primitive and per public
differentiable Tensor method.

A spec names the op, how to call it (`fn(*tensors, **params)`), a NumPy reference
(`ref(*arrays, **params)`, float64), how to draw inputs (`cases`: a hypothesis strategy
of `(arrays, params)`, keeping to the op's domain and away from its kinks), and which
registered primitives its graph must contain (`prims`). Ties, kinks, saturation and empty
tensors have their own tests in test_ops_edge_cases.py.

Adding a primitive to REGISTRY without listing it in some spec's `prims` fails
test_ops_registry.py::test_every_registered_primitive_has_a_spec.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_lite import Tensor
from tinygrad_lite.node import apply
from tinygrad_lite.ops.movement import ScatterAdd
from tinygrad_lite.ops.unary import Cast
from tinygrad_lite.testing import strategies as tst

Case = tuple[tuple[np.ndarray, ...], dict[str, Any]]
F64 = np.float64
SMALL = {"max_dims": 3, "max_side": 3}


@dataclass(frozen=True)
class Spec:
    name: str
    fn: Callable[..., Tensor]
    ref: Callable[..., Any]
    cases: st.SearchStrategy[Case]
    prims: tuple[str, ...] = ()
    order2: bool = True  # run gradgradcheck
    gc: dict[str, float] = field(default_factory=dict)  # gradcheck tolerances, when the defaults do not fit
    f32_tol: float = 2e-4  # float32 forward and gradient vs float64, relative to the values' scale

    def __repr__(self) -> str:
        return f"Spec({self.name})"


@dataclass(frozen=True)
class NonDiffSpec:
    """An op whose result carries no gradient (comparisons, masks, argmax)."""

    name: str
    fn: Callable[..., Tensor]
    ref: Callable[..., Any]
    cases: st.SearchStrategy[Case]
    prim: str | None = None

    def __repr__(self) -> str:
        return f"NonDiffSpec({self.name})"


# --- drawing inputs ---------------------------------------------------------------------------------------
def arr(shape: Any, lo: float = -3.0, hi: float = 3.0, avoid: tuple[float, ...] = (),
        margin: float = 0.02) -> st.SearchStrategy[np.ndarray]:
    return tst.arrays(shape, F64, tst.floats(lo, hi, avoid=avoid, margin=margin))


def shapes(**kw: Any) -> st.SearchStrategy[tuple[int, ...]]:
    return tst.shapes(**{**SMALL, **kw})


def one(lo: float = -3.0, hi: float = 3.0, avoid: tuple[float, ...] = (), margin: float = 0.02,
        **params: Any) -> st.SearchStrategy[Case]:
    """One float input of any small shape in [lo, hi], `margin` away from `avoid`; fixed params."""
    return arr(shapes(), lo, hi, avoid, margin).map(lambda a: ((a,), dict(params)))


def two(x: tuple[float, float] = (-3.0, 3.0), y: tuple[float, float] = (-3.0, 3.0),
        avoid_y: tuple[float, ...] = (), margin_y: float = 0.02) -> st.SearchStrategy[Case]:
    """Two float inputs of broadcast-compatible shapes (differing ranks, size-1 axes)."""
    return tst.broadcastable_shapes(2, **SMALL).flatmap(lambda s: st.tuples(
        arr(s[0], *x), arr(s[1], y[0], y[1], avoid_y, margin_y)).map(lambda p: (p, {})))


def away_from_grid(offset: float, margin: float = 0.05) -> st.SearchStrategy[float]:
    """Floats k + offset + f with f in [margin, 1 - margin]: never near offset + an integer."""
    return st.builds(lambda k, f: k + offset + f, st.integers(-3, 2), st.floats(margin, 1 - margin))


def lattice(offset: float) -> st.SearchStrategy[float]:
    """0.5·k + offset + [0, 0.2): draws with offsets 0 and 0.25 are always ≥ 0.05 apart."""
    return st.builds(lambda k, f: 0.5 * k + offset + f, st.integers(-6, 6), st.floats(0, 0.2))


def separated(shape: tuple[int, ...]) -> st.SearchStrategy[np.ndarray]:
    """Distinct values at least 0.3 apart (no ties, so max/min and std are smooth there)."""
    size = math.prod(shape)
    return st.permutations(range(size)).map(lambda p: ((np.array(p, dtype=F64) - size / 2) * 0.37).reshape(shape))


def with_params(array_strategy: Callable[[tuple[int, ...]], st.SearchStrategy[np.ndarray]],
                params: Callable[[tuple[int, ...]], st.SearchStrategy[dict[str, Any]]],
                shape: st.SearchStrategy[tuple[int, ...]] | None = None) -> st.SearchStrategy[Case]:
    """One input whose params (an axis, an index, ...) depend on its shape."""
    return (shapes() if shape is None else shape).flatmap(lambda s: st.tuples(array_strategy(s), params(s)).map(
        lambda p: ((p[0],), p[1])))


def axes_params(s: tuple[int, ...], min_size: int = 0) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"axis": tst.reduction_axes(len(s), min_size=min_size), "keepdim": st.booleans()})


def np_axis(axis: Any) -> Any:
    return tuple(axis) if isinstance(axis, list) else axis


def count(shape: tuple[int, ...], axis: Any) -> int:
    axes = range(len(shape)) if axis is None else (axis,) if isinstance(axis, int) else axis
    return math.prod(shape[a] for a in axes)


# --- NumPy references ---------------------------------------------------------------------------------------
def sigmoid(x: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0, -x))


def logsumexp(x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
    m = np.max(x, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis if axis is not None else tuple(range(x.ndim)))


def gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


erf = np.vectorize(math.erf, otypes=[F64])


def gelu_exact(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1 + erf(x / np.sqrt(2)))


def chunk_ref(x: np.ndarray, chunks: int, dim: int) -> np.ndarray:
    n = x.shape[dim]
    size = max(1, -(-n // chunks))
    parts = [np.take(x, range(i, min(i + size, n)), axis=dim) * (k + 1) for k, i in enumerate(range(0, n, size))]
    return np.concatenate(parts, axis=dim)


def split_ref(x: np.ndarray, sizes: list[int], dim: int) -> np.ndarray:
    bounds = np.cumsum([0, *sizes])
    parts = [np.take(x, range(a, b), axis=dim) * (k + 1) for k, (a, b) in enumerate(zip(bounds[:-1], bounds[1:]))]
    return np.concatenate(parts, axis=dim)


def pad_ref(x: np.ndarray, padding: list[tuple[int, int]], value: float) -> np.ndarray:
    crop = tuple(slice(max(-lo, 0), n - max(-hi, 0)) for (lo, hi), n in zip(padding, x.shape))
    return np.pad(x[crop], [(max(lo, 0), max(hi, 0)) for lo, hi in padding], constant_values=value)


def gather_ref(x: np.ndarray, dim: int, index: np.ndarray) -> np.ndarray:
    crop = tuple(slice(None) if i == dim else slice(0, n) for i, n in enumerate(index.shape))
    return np.take_along_axis(x[crop], index, axis=dim)


def cross_entropy_ref(x: np.ndarray, labels: np.ndarray, ignore_index: int, label_smoothing: float,
                      reduction: str) -> np.ndarray:
    logp = x - logsumexp(x, -1, keepdims=True)
    keep = labels != ignore_index
    picked = np.take_along_axis(logp, np.where(keep, labels, 0)[..., None], -1)[..., 0]
    losses = (-(1 - label_smoothing) * picked - label_smoothing * logp.mean(-1)) * keep
    return {"mean": losses.sum() / keep.sum(), "sum": losses.sum(), "none": losses}[reduction]


def reduce_ref(loss: np.ndarray, reduction: str) -> np.ndarray:
    return {"mean": np.mean(loss), "sum": np.sum(loss), "none": loss}[reduction]


# --- shape-dependent parameters ------------------------------------------------------------------------------
def dim_of(s: tuple[int, ...]) -> st.SearchStrategy[int]:
    return st.integers(-len(s), len(s) - 1)


@st.composite
def expand_case(draw: st.DrawFn) -> Case:
    target = draw(shapes(min_dims=1))
    keep = draw(st.lists(st.booleans(), min_size=len(target), max_size=len(target)))
    drop = draw(st.integers(0, len(target)))
    shape = tuple(n if k else 1 for n, k in zip(target, keep))[drop:]
    return (draw(arr(shape)),), {"shape": target}


@st.composite
def pad_case(draw: st.DrawFn) -> Case:
    x = draw(arr(shapes(min_dims=1)))
    padding = []
    for n in x.shape:
        lo = draw(st.integers(-min(n, 1), 2))
        hi = draw(st.integers(-min(n + min(lo, 0), 1), 2))
        padding.append((lo, hi))
    if all(lo <= 0 and hi <= 0 for lo, hi in padding):  # at least one real pad, so Pad is recorded
        padding[0] = (padding[0][0], 1)
    return (x,), {"padding": padding, "value": draw(st.sampled_from([0.0, 1.5]))}


@st.composite
def flat_pad_case(draw: st.DrawFn) -> Case:
    x = draw(arr(shapes(min_dims=1)))
    k = draw(st.integers(1, x.ndim))
    flat = draw(st.lists(st.integers(0, 2), min_size=2 * k, max_size=2 * k))
    return (x,), {"padding": flat}


def flat_pad_ref(x: np.ndarray, padding: list[int]) -> np.ndarray:
    pairs = [(0, 0)] * x.ndim
    for i in range(len(padding) // 2):
        pairs[x.ndim - 1 - i] = (padding[2 * i], padding[2 * i + 1])
    return np.pad(x, pairs)


@st.composite
def shrink_case(draw: st.DrawFn) -> Case:
    x = draw(arr(shapes(min_dims=1)))
    arg = []
    for n in x.shape:
        a = draw(st.integers(0, n))
        arg.append(draw(st.one_of(st.none(), st.integers(a, n).map(lambda b, a=a: (a, b)))))
    return (x,), {"arg": arg}


def shrink_ref(x: np.ndarray, arg: list[Any]) -> np.ndarray:
    return x[tuple(slice(None) if a is None else slice(*a) for a in arg)]


@st.composite
def split_case(draw: st.DrawFn) -> Case:
    x = draw(arr(shapes(min_dims=1)))
    dim = draw(dim_of(x.shape))
    n = x.shape[dim]
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=3)))
    sizes = [b - a for a, b in zip([0, *cuts], [*cuts, n])]
    return (x,), {"sizes": sizes, "dim": dim}


@st.composite
def cat_case(draw: st.DrawFn) -> Case:
    base = list(draw(shapes(min_dims=1)))
    dim = draw(st.integers(0, len(base) - 1))
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        base[dim] = draw(st.integers(0, 3))
        parts.append(draw(arr(tuple(base))))
    return tuple(parts), {"dim": dim - len(base) * draw(st.booleans())}


@st.composite
def stack_case(draw: st.DrawFn) -> Case:
    shape = draw(shapes())
    parts = tuple(draw(arr(shape)) for _ in range(draw(st.integers(1, 3))))
    return parts, {"dim": draw(st.integers(-len(shape) - 1, len(shape)))}


@st.composite
def gather_case(draw: st.DrawFn) -> Case:
    x = draw(arr(shapes(min_dims=1)))
    dim = draw(st.integers(0, x.ndim - 1))
    ishape = tuple(draw(st.integers(1, 3)) if i == dim else draw(st.integers(1, n)) for i, n in enumerate(x.shape))
    index = draw(hnp.arrays(np.int64, ishape, elements=st.integers(0, x.shape[dim] - 1)))
    return (x,), {"dim": dim, "index": index}


@st.composite
def mixed_index_case(draw: st.DrawFn) -> Case:
    x = draw(arr(shapes(min_dims=2)))
    (rows,) = draw(hnp.integer_array_indices((x.shape[0],), result_shape=hnp.array_shapes(max_dims=2, max_side=3)))
    cols = draw(st.slices(x.shape[1]))
    return (x,), {"index": (rows, cols, None) if draw(st.booleans()) else (Ellipsis, cols, None)}


@st.composite
def bool_mask_case(draw: st.DrawFn) -> Case:
    x = draw(arr(shapes(min_dims=1)))
    k = draw(st.integers(1, x.ndim))
    return (x,), {"mask": draw(hnp.arrays(np.bool_, x.shape[:k]))}


@st.composite
def scatter_case(draw: st.DrawFn) -> Case:
    shape = draw(shapes(min_dims=1))
    index = draw(hnp.integer_array_indices(shape, result_shape=hnp.array_shapes(max_dims=2, max_side=4)))
    g = draw(arr(np.zeros(shape)[index].shape))
    return (g,), {"index": index, "shape": shape}


def scatter_ref(g: np.ndarray, index: Any, shape: tuple[int, ...]) -> np.ndarray:
    out = np.zeros(shape)
    np.add.at(out, index, g)
    return out


@st.composite
def where_case(draw: st.DrawFn) -> Case:
    sc, sx, sy = draw(tst.broadcastable_shapes(3, **SMALL))
    return (draw(arr(sx)), draw(arr(sy))), {"cond": draw(hnp.arrays(np.bool_, sc))}


@st.composite
def matmul_case(draw: st.DrawFn, max_batch: int = 2) -> Case:
    s = draw(hnp.mutually_broadcastable_shapes(signature=np.matmul.signature, max_dims=max_batch, max_side=3))
    return (draw(arr(s.input_shapes[0])), draw(arr(s.input_shapes[1]))), {}


@st.composite
def linear_case(draw: st.DrawFn) -> Case:
    batch = draw(shapes(min_dims=0, max_dims=2))
    n_in, n_out = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    arrays = [draw(arr(batch + (n_in,))), draw(arr((n_in, n_out)))]
    if draw(st.booleans()):
        arrays.append(draw(arr((n_out,))))
    return tuple(arrays), {}


@st.composite
def var_case(draw: st.DrawFn, distinct: bool) -> Case:
    shape = draw(shapes(min_dims=1, min_side=2))
    x = draw(separated(shape) if distinct else arr(shape))
    return (x,), {**draw(axes_params(shape, min_size=1)), "correction": draw(st.sampled_from([0, 1]))}


@st.composite
def cross_entropy_case(draw: st.DrawFn) -> Case:
    batch = draw(shapes(min_dims=0, max_dims=2))
    classes = draw(st.integers(1, 4))
    x = draw(arr(batch + (classes,)))
    labels = draw(hnp.arrays(np.int64, batch, elements=st.integers(-1, classes - 1)))
    if not (labels != -1).any():
        labels = np.zeros_like(labels)
    return (x,), {"labels": labels, "ignore_index": -1, "label_smoothing": draw(st.sampled_from([0.0, 0.1])),
                  "reduction": draw(st.sampled_from(["mean", "sum", "none"]))}


def probs_and_targets(p: tuple[float, float], y: tuple[float, float],
                      same_shape: bool = False) -> st.SearchStrategy[Case]:
    """Predictions and float targets (both differentiable) with a reduction; broadcasting unless `same_shape`."""
    pairs = shapes().flatmap(lambda s: st.tuples(arr(s, *p), arr(s, *y)).map(lambda t: (t, {}))) if same_shape \
        else two(p, y)
    return pairs.flatmap(lambda c: st.sampled_from(["mean", "sum", "none"]).map(lambda r: (c[0], {"reduction": r})))


# --- the table ------------------------------------------------------------------------------------------------
KINK = (0.0,)
UNARY = [
    Spec("neg", lambda x: -x, np.negative, one(), ("Neg",)),
    Spec("exp", lambda x: x.exp(), np.exp, one(), ("Exp",)),
    Spec("exp2", lambda x: x.exp2(), np.exp2, one(), ("Exp", "Mul")),
    Spec("log", lambda x: x.log(), np.log, one(0.1, 5), ("Log",)),
    Spec("log2", lambda x: x.log2(), np.log2, one(0.1, 5), ("Log", "Div")),
    Spec("sqrt", lambda x: x.sqrt(), np.sqrt, one(0.1, 5), ("Sqrt",)),
    Spec("rsqrt", lambda x: x.rsqrt(), lambda x: 1 / np.sqrt(x), one(0.1, 5), ("Sqrt", "Div")),
    Spec("sin", lambda x: x.sin(), np.sin, one(-5, 5), ("Sin",)),
    Spec("cos", lambda x: x.cos(), np.cos, one(-5, 5), ("Cos",)),
    Spec("tan", lambda x: x.tan(), np.tan, one(-1.2, 1.2), ("Sin", "Cos", "Div")),
    Spec("log1p", lambda x: x.log1p(), np.log1p, one(-0.8, 5), ("Log1p",)),
    Spec("expm1", lambda x: x.expm1(), np.expm1, one(), ("Expm1",)),
    Spec("erf", lambda x: x.erf(), erf, one(-4, 4), ("Erf",)),
    Spec("asin", lambda x: x.asin(), np.arcsin, one(-0.9, 0.9), ("Asin",)),
    Spec("acos", lambda x: x.acos(), np.arccos, one(-0.9, 0.9), ("Acos",)),
    Spec("atan", lambda x: x.atan(), np.arctan, one(-5, 5), ("Atan",)),
    Spec("tanh", lambda x: x.tanh(), np.tanh, one(), ("Tanh",)),
    Spec("sigmoid", lambda x: x.sigmoid(), sigmoid, one(-8, 8), ("Sigmoid",)),
    Spec("relu", lambda x: x.relu(), lambda x: np.maximum(x, 0), one(avoid=KINK), ("Relu",)),
    Spec("abs", lambda x: x.abs(), np.abs, one(avoid=KINK), ("Abs",)),
    Spec("sign", lambda x: x.sign(), np.sign, one(avoid=KINK), ("Sign",)),
    Spec("floor", lambda x: x.floor(), np.floor, with_params(lambda s: tst.arrays(s, F64, away_from_grid(0.0)),
                                                             lambda s: st.just({})), ("Floor",)),
    Spec("ceil", lambda x: x.ceil(), np.ceil, with_params(lambda s: tst.arrays(s, F64, away_from_grid(0.0)),
                                                          lambda s: st.just({})), ("Ceil",)),
    Spec("trunc", lambda x: x.trunc(), np.trunc, with_params(lambda s: tst.arrays(s, F64, away_from_grid(0.0)),
                                                             lambda s: st.just({})), ("Trunc",)),
    Spec("round", lambda x: x.round(), np.round, with_params(lambda s: tst.arrays(s, F64, away_from_grid(0.5)),
                                                             lambda s: st.just({})), ("Round",)),
    Spec("cast", lambda x: apply(Cast, apply(Cast, x, dtype=np.dtype(np.float32)), dtype=x.dtype),
         lambda x: x.astype(np.float32).astype(F64), one(), ("Cast",), gc={"eps": 1e-3, "atol": 1e-3}),
    Spec("square", lambda x: x.square(), np.square, one(), ("Square",)),
    Spec("pow[2]", lambda x: x ** 2, np.square, one(), ("Square",)),
    Spec("reciprocal", lambda x: x.reciprocal(), lambda x: 1 / x, one(avoid=KINK, margin=0.3), ("Div",)),
    *[Spec(f"softplus[beta={b}]", lambda x, beta: x.softplus(beta), lambda x, beta: np.logaddexp(0, beta * x) / beta,
           one(-6, 6, beta=b), ("Softplus", "Mul", "Div")) for b in (1.0, 0.5, 2.0)],
    Spec("logsigmoid", lambda x: x.logsigmoid(), lambda x: -np.logaddexp(0, -x), one(-6, 6), ("Softplus", "Neg")),
    Spec("silu", lambda x: x.silu(), lambda x: x * sigmoid(x), one(-6, 6), ("Sigmoid", "Mul")),
    Spec("swish", lambda x: x.swish(), lambda x: x * sigmoid(x), one(-6, 6), ("Sigmoid", "Mul")),
    Spec("mish", lambda x: x.mish(), lambda x: x * np.tanh(np.logaddexp(0, x)), one(-6, 6),
         ("Softplus", "Tanh", "Mul")),
    Spec("gelu", lambda x: x.gelu(), gelu, one(-5, 5), ("GeluTanh",)),
    Spec("gelu[none]", lambda x: x.gelu(approximate="none"), gelu_exact, one(-5, 5), ("Erf", "Mul", "Add")),
    Spec("quick_gelu", lambda x: x.quick_gelu(), lambda x: x * sigmoid(1.702 * x), one(-5, 5), ("Sigmoid", "Mul")),
    Spec("relu6", lambda x: x.relu6(), lambda x: np.clip(x, 0, 6), one(-2, 8, avoid=(0.0, 6.0)), ("Where",)),
    Spec("hardtanh", lambda x: x.hardtanh(), lambda x: np.clip(x, -1, 1), one(avoid=(-1.0, 1.0)), ("Where",)),
    *[Spec(f"leaky_relu[{s}]", lambda x, neg_slope: x.leaky_relu(neg_slope),
           lambda x, neg_slope: np.where(x > 0, x, neg_slope * x), one(avoid=KINK, neg_slope=s), ("Where", "Mul"))
      for s in (0.01, 0.2)],
    *[Spec(f"elu[{a}]", lambda x, alpha: x.elu(alpha), lambda x, alpha: np.where(x > 0, x, alpha * np.expm1(x)),
           one(avoid=KINK, alpha=a), ("Where", "Expm1")) for a in (1.0, 0.5)],
    *[Spec(f"celu[{a}]", lambda x, alpha: x.celu(alpha),
           lambda x, alpha: np.where(x > 0, x, alpha * np.expm1(x / alpha)), one(avoid=KINK, alpha=a),
           ("Where", "Expm1", "Div")) for a in (1.0, 2.0)],
    Spec("hardswish", lambda x: x.hardswish(), lambda x: x * np.clip(x + 3, 0, 6) / 6, one(-5, 5, avoid=(-3.0, 3.0)),
         ("Where", "Mul")),
    Spec("hardsigmoid", lambda x: x.hardsigmoid(), lambda x: np.clip(x / 6 + 0.5, 0, 1),
         one(-5, 5, avoid=(-3.0, 3.0)), ("Where",)),
    Spec("softsign", lambda x: x.softsign(), lambda x: x / (1 + np.abs(x)), one(avoid=KINK), ("Abs", "Div")),
    Spec("clip", lambda x, low, high: x.clip(low, high), lambda x, low, high: np.clip(x, low, high),
         one(avoid=(-1.0, 1.0), low=-1.0, high=1.0), ("Where",)),
    Spec("clip[min only]", lambda x: x.clip(0.5), lambda x: np.maximum(x, 0.5), one(avoid=(0.5,)), ("Where",)),
    Spec("clamp", lambda x: x.clamp(min=-0.5, max=2.0), lambda x: np.clip(x, -0.5, 2.0), one(avoid=(-0.5, 2.0)),
         ("Where",)),
    Spec("clone", lambda x: x.clone(), lambda x: x.copy(), one(), ("Mul",)),
]

BINARY = [
    Spec("add", lambda x, y: x + y, np.add, two(), ("Add",)),
    Spec("sub", lambda x, y: x - y, np.subtract, two(), ("Sub",)),
    Spec("mul", lambda x, y: x * y, np.multiply, two(), ("Mul",)),
    Spec("div", lambda x, y: x / y, np.divide, two(avoid_y=KINK, margin_y=0.5), ("Div",)),
    Spec("pow[tensor]", lambda x, y: x ** y, np.power, two((0.5, 3.0), (-2.0, 2.0)), ("Pow",)),
    Spec("pow[int exponent]", lambda x: x ** 3, lambda x: x ** 3, one(), ("Pow",)),
    Spec("pow[root]", lambda x: x ** 0.5, np.sqrt, one(0.1, 5), ("Pow",)),
    Spec("pow[reflected]", lambda x: 2.0 ** x, np.exp2, one(), ("Pow",)),
    Spec("reflected scalars", lambda x: 2.0 - x + 3.0 * x + 1.5 / (2.0 + x),
         lambda x: 2.0 - x + 3.0 * x + 1.5 / (2.0 + x), one(-1, 3), ("Sub", "Add", "Mul", "Div")),
    # atan2(y, x): the second input is y, kept away from 0 so that no draw straddles the cut along x < 0
    Spec("atan2", lambda x, y: y.atan2(x), lambda x, y: np.arctan2(y, x), two(avoid_y=KINK, margin_y=0.3),
         ("Atan2",)),
    Spec("atan2[scalar x]", lambda y: y.atan2(-2.0), lambda y: np.arctan2(y, -2.0), one(avoid=KINK, margin=0.3),
         ("Atan2",)),
    Spec("maximum", lambda x, y: x.maximum(y), np.maximum, tst.broadcastable_shapes(2, **SMALL).flatmap(
        lambda s: st.tuples(tst.arrays(s[0], F64, lattice(0.0)), tst.arrays(s[1], F64, lattice(0.25))).map(
            lambda p: (p, {}))), ("Maximum",)),
    Spec("minimum", lambda x, y: x.minimum(y), np.minimum, tst.broadcastable_shapes(2, **SMALL).flatmap(
        lambda s: st.tuples(tst.arrays(s[0], F64, lattice(0.25)), tst.arrays(s[1], F64, lattice(0.0))).map(
            lambda p: (p, {}))), ("Minimum",)),
    Spec("where", lambda x, y, cond: Tensor(cond).where(x, y), lambda x, y, cond: np.where(cond, x, y), where_case(),
         ("Where",)),
    Spec("where[scalar branch]", lambda x: (x > 0).where(x, 0.5), lambda x: np.where(x > 0, x, 0.5),
         one(avoid=KINK), ("Where",)),
]

REDUCE = [
    Spec("sum", lambda x, axis, keepdim: x.sum(axis, keepdim),
         lambda x, axis, keepdim: np.sum(x, axis=axis, keepdims=keepdim), with_params(arr, axes_params), ("Sum",)),
    Spec("mean", lambda x, axis, keepdim: x.mean(axis, keepdim),
         lambda x, axis, keepdim: np.mean(x, axis=axis, keepdims=keepdim), with_params(arr, axes_params),
         ("Sum", "Div")),
    Spec("max", lambda x, axis, keepdim: x.max(axis, keepdim),
         lambda x, axis, keepdim: np.max(x, axis=axis, keepdims=keepdim), with_params(separated, axes_params),
         ("Max",)),
    Spec("min", lambda x, axis, keepdim: x.min(axis, keepdim),
         lambda x, axis, keepdim: np.min(x, axis=axis, keepdims=keepdim), with_params(separated, axes_params),
         ("Min",)),
    Spec("var", lambda x, axis, keepdim, correction: x.var(axis, keepdim, correction),
         lambda x, axis, keepdim, correction: np.var(x, axis=axis, keepdims=keepdim, ddof=correction),
         var_case(False), ("Sum", "Sub", "Mul", "Div")),
    Spec("std", lambda x, axis, keepdim, correction: x.std(axis, keepdim, correction),
         lambda x, axis, keepdim, correction: np.std(x, axis=axis, keepdims=keepdim, ddof=correction),
         var_case(True), ("Sqrt", "Sum")),
    Spec("logsumexp", lambda x, axis, keepdim: x.logsumexp(axis, keepdim),
         lambda x, axis, keepdim: logsumexp(x, axis, keepdim), with_params(arr, axes_params),
         ("Exp", "Sum", "Log", "Sub", "Add")),
    Spec("prod", lambda x, axis, keepdim: x.prod(axis, keepdim),
         lambda x, axis, keepdim: np.prod(x, axis=axis, keepdims=keepdim),
         with_params(lambda s: arr(s, -1.5, 1.5, avoid=KINK, margin=0.5), axes_params), ("Prod",)),
    Spec("cumsum", lambda x, axis: x.cumsum(axis), lambda x, axis: np.cumsum(x, axis=axis),
         with_params(arr, lambda s: dim_of(s).map(lambda d: {"axis": d}), shapes(min_dims=1)), ("Cumsum",)),
]

MOVEMENT = [
    Spec("reshape", lambda x, shape: x.reshape(shape), lambda x, shape: x.reshape(shape),
         with_params(arr, lambda s: st.sampled_from([s + (1,), (-1,), (1, *s[::-1])]).filter(
             lambda t: t != s).map(lambda t: {"shape": t})), ("Reshape",)),
    Spec("view", lambda x: x.view(-1, 1), lambda x: x.reshape(-1, 1), one(), ("Reshape",)),
    Spec("flatten", lambda x, start_dim, end_dim: x.flatten(start_dim, end_dim),
         lambda x, start_dim, end_dim: x.reshape(x.shape[:start_dim] + (-1,) + x.shape[end_dim + 1:]),
         with_params(arr, lambda s: st.integers(0, len(s) - 1).flatmap(lambda a: st.integers(a, len(s) - 1).map(
             lambda b: {"start_dim": a, "end_dim": b})), shapes(min_dims=1)), ("Reshape",)),
    Spec("permute", lambda x, order: x.permute(order), lambda x, order: np.transpose(x, order),
         with_params(arr, lambda s: st.permutations(range(len(s))).map(lambda p: {"order": tuple(p)})),
         ("Permute",)),
    Spec("transpose", lambda x, dim0, dim1: x.transpose(dim0, dim1),
         lambda x, dim0, dim1: np.swapaxes(x, dim0, dim1),
         with_params(arr, lambda s: st.fixed_dictionaries({"dim0": dim_of(s), "dim1": dim_of(s)}),
                     shapes(min_dims=1)), ("Permute",)),
    Spec("mT", lambda x: x.mT, lambda x: np.swapaxes(x, -1, -2),
         with_params(arr, lambda s: st.just({}), shapes(min_dims=2)), ("Permute",)),
    Spec("T", lambda x: x.T, lambda x: x.T, with_params(arr, lambda s: st.just({}), shapes(min_dims=2)),
         ("Permute",)),
    Spec("expand", lambda x, shape: x.expand(shape), np.broadcast_to, expand_case(), ("Expand",)),
    Spec("broadcast_to", lambda x, shape: x.broadcast_to(shape), np.broadcast_to, expand_case(), ("Expand",)),
    Spec("unflatten", lambda x, dim, sizes: x.unflatten(dim, sizes),
         lambda x, dim, sizes: x.reshape(x.shape[:dim % x.ndim] + sizes + x.shape[dim % x.ndim + 1:]),
         with_params(arr, lambda s: dim_of(s).map(lambda d: {"dim": d, "sizes": (1, s[d], 1)}),
                     shapes(min_dims=1)), ("Reshape",)),
    Spec("contiguous", lambda x: x.contiguous() * 2.0, lambda x: x * 2.0, one(), ("Mul",)),
    Spec("squeeze", lambda x, dim: x.squeeze(dim),
         lambda x, dim: np.squeeze(x) if dim is None else np.squeeze(x, dim) if x.shape[dim] == 1 else x,
         with_params(arr, lambda s: st.one_of(st.none(), dim_of(s)).map(lambda d: {"dim": d}),
                     hnp.array_shapes(min_dims=1, max_dims=3, max_side=2)), ("Reshape",)),
    Spec("unsqueeze", lambda x, dim: x.unsqueeze(dim), lambda x, dim: np.expand_dims(x, dim),
         with_params(arr, lambda s: st.integers(-len(s) - 1, len(s)).map(lambda d: {"dim": d})), ("Reshape",)),
    Spec("pad", lambda x, padding, value: x.pad(padding, value), pad_ref, pad_case(), ("Pad",)),
    Spec("pad[flat]", lambda x, padding: x.pad(padding), flat_pad_ref, flat_pad_case(), ("Pad",)),
    Spec("flip", lambda x, axis: x.flip(axis), lambda x, axis: np.flip(x, axis),
         with_params(arr, lambda s: hnp.valid_tuple_axes(len(s), min_size=1).map(lambda a: {"axis": a}),
                     shapes(min_dims=1)), ("Flip",)),
    Spec("shrink", lambda x, arg: x.shrink(arg), shrink_ref, shrink_case(), ("GetItem",)),
    Spec("repeat", lambda x, repeats: x.repeat(repeats), lambda x, repeats: np.tile(x, repeats),
         with_params(arr, lambda s: st.lists(st.integers(1, 3), min_size=len(s), max_size=len(s) + 1).filter(
             lambda r: max(r, default=1) > 1).map(lambda r: {"repeats": tuple(r)}), shapes(max_dims=2)),
         ("Expand", "Reshape")),
    Spec("chunk", lambda x, chunks, dim: Tensor.cat(*[p * (i + 1) for i, p in enumerate(x.chunk(chunks, dim))],
                                                    dim=dim),
         chunk_ref, with_params(arr, lambda s: st.fixed_dictionaries({"chunks": st.integers(1, 4),
                                                                      "dim": dim_of(s)}), shapes(min_dims=1)),
         ("GetItem", "Cat")),
    Spec("split", lambda x, sizes, dim: Tensor.cat(*[p * (i + 1) for i, p in enumerate(x.split(sizes, dim))],
                                                   dim=dim), split_ref, split_case(), ("GetItem", "Cat")),
    Spec("tril", lambda x, diagonal: x.tril(diagonal), lambda x, diagonal: np.tril(x, diagonal),
         with_params(arr, lambda s: st.integers(-2, 2).map(lambda d: {"diagonal": d}), shapes(min_dims=2)),
         ("Where",)),
    Spec("triu", lambda x, diagonal: x.triu(diagonal), lambda x, diagonal: np.triu(x, diagonal),
         with_params(arr, lambda s: st.integers(-2, 2).map(lambda d: {"diagonal": d}), shapes(min_dims=2)),
         ("Where",)),
    Spec("getitem[basic]", lambda x, index: x[index], lambda x, index: x[index],
         with_params(arr, lambda s: hnp.basic_indices(s, allow_newaxis=True).map(lambda i: {"index": i})),
         ("GetItem",)),
    Spec("getitem[int arrays]", lambda x, index: x[index], lambda x, index: x[index],
         with_params(arr, lambda s: hnp.integer_array_indices(s, result_shape=hnp.array_shapes(
             max_dims=2, max_side=4)).map(lambda i: {"index": i}), shapes(min_dims=1)), ("GetItem",)),
    Spec("getitem[mixed]", lambda x, index: x[index], lambda x, index: x[index], mixed_index_case(), ("GetItem",)),
    Spec("getitem[tensor index]", lambda x, index: x[Tensor(index)], lambda x, index: x[index],
         with_params(arr, lambda s: hnp.arrays(np.int32, (4,), elements=st.integers(-s[0], s[0] - 1)).map(
             lambda i: {"index": i}), shapes(min_dims=1)), ("GetItem",)),
    Spec("getitem[bool mask]", lambda x, mask: x[mask], lambda x, mask: x[mask], bool_mask_case(), ("GetItem",)),
    Spec("scatter_add", lambda g, index, shape: apply(ScatterAdd, g, index=index, shape=shape), scatter_ref,
         scatter_case(), ("ScatterAdd",)),
    Spec("cat", lambda *xs, dim: xs[0].cat(*xs[1:], dim=dim), lambda *xs, dim: np.concatenate(xs, axis=dim),
         cat_case(), ("Cat",)),
    Spec("stack", lambda *xs, dim: Tensor.stack(*xs, dim=dim), lambda *xs, dim: np.stack(xs, axis=dim),
         stack_case(), ("Cat", "Reshape")),
    Spec("gather", lambda x, dim, index: x.gather(dim, Tensor(index)), gather_ref, gather_case(), ("GetItem",)),
]

@st.composite
def large_matmul_case(draw: st.DrawFn) -> Case:
    """Sizes past gradcheck's full-Jacobian limit (64), so its random-projection mode runs too."""
    n, k, m = (draw(st.integers(6, 9)) for _ in range(3))
    batch = draw(st.sampled_from([(), (2,)]))
    return (draw(arr(batch + (n, k))), draw(arr((k, m)))), {}


LINALG = [
    Spec("matmul", lambda a, b: a @ b, np.matmul, matmul_case(), ("Matmul",)),
    Spec("matmul[large]", lambda a, b: a @ b, np.matmul, large_matmul_case(), ("Matmul",)),
    Spec("dot", lambda a, b: a.dot(b), np.matmul, matmul_case(max_batch=0), ("Matmul",)),
    Spec("linear", lambda x, w, *b: x.linear(w, *b), lambda x, w, *b: x @ w + (b[0] if b else 0), linear_case(),
         ("Matmul",)),
]

NN = [
    Spec("softmax", lambda x, axis: x.softmax(axis),
         lambda x, axis: np.exp(x - logsumexp(x, axis, keepdims=True)),
         with_params(arr, lambda s: dim_of(s).map(lambda d: {"axis": d}), shapes(min_dims=1)),
         ("Exp", "Sum", "Div", "Sub")),
    Spec("log_softmax", lambda x, axis: x.log_softmax(axis), lambda x, axis: x - logsumexp(x, axis, keepdims=True),
         with_params(arr, lambda s: dim_of(s).map(lambda d: {"axis": d}), shapes(min_dims=1)), ("LogSoftmax",)),
    Spec("log_softmax[large]", lambda x: x.log_softmax(-1), lambda x: x - logsumexp(x, -1, keepdims=True),
         arr(st.tuples(st.integers(9, 12), st.integers(8, 10))).map(lambda a: ((a,), {})), ("LogSoftmax",)),
    Spec("sparse_categorical_crossentropy",
         lambda x, labels, **kw: x.sparse_categorical_crossentropy(Tensor(labels), **kw), cross_entropy_ref,
         cross_entropy_case(), ("SoftmaxCrossEntropy",)),
    Spec("binary_crossentropy", lambda p, y, reduction: p.binary_crossentropy(y, reduction),
         lambda p, y, reduction: reduce_ref(-(y * np.log(p) + (1 - y) * np.log(1 - p)), reduction),
         probs_and_targets((0.05, 0.95), (0.0, 1.0), same_shape=True), ("Log", "Where", "Mul")),
    Spec("binary_crossentropy_logits", lambda x, y, reduction: x.binary_crossentropy_logits(y, reduction),
         lambda x, y, reduction: reduce_ref(np.logaddexp(0, x) - x * y, reduction),
         probs_and_targets((-6.0, 6.0), (0.0, 1.0)), ("Softplus", "Mul", "Sub")),
]

SPECS: list[Spec] = [*UNARY, *BINARY, *REDUCE, *MOVEMENT, *LINALG, *NN]


def _compare() -> st.SearchStrategy[Case]:
    """Pairs from a few values, so that equal elements (and so every comparison's both outcomes) occur."""
    coarse = st.sampled_from([-1.0, 0.0, 0.5, 1.0])
    return tst.broadcastable_shapes(2, **SMALL).flatmap(lambda s: st.tuples(
        tst.arrays(s[0], F64, coarse), tst.arrays(s[1], F64, coarse)).map(lambda p: (p, {})))


NONDIFF = [
    NonDiffSpec("<", lambda x, y: x < y, np.less, _compare(), "Less"),
    NonDiffSpec("<=", lambda x, y: x <= y, np.less_equal, _compare(), "LessEqual"),
    NonDiffSpec(">", lambda x, y: x > y, np.greater, _compare(), "Greater"),
    NonDiffSpec(">=", lambda x, y: x >= y, np.greater_equal, _compare(), "GreaterEqual"),
    NonDiffSpec("==", lambda x, y: x == y, np.equal, _compare(), "Equal"),
    NonDiffSpec("!=", lambda x, y: x != y, np.not_equal, _compare(), "NotEqual"),
    NonDiffSpec("< scalar", lambda x: x < 0.5, lambda x: x < 0.5, _compare().map(lambda c: (c[0][:1], {})),
                "Less"),
    NonDiffSpec("logical_not", lambda x: (x > 0).logical_not(), lambda x: ~(x > 0), one(), "LogicalNot"),
    NonDiffSpec("~mask", lambda x: ~(x > 0), lambda x: ~(x > 0), one(), "LogicalNot"),
    NonDiffSpec("bitwise_and", lambda x, y: (x > 0) & (y > 0), lambda x, y: (x > 0) & (y > 0), _compare(),
                "BitwiseAnd"),
    NonDiffSpec("bitwise_or", lambda x, y: (x > 0) | (y > 0), lambda x, y: (x > 0) | (y > 0), _compare(),
                "BitwiseOr"),
    NonDiffSpec("bitwise_xor", lambda x, y: (x > 0) ^ (y > 0), lambda x, y: (x > 0) ^ (y > 0), _compare(),
                "BitwiseXor"),
    NonDiffSpec("& int", lambda x, y: x.int() & y.int(), lambda x, y: x.astype(np.int32) & y.astype(np.int32),
                _compare(), "BitwiseAnd"),
    NonDiffSpec("logical_and", lambda x, y: x.logical_and(y), np.logical_and, _compare(), "BitwiseAnd"),
    NonDiffSpec("logical_or", lambda x, y: x.logical_or(y), np.logical_or, _compare(), "BitwiseOr"),
    NonDiffSpec("logical_xor", lambda x, y: x.logical_xor(y), np.logical_xor, _compare(), "BitwiseXor"),
    *[NonDiffSpec(name, lambda x, axis, keepdim, name=name: getattr(x > 0, name)(axis, keepdim),
                  lambda x, axis, keepdim, name=name: getattr(np, name)(x > 0, axis=np_axis(axis), keepdims=keepdim),
                  with_params(arr, axes_params)) for name in ("all", "any")],
    NonDiffSpec("argmax", lambda x, axis: x.argmax(axis), lambda x, axis: np.argmax(x, axis),
                with_params(separated, lambda s: st.one_of(st.none(), dim_of(s)).map(lambda a: {"axis": a}),
                            shapes(min_dims=1))),
    NonDiffSpec("argmin", lambda x, axis: x.argmin(axis), lambda x, axis: np.argmin(x, axis),
                with_params(separated, lambda s: st.one_of(st.none(), dim_of(s)).map(lambda a: {"axis": a}),
                            shapes(min_dims=1))),
]

# The convolution, pooling, normalization and dropout specs live in their own file; so do the attention,
# einsum, embedding, layer-norm, masked_fill and one_hot specs.
from op_specs_attention import ATTENTION, ATTENTION_NONDIFF  # noqa: E402
from op_specs_conv import CONV  # noqa: E402

SPECS += CONV
SPECS += ATTENTION
NONDIFF += ATTENTION_NONDIFF

# --- which Tensor methods need a spec: all of them, derived from the class, except these -------------------
# Public names of Tensor that are not ops with a value and gradient to check, by why. Everything else public
# on the class must have a spec above (by name, before any "[variant]"), so a new method cannot slip past.
NOT_OPS: dict[str, str] = {
    "creation: no tensor input to differentiate":
        "arange empty eye full full_like linspace manual_seed normal ones ones_like rand randint randn uniform "
        "zeros zeros_like",
    "attributes and graph bookkeeping": "data device dtype grad is_leaf ndim requires_grad shape backward detach "
                                        "requires_grad_ retain_grad realize train training",
    "values read out into Python or NumPy": "item numpy tolist numel element_size size __array__",
    "drawing the graph, not an op": "to_dot",
    "writing into a tensor in place (no gradient flows through it; tests/test_version_counter.py)": "assign",
    "dtype conversions: their one primitive, Cast, has the 'cast' spec": "bool double float half int long to cpu",
    "an in-place write of zeros (tests/test_eager_semantics.py)": "zero_",
    "Python protocol methods, not ops": "__init__ __repr__ __hash__ __len__ __iter__ __bool__ __float__ __int__ "
                                        "__index__ __setitem__",
}
# Operator methods, under the name of the spec that checks them.
OPERATORS: dict[str, str] = {
    "__add__": "add", "__radd__": "add", "__sub__": "sub", "__rsub__": "sub", "__mul__": "mul", "__rmul__": "mul",
    "__truediv__": "div", "__rtruediv__": "div", "__pow__": "pow", "__rpow__": "pow", "__neg__": "neg",
    "__matmul__": "matmul", "__rmatmul__": "matmul", "__getitem__": "getitem", "__invert__": "~mask",
    "__lt__": "<", "__le__": "<=", "__gt__": ">", "__ge__": ">=", "__eq__": "==", "__ne__": "!=",
    "__and__": "bitwise_and", "__rand__": "bitwise_and", "__or__": "bitwise_or", "__ror__": "bitwise_or",
    "__xor__": "bitwise_xor", "__rxor__": "bitwise_xor",
}


def tensor_api() -> list[str]:
    """Every public method or property of Tensor, and every operator method it defines (dunders beyond object's)."""
    names = {n for n in dir(Tensor) if not n.startswith("_")}
    for cls in Tensor.__mro__[:-1]:  # the class, its core and its mixins; not object
        names |= {n for n, v in vars(cls).items() if n.startswith("__") and callable(v)}
    return sorted(names)


def excluded() -> set[str]:
    return {n for group in NOT_OPS.values() for n in group.split()}


def api_methods() -> list[str]:
    """What must have a spec: the derived API minus NOT_OPS, operators under their spec's name."""
    return sorted({OPERATORS.get(n, n) for n in tensor_api() if n not in excluded()})


API_METHODS = api_methods()
