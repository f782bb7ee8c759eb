"""From a capture to a replay plan: fold constants, drop dead kernels, give temporaries buffers.

- Folding: a kernel whose inputs are all constants has the value it had during the capture (the
  root gradient `ones`, a loss's scale factor, anything computed from them), so it is not replayed.
- Dead code: a kernel whose outputs nobody reads (no later kernel, no output, no effect) is dropped.
- Buffers: a kernel that takes `out=` writes into a preallocated array. Arrays are shared between
  temporaries whose lifetimes do not overlap (same shape and dtype). A temporary that escapes the
  replay (stored into `.grad`, returned) gets a fresh array on every replay instead, as eager mode
  does: a caller may keep it while the next step runs. Views are followed: a buffer stays busy while
  any view of it (or any value a generic kernel may have derived by viewing it) is still needed, and
  while the primitive whose method read it (`ctx.forward` may keep an input for its `vjp`) has a
  later kernel to run.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from .ir import CONST, TMP, Kernel, Tape, TensorRef, Value, values_in


class Plan:
    """The kernels to replay and, for each buffered value, the index of its buffer in `buffers`."""

    def __init__(self, tape: Tape, kernels: list[Kernel], buffer_of: dict[int, int],
                 buffers: list[np.ndarray], fresh: set[int]) -> None:
        self.tape, self.kernels, self.buffer_of, self.buffers, self.fresh = tape, kernels, buffer_of, buffers, fresh


def _fold(kernels: list[Kernel]) -> list[Kernel]:
    kept = []
    for k in kernels:
        if k.tag == "read" and k.outs[0] is not None and k.outs[0].kind == CONST:
            continue
        if k.tag == "call" and not k.effect and all(v.kind == CONST for v in k.inputs()):
            for o in k.outs:
                if o is not None:
                    o.kind = CONST
            continue
        kept.append(k)
    return kept


def _output_values(outputs: Any) -> list[Value]:
    if isinstance(outputs, Value):
        return [outputs]
    if isinstance(outputs, (tuple, list)):
        return [v for o in outputs for v in _output_values(o)]
    if isinstance(outputs, dict):
        return [v for o in outputs.values() for v in _output_values(o)]
    return []


def _drop_dead(kernels: list[Kernel], outputs: list[Value]) -> list[Kernel]:
    live = {v.index for v in outputs}
    kept = []
    for k in reversed(kernels):
        if k.effect or any(o is not None and o.index in live for o in k.outs):
            kept.append(k)
            live.update(v.index for v in k.inputs())
    kept.reverse()
    return kept


def make_plan(tape: Tape) -> Plan:
    kernels = _fold(tape.kernels)
    outputs = _output_values(tape.outputs)
    kernels = _drop_dead(kernels, outputs)

    # Which buffered values each value may share memory with (a view, or a generic kernel's result).
    roots: dict[int, set[int]] = {}
    owner: dict[int, Kernel] = {}
    for k in kernels:
        ins = [v for v in k.inputs() if v.kind == TMP]
        for o in k.outs:
            if o is None:
                continue
            owner[o.index] = k
            if k.out_ok:
                roots[o.index] = {o.index}
            elif k.alias:
                roots[o.index] = set().union(*[roots.get(v.index, set()) for v in ins])
            else:
                roots[o.index] = set()

    # Escaping values: their buffers (and those they may view) are allocated fresh on every replay.
    escaping = list(outputs)
    for k in kernels:
        if k.tag in ("store", "setgrad", "local"):
            escaping += [v for v in k.inputs() if v.kind == TMP]
    fresh: set[int] = set()
    for v in escaping:
        fresh |= roots.get(v.index, set())

    # Last use of each value; a ctx method's inputs stay in use until that ctx's last kernel.
    last: dict[int, int] = defaultdict(lambda: -1)
    ctx_last: dict[int, int] = {}
    for i, k in enumerate(kernels):
        if k.ctx is not None:
            ctx_last[id(k.ctx)] = i
    for i, k in enumerate(kernels):
        end = max(i, ctx_last.get(id(k.ctx), i)) if k.ctx is not None else i
        for v in k.inputs():
            last[v.index] = max(last[v.index], end)
        if k.ctx is not None:
            for o in k.outs:
                if o is not None:
                    last[o.index] = max(last[o.index], end)
    position = {id(k): i for i, k in enumerate(kernels)}
    busy_until: dict[int, int] = defaultdict(lambda: -1)
    for index, rs in roots.items():
        for r in rs:
            busy_until[r] = max(busy_until[r], last[index], position[id(owner[r])])

    # Greedy assignment in program order: a buffer is free once every reader of it has run. A buffer has
    # the layout of the array it stands for (empty_like), so NumPy takes the same view-or-copy decisions.
    buffers: list[np.ndarray] = []
    buffer_of: dict[int, int] = {}
    free: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    release: dict[int, list[tuple[tuple[Any, ...], int]]] = defaultdict(list)
    for i, k in enumerate(kernels):
        for key, b in release.pop(i, []):
            free[key].append(b)
        if not k.out_ok or k.outs[0] is None or k.outs[0].index in fresh:
            continue
        v = k.outs[0]
        key = _layout(v.array)
        reuse = _in_place(k, i, key, buffer_of, roots, busy_until, release) if k.elementwise else None
        if reuse is not None:
            b = reuse
        elif free[key]:
            b = free[key].pop()
        else:
            b = len(buffers)
            buffers.append(np.empty_like(v.array))
        buffer_of[v.index] = b
        release[busy_until[v.index] + 1].append((key, b))
    return Plan(tape, kernels, buffer_of, buffers, fresh)


def _layout(a: np.ndarray) -> tuple[Any, ...]:
    return a.shape, a.dtype.str, np.empty_like(a).strides


def _in_place(k: Kernel, i: int, key: tuple[Any, ...], buffer_of: dict[int, int], roots: dict[int, set[int]],
              busy_until: dict[int, int], release: dict[int, list[tuple[tuple[Any, ...], int]]]) -> int | None:
    """The buffer of an input this elementwise kernel reads last, to write the result over it in place
    (`np.exp(a, out=a)`): a smaller working set, and NumPy handles exact overlap of elementwise ops."""
    for u in k.inputs():
        b = buffer_of.get(u.index)
        if b is None or roots.get(u.index) != {u.index} or busy_until[u.index] != i or _layout(u.array) != key:
            continue
        pending = release[i + 1]
        if (key, b) in pending:
            pending.remove((key, b))
            return b
    return None


def describe(plan: Plan) -> str:
    """One line per kernel: for debugging and the docs."""
    lines = []
    for i, k in enumerate(plan.kernels):
        ins = ", ".join(_name(v, plan) for v in values_in(k.args) if isinstance(v, Value))
        outs = ", ".join(_name(o, plan) if o is not None else "_" for o in k.outs)
        target = next((a for a in k.args if isinstance(a, TensorRef)), None)
        where = "" if target is None else (f" arg{target.arg}" if target.arg >= 0 else " tensor")
        lines.append(f"{i:3d} {k.tag:7s} {k.name}{where}({ins}) -> {outs}")
    return "\n".join(lines)


def _name(v: Value, plan: Plan) -> str:
    b = plan.buffer_of.get(v.index)
    return f"{v.kind}{v.index}" + (f"@B{b}" if b is not None else "")
