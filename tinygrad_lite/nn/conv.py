"""Convolution layers with PyTorch's arguments, initialisation and state-dict keys (`weight`, `bias`).

`Conv1d/2d/3d` hold a weight (out_channels, in_channels/groups, *kernel_size); `ConvTranspose2d` one of
(in_channels, out_channels/groups, *kernel_size). Both start as PyTorch's do: the weight kaiming_uniform_
with a=√5 and the bias uniform on ±1/√fan_in (fan_in = weight.shape[1]·Πkernel), drawn from the generator
`Tensor.manual_seed` seeds.

>>> from tinygrad_lite import Tensor, nn
>>> Tensor.manual_seed(0)
>>> conv = nn.Conv2d(3, 8, kernel_size=3, padding=1)
>>> conv(Tensor.zeros(2, 3, 16, 16)).shape, conv.weight.shape
((2, 8, 16, 16), (8, 3, 3, 3))
"""
from __future__ import annotations

import math
from typing import Any

from .._conv import padding_pairs, per_axis
from ..tensor import Tensor
from . import init
from .linear import check_size
from .module import Module


def _parameters(shape: tuple[int, ...], bias_size: int | None, dtype: Any) -> tuple[Tensor, Tensor | None]:
    """PyTorch's initial weight and bias: kaiming_uniform_(a=√5), and U(±1/√fan_in) for the bias."""
    weight = init.kaiming_uniform_(Tensor.empty(*shape, dtype=dtype, requires_grad=True), a=math.sqrt(5))
    if bias_size is None:
        return weight, None
    bound = 1 / math.sqrt(shape[1] * math.prod(shape[2:]))
    return weight, init.uniform_(Tensor.empty(bias_size, dtype=dtype, requires_grad=True), -bound, bound)


def _channels(name: str, in_channels: int, out_channels: int, groups: int,
              padding_mode: str) -> tuple[int, int, int]:
    """A convolution's channel counts and groups, checked (groups must divide both), and its padding mode."""
    sizes = (check_size(name, "in_channels", in_channels), check_size(name, "out_channels", out_channels),
             check_size(name, "groups", groups))
    if sizes[0] % sizes[2] or sizes[1] % sizes[2]:
        raise ValueError(f"{name}: in_channels ({in_channels}) and out_channels ({out_channels}) must be "
                         f"divisible by groups ({groups})")
    if padding_mode != "zeros":
        raise ValueError(f"{name}: only padding_mode='zeros' is supported, got {padding_mode!r}")
    return sizes


class _ConvNd(Module):
    dims = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 dilation: Any = 1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        name = type(self).__name__
        self.in_channels, self.out_channels, self.groups = _channels(name, in_channels, out_channels, groups,
                                                                     padding_mode)
        nd = self.dims
        self.kernel_size = per_axis(name, "kernel_size", kernel_size, nd)
        self.stride = per_axis(name, "stride", stride, nd)
        self.dilation = per_axis(name, "dilation", dilation, nd)
        if isinstance(padding, str):
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(f"{name}: padding='same' needs stride 1, got stride {self.stride}")
            padding_pairs(name, padding, nd, self.kernel_size, self.dilation)  # checks the word
            self.padding: Any = padding
        else:
            self.padding = per_axis(name, "padding", padding, nd, minimum=0)
        self.padding_mode = padding_mode
        shape = (self.out_channels, self.in_channels // self.groups, *self.kernel_size)
        self.weight, self.bias = _parameters(shape, self.out_channels if bias else None, dtype)

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            raise TypeError(f"{self!r} expects a Tensor, got {type(x).__name__}")
        return x.conv2d(self.weight, self.bias, groups=self.groups, stride=self.stride, dilation=self.dilation,
                        padding=self.padding)

    def extra_repr(self) -> str:
        parts = [f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"]
        if self.padding != (0,) * self.dims:
            parts.append(f"padding={self.padding}")
        if self.dilation != (1,) * self.dims:
            parts.append(f"dilation={self.dilation}")
        if self.groups != 1:
            parts.append(f"groups={self.groups}")
        if self.bias is None:
            parts.append("bias=False")
        return ", ".join(parts)


class Conv1d(_ConvNd):
    """1-D convolution over (N, C, L) inputs. `nn.Conv1d(4, 8, 3, padding=1)`"""

    dims = 1


class Conv2d(_ConvNd):
    """2-D convolution over (N, C, H, W) inputs. `nn.Conv2d(3, 16, 3, stride=2, padding=1)`"""

    dims = 2


class Conv3d(_ConvNd):
    """3-D convolution over (N, C, D, H, W) inputs. `nn.Conv3d(1, 4, (3, 3, 3))`"""

    dims = 3


class ConvTranspose2d(Module):
    """The transposed 2-D convolution (PyTorch's argument order). `nn.ConvTranspose2d(16, 8, 4, stride=2,
    padding=1)` doubles H and W."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 output_padding: Any = 0, groups: int = 1, bias: bool = True, dilation: Any = 1,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        name = "ConvTranspose2d"
        self.in_channels, self.out_channels, self.groups = _channels(name, in_channels, out_channels, groups,
                                                                     padding_mode)
        self.kernel_size = per_axis(name, "kernel_size", kernel_size, 2)
        self.stride = per_axis(name, "stride", stride, 2)
        self.padding = per_axis(name, "padding", padding, 2, minimum=0)
        self.output_padding = per_axis(name, "output_padding", output_padding, 2, minimum=0)
        self.dilation = per_axis(name, "dilation", dilation, 2)
        self.padding_mode = padding_mode
        shape = (self.in_channels, self.out_channels // self.groups, *self.kernel_size)
        self.weight, self.bias = _parameters(shape, self.out_channels if bias else None, dtype)

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            raise TypeError(f"{self!r} expects a Tensor, got {type(x).__name__}")
        return x.conv_transpose2d(self.weight, self.bias, groups=self.groups, stride=self.stride,
                                  dilation=self.dilation, padding=self.padding, output_padding=self.output_padding)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, output_padding={self.output_padding}")
