"""Movement primitives: they move, copy or select elements and never change values."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..function import Function, register
from ._batch_util import batch_size, shift
from ._jvp_util import or_zeros

Index = Any  # a NumPy index: a tuple of ints, slices, None, Ellipsis and integer arrays


@register
class Reshape(Function):
    """d reshape(x) = reshape back"""

    __slots__ = ()

    def forward(self, x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        return x.reshape(shape)  # the method skips np.reshape's Python wrapper

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any]:
        return (Reshape.call(g, shape=x.shape),)

    def jvp(self, tangents: tuple[Any, ...], out: Any, x: Any) -> Any:
        (dx,) = tangents
        return Reshape.call(dx, shape=out.shape)

    def batch(self, batched: tuple[bool, ...], x: Any, **params: Any) -> Any:
        return Reshape.call(x, shape=(x.shape[0], *params["shape"]))


@register
class Permute(Function):
    """d permute(x, order) = permute back by the inverse order"""

    __slots__ = ("order",)

    def forward(self, x: np.ndarray, order: tuple[int, ...]) -> np.ndarray:
        self.order = order
        return x.transpose(order)

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any]:
        return (Permute.call(g, order=tuple(int(i) for i in np.argsort(self.order))),)

    def jvp(self, tangents: tuple[Any, ...], out: Any, x: Any) -> Any:
        (dx,) = tangents
        return Permute.call(dx, order=self.order)

    def batch(self, batched: tuple[bool, ...], x: Any, **params: Any) -> Any:
        return Permute.call(x, order=(0, *shift(params["order"])))


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

    def jvp(self, tangents: tuple[Any, ...], out: Any, x: Any) -> Any:
        (dx,) = tangents
        return Expand.call(dx, shape=out.shape)

    def batch(self, batched: tuple[bool, ...], x: Any, **params: Any) -> Any:
        shape = tuple(params["shape"])
        lifted = x.reshape((x.shape[0],) + (1,) * (len(shape) - x.ndim + 1) + tuple(x.shape[1:]))
        return Expand.call(lifted, shape=(x.shape[0], *shape))


@register
class Flip(Function):
    """d flip(x) = flip(g) along the same axes"""

    __slots__ = ("axis",)

    def forward(self, x: np.ndarray, axis: tuple[int, ...]) -> np.ndarray:
        self.axis = axis
        return np.flip(x, axis=axis)

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any]:
        return (Flip.call(g, axis=self.axis),)

    def jvp(self, tangents: tuple[Any, ...], out: Any, x: Any) -> Any:
        (dx,) = tangents
        return Flip.call(dx, axis=self.axis)

    def batch(self, batched: tuple[bool, ...], x: Any, **params: Any) -> Any:
        return Flip.call(x, axis=shift(params["axis"]))


@register
class Pad(Function):
    """d pad(x) = the unpadded window of g"""

    __slots__ = ("window",)

    def forward(self, x: np.ndarray, padding: tuple[tuple[int, int], ...], value: float) -> np.ndarray:
        self.window = tuple(slice(lo, lo + n) for (lo, _), n in zip(padding, x.shape))
        return np.pad(x, padding, mode="constant", constant_values=value)

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any]:
        return (GetItem.call(g, index=self.window),)

    def jvp(self, tangents: tuple[Any, ...], out: Any, x: Any) -> Any:
        (dx,) = tangents
        padding = tuple((w.start, n - w.stop) for w, n in zip(self.window, out.shape))
        return Pad.call(dx, padding=padding, value=0.0)

    def batch(self, batched: tuple[bool, ...], x: Any, **params: Any) -> Any:
        return Pad.call(x, padding=((0, 0), *params["padding"]), value=params["value"])


@register
class GetItem(Function):
    """d x[index] = g scattered (summed where an index repeats) into zeros of x's shape"""

    __slots__ = ("index",)

    def forward(self, x: np.ndarray, index: Index) -> np.ndarray:
        self.index = index
        return x[index]

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any]:
        return (ScatterAdd.call(g, index=self.index, shape=x.shape),)

    def jvp(self, tangents: tuple[Any, ...], out: Any, x: Any) -> Any:
        (dx,) = tangents
        return GetItem.call(dx, index=self.index)

    def batch(self, batched: tuple[bool, ...], x: Any, **params: Any) -> Any:
        index, at = batched_index(params["index"])
        out = GetItem.call(x, index=index)
        return out if at == 0 else Permute.call(out, order=(at, *(i for i in range(out.ndim) if i != at)))


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

    def jvp(self, tangents: tuple[Any, ...], out: Any, src: Any) -> Any:
        (dsrc,) = tangents
        return ScatterAdd.call(dsrc, index=self.index, shape=out.shape)

    def batch(self, batched: tuple[bool, ...], src: Any, **params: Any) -> Any:
        index, at = batched_index(params["index"])
        if at != 0:  # src is laid out as x[index] is: the batch axis goes where that puts it
            order = list(range(1, src.ndim))
            order.insert(at, 0)
            src = Permute.call(src, order=tuple(order))
        return ScatterAdd.call(src, index=index, shape=(src.shape[at], *params["shape"]))


def batched_index(index: Index) -> tuple[Index, int]:
    """One example's index as an index of the batch (the batch axis, 0, kept whole), and the axis the batch
    lands on in the result: 0, unless NumPy moves the advanced indices' axes to the front, which it does
    when they are not side by side (the batch's slice ends up between them and the rest)."""
    parts: list[Any] = []
    for p in index if isinstance(index, tuple) else (index,):
        if isinstance(p, np.ndarray) and p.dtype == np.bool_:
            parts.extend(np.nonzero(p))  # a mask is its nonzero positions, one array per masked axis
        else:
            parts.append(p)
    arrays = [p for p in parts if isinstance(p, np.ndarray)]
    advanced = [i for i, p in enumerate(parts)
                if isinstance(p, np.ndarray) or (arrays and isinstance(p, (int, np.integer)))]
    at = 0
    if arrays and advanced[-1] - advanced[0] + 1 != len(advanced):
        at = len(np.broadcast_shapes(*[np.shape(parts[i]) for i in advanced]))
    return (slice(None), *parts), at


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

    def jvp(self, tangents: tuple[Any, ...], out: Any, *xs: Any) -> Any:
        return Cat.call(*[or_zeros(t, x) for t, x in zip(tangents, xs)], axis=self.axis)

    def batch(self, batched: tuple[bool, ...], *xs: Any, **params: Any) -> Any:
        n = batch_size(batched, xs)
        full = [x if b else Expand.call(x.reshape((1, *x.shape)), shape=(n, *x.shape)) for x, b in zip(xs, batched)]
        return Cat.call(*full, axis=params["axis"] + 1)
