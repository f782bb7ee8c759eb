"""W3: MLP 4096-4096-4096-10, batch 512, float32: BLAS-bound.

Timed: one training step (ms). Memory: a fresh child per engine measures the extra memory
one step needs beyond the parameters and data: the RSS high-water mark (/proc VmHWM reset
through /proc/self/clear_refs, else getrusage) for every engine, and for NumPy-backed engines
also the tracemalloc peak (NumPy reports its buffers to tracemalloc).

The agreement check allows 1e-2 (normwise): at this size a pre-activation within rounding of 0
takes either side of the ReLU kink depending on the BLAS summation order, and that one mask entry
moves ∂L/∂w1 by about 0.3% between two correct float32 engines (seen with seed 0: JAX and tinygrad
agree with a float64 reference to 5e-7, NumPy/PyTorch's OpenBLAS/MKL order flips one entry).
"""
from __future__ import annotations

from typing import Any

from . import Problem, Protocol, mlp

ID, TITLE, UNIT, PER, MEMORY = "W3", "MLP 4096-4096-4096-10, batch 512, float32", "ms", "step", "rss+tracemalloc"
SKIP = {"micrograd": "scalar engine: about 10^10 Value nodes per step (small workloads only)",
        "tinygrad_lite+jit": "the jit cell covers W1/W2 (issue 4); W3 is BLAS-bound"}


def variants(quick: bool) -> list[dict[str, Any]]:
    if quick:
        return [{"name": "W3", "sizes": (256, 256, 256, 10), "batch": 32}]
    return [{"name": "W3", "sizes": (4096, 4096, 4096, 10), "batch": 512}]


def protocol(variant: dict[str, Any], quick: bool) -> Protocol:
    if quick:
        return Protocol(budget=0.3, target_batch=0.005, min_rounds=3, timeout=60)
    return Protocol(budget=10.0, target_batch=0.0, min_rounds=5, max_rounds=9, check_steps=3, timeout=240)


def problem(variant: dict[str, Any]) -> Problem:
    return mlp.problem(variant["sizes"], variant["batch"], lr=0.01, tol=1e-2)


def floors(prob: Problem, variant: dict[str, Any]) -> dict[str, Any]:
    return {"numpy": lambda: mlp.Floor(prob)}
