"""The `tinygrad-lite` command: each subcommand run in-process with few steps, bad input, the progress bar,
the graph of `article --graph`."""
from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tinygrad_lite.cli import main
from tinygrad_lite.examples import equations as eq
from tinygrad_lite.examples import plotting
from tinygrad_lite.examples import progress as progress_module
from tinygrad_lite.examples.article import article_setup
from tinygrad_lite.examples.datasets import make_moons
from tinygrad_lite.examples.progress import Progress


@pytest.fixture
def no_plot(monkeypatch: pytest.MonkeyPatch) -> None:
    """Skip drawing the figure (matplotlib takes about a second) in tests about the numbers."""
    monkeypatch.setattr(plotting, "plotting_available", lambda: False)


def needs_matplotlib() -> None:
    """Skip the rest of a test that checks a written figure when matplotlib (the `plot` extra) is absent; the
    checks before the call have run."""
    pytest.importorskip("matplotlib", reason="the figure is drawn with matplotlib (the 'plot' extra)")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def table_row(out: str, name: str) -> tuple[float, float]:
    """(final error, accuracy in %) from the article's result table."""
    match = re.search(rf"^{re.escape(name)}\s+([\d.]+)\s+≈\d\.\d\d\s+([\d.]+)%", out, re.M)
    assert match, f"no table row for {name!r} in:\n{out}"
    return float(match[1]), float(match[2])


def numpy_article(steps: int) -> dict[str, tuple[float, float]]:
    """The article's two models trained in NumPy with the hand-derived gradients: (error, accuracy %)."""
    s = article_setup(0)
    w, b, wh, wo = s.w, s.b, s.wh, s.wo
    for _ in range(steps):
        g = eq.perceptron_gradients(w, b, s.X, s.y)
        w, b = w - 0.5 * g["w"], b - 0.5 * g["b"]
        g = eq.two_layer_gradients(wh, wo, s.X, s.y)
        wh, wo = wh - 0.5 * g["wh"], wo - 0.5 * g["wo"]
    p, ao = eq.sigmoid(s.X @ w + b), eq.sigmoid(eq.sigmoid(s.X @ wh) @ wo)
    return {name: (eq.half_sse(q, s.y), 100 * float(np.mean((q > 0.5) == s.y)))
            for name, q in [("perceptron", p), ("2-4-1 network", ao)]}


# --- article ------------------------------------------------------------------------------------
def test_article_matches_numpy_and_writes_one_png(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run(capsys, "article", "--steps", "150", "--out", str(tmp_path), "--no-jit")
    assert code == 0, err
    reference = numpy_article(150)
    for name, (error, accuracy) in reference.items():
        printed_error, printed_accuracy = table_row(out, name)
        assert printed_error == pytest.approx(error, abs=6e-5)
        assert printed_accuracy == pytest.approx(accuracy, abs=0.06)
    assert "autodiff equal the hand-derived ones" in out
    assert "σ'(σ(z))" in out
    assert "perceptron: step 150/150 (100%)" in err   # stderr is no TTY here: plain progress lines
    needs_matplotlib()
    assert [p.name for p in tmp_path.iterdir()] == ["article.png"]   # no temporary file left beside it
    png = tmp_path / "article.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_mode & 0o644 == 0o644      # readable by others, like any file the user writes


@pytest.mark.usefixtures("no_plot")
def test_article_jit_default_gives_the_eager_numbers(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    _, eager, _ = run(capsys, "article", "--steps", "120", "--out", str(tmp_path), "--no-jit", "--quiet")
    code, default, err = run(capsys, "article", "--steps", "120", "--out", str(tmp_path), "--quiet")
    assert code == 0 and err == ""
    for name in ("perceptron", "2-4-1 network"):
        assert table_row(default, name) == table_row(eager, name)


@pytest.mark.usefixtures("no_plot")
def test_article_seed_formula_is_reported_beside_the_correct_one(capsys: pytest.CaptureFixture[str],
                                                                 tmp_path: Path) -> None:
    code, out, _ = run(capsys, "article", "--steps", "400", "--out", str(tmp_path), "--quiet", "--no-jit")
    assert code == 0
    match = re.search(r"that update ends at (\d+\.\d+); the correct gradient, which autodiff computes, at (\d+\.\d+)",
                      out)
    assert match, out
    seed_error, correct_error = float(match[1]), float(match[2])
    assert correct_error == table_row(out, "perceptron")[0]
    assert seed_error > correct_error + 1e-3    # the seed's σ'(σ(z)) update descends less well


def test_without_matplotlib_the_numbers_still_print(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)   # makes `import matplotlib` fail
    code, out, _ = run(capsys, "article", "--steps", "20", "--out", str(tmp_path), "--quiet", "--no-jit")
    assert code == 0
    assert "pip install 'tinygrad-lite[plot]'" in out
    table_row(out, "2-4-1 network")
    assert list(tmp_path.iterdir()) == []


# --- multiclass and verify ----------------------------------------------------------------------------
def test_multiclass_learns_and_plots(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "multiclass", "--steps", "300", "--out", str(tmp_path), "--quiet", "--no-jit")
    assert code == 0
    match = re.search(r"cross-entropy ([\d.]+) -> ([\d.]+), accuracy ([\d.]+)%", out)
    assert match, out
    assert float(match[2]) < float(match[1]) / 2
    assert float(match[3]) > 90
    assert "autodiff equal the hand-derived ones" in out
    needs_matplotlib()
    assert (tmp_path / "multiclass.png").read_bytes()[:4] == b"\x89PNG"


def test_verify_lists_every_weight_and_passes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "verify", "--trials", "15", "--seed", "3")
    assert code == 0
    rows = re.findall(r"^(perceptron|2-4-1|multiclass)\s+(\w+)\s+(\S+)\s+\S+\s+(\S+)\s+yes$", out, re.M)
    assert [(m, w) for m, w, _, _ in rows] == [("perceptron", "w"), ("perceptron", "b"), ("2-4-1", "wh"),
                                               ("2-4-1", "wo"), ("multiclass", "wh"), ("multiclass", "bh"),
                                               ("multiclass", "wo"), ("multiclass", "bo")]
    assert all(float(gap) < 1e-9 and float(of_tolerance) <= 1 for _, _, gap, of_tolerance in rows)
    match = re.search(r"σ'\(σ\(z\)\) differs from autodiff by up to (\S+) ", out)
    assert match and float(match[1]) > 1e-3
    # check_backprop's own report on the article's perceptron code follows, naming a wrong weight and the ratio
    assert re.search(r"∂L/∂[wb] is wrong at \d+ of the \d+ examples drawn", out)
    assert "yours / autodiff = " in out and "The smallest example hypothesis found:" in out
    assert out.rstrip().endswith("verify: all gradients agree (tolerance 1e-09: |autodiff - hand| <= tol·(1 + "
                                 "|autodiff|) at every entry)")


def test_verify_fails_on_a_wrong_hand_gradient(capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    right = eq.two_layer_gradients

    def off_by_a_little(*args: np.ndarray, **kwargs: np.ndarray) -> eq.Arrays:
        g = right(*args, **kwargs)
        return {"wh": g["wh"], "wo": g["wo"] * (1 + 1e-6) + 1e-6}

    monkeypatch.setattr(eq, "two_layer_gradients", off_by_a_little)
    code, out, _ = run(capsys, "verify", "--trials", "5", "--quiet")
    assert code == 1
    assert out.strip().startswith("verify: FAILED for 2-4-1.wo (")
    code, out, _ = run(capsys, "verify", "--trials", "5")
    assert code == 1
    assert re.search(r"^2-4-1\s+wo\s+\S+\s+\S+\s+\S+\s+NO$", out, re.M)
    assert re.search(r"^2-4-1\s+wh\s+\S+\s+\S+\s+\S+\s+yes$", out, re.M)
    assert "∂L/∂wo is wrong" in out and "∂L/∂wh is wrong" not in out.split("For contrast")[0]


def test_verify_without_hypothesis_says_how_to_get_it(capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "hypothesis", None)     # makes `import hypothesis` fail
    code, out, _ = run(capsys, "verify", "--trials", "2")
    assert code == 2
    assert out.strip() == "verify: verify draws its examples with hypothesis, which is not installed: " \
                          "`pip install 'tinygrad-lite[cli]'` (or hypothesis)"


# --- article --graph ---------------------------------------------------------------------------------------
@pytest.mark.usefixtures("no_plot")
def test_article_graph_as_dot_text(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "net.dot"
    code, out, _ = run(capsys, "article", "--steps", "2", "--out", str(tmp_path), "--quiet", "--graph", str(path))
    assert code == 0
    assert f"Graph: {path} (the 2-4-1 network's loss" in out
    dot = path.read_text(encoding="utf-8")
    labels = re.findall(r'^  t\d+ \[label="([^"]*)"', dot, re.M)
    titles = [label.split("\\n")[0] for label in labels]
    # the trained nn model: two Linear layers (transposed weight, matmul), two sigmoids, ½Σ(ao - y)²
    assert sorted(titles) == sorted(["whᵀ (net.0.weight)", "Permute", "X", "Matmul", "Sigmoid", "woᵀ (net.2.weight)",
                                     "Permute", "Matmul", "Sigmoid", "y", "Sub", "Mul", "Sum", "constant 0.5",
                                     "L = ½Σ(ao - y)² = Mul"])
    assert "(100, 2) float64" in dot and "(4, 2) float64" in dot
    wh_label = next(label for label in labels if label.startswith("whᵀ"))
    assert "\\ngrad [" in wh_label         # the gradients at the initial weights are shown


def test_article_graph_problems_fail_before_training(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    for path, says in [(tmp_path / "net.txt", "cannot tell the graph's format from"),
                       (tmp_path / "missing" / "net.dot", "does not exist")]:
        code, out, err = run(capsys, "article", "--out", str(tmp_path), "--graph", str(path))
        assert code == 2 and out == ""
        assert len(err.splitlines()) == 1 and "--graph: " in err and says in err
    monkeypatch.setitem(sys.modules, "graphviz", None)
    code, out, err = run(capsys, "article", "--out", str(tmp_path), "--graph", str(tmp_path / "net.svg"))
    assert code == 2 and out == ""
    assert "pip install graphviz" in err and "apt-get install graphviz" in err
    assert list(tmp_path.iterdir()) == []


def test_article_graph_drawn_as_svg(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    pytest.importorskip("graphviz", reason="drawing needs the graphviz Python package")
    if shutil.which("dot") is None:
        pytest.skip("drawing needs Graphviz's `dot` program (apt-get install graphviz)")
    path = tmp_path / "net.svg"
    code, _, _ = run(capsys, "article", "--steps", "2", "--out", str(tmp_path), "--quiet", "--no-jit",
                     "--graph", str(path))
    assert code == 0
    svg = path.read_text(encoding="utf-8")
    assert "<svg" in svg and "Sigmoid" in svg and "net.0.weight" in svg


# --- options and bad input -----------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["article", "multiclass"])
def test_help_explains_every_option(capsys: pytest.CaptureFixture[str], command: str) -> None:
    code, out, _ = run(capsys, command, "--help")
    assert code == 0
    for option in ("--seed", "--steps", "--lr", "--out DIR", "--quiet", "--no-jit"):
        assert option in out


def test_python_dash_m_help() -> None:
    done = subprocess.run([sys.executable, "-m", "tinygrad_lite", "--help"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: tinygrad-lite")
    for command in ("article", "multiclass", "verify"):
        assert command in done.stdout


@pytest.mark.parametrize("argv, says", [
    (["article", "--steps", "0"], "--steps: must be positive, got 0"),
    (["article", "--steps", "-5"], "--steps: must be positive, got -5"),
    (["multiclass", "--steps", "ten"], "--steps: expected a positive whole number, got 'ten'"),
    (["article", "--lr", "0"], "--lr: must be a positive finite number, got 0"),
    (["multiclass", "--lr", "-0.1"], "--lr: must be a positive finite number, got -0.1"),
    (["article", "--lr", "nan"], "--lr: must be a positive finite number, got nan"),
    (["article", "--seed", "-1"], "--seed: must lie in"),
    (["verify", "--trials", "0"], "--trials: must be positive, got 0"),
    (["train"], "invalid choice: 'train'"),
    ([], "the following arguments are required: COMMAND"),
])
def test_bad_arguments_give_one_line_and_status_2(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                  argv: list[str], says: str) -> None:
    code, out, err = run(capsys, *argv, *(["--out", str(tmp_path)] if argv[:1] == ["article"] else []))
    assert code == 2
    assert out == ""
    assert len(err.splitlines()) == 1 and err.startswith("tinygrad-lite") and "error: " in err
    assert says in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["article", "multiclass"])
def test_unwritable_output_folder_fails_before_training(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                        command: str) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    for out in (blocker, blocker / "sub"):
        code, stdout, err = run(capsys, command, "--steps", "5", "--out", str(out))
        assert code == 2
        assert stdout == ""
        assert len(err.splitlines()) == 1 and f"cannot write to output folder {str(out)!r}" in err
    assert [p.name for p in tmp_path.iterdir()] == ["a-file"]


def test_missing_output_folder_is_created(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "new" / "figures"
    code, _, _ = run(capsys, "multiclass", "--steps", "3", "--out", str(out), "--quiet")
    assert code == 0 and out.is_dir()
    needs_matplotlib()
    assert [p.name for p in out.iterdir()] == ["multiclass.png"]


def test_a_failed_save_leaves_nothing_behind(tmp_path: Path) -> None:
    class BrokenFigure:
        def savefig(self, f: io.BufferedWriter, **kwargs: object) -> None:
            f.write(b"\x89PNG half of it")
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        plotting.save_png(BrokenFigure(), tmp_path / "article.png")
    assert list(tmp_path.iterdir()) == []


# --- progress bar and data --------------------------------------------------------------------------------
class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_redraws_at_most_ten_times_a_second() -> None:
    pytest.importorskip("tqdm", reason="the bar is tqdm's (the cli extra)")
    term = FakeTerminal()
    bar = Progress("demo", total=20_000, stream=term)
    assert bar.live
    for step in range(1, 20_001):
        bar.update(step, error=1.0 / step)
    elapsed = time.monotonic() - bar.start
    bar.close()
    text = term.getvalue()
    draws = text.count("\r")
    assert 2 <= draws <= 4 + 10 * elapsed, (draws, elapsed)     # tqdm also draws on opening and closing
    assert text.endswith("\n")
    last = text.rstrip("\n").split("\r")[-1]
    assert last.startswith("demo") and "100%" in last and "20000/20000" in last and "error 0.000050" in last


def test_progress_off_when_disabled_and_quarter_lines_off_a_terminal() -> None:
    silent, log = FakeTerminal(), io.StringIO()
    quiet_bar, log_bar = Progress("x", 8, stream=silent, enabled=False), Progress("x", 8, stream=log)
    assert not quiet_bar.live and not log_bar.live
    for step in range(1, 9):
        quiet_bar.update(step, 0.5)
        log_bar.update(step, 0.5)
    quiet_bar.close()
    log_bar.close()
    assert silent.getvalue() == ""
    assert log.getvalue().splitlines() == [f"x: step {s}/8 ({100 * s // 8}%), error 0.5" for s in (2, 4, 6, 8)]


def test_progress_without_tqdm_on_a_terminal_hints_once_then_prints_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)           # makes `from tqdm import tqdm` fail
    monkeypatch.setattr(progress_module, "_hinted", False)
    term = FakeTerminal()
    for label in ("a", "b"):
        bar = Progress(label, 4, stream=term)
        assert not bar.live
        for step in range(1, 5):
            bar.update(step, 0.25)
        bar.close()
    lines = term.getvalue().splitlines()
    assert lines[0] == progress_module.TQDM_HINT and "pip install 'tinygrad-lite[cli]'" in lines[0]
    assert lines[1:] == [f"{label}: step {s}/4 ({25 * s}%), error 0.25" for label in "ab" for s in range(1, 5)]


@pytest.mark.usefixtures("no_plot")
def test_article_without_quiet_or_tty_prints_a_few_lines(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "article", "--steps", "40", "--out", str(tmp_path), "--no-jit")
    assert code == 0
    assert len(err.splitlines()) == 8 and "\r" not in err
    _, _, err = run(capsys, "article", "--steps", "40", "--out", str(tmp_path), "--no-jit", "--quiet")
    assert err == ""


def test_make_moons_draws_what_scikit_learn_draws() -> None:
    datasets = pytest.importorskip("sklearn.datasets", reason="scikit-learn (the dev extra) is the reference")
    for seed in (0, 7):
        np.random.seed(seed)
        expected = datasets.make_moons(100, noise=0.10)
        after_expected = np.random.rand(3)
        np.random.seed(seed)
        got = make_moons(100, noise=0.10)
        after_got = np.random.rand(3)        # the global generator advanced the same way
        np.testing.assert_array_equal(got[0], expected[0])
        np.testing.assert_array_equal(got[1], expected[1])
        np.testing.assert_array_equal(after_got, after_expected)
