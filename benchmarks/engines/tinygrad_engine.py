"""tinygrad on its CPU backend (DEV=CPU, clang; THREADS=0 for one thread): the graph is lazy,
gradients come from loss.gradient(*params), SGD updates are assign()s and AdamW (W8) is
tinygrad.nn.optim.AdamW, and each step realizes the loss and parameters. The "jit" variant runs
the same step under TinyJit."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from tinygrad import Context, Device, Tensor, TinyJit
from tinygrad.nn.optim import AdamW

from .tinygrad_api import Ops


def version() -> str:
    from importlib.metadata import version as dist_version

    return f"{dist_version('tinygrad')} ({Device.DEFAULT})"


class Runner:
    def __init__(self, prob: Any, variant: str) -> None:
        self.prob = prob
        self.p = [Tensor(a.copy()).realize() for a in prob.params]
        self.data = [Tensor(d.copy()).realize() for d in prob.data]
        self.opt = None
        optimizer = getattr(prob, "optimizer", "sgd")
        if prob.lr is not None and optimizer == "adamw":
            # tinygrad's AdamW is torch's: p - lr·(m̂/(√v̂ + eps) + wd·p) = p·(1 - lr·wd) - lr·m̂/(√v̂ + eps)
            args = getattr(prob, "optimizer_args", {})
            beta1, beta2 = args.get("betas", (0.9, 0.999))
            self.opt = AdamW(self.p, lr=prob.lr, b1=beta1, b2=beta2, eps=args.get("eps", 1e-8),
                             weight_decay=args.get("weight_decay", 0.01))
        elif prob.lr is not None and optimizer != "sgd":
            raise ValueError(f"the tinygrad adapter runs SGD and AdamW, not {optimizer!r}")
        self._step: Callable[[], Any] = self._eager_step
        if variant == "jit":
            self._step = TinyJit(self._eager_step)

    def _loss_grads(self) -> tuple[Any, list[Any]]:
        loss = self.prob.loss(Ops, self.p, self.data)
        return loss, loss.gradient(*self.p)

    def _eager_step(self) -> Any:
        loss, grads = self._loss_grads()
        lr = self.prob.lr
        if lr is None:
            return loss.realize(*grads)
        if self.opt is not None:
            for p, g in zip(self.p, grads):
                p.grad = g
            with Context(TRAINING=1):  # the optimizer refuses to step outside training mode
                return loss.realize(*self.opt.schedule_step())
        for p, g in zip(self.p, grads):
            p.assign(p - lr * g)
        return loss.realize(*self.p)

    def step(self) -> None:
        self._step()

    def loss_and_grads(self) -> tuple[float, list[np.ndarray]]:
        loss, grads = self._loss_grads()
        loss.realize(*grads)
        return float(loss.item()), [g.numpy() for g in grads]

    def params(self) -> list[np.ndarray]:
        return [p.numpy() for p in self.p]


def build(prob: Any, variant: str) -> Runner:
    return Runner(prob, variant)
