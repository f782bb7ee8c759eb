"""The convolution keeps its temporaries small: 2-D and up (stride 1 along the first axis) its columns hold one
kernel row's taps, ConvTranspose (the input's gradient) never makes the (C·K, N·P) columns of all kernel taps,
and Conv's backward lets go of the forward's columns before it makes the input's gradient. Large temporaries
allocated fresh every step cost page faults (W7 paid ~2,900 per step).

Peaks are measured with tracemalloc, which sees NumPy's array buffers; each bound sits between what the code
allocates now and what the column-based code allocated, so the test fails if the columns come back.
"""
from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
import op_specs  # noqa: F401 - first: op_specs_conv is imported from it
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from op_specs_conv import conv_ref, conv_transpose_ref, conv_weight_ref

from tinygrad_lite import Tensor, jvp, vmap
from tinygrad_lite.ops._im2col import by_rows
from tinygrad_lite.ops.conv import Conv, ConvTranspose, ConvWeight


def _peak(fn: Callable[[], Any]) -> tuple[int, Any]:
    """Bytes allocated by fn above what was live when it started, at its peak (and its result)."""
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        out = fn()
        return tracemalloc.get_traced_memory()[1] - base, out
    finally:
        tracemalloc.stop()


def test_conv_transpose_makes_no_columns() -> None:
    """LeNet's second convolution's input gradient: columns would be 150 x 4096 float32 (2.4 MB)."""
    rng = np.random.default_rng(0)
    g = rng.standard_normal((16, 64, 8, 8), dtype=np.float32).transpose(1, 0, 2, 3)  # as Conv's output is laid out
    w = rng.standard_normal((16, 6, 5, 5), dtype=np.float32)
    columns = 6 * 25 * 64 * 8 * 8 * 4
    peak, out = _peak(lambda: ConvTranspose.call(g, w, size=(12, 12), stride=(1, 1), dilation=(1, 1), groups=1))
    assert out.shape == (64, 6, 12, 12)
    # the image (0.22 MB), g regrouped (0.26 MB) and one tap's part (0.1 MB) at a time
    assert peak < columns / 3, f"ConvTranspose peaked at {peak / 1e6:.2f} MB, the columns are {columns / 1e6:.2f} MB"
    ref = conv_transpose_ref(g.astype(np.float64), w.astype(np.float64), (1, 1), (1, 1), 1, [(0, 0), (0, 0)], (0, 0))
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)


def test_conv_backward_never_holds_two_sets_of_columns() -> None:
    """x.conv2d(w) with both gradients: the forward's columns (kept for w's gradient) and the input gradient's
    work are never alive together, so the backward's peak stays below one set of columns plus a third."""
    rng = np.random.default_rng(1)
    x = Tensor(rng.standard_normal((64, 6, 12, 12), dtype=np.float32), requires_grad=True)
    w = Tensor(rng.standard_normal((16, 6, 5, 5), dtype=np.float32), requires_grad=True)
    columns = 6 * 25 * 64 * 8 * 8 * 4
    loss = (x.conv2d(w) * Tensor(rng.standard_normal((64, 16, 8, 8), dtype=np.float32))).sum()
    peak, _ = _peak(loss.backward)
    assert x.grad is not None and w.grad is not None
    # live at the start: the forward's columns; the backward adds its gradients and small temporaries only
    assert peak < columns / 2, f"backward peaked {peak / 1e6:.2f} MB above its start (columns {columns / 1e6:.2f} MB)"


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 3), groups=st.integers(1, 2), cg=st.integers(1, 2), og=st.integers(1, 2),
       size=st.integers(1, 4), kernel=st.integers(1, 3), stride=st.integers(1, 3), dilation=st.integers(1, 2),
       extra=st.integers(0, 2), layout=st.sampled_from(["contiguous", "channels first"]))
def test_conv_transpose_tap_by_tap_matches_reference(n: int, groups: int, cg: int, og: int, size: int, kernel: int,
                                                     stride: int, dilation: int, extra: int, layout: str) -> None:
    """Every stride, dilation, group count, a size with room past the last window, either memory layout of g."""
    rng = np.random.default_rng(size * 100 + kernel * 10 + stride)
    shape = (n, og * groups, size, size + 1)
    g = rng.standard_normal(shape)
    if layout == "channels first":
        g = np.ascontiguousarray(g.swapaxes(0, 1)).swapaxes(0, 1)
    w = rng.standard_normal((og * groups, cg, kernel, kernel))
    full = tuple((s - 1) * stride + dilation * (kernel - 1) + 1 + extra for s in shape[2:])
    out = ConvTranspose.call(g, w, size=full, stride=(stride,) * 2, dilation=(dilation,) * 2, groups=groups)
    ref = conv_transpose_ref(g, w, (stride,) * 2, (dilation,) * 2, groups, [(0, 0), (0, 0)], (extra, extra))
    assert out.shape == ref.shape == (n, cg * groups, *full)
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv_transpose_keeps_dtype(dtype: Any) -> None:
    g, w = np.ones((2, 3, 4, 4), dtype), np.ones((3, 2, 3, 3), dtype)
    out = ConvTranspose.call(g, w, size=(6, 6), stride=(1, 1), dilation=(1, 1), groups=1)
    assert out.dtype == dtype
    assert out[0, 0, 2, 2] == 27  # the centre sees all 9 taps of all 3 channels


def test_lenet_first_layer_keeps_one_kernel_row_of_columns() -> None:
    """28x28 images, 5x5 kernel: the columns kept for the weight's gradient are (5, 28·64·24), not (25, 24·64·24)."""
    x = np.random.default_rng(2).standard_normal((64, 1, 28, 28), dtype=np.float32)
    w = np.random.default_rng(3).standard_normal((6, 1, 5, 5), dtype=np.float32)
    op = Conv()
    out = op.forward(x, w, stride=(1, 1), dilation=(1, 1), groups=1)
    assert op.cols.shape == (1, 5, 28 * 64 * 24)
    assert op.cols.nbytes < 25 * 24 * 64 * 24 * 4 / 4
    ref = conv_ref(x.astype(np.float64), w.astype(np.float64), stride=(1, 1), dilation=(1, 1), groups=1,
                   padding=[(0, 0), (0, 0)])
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)


@settings(max_examples=40, deadline=None)
@given(data=st.data(), nd=st.integers(2, 3), groups=st.integers(1, 2), cg=st.integers(1, 2), og=st.integers(1, 2),
       n=st.integers(1, 2))
def test_columns_by_kernel_row_match_reference(data: st.DataObject, nd: int, groups: int, cg: int, og: int,
                                               n: int) -> None:
    """Conv and ConvWeight (also with g covering fewer windows than x has) by kernel row, against the definition:
    every dilation, strides along the trailing axes, groups, 2-D and 3-D."""
    kernel = tuple(data.draw(st.integers(1, 3)) for _ in range(nd))
    stride = (1, *(data.draw(st.integers(1, 2)) for _ in range(nd - 1)))
    dilation = tuple(data.draw(st.integers(1, 2)) for _ in range(nd))
    assert by_rows(kernel, stride)
    spatial = tuple(d * (k - 1) + 1 + data.draw(st.integers(0, 3)) for k, d in zip(kernel, dilation))
    rng = np.random.default_rng(sum(spatial) + 7 * sum(kernel))
    x = rng.standard_normal((n, cg * groups, *spatial))
    w = rng.standard_normal((og * groups, cg, *kernel))
    out = Conv.call(x, w, stride=stride, dilation=dilation, groups=groups)
    ref = conv_ref(x, w, stride=stride, dilation=dilation, groups=groups, padding=[(0, 0)] * nd)
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)
    # g covering fewer windows: as ConvTranspose's VJP hands x with room past the last window
    shorter = tuple(max(1, o - data.draw(st.integers(0, 1))) for o in ref.shape[2:])
    g = rng.standard_normal((n, og * groups, *shorter))
    gw = ConvWeight.call(x, g, kernel=kernel, stride=stride, dilation=dilation, groups=groups)
    np.testing.assert_allclose(gw, conv_weight_ref(x, g, kernel, stride, dilation, groups), rtol=1e-12, atol=1e-12)
    # the weight's gradient from the forward's kept columns
    op = Conv()
    op.needs_grad = (False, True)
    op.forward(x, w, stride=stride, dilation=dilation, groups=groups)
    g = rng.standard_normal(ref.shape)
    _, gw = op.vjp(g, ref, x, w)
    np.testing.assert_allclose(gw, conv_weight_ref(x, g, kernel, stride, dilation, groups), rtol=1e-12, atol=1e-12)


# --- the bias inside the Conv primitive --------------------------------------------------------------------------
def _conv(x: Tensor, w: Tensor, b: Tensor) -> Tensor:
    return x.conv2d(w, b)


@pytest.mark.parametrize("in_axes", [(0, None, None), (None, 0, 0), (None, None, 0), (0, 0, 0), (0, None, 0)])
def test_vmap_conv_with_bias_matches_a_loop(in_axes: tuple[int | None, ...]) -> None:
    """Every branch of Conv's batching rule with a bias: batched input, weight, bias, or only the bias."""
    rng = np.random.default_rng(4)
    b_ = 3
    shapes = ((2, 2, 5, 5), (3, 2, 2, 2), (3,))
    args = [Tensor(rng.standard_normal((b_, *s) if ax == 0 else s)) for s, ax in zip(shapes, in_axes)]
    out = vmap(_conv, in_axes=in_axes)(*args)
    for k in range(b_):
        one = [a[k] if ax == 0 else a for a, ax in zip(args, in_axes)]
        np.testing.assert_allclose(out[k].numpy(), _conv(*one).numpy(), rtol=1e-12, atol=1e-12)


def test_jvp_of_conv_with_bias_is_bilinear_plus_the_bias_tangent() -> None:
    rng = np.random.default_rng(5)
    x, w, b = (Tensor(rng.standard_normal(s)) for s in ((2, 2, 6, 5), (3, 2, 3, 2), (3,)))
    dx, dw, db = (Tensor(rng.standard_normal(s)) for s in ((2, 2, 6, 5), (3, 2, 3, 2), (3,)))
    out, tangent = jvp(_conv, (x, w, b), (dx, dw, db))
    expect = dx.conv2d(w).numpy() + x.conv2d(dw).numpy() + db.numpy().reshape(1, 3, 1, 1)
    np.testing.assert_allclose(tangent.numpy(), expect, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out.numpy(), x.conv2d(w).numpy() + b.numpy().reshape(1, 3, 1, 1), rtol=1e-12)
    # only the bias moves
    zero = [Tensor(np.zeros(t.shape)) for t in (dx, dw)]
    _, tangent = jvp(_conv, (x, w, b), (*zero, db))
    np.testing.assert_allclose(tangent.numpy(), np.broadcast_to(db.numpy().reshape(1, 3, 1, 1), out.shape))


def test_conv_bias_gradient_and_its_second_order() -> None:
    """db = g summed over N and the output positions; through create_graph it stays differentiable (a penalty
    on the bias's gradient, differentiated again, against PyTorch)."""
    torch = pytest.importorskip("torch", reason="PyTorch is the oracle for the second-order gradient")
    rng = np.random.default_rng(6)
    xs, ws, bs = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((3, 2, 2, 2)), rng.standard_normal(3)
    x, w, b = (Tensor(a, requires_grad=True) for a in (xs, ws, bs))
    out = x.conv2d(w, b)
    ((out * out).sum()).backward(create_graph=True)
    np.testing.assert_allclose(b.grad.numpy(), (2 * out.numpy()).sum(axis=(0, 2, 3)), rtol=1e-12)
    penalty = (b.grad * b.grad).sum()
    x.grad, w.grad, b.grad = None, None, None
    penalty.backward()
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (xs, ws, bs))
    tout = torch.nn.functional.conv2d(tx, tw, tb)
    (gb,) = torch.autograd.grad((tout * tout).sum(), (tb,), create_graph=True)
    (gb * gb).sum().backward()
    for mine, theirs in ((x, tx), (w, tw), (b, tb)):
        np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), rtol=1e-10, atol=1e-10)


# --- the products in pieces (OpenBLAS's small-matrix kernels) -------------------------------------------------------
@pytest.mark.parametrize("pieces", ["one position each", "whole"])
@settings(max_examples=30, deadline=None)
@given(data=st.data(), nd=st.integers(1, 3), groups=st.integers(1, 2), cg=st.integers(1, 3), og=st.integers(1, 2),
       n=st.integers(0, 2), bias=st.booleans())
def test_products_in_pieces_match_reference(pieces: str, data: st.DataObject, nd: int, groups: int, cg: int,
                                            og: int, n: int, bias: bool) -> None:
    """Conv and its weight gradient cut into pieces of one position (every boundary a piece can have) and whole,
    by kernel row and over all taps (1-D, or a stride along the first axis), an empty batch included, against
    the definition."""
    from tinygrad_lite.ops import _im2col

    kernel = tuple(data.draw(st.integers(1, 3)) for _ in range(nd))
    stride = tuple(data.draw(st.integers(1, 2)) for _ in range(nd))
    dilation = tuple(data.draw(st.integers(1, 2)) for _ in range(nd))
    spatial = tuple(d * (k - 1) + 1 + data.draw(st.integers(0, 3)) for k, d in zip(kernel, dilation))
    rng = np.random.default_rng(sum(spatial) + 7 * sum(kernel) + n)
    x = rng.standard_normal((n, cg * groups, *spatial))
    w = rng.standard_normal((og * groups, cg, *kernel))
    b = rng.standard_normal(og * groups)
    outs = tuple((s - d * (k - 1) - 1) // st_ + 1 for s, k, d, st_ in zip(spatial, kernel, dilation, stride))
    g = rng.standard_normal((n, og * groups, *outs))
    saved = _im2col.SMALL_PRODUCT, _im2col.MIN_PIECE
    if pieces == "one position each":
        _im2col.SMALL_PRODUCT, _im2col.MIN_PIECE = 1, 1
    else:
        _im2col.SMALL_PRODUCT = 1 << 62
    try:
        out = Conv.call(x, w, *((b,) if bias else ()), stride=stride, dilation=dilation, groups=groups)
        gw = ConvWeight.call(x, g, kernel=kernel, stride=stride, dilation=dilation, groups=groups)
    finally:
        _im2col.SMALL_PRODUCT, _im2col.MIN_PIECE = saved
    if n == 0:  # (the references need a batch) nothing to convolve, nothing to sum: an empty output, a zero gradient
        assert out.shape == (0, og * groups, *outs) and gw.shape == w.shape and not gw.any()
        return
    ref = conv_ref(x, w, stride=stride, dilation=dilation, groups=groups, padding=[(0, 0)] * nd)
    if bias:
        ref = ref + b.reshape(1, -1, *(1,) * nd)
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gw, conv_weight_ref(x, g, kernel, stride, dilation, groups), rtol=1e-12, atol=1e-12)


def test_piece_sizes() -> None:
    from tinygrad_lite.ops._im2col import MIN_PIECE, SMALL_PRODUCT, piece

    assert piece(6, 5, 36864) == 32768 and 6 * 5 * 32768 <= SMALL_PRODUCT  # LeNet's first layer
    assert piece(16, 30, 4096) == 2048  # its second
    assert piece(64, 576, 100_000) == 100_000  # a wide product stays whole: its pieces would be under MIN_PIECE
    assert piece(1, 1, 100) == 100 and piece(1, 1, 0) == 1 and MIN_PIECE <= piece(2, 2, 10**9) <= 10**9
