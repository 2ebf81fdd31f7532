"""Twin of reference/neuron.py: the same network from torch's modules, torch.optim.SGD."""

import torch
from torch import nn

from torch_impl.base import check_input


def train_neuron(features, labels, initial_weights, initial_bias, learning_rate, epochs):
    X = check_input(features, "train_neuron features", ("n", "d"))
    n, d = X.shape
    y = check_input(labels, "train_neuron labels", (n,), integers_ok=True).to(X.dtype)
    check_input(initial_weights, "train_neuron weights", (d,))
    network, loss = nn.Sequential(nn.Linear(d, 1), nn.Sigmoid()).to(X.dtype), nn.MSELoss()
    with torch.no_grad():
        network[0].weight.copy_(initial_weights.reshape(1, d))
        network[0].bias.fill_(float(initial_bias))
    optimizer = torch.optim.SGD(network.parameters(), lr=learning_rate)
    losses = []
    for _ in range(epochs):
        optimizer.zero_grad()
        value = loss(network(X), y[:, None])
        value.backward()
        optimizer.step()
        losses.append(value.detach())
    weights, bias = network[0].weight.detach()[0], network[0].bias.detach()[0]
    return weights, bias, torch.stack(losses) if losses else X.new_empty(0)
