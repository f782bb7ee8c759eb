"""Capture and replay: `@jit` records a training step's NumPy kernels once and replays them.

The first call with arguments of a new shape runs eagerly while the core reports each primitive,
the backward pass and the optimizer update; the second call is captured again and checked against
the first; later calls run the recorded kernels directly (no Tensor objects, no graph, no
topological sort), writing temporaries into preallocated buffers. Parameters, optimizer state and
data reached through closures or modules are read where they live, so in-place updates carry over.
See docs/jit.md for the rules and the limits.

>>> import tinygrad_lite as tl
>>> w = tl.Tensor([[0.5], [-0.5]], requires_grad=True)
>>> opt = tl.optim.SGD([w], lr=0.1)
>>> @tl.jit
... def step(x):
...     opt.zero_grad()
...     loss = (x @ w).sigmoid().sum()
...     loss.backward()
...     opt.step()
...     return loss
>>> losses = [step(tl.Tensor([[1.0, 2.0]])).item() for _ in range(3)]   # the third call is a replay
>>> step.captures
1
"""
from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, overload

from .ir import JitError
from .jitted import JittedFunction, reset_all, settings

__all__ = ["JitError", "JittedFunction", "jit"]


class Jit:
    """The decorator. `@jit`, `jit(fn)`, `@jit(verify=False)` (replay from the second call),
    `@jit(enabled=False)`; `jit.reset()` forgets every capture; `jit.enabled = False` (or the
    environment variable TINYGRAD_LITE_NOJIT=1, read at import and by `jit.reset()`) runs every jitted
    function eagerly, for debugging."""

    JitError = JitError
    # `tinygrad_lite.jit` names this object, which shadows the package of the same name: these two let
    # `import tinygrad_lite.jit.record as r` and `tinygrad_lite.jit.replay` still find the modules.
    __name__ = __name__
    __path__ = __path__

    def __getattr__(self, name: str) -> Any:
        module = sys.modules.get(f"{__name__}.{name}")
        if module is None:
            raise AttributeError(f"tinygrad_lite.jit has no attribute {name!r}")
        return module

    @overload
    def __call__(self, fn: Callable[..., Any], *, verify: bool = True, enabled: bool = True) -> JittedFunction: ...

    @overload
    def __call__(self, fn: None = None, *, verify: bool = True,
                 enabled: bool = True) -> Callable[[Callable[..., Any]], JittedFunction]: ...

    def __call__(self, fn: Callable[..., Any] | None = None, *, verify: bool = True, enabled: bool = True) -> Any:
        if fn is None:
            return lambda f: JittedFunction(f, verify=verify, enabled=enabled)
        if isinstance(fn, JittedFunction):
            return fn
        if not callable(fn):
            raise TypeError(f"jit: expected a function, got {type(fn).__name__}")
        return JittedFunction(fn, verify=verify, enabled=enabled)

    def reset(self) -> None:
        """Forget the captures of every jitted function (each captures again on its next call)."""
        reset_all()

    @property
    def enabled(self) -> bool:
        return settings.enabled

    @enabled.setter
    def enabled(self, value: bool) -> None:
        settings.enabled = bool(value)

    def __repr__(self) -> str:
        return f"<tinygrad_lite.jit enabled={settings.enabled}>"


jit = Jit()
