"""Other people's layers, checked through a declaration alone: no wrapper class. Each
convention's example is declared in at most 10 lines; its broken copy fails with the usual
explanation."""

import ast
import dataclasses
import inspect
import sys

import pytest
from torch import nn

from parity_tests import Pair, Param, assert_pair, axes, grid, nested, parity_matrix
from parity_tests.conventions import Attributes, Dicts, Functional
from parity_tests.inputs import normal
from parity_tests.suite import own_layers as own

NHWC = axes("NCHW", "NHWC")
DICT_STYLE = Dicts("parameters", "gradients", init="forward", clear="flush_gradients", mode="trainable")

# -- the declarations ---------------------------------------------------------------------------

SEED_LINEAR = Pair(
    name="SeedLinear", reference=lambda c: own.SeedLinear(c.C, 4), torch=lambda c: nn.Linear(c.C, 4),
    inputs=(normal("N", "C"),), configs=grid("N{N}C{C}", N=[1, 5], C=[3]),
    params=(Param("W", "weight", permute=(1, 0)), Param("b", "bias")),
    convention=Attributes(grads="grad_{}"),
)

TWO_LAYER = Pair(
    name="TwoLayerNet", reference=lambda c: own.TwoLayerNet(c.C, 24, 2),
    torch=lambda c: nn.Sequential(nn.Linear(c.C, 24), nn.ReLU(), nn.Linear(24, 2)),
    inputs=(normal("N", "C"),), configs=grid("N{N}C{C}", N=[1, 5], C=[3]),
    params=nested("fc1", "0", SEED_LINEAR.params) + nested("fc2", "2", SEED_LINEAR.params),
    convention=Attributes(grads="grad_{}"),
)

DENSE = Pair(
    name="DenseLayer", reference=lambda c: own.DenseLayer(c.C, 4), torch=lambda c: nn.Linear(c.C, 4),
    inputs=(normal("N", "C"),), configs=grid("N{N}C{C}", N=[1, 5], C=[3]),
    params=(Param("weights", "weight", permute=(1, 0)), Param("biases", "bias", shape=(1, -1))),
    convention=Attributes(grads="d{}", output="output", grad_input="dinputs"),
)

CONV_NHWC = Pair(
    name="ConvNHWC", reference=lambda c: own.ConvNHWC(4, c.k, c.p), torch=lambda c: nn.Conv2d(3, 4, c.k, padding=c.p),
    inputs=(normal("N", 3, "H", "W"),), configs=grid("N{N}H{H}W{W}-k{k[0]}x{k[1]}p{p}", N=[2], H=[5], W=[6],
                                                     k=[(3, 3), (2, 3)], p=[0, 1]),
    params=(Param("W", "weight", permute=axes("OIHW", "HWIO")), Param("b", "bias", shape=(1, 1, 1, -1))),
    input_layouts=(NHWC,), output_layout=NHWC, convention=DICT_STYLE,
)

BATCHNORM_DICT = Pair(
    name="BatchNormDict", reference=lambda c: own.BatchNormDict(c.C), torch=lambda c: nn.BatchNorm1d(c.C),
    inputs=(normal("N", "C", scale=2.0),), configs=grid("N{N}C{C}-{mode}", N=[4], C=[3], mode=["train", "eval"]),
    params=(Param("scaler", "weight"), Param("intercept", "bias"), Param("running_mean", "running_mean"),
            Param("running_var", "running_var", positive=True)),
    convention=Dicts("parameters", "gradients", mode="trainable"),
)

AFFINE = Pair(
    name="affine", reference=lambda c: (own.affine_forward, own.affine_backward),
    torch=lambda c: nn.Sequential(nn.Flatten(), nn.Linear(6, 5)),
    inputs=(normal("N", 2, 3),), configs=grid("N{N}x2x3", N=[1, 4]),
    params=(Param("w", "1.weight", permute=(1, 0)), Param("b", "1.bias")),
    convention=Functional(params=("w", "b")),
)

EXAMPLES = [SEED_LINEAR, TWO_LAYER, DENSE, CONV_NHWC, BATCHNORM_DICT, AFFINE]

test_examples = parity_matrix(*EXAMPLES)  # every case of every example, one pytest item a case


def broken(name, pair, reference):
    return dataclasses.replace(pair, name=name, reference=reference)


# -- the broken copies, and what the failure says ------------------------------------------------


@pytest.mark.parametrize("pair, expected", [pytest.param(pair, expected, id=pair.name) for pair, expected in [
    (broken("BrokenSeedLinear", SEED_LINEAR, lambda c: own.BrokenSeedLinear(c.C, 4)),
     ["grad b does not match torch", "the factor is the batch size N = 5"]),
    (broken("BrokenDenseLayer", DENSE, lambda c: own.BrokenDenseLayer(c.C, 4)),
     ["grad biases: the reference has shape (4,); its declared layout (shape (1, -1)) expects (1, 4), "
      "torch's (4,)"]),
    (broken("BrokenConvNHWC", CONV_NHWC, lambda c: own.BrokenConvNHWC(4, c.k, c.p)),
     ["grad input does not match torch", "in torch's layout (the reference's own: permute (0, 3, 1, 2))",
      "finite differences: reference wrong"]),
    (broken("Float64GradsConvNHWC", CONV_NHWC, lambda c: own.Float64GradsConvNHWC(4, c.k, c.p)),
     ["float32-N2H5W6-k3x3p0-seed0: grad W: the reference returned float64 for a float32 case"]),
    (broken("BrokenBatchNormDict", BATCHNORM_DICT, lambda c: own.BrokenBatchNormDict(c.C)),
     ["N4C3-train-seed0: state running_var does not match torch"]),
    (broken("broken_affine", AFFINE, lambda c: (own.affine_forward, own.broken_affine_backward)),
     ["grad input: the reference has shape (1, 6), torch (1, 2, 3)"]),
]])
def test_broken_copy_fails_with_the_usual_explanation(pair, expected):
    with pytest.raises(AssertionError) as raised:
        assert_pair(pair)
    text = str(raised.value)
    for fragment in expected + ["re-run:    pytest 'parity_tests/suite/test_own_layers.py::"
                                "test_broken_copy_fails_with_the_usual_explanation["]:
        assert fragment in text, text[:3000]


def test_a_cached_input_list_must_be_declared_cleared():
    """Without its clear hook, ConvNHWC's backward reads the first batch's input (one sample more)."""
    forgetful = dataclasses.replace(CONV_NHWC, convention=dataclasses.replace(DICT_STYLE, clear=None))
    with pytest.raises(AssertionError, match="ConvNHWC-float32-N2H5W6-k3x3p0-seed0: the reference raised ValueError: "
                                             "operands could not be broadcast"):
        assert_pair(forgetful, seeds=1)


def test_lazily_built_parameters_need_the_init_hook():
    lazy = dataclasses.replace(CONV_NHWC, convention=dataclasses.replace(DICT_STYLE, init=None))
    with pytest.raises(ValueError, match="mapped reference name 'W' not found on the reference"):
        assert_pair(lazy, seeds=1)


def test_each_declaration_is_at_most_ten_lines():
    tree = ast.parse(inspect.getsource(sys.modules[__name__]))
    spans = {node.targets[0].id: node.end_lineno - node.lineno + 1 for node in tree.body
             if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
             and getattr(node.value.func, "id", "") == "Pair"}
    assert set(spans) == {"SEED_LINEAR", "TWO_LAYER", "DENSE", "CONV_NHWC", "BATCHNORM_DICT", "AFFINE"}
    assert max(spans.values()) <= 10, spans
