"""The softmax of attention as one primitive: s = e^(x - max) / Σ e^(x - max) along `axis`.

Attention runs a softmax over a (batch, heads, queries, keys) array every step; as one node it costs one
forward and one backward pass over that array instead of five of each. A row that is all -inf (every key
masked) gives zeros and a zero gradient, as PyTorch's scaled_dot_product_attention does.

>>> import numpy as np
>>> Softmax.call(np.log(np.array([[1.0, 3.0]])), axis=1).tolist()
[[0.25, 0.75]]
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..function import Function, register
from .reduce import Sum


@register
class Softmax(Function):
    """d softmax(x) · g = s·(g - Σ(g·s)) (sum along `axis`)"""

    __slots__ = ("axis",)

    def forward(self, x: np.ndarray, axis: int) -> np.ndarray:
        self.axis = axis
        top = x.max(axis=axis, keepdims=True)
        # A row with no finite score (every key masked) is shifted by 0, so its exponentials are all 0 and its
        # total is taken as 1: zeros, PyTorch's answer for a query that may attend to nothing.
        e = np.exp(x - np.where(np.isfinite(top), top, 0))
        total = e.sum(axis=axis, keepdims=True)
        with np.errstate(invalid="ignore"):  # +inf scores give NaN (inf/inf), as in PyTorch
            e /= np.where(total == 0, 1, total)
        return e

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any]:
        return (out * (g - Sum.call(g * out, axis=(self.axis,), keepdim=True)),)
