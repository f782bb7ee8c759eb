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
import threading
import warnings
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import _capture, grad_mode
from ..tensor import Tensor
from .ir import GuardsDiffer, JitError, Tape, check_same
from .reach import reachable_arrays
from .record import Recorder
from .replay import Miss, Program

MAX_CAPTURES = 64  # captures kept per function before the oldest is dropped
RECAPTURE_WARNING = 8  # new programs started for one function before it warns (once) that it keeps capturing
# One capture at a time in the process: the core's hooks report to one global recorder, which ignores
# the other threads' operations. A jitted function called while another thread captures runs eagerly
# (never waits: the capturing function might be waiting for that thread).
_capture_lock = threading.Lock()


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


def _describe_key(key: Any) -> str:
    """The argument signature of a key, short: each Tensor's shape and dtype, each other value."""
    def part(k: Any) -> str:
        if isinstance(k, tuple) and len(k) == 4 and isinstance(k[0], type) and issubclass(k[0], Tensor):
            return f"{k[2]}{list(k[1])}"
        if isinstance(k, tuple) and len(k) == 2 and k[0] in (tuple, list, dict) and isinstance(k[1], tuple):
            return "(" + ", ".join(part(x[1] if k[0] is dict else x) for x in k[1]) + ")"
        if isinstance(k, tuple) and len(k) == 2 and isinstance(k[0], type):
            return repr(k[1])
        return repr(k)

    if not isinstance(key, tuple):
        return "()"
    args = [part(a) for a in key[0]] + [f"{n}={part(a)}" for n, a in key[1]]
    return "(" + ", ".join(args) + ")" + ("" if key[2] else " under no_grad")


class JittedFunction:
    """`fn` with capture and replay; call it like `fn`. See `tinygrad_lite.jit` for the rules.

    Replays of one function run one at a time (a lock per function: a replay writes into buffers of its
    own); captures run one at a time in the whole process."""

    def __init__(self, fn: Callable[..., Any], verify: bool = True, enabled: bool = True) -> None:
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.verify = verify
        self.enabled = enabled
        self._cache: dict[Any, _Entry] = {}
        self._lock = threading.Lock()
        self.capture_runs = 0  # calls that ran the function eagerly to capture it
        self.capture_reasons: dict[str, int] = {}  # why each new program was started, counted
        self._started = 0  # new programs started (a first capture for a key)
        self._warned = False
        _live.add(self)

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        """As a method: the instance becomes the first argument (part of the key)."""
        return self if instance is None else functools.partial(self, instance)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # grad_mode.fast: the settings as plain bools while no thread has switched them (one attribute read)
        if not (self.enabled and settings.enabled) or _capture.active is not None or grad_mode.fast.detect_anomaly:
            return self.fn(*args, **kwargs)  # disabled, called while an outer jit captures, or debugging NaNs
        tensors: list[Tensor] = []
        key = _key(args, kwargs, tensors) if args or kwargs else bool(grad_mode.fast.enabled)
        entry = self._cache.get(key)
        why = None
        if entry is not None and entry.run is not None:
            with self._lock:
                out = entry.run(*tensors)
            if type(out) is not Miss:
                return out
            self._cache.pop(key, None)  # a leaf changed shape, dtype or requires_grad, or a guard failed
            entry, why = None, f"replay refused: {out.reason}"
        elif entry is None:
            why = f"new argument signature {_describe_key(key)}"
        if not _capture_lock.acquire(blocking=False):  # another thread is capturing: run eagerly meanwhile
            return self.fn(*args, **kwargs)
        try:
            return self._capture(key, entry, tensors, args, kwargs, why)
        finally:
            _capture_lock.release()

    def _capture(self, key: Any, entry: _Entry | None, tensors: list[Tensor], args: tuple[Any, ...],
                 kwargs: dict[str, Any], why: str | None) -> Any:
        if why is not None:
            self._count(why)
        self.capture_runs += 1
        rec = Recorder(tensors)
        # What the function reaches besides its Tensor arguments: itself, and objects passed (a model); the
        # containers that hold the Tensor arguments are not searched (they are the arguments).
        roots = [self.fn, *[a for a in (*args, *kwargs.values()) if not isinstance(a, (Tensor, tuple, list, dict))]]
        rec.note_shared(reachable_arrays(roots))
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
            return result
        if entry is not None and entry.tape is not None:
            try:
                check_same(entry.tape, tape)
            except GuardsDiffer as exc:  # right for each call's data, but no replay: verify the next call against this
                self._remember(key, _Entry(None, tape))
                self._count(f"the verification capture differed on the data: {exc}")
                return result
        self._remember(key, _Entry(Program(tape), None))
        return result

    def _count(self, why: str) -> None:
        """One more new program started; warn once when a function keeps capturing."""
        self._started += 1
        kind = why  # new signatures are counted together (their keys are in the warning's "latest")
        if why.startswith("new argument signature"):
            kind = "new argument signature (a new shape, dtype, requires_grad or Python value)"
        self.capture_reasons[kind] = self.capture_reasons.get(kind, 0) + 1
        if self._started >= RECAPTURE_WARNING and not self._warned:
            self._warned = True
            reasons = "; ".join(f"{n}x {r}" for r, n in self.capture_reasons.items())
            warnings.warn(
                f"jit: {getattr(self.fn, '__qualname__', self.fn)} has been captured {self._started} times "
                f"(latest: {why}). Each capture runs the function eagerly and more slowly than eager mode. "
                f"Why: {reasons}. Pad the last batch to the common shape, pass changing numbers as Tensors "
                f"rather than Python values, or leave the function un-jitted. See docs/jit.md.",
                RuntimeWarning, stacklevel=4)

    def _remember(self, key: Any, entry: _Entry) -> None:
        if key not in self._cache and len(self._cache) >= MAX_CAPTURES:
            del self._cache[next(iter(self._cache))]
        self._cache[key] = entry

    def reset(self) -> None:
        """Forget every capture: the next call captures again (and may warn again)."""
        self._cache.clear()
        self.capture_runs, self._started, self._warned = 0, 0, False
        self.capture_reasons = {}

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
