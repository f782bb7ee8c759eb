"""Tools for testing gradients: `gradcheck`, `gradgradcheck`, `check_backprop` and hypothesis `strategies`.

>>> from tinygrad_lite import Tensor
>>> from tinygrad_lite.testing import gradcheck
>>> gradcheck(lambda x: x.exp().sum(), Tensor([0.1, 0.2], dtype="float64", requires_grad=True))
True

`from tinygrad_lite.testing import strategies as tst` needs hypothesis, which is imported
only then, so gradcheck works without it; `check_backprop` (a hand-written backward pass
against autodiff) imports hypothesis when it is called.
"""
from __future__ import annotations

import importlib
from typing import Any

from .backprop import BackpropMismatch, BackpropReport, ParameterReport, check_backprop
from .gradcheck import gradcheck, gradgradcheck

__all__ = ["BackpropMismatch", "BackpropReport", "ParameterReport", "check_backprop", "gradcheck", "gradgradcheck",
           "strategies"]


def __getattr__(name: str) -> Any:
    if name == "strategies":
        return importlib.import_module(".strategies", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
