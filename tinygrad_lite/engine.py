"""The backward walk: a topological order without recursion, VJPs, accumulation.

Shared mechanics live here once: undoing broadcasting (`sum_to`), casting a
gradient to its tensor's dtype, checking its shape, accumulating, and freeing
the graph when `retain_graph` is false.
"""
from __future__ import annotations

import heapq
import operator
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _tape, grad_mode

if TYPE_CHECKING:
    from .tensor import Tensor

FREED_MESSAGE = (
    "Trying to backward through the graph a second time (or to read buffers that a backward pass "
    "already freed). Pass retain_graph=True to the first backward() if you need to backward twice."
)


def sum_to(g: Any, shape: tuple[int, ...]) -> Any:
    """Sum `g` (array or Tensor) down to `shape`: the VJP of NumPy broadcasting, for every op at once."""
    gshape = g.shape
    if gshape == shape:
        return g
    lead = len(gshape) - len(shape)
    if lead < 0:
        raise RuntimeError(f"gradient of shape {gshape} cannot be reduced to shape {shape}")
    if gshape[lead:] == shape:  # only leading axes were added (a bias): the common case
        return g.sum(axis=tuple(range(lead)))
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and gshape[lead + i] != 1)
    if axes:
        g = g.sum(axis=axes)
    return g.reshape(shape)


_by_creation = operator.attrgetter("_ctx.seq")


def _graph_nodes(roots: Sequence[Tensor]) -> tuple[list[Tensor], list[Tensor]]:
    """The non-leaf tensors below `roots` that require grad, consumers last (walks pop from the end),
    and the leaves reached. The jit's capture uses it to check every node before it walks.

    An iterative DFS collects them; sorting by creation order is then a topological order,
    because every node is created after its inputs.
    """
    nodes: list[Tensor] = []
    leaves: list[Tensor] = []
    seen: set[int] = set()
    stack = list(roots)
    pop, push = stack.pop, stack.append
    while stack:
        t = pop()
        k = id(t)
        if k in seen:
            continue
        seen.add(k)
        ctx = t._ctx
        if ctx is None:
            leaves.append(t)
            continue
        parents = ctx.parents
        if parents is None:
            raise RuntimeError(FREED_MESSAGE)
        nodes.append(t)
        for p in parents:
            if p.requires_grad and id(p) not in seen:
                push(p)
    nodes.sort(key=_by_creation)
    return nodes, leaves


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
    if _tape.active is not None:  # the jit is capturing: it walks the graph itself, writing each step down
        return _tape.active.run_backward(roots, root_grads, retain_graph, create_graph, capture)
    # Keyed by the Tensor itself: its hash is its identity, and a dict compares keys by identity before `==`
    # (which is elementwise on Tensors and never reached, since distinct live objects hash differently).
    grads: dict[Tensor, Any] = {}
    for r, g in zip(roots, root_grads):
        grads[r] = g if r not in grads else grads[r] + g
    # Gradients at poles (1/x at 0, ...) are ±inf as in PyTorch, and silent; detect_anomaly() reports them.
    # A plain walk makes no Tensors, so only create_graph needs grad mode switched (on).
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if create_graph:
            with grad_mode.enable_grad():
                leaves = _walk(grads, retain_graph, capture, create_graph)
        else:
            leaves = _walk(grads, retain_graph, capture, create_graph)
    if capture is None:
        for leaf in leaves:
            _store(leaf, grads[leaf])
        return None
    from .tensor import Tensor

    found = [grads.get(t) for t in capture]
    return [g if g is None or isinstance(g, Tensor) else Tensor._wrap(g) for g in found]


def _store(t: Tensor, g: Any) -> None:
    old = t._grad
    t._grad = g if old is None else _accumulate(old, g)


def _walk(grads: dict[Tensor, Any], retain_graph: bool, capture: Sequence[Tensor] | None,
          create_graph: bool = False) -> list[Tensor]:
    """Propagate the gradients in `grads` (those of the roots) through the graph below them: store each
    node's gradient, run its VJP, hand the results on. Returns the leaves reached; their gradients are
    left in `grads`.

    A node joins a heap, keyed by its creation order, when it first receives a gradient. Popping the most
    recently created node first is a topological order, because every node is created after its inputs;
    so no separate pass sorts the graph, and nodes no gradient reaches are never visited.
    Plain backward runs the VJPs on NumPy arrays (the hot loop of eager training); under create_graph
    they run on Tensors, so the gradients they make are differentiable in turn.
    """
    leaves = [r for r in grads if r._ctx is None]
    queue = [(-r._ctx.seq, r) for r in grads if r._ctx is not None]
    heapq.heapify(queue)
    push, pop = heapq.heappush, heapq.heappop
    owned: set[int] = set()  # ids of the tensors whose gradient buffer this walk allocated: safe to add into
    anomaly = grad_mode.state.detect_anomaly
    keep = set() if capture is None else {id(t) for t in capture}  # their gradients are the result: kept
    while queue:
        t = pop(queue)[1]  # the walk keeps no other reference, so a processed tensor can be freed at once
        g = grads[t] if keep and id(t) in keep else grads.pop(t)
        ctx: Any = t._ctx
        n = ctx.arity
        if n == 0:
            raise RuntimeError(FREED_MESSAGE)
        # `ctx.parents` and `ctx.drop_inputs()`, inlined: a method call per node is a measurable share of W5
        parents: tuple[Tensor, ...] = (ctx.in0, ctx.in1) if n == 2 else (ctx.in0,) if n == 1 else ctx.inputs
        if not retain_graph:  # frees the inputs; a later walk through here raises FREED_MESSAGE
            ctx.arity = 0
            ctx.in0 = ctx.in1 = None
            if n > 2:
                ctx.inputs = None
        if capture is None:  # `_store`, inlined: this is the hot loop
            old = t._grad
            t._grad = g if old is None else _accumulate(old, g)
        if create_graph:
            _hand_on_tensors(ctx, ctx.vjp(g, t, *parents), parents, grads, anomaly, queue, leaves)
            continue
        if n == 2:  # unrolled: a list comprehension costs as much as a small kernel
            results = ctx.vjp(g, t.data, parents[0].data, parents[1].data)
        elif n == 1:
            results = ctx.vjp(g, t.data, parents[0].data)
        else:
            results = ctx.vjp(g, t.data, *[p.data for p in parents])
        if anomaly:
            _check_results(ctx, results, parents)
        for p, gp, need in zip(parents, results, ctx.needs_grad):
            if not need or gp is None:
                continue
            data = p.data
            # `is not` on dtypes is a cheap first test; _fit_array compares properly
            if type(gp) is not np.ndarray or gp.shape != data.shape or gp.dtype is not data.dtype:
                gp = _fit_array(gp, p, ctx)
            old = grads.get(p)
            if old is None:
                grads[p] = gp
                if p._ctx is None:
                    leaves.append(p)
                else:
                    push(queue, (-p._ctx.seq, p))
            elif id(p) in owned:
                np.add(old, gp, old)
            else:
                total = old + gp
                if type(total) is np.ndarray:
                    owned.add(id(p))
                else:  # 0-d arithmetic gives a NumPy scalar, which cannot be added into in place
                    total = np.asarray(total)
                grads[p] = total
    return leaves


def _hand_on_tensors(ctx: Any, results: Sequence[Any], parents: Sequence[Tensor], grads: dict[Tensor, Any],
                     anomaly: bool, queue: list[tuple[int, Tensor]], leaves: list[Tensor]) -> None:
    """The create_graph half of `_walk`: fit and accumulate Tensor gradients with recorded ops."""
    if anomaly:
        _check_results(ctx, [None if r is None else r.data for r in results], parents)
    for p, gp, need in zip(parents, results, ctx.needs_grad):
        if not need or gp is None:
            continue
        if gp.shape != p.shape:
            gp = sum_to(gp, p.shape)
        if gp.dtype != p.dtype:
            gp = gp.cast(p.dtype)
        old = grads.get(p)
        if old is not None:
            grads[p] = old + gp
            continue
        grads[p] = gp
        if p._ctx is None:
            leaves.append(p)
        else:
            heapq.heappush(queue, (-p._ctx.seq, p))


def _check_results(ctx: Any, results: Sequence[Any], parents: Sequence[Tensor]) -> None:
    shapes = "inputs " + ", ".join(f"{p.shape} {p.dtype}" for p in parents)
    for i, r in enumerate(results):
        if r is not None:
            grad_mode.check_finite(r, f"{type(ctx).__name__}.vjp", f"the gradient of input {i}", shapes)


def _fit_array(gp: Any, p: Tensor, ctx: Any) -> np.ndarray:
    """Bring one VJP result to its input's shape and dtype, or say which op got it wrong."""
    gp = np.asarray(gp)
    shape = p.data.shape
    if gp.shape != shape:
        try:
            gp = np.asarray(sum_to(gp, shape))  # summing down to shape () gives a NumPy scalar
        except (RuntimeError, ValueError) as exc:
            raise RuntimeError(f"{type(ctx).__name__}.vjp returned shape {gp.shape} for an input of shape {shape}") \
                from exc
    if gp.dtype != p.data.dtype:
        gp = gp.astype(p.data.dtype)
    return gp


def _as_tensor(g: Any) -> Tensor:
    from .tensor import Tensor

    return g if isinstance(g, Tensor) else Tensor._wrap(g)


def _accumulate(old: Any, g: Any) -> Any:
    """A second backward() adds to `.grad` out of place: the old buffer may be shared or held by the user."""
    from .tensor import Tensor

    if isinstance(g, Tensor):  # create_graph: the sum is recorded too
        return _as_tensor(old) + g
    if type(old) is np.ndarray:
        return np.asarray(old + g)
    if old._ctx is not None:  # a differentiable .grad from create_graph stays in its graph
        return old + Tensor._wrap(g)
    return np.asarray(old.data + g)
