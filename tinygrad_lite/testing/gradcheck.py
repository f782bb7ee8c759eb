"""Check analytic gradients against central finite differences, as `torch.autograd.gradcheck` does.

The analytic side runs `fn` on copies of the inputs in their own dtype and asks the engine
for vector-Jacobian products; the numeric side evaluates `fn` on float64 copies nudged by
±eps. Small problems compare the whole Jacobian; larger ones compare random projections
vᵀ·J·u (HIPS autograd's and PyTorch's fast mode), then, on a mismatch, locate the element.

>>> from tinygrad_lite import Tensor
>>> from tinygrad_lite.testing import gradcheck, gradgradcheck
>>> x = Tensor([0.5, -1.0, 2.0], dtype="float64", requires_grad=True)
>>> gradcheck(lambda t: t * t.sin(), x)
True
>>> gradgradcheck(lambda t: (t * t.sin()).sum(), x)
True
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import numpy as np

from .. import engine, grad_mode
from ..tensor import Tensor
from ..transforms import grad

FULL_LIMIT = 64  # inputs and outputs up to this many elements get a full Jacobian
LOCATE_LIMIT = 4096  # on a failed projection, inputs up to this size are searched element by element


def gradcheck(fn: Callable[..., Tensor], *inputs: Any, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              fast_mode: bool | None = None, n_projections: int = 4, seed: int = 0) -> bool:
    """Assert that the gradients of `fn` at `inputs` match central differences; return True.

    Every floating-point Tensor with `requires_grad=True` among `inputs` is checked; any
    other argument (integer tensors, tensors without grad, numbers, arrays) is passed as a
    constant. `fn` returns one Tensor of any shape. An entry passes when
    |analytic - numeric| <= atol + rtol·|numeric|. Tolerances assume float64 inputs; for
    float32 inputs (whose analytic side runs in float32) loosen them.

    `fast_mode=None` picks the full Jacobian when every checked input and the output have at
    most 64 elements, else `n_projections` random projections vᵀ·J·u; True/False force a mode.
    A mismatch raises AssertionError naming the input position, the element and both values.

    >>> from tinygrad_lite import Tensor
    >>> w = Tensor([[1.0, 2.0], [3.0, 4.0]], dtype="float64", requires_grad=True)
    >>> gradcheck(lambda w, x: (w @ x).tanh(), w, Tensor([0.1, -0.2], dtype="float64"))
    True
    """
    return _Check(fn, inputs, eps, atol, rtol, seed).run(fast_mode, n_projections)


def gradgradcheck(fn: Callable[..., Tensor], *inputs: Any, grad_outputs: Tensor | None = None, eps: float = 1e-6,
                  atol: float = 1e-5, rtol: float = 1e-3, fast_mode: bool | None = None, n_projections: int = 4,
                  seed: int = 0) -> bool:
    """Assert that second derivatives of `fn` are right; return True.

    The checked function is the first-order gradient G(x, v) = ∂(v·fn(x))/∂x, computed by the
    engine with create_graph (through `tinygrad_lite.grad`); its analytic Jacobian (a second
    backward pass) is compared with central differences of G itself. `v` is `grad_outputs`, or
    a random tensor of fn's output shape; it is checked as an input too (named `grad_outputs`).
    A first-order rule that is consistently wrong is gradcheck's job, not this one's.

    >>> from tinygrad_lite import Tensor
    >>> x = Tensor([0.3, 1.2], dtype="float64", requires_grad=True)
    >>> gradgradcheck(lambda t: t.exp() * t, x)
    True
    """
    wrt = _checked_positions(inputs)
    if not wrt:
        raise ValueError(_NOTHING_TO_CHECK.format(types=_types(inputs)))
    with grad_mode.no_grad():
        probe = fn(*inputs)
    _check_output(probe)
    if grad_outputs is None:
        rng = np.random.default_rng(seed)
        grad_outputs = Tensor(rng.standard_normal(probe.shape).astype(probe.dtype), requires_grad=True)
    if grad_outputs.shape != probe.shape:
        raise ValueError(f"gradgradcheck: grad_outputs has shape {grad_outputs.shape}, fn's output {probe.shape}")
    sizes = [int(np.asarray(inputs[i].data).size) for i in wrt]

    def first_order(*args: Any) -> Tensor:
        xs, v = args[:-1], args[-1]

        def weighted(*diff: Tensor) -> Tensor:
            full = list(xs)
            for pos, d in zip(wrt, diff):
                full[pos] = d
            return (fn(*full) * v).sum()

        grads = grad(weighted, argnums=tuple(range(len(wrt))))(*[xs[i] for i in wrt])
        flat = [g.reshape(-1) for g in grads]
        return flat[0].cat(*flat[1:]) if len(flat) > 1 else flat[0]

    def label(j: int) -> str:
        for pos, size in zip(wrt, sizes):
            if j < size:
                idx = np.unravel_index(j, np.asarray(inputs[pos].data).shape)
                return f"the gradient of input {pos} at index {tuple(int(i) for i in idx)}"
            j -= size
        raise AssertionError("unreachable: output index beyond the gradients")

    names = {len(inputs): "grad_outputs"}
    check = _Check(first_order, (*inputs, grad_outputs), eps, atol, rtol, seed, names, label, "gradgradcheck")
    return check.run(fast_mode, n_projections)


_NOTHING_TO_CHECK = ("gradcheck: no input is a floating-point Tensor with requires_grad=True, so there is no "
                     "gradient to check (got {types})")


def _checked_positions(inputs: Sequence[Any]) -> list[int]:
    return [i for i, a in enumerate(inputs) if isinstance(a, Tensor) and a.requires_grad and a.dtype.kind == "f"]


def _types(inputs: Sequence[Any]) -> str:
    return ", ".join(f"Tensor {a.shape} {a.dtype} requires_grad={a.requires_grad}" if isinstance(a, Tensor)
                     else type(a).__name__ for a in inputs) or "no inputs"


def _check_output(out: Any) -> None:
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    if out.dtype.kind != "f":
        raise TypeError(f"gradcheck: fn must return a floating-point Tensor, got {out.dtype} {out.shape}")


class _Check:
    """One gradient check: `fn` at `inputs`, with the checked positions `wrt`."""

    def __init__(self, fn: Callable[..., Tensor], inputs: Sequence[Any], eps: float, atol: float, rtol: float,
                 seed: int, names: dict[int, str] | None = None, out_label: Callable[[int], str] | None = None,
                 who: str = "gradcheck") -> None:
        self.fn, self.inputs, self.eps, self.atol, self.rtol = fn, tuple(inputs), eps, atol, rtol
        self.rng = np.random.default_rng(seed)
        self.names = names or {}
        self.out_label = out_label
        self.who = who
        self.wrt = _checked_positions(self.inputs)
        if not self.wrt:
            raise ValueError(_NOTHING_TO_CHECK.format(types=_types(self.inputs)))
        self.base = [np.asarray(self.inputs[i].data, dtype=np.float64) for i in self.wrt]

    # --- the two sides ------------------------------------------------------------------------------
    def forward(self) -> tuple[list[Tensor], Tensor]:
        """Run fn on fresh leaf copies (the inputs' own dtype), so no user tensor's .grad is touched."""
        leaves = [Tensor(self.inputs[i].data, requires_grad=True) for i in self.wrt]
        args = list(self.inputs)
        for pos, leaf in zip(self.wrt, leaves):
            args[pos] = leaf
        with grad_mode.enable_grad():
            out = self.fn(*args)
        _check_output(out)
        return leaves, out

    def vjp(self, leaves: list[Tensor], out: Tensor, v: np.ndarray) -> list[np.ndarray]:
        """vᵀ·J for each checked input, in float64 (zeros where the output does not depend on it)."""
        if not out.requires_grad:
            return [np.zeros(b.shape) for b in self.base]
        found = engine.run_backward([out], [v.astype(out.dtype)], True, False, capture=leaves)
        assert found is not None
        result = []
        for pos, leaf, g in zip(self.wrt, leaves, found):
            if g is None:
                result.append(np.zeros(leaf.shape))
                continue
            if g.shape != leaf.shape or g.dtype != leaf.dtype:
                raise AssertionError(f"{self.who}: the gradient of {self._name(pos)} has shape {g.shape} and dtype "
                                     f"{g.dtype}, but the input has shape {leaf.shape} and dtype {leaf.dtype}")
            result.append(np.asarray(g.data, dtype=np.float64))
        return result

    def evaluate(self, points: Sequence[np.ndarray]) -> np.ndarray:
        """fn at float64 copies of the checked inputs, as a float64 array."""
        args = list(self.inputs)
        for pos, p in zip(self.wrt, points):
            args[pos] = Tensor(np.asarray(p, dtype=np.float64))  # 0-d arithmetic gives NumPy scalars
        return np.asarray(self.fn(*args).data, dtype=np.float64)

    def nudged(self, k: int, direction: np.ndarray) -> np.ndarray:
        """(fn(x + eps·d) - fn(x - eps·d)) / 2eps, moving only the k-th checked input along d."""
        plus, minus = list(self.base), list(self.base)
        plus[k] = self.base[k] + self.eps * direction
        minus[k] = self.base[k] - self.eps * direction
        return (self.evaluate(plus) - self.evaluate(minus)) / (2 * self.eps)

    # --- the modes -------------------------------------------------------------------------------------
    def run(self, fast_mode: bool | None, n_projections: int) -> bool:
        leaves, out = self.forward()
        if fast_mode is None:
            fast_mode = out.numel() > FULL_LIMIT or any(b.size > FULL_LIMIT for b in self.base)
        if fast_mode:
            self.projections(leaves, out, n_projections)
        else:
            self.full(leaves, out)
        return True

    def full(self, leaves: list[Tensor], out: Tensor) -> None:
        m = out.numel()
        rows = [np.zeros((m, b.size)) for b in self.base]
        for j in range(m):
            onehot = np.zeros(m)
            onehot[j] = 1.0
            for k, g in enumerate(self.vjp(leaves, out, onehot.reshape(out.shape))):
                rows[k][j] = g.reshape(-1)
        for k, b in enumerate(self.base):
            numeric = np.zeros((m, b.size))
            for e in range(b.size):
                d = np.zeros(b.size)
                d[e] = 1.0
                numeric[:, e] = self.nudged(k, d.reshape(b.shape)).reshape(-1)
            bad = self._worst(rows[k], numeric)
            if bad is not None:
                j, e = divmod(bad, b.size)
                self._fail(k, e, self._out_where(j, out.shape), rows[k][j, e], numeric[j, e])

    def projections(self, leaves: list[Tensor], out: Tensor, n: int) -> None:
        for p in range(n):
            v = self.rng.standard_normal(out.shape)
            analytic = self.vjp(leaves, out, v)
            for k, b in enumerate(self.base):
                u = self.rng.standard_normal(b.shape)
                a, num = float(np.sum(analytic[k] * u)), float(np.sum(v * self.nudged(k, u)))
                if self._worst(np.array([a]), np.array([num])) is None:
                    continue
                where = f"random projection {p} (vᵀ·J·u: analytic {a!r} vs numeric {num!r})"
                if b.size <= LOCATE_LIMIT:  # find the element: numeric vᵀ·J, one input element at a time
                    numeric = np.array([np.sum(v * self.nudged(k, np.eye(1, b.size, e).reshape(b.shape)))
                                        for e in range(b.size)])
                    bad = self._worst(analytic[k].reshape(-1), numeric)
                    if bad is not None:
                        self._fail(k, bad, where + ", the element found by vᵀ·J", analytic[k].reshape(-1)[bad],
                                   numeric[bad])
                raise AssertionError(f"{self.who}: the gradient of {self._name(self.wrt[k])} (shape {b.shape}) "
                                     f"disagrees with finite differences in {where}, beyond atol={self.atol} "
                                     f"rtol={self.rtol}")

    # --- comparing and reporting ---------------------------------------------------------------------
    def _worst(self, analytic: np.ndarray, numeric: np.ndarray) -> int | None:
        """Flat position of the largest violation of |a - n| <= atol + rtol·|n|, or None."""
        with np.errstate(invalid="ignore", over="ignore"):
            excess = np.abs(analytic - numeric) - (self.atol + self.rtol * np.abs(numeric))
        # equal values pass (even equal infinities); a nan on either side fails
        excess = np.where(analytic == numeric, -1.0, np.where(np.isnan(excess), np.inf, excess))
        if excess.size == 0 or excess.max() <= 0:
            return None
        return int(np.argmax(excess))

    def _name(self, pos: int) -> str:
        return f"input {pos}" + (f" ({self.names[pos]})" if pos in self.names else "")

    def _out_where(self, j: int, shape: tuple[int, ...]) -> str:
        if self.out_label is not None:
            return f"output {j}: {self.out_label(j)}"
        return f"output index {tuple(int(i) for i in np.unravel_index(j, shape))}"

    def _fail(self, k: int, flat: int, where: str, analytic: float, numeric: float) -> NoReturn:
        b = self.base[k]
        index = tuple(int(i) for i in np.unravel_index(flat, b.shape))
        raise AssertionError(
            f"{self.who}: d(output)/d({self._name(self.wrt[k])}) disagrees at index {index}, {where}: "
            f"analytic {float(analytic)!r} vs numeric {float(numeric)!r} (difference "
            f"{abs(float(analytic) - float(numeric)):.3g}, allowed atol={self.atol} + rtol={self.rtol}·|numeric|); "
            f"input shape {b.shape} {self.inputs[self.wrt[k]].dtype}"
        )
