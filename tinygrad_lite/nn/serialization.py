"""Saving and loading tensors as a NumPy `.npz` archive: one `name.npy` member per array, written and read
without pickle, so loading a file never runs code from it.

A module's `state_dict()` (or any mapping of names to tensors/arrays) is saved flat and loads back as
{name: Tensor}. An optimizer (or its `state_dict()`, or any nested dict/list/tuple of arrays and Python
numbers) is saved with its structure in one more member, `__structure__.npy` (JSON text as bytes), and loads
back as that structure with NumPy arrays, ready for `opt.load_state_dict`. The file is written to a
temporary file beside `path` and renamed over it, so a crash mid-save leaves the previous checkpoint whole.

>>> import os, tempfile
>>> from tinygrad_lite import nn, optim
>>> model = nn.Linear(2, 1)
>>> folder = tempfile.mkdtemp()
>>> nn.save(model, os.path.join(folder, "model.npz"))
>>> sorted(nn.load(os.path.join(folder, "model.npz")))
['bias', 'weight']
>>> opt = optim.Adam(model.parameters(), lr=0.01)
>>> nn.save(opt, os.path.join(folder, "opt.npz"))
>>> opt.load_state_dict(nn.load(os.path.join(folder, "opt.npz")))
"""
from __future__ import annotations

import json
import math
import os
import tempfile
import zipfile
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..tensor import Tensor
from .module import Module

STRUCTURE = "__structure__"  # the member holding a nested state's layout; not a key a flat mapping may use
_NPY_MAGIC = b"\x93NUMPY"


def save(obj: Any, path: str | os.PathLike[str]) -> None:
    """Write a module's `state_dict()`, an optimizer's, or a mapping of names to tensors/arrays, to `path`
    (exactly that name: unlike np.savez no `.npz` suffix is added). `nn.load` or `np.load` reads it back.
    The write is atomic: a temporary file in the same folder is renamed over `path` once complete."""
    arrays, structure = _arrays_to_save(obj)
    if structure is not None:
        arrays[STRUCTURE] = np.frombuffer(json.dumps(structure, allow_nan=True).encode(), dtype=np.uint8)
    target = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(target))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as raw:
            # The archive np.savez would write, built here so that any key works (np.savez reserves `file`).
            with zipfile.ZipFile(raw, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
                for key, arr in arrays.items():
                    with archive.open(key + ".npy", "w", force_zip64=True) as member:
                        # 0-d arrays stay 0-d (np.ascontiguousarray would make them shape (1,))
                        np.lib.format.write_array(member, arr if arr.flags.c_contiguous else arr.copy(),
                                                  allow_pickle=False)
            raw.flush()
            os.fsync(raw.fileno())
        os.chmod(tmp, _mode_for(target))
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _mode_for(target: str) -> int:
    """The permissions the file would have had if written in place: the old file's, else 0o666 less umask
    (mkstemp makes the temporary file 0o600)."""
    try:
        return os.stat(target).st_mode & 0o7777
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def _arrays_to_save(obj: Any) -> tuple[dict[str, np.ndarray], Any]:
    """The arrays to write by member name, and the nested layout (None for a flat mapping of arrays)."""
    from ..optim.optimizer import Optimizer  # late: optim imports the tensor machinery nn builds on

    if isinstance(obj, Module):
        obj = obj.state_dict()
    elif isinstance(obj, Optimizer):
        obj = obj.state_dict()
    if not isinstance(obj, Mapping):
        raise TypeError(f"nn.save expects a Module or a mapping of names to tensors (or an Optimizer), "
                        f"got {type(obj).__name__}")
    if not any(isinstance(v, Mapping) for v in obj.values()):  # flat: name -> tensor, array or nested list
        arrays = {}
        for key, value in obj.items():
            if not isinstance(key, str):
                raise TypeError(f"nn.save: keys must be strings, got {key!r}")
            if key == STRUCTURE:
                raise ValueError(f"nn.save: the key {STRUCTURE!r} is reserved")
            arrays[key] = _checked_array(key, value)
        return arrays, None
    arrays = {}
    return arrays, _encode(obj, "", arrays)


def _checked_array(key: str, value: Any) -> np.ndarray:
    arr = value.data if isinstance(value, Tensor) else np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"nn.save: {key!r} holds {arr.dtype} data; only bool, integer and float arrays are saved")
    return arr


def _encode(value: Any, where: str, arrays: dict[str, np.ndarray]) -> Any:
    """JSON for a nested state: arrays become {"array": member}, and tuples and non-string dict keys are
    tagged so that they come back as they were."""
    if isinstance(value, (Tensor, np.ndarray, np.generic)):
        name = f"{where.lstrip('/')}#{len(arrays)}"  # unique, and never ending in `.npy`
        arrays[name] = _checked_array(where or "/", value)
        return {"array": name}
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"float": repr(value)}
    if isinstance(value, Mapping):
        items = []
        for k, v in value.items():
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise TypeError(f"nn.save: dict keys must be strings or ints, got {k!r} at {where or '/'}")
            items.append([k, _encode(v, f"{where}/{k}", arrays)])
        return {"dict": items}
    if isinstance(value, (list, tuple)):
        encoded = [_encode(v, f"{where}/{i}", arrays) for i, v in enumerate(value)]
        return {"tuple": encoded} if isinstance(value, tuple) else {"list": encoded}
    raise TypeError(f"nn.save: cannot store {type(value).__name__} at {where or '/'} (arrays, numbers, strings, "
                    f"bools, None, dicts, lists and tuples are stored)")


def _decode(node: Any, arrays: Mapping[str, np.ndarray]) -> Any:
    if not isinstance(node, dict):
        return node
    (tag, body), = node.items()
    if tag == "array":
        return arrays[body]
    if tag == "float":
        return float(body)
    if tag == "dict":
        return {k: _decode(v, arrays) for k, v in body}
    if tag == "tuple":
        return tuple(_decode(v, arrays) for v in body)
    return [_decode(v, arrays) for v in body]


def load(path: str | os.PathLike[str]) -> Any:
    """Read a file written by `nn.save` (or np.savez), with pickle refused: a dict of name → Tensor for
    tensors saved flat (`model.load_state_dict(nn.load(path))` restores a model), or the nested state an
    optimizer saved, with NumPy arrays (`opt.load_state_dict(nn.load(path))`)."""
    name = os.fspath(path)
    if not zipfile.is_zipfile(name):
        with open(name, "rb") as f:
            single = f.read(len(_NPY_MAGIC)) == _NPY_MAGIC
        what = "a single .npy array" if single else "not a zip file"
        raise ValueError(f"nn.load: {name!r} is {what}, not an .npz archive of named tensors")
    arrays: dict[str, np.ndarray] = {}
    # Members are read by their exact names: np.load's lookup strips `.npy`, so keys "w" and "w.npy"
    # (members "w.npy" and "w.npy.npy") would both find the first.
    with zipfile.ZipFile(name) as archive:
        for member in archive.namelist():
            if not member.endswith(".npy"):
                raise ValueError(f"nn.load: {name!r} holds {member!r}, which is not an .npy array")
            with archive.open(member) as f:
                arrays[member[:-4]] = np.lib.format.read_array(f, allow_pickle=False)
    layout = arrays.pop(STRUCTURE, None)
    if layout is None:
        return {key: Tensor(arr) for key, arr in arrays.items()}
    return _decode(json.loads(layout.tobytes().decode()), arrays)
