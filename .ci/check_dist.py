"""Check what the built wheel and sdist in DIST hold (run by .ci/run after `python -m build --outdir DIST`).

The wheel: every module of the source package, `py.typed`, the `tinygrad-lite` command, the version of
`tinygrad_lite/__init__.py`, the MIT licence, and nothing else (no tests, docs or benchmarks).
The sdist: what the tests, the README and the documentation site need, so its tests can run.
Exit status 1 with one line per problem.
"""
from __future__ import annotations

import ast
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "tinygrad_lite"


def source_version() -> str:
    """`__version__` of the package's __init__.py, read without importing it."""
    tree = ast.parse((ROOT / PACKAGE / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__version__" for t in node.targets):
            return str(ast.literal_eval(node.value))
    raise SystemExit(f"{PACKAGE}/__init__.py defines no __version__")


def source_files(*patterns: str) -> set[str]:
    """Repository files matching the glob patterns, as relative POSIX paths, caches left out."""
    found = {p.relative_to(ROOT).as_posix() for pattern in patterns for p in ROOT.glob(pattern) if p.is_file()}
    return {f for f in found if "__pycache__" not in f and not f.endswith((".pyc", ".pyo"))}


def check_wheel(wheel: Path, version: str) -> list[str]:
    problems: list[str] = []
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        info = f"{PACKAGE}-{version}.dist-info"
        metadata = Parser().parsestr(zf.read(f"{info}/METADATA").decode()) if f"{info}/METADATA" in names else None
        entry_points = zf.read(f"{info}/entry_points.txt").decode() if f"{info}/entry_points.txt" in names else ""
    if metadata is None:
        return [f"{wheel.name}: no {info}/METADATA (is the version {version}?)"]
    if metadata["Version"] != version:
        problems.append(f"{wheel.name}: Version {metadata['Version']}, the source says {version}")
    if metadata["License-Expression"] != "MIT":
        problems.append(f"{wheel.name}: License-Expression {metadata['License-Expression']!r}, expected 'MIT'")
    missing = source_files(f"{PACKAGE}/**/*.py", f"{PACKAGE}/py.typed") - names
    problems += [f"{wheel.name}: {name} is missing" for name in sorted(missing)]
    stray = sorted(n for n in names if not n.startswith((f"{PACKAGE}/", f"{info}/")))
    problems += [f"{wheel.name}: {name} does not belong in the wheel" for name in stray]
    if "tinygrad-lite = tinygrad_lite.cli:main" not in entry_points:
        problems.append(f"{wheel.name}: no `tinygrad-lite` console script in entry_points.txt")
    return problems


def check_sdist(sdist: Path, version: str) -> list[str]:
    top = f"{PACKAGE}-{version}/"
    with tarfile.open(sdist) as tf:
        names = {n.removeprefix(top) for n in tf.getnames()}
    needed = source_files(f"{PACKAGE}/**/*.py", f"{PACKAGE}/py.typed", "tests/**/*.py", "docs/**/*",
                          "benchmarks/**/*.py", "benchmarks/*.md", "README.md", "CHANGELOG.md", "LICENSE",
                          "pyproject.toml", "mkdocs.yml", ".ci/*")
    return [f"{sdist.name}: {name} is missing" for name in sorted(needed - names)]


def main(dist: Path) -> int:
    version = source_version()
    wheels, sdists = sorted(dist.glob("*.whl")), sorted(dist.glob("*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        print(f"expected one wheel and one sdist in {dist}, found {[p.name for p in wheels + sdists]}")
        return 1
    problems = check_wheel(wheels[0], version) + check_sdist(sdists[0], version)
    for problem in problems:
        print(problem)
    if not problems:
        print(f"{wheels[0].name} and {sdists[0].name}: contents and metadata as expected")
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: check_dist.py DIST_DIR")
    sys.exit(main(Path(sys.argv[1])))
