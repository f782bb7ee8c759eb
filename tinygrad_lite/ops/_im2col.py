"""im2col for the convolution primitives: the windows of x copied once into columns, then BLAS matmuls.

Two layouts of the columns, the same numbers:

- all taps, (G, C/G·K, N·P): one row per (channel, kernel tap), so Conv is one matmul with them;
- by kernel row, (G, C/G·K', S0·N·P'), for 2-D and up with stride 1 along the first spatial axis: the
  windows of the trailing axes only (K' = K1·K2···, P' = O1·O2···), every row of the first axis kept. The
  columns of kernel row i are then one contiguous slice (rows i·d0 to i·d0 + O0 - 1), so Conv is K0
  matmuls on views, summed, and the weight's gradient K0 matmuls. The copy is K0 times smaller: LeNet's
  first layer's is 0.9 MB instead of 3.7 MB. It is made fresh every step and kept for the weight's
  gradient, so every one of its pages is a page fault whenever the allocator has given the memory back.

Conv's output is an (N, Co, *O) view of a (Co, N, *O) array (all taps) or a (Co, O0, N, *O') array (by rows).

Every product is cut along its long axis (the positions) into pieces OpenBLAS multiplies without packing its
operands (`piece`), and `conv` and `weight_grad` write the pieces into arrays they made: each is one kernel
under the jit (`single_kernel`).

>>> import numpy as np
>>> x, w = np.arange(16.0).reshape(1, 1, 4, 4), np.ones((1, 1, 2, 2))
>>> one = (1, 1)
>>> conv(columns(x, (2, 2), one, one, 1), w, 1, (3, 3), one, one, 1)[0, 0, 0].tolist()
[10.0, 14.0, 18.0]
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..function import single_kernel

Ints = tuple[int, ...]


def out_size(size: int, kernel: int, stride: int, dilation: int) -> int:
    """How many windows of `kernel` taps, `dilation` apart, fit in `size` at a step of `stride`."""
    return (size - dilation * (kernel - 1) - 1) // stride + 1


def windows(x: Any, kernel: Ints, stride: Ints, dilation: Ints) -> Any:
    """The (*lead, *O, *K) view of the windows of x (*lead, *S) over its last len(kernel) axes (no copy)."""
    nd = len(kernel)
    span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    view: Any = sliding_window_view(x, span, axis=tuple(range(x.ndim - nd, x.ndim)))
    return view[(Ellipsis, *(slice(None, None, s) for s in stride), *(slice(None, None, d) for d in dilation))]


def by_rows(kernel: Ints, stride: Ints) -> bool:
    """Whether the columns are made per kernel row: 2-D and up, stride 1 along the first spatial axis (the rows
    of the other kernel rows are then the same columns shifted by whole rows)."""
    return len(kernel) >= 2 and stride[0] == 1


def output_order(nd: int, rows: bool = True) -> tuple[int, ...]:
    """The memory order, outermost axis first, in which Conv lays out its (N, C, *O) output: (C, O0, N, *O') when
    its columns are by kernel rows (2-D and up), else (C, N, *O). ConvTranspose hands its image back in it too."""
    return (1, 2, 0, *range(3, nd + 2)) if rows and nd >= 2 else (1, 0, *range(2, nd + 2))


def laid_out(memory: Any, order: tuple[int, ...]) -> Any:
    """The logical view of an array whose axes are in memory in `order` (`memory` has them in that order)."""
    return memory.transpose(tuple(order.index(axis) for axis in range(len(order))))


def columns(x: Any, kernel: Ints, stride: Ints, dilation: Ints, groups: int, outs: Ints | None = None) -> Any:
    """x (N, C, *S) -> the columns, one copy of a strided window view; `outs` (ConvWeight) keeps only the
    windows its g covers."""
    nd = len(kernel)
    n, c = x.shape[:2]
    if by_rows(kernel, stride):  # (G, C/G·K', S0·N·P')
        win = windows(x, kernel[1:], stride[1:], dilation[1:])  # (N, C, S0, *O', *K')
        if outs is not None and win.shape[3:2 + nd] != outs[1:]:
            win = win[(slice(None), slice(None), slice(None), *(slice(0, o) for o in outs[1:]))]
        order = (1, *range(2 + nd, 1 + 2 * nd), 2, 0, *range(3, 2 + nd))  # (C, *K', S0, N, *O')
        rows = (c // groups) * math.prod(kernel[1:])
        return win.transpose(order).reshape(groups, rows, x.shape[2] * n * math.prod(win.shape[3:2 + nd]))
    win = windows(x, kernel, stride, dilation)  # (N, C, *O, *K)
    if outs is not None and win.shape[2:2 + nd] != outs:
        win = win[(slice(None), slice(None), *(slice(0, o) for o in outs))]
    order = (1, *range(2 + nd, 2 + 2 * nd), 0, *range(2, 2 + nd))  # (C, *K, N, *O)
    rows = (c // groups) * math.prod(kernel)
    return win.transpose(order).reshape(groups, rows, n * math.prod(win.shape[2:2 + nd]))


def _row(cols: Any, i: int, dilation: int, outs: Ints, n: int) -> Any:
    """Kernel row i's columns (G, C/G·K', O0·N·P'): a contiguous slice of the by-row columns (a view)."""
    step = n * math.prod(outs[1:])
    return cols[:, :, i * dilation * step:(i * dilation + outs[0]) * step]


# OpenBLAS multiplies small matrices (up to about a million multiply-adds on machines with AVX-512, such as
# this project's) with kernels that do not pack their operands first. A convolution's products are skinny (a
# few channels by a few taps by tens of thousands of positions), and cut along their long axis into pieces of
# that size they run 1.5-4x faster: LeNet's first layer's weight gradient 1.26 ms -> 0.31 ms, its second's
# 0.49 -> 0.26, the two forwards 0.63 -> 0.46 and 0.54 -> 0.36 (docs/benchmarks.md, "Convolution products in
# pieces").
# Below MIN_PIECE positions a piece would cost more in calls than it saves; wide products stay whole.
SMALL_PRODUCT = 1 << 20
MIN_PIECE = 2048


def piece(m: int, k: int, length: int) -> int:
    """Positions per product of an (m, k) matrix with a (k, length) one: a power of two keeping m·k·piece within
    SMALL_PRODUCT, or the whole length when that is no longer, or when the pieces would be under MIN_PIECE."""
    size = 1 << max(0, (SMALL_PRODUCT // max(1, m * k)).bit_length() - 1)
    return max(1, length) if size >= length or size < MIN_PIECE else size


@single_kernel  # writes the products into slices of the output it made: one kernel under the jit
def conv(cols: Any, w: Any, n: int, outs: Ints, stride: Ints, dilation: Ints, groups: int, *bias: Any) -> Any:
    """Conv from the columns of x: w (Co, C/G, *K) (and a bias (Co,), added in place) -> an (N, Co, *O) view."""
    co, k0 = w.shape[0], w.shape[2]
    rows = by_rows(w.shape[2:], stride)
    if not rows:
        per_row = w.reshape(1, groups, co // groups, cols.shape[1])  # one "row": all taps
        parts = [cols]
    else:
        per_row = w.swapaxes(1, 2).swapaxes(0, 1).reshape(k0, groups, co // groups, cols.shape[1])  # (K0, G, Co/G, ·)
        parts = [_row(cols, i, dilation[0], outs, n) for i in range(k0)]  # (G, C/G·K', O0·N·P') each
    length = parts[0].shape[2]
    out = np.empty((groups, co // groups, length), np.result_type(cols.dtype, w.dtype))
    step = piece(co // groups, cols.shape[1], length)
    for start in range(0, length, step):
        span = slice(start, start + step)
        target = out[:, :, span]
        np.matmul(per_row[0], parts[0][:, :, span], out=target)
        for i in range(1, len(parts)):
            target += np.matmul(per_row[i], parts[i][:, :, span])
        if bias:  # while the piece is in cache
            target += bias[0].reshape(groups, co // groups, 1)
    order, shape = output_order(len(outs), rows), (n, co, *outs)
    return laid_out(out.reshape(tuple(shape[axis] for axis in order)), order)


def grouped(g: Any, groups: int) -> Any:
    """g (N, Co, *O) -> (G, Co/G, N·P)."""
    n, co = g.shape[:2]
    return g.swapaxes(0, 1).reshape(groups, co // groups, n * math.prod(g.shape[2:]))


@single_kernel  # sums the pieces' products into an array it made: one kernel under the jit
def weight_grad(cols: Any, g: Any, kernel: Ints, stride: Ints, dilation: Ints, groups: int) -> Any:
    """ConvWeight from the columns of x and g (N, Co, *O): (Co, C/G, *K), the sum over positions in pieces."""
    n, co, outs = g.shape[0], g.shape[1], g.shape[2:]
    rows = by_rows(kernel, stride)
    if rows:  # g's columns in the order (O0, N, *O') of the by-row columns
        gm = g.transpose((1, 2, 0, *range(3, g.ndim))).reshape(groups, co // groups, math.prod(outs) * n)
        parts = [_row(cols, i, dilation[0], outs, n) for i in range(kernel[0])]
    else:
        gm, parts = grouped(g, groups), [cols]
    length = gm.shape[2]
    gw = np.zeros((len(parts), groups, co // groups, cols.shape[1]), np.result_type(cols.dtype, g.dtype))
    step = piece(co // groups, cols.shape[1], length)
    for start in range(0, length, step):
        span = slice(start, start + step)
        for i, part in enumerate(parts):
            gw[i] += np.matmul(gm[:, :, span], part[:, :, span].swapaxes(1, 2))  # (G, Co/G, C/G·K')
    if not rows:
        return gw[0].reshape((co, cols.shape[1] // math.prod(kernel), *kernel))
    shape = (co, cols.shape[1] // math.prod(kernel[1:]), *kernel[1:])
    return np.stack([gw[i].reshape(shape) for i in range(len(parts))], axis=2)
