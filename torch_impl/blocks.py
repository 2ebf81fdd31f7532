"""Twins of reference/blocks.py. The SE blocks follow the seed's PyTorch code module for
module (same structure and parameter names); input checks are added."""

import torch
from torch import nn

from torch_impl.base import check_input


class ResidualBlock(nn.Module):
    """relu(w2 relu(w1 x) + x), x: (d,) or (d, N)."""

    def __init__(self, features):
        super().__init__()
        self.w1 = nn.Parameter(torch.empty(features, features))
        self.w2 = nn.Parameter(torch.empty(features, features))
        bound = features**-0.5
        nn.init.uniform_(self.w1, -bound, bound)
        nn.init.uniform_(self.w2, -bound, bound)

    def forward(self, x):
        features = self.w1.shape[0]
        check_input(x, "ResidualBlock input", (features,) if x.ndim == 1 else (features, "N"))
        return torch.relu(self.w2 @ torch.relu(self.w1 @ x) + x)


class SEBlock(nn.Module):
    def __init__(self, channels, reduction=16):
        super().__init__()
        hidden = channels // reduction
        if hidden < 1:
            raise ValueError(
                f"SEBlock: channels // reduction must be at least 1, got {channels} // {reduction} = 0"
            )
        self.squeeze = nn.AdaptiveAvgPool2d(1)
        self.excitation = nn.Sequential(
            nn.Linear(channels, hidden, bias=False),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, channels, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, x):
        channels = self.excitation[0].in_features
        check_input(x, "SEBlock input", ("N", channels, "H", "W"))
        n = x.shape[0]
        weights = self.excitation(self.squeeze(x).view(n, channels)).view(n, channels, 1, 1)
        return x * weights.expand_as(x)


class SEResNetBlock(nn.Module):
    def __init__(self, in_channels, out_channels, stride=1, reduction=16):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.se = SEBlock(out_channels, reduction)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x):
        check_input(x, "SEResNetBlock input", ("N", self.conv1.in_channels, "H", "W"))
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.se(self.bn2(self.conv2(out)))
        out += self.shortcut(x)
        return torch.relu(out)
