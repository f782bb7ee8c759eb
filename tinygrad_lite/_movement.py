"""Movement and indexing on the Tensor. Reshape, Permute, Expand, Flip, Pad, GetItem and
Cat are primitives; flatten, squeeze, repeat, stack, gather, tril and the rest are built on them."""
from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from . import dtypes
from ._reduce import normalize_axis
from .node import TensorCore, apply
from .ops import movement as M

if TYPE_CHECKING:
    from .tensor import Tensor


def _dim(d: int, ndim: int, op: str) -> int:
    (out,) = normalize_axis(d, ndim, op) if ndim else (0,)
    return out


def _index_part(part: Any) -> Any:
    """One element of an index, as NumPy takes it."""
    if isinstance(part, TensorCore):
        if part.dtype.kind not in "iub":
            raise IndexError(f"tensors used as indices must be integer or bool, got {part.dtype}")
        return part.data
    if isinstance(part, (list, np.ndarray)):
        arr = np.asarray(part)
        if arr.size and arr.dtype.kind not in "iub":
            raise IndexError(f"arrays used as indices must be integer or bool, got {arr.dtype}")
        return arr.astype(np.intp) if arr.dtype.kind != "b" else arr
    if part is None or part is Ellipsis or isinstance(part, slice):
        return part
    if isinstance(part, (int, np.integer)) and not isinstance(part, bool):
        return int(part)
    raise IndexError(f"unsupported index {part!r}: use ints, slices, None, ..., or integer tensors/arrays")


def _tensor_list(first: Any, rest: tuple[Any, ...], op: str) -> list[Any]:
    """`f(a, b, c)`, `f([a, b, c])` (PyTorch's habit) or `a.f(b, c)`, as one list of tensors."""
    items = [*first, *rest] if isinstance(first, (list, tuple)) else [first, *rest]
    if len(rest) == 1 and isinstance(rest[0], (list, tuple)) and not isinstance(first, (list, tuple)):
        items = [first, *rest[0]]
    if not items:
        raise ValueError(f"{op} needs at least one tensor")
    for t in items:
        if not isinstance(t, TensorCore):
            raise TypeError(f"{op} takes Tensors, got {type(t).__name__}")
    return items


class MovementMixin:
    __slots__ = ()

    def size(self: Tensor, dim: int | None = None) -> Any:
        """PyTorch's `size()`: the shape, or with `dim` that axis's length (`numel()` counts elements)."""
        if dim is None:
            return self.shape
        if not isinstance(dim, (int, np.integer)) or not -self.ndim <= dim < self.ndim:
            raise IndexError(f"size: dim {dim!r} is out of range for a tensor of shape {self.shape}")
        return self.shape[int(dim)]

    def reshape(self: Tensor, shape: Any, *args: int) -> Tensor:
        """`x.reshape(2, 3)` or `x.reshape((2, -1))`; one -1 is inferred."""
        dims = tuple(shape) if isinstance(shape, (tuple, list)) else (shape, *args)
        if sum(1 for d in dims if d == -1) > 1 or any(not isinstance(d, (int, np.integer)) or d < -1 for d in dims):
            raise ValueError(f"reshape: invalid shape {dims} (sizes must be ints, at most one -1)")
        known = math.prod(d for d in dims if d != -1)
        if -1 in dims:
            if known == 0 or self.numel() % known:
                raise ValueError(f"reshape: cannot reshape tensor of shape {self.shape} into {dims}")
            dims = tuple(self.numel() // known if d == -1 else int(d) for d in dims)
        if math.prod(dims) != self.numel():
            raise ValueError(f"reshape: cannot reshape tensor of shape {self.shape} ({self.numel()} elements) "
                             f"into shape {dims} ({math.prod(dims)} elements)")
        dims = tuple(int(d) for d in dims)
        return self if dims == self.shape else apply(M.Reshape, self, shape=dims)

    def view(self: Tensor, shape: Any, *args: int) -> Tensor:
        return self.reshape(shape, *args)

    def flatten(self: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        if self.ndim == 0:
            return self.reshape(1)
        s, e = _dim(start_dim, self.ndim, "flatten"), _dim(end_dim, self.ndim, "flatten")
        if s > e:
            raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
        return self.reshape(self.shape[:s] + (math.prod(self.shape[s:e + 1]),) + self.shape[e + 1:])

    def unflatten(self: Tensor, dim: int, sizes: Sequence[int]) -> Tensor:
        d = _dim(dim, self.ndim, "unflatten")
        return self.reshape(self.shape[:d] + tuple(sizes) + self.shape[d + 1:])

    def permute(self: Tensor, order: Any, *args: int) -> Tensor:
        """Reorder the axes: `x.permute(2, 0, 1)`."""
        dims = tuple(order) if isinstance(order, (tuple, list)) else (order, *args)
        norm = normalize_axis(dims, self.ndim, "permute")
        if len(norm) != self.ndim:
            raise ValueError(f"permute: order {dims} does not name each of the {self.ndim} axes once")
        return apply(M.Permute, self, order=norm)

    def transpose(self: Tensor, dim0: int = 1, dim1: int = 0) -> Tensor:
        """Swap two axes (tinygrad's defaults swap the first two)."""
        order = list(range(self.ndim))
        a, b = _dim(dim0, self.ndim, "transpose"), _dim(dim1, self.ndim, "transpose")
        order[a], order[b] = order[b], order[a]
        return self.permute(order)

    @property
    def T(self: Tensor) -> Tensor:  # noqa: N802
        """All axes reversed (a matrix transpose for 2-D)."""
        return self.permute(tuple(range(self.ndim))[::-1]) if self.ndim > 1 else self

    @property
    def mT(self: Tensor) -> Tensor:  # noqa: N802
        """The last two axes swapped (batched matrix transpose)."""
        return self.transpose(-1, -2)

    def expand(self: Tensor, shape: Any, *args: int) -> Tensor:
        """Broadcast to a larger shape without copying; -1 keeps a size."""
        dims = tuple(shape) if isinstance(shape, (tuple, list)) else (shape, *args)
        lead = len(dims) - self.ndim
        if lead < 0:
            raise ValueError(f"expand: shape {dims} has fewer dimensions than the tensor's {self.shape}")
        full = tuple(self.shape[i - lead] if d == -1 and i >= lead else int(d) for i, d in enumerate(dims))
        for i, n in enumerate(self.shape):
            if n != 1 and n != full[lead + i]:
                raise ValueError(f"expand: cannot expand shape {self.shape} to {dims}")
        return self if full == self.shape else apply(M.Expand, self, shape=full)

    def broadcast_to(self: Tensor, shape: Any) -> Tensor:
        return self.expand(shape)

    def squeeze(self: Tensor, dim: int | None = None) -> Tensor:
        """Drop size-1 axes (all, or only `dim`, which is left alone if its size is not 1)."""
        if dim is None:
            return self.reshape(tuple(n for n in self.shape if n != 1))
        if isinstance(dim, (int, np.integer)) and not -max(self.ndim, 1) <= dim < max(self.ndim, 1):
            raise IndexError(f"squeeze: dim {dim} is out of range for a tensor of shape {self.shape} "
                             f"(expected a dim in [{-max(self.ndim, 1)}, {max(self.ndim, 1) - 1}])")
        d = _dim(dim, self.ndim, "squeeze")
        return self if self.ndim == 0 or self.shape[d] != 1 else self.reshape(self.shape[:d] + self.shape[d + 1:])

    def unsqueeze(self: Tensor, dim: int) -> Tensor:
        """Insert a size-1 axis at `dim` (negative counts from the end of the result)."""
        d = _dim(dim, self.ndim + 1, "unsqueeze")
        return self.reshape(self.shape[:d] + (1,) + self.shape[d:])

    def flip(self: Tensor, axis: Any = None, *args: int, dims: Any = None) -> Tensor:
        """Reverse along the given axes: `x.flip(0)`, `x.flip((0, 1))` or PyTorch's `x.flip(dims=(0,))`."""
        if (axis is None) == (dims is None):
            raise TypeError("flip: give the axes once, as `axis` or as `dims=`")
        axis = dims if axis is None else axis
        axes = tuple(axis) if isinstance(axis, (tuple, list)) else (axis, *args)
        return apply(M.Flip, self, axis=normalize_axis(axes, self.ndim, "flip"))

    def pad(self: Tensor, padding: Sequence[Any], value: float = 0.0) -> Tensor:
        """Pad with `value`. `padding` is either PyTorch's flat (left, right, top, bottom, ...) starting
        at the last axis, or tinygrad's one (before, after) pair or None per axis from the first.
        Negative amounts crop."""
        if all(isinstance(p, (int, np.integer)) for p in padding):
            if len(padding) % 2 or len(padding) // 2 > self.ndim:
                raise ValueError(f"pad: flat padding {tuple(padding)} needs an even length of at most "
                                 f"{2 * self.ndim} for shape {self.shape}")
            pairs = [(0, 0)] * self.ndim
            for i in range(len(padding) // 2):
                pairs[self.ndim - 1 - i] = (int(padding[2 * i]), int(padding[2 * i + 1]))
        else:
            if len(padding) != self.ndim:
                raise ValueError(f"pad: {len(padding)} (before, after) pairs for a tensor of shape {self.shape}")
            pairs = [(0, 0) if p is None else (int(p[0]), int(p[1])) for p in padding]
        if any(lo < 0 or hi < 0 for lo, hi in pairs):
            x = self[tuple(slice(max(-lo, 0), n - max(-hi, 0)) for (lo, hi), n in zip(pairs, self.shape))]
            return x.pad([(max(lo, 0), max(hi, 0)) for lo, hi in pairs], value)
        if all(p == (0, 0) for p in pairs):
            return self
        return apply(M.Pad, self, padding=tuple(pairs), value=value)

    def shrink(self: Tensor, arg: Sequence[tuple[int, int] | None]) -> Tensor:
        """Keep [start, end) on each axis (None keeps the axis whole)."""
        if len(arg) != self.ndim:
            raise ValueError(f"shrink: {len(arg)} ranges for a tensor of shape {self.shape}")
        return self[tuple(slice(None) if a is None else slice(a[0], a[1]) for a in arg)]

    def __getitem__(self: Tensor, index: Any) -> Tensor:
        """NumPy indexing: ints, slices (any step), None, ..., integer (or bool) tensors and arrays."""
        parts = index if isinstance(index, tuple) else (index,)
        idx = tuple(_index_part(p) for p in parts)
        return apply(M.GetItem, self, index=idx)

    def __setitem__(self: Tensor, index: Any, value: Any) -> None:
        raise TypeError("tensors are immutable here: build the new tensor with where(), pad() or cat() instead")

    def contiguous(self: Tensor) -> Tensor:
        return self

    def repeat(self: Tensor, repeats: Any, *args: int) -> Tensor:
        """Tile the tensor: `x.repeat(2, 1)` (as torch.Tensor.repeat)."""
        reps = tuple(repeats) if isinstance(repeats, (tuple, list)) else (repeats, *args)
        if len(reps) < self.ndim:
            raise ValueError(f"repeat: {len(reps)} repeat counts for a tensor of shape {self.shape}")
        base = self.reshape((1,) * (len(reps) - self.ndim) + self.shape)
        inter = tuple(d for n in base.shape for d in (1, n))
        tiled = tuple(d for r, n in zip(reps, base.shape) for d in (r, n))
        return base.reshape(inter).expand(tiled).reshape(tuple(r * n for r, n in zip(reps, base.shape)))

    def chunk(self: Tensor, chunks: int, dim: int = 0) -> list[Tensor]:
        """Split into `chunks` pieces along `dim` (the last may be smaller)."""
        if chunks <= 0:
            raise ValueError(f"chunk: chunks must be positive, got {chunks}")
        d = _dim(dim, self.ndim, "chunk")
        size = max(1, -(-self.shape[d] // chunks))
        return self.split(size, d)

    def split(self: Tensor, sizes: int | Sequence[int], dim: int = 0) -> list[Tensor]:
        """Split along `dim` into pieces of `sizes` (an int, or one size per piece)."""
        d = _dim(dim, self.ndim, "split")
        n = self.shape[d]
        if isinstance(sizes, int):
            if sizes <= 0:
                raise ValueError(f"split: size must be positive, got {sizes}")
            sizes = [min(sizes, n - s) for s in range(0, n, sizes)] or [0]
        if sum(sizes) != n:
            raise ValueError(f"split: sizes {list(sizes)} do not add up to {n} (dim {dim} of {self.shape})")
        lead, out, start = (slice(None),) * d, [], 0
        for s in sizes:
            out.append(self[lead + (slice(start, start + s),)])
            start += s
        return out

    def tril(self: Tensor, diagonal: int = 0) -> Tensor:
        """Zero above the `diagonal`-th diagonal of the last two axes."""
        if self.ndim < 2:
            raise ValueError(f"tril needs at least 2 dimensions, got shape {self.shape}")
        keep = np.tri(self.shape[-2], self.shape[-1], diagonal, dtype=bool)
        return type(self)._wrap(keep).where(self, 0)

    def triu(self: Tensor, diagonal: int = 0) -> Tensor:
        """Zero below the `diagonal`-th diagonal of the last two axes."""
        if self.ndim < 2:
            raise ValueError(f"triu needs at least 2 dimensions, got shape {self.shape}")
        keep = ~np.tri(self.shape[-2], self.shape[-1], diagonal - 1, dtype=bool)
        return type(self)._wrap(keep).where(self, 0)

    def cat(self: Tensor, *args: Tensor, dim: int = 0) -> Tensor:
        """Join along an existing axis: `Tensor.cat(a, b, dim=1)`, `a.cat(b, dim=1)` or `Tensor.cat([a, b])`.
        Mixed dtypes promote as in arithmetic (`cat(bool, int32)` is int32; floats win)."""
        ts = _tensor_list(self, args, "cat")
        self = ts[0]
        for t in ts:
            if not isinstance(t, TensorCore):
                raise TypeError(f"cat takes Tensors, got {type(t).__name__}")
        d = _dim(dim, self.ndim, "cat")
        for t in ts:
            if t.ndim != self.ndim or any(a != b for i, (a, b) in enumerate(zip(t.shape, self.shape)) if i != d):
                raise ValueError(f"cat: shapes {[x.shape for x in ts]} differ outside dim {dim}")
        dtype = functools.reduce(dtypes.promote, [t.dtype for t in ts[1:]], ts[0].dtype)
        return apply(M.Cat, *[t.cast(dtype) for t in ts], axis=d)

    def stack(self: Tensor, *args: Tensor, dim: int = 0) -> Tensor:
        """Join along a new axis: `Tensor.stack(a, b)` or `Tensor.stack([a, b])`; shapes must be equal."""
        ts = _tensor_list(self, args, "stack")
        self = ts[0]
        for t in ts:
            if not isinstance(t, TensorCore):
                raise TypeError(f"stack takes Tensors, got {type(t).__name__}")
            if t.shape != self.shape:
                raise ValueError(f"stack: all shapes must be equal, got {[x.shape for x in ts]}")
        d = _dim(dim, self.ndim + 1, "stack")
        return ts[0].unsqueeze(d).cat(*[t.unsqueeze(d) for t in ts[1:]], dim=d)

    def gather(self: Tensor, dim: int, index: Any) -> Tensor:
        """out[i][j][k] = self[i][index[i][j][k]][k] for dim=1 (as torch.gather)."""
        # A Tensor index stays a Tensor in the index below (so a jit replays each call's index, not a copy).
        idx = index.data if isinstance(index, TensorCore) else np.asarray(index)
        d = _dim(dim, self.ndim, "gather")
        if idx.ndim != self.ndim or idx.dtype.kind not in "iu":
            raise ValueError(f"gather: index must be an integer tensor with {self.ndim} dims, "
                             f"got {idx.dtype} {idx.shape}")
        if any(idx.shape[i] > self.shape[i] for i in range(self.ndim) if i != d):
            raise ValueError(f"gather: index shape {idx.shape} exceeds input shape {self.shape} outside dim {dim}")
        grid: list[Any] = list(np.ogrid[tuple(slice(n) for n in idx.shape)]) if idx.ndim else []
        grid[d] = index if isinstance(index, TensorCore) else idx
        try:
            return self[tuple(grid)]
        except IndexError as exc:
            raise IndexError(f"gather: {exc}") from None
