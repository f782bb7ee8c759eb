"""`Sequential`: modules applied one after the other, named 0, 1, 2, ... as in PyTorch.

>>> from tinygrad_lite import Tensor, nn
>>> model = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1))
>>> model(Tensor.zeros(3, 2)).shape, len(model), list(model.state_dict())[:2]
((3, 1), 3, ['0.weight', '0.bias'])
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any, overload

from .module import Module


class Sequential(Module):
    """Calls each layer on the output of the previous one."""

    def __init__(self, *layers: Module) -> None:
        super().__init__()
        for i, layer in enumerate(layers):
            _check_layer(i, layer)
        self.layers = list(layers)

    def _members(self) -> Iterator[tuple[str, Any]]:
        # The layers are named 0, 1, ... (PyTorch's state-dict keys); a subclass's own attributes follow.
        yield from ((str(i), layer) for i, layer in enumerate(self.layers))
        yield from ((k, v) for k, v in super()._members() if k != "layers")

    def forward(self, x: Any) -> Any:
        for layer in self.layers:
            x = layer(x)
        return x

    def append(self, layer: Module) -> Sequential:
        _check_layer(len(self.layers), layer)
        self.layers.append(layer)
        return self

    @overload
    def __getitem__(self, index: int) -> Module: ...

    @overload
    def __getitem__(self, index: slice) -> Sequential: ...

    def __getitem__(self, index: int | slice) -> Module | Sequential:
        if isinstance(index, slice):
            return Sequential(*self.layers[index])
        return self.layers[index]

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self) -> Iterator[Module]:
        return iter(self.layers)


def _check_layer(position: int, layer: Any) -> None:
    if not isinstance(layer, Module):
        raise TypeError(f"Sequential: layer {position} must be an nn.Module, got {type(layer).__name__}")
