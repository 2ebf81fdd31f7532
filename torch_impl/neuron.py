"""Twin of reference/neuron.py: the same training loop, gradients from autograd."""

import torch

from torch_impl.base import check_input


def train_neuron(features, labels, initial_weights, initial_bias, learning_rate, epochs):
    X = check_input(features, "train_neuron features", ("n", "d"))
    n, d = X.shape
    y = check_input(labels, "train_neuron labels", (n,), integers_ok=True).to(X.dtype)
    w = check_input(initial_weights, "train_neuron weights", (d,)).detach().to(X.dtype, copy=True).requires_grad_()
    b = torch.tensor(float(initial_bias), dtype=X.dtype, requires_grad=True)
    losses = []
    for _ in range(epochs):
        loss = torch.mean((torch.sigmoid(X @ w + b) - y) ** 2)
        grad_w, grad_b = torch.autograd.grad(loss, (w, b))
        with torch.no_grad():
            w -= learning_rate * grad_w
            b -= learning_rate * grad_b
        losses.append(loss.detach())
    return w.detach(), b.detach(), torch.stack(losses) if losses else X.new_empty(0)
