"""`tinygrad-lite digits`, shortened: the CNN on scikit-learn's digits trains, reports and draws."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from tinygrad_lite.cli import main
from tinygrad_lite.examples.digits import train_digits

pytest.importorskip("sklearn", reason="the digits example loads scikit-learn's digits")


def test_digits_command_trains_reports_and_writes_the_png(capsys: pytest.CaptureFixture[str],
                                                          tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="the figure needs matplotlib")
    code = main(["digits", "--epochs", "4", "--quiet", "--out", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 0 and err == ""
    accuracy = float(re.search(r"test accuracy ([\d.]+)%", out).group(1))  # type: ignore[union-attr]
    assert accuracy >= 93.0  # four epochs already get most of the way (the default 30 give about 99%)
    png = tmp_path / "digits.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"Plot: {png}" in out


def test_digits_jitted_training_equals_eager() -> None:
    jitted = train_digits(epochs=2, quiet=True, limit=300, use_jit=True)
    eager = train_digits(epochs=2, quiet=True, limit=300, use_jit=False)
    np.testing.assert_allclose(jitted.train_losses, eager.train_losses, rtol=1e-5)
    assert jitted.test_accuracies == eager.test_accuracies
    assert jitted.learning_rates == eager.learning_rates == [0.01, 0.005]  # the cosine schedule, per epoch


def test_digits_rejects_bad_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["digits", "--epochs", "0"]) == 2
    assert "must be positive" in capsys.readouterr().err
