"""scikit-learn estimators trained with tinygrad_lite: `MLPClassifier` and `MLPRegressor`.

They follow scikit-learn's conventions (parameters stored by `__init__` and checked by `fit`, `fit` /
`partial_fit` / `predict` / `score`, `get_params` / `set_params`, fitted attributes ending in `_`) and pass
scikit-learn's own estimator checks, so they work in `Pipeline`, `GridSearchCV`, `cross_val_score`, ...
scikit-learn is needed for this module only: `pip install "tinygrad-lite[sklearn]"`.

>>> from sklearn.datasets import make_moons
>>> from tinygrad_lite.sklearn import MLPClassifier
>>> X, y = make_moons(200, noise=0.1, random_state=0)
>>> clf = MLPClassifier(hidden_layer_sizes=(16, 16), learning_rate_init=0.01, max_iter=300, random_state=0).fit(X, y)
>>> clf.score(X, y) > 0.95
True
"""
try:
    import sklearn  # noqa: F401 - imported for its absence: the error below says what to install
except ImportError as error:  # pragma: no cover - exercised only where scikit-learn is missing
    raise ImportError("tinygrad_lite.sklearn needs scikit-learn, an optional dependency: "
                      "pip install 'tinygrad-lite[sklearn]' (or pip install 'scikit-learn>=1.3')") from error

from .classifier import MLPClassifier
from .regressor import MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor"]
