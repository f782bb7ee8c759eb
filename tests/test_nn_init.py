"""nn.init: in place, seeded, with PyTorch's bounds and fans."""
import math

import numpy as np
import pytest

from tinygrad_lite import Tensor, nn


def test_initialisers_write_into_the_same_array_and_return_the_tensor():
    t = Tensor.empty(20, 30)
    array = t.data
    for fill in (nn.init.zeros_, nn.init.ones_, nn.init.uniform_, nn.init.normal_, nn.init.xavier_uniform_,
                 nn.init.xavier_normal_, nn.init.kaiming_uniform_, nn.init.kaiming_normal_):
        assert fill(t) is t and t.data is array
    assert nn.init.constant_(t, 0.25) is t and np.all(t.data == 0.25)
    assert np.all(nn.init.zeros_(t).data == 0) and np.all(nn.init.ones_(t).data == 1)


def test_draws_follow_tensor_manual_seed():
    Tensor.manual_seed(3)
    a = nn.init.normal_(Tensor.empty(5, 5), 1.0, 2.0).numpy()
    b = nn.init.uniform_(Tensor.empty(5, 5), -1.0, 1.0).numpy()
    Tensor.manual_seed(3)
    np.testing.assert_array_equal(nn.init.normal_(Tensor.empty(5, 5), 1.0, 2.0).data, a)
    np.testing.assert_array_equal(nn.init.uniform_(Tensor.empty(5, 5), -1.0, 1.0).data, b)
    assert not np.array_equal(a, nn.init.normal_(Tensor.empty(5, 5), 1.0, 2.0).data)


def test_uniform_and_normal_statistics():
    Tensor.manual_seed(0)
    u = nn.init.uniform_(Tensor.empty(200, 200, dtype="float64"), -2.0, 3.0).data
    assert u.min() >= -2.0 and u.max() < 3.0 and abs(u.mean() - 0.5) < 0.03
    n = nn.init.normal_(Tensor.empty(200, 200, dtype="float64"), 1.5, 0.5).data
    assert abs(n.mean() - 1.5) < 0.01 and abs(n.std() - 0.5) < 0.01


@pytest.mark.parametrize("shape, fan_in, fan_out", [((30, 20), 20, 30), ((8, 4, 3, 3), 36, 72)])
def test_xavier_and_kaiming_bounds_use_pytorchs_fans(shape, fan_in, fan_out):
    t = Tensor.empty(*shape, dtype="float64")
    xavier = math.sqrt(6 / (fan_in + fan_out))
    data = nn.init.xavier_uniform_(t, gain=2.0).data
    assert np.abs(data).max() <= 2.0 * xavier and np.abs(data).max() > 1.8 * xavier
    relu = math.sqrt(3) * math.sqrt(2) / math.sqrt(fan_out)
    data = nn.init.kaiming_uniform_(t, mode="fan_out", nonlinearity="relu").data
    assert np.abs(data).max() <= relu and np.abs(data).max() > 0.9 * relu
    # Linear's default, a = √5: the bound is 1/√fan_in.
    data = nn.init.kaiming_uniform_(t, a=math.sqrt(5)).data
    assert np.abs(data).max() <= 1 / math.sqrt(fan_in) and np.abs(data).max() > 0.9 / math.sqrt(fan_in)


def test_normal_initialisers_have_the_documented_std():
    Tensor.manual_seed(1)
    t = Tensor.empty(400, 300, dtype="float64")
    assert abs(nn.init.xavier_normal_(t).data.std() - math.sqrt(2 / 700)) < 0.01 * math.sqrt(2 / 700)
    assert abs(nn.init.kaiming_normal_(t, nonlinearity="relu").data.std() - math.sqrt(2 / 300)) < 0.01 * math.sqrt(
        2 / 300)


def test_calculate_gain():
    assert nn.init.calculate_gain("sigmoid") == 1.0
    assert nn.init.calculate_gain("tanh") == 5 / 3
    assert nn.init.calculate_gain("relu") == math.sqrt(2)
    assert nn.init.calculate_gain("leaky_relu") == math.sqrt(2 / (1 + 0.01 ** 2))
    assert nn.init.calculate_gain("leaky_relu", math.sqrt(5)) == math.sqrt(1 / 3)
    with pytest.raises(ValueError, match="'swish'"):
        nn.init.calculate_gain("swish")


def test_initialisers_refuse_bad_input():
    with pytest.raises(TypeError, match="expects a Tensor, got ndarray"):
        nn.init.uniform_(np.zeros(3))
    with pytest.raises(ValueError, match=r"at least 2 dimensions, got shape \(3,\)"):
        nn.init.xavier_uniform_(Tensor.empty(3))
    with pytest.raises(ValueError, match="'fan_avg'"):
        nn.init.kaiming_uniform_(Tensor.empty(3, 3), mode="fan_avg")
    with pytest.raises(ValueError, match=r"a \(1.0\) must not exceed b \(0.0\)"):
        nn.init.uniform_(Tensor.empty(3), 1.0, 0.0)
    with pytest.raises(ValueError, match="std must be non-negative"):
        nn.init.normal_(Tensor.empty(3), 0.0, -1.0)
