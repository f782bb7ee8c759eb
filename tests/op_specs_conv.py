"""Specs of the convolution, pooling, padding, batch-norm and dropout ops (appended to op_specs.SPECS).

The NumPy references here work tap by tap (one shifted slice of the input per kernel position, an
einsum per group), independent of the library's window views, columns and col2im.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import strategies as st
from op_specs import Case, Spec, arr, separated

import tinygrad_lite.nn.functional as F
from tinygrad_lite import Tensor
from tinygrad_lite.ops.conv import ConvWeight
from tinygrad_lite.ops.pool import MaxPoolGather, MaxPoolScatter, WindowSpread


# --- references -----------------------------------------------------------------------------------------------
def pad_ref(x: np.ndarray, pairs: list[tuple[int, int]], value: float = 0.0) -> np.ndarray:
    """Pad (or, for negative amounts, crop) the last len(pairs) axes."""
    lead = x.ndim - len(pairs)
    crop = (Ellipsis, *(slice(max(-lo, 0), n - max(-hi, 0)) for (lo, hi), n in zip(pairs, x.shape[lead:])))
    return np.pad(x[crop], [(0, 0)] * lead + [(max(lo, 0), max(hi, 0)) for lo, hi in pairs], constant_values=value)


def tap(x: np.ndarray, k: tuple[int, ...], stride: tuple[int, ...], dilation: tuple[int, ...],
        outs: tuple[int, ...]) -> tuple[Any, ...]:
    """The index of the elements kernel tap k meets at every output position."""
    return (Ellipsis, *(slice(i * d, i * d + s * (o - 1) + 1, s) for i, d, s, o in zip(k, dilation, stride, outs)))


def conv_ref(x: np.ndarray, w: np.ndarray, *b: np.ndarray, stride: tuple[int, ...], dilation: tuple[int, ...],
             groups: int, padding: list[tuple[int, int]], flat: Any = None) -> np.ndarray:
    xp = pad_ref(x, padding)
    co, cg, kernel = w.shape[0], w.shape[1], w.shape[2:]
    outs = tuple((n - d * (k - 1) - 1) // s + 1 for n, k, s, d in zip(xp.shape[2:], kernel, stride, dilation))
    out = np.zeros((x.shape[0], co, *outs))
    og = co // groups
    for k in np.ndindex(*kernel):
        part = xp[tap(xp, k, stride, dilation, outs)]
        for g in range(groups):
            out[:, g * og:(g + 1) * og] += np.einsum("nc...,oc->no...", part[:, g * cg:(g + 1) * cg],
                                                     w[g * og:(g + 1) * og, :, *k])
    return out + (b[0].reshape((co,) + (1,) * len(kernel)) if b else 0)


def conv_transpose_ref(x: np.ndarray, w: np.ndarray, stride: tuple[int, ...], dilation: tuple[int, ...],
                       groups: int, padding: list[tuple[int, int]], output_padding: tuple[int, ...]) -> np.ndarray:
    """Each input pixel scatters weight·value onto the output (the definition), then the padding is cropped."""
    cin, og, kernel = w.shape[0], w.shape[1], w.shape[2:]
    spatial = x.shape[2:]
    full = tuple((n - 1) * s + d * (k - 1) + 1 + e
                 for n, s, d, k, e in zip(spatial, stride, dilation, kernel, output_padding))
    out = np.zeros((x.shape[0], og * groups, *full))
    cg = cin // groups
    for k in np.ndindex(*kernel):
        target = tap(out, k, stride, dilation, spatial)
        for g in range(groups):
            out[:, g * og:(g + 1) * og][target] += np.einsum("nc...,co->no...", x[:, g * cg:(g + 1) * cg],
                                                             w[g * cg:(g + 1) * cg, :, *k])
    return pad_ref(out, [(-lo, -hi) for lo, hi in padding])


def conv_weight_ref(x: np.ndarray, dy: np.ndarray, kernel: tuple[int, ...], stride: tuple[int, ...],
                    dilation: tuple[int, ...], groups: int) -> np.ndarray:
    cg, og = x.shape[1] // groups, dy.shape[1] // groups
    gw = np.zeros((dy.shape[1], cg, *kernel))
    for k in np.ndindex(*kernel):
        part = x[tap(x, k, stride, dilation, dy.shape[2:])]
        for g in range(groups):
            xs, ys = part[:, g * cg:(g + 1) * cg], dy[:, g * og:(g + 1) * og]
            gw[(slice(g * og, (g + 1) * og), slice(None), *k)] = np.einsum(
                "ncp,nop->oc", xs.reshape(xs.shape[0], xs.shape[1], -1), ys.reshape(ys.shape[0], ys.shape[1], -1))
    return gw


def pool_outs(spatial: tuple[int, ...], kernel: tuple[int, ...], stride: tuple[int, ...],
              dilation: tuple[int, ...], padding: list[tuple[int, int]], ceil_mode: bool) -> tuple[int, ...]:
    """PyTorch's pooled sizes (in ceil_mode, a last window must start inside the input or its left pad)."""
    outs = []
    for n, k, s, d, (lo, hi) in zip(spatial, kernel, stride, dilation, padding):
        room = n + lo + hi - d * (k - 1) - 1
        o = (-(-room // s) if ceil_mode else room // s) + 1
        if ceil_mode and (o - 1) * s >= n + lo:
            o -= 1
        outs.append(o)
    return tuple(outs)


def pool_taps(x: np.ndarray, kernel: tuple[int, ...], stride: tuple[int, ...], dilation: tuple[int, ...],
              padding: list[tuple[int, int]], outs: tuple[int, ...], pad_value: float,
              beyond: float) -> list[np.ndarray]:
    """Every tap's elements at every output position: x padded with `pad_value`, and with `beyond` past the
    padding where a ceil_mode window reaches."""
    xp = np.pad(x, [(0, 0)] * (x.ndim - len(kernel)) + list(padding), constant_values=pad_value)
    extra = [max(0, (o - 1) * s + d * (k - 1) + 1 - n) for o, s, d, k, n in zip(outs, stride, dilation, kernel,
                                                                              xp.shape[-len(kernel):])]
    xp = np.pad(xp, [(0, 0)] * (x.ndim - len(kernel)) + [(0, e) for e in extra], constant_values=beyond)
    return [xp[tap(xp, k, stride, dilation, outs)] for k in np.ndindex(*kernel)]


def max_pool_ref(x: np.ndarray, kernel: tuple[int, ...], stride: tuple[int, ...], dilation: tuple[int, ...],
                 padding: list[tuple[int, int]], ceil_mode: bool) -> np.ndarray:
    outs = pool_outs(x.shape[-2:], kernel, stride, dilation, padding, ceil_mode)
    return np.max(np.stack(pool_taps(x, kernel, stride, dilation, padding, outs, -np.inf, -np.inf)), axis=0)


def avg_pool_ref(x: np.ndarray, kernel: tuple[int, ...], stride: tuple[int, ...], padding: list[tuple[int, int]],
                 ceil_mode: bool, count_include_pad: bool) -> np.ndarray:
    ones = (1,) * len(kernel)
    outs = pool_outs(x.shape[-2:], kernel, stride, ones, padding, ceil_mode)
    total = np.sum(np.stack(pool_taps(x, kernel, stride, ones, padding, outs, 0.0, 0.0)), axis=0)
    # PyTorch's divisor: the taps inside the input, plus those on the padding when count_include_pad.
    inside = np.ones(x.shape[-2:])
    counted = pool_taps(inside, kernel, stride, ones, padding, outs, float(count_include_pad), 0.0)
    return total / np.sum(np.stack(counted), axis=0)


# --- drawing cases --------------------------------------------------------------------------------------------
def pairs_from(padding: Any, nd: int) -> list[tuple[int, int]]:
    if isinstance(padding, int):
        return [(padding, padding)] * nd
    if len(padding) == 2 * nd:
        return [(padding[2 * (nd - 1 - i)], padding[2 * (nd - 1 - i) + 1]) for i in range(nd)]
    return [(p, p) for p in padding]


@st.composite
def conv_case(draw: st.DrawFn, nd: int) -> Case:
    groups = draw(st.sampled_from([1, 1, 2]))
    cg, og, n = draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 2))
    kernel = tuple(draw(st.integers(1, 3 if nd < 3 else 2)) for _ in range(nd))
    stride = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    form = draw(st.sampled_from(["int", "per-axis", "flat"]))
    if form == "int":
        padding: Any = draw(st.integers(0, 1))
    elif form == "per-axis":
        padding = tuple(draw(st.integers(0, 1)) for _ in range(nd))
    else:  # tinygrad's flat tuple, negative amounts crop
        padding = tuple(draw(st.integers(-1, 1)) for _ in range(2 * nd))
    pairs = pairs_from(padding, nd)
    spatial = []
    for k, d, (lo, hi) in zip(kernel, dilation, pairs):
        least = max(d * (k - 1) + 1 - lo - hi, 1 + max(-lo, 0) + max(-hi, 0), 1)
        spatial.append(draw(st.integers(least, least + (2 if nd < 3 else 1))))
    x = draw(arr((n, cg * groups, *spatial)))
    w = draw(arr((og * groups, cg, *kernel)))
    bias = (draw(arr((og * groups,))),) if draw(st.booleans()) else ()
    params = {"stride": stride, "dilation": dilation, "groups": groups, "padding": pairs, "flat": padding}
    return (x, w, *bias), params


def conv_fn(x: Tensor, w: Tensor, *b: Tensor, stride: Any, dilation: Any, groups: int, padding: Any,
            flat: Any) -> Tensor:
    return x.conv2d(w, *b, groups=groups, stride=stride, dilation=dilation, padding=flat)


@st.composite
def conv_transpose_case(draw: st.DrawFn) -> Case:
    groups = draw(st.sampled_from([1, 1, 2]))
    cg, og, n = draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 2))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(2))
    stride = tuple(draw(st.integers(1, 2)) for _ in range(2))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(2))
    extra = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    spatial = tuple(draw(st.integers(1, 3)) for _ in range(2))
    pairs = []
    for n_, s, d, k, e in zip(spatial, stride, dilation, kernel, extra):
        full = (n_ - 1) * s + d * (k - 1) + 1 + e
        p = draw(st.integers(0, min(1, (full - 1) // 2)))
        pairs.append((p, p))
    x = draw(arr((n, cg * groups, *spatial)))
    w = draw(arr((cg * groups, og, *kernel)))
    return (x, w), {"stride": stride, "dilation": dilation, "groups": groups, "padding": pairs,
                    "output_padding": extra}


def conv_transpose_fn(x: Tensor, w: Tensor, stride: Any, dilation: Any, groups: int, padding: Any,
                      output_padding: Any) -> Tensor:
    return x.conv_transpose2d(w, groups=groups, stride=stride, dilation=dilation,
                              padding=tuple(p for p, _ in padding), output_padding=output_padding)


@st.composite
def conv_weight_case(draw: st.DrawFn) -> Case:
    (x, w, *_), p = draw(conv_case(2))
    xp = pad_ref(x, p["padding"])
    outs = tuple((n - d * (k - 1) - 1) // s + 1 for n, k, s, d in zip(xp.shape[2:], w.shape[2:], p["stride"],
                                                                       p["dilation"]))
    dy = draw(arr((x.shape[0], w.shape[0], *outs)))
    return (xp, dy), {"kernel": w.shape[2:], "stride": p["stride"], "dilation": p["dilation"], "groups": p["groups"]}


@st.composite
def pool_case(draw: st.DrawFn, avg: bool) -> Case:
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(2))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(2))
    dilation = (1, 1) if avg else tuple(draw(st.integers(1, 2)) for _ in range(2))
    # (Dilated windows skip elements: with padding, one may see padding only and give -inf; drawn apart.)
    padding = [(p, p) for p in (draw(st.integers(0, (k // 2) if d == 1 else 0)) for k, d in zip(kernel, dilation))]
    spatial = tuple(draw(st.integers(max(1, d * (k - 1) + 1 - 2 * lo), d * (k - 1) + 3 - 2 * lo))
                    for k, d, (lo, _) in zip(kernel, dilation, padding))
    lead = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    x = draw(separated(lead + spatial))  # distinct values: no ties, so the max is smooth where gradchecked
    params: dict[str, Any] = {"kernel": kernel, "stride": stride, "padding": padding,
                              "ceil_mode": draw(st.booleans())}
    if avg:
        params["count_include_pad"] = draw(st.booleans())
    else:
        params["dilation"] = dilation
    return (x,), params


def max_pool_fn(x: Tensor, kernel: Any, stride: Any, dilation: Any, padding: Any, ceil_mode: bool) -> Tensor:
    return x.max_pool2d(kernel, stride, dilation, tuple(p for p, _ in padding), ceil_mode)


def avg_pool_fn(x: Tensor, kernel: Any, stride: Any, padding: Any, ceil_mode: bool, count_include_pad: bool) -> Tensor:
    return x.avg_pool2d(kernel, stride, 1, tuple(p for p, _ in padding), ceil_mode, count_include_pad)


@st.composite
def scatter_case(draw: st.DrawFn, spread: bool) -> Case:
    kernel = tuple(draw(st.integers(1, 2)) for _ in range(2))
    stride = tuple(draw(st.integers(1, 2)) for _ in range(2))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(2))
    size = tuple(d * (k - 1) + 1 + draw(st.integers(0, 2)) for k, d in zip(kernel, dilation))
    outs = tuple((n - d * (k - 1) - 1) // s + 1 for n, k, s, d in zip(size, kernel, stride, dilation))
    g = draw(arr((draw(st.integers(1, 2)), *outs)))
    params: dict[str, Any] = {"size": size, "kernel": kernel, "stride": stride, "dilation": dilation}
    if not spread:
        params["index"] = draw(st.lists(st.integers(0, math.prod(kernel) - 1), min_size=g.size, max_size=g.size).map(
            lambda v: np.array(v, np.int8).reshape(g.shape)))
    return (g,), params


def scatter_ref(g: np.ndarray, size: Any, kernel: Any, stride: Any, dilation: Any, index: Any = None) -> np.ndarray:
    out = np.zeros(g.shape[:-2] + tuple(size))
    for i, k in enumerate(np.ndindex(*kernel)):
        out[tap(out, k, stride, dilation, g.shape[-2:])] += g if index is None else np.where(index == i, g, 0.0)
    return out


def gather_of(case: Case) -> Case:
    """A scatter case turned around: an image of `size` to read each window's chosen element from."""
    (g,), params = case
    y = np.arange(math.prod(g.shape[:-2]) * math.prod(params["size"]), dtype=np.float64) * 0.1 - 1
    kw = {k: v for k, v in params.items() if k != "size"}
    return (y.reshape(g.shape[:-2] + tuple(params["size"])),), kw


def gather_ref(y: np.ndarray, index: np.ndarray, kernel: Any, stride: Any, dilation: Any) -> np.ndarray:
    out = np.zeros(index.shape)
    for i, k in enumerate(np.ndindex(*kernel)):
        out = np.where(index == i, y[tap(y, k, stride, dilation, index.shape[-2:])], out)
    return out


@st.composite
def pad2d_case(draw: st.DrawFn) -> Case:
    x = draw(arr((draw(st.integers(1, 2)), draw(st.integers(2, 3)), draw(st.integers(2, 3)))))
    padding = tuple(draw(st.integers(-1, 2)) for _ in range(4))
    if all(p <= 0 for p in padding):
        padding = (1, *padding[1:])
    return (x,), {"padding": padding, "value": draw(st.sampled_from([0.0, -1.5]))}


@st.composite
def batchnorm_case(draw: st.DrawFn) -> Case:
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    c = shape[1]
    return (draw(arr(shape)), draw(arr((c,))), draw(arr((c,))), draw(arr((c,))), draw(arr((c,), 0.2, 2.0))), {}


def dropout_fn(x: Tensor, p: float, seed: int) -> Tensor:
    Tensor.manual_seed(seed)  # the same mask on every call, so finite differences see one function
    return F.dropout(x, p)


def dropout_ref(x: np.ndarray, p: float, seed: int) -> np.ndarray:
    keep = np.random.default_rng(seed).random(x.shape) >= p
    return x * keep / (1 - p)


CONV = [
    Spec("conv2d[1d]", conv_fn, conv_ref, conv_case(1), ("Conv",)),
    Spec("conv2d", conv_fn, conv_ref, conv_case(2), ("Conv",)),
    Spec("conv2d[3d]", conv_fn, conv_ref, conv_case(3), ("Conv",)),
    Spec("conv_transpose2d", conv_transpose_fn, conv_transpose_ref, conv_transpose_case(), ("ConvTranspose",)),
    Spec("conv2d[weight gradient]", lambda x, dy, **kw: ConvWeight.apply(x, dy, **kw), conv_weight_ref,
         conv_weight_case(), ("ConvWeight",)),
    Spec("max_pool2d", max_pool_fn, lambda x, **kw: max_pool_ref(x, **kw), pool_case(avg=False), ("MaxPool",)),
    Spec("max_pool2d[scatter]", lambda g, index, **kw: MaxPoolScatter.apply(g, index, **kw),
         lambda g, index, **kw: scatter_ref(g, index=index, **kw), scatter_case(spread=False),
         ("MaxPoolScatter",)),
    Spec("max_pool2d[gather]", lambda y, index, **kw: MaxPoolGather.apply(y, index, **kw), gather_ref,
         scatter_case(spread=False).map(gather_of), ("MaxPoolGather",)),
    Spec("avg_pool2d", avg_pool_fn, lambda x, **kw: avg_pool_ref(x, **kw), pool_case(avg=True), ("WindowSum",)),
    Spec("avg_pool2d[spread]", lambda g, **kw: WindowSpread.apply(g, **kw), scatter_ref, scatter_case(spread=True),
         ("WindowSpread",)),
    Spec("pad2d", lambda x, padding, value: x.pad2d(padding, value),
         lambda x, padding, value: pad_ref(x, [(padding[2], padding[3]), (padding[0], padding[1])], value),
         pad2d_case()),
    Spec("batchnorm", lambda x, w, b, m, s: x.batchnorm(w, b, m, s),
         lambda x, w, b, m, s: (x - m[:, None]) * s[:, None] * w[:, None] + b[:, None], batchnorm_case(),
         ("Sub", "Mul", "Add")),
    Spec("dropout", dropout_fn, dropout_ref,
         arr(st.tuples(st.integers(1, 4), st.integers(1, 4))).flatmap(lambda a: st.tuples(
             st.floats(0.1, 0.8), st.integers(0, 2**16)).map(lambda q: ((a,), {"p": q[0], "seed": q[1]}))),
         ("Mul",)),
]

CONV_API_METHODS = "conv2d conv_transpose2d max_pool2d avg_pool2d pad2d batchnorm dropout".split()
