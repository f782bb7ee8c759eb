"""One cell of the table: one engine on one workload variant, in this fresh process.

run.py starts `python cell.py SPEC_JSON OUT_JSON` with the benchmark environment (one BLAS
thread and so on) and reads OUT_JSON back. Modes:
  time   — check the engine against the NumPy floor, then time both, paired (measure.paired)
  memory — set up the engine alone and measure the memory of one step
  env    — report the BLAS kernel (threadpoolctl) and thread settings this environment gives
"""
from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import engines
import measure
import numpy as np
import workloads

NUMPY_BACKED = {"numpy", "numpy (tuned)", "tinygrad_lite", "tinygrad_lite+jit", "autograd", "mygrad", "micrograd"}
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "XLA_FLAGS", "THREADS", "DEV",
               "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "MALLOC_MMAP_THRESHOLD_",
               "MALLOC_TRIM_THRESHOLD_")


def env_facts() -> dict[str, Any]:
    facts: dict[str, Any] = {"numpy": np.__version__, "python": sys.version.split()[0],
                             "env": {k: os.environ.get(k) for k in THREAD_VARS}}
    try:
        from threadpoolctl import threadpool_info
        facts["threadpools"] = threadpool_info()
    except ImportError:
        facts["threadpools"] = "threadpoolctl not installed"
    return facts


def _make(spec: dict[str, Any], prob: workloads.Problem, floors: dict[str, Any]) -> tuple[Any, str, str]:
    """A factory for the cell's runner, the engine's version, and the build variant."""
    name = spec["engine"]
    if name in floors:
        return floors[name], np.__version__, "eager"
    module, eng = engines.load(name)
    version = module.version()
    return (lambda: module.build(prob, eng.variant)), version, eng.variant


def _check(runner: Any, floor: Any, prob: workloads.Problem, steps: int) -> dict[str, Any]:
    """Loss and gradients at the same parameters, then the parameter change after `steps` updates."""
    loss_e, grads_e = runner.loss_and_grads()
    loss_n, grads_n = floor.loss_and_grads()
    errors = {"loss": (measure.rel_err(loss_e, loss_n), prob.tol)}
    for i, (ge, gn) in enumerate(zip(grads_e, grads_n)):
        errors[f"grad{i}"] = (measure.rel_err(ge, gn), prob.tol)
    if len(grads_e) != len(grads_n):
        errors["grad count"] = (float("inf"), 0.0)
    if prob.lr is not None and steps > 0:
        pe0, pn0 = runner.params(), floor.params()
        for _ in range(steps):
            runner.step()
            floor.step()
        for i, (a0, a1, b0, b1) in enumerate(zip(pe0, runner.params(), pn0, floor.params())):
            delta_n = b1 - b0
            # the update is a difference of nearby numbers: allow their rounding on top of tol
            eps = np.finfo(b0.dtype).eps if b0.dtype.kind == "f" else 0.0
            scale = max(float(np.max(np.abs(delta_n), initial=0.0)), 1e-300)
            slack = 16 * steps * eps * float(np.max(np.abs(b1), initial=0.0)) / scale
            errors[f"update{i}"] = (measure.rel_err(a1 - a0, delta_n), prob.tol * 10 + slack)
    bad = {k: v for k, v in errors.items() if not v[0] <= v[1]}
    return {"ok": not bad, "errors": {k: v[0] for k, v in errors.items()}, "failed": sorted(bad),
            "loss": float(loss_e), "loss_numpy": float(loss_n), "update_steps": steps if prob.lr is not None else 0}


def time_cell(spec: dict[str, Any]) -> dict[str, Any]:
    wl = workloads.load(spec["workload"])
    variant, quick = spec["variant"], spec["quick"]
    proto = wl.protocol(variant, quick)
    prob = wl.problem(variant)
    floors = wl.floors(prob, variant)
    make, version, _ = _make(spec, prob, floors)
    out: dict[str, Any] = {"version": version, "ops_per_step": prob.ops_per_step}
    runner = make()
    floor = floors["numpy"]()
    box: list[Any] = []
    t0 = time.perf_counter()
    if wl.MEMORY == "inline":  # the first forward+backward of this fresh process, measured as it runs
        out["memory"] = measure.rss_peak(lambda: box.append(runner.loss_and_grads()))
    else:
        box.append(runner.loss_and_grads())
    first = time.perf_counter() - t0
    steps = proto.check_steps if first * 4 * proto.check_steps < proto.timeout / 3 else 1
    check = _check(_Replay(runner, box[0]), floor, prob, steps)
    out["check"] = check
    if not check["ok"]:
        out["status"] = "wrong"
        out["reason"] = "differs from NumPy: " + ", ".join(f"{k} rel.err {check['errors'][k]:.2g}"
                                                          for k in check["failed"])
        return out
    reuse = first if prob.lr is None and proto.target_batch == 0 else None
    # an engine whose single step outlasts the budget gets one round, so the cell ends before its timeout
    min_rounds = proto.min_rounds if first * proto.min_rounds <= 2 * proto.budget else 1
    out["timing"] = measure.paired(runner.step, floor.step, budget=proto.budget, target_batch=proto.target_batch,
                                   min_rounds=min_rounds, max_rounds=proto.max_rounds, engine_first=reuse)
    out["status"] = "ok"
    return out


class _Replay:
    """The runner, with its first loss_and_grads (already computed and maybe measured) served once."""

    def __init__(self, runner: Any, first: Any) -> None:
        self.runner, self.first = runner, first

    def loss_and_grads(self) -> Any:
        first, self.first = self.first, None
        return first if first is not None else self.runner.loss_and_grads()

    def step(self) -> None:
        self.runner.step()

    def params(self) -> Any:
        return self.runner.params()


def memory_cell(spec: dict[str, Any]) -> dict[str, Any]:
    wl = workloads.load(spec["workload"])
    variant = spec["variant"]
    prob = wl.problem(variant)
    make, version, build_variant = _make(spec, prob, wl.floors(prob, variant))
    runner = make()
    if build_variant == "jit":
        runner.step()  # compile and capture first: the memory of a steady-state jitted step
        runner.step()
    out: dict[str, Any] = {"version": version, "status": "ok", "memory": measure.rss_peak(runner.step)}
    if spec["engine"] in NUMPY_BACKED:
        out["memory"]["traced_mb"] = measure.traced_peak(runner.step)
    return out


PIN = {"jax", "jax.jit"}  # XLA sizes its thread pool from the CPU affinity, not from the one-thread flags


def _idle_ticks() -> dict[int, int]:
    ticks = {}
    for line in Path("/proc/stat").read_text().splitlines():
        name, *fields = line.split()
        if name.startswith("cpu") and name != "cpu":
            ticks[int(name[3:])] = int(fields[3]) + int(fields[4])  # idle + iowait
    return ticks


def pin_to_one_core(engine: str | None) -> int | None:
    """Run an XLA cell on one CPU core, the idlest one right now. XLA still ran a second thread
    despite its flags (cpu/wall 1.4 in W3); pinned, its pool has one core. Other engines are not
    pinned: on a shared machine a pinned process cannot move away from another busy process."""
    if engine not in PIN:
        return None
    try:
        allowed = os.sched_getaffinity(0)
        before = _idle_ticks()
        time.sleep(0.2)
        after = _idle_ticks()
        core = max(allowed, key=lambda c: after.get(c, 0) - before.get(c, 0))
        os.sched_setaffinity(0, {core})
        return core
    except (AttributeError, OSError, ValueError):  # not Linux
        return None


def main() -> None:
    spec = json.loads(sys.argv[1])
    core = pin_to_one_core(spec.get("engine"))
    out_path = Path(sys.argv[2])
    result: dict[str, Any] = {"workload": spec.get("workload"), "engine": spec.get("engine"),
                              "variant": spec.get("variant", {}).get("name"), "pinned_core": core}
    try:
        mode = spec["mode"]
        if mode == "env":
            result.update(env_facts(), status="ok")
        elif mode == "memory":
            result.update(memory_cell(spec))
        elif hasattr(workloads.load(spec["workload"]), "run_cell"):
            result.update(workloads.load(spec["workload"]).run_cell(spec))
        else:
            result.update(time_cell(spec))
    except RecursionError as exc:
        result.update(status="failed", reason=f"RecursionError: {exc}")
    except Exception as exc:  # any engine failure is a result to report, not a crash of the suite
        result.update(status="failed", reason=f"{type(exc).__name__}: {str(exc)[:300]}",
                      traceback=traceback.format_exc()[-2000:])
    out_path.write_text(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
