"""Convolution as three primitives, each the adjoint of the others, so every VJP is one of them.

With x (N, C, *S), w (Co, C/G, *K) and the output g (N, Co, *O) (no padding here: the Tensor method pads
or crops first):

- `Conv(x, w)`: the cross-correlation PyTorch and tinygrad call convolution;
- `ConvTranspose(g, w)`: its adjoint in x (the gradient of the input; also the transposed convolution);
- `ConvWeight(x, g)`: its adjoint in w (the gradient of the weight).

Conv is bilinear, so d Conv = (ConvTranspose(g, w), ConvWeight(x, g)), and the VJPs of the other two are
again these three: gradients of any order stay inside the family.

Conv and ConvWeight take a strided view of the windows (`sliding_window_view`, no copy), copy it once
into columns and make BLAS matmuls with them (`_im2col`: 2-D and up, with stride 1 along the first axis,
the columns hold the trailing axes' taps only and each kernel row is a matmul on a slice of them, K0
times less to copy and keep). ConvTranspose makes no columns: per kernel tap, one small matmul gives
that tap's part of the image, added at once with one strided add (col2im tap by tap), never a Python
loop over pixels. The adds write into a fresh array, which the jit's kernel-by-kernel trace cannot
follow, so the whole of it is one kernel there (`single_kernel`): Conv's VJP is still traced, reusing
the columns its traced forward made, and the replay runs the forward once.

>>> import numpy as np
>>> x, w = np.arange(16.0).reshape(1, 1, 4, 4), np.ones((1, 1, 2, 2))
>>> Conv.call(x, w, stride=(2, 2), dilation=(1, 1), groups=1)[0, 0].tolist()
[[10.0, 18.0], [42.0, 50.0]]
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..function import Function, register, single_kernel
from ..node import TensorCore
from ._im2col import Ints, columns, conv, laid_out, out_size, output_order, weight_grad, windows
from ._jvp_util import plus
from .movement import Expand, Permute, Reshape
from .reduce import Sum

__all__ = ["Conv", "ConvTranspose", "ConvWeight", "Ints", "add_taps", "col2im", "out_size", "windows"]


def add_taps(part: Callable[[int], Any], lead: Ints, outs: Ints, size: Ints, kernel: Ints, stride: Ints,
             dilation: Ints, dtype: Any) -> Any:
    """A zero image (*lead, *size) with each kernel tap's (*lead, *O) part (`part(t)` for the t-th tap in
    row-major order, made only when it is added, so one part is alive at a time) added at that tap's
    positions: one strided add per tap. The adds write into a fresh array, which the jit does not trace."""
    tiles = all(s == k and d == 1 for s, k, d in zip(stride, kernel, dilation))  # each element in one window
    if tiles and all(o * k == n for o, k, n in zip(outs, kernel, size)):
        return _tiled(part, len(lead), outs, kernel, 0, 0)
    image: Any = np.zeros(lead + tuple(size), dtype=dtype)
    for t, k in enumerate(np.ndindex(*kernel)):
        target = (Ellipsis, *(slice(i * d, i * d + s * (o - 1) + 1, s)
                              for i, d, s, o in zip(k, dilation, stride, outs)))
        if tiles:
            image[target] = part(t)
        else:
            image[target] += part(t)
    return image


def _tiled(part: Callable[[int], Any], n: int, outs: Ints, kernel: Ints, axis: int, first: int) -> Any:
    """The image the windows tile exactly (a 2x2 pool with stride 2) over kernel axes `axis` on, for the taps
    numbered from `first`: the images of each tap along `axis` (recursively) stacked next to its outputs,
    which interleaves them. Copies only, so the jit traces it (the strided writes of `add_taps` it cannot);
    each stack holds only its own axis's parts, so the parts are made and let go of a few at a time."""
    if axis == len(kernel):
        return part(first)
    inner = math.prod(kernel[axis + 1:])
    stacked = np.stack([_tiled(part, n, outs, kernel, axis + 1, first + i * inner) for i in range(kernel[axis])],
                       axis=n + axis + 1)
    shape = stacked.shape
    return stacked.reshape(shape[:n + axis] + (outs[axis] * kernel[axis],) + shape[n + axis + 2:])


def col2im(cols: Any, size: Ints, stride: Ints, dilation: Ints) -> Any:
    """The adjoint of `windows`: cols (*lead, *O, *K) summed back onto an image (*lead, *size)."""
    nd = len(size)
    kernel, outs = cols.shape[cols.ndim - nd:], cols.shape[cols.ndim - 2 * nd:cols.ndim - nd]
    taps = list(np.ndindex(*kernel))
    return add_taps(lambda t: cols[(Ellipsis, *taps[t])], cols.shape[:cols.ndim - 2 * nd], outs, size, kernel,
                    stride, dilation, cols.dtype)


@single_kernel  # its strided adds write into the image it made: one kernel under the jit
def _transpose_taps(g: Any, w: Any, size: Ints, stride: Ints, dilation: Ints, groups: int) -> Any:
    """ConvTranspose: g (N, Co, *O) and w (Co, C/G, *K) -> (N, C, *size), one kernel tap at a time.

    Each tap's part of the image is one small matmul, (G, C/G, Co/G) @ (G, Co/G, P·N), added at once at that
    tap's positions: never the (C·K, N·P) columns of all taps together (the largest temporary of a CNN's
    backward, alive next to the forward's activations), and each part is added while it is still in cache.

    The image is built with the batch innermost, (C, *size, N): a tap's strided add then runs over O_last·N
    contiguous elements at a time instead of O_last (3x faster on LeNet's second layer, whose rows are 8
    wide). It is handed back in the layout Conv gives its own outputs (`output_order`: (C, S0, N, S1, ...) in
    2-D and up, (C, N, S) in 1-D), so that what meets it in the backward (a pool's gradient, an activation's mask, the
    layer below's weight gradient) is laid out like the forward's arrays and needs no transposing copy."""
    n, co, cg = g.shape[0], w.shape[0], w.shape[1]
    kernel, outs = w.shape[2:], g.shape[2:]
    gm = g.transpose((1, *range(2, g.ndim), 0)).reshape(groups, co // groups, math.prod(outs) * n)  # (G, Co/G, P·N)
    wt = w.reshape(groups, co // groups, cg, math.prod(kernel)).transpose(3, 0, 2, 1)  # (K, G, C/G, Co/G)
    image = np.zeros((groups * cg, *size, n), dtype=np.result_type(g.dtype, w.dtype))
    for t, k in enumerate(np.ndindex(*kernel)):
        part = np.matmul(wt[t], gm).reshape(groups * cg, *outs, n)
        target = (slice(None), *(slice(i * d, i * d + s * (o - 1) + 1, s)
                                 for i, d, s, o in zip(k, dilation, stride, outs)))
        image[target] += part
    order, shape = output_order(len(outs)), (n, groups * cg, *size)
    laid = laid_out(np.empty(tuple(shape[axis] for axis in order), image.dtype), order)
    np.copyto(laid, np.moveaxis(image, -1, 0))
    return laid


@register
class Conv(Function):
    """d conv(x, w) + b = ConvTranspose(g, w) for x, ConvWeight(x, g) for w, g summed over N and *O for b

    The bias is optional (`Conv(x, w)` or `Conv(x, w, b)`): added in place to the matmul's result, it costs no
    second output-sized array, where a separate addition would keep both alive for the backward."""

    __slots__ = ("stride", "dilation", "groups", "cols")

    def forward(self, x: np.ndarray, w: np.ndarray, *bias: np.ndarray, stride: Ints, dilation: Ints,
                groups: int) -> np.ndarray:
        self.stride, self.dilation, self.groups = stride, dilation, groups
        kernel = w.shape[2:]
        cols = columns(x, kernel, stride, dilation, groups)
        self.cols = cols  # kept for the weight's gradient (a plain backward): the same copy is not made twice
        outs = tuple(out_size(s, k, st, d) for s, k, st, d in zip(x.shape[2:], kernel, stride, dilation))
        return conv(cols, w, x.shape[0], outs, stride, dilation, groups, *bias)  # type: ignore[no-any-return]

    def vjp(self, g: Any, out: Any, x: Any, w: Any, *bias: Any) -> tuple[Any, ...]:
        nx, nw = self.needs_grad[:2]
        kw = {"stride": self.stride, "dilation": self.dilation, "groups": self.groups}
        gb = (Sum.call(g, axis=(0, *range(2, g.ndim)), keepdim=False) if self.needs_grad[2] else None,) if bias else ()
        if not nw:
            gw = None
        elif self.cols is not None and not isinstance(x, TensorCore) and not isinstance(g, TensorCore):
            # ConvWeight.forward on the columns the forward made (then let go of: a second backward makes them anew)
            gw = weight_grad(self.cols, g, w.shape[2:], self.stride, self.dilation, self.groups)
        else:
            gw = ConvWeight.call(x, g, kernel=w.shape[2:], **kw)
        self.cols = None  # before the input's gradient: the two large temporaries are never alive together
        gx = ConvTranspose.call(g, w, size=x.shape[2:], **kw) if nx else None
        return (gx, gw, *gb)

    def jvp(self, tangents: tuple[Any, ...], out: Any, x: Any, w: Any, *bias: Any) -> Any:
        dx, dw = tangents[:2]  # bilinear in (x, w): the product rule; the bias adds its own tangent
        kw = {"stride": self.stride, "dilation": self.dilation, "groups": self.groups}
        d = plus(None if dx is None else Conv.call(dx, w, **kw), None if dw is None else Conv.call(x, dw, **kw))
        db = tangents[2] if bias else None
        if db is None:
            return d
        db = Expand.call(Reshape.call(db, shape=(1, db.shape[0], *(1,) * (out.ndim - 2))), shape=out.shape)
        return plus(d, db)

    def batch(self, batched: tuple[bool, ...], x: Any, w: Any, *bias: Any, **params: Any) -> Any:
        if not batched[0] and not batched[1]:  # only the bias is batched: one output, each example's bias added
            out = Conv.call(x, w, **params)
            out = Reshape.call(out, shape=(1, *out.shape))
        elif not batched[1]:  # one weight: the batch folded into N
            out = _fold_into_n(Conv, x, w, params)
        else:
            n = w.shape[0]  # a weight per example: the examples as groups side by side in the channels
            out = Conv.call(_channels(x, batched[0], n), _stack_out_channels(w), stride=params["stride"],
                            dilation=params["dilation"], groups=params["groups"] * n)
            out = _unstack_channels(out, n)
        if not bias:
            return out
        b = bias[0]  # (Co,) or one per example (B, Co): laid along the output's channel axis, then added
        lead = (b.shape[0], 1) if batched[2] else (1, 1)
        return out + Reshape.call(b, shape=(*lead, b.shape[-1], *(1,) * (out.ndim - 3)))


@register
class ConvTranspose(Function):
    """The adjoint of Conv in x: d = Conv(gx, w) for g, ConvWeight(gx, g) for w"""

    __slots__ = ("stride", "dilation", "groups")

    def forward(self, g: np.ndarray, w: np.ndarray, size: Ints, stride: Ints, dilation: Ints,
                groups: int) -> np.ndarray:
        self.stride, self.dilation, self.groups = stride, dilation, groups
        return _transpose_taps(g, w, size, stride, dilation, groups)  # type: ignore[no-any-return]

    def vjp(self, g: Any, out: Any, x: Any, w: Any) -> tuple[Any, Any]:
        nx, nw = self.needs_grad
        kw = {"stride": self.stride, "dilation": self.dilation, "groups": self.groups}
        if nx or nw:
            # Conv on g would give more windows than x has outputs when the size left room past the last one.
            needed = tuple(st * (o - 1) + d * (k - 1) + 1
                           for o, k, st, d in zip(x.shape[2:], w.shape[2:], self.stride, self.dilation))
            if needed != tuple(g.shape[2:]):
                g = g[(slice(None), slice(None), *(slice(0, n) for n in needed))]
        gx = Conv.call(g, w, **kw) if nx else None
        gw = ConvWeight.call(g, x, kernel=w.shape[2:], **kw) if nw else None
        return gx, gw

    def jvp(self, tangents: tuple[Any, ...], out: Any, g: Any, w: Any) -> Any:
        dg, dw = tangents  # bilinear: the product rule
        kw = {"size": tuple(out.shape[2:]), "stride": self.stride, "dilation": self.dilation, "groups": self.groups}
        return plus(None if dg is None else ConvTranspose.call(dg, w, **kw),
                    None if dw is None else ConvTranspose.call(g, dw, **kw))

    def batch(self, batched: tuple[bool, ...], g: Any, w: Any, **params: Any) -> Any:
        if not batched[1]:  # one weight: the batch folded into N
            return _fold_into_n(ConvTranspose, g, w, params)
        n = w.shape[0]  # a weight per example: the examples as groups side by side in the channels
        out = ConvTranspose.call(_channels(g, batched[0], n), _stack_out_channels(w), size=params["size"],
                                 stride=params["stride"], dilation=params["dilation"], groups=params["groups"] * n)
        return _unstack_channels(out, n)


@register
class ConvWeight(Function):
    """The adjoint of Conv in w, ConvWeight(x, dy): d = ConvTranspose(dy, g) for x, Conv(x, g) for dy"""

    __slots__ = ("stride", "dilation", "groups")

    def forward(self, x: np.ndarray, g: np.ndarray, kernel: Ints, stride: Ints, dilation: Ints,
                groups: int) -> np.ndarray:
        self.stride, self.dilation, self.groups = stride, dilation, groups
        cols = columns(x, kernel, stride, dilation, groups, outs=g.shape[2:])
        return weight_grad(cols, g, kernel, stride, dilation, groups)  # type: ignore[no-any-return]

    def vjp(self, g: Any, out: Any, x: Any, dy: Any) -> tuple[Any, Any]:
        nx, ng = self.needs_grad
        kw = {"stride": self.stride, "dilation": self.dilation, "groups": self.groups}
        gx = ConvTranspose.call(dy, g, size=x.shape[2:], **kw) if nx else None
        gdy = None
        if ng:
            gdy = Conv.call(x, g, **kw)
            if tuple(gdy.shape[2:]) != tuple(dy.shape[2:]):  # x had room for more windows than dy covers
                gdy = gdy[(slice(None), slice(None), *(slice(0, n) for n in dy.shape[2:]))]
        return gx, gdy

    def jvp(self, tangents: tuple[Any, ...], out: Any, x: Any, dy: Any) -> Any:
        dx, ddy = tangents  # bilinear: the product rule
        kw = {"kernel": tuple(out.shape[2:]), "stride": self.stride, "dilation": self.dilation, "groups": self.groups}
        return plus(None if dx is None else ConvWeight.call(dx, dy, **kw),
                    None if ddy is None else ConvWeight.call(x, ddy, **kw))

    def batch(self, batched: tuple[bool, ...], x: Any, dy: Any, **params: Any) -> Any:
        # The weight's gradient sums over N, so the batch cannot fold into it: the examples go side by side in
        # the channels as groups, each example's weight gradient one block of output channels.
        n = x.shape[0] if batched[0] else dy.shape[0]
        out = ConvWeight.call(_channels(x, batched[0], n), _channels(dy, batched[1], n), kernel=params["kernel"],
                              stride=params["stride"], dilation=params["dilation"], groups=params["groups"] * n)
        return Reshape.call(out, shape=(n, out.shape[0] // n, *out.shape[1:]))


# --- batching: vmap's batch either folded into N or laid side by side in the channels as groups ------------------
def _fold_into_n(op: Any, x: Any, w: Any, params: dict[str, Any]) -> Any:
    """op(x, w) for a batch of x (B, N, C, *S) and one w: one call on (B·N, C, *S), split back."""
    b, n = x.shape[:2]
    out = op.call(Reshape.call(x, shape=(b * n, *x.shape[2:])), w, **params)
    return Reshape.call(out, shape=(b, n, *out.shape[1:]))


def _channels(x: Any, batched: bool, b: int) -> Any:
    """(B, N, C, *S) (or one (N, C, *S), repeated) as (N, B·C, *S): example k's channels are block k."""
    if batched:
        x = Permute.call(x, order=(1, 0, *range(2, x.ndim)))
    else:
        x = Expand.call(Reshape.call(x, shape=(x.shape[0], 1, *x.shape[1:])), shape=(x.shape[0], b, *x.shape[1:]))
    return Reshape.call(x, shape=(x.shape[0], b * x.shape[2], *x.shape[3:]))


def _stack_out_channels(w: Any) -> Any:
    """A batch of weights (B, Co, C/G, *K) as one (B·Co, C/G, *K): with B·G groups, example k's are block k."""
    return Reshape.call(w, shape=(w.shape[0] * w.shape[1], *w.shape[2:]))


def _unstack_channels(out: Any, b: int) -> Any:
    """(N, B·C, *S) -> (B, N, C, *S): the inverse of `_channels`."""
    split = Reshape.call(out, shape=(out.shape[0], b, out.shape[1] // b, *out.shape[2:]))
    return Permute.call(split, order=(1, 0, *range(2, split.ndim)))
