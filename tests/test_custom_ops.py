"""Custom ops written by a user: `class MyOp(tl.Function)` with forward and vjp, run with `MyOp.apply(...)`.

A well-written one differentiates to first and second order like a built-in; a badly written one (a vjp
returning too few or too many gradients, a bare array, a wrong shape or dtype) is an error that names
the op and the input, in plain backward and under create_graph; an error raised inside forward keeps
its type and gains the op's name."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings

import tinygrad_lite as tl
from tinygrad_lite import Tensor
from tinygrad_lite.testing import gradcheck, gradgradcheck
from tinygrad_lite.testing import strategies as tst

FEW = settings(max_examples=max(5, settings.default.max_examples // 4))


class Cube(tl.Function):
    """x³, d = 3x²"""

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x * x * x

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any]:
        return (g * 3 * x * x,)


class SmoothAbs(tl.Function):
    """√(x² + ε²), d = x / √(x² + ε²); ε is a keyword parameter of apply."""

    def forward(self, x: np.ndarray, eps: float) -> np.ndarray:
        return np.sqrt(x * x + eps * eps)

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any]:
        return (g * x / out,)


class ScaledDiff(tl.Function):
    """a·(x - y), two inputs that broadcast; the engine sums each gradient back to its input's shape."""

    def forward(self, x: np.ndarray, y: np.ndarray, a: float = 1.0) -> np.ndarray:
        return a * (x - y)

    def vjp(self, g: Any, out: Any, x: Any, y: Any) -> tuple[Any, Any]:
        return g * 2.0, -(g * 2.0)  # a = 2 in every test below


# --- a correct custom op ---------------------------------------------------------------------------------------
@FEW
@given(tst.tensors(tst.shapes(max_dims=3, max_side=4), dtype=np.float64))
def test_a_custom_op_gradchecks_to_second_order(x: Tensor) -> None:
    out = Cube.apply(x)
    assert isinstance(out, Tensor) and out.dtype == x.dtype
    np.testing.assert_allclose(out.numpy(), x.numpy() ** 3, rtol=1e-12)
    assert gradcheck(Cube.apply, x) and gradgradcheck(Cube.apply, x)
    assert gradcheck(lambda t: SmoothAbs.apply(t, eps=0.5), x)
    assert gradgradcheck(lambda t: SmoothAbs.apply(t, eps=0.5), x)


def test_apply_lifts_numbers_and_arrays_keeps_params_and_records_one_node() -> None:
    x = Tensor([[1.0, -2.0, 0.5]], requires_grad=True)
    out = ScaledDiff.apply(x, 0.5, a=2.0)  # a Python number beside a tensor becomes a constant
    assert out.numpy().tolist() == [[1.0, -5.0, 0.0]]
    assert type(out._ctx) is ScaledDiff and out.requires_grad
    out.sum().backward()
    assert x.grad is not None and x.grad.numpy().tolist() == [[2.0, 2.0, 2.0]]
    y = Tensor([[1.0], [3.0]], requires_grad=True)  # broadcast: its gradient is summed back to (2, 1)
    ScaledDiff.apply(np.zeros((1, 3)), y, a=2.0).sum().backward()
    assert y.grad is not None and y.grad.numpy().tolist() == [[-6.0], [-6.0]]


def test_a_custom_op_in_float32_and_under_grad_and_the_jit() -> None:
    x = Tensor(np.array([0.5, -1.5], dtype=np.float32), requires_grad=True)
    Cube.apply(x).sum().backward()
    assert x.grad is not None and x.grad.dtype == np.float32 and x.grad.numpy().tolist() == [0.75, 6.75]
    assert tl.grad(tl.grad(lambda t: Cube.apply(t).sum()))(Tensor(2.0)).item() == 12.0  # d²x³ = 6x

    w = Tensor([0.3, -0.4], requires_grad=True)

    @tl.jit
    def step(v: Tensor) -> Tensor:
        w.grad = None
        loss = SmoothAbs.apply(w * v, eps=0.1).sum()
        loss.backward()
        return loss

    for v in ([1.0, 2.0], [1.0, 2.0], [1.0, 2.0], [-3.0, 0.5]):
        loss = step(Tensor(v))
    assert w.grad is not None
    wv = np.array([0.3, -0.4]) * np.array([-3.0, 0.5])
    assert loss.item() == pytest.approx(np.sqrt(wv ** 2 + 0.01).sum())
    np.testing.assert_allclose(w.grad.numpy(), wv / np.sqrt(wv ** 2 + 0.01) * np.array([-3.0, 0.5]), rtol=1e-6)


def test_apply_without_a_tensor_is_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"Cube.apply needs at least one Tensor argument, got ndarray"):
        Cube.apply(np.ones(3))
    with pytest.raises(TypeError, match=r"Cube.apply needs at least one Tensor argument, got float"):
        Cube.apply(2.0)
    with pytest.raises(TypeError, match=r"got none"):
        Cube.apply()


# --- a vjp that returns the wrong thing ------------------------------------------------------------------------------
def bad_op(result: Any) -> type[tl.Function]:
    """A two-input op x·y whose vjp returns `result(g, x, y)`."""

    class BadMul(tl.Function):
        def forward(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
            return x * y

        def vjp(self, g: Any, out: Any, x: Any, y: Any) -> Any:
            return result(g, x, y)

    return BadMul


BAD_VJPS = {
    "too few": (lambda g, x, y: (g * y,), TypeError, r"BadMul.vjp returned 1 gradients for 2 inputs"),
    "too many": (lambda g, x, y: (g * y, g * x, g), TypeError, r"BadMul.vjp returned 3 gradients for 2 inputs"),
    "a bare array": (lambda g, x, y: g * y, TypeError,
                     r"BadMul.vjp must return a tuple with one gradient \(or None\) per input \(2\), got "),
    "a list": (lambda g, x, y: [g * y, g * x], TypeError, r"BadMul.vjp must return a tuple .* got list"),
    "a wrong shape": (lambda g, x, y: (g * y, (g * x).reshape(-1)[:1] * np.ones(5)), ValueError,
                      r"BadMul.vjp returned shape \(5,\) as the gradient of input 1, whose shape is \(2, 3\)"),
    "an int gradient": (lambda g, x, y: (g * y, np.ones(x.shape, dtype=np.int64)), TypeError,
                        r"BadMul.vjp returned an? (array|Tensor) of dtype int64 as the gradient of input 1 "
                        r"\(\(2, 3\) float64\); expected a floating-point"),
    "an object gradient": (lambda g, x, y: (g * y, np.full(x.shape, None)), TypeError,
                           r"BadMul.vjp returned an array of dtype object as the gradient of input 1"),
    "a string": (lambda g, x, y: (g * y, "oops"), TypeError, r"BadMul.vjp returned str as the gradient of input 1"),
}


@pytest.mark.parametrize("case", list(BAD_VJPS))
def test_a_bad_vjp_names_the_op_and_the_input(case: str) -> None:
    result, error, message = BAD_VJPS[case]
    x, y = Tensor(np.ones((2, 3)), requires_grad=True), Tensor(np.full((2, 3), 2.0), requires_grad=True)
    out = bad_op(result).apply(x, y)
    with pytest.raises(error, match=message):
        out.sum().backward()


def create_graph_result(case: str) -> Any:
    """The same mistakes made on Tensors, as a vjp meets them under create_graph=True."""
    return {
        "too few": lambda g, x, y: (g * y,),
        "too many": lambda g, x, y: (g * y, g * x, g),
        "a bare array": lambda g, x, y: g * y,
        "a list": lambda g, x, y: [g * y, g * x],
        "a wrong shape": lambda g, x, y: (g * y, (g * x).reshape(-1)[:1].expand(5)),
        "an int gradient": lambda g, x, y: (g * y, Tensor(np.ones(x.shape, dtype=np.int64))),
        "an object gradient": lambda g, x, y: (g * y, np.full(x.shape, None)),
        "a string": lambda g, x, y: (g * y, "oops"),
    }[case]


@pytest.mark.parametrize("case", list(BAD_VJPS))
def test_a_bad_vjp_names_the_op_and_the_input_under_create_graph(case: str) -> None:
    _, error, message = BAD_VJPS[case]
    x, y = Tensor(np.ones((2, 3)), requires_grad=True), Tensor(np.full((2, 3), 2.0), requires_grad=True)
    out = bad_op(create_graph_result(case)).apply(x, y)
    with pytest.raises(error, match=message):
        out.sum().backward(create_graph=True)


def test_an_array_gradient_under_create_graph_is_refused_not_silently_constant() -> None:
    """Under create_graph a vjp gets Tensors; one that returns a plain array (computed off the graph) would
    make every higher derivative silently wrong."""
    op = bad_op(lambda g, x, y: (np.asarray(g.numpy() * y.numpy()), g * x))
    x, y = Tensor([1.0, 2.0], requires_grad=True), Tensor([3.0, 4.0], requires_grad=True)  # float32
    with pytest.raises(TypeError, match=r"BadMul.vjp returned an array of dtype float32 as the gradient of input 0 "
                                        r"\(\(2,\) float32\); expected a floating-point Tensor \(under create_graph"):
        op.apply(x, y).sum().backward(create_graph=True)


def test_none_and_broadcast_gradients_are_fine() -> None:
    op = bad_op(lambda g, x, y: (None, (g * x).sum(axis=0, keepdims=True)))
    x, y = Tensor(np.ones((2, 3)), requires_grad=True), Tensor(np.full((1, 3), 2.0), requires_grad=True)
    op.apply(x, y).sum().backward()
    assert x.grad is None and y.grad is not None and y.grad.numpy().tolist() == [[2.0, 2.0, 2.0]]


# --- errors raised inside forward ---------------------------------------------------------------------------------
class Gcd(tl.Function):
    differentiable = False

    def forward(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.gcd(x, y)


class Picky(tl.Function):
    def forward(self, x: np.ndarray, limit: float) -> np.ndarray:
        if (x > limit).any():
            raise ValueError(f"values above {limit}")
        return x


def test_an_error_in_forward_keeps_its_type_and_gains_the_op_name() -> None:
    with pytest.raises(ValueError, match=r"^Picky: values above 1.0 \(inputs \(2,\) float32, limit=1.0\)$"):
        Picky.apply(Tensor([0.5, 2.0]), limit=1.0)


def test_an_error_whose_type_needs_more_than_a_message_keeps_its_type() -> None:
    """NumPy's _UFuncNoLoopError wants (ufunc, dtypes); re-raising it with a message used to end in
    "missing 1 required positional argument" instead of the op's own error."""
    try:
        np.gcd(np.ones(2), np.ones(2))
    except TypeError as exc:
        original = exc
    assert type(original).__name__ == "UFuncTypeError" or "NoLoop" in type(original).__qualname__
    with pytest.raises(TypeError) as info:
        Gcd.apply(Tensor([4.0, 6.0], dtype="float64"), Tensor([2.0, 3.0], dtype="float64"))
    raised = info.value
    assert isinstance(raised, type(original).__mro__[1])  # NumPy's public UFuncTypeError, a TypeError
    text = str(raised)
    assert text.startswith("Gcd: ufunc 'gcd' did not contain a loop with signature matching types")
    assert "inputs (2,) float64, (2,) float64" in text and "positional argument" not in text


# --- the documentation ---------------------------------------------------------------------------------------------
def test_the_python_blocks_of_docs_custom_ops_run_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    doc = Path(__file__).resolve().parents[1] / "docs" / "custom_ops.md"
    blocks = re.findall(r"```python\n(.*?)```", doc.read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 3
    for block in blocks:
        exec(compile(block, str(doc), "exec"), {})  # noqa: S102 - our own documentation
    printed = capsys.readouterr().out
    assert printed.split() == "[-0.9701425 -0.19611614 0. 0.51449576 0.99503719]".split()
