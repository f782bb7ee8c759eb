"""`vmap`: run a function written for one example on a whole batch, with each primitive's batching rule.

How it works. `f` runs on one example (the batch's first, then its last) while the core's capture hook
(`_capture.active`, the jit's) records every primitive it applies: the op, its input tensors, its params.
The two recordings must agree op for op, param for param and constant for constant, or the function does
something a recording cannot follow (Python control flow on batched values, reading them with `.item()`,
values built outside the ops), and vmap falls back to a loop over the examples with a warning. Otherwise
the recorded program is evaluated once on the batched inputs: an op with a batched input runs its
primitive's `batch` rule (the batch always on axis 0), an op without one runs as it is. A primitive with
no rule, or with a batched index in its params, is run once per example and stacked (with a warning for a
missing rule). Every result is checked to have the shape and dtype the recording says, so a wrong rule
is an error, never a wrong answer.

During the recordings every floating-point argument requires grad, so a `grad` inside `f` builds its
backward pass out of recorded primitives (create_graph), which are then batched like any other op: this
is how `vmap(grad(loss))` gives per-example gradients. Everything runs through `apply`, so the results
are differentiable and the jit captures the batched program.

>>> from tinygrad_lite import Tensor, vmap
>>> vmap(lambda x: (x * x).sum())(Tensor([[1.0, 2.0], [3.0, 4.0]])).tolist()
[5.0, 25.0]
"""
from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import _capture, grad_mode
from .function import REGISTRY, NumpyFn
from .node import TensorCore, apply
from .pytree import TreeSpec, flatten, unflatten
from .tensor import Tensor

Axis = int | None


class VmapFallbackWarning(UserWarning):
    """vmap ran (part of) the function once per example: exact, but without the speed of batching."""


class _UnfollowableError(Exception):
    """The batch has values the recording's rules do not hold for: loop over the examples instead."""


class _Recording:
    """The capture hooks (see `_capture.Recorder`) for one run of f on one example."""

    def __init__(self, batched_ids: set[int]) -> None:
        self.ops: list[tuple[Any, tuple[Any, ...], Any, dict[str, Any]]] = []
        self.problem: str | None = None
        self.backward_ran = False  # a backward walk ran: each recorded op's vjp may have run too
        self.batched = set(batched_ids)  # ids of the tensors and arrays that depend on batched arguments

    def _stop(self, why: str) -> None:
        if self.problem is None:
            self.problem = why

    def depends(self, t: Any) -> bool:
        return id(t) in self.batched or id(t.data) in self.batched

    def record_op(self, ctx: Any, inputs: Sequence[Any], out: Any, params: dict[str, Any]) -> None:
        self.ops.append((ctx, tuple(inputs), out, dict(params)))
        if any(self.depends(t) for t in inputs) or any(id(a) in self.batched for a in _arrays(params)):
            self.batched.update((id(out), id(out.data)))

    def record_backward(self) -> None:
        self.backward_ran = True

    def record_vjp(self, ctx: Any, g: Any, t: Any, parents: Sequence[Any], results: tuple[Any, ...]) -> tuple[Any, ...]:
        self._stop("a backward pass ran on arrays (backward() on a tensor vmap did not give the function), "
                   "which a recording of primitives cannot follow")
        return results

    def record_add(self, old: Any, g: Any, total: Any) -> None:
        pass

    def record_store(self, leaf: Any, g: Any, owned: Any) -> Any:
        return owned

    def record_call(self, fn: Callable[[], None], what: str) -> None:
        self._stop(f"{what} ran inside the function")

    def record_grad_set(self, t: Any, value: Any) -> None:
        pass

    def record_check(self, fn: Callable[..., Any], tensors: Sequence[Any], params: dict[str, Any]) -> None:
        if any(self.depends(t) for t in tensors):  # it ran on this example only: every example must pass it
            self._stop(f"a data check ({getattr(fn, '__name__', fn)}) on values that depend on a batched argument")

    def record_decision(self, fn: Callable[..., Any], tensors: Sequence[Any], params: dict[str, Any],
                        result: Any) -> None:
        if any(self.depends(t) for t in tensors):  # another example may branch the other way
            self._stop(f"a branch ({getattr(fn, '__name__', fn)}) on values that depend on a batched argument")

    def data_read(self, t: Any, what: str) -> None:
        if self.depends(t):
            self._stop(f"{what} read the values of a tensor that depends on a batched argument")


def _arrays(obj: Any) -> list[np.ndarray]:
    """The arrays inside a param (an index tuple holds several)."""
    if isinstance(obj, np.ndarray):
        return [obj]
    if isinstance(obj, (tuple, list)):
        return [a for o in obj for a in _arrays(o)]
    if isinstance(obj, dict):
        return [a for o in obj.values() for a in _arrays(o)]
    return []


# --- arguments ------------------------------------------------------------------------------------------
def _leaf_axes(in_axes: Any, args: Sequence[Any]) -> list[Axis]:
    """One axis (or None) per leaf of the flattened arguments, from an int/None or a tuple with one entry
    per argument, each an int/None or a container shaped like its argument."""
    if in_axes is None or isinstance(in_axes, int):
        return [in_axes] * len(flatten(list(args))[0])
    if not isinstance(in_axes, (tuple, list)) or len(in_axes) != len(args):
        raise ValueError(f"vmap: in_axes must be an int, None, or a tuple with one entry per positional argument "
                         f"({len(args)}), got {in_axes!r}")
    out: list[Axis] = []
    for i, (entry, arg) in enumerate(zip(in_axes, args)):
        out += _prefix(entry, arg, f"in_axes[{i}]")
    return out


def _prefix(entry: Any, arg: Any, where: str) -> list[Axis]:
    if entry is None or isinstance(entry, int):
        return [entry] * len(flatten(arg)[0])
    if isinstance(entry, dict) and isinstance(arg, dict) and list(entry) == list(arg):
        return [a for k in arg for a in _prefix(entry[k], arg[k], f"{where}[{k!r}]")]
    if isinstance(entry, (tuple, list)) and isinstance(arg, (tuple, list)) and len(entry) == len(arg):
        return [a for i, (e, x) in enumerate(zip(entry, arg)) for a in _prefix(e, x, f"{where}[{i}]")]
    raise ValueError(f"vmap: {where} is {entry!r}, which does not match the argument's structure {flatten(arg)[1]}")


def _batch_size(leaves: Sequence[Any], axes: Sequence[Axis]) -> int:
    sizes: dict[int, list[int]] = {}
    for i, (x, ax) in enumerate(zip(leaves, axes)):
        if ax is None:
            continue
        if not isinstance(x, TensorCore):
            raise TypeError(f"vmap: argument leaf {i} is batched (in_axes {ax}) but is a {type(x).__name__}, "
                            f"not a Tensor")
        if not -x.ndim <= ax < max(x.ndim, 1) or x.ndim == 0:
            raise ValueError(f"vmap: in_axes {ax} is out of range for argument leaf {i} of shape {x.shape}")
        sizes.setdefault(x.shape[ax], []).append(i)
    if not sizes:
        raise ValueError("vmap: no argument is batched (every in_axes is None)")
    if 0 in sizes:
        raise ValueError(f"vmap: batch size 0 (argument leaves {sizes[0]}): there is no example to record f on")
    if len(sizes) > 1:
        detail = "; ".join(f"size {n} for leaves {ix}" for n, ix in sizes.items())
        raise ValueError(f"vmap: the batched arguments disagree on the batch size: {detail}")
    return next(iter(sizes))


def _to_front(x: Any, ax: Axis) -> Any:
    if ax is None or ax % x.ndim == 0:
        return x
    ax %= x.ndim
    return x.permute((ax, *(i for i in range(x.ndim) if i != ax)))


def _from_front(x: Tensor, ax: Axis, n: int, batched: bool) -> Tensor:
    """A result with the batch on axis 0 (or an unbatched one, broadcast) with the batch moved to `ax`."""
    if ax is None:
        if batched:
            raise ValueError("vmap: out_axes is None for an output that depends on a batched argument")
        return x
    if not batched:
        x = x.reshape((1, *x.shape)).expand((n, *x.shape))
    if not -x.ndim <= ax < x.ndim:
        raise ValueError(f"vmap: out_axes {ax} is out of range for an output of {x.ndim - 1} dimensions per example")
    ax %= x.ndim
    if ax == 0:
        return x
    order = list(range(1, x.ndim))
    order.insert(ax, 0)
    return x.permute(tuple(order))


# --- the two recordings -----------------------------------------------------------------------------------
class _Example:
    """One recorded run of f: the argument leaves it got, its outputs, the recording."""

    def __init__(self, f: Callable[..., Any], spec: TreeSpec, moved: Sequence[Any], axes: Sequence[Axis],
                 index: int, kwargs: dict[str, Any]) -> None:
        self.args: list[Any] = []
        for x, ax in zip(moved, axes):
            if isinstance(x, Tensor):
                a = type(x)._wrap(np.array(x.data[index])) if ax is not None else x.detach()
                if a.data.dtype.kind == "f":
                    a.requires_grad_(True)  # so a grad inside f records its backward as primitives
                x = a
            self.args.append(x)
        self.rec = _Recording({id(a) for a, ax in zip(self.args, axes) if ax is not None}
                              | {id(a.data) for a, ax in zip(self.args, axes) if ax is not None})
        prev = _capture.active
        _capture.active = self.rec
        try:
            with grad_mode.enable_grad():
                out = f(*unflatten(spec, self.args), **kwargs)
        finally:
            _capture.active = prev
        self.outs, self.out_spec = flatten(out)
        for i, o in enumerate(self.outs):
            if not isinstance(o, TensorCore):
                raise TypeError(f"vmap: the function must return Tensors (or a pytree of them); output leaf {i} is "
                                f"{type(o).__name__}")
        self.refs: dict[int, tuple[str, int]] = {}  # id of a tensor or array -> ("arg", k) / ("op", j)
        for k, a in enumerate(self.args):
            if isinstance(a, TensorCore):
                self.refs.setdefault(id(a), ("arg", k))
                self.refs.setdefault(id(a.data), ("arg", k))
        for j, (_, _, out_t, _) in enumerate(self.rec.ops):
            self.refs[id(out_t)] = ("op", j)
            self.refs.setdefault(id(out_t.data), ("op", j))

    def ref(self, t: Any) -> Any:
        r = self.refs.get(id(t))
        if r is not None:
            return r
        r = self.refs.get(id(t.data))
        return ("alias", *r) if r is not None else ("ext", t)

    def param_sig(self, obj: Any) -> Any:
        if isinstance(obj, np.ndarray):
            r = self.refs.get(id(obj))
            return ("array-of", *r) if r is not None else ("array", obj)
        if isinstance(obj, (tuple, list)):
            return (type(obj).__name__, *(self.param_sig(o) for o in obj))
        return ("value", obj)


def _same(a: Any, b: Any) -> bool:
    """Signatures equal, external tensors and constant arrays compared by value."""
    if isinstance(a, TensorCore) and isinstance(b, TensorCore):
        return a is b or (a.data.dtype == b.data.dtype and a.shape == b.shape and np.array_equal(a.data, b.data))
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        return a is b or (a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b))
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if type(a) is not type(b):
        return False
    try:
        return bool(a == b)
    except (ValueError, TypeError):
        return a is b


def _disagreement(first: _Example, last: _Example) -> str | None:
    """Why two recordings of f are not one program, or None."""
    if len(first.rec.ops) != len(last.rec.ops):
        return f"the examples ran different numbers of operations ({len(first.rec.ops)} and {len(last.rec.ops)})"
    for j, ((c1, in1, _, p1), (c2, in2, _, p2)) in enumerate(zip(first.rec.ops, last.rec.ops)):
        name = type(c1).__name__
        if type(c1) is not type(c2) or len(in1) != len(in2):
            return f"operation {j} differs between examples ({name} and {type(c2).__name__})"
        if not all(_same(first.ref(a), last.ref(b)) for a, b in zip(in1, in2)):
            return f"operation {j} ({name}) reads a value made outside the recorded ops that differs between examples"
        if list(p1) != list(p2) or not all(_same(first.param_sig(p1[k]), last.param_sig(p2[k])) for k in p1):
            return f"operation {j} ({name}) has parameters that differ between examples"
    if first.out_spec != last.out_spec or not all(_same(first.ref(a), last.ref(b))
                                                  for a, b in zip(first.outs, last.outs)):
        return "the outputs differ in structure or in where they come from"
    return None


def _reads_values(ex: _Example) -> str | None:
    """Why a recording may hold one example's values where the batch needs each example's, or None.

    A rule that reads an input's values outside the recorded ops bakes the recorded example's values into
    the program. A custom Function given a batched integer input may do that (labels, indices); the
    package's own rules compute on labels through recorded ops (NumpyFn)."""
    if not ex.rec.backward_ran:
        return None
    for ctx, inputs, _, _ in ex.rec.ops:
        cls = type(ctx)
        ints = [t for t in inputs if t.data.dtype.kind != "f" and ex.rec.depends(t)]
        if not ints:
            continue
        if REGISTRY.get(cls.__name__) is not cls and cls is not NumpyFn:
            return (f"{cls.__name__} takes a batched integer input, which its vjp may read outside the recorded "
                    f"ops")
    return None


# --- evaluating the recording on the batch -----------------------------------------------------------------
class _Batched:
    """The recorded program of `ex` run on the batched arguments."""

    def __init__(self, ex: _Example, moved: Sequence[Any], axes: Sequence[Axis], n: int) -> None:
        self.ex, self.n = ex, n
        self.env: dict[int, tuple[Any, bool]] = {}  # id of a recorded tensor -> (its batched value, is batched)
        self.by_data: dict[int, tuple[Any, bool]] = {}  # id of a recorded array -> the same
        for a, x, ax in zip(ex.args, moved, axes):
            if isinstance(a, TensorCore):
                self.env[id(a)] = (x, ax is not None)
                self.by_data.setdefault(id(a.data), (x, ax is not None))
        self.missing: set[str] = set()

    def value(self, t: Any) -> tuple[Any, bool]:
        got = self.env.get(id(t))
        if got is not None:
            return got
        got = self.by_data.get(id(t.data))
        if got is not None:  # a tensor sharing a recorded one's array (detach): the same values, no gradient
            return got[0].detach(), got[1]
        return t, False  # a constant, or a tensor from outside f

    def param(self, obj: Any) -> tuple[Any, Any]:
        """The param for the batch (recorded arrays replaced by this run's) and, per batched array in it,
        its batched value (None when nothing in it is batched)."""
        if isinstance(obj, np.ndarray):
            got = self.by_data.get(id(obj))
            if got is None:
                return obj, None
            return got[0].data, (got[0] if got[1] else None)
        if isinstance(obj, (tuple, list)):
            parts = [self.param(o) for o in obj]
            value = type(obj)(p[0] for p in parts)
            if all(p[1] is None for p in parts):
                return value, None
            return value, type(obj)(p[1] for p in parts)
        return obj, None

    def run(self, live: set[int]) -> list[tuple[Any, bool]]:
        for ctx, inputs, out, params in self.ex.rec.ops:
            if id(out) not in live:
                continue
            cls = type(ctx)
            vals, flags = zip(*[self.value(t) for t in inputs]) if inputs else ((), ())
            resolved = {k: self.param(v) for k, v in params.items()}
            plain = {k: v for k, (v, _) in resolved.items()}
            per_example = {k: b for k, (_, b) in resolved.items() if b is not None}
            batched = any(flags) or bool(per_example)
            if not batched:
                res = apply(cls, *vals, **plain)
            elif per_example or getattr(cls, "batch", None) is None:
                if not per_example and cls is not NumpyFn:
                    self.missing.add(cls.__name__)
                res = self._loop(cls, vals, flags, plain, per_example)
            else:
                if cls.__name__ == "Prod" and any(f and bool((v.data == 0).any()) for v, f in zip(vals, flags)):
                    # Prod's vjp and jvp pick their formula by whether the recorded example has a zero factor
                    raise _UnfollowableError("a product has a zero factor in some example (Prod's derivative rules "
                                        "branch on that)")
                res = ctx.batch(tuple(flags), *vals, **plain)
            self._check(cls, res, out, batched)
            self.env[id(out)] = (res, batched)
            self.by_data.setdefault(id(out.data), (res, batched))
        return [self.value(o) for o in self.ex.outs]

    def _loop(self, cls: type, vals: Sequence[Any], flags: Sequence[bool], plain: dict[str, Any],
              per_example: dict[str, Any]) -> Any:
        """The op once per example (its batched params sliced through recorded ops too), stacked."""
        results = []
        for b in range(self.n):
            xs = [v[b] if f else v for v, f in zip(vals, flags)]
            params = dict(plain)
            for k, batched_part in per_example.items():
                params[k] = _slice_param(plain[k], batched_part, b)
            results.append(apply(cls, *xs, **params))
        return Tensor.stack(*results) if results else None

    def _check(self, cls: type, res: Any, out: Any, batched: bool) -> None:
        want = ((self.n,) if batched else ()) + tuple(out.shape)
        if not isinstance(res, TensorCore) or res.shape != want or res.data.dtype != out.data.dtype:
            got = f"{res.shape} {res.data.dtype}" if isinstance(res, TensorCore) else type(res).__name__
            raise RuntimeError(f"vmap: the batching rule of {cls.__name__} gave {got}, expected {want} "
                               f"{out.data.dtype} (a bug in the rule)")


def _slice_param(value: Any, batched_part: Any, b: int) -> Any:
    if isinstance(batched_part, Tensor):
        return batched_part[b].data
    if isinstance(value, (tuple, list)):
        return type(value)(v if p is None else _slice_param(v, p, b) for v, p in zip(value, batched_part))
    return value


def _live(ex: _Example) -> set[int]:
    """The recorded ops the outputs depend on (a grad inside f also computes gradients nobody returns)."""
    needed: set[int] = set()
    for o in ex.outs:
        needed.update((id(o), id(o.data)))
    live: set[int] = set()
    for _, inputs, out, params in reversed(ex.rec.ops):
        if id(out) in needed or id(out.data) in needed:
            live.add(id(out))
            for t in inputs:
                needed.update((id(t), id(t.data)))
            needed.update(id(a) for a in _arrays(params))
    return live


# --- vmap ---------------------------------------------------------------------------------------------------
def vmap(f: Callable[..., Any], in_axes: Any = 0, out_axes: Any = 0) -> Callable[..., Any]:
    """`f` mapped over a batch axis of its arguments: `vmap(f)(xs)[i] == f(xs[i])`, computed in one batched
    pass. `in_axes` is an int or None (for every argument), or a tuple with one entry per positional argument
    (an int, None for an argument shared by all examples, or a container of those shaped like the argument);
    `out_axes` an int or None for every output, or a tuple with one per output of a tuple-returning f.
    Keyword arguments are passed unbatched. Composes with grad, jvp, vjp, jacobian, the jit, and itself.

    >>> from tinygrad_lite import Tensor, grad, vmap
    >>> w = Tensor([1.0, -1.0])
    >>> loss = lambda w, x: ((w * x).sum() - 1.0) ** 2
    >>> vmap(grad(loss), in_axes=(None, 0))(w, Tensor([[1.0, 1.0], [2.0, 1.0]])).tolist()  # per example
    [[-2.0, -2.0], [0.0, 0.0]]
    """

    def batched_f(*args: Any, **kwargs: Any) -> Any:
        leaves, spec = flatten(list(args))
        axes = _leaf_axes(in_axes, args)
        n = _batch_size(leaves, axes)
        moved = [_to_front(x, ax) for x, ax in zip(leaves, axes)]
        if n == 1:
            return _looped(f, spec, moved, axes, n, kwargs, out_axes)
        first = _Example(f, spec, moved, axes, 0, kwargs)
        why = first.rec.problem
        if why is None:
            last = _Example(f, spec, moved, axes, n - 1, kwargs)
            why = last.rec.problem or _disagreement(first, last) or _reads_values(first)
        results = None
        if why is None:
            run = _Batched(first, moved, axes, n)
            try:
                results = run.run(_live(first))
            except _UnfollowableError as exc:
                why = str(exc)
        if results is None:
            warnings.warn(f"vmap: running the function once per example ({n} calls): {why}", VmapFallbackWarning,
                          stacklevel=2)
            return _looped(f, spec, moved, axes, n, kwargs, out_axes)
        if run.missing:
            warnings.warn(f"vmap: no batching rule for {', '.join(sorted(run.missing))}: ran it once per example",
                          VmapFallbackWarning, stacklevel=2)
        outs = _place(results, first.out_spec, out_axes, n)
        return unflatten(first.out_spec, outs)

    return batched_f


def _out_axes(out_axes: Any, spec: TreeSpec, count: int) -> list[Axis]:
    if out_axes is None or isinstance(out_axes, int):
        return [out_axes] * count
    if isinstance(out_axes, (tuple, list)) and spec.kind in ("tuple", "list") and len(out_axes) == len(spec.children):
        return [a for ax, child in zip(out_axes, spec.children) for a in [ax] * child.num_leaves]
    raise ValueError(f"vmap: out_axes must be an int, None, or one per output of {spec}, got {out_axes!r}")


def _place(results: Sequence[tuple[Any, bool]], spec: TreeSpec, out_axes: Any, n: int) -> list[Any]:
    axes = _out_axes(out_axes, spec, len(results))
    return [_from_front(v, ax, n, b) for (v, b), ax in zip(results, axes)]


def _looped(f: Callable[..., Any], spec: TreeSpec, moved: Sequence[Any], axes: Sequence[Axis], n: int,
            kwargs: dict[str, Any], out_axes: Any) -> Any:
    """f once per example, the outputs stacked: the exact fallback."""
    per: list[list[Any]] = []
    out_spec: TreeSpec | None = None
    for b in range(n):
        example = [x[b] if ax is not None else x for x, ax in zip(moved, axes)]
        outs, s = flatten(f(*unflatten(spec, example), **kwargs))
        if out_spec is not None and s != out_spec:
            raise ValueError(f"vmap: the function returned {s} for example {b} but {out_spec} before")
        out_spec = s
        for i, o in enumerate(outs):
            if not isinstance(o, TensorCore):
                raise TypeError(f"vmap: the function must return Tensors (or a pytree of them); output leaf {i} is "
                                f"{type(o).__name__}")
        per.append(outs)
    assert out_spec is not None
    stacked = [(Tensor.stack(*[p[i] for p in per]), True) for i in range(len(per[0]))]
    return unflatten(out_spec, _place(stacked, out_spec, out_axes, n))
