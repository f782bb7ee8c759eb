"""tinygrad_lite: reverse-mode automatic differentiation on NumPy.

>>> import tinygrad_lite as tl
>>> w = tl.Tensor([[0.5], [-0.5]], requires_grad=True)
>>> loss = (tl.Tensor([[1.0, 2.0]]) @ w).sigmoid().sum()
>>> loss.backward()
>>> w.grad.shape
(2, 1)
"""
from . import _malloc, data, dtypes, nn, optim
from ._malloc import malloc_policy
from .batching import VmapFallbackWarning, vmap
from .derivatives import hessian, hvp, jacobian, jvp, vjp
from .draw import draw_graph
from .function import Function
from .grad_mode import AnomalyError, detect_anomaly, enable_grad, is_grad_enabled, no_grad
from .grad_switch import inference_mode, set_grad_enabled
from .jit import jit  # the object, not the module: `tinygrad_lite.jit(fn)`, `tinygrad_lite.jit.reset()`
from .tensor import GradientError, Tensor
from .transforms import grad, value_and_grad

__all__ = ["AnomalyError", "Function", "GradientError", "Tensor", "VmapFallbackWarning", "data", "detect_anomaly",
           "draw_graph", "dtypes", "enable_grad", "grad", "hessian", "hvp", "inference_mode", "is_grad_enabled",
           "jacobian", "jit", "jvp", "malloc_policy", "nn", "no_grad", "optim", "set_grad_enabled", "value_and_grad",
           "vjp", "vmap"]
__version__ = "0.1.0"

_malloc.apply()  # before the first training step: see tinygrad_lite/_malloc.py
