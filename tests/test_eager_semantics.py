"""Eager semantics at the edges (issue 11): integer and bool dtypes, gradient conventions, and the PyTorch
habits users type on day one. Each test pins a defect that gave a silent wrong answer or a raw NumPy error;
where PyTorch has the convention, it is the oracle (the tests that need it skip without it)."""
from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_lite as tl
import tinygrad_lite.nn.functional as F
from tinygrad_lite import Tensor, dtypes
from tinygrad_lite.dtypes import IntegerOverflowError


def torch_or_skip() -> Any:
    return pytest.importorskip("torch", reason="PyTorch is the oracle here (the 'oracle' extra)")


ALL_DTYPES = [np.bool_, np.uint8, np.int8, np.int16, np.int32, np.int64, np.float16, np.float32, np.float64]


def as_torch(torch: Any, a: np.ndarray, requires_grad: bool = False) -> Any:
    return torch.tensor(a, requires_grad=requires_grad)


def small_shapes(min_dims: int = 1) -> st.SearchStrategy[tuple[int, ...]]:
    return hnp.array_shapes(min_dims=min_dims, max_dims=3, min_side=1, max_side=4)


def tied_floats(shape: tuple[int, ...]) -> st.SearchStrategy[np.ndarray]:
    """Values from a few levels, so that ties (the interesting case for min/minimum) are common."""
    return hnp.arrays(np.float64, shape, elements=st.sampled_from([-1.5, -0.5, 0.0, 0.5, 2.0]))


# --- integers and bools ---------------------------------------------------------------------------------
def test_min_of_unsigned_and_most_negative_integers() -> None:
    assert Tensor(np.array([250, 3, 0], np.uint8)).min().item() == 0
    assert Tensor(np.array([-2**31, 5], np.int32)).min().item() == -2**31
    assert Tensor(np.array([[250, 3], [7, 9]], np.uint8)).min(1).tolist() == [3, 7]
    assert Tensor(np.array([-2**31, 5], np.int32)).minimum(Tensor(np.array([0, 0], np.int32))).tolist() == [-2**31, 0]
    assert Tensor(np.array([250, 3], np.uint8)).minimum(Tensor(np.array([4, 4], np.uint8))).tolist() == [4, 3]
    assert Tensor(np.array([250, 3], np.uint8)).min().dtype == np.uint8


def test_min_and_max_of_bools() -> None:
    assert Tensor([True, False]).min().item() is False
    assert Tensor([True, False]).max().item() is True
    assert Tensor([True, False]).min().dtype == np.bool_


def test_sign_of_bool_is_itself() -> None:
    t = Tensor([True, False])
    assert t.sign().tolist() == [True, False] and t.sign().dtype == np.bool_


@given(shape=small_shapes(), data=st.data())
def test_min_reduction_gradient_matches_torch_amin(shape: tuple[int, ...], data: st.DataObject) -> None:
    torch = torch_or_skip()
    a = data.draw(tied_floats(shape))
    axis = data.draw(st.one_of(st.none(), st.integers(0, len(shape) - 1)))
    keepdim = data.draw(st.booleans())
    x = Tensor(a, requires_grad=True)
    out = x.min(axis, keepdim)
    g = np.arange(1.0, out.data.size + 1).reshape(out.shape)
    out.backward(g)
    tx = as_torch(torch, a, True)
    tout = tx.amin(dim=tuple(range(len(shape))) if axis is None else axis, keepdim=keepdim)
    tout.backward(torch.tensor(g).reshape(tout.shape))
    np.testing.assert_array_equal(out.data, tout.detach().numpy().reshape(out.shape))
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-12)


@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3), data=st.data())
def test_minimum_gradient_matches_torch_with_ties(shapes: Any, data: st.DataObject) -> None:
    torch = torch_or_skip()
    a, b = data.draw(tied_floats(shapes.input_shapes[0])), data.draw(tied_floats(shapes.input_shapes[1]))
    x, y = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
    x.minimum(y).sum().backward()
    tx, ty = as_torch(torch, a, True), as_torch(torch, b, True)
    torch.minimum(tx, ty).sum().backward()
    np.testing.assert_array_equal(x.minimum(y).data, torch.minimum(tx, ty).detach().numpy())
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy())
    np.testing.assert_allclose(y.grad.data, ty.grad.numpy())


def test_cat_and_stack_promote_across_kinds() -> None:
    mixed = Tensor.cat(Tensor([True, False]), Tensor(np.array([2], np.int32)))
    assert mixed.dtype == np.int32 and mixed.tolist() == [1, 0, 2]
    wide = Tensor.cat(Tensor(np.array([1], np.uint8)), Tensor(np.array([-2], np.int32)))
    assert wide.dtype == np.int32 and wide.tolist() == [1, -2]
    stacked = Tensor.stack(Tensor(np.array([1], np.uint8)), Tensor(np.array([-2], np.int32)))
    assert stacked.dtype == np.int32 and stacked.tolist() == [[1], [-2]]


@pytest.mark.parametrize("a,b", list(itertools.product(ALL_DTYPES, repeat=2)))
def test_cat_dtype_matches_torch(a: Any, b: Any) -> None:
    torch = torch_or_skip()
    x, y = np.array([1, 0]).astype(a), np.array([1]).astype(b)
    ours = Tensor.cat(Tensor(x), Tensor(y))
    theirs = torch.cat([torch.from_numpy(x), torch.from_numpy(y)])
    assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch.").replace("bool", "bool")
    np.testing.assert_array_equal(ours.data, theirs.numpy())


def test_python_ints_beyond_int32_promote_to_int64() -> None:
    t = Tensor([2**40, 1])
    assert t.dtype == np.int64 and t.tolist() == [2**40, 1]
    assert Tensor([-2**31 - 1]).tolist() == [-2**31 - 1]
    assert Tensor([1, 2]).dtype == np.int32  # small ints keep tinygrad's int32
    r = Tensor.arange(2**31 - 1, 2**31 + 2)
    assert r.dtype == np.int64 and r.tolist() == [2**31 - 1, 2**31, 2**31 + 1]
    assert Tensor.arange(5).dtype == np.int32
    assert (Tensor([True]) + 2**40).tolist() == [2**40 + 1]  # a bool tensor takes the int's own dtype


def test_python_ints_that_do_not_fit_raise() -> None:
    with pytest.raises(IntegerOverflowError, match=r"1099511627776 does not fit int32"):
        Tensor(np.array([1, 2], np.int32)) + 2**40
    with pytest.raises(ValueError, match="beyond int64"):  # IntegerOverflowError is also a ValueError
        Tensor([2**64])
    with pytest.raises(IntegerOverflowError, match="beyond int64"):
        Tensor([2**63])
    with pytest.raises(IntegerOverflowError, match="300 does not fit uint8"):
        Tensor([300], dtype=dtypes.uint8)
    with pytest.raises(IntegerOverflowError, match="int32"):
        Tensor.arange(2**31 - 1, 2**31 + 1, dtype=dtypes.int32)
    with pytest.raises(OverflowError, match="does not fit uint8"):
        Tensor(np.array([1], np.uint8)) + (-1)
    assert (Tensor(np.array([1], np.uint8)) + 254).tolist() == [255]  # fits: the tensor's dtype, as PyTorch


def test_creation_never_wraps_integers() -> None:
    assert Tensor.full((2,), 2**40).dtype == np.int64 and Tensor.full((2,), 2**40).tolist() == [2**40] * 2
    assert Tensor.full((2,), 3).dtype == np.int32
    r = Tensor.randint(4, low=2**40, high=2**40 + 3)
    assert r.dtype == np.int64 and all(2**40 <= v < 2**40 + 3 for v in r.tolist())
    with pytest.raises(IntegerOverflowError, match="300 does not fit uint8"):
        Tensor.full((2,), 300, dtype=dtypes.uint8)
    with pytest.raises(IntegerOverflowError, match="does not fit int32"):
        Tensor([1, 2]).full_like(2**40)
    with pytest.raises(IntegerOverflowError, match="299 does not fit uint8"):
        Tensor.randint(2, low=0, high=300, dtype=dtypes.uint8)


def test_bool_logic_operators() -> None:
    a, b = Tensor([True, True, False, False]), Tensor([True, False, True, False])
    assert (a & b).tolist() == [True, False, False, False]
    assert (a | b).tolist() == [True, True, True, False]
    assert (a ^ b).tolist() == [False, True, True, False]
    assert (~a).tolist() == [False, False, True, True]
    assert (a & True).tolist() == [True, True, False, False] and (False | b).tolist() == [True, False, True, False]
    assert (a & b).dtype == np.bool_ and not (a & b).requires_grad
    ints = Tensor(np.array([12, 10], np.int32))
    assert (ints & 6).tolist() == [4, 2] and (ints | 1).tolist() == [13, 11] and (~ints).tolist() == [-13, -11]
    with pytest.raises(TypeError, match="bool or integer"):
        Tensor([1.0]) & Tensor([1.0])
    with pytest.raises(TypeError, match="bool or integer"):
        ~Tensor([1.0])


@pytest.mark.parametrize("op", ["logical_and", "logical_or", "logical_xor"])
def test_logical_ops_match_torch_on_any_dtype(op: str) -> None:
    torch = torch_or_skip()
    x, y = np.array([0.0, 2.5, 0.0, -1.0]), np.array([0, 0, 3, 4], np.int32)
    ours = getattr(Tensor(x), op)(Tensor(y))
    theirs = getattr(torch, op)(torch.from_numpy(x), torch.from_numpy(y))
    assert ours.dtype == np.bool_ and ours.tolist() == theirs.tolist()
    assert Tensor(x).logical_not().tolist() == torch.logical_not(torch.from_numpy(x)).tolist()


@pytest.mark.parametrize("dtype", [np.bool_, np.uint8, np.int8, np.int16, np.int32, np.int64])
def test_integer_reductions_are_int64_as_torch(dtype: Any) -> None:
    torch = torch_or_skip()
    a = np.array([[1, 0, 1], [1, 1, 1]]).astype(dtype)
    t, th = Tensor(a), torch.from_numpy(a)
    for ours, theirs in [(t.sum(), th.sum()), (t.sum(1), th.sum(1)), (t.prod(), th.prod()),
                         (t.prod(0), th.prod(0)), (t.cumsum(1), th.cumsum(1))]:
        assert ours.dtype == np.int64 and str(theirs.dtype) == "torch.int64"
        np.testing.assert_array_equal(ours.data, theirs.numpy())
    big = Tensor(np.array([200, 200, 200], np.uint8))
    assert big.sum().item() == 600 and big.prod().item() == 8_000_000 and big.cumsum(0).tolist() == [200, 400, 600]


# --- gradient conventions ------------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore:.*degrees of freedom")
@pytest.mark.parametrize("correction", [0, 1])
@pytest.mark.parametrize("shape,axis", [((3,), None), ((2, 4), 1), ((1,), None), ((3, 1), 1)])
@pytest.mark.parametrize("op", ["std", "var"])
def test_std_and_var_at_zero_variance_match_torch(op: str, correction: int, shape: tuple[int, ...], axis: Any) -> None:
    torch = torch_or_skip()
    a = np.full(shape, 2.5)
    x = Tensor(a, requires_grad=True)
    out = getattr(x, op)(axis, correction=correction)
    out.sum().backward()
    tx = as_torch(torch, a, True)
    tout = getattr(tx, op)(dim=axis, correction=correction)
    tout.sum().backward()
    np.testing.assert_array_equal(out.data, tout.detach().numpy())
    np.testing.assert_array_equal(x.grad.data, tx.grad.numpy())  # 0 (not nan) where n > correction


def test_std_gradient_trains_a_layer_norm_over_a_constant_row() -> None:
    x = Tensor([[1.0, 1.0, 1.0], [1.0, 2.0, 4.0]], requires_grad=True)
    ((x - x.mean(1, keepdim=True)) / (x.std(1, keepdim=True) + 1e-5)).sum().backward()
    assert np.isfinite(x.grad.data).all()


@given(shape=small_shapes(), data=st.data())
def test_std_gradient_matches_torch(shape: tuple[int, ...], data: st.DataObject) -> None:
    torch = torch_or_skip()
    a = data.draw(tied_floats(shape))  # constant rows occur often
    axis = data.draw(st.integers(0, len(shape) - 1))
    correction = data.draw(st.sampled_from([0, 1]))
    if shape[axis] <= correction:
        return  # n ≤ correction: nan in both, covered above
    x = Tensor(a, requires_grad=True)
    x.std(axis, correction=correction).sum().backward()
    tx = as_torch(torch, a, True)
    tx.std(dim=axis, correction=correction).sum().backward()
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_division_gradient_does_not_square_the_divisor() -> None:
    x = Tensor([1e20], requires_grad=True)
    y = Tensor([1e20], requires_grad=True)
    (x / y).backward(np.ones(1, np.float32))
    assert y.grad.dtype == np.float32
    np.testing.assert_allclose(y.grad.data, [-1e-20], rtol=1e-6)
    np.testing.assert_allclose(x.grad.data, [1e-20], rtol=1e-6)
    tiny_x, tiny_y = Tensor([0.0], requires_grad=True), Tensor([1e-45], requires_grad=True)  # y subnormal
    (tiny_x / tiny_y).backward(np.ones(1, np.float32))
    assert tiny_y.grad.item() == 0.0  # -0/y², not 0·∞


@given(shape=small_shapes(), data=st.data())
def test_division_gradients_match_torch(shape: tuple[int, ...], data: st.DataObject) -> None:
    """Elementwise (same shapes): summing broadcast gradients of ±1e30 would compare summation orders."""
    torch = torch_or_skip()
    big = st.sampled_from([-1e30, -3.0, -1e-30, 1e-30, 0.5, 7.0, 1e30])
    a = data.draw(hnp.arrays(np.float32, shape, elements=big))
    b = data.draw(hnp.arrays(np.float32, shape, elements=big))
    x, y = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
    with np.errstate(all="ignore"):
        (x / y).sum().backward()
    tx, ty = as_torch(torch, a, True), as_torch(torch, b, True)
    (tx / ty).sum().backward()
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-5)
    np.testing.assert_allclose(y.grad.data, ty.grad.numpy(), rtol=1e-5)


@given(data=st.data())
def test_pow_gradients_at_zero_base_match_torch(data: st.DataObject) -> None:
    torch = torch_or_skip()
    a = data.draw(hnp.arrays(np.float64, (5,), elements=st.sampled_from([0.0, 0.5, 2.0])))
    b = data.draw(hnp.arrays(np.float64, (5,), elements=st.sampled_from([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0])))
    x, y = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
    (x ** y).sum().backward()
    tx, ty = as_torch(torch, a, True), as_torch(torch, b, True)
    (tx ** ty).sum().backward()
    np.testing.assert_allclose(y.grad.data, ty.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-12)


def test_pow_gradient_in_the_exponent_at_zero_base_negative_exponent() -> None:
    x, y = Tensor([0.0, 0.0, 0.0], requires_grad=True), Tensor([-1.0, 0.0, 2.0], requires_grad=True)
    (x ** y).sum().backward()
    assert y.grad.tolist() == [-np.inf, 0.0, 0.0]  # x^y·log x = ∞·(-∞) at y < 0, as PyTorch


@pytest.mark.parametrize("shape,axis", [((2, 0), 1), ((0,), 0), ((0, 3), 0), ((2, 0, 3), 1), ((0, 3), 1)])
def test_softmax_family_on_an_empty_axis_matches_torch(shape: tuple[int, ...], axis: int) -> None:
    torch = torch_or_skip()
    a = np.zeros(shape)
    tx = as_torch(torch, a, True)
    for name, ours, theirs in [("softmax", lambda t: t.softmax(axis), lambda t: torch.softmax(t, axis)),
                               ("log_softmax", lambda t: t.log_softmax(axis), lambda t: torch.log_softmax(t, axis)),
                               ("logsumexp", lambda t: t.logsumexp(axis), lambda t: torch.logsumexp(t, axis))]:
        x = Tensor(a, requires_grad=True)
        out, tout = ours(x), theirs(tx)
        assert out.shape == tuple(tout.shape), name
        np.testing.assert_array_equal(out.data, tout.detach().numpy())
        out.sum().backward()
        assert x.grad.shape == shape
    assert Tensor.zeros(2, 0).logsumexp(1).tolist() == [-np.inf, -np.inf]


def test_sparse_crossentropy_with_every_label_ignored_has_zero_gradients() -> None:
    x = Tensor.randn(3, 4, requires_grad=True)
    loss = x.sparse_categorical_crossentropy(Tensor([-1, -1, -1]))
    loss.backward()
    assert np.isnan(loss.item())  # nothing to average, as PyTorch
    assert np.array_equal(x.grad.data, np.zeros((3, 4), np.float32))
    f = Tensor.randn(3, 4, requires_grad=True)
    F.cross_entropy(f, Tensor([-100, -100, -100])).backward()
    assert np.array_equal(f.grad.data, np.zeros((3, 4), np.float32))
    part = Tensor([[0.0, 0.0], [5.0, 1.0]], requires_grad=True)
    kept = part.sparse_categorical_crossentropy(Tensor([-1, 0]))
    np.testing.assert_allclose(kept.item(), np.log1p(np.exp(-4.0)), rtol=1e-5)  # one row kept, mean of one


def test_binary_cross_entropy_propagates_nan() -> None:
    p = Tensor([np.nan, 0.5], requires_grad=True)
    loss = F.binary_cross_entropy(p, Tensor([1.0, 0.0]), reduction="none")
    assert np.isnan(loss.data[0]) and np.isclose(loss.data[1], np.log(2))
    loss.sum().backward()
    assert np.isnan(p.grad.data[0]) and np.isclose(p.grad.data[1], 2.0)
    q = Tensor([np.nan], requires_grad=True)
    q.binary_crossentropy(Tensor([0.0])).backward()
    assert np.isnan(q.grad.item())
    edge = Tensor([0.0, 1.0], requires_grad=True)  # the -100 floor still holds, with finite gradients
    out = F.binary_cross_entropy(edge, Tensor([1.0, 0.0]), reduction="none")
    out.sum().backward()
    assert out.tolist() == [100.0, 100.0] and np.isfinite(edge.grad.data).all()


DIMS = [(), (3,)]


@pytest.mark.parametrize("a,b", list(itertools.product(ALL_DTYPES, repeat=2)))
def test_tensor_dtype_promotion_matches_torch_result_type(a: Any, b: Any) -> None:
    torch = torch_or_skip()
    for sa, sb in itertools.product(DIMS, repeat=2):
        x, y = np.ones(sa, a), np.ones(sb, b)
        expected = torch.result_type(torch.from_numpy(x), torch.from_numpy(y))
        got = (Tensor(x) + Tensor(y)).dtype if not (a is np.bool_ and b is np.bool_) else np.dtype(np.bool_)
        assert str(got) == str(expected).removeprefix("torch."), (a, sa, b, sb)


def test_zero_dim_float64_does_not_upcast_a_float32_tensor() -> None:
    x = Tensor.ones(3, requires_grad=True)
    s = Tensor(np.float64(2.0), requires_grad=True)
    out = x * s
    assert out.dtype == np.float32
    out.sum().backward()
    assert s.grad.dtype == np.float64 and s.grad.item() == 3.0 and x.grad.tolist() == [2.0, 2.0, 2.0]
    assert (Tensor.ones(3) * Tensor(np.ones(1))).dtype == np.float64  # a dimensioned float64 does upcast
    assert (Tensor([1, 2]) * Tensor(np.float64(0.5))).dtype == np.float64  # a higher category counts


@pytest.mark.parametrize("xs,ws,bias", [((2, 3), (3,), None), ((3,), (3,), None), ((4, 2, 3), (3,), None),
                                       ((3,), (2, 3), None), ((2, 3), (4, 3), (4,)), ((2, 3), (3,), ())])
def test_functional_linear_shapes_match_torch(xs: tuple[int, ...], ws: tuple[int, ...], bias: Any) -> None:
    torch = torch_or_skip()
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    b = None if bias is None else rng.standard_normal(bias)
    ours = F.linear(Tensor(x), Tensor(w), None if b is None else Tensor(b))
    tb = None if b is None else torch.from_numpy(b)
    if bias == ():  # PyTorch refuses a bias with a 1-D weight ("mat2 must be a matrix"); we add it
        theirs = torch.nn.functional.linear(torch.from_numpy(x), torch.from_numpy(w)) + tb
    else:
        theirs = torch.nn.functional.linear(torch.from_numpy(x), torch.from_numpy(w), tb)
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-12)


# --- PyTorch and tinygrad habits ------------------------------------------------------------------------
def test_dim_keyword_wherever_axis_is_accepted() -> None:
    a = np.array([[1.0, 3.0, 2.0], [0.0, -1.0, 5.0]])
    t = Tensor(a)
    np.testing.assert_allclose(t.softmax(dim=1).data, t.softmax(1).data)
    np.testing.assert_allclose(t.log_softmax(dim=0).data, t.log_softmax(0).data)
    np.testing.assert_allclose(F.softmax(t, dim=0).data, t.softmax(0).data)
    assert t.argmax(dim=1).tolist() == [1, 2] and t.argmin(dim=0).tolist() == [1, 1, 0]
    assert t.cumsum(dim=1).tolist() == np.cumsum(a, 1).tolist()
    assert t.sum(dim=0).tolist() == a.sum(0).tolist() and t.max(dim=1).tolist() == [3.0, 5.0]
    assert (t > 0).any(dim=1).tolist() == [True, True] and (t > 0).all(dim=1).tolist() == [True, False]
    assert t.flip(dims=(1,)).tolist() == a[:, ::-1].tolist()
    with pytest.raises(TypeError, match="axis= or dim="):
        t.sum(0, dim=1)


def test_cat_and_stack_take_a_list() -> None:
    a, b = Tensor([[1.0, 2.0]]), Tensor([[3.0, 4.0]])
    assert Tensor.cat([a, b]).tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert Tensor.cat((a, b), dim=1).tolist() == [[1.0, 2.0, 3.0, 4.0]]
    assert Tensor.stack([a, b]).shape == (2, 1, 2) and Tensor.stack([a, b], dim=2).shape == (1, 2, 2)
    assert a.cat([b]).shape == (2, 2)
    with pytest.raises(TypeError, match="cat takes Tensors"):
        Tensor.cat([a, [1.0, 2.0]])
    with pytest.raises(ValueError, match="at least one"):
        Tensor.cat([])


def test_squeeze_out_of_range_raises_index_error() -> None:
    t = Tensor.ones(2, 1)
    with pytest.raises(IndexError, match=r"dim 5 is out of range .* \(2, 1\)"):
        t.squeeze(5)
    with pytest.raises(IndexError):
        t.squeeze(-3)
    assert t.squeeze(0).shape == (2, 1) and t.squeeze(-1).shape == (2,)


def test_numpy_array_protocol() -> None:
    t = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    a = np.asarray(t)
    assert isinstance(a, np.ndarray) and a.dtype == np.float32 and a.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    with pytest.raises(ValueError, match="read-only"):
        a[0, 0] = 9.0  # no silent write behind the graph's back
    b = np.array(t)
    b[0, 0] = 9.0  # np.array copies
    assert t.data[0, 0] == 1.0
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    with pytest.raises(ValueError, match="needs a copy"):
        np.asarray(t, dtype=np.float64, copy=False)
    assert np.asarray(Tensor([True, False])).dtype == np.bool_


def test_clone_to_cpu_size() -> None:
    t = Tensor([1.0, -0.0, np.nan], requires_grad=True)
    c = t.clone()
    assert c.data is not t.data and np.shares_memory(c.data, t.data) is False
    assert np.signbit(c.data[1]) and np.isnan(c.data[2])
    (c * Tensor([2.0, 3.0, 0.0])).sum().backward()
    assert t.grad.tolist() == [2.0, 3.0, 0.0]
    ints = Tensor([1, 2])
    assert ints.clone().tolist() == [1, 2] and not np.shares_memory(ints.clone().data, ints.data)
    assert t.to(dtypes.float64).dtype == np.float64 and t.to("cpu") is t and t.cpu() is t
    assert t.to("cpu", dtypes.float16).dtype == np.float16 and Tensor([1.5]).to(ints).tolist() == [1]
    assert t.to(dtype=dtypes.float64, device="cpu").dtype == np.float64
    with pytest.raises(ValueError, match="CPU only"):
        t.to("cuda")
    m = Tensor.ones(2, 3)
    assert m.size() == (2, 3) and m.size(1) == 3 and m.size(-2) == 2
    with pytest.raises(IndexError):
        m.size(2)


def test_zero_() -> None:
    w = Tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    assert w.grad.zero_().tolist() == [0.0, 0.0] and w.grad.tolist() == [0.0, 0.0]
    with pytest.raises(RuntimeError, match="no_grad"):
        w.zero_()
    with tl.no_grad():
        assert w.zero_() is w
    assert w.tolist() == [0.0, 0.0]
    e = Tensor.ones(1, 3).expand(2, 3)  # a read-only broadcast view gets its own zeros
    assert e.zero_().tolist() == [[0.0] * 3] * 2


def test_set_grad_enabled_and_inference_mode() -> None:
    x = Tensor([1.0], requires_grad=True)
    with tl.set_grad_enabled(False):
        assert not (x * 2).requires_grad
        with tl.set_grad_enabled(True):
            assert (x * 2).requires_grad
        assert not tl.is_grad_enabled()
    assert tl.is_grad_enabled()
    try:
        tl.set_grad_enabled(False)  # a plain call takes effect and stays, as PyTorch
        assert not tl.is_grad_enabled()
    finally:
        tl.set_grad_enabled(True)
    assert tl.is_grad_enabled()

    @tl.set_grad_enabled(False)
    def doubled(t: Tensor) -> Tensor:
        return t * 2

    assert tl.is_grad_enabled() and not doubled(x).requires_grad and tl.is_grad_enabled()
    with pytest.raises(TypeError, match="bool"):
        tl.set_grad_enabled(0)  # type: ignore[arg-type]

    with tl.inference_mode():
        assert not (x * 2).requires_grad
    with tl.inference_mode(False):
        assert (x * 2).requires_grad

    @tl.inference_mode
    def bare(t: Tensor) -> bool:
        return (t * 2).requires_grad

    @tl.inference_mode()
    def called(t: Tensor) -> bool:
        return (t * 2).requires_grad

    assert bare(x) is False and called(x) is False and tl.is_grad_enabled()


def test_batched_matmul_mismatch_names_both_shapes() -> None:
    with pytest.raises(ValueError, match=r"\(2, 3, 4\) and \(3, 4, 5\).*\(2,\) and \(3,\)") as info:
        Tensor.ones(2, 3, 4) @ Tensor.ones(3, 4, 5)
    assert "remapped" not in str(info.value)
    with pytest.raises(ValueError, match=r"\(2, 3, 4\) and \(2, 5, 6\) are not aligned \(4 != 5\)"):
        Tensor.ones(2, 3, 4) @ Tensor.ones(2, 5, 6)
