"""Twins of reference/pooling.py."""

from torch import nn

from torch_impl.base import check_input


class GlobalAvgPool2d(nn.AdaptiveAvgPool2d):
    def __init__(self):
        super().__init__(1)

    def forward(self, x):
        return super().forward(check_input(x, "GlobalAvgPool2d input", ("N", "C", "H", "W")))


def global_avg_pool(x):
    """(H, W, C) -> (C,): channels first, then torch's adaptive pooling to 1x1."""
    check_input(x, "global_avg_pool input", ("H", "W", "C"), integers_ok=True)
    if not x.is_floating_point():
        x = x.double()
    return nn.AdaptiveAvgPool2d(1)(x.permute(2, 0, 1)).flatten()


class MaxPool2d(nn.MaxPool2d):
    def forward(self, x):
        return super().forward(check_input(x, "MaxPool2d input", ("N", "C", "H", "W")))


class AvgPool2d(nn.AvgPool2d):
    def forward(self, x):
        # torch itself refuses padding above half the kernel and inputs too small for one window (RuntimeError)
        return super().forward(check_input(x, "AvgPool2d input", ("N", "C", "H", "W")))
