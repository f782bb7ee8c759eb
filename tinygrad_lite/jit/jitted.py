"""A jitted function: a cache of replays keyed by what the arguments look like.

The key holds, for each Tensor argument, its shape, dtype and requires_grad; every other argument
as a value (so a Python number or string picks its own capture); and whether gradients are enabled.
A new key is captured eagerly; with `verify` (the default) its second call is captured again and
compared with the first, so a value the capture froze by mistake (a constant computed from tensor
data, Python state that changes) raises JitError instead of being replayed wrongly; later calls
replay. Without `verify` replay starts at the second call.
"""
from __future__ import annotations

import functools
import gc
import os
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import _capture, grad_mode
from ..tensor import Tensor
from .ir import JitError, Tape, check_same
from .record import Recorder
from .replay import MISS, Program

MAX_CAPTURES = 64  # captures kept per function before the oldest is dropped


class _Settings:
    __slots__ = ("enabled",)

    def __init__(self) -> None:
        self.enabled = os.environ.get("TINYGRAD_LITE_NOJIT", "") in ("", "0")


settings = _Settings()
_live: weakref.WeakSet[JittedFunction] = weakref.WeakSet()


def _flatten(obj: Any, tensors: list[Tensor], where: str) -> Any:
    """The part of the key for one argument; its Tensors are appended to `tensors`."""
    if isinstance(obj, Tensor):
        tensors.append(obj)
        return (type(obj), obj.data.shape, obj.data.dtype, obj.requires_grad)
    if isinstance(obj, (tuple, list)):
        return (type(obj), tuple(_flatten(o, tensors, f"{where}[{i}]") for i, o in enumerate(obj)))
    if isinstance(obj, dict):
        return (dict, tuple((k, _flatten(obj[k], tensors, f"{where}[{k!r}]")) for k in obj))
    if isinstance(obj, np.ndarray):
        raise TypeError(f"jit: {where} is a NumPy array; pass a Tensor (its data is replayed) or a hashable "
                        f"Python value (part of the cache key)")
    try:
        hash(obj)
    except TypeError:
        raise TypeError(f"jit: {where} of type {type(obj).__name__} is neither a Tensor nor hashable; non-Tensor "
                        f"arguments are part of the cache key, so they must be hashable") from None
    return (type(obj), obj)


def _key(args: tuple[Any, ...], kwargs: dict[str, Any], tensors: list[Tensor]) -> Any:
    key: tuple[Any, ...] = (tuple(_flatten(a, tensors, f"argument {i}") for i, a in enumerate(args)),
                            tuple((n, _flatten(kwargs[n], tensors, f"argument {n!r}")) for n in sorted(kwargs)),
                            grad_mode.state.enabled)
    if len(tensors) > 1:
        data = [id(t.data) for t in tensors]
        if len(set(data)) < len(data):  # the same array passed twice is recorded once: its own capture
            key += (tuple(data.index(d) for d in data),)
    return key


class _Entry:
    __slots__ = ("program", "tape", "run")

    def __init__(self, program: Program | None, tape: Tape | None) -> None:
        self.program, self.tape = program, tape  # a replay, or (while verifying) the first capture
        self.run: Callable[..., Any] | None = None if program is None else program.run


class JittedFunction:
    """`fn` with capture and replay; call it like `fn`. See `tinygrad_lite.jit` for the rules."""

    def __init__(self, fn: Callable[..., Any], verify: bool = True, enabled: bool = True) -> None:
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.verify = verify
        self.enabled = enabled
        self._cache: dict[Any, _Entry] = {}
        _live.add(self)

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        """As a method: the instance becomes the first argument (part of the key)."""
        return self if instance is None else functools.partial(self, instance)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not (self.enabled and settings.enabled) or _capture.active is not None or grad_mode.state.detect_anomaly:
            return self.fn(*args, **kwargs)  # disabled, called while an outer jit captures, or debugging NaNs
        tensors: list[Tensor] = []
        key = _key(args, kwargs, tensors) if args or kwargs else grad_mode.state.enabled
        entry = self._cache.get(key)
        if entry is not None and entry.run is not None:
            out = entry.run(*tensors)
            if out is not MISS:
                return out
            del self._cache[key]  # a leaf changed shape, dtype or requires_grad: capture anew
            entry = None
        return self._capture(key, entry, tensors, args, kwargs)

    def _capture(self, key: Any, entry: _Entry | None, tensors: list[Tensor], args: tuple[Any, ...],
                 kwargs: dict[str, Any]) -> Any:
        rec = Recorder(tensors)
        rec.start()
        collecting = gc.isenabled()
        gc.disable()  # so what the call allocates stays young, and finish() can free its cycles deterministically
        _capture.active = rec
        try:
            result = self.fn(*args, **kwargs)
        finally:
            _capture.active = None
            kept = rec.stop()
            if collecting:
                gc.enable()
        if not kept:
            raise JitError("jit: Tensor.manual_seed() was called inside the jitted function; seed outside it")
        tape = rec.finish(result)
        if entry is None and self.verify:
            self._remember(key, _Entry(None, tape))
        else:
            if entry is not None and entry.tape is not None:
                check_same(entry.tape, tape)
            self._remember(key, _Entry(Program(tape), None))
        return result

    def _remember(self, key: Any, entry: _Entry) -> None:
        if key not in self._cache and len(self._cache) >= MAX_CAPTURES:
            del self._cache[next(iter(self._cache))]
        self._cache[key] = entry

    def reset(self) -> None:
        """Forget every capture: the next call captures again."""
        self._cache.clear()

    @property
    def captures(self) -> int:
        """How many argument signatures have a replay ready."""
        return sum(1 for e in self._cache.values() if e.program is not None)

    def program(self, *args: Any, **kwargs: Any) -> Program | None:
        """The replay these arguments would run (its `.source` shows the kernels), or None."""
        entry = self._cache.get(_key(args, kwargs, []) if args or kwargs else grad_mode.state.enabled)
        return None if entry is None else entry.program


def reset_all() -> None:
    settings.enabled = os.environ.get("TINYGRAD_LITE_NOJIT", "") in ("", "0")
    for f in list(_live):
        f.reset()
