"""The article's hand-derived gradients (/work/shared/ARTICLE.md, parts 1-3) against tinygrad_lite's.

Each property draws the problem at random (n, d, hidden width, classes, weights, labels, and a
weight scale large enough to saturate sigmoids), takes the gradient with the engine through
plain Tensor ops, and compares it with the article's equations written in NumPy, in float64.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tinygrad_lite import Tensor

RTOL = 1e-9
# Below this, products of saturated derivatives reach subnormals, where no relative statement holds.
FLOOR = 1e-290


# --- the article's maths, in NumPy ---------------------------------------------------------------
def sigmoid(z: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):  # exp(-z) = inf for very negative z gives the right limit 0
        return 1.0 / (1.0 + np.exp(-z))


def sigmoid_der(z: np.ndarray) -> np.ndarray:
    s = sigmoid(z)
    return s * (1.0 - s)


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def assert_matches(auto: Tensor | None, hand: np.ndarray, size: np.ndarray) -> None:
    """|auto - hand| <= RTOL * size elementwise. `size` is the same formula evaluated on absolute
    values: the scale rounding acts on in each sum, so cancellation to ~0 does not fail the test."""
    assert auto is not None, "no gradient reached this tensor"
    got = auto.numpy()
    assert got.shape == hand.shape and got.dtype == np.float64
    err = np.abs(got - hand)
    bound = RTOL * size + FLOOR
    worst = np.unravel_index(np.argmax(err - bound), err.shape)
    assert np.all(err <= bound), f"at {worst}: engine {got[worst]!r}, equation {hand[worst]!r}"


def half_squared_error(p: Tensor, y: np.ndarray) -> Tensor:
    """The code's loss L = ½ Σ (p - y)²."""
    return 0.5 * ((p - Tensor(y)) ** 2).sum()


# --- random problems -------------------------------------------------------------------------
def matrix(draw: st.DrawFn, shape: tuple[int, ...], scale: float = 1.0, bound: float = 1.0) -> np.ndarray:
    return draw(arrays(np.float64, shape, elements=st.floats(-bound, bound))) * scale


@st.composite
def problems(draw: st.DrawFn, classes: bool = False) -> dict[str, object]:
    n, d, h = draw(st.integers(1, 40)), draw(st.integers(1, 5)), draw(st.integers(1, 8))
    k = draw(st.integers(2, 6)) if classes else 1
    # scale 25 puts |z| in the hundreds: sigmoids saturate to exactly 0 or 1 and σ' to ~e^-200
    scale = draw(st.sampled_from([0.1, 1.0, 5.0, 25.0]))
    X = matrix(draw, (n, d), bound=2.0)
    if classes:
        labels = draw(arrays(np.int64, (n,), elements=st.integers(0, k - 1)))
        y = np.eye(k)[labels]
    else:
        labels = draw(arrays(np.int64, (n, 1), elements=st.integers(0, 1)))
        y = labels.astype(np.float64)
    return {"X": X, "y": y, "labels": labels, "scale": scale,
            "w": matrix(draw, (d, 1), scale), "b": matrix(draw, (1,), scale),
            "wh": matrix(draw, (d, h), scale), "bh": matrix(draw, (h,), scale),
            "wo": matrix(draw, (h, k), scale), "bo": matrix(draw, (k,), scale)}


def params(*arrays_: np.ndarray) -> list[Tensor]:
    return [Tensor(a, requires_grad=True) for a in arrays_]


# --- part 1: the perceptron ----------------------------------------------------------------------
def perceptron_equations(X, y, w, b):
    p = sigmoid(X @ w + b)
    delta = (p - y) * p * (1 - p)  # (p - y) ⊙ σ'(Xw + b), with σ' written as p(1-p)
    size = np.abs(p - y) * p * (1 - p)
    return X.T @ delta, delta.sum(axis=0), np.abs(X).T @ size, size.sum(axis=0)


@given(problems())
def test_part1_perceptron_gradients(pb):
    X, y = pb["X"], pb["y"]
    w, b = params(pb["w"], pb["b"])
    half_squared_error((Tensor(X) @ w + b).sigmoid(), y).backward()
    dw, db, dw_size, db_size = perceptron_equations(X, y, pb["w"], pb["b"])
    assert_matches(w.grad, dw, dw_size)
    assert_matches(b.grad, db, db_size)


def moons() -> tuple[np.ndarray, np.ndarray]:
    """The article's data: make_moons(100, noise=0.10) right after np.random.seed(0)."""
    datasets = pytest.importorskip("sklearn.datasets", reason="scikit-learn makes the article's moons data")
    np.random.seed(0)
    X, labels = datasets.make_moons(100, noise=0.10)
    return X, labels.reshape(100, 1).astype(np.float64)


def test_part1_seed_code_applies_sigmoid_derivative_twice():
    """The finding: the seed computes sigmoid_der(z) with z = σ(XW+b) already, i.e. σ'(σ(XW+b)).
    The engine agrees with the correct σ'(XW+b) = p(1-p), and the seed's gradient is a different one."""
    X, y = moons()
    np.random.seed(42)
    w0, b0 = np.random.rand(2, 1), np.random.rand(1)
    w, b = params(w0, b0)
    half_squared_error((Tensor(X) @ w + b).sigmoid(), y).backward()

    dw, db, dw_size, db_size = perceptron_equations(X, y, w0, b0)
    assert_matches(w.grad, dw, dw_size)
    assert_matches(b.grad, db, db_size)

    z = sigmoid(X @ w0 + b0)  # the seed's name for the activated output
    seed_delta = (z - y) * sigmoid_der(z)
    seed_dw, seed_db = X.T @ seed_delta, seed_delta.sum(axis=0)
    assert np.linalg.norm(seed_dw - w.grad.numpy()) > 0.05 * np.linalg.norm(w.grad.numpy())
    assert abs(seed_db[0] - b.grad.item()) > 0.05 * abs(b.grad.item())


@given(t=st.floats(-30, 30).filter(lambda t: abs(t) >= 1), y=st.sampled_from([0.0, 1.0]))
def test_part1_seed_factor_overstates_saturated_samples(t, y):
    # for one sample with pre-activation t: the true factor σ'(t) falls to 0 as |t| grows,
    # the seed's σ'(σ(t)) never drops below σ'(1) ≈ 0.197
    b = Tensor(np.array([t]), requires_grad=True)
    half_squared_error(b.sigmoid(), np.array([y])).backward()
    p = sigmoid(np.array([t]))
    np.testing.assert_allclose(b.grad.numpy(), (p - y) * p * (1 - p), rtol=RTOL, atol=FLOOR)
    seed = (p - y) * sigmoid_der(p)
    assert np.all(np.abs(seed) >= np.abs(b.grad.numpy()))
    assert np.all(sigmoid_der(p) >= sigmoid_der(np.array([1.0])) - 1e-15)


# --- part 2: the 2-4-1 network (any d-h-1) ---------------------------------------------------------
def two_layer_equations(X, y, wh, wo):
    zh = X @ wh
    ah = sigmoid(zh)
    zo = ah @ wo
    ao = sigmoid(zo)
    dcost_dzo = (ao - y) * sigmoid_der(zo)  # phase 1
    dwo = ah.T @ dcost_dzo
    dcost_dah = dcost_dzo @ wo.T  # phase 2
    dwh = X.T @ (sigmoid_der(zh) * dcost_dah)
    size_zo = np.abs(dcost_dzo)
    size_ah = size_zo @ np.abs(wo).T
    return dwo, dwh, ah.T @ size_zo, np.abs(X).T @ (sigmoid_der(zh) * size_ah)


def two_layer_forward(X: np.ndarray, wh: Tensor, wo: Tensor) -> Tensor:
    return ((Tensor(X) @ wh).sigmoid() @ wo).sigmoid()


@given(problems())
def test_part2_hidden_layer_gradients(pb):
    X, y = pb["X"], pb["y"]
    wh, wo = params(pb["wh"], pb["wo"])
    half_squared_error(two_layer_forward(X, wh, wo), y).backward()
    dwo, dwh, dwo_size, dwh_size = two_layer_equations(X, y, pb["wh"], pb["wo"])
    assert_matches(wo.grad, dwo, dwo_size)
    assert_matches(wh.grad, dwh, dwh_size)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_part2_fully_saturated_network(sign):
    # every pre-activation is about ±60: σ is 0 or 1 to the last bit, σ' about e^-60
    X = np.ones((3, 2))
    wh_np, wo_np = np.full((2, 4), 30.0 * sign), np.full((4, 1), 15.0 * sign)
    y = np.array([[0.0], [1.0], [0.0]])
    wh, wo = params(wh_np, wo_np)
    half_squared_error(two_layer_forward(X, wh, wo), y).backward()
    dwo, dwh, dwo_size, dwh_size = two_layer_equations(X, y, wh_np, wo_np)
    assert np.all(np.isfinite(wh.grad.numpy())) and np.all(np.isfinite(wo.grad.numpy()))
    assert_matches(wo.grad, dwo, dwo_size)
    assert_matches(wh.grad, dwh, dwh_size)


def test_part2_training_matches_the_numpy_loop_for_300_steps():
    """The article's setup, step for step: tinygrad_lite's loop against the equations' loop."""
    X, y = moons()
    wh_np, wo_np = np.random.rand(2, 4), np.random.rand(4, 1)  # no reseed, as in the article
    lr = 0.5
    wh, wo = params(wh_np, wo_np)
    for step in range(300):
        loss = half_squared_error(two_layer_forward(X, wh, wo), y)
        loss.backward()
        ao = sigmoid(sigmoid(X @ wh_np) @ wo_np)
        error = 0.5 * ((ao - y) ** 2).sum()
        dwo, dwh, _, _ = two_layer_equations(X, y, wh_np, wo_np)
        wh_np, wo_np = wh_np - lr * dwh, wo_np - lr * dwo
        wh = (wh - lr * wh.grad).detach().requires_grad_()
        wo = (wo - lr * wo.grad).detach().requires_grad_()
        assert loss.item() == pytest.approx(error, rel=1e-12), f"step {step}"
        np.testing.assert_allclose(wh.numpy(), wh_np, rtol=1e-12, atol=1e-12, err_msg=f"step {step}")
        np.testing.assert_allclose(wo.numpy(), wo_np, rtol=1e-12, atol=1e-12, err_msg=f"step {step}")
        if step == 0:
            first_error = error
    assert error < first_error  # and the loop does learn


# --- part 3: softmax and cross-entropy, with biases ---------------------------------------------------
def softmax_equations(X, y, wh, bh, wo, bo):
    zh = X @ wh + bh
    ah = sigmoid(zh)
    ao = softmax(ah @ wo + bo)
    dzo = ao - y
    dah = dzo @ wo.T
    dzh = sigmoid_der(zh) * dah
    size_zo = ao + y  # ≥ |ao - y|, the scale of the rounding in ao - y
    size_zh = sigmoid_der(zh) * (size_zo @ np.abs(wo).T)
    grads = {"wo": ah.T @ dzo, "bo": dzo.sum(axis=0), "wh": X.T @ dzh, "bh": dzh.sum(axis=0)}
    sizes = {"wo": ah.T @ size_zo, "bo": size_zo.sum(axis=0), "wh": np.abs(X).T @ size_zh, "bh": size_zh.sum(axis=0)}
    return grads, sizes


LOSSES = {
    "log_softmax": lambda zo, y, labels: -(Tensor(y) * zo.log_softmax(axis=1)).sum(),
    "softmax_then_log": lambda zo, y, labels: -(Tensor(y) * zo.softmax(axis=1).log()).sum(),
    "sparse_categorical_crossentropy": lambda zo, y, labels: zo.sparse_categorical_crossentropy(
        Tensor(labels), reduction="sum"),
}


@pytest.mark.parametrize("loss_name", list(LOSSES))
@given(pb=problems(classes=True))
def test_part3_softmax_cross_entropy_gradients(loss_name, pb):
    X, y = pb["X"], pb["y"]
    wh, bh, wo, bo = params(pb["wh"], pb["bh"], pb["wo"], pb["bo"])
    zo = (Tensor(X) @ wh + bh).sigmoid() @ wo + bo
    LOSSES[loss_name](zo, y, pb["labels"]).backward()
    grads, sizes = softmax_equations(X, y, pb["wh"], pb["bh"], pb["wo"], pb["bo"])
    for name, t in {"wo": wo, "bo": bo, "wh": wh, "bh": bh}.items():
        assert_matches(t.grad, grads[name], sizes[name])
