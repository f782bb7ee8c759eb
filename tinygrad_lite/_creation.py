"""Creating tensors: constants, ranges and random draws (one seeded generator)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from . import dtypes

if TYPE_CHECKING:
    from .tensor import Tensor


class _Rng:
    __slots__ = ("gen",)

    def __init__(self) -> None:
        self.gen = np.random.default_rng()


rng = _Rng()


def parse_shape(shape: tuple[Any, ...]) -> tuple[int, ...]:
    """Accept `f(2, 3)` and `f((2, 3))` alike; reject negative or non-integer sizes."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    try:
        out = tuple(int(n) for n in shape)
    except (TypeError, ValueError):
        raise TypeError(f"a shape is a sequence of ints, got {shape!r}") from None
    if any(n < 0 for n in out) or any(isinstance(n, float) for n in shape):
        raise ValueError(f"a shape needs non-negative integer sizes, got {shape!r}")
    return out


def _float_dtype(dtype: Any) -> np.dtype:
    return dtypes.default_float if dtype is None else dtypes.to_dtype(dtype)


def _int_checked(value: Any, dtype: Any, op: str) -> np.dtype:
    """`dtype` as an np.dtype, after checking that a Python integer `value` fits it (never wrapped)."""
    dt = dtypes.to_dtype(dtype)
    if dt.kind in "iu" and isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        dtypes.check_int_fits(int(value), dt, op)
    return dt


class CreationMixin:
    """Static constructors of Tensor, following tinygrad's names and signatures."""
    __slots__ = ()


    @classmethod
    def _make(cls, data: np.ndarray, requires_grad: bool | None) -> Tensor:
        t = cls._wrap(data)  # type: ignore[attr-defined]
        return t.requires_grad_(True) if requires_grad else t

    @classmethod
    def manual_seed(cls, seed: int = 0) -> None:
        """Seed the generator behind rand, randn, uniform, normal, randint and nn.init."""
        rng.gen = np.random.default_rng(seed)

    @classmethod
    def full(cls, shape: Any, fill_value: Any, dtype: Any = None, requires_grad: bool | None = None) -> Tensor:
        """A tensor of `shape` filled with `fill_value`. `Tensor.full((2, 2), 7.0)`"""
        shp = parse_shape(tuple(shape) if isinstance(shape, (tuple, list)) else (shape,))
        if dtype is None:
            dtype = (dtypes.bool if isinstance(fill_value, bool) else
                     dtypes.int_dtype_for(fill_value, fill_value) if isinstance(fill_value, int) else
                     dtypes.default_float)
        return cls._make(np.full(shp, fill_value, dtype=_int_checked(fill_value, dtype, "full")), requires_grad)

    @classmethod
    def zeros(cls, *shape: Any, dtype: Any = None, requires_grad: bool | None = None) -> Tensor:
        """`Tensor.zeros(2, 3)` or `Tensor.zeros((2, 3))`; float32 unless `dtype` says otherwise."""
        return cls._make(np.zeros(parse_shape(shape), dtype=_float_dtype(dtype)), requires_grad)

    @classmethod
    def ones(cls, *shape: Any, dtype: Any = None, requires_grad: bool | None = None) -> Tensor:
        """`Tensor.ones(2, 3)`"""
        return cls._make(np.ones(parse_shape(shape), dtype=_float_dtype(dtype)), requires_grad)

    @classmethod
    def empty(cls, *shape: Any, dtype: Any = None, requires_grad: bool | None = None) -> Tensor:
        """Uninitialised memory of the given shape."""
        return cls._make(np.empty(parse_shape(shape), dtype=_float_dtype(dtype)), requires_grad)

    @classmethod
    def eye(cls, n: int, m: int | None = None, dtype: Any = None, requires_grad: bool | None = None) -> Tensor:
        """The n×m identity matrix. `Tensor.eye(3)`"""
        parse_shape((n,) if m is None else (n, m))
        return cls._make(np.eye(n, m, dtype=_float_dtype(dtype)), requires_grad)

    @classmethod
    def arange(cls, start: float, stop: float | None = None, step: float = 1, dtype: Any = None,
               requires_grad: bool | None = None) -> Tensor:
        """Evenly spaced values in [start, stop). `Tensor.arange(5)` is int32 (int64 for values beyond int32),
        `Tensor.arange(0, 1, 0.25)` float32."""
        if stop is None:
            start, stop = 0, start
        if step == 0:
            raise ValueError("arange: step must not be zero")
        ints = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (start, stop, step))
        values = np.arange(start, stop, step)
        if ints and values.size:  # never wrapped: int32 while the values fit, else int64 (or an explicit error)
            low, high = int(values.min()), int(values.max())
            if dtype is None:
                dtype = dtypes.int_dtype_for(low, high)
            elif dtypes.to_dtype(dtype).kind in "iu":
                for v in (low, high):
                    dtypes.check_int_fits(v, dtypes.to_dtype(dtype), "arange")
        if dtype is None:
            dtype = dtypes.default_int if ints else dtypes.default_float
        return cls._make(values.astype(dtypes.to_dtype(dtype)), requires_grad)

    @classmethod
    def linspace(cls, start: float, stop: float, steps: int, dtype: Any = None,
                 requires_grad: bool | None = None) -> Tensor:
        """`steps` evenly spaced values from start to stop, both included."""
        return cls._make(np.linspace(start, stop, int(steps)).astype(_float_dtype(dtype)), requires_grad)

    @classmethod
    def rand(cls, *shape: Any, dtype: Any = None, requires_grad: bool | None = None) -> Tensor:
        """Uniform on [0, 1). `Tensor.rand(2, 3)`"""
        return cls._make(rng.gen.random(parse_shape(shape)).astype(_float_dtype(dtype)), requires_grad)

    @classmethod
    def randn(cls, *shape: Any, dtype: Any = None, requires_grad: bool | None = None) -> Tensor:
        """Standard normal draws. `Tensor.randn(2, 3)`"""
        return cls._make(rng.gen.standard_normal(parse_shape(shape)).astype(_float_dtype(dtype)), requires_grad)

    @classmethod
    def uniform(cls, *shape: Any, low: float = 0.0, high: float = 1.0, dtype: Any = None,
                requires_grad: bool | None = None) -> Tensor:
        """Uniform on [low, high)."""
        data = rng.gen.uniform(low, high, parse_shape(shape)).astype(_float_dtype(dtype))
        return cls._make(data, requires_grad)

    @classmethod
    def normal(cls, *shape: Any, mean: float = 0.0, std: float = 1.0, dtype: Any = None,
               requires_grad: bool | None = None) -> Tensor:
        """Normal draws with the given mean and standard deviation."""
        data = rng.gen.normal(mean, std, parse_shape(shape)).astype(_float_dtype(dtype))
        return cls._make(data, requires_grad)

    @classmethod
    def randint(cls, *shape: Any, low: int = 0, high: int = 10, dtype: Any = None) -> Tensor:
        """Integers in [low, high). `Tensor.randint(3, low=0, high=5)`"""
        if high <= low:
            raise ValueError(f"randint: high ({high}) must be greater than low ({low})")
        dt = dtypes.int_dtype_for(low, high - 1) if dtype is None else dtypes.to_dtype(dtype)
        if dt.kind in "iu":
            for v in (low, high - 1):
                dtypes.check_int_fits(v, dt, "randint")
        return cls._make(rng.gen.integers(low, high, parse_shape(shape)).astype(dt), None)

    # Instance methods, so that both `Tensor.zeros_like(t)` and `t.zeros_like()` work.
    def zeros_like(self: Tensor, dtype: Any = None, requires_grad: bool | None = None) -> Tensor:
        """Zeros of this tensor's shape and dtype."""
        return self.full_like(0, dtype=dtype, requires_grad=requires_grad)

    def ones_like(self: Tensor, dtype: Any = None, requires_grad: bool | None = None) -> Tensor:
        """Ones of this tensor's shape and dtype."""
        return self.full_like(1, dtype=dtype, requires_grad=requires_grad)

    def full_like(self: Tensor, fill_value: Any, dtype: Any = None, requires_grad: bool | None = None) -> Tensor:
        """`fill_value` in this tensor's shape and dtype."""
        dt = _int_checked(fill_value, self.dtype if dtype is None else dtype, "full_like")
        return type(self)._make(np.full(self.shape, fill_value, dtype=dt), requires_grad)
