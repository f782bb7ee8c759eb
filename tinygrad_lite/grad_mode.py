"""The switches that say whether operations record the graph, and whether NaN/Inf are hunted down.

Both are per thread (as PyTorch's grad mode is): `no_grad` in one thread leaves the others recording.

>>> import tinygrad_lite as tl
>>> x = tl.Tensor([1.0, 2.0], requires_grad=True)
>>> with tl.no_grad():
...     y = x * 2
>>> y.requires_grad
False
"""
from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

import numpy as np

F = TypeVar("F", bound=Callable[..., Any])


_DEFAULTS = {"enabled": True, "detect_anomaly": False}
_local = threading.local()  # `.settings`: this thread's _Settings, present once a switch changed one
_lock = threading.RLock()  # re-entrant: a _Settings finalizer may run while this thread holds it
_differing = {"enabled": 0, "detect_anomaly": 0}  # how many threads hold a setting other than its default


class _Settings(dict[str, bool]):
    """One thread's settings. When the thread ends, Python drops its `threading.local` storage and with it
    this dict, whose finalizer takes the thread's switched settings out of the count: a thread that ended
    inside `no_grad` (a generator never finished) does not keep the per-op stand-ins in place forever."""

    def __del__(self) -> None:
        try:
            for field, value in self.items():
                if value != _DEFAULTS[field]:
                    _count(field, -1)
        except Exception:  # noqa: BLE001, S110 - at interpreter exit the module's globals may be gone
            pass


def _get(field: str) -> bool:
    settings = getattr(_local, "settings", None)
    return _DEFAULTS[field] if settings is None else settings[field]


def _count(field: str, change: int) -> None:
    with _lock:
        _differing[field] += change
        setattr(fast, field, _DEFAULTS[field] if _differing[field] == 0 else _PER_THREAD[field])


class _ThisThread:
    """A stand-in for a setting in `fast` while threads disagree: its truth value is the calling thread's."""

    __slots__ = ("field",)

    def __init__(self, field: str) -> None:
        self.field = field

    def __bool__(self) -> bool:
        return _get(self.field)


_PER_THREAD = {field: _ThisThread(field) for field in _DEFAULTS}


class _Fast:
    """What `node.apply` reads per op. Each setting is a plain bool while every thread has it at its default
    (the common case: one attribute read, as fast as a global), and a `_ThisThread` stand-in while some
    thread has switched it (a `threading.local` lookup, paid only then)."""

    __slots__ = ("enabled", "detect_anomaly")

    def __init__(self) -> None:
        self.enabled: bool | _ThisThread = True  # record the graph
        self.detect_anomaly: bool | _ThisThread = False  # check every result and gradient for NaN/Inf


fast = _Fast()


def _set(field: str, value: bool) -> None:
    """Set the calling thread's setting, and keep `fast` right for every thread."""
    value = bool(value)
    settings = getattr(_local, "settings", None)
    if settings is None:
        settings = _local.settings = _Settings(_DEFAULTS)
    with _lock:
        old = settings[field]
        settings[field] = value
        if old != value:
            _count(field, 1 if old == _DEFAULTS[field] else -1)


class _State:
    """The calling thread's settings, as bools (`state.enabled`, `state.detect_anomaly`); settable."""

    # `fast` answers without a thread-local lookup while no thread has switched the setting
    @property
    def enabled(self) -> bool:
        return bool(fast.enabled)

    @enabled.setter
    def enabled(self, value: bool) -> None:
        _set("enabled", value)

    @property
    def detect_anomaly(self) -> bool:
        return bool(fast.detect_anomaly)

    @detect_anomaly.setter
    def detect_anomaly(self, value: bool) -> None:
        _set("detect_anomaly", value)


state = _State()


def is_grad_enabled() -> bool:
    """Whether operations record the graph in the calling thread (each thread has its own setting)."""
    return bool(fast.enabled)


class _Switch:
    """Sets the calling thread's `<field>` inside a `with` block or a decorated function, then restores it.

    The setting is per thread, as in PyTorch: one thread inside `no_grad` does not stop another from
    recording, and threads entering and leaving in any order each get back what they had. One instance may
    be entered by several threads at once (each keeps its own stack of previous values).
    """

    field = "enabled"

    def __init__(self, value: bool) -> None:
        self.value = value
        self._previous: dict[int, list[bool]] = {}  # thread ident -> the values to restore

    def __enter__(self) -> None:
        self._previous.setdefault(threading.get_ident(), []).append(_get(self.field))
        _set(self.field, self.value)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        ident = threading.get_ident()
        stack = self._previous.get(ident)
        if not stack:  # entered in another thread (a generator resumed elsewhere): that thread's, not ours
            return
        _set(self.field, stack.pop())
        if not stack:
            del self._previous[ident]

    def __call__(self, fn: F) -> F:
        field, value = self.field, self.value

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            previous = _get(field)
            _set(field, value)
            try:
                return fn(*args, **kwargs)
            finally:
                _set(field, previous)

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
