"""Conv-net layers against PyTorch: dropout, convolution, pooling, normalization, and their modules."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_lite.nn.functional as F
from tinygrad_lite import Tensor, jit, nn, optim

torch = pytest.importorskip("torch", reason="the PyTorch equivalence tests need torch")


# --- dropout -------------------------------------------------------------------------------------------
def test_tensor_dropout_follows_tensor_training() -> None:
    x = Tensor.ones(50)
    assert Tensor.training is False
    assert x.dropout(0.5) is x
    with Tensor.train():
        assert Tensor.training is True
        y = x.dropout(0.5).numpy()
        with Tensor.train(False):
            assert x.dropout(0.5) is x
    assert Tensor.training is False
    assert set(np.unique(y)) <= {0.0, 2.0} and 0 < (y == 0).sum() < 50


@settings(max_examples=20)
@given(p=st.floats(0.05, 0.95), n=st.integers(1, 40), seed=st.integers(0, 2**16))
def test_dropout_keeps_or_scales_each_element_and_its_gradient(p: float, n: int, seed: int) -> None:
    Tensor.manual_seed(seed)
    x = Tensor(np.random.default_rng(seed).standard_normal(n) + 5.0, requires_grad=True)
    y = F.dropout(x, p)
    kept = y.numpy() != 0
    np.testing.assert_allclose(y.numpy()[kept], x.numpy()[kept] / (1 - p), rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), kept / (1 - p), rtol=1e-6)


def test_dropout_drops_about_p_of_the_elements() -> None:
    Tensor.manual_seed(0)
    y = F.dropout(Tensor.ones(20000), 0.3).numpy()
    assert abs((y == 0).mean() - 0.3) < 0.02
    assert abs(y.mean() - 1.0) < 0.03  # unbiased, as the 1/(1-p) scaling intends


def test_dropout_edge_probabilities_and_bad_input() -> None:
    x = Tensor([1.0, -2.0], requires_grad=True)
    assert F.dropout(x, 0.0) is x
    z = F.dropout(x, 1.0)
    assert z.tolist() == [0.0, 0.0]
    z.sum().backward()
    assert x.grad.tolist() == [0.0, 0.0]
    assert F.dropout(x, 0.5, training=False) is x
    with pytest.raises(ValueError, match=r"\[0, 1\].*1.5"):
        F.dropout(x, 1.5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        nn.Dropout(-0.1)
    with pytest.raises(TypeError, match="floating-point"):
        F.dropout(Tensor([1, 2]), 0.5)


def test_nn_dropout_follows_the_module_mode() -> None:
    Tensor.manual_seed(1)
    model = nn.Sequential(nn.Linear(3, 400), nn.Dropout(0.5))
    x = Tensor.ones(2, 3)
    assert (model(x).numpy() == 0).any()
    model.eval()
    out = model(x).numpy()
    np.testing.assert_array_equal(out, model[0](x).numpy())
    model.train()
    assert (model(x).numpy() == 0).any()
    assert model.state_dict().keys() == {"0.weight", "0.bias"}
    assert repr(nn.Dropout(0.25)) == "Dropout(p=0.25, inplace=False)"


def test_jitted_dropout_draws_fresh_masks_equal_to_eager() -> None:
    def make():
        Tensor.manual_seed(5)
        model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 1))
        opt = optim.SGD(model.parameters(), lr=0.05)

        def step(x: Tensor) -> Tensor:
            opt.zero_grad()
            hidden = model[2](model[1](model[0](x)))
            loss = model[3](hidden).square().mean()
            loss.backward()
            opt.step()
            return hidden
        return model, step

    (me, eager), (mj, step) = make(), make()
    jitted = jit(step)
    x = Tensor(np.random.default_rng(0).standard_normal((8, 4)).astype(np.float32))
    Tensor.manual_seed(42)
    expected = [eager(x).numpy() for _ in range(5)]
    Tensor.manual_seed(42)
    got = [jitted(x).numpy() for _ in range(5)]
    masks = [tuple((e == 0).ravel()) for e in expected]
    assert len(set(masks)) == 5  # a fresh mask on every call
    for e, g in zip(expected, got):
        np.testing.assert_array_equal(e, g)
    for (_, a), (_, b) in zip(me.named_parameters(), mj.named_parameters()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
