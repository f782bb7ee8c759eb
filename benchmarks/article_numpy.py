"""W6's NumPy floor: the work of `tinygrad-lite article` done by hand in NumPy, as one fresh process.

    python benchmarks/article_numpy.py [STEPS]

Trains the perceptron (correct gradient), the 2-4-1 network (the article's algorithm) and replays
the article's perceptron update (its σ'(σ(z))), STEPS full-batch steps each, lr 0.5, and prints the
final error sums. No plotting and no gradient checks: the floor of the same training, not of the CLI's extras.
"""
from __future__ import annotations

import sys
import time

import numpy as np
from workloads.w1_article import LR, ArticleFloor, Problem, moons, problem


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def perceptron(X: np.ndarray, y: np.ndarray, steps: int, seed_bug: bool) -> float:
    rng = np.random.RandomState(42)
    w, b = rng.rand(2, 1), rng.rand(1)
    for _ in range(steps):
        p = sigmoid(X @ w + b)
        s = sigmoid(p) if seed_bug else p  # the article differentiates at σ(p) instead of at the logit
        delta = (p - y) * s * (1 - s)
        w -= LR * (X.T @ delta)
        b -= LR * delta.sum()
    return float(0.5 * np.sum((sigmoid(X @ w + b) - y) ** 2))


def main(steps: int) -> None:
    t0 = time.perf_counter()
    prob: Problem = problem({})
    X, y = moons()
    net = ArticleFloor(prob)
    for _ in range(steps):
        net.step()
    print(f"perceptron {perceptron(X, y, steps, seed_bug=False):.5f}")
    print(f"2-4-1 network {net.loss_and_grads()[0]:.5f}")
    print(f"seed perceptron {perceptron(X, y, steps, seed_bug=True):.5f}")
    print(f"took {time.perf_counter() - t0:.2f} s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000)
