"""Forward-mode differentiation: push tangents through a recorded graph with each primitive's `jvp` rule.

`f` runs once on arguments that require grad, so every primitive that depends on them is recorded in the
graph (`apply` is unchanged: forward mode costs eager code nothing). `Linearization` then orders the
nodes between those arguments and the outputs by creation (`ctx.seq`, a topological order) and, for
each tangent seed, evaluates the nodes' `jvp(tangents, out, *inputs)` in that order. The rules run on
Tensors, so the tangents are themselves recorded: they can be differentiated again (hvp, hessian, jvp of
jvp) and the jit captures them like any other op.

>>> from tinygrad_lite import Tensor
>>> from tinygrad_lite.forward_mode import Linearization
>>> x = Tensor([1.0, 2.0], requires_grad=True)
>>> y = (x * x).sum()
>>> Linearization([y], [x]).push([Tensor([1.0, 0.0])])[0].item()
2.0
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .node import TensorCore, apply
from .ops.movement import Expand
from .ops.unary import Cast


class MissingRuleError(NotImplementedError):
    """A primitive on the path has no forward-mode (`jvp`) rule."""


class Linearization:
    """The graph from `seeds` to `outputs`, ready to push tangents through (as often as needed)."""

    def __init__(self, outputs: Sequence[Any], seeds: Sequence[Any]) -> None:
        self.outputs, self.seeds = list(outputs), list(seeds)
        seed_ids = {id(s) for s in self.seeds}
        found: dict[int, Any] = {}
        stack = [t for t in self.outputs if isinstance(t, TensorCore)]
        while stack:
            t = stack.pop()
            if id(t) in found or id(t) in seed_ids or t._ctx is None:
                continue
            parents = t._ctx.parents
            if parents is None:
                raise RuntimeError(f"forward mode: the graph below a {type(t._ctx).__name__} node was freed by a "
                                   f"backward() inside the function; use retain_graph=True there")
            found[id(t)] = t
            stack.extend(parents)
        # Only nodes that depend on a seed get a tangent; creation order is a topological order.
        live = set(seed_ids)
        self.nodes: list[Any] = []
        for t in sorted(found.values(), key=lambda t: t._ctx.seq):
            if any(id(p) in live for p in t._ctx.parents):
                live.add(id(t))
                self.nodes.append(t)
                if getattr(type(t._ctx), "jvp", None) is None:
                    raise MissingRuleError(f"forward mode: primitive {type(t._ctx).__name__} has no jvp rule "
                                           f"(define jvp(self, tangents, out, *inputs) beside its vjp)")

    def push(self, tangents: Sequence[Any]) -> list[Any]:
        """The tangents of the outputs for the seeds' `tangents` (None for an output that does not depend
        on any seed, or whose tangent is identically zero)."""
        tmap: dict[int, Any] = {id(s): t for s, t in zip(self.seeds, tangents) if t is not None}
        for t in self.nodes:
            ctx = t._ctx
            parents = ctx.parents
            ins = tuple(tmap.get(id(p)) for p in parents)
            if all(d is None for d in ins):
                continue
            dt = ctx.jvp(ins, t, *parents)
            if dt is not None:
                dt = fit(dt, t)
                if dt is not None:
                    tmap[id(t)] = dt
        return [tmap.get(id(o)) for o in self.outputs]


def fit(dt: Any, t: Any) -> Any:
    """A rule's tangent made a Tensor of t's shape and dtype (None for a non-float t, which has none)."""
    if t.data.dtype.kind != "f":
        return None
    if not isinstance(dt, TensorCore):
        dt = type(t)._wrap(np.asarray(dt))
    if dt.shape != t.shape:  # a broadcast operand's tangent: broadcast it as the forward did
        dt = apply(Expand, dt, shape=t.shape)
    if dt.data.dtype != t.data.dtype:
        dt = apply(Cast, dt, dtype=t.data.dtype)
    return dt
