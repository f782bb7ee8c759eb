"""Activation functions as modules, with PyTorch's names and arguments; each calls the Tensor method.

>>> from tinygrad_lite import Tensor, nn
>>> nn.LeakyReLU(0.5)(Tensor([-2.0, 3.0])).tolist()
[-1.0, 3.0]
>>> nn.Softmax(dim=-1)
Softmax(dim=-1)
"""
from __future__ import annotations

from ..tensor import Tensor
from .module import Module


class Identity(Module):
    def forward(self, x: Tensor) -> Tensor:
        return x


class Sigmoid(Module):
    """1 / (1 + e^-x)"""

    def forward(self, x: Tensor) -> Tensor:
        return x.sigmoid()


class LogSigmoid(Module):
    """log σ(x) = -softplus(-x)"""

    def forward(self, x: Tensor) -> Tensor:
        return x.logsigmoid()


class Tanh(Module):
    def forward(self, x: Tensor) -> Tensor:
        return x.tanh()


class ReLU(Module):
    """max(x, 0)"""

    def forward(self, x: Tensor) -> Tensor:
        return x.relu()


class ReLU6(Module):
    """min(max(x, 0), 6)"""

    def forward(self, x: Tensor) -> Tensor:
        return x.relu6()


class LeakyReLU(Module):
    """x for x > 0, negative_slope·x otherwise."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x: Tensor) -> Tensor:
        return x.leaky_relu(self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class ELU(Module):
    """x for x > 0, alpha·(eˣ - 1) otherwise."""

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__()
        self.alpha = alpha

    def forward(self, x: Tensor) -> Tensor:
        return x.elu(self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class CELU(ELU):
    """x for x > 0, alpha·(e^(x/alpha) - 1) otherwise."""

    def forward(self, x: Tensor) -> Tensor:
        return x.celu(self.alpha)


class GELU(Module):
    """x·Φ(x), as PyTorch's `nn.GELU`: by default the exact ½x(1 + erf(x/√2)); `approximate="tanh"` is
    ½x(1 + tanh(√(2/π)(x + 0.044715x³))), which is also tinygrad's `Tensor.gelu()`.

    >>> from tinygrad_lite import Tensor
    >>> round(GELU()(Tensor([1.0])).item(), 6), round(GELU(approximate="tanh")(Tensor([1.0])).item(), 6)
    (0.841345, 0.841192)
    """

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        return x.gelu(approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """x·σ(x), also called swish."""

    def forward(self, x: Tensor) -> Tensor:
        return x.silu()


class Mish(Module):
    """x·tanh(softplus(x))"""

    def forward(self, x: Tensor) -> Tensor:
        return x.mish()


class Softplus(Module):
    """log(1 + e^(beta·x)) / beta, and x itself where beta·x > threshold (as PyTorch)."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, x: Tensor) -> Tensor:
        return (x * self.beta > self.threshold).where(x, x.softplus(self.beta))

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Softsign(Module):
    """x / (1 + |x|)"""

    def forward(self, x: Tensor) -> Tensor:
        return x.softsign()


class Hardtanh(Module):
    """x clamped to [min_val, max_val]."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0) -> None:
        super().__init__()
        if max_val <= min_val:
            raise ValueError(f"Hardtanh: max_val ({max_val}) must be greater than min_val ({min_val})")
        self.min_val, self.max_val = min_val, max_val

    def forward(self, x: Tensor) -> Tensor:
        return x.hardtanh(self.min_val, self.max_val)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}"


class Hardsigmoid(Module):
    """relu6(x + 3) / 6"""

    def forward(self, x: Tensor) -> Tensor:
        return x.hardsigmoid()


class Hardswish(Module):
    """x·relu6(x + 3) / 6"""

    def forward(self, x: Tensor) -> Tensor:
        return x.hardswish()


class Softmax(Module):
    """e^x / Σe^x along `dim`."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return x.softmax(self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """x - logsumexp(x) along `dim`."""

    def forward(self, x: Tensor) -> Tensor:
        return x.log_softmax(self.dim)


class Flatten(Module):
    """Merge dimensions start_dim..end_dim into one (by default all but the batch dimension)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
