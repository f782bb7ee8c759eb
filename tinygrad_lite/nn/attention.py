"""`MultiheadAttention` with PyTorch's arguments, parameters, state-dict keys and return values, so a PyTorch
state dict loads and the outputs agree.

>>> from tinygrad_lite import Tensor, nn
>>> Tensor.manual_seed(0)
>>> mha = nn.MultiheadAttention(embed_dim=8, num_heads=2, batch_first=True)
>>> x = Tensor.randn(3, 5, 8)                              # (batch, sequence, features)
>>> out, weights = mha(x, x, x)
>>> out.shape, weights.shape, list(mha.state_dict())
((3, 5, 8), (3, 5, 5), ['in_proj_weight', 'in_proj_bias', 'out_proj.weight', 'out_proj.bias'])
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .._attention import attention
from .._dropout import check_probability
from ..function import NumpyFn
from ..node import apply
from ..ops.narrow import Narrow
from ..tensor import Tensor
from . import init
from .linear import Linear, check_size
from .module import Module


def _blocked(mask: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """A boolean mask in PyTorch's MultiheadAttention sense (True: may NOT attend) as an additive bias."""
    return np.where(mask, np.full((), -np.inf, dtype), np.zeros((), dtype))  # type: ignore[no-any-return]


def _bias(mask: Any, dtype: np.dtype, name: str) -> Tensor:
    m = mask if isinstance(mask, Tensor) else Tensor(np.asarray(mask))
    if m.dtype.kind == "b":
        return apply(NumpyFn, m, func=_blocked, dtype=dtype)  # type: ignore[no-any-return]
    if m.dtype.kind == "f":
        return m.cast(dtype)
    raise TypeError(f"MultiheadAttention: {name} must be bool (True: ignore) or float (added to the scores), "
                    f"got {m.dtype}")


def _thirds(packed: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """The query, key and value blocks of a packed (3E, ...) parameter, as `Narrow` views."""
    e = packed.shape[0] // 3
    return tuple(apply(Narrow, packed, axis=0, start=i * e, length=e) for i in range(3))  # type: ignore[return-value]


class MultiheadAttention(Module):
    """Attention over `num_heads` heads of embed_dim // num_heads features each.

    Parameters as PyTorch's: `in_proj_weight` (3·embed_dim, embed_dim, Xavier-uniform) and `in_proj_bias`
    (zeros), or `q_proj_weight`/`k_proj_weight`/`v_proj_weight` when kdim or vdim differ from embed_dim;
    `out_proj` a Linear whose bias starts at zero. Inputs are (L, N, E) or, with batch_first, (N, L, E), or
    unbatched (L, E). `forward` returns (output, weights): the weights averaged over heads (N, L, S), per head
    (N, H, L, S) with average_attn_weights=False, or None with need_weights=False. Masks as PyTorch's: a bool
    `key_padding_mask` (N, S) or `attn_mask` (L, S) / (N·H, L, S) marks with True what may NOT be attended to;
    float masks are added to the scores. A query that may attend to nothing gets zeros (PyTorch's
    scaled_dot_product_attention does the same; its need_weights=True path gives NaN there). Dropout on the
    weights in training mode only.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, dtype: Any = None) -> None:
        super().__init__()
        self.embed_dim = check_size("MultiheadAttention", "embed_dim", embed_dim)
        self.num_heads = check_size("MultiheadAttention", "num_heads", num_heads)
        if self.embed_dim % self.num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim ({embed_dim}) must be divisible by num_heads "
                             f"({num_heads})")
        if add_bias_kv or add_zero_attn:
            raise NotImplementedError("MultiheadAttention: add_bias_kv and add_zero_attn are not supported")
        self.kdim = self.embed_dim if kdim is None else check_size("MultiheadAttention", "kdim", kdim)
        self.vdim = self.embed_dim if vdim is None else check_size("MultiheadAttention", "vdim", vdim)
        self.head_dim = self.embed_dim // self.num_heads
        self.dropout = check_probability("MultiheadAttention", dropout)
        self.batch_first = bool(batch_first)
        e = self.embed_dim
        # Attribute order is PyTorch's state-dict order.
        self.in_proj_weight: Tensor | None = None
        self.q_proj_weight: Tensor | None = None
        self.k_proj_weight: Tensor | None = None
        self.v_proj_weight: Tensor | None = None
        if self.kdim == e and self.vdim == e:
            self.in_proj_weight = init.xavier_uniform_(Tensor.empty(3 * e, e, dtype=dtype, requires_grad=True))
        else:
            self.q_proj_weight = init.xavier_uniform_(Tensor.empty(e, e, dtype=dtype, requires_grad=True))
            self.k_proj_weight = init.xavier_uniform_(Tensor.empty(e, self.kdim, dtype=dtype, requires_grad=True))
            self.v_proj_weight = init.xavier_uniform_(Tensor.empty(e, self.vdim, dtype=dtype, requires_grad=True))
        self.in_proj_bias = Tensor.zeros(3 * e, dtype=dtype, requires_grad=True) if bias else None
        self.out_proj = Linear(e, e, bias=bias, dtype=dtype)
        if self.out_proj.bias is not None:
            init.zeros_(self.out_proj.bias)

    def _projection_weights(self) -> tuple[Tensor, Tensor, Tensor]:
        if self.in_proj_weight is not None:
            return _thirds(self.in_proj_weight)
        assert self.q_proj_weight is not None and self.k_proj_weight is not None and self.v_proj_weight is not None
        return self.q_proj_weight, self.k_proj_weight, self.v_proj_weight

    def _check(self, query: Any, key: Any, value: Any) -> bool:
        """Whether the inputs are batched; a ValueError naming the shapes when they do not fit."""
        for name, t, width in (("query", query, self.embed_dim), ("key", key, self.kdim), ("value", value, self.vdim)):
            if not isinstance(t, Tensor):
                raise TypeError(f"MultiheadAttention: {name} must be a Tensor, got {type(t).__name__}")
            if t.ndim not in (2, 3) or t.shape[-1] != width:
                raise ValueError(f"MultiheadAttention: {name} must be (L, N, {width}), (N, L, {width}) with "
                                 f"batch_first, or unbatched (L, {width}); got shape {t.shape}")
        if not query.ndim == key.ndim == value.ndim:
            raise ValueError(f"MultiheadAttention: query {query.shape}, key {key.shape} and value {value.shape} must "
                             f"all be batched or all unbatched")
        seq_axis = 1 if self.batch_first and query.ndim == 3 else 0
        if key.shape[seq_axis] != value.shape[seq_axis] or (query.ndim == 3 and not
                                                            query.shape[1 - seq_axis] == key.shape[1 - seq_axis]
                                                            == value.shape[1 - seq_axis]):
            raise ValueError(f"MultiheadAttention: query {query.shape}, key {key.shape} and value {value.shape} must "
                             f"share the batch size, and key and value the source length")
        return bool(query.ndim == 3)

    def _mask(self, key_padding_mask: Any, attn_mask: Any, is_causal: bool, n: int, length: int, source: int,
              dtype: np.dtype) -> Tensor | None:
        """Every mask as one additive bias of a shape that broadcasts to (N, H, L, S)."""
        h = self.num_heads
        bias: Tensor | None = None
        if attn_mask is not None:
            bias = _bias(attn_mask, dtype, "attn_mask")
            if bias.shape == (length, source):
                pass
            elif bias.shape == (n * h, length, source):
                bias = bias.reshape(n, h, length, source)
            else:
                raise ValueError(f"MultiheadAttention: attn_mask must be ({length}, {source}) or "
                                 f"({n * h}, {length}, {source}), got {bias.shape}")
        elif is_causal:
            causal = np.triu(np.ones((length, source), dtype=bool), 1)
            bias = Tensor._wrap(_blocked(causal, dtype))
        if key_padding_mask is not None:
            pad = _bias(key_padding_mask, dtype, "key_padding_mask")
            if pad.shape != (n, source):
                raise ValueError(f"MultiheadAttention: key_padding_mask must be (N, S) = ({n}, {source}), got "
                                 f"{pad.shape}")
            pad = pad.reshape(n, 1, 1, source)
            bias = pad if bias is None else bias + pad
        return bias

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Any = None,
                need_weights: bool = True, attn_mask: Any = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
        batched = self._check(query, key, value)
        if not batched:  # one sequence: a batch of one, dropped again at the end
            query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
            if key_padding_mask is not None:
                kpm = key_padding_mask if isinstance(key_padding_mask, Tensor) else Tensor(np.asarray(key_padding_mask))
                key_padding_mask = kpm.unsqueeze(0)
        elif self.batch_first:
            query, key, value = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
        length, n, e = query.shape  # (L, N, E) from here
        source, h, d = key.shape[0], self.num_heads, self.head_dim
        wq, wk, wv = self._projection_weights()
        bq = bk = bv = None
        if self.in_proj_bias is not None:
            bq, bk, bv = _thirds(self.in_proj_bias)

        def heads(x: Tensor, w: Tensor, b: Tensor | None, steps: int) -> Tensor:  # (S, N, ·) -> (N, H, S, D)
            return x.linear(w.T, b).reshape(steps, n, h, d).permute(1, 2, 0, 3)

        q, k, v = heads(query, wq, bq, length), heads(key, wk, bk, source), heads(value, wv, bv, source)
        bias = self._mask(key_padding_mask, attn_mask, is_causal, n, length, source, q.dtype)
        out, weights = attention(q, k, v, bias, self.dropout if self.training else 0.0, False, None,
                                 "MultiheadAttention")
        out = self.out_proj(out.permute(2, 0, 1, 3).reshape(length, n, e))  # (L, N, E)
        if not batched:
            out = out.squeeze(1)
        elif self.batch_first:
            out = out.transpose(0, 1)
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = weights.mean(axis=1)
        return out, (weights.squeeze(0) if not batched else weights)

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}, " \
               f"batch_first={self.batch_first}"
