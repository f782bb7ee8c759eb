"""W1: the article's 2-4-1 sigmoid network (make_moons 100, no bias, ½Σ(ao−y)², lr 0.5, float64).

Timed: one full training step (forward, backward, SGD update). The NumPy floor is the
article's own hand-written algorithm, which recomputes the sigmoid for its derivative;
"numpy (tuned)" reuses the activations instead and is shown for information.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from . import Problem, Protocol

ID, TITLE, UNIT, PER, MEMORY = "W1", "article 2-4-1 sigmoid net, float64", "us", "step", ""
SKIP: dict[str, str] = {}
LR = 0.5


def variants(quick: bool) -> list[dict[str, Any]]:
    return [{"name": "W1"}]


def protocol(variant: dict[str, Any], quick: bool) -> Protocol:
    return Protocol(budget=0.3 if quick else 2.0, target_batch=0.005 if quick else 0.02, min_rounds=3 if quick else 7,
                    timeout=60 if quick else 120)


def moons() -> tuple[np.ndarray, np.ndarray]:
    """make_moons(100, noise=0.10) after np.random.seed(0), as the article; a NumPy stand-in without scikit-learn."""
    try:
        from sklearn.datasets import make_moons
    except ImportError:  # same shape and spread; only the timing matters then
        np.random.seed(0)
        rng = np.random.default_rng(0)
        t = np.linspace(0, np.pi, 50)
        X = np.concatenate([np.c_[np.cos(t), np.sin(t)], np.c_[1 - np.cos(t), 0.5 - np.sin(t)]])
        return X + rng.normal(scale=0.1, size=X.shape), np.repeat([0.0, 1.0], 50).reshape(100, 1)
    np.random.seed(0)
    X, y = make_moons(100, noise=0.10)
    return X.astype(np.float64), y.reshape(100, 1).astype(np.float64)


def loss(ops: Any, params: list[Any], data: list[Any]) -> Any:
    wh, wo = params
    X, y = data
    ao = ops.sigmoid(ops.sigmoid(X @ wh) @ wo)
    return ops.sum((ao - y) ** 2) * 0.5


def problem(variant: dict[str, Any]) -> Problem:
    X, y = moons()  # seeds NumPy's global generator, so the weights follow as in the article
    wh = np.random.rand(2, 4)
    wo = np.random.rand(4, 1)
    return Problem(params=[wh, wo], data=[X, y], loss=loss, lr=LR, tol=1e-9)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


class ArticleFloor:
    """The article's loop body: sigmoid_der(z) = σ(z)(1−σ(z)) recomputes σ from z."""

    def __init__(self, prob: Problem) -> None:
        self.wh, self.wo = (p.copy() for p in prob.params)
        self.X, self.y = prob.data

    def _der(self, x: np.ndarray) -> np.ndarray:
        return _sigmoid(x) * (1 - _sigmoid(x))

    def _grads(self) -> tuple[float, np.ndarray, np.ndarray]:
        zh = np.dot(self.X, self.wh)
        ah = _sigmoid(zh)
        zo = np.dot(ah, self.wo)
        ao = _sigmoid(zo)
        error = (0.5 * np.power(ao - self.y, 2)).sum()  # the article prints this sum each step
        dcost_dzo = (ao - self.y) * self._der(zo)
        dcost_wo = np.dot(ah.T, dcost_dzo)
        dcost_dah = np.dot(dcost_dzo, self.wo.T)
        dcost_wh = np.dot(self.X.T, self._der(zh) * dcost_dah)
        return float(error), dcost_wh, dcost_wo

    def step(self) -> None:
        _, gh, go = self._grads()
        self.wh -= LR * gh
        self.wo -= LR * go

    def loss_and_grads(self) -> tuple[float, list[np.ndarray]]:
        err, gh, go = self._grads()
        return err, [gh, go]

    def params(self) -> list[np.ndarray]:
        return [self.wh.copy(), self.wo.copy()]


class TunedFloor(ArticleFloor):
    """The same maths, reusing the activations: σ'(z) = a(1−a)."""

    def _grads(self) -> tuple[float, np.ndarray, np.ndarray]:
        ah = _sigmoid(self.X @ self.wh)
        ao = _sigmoid(ah @ self.wo)
        diff = ao - self.y
        dzo = diff * ao * (1 - ao)
        dzh = (dzo @ self.wo.T) * ah * (1 - ah)
        return 0.5 * float(diff.ravel() @ diff.ravel()), self.X.T @ dzh, ah.T @ dzo


def floors(prob: Problem, variant: dict[str, Any]) -> dict[str, Any]:
    return {"numpy": lambda: ArticleFloor(prob), "numpy (tuned)": lambda: TunedFloor(prob)}
