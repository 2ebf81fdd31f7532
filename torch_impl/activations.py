"""Twins of reference/activations.py."""

import torch
from torch import nn

from torch_impl.base import check_input


class Sigmoid(nn.Module):
    """sigmoid(clamp(x, -500, 500)): the seed's clip, kept so both sides compute one function."""

    def __init__(self):
        super().__init__()
        self.sigmoid = nn.Sigmoid()

    def forward(self, x):
        check_input(x, "Sigmoid input")
        return self.sigmoid(torch.clamp(x, -500, 500))


class ReLU(nn.Module):
    def __init__(self):
        super().__init__()
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(check_input(x, "ReLU input"))


class Softmax(nn.Module):
    """Softmax over the class axis of (N, C)."""

    def __init__(self):
        super().__init__()
        self.softmax = nn.Softmax(dim=1)

    def forward(self, x):
        return self.softmax(check_input(x, "Softmax input", ("N", "C")))


class Tanh(nn.Module):
    def __init__(self):
        super().__init__()
        self.tanh = nn.Tanh()

    def forward(self, x):
        return self.tanh(check_input(x, "Tanh input"))


class LeakyReLU(nn.Module):
    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        self.leaky_relu = nn.LeakyReLU(negative_slope)

    def forward(self, x):
        return self.leaky_relu(check_input(x, "LeakyReLU input"))


class ELU(nn.Module):
    def __init__(self, alpha: float = 1.0):
        super().__init__()
        self.elu = nn.ELU(alpha)

    def forward(self, x):
        return self.elu(check_input(x, "ELU input"))


class GELU(nn.Module):
    """nn.GELU; an unknown ``approximate`` refused when built (torch's own refuses at forward)."""

    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: expected approximate 'none' or 'tanh', got {approximate!r}")
        self.gelu = nn.GELU(approximate=approximate)

    def forward(self, x):
        return self.gelu(check_input(x, "GELU input"))


class SiLU(nn.Module):
    def __init__(self):
        super().__init__()
        self.silu = nn.SiLU()

    def forward(self, x):
        return self.silu(check_input(x, "SiLU input"))


class Softplus(nn.Module):
    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.softplus = nn.Softplus(beta, threshold)

    def forward(self, x):
        return self.softplus(check_input(x, "Softplus input"))


class LogSoftmax(nn.Module):
    """LogSoftmax over the class axis of (N, C)."""

    def __init__(self):
        super().__init__()
        self.log_softmax = nn.LogSoftmax(dim=1)

    def forward(self, x):
        return self.log_softmax(check_input(x, "LogSoftmax input", ("N", "C")))
