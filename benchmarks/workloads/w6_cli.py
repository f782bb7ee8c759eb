"""W6: the README path. Wall time of `tinygrad-lite article` (200,000 steps, its defaults: jit
when available, progress off with --quiet, the PNG into a temporary folder), each run a fresh
process, against a fresh process running the same training by hand in NumPy
(benchmarks/article_numpy.py). The CLI's 2-4-1 final error is checked against NumPy's.

Skips with a note while tinygrad_lite.cli does not exist.
"""
from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from . import Protocol

ID, TITLE, UNIT, PER, MEMORY = "W6", "`tinygrad-lite article` wall time (fresh process)", "ms", "run", ""
ONLY = ("numpy", "tinygrad_lite")  # the command line is tinygrad_lite's own; no other engine has a row
SKIP: dict[str, str] = {}
FLOOR_SCRIPT = Path(__file__).resolve().parent.parent / "article_numpy.py"
ERROR_LINE = re.compile(r"2-4-1 network\s+([0-9]+\.[0-9]+)")


def variants(quick: bool) -> list[dict[str, Any]]:
    return [{"name": "W6", "steps": 2_000 if quick else 200_000}]


def protocol(variant: dict[str, Any], quick: bool) -> Protocol:
    return Protocol(budget=0.0, target_batch=0.0, min_rounds=1 if quick else 2, max_rounds=3,
                    timeout=120 if quick else 600)


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("tinygrad-lite")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tinygrad_lite"]


def _run(cmd: list[str], timeout: float) -> tuple[float, str]:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[-6:])} exited {done.returncode}: {(done.stderr or done.stdout)[-300:]}")
    return seconds, done.stdout


def _final_error(stdout: str) -> float | None:
    found = ERROR_LINE.findall(stdout)
    return float(found[-1]) if found else None


def run_cell(spec: dict[str, Any]) -> dict[str, Any]:
    if spec["engine"] != "numpy" and importlib.util.find_spec("tinygrad_lite.cli") is None:
        return {"status": "skipped", "reason": "tinygrad_lite.cli does not exist yet"}
    variant, quick = spec["variant"], spec["quick"]
    proto = protocol(variant, quick)
    steps = str(variant["steps"])
    floor = [sys.executable, str(FLOOR_SCRIPT), steps]
    with tempfile.TemporaryDirectory() as out_dir:
        cli = _cli() + ["article", "--steps", steps, "--quiet", "--out", out_dir]
        engine = floor if spec["engine"] == "numpy" else cli
        rounds: list[tuple[float, float]] = []
        outputs = ("", "")
        start = time.perf_counter()
        while len(rounds) < proto.min_rounds or (len(rounds) < proto.max_rounds
                                                 and time.perf_counter() - start < proto.budget):
            if len(rounds) % 2 == 0:
                (te, oe), (tf, of) = _run(engine, proto.timeout / 3), _run(floor, proto.timeout / 3)
            else:
                (tf, of), (te, oe) = _run(floor, proto.timeout / 3), _run(engine, proto.timeout / 3)
            rounds.append((te, tf))
            outputs = (oe, of)
    from measure import spread

    err_e, err_f = _final_error(outputs[0]), _final_error(outputs[1])
    tol = 0.05 if quick else 1e-3  # trajectories part by rounding after ~1,100 steps and meet again at the end
    ok = err_e is not None and err_f is not None and abs(err_e - err_f) <= tol * abs(err_f)
    result: dict[str, Any] = {
        "version": "cli" if spec["engine"] != "numpy" else "article_numpy.py",
        "ops_per_step": 1,
        "command": " ".join(Path(c).name if i == 0 else c for i, c in enumerate(engine)),
        "check": {"ok": ok, "loss": err_e, "loss_numpy": err_f, "errors": {}, "failed": [] if ok else ["final error"]},
        "timing": {"engine": spread([r[0] for r in rounds]), "numpy": spread([r[1] for r in rounds]),
                   "ratio": spread([r[0] / r[1] for r in rounds]), "rounds": len(rounds)},
        "status": "ok" if ok else "wrong",
    }
    if not ok:
        result["reason"] = f"final 2-4-1 error {err_e} vs NumPy {err_f} (tolerance {tol:.0%})"
    return result
