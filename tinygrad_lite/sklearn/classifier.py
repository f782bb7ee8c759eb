"""`MLPClassifier`: a multi-layer perceptron for binary and multiclass classification.

>>> from sklearn.datasets import load_iris
>>> from sklearn.pipeline import make_pipeline
>>> from sklearn.preprocessing import StandardScaler
>>> from tinygrad_lite.sklearn import MLPClassifier
>>> X, y = load_iris(return_X_y=True)
>>> model = make_pipeline(StandardScaler(), MLPClassifier((16,), learning_rate_init=0.01, max_iter=300,
...                                                       random_state=0))
>>> model.fit(X, y).score(X, y) > 0.95
True
>>> model.predict_proba(X[:2]).sum(axis=1).round(6).tolist()
[1.0, 1.0]
"""
from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets

from ..nn import functional as F
from ..tensor import Tensor
from . import _network
from ._base import BaseMLP


class MLPClassifier(ClassifierMixin, BaseMLP):
    """A multi-layer perceptron classifier trained with tinygrad_lite, scikit-learn's `MLPClassifier` API.

    Two classes give one output unit and the logistic loss (`binary_cross_entropy_with_logits`); more give one
    unit per class and the softmax cross-entropy (`cross_entropy`). The loss of a batch of n rows also holds
    the L2 penalty alpha/2·Σ‖W‖²/n over the weight matrices, as in scikit-learn.

    Parameters (stored as given, checked by `fit`):
        hidden_layer_sizes: units of each hidden layer, e.g. (100,) or (64, 32); () for none.
        activation: "relu", "tanh", "logistic" or "identity", between the layers.
        solver: "adam" (`optim.Adam` with beta_1, beta_2, epsilon) or "sgd" (`optim.SGD` with momentum,
            Nesterov's when nesterovs_momentum).
        alpha: L2 penalty strength. learning_rate_init: the optimizer's learning rate.
        batch_size: rows per step; "auto" is min(200, n_samples).
        max_iter: epochs (passes over the data) for `fit`; `partial_fit` makes one.
        shuffle: reorder the rows each epoch. random_state: None, an int or a RandomState; it decides the
            initial weights, the shuffling and the validation split, so equal seeds give equal models.
        tol, n_iter_no_change: `fit` stops once the training loss (or, with early_stopping, the validation
            accuracy) has not improved by tol for more than n_iter_no_change epochs.
        early_stopping: hold out validation_fraction of the training data (stratified), score it each
            epoch, and keep the weights of the best epoch.
        verbose: print the loss of each epoch. dtype: float64 (default) or float32, the network's dtype
            (probabilities are returned as float64 either way).

    Fitted attributes: classes_, n_features_in_ (feature_names_in_ for a DataFrame), n_outputs_, n_layers_,
    out_activation_ ("logistic" or "softmax"), loss_, loss_curve_, best_loss_, validation_scores_,
    best_validation_score_, n_iter_, t_ (samples seen), coefs_ and intercepts_ (read-only copies).
    """

    _is_classifier = True

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> MLPClassifier:
        """One epoch over (X, y), continuing from the current weights (a new network on the first call, which
        must name every class with `classes=` since later batches may hold others); returns self."""
        if classes is None and not self.__sklearn_is_fitted__():
            raise ValueError(f"{type(self).__name__}.partial_fit needs classes= (every label y may hold) on its "
                             f"first call")
        return self._partial_fit(X, y, classes)

    def _encode_targets(self, y: np.ndarray, first_call: bool, classes: Any) -> np.ndarray:
        name = type(self).__name__
        check_classification_targets(y)
        given = None if classes is None else _checked_classes(name, classes)
        if first_call:
            labels = np.unique(y) if given is None else given
            if len(labels) < 2:
                raise ValueError(f"{name} needs samples of at least 2 classes to fit, got 1 class: {labels.tolist()}")
            self.classes_ = labels
            self.n_outputs_ = 1 if len(labels) == 2 else len(labels)
            self.out_activation_ = "logistic" if len(labels) == 2 else "softmax"
        elif given is not None and not np.array_equal(given, self.classes_):
            raise ValueError(f"{name}.partial_fit: classes={given.tolist()} differs from the classes of the first "
                             f"call, {self.classes_.tolist()}")
        index = np.searchsorted(self.classes_, y)
        known = (index < len(self.classes_)) & (self.classes_[np.minimum(index, len(self.classes_) - 1)] == y)
        if not known.all():
            unknown = np.unique(y[~known]).tolist()
            raise ValueError(f"{name}: y holds labels {unknown[:10]} that are not among the classes "
                             f"{self.classes_.tolist()[:10]} this model was set up with")
        return index.astype(np.int64)

    def _n_output_units(self) -> int:
        return int(self.n_outputs_)

    def _data_loss(self, out: Tensor, target: np.ndarray) -> Tensor:
        if len(self.classes_) == 2:
            return F.binary_cross_entropy_with_logits(out, target.astype(out.dtype)[:, None])
        return F.cross_entropy(out, Tensor(target))

    def _validation_score(self, X: np.ndarray, target: np.ndarray) -> float:
        probabilities = _class_scores(_network.forward(self._network, X)).softmax(-1).numpy()
        return float(np.mean(probabilities.argmax(axis=1) == target))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (float64), shape (n_samples, n_classes), columns in the order of classes_; each row
        sums to 1."""
        return _class_scores(self._outputs(X)).softmax(-1).numpy().astype(np.float64, copy=False)

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """log of predict_proba, computed stably from the logits (finite where a probability underflows)."""
        return _class_scores(self._outputs(X)).log_softmax(-1).numpy().astype(np.float64, copy=False)

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each row (the first of the tied ones)."""
        best = self.predict_proba(X).argmax(axis=1)  # first: it raises NotFittedError before classes_ exists
        return self.classes_[best]


def _checked_classes(name: str, classes: Any) -> np.ndarray:
    """partial_fit's `classes=`: a 1-D list of class labels, returned sorted and without repeats."""
    labels = np.asarray(classes)
    if labels.ndim != 1:
        raise ValueError(f"{name}.partial_fit: classes must be a 1-D list of labels, got an array of shape "
                         f"{labels.shape}")
    check_classification_targets(labels)
    return np.unique(labels)


def _class_scores(out: Tensor) -> Tensor:
    """One logit per class: a binary network's single logit z is the pair (0, z), whose softmax is (1-σ(z), σ(z))."""
    if out.shape[1] == 1:
        return Tensor.cat(Tensor.zeros_like(out), out, dim=1)
    return out
