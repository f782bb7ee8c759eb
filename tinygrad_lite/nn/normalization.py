"""`BatchNorm1d`, `BatchNorm2d` and `GroupNorm`, with PyTorch's arguments, statistics and state-dict keys.

Batch norm normalises each channel with the batch's mean and biased variance while training, and
updates the running statistics as PyTorch does: `running = (1 - momentum)·running + momentum·batch`,
with the *unbiased* batch variance for `running_var` (momentum=None: a cumulative average over the
`num_batches_tracked` batches). In eval mode it uses the running statistics. Its buffers
(`running_mean`, `running_var`, `num_batches_tracked`) are in `state_dict()` under PyTorch's names.
The update is part of the recorded step, so a jitted training step updates them on every replay.

>>> from tinygrad_lite import Tensor, nn
>>> bn = nn.BatchNorm2d(3)
>>> y = bn(Tensor.randn(4, 3, 5, 5))
>>> list(bn.state_dict()), int(bn.num_batches_tracked.item())
(['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked'], 1)
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..function import Function
from ..node import apply
from ..tensor import Tensor
from .linear import check_size
from .module import Module


class RunningStats(Function):
    """Updates the running statistics in place and passes the batch mean through (a copy, so the update
    is an op the step's result depends on: the jit replays it, never drops it). The gradient flows to the
    mean unchanged; the buffers get none. Not in REGISTRY: it is the identity, with an effect."""

    __slots__ = ()

    def forward(self, mean: np.ndarray, var: np.ndarray, running_mean: np.ndarray, running_var: np.ndarray,
                tracked: np.ndarray, momentum: float | None, count: int) -> np.ndarray:
        # The in-place writes come first: on the jit's traced arrays they raise at once (nothing written), and
        # the jit then replays this method on each call's arrays, which are the buffers themselves.
        np.add(tracked, 1, out=tracked)
        factor = 1.0 / tracked if momentum is None else momentum  # PyTorch's cumulative average for None
        unbiased = var * (count / (count - 1))
        np.multiply(running_mean, 1 - factor, out=running_mean, casting="unsafe")
        np.add(running_mean, mean * factor, out=running_mean, casting="unsafe")
        np.multiply(running_var, 1 - factor, out=running_var, casting="unsafe")
        np.add(running_var, unbiased * factor, out=running_var, casting="unsafe")
        return mean.copy()

    def vjp(self, g: Any, out: Any, *xs: Any) -> tuple[Any, ...]:
        return (g, None, None, None, None)


class _BatchNorm(Module):
    ranks: tuple[int, ...] = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        name = type(self).__name__
        self.num_features = check_size(name, "num_features", num_features)
        if not eps > 0:
            raise ValueError(f"{name}: eps must be positive, got {eps}")
        if momentum is not None and not 0.0 <= momentum <= 1.0:
            raise ValueError(f"{name}: momentum must be in [0, 1] or None, got {momentum}")
        self.eps, self.momentum = float(eps), momentum
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        self.weight: Tensor | None = Tensor.ones(num_features, dtype=dtype, requires_grad=True) if affine else None
        self.bias: Tensor | None = Tensor.zeros(num_features, dtype=dtype, requires_grad=True) if affine else None
        self.running_mean: Tensor | None = None
        self.running_var: Tensor | None = None
        self.num_batches_tracked: Tensor | None = None
        if track_running_stats:
            self.running_mean = Tensor.zeros(num_features, dtype=dtype)
            self.running_var = Tensor.ones(num_features, dtype=dtype)
            self.num_batches_tracked = Tensor(np.zeros((), np.int64))

    def reset_running_stats(self) -> None:
        if self.running_mean is not None and self.running_var is not None and self.num_batches_tracked is not None:
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1
            self.num_batches_tracked.data[...] = 0

    def forward(self, x: Tensor) -> Tensor:
        name = type(self).__name__
        if not isinstance(x, Tensor):
            raise TypeError(f"{self!r} expects a Tensor, got {type(x).__name__}")
        if x.ndim not in self.ranks or x.shape[1] != self.num_features:
            want = " or ".join(f"{r}-D" for r in self.ranks)
            raise ValueError(f"{name}: expected a {want} input with {self.num_features} channels on axis 1, "
                             f"got shape {x.shape}")
        return batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                          self.training or self.running_mean is None, self.momentum, self.eps,
                          self.num_batches_tracked)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch norm over (N, C) or (N, C, L) inputs. `nn.BatchNorm1d(64)`"""

    ranks = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch norm over (N, C, H, W) inputs. `nn.BatchNorm2d(16)`"""

    ranks = (4,)


class GroupNorm(Module):
    """Normalise each sample over groups of channels (and all positions), then scale and shift each channel:
    PyTorch's GroupNorm. `nn.GroupNorm(4, 16)`; no running statistics, the same in train and eval."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.num_groups = check_size("GroupNorm", "num_groups", num_groups)
        self.num_channels = check_size("GroupNorm", "num_channels", num_channels)
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups "
                             f"({num_groups})")
        self.eps, self.affine = float(eps), bool(affine)
        self.weight: Tensor | None = Tensor.ones(num_channels, dtype=dtype, requires_grad=True) if affine else None
        self.bias: Tensor | None = Tensor.zeros(num_channels, dtype=dtype, requires_grad=True) if affine else None

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            raise TypeError(f"{self!r} expects a Tensor, got {type(x).__name__}")
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ValueError(f"GroupNorm: expected an input (N, {self.num_channels}, ...), got shape {x.shape}")
        return group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"


def group_norm(x: Tensor, num_groups: int, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """PyTorch's F.group_norm: statistics per sample and group of channels, biased variance."""
    n, c = x.shape[:2]
    if c % num_groups:
        raise ValueError(f"group_norm: {c} channels are not divisible into {num_groups} groups")
    grouped = x.reshape(n, num_groups, -1)
    centered = grouped - grouped.mean(-1, keepdim=True)
    var = (centered * centered).mean(-1, keepdim=True)
    y = (centered * (var + eps).rsqrt()).reshape(x.shape)
    shape = (1, c) + (1,) * (x.ndim - 2)
    if weight is not None:
        y = y * weight.reshape(shape)
    return y + bias.reshape(shape) if bias is not None else y


def batch_norm(x: Tensor, running_mean: Tensor | None, running_var: Tensor | None, weight: Tensor | None = None,
               bias: Tensor | None = None, training: bool = False, momentum: float | None = 0.1, eps: float = 1e-5,
               num_batches_tracked: Tensor | None = None) -> Tensor:
    """PyTorch's F.batch_norm over axis 1: batch statistics when `training` (updating the running ones given,
    in place), else the running statistics."""
    if not isinstance(x, Tensor) or x.ndim < 2:
        raise ValueError(f"batch_norm: input must be a Tensor (N, C, ...), got {getattr(x, 'shape', type(x))}")
    channels = x.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        if t is not None and t.shape != (channels,):
            raise ValueError(f"batch_norm: {name} must have shape ({channels},) for an input {x.shape}, got {t.shape}")
    axes = (0, *range(2, x.ndim))
    if training:
        count = x.numel() // channels
        if count < 2:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when training, got input of "
                             f"shape {x.shape}")
        mean = x.mean(axes)
        centered = x - mean.reshape((1, -1) + (1,) * (x.ndim - 2))
        var = (centered * centered).mean(axes)
        if running_mean is not None and running_var is not None:
            tracked = num_batches_tracked if num_batches_tracked is not None else Tensor(np.zeros((), np.int64))
            mean = apply(RunningStats, mean, var, running_mean, running_var, tracked, momentum=momentum, count=count)
    elif running_mean is None or running_var is None:
        raise ValueError("batch_norm: running_mean and running_var are needed when not training")
    else:
        mean, var = running_mean, running_var
    return x.batchnorm(weight, bias, mean, (var + eps).rsqrt())
