"""Dropout on the Tensor, and `Tensor.training`, the switch it follows (tinygrad's convention).

`Tensor.dropout(p)` zeroes each element with probability p and scales the rest by 1/(1-p), but only
while `Tensor.training` is True (False by default, as in tinygrad); `with Tensor.train():` turns it on
for a block. PyTorch's `F.dropout(x, p, training)` and `nn.Dropout` (which follows its module's
`train()`/`eval()` mode) call `dropout_mask_apply` directly and ignore the global switch.

The mask is drawn from the package's generator (`Tensor.manual_seed`), as a `Tensor.rand` draw, so a
jitted step draws a fresh mask on every replay, the same one eager code would draw with the same seed.

>>> from tinygrad_lite import Tensor
>>> Tensor.manual_seed(0)
>>> x = Tensor.ones(8)
>>> x.dropout(0.5).tolist() == x.tolist()   # Tensor.training is False: no-op
True
>>> with Tensor.train():
...     sorted(set(x.dropout(0.5).tolist()))
[0.0, 2.0]
"""
from __future__ import annotations

from contextlib import ContextDecorator
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from .tensor import Tensor


def check_probability(fn: str, p: Any) -> float:
    """p as a float in [0, 1], or a ValueError naming `fn` and the value."""
    try:
        q = float(p)
    except (TypeError, ValueError):
        raise TypeError(f"{fn}: p must be a number in [0, 1], got {type(p).__name__}") from None
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"{fn}: dropout probability must be in [0, 1], got {p}")
    return q


def dropout_mask_apply(x: Tensor, p: float) -> Tensor:
    """x with each element zeroed with probability p and the survivors scaled by 1/(1-p) (always active)."""
    if x.dtype.kind != "f":
        raise TypeError(f"dropout: input must be a floating-point tensor, got {x.dtype}")
    if p == 0.0:
        return x
    if p == 1.0:  # PyTorch gives zeros (and zero gradients), not 0/0
        return x * 0.0
    keep = type(x).rand(*x.shape, dtype=x.dtype) >= p
    return x * (keep.cast(x.dtype) * (1.0 / (1.0 - p)))


class TrainMode(ContextDecorator):
    """Set `training` on a tensor class inside a `with` block or a decorated function, then restore it."""

    def __init__(self, owner: type, mode: bool = True) -> None:
        if not isinstance(mode, bool):
            raise TypeError(f"Tensor.train(mode) takes a bool, got {type(mode).__name__}")
        self.owner, self.mode = owner, mode
        self._previous: list[bool] = []

    def __enter__(self) -> None:
        self._previous.append(self.owner.training)  # type: ignore[attr-defined]
        self.owner.training = self.mode  # type: ignore[attr-defined]

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.owner.training = self._previous.pop()  # type: ignore[attr-defined]


class DropoutMixin:
    __slots__ = ()

    # A class attribute, read as `type(self).training`: `Tensor.training = True` and `with Tensor.train():`
    # both set it on Tensor itself.
    training: ClassVar[bool] = False

    @classmethod
    def train(cls, mode: bool = True) -> TrainMode:
        """`with Tensor.train():` (or `@Tensor.train()`) turns dropout on inside, as tinygrad's."""
        return TrainMode(cls, mode)

    def dropout(self: Tensor, p: float = 0.5) -> Tensor:  # type: ignore[misc]  # a mixin self-type
        """Zero each element with probability p and scale the rest by 1/(1-p), only while `Tensor.training`
        is True (else return self). `with Tensor.train(): y = x.dropout(0.1)`"""
        q = check_probability("dropout", p)
        if not type(self).training:
            return self
        return dropout_mask_apply(self, q)
