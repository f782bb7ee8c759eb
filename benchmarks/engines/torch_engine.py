"""PyTorch eager on one thread: leaf tensors with requires_grad, torch.optim.SGD (torch.optim.AdamW for W8)."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(1)
try:
    torch.set_num_interop_threads(1)
except RuntimeError:  # only allowed before any parallel work; one intra-op thread is what matters
    pass


class Ops:
    sigmoid = staticmethod(torch.sigmoid)
    relu = staticmethod(torch.relu)
    sum = staticmethod(torch.sum)
    cross_entropy = staticmethod(F.cross_entropy)
    mean = staticmethod(torch.mean)

    # the transformer block (W8)
    @staticmethod
    def layer_norm(x: Any, weight: Any, bias: Any) -> Any:
        return F.layer_norm(x, x.shape[-1:], weight, bias)

    @staticmethod
    def causal_attention(q: Any, k: Any, v: Any) -> Any:
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)

    @staticmethod
    def gelu(t: Any) -> Any:
        return F.gelu(t, approximate="tanh")

    conv2d = staticmethod(F.conv2d)

    @staticmethod
    def max_pool2d(x: Any) -> Any:
        return F.max_pool2d(x, 2)

    @staticmethod
    def flatten(x: Any) -> Any:
        return x.flatten(1)


def version() -> str:
    return f"{torch.__version__} (threads {torch.get_num_threads()})"


class Runner:
    def __init__(self, prob: Any, variant: str) -> None:
        self.prob = prob
        self.p = [torch.tensor(a, requires_grad=True) for a in prob.params]
        self.data = [torch.from_numpy(d.copy()) for d in prob.data]
        self.opt = None
        if prob.lr is not None:
            make = {"sgd": torch.optim.SGD, "adamw": torch.optim.AdamW}[getattr(prob, "optimizer", "sgd")]
            self.opt = make(self.p, lr=prob.lr, **getattr(prob, "optimizer_args", {}))

    def _forward_backward(self) -> Any:
        for p in self.p:
            p.grad = None
        loss = self.prob.loss(Ops, self.p, self.data)
        loss.backward()
        return loss

    def step(self) -> None:
        self._forward_backward()
        if self.opt is not None:
            self.opt.step()

    def loss_and_grads(self) -> tuple[float, list[np.ndarray]]:
        loss = self._forward_backward()
        return float(loss.item()), [p.grad.numpy().copy() for p in self.p]  # type: ignore[union-attr]

    def params(self) -> list[np.ndarray]:
        return [p.detach().numpy().copy() for p in self.p]


def build(prob: Any, variant: str) -> Runner:
    return Runner(prob, variant)
