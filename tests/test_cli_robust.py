"""The command line under stress: a diverged run fails loudly, a closed pipe or Ctrl-C prints no traceback,
and --version answers."""
from __future__ import annotations

import math
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

import tinygrad_lite
from tinygrad_lite import cli
from tinygrad_lite.examples import plotting
from tinygrad_lite.examples.article import article_setup
from tinygrad_lite.examples.models import TwoLayerNet
from tinygrad_lite.examples.training import gradient_verdict, train

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def no_plot(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plotting, "plotting_available", lambda: False)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("jit", [[], ["--no-jit"]])
def test_a_diverged_article_run_says_so_and_fails(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                   jit: list[str]) -> None:
    code, out, err = run(capsys, "article", "--steps", "40", "--lr", "1e308", "--quiet", "--out", str(tmp_path), *jit)
    assert code == 1
    assert "DIVERGED" in out and "NOT verified" in out
    assert "equal the hand-derived" not in out
    assert "Traceback" not in err and "RuntimeWarning" not in err


def test_a_diverged_multiclass_run_fails(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run(capsys, "multiclass", "--steps", "40", "--lr", "1e308", "--quiet", "--out", str(tmp_path))
    assert code == 1, err
    assert "NOT verified" in out and "equal the hand-derived" not in out


def test_a_sane_run_still_passes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "article", "--steps", "40", "--quiet", "--out", str(tmp_path), "--no-jit")
    assert code == 0 and "equal the hand-derived" in out and "DIVERGED" not in out


def test_train_stops_at_the_first_non_finite_loss() -> None:
    s = article_setup(0)
    run = train(TwoLayerNet(s.wh, s.wo), s.X, s.y, lr=1e308, steps=50, use_jit=False)
    assert run.diverged and run.diverged_at is not None and run.diverged_at < 50
    assert len(run.errors) <= run.diverged_at and math.isnan(run.max_gap) and math.isnan(run.final_error)


def test_the_verdict_never_calls_nan_equal() -> None:
    assert "equal" not in gradient_verdict(math.nan, 11).split("could not")[0]
    assert "NOT verified" in gradient_verdict(math.inf, 11)
    assert "equal the" in gradient_verdict(0.0, 11)


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == f"tinygrad-lite {tinygrad_lite.__version__}"


def test_a_closed_pipe_exits_141_without_a_traceback() -> None:
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first line, as with `| head -0`, deterministically
    try:
        done = subprocess.run([sys.executable, "-m", "tinygrad_lite", "verify", "--trials", "3"], stdout=write,
                              stderr=subprocess.PIPE, text=True, cwd=ROOT, timeout=120, check=False,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    finally:
        os.close(write)
    assert done.returncode == 141
    assert done.stderr == ""


def test_a_broken_stdout_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    class Closed:
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self) -> None:
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(sys, "stdout", Closed())
    assert cli.main(["verify", "--trials", "2"]) == 141


def test_ctrl_c_while_starting_up(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    class Interrupted(types.ModuleType):
        def __getattr__(self, name: str) -> object:
            if name.startswith("__"):  # repr() and friends keep working
                raise AttributeError(name)
            raise KeyboardInterrupt

    monkeypatch.setitem(sys.modules, "tinygrad_lite.examples", Interrupted("tinygrad_lite.examples"))
    code, out, err = run(capsys, "verify")
    assert code == 130
    assert err.strip() == "tinygrad-lite: interrupted"


def test_ctrl_c_while_checking_the_output_folder(capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_check_out_dir", interrupted)
    code, _, err = run(capsys, "article", "--out", str(tmp_path))
    assert code == 130 and "Traceback" not in err
