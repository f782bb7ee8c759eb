"""The node machinery below the Tensor: the data a tensor holds (`TensorCore`), `apply` (run a primitive and
record it in the graph), and lifting Python numbers to constants.

Nothing here imports `tensor.py`: results are made with the class of their first input, so the Tensor
class, assembled in tensor.py from `TensorCore` and the method mixins, is the one that flows through.
Ops, the mixins, the engine and the jit import this module; tensor.py imports all of them.

>>> import numpy as np
>>> from tinygrad_lite import Tensor
>>> from tinygrad_lite.node import apply
>>> from tinygrad_lite.ops.unary import Exp
>>> apply(Exp, Tensor([0.0])).tolist()
[1.0]
"""
from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _capture, dtypes, grad_mode

if TYPE_CHECKING:
    from .function import Function
    from .tensor import Tensor


def to_array(data: Any, dtype: Any) -> np.ndarray:
    """Turn user data into an owned ndarray, applying tinygrad's dtype rules for Python data."""
    if isinstance(data, (np.ndarray, np.generic)):  # NumPy data, scalars included, keeps its dtype
        if data.dtype.kind not in "biuf":
            raise TypeError(f"Tensor data must be numeric, got NumPy data of dtype {data.dtype}")
        return np.array(data, dtype=None if dtype is None else dtypes.to_dtype(dtype), copy=True)
    if isinstance(data, (str, bytes, dict, set)) or data is None:
        raise TypeError(f"Tensor data must be a number, a nested list of numbers or an array, "
                        f"got {type(data).__name__}")
    try:
        arr = np.array(data)
    except (ValueError, TypeError, OverflowError) as exc:
        raise TypeError(f"cannot make a Tensor from {type(data).__name__}: {exc}") from None
    if arr.dtype == object and _holds_int(arr):  # NumPy keeps integers beyond 64 bits as Python objects
        raise dtypes.IntegerOverflowError(f"Tensor data holds an integer beyond int64, the widest integer dtype "
                                          f"(largest magnitude {max(abs(v) for v in arr.flat if _is_int(v))})")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"Tensor data must be numeric, got {type(data).__name__} holding {arr.dtype} values")
    # Python integers are never wrapped: int32 when they fit, int64 when not (as PyTorch's int64), and an
    # explicit integer dtype they do not fit is an error, as PyTorch's "value cannot be converted".
    ints = arr.dtype.kind in "iu" and arr.size
    if dtype is not None:
        dt = dtypes.to_dtype(dtype)
        if ints and dt.kind in "iu":
            for v in (int(arr.min()), int(arr.max())):
                dtypes.check_int_fits(v, dt, "Tensor")
        return arr.astype(dt)
    if arr.dtype.kind == "f":
        return arr.astype(dtypes.default_float)
    if arr.dtype.kind in "iu":
        return arr.astype(dtypes.int_dtype_for(int(arr.min()), int(arr.max())) if ints else dtypes.default_int)
    return arr


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _holds_int(arr: np.ndarray) -> bool:
    return any(_is_int(v) for v in arr.flat)


class TensorCore:
    """What every tensor holds: its array, its gradient, whether it requires one, and the node that made it.

    tensor.py builds the user-facing `Tensor` on this with the method mixins; code below tensor.py sees
    tensors as TensorCore (for isinstance) and makes new ones with `type(t)`.
    """

    # The array lives in the slot `_data`, read directly by the hot paths (apply, the backward walk); the public
    # `data` is a property so that writing it (`t.data = a`, `t.data -= x`) bumps the version.
    # `_writes` and `_written` are set only by `bump_version` (an in-place write): left unset, they cost
    # nothing on the hot path, and an unset one reads as 0 / "never written".
    __slots__ = ("_data", "_grad", "requires_grad", "_ctx", "_writes", "_written", "__weakref__")
    __array_ufunc__ = None  # ndarray (op) Tensor defers to the Tensor's reflected operator

    _data: np.ndarray
    _grad: Any  # a bare array from the engine, or a Tensor (`Tensor.grad` wraps the array on first access)
    requires_grad: bool
    _ctx: Function | None
    _writes: int  # how many in-place writes this tensor's data has had (`_version`)
    _written: int  # the node counter's value at the last in-place write: compared with `ctx.seq` by backward

    def __init__(self, data: Any, dtype: Any = None, requires_grad: bool | None = None) -> None:
        if isinstance(data, TensorCore):
            data = data._data
        self._data = to_array(data, dtype)
        self._grad = None
        self._ctx = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    def requires_grad_(self, requires_grad: bool = True, *, flag: bool | None = None) -> Any:
        """Set whether gradients are tracked for this (leaf) tensor; returns self. `flag=` is an alias."""
        if flag is not None:
            requires_grad = flag
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"only floating-point tensors can require gradients, this one is {self.data.dtype}")
        if not requires_grad and self._ctx is not None:
            raise ValueError("requires_grad_(False) on a non-leaf tensor; use detach() instead")
        self.requires_grad = bool(requires_grad)
        return self

    @classmethod
    def _wrap(cls, data: np.ndarray) -> Any:
        """A graph-free tensor around an array we already own (no copy, no checks)."""
        t = _new(cls)
        t._data, t._grad, t._ctx, t.requires_grad = data, None, None, False
        return t

    @property
    def data(self) -> np.ndarray:
        """The NumPy array holding the values. Writing it - `t.data = a`, or `t.data -= x` which writes the
        same array back - counts as an in-place write (see `_version`); writes into the array itself
        (`t.data[0] = 1`) are not seen, as PyTorch does not see writes through `.data` either."""
        return self._data

    @data.setter
    def data(self, value: np.ndarray) -> None:
        if not isinstance(value, np.ndarray):
            raise TypeError(f"Tensor.data must be a NumPy array, got {type(value).__name__}; "
                            f"use assign() to write values into a tensor")
        self._data = value
        bump_version(self)

    @property
    def _version(self) -> int:
        """How many times the data was written in place (optimizer steps, `assign`, in-place methods), as
        PyTorch's `_version`. A backward that needs this tensor's values as they were raises if it changed."""
        return getattr(self, "_writes", 0)

    @property
    def shape(self) -> tuple[int, ...]:
        return self._data.shape

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def ndim(self) -> int:
        return self._data.ndim

    __hash__ = object.__hash__  # == is elementwise on tensors, so identity hashing is kept explicitly


# --- constants -------------------------------------------------------------------------------------
def lift(value: Any, like: Sequence[Any]) -> Tensor:
    """A constant tensor for a Python number or array, with weak-scalar dtype rules: a Python number takes
    the dtype of the float tensor beside it in `like` (else its own kind's default); a Python int beside an
    integer tensor takes that tensor's dtype, and one that does not fit it raises IntegerOverflowError."""
    if isinstance(value, TensorCore):
        return value  # type: ignore[return-value]  # a TensorCore is always a Tensor at run time
    cls = next((type(t) for t in like if isinstance(t, TensorCore)), None)
    if cls is None:
        raise TypeError(f"lift: no tensor among {len(like)} operands to take the class from")
    if isinstance(value, (bool, np.bool_)):
        kind = "b"
    elif isinstance(value, numbers.Integral):
        kind = "i"
    elif isinstance(value, numbers.Real):
        kind = "f"
    else:
        return cls(value)  # type: ignore[no-any-return,return-value]
    for t in like:
        if isinstance(t, TensorCore) and (t.data.dtype.kind == "f" or (kind != "f" and t.data.dtype.kind != "b")):
            if kind == "f" and t.data.dtype.kind != "f":
                break
            if kind == "i" and t.data.dtype.kind != "f":  # never wrapped: an error that names the dtype
                dtypes.check_int_fits(int(value), t.data.dtype, "Python integer operand",
                                      "cast the tensor first, e.g. `t.cast(dtypes.int64)`")
            return constant(value, t.data.dtype, cls)
    if kind == "i":
        return constant(value, dtypes.int_dtype_for(int(value), int(value)), cls)
    default = dtypes.bool if kind == "b" else dtypes.default_float
    return constant(value, default, cls)


constants: dict[tuple[Any, ...], Any] = {}


def constant(value: Any, dtype: np.dtype, cls: type) -> Tensor:
    """A shared 0-d constant tensor: constants are never written to, so one per (value, dtype) serves all."""
    key: tuple[Any, ...] = (type(value), value, dtype)
    if value == 0 and type(value) is float:
        key += (math.copysign(1.0, value),)  # 0.0 == -0.0, but 1/x tells them apart
    t = constants.get(key)
    if t is None:
        t = cls._wrap(np.asarray(value, dtype=dtype))  # type: ignore[attr-defined]
        if len(constants) < 4096 and value == value:  # bounded; NaN never equals itself, so is never found
            constants[key] = t
    return t  # type: ignore[no-any-return]


# --- apply -----------------------------------------------------------------------------------------
def describe(inputs: Sequence[Any], params: dict[str, Any]) -> str:
    shapes = ", ".join(f"{t.shape} {t.dtype}" for t in inputs)
    extra = "".join(f", {k}={v!r}" for k, v in params.items() if k != "index")
    return f"inputs {shapes}{extra}"


_grad_state = grad_mode.fast  # per-thread settings, as plain bools while no thread has switched them
_node_counter = itertools.count()
last_write = -1  # the stamp of the latest in-place write to any tensor: backward checks only nodes older than it


def bump_version(t: TensorCore) -> None:
    """Record that `t.data` was just written in place, so a backward that saved `t` before can tell.

    The stamp comes from the counter that numbers graph nodes (`ctx.seq`): a node whose `seq` is below an
    input's stamp was recorded before the write, and its VJP would read the new values. Call it after any
    in-place change of a tensor's array (optimizers, `assign`, in-place methods).
    """
    global last_write
    last_write = t._written = next(_node_counter)
    try:
        t._writes += 1
    except AttributeError:  # the first write: the slot is still unset
        t._writes = 1


def check_versions(ctx: Function, out: TensorCore, parents: Sequence[TensorCore]) -> None:
    """Raise if `out` or an input of `ctx` was written in place after `ctx` was recorded (its VJP reads them)."""
    seq = ctx.seq
    for what, t in (("its result", out), *((f"input {i}", p) for i, p in enumerate(parents))):
        if getattr(t, "_written", -1) > seq:
            leaf = "a leaf tensor" if t._ctx is None else f"the result of {type(t._ctx).__name__}"
            raise RuntimeError(
                f"backward through {type(ctx).__name__} needs {what} ({t.shape} {t.dtype}, {leaf}) as it was "
                f"when {type(ctx).__name__} ran, but it has been modified in place since (now at version "
                f"{t._version}; by an optimizer step, assign(), a write to .data or an in-place method). "
                f"Compute the forward pass again after the update, or call backward() before modifying it.")
_new = object.__new__
# Shared needs_grad tuples (binary ones indexed by the inputs' requires_grad): a new tuple per op would be
# one more object for the cyclic garbage collector to scan while the graph is alive.
_NEEDS1 = (True,)
_NEEDS2 = (((False, False), (False, True)), ((True, False), (True, True)))
_NO_GRAD2 = _NEEDS2[0][0]


def _reraise(exc: Exception, fn: type, inputs: Sequence[Any], params: dict[str, Any]) -> Exception:
    """The same exception type with the op and its inputs named, for any constructor signature."""
    message = f"{fn.__name__}: {exc} ({describe(inputs, params)})"
    try:
        return type(exc)(message)
    except TypeError:  # a constructor that wants more than a message (NumPy's _UFuncNoLoopError): its base
        for base in type(exc).__mro__[1:]:
            if issubclass(base, Exception):
                try:
                    return base(message)
                except TypeError:
                    continue
        return TypeError(message)


def apply(fn: type[Function], *inputs: Any, **params: Any) -> Any:
    """Run primitive `fn` on tensors and record it when a gradient may be needed.

    This is the hot path of eager mode: one ctx object and one tensor per op, nothing inspected.
    The common arities are unrolled, and `**params` is passed only when there are any, because on
    small tensors a list comprehension or an empty `**{}` costs a good part of the NumPy kernel itself.
    """
    ctx = fn()
    n = len(inputs)
    try:
        if n == 2:
            a, b = inputs
            data = ctx.forward(a._data, b._data, **params) if params else ctx.forward(a._data, b._data)
        elif n == 1:
            a = inputs[0]
            data = ctx.forward(a._data, **params) if params else ctx.forward(a._data)
        else:
            a = inputs[0]
            data = ctx.forward(*[t._data for t in inputs], **params)
    except (ValueError, IndexError, TypeError) as exc:  # a NumPy error, re-said with the op and its inputs
        raise _reraise(exc, fn, inputs, params) from None
    if type(data) is not np.ndarray:
        data = np.asarray(data)  # NumPy gives scalars for 0-d results
    if _grad_state.detect_anomaly:
        grad_mode.check_finite(data, fn.__name__, "its result", describe(inputs, params))
    out = _new(type(a))
    out._data = data
    out._grad = None
    if _capture.active is not None:  # the jit is capturing this call (one test per op in eager mode)
        _capture.active.record_op(ctx, inputs, out, params)
    if _grad_state.enabled and fn.differentiable:
        # The inputs go into the ctx's slots, so the `inputs` tuple itself is not kept.
        needs: tuple[bool, ...]
        if n == 2:
            needs = _NEEDS2[a.requires_grad][b.requires_grad]
            record = needs is not _NO_GRAD2
            if record:
                ctx.in0, ctx.in1 = a, b
        elif n == 1:
            record = a.requires_grad
            if record:
                needs = _NEEDS1
                ctx.in0 = a
        else:
            needs = tuple([t.requires_grad for t in inputs])
            record = True in needs
            if record:
                ctx.inputs = inputs
        if record:
            ctx.arity = n
            ctx.needs_grad = needs
            ctx.seq = next(_node_counter)
            out._ctx = ctx
            out.requires_grad = True
            return out
    out._ctx = None
    out.requires_grad = False
    return out


def apply_lifted(fn: type[Function], *args: Any, **params: Any) -> Any:
    """`apply` where some arguments may be Python numbers or arrays (lifted to constants)."""
    return apply(fn, *[a if isinstance(a, TensorCore) else lift(a, args) for a in args], **params)


def binary(fn: type[Function], x: Any, y: Any, reverse: bool = False) -> Any:
    """`apply(fn, x, y)` (or `(y, x)` when `reverse`) on the operands `binary_operands` makes. Every arithmetic
    operator comes here: two tensors of one dtype, and a float beside a float tensor (the common `x * 0.5`),
    need no lifting or promotion, and are tested for first."""
    if type(y) is type(x) and y._data.dtype is x._data.dtype:
        return apply(fn, y, x) if reverse else apply(fn, x, y)
    if type(y) is float and x._data.dtype.kind == "f":
        c = constant(y, x._data.dtype, type(x))
        return apply(fn, c, x) if reverse else apply(fn, x, c)
    return apply(fn, *binary_operands(x, y, reverse))


def binary_operands(x: Any, y: Any, reverse: bool = False) -> tuple[Any, Any]:
    """Lift y and bring both operands to one dtype (floats win; see dtypes.promote); returned in call order,
    (y, x) when `reverse`."""
    if not isinstance(y, TensorCore):
        if isinstance(y, float) and x.data.dtype.kind != "f":
            x = x.cast(dtypes.default_float)
        y = lift(y, (x,))
    xd, yd = x.data, y.data
    if xd.dtype != yd.dtype:
        if (xd.ndim == 0) == (yd.ndim == 0):
            target = dtypes.promote(xd.dtype, yd.dtype)
        else:  # a 0-d tensor beside a dimensioned one counts only from a higher category (PyTorch's rule)
            target = dtypes.promote_tensors(xd.dtype, xd.ndim, yd.dtype, yd.ndim)
        x, y = x.cast(target), y.cast(target)
    return (y, x) if reverse else (x, y)
