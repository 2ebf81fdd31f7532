"""Element-wise and row-wise activations."""

import math

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


class Tanh(Layer):
    """y = tanh(x), any shape. dy/dx = 1 - y^2 (NumPy's tanh saturates to +-1 without overflow)."""

    def forward(self, x):
        check_input(x, "Tanh input")
        self.y = np.tanh(x)
        return self._remember_output(self.y)

    def backward(self, grad_out):
        grad_out = self._check_grad(grad_out)
        return grad_out * (1.0 - self.y * self.y)


class LeakyReLU(Layer):
    """y = x where x > 0, else negative_slope * x; any shape.

    dy/dx = 1 where x > 0, else negative_slope (torch's choice at 0: the slope).
    """

    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        self.negative_slope = float(negative_slope)  # a Python float: a float32 input stays float32

    def forward(self, x):
        check_input(x, "LeakyReLU input")
        self.positive = x > 0
        return self._remember_output(np.where(self.positive, x, x * self.negative_slope))

    def backward(self, grad_out):
        grad_out = self._check_grad(grad_out)
        return np.where(self.positive, grad_out, grad_out * self.negative_slope)


class ELU(Layer):
    """y = x where x > 0, else alpha (exp(x) - 1); any shape.

    dy/dx = 1 where x > 0, else alpha exp(x) = y + alpha (torch's choice at 0: alpha, the
    left branch's). Backward reads it from the output, as torch's in-place ELU does.
    """

    def __init__(self, alpha: float = 1.0):
        super().__init__()
        self.alpha = float(alpha)

    def forward(self, x):
        check_input(x, "ELU input")
        self.positive = x > 0
        # expm1 is exact near 0; the minimum keeps it from overflowing on the branch not taken
        self.y = np.where(self.positive, x, self.alpha * np.expm1(np.minimum(x, 0)))
        return self._remember_output(self.y)

    def backward(self, grad_out):
        grad_out = self._check_grad(grad_out)
        return np.where(self.positive, grad_out, grad_out * (self.y + self.alpha))


_ERF = np.frompyfunc(math.erf, 1, 1)
_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_KAPPA = 0.044715


def _erf(z: np.ndarray) -> np.ndarray:
    """erf elementwise, in float64. NumPy has no erf and SciPy is no dependency, so this is
    math.erf through np.frompyfunc: one Python call per element (slow, fine at test sizes),
    accurate to float64 rounding as no short rational approximation is."""
    return np.asarray(_ERF(z), dtype=np.float64)


class GELU(Layer):
    """y = x Phi(x), any shape; Phi the standard normal CDF.

    approximate="none" (exact): Phi(x) = (1 + erf(x / sqrt 2)) / 2, and
        dy/dx = Phi(x) + x phi(x),  phi(x) = exp(-x^2 / 2) / sqrt(2 pi).
    approximate="tanh" (torch's): y = x (1 + t) / 2, t = tanh(u), u = sqrt(2 / pi) (x + 0.044715 x^3), and
        dy/dx = (1 + t) / 2 + x (1 - t^2) sqrt(2 / pi) (1 + 3 * 0.044715 x^2) / 2.
    The exact erf is computed in float64 by ``math.erf`` element by element (see ``_erf``),
    then cast to the input's dtype.
    """

    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate not in ("none", "tanh"):  # torch refuses it too, at its first forward
            raise ValueError(f"GELU: expected approximate 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        check_input(x, "GELU input")
        self.x = x.copy()  # backward needs the input; a copy, the caller may reuse its array
        if self.approximate == "tanh":
            self.t = np.tanh(_SQRT_2_OVER_PI * (x + _GELU_KAPPA * x * x * x))
            return self._remember_output(0.5 * x * (1.0 + self.t))
        self.cdf = (0.5 * (1.0 + _erf(x.astype(np.float64) * _SQRT_HALF))).astype(x.dtype)
        return self._remember_output(x * self.cdf)

    def backward(self, grad_out):
        grad_out = self._check_grad(grad_out)
        x = self.x
        if self.approximate == "tanh":
            t = self.t
            du = _SQRT_2_OVER_PI * (1.0 + 3.0 * _GELU_KAPPA * x * x)
            return grad_out * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du)
        return grad_out * (self.cdf + x * np.exp(-0.5 * x * x) * _INV_SQRT_2PI)


class SiLU(Layer):
    """y = x s, s = sigmoid(x) = 1 / (1 + exp(-x)), any shape.

    dy/dx = s (1 + x (1 - s)) = s + y (1 - s). The sigmoid is computed from exp(-|x|), which
    never overflows.
    """

    def forward(self, x):
        check_input(x, "SiLU input")
        e = np.exp(-np.abs(x))
        self.s = np.where(x >= 0, 1, e) / (1 + e)  # 1 / (1 + e) for x >= 0, e / (1 + e) below
        self.y = x * self.s
        return self._remember_output(self.y)

    def backward(self, grad_out):
        grad_out = self._check_grad(grad_out)
        return grad_out * (self.s + self.y * (1.0 - self.s))


class Softplus(Layer):
    """y = log(1 + exp(beta x)) / beta, any shape; y = x where beta x > threshold (torch's
    linear region, where the two agree to float rounding and exp would overflow).

    dy/dx = sigmoid(beta x) = e / (1 + e), e = exp(beta x); 1 in the linear region.
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta, self.threshold = float(beta), float(threshold)

    def forward(self, x):
        check_input(x, "Softplus input")
        z = x * self.beta
        self.linear = z > self.threshold
        self.e = np.exp(np.minimum(z, self.threshold))  # capped: the linear region needs no exp
        return self._remember_output(np.where(self.linear, x, np.log1p(self.e) / self.beta))

    def backward(self, grad_out):
        grad_out = self._check_grad(grad_out)
        return np.where(self.linear, grad_out, grad_out * (self.e / (1 + self.e)))


class LogSoftmax(Layer):
    """y_ij = x_ij - m_i - log sum_k exp(x_ik - m_i), m_i = max_k x_ik; x, y: (N, C), over C.

    Subtracting the row maximum keeps exp from overflowing (the result is unchanged).
    dL/dx_ij = g_ij - softmax_ij sum_k g_ik, softmax = exp(y).
    """

    def forward(self, x):
        check_input(x, "LogSoftmax input", ("N", "C"))
        shifted = x - x.max(axis=1, keepdims=True)
        self.y = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        return self._remember_output(self.y)

    def backward(self, grad_out):
        grad_out = self._check_grad(grad_out)
        return grad_out - np.exp(self.y) * grad_out.sum(axis=1, keepdims=True)
