"""tinygrad_lite: Tensors with requires_grad, backward(), and optim.SGD once it exists
(else the update p.data -= lr * p.grad.data), or optim.AdamW where the problem asks for it (W8).
The "jit" variant wraps the step in tinygrad_lite.jit."""
from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import numpy as np

import tinygrad_lite as tl

from .tinygrad_api import Ops as TinygradOps


class Ops(TinygradOps):
    @staticmethod
    def layer_norm(x: Any, weight: Any, bias: Any) -> Any:  # PyTorch's F.layer_norm: the affine part fused
        return tl.nn.functional.layer_norm(x, x.shape[-1:], weight, bias)


def version() -> str:
    return str(getattr(tl, "__version__", "?"))


def _jit_decorator() -> Callable[..., Any]:
    jit = getattr(tl, "jit", None)  # the package exports the decorator object itself
    if not callable(jit):
        jit = getattr(importlib.import_module("tinygrad_lite.jit"), "jit", None)
    if not callable(jit):
        raise ImportError("tinygrad_lite.jit has no jit decorator")
    return jit


class Runner:
    def __init__(self, prob: Any, variant: str) -> None:
        self.prob = prob
        self.p = [tl.Tensor(a, requires_grad=True) for a in prob.params]
        self.data = [tl.Tensor(d) for d in prob.data]
        self.opt = None
        optimizer = getattr(prob, "optimizer", "sgd")
        if prob.lr is not None:
            try:
                optim = importlib.import_module("tinygrad_lite.optim")
                make = {"sgd": optim.SGD, "adamw": optim.AdamW}[optimizer]
                self.opt = make(self.p, lr=prob.lr, **getattr(prob, "optimizer_args", {}))
            except ImportError:
                if optimizer != "sgd":
                    raise
                self.opt = None
        self.update = f"optim.{type(self.opt).__name__}" if self.opt is not None else "p.data -= lr * p.grad.data"
        self._step: Callable[[], Any] = self._eager_step
        if variant == "jit":
            self._step = _jit_decorator()(self._eager_step)

    def _forward_backward(self) -> Any:
        for p in self.p:
            p.grad = None
        loss = self.prob.loss(Ops, self.p, self.data)
        loss.backward()
        return loss

    def _eager_step(self) -> Any:
        loss = self._forward_backward()
        if self.opt is not None:
            self.opt.step()
        elif self.prob.lr is not None:
            for p in self.p:
                p.data -= self.prob.lr * p.grad.data
        return loss

    def step(self) -> None:
        self._step()

    def loss_and_grads(self) -> tuple[float, list[np.ndarray]]:
        loss = self._forward_backward()
        return float(loss.item()), [np.array(p.grad.data) for p in self.p]

    def params(self) -> list[np.ndarray]:
        return [np.array(p.data) for p in self.p]


def build(prob: Any, variant: str) -> Runner:
    return Runner(prob, variant)
