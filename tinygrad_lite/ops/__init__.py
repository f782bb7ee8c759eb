"""The primitives, grouped as a table: unary, binary, reduce, movement, linear algebra, softmax.

Importing this package registers each of them in `tinygrad_lite.function.REGISTRY`.
"""
from . import binary, linalg, movement, reduce, softmax, unary

__all__ = ["binary", "linalg", "movement", "reduce", "softmax", "unary"]
