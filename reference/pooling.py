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


def _pooled_size(size: int, k: int, s: int, p: int, ceil_mode: bool) -> int:
    """torch's output size: floor (or ceil) of (size + 2p - k) / s, plus 1; with ceil_mode the
    last window must start inside the input or its left padding, else it is dropped."""
    out = (size + 2 * p - k + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def _window_counts(out: int, size: int, k: int, s: int, p: int, count_include_pad: bool) -> np.ndarray:
    """Along one axis, how many positions each window's average divides by: those inside the
    padded input (a ceil_mode window may run past it; those never count), or with
    count_include_pad=False those inside the input alone."""
    start = np.arange(out) * s - p
    end = np.minimum(start + k, size + p)
    if count_include_pad:
        return end - start
    return np.minimum(end, size) - np.maximum(start, 0)


class AvgPool2d(Layer):
    """y[n,c,i,j] = (1 / d[i,j]) sum_{u,v} xp[n, c, i*sh + u, j*sw + v], xp zero-padded.

    x: (N, C, H, W), y: (N, C, OH, OW), OH = floor((H + 2 ph - kh) / sh) + 1 (ceil with
    ceil_mode, less the last window if it would start past the input's left-padded end);
    stride defaults to the kernel. The divisor d[i,j] = d_h[i] d_w[j] counts the window's
    positions inside the padded input (count_include_pad=True) or inside the input alone;
    positions a ceil_mode window has beyond the padded input count in neither.
    dL/dx[n,c,a,b] = sum over the windows (i, j) holding (a, b) of g[n,c,i,j] / d[i,j].
    Padding above half the kernel is refused, as torch refuses it.
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__()
        self.kernel_size = as_2tuple(kernel_size)
        self.stride = as_2tuple(stride) if stride is not None else self.kernel_size
        self.padding = as_2tuple(padding)
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad
        if min(self.kernel_size) < 1 or min(self.stride) < 1:
            raise ValueError(f"AvgPool2d: expected a kernel and stride of at least 1, "
                             f"got kernel {self.kernel_size} and stride {self.stride}")
        if min(self.padding) < 0 or any(2 * p > k for p, k in zip(self.padding, self.kernel_size, strict=True)):
            raise ValueError(f"AvgPool2d: expected padding from 0 to half the kernel {self.kernel_size}, "
                             f"got {self.padding}")

    def forward(self, x):
        check_input(x, "AvgPool2d input", ("N", "C", "H", "W"))
        n, c, h, w = self.x_shape = x.shape
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        out_h, out_w = (_pooled_size(size, k, s, p, self.ceil_mode)
                        for size, k, s, p in ((h, kh, sh, ph), (w, kw, sw, pw)))
        if out_h < 1 or out_w < 1:
            raise ValueError(f"AvgPool2d input: expected at least one window (kernel {self.kernel_size}, "
                             f"stride {self.stride}, padding {self.padding}), got {x.shape}: output "
                             f"{out_h} x {out_w}")
        # padded on the right as far as the last window reaches (past the padding, with ceil_mode)
        self.padded_h = max((out_h - 1) * sh + kh, ph + h)
        self.padded_w = max((out_w - 1) * sw + kw, pw + w)
        xp = np.pad(x, ((0, 0), (0, 0), (ph, self.padded_h - ph - h), (pw, self.padded_w - pw - w)))
        windows = sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw][:, :, :out_h, :out_w]
        counts_h = _window_counts(out_h, h, kh, sh, ph, self.count_include_pad)
        counts_w = _window_counts(out_w, w, kw, sw, pw, self.count_include_pad)
        self.divisor = np.multiply.outer(counts_h, counts_w).astype(x.dtype)  # (OH, OW), x's dtype: no promotion
        return self._remember_output(windows.sum(axis=(4, 5)) / self.divisor)

    def backward(self, grad_out):
        g = self._check_grad(grad_out)
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        n, c, h, w = self.x_shape
        out_h, out_w = g.shape[2:]
        share = g / self.divisor  # what each position of a window gets
        grad_xp = np.zeros((n, c, self.padded_h, self.padded_w), dtype=share.dtype)
        # one strided slice per kernel offset: within one, the windows hit distinct positions, so
        # += adds every window's share even where windows overlap
        for u in range(kh):
            for v in range(kw):
                grad_xp[:, :, u : u + (out_h - 1) * sh + 1 : sh, v : v + (out_w - 1) * sw + 1 : sw] += share
        return grad_xp[:, :, ph : ph + h, pw : pw + w]
