"""Layers of several inputs and outputs as other people write them, each with a broken copy.
``test_several_inputs.py`` checks them through declarations alone.

- ``LSTMCell``: attributes named as torch's (``weight_ih`` (4H, D) ... gates i, f, g, o);
  ``forward(x, (h, c)) -> (h', c')``, ``backward(dh', dc') -> (dx, (dh, dc))``.
- ``GatesApartLSTMCell``: one array a gate, as many write it (``Wi, Wf, Wg, Wo`` for x,
  ``Ui, Uf, Ug, Uo`` for h, ``bi, bf, bg, bo``; gradients ``dWi``, ...); ``PackedLSTMCell``:
  the gates packed in the course's order i, f, o, g (``Wx`` (D, 4H), ``Wh`` (H, 4H), ``b``).
  Both have one bias a gate where torch adds two; ``test_gates.py`` declares them.
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


class GatesApartLSTMCell:
    """For each gate k of i, f, g, o: a_k = x W_k + h U_k + b_k; i, f, o = s(a_i), s(a_f), s(a_o),
    g = tanh(a_g); c' = f c + i g; h' = o tanh(c').  x: (N, D), h, c: (N, H), W_k: (D, H),
    U_k: (H, H), b_k: (H,)."""

    def __init__(self, input_size, hidden_size):
        rng = np.random.default_rng(0)
        for k in "ifgo":
            setattr(self, f"W{k}", rng.standard_normal((input_size, hidden_size)))
            setattr(self, f"U{k}", rng.standard_normal((hidden_size, hidden_size)))
            setattr(self, f"b{k}", np.zeros(hidden_size))

    def forward(self, x, state):
        h, c = state
        a = {k: x @ getattr(self, f"W{k}") + h @ getattr(self, f"U{k}") + getattr(self, f"b{k}") for k in "ifgo"}
        gates = {k: np.tanh(a[k]) if k == "g" else _sigmoid(a[k]) for k in "ifgo"}
        c_next = gates["f"] * c + gates["i"] * gates["g"]
        self.cache = x, h, c, gates, c_next
        return gates["o"] * np.tanh(c_next), c_next

    def gate_gradients(self, dh_next, dc_next):
        """The gradients of a_i, a_f, a_g, a_o, and of c through c'."""
        x, h, c, gates, c_next = self.cache
        i, f, g, o = (gates[k] for k in "ifgo")
        tanh_c = np.tanh(c_next)
        dc = dc_next + dh_next * o * (1 - tanh_c**2)
        da = {"i": dc * g * i * (1 - i), "f": dc * c * f * (1 - f), "g": dc * i * (1 - g**2),
              "o": dh_next * tanh_c * o * (1 - o)}
        return da, dc * f

    def backward(self, dh_next, dc_next):
        x, h = self.cache[:2]
        da, dc = self.gate_gradients(dh_next, dc_next)
        for k in "ifgo":
            setattr(self, f"dW{k}", x.T @ da[k])
            setattr(self, f"dU{k}", h.T @ da[k])
            setattr(self, f"db{k}", da[k].sum(axis=0))
        return (sum(da[k] @ getattr(self, f"W{k}").T for k in "ifgo"),
                (sum(da[k] @ getattr(self, f"U{k}").T for k in "ifgo"), dc))


class ForgetBiasFromInputGateLSTMCell(GatesApartLSTMCell):
    def backward(self, dh_next, dc_next):
        grads = super().backward(dh_next, dc_next)
        self.dbf = self.dbi  # a copy-paste slip: the forget gate's bias takes the input gate's gradient
        return grads


class PackedLSTMCell:
    """The gates packed in the course's order: a = x Wx + h Wh + b split into i, f, o, g;
    c' = s(f) c + s(i) tanh(g); h' = s(o) tanh(c').  x: (N, D), h, c: (N, H), Wx: (D, 4H),
    Wh: (H, 4H), b: (4H,)."""

    def __init__(self, input_size, hidden_size):
        rng = np.random.default_rng(0)
        self.Wx = rng.standard_normal((input_size, 4 * hidden_size))
        self.Wh = rng.standard_normal((hidden_size, 4 * hidden_size))
        self.b = np.zeros(4 * hidden_size)

    def forward(self, x, state):
        next_h, next_c, self.cache = lstm_step_forward(x, *state, self.Wx, self.Wh, self.b)
        return next_h, next_c

    def backward(self, dh_next, dc_next):
        dx, dh, dc, self.dWx, self.dWh, self.db = lstm_step_backward(dh_next, dc_next, self.cache)
        return dx, (dh, dc)


class TorchOrderInBackwardLSTMCell(PackedLSTMCell):
    def backward(self, dh_next, dc_next):
        x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c = self.cache
        tanh_c = np.tanh(next_c)
        dc = dc_next + dh_next * o * (1 - tanh_c**2)
        # stacked in torch's order i, f, g, o, where forward split a into i, f, o, g
        da = np.concatenate([dc * g * i * (1 - i), dc * prev_c * f * (1 - f), dc * i * (1 - g**2),
                             dh_next * tanh_c * o * (1 - o)], axis=1)
        self.dWx, self.dWh, self.db = x.T @ da, prev_h.T @ da, da.sum(axis=0)
        return da @ Wx.T, (da @ Wh.T, dc * f)


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
