"""log_softmax, and softmax cross-entropy against class labels, as primitives. Fused for speed and
stability: the composite x - logsumexp(x) costs about twenty small kernels forward and backward;
LogSoftmax costs nine and shifts by the max. SoftmaxCrossEntropy replaces the dozen nodes of
log_softmax, picking each row's label, masking ignored rows, smoothing and the mean over the rows kept,
with one."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..function import Function, NumpyFn, register
from ..node import TensorCore, apply
from ._batch_util import batch_size
from ._jvp_util import label_target
from .movement import Expand, Reshape
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

    def jvp(self, tangents: tuple[Any, ...], out: Any, x: Any) -> Any:
        (dx,) = tangents
        return dx - Sum.call(Exp.call(out) * dx, axis=(self.axis,), keepdim=True)

    def batch(self, batched: tuple[bool, ...], x: Any, **params: Any) -> Any:
        return LogSoftmax.call(x, axis=params["axis"] + 1)


@register
class SoftmaxCrossEntropy(Function):
    """loss_i = -Σ_c q_ic · log_softmax(x)_ic for logits x (N, C) and integer labels (N,), with the target
    q_i = (1-ε)·onehot(label_i) + ε/C; 0 on rows labelled `ignore_index`. `reduction` "none" gives the
    rows, "sum" their sum, "mean" their sum over the number of rows kept (nan when none is, as PyTorch).
    d loss_i / d x_i = softmax(x_i) - q_i (0 on ignored rows; over the count for "mean"); labels get none.

    The reduction is part of the primitive because the loss is usually the last op of a step, where a
    sum, a count of the kept rows and a division would be four more nodes on a (N,) vector.
    """

    __slots__ = ("ignore_index", "smoothing", "reduction", "logp")
    logp: Any  # the forward's log-softmax (an array, or a traced one), None once a freeing backward used it

    def forward(self, x: np.ndarray, labels: np.ndarray, ignore_index: int, smoothing: float,
                reduction: str = "none") -> np.ndarray:
        self.ignore_index, self.smoothing, self.reduction = ignore_index, smoothing, reduction
        logp = self.logp = LogSoftmax().forward(x, axis=1)  # kept: its exp is the softmax the vjp needs
        kept = labels != ignore_index
        picked = logp[np.arange(len(labels)), np.where(kept, labels, 0)]
        loss = -picked if smoothing == 0 else -(1 - smoothing) * picked - smoothing * logp.mean(axis=1)
        loss = np.where(kept, loss, np.zeros((), x.dtype))
        if reduction == "none":
            return loss  # type: ignore[no-any-return]
        total = loss.sum()
        if reduction == "sum":
            return total  # type: ignore[no-any-return]
        with np.errstate(invalid="ignore"):  # every row ignored: 0/0 is nan, as PyTorch
            return np.divide(total, kept.sum(dtype=x.dtype))  # type: ignore[no-any-return]

    def vjp(self, g: Any, out: Any, x: Any, labels: Any) -> tuple[Any, None]:
        rows, classes = x.shape
        if isinstance(x, TensorCore):  # create_graph: the gradient is itself differentiable, so built of nodes
            target, kept = label_target(labels, classes, x.dtype, self.ignore_index, self.smoothing)
            diff = Exp.call(LogSoftmax.call(x, axis=1)) * kept - target
            if self.reduction == "mean":
                return diff * (g / _divisor(labels, self.ignore_index, x.dtype)), None
            return diff * (Reshape.call(g, shape=(rows, 1)) if self.reduction == "none" else g), None
        # Arrays (a plain backward, or the jit's recording): the softmax from the forward's log_softmax, and
        # as few kernels as the rule allows, since this runs on every training step.
        softmax = np.exp(self.logp)
        if getattr(self, "arity", 0) == 0:  # the walk is freeing this graph (no retain_graph): free the saved
            self.logp = None  # log-softmax with it, rather than for as long as the loss tensor lives
        kept = labels != self.ignore_index
        hit = labels[:, None] == np.arange(classes)
        if self.smoothing == 0:
            diff = softmax - hit
        else:
            diff = softmax - (hit * (1 - self.smoothing) + self.smoothing / classes).astype(x.dtype)
        np.multiply(diff, kept[:, None], out=diff)
        if self.reduction == "none":
            return diff * g.reshape((rows, 1)), None
        if self.reduction == "mean":
            g = g / _divisor(labels, self.ignore_index, x.dtype)
        return diff * g, None

    def jvp(self, tangents: tuple[Any, ...], out: Any, x: Any, labels: Any) -> Any:
        dx = tangents[0]  # labels are data: they have no tangent
        target, kept = label_target(labels, x.shape[1], x.dtype, self.ignore_index, self.smoothing)
        rows = Sum.call((Exp.call(LogSoftmax.call(x, axis=1)) * kept - target) * dx, axis=(1,), keepdim=False)
        if self.reduction == "none":
            return rows
        total = Sum.call(rows, axis=(0,), keepdim=False)
        if self.reduction == "sum":
            return total
        return total / _divisor(labels, self.ignore_index, x.dtype)

    def batch(self, batched: tuple[bool, ...], x: Any, labels: Any, **params: Any) -> Any:
        # One example's rows, for every example: all rows in one call, then split by example again and
        # reduced per example.
        n = batch_size(batched, (x, labels))
        if not batched[0]:
            x = Expand.call(x.reshape((1, *x.shape)), shape=(n, *x.shape))
        if not batched[1]:
            labels = Expand.call(labels.reshape((1, *labels.shape)), shape=(n, *labels.shape))
        reduction = params.get("reduction", "none")
        rows = SoftmaxCrossEntropy.call(x.reshape((-1, x.shape[-1])), labels.reshape((-1,)),
                                        **{**params, "reduction": "none"}).reshape((n, -1))
        if reduction == "none":
            return rows
        total = Sum.call(rows, axis=(1,), keepdim=False)
        if reduction == "sum":
            return total
        counts = apply(NumpyFn, labels, func=_kept_per_example, ignore_index=params["ignore_index"], dtype=x.dtype)
        return total / counts[0] + counts[1]


def _divisor(labels: Any, ignore_index: int, dtype: np.dtype) -> Any:
    """The "mean" gradient's divisor: the number of rows kept, or 1 when there is none (every row's gradient
    is 0 then, as PyTorch). For a Tensor of labels, made by a recorded op, so vmap and the jit follow each
    batch's labels."""
    if isinstance(labels, TensorCore):
        return apply(NumpyFn, labels, func=_divisor, ignore_index=ignore_index, dtype=dtype)
    return np.maximum((labels != ignore_index).sum(dtype=dtype), 1)


def _kept_per_example(labels: np.ndarray, ignore_index: int, dtype: np.dtype) -> np.ndarray:
    """Per example (rows of labels): [the kept count or 1, and 0 or nan where none is kept] - the divisor and
    the term that makes an example with every row ignored nan, as the unbatched mean."""
    count = (labels.reshape(len(labels), -1) != ignore_index).sum(axis=1, dtype=dtype)
    return np.stack([np.maximum(count, 1), np.where(count == 0, np.nan, 0).astype(dtype)])
