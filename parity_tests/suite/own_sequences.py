"""The course's sequence layers in its functional style, each with a broken copy.
``test_sequences.py`` checks them through declarations alone. One step of each recurrence
is ``own_cells``' (``rnn_step_*``, ``lstm_step_*``, checked in ``test_several_inputs.py``);
the sequences here run it over time.

- ``rnn_forward`` / ``rnn_backward``: ``(h, cache)``, h (N, T, H) the hidden state of every
  step; ``(dx, dh0, dWx, dWh, db)`` from the upstream gradient of every step's h.
- ``lstm_forward`` / ``lstm_backward``: the same from c0 = 0, the gates i, f, o, g along the
  columns of Wx (D, 4H).
- ``word_embedding_forward`` / ``word_embedding_backward``: ``out = W[x]``, x integers (N, T);
  backward gives dW alone.
- ``temporal_affine_forward`` / ``temporal_affine_backward``: ``x w + b`` at every step;
  ``(dx, dw, db)``.
- ``temporal_softmax_loss``: ``(loss, dx)`` in one call, the cross-entropy of the steps the
  mask keeps, summed and divided by N; ``loss_backward(dloss, dx)`` is the backward the
  Functional convention calls, the loss's dx as its cache.
"""

import numpy as np

from parity_tests.suite.own_cells import lstm_step_backward, lstm_step_forward, rnn_step_backward, rnn_step_forward


def rnn_forward(x, h0, Wx, Wh, b):
    """h[:, t] = tanh(x[:, t] Wx + h[:, t-1] Wh + b), h[:, -1] = h0.  x: (N, T, D), h0: (N, H),
    Wx: (D, H), Wh: (H, H), b: (H,); h: (N, T, H)."""
    prev_h, hs, caches = h0, [], []
    for t in range(x.shape[1]):
        prev_h, cache = rnn_step_forward(x[:, t], prev_h, Wx, Wh, b)
        hs.append(prev_h)
        caches.append(cache)
    return np.stack(hs, axis=1), caches


def rnn_backward(dh, caches):
    """Backpropagation through time: the gradient reaching h[:, t] is dh[:, t] and what h[:, t+1]
    passes back through Wh; the parameters' gradients add up over the steps."""
    dxs, dparams, dprev_h = [], [], np.zeros_like(dh[:, 0])
    for t in reversed(range(len(caches))):
        dx_t, dprev_h, *dparams_t = rnn_step_backward(dh[:, t] + dprev_h, caches[t])
        dxs.insert(0, dx_t)
        dparams.append(dparams_t)
    dWx, dWh, db = (sum(steps) for steps in zip(*dparams, strict=True))
    return np.stack(dxs, axis=1), dprev_h, dWx, dWh, db


def rnn_backward_not_carried(dh, caches):
    dxs, dparams, dprev_h = [], [], np.zeros_like(dh[:, 0])
    for t in reversed(range(len(caches))):
        dx_t, dprev_h, *dparams_t = rnn_step_backward(dh[:, t], caches[t])  # step t+1's dprev_h dropped
        dxs.insert(0, dx_t)
        dparams.append(dparams_t)
    dWx, dWh, db = (sum(steps) for steps in zip(*dparams, strict=True))
    return np.stack(dxs, axis=1), dprev_h, dWx, dWh, db


def lstm_forward(x, h0, Wx, Wh, b):
    """lstm_step_forward at every step from (h0, c0 = 0).  x: (N, T, D), h0: (N, H), Wx: (D, 4H),
    Wh: (H, 4H), b: (4H,), the gates i, f, o, g in that order; h: (N, T, H)."""
    prev_h, prev_c, hs, caches = h0, np.zeros_like(h0), [], []
    for t in range(x.shape[1]):
        prev_h, prev_c, cache = lstm_step_forward(x[:, t], prev_h, prev_c, Wx, Wh, b)
        hs.append(prev_h)
        caches.append(cache)
    return np.stack(hs, axis=1), caches


def lstm_backward(dh, caches):
    """Backpropagation through time: step t gets dh[:, t] plus the dprev_h of step t+1, and the
    dprev_c of step t+1 as its cell's gradient."""
    dxs, dparams, dprev_h, dprev_c = [], [], np.zeros_like(dh[:, 0]), np.zeros_like(dh[:, 0])
    for t in reversed(range(len(caches))):
        dx_t, dprev_h, dprev_c, *dparams_t = lstm_step_backward(dh[:, t] + dprev_h, dprev_c, caches[t])
        dxs.insert(0, dx_t)
        dparams.append(dparams_t)
    dWx, dWh, db = (sum(steps) for steps in zip(*dparams, strict=True))
    return np.stack(dxs, axis=1), dprev_h, dWx, dWh, db


def lstm_backward_no_cell_gradient(dh, caches):
    dxs, dparams, dprev_h = [], [], np.zeros_like(dh[:, 0])
    for t in reversed(range(len(caches))):
        no_dc = np.zeros_like(dprev_h)  # the carried cell's gradient not added: only the path through h counts
        dx_t, dprev_h, _, *dparams_t = lstm_step_backward(dh[:, t] + dprev_h, no_dc, caches[t])
        dxs.insert(0, dx_t)
        dparams.append(dparams_t)
    dWx, dWh, db = (sum(steps) for steps in zip(*dparams, strict=True))
    return np.stack(dxs, axis=1), dprev_h, dWx, dWh, db


def word_embedding_forward(x, W):
    """out[n, t] = W[x[n, t]].  x: integers (N, T) in [0, V), W: (V, D); out: (N, T, D)."""
    return W[x], (x, W.shape)


def word_embedding_backward(dout, cache):
    """dW[v] = the sum of dout[n, t] over every (n, t) with x[n, t] = v: np.add.at adds a
    repeated index once per occurrence."""
    x, shape = cache
    dW = np.zeros(shape, dtype=dout.dtype)
    np.add.at(dW, x, dout)
    return dW


def word_embedding_backward_overwrites(dout, cache):
    x, shape = cache
    dW = np.zeros(shape, dtype=dout.dtype)
    dW[x] = dout  # a repeated index keeps one occurrence's gradient, not their sum
    return dW


def temporal_affine_forward(x, w, b):
    """out[n, t] = x[n, t] w + b.  x: (N, T, D), w: (D, M), b: (M,); out: (N, T, M)."""
    return x @ w + b, (x, w)


def temporal_affine_backward(dout, cache):
    x, w = cache
    D, M = w.shape
    return dout @ w.T, x.reshape(-1, D).T @ dout.reshape(-1, M), dout.sum(axis=(0, 1))


def temporal_affine_backward_db_per_step(dout, cache):
    x, w = cache
    D, M = w.shape
    return dout @ w.T, x.reshape(-1, D).T @ dout.reshape(-1, M), dout.sum(axis=0)  # over N alone: (T, M)


def temporal_softmax_loss(x, y, mask):
    """loss = -(1 / N) sum over (n, t) with mask[n, t] of log softmax(x[n, t])[y[n, t]], and
    dx = mask (softmax(x) - onehot(y)) / N.  x: (N, T, V), y: integers (N, T), mask: bool (N, T)."""
    N, T, V = x.shape
    log_probs = _log_softmax(x.reshape(N * T, V))
    rows, labels, kept = np.arange(N * T), y.reshape(N * T), mask.reshape(N * T)
    loss = -np.sum(log_probs[rows, labels] * kept) / N
    dx = np.exp(log_probs)
    dx[rows, labels] -= 1
    dx *= kept[:, None] / N
    return loss, dx.reshape(N, T, V)


def temporal_softmax_loss_unmasked_dx(x, y, mask):
    N, T, V = x.shape
    log_probs = _log_softmax(x.reshape(N * T, V))
    rows, labels, kept = np.arange(N * T), y.reshape(N * T), mask.reshape(N * T)
    loss = -np.sum(log_probs[rows, labels] * kept) / N
    dx = np.exp(log_probs)
    dx[rows, labels] -= 1
    dx /= N  # the mask forgotten: padded steps get a gradient they never had in the loss
    return loss, dx.reshape(N, T, V)


def _log_softmax(rows):
    shifted = rows - rows.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def loss_backward(dloss, dx):
    """The gradient a loss returned with its value, times the upstream gradient of the loss."""
    return dloss * dx
