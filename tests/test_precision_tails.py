"""Precision in the tails, without PyTorch: the fixes the differential suite (tests/test_torch_differential.py)
led to, checked against NumPy references so they hold where torch is not installed.

elu/celu near 0- (expm1), sigmoid in its far left tail (and so silu at -max), gelu at +max, and the float16 (float32
accumulation) and float32 (float64) widths of the reductions.
"""
from __future__ import annotations

import warnings

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_lite as tl
from tinygrad_lite.testing import strategies as tst

FAST = settings(max_examples=30, deadline=None)


@FAST
@given(st.floats(-1e-3, -1e-300, allow_subnormal=False), st.sampled_from([1.0, 0.5, 2.0]))
def test_elu_and_celu_keep_tiny_negative_inputs(x, alpha):
    """alpha·expm1(x/alpha) is x·(1 + x/(2·alpha) + ...): exp(x) - 1 would be 0 or one rounding step for |x| < 1e-8."""
    t = tl.Tensor(np.array([x]))
    np.testing.assert_allclose(t.elu(alpha).numpy(), alpha * np.expm1(np.array([x])), rtol=1e-15)
    np.testing.assert_allclose(t.celu(alpha).numpy(), alpha * np.expm1(np.array([x]) / alpha), rtol=1e-15)


@FAST
@given(st.floats(-1000.0, -600.0), st.sampled_from(["float32", "float64"]))
def test_sigmoid_far_left_is_exp_or_flushed_to_zero(x, dtype):
    """σ(x) = e^x/(1 + e^x) to full relative precision while that is a normal number; below (x < -709 in float64,
    -88 in float32, where 1 + e^-x overflows) exactly 0, as PyTorch, never the 1/(1 + e^cap) of a capped exp."""
    x = float(np.dtype(dtype).type(x / (1 if dtype == "float64" else 8)))  # float32: [-125, -75]
    with np.errstate(under="ignore"):
        want = np.exp(x) / (1 + np.exp(x))
    got = tl.Tensor(np.array([x], dtype)).sigmoid().numpy()[0]
    smallest_normal = float(np.finfo(dtype).smallest_normal)
    if want >= smallest_normal:
        assert abs(float(got) - want) <= 4 * float(np.finfo(dtype).eps) * want
    else:  # 0, or the subnormal itself (within a few of its steps): never above it, as 1/(1 + e^cap) is
        assert 0 <= got <= want + 4 * float(np.finfo(dtype).smallest_subnormal)


def test_silu_of_huge_negative_values_is_minus_zero():
    for dtype in (np.float16, np.float32, np.float64):
        big = float(np.finfo(dtype).max)
        out = tl.Tensor(np.array([-big, -big / 3], dtype)).silu().numpy()
        assert out.dtype == dtype and (out == 0).all() and np.signbit(out).all()
    assert tl.Tensor(np.array([-100.0], np.float16)).sigmoid().item() == 0.0  # not 1/(1 + e^11) = 1.7e-5


def test_gelu_at_plus_max_is_x_and_at_minus_max_is_zero():
    for dtype in (np.float32, np.float64):
        big = np.finfo(dtype).max
        with warnings.catch_warnings(), np.errstate(over="ignore"):  # x·x overflows on the way (to tanh(inf) = 1)
            warnings.simplefilter("ignore")
            out = tl.Tensor(np.array([big, -big], dtype)).gelu().numpy()
        assert out[0] == big and out[1] == 0


@FAST
@given(tst.arrays(tst.shapes(min_dims=1, max_dims=3, max_side=4), np.float16,
                  elements=st.floats(-65504, 65504, width=16)), st.data())
def test_float16_reductions_are_the_float32_result_rounded_once(x, data):
    axis = data.draw(tst.reduction_axes(x.ndim, min_size=1))
    t = tl.Tensor(x)
    wide = x.astype(np.float32)
    with np.errstate(over="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a float32 total beyond 65504 rounds to inf, as it should
        cases = {
            "sum": (t.sum(axis), wide.sum(axis)),
            "mean": (t.mean(axis), wide.mean(axis)),
            "var": (t.var(axis), _var(wide, axis)),
            "cumsum": (t.cumsum(-1), np.cumsum(wide, -1)),
        }
        for name, (ours, ref) in cases.items():
            want = np.asarray(ref).astype(np.float16)
            assert ours.dtype == np.float16, name
            np.testing.assert_allclose(ours.numpy().astype(np.float64), want.astype(np.float64), rtol=2e-3,
                                       atol=0, err_msg=name)


def _var(x: np.ndarray, axis) -> np.ndarray:
    n = x.size if axis is None else np.prod([x.shape[a] for a in ((axis,) if isinstance(axis, int) else axis)])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.var(x.astype(np.float64), axis=axis) * n / (n - 1)


def test_float32_std_of_squares_beyond_float32():
    """The deviations' squares leave float32 (above 1.8e19, below 1e-19) while the std itself does not."""
    x = tl.Tensor(np.array([0.0, 3.4e38], np.float32))
    assert x.std().item() == np.float32(3.4e38 / np.sqrt(2))
    y = tl.Tensor(np.array([3.7847004e-32, 0.0], np.float32), requires_grad=True)
    s = y.std()
    s.backward()
    np.testing.assert_allclose(s.item(), 3.7847004e-32 / np.sqrt(2), rtol=1e-6)
    np.testing.assert_allclose(y.grad.numpy(), [2 ** -0.5, -(2 ** -0.5)], rtol=1e-6)
    assert s.dtype == y.grad.dtype == np.float32


def _x_for_pow(dtype: str) -> st.SearchStrategy[float]:
    """Any float of the dtype, half the time one of its edges (zeros, subnormals, ±max, ±inf, NaN)."""
    fi = np.finfo(dtype)
    tiny, big = float(fi.smallest_subnormal), float(fi.max)
    edges = [0.0, -0.0, tiny, -tiny, float(fi.tiny) / 2, big, -big, np.inf, -np.inf, np.nan]
    return st.one_of(st.floats(width=32 if dtype == "float32" else 64), st.sampled_from(edges))


@FAST
@given(st.sampled_from(["float32", "float64"]).flatmap(
    lambda dt: st.tuples(st.just(dt), st.lists(_x_for_pow(dt), min_size=1, max_size=6))))
def test_derivative_of_x_to_the_zero_is_zero_everywhere(case):
    """d(x^0)/dx = 0 for every x - 0, subnormal, huge, ±inf, NaN - as PyTorch (0·x⁻¹ would be NaN where x⁻¹
    overflows); and the forward x^0 is 1."""
    dtype, values = case
    x = tl.Tensor(np.array(values, dtype=dtype), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's x**-1 overflow warning in the forward, not the grad
        y = x ** 0.0
        y.sum().backward()
    assert np.all(y.numpy() == 1)
    assert x.grad is not None and np.all(x.grad.numpy() == 0)
