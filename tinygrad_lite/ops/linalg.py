"""Matrix product: 1-D, 2-D and batched with NumPy's broadcasting of batch axes."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..function import Function, register
from ._batch_util import batch_size
from ._jvp_util import plus
from .binary import Mul
from .movement import Reshape


def _mT(a: Any) -> Any:
    """Swap the last two axes (works for arrays and Tensors)."""
    return a.mT


@register
class Matmul(Function):
    """d(A·B) = g·Bᵀ, Aᵀ·g; 1-D operands are lifted to matrices and squeezed back"""

    __slots__ = ()

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if a.ndim > 2 and b.ndim == 2:  # a batch of rows times one matrix: one BLAS call, not one per matrix
            return np.matmul(a.reshape(math.prod(a.shape[:-1]), a.shape[-1]), b).reshape(*a.shape[:-1], b.shape[-1])
        return np.matmul(a, b)

    def vjp(self, g: Any, out: Any, a: Any, b: Any) -> tuple[Any, Any]:
        na, nb = self.needs_grad
        if a.ndim == 1 and b.ndim == 1:
            return (g * b if na else None), (g * a if nb else None)
        if a.ndim == 1:  # (k,) @ (..., k, m) -> (..., m): a is a row
            g2 = Reshape.call(g, shape=g.shape[:-1] + (1, g.shape[-1]))
            ga = g2 @ _mT(b) if na else None
            gb = Reshape.call(a, shape=(a.shape[0], 1)) @ g2 if nb else None
            return ga, gb
        if b.ndim == 1:  # (..., n, k) @ (k,) -> (..., n): b is a column
            g2 = Reshape.call(g, shape=g.shape + (1,))
            ga = g2 @ Reshape.call(b, shape=(1, b.shape[0])) if na else None
            gb = Reshape.call(_mT(a) @ g2, shape=a.shape[:-2] + (a.shape[-1],)) if nb else None
            return ga, gb
        if a.ndim > 2 and b.ndim == 2:  # rows times one matrix: b's gradient sums over the rows in one product,
            n = math.prod(a.shape[:-1])  # not a batch of products summed afterwards
            rows = Reshape.call(g, shape=(n, g.shape[-1]))
            ga = Reshape.call(rows @ _mT(b), shape=a.shape) if na else None
            gb = _mT(Reshape.call(a, shape=(n, a.shape[-1]))) @ rows if nb else None
            return ga, gb
        return (g @ _mT(b) if na else None), (_mT(a) @ g if nb else None)

    def jvp(self, tangents: tuple[Any, ...], out: Any, a: Any, b: Any) -> Any:
        da, db = tangents
        return plus(None if da is None else Matmul.call(da, b), None if db is None else Matmul.call(a, db))

    def batch(self, batched: tuple[bool, ...], a: Any, b: Any) -> Any:
        # One example's operands lifted to matrices (a vector a as a row, b as a column), batched ones
        # given 1-sized batch axes up to a common rank: one broadcast matmul, the lifted axes dropped after.
        n = batch_size(batched, (a, b))
        ea = a.shape[1:] if batched[0] else a.shape
        eb = b.shape[1:] if batched[1] else b.shape
        ma = (1, *ea) if len(ea) == 1 else ea
        mb = (*eb, 1) if len(eb) == 1 else eb
        lead = np.broadcast_shapes(ma[:-2], mb[:-2])
        a2 = a.reshape((n, *(1,) * (len(lead) + 2 - len(ma)), *ma)) if batched[0] else a.reshape(ma)
        b2 = b.reshape((n, *(1,) * (len(lead) + 2 - len(mb)), *mb)) if batched[1] else b.reshape(mb)
        # A contraction over one element (per-example outer products, as in per-example weight gradients) is a
        # broadcast product: the same numbers, without the matmul kernel's per-matrix overhead (2x faster).
        out = Mul.call(a2, b2) if ma[-1] == 1 else Matmul.call(a2, b2)
        shape = (*lead, *ea[-2:-1], *(eb[-1:] if len(eb) > 1 else ()))
        return out.reshape((n, *shape))
