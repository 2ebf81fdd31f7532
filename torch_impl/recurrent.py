"""Twins of reference/recurrent.py: torch's own nn.RNNCell, nn.LSTMCell, nn.GRUCell, nn.RNN, nn.LSTM
and nn.GRU, with the reference's input checks (same rules, same messages) before torch is called.
Parameters keep torch's names and layout: weight_ih (G H, D), weight_hh (G H, H), bias_ih, bias_hh
(G H,), with _l0, _l1, ... in the sequence layers."""

from torch import nn

from torch_impl.base import check_input

NONLINEARITIES = ("tanh", "relu")


def check_nonlinearity(name, nonlinearity):
    if nonlinearity not in NONLINEARITIES:  # torch's RNNCell would only refuse it in forward
        raise ValueError(f"{name}: expected nonlinearity 'tanh' or 'relu', got {nonlinearity!r}")


def check_state(name, state, shape, dtype):
    check_input(state, name, shape)
    if state.dtype != dtype:
        raise TypeError(f"{name}: expected dtype {_short(dtype)} (the input's), got dtype {_short(state.dtype)}")
    return state


def check_pair(name, state, names):
    if not (isinstance(state, tuple | list) and len(state) == 2):
        got = f"a {type(state).__name__} of {len(state)}" if isinstance(state, tuple | list) else type(state).__name__
        raise TypeError(f"{name}: expected a pair {names}, got {got}")
    return state


def _short(dtype):
    return str(dtype).removeprefix("torch.")


def _check_cell(cell, x, state, what):
    """x (N, D) and, where given, the state (N, H) of the input's dtype."""
    name = type(cell).__name__
    check_input(x, f"{name} input", ("N", cell.input_size))
    if state is not None:
        check_state(f"{name} {what}", state, (x.shape[0], cell.hidden_size), x.dtype)


def _check_sequence(layer, x, states):
    """x (T, N, D) or (N, T, D) with at least one step; the given initial states (L, N, H)."""
    name, d = type(layer).__name__, layer.input_size
    check_input(x, f"{name} input", ("N", "T", d) if layer.batch_first else ("T", "N", d))
    if x.shape[1 if layer.batch_first else 0] == 0:
        raise ValueError(f"{name} input: expected at least one step, got shape {tuple(x.shape)}")
    shape = (layer.num_layers, x.shape[0 if layer.batch_first else 1], layer.hidden_size)
    for what, state in states.items():
        if state is not None:
            check_state(f"{name} {what}", state, shape, x.dtype)


def _check_layers(name, num_layers):
    if num_layers < 1:
        raise ValueError(f"{name}: expected num_layers >= 1, got {num_layers}")


class RNNCell(nn.RNNCell):
    """nn.RNNCell(input_size, hidden_size, bias, nonlinearity); ``forward(x, h)`` returns h'."""

    def __init__(self, input_size, hidden_size, nonlinearity="tanh", bias=True):
        check_nonlinearity("RNNCell", nonlinearity)
        super().__init__(input_size, hidden_size, bias=bias, nonlinearity=nonlinearity)

    def forward(self, x, h=None):
        _check_cell(self, x, h, "h")
        return super().forward(x, h)


class LSTMCell(nn.LSTMCell):
    """nn.LSTMCell(input_size, hidden_size, bias); ``forward(x, (h, c))`` returns (h', c')."""

    def forward(self, x, state=None):
        h, c = (None, None) if state is None else check_pair("LSTMCell state", state, "(h, c)")
        _check_cell(self, x, h, "h")
        _check_cell(self, x, c, "c")
        return super().forward(x, state)


class GRUCell(nn.GRUCell):
    """nn.GRUCell(input_size, hidden_size, bias); ``forward(x, h)`` returns h'."""

    def forward(self, x, h=None):
        _check_cell(self, x, h, "h")
        return super().forward(x, h)


class RNN(nn.RNN):
    """nn.RNN; ``forward(x, h0)`` returns (output, h_n)."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False):
        check_nonlinearity("RNN", nonlinearity)
        _check_layers("RNN", num_layers)
        super().__init__(input_size, hidden_size, num_layers, nonlinearity=nonlinearity, bias=bias,
                         batch_first=batch_first)

    def forward(self, x, h0=None):
        _check_sequence(self, x, {"h0": h0})
        return super().forward(x, h0)


class LSTM(nn.LSTM):
    """nn.LSTM; ``forward(x, (h0, c0))`` returns (output, (h_n, c_n))."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False):
        _check_layers("LSTM", num_layers)
        super().__init__(input_size, hidden_size, num_layers, bias=bias, batch_first=batch_first)

    def forward(self, x, state=None):
        h0, c0 = (None, None) if state is None else check_pair("LSTM state", state, "(h0, c0)")
        _check_sequence(self, x, {"h0": h0, "c0": c0})
        return super().forward(x, state)


class GRU(nn.GRU):
    """nn.GRU; ``forward(x, h0)`` returns (output, h_n)."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False):
        _check_layers("GRU", num_layers)
        super().__init__(input_size, hidden_size, num_layers, bias=bias, batch_first=batch_first)

    def forward(self, x, h0=None):
        _check_sequence(self, x, {"h0": h0})
        return super().forward(x, h0)
