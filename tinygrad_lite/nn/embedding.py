"""`Embedding`: a table of vectors looked up by integer index, initialised N(0, 1) as PyTorch's.

>>> from tinygrad_lite import Tensor, nn
>>> Tensor.manual_seed(0)
>>> emb = nn.Embedding(10, 4, padding_idx=0)
>>> emb(Tensor([[1, 0, 3]])).shape, emb.weight[0].tolist()
((1, 3, 4), [0.0, 0.0, 0.0, 0.0])
"""
from __future__ import annotations

from typing import Any

from ..tensor import Tensor
from . import functional as F
from . import init
from .linear import check_size
from .module import Module


def check_padding_idx(padding_idx: Any, num_embeddings: int) -> int | None:
    """PyTorch's rule: an index into the table, negative counting from the end; stored non-negative."""
    if padding_idx is None:
        return None
    if isinstance(padding_idx, bool) or not isinstance(padding_idx, int) or \
            not -num_embeddings <= padding_idx < num_embeddings:
        raise ValueError(f"Embedding: padding_idx must be an int in [-{num_embeddings}, {num_embeddings}), "
                         f"got {padding_idx!r}")
    return padding_idx % num_embeddings


class Embedding(Module):
    """`weight` (num_embeddings, embedding_dim) drawn from N(0, 1); the row `padding_idx` (if given) starts at
    zero and gets no gradient, so it stays as it is. The input is an integer tensor of any shape; the output
    adds a last axis of embedding_dim."""

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                 sparse: bool = False, _weight: Tensor | None = None, _freeze: bool = False,
                 dtype: Any = None) -> None:
        super().__init__()
        if max_norm is not None or scale_grad_by_freq or sparse:
            raise NotImplementedError("Embedding: max_norm, scale_grad_by_freq and sparse are not supported")
        self.num_embeddings = check_size("Embedding", "num_embeddings", num_embeddings)
        self.embedding_dim = check_size("Embedding", "embedding_dim", embedding_dim)
        self.padding_idx = check_padding_idx(padding_idx, self.num_embeddings)
        if _weight is None:
            self.weight = init.normal_(Tensor.empty(self.num_embeddings, self.embedding_dim, dtype=dtype,
                                                    requires_grad=True))
            if self.padding_idx is not None:
                self.weight.data[self.padding_idx] = 0
        else:
            if _weight.shape != (self.num_embeddings, self.embedding_dim):
                raise ValueError(f"Embedding: _weight of shape {_weight.shape} does not match "
                                 f"({self.num_embeddings}, {self.embedding_dim})")
            self.weight = Tensor(_weight.data, requires_grad=not _freeze)

    @classmethod
    def from_pretrained(cls, embeddings: Tensor, freeze: bool = True, padding_idx: int | None = None) -> Embedding:
        """An Embedding holding a copy of `embeddings` (2-D); frozen (no gradient) unless freeze=False."""
        if not isinstance(embeddings, Tensor) or embeddings.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be a 2-D Tensor, got "
                             f"{getattr(embeddings, 'shape', type(embeddings).__name__)}")
        rows, cols = embeddings.shape
        return cls(rows, cols, padding_idx=padding_idx, _weight=embeddings, _freeze=freeze)

    def forward(self, x: Tensor) -> Tensor:
        return F.embedding(x, self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        pad = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}"
