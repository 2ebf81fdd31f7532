"""The known-bug corpus: every variant must fail the default matrix of its pairs."""

import numpy as np
import pytest

from parity_tests.engine.judge import judge_case
from parity_tests.engine.ops import engine_pairs
from parity_tests.engine.registry import cases
from parity_tests.engine.trajectory import judge_trajectory, trajectory_cases
from parity_tests.suite.bugs import BUGS
from parity_tests.suite.pairs import PAIRS, REGISTRY
from parity_tests.suite.test_engines import NUMPY_ENGINE
from parity_tests.suite.trajectories import REGISTRY as TRAJECTORY_REGISTRY

# the pairs a bug may name: the suite's, and its NumPy engine's entries (Tensor.add, ...)
PAIR_REGISTRY = REGISTRY | {pair.name: pair for pair in engine_pairs(NUMPY_ENGINE)[0]}


def default_cases(bug):
    """The default matrix of the pairs (or engine entries) the bug names, and the trajectories it names."""
    pairs = [PAIR_REGISTRY[name] for name in bug.pairs if name in PAIR_REGISTRY]
    networks = [TRAJECTORY_REGISTRY[name] for name in bug.pairs if name in TRAJECTORY_REGISTRY]
    return [(case, judge_case) for case in cases(pairs)] + [(case, judge_trajectory)
                                                            for case in trajectory_cases(networks)]


def failed(case, check=judge_case):
    """The case's failing verdicts, with whatever bug is patched in."""
    with np.errstate(all="ignore"):  # a buggy layer may overflow; the verdict decides
        return [v for v in check(case) if not v.passed]


def first_catch(bug) -> str | None:
    """The id of the first default case that fails with the bug in place, and how."""
    for case, check in default_cases(bug):
        try:
            failing = failed(case, check)
        except Exception as error:  # a crash in the matrix is a caught bug too
            return f"{case.id}: {type(error).__name__}"
        if failing:
            return f"{case.id}: {', '.join(v.check for v in failing)}"
    return None


def test_corpus_is_large_and_spread_over_every_pair_and_family():
    assert len(BUGS) >= 40
    assert len({bug.name for bug in BUGS}) == len(BUGS)
    assert {p.name for p in PAIRS} | set(TRAJECTORY_REGISTRY) <= {name for bug in BUGS for name in bug.pairs}
    assert set(PAIR_REGISTRY) | set(TRAJECTORY_REGISTRY) >= {name for bug in BUGS for name in bug.pairs}
    families = {bug.family for bug in BUGS}
    assert families == {"maths", "side effects", "numerics", "composition", "optimizers", "randomness",
                        "through time", "engines"}
    assert all(sum(bug.family == family for bug in BUGS) >= 4 for family in families)


@pytest.mark.parametrize("bug", BUGS, ids=lambda bug: bug.name)
def test_bug_is_caught(bug, monkeypatch, request):
    monkeypatch.setattr(bug.owner, bug.attribute, bug.replacement)
    caught_by = first_catch(bug)
    request.node.user_properties.append(("bug", {"name": bug.name, "layer": bug.pairs[0], "family": bug.family,
                                                 "caught": bool(caught_by)}))
    assert caught_by, f"{bug.name} ({bug.mistake}) survived the default matrix of {bug.pairs}"


SIDE_EFFECTS = {  # side-effect variants, and the start of what their failures say (any other: "side effect: ")
    "relu_grad_zeroes_upstream_in_place":
        "side effect: backward changed the caller's upstream gradient in place: first change at index (0, ",
    "linear_backward_steps_its_weights": "side effect: backward changed parameter W in place: first change at index",
    "sigmoid_output_in_a_reused_buffer":
        "side effect: the next forward and backward changed the output it had handed out in place: first change at",
    "softmax_grad_written_into_output":
        "side effect: backward changed the output it had handed out in place: first change at index",
    "residual_weight_decay_in_backward": "side effect: backward changed parameter w1 in place: first change at",
    "bn_running_stats_updated_in_backward":
        "side effect: backward changed state running_mean in place: first change at index",
    "gap_grad_returns_upstream_for_one_pixel":
        "side effect: backward returned (a view of) the caller's upstream gradient as the input gradient",
}


@pytest.mark.parametrize("bug", [b for b in BUGS if b.family == "side effects"], ids=lambda bug: bug.name)
def test_side_effects_are_caught_by_the_side_effect_rules(bug, monkeypatch):
    monkeypatch.setattr(bug.owner, bug.attribute, bug.replacement)
    for case in cases([REGISTRY[name] for name in bug.pairs]):
        if failing := failed(case):
            assert all(v.check.startswith("side effect") for v in failing), [v.message for v in failing]
            assert SIDE_EFFECTS.get(bug.name, "side effect: ") in failing[0].message, failing[0].message
            return
    pytest.fail(f"{bug.name} survived")


@pytest.mark.parametrize("bug", [b for b in BUGS if b.family == "numerics"], ids=lambda bug: bug.name)
def test_numerics_variants_pass_standard_inputs_and_fail_hostile_ones(bug, monkeypatch):
    """Why the distribution axis exists: each of these survives every standard draw."""
    monkeypatch.setattr(bug.owner, bug.attribute, bug.replacement)
    caught = {getattr(case.config, "distribution", "standard")
              for case in cases([REGISTRY[name] for name in bug.pairs]) if failed(case)}
    assert caught and "standard" not in caught, caught


# composition variants right for one call, and the layer whose whole matrix they pass. (Gradients
# summed across steps were one, until the decoy batch ran backward as well as forward.)
TRAINING_ONLY = {
    "bn_eval_reuses_last_training_batch": "BatchNorm2d",
    "sequential_eval_not_propagated": "Sequential",
}


@pytest.mark.parametrize("name, layer", TRAINING_ONLY.items())
def test_training_only_variants_pass_the_single_layer_matrix(name, layer, monkeypatch):
    """Why trajectories exist: these are caught by a network trained for steps, nothing less."""
    bug = next(b for b in BUGS if b.name == name)
    monkeypatch.setattr(bug.owner, bug.attribute, bug.replacement)
    for case in cases([REGISTRY[layer]]):
        assert not failed(case), case.id
