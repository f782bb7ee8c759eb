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


def conv(cols: Any, w: Any, n: int, outs: Ints, stride: Ints, dilation: Ints, groups: int, *bias: Any) -> Any:
    """Conv from the columns of x: w (Co, C/G, *K) (and a bias (Co,), added in place) -> an (N, Co, *O) view."""
    co, k0 = w.shape[0], w.shape[2]
    rows = by_rows(w.shape[2:], stride)
    if not rows:
        out = np.matmul(w.reshape(groups, co // groups, cols.shape[1]), cols)  # (G, Co/G, N·P)
    else:
        per_row = w.swapaxes(1, 2).swapaxes(0, 1).reshape(k0, groups, co // groups, cols.shape[1])  # (K0, G, Co/G, ·)
        out = np.matmul(per_row[0], _row(cols, 0, dilation[0], outs, n))  # (G, Co/G, O0·N·P')
        for i in range(1, k0):
            out += np.matmul(per_row[i], _row(cols, i, dilation[0], outs, n))
    if bias:
        out += bias[0].reshape(groups, co // groups, 1)
    if not rows:
        return out.reshape((co, n, *outs)).swapaxes(0, 1)
    return out.reshape((co, outs[0], n, *outs[1:])).transpose((2, 0, 1, *range(3, len(outs) + 2)))


def grouped(g: Any, groups: int) -> Any:
    """g (N, Co, *O) -> (G, Co/G, N·P)."""
    n, co = g.shape[:2]
    return g.swapaxes(0, 1).reshape(groups, co // groups, n * math.prod(g.shape[2:]))


# From this many column rows per product on, the weight gradient multiplies the columns by g transposed,
# (G, rows, L) @ (G, L, Co/G), instead of g by the columns transposed: OpenBLAS then fills its tiles, 2x faster on
# LeNet's second layer (30 rows, Co 16); with fewer rows (its first layer: 5) the transposing copy of g costs
# more than the product saves. The two give the same numbers.
TRANSPOSED_FROM_ROWS = 16


def _times_g(cols: Any, gm: Any, gt: Any) -> Any:
    """cols (G, R, L) against g's columns (G, Co/G, L) (or, transposed, gt (G, L, Co/G)): (G, Co/G, R)."""
    if gt is None:
        return np.matmul(gm, cols.swapaxes(1, 2))
    return np.matmul(cols, gt).swapaxes(1, 2)


def weight_grad(cols: Any, g: Any, kernel: Ints, stride: Ints, dilation: Ints, groups: int) -> Any:
    """ConvWeight from the columns of x and g (N, Co, *O): (Co, C/G, *K)."""
    n, co, outs = g.shape[0], g.shape[1], g.shape[2:]
    rows = by_rows(kernel, stride)
    if rows:  # g's columns in the order (O0, N, *O') of the by-row columns
        gm = g.transpose((1, 2, 0, *range(3, g.ndim))).reshape(groups, co // groups, math.prod(outs) * n)
    else:
        gm = grouped(g, groups)
    gt = gm.swapaxes(1, 2).copy() if cols.shape[1] >= TRANSPOSED_FROM_ROWS else None  # C order
    if not rows:
        gw = _times_g(cols, gm, gt)  # (G, Co/G, C/G·K)
        return gw.reshape((co, cols.shape[1] // math.prod(kernel), *kernel))
    shape = (co, cols.shape[1] // math.prod(kernel[1:]), *kernel[1:])
    parts = [_times_g(_row(cols, i, dilation[0], outs, n), gm, gt).reshape(shape) for i in range(kernel[0])]
    return np.stack(parts, axis=2)
