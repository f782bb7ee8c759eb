"""The switches that say whether operations record the graph, and whether NaN/Inf are hunted down.

>>> import tinygrad_lite as tl
>>> x = tl.Tensor([1.0, 2.0], requires_grad=True)
>>> with tl.no_grad():
...     y = x * 2
>>> y.requires_grad
False
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

import numpy as np

F = TypeVar("F", bound=Callable[..., Any])


class _State:
    __slots__ = ("enabled", "detect_anomaly")

    def __init__(self) -> None:
        self.enabled = True  # record the graph
        self.detect_anomaly = False  # check every result and gradient for NaN/Inf


state = _State()


def is_grad_enabled() -> bool:
    return state.enabled


class _Switch:
    """Sets `state.<field>` to a value inside a `with` block or a decorated function, then restores it."""

    field = "enabled"

    def __init__(self, value: bool) -> None:
        self.value = value
        self._previous: list[bool] = []

    def __enter__(self) -> None:
        self._previous.append(getattr(state, self.field))
        setattr(state, self.field, self.value)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        setattr(state, self.field, self._previous.pop())

    def __call__(self, fn: F) -> F:
        field, value = self.field, self.value

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            previous = getattr(state, field)
            setattr(state, field, value)
            try:
                return fn(*args, **kwargs)
            finally:
                setattr(state, field, previous)

        return wrapper  # type: ignore[return-value]


class no_grad(_Switch):  # noqa: N801 - PyTorch's spelling
    """Stop recording: results carry no graph. Works as `with no_grad():`, `@no_grad()` and `@no_grad`."""

    def __new__(cls, fn: Any = None) -> Any:
        if fn is not None:  # used as `@no_grad` without parentheses
            return cls()(fn)
        return super().__new__(cls)

    def __init__(self, fn: Any = None) -> None:
        super().__init__(False)


class enable_grad(_Switch):  # noqa: N801
    """Record again inside a `no_grad` region. Works as a context manager and a decorator, with or
    without parentheses."""

    def __new__(cls, fn: Any = None) -> Any:
        if fn is not None:
            return cls()(fn)
        return super().__new__(cls)

    def __init__(self, fn: Any = None) -> None:
        super().__init__(True)


class AnomalyError(FloatingPointError, ValueError):
    """Raised under `detect_anomaly()` by the first op whose result or gradient holds NaN or Inf."""


class detect_anomaly(_Switch):  # noqa: N801 - PyTorch's spelling
    """Inside this block (or decorated function), the first op whose forward result or backward
    gradient holds NaN or ±Inf raises `AnomalyError` naming the op and its input shapes.

    >>> import tinygrad_lite as tl
    >>> with tl.detect_anomaly():
    ...     tl.Tensor([0.0, 1.0]).log()
    Traceback (most recent call last):
    ...
    tinygrad_lite.grad_mode.AnomalyError: Log produced -inf in its result (inputs (2,) float32)
    """

    field = "detect_anomaly"

    def __init__(self, enabled: bool = True) -> None:
        super().__init__(enabled)


def check_finite(values: Any, op: str, where: str, shapes: str) -> None:
    """Raise AnomalyError if `values` (an array) holds NaN or Inf; called only under detect_anomaly."""
    arr = np.asarray(values)
    if arr.dtype.kind in "fc" and not np.isfinite(arr).all():
        kind = "nan" if np.isnan(arr).any() else ("-inf" if np.isneginf(arr).any() else "inf")
        raise AnomalyError(f"{op} produced {kind} in {where} ({shapes})")
