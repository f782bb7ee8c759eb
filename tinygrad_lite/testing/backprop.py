"""`check_backprop`: a hand-written backward pass against autodiff, at values hypothesis draws.

You write the loss once with tinygrad_lite ops (`forward`) and derive its gradients by hand in
NumPy (`backward`); `check_backprop` draws parameter and input values with hypothesis, compares
the two in float64, and on a difference raises `BackpropMismatch` naming the parameter, the
entry, both values and their ratio, at the smallest example hypothesis can shrink it to.

>>> from tinygrad_lite.testing import check_backprop
>>> def forward(p, x):                      # L = ½ Σ (X·w - y)²
...     return 0.5 * ((x["X"] @ p["w"] - x["y"]) ** 2).sum()
>>> def backward(p, x):                     # ∂L/∂w = Xᵀ·(X·w - y)
...     return {"w": x["X"].T @ (x["X"] @ p["w"] - x["y"])}
>>> report = check_backprop(forward, backward, params={"w": (3, 1)}, inputs={"X": ("n", 3), "y": ("n", 1)},
...                         seed=0)
>>> report.examples >= 50
True

Needs hypothesis (imported when called).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from random import Random
from typing import TYPE_CHECKING, Any

import numpy as np

from ..grad_mode import enable_grad
from ..tensor import Tensor
from ._backprop_report import Evidence, Example, Mismatch, compare, explain

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

__all__ = ["BackpropMismatch", "BackpropReport", "ParameterReport", "check_backprop"]

Forward = Callable[[dict[str, Tensor], dict[str, Tensor]], Tensor]
Backward = Callable[[dict[str, np.ndarray], dict[str, np.ndarray]], Mapping[str, Any]]
Dims = Mapping[str, int]
Maker = Callable[[Dims], "SearchStrategy[Any]"]

DEFAULT_DIM_RANGE = (1, 5)       # a size named in a shape but not in `dims` is drawn from 1..5
DEFAULT_RANGE = (-5.0, 5.0)      # float values, unless `elements` says otherwise
HYPOTHESIS_HINT = "check_backprop draws its examples with hypothesis: `pip install hypothesis`"


class BackpropMismatch(AssertionError):  # noqa: N818 - a failed check, like AssertionError itself
    """The hand-written gradient of one or more parameters differs from autodiff's; the message says where.

    `parameters` names the wrong ones; `report` holds what was measured over all examples drawn;
    `found[name]` is (the worst entry, the example shown) for each wrong parameter.
    """

    def __init__(self, message: str, found: dict[str, tuple[Mismatch, Example]], report: BackpropReport) -> None:
        super().__init__(message)
        self.parameters = tuple(found)
        self.found = found
        self.report = report


@dataclass
class ParameterReport:
    """What check_backprop measured for one parameter, over every example it tried."""

    max_abs_diff: float = 0.0   # the largest |yours - autodiff|
    max_abs_grad: float = 0.0   # the largest |autodiff|
    max_error: float = 0.0      # the largest |yours - autodiff| / (atol + rtol·|autodiff|): above 1 fails


@dataclass
class BackpropReport:
    """check_backprop's result: how many examples were compared, and per parameter how close they were."""

    examples: int = 0
    parameters: dict[str, ParameterReport] = field(default_factory=dict)


def check_backprop(forward: Forward, backward: Backward, params: Mapping[str, Any],
                   inputs: Mapping[str, Any] | None = None, *, max_examples: int = 50, rtol: float = 1e-5,
                   atol: float = 1e-8, seed: int | None = None, elements: Any = None,
                   dims: Mapping[str, int | tuple[int, int]] | None = None) -> BackpropReport:
    """Check the hand-derived gradients `backward` against autodiff of `forward`; return a `BackpropReport`.

    - `forward(params, inputs)` gets dicts of Tensors (parameters with requires_grad, float64) and
      returns the scalar loss, computed with tinygrad_lite ops;
    - `backward(params, inputs)` gets the same values as NumPy arrays (copies) and returns a dict
      with the gradient ∂L/∂p of every parameter p, an array of p's shape.

    Each value in `params` and `inputs` says what to draw:
    - a shape, `(2, 4)` or `3`; a name in it, `("n", 2)`, is a size drawn for each example (shared
      by every shape that names it; range from `dims`, else 1..5);
    - an array (or Tensor) as a template: its shape; float values are drawn, integer values are drawn
      between the template's min and max (class labels), booleans as booleans;
    - a hypothesis strategy giving arrays, or a function `dims -> strategy` for values that depend
      on the drawn sizes.
    Float values come from `elements` (a strategy of floats, or a dict name -> strategy; default
    floats in [-5, 5]). Parameters are always float64. An entry passes when
    |yours - autodiff| <= atol + rtol·|autodiff|.

    Run as a plain function, it draws up to `max_examples` examples with `hypothesis.find` (`seed`
    makes that reproducible), and shrinks a failure to its smallest example; if every value is
    given as an array, those exact values are checked first. Called inside a test decorated with
    `@given`, it draws one example from that test's data, so the outer test drives and shrinks it.

    Raises `BackpropMismatch` (an AssertionError) when a gradient differs; ValueError/TypeError when
    `backward` returns missing or extra names, wrong shapes or non-numbers, or `forward` does not
    return a finite scalar Tensor that depends on the parameters.

    >>> def forward(p, x):
    ...     return (x["X"] @ p["w"]).sigmoid().sum()
    >>> def backward(p, x):
    ...     s = 1 / (1 + np.exp(-(x["X"] @ p["w"])))
    ...     return {"w": x["X"].T @ (s * (1 - s))}
    >>> check_backprop(forward, backward, {"w": (2, 1)}, {"X": (4, 2)}, seed=1).parameters["w"].max_error < 1
    True
    """
    try:
        from hypothesis.control import current_build_context, currently_in_test_context
    except ImportError as exc:
        raise ImportError(HYPOTHESIS_HINT) from exc
    if not (isinstance(max_examples, int) and max_examples >= 1):
        raise ValueError(f"check_backprop: max_examples must be a positive int, got {max_examples!r}")
    checker = _Checker(forward, backward, params, {} if inputs is None else inputs, rtol=rtol, atol=atol,
                       elements=elements, dims=dims)
    if currently_in_test_context():
        # Inside an @given test a nested search would be quadratic (hypothesis refuses it): draw from the outer data.
        return checker.check_one(current_build_context().data.draw(checker.strategy()))
    return checker.search(max_examples, seed)


def _float_range_strategy() -> SearchStrategy[float]:
    from hypothesis import strategies as st

    return st.floats(*DEFAULT_RANGE, allow_nan=False, allow_infinity=False, allow_subnormal=False)


class _Checker:
    """The drawing, comparing and searching behind check_backprop, for one forward/backward pair."""

    def __init__(self, forward: Forward, backward: Backward, params: Mapping[str, Any], inputs: Mapping[str, Any],
                 *, rtol: float, atol: float, elements: Any, dims: Mapping[str, int | tuple[int, int]] | None) -> None:
        if not callable(forward) or not callable(backward):
            raise TypeError(f"check_backprop: forward and backward must be functions, got "
                            f"{type(forward).__name__} and {type(backward).__name__}")
        for what, mapping in (("params", params), ("inputs", inputs)):
            if not isinstance(mapping, Mapping) or not all(isinstance(k, str) for k in mapping):
                raise TypeError(f"check_backprop: {what} must be a dict name -> shape, array or strategy, "
                                f"got {type(mapping).__name__}")
        if not params:
            raise ValueError("check_backprop: params is empty; give at least one parameter to differentiate")
        both = sorted(set(params) & set(inputs))
        if both:
            raise ValueError(f"check_backprop: {', '.join(map(repr, both))} is both a parameter and an input")
        for name, tol in (("rtol", rtol), ("atol", atol)):
            if not (isinstance(tol, (int, float)) and math.isfinite(tol) and tol >= 0):
                raise ValueError(f"check_backprop: {name} must be a finite number >= 0, got {tol!r}")
        self.forward, self.backward = forward, backward
        self.rtol, self.atol = float(rtol), float(atol)
        self.elements = self._element_strategies(elements, [*params, *inputs])
        self.dim_ranges: dict[str, tuple[int, int]] = {}
        self.makers = {("param", n): self._maker("param", n, spec) for n, spec in params.items()}
        self.makers.update({("input", n): self._maker("input", n, spec) for n, spec in inputs.items()})
        self._set_dims(dims or {})
        self.param_names = list(params)
        self.templates: Example | None = None
        if all(isinstance(spec, (np.ndarray, Tensor)) for spec in [*params.values(), *inputs.values()]):
            self.templates = Example({n: _template(v, True) for n, v in params.items()},
                                     {n: _template(v, False) for n, v in inputs.items()},
                                     title="At the values you gave:")
        self.report = BackpropReport(0, {n: ParameterReport() for n in params})
        self.evidence = {n: Evidence() for n in params}

    # --- what to draw ----------------------------------------------------------------------------------
    @staticmethod
    def _element_strategies(elements: Any, names: list[str]) -> dict[str, Any]:
        from hypothesis.strategies import SearchStrategy

        if elements is None or isinstance(elements, SearchStrategy):
            default = _float_range_strategy() if elements is None else elements
            return dict.fromkeys(names, default)
        if isinstance(elements, Mapping):
            unknown = [k for k in elements if k not in names]
            if unknown:
                raise ValueError(f"check_backprop: elements names {', '.join(map(repr, unknown))}, which is not a "
                                 f"parameter or input ({', '.join(map(repr, names))})")
            bad = [k for k, v in elements.items() if not isinstance(v, SearchStrategy)]
            if bad:
                raise TypeError(f"check_backprop: elements[{bad[0]!r}] must be a hypothesis strategy of floats")
            return {n: elements.get(n, _float_range_strategy()) for n in names}
        raise TypeError(f"check_backprop: elements must be a hypothesis strategy of floats or a dict of them, "
                        f"got {type(elements).__name__}")

    def _maker(self, role: str, name: str, spec: Any) -> Maker:
        from hypothesis import strategies as st
        from hypothesis.extra import numpy as hnp
        from hypothesis.strategies import SearchStrategy

        label = f"check_backprop: {role} {name!r}"
        if isinstance(spec, SearchStrategy):
            return lambda dims: spec
        if isinstance(spec, Tensor):
            spec = spec.numpy()
        if isinstance(spec, np.ndarray):
            if spec.dtype.kind not in "biuf":
                raise TypeError(f"{label}: a template array must hold numbers, got dtype {spec.dtype}")
            shape = spec.shape
            if role == "param" or spec.dtype.kind == "f":
                floats = hnp.arrays(np.float64, shape, elements=self.elements[name])
                return lambda dims: floats
            if spec.dtype.kind == "b":
                bools = hnp.arrays(np.bool_, shape, elements=st.booleans())
                return lambda dims: bools
            low, high = (int(spec.min()), int(spec.max())) if spec.size else (0, 0)
            ints = hnp.arrays(spec.dtype, shape, elements=st.integers(low, high))
            return lambda dims: ints
        if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
            spec = (int(spec),)
        if isinstance(spec, tuple):
            for n in spec:
                if isinstance(n, str):
                    self.dim_ranges.setdefault(n, DEFAULT_DIM_RANGE)
                elif not (isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 0):
                    raise ValueError(f"{label}: a shape holds sizes >= 0 or size names, got {spec!r}")
            shape_spec = spec
            elems = self.elements[name]
            return lambda dims: hnp.arrays(np.float64, tuple(dims[n] if isinstance(n, str) else int(n)
                                                             for n in shape_spec), elements=elems)
        if callable(spec):
            return lambda dims: _checked_strategy(label, spec(dict(dims)))
        raise TypeError(f"{label}: expected a shape tuple, an array, a hypothesis strategy or a function "
                        f"dims -> strategy, got {type(spec).__name__} {spec!r}"[:300])

    def _set_dims(self, dims: Mapping[str, int | tuple[int, int]]) -> None:
        if not isinstance(dims, Mapping):
            raise TypeError(f"check_backprop: dims must be a dict name -> size or (low, high), got "
                            f"{type(dims).__name__}")
        for name, value in dims.items():
            if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
                low = high = int(value)
            elif isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, int) for v in value):
                low, high = value
            else:
                raise TypeError(f"check_backprop: dims[{name!r}] must be a size or a (low, high) pair, got {value!r}")
            if not 0 <= low <= high:
                raise ValueError(f"check_backprop: dims[{name!r}] = {value!r} must satisfy 0 <= low <= high")
            self.dim_ranges[name] = (low, high)

    def strategy(self) -> SearchStrategy[Example]:
        """Examples: the named sizes first, then every parameter and input (in the order given)."""
        from hypothesis import strategies as st

        @st.composite
        def examples(draw: Any) -> Example:
            sizes = {n: draw(st.integers(low, high)) for n, (low, high) in self.dim_ranges.items()}
            drawn: dict[str, dict[str, np.ndarray]] = {"param": {}, "input": {}}
            for (role, name), make in self.makers.items():
                drawn[role][name] = _as_array(f"{role} {name!r}", draw(make(sizes)), role == "param")
            return Example(drawn["param"], drawn["input"], sizes)

        return examples()

    # --- one example -------------------------------------------------------------------------------------
    def _autodiff(self, ex: Example) -> tuple[dict[str, np.ndarray], set[str]]:
        with enable_grad():
            tp = {n: Tensor(a, requires_grad=True) for n, a in ex.params.items()}
            ti = {n: Tensor(a) for n, a in ex.inputs.items()}
            try:
                loss = self.forward(tp, ti)
            except Exception as exc:
                exc.add_note(f"check_backprop: raised by your forward() at this example:\n{ex.text()}")
                raise
            if not isinstance(loss, Tensor):
                raise TypeError(f"check_backprop: forward() must return the loss as a tinygrad_lite Tensor, got "
                                f"{type(loss).__name__}; build it from the Tensors in `params` with tinygrad_lite ops")
            if loss.numel() != 1:
                raise ValueError(f"check_backprop: forward() returned a Tensor of shape {loss.shape}; the loss must "
                                 f"be a single number (add .sum() or .mean())")
            value = float(np.asarray(loss.numpy(), dtype=np.float64).reshape(()))
            if not math.isfinite(value):
                raise ValueError(f"check_backprop: forward() gave the loss {value} at this example, where gradients "
                                 f"mean nothing; make the loss numerically stable (log_softmax, not log(softmax)) "
                                 f"or narrow the values with `elements`:\n{ex.text()}")
            if not loss.requires_grad:
                raise ValueError("check_backprop: forward()'s loss does not depend on any parameter through "
                                 "tinygrad_lite ops; compute it from the Tensors in `params`, not from NumPy copies")
            loss.backward()
        grads, unreachable = {}, set()
        for name, t in tp.items():
            g = t.grad
            if g is None:
                unreachable.add(name)
                grads[name] = np.zeros(t.shape)
            else:
                grads[name] = np.asarray(g.numpy(), dtype=np.float64)
        return grads, unreachable

    def _yours(self, ex: Example) -> dict[str, np.ndarray]:
        try:
            out = self.backward({n: a.copy() for n, a in ex.params.items()},
                                {n: a.copy() for n, a in ex.inputs.items()})
        except Exception as exc:
            exc.add_note(f"check_backprop: raised by your backward() at this example:\n{ex.text()}")
            raise
        if not isinstance(out, Mapping):
            raise TypeError(f"check_backprop: backward() must return a dict parameter name -> gradient, got "
                            f"{type(out).__name__}")
        _check_names(out, self.param_names, list(ex.inputs))
        grads = {}
        for name in self.param_names:
            grads[name] = _gradient_array(name, out[name], ex.params[name].shape)
        return grads

    def evaluate(self, ex: Example, record: bool = True) -> dict[str, Mismatch]:
        """Compare at one example; return the parameters whose gradients differ (and record what was seen)."""
        auto, unreachable = self._autodiff(ex)
        yours = self._yours(ex)
        wrong: dict[str, Mismatch] = {}
        if record:
            self.report.examples += 1
        for name in self.param_names:
            m, max_diff, worst = compare(name, yours[name], auto[name], self.rtol, self.atol, name in unreachable)
            if record:
                stats = self.report.parameters[name]
                with np.errstate(invalid="ignore"):
                    stats.max_abs_diff = max(stats.max_abs_diff, max_diff)
                    stats.max_abs_grad = max(stats.max_abs_grad, float(np.nanmax(np.abs(auto[name]), initial=0.0)))
                stats.max_error = max(stats.max_error, worst)
                if m is not None:
                    self.evidence[name].add(m)
            if m is not None:
                wrong[name] = m
        return wrong

    def _wrong_for(self, name: str) -> Callable[[Example], bool]:
        return lambda ex: name in self.evaluate(ex, record=False)

    def _fail(self, found: dict[str, tuple[Mismatch, Example]]) -> BackpropMismatch:
        message = explain(found, self.evidence, self.report.examples, self.rtol, self.atol)
        return BackpropMismatch(message, found, self.report)

    # --- the two ways to run ---------------------------------------------------------------------------
    def check_one(self, ex: Example) -> BackpropReport:
        """Inside an outer @given: compare at the one example it drew; the outer test shrinks a failure."""
        ex.title = "At this example (drawn by your @given test, which shrinks it):"
        wrong = self.evaluate(ex)
        if wrong:
            raise self._fail({n: (m, ex) for n, m in wrong.items()})
        return self.report

    def search(self, max_examples: int, seed: int | None) -> BackpropReport:
        """Draw examples with hypothesis.find until one fails, shrink it, and raise; or return the report."""
        from hypothesis import Phase, find, settings
        from hypothesis.errors import NoSuchExample

        # no database (nothing written to the user's folder) and no explain phase (its report is not shown)
        search_phases = (Phase.explicit, Phase.generate, Phase.shrink)
        config = settings(max_examples=max_examples, database=None, deadline=None)
        strategy = self.strategy()
        start = Random().getrandbits(64) if seed is None else seed     # one seed: every find sees the same draws

        def run_find(condition: Callable[[Example], bool], phases: tuple[Phase, ...] = search_phases,
                     examples: int = max_examples) -> Example | None:
            try:
                return find(strategy, condition, settings=settings(config, max_examples=examples, phases=phases),
                            random=Random(start))
            except NoSuchExample:
                return None

        # A first example, compared before the search: the values given, or hypothesis's first (simplest) draw.
        # Names, shapes and types are checked here, so those errors come without a hypothesis search around them.
        probe = self.templates if self.templates is not None else run_find(lambda ex: True, (Phase.generate,), 1)
        assert probe is not None        # the condition holds for any draw
        probe_wrong = self.evaluate(probe)

        def record(ex: Example) -> bool:
            self.evaluate(ex)
            return False    # never "found": every one of the max_examples draws is compared and recorded

        run_find(record)
        if not any(e.examples for e in self.evidence.values()):
            return self.report
        # Each wrong parameter gets the smallest example where it is wrong (hypothesis replays the same draws, so it
        # finds them again, then shrinks); as few of these examples as cover every wrong parameter are shown.
        candidates: list[tuple[Example, dict[str, Mismatch]]] = []
        for name in self.param_names:
            if self.evidence[name].examples == 0 or any(name in wrong for _, wrong in candidates):
                continue
            own = run_find(self._wrong_for(name))
            if own is not None:
                candidates.append((own, self.evaluate(own, record=False)))
            elif name in probe_wrong:
                candidates.append((probe, probe_wrong))
        remaining = {n for _, wrong in candidates for n in wrong}
        found: dict[str, tuple[Mismatch, Example]] = {}
        while remaining:
            example, wrong = max(candidates, key=lambda c: len(remaining.intersection(c[1])))
            for name in remaining.intersection(wrong):
                found[name] = (wrong[name], example)
            remaining.difference_update(wrong)
        found = {n: found[n] for n in self.param_names if n in found}
        raise self._fail(found)


def _template(value: np.ndarray | Tensor, is_param: bool) -> np.ndarray:
    a = value.numpy() if isinstance(value, Tensor) else np.array(value)
    return a.astype(np.float64) if is_param or a.dtype.kind == "f" else a


def _as_array(label: str, value: Any, is_param: bool) -> np.ndarray:
    """A drawn value as an array; parameters and float inputs in float64."""
    a = value.numpy() if isinstance(value, Tensor) else np.asarray(value)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"check_backprop: the strategy for {label} gave {type(value).__name__} of dtype {a.dtype}; "
                        f"it must give arrays of numbers")
    if is_param or a.dtype.kind == "f":
        a = a.astype(np.float64)
    return a


def _checked_strategy(label: str, strategy: Any) -> Any:
    from hypothesis.strategies import SearchStrategy

    if not isinstance(strategy, SearchStrategy):
        raise TypeError(f"{label}: the function given must return a hypothesis strategy, got "
                        f"{type(strategy).__name__}")
    return strategy


def _check_names(out: Mapping[str, Any], params: list[str], inputs: list[str]) -> None:
    """Exactly one gradient per parameter, with a message that names what is missing or extra."""
    missing = [n for n in params if n not in out]
    extra = [k for k in out if k not in params]
    wanted = ", ".join(map(repr, params))
    if missing:
        got = ", ".join(map(repr, out)) or "nothing"
        raise ValueError(f"check_backprop: backward() returned no gradient for {', '.join(map(repr, missing))} "
                         f"(it returned {got}); it must return one per parameter: {wanted}")
    if extra:
        as_inputs = [k for k in extra if k in inputs]
        why = (f"{', '.join(map(repr, as_inputs))} is an input, and only parameters' gradients are checked; leave "
               f"it out or make it a parameter" if as_inputs else f"the parameters are {wanted}")
        raise ValueError(f"check_backprop: backward() returned a gradient for {', '.join(map(repr, extra))}, "
                         f"which is not a parameter: {why}")


def _gradient_array(name: str, value: Any, shape: tuple[int, ...]) -> np.ndarray:
    """The user's gradient of `name` as a float64 array of the parameter's shape, or a clear error."""
    a = value.numpy() if isinstance(value, Tensor) else np.asarray(value)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"check_backprop: backward()[{name!r}] is {type(value).__name__} "
                        f"{'' if a.dtype == object else f'of dtype {a.dtype} '}; it must be an array of numbers")
    if a.shape != shape:
        raise ValueError(f"check_backprop: backward()[{name!r}] has shape {a.shape}, but the parameter {name!r} has "
                         f"shape {shape}; a gradient has its parameter's shape{_shape_hint(a.shape, shape)}")
    return a.astype(np.float64)


def _shape_hint(got: tuple[int, ...], want: tuple[int, ...]) -> str:
    if len(got) == len(want) >= 2 and got == want[::-1]:
        return ". It is the transpose: for Z = A·W, ∂L/∂W = Aᵀ·∂L/∂Z (not ∂L/∂Zᵀ·A)"
    if len(got) > len(want) and got[len(got) - len(want):] == want:
        lead = tuple(range(len(got) - len(want)))
        return (f". A parameter broadcast over rows (a bias) gets the sum of their gradients: "
                f".sum(axis={lead[0] if len(lead) == 1 else lead})")
    if math.prod(got) == math.prod(want):
        return f". It has the right number of entries: reshape it to {want} (or use keepdims)"
    return ""
