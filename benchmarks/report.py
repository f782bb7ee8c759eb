"""Turning cell results into the Markdown tables (stdout, docs) and the PNG chart."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

SCALE = {"us": 1e6, "ms": 1e3, "s": 1.0}
LABEL = {"us": "µs", "ms": "ms", "s": "s"}
TARGETS = {"W1": 2.5, "W2": 1.05, "W3": 1.03, "W5": 3.0}
W3_MEMORY_TARGET = 1.3
LINEAR_LIMIT = 1.5  # per-op time at the large size over the small one
BUSY = 0.85  # cpu/wall below this: the cell shared its core with other work


def fmt(x: float | None, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    if x == 0:
        return "0"
    mag = math.floor(math.log10(abs(x)))
    decimals = max(digits - 1 - mag, 0)
    return f"{x:,.{decimals}f}"


def per_unit(cell: dict[str, Any], key: str, unit: str) -> float | None:
    t = cell.get("timing", {}).get("engine", {}).get(key)
    return None if t is None else t * SCALE[unit] / cell.get("ops_per_step", 1)


def ratio(cell: dict[str, Any], key: str = "median") -> float | None:
    value = cell.get("timing", {}).get("ratio", {}).get(key)
    return None if value is None else float(value)


def memory_ratio(cells: list[dict[str, Any]], engine: str, field: str) -> float | None:
    by = {c["engine"]: c for c in cells}
    mine, floor = by.get(engine, {}).get("memory", {}), by.get("numpy", {}).get("memory", {})
    if mine.get(field) is None or not floor.get(field):
        return None
    return float(mine[field]) / float(floor[field])


def workload_table(meta: Any, variant: str, cells: list[dict[str, Any]]) -> list[str]:
    unit = "s" if meta.ID == "W6" else meta.UNIT
    u = LABEL[unit]
    head = f"### {variant} — {meta.TITLE} ({u} per {meta.PER})"
    cols = ["engine", "version", "median", "p10", "p90", "× NumPy (paired)", "ratio p10–p90", "NumPy here"]
    if meta.MEMORY == "rss+tracemalloc":
        cols += ["step RSS MB", "tracemalloc MB", "RSS × NumPy"]
    if meta.MEMORY == "inline":
        cols += ["RSS MB", "bytes/op"]
    cols += ["check", "note"]
    lines = [head, "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for c in cells:
        status = c.get("status", "?")
        row = [c["engine"], str(c.get("version", "")).split(" (")[0] or "–"]
        if status == "ok" or "timing" in c:
            nump = c.get("timing", {}).get("numpy", {}).get("median")
            nump_u = None if nump is None else nump * SCALE[unit] / c.get("ops_per_step", 1)
            r10, r90 = ratio(c, "p10"), ratio(c, "p90")
            row += [fmt(per_unit(c, "median", unit)), fmt(per_unit(c, "p10", unit)), fmt(per_unit(c, "p90", unit)),
                    f"**{fmt(ratio(c))}×**", f"{fmt(r10)}–{fmt(r90)}", fmt(nump_u)]
        else:
            row += ["–"] * 6
        mem = c.get("memory", {})
        if meta.MEMORY == "rss+tracemalloc":
            rss_ratio = memory_ratio(cells, c["engine"], "rss_mb")
            row += [fmt(mem.get("rss_mb")), fmt(mem.get("traced_mb")), fmt(rss_ratio)]
        if meta.MEMORY == "inline":
            rss = mem.get("rss_mb")
            per_op = None if rss is None else rss * 2**20 / c.get("ops_per_step", 1)
            row += [fmt(rss), fmt(per_op)]
        check = c.get("check", {})
        if status == "ok":
            worst = max(check.get("errors", {}).values(), default=None)
            row.append("ok" if not worst else f"ok ({worst:.0e})")
        else:
            row.append(status)
        note = str(c.get("reason", "")).replace("|", "/").replace("\n", " ")[:160]
        faults = c.get("timing", {}).get("faults_per_step", {})
        if faults.get("engine", 0) >= 10 or faults.get("numpy", 0) >= 10:  # fresh pages from the OS cost time
            note = f"page faults/step: {faults['engine']:.0f} here, {faults['numpy']:.0f} NumPy. {note}".strip()
        busy = c.get("timing", {}).get("cpu_per_wall")
        if busy is not None and busy < BUSY:  # the process waited for a core: absolute times are high
            note = f"machine busy (cpu/wall {busy:.2f}): absolute times inflated, ratio paired. {note}".strip()
        row.append(note)
        lines.append("| " + " | ".join(row) + " |")
    return lines + [""]


def linearity_table(small: list[dict[str, Any]], large: list[dict[str, Any]], names: tuple[str, str]) -> list[str]:
    lines = [f"### W4 linearity — per-op time and memory, {names[1]} over {names[0]}", "",
             "| engine | µs/op small | µs/op large | time ratio | bytes/op small | bytes/op large |",
             "|---|---|---|---|---|---|"]
    by_large = {c["engine"]: c for c in large}
    for s in small:
        big = by_large.get(s["engine"])
        if s.get("status") != "ok":
            continue
        a = per_unit(s, "median", "us")
        b = per_unit(big, "median", "us") if big and big.get("status") == "ok" else None
        mem = [None if c is None or "memory" not in c else c["memory"]["rss_mb"] * 2**20 / c["ops_per_step"]
               for c in (s, big)]
        r = None if a is None or b is None else b / a
        lines.append(f"| {s['engine']} | {fmt(a)} | {fmt(b)} | {fmt(r)} | {fmt(mem[0])} | {fmt(mem[1])} |"
                     + ("" if big is None or big.get("status") == "ok" else f" {big.get('status')}: "
                        + str(big.get("reason", ""))[:100]))
    return lines + [""]


def targets_table(results: list[dict[str, Any]], quick: bool = False) -> list[str]:
    """tinygrad_lite against the issue's targets (which are set for the full sizes)."""
    def cell(w: str, engine: str, large: bool | None = None) -> dict[str, Any]:
        for c in results:
            if c["workload"] == w and c["engine"] == engine and (large is None or c.get("large") == large):
                return c
        return {}

    title = "### tinygrad_lite against the targets" + (" (quick sizes: indicative only)" if quick else "")
    lines = [title, "", "| workload | target | tinygrad_lite | met | "
             "tinygrad_lite+jit |", "|---|---|---|---|---|"]
    for w, limit in TARGETS.items():
        r, rj = ratio(cell(w, "tinygrad_lite")), ratio(cell(w, "tinygrad_lite+jit"))
        met = "–" if r is None else ("yes" if r <= limit else "no")
        lines.append(f"| {w} time | ≤ {limit}× NumPy | {fmt(r)}× | {met} | {fmt(rj) + '×' if rj else '–'} |")
    w3 = [c for c in results if c["workload"] == "W3"]
    for field, label in (("traced_mb", "tracemalloc"), ("rss_mb", "RSS")):
        m = memory_ratio(w3, "tinygrad_lite", field)
        met = "–" if m is None else ("yes" if m <= W3_MEMORY_TARGET else "no")
        lines.append(f"| W3 memory ({label}) | ≤ {W3_MEMORY_TARGET}× NumPy | {fmt(m)}× | {met} | |")
    small, large = cell("W4", "tinygrad_lite", False), cell("W4", "tinygrad_lite", True)
    a, b = per_unit(small, "median", "us"), per_unit(large, "median", "us")
    lin = None if a is None or b is None else b / a
    met = "–" if lin is None else ("yes" if lin <= LINEAR_LIMIT else "no")
    lines.append(f"| W4 linear | per-op time ratio large/small ≤ {LINEAR_LIMIT} | {fmt(lin)} | {met} | |")
    return lines + [""]


def chart(results: list[dict[str, Any]], path: Path) -> str:
    """Bars of time relative to NumPy (paired median, log scale), one panel per workload variant."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib not installed: no chart"
    panels: dict[str, list[tuple[str, float, float, float]]] = {}
    for c in results:
        r = ratio(c)
        if c.get("status") == "ok" and r is not None:
            panels.setdefault(c["variant"], []).append((c["engine"], r, ratio(c, "p10") or r, ratio(c, "p90") or r))
    if not panels:
        return "no results to chart"
    heights = [len(v) + 2 for v in panels.values()]
    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 0.5 + 0.3 * sum(heights)), squeeze=False,
                             gridspec_kw={"height_ratios": heights})
    for ax, (name, rows) in zip(axes[:, 0], panels.items()):
        labels = [r[0] for r in rows]
        values = [r[1] for r in rows]
        err = [[r[1] - r[2] for r in rows], [r[3] - r[1] for r in rows]]
        colors = ["tab:orange" if lab.startswith("tinygrad_lite") else "tab:gray" if lab.startswith("numpy")
                  else "tab:blue" for lab in labels]
        ax.barh(labels, values, xerr=err, color=colors)
        ax.axvline(1.0, color="black", linewidth=0.8)
        ax.set_xscale("log")
        ax.set_xlim(min(0.3, min(values) / 1.5), max(30.0, max(r[3] for r in rows) * 1.5))
        ax.invert_yaxis()
        ax.set_title(f"{name}: time / NumPy floor (paired median, p10–p90)", fontsize=9)
        ax.tick_params(labelsize=8)
        for y, v in enumerate(values):
            ax.text(v, y, f" {v:.3g}×", va="center", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path)
