"""Reductions. Each keeps the reduced axes' positions so its VJP can broadcast `g` back.

`axis` reaches the primitives already normalised: a tuple of non-negative ints.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..data_checks import check
from ..function import Function, register
from ..node import TensorCore
from ._batch_util import shift
from .binary import Equal
from .movement import Expand, Flip, Reshape
from .unary import Cast


def kept_shape(shape: tuple[int, ...], axis: tuple[int, ...]) -> tuple[int, ...]:
    """`shape` with every reduced axis set to 1: the shape of a keepdim result."""
    return tuple(1 if i in axis else n for i, n in enumerate(shape))


@register
class Sum(Function):
    """d Σx = 1 for every element: g broadcast back over the reduced axes"""

    __slots__ = ("axis", "keepdim")

    def forward(self, x: np.ndarray, axis: tuple[int, ...], keepdim: bool) -> np.ndarray:
        self.axis, self.keepdim = axis, keepdim
        if x.dtype == np.float16:  # accumulated in float32, rounded once (as PyTorch): no float16 partial sums
            total = np.add.reduce(x, axis=axis, keepdims=keepdim, dtype=np.float32)  # type: ignore[call-overload]
            return total.astype(np.float16)
        return x.sum(axis=axis, keepdims=keepdim)  # the method skips np.sum's Python wrapper

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any]:
        if type(g) is np.ndarray and g.ndim == 0:  # a full sum (the usual loss): what Expand makes of it, directly
            return (np.full(x.shape, g, dtype=g.dtype),)
        if not self.keepdim:
            g = Reshape.call(g, shape=kept_shape(x.shape, self.axis))
        return (Expand.call(g, shape=x.shape),)

    def jvp(self, tangents: tuple[Any, ...], out: Any, x: Any) -> Any:
        (dx,) = tangents
        return Sum.call(dx, axis=self.axis, keepdim=self.keepdim)

    def batch(self, batched: tuple[bool, ...], x: Any, **params: Any) -> Any:
        return Sum.call(x, axis=shift(params["axis"]), keepdim=params["keepdim"])


@register
class Max(Function):
    """d max(x) = 1 at the maximum; ties share it equally (mean of the tied elements' slots)"""

    __slots__ = ("axis", "keepdim")

    def forward(self, x: np.ndarray, axis: tuple[int, ...], keepdim: bool) -> np.ndarray:
        self.axis, self.keepdim = axis, keepdim
        return np.max(x, axis=axis, keepdims=keepdim)

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any]:
        shape = kept_shape(x.shape, self.axis)
        if not self.keepdim:
            g, out = Reshape.call(g, shape=shape), Reshape.call(out, shape=shape)
        hit = Equal.call(x, out)
        count = Sum.call(Cast.call(hit, dtype=g.dtype), axis=self.axis, keepdim=True)
        return (Cast.call(hit, dtype=g.dtype) * (g / count),)

    def jvp(self, tangents: tuple[Any, ...], out: Any, x: Any) -> Any:
        (dx,) = tangents
        # The vjp's convention, so the two agree: tied maxima share the derivative equally.
        kept = out if self.keepdim else Reshape.call(out, shape=kept_shape(x.shape, self.axis))
        hit = Cast.call(Equal.call(x, kept), dtype=dx.dtype)
        count = Sum.call(hit, axis=self.axis, keepdim=self.keepdim)
        return Sum.call(hit * dx, axis=self.axis, keepdim=self.keepdim) / count

    def batch(self, batched: tuple[bool, ...], x: Any, **params: Any) -> Any:
        return Max.call(x, axis=shift(params["axis"]), keepdim=params["keepdim"])


@register
class Min(Max):
    """d min(x) = 1 at the minimum; ties share it equally (Max's rule, which finds the hits by x == out).
    Its own primitive: -max(-x) is wrong for unsigned integers (-x wraps) and for the most negative signed
    integer (-(-2³¹) is -2³¹)."""

    __slots__ = ()

    def forward(self, x: np.ndarray, axis: tuple[int, ...], keepdim: bool) -> np.ndarray:
        self.axis, self.keepdim = axis, keepdim
        return np.min(x, axis=axis, keepdims=keepdim)

    def batch(self, batched: tuple[bool, ...], x: Any, **params: Any) -> Any:
        return Min.call(x, axis=shift(params["axis"]), keepdim=params["keepdim"])  # not Max's: it would take maxima


@register
class Prod(Function):
    """d Πx / dx_i = Π_{j≠i} x_j, computed without dividing so zeros are exact"""

    __slots__ = ("axis", "keepdim")

    def forward(self, x: np.ndarray, axis: tuple[int, ...], keepdim: bool) -> np.ndarray:
        self.axis, self.keepdim = axis, keepdim
        if x.dtype == np.float16:  # multiplied in float32, rounded once: no float16 partial product under/overflows
            product = np.multiply.reduce(x, axis=axis, keepdims=keepdim, dtype=np.float32)  # type: ignore[call-overload]
            return product.astype(np.float16)
        return np.prod(x, axis=axis, keepdims=keepdim)

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any]:
        shape = kept_shape(x.shape, self.axis)
        if not self.keepdim:
            g = Reshape.call(g, shape=shape)
        if isinstance(x, TensorCore):
            # Written in differentiable terms only where no factor is zero.
            check(_no_zero_factor, x)  # and on every jit replay
            return (g * Reshape.call(out, shape=shape) / x,)
        return (g * _product_of_others(x, self.axis),)

    def jvp(self, tangents: tuple[Any, ...], out: Any, x: Any) -> Any:
        (dx,) = tangents
        shape = kept_shape(x.shape, self.axis)
        if isinstance(x, TensorCore):
            # As in vjp: the differentiable form divides, so it holds only where no factor is zero.
            check(_no_zero_factor_forward, x)  # and on every jit replay
            others = Reshape.call(out, shape=shape) / x
        else:
            others = _product_of_others(x, self.axis)
        return Sum.call(dx * others, axis=self.axis, keepdim=self.keepdim)

    def batch(self, batched: tuple[bool, ...], x: Any, **params: Any) -> Any:
        return Prod.call(x, axis=shift(params["axis"]), keepdim=params["keepdim"])


def _no_zero_factor_forward(x: np.ndarray) -> None:
    if (x == 0).any():
        raise NotImplementedError("prod: forward mode on tensors through a product with a zero factor is not "
                                  "supported")


def _no_zero_factor(x: np.ndarray) -> None:
    if (x == 0).any():
        raise NotImplementedError("prod: second derivatives through a product with a zero factor are not "
                                  "supported (create_graph=True); the first derivative is exact")


def _product_of_others(x: np.ndarray, axis: tuple[int, ...]) -> np.ndarray:
    """For each element, the product of the other elements in its reduction group (exclusive cumprods)."""
    if x.size == 0:  # no elements, no gradients (the cumprods below would pad empty groups to size 1)
        return np.zeros_like(x)
    rest = [i for i in range(x.ndim) if i not in axis]
    moved = np.transpose(x, rest + list(axis))
    flat = moved.reshape(moved.shape[: len(rest)] + (-1,))
    ones = np.ones(flat.shape[:-1] + (1,), dtype=x.dtype)
    left = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    right = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    others = (left * right).reshape(moved.shape)
    return np.transpose(others, np.argsort(rest + list(axis)))


@register
class Cumsum(Function):
    """d cumsum(x)_j / dx_i = 1 for j ≥ i: the VJP is a reversed cumulative sum of g"""

    __slots__ = ("axis",)

    def forward(self, x: np.ndarray, axis: int) -> np.ndarray:
        self.axis = axis
        if x.dtype == np.float16:  # accumulated in float32 (as PyTorch), each running total rounded once
            return np.add.accumulate(x, axis=axis, dtype=np.float32).astype(np.float16)
        return np.cumsum(x, axis=axis)

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any]:
        flipped = Flip.call(g, axis=(self.axis,))
        return (Flip.call(Cumsum.call(flipped, axis=self.axis), axis=(self.axis,)),)

    def jvp(self, tangents: tuple[Any, ...], out: Any, x: Any) -> Any:
        (dx,) = tangents
        return Cumsum.call(dx, axis=self.axis)

    def batch(self, batched: tuple[bool, ...], x: Any, **params: Any) -> Any:
        return Cumsum.call(x, axis=params["axis"] + 1)
