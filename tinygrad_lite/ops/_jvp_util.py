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

from ..function import NumpyFn
from ..node import TensorCore, apply


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


def _kept_target(labels: np.ndarray, classes: int, dtype: np.dtype, ignore_index: int, smoothing: float) -> np.ndarray:
    hit = (labels[:, None] == np.arange(classes)).astype(dtype)
    kept = (labels != ignore_index)[:, None]
    return ((hit * (1 - smoothing) + smoothing / classes) * kept).astype(dtype)  # type: ignore[no-any-return]


def _kept(labels: np.ndarray, ignore_index: int, dtype: np.dtype) -> np.ndarray:
    return (labels != ignore_index)[:, None].astype(dtype)  # type: ignore[no-any-return]


def label_target(labels: Any, classes: int, dtype: np.dtype, ignore_index: int, smoothing: float) -> tuple[Any, Any]:
    """The smoothed one-hot target of integer labels (zero on ignored rows) and the rows-kept mask, each
    (rows, classes)-broadcastable. For a Tensor of labels they are made by recorded ops (NumpyFn) rather than
    from the labels' values read here, so vmap and the jit follow each batch's labels."""
    if isinstance(labels, TensorCore):
        target = apply(NumpyFn, labels, func=_kept_target, classes=classes, dtype=dtype, ignore_index=ignore_index,
                       smoothing=smoothing)
        return target, apply(NumpyFn, labels, func=_kept, ignore_index=ignore_index, dtype=dtype)
    return _kept_target(labels, classes, dtype, ignore_index, smoothing), _kept(labels, ignore_index, dtype)
