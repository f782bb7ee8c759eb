"""micrograd (Karpathy): scalar Values. A small 2-D matrix of Values here gives it the `@`,
elementwise and broadcasting operators the workloads use; micrograd has no exp, so sigmoid is
added as one Value op in micrograd's own closure style. Only the small workloads run on it."""
from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any

import numpy as np
from micrograd.engine import Value


def _sigmoid(v: Value) -> Value:
    s = 1.0 / (1.0 + math.exp(-v.data))
    out = Value(s, (v,), "sigmoid")

    def _backward() -> None:
        v.grad += s * (1.0 - s) * out.grad

    out._backward = _backward
    return out


class Mat:
    """Rows of Values (or floats, for constants) with NumPy-style 2-D broadcasting."""

    def __init__(self, rows: list[list[Any]]) -> None:
        self.rows = rows
        self.shape = (len(rows), len(rows[0]))

    @classmethod
    def of(cls, a: np.ndarray, wrap: bool) -> Mat:
        a2 = np.asarray(a, dtype=float).reshape(a.shape[0], -1)
        return cls([[Value(float(x)) if wrap else float(x) for x in row] for row in a2])

    def _map2(self, other: Any, fn: Callable[[Any, Any], Any]) -> Mat:
        if not isinstance(other, Mat):
            return Mat([[fn(x, other) for x in row] for row in self.rows])
        (n, m), (n2, m2) = self.shape, other.shape
        rows = []
        for i in range(max(n, n2)):
            a, b = self.rows[i % n], other.rows[i % n2]
            rows.append([fn(a[j % m], b[j % m2]) for j in range(max(m, m2))])
        return Mat(rows)

    def __add__(self, other: Any) -> Mat:
        return self._map2(other, operator.add)

    def __radd__(self, other: Any) -> Mat:
        return self._map2(other, lambda a, b: b + a)

    def __sub__(self, other: Any) -> Mat:
        return self._map2(other, operator.sub)

    def __mul__(self, other: Any) -> Mat:
        return self._map2(other, operator.mul)

    def __rmul__(self, other: Any) -> Mat:
        return self._map2(other, lambda a, b: b * a)

    def __pow__(self, k: float) -> Mat:
        return Mat([[x**k for x in row] for row in self.rows])

    def __matmul__(self, other: Mat) -> Mat:
        cols = list(zip(*other.rows))
        out = []
        for row in self.rows:
            out_row = []
            for col in cols:
                acc = col[0] * row[0] if isinstance(col[0], Value) else row[0] * col[0]
                for a, b in zip(row[1:], col[1:]):
                    acc = acc + (b * a if isinstance(b, Value) else a * b)
                out_row.append(acc)
            out.append(out_row)
        return Mat(out)

    def values(self) -> list[Any]:
        return [x for row in self.rows for x in row]


class Ops:
    @staticmethod
    def sigmoid(m: Mat) -> Mat:
        return Mat([[_sigmoid(x) for x in row] for row in m.rows])

    @staticmethod
    def relu(m: Mat) -> Mat:
        return Mat([[x.relu() for x in row] for row in m.rows])

    @staticmethod
    def sum(m: Mat) -> Value:
        vals = m.values()
        acc = vals[0]
        for v in vals[1:]:
            acc = acc + v
        return acc


def version() -> str:
    from importlib.metadata import version as dist_version

    return dist_version("micrograd")


class Runner:
    def __init__(self, prob: Any, variant: str) -> None:
        self.prob = prob
        self.shapes = [a.shape for a in prob.params]
        self.p = [Mat.of(a, wrap=True) for a in prob.params]
        self.data = [Mat.of(d, wrap=False) for d in prob.data]

    def _forward_backward(self) -> Value:
        for m in self.p:
            for v in m.values():
                v.grad = 0.0
        loss = self.prob.loss(Ops, self.p, self.data)
        loss.backward()
        return loss

    def step(self) -> None:
        self._forward_backward()
        lr = self.prob.lr
        if lr is not None:
            for m in self.p:
                for v in m.values():
                    v.data -= lr * v.grad

    def loss_and_grads(self) -> tuple[float, list[np.ndarray]]:
        loss = self._forward_backward()
        grads = [np.array([v.grad for v in m.values()]).reshape(s) for m, s in zip(self.p, self.shapes)]
        return float(loss.data), grads

    def params(self) -> list[np.ndarray]:
        return [np.array([v.data for v in m.values()]).reshape(s) for m, s in zip(self.p, self.shapes)]


def build(prob: Any, variant: str) -> Runner:
    return Runner(prob, variant)
