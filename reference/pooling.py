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
        xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=-np.inf) if ph or pw else x
        windows = sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]  # (N, C, OH, OW, kh, kw)
        # a pass per window offset over the output, and no copy of the windows: first the
        # maximum (NaN propagates, as in torch), then the first offset in row-major order that
        # holds it (torch's choice when several tie), or the first NaN
        y = windows[..., 0, 0].copy()
        for offset in range(1, kh * kw):
            np.maximum(y, windows[..., offset // kw, offset % kw], out=y)
        self.argmax = np.zeros(y.shape, dtype=np.intp)  # the offset u * kw + v of each window's maximum
        unfound = np.ones(y.shape, dtype=bool)
        for offset in range(kh * kw):
            candidate = windows[..., offset // kw, offset % kw]
            first = (candidate == y) | np.isnan(candidate)
            first &= unfound
            self.argmax += first * offset
            unfound &= ~first
        return self._remember_output(y)

    def backward(self, grad_out):
        g = self._check_grad(grad_out)
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        n, c, h, w = self.x_shape
        out_h, out_w = g.shape[2:]
        padded_h, padded_w = h + 2 * ph, w + 2 * pw
        # where each window's maximum sits in the padded input, as one flat index: the window's
        # top-left corner plus the maximum's offset within the window
        corner = (np.arange(n * c)[:, None, None] * padded_h + np.arange(out_h)[:, None] * sh) * padded_w
        corner = corner + np.arange(out_w) * sw
        offsets = (np.arange(kh)[:, None] * padded_w + np.arange(kw)).ravel()
        flat = corner.ravel() + offsets[self.argmax.ravel()]
        grad_xp = np.zeros(n * c * padded_h * padded_w, dtype=g.dtype)
        if sh >= kh and sw >= kw:  # windows do not overlap: every position gets at most one g
            grad_xp[flat] = g.ravel()
        else:  # overlapping windows add up
            np.add.at(grad_xp, flat, g.ravel())
        return grad_xp.reshape(n, c, padded_h, padded_w)[:, :, ph : ph + h, pw : pw + w]
