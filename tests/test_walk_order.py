"""The backward walk's order on random graphs: every node must be processed after all of its consumers, however
the graph is wired (chains, which skip the heap, diamonds, fan-out, nodes reached late, leaves used many times).

The reference is reverse mode by hand over the program's own instruction list (which is a topological order by
construction), on Python floats: a node processed too early would hand on a partial gradient, and the sums
below would differ.
"""
from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_lite import Tensor

OPS = ("add", "mul", "sub", "sin")


@st.composite
def programs(draw: st.DrawFn) -> tuple[list[float], list[tuple[str, int, int]]]:
    """Leaf values and instructions (op, i, j) on earlier slots; the last slot is the output."""
    leaves = draw(st.lists(st.floats(-2, 2), min_size=1, max_size=4))
    n = draw(st.integers(1, 30))
    program = []
    for k in range(n):
        slots = len(leaves) + k
        # mostly the latest slot (long chains), sometimes any earlier one (diamonds, late joins)
        pick = st.one_of(st.just(slots - 1), st.integers(0, slots - 1))
        program.append((draw(st.sampled_from(OPS)), draw(pick), draw(pick)))
    return leaves, program


def reference(leaves: list[float], program: list[tuple[str, int, int]]) -> list[float]:
    vals = list(leaves)
    for op, i, j in program:
        a, b = vals[i], vals[j]
        vals.append(a + b if op == "add" else a * b if op == "mul" else a - b if op == "sub" else math.sin(a))
    grads = [0.0] * len(vals)
    grads[-1] = 1.0
    for k in range(len(program) - 1, -1, -1):
        op, i, j = program[k]
        g = grads[len(leaves) + k]
        if op == "add":
            grads[i] += g
            grads[j] += g
        elif op == "sub":
            grads[i] += g
            grads[j] -= g
        elif op == "mul":
            grads[i] += g * vals[j]
            grads[j] += g * vals[i]
        else:
            grads[i] += g * math.cos(vals[i])
    return grads[:len(leaves)]


@given(programs())
def test_random_graphs_get_the_hand_computed_gradients(case: tuple[list[float], list[tuple[str, int, int]]]) -> None:
    leaves, program = case
    tensors = [Tensor(np.array(v), requires_grad=True) for v in leaves]
    slots = list(tensors)
    for op, i, j in program:
        a, b = slots[i], slots[j]
        slots.append(a + b if op == "add" else a * b if op == "mul" else a - b if op == "sub" else a.sin())
    out = slots[-1]
    if out.requires_grad:
        out.backward()
    want = reference(leaves, program)
    got = [0.0 if t.grad is None else float(t.grad.item()) for t in tensors]
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
