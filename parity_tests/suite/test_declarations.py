"""A declaration that does not fit its objects is refused with a message that says what was
declared and what was found."""

import dataclasses

import pytest
from torch import nn

from parity_tests import DeclarationError, Pair, Param, assert_pair, axes, grid
from parity_tests.conventions import Attributes, Dicts, Functional
from parity_tests.suite import own_layers as own
from parity_tests.suite.test_own_layers import AFFINE, BATCHNORM_DICT, CONV_NHWC, DENSE, SEED_LINEAR


def refusal(pair) -> str:
    with pytest.raises(DeclarationError) as raised:
        assert_pair(pair, dtypes=("float64",), seeds=1)
    return str(raised.value)


def test_a_mapped_name_found_on_neither_side():
    typo = dataclasses.replace(SEED_LINEAR, params=(Param("W", "weight", permute=(1, 0)), Param("b", "bias"),
                                                    Param("gamma", "scale")))
    assert refusal(typo) == ("pair SeedLinear: Param('gamma', 'scale') is found on neither side (the reference "
                             "holds: unlisted by its convention; torch: bias, weight)")


def test_a_mapped_name_missing_on_the_reference():
    typo = dataclasses.replace(DENSE, params=(Param("weight", "weight", permute=(1, 0)),
                                              Param("biases", "bias", shape=(1, -1))))
    assert "mapped reference name 'weight' not found on the reference" in refusal(typo)


def test_an_unmapped_array_is_named_on_either_side():
    partial = dataclasses.replace(CONV_NHWC, params=CONV_NHWC.params[:1])
    message = refusal(partial)
    assert "reference arrays with no mapping: ['b']" in message
    assert "torch parameters/buffers not synchronised: ['bias']" in message
    assert "(the reference holds: W, b; torch: bias, weight)" in message


def test_a_permutation_of_the_wrong_length():
    short = dataclasses.replace(CONV_NHWC, params=(Param("W", "weight", permute=(1, 0)), CONV_NHWC.params[1]))
    assert refusal(short) == ("pair ConvNHWC: Param('W', 'weight'): permute (1, 0) has 2 axes, torch's (4, 3, 3, 3) "
                              "has 4")


def test_a_permute_that_is_no_permutation():
    twice = dataclasses.replace(SEED_LINEAR, params=(Param("W", "weight", permute=(0, 0)), SEED_LINEAR.params[1]))
    assert refusal(twice) == "pair SeedLinear: Param('W', 'weight'): permute (0, 0) is not a permutation of (0, 1)"


def test_a_layout_whose_sizes_disagree_with_torch():
    unshaped = dataclasses.replace(DENSE, params=(DENSE.params[0], Param("biases", "bias")))
    assert refusal(unshaped) == (
        "pair DenseLayer: Param('biases', 'bias'): the declared layout (identity) turns torch's bias of shape (4,) "
        "into (4,), but the reference holds (1, 4); declare shape=(1, 4)")


def test_a_declared_shape_that_cannot_hold_torch_array():
    wrong = dataclasses.replace(DENSE, params=(DENSE.params[0], Param("biases", "bias", shape=(1, 5))))
    assert refusal(wrong) == ("pair DenseLayer: Param('biases', 'bias'): the declared shape (1, 5) cannot hold "
                              "torch's (4,) (4 elements)")


def test_a_permutation_that_puts_sizes_in_the_wrong_places():
    swapped = dataclasses.replace(CONV_NHWC, params=(Param("W", "weight", permute=axes("OIHW", "HWOI")),
                                                     CONV_NHWC.params[1]))
    assert refusal(swapped).startswith(
        "pair ConvNHWC: Param('W', 'weight'): the declared layout (permute (2, 3, 0, 1)) turns torch's weight of "
        "shape (4, 3, 3, 3) into (3, 3, 4, 3), but the reference holds (3, 3, 3, 4)")


def test_a_forward_that_returns_nothing():
    no_output = dataclasses.replace(DENSE, convention=Attributes(grads="d{}", grad_input="dinputs"))
    assert refusal(no_output) == ("DenseLayer.forward returned None; if the layer stores its output in an "
                                  "attribute, declare output=\"<attribute>\"")


def test_a_backward_that_returns_nothing():
    no_grad_input = dataclasses.replace(DENSE, convention=Attributes(grads="d{}", output="output"))
    assert refusal(no_grad_input) == ("DenseLayer.backward returned None; if the layer stores the input gradient "
                                      "in an attribute, declare grad_input=\"<attribute>\"")


def test_a_functional_backward_that_returns_too_few_values():
    pair = dataclasses.replace(AFFINE, reference=lambda c: (own.affine_forward, lambda dout, cache: (dout, dout)))
    assert refusal(pair) == ("<lambda> returned a tuple of 2; the Functional convention expects 3 values "
                             "(dinput, dw, db)")


def test_a_convention_that_does_not_match_the_object():
    assert refusal(dataclasses.replace(SEED_LINEAR, convention=Dicts("parameters", "gradients"))) == (
        "pair SeedLinear: the Dicts convention declares params='parameters', but the SeedLinear object has no dict "
        "attribute 'parameters' (its dict attributes: none)")


def test_the_default_protocol_on_another_style_of_layer():
    undeclared = Pair(name="Dense", reference=lambda c: own.DenseLayer(3, 4), torch=lambda c: nn.Linear(3, 4),
                      inputs=DENSE.inputs, configs=grid("N{N}C{C}", N=[2], C=[3]), params=DENSE.params)
    assert refusal(undeclared) == (
        "pair Dense: the NamedArrays convention (reference.base.Layer) does not match the DenseLayer object: it has no "
        "named_params, named_grads, named_state, to, train; declare its convention (Attributes, Dicts or Functional)")


def test_functional_expects_two_functions():
    pair = dataclasses.replace(AFFINE, reference=lambda c: own.affine_forward)
    assert refusal(pair) == ("pair affine: the Functional convention expects the reference factory to return "
                             "(forward, backward), two functions; got function")


def test_a_hook_that_names_no_method():
    pair = dataclasses.replace(CONV_NHWC, convention=dataclasses.replace(CONV_NHWC.convention, clear="flush"))
    assert refusal(pair) == "the clear hook names method 'flush', which the ConvNHWC object does not have"


def test_eval_mode_without_a_mode_hook():
    pair = dataclasses.replace(BATCHNORM_DICT, convention=Dicts("parameters", "gradients"),
                               configs=BATCHNORM_DICT.configs[1:])
    assert refusal(pair) == ("pair BatchNormDict: a configuration asks for eval mode, but the Dicts convention "
                             "declares no mode hook (mode=\"attribute\", mode=lambda layer, training: ... or "
                             "mode_argument=\"training\")")


def test_more_input_layouts_than_inputs():
    with pytest.raises(DeclarationError, match=r"pair ConvNHWC: 2 input layouts declared for 1 input\(s\)"):
        dataclasses.replace(CONV_NHWC, input_layouts=(axes("NCHW", "NHWC"),) * 2)


def test_axes_with_different_letters():
    with pytest.raises(DeclarationError, match="axes\\('NCHW', 'NHWD'\\): expected the same distinct axis letters"):
        axes("NCHW", "NHWD")


def test_functional_params_with_no_mapped_value():
    pair = dataclasses.replace(AFFINE, convention=Functional(params=("w", "b", "gamma")))
    assert refusal(pair) == ("pair affine: reference arrays with no mapping: ['gamma'] (the reference holds: b, "
                             "gamma, w; torch: 1.bias, 1.weight)")
