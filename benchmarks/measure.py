"""Timing, memory and agreement measurements used inside a child process.

Pairing: an engine's steps and NumPy's steps are timed in alternating batches in the same
process (the order flips every round), and each round gives one ratio, so drift in CPU
clock, cache state or machine load hits both sides of a ratio alike.
"""
from __future__ import annotations

import resource
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

Step = Callable[[], Any]


def once(fn: Step) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _minor_faults() -> int:
    """Page faults served without I/O so far: each is a fresh page the allocator took from the OS."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _batch(fn: Step, k: int) -> tuple[float, int]:
    """Seconds per step over k steps, and the minor page faults the k steps took."""
    f0, t0 = _minor_faults(), time.perf_counter()
    for _ in range(k):
        fn()
    return (time.perf_counter() - t0) / k, _minor_faults() - f0


def spread(values: list[float]) -> dict[str, float]:
    p10, p50, p90 = np.percentile(values, [10, 50, 90])
    return {"median": float(p50), "p10": float(p10), "p90": float(p90), "n": len(values)}


def paired(engine: Step, floor: Step, *, budget: float, target_batch: float, min_rounds: int, max_rounds: int,
           engine_first: float | None = None) -> dict[str, Any]:
    """Alternate batches of `engine` and `floor` steps for about `budget` seconds.

    Steps per batch are chosen so one batch lasts about `target_batch` seconds (at least one
    step; exactly one when `target_batch` is 0). `engine_first`, when given with a zero
    `target_batch`, is a time already measured for one engine step (the check run of a slow
    workload), paired with one floor step as round 0.
    Returns per-step seconds (median, p10, p90) for both and the per-round ratio engine/floor.
    """
    cpu0, wall0 = time.process_time(), time.perf_counter()
    rounds: list[tuple[float, float]] = []
    faults = {"engine": 0, "numpy": 0}
    ke = kf = 1
    if target_batch > 0:  # calibrate the batch sizes (these runs also warm both up)
        te1 = engine_first if engine_first is not None else once(engine)
        ke = max(1, int(target_batch / max(te1, 1e-9)))
        kf = max(1, int(target_batch / max(once(floor), 1e-9)))
    elif engine_first is not None:  # one step per batch: the check run is the engine's half of round 0
        rounds.append((engine_first, once(floor)))
    start = time.perf_counter()
    while len(rounds) < max_rounds:
        elapsed = time.perf_counter() - start
        if len(rounds) >= min_rounds and elapsed >= budget:
            break
        if len(rounds) >= min_rounds and rounds and elapsed + ke * rounds[-1][0] + kf * rounds[-1][1] > 1.5 * budget:
            break
        if len(rounds) % 2 == 0:
            te, fe = _batch(engine, ke)
            tf, ff = _batch(floor, kf)
        else:
            tf, ff = _batch(floor, kf)
            te, fe = _batch(engine, ke)
        faults["engine"] += fe
        faults["numpy"] += ff
        rounds.append((te, tf))
    cpu = time.process_time() - cpu0
    wall = time.perf_counter() - wall0
    return {
        "engine": spread([r[0] for r in rounds]),
        "numpy": spread([r[1] for r in rounds]),
        "ratio": spread([r[0] / r[1] for r in rounds]),
        "rounds": len(rounds),
        "steps_per_batch": {"engine": ke, "numpy": kf},
        "cpu_per_wall": cpu / wall if wall > 0 else float("nan"),  # about 1.0 when one thread does the work
        # minor page faults per step: a step that keeps asking the OS for fresh pages pays for it in time
        "faults_per_step": {"engine": faults["engine"] / max(1, ke * len(rounds)),
                            "numpy": faults["numpy"] / max(1, kf * len(rounds))},
    }


# --- memory ------------------------------------------------------------------------------
def _status_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_hwm() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets this process's peak RSS (Linux)
        return True
    except OSError:
        return False


def rss_peak(fn: Step) -> dict[str, Any]:
    """Peak RSS while `fn` runs, above the RSS just before it (MB), and how it was read."""
    reset = _reset_hwm()
    before = _status_kb("VmRSS")
    if before is None:  # no /proc: getrusage's peak since process start
        before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        fn()
        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return {"rss_mb": max(peak_kb - before_kb, 0) / 1024, "rss_method": "getrusage ru_maxrss, not reset"}
    fn()
    peak = _status_kb("VmHWM") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    method = "VmHWM after clear_refs" if reset else "getrusage ru_maxrss (peak since start)"
    return {"rss_mb": max((peak or 0) - before, 0) / 1024, "rss_method": method}


def traced_peak(fn: Step) -> float:
    """Peak of memory traced by tracemalloc while `fn` runs, above what it held before (MB)."""
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return max(peak - before, 0) / 2**20


# --- agreement -----------------------------------------------------------------------------
def rel_err(a: Any, b: Any) -> float:
    """‖a − b‖ / ‖b‖ (Frobenius): one number for "same values", inf on a shape mismatch or NaN.

    Normwise, not elementwise: at a ReLU kink a pre-activation within rounding of 0 can take
    either side depending on the BLAS summation order, which moves a whole column of a weight
    gradient (seen in W3: 4.5% of max |grad| elementwise, between two correct float32 engines).
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return float("inf")
    err = float(np.linalg.norm((a - b).ravel())) / max(float(np.linalg.norm(b.ravel())), 1e-300)
    return err if np.isfinite(err) else float("inf")
