"""Each diagnosis of a failure, shown by breaking a layer on purpose and reading the text."""

import dataclasses

import numpy as np
import pytest
import torch

from parity_tests.engine.judge import judge_case
from parity_tests.engine.registry import cases, normal
from parity_tests.suite.pairs import REGISTRY
from reference import activations, blocks, conv, linear, pooling
from torch_impl import blocks as t_blocks


def failure_text(pair, predicate=lambda case: True, dtype="float64") -> str:
    case = next(c for c in cases([pair], dtypes=(dtype,)) if predicate(c))
    messages = [v.message for v in judge_case(case) if not v.passed]
    assert messages, f"{case.id} passed although a layer was broken"
    return "\n".join(messages)


def broken(monkeypatch, cls, method, wrapper):
    original = getattr(cls, method)
    monkeypatch.setattr(cls, method, lambda self, *a: wrapper(self, original(self, *a)))


def test_message_names_case_tensor_errors_and_rerun_command(monkeypatch):
    broken(monkeypatch, activations.Sigmoid, "backward", lambda self, g: g * 1.5)
    text = failure_text(REGISTRY["Sigmoid"])
    assert "Sigmoid-float64-1x24-seed0: grad input does not match torch" in text
    assert "pair Sigmoid, config 1x24, float64, seed 0" in text
    assert "max abs" in text and "max rel" in text and "of 24 elements outside" in text
    assert "worst:     index (0, " in text
    # outside the matrix, the re-run line names the test that ran the check: this one
    this_test = "parity_tests/suite/test_diagnosis.py::test_message_names_case_tensor_errors_and_rerun_command"
    assert f"re-run:    pytest '{this_test}' -p no:randomly" in text


def test_sign_flip(monkeypatch):
    broken(monkeypatch, activations.Sigmoid, "backward", lambda self, g: -g)
    assert "diagnosis: sign flip: reference = -expected" in failure_text(REGISTRY["Sigmoid"])


def test_factor_equal_to_the_batch_size(monkeypatch):
    def divided_by_batch(self, grad_x):
        self.grads["W"] = self.grads["W"] / self.x.shape[0]
        return grad_x

    broken(monkeypatch, linear.Linear, "backward", divided_by_batch)
    text = failure_text(REGISTRY["Linear"], lambda c: c.config.N == 4)
    assert "constant factor: reference = 0.25 x expected; the factor is the batch size N = 4" in text


def test_factor_equal_to_the_spatial_size(monkeypatch):
    broken(monkeypatch, pooling.GlobalAvgPool2d, "backward", lambda self, g: g * np.prod(self.x_shape[2:]))
    text = failure_text(REGISTRY["GlobalAvgPool2d"], lambda c: c.config.hw == (6, 6) and c.config.N == 3)
    assert "constant factor: reference = 36 x expected; the factor is the spatial size H*W = 36" in text


def test_transposed_layout(monkeypatch):
    def transposed(self, grad_x):
        self.grads["w2"] = self.grads["w2"].T
        return grad_x

    broken(monkeypatch, blocks.ResidualBlock, "backward", transposed)
    assert "transposed layout: reference = expected.T" in failure_text(REGISTRY["ResidualBlock"])


def test_transposed_shape(monkeypatch):
    def transposed(self, grad_x):
        self.grads["W"] = self.grads["W"].T
        return grad_x

    broken(monkeypatch, linear.Linear, "backward", transposed)
    assert ("the reference has shape (5, 3); its declared layout (permute (1, 0)) expects (3, 5), torch's (5, 3) "
            "(a transposed layout)") in failure_text(REGISTRY["Linear"])


def test_errors_only_on_the_padded_border(monkeypatch):
    def border_dropped(self, grad_x):
        grad_x = grad_x.copy()
        p = self.padding[0]
        grad_x[:, :, :p], grad_x[:, :, -p:], grad_x[:, :, :, :p], grad_x[:, :, :, -p:] = 0, 0, 0, 0
        return grad_x

    broken(monkeypatch, conv.Conv2d, "backward", border_dropped)
    text = failure_text(REGISTRY["Conv2d"], lambda c: c.config.p == 1 and c.config.hw == (7, 5))
    assert "errors only on the border (the outer 1 rows/columns)" in text


def test_nan_on_one_side_only(monkeypatch):
    def unshifted_softmax(self, x):  # forgets to subtract the row maximum
        exp = np.exp(x)
        self.y = exp / exp.sum(axis=1, keepdims=True)
        return self._remember_output(self.y)

    monkeypatch.setattr(activations.Softmax, "forward", unshifted_softmax)
    pair = dataclasses.replace(REGISTRY["Softmax"], inputs=(normal("N", "C", scale=1000.0),))
    with np.errstate(over="ignore", invalid="ignore"):
        text = failure_text(pair, lambda c: c.config.C == 33 and c.config.N == 4)
    assert "output does not match" in text
    assert "NaN or inf on one side only: the reference" in text


def test_finite_differences_blame_the_reference(monkeypatch):
    broken(monkeypatch, activations.Sigmoid, "backward", lambda self, g: -g)
    assert "finite differences: reference wrong (they agree with torch)" in failure_text(REGISTRY["Sigmoid"])


class SkipDetachedTwin(t_blocks.ResidualBlock):
    """A twin whose skip connection carries no gradient: same forward, wrong backward."""

    def forward(self, x):
        return torch.relu(self.w2 @ torch.relu(self.w1 @ x) + x.detach())


def test_finite_differences_blame_the_torch_twin():
    pair = dataclasses.replace(REGISTRY["ResidualBlock"], torch=lambda c: SkipDetachedTwin(c.d))
    assert "finite differences: torch twin wrong (they agree with the reference)" in failure_text(pair)


def test_finite_differences_blame_both(monkeypatch):
    broken(monkeypatch, blocks.ResidualBlock, "backward", lambda self, g: -g)
    pair = dataclasses.replace(REGISTRY["ResidualBlock"], torch=lambda c: SkipDetachedTwin(c.d))
    assert "finite differences: both disagree with finite differences" in failure_text(pair)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dtype_promotion_is_reported(monkeypatch, dtype):
    other = "float64" if dtype == "float32" else "float32"
    broken(monkeypatch, activations.ReLU, "forward", lambda self, y: y.astype(other))
    assert f"the reference returned {other} for a {dtype} case" in failure_text(REGISTRY["ReLU"], dtype=dtype)
