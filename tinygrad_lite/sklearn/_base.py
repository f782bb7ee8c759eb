"""What the classifier and the regressor share: hyperparameters, input checks, and the training loop
(mini-batch epochs with tinygrad_lite's Adam or SGD, the L2 penalty, early stopping, partial_fit).

A subclass says how targets are encoded (`_encode_targets`), how many output units the network has
(`_n_output_units`), the loss of a batch (`_data_loss`) and the validation score (`_validation_score`).
"""
from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import scipy.sparse
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from .. import nn, optim
from ..tensor import Tensor
from . import _network
from ._settings import Settings, check_settings

try:
    from sklearn.utils.validation import validate_data
except ImportError:  # scikit-learn < 1.6 has the method instead of the function
    def validate_data(_estimator: Any, /, *args: Any, **kwargs: Any) -> Any:
        return _estimator._validate_data(*args, **kwargs)


class BaseMLP(BaseEstimator):
    """A multi-layer perceptron trained by mini-batch Adam or SGD (see MLPClassifier / MLPRegressor)."""

    _is_classifier = False
    _network: nn.Sequential  # set by the first fit / partial_fit: its existence is what "fitted" means

    def __init__(self, hidden_layer_sizes: Any = (100,), activation: str = "relu", *, solver: str = "adam",
                 alpha: float = 0.0001, batch_size: int | str = "auto", learning_rate_init: float = 0.001,
                 max_iter: int = 200, shuffle: bool = True, random_state: Any = None, tol: float = 1e-4,
                 verbose: bool = False, momentum: float = 0.9, nesterovs_momentum: bool = True,
                 early_stopping: bool = False, validation_fraction: float = 0.1, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-8, n_iter_no_change: int = 10,
                 dtype: Any = np.float64) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.dtype = dtype

    # --- subclass hooks -----------------------------------------------------------------------
    def _encode_targets(self, y: np.ndarray, first_call: bool, classes: Any) -> np.ndarray:
        raise NotImplementedError

    def _n_output_units(self) -> int:
        raise NotImplementedError

    def _data_loss(self, out: Tensor, target: np.ndarray) -> Tensor:
        raise NotImplementedError

    def _validation_score(self, X: np.ndarray, target: np.ndarray) -> float:
        raise NotImplementedError

    # --- fitting ------------------------------------------------------------------------------
    def fit(self, X: Any, y: Any) -> Any:
        """Train a new network on X (n_samples, n_features) and y for up to `max_iter` epochs; returns self."""
        settings = check_settings(self)
        if self.__sklearn_is_fitted__():
            del self._network  # a fit that fails on its data leaves no earlier model behind
        X, y = self._check_Xy(X, y, settings, reset=True)
        self._random_state = check_random_state(self.random_state)
        target = self._encode_targets(y, first_call=True, classes=None)
        self._start(X.shape[1], settings, early_stopping=settings.early_stopping)
        if settings.early_stopping:
            X, X_val, target, target_val = self._validation_split(X, target, settings.validation_fraction)
            self._train(X, target, settings, incremental=False, validation=(X_val, target_val))
        else:
            self._train(X, target, settings, incremental=False)
        return self

    def _validation_split(self, X: np.ndarray, target: np.ndarray, fraction: float) -> list[np.ndarray]:
        """Hold out `fraction` of the rows (stratified by class for a classifier) to score each epoch, after
        checking that both parts can be made, so the error names early_stopping rather than train_test_split."""
        n = X.shape[0]
        n_val = math.ceil(fraction * n)
        problem = None
        if n - n_val < 1:
            problem = "leaves no sample to train on"
        elif self._is_classifier:
            counts = np.bincount(target)
            present = int(np.count_nonzero(counts))
            if min(n_val, n - n_val) < present:
                problem = (f"cannot hold out one sample of each of the {present} classes in both parts of a "
                           f"stratified split")
            elif counts[counts > 0].min() < 2:
                problem = "cannot be stratified: a class has a single sample"
        if problem is not None:
            raise ValueError(f"{type(self).__name__}: early_stopping sets aside validation_fraction={fraction} of the "
                             f"{n} samples ({n_val}) for validation, which {problem}; use more data, another "
                             f"validation_fraction, or early_stopping=False")
        stratify = target if self._is_classifier else None
        return train_test_split(X, target, test_size=n_val, random_state=self._random_state, stratify=stratify)

    def _partial_fit(self, X: Any, y: Any, classes: Any = None) -> Any:
        settings = check_settings(self)
        first_call = not self.__sklearn_is_fitted__()
        if not first_call:
            self._check_same_architecture(settings)
        X, y = self._check_Xy(X, y, settings, reset=first_call)
        if first_call:
            self._random_state = check_random_state(self.random_state)
        target = self._encode_targets(y, first_call=first_call, classes=classes)
        if first_call:
            self._start(X.shape[1], settings, early_stopping=False)
        self._train(X, target, settings, incremental=True)
        return self

    def _check_Xy(self, X: Any, y: Any, settings: Settings, reset: bool) -> tuple[np.ndarray, np.ndarray]:
        regression = not self._is_classifier
        X, y = validate_data(self, X, y, reset=reset, dtype=settings.dtype, multi_output=regression,
                             y_numeric=regression)
        if scipy.sparse.issparse(y):  # a sparse multi-output target passes the checks; the loss needs it dense
            y = y.toarray()
        return X, y

    def _architecture_of(self, settings: Settings) -> tuple[tuple[int, ...], str, np.dtype]:
        return settings.hidden_layer_sizes, settings.activation, settings.dtype

    def _check_same_architecture(self, settings: Settings) -> None:
        names = ("hidden_layer_sizes", "activation", "dtype")
        for name, fitted, now in zip(names, self._architecture, self._architecture_of(settings)):
            if fitted != now:
                raise ValueError(f"{type(self).__name__}.partial_fit continues the network fitted with {name}="
                                 f"{fitted!r}, but {name} is now {now!r}; call fit to train a new network")

    def _start(self, n_features: int, settings: Settings, early_stopping: bool) -> None:
        """A new network and empty training records (the attributes scikit-learn's MLP has)."""
        sizes = [n_features, *settings.hidden_layer_sizes, self._n_output_units()]
        self._network = _network.build_network(sizes, settings.activation, settings.dtype, self._random_state)
        self._architecture = self._architecture_of(settings)
        self._optimizer_state: tuple[str, dict[str, Any]] | None = None
        self._no_improvement_count = 0
        self.n_layers_ = len(sizes)
        self.n_iter_ = 0
        self.t_ = 0
        self.loss_: float | None = None
        self.loss_curve_: list[float] = []
        self.best_loss_: float | None = None if early_stopping else math.inf
        self.validation_scores_: list[float] | None = [] if early_stopping else None
        self.best_validation_score_: float | None = -math.inf if early_stopping else None

    def _optimizer(self, settings: Settings) -> optim.Optimizer:
        """The solver over the network's parameters; a partial_fit (or a fit's follow-up partial_fit) carries on
        with the saved moment estimates or momentum buffers when the solver keeps the same kind of state."""
        params = self._network.parameters()
        opt: optim.Optimizer
        if settings.solver == "adam":
            opt = optim.Adam(params, lr=settings.learning_rate_init, betas=(settings.beta_1, settings.beta_2),
                             eps=settings.epsilon)
        else:
            opt = optim.SGD(params, lr=settings.learning_rate_init, momentum=settings.momentum,
                            nesterov=settings.nesterovs_momentum and settings.momentum > 0)
        if self._optimizer_state is not None:
            solver, saved = self._optimizer_state
            fresh = opt.state_dict()
            same_buffers = all(set(saved["state"][i]) == set(fresh["state"][i]) for i in fresh["state"])
            if solver == settings.solver and same_buffers:
                # The buffers carry on; the settings are today's (set_params may have changed them).
                opt.load_state_dict({"state": saved["state"], "param_groups": fresh["param_groups"]})
        return opt

    def _train(self, X: np.ndarray, target: np.ndarray, settings: Settings, incremental: bool,
               validation: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        name = type(self).__name__
        n = X.shape[0]
        batch = min(200, n) if settings.batch_size is None else settings.batch_size
        if batch > n:
            warnings.warn(f"{name}: batch_size={batch} is larger than the {n} training samples; using {n}",
                          UserWarning, stacklevel=3)
            batch = n
        net, opt, rng = self._network, self._optimizer(settings), self._random_state
        best_state = None
        stopped = False
        for _ in range(1 if incremental else settings.max_iter):
            order = rng.permutation(n) if settings.shuffle else np.arange(n)
            total = 0.0
            for start in range(0, n, batch):
                rows = order[start:start + batch]
                loss = self._data_loss(net(Tensor(X[rows])), target[rows])
                penalty = _network.l2_penalty(net, settings.alpha, len(rows))
                if penalty is not None:
                    loss = loss + penalty
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss.item()) * len(rows)
            self.n_iter_ += 1
            self.t_ += n
            self.loss_ = total / n
            self.loss_curve_.append(self.loss_)
            if not math.isfinite(self.loss_):
                del self._network  # its weights are no model any more: predict says "not fitted", not nan
                raise ValueError(f"{name}: the training loss became {self.loss_} in epoch {self.n_iter_}: the "
                                 f"optimization diverged; lower learning_rate_init (now {settings.learning_rate_init})"
                                 f" or scale the inputs (e.g. with StandardScaler)")
            if settings.verbose:
                print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}")
            if validation is None:
                self._record_loss(settings)
            elif self._record_validation(*validation, settings):
                best_state = _network.snapshot(net)
            if not incremental and self._no_improvement_count > settings.n_iter_no_change:
                stopped = True
                if settings.verbose:
                    what = "Validation score" if validation is not None else "Training loss"
                    print(f"{what} did not improve more than tol={settings.tol} for {settings.n_iter_no_change} "
                          f"consecutive epochs. Stopping.")
                break
        opt.zero_grad()  # the gradients are not part of the fitted model (and would double a pickle's size)
        self._optimizer_state = (settings.solver, opt.state_dict())
        if best_state is not None:
            net.load_state_dict(best_state)
        if not incremental and not stopped:
            warnings.warn(f"{name}: the optimizer did not converge within max_iter={settings.max_iter} epochs "
                          f"(the {'validation score' if validation is not None else 'training loss'} still changed "
                          f"by more than tol={settings.tol}); raise max_iter or tol", ConvergenceWarning,
                          stacklevel=3)

    def _record_validation(self, X_val: np.ndarray, target_val: np.ndarray, settings: Settings) -> bool:
        """Score the epoch on the held-out data; True when it is the best so far (its weights are kept)."""
        assert self.validation_scores_ is not None and self.best_validation_score_ is not None
        score = self._validation_score(X_val, target_val)
        self.validation_scores_.append(score)
        if settings.verbose:
            print(f"Validation score: {score:.6f}")
        improved = score >= self.best_validation_score_ + settings.tol
        self._no_improvement_count = 0 if improved else self._no_improvement_count + 1
        if score > self.best_validation_score_:
            self.best_validation_score_ = score
            return True
        return False

    def _record_loss(self, settings: Settings) -> None:
        if self.best_loss_ is None or self.loss_ is None:  # after an early-stopping fit, the validation decides
            return
        improved = self.loss_ <= self.best_loss_ - settings.tol
        self._no_improvement_count = 0 if improved else self._no_improvement_count + 1
        self.best_loss_ = min(self.best_loss_, self.loss_)

    # --- using the fitted network ----------------------------------------------------------------
    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "_network")

    def _outputs(self, X: Any) -> Tensor:
        """The network's outputs for new data, after the checks scikit-learn makes (fitted, feature count)."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=self._architecture[2])
        return _network.forward(self._network, X)

    @property
    def coefs_(self) -> list[np.ndarray]:
        """The weight matrices, entry i of shape (units in layer i, units in layer i + 1) as in scikit-learn;
        read-only copies (the network's tensors are the model)."""
        return [_network.frozen(layer.weight.numpy().T) for layer in _network.linears(self._fitted_network())]

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """The bias vectors, entry i of shape (units in layer i + 1,); read-only copies."""
        return [_network.frozen(layer.bias.numpy()) for layer in _network.linears(self._fitted_network())
                if layer.bias is not None]

    def _fitted_network(self) -> Any:
        if not self.__sklearn_is_fitted__():
            raise AttributeError(f"This {type(self).__name__} instance is not fitted yet: it has no weights")
        return self._network
