"""Every ```python block in README.md and docs/*.md runs as written, so the documentation stays true.

The blocks of one file run in order in one namespace (a later block may use an earlier one's names),
in a fresh temporary working directory (a block may write files). A block that raises, or runs longer
than BLOCK_SECONDS, fails the test with the file, the block's first line and the error; tracebacks point
at the Markdown file's own line numbers. A document whose example would train for long should train
for fewer steps instead: the budget is what keeps this test, and so CI, fast.

Besides running them, the README's commands are checked against .ci/run: the test command the README
shows is the one CI runs (the project's rule), with the same extras installed.
"""
from __future__ import annotations

import importlib.util
import os
import re
import signal
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK_SECONDS: float = 60   # a generous ceiling on a loaded 2-core machine; the blocks take well under 1 s each

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`\s]*)")


@dataclass(frozen=True)
class Block:
    """A fenced ```python block: its source (indentation of the fence removed) and where it starts."""

    path: Path
    line: int        # 1-based line number of the first line of code (the one after the opening fence)
    source: str

    @property
    def where(self) -> str:
        return f"{_shown(self.path)}:{self.line}"


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def python_blocks(path: Path) -> list[Block]:
    """The ```python (or ```py) blocks of a Markdown file, in order. Other languages are not run."""
    blocks: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, fence, info = opening["indent"], opening["fence"], opening["info"].lower()
        body: list[str] = []
        i += 1
        start = i + 1
        while i < len(lines) and not re.match(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}\s*$", lines[i]):
            line = lines[i]
            body.append(line[len(indent):] if line.startswith(indent) else line.lstrip())
            i += 1
        if i == len(lines):
            raise ValueError(f"{_shown(path)}:{start - 1}: a ``` block is never closed")
        i += 1
        if info in ("python", "py"):
            blocks.append(Block(path, start, "\n".join(body) + "\n"))
    return blocks


@contextmanager
def _time_limit(seconds: float, where: str) -> Iterator[None]:
    """Interrupt a block that runs longer than `seconds` (SIGALRM: main thread, POSIX)."""
    if not hasattr(signal, "SIGALRM") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise TimeoutError(f"the block at {where} ran longer than {seconds} s: make the example quicker "
                           "(fewer steps, smaller data) rather than skipping it")

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_blocks(path: Path, workdir: Path) -> dict[str, Any]:
    """Run the file's python blocks in order in one namespace inside `workdir`; return the namespace.

    Fails the calling test with the file, the block's line and the error if a block raises."""
    namespace: dict[str, Any] = {"__name__": "docs_snippet"}
    cwd = Path.cwd()
    os.chdir(workdir)
    try:
        for block in python_blocks(path):
            # padding with newlines makes tracebacks and SyntaxErrors report the Markdown file's line numbers
            code_text = "\n" * (block.line - 1) + block.source
            failure = None
            try:
                code = compile(code_text, str(path), "exec")
                with _time_limit(BLOCK_SECONDS, block.where):
                    exec(code, namespace)  # noqa: S102 - our own documentation
            except (Exception, SystemExit) as exc:
                # the traceback from the block's own frames on (this function's frame left out)
                tb = exc.__traceback__.tb_next if exc.__traceback__ is not None else None
                trace = "".join(traceback.format_exception(type(exc), exc, tb))
                failure = f"the python block at {block.where} failed: {type(exc).__name__}: {exc}\n\n{trace}"
            if failure is not None:
                pytest.fail(failure, pytrace=False)
    finally:
        os.chdir(cwd)
    return namespace


@pytest.mark.parametrize("path", DOCUMENTS, ids=[str(p.relative_to(ROOT)) for p in DOCUMENTS])
def test_python_blocks_run(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MPLBACKEND", "Agg")
    blocks = python_blocks(path)
    if not blocks:
        return      # a page without Python examples (the benchmark results) has nothing to run
    run_blocks(path, tmp_path)


def test_readme_usage_example_computes_the_gradient_it_prints(tmp_path: Path) -> None:
    namespace = run_blocks(ROOT / "README.md", tmp_path)
    x = namespace["x"]
    assert x.grad is not None
    # y = relu(x xᵀ).sum() with every entry of x xᵀ positive: dy/dx = 2·(1 1ᵀ)·x
    data = x.numpy()
    assert (data @ data.T > 0).all()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.ones((2, 2)) @ data)


def test_the_finder_reports_each_block_with_its_line(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# t\n\n```python\na = 1\n```\n\n- item\n\n  ```python\n  b = a + 1\n  ```\n\n```text\nc\n```\n"
                    "\n````py\nd = b\n````\n", encoding="utf-8")
    blocks = [(b.line, b.source) for b in python_blocks(page)]
    assert blocks == [(4, "a = 1\n"), (10, "b = a + 1\n"), (18, "d = b\n")]


def test_a_failing_block_names_the_file_the_line_and_the_error(tmp_path: Path) -> None:
    page = tmp_path / "probe.md"
    page.write_text("```python\nx = 1\n```\n\ntext\n\n```python\ny = x / 0\n```\n", encoding="utf-8")
    with pytest.raises(pytest.fail.Exception) as info:
        run_blocks(page, tmp_path)
    message = str(info.value)
    assert f"{page}:8" in message
    assert "ZeroDivisionError" in message
    assert 'File "' in message and "line 8" in message   # the traceback points at the Markdown line


def test_a_block_that_runs_too_long_is_stopped_and_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.modules[__name__], "BLOCK_SECONDS", 0.2)
    page = tmp_path / "slow.md"
    page.write_text("```python\nwhile True:\n    pass\n```\n", encoding="utf-8")
    start = time.perf_counter()
    with pytest.raises(pytest.fail.Exception) as info:
        run_blocks(page, tmp_path)
    assert time.perf_counter() - start < 10
    assert f"{page}:2" in str(info.value) and "TimeoutError" in str(info.value)


def test_api_reference_fences_docstring_examples() -> None:
    pytest.importorskip("griffe", reason="the API reference's docstring extension needs the docs extra")
    spec = importlib.util.spec_from_file_location("doctest_blocks", ROOT / "docs" / "hooks" / "doctest_blocks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    fence = module.fence_doctests
    assert fence("Adds.\n\n>>> 1 + 1\n2") == "Adds.\n\n```pycon\n>>> 1 + 1\n2\n```"
    text = "Text.\n\n    >>> f(x)[0](y)\n    ... # continued\n    ['a', 'b']\n\nMore [text].\n"
    assert fence(text) == ("Text.\n\n    ```pycon\n    >>> f(x)[0](y)\n    ... # continued\n    ['a', 'b']\n"
                           "    ```\n\nMore [text].\n")
    already = "```python\n>>> 1\n```"
    assert fence(already) == already
    assert fence("no examples") == "no examples"
    # subscripts in prose are not links; in code spans and examples they stay as written
    assert fence("out[i][j] = x[index[i][j]], f[0](x), `a[i][j]`") == \
        "out[i]\\[j] = x[index[i]\\[j]], f[0]\\(x), `a[i][j]`"


def _ci_install_spec() -> str:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    specs = re.findall(r'^\.venv/bin/python -m pip install -q -e "(\.\[[^"\]]+\])"$', ci, re.M)
    assert len(specs) == 1, f".ci/run should install the project once, editable, with its extras; found {specs}"
    assert re.search(r"^\.venv/bin/python -m pytest -q$", ci, re.M), ".ci/run no longer runs the plain test suite"
    return specs[0]


def test_readme_test_command_is_what_ci_installs_and_runs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    spec = _ci_install_spec()
    command = f'python3 -m venv .venv && .venv/bin/pip install -q -e "{spec}" && .venv/bin/python -m pytest'
    assert command in readme, f"README's test command should be, as CI runs it:\n{command}"
    assert ".venv/bin/tinygrad-lite article" in readme
