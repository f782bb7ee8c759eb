"""tinygrad_lite: reverse-mode automatic differentiation on NumPy.

>>> import tinygrad_lite as tl
>>> w = tl.Tensor([[0.5], [-0.5]], requires_grad=True)
>>> loss = (tl.Tensor([[1.0, 2.0]]) @ w).sigmoid().sum()
>>> loss.backward()
>>> w.grad.shape
(2, 1)
"""
from . import dtypes
from .functional import grad, value_and_grad
from .grad_mode import enable_grad, is_grad_enabled, no_grad
from .tensor import GradientError, Tensor

__all__ = ["GradientError", "Tensor", "dtypes", "enable_grad", "grad", "is_grad_enabled", "no_grad",
           "value_and_grad"]
__version__ = "0.1.0"
