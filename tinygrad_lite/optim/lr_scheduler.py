"""Learning-rate schedules, each giving torch.optim.lr_scheduler's sequence step for step.

A scheduler sets `group["lr"]` of every parameter group of its optimizer: once when it is made (the value
for epoch 0) and again at each `step()`. Like PyTorch's, the "chainable" ones (StepLR, MultiStepLR,
ExponentialLR, CosineAnnealingLR, LinearLR) compute the next rate from the group's current one, so changes
made from outside carry on; LambdaLR and OneCycleLR compute it from the starting rates. Each scheduler
stores `initial_lr` in the groups, as PyTorch does, which is what lets one resume with `last_epoch=`.

Under `tl.jit`, `step()` may be called outside the jitted function (the optimizer's update reads the
rate afresh on every replay) or inside it (the call is recorded and each replay makes it again).

>>> from tinygrad_lite import Tensor, optim
>>> opt = optim.SGD([Tensor([1.0], requires_grad=True)], lr=1.0)
>>> sched = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
>>> rates = []
>>> for epoch in range(6):
...     rates.append(sched.get_last_lr()[0])   # train one epoch with this rate, then:
...     opt.step(); sched.step()
>>> rates
[1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
"""
from __future__ import annotations

import copy
import math
import numbers
import types
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from .. import _capture
from .optimizer import Optimizer, ParamGroup, check_number

__all__ = ["CosineAnnealingLR", "ExponentialLR", "LRScheduler", "LambdaLR", "LinearLR", "MultiStepLR", "OneCycleLR",
           "StepLR"]


def _check_int(owner: str, name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{owner}: {name} must be an int, got {value!r} ({type(value).__name__})")
    if value < low:
        raise ValueError(f"{owner}: {name} must be >= {low}, got {value}")


def _per_group(owner: str, name: str, value: Any, groups: Sequence[ParamGroup]) -> list[Any]:
    """One value per parameter group: a list/tuple of that length, or a single value for all."""
    if isinstance(value, (list, tuple)):
        if len(value) != len(groups):
            raise ValueError(f"{owner}: {name} has {len(value)} values, the optimizer {len(groups)} parameter groups")
        return list(value)
    return [value] * len(groups)


class LRScheduler:
    """The base of the schedulers: `step()`, `get_last_lr()`, `last_epoch`, `state_dict()`/`load_state_dict()`.

    A subclass names its settings in `_settings` (saved by `state_dict`) and defines `_rates(epoch, initial)`:
    the rates for `epoch`, where `initial` is True for the call the constructor makes.
    """

    _settings: tuple[str, ...] = ()

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        name = type(self).__name__
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{name} needs a tinygrad_lite optimizer, got {type(optimizer).__name__}")
        _check_int(name, "last_epoch", last_epoch, -1)
        groups = optimizer.param_groups
        if last_epoch == -1:
            for group in groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            missing = [i for i, group in enumerate(groups) if "initial_lr" not in group]
            if missing:
                raise ValueError(f"{name}(last_epoch={last_epoch}) resumes a schedule, but param_groups {missing} have "
                                 f"no 'initial_lr': load the optimizer state saved with the schedule first, or start "
                                 f"with last_epoch=-1")
        self.optimizer = optimizer
        self.base_lrs: list[Any] = [group["initial_lr"] for group in groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        self._last_lr: list[Any] = []
        self._advance(initial=True)

    def _rates(self, epoch: int, initial: bool) -> list[Any]:
        raise NotImplementedError

    def _groups(self) -> list[ParamGroup]:
        groups = self.optimizer.param_groups
        if len(groups) != len(self.base_lrs):
            raise ValueError(f"{type(self).__name__}: the optimizer now has {len(groups)} parameter groups, the "
                             f"scheduler was made for {len(self.base_lrs)}; make a new scheduler after add_param_group")
        return groups

    def step(self) -> None:
        """Move to the next epoch (or batch): set each group's learning rate to the schedule's next value.
        Call it after `optimizer.step()`."""
        if _capture.active is not None:  # inside a jit capture: each replay steps the schedule again here
            _capture.active.record_call(self._advance, f"{type(self).__name__}.step")
        self._advance()

    def _advance(self, initial: bool = False) -> None:
        groups = self._groups()
        epoch = self.last_epoch + 1
        rates = self._rates(epoch, initial)
        name = type(self).__name__
        for i, rate in enumerate(rates):  # nothing changes unless every rate is a number
            if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not math.isfinite(rate):
                raise (ValueError if isinstance(rate, numbers.Real) else TypeError)(
                    f"{name}: the learning rate of parameter group {i} at epoch {epoch} must be a finite number, "
                    f"got {rate!r}")
        self.last_epoch, self._step_count = epoch, self._step_count + 1
        for group, rate in zip(groups, rates):
            group["lr"] = rate
        self._last_lr = [group["lr"] for group in groups]

    def get_last_lr(self) -> list[Any]:
        """The learning rates this scheduler set last, one per parameter group."""
        return list(self._last_lr)

    def _current(self) -> list[Any]:
        return [group["lr"] for group in self.optimizer.param_groups]

    # --- state ----------------------------------------------------------------------------------------------
    def _state_names(self) -> tuple[str, ...]:
        return (*self._settings, "base_lrs", "last_epoch", "_step_count", "_last_lr")

    def state_dict(self) -> dict[str, Any]:
        """The settings and the position in the schedule (PyTorch's keys; the optimizer is not included)."""
        return {key: copy.deepcopy(getattr(self, key)) for key in self._state_names()}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore what `state_dict()` returned (the optimizer's own state is loaded separately)."""
        name = type(self).__name__
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"{name}.load_state_dict expects the dict state_dict() returns, "
                            f"got {type(state_dict).__name__}")
        expected = set(self._state_names())
        if set(state_dict) != expected:
            raise ValueError(f"{name}.load_state_dict: missing keys {sorted(expected - set(state_dict))}, unexpected "
                             f"keys {sorted(set(state_dict) - expected)} (is it another scheduler's state?)")
        if len(state_dict["base_lrs"]) != len(self.base_lrs):
            raise ValueError(f"{name}.load_state_dict: the state is for {len(state_dict['base_lrs'])} parameter "
                             f"groups, this optimizer has {len(self.base_lrs)}")
        for key in self._state_names():
            setattr(self, key, copy.deepcopy(state_dict[key]))


class StepLR(LRScheduler):
    """Multiplies the learning rate by `gamma` every `step_size` epochs.

    >>> from tinygrad_lite import Tensor, optim
    >>> opt = optim.SGD([Tensor([1.0], requires_grad=True)], lr=0.1)
    >>> sched = optim.lr_scheduler.StepLR(opt, step_size=30)   # 0.1 for epochs 0-29, 0.01 for 30-59, ...
    """

    _settings = ("step_size", "gamma")

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1) -> None:
        _check_int("StepLR", "step_size", step_size, 1)
        check_number("StepLR", "gamma", gamma)
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def _rates(self, epoch: int, initial: bool) -> list[Any]:
        if epoch == 0 or epoch % self.step_size != 0:
            return self._current()
        return [lr * self.gamma for lr in self._current()]


class MultiStepLR(LRScheduler):
    """Multiplies the learning rate by `gamma` at each epoch listed in `milestones` (by gamma**k for a
    milestone listed k times).

    >>> from tinygrad_lite import Tensor, optim
    >>> opt = optim.SGD([Tensor([1.0], requires_grad=True)], lr=0.1)
    >>> sched = optim.lr_scheduler.MultiStepLR(opt, milestones=[30, 80], gamma=0.1)
    """

    _settings = ("milestones", "gamma")

    def __init__(self, optimizer: Optimizer, milestones: Iterable[int], gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        if not isinstance(milestones, Iterable):
            raise TypeError(f"MultiStepLR: milestones must be a list of epochs, got {type(milestones).__name__}")
        milestones = list(milestones)
        for m in milestones:
            _check_int("MultiStepLR", "each milestone", m, 0)
        check_number("MultiStepLR", "gamma", gamma)
        self.milestones = Counter(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def _rates(self, epoch: int, initial: bool) -> list[Any]:
        if epoch not in self.milestones:
            return self._current()
        return [lr * self.gamma ** self.milestones[epoch] for lr in self._current()]


class ExponentialLR(LRScheduler):
    """Multiplies the learning rate by `gamma` every epoch.

    >>> from tinygrad_lite import Tensor, optim
    >>> opt = optim.SGD([Tensor([1.0], requires_grad=True)], lr=1.0)
    >>> sched = optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)
    >>> sched.step(); sched.step(); sched.get_last_lr()
    [0.25]
    """

    _settings = ("gamma",)

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        check_number("ExponentialLR", "gamma", gamma)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def _rates(self, epoch: int, initial: bool) -> list[Any]:
        if initial:
            return self._current()
        return [lr * self.gamma for lr in self._current()]


class CosineAnnealingLR(LRScheduler):
    """Follows eta_min + (base_lr - eta_min)·(1 + cos(π·epoch/T_max))/2, computed recursively from the current
    rate as PyTorch does; past T_max the cosine carries on (the rate rises again over the next T_max epochs).

    >>> from tinygrad_lite import Tensor, optim
    >>> opt = optim.SGD([Tensor([1.0], requires_grad=True)], lr=1.0)
    >>> sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=2)
    >>> sched.step(); round(sched.get_last_lr()[0], 12)
    0.5
    """

    _settings = ("T_max", "eta_min")

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1) -> None:
        _check_int("CosineAnnealingLR", "T_max", T_max, 1)
        check_number("CosineAnnealingLR", "eta_min", eta_min)
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def _rates(self, epoch: int, initial: bool) -> list[Any]:
        if initial:
            return self._current()
        T, low = self.T_max, self.eta_min
        if (epoch - 1 - T) % (2 * T) == 0:  # leaving a trough, where the ratio below would divide by zero
            return [lr + (base - low) * (1 - math.cos(math.pi / T)) / 2
                    for base, lr in zip(self.base_lrs, self._current())]
        ratio = (1 + math.cos(math.pi * epoch / T)) / (1 + math.cos(math.pi * (epoch - 1) / T))
        return [ratio * (lr - low) + low for lr in self._current()]


class LinearLR(LRScheduler):
    """Scales the learning rate by a factor going linearly from `start_factor` (epoch 0) to `end_factor`
    (epoch total_iters), then leaves it.

    >>> from tinygrad_lite import Tensor, optim
    >>> opt = optim.SGD([Tensor([1.0], requires_grad=True)], lr=1.0)
    >>> sched = optim.lr_scheduler.LinearLR(opt, start_factor=0.5, total_iters=2)
    >>> rates = [sched.get_last_lr()[0]]
    >>> for _ in range(3):
    ...     sched.step(); rates.append(sched.get_last_lr()[0])
    >>> rates
    [0.5, 0.75, 1.0, 1.0]
    """

    _settings = ("start_factor", "end_factor", "total_iters")

    def __init__(self, optimizer: Optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5, last_epoch: int = -1) -> None:
        check_number("LinearLR", "start_factor", start_factor)
        check_number("LinearLR", "end_factor", end_factor)
        if not 0 < start_factor <= 1 or end_factor > 1:
            raise ValueError(f"LinearLR: start_factor must be in (0, 1] and end_factor in [0, 1], got "
                             f"start_factor={start_factor}, end_factor={end_factor}")
        _check_int("LinearLR", "total_iters", total_iters, 0)
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        super().__init__(optimizer, last_epoch)

    def _rates(self, epoch: int, initial: bool) -> list[Any]:
        start, end = self.start_factor, self.end_factor
        if epoch == 0:
            return [lr * start for lr in self._current()]
        if initial or epoch > self.total_iters:
            return self._current()
        factor = 1.0 + (end - start) / (self.total_iters * start + (epoch - 1) * (end - start))
        return [lr * factor for lr in self._current()]


class LambdaLR(LRScheduler):
    """Sets the learning rate to base_lr · lr_lambda(epoch); `lr_lambda` is one function, or a list with one
    per parameter group.

    >>> from tinygrad_lite import Tensor, optim
    >>> opt = optim.SGD([Tensor([1.0], requires_grad=True)], lr=0.1)
    >>> sched = optim.lr_scheduler.LambdaLR(opt, lambda epoch: 0.5 ** epoch)
    >>> sched.step(); sched.get_last_lr()
    [0.05]
    """

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
                 last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"LambdaLR needs a tinygrad_lite optimizer, got {type(optimizer).__name__}")
        lambdas = _per_group("LambdaLR", "lr_lambda", lr_lambda, optimizer.param_groups)
        for i, fn in enumerate(lambdas):
            if not callable(fn):
                raise TypeError(f"LambdaLR: lr_lambda {i} must be callable (epoch -> factor), got {type(fn).__name__}")
        self.lr_lambdas: list[Callable[[int], float]] = lambdas
        super().__init__(optimizer, last_epoch)

    def _rates(self, epoch: int, initial: bool) -> list[Any]:
        factors = [fn(epoch) for fn in self.lr_lambdas]
        for i, factor in enumerate(factors):
            if isinstance(factor, bool) or not isinstance(factor, numbers.Real):
                raise TypeError(f"LambdaLR: lr_lambda {i} must return a number, got {factor!r} at epoch {epoch}")
        return [base * factor for factor, base in zip(factors, self.base_lrs)]

    def state_dict(self) -> dict[str, Any]:
        """As the base class's, plus "lr_lambdas": None for a plain function or lambda (which cannot be saved),
        a copy of the attributes of a callable object, as PyTorch does."""
        state = super().state_dict()
        state["lr_lambdas"] = [None if isinstance(fn, types.FunctionType) else copy.deepcopy(vars(fn))
                               for fn in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        if not isinstance(state_dict, Mapping) or "lr_lambdas" not in state_dict:
            raise ValueError("LambdaLR.load_state_dict expects the dict state_dict() returns, with 'lr_lambdas'")
        saved = state_dict["lr_lambdas"]
        if len(saved) != len(self.lr_lambdas):
            raise ValueError(f"LambdaLR.load_state_dict: {len(saved)} saved lr_lambdas, {len(self.lr_lambdas)} here")
        super().load_state_dict({k: v for k, v in state_dict.items() if k != "lr_lambdas"})
        for fn, attributes in zip(self.lr_lambdas, saved):
            if attributes is not None:
                vars(fn).update(copy.deepcopy(attributes))


class OneCycleLR(LRScheduler):
    """The 1cycle policy: the rate rises from max_lr/div_factor to max_lr over the first pct_start of
    `total_steps` (or epochs·steps_per_epoch) steps, then falls to max_lr/(div_factor·final_div_factor);
    with `three_phase` it first falls back to the starting rate symmetrically. By default it also cycles
    the momentum (SGD's, RMSprop's `momentum`, Adam's beta1) the other way, between max_momentum and
    base_momentum, as PyTorch does. Step it after every batch; stepping past total_steps is an error.

    >>> from tinygrad_lite import Tensor, optim
    >>> opt = optim.SGD([Tensor([1.0], requires_grad=True)], lr=0.1, momentum=0.9)
    >>> sched = optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=100)
    >>> round(sched.get_last_lr()[0], 12), opt.param_groups[0]["momentum"]   # max_lr/25 and max_momentum
    (0.04, 0.95)
    """

    _settings = ("total_steps", "_schedule_phases", "_anneal_func_type", "cycle_momentum", "use_beta1")

    def __init__(self, optimizer: Optimizer, max_lr: float | Sequence[float], total_steps: int | None = None,
                 epochs: int | None = None, steps_per_epoch: int | None = None, pct_start: float = 0.3,
                 anneal_strategy: str = "cos", cycle_momentum: bool = True,
                 base_momentum: float | Sequence[float] = 0.85, max_momentum: float | Sequence[float] = 0.95,
                 div_factor: float = 25.0, final_div_factor: float = 1e4, three_phase: bool = False,
                 last_epoch: int = -1) -> None:
        name = "OneCycleLR"
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{name} needs a tinygrad_lite optimizer, got {type(optimizer).__name__}")
        if total_steps is not None:
            _check_int(name, "total_steps", total_steps, 1)
            self.total_steps = total_steps
        elif epochs is not None and steps_per_epoch is not None:
            _check_int(name, "epochs", epochs, 1)
            _check_int(name, "steps_per_epoch", steps_per_epoch, 1)
            self.total_steps = epochs * steps_per_epoch
        else:
            raise ValueError(f"{name}: give total_steps, or both epochs and steps_per_epoch")
        check_number(name, "pct_start", pct_start)
        if pct_start > 1:
            raise ValueError(f"{name}: pct_start must be in [0, 1], got {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"{name}: anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
        check_number(name, "div_factor", div_factor)
        check_number(name, "final_div_factor", final_div_factor)
        if div_factor == 0 or final_div_factor == 0:
            raise ValueError(f"{name}: div_factor and final_div_factor must be > 0, got {div_factor}, "
                             f"{final_div_factor}")
        self._anneal_func_type = anneal_strategy
        self._schedule_phases = self._phases(float(pct_start), three_phase)
        groups = optimizer.param_groups
        max_lrs = _per_group(name, "max_lr", max_lr, groups)
        for m in max_lrs:
            check_number(name, "max_lr", m)
        self.cycle_momentum = bool(cycle_momentum)
        self.use_beta1 = "betas" in optimizer.defaults
        if self.cycle_momentum:
            if "momentum" not in optimizer.defaults and not self.use_beta1:
                raise ValueError(f"{name}: cycle_momentum needs an optimizer with momentum or betas (SGD, RMSprop, "
                                 f"Adam, AdamW), got {type(optimizer).__name__}; pass cycle_momentum=False")
            max_ms = _per_group(name, "max_momentum", max_momentum, groups)
            base_ms = _per_group(name, "base_momentum", base_momentum, groups)
            for m in (*max_ms, *base_ms):
                check_number(name, "max_momentum and base_momentum", m, 0.0, 1.0)
        if last_epoch == -1:
            for group, top in zip(groups, max_lrs):
                group["initial_lr"] = top / div_factor
                group["max_lr"] = top
                group["min_lr"] = group["initial_lr"] / final_div_factor
            if self.cycle_momentum:
                for group, top_m, low_m in zip(groups, max_ms, base_ms):
                    self._set_momentum(group, top_m)
                    group["max_momentum"], group["base_momentum"] = top_m, low_m
        else:
            needed = ["initial_lr", "max_lr", "min_lr"] + (["max_momentum", "base_momentum"] if cycle_momentum else [])
            missing = sorted({key for group in groups for key in needed if key not in group})
            if missing:
                raise ValueError(f"{name}(last_epoch={last_epoch}) resumes a schedule, but the optimizer's groups lack "
                                 f"{missing}: load the optimizer state saved with the schedule first")
        super().__init__(optimizer, last_epoch)

    def _phases(self, pct: float, three_phase: bool) -> list[dict[str, Any]]:
        """Each phase: the step it ends at and the group keys of its start and end rates and momenta."""
        total = self.total_steps
        rise = {"end_step": float(pct * total) - 1, "start_lr": "initial_lr", "end_lr": "max_lr",
                "start_momentum": "max_momentum", "end_momentum": "base_momentum"}
        if not three_phase:
            return [rise, {"end_step": total - 1, "start_lr": "max_lr", "end_lr": "min_lr",
                           "start_momentum": "base_momentum", "end_momentum": "max_momentum"}]
        return [rise,
                {"end_step": float(2 * pct * total) - 2, "start_lr": "max_lr", "end_lr": "initial_lr",
                 "start_momentum": "base_momentum", "end_momentum": "max_momentum"},
                {"end_step": total - 1, "start_lr": "initial_lr", "end_lr": "min_lr",
                 "start_momentum": "max_momentum", "end_momentum": "max_momentum"}]

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self._anneal_func_type == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def _set_momentum(self, group: ParamGroup, value: float) -> None:
        if self.use_beta1:
            group["betas"] = (value, *group["betas"][1:])
        else:
            group["momentum"] = value

    def _rates(self, epoch: int, initial: bool) -> list[Any]:
        if epoch > self.total_steps:
            raise ValueError(f"OneCycleLR: stepped {epoch} times, but the schedule has total_steps={self.total_steps}")
        phases = self._schedule_phases
        start_step = 0.0
        for i, phase in enumerate(phases):
            if epoch <= phase["end_step"] or i == len(phases) - 1:
                break
            start_step = phase["end_step"]
        if phase["end_step"] == start_step:
            raise ValueError(f"OneCycleLR: phase {i + 1} of the schedule is empty (it starts and ends at step "
                             f"{start_step}) with total_steps={self.total_steps}; change pct_start or total_steps")
        pct = (epoch - start_step) / (phase["end_step"] - start_step)
        rates, momenta = [], []
        for group in self.optimizer.param_groups:
            rates.append(self._anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct))
            if self.cycle_momentum:
                momenta.append(self._anneal(group[phase["start_momentum"]], group[phase["end_momentum"]], pct))
        for group, m in zip(self.optimizer.param_groups, momenta):
            self._set_momentum(group, m)
        return rates
