"""Helpers for the primitives' batching (`batch`) rules, which `vmap` uses.

A rule `batch(self, batched, *xs, **params)` gets the inputs with the batch on axis 0 where `batched[i]`
is True (and as they were in one example where it is False) and the forward's own params; it returns the
result for the whole batch, batch on axis 0. Rules run on Tensors (and arrays): they are written with
`Prim.call` and array/Tensor methods only, so vmap results stay differentiable and the jit records them.

>>> import numpy as np
>>> [a.shape for a in align((True, False), (np.zeros((5, 3)), np.zeros((2, 3))))]
[(5, 1, 3), (2, 3)]
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def batch_size(batched: Sequence[bool], xs: Sequence[Any]) -> int:
    return int(next(x.shape[0] for x, b in zip(xs, batched) if b))


def align(batched: Sequence[bool], xs: Sequence[Any]) -> list[Any]:
    """Broadcasting operands: each batched one gets 1-sized axes after the batch axis, up to the largest
    rank of one example, so NumPy's right-aligned broadcasting never pairs the batch with an example axis."""
    rank = max(x.ndim - 1 if b else x.ndim for x, b in zip(xs, batched))
    out = []
    for x, b in zip(xs, batched):
        if b and x.ndim - 1 < rank:
            x = x.reshape((x.shape[0],) + (1,) * (rank - x.ndim + 1) + tuple(x.shape[1:]))
        out.append(x)
    return out


def elementwise(cls: Any, batched: Sequence[bool], xs: Sequence[Any], params: dict[str, Any]) -> Any:
    """The rule of every elementwise primitive (any arity, broadcasting): align the ranks, then run it."""
    return cls.call(*align(batched, xs), **params)


def shift(axis: Sequence[int]) -> tuple[int, ...]:
    """Example axes as batch axes: one further right."""
    return tuple(int(a) + 1 for a in axis)
