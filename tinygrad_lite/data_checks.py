"""Checks and decisions library code makes on tensor data, made again on every jit replay.

Eager code may look at the values it computes: a label out of range raises, a probability outside
[0, 1] raises, an integer power with a negative exponent switches to floats. A jit replay runs only
recorded kernels, so such Python code would run once, during the capture, and a later call with bad
data would silently compute something else. These two helpers run the test now and, while a jitted
function is being captured, record it so that every replay runs it on that call's arrays:

- `check(fn, *tensors, **params)`: `fn(*arrays, **params)` raises on bad data (its error is the
  eager error, raised by the replay at the same point);
- `decide(fn, *tensors, **params)`: `fn(*arrays, **params)` returns a Python value the library
  branches on; a replay whose data gives another value captures again (or raises JitError if the step
  has already changed state).

Eager mode pays one attribute test per call.

>>> import numpy as np
>>> from tinygrad_lite import Tensor
>>> def non_negative(a):
...     if (a < 0).any():
...         raise ValueError("negative value")
>>> check(non_negative, Tensor([1.0, 2.0]))
>>> decide(lambda a: bool((a < 0).any()), Tensor([1, -2]))
True
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import _capture
from .node import TensorCore


def check(fn: Callable[..., Any], /, *tensors: TensorCore, **params: Any) -> None:
    """Run `fn` on the tensors' arrays (it raises on bad data), now and on every jit replay."""
    fn(*[t.data for t in tensors], **params)
    rec = _capture.active
    if rec is not None:
        rec.record_check(fn, tensors, params)


def decide(fn: Callable[..., Any], /, *tensors: TensorCore, **params: Any) -> Any:
    """`fn(*arrays, **params)`, a value the caller branches on; a jit replay checks it comes out the same."""
    result = fn(*[t.data for t in tensors], **params)
    rec = _capture.active
    if rec is not None:
        rec.record_decision(fn, tensors, params, result)
    return result
