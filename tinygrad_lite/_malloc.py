"""Keep freed NumPy buffers in the process between training steps instead of faulting them in again (glibc).

A training step allocates and frees the same few megabytes of NumPy arrays every time. glibc's malloc gives
the top of its heap back to the OS whenever a free leaves more than its trim threshold there (by default,
twice the largest block it has mmapped and freed so far), and the next step touches those pages again: one
page fault per 4 KiB. In a plain training loop of the LeNet step (benchmarks/workloads/w7_cnn.py, fresh
process) that was 1,378 faults and 11.3 ms per step, against 0 faults and 7.7 ms with the trimming off;
PyTorch's step in the same loop takes none.

So on import, on glibc only, tinygrad_lite fixes the two thresholds (`mallopt`): blocks below 32 MiB come
from the heap, and up to 64 MiB of free memory may stay at its top. The cost is that a process may keep up
to 64 MiB it has freed; results cannot change (this is where memory comes from, not what is computed).
It is process-wide, so it is skipped when the process already chose: `TINYGRAD_LITE_MALLOPT=0`, or glibc's
own `MALLOC_TRIM_THRESHOLD_` / `MALLOC_MMAP_THRESHOLD_` / `GLIBC_TUNABLES` settings, in the environment.

>>> import tinygrad_lite as tl
>>> tl.malloc_policy().split(":")[0] in ("set", "left")
True
"""
from __future__ import annotations

import ctypes
import os
import platform

MIB = 1 << 20
MMAP_THRESHOLD = 32 * MIB  # glibc's own ceiling for its dynamic threshold: blocks below it come from the heap
TRIM_THRESHOLD = 64 * MIB  # free memory at the heap's top kept for the next step
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers (malloc.h)
_THEIRS = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "GLIBC_TUNABLES")

_policy = "left: not applied yet"


def apply(environ: dict[str, str] | os._Environ[str] = os.environ) -> str:
    """Set the thresholds unless the environment or the platform says not to; returns what was done."""
    global _policy
    if environ.get("TINYGRAD_LITE_MALLOPT", "1") == "0":
        _policy = "left: TINYGRAD_LITE_MALLOPT=0"
    elif any(name in environ for name in _THEIRS):
        _policy = "left: the environment sets glibc's malloc thresholds"
    elif platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        _policy = "left: not glibc"
    else:
        mallopt = ctypes.CDLL(None).mallopt
        mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
        ok = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
        _policy = (f"set: mmap threshold {MMAP_THRESHOLD // MIB} MiB, trim threshold {TRIM_THRESHOLD // MIB} MiB"
                   if ok else "left: mallopt refused the thresholds")
    return _policy


def malloc_policy() -> str:
    """What tinygrad_lite did to glibc's malloc thresholds on import, and why ("set: ..." or "left: ...").

    >>> import tinygrad_lite as tl
    >>> isinstance(tl.malloc_policy(), str)
    True
    """
    return _policy
