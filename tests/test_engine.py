"""Regression tests for the autograd engine: graph shapes that broke earlier engines
(x·x, diamonds, reuse), accumulation, deep graphs, freeing, grad modes and higher order."""
from __future__ import annotations

import gc
import time
import weakref

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_lite as tl
from tinygrad_lite import Tensor, dtypes

# tiny magnitudes are flushed to 0: products of them would be subnormal, where relative tolerances mean nothing
finite = st.floats(-3, 3).map(lambda v: 0.0 if abs(v) < 1e-100 else v)


def leaf(values, dtype=dtypes.float64) -> Tensor:
    return Tensor(np.asarray(values, dtype=dtype), requires_grad=True)


# --- the same tensor on several paths --------------------------------------------------------------
@given(finite)
def test_x_times_x_gives_2x(v):
    # an engine that overwrites instead of accumulating gives x here
    x = leaf(v)
    (x * x).backward()
    assert x.grad is not None and x.grad.item() == 2 * v


@given(finite)
def test_x_times_x_times_x_gives_3x_squared(v):
    x = leaf(v)
    (x * x * x).backward()
    assert x.grad.item() == pytest.approx(3 * v * v, rel=1e-12, abs=1e-300)


@given(st.lists(finite, min_size=1, max_size=6))
def test_diamond_rejoins(vals):
    # x feeds two branches which rejoin: d/dx e^x·sin x = e^x (sin x + cos x)
    x = leaf(vals)
    (x.exp() * x.sin()).sum().backward()
    v = np.asarray(vals)
    np.testing.assert_allclose(x.grad.numpy(), np.exp(v) * (np.sin(v) + np.cos(v)), rtol=1e-12, atol=1e-14)


@given(st.lists(finite, min_size=1, max_size=6))
def test_diamond_below_a_shared_intermediate(vals):
    # h is used by two consumers; its gradient must be complete before it flows to x
    x = leaf(vals)
    h = x * 2.0
    (h.sin() + h.cos() * h).sum().backward()
    hv = 2 * np.asarray(vals)
    expected = 2 * (np.cos(hv) + np.cos(hv) - hv * np.sin(hv))
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12, atol=1e-13)


def test_diamond_with_broadcasting_on_each_branch():
    v = np.array([0.5, -1.0, 2.0])
    x = leaf(v)
    # outer sum x_i + x_j over a 3x3 grid: each x_k appears 3 times as row and 3 times as column
    (x.reshape(3, 1) + x.reshape(1, 3)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full(3, 6.0))


def test_tensor_reused_many_times():
    x = leaf([1.0, -2.0])
    y = x + x + x + x
    (y * x).sum().backward()  # 4x·x -> 8x
    np.testing.assert_array_equal(x.grad.numpy(), [8.0, -16.0])


def test_same_matrix_on_both_sides_of_matmul():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 3))
    g = rng.standard_normal((3, 3))
    A = leaf(a)
    (A @ A).backward(gradient=g)
    np.testing.assert_allclose(A.grad.numpy(), g @ a.T + a.T @ g, rtol=1e-12)


# --- accumulation ----------------------------------------------------------------------------
def test_accumulates_across_backward_with_retain_graph():
    x = leaf([1.0, 2.0, 3.0])
    loss = (x * x).sum()
    loss.backward(retain_graph=True)
    first = x.grad.numpy()
    loss.backward()
    np.testing.assert_array_equal(first, [2.0, 4.0, 6.0])
    np.testing.assert_array_equal(x.grad.numpy(), 2 * first)


def test_accumulates_across_two_separate_graphs():
    x = leaf([1.0, 2.0])
    (x * 2.0).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0 + 2.0, 2.0 + 4.0])


def test_accumulation_does_not_write_into_a_shared_buffer():
    # a + b hands both inputs the same gradient buffer; accumulating into a.grad must leave b.grad alone
    a, b = leaf([1.0, 1.0]), leaf([1.0, 1.0])
    (a + b).sum().backward()
    b_grad = b.grad
    (a * 3.0).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [4.0, 4.0])
    np.testing.assert_array_equal(b.grad.numpy(), [1.0, 1.0])
    assert b.grad is b_grad


def test_zeroing_grad_between_steps():
    x = leaf([3.0])
    (x * x).sum().backward()
    x.grad = None
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [6.0])


# --- deep graphs: no recursion, linear time ----------------------------------------------------------
def _chain_backward_seconds(n: int, c: float) -> tuple[float, float, float]:
    """y = x·cⁿ built from n multiplications; returns (backward seconds, y, dy/dx)."""
    x = Tensor(1.0, dtype=dtypes.float64, requires_grad=True)
    ct = Tensor(c, dtype=dtypes.float64)
    y = x
    # Setup only: while a million live nodes are built, Python's cyclic GC would rescan them again and
    # again (more than doubling the build time); the backward pass below runs with the GC on.
    gc.disable()
    try:
        for _ in range(n):
            y = y * ct
    finally:
        gc.enable()
    start = time.perf_counter()
    y.backward()
    seconds = time.perf_counter() - start
    assert x.grad is not None
    return seconds, y.item(), x.grad.item()


def test_million_op_chain_backpropagates_in_linear_time():
    c = 1.0 + 1e-6
    small_n, big_n = 100_000, 1_000_000
    t_small, _, _ = _chain_backward_seconds(small_n, c)
    t_big, value, grad = _chain_backward_seconds(big_n, c)
    # every one of the million factors must have been applied once, forward and backward
    expected = c ** big_n
    assert value == pytest.approx(expected, rel=1e-9)
    assert grad == pytest.approx(expected, rel=1e-9)
    per_op_small, per_op_big = t_small / small_n, t_big / big_n
    assert per_op_big < 3 * per_op_small, f"backward per op: {per_op_small:.2e}s at 1e5, {per_op_big:.2e}s at 1e6"


# --- freeing the graph ---------------------------------------------------------------------------
def test_intermediates_are_freed_by_backward():
    x = leaf(np.ones(4))
    h = x * 2.0
    alive = weakref.ref(h)
    loss = (h * 3.0).sum()
    del h
    assert alive() is not None  # the graph holds it until backward
    loss.backward()
    # no gc.collect(): the graph must hold no reference cycles, so refcounting frees it at once
    assert alive() is None


def test_retain_graph_keeps_intermediates():
    x = leaf(np.ones(4))
    h = x * 2.0
    alive = weakref.ref(h)
    loss = (h * 3.0).sum()
    del h
    loss.backward(retain_graph=True)
    gc.collect()
    assert alive() is not None
    loss.backward()
    assert alive() is None


def test_second_backward_after_freeing_says_retain_graph():
    x = leaf([1.0, 2.0])
    loss = (x.exp() * 2.0).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match=r"retain_graph=True"):
        loss.backward()


def test_backward_through_a_freed_shared_subgraph_raises():
    x = leaf([1.0, 2.0])
    h = x.exp()
    (h * 2.0).sum().backward()
    first = x.grad.numpy()
    with pytest.raises(RuntimeError, match=r"retain_graph=True"):
        (h * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), first)  # the failed walk stored nothing in the leaf


# --- grad modes ---------------------------------------------------------------------------
def test_no_grad_context_manager():
    x = leaf([1.0, 2.0])
    with tl.no_grad():
        assert not tl.is_grad_enabled()
        y = x * 2.0
    assert tl.is_grad_enabled()
    assert not y.requires_grad and y.is_leaf
    z = x * 2.0
    assert z.requires_grad


def test_no_grad_decorator_and_nested_enable_grad():
    x = leaf([1.0, 2.0])

    @tl.no_grad()
    def untracked(t):
        inner = t * 2.0
        with tl.enable_grad():
            tracked = t * 3.0
            with tl.no_grad():
                again_off = t * 4.0
            back_on = t * 5.0
        return inner, tracked, again_off, back_on

    inner, tracked, again_off, back_on = untracked(x)
    assert [t.requires_grad for t in (inner, tracked, again_off, back_on)] == [False, True, False, True]
    assert tl.is_grad_enabled()
    tracked.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


def test_enable_grad_decorator_inside_no_grad():
    x = leaf([2.0])

    @tl.enable_grad()
    def tracked(t):
        return t * t

    with tl.no_grad():
        y = tracked(x)
    assert y.requires_grad
    y.sum().backward()
    assert x.grad.item() == 4.0


def test_grad_mode_restored_after_an_exception():
    with pytest.raises(ZeroDivisionError):
        with tl.no_grad():
            raise ZeroDivisionError
    assert tl.is_grad_enabled()


# --- detach and requires_grad_ ---------------------------------------------------------------------
def test_detach_stops_the_gradient():
    x = leaf([1.0, -3.0])
    d = x.detach()
    assert not d.requires_grad and d.is_leaf
    np.testing.assert_array_equal(d.numpy(), x.numpy())
    (x * x.detach()).sum().backward()  # only one factor carries gradient: x, not 2x
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, -3.0])


def test_requires_grad_toggles_a_leaf():
    x = Tensor(np.array([1.0, 2.0]))
    assert not x.requires_grad
    assert x.requires_grad_() is x and x.requires_grad
    (x * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])
    x.requires_grad_(False)
    assert not (x * 3.0).requires_grad


def test_requires_grad_false_on_a_non_leaf_is_refused():
    y = leaf([1.0]) * 2.0
    with pytest.raises(ValueError, match="detach"):
        y.requires_grad_(False)


# --- higher order ------------------------------------------------------------------------------
@given(st.lists(finite, min_size=1, max_size=5))
def test_second_order_with_create_graph(vals):
    v = np.asarray(vals)
    x = leaf(v)
    (x * x * x).sum().backward(create_graph=True)
    g = x.grad
    assert g is not None and g.requires_grad
    np.testing.assert_allclose(g.numpy(), 3 * v * v, rtol=1e-12)
    x.grad = None
    g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * v, rtol=1e-12)


@given(finite)
def test_nested_grad_up_to_third_order(v):
    x = Tensor(v, dtype=dtypes.float64)
    f = lambda t: t.sin()  # noqa: E731
    assert tl.grad(f)(x).item() == pytest.approx(np.cos(v), abs=1e-14)
    assert tl.grad(tl.grad(f))(x).item() == pytest.approx(-np.sin(v), abs=1e-14)
    assert tl.grad(tl.grad(tl.grad(f)))(x).item() == pytest.approx(-np.cos(v), abs=1e-14)


@given(st.lists(finite, min_size=2, max_size=2), st.lists(finite, min_size=2, max_size=2))
def test_value_and_grad_with_argnums_tuple(av, bv):
    a, b = np.asarray(av), np.asarray(bv)
    f = lambda p, q: (p * p * q).sum()  # noqa: E731
    value, (ga, gb) = tl.value_and_grad(f, argnums=(0, 1))(Tensor(a), Tensor(b))
    assert value.item() == pytest.approx(float((a * a * b).sum()), rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(ga.numpy(), 2 * a * b, rtol=1e-12)
    np.testing.assert_allclose(gb.numpy(), a * a, rtol=1e-12)
    # the mixed second derivative d/dq (df/dp · 1) = 2p, and the pure one d/dp = 2q
    dp_sum = lambda p, q: tl.grad(f, argnums=0)(p, q).sum()  # noqa: E731
    hp, hq = tl.grad(dp_sum, argnums=(0, 1))(Tensor(a), Tensor(b))
    np.testing.assert_allclose(hp.numpy(), 2 * b, rtol=1e-12)
    np.testing.assert_allclose(hq.numpy(), 2 * a, rtol=1e-12)


def test_grad_leaves_dot_grad_untouched_and_negative_argnums():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    gb = tl.grad(lambda p, q: (p * q).sum(), argnums=-1)(a, b)
    np.testing.assert_array_equal(gb.numpy(), [1.0, 2.0])
    assert a.grad is None and b.grad is None


def test_grad_of_a_function_that_ignores_its_argument_is_zero():
    g = tl.grad(lambda p, q: (q * 2.0).sum(), argnums=0)(Tensor([1.0, 2.0]), Tensor([3.0, 4.0]))
    np.testing.assert_array_equal(g.numpy(), [0.0, 0.0])


# --- dtypes -----------------------------------------------------------------------------------
def test_float32_gradient_stays_float32_beside_float64_constants():
    x = leaf([1.0, 2.0], dtype=np.float32)
    c = Tensor(np.array([0.5, 0.25]))  # float64
    y = (x * c).sum()
    assert y.dtype == np.float64
    y.backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.numpy(), np.array([0.5, 0.25], dtype=np.float32))


def test_python_floats_keep_the_tensor_dtype():
    x = leaf([1.0, 2.0], dtype=np.float32)
    y = (x * 2.5 + 1.0).sum()
    assert y.dtype == np.float32
    y.backward()
    assert x.grad.dtype == np.float32


def test_float64_leaf_through_a_float32_cast_keeps_float64_grad():
    x = leaf([1.0, 2.0])
    (x.cast(dtypes.float32) * 3.0).sum().backward()
    assert x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


# --- what is not reached ------------------------------------------------------------------------
def test_unreached_tensors_keep_grad_none():
    x, unused = leaf([1.0, 2.0]), leaf([5.0])
    only_compared = leaf([0.5, -0.5])
    mask = only_compared > 0  # comparisons carry no gradient
    (mask.where(x, 0.0) * 2.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 0.0])
    assert unused.grad is None
    assert only_compared.grad is None


def test_constants_in_the_graph_get_no_grad():
    x = leaf([1.0, 2.0])
    c = Tensor(np.array([3.0, 4.0]))
    (x * c).sum().backward()
    assert c.grad is None and not c.requires_grad


# --- non-scalar roots ------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["tensor", "ndarray", "list"])
def test_backward_with_explicit_gradient(kind):
    w = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    v = [[0.5, -1.0, 2.0], [0.0, 1.0, -3.0]]
    x = leaf(np.ones((2, 3)))
    y = x * Tensor(w)
    gradient = {"tensor": Tensor(np.array(v)), "ndarray": np.array(v), "list": v}[kind]
    y.backward(gradient=gradient)
    np.testing.assert_array_equal(x.grad.numpy(), np.array(v) * w)


def test_backward_gradient_through_broadcasting():
    x = leaf([1.0, 2.0, 3.0])
    y = x.reshape(1, 3) * Tensor(np.ones((2, 1)))  # (2, 3)
    y.backward(gradient=np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(x.grad.numpy(), [0 + 3, 1 + 4, 2 + 5])


# --- regressions the PyTorch oracle found ----------------------------------------------------------
def test_scalar_leaf_broadcast_gets_a_tensor_grad():
    # summing a broadcast gradient down to shape () gave a NumPy scalar, which ended up in .grad
    x = leaf(2.0)
    (x * Tensor(np.array([[1.0, 2.0]]))).sum().backward()
    assert isinstance(x.grad, Tensor)
    assert x.grad.shape == () and x.grad.dtype == np.float64 and x.grad.item() == 3.0


def test_power_with_a_tensor_exponent():
    # the x ** 2 fast path compared the exponent with 2 before checking it was a number
    x, y = leaf([2.0, 3.0]), leaf([2.0, 0.5])
    (x ** y).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0 * 2.0, 0.5 * 3.0 ** -0.5], rtol=1e-12)
    np.testing.assert_allclose(y.grad.numpy(), [4.0 * np.log(2.0), 3.0 ** 0.5 * np.log(3.0)], rtol=1e-12)


def test_no_grad_and_enable_grad_decorate_without_parentheses():
    x = Tensor([1.0, 2.0], requires_grad=True)

    @tl.no_grad
    def untracked(t):
        return t * 2

    @tl.enable_grad
    def tracked(t):
        return t * 2

    assert not untracked(x).requires_grad
    with tl.no_grad():
        assert tracked(x).requires_grad
    assert tl.is_grad_enabled()


def test_requires_grad_flag_alias():
    t = Tensor([1.0])
    assert t.requires_grad_(flag=True).requires_grad
    assert not t.requires_grad_(flag=False).requires_grad
