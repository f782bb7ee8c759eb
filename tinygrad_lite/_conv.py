"""Convolution, pooling and padding on the Tensor, with tinygrad's signatures."""
from __future__ import annotations

from ._dropout import DropoutMixin


class ConvMixin(DropoutMixin):
    __slots__ = ()
