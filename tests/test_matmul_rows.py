"""A batch of rows times one matrix ((..., n, k) @ (k, m)) is one BLAS product in Matmul, forward and backward:
the same numbers as NumPy's batched matmul and as b's gradient summed matrix by matrix, at every shape,
zero sizes and non-contiguous operands included, and differentiable twice."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_lite as tl
from tinygrad_lite.testing import gradcheck, gradgradcheck

sides = st.integers(0, 4)


@st.composite
def rows_and_matrix(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lead = tuple(draw(st.lists(st.integers(0, 3), min_size=1, max_size=3)))
    n, k, m = draw(sides), draw(sides), draw(sides)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    a = rng.standard_normal((*lead, n, k))
    if draw(st.booleans()):  # a transposed view: the rows are not contiguous
        a = np.ascontiguousarray(a.swapaxes(-1, -2)).swapaxes(-1, -2)
    return a, rng.standard_normal((k, m)), rng.standard_normal((*lead, n, m))


@settings(max_examples=80, deadline=None)
@given(rows_and_matrix())
def test_rows_times_a_matrix_is_the_batched_product(case):
    a, b, g = case
    ta, tb = tl.Tensor(a, requires_grad=True), tl.Tensor(b, requires_grad=True)
    out = ta @ tb
    np.testing.assert_allclose(out.numpy(), np.matmul(a, b), rtol=1e-12, atol=1e-12)
    out.backward(tl.Tensor(g))
    np.testing.assert_allclose(ta.grad.numpy(), np.matmul(g, b.T), rtol=1e-12, atol=1e-12)
    per_matrix = np.matmul(a.swapaxes(-1, -2), g).sum(axis=tuple(range(a.ndim - 2)))
    np.testing.assert_allclose(tb.grad.numpy(), per_matrix, rtol=1e-12, atol=1e-12)
    assert ta.grad.shape == a.shape and tb.grad.shape == b.shape


@settings(max_examples=15, deadline=None)
@given(rows_and_matrix())
def test_rows_times_a_matrix_twice_differentiable(case):
    a, b, _ = case
    ta, tb = tl.Tensor(a, requires_grad=True), tl.Tensor(b, requires_grad=True)
    assert gradcheck(lambda x, y: x @ y, ta, tb)
    assert gradgradcheck(lambda x, y: x @ y, ta, tb)


def test_float32_stays_float32():
    a = tl.Tensor(np.ones((2, 3, 4), np.float32), requires_grad=True)
    b = tl.Tensor(np.ones((4, 5), np.float32), requires_grad=True)
    (a @ b).sum().backward()
    assert (a @ b).dtype == np.float32 and a.grad.dtype == np.float32 and b.grad.dtype == np.float32
