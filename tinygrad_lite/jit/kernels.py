"""Faster kernels for common primitives, each checked bit for bit against the primitive itself.

Eager mode calls `ctx.forward` and `ctx.vjp`. A replay can often call the NumPy ufuncs directly and
write into preallocated buffers (`out=`), with no Python frame or allocation in between. Such a
kernel is used only when, on the capture's own arrays, it reproduces the primitive's result exactly
(same dtype, shape and bytes); otherwise the replay calls the primitive's methods. A change to a
primitive therefore never makes replay and eager disagree: it only makes the replay take the slower
path for that op.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..ops.movement import Expand, Reshape
from .ir import Kernel, Value


def same_bits(a: Any, b: Any) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


class Emitter:
    """Builds the kernels of one op while running them on the capture's arrays, so they can be checked."""

    def __init__(self, new_value: Callable[[np.ndarray], Value]) -> None:
        self.kernels: list[Kernel] = []
        self._new = new_value

    def ufunc(self, fn: Any, *args: Any, quiet: bool = False, **kwargs: Any) -> Value:
        """`fn(*args, out=buffer)`: a ufunc, matmul or ufunc reduction."""
        arrays = [a.array if isinstance(a, Value) else a for a in args]
        if quiet:
            with np.errstate(divide="ignore", invalid="ignore"):  # as the primitives run log, sqrt, / and **
                res = fn(*arrays, **kwargs)
        else:
            res = fn(*arrays, **kwargs)
        v = self._new(np.asarray(res))
        name = getattr(fn, "__name__", None) or type(fn).__name__
        self.kernels.append(Kernel("call", fn, args, [v], name, kwargs, out_ok=True, errstate="op" if quiet else ""))
        return v

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Value:
        """`fn(*args, **kwargs)` returning a new array (no `out=`)."""
        v = self._new(np.asarray(fn(*[a.array if isinstance(a, Value) else a for a in args], **kwargs)))
        self.kernels.append(Kernel("call", fn, args, [v], getattr(fn, "__name__", "call"), kwargs))
        return v

    def view(self, fn: Callable[..., Any], x: Value, name: str, **kwargs: Any) -> Value:
        """`fn(x, **kwargs)`, whose result may share x's memory (a view, or x itself)."""
        v = self._new(np.asarray(fn(x.array, **kwargs)))
        self.kernels.append(Kernel("call", fn, (x,), [v], name, kwargs, alias=True))
        return v


def _mT(a: np.ndarray) -> np.ndarray:
    return a.mT


# --- forward ---------------------------------------------------------------------------------------
_FORWARD = {
    "Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Maximum": np.maximum, "Matmul": np.matmul,
    "Neg": np.negative, "Exp": np.exp, "Tanh": np.tanh, "Sin": np.sin, "Cos": np.cos, "Abs": np.abs,
    "Sign": np.sign, "Floor": np.floor, "Ceil": np.ceil, "Trunc": np.trunc,
    "Less": np.less, "LessEqual": np.less_equal, "Greater": np.greater, "GreaterEqual": np.greater_equal,
    "Equal": np.equal, "NotEqual": np.not_equal,
}
_FORWARD_QUIET = {"Div": np.divide, "Log": np.log, "Sqrt": np.sqrt, "Pow": np.power}
# State a forward keeps that depends only on its params (so a replay that skips the forward keeps it right).
_STATIC_SLOTS = {"Sum": ("axis", "keepdim"), "LogSoftmax": ("axis",)}


def _stateless(ctx: Any) -> bool:
    """True when ctx's forward keeps nothing per call that its vjp could read (so skipping it is safe)."""
    from ..function import Function

    own: list[str] = []
    for cls in type(ctx).__mro__:
        if cls is Function:
            break
        own += list(getattr(cls, "__slots__", ()))
    return not own or tuple(own) == _STATIC_SLOTS.get(type(ctx).__name__)


def forward(emit: Emitter, ctx: Any, ins: Sequence[Value], params: dict[str, Any]) -> Value | None:
    """A ufunc kernel for ctx's forward, or None when there is none for this op."""
    name = type(ctx).__name__
    if not _stateless(ctx) or any(isinstance(v, Value) for v in params.values()):
        return None
    if name in _FORWARD and not params:
        return emit.ufunc(_FORWARD[name], *ins)
    if name in _FORWARD_QUIET and not params:
        return emit.ufunc(_FORWARD_QUIET[name], *ins, quiet=True)
    if name == "Relu" and not params:
        return emit.ufunc(np.maximum, ins[0], 0)
    if name == "Sigmoid" and not params:
        return _sigmoid(emit, ins[0])
    if name == "LogSoftmax" and set(params) == {"axis"}:
        return _log_softmax(emit, ins[0], params["axis"])
    if name == "Sum" and set(params) == {"axis", "keepdim"}:
        return emit.ufunc(np.add.reduce, ins[0], axis=params["axis"], keepdims=params["keepdim"])
    return None


def _sigmoid(e: Emitter, x: Value) -> Value:
    """The primitive's own sequence, 1 / (1 + exp(min(-x, limit))), without its allocation and call."""
    from ..ops.unary import _exp_limit

    t = e.ufunc(np.minimum, e.ufunc(np.negative, x), _exp_limit(x.dtype))
    return e.ufunc(np.reciprocal, e.ufunc(np.add, e.ufunc(np.exp, t), 1))


def _log_softmax(e: Emitter, x: Value, axis: int) -> Value:
    """The primitive's steps (shift by the finite max, subtract log Σ exp) into buffers."""
    m = e.ufunc(np.maximum.reduce, x, axis=axis, keepdims=True)
    shifted = e.ufunc(np.subtract, x, e.call(np.where, e.ufunc(np.isfinite, m), m, 0))
    total = e.ufunc(np.add.reduce, e.ufunc(np.exp, shifted), axis=axis, keepdims=True)
    return e.ufunc(np.subtract, shifted, e.ufunc(np.log, total, quiet=True), quiet=True)


# --- vjp -------------------------------------------------------------------------------------------
Grads = tuple[Value | None, ...]


def _vjp_add(e: Emitter, ctx: Any, g: Value, out: Value, xs: Sequence[Value]) -> Grads:
    return g, g


def _vjp_sub(e: Emitter, ctx: Any, g: Value, out: Value, xs: Sequence[Value]) -> Grads:
    return g, (e.ufunc(np.negative, g) if ctx.needs_grad[1] else None)


def _vjp_mul(e: Emitter, ctx: Any, g: Value, out: Value, xs: Sequence[Value]) -> Grads:
    x, y = xs
    nx, ny = ctx.needs_grad
    return (e.ufunc(np.multiply, g, y) if nx else None), (e.ufunc(np.multiply, g, x) if ny else None)


def _vjp_div(e: Emitter, ctx: Any, g: Value, out: Value, xs: Sequence[Value]) -> Grads:
    x, y = xs
    gx = e.ufunc(np.divide, g, y) if ctx.needs_grad[0] else None
    gy = None
    if ctx.needs_grad[1]:
        num = e.ufunc(np.negative, e.ufunc(np.multiply, g, x))
        gy = e.ufunc(np.divide, num, e.ufunc(np.multiply, y, y))
    return gx, gy


def _vjp_matmul(e: Emitter, ctx: Any, g: Value, out: Value, xs: Sequence[Value]) -> Grads | None:
    a, b = xs
    if a.array.ndim < 2 or b.array.ndim < 2:
        return None
    ga = e.ufunc(np.matmul, g, e.view(_mT, b, "mT")) if ctx.needs_grad[0] else None
    gb = e.ufunc(np.matmul, e.view(_mT, a, "mT"), g) if ctx.needs_grad[1] else None
    return ga, gb


def _vjp_sigmoid(e: Emitter, ctx: Any, g: Value, out: Value, xs: Sequence[Value]) -> Grads:
    return (e.ufunc(np.multiply, g, e.ufunc(np.multiply, out, e.ufunc(np.subtract, 1, out))),)


def _vjp_tanh(e: Emitter, ctx: Any, g: Value, out: Value, xs: Sequence[Value]) -> Grads:
    return (e.ufunc(np.multiply, g, e.ufunc(np.subtract, 1, e.ufunc(np.multiply, out, out))),)


def _vjp_relu(e: Emitter, ctx: Any, g: Value, out: Value, xs: Sequence[Value]) -> Grads:
    return (e.ufunc(np.multiply, g, e.ufunc(np.greater, xs[0], 0)),)


def _vjp_exp(e: Emitter, ctx: Any, g: Value, out: Value, xs: Sequence[Value]) -> Grads:
    return (e.ufunc(np.multiply, g, out),)


def _vjp_log(e: Emitter, ctx: Any, g: Value, out: Value, xs: Sequence[Value]) -> Grads:
    return (e.ufunc(np.divide, g, xs[0]),)


def _vjp_neg(e: Emitter, ctx: Any, g: Value, out: Value, xs: Sequence[Value]) -> Grads:
    return (e.ufunc(np.negative, g),)


def _vjp_sum(e: Emitter, ctx: Any, g: Value, out: Value, xs: Sequence[Value]) -> Grads:
    # Only g's values matter (x and out give shapes), so a constant g folds: a loss's first vjp steps.
    shape = xs[0].shape
    if not ctx.keepdim:
        g = e.view(Reshape.call, g, "Reshape", shape=tuple(1 if i in ctx.axis else n for i, n in enumerate(shape)))
    return (e.view(Expand.call, g, "Expand", shape=shape),)


def _vjp_reshape(e: Emitter, ctx: Any, g: Value, out: Value, xs: Sequence[Value]) -> Grads:
    return (e.view(Reshape.call, g, "Reshape", shape=xs[0].shape),)


def _vjp_log_softmax(e: Emitter, ctx: Any, g: Value, out: Value, xs: Sequence[Value]) -> Grads:
    total = e.ufunc(np.add.reduce, g, axis=(ctx.axis,), keepdims=True)
    return (e.ufunc(np.subtract, g, e.ufunc(np.multiply, e.ufunc(np.exp, out), total)),)


def _vjp_identity(e: Emitter, ctx: Any, g: Value, out: Value, xs: Sequence[Value]) -> Grads:
    return (g,)


_VJP: dict[str, Callable[..., Grads | None]] = {
    "Add": _vjp_add, "Sub": _vjp_sub, "Mul": _vjp_mul, "Div": _vjp_div, "Matmul": _vjp_matmul,
    "Sigmoid": _vjp_sigmoid, "Tanh": _vjp_tanh, "Relu": _vjp_relu, "Exp": _vjp_exp, "Log": _vjp_log,
    "Neg": _vjp_neg, "Sum": _vjp_sum, "Reshape": _vjp_reshape, "Expand": _vjp_identity, "Cast": _vjp_identity,
    "LogSoftmax": _vjp_log_softmax,
}


def vjp(emit: Emitter, ctx: Any, g: Value, out: Value, xs: Sequence[Value],
        params: dict[str, Any] | None = None) -> Grads | None:
    """Ufunc kernels for ctx's vjp (to be checked against ctx.vjp's results), or None. `params` are those
    its forward was recorded with (Values where they came from the step's arrays)."""
    if type(ctx).__name__ == "GetItem" and params is not None:
        return _vjp_rows(emit, g, xs[0], params.get("index"))
    rule = _VJP.get(type(ctx).__name__)
    return None if rule is None else rule(emit, ctx, g, out, xs)


def _vjp_rows(e: Emitter, g: Value, x: Value, index: Any) -> Grads | None:
    """x[arange(n), cols] (a cross-entropy picking each row's label): the rows are distinct, so adding g into
    zeros at the index needs no np.add.at (which exists to sum repeated positions, slowly)."""
    if not isinstance(index, tuple) or len(index) != 2 or not isinstance(index[0], np.ndarray):
        return None
    rows, cols = index
    n = rows.shape[0]
    col = cols.array if isinstance(cols, Value) else np.asarray(cols)
    if rows.ndim != 1 or col.shape != (n,) or col.dtype.kind not in "iu" or not np.array_equal(rows, np.arange(n)):
        return None
    return (e.call(_scatter_rows, g, rows, cols, shape=x.shape),)


def _scatter_rows(g: np.ndarray, rows: np.ndarray, cols: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    out = np.zeros(shape, dtype=g.dtype)
    out[rows, cols] += g  # 0 + g, as np.add.at gives when no position repeats
    return out
