"""The dtypes tinygrad_lite knows, as NumPy dtypes, and the rules that pick one.

>>> from tinygrad_lite import dtypes
>>> dtypes.float32, dtypes.default_float
(dtype('float32'), dtype('float32'))
"""
from __future__ import annotations

import builtins
from typing import Any

import numpy as np

float16 = np.dtype(np.float16)
float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int8 = np.dtype(np.int8)
int16 = np.dtype(np.int16)
int32 = np.dtype(np.int32)
int64 = np.dtype(np.int64)
uint8 = np.dtype(np.uint8)
bool = np.dtype(np.bool_)  # noqa: A001 - tinygrad spells it dtypes.bool
half, float, double = float16, float32, float64  # noqa: A001
int = int32  # noqa: A001
long = int64

default_float = float32
default_int = int32

_SUPPORTED_KINDS = "fiub"


def to_dtype(dtype: Any) -> np.dtype:
    """Turn anything NumPy accepts as a dtype (or a dtypes.* name) into a supported np.dtype."""
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"not a dtype: {dtype!r}") from exc
    if dt.kind not in _SUPPORTED_KINDS:
        raise TypeError(f"unsupported dtype {dt}: tinygrad_lite holds bool, integer and float data")
    return dt


class IntegerOverflowError(OverflowError, ValueError):
    """A Python integer that does not fit the integer dtype it would be stored in (never wrapped silently)."""


def int_dtype_for(low: builtins.int, high: builtins.int) -> np.dtype:
    """The dtype for Python integers in [low, high]: default_int (int32) when they fit, else int64."""
    info = np.iinfo(default_int)
    if info.min <= low and high <= info.max:
        return default_int
    if -(2 ** 63) <= low and high < 2 ** 63:
        return int64
    raise IntegerOverflowError(f"integer {low if low < -(2 ** 63) else high} is beyond int64, the widest "
                               f"integer dtype")


def check_int_fits(value: builtins.int, dtype: np.dtype, where: str, hint: str = "pick a wider dtype") -> None:
    """Raise IntegerOverflowError unless Python integer `value` fits integer `dtype`."""
    info = np.iinfo(dtype)
    if not info.min <= value <= info.max:
        raise IntegerOverflowError(f"{where}: integer {value} does not fit {dtype} "
                                   f"(range [{info.min}, {info.max}]); {hint}")


_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2}


def promote_tensors(a: np.dtype, a_ndim: builtins.int, b: np.dtype, b_ndim: builtins.int) -> np.dtype:
    """PyTorch's rule for two tensors: a 0-d tensor beside a dimensioned one counts only when it is of a
    higher category (bool < integer < float), so a 0-d float64 leaves a float32 tensor float32, but a 0-d
    float64 makes an int32 tensor float64. Otherwise `promote`."""
    if (a_ndim == 0) != (b_ndim == 0):
        dim, zero = (b, a) if a_ndim == 0 else (a, b)
        return dim if _CATEGORY[zero.kind] <= _CATEGORY[dim.kind] else zero
    return promote(a, b)


def promote(a: np.dtype, b: np.dtype) -> np.dtype:
    """The dtype of a binary op between tensors: floats win over ints and bools at their own width."""
    if a == b:
        return a
    if a.kind == "f" and b.kind != "f":
        return a
    if b.kind == "f" and a.kind != "f":
        return b
    return np.promote_types(a, b)
