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
