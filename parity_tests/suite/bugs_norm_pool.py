"""Realistic mistakes in BatchNorm1d, GroupNorm, InstanceNorm2d and AvgPool2d, each a copy of one
reference method with one thing wrong.

``VARIANTS`` lists them as (name, pairs, class, method, replacement, mistake, family): patch the
replacement in as ``class.method`` and the default matrix of ``pairs`` (space-separated pair
names) must fail.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from reference.base import check_input
from reference.norm import BatchNorm1d, GroupNorm, InstanceNorm2d, _check_batchnorm1d_input, moments
from reference.pooling import AvgPool2d, _pooled_size, _window_counts

# -- BatchNorm1d ----------------------------------------------------------------------------


def _bn1d_forward(statistics, running_var):
    """BatchNorm1d.forward with the batch statistics from ``statistics(x, axes) -> (mean, var,
    centred)`` (per channel, kept dims) and the variance fed to running_var from
    ``running_var(var, m)``; everything else as the reference's."""

    def forward(self, x):
        channels = self.params["gamma"].shape[0]
        _check_batchnorm1d_input(x, channels)
        self.axes = (0,) if x.ndim == 2 else (0, 2)
        self.per_channel = (slice(None),) + (None,) * (x.ndim - 2)
        if self.training:
            m = x.size // channels
            if m < 2:
                raise ValueError(f"BatchNorm1d in training mode: expected more than 1 value per channel, "
                                 f"got input shape {x.shape}")
            mean, var, centred = statistics(x, self.axes)
            mean, var = mean.reshape(-1), var.reshape(-1)
            self.state["running_mean"] = (1 - self.momentum) * self.state["running_mean"] + self.momentum * mean
            self.state["running_var"] = ((1 - self.momentum) * self.state["running_var"]
                                         + self.momentum * running_var(var, m))
        else:
            mean, var = self.state["running_mean"], self.state["running_var"]
            centred = x - mean[self.per_channel]
        self.std = np.sqrt(var + self.eps)[self.per_channel]
        self.x_hat = centred / self.std
        y = self.params["gamma"][self.per_channel] * self.x_hat + self.params["beta"][self.per_channel]
        return self._remember_output(y)

    return forward


def _unbiased(var, m):
    return var * m / (m - 1)


# the batch variance as it is, biased, into running_var (torch keeps the unbiased one)
bn1d_biased_running_var = _bn1d_forward(moments, lambda var, m: var)


def bn1d_statistics_over_batch_only(self, x):
    channels = self.params["gamma"].shape[0]
    _check_batchnorm1d_input(x, channels)
    self.axes = (0,) if x.ndim == 2 else (0, 2)
    self.per_channel = (slice(None),) + (None,) * (x.ndim - 2)
    if self.training:
        m = x.shape[0]  # N, also for (N, C, L): the statistics of each position apart
        if m < 2:
            raise ValueError(f"BatchNorm1d in training mode: expected more than 1 value per channel, "
                             f"got input shape {x.shape}")
        mean, var = x.mean(axis=0), x.var(axis=0)  # (C,) or (C, L)
        centred = x - mean
        self.state["running_mean"] = (1 - self.momentum) * self.state["running_mean"] + self.momentum * (
            mean if x.ndim == 2 else mean.mean(axis=1))
        unbiased = var * m / (m - 1)
        self.state["running_var"] = (1 - self.momentum) * self.state["running_var"] + self.momentum * (
            unbiased if x.ndim == 2 else unbiased.mean(axis=1))
        self.std = np.sqrt(var + self.eps)
    else:
        mean, var = self.state["running_mean"], self.state["running_var"]
        centred = x - mean[self.per_channel]
        self.std = np.sqrt(var + self.eps)[self.per_channel]
    self.x_hat = centred / self.std
    y = self.params["gamma"][self.per_channel] * self.x_hat + self.params["beta"][self.per_channel]
    return self._remember_output(y)


def _one_pass(x, axes):
    """E[x^2] - E[x]^2: one pass over the data, and every digit of the spread lost under an offset."""
    mean = x.mean(axis=axes, keepdims=True)
    return mean, np.maximum(np.mean(x * x, axis=axes, keepdims=True) - mean * mean, 0), x - mean


bn1d_one_pass_variance = _bn1d_forward(_one_pass, _unbiased)


# -- GroupNorm -------------------------------------------------------------------------------


def _groupnorm_forward(group):
    """GroupNorm.forward normalising ``group(x, num_groups) -> (view, axes)``: the view of x
    whose ``axes`` hold one normalised set each; everything else as the reference's."""

    def forward(self, x):
        check_input(x, "GroupNorm input", ("N", self.num_channels, "H", "W")[: np.ndim(x)])
        grouped, self.axes = group(x, self.num_groups)
        _, var, centred = moments(grouped, self.axes)
        self.std = np.sqrt(var + self.eps)
        self.x_hat = centred / self.std
        self.per_channel = (slice(None),) + (None,) * (x.ndim - 2)
        x_hat = self.x_hat.reshape(x.shape)
        if not self.params:
            return self._remember_output(x_hat)
        return self._remember_output(self.params["gamma"][self.per_channel] * x_hat
                                     + self.params["beta"][self.per_channel])

    return forward


def _group_without_positions(x, groups):
    """The channels of a group, but each position apart: statistics over C/G values, not C/G * H * W."""
    n, c = x.shape[:2]
    return x.reshape(n, groups, c // groups, *x.shape[2:]), (2,)


def _per_channel(x, groups):
    """Each channel its own group whatever num_groups says: instance normalisation."""
    n, c = x.shape[:2]
    return x.reshape(n, c, 1, *x.shape[2:]), tuple(range(2, x.ndim + 1))


def _interleaved_groups(x, groups):
    """Groups of channels c, c + G, c + 2G...: the channel axis split as (C/G, G) instead of (G, C/G)."""
    n, c = x.shape[:2]
    return x.reshape(n, c // groups, groups, *x.shape[2:]), (1, *range(3, x.ndim + 1))


groupnorm_statistics_without_positions = _groupnorm_forward(_group_without_positions)
groupnorm_per_channel = _groupnorm_forward(_per_channel)
groupnorm_interleaved_groups = _groupnorm_forward(_interleaved_groups)


# -- InstanceNorm2d --------------------------------------------------------------------------


def instancenorm_over_batch(self, x):
    check_input(x, "InstanceNorm2d input", ("N", self.num_features, "H", "W"))
    if x.shape[2] * x.shape[3] == 1:
        raise ValueError(f"InstanceNorm2d: expected more than 1 spatial element per channel, got input shape {x.shape}")
    _, var, centred = moments(x, (0, 2, 3))  # batch normalisation's axes: the batch's statistics per channel
    self.std = np.sqrt(var + self.eps)
    self.x_hat = centred / self.std
    if not self.params:
        return self._remember_output(self.x_hat)
    return self._remember_output(self.params["gamma"][:, None, None] * self.x_hat
                                 + self.params["beta"][:, None, None])


def instancenorm_backward_statistics_constant(self, grad_out):
    g = self._check_grad(grad_out)
    h = g
    if self.params:
        self.grads["gamma"] = np.sum(g * self.x_hat, axis=(0, 2, 3))
        self.grads["beta"] = g.sum(axis=(0, 2, 3))
        h = g * self.params["gamma"][:, None, None]
    return h / self.std  # as if mean and var did not depend on x


# -- AvgPool2d -------------------------------------------------------------------------------


def _avgpool_forward(counts):
    """AvgPool2d.forward dividing by ``counts(self, out, size, k, s, p)`` along each axis."""

    def forward(self, x):
        check_input(x, "AvgPool2d input", ("N", "C", "H", "W"))
        n, c, h, w = self.x_shape = x.shape
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        out_h, out_w = (_pooled_size(size, k, s, p, self.ceil_mode) for size, k, s, p in ((h, kh, sh, ph),
                                                                                         (w, kw, sw, pw)))
        self.padded_h, self.padded_w = max((out_h - 1) * sh + kh, ph + h), max((out_w - 1) * sw + kw, pw + w)
        xp = np.pad(x, ((0, 0), (0, 0), (ph, self.padded_h - ph - h), (pw, self.padded_w - pw - w)))
        windows = sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw][:, :, :out_h, :out_w]
        self.divisor = np.multiply.outer(counts(self, out_h, h, kh, sh, ph),
                                         counts(self, out_w, w, kw, sw, pw)).astype(x.dtype)
        return self._remember_output(windows.sum(axis=(4, 5)) / self.divisor)

    return forward


# every window divided by its positions inside the padded input, count_include_pad=False or not
avgpool_count_include_pad_ignored = _avgpool_forward(
    lambda self, out, size, k, s, p: _window_counts(out, size, k, s, p, count_include_pad=True))


def _kernel_area_with_padding(self, out, size, k, s, p):
    """count_include_pad as the kernel's size: a ceil_mode window's positions past the padded input counted."""
    if self.count_include_pad:
        return np.full(out, k)
    return _window_counts(out, size, k, s, p, count_include_pad=False)


avgpool_ceil_divisor_counts_beyond_padding = _avgpool_forward(_kernel_area_with_padding)


def avgpool_backward_overwrites_overlaps(self, grad_out):
    g = self._check_grad(grad_out)
    (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
    n, c, h, w = self.x_shape
    out_h, out_w = g.shape[2:]
    share = g / self.divisor
    grad_xp = np.zeros((n, c, self.padded_h, self.padded_w), dtype=share.dtype)
    for u in range(kh):
        for v in range(kw):
            # = instead of +=: where windows overlap, the last offset's share replaces the others'
            grad_xp[:, :, u : u + (out_h - 1) * sh + 1 : sh, v : v + (out_w - 1) * sw + 1 : sw] = share
    return grad_xp[:, :, ph : ph + h, pw : pw + w]


VARIANTS = [
    ("bn1d_biased_running_var", "BatchNorm1d", BatchNorm1d, "forward", bn1d_biased_running_var,
     "running_var updated with the biased batch variance instead of var * m / (m - 1)", "maths"),
    ("bn1d_statistics_over_batch_only", "BatchNorm1d", BatchNorm1d, "forward", bn1d_statistics_over_batch_only,
     "on (N, C, L) the statistics taken over N alone, per position, instead of over N and L", "maths"),
    ("bn1d_one_pass_variance", "BatchNorm1d", BatchNorm1d, "forward", bn1d_one_pass_variance,
     "the variance as E[x^2] - E[x]^2, which loses the spread of offset inputs in float32", "numerics"),
    ("groupnorm_statistics_without_positions", "GroupNorm", GroupNorm, "forward",
     groupnorm_statistics_without_positions,
     "statistics over the group's channels at each position, H and W left out", "maths"),
    ("groupnorm_per_channel", "GroupNorm", GroupNorm, "forward", groupnorm_per_channel,
     "each channel normalised alone (instance norm), num_groups ignored", "maths"),
    ("groupnorm_interleaved_groups", "GroupNorm", GroupNorm, "forward", groupnorm_interleaved_groups,
     "channels grouped c, c + G, ... (reshape to (C/G, G)) instead of consecutive blocks of C/G", "maths"),
    ("instancenorm_over_batch", "InstanceNorm2d", InstanceNorm2d, "forward", instancenorm_over_batch,
     "statistics per channel over the whole batch (batch norm) instead of per sample", "maths"),
    ("instancenorm_backward_statistics_constant", "InstanceNorm2d", InstanceNorm2d, "backward",
     instancenorm_backward_statistics_constant,
     "input gradient gamma * g / std: the mean and variance treated as constants", "maths"),
    ("avgpool_count_include_pad_ignored", "AvgPool2d", AvgPool2d, "forward", avgpool_count_include_pad_ignored,
     "count_include_pad=False ignored: the padding counted in every divisor", "maths"),
    ("avgpool_ceil_divisor_counts_beyond_padding", "AvgPool2d", AvgPool2d, "forward",
     avgpool_ceil_divisor_counts_beyond_padding,
     "count_include_pad's divisor the kernel area: a ceil_mode window's positions past the padded input counted",
     "maths"),
    ("avgpool_backward_overwrites_overlaps", "AvgPool2d", AvgPool2d, "backward", avgpool_backward_overwrites_overlaps,
     "backward assigns each kernel offset's share instead of adding it: overlapping windows overwrite", "maths"),
]
