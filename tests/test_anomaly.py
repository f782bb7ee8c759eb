"""detect_anomaly(): NaN/Inf are reported at the op where they arise, forward and backward."""
import numpy as np
import pytest

import tinygrad_lite as tl
from tinygrad_lite import Tensor


def test_forward_nan_names_the_op_and_shapes():
    x = Tensor(np.array([-1.0, 4.0]))
    with tl.detect_anomaly(), pytest.raises(tl.AnomalyError, match=r"Sqrt produced nan in its result.*\(2,\) float64"):
        x.sqrt()


def test_backward_inf_names_the_vjp():
    x = Tensor(np.array([0.0, 4.0]), requires_grad=True)
    y = x.sqrt().sum()  # forward is finite: sqrt(0) = 0
    expected = r"Sqrt\.vjp produced inf in the gradient of input 0"
    with tl.detect_anomaly(), pytest.raises(tl.AnomalyError, match=expected):
        y.backward()


def test_create_graph_backward_is_checked_too():
    x = Tensor(np.array([0.0]), requires_grad=True)
    y = x.sqrt().sum()
    # With create_graph the VJP's own ops are recorded, so the first one to make the inf (the
    # division inside Sqrt's rule) reports it.
    with tl.detect_anomaly(), pytest.raises(tl.AnomalyError, match=r"Div produced inf in its result"):
        y.backward(create_graph=True)


def test_off_by_default_and_silent_like_pytorch():
    x = Tensor(np.array([0.0, 4.0]), requires_grad=True)
    x.sqrt().sum().backward()  # no warning (pytest turns RuntimeWarnings into errors), no exception
    assert np.isinf(x.grad.numpy()[0]) and x.grad.numpy()[1] == 0.25


def test_decorator_and_nesting_restore_the_flag():
    @tl.detect_anomaly()
    def f(t):
        return t.log()

    with pytest.raises(tl.AnomalyError, match="Log produced -inf"):
        f(Tensor([0.0]))
    with tl.detect_anomaly():
        with tl.detect_anomaly(False):
            Tensor([0.0]).log()  # switched off inside
        with pytest.raises(tl.AnomalyError):
            Tensor([0.0]).log()
    assert Tensor([0.0]).log().numpy()[0] == -np.inf  # off again after the block


def test_finite_values_pass_untouched():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    with tl.detect_anomaly():
        (x.exp() * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp([1.0, 2.0]) * np.array([2.0, 3.0]))
