"""Checkpoints: 0-d parameters, atomic saves, keys NumPy's `.npy` handling would confuse, and optimizer
state saved with nn.save so that a resumed run equals an uninterrupted one bit for bit."""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_lite as tl
from tinygrad_lite import nn, optim


class Scaled(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(3, 2)
        self.scale = tl.Tensor(np.array(1.5, np.float32), requires_grad=True)  # a 0-d parameter

    def __call__(self, x: tl.Tensor) -> tl.Tensor:
        return self.linear(x) * self.scale


def test_a_0d_parameter_reloads(tmp_path: Path) -> None:
    model = Scaled()
    nn.save(model, tmp_path / "m.npz")
    loaded = nn.load(tmp_path / "m.npz")
    assert loaded["scale"].shape == ()
    fresh = Scaled()
    fresh.load_state_dict(loaded)
    assert fresh.scale.item() == 1.5


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=0, max_size=3),
       st.sampled_from([np.float32, np.float64, np.int32, np.uint8, np.bool_]))
def test_any_shape_and_dtype_round_trips(tmp_path_factory: Any, shape: list[int], dtype: type) -> None:
    path = tmp_path_factory.mktemp("rt") / "a.npz"
    arr = (np.arange(int(np.prod(shape))) % 3).astype(dtype).reshape(shape)
    nn.save({"a": arr, "t": arr.T.copy(order="F")}, path)
    back = nn.load(path)
    for key, want in (("a", arr), ("t", arr.T)):
        assert back[key].shape == want.shape and back[key].dtype == want.dtype
        np.testing.assert_array_equal(back[key].data, want)


def test_keys_colliding_after_the_npy_suffix_load_their_own_arrays(tmp_path: Path) -> None:
    state = {"w": np.array([1.0]), "w.npy": np.array([2.0]), "w.npy.npy": np.array([3.0])}
    nn.save(state, tmp_path / "c.npz")
    back = nn.load(tmp_path / "c.npz")
    assert sorted(back) == sorted(state)
    for key, arr in state.items():
        assert back[key].tolist() == arr.tolist(), key


def test_a_failed_save_leaves_the_previous_checkpoint_whole(tmp_path: Path, monkeypatch: Any) -> None:
    path = tmp_path / "ckpt.npz"
    nn.save({"a": np.arange(3.0), "b": np.ones(2)}, path)
    before = path.read_bytes()
    real = np.lib.format.write_array
    calls = []

    def crash_on_second(*args: Any, **kwargs: Any) -> None:
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the process is interrupted half-way through the archive
        real(*args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        nn.save({"a": np.zeros(3), "b": np.zeros(2)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt.npz"]  # no temporary file left behind
    assert nn.load(path)["a"].tolist() == [0.0, 1.0, 2.0]


def test_save_keeps_the_files_permissions(tmp_path: Path) -> None:
    path = tmp_path / "p.npz"
    nn.save({"a": np.ones(1)}, path)
    os.chmod(path, 0o640)
    nn.save({"a": np.zeros(1)}, path)
    assert os.stat(path).st_mode & 0o777 == 0o640


def test_the_structure_key_is_reserved(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="reserved"):
        nn.save({"__structure__": np.ones(1)}, tmp_path / "r.npz")


# --- optimizer state --------------------------------------------------------------------------------------
OPTIMIZERS: dict[str, Callable[[list[tl.Tensor]], optim.Optimizer]] = {
    "sgd_momentum": lambda p: optim.SGD([{"params": p[:2], "lr": 0.05}, {"params": p[2:]}], lr=0.1,
                                        momentum=0.9, nesterov=True, weight_decay=1e-3),
    "adam": lambda p: optim.Adam(p, lr=0.01, betas=(0.8, 0.99), weight_decay=1e-2),
    "adamw_amsgrad": lambda p: optim.AdamW([{"params": p[:2]}, {"params": p[2:], "lr": 3e-3}], lr=0.02,
                                           amsgrad=True),
}


def _data() -> tuple[tl.Tensor, tl.Tensor]:
    rng = np.random.default_rng(1)
    return tl.Tensor(rng.standard_normal((16, 3))), tl.Tensor(rng.standard_normal((16, 2)))


def _train(model: Scaled, opt: optim.Optimizer, steps: int) -> None:
    x, y = _data()
    for _ in range(steps):
        opt.zero_grad()
        ((model(x) - y) ** 2).mean().backward()
        opt.step()


def _model(seed: int) -> Scaled:
    tl.Tensor.manual_seed(seed)
    return Scaled()


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_a_resumed_run_equals_an_uninterrupted_one_bit_for_bit(tmp_path: Path, name: str) -> None:
    make = OPTIMIZERS[name]
    straight = _model(0)
    opt = make(straight.parameters())
    _train(straight, opt, 12)

    first = _model(0)
    opt1 = make(first.parameters())
    _train(first, opt1, 5)
    nn.save(first, tmp_path / "model.npz")
    nn.save(opt1, tmp_path / "opt.npz")
    for group in opt1.param_groups:  # the saved settings, not the new optimizer's defaults, must come back
        group["lr"] = 123.0

    resumed = _model(7)  # other initial weights and default settings: everything must come from the files
    opt2 = make(resumed.parameters())
    resumed.load_state_dict(nn.load(tmp_path / "model.npz"))
    opt2.load_state_dict(nn.load(tmp_path / "opt.npz"))
    _train(resumed, opt2, 7)

    for (key, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert np.array_equal(a.data, b.data), key
    want, got = opt.state_dict(), opt2.state_dict()
    assert [{k: v for k, v in g.items()} for g in want["param_groups"]] == got["param_groups"]
    for i, buffers in want["state"].items():
        for k, v in buffers.items():
            assert np.array_equal(v, got["state"][i][k]) and v.dtype == got["state"][i][k].dtype, (i, k)


def test_optimizer_state_keeps_types(tmp_path: Path) -> None:
    model = _model(0)
    opt = OPTIMIZERS["adamw_amsgrad"](model.parameters())
    _train(model, opt, 2)
    nn.save(opt.state_dict(), tmp_path / "o.npz")  # the state dict itself works as well as the optimizer
    back = nn.load(tmp_path / "o.npz")
    group = back["param_groups"][1]
    assert group["betas"] == (0.9, 0.999) and type(group["betas"]) is tuple
    assert group["amsgrad"] is True and group["lr"] == 3e-3 and group["params"] == [2]
    assert sorted(back["state"]) == [0, 1, 2]
    assert back["state"][2]["step"].shape == () and back["state"][2]["step"] == 2
