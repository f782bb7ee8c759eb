"""Layer normalisation as one primitive: x̂ = (x - mean) / sqrt(var + eps) over `axis` (biased variance),
optionally followed by the affine part x̂·weight + bias (weight and bias as further inputs).

Fused because a transformer runs it twice per block: the composite (mean, subtract, square, mean, add,
sqrt, divide, multiply, add) records nine nodes, and in eager mode each of their results and VJPs is a
fresh array.

>>> import numpy as np
>>> LayerNorm.call(np.array([[1.0, 3.0]]), axis=(1,), eps=0.0).tolist()
[[-1.0, 1.0]]
>>> LayerNorm.call(np.array([[1.0, 3.0]]), np.array([2.0, 2.0]), np.array([0.5, 0.5]), axis=(1,), eps=0.0).tolist()
[[-1.5, 2.5]]
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..function import Function, register
from ..node import TensorCore
from ._batch_util import align, batch_size, shift
from ._jvp_util import plus
from .movement import Expand, Reshape
from .reduce import Sum
from .unary import Sqrt


@register
class LayerNorm(Function):
    """y = x̂·w + b with x̂ = (x - μ)·r, r = 1/sqrt(σ² + eps) over `axis` (w and b optional inputs).
    With h = g·w: d/dx · g = r·(h - mean(h) - x̂·mean(h·x̂)); d/dw · g = g·x̂, d/db · g = g (the engine sums
    them to w's and b's shapes)"""

    __slots__ = ("axis", "eps", "rstd", "xhat")

    def forward(self, x: np.ndarray, *affine: np.ndarray, axis: tuple[int, ...], eps: float) -> np.ndarray:
        self.axis, self.eps = axis, eps
        xhat = x - x.mean(axis=axis, keepdims=True)
        var = np.square(xhat).mean(axis=axis, keepdims=True)
        self.rstd = 1.0 / np.sqrt(var + eps)
        xhat *= self.rstd
        self.xhat = xhat
        if not affine:
            return xhat
        out = xhat * affine[0]
        if len(affine) > 1:
            out += affine[1]
        return out

    def vjp(self, g: Any, out: Any, x: Any, *affine: Any) -> tuple[Any, ...]:
        axis = self.axis
        if isinstance(x, TensorCore) or isinstance(g, TensorCore):  # create_graph: differentiable terms of x
            n = 1.0 / math.prod(x.shape[a] for a in axis)
            xhat = LayerNorm.call(x, axis=axis, eps=self.eps) if affine else out
            centred = x - Sum.call(x, axis=axis, keepdim=True) * n
            rstd = 1.0 / Sqrt.call(Sum.call(centred * centred, axis=axis, keepdim=True) * n + self.eps)
            h = g * affine[0] if affine else g
            mean_h = Sum.call(h, axis=axis, keepdim=True) * n
            mean_hx = Sum.call(h * xhat, axis=axis, keepdim=True) * n
            gx = rstd * (h - mean_h - xhat * mean_hx)
            return (gx, g * xhat, g)[:1 + len(affine)]
        xhat = self.xhat
        h = g * affine[0] if affine else g
        mean_hx = (h * xhat).mean(axis=axis, keepdims=True)
        gx = h - h.mean(axis=axis, keepdims=True)
        gx -= xhat * mean_hx
        gx *= self.rstd
        if not affine:
            return (gx,)
        return (gx, g * xhat, g)[:1 + len(affine)]

    def jvp(self, tangents: tuple[Any, ...], out: Any, x: Any, *affine: Any) -> Any:
        axis = self.axis
        n = 1.0 / math.prod(x.shape[a] for a in axis)
        xhat = LayerNorm.call(x, axis=axis, eps=self.eps) if affine else out
        dx, *daffine = tangents
        dout = None
        if dx is not None:  # d x̂ = r·(dx - mean(dx) - x̂·mean(dx·x̂))
            centred = x - Sum.call(x, axis=axis, keepdim=True) * n
            rstd = 1.0 / Sqrt.call(Sum.call(centred * centred, axis=axis, keepdim=True) * n + self.eps)
            mean_d = Sum.call(dx, axis=axis, keepdim=True) * n
            mean_dx = Sum.call(dx * xhat, axis=axis, keepdim=True) * n
            dout = rstd * (dx - mean_d - xhat * mean_dx)
            if affine:
                dout = dout * affine[0]
        if daffine and daffine[0] is not None:
            dout = plus(dout, xhat * daffine[0])
        if len(daffine) > 1 and daffine[1] is not None:
            dout = plus(dout, daffine[1])
        return dout

    def batch(self, batched: tuple[bool, ...], x: Any, *affine: Any, **params: Any) -> Any:
        # The statistics are taken over x's own axes (one further right), so x must carry the batch even when
        # only the weight or bias does: the VJP reduces the gradient over those axes of the result.
        n = batch_size(batched, (x, *affine))
        if not batched[0]:
            x = Expand.call(Reshape.call(x, shape=(1, *x.shape)), shape=(n, *x.shape))
        parts = align((True, *batched[1:]), (x, *affine))
        return LayerNorm.call(*parts, axis=shift(params["axis"]), eps=params["eps"])
