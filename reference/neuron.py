"""The seed's single neuron: sigmoid unit, MSE loss, full-batch gradient descent."""

import numpy as np

from reference.base import check_input


def train_neuron(features, labels, initial_weights, initial_bias, learning_rate, epochs):
    """Train p = sigmoid(X w + b) on L = (1/n) sum (p - y)^2 for ``epochs`` steps.

    X: (n, d), y: (n,), w: (d,), b: scalar. Each epoch records L, then steps
      w -= lr * (2/n) X^T [(p - y) p (1 - p)],  b -= lr * (2/n) sum (p - y) p (1 - p).
    Returns (w, b, losses) with losses: (epochs,), the loss before each step, unrounded.
    """
    X = check_input(features, "train_neuron features", ("n", "d"))
    n, d = X.shape
    y = check_input(labels, "train_neuron labels", (n,), integers_ok=True).astype(X.dtype)
    w = check_input(initial_weights, "train_neuron weights", (d,)).astype(X.dtype)
    b = X.dtype.type(initial_bias)
    losses = np.empty(epochs, dtype=X.dtype)
    for epoch in range(epochs):
        p = 1.0 / (1.0 + np.exp(-(X @ w + b)))
        losses[epoch] = np.mean((p - y) ** 2)
        grad_z = 2.0 / n * (p - y) * p * (1.0 - p)
        w = w - learning_rate * (X.T @ grad_z)
        b = b - learning_rate * np.sum(grad_z)
    return w, b, losses
