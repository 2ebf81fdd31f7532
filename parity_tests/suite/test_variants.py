"""The seeds' loop versions, kept to teach, agree with the fast layers."""

import numpy as np
import pytest

from reference.activations import Softmax
from reference.conv import Conv2d, simple_conv2d


@pytest.mark.parametrize("shape, kernel, padding, stride", [
    ((4, 4), (2, 2), 1, 2), ((5, 7), (3, 2), 0, 1), ((6, 5), (3, 3), 1, 3), ((1, 1), (3, 3), 1, 1),
])
def test_simple_conv2d_loop_equals_the_im2col_conv(shape, kernel, padding, stride):
    rng = np.random.default_rng(0)
    image, weights = rng.standard_normal(shape), rng.standard_normal(kernel)
    layer = Conv2d(1, 1, kernel, stride, padding, bias=False)
    layer.params["W"][...] = weights
    np.testing.assert_allclose(simple_conv2d(image, weights, padding, stride), layer(image[None, None])[0, 0],
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape", [(1, 5), (4, 7), (3, 33)])
def test_softmax_jacobian_loop_equals_the_vectorized_backward(shape):
    rng = np.random.default_rng(1)
    layer = Softmax()
    layer(rng.standard_normal(shape) * 3)
    upstream = rng.standard_normal(shape)
    np.testing.assert_allclose(layer.backward_jacobian(upstream), layer.backward(upstream), rtol=1e-12, atol=1e-15)
