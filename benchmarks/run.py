"""Run the benchmark suite: every workload × every engine, each cell in its own process.

    python benchmarks/run.py                 # the full suite (about 10-15 minutes on 2 cores)
    python benchmarks/run.py --quick         # tiny sizes, under a minute with numpy + torch
    python benchmarks/run.py --only W1,W5 --engines tinygrad_lite,torch --out /tmp/bench

Prints Markdown tables on stdout, progress on stderr, and writes results.json and
results.png into --out (default benchmarks/results/). See benchmarks/README.md.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import engines  # noqa: E402 - after the path fix above, so run.py works from any folder
import report  # noqa: E402
import workloads  # noqa: E402

ORDER = ["numpy", "numpy (tuned)", *(e.name for e in engines.ENGINES)]
JIT_PARTNER = {"tinygrad+TinyJit": "tinygrad", "jax.jit": "jax", "tinygrad_lite+jit": "tinygrad_lite"}
OWN_CRITICAL = ("numpy", "tinygrad_lite")  # failures of these make the run exit 1 (CI); peers' do not


def child_env() -> tuple[dict[str, str], dict[str, Any]]:
    """The environment of every cell: one thread everywhere, and no OpenBLAS core-type override."""
    env = dict(os.environ)
    removed = {}
    if "OPENBLAS_CORETYPE" in env or "OPENBLAS_L2_SIZE" in env:  # set on some CPUs; they slow a current NumPy
        removed = {k: env.pop(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in env}
    settings = {
        "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "VECLIB_MAXIMUM_THREADS": "1",
        "NUMEXPR_NUM_THREADS": "1",
        "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
        "JAX_PLATFORMS": "cpu", "TF_CPP_MIN_LOG_LEVEL": "2",
        "DEV": "CPU", "THREADS": "0",  # tinygrad: the clang CPU backend, one thread
        # every cell under the allocator policy tinygrad_lite sets on import (tinygrad_lite/_malloc.py): no engine
        # or floor pays page faults its process's memory history decides
        "MALLOC_MMAP_THRESHOLD_": str(32 << 20), "MALLOC_TRIM_THRESHOLD_": str(64 << 20),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")])),
    }
    env.update(settings)
    return env, {"set": settings, "removed": removed}


def run_child(spec: dict[str, Any], env: dict[str, str], timeout: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "cell.json"
        t0 = time.perf_counter()
        try:
            done = subprocess.run([sys.executable, str(HERE / "cell.py"), json.dumps(spec), str(out)], env=env,
                                  capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return {"status": "timeout", "reason": f"killed after {timeout:.0f} s"}
        wall = time.perf_counter() - t0
        if not out.exists():
            tail = (done.stderr or done.stdout or "").strip().splitlines()[-3:]
            return {"status": "failed", "reason": f"child exited {done.returncode} with no result: {' / '.join(tail)}"}
        result: dict[str, Any] = json.loads(out.read_text())
        result["wall_s"] = round(wall, 2)
        return result


def machine_facts() -> dict[str, Any]:
    facts: dict[str, Any] = {"platform": platform.platform(), "python": platform.python_version(),
                             "cpu_count": os.cpu_count(), "loadavg_start": os.getloadavg()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                facts["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                facts["memory_gb"] = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return facts


def plan_reason(meta: Any, variant: dict[str, Any], engine: str, floors: set[str], done: list[dict[str, Any]],
                args: argparse.Namespace) -> tuple[str, str] | None:
    """Why this cell is not run, as (status, reason), or None to run it."""
    if engine not in getattr(meta, "ONLY", (engine,)):
        return "hide", ""
    if engine in ("numpy", "numpy (tuned)"):
        return None if engine in floors else ("hide", "")
    if engine in meta.SKIP:
        return "n/a", meta.SKIP[engine]
    if not engines.installed(engines.BY_NAME[engine]):
        return "not installed", f"{engines.BY_NAME[engine].requires} is not importable"

    def earlier(name: str, large: bool | None = None) -> dict[str, Any] | None:
        for c in done:
            if c["workload"] == meta.ID and c["engine"] == name and (large is None or c.get("large") == large):
                return c
        return None

    if variant.get("large"):
        small = earlier(engine, large=False)
        if small is None or small.get("status") != "ok":
            status = "none" if small is None else small.get("status")
            return "skipped", f"the smaller chain did not succeed ({status}: {str((small or {}).get('reason'))[:80]})"
        per_op = small["timing"]["engine"]["median"] / small["ops_per_step"]
        predicted = per_op * variant["n"]
        if predicted > args.w4_limit:
            return "skipped", (f"predicted {predicted:.0f} s per run from {per_op * 1e6:.0f} µs/op at the smaller "
                               f"size, over --w4-limit {args.w4_limit:.0f} s")
    partner = JIT_PARTNER.get(engine)
    if partner is not None and not args.quick:
        eager = earlier(partner)
        proto = meta.protocol(variant, args.quick)
        if eager is not None and eager.get("status") == "ok":
            step = eager["timing"]["engine"]["median"]
            if step * 8 > proto.timeout:
                return "skipped", f"eager {partner} takes {step:.1f} s per step here; the jit cell needs ≥ 8 steps"
        elif eager is not None and eager.get("status") in ("timeout", "failed"):
            return "skipped", f"eager {partner} did not complete this workload ({eager.get('status')})"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes and short budgets (CI)")
    parser.add_argument("--out", type=Path, default=HERE / "results", help="folder for results.json and results.png")
    parser.add_argument("--only", default="", help="comma-separated workloads, e.g. W1,W2")
    parser.add_argument("--engines", default="", help="comma-separated engines (the NumPy floor always runs)")
    parser.add_argument("--w4-limit", type=float, default=60.0,
                        help="skip W4's large chain for an engine predicted to need more seconds per run (default 60)")
    args = parser.parse_args(argv)

    chosen_w = [w.strip().upper() for w in args.only.split(",") if w.strip()] or workloads.ORDER
    unknown = [w for w in chosen_w if w not in workloads.ORDER]
    chosen_e = [e.strip() for e in args.engines.split(",") if e.strip()] or ORDER
    unknown += [e for e in chosen_e if e not in ORDER]
    if unknown:
        parser.error(f"unknown workload or engine {unknown}; workloads {workloads.ORDER}, engines {ORDER}")
    names = [e for e in ORDER if e in chosen_e or e == "numpy"]

    start = time.perf_counter()
    env, env_changes = child_env()
    facts = machine_facts()
    child_facts = run_child({"mode": "env"}, env, 60)
    results: list[dict[str, Any]] = []
    for w in chosen_w:
        meta = workloads.load(w)
        for variant in meta.variants(args.quick):
            floors = {"numpy", "numpy (tuned)"} if w == "W1" else {"numpy"}
            proto = meta.protocol(variant, args.quick)
            for engine in names:
                base = {"workload": w, "engine": engine, "variant": variant["name"], "large": variant.get("large")}
                skip = plan_reason(meta, variant, engine, floors, results, args)
                if skip is not None:
                    if skip[0] != "hide":
                        results.append({**base, "status": skip[0], "reason": skip[1]})
                    continue
                spec = {"workload": w, "engine": engine, "variant": variant, "quick": args.quick, "mode": "time"}
                cell = {**run_child(spec, env, proto.timeout), **base}
                if meta.MEMORY == "rss+tracemalloc" and cell.get("status") == "ok":
                    mem_env = {**{k: v for k, v in env.items() if k != "MALLOC_TRIM_THRESHOLD_"},
                               "MALLOC_MMAP_THRESHOLD_": "65536"}  # big blocks go back to the OS when freed
                    mem = run_child({**spec, "mode": "memory"}, mem_env, proto.timeout)
                    cell["memory"] = mem.get("memory", {"error": mem.get("reason")})
                results.append(cell)
                t = cell.get("timing", {}).get("ratio", {}).get("median")
                print(f"[{time.perf_counter() - start:6.0f} s] {variant['name']:<14} {engine:<18} "
                      f"{cell.get('status')}{f' {t:.3g}x numpy' if t else ''} {str(cell.get('reason', ''))[:90]}",
                      file=sys.stderr, flush=True)

    facts["loadavg_end"] = os.getloadavg()
    duration = time.perf_counter() - start
    lines = [f"## Benchmarks ({'quick' if args.quick else 'full'} run, {duration:.0f} s)", "",
             f"Machine: {facts.get('cpu', '?')}, {facts['cpu_count']} cores, {facts.get('memory_gb', '?')} GB, "
             f"{facts['platform']}, Python {facts['python']}; BLAS: {blas_line(child_facts)}; "
             f"load average {facts['loadavg_start'][0]:.2f} at start, {facts['loadavg_end'][0]:.2f} at end.", ""]
    lines += report.targets_table(results, args.quick)
    for w in chosen_w:
        meta = workloads.load(w)
        variants = meta.variants(args.quick)
        for variant in variants:
            lines += report.workload_table(meta, variant["name"], [c for c in results if c["variant"] ==
                                                                   variant["name"] and c["workload"] == w])
        if w == "W4" and len(variants) == 2:
            cells = [c for c in results if c["workload"] == "W4"]
            lines += report.linearity_table([c for c in cells if not c.get("large")],
                                            [c for c in cells if c.get("large")],
                                            (variants[0]["name"], variants[1]["name"]))
    args.out.mkdir(parents=True, exist_ok=True)
    chart = report.chart(results, args.out / "results.png")
    lines.append(f"JSON: {args.out / 'results.json'}; chart: {chart}")
    print("\n".join(lines))
    payload = {"command": " ".join(["python", sys.argv[0], *(argv if argv is not None else sys.argv[1:])]),
               "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
               "duration_s": round(duration, 1), "quick": args.quick, "machine": facts, "child_environment":
               {**env_changes, "in_child": child_facts}, "results": results}
    (args.out / "results.json").write_text(json.dumps(payload, indent=1, default=str))
    bad = [c for c in results if c["engine"] in OWN_CRITICAL and c.get("status") not in ("ok", "n/a", "skipped")]
    for c in bad:
        print(f"FAILED: {c['variant']} {c['engine']}: {c.get('status')} {c.get('reason', '')}", file=sys.stderr)
    return 1 if bad else 0


def blas_line(child_facts: dict[str, Any]) -> str:
    pools = child_facts.get("threadpools")
    if not isinstance(pools, list):
        return str(pools)
    return ", ".join(f"{p.get('internal_api')} {p.get('version')} {p.get('architecture', '')} "
                     f"({p.get('num_threads')} thread{'s' if p.get('num_threads') != 1 else ''})" for p in pools)


if __name__ == "__main__":
    sys.exit(main())
