"""Layer normalisation as one primitive: x̂ = (x - mean) / sqrt(var + eps) over `axis` (biased variance).

Fused because a transformer runs it twice per block: the composite (mean, subtract, square, mean, add,
sqrt, divide) records seven nodes and twice as many backward kernels. The affine part (weight, bias) stays
outside, as ordinary multiply and add.

>>> import numpy as np
>>> LayerNorm.call(np.array([[1.0, 3.0]]), axis=(1,), eps=0.0).tolist()
[[-1.0, 1.0]]
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..function import Function, register
from ..node import TensorCore
from .reduce import Sum
from .unary import Sqrt


@register
class LayerNorm(Function):
    """x̂ = (x - μ)·r with r = 1/sqrt(σ² + eps) over `axis`.
    d x̂ · g = r·(g - mean(g) - x̂·mean(g·x̂)) (means over `axis`)"""

    __slots__ = ("axis", "eps", "rstd")

    def forward(self, x: np.ndarray, axis: tuple[int, ...], eps: float) -> np.ndarray:
        self.axis, self.eps = axis, eps
        centred = x - x.mean(axis=axis, keepdims=True)
        var = np.square(centred).mean(axis=axis, keepdims=True)
        self.rstd = 1.0 / np.sqrt(var + eps)
        return centred * self.rstd  # type: ignore[no-any-return]

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any]:
        axis = self.axis
        if isinstance(x, TensorCore):  # create_graph: r as a differentiable function of x
            n = 1.0 / math.prod(x.shape[a] for a in axis)
            centred = x - Sum.call(x, axis=axis, keepdim=True) * n
            rstd = 1.0 / Sqrt.call(Sum.call(centred * centred, axis=axis, keepdim=True) * n + self.eps)
            mean_g = Sum.call(g, axis=axis, keepdim=True) * n
            mean_gx = Sum.call(g * out, axis=axis, keepdim=True) * n
            return (rstd * (g - mean_g - out * mean_gx),)
        mean_g = g.mean(axis=axis, keepdims=True)
        mean_gx = (g * out).mean(axis=axis, keepdims=True)
        return (self.rstd * (g - mean_g - out * mean_gx),)
