"""Pooling: global average, and max over windows."""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from reference.base import Layer, check_input
from reference.conv import as_2tuple


class GlobalAvgPool2d(Layer):
    """y[n,c,0,0] = (1 / (H W)) sum_{i,j} x[n,c,i,j].  x: (N, C, H, W), y: (N, C, 1, 1).

    Matches torch's AdaptiveAvgPool2d(1). dL/dx[n,c,i,j] = g[n,c,0,0] / (H W).
    """

    def forward(self, x):
        check_input(x, "GlobalAvgPool2d input", ("N", "C", "H", "W"))
        self.x_shape = x.shape
        return self._remember_output(x.mean(axis=(2, 3), keepdims=True))

    def backward(self, grad_out):
        grad_out = self._check_grad(grad_out)
        h, w = self.x_shape[2:]
        return np.broadcast_to(grad_out / (h * w), self.x_shape).copy()


def global_avg_pool(x):
    """The seed's channels-last pooling: x: (H, W, C) -> (C,), the mean over H and W."""
    check_input(x, "global_avg_pool input", ("H", "W", "C"), integers_ok=True)
    return x.mean(axis=(0, 1))


class MaxPool2d(Layer):
    """y[n,c,i,j] = max_{u,v} xp[n, c, i*sh + u, j*sw + v], xp padded with -inf.

    x: (N, C, H, W), y: (N, C, OH, OW), OH = (H + 2 ph - kh) // sh + 1; stride defaults to
    the kernel. The gradient goes to the maximum of each window, the first in row-major
    order when several tie (as torch does); overlapping windows add up.
    """

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = as_2tuple(kernel_size)
        self.stride = as_2tuple(stride) if stride is not None else self.kernel_size
        self.padding = as_2tuple(padding)
        if any(2 * p > k for p, k in zip(self.padding, self.kernel_size, strict=True)):
            raise ValueError(f"MaxPool2d: expected padding at most half the kernel {self.kernel_size}, "
                             f"got {self.padding}")

    def forward(self, x):
        check_input(x, "MaxPool2d input", ("N", "C", "H", "W"))
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        self.x_shape = x.shape
        xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=-np.inf)
        windows = sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
        flat = windows.reshape(*windows.shape[:4], kh * kw)
        self.argmax = flat.argmax(axis=-1)  # the first maximum of each window
        return self._remember_output(np.take_along_axis(flat, self.argmax[..., None], axis=-1)[..., 0])

    def backward(self, grad_out):
        g = self._check_grad(grad_out)
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        n, c, h, w = self.x_shape
        out_h, out_w = g.shape[2:]
        grad_xp = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=g.dtype)
        for u in range(kh):  # each window position sends g where it held the maximum
            for v in range(kw):
                grad_xp[:, :, u : u + sh * out_h : sh, v : v + sw * out_w : sw] += g * (self.argmax == u * kw + v)
        return grad_xp[:, :, ph : ph + h, pw : pw + w]
