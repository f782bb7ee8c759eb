"""Oracle tests against JAX (an optional test dependency): jvp, vjp, jacobian (both modes), hessian, hvp and
vmap(grad) of random compositions of ops agree with jax's transforms to 1e-10 in float64."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_lite as tl
from tinygrad_lite import Tensor

jax = pytest.importorskip("jax", reason="JAX is the oracle for these tests (pip install jax)")
jnp = pytest.importorskip("jax.numpy", reason="JAX is the oracle for these tests (pip install jax)")
jax.config.update("jax_enable_x64", True)

TOL = 1e-10
FEW = settings(max_examples=max(3, settings.default.max_examples // 10))  # JAX compiles each new function: slow

# Each step maps h (and the arguments x, W) to a new h, written once for each library.
STEPS: dict[str, tuple[Any, Any]] = {
    "sin": (lambda h, x, W: h.sin(), lambda h, x, W: jnp.sin(h)),
    "tanh": (lambda h, x, W: h.tanh(), lambda h, x, W: jnp.tanh(h)),
    "sigmoid": (lambda h, x, W: h.sigmoid(), lambda h, x, W: jax.nn.sigmoid(h)),
    "softplus": (lambda h, x, W: h.softplus(), lambda h, x, W: jax.nn.softplus(h)),
    "exp_tanh": (lambda h, x, W: h.tanh().exp(), lambda h, x, W: jnp.exp(jnp.tanh(h))),
    "square": (lambda h, x, W: h * h, lambda h, x, W: h * h),
    "matmul": (lambda h, x, W: W @ h, lambda h, x, W: W @ h),
    "times_x": (lambda h, x, W: h * x, lambda h, x, W: h * x),
    "plus_x": (lambda h, x, W: h + x, lambda h, x, W: h + x),
    "div": (lambda h, x, W: h / (1.5 + h.sin()), lambda h, x, W: h / (1.5 + jnp.sin(h))),
    "log_softmax": (lambda h, x, W: h.log_softmax(), lambda h, x, W: jax.nn.log_softmax(h)),
    "cumsum": (lambda h, x, W: h.cumsum(0), lambda h, x, W: jnp.cumsum(h, 0)),
    "flip_cat": (lambda h, x, W: Tensor.cat(h[1:], h[:1]).flip(0),
                 lambda h, x, W: jnp.flip(jnp.concatenate([h[1:], h[:1]]), 0)),
    "pow": (lambda h, x, W: (h * h + 1.0) ** 0.75, lambda h, x, W: (h * h + 1.0) ** 0.75),
}


def build(steps: list[str], lib: int) -> Any:
    def f(x: Any, W: Any) -> Any:
        h = x
        for s in steps:
            h = STEPS[s][lib](h, x, W)
        return h

    return f


def scalar(f: Any) -> Any:
    return lambda x, W: (f(x, W) * f(x, W)).sum() * 0.5 + f(x, W).sum()


compositions = st.lists(st.sampled_from(sorted(STEPS)), min_size=1, max_size=5)


def draw(n: int, seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal(n), rng.standard_normal((n, n)) / np.sqrt(n), rng.standard_normal(n), \
        rng.standard_normal((n, n))


def close(a: Any, b: Any) -> None:
    a = a.numpy() if isinstance(a, Tensor) else np.asarray(a)
    np.testing.assert_allclose(a, np.asarray(b), rtol=TOL, atol=TOL)


@FEW
@given(steps=compositions, n=st.integers(2, 4), seed=st.integers(0, 2**16))
def test_jvp_and_vjp_match_jax(steps: list[str], n: int, seed: int) -> None:
    x, W, u, U = draw(n, seed)
    f, g = build(steps, 0), build(steps, 1)
    out, t = tl.jvp(f, (Tensor(x), Tensor(W)), (Tensor(u), Tensor(U)))
    jout, jt = jax.jvp(g, (x, W), (u, U))
    close(out, jout)
    close(t, jt)
    _, f_vjp = tl.vjp(f, Tensor(x), Tensor(W))
    _, g_vjp = jax.vjp(g, x, W)
    for a, b in zip(f_vjp(Tensor(u)), g_vjp(u)):
        close(a, b)


@FEW
@given(steps=compositions, n=st.integers(2, 4), seed=st.integers(0, 2**16))
def test_jacobians_match_jax(steps: list[str], n: int, seed: int) -> None:
    x, W, _, _ = draw(n, seed)
    f, g = build(steps, 0), build(steps, 1)
    want = jax.jacrev(g, argnums=(0, 1))(x, W)
    for mode in ("rev", "fwd"):
        got = tl.jacobian(f, argnums=(0, 1), mode=mode)(Tensor(x), Tensor(W))
        close(got[0], want[0])
        close(got[1], want[1])


@FEW
@given(steps=compositions, n=st.integers(2, 3), seed=st.integers(0, 2**16))
def test_hessian_and_hvp_match_jax(steps: list[str], n: int, seed: int) -> None:
    x, W, u, U = draw(n, seed)
    f, g = scalar(build(steps, 0)), scalar(build(steps, 1))
    close(tl.hessian(f)(Tensor(x), Tensor(W)), jax.hessian(g)(x, W))
    want = jax.jvp(jax.grad(g, argnums=(0, 1)), (x, W), (u, U))[1]
    got = tl.hvp(f, (Tensor(x), Tensor(W)), (Tensor(u), Tensor(U)))
    close(got[0], want[0])
    close(got[1], want[1])


@FEW
@given(steps=compositions, n=st.integers(2, 4), seed=st.integers(0, 2**16))
def test_per_example_gradients_match_jax(steps: list[str], n: int, seed: int) -> None:
    _, W, _, _ = draw(n, seed)
    X = np.random.default_rng(seed + 1).standard_normal((5, n))
    f, g = scalar(build(steps, 0)), scalar(build(steps, 1))
    got = tl.vmap(tl.grad(f, argnums=1), in_axes=(0, None))(Tensor(X), Tensor(W))
    close(got, jax.vmap(jax.grad(g, argnums=1), in_axes=(0, None))(X, W))
