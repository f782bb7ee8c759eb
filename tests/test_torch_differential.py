"""Differential test: tinygrad_lite against PyTorch, forward values and gradients.

Every op in tests/torch_diff_specs.py runs on the same hypothesis-drawn arrays (edge values, broadcasting,
every axis form) in both libraries; results must agree in dtype, shape, NaN/inf positions, zero signs and
value (dtype tolerance). The only allowed differences are docs/ops.md's "Intended differences from
PyTorch" rows, each encoded below by name. Long run: HYPOTHESIS_PROFILE=long (tests/conftest.py).
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the differential suite compares against PyTorch (oracle extra)")

import torch_diff_specs as S  # noqa: E402
from hypothesis import assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import tinygrad_lite as tl  # noqa: E402
from tinygrad_lite.testing import strategies as tst  # noqa: E402

# A short run by default (whole file well under 40 s on 2 cores); the long profile multiplies it.
EXAMPLES = max(1, int(os.environ.get("TL_MAX_EXAMPLES", "40")) // 4)
LONG = os.environ.get("HYPOTHESIS_PROFILE") == "long"
if LONG:
    EXAMPLES = 300
# The short run (CI) draws the same examples every time: a difference it has not met yet is for the long
# run, which explores (`HYPOTHESIS_PROFILE=long`), to find and pin, not for a CI run to trip over by chance.
short = settings(max_examples=EXAMPLES, deadline=None, derandomize=not LONG)

torch.set_num_threads(1)
# torch warns where N <= correction; the inf/nan values are compared (S.DOCS_ROW_VAR_SMALL_N)
pytestmark = pytest.mark.filterwarnings(r"ignore:(std|var)\(\). degrees of freedom is <= 0:UserWarning")


def _run_both(op: S.Op, arrays: list[np.ndarray], dtype: str, grad: bool, **kw):
    ours_in = [S.to_tl(a, grad) for a in arrays]
    theirs_in = [S.to_torch(a, grad) for a in arrays]
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        ours = op.ours(*ours_in, **kw)
    theirs = op.theirs(*theirs_in, **kw)
    return ours_in, theirs_in, ours, theirs


def _check_grads(ours_in, theirs_in, ours, theirs, dtype: str, what: str, seed: int = 0) -> None:
    # A fixed random upstream gradient, so every output element's contribution is checked.
    up = np.random.default_rng(seed).uniform(0.5, 1.5, size=theirs.shape).astype(dtype)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        (ours * tl.Tensor(up)).sum().backward()
    (theirs * torch.tensor(up)).sum().backward()
    for i, (a, b) in enumerate(zip(ours_in, theirs_in)):
        # An absolute floor of a few eps: formulas like 1 - tanh(x)**2 cancel, so small gradients
        # carry the rounding of their large intermediate terms. Gradient zero signs are not compared.
        S.assert_same(a.grad, b.grad, f"{what} grad[{i}]", dtype=dtype, scale=S.GRAD_SCALE, zero_signs=False,
                      atol_floor=8 * float(np.finfo(dtype).eps))


def _without_known(op: S.Op, x: np.ndarray) -> np.ndarray:
    if op.known is None or x.dtype.kind != "f":
        return x
    return np.where(op.known(x), np.ones_like(x), x)


def _params(ops):
    return [pytest.param(op, dt, id=f"{op.name}-{dt}") for op in ops for dt in op.dtypes]


@pytest.mark.parametrize("op,dtype", _params(S.UNARY))
@short
@given(data=st.data())
def test_unary(op, dtype, data):
    x = _without_known(op, data.draw(S.arrays(tst.shapes(max_dims=3), dtype)))
    _, _, ours, theirs = _run_both(op, [x], dtype, False)
    S.assert_same(ours, theirs, f"{op.name}({x!r})", zero_signs=op.zero_signs,
                  atol_floor=8 * float(np.finfo(dtype).eps) if op.cancels else 0.0)
    if op.grad and dtype in op.grad_dtypes:
        x = _without_known(op, data.draw(S.arrays(tst.shapes(max_dims=3), dtype, edges="finite")))
        _check_grads(*_run_both(op, [x], dtype, True), dtype, f"{op.name}({x!r})")


@pytest.mark.parametrize("op,dtype", _params(S.BINARY))
@short
@given(data=st.data())
def test_binary_broadcast(op, dtype, data):
    sa, sb = data.draw(tst.broadcastable_shapes(2, max_dims=3, max_side=3))
    a, b = data.draw(S.arrays(sa, dtype)), data.draw(S.arrays(sb, dtype))
    if op.name == "div" and dtype not in S.FLOATS:
        b = np.where(b == 0, 1, b).astype(dtype)  # integer / 0: NumPy warns, torch gives inf; kept apart
    _, _, ours, theirs = _run_both(op, [a, b], dtype, False)
    S.assert_same(ours, theirs, f"{op.name}({a!r}, {b!r})", zero_signs=op.zero_signs)
    if op.grad and dtype in S.FLOATS:
        a, b = data.draw(S.arrays(sa, dtype, edges="finite")), data.draw(S.arrays(sb, dtype, edges="finite"))
        _check_grads(*_run_both(op, [a, b], dtype, True), dtype, f"{op.name}({a!r}, {b!r})")


def _reduction_expect_dtype(op: S.Op, dtype: str) -> str | None:
    if op.name == "mean" and dtype not in S.FLOATS:
        return "float32"  # docs row: S.DOCS_ROW_INT_MEAN
    return None


@pytest.mark.parametrize("op,dtype", _params(S.REDUCTIONS))
@short
@given(data=st.data())
def test_reduction_every_axis_form(op, dtype, data):
    shape = data.draw(tst.shapes(min_dims=1, max_dims=3, max_side=4))
    # axis=() is left out: torch reduces every axis for an empty dim list, NumPy (and tinygrad_lite) none;
    # S.DOCS_ROW_EMPTY_AXIS, test_documented_empty_axis_tuple.
    axis = data.draw(tst.reduction_axes(len(shape), min_size=1))
    keepdim = data.draw(st.booleans())
    x = _without_known(op, data.draw(S.arrays(shape, dtype)))
    # docs row S.DOCS_ROW_VAR_SMALL_N (N <= correction): only the warning differs; the inf/nan values are compared.
    _, _, ours, theirs = _run_both(op, [x], dtype, False, a=axis, k=keepdim)
    what = f"{op.name}(axis={axis}, keepdim={keepdim})"
    # var/std of equal values: the mean's rounding leaves torch ~eps * |x|**2 where ours is 0.
    floor = 8 * float(np.finfo(dtype).eps) * (1 + float(np.nanmax(np.abs(np.where(np.isfinite(x), x, 0))))) ** 2 \
        if op.cancels and dtype in S.FLOATS and x.size else 0.0
    S.assert_same(ours, theirs, f"{what} of {x!r}", zero_signs=False, expect_dtype=_reduction_expect_dtype(op, dtype),
                  atol_floor=floor)
    if op.grad and dtype in op.grad_dtypes:
        x = data.draw(S.arrays(shape, dtype, edges="finite"))
        if op.grad_magnitude:
            lo, hi = op.grad_magnitude
            x = np.where(x == 0, x, np.sign(x) * np.clip(np.abs(x), lo, hi)).astype(dtype)
        if op.name in ("std", "var"):
            # At zero spread the gradient is the mean's rounding noise in torch (0.46 for [1.9, 1.9, 1.9]).
            spread = np.ptp(x, axis=axis if axis is not None else None, keepdims=True) if x.size else np.ones(1)
            assume(bool(np.all(spread > 0.1)))
        _check_grads(*_run_both(op, [x], dtype, True, a=axis, k=keepdim), dtype, f"{what} of {x!r}")


def test_known_differences_still_differ():
    # One test over the list (empty today), not a parametrization: an empty one would show as a skip. A fix
    # makes its entry agree, and this fails until the entry moves to FIXED_DIFFERENCES.
    for reason, ours, theirs, x in S.KNOWN_DIFFERENCES:
        with pytest.raises(AssertionError):
            S.assert_same(ours(tl.Tensor(x)), theirs(torch.tensor(x)), f"{reason}: {x!r}")


@pytest.mark.parametrize("reason,ours,theirs,x", [
    pytest.param(*case, id=case[0][:40]) for case in S.FIXED_DIFFERENCES])
def test_fixed_difference_now_agrees(reason, ours, theirs, x):
    with warnings.catch_warnings(), np.errstate(all="ignore"):  # NumPy warns where torch is silent (x·x at 1e308)
        warnings.simplefilter("ignore")
        got = ours(tl.Tensor(x))
    S.assert_same(got, theirs(torch.tensor(x)), f"{reason}: {x!r}")


def test_every_cited_docs_row_is_in_docs_ops_md():
    """Each DOCS_ROW_* the suite relies on is a row of docs/ops.md's "Intended differences from PyTorch" table:
    every cell's text (pieces around "...") appears in one row, in order."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "ops.md").read_text(encoding="utf-8")
    section = text.split("## Intended differences from PyTorch", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    cited = {name: value for name, value in vars(S).items() if name.startswith("DOCS_ROW_")}
    assert len(cited) >= 10
    for name, row in cited.items():
        pieces = [p.strip() for cell in row.split(" | ") for p in cell.split("...") if p.strip()]
        assert any(_in_order(line, pieces) for line in rows), f"{name} = {row!r} is not a row of docs/ops.md's table"


def _in_order(line: str, pieces: list[str]) -> bool:
    at = 0
    for p in pieces:
        at = line.find(p, at)
        if at < 0:
            return False
        at += len(p)
    return True


def test_documented_sign_of_nan():
    """S.DOCS_ROW_SIGN_NAN: torch maps NaN to 0; here NaN propagates (other values agree: test_unary)."""
    x = np.array([np.nan, -np.nan, 2.0, -0.0], dtype=np.float32)
    ours, theirs = tl.Tensor(x).sign().numpy(), torch.sign(torch.tensor(x)).numpy()
    assert np.isnan(ours[:2]).all() and (theirs[:2] == 0).all()
    np.testing.assert_array_equal(ours[2:], theirs[2:])


def test_documented_gelu_default_is_tanh():
    """S.DOCS_ROW_GELU: Tensor.gelu() is torch's approximate="tanh"; approximate="none" and nn.functional.gelu
    are torch's exact default."""
    x = np.linspace(-4, 4, 17)
    ours = tl.Tensor(x).gelu().numpy()
    np.testing.assert_allclose(ours, TF.gelu(torch.tensor(x), approximate="tanh").numpy(), rtol=1e-12, atol=1e-15)
    exact = TF.gelu(torch.tensor(x)).numpy()
    assert np.abs(ours - exact).max() > 1e-4  # a different function: the difference is real, not rounding
    np.testing.assert_allclose(TLF.gelu(tl.Tensor(x)).numpy(), exact, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(tl.Tensor(x).gelu(approximate="none").numpy(), exact, rtol=1e-12, atol=1e-15)


def test_documented_gelu_exact_near_float32_max():
    """S.DOCS_ROW_GELU_F32_MAX: torch's vectorized float32 kernel overflows above max/2; here gelu(x) = x there."""
    x = np.array([3.4e38, 2e38, 1.0], dtype=np.float32)
    ours = tl.Tensor(x).gelu(approximate="none").numpy()
    np.testing.assert_array_equal(ours[:2], x[:2])
    assert np.isinf(TF.gelu(torch.tensor(x)).numpy()[:2]).all()
    assert TF.gelu(torch.tensor(x[:1])).item() == float(x[0])


def test_documented_float16_prod():
    """S.DOCS_ROW_F16_PROD: torch multiplies float16 in float16, so a partial product can underflow or overflow;
    here the product is taken in float32 and rounded once (the float32 answer, rounded)."""
    for values, torch_gives in (([5.96e-08, 0.5, 65504.0], 0.0), ([300.0, 300.0, 1e-3, 1e-3], np.inf)):
        x = np.array(values, dtype=np.float16)
        ours = tl.Tensor(x).prod().numpy()
        assert ours.dtype == np.float16 and ours == np.prod(x.astype(np.float32)).astype(np.float16)
        assert torch.prod(torch.tensor(x)).item() == torch_gives


def test_documented_summation_order_near_max():
    """S.DOCS_ROW_SUM_ORDER: whether a float32/float64 sum passes ±max on the way depends on the order of the
    additions, which differs (NumPy's pairwise blocks, torch's vectorized lanes); float16 accumulates in float32."""
    m = float(np.finfo(np.float32).max)
    x = np.array([m, 1.0, -m / 2, m, -m], dtype=np.float32)  # exact sum m/2 + 1
    with np.errstate(over="ignore"):  # NumPy warns of the overflow
        assert np.isinf(tl.Tensor(x).sum().item())
    assert torch.sum(torch.tensor(x)).item() == np.float32(m / 2)
    y = np.array([0.0] + [float(np.finfo(np.float64).max)] * 15)
    assert tl.Tensor(y).prod().item() == 0.0 and np.isnan(torch.prod(torch.tensor(y)).item())
    x16 = np.array([65504.0, 65504.0, -65504.0], dtype=np.float16)  # no order question once in float32
    assert tl.Tensor(x16).sum().item() == torch.sum(torch.tensor(x16)).item() == 65504.0


def test_documented_float16_logsumexp():
    """S.DOCS_ROW_F16_LOGSUMEXP: torch's float16 logsumexp rounds its sum to float16; here float32, rounded once."""
    x = np.array([0.0, -4.0], dtype=np.float16)
    ours, theirs = tl.Tensor(x).logsumexp().item(), torch.logsumexp(torch.tensor(x), 0).item()
    exact = float(np.logaddexp(0.0, -4.0))
    assert ours == float(np.float16(exact)) and abs(theirs - exact) > 10 * abs(ours - exact)


def test_documented_float32_variance_of_huge_equal_values():
    """S.DOCS_ROW_SUM_ORDER: torch's float32 mean of [max, max] overflows, so its var is inf; here it is 0."""
    x = np.array([3.4028235e38, 3.4028235e38], dtype=np.float32)
    assert tl.Tensor(x).var().item() == 0.0 and np.isinf(torch.var(torch.tensor(x)).item())


def test_documented_empty_axis_tuple():
    """S.DOCS_ROW_EMPTY_AXIS: torch's dim=() reduces every axis (as dim=None); axis=() here reduces none, as NumPy."""
    x = np.arange(6.0).reshape(2, 3)
    for name in ("sum", "mean", "max", "min", "prod", "logsumexp"):
        ours = getattr(tl.Tensor(x), name)(axis=()).numpy()
        np.testing.assert_allclose(ours, getattr(np, name)(x, axis=()) if name != "logsumexp" else x)
    assert torch.sum(torch.tensor(x), dim=()).item() == 15.0
    assert torch.mean(torch.tensor(x), dim=()).item() == 2.5
    assert tl.Tensor(x).sum(axis=None).item() == 15.0


def test_documented_int_mean_and_arg_dtypes():
    """docs rows S.DOCS_ROW_INT_MEAN and S.DOCS_ROW_ARG: the only integer-reduction dtypes allowed to differ."""
    x = np.array([[3, 1, 3], [0, 7, 7]], dtype=np.int64)
    assert tl.Tensor(x).mean().numpy().dtype == np.float32
    with pytest.raises(RuntimeError):
        torch.tensor(x).mean()
    for name in ("argmax", "argmin"):
        for axis in (None, 0, 1, -1):
            ours = getattr(tl.Tensor(x), name)(axis=axis).numpy()
            theirs = getattr(torch.tensor(x), name)(dim=axis)
            assert ours.dtype == np.int32 and theirs.dtype == torch.int64
            np.testing.assert_array_equal(ours, theirs.numpy())  # ties: first index in both


TF = torch.nn.functional
TLF = tl.nn.functional


def _axis_op(ours_name: str, theirs):
    """softmax / log_softmax / cumsum: one axis, drawn negative or not."""
    def case(data, dtype):
        shape = data.draw(tst.shapes(min_dims=1, max_dims=3, max_side=4))
        axis = data.draw(st.integers(-len(shape), len(shape) - 1))
        return [shape], lambda x: getattr(x, ours_name)(axis), lambda x: theirs(x, axis)
    return case


def _matmul(data, dtype):
    n, k, m = (data.draw(st.integers(1, 4)) for _ in range(3))
    batch = data.draw(tst.shapes(max_dims=2, max_side=3))
    return [batch + (n, k), (k, m)], lambda a, b: a @ b, lambda a, b: a @ b


def _where(data, dtype):
    sc, sa, sb = data.draw(tst.broadcastable_shapes(3, max_dims=3, max_side=3))
    cond = data.draw(S.arrays(sc, "bool"))
    return [sa, sb], lambda a, b: tl.Tensor(cond).where(a, b), lambda a, b: torch.where(torch.tensor(cond), a, b)


def _clip(data, dtype):
    shape = data.draw(tst.shapes(max_dims=3))
    lo = data.draw(st.floats(-2, 0, width=16))
    hi = data.draw(st.floats(0, 2, width=16))
    return [shape], lambda x: x.clip(lo, hi), lambda x: torch.clamp(x, lo, hi)


def _movement(data, dtype):
    shape = data.draw(tst.shapes(min_dims=2, max_dims=3, max_side=3))
    order = data.draw(st.permutations(range(len(shape))))
    flip = data.draw(st.integers(-len(shape), len(shape) - 1))
    return ([shape], lambda x: x.permute(order).flip(flip).reshape(-1)[::2].pad((1, 2)),
            lambda x: TF.pad(x.permute(order).flip(flip).reshape(-1)[::2], (1, 2)))


def _loss(ours, theirs, target_elements):
    def case(data, dtype):
        shape = data.draw(tst.shapes(min_dims=1, max_dims=2))
        target = data.draw(tst.arrays(shape, dtype, elements=target_elements))
        red = data.draw(st.sampled_from(["mean", "sum", "none"]))
        return ([shape], lambda x: ours(x, tl.Tensor(target), reduction=red),
                lambda x: theirs(x, torch.tensor(target), reduction=red))
    return case


STRUCTURED = {
    "softmax": _axis_op("softmax", torch.softmax),
    "log_softmax": _axis_op("log_softmax", torch.log_softmax),
    "cumsum": _axis_op("cumsum", torch.cumsum),
    "matmul": _matmul,
    "where": _where,
    "clip": _clip,
    "permute_flip_reshape_slice_pad": _movement,
    "mse_loss": _loss(TLF.mse_loss, TF.mse_loss, st.floats(-3, 3, width=16)),
    "l1_loss": _loss(TLF.l1_loss, TF.l1_loss, st.floats(-3, 3, width=16)),
}


@pytest.mark.parametrize("name", sorted(STRUCTURED))
@pytest.mark.parametrize("dtype", S.FLOATS)
@short
@given(data=st.data())
def test_structured_ops(name, dtype, data):
    """Forward on edge values, gradients on finite ones (float16 matmul: torch CPU has it, compared too)."""
    shapes, ours_fn, theirs_fn = STRUCTURED[name](data, dtype)
    edge = "finite" if name in ("matmul", "softmax", "log_softmax") else "all"  # inf - inf inside: convention
    if name == "cumsum" and dtype != "float16":
        edge = "finite"  # running sums through ±max: S.DOCS_ROW_SUM_ORDER (float16 accumulates in float32)
    xs = [data.draw(S.arrays(s, dtype, edges=edge)) for s in shapes]
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        ours = ours_fn(*[tl.Tensor(x) for x in xs])
    S.assert_same(ours, theirs_fn(*[torch.tensor(x) for x in xs]), f"{name}{tuple(xs)!r}", zero_signs=False,
                  atol_floor=8 * float(np.finfo(dtype).eps) * (4 if name in ("matmul", "cumsum") else 1))
    xs = [data.draw(S.arrays(s, dtype, edges="finite")) for s in shapes]
    o_in, t_in = [S.to_tl(x, True) for x in xs], [S.to_torch(x, True) for x in xs]
    _check_grads(o_in, t_in, ours_fn(*o_in), theirs_fn(*t_in), dtype, f"{name}{tuple(xs)!r}")


@pytest.mark.parametrize("dtype", S.FLOATS + S.INTS)
@short
@given(data=st.data())
def test_argmax_argmin(dtype, data):
    """Indices equal (first index on ties; edge values drawn); dtype int32 by docs row S.DOCS_ROW_ARG."""
    shape = data.draw(tst.shapes(min_dims=1, max_dims=3, max_side=4))
    x = data.draw(S.arrays(shape, dtype))  # NaN counts as the largest and the smallest in both
    axis = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    keepdim = data.draw(st.booleans()) if axis is not None else False
    for name in ("argmax", "argmin"):
        ours = getattr(tl.Tensor(x), name)(axis=axis, keepdim=keepdim)
        theirs = getattr(torch.tensor(x), name)(dim=axis, keepdim=keepdim)
        S.assert_same(ours, theirs, f"{name}({x!r}, axis={axis})", expect_dtype="int32")
