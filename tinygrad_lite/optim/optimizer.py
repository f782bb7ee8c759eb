"""`Optimizer`: the base of SGD, Adam, AdamW, RMSprop and Adagrad — parameter groups, checks, state, zero_grad.

The contract every optimizer keeps (the JIT relies on it): `step()` only calls `_update()`, after
telling a running jit capture (`_capture.active.record_call`) so that each replay calls it again.
`_update()` does all its maths on NumPy arrays. It reads `p.grad.data` without ever writing into it,
and it changes `p.data` and the state buffers *in place*, so the arrays a recording holds stay the ones
in use; after changing `p.data` it calls `node.bump_version(p)`, so that a backward through a graph
recorded before the step raises instead of using the new values. No graph is built.

>>> from tinygrad_lite import Tensor, optim
>>> w = Tensor([1.0, 2.0], requires_grad=True)
>>> opt = optim.SGD([w], lr=0.5)
>>> _ = (w * w).sum().backward()
>>> opt.step()
>>> w.tolist()
[0.0, 0.0]
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from .. import _capture
from ..tensor import Tensor

ParamGroup = dict[str, Any]


def check_number(owner: str, name: str, value: Any, low: float = 0.0, high: float | None = None) -> None:
    """`value` must be a real number in [low, high) (no upper bound when high is None)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {name} must be a number, got {value!r} ({type(value).__name__})")
    number = float(value)
    if not math.isfinite(number) or number < low or (high is not None and number >= high):
        span = f"[{low}, {high})" if high is not None else f">= {low}"
        raise ValueError(f"{owner}: {name} must be a finite number {span}, got {value}")


BLOCK = 65536  # elements per block in `subtract_scaled`: the scratch (256 KB in float32) stays in cache
# Parameters above this many bytes are updated in blocks. Below it the plain expression is faster: its temporary
# comes from the heap, still in cache; above 32 MiB (glibc's largest mmap threshold) every temporary is fresh
# pages from the OS. Measured, float32, paired: 200,000 elements 49 µs plain / 68 µs blocked, 8M 5.3 / 5.4 ms,
# 16M 18.1 / 11.0 ms.
BLOCKED_ABOVE = 32 << 20


def subtract_scaled(p: np.ndarray, scale: float, x: np.ndarray, scratch: dict[np.dtype, np.ndarray]) -> None:
    """`p -= scale * x` in place, bit for bit, without a temporary the size of `p`.

    An array of more than BLOCKED_ABOVE bytes is updated block by block through one small buffer from `scratch`
    that stays in cache: the plain expression would write and reread a full-size `scale * x` in fresh pages
    (16M float32 elements: 11 ms against 18 ms here). Smaller arrays, and cases where the blocks could round
    differently (a scale that is not a Python float, mixed dtypes, a non-contiguous p), use the expression.
    """
    n = p.size
    if p.nbytes <= BLOCKED_ABOVE or type(scale) is not float or x.dtype != p.dtype or not p.flags.c_contiguous:
        p -= scale * x
        return
    buf = scratch.get(p.dtype)
    if buf is None:
        buf = scratch[p.dtype] = np.empty(BLOCK, p.dtype)
    flat_p, flat_x = p.reshape(-1), x.reshape(-1)  # a view of p; x is copied only if not contiguous
    for i in range(0, n, BLOCK):
        j = min(i + BLOCK, n)
        part, tmp = flat_p[i:j], buf[:j - i]
        np.multiply(flat_x[i:j], scale, out=tmp)
        np.subtract(part, tmp, out=part)


class _SetLR:
    """`opt.lr = value` as a call a jit capture can record. Its `signature` is what the jit compares between
    the first two captures, so a value that changes from call to call (Python state) is refused there
    rather than frozen."""

    def __init__(self, opt: Optimizer, value: Any) -> None:
        self.opt, self.value = opt, value
        self.signature = (id(opt), value)

    def __call__(self) -> None:
        for group in self.opt.param_groups:
            group["lr"] = self.value


class Optimizer:
    """Holds `param_groups` (dicts with "params" and the hyperparameters) and per-parameter `state`.

    `params` is an iterable of Tensors, or of dicts `{"params": [...], "lr": ...}` whose settings override
    the defaults for that group, as in PyTorch. Subclasses define `_init_state(p)` and `_update()`.
    """

    def __init__(self, params: Iterable[Any], defaults: Mapping[str, Any]) -> None:
        name = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(f"{name}: params must be an iterable of Tensors (e.g. model.parameters() or [w]), "
                            f"got a single Tensor")
        if not isinstance(params, Iterable):
            raise TypeError(f"{name}: params must be an iterable of Tensors, got {type(params).__name__}")
        self.defaults = dict(defaults)
        self._scratch: dict[np.dtype, np.ndarray] = {}  # small buffers for subtract_scaled, one per dtype
        self.param_groups: list[ParamGroup] = []
        self.state: dict[int, dict[str, np.ndarray]] = {}  # keyed by id(p): Tensor's == is elementwise
        items = list(params)
        if not items:
            raise ValueError(f"{name} got an empty parameter list")
        for group in (items if all(isinstance(g, Mapping) for g in items) else [{"params": items}]):
            self.add_param_group(group)

    def _check_hyperparameters(self, group: ParamGroup) -> None:
        """Raise ValueError/TypeError for a bad setting of one group (subclasses extend)."""
        check_number(type(self).__name__, "lr", group["lr"])

    def add_param_group(self, group: Mapping[str, Any]) -> None:
        """Add tensors with their own settings; missing settings come from the optimizer's defaults."""
        name = type(self).__name__
        if not isinstance(group, Mapping) or "params" not in group:
            raise TypeError(f"{name}: a parameter group is a dict with a 'params' entry, got {group!r}")
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        if not params:
            raise ValueError(f"{name} got an empty parameter list")
        unknown = set(group) - set(self.defaults) - {"params"}
        if unknown:
            raise ValueError(f"{name}: unknown settings {sorted(unknown)} in a parameter group")
        for i, p in enumerate(params):
            self._check_param(i, p)
        if len({id(p) for p in params}) != len(params) or any(id(p) in self.state for p in params):
            raise ValueError(f"{name}: a parameter appears more than once")
        full = {**self.defaults, **{k: v for k, v in group.items() if k != "params"}, "params": params}
        self._check_hyperparameters(full)
        self.param_groups.append(full)
        for p in params:
            self.state[id(p)] = self._init_state(p, full)

    def _check_param(self, i: int, p: Any) -> None:
        name = type(self).__name__
        if not isinstance(p, Tensor):
            raise TypeError(f"{name}: parameter {i} must be a Tensor, got {type(p).__name__}")
        if p.dtype.kind != "f":
            raise TypeError(f"{name}: parameter {i} (shape {p.shape}) must be a floating-point tensor, got {p.dtype}")
        if not p.requires_grad:
            raise ValueError(f"{name}: parameter {i} (shape {p.shape}) does not require grad; "
                             f"call .requires_grad_() on it or leave it out")
        if not p.is_leaf:
            raise ValueError(f"{name}: parameter {i} (shape {p.shape}) is the result of an operation, not a leaf "
                             f"tensor; optimize the tensors it was computed from")

    def _init_state(self, p: Tensor, group: ParamGroup) -> dict[str, np.ndarray]:
        """The state buffers of one parameter, allocated once (for the settings of its group at construction)
        so that updates work in place on the same arrays."""
        return {}

    @property
    def lr(self) -> Any:
        """The learning rate of every parameter group (tinygrad's `opt.lr`). Reading it when the groups differ
        raises a ValueError: read `param_groups[i]["lr"]` then. Setting it sets every group's, after checking
        the value. A jit replay's `step()` reads the rate afresh, so a change between calls is honoured; setting
        it inside a jitted function is replayed too."""
        rates = [group["lr"] for group in self.param_groups]
        if any(r != rates[0] for r in rates[1:]):
            raise ValueError(f"{type(self).__name__}.lr: the parameter groups have different learning rates "
                             f"{rates}; read or set them one group at a time through param_groups[i]['lr']")
        return rates[0]

    @lr.setter
    def lr(self, value: Any) -> None:
        for group in self.param_groups:  # every group is checked before any is changed
            self._check_hyperparameters({**group, "lr": value})
        setter = _SetLR(self, value)
        if _capture.active is not None:  # inside a jit capture: each replay sets it again at this point
            _capture.active.record_call(setter, f"{type(self).__name__}.lr =")
        setter()

    @property
    def params(self) -> list[Tensor]:
        """Every parameter, group after group."""
        return [p for group in self.param_groups for p in group["params"]]

    def zero_grad(self) -> None:
        """Forget every parameter's gradient (`.grad = None`); the next backward() starts afresh."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """Update every parameter that has a gradient; parameters whose `.grad` is None are left alone."""
        if _capture.active is not None:  # a jit capture: its replays call _update again at this point
            _capture.active.record_call(self._update, f"{type(self).__name__}.step")
        self._update()

    def _update(self) -> None:
        raise NotImplementedError

    # --- state ----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """{"state": {index: {buffer name: array copy}}, "param_groups": [settings + "params": [indices]]},
        indices counting the parameters in order across groups, as PyTorch."""
        state, groups, index = {}, [], 0
        for group in self.param_groups:
            indices = list(range(index, index + len(group["params"])))
            for i, p in zip(indices, group["params"]):
                state[i] = {k: v.copy() for k, v in self.state[id(p)].items()}
            groups.append({**{k: v for k, v in group.items() if k != "params"}, "params": indices})
            index += len(indices)
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore settings and state buffers saved by `state_dict()` from an optimizer of the same kind
        over parameters of the same shapes. Buffers are copied into the existing arrays (in place)."""
        name = type(self).__name__
        if not isinstance(state_dict, Mapping) or set(state_dict) != {"state", "param_groups"}:
            raise ValueError(f"{name}.load_state_dict expects the dict state_dict() returns, "
                             f"with keys 'state' and 'param_groups'")
        groups, saved = state_dict["param_groups"], state_dict["state"]
        sizes = [len(g["params"]) for g in self.param_groups]
        saved_sizes = [len(g["params"]) for g in groups]
        if sizes != saved_sizes:
            raise ValueError(f"{name}.load_state_dict: groups of sizes {saved_sizes} do not fit this optimizer's "
                             f"groups of sizes {sizes}")
        problems = []
        added: list[tuple[Tensor, dict[str, np.ndarray]]] = []
        for i, (p, group) in enumerate((p, g) for g in self.param_groups for p in g["params"]):
            own, theirs = self.state[id(p)], saved.get(i, {})
            if set(theirs) != set(own):
                # Buffers the group's settings call for now but construction did not allocate (a scheduler
                # switched momentum on, as OneCycleLR does): allocated here, as the next step would.
                fresh = {k: v for k, v in self._init_state(p, group).items() if k not in own}
                if set(own) | set(fresh) != set(theirs):
                    problems.append(f"parameter {i} has buffers {sorted(own)}, the state dict {sorted(theirs)}")
                    continue
                added.append((p, fresh))
                own = {**own, **fresh}
            problems += [f"parameter {i} buffer {k!r}: shape {own[k].shape} here, {np.shape(theirs[k])} saved"
                         for k in own if own[k].shape != np.shape(theirs[k])]
        if problems:
            raise ValueError(f"{name}.load_state_dict: " + "; ".join(problems))
        settings = [{k: v for k, v in new.items() if k != "params"} for new in groups]
        for group, new_settings in zip(self.param_groups, settings):
            self._check_hyperparameters({**group, **new_settings})
        for group, new_settings in zip(self.param_groups, settings):
            group.update(new_settings)
        for p, fresh in added:
            self.state[id(p)].update(fresh)
        for i, p in enumerate(self.params):
            for k, buf in self.state[id(p)].items():
                np.copyto(buf, np.asarray(saved[i][k]), casting="same_kind")
