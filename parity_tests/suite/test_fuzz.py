"""Hypothesis over every pair, and every op of the suite's two autograd engines:
configurations recombined from each axis of the pair's grid (shapes, strides, paddings,
channels, batch sizes, modes; an op's axes, operands and broadcasts), input distributions,
input value scales, the dtypes the pair runs in, and seeds.
A failure shrinks to the smallest configuration. A configuration torch refuses must be
refused by the reference too.

Profiles: ``fast`` (derandomized, a few examples a pair; ``make test``) and ``long``
(``make fuzz``)."""

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, reject, settings
from hypothesis import strategies as st

from parity_tests.engine.harness import REFUSED, TORCH_SIDE, LayerRaised, draw_setup, reference_refusal, torch_refusal
from parity_tests.engine.judge import judge_case
from parity_tests.engine.ops import engine_pairs
from parity_tests.engine.registry import Case, with_distribution
from parity_tests.suite.pairs import PAIRS
from parity_tests.suite.test_engines import NUMPY_ENGINE, VALUE_ENGINE

FUZZED = PAIRS + [pair for engine in (NUMPY_ENGINE, VALUE_ENGINE) for pair in engine_pairs(engine)[0]]


def configs(pair):
    """Each combined axis of one of the pair's grids drawn independently from the values that
    grid uses, its derived axes computed and its constraint kept."""
    grids = list({id(type(c).grid): type(c).grid for c in pair.configs if hasattr(type(c), "grid")}.values())
    assert grids, f"{pair.name}: configurations not made by grid(): nothing to recombine"

    def combination(grid):
        return st.fixed_dictionaries({k: st.sampled_from(sorted(set(v), key=repr)) for k, v in grid.axes.items()})

    def build(drawn):
        grid, values = drawn
        config = grid.build(values)
        assume(config is not None)  # a combination the grid's constraint rules out
        config.id = "fuzz-" + "-".join(f"{k}{v}" for k, v in values.items()).replace(" ", "")
        return config

    return st.sampled_from(grids).flatmap(lambda grid: combination(grid).map(lambda values: (grid, values))).map(build)


def both_sides_refuse(case, raised):
    """A combination of axis values one side refuses: the other must refuse it as well."""
    if raised.side == TORCH_SIDE:
        assert reference_refusal(case) is not None, f"{case.id}: torch refuses it ({raised}), the reference accepts it"
    else:
        assert torch_refusal(case) is not None, f"{case.id}: the reference refuses it ({raised}), torch accepts it"
    reject()


@pytest.mark.fuzz
@pytest.mark.parametrize("pair", FUZZED, ids=lambda p: p.name)
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz(pair, data):
    config = with_distribution(data.draw(configs(pair), label="config"),
                               data.draw(st.sampled_from(pair.distributions), label="distribution"))
    dtype = data.draw(st.sampled_from(pair.dtypes), label="dtype")
    # a first input whose values have a domain (probabilities) is declared unscalable
    scalable = getattr(pair.inputs[0], "scalable", True)
    scale = data.draw(st.sampled_from([0.25, 1.0, 4.0]), label="scale") if scalable else 1.0
    case = Case(pair, config, dtype, data.draw(st.integers(0, 2**16), label="seed"))
    with np.errstate(all="ignore"):
        try:
            setup = draw_setup(case)
        except LayerRaised as raised:
            both_sides_refuse(case, raised)
        first = pair.input_names[0]
        if np.issubdtype(setup.inputs[first].dtype, np.floating):  # indices are not scaled
            setup.inputs[first] = setup.inputs[first] * np.asarray(scale, dtype=setup.inputs[first].dtype)
        verdicts = judge_case(case, setup)
    if verdicts and all(v.kind == REFUSED and v.passed for v in verdicts):
        reject()  # torch refuses the combination, and so does the reference (Nesterov with dampening)
    vacuous = [v for v in verdicts if "cannot fail" in v.message]
    assume(not vacuous)  # a drawn case that happens to be vacuous tells nothing either way
    failures = [v.message for v in verdicts if not v.passed]
    assert not failures, "\n\n".join(failures)
