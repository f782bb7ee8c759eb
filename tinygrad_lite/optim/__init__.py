"""Optimizers that update parameters in place from their `.grad`: SGD, Adam, AdamW (PyTorch's maths).

>>> from tinygrad_lite import Tensor, nn, optim
>>> model = nn.Linear(2, 1)
>>> opt = optim.Adam(model.parameters(), lr=1e-2)
>>> loss = nn.functional.mse_loss(model(Tensor([[1.0, 2.0]])), Tensor([[0.0]]))
>>> opt.zero_grad(); _ = loss.backward(); opt.step()
"""
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .sgd import SGD

__all__ = ["SGD", "Adam", "AdamW", "Optimizer"]
