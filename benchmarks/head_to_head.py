"""Engines head to head on one workload, interleaved step by step in ONE process.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/head_to_head.py W7 --steps 300
    python benchmarks/head_to_head.py W8 --engines numpy,tinygrad_lite,torch

`run.py` gives each engine its own process, paired with the NumPy floor there; two engines are then compared
through their floors, timed minutes apart on a machine whose speed can change twofold within seconds. Here
every engine takes one step in turn (the order alternating each round), so each sees the same machine, and
the medians compare directly: "× torch" and "× numpy" are ratios of medians taken over the same rounds. The
engines share the process (its caches, its allocator, and the malloc thresholds tinygrad_lite sets on import,
which then hold for every engine), so this complements the per-process suite rather than replacing it.

The script restarts itself in the suite's cell environment (`run.child_env`: one thread for every BLAS and
XLA, the malloc thresholds), and with JAX among the engines pins the process to one core (`cell.pin_to_one_core`:
XLA sizes its thread pool from the CPU affinity, and unpinned it used 1.65 cores), so every engine gets one.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cell  # noqa: E402
import workloads  # noqa: E402


def runners(workload: str, names: list[str]) -> dict[str, Any]:
    """One runner per engine that is installed and runs this workload, each on its own copy of the problem, made
    as the suite's cells make theirs (`cell._make`)."""
    wl = workloads.load(workload)
    variant = wl.variants(False)[0]
    only, skip = getattr(wl, "ONLY", None), getattr(wl, "SKIP", {})
    out: dict[str, Any] = {}
    for name in names:
        if name in skip or (only is not None and name not in only):
            print(f"skipped {name}: {skip.get(name, 'not among the workload engines')}", file=sys.stderr)
            continue
        prob = wl.problem(variant)
        try:
            make, _, _ = cell._make({"engine": name}, prob, wl.floors(prob, variant))
        except (ImportError, KeyError) as exc:
            print(f"skipped {name}: not installed or not an engine of the suite ({exc})", file=sys.stderr)
            continue
        out[name] = make()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workload", help="a workload id, e.g. W7")
    ap.add_argument("--engines", default="numpy,tinygrad_lite,tinygrad_lite+jit,torch")
    ap.add_argument("--steps", type=int, default=200, help="timed rounds (each engine one step per round)")
    ap.add_argument("--warmup", type=int, default=10)
    args = ap.parse_args()
    if os.environ.get("HEAD_TO_HEAD_CELL") != "1":  # restart with the suite's environment, set before any import
        import run

        env, _ = run.child_env()
        os.execve(sys.executable, [sys.executable, os.path.abspath(__file__), *sys.argv[1:]],
                  {**env, "HEAD_TO_HEAD_CELL": "1"})
    pinned = next((core for core in map(cell.pin_to_one_core, args.engines.split(",")) if core is not None), None)
    try:
        import torch
        torch.set_num_threads(1)
    except ImportError:
        pass
    run = runners(args.workload, args.engines.split(","))
    names = list(run)
    for r in run.values():
        for _ in range(args.warmup):
            r.step()
    times: dict[str, list[float]] = {n: [] for n in names}
    for i in range(args.steps):
        for n in names if i % 2 == 0 else names[::-1]:
            t = time.perf_counter()
            run[n].step()
            times[n].append(time.perf_counter() - t)
    med = {n: float(np.median(ts)) for n, ts in times.items()}
    where = f", pinned to core {pinned}" if pinned is not None else ""
    print(f"{args.workload}, {args.steps} rounds interleaved in one process{where} (median, p25-p75 of a step)")
    print(f"{'engine':<20} {'median':>10} {'p25-p75':>17} {'× numpy':>8} {'× torch':>8}")
    for n in names:
        p25, p75 = np.percentile(times[n], [25, 75]) * 1e3
        vs_np = f"{med[n] / med['numpy']:.3f}" if "numpy" in med else "-"
        vs_t = f"{med[n] / med['torch']:.3f}" if "torch" in med else "-"
        print(f"{n:<20} {med[n] * 1e3:8.3f} ms {p25:7.2f}-{p75:<7.2f}ms {vs_np:>8} {vs_t:>8}")


if __name__ == "__main__":
    main()
