"""Element-wise and row-wise activations."""

import numpy as np

from reference.base import Layer, check_input


class Sigmoid(Layer):
    """y = 1 / (1 + exp(-clip(x, -500, 500))), any shape.

    dy/dx = y (1 - y). The clip keeps exp from overflowing; outside +-500 the output is
    already 0 or 1 to float64 precision, so only the far tail differs from torch.
    """

    def forward(self, x):
        check_input(x, "Sigmoid input")
        with np.errstate(over="ignore"):  # float32 exp overflows past 88: inf gives y = 0, as it should
            self.y = 1.0 / (1.0 + np.exp(-np.clip(x, -500, 500)))
        return self._remember_output(self.y)

    def backward(self, grad_out):
        grad_out = self._check_grad(grad_out)
        return grad_out * self.y * (1.0 - self.y)


class ReLU(Layer):
    """y = max(0, x), any shape. dy/dx = 1 where x > 0, else 0 (torch's choice at 0)."""

    def forward(self, x):
        check_input(x, "ReLU input")
        self.active = x > 0
        if getattr(self, "zeros", None) is None or self.zeros.shape != x.shape or self.zeros.dtype != x.dtype:
            self.zeros = np.zeros_like(x)  # read, never written: kept for the next call
        # against an array NumPy's maximum runs vectorized; against the scalar 0, ~3x slower
        return self._remember_output(np.maximum(x, self.zeros))

    def backward(self, grad_out):
        grad_out = self._check_grad(grad_out)
        return grad_out * self.active


class Softmax(Layer):
    """y_ij = exp(x_ij - max_k x_ik) / sum_k exp(x_ik - max_k x_ik); x, y: (N, C).

    The Jacobian of one row is J = diag(y) - y y^T, so dL/dx = J dL/dy. Two backwards:
    ``backward`` uses J g = y * (g - <y, g>) in one vectorized line;
    ``backward_jacobian`` builds each row's J and multiplies, the way it is taught.
    """

    def forward(self, x):
        check_input(x, "Softmax input", ("N", "C"))
        y = x - x.max(axis=1, keepdims=True)  # one array, every later step in place
        np.exp(y, out=y)
        y *= 1 / y.sum(axis=1, keepdims=True)  # a product is cheaper than a quotient; torch does the same
        self.y = y
        return self._remember_output(self.y)

    def backward(self, grad_out):
        grad_out = self._check_grad(grad_out)
        grad_in = self.y * grad_out
        dot = grad_in.sum(axis=1, keepdims=True)  # <y, g> per row
        np.subtract(grad_out, dot, out=grad_in)
        grad_in *= self.y
        return grad_in

    def backward_jacobian(self, grad_out):
        grad_out = self._check_grad(grad_out)
        grad_in = np.empty_like(grad_out)
        for i, y in enumerate(self.y):
            jacobian = np.diag(y) - np.outer(y, y)
            grad_in[i] = jacobian @ grad_out[i]
        return grad_in
