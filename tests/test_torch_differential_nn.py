"""Differential test, part two: losses, conv2d, attention and the movement ops against PyTorch.

Same rules as tests/test_torch_differential.py (its tables and comparison are reused): hypothesis draws the
shapes, options and values (edge values where the op is exact), both libraries run them, and forward values
and gradients must agree in dtype, shape, NaN/inf positions and value. Ops that sum many products (conv2d,
attention, the mean of a loss) get an absolute floor of a few eps times the size of what was summed.
The only allowed differences are docs/ops.md rows, cited by name (`S.DOCS_ROW_*`).
"""
from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the differential suite compares against PyTorch (oracle extra)")

import test_torch_differential as D  # noqa: E402
import torch_diff_specs as S  # noqa: E402
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import tinygrad_lite as tl  # noqa: E402
from tinygrad_lite.testing import strategies as tst  # noqa: E402

# torch notes that "same" padding with an even kernel copies the input: a performance note, not a difference
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")

TF = torch.nn.functional
TLF = tl.nn.functional
FLOATS = ("float32", "float64")
REDUCTIONS = ("mean", "sum", "none")


def _eps(dtype: str) -> float:
    return float(np.finfo(dtype).eps)


def _floats(dtype: str, lo: float, hi: float, edges: tuple[float, ...] = ()) -> st.SearchStrategy[float]:
    width = {"float32": 32, "float64": 64}[dtype]
    lo, hi = float(np.dtype(dtype).type(lo)), float(np.dtype(dtype).type(hi))  # bounds the dtype can hold
    plain = st.floats(lo, hi, allow_nan=False, allow_infinity=False, allow_subnormal=False, width=width)  # type: ignore[arg-type]
    return st.one_of(plain, plain, st.sampled_from(edges)) if edges else plain


def _finite_edges(dtype: str) -> tuple[float, ...]:
    return tuple(S.edge_values(dtype, finite=True))


def _same_forward_and_grads(ours_fn: Callable[..., Any], theirs_fn: Callable[..., Any], arrays: list[np.ndarray],
                            dtype: str, what: str, *, floor: float, grad_floor: float | None = None,
                            grads: tuple[bool, ...] | None = None) -> None:
    """Forward on `arrays` in both libraries, then gradients of Σ up·out for a fixed random `up` (so every output
    element counts) with respect to the arrays marked in `grads` (all by default)."""
    grads = grads if grads is not None else (True,) * len(arrays)
    ours_in = [S.to_tl(a, g) for a, g in zip(arrays, grads)]
    theirs_in = [S.to_torch(a, g) for a, g in zip(arrays, grads)]
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        ours = ours_fn(*ours_in)
    theirs = theirs_fn(*theirs_in)
    S.assert_same(ours, theirs, what, zero_signs=False, atol_floor=floor)
    up = np.random.default_rng(0).uniform(0.5, 1.5, size=theirs.shape).astype(dtype)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        (ours * tl.Tensor(up)).sum().backward()
    (theirs * torch.tensor(up)).sum().backward()
    for i, (a, b, g) in enumerate(zip(ours_in, theirs_in, grads)):
        if g:
            S.assert_same(a.grad, b.grad, f"{what} grad[{i}]", dtype=dtype, scale=S.GRAD_SCALE, zero_signs=False,
                          atol_floor=floor if grad_floor is None else grad_floor)


# --- losses ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", FLOATS)
@D.short
@given(data=st.data())
def test_binary_cross_entropy(dtype, data):
    """Probabilities with the edges 0, ½, 1 (the log floor at -100 in both), soft targets, a weight, reductions.
    Gradients stay inside (0, 1): at 0 and 1 the floor's gradient is S.DOCS_ROW_BCE_FLOOR_GRAD."""
    shape = data.draw(tst.shapes(min_dims=1, max_dims=3, max_side=4))
    red = data.draw(st.sampled_from(REDUCTIONS))
    p = data.draw(tst.arrays(shape, dtype, elements=_floats(dtype, 0.0, 1.0, (0.0, 0.5, 1.0))))
    y = data.draw(tst.arrays(shape, dtype, elements=_floats(dtype, 0.0, 1.0, (0.0, 1.0))))
    weight = data.draw(st.none() | tst.arrays(shape[-1:], dtype, elements=_floats(dtype, 0.0, 2.0)))
    ow = None if weight is None else tl.Tensor(weight)
    tw = None if weight is None else torch.tensor(weight)
    n = p.size
    floor = 8 * _eps(dtype) * 200 * (n if red == "sum" else 1)

    def ours(p_: Any) -> Any:
        return TLF.binary_cross_entropy(p_, tl.Tensor(y), weight=ow, reduction=red)

    def theirs(p_: Any) -> Any:
        return TF.binary_cross_entropy(p_, torch.tensor(y), weight=tw, reduction=red)

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        got = ours(tl.Tensor(p))
    S.assert_same(got, theirs(torch.tensor(p)), f"bce({p!r}, {y!r}, {red})", zero_signs=False, atol_floor=floor)
    inside = data.draw(tst.arrays(shape, dtype, elements=_floats(dtype, 0.02, 0.98, (0.5,))))
    # d/dp = (p - y)/(p(1 - p)): up to 50 here, times the weight and the reduction's sum
    _same_forward_and_grads(ours, theirs, [inside], dtype, f"bce grad({inside!r}, {y!r}, {red})", floor=floor,
                            grad_floor=8 * _eps(dtype) * 100)


@pytest.mark.parametrize("dtype", FLOATS)
@D.short
@given(data=st.data())
def test_binary_cross_entropy_with_logits(dtype, data):
    """Logits over [-30, 30] with the finite edges (0, ±½, ±1, ...), soft targets, weight and pos_weight."""
    shape = data.draw(tst.shapes(min_dims=1, max_dims=3, max_side=4))
    red = data.draw(st.sampled_from(REDUCTIONS))
    x = data.draw(tst.arrays(shape, dtype, elements=_floats(dtype, -30.0, 30.0, _finite_edges(dtype))))
    y = data.draw(tst.arrays(shape, dtype, elements=_floats(dtype, 0.0, 1.0, (0.0, 1.0))))
    weight = data.draw(st.none() | tst.arrays(shape[-1:], dtype, elements=_floats(dtype, 0.0, 2.0)))
    pos = data.draw(st.none() | tst.arrays(shape[-1:], dtype, elements=_floats(dtype, 0.1, 3.0)))
    opt = {"reduction": red}

    def ours(x_: Any) -> Any:
        return TLF.binary_cross_entropy_with_logits(
            x_, tl.Tensor(y), weight=None if weight is None else tl.Tensor(weight),
            pos_weight=None if pos is None else tl.Tensor(pos), **opt)

    def theirs(x_: Any) -> Any:
        return TF.binary_cross_entropy_with_logits(
            x_, torch.tensor(y), weight=None if weight is None else torch.tensor(weight),
            pos_weight=None if pos is None else torch.tensor(pos), **opt)

    # terms up to |x|·(1 + pos_weight) ≈ 120, summed over the elements for "sum"
    floor = 8 * _eps(dtype) * 120 * (x.size if red == "sum" else 1)
    _same_forward_and_grads(ours, theirs, [x], dtype, f"bce_logits({x!r}, {y!r}, {opt}, pos={pos!r})", floor=floor,
                            grad_floor=8 * _eps(dtype) * 8)


def _class_targets(data: st.DataObject, shape: tuple[int, ...], classes: int, ignore: int | None) -> np.ndarray:
    labels = st.integers(0, classes - 1) if ignore is None else st.one_of(st.integers(0, classes - 1), st.just(ignore))
    return data.draw(tst.arrays(shape, "int64", elements=labels))


@pytest.mark.parametrize("dtype", FLOATS)
@D.short
@given(data=st.data())
def test_cross_entropy_class_indices(dtype, data):
    """F.cross_entropy with integer targets: (C,), (N, C) or (N, C, d), ignore_index (the default -100 or a class,
    every row ignored included), label_smoothing, a class weight, each reduction."""
    classes = data.draw(st.integers(1, 5))
    batch = data.draw(st.sampled_from([(), (3,), (2, 3)]))
    shape = (batch[0], classes, *batch[1:]) if batch else (classes,)
    x = data.draw(tst.arrays(shape, dtype, elements=_floats(dtype, -8.0, 8.0, _finite_edges(dtype))))
    ignore = data.draw(st.sampled_from([-100, 0, classes - 1]))
    target = _class_targets(data, batch, classes, ignore if data.draw(st.booleans()) else None)
    smoothing = data.draw(st.sampled_from([0.0, 0.1, 0.35]))
    red = data.draw(st.sampled_from(REDUCTIONS))
    weight = data.draw(st.none() | tst.arrays((classes,), dtype, elements=_floats(dtype, 0.1, 2.0)))
    opt = {"ignore_index": ignore, "label_smoothing": smoothing, "reduction": red}

    def ours(x_: Any) -> Any:
        return TLF.cross_entropy(x_, tl.Tensor(target), weight=None if weight is None else tl.Tensor(weight), **opt)

    def theirs(x_: Any) -> Any:
        return TF.cross_entropy(x_, torch.tensor(target), weight=None if weight is None else torch.tensor(weight),
                                **opt)

    floor = 8 * _eps(dtype) * 40 * (max(1, target.size) if red == "sum" else 1)
    _same_forward_and_grads(ours, theirs, [x], dtype, f"cross_entropy({x!r}, {target!r}, {opt}, w={weight!r})",
                            floor=floor, grad_floor=8 * _eps(dtype) * 4)


@pytest.mark.parametrize("dtype", FLOATS)
@D.short
@given(data=st.data())
def test_cross_entropy_class_probabilities(dtype, data):
    """F.cross_entropy with soft targets (rows of probabilities), label smoothing and the reductions."""
    n, classes = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 5))
    x = data.draw(tst.arrays((n, classes), dtype, elements=_floats(dtype, -8.0, 8.0)))
    raw = data.draw(tst.arrays((n, classes), dtype, elements=_floats(dtype, 0.0, 1.0, (0.0, 1.0))))
    target = raw / np.maximum(raw.sum(axis=1, keepdims=True), 1e-3).astype(dtype)
    smoothing = data.draw(st.sampled_from([0.0, 0.2]))
    red = data.draw(st.sampled_from(REDUCTIONS))
    opt = {"label_smoothing": smoothing, "reduction": red}
    _same_forward_and_grads(lambda x_: TLF.cross_entropy(x_, tl.Tensor(target), **opt),
                            lambda x_: TF.cross_entropy(x_, torch.tensor(target), **opt), [x], dtype,
                            f"cross_entropy({x!r}, soft {target!r}, {opt})",
                            floor=8 * _eps(dtype) * 40 * n, grad_floor=8 * _eps(dtype) * 4)


@pytest.mark.parametrize("dtype", FLOATS)
@D.short
@given(data=st.data())
def test_sparse_categorical_crossentropy(dtype, data):
    """tinygrad's Tensor.sparse_categorical_crossentropy: classes last (..., C), labels (...); ignore_index
    (default -1, S.DOCS_ROW_SCCE_IGNORE) and label_smoothing, against F.cross_entropy with the class axis moved."""
    classes = data.draw(st.integers(1, 5))
    lead = data.draw(st.sampled_from([(3,), (1,), (2, 3)]))
    x = data.draw(tst.arrays((*lead, classes), dtype, elements=_floats(dtype, -8.0, 8.0, _finite_edges(dtype))))
    use_default = data.draw(st.booleans())
    ignore = -1 if use_default else data.draw(st.sampled_from([0, classes - 1, 7]))
    target = _class_targets(data, lead, classes, ignore if data.draw(st.booleans()) else None)
    smoothing = data.draw(st.sampled_from([0.0, 0.1, 0.35]))
    red = data.draw(st.sampled_from(REDUCTIONS))
    kw = {} if use_default else {"ignore_index": ignore}

    def ours(x_: Any) -> Any:
        return x_.sparse_categorical_crossentropy(tl.Tensor(target), label_smoothing=smoothing, reduction=red, **kw)

    def theirs(x_: Any) -> Any:
        moved = x_.movedim(-1, 1) if x_.ndim > 2 else x_
        return TF.cross_entropy(moved, torch.tensor(target), ignore_index=ignore, label_smoothing=smoothing,
                                reduction=red)

    floor = 8 * _eps(dtype) * 40 * (target.size if red == "sum" else 1)
    _same_forward_and_grads(ours, theirs, [x], dtype, f"scce({x!r}, {target!r}, ignore={ignore}, "
                            f"smoothing={smoothing}, {red})", floor=floor, grad_floor=8 * _eps(dtype) * 4)


# --- conv2d and attention -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", FLOATS)
@D.short
@given(data=st.data())
def test_conv2d(dtype, data):
    """N×C×H×W by Co×(C/groups)×kh×kw: stride, padding (ints, pairs, "same", "valid"), dilation, groups, bias;
    gradients for input, weight and bias."""
    groups = data.draw(st.sampled_from([1, 1, 2, 3]))
    cin, cout = groups * data.draw(st.integers(1, 2)), groups * data.draw(st.integers(1, 2))
    kh, kw = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    dilation = data.draw(st.sampled_from([1, 1, 2, (1, 2)]))
    padding: Any = data.draw(st.sampled_from([0, 1, 2, (0, 1), (2, 1), "valid", "same"]))
    stride: Any = 1 if padding == "same" else data.draw(st.sampled_from([1, 2, 3, (2, 1)]))
    dh, dw = (dilation, dilation) if isinstance(dilation, int) else dilation
    ph, pw = (0, 0) if isinstance(padding, str) else (padding, padding) if isinstance(padding, int) else padding
    h = data.draw(st.integers(max(1, dh * (kh - 1) + 1 - 2 * ph), 6))
    w = data.draw(st.integers(max(1, dw * (kw - 1) + 1 - 2 * pw), 6))
    n = data.draw(st.integers(1, 2))
    el = _floats(dtype, -2.0, 2.0, (0.0, -0.0, 0.5, -1.0, 1.5))
    x = data.draw(tst.arrays((n, cin, h, w), dtype, elements=el))
    wt = data.draw(tst.arrays((cout, cin // groups, kh, kw), dtype, elements=el))
    bias = data.draw(st.none() | tst.arrays((cout,), dtype, elements=el))
    opt = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
    arrays = [x, wt] + ([] if bias is None else [bias])
    terms = (cin // groups) * kh * kw * 4 + 2  # |x·w| ≤ 4 per product, summed; gradients sum over N·H·W too
    _same_forward_and_grads(lambda *a: TLF.conv2d(*a, **opt) if bias is not None else TLF.conv2d(*a, None, **opt),
                            lambda *a: TF.conv2d(*a, **opt) if bias is not None else TF.conv2d(*a, None, **opt),
                            arrays, dtype, f"conv2d({opt}, x={x!r}, w={wt!r}, b={bias!r})",
                            floor=8 * _eps(dtype) * terms, grad_floor=8 * _eps(dtype) * terms * n * h * w)


@pytest.mark.parametrize("dtype", FLOATS)
@D.short
@given(data=st.data())
def test_scaled_dot_product_attention(dtype, data):
    """softmax(q·kᵀ·scale + mask)·v: no mask, a bool mask (rows that see no key give zeros in both) or a float
    mask, is_causal, an explicit scale, batch and head axes; gradients for q, k and v."""
    batch = data.draw(st.sampled_from([(), (2,), (1, 2)]))
    lq, lk, d, dv = (data.draw(st.integers(1, 4)) for _ in range(4))
    el = _floats(dtype, -3.0, 3.0, (0.0, 1.0, -1.0))
    q = data.draw(tst.arrays((*batch, lq, d), dtype, elements=el))
    k = data.draw(tst.arrays((*batch, lk, d), dtype, elements=el))
    v = data.draw(tst.arrays((*batch, lk, dv), dtype, elements=el))
    kind = data.draw(st.sampled_from(["none", "bool", "float", "causal"]))
    scale = data.draw(st.sampled_from([None, 0.5, 2.0]))
    mask: np.ndarray | None = None
    if kind == "bool":
        mask = data.draw(tst.arrays((lq, lk), "bool", elements=st.booleans()))
    elif kind == "float":
        mask = data.draw(tst.arrays((lq, lk), dtype, elements=_floats(dtype, -3.0, 3.0, (-np.inf, 0.0))))
        mask[:, 0] = np.where(np.isinf(mask[:, 0]), 0.0, mask[:, 0])  # a row of -inf is nan in both: kept apart
    opt = {"is_causal": kind == "causal", "scale": scale}

    def ours(q_: Any, k_: Any, v_: Any) -> Any:
        return TLF.scaled_dot_product_attention(q_, k_, v_, attn_mask=None if mask is None else tl.Tensor(mask), **opt)

    def theirs(q_: Any, k_: Any, v_: Any) -> Any:
        return TF.scaled_dot_product_attention(q_, k_, v_, attn_mask=None if mask is None else torch.tensor(mask),
                                               **opt)

    # scores up to d·9·scale feed exp: softmax weights carry that relative rounding into the output
    big = 9 * d * (scale if scale is not None else 1 / np.sqrt(d)) + 3
    _same_forward_and_grads(ours, theirs, [q, k, v], dtype, f"sdpa({kind}, {opt}, q={q!r}, k={k!r}, v={v!r}, "
                            f"mask={mask!r})", floor=8 * _eps(dtype) * 3 * big * lk,
                            grad_floor=8 * _eps(dtype) * 9 * big * lk * max(lq, d, dv))


# --- movement -------------------------------------------------------------------------------------------------------
MOVE_DTYPES = ("float16", "float32", "float64", "int32", "int64", "bool")


@pytest.mark.parametrize("dtype", MOVE_DTYPES)
@D.short
@given(data=st.data())
def test_expand(dtype, data):
    """Size-1 axes broadcast and new leading axes (-1 keeps a size); the gradient sums over the copies."""
    shape = data.draw(tst.shapes(min_dims=0, max_dims=3, max_side=3))
    target = tuple(data.draw(st.sampled_from([n, 3]) if n == 1 else st.sampled_from([n, -1])) for n in shape)
    lead = tuple(data.draw(st.lists(st.integers(1, 3), max_size=2)))
    full = lead + target
    x = data.draw(S.arrays(shape, dtype))
    _movement_case(lambda t: t.expand(full), lambda t: t.expand(full), [x], dtype, f"expand({shape} -> {full})")


@pytest.mark.parametrize("dtype", MOVE_DTYPES)
@D.short
@given(data=st.data())
def test_transpose_and_permute(dtype, data):
    shape = data.draw(tst.shapes(min_dims=1, max_dims=4, max_side=3))
    nd = len(shape)
    order = data.draw(st.permutations(range(nd)))
    order = [o - nd if data.draw(st.booleans()) else o for o in order]  # negative axes too
    d0, d1 = data.draw(st.integers(-nd, nd - 1)), data.draw(st.integers(-nd, nd - 1))
    x = data.draw(S.arrays(shape, dtype))
    _movement_case(lambda t: t.permute(order).transpose(d0, d1), lambda t: t.permute(order).transpose(d0, d1), [x],
                   dtype, f"permute({order}).transpose({d0}, {d1}) of {shape}")


@pytest.mark.parametrize("dtype", MOVE_DTYPES)
@D.short
@given(data=st.data())
def test_cat_and_stack(dtype, data):
    """2-4 tensors joined along an existing axis (cat, sizes along it differ) or a new one (stack), any dim."""
    base = data.draw(tst.shapes(min_dims=1, max_dims=3, max_side=3))
    nd = len(base)
    count = data.draw(st.integers(2, 4))
    stack = data.draw(st.booleans())
    dim = data.draw(st.integers(-(nd + 1), nd) if stack else st.integers(-nd, nd - 1))
    shapes = [base] * count
    if not stack:
        shapes = [base[:dim % nd] + (data.draw(st.integers(0, 3)),) + base[dim % nd + 1:] for _ in range(count)]
    xs = [data.draw(S.arrays(s, dtype)) for s in shapes]
    if stack:
        _movement_case(lambda *t: tl.Tensor.stack(list(t), dim=dim), lambda *t: torch.stack(t, dim=dim), xs, dtype,
                       f"stack(dim={dim}) of {shapes}")
    else:
        _movement_case(lambda *t: tl.Tensor.cat(list(t), dim=dim), lambda *t: torch.cat(t, dim=dim), xs, dtype,
                       f"cat(dim={dim}) of {shapes}")


@D.short
@given(data=st.data())
def test_cat_mixed_dtypes_promote_as_torch(data):
    """cat of tensors of different dtypes: the result's dtype and values as torch.cat (floats win, bool < ints)."""
    shape = data.draw(tst.shapes(min_dims=1, max_dims=2, max_side=3))
    dts = data.draw(st.lists(st.sampled_from(["bool", "uint8", "int32", "int64", "float16", "float32", "float64"]),
                             min_size=2, max_size=3))
    xs = [data.draw(S.arrays(shape, dt)) for dt in dts]
    ours = tl.Tensor.cat([tl.Tensor(x) for x in xs], dim=0)
    S.assert_same(ours, torch.cat([torch.tensor(x) for x in xs], dim=0), f"cat of {dts}: {xs!r}")


def _movement_case(ours_fn: Callable[..., Any], theirs_fn: Callable[..., Any], xs: list[np.ndarray], dtype: str,
                   what: str) -> None:
    """Movement is exact: values (edge values, zero signs, NaN) equal; for floats also the gradients, which only
    sum copies (expand) or move elements."""
    S.assert_same(ours_fn(*[tl.Tensor(x) for x in xs]), theirs_fn(*[torch.tensor(x) for x in xs]), what,
                  zero_signs=True)
    if dtype in S.FLOATS:
        finite = [np.where(np.isfinite(x), x, 1).astype(dtype) for x in xs]
        D._check_grads(*_both(ours_fn, theirs_fn, finite), dtype, what)


def _both(ours_fn: Callable[..., Any], theirs_fn: Callable[..., Any], xs: list[np.ndarray]) -> tuple[Any, ...]:
    o_in, t_in = [S.to_tl(x, True) for x in xs], [S.to_torch(x, True) for x in xs]
    return o_in, t_in, ours_fn(*o_in), theirs_fn(*t_in)
