"""A declaration that does not fit its objects is refused with a message that says what was
declared and what was found."""

import dataclasses

import pytest
from torch import nn

from parity_tests import CaseError, DeclarationError, Pair, Param, assert_pair, axes, grid
from parity_tests.conventions import Attributes, Dicts, Functional
from parity_tests.engine.judge import judge_case
from parity_tests.engine.registry import Case, cases
from parity_tests.inputs import normal
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


# -- what a user declares about a layer, and what they are told --------------------------------


def failures(pair, **kwargs) -> str:
    with pytest.raises(AssertionError) as raised:
        assert_pair(pair, **kwargs)
    return str(raised.value)


def test_a_pair_runs_in_the_dtypes_it_declares():
    float64_only = dataclasses.replace(SEED_LINEAR, dtypes=("float64",))
    assert {case.dtype for case in cases([float64_only])} == {"float64"}
    with pytest.raises(DeclarationError, match=r"pair SeedLinear: dtypes \['float16'\]: expected float32 and/or "
                                               r"float64"):
        dataclasses.replace(SEED_LINEAR, dtypes=("float16",))


def test_a_known_deviation_passes_as_declared_and_fails_once_it_matches():
    """A library whose running variance is biased, on purpose: declared, its other tensors judged."""
    biased = dataclasses.replace(
        BATCHNORM_DICT, name="BiasedBatchNorm", reference=lambda c: own.BrokenBatchNormDict(c.C),
        deviations=lambda c: {"state running_var": "kept biased"} if c.mode == "train" else {})
    case = next(c for c in cases([biased]) if c.config.mode == "train")
    verdict = next(v for v in judge_case(case) if v.check == "state running_var")
    assert verdict.passed and verdict.note.startswith("differs from torch as declared (kept biased): max abs error ")
    assert assert_pair(biased)
    stale = dataclasses.replace(BATCHNORM_DICT, deviations={"state running_var": "kept biased"})
    assert "state running_var: declared to deviate from torch (kept biased), but it matches: remove the " \
           "declaration" in failures(stale)


def test_attributes_report_an_array_with_a_gradient_that_no_param_maps():
    """Against a bias-free torch Linear, an unmapped b would stay zero and every value match."""
    forgot_b = dataclasses.replace(SEED_LINEAR, params=SEED_LINEAR.params[:1],
                                   torch=lambda c: nn.Linear(c.C, 4, bias=False))
    message = refusal(forgot_b)
    assert "pair SeedLinear: reference arrays with a gradient but no mapping: ['b'] (their gradients: attribute " \
           "grad_b); map each with Param(...)" in message


def test_an_exception_in_a_layer_names_the_case_the_side_and_the_re_run():
    class Raises(own.SeedLinear):
        def backward(self, grad_in):
            raise ZeroDivisionError("a division the layer got wrong")

    with pytest.raises(CaseError) as raised:
        assert_pair(dataclasses.replace(SEED_LINEAR, reference=lambda c: Raises(c.C, 4)), seeds=1)
    text = str(raised.value)
    assert text.startswith("SeedLinear-float32-N1C3-seed0: the reference raised ZeroDivisionError: a division the "
                           "layer got wrong")
    assert "re-run:    pytest 'parity_tests/suite/test_declarations.py::" in text


def test_a_configuration_torch_refuses_is_a_verdict_the_reference_must_share():
    """nn.Linear refuses an input of the wrong width; a reference that accepts it fails."""
    wide = Pair(name="Wide", reference=lambda c: own.SeedLinear(c.C + 1, 4), torch=lambda c: nn.Linear(c.C + 1, 4),
                inputs=(normal("N", "C"),), configs=grid("N{N}C{C}", N=[2], C=[3]),
                params=SEED_LINEAR.params, convention=Attributes(grads="grad_{}"))
    verdicts = judge_case(Case(wide, wide.configs[0], "float64", 0))
    assert [(v.check, v.passed) for v in verdicts] == [("refused", True)]
    note = verdicts[0].note
    assert note.startswith("torch refuses this configuration (RuntimeError: mat1 and mat2 shapes cannot be multiplied")
    assert "so does the reference (ValueError: matmul" in note

    class Lenient(own.SeedLinear):
        def forward(self, x):
            self.x = x
            return x[:, :self.W.shape[0] - 1] @ self.W[1:] + self.b  # quietly drops a weight row

    lenient = dataclasses.replace(wide, reference=lambda c: Lenient(c.C + 1, 4))
    assert "refused: torch refuses this configuration (RuntimeError: mat1 and mat2 shapes cannot be multiplied" \
           in failures(lenient) and "but the reference accepts it; it must refuse it too" in failures(lenient)


def test_finite_differences_say_when_the_reference_forward_is_itself_wrong():
    class WrongForward(own.SeedLinear):
        def forward(self, x):
            self.x = x
            return 2 * (x @ self.W) + self.b  # and a backward that fits it

        def backward(self, grad_in):
            self.grad_W, self.grad_b = 2 * self.x.T @ grad_in, grad_in.sum(axis=0)
            return 2 * grad_in @ self.W.T

    text = failures(dataclasses.replace(SEED_LINEAR, reference=lambda c: WrongForward(c.C, 4)), seeds=1)
    assert "output does not match torch" in text
    assert "grad W does not match torch" in text
    assert "finite differences: the reference's forward is wrong (its output does not match torch's)" in text
    assert "torch twin wrong" not in text


def test_the_summary_table_fits_a_long_pair_name():
    from parity_tests.engine import report

    rows = [{"pair": name, "dtype": "float32", "case": f"{name}-x", "passed": True, "checks": [
        {"check": "output", "max_abs_error": 1e-7, "atol": 1e-6, "headroom": 0.1, "passed": True}]}
        for name in ("MultiheadAttentionWithALongName", "ReLU")]
    header, *lines = report.table(rows)
    assert len({line.index("float32") for line in lines}) == 1 and header.index("dtype") == lines[0].index("float32")
