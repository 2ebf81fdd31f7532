"""Realistic mistakes in the activations Tanh, LeakyReLU, ELU, GELU, SiLU, Softplus and
LogSoftmax (reference/activations.py), each a copy of one method with one thing wrong.

``VARIANTS`` lists them as (name, pairs, owner, attribute, replacement, mistake, family):
patch the replacement in as ``owner.attribute`` and the default matrix of the space-separated
``pairs`` must fail.
"""

from __future__ import annotations

import numpy as np

from reference.activations import (
    _GELU_KAPPA,
    _INV_SQRT_2PI,
    _SQRT_2_OVER_PI,
    _SQRT_HALF,
    ELU,
    GELU,
    LeakyReLU,
    LogSoftmax,
    SiLU,
    Softplus,
    Tanh,
    _erf,
)
from reference.base import check_input

# -- Tanh -----------------------------------------------------------------------------------


def tanh_grad_one_minus_y(self, grad_out):
    grad_out = self._check_grad(grad_out)
    return grad_out * (1.0 - self.y)  # 1 - y, not 1 - y^2


def tanh_from_exponentials(self, x):
    check_input(x, "Tanh input")
    # the textbook quotient: exp overflows past |x| = 88 in float32 (710 in float64), inf / inf = nan
    self.y = (np.exp(x) - np.exp(-x)) / (np.exp(x) + np.exp(-x))
    return self._remember_output(self.y)


# -- LeakyReLU --------------------------------------------------------------------------------


def leaky_relu_slope_on_positive_side(self, grad_out):
    grad_out = self._check_grad(grad_out)
    return np.where(self.positive, grad_out * self.negative_slope, grad_out)  # the branches swapped


def leaky_relu_grad_of_relu(self, grad_out):
    grad_out = self._check_grad(grad_out)
    return grad_out * self.positive  # ReLU's backward kept: no gradient through the negative side


def leaky_relu_grad_in_place(self, grad_out):
    grad_out = self._check_grad(grad_out)
    grad_out[~self.positive] *= self.negative_slope  # "saves a copy": scales the caller's array
    return grad_out


# -- ELU ------------------------------------------------------------------------------------------


def elu_grad_from_output_without_alpha(self, grad_out):
    grad_out = self._check_grad(grad_out)
    # d/dx alpha (exp(x) - 1) = alpha exp(x) = y + alpha, taken as y
    return np.where(self.positive, grad_out, grad_out * self.y)


def elu_alpha_missing_in_forward(self, x):
    check_input(x, "ELU input")
    self.positive = x > 0
    self.y = np.where(self.positive, x, np.expm1(np.minimum(x, 0)))  # alpha left out (right for alpha = 1)
    return self._remember_output(self.y)


# -- GELU -----------------------------------------------------------------------------------------


def gelu_tanh_cubic_term_missing(self, x):
    check_input(x, "GELU input")
    self.x = x.copy()
    if self.approximate == "tanh":
        self.t = np.tanh(_SQRT_2_OVER_PI * x)  # the 0.044715 x^3 term left out
        return self._remember_output(0.5 * x * (1.0 + self.t))
    self.cdf = (0.5 * (1.0 + _erf(x.astype(np.float64) * _SQRT_HALF))).astype(x.dtype)
    return self._remember_output(x * self.cdf)


def gelu_exact_pdf_term_missing(self, grad_out):
    grad_out = self._check_grad(grad_out)
    x = self.x
    if self.approximate == "tanh":
        t = self.t
        du = _SQRT_2_OVER_PI * (1.0 + 3.0 * _GELU_KAPPA * x * x)
        return grad_out * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du)
    return grad_out * self.cdf  # d(x Phi(x))/dx taken as Phi(x): the product rule's x phi(x) left out


def gelu_tanh_grad_missing_three(self, grad_out):
    grad_out = self._check_grad(grad_out)
    x = self.x
    if self.approximate == "tanh":
        t = self.t
        du = _SQRT_2_OVER_PI * (1.0 + _GELU_KAPPA * x * x)  # d(x^3)/dx = 3 x^2, the 3 forgotten
        return grad_out * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du)
    return grad_out * (self.cdf + x * np.exp(-0.5 * x * x) * _INV_SQRT_2PI)


# -- SiLU -----------------------------------------------------------------------------------------


def silu_grad_sigmoid_only(self, grad_out):
    grad_out = self._check_grad(grad_out)
    return grad_out * self.s  # d(x s)/dx taken as s: the x s (1 - s) term left out


def silu_grad_first_term_missing(self, grad_out):
    grad_out = self._check_grad(grad_out)
    return grad_out * self.y * (1.0 - self.s)  # x s'(x) alone: the product rule's s left out


# -- Softplus -------------------------------------------------------------------------------------


def softplus_threshold_ignored(self, x):
    check_input(x, "Softplus input")
    z = x * self.beta
    self.linear = z > self.threshold
    self.e = np.exp(z)  # "the threshold only saves time": exp overflows, log1p(inf) = inf
    return self._remember_output(np.log1p(self.e) / self.beta)


def softplus_grad_times_beta(self, grad_out):
    grad_out = self._check_grad(grad_out)
    # the chain rule's beta kept, though the 1 / beta in front cancels it
    return np.where(self.linear, grad_out, grad_out * self.beta * (self.e / (1 + self.e)))


# -- LogSoftmax -----------------------------------------------------------------------------------


def log_softmax_without_max_shift(self, x):
    check_input(x, "LogSoftmax input", ("N", "C"))
    # exp of raw logits: overflows past 88 in float32 (a shift of 100 is enough), log(inf) = inf
    self.y = x - np.log(np.exp(x).sum(axis=1, keepdims=True))
    return self._remember_output(self.y)


def log_softmax_grad_softmax_term_missing(self, grad_out):
    grad_out = self._check_grad(grad_out)
    # d log-sum-exp / dx taken as 1 instead of softmax(x)
    return grad_out - grad_out.sum(axis=1, keepdims=True)


def log_softmax_grad_sum_over_batch(self, grad_out):
    grad_out = self._check_grad(grad_out)
    return grad_out - np.exp(self.y) * grad_out.sum(axis=0, keepdims=True)  # summed over N, not C


VARIANTS = [
    ("tanh_grad_one_minus_y", "Tanh", Tanh, "backward", tanh_grad_one_minus_y,
     "dy/dx = 1 - y instead of 1 - y^2", "maths"),
    ("tanh_from_exponentials", "Tanh", Tanh, "forward", tanh_from_exponentials,
     "tanh as (e^x - e^-x) / (e^x + e^-x): inf / inf = nan once exp overflows", "numerics"),
    ("leaky_relu_slope_on_positive_side", "LeakyReLU", LeakyReLU, "backward", leaky_relu_slope_on_positive_side,
     "the negative slope applied to the positive side's gradient, 1 to the negative side's", "maths"),
    ("leaky_relu_grad_of_relu", "LeakyReLU", LeakyReLU, "backward", leaky_relu_grad_of_relu,
     "ReLU's backward kept: zero gradient where x <= 0 instead of the slope", "maths"),
    ("leaky_relu_grad_in_place", "LeakyReLU", LeakyReLU, "backward", leaky_relu_grad_in_place,
     "the caller's upstream gradient scaled in place and returned", "side effects"),
    ("elu_grad_from_output_without_alpha", "ELU", ELU, "backward", elu_grad_from_output_without_alpha,
     "the negative side's gradient alpha exp(x) computed from the output as y, without + alpha", "maths"),
    ("elu_alpha_missing_in_forward", "ELU", ELU, "forward", elu_alpha_missing_in_forward,
     "exp(x) - 1 not scaled by alpha on the negative side (right only for alpha = 1)", "maths"),
    ("gelu_tanh_cubic_term_missing", "GELU", GELU, "forward", gelu_tanh_cubic_term_missing,
     "the tanh approximation without its 0.044715 x^3 term", "maths"),
    ("gelu_exact_pdf_term_missing", "GELU", GELU, "backward", gelu_exact_pdf_term_missing,
     "the exact GELU's gradient taken as Phi(x), the x phi(x) term missing", "maths"),
    ("gelu_tanh_grad_missing_three", "GELU", GELU, "backward", gelu_tanh_grad_missing_three,
     "the tanh approximation's inner derivative 1 + 0.044715 x^2, the 3 of d(x^3)/dx missing", "maths"),
    ("silu_grad_sigmoid_only", "SiLU", SiLU, "backward", silu_grad_sigmoid_only,
     "dy/dx = sigmoid(x) only, the x sigmoid'(x) term missing", "maths"),
    ("silu_grad_first_term_missing", "SiLU", SiLU, "backward", silu_grad_first_term_missing,
     "dy/dx = x sigmoid'(x) only, the sigmoid(x) term missing", "maths"),
    ("softplus_threshold_ignored", "Softplus", Softplus, "forward", softplus_threshold_ignored,
     "no linear region above the threshold: log1p(exp(beta x)) overflows to inf for large x", "maths"),
    ("softplus_grad_times_beta", "Softplus", Softplus, "backward", softplus_grad_times_beta,
     "dy/dx = beta sigmoid(beta x): the chain rule's beta not cancelled by the 1 / beta", "maths"),
    ("log_softmax_without_max_shift", "LogSoftmax", LogSoftmax, "forward", log_softmax_without_max_shift,
     "log-sum-exp of the raw logits, without subtracting the row maximum: exp overflows", "numerics"),
    ("log_softmax_grad_softmax_term_missing", "LogSoftmax", LogSoftmax, "backward",
     log_softmax_grad_softmax_term_missing, "dL/dx = g - sum(g): the softmax factor of the second term missing",
     "maths"),
    ("log_softmax_grad_sum_over_batch", "LogSoftmax", LogSoftmax, "backward", log_softmax_grad_sum_over_batch,
     "the upstream gradient summed over the batch axis instead of the class axis", "maths"),
]
