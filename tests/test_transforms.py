"""vjp, jvp, jacobian, hessian and hvp: pytrees, argnums, has_aux, errors, and composition with each other,
with grad and with the jit. Each primitive's rules are checked in test_transforms_jvp.py."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_lite as tl
from tinygrad_lite import Tensor, grad, hessian, hvp, jacobian, jvp, vjp

FEW = settings(max_examples=max(5, settings.default.max_examples // 4))


def randn(rng: np.random.Generator, *shape: int) -> Tensor:
    return Tensor(rng.standard_normal(shape))


def close(a: Any, b: Any, tol: float = 1e-10) -> None:
    a = a.numpy() if isinstance(a, Tensor) else np.asarray(a)
    b = b.numpy() if isinstance(b, Tensor) else np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def mlp(params: dict[str, Tensor], x: Tensor) -> Tensor:
    h = (x @ params["w1"] + params["b1"]).tanh()
    return (h @ params["w2"]).sigmoid()


def numeric_jacobian(f: Any, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    out = f(Tensor(x)).numpy()
    J = np.zeros(out.shape + x.shape)
    for i in range(x.size):
        e = np.zeros(x.size)
        e[i] = eps
        e = e.reshape(x.shape)
        J.reshape(out.size, x.size)[:, i] = ((f(Tensor(x + e)).numpy() - f(Tensor(x - e)).numpy()) / (2 * eps)).ravel()
    return J


# --- vjp ------------------------------------------------------------------------------------------------
def test_vjp_of_a_pytree_function_matches_grad() -> None:
    rng = np.random.default_rng(0)
    params = {"w1": randn(rng, 3, 4), "b1": randn(rng, 4), "w2": randn(rng, 4, 2)}
    x = randn(rng, 5, 3)
    out, f_vjp = vjp(mlp, params, x)
    assert isinstance(out, Tensor) and out.shape == (5, 2) and not out.requires_grad
    ones = Tensor(np.ones((5, 2)))
    g_params, g_x = f_vjp(ones)
    assert set(g_params) == {"w1", "b1", "w2"}
    for k in params:
        close(g_params[k], grad(lambda p, k=k: mlp({**params, k: p}, x).sum())(params[k]))
    close(g_x, grad(lambda x: mlp(params, x).sum())(x))
    again, _ = f_vjp(ones)  # vjp_fn can be called again
    close(again["w1"], g_params["w1"])


def test_vjp_with_tuple_outputs_and_aux() -> None:
    x = Tensor([1.0, 2.0, 3.0])
    (a, b), f_vjp, aux = vjp(lambda x: ((x * x, x.sum()), "note"), x, has_aux=True)
    assert aux == "note"
    (gx,) = f_vjp((Tensor([1.0, 0.0, 0.0]), Tensor(2.0)))
    close(gx, [2.0 + 2.0, 2.0, 2.0])


def test_vjp_of_an_unused_argument_is_zero() -> None:
    _, f_vjp = vjp(lambda x, y: x * 2, Tensor([1.0]), Tensor([5.0, 6.0]))
    gx, gy = f_vjp(Tensor([1.0]))
    close(gx, [2.0])
    close(gy, [0.0, 0.0])


def test_vjp_errors_name_the_problem() -> None:
    _, f_vjp = vjp(lambda x: x * 2, Tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"shape \(3,\), the output has \(2,\)"):
        f_vjp(Tensor([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="structure"):
        f_vjp((Tensor([1.0, 2.0]),))
    with pytest.raises(TypeError, match="must return a Tensor"):
        vjp(lambda x: 3.0, Tensor([1.0]))
    with pytest.raises(TypeError, match="floating-point"):
        vjp(lambda x: x, Tensor([1, 2]))
    with pytest.raises(TypeError, match="pair"):
        vjp(lambda x: x, Tensor([1.0]), has_aux=True)


# --- jvp ------------------------------------------------------------------------------------------------
def test_jvp_of_a_pytree_function_matches_the_jacobian() -> None:
    rng = np.random.default_rng(1)
    params = {"w1": randn(rng, 3, 4), "b1": randn(rng, 4), "w2": randn(rng, 4, 2)}
    x = randn(rng, 5, 3)
    tp = {k: randn(rng, *v.shape) for k, v in params.items()}
    tx = randn(rng, 5, 3)
    out, t = jvp(mlp, (params, x), (tp, tx))
    close(out, mlp(params, x))
    assert not t.requires_grad and t.shape == (5, 2)
    expected = sum(np.tensordot(jacobian(lambda p, k=k: mlp({**params, k: p}, x))(params[k]).numpy(),
                                tp[k].numpy(), axes=params[k].ndim) for k in params)
    expected = expected + np.tensordot(jacobian(lambda x: mlp(params, x))(x).numpy(), tx.numpy(), axes=2)
    close(t, expected)


def test_jvp_works_under_no_grad_and_leaves_no_graph() -> None:
    with tl.no_grad():
        out, t = jvp(lambda x: x.exp(), (Tensor(np.array([0.0, 1.0])),), (Tensor(np.ones(2)),))
    close(t, np.exp([0.0, 1.0]))
    assert out._ctx is None and t._ctx is None


def test_jvp_of_an_output_independent_of_the_input_is_zero_and_aux_passes_through() -> None:
    c = Tensor([1.0, 2.0])
    (a, b), (ta, tb), aux = jvp(lambda x: ((x * 3, c * 2), {"k": 1}), (Tensor([1.0]),), (Tensor([2.0]),),
                                has_aux=True)
    close(ta, [6.0])
    close(tb, [0.0, 0.0])
    assert aux == {"k": 1}


def test_jvp_errors_name_the_problem() -> None:
    with pytest.raises(TypeError, match="one entry per primal"):
        jvp(lambda x: x, (Tensor([1.0]),), Tensor([1.0]))
    with pytest.raises(ValueError, match=r"shape \(2,\), the primal 0 has \(1,\)"):
        jvp(lambda x: x, (Tensor([1.0]),), (Tensor([1.0, 2.0]),))
    with pytest.raises(TypeError, match="primals must be a tuple"):
        jvp(lambda x: x, Tensor([1.0]), (Tensor([1.0]),))  # type: ignore[arg-type]


def test_jvp_through_a_closed_over_parameter_leaves_its_grad_alone() -> None:
    w = Tensor([2.0, 3.0], requires_grad=True)
    _, t = jvp(lambda x: (x * w).sum(), (Tensor([1.0, 1.0]),), (Tensor([1.0, 0.0]),))
    close(t, 2.0)
    assert w.grad is None


# --- jacobian, hessian, hvp -------------------------------------------------------------------------------
@FEW
@given(n=st.integers(1, 4), m=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_jacobian_rev_and_fwd_agree_with_finite_differences(n: int, m: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    A = randn(rng, m, n)
    f = lambda x: (A @ x.sin()).tanh() * x.sum()  # noqa: E731
    x = rng.standard_normal(n)
    rev, fwd = jacobian(f)(Tensor(x)), jacobian(f, mode="fwd")(Tensor(x))
    assert rev.shape == fwd.shape == (m, n)
    close(rev, fwd, 1e-12)
    np.testing.assert_allclose(rev.numpy(), numeric_jacobian(f, x), atol=1e-7)


def test_jacobian_argnums_and_pytree_outputs() -> None:
    rng = np.random.default_rng(2)
    W, x = randn(rng, 2, 3), randn(rng, 3)
    f = lambda W, x: {"y": W @ x, "s": (W * W).sum()}  # noqa: E731
    for mode in ("rev", "fwd"):
        J = jacobian(f, argnums=(0, 1), mode=mode)(W, x)
        assert J["y"][0].shape == (2, 2, 3) and J["y"][1].shape == (2, 3) and J["s"][0].shape == (2, 3)
        close(J["y"][1], W)
        close(J["s"][0], 2 * W.numpy())
        close(J["s"][1], np.zeros(3))
        expected = np.zeros((2, 2, 3))
        expected[0, 0], expected[1, 1] = x.numpy(), x.numpy()
        close(J["y"][0], expected)
    with pytest.raises(ValueError, match="mode"):
        jacobian(f, mode="both")
    with pytest.raises(ValueError, match="out of range"):
        jacobian(f, argnums=2)(W, x)


def test_hessian_of_a_quadratic_form_and_hvp() -> None:
    rng = np.random.default_rng(3)
    A = randn(rng, 4, 4)
    f = lambda x: (x * (A @ x)).sum()  # noqa: E731
    x, v = randn(rng, 4), randn(rng, 4)
    H = hessian(f)(x)
    close(H, A.numpy() + A.numpy().T, 1e-12)
    close(hvp(f, (x,), (v,)), H.numpy() @ v.numpy(), 1e-12)


def test_hessian_and_hvp_with_several_arguments() -> None:
    rng = np.random.default_rng(4)
    W, x = randn(rng, 3, 2), randn(rng, 2)
    f = lambda W, x: ((W @ x).tanh() ** 2).sum()  # noqa: E731
    H = hessian(f, argnums=(0, 1))(W, x)  # H[i][j]: d²f / d arg_i d arg_j
    assert H[0][0].shape == (3, 2, 3, 2) and H[0][1].shape == (3, 2, 2) and H[1][1].shape == (2, 2)
    close(H[0][1], np.transpose(H[1][0].numpy(), (1, 2, 0)))
    vW, vx = randn(rng, 3, 2), randn(rng, 2)
    hW, hx = hvp(f, (W, x), (vW, vx))
    close(hx, np.tensordot(H[1][0].numpy(), vW.numpy(), 2) + H[1][1].numpy() @ vx.numpy())
    close(hW, np.tensordot(H[0][0].numpy(), vW.numpy(), 2) + H[0][1].numpy() @ vx.numpy())


def test_hvp_needs_a_scalar_function() -> None:
    with pytest.raises(ValueError, match="scalar"):
        hvp(lambda x: x * 2, (Tensor([1.0, 2.0]),), (Tensor([1.0, 1.0]),))


# --- composition ----------------------------------------------------------------------------------------
def test_jacobian_of_jacobian_is_the_hessian_both_ways() -> None:
    rng = np.random.default_rng(5)
    x = randn(rng, 3)
    f = lambda x: (x.sin() * x.exp()).sum()  # noqa: E731
    d2 = np.diag(2 * np.cos(x.numpy()) * np.exp(x.numpy()))  # (sin·exp)'' = 2 cos·exp
    for outer in ("rev", "fwd"):
        for inner in ("rev", "fwd"):
            close(jacobian(jacobian(f, mode=inner), mode=outer)(x), d2, 1e-12)


def test_jvp_of_jvp_and_grad_of_jvp_give_second_derivatives() -> None:
    f = lambda x: x.sin()  # noqa: E731
    x, u = Tensor([0.3, 1.1]), Tensor([1.0, 2.0])
    inner = lambda x: jvp(f, (x,), (u,))[1]  # noqa: E731  # cos(x)·u
    _, second = jvp(inner, (x,), (u,))
    close(second, -np.sin(x.numpy()) * u.numpy() ** 2)
    g = grad(lambda x: inner(x).sum())(x)
    close(g, -np.sin(x.numpy()) * u.numpy())


def test_transforms_compose_with_the_jit() -> None:
    rng = np.random.default_rng(6)
    W = Tensor(rng.standard_normal((3, 2)), requires_grad=True)
    loss = lambda W, x: ((x @ W).tanh() ** 2).sum()  # noqa: E731

    runs = []

    @tl.jit
    def step(x: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        runs.append(1)  # only while capturing
        _, t = jvp(lambda W: loss(W, x), (W,), (v,))
        h = hvp(lambda W: loss(W, x), (W,), (v,))
        return t, h

    for _ in range(4):
        x, v = randn(rng, 5, 3), randn(rng, 3, 2)
        t, h = step(x, v)
        eager = lambda W, x=x: loss(W, x)  # noqa: E731
        close(t, jvp(eager, (W,), (v,))[1])
        close(h, hvp(eager, (W,), (v,)))
    assert len(runs) == 2, f"the step ran eagerly {len(runs)} times in 4 calls: it did not replay"
