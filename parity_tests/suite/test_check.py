"""The one-call check: inferred convention and mapping, the matrix's explanation on failure,
and an error that lists the candidates where the mapping is ambiguous."""

import numpy as np
import pytest
import torch
from torch import nn

from parity_tests import CheckFailed, DeclarationError, Param, axes, check
from parity_tests.conventions import Dicts
from parity_tests.suite import own_layers as own

X = np.random.default_rng(0).standard_normal((5, 3))


def test_seed_style_layer_passes_with_everything_inferred(capsys):
    result = check(own.SeedLinear(3, 4), nn.Linear(3, 4), X)
    assert result.passed and bool(result)
    printed = capsys.readouterr().out
    assert printed.startswith("parity check of SeedLinear: Attributes convention; W <- weight (permute (1, 0)), "
                              "b <- bias\n")
    assert "  float64: 4 of 4 tensors match torch (output, grad input, grad W, grad b); the closest came to " in printed
    assert "  float32: 4 of 4 tensors match torch" in printed
    assert printed.rstrip().endswith("PASSED")


def test_book_style_layer_stored_results_and_a_reshaped_bias_are_inferred(capsys):
    assert check(own.DenseLayer(3, 4), nn.Linear(3, 4), X)
    assert "biases <- bias (shape (1, 4))" in capsys.readouterr().out
    assert check(own.DenseLayer(3, 4), nn.Linear(3, 4), X, verbose=False).pair.convention.grad_input == "dinputs"


def test_torch_values_are_the_ones_both_sides_use():
    module = nn.Linear(3, 4)
    with torch.no_grad():
        module.weight.fill_(0.5)
    result = check(own.SeedLinear(3, 4), module, X, verbose=False)
    output = next(v for v in result.verdicts["float64"] if v.check == "output")
    assert output.passed and output.max_abs_error < 1e-12


def test_a_broken_layer_fails_with_the_matrix_explanation(capsys):
    result = check(own.BrokenSeedLinear(3, 4), nn.Linear(3, 4), X, raises=False)
    printed = capsys.readouterr().out
    assert not result.passed
    assert "BrokenSeedLinear-float64-given-seed0: grad b does not match torch (float64 judge)" in printed
    assert "the factor is the batch size N = 5" in printed
    assert "finite differences: reference wrong" in printed
    assert printed.rstrip().endswith("FAILED")


def test_a_gradient_of_the_wrong_shape_is_judged_not_refused(capsys):
    assert not check(own.BrokenDenseLayer(3, 4), nn.Linear(3, 4), X, raises=False)
    assert ("grad biases: the reference has shape (4,); its declared layout (shape (1, 4)) expects (1, 4), torch's "
            "(4,)") in capsys.readouterr().out


def test_a_functional_layer_with_its_mapping_declared():
    x = np.random.default_rng(1).standard_normal((4, 2, 3))
    assert check((own.affine_forward, own.affine_backward), nn.Sequential(nn.Flatten(), nn.Linear(6, 5)), x,
                 params=(Param("w", "1.weight", permute=(1, 0)), Param("b", "1.bias")), verbose=False)


def test_a_functional_layer_needs_its_mapping_declared():
    with pytest.raises(DeclarationError, match=r"cannot infer the layouts of w, b: a functional layer's parameters"):
        check((own.affine_forward, own.affine_backward), nn.Linear(6, 5), X)


def test_nhwc_layer_with_declared_layouts():
    x = np.random.default_rng(2).standard_normal((2, 5, 6, 3))
    nhwc = axes("NCHW", "NHWC")
    assert check(own.ConvNHWC(4, (3, 3), 1), nn.Conv2d(3, 4, 3, padding=1), x,
                 convention=Dicts("parameters", "gradients", init="forward", clear="flush_gradients"),
                 params=(Param("W", "weight", permute=axes("OIHW", "HWIO")), Param("b", "bias", shape=(1, 1, 1, -1))),
                 input_layout=nhwc, output_layout=nhwc, verbose=False)


def test_an_ambiguous_mapping_lists_the_candidates():
    with pytest.raises(DeclarationError) as raised:
        check(own.ConvNHWC(4, (3, 3)), nn.Conv2d(3, 4, 3), np.zeros((2, 5, 6, 3)),
              convention=Dicts("parameters", "gradients", init="forward", clear="flush_gradients"))
    message = str(raised.value)
    assert message.startswith(
        "cannot infer the mapping of ConvNHWC (reference arrays: W (3, 3, 3, 4), b (1, 1, 1, 4)): "
        "torch weight (4, 3, 3, 3): candidates W (permute (3, 0, 1, 2)); W (permute (3, 0, 2, 1))")
    assert message.endswith("; declare params=(Param(...), ...)")


def test_a_square_matrix_is_ambiguous_between_identity_and_transpose():
    with pytest.raises(DeclarationError) as raised:
        check(own.SeedLinear(3, 3), nn.Linear(3, 3), X)
    assert "torch weight (3, 3): candidates W (identity); W (permute (1, 0))" in str(raised.value)


def test_a_convention_that_cannot_be_inferred_says_what_to_declare():
    class Silent:
        def forward(self, x):
            self.result = x

        def backward(self, g):
            return g

    with pytest.raises(DeclarationError, match=r"forward returned None and left none of \['output', 'out', 'y', 'Y'\]"):
        check(Silent(), nn.Identity(), X)


def test_a_failed_check_fails_the_test_that_calls_it():
    """check() raises unless told not to: a call without assert cannot pass a test silently."""
    with pytest.raises(CheckFailed) as raised:
        check(own.BrokenSeedLinear(3, 4), nn.Linear(3, 4), X, verbose=False)
    text = str(raised.value)
    assert "  float64: 3 of 4 tensors match torch; failed: grad b" in text and text.endswith("FAILED")
    assert isinstance(raised.value, AssertionError)


def test_a_check_without_its_twin_says_what_to_give():
    with pytest.raises(DeclarationError, match=r"check\(layer, module, \*inputs\): no torch twin given"):
        check(own.SeedLinear(3, 4))


def test_an_engine_is_checked_on_the_catalogs_inputs_alone():
    from parity_tests import Engine
    from parity_tests.suite.own_engines import Tensor

    with pytest.raises(DeclarationError, match="an engine is checked on the catalog's own inputs; give no inputs"):
        check(Engine(tensor=Tensor, ops=("mul",)), "mul", X)
