"""The `Ops` namespace for engines with tinygrad's Tensor API (tinygrad itself and tinygrad_lite)."""
from __future__ import annotations

from typing import Any


class Ops:
    @staticmethod
    def sigmoid(t: Any) -> Any:
        return t.sigmoid()

    @staticmethod
    def relu(t: Any) -> Any:
        return t.relu()

    @staticmethod
    def sum(t: Any) -> Any:
        return t.sum()

    @staticmethod
    def cross_entropy(logits: Any, labels: Any) -> Any:
        return logits.sparse_categorical_crossentropy(labels)

    # the transformer block (W8)
    @staticmethod
    def layer_norm(x: Any, weight: Any, bias: Any) -> Any:
        return x.layernorm() * weight + bias

    @staticmethod
    def causal_attention(q: Any, k: Any, v: Any) -> Any:
        return q.scaled_dot_product_attention(k, v, is_causal=True)

    @staticmethod
    def gelu(t: Any) -> Any:
        return t.gelu()  # tinygrad's tanh approximation

    @staticmethod
    def mean(t: Any) -> Any:
        return t.mean()

    @staticmethod
    def conv2d(x: Any, w: Any, b: Any) -> Any:
        return x.conv2d(w, b)

    @staticmethod
    def max_pool2d(x: Any) -> Any:
        return x.max_pool2d((2, 2))

    @staticmethod
    def flatten(x: Any) -> Any:
        return x.flatten(1)
