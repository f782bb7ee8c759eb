"""`LayerNorm`: normalise over the last dimensions, then scale and shift (PyTorch's arguments and keys).

>>> from tinygrad_lite import Tensor, nn
>>> norm = nn.LayerNorm(4)
>>> [k for k in norm.state_dict()], norm(Tensor([[1.0, 2.0, 3.0, 4.0]])).shape
(['weight', 'bias'], (1, 4))
"""
from __future__ import annotations

from typing import Any

from ..tensor import Tensor
from . import functional as F
from .linear import check_size
from .module import Module


class LayerNorm(Module):
    """(x - mean) / sqrt(var + eps) · weight + bias over the trailing `normalized_shape` (an int or a tuple),
    with the biased variance. `weight` starts at ones and `bias` at zeros; `elementwise_affine=False` has
    neither, `bias=False` no bias."""

    def __init__(self, normalized_shape: int | tuple[int, ...] | list[int], eps: float = 1e-5,
                 elementwise_affine: bool = True, bias: bool = True, dtype: Any = None) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape = tuple(check_size("LayerNorm", "normalized_shape", n) for n in shape)
        if not self.normalized_shape:
            raise ValueError("LayerNorm: normalized_shape must name at least one dimension")
        self.eps = float(eps)
        self.elementwise_affine = bool(elementwise_affine)
        self.weight: Tensor | None = None
        self.bias: Tensor | None = None
        if self.elementwise_affine:
            self.weight = Tensor.ones(*self.normalized_shape, dtype=dtype, requires_grad=True)
            if bias:
                self.bias = Tensor.zeros(*self.normalized_shape, dtype=dtype, requires_grad=True)

    def forward(self, x: Tensor) -> Tensor:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
