"""log_softmax, and softmax cross-entropy against class labels, as primitives. Fused for speed and
stability: the composite x - logsumexp(x) costs about twenty small kernels forward and backward;
LogSoftmax costs nine and shifts by the max. SoftmaxCrossEntropy replaces the eight nodes of
log_softmax, picking each row's label, masking ignored rows and smoothing, with one."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..function import Function, NumpyFn, register
from ..node import TensorCore, apply
from .movement import Reshape
from .reduce import Sum
from .unary import Exp


@register
class LogSoftmax(Function):
    """d log_softmax(x) · g = g - softmax(x) · Σg (sums along `axis`)"""

    __slots__ = ("axis",)

    def forward(self, x: np.ndarray, axis: int) -> np.ndarray:
        self.axis = axis
        m = x.max(axis=axis, keepdims=True)
        finite = np.isfinite(m)
        if finite.all():  # each row's sum of exponentials is then >= 1: no log(0), nothing to silence
            shifted = x - m
            return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
        shifted = x - np.where(finite, m, 0)  # a row of -inf stays -inf instead of becoming nan
        with np.errstate(divide="ignore", invalid="ignore"):  # a row of -inf gives nan, as in PyTorch
            return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any]:
        return (g - Exp.call(out) * Sum.call(g, axis=(self.axis,), keepdim=True),)


@register
class SoftmaxCrossEntropy(Function):
    """loss_i = -Σ_c q_ic · log_softmax(x)_ic for logits x (N, C) and integer labels (N,), with the target
    q_i = (1-ε)·onehot(label_i) + ε/C; 0 on rows labelled `ignore_index`.
    d loss_i / d x_i = softmax(x_i) - q_i (0 on ignored rows); the labels get no gradient."""

    __slots__ = ("ignore_index", "smoothing")

    def forward(self, x: np.ndarray, labels: np.ndarray, ignore_index: int, smoothing: float) -> np.ndarray:
        self.ignore_index, self.smoothing = ignore_index, smoothing
        logp = LogSoftmax().forward(x, axis=1)
        kept = labels != ignore_index
        picked = logp[np.arange(len(labels)), np.where(kept, labels, 0)]
        loss = -picked if smoothing == 0 else -(1 - smoothing) * picked - smoothing * logp.mean(axis=1)
        return np.where(kept, loss, np.zeros((), x.dtype))

    def vjp(self, g: Any, out: Any, x: Any, labels: Any) -> tuple[Any, None]:
        # Written with Prim.call so that under create_graph the gradient is itself differentiable.
        rows, classes = x.shape
        params = {"classes": classes, "smoothing": self.smoothing, "dtype": x.dtype}
        if isinstance(labels, TensorCore):  # create_graph: labels are data (no gradient), computed on as a node
            target = apply(NumpyFn, labels, func=_target, **params)
            kept = apply(NumpyFn, labels, func=_kept_rows, ignore_index=self.ignore_index)
        else:
            target, kept = _target(labels, **params), _kept_rows(labels, self.ignore_index)
        diff = (Exp.call(LogSoftmax.call(x, axis=1)) - target) * kept
        return Reshape.call(g, shape=(rows, 1)) * diff, None


def _target(labels: np.ndarray, classes: int, smoothing: float, dtype: np.dtype) -> np.ndarray:
    """(1-ε)·onehot(labels) + ε/C, one row per label."""
    hit = (labels[:, None] == np.arange(classes)).astype(dtype)
    return hit * (1 - smoothing) + smoothing / classes  # type: ignore[no-any-return]


def _kept_rows(labels: np.ndarray, ignore_index: int) -> np.ndarray:
    return (labels != ignore_index)[:, None]  # type: ignore[no-any-return]
