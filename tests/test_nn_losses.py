"""nn.functional losses and the loss modules, against closed forms in NumPy (torch: test_nn_torch.py)."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_lite.nn.functional as F
from tinygrad_lite import Tensor, nn
from tinygrad_lite._nn_ops import out_of_range_labels

REDUCE = {"mean": np.mean, "sum": np.sum, "none": lambda a: a}
shapes = hnp.array_shapes(min_dims=1, max_dims=3, max_side=4)
reductions = st.sampled_from(sorted(REDUCE))


def _log_softmax(z, axis=-1):
    m = z.max(axis, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis, keepdims=True))


@given(data=st.data(), shape=shapes, reduction=reductions)
def test_mse_and_l1_losses(data, shape, reduction):
    x = data.draw(hnp.arrays(np.float64, shape, elements=st.floats(-10, 10)))
    y = data.draw(hnp.arrays(np.float64, shape, elements=st.floats(-10, 10)))
    xt = Tensor(x, requires_grad=True)
    loss = F.mse_loss(xt, Tensor(y), reduction=reduction)
    np.testing.assert_allclose(loss.data, REDUCE[reduction]((x - y) ** 2), rtol=1e-12, atol=1e-12)
    loss.sum().backward()
    scale = 1 / x.size if reduction == "mean" else 1.0
    np.testing.assert_allclose(xt.grad.data, 2 * (x - y) * scale, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(F.l1_loss(Tensor(x), y, reduction).data, REDUCE[reduction](np.abs(x - y)),
                               rtol=1e-12, atol=1e-12)


@given(data=st.data(), shape=shapes, reduction=reductions, weighted=st.booleans())
def test_binary_cross_entropy_on_probabilities(data, shape, reduction, weighted):
    p = data.draw(hnp.arrays(np.float64, shape, elements=st.floats(1e-6, 1 - 1e-6)))
    y = data.draw(hnp.arrays(np.float64, shape, elements=st.floats(0, 1)))
    w = data.draw(hnp.arrays(np.float64, shape, elements=st.floats(0, 2))) if weighted else np.ones(shape)
    pt = Tensor(p, requires_grad=True)
    loss = F.binary_cross_entropy(pt, Tensor(y), weight=Tensor(w) if weighted else None, reduction=reduction)
    expected = -w * (y * np.log(p) + (1 - y) * np.log(1 - p))
    np.testing.assert_allclose(loss.data, REDUCE[reduction](expected), rtol=1e-10, atol=1e-12)
    loss.sum().backward()
    scale = 1 / p.size if reduction == "mean" else 1.0
    np.testing.assert_allclose(pt.grad.data, w * (p - y) / (p * (1 - p)) * scale, rtol=1e-8, atol=1e-10)


def test_binary_cross_entropy_floors_each_log_at_minus_100():
    loss = F.binary_cross_entropy(Tensor([0.0, 1.0], dtype="float64"), Tensor([1.0, 0.0], dtype="float64"),
                                  reduction="none")
    assert loss.tolist() == [100.0, 100.0]


@given(data=st.data(), shape=shapes, reduction=reductions, pos=st.booleans())
def test_binary_cross_entropy_with_logits_is_stable_and_matches_the_closed_form(data, shape, reduction, pos):
    x = data.draw(hnp.arrays(np.float64, shape, elements=st.floats(-30, 30)))
    y = data.draw(hnp.arrays(np.float64, shape, elements=st.floats(0, 1)))
    pw = data.draw(hnp.arrays(np.float64, shape[-1:], elements=st.floats(0.1, 3))) if pos else np.ones(shape[-1:])
    xt = Tensor(x, requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(xt, Tensor(y), reduction=reduction,
                                              pos_weight=Tensor(pw) if pos else None)
    log_sig, log_one_minus = -np.logaddexp(0, -x), -np.logaddexp(0, x)
    expected = -(pw * y * log_sig + (1 - y) * log_one_minus)
    np.testing.assert_allclose(loss.data, REDUCE[reduction](expected), rtol=1e-10, atol=1e-10)
    loss.sum().backward()
    sig = 1 / (1 + np.exp(-x))
    scale = 1 / x.size if reduction == "mean" else 1.0
    np.testing.assert_allclose(xt.grad.data, (sig * (pw * y + 1 - y) - pw * y) * scale, rtol=1e-9, atol=1e-12)


@given(data=st.data(), n=st.integers(1, 5), c=st.integers(2, 5), reduction=reductions, weighted=st.booleans())
def test_cross_entropy_and_nll_with_class_indices(data, n, c, reduction, weighted):
    z = data.draw(hnp.arrays(np.float64, (n, c), elements=st.floats(-20, 20)))
    t = np.array(data.draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)))
    w = data.draw(hnp.arrays(np.float64, (c,), elements=st.floats(0.1, 2))) if weighted else np.ones(c)
    logp = _log_softmax(z)
    picked = -w[t] * logp[np.arange(n), t]
    expected = picked.sum() / w[t].sum() if reduction == "mean" else REDUCE[reduction](picked)
    weight = Tensor(w) if weighted else None
    zt = Tensor(z, requires_grad=True)
    loss = F.cross_entropy(zt, Tensor(t), weight=weight, reduction=reduction)
    np.testing.assert_allclose(loss.data, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(F.nll_loss(Tensor(logp), t, weight=weight, reduction=reduction).data, expected,
                               rtol=1e-10, atol=1e-12)
    # ∂L/∂z = w_t·(softmax(z) - onehot(t)), divided by Σw_t for the mean.
    loss.sum().backward()
    onehot = np.eye(c)[t]
    grad = w[t][:, None] * (np.exp(logp) - onehot)
    np.testing.assert_allclose(zt.grad.data, grad / w[t].sum() if reduction == "mean" else grad,
                               rtol=1e-9, atol=1e-12)


@given(data=st.data(), n=st.integers(1, 5), c=st.integers(2, 5), reduction=reductions,
       smoothing=st.sampled_from([0.0, 0.1, 0.5]))
def test_cross_entropy_with_probability_targets(data, n, c, reduction, smoothing):
    z = data.draw(hnp.arrays(np.float64, (n, c), elements=st.floats(-20, 20)))
    raw = data.draw(hnp.arrays(np.float64, (n, c), elements=st.floats(0.01, 1)))
    y = raw / raw.sum(1, keepdims=True)
    y_s = y * (1 - smoothing) + smoothing / c
    per_row = -(y_s * _log_softmax(z)).sum(1)
    loss = F.cross_entropy(Tensor(z), Tensor(y), reduction=reduction, label_smoothing=smoothing)
    np.testing.assert_allclose(loss.data, REDUCE[reduction](per_row), rtol=1e-10, atol=1e-12)


def test_cross_entropy_with_one_hot_targets_equals_class_indices():
    z = Tensor([[1.0, 2.0, 0.5], [0.1, -1.0, 3.0]], dtype="float64")
    labels = np.array([1, 2])
    onehot = Tensor(np.eye(3)[labels])
    np.testing.assert_allclose(F.cross_entropy(z, onehot).data, F.cross_entropy(z, labels).data, rtol=1e-14)
    np.testing.assert_allclose(F.cross_entropy(z, onehot, label_smoothing=0.2).data,
                               F.cross_entropy(z, labels, label_smoothing=0.2).data, rtol=1e-14)


@given(data=st.data(), n=st.integers(1, 4), hidden=st.integers(1, 4), c=st.integers(2, 4), d=st.integers(1, 3))
def test_softmax_cross_entropy_gradients_are_the_articles_part3_equations(data, n, hidden, c, d):
    """ARTICLE.md part 3: with L = -Σ y⊙log softmax(zo), ∂L/∂zo = ao - y, ∂L/∂wo = ahᵀ·(ao - y),
    ∂L/∂bo = Σ_rows(ao - y), ∂L/∂wh = Xᵀ·[σ'(zh) ⊙ (ao - y)·woᵀ], ∂L/∂bh = Σ_rows σ'(zh) ⊙ (ao - y)·woᵀ."""
    floats = st.floats(-3, 3)
    X = data.draw(hnp.arrays(np.float64, (n, d), elements=floats))
    wh, bh = (data.draw(hnp.arrays(np.float64, s, elements=floats)) for s in ((d, hidden), (hidden,)))
    wo, bo = (data.draw(hnp.arrays(np.float64, s, elements=floats)) for s in ((hidden, c), (c,)))
    y = np.eye(c)[data.draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n))]
    hidden_layer, out_layer = nn.Linear(d, hidden, dtype="float64"), nn.Linear(hidden, c, dtype="float64")
    hidden_layer.load_state_dict({"weight": wh.T, "bias": bh})
    out_layer.load_state_dict({"weight": wo.T, "bias": bo})
    F.cross_entropy(out_layer(hidden_layer(Tensor(X)).sigmoid()), Tensor(y), reduction="sum").backward()
    ah = 1 / (1 + np.exp(-(X @ wh + bh)))
    ao = np.exp(_log_softmax(ah @ wo + bo))
    dzh = ah * (1 - ah) * ((ao - y) @ wo.T)
    tol = {"rtol": 1e-9, "atol": 1e-12}
    np.testing.assert_allclose(out_layer.weight.grad.data, (ah.T @ (ao - y)).T, **tol)
    np.testing.assert_allclose(out_layer.bias.grad.data, (ao - y).sum(0), **tol)
    np.testing.assert_allclose(hidden_layer.weight.grad.data, (X.T @ dzh).T, **tol)
    np.testing.assert_allclose(hidden_layer.bias.grad.data, dzh.sum(0), **tol)


def test_cross_entropy_ignore_index_and_spatial_inputs():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((2, 3, 4))  # (N, C, d1): classes along dimension 1
    t = np.array([[0, 2, -100, 1], [1, 1, 0, -100]])
    logp = _log_softmax(z, axis=1)
    keep = t != -100
    picked = np.where(keep, -np.take_along_axis(logp, np.where(keep, t, 0)[:, None], 1)[:, 0], 0.0)
    np.testing.assert_allclose(F.cross_entropy(Tensor(z), t, reduction="none").data, picked, rtol=1e-12)
    np.testing.assert_allclose(F.cross_entropy(Tensor(z), t).data, picked.sum() / keep.sum(), rtol=1e-12)
    nothing_left = Tensor(z[:1, :, :1], requires_grad=True)
    loss = F.cross_entropy(nothing_left, np.array([[-100]]))
    loss.backward()
    assert np.isnan(loss.item()) and np.all(nothing_left.grad.data == 0)  # as PyTorch
    np.testing.assert_allclose(F.cross_entropy(Tensor(z[0, :, 0]), np.array(2)).data, -logp[0, 2, 0], rtol=1e-12)


def test_loss_modules_equal_the_functions():
    rng = np.random.default_rng(1)
    x, y = Tensor(rng.standard_normal((4, 3))), Tensor(rng.uniform(size=(4, 3)))
    labels, w = np.array([0, 2, 1, 2]), Tensor([1.0, 2.0, 0.5], dtype="float64")
    pairs = [
        (nn.MSELoss(reduction="sum")(x, y), F.mse_loss(x, y, "sum")),
        (nn.L1Loss()(x, y), F.l1_loss(x, y)),
        (nn.BCELoss(reduction="none")(x.sigmoid(), y), F.binary_cross_entropy(x.sigmoid(), y, reduction="none")),
        (nn.BCEWithLogitsLoss(pos_weight=w)(x, y), F.binary_cross_entropy_with_logits(x, y, pos_weight=w)),
        (nn.CrossEntropyLoss(w, label_smoothing=0.1)(x, labels), F.cross_entropy(x, labels, w, label_smoothing=0.1)),
        (nn.NLLLoss(ignore_index=2)(x, labels), F.nll_loss(x, labels, ignore_index=2)),
    ]
    for module_value, function_value in pairs:
        np.testing.assert_array_equal(module_value.data, function_value.data)
    assert repr(nn.CrossEntropyLoss()) == "CrossEntropyLoss()" and repr(nn.MSELoss("sum")) == "MSELoss(reduction='sum')"


@pytest.mark.parametrize("call, error, words", [
    (lambda: F.mse_loss(Tensor.ones(3, 1), Tensor.ones(3)), ValueError,
     r"target shape \(3,\) must equal input shape \(3, 1\)"),
    (lambda: F.mse_loss(Tensor.ones(3), Tensor.ones(3), reduction="avg"), ValueError, "reduction must be"),
    (lambda: nn.MSELoss(reduction="max"), ValueError, "'max'"),
    (lambda: F.mse_loss([1.0], Tensor.ones(1)), TypeError, "input must be a Tensor, got list"),
    (lambda: F.mse_loss(Tensor([1, 2]), Tensor([1, 2])), TypeError, "floating-point tensor, got int32"),
    (lambda: F.binary_cross_entropy(Tensor([0.5, 1.5]), Tensor([0.0, 1.0])), ValueError, r"\[0, 1\].*1.5"),
    (lambda: F.cross_entropy(Tensor.ones(2, 3), np.array([0, 3])), ValueError, r"\[0, 3\).*\[3\]"),
    (lambda: F.cross_entropy(Tensor.ones(2, 3), np.array([0, 1, 2])), ValueError,
     r"input of shape \(2, 3\) needs a target of shape \(2,\), got \(3,\)"),
    (lambda: F.cross_entropy(Tensor.ones(2, 3), Tensor.ones(2, 2)), ValueError, r"target shape \(2, 2\)"),
    (lambda: F.nll_loss(Tensor.ones(2, 3), np.array([0.0, 1.0])), TypeError, "must be integers, got float64"),
    (lambda: F.nll_loss(Tensor.ones(2, 3), np.array([0, 1]), weight=np.ones(2)), ValueError, r"shape \(3,\)"),
    (lambda: F.cross_entropy(Tensor(1.0), np.array(0)), ValueError, "class dimension"),
    (lambda: F.cross_entropy(Tensor.ones(2, 3), np.array([0, 1]), label_smoothing=1.5), ValueError, "label_smoothing"),
])
def test_losses_refuse_bad_input_with_a_clear_message(call, error, words):
    with pytest.raises(error, match=words):
        call()



# --- the label range check (one reduction for the common case) -----------------------------------------------
@given(data=st.data(), dtype=st.sampled_from([np.int8, np.int32, np.int64, np.uint8]), classes=st.integers(1, 10),
       ignore_index=st.integers(-3, 12))
def test_out_of_range_labels_is_the_definition(data, dtype, classes, ignore_index):
    low = 0 if np.dtype(dtype).kind == "u" else -3
    labels = data.draw(hnp.arrays(dtype, hnp.array_shapes(min_dims=0, max_dims=2, min_side=0),
                                  elements=st.integers(low, 12)))
    flat = labels.reshape(-1).astype(np.int64)
    want = flat[((flat < 0) | (flat >= classes)) & (flat != ignore_index)]
    assert out_of_range_labels(labels, classes, ignore_index).astype(np.int64).tolist() == want.tolist()


def test_cross_entropy_frees_its_saved_log_softmax_with_the_graph():
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((5, 4)), requires_grad=True)
    loss = x.sparse_categorical_crossentropy(Tensor(np.array([0, 3, 1, 1, 2])))
    loss.backward(retain_graph=True)  # a second backward needs it: kept
    first = x.grad.numpy()
    assert loss._ctx.logp is not None
    x.grad = None
    loss.backward()  # the graph is freed: the (N, C) log-softmax goes too, not when `loss` dies
    assert loss._ctx.logp is None
    assert np.array_equal(x.grad.numpy(), first)
