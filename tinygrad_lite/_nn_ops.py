"""Linear algebra and the neural-network functions on the Tensor: matmul, linear,
softmax, log_softmax and the cross-entropy losses, composed from primitives."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from . import dtypes
from ._reduce import normalize_axis
from .data_checks import check
from .function import NumpyFn
from .node import TensorCore, apply, binary_operands, lift
from .ops.linalg import Matmul
from .ops.softmax import LogSoftmax, SoftmaxCrossEntropy

if TYPE_CHECKING:
    from .tensor import Tensor


REDUCTIONS = ("mean", "sum", "none")


def check_reduction(reduction: str) -> str:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    return reduction


def reduce_loss(loss: Tensor, reduction: str) -> Tensor:
    """Apply `reduction` ("mean", "sum" or "none") to per-element losses."""
    if check_reduction(reduction) == "mean":
        return loss.mean()
    return loss.sum() if reduction == "sum" else loss


def softmax_cross_entropy(logits: Tensor, labels: Tensor, shape: tuple[int, ...], ignore_index: int,
                          label_smoothing: float, reduction: str) -> Tensor:
    """The fused primitive on logits (N, C) and labels (N,); unreduced losses take the labels' `shape`."""
    losses = apply(SoftmaxCrossEntropy, logits, labels, ignore_index=ignore_index, smoothing=float(label_smoothing),
                   reduction=check_reduction(reduction))
    return losses.reshape(shape) if reduction == "none" else losses


def reduce_rows(loss: Tensor, total: Tensor, shape: tuple[int, ...], reduction: str) -> Tensor:
    """PyTorch's rule for class-index losses: "mean" divides by `total`, the weight of the rows not ignored.
    Nothing counted (every row ignored or weighted 0) gives nan with zero gradients, as PyTorch."""
    if check_reduction(reduction) == "mean":
        return loss.sum() / apply(NumpyFn, total, func=_one_if_zero) + apply(NumpyFn, total, func=_nan_if_zero)
    return reduce_loss(loss.reshape(shape), reduction)


class NNMixin:
    __slots__ = ()

    def matmul(self: Tensor, x: Any, reverse: bool = False) -> Tensor:
        """Matrix product with NumPy's rules: 1-D, 2-D, and batched with broadcast batch axes."""
        a, b = binary_operands(self, x, reverse)
        try:
            return apply(Matmul, a, b)
        except ValueError:  # checked only on failure, to keep the hot path lean
            if a.ndim == 0 or b.ndim == 0:
                raise ValueError(f"matmul: both operands need at least 1 dimension, got shapes {a.shape} and "
                                 f"{b.shape}") from None
            ka, kb = a.shape[-1], b.shape[-2] if b.ndim > 1 else b.shape[0]
            if ka != kb:
                raise ValueError(f"matmul: shapes {a.shape} and {b.shape} are not aligned ({ka} != {kb})") from None
            batch_a, batch_b = a.shape[:-2], b.shape[:-2]
            raise ValueError(f"matmul: shapes {a.shape} and {b.shape} have batch dimensions {batch_a} and "
                             f"{batch_b} that do not broadcast") from None

    def dot(self: Tensor, w: Any) -> Tensor:
        return self.matmul(w)

    def __matmul__(self: Tensor, x: Any) -> Tensor:
        return self.matmul(x)

    def __rmatmul__(self: Tensor, x: Any) -> Tensor:
        return self.matmul(x, True)

    def linear(self: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
        """x·weight + bias, with weight of shape (in, out) as tinygrad (nn.Linear passes weight.T)."""
        out = self * weight if weight.ndim == 1 else self.matmul(weight)
        return out if bias is None else out + bias

    def softmax(self: Tensor, axis: int = -1, *, dim: int | None = None) -> Tensor:
        """e^x / Σe^x along `axis` (or PyTorch's `dim=`), shifted by the max first so it never overflows."""
        axes = normalize_axis(_axis_or_dim(axis, dim), self.ndim, "softmax")  # a bad axis is softmax's error
        if any(self.shape[a] == 0 for a in axes):  # nothing to normalise, and no max to shift by
            e = self.exp()
        else:
            e = (self - self.max(axes, keepdim=True).detach()).exp()
        return e / e.sum(axes, keepdim=True)

    def log_softmax(self: Tensor, axis: int = -1, *, dim: int | None = None) -> Tensor:
        """x - logsumexp(x) along `axis` (or `dim=`): stable for any input (one fused primitive)."""
        (ax,) = normalize_axis(_axis_or_dim(axis, dim), self.ndim, "log_softmax") or (0,)
        x = self if self.dtype.kind == "f" else self.cast(dtypes.default_float)
        if x.ndim and x.shape[ax] == 0:  # an empty axis: an empty result (the primitive shifts by a max)
            return x - x.logsumexp(ax, keepdim=True)
        return apply(LogSoftmax, x.reshape(1) if x.ndim == 0 else x, axis=ax).reshape(self.shape)

    def sparse_categorical_crossentropy(self: Tensor, Y: Any, ignore_index: int = -1,  # noqa: N803 - tinygrad's name
                                        label_smoothing: float = 0.0, reduction: str = "mean") -> Tensor:
        """Cross-entropy of logits `self` (..., C) against integer class labels Y (...)."""
        labels = Y.data if isinstance(Y, TensorCore) else np.asarray(Y)
        if labels.dtype.kind not in "iu":
            raise TypeError(f"sparse_categorical_crossentropy: labels must be integers, got {labels.dtype}")
        if self.ndim == 0 or labels.shape != self.shape[:-1]:
            raise ValueError(f"sparse_categorical_crossentropy: logits {self.shape} need labels of shape "
                             f"{self.shape[:-1]}, got {labels.shape}")
        classes = self.shape[-1]
        y: Tensor = Y if isinstance(Y, TensorCore) else type(self)._wrap(labels)  # type: ignore[assignment]
        check(_labels_in_range, y, classes=classes, ignore_index=ignore_index)  # and on every jit replay
        x = self if self.dtype.kind == "f" else self.cast(dtypes.default_float)
        if x.ndim != 2:  # one row per label
            x, y = x.reshape(-1, classes), y.reshape(-1)
        # The labels are an input of the primitive (not a constant in it), so a jit replays each batch's labels.
        return softmax_cross_entropy(x, y, labels.shape, ignore_index, label_smoothing, reduction)

    def binary_crossentropy(self: Tensor, Y: Any, reduction: str = "mean") -> Tensor:
        """-(Y·log p + (1-Y)·log(1-p)) for probabilities p = self; each log is clamped at -100 as PyTorch."""
        y = lift(Y, (self,))
        if y.shape != self.shape:
            y = y.expand(self.shape)
        return reduce_loss(-(y * _clamped_log(self) + (1 - y) * _clamped_log(1 - self)), reduction)

    def binary_crossentropy_logits(self: Tensor, Y: Any, reduction: str = "mean") -> Tensor:
        """BCE on logits x: softplus(x) - x·Y, stable for any x (no sigmoid is rounded to 0 or 1)."""
        y = lift(Y, (self,))
        return reduce_loss(self.softplus() - self * y, reduction)


def _axis_or_dim(axis: int, dim: int | None) -> int:
    return axis if dim is None else dim


def out_of_range_labels(labels: np.ndarray, classes: int, ignore_index: int) -> np.ndarray:
    """The labels outside [0, classes) that are not `ignore_index` (usually none: that is tested first)."""
    flat = labels.reshape(-1)
    # One reduction for the common case (this runs on every step): seen as unsigned, a negative label is huge,
    # so the largest is below `classes` exactly when every label lies in [0, classes).
    unsigned = flat.view(flat.dtype.str.replace("i", "u")) if flat.dtype.kind == "i" else flat
    if flat.size == 0 or unsigned.max() < classes:
        return flat[:0]
    bad = (flat < 0) | (flat >= classes)
    return flat[bad & (flat != ignore_index)]


def _labels_in_range(labels: np.ndarray, classes: int, ignore_index: int) -> None:
    if out_of_range_labels(labels, classes, ignore_index).size:
        raise ValueError(f"sparse_categorical_crossentropy: labels must lie in [0, {classes}), "
                         f"got values from {labels.min()} to {labels.max()}")


def _kept_labels(labels: np.ndarray, ignore_index: int) -> np.ndarray:
    """The labels as row indices, flat, with ignored rows pointing at class 0 (their loss is masked out)."""
    return np.where(labels != ignore_index, labels, 0).reshape(-1)


def kept_mask(labels: np.ndarray, ignore_index: int, dtype: np.dtype) -> np.ndarray:
    return (labels != ignore_index).reshape(-1).astype(dtype)


def _one_if_zero(total: np.ndarray) -> np.ndarray:
    return np.where(total != 0, total, 1).astype(total.dtype)


def _nan_if_zero(total: np.ndarray) -> np.ndarray:
    return np.where(total != 0, 0, np.nan).astype(total.dtype)


def _clamped_log(p: Tensor) -> Tensor:
    """log(p) floored at -100, with finite gradients at p = 0 (the log never sees a zero). NaN stays NaN,
    with a NaN gradient: it is not ≤ 0, so it takes the log branch, and `<` (unlike maximum) keeps it."""
    positive = ~(p <= 0)
    logp = positive.where(p, 1.0).log()
    return positive.where((logp < -100.0).where(-100.0, logp), -100.0)
