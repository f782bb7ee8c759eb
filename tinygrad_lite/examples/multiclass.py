"""`tinygrad-lite multiclass`: the series' part 3 — three classes, softmax output, cross-entropy.

Three Gaussian blobs (100 points each, standard deviation 1) around (0, -3), (3, 3) and (-3, 3);
a 2-4-3 network with biases: ah = σ(X·wh + bh), ao = softmax(ah·wo + bo), L = -Σ log ao[label]
(the cross-entropy summed over the points, as the series writes it); weights and biases start
uniform on [0, 1) as in the article; plain full-batch gradient descent, float64.
"""
from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np

from . import plotting
from .datasets import make_blobs
from .models import MulticlassNet
from .progress import Progress
from .training import GRADIENT_TOLERANCE, gradient_verdict, jit_available, train

HIDDEN = 4


def multiclass_setup(seed: int = 0) -> tuple[np.ndarray, np.ndarray, MulticlassNet]:
    """The blobs X (300, 2), their labels (300,) and the untrained network, all drawn from `seed`."""
    rng = np.random.RandomState(seed)
    X, labels = make_blobs(100, rng=rng)
    k = int(labels.max()) + 1
    net = MulticlassNet(wh=rng.rand(X.shape[1], HIDDEN), bh=rng.rand(HIDDEN), wo=rng.rand(HIDDEN, k), bo=rng.rand(k))
    return X, labels, net


def main(seed: int = 0, steps: int = 5_000, lr: float = 0.01, out: Path = Path("."), quiet: bool = False,
         use_jit: bool = True) -> int:
    """Train the 2-4-3 network, print its loss and accuracy, write multiclass.png; return the exit status."""
    X, labels, net = multiclass_setup(seed)
    print(f"3 blobs of 100 points, 2-4-3 network (sigmoid, softmax), seed {seed}, lr {lr:g}, {steps:,} full-batch "
          f"steps, float64, {'jit' if use_jit and jit_available() else 'eager'}")
    run = train(net, X, labels, lr=lr, steps=steps, use_jit=use_jit, progress=Progress("2-4-3 network", steps,
                                                                                        enabled=not quiet))
    accuracy = net.accuracy(X, labels)
    print(f"cross-entropy {run.errors[0]:.4f} -> {run.final_error:.4f}, accuracy {accuracy:.1%}, {run.seconds:.1f}s")
    print(gradient_verdict(run.max_gap, run.checks))
    title = f"2-4-3 network: loss {run.final_error:.3f}, accuracy {accuracy:.0%}"
    draw = partial(plotting.multiclass_figure, X=X, y=labels, predict=net.predict, title=title, losses=run.errors)
    print(plotting.figure_line(out / "multiclass.png", draw))
    return 0 if run.max_gap <= GRADIENT_TOLERANCE else 1
