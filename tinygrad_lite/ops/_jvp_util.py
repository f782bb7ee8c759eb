"""Helpers for the primitives' forward-mode (`jvp`) rules, where an input without a tangent gets None.

A `jvp(self, tangents, out, *xs)` rule returns the tangent of `out` given one tangent per input (None
for an input that does not depend on the differentiated arguments), or None when every contribution is
zero. Like `vjp`, the rules are written with operators and `Prim.call`, so they run on arrays and on
Tensors (where the tangent computation is itself recorded, and can be differentiated again).

>>> import numpy as np
>>> plus(None, np.ones(2)).tolist()
[1.0, 1.0]
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..node import TensorCore


def plus(a: Any, b: Any) -> Any:
    """a + b where None stands for zero."""
    if a is None:
        return b
    if b is None:
        return a
    return a + b


def zeros_like(x: Any) -> Any:
    """Zeros of x's shape and dtype, a Tensor for a Tensor (a constant: it carries no derivative)."""
    z = np.zeros(x.shape, dtype=x.dtype)
    return type(x)._wrap(z) if isinstance(x, TensorCore) else z


def or_zeros(t: Any, x: Any) -> Any:
    """The tangent t, or zeros shaped like x when it has none."""
    return zeros_like(x) if t is None else t
