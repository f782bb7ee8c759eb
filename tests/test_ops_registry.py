"""Every op of tests/op_specs.py, checked the same way: forward against NumPy, gradients against
finite differences (first and second order, float64), and float32 kept float32.

A registered primitive or API method without a spec fails here, so new ops cannot go untested.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from op_specs import API_METHODS, NONDIFF, OPERATORS, SPECS, NonDiffSpec, Spec, api_methods, excluded, tensor_api

from tinygrad_lite import GradientError, Tensor
from tinygrad_lite.function import REGISTRY
from tinygrad_lite.testing import gradcheck, gradgradcheck

N = settings.default.max_examples  # scaled from the loaded profile (40 by default)
FORWARD = settings(max_examples=N)
FIRST = settings(max_examples=max(5, N // 2))
SECOND = settings(max_examples=max(3, N // 4))
F32 = settings(max_examples=max(5, N // 4))

by_name = pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])


def leaves(arrays: tuple[np.ndarray, ...], dtype: Any = np.float64) -> list[Tensor]:
    return [Tensor(a.astype(dtype), requires_grad=True) for a in arrays]


def primitives_in(out: Tensor) -> set[str]:
    """Names of the primitives recorded in the graph below `out`."""
    names, seen, stack = set(), set(), [out]
    while stack:
        ctx = stack.pop()._ctx
        if ctx is None or id(ctx) in seen:
            continue
        seen.add(id(ctx))
        names.add(type(ctx).__name__)
        stack.extend(ctx.parents or ())
    return names


# --- the table is complete ---------------------------------------------------------------------------------
def test_every_registered_primitive_has_a_spec() -> None:
    covered = {p for s in SPECS for p in s.prims}
    missing = sorted(n for n, c in REGISTRY.items() if c.differentiable and n not in covered)
    assert not missing, f"registered primitives with no spec in tests/op_specs.py: {missing}"
    nondiff = {s.prim for s in NONDIFF}
    missing = sorted(n for n, c in REGISTRY.items() if not c.differentiable and n not in nondiff)
    assert not missing, f"non-differentiable primitives with no spec in tests/op_specs.py: {missing}"
    unknown = sorted((covered | nondiff) - set(REGISTRY) - {None})
    assert not unknown, f"specs name primitives that are not registered: {unknown}"


def test_every_api_method_has_a_spec() -> None:
    names = {s.name.split("[")[0] for s in SPECS} | {s.name for s in NONDIFF}
    assert not [m for m in API_METHODS if m not in names]
    assert len({s.name for s in SPECS}) == len(SPECS), "spec names must be unique"


def test_the_api_list_is_derived_from_the_tensor_class(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Tensor, "frobnicate", lambda self: self, raising=False)
    monkeypatch.setattr(Tensor, "__rlshift__", lambda self, x: self, raising=False)
    assert {"frobnicate", "__rlshift__"} <= set(api_methods()), "a new method or operator must need a spec"
    api = set(tensor_api())
    assert not sorted(excluded() - api), "op_specs.NOT_OPS names something Tensor no longer has"
    assert not sorted(set(OPERATORS) - api), "op_specs.OPERATORS names an operator Tensor no longer has"
    assert {"sum", "relu", "__mul__", "__getitem__"} <= api


def test_nondifferentiable_specs_name_nondifferentiable_primitives() -> None:
    for s in NONDIFF:
        assert s.prim is None or not REGISTRY[s.prim].differentiable, s.name


# --- per spec ------------------------------------------------------------------------------------------------
@by_name
@FORWARD
@given(data=st.data())
def test_forward_matches_numpy(spec: Spec, data: st.DataObject) -> None:
    arrays, params = data.draw(spec.cases, label="case")
    xs = leaves(arrays)
    out = spec.fn(*xs, **params)
    expected = np.asarray(spec.ref(*arrays, **params))
    assert out.dtype == np.float64 and out.shape == expected.shape
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-9, atol=1e-12)
    if not any(out is x for x in xs):  # a no-op (reshape to the same shape) records nothing
        assert set(spec.prims) <= primitives_in(out), f"{spec.name} should record {spec.prims}"


@by_name
@FIRST
@given(data=st.data())
def test_gradcheck(spec: Spec, data: st.DataObject) -> None:
    arrays, params = data.draw(spec.cases, label="case")
    assert gradcheck(lambda *ts: spec.fn(*ts, **params), *leaves(arrays), **spec.gc)


@pytest.mark.parametrize("spec", [s for s in SPECS if s.order2], ids=[s.name for s in SPECS if s.order2])
@SECOND
@given(data=st.data())
def test_gradgradcheck(spec: Spec, data: st.DataObject) -> None:
    arrays, params = data.draw(spec.cases, label="case")
    assert gradgradcheck(lambda *ts: spec.fn(*ts, **params), *leaves(arrays), **spec.gc)


@by_name
@F32
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_float32_in_float32_out(spec: Spec, data: st.DataObject, seed: int) -> None:
    arrays, params = data.draw(spec.cases, label="case")
    points = tuple(a.astype(np.float32) for a in arrays)  # both runs at the same (float32-exact) point
    x32, x64 = leaves(points, np.float32), leaves(points, np.float64)
    out32, out64 = spec.fn(*x32, **params), spec.fn(*x64, **params)
    assert out32.dtype == np.float32
    tol = spec.f32_tol

    def close(a: np.ndarray, b: np.ndarray) -> None:
        scale = float(np.max(np.abs(b), initial=1.0))
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol * scale)

    close(out32.numpy(), out64.numpy())
    v = np.random.default_rng(seed).standard_normal(out64.shape)
    out32.backward(v.astype(np.float32))
    out64.backward(v)
    for a, b in zip(x32, x64):
        assert a.grad is not None and b.grad is not None
        assert a.grad.dtype == np.float32 and a.grad.shape == a.shape
        close(a.grad.numpy(), b.grad.numpy())


# --- ops without a gradient -------------------------------------------------------------------------------------
@pytest.mark.parametrize("spec", NONDIFF, ids=[s.name for s in NONDIFF])
@FORWARD
@given(data=st.data())
def test_nondifferentiable_forward_and_no_gradient(spec: NonDiffSpec, data: st.DataObject) -> None:
    arrays, params = data.draw(spec.cases, label="case")
    xs = leaves(arrays)
    out = spec.fn(*xs, **params)
    np.testing.assert_array_equal(out.numpy(), np.asarray(spec.ref(*arrays, **params)))
    assert out.dtype.kind != "f"
    assert not out.requires_grad and out._ctx is None
    with pytest.raises(GradientError, match="does not require grad"):
        out.cast(np.float64).sum().backward()
    # Beside a differentiable path, it adds nothing: d(x + mask)/dx is 1.
    total = xs[0].sum() + out.cast(np.float64).sum()
    total.backward()
    assert xs[0].grad is not None and (xs[0].grad.numpy() == 1).all()
