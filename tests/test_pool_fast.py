"""The max-pool fast path for windows that tile the input (ops/_tiles.py) against the general path (pool.py),
bit for bit: values, the chosen tap, the scattered gradient and the gathered values, over drawn shapes (1-3
pooled axes, remainders, size-1 and empty lead axes), dtypes, memory layouts, ties (values from a tiny set,
signed zeros included), infinities and NaNs; and the gradient against PyTorch's max_pool2d where installed."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygrad_lite as tg
from tinygrad_lite.ops import _tiles, pool
from tinygrad_lite.ops.pool import MaxPool, MaxPoolGather, MaxPoolScatter

DTYPES = (np.float16, np.float32, np.float64)
FEW = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@contextmanager
def general_path() -> Iterator[None]:
    """pool.py's general path: the fast one switched off."""
    with mock.patch.object(pool, "tiles", lambda *a: False):
        yield


def bits(a: np.ndarray) -> np.ndarray:
    """The array's bytes in C order (NaN payloads and signs of zero compared too)."""
    return np.ascontiguousarray(a).view(np.uint8)


def same(a: np.ndarray, b: np.ndarray) -> None:
    assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, a.dtype, b.shape, b.dtype)
    assert np.array_equal(bits(a), bits(b)), (a, b)


@st.composite
def laid_out(draw: st.DrawFn, shape: tuple[int, ...], dtype: type, values: list[float]) -> np.ndarray:
    """An array of `shape` from `values`, in a drawn memory layout: its axes in any order in memory, and maybe a
    view of every other element of a larger array."""
    order = draw(st.permutations(range(len(shape))))
    strided = draw(st.booleans())
    mem_shape = [shape[a] * (2 if strided and i == len(order) - 1 else 1) for i, a in enumerate(order)]
    picks = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).integers(0, len(values), mem_shape)
    mem = np.array(values, dtype)[picks]
    if strided:
        mem = mem[..., ::2]
    return mem.transpose(np.argsort(order))


@st.composite
def pools(draw: st.DrawFn, nan: bool = True, empty: bool = True) -> tuple[np.ndarray, tuple[int, ...]]:
    """(x, kernel): 1-3 pooled axes, kernel sides 1-4 (1-3 with three axes; not all 1), sizes with or without a
    remainder. Sides of 4 make float16's four-tap words; 3x3x2 float32's shifts would overflow a byte (no words)."""
    nd = draw(st.integers(1, 3))
    kernel = tuple(draw(st.lists(st.integers(1, 4 if nd < 3 else 3), min_size=nd, max_size=nd)))
    if all(k == 1 for k in kernel):
        kernel = (*kernel[:-1], 2)
    lead = tuple(draw(st.lists(st.integers(0 if empty else 1, 3), max_size=2)))
    spatial = tuple(k * draw(st.integers(1, 3)) + draw(st.integers(0, k - 1)) for k in kernel)
    dtype = draw(st.sampled_from(DTYPES))
    values = [0.0, -0.0, 1.0, -1.0, 2.0, np.inf, -np.inf] + ([np.nan, -np.nan] if nan and draw(st.booleans()) else [])
    return draw(laid_out(lead + spatial, dtype, values)), kernel


def forward(x: np.ndarray, kernel: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    op = MaxPool()
    best = op.forward(x, kernel=kernel, stride=kernel, dilation=(1,) * len(kernel))
    return best, op.index


@FEW
@given(pools())
def test_forward_equals_the_general_path(case: tuple[np.ndarray, tuple[int, ...]]) -> None:
    x, kernel = case
    best, index = forward(x, kernel)
    with general_path():
        best0, index0 = forward(x, kernel)
    same(best, best0)
    same(index, index0)


@FEW
@given(pools(), st.data())
def test_scatter_and_gather_equal_the_general_path(case: tuple[np.ndarray, tuple[int, ...]],
                                                  data: st.DataObject) -> None:
    x, kernel = case
    params = {"kernel": kernel, "stride": kernel, "dilation": (1,) * len(kernel)}
    best, index = forward(x, kernel)
    g = data.draw(laid_out(best.shape, x.dtype, [0.0, -0.0, 1.5, -2.0, np.inf, np.nan]))
    y = data.draw(laid_out(x.shape, x.dtype, [0.0, -0.0, 3.0, -np.inf, np.nan]))
    size = x.shape[x.ndim - len(kernel):]
    scattered = MaxPoolScatter.call(g, index, size=size, **params)
    gathered = MaxPoolGather.call(y, index, **params)
    with general_path():
        same(scattered, MaxPoolScatter.call(g, index, size=size, **params))
        same(gathered, MaxPoolGather.call(y, index, **params))


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_convolution_output_layout(dtype: type) -> None:
    """The layout W7's pools get: memory (C, H, N, W) seen as (N, C, H, W). The maxima keep x's memory order, and
    the gradient image is laid out as the convolution's output (a layout fixed by the shapes, as the jit needs)."""
    rng = np.random.default_rng(1)
    x = np.round(rng.standard_normal((6, 24, 5, 24)) * 2).astype(dtype).transpose(2, 0, 1, 3)  # many ties
    best, index = forward(x, (2, 2))
    assert np.argsort(best.strides).tolist() == np.argsort(x.strides).tolist()
    g = rng.standard_normal(best.shape).astype(dtype)
    out = MaxPoolScatter.call(g, index, size=(24, 24), kernel=(2, 2), stride=(2, 2), dilation=(1, 1))
    assert np.argsort(out.strides).tolist() == np.argsort(x.strides).tolist()
    with general_path():
        best0, index0 = forward(x, (2, 2))
        same(out, MaxPoolScatter.call(g, index0, size=(24, 24), kernel=(2, 2), stride=(2, 2), dilation=(1, 1)))
    same(best, best0)
    same(index, index0)


@pytest.mark.parametrize(("kernel", "dtype"), [((2, 3, 2), np.float32), ((3, 3, 2), np.float32),
                                               ((2, 2, 2), np.float32), ((4, 4), np.float16),
                                               ((3, 4), np.float16), ((4, 2), np.float32), ((2,), np.float64)])
def test_word_packing_at_its_edges(kernel: tuple[int, ...], dtype: type) -> None:
    """Kernels where the scatter packs taps into words (four float16, a byte's worth of shift) and where a shift
    would overflow a byte (so it must not pack), against the general path."""
    rng = np.random.default_rng(3)
    spatial = tuple(3 * k + 1 for k in kernel)
    x = rng.integers(-2, 3, (2, *spatial)).astype(dtype)  # ties everywhere
    params = {"kernel": kernel, "stride": kernel, "dilation": (1,) * len(kernel)}
    best, index = forward(x, kernel)
    g = rng.standard_normal(best.shape).astype(dtype)
    out = MaxPoolScatter.call(g, index, size=spatial, **params)
    with general_path():
        same(out, MaxPoolScatter.call(g, index, size=spatial, **params))
        same(best, forward(x, kernel)[0])


def test_a_nan_takes_the_general_path() -> None:
    """Every NaN wins in PyTorch (the gradient goes to a window's last NaN): the fast path declines."""
    x = np.array([[np.nan, 1.0, np.nan, 5.0]], np.float32)
    assert _tiles.tile_max(x, (4,)) is None
    best, index = forward(x, (4,))
    assert np.isnan(best[0, 0]) and index.tolist() == [[2]]


def test_the_fast_path_applies_only_to_tiling_windows() -> None:
    assert _tiles.tiles((2, 2), (2, 2), (1, 1)) and _tiles.tiles((3,), (3,), (1,))
    assert not _tiles.tiles((2, 2), (1, 1), (1, 1))  # overlapping windows
    assert not _tiles.tiles((2,), (2,), (2,))  # dilated
    assert not _tiles.tiles((1, 1), (1, 1), (1, 1))  # one tap: the input itself
    assert not _tiles.tiles((8, 16), (8, 16), (1, 1))  # more taps than an int8 numbers


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 3), st.integers(1, 3), st.integers(2, 9), st.integers(2, 9), st.sampled_from([1, 2, 3]),
       st.booleans(), st.integers(0, 2**32 - 1))
def test_the_gradient_equals_torchs(n: int, c: int, h: int, w: int, k: int, nans: bool, seed: int) -> None:
    torch = pytest.importorskip("torch", reason="PyTorch is the reference for max_pool2d's gradient")
    rng = np.random.default_rng(seed)
    values = np.array([0.0, 1.0, 2.0, -1.0, np.inf, -np.inf] + ([np.nan] * 2 if nans else []), np.float32)
    x = values[rng.integers(0, len(values), (n, c, h, w))]
    if h < k or w < k:
        k = 1 if min(h, w) < 2 else 2
    g = rng.standard_normal((n, c, h // k, w // k)).astype(np.float32)
    t = tg.Tensor(x, requires_grad=True)
    t.max_pool2d(k).backward(tg.Tensor(g))
    xt = torch.tensor(x, requires_grad=True)
    torch.nn.functional.max_pool2d(xt, k).backward(torch.tensor(g))
    assert np.array_equal(t.grad.numpy(), xt.grad.numpy())


def test_a_jitted_cnn_step_traces_the_fast_path_and_equals_eager() -> None:
    """Conv outputs (a transposed layout) through 2x2 pools: the jit traces the fast path (no pool op replayed
    whole) and its replays give eager's gradients bit for bit, step after step."""
    from tinygrad_lite.jit import jit

    rng = np.random.default_rng(0)
    w1 = tg.Tensor(rng.standard_normal((4, 1, 3, 3)).astype(np.float32), requires_grad=True)
    w2 = tg.Tensor(rng.standard_normal((6, 4, 3, 3)).astype(np.float32), requires_grad=True)
    b1 = tg.Tensor(np.zeros(4, np.float32), requires_grad=True)
    scale = tg.Tensor(np.linspace(0.5, 2.0, 4, dtype=np.float32).reshape(1, 4, 1, 1), requires_grad=True)

    def step(x: tg.Tensor) -> tg.Tensor:
        w1.grad = w2.grad = b1.grad = scale.grad = None
        z = x.conv2d(w1, b1, padding=1)
        h = ((z - z.mean(axis=(0, 2, 3), keepdim=True)) * scale).relu().max_pool2d(2)  # a batch norm's shape
        loss = (h.conv2d(w2).relu().max_pool2d(2) ** 2).sum()
        loss.backward()
        return loss

    xs = [tg.Tensor(np.round(rng.standard_normal((5, 1, 14, 14)) * 2).astype(np.float32)) for _ in range(3)]
    expected = []
    for x in xs:
        step(x)
        expected.append([t.grad.numpy().copy() for t in (w1, w2, b1, scale)])
    jitted = jit(step)
    for x, grads in zip(xs, expected):
        jitted(x)
        for t, g in zip((w1, w2, b1, scale), grads):
            same(t.grad.numpy(), g)
    assert not [f for f in jitted.program(xs[0]).fallbacks if f.startswith("MaxPool")]


def test_taps_of_another_integer_type_take_the_general_path() -> None:
    """The fast scatter and gather read MaxPool's int8 taps as bytes: another dtype goes the general way."""
    rng = np.random.default_rng(2)
    index = rng.integers(0, 4, (2, 3, 2, 2))
    g = rng.standard_normal((2, 3, 2, 2))
    params = {"kernel": (2, 2), "stride": (2, 2), "dilation": (1, 1)}
    out = MaxPoolScatter.call(g, index, size=(4, 5), **params)
    with general_path():
        same(out, MaxPoolScatter.call(g, index, size=(4, 5), **params))
        expected = MaxPoolGather.call(out, index, **params)
    same(MaxPoolGather.call(out, index, **params), expected)
    same(expected, g)
