"""The PNG figures of the commands, drawn with matplotlib (the `plot` extra) when it is installed.

Figures are built with `matplotlib.figure.Figure` (no pyplot global state) and saved to a
temporary file in the target folder, then renamed: a failed or interrupted save leaves
nothing half-written behind.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

PLOT_HINT = "matplotlib is not installed; `pip install 'tinygrad-lite[plot]'` (or matplotlib) to get the plot"

# grid points (m, 2) -> per-point class scores: P(class 1) (m,) or (m, 1), or one column per class (m, k)
Predict = Callable[[np.ndarray], np.ndarray]


def plotting_available() -> bool:
    """Whether matplotlib can be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def figure_line(path: Path, draw: Callable[[Path], None]) -> str:
    """Run `draw(path)` if matplotlib is installed; return the line telling the user where the figure
    went, or how to get it."""
    if not plotting_available():
        return f"Plot skipped: {PLOT_HINT}."
    draw(path)
    return f"Plot: {path}"


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def save_png(fig: Any, path: Path) -> None:
    """Write `fig` to `path` atomically: a temporary file in the same folder, then a rename."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            fig.savefig(f, format="png", dpi=90)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)    # mkstemp makes the file private; give it a plain file's mode
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _decision_panel(ax: Any, predict: Predict, X: np.ndarray, y: np.ndarray, title: str) -> None:
    """Colour the plane by the predicted class and scatter the data on top."""
    pad = 0.5
    xs = np.linspace(X[:, 0].min() - pad, X[:, 0].max() + pad, 200)
    ys = np.linspace(X[:, 1].min() - pad, X[:, 1].max() + pad, 200)
    gx, gy = np.meshgrid(xs, ys)
    scores = np.asarray(predict(np.column_stack([gx.ravel(), gy.ravel()])))
    k = int(y.max()) + 1
    if scores.ndim == 1 or scores.shape[1] == 1:
        classes = (scores.reshape(-1) > 0.5).astype(int)
    else:
        classes = scores.argmax(axis=1)
    cmap = "winter" if k == 2 else "viridis"
    ax.contourf(gx, gy, classes.reshape(gx.shape), levels=np.arange(k + 1) - 0.5, cmap=cmap, alpha=0.25)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap=cmap, s=14, edgecolors="k", linewidths=0.3)
    ax.set_title(title)
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")


def _curve_panel(ax: Any, curves: Mapping[str, np.ndarray], ylabel: str, log_y: bool = False) -> None:
    """Error per step on a log step axis; long runs are thinned to ~2,000 points, log-spaced."""
    for label, values in curves.items():
        steps = np.unique(np.geomspace(1, len(values), num=min(len(values), 2000)).astype(int))
        ax.plot(steps, values[steps - 1], label=label)
    ax.set_xscale("log")
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()


def article_figure(path: Path, X: np.ndarray, y: np.ndarray, panels: Mapping[str, Predict],
                   curves: Mapping[str, np.ndarray]) -> None:
    """One decision-boundary panel per model, then all error curves together; saved as a PNG."""
    fig = _figure(5.0 * (len(panels) + 1), 4.5)
    axes = fig.subplots(1, len(panels) + 1)
    for ax, (title, predict) in zip(axes, panels.items()):
        _decision_panel(ax, predict, X, y, title)
    _curve_panel(axes[-1], curves, "error  ½Σ(p − y)²")
    save_png(fig, path)


def multiclass_figure(path: Path, X: np.ndarray, y: np.ndarray, predict: Predict, title: str,
                      losses: np.ndarray) -> None:
    """Class regions with the data, and the cross-entropy per step; saved as a PNG."""
    fig = _figure(10.0, 4.5)
    left, right = fig.subplots(1, 2)
    _decision_panel(left, predict, X, y, title)
    _curve_panel(right, {"cross-entropy": losses}, "loss  −Σ log softmax[label]", log_y=True)
    save_png(fig, path)
