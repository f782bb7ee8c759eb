"""JAX on the CPU: jax.value_and_grad run op by op ("eager"), or the whole step (SGD, or AdamW for W8) under jax.jit.

x64 is enabled so the float64 workloads stay float64; the float32 ones pass float32 arrays.
Every step ends with block_until_ready, since JAX dispatches asynchronously.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from . import torchish

jax.config.update("jax_enable_x64", True)


def _cross_entropy(logits: Any, labels: Any) -> Any:
    logp = jax.nn.log_softmax(logits, axis=-1)
    return -jnp.mean(jnp.take_along_axis(logp, labels[:, None], axis=-1))


class Torchish(torchish.Torchish):
    """A JAX array under PyTorch's names (benchmarks/engines/torchish.py)."""

    __slots__ = ()

    @staticmethod
    def transpose(a: Any, axes: tuple[int, ...]) -> Any:
        return jnp.transpose(a, axes)


def _conv2d(x: Any, w: Any, b: Any) -> Any:
    """PyTorch's F.conv2d(x, w, b): NCHW input, OIHW weight, stride 1, no padding (a cross-correlation)."""
    out = jax.lax.conv_general_dilated(x, w, window_strides=(1, 1), padding="VALID",
                                       dimension_numbers=("NCHW", "OIHW", "NCHW"))
    return out + b[None, :, None, None]


def _max_pool2d(x: Any) -> Any:
    """F.max_pool2d(x, 2): 2×2 tiles, stride 2, over the last two axes of NCHW."""
    return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")


def _layer_norm(x: Any, weight: Any, bias: Any) -> Any:
    """F.layer_norm over the last axis: biased variance, eps 1e-5, then the affine part."""
    mean = jnp.mean(x, axis=-1, keepdims=True)
    centred = x - mean
    var = jnp.mean(centred * centred, axis=-1, keepdims=True)
    return centred * jax.lax.rsqrt(var + 1e-5) * weight + bias


def _causal_attention(q: Any, k: Any, v: Any) -> Any:
    """softmax(q·kᵀ/√d with the future masked out)·v on (batch, heads, seq, head_dim): F.scaled_dot_product_attention
    with is_causal=True."""
    seq = q.shape[-2]
    scores = (q @ jnp.swapaxes(k, -1, -2)) * (1 / math.sqrt(q.shape[-1]))
    scores = jnp.where(jnp.tril(jnp.ones((seq, seq), bool)), scores, -jnp.inf)
    return jax.nn.softmax(scores, axis=-1) @ v


class Ops:
    sigmoid = staticmethod(jax.nn.sigmoid)
    relu = staticmethod(jax.nn.relu)
    sum = staticmethod(jnp.sum)
    cross_entropy = staticmethod(_cross_entropy)
    # the CNN (W7)
    conv2d = staticmethod(_conv2d)
    max_pool2d = staticmethod(_max_pool2d)

    @staticmethod
    def flatten(x: Any) -> Any:
        return x.reshape(x.shape[0], -1)

    # the transformer block (W8)
    layer_norm = torchish.lifted(_layer_norm)
    causal_attention = torchish.lifted(_causal_attention)
    gelu = torchish.lifted(lambda t: jax.nn.gelu(t, approximate=True))  # the tanh form, as torch's approximate="tanh"
    mean = torchish.lifted(jnp.mean)


def version() -> str:
    return f"{jax.__version__} ({jax.default_backend()})"


class AdamW:
    """torch.optim.AdamW's update (decoupled weight decay p ← p·(1 − lr·wd), bias-corrected moments), as a pure
    function of (params, grads, state) that jax.jit can take into the step. The bias corrections are computed in
    Python doubles, as PyTorch does, and passed in as float32 scalars (so the jitted step is traced once)."""

    def __init__(self, params: list[Any], lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.01) -> None:
        self.lr, self.betas, self.eps, self.weight_decay = lr, betas, eps, weight_decay
        self.t = 0
        self.state = ([jnp.zeros_like(p) for p in params], [jnp.zeros_like(p) for p in params])

    def scalars(self) -> tuple[Any, Any]:
        """Advance the step count; the step size lr/(1 − β₁ᵗ) and √(1 − β₂ᵗ) for this step."""
        self.t += 1
        beta1, beta2 = self.betas
        return np.float32(self.lr / (1 - beta1 ** self.t)), np.float32(math.sqrt(1 - beta2 ** self.t))

    def update(self, params: list[Any], grads: list[Any], state: Any, step_size: Any,
               root_correction: Any) -> tuple[list[Any], Any]:
        beta1, beta2 = self.betas
        decay = 1 - self.lr * self.weight_decay
        new_p, new_m, new_v = [], [], []
        for p, g, m, v in zip(params, grads, *state):
            m = m + (1 - beta1) * (g - m)
            v = beta2 * v + (1 - beta2) * g * g
            new_p.append(p * decay - step_size * m / (jnp.sqrt(v) / root_correction + self.eps))
            new_m.append(m)
            new_v.append(v)
        return new_p, (new_m, new_v)


class Runner:
    def __init__(self, prob: Any, variant: str) -> None:
        self.prob = prob
        self.p = [jnp.asarray(a) for a in prob.params]
        self.data = [jnp.asarray(d) for d in prob.data]
        lr = prob.lr

        self.use_views = False  # read when f runs or is traced: a failed trace is not cached, so the retry retraces

        def f(params: list[Any], data: list[Any]) -> Any:
            if self.use_views:
                return torchish.raw(prob.loss(Ops, [Torchish(p) for p in params], [Torchish(d) for d in data]))
            return prob.loss(Ops, params, data)

        self.vg = jax.value_and_grad(f)
        jit = jax.jit if variant == "jit" else (lambda fn: fn)
        self.adamw: AdamW | None = None
        if lr is not None and getattr(prob, "optimizer", "sgd") == "adamw":
            adamw = self.adamw = AdamW(self.p, lr, **getattr(prob, "optimizer_args", {}))

            def adamw_step(params: list[Any], state: Any, data: list[Any], step_size: Any,
                           root_correction: Any) -> tuple[list[Any], Any]:
                _, grads = self.vg(params, data)
                return adamw.update(params, grads, state, step_size, root_correction)

            self._adamw = jit(adamw_step)
        elif lr is not None and getattr(prob, "optimizer", "sgd") != "sgd":
            raise ValueError(f"the JAX adapter runs SGD and AdamW, not {prob.optimizer!r}")

        def sgd(params: list[Any], data: list[Any]) -> tuple[Any, list[Any]]:
            loss, grads = self.vg(params, data)
            return loss, [p - lr * g for p, g in zip(params, grads)]

        self._sgd = jit(sgd)
        self.vg = jit(self.vg)

    def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """fn(*args); if the loss called `permute` on a JAX array, again on Torchish views (W8's block)."""
        try:
            return fn(*args)
        except AttributeError as exc:
            if self.use_views or "permute" not in str(exc):
                raise
            self.use_views = True
            return fn(*args)

    def step(self) -> None:
        if self.prob.lr is None:
            jax.block_until_ready(self._call(self.vg, self.p, self.data))
            return
        if self.adamw is not None:
            scalars = self.adamw.scalars()
            self.p, self.adamw.state = self._call(self._adamw, self.p, self.adamw.state, self.data, *scalars)
        else:
            _, self.p = self._call(self._sgd, self.p, self.data)
        jax.block_until_ready(self.p)

    def loss_and_grads(self) -> tuple[float, list[np.ndarray]]:
        loss, grads = self._call(self.vg, self.p, self.data)
        return float(loss), [np.asarray(g) for g in grads]

    def params(self) -> list[np.ndarray]:
        return [np.asarray(p) for p in self.p]


def build(prob: Any, variant: str) -> Runner:
    return Runner(prob, variant)
