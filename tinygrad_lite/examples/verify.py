"""`tinygrad-lite verify`: the series' hand-derived gradients checked against autodiff with `check_backprop`.

For each model, `tinygrad_lite.testing.check_backprop` draws the sizes (n points 1-32, d inputs
1-5, h hidden units 1-8, k classes 2-5), the data, the labels and the weights (up to ±30, so σ
often saturates) with hypothesis; differentiates the loss written with the same
`nn.functional` calls the models use; and compares that with the article's equations
(`equations.py`), weight by weight. A disagreement is reported with check_backprop's message.
"""
from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..nn import functional as F
from ..tensor import Tensor
from ..testing import BackpropMismatch, BackpropReport, check_backprop
from . import equations as eq

Arrays = dict[str, np.ndarray]
Tensors = dict[str, Tensor]

SIZES = {"n": (1, 32), "d": (1, 5), "h": (1, 8), "k": (2, 5)}
WEIGHT_RANGE, DATA_RANGE = 30.0, 3.0
HYPOTHESIS_HINT = ("verify draws its examples with hypothesis, which is not installed: "
                   "`pip install 'tinygrad-lite[cli]'` (or hypothesis)")


def _floats(bound: float) -> Any:
    from hypothesis import strategies as st

    return st.floats(-bound, bound, allow_nan=False, allow_infinity=False, allow_subnormal=False)


def _binary_labels(dims: dict[str, int]) -> Any:
    """y as the binary models' loss takes it: a float column (n, 1) of 0s and 1s."""
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp

    return hnp.arrays(np.float64, (dims["n"], 1), elements=st.sampled_from([0.0, 1.0]))


def _class_labels(dims: dict[str, int]) -> Any:
    """Class indices (n,) in [0, k)."""
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp

    return hnp.arrays(np.intp, (dims["n"],), elements=st.integers(0, dims["k"] - 1))


def _layer(X: Tensor, w: Tensor, b: Tensor | None = None) -> Tensor:
    """X·w (+ b) for the article's w (in, out), through nn.functional.linear as nn.Linear computes it."""
    return F.linear(X, w.T, b)


def _perceptron_loss(p: Tensors, x: Tensors) -> Tensor:
    return 0.5 * F.mse_loss(_layer(x["X"], p["w"], p["b"]).sigmoid(), x["y"], reduction="sum")


def _two_layer_loss(p: Tensors, x: Tensors) -> Tensor:
    ao = _layer(_layer(x["X"], p["wh"]).sigmoid(), p["wo"]).sigmoid()
    return 0.5 * F.mse_loss(ao, x["y"], reduction="sum")


def _multiclass_loss(p: Tensors, x: Tensors) -> Tensor:
    logits = _layer(_layer(x["X"], p["wh"], p["bh"]).sigmoid(), p["wo"], p["bo"])
    return F.cross_entropy(logits, x["labels"], reduction="sum")


# The hand-derived side looks the equations up when called, so a test can swap one for a wrong one.
def _perceptron_hand(p: Arrays, x: Arrays) -> Arrays:
    return eq.perceptron_gradients(p["w"], p["b"], x["X"], x["y"])


def _seed_perceptron_hand(p: Arrays, x: Arrays) -> Arrays:
    return eq.seed_perceptron_gradients(p["w"], p["b"], x["X"], x["y"])


def _two_layer_hand(p: Arrays, x: Arrays) -> Arrays:
    return eq.two_layer_gradients(p["wh"], p["wo"], x["X"], x["y"])


def _multiclass_hand(p: Arrays, x: Arrays) -> Arrays:
    one_hot = np.eye(p["wo"].shape[1])[x["labels"]]
    return eq.multiclass_gradients(p["wh"], p["bh"], p["wo"], p["bo"], x["X"], one_hot)


@dataclass(frozen=True)
class Check:
    """One model for check_backprop: the loss, the hand-derived gradients, what to draw."""

    forward: Callable[[Tensors, Tensors], Tensor]
    backward: Callable[[Arrays, Arrays], Arrays]
    params: dict[str, tuple[str | int, ...]]
    inputs: dict[str, Any]

    def run(self, seed: int, trials: int, tol: float) -> BackpropReport:
        """check_backprop's report; raises BackpropMismatch (carrying the report) on a wrong gradient."""
        elements = {**dict.fromkeys(self.params, _floats(WEIGHT_RANGE)), "X": _floats(DATA_RANGE)}
        return check_backprop(self.forward, self.backward, self.params, self.inputs, max_examples=trials,
                              rtol=tol, atol=tol, seed=seed, elements=elements, dims=SIZES)


BINARY_INPUTS = {"X": ("n", "d"), "y": _binary_labels}
MODELS: dict[str, Check] = {
    "perceptron": Check(_perceptron_loss, _perceptron_hand, {"w": ("d", 1), "b": (1,)}, BINARY_INPUTS),
    "2-4-1": Check(_two_layer_loss, _two_layer_hand, {"wh": ("d", "h"), "wo": ("h", 1)}, BINARY_INPUTS),
    "multiclass": Check(_multiclass_loss, _multiclass_hand,
                        {"wh": ("d", "h"), "bh": ("h",), "wo": ("h", "k"), "bo": ("k",)},
                        {"X": ("n", "d"), "labels": _class_labels}),
}
SEED_PERCEPTRON = Check(_perceptron_loss, _seed_perceptron_hand, MODELS["perceptron"].params, BINARY_INPUTS)


@dataclass
class Outcome:
    report: BackpropReport
    wrong: tuple[str, ...] = ()     # the weights check_backprop found wrong
    message: str = ""               # its explanation, when there are any


def run_checks(seed: int, trials: int, tol: float) -> dict[str, Outcome]:
    """check_backprop on every model: model -> its report and, if it failed, the wrong weights and why."""
    outcomes = {}
    for name, check in MODELS.items():
        try:
            outcomes[name] = Outcome(check.run(seed, trials, tol))
        except BackpropMismatch as exc:
            outcomes[name] = Outcome(exc.report, exc.parameters, str(exc))
    return outcomes


def seed_formula_contrast(seed: int, trials: int, tol: float) -> tuple[float, str]:
    """What check_backprop says about the article's perceptron code (σ'(σ(z))): the largest |autodiff - it|
    over the draws, and the message (empty if, against expectation, it passed)."""
    try:
        report = SEED_PERCEPTRON.run(seed, trials, tol)
    except BackpropMismatch as exc:
        return exc.report.parameters["w"].max_abs_diff, str(exc)
    return report.parameters["w"].max_abs_diff, ""


def main(seed: int = 0, trials: int = 200, tol: float = 1e-9, quiet: bool = False) -> int:
    """Print the comparison table; return 1 if any weight's gradient is outside the tolerance, else 0."""
    try:
        import hypothesis  # noqa: F401
    except ImportError:
        print(f"verify: {HYPOTHESIS_HINT}")
        return 2
    outcomes = run_checks(seed, trials, tol)
    failed = [f"{model}.{weight}" for model, outcome in outcomes.items() for weight in outcome.wrong]
    if not quiet:
        print(f"check_backprop, {trials} hypothesis draws per model (seed {seed}): n 1-32 points, d 1-5 inputs, "
              f"h 1-8 hidden units, k 2-5 classes, weights up to ±{WEIGHT_RANGE:g}, data up to ±{DATA_RANGE:g}")
        print(f"\n{'model':<12}{'weight':<8}{'max |autodiff - hand|':>23}{'max |autodiff|':>16}"
              f"{'/ tolerance':>13}  ok")
        for model, outcome in outcomes.items():
            for weight, stats in outcome.report.parameters.items():
                ok = "NO" if weight in outcome.wrong else "yes"
                print(f"{model:<12}{weight:<8}{stats.max_abs_diff:>23.2e}{stats.max_abs_grad:>16.3g}"
                      f"{stats.max_error:>13.1e}  {ok}")
        for model, outcome in outcomes.items():
            if outcome.message:
                print(f"\n{model}:\n{textwrap.indent(outcome.message, '  ')}")
        gap, message = seed_formula_contrast(seed, trials, tol)
        print(f"\nFor contrast, the article's perceptron code with σ'(σ(z)) differs from autodiff by up to {gap:.3g} "
              f"on the same kind of draws. check_backprop's report on it:\n{textwrap.indent(message, '  ')}")
    verdict = "FAILED for " + ", ".join(failed) if failed else "all gradients agree"
    print(f"verify: {verdict} (tolerance {tol:g}: |autodiff - hand| <= tol·(1 + |autodiff|) at every entry)")
    return 1 if failed else 0
