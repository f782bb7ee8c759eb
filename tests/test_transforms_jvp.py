"""Every primitive's forward-mode rule, over the op table of tests/op_specs.py: the JVP J·u against central
differences, and against the VJP (⟨v, J·u⟩ = ⟨vᵀJ, u⟩); the JVP of a VJP (forward-over-reverse) against
reverse-over-reverse. A differentiable primitive without a `jvp` rule fails the completeness test.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from op_specs import SPECS, Spec

from tinygrad_lite import Function, Tensor, grad, jvp, vjp
from tinygrad_lite.forward_mode import MissingRuleError
from tinygrad_lite.function import REGISTRY

N = settings.default.max_examples
FIRST = settings(max_examples=max(5, N // 4))  # the gradchecks of test_ops_registry.py cover the VJPs at length
SECOND = settings(max_examples=max(3, N // 8))
by_name = pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])


def _own_rule(cls: type) -> bool:
    """Whether some class between cls and Function defines jvp (Function itself has none)."""
    return any("jvp" in vars(k) for k in cls.__mro__ if k is not Function and issubclass(k, Function))


def test_every_differentiable_primitive_has_a_jvp_rule() -> None:
    missing = sorted(n for n, c in REGISTRY.items() if c.differentiable and not _own_rule(c))
    assert not missing, f"differentiable primitives without a jvp rule: {missing}"


def test_a_primitive_without_a_rule_is_an_error_naming_it() -> None:
    class Twice(Function):
        def forward(self, x: np.ndarray) -> np.ndarray:
            return x * 2

        def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any]:
            return (g * 2,)

    with pytest.raises(MissingRuleError, match="Twice has no jvp rule"):
        jvp(lambda x: Twice.apply(x).sum(), (Tensor([1.0]),), (Tensor([1.0]),))


def _draw(spec: Spec, data: st.DataObject, seed: int) -> tuple[list[Tensor], dict[str, Any], np.random.Generator]:
    arrays, params = data.draw(spec.cases, label="case")
    return [Tensor(a.astype(np.float64)) for a in arrays], params, np.random.default_rng(seed)


def _inner(a: list[Tensor] | tuple[Tensor, ...], b: list[Tensor] | tuple[Tensor, ...]) -> float:
    return float(sum(np.vdot(x.numpy(), y.numpy()) for x, y in zip(a, b)))


@by_name
@FIRST
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_jvp_matches_finite_differences_and_vjp(spec: Spec, data: st.DataObject, seed: int) -> None:
    xs, params, rng = _draw(spec, data, seed)
    f = lambda *ts: spec.fn(*ts, **params)  # noqa: E731
    us = [Tensor(rng.standard_normal(x.shape)) for x in xs]
    out, tangent = jvp(f, tuple(xs), tuple(us))
    np.testing.assert_allclose(out.numpy(), f(*xs).numpy(), rtol=1e-12, atol=1e-12)
    assert tangent.shape == out.shape and tangent.dtype == out.dtype and not tangent.requires_grad

    eps = spec.gc.get("eps", 1e-6)
    plus = f(*[Tensor(x.numpy() + eps * u.numpy()) for x, u in zip(xs, us)]).numpy()
    minus = f(*[Tensor(x.numpy() - eps * u.numpy()) for x, u in zip(xs, us)]).numpy()
    numeric = (plus - minus) / (2 * eps)
    atol, rtol = spec.gc.get("atol", 1e-5), spec.gc.get("rtol", 1e-3)
    np.testing.assert_allclose(tangent.numpy(), numeric, rtol=rtol, atol=atol,
                               err_msg=f"{spec.name}: jvp against central differences")

    # ⟨v, J u⟩ both ways: forward mode and reverse mode must be transposes of each other.
    v = Tensor(rng.standard_normal(out.shape))
    _, f_vjp = vjp(f, *xs)
    forward, reverse = _inner([v], [tangent]), _inner(f_vjp(v), us)
    tol = 1e-6 if spec.name == "cast" else 1e-9  # via float32: u and v are rounded at different points
    assert forward == pytest.approx(reverse, rel=tol, abs=tol), f"{spec.name}: <v, Ju> {forward} vs <vJ, u> {reverse}"


@pytest.mark.parametrize("spec", [s for s in SPECS if s.order2], ids=[s.name for s in SPECS if s.order2])
@SECOND
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_forward_over_reverse_matches_reverse_over_reverse(spec: Spec, data: st.DataObject, seed: int) -> None:
    """The rules run on the backward graph too (an hvp): d/dx ⟨vᵀJ(x), u⟩ two ways."""
    xs, params, rng = _draw(spec, data, seed)
    f = lambda *ts: spec.fn(*ts, **params)  # noqa: E731
    v = Tensor(rng.standard_normal(f(*xs).shape))
    us = [Tensor(rng.standard_normal(x.shape)) for x in xs]
    w = [Tensor(rng.standard_normal(x.shape)) for x in xs]

    def pullback(*ts: Tensor) -> tuple[Tensor, ...]:
        return vjp(f, *ts)[1](v)  # type: ignore[no-any-return]

    _, fwd = jvp(pullback, tuple(xs), tuple(us))  # d(vᵀJ)·u
    rev = grad(lambda *ts: sum((g * u).sum() for g, u in zip(pullback(*ts), us)), argnums=tuple(range(len(xs))))(*xs)
    assert _inner(w, fwd) == pytest.approx(_inner(w, rev), rel=1e-7, abs=1e-7), spec.name
