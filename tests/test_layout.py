"""The package's module layout: every module imports on its own in a fresh interpreter, and the graph of
imports between the package's modules has no cycle.

The graph is read from the source (ast), so it also sees imports made inside functions (a cycle hidden
behind a late import is still a cycle), but not those under `if TYPE_CHECKING:` (annotations only).
`from X import name` is an edge to the module X.name when that is a module, else to X itself; the
parent packages Python initialises on the way are not edges (they run first, whoever imports what)."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "tinygrad_lite"


# --- the modules ----------------------------------------------------------------------------------------------
def modules(root: Path, package: str) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file of the package (a package is its __init__.py)."""
    found = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if any(p.startswith(".") or p == "__pycache__" for p in parts):
            continue
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def test_the_module_walk_finds_the_package() -> None:
    found = modules(ROOT, PACKAGE)
    assert {PACKAGE, f"{PACKAGE}.tensor", f"{PACKAGE}.node", f"{PACKAGE}.ops", f"{PACKAGE}.ops.unary",
            f"{PACKAGE}.jit.trace", f"{PACKAGE}.nn.functional"} <= set(found)
    assert len(found) > 40


# Run in one new interpreter: it imports what the package imports from outside itself (NumPy and the standard
# library, not under test) once, then forks a child per module, a few at a time. Each child starts with no
# module of the package loaded and imports just the one it is given, so each module is the first the package
# sees, at a fraction of a new process's cost. Arguments: the outside modules, "--", the package's modules.
DRIVER = r"""
import importlib, os, sys, tempfile, traceback

split = sys.argv.index("--")
for outside in sys.argv[1:split]:
    try:
        importlib.import_module(outside)
    except ImportError:
        pass  # an optional dependency: the child that needs it will say so

def child(name, log):
    os.dup2(log.fileno(), 2)
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    if name.endswith(".__main__"):
        sys.argv = ["tinygrad-lite", "--help"]  # a __main__ runs on import: ask it only for its help
    try:
        importlib.import_module(name)
    except SystemExit as exc:
        os._exit(0 if exc.code in (0, None) else 1)
    except BaseException:
        traceback.print_exc()
        os._exit(1)
    os._exit(0)

running, failed = {}, []
def reap():
    pid, status = os.wait()
    name, log = running.pop(pid)
    if status != 0:
        log.seek(0)
        lines = log.read().decode(errors="replace").strip().splitlines()
        failed.append(f"{name}: {lines[-1] if lines else 'exit status ' + str(status)}")
    log.close()

for name in sys.argv[split + 1:]:
    if len(running) >= 3:
        reap()
    log = tempfile.TemporaryFile()
    pid = os.fork()
    if pid == 0:
        child(name, log)
    running[pid] = (name, log)
while running:
    reap()
print("\n".join(failed))
sys.exit(1 if failed else 0)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the driver forks one child per module (POSIX only)")
def test_every_module_imports_first_in_a_fresh_interpreter() -> None:
    """Each module is the first of the package a new interpreter imports: an import cycle that only bites
    in some import order (a module needed before the one importing it has finished) fails here."""
    names = sorted(modules(ROOT, PACKAGE))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    outside = outside_imports(ROOT, PACKAGE)
    assert "numpy" in outside and not [m for m in outside if m.split(".")[0] == PACKAGE]
    done = subprocess.run([sys.executable, "-c", DRIVER, *outside, "--", *names], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"modules that fail to import first:\n{done.stdout}{done.stderr}"


def test_the_driver_reports_a_module_that_fails_to_import(tmp_path: Path) -> None:
    write(tmp_path, {"pkg/__init__.py": "", "pkg/fine.py": "import pkg.also_fine\n", "pkg/also_fine.py": "",
                     "pkg/broken.py": "from pkg.fine import missing_name\n"})
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", DRIVER, "json", "--", "pkg.fine", "pkg.broken", "pkg.also_fine"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stdout.strip() == "pkg.broken: ImportError: cannot import name 'missing_name' from 'pkg.fine' " \
                                  f"({tmp_path / 'pkg' / 'fine.py'})"


# --- the import graph -----------------------------------------------------------------------------------------
def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth, except in the body of `if TYPE_CHECKING:` (its else runs)."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (see the module docstring for what counts)."""
    mods = modules(root, package)
    graph: dict[str, set[str]] = {name: set() for name in mods}
    for name, path in mods.items():
        here = name if path.name == "__init__.py" else name.rpartition(".")[0]  # the package `.` means
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                if node.level:
                    base_parts = here.split(".")
                    base = ".".join(base_parts[:len(base_parts) - node.level + 1])
                    source = f"{base}.{node.module}" if node.module else base
                else:
                    source = node.module or ""
                targets = [f"{source}.{a.name}" if f"{source}.{a.name}" in mods else source for a in node.names]
            for target in targets:
                while target and target not in mods and "." in target:  # `import a.b.c` of a non-module c
                    target = target.rpartition(".")[0]
                if target in mods and target != name:
                    graph[name].add(target)
    return graph


def outside_imports(root: Path, package: str) -> list[str]:
    """The modules from outside the package that its modules import when they load (module level, run time)."""
    found = set()
    for path in modules(root, package).values():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in tree.body:
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                found.add(node.module)
    return sorted(m for m in found if m.split(".")[0] != package and m != "__future__")


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as [a, b, ..., a], or None. Iterative DFS with white/grey/black colouring."""
    colour = dict.fromkeys(graph, 0)
    for start in sorted(graph):
        if colour[start]:
            continue
        path, stack = [start], [iter(sorted(graph[start]))]
        colour[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                colour[path.pop()] = 2
                stack.pop()
            elif colour[nxt] == 1:
                return path[path.index(nxt):] + [nxt]
            elif colour[nxt] == 0:
                colour[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph[nxt])))
    return None


def _cycle_now() -> str:
    cycle = find_cycle(import_graph(ROOT, PACKAGE))
    return "no cycle" if cycle is None else " -> ".join(cycle)


def test_the_package_import_graph_has_no_cycle() -> None:
    cycle = find_cycle(import_graph(ROOT, PACKAGE))
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_graph_sees_what_the_layout_promises() -> None:
    """tensor.py assembles the class from the mixins; nothing below it imports it at run time."""
    graph = import_graph(ROOT, PACKAGE)
    assert f"{PACKAGE}.node" in graph[f"{PACKAGE}.tensor"] and f"{PACKAGE}._elementwise" in graph[f"{PACKAGE}.tensor"]
    below = [f"{PACKAGE}.node", f"{PACKAGE}.function", f"{PACKAGE}.engine", f"{PACKAGE}._elementwise",
             f"{PACKAGE}.ops.unary", f"{PACKAGE}.ops.binary"]
    for name in below:
        assert f"{PACKAGE}.tensor" not in graph[name], f"{name} imports tensor.py at run time"


# --- the graph builder on made-up packages --------------------------------------------------------------------------
def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_a_cycle_through_a_late_import_is_found_and_type_checking_is_not(tmp_path: Path) -> None:
    write(tmp_path, {
        "pkg/__init__.py": "from .a import f\n",
        "pkg/a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .c import C\n"
                    "def f():\n    from . import b\n    return b\n",
        "pkg/b.py": "import pkg.sub.c\n",
        "pkg/sub/__init__.py": "",
        "pkg/sub/c.py": "from .. import a\nfrom ..a import f\n",
        "pkg/c.py": "from . import a\n",
    })
    graph = import_graph(tmp_path, "pkg")
    assert graph["pkg"] == {"pkg.a"}
    assert graph["pkg.a"] == {"pkg.b"}  # the TYPE_CHECKING import of pkg.c is not an edge
    assert graph["pkg.b"] == {"pkg.sub.c"}
    assert graph["pkg.sub.c"] == {"pkg.a"}  # `from .. import a` is the submodule a, not the package
    assert graph["pkg.c"] == {"pkg.a"}
    assert find_cycle(graph) == ["pkg.a", "pkg.b", "pkg.sub.c", "pkg.a"]


def test_importing_a_name_from_the_parent_package_is_an_edge_to_its_init(tmp_path: Path) -> None:
    write(tmp_path, {
        "pkg/__init__.py": "from .core import Thing\nfrom . import tools\n",
        "pkg/core.py": "class Thing: ...\n",
        "pkg/tools.py": "from . import core\nfrom pkg import Thing\n",  # Thing lives in __init__'s namespace
    })
    graph = import_graph(tmp_path, "pkg")
    assert graph["pkg.tools"] == {"pkg.core", "pkg"}
    assert find_cycle(graph) == ["pkg", "pkg.tools", "pkg"]
    write(tmp_path, {"pkg/tools.py": "from . import core\nfrom .core import Thing\n"})
    assert find_cycle(import_graph(tmp_path, "pkg")) is None


@pytest.mark.parametrize("graph, cycle", [
    ({"a": {"b"}, "b": {"c"}, "c": set()}, None),
    ({"a": {"b", "c"}, "b": {"c"}, "c": set()}, None),  # a diamond is no cycle
    ({"a": {"b"}, "b": {"c"}, "c": {"b"}}, ["b", "c", "b"]),
])
def test_find_cycle(graph: dict[str, set[str]], cycle: list[str] | None) -> None:
    assert find_cycle(graph) == cycle
