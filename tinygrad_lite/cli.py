"""The `tinygrad-lite` command: argument parsing and dispatch only; the work lives in `examples/`.

    tinygrad-lite article      # the article's perceptron and 2-4-1 network on make_moons
    tinygrad-lite multiclass   # part 3: softmax and cross-entropy on three blobs
    tinygrad-lite verify       # autodiff gradients against the hand-derived ones, on random draws
    tinygrad-lite digits       # a small CNN on scikit-learn's 8×8 digits
    tinygrad-lite --version
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from . import __version__


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error: `prog: error: message` on stderr, exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 0 <= value < 2**32 - 42:
        raise argparse.ArgumentTypeError(f"must lie in [0, 2**32 - 42), got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text}")
    return value


def _training_options(p: argparse.ArgumentParser, steps: int, lr: float, seed_help: str) -> None:
    p.add_argument("--seed", type=_seed, default=0, help=seed_help)
    p.add_argument("--steps", type=_positive_int, default=steps,
                   help=f"full-batch gradient-descent steps per model (default {steps:,})")
    p.add_argument("--lr", type=_positive_float, default=lr, help=f"learning rate of plain SGD (default {lr})")
    p.add_argument("--out", type=Path, default=Path("."), metavar="DIR",
                   help="folder for the PNG figure; created if missing (default: the current folder)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or progress lines on stderr")
    p.add_argument("--no-jit", dest="use_jit", action="store_false",
                   help="run every step eagerly instead of replaying it with tinygrad_lite.jit")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tinygrad-lite", description="Train the tutorial's networks with tinygrad_lite's autodiff "
                     "and check its gradients against the hand-derived equations.")
    parser.add_argument("--version", action="version", version=f"tinygrad-lite {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    article = sub.add_parser("article", help="reproduce the article: perceptron and 2-4-1 network on make_moons",
                             description="Train the article's perceptron and 2-4-1 network on make_moons(100, "
                             "noise=0.10) with its seeds, initialisation, loss ½Σ(p - y)² and learning rate, "
                             "compare the final errors with the article's, check the autodiff gradients against "
                             "the hand-derived ones along the way, and write article.png.")
    _training_options(article, steps=200_000, lr=0.5,
                      seed_help="data seed: np.random.seed(SEED) before make_moons, then the 2-4-1 weights; "
                      "the perceptron's weights use SEED + 42 (default 0, the article's seeds 0 and 42)")
    article.add_argument("--graph", type=Path, default=None, metavar="PATH",
                         help="also write the 2-4-1 network's computation graph, with each node's gradient at the "
                         "initial weights: DOT text for .dot/.gv, drawn for .svg/.png/.pdf (needs `pip install "
                         "graphviz` and Graphviz's `dot` program)")
    multi = sub.add_parser("multiclass", help="part 3: three blobs, sigmoid hidden layer, softmax and cross-entropy",
                           description="Train a 2-4-3 network with biases (sigmoid hidden layer, softmax output, "
                           "summed cross-entropy) on three Gaussian blobs, check its gradients against the "
                           "hand-derived ones along the way, and write multiclass.png.")
    _training_options(multi, steps=5_000, lr=0.01,
                      seed_help="seed of the blobs and the initial weights (default 0)")
    verify = sub.add_parser("verify", help="compare autodiff and hand-derived gradients on random networks",
                            description="Draw random shapes, weights (some large enough to saturate σ), data and "
                            "labels; for each weight of each model print the largest difference between the "
                            "autodiff gradient and the hand-derived one. Exit status 1 if any exceeds the tolerance.")
    verify.add_argument("--seed", type=_seed, default=0, help="seed of the random draws (default 0)")
    verify.add_argument("--trials", type=_positive_int, default=200, help="random draws per model (default 200)")
    verify.add_argument("--tol", type=_positive_float, default=1e-9,
                        help="allowed |autodiff - hand| relative to 1 + |hand| (default 1e-9)")
    verify.add_argument("--quiet", action="store_true", help="print only the verdict, not the table")
    digits = sub.add_parser("digits", help="a small CNN (conv, batch norm, pooling, dropout) on scikit-learn's digits",
                            description="Train a two-block CNN on scikit-learn's 8×8 handwritten digits with Adam "
                            "and a cosine learning-rate schedule, report the test accuracy and write digits.png "
                            "(learning curves and the misclassified test digits).")
    digits.add_argument("--seed", type=_seed, default=0, help="seed of the split, weights, dropout and batch order "
                        "(default 0)")
    digits.add_argument("--epochs", type=_positive_int, default=30, help="passes over the training set (default 30)")
    digits.add_argument("--lr", type=_positive_float, default=0.01, help="Adam's initial learning rate (default 0.01)")
    digits.add_argument("--batch-size", type=_positive_int, default=64, help="images per step (default 64)")
    digits.add_argument("--out", type=Path, default=Path("."), metavar="DIR",
                        help="folder for digits.png; created if missing (default: the current folder)")
    digits.add_argument("--quiet", action="store_true", help="no progress bar or progress lines on stderr")
    digits.add_argument("--no-jit", dest="use_jit", action="store_false", help="run every step eagerly")
    return parser


def _check_out_dir(parser: argparse.ArgumentParser, out: Path) -> None:
    """Fail before any training if the figure could not be written there."""
    if out.exists() and not out.is_dir():
        parser.error(f"cannot write to output folder {str(out)!r}: it is a file, not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        parser.error(f"cannot write to output folder {str(out)!r}: {exc.strerror or exc}")


def _check_graph_path(parser: argparse.ArgumentParser, path: Path) -> None:
    """Fail before any training if the graph could not be written there, or drawn in that format."""
    from .draw import RENDERED, GraphvizNotFoundError, graph_format, require_graphviz

    try:
        fmt = graph_format(path)
        if fmt in RENDERED:
            require_graphviz(fmt)
    except (ValueError, GraphvizNotFoundError) as exc:
        parser.error(f"--graph: {exc}")
    folder = path.parent
    if not folder.is_dir():
        parser.error(f"--graph: cannot write {str(path)!r}: the folder {str(folder)!r} does not exist")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line `argv` (default: sys.argv[1:]) and return the exit status: 130 after Ctrl-C and
    141 when the reader of stdout went away (`tinygrad-lite verify | head -1`), as shells report those
    signals, with a one-line message or none instead of a traceback."""
    try:
        return _run(argv)
    except KeyboardInterrupt:
        print("tinygrad-lite: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        _silence_stdout()
        return 141


def _silence_stdout() -> None:
    """Point stdout at /dev/null: Python's flush of stdout at exit would otherwise hit the closed pipe
    again and print 'Exception ignored ... BrokenPipeError'."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no real file descriptor behind sys.stdout (a capture)
        pass


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command != "verify":
            _check_out_dir(parser, args.out)
        if getattr(args, "graph", None) is not None:
            _check_graph_path(parser, args.graph)
    except SystemExit as exc:      # --help, or a bad argument already reported on stderr
        return int(exc.code or 0)
    # imported here so that --help and argument errors stay fast
    from .examples import article, digits, multiclass, verify
    commands: dict[str, Callable[..., int]] = {"article": article.main, "multiclass": multiclass.main,
                                               "verify": verify.main, "digits": digits.main}
    run = commands[args.command]
    options = {name: value for name, value in vars(args).items() if name != "command"}
    return run(**options)
