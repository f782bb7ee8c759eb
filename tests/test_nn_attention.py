"""Attention and the layers around it against PyTorch: einsum, embedding, one_hot, masked_fill, layer norm,
scaled_dot_product_attention, MultiheadAttention (forward, gradients, default initialisation, state dicts), a
PyTorch pre-norm transformer block loaded from its state dict, and the errors bad input gets."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_lite as tl
import tinygrad_lite.nn.functional as F
from tinygrad_lite import Tensor, nn
from tinygrad_lite.ops import embedding as embedding_ops
from tinygrad_lite.testing import gradcheck, gradgradcheck

torch = pytest.importorskip("torch", reason="torch is not installed: the PyTorch oracle comparisons need it")
TF = torch.nn.functional
TOL = {"rtol": 1e-9, "atol": 1e-11}
FEW = settings(max_examples=max(5, settings.default.max_examples // 2))


def _pair(a: np.ndarray, grad: bool = True) -> tuple[Tensor, torch.Tensor]:
    grad = grad and a.dtype.kind == "f"
    return Tensor(a, requires_grad=grad), torch.tensor(a, requires_grad=grad)


def _compare(out: Tensor, ref: torch.Tensor, pairs: list[tuple[Tensor, torch.Tensor]], tol: dict = TOL) -> None:
    """Values, then gradients of a random projection, for every pair whose torch side requires grad."""
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), **tol)
    seed = np.random.default_rng(1).standard_normal(ref.shape)
    out.backward(seed.astype(out.dtype))
    ref.backward(torch.tensor(seed, dtype=ref.dtype))
    for ours, theirs in pairs:
        if theirs.requires_grad:
            assert ours.grad is not None, "no gradient reached an input PyTorch differentiates"
            np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), **tol)


# --- einsum ---------------------------------------------------------------------------------------------
TORCH_FORMULAS = ["ij,jk->ik", "ij,jk", "ii->", "ii->i", "iij,j->i", "...ij->...ji", "...ij->ij", "...ii->i",
                  "bA,Ab->", "i,j->ij", "ij,jk,kl->il", "ba", "b...,b...->...", "ijk->kji"]


@FEW
@given(formula=st.sampled_from(TORCH_FORMULAS), data=st.data())
def test_einsum_matches_torch(formula, data):
    sizes = {c: data.draw(st.integers(1, 3)) for c in "abcdefghijklABC"}
    batch = data.draw(hnp.array_shapes(min_dims=0, max_dims=2, max_side=3))
    arrays = []
    for term in formula.split("->")[0].split(","):
        named = term.replace("...", "")
        lead = batch if "..." in term else ()
        shape = (*(sizes[c] for c in named), *lead) if term.endswith("...") else (*lead, *(sizes[c] for c in named))
        arrays.append(np.random.default_rng(len(arrays)).standard_normal(shape))
    pairs = [_pair(a) for a in arrays]
    _compare(Tensor.einsum(formula, *[p[0] for p in pairs]), torch.einsum(formula, *[p[1] for p in pairs]), pairs)


def test_einsum_takes_a_list_and_mixed_dtypes():
    a, b = Tensor(np.ones((2, 3), np.float32)), Tensor(np.ones((3,), np.float64))
    out = Tensor.einsum("ij,j->i", [a, b])
    assert out.dtype == np.float64 and out.tolist() == [3.0, 3.0]


def test_einsum_second_order_through_a_diagonal():
    x = Tensor(np.random.default_rng(0).standard_normal((3, 3)), requires_grad=True)
    assert gradgradcheck(lambda t: Tensor.einsum("ii,ij->j", t, t * t), x)


@pytest.mark.parametrize("formula, shapes, match", [
    ("ij,jk->ik", [(2, 3), (4, 5)], "subscript 'j'.*sizes 3 and 4"),
    ("ij,jk->ik", [(2, 3)], "names 2 operand"),
    ("ij->ji->ij", [(2, 3)], "more than one '->'"),
    ("i1->i", [(2, 3)], "characters"),
    ("ij->i", [(2, 3, 4)], "2 subscript.*shape \\(2, 3, 4\\).*use '...'"),
    ("ijk->i", [(2, 3)], "3 subscript"),
    ("ij->ii", [(2, 3)], "appears more than once"),
    ("ij->k", [(2, 3)], "names no input axis"),
    ("......i->i", [(2, 3)], "more than one '...'"),
])
def test_einsum_errors_name_the_problem(formula, shapes, match):
    with pytest.raises(ValueError, match=match):
        Tensor.einsum(formula, *[Tensor.ones(*s) for s in shapes])


def test_einsum_refuses_non_tensors():
    with pytest.raises(TypeError, match="operands must be Tensors"):
        Tensor.einsum("i->", np.ones(3))


# --- embedding --------------------------------------------------------------------------------------------
@FEW
@given(rows=st.integers(1, 6), dim=st.integers(1, 4), data=st.data())
def test_embedding_matches_torch_and_accumulates_repeated_indices(rows, dim, data):
    index = data.draw(hnp.arrays(np.int64, hnp.array_shapes(max_dims=3, max_side=4), elements=st.integers(0, rows - 1)))
    pad = data.draw(st.one_of(st.none(), st.integers(-rows, rows - 1)))
    w = np.random.default_rng(0).standard_normal((rows, dim))
    pair = _pair(w)
    _compare(F.embedding(Tensor(index), pair[0], padding_idx=pad),
             TF.embedding(torch.tensor(index), pair[1], padding_idx=pad), [pair])


def test_embedding_scatter_paths_agree(monkeypatch):
    """The one-hot matmul (small tables) and np.add.at (large ones) give the same gradient."""
    rng = np.random.default_rng(0)
    idx = Tensor(rng.integers(0, 5, (7, 3)))
    g = rng.standard_normal((7, 3, 4))
    small = embedding_ops.EmbeddingScatter.call(g, idx.data, num=5)
    monkeypatch.setattr(embedding_ops, "ONE_HOT_LIMIT", 0)
    large = embedding_ops.EmbeddingScatter.call(g, idx.data, num=5)
    expected = np.zeros((5, 4))
    np.add.at(expected, idx.data.reshape(-1), g.reshape(-1, 4))
    np.testing.assert_allclose(small, expected, rtol=1e-12)
    np.testing.assert_allclose(large, expected, rtol=1e-12)


def test_embedding_gradcheck_second_order():
    w = Tensor(np.random.default_rng(0).standard_normal((4, 3)), requires_grad=True)
    idx = Tensor([[0, 3, 3], [1, 0, 0]])
    assert gradcheck(lambda t: F.embedding(idx, t) ** 2, w)
    assert gradgradcheck(lambda t: F.embedding(idx, t) ** 2, w)


def test_embedding_module_init_state_dict_and_padding():
    Tensor.manual_seed(0)
    emb = nn.Embedding(500, 64, padding_idx=-1)
    assert emb.padding_idx == 499 and list(emb.state_dict()) == ["weight"]
    w = emb.weight.numpy()
    assert (w[499] == 0).all() and abs(w[:499].mean()) < 0.02 and abs(w[:499].std() - 1) < 0.02  # N(0, 1)
    theirs = torch.nn.Embedding(500, 64, padding_idx=499)
    emb.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    idx = np.array([[1, 499, 7], [7, 7, 0]])
    out = emb(Tensor(idx))
    ref = theirs(torch.tensor(idx))
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy())
    out.sum().backward()
    ref.sum().backward()
    np.testing.assert_allclose(emb.weight.grad.numpy(), theirs.weight.grad.numpy())
    frozen = nn.Embedding.from_pretrained(Tensor(np.eye(3, dtype=np.float32)))
    assert frozen.parameters() == [] and frozen(Tensor([2])).tolist() == [[0.0, 0.0, 1.0]]


@pytest.mark.parametrize("index, error, match", [
    ([0, 4], IndexError, r"\[0, 4\).*from 0 to 4"),
    ([-1, 2], IndexError, r"\[0, 4\).*from -1 to 2"),
    ([0.0, 1.0], TypeError, "integer"),
])
def test_embedding_bad_indices(index, error, match):
    with pytest.raises(error, match=match):
        F.embedding(Tensor(index), Tensor.ones(4, 2))


def test_embedding_bad_arguments():
    with pytest.raises(ValueError, match="padding_idx"):
        nn.Embedding(3, 2, padding_idx=3)
    with pytest.raises(ValueError, match="num_embeddings must be a positive int"):
        nn.Embedding(0, 2)
    with pytest.raises(NotImplementedError, match="max_norm"):
        nn.Embedding(3, 2, max_norm=1.0)


# --- one_hot and masked_fill ------------------------------------------------------------------------------
@given(labels=hnp.arrays(np.int64, hnp.array_shapes(min_dims=0, max_dims=3, max_side=4), elements=st.integers(0, 5)),
       extra=st.integers(0, 2))
def test_one_hot_matches_torch(labels, extra):
    classes = int(labels.max()) + 1 + extra
    out = F.one_hot(Tensor(labels), classes)
    ref = TF.one_hot(torch.tensor(labels), classes)
    assert out.dtype == np.int64 and out.shape == tuple(ref.shape)
    np.testing.assert_array_equal(out.numpy(), ref.numpy())
    np.testing.assert_array_equal(F.one_hot(Tensor(labels)).numpy(), TF.one_hot(torch.tensor(labels)).numpy())
    assert Tensor(labels).one_hot(classes).dtype == np.int32  # tinygrad's default int on the Tensor


def test_one_hot_errors():
    with pytest.raises(ValueError, match=r"\[0, 3\).*from 0 to 3"):
        Tensor([0, 3]).one_hot(3)
    with pytest.raises(TypeError, match="integer tensor"):
        Tensor([0.0]).one_hot(3)
    with pytest.raises(ValueError, match="num_classes"):
        Tensor([0]).one_hot(-2)


@given(shape=hnp.array_shapes(min_dims=0, max_dims=3, max_side=3), data=st.data(),
       value=st.sampled_from([0.0, -2.5, float("-inf"), 7]))
def test_masked_fill_matches_torch(shape, data, value):
    mask = data.draw(hnp.arrays(np.bool_, hnp.broadcastable_shapes(shape, max_dims=len(shape))))
    x = np.random.default_rng(0).standard_normal(shape)
    pair = _pair(x)
    _compare(pair[0].masked_fill(Tensor(mask), value), pair[1].masked_fill(torch.tensor(mask), value), [pair])


def test_masked_fill_errors():
    with pytest.raises(TypeError, match="bool"):
        Tensor.ones(2).masked_fill(Tensor([1, 0]), 0.0)
    with pytest.raises(ValueError, match=r"mask of shape \(3,\).*\(2,\)"):
        Tensor.ones(2).masked_fill(Tensor([True, False, True]), 0.0)
    assert Tensor.ones(2).masked_fill(Tensor(np.eye(2, dtype=bool)), 0.0).tolist() == [[0.0, 1.0], [1.0, 0.0]]


# --- layer norm -------------------------------------------------------------------------------------------
@FEW
@given(shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4), data=st.data(),
       affine=st.booleans(), bias=st.booleans(), eps=st.sampled_from([1e-5, 0.5]))
def test_layer_norm_module_matches_torch(shape, data, affine, bias, eps):
    k = data.draw(st.integers(1, len(shape)))
    normalized = shape[len(shape) - k:]
    ours = nn.LayerNorm(normalized, eps=eps, elementwise_affine=affine, bias=bias, dtype="float64")
    theirs = torch.nn.LayerNorm(normalized, eps=eps, elementwise_affine=affine, bias=bias, dtype=torch.float64)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    rng = np.random.default_rng(0)
    if affine:  # away from the ones/zeros start, so weight and bias matter
        state = {k: rng.standard_normal(v.shape) for k, v in theirs.state_dict().items()}
        ours.load_state_dict(state)
        theirs.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    pair = _pair(rng.standard_normal(shape) * 3 + 1)
    _compare(ours(pair[0]), theirs(pair[1]), [pair], tol={"rtol": 1e-8, "atol": 1e-10})
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-8, atol=1e-10, err_msg=name)


def test_layernorm_tensor_method_and_float32():
    x = np.random.default_rng(0).standard_normal((4, 3, 5)).astype(np.float32)
    out = Tensor(x).layernorm(axis=(1, 2), eps=1e-3)
    ref = TF.layer_norm(torch.tensor(x), (3, 5), eps=1e-3)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-5, atol=1e-5)


def test_layernorm_second_order():
    x = Tensor(np.random.default_rng(0).standard_normal((2, 4)), requires_grad=True)
    w = Tensor(np.random.default_rng(1).standard_normal(4), requires_grad=True)
    assert gradgradcheck(lambda a, b: (a.layernorm() * b).tanh(), x, w)


def test_layer_norm_errors():
    with pytest.raises(ValueError, match=r"normalized_shape \(4,\).*\(2, 3\)"):
        F.layer_norm(Tensor.ones(2, 3), 4)
    with pytest.raises(ValueError, match="weight of shape"):
        F.layer_norm(Tensor.ones(2, 3), 3, weight=Tensor.ones(2))
    with pytest.raises(TypeError, match="floating-point"):
        Tensor([1, 2]).layernorm()
    with pytest.raises(ValueError, match="normalized_shape must be a positive int"):
        nn.LayerNorm(0)


# --- scaled_dot_product_attention -------------------------------------------------------------------------
@FEW
@given(data=st.data(), kind=st.sampled_from(["none", "causal", "bool", "float", "bool-broadcast"]),
       scale=st.sampled_from([None, 0.3]))
def test_sdpa_matches_torch(data, kind, scale):
    b, h = data.draw(st.integers(1, 2)), data.draw(st.integers(1, 3))
    length, source, e, ev = (data.draw(st.integers(1, 5)) for _ in range(4))
    rng = np.random.default_rng(0)
    pairs = [_pair(rng.standard_normal(s)) for s in ((b, h, length, e), (b, h, source, e), (b, h, source, ev))]
    mask = None
    if kind == "bool":  # rows may be all False: such a query sees nothing, and PyTorch gives it zeros
        mask = data.draw(hnp.arrays(np.bool_, (length, source)))
    elif kind == "bool-broadcast":
        mask = data.draw(hnp.arrays(np.bool_, (b, 1, 1, source)))
    elif kind == "float":
        mask = rng.standard_normal((h, length, source))
    ours = pairs[0][0].scaled_dot_product_attention(pairs[1][0], pairs[2][0], None if mask is None else Tensor(mask),
                                                    is_causal=kind == "causal", scale=scale)
    ref = TF.scaled_dot_product_attention(*[p[1] for p in pairs], None if mask is None else torch.tensor(mask),
                                          is_causal=kind == "causal", scale=scale)
    _compare(ours, ref, pairs)


def test_sdpa_functional_float32_and_masked_rows():
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((2, 3, 4)).astype(np.float32) for _ in range(3))
    mask = np.array([[True, False, False], [False, False, False], [True, True, True]])
    out = F.scaled_dot_product_attention(Tensor(q), Tensor(k), Tensor(v), attn_mask=Tensor(mask))
    ref = TF.scaled_dot_product_attention(torch.tensor(q), torch.tensor(k), torch.tensor(v), torch.tensor(mask))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-5, atol=1e-6)
    assert (out.numpy()[:, 1] == 0).all()


def test_sdpa_dropout_rules():
    x = Tensor.ones(1, 8, 16)
    assert np.array_equal(x.scaled_dot_product_attention(x, x, dropout_p=0.9).numpy(), np.ones((1, 8, 16)))
    Tensor.manual_seed(0)
    dropped = F.scaled_dot_product_attention(x, x, x, dropout_p=0.5).numpy()  # PyTorch's F: always when p > 0
    assert not np.allclose(dropped, 1.0) and set(np.unique(np.round(dropped * 8) / 8)) <= set(np.arange(0, 2.1, 0.125))
    with tl.Tensor.train():
        assert not np.allclose(x.scaled_dot_product_attention(x, x, dropout_p=0.5).numpy(), 1.0)
    Tensor.manual_seed(0)
    assert np.array_equal(F.scaled_dot_product_attention(x, x, x, dropout_p=0.5).numpy(), dropped)


def test_sdpa_second_order():
    rng = np.random.default_rng(0)
    q, k, v = (Tensor(rng.standard_normal((2, 3, 2)), requires_grad=True) for _ in range(3))
    assert gradgradcheck(lambda a, b, c: a.scaled_dot_product_attention(b, c, is_causal=True), q, k, v)


def test_sdpa_errors():
    q = Tensor.ones(2, 3, 4)
    with pytest.raises(ValueError, match="query .*key .*value .*must agree"):
        q.scaled_dot_product_attention(Tensor.ones(2, 3, 5), q)
    with pytest.raises(ValueError, match="not both"):
        q.scaled_dot_product_attention(q, q, attn_mask=Tensor.ones(3, 3), is_causal=True)
    with pytest.raises(ValueError, match=r"attn_mask of shape \(2, 2\)"):
        q.scaled_dot_product_attention(q, q, attn_mask=Tensor(np.ones((2, 2), bool)))
    with pytest.raises(ValueError, match=r"attn_mask of shape \(4, 2, 3, 3\)"):  # it may not grow the result
        q.scaled_dot_product_attention(q, q, attn_mask=Tensor(np.ones((4, 2, 3, 3), bool)))
    with pytest.raises(TypeError, match="bool .* or float"):
        q.scaled_dot_product_attention(q, q, attn_mask=Tensor(np.ones((3, 3), np.int32)))
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        Tensor.ones(4).scaled_dot_product_attention(q, q)
    with pytest.raises(ValueError, match="dropout"):
        F.scaled_dot_product_attention(q, q, q, dropout_p=1.5)


# --- MultiheadAttention -----------------------------------------------------------------------------------
def _mha_pair(e: int, h: int, **kw) -> tuple[nn.MultiheadAttention, torch.nn.MultiheadAttention]:
    theirs = torch.nn.MultiheadAttention(e, h, dtype=torch.float64, **kw)
    ours = nn.MultiheadAttention(e, h, dtype="float64", **kw)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    rng = np.random.default_rng(5)
    state = {k: rng.standard_normal(v.shape) * 0.5 for k, v in theirs.state_dict().items()}  # biases nonzero too
    ours.load_state_dict(state)
    theirs.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    return ours, theirs


@FEW
@given(data=st.data(), batch_first=st.booleans(), batched=st.booleans(), need_weights=st.booleans(),
       average=st.booleans(), cross=st.booleans(), bias=st.booleans(),
       masks=st.sampled_from(["none", "causal", "bool", "float", "3d", "padding", "padding+bool", "float padding"]))
def test_multihead_attention_matches_torch(data, batch_first, batched, need_weights, average, cross, bias, masks):
    h = data.draw(st.integers(1, 3))
    e = h * data.draw(st.integers(1, 3))
    n, length = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 4))
    source = data.draw(st.integers(1, 4)) if cross else length
    kdim = data.draw(st.sampled_from([None, e + 1])) if cross else None
    ours, theirs = _mha_pair(e, h, batch_first=batch_first, bias=bias, kdim=kdim, vdim=kdim)
    rng = np.random.default_rng(0)

    def shaped(steps: int, width: int) -> np.ndarray:
        shape = ((n, steps) if batch_first else (steps, n)) if batched else (steps,)
        return rng.standard_normal((*shape, width))

    kw = kdim or e
    arrays = [shaped(length, e)] + ([shaped(source, kw), shaped(source, kw)] if cross else [])
    pairs = [_pair(a) for a in arrays]
    q, k, v = (pairs * 3)[:3] if not cross else pairs
    args: dict = {"need_weights": need_weights, "average_attn_weights": average}
    ours_masks: dict = {}
    theirs_masks: dict = {}
    some = rng.random((n, source)) < 0.3
    some[:, 0] = False  # every query keeps at least one key (PyTorch's need_weights path gives NaN otherwise)
    if masks == "causal" and length == source:
        m = np.triu(np.ones((length, length), bool), 1)
        ours_masks["attn_mask"], theirs_masks["attn_mask"] = Tensor(m), torch.tensor(m)
        ours_masks["is_causal"] = theirs_masks["is_causal"] = True
    if masks in ("bool", "padding+bool"):
        m = rng.random((length, source)) < 0.3
        m[:, 0] = False
        ours_masks["attn_mask"], theirs_masks["attn_mask"] = Tensor(m), torch.tensor(m)
    if masks == "float":
        m = rng.standard_normal((length, source))
        ours_masks["attn_mask"], theirs_masks["attn_mask"] = Tensor(m), torch.tensor(m)
    if masks == "3d" and batched:
        m = rng.standard_normal((n * h, length, source))
        ours_masks["attn_mask"], theirs_masks["attn_mask"] = Tensor(m), torch.tensor(m)
    if masks in ("padding", "padding+bool", "float padding") and batched:
        m = some if masks != "float padding" else rng.standard_normal((n, source))
        ours_masks["key_padding_mask"], theirs_masks["key_padding_mask"] = Tensor(m), torch.tensor(m)
    out, weights = ours(q[0], k[0], v[0], **args, **ours_masks)
    ref, ref_weights = theirs(q[1], k[1], v[1], **args, **theirs_masks)
    if need_weights:
        np.testing.assert_allclose(weights.numpy(), ref_weights.detach().numpy(), **TOL)
    else:
        assert weights is None
    _compare(out, ref, pairs)
    for (name, p), (_, t) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), t.grad.numpy(), err_msg=name, **TOL)


def test_multihead_attention_default_init():
    Tensor.manual_seed(0)
    mha = nn.MultiheadAttention(64, 4)
    bound = np.sqrt(6 / (64 + 3 * 64))  # Xavier-uniform over the packed (3E, E) weight, as PyTorch
    w = mha.in_proj_weight.numpy()
    assert w.shape == (192, 64) and np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert (mha.in_proj_bias.numpy() == 0).all() and (mha.out_proj.bias.numpy() == 0).all()
    assert np.abs(mha.out_proj.weight.numpy()).max() <= 1 / np.sqrt(64)
    assert [k for k in nn.MultiheadAttention(4, 2, kdim=3, vdim=5).state_dict()] == \
        [k for k in torch.nn.MultiheadAttention(4, 2, kdim=3, vdim=5).state_dict()]


def test_multihead_attention_dropout_follows_training_mode():
    Tensor.manual_seed(0)
    mha = nn.MultiheadAttention(8, 2, dropout=0.5, batch_first=True)
    x = Tensor.randn(2, 6, 8)
    a, _ = mha(x, x, x)
    b, _ = mha(x, x, x)
    assert not np.allclose(a.numpy(), b.numpy())  # a fresh mask each call
    mha.eval()
    c, _ = mha(x, x, x)
    d, _ = mha(x, x, x)
    assert np.array_equal(c.numpy(), d.numpy())


def test_multihead_attention_second_order():
    Tensor.manual_seed(0)
    mha = nn.MultiheadAttention(4, 2, dtype="float64", batch_first=True)
    x = Tensor(np.random.default_rng(0).standard_normal((1, 3, 4)), requires_grad=True)
    assert gradgradcheck(lambda t: mha(t, t, t, need_weights=False)[0], x)


def test_multihead_attention_errors():
    with pytest.raises(ValueError, match="divisible"):
        nn.MultiheadAttention(6, 4)
    with pytest.raises(NotImplementedError, match="add_bias_kv"):
        nn.MultiheadAttention(4, 2, add_bias_kv=True)
    mha = nn.MultiheadAttention(4, 2)
    x = Tensor.ones(3, 2, 4)
    with pytest.raises(ValueError, match=r"query must be .*got shape \(3, 2, 5\)"):
        mha(Tensor.ones(3, 2, 5), x, x)
    with pytest.raises(ValueError, match="share the batch size"):
        mha(x, Tensor.ones(3, 1, 4), Tensor.ones(3, 1, 4))
    with pytest.raises(ValueError, match=r"key_padding_mask must be \(N, S\) = \(2, 3\)"):
        mha(x, x, x, key_padding_mask=Tensor(np.ones((3, 2), bool)))
    with pytest.raises(ValueError, match=r"attn_mask must be \(3, 3\) or \(4, 3, 3\)"):
        mha(x, x, x, attn_mask=Tensor(np.ones((2, 3), bool)))


# --- a PyTorch pre-norm transformer block, loaded from its state dict ------------------------------------
class TorchBlock(torch.nn.Module):
    def __init__(self, e: int, h: int) -> None:
        super().__init__()
        self.ln1 = torch.nn.LayerNorm(e)
        self.attn = torch.nn.MultiheadAttention(e, h, batch_first=True)
        self.ln2 = torch.nn.LayerNorm(e)
        self.mlp = torch.nn.Sequential(torch.nn.Linear(e, 4 * e), torch.nn.GELU(approximate="tanh"),
                                       torch.nn.Linear(4 * e, e))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        y = self.ln1(x)
        x = x + self.attn(y, y, y, attn_mask=mask, need_weights=False)[0]
        return x + self.mlp(self.ln2(x))


class Block(nn.Module):
    def __init__(self, e: int, h: int) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(e)
        self.attn = nn.MultiheadAttention(e, h, batch_first=True)
        self.ln2 = nn.LayerNorm(e)
        self.mlp = nn.Sequential(nn.Linear(e, 4 * e), nn.GELU(approximate="tanh"), nn.Linear(4 * e, e))

    def forward(self, x: Tensor) -> Tensor:
        y = self.ln1(x)
        x = x + self.attn(y, y, y, is_causal=True, need_weights=False)[0]
        return x + self.mlp(self.ln2(x))


def test_pytorch_transformer_block_state_dict_loads_and_agrees(tmp_path):
    torch.manual_seed(0)
    theirs = TorchBlock(16, 4)
    path = tmp_path / "block.pt"
    torch.save(theirs.state_dict(), path)
    state = {k: v.numpy() for k, v in torch.load(path).items()}
    ours = Block(16, 4)
    assert list(ours.state_dict()) == list(state)
    ours.load_state_dict(state)
    x = np.random.default_rng(0).standard_normal((2, 10, 16)).astype(np.float32)
    mask = torch.nn.Transformer.generate_square_subsequent_mask(10)
    xt = torch.tensor(x, requires_grad=True)
    xo = Tensor(x, requires_grad=True)
    out, ref = ours(xo), theirs(xt, mask)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-4, atol=1e-5)
    out.sum().backward()
    ref.sum().backward()
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-4)
    for (name, p), (_, t) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), t.grad.numpy(), rtol=1e-3, atol=1e-4, err_msg=name)


# --- the jit ------------------------------------------------------------------------------------------------
def test_jitted_attention_step_equals_eager_and_traces_every_op():
    """Embedding, layer norm, attention with a bool padding mask, einsum: the jit replays each call's indices
    and masks, and records every op kernel by kernel (none is replayed as one opaque call)."""

    def run(jitted: bool) -> tuple[list[float], list]:
        Tensor.manual_seed(0)
        emb, norm = nn.Embedding(11, 8), nn.LayerNorm(8)
        mha = nn.MultiheadAttention(8, 2, batch_first=True)
        params = [*emb.parameters(), *norm.parameters(), *mha.parameters()]
        opt = tl.optim.SGD(params, lr=0.1)

        def step(idx: Tensor, pad: Tensor) -> Tensor:
            opt.zero_grad()
            x = norm(emb(idx))
            y, _ = mha(x, x, x, key_padding_mask=pad, need_weights=False)
            loss = Tensor.einsum("bld,bld->", y, y) / y.numel()
            loss.backward()
            opt.step()
            return loss

        fn = tl.jit(step) if jitted else step
        rng = np.random.default_rng(0)
        losses, args = [], ()
        for _ in range(4):
            pad = rng.random((3, 5)) < 0.3
            pad[:, 0] = False
            args = (Tensor(rng.integers(0, 11, (3, 5))), Tensor(pad))
            losses.append(float(fn(*args).item()))
        return losses, fn.program(*args) if jitted else None

    eager, _ = run(False)
    jitted, program = run(True)
    np.testing.assert_allclose(jitted, eager, rtol=1e-6)
    assert program is not None and program.fallbacks == [], program.fallbacks  # every op recorded kernel by kernel


# --- the fused GELU primitive (for Tensor.gelu) --------------------------------------------------------------
def test_fused_gelu_matches_torch_and_the_composite():
    from tinygrad_lite.node import apply
    from tinygrad_lite.ops.gelu import GeluTanh

    x = np.concatenate([np.linspace(-12, 12, 97), [0.0, -0.0]]).reshape(9, 11)
    pair = _pair(x)
    _compare(apply(GeluTanh, pair[0]), TF.gelu(pair[1], approximate="tanh"), [pair], tol={"rtol": 1e-12, "atol": 1e-14})
    x32 = Tensor(x.astype(np.float32))
    np.testing.assert_allclose(apply(GeluTanh, x32).numpy(), x32.gelu().numpy(), rtol=1e-6, atol=1e-7)
    assert apply(GeluTanh, x32).dtype == np.float32
    t = Tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)
    assert gradgradcheck(lambda a: apply(GeluTanh, a), t)


def test_jitted_attention_dropout_draws_fresh_masks():
    x = Tensor.ones(2, 6, 8)

    @tl.jit
    def attend(q: Tensor) -> Tensor:
        return F.scaled_dot_product_attention(q, q, q, dropout_p=0.5)

    Tensor.manual_seed(0)
    outs = [attend(x).numpy() for _ in range(4)]
    assert all(not np.array_equal(a, b) for a, b in zip(outs, outs[1:]))  # a new mask on every replay
    Tensor.manual_seed(0)
    eager = [F.scaled_dot_product_attention(x, x, x, dropout_p=0.5).numpy() for _ in range(4)]
    np.testing.assert_array_equal(np.stack(outs), np.stack(eager))  # the same draws as eager mode


@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), data=st.data())
def test_narrow_matches_torch(shape, data):
    from tinygrad_lite.node import apply
    from tinygrad_lite.ops.narrow import Narrow

    axis = data.draw(st.integers(0, len(shape) - 1))
    start = data.draw(st.integers(0, shape[axis]))
    length = data.draw(st.integers(0, shape[axis] - start))
    pair = _pair(np.random.default_rng(0).standard_normal(shape))
    _compare(apply(Narrow, pair[0], axis=axis, start=start, length=length),
             torch.narrow(pair[1], axis, start, length), [pair])
    with pytest.raises(ValueError, match="do not fit"):
        apply(Narrow, pair[0], axis=axis, start=start, length=shape[axis] + 1)
