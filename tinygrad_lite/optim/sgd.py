"""Stochastic gradient descent with optional momentum, dampening, Nesterov momentum and weight decay,
step for step equal to torch.optim.SGD.

>>> from tinygrad_lite import Tensor, optim
>>> w = Tensor([1.0], requires_grad=True)
>>> opt = optim.SGD([w], lr=0.1, momentum=0.9)
>>> for _ in range(2):
...     opt.zero_grad()
...     _ = (w * 2.0).sum().backward()     # the gradient is always 2
...     opt.step()
>>> round(w.item(), 6)                 # 1 - 0.1·2 - 0.1·(0.9·2 + 2)
0.42
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ..node import bump_version
from ..tensor import Tensor
from .optimizer import Optimizer, ParamGroup, check_number, subtract_scaled


class SGD(Optimizer):
    """With g the gradient (plus weight_decay·p): b ← g on the first step, then b ← momentum·b + (1-dampening)·g;
    the step direction is b, or g + momentum·b with nesterov; p ← p - lr·direction."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False) -> None:
        super().__init__(params, {"lr": lr, "momentum": momentum, "dampening": dampening,
                                  "weight_decay": weight_decay, "nesterov": nesterov})

    def _check_hyperparameters(self, group: ParamGroup) -> None:
        super()._check_hyperparameters(group)
        for key in ("momentum", "dampening", "weight_decay"):
            check_number("SGD", key, group[key])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(f"SGD: nesterov needs momentum > 0 and dampening = 0, got momentum={group['momentum']}, "
                             f"dampening={group['dampening']}")

    def _init_state(self, p: Tensor, group: ParamGroup) -> dict[str, np.ndarray]:
        # Plain SGD keeps no state. With momentum, `step` counts this parameter's updates, so the first
        # one can start the buffer at g as PyTorch does.
        if group["momentum"] == 0:
            return {}
        return {"step": np.zeros((), dtype=np.float64), "momentum_buffer": np.zeros_like(p.data)}

    def _update(self) -> None:
        for group in self.param_groups:
            lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
            weight_decay, nesterov = group["weight_decay"], group["nesterov"]
            for p in group["params"]:
                g = p._grad  # the bare slot: the .grad property would wrap an array in a Tensor first
                if g is None:
                    continue
                if type(g) is not np.ndarray:
                    g = g.data
                if weight_decay != 0:
                    g = g + weight_decay * p._data  # out of place: the gradient buffer may be shared
                if momentum != 0:
                    state = self.state[id(p)]
                    if "momentum_buffer" not in state:  # momentum switched on after construction (OneCycleLR)
                        state.update(self._init_state(p, group))
                    buf = state["momentum_buffer"]
                    if state["step"] == 0:
                        np.copyto(buf, g)
                    else:
                        buf *= momentum
                        buf += (1 - dampening) * g
                    g = g + momentum * buf if nesterov else buf
                    state["step"] += 1
                subtract_scaled(p._data, lr, g, self._scratch)  # p.data -= lr * g (the slot: .data is a property)
                bump_version(p)  # a graph recorded before this step can no longer be differentiated
