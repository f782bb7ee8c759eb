"""`tinygrad_lite.nn.optim` is `tinygrad_lite.optim` under tinygrad's path (`from tinygrad.nn.optim import SGD`)."""
from ..optim import SGD, Adam, AdamW, Optimizer

__all__ = ["SGD", "Adam", "AdamW", "Optimizer"]
