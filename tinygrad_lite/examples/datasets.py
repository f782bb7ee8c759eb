"""Built-in toy data sets, in NumPy only, so the command needs no scikit-learn.

`make_moons` draws exactly what scikit-learn's `make_moons(n, noise=...)` draws from the
global NumPy generator, so `np.random.seed(0)` followed by it gives the article's data.

>>> import numpy as np
>>> np.random.seed(0)
>>> X, y = make_moons(100, noise=0.10)
>>> X.shape, y.shape, int(y.sum())
((100, 2), (100,), 50)
"""
from __future__ import annotations

import numpy as np

# The three class centres of the series' multi-class part: one blob below, two above.
BLOB_CENTERS = np.array([[0.0, -3.0], [3.0, 3.0], [-3.0, 3.0]])


def make_moons(n_samples: int = 100, noise: float | None = None,
               rng: np.random.RandomState | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles: X (n, 2) float64 and labels y (n,) in {0, 1}.

    Draws from `rng` (default: NumPy's global generator, as scikit-learn does when it is
    given no random_state): first a shuffle of the points, then Gaussian noise of scale `noise`.
    """
    if n_samples < 2:
        raise ValueError(f"make_moons needs n_samples >= 2, got {n_samples}")
    gen = np.random.mtrand._rand if rng is None else rng
    n_out = n_samples // 2
    n_in = n_samples - n_out
    t_out, t_in = np.linspace(0, np.pi, n_out), np.linspace(0, np.pi, n_in)
    X = np.vstack([np.append(np.cos(t_out), 1 - np.cos(t_in)),
                   np.append(np.sin(t_out), 1 - np.sin(t_in) - 0.5)]).T
    y = np.append(np.zeros(n_out, dtype=np.intp), np.ones(n_in, dtype=np.intp))
    order = np.arange(n_samples)
    gen.shuffle(order)
    X, y = X[order], y[order]
    if noise is not None:
        X = X + gen.normal(scale=noise, size=X.shape)
    return X, y


def make_blobs(n_per_class: int = 100, centers: np.ndarray = BLOB_CENTERS, std: float = 1.0,
               rng: np.random.RandomState | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian blobs, `n_per_class` points around each row of `centers`, shuffled.

    Returns X (n, d) float64 and integer class labels y (n,) in [0, len(centers)).

    >>> X, y = make_blobs(10, rng=np.random.RandomState(0))
    >>> X.shape, np.bincount(y).tolist()
    ((30, 2), [10, 10, 10])
    """
    if n_per_class < 1:
        raise ValueError(f"make_blobs needs n_per_class >= 1, got {n_per_class}")
    gen = np.random.mtrand._rand if rng is None else rng
    centers = np.asarray(centers, dtype=np.float64)
    k, d = centers.shape
    X = np.repeat(centers, n_per_class, axis=0) + gen.normal(scale=std, size=(k * n_per_class, d))
    y = np.repeat(np.arange(k, dtype=np.intp), n_per_class)
    order = gen.permutation(k * n_per_class)
    return X[order], y[order]
