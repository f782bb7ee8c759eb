"""Engine adapters. Each module turns a workloads.Problem into a Runner for its engine:
`version()` imports the engine (ImportError when absent) and `build(problem, variant)` sets
it up, with an `Ops` namespace (sigmoid, relu, sum, cross_entropy) in the engine's idiom.

The registry below is read by the driver without importing any engine.
"""
from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True)
class Engine:
    name: str
    module: str  # adapter module in this package
    variant: str  # passed to build(): "eager" or "jit"
    requires: str  # the importable module whose presence means "installed"
    note: str = ""


NUMPY_FLOORS = ("numpy", "numpy (tuned)")  # come from the workload modules themselves

ENGINES = [
    Engine("tinygrad_lite", "lite_engine", "eager", "tinygrad_lite"),
    Engine("tinygrad_lite+jit", "lite_engine", "jit", "tinygrad_lite.jit"),
    Engine("torch", "torch_engine", "eager", "torch", "PyTorch eager, torch.optim.SGD"),
    Engine("jax", "jax_engine", "eager", "jax", "jax.value_and_grad, op by op"),
    Engine("jax.jit", "jax_engine", "jit", "jax", "the whole step under jax.jit"),
    Engine("autograd", "autograd_engine", "eager", "autograd", "HIPS autograd"),
    Engine("mygrad", "mygrad_engine", "eager", "mygrad"),
    Engine("micrograd", "micrograd_engine", "eager", "micrograd", "scalar Values; sigmoid added as a Value op"),
    Engine("tinygrad", "tinygrad_engine", "eager", "tinygrad", "DEV=CPU (clang), loss.gradient(*params)"),
    Engine("tinygrad+TinyJit", "tinygrad_engine", "jit", "tinygrad", "the whole step under TinyJit"),
]
BY_NAME = {e.name: e for e in ENGINES}


def installed(engine: Engine) -> bool:
    try:
        return importlib.util.find_spec(engine.requires) is not None
    except ImportError:  # a parent package is missing
        return False


def load(name: str) -> tuple[ModuleType, Engine]:
    engine = BY_NAME[name]
    return importlib.import_module(f"engines.{engine.module}"), engine
