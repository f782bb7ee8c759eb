"""The workloads. Each module describes its problem once (NumPy parameters, data and a
loss written against a tiny `ops` namespace plus Python operators), so every engine
runs the same maths, and it brings the hand-written NumPy floor it is measured against.

A workload module defines:
  ID, TITLE, UNIT ("us" or "ms"), PER ("step" or "op"), MEMORY ("", "rss+tracemalloc", "inline")
  SKIP: engine name -> reason it does not apply (listed in the table as "n/a")
  ONLY (optional): the engines that have a row at all
  variants(quick) -> list of dicts (each has "name"; W4 has two sizes)
  problem(variant) -> Problem
  floors(problem, variant) -> {"numpy": factory, ...}: the hand-written NumPy runners
  protocol(variant, quick) -> Protocol
W6 (a command-line program, not a step) instead defines run_cell(spec).
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any
from typing import Protocol as TypingProtocol

import numpy as np

ORDER = ["W1", "W2", "W3", "W4", "W5", "W6", "W7", "W8"]
_MODULES = {"W1": "w1_article", "W2": "w2_mlp", "W3": "w3_big_mlp", "W4": "w4_chain", "W5": "w5_overhead",
            "W6": "w6_cli", "W7": "w7_cnn", "W8": "w8_transformer"}

LossFn = Callable[[Any, list[Any], list[Any]], Any]


class Runner(TypingProtocol):
    """One engine (or NumPy floor) set up on one problem, holding its own copy of the parameters."""

    def step(self) -> None: ...  # forward, backward and (if the problem has an lr) the SGD update
    def loss_and_grads(self) -> tuple[float, list[np.ndarray]]: ...  # at the current parameters, no update
    def params(self) -> list[np.ndarray]: ...


@dataclass
class Problem:
    """The maths every engine runs: `loss(ops, params, data)` returns a scalar of the engine's type.

    Float arrays in `data` are constants; integer arrays are class labels.
    `lr=None` means gradients only (no update): the chain workloads. `optimizer` names the update the engines
    run ("sgd", or "adamw" with `optimizer_args` such as betas, eps, weight_decay).
    """

    params: list[np.ndarray]
    data: list[np.ndarray]
    loss: LossFn
    lr: float | None
    tol: float
    ops_per_step: int = 1
    optimizer: str = "sgd"
    optimizer_args: dict[str, Any] = field(default_factory=dict)


@dataclass
class Protocol:
    """How long and how often a cell is timed."""

    budget: float  # seconds of paired timing after the check
    target_batch: float  # seconds one batch of steps should take (sets the steps per batch)
    min_rounds: int = 3
    max_rounds: int = 200
    check_steps: int = 3  # training steps compared with NumPy before timing (3: a jit has replayed once)
    timeout: float = 120.0  # the driver kills the child after this


def load(workload_id: str) -> ModuleType:
    return importlib.import_module(f"workloads.{_MODULES[workload_id]}")


class SGDFloor:
    """A hand-written float32 floor for a classification problem trained with plain SGD: a subclass writes
    `_grads()` (the loss and the gradients, in the order of the parameters) and gets the runner's methods."""

    def __init__(self, prob: Problem) -> None:
        self.p = [a.copy() for a in prob.params]
        self.X, self.labels = prob.data
        self.lr = np.float32(prob.lr)

    def _grads(self) -> tuple[float, list[np.ndarray]]:
        raise NotImplementedError

    def step(self) -> None:
        _, grads = self._grads()
        for p, g in zip(self.p, grads):
            g *= self.lr
            p -= g

    def loss_and_grads(self) -> tuple[float, list[np.ndarray]]:
        return self._grads()

    def params(self) -> list[np.ndarray]:
        return [a.copy() for a in self.p]
