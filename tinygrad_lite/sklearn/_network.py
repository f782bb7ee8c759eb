"""The network behind the estimators: `nn.Linear` layers with an activation between them, initialised as
scikit-learn's MLP does (Glorot uniform) from the estimator's own random generator.

>>> import numpy as np
>>> net = build_network([3, 5, 2], "tanh", np.dtype(np.float64), np.random.RandomState(0))
>>> [type(layer).__name__ for layer in net], [w.shape for w in weights(net)]
(['Linear', 'Tanh', 'Linear'], [(5, 3), (2, 5)])
"""
from __future__ import annotations

import math

import numpy as np

from .. import nn
from ..grad_mode import no_grad
from ..tensor import Tensor

_ACTIVATION_MODULES: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU, "tanh": nn.Tanh, "logistic": nn.Sigmoid, "identity": nn.Identity,
}


def build_network(sizes: list[int], activation: str, dtype: np.dtype, rng: np.random.RandomState) -> nn.Sequential:
    """Linear layers between consecutive `sizes`, `activation` after each but the last (the output layer gives
    logits or values). Weights and biases are drawn from U(-b, b) with b = √(f / (fan_in + fan_out)), f = 2 for
    the logistic activation and 6 otherwise (Glorot & Bengio, as scikit-learn), using `rng` only, so a fit
    depends on `random_state` alone. (Creating each nn.Linear still draws its default initialisation from the
    generator `Tensor.manual_seed` seeds; those values are overwritten here.)"""
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        if i:
            layers.append(_ACTIVATION_MODULES[activation]())
        layers.append(nn.Linear(fan_in, fan_out, dtype=dtype))
    net = nn.Sequential(*layers)
    factor = 2.0 if activation == "logistic" else 6.0
    values = {}
    for name, layer in zip(_linear_names(net), linears(net)):
        bound = math.sqrt(factor / (layer.in_features + layer.out_features))
        values[f"{name}.weight"] = rng.uniform(-bound, bound, (layer.out_features, layer.in_features))
        values[f"{name}.bias"] = rng.uniform(-bound, bound, layer.out_features)
    net.load_state_dict(values)
    return net


def _linear_names(net: nn.Sequential) -> list[str]:
    return [str(i) for i, layer in enumerate(net) if isinstance(layer, nn.Linear)]


def linears(net: nn.Sequential) -> list[nn.Linear]:
    return [layer for layer in net if isinstance(layer, nn.Linear)]


def weights(net: nn.Sequential) -> list[Tensor]:
    """The weight matrices (not the biases): the tensors the L2 penalty `alpha` applies to."""
    return [layer.weight for layer in linears(net)]


def l2_penalty(net: nn.Sequential, alpha: float, n_samples: int) -> Tensor | None:
    """alpha/2 · Σ‖W‖² / n_samples over the weight matrices: scikit-learn's penalty for a batch of n_samples."""
    if alpha == 0:
        return None
    squares = [(w * w).sum() for w in weights(net)]
    total = squares[0]
    for s in squares[1:]:
        total = total + s
    return total * (0.5 * alpha / n_samples)


def snapshot(net: nn.Sequential) -> dict[str, np.ndarray]:
    """A copy of every parameter, to restore with `net.load_state_dict` (the best epoch of early stopping)."""
    return {name: t.numpy() for name, t in net.state_dict().items()}


@no_grad()
def forward(net: nn.Sequential, X: np.ndarray) -> Tensor:
    """The network's outputs (logits or values) for the rows of X, with no graph recorded."""
    return net(Tensor(X))


def frozen(a: np.ndarray) -> np.ndarray:
    """A read-only array: writing into a copy of the weights would change nothing, so it is refused."""
    a = np.array(a)
    a.flags.writeable = False
    return a
