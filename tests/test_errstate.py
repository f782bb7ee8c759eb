"""The backward walk silences divide/invalid/overflow warnings (gradients at poles are ±inf, as PyTorch) through
`_errstate`, which sets NumPy's error-settings context variable directly: the caller's settings must come back
unchanged, also when backward raises, and settings the walk does not silence (`under`) stay the caller's."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import tinygrad_lite as tl
from tinygrad_lite import _errstate

SEEN: list[dict[str, str]] = []


class Spy(tl.Function):
    """Identity whose vjp writes down the error settings in force during the walk (or raises)."""

    def forward(self, x: np.ndarray, fail: bool = False) -> np.ndarray:
        self.fail = fail
        return x.copy()

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any]:
        SEEN.append(np.geterr())
        if self.fail:
            raise RuntimeError("vjp failed on purpose")
        return (g,)


@pytest.fixture(params=["fast", "np.errstate"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "np.errstate":
        monkeypatch.setattr(_errstate, "FAST", None)
    elif _errstate.FAST is None:
        pytest.skip("this NumPy has no error-settings context variable")
    SEEN.clear()
    return str(request.param)


def test_walk_silences_and_restores(mode: str) -> None:
    x = tl.Tensor(np.array([0.0, 4.0]), requires_grad=True)
    with np.errstate(all="raise"):
        before = np.geterr()
        Spy.apply(x.sqrt()).sum().backward()  # d√x at 0 divides by zero: silent, +inf
        assert np.geterr() == before
    assert x.grad is not None and x.grad.tolist() == [np.inf, 0.25]
    assert SEEN == [{"divide": "ignore", "over": "ignore", "under": "raise", "invalid": "ignore"}]


def test_settings_come_back_when_backward_raises(mode: str) -> None:
    x = tl.Tensor(np.ones(3), requires_grad=True)
    with np.errstate(divide="warn", over="raise", under="ignore", invalid="print"):
        before = np.geterr()
        with pytest.raises(RuntimeError, match="on purpose"):
            Spy.apply(x, fail=True).sum().backward()
        assert np.geterr() == before


def test_many_distinct_settings_stay_bounded() -> None:
    x = tl.Tensor(np.ones(2), requires_grad=True)
    for _ in range(200):  # a fresh np.errstate object each time: the cache of silenced objects stays small
        with np.errstate(under="ignore"):
            (x * 2.0).sum().backward()
    assert len(_errstate._made) <= 65
