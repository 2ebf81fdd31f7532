"""Twins of reference/conv.py."""

import torch
import torch.nn.functional as F
from torch import nn

from torch_impl.base import check_input


class Conv2d(nn.Conv2d):
    def forward(self, x):
        check_input(x, "Conv2d input", ("N", self.in_channels, "H", "W"))
        return super().forward(x)


def simple_conv2d(input_matrix, kernel, padding, stride):
    """F.conv2d on one image with one channel; integers computed in float64 as the reference does."""
    check_input(input_matrix, "simple_conv2d input", ("H", "W"), integers_ok=True)
    check_input(kernel, "simple_conv2d kernel", ("kh", "kw"), integers_ok=True)
    both_floating = input_matrix.is_floating_point() and kernel.is_floating_point()
    dtype = torch.promote_types(input_matrix.dtype, kernel.dtype) if both_floating else torch.float64
    return F.conv2d(
        input_matrix.to(dtype)[None, None], kernel.to(dtype)[None, None], padding=padding, stride=stride
    )[0, 0]


def as_2tuple(value) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)


class ConvTranspose2d(nn.ConvTranspose2d):
    """nn.ConvTranspose2d refusing, with the reference's messages, what torch refuses only at
    its first forward (output_padding >= stride) or in its own words (an empty output)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, bias=True):
        output_padding, stride = as_2tuple(output_padding), as_2tuple(stride)
        if not all(0 <= op < s for op, s in zip(output_padding, stride, strict=True)):
            raise ValueError(f"ConvTranspose2d: expected 0 <= output_padding < stride in each axis, got "
                             f"output_padding {output_padding}, stride {stride}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, output_padding, bias=bias)

    def forward(self, x):
        check_input(x, "ConvTranspose2d input", ("N", self.in_channels, "H", "W"))
        size = tuple((x.shape[2 + a] - 1) * self.stride[a] - 2 * self.padding[a] + self.kernel_size[a]
                     + self.output_padding[a] for a in range(2))
        if min(size) < 1:
            raise ValueError(f"ConvTranspose2d: expected a positive output size, got {size} for input "
                             f"{tuple(x.shape[2:])}")
        return super().forward(x)


class Conv1d(nn.Conv1d):
    def forward(self, x):
        check_input(x, "Conv1d input", ("N", self.in_channels, "L"))
        k, p = self.kernel_size[0], self.padding[0]
        if x.shape[2] + 2 * p < k:
            raise ValueError(f"Conv1d: kernel {k} is larger than the padded input {x.shape[2] + 2 * p}")
        return super().forward(x)
