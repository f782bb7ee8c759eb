"""Tracing a primitive's own rules into kernels: the jit runs an op's `forward` and `vjp` once more on
`Traced` arrays, which behave like the capture's arrays but write down every NumPy call made on them.

So the replay runs exactly the NumPy calls of the primitive's own rule (one source for eager and
replay), with ufuncs writing into preallocated buffers (`out=`). What cannot be written down this way
raises `Untraceable` with the reason (the op's whole method is then replayed as one call): reading the
values into Python (`float(x)`, `x.tolist()`), converting to a plain array, writing into an array
that something else may still read. `bool(x)` on a traced array becomes a guard: the replay checks that
the branch goes the same way and, if not, captures again (or refuses, once the step has had effects).

>>> import numpy as np
>>> from tinygrad_lite.jit.ir import TMP, Value
>>> tr = Tracer(lambda a: Value(0, TMP, a), kernels := [])
>>> y = np.exp(tr.wrap(Value(0, TMP, np.zeros(2)))) * 2.0
>>> [k.name for k in kernels], y.array.tolist()
(['exp', 'multiply'], [2.0, 2.0])
"""
from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np

from .ir import TMP, Kernel, Value


class Untraceable(Exception):  # noqa: N818 - it is not an error: the op is then replayed as one call
    """An op's method cannot be recorded kernel by kernel; the message says why."""


# NumPy functions that write into an argument instead of returning a result.
_IN_PLACE = {np.copyto, np.put, np.put_along_axis, np.place, np.putmask, np.fill_diagonal}
# NumPy functions whose result's shape depends on the values, not only on the inputs' shapes.
_DATA_SHAPED = {np.nonzero, np.flatnonzero, np.argwhere, np.unique, np.compress, np.extract}


# `.T` and `.mT` as replay kernels: attrgetter is a C call, where a Python function would add a frame to
# each of the three transposes of a small step's backward.
_transpose_all = operator.attrgetter("T")
_swap_last = operator.attrgetter("mT")


def _errstate() -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, str(v)) for k, v in np.geterr().items()))


class Tracer:
    """Runs NumPy calls on the capture's arrays and appends a Kernel for each to `kernels`.

    `new_value(array)` registers a temporary Value (the recorder's, so ids stay unique); `baseline` is
    the floating-point error setting in force where the traced call was made from, so a kernel made under
    an `np.errstate` of the op's own carries that setting into the replay."""

    def __init__(self, new_value: Callable[[np.ndarray], Value], kernels: list[Kernel],
                 baseline: tuple[tuple[str, str], ...] | None = None,
                 known: Callable[[np.ndarray], Value | None] = lambda a: None) -> None:
        self._new = new_value
        self.kernels = kernels
        self._known = known  # the recorder's arrays by identity
        self._baseline = dict(_errstate() if baseline is None else baseline)
        self._made: set[int] = set()  # Values this tracer made (only those may be written over in place)
        self._viewed: set[int] = set()  # Values some view may still read (never written over)

    def wrap(self, v: Value) -> Traced:
        return Traced(v, self)

    # --- conversions ---------------------------------------------------------------------------------
    def _arg(self, a: Any) -> Any:
        """A kernel argument: Traced becomes its Value (also inside tuples and lists), and so does a plain
        array the recorder tracks; other plain arrays are constants (made from shapes inside the op)."""
        if isinstance(a, Traced):
            return a.v
        if isinstance(a, np.ndarray):
            known = self._known(a)
            return a if known is None else known
        if isinstance(a, tuple):
            return tuple(self._arg(x) for x in a)
        if isinstance(a, list):
            return [self._arg(x) for x in a]
        if isinstance(a, slice) and any(isinstance(x, Traced) for x in (a.start, a.stop, a.step)):
            raise Untraceable("a slice bound computed from array values")
        return a

    def _array(self, a: Any) -> Any:
        """The capture-time value of a kernel argument."""
        if isinstance(a, Traced):
            return a.v.array
        if isinstance(a, tuple):
            return tuple(self._array(x) for x in a)
        if isinstance(a, list):
            return [self._array(x) for x in a]
        return a

    def _override(self) -> tuple[tuple[str, str], ...]:
        """The error settings that differ from the caller's: an op's own np.errstate, replayed with it."""
        return tuple((k, v) for k, v in _errstate() if self._baseline.get(k) != v)

    def _value(self, res: Any) -> Value:
        v = self._new(res)
        self._made.add(v.index)
        return v

    # --- recording -----------------------------------------------------------------------------------
    def ufunc(self, ufunc: np.ufunc, method: str, inputs: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if method not in ("__call__", "reduce", "accumulate") or ufunc.nout != 1:
            raise Untraceable(f"np.{ufunc.__name__}.{method} with {ufunc.nout} outputs")
        out = kwargs.pop("out", None)
        target = out[0] if isinstance(out, tuple) else out
        if target is not None:
            if not isinstance(target, Traced):
                raise Untraceable(f"np.{ufunc.__name__} writes into an array the jit does not track")
            if target.v.kind != TMP or target.v.index not in self._made or target.v.index in self._viewed:
                raise Untraceable(f"np.{ufunc.__name__} writes in place into an array something else may read")
        fn = ufunc if method == "__call__" else getattr(ufunc, method)
        arrays = [self._array(a) for a in inputs]
        kw_arrays = {k: self._array(a) for k, a in kwargs.items()}
        res = fn(*arrays, **kw_arrays, out=target.v.array) if target is not None else fn(*arrays, **kw_arrays)
        res = res if type(res) is np.ndarray else np.asarray(res)
        v = self._value(res)
        self.kernels.append(Kernel("call", fn, tuple(self._arg(a) for a in inputs), [v], ufunc.__name__,
                                   {k: self._arg(a) for k, a in kwargs.items()}, out_ok=True,
                                   errstate=self._override()))
        if target is not None:
            target.v = v  # the array was written over: who holds it sees the new value, as in NumPy
            return target
        return Traced(v, self)

    def call(self, fn: Callable[..., Any], name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """`fn(*args, **kwargs)` returning new arrays (or views of its inputs): a generic kernel."""
        if fn in _IN_PLACE:
            raise Untraceable(f"{name} writes into its argument")
        res = fn(*self._array(args), **{k: self._array(a) for k, a in kwargs.items()})
        ins = [a for a in _traced_in((args, tuple(kwargs.values())))]
        for t in ins:
            if res is t.v.array:
                return t  # handed back unchanged (astype to its own dtype, a no-op reshape)
        if isinstance(res, (tuple, list)) and res and all(isinstance(r, np.ndarray) for r in res):
            outs = [self._value(r) for r in res]
            alias = self._aliases(list(res), ins)
            if alias:
                self._viewed.update(o.index for o in outs)
            self.kernels.append(Kernel("call", fn, self._arg(args), list(outs), name, self._arg_kw(kwargs),
                                       unpack=True, alias=alias))
            return type(res)(Traced(o, self) for o in outs)
        if res is None or isinstance(res, (tuple, list, dict, str)):
            raise Untraceable(f"{name} returns {type(res).__name__}")
        scalar = not isinstance(res, np.ndarray)
        array = np.asarray(res) if scalar else res
        if array.dtype == object:
            raise Untraceable(f"{name} gives an object array")
        v = self._value(array)
        alias = self._aliases([array], ins)
        if alias:
            self._viewed.add(v.index)  # a view: writing into it would write into what it views
        self.kernels.append(Kernel("call", fn, self._arg(args), [v], name, self._arg_kw(kwargs), alias=alias,
                                   asarray=scalar or array.ndim == 0))
        if fn in _DATA_SHAPED or _has_mask(args):
            self.guard_shape(v)
        return Traced(v, self)

    def _arg_kw(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        return {k: self._arg(a) for k, a in kwargs.items()}

    def _aliases(self, results: list[np.ndarray], ins: list[Traced]) -> bool:
        """Whether a result may view an input's memory, decided on the capture's arrays: NumPy's choice of
        view or copy depends on shapes, dtypes and layouts, which every replay of this capture shares."""
        shared = [t for t in ins if any(np.may_share_memory(r, t.v.array) for r in results)]
        self._viewed.update(t.v.index for t in shared)
        return bool(shared)

    def guard(self, t: Traced, expect: bool) -> bool:
        """`bool(t)` on a traced array: the replay checks it comes out the same."""
        self.kernels.append(Kernel("guard", None, (t.v,), [], "guard", {"expect": expect}, effect=True))
        return expect

    def guard_shape(self, v: Value) -> None:
        """A result whose shape depends on the values (a boolean mask): the replay checks the shape."""
        self.kernels.append(Kernel("guard", None, (v,), [], "guard shape", {"shape": v.array.shape}, effect=True))


def _traced_in(obj: Any) -> list[Traced]:
    if isinstance(obj, Traced):
        return [obj]
    if isinstance(obj, (tuple, list)):
        return [t for o in obj for t in _traced_in(o)]
    return []


def _has_mask(args: tuple[Any, ...]) -> bool:
    """Indexing with a boolean array: the result's length is the number of True values."""
    if len(args) != 2 or not isinstance(args[1], (tuple, Traced, np.ndarray)):
        return False
    parts = args[1] if isinstance(args[1], tuple) else (args[1],)
    for p in parts:
        arr = p.v.array if isinstance(p, Traced) else p
        if isinstance(arr, np.ndarray) and arr.dtype == np.bool_:
            return True
    return False


def _binary(ufunc: np.ufunc) -> tuple[Callable[[Traced, Any], Any], Callable[[Traced, Any], Any]]:
    def forward(self: Traced, other: Any) -> Any:
        return ufunc(self, other)

    def reflected(self: Traced, other: Any) -> Any:
        return ufunc(other, self)

    return forward, reflected


def _in_place(ufunc: np.ufunc) -> Callable[[Traced, Any], Any]:
    def op(self: Traced, other: Any) -> Any:
        return ufunc(self, other, out=(self,))

    return op


_METHOD_REDUCTIONS = {"sum": np.add, "prod": np.multiply, "max": np.maximum, "min": np.minimum,
                      "any": np.logical_or, "all": np.logical_and}


class Traced:
    """A capture-time array, seen through the jit: NumPy calls on it are run and written down."""

    __slots__ = ("v", "tracer")
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, v: Value, tracer: Tracer) -> None:
        self.v, self.tracer = v, tracer

    # --- NumPy's protocols ---------------------------------------------------------------------------
    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        return self.tracer.ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func: Any, types: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return self.tracer.call(func, f"np.{func.__name__}", args, kwargs)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise Untraceable("converts a traced array to a plain NumPy array")

    # --- what does not depend on the values ----------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.v.array.shape

    @property
    def dtype(self) -> np.dtype:
        return self.v.array.dtype

    @property
    def ndim(self) -> int:
        return self.v.array.ndim

    @property
    def size(self) -> int:
        return int(self.v.array.size)

    @property
    def itemsize(self) -> int:
        return int(self.v.array.itemsize)

    def __len__(self) -> int:
        return len(self.v.array)

    @property
    def T(self) -> Any:  # noqa: N802 - NumPy's name
        return self.tracer.call(_transpose_all, "T", (self,), {})

    @property
    def mT(self) -> Any:  # noqa: N802 - NumPy's name
        return self.tracer.call(_swap_last, "mT", (self,), {})

    # --- what does ------------------------------------------------------------------------------------
    def __bool__(self) -> bool:
        if self.v.array.size != 1:
            raise ValueError(f"the truth value of an array of shape {self.shape} is ambiguous")
        return self.tracer.guard(self, bool(self.v.array))

    def _reads(self, *args: Any, **kwargs: Any) -> Any:
        raise Untraceable("reads array values into Python")

    __float__ = __int__ = __index__ = __iter__ = item = tolist = tobytes = _reads

    def __setitem__(self, index: Any, value: Any) -> None:
        raise Untraceable("assigns into an array in place")

    def __getitem__(self, index: Any) -> Any:
        return self.tracer.call(operator.getitem, "getitem", (self, index), {})

    def __getattr__(self, name: str) -> Any:
        """Array methods (`reshape`, `astype`, `sum`, ...): a kernel calling the method itself."""
        method = getattr(np.ndarray, name, None)
        if method is None or not callable(method) or name.startswith("_"):
            raise AttributeError(f"traced array has no attribute {name!r}")
        reduction = _METHOD_REDUCTIONS.get(name)

        def call(*args: Any, **kwargs: Any) -> Any:
            if reduction is not None and not args and set(kwargs) <= {"axis", "keepdims"}:
                # x.sum(axis=...) is np.add.reduce(x, axis=...): a ufunc kernel, which can write into a buffer
                return reduction.reduce(self, axis=kwargs.get("axis"), keepdims=kwargs.get("keepdims", False))
            return self.tracer.call(method, name, (self, *args), kwargs)

        return call

    # --- operators, as NumPy's ufuncs ----------------------------------------------------------------
    __add__, __radd__ = _binary(np.add)
    __sub__, __rsub__ = _binary(np.subtract)
    __mul__, __rmul__ = _binary(np.multiply)
    __truediv__, __rtruediv__ = _binary(np.true_divide)
    __pow__, __rpow__ = _binary(np.power)
    __matmul__, __rmatmul__ = _binary(np.matmul)
    __and__, __rand__ = _binary(np.bitwise_and)
    __or__, __ror__ = _binary(np.bitwise_or)
    __xor__, __rxor__ = _binary(np.bitwise_xor)
    __lt__ = _binary(np.less)[0]
    __le__ = _binary(np.less_equal)[0]
    __gt__ = _binary(np.greater)[0]
    __ge__ = _binary(np.greater_equal)[0]
    __eq__ = _binary(np.equal)[0]  # type: ignore[assignment]
    __ne__ = _binary(np.not_equal)[0]  # type: ignore[assignment]
    __iadd__ = _in_place(np.add)
    __isub__ = _in_place(np.subtract)
    __imul__ = _in_place(np.multiply)
    __itruediv__ = _in_place(np.true_divide)

    def __neg__(self) -> Any:
        return np.negative(self)

    def __abs__(self) -> Any:
        return np.absolute(self)

    def __invert__(self) -> Any:
        return np.invert(self)

    def __repr__(self) -> str:
        return f"Traced({self.v!r})"
