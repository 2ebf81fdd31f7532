"""The harness guards itself: synchronisation, vacuous checks, mutated inputs, determinism."""

import dataclasses

import numpy as np
import pytest

from parity_tests.engine import harness
from parity_tests.engine.harness import GRAD_INPUT, Compared, HarnessError, Key, run_case
from parity_tests.engine.judge import judge_case, judge_tensor
from parity_tests.engine.layouts import DeclarationError
from parity_tests.engine.registry import Case, cases
from parity_tests.engine.structure import leaves
from parity_tests.suite.pairs import PAIRS, REGISTRY

LAYER_PAIRS = [p for p in PAIRS if p.is_layer]


def first_case(pair, dtype="float64"):
    return Case(pair, pair.configs[0], dtype, 0)


def test_default_matrix_is_large_and_ids_are_unique():
    matrix = cases(PAIRS)
    ids = [c.id for c in matrix]
    assert len(ids) >= 1000
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize("pair", LAYER_PAIRS, ids=lambda p: p.name)
def test_torch_initialisation_loaded_into_reference_gives_the_same_forward(pair):
    """The other direction of synchronisation: torch's own random init, copied across."""
    case = first_case(pair)
    config = harness.factory_config(case)
    rng = np.random.default_rng(0)
    inputs = [make(config, rng, np.float64) for make in pair.inputs]
    layer, module = pair.reference(config), pair.torch(config).double()
    params = harness.synchronised(pair, layer, module)
    harness.load_into_reference(pair, params, harness.torch_values(params, module), layer, np.float64)
    outputs, _ = harness.torch_forward(pair, module, dict(zip(pair.input_names, inputs, strict=True)),
                                       harness.torch.float64)
    given = harness.arguments(pair, dict(zip(pair.input_names, inputs, strict=True)))
    returned = dict(zip(pair.output_names, leaves(layer(*given)), strict=True))
    for name, output in outputs.items():
        np.testing.assert_allclose(returned[name], output.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_unmapped_torch_parameter_is_an_error():
    pair = dataclasses.replace(REGISTRY["Linear"], params=REGISTRY["Linear"].params[:1])
    with pytest.raises(DeclarationError, match=r"not synchronised: \['bias'\]"):
        run_case(first_case(pair))


def test_zero_expected_tensor_fails_as_vacuous():
    case = first_case(REGISTRY["Softmax"])
    zeros = np.zeros((2, 3))
    verdict = judge_tensor(case, Compared(Key(GRAD_INPUT, "input"), zeros, zeros, zeros))
    assert not verdict.passed
    assert "cannot fail" in verdict.message


def test_all_ones_upstream_makes_softmax_gradient_vacuous():
    """Why the upstream gradient is random: with ones, softmax's input gradient is zero."""
    from reference.activations import Softmax

    layer = Softmax()
    layer(np.random.default_rng(0).standard_normal((4, 5)))
    assert np.abs(layer.backward(np.ones((4, 5)))).max() < 1e-15


def test_input_mutated_in_place_is_an_error(monkeypatch):
    from reference.activations import ReLU

    def forward_in_place(self, x):
        np.maximum(x, 0, out=x)
        self.active = x > 0
        return self._remember_output(x)

    monkeypatch.setattr(ReLU, "forward", forward_in_place)
    with pytest.raises(HarnessError, match="reference modified its input 'input' in place"):
        run_case(first_case(REGISTRY["ReLU"]))


def test_a_case_reproduces_exactly():
    case = first_case(REGISTRY["SEResNetBlock"], "float32")
    first, second = run_case(case), run_case(case)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a.reference, b.reference)
        np.testing.assert_array_equal(a.judge, b.judge)


def test_wrong_gradient_fails_the_matrix(monkeypatch):
    from reference.norm import BatchNorm2d

    def backward_without_mean_terms(self, g):  # a classic: treats the batch mean as constant
        self.grads["gamma"] = np.sum(g * self.x_hat, axis=(0, 2, 3))
        self.grads["beta"] = g.sum(axis=(0, 2, 3))
        return self.params["gamma"][:, None, None] / self.std * g

    monkeypatch.setattr(BatchNorm2d, "backward", backward_without_mean_terms)
    case = next(c for c in cases([REGISTRY["BatchNorm2d"]]) if c.config.mode == "train")
    failed = [v for v in judge_case(case) if not v.passed]
    assert [v.check for v in failed] == ["grad input"]


def test_rerun_line_asks_for_enough_seeds_for_any_kind_of_case():
    from parity_tests.engine.judge import rerun_command
    from parity_tests.engine.registry import with_distribution
    from parity_tests.engine.trajectory import trajectory_cases
    from parity_tests.suite.trajectories import CONVNET

    pair = REGISTRY["LayerNorm"]
    standard = dataclasses.replace(Case(pair, pair.configs[0], "float32", 5), nodeid="t.py::test[x]")
    offset = dataclasses.replace(Case(pair, with_distribution(pair.configs[0], "offset"), "float32", 5),
                                 nodeid="t.py::test[x]")
    network = dataclasses.replace(trajectory_cases([CONVNET], seeds=3)[2], nodeid="t.py::test[x]")
    for case, seeds in [(standard, 6), (offset, 18), (network, 30)]:
        case = dataclasses.replace(case, nodeid=f"t.py::test[{case.id}]")
        assert rerun_command(case).endswith(f"-p no:randomly --parity-seeds {seeds}"), rerun_command(case)
