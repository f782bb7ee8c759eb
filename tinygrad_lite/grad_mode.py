"""The one switch that says whether operations record the graph.

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

F = TypeVar("F", bound=Callable[..., Any])


class _State:
    __slots__ = ("enabled",)

    def __init__(self) -> None:
        self.enabled = True


state = _State()


def is_grad_enabled() -> bool:
    return state.enabled


class _GradMode:
    """Sets grad recording to `self.mode` inside a `with` block or a decorated function."""

    mode = True

    def __init__(self) -> None:
        self._previous: list[bool] = []

    def __enter__(self) -> None:
        self._previous.append(state.enabled)
        state.enabled = self.mode

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        state.enabled = self._previous.pop()

    def __call__(self, fn: F) -> F:
        mode_cls = type(self)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with mode_cls():
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class no_grad(_GradMode):  # noqa: N801 - PyTorch's spelling
    """Stop recording: results carry no graph. Works as `with no_grad():` and `@no_grad()`."""

    mode = False


class enable_grad(_GradMode):  # noqa: N801
    """Record again inside a `no_grad` region. Works as a context manager and a decorator."""

    mode = True
