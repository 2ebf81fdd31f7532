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
    The windows of xp form a matrix (im2col), so the forward and both gradients are
    one matrix product each:
      dL/dW[o,c,u,v] = sum_{n,i,j} g[n,o,i,j] xp[n, c, i*sh + u, j*sw + v]
      dL/db[o]       = sum_{n,i,j} g[n,o,i,j]
      dL/dxp         = each window's share g W, added back where the window came from.
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
        # channels last, so each window row below copies C contiguous values at a time
        xp = np.pad(x.transpose(0, 2, 3, 1), ((0, 0), (ph, ph), (pw, pw), (0, 0)))
        windows = sliding_window_view(xp, (kh, kw), axis=(1, 2))[:, ::sh, ::sw]  # (N, OH, OW, C, kh, kw)
        n, out_h, out_w = windows.shape[:3]
        # im2col: one row per output position, one column per (u, v, c); kept for backward
        self.cols = windows.transpose(0, 1, 2, 4, 5, 3).reshape(n * out_h * out_w, -1)
        y = self.cols @ self._weight_matrix().T  # (N*OH*OW, O)
        if "b" in self.params:
            y += self.params["b"]
        return self._remember_output(y.reshape(n, out_h, out_w, out_channels).transpose(0, 3, 1, 2))

    def _weight_matrix(self):
        """W as (O, kh*kw*C), its columns ordered as the im2col columns."""
        weight = self.params["W"]
        return weight.transpose(0, 2, 3, 1).reshape(weight.shape[0], -1)

    def backward(self, grad_out):
        g = self._check_grad(grad_out)
        out_channels, c, kh, kw = self.params["W"].shape
        g_rows = g.transpose(0, 2, 3, 1).reshape(-1, out_channels)  # (N*OH*OW, O), rows as in cols
        self.grads["W"] = (g_rows.T @ self.cols).reshape(out_channels, kh, kw, c).transpose(0, 3, 1, 2)
        if "b" in self.params:
            self.grads["b"] = g_rows.sum(axis=0)
        (ph, pw), (sh, sw) = self.padding, self.stride
        n, _, h, w = self.x_shape
        out_h, out_w = g.shape[2:]
        # what each window contributed, (N, OH, OW, kh, kw, C), added back where it came from (col2im)
        grad_cols = (g_rows @ self._weight_matrix()).reshape(n, out_h, out_w, kh, kw, c)
        grad_xp = np.zeros((n, h + 2 * ph, w + 2 * pw, c), dtype=grad_cols.dtype)
        for u in range(kh):
            for v in range(kw):
                grad_xp[:, u : u + sh * out_h : sh, v : v + sw * out_w : sw] += grad_cols[:, :, :, u, v]
        return grad_xp[:, ph : ph + h, pw : pw + w].transpose(0, 3, 1, 2)


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
