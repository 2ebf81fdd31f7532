"""Layers of several inputs and outputs as other people write them, each with a broken copy.
``test_several_inputs.py`` checks them through declarations alone.

- ``LSTMCell``: attributes named as torch's (``weight_ih`` (4H, D) ... gates i, f, g, o);
  ``forward(x, (h, c)) -> (h', c')``, ``backward(dh', dc') -> (dx, (dh, dc))``.
- ``rnn_step_forward`` / ``rnn_step_backward``: the course style, ``(next_h, cache)`` and
  ``(dx, dprev_h, dWx, dWh, db)``.
- ``lstm_step_forward`` / ``lstm_step_backward``: the course style with two outputs,
  ``(next_h, next_c, cache)`` and ``(dx, dprev_h, dprev_c, dWx, dWh, db)``.
- ``matmul_forward`` / ``matmul_backward``: an autograd library's operation of two operands.
- ``TrainingArgDropout``: the mode as a forward argument, ``forward(x, training)``, and its
  own generator.
"""

import numpy as np


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


class LSTMCell:
    """i, f, g, o = split(x W_ih^T + b_ih + h W_hh^T + b_hh); c' = s(f) c + s(i) tanh(g);
    h' = s(o) tanh(c').  x: (N, D), h, c: (N, H)."""

    def __init__(self, input_size, hidden_size):
        rng = np.random.default_rng(0)
        self.weight_ih = rng.standard_normal((4 * hidden_size, input_size))
        self.weight_hh = rng.standard_normal((4 * hidden_size, hidden_size))
        self.bias_ih, self.bias_hh = np.zeros(4 * hidden_size), np.zeros(4 * hidden_size)

    def forward(self, x, state):
        h, c = state
        gates = x @ self.weight_ih.T + self.bias_ih + h @ self.weight_hh.T + self.bias_hh
        i, f, g, o = np.split(gates, 4, axis=1)
        self.cache = x, h, c, _sigmoid(i), _sigmoid(f), np.tanh(g), _sigmoid(o)
        self.c_next = self.cache[4] * c + self.cache[3] * self.cache[5]
        return self.cache[6] * np.tanh(self.c_next), self.c_next

    def backward(self, dh_next, dc_next):
        x, h, c, i, f, g, o = self.cache
        tanh_c = np.tanh(self.c_next)
        dc = dc_next + dh_next * o * (1 - tanh_c**2)
        dgates = np.concatenate([dc * g * i * (1 - i), dc * c * f * (1 - f), dc * i * (1 - g**2),
                                 dh_next * tanh_c * o * (1 - o)], axis=1)
        self.grad_weight_ih, self.grad_weight_hh = dgates.T @ x, dgates.T @ h
        self.grad_bias_ih = self.grad_bias_hh = dgates.sum(axis=0)
        return dgates @ self.weight_ih, (dgates @ self.weight_hh, dc * f)


class StaleStateLSTMCell(LSTMCell):
    def forward(self, x, state):
        if not hasattr(self, "first_state"):
            self.first_state = state  # the first call's (h, c) kept, as an initial state would be
        return super().forward(x, self.first_state)


class ForgetGateLSTMCell(LSTMCell):
    def backward(self, dh_next, dc_next):
        dx, (dh, dc) = super().backward(dh_next, dc_next)
        return dx, (dh, dc_next + dh_next * self.cache[6] * (1 - np.tanh(self.c_next) ** 2))  # no forget gate


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    """next_h = tanh(x Wx + prev_h Wh + b).  x: (N, D), prev_h: (N, H), Wx: (D, H), Wh: (H, H)."""
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
    return next_h, (x, prev_h, Wx, Wh, next_h)


def rnn_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1 - next_h**2)
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def rnn_step_backward_no_dprev_h(dnext_h, cache):
    dx, _, dWx, dWh, db = rnn_step_backward(dnext_h, cache)
    return dx, dWx, dWh, db  # the gradient of prev_h forgotten: one value short


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    """The course's LSTM step: a = x Wx + prev_h Wh + b split into i, f, o, g (in that order)."""
    a = x @ Wx + prev_h @ Wh + b
    ai, af, ao, ag = np.split(a, 4, axis=1)
    i, f, o, g = _sigmoid(ai), _sigmoid(af), _sigmoid(ao), np.tanh(ag)
    next_c = f * prev_c + i * g
    next_h = o * np.tanh(next_c)
    return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c)


def lstm_step_backward(dnext_h, dnext_c, cache):
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c = cache
    tanh_c = np.tanh(next_c)
    dc = dnext_c + dnext_h * o * (1 - tanh_c**2)
    da = np.concatenate([dc * g * i * (1 - i), dc * prev_c * f * (1 - f), dnext_h * tanh_c * o * (1 - o),
                         dc * i * (1 - g**2)], axis=1)
    return da @ Wx.T, da @ Wh.T, dc * f, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def lstm_step_backward_ignores_dnext_c(dnext_h, dnext_c, cache):
    return lstm_step_backward(dnext_h, np.zeros_like(dnext_c), cache)  # the carried cell's gradient dropped


def matmul_forward(a, b):
    return a @ b, (a, b)


def matmul_backward(dout, cache):
    a, b = cache
    return dout @ b.T, a.T @ dout


def matmul_backward_transposed_db(dout, cache):
    a, b = cache
    return dout @ b.T, (a.T @ dout).T.reshape(b.shape)  # right shape when b is square, wrong values


class TrainingArgDropout:
    """y = x m / (1 - p) in training, m = rng.random(x.shape) >= p; y = x in eval."""

    def __init__(self, p, seed):
        self.p, self.rng = p, np.random.default_rng(seed)

    def forward(self, x, training):
        self.mask = self.rng.random(x.shape) >= self.p if training else np.ones(x.shape, dtype=bool)
        self.scale = 1 / (1 - self.p) if training else 1.0
        return x * self.mask * self.scale

    def backward(self, dy):
        return dy * self.mask * self.scale


class TrainingArgDropoutKeepsP(TrainingArgDropout):
    def forward(self, x, training):
        y = super().forward(x, training)
        if training:
            self.mask = ~self.mask  # keeps with probability p, not 1 - p
            y = x * self.mask * self.scale
        return y
