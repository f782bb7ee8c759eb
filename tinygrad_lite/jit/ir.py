"""The recorded program: values in single-assignment form and the kernels (NumPy calls) between them.

A `Value` is one array of the captured step: an argument's data, a leaf read from a tensor the step
reaches through closures or modules (parameters, data sets), a constant, or a temporary made by a
kernel. A `Kernel` is one call `fn(*args, **kwargs)`; its args may hold Values (also nested inside
tuples, e.g. an index). Recording (tape.py) builds them, plan.py simplifies them and gives
temporaries their buffers, replay.py turns them into straight-line Python.
"""
from __future__ import annotations

import math
import types
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

ARG, EXT, LEAF, CONST, TMP = "arg", "ext", "leaf", "const", "tmp"


class JitError(RuntimeError):
    """A function cannot be captured or replayed as asked (the message says why and what to do)."""


class GuardsDiffer(Exception):  # noqa: N818 - not an error: the caller captures again
    """Two captures took a data-dependent branch or shape differently (a boolean mask's count, a label
    check's outcome): both are right for their own data, neither is a replay of the other."""


class Value:
    """One array of the step. `array` is its value during the capture (a constant's value for good)."""

    __slots__ = ("index", "kind", "array", "arg", "tensor", "refs")

    def __init__(self, index: int, kind: str, array: np.ndarray) -> None:
        self.index = index
        self.kind = kind  # EXT until the capture ends, then LEAF or CONST
        self.array = array
        self.arg = -1  # position among the flattened argument tensors (ARG)
        self.tensor: Any = None  # the tensor a LEAF is read from (None: the array object itself is read)
        self.refs: list[Any] = []  # weak references to the tensors seen holding an EXT array

    @property
    def shape(self) -> tuple[int, ...]:
        return self.array.shape

    @property
    def dtype(self) -> np.dtype:
        return self.array.dtype

    def __repr__(self) -> str:
        return f"<{self.kind} v{self.index} {self.array.dtype}{list(self.array.shape)}>"


class TensorRef:
    """Names the tensor an effect writes to: argument `arg` of the call, a fixed `tensor`, or `local`, a
    tensor the function makes around data of the call (`x.detach().requires_grad_()`), made anew by
    each replay."""

    __slots__ = ("arg", "tensor", "local")

    def __init__(self, arg: int = -1, tensor: Any = None, local: int = -1) -> None:
        self.arg, self.tensor, self.local = arg, tensor, local


def copy_array(a: np.ndarray) -> np.ndarray:
    """A fresh, writeable copy: what a caller is handed in place of an array the step may write again."""
    return np.array(a, copy=True)


class Kernel:
    """One call. `tag` says how replay emits it:
    "call" `outs = fn(*args, **kwargs)` (`unpack` for tuples), "read" a leaf's `.data`,
    "store" `engine.store(tensor, value)`, "setgrad" `tensor._grad = value`, "effect" `fn()`,
    "guard" a check that a branch or a shape the capture depended on holds (kwargs `expect` or `shape`,
    or `fn(*args, **params) == expect`), "check" `fn(*args, **kwargs)` that raises on bad data,
    "local" a new tensor around a value (kwargs `ref`, `requires_grad`).
    `out_ok`: fn takes `out=` for its single output; `alias`: the result may view an input's memory;
    `effect`: never folded, dropped or moved; `errstate`: the NumPy floating-point error settings to run it
    under, as (name, setting) pairs (an op's own np.errstate, or the backward walk's);
    `elementwise`: a plain ufunc, which may write over an input that nothing reads afterwards."""

    __slots__ = ("tag", "fn", "args", "kwargs", "outs", "unpack", "out_ok", "alias", "effect", "errstate",
                 "name", "ctx", "asarray", "elementwise")

    def __init__(self, tag: str, fn: Callable[..., Any] | None, args: tuple[Any, ...], outs: list[Value | None],
                 name: str, kwargs: dict[str, Any] | None = None, *, unpack: bool = False, out_ok: bool = False,
                 alias: bool = False, effect: bool = False, errstate: tuple[tuple[str, str], ...] = (), ctx: Any = None,
                 asarray: bool = False) -> None:
        self.tag, self.fn, self.args, self.kwargs, self.outs = tag, fn, args, kwargs or {}, outs
        self.unpack, self.out_ok, self.alias, self.effect = unpack, out_ok, alias, effect
        self.errstate, self.name, self.ctx, self.asarray = errstate, name, ctx, asarray
        self.elementwise = out_ok and isinstance(fn, np.ufunc) and fn.signature is None

    def inputs(self) -> Iterator[Value]:
        """Every Value this kernel reads, nested ones included."""
        yield from values_in(self.args)
        yield from values_in(tuple(self.kwargs.values()))

    def __repr__(self) -> str:
        return f"<{self.tag} {self.name} {list(self.inputs())} -> {self.outs}>"


def values_in(obj: Any) -> Iterator[Value]:
    if isinstance(obj, Value):
        yield obj
    elif isinstance(obj, (tuple, list)):
        for o in obj:
            yield from values_in(o)


class Tape:
    """A finished capture: kernels in program order, the values, the outputs' structure."""

    def __init__(self, values: list[Value], kernels: list[Kernel], outputs: Any, n_args: int,
                 fallbacks: list[str] | None = None) -> None:
        self.values, self.kernels, self.outputs, self.n_args = values, kernels, outputs, n_args
        self.fallbacks = fallbacks or []  # "Op.method: why" for each op replayed as one call of its method
        self.shared: dict[int, np.ndarray] = {}  # argument -> its array, which the function also reaches itself


# --- comparing two captures ------------------------------------------------------------------------
def _static_sig(obj: Any) -> Any:
    """A comparable stand-in for a kernel's fixed argument (arrays by value, methods by owner)."""
    if isinstance(obj, Value):
        return value_sig(obj)
    if isinstance(obj, np.ndarray):
        return ("array", obj.dtype.str, obj.shape, obj.tobytes())
    if isinstance(obj, (tuple, list)):
        return (type(obj).__name__, *[_static_sig(o) for o in obj])
    if isinstance(obj, slice):
        return ("slice", obj.start, obj.stop, obj.step)
    if isinstance(obj, float) and math.isnan(obj):
        return ("nan",)
    if isinstance(obj, types.MethodType):
        owner = obj.__self__
        from ..function import Function

        who = type(owner).__name__ if isinstance(owner, Function) else id(owner)
        return ("method", who, obj.__func__)
    if isinstance(obj, types.BuiltinMethodType) and not isinstance(obj.__self__, types.ModuleType):
        return ("builtin", id(obj.__self__), obj.__name__)  # e.g. np.add.reduce: a new object per lookup
    if isinstance(obj, TensorRef):
        return ("tensor", obj.arg, obj.local, id(obj.tensor))
    if hasattr(obj, "signature"):  # a callable the recorder makes per capture (e.g. a random draw)
        return ("sig", type(obj).__name__, obj.signature)
    if isinstance(obj, (int, float, bool, str, bytes, np.dtype, np.generic)) or obj is None or obj is Ellipsis:
        return (type(obj), obj)
    return ("object", id(obj))


def value_sig(v: Value) -> Any:
    if v.kind == ARG:
        return ("arg", v.arg)
    if v.kind == LEAF:  # which tensor: compared apart, by check_same
        return ("leaf", v.array.dtype.str, v.array.shape)
    if v.kind == CONST:
        return ("const", v.array.dtype.str, v.array.shape, v.array.tobytes())
    return ("tmp", v.index)


def kernel_sig(k: Kernel) -> Any:
    return (k.tag, k.name, _static_sig(k.fn), _static_sig(k.args),
            tuple(sorted((n, _static_sig(a)) for n, a in k.kwargs.items())), len(k.outs))


def check_same(first: Tape, second: Tape) -> None:
    """Raise JitError unless two captures of the same call recorded the same program."""
    if first.shared.keys() != second.shared.keys():
        raise GuardsDiffer("an argument was shared with a tensor the function reaches in one call and not the other")
    a, b = first.kernels, second.kernels
    for i, (ka, kb) in enumerate(zip(a, b)):
        if ka.tag == kb.tag == "guard" and ka.name == kb.name and kernel_sig(ka) != kernel_sig(kb):
            raise GuardsDiffer(f"{ka.name} (kernel {i}) came out differently")
        if kernel_sig(ka) == kernel_sig(kb):
            for va, vb in zip(ka.outs, kb.outs):
                if va is not None and vb is not None and va.kind == LEAF and not _same_leaf(va, vb):
                    raise JitError(
                        f"jit: a tensor made inside the function and still alive afterwards (read by kernel {i}, "
                        f"{_peek(va.array)} then {_peek(vb.array)}) changed between the first two calls; a replay "
                        f"would freeze it. Compute it with tensor operations or pass it as an argument.")
            continue
        if ka.name == kb.name and ka.tag == kb.tag:
            for pos, (va, vb) in enumerate(zip(ka.inputs(), kb.inputs())):
                if va.kind == CONST and vb.kind == CONST and value_sig(va) != value_sig(vb):
                    raise JitError(
                        f"jit: input {pos} of {ka.name} (kernel {i}) is a constant made inside the function, and "
                        f"its value changed between the first two calls ({_peek(va.array)} then {_peek(vb.array)}). "
                        f"A replay would freeze it. It was computed from tensor data outside the recorded "
                        f"operations (NumPy on `.data`, a Python number read from the data or from changing "
                        f"state): pass it as a Tensor argument, or compute it with tensor operations.")
            raise JitError(
                f"jit: {ka.name} (kernel {i}) was called differently on the second call than on the first "
                f"(its fixed arguments or inputs differ: a value computed outside the recorded operations, such as "
                f"an index or a Python number taken from tensor data, or changing Python state). A replay would "
                f"freeze the first. Pass such values as arguments (Python values are part of the cache key).")
        raise JitError(
            f"jit: the function ran different operations on its second call than on its first (kernel {i}: "
            f"{ka.name} then {kb.name}): its Python control flow depends on something other than the arguments' "
            f"shapes, dtypes and Python values. Make that a (non-Tensor) argument so each case is captured "
            f"separately, or leave this function un-jitted.")
    if len(a) != len(b):
        raise JitError(f"jit: the function recorded {len(a)} kernels on its first call and {len(b)} on its second: "
                       f"its Python control flow depends on something other than the arguments' shapes, dtypes and "
                       f"Python values.")


def _same_leaf(a: Value, b: Value) -> bool:
    """The same tensor (or array) both times; or two made during each call, with equal values."""
    if (a.tensor if a.tensor is not None else a.array) is (b.tensor if b.tensor is not None else b.array):
        return True
    return a.array.dtype == b.array.dtype and a.array.tobytes() == b.array.tobytes()


def _peek(a: np.ndarray) -> str:
    flat = a.reshape(-1)[:3].tolist()
    return f"{a.dtype}{list(a.shape)} {flat}{'...' if a.size > 3 else ''}"
