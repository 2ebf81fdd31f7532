"""Layers as other people write them, each in the convention of a style in wide use, with a
broken copy of each. ``test_own_layers.py`` checks them through declarations alone.

- ``SeedLinear``: the seed's style: attributes ``W``, ``b``; ``grad_W``, ``grad_b``; backward
  returns dX.
- ``TwoLayerNet``: two ``SeedLinear`` sub-layers as attributes, reached by dotted names.
- ``DenseLayer``: the from-scratch-book style: ``weights`` (in, out), ``biases`` (1, out);
  forward stores ``output`` and returns nothing; backward stores ``dweights``, ``dbiases``,
  ``dinputs``.
- ``ConvNHWC``: the dict style: ``parameters`` / ``gradients``, NHWC tensors, weights
  (kh, kw, in, out) and bias (1, 1, 1, out), built on the first forward; every forward
  appends its input to the list ``X``, backward reads the first, and gradients accumulate
  until ``flush_gradients()``.
- ``BatchNormDict``: the dict style with running statistics inside ``parameters`` and a
  ``trainable`` flag for train / eval.
- ``affine_forward`` / ``affine_backward``: the course style, ``(out, cache)`` and
  ``(dx, dw, db)``; x of any shape (N, d1, ..., dk), flattened to (N, D).
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


class SeedLinear:
    """y = x W + b.  x: (N, in), W: (in, out), b: (out,)."""

    def __init__(self, in_features, out_features):
        self.W = np.random.default_rng(0).standard_normal((in_features, out_features))
        self.b = np.zeros(out_features)

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, grad_in):
        self.grad_W = self.x.T @ grad_in
        self.grad_b = grad_in.sum(axis=0)
        return grad_in @ self.W.T


class BrokenSeedLinear(SeedLinear):
    def backward(self, grad_in):
        grad_x = super().backward(grad_in)
        self.grad_b = grad_in.mean(axis=0)  # mean where the loss sums over the batch
        return grad_x


class TwoLayerNet:
    """y = relu(x W1 + b1) W2 + b2, from two SeedLinear sub-layers ``fc1`` and ``fc2``."""

    def __init__(self, n_in, n_hidden, n_out):
        self.fc1, self.fc2 = SeedLinear(n_in, n_hidden), SeedLinear(n_hidden, n_out)

    def forward(self, x):
        self.hidden = self.fc1.forward(x)
        return self.fc2.forward(np.maximum(self.hidden, 0))

    def backward(self, grad_out):
        return self.fc1.backward(self.fc2.backward(grad_out) * (self.hidden > 0))


class DenseLayer:
    """output = inputs weights + biases.  inputs: (N, in), weights: (in, out), biases: (1, out)."""

    def __init__(self, n_inputs, n_neurons):
        self.weights = 0.01 * np.random.default_rng(0).standard_normal((n_inputs, n_neurons))
        self.biases = np.zeros((1, n_neurons))

    def forward(self, inputs):
        self.inputs = inputs
        self.output = inputs @ self.weights + self.biases

    def backward(self, dvalues):
        self.dweights = self.inputs.T @ dvalues
        self.dbiases = np.sum(dvalues, axis=0, keepdims=True)
        self.dinputs = dvalues @ self.weights.T


class BrokenDenseLayer(DenseLayer):
    def backward(self, dvalues):
        super().backward(dvalues)
        self.dbiases = np.sum(dvalues, axis=0)  # keepdims forgotten: (out,) where biases are (1, out)


class ConvNHWC:
    """Cross-correlation, stride 1.  X: (N, H, W, in), W: (kh, kw, in, out), b: (1, 1, 1, out),
    Y: (N, H + 2p - kh + 1, W + 2p - kw + 1, out).  dW = sum windows x dY, dX = full
    correlation of dY with the flipped kernel."""

    def __init__(self, out_ch, kernel, pad=0):
        self.out_ch, self.kernel, self.pad = out_ch, kernel, pad
        self.parameters, self.gradients, self.X = {}, {}, []

    def _init_params(self, in_ch):
        kh, kw = self.kernel
        rng = np.random.default_rng(0)
        self.parameters = {"W": rng.standard_normal((kh, kw, in_ch, self.out_ch)) / np.sqrt(kh * kw * in_ch),
                           "b": np.zeros((1, 1, 1, self.out_ch))}
        self.gradients = {k: np.zeros_like(v) for k, v in self.parameters.items()}

    def forward(self, X):
        if not self.parameters:
            self._init_params(X.shape[3])
        self.X.append(X)
        return np.einsum("nhwcij,ijco->nhwo", self._windows(X), self.parameters["W"]) + self.parameters["b"]

    def _windows(self, X):
        p = self.pad
        return sliding_window_view(np.pad(X, ((0, 0), (p, p), (p, p), (0, 0))), self.kernel, axis=(1, 2))

    def backward(self, dY):
        X, W, (kh, kw), p = self.X[0], self.parameters["W"], self.kernel, self.pad
        self.gradients["W"] += np.einsum("nhwcij,nhwo->ijco", self._windows(X), dY)
        self.gradients["b"] += dY.sum(axis=(0, 1, 2), keepdims=True)
        dXp = np.zeros((X.shape[0], X.shape[1] + 2 * p, X.shape[2] + 2 * p, X.shape[3]), dtype=dY.dtype)
        for i in range(kh):
            for j in range(kw):
                dXp[:, i:i + dY.shape[1], j:j + dY.shape[2]] += dY @ self._tap(W, i, j).T
        return dXp[:, p:dXp.shape[1] - p, p:dXp.shape[2] - p]

    @staticmethod
    def _tap(W, i, j):
        return W[i, j]

    def flush_gradients(self):
        self.X = []
        self.gradients = {k: np.zeros_like(v) for k, v in self.parameters.items()}  # in the parameters' dtype


class BrokenConvNHWC(ConvNHWC):
    @staticmethod
    def _tap(W, i, j):
        return W[W.shape[0] - 1 - i, W.shape[1] - 1 - j]  # the kernel flipped once too often


class Float64GradsConvNHWC(ConvNHWC):
    def flush_gradients(self):
        self.X = []
        # zeroed like the buffers made at initialisation: float64 gradients for float32 parameters
        self.gradients = {k: np.zeros_like(v) for k, v in self.gradients.items()}


class BatchNormDict:
    """y = scaler * (x - mean) / sqrt(var + eps) + intercept over the batch.  x: (N, C).
    Training uses the batch's statistics and updates the running ones (variance unbiased);
    eval (``trainable = False``) uses the running ones."""

    def __init__(self, n_in, momentum=0.1, epsilon=1e-5):
        self.momentum, self.epsilon, self.trainable = momentum, epsilon, True
        self.parameters = {"scaler": np.ones(n_in), "intercept": np.zeros(n_in),
                           "running_mean": np.zeros(n_in), "running_var": np.ones(n_in)}
        self.gradients = {}

    def forward(self, X):
        P, n = self.parameters, X.shape[0]
        if self.trainable:
            mean, var = X.mean(axis=0), X.var(axis=0)
            P["running_mean"] = (1 - self.momentum) * P["running_mean"] + self.momentum * mean
            P["running_var"] = (1 - self.momentum) * P["running_var"] + self.momentum * self._unbiased(var, n)
        else:
            mean, var = P["running_mean"], P["running_var"]
        self.X, self.X_hat, self.std = X, (X - mean) / np.sqrt(var + self.epsilon), np.sqrt(var + self.epsilon)
        return P["scaler"] * self.X_hat + P["intercept"]

    @staticmethod
    def _unbiased(var, n):
        return var * n / (n - 1)

    def backward(self, dY):
        self.gradients = {"scaler": (dY * self.X_hat).sum(axis=0), "intercept": dY.sum(axis=0)}
        h = dY * self.parameters["scaler"]
        if not self.trainable:
            return h / self.std
        return (h - h.mean(axis=0) - self.X_hat * (h * self.X_hat).mean(axis=0)) / self.std


class BrokenBatchNormDict(BatchNormDict):
    @staticmethod
    def _unbiased(var, n):
        return var  # the running variance kept biased, where torch's is unbiased


def affine_forward(x, w, b):
    """out = x.reshape(N, D) w + b.  x: (N, d1, ..., dk), w: (D, M), b: (M,)."""
    out = x.reshape(x.shape[0], -1) @ w + b
    return out, (x, w)


def affine_backward(dout, cache):
    x, w = cache
    dx = (dout @ w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T @ dout
    return dx, dw, dout.sum(axis=0)


def broken_affine_backward(dout, cache):
    x, w = cache
    dx = dout @ w.T  # not reshaped back to x's shape
    return dx, x.reshape(x.shape[0], -1).T @ dout, dout.sum(axis=0)
