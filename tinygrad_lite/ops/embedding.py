"""Row lookup and its adjoint: `EmbeddingLookup` picks rows of a table by integer indices, `EmbeddingScatter`
adds rows of a gradient back into a table of zeros (repeated indices accumulate, as `np.add.at`).

Each is the other's VJP, so gradients of any order come out. The indices are an input of the primitive,
not a parameter, so a jitted step replays each call's own indices.

>>> import numpy as np
>>> EmbeddingScatter.call(np.ones((3, 2)), np.array([0, 2, 0]), num=3).tolist()
[[2.0, 2.0], [0.0, 0.0], [1.0, 1.0]]
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..function import Function, register
from .binary import Add
from .movement import Expand, Permute, Reshape

# Below this many (table rows x indices), the scatter is a one-hot matrix product: one BLAS call that the
# jit records kernel by kernel. Above it, np.add.at (no quadratic memory; the jit replays it as one call).
ONE_HOT_LIMIT = 1 << 21


def check_indices(idx: Any, num: int) -> None:
    """Indices must be integers in [0, num): NumPy would wrap negative ones silently."""
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got {idx.dtype}")
    if idx.size and (bool((idx < 0).any()) or bool((idx >= num).any())):
        bad = np.asarray(idx)
        raise IndexError(f"embedding: indices must lie in [0, {num}) for a table of {num} rows, got values from "
                         f"{bad.min()} to {bad.max()}")


@register
class EmbeddingLookup(Function):
    """out[..., :] = table[idx[...], :]. d/dtable · g = g's rows added at idx (EmbeddingScatter); the indices
    get no gradient"""

    __slots__ = ()

    def forward(self, table: np.ndarray, idx: np.ndarray) -> np.ndarray:
        check_indices(idx, table.shape[0])
        return np.take(table, idx, axis=0)  # type: ignore[no-any-return]

    def vjp(self, g: Any, out: Any, table: Any, idx: Any) -> tuple[Any, None]:
        return EmbeddingScatter.call(g, idx, num=table.shape[0]), None

    def jvp(self, tangents: tuple[Any, ...], out: Any, table: Any, idx: Any) -> Any:
        dtable = tangents[0]  # the indices are data: they have no tangent
        return None if dtable is None else EmbeddingLookup.call(dtable, idx)

    def batch(self, batched: tuple[bool, ...], table: Any, idx: Any) -> Any:
        bt, bi = batched
        if not bt:  # one table, a batch of index arrays: one lookup
            return EmbeddingLookup.call(table, idx)
        n, num = table.shape[0], table.shape[1]
        if not bi:  # a batch of tables, one index array: look the rows up in (num, n, ...), batch back in front
            rows = EmbeddingLookup.call(Permute.call(table, order=_swap01(table.ndim)), idx)  # (*idx, n, ...)
            return Permute.call(rows, order=_batch_to_front(idx.ndim, rows.ndim))
        # Both batched: example b's rows sit at b·num + idx in the tables stacked into one.
        flat = Reshape.call(table, shape=(n * num, *table.shape[2:]))
        return EmbeddingLookup.call(flat, Add.call(idx, _row_offsets(n, num, idx.ndim - 1)))


@register
class EmbeddingScatter(Function):
    """out = zeros(num, ...) with g[k] added at row idx[k] (summed where an index repeats).
    d/dg · h = h[idx] (EmbeddingLookup); the indices get no gradient"""

    __slots__ = ()

    def forward(self, g: np.ndarray, idx: np.ndarray, num: int) -> np.ndarray:
        check_indices(idx, num)
        trailing = g.shape[idx.ndim:]
        rows, width = idx.size, math.prod(trailing)
        flat_g, flat_i = g.reshape((rows, width)), idx.reshape(-1)
        if num * rows <= ONE_HOT_LIMIT:
            hot = (flat_i[:, None] == np.arange(num)).astype(g.dtype)
            out = hot.T @ flat_g
        else:
            out = np.zeros((num, width), dtype=g.dtype)
            np.add.at(out, flat_i, flat_g)
        return out.reshape((num, *trailing))  # type: ignore[no-any-return]

    def vjp(self, g: Any, out: Any, *xs: Any) -> tuple[Any, None]:
        _, idx = xs  # (the gradient this op scattered, the indices)
        return EmbeddingLookup.call(g, idx), None

    def jvp(self, tangents: tuple[Any, ...], out: Any, g: Any, idx: Any) -> Any:
        dg = tangents[0]  # the indices are data: they have no tangent
        return None if dg is None else EmbeddingScatter.call(dg, idx, num=out.shape[0])

    def batch(self, batched: tuple[bool, ...], g: Any, idx: Any, **params: Any) -> Any:
        bg, bi = batched
        num = params["num"]
        if not bi:  # one index array: the batch axis moved behind the indexed axes rides along as a trailing one
            moved = Permute.call(g, order=_batch_behind(idx.ndim, g.ndim))
            out = EmbeddingScatter.call(moved, idx, num=num)  # (num, n, ...)
            return Permute.call(out, order=_swap01(out.ndim))
        n = idx.shape[0]
        if not bg:
            g = Expand.call(Reshape.call(g, shape=(1, *g.shape)), shape=(n, *g.shape))
        # Example b's rows go to b·num + idx of one table of n·num rows, split by example after.
        out = EmbeddingScatter.call(g, Add.call(idx, _row_offsets(n, num, idx.ndim - 1)), num=n * num)
        return Reshape.call(out, shape=(n, num, *out.shape[1:]))


def _swap01(ndim: int) -> tuple[int, ...]:
    return (1, 0, *range(2, ndim))


def _batch_to_front(at: int, ndim: int) -> tuple[int, ...]:
    """The order that moves axis `at` to the front."""
    return (at, *(i for i in range(ndim) if i != at))


def _batch_behind(at: int, ndim: int) -> tuple[int, ...]:
    """The order that moves axis 0 to position `at`."""
    order = list(range(1, ndim))
    order.insert(at, 0)
    return tuple(order)


def _row_offsets(n: int, num: int, example_ndim: int) -> np.ndarray:
    """b·num for example b, shaped to broadcast over a batch of index arrays of `example_ndim` axes (int64:
    n·num may not fit the indices' dtype)."""
    return (np.arange(n, dtype=np.int64) * num).reshape((n,) + (1,) * example_ndim)
