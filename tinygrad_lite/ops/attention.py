"""The softmax of attention as one primitive: s = softmax(scale·x + bias) along `axis`, `bias` optional.

Attention runs a softmax over a (batch, heads, queries, keys) array every step. As one node, with the
scaling and the additive mask folded in, it costs one fresh array forward and two backward, where the
composite (scale, add the mask, subtract the max, exp, sum, divide) costs several of each; in eager mode
each fresh array of that size is also fresh memory for the OS to map. A row that is all -inf (every key
masked) gives zeros and a zero gradient, as PyTorch's scaled_dot_product_attention does.

>>> import numpy as np
>>> Softmax.call(np.log(np.array([[1.0, 3.0]])), axis=1, scale=1.0).tolist()
[[0.25, 0.75]]
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..function import Function, register
from ..node import TensorCore
from ._batch_util import align, batch_size
from ._jvp_util import plus
from .movement import Expand, Reshape
from .reduce import Sum


@register
class Softmax(Function):
    """s = softmax(scale·x + bias) along `axis` (bias: an optional second input, broadcast to x).
    With gs = s·(g - Σ(g·s)): d/dx · g = scale·gs, d/dbias · g = gs (summed to bias's shape by the engine)"""

    __slots__ = ("axis", "scale")

    def forward(self, x: np.ndarray, *bias: np.ndarray, axis: int, scale: float) -> np.ndarray:
        self.axis, self.scale = axis, scale
        e = x * x.dtype.type(scale)  # the one fresh array; everything after works in place on it
        if bias:
            e += bias[0]
        top = e.max(axis=axis, keepdims=True)
        # A row with no finite score (every key masked) is shifted by 0, so its exponentials are all 0 and its
        # total is taken as 1: zeros, PyTorch's answer for a query that may attend to nothing.
        e -= np.where(np.isfinite(top), top, 0)
        np.exp(e, out=e)
        total = e.sum(axis=axis, keepdims=True)
        with np.errstate(invalid="ignore"):  # +inf scores give NaN (inf/inf), as in PyTorch
            e /= np.where(total == 0, 1, total)
        return e

    def vjp(self, g: Any, out: Any, x: Any, *bias: Any) -> tuple[Any, ...]:
        if isinstance(g, TensorCore) or isinstance(out, TensorCore):  # create_graph: differentiable terms
            gs = out * (g - Sum.call(g * out, axis=(self.axis,), keepdim=True))
            gx = gs * self.scale if self.scale != 1.0 else gs
        else:
            gs = g * out
            gs -= out * gs.sum(axis=self.axis, keepdims=True)
            gx = gs * out.dtype.type(self.scale) if self.scale != 1.0 else gs
        return (gx, gs) if bias else (gx,)

    def jvp(self, tangents: tuple[Any, ...], out: Any, x: Any, *bias: Any) -> Any:
        dx = tangents[0]
        dz = None if dx is None else (dx * self.scale if self.scale != 1.0 else dx)  # the tangent of scale·x + bias
        if bias and tangents[1] is not None:
            dz = plus(dz, tangents[1])
        if dz is None:
            return None
        return out * (dz - Sum.call(out * dz, axis=(self.axis,), keepdim=True))

    def batch(self, batched: tuple[bool, ...], x: Any, *bias: Any, **params: Any) -> Any:
        # x carries the batch even when only the bias does, so `axis` (one further right) names the same axis of
        # x, the bias and the result.
        n = batch_size(batched, (x, *bias))
        if not batched[0]:
            x = Expand.call(Reshape.call(x, shape=(1, *x.shape)), shape=(n, *x.shape))
        parts = align((True, *batched[1:]), (x, *bias))
        return Softmax.call(*parts, axis=params["axis"] + 1, scale=params["scale"])
