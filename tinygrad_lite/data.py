"""`DataLoader`: mini-batches of one or more equally long arrays, as tuples of Tensors.

>>> import numpy as np
>>> from tinygrad_lite.data import DataLoader
>>> X, y = np.arange(10.0).reshape(5, 2), np.array([0, 1, 0, 1, 1])
>>> loader = DataLoader(X, y, batch_size=2)
>>> len(loader), [yb.tolist() for _, yb in loader]
(3, [[0, 1], [0, 1], [1]])
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Iterator
from typing import Any

import numpy as np

from .tensor import Tensor

__all__ = ["DataLoader"]


def _samples(position: int, source: Any) -> np.ndarray:
    """The array behind one argument: a NumPy array or a Tensor as it is (not copied), anything else through
    Tensor's rules (Python floats become float32, ints int32)."""
    if isinstance(source, Tensor):
        array = source.data
    elif isinstance(source, np.ndarray):
        if source.dtype.kind not in "biuf":
            raise TypeError(f"DataLoader: array {position} must hold numbers, got dtype {source.dtype}")
        array = source
    else:
        try:
            array = Tensor(source).data
        except TypeError as error:
            raise TypeError(f"DataLoader: array {position}: {error}") from None
    if array.ndim == 0:
        raise ValueError(f"DataLoader: array {position} is a scalar; each array needs a first dimension that "
                         f"indexes the samples")
    return array


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"DataLoader: {name} must be True or False, got {value!r}")
    return bool(value)


class DataLoader:
    """Iterate over `arrays_or_tensors` (NumPy arrays, Tensors or nested lists that share their first
    dimension, the samples) in mini-batches: each batch is a tuple with one Tensor per array, holding a copy
    of `batch_size` consecutive samples (the last batch is smaller unless `drop_last`).

    With `shuffle`, every pass over the loader (every `iter()`, i.e. every epoch) visits the samples in a new
    random order. `seed` makes that sequence of orders reproducible: two loaders with the same seed give the
    same epochs. Without a seed the orders are drawn from the generator `Tensor.manual_seed` seeds.
    The sources are read, not copied, when each batch is made.

    >>> import numpy as np
    >>> from tinygrad_lite.data import DataLoader
    >>> a = DataLoader(np.arange(6), batch_size=4, shuffle=True, seed=0)
    >>> b = DataLoader(np.arange(6), batch_size=4, shuffle=True, seed=0)
    >>> [x.tolist() for (x,) in a] == [x.tolist() for (x,) in b]     # the same seed, the same epochs
    True
    >>> sorted(v for (x,) in a for v in x.tolist())                 # every sample once per epoch
    [0, 1, 2, 3, 4, 5]
    """

    def __init__(self, *arrays_or_tensors: Any, batch_size: int = 1, shuffle: bool = False, drop_last: bool = False,
                 seed: int | None = None) -> None:
        if not arrays_or_tensors:
            raise ValueError("DataLoader needs at least one array, e.g. DataLoader(X, y, batch_size=32)")
        arrays = [_samples(i, a) for i, a in enumerate(arrays_or_tensors)]
        lengths = [len(a) for a in arrays]
        if len(set(lengths)) > 1:
            shapes = ", ".join(str(a.shape) for a in arrays)
            raise ValueError(f"DataLoader: the arrays must have the same number of samples (first dimension), got "
                             f"{lengths} (shapes {shapes})")
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral):
            raise TypeError(f"DataLoader: batch_size must be an int, got {batch_size!r} ({type(batch_size).__name__})")
        if batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be at least 1, got {batch_size}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
            raise TypeError(f"DataLoader: seed must be an int or None, got {seed!r} ({type(seed).__name__})")
        if seed is not None and seed < 0:
            raise ValueError(f"DataLoader: seed must be >= 0, got {seed}")
        self._arrays: list[np.ndarray] = arrays
        self.num_samples: int = lengths[0]
        self.batch_size: int = int(batch_size)
        self.shuffle: bool = _flag("shuffle", shuffle)
        self.drop_last: bool = _flag("drop_last", drop_last)
        self.seed: int | None = seed
        self._rng: np.random.Generator | None = None if seed is None else np.random.default_rng(int(seed))

    def __len__(self) -> int:
        """The number of batches in one epoch."""
        if self.drop_last:
            return self.num_samples // self.batch_size
        return math.ceil(self.num_samples / self.batch_size)

    def __iter__(self) -> Iterator[tuple[Tensor, ...]]:
        """One epoch. The order is drawn here, when the epoch starts, not at its first batch."""
        order = self._order() if self.shuffle else None
        return self._batches(order)

    def _order(self) -> np.ndarray:
        rng = self._rng
        if rng is None:  # a seed for this epoch from the global generator, so Tensor.manual_seed governs it
            rng = np.random.default_rng(int(Tensor.randint(1, low=0, high=2**31 - 1).numpy()[0]))
        return rng.permutation(self.num_samples)

    def _batches(self, order: np.ndarray | None) -> Iterator[tuple[Tensor, ...]]:
        size = self.batch_size
        for b in range(len(self)):
            start = b * size
            index: slice | np.ndarray = slice(start, start + size) if order is None else order[start:start + size]
            yield tuple(Tensor(a[index]) for a in self._arrays)

    def __repr__(self) -> str:
        return (f"DataLoader({len(self._arrays)} array(s) of {self.num_samples} samples, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last}, seed={self.seed})")
