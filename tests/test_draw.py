"""to_dot / draw_graph: the DOT text parsed back (nodes = ops + leaves, labels, edges), big arrays abbreviated,
a 10,000-op chain, a freed graph, rendering when Graphviz is there and a clear error when it is not."""
from __future__ import annotations

import re
import shutil
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_lite as tl
from tinygrad_lite import Tensor
from tinygrad_lite.draw import GraphvizNotFoundError, draw_graph, to_dot

NODE = re.compile(r'^  (t\d+) \[label="((?:[^"\\]|\\.)*)", (.*)\];$', re.M)
EDGE = re.compile(r'^  (t\d+) -> (t\d+)(?: \[label="(\d+)"\])?;$', re.M)


def parse(dot: str) -> tuple[dict[str, list[str]], dict[str, str], list[tuple[str, str, str | None]]]:
    """node id -> label lines, node id -> attributes, and the edges (tail, head, argument position)."""
    assert dot.startswith("digraph tinygrad_lite {\n") and dot.endswith("}\n")
    labels = {m[1]: m[2].split("\\n") for m in NODE.finditer(dot)}
    attrs = {m[1]: m[3] for m in NODE.finditer(dot)}
    edges = [(m[1], m[2], m[3]) for m in EDGE.finditer(dot)]
    body = [line for line in dot.splitlines()[1:-1] if not line.startswith(("  node ", "  edge "))]
    assert len(body) == len(labels) + len(edges), "every line is a node or an edge"
    return labels, attrs, edges


def test_the_article_network_graph() -> None:
    rng = np.random.default_rng(0)
    X, y = Tensor(rng.normal(size=(5, 2))), Tensor(rng.random((5, 1)))
    wh, wo = Tensor(rng.random((2, 4)), requires_grad=True), Tensor(rng.random((4, 1)), requires_grad=True)
    ao = ((X @ wh).sigmoid() @ wo).sigmoid()
    loss = 0.5 * ((ao - y) ** 2).sum()
    labels, attrs, edges = parse(loss.to_dot(names={"X": X, "y": y, "wh": wh, "wo": wo, "loss": loss}))
    titles = sorted(lines[0] for lines in labels.values())
    ops = ["Matmul", "Sigmoid", "Matmul", "Sigmoid", "Sub", "Square", "Sum", "loss = Mul"]
    leaves = ["X", "y", "wh", "wo", "constant 0.5"]
    assert len(labels) == len(ops) + len(leaves)
    assert titles == sorted(ops + leaves)
    shapes = {lines[0]: lines[1] for lines in labels.values()}
    assert shapes["X"] == "(5, 2) float64" and shapes["wh"] == "(2, 4) float64" and shapes["wo"] == "(4, 1) float64"
    assert shapes["loss = Mul"] == "() float64" and shapes["Sum"] == "() float64"
    by_title = {lines[0]: node for node, lines in labels.items()}
    assert "fillcolor" in attrs[by_title["wh"]] and "ellipse" in attrs[by_title["X"]]   # params vs inputs
    assert "penwidth=2" in attrs[by_title["loss = Mul"]]                                   # the result
    # X @ wh: X is argument 0 and wh argument 1 of the first matmul
    first_matmul = next(head for tail, head, _ in edges if tail == by_title["wh"])
    assert (by_title["X"], first_matmul, "0") in edges and (by_title["wh"], first_matmul, "1") in edges
    # (ao - y) ** 2 is one Square node: one edge from Sub into it (one input: no position label)
    sub = by_title["Sub"]
    assert [(head, pos) for tail, head, pos in edges if tail == sub] == [(by_title["Square"], None)]
    # every edge leads into an op, and nodes come before the ops that use them
    order = {node: i for i, node in enumerate(labels)}
    assert all(order[tail] < order[head] and labels[head][0] in ops for tail, head, _ in edges)


@given(depth=st.integers(1, 12), width=st.integers(1, 4))
def test_node_count_is_ops_plus_leaves(depth: int, width: int) -> None:
    x = Tensor(np.ones(width), requires_grad=True)
    c = Tensor(np.full(width, 2.0))
    t = x
    for i in range(depth):
        t = t * c if i % 2 else t.sin()          # a constant leaf shared by every other op
    labels, _, edges = parse(to_dot(t))
    assert len(labels) == depth + 1 + (depth >= 2)
    assert len(edges) == depth + depth // 2
    assert sum(lines[0] == "Sin" for lines in labels.values()) == (depth + 1) // 2


def test_values_and_gradients_shown_and_big_arrays_abbreviated() -> None:
    small = Tensor([1.0, -2.0], dtype="float64", requires_grad=True)
    big = Tensor(np.arange(1000.0), requires_grad=True)
    loss = (small * 3).sum() + big.mean()
    loss.backward(retain_graph=True)
    labels, _, _ = parse(to_dot(loss, show_values=True, show_grads=True, names={"small": small, "big": big}))
    by_title = {lines[0]: lines for lines in labels.values()}
    assert by_title["small"][2:] == ["value [ 1., -2.]", "grad [3., 3.]"]
    assert by_title["big"][2] == "value [0, 1, 2, …] (1000 values in [0, 999])"
    assert by_title["big"][3] == "grad [0.001, 0.001, 0.001, …] (1000 values in [0.001, 0.001])"
    plain, _, _ = parse(to_dot(loss))
    assert all(len(lines) == 2 for lines in plain.values())          # name, shape and dtype only


def test_gradients_before_backward_say_none_yet() -> None:
    w = Tensor([1.0, 2.0], requires_grad=True)
    labels, _, _ = parse(to_dot(w.sum(), show_grads=True))
    assert all(lines[-1] == "grad none yet" for lines in labels.values())


def test_a_10000_op_chain_is_walked_without_recursion() -> None:
    x = Tensor(np.ones(3), requires_grad=True)
    t = x
    for _ in range(10_000):
        t = t * 1.0001
    labels, _, edges = parse(to_dot(t))
    assert len(labels) == 10_002              # 10,000 Muls, x, and the shared constant 1.0001
    assert len(edges) == 20_000


def test_a_leaf_alone_and_a_tensor_without_graph() -> None:
    labels, _, edges = parse(to_dot(Tensor([1.0, 2.0], requires_grad=True)))
    assert list(labels.values()) == [["param", "(2,) float32"]] and edges == []
    labels, _, _ = parse(to_dot(Tensor([1.0, 2.0]) * 2))     # nothing recorded: one input-like leaf
    assert list(labels.values()) == [["input", "(2,) float32"]]


def test_a_freed_graph_is_an_error_that_says_why() -> None:
    w = Tensor([1.0, 2.0], requires_grad=True)
    loss = (w * w).sum()
    loss.backward()
    with pytest.raises(ValueError, match=r"freed by backward\(\).*retain_graph=True"):
        to_dot(loss)
    kept = (w * w).sum()
    kept.backward(retain_graph=True)
    assert "Mul" in to_dot(kept)


def test_labels_are_escaped() -> None:
    w = Tensor([1.0], requires_grad=True)
    labels, _, _ = parse(to_dot(w.sum(), names={'my "w"\\': w}))
    assert ['my \\"w\\"\\\\', "(1,) float32"] in labels.values()


def test_draw_graph_writes_dot_text_without_graphviz(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "graphviz", None)
    w = Tensor([1.0, 2.0], requires_grad=True)
    loss = w.sigmoid().sum()
    for name in ("g.dot", "g.GV"):
        out = tl.draw_graph(loss, tmp_path / name)
        assert out == tmp_path / name and out.read_text(encoding="utf-8") == to_dot(loss)


def test_draw_graph_without_graphviz_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loss = Tensor([1.0], requires_grad=True).sum()
    monkeypatch.setitem(sys.modules, "graphviz", None)
    with pytest.raises(GraphvizNotFoundError, match="graphviz Python package") as info:
        draw_graph(loss, tmp_path / "g.svg")
    assert "pip install graphviz" in str(info.value) and "apt-get install graphviz" in str(info.value)
    monkeypatch.setitem(sys.modules, "graphviz", types.ModuleType("graphviz"))   # the package, but no `dot`
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(GraphvizNotFoundError, match="`dot` program, which is not on PATH"):
        draw_graph(loss, tmp_path / "g.png")
    assert list(tmp_path.iterdir()) == []


def test_draw_graph_rejects_an_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"draw_graph: cannot tell the graph's format from .*\.svg, \.png"):
        draw_graph(Tensor([1.0], requires_grad=True).sum(), tmp_path / "g.jpeg")


@pytest.mark.parametrize("suffix, magic", [(".svg", b"<?xml"), (".png", b"\x89PNG"), (".pdf", b"%PDF")])
def test_draw_graph_renders_with_graphviz(tmp_path: Path, suffix: str, magic: bytes) -> None:
    pytest.importorskip("graphviz", reason="rendering needs the graphviz Python package (pip install graphviz)")
    if shutil.which("dot") is None:
        pytest.skip("rendering needs Graphviz's `dot` program (apt-get install graphviz)")
    w = Tensor([[1.0, 2.0]], requires_grad=True)
    loss = (w @ Tensor([[3.0], [4.0]])).tanh().sum()
    out = draw_graph(loss, tmp_path / f"graph{suffix}", names={"w": w})
    data = out.read_bytes()
    assert data.startswith(magic)
    if suffix == ".svg":
        assert "Tanh" in data.decode() and "Matmul" in data.decode()
