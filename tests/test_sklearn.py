"""tinygrad_lite.sklearn: scikit-learn's own estimator checks, use inside scikit-learn's tools, what the
estimators learn, reproducibility, partial_fit, and the errors bad settings or data give."""
import pickle
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="tinygrad_lite.sklearn needs scikit-learn (the 'sklearn' extra)")

import sklearn  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402
from sklearn.datasets import load_iris, make_friedman1, make_moons, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402
from sklearn.model_selection import GridSearchCV, train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from tinygrad_lite import Tensor  # noqa: E402
from tinygrad_lite.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SKLEARN_VERSION = tuple(int(part) for part in sklearn.__version__.split(".")[:2])

# --- scikit-learn's estimator checks -------------------------------------------------------------------------
# Small networks and few epochs keep the checks fast; the learning rates are high enough for the accuracy
# (> 0.83) and R² (> 0.5) the training checks demand within those epochs.
CHECKED = [
    MLPClassifier((8,), learning_rate_init=0.01, max_iter=50),
    MLPRegressor((8,), learning_rate_init=0.01, max_iter=50),
    MLPRegressor((8, 4), activation="tanh", solver="sgd", learning_rate_init=0.01, batch_size=32, max_iter=50),
    MLPClassifier((), activation="logistic", learning_rate_init=0.05, max_iter=50, alpha=0.0),
]
FLOAT32 = MLPClassifier((8,), activation="tanh", solver="sgd", learning_rate_init=0.05, max_iter=50, dtype=np.float32)
# A float32 network's output for a row can change in its last bit with the other rows of the call (BLAS picks
# kernels and summation orders by matrix shape); the invariance checks ask for agreement to 1e-7, below float32's
# resolution. The float64 default passes them.
FLOAT32_ROUNDING = "float32 outputs agree to float32 rounding (~1e-7 relative), not to the check's rtol=1e-7"
EXPECTED_FAILED = {"check_methods_subset_invariance": FLOAT32_ROUNDING,
                   "check_methods_sample_order_invariance": FLOAT32_ROUNDING}

if SKLEARN_VERSION >= (1, 6):  # expected_failed_checks arrived in 1.6
    _checks = parametrize_with_checks(
        [*CHECKED, FLOAT32], expected_failed_checks=lambda est: EXPECTED_FAILED if est is FLOAT32 else {})
else:  # pragma: no cover - older scikit-learn
    _checks = parametrize_with_checks(CHECKED)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.filterwarnings("ignore:.*batch_size=32 is larger than the:UserWarning")  # the checks' tiny data sets
@_checks
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


# --- inside scikit-learn's tools -----------------------------------------------------------------------------
def moons(n=400, seed=0):
    X, y = make_moons(n, noise=0.15, random_state=seed)
    return train_test_split(X, y, test_size=0.25, random_state=seed, stratify=y)


def test_learns_make_moons_in_a_pipeline():
    X_train, X_test, y_train, y_test = moons()
    model = make_pipeline(StandardScaler(), MLPClassifier((32,), learning_rate_init=0.01, max_iter=300,
                                                          random_state=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X_train, y_train)
    assert model.score(X_test, y_test) > 0.95
    mlp = model[-1]
    assert mlp.out_activation_ == "logistic" and mlp.n_outputs_ == 1 and mlp.n_layers_ == 3
    assert mlp.loss_curve_[-1] < mlp.loss_curve_[0] / 3  # the loss went down, not just the accuracy up


def test_learns_a_regression_problem_with_several_outputs():
    X, y = make_friedman1(600, noise=0.1, random_state=0)
    Y = np.column_stack([y, -2 * y + X[:, 0]])
    X_train, X_test, Y_train, Y_test = train_test_split(X, Y, random_state=0)
    model = make_pipeline(StandardScaler(), MLPRegressor((64,), learning_rate_init=0.01, max_iter=300,
                                                         random_state=0))
    model.fit(X_train, (Y_train - Y_train.mean(0)) / Y_train.std(0))  # stops after ~110 epochs
    prediction = model.predict(X_test) * Y_train.std(0) + Y_train.mean(0)
    assert prediction.shape == Y_test.shape and prediction.dtype == np.float64
    r2 = 1 - ((prediction - Y_test) ** 2).sum(0) / ((Y_test - Y_test.mean(0)) ** 2).sum(0)
    assert (r2 > 0.95).all(), r2  # scikit-learn's MLPRegressor, same settings: 0.97, 0.97


def test_grid_search_picks_among_the_grid_and_refits():
    X, y = load_iris(return_X_y=True)
    grid = GridSearchCV(make_pipeline(StandardScaler(), MLPClassifier(learning_rate_init=0.02, max_iter=40,
                                                                      random_state=0)),
                        {"mlpclassifier__hidden_layer_sizes": [(2,), (16,)], "mlpclassifier__alpha": [1e-4, 1.0]},
                        cv=3, error_score="raise")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        grid.fit(X, y)
    assert grid.best_params_["mlpclassifier__hidden_layer_sizes"] in [(2,), (16,)]
    assert grid.best_score_ > 0.85 and grid.score(X, y) > 0.9
    assert grid.best_estimator_[-1].coefs_[0].shape == (4, grid.best_params_["mlpclassifier__hidden_layer_sizes"][0])


# --- reproducibility ----------------------------------------------------------------------------------------
def fit_quietly(model, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y)


def test_random_state_decides_the_fit_and_the_global_seed_does_not():
    X_train, X_test, y_train, _ = moons(200)
    runs = []
    for global_seed, random_state in [(1, 7), (2, 7), (1, 8)]:
        Tensor.manual_seed(global_seed)  # tinygrad_lite's own generator must not matter
        model = fit_quietly(MLPClassifier((8,), max_iter=20, random_state=random_state), X_train, y_train)
        runs.append((model.loss_curve_, model.predict_proba(X_test), model.coefs_[0]))
    assert runs[0][0] == runs[1][0]
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    np.testing.assert_array_equal(runs[0][2], runs[1][2])
    assert runs[0][0] != runs[2][0] and not np.array_equal(runs[0][2], runs[2][2])


def test_a_failed_fit_leaves_no_earlier_model_behind():
    X, y = make_moons(60, random_state=0)
    model = fit_quietly(MLPClassifier((4,), max_iter=2), X, y)
    with pytest.raises(ValueError, match="2 classes"):
        model.fit(X, np.zeros(60))
    with pytest.raises(NotFittedError):
        model.predict(X)


def test_pickled_model_predicts_and_trains_on_identically():
    X, y = make_moons(100, noise=0.1, random_state=0)
    model = fit_quietly(MLPClassifier((8,), max_iter=5, random_state=0), X, y)
    copy = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(copy.predict_proba(X), model.predict_proba(X))
    model.partial_fit(X, y)
    copy.partial_fit(X, y)  # the optimizer's moments and the shuffling generator travelled with it
    assert copy.loss_curve_ == model.loss_curve_
    np.testing.assert_array_equal(copy.predict_proba(X), model.predict_proba(X))


# --- partial_fit ----------------------------------------------------------------------------------------------
def test_partial_fit_trains_one_epoch_per_call():
    X_train, X_test, y_train, y_test = moons(400)
    model = MLPClassifier((16,), learning_rate_init=0.05, random_state=0)
    with pytest.raises(ValueError, match="classes="):
        model.partial_fit(X_train[:10], y_train[:10])
    scaler = StandardScaler().fit(X_train)
    for epoch in range(1, 61):
        for rows in np.array_split(np.arange(len(X_train)), 3):
            model.partial_fit(scaler.transform(X_train[rows]), y_train[rows], classes=[0, 1])
        assert model.n_iter_ == 3 * epoch and model.t_ == len(X_train) * epoch
    assert model.score(scaler.transform(X_test), y_test) > 0.95
    assert np.mean(model.loss_curve_[-3:]) < np.mean(model.loss_curve_[:3]) / 3


def test_partial_fit_refuses_what_it_cannot_continue():
    X, y = make_moons(40, random_state=0)
    clf = MLPClassifier((4,)).partial_fit(X, y, classes=[0, 1, 2])  # a class may only come in later batches
    assert clf.classes_.tolist() == [0, 1, 2] and clf.n_outputs_ == 3
    with pytest.raises(ValueError, match=r"labels \[5\]"):
        clf.partial_fit(X, np.where(y == 1, 5, y))
    with pytest.raises(ValueError, match="differs from the classes"):
        clf.partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match=r"classes must be a 1-D list of labels, got an array of shape \(2, 2\)"):
        MLPClassifier().partial_fit(X, y, classes=[[0, 1], [1, 2]])
    clf.set_params(hidden_layer_sizes=(5,))
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        clf.partial_fit(X, y)
    reg = MLPRegressor((4,)).partial_fit(X, np.column_stack([y, y]))
    with pytest.raises(ValueError, match="1 target column"):
        reg.partial_fit(X, y.astype(float))
    with pytest.raises(ValueError, match="expecting 2 features"):
        reg.partial_fit(X[:, :1], np.column_stack([y, y]))


def test_partial_fit_after_fit_continues_from_the_fitted_weights():
    X, y = make_regression(200, 3, noise=1.0, random_state=0)
    y = y / y.std()
    model = fit_quietly(MLPRegressor((16,), learning_rate_init=0.01, max_iter=30, random_state=0), X, y)
    before = model.loss_
    model.partial_fit(X, y)
    assert model.n_iter_ == 31 and len(model.loss_curve_) == 31
    assert model.loss_ < before * 1.05  # a fresh network would start far above a 30-epoch loss


# --- outputs -------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def three_class_model():
    X, y = load_iris(return_X_y=True)
    return fit_quietly(MLPClassifier((8,), learning_rate_init=0.01, max_iter=30, random_state=0), X, y)


@settings(max_examples=30, deadline=None)
@given(hnp.arrays(np.float64, st.tuples(st.integers(1, 6), st.just(4)),
                  elements=st.floats(-1e6, 1e6, allow_nan=False)))
def test_probabilities_are_a_distribution_for_any_input(three_class_model, X):
    proba = three_class_model.predict_proba(X)
    assert proba.shape == (len(X), 3) and proba.dtype == np.float64
    assert np.all((proba >= 0) & (proba <= 1))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(three_class_model.predict(X), three_class_model.classes_[proba.argmax(axis=1)])
    log_proba = three_class_model.predict_log_proba(X)
    assert np.all(np.isfinite(log_proba))  # finite even where a probability underflows to 0
    np.testing.assert_allclose(np.exp(log_proba), proba, rtol=1e-9, atol=1e-300)


def test_binary_probabilities_come_from_one_logit():
    X, y = make_moons(100, random_state=0)
    model = fit_quietly(MLPClassifier((8,), max_iter=10, random_state=0), X, np.where(y == 1, "yes", "no"))
    proba = model.predict_proba(X)
    W, b = model.coefs_, model.intercepts_
    logit = np.maximum(X @ W[0] + b[0], 0) @ W[1] + b[1]  # the network, by hand
    np.testing.assert_allclose(proba[:, 1], 1 / (1 + np.exp(-logit[:, 0])), rtol=1e-12)
    assert model.classes_.tolist() == ["no", "yes"] and set(model.predict(X)) <= {"no", "yes"}


def test_loss_is_the_mean_log_loss_plus_the_scaled_l2_penalty():
    # With a learning rate far too small to move the weights, the first epoch's loss (one full batch) is
    # the loss of the initial weights, which coefs_ then still hold: compare with the formula in NumPy.
    X, y = load_iris(return_X_y=True)
    alpha = 0.5
    model = fit_quietly(MLPClassifier((5,), solver="sgd", momentum=0.0, learning_rate_init=1e-300, alpha=alpha,
                                      batch_size=150, max_iter=1, random_state=0), X, y)
    W, b = model.coefs_, model.intercepts_
    logits = np.maximum(X @ W[0] + b[0], 0) @ W[1] + b[1]
    log_p = logits - logits.max(1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(1, keepdims=True))
    expected = -log_p[np.arange(150), y].mean() + alpha / 2 * sum((w ** 2).sum() for w in W) / 150
    assert model.loss_curve_[0] == pytest.approx(expected, rel=1e-12)


def test_regression_loss_is_half_the_mean_squared_error():
    X, y = make_regression(50, 2, random_state=0)
    model = fit_quietly(MLPRegressor((), solver="sgd", momentum=0.0, learning_rate_init=1e-300, alpha=0.0,
                                     batch_size=50, max_iter=1, random_state=0), X, y)
    prediction = X @ model.coefs_[0][:, 0] + model.intercepts_[0][0]
    np.testing.assert_allclose(model.predict(X), prediction, rtol=1e-12)
    assert model.loss_ == pytest.approx(((prediction - y) ** 2).mean() / 2, rel=1e-12)


def test_fitted_weights_are_read_only_copies_in_sklearn_layout():
    X, y = make_regression(30, 3, n_targets=2, random_state=0)
    model = fit_quietly(MLPRegressor((5, 4), max_iter=2, dtype=np.float32), X, y)
    assert [w.shape for w in model.coefs_] == [(3, 5), (5, 4), (4, 2)]
    assert [b.shape for b in model.intercepts_] == [(5,), (4,), (2,)]
    assert model.coefs_[0].dtype == np.float32 and model.predict(X).dtype == np.float64
    with pytest.raises(ValueError, match="read-only"):
        model.coefs_[0][0, 0] = 1.0
    assert not hasattr(MLPRegressor(), "coefs_")


# --- stopping ------------------------------------------------------------------------------------------------
def test_early_stopping_keeps_the_best_validation_epoch():
    X_train, X_test, y_train, y_test = moons(400)
    model = MLPClassifier((16,), learning_rate_init=0.05, max_iter=200, early_stopping=True, n_iter_no_change=5,
                          validation_fraction=0.2, random_state=0).fit(X_train, y_train)
    scores = model.validation_scores_
    assert model.n_iter_ == len(scores) == len(model.loss_curve_) < 200
    assert model.best_validation_score_ == max(scores) and model.best_loss_ is None
    assert scores[-1] < max(scores) + model.tol  # it stopped for want of improvement
    assert model.score(X_test, y_test) > 0.9


def test_training_loss_stopping_rule_and_convergence_warning():
    X, y = make_moons(100, noise=0.1, random_state=0)
    stopped = MLPClassifier((8,), learning_rate_init=0.05, tol=0.5, n_iter_no_change=2, random_state=0).fit(X, y)
    # Epoch 1 improves on inf; epochs 2, 3, 4 do not improve by 0.5: 3 > n_iter_no_change stops it.
    assert stopped.n_iter_ == 4 and stopped.validation_scores_ is None
    assert stopped.best_loss_ == min(stopped.loss_curve_)
    with pytest.warns(ConvergenceWarning, match="max_iter=3"):
        MLPClassifier((8,), max_iter=3, random_state=0).fit(X, y)


def test_verbose_prints_each_epoch(capsys):
    X, y = make_moons(40, random_state=0)
    fit_quietly(MLPClassifier((4,), max_iter=2, verbose=True, early_stopping=True, random_state=0), X, y)
    out = capsys.readouterr().out
    assert "Iteration 1, loss = " in out and "Iteration 2, loss = " in out and "Validation score: " in out


# --- bad settings and data -------------------------------------------------------------------------------
@pytest.mark.parametrize(("params", "error", "message"), [
    ({"hidden_layer_sizes": (10, 0)}, ValueError, "hidden_layer_sizes must be a positive int"),
    ({"hidden_layer_sizes": 2.5}, ValueError, "hidden_layer_sizes"),
    ({"activation": "softmax"}, ValueError, "activation must be one of 'relu', 'tanh', 'logistic', 'identity'"),
    ({"solver": "lbfgs"}, ValueError, "solver must be one of 'adam', 'sgd', got 'lbfgs'"),
    ({"learning_rate_init": 0.0}, ValueError, r"learning_rate_init must be a finite number > 0.0, got 0.0"),
    ({"alpha": float("nan")}, ValueError, "alpha"),
    ({"alpha": "big"}, TypeError, "alpha must be a number"),
    ({"batch_size": 0}, ValueError, "batch_size must be 'auto' or a positive int"),
    ({"max_iter": 0}, ValueError, "max_iter must be a positive int, got 0"),
    ({"max_iter": 10.0}, TypeError, "max_iter must be a positive int"),
    ({"momentum": 1.5}, ValueError, r"momentum must be a finite number in \[0.0, 1.0\]"),
    ({"beta_2": 1.0}, ValueError, "beta_2"),
    ({"validation_fraction": 1.0}, ValueError, "validation_fraction"),
    ({"early_stopping": True, "validation_fraction": 0.0}, ValueError, "validation_fraction > 0"),
    ({"shuffle": "yes"}, TypeError, "shuffle must be True or False"),
    ({"dtype": np.int32}, ValueError, "dtype must be float32 or float64"),
    ({"dtype": None}, ValueError, "dtype must be float32 or float64"),
    ({"random_state": "seed"}, ValueError, "seed"),
])
def test_bad_settings_are_reported_by_fit(params, error, message):
    X, y = make_moons(20, random_state=0)
    for estimator in (MLPClassifier(**params), MLPRegressor(**params)):  # __init__ and set_params accept anything
        with pytest.raises(error, match=message):
            estimator.fit(X, y)


def test_bad_data_is_reported():
    X, y = make_moons(20, random_state=0)
    with pytest.raises(ValueError, match="Unknown label type"):
        MLPClassifier().fit(X, y + 0.5)
    with pytest.raises(ValueError, match="1 class"):
        MLPClassifier().fit(X, np.zeros(20))
    with pytest.raises(ValueError, match="NaN"):
        MLPRegressor().fit(np.where(X > 1, np.nan, X), y)
    with pytest.raises(ValueError, match="y should be a 1d array"):
        MLPClassifier().fit(X, np.column_stack([y, y]))  # multilabel targets are not supported
    model = fit_quietly(MLPClassifier((4,), max_iter=1), X, y)
    with pytest.raises(ValueError, match="X has 3 features, but MLPClassifier is expecting 2"):
        model.predict(np.ones((2, 3)))
    with pytest.raises(ValueError, match="validation_fraction=0.1 of the 20 samples .2. for validation, which "
                                         "cannot hold out one sample of each of the 3 classes"):
        MLPClassifier(early_stopping=True).fit(X, np.arange(20) % 3)
    with pytest.warns(UserWarning, match="batch_size=50 is larger than the 20 training samples"):
        fit_quietly(MLPClassifier((4,), max_iter=1, batch_size=50), X, y)


def test_a_diverging_optimization_is_an_error_not_a_nan_model():
    X, y = make_regression(50, 3, random_state=0)
    model = MLPRegressor((8,), solver="sgd", learning_rate_init=10.0, max_iter=50, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's overflow notices on the way there
        with pytest.raises(ValueError, match="diverged; lower learning_rate_init"):
            model.fit(X, y * 1e3)
    with pytest.raises(NotFittedError):
        model.predict(X)


def test_missing_scikit_learn_is_a_clear_import_error():
    code = "import sys; sys.modules['sklearn'] = None; import tinygrad_lite.sklearn"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "ImportError: tinygrad_lite.sklearn needs scikit-learn" in result.stderr
    assert "tinygrad-lite[sklearn]" in result.stderr
