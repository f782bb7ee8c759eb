"""Differential test of the jit: random programs run eagerly and jitted must agree bit for bit.

Hypothesis builds a training or gradient step from the op registry's building blocks (elementwise
functions, reductions, slicing, integer-array and boolean-mask indexing, gather, cat/stack, linear
layers, softmax; losses with labels, class weights, ignore_index and label smoothing; backward,
`tl.grad`, `create_graph` penalties and leaves made inside the function; SGD with momentum, Adam and
AdamW) and calls it at least four times with changing data, sometimes with another batch size or an
out-of-range label. Each call's result, every parameter and every gradient must be equal bit for bit
between the eager twin and the jitted twin, or the jitted call raises JitError (and the comparison
stops there), or both raise the same error.

The default profile runs in CI (~60 programs). Before a release run the long profile:

    HYPOTHESIS_PROFILE=long python -m pytest tests/test_jit_differential.py -q    # 2,000 programs
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygrad_lite as tl
import tinygrad_lite.nn.functional as F
from tinygrad_lite import Tensor
from tinygrad_lite.jit import JitError

LONG = os.environ.get("HYPOTHESIS_PROFILE") == "long"
EXAMPLES = 2000 if LONG else int(os.environ.get("TL_JIT_DIFF_EXAMPLES", "60"))
CLASSES = 3
UNARY = ["relu", "sigmoid", "tanh", "abs", "neg", "softplus", "silu", "elu", "leaky_relu", "square", "exp_tanh"]
LOSSES = ["cross_entropy", "ce_weight", "ce_ignore", "ce_smooth", "nll_weight", "sparse_ce", "sparse_ignore",
          "mse", "bce_logits", "bce"]
MODES = ["backward", "tl_grad", "create_graph", "fresh_leaf", "fresh_mid"]
OPTIMIZERS = ["none", "sgd", "momentum", "adam", "adamw"]


@dataclass
class Program:
    """A random step: `ops` applied to a (batch, width) activation, then a loss, under a `mode`."""

    ops: list[tuple[str, Any]]
    loss: str
    mode: str
    optimizer: str
    width: int
    seed: int
    widths: list[int] = field(default_factory=list)  # the width after each op (for the parameters' shapes)


@st.composite
def programs(draw: Any) -> Program:
    width = draw(st.integers(2, 5))
    ops: list[tuple[str, Any]] = []
    widths = []
    w = width
    for _ in range(draw(st.integers(1, 5))):
        choices = ["unary", "scale", "linear", "reduce", "mask", "softmax", "stack", "cat", "gather", "colidx"]
        if w > 1:
            choices.append("slice")
        kind = draw(st.sampled_from(choices))
        if kind == "unary":
            ops.append(("unary", draw(st.sampled_from(UNARY))))
        elif kind == "scale":
            ops.append(("scale", draw(st.sampled_from([0.5, -1.5, 2.0]))))
        elif kind == "linear":
            w = draw(st.integers(1, 5))
            ops.append(("linear", w))
        elif kind == "reduce":
            ops.append(("reduce", draw(st.sampled_from(["center", "normalize", "max", "sum_keep"]))))
        elif kind == "mask":
            ops.append(("mask", draw(st.sampled_from(["aux_sum", "where"]))))
        elif kind == "softmax":
            ops.append(("softmax", draw(st.sampled_from(["softmax", "log_softmax"]))))
        elif kind == "stack":
            ops.append(("stack", None))
        elif kind == "cat":
            if w > 6:
                continue
            ops.append(("cat", None))
            w *= 2
        elif kind == "gather":
            k = draw(st.integers(1, 4))
            ops.append(("gather", k))
            w = k
        elif kind == "colidx":
            k = draw(st.integers(1, 4))
            ops.append(("colidx", (k, draw(st.booleans()))))  # (count, index passed as an argument Tensor)
            w = k
        elif kind == "slice":
            ops.append(("slice", None))
            w -= 1
        widths.append(w)
    return Program(ops, draw(st.sampled_from(LOSSES)), draw(st.sampled_from(MODES)),
                   draw(st.sampled_from(OPTIMIZERS)), width, draw(st.integers(0, 2**16)), widths)


class Twin:
    """One copy of the program's parameters, optimizer and step function."""

    def __init__(self, prog: Program) -> None:
        rng = np.random.default_rng(prog.seed)
        self.prog = prog
        self.params: list[Tensor] = []
        self.linears: dict[int, tuple[Tensor, Tensor]] = {}
        w = prog.width
        for i, (kind, arg) in enumerate(prog.ops):
            if kind == "linear":
                self.linears[i] = (self._param(rng, (w, arg)), self._param(rng, (arg,)))
            w = prog.widths[i]
        self.head = (self._param(rng, (w, CLASSES)), self._param(rng, (CLASSES,)))
        lr = 0.05
        self.opt = {"none": None, "sgd": lambda: tl.optim.SGD(self.params, lr=lr),
                    "momentum": lambda: tl.optim.SGD(self.params, lr=lr, momentum=0.9, weight_decay=0.01),
                    "adam": lambda: tl.optim.Adam(self.params, lr=lr),
                    "adamw": lambda: tl.optim.AdamW(self.params, lr=lr)}[prog.optimizer]
        self.optimizer = None if self.opt is None else self.opt()

    def _param(self, rng: np.random.Generator, shape: tuple[int, ...]) -> Tensor:
        p = Tensor(rng.standard_normal(shape).astype(np.float64) * 0.5, requires_grad=True)
        self.params.append(p)
        return p

    def forward(self, x: Tensor, d: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """The logits (batch, CLASSES) and an auxiliary scalar term."""
        h, aux = x, (x * 0.0).sum()
        for i, (kind, arg) in enumerate(self.prog.ops):
            if kind == "unary":
                h = h * h if arg == "square" else h.tanh().exp() if arg == "exp_tanh" else getattr(h, arg)()
            elif kind == "scale":
                h = h * arg + 0.25
            elif kind == "linear":
                w, b = self.linears[i]
                h = h @ w + b
            elif kind == "reduce":
                if arg == "center":
                    h = h - h.mean(1, keepdim=True)
                elif arg == "normalize":
                    h = h / (h.abs().sum(1, keepdim=True) + 1.0)
                elif arg == "max":
                    h = h - h.max(1, keepdim=True)
                else:
                    h = h + h.sum(1, keepdim=True) * 0.1
            elif kind == "mask":
                if arg == "aux_sum":
                    aux = aux + h[h > 0.1].sum() * 0.1  # a boolean mask: the count changes with the data
                else:
                    h = (h > 0).where(h, h * 0.1)
            elif kind == "softmax":
                h = getattr(h, arg)(1)
            elif kind == "stack":
                h = Tensor.stack(h, h.sigmoid()).mean(0)
            elif kind == "cat":
                h = h.cat(h * 0.5, dim=1)
            elif kind == "gather":
                h = h.gather(1, d[f"gather{i}"])
            elif kind == "colidx":
                k, as_tensor = arg
                h = h[:, d[f"cols{i}"]] if as_tensor else h[:, [j % h.shape[1] for j in range(k)]]
            elif kind == "slice":
                h = h[:, 1:]
        w, b = self.head
        return h @ w + b, aux

    def loss(self, logits: Tensor, d: dict[str, Tensor]) -> Tensor:
        kind, y = self.prog.loss, d["y"]
        if kind == "cross_entropy":
            return F.cross_entropy(logits, y)
        if kind == "ce_weight":
            return F.cross_entropy(logits, y, weight=d["class_w"])
        if kind == "ce_ignore":
            return F.cross_entropy(logits, d["y_ignore"], ignore_index=-1)
        if kind == "ce_smooth":
            return F.cross_entropy(logits, y, label_smoothing=0.1)
        if kind == "nll_weight":
            return F.nll_loss(logits.log_softmax(1), d["y_ignore"], weight=d["class_w"], ignore_index=-1)
        if kind == "sparse_ce":
            return logits.sparse_categorical_crossentropy(y)
        if kind == "sparse_ignore":
            return logits.sparse_categorical_crossentropy(d["y_ignore"], ignore_index=-1)
        if kind == "mse":
            return F.mse_loss(logits, d["target"])
        if kind == "bce_logits":
            return F.binary_cross_entropy_with_logits(logits, d["target01"])
        return F.binary_cross_entropy(logits.sigmoid(), d["target01"])

    def step(self, x: Tensor, d: dict[str, Tensor]) -> Any:
        mode, opt = self.prog.mode, self.optimizer
        if opt is not None:
            opt.zero_grad()
        else:
            for p in self.params:
                p.grad = None
        if mode == "tl_grad":
            def objective(xx: Tensor) -> Tensor:
                logits, aux = self.forward(xx, d)
                return self.loss(logits, d) + aux

            out: Any = tl.grad(objective)(x)
        elif mode == "fresh_leaf":  # saliency / FGSM: the input's gradient, from a leaf made inside
            xr = x.detach().requires_grad_()
            logits, aux = self.forward(xr, d)
            loss = self.loss(logits, d) + aux
            loss.backward()
            out = (loss, xr.grad, xr)  # xr itself too: the caller reads its .grad
        elif mode == "fresh_mid":  # a leaf made from a computed value: the gradient at a hidden layer
            h = (x * 1.5).tanh().detach().requires_grad_()
            logits, aux = self.forward(h, d)
            loss = self.loss(logits, d) + aux
            loss.backward()
            out = (loss, h)
        elif mode == "create_graph":
            logits, aux = self.forward(x, d)
            loss = self.loss(logits, d) + aux
            loss.backward(create_graph=True)
            penalty = sum(((p.grad * p.grad).sum() for p in self.params if p.grad is not None), loss * 0.0)
            for p in self.params:
                p.grad = None
            (loss + penalty * 0.1).backward()
            out = (loss, penalty)
        else:
            logits, aux = self.forward(x, d)
            loss = self.loss(logits, d) + aux
            loss.backward()
            out = loss
        if opt is not None and mode != "tl_grad":
            opt.step()
        return out


def _data(prog: Program, rng: np.random.Generator, batch: int, bad_label: bool) -> tuple[Tensor, dict[str, Tensor]]:
    x = Tensor(rng.standard_normal((batch, prog.width)))
    y = rng.integers(0, CLASSES, batch)
    if bad_label:
        y[0] = -2
    y_ignore = np.where(rng.random(batch) < 0.3, -1, y)
    d = {"y": Tensor(y.astype(np.int32)), "y_ignore": Tensor(y_ignore.astype(np.int32)),
         "class_w": Tensor(rng.random(CLASSES) + 0.1),
         "target": Tensor(rng.standard_normal((batch, CLASSES))),
         "target01": Tensor((rng.random((batch, CLASSES)) < 0.5).astype(np.float64))}
    w = prog.width
    for i, (kind, arg) in enumerate(prog.ops):
        if kind == "gather":
            d[f"gather{i}"] = Tensor(rng.integers(0, w, (batch, arg)).astype(np.int32))
        elif kind == "colidx" and arg[1]:
            d[f"cols{i}"] = Tensor(rng.integers(0, w, arg[0]).astype(np.int32))
        w = prog.widths[i]
    return x, d


def _flat(out: Any) -> list[Any]:
    if isinstance(out, (tuple, list)):
        return [a for o in out for a in _flat(o)]
    return [out]


def _same(a: Any, b: Any, what: str) -> None:
    if a is None or b is None:
        assert a is None and b is None, f"{what}: {a} vs {b}"
        return
    assert isinstance(a, Tensor) and isinstance(b, Tensor), what
    assert a.dtype == b.dtype and a.shape == b.shape, f"{what}: {a.dtype}{a.shape} vs {b.dtype}{b.shape}"
    assert a.data.tobytes() == b.data.tobytes(), f"{what}: {a.data} vs {b.data}"
    if a.is_leaf:  # (a result eager mode computed keeps its graph; a replay's carries none, as documented)
        assert a.requires_grad == b.requires_grad, what
        if a.requires_grad:
            _same(a.grad, b.grad, f"{what}.grad")


def _call(fn: Any, *args: Any) -> tuple[Any, BaseException | None]:
    try:
        return fn(*args), None
    except (ValueError, TypeError, IndexError, FloatingPointError, JitError, NotImplementedError) as exc:
        return None, exc


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(prog=programs(), calls=st.lists(st.tuples(st.sampled_from([4, 4, 4, 6]), st.booleans()), min_size=4,
                                       max_size=7))
def test_jit_equals_eager(prog: Program, calls: list[tuple[int, bool]]) -> None:
    eager, jitted = Twin(prog), Twin(prog)
    step = tl.jit(jitted.step)
    rng = np.random.default_rng(prog.seed + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # re-capture warnings and NaN-free but inf-prone softplus/exp paths
        for n, (batch, bad) in enumerate(calls):
            bad = bad and n >= 3 and n % 3 == 0  # now and then, a label out of range on a replay
            x, d = _data(prog, rng, batch, bad)
            want, eager_error = _call(eager.step, x, d)
            got, jit_error = _call(step, x, d)
            if isinstance(jit_error, JitError):
                return  # refused loudly: allowed (the twins may differ from here on)
            assert type(jit_error) is type(eager_error), f"call {n}: eager {eager_error!r}, jit {jit_error!r}"
            if eager_error is None:
                for i, (a, b) in enumerate(zip(_flat(want), _flat(got), strict=True)):
                    _same(a, b, f"call {n} output {i}")
            for i, (p, q) in enumerate(zip(eager.params, jitted.params)):
                _same(p, q, f"call {n} parameter {i}")
                _same(p.grad, q.grad, f"call {n} gradient of parameter {i}")


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_replays(mode: str) -> None:
    """The generator's building blocks do replay (not only capture): one fixed program per mode."""
    prog = Program([("linear", 4), ("unary", "tanh"), ("mask", "where"), ("gather", 3)], "ce_weight", mode,
                   "adam", 3, 7, [4, 4, 4, 3])
    eager, jitted = Twin(prog), Twin(prog)
    step = tl.jit(jitted.step)
    rng = np.random.default_rng(0)
    for n in range(6):
        x, d = _data(prog, rng, 4, False)
        for i, (a, b) in enumerate(zip(_flat(eager.step(x, d)), _flat(step(x, d)), strict=True)):
            _same(a, b, f"call {n} output {i}")
        for p, q in zip(eager.params, jitted.params):
            _same(p, q, f"call {n} parameter")
    assert step.captures >= 1 and step.capture_runs < 6
