"""Specs of the attention ops (appended to op_specs.SPECS): einsum, embedding lookup and scatter, layer norm,
the attention softmax, scaled_dot_product_attention, masked_fill, and one_hot (no gradient).

The references are plain NumPy: np.einsum, fancy indexing and np.add.at, and the attention written out with
its mask as -inf (a query that sees no key gives zeros, as PyTorch's scaled_dot_product_attention).
"""
from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from op_specs import Case, NonDiffSpec, Spec, arr, dim_of, logsumexp, separated, shapes

import tinygrad_lite.nn.functional as F
from tinygrad_lite import Tensor
from tinygrad_lite.node import apply
from tinygrad_lite.ops.attention import Softmax
from tinygrad_lite.ops.embedding import EmbeddingScatter
from tinygrad_lite.ops.gelu import GeluTanh
from tinygrad_lite.ops.narrow import Narrow

EINSUM_FORMULAS = [
    "ij,jk->ik", "bij,bjk->bik", "ij,jk", "ii->", "ii->i", "i,j->ij", "...ij->...ji", "ij->i", "ij,jk,kl->il",
    "...i,...i->...", "iij,j->i", "ba", "i,i->", "bhqd,bhkd->bhqk",
]


@st.composite
def einsum_case(draw: st.DrawFn) -> Case:
    """A formula from the list, each letter a size in 1..3, `...` a small batch shape that operands may
    broadcast (size-1 axes or fewer of them)."""
    formula = draw(st.sampled_from(EINSUM_FORMULAS))
    sizes = {c: draw(st.integers(1, 3)) for c in sorted(set(formula) - set(",->."))}
    batch = draw(shapes(max_dims=2))
    arrays = []
    for term in formula.split("->")[0].split(","):
        named = term.replace("...", "")
        lead: tuple[int, ...] = ()
        if "..." in term:
            lead = batch[draw(st.integers(0, len(batch))):]
            lead = tuple(1 if draw(st.booleans()) else n for n in lead)
        shape = (*lead, *(sizes[c] for c in named)) if term.startswith("...") else (*(sizes[c] for c in named),)
        arrays.append(draw(arr(shape)))
    return tuple(arrays), {"formula": formula}


@st.composite
def embedding_case(draw: st.DrawFn) -> Case:
    rows, dim = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    index = draw(hnp.arrays(np.int64, draw(shapes(max_dims=2, max_side=4)), elements=st.integers(0, rows - 1)))
    return (draw(arr((rows, dim))),), {"index": index}


@st.composite
def embedding_scatter_case(draw: st.DrawFn) -> Case:
    rows, dim = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    index = draw(hnp.arrays(np.int64, draw(shapes(max_dims=2, max_side=4)), elements=st.integers(0, rows - 1)))
    return (draw(arr((*index.shape, dim))),), {"index": index, "num": rows}


def embedding_scatter_ref(g: np.ndarray, index: np.ndarray, num: int) -> np.ndarray:
    out = np.zeros((num, g.shape[-1]))
    np.add.at(out, index.reshape(-1), g.reshape(-1, g.shape[-1]))
    return out


@st.composite
def layernorm_case(draw: st.DrawFn) -> Case:
    shape = draw(shapes(min_dims=1, min_side=2))
    axis = draw(st.one_of(st.integers(-len(shape), len(shape) - 1),
                          hnp.valid_tuple_axes(len(shape), min_size=1).map(tuple)))
    return (draw(separated(shape)) / 2,), {"axis": axis, "eps": draw(st.sampled_from([1e-5, 0.1]))}


def layernorm_ref(x: np.ndarray, axis: Any, eps: float) -> np.ndarray:
    centred = x - x.mean(axis=axis, keepdims=True)
    return centred / np.sqrt((centred ** 2).mean(axis=axis, keepdims=True) + eps)


@st.composite
def layer_norm_affine_case(draw: st.DrawFn) -> Case:
    """x, the number k of trailing axes normalised, a weight of those axes' shape and maybe a bias."""
    shape = draw(shapes(min_dims=1, min_side=2))
    k = draw(st.integers(1, len(shape)))
    arrays = [draw(separated(shape)) / 2, draw(arr(shape[len(shape) - k:]))]
    if draw(st.booleans()):
        arrays.append(draw(arr(shape[len(shape) - k:])))
    return tuple(arrays), {"k": k}


def layer_norm_affine_ref(x: np.ndarray, *wb: np.ndarray, k: int) -> np.ndarray:
    out = layernorm_ref(x, tuple(range(x.ndim - k, x.ndim)), 1e-5) * wb[0]
    return out + wb[1] if len(wb) > 1 else out


@st.composite
def narrow_case(draw: st.DrawFn) -> Case:
    x = draw(arr(shapes(min_dims=1)))
    axis = draw(st.integers(0, x.ndim - 1))
    start = draw(st.integers(0, x.shape[axis]))
    return (x,), {"axis": axis, "start": start, "length": draw(st.integers(0, x.shape[axis] - start))}


@st.composite
def attention_case(draw: st.DrawFn) -> Case:
    """query (B, L, E), key (B, S, E), value (B, S, Ev), with a causal flag, a bool mask (True: attend; a row
    may be all False) or a float mask."""
    batch = draw(shapes(max_dims=2, max_side=2))
    length, source, e, ev = (draw(st.integers(1, 3)) for _ in range(4))
    arrays = (draw(arr((*batch, length, e))), draw(arr((*batch, source, e))), draw(arr((*batch, source, ev))))
    kind = draw(st.sampled_from(["none", "causal", "bool", "float"]))
    params: dict[str, Any] = {"is_causal": kind == "causal", "attn_mask": None,
                              "scale": draw(st.sampled_from([None, 0.5]))}
    if kind == "bool":
        params["attn_mask"] = draw(hnp.arrays(np.bool_, (length, source)))
    elif kind == "float":
        params["attn_mask"] = draw(arr((length, source), -1.0, 1.0))
    return arrays, params


def attention_ref(q: np.ndarray, k: np.ndarray, v: np.ndarray, attn_mask: Any, is_causal: bool,
                  scale: Any) -> np.ndarray:
    scores = q @ np.swapaxes(k, -1, -2) * (1 / np.sqrt(q.shape[-1]) if scale is None else scale)
    keep = np.ones(scores.shape[-2:], bool)
    if is_causal:
        keep = np.tril(keep)
    elif attn_mask is not None and attn_mask.dtype == np.bool_:
        keep = attn_mask
    elif attn_mask is not None:
        scores = scores + attn_mask
    scores = np.where(keep, scores, -np.inf)
    top = scores.max(-1, keepdims=True)
    e = np.exp(scores - np.where(np.isfinite(top), top, 0))
    total = e.sum(-1, keepdims=True)
    return np.asarray((e / np.where(total == 0, 1, total)) @ v)  # a query that sees no key: zeros


@st.composite
def masked_fill_case(draw: st.DrawFn) -> Case:
    shape = draw(shapes())
    mask_shape = shape[draw(st.integers(0, len(shape))):]
    mask_shape = tuple(1 if draw(st.booleans()) else n for n in mask_shape)
    return (draw(arr(shape)),), {"mask": draw(hnp.arrays(np.bool_, mask_shape)),
                                 "value": draw(st.sampled_from([0.0, -1.5, 2.0]))}


@st.composite
def one_hot_case(draw: st.DrawFn) -> Case:
    classes = draw(st.integers(1, 4))
    labels = draw(hnp.arrays(np.int64, draw(shapes(max_dims=2)), elements=st.integers(0, classes - 1)))
    return (draw(arr((2,))),), {"labels": labels, "num_classes": classes}


def _embedding(w: Tensor, index: np.ndarray) -> Tensor:
    return F.embedding(Tensor(index), w)


def _embedding_scatter(g: Tensor, index: np.ndarray, num: int) -> Tensor:
    return apply(EmbeddingScatter, g, Tensor(index), num=num)


def _softmax_prim(x: Tensor, *bias: Tensor, axis: int, scale: float) -> Tensor:
    return apply(Softmax, x, *bias, axis=axis % x.ndim, scale=scale)


@st.composite
def softmax_case(draw: st.DrawFn) -> Case:
    """x of any shape (1-D up), an axis, a scale, and maybe an additive bias broadcast to x."""
    shape = draw(shapes(min_dims=1))
    params = {"axis": draw(dim_of(shape)), "scale": draw(st.sampled_from([1.0, 0.5, -2.0]))}
    if draw(st.booleans()):
        bias_shape = tuple(1 if draw(st.booleans()) else n for n in shape[draw(st.integers(0, len(shape))):])
        return (draw(arr(shape)), draw(arr(bias_shape))), params
    return (draw(arr(shape)),), params


def softmax_ref(x: np.ndarray, *bias: np.ndarray, axis: int, scale: float) -> np.ndarray:
    s = x * scale + (bias[0] if bias else 0)
    return np.exp(s - logsumexp(s, axis, keepdims=True))


ATTENTION = [
    Spec("einsum", lambda *xs, formula: Tensor.einsum(formula, *xs), lambda *xs, formula: np.einsum(formula, *xs),
         einsum_case(), ("Einsum",)),
    Spec("embedding", _embedding, lambda w, index: w[index], embedding_case(), ("EmbeddingLookup",)),
    Spec("embedding_scatter", _embedding_scatter, embedding_scatter_ref, embedding_scatter_case(),
         ("EmbeddingScatter",)),
    Spec("layernorm", lambda x, axis, eps: x.layernorm(axis, eps), layernorm_ref, layernorm_case(), ("LayerNorm",)),
    Spec("layer_norm[affine]", lambda x, *wb, k: F.layer_norm(x, x.shape[x.ndim - k:], *wb),
         layer_norm_affine_ref, layer_norm_affine_case(), ("LayerNorm",)),
    Spec("softmax[attention primitive]", _softmax_prim, softmax_ref, softmax_case(), ("Softmax",)),
    Spec("scaled_dot_product_attention",
         lambda q, k, v, **kw: q.scaled_dot_product_attention(
             k, v, None if kw["attn_mask"] is None else Tensor(kw["attn_mask"]), is_causal=kw["is_causal"],
             scale=kw["scale"]),
         attention_ref, attention_case(), ("Softmax", "Matmul")),
    Spec("gelu[fused primitive]", lambda x: apply(GeluTanh, x),
         lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3))),
         arr(shapes()).map(lambda a: ((a,), {})), ("GeluTanh",)),
    Spec("narrow", lambda x, axis, start, length: apply(Narrow, x, axis=axis, start=start, length=length),
         lambda x, axis, start, length: np.take(x, range(start, start + length), axis=axis), narrow_case(),
         ("Narrow",)),
    Spec("masked_fill", lambda x, mask, value: x.masked_fill(Tensor(mask), value),
         lambda x, mask, value: np.where(mask, value, x), masked_fill_case(), ("Where",)),
]
ATTENTION_NONDIFF = [NonDiffSpec("one_hot", lambda x, labels, num_classes: Tensor(labels).one_hot(num_classes),
                           lambda x, labels, num_classes: np.eye(num_classes, dtype=np.int64)[labels],
                           one_hot_case())]
ATTENTION_API_METHODS = "einsum layernorm masked_fill scaled_dot_product_attention one_hot".split()
