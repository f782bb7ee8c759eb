"""Adam and AdamW, step for step equal to torch.optim.Adam / torch.optim.AdamW (amsgrad included).

>>> from tinygrad_lite import Tensor, optim
>>> w = Tensor([1.0, -1.0], requires_grad=True)
>>> opt = optim.Adam([w], lr=0.1)
>>> _ = (w * w).sum().backward()
>>> opt.step()                 # Adam's first step moves each weight by lr against its gradient's sign
>>> [round(v, 6) for v in w.tolist()]
[0.9, -0.9]
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ..node import bump_version
from ..tensor import Tensor
from .optimizer import Optimizer, ParamGroup, check_number


class Adam(Optimizer):
    """m ← β₁m + (1-β₁)g, v ← β₂v + (1-β₂)g², p ← p - lr/(1-β₁ᵗ) · m / (√v/√(1-β₂ᵗ) + eps); with amsgrad the
    largest v so far replaces v. `weight_decay` adds weight_decay·p to g (L2), unlike AdamW."""

    decoupled_weight_decay = False

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False) -> None:
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                                  "amsgrad": amsgrad})

    def _check_hyperparameters(self, group: ParamGroup) -> None:
        name = type(self).__name__
        super()._check_hyperparameters(group)
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}")
        check_number(name, "beta1", betas[0], 0.0, 1.0)
        check_number(name, "beta2", betas[1], 0.0, 1.0)
        check_number(name, "eps", group["eps"])
        check_number(name, "weight_decay", group["weight_decay"])

    def _init_state(self, p: Tensor, group: ParamGroup) -> dict[str, np.ndarray]:
        state = {"step": np.zeros((), dtype=np.float64), "exp_avg": np.zeros_like(p.data),
                 "exp_avg_sq": np.zeros_like(p.data)}
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = np.zeros_like(p.data)
        return state

    def _update(self) -> None:
        for group in self.param_groups:
            lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
            weight_decay, amsgrad = group["weight_decay"], group["amsgrad"]
            for p in group["params"]:
                grad = p.grad
                if grad is None:
                    continue
                g, data = grad._data, p._data  # `data` is updated in place; bump_version says so once
                state = self.state[id(p)]
                state["step"] += 1
                step = float(state["step"])
                if weight_decay != 0:
                    if self.decoupled_weight_decay:
                        data *= 1 - lr * weight_decay
                    else:
                        g = g + weight_decay * data  # out of place: the gradient buffer may be shared
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                _lerp_(exp_avg, g, 1 - beta1)
                exp_avg_sq *= beta2
                exp_avg_sq += (1 - beta2) * g * g
                if amsgrad:
                    np.maximum(state["max_exp_avg_sq"], exp_avg_sq, out=state["max_exp_avg_sq"])
                    exp_avg_sq = state["max_exp_avg_sq"]
                step_size = lr / (1 - beta1 ** step)
                denom = np.sqrt(exp_avg_sq) / (1 - beta2 ** step) ** 0.5 + eps
                data -= step_size * exp_avg / denom
                bump_version(p)  # a graph recorded before this step can no longer be differentiated


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): p ← p·(1 - lr·weight_decay) before the Adam step."""

    decoupled_weight_decay = True

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)


def _lerp_(start: np.ndarray, end: np.ndarray, weight: float) -> None:
    """start ← start + weight·(end - start) in place, with the two-sided formula PyTorch uses for accuracy."""
    w = start.dtype.type(weight)
    if abs(w) < 0.5:
        start += w * (end - start)
    else:
        np.copyto(start, end - (end - start) * (1 - w))
