"""Twins of reference/norm.py."""

import torch.nn.functional as F
from torch import nn

from torch_impl.base import check_input


class BatchNorm2d(nn.BatchNorm2d):
    def forward(self, x):
        check_input(x, "BatchNorm2d input", ("N", self.num_features, "H", "W"))
        return super().forward(x)


def batch_normalization(X, gamma, beta, epsilon=1e-5):
    check_input(X, "batch_normalization X", ("B", "C", "H", "W"))
    channels = X.shape[1]
    check_input(gamma, "batch_normalization gamma", (1, channels, 1, 1))
    check_input(beta, "batch_normalization beta", (1, channels, 1, 1))
    return F.batch_norm(X, None, None, gamma.flatten(), beta.flatten(), training=True, eps=epsilon)


class LayerNorm(nn.LayerNorm):
    def forward(self, x):
        k = len(self.normalized_shape)
        check_input(x, "LayerNorm input", ("...",) * max(x.ndim - k, 0) + tuple(self.normalized_shape))
        return super().forward(x)


class BatchNorm1d(nn.BatchNorm1d):
    def forward(self, x):
        check_input(x, "BatchNorm1d input")
        channels = self.num_features
        if x.ndim not in (2, 3):
            raise ValueError(f"BatchNorm1d input: expected shape (N, {channels}) or (N, {channels}, L), "
                             f"got {tuple(x.shape)}")
        check_input(x, "BatchNorm1d input", ("N", channels, "L")[: x.ndim])
        return super().forward(x)  # torch refuses one value per channel in training (ValueError)


class GroupNorm(nn.GroupNorm):
    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True):
        if num_groups < 1 or num_channels % num_groups:  # torch's own ValueError says as much, differently
            raise ValueError(f"GroupNorm: expected num_channels divisible by num_groups, "
                             f"got {num_channels} channels in {num_groups} groups")
        super().__init__(num_groups, num_channels, eps=eps, affine=affine)

    def forward(self, x):
        check_input(x, "GroupNorm input")
        channels = self.num_channels
        if x.ndim not in (2, 4):
            raise ValueError(f"GroupNorm input: expected shape (N, {channels}, H, W) or (N, {channels}), "
                             f"got {tuple(x.shape)}")
        check_input(x, "GroupNorm input", ("N", channels, "H", "W")[: x.ndim])
        return super().forward(x)


class InstanceNorm2d(nn.InstanceNorm2d):
    """torch's default InstanceNorm2d: no running statistics; affine as asked."""

    def __init__(self, num_features, eps=1e-5, affine=False):
        super().__init__(num_features, eps=eps, affine=affine)

    def forward(self, x):
        # stricter than torch, which takes (C, H, W) too and without affine only warns of a wrong channel count
        check_input(x, "InstanceNorm2d input", ("N", self.num_features, "H", "W"))
        return super().forward(x)
