"""Replay: the plan written out as one straight-line Python function and compiled once.

Each kernel becomes one line (`np.add(v3, v7, out=B2)`, `v9, _ = vjp4(v8, v6, v2)`), every
function, buffer, constant and tensor it needs is a closure variable, so a replay runs NumPy call
after NumPy call with no loop, no Tensor, no graph. The prologue checks the leaves (each tensor the
step reads through a closure): a different array of another shape or dtype, or a changed
`requires_grad`, returns MISS before anything ran, and the caller captures again.

`source` of the result holds the generated text, for debugging.
"""
from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import _errstate, engine
from ..tensor import Tensor
from .ir import ARG, CONST, LEAF, JitError, Tape, TensorRef, Value, copy_array
from .plan import Plan, describe, make_plan


class Miss:
    """Returned by a replay whose guards failed before anything ran: the caller captures again."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"<jit miss: {self.reason}>"


MISS = Miss("a tensor the function reads changed shape, dtype or requires_grad")
MISS_SHARED = Miss("an argument the capture saw shared with a tensor the function reaches by itself (a closure, "
                   "a global, a module) is another array now")
MISS_GUARD = Miss("a data-dependent branch, shape or check came out differently than during the capture")


def _same_layout(a: Any, shape: tuple[int, ...], dtype: np.dtype) -> bool:
    return isinstance(a, np.ndarray) and a.shape == shape and a.dtype == dtype


class _Layout:
    """Shape, dtype and axis order of an array, to allocate more like it without keeping it."""

    def __init__(self, a: np.ndarray) -> None:
        self.dtype = a.dtype
        self.order = tuple(int(i) for i in np.argsort([-s for s in np.empty_like(a).strides], kind="stable"))
        self.shape = tuple(a.shape[i] for i in self.order)
        self.back = tuple(int(i) for i in np.argsort(self.order))

        self.identity = self.order == tuple(range(a.ndim))

    def empty(self) -> np.ndarray:
        """A new array of this layout: its own base when the axes are in order, else a view of one."""
        if self.identity:
            return np.empty(self.shape, self.dtype)
        return np.empty(self.shape, self.dtype).transpose(self.back)


def _alone(expr: str, make: Callable[[], np.ndarray]) -> int:
    """What sys.getrefcount reports, in generated code, for `expr` of an array `x` held by one closure cell
    only (`x` itself, or `x.base` for a view whose base nothing else holds)."""
    namespace: dict[str, Any] = {}
    exec("def make(cell):\n    def probe():\n        nonlocal cell\n        x = cell\n"  # noqa: S102
         f"        return REFCOUNT({expr})\n    return probe\n", {"REFCOUNT": sys.getrefcount}, namespace)
    probe = namespace["make"](make())  # made here, so no caller's temporary holds it
    return int(probe())


_FAST_ERRSTATE = _errstate.FAST


def _branch_changed(name: str) -> None:
    raise JitError(f"jit: a replay found that {name} came out differently than during the capture, after the step "
                   f"had already changed state (an optimizer update, a stored gradient or a random draw), so it "
                   f"cannot start over. Its result would differ from eager mode. Keep data-dependent branches "
                   f"before any update, or leave this function un-jitted.")


_BUILTINS = {"MISS": MISS, "MISS_GUARD": MISS_GUARD, "MISS_SHARED": MISS_SHARED,
             "WRAP": Tensor._wrap, "ASARRAY": np.asarray, "COPY": copy_array, "STORE": engine.store,
             "CHANGED": _branch_changed,
             "ERRSTATE": np.errstate, "SAME": _same_layout, "REFCOUNT": sys.getrefcount,
             "ALONE": _alone("x", lambda: np.empty(1)),
             "ALONE_BASE": _alone("x.base", lambda: np.empty((1, 2)).T),
             "QSET": None, "QRESET": None, "QMAKE": None}
if _FAST_ERRSTATE is not None:
    _BUILTINS["QSET"], _BUILTINS["QRESET"], _BUILTINS["QMAKE"] = _FAST_ERRSTATE


class _Writer:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.closure: list[tuple[str, Any]] = []  # (name, object) pairs the replay closes over
        self._obj_names: dict[int, str] = {}
        self.names: dict[int, str] = {}  # value index -> expression
        self.lines: list[str] = []
        self.prologue: list[str] = []
        self.committed = False
        self.nonlocal_names: list[str] = []
        self._guards: dict[int, str] = {}  # id(tensor) -> name of its array read in the prologue

    def obj(self, o: Any) -> str:
        name = self._obj_names.get(id(o))
        if name is None:
            name = f"k{len(self.closure)}"
            self._obj_names[id(o)] = name
            self.closure.append((name, o))
        return name

    def expr(self, a: Any) -> str:
        if isinstance(a, Value):
            return self.value(a)
        if isinstance(a, TensorRef):
            if a.local >= 0:
                return f"L{a.local}"
            return f"t{a.arg}" if a.arg >= 0 else self.obj(a.tensor)
        if isinstance(a, tuple):
            return "(" + "".join(self.expr(x) + ", " for x in a) + ")"
        if isinstance(a, list):
            return "[" + ", ".join(self.expr(x) for x in a) + "]"
        if a is None or type(a) is bool or type(a) is int:
            return repr(a)
        return self.obj(a)

    def value(self, v: Value) -> str:
        name = self.names.get(v.index)
        if name is not None:
            return name
        if v.kind == ARG:
            name = f"d{v.arg}"
            self.prologue.append(f"{name} = t{v.arg}._data")
        elif v.kind == CONST or (v.kind == LEAF and v.tensor is None):
            name = self.obj(v.array)
        elif v.index in self.plan.buffer_of:
            name = self.obj(self.plan.buffers[self.plan.buffer_of[v.index]])
        else:
            name = f"v{v.index}"
        self.names[v.index] = name
        return name

    def guard(self, v: Value) -> str:
        """The prologue's read of a leaf tensor, with its checks."""
        t = v.tensor
        name = self._guards.get(id(t))
        if name is not None:
            return name
        name = f"x{len(self._guards)}"
        self._guards[id(t)] = name
        tname, expected = self.obj(t), f"e{len(self._guards) - 1}"
        self.closure.append((expected, v.array))  # the array last seen; rebound when the leaf's data changes
        self.nonlocal_names.append(expected)
        self.prologue += [
            f"{name} = {tname}._data",  # the slot: `.data` is a property
            f"if {name} is not {expected}:",
            f"    if not SAME({name}, {self.obj(v.shape)}, {self.obj(v.dtype)}):",
            "        return MISS",
            f"    {expected} = {name}",
            f"if {tname}.requires_grad is not {t.requires_grad!r}:",
            "    return MISS",
        ]
        return name

    def write(self) -> None:
        quiet: tuple[tuple[str, str], ...] = ()
        seen_effect = False
        self.committed = False  # whether a kernel with an effect the replay cannot undo has run
        # `.grad` assignments before the last guard are undone if it fails (a step's zero_grad comes first)
        self.undo: list[str] = []
        guards = [i for i, k in enumerate(self.plan.kernels) if k.tag == "guard"]
        self.last_guard = guards[-1] if guards else -1
        for i, k in enumerate(self.plan.kernels):
            self.position = i
            line = self.kernel(k, seen_effect)
            seen_effect = seen_effect or k.tag == "effect"  # an opaque call might rebind a leaf's .data
            self.committed = self.committed or (k.effect and k.tag not in ("guard", "check", "setgrad", "store",
                                                                           "local"))
            if line is None:
                continue
            if k.errstate != quiet:  # one block per run of such kernels
                self._close_quiet(quiet)
                self._open_quiet(k.errstate)
            quiet = k.errstate
            pad = "    " if quiet else ""
            self.lines += [pad + x for x in line.split("\n")]
        self._close_quiet(quiet)
        self.lines.append(f"return {self.output(self.plan.tape.outputs)}")

    def _open_quiet(self, quiet: tuple[tuple[str, str], ...]) -> None:
        if not quiet:
            return
        settings = ", ".join(f"{n}={v!r}" for n, v in quiet)
        if _FAST_ERRSTATE is None:
            self.lines.append(f"with ERRSTATE({settings}):")
        else:  # what np.errstate's __enter__ does, without building the object: ~0.2 us instead of ~1 us
            self.lines += [f"quiet = QSET(QMAKE({settings}))", "try:"]

    def _close_quiet(self, quiet: tuple[tuple[str, str], ...]) -> None:
        if quiet and _FAST_ERRSTATE is not None:
            self.lines += ["finally:", "    QRESET(quiet)"]

    def kernel(self, k: Any, seen_effect: bool) -> str | None:
        if k.tag == "read":
            v = k.outs[0]
            if v.kind != LEAF or v.tensor is None:
                return None
            g = self.guard(v)
            if not seen_effect:
                self.names[v.index] = g
                return None
            return f"{self.value(v)} = {self.obj(v.tensor)}._data"
        if k.tag == "store":
            target, v = k.args
            value = f"COPY({self.value(v)})" if v.kind == CONST else self.value(v)
            t = self.expr(target)  # the engine's `store`, with its common case written out: a bare array, as
            # the eager walk leaves it (`.grad` wraps it on first read; optimizers read the slot)
            return (self.saved(t) +
                    f"if {t}._grad is None:\n    {t}._grad = {value}\nelse:\n    STORE({t}, {value})")
        if k.tag == "guard":
            v = self.value(k.args[0]) if k.args else ""
            if k.fn is not None:  # a decision library code took on the data (data_checks.decide)
                call = ", ".join([self.expr(a) for a in k.args]
                                 + [f"{n}={self.expr(a)}" for n, a in k.kwargs["params"].items()])
                test = f"{self.obj(k.fn)}({call}) != {self.expr(k.kwargs['expect'])}"
                what = f"a decision on the data ({k.name})"
            elif "shape" in k.kwargs:
                test, what = f"{v}.shape != {k.kwargs['shape']!r}", "the shape of a result that depends on the values"
            else:
                test, what = f"bool({v}) is not {k.kwargs['expect']!r}", "a data-dependent branch inside an op"
            undo = [*reversed(self.undo), "return MISS_GUARD"]
            fail = f"CHANGED({what!r})" if self.committed else "\n    ".join(undo)
            return f"if {test}:\n    {fail}"
        if k.tag == "local":
            name = self.expr(k.kwargs["ref"])
            flag = k.kwargs["requires_grad"]
            return f"{name} = WRAP({self.output_array(k.args[0])})\n{name}.requires_grad = {flag!r}"
        if k.tag == "setgrad":
            target, v = k.args
            value = "None" if v is None else f"WRAP({self.output_array(v)})"
            t = self.expr(target)
            return self.saved(t) + f"{t}._grad = {value}"
        fn = self.obj(k.fn)
        args = [self.expr(a) for a in k.args] + [f"{n}={self.expr(a)}" for n, a in k.kwargs.items()]
        if k.tag in ("effect", "check"):
            return f"{fn}({', '.join(args)})"
        if k.unpack:
            targets = "".join((self.value(o) if o is not None else "_") + ", " for o in k.outs)
            return f"{targets}= {fn}({', '.join(args)})"
        out = k.outs[0]
        if k.out_ok and out.index in self.plan.buffer_of:
            return f"{fn}({', '.join(args + ['out=' + self.value(out)])})"
        if k.out_ok and out.array.ndim > 0:
            return self.recycled(fn, args, out)
        name = self.value(out)
        line = f"{name} = {fn}({', '.join(args)})"
        if k.asarray or (k.out_ok and out.array.ndim == 0):
            line += f"\n{name} = ASARRAY({name})"
        return line

    def saved(self, t: str) -> str:
        """Keep `t._grad` before it changes, to put it back if a later guard fails (only then is it needed)."""
        if self.position > self.last_guard:
            return ""
        name = f"u{len(self.undo)}"
        self.undo.append(f"{t}._grad = {name}")
        return f"{name} = {t}._grad\n"

    def recycled(self, fn: str, args: list[str], out: Value) -> str:
        """An escaping result (a gradient, a returned tensor) needs a fresh array per replay unless nobody
        kept the previous replay's: reference counts say so, and then it is written over. This saves the
        page faults of a new large array on every step. Every view of an array holds a reference to the
        array that owns the memory (NumPy points `.base` straight at the owner), so the owner's count sees
        the caller's views too: the array itself is the owner when its axes are in order, and for a
        transposed layout both the view and its owner must be held by the replay alone."""
        cell, name = f"r{out.index}", self.value(out)
        layout = _Layout(out.array)
        self.closure.append((cell, layout.empty()))
        self.nonlocal_names.append(cell)
        test = f"REFCOUNT({name}) != ALONE"
        if not layout.identity:
            test += f" or REFCOUNT({name}.base) != ALONE_BASE"
        return (f"{name} = {cell}\nif {test}:\n    {name} = {self.obj(layout)}.empty()\n"
                f"{fn}({', '.join(args + ['out=' + name])})\n{cell} = {name}")

    def output_array(self, v: Value) -> str:
        """A value handed to the caller: a constant is copied, so writing into it cannot change the next call."""
        return f"COPY({self.value(v)})" if v.kind == CONST else self.value(v)

    def output(self, o: Any) -> str:
        if isinstance(o, Value):
            return f"WRAP({self.output_array(o)})"
        if isinstance(o, TensorRef):
            return self.expr(o)
        if isinstance(o, tuple):
            return "(" + "".join(self.output(x) + ", " for x in o) + ")"
        if isinstance(o, list):
            return "[" + ", ".join(self.output(x) for x in o) + "]"
        if isinstance(o, dict):
            return "{" + ", ".join(f"{self.obj(n)}: {self.output(x)}" for n, x in o.items()) + "}"
        return self.expr(o)

    def source(self, n_args: int) -> str:
        params = ", ".join(f"t{i}" for i in range(n_args))
        closure = ", ".join([*list(_BUILTINS), *[name for name, _ in self.closure]])
        body = [*([f"nonlocal {', '.join(self.nonlocal_names)}"] if self.nonlocal_names else []),
                *self.prologue, *self.lines]
        return (f"def __make__({closure}):\n    def __replay__({params}):\n"
                + "".join(f"        {line}\n" for line in body) + "    return __replay__\n")


class Program:
    """A compiled replay: `program(*arg_tensors)` runs the step, or returns MISS if a guard fails."""

    def __init__(self, tape: Tape) -> None:
        plan = make_plan(tape)
        w = _Writer(plan)
        for i, array in tape.shared.items():
            w.prologue += [f"if t{i}._data is not {w.obj(array)}:", "    return MISS_SHARED"]
        w.write()
        self.source = w.source(tape.n_args)
        self.listing = describe(plan)  # one line per kernel, for debugging
        self.n_kernels = len(plan.kernels)
        self.n_buffers = len(plan.buffers)
        # Ops replayed as one call of their forward or vjp (the rule could not be traced), and why: a rule
        # rewritten into a form the tracer cannot follow shows up here instead of silently slowing down.
        self.fallbacks = list(tape.fallbacks)
        self.generic_calls = [k.name for k in plan.kernels if k.ctx is not None]  # the same ops, as replayed
        namespace: dict[str, Any] = {}
        exec(compile(self.source, "<tinygrad_lite.jit replay>", "exec"), namespace)  # noqa: S102 - our own text
        self.closure = [*_BUILTINS.values(), *[o for _, o in w.closure]]  # what the names in `source` stand for
        self.run: Callable[..., Any] = namespace["__make__"](*self.closure)
        # The plan and the capture's arrays are not kept: the closure holds all a replay needs.

    def __call__(self, *args: Any) -> Any:
        return self.run(*args)
