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
from .pytree import TreeSpec, flatten, unflatten
from .tensor import GradientError, Tensor


def chosen_argnums(argnums: int | Sequence[int], nargs: int, name: str) -> tuple[int, ...]:
    """The positions `argnums` picks among `nargs` positional arguments, negative ones counted from the end.
    An empty choice is an error (nothing to differentiate: JAX fails on it too, less clearly), as is a
    position that is not an int or not among the arguments."""
    if isinstance(argnums, int):
        nums: tuple[Any, ...] = (argnums,)
    elif isinstance(argnums, Sequence):
        nums = tuple(argnums)
    else:
        raise TypeError(f"{name}: argnums must be an int or a sequence of ints, got {argnums!r}")
    if not nums:
        raise ValueError(f"{name}: argnums is empty: there is no argument to differentiate with respect to")
    for n in nums:
        if not isinstance(n, int):
            raise TypeError(f"{name}: argnums must be an int or a sequence of ints, got {argnums!r}")
        if not -nargs <= n < nargs:
            raise ValueError(f"{name}: argnums {argnums!r} is out of range for {nargs} positional arguments")
    return tuple(n % nargs for n in nums)


def seed(x: Tensor) -> tuple[Tensor, bool]:
    """A fresh tensor that requires grad standing for argument x, and whether x is in an outer graph (then the
    seed is an identity node tied to it, so whatever is computed from the seed stays differentiable)."""
    if x.requires_grad and grad_mode.is_grad_enabled():
        return apply(Cast, x, dtype=x.dtype), True
    return x.detach().requires_grad_(True), False


def split_aux(out: Any, has_aux: bool, name: str, what: str) -> tuple[Any, Any]:
    """(result, aux) of a function called by transform `name`: with has_aux it must have returned a pair
    (`what`, aux); without, aux is None."""
    if not has_aux:
        return out, None
    if not (isinstance(out, tuple) and len(out) == 2):
        raise TypeError(f"{name}(has_aux=True): the function must return a pair ({what}, aux), "
                        f"got {type(out).__name__}")
    return out


def value_and_grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0,
                   has_aux: bool = False) -> Callable[..., tuple[Any, Any]]:
    """A function returning `(f(*args), df/darg)` for a scalar-valued f; a tuple of gradients when
    `argnums` is a tuple. An argument may be a pytree (tuple, list, dict) of tensors: its gradient has the
    same structure. With `has_aux=True`, f returns `(value, aux)` and the result is `((value, aux), grads)`,
    as in JAX. Gradients are differentiable when the arguments take part in an outer graph, so
    `grad(grad(f))` gives second derivatives.

    >>> from tinygrad_lite import Tensor, value_and_grad
    >>> value, grads = value_and_grad(lambda p: (p["w"] * p["b"]).sum())({"w": Tensor([2.0]), "b": Tensor([3.0])})
    >>> value.item(), grads["w"].tolist(), grads["b"].tolist()
    (6.0, [3.0], [2.0])
    """

    def wrapped(*args: Any, **kwargs: Any) -> tuple[Any, Any]:
        nums = chosen_argnums(argnums, len(args), "grad")
        call_args = list(args)
        nested = False
        specs: list[tuple[TreeSpec, int]] = []
        targets: list[Tensor] = []
        for n in nums:
            leaves, spec = flatten(args[n])
            specs.append((spec, len(leaves)))
            fresh = []
            for leaf in leaves:
                a = leaf if isinstance(leaf, Tensor) else Tensor(leaf)
                if a.dtype.kind != "f":
                    raise TypeError(f"grad: argument {n} must be a floating-point tensor (or a pytree of them), "
                                    f"got {a.dtype}")
                seeded, in_outer_graph = seed(a)
                fresh.append(seeded)
                nested = nested or in_outer_graph
            targets += fresh
            call_args[n] = unflatten(spec, fresh)
        with grad_mode.enable_grad():
            out = f(*call_args, **kwargs)
        out, aux = split_aux(out, has_aux, "grad", "value")
        if not isinstance(out, Tensor):
            raise TypeError(f"grad: the function must return a Tensor, got {type(out).__name__}")
        if out.data.size != 1:
            raise GradientError(f"grad: the function must return a scalar (one element), got shape {out.shape}")
        if out.requires_grad:
            root = np.ones_like(out.data)
            found = engine.run_backward([out], [Tensor._wrap(root) if nested else root], retain_graph=nested,
                                        create_graph=nested, capture=targets)
            assert found is not None
        else:
            found = [None] * len(targets)
        flat = [g if g is not None else Tensor.zeros_like(t.detach()) for g, t in zip(found, targets)]
        grads, start = [], 0
        for spec, count in specs:
            grads.append(unflatten(spec, flat[start:start + count]))
            start += count
        value = out if nested else out.detach()
        result = grads[0] if isinstance(argnums, int) else tuple(grads)
        return ((value, aux) if has_aux else value), result

    return wrapped


def grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable[..., Any]:
    """A function returning df/darg (a Tensor or a pytree like the argument; a tuple for a tuple of argnums)
    for a scalar f. With `has_aux=True`, f returns `(value, aux)` and the result is `(grads, aux)`."""
    vg = value_and_grad(f, argnums, has_aux)

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        value, grads = vg(*args, **kwargs)
        return (grads, value[1]) if has_aux else grads

    return wrapped
