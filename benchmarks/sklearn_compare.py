"""tinygrad_lite.sklearn.MLPClassifier against scikit-learn's own MLPClassifier, same hyperparameters.

For load_digits and make_moons: a stratified 75/25 train/test split, StandardScaler then the classifier
in a Pipeline, each fitted `--repeat` times (median fit time reported) on one thread. Prints a Markdown
table: dataset, estimator, test accuracy, epochs run, final training loss, fit time.

    python benchmarks/sklearn_compare.py              # from the repository root
    python benchmarks/sklearn_compare.py --repeat 5
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before NumPy loads its BLAS: one thread for both estimators

import argparse  # noqa: E402 - after the thread settings
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from sklearn.datasets import load_digits, make_moons  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier as SklearnMLP  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository's tinygrad_lite, installed or not
from tinygrad_lite.sklearn import MLPClassifier as TinyMLP  # noqa: E402

# The hyperparameters both estimators get (scikit-learn's defaults, spelled out).
HYPERPARAMETERS = dict(hidden_layer_sizes=(100,), activation="relu", solver="adam", alpha=1e-4, batch_size="auto",
                       learning_rate_init=1e-3, max_iter=200, shuffle=True, tol=1e-4, n_iter_no_change=10,
                       beta_1=0.9, beta_2=0.999, epsilon=1e-8, random_state=0)


def datasets() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    digits = load_digits(return_X_y=True)
    moons = make_moons(n_samples=1000, noise=0.2, random_state=0)
    return {"load_digits (1797×64, 10 classes)": digits, "make_moons (1000×2, noise 0.2)": moons}


def measure(make_classifier, X: np.ndarray, y: np.ndarray, repeat: int) -> dict[str, float]:
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    times = []
    for _ in range(repeat):
        model = make_pipeline(StandardScaler(), make_classifier(**HYPERPARAMETERS))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # reported in the table as epochs = max_iter
            start = time.perf_counter()
            model.fit(X_train, y_train)
            times.append(time.perf_counter() - start)
    mlp = model[-1]
    return {"accuracy": model.score(X_test, y_test), "epochs": mlp.n_iter_, "loss": mlp.loss_,
            "time": statistics.median(times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="fits per cell; the median time is reported")
    args = parser.parse_args()
    estimators = {"sklearn.neural_network.MLPClassifier": SklearnMLP,
                  "tinygrad_lite.sklearn.MLPClassifier": TinyMLP}
    print("| dataset | estimator | test accuracy | epochs | final training loss | fit time (s) |")
    print("|---|---|---|---|---|---|")
    for data_name, (X, y) in datasets().items():
        for est_name, make in estimators.items():
            r = measure(make, X, y, args.repeat)
            print(f"| {data_name} | `{est_name}` | {r['accuracy']:.4f} | {r['epochs']} | {r['loss']:.4f} | "
                  f"{r['time']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
