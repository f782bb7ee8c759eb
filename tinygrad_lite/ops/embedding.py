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
