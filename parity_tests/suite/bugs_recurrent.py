"""Realistic mistakes in the recurrent layers (reference/recurrent.py), each a copy of one method or
step function with one thing wrong: the family "through time", where one step is right and the
steps together are not.

``VARIANTS`` lists them as (name, pairs, owner, attribute, replacement, mistake, family): patch the
replacement in as ``owner.attribute`` and the default matrix of the space-separated ``pairs`` must
fail.
"""

from __future__ import annotations

import numpy as np

from reference import recurrent
from reference.recurrent import _pre_activations, _pre_activations_backward, _Recurrent, _sigmoid, _tanh

FAMILY = "through time"
SEQUENCES = "RNN LSTM GRU RNNFromZeros LSTMFromZeros GRUFromZeros RNNExploding"

# -- backpropagation through time (_Recurrent._through_time) ----------------------------------


def bptt_hidden_gradient_not_carried(self, d_output, d_finals):
    d_initial = []
    for layer in reversed(range(self.num_layers)):
        p, caches = self._layer(layer), self.caches[layer]
        grads = {name: np.zeros_like(value) for name, value in p.items()}
        d_state, dx = tuple(d[layer] for d in d_finals), [None] * len(caches)
        for t in reversed(range(len(caches))):
            dx[t], carried, step_grads = self._step_backward(p, (d_state[0] + d_output[t], *d_state[1:]), caches[t])
            d_state = (d_state[0], *carried[1:])  # dh for step t - 1 computed, never carried: dh stays d_h_n
            for name, grad in step_grads.items():
                grads[name] += grad
        self.grads.update({f"{name}_l{layer}": grad for name, grad in grads.items()})
        d_initial.append(carried)
        d_output = np.stack(dx)
    return d_output, tuple(np.stack(component[::-1]) for component in zip(*d_initial, strict=True))


def bptt_last_step_only(self, d_output, d_finals):
    d_initial = []
    for layer in reversed(range(self.num_layers)):
        p, caches = self._layer(layer), self.caches[layer]
        grads = {name: np.zeros_like(value) for name, value in p.items()}
        d_state, dx = tuple(d[layer] for d in d_finals), [None] * len(caches)
        for t in reversed(range(len(caches))):
            if t == len(caches) - 1:  # as if the loss read the last output alone
                d_state = (d_state[0] + d_output[t], *d_state[1:])
            dx[t], d_state, step_grads = self._step_backward(p, d_state, caches[t])
            for name, grad in step_grads.items():
                grads[name] += grad
        self.grads.update({f"{name}_l{layer}": grad for name, grad in grads.items()})
        d_initial.append(d_state)
        d_output = np.stack(dx)
    return d_output, tuple(np.stack(component[::-1]) for component in zip(*d_initial, strict=True))


def bptt_truncated_to_one_step(self, d_output, d_finals):
    d_initial = []
    for layer in reversed(range(self.num_layers)):
        p, caches = self._layer(layer), self.caches[layer]
        grads = {name: np.zeros_like(value) for name, value in p.items()}
        d_state, dx = tuple(d[layer] for d in d_finals), [None] * len(caches)
        for t in reversed(range(len(caches))):
            d_state = (d_state[0] + d_output[t], *d_state[1:])
            dx[t], d_state, step_grads = self._step_backward(p, d_state, caches[t])
            if t:  # truncated backpropagation of one step: nothing crosses to step t - 1
                d_state = tuple(np.zeros_like(d) for d in d_state)
            for name, grad in step_grads.items():
                grads[name] += grad
        self.grads.update({f"{name}_l{layer}": grad for name, grad in grads.items()})
        d_initial.append(d_state)
        d_output = np.stack(dx)
    return d_output, tuple(np.stack(component[::-1]) for component in zip(*d_initial, strict=True))


def bptt_final_state_upstream_ignored(self, d_output, d_finals):
    d_initial = []
    for layer in reversed(range(self.num_layers)):
        p, caches = self._layer(layer), self.caches[layer]
        grads = {name: np.zeros_like(value) for name, value in p.items()}
        # the carry starts at zero, as if h_n (and c_n) fed nothing downstream
        d_state, dx = tuple(np.zeros_like(d[layer]) for d in d_finals), [None] * len(caches)
        for t in reversed(range(len(caches))):
            d_state = (d_state[0] + d_output[t], *d_state[1:])
            dx[t], d_state, step_grads = self._step_backward(p, d_state, caches[t])
            for name, grad in step_grads.items():
                grads[name] += grad
        self.grads.update({f"{name}_l{layer}": grad for name, grad in grads.items()})
        d_initial.append(d_state)
        d_output = np.stack(dx)
    return d_output, tuple(np.stack(component[::-1]) for component in zip(*d_initial, strict=True))


# -- the steps -----------------------------------------------------------------------------------


def rnn_dW_hh_from_next_h(p, dh_next, cache):
    x, h, h_next, slope = cache
    da = dh_next * slope
    return _pre_activations_backward(p, x, h_next, da, da)  # h_t where h_{t-1} multiplies W_hh


def lstm_cell_gradient_not_added(p, dh_next, dc_next, cache):
    x, h, c, i, f, g, o, tanh_c, (i_slope, f_slope, g_slope, o_slope, c_slope) = cache
    dc = dh_next * o * c_slope  # + dc_next missing: only the part through h'
    da = np.concatenate([dc * g * i_slope, dc * c * f_slope, dc * i * g_slope, dh_next * tanh_c * o_slope], axis=1)
    dx, dh, grads = _pre_activations_backward(p, x, h, da, da)
    return dx, dh, dc * f, grads


def lstm_gates_ifog(p, x, h, c):
    a_x, a_h = _pre_activations(p, x, h)
    a_i, a_f, a_o, a_g = np.split(a_x + a_h, 4, axis=1)  # the course's order i, f, o, g, not torch's i, f, g, o
    (i, i_slope), (f, f_slope), (o, o_slope) = _sigmoid(a_i), _sigmoid(a_f), _sigmoid(a_o)
    g, g_slope = _tanh(a_g)
    c_next = f * c + i * g
    tanh_c, c_slope = _tanh(c_next)
    return o * tanh_c, c_next, (x, h, c, i, f, g, o, tanh_c, (i_slope, f_slope, g_slope, o_slope, c_slope))


def gru_reset_gate_without_bias(p, x, h):
    a_x, a_h = _pre_activations(p, x, h)
    (ax_r, ax_z, ax_n), (ah_r, ah_z, ah_n) = np.split(a_x, 3, axis=1), np.split(a_h, 3, axis=1)
    (r, r_slope), (z, z_slope) = _sigmoid(ax_r + ah_r), _sigmoid(ax_z + ah_z)
    b_hn = np.split(p["b_hh"], 3)[2] if "b_hh" in p else 0
    n, n_slope = _tanh(ax_n + r * (ah_n - b_hn) + b_hn)  # r (W_hn h) + b_hn: b_hn outside the reset gate
    return (1 - z) * n + z * h, (x, h, r, z, n, ah_n, (r_slope, z_slope, n_slope))


def gru_reset_gate_on_h(p, x, h):
    a_x, a_h = _pre_activations(p, x, h)
    (ax_r, ax_z, ax_n), (ah_r, ah_z, ah_n) = np.split(a_x, 3, axis=1), np.split(a_h, 3, axis=1)
    (r, r_slope), (z, z_slope) = _sigmoid(ax_r + ah_r), _sigmoid(ax_z + ah_z)
    b_hn = np.split(p["b_hh"], 3)[2] if "b_hh" in p else 0
    n, n_slope = _tanh(ax_n + (r * h) @ np.split(p["W_hh"], 3, axis=1)[2] + b_hn)  # W_hn (r h): the 2014 paper's GRU
    return (1 - z) * n + z * h, (x, h, r, z, n, ah_n, (r_slope, z_slope, n_slope))


VARIANTS = [
    ("bptt_hidden_gradient_not_carried", SEQUENCES, _Recurrent, "_through_time", bptt_hidden_gradient_not_carried,
     "the gradient of h_{t-1} computed at each step but not carried to the step before: every step adds d_h_n",
     FAMILY),
    ("bptt_last_step_only", SEQUENCES, _Recurrent, "_through_time", bptt_last_step_only,
     "only the last step's output gradient used, as if the loss read the last output alone", FAMILY),
    ("bptt_truncated_to_one_step", SEQUENCES, _Recurrent, "_through_time", bptt_truncated_to_one_step,
     "backpropagation truncated to one step: no gradient (dh, dc) crosses from step t to step t - 1", FAMILY),
    ("bptt_final_state_upstream_ignored", SEQUENCES, _Recurrent, "_through_time", bptt_final_state_upstream_ignored,
     "the final states' upstream gradients (d_h_n, d_c_n) ignored: the carry starts at zero", FAMILY),
    ("rnn_dW_hh_from_next_h", "RNN RNNCell RNNCellFromZeros RNNFromZeros RNNExploding", recurrent,
     "rnn_step_backward", rnn_dW_hh_from_next_h, "dW_hh from the step's output h_t instead of its input h_{t-1}",
     FAMILY),
    ("lstm_cell_gradient_not_added", "LSTM LSTMCell LSTMCellFromZeros LSTMFromZeros", recurrent,
     "lstm_step_backward", lstm_cell_gradient_not_added,
     "dc = dh' o (1 - tanh(c')^2) without + dc': the cell state's own gradient not added", FAMILY),
    ("lstm_gates_ifog", "LSTM LSTMCell LSTMCellFromZeros LSTMFromZeros", recurrent, "lstm_step", lstm_gates_ifog,
     "the packed gates read in the order i, f, o, g where torch's (declared) order is i, f, g, o", FAMILY),
    ("gru_reset_gate_without_bias", "GRU GRUCell GRUCellFromZeros GRUFromZeros", recurrent, "gru_step",
     gru_reset_gate_without_bias, "n = tanh(W_in x + b_in + r (W_hn h) + b_hn): b_hn outside the reset gate", FAMILY),
    ("gru_reset_gate_on_h", "GRU GRUCell GRUCellFromZeros GRUFromZeros", recurrent, "gru_step", gru_reset_gate_on_h,
     "n = tanh(W_in x + b_in + W_hn (r h) + b_hn): the reset gate applied to h before W_hn", FAMILY),
]
