"""`Module`: the base of every layer. It finds its tensors and sub-modules by looking at its attributes.

Any attribute holding a Tensor, a Module, or a list/tuple/dict of them is part of the module: no
registration call is needed. Leaf tensors that require grad are *parameters*; other leaf tensors are
*buffers*; both go into `state_dict()`. Tensors produced by operations (with a graph) are skipped.

>>> from tinygrad_lite import Tensor, nn
>>> class Net(nn.Module):
...     def __init__(self):
...         super().__init__()
...         self.layers = [nn.Linear(2, 3), nn.Linear(3, 1)]
...     def forward(self, x):
...         return self.layers[1](self.layers[0](x).relu())
>>> [name for name, _ in Net().named_parameters()]
['layers.0.weight', 'layers.0.bias', 'layers.1.weight', 'layers.1.bias']
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

from ..node import bump_version
from ..tensor import Tensor


class IncompatibleKeys(NamedTuple):
    """What `load_state_dict(strict=False)` left out: keys the module has but the dict lacks, and the reverse."""

    missing_keys: list[str]
    unexpected_keys: list[str]


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _found_in(name: str, value: Any) -> Iterator[tuple[str, Tensor | Module]]:
    """The Tensors and Modules inside one attribute value, looking into lists, tuples and dicts."""
    if isinstance(value, (Tensor, Module)):
        yield name, value
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _found_in(_join(name, str(i)), item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _found_in(_join(name, str(key)), item)


class Module:
    """Base class of layers and models: subclass it, set tensors/modules as attributes, write `forward`."""

    # A class-level default, so a subclass that forgets super().__init__() still works.
    training: bool = True

    def __init__(self) -> None:
        self.training = True

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # --- discovery ------------------------------------------------------------
    def _members(self) -> Iterator[tuple[str, Any]]:
        """The attributes searched for tensors and sub-modules, by name (Sequential overrides the names)."""
        return ((k, v) for k, v in vars(self).items() if k != "training")

    def _direct(self) -> Iterator[tuple[str, Tensor | Module]]:
        for name, value in self._members():
            yield from _found_in(name, value)

    def _walk(self, prefix: str, path: tuple[int, ...]) -> Iterator[tuple[str, Tensor | Module]]:
        """Every tensor and module below self with its dotted name, depth first, in attribute order.
        Shared objects appear under each name; a module that contains one of its ancestors is not
        entered again (`path` holds the ancestors' ids)."""
        for name, obj in self._direct():
            full = _join(prefix, name)
            if isinstance(obj, Module):
                if id(obj) in path:
                    continue
                yield full, obj
                yield from obj._walk(full, (*path, id(obj)))
            elif obj.is_leaf:
                yield full, obj

    def named_modules(self) -> list[tuple[str, Module]]:
        """This module (named "") and every sub-module, each once."""
        out: list[tuple[str, Module]] = [("", self)]
        seen = {id(self)}
        for name, obj in self._walk("", (id(self),)):
            if isinstance(obj, Module) and id(obj) not in seen:
                seen.add(id(obj))
                out.append((name, obj))
        return out

    def modules(self) -> list[Module]:
        return [m for _, m in self.named_modules()]

    def named_children(self) -> list[tuple[str, Module]]:
        """The sub-modules held directly by this module's attributes."""
        return [(name, obj) for name, obj in self._direct() if isinstance(obj, Module)]

    def children(self) -> list[Module]:
        return [m for _, m in self.named_children()]

    def _named_tensors(self, trainable: bool) -> list[tuple[str, Tensor]]:
        out, seen = [], set()
        for name, obj in self._walk("", (id(self),)):
            if isinstance(obj, Tensor) and obj.requires_grad == trainable and id(obj) not in seen:
                seen.add(id(obj))
                out.append((name, obj))
        return out

    def named_parameters(self) -> list[tuple[str, Tensor]]:
        """(name, tensor) for every leaf tensor with requires_grad, each tensor once (the first name wins)."""
        return self._named_tensors(True)

    def parameters(self) -> list[Tensor]:
        """The tensors an optimizer should update: `optim.SGD(model.parameters(), lr=0.1)`."""
        return [p for _, p in self.named_parameters()]

    def named_buffers(self) -> list[tuple[str, Tensor]]:
        """(name, tensor) for the leaf tensors that do not require grad (saved, never trained)."""
        return self._named_tensors(False)

    def buffers(self) -> list[Tensor]:
        return [b for _, b in self.named_buffers()]

    # --- modes and gradients ----------------------------------------------------
    def zero_grad(self) -> None:
        """Forget the gradients of all parameters (set `.grad` to None)."""
        for p in self.parameters():
            p.grad = None

    def train(self, mode: bool = True) -> Module:
        """Set `training` on this module and every sub-module; returns self."""
        if not isinstance(mode, bool):
            raise TypeError(f"train(mode) takes a bool, got {type(mode).__name__}")
        for _, m in self.named_modules():
            m.training = mode
        return self

    def eval(self) -> Module:
        """`train(False)`."""
        return self.train(False)

    # --- state ----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Tensor]:
        """Name → tensor for every parameter and buffer, as graph-free tensors sharing the module's data
        (so take a copy, or save it, before training on if you want a snapshot)."""
        return {name: Tensor._wrap(t.data) for name, t in self._walk("", (id(self),)) if isinstance(t, Tensor)}

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy the values of `state_dict` into this module's tensors, in place (their arrays stay the same
        objects). Every problem — missing or unexpected keys (when strict), wrong shapes, uncastable dtypes —
        is listed in one ValueError, and then nothing is copied."""
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"load_state_dict expects a mapping of names to tensors, got {type(state_dict).__name__}")
        own = self.state_dict()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        problems = []
        if strict and missing:
            problems.append(f"missing keys {missing}")
        if strict and unexpected:
            problems.append(f"unexpected keys {unexpected}")
        sources = {}
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            src = value.data if isinstance(value, Tensor) else np.asarray(value)
            if src.shape != target.shape:
                problems.append(f"shape mismatch for {key!r}: the module has {target.shape}, "
                                f"the state dict {src.shape}")
            elif not np.can_cast(src.dtype, target.dtype, "same_kind"):
                problems.append(f"dtype mismatch for {key!r}: cannot store {src.dtype} values "
                                f"in a {target.dtype} tensor")
            sources[key] = src
        if problems:
            raise ValueError(f"load_state_dict into {type(self).__name__}: " + "; ".join(problems))
        tensors = {name: t for name, t in self._walk("", (id(self),)) if isinstance(t, Tensor)}
        for key, src in sources.items():
            np.copyto(own[key].data, src, casting="same_kind")
            bump_version(tensors[key])  # the module's own tensor (own[key] is a wrapper around its data)
        return IncompatibleKeys(missing, unexpected)

    # --- printing ---------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The settings shown between the parentheses of this module's repr (override in layers)."""
        return ""

    def __repr__(self) -> str:
        return self._repr((id(self),))

    def _repr(self, path: tuple[int, ...]) -> str:
        children = self.named_children()
        extra = self.extra_repr()
        if not children:
            return f"{type(self).__name__}({extra})"
        lines = [extra] if extra else []
        for name, child in children:  # a back reference to an ancestor is named, not printed again
            body = f"<{type(child).__name__} above>" if id(child) in path else child._repr((*path, id(child)))
            lines.append(f"({name}): " + body.replace("\n", "\n  "))
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"
