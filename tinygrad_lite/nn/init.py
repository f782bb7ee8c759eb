"""Initialisers that overwrite a tensor's data in place, drawing from the generator that
`Tensor.manual_seed` seeds (so a seeded model is reproducible). Each returns the tensor.
Fans follow PyTorch: for a weight of shape (out, in, *kernel), fan_in = in·Πkernel, fan_out = out·Πkernel.

>>> from tinygrad_lite import Tensor, nn
>>> w = nn.init.zeros_(Tensor.empty(2, 3))
>>> float(w.sum().item())
0.0
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._creation import rng
from ..tensor import Tensor


def _check(tensor: Any, fn: str) -> Tensor:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"nn.init.{fn} expects a Tensor, got {type(tensor).__name__}")
    return tensor


def _fill(tensor: Tensor, values: Any) -> Tensor:
    np.copyto(tensor.data, values, casting="unsafe")
    return tensor


def _fans(tensor: Tensor, fn: str) -> tuple[int, int]:
    if _check(tensor, fn).ndim < 2:
        raise ValueError(f"nn.init.{fn}: fan in and fan out need a tensor with at least 2 dimensions, "
                         f"got shape {tensor.shape}")
    receptive = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The gain PyTorch recommends for an activation: 1 (linear, sigmoid), 5/3 (tanh), √2 (relu),
    √(2/(1+slope²)) (leaky_relu, slope 0.01 by default), 3/4 (selu)."""
    if nonlinearity in ("linear", "identity", "sigmoid", "conv1d", "conv2d", "conv3d"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fill with draws from U(a, b)."""
    if not a <= b:
        raise ValueError(f"nn.init.uniform_: a ({a}) must not exceed b ({b})")
    return _fill(tensor, rng.gen.uniform(a, b, _check(tensor, "uniform_").shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill with draws from N(mean, std²)."""
    if std < 0:
        raise ValueError(f"nn.init.normal_: std must be non-negative, got {std}")
    return _fill(tensor, rng.gen.normal(mean, std, _check(tensor, "normal_").shape))


def constant_(tensor: Tensor, val: float) -> Tensor:
    return _fill(_check(tensor, "constant_"), val)


def zeros_(tensor: Tensor) -> Tensor:
    return _fill(_check(tensor, "zeros_"), 0)


def ones_(tensor: Tensor) -> Tensor:
    return _fill(_check(tensor, "ones_"), 1)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """U(-a, a) with a = gain·√(6 / (fan_in + fan_out)) (Glorot & Bengio)."""
    fan_in, fan_out = _fans(tensor, "xavier_uniform_")
    a = gain * math.sqrt(6.0 / (fan_in + fan_out)) if fan_in + fan_out else 0.0
    return uniform_(tensor, -a, a)


def xavier_normal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """N(0, std²) with std = gain·√(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(tensor, "xavier_normal_")
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)) if fan_in + fan_out else 0.0)


def _kaiming_std(tensor: Tensor, a: float, mode: str, nonlinearity: str, fn: str) -> float:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"nn.init.{fn}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _fans(tensor, fn)
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan) if fan else 0.0


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu") -> Tensor:
    """U(-b, b) with b = √3·gain/√fan (He et al.). nn.Linear uses a=√5, giving b = 1/√in_features."""
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_uniform_")
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu") -> Tensor:
    """N(0, std²) with std = gain/√fan."""
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_normal_"))
