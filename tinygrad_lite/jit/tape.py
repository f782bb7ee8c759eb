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
import sys
import warnings
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import _creation, engine, grad_mode
from .. import tensor as _t
from . import kernels as K
from .ir import ARG, CONST, EXT, LEAF, QUIET, TMP, JitError, Kernel, Tape, TensorRef, Value


def fit(g: Any, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """A VJP result brought to its input's shape and dtype, as the engine's walk does."""
    g = np.asarray(g)
    if g.shape != shape:
        g = np.asarray(engine.sum_to(g, shape))  # summing down to shape () gives a NumPy scalar
    if g.dtype != dtype:
        g = g.astype(dtype)
    return g


def copy(a: np.ndarray) -> np.ndarray:
    return np.array(a, copy=True)


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
            self._rec.record_draw(name, args, kwargs, res)
            return res

        return draw


def _shares(results: Sequence[np.ndarray], inputs: Sequence[Value]) -> bool:
    """May a result view a temporary's memory? Decided on the capture's arrays: whether NumPy returns a
    view or a copy depends on shapes, dtypes and layouts, which every replay of this capture shares."""
    return any(np.may_share_memory(r, v.array) for r in results for v in inputs if v.kind == TMP)


def vars_equal(a: TensorRef, b: TensorRef) -> bool:
    return a.arg == b.arg and a.tensor is b.tensor


def _astype(a: np.ndarray, dtype: np.dtype) -> np.ndarray:
    return a.astype(dtype)


class Recorder:
    """Implements the hooks of `tinygrad_lite._tape` for one call of a jitted function."""

    def __init__(self, arg_tensors: Sequence[Any]) -> None:
        self.values: list[Value] = []
        self.kernels: list[Kernel] = []
        self._by_array: dict[int, Value] = {}
        self._args = list(arg_tensors)
        self._arg_index = {id(t): i for i, t in enumerate(self._args)}
        self._ctxs: dict[int, Any] = {}  # the nodes recorded in this call (a backward must stay among them)
        self._params: dict[int, dict[str, Any]] = {}  # their forward's params, with Values for tracked arrays
        self._produced: dict[int, Any] = {}  # id -> weakref of tensors made by recorded ops
        self._draws: list[Value] = []
        self._backward_ran = False
        for i, t in enumerate(self._args):
            if id(t.data) not in self._by_array:
                v = self._register(ARG, t.data)
                v.arg = i
        self._gen = _creation.rng.gen
        self._proxy = _RecordingGenerator(self._gen, self)

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

    def value_of(self, t: Any) -> Value:
        """The Value of tensor t's data; an external one is read at the point of its first use."""
        arr = t.data
        v = self._by_array.get(id(arr))
        if v is None:
            v = self._register(EXT, arr)
            v.refs.append(weakref.ref(t))
            self.kernels.append(Kernel("read", None, (), [v], "read"))
        elif v.kind == EXT and not any(r() is t for r in v.refs):
            v.refs.append(weakref.ref(t))
        return v

    def _root_value(self, a: np.ndarray) -> Value:
        """A root gradient: tracked if the step computed it, else a constant (`ones` for a scalar loss)."""
        v = self._by_array.get(id(a))
        return self._register(CONST, a) if v is None else v

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
        return TensorRef(tensor=t)

    def _emit(self, emit: K.Emitter) -> None:
        self.kernels += emit.kernels

    # --- hooks: forward ---------------------------------------------------------------------------
    def record_op(self, ctx: Any, inputs: Sequence[Any], out: Any, params: dict[str, Any]) -> None:
        ins = [self.value_of(t) for t in inputs]
        kw = {k: self._dynamic(p) for k, p in params.items()}
        self._ctxs[id(ctx)] = ctx
        self._params[id(ctx)] = kw
        self._produced[id(out)] = weakref.ref(out)
        if id(out.data) in self._by_array:  # the op handed back an array the step already has
            return
        name = type(ctx).__name__
        emit = K.Emitter(self._new_tmp)
        try:
            v = K.forward(emit, ctx, ins, kw)
        except Exception:  # noqa: BLE001 - no fast kernel for these operands: the generic one serves
            v = None
        if v is not None and K.same_bits(v.array, out.data):
            self._emit(emit)
            del self._by_array[id(v.array)]
            v.array = out.data
            self._by_array[id(out.data)] = v
            return
        v = self._new_tmp(out.data)
        self.kernels.append(Kernel("call", ctx.forward, tuple(ins), [v], name, kw, alias=_shares([out.data], ins),
                                   ctx=ctx, asarray=out.data.ndim == 0))

    def record_call(self, fn: Callable[[], None], what: str) -> None:
        self.kernels.append(Kernel("effect", fn, (), [], what, effect=True))

    def record_grad_set(self, t: Any, value: Any) -> None:
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

    def data_read(self, t: Any, what: str) -> None:
        raise JitError(
            f"jit: {what} reads a tensor's values into Python inside a jitted function (shape {t.shape}). The "
            f"replay runs only the recorded NumPy kernels, so Python code that uses the value (an `if`, a "
            f"number, a print) would run once, during the capture. Return the tensor and read it outside, "
            f"use tensor operations (e.g. `Tensor.where`), or leave this function un-jitted.")

    # --- hooks: backward --------------------------------------------------------------------------
    def _add(self, a: Value, b: Value) -> Value:
        emit = K.Emitter(self._new_tmp)
        v = emit.ufunc(np.add, a, b)
        self._emit(emit)
        return v

    def _vjp(self, ctx: Any, g: Value, out: Value, xs: list[Value]) -> list[Value | None]:
        ref = ctx.vjp(g.array, out.array, *[x.array for x in xs])
        needs = ctx.needs_grad
        emit = K.Emitter(self._new_tmp)
        try:
            fast = K.vjp(emit, ctx, g, out, xs, self._params.get(id(ctx)))
        except Exception:  # noqa: BLE001 - no fast kernel for these operands: the generic one serves
            fast = None
        if fast is not None and all(
            not need or (r is None) == (f is None) and (r is None or K.same_bits(f.array, r))  # type: ignore[union-attr]
            for r, f, need in zip(ref, fast, needs)
        ):
            self._emit(emit)
            return [f if need else None for f, need in zip(fast, needs)]
        outs: list[Value | None] = [
            self._new_tmp(np.asarray(r)) if r is not None and need else None for r, need in zip(ref, needs)
        ]
        for o, r in zip(outs, ref):
            if o is not None and type(r) is np.ndarray:
                o.array = r  # the very array, so a later use of it is recognised
                self._by_array[id(r)] = o
        alias = _shares([o.array for o in outs if o is not None], [g, out, *xs])
        self.kernels.append(Kernel("call", ctx.vjp, (g, out, *xs), list(outs), f"{type(ctx).__name__}.vjp",
                                   unpack=True, alias=alias, ctx=ctx))
        return outs

    def run_backward(self, roots: Sequence[Any], root_grads: Sequence[Any], retain_graph: bool,
                     create_graph: bool, capture: Sequence[Any] | None) -> list[Any] | None:
        """The engine's walk (`engine._walk`), same order and same NumPy calls, written down."""
        self._backward_ran = True
        nodes, leaves = engine._graph_nodes(roots)
        for t in nodes:
            if self._ctxs.get(id(t._ctx)) is not t._ctx:
                raise JitError(f"jit: backward() inside the jitted function reaches a {type(t._ctx).__name__} "
                               f"computed before the call (shape {t.shape}). Compute it inside the function, or "
                               f"detach() it before the call.")
        if create_graph:
            return self._backward_graph(nodes, leaves, roots, root_grads, retain_graph, capture)
        start = len(self.kernels)
        # The engine walks with these warnings off (a pole gives ±inf silently); so does this walk, and its replay.
        with np.errstate(**QUIET["backward"]):  # type: ignore[arg-type]
            found = self._walk(nodes, leaves, roots, root_grads, retain_graph, capture)
        for k in self.kernels[start:]:
            k.errstate = "backward"
        return found

    def _walk(self, nodes: list[Any], leaves: list[Any], roots: Sequence[Any], root_grads: Sequence[Any],
              retain_graph: bool, capture: Sequence[Any] | None) -> list[Any] | None:
        grads: dict[int, Value | None] = {}
        for r, g in zip(roots, root_grads):
            root_v = self._root_value(np.asarray(g))
            prev = grads.get(id(r))
            grads[id(r)] = root_v if prev is None else self._add(prev, root_v)
        keep = set() if capture is None else {id(t) for t in capture}
        while nodes:
            t = nodes.pop()
            k = id(t)
            gv = grads[k] if k in keep else grads.pop(k, None)
            ctx: Any = t._ctx
            parents = ctx.parents
            if not retain_graph:
                ctx.drop_inputs()
            if gv is None:
                continue
            if capture is None:
                held = t._grad
                t._grad = gv.array if held is None else engine._accumulate(held, gv.array)
            results = self._vjp(ctx, gv, self.value_of(t), [self.value_of(p) for p in parents])
            for p, rv, need in zip(parents, results, ctx.needs_grad):
                if not need or rv is None:
                    continue
                data = p.data
                if type(rv.array) is not np.ndarray or rv.shape != data.shape or rv.dtype != data.dtype:
                    rv = self._call(fit, rv, "fit", shape=data.shape, dtype=data.dtype)
                old_v = grads.get(id(p))
                grads[id(p)] = rv if old_v is None else self._add(old_v, rv)
        if capture is None:
            for leaf in leaves:
                final = grads.get(id(leaf))
                if final is not None:
                    self._store(leaf, final)
            return None
        found = [grads.get(id(t)) for t in capture]
        return [None if v is None else _t.Tensor._wrap(v.array) for v in found]

    def _backward_graph(self, nodes: list[Any], leaves: list[Any], roots: Sequence[Any], root_grads: Sequence[Any],
                        retain_graph: bool, capture: Sequence[Any] | None) -> list[Any] | None:
        """create_graph=True: the engine's own walk, whose VJPs run as recorded ops on Tensors."""
        grads: dict[Any, Any] = {}  # keyed by Tensor, as the engine's walk expects
        for r, g in zip(roots, root_grads):
            grads[r] = g if r not in grads else grads[r] + g
        with grad_mode.enable_grad():
            engine._walk(grads, retain_graph, capture, create_graph=True)
        if capture is not None:
            return [g if g is None or isinstance(g, _t.Tensor) else _t.Tensor._wrap(g)
                    for g in (grads.get(t) for t in capture)]
        for leaf in leaves:
            g = grads.get(leaf)
            if g is not None:
                self._store(leaf, self.value_of(g if isinstance(g, _t.Tensor) else _t.Tensor._wrap(g)), g)
        return None

    def _call(self, fn: Callable[..., Any], x: Value, name: str, **kwargs: Any) -> Value:
        v = self._new_tmp(fn(x.array, **kwargs))
        self.kernels.append(Kernel("call", fn, (x,), [v], name, kwargs, alias=_shares([v.array], [x])))
        return v

    def _store(self, leaf: Any, gv: Value, eager: Any = None) -> None:
        """`leaf.grad` gets gv now (or `eager`, the Tensor a create_graph walk made) and at each replay."""
        if not gv.array.flags.writeable:  # a broadcast view: `.grad` would copy it, out of our sight
            gv = self._call(copy, gv, "copy")
        engine._store(leaf, gv.array if eager is None else eager)
        target = self._target(leaf)
        if target is not None:
            self.kernels.append(Kernel("store", engine._store, (target, gv), [], "store grad", effect=True))

    # --- the end ----------------------------------------------------------------------------------
    def finish(self, result: Any) -> Tape:
        """Classify the external values, link random draws, describe the outputs."""
        gc.collect(0)  # tensors the call made and dropped inside reference cycles (create_graph makes some)
        cached = {id(c) for c in _t._constants.values()}
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
        outputs = self._outputs(result)
        return Tape(self.values, self.kernels, outputs, len(self._args))

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
            if d.shape == array.shape and K.same_bits(d.array.astype(array.dtype), array):
                self._draws.remove(d)
                if v is None:
                    v = self._new_tmp(array)
                v.kind = TMP
                return Kernel("call", _astype, (d,), [v], "astype", {"dtype": array.dtype})
        return None

    def _outputs(self, obj: Any) -> Any:
        """The result's structure with each tensor replaced by what replay returns in its place."""
        if isinstance(obj, _t.Tensor):
            if obj._ctx is not None and obj._ctx.parents is not None and not self._backward_ran:
                warnings.warn("jit: the jitted function returns a tensor that still has a graph; replays return "
                              "tensors without one, so call backward() inside the function (or use no_grad).",
                              stacklevel=4)
            if id(obj) in self._arg_index:
                return TensorRef(arg=self._arg_index[id(obj)])
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
