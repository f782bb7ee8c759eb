"""`Dropout`: zero each element with probability p while the module is in training mode (PyTorch's rule).

It follows the module's own `train()`/`eval()` mode, not `Tensor.training` (which drives `Tensor.dropout`).
Masks come from the generator `Tensor.manual_seed` seeds, fresh on every call (also under the jit).

>>> from tinygrad_lite import Tensor, nn
>>> Tensor.manual_seed(0)
>>> drop = nn.Dropout(0.5)
>>> sorted(set(drop(Tensor.ones(16)).tolist()))      # a new module is in training mode
[0.0, 2.0]
>>> drop.eval()(Tensor.ones(3)).tolist()
[1.0, 1.0, 1.0]
"""
from __future__ import annotations

from .._dropout import check_probability, dropout_mask_apply
from ..tensor import Tensor
from .module import Module


class Dropout(Module):
    """Zero elements with probability `p` and scale the rest by 1/(1-p) in training mode; identity in eval."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        self.p = check_probability("Dropout", p)
        if inplace:
            raise ValueError("Dropout(inplace=True) is not supported: tensors here are not modified in place")
        self.inplace = False

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            raise TypeError(f"{self!r} expects a Tensor, got {type(x).__name__}")
        return dropout_mask_apply(x, self.p) if self.training else x

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
