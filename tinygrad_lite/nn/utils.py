"""Gradient clipping with PyTorch's names and maths: `clip_grad_norm_` and `clip_grad_value_`.

Call them between `backward()` and `optimizer.step()`. Each parameter's `.grad` is replaced by a clipped
copy (PyTorch scales the gradient in place; here the engine may share one gradient array between
tensors, so scaling in place could scale it twice). The work is done with tensor operations, so inside
a `tl.jit` step every replay clips its own gradients again, and the returned norm is that call's.

>>> from tinygrad_lite import Tensor, nn
>>> w = Tensor([0.0, 0.0], requires_grad=True)
>>> w.grad = Tensor([3.0, 4.0])
>>> nn.utils.clip_grad_norm_([w], max_norm=1.0).item()     # the norm before clipping
5.0
>>> [round(g, 4) for g in w.grad.tolist()]                 # scaled by 1/(5 + 1e-6)
[0.6, 0.8]
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..function import NumpyFn
from ..grad_mode import no_grad
from ..node import apply
from ..tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _parameters(owner: str, parameters: Any) -> list[Tensor]:
    """A Tensor or an iterable of Tensors, as a list (a generator is read once)."""
    if isinstance(parameters, Tensor):
        return [parameters]
    if not isinstance(parameters, Iterable):
        raise TypeError(f"{owner}: parameters must be a Tensor or an iterable of Tensors (e.g. model.parameters()), "
                        f"got {type(parameters).__name__}")
    params = list(parameters)
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"{owner}: parameter {i} must be a Tensor, got {type(p).__name__}")
    return params


def _bound(owner: str, name: str, value: Any, allow_inf: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {name} must be a number, got {value!r} ({type(value).__name__})")
    number = float(value)
    if math.isnan(number) or number < 0 or (math.isinf(number) and not allow_inf):
        raise ValueError(f"{owner}: {name} must be a number >= 0{'' if allow_inf else ' (finite)'}, got {value}")
    return number


def _order(norm_type: Any) -> float:
    """p of the p-norm: a number > 0 or infinity (also given as the string "inf", as PyTorch accepts)."""
    p = norm_type
    if isinstance(p, str) and p.strip().lower() in ("inf", "+inf", "infinity"):
        return math.inf
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not float(p) > 0:
        raise ValueError(f"clip_grad_norm_: norm_type must be a number > 0 or inf, got {norm_type!r}")
    return float(p)


def _norm(x: Tensor, p: float) -> Tensor:
    """The p-norm of all of x's entries, as a 0-d tensor of x's dtype (0 for an empty tensor)."""
    if x.numel() == 0:
        return Tensor(np.zeros((), dtype=x.dtype))
    if p == math.inf:
        return x.abs().max()
    if p == 2:
        return x.square().sum().sqrt()
    if p == 1:
        return x.abs().sum()
    return (x.abs() ** p).sum() ** (1 / p)


def _finite(total: np.ndarray, norm_type: float) -> np.ndarray:
    """The total norm, checked: a step of NumpyFn, so that a jit replay checks its own value again."""
    if not np.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is {total}, so "
                           f"they cannot be clipped. With error_if_nonfinite=False they are scaled by it anyway.")
    return np.array(total, copy=True)  # a new array: the jit records (and replays) only steps that make one


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float, norm_type: float | str = 2.0,
                    error_if_nonfinite: bool = False) -> Tensor:
    """Scale the gradients of `parameters` together so that their combined p-norm is at most `max_norm`, and
    return that norm as it was before clipping (a 0-d Tensor). PyTorch's rule: each gradient is multiplied by
    min(1, max_norm / (total_norm + 1e-6)). The total norm is the p-norm of the per-parameter p-norms
    (`norm_type` may be inf: the largest absolute entry). Parameters whose `.grad` is None are skipped; with
    none left the result is 0. With `error_if_nonfinite`, a NaN or infinite norm raises a RuntimeError (as
    PyTorch's) and changes nothing; otherwise the gradients are scaled by it (becoming NaN or zero).

    >>> from tinygrad_lite import Tensor, nn
    >>> w = Tensor([1.0, -5.0], requires_grad=True)
    >>> w.grad = Tensor([1.0, -5.0])
    >>> nn.utils.clip_grad_norm_([w], max_norm=1.0, norm_type="inf").item()
    5.0
    """
    params = _parameters("clip_grad_norm_", parameters)
    limit = _bound("clip_grad_norm_", "max_norm", max_norm, allow_inf=True)
    p = _order(norm_type)
    with_grad = [(t, t.grad) for t in params if t.grad is not None]
    if not with_grad:
        return Tensor(0.0)
    with no_grad():
        norms = [_norm(g, p) for _, g in with_grad]
        dtype = np.result_type(*[n.dtype for n in norms])
        total = _norm(Tensor.stack(*[n.cast(dtype) for n in norms]), p)
        if error_if_nonfinite:
            total = apply(NumpyFn, total, func=_finite, norm_type=norm_type)
        coef = (limit / (total + 1e-6)).clip(max_=1.0)
        for t, g in with_grad:
            t.grad = g * coef.cast(g.dtype)
    return total


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clip every gradient entry of `parameters` to [-clip_value, clip_value] (NaN stays NaN, as in PyTorch).
    Parameters whose `.grad` is None are skipped.

    >>> from tinygrad_lite import Tensor, nn
    >>> w = Tensor([0.0, 0.0, 0.0], requires_grad=True)
    >>> w.grad = Tensor([-3.0, 0.5, 2.0])
    >>> nn.utils.clip_grad_value_([w], clip_value=1.0)
    >>> w.grad.tolist()
    [-1.0, 0.5, 1.0]
    """
    params = _parameters("clip_grad_value_", parameters)
    bound = _bound("clip_grad_value_", "clip_value", clip_value, allow_inf=True)
    with no_grad():
        for t in params:
            g = t.grad
            if g is not None:
                t.grad = g.clip(-bound, bound)
