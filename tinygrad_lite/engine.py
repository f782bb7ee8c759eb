"""The backward walk: a topological order without recursion, VJPs, accumulation.

Shared mechanics live here once: undoing broadcasting (`sum_to`), casting a
gradient to its tensor's dtype, checking its shape, accumulating, and freeing
the graph when `retain_graph` is false.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from . import grad_mode

if TYPE_CHECKING:
    from .tensor import Tensor

FREED_MESSAGE = (
    "Trying to backward through the graph a second time (or to read buffers that a backward pass "
    "already freed). Pass retain_graph=True to the first backward() if you need to backward twice."
)


def sum_to(g: Any, shape: tuple[int, ...]) -> Any:
    """Sum `g` (array or Tensor) down to `shape`: the VJP of NumPy broadcasting, for every op at once."""
    if g.shape == shape:
        return g
    lead = len(g.shape) - len(shape)
    if lead < 0:
        raise RuntimeError(f"gradient of shape {g.shape} cannot be reduced to shape {shape}")
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1
    )
    if axes:
        g = g.sum(axis=axes)
    return g.reshape(shape)


def _consumer_counts(roots: Sequence[Tensor]) -> dict[int, int]:
    """How many recorded uses each tensor has inside the graph below `roots` (iterative DFS)."""
    counts: dict[int, int] = {}
    stack = list(roots)
    for r in roots:
        counts.setdefault(id(r), 0)
    while stack:
        ctx = stack.pop()._ctx
        if ctx is None:
            continue
        parents = ctx.parents
        if parents is None:
            raise RuntimeError(FREED_MESSAGE)
        for p in parents:
            if p.requires_grad:
                k = id(p)
                if k in counts:
                    counts[k] += 1
                else:
                    counts[k] = 1
                    stack.append(p)
    return counts


def run_backward(
    roots: Sequence[Tensor],
    root_grads: Sequence[Any],
    retain_graph: bool,
    create_graph: bool,
    capture: Sequence[Tensor] | None = None,
) -> list[Any] | None:
    """Propagate `root_grads` from `roots` to every tensor that requires grad.

    With `capture=None`, gradients accumulate into `.grad`; otherwise the
    gradients of the tensors in `capture` are returned (None where unreached)
    and no `.grad` is touched, as `torch.autograd.grad` does.
    """
    from .tensor import Tensor

    counts = _consumer_counts(roots)
    grads: dict[int, Any] = {}
    owned: set[int] = set()  # gradient buffers this walk allocated, safe to add into in place
    for r, g in zip(roots, root_grads):
        grads[id(r)] = g
    wanted = None if capture is None else {id(t): None for t in capture}
    ready = [r for r in roots if counts[id(r)] == 0]
    with grad_mode.enable_grad() if create_graph else grad_mode.no_grad():
        while ready:
            t = ready.pop()
            g = grads.pop(id(t), None)
            if wanted is None:
                if g is not None:
                    _store_grad(t, g, create_graph)
            elif id(t) in wanted:
                wanted[id(t)] = g
            ctx = t._ctx
            if ctx is None:
                continue
            parents = ctx.parents
            assert parents is not None  # _consumer_counts raised already if this node was freed
            if g is not None:
                if create_graph:
                    results = ctx.vjp(g, t, *parents)
                else:
                    results = ctx.vjp(g, t.data, *[p.data for p in parents])
            else:
                results = (None,) * len(parents)
            if not retain_graph:
                ctx.parents = None  # frees the inputs; a later walk through here raises FREED_MESSAGE
            for p, gp, need in zip(parents, results, ctx.needs_grad):
                if not need:
                    continue
                k = id(p)
                if gp is not None:
                    gp = _fit(gp, p, ctx, create_graph)
                    old = grads.get(k)
                    if old is None:
                        grads[k] = gp
                    elif create_graph:
                        grads[k] = old + gp
                    elif k in owned:
                        np.add(old, gp, out=old)
                    else:
                        total = old + gp
                        if type(total) is np.ndarray:
                            owned.add(k)
                        else:  # 0-d arithmetic gives a NumPy scalar, which cannot be added into in place
                            total = np.asarray(total)
                        grads[k] = total
                counts[k] -= 1
                if counts[k] == 0:
                    ready.append(p)
    if wanted is None:
        return None
    return [wanted[id(t)] if create_graph or wanted[id(t)] is None else Tensor(wanted[id(t)])
            for t in capture]  # type: ignore[union-attr]


def _fit(gp: Any, p: Tensor, ctx: Any, create_graph: bool) -> Any:
    """Bring one VJP result to its input's shape and dtype, or say which op got it wrong."""
    if create_graph:
        if gp.shape != p.shape:
            gp = sum_to(gp, p.shape)
        if gp.dtype != p.dtype:
            gp = gp.cast(p.dtype)
        return gp
    if type(gp) is not np.ndarray:
        gp = np.asarray(gp)
    if gp.shape != p.data.shape:
        try:
            gp = sum_to(gp, p.data.shape)
        except (RuntimeError, ValueError) as exc:
            raise RuntimeError(
                f"{type(ctx).__name__}.vjp returned shape {gp.shape} for an input of shape {p.shape}"
            ) from exc
    if gp.dtype != p.data.dtype:
        gp = gp.astype(p.data.dtype)
    return gp


def _store_grad(t: Tensor, g: Any, create_graph: bool) -> None:
    from .tensor import Tensor

    if create_graph:
        t.grad = g if t.grad is None else t.grad + g
        return
    if t.grad is None:
        # The walk may hand the same buffer to several tensors; copy only broadcast views,
        # which are read-only and would surprise a user who writes into .grad.
        t.grad = Tensor(g if g.flags.writeable else g.copy())
    else:
        t.grad = Tensor(t.grad.data + g)
