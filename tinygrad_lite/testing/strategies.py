"""Hypothesis strategies for testing code built on tinygrad_lite (needs `hypothesis`).

Shapes, groups of shapes that broadcast together, floats kept away from kinks, NumPy
arrays, Tensors and reduction axes, built on `hypothesis.extra.numpy`.

>>> from hypothesis import given
>>> from tinygrad_lite.testing import strategies as tst
>>> @given(tst.tensors(shape=tst.shapes(max_dims=2)))
... def test_double_negation(x):
...     assert ((-(-x)).numpy() == x.numpy()).all()
>>> test_double_negation()
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, cast

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from .. import dtypes
from ..tensor import Tensor

__all__ = ["arrays", "broadcastable_shapes", "floats", "reduction_axes", "shapes", "tensors"]

Shape = tuple[int, ...]


def shapes(min_dims: int = 0, max_dims: int = 4, min_side: int = 1, max_side: int = 5) -> st.SearchStrategy[Shape]:
    """Array shapes with `min_dims..max_dims` axes of `min_side..max_side` elements each.

    `min_side=0` allows empty tensors; `min_dims=0` allows 0-d (scalar) shapes.

    >>> from hypothesis import given
    >>> @given(shapes(min_dims=1, max_dims=2, max_side=3))
    ... def test(shape):
    ...     assert 1 <= len(shape) <= 2 and all(1 <= n <= 3 for n in shape)
    >>> test()
    """
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def broadcastable_shapes(n: int = 2, min_dims: int = 0, max_dims: int = 4, min_side: int = 1,
                         max_side: int = 5) -> st.SearchStrategy[tuple[Shape, ...]]:
    """Groups of `n` shapes that broadcast together: ranks differ, and size-1 axes appear.

    >>> import numpy as np
    >>> from hypothesis import given
    >>> @given(broadcastable_shapes(n=3, max_dims=3))
    ... def test(group):
    ...     np.broadcast_shapes(*group)  # never raises
    >>> test()
    """
    return hnp.mutually_broadcastable_shapes(num_shapes=n, min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                                             max_side=max_side).map(lambda b: tuple(b.input_shapes))


def floats(min_value: float = -5.0, max_value: float = 5.0, *, width: Literal[16, 32, 64] = 64,
           avoid: Sequence[float] = (), margin: float = 1e-3) -> st.SearchStrategy[float]:
    """Finite floats in [min_value, max_value], at least `margin` away from each point in `avoid`.

    `avoid` keeps draws off kinks (0 for relu and abs) where finite differences mean nothing;
    `width=32` gives values exactly representable in float32.

    >>> from hypothesis import given
    >>> @given(floats(-1, 1, avoid=(0.0,), margin=0.01))
    ... def test(v):
    ...     assert 0.01 <= abs(v) <= 1
    >>> test()
    """
    base = st.floats(min_value, max_value, allow_nan=False, allow_infinity=False, allow_subnormal=False, width=width)
    if not avoid:
        return base
    points = np.asarray(avoid, dtype=np.float64)
    return base.filter(lambda v: bool(np.all(np.abs(v - points) >= margin)))


def arrays(shape: Shape | st.SearchStrategy[Shape] | None = None, dtype: Any = dtypes.float64,
           elements: st.SearchStrategy[Any] | None = None, *, min_value: float = -5.0, max_value: float = 5.0,
           unique: bool = False) -> st.SearchStrategy[np.ndarray]:
    """NumPy arrays of `shape` (a tuple or a strategy; default `shapes()`) and `dtype`.

    Elements default to `floats(min_value, max_value)` for float dtypes, integers in that range
    for integer dtypes and booleans for bool. `unique=True` makes all elements distinct.

    >>> from hypothesis import given
    >>> @given(arrays((2, 3), "float32", min_value=0.0, max_value=1.0))
    ... def test(a):
    ...     assert a.shape == (2, 3) and a.dtype == np.float32 and ((0 <= a) & (a <= 1)).all()
    >>> test()
    """
    dt = dtypes.to_dtype(dtype)
    if elements is None:
        if dt.kind == "f":
            elements = floats(min_value, max_value, width=cast(Literal[16, 32, 64], min(8 * dt.itemsize, 64)))
        elif dt.kind in "iu":
            elements = st.integers(int(np.ceil(min_value)), int(np.floor(max_value)))
        else:
            elements = st.booleans()
    return hnp.arrays(dt, shapes() if shape is None else shape, elements=elements, unique=unique)


def tensors(shape: Shape | st.SearchStrategy[Shape] | None = None, dtype: Any = dtypes.float64,
            elements: st.SearchStrategy[Any] | None = None, requires_grad: bool = True, *, min_value: float = -5.0,
            max_value: float = 5.0, unique: bool = False) -> st.SearchStrategy[Tensor]:
    """Tensors drawn as `arrays(...)`; float tensors get `requires_grad` (default True).

    >>> from hypothesis import given
    >>> @given(tensors(shape=(3,), elements=floats(0.1, 2.0)))
    ... def test(x):
    ...     assert x.requires_grad and x.dtype == np.float64 and (x.numpy() > 0).all()
    >>> test()
    """
    grad = requires_grad and dtypes.to_dtype(dtype).kind == "f"
    return arrays(shape, dtype, elements, min_value=min_value, max_value=max_value, unique=unique).map(
        lambda a: Tensor(a, requires_grad=grad))


def reduction_axes(ndim: int, *, allow_none: bool = True, allow_int: bool = True,
                   min_size: int = 0) -> st.SearchStrategy[Any]:
    """A valid `axis=` argument for a tensor with `ndim` axes: None, an int or a tuple of distinct
    ints, negative ones included. Tuples have at least `min_size` axes (the empty tuple reduces none).

    >>> from hypothesis import given
    >>> @given(reduction_axes(3))
    ... def test(axis):
    ...     np.zeros((2, 3, 4)).sum(axis=axis)  # NumPy accepts it
    >>> test()
    """
    options: list[st.SearchStrategy[Any]] = [hnp.valid_tuple_axes(ndim, min_size=min(min_size, ndim))]
    if allow_none:
        options.append(st.none())
    if allow_int and ndim > 0 and min_size <= 1:
        options.append(st.integers(-ndim, ndim - 1))
    return st.one_of(*options)
