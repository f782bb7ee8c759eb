"""vjp, jvp, jacobian, hessian and hvp, with JAX's and torch.func's semantics: arguments and results are
pytrees (tuples, lists, dicts) of Tensors, `argnums` picks arguments, `has_aux` passes a second result
through undifferentiated.

Results are detached from the graph, unless an argument (or tangent, cotangent) takes part in an outer
graph: then they are differentiable, which is how the transforms compose (`jacobian(jacobian(f))`,
`jvp(grad(f))`, `grad` of a `jvp`).

>>> from tinygrad_lite import Tensor, jvp, vjp
>>> f = lambda x: (x * x).sum()
>>> out, tangent = jvp(f, (Tensor([1.0, 2.0]),), (Tensor([1.0, 1.0]),))
>>> tangent.item()
6.0
>>> out, f_vjp = vjp(f, Tensor([1.0, 2.0]))
>>> f_vjp(Tensor(1.0))[0].tolist()
[2.0, 4.0]
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import engine, grad_mode
from .forward_mode import Linearization
from .pytree import TreeSpec, flatten, unflatten
from .tensor import Tensor
from .transforms import chosen_argnums, seed, split_aux


# --- arguments --------------------------------------------------------------------------------------
def _as_tensor(x: Any, what: str) -> Tensor:
    t = x if isinstance(x, Tensor) else Tensor(np.asarray(x)) if isinstance(x, (np.ndarray, np.generic)) else None
    if t is None:
        if isinstance(x, (int, float)) and not isinstance(x, bool):
            t = Tensor(float(x))
        else:
            raise TypeError(f"{what} must be a Tensor (or a pytree of them), got {type(x).__name__}")
    if t.dtype.kind != "f":
        raise TypeError(f"{what} must be a floating-point tensor, got dtype {t.dtype}")
    return t


class _Seeds:
    """The differentiated arguments of one call, flattened: `leaves` (what the user passed, as Tensors),
    `seeds` (what f sees) and the specs to rebuild each argument."""

    def __init__(self, args: Sequence[Any], what: str, make_seeds: bool = True) -> None:
        self.specs: list[TreeSpec] = []
        self.leaves: list[Tensor] = []
        for i, a in enumerate(args):
            leaves, spec = flatten(a)
            self.specs.append(spec)
            self.leaves += [_as_tensor(x, f"{what} {i}") for x in leaves]
        pairs = [seed(x) for x in self.leaves] if make_seeds else []
        self.seeds = [s for s, _ in pairs]
        self.nested = any(n for _, n in pairs)

    def rebuild(self, leaves: Sequence[Any]) -> list[Any]:
        """One pytree per argument, from one leaf per flattened leaf."""
        out, start = [], 0
        for spec in self.specs:
            n = spec.num_leaves
            out.append(unflatten(spec, leaves[start:start + n]))
            start += n
        return out


def _outputs(out: Any, has_aux: bool, name: str) -> tuple[list[Tensor], TreeSpec, Any]:
    out, aux = split_aux(out, has_aux, name, "output")
    leaves, spec = flatten(out)
    for i, t in enumerate(leaves):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}: the function must return a Tensor or a pytree of Tensors; output leaf {i} "
                            f"is {type(t).__name__}")
    return leaves, spec, aux


def _matching(values: Any, like: Sequence[Tensor], spec: TreeSpec, what: str, against: str) -> list[Tensor]:
    """The leaves of `values` as Tensors, checked to have the structure, shapes and float kind of `like`."""
    leaves, vspec = flatten(values)
    if vspec != spec:
        raise ValueError(f"{what} must have the structure of the {against} {spec}, got {vspec}")
    out = []
    for i, (v, x) in enumerate(zip(leaves, like)):
        t = _as_tensor(v, f"{what} leaf {i}")
        if t.shape != x.shape:
            raise ValueError(f"{what} leaf {i} has shape {t.shape}, the {against} has {x.shape}")
        out.append(t if t.dtype == x.dtype else t.cast(x.dtype))
    return out


def _finish(t: Tensor, keep: bool) -> Tensor:
    return t if keep else t.detach()


def _zeros(x: Tensor) -> Tensor:
    return Tensor._wrap(np.zeros(x.shape, dtype=x.dtype))


# --- vjp and jvp ------------------------------------------------------------------------------------
def vjp(f: Callable[..., Any], *primals: Any, has_aux: bool = False) -> Any:
    """`(f(*primals), vjp_fn)`, where `vjp_fn(cotangents)` gives one cotangent per primal (a tuple, each
    shaped like its primal) for `cotangents` shaped like the output. With `has_aux=True`, f returns
    `(output, aux)` and vjp returns `(output, vjp_fn, aux)`. `vjp_fn` may be called many times.

    >>> from tinygrad_lite import Tensor, vjp
    >>> out, f_vjp = vjp(lambda x, y: x * y, Tensor([1.0, 2.0]), Tensor([3.0, 4.0]))
    >>> [g.tolist() for g in f_vjp(Tensor([1.0, 1.0]))]
    [[3.0, 4.0], [1.0, 2.0]]
    """
    if not primals:
        raise TypeError("vjp: needs at least one primal argument")
    args = _Seeds(primals, "vjp: primal")
    with grad_mode.enable_grad():
        raw = f(*args.rebuild(args.seeds))
    outs, out_spec, aux = _outputs(raw, has_aux, "vjp")
    nested = args.nested

    def vjp_fn(cotangents: Any) -> tuple[Any, ...]:
        cts = _matching(cotangents, outs, out_spec, "vjp_fn: the cotangent", "output")
        create = nested or any(c.requires_grad for c in cts)
        pairs = [(o, c) for o, c in zip(outs, cts) if o.requires_grad]
        found: list[Any] = [None] * len(args.seeds)
        if pairs:
            roots = [o for o, _ in pairs]
            grads = [c if create else c.data for _, c in pairs]
            with grad_mode.enable_grad():
                got = engine.run_backward(roots, grads, retain_graph=True, create_graph=create, capture=args.seeds)
            assert got is not None
            found = got
        res = [_finish(g, create) if g is not None else _zeros(s) for g, s in zip(found, args.seeds)]
        return tuple(args.rebuild(res))

    out = unflatten(out_spec, [_finish(o, nested) for o in outs])
    return (out, vjp_fn, aux) if has_aux else (out, vjp_fn)


def _linearize(f: Callable[..., Any], primals: Sequence[Any], has_aux: bool, name: str
               ) -> tuple[_Seeds, list[Tensor], TreeSpec, Any, Linearization]:
    if not isinstance(primals, (tuple, list)):
        raise TypeError(f"{name}: primals must be a tuple of arguments, got {type(primals).__name__}")
    args = _Seeds(primals, f"{name}: primal")
    with grad_mode.enable_grad():
        raw = f(*args.rebuild(args.seeds))
        outs, out_spec, aux = _outputs(raw, has_aux, name)
        return args, outs, out_spec, aux, Linearization(outs, args.seeds)


def jvp(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any], has_aux: bool = False) -> Any:
    """`(f(*primals), J·tangents)` by forward mode: the tangents are pushed through the graph of f with each
    primitive's `jvp` rule. `tangents` has the structure of `primals`. With `has_aux=True`, f returns
    `(output, aux)` and jvp returns `(output, tangent_out, aux)`.

    >>> from tinygrad_lite import Tensor, jvp
    >>> out, t = jvp(lambda x: x.sin(), (Tensor([0.0]),), (Tensor([2.0]),))
    >>> t.tolist()
    [2.0]
    """
    args, outs, out_spec, aux, lin = _linearize(f, primals, has_aux, "jvp")
    if not isinstance(tangents, (tuple, list)) or len(tangents) != len(primals):
        raise TypeError(f"jvp: tangents must be a tuple with one entry per primal ({len(primals)}), got "
                        f"{type(tangents).__name__}" + (f" of {len(tangents)}" if isinstance(tangents, (tuple, list))
                                                         else ""))
    tans: list[Tensor] = []
    for i, (p, t) in enumerate(zip(primals, tangents)):
        p_leaves, p_spec = flatten(p)
        n = len(tans)
        tans += _matching(t, args.leaves[n:n + len(p_leaves)], p_spec, f"jvp: tangent {i}", f"primal {i}")
    keep = args.nested or any(t.requires_grad for t in tans)
    with grad_mode.enable_grad():
        touts = lin.push(tans)
    res = [_finish(t, keep) if t is not None else _zeros(o) for t, o in zip(touts, outs)]
    out = unflatten(out_spec, [_finish(o, keep) for o in outs])
    tangent_out = unflatten(out_spec, res)
    return (out, tangent_out, aux) if has_aux else (out, tangent_out)


# --- jacobian, hessian, hvp -------------------------------------------------------------------------
def _basis(x: Tensor, i: int) -> Tensor:
    e = np.zeros(x.shape, dtype=x.dtype)
    e.reshape(-1)[i] = 1
    return Tensor._wrap(e)


def _stack(parts: list[Tensor], lead: tuple[int, ...], trail: tuple[int, ...], dtype: Any) -> Tensor:
    """Tensors of shape `trail`, one per element of `lead`, as one tensor of shape lead + trail."""
    if not parts:
        return Tensor._wrap(np.zeros(lead + trail, dtype=dtype))
    return Tensor.stack(*parts).reshape(lead + trail)


def jacobian(f: Callable[..., Any], argnums: int | Sequence[int] = 0, mode: str = "rev",
             has_aux: bool = False) -> Callable[..., Any]:
    """A function giving the Jacobian of f: for each output leaf of shape S and argument leaf of shape A,
    a tensor of shape S + A. `mode="rev"` builds it a row at a time (one backward pass per output
    element, as jax.jacrev), `mode="fwd"` a column at a time (one tangent push per input element, as
    jax.jacfwd): pick the one for the smaller side. A tuple `argnums` gives a tuple per output leaf.

    >>> from tinygrad_lite import Tensor, jacobian
    >>> jacobian(lambda x: x * x)(Tensor([1.0, 2.0])).tolist()
    [[2.0, 0.0], [0.0, 4.0]]
    """
    if mode not in ("rev", "fwd"):
        raise ValueError(f"jacobian: mode must be 'rev' or 'fwd', got {mode!r}")

    def jac(*args: Any, **kwargs: Any) -> Any:
        nums = chosen_argnums(argnums, len(args), "jacobian")

        def g(*chosen: Any) -> Any:
            call = list(args)
            for n, c in zip(nums, chosen):
                call[n] = c
            return f(*call, **kwargs)

        chosen = [args[n] for n in nums]
        if mode == "rev":
            inputs, outs, out_spec, aux, cols = _jacrev(g, chosen, has_aux)
        else:
            inputs, outs, out_spec, aux, cols = _jacfwd(g, chosen, has_aux)
        # cols[k][j]: the block d out_k / d input leaf j
        per_out = []
        for k in range(len(outs)):
            per_arg = inputs.rebuild(cols[k])
            per_out.append(per_arg[0] if isinstance(argnums, int) else tuple(per_arg))
        result = unflatten(out_spec, per_out)
        return (result, aux) if has_aux else result

    return jac


def _jacrev(g: Callable[..., Any], chosen: list[Any], has_aux: bool) -> Any:
    res = vjp(g, *chosen, has_aux=has_aux)
    out, f_vjp = res[0], res[1]
    aux = res[2] if has_aux else None
    outs, out_spec = flatten(out)
    inputs = _Seeds(chosen, "jacobian: argument", make_seeds=False)  # the leaves' shapes and specs
    blocks: list[list[Tensor]] = []
    for k, o in enumerate(outs):
        rows: list[list[Tensor]] = [[] for _ in inputs.leaves]
        for i in range(o.data.size):
            cts = [_basis(o, i) if j == k else _zeros(p) for j, p in enumerate(outs)]
            grads, _ = flatten(f_vjp(unflatten(out_spec, cts)))
            for j, gj in enumerate(grads):
                rows[j].append(gj)
        blocks.append([_stack(r, o.shape, x.shape, x.dtype) for r, x in zip(rows, inputs.leaves)])
    return inputs, outs, out_spec, aux, blocks


def _jacfwd(g: Callable[..., Any], chosen: list[Any], has_aux: bool) -> Any:
    args, outs, out_spec, aux, lin = _linearize(g, chosen, has_aux, "jacobian")
    keep = args.nested
    blocks: list[list[Tensor]] = [[] for _ in outs]
    for j, x in enumerate(args.leaves):
        columns: list[list[Tensor]] = [[] for _ in outs]
        for i in range(x.data.size):
            tans: list[Any] = [None] * len(args.leaves)
            tans[j] = _basis(x, i)
            with grad_mode.enable_grad():
                touts = lin.push(tans)
            for k, (t, o) in enumerate(zip(touts, outs)):
                columns[k].append(t if t is not None else _zeros(o))
        for k, o in enumerate(outs):
            block = _stack(columns[k], x.shape, o.shape, o.dtype)  # x.shape + o.shape: move o's axes first
            nx = x.ndim
            order = tuple(range(nx, nx + o.ndim)) + tuple(range(nx))
            blocks[k].append(_finish(block.permute(order) if order else block, keep))
    outs = [_finish(o, keep) for o in outs]
    return args, outs, out_spec, aux, blocks


def hessian(f: Callable[..., Any], argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """The Hessian of f by forward-over-reverse: `jacobian(jacobian(f, mode="rev"), mode="fwd")`. For a
    scalar f of an argument of shape A, shape A + A.

    >>> from tinygrad_lite import Tensor, hessian
    >>> hessian(lambda x: (x ** 3).sum())(Tensor([1.0, 2.0])).tolist()
    [[6.0, 0.0], [0.0, 12.0]]
    """
    second = jacobian(jacobian(f, argnums, mode="rev"), argnums, mode="fwd")

    def hess(*args: Any, **kwargs: Any) -> Any:
        chosen_argnums(argnums, len(args), "hessian")  # the errors name what the caller called
        return second(*args, **kwargs)

    return hess


def hvp(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any]) -> Any:
    """The Hessian of scalar f at `primals` times `tangents`, by forward-over-reverse (a jvp of the gradient),
    without forming the Hessian. Like JAX's recipe `jvp(grad(f), primals, tangents)[1]`, but with respect to
    every primal: the result has the structure of `primals[0]` for one primal, else a tuple per primal.

    >>> from tinygrad_lite import Tensor, hvp
    >>> hvp(lambda x: (x ** 3).sum(), (Tensor([1.0, 2.0]),), (Tensor([1.0, 1.0]),)).tolist()
    [6.0, 12.0]
    """
    if not isinstance(primals, (tuple, list)) or not primals:
        raise TypeError(f"hvp: primals must be a non-empty tuple of arguments, got {type(primals).__name__}")

    def gradient(*ps: Any) -> Any:
        out, f_vjp = vjp(f, *ps)
        if not isinstance(out, Tensor) or out.data.size != 1:
            shape = out.shape if isinstance(out, Tensor) else type(out).__name__
            raise ValueError(f"hvp: the function must return a scalar Tensor, got {shape}")
        return f_vjp(Tensor._wrap(np.ones(out.shape, dtype=out.dtype)))

    _, tangent = jvp(gradient, tuple(primals), tuple(tangents))
    return tangent[0] if len(primals) == 1 else tangent
