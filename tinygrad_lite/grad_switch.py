"""PyTorch's `set_grad_enabled` and `inference_mode`, built on grad_mode's public switches
(`no_grad`, `enable_grad`, `is_grad_enabled`), so they follow whatever scope those have.

>>> import tinygrad_lite as tl
>>> x = tl.Tensor([1.0], requires_grad=True)
>>> with tl.set_grad_enabled(False):
...     (x * 2).requires_grad
False
>>> with tl.inference_mode():
...     (x * 2).requires_grad
False
>>> tl.is_grad_enabled()
True
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

from .grad_mode import enable_grad, is_grad_enabled, no_grad

F = TypeVar("F", bound=Callable[..., Any])


def _set(flag: bool) -> None:
    """Switch recording on or off from here on (a switch entered and never left)."""
    (enable_grad() if flag else no_grad()).__enter__()


class set_grad_enabled:  # noqa: N801 - PyTorch's spelling
    """Turn recording on or off. As a function call it takes effect at once and stays
    (`tl.set_grad_enabled(False)`); as `with tl.set_grad_enabled(flag):` or a decorator
    `@tl.set_grad_enabled(flag)` the previous mode is restored afterwards. As torch.set_grad_enabled."""

    def __init__(self, mode: bool) -> None:
        if not isinstance(mode, bool):
            raise TypeError(f"set_grad_enabled takes a bool, got {type(mode).__name__}")
        self.mode = mode
        self.previous = is_grad_enabled()
        _set(mode)

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        _set(self.previous)

    def __call__(self, fn: F) -> F:
        _set(self.previous)  # as a decorator, the mode applies only while `fn` runs
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with (enable_grad() if mode else no_grad()):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class inference_mode:  # noqa: N801 - PyTorch's spelling
    """`with tl.inference_mode():` or `@tl.inference_mode()` / `@tl.inference_mode`: no graph is recorded,
    as `no_grad` (tinygrad_lite has no separate inference tensors). `inference_mode(False)` changes nothing."""

    def __new__(cls, mode: Any = True) -> Any:
        if callable(mode):  # used as `@inference_mode` without parentheses
            return cls(True)(mode)
        return super().__new__(cls)

    def __init__(self, mode: bool = True) -> None:
        self.mode = bool(mode)
        self._inner: list[Any] = []

    def __enter__(self) -> None:
        inner = no_grad() if self.mode else None
        if inner is not None:
            inner.__enter__()
        self._inner.append(inner)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        inner = self._inner.pop()
        if inner is not None:
            inner.__exit__(exc_type, exc, tb)

    def __call__(self, fn: F) -> F:
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with inference_mode(mode):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]
