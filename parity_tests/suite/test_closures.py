"""Layers that return their backward, and (f, vjp) function pairs, checked through a
declaration alone: no wrapper class, at most 10 lines each; each broken copy fails with the
usual explanation."""

import ast
import dataclasses
import inspect
import sys

import numpy as np
import pytest
import torch
from torch import nn

from parity_tests import VJP, Closure, Pair, Param, assert_pair, check, grid, parity_matrix
from parity_tests.inputs import normal
from parity_tests.suite import own_closures as own

CLOSURE = Closure(params="store.params", grads="store.grads", clear="zero_grads")

# -- the declarations ---------------------------------------------------------------------------

CLOSURE_LINEAR = Pair(
    name="ClosureLinear", reference=lambda c: own.Linear(c.C, 4), torch=lambda c: nn.Linear(c.C, 4),
    inputs=(normal("N", "C"),), configs=grid("N{N}C{C}", N=[1, 5], C=[3]),
    params=(Param("W", "weight"), Param("b", "bias")), convention=CLOSURE,
)

CLOSURE_MLP = Pair(
    name="ClosureMLP", reference=lambda c: own.Chain(own.Linear(c.C, 24), own.ReLU(), own.Linear(24, 2)),
    torch=lambda c: nn.Sequential(nn.Linear(c.C, 24), nn.ReLU(), nn.Linear(24, 2)),
    inputs=(normal("N", "C"),), configs=grid("N{N}C{C}", N=[1, 5], C=[3]),
    params=tuple(Param(f"{i}.{p}", f"{i}.{t}") for i in (0, 2) for p, t in (("W", "weight"), ("b", "bias"))),
    convention=CLOSURE,
)

CLOSURE_RELU = Pair(
    name="closure_relu", reference=lambda c: own.relu, torch=lambda c: torch.relu,
    inputs=(normal("N", "C"),), configs=grid("N{N}C{C}", N=[4], C=[6]), convention=Closure(params=None, grads=None),
)

SOFTMAX_VJP = Pair(
    name="softmax_vjp", reference=lambda c: (own.softmax, own.softmax_vjp), torch=lambda c: lambda x: x.softmax(-1),
    inputs=(normal("N", "C", scale=3.0, distributions=("offset",)),), configs=grid("N{N}C{C}", N=[1, 4], C=[5]),
    convention=VJP(),
)

AFFINE_VJP = Pair(
    name="affine_vjp", reference=lambda c: (own.affine, own.affine_vjp), torch=lambda c: nn.Linear(c.C, c.C),
    inputs=(normal("N", "C"),), configs=grid("N{N}C{C}", N=[1, 5], C=[4]),
    params=(Param("w", "weight", permute=(1, 0)), Param("b", "bias")), convention=VJP(params=("w", "b")),
)

EXAMPLES = [CLOSURE_LINEAR, CLOSURE_MLP, CLOSURE_RELU, SOFTMAX_VJP, AFFINE_VJP]

test_examples = parity_matrix(*EXAMPLES)


def test_each_declaration_is_at_most_ten_lines():
    tree = ast.parse(inspect.getsource(sys.modules[__name__]))
    spans = {node.targets[0].id: node.end_lineno - node.lineno + 1 for node in tree.body
             if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
             and getattr(node.value.func, "id", "") in ("Pair", "Closure")}
    assert set(spans) == {"CLOSURE", "CLOSURE_LINEAR", "CLOSURE_MLP", "CLOSURE_RELU", "SOFTMAX_VJP", "AFFINE_VJP"}
    assert max(spans.values()) <= 10, spans
    assert spans["CLOSURE"] + spans["CLOSURE_MLP"] <= 10, spans  # the convention and the layer together


# -- the broken copies, and what the failure says ------------------------------------------------


def broken(name, pair, reference):
    return dataclasses.replace(pair, name=name, reference=reference)


@pytest.mark.parametrize("pair, expected", [pytest.param(pair, expected, id=pair.name) for pair, expected in [
    (broken("MeanBiasLinear", CLOSURE_LINEAR, lambda c: own.MeanBiasLinear(c.C, 4)),
     ["grad b does not match torch", "the factor is the batch size N = 5", "finite differences: reference wrong"]),
    (broken("LateBindingChain", CLOSURE_MLP,
            lambda c: own.LateBindingChain(own.Linear(c.C, 24), own.ReLU(), own.Linear(24, 2))),
     ["LateBindingChain-float32-N1C3-seed0: the reference raised ValueError: operands could not be broadcast"]),
    (broken("InPlaceReLU", CLOSURE_RELU, lambda c: own.InPlaceReLU()),
     ["side effect: backward changed the caller's upstream gradient in place"]),
    (broken("softmax_vjp_over_batch", SOFTMAX_VJP, lambda c: (own.softmax, own.softmax_vjp_over_batch)),
     ["grad input does not match torch", "finite differences: reference wrong"]),
    (broken("affine_vjp_transposed_dw", AFFINE_VJP, lambda c: (own.affine, own.affine_vjp_transposed_dw)),
     ["grad w does not match torch", "transposed layout"]),
]])
def test_broken_copy_fails_with_the_usual_explanation(pair, expected):
    with pytest.raises(AssertionError) as raised:
        assert_pair(pair, seeds=1)
    text = str(raised.value)
    for fragment in expected:
        assert fragment in text, text[:3000]


def test_a_store_that_accumulates_needs_its_clear_hook():
    """Without zero_grads before each forward, the decoy batch's gradients stay in the store."""
    forgetful = dataclasses.replace(CLOSURE_LINEAR, convention=dataclasses.replace(CLOSURE, clear=None))
    with pytest.raises(AssertionError, match="grad W does not match torch"):
        assert_pair(forgetful, seeds=1)


def test_a_forward_that_returns_no_backprop_is_refused():
    plain = dataclasses.replace(CLOSURE_RELU, reference=lambda c: lambda x: x * (x > 0))
    with pytest.raises(ValueError, match=r"returned ndarray; the Closure convention expects \(out, backprop\)"):
        assert_pair(plain, seeds=1)


def test_a_store_that_is_no_dict_is_refused():
    wrong = dataclasses.replace(CLOSURE_LINEAR, convention=dataclasses.replace(CLOSURE, params="store"))
    with pytest.raises(ValueError, match="declares params='store', but the Linear object gives Store there, not a "
                                         "dict"):
        assert_pair(wrong, seeds=1)


# -- the one-call check infers both conventions -------------------------------------------------

X = np.random.default_rng(0).standard_normal((5, 3))


def test_check_infers_a_closure_layer_its_store_and_its_clear_hook():
    result = check(own.Linear(3, 4), nn.Linear(3, 4), X, verbose=False)
    assert result and result.pair.convention == Closure(params="store.params", grads="store.grads",
                                                        clear="zero_grads")
    assert "(output, grad input, grad W, grad b)" in str(result)
    assert check(own.relu, torch.relu, X, verbose=False).pair.convention == Closure(params=None, grads=None)
    assert not check(own.MeanBiasLinear(3, 4), nn.Linear(3, 4), X, verbose=False, raises=False)


def test_check_infers_a_function_and_its_vjp():
    result = check((own.softmax, own.softmax_vjp), lambda x: x.softmax(-1), X, verbose=False)
    assert result and isinstance(result.pair.convention, VJP) and str(result).startswith("parity check of softmax:")
    assert not check((own.softmax, own.softmax_vjp_over_batch), lambda x: x.softmax(-1), X, verbose=False,
                     raises=False)


def test_a_vjp_in_another_argument_order():
    """autograd's vjp(ans, x, g): the output first."""
    def tanh_vjp(ans, x, g):
        return g * (1 - ans ** 2)

    assert check((np.tanh, tanh_vjp), torch.tanh, X, convention=VJP(order=("output", "inputs", "upstreams")),
                 verbose=False)
    with pytest.raises(ValueError, match=r"VJP\(order=\('output', 'gradient'\)\): \['gradient'\] are not among"):
        VJP(order=("output", "gradient"))
