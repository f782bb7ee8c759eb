"""nn.Linear and the activation modules, against NumPy closed forms (torch comparisons: test_nn_torch.py)."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_lite import Tensor, nn


def test_linear_stores_weight_as_out_by_in_and_computes_x_wt_plus_b():
    layer = nn.Linear(3, 2)
    assert layer.weight.shape == (2, 3) and layer.bias is not None and layer.bias.shape == (2,)
    assert layer.weight.requires_grad and layer.bias.requires_grad and layer.weight.dtype == np.float32
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    np.testing.assert_allclose(layer(Tensor(x)).data, x @ layer.weight.data.T + layer.bias.data, rtol=1e-6)


def test_linear_without_bias_has_one_parameter():
    layer = nn.Linear(3, 2, bias=False)
    assert layer.bias is None and [n for n, _ in layer.named_parameters()] == ["weight"]
    x = np.ones((1, 3))
    np.testing.assert_allclose(layer(Tensor(x, dtype="float32")).data, x @ layer.weight.data.T, rtol=1e-6)


@given(n_in=st.integers(1, 6), n_out=st.integers(1, 6), batch=st.integers(1, 4), seed=st.integers(0, 1000))
def test_linear_gradients_are_the_hand_derived_ones(n_in, n_out, batch, seed):
    Tensor.manual_seed(seed)
    layer = nn.Linear(n_in, n_out, dtype="float64")
    x = np.random.default_rng(seed).standard_normal((batch, n_in))
    g = np.random.default_rng(seed + 1).standard_normal((batch, n_out))
    layer(Tensor(x)).backward(g)
    np.testing.assert_allclose(layer.weight.grad.data, g.T @ x, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.bias.grad.data, g.sum(0), rtol=1e-12, atol=1e-12)


def test_linear_applies_to_batched_and_1d_inputs():
    layer = nn.Linear(3, 2)
    assert layer(Tensor.ones(5, 4, 3)).shape == (5, 4, 2)
    assert layer(Tensor.ones(3)).shape == (2,)


def test_linear_initialisation_is_pytorchs_uniform_bound_and_follows_the_seed():
    Tensor.manual_seed(7)
    a = nn.Linear(400, 300)
    Tensor.manual_seed(7)
    b = nn.Linear(400, 300)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    np.testing.assert_array_equal(a.bias.data, b.bias.data)
    bound = 1 / math.sqrt(400)
    for t in (a.weight.data, a.bias.data):
        assert np.all(np.abs(t) <= bound)
    w = a.weight.data.astype(np.float64)
    # U(-b, b) has mean 0 and std b/√3; 120,000 draws pin both down to well under 1 %.
    assert abs(w.mean()) < 0.01 * bound and abs(w.std() - bound / math.sqrt(3)) < 0.01 * bound
    assert w.max() > 0.99 * bound and w.min() < -0.99 * bound
    c = nn.Linear(400, 300)
    assert not np.array_equal(a.weight.data, c.weight.data)  # the generator moved on


def test_linear_dtype_choice():
    layer = nn.Linear(2, 2, dtype="float64")
    assert layer.weight.dtype == np.float64 and layer.bias.dtype == np.float64
    with pytest.raises(TypeError, match="floating-point"):
        nn.Linear(2, 2, dtype="int32")


@pytest.mark.parametrize("sizes, error, words", [
    ((0, 3), ValueError, "in_features must be a positive int, got 0"),
    ((3, -1), ValueError, "out_features must be a positive int, got -1"),
    ((2.5, 3), TypeError, "in_features must be a positive int, got 2.5"),
    ((True, 3), TypeError, "in_features"),
    ((3, "4"), TypeError, "out_features"),
])
def test_linear_refuses_bad_sizes(sizes, error, words):
    with pytest.raises(error, match=words):
        nn.Linear(*sizes)


def test_linear_names_both_shapes_when_the_input_has_the_wrong_width():
    layer = nn.Linear(3, 2)
    with pytest.raises(ValueError, match=r"last dimension must be 3, got an input of shape \(4, 5\) "
                                         r"\(weight shape \(2, 3\)\)"):
        layer(Tensor.ones(4, 5))
    with pytest.raises(ValueError, match=r"shape \(\)"):
        layer(Tensor(1.0))
    with pytest.raises(TypeError, match="expects a Tensor, got ndarray"):
        layer(np.ones((4, 3)))


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _softplus(x, beta=1.0):
    return np.log1p(np.exp(beta * x)) / beta


ACTIVATIONS = [
    (nn.Identity(), lambda x: x),
    (nn.Sigmoid(), _sigmoid),
    (nn.LogSigmoid(), lambda x: np.log(_sigmoid(x))),
    (nn.Tanh(), np.tanh),
    (nn.ReLU(), lambda x: np.maximum(x, 0)),
    (nn.ReLU6(), lambda x: np.clip(x, 0, 6)),
    (nn.LeakyReLU(), lambda x: np.where(x > 0, x, 0.01 * x)),
    (nn.LeakyReLU(0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
    (nn.ELU(0.5), lambda x: np.where(x > 0, x, 0.5 * (np.exp(x) - 1))),
    (nn.CELU(2.0), lambda x: np.where(x > 0, x, 2.0 * (np.exp(x / 2.0) - 1))),
    (nn.GELU(), lambda x: 0.5 * x * (1 + np.vectorize(math.erf)(x / np.sqrt(2)))),
    (nn.GELU(approximate="tanh"), lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))),
    (nn.SiLU(), lambda x: x * _sigmoid(x)),
    (nn.Mish(), lambda x: x * np.tanh(_softplus(x))),
    (nn.Softplus(), _softplus),
    (nn.Softplus(beta=2.0, threshold=1.0), lambda x: np.where(2 * x > 1, x, _softplus(x, 2.0))),
    (nn.Softsign(), lambda x: x / (1 + np.abs(x))),
    (nn.Hardtanh(-2.0, 3.0), lambda x: np.clip(x, -2, 3)),
    (nn.Hardsigmoid(), lambda x: np.clip(x + 3, 0, 6) / 6),
    (nn.Hardswish(), lambda x: x * np.clip(x + 3, 0, 6) / 6),
    (nn.Softmax(dim=-1), lambda x: np.exp(x) / np.exp(x).sum(-1, keepdims=True)),
    (nn.Softmax(dim=0), lambda x: np.exp(x) / np.exp(x).sum(0, keepdims=True)),
    (nn.LogSoftmax(dim=1), lambda x: x - np.log(np.exp(x).sum(1, keepdims=True))),
]


@pytest.mark.parametrize("module, closed_form", ACTIVATIONS, ids=[repr(m) for m, _ in ACTIVATIONS])
@given(x=hnp.arrays(np.float64, st.tuples(st.integers(1, 3), st.integers(1, 4)),
                    elements=st.floats(-8, 8, allow_subnormal=False)))
def test_activation_modules_compute_their_closed_form(module, closed_form, x):
    np.testing.assert_allclose(module(Tensor(x)).data, closed_form(x), rtol=1e-10, atol=1e-12)


def test_flatten_merges_all_but_the_batch_dimension():
    assert nn.Flatten()(Tensor.ones(2, 3, 4)).shape == (2, 12)
    assert nn.Flatten(0, 1)(Tensor.ones(2, 3, 4)).shape == (6, 4)


def test_activation_reprs_show_their_settings():
    assert repr(nn.ReLU()) == "ReLU()"
    assert repr(nn.LeakyReLU(0.1)) == "LeakyReLU(negative_slope=0.1)"
    assert repr(nn.Softplus()) == "Softplus(beta=1.0, threshold=20.0)"
    assert repr(nn.LogSoftmax(dim=1)) == "LogSoftmax(dim=1)"
    assert repr(nn.GELU()) == "GELU(approximate='none')"
    assert repr(nn.GELU("tanh")) == "GELU(approximate='tanh')"
    assert repr(nn.Hardtanh()) == "Hardtanh(min_val=-1.0, max_val=1.0)"


def test_activation_modules_refuse_bad_settings():
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh', got 'erf'"):
        nn.GELU(approximate="erf")
    with pytest.raises(ValueError, match=r"max_val \(1.0\) must be greater than min_val \(2.0\)"):
        nn.Hardtanh(2.0, 1.0)


def test_activation_gradients_flow_through_modules():
    x = Tensor([-1.0, 0.5, 2.0], dtype="float64", requires_grad=True)
    nn.Sigmoid()(x).sum().backward()
    s = _sigmoid(x.data)
    np.testing.assert_allclose(x.grad.data, s * (1 - s), rtol=1e-12)
