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

    @staticmethod
    def conv2d(x: Any, w: Any, b: Any) -> Any:
        return x.conv2d(w, b)

    @staticmethod
    def max_pool2d(x: Any) -> Any:
        return x.max_pool2d((2, 2))

    @staticmethod
    def flatten(x: Any) -> Any:
        return x.flatten(1)
