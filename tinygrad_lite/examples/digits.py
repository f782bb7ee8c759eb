"""`tinygrad-lite digits`: a small CNN on scikit-learn's 8×8 handwritten digits.

1797 images (pixel values 0-16, scaled to [0, 1]), a stratified split of 75% for training and 25% for
testing. The network: conv 3×3 (16) → batch norm → ReLU → 2×2 max-pool → conv 3×3 (32) → batch norm →
ReLU → 2×2 max-pool → dropout → linear 128→10, trained with Adam and a cosine learning-rate schedule
(one step of `CosineAnnealingLR` per epoch) on mini-batches, each step replayed by the jit. It reports
the test accuracy and writes digits.png: the learning curves and the misclassified test digits.

>>> result = train_digits(epochs=1, quiet=True, limit=256)
>>> result.train_losses[0] > 0 and 0 <= result.test_accuracy <= 1
True
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import nn, optim
from ..data import DataLoader
from ..tensor import Tensor
from . import plotting
from .progress import Progress
from .training import compile_step, jit_available


class DigitsCNN(nn.Module):
    """Two conv blocks and a linear head for 1×8×8 images."""

    def __init__(self, dropout: float = 0.25) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),  # 16×4×4
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),  # 32×2×2
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(128, 10))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


@dataclass
class DigitsResult:
    """What a run leaves: per-epoch curves, the test accuracy, and the misclassified test images."""

    train_losses: list[float] = field(default_factory=list)
    test_accuracies: list[float] = field(default_factory=list)
    learning_rates: list[float] = field(default_factory=list)
    test_accuracy: float = 0.0
    wrong_images: np.ndarray = field(default_factory=lambda: np.zeros((0, 8, 8)))
    wrong_labels: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    wrong_predictions: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    seconds: float = 0.0
    sizes: tuple[int, int] = (0, 0)


def load_split(seed: int, limit: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(X_train, y_train, X_test, y_test): images (n, 1, 8, 8) float32 in [0, 1], int64 labels."""
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError as exc:
        raise ImportError("tinygrad-lite digits needs scikit-learn: pip install 'tinygrad-lite[sklearn]'") from exc
    digits = load_digits()
    X = (digits.images / 16.0).astype(np.float32)[:, None]
    y = digits.target.astype(np.int64)
    if limit is not None:  # a quick run (the tests): the first `limit` images
        X, y = X[:limit], y[:limit]
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=seed, stratify=y)
    return X_train, y_train, X_test, y_test


def predict(model: nn.Module, X: np.ndarray) -> np.ndarray:
    """Class predictions in eval mode (running statistics, no dropout), one forward pass."""
    model.eval()
    try:
        return model(Tensor(X)).numpy().argmax(axis=1)  # type: ignore[no-any-return]
    finally:
        model.train()


def train_digits(seed: int = 0, epochs: int = 30, lr: float = 0.01, batch_size: int = 64, use_jit: bool = True,
                 quiet: bool = False, limit: int | None = None) -> DigitsResult:
    """Train the CNN from `seed` (data split, weights, dropout masks, batch order) and evaluate it."""
    X_train, y_train, X_test, y_test = load_split(seed, limit)
    Tensor.manual_seed(seed)
    model = DigitsCNN()
    opt = optim.Adam(model.parameters(), lr=lr)
    schedule = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    loader = DataLoader(X_train, y_train, batch_size=batch_size, shuffle=True, drop_last=True, seed=seed)

    def step(x: Tensor, y: Tensor) -> Tensor:
        opt.zero_grad()
        loss = model(x).sparse_categorical_crossentropy(y)
        loss.backward()
        opt.step()
        return loss

    run = compile_step(step, use_jit)
    result = DigitsResult(sizes=(len(X_train), len(X_test)))
    progress = Progress("digits CNN", epochs, enabled=not quiet)
    start = time.perf_counter()
    for epoch in range(epochs):
        result.learning_rates.append(float(opt.param_groups[0]["lr"]))
        losses = [run(x, y).item() for x, y in loader]
        result.train_losses.append(float(np.mean(losses)))
        schedule.step()
        result.test_accuracies.append(float(np.mean(predict(model, X_test) == y_test)))
        progress.update(epoch + 1, result.train_losses[-1])
    progress.close()
    result.seconds = time.perf_counter() - start
    predicted = predict(model, X_test)
    wrong = predicted != y_test
    result.test_accuracy = float(np.mean(~wrong))
    result.wrong_images, result.wrong_labels, result.wrong_predictions = X_test[wrong, 0], y_test[wrong], \
        predicted[wrong]
    return result


def digits_figure(path: Path, result: DigitsResult) -> None:
    """Learning curves (training loss, test accuracy, learning rate) and the misclassified test digits."""
    wrong = len(result.wrong_labels)
    cols = max(min(wrong, 8), 1)
    rows = -(-wrong // cols) if wrong else 1
    fig = plotting._figure(10, 3.2 + 1.3 * rows)
    grid = fig.add_gridspec(2, 2 * cols, height_ratios=[3.2, 1.3 * rows])
    epochs = np.arange(1, len(result.train_losses) + 1)
    ax = fig.add_subplot(grid[0, :cols])
    ax.plot(epochs, result.train_losses, marker=".", label="training loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy")
    ax.set_yscale("log")
    lr_ax = ax.twinx()
    lr_ax.plot(epochs, result.learning_rates, color="gray", linestyle="--", label="learning rate")
    lr_ax.set_ylabel("learning rate")
    ax.set_title("training loss (cosine schedule dashed)")
    ax = fig.add_subplot(grid[0, cols:])
    ax.plot(epochs, np.asarray(result.test_accuracies) * 100, marker=".", color="tab:green")
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"test accuracy: {result.test_accuracy:.2%}")
    sub = grid[1, :].subgridspec(rows, cols)
    for i in range(wrong):
        cell = fig.add_subplot(sub[i // cols, i % cols])
        cell.imshow(result.wrong_images[i], cmap="gray_r")
        cell.set_title(f"{result.wrong_labels[i]} → {result.wrong_predictions[i]}", fontsize=9)
        cell.axis("off")
    if not wrong:
        cell = fig.add_subplot(sub[0, 0])
        cell.text(0.5, 0.5, "no misclassified test digits", ha="center", va="center")
        cell.axis("off")
    plotting.save_png(fig, path)


def main(seed: int = 0, epochs: int = 30, lr: float = 0.01, batch_size: int = 64, out: Path = Path("."),
         quiet: bool = False, use_jit: bool = True, limit: int | None = None, **_: Any) -> int:
    """Train, print the test accuracy, write digits.png; return the exit status (0)."""
    mode = "jit" if use_jit and jit_available() else "eager"
    print(f"scikit-learn digits (8×8), CNN conv16-bn-pool-conv32-bn-pool-dropout-linear, seed {seed}, Adam lr {lr:g} "
          f"with a cosine schedule, {epochs} epochs of batches of {batch_size}, float32, {mode}")
    result = train_digits(seed, epochs, lr, batch_size, use_jit, quiet, limit)
    n_train, n_test = result.sizes
    print(f"{n_train} training / {n_test} test images: training loss {result.train_losses[0]:.3f} -> "
          f"{result.train_losses[-1]:.4f}, {result.seconds:.1f}s")
    print(f"test accuracy {result.test_accuracy:.2%} ({len(result.wrong_labels)} of {n_test} misclassified)")
    print(plotting.figure_line(out / "digits.png", lambda path: digits_figure(path, result)))
    return 0
