"""The MLP shared by W2 and W3: Linear-ReLU-Linear-ReLU-Linear, mean softmax cross-entropy, SGD, float32."""
from __future__ import annotations

from typing import Any

import numpy as np

from . import Problem, SGDFloor


def loss(ops: Any, params: list[Any], data: list[Any]) -> Any:
    w1, b1, w2, b2, w3, b3 = params
    X, labels = data
    h = ops.relu(X @ w1 + b1)
    h = ops.relu(h @ w2 + b2)
    return ops.cross_entropy(h @ w3 + b3, labels)


def problem(sizes: tuple[int, ...], batch: int, lr: float, tol: float, seed: int = 0) -> Problem:
    """He-initialised weights, zero biases, standard-normal inputs and random labels, all from `seed`."""
    rng = np.random.default_rng(seed)
    params: list[np.ndarray] = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        w = rng.standard_normal((fan_in, fan_out), dtype=np.float32)
        w *= np.float32(np.sqrt(2.0 / fan_in))
        params += [w, np.zeros(fan_out, np.float32)]
    X = rng.standard_normal((batch, sizes[0]), dtype=np.float32)
    labels = rng.integers(0, sizes[-1], size=batch).astype(np.int64)
    return Problem(params=params, data=[X, labels], loss=loss, lr=lr, tol=tol)


class Floor(SGDFloor):
    """Forward and hand-derived backward: ∂L/∂logits = (softmax − onehot)/B, ReLU masks, no input gradient."""

    def _grads(self) -> tuple[float, list[np.ndarray]]:
        w1, b1, w2, b2, w3, b3 = self.p
        X, labels = self.X, self.labels
        z1 = X @ w1 + b1
        h1 = np.maximum(z1, 0)
        z2 = h1 @ w2 + b2
        h2 = np.maximum(z2, 0)
        z3 = h2 @ w3 + b3
        shifted = z3 - z3.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        total = e.sum(axis=1, keepdims=True)
        rows = np.arange(len(labels))
        loss = float(np.mean(np.log(total[:, 0]) - shifted[rows, labels]))
        d3 = e / total
        d3[rows, labels] -= 1
        d3 /= len(labels)
        d2 = d3 @ w3.T
        d2 *= z2 > 0
        d1 = d2 @ w2.T
        d1 *= z1 > 0
        return loss, [X.T @ d1, d1.sum(0), h1.T @ d2, d2.sum(0), h2.T @ d3, d3.sum(0)]
