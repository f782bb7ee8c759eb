"""W5: per-op overhead. A chain of N adds y ← y + b on 4×4 float64 tensors that both require
grad, then backward; the time divided by N is one add plus its share of backward (µs per op).

The NumPy floor runs the same adds and the hand-written backward: the gradient of y passes
through, and b's gradient is accumulated once per add.
"""
from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from . import Problem, Protocol

ID, TITLE, UNIT, PER, MEMORY = "W5", "per-op overhead: 4×4 add + its backward share", "us", "op", ""
_JIT = "n/a: a jit fuses the chain; W5 measures eager per-op overhead"
SKIP = {"jax.jit": _JIT, "tinygrad+TinyJit": _JIT, "tinygrad_lite+jit": _JIT}


def variants(quick: bool) -> list[dict[str, Any]]:
    # 500 keeps micrograd (recursive topological sort) under Python's recursion limit
    return [{"name": "W5", "n": 50 if quick else 500}]


def protocol(variant: dict[str, Any], quick: bool) -> Protocol:
    return Protocol(budget=0.3 if quick else 2.0, target_batch=0.005 if quick else 0.03, min_rounds=3 if quick else 7,
                    timeout=60 if quick else 120)


def adds(ops: Any, params: list[Any], data: list[Any], n: int) -> Any:
    y, b = params
    for _ in range(n):
        y = y + b
    return ops.sum(y)


def problem(variant: dict[str, Any]) -> Problem:
    rng = np.random.default_rng(0)
    n = variant["n"]
    return Problem(params=[rng.standard_normal((4, 4)), rng.standard_normal((4, 4))], data=[],
                   loss=partial(adds, n=n), lr=None, tol=1e-9, ops_per_step=n)


class Floor:
    def __init__(self, prob: Problem) -> None:
        self.x, self.b = (p.copy() for p in prob.params)
        self.n = prob.ops_per_step

    def loss_and_grads(self) -> tuple[float, list[np.ndarray]]:
        y = self.x
        for _ in range(self.n):
            y = y + self.b
        loss = float(y.sum())
        g = np.ones_like(y)
        gb = np.zeros_like(self.b)
        for _ in range(self.n):
            gb = gb + g
        return loss, [g, gb]

    def step(self) -> None:
        self.loss_and_grads()

    def params(self) -> list[np.ndarray]:
        return [self.x.copy(), self.b.copy()]


def floors(prob: Problem, variant: dict[str, Any]) -> dict[str, Any]:
    return {"numpy": lambda: Floor(prob)}
