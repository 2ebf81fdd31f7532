"""Recurrent layers: the RNN, LSTM and GRU cells (one step) and the sequence layers built from them.

Every cell computes its gates from two affine maps, one of the input and one of the hidden state,
a_x = x W_ih + b_ih and a_h = h W_hh + b_hh, with G stacked gates of H units each (RNN G = 1,
LSTM G = 4 in torch's order i, f, g, o, GRU G = 3 in torch's order r, z, n along the last axis).
W_ih: (D, G H) and W_hh: (H, G H) are stored for ``x @ W``, the transposes of torch's weight_ih and
weight_hh; b_ih, b_hh: (G H,). ``bias=False`` leaves out both biases. A sequence layer keeps one
such set per layer, named W_ih_l0, W_hh_l0, b_ih_l0, b_hh_l0, W_ih_l1, ...

The step functions are the maths of one step, forward and backward; the cells run one step, the
sequence layers run them over time and layers (backpropagation through time: the steps backward,
carrying the hidden state's gradient, and the LSTM's cell state's, from step t to step t - 1).
An initial state that is not given is zeros and gets no gradient: backward then returns dx alone.
"""

import numpy as np

from reference.base import Layer, check_input

NONLINEARITIES = ("tanh", "relu")


def _sigmoid(a):
    """sigmoid(a) = 1 / (1 + e^-a) and its slope sigmoid(a) sigmoid(-a), both from e^-|a| (which never
    overflows). The slope is taken from a, not as y (1 - y): where y rounds to 1, 1 - y keeps only its
    rounding error, and a saturated gate's gradient, scaled up by a large cell state, would lose every digit
    (torch's float32 nn.LSTM keeps them)."""
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e)), e / (1 + e) ** 2


def _tanh(a):
    """tanh(a) and its slope 1 - tanh(a)^2, the slope as 4 e^-2|a| / (1 + e^-2|a|)^2 (see ``_sigmoid``)."""
    e = np.exp(-2 * np.abs(a))
    return np.tanh(a), 4 * e / (1 + e) ** 2


def _pre_activations(p, x, h):
    """(x W_ih + b_ih, h W_hh + b_hh): (N, G H) each."""
    a_x, a_h = x @ p["W_ih"], h @ p["W_hh"]
    if "b_ih" in p:
        a_x, a_h = a_x + p["b_ih"], a_h + p["b_hh"]
    return a_x, a_h


def _pre_activations_backward(p, x, h, d_x, d_h):
    """Given the gradients of the two affine maps, (dL/dx, dL/dh, the parameters' gradients):
    dx = d_x W_ih^T, dh = d_h W_hh^T, dW_ih = x^T d_x, dW_hh = h^T d_h, db_ih = sum_n d_x, db_hh = sum_n d_h."""
    grads = {"W_ih": x.T @ d_x, "W_hh": h.T @ d_h}
    if "b_ih" in p:
        grads |= {"b_ih": d_x.sum(axis=0), "b_hh": d_h.sum(axis=0)}
    return d_x @ p["W_ih"].T, d_h @ p["W_hh"].T, grads


def _parameters(params, gates, input_size, hidden_size, bias, rng, suffix=""):
    """torch's initialisation: every weight and bias uniform in [-1/sqrt(H), 1/sqrt(H)]."""
    bound = 1.0 / np.sqrt(hidden_size)
    shapes = {"W_ih": (input_size, gates * hidden_size), "W_hh": (hidden_size, gates * hidden_size)}
    if bias:
        shapes |= {"b_ih": (gates * hidden_size,), "b_hh": (gates * hidden_size,)}
    for name, shape in shapes.items():
        params[name + suffix] = rng.uniform(-bound, bound, shape)


# -- one step of each cell: p holds W_ih, W_hh (and b_ih, b_hh) ------------------------------


def rnn_step(p, x, h, nonlinearity):
    """h' = act(a), a = x W_ih + b_ih + h W_hh + b_hh, act tanh or relu.  x: (N, D), h, h': (N, H)."""
    a_x, a_h = _pre_activations(p, x, h)
    a = a_x + a_h
    h_next, slope = _tanh(a) if nonlinearity == "tanh" else (np.maximum(a, 0), a > 0)
    return h_next, (x, h, h_next, slope)


def rnn_step_backward(p, dh_next, cache):
    """da = dh' act'(a): 1 - h'^2 for tanh, [a > 0] for relu (torch's 0 at the kink); then the affine maps'."""
    x, h, h_next, slope = cache
    da = dh_next * slope
    return _pre_activations_backward(p, x, h, da, da)


def lstm_step(p, x, h, c):
    """i, f, g, o = sigmoid, sigmoid, tanh, sigmoid of the four slices of x W_ih + b_ih + h W_hh + b_hh;
    c' = f c + i g,  h' = o tanh(c').  x: (N, D), h, c, h', c': (N, H)."""
    a_x, a_h = _pre_activations(p, x, h)
    a_i, a_f, a_g, a_o = np.split(a_x + a_h, 4, axis=1)
    (i, i_slope), (f, f_slope), (o, o_slope) = _sigmoid(a_i), _sigmoid(a_f), _sigmoid(a_o)
    g, g_slope = _tanh(a_g)
    c_next = f * c + i * g
    tanh_c, c_slope = _tanh(c_next)
    return o * tanh_c, c_next, (x, h, c, i, f, g, o, tanh_c, (i_slope, f_slope, g_slope, o_slope, c_slope))


def lstm_step_backward(p, dh_next, dc_next, cache):
    """dc = dc' + dh' o (1 - tanh(c')^2) (the cell state's own gradient and the one through h');
    do = dh' tanh(c'), di = dc g, df = dc c, dg = dc i, each times its activation's slope;
    dc_prev = dc f. Returns (dx, dh, dc_prev, the parameters' gradients)."""
    x, h, c, i, f, g, o, tanh_c, (i_slope, f_slope, g_slope, o_slope, c_slope) = cache
    dc = dc_next + dh_next * o * c_slope
    da = np.concatenate([dc * g * i_slope, dc * c * f_slope, dc * i * g_slope, dh_next * tanh_c * o_slope], axis=1)
    dx, dh, grads = _pre_activations_backward(p, x, h, da, da)
    return dx, dh, dc * f, grads


def gru_step(p, x, h):
    """r = sigmoid(ax_r + ah_r),  z = sigmoid(ax_z + ah_z),  n = tanh(ax_n + r ah_n),  h' = (1 - z) n + z h,
    with a_x = x W_ih + b_ih and a_h = h W_hh + b_hh split into their r, z, n slices.
    The reset gate multiplies W_hn h + b_hn, bias included, as torch defines it.
    x: (N, D), h, h': (N, H)."""
    a_x, a_h = _pre_activations(p, x, h)
    (ax_r, ax_z, ax_n), (ah_r, ah_z, ah_n) = np.split(a_x, 3, axis=1), np.split(a_h, 3, axis=1)
    (r, r_slope), (z, z_slope) = _sigmoid(ax_r + ah_r), _sigmoid(ax_z + ah_z)
    n, n_slope = _tanh(ax_n + r * ah_n)
    return (1 - z) * n + z * h, (x, h, r, z, n, ah_n, (r_slope, z_slope, n_slope))


def gru_step_backward(p, dh_next, cache):
    """dn = dh' (1 - z), dz = dh' (h - n), dh = dh' z directly; da_n = dn (1 - n^2), dr = da_n ah_n;
    the input's map gets (dr r(1 - r), dz z(1 - z), da_n), the hidden state's the same with da_n r
    (each derivative an activation's slope)."""
    x, h, r, z, n, ah_n, (r_slope, z_slope, n_slope) = cache
    da_n = dh_next * (1 - z) * n_slope
    da_r, da_z = da_n * ah_n * r_slope, dh_next * (h - n) * z_slope
    dx, dh, grads = _pre_activations_backward(p, x, h, np.concatenate([da_r, da_z, da_n], axis=1),
                                              np.concatenate([da_r, da_z, da_n * r], axis=1))
    return dx, dh + dh_next * z, grads


# -- input checks ------------------------------------------------------------------------------


def check_nonlinearity(name, nonlinearity):
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"{name}: expected nonlinearity 'tanh' or 'relu', got {nonlinearity!r}")


def check_state(name, state, shape, dtype):
    """A given state (h0, c0, h, c): a floating array of ``shape`` and the input's dtype."""
    check_input(state, name, shape)
    if state.dtype != dtype:  # NumPy would promote the whole sequence; torch refuses the mix
        raise TypeError(f"{name}: expected dtype {dtype} (the input's), got dtype {state.dtype}")
    return state


def check_pair(name, state, names):
    """An LSTM's state: a pair (a tuple or list of two), ``names`` saying which."""
    if not (isinstance(state, tuple | list) and len(state) == 2):
        got = f"a {type(state).__name__} of {len(state)}" if isinstance(state, tuple | list) else type(state).__name__
        raise TypeError(f"{name}: expected a pair {names}, got {got}")
    return state


# -- the cells ----------------------------------------------------------------------------------


class _Cell(Layer):
    """What the three cells share: parameters, and the checks of the input and the given state."""

    gates = 1

    def __init__(self, input_size, hidden_size, bias, rng):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        _parameters(self.params, self.gates, input_size, hidden_size, bias, rng or np.random.default_rng())

    def _checked(self, x, state, what):
        """x (N, D) checked; the state (N, H) checked, or zeros if None (then not differentiated)."""
        name = type(self).__name__
        check_input(x, f"{name} input", ("N", self.input_size))
        shape = (x.shape[0], self.hidden_size)
        return np.zeros(shape, dtype=x.dtype) if state is None else check_state(f"{name} {what}", state, shape, x.dtype)


class RNNCell(_Cell):
    """h' = act(x W_ih + b_ih + h W_hh + b_hh), act = tanh or relu: torch's nn.RNNCell.

    x: (N, D), h, h': (N, H); W_ih: (D, H), W_hh: (H, H), b_ih, b_hh: (H,).
    With da = dh' act'(a):  dx = da W_ih^T,  dh = da W_hh^T,  dW_ih = x^T da,  dW_hh = h^T da,
    db_ih = db_hh = sum_n da.  ``backward(dh')`` returns (dx, dh), or dx when h was not given.
    """

    def __init__(self, input_size, hidden_size, nonlinearity="tanh", bias=True, rng=None):
        check_nonlinearity("RNNCell", nonlinearity)
        super().__init__(input_size, hidden_size, bias, rng)
        self.nonlinearity = nonlinearity

    def forward(self, x, h=None):
        self.given_state = h is not None
        h_next, self.cache = rnn_step(self.params, x, self._checked(x, h, "h"), self.nonlinearity)
        return self._remember_output(h_next)

    def backward(self, dh_next):
        dx, dh, self.grads = rnn_step_backward(self.params, self._check_grad(dh_next), self.cache)
        return (dx, dh) if self.given_state else dx


class LSTMCell(_Cell):
    """torch's nn.LSTMCell: slices a_i, a_f, a_g, a_o of x W_ih + b_ih + h W_hh + b_hh (N, 4H);
    c' = sigmoid(a_f) c + sigmoid(a_i) tanh(a_g),  h' = sigmoid(a_o) tanh(c').

    x: (N, D), h, c, h', c': (N, H); W_ih: (D, 4H), W_hh: (H, 4H), b_ih, b_hh: (4H,).
    ``forward(x, (h, c))`` returns (h', c'); ``backward(dh', dc')`` returns (dx, (dh, dc)), or dx
    when no state was given (see ``lstm_step_backward`` for the maths).
    """

    gates = 4

    def __init__(self, input_size, hidden_size, bias=True, rng=None):
        super().__init__(input_size, hidden_size, bias, rng)

    def forward(self, x, state=None):
        self.given_state = state is not None
        h, c = (None, None) if state is None else check_pair("LSTMCell state", state, "(h, c)")
        h, c = self._checked(x, h, "h"), self._checked(x, c, "c")
        h_next, c_next, self.cache = lstm_step(self.params, x, h, c)
        return self._remember_outputs(h_next, c_next)

    def backward(self, dh_next, dc_next):
        dh_next, dc_next = self._check_grads(dh_next, dc_next)
        dx, dh, dc, self.grads = lstm_step_backward(self.params, dh_next, dc_next, self.cache)
        return (dx, (dh, dc)) if self.given_state else dx


class GRUCell(_Cell):
    """torch's nn.GRUCell: r, z, n from a_x = x W_ih + b_ih and a_h = h W_hh + b_hh (N, 3H each);
    r = sigmoid(ax_r + ah_r),  z = sigmoid(ax_z + ah_z),  n = tanh(ax_n + r ah_n),  h' = (1 - z) n + z h
    (the reset gate multiplies ah_n = W_hn h + b_hn, bias included).

    x: (N, D), h, h': (N, H); W_ih: (D, 3H), W_hh: (H, 3H), b_ih, b_hh: (3H,).
    ``backward(dh')`` returns (dx, dh), or dx when h was not given (see ``gru_step_backward``).
    """

    gates = 3

    def __init__(self, input_size, hidden_size, bias=True, rng=None):
        super().__init__(input_size, hidden_size, bias, rng)

    def forward(self, x, h=None):
        self.given_state = h is not None
        h_next, self.cache = gru_step(self.params, x, self._checked(x, h, "h"))
        return self._remember_output(h_next)

    def backward(self, dh_next):
        dx, dh, self.grads = gru_step_backward(self.params, self._check_grad(dh_next), self.cache)
        return (dx, dh) if self.given_state else dx


# -- the sequence layers --------------------------------------------------------------------------


class _Recurrent(Layer):
    """What RNN, LSTM and GRU share: parameters per layer, the input checks, the loops over layers
    and time, and the forward and backward of a state that is h alone (LSTM has its own). A subclass
    names its step (``_step``, ``_step_backward``) on state tuples: (h,) for RNN and GRU, (h, c) for
    LSTM; the first component is the step's output."""

    gates = 1

    def __init__(self, input_size, hidden_size, num_layers, bias, batch_first, rng):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"{type(self).__name__}: expected num_layers >= 1, got {num_layers}")
        rng = rng or np.random.default_rng()
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.batch_first = batch_first
        for layer in range(num_layers):
            _parameters(self.params, self.gates, input_size if layer == 0 else hidden_size, hidden_size, bias, rng,
                        f"_l{layer}")

    def _layer(self, layer):
        """Layer ``layer``'s parameters under the step functions' names (W_ih, W_hh, b_ih, b_hh)."""
        names = ("W_ih", "W_hh", "b_ih", "b_hh")
        return {name: self.params[f"{name}_l{layer}"] for name in names if f"{name}_l{layer}" in self.params}

    def _time_major(self, x):
        """(N, T, .) <-> (T, N, .) where batch_first; unchanged otherwise."""
        return x.swapaxes(0, 1) if self.batch_first else x

    def _checked_input(self, x):
        name, d = type(self).__name__, self.input_size
        check_input(x, f"{name} input", ("N", "T", d) if self.batch_first else ("T", "N", d))
        if x.shape[1 if self.batch_first else 0] == 0:
            raise ValueError(f"{name} input: expected at least one step, got shape {x.shape}")
        return self._time_major(x)

    def _initial(self, state, what, x):
        """A given initial state (L, N, H) checked, or zeros if None. ``x`` is time-major."""
        shape = (self.num_layers, x.shape[1], self.hidden_size)
        if state is None:
            return np.zeros(shape, dtype=x.dtype)
        return check_state(f"{type(self).__name__} {what}", state, shape, x.dtype)

    def _through_layers(self, x, initial):
        """x: (T, N, D); initial: the state's components, each (L, N, H). Layer l runs its steps on
        the outputs of layer l - 1. Returns the last layer's outputs (T, N, H) and the final states."""
        self.caches, finals = [], []
        for layer in range(self.num_layers):
            p, state, outputs, caches = self._layer(layer), tuple(s[layer] for s in initial), [], []
            for x_t in x:
                state, cache = self._step(p, x_t, state)
                outputs.append(state[0])
                caches.append(cache)
            self.caches.append(caches)
            finals.append(state)
            x = np.stack(outputs)
        return x, tuple(np.stack(component) for component in zip(*finals, strict=True))

    def _through_time(self, d_output, d_finals):
        """Backpropagation through time. d_output: (T, N, H); d_finals: the final states' upstream
        gradients, each (L, N, H). In each layer, from the top, the state's gradient starts at the
        final state's upstream and runs from step T - 1 to step 0: at step t the output's upstream
        d_output[t] is added to dh, the step's backward gives dx_t, the parameters' share and the
        gradient carried to step t - 1. The dx of a layer is the d_output of the layer below.
        Returns dx (T, N, D) and the initial states' gradients, each (L, N, H)."""
        d_initial = []
        for layer in reversed(range(self.num_layers)):
            p, caches = self._layer(layer), self.caches[layer]
            grads = {name: np.zeros_like(value) for name, value in p.items()}
            d_state, dx = tuple(d[layer] for d in d_finals), [None] * len(caches)
            for t in reversed(range(len(caches))):
                d_state = (d_state[0] + d_output[t], *d_state[1:])
                dx[t], d_state, step_grads = self._step_backward(p, d_state, caches[t])
                for name, grad in step_grads.items():
                    grads[name] += grad
            self.grads.update({f"{name}_l{layer}": grad for name, grad in grads.items()})
            d_initial.append(d_state)
            d_output = np.stack(dx)
        return d_output, tuple(np.stack(component[::-1]) for component in zip(*d_initial, strict=True))

    def forward(self, x, h0=None):
        x = self._checked_input(x)
        self.given_state = h0 is not None
        output, (h_n,) = self._through_layers(x, (self._initial(h0, "h0", x),))
        return self._remember_outputs(self._time_major(output), h_n)

    def backward(self, d_output, d_h_n):
        d_output, d_h_n = self._check_grads(d_output, d_h_n)
        dx, (dh0,) = self._through_time(self._time_major(d_output), (d_h_n,))
        return (self._time_major(dx), dh0) if self.given_state else self._time_major(dx)


class RNN(_Recurrent):
    """torch's nn.RNN: h_t = act(x_t W_ih + b_ih + h_{t-1} W_hh + b_hh) in each layer, act tanh or relu,
    layer l > 0 taking layer l - 1's h_t as its x_t.

    x: (T, N, D), or (N, T, D) with batch_first; h0, h_n: (L, N, H); output: the last layer's h_t,
    (T, N, H) or (N, T, H). W_ih_l0: (D, H), W_ih_l{k > 0}: (H, H), W_hh_lk: (H, H), b_ih_lk, b_hh_lk: (H,).
    ``forward(x, h0)`` returns (output, h_n); ``backward(d_output, d_h_n)`` returns (dx, dh0), or dx
    when h0 was not given; the maths of a step is ``rnn_step_backward``'s.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False,
                 rng=None):
        check_nonlinearity("RNN", nonlinearity)
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, rng)
        self.nonlinearity = nonlinearity

    def _step(self, p, x, state):
        h, cache = rnn_step(p, x, state[0], self.nonlinearity)
        return (h,), cache

    def _step_backward(self, p, d_state, cache):
        dx, dh, grads = rnn_step_backward(p, d_state[0], cache)
        return dx, (dh,), grads


class LSTM(_Recurrent):
    """torch's nn.LSTM: ``lstm_step`` in each layer and step, layer l > 0 taking layer l - 1's h_t as x_t.

    x: (T, N, D), or (N, T, D) with batch_first; h0, c0, h_n, c_n: (L, N, H); output: the last layer's
    h_t, (T, N, H) or (N, T, H). W_ih_l0: (D, 4H), W_ih_l{k > 0}: (H, 4H), W_hh_lk: (H, 4H), b_*_lk: (4H,).
    ``forward(x, (h0, c0))`` returns (output, (h_n, c_n)); ``backward(d_output, (d_h_n, d_c_n))``
    returns (dx, (dh0, dc0)), or dx when no state was given. Backward carries dh and dc through time.
    """

    gates = 4

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, rng=None):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, rng)

    def _step(self, p, x, state):
        h, c, cache = lstm_step(p, x, *state)
        return (h, c), cache

    def _step_backward(self, p, d_state, cache):
        dx, dh, dc, grads = lstm_step_backward(p, *d_state, cache)
        return dx, (dh, dc), grads

    def forward(self, x, state=None):
        x = self._checked_input(x)
        self.given_state = state is not None
        h0, c0 = (None, None) if state is None else check_pair("LSTM state", state, "(h0, c0)")
        output, (h_n, c_n) = self._through_layers(x, (self._initial(h0, "h0", x), self._initial(c0, "c0", x)))
        output, h_n, c_n = self._remember_outputs(self._time_major(output), h_n, c_n)
        return output, (h_n, c_n)

    def backward(self, d_output, d_state):
        d_output, d_h_n, d_c_n = self._check_grads(d_output, *check_pair("LSTM d_state", d_state, "(d_h_n, d_c_n)"))
        dx, (dh0, dc0) = self._through_time(self._time_major(d_output), (d_h_n, d_c_n))
        return (self._time_major(dx), (dh0, dc0)) if self.given_state else self._time_major(dx)


class GRU(_Recurrent):
    """torch's nn.GRU: ``gru_step`` in each layer and step, layer l > 0 taking layer l - 1's h_t as x_t.

    x: (T, N, D), or (N, T, D) with batch_first; h0, h_n: (L, N, H); output: the last layer's h_t,
    (T, N, H) or (N, T, H). W_ih_l0: (D, 3H), W_ih_l{k > 0}: (H, 3H), W_hh_lk: (H, 3H), b_*_lk: (3H,).
    ``forward(x, h0)`` returns (output, h_n); ``backward(d_output, d_h_n)`` returns (dx, dh0), or dx
    when h0 was not given.
    """

    gates = 3

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, rng=None):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, rng)

    def _step(self, p, x, state):
        h, cache = gru_step(p, x, state[0])
        return (h,), cache

    def _step_backward(self, p, d_state, cache):
        dx, dh, grads = gru_step_backward(p, d_state[0], cache)
        return dx, (dh,), grads
