"""check_backprop's comparison of two gradients and the messages a learner reads when they differ.

`compare` looks at one parameter at one example; `Evidence` gathers, across every example the
search tried, how far the user's gradient was from autodiff's; `explain` turns both into the
text of the AssertionError, with a hint when the pattern of the error suggests a usual mistake.
"""
from __future__ import annotations

import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

Arrays = dict[str, np.ndarray]


@dataclass
class Example:
    """One drawn point: the parameters' and inputs' values, and the sizes named in the shapes."""

    params: Arrays
    inputs: Arrays
    dims: dict[str, int] = field(default_factory=dict)
    title: str = "The smallest example hypothesis found:"   # how the message introduces it

    def text(self) -> str:
        """Every value, one per line: `name = array   (param)`."""
        width = max(len(n) for n in [*self.params, *self.inputs])
        lines = []
        for role, arrays in (("param", self.params), ("input", self.inputs)):
            for name, value in arrays.items():
                head = f"    {name:<{width}} = "
                lines.append(f"{head}{_array_text(value, len(head))}   ({role})")
        return "\n".join(lines)


@dataclass
class Mismatch:
    """Where the user's gradient of one parameter differs from autodiff's at one example."""

    name: str
    shape: tuple[int, ...]
    count: int               # entries outside the tolerance
    index: tuple[int, ...]   # the entry furthest outside it
    yours: float
    autodiff: float
    ratios: np.ndarray       # yours / autodiff at the differing entries where autodiff is not ~0
    yours_zero: bool         # the user's gradient is 0 at every differing entry
    autodiff_finite: bool
    unreachable: bool        # autodiff found no path from the loss to this parameter

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))


def compare(name: str, yours: np.ndarray, auto: np.ndarray, rtol: float, atol: float,
            unreachable: bool) -> tuple[Mismatch | None, float, float]:
    """(the mismatch or None, the largest |yours - autodiff|, the largest |yours - autodiff| in units of
    the tolerance atol + rtol·|autodiff|, so that 1 is the limit)."""
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        close = np.isclose(yours, auto, rtol=rtol, atol=atol, equal_nan=True)
        diff = np.where(close & ~np.isfinite(auto), 0.0, np.abs(yours - auto))   # equal infs/nans: no difference
        diff = np.where(np.isnan(diff), np.inf, diff)                              # nan on one side only
        scaled = diff / (atol + rtol * np.abs(auto))
    scaled = np.where(close, np.minimum(np.nan_to_num(scaled, nan=0.0), 1.0),
                      np.where(np.isnan(scaled), np.inf, scaled))    # nan on one side only: as far off as it gets
    max_diff = float(diff.max(initial=0.0))
    worst = float(scaled.max(initial=0.0))
    if close.all():
        return None, max_diff, worst
    flat = int(np.argmax(scaled))
    index = tuple(int(i) for i in np.unravel_index(flat, auto.shape))
    off = ~close
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        meaningful = off & np.isfinite(auto) & np.isfinite(yours) & (np.abs(auto) > max(atol, 1e-300))
        ratios = (yours[meaningful] / auto[meaningful]).astype(np.float64)
    mismatch = Mismatch(name, auto.shape, int(off.sum()), index, float(yours[index]), float(auto[index]), ratios,
                        bool(np.all(yours[off] == 0)), bool(np.all(np.isfinite(auto[off]))), unreachable)
    return mismatch, max_diff, worst


@dataclass
class Evidence:
    """yours / autodiff over the differing entries of every failing example of one parameter."""

    LIMIT = 100_000     # ratios kept; enough for the spread, bounded for long searches

    examples: int = 0
    ratios: list[float] = field(default_factory=list)

    def add(self, m: Mismatch) -> None:
        self.examples += 1
        self.ratios.extend(m.ratios[: self.LIMIT - len(self.ratios)].tolist())

    @property
    def constant(self) -> float | None:
        """The one factor yours / autodiff, if it was the same (to 1e-6) at two or more entries."""
        if len(self.ratios) < 2:
            return None
        low, high = min(self.ratios), max(self.ratios)
        middle = (low + high) / 2
        return middle if high - low <= 1e-6 * abs(middle) else None

    def spread(self) -> tuple[float, float]:
        """The range of the middle 80% of the ratios seen (outliers come from entries where autodiff is ~0)."""
        low, high = np.percentile(self.ratios, [10, 90])
        return float(low), float(high)


def _near(value: float, target: float) -> bool:
    return abs(value - target) <= 1e-6 * abs(target)


def _axis_lengths(example: Example) -> dict[int, str]:
    """Length -> a description such as "the length of axis 0 of X", for lengths >= 2 among the inputs."""
    found: dict[int, str] = {}
    for name, value in example.inputs.items():
        for axis, n in enumerate(np.shape(value)):
            if n >= 2:
                found.setdefault(int(n), f"the length of axis {axis} of {name!r}")
    return found


def _factor_hint(c: float, example: Example, evidence: Evidence) -> str:
    seen = f"at all {len(evidence.ratios)} differing entries of {evidence.examples} failing example(s)"
    if _near(c, -1.0):
        return (f"yours = -autodiff {seen}: the sign is flipped (p - y written as y - p, or a minus sign "
                f"lost on the way back).")
    if _near(c, 2.0):
        return (f"yours = 2 × autodiff {seen}: a factor 2 too many; for L = ½Σ(p - y)² the ½ cancels the 2 "
                f"of the square, so ∂L/∂p = p - y.")
    if _near(c, 0.5):
        return (f"yours = ½ × autodiff {seen}: a factor 2 missing; ∂/∂p of Σ(p - y)² is 2(p - y) "
                f"(only ½Σ(p - y)² gives p - y).")
    for n, where in _axis_lengths(example).items():
        if _near(c, float(n)) or _near(c, 1.0 / n):
            how = "a sum where forward() takes the mean" if c > 1 else "a mean where forward() takes the sum"
            return f"yours = {c:.6g} × autodiff {seen}, a factor {n} = {where}: {how}, or the reverse."
    return f"yours = {c:.6g} × autodiff {seen}: one constant factor is off."


def hint(m: Mismatch, evidence: Evidence, example: Example) -> str:
    """One or two sentences on what the pattern of the error suggests."""
    if m.unreachable:
        return (f"autodiff finds no path from the loss to {m.name!r}, so its gradient is 0: if forward() uses "
                f"it through NumPy (.numpy(), np.* on its values), autodiff cannot see that use.")
    if not m.autodiff_finite:
        return ("autodiff's gradient is not finite here: forward() overflows or takes log(0) at this example; "
                "write the loss in a numerically stable way (log_softmax, logsigmoid) or narrow `elements`.")
    if m.yours_zero:
        return ("yours is 0 where autodiff's is not: a term of the chain rule is missing, or your backward "
                "never sends a gradient to this parameter.")
    c = evidence.constant
    if c is not None:
        return _factor_hint(c, example, evidence)
    if len(evidence.ratios) >= 2:
        low, high = evidence.spread()
        return (f"yours / autodiff is not one constant factor (over the {evidence.examples} failing examples it "
                f"was mostly between {low:.3g} and {high:.3g}): a derivative is evaluated at the wrong point, or a "
                f"term is wrong or missing. Frequent ones: σ' applied to a = σ(z), which is already a sigmoid, where "
                f"σ'(z) = a(1 - a) is due; a σ'(z) factor left out on the way back through a layer.")
    return ""


def _array_text(a: np.ndarray, indent: int) -> str:
    text = np.array2string(np.asarray(a), precision=6, threshold=60, edgeitems=3, separator=", ",
                           max_line_width=110 - indent)
    return text.replace("\n", "\n" + " " * indent)


def mismatch_text(m: Mismatch, evidence: Evidence, example: Example, draws: int) -> str:
    """The block about one wrong parameter: how often, how many entries, the worst one, the ratio, a hint."""
    index = "" if m.shape == () else str(list(m.index))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = m.yours / m.autodiff if m.autodiff != 0 else np.nan
    ratio_text = f", yours / autodiff = {ratio:.6g}" if np.isfinite(ratio) else ""
    often = f"at {evidence.examples} of the {draws} examples drawn" if evidence.examples and draws > 1 else "here"
    lines = [f"∂L/∂{m.name} is wrong {often}; in the example below {m.count} of its {m.size} entries differ "
             f"(shape {m.shape}); the worst:",
             f"  {m.name}{index}: yours = {m.yours:.10g}, autodiff = {m.autodiff:.10g}{ratio_text}"]
    advice = hint(m, evidence, example)
    if advice:
        lines.append(textwrap.fill(advice, width=110, initial_indent="  hint: ", subsequent_indent="        ",
                                   break_on_hyphens=False))
    return "\n".join(lines)


def explain(found: Mapping[str, tuple[Mismatch, Example]], evidence: Mapping[str, Evidence], draws: int,
            rtol: float, atol: float) -> str:
    """The whole message: which parameters are wrong, then each one's worst entry, hint and example."""
    names = list(found)
    listed = " and ".join(f"{n!r}" for n in names) if len(names) <= 2 else ", ".join(f"{n!r}" for n in names)
    parts = [f"check_backprop: your backward() disagrees with autodiff for {listed} "
             f"(tolerance: |yours - autodiff| <= {atol:g} + {rtol:g}·|autodiff|)."]
    groups: dict[int, tuple[Example, list[str]]] = {}
    for name in names:      # parameters wrong at the same example are told together, above it
        example = found[name][1]
        groups.setdefault(id(example), (example, []))[1].append(name)
    for example, group in groups.values():
        blocks = [mismatch_text(found[n][0], evidence[n], example, draws) for n in group]
        parts.append("\n".join(blocks) + "\n" + example.title + "\n" + example.text())
    return "\n\n".join(parts)
