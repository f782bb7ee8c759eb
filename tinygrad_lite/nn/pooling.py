"""Pooling layers with PyTorch's arguments: `MaxPool2d`, `AvgPool2d`, `AdaptiveAvgPool2d`.

>>> from tinygrad_lite import Tensor, nn
>>> x = Tensor.ones(1, 2, 6, 6)
>>> nn.MaxPool2d(2)(x).shape, nn.AvgPool2d(3, stride=1, padding=1)(x).shape, nn.AdaptiveAvgPool2d(1)(x).shape
((1, 2, 3, 3), (1, 2, 6, 6), (1, 2, 1, 1))
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .._conv import per_axis
from ..tensor import Tensor
from .module import Module


def _tensor(owner: Module, x: Any) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{owner!r} expects a Tensor, got {type(x).__name__}")
    return x


class MaxPool2d(Module):
    """The largest element of each window; its gradient goes to the window's first largest element."""

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
                 return_indices: bool = False, ceil_mode: bool = False) -> None:
        super().__init__()
        if return_indices:
            raise ValueError("MaxPool2d(return_indices=True) is not supported")
        self.kernel_size = per_axis("MaxPool2d", "kernel_size", kernel_size, 2)
        self.stride = self.kernel_size if stride is None else per_axis("MaxPool2d", "stride", stride, 2)
        self.padding = per_axis("MaxPool2d", "padding", padding, 2, minimum=0)
        self.dilation = per_axis("MaxPool2d", "dilation", dilation, 2)
        self.ceil_mode = bool(ceil_mode)

    def forward(self, x: Tensor) -> Tensor:
        return _tensor(self, x).max_pool2d(self.kernel_size, self.stride, self.dilation, self.padding, self.ceil_mode)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool2d(Module):
    """The mean of each window, with PyTorch's divisors (`count_include_pad`, `divisor_override`)."""

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override: int | None = None) -> None:
        super().__init__()
        self.kernel_size = per_axis("AvgPool2d", "kernel_size", kernel_size, 2)
        self.stride = self.kernel_size if stride is None else per_axis("AvgPool2d", "stride", stride, 2)
        self.padding = per_axis("AvgPool2d", "padding", padding, 2, minimum=0)
        self.ceil_mode, self.count_include_pad = bool(ceil_mode), bool(count_include_pad)
        self.divisor_override = divisor_override

    def forward(self, x: Tensor) -> Tensor:
        return _tensor(self, x).avg_pool2d(self.kernel_size, self.stride, 1, self.padding, self.ceil_mode,
                                           self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


def adaptive_matrix(size: int, out: int, dtype: Any) -> np.ndarray:
    """The (out, size) matrix that averages PyTorch's adaptive windows [⌊i·size/out⌋, ⌈(i+1)·size/out⌉)."""
    i = np.arange(out)
    start, end = (i * size) // out, -((-(i + 1) * size) // out)
    j = np.arange(size)
    inside = (j >= start[:, None]) & (j < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


def adaptive_avg_pool2d(x: Tensor, output_size: Any) -> Tensor:
    """Average over PyTorch's adaptive windows so the last two axes become `output_size` (None keeps one)."""
    if x.ndim < 2:
        raise ValueError(f"adaptive_avg_pool2d: input needs at least 2 axes, got shape {x.shape}")
    if x.dtype.kind != "f":
        raise TypeError(f"adaptive_avg_pool2d: input must be a floating-point tensor, got {x.dtype}")
    sizes = output_size if isinstance(output_size, (tuple, list)) else (output_size, output_size)
    if len(sizes) != 2:
        raise ValueError(f"adaptive_avg_pool2d: output_size must be an int or 2 ints, got {output_size!r}")
    oh, ow = (n if o is None else o for o, n in zip(sizes, x.shape[-2:]))
    if not all(isinstance(o, (int, np.integer)) and o >= 1 for o in (oh, ow)):
        raise ValueError(f"adaptive_avg_pool2d: output sizes must be positive ints, got {output_size!r}")
    h, w = x.shape[-2:]
    if (oh, ow) == (1, 1):
        return x.mean((-2, -1), keepdim=True)
    out = x if ow == w else x @ Tensor(adaptive_matrix(w, ow, x.dtype).T)
    return out if oh == h else Tensor(adaptive_matrix(h, oh, x.dtype)) @ out


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed output size (global average pooling for 1). `nn.AdaptiveAvgPool2d((1, 1))`"""

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, x: Tensor) -> Tensor:
        return adaptive_avg_pool2d(_tensor(self, x), self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"
