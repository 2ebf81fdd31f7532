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
    The windows of xp form a matrix (im2col), so forward and both weight gradients are
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
        xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        # (N, C, OH, OW, kh, kw): a view, no copy until the product below
        self.windows = sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
        y = np.tensordot(self.windows, self.params["W"], axes=([1, 4, 5], [1, 2, 3]))
        y = y.transpose(0, 3, 1, 2)
        if "b" in self.params:
            y = y + self.params["b"][:, None, None]
        return self._remember_output(y)

    def backward(self, grad_out):
        g = self._check_grad(grad_out)
        weight = self.params["W"]
        self.grads["W"] = np.tensordot(g, self.windows, axes=([0, 2, 3], [0, 2, 3]))
        if "b" in self.params:
            self.grads["b"] = g.sum(axis=(0, 2, 3))
        # (N, OH, OW, C, kh, kw): what each window contributed, scattered back below
        grad_windows = np.tensordot(g, weight, axes=([1], [0]))
        (ph, pw), (sh, sw) = self.padding, self.stride
        n, c, h, w = self.x_shape
        out_h, out_w = g.shape[2:]
        grad_xp = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=grad_windows.dtype)
        for u in range(weight.shape[2]):
            for v in range(weight.shape[3]):
                grad_xp[:, :, u : u + sh * out_h : sh, v : v + sw * out_w : sw] += (
                    grad_windows[..., u, v].transpose(0, 3, 1, 2)
                )
        return grad_xp[:, :, ph : ph + h, pw : pw + w]


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
