"""The gradient checker itself: it accepts right gradients and catches wrong ones, saying where.

Wrong rules are local Function subclasses run through `tensor.apply`, never registered.
"""
from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_lite import Tensor
from tinygrad_lite.function import REGISTRY, Function
from tinygrad_lite.node import apply
from tinygrad_lite.ops.unary import Cos, Sin
from tinygrad_lite.testing import gradcheck, gradgradcheck
from tinygrad_lite.testing import strategies as tst

FEW = settings(max_examples=max(5, settings.default.max_examples // 4))


def f64(data: Any, requires_grad: bool = True) -> Tensor:
    return Tensor(np.asarray(data, dtype=np.float64), requires_grad=requires_grad)


class WrongSin(Function):
    """sin with the derivative sin(x) instead of cos(x)."""

    __slots__ = ()

    def forward(self, x: np.ndarray) -> np.ndarray:
        return np.sin(x)

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any]:
        return (g * Sin.call(x),)


class OffByOneElement(Function):
    """3·x, whose rule is right everywhere except at flat element 3 (where it gives 0)."""

    __slots__ = ()

    def forward(self, x: np.ndarray) -> np.ndarray:
        return 3 * x

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any]:
        mask = np.ones(x.shape)
        mask.reshape(-1)[3] = 0.0
        return (g * 3 * mask,)


class SwappedMul(Function):
    """x·y whose rule for y is wrong (gives g·y, not g·x); the rule for x is right."""

    __slots__ = ()

    def forward(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return x * y

    def vjp(self, g: Any, out: Any, x: Any, y: Any) -> tuple[Any, Any]:
        return g * y, g * y


class DetachedSin(Function):
    """sin whose first derivative is right but is computed from raw data, so under create_graph it
    is a constant: the second derivative comes out as 0 instead of -sin(x)."""

    __slots__ = ()

    def forward(self, x: np.ndarray) -> np.ndarray:
        return np.sin(x)

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any]:
        cos = np.cos(x) if isinstance(x, np.ndarray) else Tensor(np.cos(x.data))
        return (g * cos,)


def numbers_in(message: str) -> list[float]:
    return [float(m) for m in re.findall(r"analytic (\S+) vs numeric (\S+?)[ )]", message)[-1]]


# --- accepts right gradients -----------------------------------------------------------------------------
@FEW
@given(tst.broadcastable_shapes(n=2, max_dims=3, max_side=3), st.data())
def test_passes_on_correct_ops(shapes: tuple[tuple[int, ...], ...], data: st.DataObject) -> None:
    x = data.draw(tst.tensors(shapes[0], min_value=0.5, max_value=2.0))
    y = data.draw(tst.tensors(shapes[1]))
    assert gradcheck(lambda a, b: (a.log() * b.tanh() + a / (1 + b * b)).sigmoid(), x, y) is True
    assert gradcheck(lambda a, b: (a.log() * b).sum(), x, y, fast_mode=True) is True


def test_projection_mode_is_chosen_for_large_inputs_and_passes() -> None:
    x = f64(np.linspace(-2, 2, 300).reshape(20, 15))
    w = f64(np.linspace(0.5, -0.5, 15 * 4).reshape(15, 4))
    assert gradcheck(lambda a, b: (a @ b).tanh(), x, w) is True


def test_constants_are_not_checked_and_user_tensors_are_untouched() -> None:
    x = f64([0.3, -0.7, 1.1])
    const = f64([2.0, 3.0, 4.0], requires_grad=False)
    labels = Tensor([1, 0, 2])
    before = x.numpy()
    # The rule for y is wrong, but y is a constant here: only x's (right) rule is checked.
    assert gradcheck(lambda a, c, n, k: apply(SwappedMul, a, c) * k + n.float().double(), x, const, labels, 2.0)
    assert x.grad is None and const.grad is None and (x.numpy() == before).all()


def test_output_that_does_not_depend_on_the_input_has_zero_gradient() -> None:
    assert gradcheck(lambda a: (a > 0).double() + a.floor(), f64([0.5, -0.5]))


def test_a_detached_path_is_caught() -> None:
    with pytest.raises(AssertionError, match=r"analytic 0.0 vs numeric 2.0"):
        gradcheck(lambda a: a.detach() * 2 + a.sum() * 0, f64([0.5, -0.5]))


def test_float32_inputs_run_the_analytic_side_in_float32() -> None:
    x = Tensor([0.25, 0.5, 1.5], dtype="float32", requires_grad=True)
    assert gradcheck(lambda a: a.exp() * a, x, atol=1e-4, rtol=1e-3)


# --- catches wrong gradients ----------------------------------------------------------------------------
@pytest.mark.parametrize("fast_mode", [False, True])
def test_wrong_vjp_fails_naming_input_index_and_values(fast_mode: bool) -> None:
    xs = np.array([0.4, -1.3, 2.0, 0.9, -0.2])
    with pytest.raises(AssertionError) as info:
        gradcheck(lambda a: apply(WrongSin, a), f64(xs), fast_mode=fast_mode)
    msg = str(info.value)
    assert "input 0" in msg and "index (" in msg
    analytic, numeric = numbers_in(msg)
    idx = int(re.search(r"index \((\d+),\)", msg).group(1))  # type: ignore[union-attr]
    if not fast_mode:  # the full Jacobian compares d sin(x_i)/dx_i itself
        assert analytic == pytest.approx(np.sin(xs[idx]), rel=1e-12)
        assert numeric == pytest.approx(np.cos(xs[idx]), rel=1e-6)
    else:  # the located element of vᵀ·J: analytic v_i·sin(x_i) vs numeric v_i·cos(x_i)
        assert analytic / numeric == pytest.approx(np.tan(xs[idx]), rel=1e-5)
        assert "random projection" in msg


@pytest.mark.parametrize("fast_mode", [False, True])
def test_a_single_wrong_element_is_located(fast_mode: bool) -> None:
    x = f64(np.arange(12.0).reshape(3, 4) / 7)
    with pytest.raises(AssertionError, match=r"input 0\) disagrees at index \(0, 3\)|input 0.*index \(0, 3\)") as info:
        gradcheck(lambda a: apply(OffByOneElement, a) * 1.0, x, fast_mode=fast_mode)
    analytic, numeric = numbers_in(str(info.value))
    assert analytic == 0.0 and numeric != pytest.approx(0.0)
    if not fast_mode:
        assert numeric == pytest.approx(3.0) and "output index (0, 3)" in str(info.value)


def test_large_input_fails_in_projection_mode() -> None:
    x = f64(np.linspace(-1, 1, 100))
    with pytest.raises(AssertionError, match="random projection") as info:
        gradcheck(lambda a: apply(OffByOneElement, a).sum(), x)
    assert "index (3,)" in str(info.value)


@pytest.mark.parametrize("fast_mode", [False, True])
def test_wrong_rule_for_the_second_input_names_input_1(fast_mode: bool) -> None:
    x, y = f64([1.0, 2.0, -0.5]), f64([0.5, -1.5, 3.0])
    with pytest.raises(AssertionError, match=r"input 1") as info:
        gradcheck(lambda a, b: apply(SwappedMul, a, b), x, y, fast_mode=fast_mode)
    assert "input 0" not in str(info.value)


def test_wrong_rule_found_at_a_broadcast_input() -> None:
    x, y = f64([[1.0], [2.0]]), f64([0.5, -1.5, 3.0])
    with pytest.raises(AssertionError, match=r"input 1"):
        gradcheck(lambda a, b: apply(SwappedMul, a, b), x, y)


# --- misuse -----------------------------------------------------------------------------------------------
def test_nothing_to_check_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="requires_grad"):
        gradcheck(lambda a: a * 2, f64([1.0], requires_grad=False))
    with pytest.raises(ValueError, match="requires_grad"):
        gradgradcheck(lambda a: a * 2, Tensor([1, 2]))


def test_fn_must_return_a_float_tensor() -> None:
    with pytest.raises(TypeError, match="must return a Tensor"):
        gradcheck(lambda a: a.numpy(), f64([1.0]))
    with pytest.raises(TypeError, match="floating-point"):
        gradcheck(lambda a: a > 0, f64([1.0]))


# --- second order -----------------------------------------------------------------------------------------
@FEW
@given(tst.broadcastable_shapes(n=2, max_dims=2, max_side=3), st.data())
def test_gradgradcheck_passes_on_correct_ops(shapes: tuple[tuple[int, ...], ...], data: st.DataObject) -> None:
    x = data.draw(tst.tensors(shapes[0], min_value=0.5, max_value=2.0))
    y = data.draw(tst.tensors(shapes[1]))
    assert gradgradcheck(lambda a, b: a.log() * b.sin() + (a * b).tanh(), x, y) is True
    assert gradgradcheck(lambda a, b: (a / (1 + b * b)).sum(), x, y, fast_mode=True) is True


@pytest.mark.parametrize("fast_mode", [False, True])
def test_gradgradcheck_catches_a_rule_that_is_not_differentiable(fast_mode: bool) -> None:
    x = f64([0.4, -1.3, 2.0])
    assert gradcheck(lambda a: apply(DetachedSin, a), x)  # the first order is right
    with pytest.raises(AssertionError, match=r"gradgradcheck: .*input 0\) disagrees at index \((\d)?,\)") as info:
        gradgradcheck(lambda a: apply(DetachedSin, a), x, fast_mode=fast_mode)
    analytic, numeric = numbers_in(str(info.value))
    assert analytic == 0.0 or fast_mode
    assert numeric != pytest.approx(analytic)


def test_gradgradcheck_checks_the_vector_too() -> None:
    class DetachedG(Function):
        """x², whose rule uses g's raw data: right values, but d(vjp)/dg comes out 0 under create_graph."""

        __slots__ = ()

        def forward(self, x: np.ndarray) -> np.ndarray:
            return x * x

        def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any]:
            raw = g if isinstance(g, np.ndarray) else Tensor(g.data)
            return (raw * 2 * x,)

    x = f64([0.5, 1.5])
    assert gradcheck(lambda a: apply(DetachedG, a), x)
    with pytest.raises(AssertionError, match=r"input 1 \(grad_outputs\)"):
        gradgradcheck(lambda a: apply(DetachedG, a), x)


def test_gradgradcheck_output_label_names_the_first_order_gradient() -> None:
    x, y = f64([0.4, -1.3]), f64([2.0])
    with pytest.raises(AssertionError, match=r"the gradient of input 0 at index \(\d,\)"):
        gradgradcheck(lambda a, b: apply(DetachedSin, a) * b, x, y)


def test_wrong_rules_stay_out_of_the_registry() -> None:
    assert not {"WrongSin", "OffByOneElement", "SwappedMul", "DetachedSin", "DetachedG"} & set(REGISTRY)
    assert Cos.__name__ in REGISTRY
