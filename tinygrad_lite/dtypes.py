"""The dtypes tinygrad_lite knows, as NumPy dtypes, and the rules that pick one.

>>> from tinygrad_lite import dtypes
>>> dtypes.float32, dtypes.default_float
(dtype('float32'), dtype('float32'))
"""
from __future__ import annotations

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


def promote(a: np.dtype, b: np.dtype) -> np.dtype:
    """The dtype of a binary op between tensors: floats win over ints and bools at their own width."""
    if a == b:
        return a
    if a.kind == "f" and b.kind != "f":
        return a
    if b.kind == "f" and a.kind != "f":
        return b
    return np.promote_types(a, b)
