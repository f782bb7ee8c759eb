"""The primitive base class and the registry every primitive is listed in.

A primitive is a small class with `forward` (NumPy arrays in, one array out) and
`vjp` (the incoming gradient `g`, the result `out` and the inputs, giving one
gradient per input) side by side. The engine calls `vjp` with NumPy arrays for
a plain `backward()` and with Tensors under `create_graph=True`; because each
`vjp` is written with operators and other primitives (`Prim.call(...)`), the
same rule serves both, and higher-order gradients fall out.

>>> import numpy as np
>>> from tinygrad_lite.ops.unary import Exp
>>> float(Exp.call(np.zeros(())))
1.0
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import numpy as np

from .node import TensorCore, apply_lifted

REGISTRY: dict[str, type[Function]] = {}


F = TypeVar("F", bound=Callable[..., Any])


def single_kernel(fn: F) -> F:
    """Mark `fn`, a pure function of its array arguments that returns a fresh array, as one unit for array
    types that take over NumPy's functions (`__array_function__`): the jit's traced arrays then record it as
    one kernel that calls `fn` again at each replay, instead of failing on what a kernel-by-kernel trace
    cannot follow, such as `fn`'s in-place writes into a buffer it made itself. Plain arrays call `fn` as is.

    >>> import numpy as np
    >>> @single_kernel
    ... def doubled(x):
    ...     out = np.empty_like(x)
    ...     out[...] = 2 * x
    ...     return out
    >>> doubled(np.ones(2)).tolist()
    [2.0, 2.0]
    """
    @functools.wraps(fn)
    def dispatch(*args: Any, **kwargs: Any) -> Any:
        for a in args:
            handler = getattr(type(a), "__array_function__", None)
            if handler is not None and handler is not np.ndarray.__array_function__:
                return a.__array_function__(fn, (type(a),), args, kwargs)
        return fn(*args, **kwargs)
    return dispatch  # type: ignore[return-value]


def register(cls: type[Function]) -> type[Function]:
    """List a primitive in REGISTRY, where the tests find (and demand a test spec for) it."""
    if cls.__name__ in REGISTRY:
        raise ValueError(f"primitive {cls.__name__} registered twice")
    REGISTRY[cls.__name__] = cls
    return cls


class Function:
    """Base of every primitive. An instance is one node of the graph (the `ctx`)."""

    # The inputs are held in slots rather than in a tuple: one object fewer per recorded op for Python's
    # cyclic garbage collector to scan again and again while a long graph is alive.
    __slots__ = ("arity", "in0", "in1", "inputs", "needs_grad", "seq")
    differentiable: ClassVar[bool] = True

    arity: int  # how many inputs are held: in0 (and in1), or `inputs` when more than two; 0 once freed
    in0: Any  # the first input Tensor
    in1: Any  # the second input Tensor (binary ops)
    inputs: tuple[Any, ...] | None  # all input Tensors, for ops with more than two
    needs_grad: tuple[bool, ...]  # which inputs require grad
    seq: int  # creation order: a node is always created after its inputs, so latest-first is topological

    @property
    def parents(self) -> tuple[Any, ...] | None:
        """The input Tensors; None once a backward pass has freed them."""
        n = self.arity
        if n == 0:
            return None
        return (self.in0,) if n == 1 else (self.in0, self.in1) if n == 2 else self.inputs

    def drop_inputs(self) -> None:
        """Let go of the inputs: a backward pass frees the graph this way, and `parents` is None after."""
        self.arity = 0
        self.in0 = self.in1 = self.inputs = None

    def forward(self, *xs: Any, **params: Any) -> np.ndarray:
        raise NotImplementedError

    def vjp(self, g: Any, out: Any, *xs: Any) -> tuple[Any, ...]:
        raise NotImplementedError

    @classmethod
    def call(cls, *args: Any, **params: Any) -> Any:
        """Run the primitive on Tensors (recorded in the graph), else on arrays (plain result).

        VJPs use this, so one rule serves a plain backward (arrays), `create_graph` (Tensors) and the jit's
        recording (traced arrays, which NumPy's functions accept)."""
        for a in args:
            if isinstance(a, TensorCore):
                return apply_lifted(cls, *args, **params)
        out = cls().forward(*args, **params)
        return np.asarray(out) if isinstance(out, np.generic) else out  # NumPy gives scalars for 0-d

    @classmethod
    def apply(cls, *args: Any, **params: Any) -> Any:
        """Run this op on tensors (Python numbers and arrays are lifted to constants) and record it for
        backward: `MyOp.apply(x, 2.0, axis=0)`, the PyTorch and tinygrad habit for custom ops."""
        if not any(isinstance(a, TensorCore) for a in args):
            raise TypeError(f"{cls.__name__}.apply needs at least one Tensor argument, got "
                            f"{', '.join(type(a).__name__ for a in args) or 'none'}")
        return apply_lifted(cls, *args, **params)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


class NumpyFn(Function):
    """`func` applied to the inputs' arrays, a result with no gradient: labels, masks, indices, argmax.

    Library code that computes such values from tensor data applies this (`apply(NumpyFn, t, func=...)`)
    instead of working on `.data`, so the computation is one node of the recorded graph: the jit replays
    it on each call's data rather than freezing the first call's result. Not in REGISTRY: it has no
    derivative to check.
    """

    __slots__ = ()
    differentiable = False

    def forward(self, *xs: np.ndarray, func: Any, **kwargs: Any) -> np.ndarray:
        return func(*xs, **kwargs)  # type: ignore[no-any-return]  # apply makes a scalar an array
