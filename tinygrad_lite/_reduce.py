"""Reductions on the Tensor: `sum mean max min var std logsumexp prod`, `argmax argmin`, `cumsum`.

Sum, Max, Min, Prod and Cumsum are primitives; the rest are built from them.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from . import dtypes
from .function import NumpyFn
from .node import apply
from .ops import reduce as R

if TYPE_CHECKING:
    from .tensor import Tensor

Axis = Any  # None, an int or a sequence of ints; negative values count from the end


def normalize_axis(axis: Axis, ndim: int, op: str = "reduction") -> tuple[int, ...]:
    """A tuple of distinct non-negative axes, or a ValueError that names the op and the tensor's rank."""
    if axis is None:
        return tuple(range(ndim))
    items: Sequence[Any] = axis if isinstance(axis, (tuple, list)) else (axis,)
    out = []
    for a in items:
        if not isinstance(a, (int, np.integer)) or isinstance(a, bool):
            raise TypeError(f"{op}: axis must be an int or a tuple of ints, got {axis!r}")
        if not -max(ndim, 1) <= a < max(ndim, 1):
            raise ValueError(f"{op}: axis {a} is out of range for a tensor with {ndim} dimensions")
        out.append(int(a) % max(ndim, 1))
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: axis {axis!r} repeats a dimension")
    return tuple(out) if ndim else ()


_ALL_AXES = [tuple(range(n)) for n in range(8)]


def _pick(axis: Axis, dim: Axis) -> Axis:
    if dim is not None:
        if axis is not None:
            raise TypeError("give axis= or dim=, not both")
        return dim
    return axis


class ReduceMixin:
    __slots__ = ()

    def sum(self: Tensor, axis: Axis = None, keepdim: bool = False, *, dim: Axis = None) -> Tensor:
        """Sum over `axis` (all by default). Bools and integers sum as int64, as PyTorch."""
        x = _accumulator(self)
        axes = _ALL_AXES[self.ndim] if axis is None and dim is None and self.ndim < 8 else \
            normalize_axis(_pick(axis, dim), self.ndim, "sum")
        return apply(R.Sum, x, axis=axes, keepdim=keepdim)

    def mean(self: Tensor, axis: Axis = None, keepdim: bool = False, *, dim: Axis = None) -> Tensor:
        """Sum divided by the number of reduced elements (nan for an empty reduction, as NumPy)."""
        axes = normalize_axis(_pick(axis, dim), self.ndim, "mean")
        if self.dtype == dtypes.float16:  # divided before the one rounding: a float16 total could overflow
            return self.cast(dtypes.float32).mean(axes, keepdim).cast(dtypes.float16)
        count = math.prod(self.shape[a] for a in axes)
        total = self.sum(axes, keepdim)
        return total / count if count else total * math.nan  # NumPy's nan; no 0-division in backward

    def max(self: Tensor, axis: Axis = None, keepdim: bool = False, *, dim: Axis = None) -> Tensor:
        """Largest value over `axis`; tied maxima share the gradient equally."""
        return apply(R.Max, self, axis=normalize_axis(_pick(axis, dim), self.ndim, "max"), keepdim=keepdim)

    def min(self: Tensor, axis: Axis = None, keepdim: bool = False, *, dim: Axis = None) -> Tensor:
        """Smallest value over `axis`; tied minima share the gradient equally."""
        return apply(R.Min, self, axis=normalize_axis(_pick(axis, dim), self.ndim, "min"), keepdim=keepdim)

    def prod(self: Tensor, axis: Axis = None, keepdim: bool = False, *, dim: Axis = None) -> Tensor:
        """Product over `axis`. Bools and integers multiply as int64, as PyTorch."""
        axes = normalize_axis(_pick(axis, dim), self.ndim, "prod")
        return apply(R.Prod, _accumulator(self), axis=axes, keepdim=keepdim)

    def var(self: Tensor, axis: Axis = None, keepdim: bool = False, correction: int = 1, *,
            dim: Axis = None) -> Tensor:
        """Σ(x - mean)² / (N - correction); correction=1 is the unbiased estimate."""
        axes = normalize_axis(_pick(axis, dim), self.ndim, "var")
        wider = _VARIANCE_DTYPE.get(self.dtype)
        if wider is not None:  # squares of float16 overflow at 256: accumulated one width up, as PyTorch
            return self.cast(wider).var(axes, keepdim, correction).cast(self.dtype)
        count = math.prod(self.shape[a] for a in axes)
        centered = self - self.mean(axes, keepdim=True)
        return (centered * centered).sum(axes, keepdim) / max(0, count - correction)

    def std(self: Tensor, axis: Axis = None, keepdim: bool = False, correction: int = 1, *,
            dim: Axis = None) -> Tensor:
        """√var. Where the variance is exactly 0 the gradient is 0, not ∞·0 = nan (as PyTorch), so a
        layer-norm over a constant row still trains."""
        wider = _VARIANCE_DTYPE.get(self.dtype)
        if wider is not None:  # as var: so a float32 std of [0, 3e38] is 2.1e38, not √inf, and of [4e-32, 0] not 0
            return self.cast(wider).std(_pick(axis, dim), keepdim, correction).cast(self.dtype)
        var = self.var(_pick(axis, dim), keepdim, correction)
        zero = var == 0
        return zero.where(0.0, zero.where(1.0, var).sqrt())

    def logsumexp(self: Tensor, axis: Axis = None, keepdim: bool = False, *, dim: Axis = None) -> Tensor:
        """log Σ eˣ, computed as m + log Σ e^(x - m) with m the (constant) max, so it never overflows."""
        axes = normalize_axis(_pick(axis, dim), self.ndim, "logsumexp")
        if self.dtype == dtypes.float16:  # in float32, rounded once, as PyTorch (float16 steps drift ~1%)
            return self.cast(dtypes.float32).logsumexp(axes, keepdim).cast(dtypes.float16)
        if any(self.shape[a] == 0 for a in axes):  # an empty sum: log 0 = -inf, as PyTorch (no max to shift by)
            return self.exp().sum(axes, keepdim).log()
        m = apply(NumpyFn, self.max(axes, keepdim=True), func=_finite_or_zero)  # all -inf rows stay -inf
        out = (self - m).exp().sum(axes, keepdim=True).log() + m
        return out if keepdim else out.reshape(tuple(n for i, n in enumerate(out.shape) if i not in axes))

    def cumsum(self: Tensor, axis: int = 0, *, dim: int | None = None) -> Tensor:
        """Running sum along one axis; bools and integers accumulate in int64, as PyTorch."""
        if self.ndim == 0:  # NumPy's cumsum flattens a scalar to shape (1,); keep it 0-d
            return self.reshape(1).cumsum(0).reshape(())
        (ax,) = normalize_axis(axis if dim is None else dim, self.ndim, "cumsum")
        return apply(R.Cumsum, _accumulator(self), axis=ax)

    # --- no gradient ----------------------------------------------------------------
    def argmax(self: Tensor, axis: int | None = None, keepdim: bool = False, *, dim: int | None = None) -> Tensor:
        """Index of the (first) largest value, int32; over the flattened tensor when axis is None."""
        return self._arg(np.argmax, _pick(axis, dim), keepdim)

    def argmin(self: Tensor, axis: int | None = None, keepdim: bool = False, *, dim: int | None = None) -> Tensor:
        return self._arg(np.argmin, _pick(axis, dim), keepdim)

    def _arg(self: Tensor, fn: Any, axis: int | None, keepdim: bool) -> Tensor:
        if self.data.size == 0:
            raise ValueError(f"{fn.__name__} of an empty tensor of shape {self.shape}")
        if axis is None:
            shape = (1,) * self.ndim if keepdim else ()
            return apply(NumpyFn, self, func=_arg_flat, arg=fn, shape=shape)
        (ax,) = normalize_axis(axis, self.ndim, fn.__name__)
        return apply(NumpyFn, self, func=_arg_axis, arg=fn, axis=ax, keepdims=keepdim)

    def any(self: Tensor, axis: Axis = None, keepdim: bool = False, *, dim: Axis = None) -> Tensor:
        axes = normalize_axis(_pick(axis, dim), self.ndim, "any")
        return apply(NumpyFn, self, func=np.any, axis=axes, keepdims=keepdim)

    def all(self: Tensor, axis: Axis = None, keepdim: bool = False, *, dim: Axis = None) -> Tensor:
        axes = normalize_axis(_pick(axis, dim), self.ndim, "all")
        return apply(NumpyFn, self, func=np.all, axis=axes, keepdims=keepdim)


# var and std square the deviations: float16 squares overflow past 256, float32 ones past 1.8e19 and underflow below
# 1e-19, where the variance's square root is still a float32. So they are computed one width up and rounded once, as
# PyTorch on the CPU does (float16 in float32, float32 in float64); float64 has nothing wider.
_VARIANCE_DTYPE = {dtypes.float16: dtypes.float32, dtypes.float32: dtypes.float64}


def _accumulator(x: Tensor) -> Tensor:
    """Bools and integers are summed and multiplied in int64, as PyTorch (NumPy would give uint64 for
    unsigned data); floats keep their dtype."""
    dt = x.data.dtype
    return x if dt.kind == "f" or dt == dtypes.int64 else x.cast(dtypes.int64)


# NumPy helpers run through NumpyFn (see function.py): on data, with no gradient, recorded like an op.
def _finite_or_zero(m: np.ndarray) -> np.ndarray:
    return np.where(np.isfinite(m), m, 0).astype(m.dtype)


def _arg_flat(x: np.ndarray, arg: Any, shape: tuple[int, ...]) -> np.ndarray:
    return np.asarray(arg(x)).reshape(shape).astype(dtypes.int32)


def _arg_axis(x: np.ndarray, arg: Any, axis: int, keepdims: bool) -> np.ndarray:
    return np.asarray(arg(x, axis=axis, keepdims=keepdims)).astype(dtypes.int32)
