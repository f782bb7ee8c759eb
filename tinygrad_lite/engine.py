"""The backward walk: a topological order without recursion, VJPs, accumulation.

Shared mechanics live here once: undoing broadcasting (`sum_to`), casting a
gradient to its tensor's dtype, checking its shape, accumulating, and freeing
the graph when `retain_graph` is false. While the jit captures a call, the walk also reports each
step to the recorder (`_capture.active`); there is no other walk.
"""
from __future__ import annotations

import heapq
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _capture, _errstate, grad_mode, node
from .node import TensorCore, apply, check_versions
from .ops.unary import Cast

if TYPE_CHECKING:
    from ._capture import Recorder
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
    rec = _capture.active
    if rec is not None:
        rec.record_backward()
    # Keyed by the Tensor itself: its hash is its identity, and a dict compares keys by identity before `==`
    # (which is elementwise on Tensors and never reached, since distinct live objects hash differently).
    grads: dict[Tensor, Any] = {}
    # ids of the gradient arrays that more than one tensor may hold: the roots' (a caller's array), and any a
    # VJP handed on unchanged to a leaf. Their leaves store copies (`_own`).
    handed_on: set[int] = set(map(id, root_grads))
    for r, g in zip(roots, root_grads):
        grads[r] = g if r not in grads else grads[r] + g
    # Gradients at poles (1/x at 0, ...) are ±inf as in PyTorch, and silent; detect_anomaly() reports them.
    # A plain walk makes no Tensors, so only create_graph needs grad mode switched (on).
    quiet = _errstate.silence()  # np.errstate's effect at a fifth of its cost: this runs once per backward
    try:
        if create_graph:
            with grad_mode.enable_grad():
                leaves = _walk(grads, retain_graph, capture, create_graph, rec, handed_on)
        else:
            leaves = _walk(grads, retain_graph, capture, create_graph, rec, handed_on)
    finally:
        _errstate.restore(quiet)
    if capture is None:
        for leaf in leaves:
            g = grads[leaf]
            if type(g) is np.ndarray and g.base is None and id(g) not in handed_on:  # `_own`'s common case
                handed_on.add(id(g))
                owned = g
            else:
                owned = _own(g, handed_on)
            store(leaf, owned if rec is None else rec.record_store(leaf, g, owned))
        return None
    wrap = type(roots[0])._wrap
    found = [None if g is None else _own(g, handed_on) for g in (grads.get(t) for t in capture)]
    if rec is not None:  # the copies `_own` made are part of the step: the replay makes them too
        found = [g if g is None else rec.record_store(None, grads[t], g) for g, t in zip(found, capture)]
    return [g if g is None or isinstance(g, TensorCore) else wrap(g) for g in found]


def _own(g: Any, handed_on: set[int]) -> Any:
    """`g`, or a copy of it when its memory may be shared, so that every `.grad` owns its buffer.

    Shared means: a view (of another tensor's gradient, or a broadcast), or an array already stored for
    another leaf of this walk or handed on unchanged by a VJP (`Add` gives `(g, g)`: one array for both
    inputs and the sum's own `.grad`). `handed_on` holds the ids of such arrays and collects the ids of those
    stored. A fresh result of a VJP - the common case - is stored as it is.
    """
    if type(g) is np.ndarray:
        if g.base is not None or id(g) in handed_on:
            g = g.copy()
        handed_on.add(id(g))
        return g
    if isinstance(g, TensorCore):  # create_graph: a second leaf holding the same Tensor gets an identity node
        if id(g) in handed_on:
            g = _copy_tensor(g)
        handed_on.add(id(g))
    return g


def _copy_tensor(g: Any) -> Any:
    """A new Tensor with g's values in a fresh array; under create_graph, tied to g's graph."""
    if g._ctx is None:
        return type(g)._wrap(np.array(g.data, copy=True))
    with grad_mode.enable_grad():
        return apply(Cast, g, dtype=g.dtype)  # an identity node: a fresh array, still in the graph


def store(t: Tensor, g: Any) -> None:
    """`t.grad` gets g, or g added to what it holds."""
    old = t._grad
    t._grad = g if old is None else _accumulate(old, g)


def _walk(grads: dict[Tensor, Any], retain_graph: bool, capture: Sequence[Tensor] | None,
          create_graph: bool, rec: Recorder | None, handed_on: set[int]) -> list[Tensor]:
    """Propagate the gradients in `grads` (those of the roots) through the graph below them: store each
    node's gradient, run its VJP, hand the results on. Returns the leaves reached; their gradients are
    left in `grads`; the ids of those a VJP handed on unchanged (the node's own gradient) join `handed_on`.

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
    anomaly = bool(grad_mode.fast.detect_anomaly)  # this thread's setting (see grad_mode.fast)
    watch = anomaly or rec is not None  # one test per node decides whether anyone looks at its VJP
    keep = set() if capture is None else {id(t) for t in capture}  # their gradients are the result: kept
    last_write = node.last_write  # nodes recorded after the last in-place write anywhere need no version check
    # The one node waiting when the heap is empty (a chain's next link) skips the heap: a push and a pop
    # are a tenth of a small node's cost. Any other node found sends it into the heap first.
    chained: Tensor | None = None
    while queue or chained is not None:
        if chained is not None:
            t, chained = chained, None
        else:
            t = pop(queue)[1]  # the walk keeps no other reference, so a processed tensor can be freed at once
        g = grads[t] if keep and id(t) in keep else grads.pop(t)
        ctx: Any = t._ctx
        n = ctx.arity
        if n == 0:
            raise RuntimeError(FREED_MESSAGE)
        # `ctx.parents` and `ctx.drop_inputs()`, inlined: a method call per node is a measurable share of W5
        parents: tuple[Tensor, ...] = (ctx.in0, ctx.in1) if n == 2 else (ctx.in0,) if n == 1 else ctx.inputs
        if ctx.seq < last_write:
            check_versions(ctx, t, parents)
        if not retain_graph:  # frees the inputs; a later walk through here raises FREED_MESSAGE
            ctx.arity = 0
            ctx.in0 = ctx.in1 = None
            if n > 2:
                ctx.inputs = None
        if capture is None:  # `store`, inlined: this is the hot loop
            old = t._grad
            t._grad = g if old is None else _accumulate(old, g)
        if create_graph:
            _hand_on_tensors(ctx, g, ctx.vjp(g, t, *parents), parents, grads, anomaly, queue, leaves, handed_on)
            continue
        if n == 2:  # unrolled: a list comprehension costs as much as a small kernel
            results = ctx.vjp(g, t._data, parents[0]._data, parents[1]._data)
        elif n == 1:
            results = ctx.vjp(g, t._data, parents[0]._data)
        else:
            results = ctx.vjp(g, t._data, *[p._data for p in parents])
        if type(results) is not tuple or len(results) != n:  # a custom op's mistake, named (zip would hide it)
            raise TypeError(bad_vjp(ctx, results, parents))
        if watch:
            results = _watched(ctx, g, t, parents, results, anomaly, rec)
        for p, gp, need in zip(parents, results, ctx.needs_grad):
            if not need or gp is None:
                continue
            data = p._data
            # `is not` on dtypes is a cheap first test; fit_gradient compares properly
            if type(gp) is not np.ndarray or gp.shape != data.shape or gp.dtype is not data.dtype:
                gp = fit_gradient(gp, p, parents, ctx)
            old = grads.get(p)
            if old is None:
                grads[p] = gp
                if p._ctx is None:
                    leaves.append(p)
                    if gp is g:  # also t's `.grad`: the leaf must store a copy
                        handed_on.add(id(gp))
                elif chained is None and not queue:
                    chained = p
                else:
                    if chained is not None:
                        push(queue, (-chained._ctx.seq, chained))  # type: ignore[union-attr]  # not a leaf
                        chained = None
                    push(queue, (-p._ctx.seq, p))
            elif id(p) in owned:
                np.add(old, gp, old)
            else:
                total = old + gp
                if type(total) is not np.ndarray:  # 0-d arithmetic gives a NumPy scalar
                    total = np.asarray(total)
                if rec is not None:  # a capture keeps every array it saw: never add into one in place
                    rec.record_add(old, gp, total)
                else:
                    owned.add(id(p))
                grads[p] = total
    return leaves


def bad_vjp(ctx: Any, results: Any, parents: Sequence[Tensor]) -> str:
    """Why a VJP's return value is not one gradient (or None) per input."""
    name = type(ctx).__name__
    if type(results) is not tuple:
        return (f"{name}.vjp must return a tuple with one gradient (or None) per input ({len(parents)}), "
                f"got {type(results).__name__}")
    return f"{name}.vjp returned {len(results)} gradients for {len(parents)} inputs"


def _watched(ctx: Any, g: Any, t: Tensor, parents: Sequence[Tensor], results: tuple[Any, ...], anomaly: bool,
             rec: Recorder | None) -> tuple[Any, ...]:
    """The walk's one hook per node: NaN/Inf reporting, and the jit's recording of the VJP (which hands back
    the results fitted to their inputs, as arrays it has written down)."""
    if anomaly:
        _check_results(ctx, results, parents)
    if rec is not None:
        return rec.record_vjp(ctx, g, t, parents, results)
    return results


def _hand_on_tensors(ctx: Any, g: Any, results: Sequence[Any], parents: Sequence[Tensor], grads: dict[Tensor, Any],
                     anomaly: bool, queue: list[tuple[int, Tensor]], leaves: list[Tensor], handed_on: set[int]) -> None:
    """The create_graph half of `_walk`: fit and accumulate Tensor gradients with recorded ops."""
    if type(results) is not tuple or len(results) != len(parents):
        raise TypeError(bad_vjp(ctx, results, parents))
    if anomaly:
        _check_results(ctx, [None if r is None else data_of_gradient(r) for r in results], parents)
    for p, gp, need in zip(parents, results, ctx.needs_grad):
        if not need or gp is None:
            continue
        if not isinstance(gp, TensorCore) or gp.dtype.kind != "f":
            raise TypeError(wrong_gradient(ctx, gp, p, parents, "a floating-point Tensor (under create_graph=True "
                                           "the vjp gets Tensors: write it with operators and Prim.call)"))
        if gp.shape != p.shape:
            try:
                gp = sum_to(gp, p.shape)
            except (RuntimeError, ValueError) as exc:
                raise ValueError(wrong_shape(ctx, gp, p, parents)) from exc
        if gp.dtype != p.dtype:
            gp = gp.cast(p.dtype)
        old = grads.get(p)
        if old is not None:
            grads[p] = old + gp
            continue
        grads[p] = gp
        if p._ctx is None:
            leaves.append(p)
            if gp is g:
                handed_on.add(id(gp))
        else:
            heapq.heappush(queue, (-p._ctx.seq, p))


def _check_results(ctx: Any, results: Sequence[Any], parents: Sequence[Tensor]) -> None:
    shapes = "inputs " + ", ".join(f"{p.shape} {p.dtype}" for p in parents)
    for i, r in enumerate(results):
        if r is not None:
            grad_mode.check_finite(r, f"{type(ctx).__name__}.vjp", f"the gradient of input {i}", shapes)


def fit(g: Any, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    """A VJP result brought to its input's shape (undoing broadcasting) and dtype. Works on arrays and on
    the jit's traced arrays, so the capture records exactly this."""
    if g.shape != shape:
        g = sum_to(g, shape)
        if isinstance(g, np.generic):  # summing down to shape () gives a NumPy scalar
            g = np.asarray(g)
    if g.dtype != dtype:
        g = g.astype(dtype)
    return g


def fit_gradient(gp: Any, p: Tensor, parents: Sequence[Tensor], ctx: Any) -> np.ndarray:
    """`fit` for the walk, or an error naming the op and the input whose gradient it got wrong."""
    data = p._data
    if type(gp) is data.dtype.type and data.ndim == 0:  # 0-d arithmetic gives a NumPy scalar (g·0.5 of a loss)
        return np.asarray(gp)
    # A float array only: an int or bool one is a slip (`x > 0` for `g * (x > 0)`) that casting would hide.
    if not isinstance(gp, (np.ndarray, np.generic)) or gp.dtype.kind != "f":
        raise TypeError(wrong_gradient(ctx, gp, p, parents, "a floating-point array"))
    try:
        return np.asarray(fit(np.asarray(gp), data.shape, data.dtype))
    except (RuntimeError, ValueError) as exc:
        raise ValueError(wrong_shape(ctx, gp, p, parents)) from exc


def _input_index(p: Tensor, parents: Sequence[Tensor]) -> int:
    return next(k for k, q in enumerate(parents) if q is p)


def wrong_gradient(ctx: Any, gp: Any, p: Tensor, parents: Sequence[Tensor], expected: str) -> str:
    """Why `gp` is no gradient for input `p`: it is not an array (or Tensor) of floats."""
    if isinstance(gp, TensorCore):
        what = f"a Tensor of dtype {gp.dtype}"
    elif isinstance(gp, (np.ndarray, np.generic)):
        what = f"an array of dtype {gp.dtype}"
    else:
        what = type(gp).__name__
    return (f"{type(ctx).__name__}.vjp returned {what} as the gradient of input {_input_index(p, parents)} "
            f"({p.shape} {p.dtype}); expected {expected}")


def wrong_shape(ctx: Any, gp: Any, p: Tensor, parents: Sequence[Tensor]) -> str:
    return (f"{type(ctx).__name__}.vjp returned shape {tuple(np.shape(gp.data if isinstance(gp, TensorCore) else gp))}"
            f" as the gradient of input {_input_index(p, parents)}, whose shape is {p.shape} (and the first cannot "
            f"be summed down to the second)")


def data_of_gradient(r: Any) -> Any:
    """A create_graph gradient's array, for the anomaly check (anything else is left to the checks after it)."""
    return r.data if isinstance(r, TensorCore) else r


def _accumulate(old: Any, g: Any) -> Any:
    """A second backward() adds to `.grad` out of place: the old buffer may be shared or held by the user."""
    if isinstance(g, TensorCore):  # create_graph: the sum is recorded too
        return (old if isinstance(old, TensorCore) else type(g)._wrap(old)) + g  # type: ignore[operator]
    if type(old) is np.ndarray:
        return np.asarray(old + g)
    if old._ctx is not None:  # a differentiable .grad from create_graph stays in its graph
        return old + type(old)._wrap(g)
    return np.asarray(old.data + g)
