"""Batch normalisation over (N, C, H, W)."""

import numpy as np

from reference.base import Layer, check_input

AXES = (0, 2, 3)  # every axis but the channel's


def moments(x, axes):
    """Mean, biased variance and deviations x - mean over ``axes`` (kept as size 1).

    Taken from x - x0, x0 the first value of each slice: where the values sit far above their
    spread (after a ReLU, raw pixels) that subtraction is exact, so float32 keeps every digit
    of the spread that x - mean would round away. The sums are accumulated in float64, as
    torch's CPU kernels accumulate float32 ones: a float32 sum of values in the hundreds is off
    by ~1e-5, and a running mean that cancels to ~0.03 then misses torch's by more than the
    tolerance (a 200-seed sweep met one). One new array: the deviations.
    """
    first = x[tuple(slice(0, 1) if axis in axes else slice(None) for axis in range(x.ndim))]
    deviations = x - first
    shift_mean = deviations.mean(axis=axes, keepdims=True, dtype=np.float64)
    deviations -= shift_mean.astype(x.dtype)
    variance = np.mean(np.square(deviations), axis=axes, keepdims=True, dtype=np.float64)
    return (first + shift_mean).astype(x.dtype), variance.astype(x.dtype), deviations


def batch_statistics(layer, x, axes):
    """A batch norm's training statistics: the batch's mean and biased variance per channel,
    over ``axes`` (m values each), and its deviations (``moments``); the layer's running ones
    updated, running = (1 - momentum) running + momentum * batch, with the unbiased
    var * m / (m - 1) for running_var, as torch does. m = 1 is refused, as torch refuses it."""
    m = x.size // x.shape[1]
    if m < 2:
        raise ValueError(f"{type(layer).__name__} in training mode: expected more than 1 value per channel, "
                         f"got input shape {x.shape}")
    mean, var, centred = moments(x, axes)
    mean, var = mean.reshape(-1), var.reshape(-1)
    state, momentum = layer.state, layer.momentum
    state["running_mean"] = (1 - momentum) * state["running_mean"] + momentum * mean
    state["running_var"] = (1 - momentum) * state["running_var"] + momentum * var * m / (m - 1)
    return mean, var, centred


class BatchNorm2d(Layer):
    """y = gamma * x_hat + beta, x_hat = (x - mu) / sqrt(var + eps), per channel c.

    x, y: (N, C, H, W); gamma, beta, running_mean, running_var: (C,).
    Training: mu and var are the batch's (biased, over m = N*H*W values), and
      running = (1 - momentum) running + momentum * batch, with the unbiased
      var * m / (m - 1) for running_var, as torch does.
      dL/dx = gamma / sqrt(var + eps) * (g - mean(g) - x_hat * mean(g * x_hat))
    Eval: mu and var are the running ones, so dL/dx = gamma * g / sqrt(running_var + eps).
    Both: dL/dgamma = sum g * x_hat, dL/dbeta = sum g (sums over N, H, W).
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1):
        super().__init__()
        self.eps, self.momentum = eps, momentum
        self.params["gamma"] = np.ones(num_features)
        self.params["beta"] = np.zeros(num_features)
        self.state["running_mean"] = np.zeros(num_features)
        self.state["running_var"] = np.ones(num_features)

    def forward(self, x):
        channels = self.params["gamma"].shape[0]
        check_input(x, "BatchNorm2d input", ("N", channels, "H", "W"))
        if self.training:
            mean, var, centred = batch_statistics(self, x, AXES)
        else:
            mean, var = self.state["running_mean"], self.state["running_var"]
            centred = x - mean[:, None, None]
        self.std = np.sqrt(var + self.eps)[:, None, None]
        centred /= self.std  # x_hat, in place: one array for the deviations and x_hat
        self.x_hat = centred
        y = self.params["gamma"][:, None, None] * self.x_hat
        y += self.params["beta"][:, None, None]
        return self._remember_output(y)

    def backward(self, g):
        g = self._check_grad(g)
        g_xhat = g * self.x_hat
        self.grads["gamma"] = g_xhat.sum(axis=AXES)
        self.grads["beta"] = g.sum(axis=AXES)
        scale = self.params["gamma"][:, None, None] / self.std
        if not self.training:
            return scale * g
        m = g.size // g.shape[1]  # the means below are the sums above, divided
        grad_x = g - (self.grads["beta"] / m)[:, None, None]
        grad_x -= np.multiply(self.x_hat, (self.grads["gamma"] / m)[:, None, None], out=g_xhat)
        grad_x *= scale
        return grad_x


def batch_normalization(X, gamma, beta, epsilon=1e-5):
    """The seed's stateless batch normalisation with batch statistics.

    X: (B, C, H, W); gamma, beta: (1, C, 1, 1).
    y = gamma (X - mu) / sqrt(var + epsilon) + beta, mu and (biased) var per channel.
    Epsilon goes under the square root, as in the seed's code (its formula puts it
    outside, which is not what any library computes).
    """
    check_input(X, "batch_normalization X", ("B", "C", "H", "W"))
    channels = X.shape[1]
    check_input(gamma, "batch_normalization gamma", (1, channels, 1, 1))
    check_input(beta, "batch_normalization beta", (1, channels, 1, 1))
    _, var, centred = moments(X, AXES)
    return gamma * centred / np.sqrt(var + epsilon) + beta


class LayerNorm(Layer):
    """y = gamma * x_hat + beta, x_hat = (x - mu) / sqrt(var + eps) over the last dimensions.

    x, y: (..., *normalized_shape); gamma, beta: normalized_shape. mu and (biased) var are
    taken per leading index over the k = len(normalized_shape) last axes (m values each).
    With h = g * gamma:
      dL/dx = (h - mean(h) - x_hat * mean(h * x_hat)) / sqrt(var + eps)   (means over those axes)
      dL/dgamma = sum over leading axes of g * x_hat,  dL/dbeta = sum over leading axes of g.
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True):
        super().__init__()
        self.normalized_shape = (normalized_shape,) if np.isscalar(normalized_shape) else tuple(normalized_shape)
        self.eps = eps
        if elementwise_affine:
            self.params["gamma"] = np.ones(self.normalized_shape)
            self.params["beta"] = np.zeros(self.normalized_shape)

    def forward(self, x):
        k = len(self.normalized_shape)
        check_input(x, "LayerNorm input", ("...",) * max(np.ndim(x) - k, 0) + self.normalized_shape)
        self.axes = tuple(range(x.ndim - k, x.ndim))
        _, var, centred = moments(x, self.axes)
        self.std = np.sqrt(var + self.eps)
        centred /= self.std  # x_hat, in place
        self.x_hat = centred
        if not self.params:
            return self._remember_output(self.x_hat)
        y = self.params["gamma"] * self.x_hat
        y += self.params["beta"]
        return self._remember_output(y)

    def backward(self, grad_out):
        g = self._check_grad(grad_out)
        leading = tuple(range(g.ndim - len(self.axes)))
        h = g
        if self.params:
            self.grads["gamma"] = np.sum(g * self.x_hat, axis=leading)
            self.grads["beta"] = g.sum(axis=leading)
            h = g * self.params["gamma"]
        mean_h = h.mean(axis=self.axes, keepdims=True)
        h_xhat = h * self.x_hat
        mean_h_xhat = h_xhat.mean(axis=self.axes, keepdims=True)
        grad_x = h - mean_h  # never h itself: without gamma, h is the caller's array
        grad_x -= np.multiply(self.x_hat, mean_h_xhat, out=h_xhat)
        grad_x /= self.std
        return grad_x


def _check_batchnorm1d_input(x, channels: int) -> None:
    """(N, C) or (N, C, L): the two layouts torch's BatchNorm1d takes."""
    check_input(x, "BatchNorm1d input")
    if x.ndim not in (2, 3):
        raise ValueError(f"BatchNorm1d input: expected shape (N, {channels}) or (N, {channels}, L), got {x.shape}")
    check_input(x, "BatchNorm1d input", ("N", channels, "L")[: x.ndim])


class BatchNorm1d(Layer):
    """y = gamma * x_hat + beta, x_hat = (x - mu) / sqrt(var + eps), per channel c.

    x, y: (N, C) or (N, C, L); gamma, beta, running_mean, running_var: (C,).
    Training: mu and var are the batch's (biased, over the m = N or N*L values of a channel), and
      running = (1 - momentum) running + momentum * batch, with the unbiased
      var * m / (m - 1) for running_var, as torch does; m = 1 is refused, as torch refuses it.
      dL/dx = gamma / sqrt(var + eps) * (g - mean(g) - x_hat * mean(g * x_hat))
    Eval: mu and var are the running ones, so dL/dx = gamma * g / sqrt(running_var + eps).
    Both: dL/dgamma = sum g * x_hat, dL/dbeta = sum g (sums over N, and L).
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1):
        super().__init__()
        self.eps, self.momentum = eps, momentum
        self.params["gamma"] = np.ones(num_features)
        self.params["beta"] = np.zeros(num_features)
        self.state["running_mean"] = np.zeros(num_features)
        self.state["running_var"] = np.ones(num_features)

    def forward(self, x):
        channels = self.params["gamma"].shape[0]
        _check_batchnorm1d_input(x, channels)
        self.axes = (0,) if x.ndim == 2 else (0, 2)
        self.per_channel = (slice(None),) + (None,) * (x.ndim - 2)  # (C,) -> (C,) or (C, 1)
        if self.training:
            mean, var, centred = batch_statistics(self, x, self.axes)
        else:
            mean, var = self.state["running_mean"], self.state["running_var"]
            centred = x - mean[self.per_channel]
        self.std = np.sqrt(var + self.eps)[self.per_channel]
        centred /= self.std  # x_hat, in place
        self.x_hat = centred
        y = self.params["gamma"][self.per_channel] * self.x_hat
        y += self.params["beta"][self.per_channel]
        return self._remember_output(y)

    def backward(self, g):
        g = self._check_grad(g)
        g_xhat = g * self.x_hat
        self.grads["gamma"] = g_xhat.sum(axis=self.axes)
        self.grads["beta"] = g.sum(axis=self.axes)
        scale = self.params["gamma"][self.per_channel] / self.std
        if not self.training:
            return scale * g
        m = g.size // g.shape[1]  # the means below are the sums above, divided
        grad_x = g - (self.grads["beta"] / m)[self.per_channel]
        grad_x -= np.multiply(self.x_hat, (self.grads["gamma"] / m)[self.per_channel], out=g_xhat)
        grad_x *= scale
        return grad_x


def _normalised_backward(h, x_hat, std, axes):
    """dL/dx of x_hat = (x - mean) / std over ``axes``, given h = dL/dx_hat:
    (h - mean(h) - x_hat * mean(h * x_hat)) / std. Never h itself (it may be the caller's)."""
    h_xhat = h * x_hat
    mean_h_xhat = h_xhat.mean(axis=axes, keepdims=True)
    grad_x = h - h.mean(axis=axes, keepdims=True)
    grad_x -= np.multiply(x_hat, mean_h_xhat, out=h_xhat)
    grad_x /= std
    return grad_x


class GroupNorm(Layer):
    """y = gamma * x_hat + beta, x_hat = (x - mu) / sqrt(var + eps) per sample and group of channels.

    x, y: (N, C, H, W) or (N, C); gamma, beta: (C,). The C channels split into G = num_groups
    consecutive groups of C / G (G must divide C); mu and (biased) var are taken per (n, group)
    over its C/G channels and every position (m = C/G * H * W values). No running statistics:
    train and eval are the same. Viewing x as (N, G, C/G, H, W), with h = g * gamma:
      dL/dx = (h - mean(h) - x_hat * mean(h * x_hat)) / sqrt(var + eps)   (means over each group)
      dL/dgamma = sum over N, H, W of g * x_hat,  dL/dbeta = sum over N, H, W of g.
    Torch refuses an input whose N * C/G * H * W is 1 (its check of one value per channel, fed
    the grouped shape), so this does too.
    """

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True):
        super().__init__()
        if num_groups < 1 or num_channels % num_groups:
            raise ValueError(f"GroupNorm: expected num_channels divisible by num_groups, "
                             f"got {num_channels} channels in {num_groups} groups")
        self.num_groups, self.num_channels, self.eps = num_groups, num_channels, eps
        if affine:
            self.params["gamma"] = np.ones(num_channels)
            self.params["beta"] = np.zeros(num_channels)

    def forward(self, x):
        check_input(x, "GroupNorm input")
        channels = self.num_channels
        if x.ndim not in (2, 4):
            raise ValueError(f"GroupNorm input: expected shape (N, {channels}, H, W) or (N, {channels}), got {x.shape}")
        check_input(x, "GroupNorm input", ("N", channels, "H", "W")[: x.ndim])
        n, groups, spatial = x.shape[0], self.num_groups, x.shape[2:]
        if n * (channels // groups) * int(np.prod(spatial)) == 1:
            raise ValueError(f"GroupNorm: expected more than 1 value per group over the batch (torch refuses "
                             f"N * C / num_groups * H * W = 1), got input shape {x.shape}")
        grouped = x.reshape(n, groups, channels // groups, *spatial)  # a view: the groups are consecutive channels
        self.axes = tuple(range(2, grouped.ndim))
        _, var, centred = moments(grouped, self.axes)
        self.std = np.sqrt(var + self.eps)
        centred /= self.std  # x_hat, in place, grouped
        self.x_hat = centred
        self.per_channel = (slice(None),) + (None,) * len(spatial)  # (C,) against (N, C, H, W)
        x_hat = self.x_hat.reshape(x.shape)
        if not self.params:
            return self._remember_output(x_hat)
        y = self.params["gamma"][self.per_channel] * x_hat
        y += self.params["beta"][self.per_channel]
        return self._remember_output(y)

    def backward(self, grad_out):
        g = self._check_grad(grad_out)
        h = g
        if self.params:
            summed = (0, *range(2, g.ndim))  # every axis but the channel's
            self.grads["gamma"] = np.sum(g * self.x_hat.reshape(g.shape), axis=summed)
            self.grads["beta"] = g.sum(axis=summed)
            h = g * self.params["gamma"][self.per_channel]
        grad_x = _normalised_backward(h.reshape(self.x_hat.shape), self.x_hat, self.std, self.axes)
        return grad_x.reshape(g.shape)


class InstanceNorm2d(Layer):
    """y = gamma * x_hat + beta, x_hat = (x - mu) / sqrt(var + eps) per sample and channel.

    x, y: (N, C, H, W); gamma, beta: (C,), only with affine=True. mu and (biased) var are taken
    per (n, c) over H, W (m = H * W values). No running statistics (torch's default,
    track_running_stats=False): train and eval are the same, and H * W = 1 is refused in
    both, as torch refuses it. With h = g * gamma (h = g without affine):
      dL/dx = (h - mean(h) - x_hat * mean(h * x_hat)) / sqrt(var + eps)   (means over H, W)
      dL/dgamma = sum over N, H, W of g * x_hat,  dL/dbeta = sum over N, H, W of g.
    """

    AXES = (2, 3)

    def __init__(self, num_features, eps=1e-5, affine=False):
        super().__init__()
        self.num_features, self.eps = num_features, eps
        if affine:
            self.params["gamma"] = np.ones(num_features)
            self.params["beta"] = np.zeros(num_features)

    def forward(self, x):
        check_input(x, "InstanceNorm2d input", ("N", self.num_features, "H", "W"))
        if x.shape[2] * x.shape[3] == 1:
            raise ValueError(f"InstanceNorm2d: expected more than 1 spatial element per channel, "
                             f"got input shape {x.shape}")
        _, var, centred = moments(x, self.AXES)
        self.std = np.sqrt(var + self.eps)
        centred /= self.std  # x_hat, in place
        self.x_hat = centred
        if not self.params:
            return self._remember_output(self.x_hat)
        y = self.params["gamma"][:, None, None] * self.x_hat
        y += self.params["beta"][:, None, None]
        return self._remember_output(y)

    def backward(self, grad_out):
        g = self._check_grad(grad_out)
        h = g
        if self.params:
            self.grads["gamma"] = np.sum(g * self.x_hat, axis=(0, 2, 3))
            self.grads["beta"] = g.sum(axis=(0, 2, 3))
            h = g * self.params["gamma"][:, None, None]
        return _normalised_backward(h, self.x_hat, self.std, self.AXES)
