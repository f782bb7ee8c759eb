"""Full-batch training with plain SGD, a progress bar and gradient checks along the way.

>>> import numpy as np
>>> from tinygrad_lite.examples.models import TwoLayerNet
>>> X, y = np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([[0.0], [1.0]])
>>> run = train(TwoLayerNet(np.full((2, 4), 0.1), np.full((4, 1), 0.1)), X, y, lr=0.5, steps=20, use_jit=False)
>>> len(run.errors), bool(run.final_error < run.errors[0]), run.checks, run.max_gap < 1e-12
(20, True, 11, True)
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .. import optim
from ..grad_mode import no_grad
from ..tensor import Tensor
from .models import ArticleModel, gradient_gaps
from .progress import Progress

Step = Callable[[Tensor, Tensor], Tensor]

# autodiff vs hand-derived gradients: the largest |difference| allowed, relative to max(1, largest entry)
GRADIENT_TOLERANCE = 1e-9


def _find_jit() -> Callable[[Step], Step] | None:
    try:
        from ..jit import jit
    except ImportError:     # a build without the jit: every step runs eagerly
        return None
    return jit


def compile_step(step: Step, use_jit: bool) -> Step:
    """THE one place where a training step is handed to `tinygrad_lite.jit` (capture once, replay after).

    Without `use_jit`, or in a build without the jit module, the step runs eagerly every time.
    """
    jit = _find_jit() if use_jit else None
    return step if jit is None else jit(step)


def jit_available() -> bool:
    """Whether `compile_step(..., use_jit=True)` will actually use the jit."""
    return _find_jit() is not None


@dataclass
class Run:
    """What a training run leaves: the error before each step and after the last, and the gradient checks."""

    errors: np.ndarray    # errors[i]: the loss before step i + 1
    final_error: float    # the loss of the trained model
    checks: int           # how many times autodiff was compared with the hand-derived gradients
    max_gap: float        # the largest |autodiff - hand| seen, relative to max(1, max |hand|); NaN if diverged
    seconds: float
    diverged_at: int | None = None  # the step after which the loss or a weight was no longer finite

    @property
    def diverged(self) -> bool:
        return self.diverged_at is not None


def gradient_verdict(max_gap: float, checks: int) -> str:
    """One line saying whether autodiff matched the hand-derived gradients at every checkpoint (a NaN
    `max_gap` means a run diverged, and nothing can be said)."""
    if not math.isfinite(max_gap):
        return ("Gradients: NOT verified: the loss, the weights or a gradient became NaN or infinite, so autodiff "
                "and the hand-derived gradients could not be compared (a diverged run: try a smaller --lr).")
    verdict = "equal the" if max_gap <= GRADIENT_TOLERANCE else "DIFFER from the"
    return (f"Gradients: autodiff {verdict} hand-derived ones at {checks} points of each training run "
            f"(largest relative gap {max_gap:.1e}, tolerance {GRADIENT_TOLERANCE:.0e}).")


def _worst_gap(model: ArticleModel, X: np.ndarray, y: np.ndarray) -> float:
    """The largest relative gap over the weights; NaN if any gap is NaN (`max` would drop it)."""
    with np.errstate(all="ignore"):
        gaps = [gap / max(1.0, scale) for gap, scale in gradient_gaps(model, X, y).values()]
    return float(np.max(gaps))  # NaN-propagating, unlike max()


def _finite(model: ArticleModel) -> bool:
    return all(bool(np.isfinite(p.data).all()) for p in model.parameters())


def _jit_error() -> type[Exception]:
    try:
        from ..jit import JitError
    except ImportError:  # a build without the jit
        return _NeverRaisedError
    return JitError


class _NeverRaisedError(Exception):
    """Stands in for JitError in a build without the jit."""


def train(model: ArticleModel, X: np.ndarray, y: np.ndarray, *, lr: float, steps: int, use_jit: bool = True,
          progress: Progress | None = None, checks: int = 10) -> Run:
    """Run `steps` full-batch SGD steps on `model.loss(X, y)`, updating the model in place.

    The autodiff gradients are compared with the model's hand-derived ones before the first step,
    at `checks` evenly spaced steps after it, and at the end (the comparison runs on a copy of
    the model, eagerly, so it is the same whether the step is replayed by the jit or not).
    """
    Xt, yt = Tensor(X), Tensor(y)
    opt = optim.SGD(model.parameters(), lr=lr)

    def sgd_step(X: Tensor, y: Tensor) -> Tensor:
        opt.zero_grad()
        loss = model.loss(X, y)
        loss.backward()
        opt.step()
        return loss

    step = compile_step(sgd_step, use_jit)
    check_at = set(np.linspace(0, steps, checks + 1).astype(int)[:-1].tolist())
    errors = np.empty(steps)
    max_gap, start = 0.0, time.monotonic()
    diverged_at, jit_error = None, _jit_error()
    # A diverged run (too large an lr) stops at the first non-finite loss: NaN compares false with everything,
    # so going on would let NaN gaps pass for equal ones. Checking the loss each step costs one float test.
    with np.errstate(over="ignore", invalid="ignore"):
        for i in range(steps):
            if i in check_at:
                max_gap = np.maximum(max_gap, _worst_gap(model, X, y))  # NaN-propagating
            try:
                errors[i] = step(Xt, yt).item()
            except jit_error:  # weights gone non-finite can make a replay guard differ; else a real jit error
                if _finite(model):
                    raise
                diverged_at, errors = i, errors[:i]
                break
            if progress is not None:
                progress.update(i + 1, errors[i])
            if not math.isfinite(errors[i]):
                diverged_at, errors = i + 1, errors[:i + 1]
                break
        if progress is not None:
            progress.close()
        if diverged_at is None and not _finite(model):  # the last update overflowed
            diverged_at = steps
        if diverged_at is None:
            max_gap = float(np.maximum(max_gap, _worst_gap(model, X, y)))
            with no_grad():
                final = float(model.loss(Xt, yt).item())
        else:
            max_gap = final = math.nan
    return Run(errors, final, len(check_at) + 1, float(max_gap), time.monotonic() - start, diverged_at)
