"""Recording: while a jitted function runs for the first time, the core's hooks report every
primitive, every backward pass, every optimizer update and `.grad` assignment here, and the
recorder writes them down as kernels over Values (ir.py).

Arrays are identified by object identity: each array the step makes is kept alive until the capture
ends, so an id names one array. An input that is neither an argument nor made by a recorded
kernel is "external": when the capture ends it becomes a LEAF (a tensor that outlives the call,
such as a parameter or a data set: its `.data` is read at each replay) or a CONST (a tensor made
during the call that nothing else holds, such as a lifted Python number: its value is fixed).
"""
from __future__ import annotations

import gc
import logging
import sys
import threading
import warnings
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import _creation, engine, grad_mode
from ..function import Function
from ..node import TensorCore, constants, describe
from .ir import ARG, CONST, EXT, LEAF, TMP, JitError, Kernel, Tape, TensorRef, Value
from .trace import Traced, Tracer, Untraceable

log = logging.getLogger("tinygrad_lite.jit")


def same_bits(a: Any, b: Any) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def same_layout(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether a and b lay their elements out alike in memory (the strides of every axis longer than 1).

    A traced result stands in for the eager one from then on, and the kernels recorded after it (a method
    replayed as one call, a view taken of it) were recorded on the eager array: NumPy decided view or copy,
    and what a view sees, on its layout. A traced result with the same values in another layout would make
    those kernels read other elements at replay, so it is refused like a differing value."""
    return all(sa == sb for n, sa, sb in zip(a.shape, a.strides, b.strides) if n > 1) or a.size == 0


def _stateful(ctx: Any) -> bool:
    """Whether ctx's forward keeps per-call state in slots of its own (an index, an axis) for its vjp."""
    for cls in type(ctx).__mro__:
        if cls is Function:
            return False
        if getattr(cls, "__slots__", ()):
            return True
    return False


class Draw:
    """Replays a random draw from the generator Tensor.rand & co. use (the one in force at replay time)."""

    def __init__(self, method: str) -> None:
        self.method = self.signature = method
        self.__name__ = f"rng.{method}"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return getattr(_creation.rng.gen, self.method)(*args, **kwargs)


class _RecordingGenerator:
    """Stands in for the NumPy Generator during a capture, so every draw becomes a kernel."""

    def __init__(self, gen: np.random.Generator, rec: Recorder) -> None:
        self._gen, self._rec = gen, rec

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._gen, name)
        if not callable(attr):
            return attr

        def draw(*args: Any, **kwargs: Any) -> Any:
            res = attr(*args, **kwargs)
            if threading.get_ident() == self._rec._thread:  # another thread's draw is not this call's
                self._rec.record_draw(name, args, kwargs, res)
            return res

        return draw


def _shares(results: Sequence[np.ndarray], inputs: Sequence[Value], eager: Sequence[Any] = ()) -> bool:
    """May a result view a temporary's memory? Decided on the capture's arrays: whether NumPy returns a
    view or a copy depends on shapes, dtypes and layouts, which every replay of this capture shares.

    A method replayed as one call ran eagerly on `eager`, the arrays the step had, while the replay hands it
    each input's Value, whose array a traced rule made and may lay out differently. So each of those counts
    too, and an input whose Value is laid out otherwise than the eager array makes the answer yes: the call
    may view it at replay where it copied here (treating a result as a view only keeps a buffer alive)."""
    for i, v in enumerate(inputs):
        if v.kind != TMP:
            continue
        e = eager[i] if i < len(eager) else v.array
        if not isinstance(e, np.ndarray):
            e = v.array
        if e is not v.array and not same_layout(v.array, e):
            return True
        if any(np.may_share_memory(r, v.array) or np.may_share_memory(r, e) for r in results):
            return True
    return False


def vars_equal(a: TensorRef, b: TensorRef) -> bool:
    return a.arg == b.arg and a.tensor is b.tensor and a.local == b.local


def _astype(a: np.ndarray, dtype: np.dtype) -> np.ndarray:
    return a.astype(dtype)


def _errstate() -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, str(v)) for k, v in np.geterr().items()))


class Recorder:
    """Implements the hooks of `tinygrad_lite._capture` for one call of a jitted function.

    Each primitive's forward, and each VJP the backward walk runs, is traced (trace.py): run again on
    Traced arrays, so the replay runs the op's own NumPy calls. What cannot be traced is replayed as one
    call of the op's method; `fallbacks` lists each such op with the reason.
    """

    def __init__(self, arg_tensors: Sequence[Any]) -> None:
        self.values: list[Value] = []
        self.kernels: list[Kernel] = []
        self.fallbacks: list[str] = []  # "Op.method: why", for each op replayed as one generic call
        self._by_array: dict[int, Value] = {}
        self._keep: list[np.ndarray] = []  # arrays known by id: alive until the capture ends, so ids stay unique
        self._args = list(arg_tensors)
        self._arg_index = {id(t): i for i, t in enumerate(self._args)}
        self._ctxs: dict[int, Any] = {}  # the nodes recorded in this call (a backward must stay among them)
        self._twins: dict[int, Any] = {}  # id(ctx) -> the ctx whose forward was traced (its state is Traced)
        self._params: dict[int, dict[str, Any]] = {}  # their forward's params, with Values for tracked arrays
        self._produced: dict[int, Any] = {}  # id -> weakref of tensors made by recorded ops
        self._draws: list[Value] = []
        self.shared: dict[int, np.ndarray] = {}
        self._locals: dict[int, tuple[Any, TensorRef, Kernel]] = {}  # id -> (tensor, ref, its "local" kernel)
        self._backward_ran = False
        self._thread = threading.get_ident()  # other threads' operations run eagerly, unrecorded
        self._baseline = _errstate()
        # Copies of the arrays read from outside (arguments, leaves), to find writes made outside the
        # recorded operations (`w.data -= ...`): a replay would not make them. An optimizer's update may
        # write into them: after one, the copies are taken again at the next hook (`_stale`).
        self._snapshots: dict[int, tuple[Value, np.ndarray]] = {}
        self._stale = False
        for i, t in enumerate(self._args):
            if id(t.data) not in self._by_array:
                v = self._register(ARG, t.data)
                v.arg = i
                self._snapshot(v)
        self._gen = _creation.rng.gen
        self._proxy = _RecordingGenerator(self._gen, self)

    def note_shared(self, reachable: set[int]) -> None:
        """Arguments whose array the function also reaches by itself (reach.py): both uses are one value
        in this capture, so the replay must check that such an argument is still that array."""
        self.shared = {i: t.data for i, t in enumerate(self._args) if id(t.data) in reachable}

    # --- lifecycle --------------------------------------------------------------------------------
    def start(self) -> None:
        _creation.rng.gen = self._proxy  # type: ignore[assignment]

    def stop(self) -> bool:
        """Undo start(); False if the function replaced the generator (manual_seed inside the capture)."""
        replaced = _creation.rng.gen is not self._proxy
        if not replaced:
            _creation.rng.gen = self._gen
        return not replaced

    # --- values -----------------------------------------------------------------------------------
    def _register(self, kind: str, array: np.ndarray) -> Value:
        v = Value(len(self.values), kind, array)
        self.values.append(v)
        self._by_array[id(array)] = v
        return v

    def _new_tmp(self, array: np.ndarray) -> Value:
        return self._register(TMP, array)

    def _known(self, array: np.ndarray, v: Value) -> None:
        """`array` (made by eager code) holds v's value: a later use of it is a use of v."""
        if v.array is not array:
            self._keep.append(array)
            self._by_array[id(array)] = v

    def value_of(self, t: Any) -> Value:
        """The Value of tensor t's data; an external one is read at the point of its first use."""
        arr = t.data
        v = self._by_array.get(id(arr))
        if v is None:
            v = self._register(EXT, arr)
            v.refs.append(weakref.ref(t))
            self.kernels.append(Kernel("read", None, (), [v], "read"))
            self._snapshot(v)
        elif v.kind == EXT and not any(r() is t for r in v.refs):
            v.refs.append(weakref.ref(t))
        return v

    def _snapshot(self, v: Value) -> None:
        self._snapshots[v.index] = (v, np.array(v.array, copy=True))

    def check_writes(self, where: str) -> None:
        """Raise JitError if an array read from outside changed since it was read (or since the last
        optimizer update): written outside the recorded operations, so a replay would not write it."""
        if self._stale:
            self._stale = False
            for i, (v, _) in list(self._snapshots.items()):
                self._snapshots[i] = (v, np.array(v.array, copy=True))
            return
        for v, copy in self._snapshots.values():
            a = v.array
            if a.shape != copy.shape or not np.array_equal(a, copy, equal_nan=a.dtype.kind in "fc"):
                what = f"argument {v.arg}" if v.kind == ARG else "a tensor the function reads from outside"
                raise JitError(
                    f"jit: the data of {what} ({a.dtype}{list(a.shape)}) was written in place {where}, outside "
                    f"the recorded operations (e.g. `w.data -= lr * w.grad.data`). A replay runs only the recorded "
                    f"kernels and would skip the write. Use an optimizer (tl.optim), whose update is replayed, "
                    f"or compute a new tensor with tensor operations.")

    def _array_value(self, a: Any) -> Value:
        """An array the walk holds: tracked if the step computed it, else a constant (`ones` for a scalar loss)."""
        a = np.asarray(a)
        v = self._by_array.get(id(a))
        if v is None:
            self._keep.append(a)
            v = self._register(CONST, a)
        return v

    def _dynamic(self, obj: Any) -> Any:
        """A parameter with every array the step tracks replaced by its Value (an index from a tensor)."""
        if isinstance(obj, np.ndarray):
            return self._by_array.get(id(obj), obj)
        if isinstance(obj, tuple):
            return tuple(self._dynamic(o) for o in obj)
        if isinstance(obj, list):
            return [self._dynamic(o) for o in obj]
        return obj

    def _target(self, t: Any) -> TensorRef | None:
        """Where an effect on tensor t lands at replay; None for a tensor made inside the call."""
        i = self._arg_index.get(id(t))
        if i is not None:
            return TensorRef(arg=i)
        ref = self._produced.get(id(t))
        if ref is not None and ref() is t:
            return None
        v = self._by_array.get(id(t.data))
        if v is not None and v.kind in (ARG, TMP):  # made in the call around its data: made anew by each replay
            return self._local(t, v)
        return TensorRef(tensor=t)

    def _local(self, t: Any, v: Value) -> TensorRef:
        """The replay's own tensor standing for t, a tensor the function made around data of the call
        (`x.detach().requires_grad_()`): effects on it and returning it use a new tensor each replay."""
        known = self._locals.get(id(t))
        if known is not None:
            return known[1]
        ref = TensorRef(local=len(self._locals))
        k = Kernel("local", None, (v,), [], "local tensor", {"ref": ref, "requires_grad": t.requires_grad},
                   effect=True)
        self.kernels.append(k)
        self._locals[id(t)] = (t, ref, k)  # kept alive until the capture ends, so the id stays unique
        return ref

    def _tracer(self) -> Tracer:
        return Tracer(self._new_tmp, self.kernels, self._baseline, self._lookup)

    def _lookup(self, array: np.ndarray) -> Value | None:
        return self._by_array.get(id(array))

    def _fallback(self, what: str, exc: BaseException, start: int) -> None:
        """Tracing `what` failed: drop its partial kernels, and say why (the caller records one generic call)."""
        del self.kernels[start:]
        reason = f"{what}: {type(exc).__name__}: {exc}"
        self.fallbacks.append(reason)
        log.debug("jit: replaying %s as one call (%s)", what, reason)

    # --- hooks: forward ---------------------------------------------------------------------------
    def record_op(self, ctx: Any, inputs: Sequence[Any], out: Any, params: dict[str, Any]) -> None:
        if threading.get_ident() != self._thread:
            return
        if self._stale:
            self.check_writes("")
        self._record_op(ctx, inputs, out, params)
        if grad_mode.state.detect_anomaly:  # turned on inside the function: its checks replay too
            self._check_finite(out.data, type(ctx).__name__, "its result", describe(inputs, params))

    def _check_finite(self, array: np.ndarray, op: str, where: str, shapes: str) -> None:
        v = self._by_array.get(id(array))
        if v is not None:
            self.kernels.append(Kernel("check", grad_mode.check_finite, (v,), [], "check_finite",
                                       {"op": op, "where": where, "shapes": shapes}, effect=True))

    def _record_op(self, ctx: Any, inputs: Sequence[Any], out: Any, params: dict[str, Any]) -> None:
        ins = [self.value_of(t) for t in inputs]
        kw = {k: self._dynamic(p) for k, p in params.items()}
        self._ctxs[id(ctx)] = ctx
        self._params[id(ctx)] = kw
        self._produced[id(out)] = weakref.ref(out)
        if id(out.data) in self._by_array:  # the op handed back an array the step already has
            return
        name = type(ctx).__name__
        start = len(self.kernels)
        twin = type(ctx)()
        try:
            tr = self._tracer()
            res = twin.forward(*[tr.wrap(v) for v in ins], **_traced_params(kw, tr))
            v = res.v if isinstance(res, Traced) else self._array_value(res)
            if not same_bits(v.array, out.data):
                raise Untraceable("the traced result differs from the eager one")
            if v.array.flags.writeable and not same_layout(v.array, out.data):
                raise Untraceable(f"the traced result is laid out in memory differently from the eager one "
                                  f"(strides {v.array.strides} against {out.data.strides})")
        except Exception as exc:  # noqa: BLE001 - any failure to trace means: replay the method itself, and say so
            self._fallback(f"{name}.forward", exc, start)
        else:
            self._known(out.data, v)
            self._twins[id(ctx)] = twin
            return
        v = self._new_tmp(out.data)
        alias = _shares([out.data], ins, [t.data for t in inputs])
        self.kernels.append(Kernel("call", ctx.forward, tuple(ins), [v], name, kw, alias=alias,
                                   ctx=ctx, asarray=out.data.ndim == 0))

    def record_call(self, fn: Callable[[], None], what: str) -> None:
        if threading.get_ident() != self._thread:
            return
        self.check_writes(f"before {what}")
        self._stale = True  # the update writes into parameters and its state: copy them afresh afterwards
        self.kernels.append(Kernel("effect", fn, (), [], what, effect=True))

    def record_grad_set(self, t: Any, value: Any) -> None:
        if threading.get_ident() != self._thread:
            return
        target = self._target(t)
        if target is None:
            return
        v = None if value is None else self.value_of(value)
        last = self.kernels[-1] if self.kernels else None
        if v is None and last is not None and last.tag == "setgrad" and last.args[1] is None and \
                vars_equal(last.args[0], target):
            return  # the same clearing reported twice (by an optimizer and by the setter)
        self.kernels.append(Kernel("setgrad", None, (target, v), [], "grad =", effect=True))

    def record_draw(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any], res: Any) -> None:
        v = self._new_tmp(np.asarray(res))
        self._draws.append(v)
        self.kernels.append(Kernel("call", Draw(method), args, [v], f"rng.{method}", kwargs, effect=True,
                                   asarray=np.ndim(res) == 0))

    def record_check(self, fn: Callable[..., Any], tensors: Sequence[Any], params: dict[str, Any]) -> None:
        if threading.get_ident() != self._thread:
            return
        self.kernels.append(Kernel("check", fn, tuple(self.value_of(t) for t in tensors), [],
                                   getattr(fn, "__name__", "check"), dict(params), effect=True))

    def record_decision(self, fn: Callable[..., Any], tensors: Sequence[Any], params: dict[str, Any],
                        result: Any) -> None:
        if threading.get_ident() != self._thread:
            return
        self.kernels.append(Kernel("guard", fn, tuple(self.value_of(t) for t in tensors), [],
                                   getattr(fn, "__name__", "decision"),
                                   {"params": dict(params), "expect": result}, effect=True))

    def data_read(self, t: Any, what: str) -> None:
        if threading.get_ident() != self._thread:
            return
        raise JitError(
            f"jit: {what} reads a tensor's values into Python inside a jitted function (shape {t.shape}). The "
            f"replay runs only the recorded NumPy kernels, so Python code that uses the value (an `if`, a "
            f"number, a print) would run once, during the capture. Return the tensor and read it outside, "
            f"use tensor operations (e.g. `Tensor.where`), or leave this function un-jitted.")

    # --- hooks: the backward walk -----------------------------------------------------------------
    def record_backward(self) -> None:
        """A backward pass starts (the function's result may then keep no graph of its own)."""
        if threading.get_ident() != self._thread:
            return
        self.check_writes("before backward()")
        self._backward_ran = True

    def record_vjp(self, ctx: Any, g: Any, t: Any, parents: Sequence[Any],
                   results: tuple[Any, ...]) -> tuple[Any, ...]:
        """The walk ran `ctx.vjp`: write it down, with each gradient fitted to its input (engine.fit), and
        hand back the fitted arrays the walk goes on with."""
        if threading.get_ident() != self._thread:
            return results
        recorded = id(ctx) in self._ctxs and self._ctxs[id(ctx)] is ctx
        if not recorded:
            raise JitError(f"jit: backward() inside the jitted function reaches a {type(ctx).__name__} "
                           f"computed before the call (shape {t.shape}). Compute it inside the function, or "
                           f"detach() it before the call.")
        needs = ctx.needs_grad
        fitted = [None if r is None or not need else engine.fit_gradient(r, p, parents, ctx)
                  for r, p, need in zip(results, parents, needs)]
        gv, out, xs = self._array_value(g), self.value_of(t), [self.value_of(p) for p in parents]
        twin: Any = self._twins.get(id(ctx))
        start = len(self.kernels)
        name = type(ctx).__name__
        if twin is not None:
            try:
                tr = self._tracer()
                with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # as the walk runs
                    twin.needs_grad = needs
                    traced = twin.vjp(tr.wrap(gv), tr.wrap(out), *[tr.wrap(x) for x in xs])
                    self._traced_results(traced, fitted, parents, tr)
            except Exception as exc:  # noqa: BLE001 - replay the method itself, and say why
                self._fallback(f"{name}.vjp", exc, start)
            else:
                for k in self.kernels[start:]:
                    k.errstate = k.errstate or self._walk_errstate()
                self._check_vjp(name, fitted, parents)
                return tuple(fitted)
            if _stateful(ctx):  # the real ctx's state is what its generic vjp reads: its forward must set it
                self.kernels.append(Kernel("effect", ctx.forward, tuple(xs), [], f"{name}.forward (state)",
                                           self._params.get(id(ctx), {}), effect=True, ctx=ctx))
        outs: list[Value | None] = [
            self._new_tmp(np.asarray(r)) if r is not None and need else None for r, need in zip(results, needs)
        ]
        eager = [g, t.data, *[p.data for p in parents]]
        alias = _shares([o.array for o in outs if o is not None], [gv, out, *xs], eager)
        self.kernels.append(Kernel("call", ctx.vjp, (gv, out, *xs), list(outs), f"{name}.vjp", unpack=True,
                                   alias=alias, ctx=ctx, errstate=self._walk_errstate()))
        tr = self._tracer()
        for o, f, p in zip(outs, fitted, parents):
            if o is None or f is None:
                continue
            fv = engine.fit(tr.wrap(o), p.data.shape, p.data.dtype)
            self._known(f, fv.v)
        self._check_vjp(name, fitted, parents)
        return tuple(fitted)

    def _check_vjp(self, name: str, fitted: list[Any], parents: Sequence[Any]) -> None:
        if grad_mode.state.detect_anomaly:  # the engine checked the raw results; their fitted values carry the same
            shapes = "inputs " + ", ".join(f"{p.shape} {p.dtype}" for p in parents)
            for i, f in enumerate(fitted):
                if f is not None:
                    self._check_finite(f, f"{name}.vjp", f"the gradient of input {i}", shapes)

    def _traced_results(self, traced: Any, fitted: list[Any], parents: Sequence[Any], tr: Tracer) -> list[Value]:
        if type(traced) is not tuple or len(traced) != len(fitted):
            raise Untraceable("the traced vjp returned another structure than the eager one")
        found = []
        for r, f, p in zip(traced, fitted, parents):
            if f is None:
                continue
            if r is None:
                raise Untraceable("the traced vjp gave no gradient where the eager one did")
            rv = r if isinstance(r, Traced) else tr.wrap(self._array_value(r))
            fv = engine.fit(rv, p.data.shape, p.data.dtype)
            if not same_bits(fv.v.array, f):
                raise Untraceable("the traced gradient differs from the eager one")
            if fv.v.array.flags.writeable and not same_layout(fv.v.array, f):
                raise Untraceable(f"the traced gradient is laid out in memory differently from the eager one "
                                  f"(strides {fv.v.array.strides} against {f.strides})")
            found.append((f, fv.v))
        for f, v in found:
            self._known(f, v)
        return [v for _, v in found]

    def _walk_errstate(self) -> tuple[tuple[str, str], ...]:
        """The walk runs with divide, invalid and overflow warnings off (a pole gives ±inf silently)."""
        return (("divide", "ignore"), ("invalid", "ignore"), ("over", "ignore"))

    def record_add(self, old: np.ndarray, g: np.ndarray, total: np.ndarray) -> None:
        """The walk added a second gradient into a tensor's: `total = old + g`."""
        if threading.get_ident() != self._thread:
            return
        tr = self._tracer()
        start = len(self.kernels)
        res = tr.wrap(self._array_value(old)) + tr.wrap(self._array_value(g))
        for k in self.kernels[start:]:
            k.errstate = self._walk_errstate()
        self._known(total, res.v)

    def record_store(self, leaf: Any, g: Any, owned: Any) -> Any:
        """`leaf.grad` gets `owned` now and at each replay (leaf None: `owned` is returned, as `tl.grad` does):
        g itself, or the copy the walk made of it because its memory may be shared (a view, or an array another
        leaf also gets). The replay makes the same copy,
        so what follows reads the same layout as eager mode. Returns what the walk stores."""
        if threading.get_ident() != self._thread:
            return owned
        gv = self.value_of(g) if isinstance(g, TensorCore) else self._array_value(g)
        if owned is not g:
            if isinstance(owned, TensorCore):  # create_graph: the copy is an identity op, recorded already
                gv = self.value_of(owned)
            else:
                copied = self._new_tmp(owned)  # ndarray.copy, as the walk's `_own`: the same (C) layout
                self.kernels.append(Kernel("call", np.ndarray.copy, (gv,), [copied], "copy", alias=False))
                gv = copied
        target = None if leaf is None else self._target(leaf)  # None: a gradient returned, not stored
        if target is not None:
            self.kernels.append(Kernel("store", engine.store, (target, gv), [], "store grad", effect=True))
        return owned

    # --- the end ----------------------------------------------------------------------------------
    def finish(self, result: Any) -> Tape:
        """Classify the external values, link random draws, describe the outputs."""
        if not self._stale:  # (writes after the last optimizer update and before the end are not seen)
            self.check_writes("inside the function")
        self._snapshots.clear()
        self._check_rebound()
        gc.collect(0)  # tensors the call made and dropped inside reference cycles (create_graph makes some)
        cached = {id(c) for c in constants.values()}
        probe = Value(-1, CONST, np.empty(0))
        only_ours = sys.getrefcount(probe.array)
        for v in self.values:
            if v.kind != EXT:
                continue
            alive = [t for t in (r() for r in v.refs) if t is not None]
            if any(id(t) in cached for t in alive):
                v.kind = CONST
            elif alive:
                v.kind, v.tensor = LEAF, alive[0]
            elif sys.getrefcount(v.array) <= only_ours and v.array.base is None:
                v.kind = CONST
            else:
                v.kind = LEAF  # an array still shared with something outside: read that same array object
            v.refs = []
        self._link_draws()
        for t, _, k in self._locals.values():
            k.kwargs["requires_grad"] = t.requires_grad  # as the function left it
        outputs = self._outputs(result)
        tape = Tape(self.values, self.kernels, outputs, len(self._args), list(self.fallbacks))
        tape.shared = self.shared
        return tape

    def _check_rebound(self) -> None:
        """An argument or a tensor read from outside whose `.data` now names another array: the function
        assigned `t.data = ...`, which a replay would not do."""
        for i, t in enumerate(self._args):
            v = self._by_array.get(id(t.data))
            if v is None or v.kind != ARG:
                raise JitError(f"jit: the function assigned to `.data` of argument {i} ({t.dtype}{list(t.shape)}); a "
                               f"replay would not. Compute a new tensor and return it instead.")
        for v in self.values:
            if v.kind != EXT:
                continue
            for r in v.refs:
                t = r()
                if t is not None and t.data is not v.array and id(t) not in self._produced:
                    raise JitError(
                        f"jit: the function assigned to `.data` of a tensor it reads ({v.dtype}{list(v.shape)}) "
                        f"outside the recorded operations (e.g. `w.data = w.data - lr * g`); a replay would not. "
                        f"Use an optimizer (tl.optim), whose update is replayed, or leave this function un-jitted.")

    def _link_draws(self) -> None:
        """A constant equal to a draw of this call (cast to its dtype) is that draw: replay draws anew."""
        for i, k in enumerate(self.kernels):
            v = k.outs[0] if k.tag == "read" else None
            if v is not None and v.kind == CONST:
                linked = self._drawn(v.array, v)
                if linked is not None:
                    self.kernels[i] = linked

    def _drawn(self, array: np.ndarray, v: Value | None = None) -> Kernel | None:
        """The kernel that makes `array` from a draw of this call (as Tensor.rand casts it), if it is one."""
        for d in self._draws:
            if d.shape == array.shape and same_bits(d.array.astype(array.dtype), array):
                self._draws.remove(d)
                if v is None:
                    v = self._new_tmp(array)
                v.kind = TMP
                return Kernel("call", _astype, (d,), [v], "astype", {"dtype": array.dtype})
        return None

    def _outputs(self, obj: Any) -> Any:
        """The result's structure with each tensor replaced by what replay returns in its place."""
        if isinstance(obj, TensorCore):
            if obj._ctx is not None and obj._ctx.parents is not None and not self._backward_ran:
                warnings.warn("jit: the jitted function returns a tensor that still has a graph; replays return "
                              "tensors without one, so call backward() inside the function (or use no_grad).",
                              stacklevel=4)
            if id(obj) in self._arg_index:
                return TensorRef(arg=self._arg_index[id(obj)])
            local = self._locals.get(id(obj))
            if local is not None:
                return local[1]
            v = self._by_array.get(id(obj.data))
            if v is None:
                drawn = self._drawn(obj.data)  # Tensor.rand(...) returned as it is: draw again each call
                if drawn is not None:
                    self.kernels.append(drawn)
                    return drawn.outs[0]
            if v is None or (v.kind == LEAF and v.tensor is obj):
                return TensorRef(tensor=obj)  # a tensor the step did not compute: returned as it is
            return v
        if isinstance(obj, (tuple, list)):
            return type(obj)(self._outputs(o) for o in obj)
        if isinstance(obj, dict):
            return {k: self._outputs(o) for k, o in obj.items()}
        return obj


def _traced_params(params: dict[str, Any], tr: Tracer) -> dict[str, Any]:
    """A forward's params with tracked arrays (Values) as Traced arrays."""
    def conv(o: Any) -> Any:
        if isinstance(o, Value):
            return tr.wrap(o)
        if isinstance(o, tuple):
            return tuple(conv(x) for x in o)
        if isinstance(o, list):
            return [conv(x) for x in o]
        return o

    return {k: conv(p) for k, p in params.items()}
