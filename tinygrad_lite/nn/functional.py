"""Losses as functions, with PyTorch's names, arguments and conventions (the class dimension of
`cross_entropy`/`nll_loss` is 1, `ignore_index=-100`). Each is composed from Tensor operations, so
its gradient comes from the engine. `reduction` is "mean" (default), "sum" or "none".

>>> from tinygrad_lite import Tensor
>>> import tinygrad_lite.nn.functional as F
>>> F.mse_loss(Tensor([1.0, 3.0]), Tensor([0.0, 0.0])).item()
5.0
>>> round(F.cross_entropy(Tensor([[0.0, 0.0]]), Tensor([1])).item(), 6)   # log 2
0.693147
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .._nn_ops import (
    _kept_labels,
    check_reduction,
    kept_mask,
    out_of_range_labels,
    reduce_loss,
    reduce_rows,
    softmax_cross_entropy,
)
from ..data_checks import check
from ..function import NumpyFn
from ..node import apply
from ..ops.layernorm import LayerNorm
from ..tensor import Tensor


def _float_input(fn: str, x: Any) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{fn}: input must be a Tensor, got {type(x).__name__}")
    if x.dtype.kind != "f":
        raise TypeError(f"{fn}: input must be a floating-point tensor, got {x.dtype}")
    return x


def _target_like(fn: str, x: Tensor, target: Any) -> Tensor:
    """A target of the input's exact shape, in the input's dtype unless it is a Tensor already."""
    y = target if isinstance(target, Tensor) else Tensor(np.asarray(target), dtype=x.dtype)
    if y.shape != x.shape:
        raise ValueError(f"{fn}: target shape {y.shape} must equal input shape {x.shape}")
    return y


def _weighted(loss: Tensor, weight: Any) -> Tensor:
    return loss if weight is None else loss * weight


# --- regression -----------------------------------------------------------------------
def mse_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002 - PyTorch's name
    """(input - target)², reduced. Shapes must match (a (N, 1) vs (N,) slip would broadcast silently)."""
    x = _float_input("mse_loss", input)
    diff = x - _target_like("mse_loss", x, target)
    return reduce_loss(diff * diff, reduction)


def l1_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002
    """|input - target|, reduced."""
    x = _float_input("l1_loss", input)
    return reduce_loss((x - _target_like("l1_loss", x, target)).abs(), reduction)


# --- binary classification ------------------------------------------------------------------
def binary_cross_entropy(input: Tensor, target: Any, weight: Any = None,  # noqa: A002
                         reduction: str = "mean") -> Tensor:
    """-w·(y·log p + (1-y)·log(1-p)) for probabilities p in [0, 1]; each log is floored at -100 as PyTorch."""
    x = _float_input("binary_cross_entropy", input)
    y = _target_like("binary_cross_entropy", x, target)
    check(_probabilities, x)  # and on every jit replay
    loss = x.binary_crossentropy(y, reduction="none")
    return reduce_loss(_weighted(loss, weight), reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Any, weight: Any = None,  # noqa: A002
                                     reduction: str = "mean", pos_weight: Any = None) -> Tensor:
    """BCE of σ(x) computed from the logits x without rounding σ to 0 or 1:
    (1-y)·x + (1 + (pos_weight-1)·y)·softplus(-x), which is softplus(x) - x·y when pos_weight is None."""
    x = _float_input("binary_cross_entropy_with_logits", input)
    y = _target_like("binary_cross_entropy_with_logits", x, target)
    if pos_weight is None:
        loss = x.binary_crossentropy_logits(y, reduction="none")
    else:
        loss = (1 - y) * x + (1 + (pos_weight - 1) * y) * (-x).softplus()
    return reduce_loss(_weighted(loss, weight), reduction)


def _probabilities(p: np.ndarray) -> None:
    if np.any((p < 0) | (p > 1)):
        raise ValueError(f"binary_cross_entropy: input values must lie in [0, 1], got values from "
                         f"{p.min()} to {p.max()} (use binary_cross_entropy_with_logits for logits)")


# --- multi-class ------------------------------------------------------------------------------
def _classes_last(fn: str, x: Tensor) -> Tensor:
    """(C,), (N, C) or (N, C, d1, ...) → (M, C) with the class dimension last, rows in target order."""
    if x.ndim == 0:
        raise ValueError(f"{fn}: input needs a class dimension, got a 0-d tensor")
    if x.ndim > 2:
        x = x.permute(0, *range(2, x.ndim), 1)
    return x.reshape(-1, x.shape[-1])


def _class_weight(fn: str, weight: Any, classes: int, dtype: np.dtype) -> Tensor | None:
    """The per-class weights as a tensor of the input's dtype; a Tensor stays one (so a jit reads it per
    call), with no gradient (PyTorch's weight takes none either)."""
    if weight is None:
        return None
    w = weight.detach() if isinstance(weight, Tensor) else Tensor(np.asarray(weight))
    if w.shape != (classes,):
        raise ValueError(f"{fn}: weight must have shape ({classes},) (one per class), got {w.shape}")
    return w if w.dtype == dtype else w.cast(dtype)


def _picked_nll(fn: str, logp: Tensor, input_shape: tuple[int, ...], target: Any, weight: Tensor | None,
                ignore_index: int) -> tuple[Tensor, Tensor, Tensor, tuple[int, ...]]:
    """-w[t]·logp[t] per row of the (M, C) log-probabilities, after checking the integer class indices
    against the input. Also returns the row weights w[t] (0 where ignored), the mask of rows not ignored
    and the target's shape. Everything computed from the labels goes through NumpyFn, so a jit replays
    it for each batch's labels."""
    labels = _class_indices(fn, input_shape, target, logp.shape[-1], ignore_index)
    flat = labels.reshape(-1)
    y = target if isinstance(target, Tensor) else Tensor._wrap(labels)
    safe = apply(NumpyFn, y, func=_kept_labels, ignore_index=ignore_index)
    kept = apply(NumpyFn, y, func=kept_mask, ignore_index=ignore_index, dtype=logp.dtype)
    row_w = kept if weight is None else apply(NumpyFn, safe, kept, weight, func=_row_weights)
    picked = logp[np.arange(flat.shape[0]), safe]
    return -picked * row_w, row_w, kept, labels.shape


def _class_indices(fn: str, input_shape: tuple[int, ...], target: Any, classes: int, ignore_index: int) -> np.ndarray:
    """The integer class-index target as an array, checked against the input's shape and class count."""
    labels = target.data if isinstance(target, Tensor) else np.asarray(target)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"{fn}: class-index targets must be integers, got {labels.dtype}")
    expected = input_shape[:1] + input_shape[2:] if len(input_shape) > 1 else ()
    if labels.shape != expected:
        raise ValueError(f"{fn}: input of shape {input_shape} needs a target of shape {expected}, "
                         f"got {labels.shape}")
    check(_indices_in_range, target if isinstance(target, Tensor) else Tensor._wrap(labels), fn=fn,
          classes=classes, ignore_index=ignore_index)  # and on every jit replay
    return labels


def _indices_in_range(labels: np.ndarray, fn: str, classes: int, ignore_index: int) -> None:
    bad = out_of_range_labels(labels, classes, ignore_index)
    if bad.size:
        raise ValueError(f"{fn}: class indices must lie in [0, {classes}) or equal ignore_index={ignore_index}, "
                         f"got {bad.tolist()[:5]}")


def _row_weights(safe: np.ndarray, kept: np.ndarray, weight: np.ndarray) -> np.ndarray:
    return weight[safe] * kept


def nll_loss(input: Tensor, target: Any, weight: Any = None, ignore_index: int = -100,  # noqa: A002
             reduction: str = "mean") -> Tensor:
    """-weight[t]·input[t] for log-probabilities `input` (C,), (N, C) or (N, C, d1, ...) and integer
    targets (), (N,) or (N, d1, ...); rows whose target is `ignore_index` count for nothing."""
    x = _float_input("nll_loss", input)
    logp = _classes_last("nll_loss", x)
    w = _class_weight("nll_loss", weight, logp.shape[-1], x.dtype)
    loss, row_w, _, shape = _picked_nll("nll_loss", logp, x.shape, target, w, ignore_index)
    return reduce_rows(loss, row_w.sum(), shape, reduction)


def cross_entropy(input: Tensor, target: Any, weight: Any = None, ignore_index: int = -100,  # noqa: A002
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy of logits `input` (class dimension 1, or 0 for a 1-D input).

    `target` holds either integer class indices (shape of input without the class dimension), or class
    probabilities — one-hot or soft — of the input's own shape (a float tensor). `label_smoothing` ε mixes
    the target with the uniform distribution: (1-ε)·target + ε/C."""
    x = _float_input("cross_entropy", input)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must lie in [0, 1], got {label_smoothing}")
    check_reduction(reduction)
    logits = _classes_last("cross_entropy", x)
    classes = logits.shape[-1]
    w = _class_weight("cross_entropy", weight, classes, x.dtype)
    is_float = (target.dtype if isinstance(target, Tensor) else np.asarray(target).dtype).kind == "f"
    if w is None and not is_float:  # the common case, one fused primitive (as Tensor.sparse_categorical_crossentropy)
        labels = _class_indices("cross_entropy", x.shape, target, classes, ignore_index)
        y = (target if isinstance(target, Tensor) else Tensor._wrap(labels)).reshape(-1)
        return softmax_cross_entropy(logits, y, labels.shape, ignore_index, label_smoothing, reduction)
    logp = logits.log_softmax(-1)
    weighted_logp = logp if w is None else logp * w
    if is_float:
        y = _classes_last("cross_entropy", _target_like("cross_entropy", x, target))
        if label_smoothing:
            y = y * (1 - label_smoothing) + label_smoothing / classes
        loss = -(weighted_logp * y).sum(-1)
        return reduce_loss(loss.reshape(x.shape[:1] + x.shape[2:] if x.ndim > 1 else ()), reduction)
    loss, row_w, kept, shape = _picked_nll("cross_entropy", logp, x.shape, target, w, ignore_index)
    if label_smoothing:
        # PyTorch's smoothing term -Σ_c w_c·logp_c / C, on the rows not ignored, normalised like the NLL part.
        smooth = -weighted_logp.sum(-1) * kept
        loss = loss * (1 - label_smoothing) + smooth * (label_smoothing / classes)
    return reduce_rows(loss, row_w.sum(), shape, reduction)


# --- activations, for code written as F.relu(x) ------------------------------------------------
def relu(x: Tensor) -> Tensor:
    return x.relu()


def sigmoid(x: Tensor) -> Tensor:
    return x.sigmoid()


def tanh(x: Tensor) -> Tensor:
    return x.tanh()


def silu(x: Tensor) -> Tensor:
    return x.silu()


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """x·Φ(x), exact (erf) by default as torch.nn.functional.gelu; `approximate="tanh"` as `Tensor.gelu()`."""
    return x.gelu(approximate=approximate)


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    return x.leaky_relu(negative_slope)


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    return x.softmax(dim=dim)


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    return x.log_softmax(dim=dim)


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x·weightᵀ + bias with weight of shape (out, in), as torch.nn.functional.linear. A 1-D weight (in,)
    is a single output squeezed away: (..., in) gives (...), as PyTorch (Tensor.linear, tinygrad's,
    multiplies elementwise by a 1-D weight instead)."""
    out = x.matmul(weight.T) if weight.ndim > 1 else x.matmul(weight)
    return out if bias is None else out + bias


# --- regularization ----------------------------------------------------------------------------
def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:  # noqa: A002
    """Zero each element with probability p and scale the rest by 1/(1-p) when `training` (PyTorch's
    default True, whatever `Tensor.training` says); the input itself otherwise."""
    from .._dropout import check_probability, dropout_mask_apply

    q = check_probability("dropout", p)
    if inplace:
        raise ValueError("dropout(inplace=True) is not supported: tensors here are not modified in place")
    if not isinstance(input, Tensor):
        raise TypeError(f"dropout: input must be a Tensor, got {type(input).__name__}")
    return dropout_mask_apply(input, q) if training else input


# --- embeddings, normalization, attention ------------------------------------------------------------------
def embedding(input: Any, weight: Tensor, padding_idx: int | None = None,  # noqa: A002 - PyTorch's name
              max_norm: float | None = None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
              sparse: bool = False) -> Tensor:
    """The rows of `weight` (num_embeddings, dim) at the integer `input` indices (any shape): the result has
    shape input.shape + (dim,). Repeated indices add up in the gradient; the row `padding_idx` gets none."""
    from .._attention import embedding as lookup

    if max_norm is not None or scale_grad_by_freq or sparse:
        raise NotImplementedError("embedding: max_norm, scale_grad_by_freq and sparse are not supported")
    if not isinstance(weight, Tensor):
        raise TypeError(f"embedding: weight must be a Tensor, got {type(weight).__name__}")
    out = lookup(weight, input)
    if padding_idx is None:
        return out
    rows = weight.shape[0]
    if isinstance(padding_idx, bool) or not isinstance(padding_idx, int) or not -rows <= padding_idx < rows:
        raise ValueError(f"embedding: padding_idx must be an int in [-{rows}, {rows}), got {padding_idx!r}")
    idx = input if isinstance(input, Tensor) else Tensor(np.asarray(input))
    kept = (idx != padding_idx % rows).unsqueeze(-1)
    return kept.where(out, out.detach())  # the same values; no gradient reaches the padding row


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot rows with a new last axis of `num_classes` (max + 1 when -1), as PyTorch."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"one_hot: input must be a Tensor, got {type(tensor).__name__}")
    return tensor.one_hot(num_classes).cast(np.int64)


def layer_norm(input: Tensor, normalized_shape: Any, weight: Tensor | None = None,  # noqa: A002
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise over the trailing `normalized_shape` dimensions (biased variance), then · weight + bias."""
    x = _float_input("layer_norm", input)
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if not shape or x.shape[x.ndim - len(shape):] != shape or len(shape) > x.ndim:
        raise ValueError(f"layer_norm: normalized_shape {shape} must match the input's trailing dimensions, "
                         f"got an input of shape {x.shape}")
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and p.shape != shape:
            raise ValueError(f"layer_norm: {name} of shape {p.shape} must have normalized_shape {shape}")
    axes = tuple(range(x.ndim - len(shape), x.ndim))
    if weight is None:
        out = x.layernorm(axis=axes, eps=eps)
        return out if bias is None else out + bias
    affine = [p if p.dtype == x.dtype else p.cast(x.dtype) for p in (weight, bias) if p is not None]
    if eps < 0:
        raise ValueError(f"layer_norm: eps must be non-negative, got {eps}")
    return apply(LayerNorm, x, *affine, axis=axes, eps=float(eps))  # one primitive, the affine part fused


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Any = None,
                                 dropout_p: float = 0.0, is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """softmax(query·keyᵀ·scale + mask)·value, PyTorch's function: a bool `attn_mask` marks with True what
    takes part, a float one is added; `is_causal` masks the future; dropout on the weights whenever
    dropout_p > 0 (PyTorch's rule: pass `dropout_p=p if training else 0.0`)."""
    from .._attention import attention
    from .._dropout import check_probability

    if enable_gqa:
        raise NotImplementedError("scaled_dot_product_attention: enable_gqa is not supported")
    p = check_probability("scaled_dot_product_attention", dropout_p)
    out, _ = attention(query, key, value, attn_mask, p, is_causal, scale, "scaled_dot_product_attention")
    return out

# --- convolution, pooling, normalization (PyTorch's signatures) ----------------------------------------------
def _conv(fn: str, nd: int, input: Tensor, weight: Tensor) -> None:  # noqa: A002
    if not isinstance(weight, Tensor) or weight.ndim != nd + 2:
        raise ValueError(f"{fn}: weight must be a {nd + 2}-D Tensor (out_channels, in_channels/groups, "
                         f"*{nd} kernel sizes), got {getattr(weight, 'shape', type(weight).__name__)}")
    if not isinstance(input, Tensor):
        raise TypeError(f"{fn}: input must be a Tensor, got {type(input).__name__}")


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1, padding: Any = 0,  # noqa: A002
           dilation: Any = 1, groups: int = 1) -> Tensor:
    """1-D convolution of (N, C, L) by weight (Co, C/groups, K)."""
    _conv("conv1d", 1, input, weight)
    return input.conv2d(weight, bias, groups=groups, stride=stride, dilation=dilation, padding=padding)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1, padding: Any = 0,  # noqa: A002
           dilation: Any = 1, groups: int = 1) -> Tensor:
    """2-D convolution of (N, C, H, W) by weight (Co, C/groups, kh, kw); padding an int, a pair,
    "same" or "valid"."""
    _conv("conv2d", 2, input, weight)
    return input.conv2d(weight, bias, groups=groups, stride=stride, dilation=dilation, padding=padding)


def conv3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1, padding: Any = 0,  # noqa: A002
           dilation: Any = 1, groups: int = 1) -> Tensor:
    """3-D convolution of (N, C, D, H, W) by weight (Co, C/groups, kd, kh, kw)."""
    _conv("conv3d", 3, input, weight)
    return input.conv2d(weight, bias, groups=groups, stride=stride, dilation=dilation, padding=padding)


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,  # noqa: A002
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1, dilation: Any = 1) -> Tensor:
    """Transposed 2-D convolution with weight (C, Co/groups, kh, kw), PyTorch's argument order."""
    if not isinstance(weight, Tensor) or weight.ndim != 4:
        raise ValueError(f"conv_transpose2d: weight must be a 4-D Tensor (in_channels, out_channels/groups, kh, kw), "
                         f"got {getattr(weight, 'shape', type(weight).__name__)}")
    if not isinstance(input, Tensor):
        raise TypeError(f"conv_transpose2d: input must be a Tensor, got {type(input).__name__}")
    return input.conv_transpose2d(weight, bias, groups=groups, stride=stride, dilation=dilation, padding=padding,
                                  output_padding=output_padding)


def max_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,  # noqa: A002
               ceil_mode: bool = False, return_indices: bool = False) -> Tensor:
    """The largest element of each window; the gradient goes to each window's first largest element."""
    if return_indices:
        raise ValueError("max_pool2d(return_indices=True) is not supported")
    return input.max_pool2d(kernel_size, stride, dilation, padding, ceil_mode)


def avg_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,  # noqa: A002
               ceil_mode: bool = False, count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """The mean of each window, with PyTorch's divisors."""
    return input.avg_pool2d(kernel_size, stride, 1, padding, ceil_mode, count_include_pad, divisor_override)


def adaptive_avg_pool2d(input: Tensor, output_size: Any) -> Tensor:  # noqa: A002
    """Average over PyTorch's adaptive windows to `output_size` on the last two axes."""
    from .pooling import adaptive_avg_pool2d as pool

    return pool(input, output_size)


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,  # noqa: A002
               weight: Tensor | None = None, bias: Tensor | None = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Batch norm over axis 1; when training, the running statistics given are updated in place."""
    from .normalization import batch_norm as bn

    return bn(input, running_mean, running_var, weight, bias, training, momentum, eps)


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None, bias: Tensor | None = None,  # noqa: A002
               eps: float = 1e-5) -> Tensor:
    """Normalise each sample over groups of channels."""
    from .normalization import group_norm as gn

    return gn(input, num_groups, weight, bias, eps)
