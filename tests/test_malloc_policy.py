"""tinygrad_lite keeps glibc from handing a training step's freed buffers back to the OS (tinygrad_lite/_malloc.py).

The fault counts are exact counts of a fixed allocation pattern (eight 1 MiB arrays made and freed per
step), not timings: with glibc's default dynamic thresholds each step gives its 8 MiB back and faults
them in again (2,016 faults per step here), with the import's thresholds it keeps them (0)."""
from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

import tinygrad_lite as tl
from tinygrad_lite import _malloc

ROOT = Path(__file__).resolve().parents[1]
GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"

LOOP = """
import resource, numpy as np, tinygrad_lite as tl
def step():
    arrays = [np.ones(1 << 18, np.float32) for _ in range(8)]  # eight 1 MiB arrays, freed together
    return sum(float(a[0]) for a in arrays)
for _ in range(3):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    step()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 20)
print(tl.malloc_policy())
"""


def _faults_per_step(**env: str) -> tuple[float, str]:
    clean = {k: v for k, v in os.environ.items() if k not in (*_malloc._THEIRS, "TINYGRAD_LITE_MALLOPT")}
    clean["PYTHONPATH"] = os.pathsep.join([str(ROOT), clean.get("PYTHONPATH", "")])
    out = subprocess.run([sys.executable, "-c", LOOP], env={**clean, **env}, capture_output=True, text=True,
                         check=True, timeout=120).stdout.splitlines()
    return float(out[0]), out[1]


def test_the_policy_is_reported():
    assert tl.malloc_policy() == _malloc.malloc_policy()
    assert tl.malloc_policy().startswith(("set: ", "left: "))


@pytest.mark.parametrize("env, reason", [
    ({"TINYGRAD_LITE_MALLOPT": "0"}, "TINYGRAD_LITE_MALLOPT=0"),
    ({"MALLOC_TRIM_THRESHOLD_": "1000"}, "the environment sets"),
    ({"MALLOC_MMAP_THRESHOLD_": "1000"}, "the environment sets"),
    ({"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=1000"}, "the environment sets"),
])
def test_a_process_that_chose_is_left_alone(env, reason):
    assert _malloc.apply(env).startswith("left: ") and reason in _malloc.malloc_policy()
    _malloc.apply()  # back to what the import did (the suite's own environment)


@pytest.mark.skipif(not GLIBC, reason="the thresholds are glibc's")
def test_freed_buffers_stay_in_the_process():
    kept, policy = _faults_per_step()
    given_back, left = _faults_per_step(TINYGRAD_LITE_MALLOPT="0")
    assert policy.startswith("set: ") and left == "left: TINYGRAD_LITE_MALLOPT=0"
    assert given_back >= 1000, f"glibc's default should re-fault the 8 MiB each step, got {given_back}"
    assert kept <= 10, f"with the thresholds set a step should not fault, got {kept} per step"
