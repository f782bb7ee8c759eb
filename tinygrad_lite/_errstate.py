"""NumPy's floating-point error settings switched cheaply, for the hot paths that silence them on every call
(the backward walk, jit replays, Sigmoid).

`np.errstate` costs about 1 µs to enter and leave, a measurable share of a small training step. NumPy 2
keeps the settings in a context variable that `np.errstate` sets to an object made by `_make_extobj`;
setting that variable directly, with the object made once per starting setting, costs about 0.2 µs.
With another NumPy (or if those internals move) `np.errstate` itself is used.

>>> import numpy as np
>>> token = silence()
>>> with np.errstate():                # the silenced settings are in force until `restore`
...     float(np.float64(1.0) / np.float64(0.0))
inf
>>> restore(token)
"""
from __future__ import annotations

from typing import Any

import numpy as np

try:
    from numpy._core._ufunc_config import _extobj_contextvar as _var  # type: ignore[attr-defined]
    from numpy._core._ufunc_config import _make_extobj  # type: ignore[attr-defined]
except ImportError:
    _var = _make_extobj = None
# (set, reset, make) for NumPy 2's error-settings context variable, or None when it is not there.
FAST: tuple[Any, Any, Any] | None = None if _var is None else (_var.set, _var.reset, _make_extobj)
_QUIET = {"divide": "ignore", "invalid": "ignore", "over": "ignore"}
# The silenced settings object for each starting settings object (`under` and the rest are kept as the caller
# had them). Bounded: code that enters a fresh np.errstate before every backward makes a new key each time.
_made: dict[Any, Any] = {}


def silence() -> Any:
    """Ignore divide, invalid and overflow from here until `restore(token)`; returns the token."""
    if FAST is None:
        state = np.errstate(**_QUIET)  # type: ignore[arg-type]
        state.__enter__()
        return state
    setter, _, make = FAST
    current = _var.get()
    quiet = _made.get(current)
    if quiet is None:
        if len(_made) > 64:
            _made.clear()
        quiet = _made[current] = make(**_QUIET)
    return setter(quiet)


def restore(token: Any) -> None:
    """Put back the settings `silence` replaced."""
    if FAST is None:
        token.__exit__(None, None, None)
    else:
        FAST[1](token)
