"""Pytrees: nested tuples, lists and dicts with tensors at the leaves, as JAX and torch.func take them.

`flatten` gives the leaves in a fixed order and a `TreeSpec` that `unflatten` rebuilds the container
from. None is an empty subtree (no leaves). Anything else is a leaf.

>>> from tinygrad_lite.pytree import flatten, unflatten
>>> leaves, spec = flatten({"w": 1, "b": (2, 3)})
>>> leaves
[1, 2, 3]
>>> unflatten(spec, [10, 20, 30])
{'w': 10, 'b': (20, 30)}
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TreeSpec:
    """The shape of a pytree: `kind` is "leaf", "none", "tuple", "list" or "dict" (with `keys`)."""

    kind: str
    children: tuple[TreeSpec, ...] = ()
    keys: tuple[Any, ...] = ()

    @property
    def num_leaves(self) -> int:
        if self.kind == "leaf":
            return 1
        return sum(c.num_leaves for c in self.children)

    def __str__(self) -> str:
        if self.kind == "leaf":
            return "*"
        if self.kind == "none":
            return "None"
        inner = [str(c) for c in self.children]
        if self.kind == "dict":
            return "{" + ", ".join(f"{k!r}: {c}" for k, c in zip(self.keys, inner)) + "}"
        if self.kind == "tuple":
            return "(" + ", ".join(inner) + ("," if len(inner) == 1 else "") + ")"
        return "[" + ", ".join(inner) + "]"


LEAF = TreeSpec("leaf")


def flatten(tree: Any) -> tuple[list[Any], TreeSpec]:
    """The leaves of `tree` (depth first, dicts in insertion order) and its spec."""
    leaves: list[Any] = []
    return leaves, _flatten(tree, leaves)


def _flatten(tree: Any, leaves: list[Any]) -> TreeSpec:
    if tree is None:
        return TreeSpec("none")
    if isinstance(tree, (tuple, list)) and (type(tree) is tuple or type(tree) is list):
        kind = "tuple" if type(tree) is tuple else "list"
        return TreeSpec(kind, tuple(_flatten(c, leaves) for c in tree))
    if type(tree) is dict:
        return TreeSpec("dict", tuple(_flatten(v, leaves) for v in tree.values()), tuple(tree))
    leaves.append(tree)
    return LEAF


def unflatten(spec: TreeSpec, leaves: Any) -> Any:
    """The container `spec` describes, with `leaves` (consumed in order) at its leaves."""
    it = iter(leaves)
    tree = _unflatten(spec, it)
    if next(it, _END) is not _END:
        raise ValueError(f"unflatten: more leaves than the {spec.num_leaves} of {spec}")
    return tree


_END = object()


def _unflatten(spec: TreeSpec, it: Any) -> Any:
    if spec.kind == "leaf":
        leaf = next(it, _END)
        if leaf is _END:
            raise ValueError("unflatten: fewer leaves than the spec has")
        return leaf
    if spec.kind == "none":
        return None
    children = [_unflatten(c, it) for c in spec.children]
    if spec.kind == "dict":
        return dict(zip(spec.keys, children))
    return tuple(children) if spec.kind == "tuple" else children


def tree_map(fn: Any, tree: Any) -> Any:
    """`tree` with `fn` applied to every leaf."""
    leaves, spec = flatten(tree)
    return unflatten(spec, [fn(x) for x in leaves])
