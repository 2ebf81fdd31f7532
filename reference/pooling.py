"""Global average pooling."""

import numpy as np

from reference.base import Layer, check_input


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
