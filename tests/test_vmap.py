"""vmap: every primitive's batching rule against a Python loop over the batch (the op table of
tests/op_specs.py, with random in_axes), per-example gradients, the loop fallbacks, errors, and composition
with grad, jvp, the jit and itself."""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from op_specs import NONDIFF, SPECS, Spec

import tinygrad_lite as tl
from tinygrad_lite import Function, Tensor, VmapFallbackWarning, grad, jvp, vjp, vmap
from tinygrad_lite.function import REGISTRY

N = settings.default.max_examples
FEW = settings(max_examples=max(4, N // 8))
B = 3


def test_every_registered_primitive_has_a_batching_rule() -> None:
    missing = sorted(n for n, c in REGISTRY.items() if getattr(c, "batch", None) is None)
    assert not missing, f"primitives without a batching rule (vmap would loop over them): {missing}"


def close(a: Any, b: Any, tol: float = 1e-12) -> None:
    a = a.numpy() if isinstance(a, Tensor) else np.asarray(a)
    b = b.numpy() if isinstance(b, Tensor) else np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, a.dtype, b.shape, b.dtype)
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def batch_of(data: st.DataObject, arrays: tuple[np.ndarray, ...], rng: np.random.Generator
             ) -> tuple[list[Tensor], list[int | None]]:
    """Each input either shared (in_axes None) or stacked from B shuffles of itself (same values, so the
    case's domain and margins hold) along a random axis; at least one input is batched."""
    n = len(arrays)
    batched = data.draw(st.lists(st.booleans(), min_size=n, max_size=n).filter(any), label="batched")
    args, axes = [], []
    for a, b in zip(arrays, batched):
        if not b:
            args.append(Tensor(a))
            axes.append(None)
            continue
        ax = data.draw(st.integers(0, a.ndim), label="axis")
        stack = np.stack([a] + [rng.permutation(a.ravel()).reshape(a.shape) for _ in range(B - 1)], axis=ax)
        args.append(Tensor(stack))
        axes.append(ax)
    return args, axes


def loop(f: Any, args: list[Tensor], axes: list[int | None]) -> Tensor:
    outs = []
    for i in range(B):
        example = [x if ax is None else Tensor(np.take(x.numpy(), i, axis=ax)) for x, ax in zip(args, axes)]
        outs.append(f(*example).numpy())
    return Tensor(np.stack(outs))


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
@FEW
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_vmap_matches_a_loop(spec: Spec, data: st.DataObject, seed: int) -> None:
    arrays, params = data.draw(spec.cases, label="case")
    args, axes = batch_of(data, arrays, np.random.default_rng(seed))
    f = lambda *ts: spec.fn(*ts, **params)  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("error", VmapFallbackWarning)  # every op here must batch, not loop
        got = vmap(f, in_axes=tuple(axes))(*args)
    close(got, loop(f, args, axes))


# Specs whose per-example gradients loop over the examples: their backward on tensors runs a data check
# that every example must pass (vmap records one example, so it cannot vouch for the others).
LOOPS_FOR_GRAD = {"prod": "Prod's differentiable backward refuses zero factors (data_checks.check)"}


@pytest.mark.parametrize("spec", [s for s in SPECS if s.order2], ids=[s.name for s in SPECS if s.order2])
@settings(max_examples=max(2, N // 16))
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_vmap_of_grad_gives_per_example_gradients(spec: Spec, data: st.DataObject, seed: int) -> None:
    """The backward pass of each op, batched: per-example gradients with respect to every input."""
    arrays, params = data.draw(spec.cases, label="case")
    args, axes = batch_of(data, arrays, np.random.default_rng(seed))
    nums = tuple(range(len(args)))
    g = grad(lambda *ts: (spec.fn(*ts, **params) ** 2).sum(), argnums=nums)
    with warnings.catch_warnings():
        # every op here must batch, not loop; those in LOOPS_FOR_GRAD loop (exactly) and say why
        warnings.simplefilter("ignore" if spec.name in LOOPS_FOR_GRAD else "error", VmapFallbackWarning)
        got = vmap(g, in_axes=tuple(axes))(*args)
    for k in nums:
        close(got[k], loop(lambda *ts, k=k: g(*ts)[k], args, axes), 1e-10)


@pytest.mark.parametrize("spec", NONDIFF, ids=[s.name for s in NONDIFF])
@settings(max_examples=5)
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_vmap_of_ops_without_gradient(spec: Any, data: st.DataObject, seed: int) -> None:
    arrays, params = data.draw(spec.cases, label="case")
    args, axes = batch_of(data, arrays, np.random.default_rng(seed))
    f = lambda *ts: spec.fn(*ts, **params)  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("error", VmapFallbackWarning)
        got = vmap(f, in_axes=tuple(axes))(*args)
    close(got, loop(f, args, axes))


# --- per-example gradients -----------------------------------------------------------------------------------
def mlp_loss(params: dict[str, Tensor], x: Tensor, onehot: Tensor) -> Tensor:
    h = (x @ params["w1"] + params["b1"]).relu()
    return -((h @ params["w2"] + params["b2"]).log_softmax() * onehot).sum()


def mlp_problem(seed: int = 0, n: int = 6) -> tuple[dict[str, Tensor], Tensor, Tensor]:
    rng = np.random.default_rng(seed)
    params = {"w1": Tensor(rng.standard_normal((5, 4))), "b1": Tensor(rng.standard_normal(4)),
              "w2": Tensor(rng.standard_normal((4, 3))), "b2": Tensor(rng.standard_normal(3))}
    return params, Tensor(rng.standard_normal((n, 5))), Tensor(np.eye(3)[rng.integers(0, 3, n)])


def test_per_example_gradients_of_an_mlp() -> None:
    params, X, Y = mlp_problem()
    with warnings.catch_warnings():
        warnings.simplefilter("error", VmapFallbackWarning)
        per = vmap(grad(mlp_loss), in_axes=(None, 0, 0))(params, X, Y)
    for i in range(6):
        one = grad(mlp_loss)(params, X[i], Y[i])
        for k in params:
            close(per[k][i], one[k], 1e-12)
    # Their mean is the batch gradient.
    batch = grad(lambda p: sum(mlp_loss(p, X[i], Y[i]) for i in range(6)) / 6)(params)
    for k in params:
        close(per[k].mean(0), batch[k], 1e-12)


def test_per_example_gradients_with_integer_labels_and_cross_entropy() -> None:
    """The labels' range check ran on the recorded example only: vmap must loop (and say so) rather than
    skip it for the others, even when the first and last examples (the two recorded) share a label."""
    params, X, _ = mlp_problem()
    labels = Tensor(np.array([1, 0, 2, 2, 0, 1]))

    def loss(p: dict[str, Tensor], x: Tensor, y: Tensor) -> Tensor:
        return (x @ p["w1"] + p["b1"]).relu().linear(p["w2"], p["b2"]).sparse_categorical_crossentropy(y)

    with pytest.warns(VmapFallbackWarning, match=r"a data check \(_labels_in_range\)"):
        per = vmap(grad(loss), in_axes=(None, 0, 0))(params, X, labels)
    for i in range(6):
        close(per["w1"][i], grad(loss)(params, X[i], labels[i])["w1"], 1e-12)
    # Forward mode too: the label range check must hold for every example, so vmap loops and says so.
    u = Tensor(np.ones((5, 4)))
    with pytest.warns(VmapFallbackWarning, match=r"a data check \(_labels_in_range\)"):
        t = vmap(lambda x, y: jvp(lambda w: loss({**params, "w1": w}, x, y), (params["w1"],), (u,))[1],
                 in_axes=(0, 0))(X, labels)
    for i in range(6):
        close(t[i], jvp(lambda w, i=i: loss({**params, "w1": w}, X[i], labels[i]), (params["w1"],), (u,))[1])


def test_a_zero_factor_in_a_middle_example_of_a_product_loops() -> None:
    xs = Tensor(np.array([[1.0, 2.0], [0.0, 3.0], [2.0, 2.0]]))
    with pytest.warns(VmapFallbackWarning, match=r"a data check \(_no_zero_factor\)"):
        g = vmap(grad(lambda x: x.prod()))(xs)
    close(g, np.array([[2.0, 1.0], [3.0, 0.0], [2.0, 2.0]]))


def test_a_jitted_per_example_gradient_step_replays() -> None:
    params, _, _ = mlp_problem()
    runs = []

    def per_example_w1(X: Tensor, Y: Tensor) -> Tensor:
        runs.append(1)  # the body runs while capturing only; a replay runs the recorded kernels
        return vmap(grad(mlp_loss), in_axes=(None, 0, 0))(params, X, Y)["w1"]

    step = tl.jit(per_example_w1)
    for seed in range(5):
        _, X, Y = mlp_problem(seed + 10)
        got = step(X, Y)
        close(got, vmap(grad(mlp_loss), in_axes=(None, 0, 0))(params, X, Y)["w1"])
    assert len(runs) == 2, f"the step ran eagerly {len(runs)} times in 5 calls: it did not replay"


# --- fallbacks: slow but exact, and said ----------------------------------------------------------------------
def test_an_op_without_a_batching_rule_is_looped_with_a_warning() -> None:
    class Cube(Function):
        def forward(self, x: np.ndarray) -> np.ndarray:
            return x ** 3

        def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any]:
            return (g * 3 * x * x,)

    xs = Tensor(np.arange(6.0).reshape(3, 2))
    with pytest.warns(VmapFallbackWarning, match="no batching rule for Cube"):
        got = vmap(lambda x: Cube.apply(x).sum())(xs)
    close(got, (xs.numpy() ** 3).sum(1))


@pytest.mark.parametrize("body", ["item", "branch"])
def test_reading_batched_values_falls_back_to_a_loop(body: str) -> None:
    def f(x: Tensor) -> Tensor:
        if body == "item":
            return x * x.sum().item()
        return x * 2 if x.sum() > 0 else x * 3  # Python control flow on a batched value

    xs = Tensor(np.array([[1.0, 2.0], [-3.0, 1.0], [0.5, 0.5]]))
    with pytest.warns(VmapFallbackWarning, match="once per example"):
        got = vmap(f)(xs)
    close(got, loop(f, [xs], [0]))


def test_values_made_outside_the_ops_fall_back_to_a_loop() -> None:
    f = lambda x: x + Tensor(x.data * 2)  # noqa: E731  # .data bypasses the recording
    xs = Tensor(np.array([[1.0, 2.0], [3.0, 4.0]]))
    with pytest.warns(VmapFallbackWarning, match="differs between examples"):
        got = vmap(f)(xs)
    close(got, xs.numpy() * 3)


# --- axes, pytrees, errors ------------------------------------------------------------------------------------
def test_in_axes_out_axes_and_pytrees() -> None:
    rng = np.random.default_rng(1)
    W, xs = Tensor(rng.standard_normal((3, 4))), Tensor(rng.standard_normal((4, 5)))  # batch on xs's axis 1
    out = vmap(lambda p, x: {"y": p["W"] @ x, "n": (x * x).sum(), "c": p["W"].sum()},
               in_axes=({"W": None}, 1), out_axes=0)({"W": W}, xs)
    close(out["y"], (W.numpy() @ xs.numpy()).T)
    close(out["n"], (xs.numpy() ** 2).sum(0))
    close(out["c"], np.full(5, W.numpy().sum()))  # an unbatched output is broadcast
    a, b = vmap(lambda x: (x * 2, x.sum()), out_axes=(1, 0))(Tensor(np.ones((2, 3))))
    assert a.shape == (3, 2) and b.shape == (2,)


def test_vmap_errors_name_the_problem() -> None:
    x, y = Tensor(np.ones((3, 2))), Tensor(np.ones((4, 2)))
    with pytest.raises(ValueError, match="disagree on the batch size"):
        vmap(lambda a, b: a + b)(x, y)
    with pytest.raises(ValueError, match="no argument is batched"):
        vmap(lambda a: a, in_axes=None)(x)
    with pytest.raises(ValueError, match="one entry per positional argument"):
        vmap(lambda a, b: a + b, in_axes=(0,))(x, x)
    with pytest.raises(ValueError, match="out of range"):
        vmap(lambda a: a, in_axes=2)(x)
    with pytest.raises(ValueError, match="out_axes is None"):
        vmap(lambda a: a * 2, out_axes=None)(x)
    with pytest.raises(TypeError, match="must return Tensors"):
        vmap(lambda a: 3.0)(x)
    with pytest.raises(ValueError, match="batch size 0"):
        vmap(lambda a: a * 2)(Tensor(np.ones((0, 2))))


# --- composition ----------------------------------------------------------------------------------------------
def test_vmap_of_vmap_grad_of_vmap_and_vmap_of_jvp() -> None:
    rng = np.random.default_rng(2)
    xs = Tensor(rng.standard_normal((2, 3, 4)))
    f = lambda x: (x.sin() * x).sum()  # noqa: E731
    close(vmap(vmap(f))(xs), (np.sin(xs.numpy()) * xs.numpy()).sum(-1))
    w = Tensor(rng.standard_normal(4))
    g = grad(lambda w: vmap(lambda x: (x * w).tanh().sum())(xs[0]).sum())(w)
    close(g, grad(lambda w: sum((xs[0][i] * w).tanh().sum() for i in range(3)))(w), 1e-12)
    us = Tensor(rng.standard_normal((3, 4)))
    tangents = vmap(lambda x, u: jvp(f, (x,), (u,))[1])(xs[0], us)
    close(tangents, loop(lambda x, u: jvp(f, (x,), (u,))[1], [xs[0], us], [0, 0]))


def test_jacobian_rows_by_vmap_of_vjp() -> None:
    rng = np.random.default_rng(3)
    x = Tensor(rng.standard_normal(4))
    f = lambda x: x.sin() * x.sum()  # noqa: E731
    _, f_vjp = vjp(f, x)
    rows = vmap(lambda v: f_vjp(v)[0])(Tensor(np.eye(4)))
    close(rows, tl.jacobian(f)(x), 1e-12)


def test_per_example_max_pool_gradients_follow_each_example_argmax() -> None:
    """The two recorded examples (first and last) share their argmax; the middle one's differs. A rule that
    baked the recorded argmax into the batched program would give the middle row the others' gradient."""
    f = grad(lambda x: (x.reshape(1, 1, 1, 4).max_pool2d((1, 2)) ** 2).sum())
    X = Tensor(np.array([[1.0, 0.0, 2.0, 0.0], [0.0, 1.0, 0.0, 2.0], [1.0, 0.0, 2.0, 0.0]]))
    got = vmap(f)(X).numpy()
    assert np.array_equal(got, np.stack([f(X[i]).numpy() for i in range(3)]))
    assert np.array_equal(got[1], [0.0, 2.0, 0.0, 4.0])
