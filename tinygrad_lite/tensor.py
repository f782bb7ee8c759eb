"""The Tensor: a NumPy array plus the node of the graph that produced it.

>>> from tinygrad_lite import Tensor
>>> x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> (x * x).sum().backward()
>>> x.grad.tolist()
[2.0, 4.0, 6.0]
"""
from __future__ import annotations

import itertools
import numbers
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from . import _tape, dtypes, engine, grad_mode
from ._creation import CreationMixin
from ._elementwise import ElementwiseMixin
from ._movement import MovementMixin
from ._nn_ops import NNMixin
from ._reduce import ReduceMixin
from .function import Function
from .ops.unary import Cast


class GradientError(RuntimeError, ValueError):
    """A backward() that cannot run as asked (a RuntimeError, as in PyTorch, and a ValueError)."""


def _to_array(data: Any, dtype: Any) -> np.ndarray:
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
    except (ValueError, TypeError) as exc:
        raise TypeError(f"cannot make a Tensor from {type(data).__name__}: {exc}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"Tensor data must be numeric, got {type(data).__name__} holding {arr.dtype} values")
    if dtype is not None:
        return arr.astype(dtypes.to_dtype(dtype))
    if arr.dtype.kind == "f":
        return arr.astype(dtypes.default_float)
    if arr.dtype.kind in "iu":
        return arr.astype(dtypes.default_int)
    return arr


class Tensor(CreationMixin, ElementwiseMixin, ReduceMixin, MovementMixin, NNMixin):
    """An n-dimensional array that records the operations applied to it, for `backward()`.

    `data` may be a NumPy array (keeps its dtype), a Python number or nested list
    (floats become `dtypes.default_float`, ints int32), or a Tensor. The data is copied.
    """

    __slots__ = ("data", "_grad", "requires_grad", "_ctx", "__weakref__")
    __array_ufunc__ = None  # ndarray (op) Tensor defers to the Tensor's reflected operator

    data: np.ndarray
    _grad: Tensor | np.ndarray | None  # the engine stores a bare array; `grad` wraps it on first access
    requires_grad: bool
    _ctx: Function | None

    def __init__(self, data: Any, dtype: Any = None, requires_grad: bool | None = None) -> None:
        if isinstance(data, Tensor):
            data = data.data
        self.data = _to_array(data, dtype)
        self._grad = None
        self._ctx = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _wrap(cls, data: np.ndarray) -> Tensor:
        """A graph-free Tensor around an array we already own (no copy, no checks)."""
        t = object.__new__(cls)
        t.data, t._grad, t._ctx, t.requires_grad = data, None, None, False
        return t

    @property
    def grad(self) -> Tensor | None:
        """The accumulated gradient (a Tensor of this tensor's shape and dtype), or None."""
        g = self._grad
        if type(g) is np.ndarray:
            # Broadcast views are read-only; a user may write into .grad, so give them a real array.
            g = Tensor._wrap(g if g.flags.writeable else g.copy())
            self._grad = g
        return g  # type: ignore[return-value]

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None and not isinstance(value, Tensor):
            raise TypeError(f"grad must be a Tensor or None, got {type(value).__name__}")
        if value is not None and value.shape != self.shape:
            raise ValueError(f"grad of shape {value.shape} assigned to a tensor of shape {self.shape}")
        if _tape.active is not None:
            _tape.active.record_grad_set(self, value)
        self._grad = value

    # --- attributes -----------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def device(self) -> str:
        return "CPU"

    def numel(self) -> int:
        return int(self.data.size)

    def element_size(self) -> int:
        return int(self.data.itemsize)

    def numpy(self) -> np.ndarray:
        """A copy of the data as a NumPy array."""
        if _tape.active is not None:
            _tape.active.data_read(self, "numpy()")
        return self.data.copy()

    def item(self) -> Any:
        if _tape.active is not None:
            _tape.active.data_read(self, "item()")
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return self.data.item()

    def tolist(self) -> Any:
        if _tape.active is not None:
            _tape.active.data_read(self, "tolist()")
        return self.data.tolist()

    def realize(self) -> Tensor:
        """Returns self: tinygrad_lite is eager (present for tinygrad compatibility)."""
        return self

    def __repr__(self) -> str:
        grad = ", requires_grad=True" if self.requires_grad else ""
        body = np.array2string(self.data, separator=", ", prefix="Tensor(")
        return f"Tensor({body}, dtype={self.dtype}{grad})"

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        return (self[i] for i in range(len(self)))

    def __bool__(self) -> bool:
        if _tape.active is not None:
            _tape.active.data_read(self, "bool(tensor)")
        if self.data.size != 1:
            raise ValueError(f"the truth value of a tensor of shape {self.shape} is ambiguous; use .any() or .all()")
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.dtype.kind not in "iu" or self.data.size != 1:
            raise TypeError(f"only integer tensors with one element can be used as an index, "
                            f"got {self.dtype} {self.shape}")
        return int(self.item())

    __hash__ = object.__hash__  # == is elementwise, so identity hashing is kept explicitly

    # --- autograd -------------------------------------------------------------
    def requires_grad_(self, requires_grad: bool = True, *, flag: bool | None = None) -> Tensor:
        """Set whether gradients are tracked for this (leaf) tensor; returns self. `flag=` is an alias."""
        if flag is not None:
            requires_grad = flag
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"only floating-point tensors can require gradients, this one is {self.dtype}")
        if not requires_grad and self._ctx is not None:
            raise ValueError("requires_grad_(False) on a non-leaf tensor; use detach() instead")
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self) -> Tensor:
        """The same data, cut from the graph."""
        return Tensor._wrap(self.data)

    def retain_grad(self) -> Tensor:
        """No-op kept for PyTorch code: every tensor that requires grad gets `.grad` here."""
        return self

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    def backward(self, gradient: Any = None, retain_graph: bool = False, create_graph: bool = False) -> Tensor:
        """Accumulate d(self)/d(t) into `t.grad` for every `t` with requires_grad that self depends on.

        A non-scalar needs `gradient` (same shape: the vector of the vector-Jacobian product).
        With `create_graph=True` the gradients are themselves differentiable.
        """
        if not self.requires_grad:
            raise GradientError("backward() on a tensor that does not require grad: no input it depends on has "
                                "requires_grad=True (or it was computed under no_grad)")
        root = self._root_grad(gradient)
        if create_graph:
            root = Tensor._wrap(root) if isinstance(root, np.ndarray) else root
        engine.run_backward([self], [root], retain_graph or create_graph, create_graph)
        return self

    def _root_grad(self, gradient: Any) -> Any:
        if gradient is None:
            if self.data.size != 1:
                raise GradientError(f"backward() on a non-scalar tensor of shape {self.shape} needs `gradient` "
                                    f"of that shape")
            return np.ones(self.data.shape, self.data.dtype)
        if isinstance(gradient, Tensor):
            g = gradient.data if gradient._ctx is None or not grad_mode.state.enabled else gradient
        else:
            g = np.asarray(gradient, dtype=self.dtype)
        if g.shape != self.shape:
            raise ValueError(f"backward(): gradient of shape {g.shape} does not match the tensor's shape {self.shape}")
        return g.astype(self.dtype) if isinstance(g, np.ndarray) and g.dtype != self.dtype else g


def _lift(value: Any, like: Sequence[Tensor]) -> Tensor:
    """A constant Tensor for a Python number or array, with weak-scalar dtype rules:
    a Python number takes the dtype of the float tensor beside it (else its own kind's default)."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (bool, np.bool_)):
        kind = "b"
    elif isinstance(value, numbers.Integral):
        kind = "i"
    elif isinstance(value, numbers.Real):
        kind = "f"
    else:
        return Tensor(value)
    for t in like:
        if isinstance(t, Tensor) and (t.dtype.kind == "f" or (kind != "f" and t.dtype.kind != "b")):
            if kind == "f" and t.dtype.kind != "f":
                break
            return _constant(value, t.dtype)
    default = {"b": dtypes.bool, "i": dtypes.default_int, "f": dtypes.default_float}[kind]
    return _constant(value, default)


_constants: dict[tuple[type, float, np.dtype], Tensor] = {}


def _constant(value: float, dtype: np.dtype) -> Tensor:
    """A shared 0-d constant Tensor: constants are never written to, so one per (value, dtype) serves all."""
    key = (type(value), value, dtype)
    t = _constants.get(key)
    if t is None:
        t = Tensor._wrap(np.asarray(value, dtype=dtype))
        if len(_constants) < 4096:  # a loop over many distinct numbers must not grow this without bound
            _constants[key] = t
    return t


def _describe(inputs: Sequence[Tensor], params: dict[str, Any]) -> str:
    shapes = ", ".join(f"{t.shape} {t.dtype}" for t in inputs)
    extra = "".join(f", {k}={v!r}" for k, v in params.items() if k != "index")
    return f"inputs {shapes}{extra}"


_grad_state = grad_mode.state
_node_counter = itertools.count()
_new = object.__new__
# Shared needs_grad tuples (binary ones indexed by the inputs' requires_grad): a new tuple per op would be
# one more object for the cyclic garbage collector to scan while the graph is alive.
_NEEDS1 = (True,)
_NEEDS2 = (((False, False), (False, True)), ((True, False), (True, True)))
_NO_GRAD2 = _NEEDS2[0][0]


def apply(fn: type[Function], *inputs: Tensor, **params: Any) -> Tensor:
    """Run primitive `fn` on Tensors and record it when a gradient may be needed.

    This is the hot path of eager mode: one ctx object and one Tensor per op, nothing inspected.
    The common arities are unrolled, and `**params` is passed only when there are any, because on
    small tensors a list comprehension or an empty `**{}` costs a good part of the NumPy kernel itself.
    """
    ctx = fn()
    n = len(inputs)
    try:
        if n == 2:
            a, b = inputs
            data = ctx.forward(a.data, b.data, **params) if params else ctx.forward(a.data, b.data)
        elif n == 1:
            a = inputs[0]
            data = ctx.forward(a.data, **params) if params else ctx.forward(a.data)
        else:
            data = ctx.forward(*[t.data for t in inputs], **params)
    except (ValueError, IndexError, TypeError) as exc:  # a NumPy error, re-said with the op and its inputs
        raise type(exc)(f"{fn.__name__}: {exc} ({_describe(inputs, params)})") from None
    if type(data) is not np.ndarray:
        data = np.asarray(data)  # NumPy gives scalars for 0-d results
    if _grad_state.detect_anomaly:
        grad_mode.check_finite(data, fn.__name__, "its result", _describe(inputs, params))
    out = _new(Tensor)
    out.data = data
    out._grad = None
    if _tape.active is not None:  # the jit is capturing this call (one test per op in eager mode)
        _tape.active.record_op(ctx, inputs, out, params)
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


def binary(fn: type[Function], x: Tensor, y: Any, reverse: bool = False) -> Tensor:
    """`apply(fn, ...)` on `binary_operands(x, y, reverse)`; two Tensors of one dtype go straight through."""
    if type(y) is Tensor and y.data.dtype is x.data.dtype:
        return apply(fn, y, x) if reverse else apply(fn, x, y)
    if type(y) is float and x.data.dtype.kind == "f":  # the common `x * 0.5`
        c = _constant(y, x.data.dtype)
        return apply(fn, c, x) if reverse else apply(fn, x, c)
    return apply(fn, *binary_operands(x, y, reverse))


def apply_lifted(fn: type[Function], *args: Any, **params: Any) -> Tensor:
    """`apply` where some arguments may be Python numbers or arrays (lifted to constants)."""
    return apply(fn, *[a if isinstance(a, Tensor) else _lift(a, args) for a in args], **params)


def binary_operands(x: Tensor, y: Any, reverse: bool = False) -> tuple[Tensor, Tensor]:
    """Lift y and bring both operands to one dtype (floats win; see dtypes.promote)."""
    if type(y) is Tensor and y.data.dtype == x.data.dtype:
        return (y, x) if reverse else (x, y)
    if type(y) is float and x.data.dtype.kind == "f":  # the common `x * 0.5`
        y = _constant(y, x.data.dtype)
        return (y, x) if reverse else (x, y)
    if not isinstance(y, Tensor):
        if isinstance(y, float) and x.dtype.kind != "f":
            x = cast(x, dtypes.default_float)
        y = _lift(y, (x,))
    if x.dtype != y.dtype:
        target = dtypes.promote(x.dtype, y.dtype)
        x, y = cast(x, target), cast(y, target)
    return (y, x) if reverse else (x, y)


def cast(x: Tensor, dtype: Any) -> Tensor:
    """x in another dtype; casting to a non-float dtype ends the graph (integers carry no gradient)."""
    dt = dtypes.to_dtype(dtype)
    if x.dtype == dt:
        return x
    out = apply(Cast, x, dtype=dt)
    return out if dt.kind == "f" else out.detach()
