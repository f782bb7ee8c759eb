"""W9 and W10: the function transforms on the 784-256-256-10 ReLU MLP (float32, batch 128).

W9  per-example gradients: `vmap(grad(loss), in_axes=(None, 0, 0))` against a Python loop of `grad`
    (target: at least 10x faster) and against a hand-written NumPy floor (the batched backward, then the
    per-example outer products; target: at most 1.5x its time); jax.vmap and torch.func.vmap beside them.
W10 Hessian-vector product of the batch's mean loss: `hvp` against one gradient evaluation of the same
    engine (target: at most 3x); jax and torch.func beside it.

Every engine's numbers are checked against NumPy (or tinygrad_lite's gradient) before it is timed.
Timing: one thread; each engine is paired with its reference in the same process, call for call, the order
flipping every round; the ratio is the median of the per-round ratios (p10-p90 beside it), so load on a
shared machine hits both sides alike. Run from the repository root:

    python benchmarks/transforms_bench.py            # about a minute
    python benchmarks/transforms_bench.py --quick    # a few seconds (fewer rounds)
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import tinygrad_lite as tl  # noqa: E402
from tinygrad_lite import Tensor, grad, hvp, vmap  # noqa: E402

SIZES, BATCH = (784, 256, 256, 10), 128


# --- the problem ---------------------------------------------------------------------------------------------
def problem(seed: int = 0) -> tuple[list[np.ndarray], np.ndarray, np.ndarray, list[np.ndarray]]:
    """He-initialised weights (small random biases), inputs, one-hot targets, and a direction for the hvp."""
    rng = np.random.default_rng(seed)
    params: list[np.ndarray] = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
        params += [(rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)).astype(np.float32),
                   (0.1 * rng.standard_normal(fan_out)).astype(np.float32)]
    X = rng.standard_normal((BATCH, SIZES[0])).astype(np.float32)
    Y = np.eye(SIZES[-1], dtype=np.float32)[rng.integers(0, SIZES[-1], BATCH)]
    V = [rng.standard_normal(p.shape).astype(np.float32) for p in params]
    return params, X, Y, V


def tl_loss(p: list[Tensor], x: Tensor, y: Tensor) -> Tensor:
    """Softmax cross-entropy of one example (or the sum over a batch) against one-hot targets."""
    w1, b1, w2, b2, w3, b3 = p
    h = (x @ w1 + b1).relu()
    h = (h @ w2 + b2).relu()
    return -((h @ w3 + b3).log_softmax() * y).sum()


def numpy_per_example(p: list[np.ndarray], X: np.ndarray, Y: np.ndarray) -> list[np.ndarray]:
    """The floor: one batched forward and backward, then each example's weight gradient as an outer product."""
    w1, b1, w2, b2, w3, b3 = p
    z1 = X @ w1 + b1
    h1 = np.maximum(z1, 0)
    z2 = h1 @ w2 + b2
    h2 = np.maximum(z2, 0)
    z3 = h2 @ w3 + b3
    e = np.exp(z3 - z3.max(axis=1, keepdims=True))
    d3 = e / e.sum(axis=1, keepdims=True) - Y
    d2 = (d3 @ w3.T) * (z2 > 0)
    d1 = (d2 @ w2.T) * (z1 > 0)
    outer = lambda a, d: a[:, :, None] * d[:, None, :]  # noqa: E731
    return [outer(X, d1), d1, outer(h1, d2), d2, outer(h2, d3), d3]


# --- timing --------------------------------------------------------------------------------------------------
def paired(engine: Callable[[], Any], reference: Callable[[], Any], rounds: int) -> dict[str, float]:
    """Median times of one call each, and the median (p10, p90) of the per-round ratios engine/reference."""
    engine(), reference()  # warm: first-touch page faults, caches, a jit's capture
    te, tr, ratios = [], [], []
    for r in range(rounds):
        order = (engine, reference) if r % 2 == 0 else (reference, engine)
        times = {}
        for fn in order:
            t0 = time.perf_counter()
            fn()
            times[fn] = time.perf_counter() - t0
        te.append(times[engine])
        tr.append(times[reference])
        ratios.append(times[engine] / times[reference])
    return {"engine": float(np.median(te)), "reference": float(np.median(tr)), "ratio": float(np.median(ratios)),
            "p10": float(np.percentile(ratios, 10)), "p90": float(np.percentile(ratios, 90))}


def rel_err(a: Any, b: Any) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))


def check(name: str, got: list[Any], want: list[np.ndarray], tol: float = 2e-4) -> None:
    err = max(rel_err(g, w) for g, w in zip(got, want))
    if err > tol:
        raise SystemExit(f"{name}: disagrees with the reference (relative error {err:.2e} > {tol:.0e})")


# --- W9 ------------------------------------------------------------------------------------------------------
def w9_engines(p: list[np.ndarray], X: np.ndarray, Y: np.ndarray) -> dict[str, Callable[[], list[Any]]]:
    tp, tX, tY = [Tensor(a) for a in p], Tensor(X), Tensor(Y)
    per_example = vmap(grad(tl_loss), in_axes=(None, 0, 0))
    jitted = tl.jit(lambda x, y: per_example(tp, x, y))
    one = grad(tl_loss)
    engines: dict[str, Callable[[], list[Any]]] = {
        "tinygrad_lite vmap(grad)": lambda: [g.data for g in per_example(tp, tX, tY)],
        "tinygrad_lite jit(vmap(grad))": lambda: [g.data for g in jitted(tX, tY)],
        "tinygrad_lite loop of grad": lambda: [np.stack(a) for a in zip(*[[g.data for g in one(tp, tX[i], tY[i])]
                                                                          for i in range(BATCH)])],
    }
    try:
        import jax
        import jax.numpy as jnp

        def jloss(q: list[Any], x: Any, y: Any) -> Any:
            h = jax.nn.relu(x @ q[0] + q[1])
            h = jax.nn.relu(h @ q[2] + q[3])
            return -(jax.nn.log_softmax(h @ q[4] + q[5]) * y).sum()

        jp, jX, jY = [jnp.asarray(a) for a in p], jnp.asarray(X), jnp.asarray(Y)
        jv = jax.vmap(jax.grad(jloss), in_axes=(None, 0, 0))
        jj = jax.jit(jv)
        engines["jax vmap(grad)"] = lambda: [np.asarray(g.block_until_ready()) for g in jv(jp, jX, jY)]
        engines["jax jit(vmap(grad))"] = lambda: [np.asarray(g.block_until_ready()) for g in jj(jp, jX, jY)]
    except ImportError:
        print("jax: not installed", file=sys.stderr)
    try:
        import torch
        from torch.func import grad as tgrad
        from torch.func import vmap as tvmap

        torch.set_num_threads(1)

        def tloss(q: list[Any], x: Any, y: Any) -> Any:
            h = torch.relu(x @ q[0] + q[1])
            h = torch.relu(h @ q[2] + q[3])
            return -(torch.log_softmax(h @ q[4] + q[5], -1) * y).sum()

        qp, qX, qY = [torch.from_numpy(a) for a in p], torch.from_numpy(X), torch.from_numpy(Y)
        tv = tvmap(tgrad(tloss), in_dims=(None, 0, 0))
        engines["torch.func vmap(grad)"] = lambda: [g.numpy() for g in tv(qp, qX, qY)]
    except ImportError:
        print("torch: not installed", file=sys.stderr)
    return engines


def w9(rounds: int) -> list[tuple[str, dict[str, float]]]:
    p, X, Y, _ = problem()
    floor = lambda: numpy_per_example(p, X, Y)  # noqa: E731
    want = floor()
    rows = []
    for name, fn in w9_engines(p, X, Y).items():
        check(name, fn(), want)
        rows.append((name, paired(fn, floor, max(3, rounds // 4) if "loop" in name else rounds)))
    return rows


# --- W10 -----------------------------------------------------------------------------------------------------
def w10(rounds: int) -> list[tuple[str, dict[str, float]]]:
    p, X, Y, V = problem()
    tp, tX, tY, tV = [Tensor(a) for a in p], Tensor(X), Tensor(Y), [Tensor(a) for a in V]
    mean_loss = lambda q: tl_loss(q, tX, tY) / BATCH  # noqa: E731
    g = grad(mean_loss)
    rows = []
    tl_hvp = lambda: [h.data for h in hvp(mean_loss, (tp,), (tV,))]  # noqa: E731
    # Checked in float64 against reverse-over-reverse (the gradient of <grad, V>), an independent path (central
    # differences of a ReLU network's gradient jump at the kinks).
    p64, V64 = [Tensor(a.astype(np.float64)) for a in p], [Tensor(a.astype(np.float64)) for a in V]
    X64, Y64 = Tensor(X.astype(np.float64)), Tensor(Y.astype(np.float64))
    loss64 = lambda q: tl_loss(q, X64, Y64) / BATCH  # noqa: E731
    fwd_rev = hvp(loss64, (p64,), (V64,))
    rev_rev = grad(lambda q: sum((gi * vi).sum() for gi, vi in zip(grad(loss64)(q), V64)))(p64)
    check("tinygrad_lite hvp (float64, forward-over-reverse against reverse-over-reverse)",
          [a.data for a in fwd_rev], [b.data for b in rev_rev], 1e-10)
    want = tl_hvp()
    rows.append(("tinygrad_lite hvp / grad", paired(tl_hvp, lambda: [x.data for x in g(tp)], rounds)))
    try:
        import jax
        import jax.numpy as jnp

        def jloss(q: list[Any]) -> Any:
            h = jax.nn.relu(jX @ q[0] + q[1])
            h = jax.nn.relu(h @ q[2] + q[3])
            return -(jax.nn.log_softmax(h @ q[4] + q[5]) * jY).sum() / BATCH

        jp, jX, jY, jV = [jnp.asarray(a) for a in p], jnp.asarray(X), jnp.asarray(Y), [jnp.asarray(a) for a in V]
        jg = jax.jit(jax.grad(jloss))
        jh = jax.jit(lambda q, v: jax.jvp(jax.grad(jloss), (q,), (v,))[1])
        jhvp = lambda: [np.asarray(x.block_until_ready()) for x in jh(jp, jV)]  # noqa: E731
        check("jax hvp", jhvp(), want, 2e-3)
        rows.append(("jax jit hvp / jit grad", paired(jhvp, lambda: [x.block_until_ready() for x in jg(jp)], rounds)))
    except ImportError:
        pass
    try:
        import torch
        from torch.func import grad as tgrad
        from torch.func import jvp as tjvp

        def tloss(q: tuple[Any, ...]) -> Any:
            h = torch.relu(qX @ q[0] + q[1])
            h = torch.relu(h @ q[2] + q[3])
            return -(torch.log_softmax(h @ q[4] + q[5], -1) * qY).sum() / BATCH

        qp, qX, qY = tuple(torch.from_numpy(a) for a in p), torch.from_numpy(X), torch.from_numpy(Y)
        qV = tuple(torch.from_numpy(a) for a in V)
        thvp = lambda: [x.numpy() for x in tjvp(tgrad(tloss), (qp,), (qV,))[1]]  # noqa: E731
        check("torch.func hvp", thvp(), want, 2e-3)
        rows.append(("torch.func hvp / grad", paired(thvp, lambda: tgrad(tloss)(qp), rounds)))
    except ImportError:
        pass
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--only", default="", help="W9 or W10")
    args = parser.parse_args()
    rounds = 5 if args.quick else 21
    warnings.simplefilter("error", tl.VmapFallbackWarning)  # a loop fallback would not measure vmap
    print(f"numpy {np.__version__}, one thread, {rounds} paired rounds per engine\n")
    print("W9: per-example gradients, MLP 784-256-256-10, batch 128, float32 (reference: NumPy floor)\n")
    print("| engine | ms per batch | NumPy ms | × NumPy (p10–p90) |")
    print("|---|---|---|---|")
    rows = w9(rounds) if not args.only or "W9" in args.only else []
    for name, r in rows:
        print(f"| {name} | {r['engine'] * 1e3:.1f} | {r['reference'] * 1e3:.1f} | {r['ratio']:.2f} "
              f"({r['p10']:.2f}–{r['p90']:.2f}) |")
    if rows:
        by = dict(rows)
        vm, loop = by["tinygrad_lite vmap(grad)"], by["tinygrad_lite loop of grad"]
        speedup = loop["ratio"] / vm["ratio"]
        print(f"\nW9 vmap(grad) vs the loop of grad: {speedup:.1f}× faster (target ≥ 10×: "
              f"{'met' if speedup >= 10 else 'missed'}); vs NumPy: {vm['ratio']:.2f}× (target ≤ 1.5×: "
              f"{'met' if vm['ratio'] <= 1.5 else 'missed'})\n")
    if args.only and "W10" not in args.only:
        return
    print("W10: Hessian-vector product of the mean loss over the batch, against one gradient of the same engine\n")
    print("| engine | hvp ms | grad ms | hvp / grad (p10–p90) |")
    print("|---|---|---|---|")
    rows10 = w10(rounds)
    for name, r in rows10:
        print(f"| {name} | {r['engine'] * 1e3:.1f} | {r['reference'] * 1e3:.1f} | {r['ratio']:.2f} "
              f"({r['p10']:.2f}–{r['p90']:.2f}) |")
    h = dict(rows10)["tinygrad_lite hvp / grad"]["ratio"]
    print(f"\nW10 hvp / grad: {h:.2f} (target ≤ 3: {'met' if h <= 3 else 'missed'})")


if __name__ == "__main__":
    main()
