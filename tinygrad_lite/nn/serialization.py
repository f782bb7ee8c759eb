"""Saving and loading tensors as a NumPy `.npz` archive: one `name.npy` member per tensor, written and
read without pickle, so loading a file never runs code from it.

>>> import os, tempfile
>>> from tinygrad_lite import nn
>>> model = nn.Linear(2, 1)
>>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
>>> nn.save(model, path)
>>> sorted(nn.load(path))
['bias', 'weight']
"""
from __future__ import annotations

import os
import zipfile
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..tensor import Tensor
from .module import Module


def save(obj: Module | Mapping[str, Any], path: str | os.PathLike[str]) -> None:
    """Write a module's `state_dict()`, or a mapping of names to tensors/arrays, to `path` (exactly that
    name: unlike np.savez no `.npz` suffix is added). `nn.load` or `np.load` reads it back."""
    state = obj.state_dict() if isinstance(obj, Module) else obj
    if not isinstance(state, Mapping):
        raise TypeError(f"nn.save expects a Module or a mapping of names to tensors, got {type(obj).__name__}")
    arrays = {}
    for key, value in state.items():
        if not isinstance(key, str):
            raise TypeError(f"nn.save: keys must be strings, got {key!r}")
        arr = value.data if isinstance(value, Tensor) else np.asarray(value)
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"nn.save: {key!r} holds {arr.dtype} data; only bool, integer and float arrays are saved")
        arrays[key] = arr
    # The archive np.savez would write, built here so that any key works (np.savez reserves `file`).
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for key, arr in arrays.items():
            with archive.open(key + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.ascontiguousarray(arr), allow_pickle=False)


def load(path: str | os.PathLike[str]) -> dict[str, Tensor]:
    """Read a file written by `nn.save` (or np.savez) into a dict of name → Tensor, with pickle refused.
    `model.load_state_dict(nn.load(path))` restores a model."""
    contents = np.load(path, allow_pickle=False)
    if not isinstance(contents, np.lib.npyio.NpzFile):
        raise ValueError(f"nn.load: {os.fspath(path)!r} is a single .npy array, not an .npz archive of named tensors")
    with contents:
        return {key: Tensor(contents[key]) for key in contents.files}
