"""The seed's single neuron, trained on the suite's own layers and optimizer: the network of
the Neuron trajectory (Sequential(Linear(d, 1), Sigmoid()), MSE, full-batch SGD)."""

import numpy as np

from reference.activations import Sigmoid
from reference.base import check_input
from reference.containers import Sequential
from reference.linear import Linear
from reference.losses import MSELoss
from reference.optim import SGD


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
    network, loss = Sequential(Linear(d, 1), Sigmoid()), MSELoss()
    unit = network.layers[0]
    unit.params["W"], unit.params["b"] = w.reshape(d, 1).copy(), np.full(1, initial_bias, dtype=X.dtype)
    optimizer = SGD(network.named_params(), lr=learning_rate)
    losses = np.empty(epochs, dtype=X.dtype)
    for epoch in range(epochs):
        losses[epoch] = loss(network(X), y[:, None])
        network.backward(loss.backward())
        optimizer.step(network.named_grads())
    return unit.params["W"][:, 0].copy(), unit.params["b"][0], losses
