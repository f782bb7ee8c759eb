"""The one global the engine checks to let the jit watch it: `active` is the recorder while a jitted
function is being captured, else None.

Every hook in the core is a single `if _tape.active is not None:` test, so eager code pays one
attribute load per op. Nothing here imports the rest of the package (the core imports this module).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol


class Recorder(Protocol):
    """What the core calls while a capture runs (implemented by `tinygrad_lite.jit.tape.Recorder`)."""

    def record_op(self, ctx: Any, inputs: Sequence[Any], out: Any, params: dict[str, Any]) -> None:
        """`apply` ran primitive `ctx` on `inputs` (Tensors) and made `out`."""

    def run_backward(self, roots: Sequence[Any], root_grads: Sequence[Any], retain_graph: bool,
                     create_graph: bool, capture: Sequence[Any] | None) -> list[Any] | None:
        """Does `engine.run_backward`'s work (same calls, same order) and records it."""

    def record_call(self, fn: Callable[[], None], what: str) -> None:
        """`fn` (an optimizer's in-place update) runs next; replay calls it again at this point."""

    def record_grad_set(self, t: Any, value: Any) -> None:
        """`t.grad = value` is about to happen."""

    def data_read(self, t: Any, what: str) -> None:
        """Python is reading a tensor's values (`item()`, `bool(t)`...): raises, a replay could not follow."""


active: Recorder | None = None
