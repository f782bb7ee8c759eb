"""`Linear`: y = x·Wᵀ + b, with W stored as (out_features, in_features) and initialised as PyTorch does.

>>> from tinygrad_lite import Tensor, nn
>>> Tensor.manual_seed(0)
>>> layer = nn.Linear(3, 2)
>>> layer.weight.shape, layer.bias.shape, layer(Tensor.ones(5, 3)).shape
((2, 3), (2,), (5, 2))
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..tensor import Tensor
from . import init
from .module import Module


def check_size(owner: str, name: str, value: Any) -> int:
    """A layer size must be a positive int (bools are refused although Python counts them as ints)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{owner}: {name} must be a positive int, got {value!r} ({type(value).__name__})")
    if value <= 0:
        raise ValueError(f"{owner}: {name} must be a positive int, got {value}")
    return int(value)


class Linear(Module):
    """A fully connected layer. `weight` (out, in) and `bias` (out,) start uniform on ±1/√in_features:
    kaiming_uniform_ with a=√5 for the weight, exactly PyTorch's default, drawn from the generator
    seeded by `Tensor.manual_seed`. `dtype` picks the parameters' float dtype (default float32)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype: Any = None) -> None:
        super().__init__()
        self.in_features = check_size("Linear", "in_features", in_features)
        self.out_features = check_size("Linear", "out_features", out_features)
        self.weight = Tensor.empty(self.out_features, self.in_features, dtype=dtype, requires_grad=True)
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        self.bias: Tensor | None = None
        if bias:
            bound = 1 / math.sqrt(self.in_features)
            self.bias = init.uniform_(Tensor.empty(self.out_features, dtype=dtype, requires_grad=True), -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            raise TypeError(f"{self!r} expects a Tensor, got {type(x).__name__}")
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(f"{self!r}: the input's last dimension must be {self.in_features}, got an input of "
                             f"shape {x.shape} (weight shape {self.weight.shape})")
        return x.linear(self.weight.T, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
