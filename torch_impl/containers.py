"""Twins of reference/containers.py: torch's Sequential (a module used twice is one set of
parameters whose gradients autograd sums) and Flatten."""

from torch import nn

from torch_impl.base import check_input

Sequential = nn.Sequential


class Flatten(nn.Flatten):
    def forward(self, x):
        check_input(x, "Flatten input")
        if x.dim() < 2:
            raise ValueError(f"Flatten input: expected shape (N, ...) with at least 2 axes, got {tuple(x.shape)}")
        return super().forward(x)
