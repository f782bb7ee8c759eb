"""Where gradients are easy to get wrong: empty tensors, single elements, saturation at ±1000,
ties for max/min/maximum, and the value chosen at kinks (docs/ops.md lists the conventions)."""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_lite import Tensor
from tinygrad_lite.testing import gradcheck, gradgradcheck
from tinygrad_lite.testing import strategies as tst

FEW = settings(max_examples=max(5, settings.default.max_examples // 4))
FLOATS = [np.float32, np.float64]


def leaf(data: Any, dtype: Any = np.float64) -> Tensor:
    return Tensor(np.asarray(data, dtype=dtype), requires_grad=True)


def grad_of(fn: Callable[[Tensor], Tensor], data: Any, dtype: Any = np.float64) -> tuple[np.ndarray, np.ndarray]:
    """fn(x) and d sum(fn(x)) / dx."""
    x = leaf(data, dtype)
    out = fn(x)
    out.sum().backward()
    assert x.grad is not None and x.grad.dtype == x.dtype
    return out.numpy(), x.grad.numpy()


# --- zero-size tensors -------------------------------------------------------------------------------------------
@FEW
@given(tst.shapes(min_dims=1, max_dims=3, min_side=0, max_side=3).filter(lambda s: 0 in s), st.data())
def test_sum_and_mean_over_an_empty_axis(shape: tuple[int, ...], data: st.DataObject) -> None:
    axis = data.draw(st.sampled_from([i for i, n in enumerate(shape) if n == 0]))
    x = leaf(np.zeros(shape))
    total = x.sum(axis)
    assert total.shape == np.zeros(shape).sum(axis).shape and (total.numpy() == 0).all()
    mean = x.mean(axis)  # nan, as NumPy; and its backward must not divide by zero
    assert mean.shape == total.shape and np.isnan(mean.numpy()).all()
    (total.sum() + mean.sum()).backward()
    assert x.grad is not None and x.grad.shape == shape


def test_prod_over_an_empty_axis_is_one_and_has_an_empty_gradient() -> None:
    x = leaf(np.zeros((2, 0)))
    out = x.prod(axis=1)
    assert out.numpy().tolist() == [1.0, 1.0]
    out.backward(np.ones(2))
    assert x.grad is not None and x.grad.shape == (2, 0)


def test_reshape_of_empty_and_its_gradient() -> None:
    x = leaf(np.zeros((3, 0)))
    assert x.reshape(-1, 3).shape == (0, 3)
    y = x.reshape(0, 5)
    (y.sum() + x.flatten().sum()).backward()
    assert y.shape == (0, 5) and x.grad is not None and x.grad.shape == (3, 0)


def test_empty_slices_matmul_cat_softmax_cumsum() -> None:
    x = leaf(np.arange(6.0).reshape(2, 3))
    x[:, 2:1].sum().backward()
    assert x.grad is not None and (x.grad.numpy() == 0).all()
    a, b = leaf(np.zeros((2, 0))), leaf(np.zeros((0, 3)))
    out = a @ b
    out.sum().backward()
    assert (out.numpy() == 0).all() and out.shape == (2, 3)
    assert a.grad is not None and a.grad.shape == (2, 0) and b.grad is not None and b.grad.shape == (0, 3)
    c, e = leaf([[1.0, 2.0]]), leaf(np.zeros((0, 2)))
    c.cat(e, dim=0).sum().backward()
    assert c.grad is not None and c.grad.numpy().tolist() == [[1.0, 1.0]] and e.grad is not None
    assert e.grad.shape == (0, 2)
    for fn in (lambda t: t.softmax(-1), lambda t: t.log_softmax(-1), lambda t: t.cumsum(0)):
        z = leaf(np.zeros((0, 3)))
        out = fn(z)
        out.sum().backward()
        assert out.shape == (0, 3) and z.grad is not None and z.grad.shape == (0, 3)


def test_max_over_an_empty_axis_is_a_value_error_naming_the_shape() -> None:
    with pytest.raises(ValueError, match=r"\(2, 0\)"):
        leaf(np.zeros((2, 0))).max(axis=1)


# --- a single element --------------------------------------------------------------------------------------------
@FEW
@given(tst.shapes(min_dims=1, max_dims=3, max_side=3), st.data())
def test_reductions_over_a_size_one_axis(shape: tuple[int, ...], data: st.DataObject) -> None:
    shape = shape[:-1] + (1,)
    x = data.draw(tst.tensors(shape))
    value, g = grad_of(lambda t: t.softmax(-1), x.numpy())
    assert (value == 1).all() and np.allclose(g, 0)
    value, g = grad_of(lambda t: t.log_softmax(-1), x.numpy())
    assert (value == 0).all() and np.allclose(g, 0)
    for fn in (lambda t: t.logsumexp(-1), lambda t: t.max(-1), lambda t: t.min(-1), lambda t: t.mean(-1),
               lambda t: t.prod(-1), lambda t: t.cumsum(-1)):
        value, g = grad_of(fn, x.numpy())
        assert np.allclose(value.reshape(-1), x.numpy().reshape(-1)) and (g == 1).all()
    value, g = grad_of(lambda t: t.var(-1, correction=0), x.numpy())
    assert (value == 0).all() and (g == 0).all()
    for fn in (lambda t: t.softmax(-1), lambda t: t.logsumexp(-1), lambda t: t.var(-1, correction=0)):
        assert gradcheck(fn, x) and gradgradcheck(fn, x)


def test_cross_entropy_with_one_class_is_zero_with_zero_gradient() -> None:
    value, g = grad_of(lambda t: t.sparse_categorical_crossentropy(Tensor([0, 0, 0])), [[3.0], [-2.0], [0.5]])
    assert float(value) == 0 and (g == 0).all()


@pytest.mark.parametrize("dtype", FLOATS)
def test_cross_entropy_ignored_rows_count_for_nothing(dtype: Any) -> None:
    logits = np.array([[2.0, -1.0, 0.5], [0.1, 0.2, 0.3], [-3.0, 4.0, 1.0]])
    labels = Tensor([2, -1, 1])  # the middle row is ignored (ignore_index=-1)
    value, g = grad_of(lambda t: t.sparse_categorical_crossentropy(labels, label_smoothing=0.2), logits, dtype)
    kept = logits[[0, 2]]
    logp = kept - np.log(np.exp(kept).sum(1, keepdims=True))
    target = np.full((2, 3), 0.2 / 3) + 0.8 * np.eye(3)[[2, 1]]
    assert float(value) == pytest.approx(-(target * logp).sum() / 2, rel=1e-6)
    assert (g[1] == 0).all() and np.allclose(g[[0, 2]], (np.exp(logp) - target) / 2, atol=1e-6)
    assert np.isnan(float(Tensor(logits).sparse_categorical_crossentropy(Tensor([-1, -1, -1])).item()))
    none = Tensor(logits).sparse_categorical_crossentropy(labels, reduction="none")
    assert none.shape == (3,) and float(none[1].item()) == 0


# --- saturation ----------------------------------------------------------------------------------------------------
# (function of a 1-element tensor, its value and derivative at +1000, and at -1000), the exact limits.
SATURATING: dict[str, tuple[Callable[[Tensor], Tensor], tuple[float, float], tuple[float, float]]] = {
    "sigmoid": (lambda t: t.sigmoid(), (1, 0), (0, 0)),
    "tanh": (lambda t: t.tanh(), (1, 0), (-1, 0)),
    "softplus": (lambda t: t.softplus(), (1000, 1), (0, 0)),
    "softplus[beta=2]": (lambda t: t.softplus(2.0), (1000, 1), (0, 0)),
    "logsigmoid": (lambda t: t.logsigmoid(), (0, 0), (-1000, 1)),
    "silu": (lambda t: t.silu(), (1000, 1), (0, 0)),
    "mish": (lambda t: t.mish(), (1000, 1), (0, 0)),
    "gelu": (lambda t: t.gelu(), (1000, 1), (0, 0)),
    "quick_gelu": (lambda t: t.quick_gelu(), (1000, 1), (0, 0)),
    "elu": (lambda t: t.elu(), (1000, 1), (-1, 0)),
    "celu": (lambda t: t.celu(2.0), (1000, 1), (-2, 0)),
    "bce_logits[y=0]": (lambda t: t.binary_crossentropy_logits(Tensor(np.zeros(1, t.dtype))), (1000, 1), (0, 0)),
    "bce_logits[y=1]": (lambda t: t.binary_crossentropy_logits(Tensor(np.ones(1, t.dtype))), (0, 0), (1000, -1)),
    "bce_logits[y=0.25]": (lambda t: t.binary_crossentropy_logits(Tensor(np.full(1, 0.25, t.dtype))), (750, 0.75),
                           (250, -0.25)),
}


@pytest.mark.parametrize("dtype", FLOATS, ids=["float32", "float64"])
@pytest.mark.parametrize("name", list(SATURATING))
@pytest.mark.parametrize("sign", [1, -1], ids=["+1000", "-1000"])
def test_saturation_gives_finite_limits(name: str, sign: int, dtype: Any) -> None:
    fn, plus, minus = SATURATING[name]
    value, g = grad_of(lambda t: fn(t).sum(), [1000.0 * sign], dtype)
    assert np.isfinite(value).all() and np.isfinite(g).all()
    expected_value, expected_grad = plus if sign > 0 else minus
    assert float(value) == pytest.approx(expected_value, rel=1e-6, abs=1e-30)
    assert float(g[0]) == pytest.approx(expected_grad, rel=1e-6, abs=1e-30)


@pytest.mark.parametrize("dtype", FLOATS, ids=["float32", "float64"])
def test_saturation_of_the_softmax_family(dtype: Any) -> None:
    row = [1000.0, -1000.0]
    value, g = grad_of(lambda t: t.logsumexp(-1), row, dtype)
    assert float(value) == 1000 and g.tolist() == [1.0, 0.0]
    value, g = grad_of(lambda t: t.logsumexp(-1), [-1000.0, -1000.0], dtype)
    assert float(value) == pytest.approx(-1000 + math.log(2)) and g.tolist() == [0.5, 0.5]
    value, g = grad_of(lambda t: t.log_softmax(-1)[1], row, dtype)
    assert float(value) == -2000 and g.tolist() == [-1.0, 1.0]
    value, g = grad_of(lambda t: t.softmax(-1)[0], row, dtype)
    assert float(value) == 1 and (g == 0).all()
    value, g = grad_of(lambda t: t.reshape(1, 2).sparse_categorical_crossentropy(Tensor([1])), row, dtype)
    assert float(value) == 2000 and g.tolist() == [1.0, -1.0]
    value, g = grad_of(lambda t: t.reshape(1, 2).sparse_categorical_crossentropy(Tensor([0])), row, dtype)
    assert float(value) == 0 and (g == 0).all()
    # label smoothing 0.1 over 2 classes: targets (0.05, 0.95), so the gradient is softmax - targets
    value, g = grad_of(lambda t: t.reshape(1, 2).sparse_categorical_crossentropy(Tensor([1]), label_smoothing=0.1),
                       row, dtype)
    assert float(value) == pytest.approx(0.9 * 2000 + 0.1 * 1000) and np.allclose(g, [0.95, -0.95])


@FEW
@given(st.floats(20, 1000), st.sampled_from(FLOATS), st.integers(1, 4))
def test_large_logits_keep_finite_gradients(scale: float, dtype: Any, classes: int) -> None:
    logits = np.linspace(-scale, scale, 2 * classes).reshape(2, classes).astype(dtype)
    for fn in (lambda t: t.log_softmax(-1).sum(), lambda t: t.sparse_categorical_crossentropy(Tensor([0, classes - 1])),
               lambda t: t.logsumexp(-1).sum(), lambda t: t.binary_crossentropy_logits(Tensor(np.ones_like(logits)))):
        value, g = grad_of(fn, logits, dtype)
        assert np.isfinite(value).all() and np.isfinite(g).all() and g.dtype == dtype


# --- ties ------------------------------------------------------------------------------------------------------------
@FEW
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=4),
                  elements=st.sampled_from([-1.0, 0.0, 2.0])), st.data())
def test_tied_extremes_share_the_gradient_equally(x: np.ndarray, data: st.DataObject) -> None:
    axis = data.draw(st.integers(0, x.ndim - 1))
    for fn, ref in ((lambda t: t.max(axis), np.max), (lambda t: t.min(axis), np.min)):
        _, g = grad_of(fn, x)
        hit = x == ref(x, axis=axis, keepdims=True)
        np.testing.assert_allclose(g, hit / hit.sum(axis=axis, keepdims=True), rtol=1e-15)
    _, g = grad_of(lambda t: t.max(), x)
    np.testing.assert_allclose(g, (x == x.max()) / (x == x.max()).sum(), rtol=1e-15)


@FEW
@given(tst.broadcastable_shapes(2, max_dims=2, max_side=3), st.data())
def test_maximum_and_minimum_split_ties_in_half(shapes: tuple[tuple[int, ...], ...], data: st.DataObject) -> None:
    coarse = st.sampled_from([-1.0, 0.0, 1.0])
    a, b = (data.draw(hnp.arrays(np.float64, s, elements=coarse)) for s in shapes)
    for op, wins in (("maximum", np.greater), ("minimum", np.less)):
        x, y = leaf(a), leaf(b)
        getattr(x, op)(y).sum().backward()
        full = np.broadcast_shapes(a.shape, b.shape)
        share_x = np.where(a == b, 0.5, wins(a, b).astype(float)) * np.ones(full)
        assert x.grad is not None and y.grad is not None
        np.testing.assert_allclose(x.grad.numpy(), tst_sum_to(share_x, a.shape))
        np.testing.assert_allclose(y.grad.numpy(), tst_sum_to(1 - share_x, b.shape))
    _, g = grad_of(lambda t: t.maximum(t), a)
    assert (g == 1).all()


def tst_sum_to(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    lead = g.ndim - len(shape)
    g = g.sum(axis=tuple(range(lead)))
    return g.sum(axis=tuple(i for i, n in enumerate(shape) if n == 1), keepdims=True).reshape(shape)


# --- kinks and other conventions --------------------------------------------------------------------------------------
AT_KINKS = [0.0, 1.0, -1.0, 6.0, -3.0, 3.0, 0.5]
TORCH_NAMED = {
    "relu": (lambda t: t.relu(), "relu"),
    "abs": (lambda t: t.abs(), "abs"),
    "sign": (lambda t: t.sign(), "sign"),
    "leaky_relu": (lambda t: t.leaky_relu(0.1), "leaky_relu"),
    "elu": (lambda t: t.elu(0.5), "elu"),
    "celu": (lambda t: t.celu(2.0), "celu"),
    "hardtanh": (lambda t: t.hardtanh(), "hardtanh"),
    "relu6": (lambda t: t.relu6(), "relu6"),
    "clamp": (lambda t: t.clamp(-1.0, 1.0), "clamp"),
    "softsign": (lambda t: t.softsign(), "softsign"),
    "hardsigmoid": (lambda t: t.hardsigmoid(), "hardsigmoid"),
    "amax ties": (lambda t: t.reshape(1, -1).maximum(t.reshape(-1, 1) * 0 + 1.0).max(), "amax"),
}


def _torch_fn(name: str) -> Callable[[Any], Any]:
    torch = pytest.importorskip("torch", reason="torch (the optional 'oracle' extra) compares kink conventions")
    fn = torch.nn.functional
    return {
        "relu": torch.relu, "abs": torch.abs, "sign": torch.sign, "leaky_relu": lambda t: fn.leaky_relu(t, 0.1),
        "elu": lambda t: fn.elu(t, 0.5), "celu": lambda t: fn.celu(t, 2.0), "hardtanh": fn.hardtanh,
        "relu6": fn.relu6, "clamp": lambda t: torch.clamp(t, -1.0, 1.0), "softsign": fn.softsign,
        "hardsigmoid": fn.hardsigmoid,
        "amax": lambda t: torch.maximum(t.reshape(1, -1), t.reshape(-1, 1) * 0 + 1.0).amax(),
    }[name]


@pytest.mark.parametrize("name", list(TORCH_NAMED))
def test_kink_conventions_match_pytorch(name: str) -> None:
    ours, theirs = TORCH_NAMED[name]
    torch_fn = _torch_fn(theirs)
    import torch

    value, g = grad_of(lambda t: ours(t).sum(), AT_KINKS)
    t = torch.tensor(AT_KINKS, dtype=torch.float64, requires_grad=True)
    torch_fn(t).sum().backward()
    # rtol 1e-7: PyTorch's hardsigmoid slope is the float32 1/6 even in float64
    np.testing.assert_allclose(value, torch_fn(t.detach()).sum().numpy(), rtol=1e-7)
    np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-7)


def test_our_own_kink_conventions() -> None:
    """hardswish = x·relu6(x + 3)/6 (as tinygrad): at its kinks ±3 the relu6 factor's gradient is 0, so
    the derivative is the outer side's, 0 and 1 (PyTorch takes the inner side's, -0.5 and 1.5)."""
    _, g = grad_of(lambda t: t.hardswish(), [-3.0, 3.0, 0.0])
    assert g.tolist() == [0.0, 1.0, 0.5]
    _, g = grad_of(lambda t: t.clip(0.0, 1.0), [0.0, 1.0, 2.0])
    assert g.tolist() == [1.0, 1.0, 0.0]  # 1 on the closed interval, as torch.clamp


def test_pow_at_zero_has_finite_gradients_as_pytorch() -> None:
    x, y = leaf([0.0, 0.0, 0.0, 1.5]), leaf([0.0, 2.0, 0.5, 0.0])
    (x ** y).sum().backward()
    assert x.grad is not None and y.grad is not None
    assert x.grad.numpy().tolist() == [0.0, 0.0, math.inf, 0.0]  # d(0^0)/dx = 0; d(x^½)/dx = ∞ at 0
    assert y.grad.numpy().tolist() == pytest.approx([0.0, 0.0, 0.0, math.log(1.5)])


@FEW
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=2, max_side=4),
                  elements=st.sampled_from([0.0, 0.5, -1.5, 2.0])))
def test_prod_with_zero_factors(x: np.ndarray) -> None:
    t = leaf(x)
    assert gradcheck(lambda a: a.prod(-1), t) and gradcheck(lambda a: a.prod(), t)
    if (x == 0).any():
        with pytest.raises(NotImplementedError, match="zero factor"):
            gradgradcheck(lambda a: a.prod(), t)
