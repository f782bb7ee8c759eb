"""`tinygrad-lite article`: the article's perceptron and 2-4-1 network, trained by our engine.

Everything follows the article: make_moons(100, noise=0.10) after seeding NumPy with 0, the 2-4-1
weights drawn uniformly right after the data, the perceptron's after seeding with 42, no biases
in the 2-4-1 network, L = ½Σ(p - y)², plain full-batch gradient descent with lr 0.5, float64.
Instead of the global NumPy generator, a `RandomState` per seed is used: it draws the same numbers.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from ..draw import draw_graph
from ..tensor import Tensor
from . import equations as eq
from . import plotting
from .datasets import make_moons
from .models import ArticleModel, Perceptron, TwoLayerNet
from .progress import Progress
from .training import GRADIENT_TOLERANCE, gradient_verdict, jit_available, train

ARTICLE_STEPS, ARTICLE_SEED, ARTICLE_LR = 200_000, 0, 0.5
ARTICLE_ERRORS = {"perceptron": "≈4.17", "2-4-1 network": "≈1.50"}
REFERENCE_2_4_1 = 1.5033       # the article's algorithm in NumPy, and PyTorch autograd, after 200,000 steps


@dataclass
class ArticleSetup:
    """The article's data and initial weights for a data seed (the perceptron's seed is seed + 42)."""

    X: np.ndarray     # (100, 2)
    labels: np.ndarray  # (100,) in {0, 1}
    w: np.ndarray     # perceptron (2, 1)
    b: np.ndarray     # perceptron (1,)
    wh: np.ndarray    # 2-4-1 (2, 4)
    wo: np.ndarray    # 2-4-1 (4, 1)

    @property
    def y(self) -> np.ndarray:
        """The labels as a float column, as the article's loss uses them."""
        return self.labels.reshape(-1, 1).astype(np.float64)


def article_setup(seed: int = ARTICLE_SEED) -> ArticleSetup:
    """np.random.seed(seed); make_moons; wh, wo = rand(2, 4), rand(4, 1) — and the perceptron's
    np.random.seed(seed + 42); w, b = rand(2, 1), rand(1)."""
    rng = np.random.RandomState(seed)
    X, labels = make_moons(100, noise=0.10, rng=rng)
    wh, wo = rng.rand(2, 4), rng.rand(4, 1)
    prng = np.random.RandomState(seed + 42)
    w, b = prng.rand(2, 1), prng.rand(1)
    return ArticleSetup(X, labels, w, b, wh, wo)


def seed_perceptron_error(setup: ArticleSetup, lr: float, steps: int) -> float:
    """The seed's perceptron update — with its σ'(σ(z)) — replayed in NumPy; the error after `steps`."""
    w, b = setup.w.copy(), setup.b.copy()
    for _ in range(steps):
        g = eq.seed_perceptron_gradients(w, b, setup.X, setup.y)
        w, b = w - lr * g["w"], b - lr * g["b"]
    return eq.half_sse(eq.sigmoid(setup.X @ w + b), setup.y)


def write_graph(setup: ArticleSetup, path: Path) -> str:
    """Draw the 2-4-1 network's loss graph at the initial weights, each node with its gradient; the line to print.

    The network is the one trained (nn.Linear stores each weight transposed, hence the Permute nodes).
    """
    net = TwoLayerNet(setup.wh, setup.wo)
    X, y = Tensor(setup.X), Tensor(setup.y)
    loss = net.loss(X, y)
    loss.backward(retain_graph=True)        # keep the graph to draw it, gradients and all
    params = dict(net.named_parameters())
    names = {"whᵀ (net.0.weight)": params["net.0.weight"], "woᵀ (net.2.weight)": params["net.2.weight"],
             "X": X, "y": y, "L = ½Σ(ao - y)²": loss}
    draw_graph(loss, path, show_grads=True, names=names)
    return f"Graph: {path} (the 2-4-1 network's loss at its initial weights, with each node's gradient)"


def main(seed: int = ARTICLE_SEED, steps: int = ARTICLE_STEPS, lr: float = ARTICLE_LR, out: Path = Path("."),
         quiet: bool = False, use_jit: bool = True, graph: Path | None = None) -> int:
    """Train both models, print their errors beside the article's, write article.png (and the 2-4-1 network's
    graph to `graph`); return the exit status."""
    setup = article_setup(seed)
    jit_on = use_jit and jit_available()
    print(f"make_moons(100, noise=0.10), seeds {seed}/{seed + 42}, lr {lr:g}, {steps:,} full-batch steps, "
          f"float64, {'jit' if jit_on else 'eager'}")
    if graph is not None:
        print(write_graph(setup, graph))
    models: dict[str, ArticleModel] = {"perceptron": Perceptron(setup.w, setup.b),
                                       "2-4-1 network": TwoLayerNet(setup.wh, setup.wo)}
    runs = {name: train(model, setup.X, setup.y, lr=lr, steps=steps, use_jit=use_jit,
                        progress=Progress(name, steps, enabled=not quiet)) for name, model in models.items()}

    accuracy = {name: model.accuracy(setup.X, setup.labels) for name, model in models.items()}
    print(f"\n{'model':<15}{'final error':>12}{'article':>10}{'accuracy':>10}{'time':>9}")
    for name, run in runs.items():
        print(f"{name:<15}{run.final_error:>12.4f}{ARTICLE_ERRORS[name]:>10}{accuracy[name]:>10.1%}"
              f"{run.seconds:>8.1f}s")
    if (seed, steps, lr) != (ARTICLE_SEED, ARTICLE_STEPS, ARTICLE_LR):
        print("(the article's values are for seed 0, 200,000 steps and lr 0.5)")
    print(f"NumPy and PyTorch reach {REFERENCE_2_4_1:.4f} for the 2-4-1 network with the article's settings.")
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging lr is reported below, not warned about
        seed_error = seed_perceptron_error(setup, lr, steps)
    print(f"\nThe article's perceptron code multiplies by σ'(σ(z)) where σ'(z) = p(1 - p) is due. Replayed in "
          f"NumPy,\nthat update ends at {seed_error:.4f}; the correct gradient, which autodiff computes, at "
          f"{runs['perceptron'].final_error:.4f}.")

    worst = float(np.max([run.max_gap for run in runs.values()]))  # NaN-propagating, unlike max()
    checks = min(run.checks for run in runs.values())
    for name, run in runs.items():
        if run.diverged:
            print(f"\nThe {name} DIVERGED: its loss or weights were no longer finite after step "
                  f"{run.diverged_at:,} (lr {lr:g} is too large).")
    print("\n" + gradient_verdict(worst, checks))

    panels = {f"{name}: error {run.final_error:.3f}, accuracy {accuracy[name]:.0%}": models[name].predict
              for name, run in runs.items()}
    draw = partial(plotting.article_figure, X=setup.X, y=setup.labels, panels=panels,
                   curves={name: run.errors for name, run in runs.items()})
    print(plotting.figure_line(out / "article.png", draw))
    return 0 if worst <= GRADIENT_TOLERANCE else 1  # False for NaN: a diverged run fails
