"""W4's chain with and without Python's cyclic garbage collector, and what its full collections cost.

    python benchmarks/gc_chain.py                 # 10,000 and 1,000,000 ops
    python benchmarks/gc_chain.py --ops 10000 200000

For each length: µs per op (forward + backward) with the collector on and off, and, with it on, the
number of generation-2 (full) collections during the run and the seconds they took (gc.callbacks).
The ratio of per-op times (longest chain over shortest) is W4's linearity, without the pairing.
"""
from __future__ import annotations

import argparse
import gc
import time
from typing import Any

import numpy as np

import tinygrad_lite as tl


def chain(n: int) -> tuple[float, int, float]:
    """Seconds for an n-op chain (alternating y*c, y+d as in W4) and its backward; full collections, their time."""
    full: list[float] = []
    started: list[float] = []

    def watch(phase: str, info: dict[str, Any]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            started.append(time.perf_counter())
        else:
            full.append(time.perf_counter() - started.pop())

    x = tl.Tensor(np.random.default_rng(0).standard_normal((4, 4)), requires_grad=True)
    gc.callbacks.append(watch)
    try:
        t0 = time.perf_counter()
        y = x
        for _ in range(n // 2):
            y = y * 1.0000001
            y = y + 0.5
        y.sum().backward()
        elapsed = time.perf_counter() - t0
    finally:
        gc.callbacks.remove(watch)
    return elapsed, len(full), sum(full)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, nargs="+", default=[10_000, 1_000_000])
    args = parser.parse_args()
    rows = {}
    for collector in ("on", "off"):
        for n in args.ops:
            gc.collect()
            if collector == "off":
                gc.disable()
            try:
                elapsed, count, seconds = chain(n)
            finally:
                gc.enable()
            rows[collector, n] = elapsed / n * 1e6
            extra = f", {count} full collections taking {seconds:.2f} s" if collector == "on" else ""
            print(f"collector {collector:3s} {n:>9,} ops: {elapsed / n * 1e6:.2f} µs/op{extra}")
    for collector in ("on", "off"):
        ratio = rows[collector, args.ops[-1]] / rows[collector, args.ops[0]]
        print(f"collector {collector}: per-op time {args.ops[-1]:,} ops / {args.ops[0]:,} ops = {ratio:.2f}")


if __name__ == "__main__":
    main()
