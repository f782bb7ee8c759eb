"""`MLPRegressor`: a multi-layer perceptron for regression, one or several outputs.

>>> import numpy as np
>>> from tinygrad_lite.sklearn import MLPRegressor
>>> X = np.linspace(-1, 1, 200).reshape(-1, 1)
>>> y = np.sin(3 * X[:, 0])
>>> reg = MLPRegressor((32,), activation="tanh", learning_rate_init=0.01, batch_size=20, tol=1e-6, max_iter=500,
...                    random_state=0).fit(X, y)
>>> reg.score(X, y) > 0.95, reg.predict(X[:3]).shape
(True, (3,))
"""
from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import MultiOutputMixin, RegressorMixin
from sklearn.metrics import r2_score

from ..nn import functional as F
from ..tensor import Tensor
from . import _network
from ._base import BaseMLP


class MLPRegressor(MultiOutputMixin, RegressorMixin, BaseMLP):
    """A multi-layer perceptron regressor trained with tinygrad_lite, scikit-learn's `MLPRegressor` API.

    The output layer is linear with one unit per target column; the loss is half the mean squared error
    (`mse_loss` / 2, scikit-learn's scale) plus the L2 penalty alpha/2·Σ‖W‖²/n over the weight matrices.
    y of shape (n_samples,) gives predictions of shape (n_samples,); y of shape (n_samples, k) gives
    (n_samples, k).

    Parameters are those of MLPClassifier (hidden_layer_sizes, activation, solver, alpha, batch_size,
    learning_rate_init, max_iter, shuffle, random_state, tol, verbose, momentum, nesterovs_momentum,
    early_stopping, validation_fraction, beta_1, beta_2, epsilon, n_iter_no_change, dtype); with early_stopping
    the validation score is R². Fitted attributes as MLPClassifier's, with out_activation_ "identity" and
    n_outputs_ the number of target columns.
    """

    def partial_fit(self, X: Any, y: Any) -> MLPRegressor:
        """One epoch over (X, y), continuing from the current weights (a new network on the first call);
        returns self."""
        return self._partial_fit(X, y)

    def _encode_targets(self, y: np.ndarray, first_call: bool, classes: Any) -> np.ndarray:
        columns = y.reshape(y.shape[0], -1)
        if first_call:
            self.n_outputs_ = columns.shape[1]
            self.out_activation_ = "identity"
            self._y_is_1d = y.ndim == 1
        elif columns.shape[1] != self.n_outputs_:
            raise ValueError(f"{type(self).__name__}.partial_fit: y has {columns.shape[1]} target column(s), but "
                             f"this model predicts {self.n_outputs_}")
        return columns.astype(np.float64, copy=False)  # each batch is cast to the network's dtype

    def _n_output_units(self) -> int:
        return int(self.n_outputs_)

    def _data_loss(self, out: Tensor, target: np.ndarray) -> Tensor:
        return 0.5 * F.mse_loss(out, Tensor(target.astype(out.dtype, copy=False)))

    def _validation_score(self, X: np.ndarray, target: np.ndarray) -> float:
        return float(r2_score(target, _network.forward(self._network, X).numpy()))

    def predict(self, X: Any) -> np.ndarray:
        """Predicted targets (float64): shape (n_samples,) when fitted on a 1-D y, else (n_samples, n_outputs_)."""
        out = self._outputs(X).numpy().astype(np.float64, copy=False)  # float64 also from a float32 network
        return out[:, 0] if self._y_is_1d else out
