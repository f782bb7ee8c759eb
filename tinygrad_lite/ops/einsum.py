"""Einstein summation: `Einsum` runs `np.einsum` on a canonical formula (explicit output, every `...` spelled
out as letters), and its VJP is one more einsum per operand.

The gradient of operand i is the einsum of the incoming gradient with the other operands, written out to
operand i's subscripts. Two cases need help, both handled inside that same einsum with constant operands:
a letter repeated within operand i (a diagonal, `ii->i`) gets a fresh letter tied to the first by an
identity matrix, and a letter only operand i has (summed away, `ij->i`) gets a vector of ones, which
broadcasts the gradient along it. Broadcast size-1 axes are summed back by the engine, as for every op.

>>> import numpy as np
>>> from tinygrad_lite.ops.einsum import parse
>>> parse("ij,jk", [(2, 3), (3, 4)])
(('ij', 'jk'), 'ik')
>>> parse("...ij->...ji", [(5, 2, 3)])
(('Aij',), 'Aji')
"""
from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..function import Function, register
from ._batch_util import batch_size
from ._jvp_util import plus
from .movement import Cat, Reshape

LETTERS = string.ascii_uppercase + string.ascii_lowercase  # ASCII order: the implicit output's order


def parse(formula: str, shapes: Sequence[tuple[int, ...]]) -> tuple[tuple[str, ...], str]:
    """The input terms and the output term of `formula` for operands of `shapes`, with each `...` replaced by
    letters the formula does not use (right-aligned across operands, as NumPy broadcasts) and the output made
    explicit (implicit mode: the broadcast axes, then the letters used once, in ASCII order; an explicit
    output without `...` sums the broadcast axes, as PyTorch). A ValueError names what is wrong."""
    if not isinstance(formula, str):
        raise TypeError(f"einsum: the formula must be a str, got {type(formula).__name__}")
    text = formula.replace(" ", "")
    if text.count("->") > 1:
        raise ValueError(f"einsum: formula {formula!r} has more than one '->'")
    lhs, arrow, rhs = text.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"einsum: formula {formula!r} names {len(terms)} operand(s), got {len(shapes)}")
    for term in [*terms, rhs]:
        bad = set(term.replace("...", "")) - set(LETTERS)
        if bad or term.count("...") > 1:
            what = f"characters {sorted(bad)}" if bad else "more than one '...'"
            raise ValueError(f"einsum: term {term!r} of {formula!r} has {what} (subscripts are letters a-z, A-Z, "
                             f"with at most one '...')")
    used = set(lhs.replace("...", "")) | set(rhs.replace("...", ""))
    free = [c for c in LETTERS if c not in used]
    spans = []
    for term, shape in zip(terms, shapes):
        named = len(term.replace("...", ""))
        span = len(shape) - named
        if span < 0 or (span > 0 and "..." not in term):
            raise ValueError(f"einsum: term {term!r} of {formula!r} has {named} subscript(s) for an operand of "
                             f"shape {shape}" + ("" if "..." in term else " (use '...' for the other axes)"))
        spans.append(span)
    width = max(spans, default=0)
    if width > len(free):
        raise ValueError(f"einsum: {formula!r} needs more letters than are left for its '...' axes")
    batch = "".join(free[:width])
    inputs = tuple(t.replace("...", batch[width - s:]) for t, s in zip(terms, spans))
    if arrow:
        output = rhs.replace("...", batch)  # without '...', the broadcast axes are summed (PyTorch's reading)
        for c in output:
            if output.count(c) > 1:
                raise ValueError(f"einsum: output subscript {c!r} of {formula!r} appears more than once")
            if not any(c in t for t in inputs):
                raise ValueError(f"einsum: output subscript {c!r} of {formula!r} names no input axis")
    else:
        joined = "".join(t.replace("...", "") for t in terms)
        output = batch + "".join(sorted(c for c in set(joined) if joined.count(c) == 1))
    sizes: dict[str, int] = {}
    for term, shape in zip(inputs, shapes):
        for c, n in zip(term, shape):
            if sizes.get(c, 1) != 1 and n != 1 and sizes[c] != n:
                raise ValueError(f"einsum: subscript {c!r} of {formula!r} has sizes {sizes[c]} and {n} in operands "
                                 f"of shapes {list(shapes)}")
            sizes[c] = max(sizes.get(c, 1), n)
    return inputs, output


def canonical(formula: str, shapes: Sequence[tuple[int, ...]]) -> str:
    """`formula` with explicit output and no `...`, ready for np.einsum."""
    inputs, output = parse(formula, shapes)
    return ",".join(inputs) + "->" + output


def _sizes(terms: Sequence[str], shapes: Sequence[tuple[int, ...]]) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for term, shape in zip(terms, shapes):
        for c, n in zip(term, shape):
            sizes[c] = max(sizes.get(c, 1), n)
    return sizes


@register
class Einsum(Function):
    """d einsum(f, x₀, …, xₙ)/dxᵢ · g = einsum of g with the other operands, written to xᵢ's subscripts
    (identity matrices for repeated subscripts, ones for subscripts only xᵢ has). `formula` must be canonical
    (see `canonical`)."""

    __slots__ = ("formula",)

    def forward(self, *xs: np.ndarray, formula: str) -> np.ndarray:
        self.formula = formula
        # optimize= lets NumPy contract pairs with BLAS (tensordot) and pick an order for three or more
        return np.einsum(formula, *xs, optimize=len(xs) > 1)  # type: ignore[no-any-return]

    def vjp(self, g: Any, out: Any, *xs: Any) -> tuple[Any, ...]:
        lhs, output = self.formula.split("->")
        terms = lhs.split(",")
        sizes = _sizes([*terms, output], [*(x.shape for x in xs), g.shape])
        grads: list[Any] = []
        for i, (term, need) in enumerate(zip(terms, self.needs_grad)):
            if not need:
                grads.append(None)
                continue
            subs, ops = [output], [g]
            for j, (other, x) in enumerate(zip(terms, xs)):
                if j != i:
                    subs.append(other)
                    ops.append(x)
            reachable = set("".join(subs))
            used = set("".join(terms)) | set(output)
            free = iter(c for c in LETTERS if c not in used)
            target = ""
            for c in term:
                if c in target:  # a diagonal: a fresh letter, tied to c by an identity matrix
                    fresh = next(free)
                    subs.append(c + fresh)
                    ops.append(np.eye(sizes[c], dtype=g.dtype))
                    target += fresh
                else:
                    target += c
            for c in dict.fromkeys(term):
                if c not in reachable:  # summed inside operand i alone: the gradient is constant along c
                    subs.append(c)
                    ops.append(np.ones(sizes[c], dtype=g.dtype))
            grads.append(Einsum.call(*ops, formula=",".join(subs) + "->" + target))
        return tuple(grads)

    def jvp(self, tangents: tuple[Any, ...], out: Any, *xs: Any) -> Any:
        # Multilinear: one einsum per operand with a tangent, that operand replaced by its tangent.
        total = None
        for i, dx in enumerate(tangents):
            if dx is not None:
                total = plus(total, Einsum.call(*xs[:i], dx, *xs[i + 1:], formula=self.formula))
        return total

    def batch(self, batched: tuple[bool, ...], *xs: Any, **params: Any) -> Any:
        # The batch axis as one more letter, in front of each batched operand's subscripts and of the output's.
        formula = params["formula"]
        lhs, output = formula.split("->")
        free = [c for c in LETTERS if c not in formula]
        if not free:  # every letter taken: the examples one by one, stacked
            n = batch_size(batched, xs)
            rows = [Einsum.call(*(x[b] if f else x for x, f in zip(xs, batched)), formula=formula) for b in range(n)]
            return Cat.call(*(Reshape.call(r, shape=(1, *r.shape)) for r in rows), axis=0)
        letter = free[0]
        terms = [letter + t if f else t for t, f in zip(lhs.split(","), batched)]
        return Einsum.call(*xs, formula=",".join(terms) + "->" + letter + output)
