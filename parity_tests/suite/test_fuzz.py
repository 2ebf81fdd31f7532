"""Hypothesis over every pair: configurations recombined from each axis of the pair's grid
(shapes, strides, paddings, channels, batch sizes, modes), input distributions, input value
scales and seeds.
A failure shrinks to the smallest configuration. A configuration torch refuses must be
refused by the reference too.

Profiles: ``fast`` (derandomized, a few examples a pair; ``make test``) and ``long``
(``make fuzz``)."""

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, reject, settings
from hypothesis import strategies as st

from parity_tests.engine.harness import draw_setup, factory_config
from parity_tests.engine.judge import CaseError, judge_case
from parity_tests.engine.registry import Case, Config, with_distribution
from parity_tests.suite.pairs import PAIRS

UNSCALED = {"CrossEntropyLoss"}  # its first input is probabilities: scaling would leave the simplex


def configs(pair):
    """Each axis drawn independently from the values the pair's grid uses for it."""
    axes = {key: sorted({getattr(c, key) for c in pair.configs}, key=repr)
            for key in vars(pair.configs[0]) if key != "id"}

    def build(values):
        config = Config(**values)
        config.id = "fuzz-" + "-".join(f"{k}{v}" for k, v in values.items()).replace(" ", "")
        return config

    return st.fixed_dictionaries({k: st.sampled_from(v) for k, v in axes.items()}).map(build)


def refused_by_the_reference_too(pair, config, dtype):
    """A combination of axis values one side refuses: the reference must refuse it as well."""
    with pytest.raises((ValueError, RuntimeError)):
        pair.reference(factory_config(Case(pair, config, dtype, 0)))(
            *[make(config, np.random.default_rng(0), np.dtype(dtype)) for make in pair.inputs])
    reject()


@pytest.mark.fuzz
@pytest.mark.parametrize("pair", PAIRS, ids=lambda p: p.name)
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz(pair, data):
    config = with_distribution(data.draw(configs(pair), label="config"),
                               data.draw(st.sampled_from(pair.distributions), label="distribution"))
    dtype = data.draw(st.sampled_from(["float32", "float64"]), label="dtype")
    scale = 1.0 if pair.name in UNSCALED else data.draw(st.sampled_from([0.25, 1.0, 4.0]), label="scale")
    case = Case(pair, config, dtype, data.draw(st.integers(0, 2**16), label="seed"))
    with np.errstate(all="ignore"):
        try:
            setup = draw_setup(case)
        except (ValueError, RuntimeError):
            refused_by_the_reference_too(pair, config, dtype)
        first = pair.input_names[0]
        if np.issubdtype(setup.inputs[first].dtype, np.floating):  # indices are not scaled
            setup.inputs[first] = setup.inputs[first] * np.asarray(scale, dtype=setup.inputs[first].dtype)
        try:
            verdicts = judge_case(case, setup)
        except CaseError as error:  # a function pair's twin refusing the combination (Nesterov with dampening)
            if not isinstance(error.__cause__, ValueError | RuntimeError):
                raise
            refused_by_the_reference_too(pair, config, dtype)
    vacuous = [v for v in verdicts if "cannot fail" in v.message]
    assume(not vacuous)  # a drawn case that happens to be vacuous tells nothing either way
    failures = [v.message for v in verdicts if not v.passed]
    assert not failures, "\n\n".join(failures)
