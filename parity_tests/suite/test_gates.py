"""Gate-packed parameters: a reference LSTM that keeps its gates apart, and one that packs them
in another order than torch, each checked against torch's own nn.LSTMCell by declaration alone."""

import dataclasses
import inspect

import numpy as np
import pytest
from torch import nn

from parity_tests import DeclarationError, Pair, Param, assert_pair, check, grid, parity_matrix
from parity_tests.conventions import Attributes
from parity_tests.inputs import normal
from parity_tests.suite import own_cells as own

ONE_BIAS = {"bias_hh": "one bias a gate: torch adds bias_ih + bias_hh, so b maps to bias_ih"}


def gates_apart() -> Pair:
    return Pair(
        name="GatesApartLSTMCell", reference=lambda c: own.GatesApartLSTMCell(c.D, c.H),
        torch=lambda c: nn.LSTMCell(c.D, c.H), convention=Attributes(grads="d{}"),
        inputs=(normal("N", "D", name="x"), normal("N", "H", name="h"), normal("N", "H", name="c")),
        arguments=("x", ("h", "c")), outputs=("h_next", "c_next"), held_at_zero=ONE_BIAS,
        params=tuple(Param(f"{w}{k}", t, gates=("ifgo", k), permute=p) for k in "ifgo" for w, t, p in
                     (("W", "weight_ih", (1, 0)), ("U", "weight_hh", (1, 0)), ("b", "bias_ih", None))),
        configs=grid("N{N}D{D}H{H}", N=[3], D=[4], H=[5]),
    )


def packed_in_course_order() -> Pair:
    return Pair(
        name="PackedLSTMCell", reference=lambda c: own.PackedLSTMCell(c.D, c.H),
        torch=lambda c: nn.LSTMCell(c.D, c.H), convention=Attributes(grads="d{}"),
        inputs=(normal("N", "D", name="x"), normal("N", "H", name="h"), normal("N", "H", name="c")),
        arguments=("x", ("h", "c")), outputs=("h_next", "c_next"), held_at_zero=ONE_BIAS,
        params=(Param("Wx", "weight_ih", gates=("ifgo", "ifog"), permute=(1, 0)),
                Param("Wh", "weight_hh", gates=("ifgo", "ifog"), permute=(1, 0)),
                Param("b", "bias_ih", gates=("ifgo", "ifog"))),
        configs=grid("N{N}D{D}H{H}", N=[3], D=[4], H=[5]),
    )


GATES_APART, PACKED = gates_apart(), packed_in_course_order()
test_declared = parity_matrix(GATES_APART, PACKED)


@pytest.mark.parametrize("declaration", [gates_apart, packed_in_course_order])
def test_a_declaration_takes_at_most_ten_lines(declaration):
    body = inspect.getsource(declaration).splitlines()[2:-1]  # the Pair(...) call's arguments
    assert len(body) <= 10, "\n".join(body)


def failures(pair) -> str:
    with pytest.raises(AssertionError) as raised:
        assert_pair(pair, seeds=1)
    return str(raised.value)


@pytest.mark.parametrize("pair, expected", [
    pytest.param(dataclasses.replace(GATES_APART, reference=lambda c: own.ForgetBiasFromInputGateLSTMCell(c.D, c.H)),
                 ["grad bf does not match torch"], id="forget-bias-from-input-gate"),
    pytest.param(dataclasses.replace(PACKED, reference=lambda c: own.TorchOrderInBackwardLSTMCell(c.D, c.H)),
                 ["grad x does not match torch", "grad Wx does not match torch", "grad b does not match torch"],
                 id="torch-order-in-backward"),
    # the course's layer declared as if it packed in torch's order: its forward is then wrong
    pytest.param(dataclasses.replace(PACKED, params=tuple(dataclasses.replace(p, gates=("ifgo", "ifgo"))
                                                          for p in PACKED.params)),
                 ["h_next does not match torch"], id="declared-in-the-wrong-order"),
])
def test_a_broken_copy_or_a_wrong_order_fails(pair, expected):
    text = failures(pair)
    for fragment in expected:
        assert fragment in text, text[:3000]


def apart_with(reference: str, gates: str | None) -> tuple[Param, ...]:
    """GATES_APART's mapping with the array ``reference`` of x remapped to ``gates`` of weight_ih."""
    remapped = Param(reference, "weight_ih", gates=gates and ("ifgo", gates), permute=(1, 0))
    return tuple(remapped if p.reference == reference else p for p in GATES_APART.params)


@pytest.mark.parametrize("params, message", [
    (apart_with("Wg", "f"), "gates g of torch's weight_ih (gates ifgo) are mapped to no reference array; "
                            "gates f of torch's weight_ih are mapped twice: Wf, Wg"),
    (apart_with("Wi", None), "torch's weight_ih is mapped whole and by gates, or by different gate orders: "
                             "Wi <- weight_ih (permute (1, 0)), Wf <- weight_ih gates f of ifgo (permute (1, 0))"),
])
def test_gates_left_out_or_mapped_twice_are_declaration_errors(params, message):
    with pytest.raises(DeclarationError) as raised:
        assert_pair(dataclasses.replace(GATES_APART, params=params), seeds=1)
    assert message in str(raised.value)


@pytest.mark.parametrize("gates, message", [
    (("ifgo", "x"), "gates ['x'] are not in torch's order 'ifgo'"),
    (("iffo", "f"), "each gate letter once on each side"),
    ("ifgo", "expected (torch's gate order, the reference's gates)"),
])
def test_a_malformed_gate_declaration_says_what_it_expects(gates, message):
    with pytest.raises(DeclarationError) as raised:
        Param("Wf", "weight_ih", gates=gates)
    assert message in str(raised.value)


def test_gates_that_do_not_divide_torch_s_rows_are_refused():
    three_gates = tuple(dataclasses.replace(p, gates=("ifg", p.gates[1])) for p in GATES_APART.params
                        if p.gates[1] != "o")  # as if torch's LSTM had a GRU's three
    pair = dataclasses.replace(GATES_APART, params=three_gates)
    with pytest.raises(DeclarationError, match=r"weight_ih of shape \(20, 4\) does not split into the 3 gates"):
        assert_pair(pair, seeds=1)


@pytest.mark.parametrize("held, message", [
    ({}, "torch parameters/buffers not synchronised: ['bias_hh']"),
    ({"bias_hh": ""}, "held_at_zero ['bias_hh'] need a reason"),
    (ONE_BIAS | {"bias_xx": "no such tensor"}, "held_at_zero names torch tensors that do not exist: ['bias_xx']"),
    ({"bias_ih": "mapped too"}, "['bias_ih'] are both mapped by a Param and held at zero"),
])
def test_held_at_zero_is_declared_with_its_reason(held, message):
    with pytest.raises(DeclarationError) as raised:
        assert_pair(dataclasses.replace(GATES_APART, held_at_zero=held), seeds=1)
    assert message in str(raised.value)


def test_check_takes_gates_and_a_tensor_held_at_zero():
    x, h, c = (np.random.default_rng(0).standard_normal(shape) for shape in ((3, 4), (3, 5), (3, 5)))
    declared = dict(params=GATES_APART.params, held_at_zero=ONE_BIAS, convention=Attributes(grads="d{}"),
                    names=("x", "h", "c"), verbose=False)
    result = check(own.GatesApartLSTMCell(4, 5), nn.LSTMCell(4, 5), x, (h, c), **declared)
    assert result and "Wf <- weight_ih gates f of ifgo (permute (1, 0))" in str(result)
    broken = check(own.ForgetBiasFromInputGateLSTMCell(4, 5), nn.LSTMCell(4, 5), x, (h, c), raises=False, **declared)
    assert not broken and "grad bf does not match torch" in str(broken)
