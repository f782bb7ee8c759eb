"""`tinygrad_lite.nn.optim` is `tinygrad_lite.optim` under tinygrad's path (`from tinygrad.nn.optim import SGD`)."""
from ..optim import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop, lr_scheduler

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop", "lr_scheduler"]
