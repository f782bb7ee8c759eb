"""W4: a deep chain of elementwise ops on a small (4×4, float64) tensor, then backward.

The chain alternates y·c and y+d with Python floats (c = 1 + 1e-6, d = 1e-3), so the
gradient c^(n/2) is not trivial. Timed: the whole forward + backward, reported per op (µs);
linearity is the per-op time at the large size over the small one. Memory: the RSS
high-water mark of the first forward+backward in the fresh child, above the RSS before it.
The NumPy floor runs the same ops and the hand-written backward (g ← g·c for each multiply).
"""
from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from . import Problem, Protocol

ID, TITLE, UNIT, PER, MEMORY = "W4", "deep elementwise chain + backward, 4×4 float64", "us", "op", "inline"
_JIT = "n/a: a jit compiles the whole chain into one program; W4 measures eager per-op cost"
SKIP = {"jax.jit": _JIT, "tinygrad+TinyJit": _JIT, "tinygrad_lite+jit": _JIT}
C, D = 1.0 + 1e-6, 1e-3


def variants(quick: bool) -> list[dict[str, Any]]:
    sizes = (1_000, 10_000) if quick else (10_000, 1_000_000)
    return [{"name": f"W4 n={n:,}", "n": n, "large": i == 1} for i, n in enumerate(sizes)]


def protocol(variant: dict[str, Any], quick: bool) -> Protocol:
    if quick:
        return Protocol(budget=0.3, target_batch=0.01, min_rounds=2, timeout=60)
    if variant["large"]:
        return Protocol(budget=15.0, target_batch=0.0, min_rounds=1, max_rounds=3, timeout=300)
    return Protocol(budget=2.5, target_batch=0.05, min_rounds=5, timeout=60)


def chain(ops: Any, params: list[Any], data: list[Any], n: int) -> Any:
    (y,) = params
    for i in range(n):
        y = y * C if i % 2 == 0 else y + D
    return ops.sum(y)


def problem(variant: dict[str, Any]) -> Problem:
    x = np.random.default_rng(0).uniform(0.5, 1.5, size=(4, 4))
    n = variant["n"]
    return Problem(params=[x], data=[], loss=partial(chain, n=n), lr=None, tol=1e-8, ops_per_step=n)


class Floor:
    def __init__(self, prob: Problem) -> None:
        self.x = prob.params[0].copy()
        self.n = prob.ops_per_step

    def loss_and_grads(self) -> tuple[float, list[np.ndarray]]:
        y = self.x
        for i in range(self.n):
            y = y * C if i % 2 == 0 else y + D
        loss = float(y.sum())
        g = np.ones_like(y)
        for i in reversed(range(self.n)):
            if i % 2 == 0:  # the add's gradient passes through unchanged
                g = g * C
        return loss, [g]

    def step(self) -> None:
        self.loss_and_grads()

    def params(self) -> list[np.ndarray]:
        return [self.x.copy()]


def floors(prob: Problem, variant: dict[str, Any]) -> dict[str, Any]:
    return {"numpy": lambda: Floor(prob)}
