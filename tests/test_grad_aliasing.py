"""Every `.grad` owns its memory: no two leaves share a gradient buffer, and no `.grad` is the caller's array.

Add's VJP hands the same array to both inputs, a reshape's VJP gives a view, and `backward(gradient=arr)`
starts from the caller's array; the engine copies exactly these, once per leaf.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_lite as tl


def _owned(grads: list[np.ndarray], user: list[np.ndarray]) -> None:
    for (i, g), (j, h) in itertools.combinations(enumerate(grads), 2):
        assert not np.shares_memory(g, h), f"leaves {i} and {j} share a gradient buffer"
    for i, g in enumerate(grads):
        for u in user:
            assert not np.shares_memory(g, u), f"leaf {i}'s .grad is the caller's array"


def test_add_gives_each_input_its_own_gradient() -> None:
    a = tl.Tensor([1.0, 2.0], requires_grad=True)
    b = tl.Tensor([3.0, 4.0], requires_grad=True)
    s = a + b
    s.sum().backward()
    assert a.grad is not b.grad
    _owned([a.grad.data, b.grad.data, s.grad.data], [])
    a.grad.data[0] = 100.0  # writing into one gradient leaves the other alone
    assert b.grad.tolist() == [1.0, 1.0]


def test_backward_does_not_keep_the_callers_gradient_array() -> None:
    x = tl.Tensor([1.0, 2.0], requires_grad=True)
    y = x * 2.0
    arr = np.ones(2, y.dtype)  # of the tensor's dtype: no conversion that would copy anyway
    y.backward(gradient=arr)
    _owned([x.grad.data, y.grad.data], [arr])
    arr[:] = 7.0
    assert y.grad.tolist() == [1.0, 1.0]


def test_a_leafs_own_backward_copies_the_gradient() -> None:
    x = tl.Tensor([1.0, 2.0], requires_grad=True)
    arr = np.array([3.0, 4.0], x.dtype)
    x.backward(gradient=arr)
    _owned([x.grad.data], [arr])
    g = tl.Tensor([5.0, 6.0])
    x.grad = None
    x.backward(gradient=g)
    _owned([x.grad.data], [g.data])


def test_create_graph_leaves_get_distinct_tensors() -> None:
    a = tl.Tensor([1.0, 2.0], requires_grad=True)
    b = tl.Tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward(create_graph=True)
    assert a.grad is not b.grad
    _owned([a.grad.data, b.grad.data], [])
    assert a.grad.tolist() == b.grad.tolist() == [1.0, 1.0]


def test_tl_grad_results_are_distinct() -> None:
    ga, gb = tl.grad(lambda a, b: (a + b).sum(), argnums=(0, 1))(tl.Tensor([1.0, 2.0]), tl.Tensor([3.0, 4.0]))
    _owned([ga.data, gb.data], [])


# --- random graphs --------------------------------------------------------------------------------------
SHAPE = (2, 3)
UNARY = {
    "neg": lambda x: -x,
    "reshape": lambda x: x.reshape(3, 2).reshape(SHAPE),
    "transpose": lambda x: x.T.T,
    "scale": lambda x: x * 1.5,
    "exp": lambda x: x.exp(),
    "row_broadcast": lambda x: x[0:1].expand(SHAPE),
    "sum_broadcast": lambda x: x.sum(axis=0, keepdim=True) + x * 0.0,
}
BINARY = {"add": lambda x, y: x + y, "sub": lambda x, y: x - y, "mul": lambda x, y: x * y}


@st.composite
def graphs(draw: st.DrawFn) -> tuple[int, list[tuple[str, int, int]], bool, bool]:
    n_leaves = draw(st.integers(1, 4))
    steps = draw(st.lists(st.tuples(st.sampled_from(sorted(UNARY) + sorted(BINARY)), st.integers(0, 99),
                                    st.integers(0, 99)), min_size=1, max_size=8))
    return n_leaves, steps, draw(st.booleans()), draw(st.booleans())


@settings(max_examples=150, deadline=None)
@given(graphs())
def test_random_graphs_leave_no_shared_gradient(graph: tuple[int, list[tuple[str, int, int]], bool, bool]) -> None:
    with np.errstate(all="ignore"):  # nested exps overflow: the values do not matter here, only the buffers
        _check_no_shared_gradient(graph)


def _check_no_shared_gradient(graph: tuple[int, list[tuple[str, int, int]], bool, bool]) -> None:
    n_leaves, steps, with_gradient, twice = graph
    rng = np.random.default_rng(0)
    user = [rng.standard_normal(SHAPE) for _ in range(n_leaves)]
    leaves = [tl.Tensor(u, requires_grad=True) for u in user]
    pool: list[tl.Tensor] = list(leaves)
    for name, i, j in steps:
        x, y = pool[i % len(pool)], pool[j % len(pool)]
        pool.append(UNARY[name](x) if name in UNARY else BINARY[name](x, y))
    out = pool[-1]
    for leaf in leaves:  # every leaf takes part, and some only through an add (a handed-on gradient)
        out = out + leaf
    arr = rng.standard_normal(SHAPE).astype(out.dtype)
    for _ in range(2 if twice else 1):
        if with_gradient:
            out.backward(gradient=arr, retain_graph=True)
        else:
            out.sum().backward(retain_graph=True)
    _owned([leaf.grad.data for leaf in leaves] + [out.grad.data], [*user, arr])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gradients_are_writeable(dtype: type) -> None:
    x = tl.Tensor(np.ones((1, 3), dtype), requires_grad=True)
    x.expand(4, 3).reshape(12).sum().backward()
    assert x.grad.data.flags.writeable and x.grad.data.flags.owndata
