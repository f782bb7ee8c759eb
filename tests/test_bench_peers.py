"""The peer engines' adapters run W7 (LeNet step, SGD) and W8 (transformer block step, AdamW) as the NumPy floor
does: the same loss and gradients at the start, and the same parameters after a few updates (the suite's own
check, benchmarks/cell.py `_check`, at the quick sizes). A peer that is not installed is skipped."""
from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import cell  # noqa: E402
import engines  # noqa: E402
from workloads import w7_cnn, w8_transformer  # noqa: E402

WORKLOADS = {"W7": w7_cnn, "W8": w8_transformer}
# Eager JAX compiles each primitive on first use and tinygrad each kernel (about 5 s and 12 s on first use here):
# those cases are marked slow, so that `-m "not slow"` keeps this file at a few seconds (jax.jit and MyGrad).
_SLOW = pytest.mark.slow
PEERS = [pytest.param("jax", marks=_SLOW), "jax.jit", "mygrad", pytest.param("tinygrad", marks=_SLOW),
         pytest.param("tinygrad+TinyJit", marks=_SLOW)]
PEER_NAMES = ["jax", "jax.jit", "mygrad", "tinygrad", "tinygrad+TinyJit"]


def runs(workload: Any, engine: str) -> bool:
    return engine in getattr(workload, "ONLY", (engine,)) and engine not in workload.SKIP


def build(wid: str, engine: str) -> tuple[Any, Any, Any]:
    """(the engine's runner, the NumPy floor, the problem) at the workload's quick size."""
    workload = WORKLOADS[wid]
    if not runs(workload, engine):
        pytest.skip(f"{engine} does not run {wid}: {workload.SKIP.get(engine, 'not in ONLY')}")
    pytest.importorskip(engines.BY_NAME[engine].requires, reason=f"{engine} is not installed")
    module = importlib.import_module(f"engines.{engines.BY_NAME[engine].module}")
    variant = workload.variants(quick=True)[0]
    prob = workload.problem(variant)
    return module.build(prob, engines.BY_NAME[engine].variant), workload.floors(prob, variant)["numpy"](), prob


@pytest.mark.parametrize("engine", PEERS)
@pytest.mark.parametrize("wid", sorted(WORKLOADS))
def test_peer_matches_the_numpy_floor(wid: str, engine: str) -> None:
    runner, floor, prob = build(wid, engine)
    check = cell._check(runner, floor, prob, steps=3)
    assert check["update_steps"] == 3
    assert check["ok"], f"{engine} on {wid}: {check['failed']} rel. errors {check['errors']}"


def forward_dtype(engine: str, runner: Any) -> Any:
    """The dtype the engine computes the loss in (its gradients are cast back to the parameters' dtype)."""
    if engine.startswith("jax"):
        return runner._call(runner.vg, runner.p, runner.data)[0].dtype
    if engine == "mygrad":
        return runner.loss().dtype
    ops = importlib.import_module(f"engines.{engines.BY_NAME[engine].module}").Ops
    return runner.prob.loss(ops, runner.p, runner.data).numpy().dtype  # tinygrad: realized into NumPy


@pytest.mark.parametrize("engine", PEERS)
@pytest.mark.parametrize("wid", sorted(WORKLOADS))
def test_peer_computes_in_float32(wid: str, engine: str) -> None:
    """A float64 constant in an adapter (a Python float is one in MyGrad) would promote the float32 step: right
    values, so the floor check passes, but a slower step than the engine's own."""
    runner, _, _ = build(wid, engine)
    assert forward_dtype(engine, runner) == np.float32


@pytest.mark.parametrize("engine", PEERS)
def test_peer_adamw_is_not_sgd(engine: str) -> None:
    """The check above could pass with a wrong optimizer only if the updates agreed anyway: AdamW's first step
    moves every weight by about lr (sign of its gradient), SGD's by lr times the gradient. Here they differ."""
    runner, _, prob = build("W8", engine)
    before = runner.params()
    _, grads = runner.loss_and_grads()
    runner.step()
    after = runner.params()
    wq = 2  # a weight matrix with small gradients: SGD would barely move it
    moved = np.abs(after[wq] - before[wq] * (1 - prob.lr * prob.optimizer_args["weight_decay"]))
    assert np.median(moved) == pytest.approx(prob.lr, rel=0.05)
    assert not np.allclose(after[wq], before[wq] - prob.lr * grads[wq], rtol=0, atol=prob.lr / 10)


def test_every_peer_has_a_row_on_w7_and_w8() -> None:
    """The peers run both workloads (issue 12); a peer taken out again needs its reason in SKIP, not a silent gap."""
    for wid, workload in WORKLOADS.items():
        for engine in PEER_NAMES:
            assert runs(workload, engine), (wid, engine, workload.SKIP.get(engine, "not in ONLY"))
