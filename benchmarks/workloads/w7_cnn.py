"""W7: a LeNet-5-shaped CNN step. 1×28×28 inputs, batch 64: conv 6@5×5 → ReLU → 2×2 max-pool → conv 16@5×5
→ ReLU → 2×2 max-pool → 256-120-84-10 (ReLU), mean softmax cross-entropy, SGD, float32 (random data, seed 0).

Timed: one training step (forward, backward, update). The NumPy floor is a hand-written im2col
implementation of the same step: each convolution one column copy and one matmul (the columns kept for
the weight gradient), its input gradient one matmul and a strided add per kernel tap (col2im), the pools
elementwise maxima over the four strided taps of the 2×2 tiles.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from . import Problem, Protocol, SGDFloor

ID, TITLE, UNIT, PER, MEMORY = "W7", "LeNet-5 CNN step, 1×28×28, batch 64, float32", "us", "step", ""
_NO_CONV = "the engine adapter has no convolution/pooling ops"
SKIP = {"micrograd": _NO_CONV, "autograd": _NO_CONV}


def variants(quick: bool) -> list[dict[str, Any]]:
    return [{"name": "W7", "batch": 8 if quick else 64}]


def protocol(variant: dict[str, Any], quick: bool) -> Protocol:
    return Protocol(budget=0.3 if quick else 3.0, target_batch=0.005 if quick else 0.05, min_rounds=3 if quick else 7,
                    timeout=60 if quick else 180)


def loss(ops: Any, params: list[Any], data: list[Any]) -> Any:
    c1, cb1, c2, cb2, w1, b1, w2, b2, w3, b3 = params
    X, labels = data
    h = ops.max_pool2d(ops.relu(ops.conv2d(X, c1, cb1)))
    h = ops.max_pool2d(ops.relu(ops.conv2d(h, c2, cb2)))
    h = ops.flatten(h)
    h = ops.relu(h @ w1 + b1)
    h = ops.relu(h @ w2 + b2)
    return ops.cross_entropy(h @ w3 + b3, labels)


def problem(variant: dict[str, Any], seed: int = 0) -> Problem:
    """He-initialised weights (conv weights (out, in, 5, 5) as PyTorch), zero biases, normal images."""
    rng = np.random.default_rng(seed)

    def he(shape: tuple[int, ...], fan_in: int) -> np.ndarray:
        return (rng.standard_normal(shape, dtype=np.float32) * np.float32(np.sqrt(2.0 / fan_in))).astype(np.float32)

    params = [he((6, 1, 5, 5), 25), np.zeros(6, np.float32), he((16, 6, 5, 5), 150), np.zeros(16, np.float32)]
    for fan_in, fan_out in ((256, 120), (120, 84), (84, 10)):
        params += [he((fan_in, fan_out), fan_in), np.zeros(fan_out, np.float32)]
    batch = variant["batch"]
    X = rng.standard_normal((batch, 1, 28, 28), dtype=np.float32)
    labels = rng.integers(0, 10, size=batch).astype(np.int64)
    return Problem(params=params, data=[X, labels], loss=loss, lr=0.01, tol=2e-3)


def _im2col(x: np.ndarray, k: int) -> np.ndarray:
    """x (N, C, H, W) -> columns (C·k·k, N·Ho·Wo), one copy."""
    n, c = x.shape[:2]
    win = sliding_window_view(x, (k, k), axis=(2, 3))  # (N, C, Ho, Wo, k, k)
    return win.transpose(1, 4, 5, 0, 2, 3).reshape(c * k * k, -1)


def _col2im(cols: np.ndarray, shape: tuple[int, ...], k: int) -> np.ndarray:
    """The adjoint of _im2col: cols (C·k·k, N·Ho·Wo) added back onto an (N, C, H, W) image."""
    n, c, h, w = shape
    ho, wo = h - k + 1, w - k + 1
    cols = cols.reshape(c, k, k, n, ho, wo)
    out = np.zeros((c, n, h, w), cols.dtype)
    for i in range(k):
        for j in range(k):
            out[:, :, i:i + ho, j:j + wo] += cols[:, i, j]
    return out.transpose(1, 0, 2, 3)


def _pool(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """2×2 max-pool of (N, C, H, W) and, per tile, which of its 4 elements is the first maximum (PyTorch's
    tie rule): elementwise over the four strided taps of the tiles, no copy of the input."""
    taps = [x[:, :, i::2, j::2] for i in (0, 1) for j in (0, 1)]
    best, index = taps[0], np.zeros(taps[0].shape, np.int8)
    for k in (1, 2, 3):
        index = np.where(taps[k] > best, np.int8(k), index)
        best = np.maximum(best, taps[k])
    return best, index


def _unpool(g: np.ndarray, index: np.ndarray) -> np.ndarray:
    """The gradient of _pool: each tile's gradient written at its first maximum (tiles do not overlap)."""
    n, c, ho, wo = g.shape
    out = np.empty((n, c, 2 * ho, 2 * wo), g.dtype)
    zero = np.zeros((), g.dtype)
    for k, (i, j) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
        out[:, :, i::2, j::2] = np.where(index == k, g, zero)
    return out


class Floor(SGDFloor):
    """Forward and hand-derived backward of the same step (no gradient for the images)."""

    @staticmethod
    def _conv(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cols = _im2col(x, w.shape[2])
        out = (w.reshape(w.shape[0], -1) @ cols).reshape(w.shape[0], x.shape[0], x.shape[2] - w.shape[2] + 1, -1)
        out += b[:, None, None, None]
        return out.transpose(1, 0, 2, 3), cols

    def _grads(self) -> tuple[float, list[np.ndarray]]:
        c1, cb1, c2, cb2, w1, b1, w2, b2, w3, b3 = self.p
        X, labels = self.X, self.labels
        n = len(labels)
        z1, cols1 = self._conv(X, c1, cb1)
        a1 = np.maximum(z1, 0)
        p1, i1 = _pool(a1)
        z2, cols2 = self._conv(p1, c2, cb2)
        a2 = np.maximum(z2, 0)
        p2, i2 = _pool(a2)
        f = p2.reshape(n, -1)
        y1 = f @ w1 + b1
        h1 = np.maximum(y1, 0)
        y2 = h1 @ w2 + b2
        h2 = np.maximum(y2, 0)
        y3 = h2 @ w3 + b3
        shifted = y3 - y3.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        total = e.sum(axis=1, keepdims=True)
        rows = np.arange(n)
        loss = float(np.mean(np.log(total[:, 0]) - shifted[rows, labels]))
        d3 = e / total
        d3[rows, labels] -= 1
        d3 /= n
        d2 = d3 @ w3.T
        d2 *= y2 > 0
        d1 = d2 @ w2.T
        d1 *= y1 > 0
        df = (d1 @ w1.T).reshape(p2.shape)
        dz2 = _unpool(df, i2) * (z2 > 0)
        g2 = dz2.transpose(1, 0, 2, 3).reshape(c2.shape[0], -1)  # (16, N·8·8)
        gc2 = (g2 @ cols2.T).reshape(c2.shape)
        dp1 = _col2im(c2.reshape(c2.shape[0], -1).T @ g2, p1.shape, 5)
        dz1 = _unpool(dp1, i1) * (z1 > 0)
        g1 = dz1.transpose(1, 0, 2, 3).reshape(c1.shape[0], -1)
        gc1 = (g1 @ cols1.T).reshape(c1.shape)
        grads = [gc1, g1.sum(1), gc2, g2.sum(1), f.T @ d1, d1.sum(0), h1.T @ d2, d2.sum(0), h2.T @ d3, d3.sum(0)]
        return loss, grads


def floors(prob: Problem, variant: dict[str, Any]) -> dict[str, Any]:
    return {"numpy": lambda: Floor(prob)}
