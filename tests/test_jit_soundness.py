"""The jit's contract: a call returns what eager mode returns, or raises JitError. Never a third thing.

One regression test per way a replay used to differ silently from eager mode (issue 10): outputs and
gradients written over by the next replay, values frozen at capture, data checks skipped on replay,
leaves made inside the function, threads, Python state and `.data` writes, silent re-captures.
"""
from __future__ import annotations

import threading
import warnings
import weakref

import numpy as np
import pytest

import tinygrad_lite as tl
import tinygrad_lite.nn.functional as F
from tinygrad_lite import Tensor
from tinygrad_lite.jit import JitError


# --- 1. a replay never writes into memory the caller can still see -----------------------------------
def test_views_of_outputs_survive_later_replays() -> None:
    f = tl.jit(lambda x: x * 2.0 + 1.0)
    kept = [f(Tensor([float(i), 0.0])).reshape(2, 1) for i in range(6)]
    assert [k.numpy()[0, 0] for k in kept] == [1.0, 3.0, 5.0, 7.0, 9.0, 11.0]


def test_slices_and_transposes_of_outputs_survive_later_replays() -> None:
    w = Tensor(np.arange(6.0).reshape(2, 3))
    f = tl.jit(lambda x: (x @ w).T)  # a transposed layout: the output is a view of its own buffer
    kept = []
    for i in range(6):
        out = f(Tensor([[float(i), 1.0]]))
        kept.append((out[1:], out.T.reshape(-1)))
    for i, (a, b) in enumerate(kept):
        expect = (np.array([[float(i), 1.0]]) @ np.arange(6.0).reshape(2, 3)).T
        assert np.array_equal(a.numpy(), expect[1:]) and np.array_equal(b.numpy(), expect.T.reshape(-1))


def test_views_of_grads_survive_later_replays() -> None:
    w = Tensor([1.0, 2.0], requires_grad=True)

    @tl.jit
    def step(x: Tensor) -> Tensor:
        w.grad = None
        (w * x).sum().backward()
        return w.grad

    kept = [step(Tensor([float(i), 1.0])).reshape(2, 1) for i in range(6)]
    kept_grads = []
    for i in range(6):
        step(Tensor([float(i), 1.0]))
        kept_grads.append(w.grad[0:1])
    assert [k.numpy()[0, 0] for k in kept] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert [k.item() for k in kept_grads] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]


def test_an_unreferenced_output_buffer_is_reused() -> None:
    """The other half of the refcount test: when nobody holds the last output, the replay writes over it
    (no page faults for a new array each step)."""
    f = tl.jit(lambda x: x * 2.0 + 1.0)
    reused = 0
    last = None
    for i in range(8):
        out = f(Tensor([float(i), 0.0]))
        assert out.tolist() == [2.0 * i + 1.0, 1.0]
        reused += last is not None and last() is out.data
        last = weakref.ref(out.data)
        del out
    assert reused >= 4
