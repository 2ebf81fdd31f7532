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


class ConvTranspose2d(Layer):
    """The adjoint of Conv2d: each input pixel scatters a weighted kernel into the output.

      full[n, o, i s_h + u, j s_w + v] += sum_c x[n, c, i, j] W[c, o, u, v]
      y = full cropped by (ph, pw) on each side, + b[o]

    x: (N, C, H, W), W: (C, O, kh, kw) (torch's layout: in, out), b: (O,), y: (N, O, OH, OW)
    with OH = (H - 1) sh - 2 ph + kh + oph (OW likewise): full has OH + 2 ph rows, the last oph
    of them beyond every scatter, so output_padding adds rows at the bottom (right), where only
    the bias reaches. With X the (C, N H W) matrix of x, the forward is the col2im of W^T X.
    y is linear in x with the Conv2d of stride s and padding p as its adjoint, so with G the
    im2col of g (padded by p, windows at stride s: one column per input pixel):
      dL/dx = W G as a Conv2d of g with W as its (O_conv = C, C_conv = O) weight
      dL/dW = X G^T          dL/db[o] = sum_{n,i,j} g[n,o,i,j]
    torch refuses output_padding >= stride (with no dilation): those rows would lie beyond
    every input pixel's reach and the output size could not be told from the input's.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                 bias=True, rng=None):
        super().__init__()
        rng = rng or np.random.default_rng()
        self.kernel_size, self.stride, self.padding = as_2tuple(kernel_size), as_2tuple(stride), as_2tuple(padding)
        self.output_padding = as_2tuple(output_padding)
        if not all(0 <= op < s for op, s in zip(self.output_padding, self.stride, strict=True)):
            raise ValueError(f"ConvTranspose2d: expected 0 <= output_padding < stride in each axis, got "
                             f"output_padding {self.output_padding}, stride {self.stride}")
        bound = 1.0 / np.sqrt(out_channels * np.prod(self.kernel_size))  # torch's fan_in: W.shape[1] kh kw
        self.params["W"] = rng.uniform(-bound, bound, (in_channels, out_channels, *self.kernel_size))
        if bias:
            self.params["b"] = rng.uniform(-bound, bound, out_channels)

    def output_size(self, h, w) -> tuple[int, int]:
        (kh, kw), (sh, sw), (ph, pw), (oph, opw) = self.kernel_size, self.stride, self.padding, self.output_padding
        size = ((h - 1) * sh - 2 * ph + kh + oph, (w - 1) * sw - 2 * pw + kw + opw)
        if min(size) < 1:
            raise ValueError(f"ConvTranspose2d: expected a positive output size, got {size} for input {(h, w)}")
        return size

    def forward(self, x):
        in_channels, out_channels, kh, kw = self.params["W"].shape
        check_input(x, "ConvTranspose2d input", ("N", in_channels, "H", "W"))
        n, _, h, w = x.shape
        out_h, out_w = self.output_size(h, w)
        (sh, sw), (ph, pw) = self.stride, self.padding
        self.x_shape, self.x_rows = x.shape, x.transpose(1, 0, 2, 3).reshape(in_channels, -1)  # X: (C, N H W)
        cols = (self.params["W"].reshape(in_channels, -1).T @ self.x_rows).reshape(out_channels, kh, kw, n, h, w)
        full = np.zeros((out_channels, n, out_h + 2 * ph, out_w + 2 * pw), dtype=cols.dtype)
        for u in range(kh):  # col2im: kh*kw strided adds of whole (O, N, H, W) blocks
            for v in range(kw):
                full[:, :, u : u + sh * h : sh, v : v + sw * w : sw] += cols[:, u, v]
        y = full[:, :, ph : ph + out_h, pw : pw + out_w]
        if "b" in self.params:
            y = y + self.params["b"][:, None, None, None]
        return self._remember_output(y.transpose(1, 0, 2, 3))

    def backward(self, grad_out):
        g = self._check_grad(grad_out)
        weight = self.params["W"]
        in_channels, _, kh, kw = weight.shape
        n, _, h, w = self.x_shape
        # G: the Conv2d im2col of g, one column per input pixel (n, i, j); the padding p puts g
        # back where it sat in the uncropped output
        g_cols, _ = im2col(g.transpose(1, 0, 2, 3), (kh, kw), self.stride, self.padding)  # (O kh kw, N H W)
        self.grads["W"] = (self.x_rows @ g_cols.T).reshape(weight.shape)
        if "b" in self.params:
            self.grads["b"] = g.sum(axis=(0, 2, 3))
        return (weight.reshape(in_channels, -1) @ g_cols).reshape(in_channels, n, h, w).transpose(1, 0, 2, 3)


def as_int(value) -> int:
    """3 or (3,), as torch's Conv1d takes a size."""
    if np.isscalar(value):
        return int(value)
    (single,) = value
    return int(single)


class Conv1d(Layer):
    """y[n,o,l] = b[o] + sum_{c,u} W[o,c,u] xp[n, c, l*s + u].

    x: (N, C, L), W: (O, C, k), b: (O,), y: (N, O, OL), where xp is x zero-padded by p on
    each side and OL = (L + 2p - k) // s + 1. With X[n,c,l,u] = xp[n, c, l*s + u] (the windows,
    a strided view of xp):
      dL/dW[o,c,u] = sum_{n,l} g[n,o,l] X[n,c,l,u]        dL/db[o] = sum_{n,l} g[n,o,l]
      dL/dX[n,c,l,u] = sum_o g[n,o,l] W[o,c,u], each window's share added back at l*s + u
    (k strided adds), then the padding cut off.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True, rng=None):
        super().__init__()
        rng = rng or np.random.default_rng()
        self.kernel_size, self.stride, self.padding = as_int(kernel_size), as_int(stride), as_int(padding)
        bound = 1.0 / np.sqrt(in_channels * self.kernel_size)
        self.params["W"] = rng.uniform(-bound, bound, (out_channels, in_channels, self.kernel_size))
        if bias:
            self.params["b"] = rng.uniform(-bound, bound, out_channels)

    def forward(self, x):
        _, in_channels, k = self.params["W"].shape
        check_input(x, "Conv1d input", ("N", in_channels, "L"))
        p = self.padding
        if x.shape[2] + 2 * p < k:
            raise ValueError(f"Conv1d: kernel {k} is larger than the padded input {x.shape[2] + 2 * p}")
        self.x_shape = x.shape
        xp = np.pad(x, ((0, 0), (0, 0), (p, p))) if p else x
        self.windows = sliding_window_view(xp, k, axis=2)[:, :, :: self.stride]  # X: (N, C, OL, k), a view
        y = np.tensordot(self.windows, self.params["W"], axes=([1, 3], [1, 2]))  # (N, OL, O)
        if "b" in self.params:
            y += self.params["b"]
        return self._remember_output(y.transpose(0, 2, 1))

    def backward(self, grad_out):
        g = self._check_grad(grad_out)
        (n, c, length), p, s = self.x_shape, self.padding, self.stride
        self.grads["W"] = np.tensordot(g, self.windows, axes=([0, 2], [0, 2]))  # (O, C, k)
        if "b" in self.params:
            self.grads["b"] = g.sum(axis=(0, 2))
        grad_windows = np.tensordot(g, self.params["W"], axes=([1], [0]))  # (N, OL, C, k)
        out_len = g.shape[2]
        grad_xp = np.zeros((n, c, length + 2 * p), dtype=grad_windows.dtype)
        for u in range(self.kernel_size):  # col2im: one strided add per kernel tap
            grad_xp[:, :, u : u + s * out_len : s] += grad_windows[..., u].transpose(0, 2, 1)
        return grad_xp[:, :, p : p + length]
