"""Bilinear layer: one bilinear form of two inputs per output feature."""

import numpy as np

from reference.base import Layer, check_input


class Bilinear(Layer):
    """y[n, o] = sum_ij x1[n, i] W[o, i, j] x2[n, j] + b[o].

    x1: (N, in1), x2: (N, in2), W: (out, in1, in2) (torch's layout), b: (out,), y: (N, out).
    dL/dx1[n, i] = sum_oj g[n, o] W[o, i, j] x2[n, j],  dL/dx2[n, j] = sum_oi g[n, o] x1[n, i] W[o, i, j],
    dL/dW[o, i, j] = sum_n g[n, o] x1[n, i] x2[n, j],  dL/db = sum_n g[n, o].
    backward returns (dL/dx1, dL/dx2). W and b start uniform in +-1/sqrt(in1), as torch's.
    """

    def __init__(self, in1_features, in2_features, out_features, bias=True, rng=None):
        super().__init__()
        rng = rng or np.random.default_rng()
        bound = 1.0 / np.sqrt(in1_features)
        self.params["W"] = rng.uniform(-bound, bound, (out_features, in1_features, in2_features))
        if bias:
            self.params["b"] = rng.uniform(-bound, bound, out_features)

    def forward(self, x1, x2):
        _, in1, in2 = self.params["W"].shape
        self.x1 = check_input(x1, "Bilinear first input", ("N", in1))
        self.x2 = check_input(x2, "Bilinear second input", (x1.shape[0], in2))
        # optimize: pairwise contractions (BLAS) rather than one loop over all four indices
        y = np.einsum("ni,oij,nj->no", x1, self.params["W"], x2, optimize=True)
        if "b" in self.params:
            y = y + self.params["b"]
        return self._remember_output(y)

    def backward(self, grad_out):
        g = self._check_grad(grad_out)
        W = self.params["W"]
        self.grads["W"] = np.einsum("no,ni,nj->oij", g, self.x1, self.x2, optimize=True)
        if "b" in self.params:
            self.grads["b"] = g.sum(axis=0)
        grad_x1 = np.einsum("no,oij,nj->ni", g, W, self.x2, optimize=True)
        grad_x2 = np.einsum("no,ni,oij->nj", g, self.x1, W, optimize=True)
        return grad_x1, grad_x2
