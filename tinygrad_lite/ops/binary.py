"""Binary (and ternary) elementwise primitives. Inputs broadcast as in NumPy;
the engine sums each gradient back to its input's shape, so no rule here does."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..function import Function, register
from ._batch_util import elementwise
from ._jvp_util import or_zeros, plus
from .unary import Abs, Log


@register
class Add(Function):
    """d(x + y) = 1, 1"""

    __slots__ = ()

    forward = staticmethod(np.add)  # the ufunc itself: no Python frame per call

    def vjp(self, g: Any, out: Any, x: Any, y: Any) -> tuple[Any, Any]:
        return g, g

    def jvp(self, tangents: tuple[Any, ...], out: Any, x: Any, y: Any) -> Any:
        dx, dy = tangents
        return plus(dx, dy)

    def batch(self, batched: tuple[bool, ...], *xs: Any, **params: Any) -> Any:
        return elementwise(type(self), batched, xs, params)


@register
class Sub(Function):
    """d(x - y) = 1, -1"""

    __slots__ = ()

    forward = staticmethod(np.subtract)  # the ufunc itself: no Python frame per call

    def vjp(self, g: Any, out: Any, x: Any, y: Any) -> tuple[Any, Any]:
        return g, (-g if self.needs_grad[1] else None)

    def jvp(self, tangents: tuple[Any, ...], out: Any, x: Any, y: Any) -> Any:
        dx, dy = tangents
        return plus(dx, None if dy is None else -dy)

    def batch(self, batched: tuple[bool, ...], *xs: Any, **params: Any) -> Any:
        return elementwise(type(self), batched, xs, params)


@register
class Mul(Function):
    """d(x * y) = y, x"""

    __slots__ = ()

    forward = staticmethod(np.multiply)  # the ufunc itself: no Python frame per call

    def vjp(self, g: Any, out: Any, x: Any, y: Any) -> tuple[Any, Any]:
        nx, ny = self.needs_grad
        return (g * y if nx else None), (g * x if ny else None)

    def jvp(self, tangents: tuple[Any, ...], out: Any, x: Any, y: Any) -> Any:
        dx, dy = tangents
        return plus(None if dx is None else dx * y, None if dy is None else x * dy)

    def batch(self, batched: tuple[bool, ...], *xs: Any, **params: Any) -> Any:
        return elementwise(type(self), batched, xs, params)


@register
class Div(Function):
    """d(x / y) = 1/y, -(x/y)/y (never y·y, which under/overflows in float32 long before x/y does)"""

    __slots__ = ()

    def forward(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):  # x/0 is ±inf or nan, as in NumPy
            return x / y

    def vjp(self, g: Any, out: Any, x: Any, y: Any) -> tuple[Any, Any]:
        nx, ny = self.needs_grad
        gx = g / y if nx else None
        gy = -(g * (out / y)) if ny else None  # PyTorch's order: (x/y)/y, so x = y = 1e20 gives -1e-20
        return gx, gy

    def jvp(self, tangents: tuple[Any, ...], out: Any, x: Any, y: Any) -> Any:
        dx, dy = tangents
        return plus(None if dx is None else dx / y, None if dy is None else -(dy * x) / (y * y))

    def batch(self, batched: tuple[bool, ...], *xs: Any, **params: Any) -> Any:
        return elementwise(type(self), batched, xs, params)


@register
class Pow(Function):
    """d(x ** y) = y·x^(y-1), x^y·log(x) (taken as 0 where x = 0 and y ≥ 0, as PyTorch)"""

    __slots__ = ()

    def forward(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.power(x, y)

    def vjp(self, g: Any, out: Any, x: Any, y: Any) -> tuple[Any, Any]:
        nx, ny = self.needs_grad
        # In y, PyTorch's rule: 0 where x = 0 and y ≥ 0 (there the log is taken of 1, in a branch the outer
        # Where masks); at x = 0, y < 0 it is x^y·log x = ∞·(-∞) = -∞.
        gx = None
        if nx:
            gx = g * y * Pow.call(x, _power_below(x, y))
        gy = None
        if ny:
            masked = (x == 0) & (y >= 0)
            gy = Where.call(masked, 0.0, g * out * Log.call(Where.call(masked, 1.0, x)))
        return gx, gy

    def jvp(self, tangents: tuple[Any, ...], out: Any, x: Any, y: Any) -> Any:
        dx, dy = tangents
        tx = ty = None
        if dx is not None:
            tx = dx * y * Pow.call(x, _power_below(x, y))
        if dy is not None:
            ty = Where.call(x == 0, 0.0, dy * out * Log.call(Where.call(x == 0, 1.0, x)))
        return plus(tx, ty)

    def batch(self, batched: tuple[bool, ...], *xs: Any, **params: Any) -> Any:
        return elementwise(type(self), batched, xs, params)


def _power_below(x: Any, y: Any) -> Any:
    """y - 1, the exponent of d(x^y)/dx = y·x^(y-1); 0 where y = 0 and x^-1 would not be finite (x = 0, subnormal
    or nan), so that no 0·∞ is formed (nor warned about) and d(x^0)/dx is 0 there, as PyTorch. Elsewhere the
    exponent keeps y in it, so the second derivative in y at y = 0 is x^-1, as it should be."""
    tiny = float(np.finfo(x.dtype).tiny)
    return Where.call((y == 0) & ~(Abs.call(x) >= tiny), 0.0, y - 1)


@register
class Atan2(Function):
    """d atan2(y, x) = x/(x² + y²), -y/(x² + y²) (0, 0 at the origin, as PyTorch)"""

    __slots__ = ()

    def forward(self, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        return np.arctan2(y, x)

    def vjp(self, g: Any, out: Any, y: Any, x: Any) -> tuple[Any, Any]:
        ny, nx = self.needs_grad
        with np.errstate(over="ignore"):  # x² + y² overflows to inf past 1e154: the gradient is then 0
            r = x * x + y * y
        # At the origin r is 0, and so is each numerator: dividing by 1 there gives PyTorch's 0 with no 0/0.
        scaled = g / Where.call(r == 0, 1.0, r)
        return (scaled * x if ny else None), (-(scaled * y) if nx else None)

    def jvp(self, tangents: tuple[Any, ...], out: Any, y: Any, x: Any) -> Any:
        dy, dx = tangents
        with np.errstate(over="ignore"):  # as the vjp: the derivative is 0 once x² + y² overflows
            r = x * x + y * y
        # The vjp's convention at the origin: 0, with no 0/0.
        return plus(None if dy is None else dy * x, None if dx is None else -(dx * y)) / Where.call(r == 0, 1.0, r)

    def batch(self, batched: tuple[bool, ...], *xs: Any, **params: Any) -> Any:
        return elementwise(type(self), batched, xs, params)


@register
class Maximum(Function):
    """d max(x, y) = 1, 0 where x > y; 0, 1 where x < y; ½, ½ at ties (as PyTorch)"""

    __slots__ = ()

    forward = staticmethod(np.maximum)  # the ufunc itself: no Python frame per call

    def vjp(self, g: Any, out: Any, x: Any, y: Any) -> tuple[Any, Any]:
        tie = x == y
        half = g * 0.5
        nx, ny = self.needs_grad
        gx = Where.call(tie, half, g * (x > y)) if nx else None
        gy = Where.call(tie, half, g * (x < y)) if ny else None
        return gx, gy

    def jvp(self, tangents: tuple[Any, ...], out: Any, x: Any, y: Any) -> Any:
        dx, dy = tangents
        # The vjp's convention, so the two agree: ties take the mean of both tangents.
        tie, x_wins = x == y, x > y
        dx, dy = or_zeros(dx, x), or_zeros(dy, y)
        return Where.call(tie, (dx + dy) * 0.5, Where.call(x_wins, dx, dy))

    def batch(self, batched: tuple[bool, ...], *xs: Any, **params: Any) -> Any:
        return elementwise(type(self), batched, xs, params)


@register
class Minimum(Function):
    """d min(x, y) = 1, 0 where x < y; 0, 1 where x > y; ½, ½ at ties (as PyTorch)"""

    __slots__ = ()

    forward = staticmethod(np.minimum)  # the ufunc itself: no Python frame per call

    def vjp(self, g: Any, out: Any, x: Any, y: Any) -> tuple[Any, Any]:
        tie = x == y
        half = g * 0.5
        nx, ny = self.needs_grad
        gx = Where.call(tie, half, g * (x < y)) if nx else None
        gy = Where.call(tie, half, g * (x > y)) if ny else None
        return gx, gy

    def jvp(self, tangents: tuple[Any, ...], out: Any, x: Any, y: Any) -> Any:
        dx, dy = tangents
        # The vjp's convention, so the two agree: ties take the mean of both tangents.
        tie, x_wins = x == y, x < y
        dx, dy = or_zeros(dx, x), or_zeros(dy, y)
        return Where.call(tie, (dx + dy) * 0.5, Where.call(x_wins, dx, dy))

    def batch(self, batched: tuple[bool, ...], *xs: Any, **params: Any) -> Any:
        return elementwise(type(self), batched, xs, params)


@register
class Where(Function):
    """d where(c, x, y) = c, not c (no gradient for the condition)"""

    __slots__ = ()

    def forward(self, cond: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.where(cond, x, y)

    def vjp(self, g: Any, out: Any, cond: Any, x: Any, y: Any) -> tuple[Any, Any, Any]:
        _, nx, ny = self.needs_grad
        gx = Where.call(cond, g, 0.0) if nx else None
        gy = Where.call(cond, 0.0, g) if ny else None
        return None, gx, gy

    def jvp(self, tangents: tuple[Any, ...], out: Any, cond: Any, x: Any, y: Any) -> Any:
        _, dx, dy = tangents
        return Where.call(cond, 0.0 if dx is None else dx, 0.0 if dy is None else dy)

    def batch(self, batched: tuple[bool, ...], *xs: Any, **params: Any) -> Any:
        return elementwise(type(self), batched, xs, params)


class _Compare(Function):
    """Comparisons give bool tensors and are never recorded: they have no gradient."""

    __slots__ = ()
    differentiable = False

    def batch(self, batched: tuple[bool, ...], *xs: Any, **params: Any) -> Any:
        return elementwise(type(self), batched, xs, params)


@register
class Less(_Compare):
    __slots__ = ()
    forward = staticmethod(np.less)


@register
class LessEqual(_Compare):
    __slots__ = ()
    forward = staticmethod(np.less_equal)


@register
class Greater(_Compare):
    __slots__ = ()
    forward = staticmethod(np.greater)


@register
class GreaterEqual(_Compare):
    __slots__ = ()
    forward = staticmethod(np.greater_equal)


@register
class Equal(_Compare):
    __slots__ = ()
    forward = staticmethod(np.equal)


@register
class NotEqual(_Compare):
    __slots__ = ()
    forward = staticmethod(np.not_equal)


class _Bitwise(_Compare):
    """`&`, `|`, `^` on bool tensors (logical) and integer tensors (bitwise), as PyTorch; no gradient.
    The Tensor methods refuse float operands before they get here."""

    __slots__ = ()


@register
class BitwiseAnd(_Bitwise):
    __slots__ = ()
    forward = staticmethod(np.bitwise_and)


@register
class BitwiseOr(_Bitwise):
    __slots__ = ()
    forward = staticmethod(np.bitwise_or)


@register
class BitwiseXor(_Bitwise):
    __slots__ = ()
    forward = staticmethod(np.bitwise_xor)


@register
class LogicalNot(Function):
    """`~mask` for bool tensors; no gradient."""

    __slots__ = ()
    differentiable = False

    def forward(self, x: np.ndarray) -> np.ndarray:
        return np.logical_not(x) if x.dtype == np.bool_ else np.invert(x)

    def batch(self, batched: tuple[bool, ...], *xs: Any, **params: Any) -> Any:
        return elementwise(type(self), batched, xs, params)
