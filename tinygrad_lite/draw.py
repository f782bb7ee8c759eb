"""See the graph behind a result: Graphviz DOT text (`to_dot`) and a rendered picture (`draw_graph`).

One node per recorded op (its primitive's name, the shape and dtype of its result) and one per
leaf: parameters (tensors with requires_grad), inputs and constants. Edges run from each input
to the op that used it, numbered by argument position when the op has several. Values and
gradients can be shown too, abbreviated for big arrays.

>>> import tinygrad_lite as tl
>>> w = tl.Tensor([[0.5], [-0.5]], requires_grad=True)
>>> loss = (tl.Tensor([[1.0, 2.0]]) @ w).sigmoid().sum()
>>> dot = to_dot(loss, names={"w": w})
>>> dot.count("shape=")          # one per node: 3 ops (Matmul, Sigmoid, Sum), 2 leaves (the input, w)
5

The walk is iterative, so a graph of any depth can be drawn. After `backward()` has freed the
graph there is nothing left to walk; draw before it, or call `backward(retain_graph=True)`.
"""
from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .tensor import Tensor

__all__ = ["GraphvizNotFoundError", "draw_graph", "graph_format", "require_graphviz", "to_dot"]

RENDERED = ("svg", "png", "pdf")    # formats drawn by Graphviz's `dot` program
TEXT = ("dot", "gv")                # formats written as DOT text, no Graphviz needed
INSTALL = ("`pip install graphviz` (the Python package) and `apt-get install graphviz` (the `dot` program; "
           "`brew install graphviz` on macOS)")

FREED = ("the graph behind this tensor was freed by backward(), so there is nothing left to draw: draw it before "
         "backward(), or call backward(retain_graph=True) to keep it (show_grads=True needs that)")

_STYLE = {
    "op": 'shape=box, style="rounded"',
    "param": 'shape=box, style="filled", fillcolor="#cfe2ff"',
    "input": 'shape=ellipse, color="#777777"',
    "constant": 'shape=plaintext, fontcolor="#555555"',
}


class GraphvizNotFoundError(RuntimeError):
    """Rendering to SVG/PNG/PDF needs the graphviz Python package and Graphviz's `dot` program."""


def _abbreviate(a: np.ndarray, max_elements: int) -> str:
    """All values of a small array; for a big one the first few and the range."""
    a = np.asarray(a)
    if a.size <= max_elements:
        return np.array2string(a, precision=4, separator=", ", suppress_small=True, max_line_width=48)
    flat = a.reshape(-1)
    head = ", ".join(f"{v:.4g}" for v in flat[:3].tolist())
    if a.dtype.kind in "biuf":
        with np.errstate(invalid="ignore"):
            low, high = np.nanmin(flat), np.nanmax(flat)
        return f"[{head}, …] ({a.size} values in [{low:.4g}, {high:.4g}])"
    return f"[{head}, …] ({a.size} values)"


def _walk(root: Tensor) -> list[Tensor]:
    """Every tensor the root was computed from, inputs before the ops that use them; no recursion."""
    seen: set[int] = set()
    ops: list[Tensor] = []
    leaves: dict[int, Tensor] = {}
    stack = [root]
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        ctx = t._ctx
        if ctx is None:
            leaves[id(t)] = t
            continue
        parents = ctx.parents
        if parents is None:
            raise ValueError(FREED if t is root else f"{FREED} (the node {type(ctx).__name__} "
                                                    f"{t.shape} {t.dtype} below this tensor is freed)")
        ops.append(t)
        stack.extend(parents)
    ops.sort(key=lambda t: t._ctx.seq)  # type: ignore[union-attr]  # creation order: inputs come first
    order: list[Tensor] = []
    placed: set[int] = set()
    for op in ops:                            # each leaf just before the first op that uses it
        for p in op._ctx.parents:             # type: ignore[union-attr]  # checked non-None above
            if id(p) in leaves and id(p) not in placed:
                placed.add(id(p))
                order.append(p)
        order.append(op)
    if not ops:
        order.append(root)
    return order


def _kind(t: Tensor) -> str:
    if t._ctx is not None:
        return "op"
    if t.requires_grad:
        return "param"
    return "constant" if t.ndim == 0 else "input"


def _label(t: Tensor, name: str | None, show_values: bool, show_grads: bool, max_elements: int) -> str:
    kind = _kind(t)
    if kind == "op":
        title = type(t._ctx).__name__ if name is None else f"{name} = {type(t._ctx).__name__}"
    elif kind == "constant" and name is None:
        title = f"constant {t.item():.6g}" if t.dtype.kind in "biuf" else "constant"
    else:
        title = name if name is not None else kind
    lines = [title, f"{t.shape} {t.dtype}"]
    if show_values and not (kind == "constant" and name is None):
        lines.append("value " + _abbreviate(t.data, max_elements))
    if show_grads and t.requires_grad:
        g = t.grad
        lines.append("grad " + ("none yet" if g is None else _abbreviate(g.data, max_elements)))
    return "\n".join(lines)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(t: Tensor, show_values: bool = False, show_grads: bool = False, *,
           names: Mapping[str, Tensor] | None = None, max_elements: int = 6) -> str:
    """The graph that computed `t`, as Graphviz DOT text.

    One node per op (primitive name, result shape and dtype) and per leaf: parameters (requires_grad;
    filled boxes), inputs (ellipses) and scalar constants (shown with their value). `names` maps labels
    to tensors, e.g. `dict(model.named_parameters())` or `{"X": X}`. `show_values` / `show_grads` add
    each node's value / `.grad`, in full up to `max_elements` entries, else abbreviated. The result
    node is drawn with a thick border. Raises ValueError if backward() has freed the graph.

    >>> import tinygrad_lite as tl
    >>> x = tl.Tensor(2.0, requires_grad=True)
    >>> print(to_dot(x * x), end="")
    digraph tinygrad_lite {
      node [fontname="Helvetica", fontsize=10];
      edge [fontname="Helvetica", fontsize=9];
      t0 [label="param\\n() float32", shape=box, style="filled", fillcolor="#cfe2ff"];
      t1 [label="Mul\\n() float32", shape=box, style="rounded", penwidth=2];
      t0 -> t1 [label="0"];
      t0 -> t1 [label="1"];
    }
    """
    by_id = {id(v): k for k, v in (names or {}).items()}
    order = _walk(t)
    node_ids = {id(n): f"t{i}" for i, n in enumerate(order)}
    lines = ["digraph tinygrad_lite {", '  node [fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=9];']
    for n in order:
        label = _label(n, by_id.get(id(n)), show_values, show_grads, max_elements)
        bold = ", penwidth=2" if n is t else ""
        lines.append(f"  {node_ids[id(n)]} [label={_quote(label)}, {_STYLE[_kind(n)]}{bold}];")
    for n in order:
        if n._ctx is None:
            continue
        parents = n._ctx.parents or ()
        for pos, p in enumerate(parents):
            edge_label = f' [label="{pos}"]' if len(parents) > 1 else ""
            lines.append(f"  {node_ids[id(p)]} -> {node_ids[id(n)]}{edge_label};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def graph_format(path: str | Path) -> str:
    """The format `draw_graph` writes for `path` ("svg", "png", "pdf", "dot", "gv"), from its suffix."""
    fmt = Path(path).suffix.lower().lstrip(".")
    if fmt not in RENDERED + TEXT:
        raise ValueError(f"cannot tell the graph's format from {str(path)!r}; end the name with "
                         f"{', '.join('.' + f for f in RENDERED + TEXT)}")
    return fmt


def require_graphviz(fmt: str) -> Any:
    """The graphviz module, or GraphvizNotFoundError saying what is missing and how to install it."""
    try:
        import graphviz
    except ImportError:
        raise GraphvizNotFoundError(f"drawing a .{fmt} file needs the graphviz Python package, which is not "
                                    f"installed: {INSTALL}. Without them, save the graph as .dot (or use to_dot()) "
                                    f"and render it elsewhere.") from None
    if shutil.which("dot") is None:
        raise GraphvizNotFoundError(f"drawing a .{fmt} file needs Graphviz's `dot` program, which is not on PATH: "
                                    f"{INSTALL}. Without it, save the graph as .dot (or use to_dot()) and render it "
                                    f"elsewhere.")
    return graphviz


def _render(dot: str, fmt: str) -> bytes:
    graphviz = require_graphviz(fmt)
    try:
        return bytes(graphviz.Source(dot).pipe(format=fmt))
    except graphviz.ExecutableNotFound as exc:
        raise GraphvizNotFoundError(f"Graphviz's `dot` program could not be run ({exc}): {INSTALL}") from None


def draw_graph(t: Tensor, path: str | Path, *, show_values: bool = False, show_grads: bool = False,
               names: Mapping[str, Tensor] | None = None, max_elements: int = 6) -> Path:
    """Write the graph behind `t` to `path`; the suffix picks the format. Returns the path.

    `.svg`, `.png` and `.pdf` are drawn by Graphviz (the `graphviz` Python package and the `dot`
    program; GraphvizNotFoundError says how to install them if either is missing); `.dot` / `.gv` are
    written as DOT text and need nothing. The other arguments are those of `to_dot`.

    >>> import tempfile, tinygrad_lite as tl
    >>> x = tl.Tensor([1.0, 2.0], requires_grad=True)
    >>> out = tl.draw_graph((x * 3).sum(), Path(tempfile.mkdtemp()) / "graph.dot")
    >>> out.read_text().startswith("digraph")
    True
    """
    path = Path(path)
    try:
        fmt = graph_format(path)
    except ValueError as exc:
        raise ValueError(f"draw_graph: {exc}") from None
    dot = to_dot(t, show_values, show_grads, names=names, max_elements=max_elements)
    if fmt in TEXT:
        path.write_text(dot, encoding="utf-8")
    else:
        path.write_bytes(_render(dot, fmt))
    return path
