"""Neural-network building blocks: modules, layers, activations, losses, initialisers, save/load.

>>> from tinygrad_lite import Tensor, nn, optim
>>> Tensor.manual_seed(0)
>>> model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 3))
>>> opt = optim.SGD(model.parameters(), lr=0.1)
>>> loss = nn.CrossEntropyLoss()(model(Tensor([[0.5, -1.0]])), Tensor([2]))
>>> opt.zero_grad(); _ = loss.backward(); opt.step()
"""
from . import functional, init, optim, utils
from .activation import (
    CELU,
    ELU,
    GELU,
    Flatten,
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    Identity,
    LeakyReLU,
    LogSigmoid,
    LogSoftmax,
    Mish,
    ReLU,
    ReLU6,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Softsign,
    Tanh,
)
from .attention import MultiheadAttention
from .container import ModuleDict, ModuleList, Sequential
from .conv import Conv1d, Conv2d, Conv3d, ConvTranspose2d
from .dropout import Dropout
from .embedding import Embedding
from .layernorm import LayerNorm
from .linear import Linear
from .loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss, NLLLoss
from .module import IncompatibleKeys, Module
from .normalization import BatchNorm1d, BatchNorm2d, GroupNorm
from .pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from .serialization import load, save

__all__ = [
    "AdaptiveAvgPool2d", "AvgPool2d", "BCELoss", "BCEWithLogitsLoss", "BatchNorm1d", "BatchNorm2d", "CELU",
    "Conv1d", "Conv2d", "Conv3d", "ConvTranspose2d", "CrossEntropyLoss", "Dropout", "ELU", "Embedding", "Flatten",
    "GELU", "GroupNorm", "Hardsigmoid", "Hardswish", "Hardtanh", "Identity", "IncompatibleKeys", "L1Loss",
    "LayerNorm", "LeakyReLU", "Linear", "LogSigmoid", "LogSoftmax", "MSELoss", "MaxPool2d", "Mish", "Module",
    "ModuleDict", "ModuleList", "MultiheadAttention", "NLLLoss", "ReLU", "ReLU6", "Sequential", "SiLU", "Sigmoid",
    "Softmax", "Softplus", "Softsign", "Tanh", "functional", "init", "load", "optim", "save", "utils"
]
