"""W2: MLP 784-256-256-10, ReLU, softmax cross-entropy, batch 128, SGD, float32 (random data, seed 0).

Timed: one training step. The NumPy floor is the forward pass plus the hand-derived backward.
"""
from __future__ import annotations

from typing import Any

from . import Problem, Protocol, mlp

ID, TITLE, UNIT, PER, MEMORY = "W2", "MLP 784-256-256-10, batch 128, float32", "us", "step", ""
SKIP = {"micrograd": "scalar engine: about 10^7 Value nodes per step (small workloads only)"}


def variants(quick: bool) -> list[dict[str, Any]]:
    if quick:
        return [{"name": "W2", "sizes": (64, 32, 32, 10), "batch": 16}]
    return [{"name": "W2", "sizes": (784, 256, 256, 10), "batch": 128}]


def protocol(variant: dict[str, Any], quick: bool) -> Protocol:
    return Protocol(budget=0.3 if quick else 2.0, target_batch=0.005 if quick else 0.03, min_rounds=3 if quick else 7,
                    timeout=60 if quick else 120)


def problem(variant: dict[str, Any]) -> Problem:
    return mlp.problem(variant["sizes"], variant["batch"], lr=0.01, tol=1e-3)


def floors(prob: Problem, variant: dict[str, Any]) -> dict[str, Any]:
    return {"numpy": lambda: mlp.Floor(prob)}
