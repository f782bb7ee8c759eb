"""check_backprop: a learner's hand-written gradients against autodiff.

The article's models right and wrong (its perceptron's σ'(σ(z)) included), a softmax classifier,
one deliberately wrong backward per kind of mistake, the hints and errors a learner reads, and
the two ways it runs: as a plain call (hypothesis.find) and inside an outer @given test.
"""
from __future__ import annotations

import re
import sys
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_lite as tl
from tinygrad_lite.examples import equations as eq
from tinygrad_lite.examples.article import article_setup
from tinygrad_lite.nn import functional as F
from tinygrad_lite.testing import BackpropMismatch, BackpropReport, check_backprop

Arrays = dict[str, np.ndarray]
Tensors = dict[str, tl.Tensor]

PERCEPTRON = {"w": ("d", 1), "b": (1,)}
TWO_LAYER = {"wh": ("d", "h"), "wo": ("h", 1)}
BINARY_DATA = {"X": ("n", "d"), "y": ("n", 1)}
SMALL = {"n": (1, 6), "d": (1, 3), "h": (1, 4), "k": (2, 4)}


# --- the article's models, as a learner writes them ------------------------------------------------------
def perceptron_loss(p: Tensors, x: Tensors) -> tl.Tensor:
    """L = ½ Σ (σ(X·w + b) - y)²"""
    return 0.5 * (((x["X"] @ p["w"] + p["b"]).sigmoid() - x["y"]) ** 2).sum()


def perceptron_backprop(p: Arrays, x: Arrays) -> Arrays:
    return eq.perceptron_gradients(p["w"], p["b"], x["X"], x["y"])


def article_perceptron_backprop(p: Arrays, x: Arrays) -> Arrays:
    """The article's code: σ' applied to p = σ(X·w + b) instead of to X·w + b."""
    return eq.seed_perceptron_gradients(p["w"], p["b"], x["X"], x["y"])


def two_layer_loss(p: Tensors, x: Tensors) -> tl.Tensor:
    ao = ((x["X"] @ p["wh"]).sigmoid() @ p["wo"]).sigmoid()
    return 0.5 * ((ao - x["y"]) ** 2).sum()


def two_layer_backprop(p: Arrays, x: Arrays) -> Arrays:
    """The article's two phases, written out."""
    ah = eq.sigmoid(x["X"] @ p["wh"])
    ao = eq.sigmoid(ah @ p["wo"])
    delta_o = (ao - x["y"]) * ao * (1 - ao)
    delta_h = (delta_o @ p["wo"].T) * ah * (1 - ah)
    return {"wh": x["X"].T @ delta_h, "wo": ah.T @ delta_o}


def two_layer_without_hidden_sigmoid_derivative(p: Arrays, x: Arrays) -> Arrays:
    ah = eq.sigmoid(x["X"] @ p["wh"])
    ao = eq.sigmoid(ah @ p["wo"])
    delta_o = (ao - x["y"]) * ao * (1 - ao)
    return {"wh": x["X"].T @ (delta_o @ p["wo"].T), "wo": ah.T @ delta_o}


def softmax_loss(p: Tensors, x: Tensors) -> tl.Tensor:
    """Part 3: ao = softmax(σ(X·wh + bh)·wo + bo), L = -Σ Y ⊙ log ao with one-hot Y."""
    logits = (x["X"] @ p["wh"] + p["bh"]).sigmoid() @ p["wo"] + p["bo"]
    return -(x["Y"] * logits.log_softmax(axis=1)).sum()


def softmax_backprop(p: Arrays, x: Arrays) -> Arrays:
    return eq.multiclass_gradients(p["wh"], p["bh"], p["wo"], p["bo"], x["X"], x["Y"])


def one_hot_rows(dims: dict[str, int]) -> st.SearchStrategy[np.ndarray]:
    """Y (n, k): one 1 per row, at a drawn class."""
    labels = hnp.arrays(np.intp, (dims["n"],), elements=st.integers(0, dims["k"] - 1))
    return labels.map(lambda y: np.eye(dims["k"])[y])


SOFTMAX = {"wh": ("d", "h"), "bh": ("h",), "wo": ("h", "k"), "bo": ("k",)}
SOFTMAX_DATA = {"X": ("n", "d"), "Y": one_hot_rows}


def flat(e: BaseException) -> str:
    """The message with line breaks and indents as single spaces (hints are wrapped)."""
    return " ".join(str(e).split())


def raised(forward: Any, backward: Any, params: dict[str, Any], inputs: dict[str, Any],
           **kwargs: Any) -> BackpropMismatch:
    with pytest.raises(BackpropMismatch) as info:
        check_backprop(forward, backward, params, inputs, **kwargs)
    return info.value


# --- the article ---------------------------------------------------------------------------------------------
def test_the_correct_perceptron_backprop_passes() -> None:
    report = check_backprop(perceptron_loss, perceptron_backprop, PERCEPTRON, BINARY_DATA, seed=0, dims=SMALL)
    assert isinstance(report, BackpropReport)
    assert report.examples == 51          # the first (simplest) draw, then max_examples=50
    assert set(report.parameters) == {"w", "b"}
    for stats in report.parameters.values():
        assert stats.max_error <= 1 and stats.max_abs_diff < 1e-12
        assert stats.max_abs_grad > 0.1   # the draws were not all trivial


def test_the_article_perceptron_bug_is_caught_with_a_message_a_learner_can_read() -> None:
    e = raised(perceptron_loss, article_perceptron_backprop, PERCEPTRON, BINARY_DATA, seed=0, dims=SMALL)
    assert set(e.parameters) == {"w", "b"}
    message = str(e)
    assert message.startswith("check_backprop: your backward() disagrees with autodiff for 'w' and 'b'")
    for name in ("w", "b"):
        m, example = e.found[name]
        assert f"∂L/∂{name} is wrong at " in message
        # the numbers printed are the ones at the example printed: recompute both sides there
        args = {**example.params, **example.inputs}
        yours = eq.seed_perceptron_gradients(**args)[name][m.index]
        auto = eq.perceptron_gradients(**args)[name][m.index]
        assert f"yours = {yours:.10g}, autodiff = {auto:.10g}, yours / autodiff = {yours / auto:.6g}" in message
        assert abs(yours / auto - 1) > 1e-3
        assert example.inputs["X"].shape[0] == 1        # shrunk to a single data point
    assert "yours / autodiff is not one constant factor" in flat(e)
    assert "σ' applied to a = σ(z)" in flat(e) and "σ'(z) = a(1 - a)" in flat(e)
    assert "The smallest example hypothesis found:" in message
    assert re.search(r"^    X = \[\[.*\]\]   \(input\)$", message, re.M)
    assert e.report.parameters["b"].max_error > 1


def test_the_same_seed_gives_the_same_report() -> None:
    first = raised(perceptron_loss, article_perceptron_backprop, PERCEPTRON, BINARY_DATA, seed=5, dims=SMALL,
                   max_examples=20)
    again = raised(perceptron_loss, article_perceptron_backprop, PERCEPTRON, BINARY_DATA, seed=5, dims=SMALL,
                   max_examples=20)
    assert str(first) == str(again)


def test_the_correct_two_layer_backprop_passes_for_any_sizes() -> None:
    report = check_backprop(two_layer_loss, two_layer_backprop, TWO_LAYER, BINARY_DATA, seed=1, dims=SMALL,
                            elements=st.floats(-10, 10))
    assert report.parameters["wh"].max_error <= 1 and report.parameters["wo"].max_error <= 1


def test_the_article_2_4_1_network_at_its_own_data() -> None:
    s = article_setup(0)
    report = check_backprop(two_layer_loss, two_layer_backprop, {"wh": s.wh, "wo": s.wo}, {"X": s.X, "y": s.y},
                            seed=0, max_examples=10)
    assert report.examples == 11     # the article's own values first, then 10 draws of the same shapes


def test_a_missing_hidden_sigmoid_derivative_is_blamed_on_wh_only() -> None:
    e = raised(two_layer_loss, two_layer_without_hidden_sigmoid_derivative, TWO_LAYER, BINARY_DATA, seed=0,
               dims=SMALL)
    assert e.parameters == ("wh",)
    assert "∂L/∂wh is wrong" in str(e) and "∂L/∂wo" not in str(e)
    assert e.report.parameters["wo"].max_error <= 1


# --- a softmax classifier ------------------------------------------------------------------------------------
def test_a_softmax_classifier_with_one_hot_labels_passes() -> None:
    report = check_backprop(softmax_loss, softmax_backprop, SOFTMAX, SOFTMAX_DATA, seed=2, dims=SMALL)
    assert all(stats.max_error <= 1 for stats in report.parameters.values())


def test_a_softmax_classifier_with_class_indices_from_a_template() -> None:
    seen: list[np.ndarray] = []

    def loss(p: Tensors, x: Tensors) -> tl.Tensor:
        return F.cross_entropy(x["X"] @ p["w"] + p["b"], x["labels"], reduction="sum")

    def backprop(p: Arrays, x: Arrays) -> Arrays:
        seen.append(x["labels"])
        delta = eq.softmax(x["X"] @ p["w"] + p["b"]) - np.eye(3)[x["labels"]]
        return {"w": x["X"].T @ delta, "b": delta.sum(axis=0)}

    check_backprop(loss, backprop, {"w": (2, 3), "b": (3,)}, {"X": (4, 2), "labels": np.array([0, 2, 1, 0])},
                   seed=0, max_examples=30)
    labels = np.stack(seen)
    assert labels.dtype.kind == "i" and labels.shape[1:] == (4,)
    assert labels.min() == 0 and labels.max() == 2 and len(np.unique(labels)) == 3   # drawn within [min, max]


def test_a_softmax_classifier_with_the_sign_of_ao_minus_y_flipped() -> None:
    def flipped(p: Arrays, x: Arrays) -> Arrays:
        return {k: -g for k, g in softmax_backprop(p, x).items()}

    e = raised(softmax_loss, flipped, SOFTMAX, SOFTMAX_DATA, seed=0, dims=SMALL, max_examples=20)
    assert set(e.parameters) == set(SOFTMAX)
    assert "yours = -autodiff" in flat(e) and "the sign is flipped" in flat(e)


# --- one deliberately wrong backward per kind of mistake ---------------------------------------------------------
FIXED = {"X": (4, 2), "y": (4, 1)}


def sse_loss(p: Tensors, x: Tensors) -> tl.Tensor:
    """L = Σ (X·w - y)², no ½."""
    return ((x["X"] @ p["w"] - x["y"]) ** 2).sum()


def sse_backprop(p: Arrays, x: Arrays) -> Arrays:
    return {"w": 2 * x["X"].T @ (x["X"] @ p["w"] - x["y"])}


@pytest.mark.parametrize("factor, says", [
    (-1.0, "the sign is flipped"),
    (2.0, "yours = 2 × autodiff"),
    (0.5, "yours = ½ × autodiff"),
    (0.25, "a factor 4 = the length of axis 0 of 'X': a mean where forward() takes the sum"),
    (3.7, "yours = 3.7 × autodiff"),
])
def test_a_constant_factor_is_named(factor: float, says: str) -> None:
    def scaled(p: Arrays, x: Arrays) -> Arrays:
        return {"w": factor * sse_backprop(p, x)["w"]}

    e = raised(sse_loss, scaled, {"w": (2, 1)}, FIXED, seed=0, max_examples=20)
    assert says in flat(e)
    assert f"yours / autodiff = {factor:.6g}" in str(e)
    assert re.search(r"at all \d+ differing entries of \d+ failing example", flat(e))


def test_a_gradient_left_at_zero() -> None:
    def forgot_b(p: Arrays, x: Arrays) -> Arrays:
        return {**perceptron_backprop(p, x), "b": np.zeros(1)}

    e = raised(perceptron_loss, forgot_b, {"w": (2, 1), "b": (1,)}, FIXED, seed=0, max_examples=20)
    assert e.parameters == ("b",)
    assert "yours is 0 where autodiff's is not" in flat(e)


def test_a_parameter_used_through_numpy_is_invisible_to_autodiff() -> None:
    def loss(p: Tensors, x: Tensors) -> tl.Tensor:
        w_as_numpy = tl.Tensor(p["w"].numpy())      # the mistake: autodiff cannot follow this
        return perceptron_loss({"w": w_as_numpy, "b": p["b"]}, x)

    e = raised(loss, perceptron_backprop, {"w": (2, 1), "b": (1,)}, FIXED, seed=0, max_examples=20)
    assert e.parameters == ("w",)
    assert "autodiff finds no path from the loss to 'w'" in flat(e) and ".numpy()" in flat(e)


def test_the_values_given_are_checked_first() -> None:
    X, y, w = np.array([[0.3, -1.2]]), np.array([[1.0]]), np.array([[0.7], [0.1]])

    def wrong_only_there(p: Arrays, x: Arrays) -> Arrays:
        g = sse_backprop(p, x)
        return {"w": g["w"] + 1.0} if np.array_equal(x["X"], X) else g

    e = raised(sse_loss, wrong_only_there, {"w": w}, {"X": X, "y": y}, seed=0, max_examples=10)
    assert "At the values you gave:" in str(e)
    np.testing.assert_array_equal(e.found["w"][1].inputs["X"], X)


# --- wrong names, shapes and types: clear errors before any search -------------------------------------------
def _perceptron_with(change: Any) -> Any:
    def backward(p: Arrays, x: Arrays) -> Any:
        return change(perceptron_backprop(p, x))
    return backward


@pytest.mark.parametrize("change, error, says", [
    (lambda g: {"w": g["w"]}, ValueError, ["returned no gradient for 'b'", "(it returned 'w')", "'w', 'b'"]),
    (lambda g: {**g, "X": np.zeros((4, 2))}, ValueError, ["gradient for 'X'", "'X' is an input"]),
    (lambda g: {**g, "v": 0.0}, ValueError, ["gradient for 'v', which is not a parameter", "are 'w', 'b'"]),
    (lambda g: {**g, "w": g["w"].T}, ValueError,
     ["backward()['w'] has shape (1, 2), but the parameter 'w' has shape (2, 1)", "It is the transpose"]),
    (lambda g: {**g, "b": np.repeat(g["b"][None], 4, axis=0)}, ValueError,
     ["backward()['b'] has shape (4, 1)", "the sum of their gradients: .sum(axis=0)"]),
    (lambda g: {**g, "w": g["w"].ravel()}, ValueError, ["has shape (2,)", "reshape it to (2, 1)"]),
    (lambda g: [g["w"], g["b"]], TypeError, ["backward() must return a dict", "got list"]),
    (lambda g: {**g, "w": None}, TypeError, ["backward()['w'] is NoneType"]),
    (lambda g: {**g, "w": "0.1"}, TypeError, ["backward()['w'] is str"]),
])
def test_a_malformed_backward_gets_a_clear_error(change: Any, error: type[Exception], says: list[str]) -> None:
    with pytest.raises(error) as info:
        check_backprop(perceptron_loss, _perceptron_with(change), {"w": (2, 1), "b": (1,)}, FIXED, seed=0)
    assert not isinstance(info.value, BackpropMismatch)
    for phrase in says:
        assert phrase in str(info.value)
    assert not getattr(info.value, "__notes__", None)   # raised before any hypothesis search


@pytest.mark.parametrize("loss, error, says", [
    (lambda p, x: 1.5, TypeError, "forward() must return the loss as a tinygrad_lite Tensor, got float"),
    (lambda p, x: x["X"] @ p["w"], ValueError, "forward() returned a Tensor of shape (4, 1); the loss must be"),
    (lambda p, x: tl.Tensor(p["w"].numpy()).sum(), ValueError, "does not depend on any parameter"),
    (lambda p, x: p["w"].sum() + float("inf"), ValueError, "forward() gave the loss inf at this example"),
])
def test_a_malformed_forward_gets_a_clear_error(loss: Any, error: type[Exception], says: str) -> None:
    with pytest.raises(error, match=re.escape(says)):
        check_backprop(loss, sse_backprop, {"w": (2, 1)}, FIXED, seed=0)


def test_an_error_inside_the_users_code_says_where_it_came_from() -> None:
    def broken(p: Arrays, x: Arrays) -> Arrays:
        raise ZeroDivisionError("oops")

    with pytest.raises(ZeroDivisionError) as info:
        check_backprop(sse_loss, broken, {"w": (2, 1)}, FIXED, seed=0)
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "raised by your backward() at this example" in notes and "X = " in notes


@pytest.mark.parametrize("kwargs, error, says", [
    ({"params": {}}, ValueError, "params is empty"),
    ({"params": {"w": (2, 1)}, "inputs": {"w": (2,)}}, ValueError, "'w' is both a parameter and an input"),
    ({"params": {"w": [2, 1]}}, TypeError, "param 'w': expected a shape tuple, an array"),
    ({"params": {"w": (2, -1)}}, ValueError, "param 'w': a shape holds sizes >= 0"),
    ({"params": {"w": np.array(["a"])}}, TypeError, "a template array must hold numbers"),
    ({"rtol": -1.0}, ValueError, "rtol must be a finite number >= 0"),
    ({"max_examples": 0}, ValueError, "max_examples must be a positive int"),
    ({"elements": {"q": st.floats(0, 1)}}, ValueError, "elements names 'q'"),
    ({"elements": 3.0}, TypeError, "elements must be a hypothesis strategy"),
    ({"dims": {"n": (3, 1)}}, ValueError, "dims['n'] = (3, 1) must satisfy 0 <= low <= high"),
    ({"dims": {"n": "big"}}, TypeError, "dims['n'] must be a size or a (low, high) pair"),
])
def test_bad_arguments(kwargs: dict[str, Any], error: type[Exception], says: str) -> None:
    args: dict[str, Any] = {"params": {"w": (2, 1)}, "inputs": {"X": ("n", 2), "y": ("n", 1)}, **kwargs}
    with pytest.raises(error, match=re.escape(says)):
        check_backprop(sse_loss, sse_backprop, **args)


def test_without_hypothesis_the_error_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "hypothesis.control", None)
    with pytest.raises(ImportError, match="pip install hypothesis"):
        check_backprop(sse_loss, sse_backprop, {"w": (2, 1)}, FIXED)


def test_values_may_be_tensors_strategies_or_booleans() -> None:
    def loss(p: Tensors, x: Tensors) -> tl.Tensor:
        return (p["w"] * x["scale"] * x["mask"].cast(tl.dtypes.float64)).sum()

    def backprop(p: Arrays, x: Arrays) -> Arrays:
        return {"w": x["scale"] * x["mask"]}

    inputs = {"scale": hnp.arrays(np.float64, (3,), elements=st.floats(1, 2)), "mask": np.array([True, False, True])}
    report = check_backprop(loss, backprop, {"w": tl.Tensor([1.0, 2.0, 3.0])}, inputs, seed=0, max_examples=20)
    assert report.parameters["w"].max_abs_grad >= 1


# --- inside the user's own @given test -----------------------------------------------------------------------------
@settings(max_examples=15, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(hidden=st.integers(1, 5))
def test_inside_an_outer_given_a_correct_backprop_passes(hidden: int) -> None:
    report = check_backprop(two_layer_loss, two_layer_backprop, {"wh": (2, hidden), "wo": (hidden, 1)},
                            {"X": ("n", 2), "y": ("n", 1)},
                            dims={"n": (1, 5)})
    assert report.examples == 1          # one example per outer example: the outer test drives the search


def test_inside_an_outer_given_a_wrong_backprop_fails_and_the_outer_test_shrinks_it() -> None:
    @settings(max_examples=30, database=None, derandomize=True)
    @given(hidden=st.integers(1, 5))
    def users_test(hidden: int) -> None:
        check_backprop(perceptron_loss, article_perceptron_backprop, {"w": (hidden, 1), "b": (1,)},
                       {"X": ("n", hidden), "y": ("n", 1)})

    with pytest.raises(BackpropMismatch) as info:
        users_test()
    message = str(info.value)
    assert "At this example (drawn by your @given test, which shrinks it):" in message
    assert "∂L/∂b is wrong here" in message
    _, example = info.value.found["b"]
    assert example.params["w"].shape == (1, 1) and example.inputs["X"].shape == (1, 1)   # shrunk by the outer test
