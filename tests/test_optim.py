"""optim.SGD / Adam / AdamW: hand-computed steps, in-place updates, state dicts, bad input.
The comparisons with torch.optim are in test_optim_torch.py."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_lite
from tinygrad_lite import Tensor, nn, optim
from tinygrad_lite.optim import optimizer
from tinygrad_lite.optim.optimizer import BLOCK, subtract_scaled


def _param(values, grad=None):
    p = Tensor(np.array(values, dtype=np.float64), requires_grad=True)
    if grad is not None:
        p.grad = Tensor(np.array(grad, dtype=np.float64))
    return p


def test_optim_is_importable_from_nn_too():
    import tinygrad_lite.nn.optim as nn_optim

    assert nn_optim.SGD is optim.SGD and nn.optim.Adam is optim.Adam and tinygrad_lite.optim.AdamW is optim.AdamW
    assert issubclass(optim.AdamW, optim.Optimizer) and issubclass(optim.SGD, optim.Optimizer)


def test_sgd_plain_and_weight_decay_steps():
    p = _param([1.0, -2.0], [0.5, 0.25])
    optim.SGD([p], lr=0.1).step()
    np.testing.assert_allclose(p.data, [1.0 - 0.05, -2.0 - 0.025], rtol=1e-15)
    q = _param([1.0, -2.0], [0.5, 0.25])
    optim.SGD([q], lr=0.1, weight_decay=0.2).step()
    np.testing.assert_allclose(q.data, [1.0 - 0.1 * (0.5 + 0.2), -2.0 - 0.1 * (0.25 - 0.4)], rtol=1e-15)


def test_sgd_momentum_dampening_and_nesterov_by_hand():
    g1, g2 = 0.5, -1.0
    # Plain momentum: b1 = g1 (no dampening on the first step), b2 = m·b1 + (1-d)·g2.
    p = _param([1.0], [g1])
    opt = optim.SGD([p], lr=0.1, momentum=0.9, dampening=0.25)
    opt.step()
    assert p.item() == pytest.approx(1.0 - 0.1 * g1, abs=1e-15)
    p.grad = Tensor(np.array([g2]))
    opt.step()
    b2 = 0.9 * g1 + 0.75 * g2
    assert p.item() == pytest.approx(1.0 - 0.1 * g1 - 0.1 * b2, abs=1e-15)
    np.testing.assert_allclose(opt.state[id(p)]["momentum_buffer"], [b2], rtol=1e-15)
    # Nesterov: the step direction is g + m·b.
    q = _param([1.0], [g1])
    opt = optim.SGD([q], lr=0.1, momentum=0.9, nesterov=True)
    opt.step()
    assert q.item() == pytest.approx(1.0 - 0.1 * (g1 + 0.9 * g1), abs=1e-15)
    q.grad = Tensor(np.array([g2]))
    opt.step()
    b2 = 0.9 * g1 + g2
    assert q.item() == pytest.approx(1.0 - 0.1 * 1.9 * g1 - 0.1 * (g2 + 0.9 * b2), abs=1e-15)


def test_adam_two_steps_by_hand():
    lr, b1, b2, eps = 0.1, 0.8, 0.9, 1e-8
    p = _param([1.0], [2.0])
    opt = optim.Adam([p], lr=lr, betas=(b1, b2), eps=eps)
    opt.step()
    m, v = (1 - b1) * 2.0, (1 - b2) * 4.0
    expected = 1.0 - lr / (1 - b1) * m / (math.sqrt(v) / math.sqrt(1 - b2) + eps)
    assert p.item() == pytest.approx(expected, abs=1e-14)
    p.grad = Tensor(np.array([-1.0]))
    opt.step()
    m, v = b1 * m + (1 - b1) * -1.0, b2 * v + (1 - b2) * 1.0
    expected -= lr / (1 - b1 ** 2) * m / (math.sqrt(v) / math.sqrt(1 - b2 ** 2) + eps)
    assert p.item() == pytest.approx(expected, abs=1e-14)
    assert float(opt.state[id(p)]["step"]) == 2.0


def test_adam_l2_versus_adamw_decoupled_weight_decay():
    lr, wd = 0.1, 0.5
    p, q = _param([2.0], [1.0]), _param([2.0], [1.0])
    optim.Adam([p], lr=lr, weight_decay=wd).step()
    optim.AdamW([q], lr=lr, weight_decay=wd).step()
    # Adam folds wd·p into g (g = 2); its first step still moves by ≈ lr. AdamW shrinks p first, then moves by ≈ lr.
    assert p.item() == pytest.approx(2.0 - lr * 2.0 / (2.0 + 1e-8), abs=1e-12)
    assert q.item() == pytest.approx(2.0 * (1 - lr * wd) - lr * 1.0 / (1.0 + 1e-8), abs=1e-12)
    assert optim.AdamW([_param([1.0])]).param_groups[0]["weight_decay"] == 0.01


def test_amsgrad_uses_the_largest_second_moment():
    p = _param([0.0], [10.0])
    opt = optim.Adam([p], lr=0.1, betas=(0.0, 0.5), amsgrad=True)
    opt.step()
    p.grad = Tensor(np.array([1.0]))
    before = p.item()
    opt.step()
    v = 0.5 * 50.0 + 0.5 * 1.0
    assert opt.state[id(p)]["max_exp_avg_sq"][0] == 50.0 and opt.state[id(p)]["exp_avg_sq"][0] == v
    assert p.item() == pytest.approx(before - 0.1 * 1.0 / (math.sqrt(50.0) / math.sqrt(0.75) + 1e-8), abs=1e-14)


@pytest.mark.parametrize("make", [lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.1),
                                  lambda ps: optim.Adam(ps, weight_decay=0.1, amsgrad=True),
                                  lambda ps: optim.AdamW(ps)])
def test_steps_work_in_place_build_no_graph_and_leave_gradients_alone(make):
    shared = np.array([0.5, -0.5])  # the engine may hand one gradient buffer to several tensors
    a, b, idle = _param([1.0, 2.0]), _param([3.0, 4.0]), _param([5.0])
    a.grad, b.grad = Tensor._wrap(shared), Tensor._wrap(shared)
    opt = make([a, b, idle])
    arrays = {id(p): p.data for p in (a, b, idle)}
    buffers = {k: {n: buf for n, buf in s.items()} for k, s in opt.state.items()}
    for _ in range(3):
        opt.step()
    assert all(p.data is arrays[id(p)] for p in (a, b, idle))
    assert all(opt.state[k][n] is buf for k, s in buffers.items() for n, buf in s.items())
    np.testing.assert_array_equal(shared, [0.5, -0.5])
    assert a.grad.data is shared and b.grad.data is shared
    assert not np.array_equal(a.data, [1.0, 2.0]) and not np.array_equal(b.data, [3.0, 4.0])
    assert idle.tolist() == [5.0] and float(opt.state[id(idle)]["step"]) == 0.0  # grad None: skipped
    assert all(p._ctx is None and p.requires_grad and p.is_leaf for p in (a, b, idle))


class _StubRecorder:
    """Stands in for the jit's recorder: keeps what the hooks report."""

    def __init__(self) -> None:
        self.calls, self.grad_sets = [], []

    def record_call(self, fn, what):
        self.calls.append((fn, what))

    def record_grad_set(self, t, value):
        self.grad_sets.append((t, value))


def test_step_and_zero_grad_report_to_a_running_jit_capture(monkeypatch):
    from tinygrad_lite import _capture

    a, b = _param([1.0], [1.0]), _param([2.0])
    model = nn.Linear(1, 1)
    opt = optim.SGD([a, b], lr=0.5)
    stub = _StubRecorder()

    def captured(fn):  # run fn while the stub is the active recorder (values are read outside)
        monkeypatch.setattr(_capture, "active", stub)
        fn()
        monkeypatch.setattr(_capture, "active", None)

    captured(opt.step)
    assert a.item() == 0.5 and len(stub.calls) == 1 and stub.calls[0][1] == "SGD.step"
    stub.calls[0][0]()  # a replay calls the recorded update again
    assert a.item() == 0.0
    captured(opt.zero_grad)
    captured(model.zero_grad)
    assert [(id(t), v) for t, v in stub.grad_sets] == [(id(t), None) for t in (a, b, model.weight, model.bias)]
    assert a.grad is None
    opt.step()  # without a capture nothing is reported (and there is no gradient left to apply)
    assert len(stub.calls) == 1 and a.item() == 0.0


def test_zero_grad_clears_every_parameter():
    a, b = _param([1.0], [1.0]), _param([2.0], [2.0])
    optim.SGD([a, b], lr=0.1).zero_grad()
    assert a.grad is None and b.grad is None


def test_a_training_loop_on_a_module_lowers_the_loss():
    Tensor.manual_seed(0)
    x = Tensor.randn(32, 3)
    y = x @ Tensor([[1.0], [-2.0], [0.5]]) + 0.3
    model = nn.Linear(3, 1)
    opt = optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for _ in range(300):
        loss = nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 1e-4 * losses[0]
    np.testing.assert_allclose(model.weight.data, [[1.0, -2.0, 0.5]], atol=0.01)
    np.testing.assert_allclose(model.bias.data, [0.3], atol=0.01)


def test_parameter_groups_have_their_own_settings():
    a, b = _param([1.0], [1.0]), _param([1.0], [1.0])
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    opt.step()
    assert a.item() == pytest.approx(0.9) and b.item() == pytest.approx(0.5)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5] and opt.params == [a, b]
    c = _param([1.0], [1.0])
    opt.add_param_group({"params": c, "momentum": 0.9})
    opt.step()
    assert c.item() == pytest.approx(0.9) and "momentum_buffer" in opt.state[id(c)]


@pytest.mark.parametrize("make", [lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
                                  lambda ps: optim.Adam(ps, lr=0.05, amsgrad=True),
                                  lambda ps: optim.AdamW(ps, lr=0.05)])
def test_state_dict_round_trip_resumes_training_exactly(make):
    def grads(k, params):
        for i, p in enumerate(params):
            p.grad = Tensor(np.sin(p.data * (k + i + 1)))

    first = [_param([1.0, 2.0]), _param([[0.5], [-1.5]])]
    opt = make(first)
    for k in range(5):
        grads(k, first)
        opt.step()
    saved = opt.state_dict()
    second = [_param(p.data) for p in first]
    resumed = make(second)
    resumed.load_state_dict(saved)
    for k in range(5, 10):
        grads(k, first)
        grads(k, second)
        opt.step()
        resumed.step()
    for p, q in zip(first, second):
        np.testing.assert_array_equal(p.data, q.data)
    # The saved dict is a snapshot: training on did not change it.
    assert float(saved["state"][0]["step"]) == 5.0 and saved["param_groups"][0]["params"] == [0, 1]


def test_load_state_dict_restores_settings_and_refuses_mismatches():
    p = _param([1.0, 2.0], [1.0, 1.0])
    opt = optim.SGD([p], lr=0.1, momentum=0.5)
    opt.step()
    saved = opt.state_dict()
    saved["param_groups"][0]["lr"] = 0.01
    fresh = optim.SGD([_param([0.0, 0.0])], lr=0.1, momentum=0.5)
    fresh.load_state_dict(saved)
    assert fresh.param_groups[0]["lr"] == 0.01
    with pytest.raises(ValueError, match=r"groups of sizes \[1\] do not fit this optimizer's groups of sizes \[2\]"):
        optim.SGD([_param([0.0]), _param([0.0])], lr=0.1, momentum=0.5).load_state_dict(saved)
    with pytest.raises(ValueError, match=r"buffer 'momentum_buffer': shape \(3,\) here, \(2,\) saved"):
        optim.SGD([_param([0.0, 0.0, 0.0])], lr=0.1, momentum=0.5).load_state_dict(saved)
    with pytest.raises(ValueError, match=r"has buffers \[\], the state dict \['momentum_buffer', 'step'\]"):
        optim.SGD([_param([0.0, 0.0])], lr=0.1).load_state_dict(saved)
    with pytest.raises(ValueError, match="keys 'state' and 'param_groups'"):
        fresh.load_state_dict({"state": {}})


@pytest.mark.parametrize("call, error, words", [
    (lambda: optim.SGD([], lr=0.1), ValueError, "SGD got an empty parameter list"),
    (lambda: optim.Adam(iter([])), ValueError, "Adam got an empty parameter list"),
    (lambda: optim.SGD(_param([1.0]), lr=0.1), TypeError, "iterable of Tensors.*got a single Tensor"),
    (lambda: optim.SGD(3, lr=0.1), TypeError, "iterable of Tensors, got int"),
    (lambda: optim.SGD([_param([1.0]), np.ones(2)], lr=0.1), TypeError, "parameter 1 must be a Tensor, got ndarray"),
    (lambda: optim.SGD([Tensor([1, 2])], lr=0.1), TypeError, r"parameter 0 \(shape \(2,\)\) must be a floating-point "
                                                             r"tensor, got int32"),
    (lambda: optim.Adam([Tensor([1.0])]), ValueError, "parameter 0 .* does not require grad"),
    (lambda: optim.Adam([_param([1.0]) * 2]), ValueError, "not a leaf"),
    (lambda: optim.SGD([p := _param([1.0]), p], lr=0.1), ValueError, "appears more than once"),
    (lambda: optim.SGD([_param([1.0])], lr=-0.1), ValueError, r"SGD: lr must be a finite number >= 0.0, got -0.1"),
    (lambda: optim.Adam([_param([1.0])], lr=float("nan")), ValueError, "lr must be a finite number"),
    (lambda: optim.SGD([_param([1.0])], lr="0.1"), TypeError, "lr must be a number, got '0.1'"),
    (lambda: optim.SGD([_param([1.0])], lr=True), TypeError, "lr must be a number"),
    (lambda: optim.SGD([_param([1.0])], lr=0.1, momentum=-1), ValueError, "momentum"),
    (lambda: optim.SGD([_param([1.0])], lr=0.1, nesterov=True), ValueError, "nesterov needs momentum > 0"),
    (lambda: optim.SGD([_param([1.0])], lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), ValueError,
     "dampening = 0"),
    (lambda: optim.Adam([_param([1.0])], betas=(0.9, 1.0)), ValueError, r"beta2 must be a finite number \[0.0, 1.0\)"),
    (lambda: optim.Adam([_param([1.0])], betas=0.9), TypeError, "betas must be a pair"),
    (lambda: optim.AdamW([_param([1.0])], eps=-1e-8), ValueError, "eps"),
    (lambda: optim.AdamW([_param([1.0])], weight_decay=-0.01), ValueError, "weight_decay"),
    (lambda: optim.SGD([{"params": [_param([1.0])], "betas": (0.9, 0.9)}], lr=0.1), ValueError,
     r"unknown settings \['betas'\]"),
])
def test_bad_input_gives_a_clear_one_line_error(call, error, words):
    with pytest.raises(error, match=words) as info:
        call()
    assert "\n" not in str(info.value)


# --- the blocked update ------------------------------------------------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(n=st.sampled_from([0, 1, BLOCK, 2 * BLOCK, 2 * BLOCK + 1, 3 * BLOCK - 7, 5 * BLOCK]),
       dtype=st.sampled_from([np.float32, np.float64]), scale=st.floats(-10, 10),
       strided=st.booleans(), numpy_scale=st.booleans())
def test_subtract_scaled_is_bit_for_bit_the_plain_expression(n, dtype, scale, strided, numpy_scale):
    # blocks from 2 blocks' worth up (in production from 32 MiB: that size would make the test slow)
    optimizer.BLOCKED_ABOVE, saved = 2 * BLOCK * np.dtype(dtype).itemsize, optimizer.BLOCKED_ABOVE
    try:
        _check_subtract_scaled(n, dtype, scale, strided, numpy_scale)
    finally:
        optimizer.BLOCKED_ABOVE = saved


def _check_subtract_scaled(n, dtype, scale, strided, numpy_scale):
    rng = np.random.default_rng(n)
    p = rng.standard_normal(n).astype(dtype)
    x = rng.standard_normal(2 * n).astype(dtype)[::2] if strided else rng.standard_normal(n).astype(dtype)
    s = np.float64(scale) if numpy_scale else scale  # a NumPy scale takes the plain path (its rounding differs)
    expected = p.copy()
    expected -= s * x
    scratch: dict = {}
    subtract_scaled(p, s, x, scratch)
    assert p.tobytes() == expected.tobytes()
    assert all(buf.size == BLOCK for buf in scratch.values())  # never a buffer the size of p


def test_sgd_on_a_large_parameter_equals_the_plain_update_and_keeps_grad(monkeypatch):
    monkeypatch.setattr(optimizer, "BLOCKED_ABOVE", 2 * BLOCK * 4)  # 420,000 float32 elements: blocked
    rng = np.random.default_rng(0)
    w = Tensor(rng.standard_normal((600, 700)).astype(np.float32), requires_grad=True)
    c = Tensor(rng.standard_normal((600, 700)).astype(np.float32))
    opt = optim.SGD([w], lr=0.1, momentum=0.9)
    reference = w.numpy()
    for _ in range(3):
        opt.zero_grad()
        (w * c).sum().backward()
        grad = w.grad.numpy()
        opt.step()
        reference -= 0.1 * opt.state[id(w)]["momentum_buffer"]
        assert np.array_equal(w.grad.numpy(), grad)  # the step leaves the gradient alone
    assert w.numpy().tobytes() == reference.tobytes()
    assert [b.size for b in opt._scratch.values()] == [BLOCK]  # it went block by block
