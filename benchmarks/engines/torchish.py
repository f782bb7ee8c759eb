"""PyTorch's method names on another library's arrays, for the W8 block (`t.permute(...)`, which JAX arrays and
MyGrad tensors spell otherwise or lack).

An adapter subclasses `Torchish` with its library's `transpose` and hands such views to a loss only once the loss
has failed on a plain array, so the other workloads run on plain arrays; the operators and `reshape` keep the
view, and `lifted(fn)` makes an `Ops` function take views or arrays alike.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Torchish:
    """An array `a` seen through PyTorch's names; a subclass sets `transpose(a, axes)` for its library."""

    __slots__ = ("a",)

    @staticmethod
    def transpose(a: Any, axes: tuple[int, ...]) -> Any:
        raise NotImplementedError

    def __init__(self, a: Any) -> None:
        self.a = a

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.a.shape)

    def reshape(self, *shape: int) -> Torchish:
        return type(self)(self.a.reshape(*shape))

    def permute(self, *axes: int) -> Torchish:
        return type(self)(self.transpose(self.a, axes))

    def __matmul__(self, other: Any) -> Torchish:
        return type(self)(self.a @ raw(other))

    def __add__(self, other: Any) -> Torchish:
        return type(self)(self.a + raw(other))

    def __radd__(self, other: Any) -> Torchish:
        return type(self)(raw(other) + self.a)

    def __sub__(self, other: Any) -> Torchish:
        return type(self)(self.a - raw(other))

    def __mul__(self, other: Any) -> Torchish:
        return type(self)(self.a * raw(other))


def raw(x: Any) -> Any:
    """The library's own array behind a view (anything else as it is)."""
    return x.a if isinstance(x, Torchish) else x


def lifted(fn: Callable[..., Any]) -> Any:
    """fn on the library's arrays, lifted to take views too (and then to return one of the same kind), as a
    staticmethod for an `Ops` namespace."""

    def call(*args: Any) -> Any:
        out = fn(*(raw(a) for a in args))
        view = next((type(a) for a in args if isinstance(a, Torchish)), None)
        return out if view is None else view(out)

    call.__doc__ = fn.__doc__
    return staticmethod(call)
