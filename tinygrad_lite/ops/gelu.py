"""GELU, tanh form, as one primitive: ½x(1 + tanh(√(2/π)(x + 0.044715x³))), tinygrad's `gelu` and PyTorch's
`gelu(approximate="tanh")`.

Fused because the composite records nine elementwise nodes, and in eager mode each of their results (and
of their VJPs) is a fresh array: on a transformer's MLP activations that is most of what a training step
allocates. Here the forward makes two arrays and the VJP two, working in place on them.
`Tensor.gelu` can call it as `apply(GeluTanh, self)` (the composite stays in _elementwise.py until then).

>>> import numpy as np
>>> round(float(GeluTanh.call(np.array(1.0))), 6)
0.841192
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..function import Function, register
from ..node import TensorCore
from ._batch_util import elementwise
from .unary import Tanh

C = math.sqrt(2 / math.pi)
A = 0.044715


@register
class GeluTanh(Function):
    """d gelu(x) = ½(1 + t) + ½·x·(1 - t²)·c·(1 + 3a·x²) with t = tanh(c·(x + a·x³)), c = √(2/π), a = 0.044715"""

    __slots__ = ("t",)

    def forward(self, x: np.ndarray) -> np.ndarray:
        f = x.dtype.type
        t = np.multiply(x, x, out=np.empty_like(x))  # out= keeps 0-d results arrays, not NumPy scalars
        t *= f(A)
        t += 1
        t *= x
        t *= f(C)
        np.tanh(t, out=t)
        self.t = t  # the VJP's t
        out = np.add(t, 1, out=np.empty_like(x))
        out *= f(0.5)  # halved before x multiplies in (exact): (1 + t)·x would overflow for x > max/2
        out *= x
        return out

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any]:
        if isinstance(x, TensorCore) or isinstance(g, TensorCore):  # create_graph: differentiable terms
            t = Tanh.call(C * (x + A * x * x * x))
            return (g * (0.5 * (1 + t) + 0.5 * C * x * (1 - t * t) * (1 + 3 * A * x * x)),)
        f = x.dtype.type
        t = self.t
        slope = np.multiply(t, t, out=np.empty_like(t))
        np.subtract(1, slope, out=slope)
        poly = np.multiply(x, x, out=np.empty_like(x))
        poly *= f(3 * A * C)
        poly += f(C)
        slope *= poly
        slope *= x
        slope += t
        slope += 1
        slope *= f(0.5)
        slope *= g
        return (slope,)

    def jvp(self, tangents: tuple[Any, ...], out: Any, x: Any) -> Any:
        (dx,) = tangents
        t = Tanh.call(C * (x + A * x * x * x))
        return dx * (0.5 * (1 + t) + 0.5 * C * x * (1 - t * t) * (1 + 3 * A * x * x))

    def batch(self, batched: tuple[bool, ...], *xs: Any, **params: Any) -> Any:
        return elementwise(type(self), batched, xs, params)
