"""The replays of the benchmarked training steps run every op's own traced rule, none as a slow call of
its whole forward or vjp: a rule rewritten into a form the jit cannot trace fails here instead of
quietly slowing the replay down."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from engines import lite_engine  # noqa: E402
from workloads import w1_article, w2_mlp, w7_cnn  # noqa: E402

import tinygrad_lite as tl  # noqa: E402
from tinygrad_lite.function import Function, single_kernel  # noqa: E402
from tinygrad_lite.ops.unary import Tanh  # noqa: E402

STEPS = {"W1 article": (w1_article, {"name": "W1"}), "W2 MLP": (w2_mlp, {"name": "W2", "batch": 128}),
         "W7 CNN": (w7_cnn, {"name": "W7"})}


@pytest.mark.parametrize("name", sorted(STEPS))
def test_benchmarked_steps_replay_without_generic_fallbacks(name: str) -> None:
    module, variant = STEPS[name]
    variant = next(v for v in module.variants(quick=name == "W7 CNN") if v["name"] == variant["name"])
    runner = lite_engine.build(module.problem(variant), "jit")
    for _ in range(3):  # capture, capture again and compare, replay
        runner.step()
    program = runner._step.program()
    assert program is not None
    assert program.fallbacks == []
    assert program.generic_calls == [], program.listing


def _tanh_step() -> tuple[tl.jit.JittedFunction, tl.Tensor]:
    w = tl.Tensor([[0.3, -0.2]], requires_grad=True)

    @tl.jit
    def step(x: tl.Tensor) -> tl.Tensor:
        w.grad = None
        loss = (x @ w).tanh().sum()
        loss.backward()
        return loss

    return step, tl.Tensor([[1.0], [2.0]])


def test_an_untraceable_rule_is_named_not_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    def vjp(self: Function, g: np.ndarray, out: np.ndarray, x: np.ndarray) -> tuple[np.ndarray]:
        return (g * (1 - float(out.sum()) * 0 - out * out),)  # reads a value into Python: cannot be traced

    monkeypatch.setattr(Tanh, "vjp", vjp)
    step, x = _tanh_step()
    step(x), step(x)
    program = step.program(x)
    assert [f.split(":")[0] for f in program.fallbacks] == ["Tanh.vjp"]
    assert "reads array values into Python" in program.fallbacks[0]


def test_an_equivalent_rewrite_keeps_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tanh.vjp as g - g·out·out: the same rule in another form is traced just the same."""
    monkeypatch.setattr(Tanh, "vjp", lambda self, g, out, x: (g - g * out * out,))
    step, x = _tanh_step()
    results = [step(x).item() for _ in range(3)]
    assert step.program(x).fallbacks == []
    assert results[0] == results[2]


class _Spread(Function):
    """Writes its input into a view of a fresh array: in place, into memory another value (the view's base) holds."""

    __slots__ = ()

    def forward(self, x: np.ndarray) -> np.ndarray:
        image = np.zeros_like(x, shape=(x.shape[0] + 1,))
        view = image[1:]
        view += x
        return image

    def vjp(self, g: np.ndarray, out: np.ndarray, x: np.ndarray) -> tuple[np.ndarray]:
        return (g[1:],)


class _Filled(Function):
    """Fills a plain array from its input (np.full's way): the plain array must not become a frozen constant."""

    __slots__ = ()

    def forward(self, x: np.ndarray) -> np.ndarray:
        return np.full((3,), x.reshape(()), dtype=x.dtype) * 2.0

    def vjp(self, g: np.ndarray, out: np.ndarray, x: np.ndarray) -> tuple[np.ndarray]:
        return ((g * 2.0).sum().reshape(x.shape),)


@pytest.mark.parametrize("op", [_Spread, _Filled], ids=["in place into a view", "np.full of a traced value"])
def test_writes_the_tracer_cannot_follow_replay_the_method_exactly(op: type[Function]) -> None:
    f = tl.jit(lambda x: op.apply(x) * 1.0)
    shape = (3,) if op is _Spread else (1,)
    for i in range(5):
        x = tl.Tensor(np.arange(shape[0], dtype=np.float64) + 10.0 * i)
        assert np.array_equal(f(x).numpy(), (op.apply(x) * 1.0).numpy()), i
    program = f.program(tl.Tensor(np.zeros(shape)))
    assert [r.split(":")[0] for r in program.fallbacks] == [f"{op.__name__}.forward"]


@single_kernel
def _shifted_sum(x: np.ndarray) -> np.ndarray:
    """x[:-1] + x[1:] through strided adds into a buffer it made: a trace kernel by kernel cannot follow it."""
    image = np.zeros(x.shape[0] + 1, x.dtype)
    image[:-1] += x
    image[1:] += x
    return image


class _Shifted(Function):
    __slots__ = ()

    def forward(self, x: np.ndarray) -> np.ndarray:
        return _shifted_sum(x)  # type: ignore[no-any-return]

    def vjp(self, g: np.ndarray, out: np.ndarray, x: np.ndarray) -> tuple[np.ndarray]:
        return (g[:-1] + g[1:],)


def test_a_single_kernel_function_is_traced_as_one_call_not_a_fallback() -> None:
    f = tl.jit(lambda x: _Shifted.apply(x) * 2.0)
    for i in range(5):  # changing data: the replay calls the function again, it did not freeze a result
        x = tl.Tensor(np.arange(4, dtype=np.float64) * (i + 1))
        assert np.array_equal(f(x).numpy(), (_Shifted.apply(x) * 2.0).numpy()), i
    program = f.program(tl.Tensor(np.zeros(4)))
    assert program.fallbacks == [] and program.generic_calls == []
    assert "_shifted_sum" in program.listing


class _LaidOut(Function):
    """Doubles x: eagerly into a Fortran-ordered array, traced into a C-ordered one (the same values)."""

    __slots__ = ()

    def forward(self, x: np.ndarray) -> np.ndarray:
        if type(x) is np.ndarray:
            return np.asfortranarray(x * 2.0)
        return x * 2.0  # type: ignore[no-any-return]

    def vjp(self, g: np.ndarray, out: np.ndarray, x: np.ndarray) -> tuple[np.ndarray]:
        return (g * 2.0,)


class _Flat(Function):
    """x.reshape(-1): a view of a C-ordered x, a copy of a Fortran-ordered one; reads strides, so it is replayed
    as one call of its method, recorded on the eager (Fortran-ordered) array."""

    __slots__ = ()

    def forward(self, x: np.ndarray) -> np.ndarray:
        assert x.strides
        return x.reshape(-1)

    def vjp(self, g: np.ndarray, out: np.ndarray, x: np.ndarray) -> tuple[np.ndarray]:
        return (g.reshape(x.shape),)


def test_a_traced_result_laid_out_unlike_the_eager_one_is_refused_not_replayed_wrong() -> None:
    """Same values in another memory layout made the replay wrong (by 132 on the third call) before: the one-call
    replay of _Flat, recorded as a copy on the eager array, made a view of the traced array, whose buffer the
    replay then reused. The traced _LaidOut is now refused, and every replay equals eager mode."""
    def step(x: tl.Tensor) -> tl.Tensor:
        a = _LaidOut.apply(x)
        flat = _Flat.apply(a)
        later = ((a * 3.0).reshape(-1) + 1.0) * 5.0  # a's buffer is free after this in the replay
        return flat + later

    f = tl.jit(step)
    for i in range(6):
        x = tl.Tensor(np.arange(12.0).reshape(3, 4) * (i + 1))
        assert np.array_equal(f(x).numpy(), step(x).numpy()), i
    reasons = f.program(tl.Tensor(np.zeros((3, 4)))).fallbacks
    assert any(r.startswith("_LaidOut.forward") and "laid out in memory differently" in r for r in reasons), reasons


class _TracedReversed(Function):
    """Doubles x: eagerly into a C-ordered array, traced into one laid out in reverse axis order (the other way
    round from _LaidOut)."""

    __slots__ = ()

    def forward(self, x: np.ndarray) -> np.ndarray:
        if type(x) is np.ndarray:
            return x * 2.0
        return (x.T * 2.0).T  # type: ignore[no-any-return]

    def vjp(self, g: np.ndarray, out: np.ndarray, x: np.ndarray) -> tuple[np.ndarray]:
        return (g * 2.0,)


@settings(max_examples=25, deadline=None)
@given(shape=st.lists(st.integers(2, 4), min_size=2, max_size=3).map(tuple), seed=st.integers(0, 2**32 - 1),
       eager_reversed=st.booleans(), backward=st.booleans())
def test_replays_equal_eager_whatever_layout_a_rule_gives(shape: tuple[int, ...], seed: int, eager_reversed: bool,
                                                          backward: bool) -> None:
    """Property: a step whose rule lays its result out one way eagerly and another way traced, followed by a method
    replayed as one call (it reads strides) and by ops after which the result's buffer is free, replays as eager
    mode does (value, and gradient when there is a backward), call after call with new data. Without the layout
    check it fails on every shape with the eager result reversed and no backward."""
    first = _LaidOut if eager_reversed else _TracedReversed

    def step(x: tl.Tensor) -> list[tl.Tensor]:
        a = first.apply(x)
        out = _Flat.apply(a) + ((a * 3.0).reshape(-1) + 1.0) * 5.0
        if not backward:
            return [out]
        out.sum().backward()
        return [out, x.grad]

    f = tl.jit(step)
    rng = np.random.default_rng(seed)
    for i in range(4):
        data = rng.standard_normal(shape)
        got = f(tl.Tensor(data, requires_grad=backward))
        want = step(tl.Tensor(data, requires_grad=backward))
        assert all(np.array_equal(g.numpy(), w.numpy()) for g, w in zip(got, want)), i
