"""Blocks built from the other layers: the seed's residual block and the SE blocks."""

import numpy as np

from reference.activations import ReLU, Sigmoid
from reference.base import Layer, check_input
from reference.conv import Conv2d
from reference.linear import Linear
from reference.norm import BatchNorm2d
from reference.pooling import GlobalAvgPool2d


class ResidualBlock(Layer):
    """y = relu(w2 relu(w1 x) + x).  x, y: (d,) or (d, N) (columns); w1, w2: (d, d).

    With h1 = w1 x, a1 = relu(h1), h2 = w2 a1 + x and g2 = g * [h2 > 0]:
      dL/dw2 = g2 a1^T,  g1 = (w2^T g2) * [h1 > 0],  dL/dw1 = g1 x^T,
      dL/dx = w1^T g1 + g2  (the skip connection adds g2 directly).
    """

    def __init__(self, features, rng=None):
        super().__init__()
        rng = rng or np.random.default_rng()
        bound = 1.0 / np.sqrt(features)
        self.params["w1"] = rng.uniform(-bound, bound, (features, features))
        self.params["w2"] = rng.uniform(-bound, bound, (features, features))

    def forward(self, x):
        features = self.params["w1"].shape[0]
        check_input(x, "ResidualBlock input", (features,) if np.ndim(x) == 1 else (features, "N"))
        self.x = x.reshape(features, -1)  # a vector is one column
        self.h1 = self.params["w1"] @ self.x
        self.a1 = np.maximum(self.h1, 0)
        self.h2 = self.params["w2"] @ self.a1 + self.x
        return self._remember_output(np.maximum(self.h2, 0).reshape(x.shape))

    def backward(self, grad_out):
        g = self._check_grad(grad_out).reshape(self.h2.shape)
        g2 = g * (self.h2 > 0)
        self.grads["w2"] = g2 @ self.a1.T
        g1 = (self.params["w2"].T @ g2) * (self.h1 > 0)
        self.grads["w1"] = g1 @ self.x.T
        return (self.params["w1"].T @ g1 + g2).reshape(self._output_shape)


class SEBlock(Layer):
    """Squeeze-and-excitation: y = x * s, s = sigmoid(W2 relu(W1 mean_hw(x))) per channel.

    x, y: (N, C, H, W); W1: (C, C // r), W2: (C // r, C) in Linear's (in, out) layout, no
    biases. With g the upstream gradient:
      dL/ds[n,c] = sum_{h,w} g x,  dL/dx = g * s + (gradient through s back to x).
    """

    def __init__(self, channels, reduction=16, rng=None):
        super().__init__()
        hidden = channels // reduction
        if hidden < 1:
            raise ValueError(
                f"SEBlock: channels // reduction must be at least 1, got {channels} // {reduction} = 0"
            )
        self.pool = GlobalAvgPool2d()
        self.fc1 = Linear(channels, hidden, bias=False, rng=rng)
        self.relu = ReLU()
        self.fc2 = Linear(hidden, channels, bias=False, rng=rng)
        self.sigmoid = Sigmoid()

    def forward(self, x):
        channels = self.fc1.params["W"].shape[0]
        check_input(x, "SEBlock input", ("N", channels, "H", "W"))
        n = x.shape[0]
        self.x = x
        squeezed = self.pool(x).reshape(n, channels)
        self.s = self.sigmoid(self.fc2(self.relu(self.fc1(squeezed))))[:, :, None, None]
        return self._remember_output(x * self.s)

    def backward(self, grad_out):
        g = self._check_grad(grad_out)
        grad_s = np.sum(g * self.x, axis=(2, 3))
        grad_squeezed = self.fc1.backward(self.relu.backward(self.fc2.backward(self.sigmoid.backward(grad_s))))
        return g * self.s + self.pool.backward(grad_squeezed[:, :, None, None])


class SEResNetBlock(Layer):
    """y = relu(se(bn2(conv2(relu(bn1(conv1(x)))))) + shortcut(x)).

    x: (N, C_in, H, W), y: (N, C_out, H', W'). conv1 is 3x3 with the block's stride and
    padding 1, conv2 3x3 stride 1 padding 1, both bias-free. The shortcut is the identity,
    or a bias-free 1x1 conv with the stride plus a BatchNorm when the stride is not 1 or the
    channel count changes. Backward runs the chain in reverse; the two branches' input
    gradients add.
    """

    def __init__(self, in_channels, out_channels, stride=1, reduction=16, rng=None):
        super().__init__()
        rng = rng or np.random.default_rng()
        self.conv1 = Conv2d(in_channels, out_channels, 3, stride, 1, bias=False, rng=rng)
        self.bn1 = BatchNorm2d(out_channels)
        self.relu1 = ReLU()
        self.conv2 = Conv2d(out_channels, out_channels, 3, 1, 1, bias=False, rng=rng)
        self.bn2 = BatchNorm2d(out_channels)
        self.se = SEBlock(out_channels, reduction, rng=rng)
        self.relu_out = ReLU()
        self.projects = stride != 1 or in_channels != out_channels
        if self.projects:
            self.shortcut_conv = Conv2d(in_channels, out_channels, 1, stride, 0, bias=False, rng=rng)
            self.shortcut_bn = BatchNorm2d(out_channels)

    def forward(self, x):
        in_channels = self.conv1.params["W"].shape[1]
        check_input(x, "SEResNetBlock input", ("N", in_channels, "H", "W"))
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.se(self.bn2(self.conv2(out)))
        shortcut = self.shortcut_bn(self.shortcut_conv(x)) if self.projects else x
        return self._remember_output(self.relu_out(out + shortcut))

    def backward(self, grad_out):
        g = self.relu_out.backward(self._check_grad(grad_out))
        grad_main = self.conv2.backward(self.bn2.backward(self.se.backward(g)))
        grad_main = self.conv1.backward(self.bn1.backward(self.relu1.backward(grad_main)))
        grad_shortcut = self.shortcut_conv.backward(self.shortcut_bn.backward(g)) if self.projects else g
        return grad_main + grad_shortcut
