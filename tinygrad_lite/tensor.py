"""The Tensor: a NumPy array plus the node of the graph that produced it.

>>> from tinygrad_lite import Tensor
>>> x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> (x * x).sum().backward()
>>> x.grad.tolist()
[2.0, 4.0, 6.0]
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from . import _capture, engine, grad_mode
from ._attention import AttentionMixin
from ._conv import ConvMixin
from ._creation import CreationMixin
from ._elementwise import ElementwiseMixin
from ._movement import MovementMixin
from ._nn_ops import NNMixin
from ._reduce import ReduceMixin
from .node import TensorCore, bump_version


class GradientError(RuntimeError, ValueError):
    """A backward() that cannot run as asked (a RuntimeError, as in PyTorch, and a ValueError)."""


class Tensor(CreationMixin, ElementwiseMixin, ReduceMixin, MovementMixin, NNMixin, ConvMixin, AttentionMixin,
             TensorCore):
    """An n-dimensional array that records the operations applied to it, for `backward()`.

    `data` may be a NumPy array (keeps its dtype), a Python number or nested list
    (floats become `dtypes.default_float`, ints int32), or a Tensor. The data is copied.
    """

    __slots__ = ()
    __hash__ = TensorCore.__hash__  # the mixins define == (elementwise), which would unset hashing

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
        if _capture.active is not None:
            _capture.active.record_grad_set(self, value)
        self._grad = value

    # --- attributes -----------------------------------------------------------
    @property
    def device(self) -> str:
        return "CPU"

    def numel(self) -> int:
        return int(self.data.size)

    def element_size(self) -> int:
        return int(self.data.itemsize)

    def numpy(self) -> np.ndarray:
        """A copy of the data as a NumPy array."""
        if _capture.active is not None:
            _capture.active.data_read(self, "numpy()")
        return self.data.copy()

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        """`np.asarray(t)` and `np.array(t)`: the data as an ndarray. Without a copy it is a read-only view,
        so NumPy code cannot change the tensor behind the graph's back."""
        if _capture.active is not None:
            _capture.active.data_read(self, "np.asarray(tensor)")
        data = self.data
        if dtype is not None and np.dtype(dtype) != data.dtype:
            if copy is False:
                raise ValueError(f"np.asarray(tensor, dtype={np.dtype(dtype)}, copy=False): converting from "
                                 f"{data.dtype} needs a copy")
            return data.astype(dtype)
        if copy:
            return data.copy()
        view = data.view()
        view.flags.writeable = False
        return view

    def zero_(self) -> Tensor:
        """Fill with zeros in place and return self (`p.grad.zero_()`). A tensor that requires grad is zeroed
        only under `no_grad`, as in PyTorch: elsewhere the write would be invisible to the graph."""
        if self.requires_grad and grad_mode.is_grad_enabled():
            raise GradientError("zero_() on a tensor that requires grad: an in-place write the graph cannot see; "
                                "do it inside `with tl.no_grad():`")
        if _capture.active is not None:
            raise TypeError("zero_() inside a jitted function: in-place writes are not recorded; use `t * 0` or "
                            "Tensor.zeros_like(t)")
        if self.data.flags.writeable:
            self.data[...] = 0  # in place, as PyTorch: tensors sharing this memory (detach()) see it too
        else:  # a read-only broadcast view: the tensor gets its own zeros
            self.data = np.zeros_like(self.data)
        return self

    def item(self) -> Any:
        if _capture.active is not None:
            _capture.active.data_read(self, "item()")
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return self.data.item()

    def tolist(self) -> Any:
        if _capture.active is not None:
            _capture.active.data_read(self, "tolist()")
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
        if _capture.active is not None:
            _capture.active.data_read(self, "bool(tensor)")
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

    # --- autograd -------------------------------------------------------------
    def detach(self) -> Tensor:
        """The same data, cut from the graph."""
        return Tensor._wrap(self.data)

    def assign(self, value: Any) -> Tensor:
        """Write `value` (a Tensor, array or number broadcastable to this shape) into this tensor's data in
        place, as tinygrad's `assign`; returns self. Bumps `_version`: a backward through a graph recorded
        before the write raises rather than use the new values.

        >>> w = Tensor([1.0, 2.0])
        >>> w.assign([3.0, 4.0]).tolist(), w._version
        ([3.0, 4.0], 1)
        """
        if _capture.active is not None:
            raise RuntimeError("assign() inside a jitted function: the replay runs only the recorded operations "
                               "and would not repeat the write. Return the new values and assign them outside, "
                               "or update parameters with an optimizer (its step is replayed).")
        src = value.data if isinstance(value, Tensor) else np.asarray(value)
        try:
            shape = np.broadcast_shapes(src.shape, self.shape)
        except ValueError:
            shape = None
        if shape != self.shape:
            raise ValueError(f"assign: a value of shape {src.shape} cannot be written into a tensor of shape "
                             f"{self.shape}")
        if not np.can_cast(src.dtype, self.dtype, "same_kind"):
            raise TypeError(f"assign: cannot write {src.dtype} values into a {self.dtype} tensor")
        np.copyto(self.data, src, casting="same_kind")
        bump_version(self)
        return self

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
            data = self._data
            # np.array(1) for the usual 0-d loss: np.ones is a Python function, four times slower
            return np.array(1, data.dtype) if data.ndim == 0 else np.ones(data.shape, data.dtype)
        if isinstance(gradient, Tensor):
            g = gradient.data if gradient._ctx is None or not grad_mode.state.enabled else gradient
        else:
            g = np.asarray(gradient, dtype=self.dtype)
        if g.shape != self.shape:
            raise ValueError(f"backward(): gradient of shape {g.shape} does not match the tensor's shape {self.shape}")
        # A copy: the root's `.grad` (and any leaf the gradient passes through to) must not be the caller's array
        return np.array(g, dtype=self.dtype, copy=True) if isinstance(g, np.ndarray) else g

    def to_dot(self, show_values: bool = False, show_grads: bool = False, **options: Any) -> str:
        """The graph behind this tensor as Graphviz DOT text: see `tinygrad_lite.draw.to_dot`."""
        from .draw import to_dot  # a late import: drawing is not part of the engine

        return to_dot(self, show_values, show_grads, **options)
