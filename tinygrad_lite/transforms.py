"""Functional autodiff: `grad(f)` and `value_and_grad(f)` return functions that compute gradients.

>>> from tinygrad_lite import Tensor, grad
>>> cube = lambda x: (x * x * x).sum()
>>> grad(cube)(Tensor([2.0])).tolist()
[12.0]
>>> grad(grad(cube))(Tensor(2.0)).item()      # second derivative 6x
12.0
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import engine, grad_mode
from .node import apply
from .ops.unary import Cast
from .tensor import GradientError, Tensor


def _argnums(argnums: int | Sequence[int], nargs: int) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for n in nums:
        if not -nargs <= n < nargs:
            raise ValueError(f"argnums {argnums!r} is out of range for {nargs} positional arguments")
    return tuple(n % nargs for n in nums)


def value_and_grad(f: Callable[..., Tensor], argnums: int | Sequence[int] = 0) -> Callable[..., tuple[Tensor, Any]]:
    """A function returning `(f(*args), df/darg)` for a scalar-valued f; a tuple of gradients when
    `argnums` is a tuple. Gradients are differentiable when the arguments take part in an outer
    graph, so `grad(grad(f))` gives second derivatives."""

    def wrapped(*args: Any, **kwargs: Any) -> tuple[Tensor, Any]:
        nums = _argnums(argnums, len(args))
        call_args = list(args)
        nested = False
        for n in nums:
            a = args[n] if isinstance(args[n], Tensor) else Tensor(args[n])
            if a.dtype.kind != "f":
                raise TypeError(f"grad: argument {n} must be a floating-point tensor, got {a.dtype}")
            if a.requires_grad and grad_mode.is_grad_enabled():
                nested = True
                call_args[n] = apply(Cast, a, dtype=a.dtype)  # an identity node: fresh, but tied to the outer graph
            else:
                call_args[n] = a.detach().requires_grad_(True)
        with grad_mode.enable_grad():
            out = f(*call_args, **kwargs)
        if not isinstance(out, Tensor):
            raise TypeError(f"grad: the function must return a Tensor, got {type(out).__name__}")
        if out.data.size != 1:
            raise GradientError(f"grad: the function must return a scalar (one element), got shape {out.shape}")
        targets = [call_args[n] for n in nums]
        if out.requires_grad:
            root = np.ones_like(out.data)
            found = engine.run_backward([out], [Tensor._wrap(root) if nested else root], retain_graph=nested,
                                        create_graph=nested, capture=targets)
            assert found is not None
        else:
            found = [None] * len(targets)
        grads = tuple(g if g is not None else Tensor.zeros_like(t.detach()) for g, t in zip(found, targets))
        value = out if nested else out.detach()
        return value, (grads[0] if isinstance(argnums, int) else grads)

    return wrapped


def grad(f: Callable[..., Tensor], argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """A function returning df/darg (a Tensor, or a tuple for a tuple of argnums) for a scalar f."""
    vg = value_and_grad(f, argnums)

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        return vg(*args, **kwargs)[1]

    return wrapped
