"""Full-batch training with plain SGD, a progress bar and gradient checks along the way.

>>> import numpy as np
>>> from tinygrad_lite.examples.models import TwoLayerNet
>>> X, y = np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([[0.0], [1.0]])
>>> run = train(TwoLayerNet(np.full((2, 4), 0.1), np.full((4, 1), 0.1)), X, y, lr=0.5, steps=20, use_jit=False)
>>> len(run.errors), bool(run.final_error < run.errors[0]), run.checks, run.max_gap < 1e-12
(20, True, 11, True)
"""
from __future__ import annotations

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
    max_gap: float        # the largest |autodiff - hand| seen, relative to max(1, max |hand|)
    seconds: float


def gradient_verdict(max_gap: float, checks: int) -> str:
    """One line saying whether autodiff matched the hand-derived gradients at every checkpoint."""
    verdict = "equal the" if max_gap <= GRADIENT_TOLERANCE else "DIFFER from the"
    return (f"Gradients: autodiff {verdict} hand-derived ones at {checks} points of each training run "
            f"(largest relative gap {max_gap:.1e}, tolerance {GRADIENT_TOLERANCE:.0e}).")


def _worst_gap(model: ArticleModel, X: np.ndarray, y: np.ndarray) -> float:
    return max(gap / max(1.0, scale) for gap, scale in gradient_gaps(model, X, y).values())


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
    for i in range(steps):
        if i in check_at:
            max_gap = max(max_gap, _worst_gap(model, X, y))
        errors[i] = step(Xt, yt).item()
        if progress is not None:
            progress.update(i + 1, errors[i])
    if progress is not None:
        progress.close()
    max_gap = max(max_gap, _worst_gap(model, X, y))
    with no_grad():
        final = float(model.loss(Xt, yt).item())
    return Run(errors, final, len(check_at) + 1, max_gap, time.monotonic() - start)
