"""The article's hand-derived gradients, in plain NumPy: what the engine's autodiff must equal.

Weights are in the article's layout (a layer is `X·W`, W of shape in×out) and `y` is a
column (n×1) for the two binary models, one-hot (n×k) for the multi-class one.

>>> import numpy as np
>>> X, y = np.array([[1.0, 2.0]]), np.array([[1.0]])
>>> g = perceptron_gradients(np.zeros((2, 1)), np.zeros(1), X, y)
>>> g["w"].ravel().tolist(), g["b"].tolist()     # p = 1/2: (p - y)·p(1-p) = -1/8
([-0.125, -0.25], [-0.125])
"""
from __future__ import annotations

import numpy as np

Arrays = dict[str, np.ndarray]


def sigmoid(z: np.ndarray) -> np.ndarray:
    """σ(z) = 1/(1+e^-z); exp only ever sees -|z|, so it does not overflow for large |z|."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax, shifted by the row maximum."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def half_sse(p: np.ndarray, y: np.ndarray) -> float:
    """The article's printed error: L = ½ Σ (p - y)²."""
    return float(0.5 * np.sum((p - y) ** 2))


def perceptron_gradients(w: np.ndarray, b: np.ndarray, X: np.ndarray, y: np.ndarray) -> Arrays:
    """p = σ(X·w + b), L = ½Σ(p-y)²: ∂L/∂w = Xᵀ·[(p-y) ⊙ p(1-p)], ∂L/∂b = Σ (p-y) ⊙ p(1-p)."""
    p = sigmoid(X @ w + b)
    delta = (p - y) * p * (1 - p)
    return {"w": X.T @ delta, "b": delta.sum(axis=0)}


def seed_perceptron_gradients(w: np.ndarray, b: np.ndarray, X: np.ndarray, y: np.ndarray) -> Arrays:
    """What the seed's perceptron code computes: σ'(σ(X·w + b)) where σ'(X·w + b) = p(1-p) is due.

    Kept to show the mistake, not to train with: autodiff disagrees with it for every input.
    """
    p = sigmoid(X @ w + b)
    sp = sigmoid(p)
    delta = (p - y) * sp * (1 - sp)
    return {"w": X.T @ delta, "b": delta.sum(axis=0)}


def two_layer_gradients(wh: np.ndarray, wo: np.ndarray, X: np.ndarray, y: np.ndarray) -> Arrays:
    """The article's two phases for zh = X·wh, ah = σ(zh), zo = ah·wo, ao = σ(zo), L = ½Σ(ao-y)².

    Phase 1: ∂L/∂wo = ahᵀ·[(ao-y) ⊙ σ'(zo)].
    Phase 2: ∂L/∂ah = [(ao-y) ⊙ σ'(zo)]·woᵀ, ∂L/∂wh = Xᵀ·[σ'(zh) ⊙ ∂L/∂ah].
    """
    ah = sigmoid(X @ wh)
    ao = sigmoid(ah @ wo)
    dcost_dzo = (ao - y) * ao * (1 - ao)
    dcost_dah = dcost_dzo @ wo.T
    return {"wh": X.T @ (ah * (1 - ah) * dcost_dah), "wo": ah.T @ dcost_dzo}


def multiclass_gradients(wh: np.ndarray, bh: np.ndarray, wo: np.ndarray, bo: np.ndarray,
                         X: np.ndarray, Y: np.ndarray) -> Arrays:
    """Part 3: ah = σ(X·wh + bh), ao = softmax(ah·wo + bo), L = -Σ Y ⊙ log(ao) with one-hot Y.

    ∂L/∂zo = ao - Y, ∂L/∂wo = ahᵀ·(ao-Y), ∂L/∂bo = Σ_rows (ao-Y),
    ∂L/∂ah = (ao-Y)·woᵀ, ∂L/∂wh = Xᵀ·[σ'(zh) ⊙ ∂L/∂ah], ∂L/∂bh = Σ_rows σ'(zh) ⊙ ∂L/∂ah.
    """
    ah = sigmoid(X @ wh + bh)
    dcost_dzo = softmax(ah @ wo + bo) - Y
    dcost_dzh = ah * (1 - ah) * (dcost_dzo @ wo.T)
    return {"wh": X.T @ dcost_dzh, "bh": dcost_dzh.sum(axis=0),
            "wo": ah.T @ dcost_dzo, "bo": dcost_dzo.sum(axis=0)}
