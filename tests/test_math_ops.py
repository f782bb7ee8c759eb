"""log1p, expm1, erf, asin, acos, atan, atan2 and gelu(approximate="none"): erf's accuracy against math.erf,
the values and gradients at the edges of each domain, PyTorch as the oracle for values, first and second
derivatives, float32 kept float32, and the jit tracing every new rule (no slow generic replay).

The smooth interior of each op is gradchecked (first and second order) by test_ops_registry.py from its
spec in op_specs.py; this file is about everything the spec's domain keeps away from."""
from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_lite as tl
import tinygrad_lite.nn.functional as F
from tinygrad_lite import Tensor, nn
from tinygrad_lite.ops.unary import erf

N = settings.default.max_examples
FLOATS = [np.float32, np.float64]
UNARY = ["log1p", "expm1", "erf", "asin", "acos", "atan"]


def value_and_grad(name: str, data: Any, dtype: Any = np.float64) -> tuple[np.ndarray, np.ndarray]:
    """`x.name()` and d sum(x.name()) / dx, with every NumPy warning an error."""
    x = Tensor(np.asarray(data, dtype=dtype), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = getattr(x, name)()
        out.sum().backward()
    assert x.grad is not None and out.dtype == dtype and x.grad.dtype == dtype
    return out.numpy(), x.grad.numpy()


# --- erf against math.erf ----------------------------------------------------------------------------------
def assert_erf_accurate(x: np.ndarray, rel: float) -> None:
    got = erf(x)
    want = np.array([math.erf(v) for v in x.astype(np.float64).ravel()]).reshape(x.shape)
    assert got.dtype == x.dtype and got.shape == x.shape
    # 1e-320 absolute: a subnormal result carries fewer than 53 bits in any implementation
    np.testing.assert_array_less(np.abs(got - want), rel * np.abs(want) + 1e-320)


@settings(max_examples=10 * N)
@given(hnp.arrays(np.float64, hnp.array_shapes(max_dims=2, max_side=40),
                  elements=st.floats(allow_nan=False, allow_infinity=True)))
def test_erf_is_within_1e_14_of_math_erf_over_the_real_line(x: np.ndarray) -> None:
    assert_erf_accurate(x, 1e-14)


@settings(max_examples=2 * N)
@given(hnp.arrays(np.float64, st.integers(1, 200), elements=st.floats(-7, 7)))
def test_erf_is_within_1e_14_where_it_is_not_flat(x: np.ndarray) -> None:
    assert_erf_accurate(x, 1e-14)


def test_erf_on_a_dense_grid_and_across_every_piece_boundary() -> None:
    grid = np.linspace(-6.5, 6.5, 200_001)
    edges = np.arange(0, 65) * (6.0 / 64)
    near = (edges[:, None] + np.array([-1e-12, 0.0, 1e-12])).ravel()
    tiny = np.logspace(-320, -1, 400)
    for x in (grid, near, -near, tiny, -tiny):
        assert_erf_accurate(x, 1e-15)


@given(hnp.arrays(np.float32, st.integers(1, 50), elements=st.floats(-10, 10, width=32)))
def test_erf_of_float32_is_float32_and_correctly_rounded_to_within_an_ulp(x: np.ndarray) -> None:
    got = erf(x)
    want = np.array([math.erf(v) for v in x.astype(np.float64)]).astype(np.float32)
    assert got.dtype == np.float32
    assert (np.abs(got - want) <= np.spacing(np.abs(want))).all()


def test_erf_special_values() -> None:
    out = erf(np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 6.0, -40.0, 1e300]))
    assert out[:2].tolist() == [0.0, 0.0] and np.signbit(out[1]) and not np.signbit(out[0])
    assert out[2:4].tolist() == [1.0, -1.0] and np.isnan(out[4]) and out[5:].tolist() == [1.0, -1.0, 1.0]


@given(hnp.arrays(np.float64, st.integers(1, 30), elements=st.floats(-1e6, 1e6)))
def test_erf_is_odd_and_bounded(x: np.ndarray) -> None:
    assert (erf(-x) == -erf(x)).all()
    assert (np.abs(erf(x)) <= 1).all()


# --- edges of each domain ----------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", FLOATS, ids=["float32", "float64"])
def test_asin_and_acos_at_plus_minus_one_have_infinite_gradients_as_pytorch(dtype: Any) -> None:
    value, g = value_and_grad("asin", [1.0, -1.0, 0.0], dtype)
    assert value.tolist() == pytest.approx([math.pi / 2, -math.pi / 2, 0.0])
    assert g.tolist() == [math.inf, math.inf, 1.0]
    value, g = value_and_grad("acos", [1.0, -1.0, 0.0], dtype)
    assert value.tolist() == pytest.approx([0.0, math.pi, math.pi / 2])
    assert g.tolist() == [-math.inf, -math.inf, -1.0]


def test_asin_and_acos_outside_their_domain_are_nan_without_a_warning() -> None:
    for name in ("asin", "acos"):
        value, g = value_and_grad(name, [1.5, -2.0])
        assert np.isnan(value).all() and np.isnan(g).all()


def test_log1p_at_minus_one_and_below() -> None:
    value, g = value_and_grad("log1p", [-1.0, 0.0, 1e-300])
    assert value.tolist() == [-math.inf, 0.0, 1e-300] and g.tolist() == [math.inf, 1.0, 1.0]
    value, g = value_and_grad("log1p", [-2.0])
    assert np.isnan(value).all() and g.tolist() == [-1.0]  # d/dx 1/(1+x) is defined there; the value is not


@pytest.mark.parametrize("dtype", FLOATS, ids=["float32", "float64"])
def test_log1p_and_expm1_keep_full_precision_for_tiny_inputs(dtype: Any) -> None:
    tiny = np.array([1e-20, -3e-12], dtype=dtype)
    for name in ("log1p", "expm1"):
        value, g = value_and_grad(name, tiny, dtype)
        np.testing.assert_allclose(value, tiny, rtol=1e-6)
        np.testing.assert_allclose(g, 1.0, rtol=1e-6)
    assert (1 + Tensor(tiny[:1])).log().item() == 0.0  # what the composite would give


@pytest.mark.parametrize("dtype", FLOATS, ids=["float32", "float64"])
def test_large_inputs_saturate_with_finite_values_and_no_warning(dtype: Any) -> None:
    big = np.finfo(dtype).max / 2
    value, g = value_and_grad("atan", [big, -big], dtype)
    assert value.tolist() == pytest.approx([math.pi / 2, -math.pi / 2]) and (g == 0).all()
    value, g = value_and_grad("erf", [big, -big, 30.0, -30.0], dtype)
    assert value.tolist() == [1.0, -1.0, 1.0, -1.0] and (g == 0).all()
    value, g = value_and_grad("expm1", [-1000.0], dtype)
    assert value.tolist() == [-1.0] and g.tolist() == [0.0]
    value, g = value_and_grad("log1p", [big], dtype)
    assert np.isfinite(value).all() and g.tolist() == pytest.approx([1 / big], rel=1e-6)


@pytest.mark.parametrize("dtype", FLOATS, ids=["float32", "float64"])
def test_atan2_quadrants_signed_zeros_and_the_origin(dtype: Any) -> None:
    y = Tensor(np.array([0.0, -0.0, 1.0, -1.0, 0.0, 0.0], dtype=dtype), requires_grad=True)
    x = Tensor(np.array([-1.0, -1.0, 0.0, -1.0, 0.0, 2.0], dtype=dtype), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = y.atan2(x)
        out.sum().backward()
    assert out.dtype == dtype
    assert out.numpy().tolist() == pytest.approx([math.pi, -math.pi, math.pi / 2, -3 * math.pi / 4, 0.0, 0.0])
    assert y.grad is not None and x.grad is not None
    assert y.grad.numpy().tolist() == pytest.approx([-1.0, -1.0, 0.0, -0.5, 0.0, 0.5])  # x/(x²+y²), 0 at (0, 0)
    assert x.grad.numpy().tolist() == pytest.approx([0.0, 0.0, -1.0, 0.5, 0.0, 0.0])  # -y/(x²+y²)


def test_atan2_broadcasts_lifts_numbers_and_promotes_integers() -> None:
    y = Tensor([[1.0], [-2.0]], requires_grad=True)
    out = y.atan2(Tensor([1.0, 2.0, -3.0]))
    assert out.shape == (2, 3)
    np.testing.assert_allclose(out.numpy(), np.arctan2([[1.0], [-2.0]], [1.0, 2.0, -3.0]), rtol=1e-6)
    out.sum().backward()
    assert y.grad is not None and y.grad.shape == (2, 1)
    assert Tensor([1, 2]).atan2(1).dtype == tl.dtypes.default_float
    assert Tensor([3.0]).atan2(4.0).item() == pytest.approx(math.atan2(3, 4))


@pytest.mark.parametrize("name", UNARY)
def test_integer_input_gives_default_float_and_empty_input_empty_output(name: str) -> None:
    assert getattr(Tensor([0, 1]), name)().dtype == tl.dtypes.default_float
    value, g = value_and_grad(name, np.zeros((2, 0)))
    assert value.shape == (2, 0) and g.shape == (2, 0)


# --- PyTorch as the oracle ------------------------------------------------------------------------------------
def need_torch() -> Any:
    return pytest.importorskip("torch", reason="PyTorch is the oracle here (pip install torch, the 'oracle' extra)")


# name: (ours, torch's (given the torch module), a strategy of in-domain values).
ORACLE: dict[str, tuple[Callable[..., Any], Callable[..., Any], st.SearchStrategy[float]]] = {
    "log1p": (lambda t: t.log1p(), lambda th, t: th.log1p(t), st.floats(-0.9, 10)),
    "expm1": (lambda t: t.expm1(), lambda th, t: th.expm1(t), st.floats(-20, 5)),
    "erf": (lambda t: t.erf(), lambda th, t: th.erf(t), st.floats(-6, 6)),
    "asin": (lambda t: t.asin(), lambda th, t: th.asin(t), st.floats(-0.95, 0.95)),
    "acos": (lambda t: t.acos(), lambda th, t: th.acos(t), st.floats(-0.95, 0.95)),
    "atan": (lambda t: t.atan(), lambda th, t: th.atan(t), st.floats(-50, 50)),
    "gelu(none)": (lambda t: t.gelu(approximate="none"), lambda th, t: th.nn.functional.gelu(t), st.floats(-8, 8)),
    "F.gelu": (lambda t: F.gelu(t), lambda th, t: th.nn.functional.gelu(t), st.floats(-8, 8)),
    "nn.GELU()": (lambda t: nn.GELU()(t), lambda th, t: th.nn.GELU()(t), st.floats(-8, 8)),
}


def _mix(t: Any, n: int) -> Any:
    """t + 0.1·(its entries rolled by one): so that the Hessian has cross terms (a diagonal one would hide
    a wrong mixed derivative)."""
    return t + 0.1 * t[[*range(1, n), 0]] if n > 1 else t


@pytest.mark.parametrize("name", list(ORACLE))
@settings(max_examples=max(5, N // 2))
@given(data=st.data())
def test_values_first_and_second_derivatives_match_torch(name: str, data: st.DataObject) -> None:
    torch = need_torch()
    ours, th_fn, values = ORACLE[name]

    def theirs(t: Any) -> Any:
        return th_fn(torch, t)

    x0 = data.draw(hnp.arrays(np.float64, st.integers(1, 6), elements=values), label="x")
    n = x0.size
    x0 = x0 / 1.1  # the mixing adds at most 10% of a neighbour: stay inside the domain
    v = np.random.default_rng(n).uniform(-1, 1, n)
    u = np.random.default_rng(n + 1).uniform(-1, 1, n)

    tx = torch.tensor(x0, requires_grad=True)
    t_out = theirs(_mix(tx, n))
    (t_first,) = torch.autograd.grad((t_out * torch.tensor(v)).sum(), tx, create_graph=True)
    (t_second,) = torch.autograd.grad((t_first * torch.tensor(u)).sum(), tx)

    def readout(a: Tensor) -> Tensor:
        return (ours(_mix(a, n)) * Tensor(v)).sum()

    x = Tensor(x0, requires_grad=True)
    out = ours(_mix(x, n))
    first = tl.grad(readout)(x)
    hvp = tl.grad(lambda a: (tl.grad(readout)(a) * Tensor(u)).sum())(x)
    for what, a, b in (("value", out, t_out), ("gradient", first, t_first), ("second derivative", hvp, t_second)):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-13, err_msg=f"{name} {what}")


@pytest.mark.parametrize("name", UNARY)
def test_values_and_gradients_at_the_edges_match_torch(name: str) -> None:
    torch = need_torch()
    points = np.array([0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1e-8, -1e-8, 30.0, -30.0, 1e300, -1e300, 2.0, -2.0])
    with np.errstate(over="ignore"):  # expm1(1e300) overflows to inf, as in torch (which does not warn)
        x = Tensor(points, requires_grad=True)
        out = getattr(x, name)()
        out.sum().backward()
    assert x.grad is not None
    value, g = out.numpy(), x.grad.numpy()
    t = torch.tensor(points, requires_grad=True)
    t_value = getattr(torch, name)(t)
    t_value.sum().backward()
    np.testing.assert_allclose(value, t_value.detach().numpy(), rtol=1e-14, err_msg=f"{name} value")
    # torch differentiates expm1 as out + 1, which is off by up to an ulp of 1 where eˣ is tiny; ours is eˣ itself
    atol = 2e-16 if name == "expm1" else 0.0
    np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-14, atol=atol, err_msg=f"{name} gradient")
    if name == "expm1":
        np.testing.assert_array_equal(g[np.isfinite(g)], np.exp(points[np.isfinite(g)]))


def test_atan2_matches_torch_everywhere_including_zeros_and_infinities() -> None:
    torch = need_torch()
    vals = [0.0, -0.0, 1.0, -1.0, 2.5, -0.3, math.inf, -math.inf]
    yy, xx = np.meshgrid(vals, vals)
    y, x = Tensor(yy.ravel(), requires_grad=True), Tensor(xx.ravel(), requires_grad=True)
    ty, tx = torch.tensor(yy.ravel(), requires_grad=True), torch.tensor(xx.ravel(), requires_grad=True)
    with np.errstate(invalid="ignore"):  # inf/inf in the gradient where both are infinite: nan in torch too
        out = y.atan2(x)
        out.sum().backward()
    t_out = torch.atan2(ty, tx)
    t_out.sum().backward()
    np.testing.assert_array_equal(out.numpy(), t_out.detach().numpy())
    assert y.grad is not None and x.grad is not None
    np.testing.assert_allclose(y.grad.numpy(), ty.grad.numpy(), rtol=1e-15)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-15)


# --- gelu ------------------------------------------------------------------------------------------------------
def test_gelu_default_stays_tanh_and_none_is_exact_as_pytorch() -> None:
    torch = need_torch()
    x = np.linspace(-6, 6, 49)
    tanh_form = torch.nn.functional.gelu(torch.tensor(x), approximate="tanh").numpy()
    exact = torch.nn.functional.gelu(torch.tensor(x)).numpy()
    np.testing.assert_allclose(Tensor(x).gelu().numpy(), tanh_form, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(Tensor(x).gelu(approximate="tanh").numpy(), tanh_form, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(Tensor(x).gelu(approximate="none").numpy(), exact, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(nn.GELU()(Tensor(x)).numpy(), exact, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(F.gelu(Tensor(x), approximate="tanh").numpy(), tanh_form, rtol=1e-14, atol=1e-15)
    assert np.abs(exact - tanh_form).max() > 1e-4  # the two forms differ: the test above tells them apart


@pytest.mark.parametrize("dtype", FLOATS, ids=["float32", "float64"])
def test_exact_gelu_saturates_and_keeps_its_dtype(dtype: Any) -> None:
    x = Tensor(np.array([1000.0, -1000.0, 0.0], dtype=dtype), requires_grad=True)
    out = x.gelu(approximate="none")
    out.sum().backward()
    assert out.dtype == dtype and x.grad is not None and x.grad.dtype == dtype
    assert out.numpy().tolist() == [1000.0, 0.0, 0.0] and x.grad.numpy().tolist() == [1.0, 0.0, 0.5]


def test_gelu_refuses_an_unknown_approximation() -> None:
    for make in (lambda: Tensor([1.0]).gelu(approximate="erf"), lambda: F.gelu(Tensor([1.0]), approximate="exact"),
                 lambda: nn.GELU("Tanh")):
        with pytest.raises(ValueError, match="approximate must be"):
            make()


# --- float32 and the jit ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", [*UNARY, "atan2"])
def test_float32_in_float32_out_close_to_float64(name: str) -> None:
    x = np.linspace(-0.9, 0.9, 11).astype(np.float32)
    results = {}
    for dtype in FLOATS:
        t = Tensor(x.astype(dtype), requires_grad=True)
        out = t.atan2(Tensor(np.full(11, 0.7, dtype))) if name == "atan2" else getattr(t, name)()
        out.sum().backward()
        assert out.dtype == dtype and t.grad is not None and t.grad.dtype == dtype
        results[dtype] = out.numpy(), t.grad.numpy()
    for a, b in zip(results[np.float32], results[np.float64]):
        np.testing.assert_allclose(a, b, rtol=2e-6, atol=2e-7)


def test_the_jit_traces_every_new_rule_and_replays_the_eager_numbers() -> None:
    w = Tensor(np.array([[0.3, -0.2, 0.1]]), requires_grad=True)
    u = Tensor(np.array([[0.5, 0.2, -0.7]]), requires_grad=True)

    def loss_of(x: Tensor) -> Tensor:
        h = x @ w
        return (h.gelu(approximate="none").sum() + h.erf().sum() + (h * 0.5).asin().sum() + (h * 0.5).acos().sum()
                + h.atan().sum() + h.log1p().sum() + h.expm1().sum() + h.atan2(x @ u).sum())

    @tl.jit
    def step(x: Tensor) -> Tensor:
        w.grad = u.grad = None
        loss = loss_of(x)
        loss.backward()
        return loss

    x = Tensor(np.array([[1.0], [0.4]]))
    for _ in range(3):  # capture, capture again and compare, replay
        step(x)
    program = step.program(x)
    assert program is not None and program.fallbacks == [] and program.generic_calls == [], program.listing
    x2 = Tensor(np.array([[0.7], [-0.3]]))
    replayed = step(x2).item()
    assert w.grad is not None and u.grad is not None
    gw, gu = w.grad.numpy(), u.grad.numpy()
    w.grad = u.grad = None
    eager = loss_of(x2)
    eager.backward()
    assert replayed == eager.item()
    np.testing.assert_array_equal(gw, w.grad.numpy())
    np.testing.assert_array_equal(gu, u.grad.numpy())
