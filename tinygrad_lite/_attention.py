"""Attention and the ops around it on the Tensor, with tinygrad's names and signatures: `one_hot`,
`masked_fill`, `Tensor.einsum`, `layernorm`, `scaled_dot_product_attention`.

>>> from tinygrad_lite import Tensor
>>> q = k = v = Tensor.ones(1, 2, 4, 8)
>>> q.scaled_dot_product_attention(k, v, is_causal=True).shape
(1, 2, 4, 8)
>>> Tensor([0, 2]).one_hot(3).tolist()
[[1, 0, 0], [0, 0, 1]]
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from . import dtypes
from ._dropout import check_probability, dropout_mask_apply
from ._reduce import normalize_axis
from .function import NumpyFn
from .node import TensorCore, apply, lift
from .ops.attention import Softmax
from .ops.einsum import Einsum, canonical
from .ops.embedding import EmbeddingLookup
from .ops.gelu import GeluTanh  # noqa: F401 - registered here until Tensor.gelu (_elementwise.py) calls it
from .ops.layernorm import LayerNorm
from .ops.narrow import Narrow  # noqa: F401 - registered with the other attention primitives

if TYPE_CHECKING:
    from .tensor import Tensor

__all__ = ["AttentionMixin", "attention", "embedding"]


def _one_hot(x: np.ndarray, num_classes: int, dtype: np.dtype) -> np.ndarray:
    if x.size and (bool((x < 0).any()) or bool((x >= num_classes).any())):
        bad = np.asarray(x)
        raise ValueError(f"one_hot: class values must lie in [0, {num_classes}), got values from {bad.min()} "
                         f"to {bad.max()}")
    return (x[..., None] == np.arange(num_classes)).astype(dtype)  # type: ignore[no-any-return]


def _additive(mask: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """A boolean keep-mask as the bias added to the scores: 0 where True, -inf where False."""
    return np.where(mask, np.zeros((), dtype), np.full((), -np.inf, dtype))  # type: ignore[no-any-return]


def _causal_bias(queries: int, keys: int, dtype: np.dtype) -> np.ndarray:
    """PyTorch's causal mask, aligned at the top left: query i sees keys 0..i."""
    return _additive(np.tril(np.ones((queries, keys), dtype=bool)), dtype)


def attention(q: Tensor, k: Tensor, v: Tensor, attn_mask: Any, dropout_p: float, is_causal: bool,
              scale: float | None, fn: str) -> tuple[Tensor, Tensor]:
    """softmax(q·kᵀ·scale + mask)·v and the attention weights (after dropout), with every check.
    `dropout_p` is applied as given (the callers decide whether training is on)."""
    for name, t in (("query", q), ("key", k), ("value", v)):
        if not isinstance(t, TensorCore):
            raise TypeError(f"{fn}: {name} must be a Tensor, got {type(t).__name__}")
        if t.dtype.kind != "f" or t.ndim < 2:
            raise ValueError(f"{fn}: {name} must be a floating-point tensor with at least 2 dimensions "
                             f"(..., length, features), got {t.dtype} {t.shape}")
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(f"{fn}: query {q.shape}, key {k.shape} and value {v.shape} must agree: query and key on "
                         f"the last dimension (features), key and value on the second last (source length)")
    if not (q.dtype == k.dtype == v.dtype):
        raise TypeError(f"{fn}: query, key and value must have one dtype, got {q.dtype}, {k.dtype}, {v.dtype}")
    length, source = q.shape[-2], k.shape[-2]
    if is_causal and attn_mask is not None:
        raise ValueError(f"{fn}: give attn_mask or is_causal=True, not both (as PyTorch)")
    factor = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    scores = q @ k.transpose(-1, -2)  # the scale and the mask are folded into the softmax primitive
    bias: Tensor | None = None
    if is_causal:
        bias = type(q)._wrap(_causal_bias(length, source, q.dtype))
    elif attn_mask is not None:
        mask: Tensor = attn_mask if isinstance(attn_mask, TensorCore) else \
            type(q)(np.asarray(attn_mask))  # type: ignore[assignment]
        try:
            if np.broadcast_shapes(mask.shape, scores.shape) != scores.shape:  # PyTorch refuses to grow them too
                raise ValueError
        except ValueError:
            raise ValueError(f"{fn}: attn_mask of shape {mask.shape} does not broadcast to the attention scores' "
                             f"shape {scores.shape} (..., {length} queries, {source} keys)") from None
        if mask.dtype.kind == "b":  # True takes part, as PyTorch's scaled_dot_product_attention
            bias = apply(NumpyFn, mask, func=_additive, dtype=q.dtype)
        elif mask.dtype.kind == "f":
            bias = mask.cast(q.dtype)
        else:
            raise TypeError(f"{fn}: attn_mask must be bool (True: attend) or float (added to the scores), "
                            f"got {mask.dtype}")
    axis = scores.ndim - 1
    if bias is None:
        weights = apply(Softmax, scores, axis=axis, scale=factor)
    else:
        weights = apply(Softmax, scores, bias, axis=axis, scale=factor)
    if dropout_p > 0.0:
        weights = dropout_mask_apply(weights, dropout_p)
    return weights @ v, weights


class AttentionMixin:
    __slots__ = ()

    def one_hot(self: Tensor, num_classes: int = -1) -> Tensor:  # type: ignore[misc]  # a mixin self-type
        """An integer tensor with a new last axis of `num_classes`, 1 at each value's class (tinygrad's int
        result; `F.one_hot` gives PyTorch's int64). `num_classes=-1` takes max + 1 (reads the values)."""
        if self.dtype.kind not in "iu":
            raise TypeError(f"one_hot: needs an integer tensor of class indices, got {self.dtype}")
        if num_classes == -1:
            num_classes = int(self.max().item()) + 1 if self.numel() else 0
        if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 0:
            raise ValueError(f"one_hot: num_classes must be a non-negative int or -1, got {num_classes!r}")
        return apply(NumpyFn, self, func=_one_hot, num_classes=int(num_classes), dtype=dtypes.default_int)

    def masked_fill(self: Tensor, mask: Any, value: Any) -> Tensor:  # type: ignore[misc]  # a mixin self-type
        """`value` where the boolean `mask` is True, self elsewhere (the two broadcast together, as PyTorch's
        and tinygrad's); the gradient reaches self where the mask is False."""
        m: Tensor = mask if isinstance(mask, TensorCore) else type(self)(np.asarray(mask))  # type: ignore[assignment]
        if m.dtype.kind != "b":
            raise TypeError(f"masked_fill: mask must be a bool tensor, got {m.dtype}")
        try:
            np.broadcast_shapes(m.shape, self.shape)
        except ValueError:
            raise ValueError(f"masked_fill: mask of shape {m.shape} does not broadcast with the tensor's shape "
                             f"{self.shape}") from None
        fill = lift(value, (self,))
        if fill.ndim != 0:
            raise ValueError(f"masked_fill: value must be a number or a 0-d tensor, got shape {fill.shape}")
        if fill.dtype != self.dtype:
            fill = fill.cast(self.dtype)
        return m.where(fill, self)

    @staticmethod
    def einsum(formula: str, *operands: Any) -> Tensor:
        """Einstein summation as np.einsum and torch.einsum read it: explicit (`"ij,jk->ik"`) or implicit
        (`"ij,jk"`) output, `...` for broadcast axes, repeated subscripts for diagonals (`"ii->i"`).
        Operands may also come as one list: `Tensor.einsum("ij,jk->ik", [a, b])`."""
        ops: Sequence[Any] = operands
        if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
            ops = operands[0]
        if not ops or not all(isinstance(t, TensorCore) for t in ops):
            raise TypeError(f"einsum: operands must be Tensors, got {[type(t).__name__ for t in ops]}")
        tensors: list[Tensor] = list(ops)
        kinds = {t.dtype for t in tensors}
        if len(kinds) > 1:  # one dtype for all, floats winning (as the arithmetic operators)
            target = np.result_type(*kinds)
            tensors = [t.cast(target) for t in tensors]
        formula = canonical(formula, [t.shape for t in tensors])
        return apply(Einsum, *tensors, formula=formula)  # type: ignore[no-any-return]

    def layernorm(self: Tensor, axis: Any = -1, eps: float = 1e-5) -> Tensor:  # type: ignore[misc]
        """(x - mean) / sqrt(var + eps) over `axis` (an int or a tuple), with the biased variance; no affine
        part (nn.LayerNorm adds weight and bias). One fused primitive."""
        if self.dtype.kind != "f":
            raise TypeError(f"layernorm: needs a floating-point tensor, got {self.dtype}")
        if eps < 0:
            raise ValueError(f"layernorm: eps must be non-negative, got {eps}")
        axes = normalize_axis(axis, self.ndim, "layernorm")
        if not axes:
            raise ValueError(f"layernorm: needs at least one axis to normalise over, tensor shape {self.shape}")
        return apply(LayerNorm, self, axis=axes, eps=float(eps))  # type: ignore[no-any-return]

    def scaled_dot_product_attention(self: Tensor, key: Tensor, value: Tensor,  # type: ignore[misc]
                                     attn_mask: Any = None, dropout_p: float = 0.0, is_causal: bool = False,
                                     scale: float | None = None) -> Tensor:
        """softmax(self·keyᵀ/√d + mask)·value with self as the query (..., L, d), key (..., S, d), value
        (..., S, dv). A bool `attn_mask` marks with True what takes part; a float one is added to the scores;
        `is_causal` lets query i see keys 0..i. A query that sees no key gets zeros (as PyTorch). Dropout on
        the weights runs only while `Tensor.training` is True (tinygrad's rule)."""
        p = check_probability("scaled_dot_product_attention", dropout_p)
        active = p if type(self).training else 0.0  # type: ignore[attr-defined]
        out, _ = attention(self, key, value, attn_mask, active, is_causal, scale, "scaled_dot_product_attention")
        return out


def embedding(weight: Tensor, indices: Any) -> Tensor:
    """Rows of `weight` picked by integer `indices` (a Tensor or array of any shape)."""
    idx = indices if isinstance(indices, TensorCore) else type(weight)(np.asarray(indices))
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be an integer tensor, got {idx.dtype}")
    if weight.ndim != 2:
        raise ValueError(f"embedding: the table must be 2-D (num_embeddings, embedding_dim), got {weight.shape}")
    return apply(EmbeddingLookup, weight, idx)  # type: ignore[no-any-return]
