"""optim.RMSprop and optim.Adagrad (by hand, against torch.optim over 60 steps, state dicts, the jit) and the
`opt.lr` property every optimizer has."""
import math
import zlib

import numpy as np
import pytest

import tinygrad_lite as tl
from tinygrad_lite import Tensor, nn, optim


def _param(values, grad=None):
    p = Tensor(np.array(values, dtype=np.float64), requires_grad=True)
    if grad is not None:
        p.grad = Tensor(np.array(grad, dtype=np.float64))
    return p


# --- by hand ----------------------------------------------------------------------------------------------------
def test_rmsprop_two_plain_steps_by_hand():
    lr, alpha, eps = 0.01, 0.9, 1e-8
    p = _param([1.0, -2.0], [0.5, -3.0])
    opt = optim.RMSprop([p], lr=lr, alpha=alpha, eps=eps)
    opt.step()
    v = (1 - alpha) * np.array([0.25, 9.0])
    expected = np.array([1.0, -2.0]) - lr * np.array([0.5, -3.0]) / (np.sqrt(v) + eps)
    np.testing.assert_allclose(p.data, expected, rtol=0, atol=1e-15)
    p.grad = Tensor(np.array([1.0, 1.0]))
    opt.step()
    v = alpha * v + (1 - alpha) * 1.0
    expected = expected - lr * 1.0 / (np.sqrt(v) + eps)
    np.testing.assert_allclose(p.data, expected, rtol=0, atol=1e-15)
    np.testing.assert_allclose(opt.state[id(p)]["square_avg"], v, rtol=1e-15)
    assert float(opt.state[id(p)]["step"]) == 2.0 and set(opt.state[id(p)]) == {"step", "square_avg"}


def test_rmsprop_centered_momentum_and_weight_decay_by_hand():
    lr, alpha, eps, mom, wd = 0.1, 0.5, 1e-6, 0.9, 0.2
    p = _param([2.0], [1.0])
    opt = optim.RMSprop([p], lr=lr, alpha=alpha, eps=eps, momentum=mom, centered=True, weight_decay=wd)
    opt.step()
    g = 1.0 + wd * 2.0
    v, mean = (1 - alpha) * g * g, (1 - alpha) * g
    b = g / (math.sqrt(v - mean * mean) + eps)
    assert p.item() == pytest.approx(2.0 - lr * b, abs=1e-14)
    w = p.item()
    p.grad = Tensor(np.array([-1.0]))
    opt.step()
    g = -1.0 + wd * w
    v, mean = alpha * v + (1 - alpha) * g * g, alpha * mean + (1 - alpha) * g
    b = mom * b + g / (math.sqrt(v - mean * mean) + eps)
    assert p.item() == pytest.approx(w - lr * b, abs=1e-14)
    assert set(opt.state[id(p)]) == {"step", "square_avg", "momentum_buffer", "grad_avg"}


def test_adagrad_two_steps_with_lr_decay_weight_decay_and_initial_accumulator_by_hand():
    lr, decay, wd, init, eps = 0.5, 0.1, 0.05, 0.3, 1e-10
    p = _param([1.0, -1.0], [2.0, 0.5])
    opt = optim.Adagrad([p], lr=lr, lr_decay=decay, weight_decay=wd, initial_accumulator_value=init, eps=eps)
    np.testing.assert_array_equal(opt.state[id(p)]["sum"], [init, init])
    opt.step()
    g = np.array([2.0, 0.5]) + wd * np.array([1.0, -1.0])
    s = init + g * g
    expected = np.array([1.0, -1.0]) - lr * g / (np.sqrt(s) + eps)  # step 1: lr / (1 + 0·decay)
    np.testing.assert_allclose(p.data, expected, rtol=0, atol=1e-15)
    p.grad = Tensor(np.array([-1.0, 1.0]))
    opt.step()
    g = np.array([-1.0, 1.0]) + wd * expected
    s = s + g * g
    expected = expected - lr / (1 + decay) * g / (np.sqrt(s) + eps)
    np.testing.assert_allclose(p.data, expected, rtol=0, atol=1e-15)


@pytest.mark.parametrize("make", [lambda ps: optim.RMSprop(ps, lr=0.01, momentum=0.5, centered=True, weight_decay=0.1),
                                  lambda ps: optim.Adagrad(ps, lr=0.1, weight_decay=0.1, lr_decay=0.01)])
def test_steps_work_in_place_build_no_graph_and_leave_gradients_alone(make):
    shared = np.array([0.5, -0.5])  # the engine may hand one gradient buffer to several tensors
    a, b, idle = _param([1.0, 2.0]), _param([3.0, 4.0]), _param([5.0])
    a.grad, b.grad = Tensor(shared), Tensor(shared)
    a.grad.data, b.grad.data = shared, shared
    opt = make([a, b, idle])
    arrays = {id(p): p.data for p in (a, b, idle)}
    buffers = {k: dict(s) for k, s in opt.state.items()}
    for _ in range(3):
        opt.step()
    assert all(p.data is arrays[id(p)] for p in (a, b, idle))
    assert all(opt.state[k][n] is buf for k, s in buffers.items() for n, buf in s.items())
    np.testing.assert_array_equal(shared, [0.5, -0.5])
    assert not np.array_equal(a.data, [1.0, 2.0]) and not np.array_equal(b.data, [3.0, 4.0])
    assert idle.tolist() == [5.0] and float(opt.state[id(idle)]["step"]) == 0.0  # grad None: skipped
    assert all(p._ctx is None and p.requires_grad and p.is_leaf for p in (a, b, idle))


# --- against PyTorch ----------------------------------------------------------------------------------------------
STEPS = 60
SETTINGS = [
    ("RMSprop", {}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "eps": 1e-6}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.3}),  # 1-α ≥ ½: the other branch of lerp when centered
    ("RMSprop", {"lr": 0.01, "alpha": 0.3, "centered": True}),
    ("RMSprop", {"lr": 0.005, "momentum": 0.9}),
    ("RMSprop", {"lr": 0.005, "momentum": 0.8, "centered": True, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.01, "weight_decay": 0.05}),
    ("Adagrad", {}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.05}),
    ("Adagrad", {"lr": 0.1, "weight_decay": 0.1}),
    ("Adagrad", {"lr": 0.05, "initial_accumulator_value": 0.5, "eps": 1e-3}),
    ("Adagrad", {"lr": 0.2, "lr_decay": 0.01, "weight_decay": 0.02, "initial_accumulator_value": 0.1}),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'defaults'}" for name, kw in SETTINGS]


def _follow(name, settings, dtype, gradients, torch):
    """Our optimizer and PyTorch's (in `dtype`, and PyTorch's again in float64 as the exact trajectory) on the
    same gradients: a fixed random sequence, or a noisy quadratic bowl's at each side's own parameters.
    Returns the three (params, optimizer) pairs and a generator that runs one step per item, yielding the
    step number and the three parameter lists as float64 arrays."""
    rng = np.random.default_rng(zlib.crc32(repr((name, settings)).encode()))
    start = [rng.standard_normal(s).astype(dtype) for s in ((3, 4), (5,), ())]
    noise = [[rng.standard_normal(a.shape).astype(dtype) for a in start] for _ in range(STEPS)]
    ours = [Tensor(a, requires_grad=True) for a in start]
    theirs = [torch.tensor(a, requires_grad=True) for a in start]
    exact = [torch.tensor(a.astype(np.float64), requires_grad=True) for a in start]
    runs = [(ours, getattr(optim, name)(ours, **settings)), (theirs, getattr(torch.optim, name)(theirs, **settings)),
            (exact, getattr(torch.optim, name)(exact, **settings))]
    def value(p):
        return np.asarray(p.data if isinstance(p, Tensor) else p.detach().numpy(), dtype=np.float64)

    def steps():
        for k in range(STEPS):
            for params, opt in runs:
                for i, p in enumerate(params):
                    g = noise[k][i] if gradients == "fixed" else value(p) - 1 + 0.1 * noise[k][i]
                    g = np.asarray(g, dtype=np.float64 if params is exact else dtype)
                    p.grad = Tensor(g) if params is ours else torch.tensor(g)
                opt.step()
            yield k, [[value(p) for p in params] for params, _ in runs]

    return runs, steps()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name, settings", SETTINGS, ids=IDS)
@pytest.mark.parametrize("gradients", ["fixed", "bowl"])
def test_optimizers_follow_torch_step_for_step(name, settings, dtype, gradients):
    """In float64 the parameters agree with PyTorch's to 1e-12 after every one of 60 steps. In float32 both
    drift from the exact (float64) trajectory by rounding; ours must stay as close to it as PyTorch's float32
    run does (within twice its distance, plus 1e-6), and within 2e-5 of PyTorch's float32 run."""
    torch = pytest.importorskip("torch", reason="torch is not installed: the PyTorch comparisons need it")
    drift = 0.0
    runs, steps = _follow(name, settings, dtype, gradients, torch)
    for k, (ours, theirs, exact) in steps:
        for a, b, c in zip(ours, theirs, exact):
            if dtype == np.float64:
                np.testing.assert_allclose(a, b, rtol=0, atol=1e-12, err_msg=f"step {k}")
            else:
                drift = max(drift, np.abs(b - c).max())
                np.testing.assert_allclose(a, c, rtol=0, atol=2 * drift + 1e-6, err_msg=f"step {k}: off the exact run")
                np.testing.assert_allclose(a, b, rtol=0, atol=2e-5, err_msg=f"step {k}: off PyTorch's float32 run")
    (params, opt), (their_params, ref), _ = runs
    assert all(p.dtype == dtype for p in params)
    for p, q in zip(params, their_params):  # the state buffers carry PyTorch's names and values
        mine, its = opt.state[id(p)], ref.state[q]
        assert set(mine) == set(its)
        for key in mine:
            np.testing.assert_allclose(mine[key], its[key].numpy(), rtol=1e-9 if dtype == np.float64 else 1e-4,
                                       atol=1e-12 if dtype == np.float64 else 2e-5)


@pytest.mark.parametrize("name", ["RMSprop", "Adagrad"])
def test_skipped_parameters_match_torch(name):
    torch = pytest.importorskip("torch", reason="torch is not installed: the PyTorch comparisons need it")
    a, b = np.array([1.0, 2.0]), np.array([3.0])
    ours = [Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)]
    theirs = [torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)]
    opt, ref = getattr(optim, name)(ours, lr=0.1), getattr(torch.optim, name)(theirs, lr=0.1)
    for k in range(6):
        ours[0].grad, theirs[0].grad = Tensor(a * k), torch.tensor(a * k)
        ours[1].grad = Tensor(b) if k % 2 else None
        theirs[1].grad = torch.tensor(b) if k % 2 else None
        opt.step()
        ref.step()
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=0, atol=1e-14)


# --- state dicts ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [lambda ps: optim.RMSprop(ps, lr=0.01, momentum=0.9, centered=True),
                                  lambda ps: optim.RMSprop(ps, lr=0.01),
                                  lambda ps: optim.Adagrad(ps, lr=0.1, lr_decay=0.01, initial_accumulator_value=0.2)])
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
    assert float(saved["state"][0]["step"]) == 5.0 and saved["param_groups"][0]["params"] == [0, 1]


def test_load_state_dict_refuses_another_optimizers_state():
    p = _param([1.0], [1.0])
    rms = optim.RMSprop([p], momentum=0.5)
    rms.step()
    with pytest.raises(ValueError, match=r"has buffers \['step', 'sum'\], the state dict \['momentum_buffer', "
                                         r"'square_avg', 'step'\]"):
        optim.Adagrad([_param([0.0])]).load_state_dict(rms.state_dict())


def test_momentum_switched_on_later_gets_a_buffer_then():
    """A scheduler (OneCycleLR) may turn momentum on after construction: the buffer starts then, as PyTorch's."""
    torch = pytest.importorskip("torch", reason="torch is not installed: the PyTorch comparisons need it")
    for name in ("SGD", "RMSprop"):
        p, q = _param([1.0, -1.0]), torch.tensor([1.0, -1.0], dtype=torch.float64, requires_grad=True)
        opt, ref = getattr(optim, name)([p], lr=0.1), getattr(torch.optim, name)([q], lr=0.1)
        assert "momentum_buffer" not in opt.state[id(p)]
        for k in range(4):
            if k == 1:
                opt.param_groups[0]["momentum"] = ref.param_groups[0]["momentum"] = 0.9
            p.grad, q.grad = Tensor(np.array([0.5, k - 1.0])), torch.tensor([0.5, k - 1.0], dtype=torch.float64)
            if name == "RMSprop" and k == 1:
                ref.state[q]["momentum_buffer"] = torch.zeros_like(q)  # PyTorch's RMSprop only makes it on step 1
            opt.step()
            ref.step()
            np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=0, atol=1e-14, err_msg=f"{name} step {k}")
        assert "momentum_buffer" in opt.state[id(p)]


# --- the jit --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [lambda ps: optim.RMSprop(ps, lr=0.01, momentum=0.9, centered=True),
                                  lambda ps: optim.Adagrad(ps, lr=0.1, lr_decay=0.01)])
def test_a_jitted_training_step_equals_eager_bit_for_bit(make):
    rng = np.random.default_rng(0)
    batches = [(Tensor(rng.standard_normal((8, 3))), Tensor(rng.integers(0, 2, 8))) for _ in range(8)]

    def train(jitted):
        Tensor.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 5, dtype="float64"), nn.Tanh(), nn.Linear(5, 2, dtype="float64"))
        opt = make(model.parameters())

        def step(x, y):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss

        run = tl.jit(step) if jitted else step
        losses = [run(x, y).numpy() for x, y in batches]
        return losses, [p.numpy() for p in model.parameters()], (run.captures if jitted else None)

    eager, jitted = train(False), train(True)
    assert jitted[2] == 1  # captured once, replayed for the rest
    for a, b in zip(eager[0] + eager[1], jitted[0] + jitted[1]):
        assert a.tobytes() == b.tobytes()


# --- bad input ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("call, error, words", [
    (lambda: optim.RMSprop([_param([1.0])], lr=-1.0), ValueError, "RMSprop: lr must be a finite number >= 0.0"),
    (lambda: optim.RMSprop([_param([1.0])], alpha=-0.1), ValueError, "alpha"),
    (lambda: optim.RMSprop([_param([1.0])], alpha=1.5), ValueError, r"alpha must be a finite number in \[0, 1\]"),
    (lambda: optim.RMSprop([_param([1.0])], eps=float("nan")), ValueError, "eps"),
    (lambda: optim.RMSprop([_param([1.0])], momentum=-0.5), ValueError, "momentum"),
    (lambda: optim.RMSprop([_param([1.0])], weight_decay=-1), ValueError, "weight_decay"),
    (lambda: optim.RMSprop([_param([1.0])], centered=1), TypeError, "centered must be a bool"),
    (lambda: optim.RMSprop([]), ValueError, "RMSprop got an empty parameter list"),
    (lambda: optim.Adagrad([_param([1.0])], lr_decay=-0.1), ValueError, "Adagrad: lr_decay"),
    (lambda: optim.Adagrad([_param([1.0])], initial_accumulator_value=-1), ValueError, "initial_accumulator_value"),
    (lambda: optim.Adagrad([_param([1.0])], eps="1e-10"), TypeError, "eps must be a number"),
    (lambda: optim.Adagrad([Tensor([1.0])]), ValueError, "does not require grad"),
])
def test_bad_input_gives_a_clear_one_line_error(call, error, words):
    with pytest.raises(error, match=words) as info:
        call()
    assert "\n" not in str(info.value)


# --- opt.lr ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9), lambda ps: optim.Adam(ps, lr=0.1),
                                  lambda ps: optim.AdamW(ps, lr=0.1), lambda ps: optim.RMSprop(ps, lr=0.1),
                                  lambda ps: optim.Adagrad(ps, lr=0.1)])
def test_lr_reads_and_sets_every_groups_rate_and_the_step_uses_it(make):
    a, b = _param([1.0], [1.0]), _param([2.0], [1.0])
    opt = make([{"params": [a]}, {"params": [b]}])
    assert opt.lr == 0.1
    opt.lr = 0.0
    assert [g["lr"] for g in opt.param_groups] == [0.0, 0.0] and opt.lr == 0.0
    opt.step()  # a zero rate leaves the weights where they are (AdamW's decay is lr·wd: zero too)
    assert a.item() == 1.0 and b.item() == 2.0
    opt.lr = 0.05
    opt.step()
    assert a.item() != 1.0 and b.item() != 2.0


def test_lr_of_groups_that_differ_is_an_error_and_bad_values_change_nothing():
    opt = optim.SGD([{"params": [_param([1.0])], "lr": 0.1}, {"params": [_param([1.0])], "lr": 0.2}], lr=0.3)
    with pytest.raises(ValueError, match=r"different learning rates \[0.1, 0.2\].*param_groups\[i\]\['lr'\]"):
        _ = opt.lr
    for bad, error in [(-0.1, ValueError), (float("inf"), ValueError), ("0.1", TypeError), (None, TypeError)]:
        with pytest.raises(error, match="SGD: lr must be"):
            opt.lr = bad
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.2]
    opt.lr = 0.5
    assert opt.lr == 0.5


def test_lr_changed_between_jit_replays_is_honoured():
    def train(jitted):
        w = _param([1.0, -2.0])
        opt = optim.SGD([w], lr=0.1)

        def step(x):
            opt.zero_grad()
            loss = (w * x).square().sum()
            loss.backward()
            opt.step()
            return loss

        run = tl.jit(step) if jitted else step
        for k in range(6):
            opt.lr = 0.1 / (k + 1)
            run(Tensor(np.array([1.0, 0.5 * k])))
        return w.numpy()

    assert train(True).tobytes() == train(False).tobytes()


def test_lr_set_inside_a_jitted_step_is_set_again_by_each_replay():
    def train(jitted):
        w = _param([1.0, -2.0])
        opt = optim.Adam([w], lr=0.1)

        def step(x):
            opt.lr = 0.01  # a warm-up rate for this step, whatever was set outside
            opt.zero_grad()
            (w * x).square().sum().backward()
            opt.step()

        run = tl.jit(step) if jitted else step
        rates = []
        for k in range(5):
            opt.lr = 1.0  # set outside: the step must override it again on every call
            run(Tensor(np.array([1.0, 0.5 * k])))
            rates.append(opt.lr)
        return w.numpy(), rates

    (w_jit, rates_jit), (w_eager, rates_eager) = train(True), train(False)
    assert w_jit.tobytes() == w_eager.tobytes() and rates_jit == rates_eager == [0.01] * 5


def test_lr_set_inside_a_jitted_step_from_python_state_is_refused_not_frozen():
    w = _param([1.0, -2.0])
    opt = optim.SGD([w], lr=0.1)
    calls = []

    @tl.jit
    def step(x):
        calls.append(1)
        opt.lr = 0.1 * len(calls)  # changes from call to call: a replay could not follow it
        opt.zero_grad()
        (w * x).sum().backward()
        opt.step()

    step(Tensor(np.array([1.0, 1.0])))
    with pytest.raises(tl.jit.JitError, match=r"SGD.lr = \(kernel 0\) was called differently.*changing Python state"):
        step(Tensor(np.array([1.0, 1.0])))
