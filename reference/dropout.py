"""Dropout: zero each value with probability p, rescale the rest by 1 / (1 - p)."""

import numpy as np

from reference.base import Layer, check_input


def check_dropout_args(p, rng) -> float:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"Dropout: expected rng to be a numpy.random.Generator, got {type(rng).__name__}")
    if not 0 <= p < 1:  # p = 1 would divide by zero; NaN fails both comparisons
        raise ValueError(f"Dropout: expected p in [0, 1), got {p}")
    return float(p)  # a Python float: a NumPy scalar p would promote float32 inputs to float64


class Dropout(Layer):
    """Training: y = x * m / (1 - p), m = rng.random(x.shape) >= p (kept with probability 1 - p).

    x, y, m: any shape, the same. dL/dx = g * m / (1 - p). Eval: y = x, dL/dx = g.
    The mask is drawn with exactly that call, once per forward: it is the declared sampling
    scheme of the pair, so a twin handed a generator seeded alike draws the same mask. Every
    training forward draws, p = 0 included, so the two generators stay in step.
    """

    def __init__(self, p, rng):
        super().__init__()
        self.p, self.rng = check_dropout_args(p, rng), rng

    def forward(self, x):
        check_input(x, "Dropout input")
        if not self.training:
            self.mask = None  # backward follows the mode forward ran in, not the current one
            return self._remember_output(x.copy())
        self.mask = self.rng.random(x.shape) >= self.p
        return self._remember_output(x * self.mask / (1 - self.p))

    def backward(self, grad_out):
        g = self._check_grad(grad_out)
        if self.mask is None:
            return g.copy()  # never the caller's array itself
        return g * self.mask / (1 - self.p)
