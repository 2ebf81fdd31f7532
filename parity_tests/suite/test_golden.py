"""The seeds' printed outputs: both backends must reproduce them from the seeds' inputs."""

import numpy as np
import pytest
import torch

from reference import activations, blocks, conv, neuron, norm, pooling
from torch_impl import activations as t_activations
from torch_impl import blocks as t_blocks
from torch_impl import conv as t_conv
from torch_impl import neuron as t_neuron
from torch_impl import norm as t_norm
from torch_impl import pooling as t_pooling

BACKENDS = ["reference", "torch"]


def as_numpy(value):
    return value.detach().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)


def seed_conv_input():
    return np.arange(1, 17).reshape(4, 4), np.array([[1, 0], [-1, 1]])


@pytest.mark.parametrize("backend", BACKENDS)
def test_single_neuron(backend):
    features = np.array([[1.0, 2.0], [2.0, 1.0], [-1.0, -2.0]])
    labels, weights = np.array([1, 0, 0]), np.array([0.1, -0.2])
    if backend == "reference":
        w, b, losses = neuron.train_neuron(features, labels, weights, 0.0, 0.1, 2)
    else:
        w, b, losses = t_neuron.train_neuron(
            torch.tensor(features), torch.tensor(labels), torch.tensor(weights), 0.0, 0.1, 2
        )
    # printed to 8 decimals by NumPy: the printed value is within 5e-9 of the true one
    np.testing.assert_allclose(as_numpy(w), [0.1035744, -0.14254396], rtol=0, atol=1e-8)
    # printed as a full float64 repr; summation order may move the last bits
    np.testing.assert_allclose(as_numpy(b), -0.016719880375037202, rtol=1e-13, atol=0)
    # the seed prints round(mse, 4)
    assert [round(float(v), 4) for v in as_numpy(losses)] == [0.3033, 0.2942]


@pytest.mark.parametrize("backend", BACKENDS)
def test_simple_conv2d(backend):
    image, kernel = seed_conv_input()
    if backend == "reference":
        out = conv.simple_conv2d(image, kernel, padding=1, stride=2)
    else:
        out = t_conv.simple_conv2d(torch.tensor(image), torch.tensor(kernel), padding=1, stride=2)
    np.testing.assert_array_equal(as_numpy(out), [[1, 1, -4], [9, 7, -4], [0, 14, 16]])


@pytest.mark.parametrize("backend", BACKENDS)
def test_relu(backend):
    z = np.array([[-1.0, 2.0], [3.0, -4.0]])
    layer = activations.ReLU() if backend == "reference" else t_activations.ReLU()
    out = layer(z if backend == "reference" else torch.tensor(z))
    np.testing.assert_array_equal(as_numpy(out), [[0, 2], [3, 0]])


@pytest.mark.parametrize("backend", BACKENDS)
def test_residual_block(backend):
    x = np.array([1.0, 2.0])
    w1, w2 = np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[0.5, 0.0], [0.0, 0.5]])
    if backend == "reference":
        block = blocks.ResidualBlock(2)
        block.params["w1"][...], block.params["w2"][...] = w1, w2
        out = block(x)
    else:
        block = t_blocks.ResidualBlock(2).double()
        with torch.no_grad():
            block.w1.copy_(torch.tensor(w1))
            block.w2.copy_(torch.tensor(w2))
        out = block(torch.tensor(x))
    np.testing.assert_array_equal(as_numpy(out), [1.5, 3.0])


@pytest.mark.parametrize("backend", BACKENDS)
def test_global_avg_pool(backend):
    x = np.array([[[1, 2, 3], [4, 5, 6]], [[7, 8, 9], [10, 11, 12]]])
    fn = pooling.global_avg_pool if backend == "reference" else t_pooling.global_avg_pool
    out = fn(x if backend == "reference" else torch.tensor(x))
    np.testing.assert_array_equal(as_numpy(out), [5.5, 6.5, 7.5])


BATCHNORM_SEED42 = [
    [[[0.42859934, -0.51776438], [0.65360963, 1.95820707]],
     [[0.02353721, 0.02355215], [1.67355207, 0.93490043]]],
    [[[-1.01139563, 0.49692747], [-1.00236882, -1.00581468]],
     [[0.45676349, -1.50433085], [-1.33293647, -0.27503802]]],
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("form", ["function", "layer"])
def test_batch_normalization(backend, form):
    X = np.random.RandomState(42).randn(2, 2, 2, 2)  # the stream of np.random.seed(42)
    gamma, beta = np.ones((1, 2, 1, 1)), np.zeros((1, 2, 1, 1))
    if form == "function" and backend == "reference":
        out = norm.batch_normalization(X, gamma, beta)
    elif form == "function":
        out = t_norm.batch_normalization(*map(torch.tensor, (X, gamma, beta)))
    elif backend == "reference":
        out = norm.BatchNorm2d(2)(X)  # training mode, gamma 1, beta 0
    else:
        out = t_norm.BatchNorm2d(2).double()(torch.tensor(X))
    # printed to 8 decimals
    np.testing.assert_allclose(as_numpy(out), BATCHNORM_SEED42, rtol=0, atol=1e-8)
