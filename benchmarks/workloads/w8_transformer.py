"""W8: one GPT-style pre-norm transformer block, d_model 128, 4 heads, sequence 64, batch 8, float32, AdamW.

    h = LN₁(x);  x₁ = x + Attn(h)·Wo + bo   (causal, 4 heads of 32)
    x₂ = x₁ + GELU(LN₂(x₁)·W₁ + b₁)·W₂ + b₂ (MLP 128-512-128, tanh GELU)
    loss = mean((x₂ - y)²)

The key projection has no bias: softmax ignores a shift common to all keys, so that bias's gradient is exactly
zero and an agreement check would compare rounding noise.

Timed: forward, backward and one AdamW update (PyTorch's defaults: betas (0.9, 0.999), eps 1e-8, weight decay
0.01) of all 15 parameters. Engines call the package's own AdamW where it has one (torch.optim.AdamW,
tinygrad_lite's, tinygrad's); the JAX and MyGrad adapters write PyTorch's update themselves. The NumPy
floor is the same step written by hand: the forward with its caches, the derived backward (layer norm,
softmax and GELU in closed form) and the AdamW update in place.
"""
from __future__ import annotations

import math
from functools import partial
from typing import Any

import numpy as np

from . import Problem, Protocol

ID, TITLE, UNIT, PER, MEMORY = "W8", "transformer block d128 h4 seq64 batch8, float32, AdamW", "us", "step", ""
ONLY = ("numpy", "tinygrad_lite", "tinygrad_lite+jit", "torch", "jax", "jax.jit", "tinygrad",
        "tinygrad+TinyJit", "mygrad")  # the engines whose adapters run AdamW
SKIP: dict[str, str] = {}
ADAMW = {"betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.01}
EPS = 1e-5  # layer norm
GELU_C = math.sqrt(2 / math.pi)


def variants(quick: bool) -> list[dict[str, Any]]:
    if quick:
        return [{"name": "W8", "d": 32, "heads": 2, "seq": 16, "batch": 2}]
    return [{"name": "W8", "d": 128, "heads": 4, "seq": 64, "batch": 8}]


def protocol(variant: dict[str, Any], quick: bool) -> Protocol:
    return Protocol(budget=0.3 if quick else 3.0, target_batch=0.005 if quick else 0.05, min_rounds=3 if quick else 7,
                    timeout=60 if quick else 180)


def block_loss(ops: Any, params: list[Any], data: list[Any], heads: int) -> Any:
    """The block in an engine's own idiom: `ops` brings layer_norm, causal_attention, gelu and mean."""
    ln1_w, ln1_b, wq, bq, wk, wv, bv, wo, bo, ln2_w, ln2_b, w1, b1, w2, b2 = params
    x, y = data
    batch, seq, d = x.shape

    def split(t: Any) -> Any:  # (B, T, D) -> (B, H, T, D/H)
        return t.reshape(batch, seq, heads, d // heads).permute(0, 2, 1, 3)

    h = ops.layer_norm(x, ln1_w, ln1_b)
    att = ops.causal_attention(split(h @ wq + bq), split(h @ wk), split(h @ wv + bv))
    x1 = x + att.permute(0, 2, 1, 3).reshape(batch, seq, d) @ wo + bo
    x2 = x1 + ops.gelu(ops.layer_norm(x1, ln2_w, ln2_b) @ w1 + b1) @ w2 + b2
    diff = x2 - y
    return ops.mean(diff * diff)


def problem(variant: dict[str, Any]) -> Problem:
    """GPT-2-like initialisation (weights N(0, 0.02²), zero biases, unit layer-norm scales), data N(0, 1)."""
    d, batch, seq = variant["d"], variant["batch"], variant["seq"]
    rng = np.random.default_rng(0)

    def w(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.02).astype(np.float32)

    def zeros(n: int) -> np.ndarray:
        return np.zeros(n, np.float32)

    params = [np.ones(d, np.float32), zeros(d), w(d, d), zeros(d), w(d, d), w(d, d), zeros(d),
              w(d, d), zeros(d), np.ones(d, np.float32), zeros(d), w(d, 4 * d), zeros(4 * d), w(4 * d, d), zeros(d)]
    x = rng.standard_normal((batch, seq, d), dtype=np.float32)
    y = rng.standard_normal((batch, seq, d), dtype=np.float32)
    return Problem(params=params, data=[x, y], loss=partial(block_loss, heads=variant["heads"]), lr=1e-3, tol=2e-3,
                   optimizer="adamw", optimizer_args=dict(ADAMW))


def floors(prob: Problem, variant: dict[str, Any]) -> dict[str, Any]:
    return {"numpy": lambda: Floor(prob, variant["heads"])}


def _layer_norm(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    xhat = x - x.mean(-1, keepdims=True)
    rstd = 1 / np.sqrt(np.square(xhat).mean(-1, keepdims=True) + np.float32(EPS))
    xhat *= rstd
    return xhat, rstd


def _layer_norm_back(g: np.ndarray, xhat: np.ndarray, rstd: np.ndarray) -> np.ndarray:
    return rstd * (g - g.mean(-1, keepdims=True) - xhat * (g * xhat).mean(-1, keepdims=True))


class Floor:
    """The block's forward, its hand-derived backward and AdamW, in NumPy (float32 throughout)."""

    def __init__(self, prob: Problem, heads: int) -> None:
        self.p = [a.copy() for a in prob.params]
        self.x, self.y = prob.data
        self.heads = heads
        self.lr = prob.lr
        self.m = [np.zeros_like(a) for a in self.p]
        self.v = [np.zeros_like(a) for a in self.p]
        self.t = 0
        seq = self.x.shape[1]
        self.bias = np.where(np.tril(np.ones((seq, seq), bool)), np.float32(0), np.float32(-np.inf))

    def _grads(self) -> tuple[float, list[np.ndarray]]:
        ln1_w, ln1_b, wq, bq, wk, wv, bv, wo, bo, ln2_w, ln2_b, w1, b1, w2, b2 = self.p
        x, y = self.x, self.y
        batch, seq, d = x.shape
        heads, hd = self.heads, d // self.heads
        scale = np.float32(1 / math.sqrt(hd))

        def split(t: np.ndarray) -> np.ndarray:
            return t.reshape(batch, seq, heads, hd).transpose(0, 2, 1, 3)

        def merge(t: np.ndarray) -> np.ndarray:
            return t.transpose(0, 2, 1, 3).reshape(batch, seq, d)

        # forward
        xhat1, rstd1 = _layer_norm(x)
        h = xhat1 * ln1_w + ln1_b
        q, k, v = split(h @ wq + bq), split(h @ wk), split(h @ wv + bv)
        qs = q * scale
        p = qs @ k.transpose(0, 1, 3, 2)
        p += self.bias
        p -= p.max(-1, keepdims=True)
        np.exp(p, out=p)
        p /= p.sum(-1, keepdims=True)
        o = merge(p @ v)
        x1 = x + o @ wo + bo
        xhat2, rstd2 = _layer_norm(x1)
        h2 = xhat2 * ln2_w + ln2_b
        z = h2 @ w1 + b1
        t = z * z  # tanh(c·(z + 0.044715·z³)), in place
        t *= np.float32(0.044715)
        t += 1
        t *= z
        t *= np.float32(GELU_C)
        np.tanh(t, out=t)
        u = t + 1
        u *= z
        u *= np.float32(0.5)
        x2 = x1 + u @ w2 + b2
        diff = x2 - y
        loss = float(np.vdot(diff, diff)) / diff.size

        # backward
        rows = batch * seq
        g2 = diff * np.float32(2 / diff.size)
        g2f = g2.reshape(rows, d)
        dw2, db2 = u.reshape(rows, -1).T @ g2f, g2f.sum(0)
        du = g2 @ w2.T
        slope = t * t  # GELU'(z) = ½(1 + t) + ½·z·(1 - t²)·c·(1 + 3·0.044715·z²), in place
        np.subtract(1, slope, out=slope)
        poly = z * z
        poly *= np.float32(3 * 0.044715 * GELU_C)
        poly += np.float32(GELU_C)
        slope *= poly
        slope *= z
        slope += t
        slope += 1
        slope *= np.float32(0.5)
        dz = du
        dz *= slope
        dzf = dz.reshape(rows, -1)
        dw1, db1 = h2.reshape(rows, d).T @ dzf, dzf.sum(0)
        dh2 = dz @ w1.T
        dln2_w, dln2_b = (dh2 * xhat2).reshape(rows, d).sum(0), dh2.reshape(rows, d).sum(0)
        dx1 = g2 + _layer_norm_back(dh2 * ln2_w, xhat2, rstd2)
        dx1f = dx1.reshape(rows, d)
        dwo, dbo = o.reshape(rows, d).T @ dx1f, dx1f.sum(0)
        do = split(dx1 @ wo.T)
        dp = do @ v.transpose(0, 1, 3, 2)
        dv = p.transpose(0, 1, 3, 2) @ do
        ds = dp * p
        ds -= p * ds.sum(-1, keepdims=True)
        dq = (ds @ k) * scale
        dk = ds.transpose(0, 1, 3, 2) @ qs
        hf = h.reshape(rows, d)
        dqm, dkm, dvm = (merge(g).reshape(rows, d) for g in (dq, dk, dv))
        dwq, dwk, dwv = hf.T @ dqm, hf.T @ dkm, hf.T @ dvm
        dh = (dqm @ wq.T + dkm @ wk.T + dvm @ wv.T).reshape(batch, seq, d)
        dln1_w, dln1_b = (dh * xhat1).reshape(rows, d).sum(0), dh.reshape(rows, d).sum(0)
        grads = [dln1_w, dln1_b, dwq, dqm.sum(0), dwk, dwv, dvm.sum(0), dwo, dbo, dln2_w, dln2_b,
                 dw1, db1, dw2, db2]
        return loss, grads

    def step(self) -> None:
        _, grads = self._grads()
        self.t += 1
        (beta1, beta2), eps, wd, lr = ADAMW["betas"], ADAMW["eps"], ADAMW["weight_decay"], self.lr
        step_size = lr / (1 - beta1 ** self.t)
        root_correction = math.sqrt(1 - beta2 ** self.t)
        for p, g, m, v in zip(self.p, grads, self.m, self.v):
            p *= np.float32(1 - lr * wd)
            m += np.float32(1 - beta1) * (g - m)
            v *= np.float32(beta2)
            v += np.float32(1 - beta2) * g * g
            p -= np.float32(step_size) * m / (np.sqrt(v) / np.float32(root_correction) + np.float32(eps))

    def loss_and_grads(self) -> tuple[float, list[np.ndarray]]:
        return self._grads()

    def params(self) -> list[np.ndarray]:
        return [a.copy() for a in self.p]
