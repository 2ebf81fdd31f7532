"""Fully connected layer."""

import numpy as np

from reference.base import Layer, check_input


class Linear(Layer):
    """y = x W + b.  x: (N, in), W: (in, out), b: (out,), y: (N, out).

    W keeps the seed's (in_features, out_features) layout; torch stores its transpose.
    dL/dx = g W^T,  dL/dW = x^T g,  dL/db = sum_n g.
    """

    def __init__(self, in_features, out_features, bias=True, rng=None):
        super().__init__()
        rng = rng or np.random.default_rng()
        bound = 1.0 / np.sqrt(in_features)
        self.params["W"] = rng.uniform(-bound, bound, (in_features, out_features))
        if bias:
            self.params["b"] = rng.uniform(-bound, bound, out_features)

    def forward(self, x):
        self.x = check_input(x, "Linear input", ("N", self.params["W"].shape[0]))
        y = x @ self.params["W"]
        if "b" in self.params:
            y = y + self.params["b"]
        return self._remember_output(y)

    def backward(self, grad_out):
        grad_out = self._check_grad(grad_out)
        self.grads["W"] = self.x.T @ grad_out
        if "b" in self.params:
            self.grads["b"] = grad_out.sum(axis=0)
        return grad_out @ self.params["W"].T
