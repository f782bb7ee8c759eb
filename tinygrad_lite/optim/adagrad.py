"""Adagrad, step for step equal to torch.optim.Adagrad.

>>> from tinygrad_lite import Tensor, optim
>>> w = Tensor([1.0, -1.0], requires_grad=True)
>>> opt = optim.Adagrad([w], lr=0.1, eps=0.0)
>>> _ = (w * w).sum().backward()      # g = ±2: the sum of squares is 4, so the step is lr·g/√4 = ±0.1
>>> opt.step()
>>> [round(x, 6) for x in w.tolist()]
[0.9, -0.9]
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ..tensor import Tensor
from .optimizer import Optimizer, ParamGroup, check_number


class Adagrad(Optimizer):
    """With g the gradient (plus weight_decay·p) and t the step count: s ← s + g² (s starts at
    `initial_accumulator_value`), p ← p - lr/(1 + (t-1)·lr_decay) · g/(√s + eps)."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10) -> None:
        super().__init__(params, {"lr": lr, "lr_decay": lr_decay, "weight_decay": weight_decay,
                                  "initial_accumulator_value": initial_accumulator_value, "eps": eps})

    def _check_hyperparameters(self, group: ParamGroup) -> None:
        super()._check_hyperparameters(group)
        for key in ("lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            check_number("Adagrad", key, group[key])

    def _init_state(self, p: Tensor, group: ParamGroup) -> dict[str, np.ndarray]:
        return {"step": np.zeros((), dtype=np.float64),
                "sum": np.full_like(p.data, group["initial_accumulator_value"])}

    def _update(self) -> None:
        for group in self.param_groups:
            lr, lr_decay, weight_decay, eps = group["lr"], group["lr_decay"], group["weight_decay"], group["eps"]
            for p in group["params"]:
                grad = p.grad
                if grad is None:
                    continue
                g = grad.data
                state = self.state[id(p)]
                state["step"] += 1
                step = float(state["step"])
                if weight_decay != 0:
                    g = g + weight_decay * p.data  # out of place: the gradient buffer may be shared
                clr = lr / (1 + (step - 1) * lr_decay)
                state_sum = state["sum"]
                state_sum += g * g
                std = np.sqrt(state_sum)
                std += eps
                p.data -= clr * g / std
