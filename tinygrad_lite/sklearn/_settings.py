"""Checking an estimator's hyperparameters. scikit-learn's convention: `__init__` stores them unchanged and
`fit` validates them, so `set_params` and `clone` never fail and a bad value is reported where it is used.

>>> from tinygrad_lite.sklearn import MLPRegressor
>>> MLPRegressor(alpha=-1.0).fit([[0.0], [1.0]], [0.0, 1.0])
Traceback (most recent call last):
...
ValueError: MLPRegressor: alpha must be a finite number >= 0.0, got -1.0
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

ACTIVATIONS = ("relu", "tanh", "logistic", "identity")
SOLVERS = ("adam", "sgd")


@dataclass(frozen=True)
class Settings:
    """The checked hyperparameters of one fit, in the forms the training loop uses."""

    hidden_layer_sizes: tuple[int, ...]
    activation: str
    solver: str
    alpha: float
    batch_size: int | None  # None: "auto", min(200, n_samples)
    learning_rate_init: float
    max_iter: int
    shuffle: bool
    tol: float
    verbose: bool
    momentum: float
    nesterovs_momentum: bool
    early_stopping: bool
    validation_fraction: float
    beta_1: float
    beta_2: float
    epsilon: float
    n_iter_no_change: int
    dtype: np.dtype


def check_settings(estimator: Any) -> Settings:
    """Settings from the estimator's parameters, or a ValueError/TypeError naming the bad one and its value."""
    check = _Checker(type(estimator).__name__)
    p = estimator.get_params(deep=False)
    early_stopping = check.flag("early_stopping", p["early_stopping"])
    validation_fraction = check.number("validation_fraction", p["validation_fraction"], 0.0, 1.0, high_open=True)
    if early_stopping and validation_fraction == 0:
        raise ValueError(f"{check.owner}: early_stopping=True needs validation_fraction > 0 (the share of the "
                         f"training data held out to score each epoch), got 0")
    return Settings(
        hidden_layer_sizes=check.layer_sizes(p["hidden_layer_sizes"]),
        activation=check.choice("activation", p["activation"], ACTIVATIONS),
        solver=check.choice("solver", p["solver"], SOLVERS),
        alpha=check.number("alpha", p["alpha"], 0.0),
        batch_size=check.batch_size(p["batch_size"]),
        learning_rate_init=check.number("learning_rate_init", p["learning_rate_init"], 0.0, low_open=True),
        max_iter=check.count("max_iter", p["max_iter"]),
        shuffle=check.flag("shuffle", p["shuffle"]),
        tol=check.number("tol", p["tol"], 0.0),
        verbose=check.verbosity(p["verbose"]),
        momentum=check.number("momentum", p["momentum"], 0.0, 1.0),
        nesterovs_momentum=check.flag("nesterovs_momentum", p["nesterovs_momentum"]),
        early_stopping=early_stopping,
        validation_fraction=validation_fraction,
        beta_1=check.number("beta_1", p["beta_1"], 0.0, 1.0, high_open=True),
        beta_2=check.number("beta_2", p["beta_2"], 0.0, 1.0, high_open=True),
        epsilon=check.number("epsilon", p["epsilon"], 0.0, low_open=True),
        n_iter_no_change=check.count("n_iter_no_change", p["n_iter_no_change"]),
        dtype=check.float_dtype(p["dtype"]),
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


class _Checker:
    def __init__(self, owner: str) -> None:
        self.owner = owner

    def number(self, name: str, value: Any, low: float, high: float | None = None, *, low_open: bool = False,
               high_open: bool = False) -> float:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            raise TypeError(f"{self.owner}: {name} must be a number, got {value!r} ({type(value).__name__})")
        x = float(value)
        too_low = x <= low if low_open else x < low
        too_high = high is not None and (x >= high if high_open else x > high)
        if not math.isfinite(x) or too_low or too_high:
            if high is None:
                span = f"> {low}" if low_open else f">= {low}"
            else:
                span = f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
            raise ValueError(f"{self.owner}: {name} must be a finite number {span}, got {value!r}")
        return x

    def count(self, name: str, value: Any) -> int:
        if not _is_int(value):
            raise TypeError(f"{self.owner}: {name} must be a positive int, got {value!r} ({type(value).__name__})")
        if value < 1:
            raise ValueError(f"{self.owner}: {name} must be a positive int, got {value}")
        return int(value)

    def flag(self, name: str, value: Any) -> bool:
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{self.owner}: {name} must be True or False, got {value!r} ({type(value).__name__})")
        return bool(value)

    def verbosity(self, value: Any) -> bool:
        if isinstance(value, (bool, np.bool_)) or (_is_int(value) and value >= 0):
            return bool(value)
        raise ValueError(f"{self.owner}: verbose must be a bool (or an int >= 0), got {value!r}")

    def choice(self, name: str, value: Any, options: tuple[str, ...]) -> str:
        if not isinstance(value, str) or value not in options:
            raise ValueError(f"{self.owner}: {name} must be one of {', '.join(map(repr, options))}, got {value!r}")
        return value

    def layer_sizes(self, value: Any) -> tuple[int, ...]:
        sizes = (value,) if _is_int(value) else value
        bad = not isinstance(sizes, (tuple, list, np.ndarray)) or not all(_is_int(s) for s in sizes)
        if bad or any(s < 1 for s in sizes):
            raise ValueError(f"{self.owner}: hidden_layer_sizes must be a positive int or a sequence of positive "
                             f"ints (one per hidden layer; empty for none), got {value!r}")
        return tuple(int(s) for s in sizes)

    def batch_size(self, value: Any) -> int | None:
        if isinstance(value, str) and value == "auto":
            return None
        if not _is_int(value) or value < 1:
            raise ValueError(f"{self.owner}: batch_size must be 'auto' or a positive int, got {value!r}")
        return int(value)

    def float_dtype(self, value: Any) -> np.dtype:
        try:
            dtype = None if value is None else np.dtype(value)  # np.dtype(None) would be float64
        except (TypeError, ValueError):
            dtype = None
        if dtype is None or dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise ValueError(f"{self.owner}: dtype must be float32 or float64 (the dtype the network computes in), "
                             f"got {value!r}")
        return dtype
