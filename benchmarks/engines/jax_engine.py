"""JAX on the CPU: jax.value_and_grad run op by op ("eager"), or the whole SGD step under jax.jit.

x64 is enabled so the float64 workloads stay float64; the float32 ones pass float32 arrays.
Every step ends with block_until_ready, since JAX dispatches asynchronously.
"""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)


def _cross_entropy(logits: Any, labels: Any) -> Any:
    logp = jax.nn.log_softmax(logits, axis=-1)
    return -jnp.mean(jnp.take_along_axis(logp, labels[:, None], axis=-1))


class Ops:
    sigmoid = staticmethod(jax.nn.sigmoid)
    relu = staticmethod(jax.nn.relu)
    sum = staticmethod(jnp.sum)
    cross_entropy = staticmethod(_cross_entropy)


def version() -> str:
    return f"{jax.__version__} ({jax.default_backend()})"


class Runner:
    def __init__(self, prob: Any, variant: str) -> None:
        self.prob = prob
        self.p = [jnp.asarray(a) for a in prob.params]
        self.data = [jnp.asarray(d) for d in prob.data]
        lr = prob.lr

        def f(params: list[Any], data: list[Any]) -> Any:
            return prob.loss(Ops, params, data)

        self.vg = jax.value_and_grad(f)

        def sgd(params: list[Any], data: list[Any]) -> tuple[Any, list[Any]]:
            loss, grads = self.vg(params, data)
            return loss, [p - lr * g for p, g in zip(params, grads)]

        self._sgd = jax.jit(sgd) if variant == "jit" else sgd
        if variant == "jit":
            self.vg = jax.jit(self.vg)

    def step(self) -> None:
        if self.prob.lr is None:
            jax.block_until_ready(self.vg(self.p, self.data))
            return
        _, self.p = self._sgd(self.p, self.data)
        jax.block_until_ready(self.p)

    def loss_and_grads(self) -> tuple[float, list[np.ndarray]]:
        loss, grads = self.vg(self.p, self.data)
        return float(loss), [np.asarray(g) for g in grads]

    def params(self) -> list[np.ndarray]:
        return [np.asarray(p) for p in self.p]


def build(prob: Any, variant: str) -> Runner:
    return Runner(prob, variant)
