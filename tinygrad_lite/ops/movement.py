"""Movement primitives: they move, copy or select elements and never change values."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..function import Function, register

Index = Any  # a NumPy index: a tuple of ints, slices, None, Ellipsis and integer arrays


@register
class Reshape(Function):
    """d reshape(x) = reshape back"""

    __slots__ = ()

    def forward(self, x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        return x.reshape(shape)  # the method skips np.reshape's Python wrapper

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any]:
        return (Reshape.call(g, shape=x.shape),)


@register
class Permute(Function):
    """d permute(x, order) = permute back by the inverse order"""

    __slots__ = ("order",)

    def forward(self, x: np.ndarray, order: tuple[int, ...]) -> np.ndarray:
        self.order = order
        return x.transpose(order)

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any]:
        return (Permute.call(g, order=tuple(int(i) for i in np.argsort(self.order))),)


@register
class Expand(Function):
    """d expand(x) = sum over the expanded axes, which the engine's sum_to does for every op"""

    __slots__ = ()

    def forward(self, x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        # e.g. the gradient of a full sum: np.full is 4x faster than np.broadcast_to. The jit's traced arrays
        # take the view, since np.full's fill would hide where the value came from.
        if x.size == 1 and type(x) is np.ndarray:
            return np.full(shape, x.reshape(()), dtype=x.dtype)
        return np.broadcast_to(x, shape)

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any]:
        return (g,)


@register
class Flip(Function):
    """d flip(x) = flip(g) along the same axes"""

    __slots__ = ("axis",)

    def forward(self, x: np.ndarray, axis: tuple[int, ...]) -> np.ndarray:
        self.axis = axis
        return np.flip(x, axis=axis)

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any]:
        return (Flip.call(g, axis=self.axis),)


@register
class Pad(Function):
    """d pad(x) = the unpadded window of g"""

    __slots__ = ("window",)

    def forward(self, x: np.ndarray, padding: tuple[tuple[int, int], ...], value: float) -> np.ndarray:
        self.window = tuple(slice(lo, lo + n) for (lo, _), n in zip(padding, x.shape))
        return np.pad(x, padding, mode="constant", constant_values=value)

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any]:
        return (GetItem.call(g, index=self.window),)


@register
class GetItem(Function):
    """d x[index] = g scattered (summed where an index repeats) into zeros of x's shape"""

    __slots__ = ("index",)

    def forward(self, x: np.ndarray, index: Index) -> np.ndarray:
        self.index = index
        return x[index]

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any]:
        return (ScatterAdd.call(g, index=self.index, shape=x.shape),)


@register
class ScatterAdd(Function):
    """The adjoint of GetItem: zeros of `shape` with g added at `index`. d = g[index]"""

    __slots__ = ("index",)

    def forward(self, g: np.ndarray, index: Index, shape: tuple[int, ...]) -> np.ndarray:
        self.index = index
        out = np.zeros(shape, dtype=g.dtype)
        if _is_basic(index):
            out[index] = g  # basic indexing never repeats an element
        else:
            np.add.at(out, index, g)
        return out

    def vjp(self, g: Any, out: Any, src: Any) -> tuple[Any]:
        return (GetItem.call(g, index=self.index),)


def _is_basic(index: Index) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return all(p is None or p is Ellipsis or isinstance(p, (int, slice)) for p in parts)


@register
class Cat(Function):
    """d cat(xs, axis) = the slices of g that each input filled"""

    __slots__ = ("axis",)

    def forward(self, *xs: np.ndarray, axis: int) -> np.ndarray:
        self.axis = axis
        return np.concatenate(xs, axis=axis)

    def vjp(self, g: Any, out: Any, *xs: Any) -> tuple[Any, ...]:
        grads, start = [], 0
        lead = (slice(None),) * self.axis
        for x, need in zip(xs, self.needs_grad):
            stop = start + x.shape[self.axis]
            grads.append(GetItem.call(g, index=lead + (slice(start, stop),)) if need else None)
            start = stop
        return tuple(grads)
