"""In-place safety: optimizer steps, `assign` and `load_state_dict` bump a tensor's `_version`, and a backward
through a graph recorded before such a write raises (naming the op and the tensor) instead of silently
differentiating at the new values."""
from __future__ import annotations

import numpy as np
import pytest

import tinygrad_lite as tl
from tinygrad_lite import nn, optim


def _setup() -> tuple[tl.Tensor, tl.Tensor]:
    w = tl.Tensor([1.0, -2.0, 3.0], requires_grad=True)
    x = tl.Tensor([0.5, 1.5, -1.0])
    return w, x


@pytest.mark.parametrize("make", [lambda p: optim.SGD(p, lr=0.1), lambda p: optim.SGD(p, lr=0.1, momentum=0.9),
                                  lambda p: optim.Adam(p, lr=0.1), lambda p: optim.AdamW(p, lr=0.1)])
def test_backward_after_an_optimizer_step_raises(make: object) -> None:
    w, x = _setup()
    opt = make([w])  # type: ignore[operator]
    loss = (w * x).sum()
    loss.backward(retain_graph=True)
    assert w._version == 0
    opt.step()
    assert w._version == 1
    with pytest.raises(RuntimeError, match=r"Mul needs input 0 \(\(3,\) float32, a leaf tensor\).*modified in place"):
        loss.backward()


def test_a_fresh_forward_after_the_step_is_fine() -> None:
    w, x = _setup()
    opt = optim.SGD([w], lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        (w * x).sum().backward()
        opt.step()
    assert w._version == 3
    np.testing.assert_allclose(w.data, np.array([1.0, -2.0, 3.0], np.float32) - 0.3 * x.data, rtol=1e-6)


def test_assign_bumps_the_version_and_is_caught() -> None:
    w, x = _setup()
    y = (w * w).sum()
    w.assign([0.0, 0.0, 0.0])
    assert w._version == 1 and w.tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(RuntimeError, match="backward through Mul"):
        y.backward()


def test_writing_a_non_leaf_result_is_caught() -> None:
    w, _ = _setup()
    e = w.exp()  # Exp's VJP reads its result
    loss = e.sum()
    e.assign(np.zeros(3))
    with pytest.raises(RuntimeError, match=r"needs input 0 \(\(3,\) float32, the result of Exp\)"):
        loss.backward()


def test_module_load_state_dict_bumps_the_parameters() -> None:
    model = nn.Linear(3, 1)
    loss = model(tl.Tensor(np.ones((2, 3), np.float32))).sum()
    model.load_state_dict({k: v.numpy() * 2 for k, v in model.state_dict().items()})
    assert model.weight._version == 1
    with pytest.raises(RuntimeError, match="modified in place"):
        loss.backward()


def test_writes_to_unrelated_tensors_do_not_disturb_a_backward() -> None:
    w, x = _setup()
    other = tl.Tensor([1.0], requires_grad=True)
    loss = (w * x).sum()
    other.assign([2.0])
    loss.backward()
    np.testing.assert_array_equal(w.grad.data, x.data)


def test_assign_checks_shape_and_dtype() -> None:
    w, _ = _setup()
    with pytest.raises(ValueError, match=r"shape \(2,\) cannot be written into a tensor of shape \(3,\)"):
        w.assign([1.0, 2.0])
    with pytest.raises(TypeError, match="cannot write float64 values into a int32 tensor"):
        tl.Tensor([1, 2]).assign(np.array([0.5, 1.5]))
    w.assign(tl.Tensor(5.0))  # a broadcast value fills the tensor
    assert w.tolist() == [5.0, 5.0, 5.0]


def test_writes_through_data_bump_the_version() -> None:
    w, x = _setup()
    loss = (w * x).sum()
    w.data -= 0.5 * x.data  # the classic hand-written SGD step: the setter sees the same array written back
    assert w._version == 1
    with pytest.raises(RuntimeError, match="Mul needs input 0"):
        loss.backward()
    loss = (w * x).sum()
    w.data = np.zeros(3, np.float32)  # a new array: the graph recorded the old one
    assert w._version == 2
    with pytest.raises(RuntimeError, match="modified in place"):
        loss.backward()


def test_data_must_be_an_array() -> None:
    w, _ = _setup()
    with pytest.raises(TypeError, match="Tensor.data must be a NumPy array, got list; use assign"):
        w.data = [1.0, 2.0, 3.0]  # type: ignore[assignment]


def test_every_node_checked_after_an_unrelated_write_gives_the_same_gradient() -> None:
    """A write anywhere after the graph was built makes the walk check every older node; nodes whose inputs
    were not written pass, and the gradient is the one computed without the write."""
    grads = []
    for write in (False, True):
        w, x = _setup()
        y = w
        for _ in range(50):
            y = y * x + w
        if write:
            tl.Tensor([0.0]).assign([1.0])
        y.sum().backward()
        grads.append(w.grad.data)
    np.testing.assert_array_equal(grads[0], grads[1])


def test_assign_inside_a_jitted_function_is_refused() -> None:
    w, x = _setup()

    @tl.jit
    def update(x: tl.Tensor) -> tl.Tensor:
        w.assign(x)
        return x * 2

    with pytest.raises(RuntimeError, match="assign\\(\\) inside a jitted function"):
        update(x)
