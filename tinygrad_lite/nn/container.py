"""Containers of modules, named as PyTorch names them (so state-dict keys match): `Sequential` (applied one
after the other, named 0, 1, 2, ...), `ModuleList` (a list, named 0, 1, 2, ...) and `ModuleDict` (a dict,
named by its keys).

A Module already finds modules held in plain lists and dicts, under the same names; these classes add
checks, the list and dict methods, and PyTorch's spelling.

>>> from tinygrad_lite import Tensor, nn
>>> model = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1))
>>> model(Tensor.zeros(3, 2)).shape, len(model), list(model.state_dict())[:2]
((3, 1), 3, ['0.weight', '0.bias'])
"""
from __future__ import annotations

import operator
from collections.abc import ItemsView, Iterable, Iterator, KeysView, Mapping, ValuesView
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


def _module(owner: str, where: str, value: Any) -> Module:
    if not isinstance(value, Module):
        raise TypeError(f"{owner}: {where} must be an nn.Module, got {type(value).__name__}")
    return value


class ModuleList(Module):
    """A list of modules whose parameters belong to the module holding it, named "0", "1", ... (PyTorch's
    state-dict keys, e.g. "layers.0.weight", the same names a plain list attribute gets). Indexing (a slice
    gives a ModuleList sharing the modules), assignment, `del`, `len`, iteration, `append`, `extend`,
    `insert`, `pop`, `+` and `+=`. It has no forward: call its modules.

    >>> from tinygrad_lite import Tensor, nn
    >>> class Tower(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.layers = nn.ModuleList(nn.Linear(2, 2) for _ in range(3))
    ...     def forward(self, x):
    ...         for layer in self.layers:
    ...             x = layer(x).relu()
    ...         return x
    >>> list(Tower().state_dict())[-2:]
    ['layers.2.weight', 'layers.2.bias']
    """

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        self._list: list[Module] = []
        if modules is not None:
            self.extend(modules)

    def _members(self) -> Iterator[tuple[str, Any]]:
        yield from ((str(i), m) for i, m in enumerate(self._list))
        yield from ((k, v) for k, v in super()._members() if k != "_list")

    def _index(self, index: Any) -> int:
        """`index` as a position in range (negative ones count from the end)."""
        if isinstance(index, bool):
            raise TypeError(f"ModuleList indices must be integers or slices, not {type(index).__name__}")
        try:
            i = operator.index(index)
        except TypeError:
            raise TypeError(f"ModuleList indices must be integers or slices, not {type(index).__name__}") from None
        n = len(self._list)
        if not -n <= i < n:
            raise IndexError(f"ModuleList index {i} is out of range for {n} modules")
        return i % n

    @overload
    def __getitem__(self, index: int) -> Module: ...

    @overload
    def __getitem__(self, index: slice) -> ModuleList: ...

    def __getitem__(self, index: int | slice) -> Module | ModuleList:
        if isinstance(index, slice):
            return ModuleList(self._list[index])
        return self._list[self._index(index)]

    def __setitem__(self, index: int, module: Module) -> None:
        i = self._index(index)
        self._list[i] = _module("ModuleList", f"the module at index {i}", module)

    def __delitem__(self, index: int | slice) -> None:
        if isinstance(index, slice):
            del self._list[index]
        else:
            del self._list[self._index(index)]

    def __len__(self) -> int:
        return len(self._list)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._list)

    def __iadd__(self, modules: Iterable[Module]) -> ModuleList:
        return self.extend(modules)

    def __add__(self, other: Iterable[Module]) -> ModuleList:
        return ModuleList([*self._list, *ModuleList(other)])

    def append(self, module: Module) -> ModuleList:
        """Add `module` at the end; returns self."""
        self._list.append(_module("ModuleList", f"the module appended at index {len(self._list)}", module))
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        """Add every module of `modules` at the end (all are checked before any is added); returns self."""
        if isinstance(modules, Module) or not isinstance(modules, Iterable):
            raise TypeError(f"ModuleList.extend takes an iterable of modules, got {type(modules).__name__}")
        new = list(modules)
        for i, m in enumerate(new):
            _module("ModuleList", f"item {i} of the modules added", m)
        self._list.extend(new)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Insert `module` before position `index` (as list.insert)."""
        _module("ModuleList", "the module inserted", module)
        self._list.insert(operator.index(index), module)

    def pop(self, index: int = -1) -> Module:
        """Remove and return the module at `index` (the last by default); the later ones are renumbered."""
        return self._list.pop(self._index(index))


def _key(key: Any) -> str:
    if not isinstance(key, str):
        raise TypeError(f"ModuleDict keys must be strings, got {key!r} ({type(key).__name__})")
    if not key or "." in key:
        raise ValueError(f"ModuleDict key {key!r} must be a non-empty string without '.' (it becomes part of "
                         f"state-dict names such as 'heads.{key}.weight')")
    return key


class ModuleDict(Module):
    """A dict of modules whose parameters belong to the module holding it, named by their keys (PyTorch's
    state-dict keys, e.g. "heads.cls.weight", the same names a plain dict attribute gets). Keys keep their
    insertion order. `d[key]`, `d[key] = m`, `del d[key]`, `len`, `in`, iteration over the keys, `keys()`,
    `values()`, `items()`, `update()`, `pop()`, `clear()`. It has no forward: call its modules.

    >>> from tinygrad_lite import nn
    >>> heads = nn.ModuleDict({"cls": nn.Linear(4, 3), "box": nn.Linear(4, 2)})
    >>> heads["box"].out_features, list(heads), list(heads.state_dict())[:2]
    (2, ['cls', 'box'], ['cls.weight', 'cls.bias'])
    """

    def __init__(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None = None) -> None:
        super().__init__()
        self._dict: dict[str, Module] = {}
        if modules is not None:
            self.update(modules)

    def _members(self) -> Iterator[tuple[str, Any]]:
        yield from self._dict.items()
        yield from ((k, v) for k, v in super()._members() if k != "_dict")

    def __getitem__(self, key: str) -> Module:
        try:
            return self._dict[key]
        except KeyError:
            raise KeyError(f"ModuleDict has no key {key!r}; its keys are {list(self._dict)}") from None

    def __setitem__(self, key: str, module: Module) -> None:
        self._dict[_key(key)] = _module("ModuleDict", f"the value for key {key!r}", module)

    def __delitem__(self, key: str) -> None:
        self.pop(key)

    def __len__(self) -> int:
        return len(self._dict)

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict)

    def __contains__(self, key: object) -> bool:
        return key in self._dict

    def keys(self) -> KeysView[str]:
        return self._dict.keys()

    def values(self) -> ValuesView[Module]:
        return self._dict.values()

    def items(self) -> ItemsView[str, Module]:
        return self._dict.items()

    def pop(self, key: str) -> Module:
        """Remove and return the module under `key`."""
        module = self[key]
        del self._dict[key]
        return module

    def clear(self) -> None:
        self._dict.clear()

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        """Add or replace entries from a mapping (a dict, a ModuleDict) or an iterable of (key, module) pairs,
        in their order. Everything is checked before anything changes."""
        pairs: list[tuple[Any, Any]] = []
        if isinstance(modules, (Mapping, ModuleDict)):
            pairs = list(modules.items())
        elif isinstance(modules, Iterable) and not isinstance(modules, (str, Module)):
            for j, item in enumerate(modules):
                pair = tuple(item) if isinstance(item, Iterable) and not isinstance(item, (str, bytes)) else ()
                if len(pair) != 2:
                    raise TypeError(f"ModuleDict.update: element {j} must be a (key, module) pair, got {item!r}")
                pairs.append((pair[0], pair[1]))
        else:
            raise TypeError(f"ModuleDict.update takes a mapping or an iterable of (key, module) pairs, "
                            f"got {type(modules).__name__}")
        for key, module in pairs:
            _module("ModuleDict", f"the value for key {_key(key)!r}", module)
        for key, module in pairs:
            self._dict[key] = module
