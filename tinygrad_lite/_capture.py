"""The one global the core checks to let the jit watch it: `active` is the recorder while a jitted
function is being captured, else None.

Every hook in the core is a single `if _capture.active is not None:` test (the backward walk makes it
once per node, together with its NaN check), so eager code pays one attribute load per op. Nothing here
imports the rest of the package (the core imports this module).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol


class Recorder(Protocol):
    """What the core calls while a capture runs (implemented by `tinygrad_lite.jit.record.Recorder`)."""

    def record_op(self, ctx: Any, inputs: Sequence[Any], out: Any, params: dict[str, Any]) -> None:
        """`apply` ran primitive `ctx` on `inputs` (Tensors) and made `out`."""

    def record_backward(self) -> None:
        """`engine.run_backward` starts a walk."""

    def record_vjp(self, ctx: Any, g: Any, t: Any, parents: Sequence[Any],
                   results: tuple[Any, ...]) -> tuple[Any, ...]:
        """The walk ran `ctx.vjp`; returns the results fitted to their inputs (the arrays the walk goes on with)."""
        ...

    def record_add(self, old: Any, g: Any, total: Any) -> None:
        """The walk summed two gradients of one tensor: `total = old + g`."""

    def record_store(self, leaf: Any, g: Any, owned: Any) -> Any:
        """`leaf.grad` is about to receive `owned` (g, or the walk's copy of it); returns what to store."""
        ...

    def record_call(self, fn: Callable[[], None], what: str) -> None:
        """`fn` (an optimizer's in-place update) runs next; replay calls it again at this point."""

    def record_grad_set(self, t: Any, value: Any) -> None:
        """`t.grad = value` is about to happen."""

    def record_check(self, fn: Callable[..., Any], tensors: Sequence[Any], params: dict[str, Any]) -> None:
        """`fn(*arrays, **params)` checked the tensors' data (it raises on bad data): replay runs it too."""

    def record_decision(self, fn: Callable[..., Any], tensors: Sequence[Any], params: dict[str, Any],
                        result: Any) -> None:
        """Library code branched on `fn(*arrays, **params) == result`: replay checks it still holds."""

    def data_read(self, t: Any, what: str) -> None:
        """Python is reading a tensor's values (`item()`, `bool(t)`...): raises, a replay could not follow."""


active: Recorder | None = None
