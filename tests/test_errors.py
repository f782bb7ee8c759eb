"""Bad input gives a ValueError/TypeError/IndexError (RuntimeError for autograd misuse, as PyTorch)
whose message names the op and the shapes, dtypes or values involved."""
from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis.extra import numpy as hnp

import tinygrad_lite as tl
from tinygrad_lite import Tensor


def raises(exc: type[Exception], *words: str):
    """pytest.raises that also demands each of `words` in the message (case-insensitive)."""
    return pytest.raises(exc, match="(?is)" + "".join(f"(?=.*{re.escape(w)})" for w in words))


A = Tensor(np.ones((2, 3)))
B = Tensor(np.ones((4, 5)))


# --- shapes -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "fn"), [
    ("add", lambda: A + B),
    ("sub", lambda: A - B),
    ("mul", lambda: A * B),
    ("div", lambda: A / B),
    ("maximum", lambda: A.maximum(B)),
    ("where", lambda: (A > 0).where(A, B)),
])
def test_incompatible_shapes_name_the_op_and_both_shapes(name, fn):
    with raises(ValueError, name, "(2, 3)", "(4, 5)"):
        fn()


def broadcastable(sa: tuple[int, ...], sb: tuple[int, ...]) -> bool:
    try:
        np.broadcast_shapes(sa, sb)
    except ValueError:
        return False
    return True


@given(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), hnp.array_shapes(min_dims=1, max_dims=3, max_side=4))
def test_any_non_broadcastable_pair_is_refused(sa, sb):
    assume(not broadcastable(sa, sb))
    x, y = Tensor(np.zeros(sa), requires_grad=True), Tensor(np.zeros(sb))
    with raises(ValueError, "mul", str(sa), str(sb)):
        x * y


@pytest.mark.parametrize(("name", "fn"), [
    ("sum", lambda: A.sum(axis=2)),
    ("sum", lambda: A.sum(axis=-3)),
    ("mean", lambda: A.mean(axis=5)),
    ("max", lambda: A.max(axis=2)),
    ("softmax", lambda: A.softmax(axis=3)),
    ("log_softmax", lambda: A.log_softmax(axis=-3)),
    ("transpose", lambda: A.transpose(0, 4)),
    ("flatten", lambda: A.flatten(3)),
    ("cat", lambda: Tensor.cat(A, A, dim=2)),
])
def test_axis_out_of_range(name, fn):
    with raises(ValueError, name, "axis", "out of range", "2 dimensions"):
        fn()


def test_axis_must_be_an_int():
    with raises(TypeError, "sum", "axis", "1.5"):
        A.sum(axis=1.5)


def test_repeated_axis():
    with raises(ValueError, "permute", "repeats"):
        A.permute(0, 0)


def test_reshape_to_a_wrong_size():
    with raises(ValueError, "reshape", "(2, 3)", "6 elements", "(4, 2)", "8 elements"):
        A.reshape(4, 2)
    with raises(ValueError, "reshape", "(2, 3)", "(-1, 4)"):
        A.reshape(-1, 4)
    with raises(ValueError, "reshape", "at most one -1"):
        A.reshape(2, -1, -1)


def test_expand_to_an_incompatible_shape():
    with raises(ValueError, "expand", "(2, 3)", "(5, 3)"):
        A.expand(5, 3)


@pytest.mark.parametrize(("a", "b", "k"), [((2, 3), (4, 5), "3 != 4"), ((2, 3), (4,), "3 != 4"),
                                           ((3,), (4,), "3 != 4"), ((5, 2, 3), (2, 2), "3 != 2")])
def test_matmul_misalignment(a, b, k):
    with raises(ValueError, "matmul", str(a), str(b), k):
        Tensor(np.ones(a)) @ Tensor(np.ones(b))


def test_matmul_of_a_scalar():
    with raises(ValueError, "matmul", "at least 1 dimension", "()"):
        Tensor(2.0) @ A


@pytest.mark.parametrize(("others", "dim"), [((B,), 0), ((B,), 1), ((Tensor(np.ones(3)),), 0),
                                             ((A.reshape(3, 2),), 1)])
def test_cat_with_mismatched_shapes(others, dim):
    with raises(ValueError, "cat", "(2, 3)", str(others[0].shape), f"dim {dim}"):
        Tensor.cat(A, *others, dim=dim)


def test_stack_with_mismatched_shapes():
    with raises(ValueError, "stack", "(2, 3)", "(4, 5)"):
        Tensor.stack(A, B)


# --- indexing ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("index", "words"), [
    (5, ("index 5", "axis 0", "size 2")),
    ((0, 7), ("index 7", "axis 1", "size 3")),
    (-3, ("index -3", "axis 0", "size 2")),
    (np.array([0, 9]), ("index 9", "size 2")),
    (Tensor([0, 9]), ("index 9", "size 2")),
    ((1, 2, 3), ("too many indices", "2-dimensional")),
])
def test_index_out_of_range(index, words):
    with raises(IndexError, *words):
        A[index]


@pytest.mark.parametrize(("index", "word"), [(1.5, "1.5"), (np.array([0.5]), "float64"),
                                             (Tensor([0.5]), "float32"), ("a", "'a'")])
def test_non_integer_index(index, word):
    with raises(IndexError, "ind", "integer", word):
        A[index]


def test_gather_index_out_of_range_and_wrong_dtype():
    with raises(IndexError, "index 5", "size 3"):
        A.gather(1, Tensor(np.array([[0, 5], [1, 1]])))
    with raises(ValueError, "gather", "integer", "float64"):
        A.gather(1, np.array([[0.5]]))


def test_tensors_are_immutable():
    with raises(TypeError, "immutable"):
        A[0] = 1.0


# --- data and dtypes -------------------------------------------------------------------------------
@pytest.mark.parametrize(("data", "word"), [
    ("abc", "str"), (None, "NoneType"), ({"a": 1}, "dict"), (["a", "b"], "numeric"),
    (np.array(["a"]), "<U1"), (np.array([1 + 2j]), "complex128"), (object(), "object"),
    ([[1, 2], [3]], "inhomogeneous"),
])
def test_non_numeric_data(data, word):
    with raises(TypeError, "tensor", word):
        Tensor(data)


def test_unsupported_dtype():
    with raises(TypeError, "complex64"):
        Tensor([1.0], dtype="complex64")


@pytest.mark.parametrize(("make", "dtype"), [(lambda: Tensor([1, 2, 3], requires_grad=True), "int32"),
                                             (lambda: Tensor([1, 2, 3]).requires_grad_(), "int32"),
                                             (lambda: Tensor([True, False], requires_grad=True), "bool")])
def test_requires_grad_on_a_non_float_tensor(make, dtype):
    with raises(TypeError, "floating-point", "gradients", dtype):
        make()


def test_item_of_a_non_scalar():
    with raises(ValueError, "item", "(2, 3)"):
        A.item()


def test_truth_value_of_a_non_scalar():
    with raises(ValueError, "ambiguous", "(2, 3)"):
        bool(A)


# --- autograd misuse ---------------------------------------------------------------------------------
def test_backward_on_a_non_scalar_without_gradient():
    y = Tensor(np.ones(3), requires_grad=True) * 2.0
    with raises(RuntimeError, "non-scalar", "(3,)", "gradient"):
        y.backward()
    with pytest.raises(ValueError):  # also a ValueError, for code that catches bad input that way
        y.backward()


def test_backward_on_a_tensor_that_does_not_require_grad():
    with raises(RuntimeError, "does not require grad"):
        Tensor(np.ones(3)).sum().backward()
    x = Tensor(np.ones(3), requires_grad=True)
    with tl.no_grad():
        y = (x * 2.0).sum()
    with raises(RuntimeError, "does not require grad", "no_grad"):
        y.backward()


@pytest.mark.parametrize("gradient", [np.ones((3, 2)), Tensor(np.ones(3)), [1.0, 2.0]])
def test_backward_with_a_gradient_of_the_wrong_shape(gradient):
    y = Tensor(np.ones((2, 3)), requires_grad=True) * 2.0
    with raises(ValueError, "gradient", str(np.shape(gradient.numpy() if isinstance(gradient, Tensor) else gradient)),
                "(2, 3)"):
        y.backward(gradient=gradient)


def test_assigning_a_bad_grad():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with raises(ValueError, "grad", "(1,)", "(2,)"):
        x.grad = Tensor([1.0])
    with raises(TypeError, "grad", "ndarray"):
        x.grad = np.ones(2)


def test_requires_grad_false_on_a_non_leaf():
    y = Tensor([1.0], requires_grad=True) * 2.0
    with raises(ValueError, "non-leaf", "detach"):
        y.requires_grad_(False)


def test_functional_grad_misuse():
    with raises(RuntimeError, "grad", "scalar", "(2,)"):
        tl.grad(lambda x: x * 2.0)(Tensor([1.0, 2.0]))
    with raises(TypeError, "grad", "floating-point", "int32"):
        tl.grad(lambda x: x.sum())(Tensor([1, 2]))
    with raises(ValueError, "argnums", "3", "out of range"):
        tl.grad(lambda x: x.sum(), argnums=3)(Tensor([1.0]))
    with raises(TypeError, "grad", "Tensor", "float"):
        tl.grad(lambda x: 3.0)(Tensor([1.0]))


@pytest.mark.parametrize("transform", ["grad", "value_and_grad", "jacobian", "hessian"])
def test_argnums_are_checked_alike_by_every_transform(transform):
    """One rule for every transform: an empty choice, a non-int position and one past the arguments are errors that
    name the transform and the argnums (grad used to return an empty tuple for argnums=())."""
    f = getattr(tl, transform)
    x, y = Tensor([1.0, 2.0]), Tensor([3.0, 4.0])

    def loss(a, b):
        return (a * b).sum()

    named = "grad" if transform == "value_and_grad" else transform  # value_and_grad's messages say grad
    with raises(ValueError, named, "argnums", "empty"):
        f(loss, argnums=())(x, y)
    with raises(TypeError, "argnums", "1.5"):
        f(loss, argnums=1.5)(x, y)
    with raises(TypeError, "argnums", "(0, 'b')"):
        f(loss, argnums=(0, "b"))(x, y)
    with raises(ValueError, "argnums", "2", "out of range", "2 positional"):
        f(loss, argnums=2)(x, y)
    f(loss, argnums=(-1,))(x, y)  # counted from the end: fine
