"""Edge values: saturation, huge logits, exact 0 and 1 probabilities, zero variance.
(Batch size 1, 1x1 images, a kernel as large as the padded input and a stride larger than
the kernel are configurations of the matrix itself.)"""

import numpy as np
import pytest
import torch

from parity_tests.engine.harness import draw_setup
from parity_tests.engine.judge import judge_case
from parity_tests.engine.registry import cases
from parity_tests.suite.pairs import REGISTRY
from reference.activations import Sigmoid
from reference.losses import CrossEntropyLoss
from torch_impl.activations import Sigmoid as TorchSigmoid

DTYPES = ["float32", "float64"]


def verdicts_with_input(pair_name, dtype, x, predicate=lambda c: True):
    """Judge a matrix case of the pair with its first input replaced by ``x``."""
    case = next(c for c in cases([REGISTRY[pair_name]], dtypes=(dtype,)) if predicate(c))
    setup = draw_setup(case)
    first = case.pair.input_names[0]
    setup.inputs[first] = setup.decoy[first] = x.astype(dtype)
    return judge_case(case, setup)


def assert_all_pass(verdicts):
    assert all(v.passed for v in verdicts), "\n".join(v.message for v in verdicts if not v.passed)


@pytest.mark.parametrize("dtype", DTYPES)
def test_saturated_sigmoid_matches_torch_and_stays_finite(dtype):
    x = np.array([[-1e4, -600, -500, -90, -30, 0, 30, 90, 500, 600, 1e4] * 2 + [1, 2]])  # 24 elements
    y = Sigmoid().forward(x.astype(dtype))
    assert np.all(np.isfinite(y)) and np.all((y >= 0) & (y <= 1)) and y[0, -3] == 1
    assert_all_pass(verdicts_with_input("Sigmoid", dtype, x, lambda c: c.config.shape == (1, 24)))


def test_sigmoid_clip_is_pinned_and_differs_from_plain_torch():
    """The seed clips at +-500: below -500 the output stays at sigmoid(-500), where torch's
    own sigmoid keeps decreasing. Both sides of the suite clip, so they agree."""
    x = np.array([-600.0, -500.0])
    y = Sigmoid().forward(x)
    assert y[0] == y[1] == 1 / (1 + np.exp(500.0))
    assert TorchSigmoid()(torch.tensor(x))[0].item() == y[0]
    assert torch.sigmoid(torch.tensor(-600.0, dtype=torch.float64)).item() < y[0] * 1e-40


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_logits_of_magnitude_1e4(dtype):
    """Rows shifted by +-1e4: exp overflows unless the row maximum is subtracted. (Logits
    spread by 1e4 within a row give one-hot outputs and a zero gradient: a vacuous case.)"""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 7)) + rng.choice([-1e4, 1e4], size=(4, 1))
    assert_all_pass(verdicts_with_input("Softmax", dtype, x, lambda c: c.config.C == 7 and c.config.N == 4))


def test_cross_entropy_exact_zero_and_one_probabilities():
    pred = np.array([[1.0, 0.0, 0.0], [0.0, 0.5, 0.5]])
    loss = CrossEntropyLoss()
    value = loss(pred, np.array([1, 2]))
    assert np.isclose(value, (-np.log(1e-12) - np.log(0.5)) / 2)
    grad = loss.backward()
    # the clipped entry (p = 0 for class 1) is a constant: no gradient flows through it
    np.testing.assert_array_equal(grad, [[0, 0, 0], [0, 0, -1 / (2 * 0.5)]])


@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_batchnorm_channel_of_zero_variance(dtype, mode):
    x = np.random.default_rng(0).standard_normal((4, 3, 5, 4)) * 2
    x[:, 1] = 0.75  # a constant channel: variance exactly 0, only eps keeps the division finite
    verdicts = verdicts_with_input("BatchNorm2d", dtype, x, lambda c: c.config.C == 3 and c.config.N == 4
                                   and c.config.hw == (5, 4) and c.config.mode == mode)
    assert_all_pass(verdicts)


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_gradient_at_exact_zero_is_zero_as_torch(dtype):
    x = np.random.default_rng(0).standard_normal((4, 9))
    x[:, ::3] = 0.0  # exact zeros: the kink, where torch's gradient is 0
    assert_all_pass(verdicts_with_input("ReLU", dtype, x, lambda c: c.config.shape == (4, 9)))


@pytest.mark.parametrize("mixing", [0.0, 0.1])
def test_residual_block_at_its_kinks_matches_torch(mixing):
    """w1 = I makes every zero of x a zero of the inner ReLU's input. With w2 = I it is a
    zero of the outer ReLU's input too; with w2 = I + 0.1 the outer input is positive there
    and a gradient reaches the inner kink from the other units."""
    from reference.blocks import ResidualBlock
    from torch_impl.blocks import ResidualBlock as TorchResidualBlock

    x = np.array([0.0, 1.5, -0.5, 0.0, 2.0, -1.0])
    upstream = np.arange(1.0, 7.0)
    block = ResidualBlock(6)
    block.params["w1"][...], block.params["w2"][...] = np.eye(6), np.eye(6) + mixing
    block(x)
    grad_x = block.backward(upstream)
    twin = TorchResidualBlock(6).double()
    with torch.no_grad():
        twin.w1.copy_(torch.eye(6, dtype=torch.float64))
        twin.w2.copy_(torch.eye(6, dtype=torch.float64) + mixing)
    tx = torch.tensor(x, requires_grad=True)
    twin(tx).backward(torch.tensor(upstream))
    np.testing.assert_allclose(grad_x, tx.grad.numpy(), rtol=1e-14)
    np.testing.assert_allclose(block.grads["w1"], twin.w1.grad.numpy(), rtol=1e-14)
    np.testing.assert_allclose(block.grads["w2"], twin.w2.grad.numpy(), rtol=1e-14)


def test_cross_entropy_at_the_clip_bounds_matches_torch():
    """torch's clamp passes the gradient at its bounds (inclusive) and blocks it beyond."""
    from torch_impl.losses import CrossEntropyLoss as TorchCrossEntropyLoss

    pred = np.array([[1e-12, 1 - 1e-12, 0.5], [1.0, 0.0, 0.25]])
    target = np.array([[0.5, 0.25, 0.25], [0.6, 0.3, 0.1]])
    loss = CrossEntropyLoss()
    value = loss(pred, target)
    grad = loss.backward()
    tp = torch.tensor(pred, requires_grad=True)
    expected = TorchCrossEntropyLoss()(tp, torch.tensor(target))
    expected.backward()
    np.testing.assert_allclose(value, expected.item(), rtol=1e-15)
    np.testing.assert_allclose(grad, tp.grad.numpy(), rtol=1e-15)


def test_cross_entropy_of_a_certain_prediction_is_the_clip_floor():
    """p = 1 is clipped to 1 - 1e-12, so the loss is -log(1 - 1e-12) ~ 1e-12, not 0."""
    value = CrossEntropyLoss()(np.array([[1.0, 0.0]]), np.array([0]))
    np.testing.assert_allclose(value, -np.log1p(-1e-12), rtol=1e-4)
