"""2-D convolution (cross-correlation, as in every deep-learning library)."""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from reference.base import Layer, check_input


def as_2tuple(value) -> tuple[int, int]:
    return (value, value) if np.isscalar(value) else tuple(value)


class Conv2d(Layer):
    """y[n,o,i,j] = b[o] + sum_{c,u,v} W[o,c,u,v] xp[n, c, i*sh + u, j*sw + v].

    x: (N, C, H, W), W: (O, C, kh, kw), b: (O,), y: (N, O, OH, OW), where xp is x
    zero-padded by (ph, pw) and OH = (H + 2 ph - kh) // sh + 1 (OW likewise).
    The windows of xp form a matrix X (im2col: one row per (c, u, v), one column per
    output position (n, i, j)), so with W as an (O, C kh kw) matrix the forward and both
    gradients are one matrix product each:
      y = W X + b                      dL/dW = g X^T        dL/db[o] = sum_{n,i,j} g[n,o,i,j]
      dL/dX = W^T g, each window's share added back where the window came from (col2im).
    At stride 1 that col2im is itself a convolution: dL/dx is g, zero-padded by k - 1 - p,
    correlated with W flipped in both spatial axes and with C and O swapped.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 bias=True, rng=None):
        super().__init__()
        rng = rng or np.random.default_rng()
        self.kernel_size, self.stride, self.padding = as_2tuple(kernel_size), as_2tuple(stride), as_2tuple(padding)
        bound = 1.0 / np.sqrt(in_channels * np.prod(self.kernel_size))
        self.params["W"] = rng.uniform(-bound, bound, (out_channels, in_channels, *self.kernel_size))
        if bias:
            self.params["b"] = rng.uniform(-bound, bound, out_channels)

    # Layout: the matrices keep channels first and positions (n, i, j) last, so x, g and y
    # need at most an (N, C) -> (C, N) swap of whole H x W planes, never a transpose of
    # single values, and W is used as stored. y and dL/dx are handed out as views of that
    # (C, N, H, W) memory, so the next Conv2d's swap is free.
    # Buffers: the column matrix is written into the memory of the previous forward's, once
    # that forward's backward is done, and backward's own column matrix into a scratch it
    # keeps; fresh memory of that size costs more in page faults than the copy itself.

    def forward(self, x):
        out_channels, in_channels, kh, kw = self.params["W"].shape
        check_input(x, "Conv2d input", ("N", in_channels, "H", "W"))
        (ph, pw), (sh, sw) = self.padding, self.stride
        if x.shape[2] + 2 * ph < kh or x.shape[3] + 2 * pw < kw:
            raise ValueError(
                f"Conv2d: kernel {(kh, kw)} is larger than the padded input "
                f"{(x.shape[2] + 2 * ph, x.shape[3] + 2 * pw)}"
            )
        self.x_shape = x.shape
        buffer, self.free_buffer = getattr(self, "free_buffer", None), None  # this forward's until its backward
        self.cols, self.cols_buffer = im2col(x.transpose(1, 0, 2, 3), (kh, kw), (sh, sw), (ph, pw), buffer)
        y = self.params["W"].reshape(out_channels, -1) @ self.cols  # (O, N*OH*OW)
        if "b" in self.params:
            y += self.params["b"][:, None]
        out_h, out_w = (x.shape[2] + 2 * ph - kh) // sh + 1, (x.shape[3] + 2 * pw - kw) // sw + 1
        return self._remember_output(y.reshape(out_channels, x.shape[0], out_h, out_w).transpose(1, 0, 2, 3))

    def backward(self, grad_out):
        g = self._check_grad(grad_out)
        weight = self.params["W"]
        out_channels, c, kh, kw = weight.shape
        (ph, pw), (sh, sw) = self.padding, self.stride
        n, _, h, w = self.x_shape
        g_planes = g.transpose(1, 0, 2, 3)  # (O, N, OH, OW)
        g_rows = g_planes.reshape(out_channels, -1)  # a copy of whole planes, or free
        # g X^T as (X g^T)^T: the long axis N*OH*OW is then the rows of both operands, which
        # runs up to 2x faster in OpenBLAS when O or C is small
        self.grads["W"] = (self.cols @ g_rows.T).T.reshape(weight.shape)
        if "b" in self.params:
            self.grads["b"] = g_rows.sum(axis=1)
        self.free_buffer = self.cols_buffer  # self.cols stays valid until the next forward
        if (sh, sw) == (1, 1) and ph < kh and pw < kw:
            # stride 1: the transposed convolution, one more im2col and product, no scatter
            flipped = weight[:, :, ::-1, ::-1].transpose(1, 0, 2, 3).reshape(c, -1)  # (C, O kh kw)
            g_cols, self.scratch = im2col(g_planes, (kh, kw), (1, 1), (kh - 1 - ph, kw - 1 - pw),
                                          getattr(self, "scratch", None))
            return (flipped @ g_cols).reshape(c, n, h, w).transpose(1, 0, 2, 3)
        grad_cols = (weight.reshape(out_channels, -1).T @ g_rows).reshape(c, kh, kw, n, *g.shape[2:])
        out_h, out_w = g.shape[2:]
        grad_xp = np.zeros((c, n, max(h + 2 * ph, sh * out_h), max(w + 2 * pw, sw * out_w)), dtype=grad_cols.dtype)
        if sh >= kh and sw >= kw:  # windows that do not overlap: col2im is one strided copy
            tiles = grad_xp[:, :, : sh * out_h, : sw * out_w].reshape(c, n, out_h, sh, out_w, sw)
            tiles[:, :, :, :kh, :, :kw] = grad_cols.transpose(0, 3, 4, 1, 5, 2)
        else:  # col2im: kh*kw strided adds of whole (C, N, OH, OW) blocks
            for u in range(kh):
                for v in range(kw):
                    grad_xp[:, :, u : u + sh * out_h : sh, v : v + sw * out_w : sw] += grad_cols[:, u, v]
        return grad_xp[:, :, ph : ph + h, pw : pw + w].transpose(1, 0, 2, 3)


def im2col(planes, kernel, stride, padding, buffer=None):
    """planes: (C, N, H, W) -> (C kh kw, N OH OW), the (u, v) window offsets of each channel as
    rows, and the flat buffer holding it (``buffer`` itself when it is large enough and of the
    dtype; None when the result is a view of ``planes``).

    One copy, whose inner runs are whole output rows (contiguous at stride 1); a 1x1 kernel
    at stride 1 on contiguous planes is a reshape and copies nothing.
    """
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    if ph or pw:
        c, n, h, w = planes.shape
        padded = np.zeros((c, n, h + 2 * ph, w + 2 * pw), dtype=planes.dtype)
        padded[:, :, ph : ph + h, pw : pw + w] = planes
        planes = padded
    windows = sliding_window_view(planes, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]  # (C, N, OH, OW, kh, kw)
    windows = windows.transpose(0, 4, 5, 1, 2, 3)
    rows = planes.shape[0] * kh * kw
    if windows.flags.c_contiguous:
        return windows.reshape(rows, -1), None
    if buffer is None or buffer.size < windows.size or buffer.dtype != windows.dtype:
        buffer = np.empty(windows.size, dtype=windows.dtype)
    cols = buffer[: windows.size].reshape(windows.shape)
    np.copyto(cols, windows)
    return cols.reshape(rows, -1), buffer


def simple_conv2d(input_matrix, kernel, padding, stride):
    """The seed's single-channel convolution, written as the plain loop it teaches.

    input_matrix: (H, W), kernel: (kh, kw), output: (OH, OW) with
    OH = (H + 2 padding - kh) // stride + 1 (OW likewise). Integer pixels are welcome;
    the output is floating point.
    """
    check_input(input_matrix, "simple_conv2d input", ("H", "W"), integers_ok=True)
    check_input(kernel, "simple_conv2d kernel", ("kh", "kw"), integers_ok=True)
    padded = np.pad(input_matrix, padding)
    kh, kw = kernel.shape
    out_h = (padded.shape[0] - kh) // stride + 1
    out_w = (padded.shape[1] - kw) // stride + 1
    if out_h < 1 or out_w < 1:
        raise ValueError(f"simple_conv2d: kernel {kernel.shape} is larger than the padded input {padded.shape}")
    dtype = np.result_type(input_matrix.dtype, kernel.dtype, np.float32)
    output = np.zeros((out_h, out_w), dtype=dtype)
    for i in range(out_h):
        for j in range(out_w):
            window = padded[i * stride : i * stride + kh, j * stride : j * stride + kw]
            output[i, j] = np.sum(window * kernel)
    return output
