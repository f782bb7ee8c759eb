"""Optimizers that update parameters in place from their `.grad` (SGD, Adam, AdamW, RMSprop, Adagrad; PyTorch's
maths) and learning-rate schedules (`optim.lr_scheduler`).

>>> from tinygrad_lite import Tensor, nn, optim
>>> model = nn.Linear(2, 1)
>>> opt = optim.Adam(model.parameters(), lr=1e-2)
>>> loss = nn.functional.mse_loss(model(Tensor([[1.0, 2.0]])), Tensor([[0.0]]))
>>> opt.zero_grad(); _ = loss.backward(); opt.step()
"""
from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop", "lr_scheduler"]
