"""The README's usage example runs as written (so the quickstart stays true)."""
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert blocks, "README has no python example"
    for block in blocks:
        namespace: dict = {}
        exec(compile(block, str(README), "exec"), namespace)  # noqa: S102 - our own documentation
        assert "x" in namespace and namespace["x"].grad is not None


def test_readme_names_the_commands_ci_runs():
    text = README.read_text(encoding="utf-8")
    assert '.venv/bin/pip install -q -e ".[dev,oracle]" && .venv/bin/python -m pytest' in text
    assert ".venv/bin/tinygrad-lite article" in text
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert "-m pytest" in ci and ".[dev,oracle" in ci
