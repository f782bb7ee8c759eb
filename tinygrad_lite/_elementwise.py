"""Elementwise Tensor methods: arithmetic, math functions, activations and comparisons.

Primitives (ops/unary.py, ops/binary.py) carry the derivatives; everything else
here is composed from them and so differentiates for free.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from . import dtypes
from .data_checks import decide
from .function import NumpyFn
from .node import apply, binary, binary_operands, lift
from .ops import binary as B
from .ops import unary as U
from .ops.gelu import GeluTanh

if TYPE_CHECKING:
    from .tensor import Tensor

Operand = Any  # a Tensor, a Python number, a nested list or a NumPy array
_DEVICES = ("cpu", "cuda", "mps", "xla", "meta", "gpu", "metal", "clang", "llvm", "disk")  # names `.to` knows


def _any_negative(a: Any) -> bool:
    return bool((a < 0).any())


def _float(x: Tensor) -> Tensor:
    """Integer or bool data becomes default_float before a floating-point function."""
    return x if x.dtype.kind == "f" else x.cast(dtypes.default_float)


def _truth(x: Tensor) -> Tensor:
    """A bool tensor: x itself when bool, else x != 0."""
    return x if x.dtype.kind == "b" else x != 0


def _bitwise(fn: Any, x: Tensor, y: Operand, reverse: bool, symbol: str) -> Tensor:
    a, b = binary_operands(x, y, reverse)
    if a.dtype.kind == "f":
        raise TypeError(f"{symbol} needs bool or integer tensors, got {x.dtype} and "
                        f"{getattr(y, 'dtype', type(y).__name__)} (use logical_and/or/xor for truth values)")
    return apply(fn, a, b)


class ElementwiseMixin:
    __slots__ = ()

    # --- arithmetic -----------------------------------------------------------
    def add(self: Tensor, x: Operand, reverse: bool = False) -> Tensor:
        """Elementwise sum with NumPy broadcasting. `a.add(b)` is `a + b`."""
        return binary(B.Add, self, x, reverse)

    def sub(self: Tensor, x: Operand, reverse: bool = False) -> Tensor:
        return binary(B.Sub, self, x, reverse)

    def mul(self: Tensor, x: Operand, reverse: bool = False) -> Tensor:
        return binary(B.Mul, self, x, reverse)

    def div(self: Tensor, x: Operand, reverse: bool = False) -> Tensor:
        """True division; integer operands give default_float."""
        a, b = binary_operands(self, x, reverse)
        return apply(B.Div, _float(a), _float(b))

    def pow(self: Tensor, x: Operand, reverse: bool = False) -> Tensor:
        """x ** y. Integer exponents of float tensors keep the tensor's dtype."""
        if not reverse and type(x) in (int, float) and x == 2:  # type first: a Tensor's == is elementwise
            return self.square()  # NumPy squares exactly this way; it saves a power and its log in backward
        a, b = binary_operands(self, x, reverse)
        if a.dtype.kind != "f" and b.dtype.kind != "f" and decide(_any_negative, b):
            a, b = _float(a), _float(b)  # NumPy refuses integers to negative integer powers
        return apply(B.Pow, a, b)

    def neg(self: Tensor) -> Tensor:
        return apply(U.Neg, self)

    def __add__(self: Tensor, x: Operand) -> Tensor:
        return binary(B.Add, self, x)

    def __radd__(self: Tensor, x: Operand) -> Tensor:
        return binary(B.Add, self, x, True)

    def __sub__(self: Tensor, x: Operand) -> Tensor:
        return binary(B.Sub, self, x)

    def __rsub__(self: Tensor, x: Operand) -> Tensor:
        return binary(B.Sub, self, x, True)

    def __mul__(self: Tensor, x: Operand) -> Tensor:
        return binary(B.Mul, self, x)

    def __rmul__(self: Tensor, x: Operand) -> Tensor:
        return binary(B.Mul, self, x, True)

    def __truediv__(self: Tensor, x: Operand) -> Tensor:
        return self.div(x)

    def __rtruediv__(self: Tensor, x: Operand) -> Tensor:
        return self.div(x, True)

    def __pow__(self: Tensor, x: Operand) -> Tensor:
        return self.pow(x)

    def __rpow__(self: Tensor, x: Operand) -> Tensor:
        return self.pow(x, True)

    def __neg__(self: Tensor) -> Tensor:
        return self.neg()

    # --- comparisons (bool results, no gradient) -------------------------------
    def __lt__(self: Tensor, x: Operand) -> Tensor:
        return binary(B.Less, self, x)

    def __le__(self: Tensor, x: Operand) -> Tensor:
        return binary(B.LessEqual, self, x)

    def __gt__(self: Tensor, x: Operand) -> Tensor:
        return binary(B.Greater, self, x)

    def __ge__(self: Tensor, x: Operand) -> Tensor:
        return binary(B.GreaterEqual, self, x)

    def __eq__(self: Tensor, x: Operand) -> Tensor:  # type: ignore[override]
        return binary(B.Equal, self, x)

    def __ne__(self: Tensor, x: Operand) -> Tensor:  # type: ignore[override]
        return binary(B.NotEqual, self, x)

    def __invert__(self: Tensor) -> Tensor:
        """`~mask`: logical not for bools, bitwise not for integers (as PyTorch)."""
        if self.data.dtype.kind == "f":
            raise TypeError(f"~ needs a bool or integer tensor, got {self.data.dtype} (use logical_not for floats)")
        return apply(B.LogicalNot, self)

    def logical_not(self: Tensor) -> Tensor:
        """True where the tensor is 0 (any dtype); a bool tensor."""
        return apply(B.LogicalNot, _truth(self))

    # --- bitwise and logical (bool or integer results, no gradient) ------------------
    def bitwise_and(self: Tensor, x: Operand, reverse: bool = False) -> Tensor:
        """`a & b`: logical for bool tensors, bitwise for integer tensors (floats are refused, as PyTorch)."""
        return _bitwise(B.BitwiseAnd, self, x, reverse, "&")

    def bitwise_or(self: Tensor, x: Operand, reverse: bool = False) -> Tensor:
        """`a | b`: logical for bool tensors, bitwise for integer tensors."""
        return _bitwise(B.BitwiseOr, self, x, reverse, "|")

    def bitwise_xor(self: Tensor, x: Operand, reverse: bool = False) -> Tensor:
        """`a ^ b`: logical for bool tensors, bitwise for integer tensors."""
        return _bitwise(B.BitwiseXor, self, x, reverse, "^")

    def __and__(self: Tensor, x: Operand) -> Tensor:
        return self.bitwise_and(x)

    def __rand__(self: Tensor, x: Operand) -> Tensor:
        return self.bitwise_and(x, True)

    def __or__(self: Tensor, x: Operand) -> Tensor:
        return self.bitwise_or(x)

    def __ror__(self: Tensor, x: Operand) -> Tensor:
        return self.bitwise_or(x, True)

    def __xor__(self: Tensor, x: Operand) -> Tensor:
        return self.bitwise_xor(x)

    def __rxor__(self: Tensor, x: Operand) -> Tensor:
        return self.bitwise_xor(x, True)

    def logical_and(self: Tensor, x: Operand) -> Tensor:
        """True where both are nonzero (any dtypes); a bool tensor. `Tensor([1.0, 0.0]).logical_and(2.0)`"""
        return apply(B.BitwiseAnd, *binary_operands(_truth(self), _truth(lift(x, (self,)))))

    def logical_or(self: Tensor, x: Operand) -> Tensor:
        """True where either is nonzero; a bool tensor."""
        return apply(B.BitwiseOr, *binary_operands(_truth(self), _truth(lift(x, (self,)))))

    def logical_xor(self: Tensor, x: Operand) -> Tensor:
        """True where exactly one is nonzero; a bool tensor."""
        return apply(B.BitwiseXor, *binary_operands(_truth(self), _truth(lift(x, (self,)))))

    # --- math functions -------------------------------------------------------
    def exp(self: Tensor) -> Tensor:
        return apply(U.Exp, _float(self))

    def exp2(self: Tensor) -> Tensor:
        """2**x, as exp(x·ln 2)."""
        return (self * math.log(2)).exp()

    def log(self: Tensor) -> Tensor:
        """Natural logarithm; log(0) = -inf, log of a negative number nan (as NumPy)."""
        return apply(U.Log, _float(self))

    def log2(self: Tensor) -> Tensor:
        return self.log() / math.log(2)

    def sqrt(self: Tensor) -> Tensor:
        return apply(U.Sqrt, _float(self))

    def rsqrt(self: Tensor) -> Tensor:
        return self.sqrt().reciprocal()

    def sin(self: Tensor) -> Tensor:
        return apply(U.Sin, _float(self))

    def cos(self: Tensor) -> Tensor:
        return apply(U.Cos, _float(self))

    def tan(self: Tensor) -> Tensor:
        return self.sin() / self.cos()

    def log1p(self: Tensor) -> Tensor:
        """log(1 + x), accurate for tiny x: `Tensor([1e-20]).log1p()` is 1e-20 where `(1 + x).log()` is 0."""
        return apply(U.Log1p, _float(self))

    def expm1(self: Tensor) -> Tensor:
        """eˣ - 1, accurate for tiny x."""
        return apply(U.Expm1, _float(self))

    def erf(self: Tensor) -> Tensor:
        """The error function 2/√π ∫₀ˣ e^(-t²) dt, to a few ulp in float64."""
        return apply(U.Erf, _float(self))

    def asin(self: Tensor) -> Tensor:
        """arcsin, nan outside [-1, 1]; the gradient is +inf at ±1 (as PyTorch)."""
        return apply(U.Asin, _float(self))

    def acos(self: Tensor) -> Tensor:
        """arccos, nan outside [-1, 1]; the gradient is -inf at ±1 (as PyTorch)."""
        return apply(U.Acos, _float(self))

    def atan(self: Tensor) -> Tensor:
        return apply(U.Atan, _float(self))

    def atan2(self: Tensor, x: Operand) -> Tensor:
        """The angle of the point (x, self) in (-π, π], as `torch.atan2(self, x)`; gradients are 0 at (0, 0)."""
        a, b = binary_operands(self, x)
        return apply(B.Atan2, _float(a), _float(b))

    def abs(self: Tensor) -> Tensor:
        return apply(U.Abs, self)

    def sign(self: Tensor) -> Tensor:
        """-1, 0 or 1 in the tensor's dtype (gradient 0); a bool tensor is its own sign, as PyTorch."""
        return self if self.data.dtype.kind == "b" else apply(U.Sign, self)

    def square(self: Tensor) -> Tensor:
        """x * x, as one node (NumPy would make a bool tensor's square int8: that stays `x * x`)."""
        return self * self if self.dtype.kind == "b" else apply(U.Square, self)

    def reciprocal(self: Tensor) -> Tensor:
        return 1.0 / _float(self)

    def floor(self: Tensor) -> Tensor:
        return apply(U.Floor, self)

    def ceil(self: Tensor) -> Tensor:
        return apply(U.Ceil, self)

    def trunc(self: Tensor) -> Tensor:
        return apply(U.Trunc, self)

    def round(self: Tensor) -> Tensor:
        """Round half to even, as NumPy and PyTorch."""
        return apply(U.Round, self)

    def maximum(self: Tensor, x: Operand) -> Tensor:
        """Elementwise max; at ties each side gets half the gradient (as PyTorch)."""
        return binary(B.Maximum, self, x)

    def minimum(self: Tensor, x: Operand) -> Tensor:
        """Elementwise min; at ties each side gets half the gradient (as PyTorch)."""
        return binary(B.Minimum, self, x)

    def where(self: Tensor, x: Operand, y: Operand) -> Tensor:
        """`cond.where(x, y)` / `Tensor.where(cond, x, y)`: x where cond is true, else y."""
        cond = self if self.dtype.kind == "b" else self != 0
        xt, yt = lift(x, (x, y)), lift(y, (x, y))
        if xt.dtype != yt.dtype:
            xt, yt = binary_operands(xt, yt)
        return apply(B.Where, cond, xt, yt)

    def clip(self: Tensor, min_: Operand = None, max_: Operand = None) -> Tensor:
        """Limit to [min_, max_]; the gradient is 1 inside the closed interval (as torch.clamp)."""
        if min_ is None and max_ is None:
            raise ValueError("clip needs min_ or max_")
        out = self
        if min_ is not None:
            out = (out < min_).where(min_, out)
        if max_ is not None:
            out = (out > max_).where(max_, out)
        return out

    def clamp(self: Tensor, min: Operand = None, max: Operand = None) -> Tensor:  # noqa: A002 - PyTorch's names
        """PyTorch's name for clip."""
        return self.clip(min, max)

    # --- activations ------------------------------------------------------------
    def sigmoid(self: Tensor) -> Tensor:
        """1 / (1 + e^-x), without overflow for any input."""
        return apply(U.Sigmoid, _float(self))

    def tanh(self: Tensor) -> Tensor:
        return apply(U.Tanh, _float(self))

    def relu(self: Tensor) -> Tensor:
        """max(x, 0); the gradient at 0 is 0."""
        return apply(U.Relu, self)

    def relu6(self: Tensor) -> Tensor:
        return self.hardtanh(0.0, 6.0)

    def hardtanh(self: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
        """Clamp to [min_val, max_val]; the gradient is 0 at and beyond the edges (as PyTorch)."""
        return (self <= min_val).where(min_val, (self >= max_val).where(max_val, self))

    def leaky_relu(self: Tensor, neg_slope: float = 0.01) -> Tensor:
        return (self > 0).where(self, self * neg_slope)

    def elu(self: Tensor, alpha: float = 1.0) -> Tensor:
        """x for x > 0, alpha·(eˣ - 1) otherwise, with expm1 so tiny negative x keep their precision
        (exp(x) - 1 is 0 for |x| < eps/2); expm1 only ever sees x ≤ 0, so it never overflows.

        >>> from tinygrad_lite import Tensor
        >>> Tensor([-1e-20, 2.0], dtype="float64").elu().tolist()
        [-1e-20, 2.0]
        """
        neg = (self > 0).where(0.0, self)
        return (self > 0).where(self, alpha * neg.expm1())

    def celu(self: Tensor, alpha: float = 1.0) -> Tensor:
        """x for x > 0, alpha·(e^(x/alpha) - 1) otherwise (expm1, as elu)."""
        neg = (self > 0).where(0.0, self)
        return (self > 0).where(self, alpha * (neg / alpha).expm1())

    def softplus(self: Tensor, beta: float = 1.0) -> Tensor:
        """log(1 + e^(beta·x)) / beta, stable for any input."""
        return apply(U.Softplus, _float(self) * beta) / beta

    def logsigmoid(self: Tensor) -> Tensor:
        return -(-self).softplus()

    def silu(self: Tensor) -> Tensor:
        return self * self.sigmoid()

    def swish(self: Tensor) -> Tensor:
        return self.silu()

    def mish(self: Tensor) -> Tensor:
        return self * self.softplus().tanh()

    def gelu(self: Tensor, approximate: str = "tanh") -> Tensor:
        """x·Φ(x). By default the tanh approximation, as tinygrad: ½x(1 + tanh(√(2/π)(x + 0.044715x³)));
        `approximate="none"` is the exact ½x(1 + erf(x/√2)), PyTorch's default."""
        if approximate == "none":
            return 0.5 * self * (1 + (self * math.sqrt(0.5)).erf())
        if approximate != "tanh":
            raise ValueError(f"gelu: approximate must be 'tanh' or 'none', got {approximate!r}")
        if self.dtype == dtypes.float16:  # in float32, rounded once, as PyTorch: float16 steps drift ~1%
            return apply(GeluTanh, self.cast(dtypes.float32)).cast(dtypes.float16)
        return apply(GeluTanh, _float(self))  # fused: one node instead of nine full-size temporaries

    def quick_gelu(self: Tensor) -> Tensor:
        return self * (self * 1.702).sigmoid()

    def hardsigmoid(self: Tensor, alpha: float = 1 / 6, beta: float = 0.5) -> Tensor:
        """clamp(alpha·x + beta, 0, 1); float16 is computed in float32 and rounded once, as PyTorch."""
        if self.dtype == dtypes.float16:
            return self.cast(dtypes.float32).hardsigmoid(alpha, beta).cast(dtypes.float16)
        return (alpha * self + beta).hardtanh(0.0, 1.0)

    def hardswish(self: Tensor) -> Tensor:
        return self * (self + 3).relu6() * (1 / 6)

    def softsign(self: Tensor) -> Tensor:
        return self / (1 + self.abs())

    # --- dtype conversion (last: these names shadow builtins inside the class body) ---
    def cast(self: Tensor, dtype: Any) -> Tensor:
        """The same values in another dtype; differentiable between float dtypes (casting to a non-float
        dtype ends the graph: integers carry no gradient)."""
        dt = dtypes.to_dtype(dtype)
        if self.data.dtype == dt:
            return self
        out = apply(U.Cast, self, dtype=dt)
        return out if dt.kind == "f" else out.detach()

    def to(self: Tensor, *args: Any, dtype: Any = None, device: Any = None) -> Tensor:
        """PyTorch's `.to`: `t.to(dtypes.float64)`, `t.to("cpu")`, `t.to("cpu", dtypes.int64)`, `t.to(other)`
        (other's dtype). Only the CPU exists here; another device is a ValueError."""
        for a in args:
            if isinstance(a, type(self)):
                dtype = a.dtype
            elif isinstance(a, str) and a.split(":")[0].lower() in _DEVICES:
                device = a
            else:
                dtype = a
        if device is not None and str(device).split(":")[0].lower() != "cpu":
            raise ValueError(f"to: tinygrad_lite runs on the CPU only, got device {device!r}")
        return self if dtype is None else self.cast(dtype)

    def cpu(self: Tensor) -> Tensor:
        """Returns self: the data is always in CPU memory (present for PyTorch code)."""
        return self

    def clone(self: Tensor) -> Tensor:
        """A copy with its own memory, in the graph (the gradient flows back to self), as torch.clone."""
        if self.data.dtype.kind == "f":
            return self * 1.0  # exact for every float, -0.0 and NaN included; a new array
        return apply(NumpyFn, self, func=np.copy)

    def float(self: Tensor) -> Tensor:
        return self.cast(dtypes.float32)

    def double(self: Tensor) -> Tensor:
        return self.cast(dtypes.float64)

    def half(self: Tensor) -> Tensor:
        return self.cast(dtypes.float16)

    def int(self: Tensor) -> Tensor:
        return self.cast(dtypes.int32)

    def long(self: Tensor) -> Tensor:
        return self.cast(dtypes.int64)

    def bool(self: Tensor) -> Tensor:
        return self.cast(dtypes.bool)
