"""The arrays of the tensors a function can reach without its arguments: through its closure, the
globals it names, default values, and the attributes and items of those (a module's parameters).

A capture tells an argument's data from a tensor read from outside by array identity only. When the
caller passes a tensor the function also reaches by itself (`f(w)` where `f` uses `w` from a closure,
or `f(w.detach())`), both uses are one array during the capture, and a replay would read the new
argument in both places. The recorder asks this module which arguments are shared so, and the replay
then checks that those arguments are still that same array (otherwise it captures again).

The search is bounded (depth and count), so an alias hidden deeper is not seen; docs/jit.md says so.

>>> from tinygrad_lite import Tensor
>>> w = Tensor([1.0])
>>> f = lambda x: x * w
>>> id(w.data) in reachable_arrays(f)
True
"""
from __future__ import annotations

import functools
import types
from typing import Any

from ..node import TensorCore

MAX_DEPTH = 6
MAX_OBJECTS = 20000


def _names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            names |= _names(c)
    return names


def _children(obj: Any) -> list[Any]:
    if isinstance(obj, (types.FunctionType, types.LambdaType)):
        out = [c.cell_contents for c in obj.__closure__ or () if _filled(c)]
        g = obj.__globals__
        out += [g[n] for n in _names(obj.__code__) if n in g]
        return out + list(obj.__defaults__ or ()) + list((obj.__kwdefaults__ or {}).values())
    if isinstance(obj, types.MethodType):
        return [obj.__func__, obj.__self__]
    if isinstance(obj, functools.partial):
        return [obj.func, *obj.args, *obj.keywords.values()]
    if isinstance(obj, (list, tuple, set, frozenset)):
        return list(obj)
    if isinstance(obj, dict):
        return list(obj.values())
    if isinstance(obj, (types.ModuleType, type, str, bytes, int, float, complex, bool)) or obj is None:
        return []
    out = list(getattr(obj, "__dict__", {}).values())
    for cls in type(obj).__mro__:
        for slot in getattr(cls, "__slots__", ()):
            if isinstance(slot, str) and not slot.startswith("__") and hasattr(obj, slot):
                out.append(getattr(obj, slot))
    return out


def _filled(cell: types.CellType) -> bool:
    try:
        cell.cell_contents  # noqa: B018 - raises ValueError for an empty cell
    except ValueError:
        return False
    return True


def reachable_arrays(fn: Any) -> set[int]:
    """ids of the arrays of the tensors `fn` reaches (bounded breadth-first search)."""
    found: set[int] = set()
    seen: set[int] = set()
    level = [fn]
    for _ in range(MAX_DEPTH + 1):
        nxt: list[Any] = []
        for obj in level:
            if id(obj) in seen or len(seen) >= MAX_OBJECTS:
                continue
            seen.add(id(obj))
            if isinstance(obj, TensorCore):
                found.add(id(obj.data))
                continue
            try:
                nxt += _children(obj)
            except Exception:  # noqa: BLE001 - an object whose attributes cannot be read is not searched
                continue
        level = nxt
    return found
