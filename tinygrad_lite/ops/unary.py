"""Unary primitives: forward on arrays, and the vector-Jacobian product beside it.

In every `vjp`, `g` is the incoming gradient, `out` the forward result and `x`
the input; they are NumPy arrays or, under `create_graph=True`, Tensors.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..function import Function, register

_EXP_LIMITS = {np.dtype(t): float(np.floor(np.log(np.finfo(t).max))) for t in (np.float16, np.float32, np.float64)}


def _exp_limit(dtype: np.dtype) -> float:
    """A t with exp(t) safely finite in `dtype` (88 for float32, 709 for float64)."""
    return _EXP_LIMITS.get(dtype, 709.0)


@register
class Neg(Function):
    """d(-x) = -1"""

    __slots__ = ()

    forward = staticmethod(np.negative)  # the ufunc itself: no Python frame per call

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any]:
        return (-g,)


@register
class Exp(Function):
    """d exp(x) = exp(x)"""

    __slots__ = ()

    forward = staticmethod(np.exp)  # the ufunc itself: no Python frame per call

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any]:
        return (g * out,)


@register
class Log(Function):
    """d log(x) = 1/x"""

    __slots__ = ()

    def forward(self, x: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):  # log(0) = -inf and log(-1) = nan, as in NumPy
            return np.log(x)

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any]:
        return (g / x,)


@register
class Sqrt(Function):
    """d sqrt(x) = 1 / (2 sqrt(x))"""

    __slots__ = ()

    def forward(self, x: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return np.sqrt(x)

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any]:
        return (g / (out * 2),)


@register
class Sin(Function):
    """d sin(x) = cos(x)"""

    __slots__ = ()

    forward = staticmethod(np.sin)  # the ufunc itself: no Python frame per call

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any]:
        return (g * Cos.call(x),)


@register
class Cos(Function):
    """d cos(x) = -sin(x)"""

    __slots__ = ()

    forward = staticmethod(np.cos)  # the ufunc itself: no Python frame per call

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any]:
        return (-(g * Sin.call(x)),)


@register
class Tanh(Function):
    """d tanh(x) = 1 - tanh(x)^2"""

    __slots__ = ()

    forward = staticmethod(np.tanh)  # the ufunc itself: no Python frame per call

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any]:
        return (g * (1 - out * out),)


@register
class Sigmoid(Function):
    """d σ(x) = σ(x)(1 - σ(x)). Fused for stability: e^-x is capped below overflow, so σ(-1000) is a
    tiny positive number with no warning, and both tails keep full relative precision until then."""

    __slots__ = ()

    def forward(self, x: np.ndarray) -> np.ndarray:
        e = np.negative(x, out=np.empty_like(x))  # out= keeps 0-d results arrays, not NumPy scalars
        np.minimum(e, _exp_limit(e.dtype), out=e)  # in place on our own buffer: one allocation, not five
        np.exp(e, out=e)
        e += 1
        return np.reciprocal(e, out=e)

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any]:
        return (g * (out * (1 - out)),)


@register
class Relu(Function):
    """d relu(x) = 1 where x > 0, else 0 (0 at the kink, as PyTorch)"""

    __slots__ = ()

    def forward(self, x: np.ndarray) -> np.ndarray:
        return np.maximum(x, 0)

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any]:
        return (g * (x > 0),)


@register
class Abs(Function):
    """d |x| = sign(x) (0 at 0, as PyTorch)"""

    __slots__ = ()

    def forward(self, x: np.ndarray) -> np.ndarray:
        return np.abs(x)

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any]:
        return (g * Sign.call(x),)


class _Stepwise(Function):
    """A piecewise-constant function: its derivative is zero wherever it exists."""

    __slots__ = ()

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any]:
        return (g * 0,)


@register
class Sign(_Stepwise):
    """d sign(x) = 0"""

    __slots__ = ()
    forward = staticmethod(np.sign)


@register
class Floor(_Stepwise):
    """d floor(x) = 0"""

    __slots__ = ()
    forward = staticmethod(np.floor)


@register
class Ceil(_Stepwise):
    """d ceil(x) = 0"""

    __slots__ = ()
    forward = staticmethod(np.ceil)


@register
class Trunc(_Stepwise):
    """d trunc(x) = 0"""

    __slots__ = ()
    forward = staticmethod(np.trunc)


@register
class Round(_Stepwise):
    """d round(x) = 0 (halves go to even, as NumPy and PyTorch)"""

    __slots__ = ()
    forward = staticmethod(np.round)  # type: ignore[assignment]


@register
class Cast(Function):
    """d cast(x) = 1; the engine casts the gradient back to the input's dtype"""

    __slots__ = ()

    def forward(self, x: np.ndarray, dtype: np.dtype) -> np.ndarray:
        return x.astype(dtype, copy=False)

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any]:
        return (g,)


@register
class Softplus(Function):
    """d log(1 + eˣ) = σ(x). Fused for stability: logaddexp never overflows, and the kink-free rule
    gives σ(0) = ½ where a max(x, 0) + log(1 + e^-|x|) composite would give 0."""

    __slots__ = ()

    def forward(self, x: np.ndarray) -> np.ndarray:
        return np.logaddexp(0, x)

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any]:
        return (g * Sigmoid.call(x),)
