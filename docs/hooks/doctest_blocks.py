"""A griffe extension for the API reference: the package's plain-text docstrings made safe for Markdown.

The docstrings are prose followed by `>>>` examples (run by doctest-style tests), not Google or NumPy
sections, and they are not written as Markdown. Two things would go wrong when Markdown reads them:

- examples would be reflowed into a paragraph, with `f(x)[0](y)` or `['a', 'b']` read as links: a run
  of lines from a `>>>` line to the next blank line (prompts, continuations and expected output) is
  fenced as ```pycon, as it stands;
- subscripts in prose, `out[i][j] = x[index[i][j]]`, would be read as reference links: outside code,
  `][` and `](` get their bracket escaped, so they print as written.

Nothing else in the docstring changes.
"""
from __future__ import annotations

import re
from typing import Any

import griffe

_PROMPT = re.compile(r"^(?P<indent>[ \t]*)>>>( |$)")


def fence_doctests(text: str) -> str:
    """`text` with each doctest run (from a `>>>` line to the next blank line) inside a ```pycon fence.

    The lines `>>> 1 + 1` and `2` come back between a ```pycon line and a ``` line; an example already
    inside a fence is left alone (tests/test_docs_snippets.py checks both).
    """
    lines = text.split("\n")
    out: list[str] = []
    i, inside_fence = 0, False
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith("```"):
            inside_fence = not inside_fence      # an example already fenced by its author stays as it is
        prompt = None if inside_fence else _PROMPT.match(line)
        if prompt is None:
            out.append(line if inside_fence or line.lstrip().startswith("```") else _escape_subscripts(line))
            i += 1
            continue
        indent = prompt["indent"]
        out.append(f"{indent}```pycon")
        while i < len(lines) and lines[i].strip():
            out.append(lines[i])
            i += 1
        out.append(f"{indent}```")
    return "\n".join(out)


def _escape_subscripts(line: str) -> str:
    """`a[i][j]` and `f[i](x)` outside `code spans` with the second bracket escaped: no link is meant."""
    parts = line.split("`")
    for k in range(0, len(parts), 2):       # the even parts lie outside code spans
        parts[k] = parts[k].replace("][", "]\\[").replace("](", "]\\(")
    return "`".join(parts)


class DoctestBlocks(griffe.Extension):
    """Fence the doctest examples of every docstring griffe loads."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = fence_doctests(obj.docstring.value)
