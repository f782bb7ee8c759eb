"""Max pooling when the windows tile the input (stride == kernel, dilation 1: a 2x2 pool with stride 2), the
common case, without the general path's per-tap passes; each function gives results bit for bit equal to the
general path's (pool.py), or None where it does not apply and the caller takes the general path.

- `tile_max(x, kernel)`: the maxima and the chosen taps, reduced one kernel axis at a time from the last
  (pairwise along that axis, so each pass is over fewer elements than the one before), with no copy of x.
  Reducing the last kernel axis first keeps PyTorch's rule: the first maximum in row-major tap order (the
  first row holding the window's maximum, in it the first column holding it). Results keep x's memory
  order (a transposed convolution output stays transposed), so no pass mixes layouts. A NaN anywhere gives
  None: one reduction finds it, and the general path then applies the every-NaN-wins rule.
- `tile_scatter(g, index, size, kernel)`: the image with each window's gradient on its chosen tap, in C order.
  When the last kernel side k fills a word (two float32 in a uint64, two or four float16), a window row's k
  elements are one unsigned integer, and its value is g's bits shifted to the chosen tap's place or 0: integer
  passes along long axes, with no np.where (its per-element branch, mispredicted on pooled data, costs several
  times as much) and no interleaving of per-tap parts. Otherwise one broadcast `np.where`.
- `tile_gather(y, index, kernel)`: the chosen elements of y (MaxPoolScatter's adjoint): one `np.where`
  per kernel axis and tap, selecting along that axis.

All are written with NumPy functions on their inputs (no writes into arrays), so the jit traces them; each
result's layout is decided by its inputs' layouts through NumPy alone, as the jit's replay requires (its traced
arrays show no strides to choose by).

>>> import numpy as np
>>> x = np.array([[1.0, 3.0, 3.0, 0.0], [5.0, 2.0, 0.0, 4.0]])
>>> best, index = tile_max(x, (2, 2))
>>> best.tolist(), index.tolist()
([[5.0, 4.0]], [[2, 3]])
>>> tile_scatter(np.array([[10.0, 20.0]]), index, (2, 4), (2, 2)).tolist()
[[0.0, 0.0, 0.0, 0.0], [10.0, 0.0, 0.0, 20.0]]
"""
from __future__ import annotations

import math
import sys
from typing import Any

import numpy as np

Ints = tuple[int, ...]

# The chosen tap is stored as int8 (fast where/compare); larger windows take the general path.
MAX_TAPS = 127
# A window row's k adjacent elements read as one unsigned integer of k·itemsize bytes.
_WORD = {2: np.uint16, 4: np.uint32, 8: np.uint64}


def tiles(kernel: Ints, stride: Ints, dilation: Ints) -> bool:
    """Whether the windows tile the input (each element in at most one window, none skipped between them)
    and are small enough for an int8 tap index."""
    return (all(s == k and d == 1 for k, s, d in zip(kernel, stride, dilation))
            and 1 < math.prod(kernel) <= MAX_TAPS)


def _split(x: Any, lead: int, kernel: Ints) -> Any:
    """x (*lead, *S) -> the view (*lead, O0, K0, O1, K1, ...) of its whole windows (a trailing remainder that
    no window covers left out). Splitting an axis never copies, whatever x's strides."""
    spatial = x.shape[lead:]
    outs = tuple(n // k for n, k in zip(spatial, kernel))
    if any(o * k != n for o, k, n in zip(outs, kernel, spatial)):
        x = x[(Ellipsis, *(slice(0, o * k) for o, k in zip(outs, kernel)))]
    return x.reshape(x.shape[:lead] + tuple(s for o, k in zip(outs, kernel) for s in (o, k)))


def _at(a: Any, axis: int, i: int) -> Any:
    """a's i-th slice along `axis` (a view without that axis)."""
    return a[(slice(None),) * axis + (i,)]


def tile_max(x: Any, kernel: Ints) -> tuple[Any, Any] | None:
    """(the maximum of each window, its first maximum's tap in row-major order as int8), both (*lead, *O); None
    when x holds a NaN (the general path then sends the gradient to each window's last NaN)."""
    lead = x.ndim - len(kernel)
    cur, index, inner = _split(x, lead, kernel), None, 1
    for i in reversed(range(len(kernel))):  # the last kernel axis first: see the module's docstring
        axis, k = lead + 2 * i + 1, kernel[i]
        best = _at(cur, axis, 0)
        chosen = None if index is None else _at(index, axis, 0)
        for c in range(1, k):
            tap = _at(cur, axis, c)
            wins = np.greater(tap, best)  # strictly larger: the first of equal maxima keeps it
            if index is None and c == 1:  # the first kernel axis reduced: the tap number is c itself
                chosen = wins.view(np.int8)
            else:
                cand = np.int8(c) if index is None else np.add(_at(index, axis, c), np.int8(c * inner))
                chosen = _pick(wins, cand, chosen)
            best = np.maximum(best, tap)  # as the general path: NaN propagates, equal values pick the same one
        cur, index, inner = best, chosen, inner * k
    # The maximum of all maxima is NaN iff some window held one (a NaN propagates through np.maximum).
    if cur.size and np.isnan(np.maximum.reduce(cur, axis=None)):
        return None
    return cur, index


def _pick(wins: Any, cand: Any, chosen: Any) -> Any:
    """np.where(wins, cand, chosen) for int8 taps without a branch per element (np.where's, mispredicted
    about half the time on pooled data, costs several times these three passes): chosen + wins·(cand - chosen)."""
    return np.add(chosen, np.multiply(wins.view(np.int8), np.subtract(cand, chosen)))


def image_order(ndim: int, nd: int) -> list[int]:
    """The memory order (outermost axis first) of `tile_scatter`'s image (*lead, *size) with nd pooled axes: the
    order ops/_im2col.py's convolution gives its (N, C, *O) output, (C, O0, N, *O') (the next ops of a CNN's
    backward, the ReLU's mask and the convolution's gradients, read the image alongside that output), or C order
    without two lead and two pooled axes. Fixed by the shapes: the jit's traced arrays show no strides, and its
    replay needs the layout the eager call gave. Either way the innermost axis is the last pooled one, and the
    passes run along (N, *O') together: long inner loops, where C order's are as short as the image is narrow."""
    lead = ndim - nd
    if lead >= 2 and nd >= 2:
        return [*range(1, lead), lead, 0, *range(lead + 1, ndim)]
    return list(range(ndim))


def tile_scatter(g: Any, index: Any, size: Ints, kernel: Ints) -> Any | None:
    """A zero image (*lead, *size) with each window's g (*lead, *O) on its chosen tap `index` (from `tile_max`),
    in `image_order`; None for an empty g (the general path handles it)."""
    if g.size == 0:
        return None
    nd, lead = len(kernel), g.ndim - len(kernel)
    outs, dtype = g.shape[lead:], g.dtype
    order = image_order(g.ndim, nd)
    g, index = g.transpose(order), index.transpose(order)  # the frame: views in the image's memory order
    packed = _packs(kernel, g.itemsize)  # the last pooled axis, innermost in the frame, as words
    # Each pooled frame axis (but a packed one) gets its kernel axis right after it: the tap numbers live there.
    inserted, at = [], {}
    for n, a in zip(g.shape, order):
        inserted.append(n)
        if a >= lead and not (packed and a == g.ndim - 1):
            at[a - lead] = len(inserted)
            inserted.append(1)
    taps = np.zeros((1,) * len(inserted), np.int8)
    for i, f in at.items():
        shape = [1] * len(inserted)
        shape[f] = kernel[i]
        taps = taps + (np.arange(kernel[i], dtype=np.int8) * np.int8(math.prod(kernel[i + 1:]))).reshape(shape)
    index = index.reshape(inserted)
    if not packed:
        out = np.where(np.equal(index, taps), g.reshape(inserted), np.zeros((), dtype))
    else:
        # A row of k taps is one unsigned word; a window's tap t goes to bit 8·itemsize·t of it. With k a power of
        # two and the other axes' taps multiples of k, index XOR (this position's taps) is the tap along the row
        # where the other taps match, else at least k: shifting by that many elements' bits leaves 0 (NumPy's
        # left_shift gives 0 for a shift past the width). Integer passes only, in C order in the frame: no
        # branch per element (np.where's, mispredicted on pooled data, costs several times as much).
        log_bits = (8 * g.itemsize).bit_length() - 1
        wide = g.view(_WORD[g.itemsize]).astype(_WORD[kernel[-1] * g.itemsize], order="C").reshape(inserted)
        shift = np.bitwise_xor(np.left_shift(index.view(np.uint8), np.uint8(log_bits), order="C"),
                               np.left_shift(taps.view(np.uint8), np.uint8(log_bits)), order="C")
        out = np.left_shift(wide, shift, order="C")
    frame = [n * (kernel[a - lead] if a >= lead and not (packed and a == g.ndim - 1) else 1)
             for n, a in zip(g.shape, order)]
    out = out.reshape(frame)
    if packed:
        out = out.view(dtype)  # each word as its k elements: the last axis k times longer
    out = out.transpose(np.argsort(order).tolist())
    if any(o * k != n for o, k, n in zip(outs, kernel, size)):  # a remainder no window covers: no gradient
        out = np.pad(out, [(0, 0)] * lead + [(0, n - o * k) for o, k, n in zip(outs, kernel, size)])
    return out


def _packs(kernel: Ints, itemsize: int) -> bool:
    """Whether the scatter packs the last pooled axis's taps into words: its k taps fill a word (hence k is a
    power of two), and every shift (index XOR taps, below the next power of two of the tap count, times the
    element's bits) fits a uint8."""
    k = kernel[-1]
    if k < 2 or k * itemsize not in _WORD or sys.byteorder != "little":
        return False
    span = 1 << (math.prod(kernel) - 1).bit_length()
    return (span - 1) * 8 * itemsize <= 255


def tile_gather(y: Any, index: Any, kernel: Ints) -> Any:
    """y's element at each window's chosen tap: (*lead, *O) from y (*lead, *size) and index (*lead, *O)."""
    lead = y.ndim - len(kernel)
    cur = _split(y, lead, kernel)
    for i in reversed(range(len(kernel))):
        axis, k, inner = lead + 2 * i + 1, kernel[i], math.prod(kernel[i + 1:])
        if k == 1:
            cur = _at(cur, axis, 0)
            continue
        tap = np.floor_divide(index, np.int8(inner))
        if i > 0:
            tap = np.remainder(tap, np.int8(k))
        # the tap along axis i, broadcast over the kernel axes not yet selected along (those before i)
        tap = tap.reshape(index.shape[:lead] + tuple(s for j, o in enumerate(index.shape[lead:])
                                                     for s in ((o, 1) if j < i else (o,))))
        chosen = _at(cur, axis, 0)
        for c in range(1, k):
            chosen = np.where(np.equal(tap, np.int8(c)), _at(cur, axis, c), chosen)
        cur = chosen
    return cur
