"""Convolution, pooling, padding and batch norm on the Tensor, with tinygrad's signatures.

The spatial rank comes from the weight (conv) or the kernel size (pooling): 1-D, 2-D and 3-D alike.
`padding` is an int, one int per spatial axis, or tinygrad's flat tuple (left, right, top, bottom, ...),
last axis first; negative amounts crop.

>>> from tinygrad_lite import Tensor
>>> x = Tensor.ones(1, 1, 4, 4)
>>> x.conv2d(Tensor.ones(2, 1, 3, 3), padding=1).shape
(1, 2, 4, 4)
>>> x.max_pool2d().shape, x.avg_pool2d(3, stride=1).tolist()
((1, 1, 2, 2), [[[[1.0, 1.0], [1.0, 1.0]]]])
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ._dropout import DropoutMixin
from .node import TensorCore, apply
from .ops.conv import Conv, ConvTranspose
from .ops.pool import MaxPool, WindowSum

if TYPE_CHECKING:
    from .tensor import Tensor

Pairs = list[tuple[int, int]]


def per_axis(fn: str, name: str, value: Any, nd: int, minimum: int = 1) -> tuple[int, ...]:
    """An int or one int per spatial axis, each at least `minimum`."""
    values = tuple(value) if isinstance(value, (tuple, list)) else (value,) * nd
    if len(values) != nd or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
        raise ValueError(f"{fn}: {name} must be an int or {nd} ints (one per spatial axis), got {value!r}")
    if any(v < minimum for v in values):
        raise ValueError(f"{fn}: {name} must be at least {minimum}, got {value!r}")
    return tuple(int(v) for v in values)


def padding_pairs(fn: str, padding: Any, nd: int, kernel: Sequence[int] = (), dilation: Sequence[int] = ()) -> Pairs:
    """(before, after) per spatial axis from an int, one int per axis, tinygrad's flat (left, right, top,
    bottom, ...) tuple (last axis first), or "valid"/"same" (stride 1; PyTorch's extra pad goes after)."""
    if isinstance(padding, str):
        if padding == "valid":
            return [(0, 0)] * nd
        if padding == "same" and kernel:
            total = [d * (k - 1) for k, d in zip(kernel, dilation)]
            return [(t // 2, t - t // 2) for t in total]
        raise ValueError(f"{fn}: padding must be an int, a tuple of ints, 'valid' or 'same', got {padding!r}")
    if isinstance(padding, (int, np.integer)) and not isinstance(padding, bool):
        return [(int(padding), int(padding))] * nd
    values = tuple(padding) if isinstance(padding, (tuple, list)) else None
    if values is None or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
        raise ValueError(f"{fn}: padding must be an int or a tuple of ints, got {padding!r}")
    if len(values) == 2 * nd:
        return [(int(values[2 * (nd - 1 - i)]), int(values[2 * (nd - 1 - i) + 1])) for i in range(nd)]
    if len(values) == nd:
        return [(int(v), int(v)) for v in values]
    raise ValueError(f"{fn}: padding needs 1, {nd} (one per spatial axis) or {2 * nd} (flat: left, right, top, "
                     f"bottom, ... from the last axis) ints, got {len(values)}: {padding!r}")


def _pad(x: Tensor, pairs: Pairs, value: float = 0.0) -> Tensor:
    lead = [(0, 0)] * (x.ndim - len(pairs))
    return x.pad(lead + pairs, value) if any(p != (0, 0) for p in pairs) else x


def _float_tensor(fn: str, name: str, t: Any, like: Tensor | None = None) -> Tensor:
    if not isinstance(t, TensorCore):
        raise TypeError(f"{fn}: {name} must be a Tensor, got {type(t).__name__}")
    if t.dtype.kind != "f":
        raise TypeError(f"{fn}: {name} must be a floating-point tensor, got {t.dtype}")
    if like is not None and t.dtype != like.dtype:
        raise TypeError(f"{fn}: input ({like.dtype}) and {name} ({t.dtype}) must have the same dtype")
    return t  # type: ignore[return-value]  # a TensorCore is a Tensor at run time


def _batched(fn: str, x: Tensor, nd: int) -> tuple[Tensor, bool]:
    """x as (N, C, *spatial); an unbatched (C, *spatial) input gets N = 1 (and loses it again after)."""
    if x.ndim == nd + 1:
        return x.unsqueeze(0), True
    if x.ndim != nd + 2:
        raise ValueError(f"{fn}: input must be (N, C, *{nd} spatial) or (C, *{nd} spatial), got shape {x.shape}")
    return x, False


def _bias(fn: str, bias: Any, like: Tensor, channels: int) -> tuple[Tensor, ...]:
    """The bias as the operands to append: () without one, else the checked (channels,) tensor."""
    if bias is None:
        return ()
    b = _float_tensor(fn, "bias", bias, like)
    if b.shape != (channels,):
        raise ValueError(f"{fn}: bias must have shape ({channels},) (one per output channel), got {b.shape}")
    return (b,)


def _with_bias(out: Tensor, bias: Any, fn: str, channels: int, nd: int) -> Tensor:
    b = _bias(fn, bias, out, channels)
    return out + b[0].reshape((channels,) + (1,) * nd) if b else out


def _groups(fn: str, groups: Any, cin: int, cout: int, wshape: tuple[int, ...], xshape: tuple[int, ...]) -> int:
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"{fn}: groups must be a positive int, got {groups!r}")
    if cin % groups or cout % groups:
        raise ValueError(f"{fn}: input channels ({cin}) and output channels ({cout}) must both be divisible by "
                         f"groups ({groups}) (input {xshape}, weight {wshape})")
    return int(groups)


def _pool_kernel(fn: str, kernel_size: Any, nd: int | None) -> tuple[int, ...]:
    if nd is None:
        nd = len(kernel_size) if isinstance(kernel_size, (tuple, list)) else 2
    return per_axis(fn, "kernel_size", kernel_size, nd)


class ConvMixin(DropoutMixin):
    __slots__ = ()

    # --- convolution --------------------------------------------------------------------------------
    def conv2d(self: Tensor, weight: Tensor, bias: Tensor | None = None, groups: int = 1,  # type: ignore[misc]
               stride: Any = 1, dilation: Any = 1, padding: Any = 0) -> Tensor:
        """Cross-correlate with `weight` (Co, C/groups, *K): 1-D, 2-D or 3-D by the weight's rank.
        `x.conv2d(w, b, stride=2, padding=1)`; input (N, C, *S) (or (C, *S)), output (N, Co, *O)."""
        fn = "conv2d"
        x = _float_tensor(fn, "input", self)
        w = _float_tensor(fn, "weight", weight, x)
        if w.ndim < 3:
            raise ValueError(f"{fn}: weight must be (out_channels, in_channels/groups, *kernel), got shape {w.shape}")
        nd = w.ndim - 2
        x, unbatched = _batched(fn, x, nd)
        kernel = w.shape[2:]
        g = _groups(fn, groups, x.shape[1], w.shape[0], w.shape, x.shape)
        if x.shape[1] != w.shape[1] * g:
            raise ValueError(f"{fn}: input has {x.shape[1]} channels but the weight {w.shape} with groups={g} "
                             f"expects {w.shape[1] * g} (input shape {x.shape})")
        st, dil = per_axis(fn, "stride", stride, nd), per_axis(fn, "dilation", dilation, nd)
        if isinstance(padding, str) and padding == "same" and any(s != 1 for s in st):
            raise ValueError(f"{fn}: padding='same' needs stride 1, got stride {st}")
        xp = _pad(x, padding_pairs(fn, padding, nd, kernel, dil))
        span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dil))
        if any(s < k for s, k in zip(xp.shape[2:], span)):
            raise ValueError(f"{fn}: the padded input's spatial size {xp.shape[2:]} is smaller than the kernel's "
                             f"extent {span} (kernel {kernel}, dilation {dil}; input {x.shape}, padding {padding!r})")
        # the bias goes into the primitive: added in place, no second output-sized array for the backward to keep
        out = apply(Conv, xp, w, *_bias(fn, bias, x, w.shape[0]), stride=st, dilation=dil, groups=g)
        return out.squeeze(0) if unbatched else out

    def conv_transpose2d(self: Tensor, weight: Tensor, bias: Tensor | None = None,  # type: ignore[misc]
                         groups: int = 1, stride: Any = 1, dilation: Any = 1, padding: Any = 0,
                         output_padding: Any = 0) -> Tensor:
        """The transposed convolution (the gradient of conv2d in its input) with `weight`
        (C, Co/groups, *K): output size (S-1)·stride - pad_before - pad_after + dilation·(K-1) + 1 +
        output_padding per axis. `x.conv_transpose2d(w, stride=2, padding=1, output_padding=1)`"""
        fn = "conv_transpose2d"
        x = _float_tensor(fn, "input", self)
        w = _float_tensor(fn, "weight", weight, x)
        if w.ndim < 3:
            raise ValueError(f"{fn}: weight must be (in_channels, out_channels/groups, *kernel), got shape {w.shape}")
        nd = w.ndim - 2
        x, unbatched = _batched(fn, x, nd)
        if x.shape[1] != w.shape[0]:
            raise ValueError(f"{fn}: input has {x.shape[1]} channels but the weight {w.shape} expects {w.shape[0]} "
                             f"(input shape {x.shape})")
        g = _groups(fn, groups, w.shape[0], w.shape[0], w.shape, x.shape)  # the weight's Co/groups fits any groups
        st, dil = per_axis(fn, "stride", stride, nd), per_axis(fn, "dilation", dilation, nd)
        extra = per_axis(fn, "output_padding", output_padding, nd, minimum=0)
        if any(o >= s and o >= d for o, s, d in zip(extra, st, dil)):
            raise ValueError(f"{fn}: output_padding {extra} must be smaller than the stride {st} or the "
                             f"dilation {dil}")
        pairs = padding_pairs(fn, padding, nd)
        full = tuple((s - 1) * t + d * (k - 1) + 1 + e
                     for s, t, d, k, e in zip(x.shape[2:], st, dil, w.shape[2:], extra))
        final = tuple(f - lo - hi for f, (lo, hi) in zip(full, pairs))
        if any(n < 1 for n in final):
            raise ValueError(f"{fn}: the output would have spatial size {final} (input {x.shape}, weight {w.shape}, "
                             f"stride {st}, padding {padding!r})")
        out = apply(ConvTranspose, x, w, size=full, stride=st, dilation=dil, groups=g)
        out = _pad(out, [(-lo, -hi) for lo, hi in pairs])
        out = _with_bias(out, bias, fn, w.shape[1] * g, nd)
        return out.squeeze(0) if unbatched else out

    # --- pooling --------------------------------------------------------------------------------------
    def max_pool2d(self: Tensor, kernel_size: Any = (2, 2), stride: Any = None,  # type: ignore[misc]
                   dilation: Any = 1, padding: Any = 0, ceil_mode: bool = False) -> Tensor:
        """The largest element of each window over the last len(kernel_size) axes (padding counts as -inf).
        The gradient goes to the window's first largest element, as in PyTorch. `x.max_pool2d(2)`"""
        return _pool(self, "max_pool2d", kernel_size, stride, dilation, padding, ceil_mode, None)

    def avg_pool2d(self: Tensor, kernel_size: Any = (2, 2), stride: Any = None,  # type: ignore[misc]
                   dilation: Any = 1, padding: Any = 0, ceil_mode: bool = False, count_include_pad: bool = True,
                   divisor_override: int | None = None) -> Tensor:
        """The mean of each window, PyTorch's divisors: padding counts when `count_include_pad`, the part
        of a ceil_mode window past the padded input never does. `x.avg_pool2d(2)`"""
        if divisor_override is not None and (isinstance(divisor_override, bool) or divisor_override < 1):
            raise ValueError(f"avg_pool2d: divisor_override must be a positive int, got {divisor_override!r}")
        return _pool(self, "avg_pool2d", kernel_size, stride, dilation, padding, ceil_mode,
                     (bool(count_include_pad), divisor_override))

    def pad2d(self: Tensor, padding: Sequence[int], value: float = 0.0) -> Tensor:  # type: ignore[misc]
        """Pad the last two axes by tinygrad's flat (left, right, top, bottom) (negative crops); 2 ints pad
        only the last axis, as PyTorch's F.pad. `x.pad2d((1, 1, 0, 0))`"""
        if not isinstance(padding, (tuple, list)) or len(padding) not in (2, 4):
            raise ValueError(f"pad2d: padding must be (left, right) or (left, right, top, bottom), got {padding!r}")
        return self.pad(tuple(padding), value)

    # --- normalization ---------------------------------------------------------------------------------
    def batchnorm(self: Tensor, weight: Tensor | None, bias: Tensor | None, mean: Tensor,  # type: ignore[misc]
                  invstd: Tensor, axis: int | tuple[int, ...] = 1) -> Tensor:
        """(x - mean)·invstd·weight + bias with the statistics laid along `axis` (tinygrad's signature).
        `x.batchnorm(None, None, x.mean((0, 2, 3)), x.var((0, 2, 3), correction=0).add(1e-5).rsqrt())`"""
        axes = (axis,) if isinstance(axis, int) else tuple(axis)
        axes = tuple(a % self.ndim for a in axes)
        shape = tuple(n if i in axes else 1 for i, n in enumerate(self.shape))
        x = self - mean.reshape(shape)
        if weight is not None:
            x = x * weight.reshape(shape)
        x = x * invstd.reshape(shape)
        return x + bias.reshape(shape) if bias is not None else x


def _pool(x: Tensor, fn: str, kernel_size: Any, stride: Any, dilation: Any, padding: Any, ceil_mode: bool,
          avg: tuple[bool, int | None] | None) -> Tensor:
    _float_tensor(fn, "input", x)
    kernel = _pool_kernel(fn, kernel_size, None)
    nd = len(kernel)
    if x.ndim < nd:
        raise ValueError(f"{fn}: a {nd}-D kernel {kernel} needs an input with at least {nd} axes, got {x.shape}")
    st = kernel if stride is None or (isinstance(stride, (tuple, list)) and not stride) else \
        per_axis(fn, "stride", stride, nd)
    dil = per_axis(fn, "dilation", dilation, nd)
    pairs = padding_pairs(fn, padding, nd)
    span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dil))
    if any(lo < 0 or hi < 0 for lo, hi in pairs):
        raise ValueError(f"{fn}: padding must not be negative, got {padding!r}")
    if any(max(lo, hi) * 2 > k for (lo, hi), k in zip(pairs, span)):
        raise ValueError(f"{fn}: padding {padding!r} must be at most half the kernel's extent {span} "
                         f"(PyTorch's rule: else a window could see padding only)")
    spatial = x.shape[x.ndim - nd:]
    outs = []
    for n, (lo, hi), k, s in zip(spatial, pairs, span, st):
        room = n + lo + hi - k
        if room < 0:
            raise ValueError(f"{fn}: the padded input's spatial size is smaller than the kernel's extent {span} "
                             f"(input {x.shape}, padding {padding!r})")
        o = (-(-room // s) if ceil_mode else room // s) + 1
        if ceil_mode and (o - 1) * s >= n + lo:  # PyTorch: the last window must start inside input or left pad
            o -= 1
        outs.append(o)
    # ceil_mode's last window may reach past the padded input: extend it there (never counted in a mean).
    extra = [max(0, (o - 1) * s + k - (n + lo + hi)) for o, s, k, n, (lo, hi) in zip(outs, st, span, spatial, pairs)]
    if avg is None:
        xp = _pad(x, [(lo, hi + e) for (lo, hi), e in zip(pairs, extra)], -math.inf)
        out = apply(MaxPool, xp, kernel=kernel, stride=st, dilation=dil)
    else:
        xp = _pad(x, [(lo, hi + e) for (lo, hi), e in zip(pairs, extra)], 0.0)
        out = apply(WindowSum, xp, kernel=kernel, stride=st, dilation=dil)
        count_pad, override = avg
        divisor = (np.full(tuple(outs), float(override)) if override is not None else
                   _pool_divisor(spatial, tuple(outs), kernel, st, dil, pairs, count_pad))
        out = out * type(x)._wrap((1.0 / divisor).astype(x.dtype))
    want = tuple(outs)
    if out.shape[out.ndim - nd:] != want:  # the extension above leaves room for no further window: keep `want`
        out = out[(Ellipsis, *(slice(0, o) for o in want))]
    return out


def _pool_divisor(spatial: tuple[int, ...], outs: tuple[int, ...], kernel: tuple[int, ...], stride: tuple[int, ...],
                  dilation: tuple[int, ...], pairs: Pairs, count_pad: bool) -> np.ndarray:
    """PyTorch's divisor per output position: the window clipped to the padded input (count_include_pad)
    or to the input itself; an outer product over the axes."""
    divisor = np.ones(())
    for n, o, k, s, d, (lo, hi) in zip(spatial, outs, kernel, stride, dilation, pairs):
        start = np.arange(o) * s - lo
        taps = start[:, None] + np.arange(k) * d  # each tap's input index
        limit_lo, limit_hi = (-lo, n + hi) if count_pad else (0, n)
        counts = ((taps >= limit_lo) & (taps < limit_hi)).sum(axis=1)
        divisor = np.multiply.outer(divisor, counts)
    return np.maximum(divisor, 1)
