"""`Narrow`: the block x[start:start + length] along one axis (torch.narrow), a view.

Its VJP pads the gradient back with zeros (the `Pad` primitive, np.pad), which the jit records kernel by
kernel; the general slice's VJP (ScatterAdd) writes into a buffer in place and is replayed as one call.
MultiheadAttention takes its query, key and value projections out of the packed `in_proj_weight` this way.

>>> import numpy as np
>>> Narrow.call(np.arange(6).reshape(3, 2), axis=0, start=1, length=2).tolist()
[[2, 3], [4, 5]]
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..function import Function, register
from .movement import Pad


@register
class Narrow(Function):
    """d narrow(x) · g = g padded with zeros back to x's extent along `axis`"""

    __slots__ = ("axis", "start", "length")

    def forward(self, x: np.ndarray, axis: int, start: int, length: int) -> np.ndarray:
        if not (0 <= axis < x.ndim and 0 <= start and length >= 0 and start + length <= x.shape[axis]):
            raise ValueError(f"narrow: rows [{start}, {start + length}) of axis {axis} do not fit shape {x.shape}")
        self.axis, self.start, self.length = axis, start, length
        return x[(slice(None),) * axis + (slice(start, start + length),)]

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any]:
        padding = [(0, 0)] * x.ndim
        padding[self.axis] = (self.start, x.shape[self.axis] - self.start - self.length)
        return (Pad.call(g, padding=tuple(padding), value=0.0),)

    def jvp(self, tangents: tuple[Any, ...], out: Any, x: Any) -> Any:
        (dx,) = tangents
        return Narrow.call(dx, axis=self.axis, start=self.start, length=self.length)

    def batch(self, batched: tuple[bool, ...], x: Any, **params: Any) -> Any:
        return Narrow.call(x, axis=params["axis"] + 1, start=params["start"], length=params["length"])
