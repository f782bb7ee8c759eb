"""The series' three networks as `nn` modules, readable in the article's layout.

`nn.Linear` stores its weight as (out, in) and computes x·Wᵀ; the article writes X·W with W
(in, out). Each model names its parameters the article's way (`w`, `b`, `wh`, `wo`, `bh`, `bo`)
and converts with a transpose, which leaves 1-D biases as they are.

>>> import numpy as np
>>> from tinygrad_lite import Tensor
>>> net = TwoLayerNet(wh=np.full((2, 4), 0.5), wo=np.full((4, 1), 0.5))
>>> X, y = np.array([[1.0, -1.0]]), np.array([[1.0]])
>>> _ = net.loss(Tensor(X), Tensor(y)).backward()
>>> gap = {k: float(abs(net.gradients()[k] - g).max()) for k, g in net.hand_gradients(X, y).items()}
>>> gap
{'wh': 0.0, 'wo': 0.0}
"""
from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, Self

import numpy as np

from .. import dtypes, nn
from ..grad_mode import no_grad
from ..nn import functional as F
from ..tensor import Tensor
from . import equations as eq
from .equations import Arrays


def _linear(w: np.ndarray, b: np.ndarray | None = None) -> nn.Linear:
    """A float64 nn.Linear holding the article-layout weight `w` (in, out) and bias `b` (out,)."""
    layer = nn.Linear(w.shape[0], w.shape[1], bias=b is not None, dtype=dtypes.float64)
    layer.load_state_dict({"weight": w.T} if b is None else {"weight": w.T, "bias": b})
    return layer


class ArticleModel(nn.Module):
    """An `nn.Sequential` whose parameters are read and written under the article's names, in its layout."""

    # article name -> name in named_parameters(); the stored tensor is the transpose of the article's array
    LAYOUT: ClassVar[dict[str, str]]

    def __init__(self, net: nn.Sequential) -> None:
        super().__init__()
        self.net = net

    def forward(self, X: Tensor) -> Tensor:
        return self.net(X)

    def loss(self, X: Tensor, y: Tensor) -> Tensor:
        raise NotImplementedError

    def hand_gradients(self, X: np.ndarray, y: np.ndarray) -> Arrays:
        """The hand-derived gradients of `loss` at the current weights (NumPy)."""
        raise NotImplementedError

    def copy(self) -> Self:
        """A fresh model with the same weights: no gradients, no graph, nothing shared."""
        return type(self)(**self.weights())  # type: ignore[arg-type]  # subclasses take their weights by name

    def weights(self) -> Arrays:
        """Copies of the current weights, in the article's layout."""
        params = dict(self.named_parameters())
        return {name: params[key].numpy().T for name, key in self.LAYOUT.items()}

    def gradients(self) -> Arrays:
        """The `.grad` of each weight after `backward()`, in the article's layout."""
        params = dict(self.named_parameters())
        out = {}
        for name, key in self.LAYOUT.items():
            grad = params[key].grad
            if grad is None:
                raise ValueError(f"{type(self).__name__}: {name} has no gradient; call loss(...).backward() first")
            out[name] = grad.numpy().T
        return out

    def probabilities(self, X: Tensor) -> Tensor:
        return self(X)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities (n, 1) for the binary models, (n, k) otherwise; no graph is recorded."""
        with no_grad():
            return self.probabilities(Tensor(np.asarray(X, dtype=np.float64))).numpy()

    def accuracy(self, X: np.ndarray, labels: np.ndarray) -> float:
        """The fraction of rows whose predicted class (p > ½, or the largest probability) is `labels`."""
        p = self.predict(X)
        guess = (p[:, 0] > 0.5) if p.shape[1] == 1 else p.argmax(axis=1)
        return float(np.mean(guess == np.ravel(labels)))


class Perceptron(ArticleModel):
    """Part 1: p = σ(X·w + b) with w (d, 1) and b (1,); L = ½ Σ (p - y)² for labels y (n, 1)."""

    LAYOUT = {"w": "net.0.weight", "b": "net.0.bias"}

    def __init__(self, w: np.ndarray, b: np.ndarray) -> None:
        super().__init__(nn.Sequential(_linear(w, b), nn.Sigmoid()))

    def loss(self, X: Tensor, y: Tensor) -> Tensor:
        return 0.5 * F.mse_loss(self(X), y, reduction="sum")

    def hand_gradients(self, X: np.ndarray, y: np.ndarray) -> Arrays:
        return eq.perceptron_gradients(**self.weights(), X=X, y=y)


class TwoLayerNet(ArticleModel):
    """Part 2: ao = σ(σ(X·wh)·wo), no biases, wh (d, h) and wo (h, 1); L = ½ Σ (ao - y)²."""

    LAYOUT = {"wh": "net.0.weight", "wo": "net.2.weight"}

    def __init__(self, wh: np.ndarray, wo: np.ndarray) -> None:
        super().__init__(nn.Sequential(_linear(wh), nn.Sigmoid(), _linear(wo), nn.Sigmoid()))

    def loss(self, X: Tensor, y: Tensor) -> Tensor:
        return 0.5 * F.mse_loss(self(X), y, reduction="sum")

    def hand_gradients(self, X: np.ndarray, y: np.ndarray) -> Arrays:
        return eq.two_layer_gradients(**self.weights(), X=X, y=y)


class MulticlassNet(ArticleModel):
    """Part 3: logits zo = σ(X·wh + bh)·wo + bo, ao = softmax(zo); L = -Σ log ao[label] (summed cross-entropy).

    The network outputs logits; `probabilities` applies the softmax. Labels are class indices (n,).
    """

    LAYOUT = {"wh": "net.0.weight", "bh": "net.0.bias", "wo": "net.2.weight", "bo": "net.2.bias"}

    def __init__(self, wh: np.ndarray, bh: np.ndarray, wo: np.ndarray, bo: np.ndarray) -> None:
        super().__init__(nn.Sequential(_linear(wh, bh), nn.Sigmoid(), _linear(wo, bo)))

    def loss(self, X: Tensor, y: Tensor) -> Tensor:
        return F.cross_entropy(self(X), y, reduction="sum")

    def probabilities(self, X: Tensor) -> Tensor:
        return self(X).softmax(axis=-1)

    def hand_gradients(self, X: np.ndarray, y: np.ndarray) -> Arrays:
        weights = self.weights()
        one_hot = np.eye(weights["wo"].shape[1])[y]
        return eq.multiclass_gradients(**weights, X=X, Y=one_hot)


def gradient_gaps(model: ArticleModel, X: np.ndarray, y: np.ndarray,
                  reference: Callable[[Arrays, np.ndarray, np.ndarray], Arrays] | None = None
                  ) -> dict[str, tuple[float, float]]:
    """For each weight: (max |autodiff - reference|, max |reference|) at the model's current weights.

    The reference is the model's hand-derived gradients unless `reference(weights, X, y)` is given.
    `y` is what the model's loss takes: a float column (n, 1) for the binary models, class indices
    (n,) for the multi-class one. Works on a fresh copy of the model, so the original's `.grad`
    (and a jit's captured step) are left alone.
    """
    twin = model.copy()
    twin.loss(Tensor(X), Tensor(y)).backward()
    auto = twin.gradients()
    ref = twin.hand_gradients(X, y) if reference is None else reference(twin.weights(), X, y)
    return {name: (float(np.max(np.abs(auto[name] - r))), float(np.max(np.abs(r)))) for name, r in ref.items()}
