"""MyGrad: mygrad.Tensor parameters, NumPy arrays as constants, backward(), update of .data (SGD, or AdamW for W8:
MyGrad has no optimizers, so both are written in NumPy on .data, AdamW as torch.optim.AdamW does it).

W7 uses mygrad.nnet's conv_nd and max_pool. MyGrad has no layer norm, attention or GELU, so W8's are composed
from its Tensor operations (mean, sqrt, tanh, matmul, softmax), with float32 constants: MyGrad turns a Python
float into a float64 array, which would promote the float32 block to float64.
"""
from __future__ import annotations

import math
from typing import Any

import mygrad as mg
import numpy as np
from mygrad.nnet.activations import relu, sigmoid, softmax
from mygrad.nnet.layers import conv_nd, max_pool
from mygrad.nnet.losses import softmax_crossentropy

from . import torchish


class Torchish(torchish.Torchish):
    """A MyGrad tensor under PyTorch's names (benchmarks/engines/torchish.py)."""

    __slots__ = ()

    @staticmethod
    def transpose(a: Any, axes: tuple[int, ...]) -> Any:
        return mg.transpose(a, *axes)


def _f32(value: float) -> np.ndarray:
    """A float32 constant (a Python float would be a float64 array in MyGrad and promote the block)."""
    return np.array(value, np.float32)


def _conv2d(x: Any, w: Any, b: Any) -> Any:
    """PyTorch's F.conv2d(x, w, b): NCHW input, OIHW weight, stride 1, no padding."""
    return conv_nd(x, w, stride=1) + b[:, None, None]


def _layer_norm(x: Any, weight: Any, bias: Any) -> Any:
    """F.layer_norm over the last axis: biased variance, eps 1e-5, then the affine part."""
    centred = x - mg.mean(x, axis=-1, keepdims=True)
    var = mg.mean(centred * centred, axis=-1, keepdims=True)
    return centred / mg.sqrt(var + _f32(1e-5)) * weight + bias


def _causal_attention(q: Any, k: Any, v: Any) -> Any:
    """softmax(q·kᵀ/√d with the future masked out)·v on (batch, heads, seq, head_dim)."""
    seq = q.shape[-2]
    mask = np.where(np.tril(np.ones((seq, seq), bool)), np.float32(0), np.float32(-np.inf))
    scores = mg.matmul(q, mg.swapaxes(k, -1, -2)) * _f32(1 / math.sqrt(q.shape[-1])) + mask
    return mg.matmul(softmax(scores, axis=-1), v)


def _gelu(t: Any) -> Any:
    """The tanh approximation (torch's approximate="tanh"): ½·t·(1 + tanh(√(2/π)·(t + 0.044715·t³)))."""
    inner = (t + t * t * t * _f32(0.044715)) * _f32(math.sqrt(2 / math.pi))
    return t * _f32(0.5) * (mg.tanh(inner) + _f32(1))


class Ops:
    sigmoid = staticmethod(sigmoid)
    relu = staticmethod(relu)
    sum = staticmethod(mg.sum)
    cross_entropy = staticmethod(softmax_crossentropy)
    # the CNN (W7)
    conv2d = staticmethod(_conv2d)

    @staticmethod
    def max_pool2d(x: Any) -> Any:
        return max_pool(x, (2, 2), 2)

    @staticmethod
    def flatten(x: Any) -> Any:
        return x.reshape(x.shape[0], -1)

    # the transformer block (W8)
    layer_norm = torchish.lifted(_layer_norm)
    causal_attention = torchish.lifted(_causal_attention)
    gelu = torchish.lifted(_gelu)
    mean = torchish.lifted(mg.mean)


def version() -> str:
    return str(mg.__version__)


class AdamW:
    """torch.optim.AdamW on MyGrad tensors' .data, in place: p ← p·(1 − lr·wd), then the bias-corrected Adam step."""

    def __init__(self, params: list[Any], lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.01) -> None:
        self.params, self.lr, self.betas, self.eps, self.weight_decay = params, lr, betas, eps, weight_decay
        self.m = [np.zeros_like(p.data) for p in params]
        self.v = [np.zeros_like(p.data) for p in params]
        self.t = 0

    def step(self) -> None:
        self.t += 1
        beta1, beta2 = self.betas
        step_size = np.float32(self.lr / (1 - beta1 ** self.t))
        root_correction = np.float32(math.sqrt(1 - beta2 ** self.t))
        decay = np.float32(1 - self.lr * self.weight_decay)
        for p, m, v in zip(self.params, self.m, self.v):
            g = p.grad
            p.data *= decay
            m += np.float32(1 - beta1) * (g - m)
            v *= np.float32(beta2)
            v += np.float32(1 - beta2) * g * g
            p.data -= step_size * m / (np.sqrt(v) / root_correction + np.float32(self.eps))


class Runner:
    def __init__(self, prob: Any, variant: str) -> None:
        self.prob = prob
        self.p = [mg.Tensor(a.copy()) for a in prob.params]
        self.use_views = False
        self.adamw: AdamW | None = None
        optimizer = getattr(prob, "optimizer", "sgd")
        if prob.lr is not None and optimizer == "adamw":
            self.adamw = AdamW(self.p, prob.lr, **getattr(prob, "optimizer_args", {}))
        elif prob.lr is not None and optimizer != "sgd":
            raise ValueError(f"the MyGrad adapter runs SGD and AdamW, not {optimizer!r}")

    def loss(self) -> Any:
        if self.use_views:
            views = [Torchish(p) for p in self.p], [Torchish(d) for d in self.prob.data]
            return torchish.raw(self.prob.loss(Ops, *views))
        try:
            return self.prob.loss(Ops, self.p, self.prob.data)
        except AttributeError as exc:  # W8's block calls `permute`: from now on, the loss on Torchish views
            if "permute" not in str(exc):
                raise
        self.use_views = True
        return self.loss()

    def _forward_backward(self) -> Any:
        loss = self.loss()
        loss.backward()
        return loss

    def step(self) -> None:
        self._forward_backward()
        if self.adamw is not None:
            self.adamw.step()
        elif self.prob.lr is not None:
            for p in self.p:
                p.data -= self.prob.lr * p.grad

    def loss_and_grads(self) -> tuple[float, list[np.ndarray]]:
        loss = self._forward_backward()
        return float(loss.item()), [np.array(p.grad) for p in self.p]

    def params(self) -> list[np.ndarray]:
        return [np.array(p.data) for p in self.p]


def build(prob: Any, variant: str) -> Runner:
    return Runner(prob, variant)
