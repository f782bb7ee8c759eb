"""RMSprop, step for step equal to torch.optim.RMSprop (momentum and the centered variant included).

>>> from tinygrad_lite import Tensor, optim
>>> w = Tensor([1.0, -1.0], requires_grad=True)
>>> opt = optim.RMSprop([w], lr=0.01, alpha=0.75, eps=0.0)
>>> _ = (w * w).sum().backward()      # g = ±2, so v = 0.25·4 = 1 and the step is lr·g/√v = ±0.02
>>> opt.step()
>>> [round(x, 6) for x in w.tolist()]
[0.98, -0.98]
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ..tensor import Tensor
from .adam import _lerp_
from .optimizer import Optimizer, ParamGroup, check_number


class RMSprop(Optimizer):
    """With g the gradient (plus weight_decay·p): v ← αv + (1-α)g²; the denominator is √v + eps, or, with
    `centered`, √(v - ḡ²) + eps where ḡ ← lerp(ḡ, g, 1-α) tracks the mean gradient. Without momentum
    p ← p - lr·g/denominator; with it b ← momentum·b + g/denominator and p ← p - lr·b."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False) -> None:
        super().__init__(params, {"lr": lr, "alpha": alpha, "eps": eps, "weight_decay": weight_decay,
                                  "momentum": momentum, "centered": centered})

    def _check_hyperparameters(self, group: ParamGroup) -> None:
        super()._check_hyperparameters(group)
        for key in ("eps", "weight_decay", "momentum"):
            check_number("RMSprop", key, group[key])
        check_number("RMSprop", "alpha", group["alpha"])
        if group["alpha"] > 1:  # 1 - alpha would weigh g² negatively
            raise ValueError(f"RMSprop: alpha must be a finite number in [0, 1], got {group['alpha']}")
        if not isinstance(group["centered"], bool):
            raise TypeError(f"RMSprop: centered must be a bool, got {group['centered']!r}")

    def _init_state(self, p: Tensor, group: ParamGroup) -> dict[str, np.ndarray]:
        state = {"step": np.zeros((), dtype=np.float64), "square_avg": np.zeros_like(p.data)}
        if group["momentum"] > 0:
            state["momentum_buffer"] = np.zeros_like(p.data)
        if group["centered"]:
            state["grad_avg"] = np.zeros_like(p.data)
        return state

    def _update(self) -> None:
        for group in self.param_groups:
            lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
            weight_decay, momentum, centered = group["weight_decay"], group["momentum"], group["centered"]
            for p in group["params"]:
                grad = p.grad
                if grad is None:
                    continue
                g = grad.data
                state = self.state[id(p)]
                if (momentum > 0 and "momentum_buffer" not in state) or (centered and "grad_avg" not in state):
                    # switched on after construction (OneCycleLR cycles momentum): start from zeros as PyTorch
                    state.update({k: v for k, v in self._init_state(p, group).items() if k not in state})
                state["step"] += 1
                if weight_decay != 0:
                    g = g + weight_decay * p.data  # out of place: the gradient buffer may be shared
                square_avg = state["square_avg"]
                square_avg *= alpha
                square_avg += (1 - alpha) * g * g
                if centered:
                    grad_avg = state["grad_avg"]
                    _lerp_(grad_avg, g, 1 - alpha)
                    avg = np.sqrt(_variance(square_avg, grad_avg))
                else:
                    avg = np.sqrt(square_avg)
                avg += eps
                if momentum > 0:
                    buf = state["momentum_buffer"]
                    buf *= momentum
                    buf += g / avg
                    p.data -= lr * buf
                else:
                    p.data -= lr * g / avg


def _variance(square_avg: np.ndarray, grad_avg: np.ndarray) -> np.ndarray:
    """square_avg - grad_avg², which cancels when the gradient barely varies. Below float64 it is computed in
    float64 and rounded once, as exactly as PyTorch's fused multiply-add (a plain float32 difference made
    3x PyTorch's error over 60 steps of a converging run)."""
    if square_avg.dtype == np.float64:
        return square_avg - grad_avg * grad_avg
    wide = grad_avg.astype(np.float64)
    return (square_avg.astype(np.float64) - wide * wide).astype(square_avg.dtype)
