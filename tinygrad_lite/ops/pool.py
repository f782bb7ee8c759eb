"""Pooling primitives over the last len(kernel) axes of any tensor (the Tensor methods pad first).

- `MaxPool(x)`: the largest element of each window. Its gradient goes to the *first* largest element in
  the window (row-major order), as PyTorch's CPU kernel sends it: with ties, one element gets all of it.
  A NaN counts as the largest (NumPy's argmax and PyTorch agree), so it propagates.
- `MaxPoolScatter(g, index)` puts each window's gradient on its chosen element (summing where windows
  overlap); `MaxPoolGather(y, index)` reads those elements back. Each is the other's adjoint, and the
  first is MaxPool's VJP: second-order gradients stay in the family.
- When the windows tile the input (stride == kernel, dilation 1: the usual 2x2 pool with stride 2; a trailing
  remainder no window covers gets no gradient) the three take the fast path of `_tiles.py` (separable pairwise
  maxima, the scatter as integer shifts of packed words), bit for bit the general path's results; with a NaN
  in x the forward takes the general path, which knows PyTorch's every-NaN-wins rule.
- `WindowSum(x)` sums each window (avg pooling divides it afterwards) and `WindowSpread(g)`, its adjoint,
  spreads each window's gradient over its elements.

>>> import numpy as np
>>> x = np.array([[1.0, 3.0, 3.0, 0.0]])
>>> MaxPool.call(x, kernel=(2,), stride=(2,), dilation=(1,)).tolist()
[[3.0, 3.0]]
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..function import Function, NumpyFn, register
from ..node import TensorCore, apply
from ._batch_util import batch_size
from ._tiles import tile_gather, tile_max, tile_scatter, tiles
from .conv import Ints, add_taps, col2im, windows
from .movement import Expand, Reshape


def _taps(x: Any, kernel: Ints, stride: Ints, dilation: Ints) -> list[Any]:
    """One (*lead, *O) strided view per kernel tap, in row-major tap order (no copies)."""
    win = windows(x, kernel, stride, dilation)
    return [win[(Ellipsis, *k)] for k in np.ndindex(*kernel)]


def _scatter(part: Callable[[int], Any], size: Ints, kernel: Ints, stride: Ints, dilation: Ints, like: Any) -> Any:
    """Add each tap's (*lead, *O) part (`part(t)`, made when it is added) onto a zero image (*lead, *size) at
    that tap's positions."""
    nd = len(size)
    return add_taps(part, like.shape[:like.ndim - nd], like.shape[like.ndim - nd:], size, kernel, stride, dilation,
                    like.dtype)


@register
class MaxPool(Function):
    """d max over each window = g at the window's first maximum (PyTorch's choice)"""

    __slots__ = ("kernel", "stride", "dilation", "index")

    def forward(self, x: np.ndarray, kernel: Ints, stride: Ints, dilation: Ints) -> np.ndarray:
        self.kernel, self.stride, self.dilation = kernel, stride, dilation
        fast = tile_max(x, kernel) if tiles(kernel, stride, dilation) else None
        if fast is not None:
            best, self.index = fast
            return best  # type: ignore[no-any-return]
        taps = _taps(x, kernel, stride, dilation)
        small = np.int8 if len(taps) <= 127 else np.int32  # NumPy's where is fast only without type promotion
        best, index = taps[0], np.zeros(taps[0].shape, small)
        for i, tap in enumerate(taps[1:], 1):
            # PyTorch's rule: a strictly larger value wins, so the first of equal maxima keeps the gradient.
            index = np.where(tap > best, small(i), index)
            best = np.maximum(best, tap)  # NaN propagates
        if np.isnan(best).any():  # PyTorch also lets every NaN win: the gradient goes to a window's last NaN
            for i, tap in enumerate(taps):
                index = np.where(np.isnan(tap), small(i), index)
        self.index = index
        return np.array(best) if len(taps) == 1 else best  # type: ignore[no-any-return]

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any]:
        return (MaxPoolScatter.call(g, self._index(x), size=x.shape[x.ndim - len(self.kernel):], kernel=self.kernel,
                                    stride=self.stride, dilation=self.dilation),)

    def _index(self, x: Any) -> Any:
        """The chosen taps: on Tensors (create_graph, forward mode) made by a recorded op on x, so vmap and the
        jit follow each input's own maxima; a constant there would carry the recorded example's to the batch."""
        if isinstance(x, TensorCore):
            return apply(NumpyFn, x, func=_argmax_index, kernel=self.kernel, stride=self.stride, dilation=self.dilation)
        return self.index

    def jvp(self, tangents: tuple[Any, ...], out: Any, x: Any) -> Any:
        (dx,) = tangents
        return MaxPoolGather.call(dx, self._index(x), kernel=self.kernel, stride=self.stride, dilation=self.dilation)

    def batch(self, batched: tuple[bool, ...], x: Any, **params: Any) -> Any:
        return MaxPool.call(x, **params)  # pools the last len(kernel) axes: the batch is one more leading axis


@register
class MaxPoolScatter(Function):
    """linear in g: d = MaxPoolGather(gx, index); the index carries no gradient"""

    __slots__ = ("kernel", "stride", "dilation", "size")

    def forward(self, g: np.ndarray, index: np.ndarray, size: Ints, kernel: Ints, stride: Ints,
                dilation: Ints) -> np.ndarray:
        self.kernel, self.stride, self.dilation, self.size = kernel, stride, dilation, size
        fast = tile_scatter(g, index, size, kernel) if _fast(index, kernel, stride, dilation) else None
        if fast is not None:
            return fast  # type: ignore[no-any-return]
        zero = np.zeros((), g.dtype)
        out = _scatter(lambda t: np.where(index == index.dtype.type(t), g, zero), size, kernel, stride, dilation, g)
        return out  # type: ignore[no-any-return]

    def vjp(self, g: Any, out: Any, dy: Any, index: Any) -> tuple[Any, None]:
        return MaxPoolGather.call(g, index, kernel=self.kernel, stride=self.stride, dilation=self.dilation), None

    def jvp(self, tangents: tuple[Any, ...], out: Any, dy: Any, index: Any) -> Any:
        ddy = tangents[0]  # linear in dy; the index is data
        if ddy is None:
            return None
        return MaxPoolScatter.call(ddy, index, size=self.size, kernel=self.kernel, stride=self.stride,
                                   dilation=self.dilation)

    def batch(self, batched: tuple[bool, ...], g: Any, index: Any, **params: Any) -> Any:
        return MaxPoolScatter.call(*_both_batched(batched, (g, index)), **params)


@register
class MaxPoolGather(Function):
    """linear in y: d = MaxPoolScatter(g, index); the index carries no gradient"""

    __slots__ = ("kernel", "stride", "dilation")

    def forward(self, y: np.ndarray, index: np.ndarray, kernel: Ints, stride: Ints, dilation: Ints) -> np.ndarray:
        self.kernel, self.stride, self.dilation = kernel, stride, dilation
        if _fast(index, kernel, stride, dilation):
            return tile_gather(y, index, kernel)  # type: ignore[no-any-return]
        taps = _taps(y, kernel, stride, dilation)
        out = np.zeros(index.shape, y.dtype)
        for i, tap in enumerate(taps):
            out = np.where(index == index.dtype.type(i), tap, out)
        return out

    def vjp(self, g: Any, out: Any, y: Any, index: Any) -> tuple[Any, None]:
        size = y.shape[y.ndim - len(self.kernel):]
        return MaxPoolScatter.call(g, index, size=size, kernel=self.kernel, stride=self.stride,
                                   dilation=self.dilation), None

    def jvp(self, tangents: tuple[Any, ...], out: Any, y: Any, index: Any) -> Any:
        dy = tangents[0]  # linear in y; the index is data
        if dy is None:
            return None
        return MaxPoolGather.call(dy, index, kernel=self.kernel, stride=self.stride, dilation=self.dilation)

    def batch(self, batched: tuple[bool, ...], y: Any, index: Any, **params: Any) -> Any:
        return MaxPoolGather.call(*_both_batched(batched, (y, index)), **params)


@register
class WindowSum(Function):
    """d Σ over each window = WindowSpread(g): every element gets the gradient of each window it is in"""

    __slots__ = ("kernel", "stride", "dilation")

    def forward(self, x: np.ndarray, kernel: Ints, stride: Ints, dilation: Ints) -> np.ndarray:
        self.kernel, self.stride, self.dilation = kernel, stride, dilation
        nd = len(kernel)
        return windows(x, kernel, stride, dilation).sum(axis=tuple(range(x.ndim, x.ndim + nd)))  # type: ignore

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any]:
        return (WindowSpread.call(g, size=x.shape[x.ndim - len(self.kernel):], kernel=self.kernel,
                                  stride=self.stride, dilation=self.dilation),)

    def jvp(self, tangents: tuple[Any, ...], out: Any, x: Any) -> Any:
        (dx,) = tangents
        return WindowSum.call(dx, kernel=self.kernel, stride=self.stride, dilation=self.dilation)

    def batch(self, batched: tuple[bool, ...], x: Any, **params: Any) -> Any:
        return WindowSum.call(x, **params)  # the batch is one more leading axis


@register
class WindowSpread(Function):
    """The adjoint of WindowSum: d = WindowSum(gx)"""

    __slots__ = ("kernel", "stride", "dilation")

    def forward(self, g: np.ndarray, size: Ints, kernel: Ints, stride: Ints, dilation: Ints) -> np.ndarray:
        self.kernel, self.stride, self.dilation = kernel, stride, dilation
        cols = np.broadcast_to(g.reshape(g.shape + (1,) * len(kernel)), g.shape + tuple(kernel))
        return col2im(cols, size, stride, dilation)  # type: ignore[no-any-return]

    def vjp(self, g: Any, out: Any, dy: Any) -> tuple[Any]:
        return (WindowSum.call(g, kernel=self.kernel, stride=self.stride, dilation=self.dilation),)

    def jvp(self, tangents: tuple[Any, ...], out: Any, dy: Any) -> Any:
        (ddy,) = tangents
        size = tuple(out.shape[out.ndim - len(self.kernel):])
        return WindowSpread.call(ddy, size=size, kernel=self.kernel, stride=self.stride, dilation=self.dilation)

    def batch(self, batched: tuple[bool, ...], g: Any, **params: Any) -> Any:
        return WindowSpread.call(g, **params)  # the batch is one more leading axis


def _argmax_index(x: np.ndarray, kernel: Ints, stride: Ints, dilation: Ints) -> np.ndarray:
    """Which tap of each window MaxPool sends the gradient to (its forward's choice)."""
    op = MaxPool()
    op.forward(x, kernel=kernel, stride=stride, dilation=dilation)
    return op.index  # type: ignore[no-any-return]


def _fast(index: Any, kernel: Ints, stride: Ints, dilation: Ints) -> bool:
    """Whether the scatter and gather take the tiling fast path: tiling windows and MaxPool's int8 taps."""
    return tiles(kernel, stride, dilation) and index.dtype == np.int8


def _both_batched(batched: tuple[bool, ...], xs: tuple[Any, ...]) -> list[Any]:
    """The operands with the batch on each: an unbatched one repeated along a new leading axis."""
    n = batch_size(batched, xs)
    return [x if b else Expand.call(Reshape.call(x, shape=(1, *x.shape)), shape=(n, *x.shape))
            for x, b in zip(xs, batched)]
