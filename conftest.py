"""This repository's own suite, as one user of the parity plugin: its pairs, its Hypothesis
profiles and the kill rate of its bug corpus."""

import pytest
import torch
from hypothesis import HealthCheck, settings
from threadpoolctl import threadpool_limits

from parity_tests.engine import report

# Hypothesis profiles: "fast" (the default, derandomized: make test) and "long" (make fuzz,
# --hypothesis-profile=long).
settings.register_profile("fast", max_examples=8, derandomize=True, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("fast")


def pytest_configure(config):
    """This suite runs thousands of tiny cases outside the matrix too (the corpus, fuzzing, the
    trained networks): one thread each, as the plugin gives its own parity items, so xdist's
    workers do not fight over the cores."""
    torch.set_num_threads(1)
    threadpool_limits(1)


def pytest_parity_pairs(config):
    from parity_tests.suite.pairs import PAIRS

    return PAIRS


def pytest_generate_tests(metafunc):
    """Trajectories take --parity-seeds too, a tenth as many (each is a whole training run);
    seeds past the first are a sweep's."""
    if "trajectory_case" in metafunc.fixturenames:
        from parity_tests.engine.trajectory import trajectory_cases
        from parity_tests.suite.trajectories import TRAJECTORIES

        seeds = max(1, metafunc.config.getoption("--parity-seeds") // 10)
        metafunc.parametrize("trajectory_case", [
            pytest.param(case, id=case.id, marks=[pytest.mark.slow] if case.seed_index else [])
            for case in trajectory_cases(TRAJECTORIES, seeds=seeds)])


_bugs: list[dict] = []  # each corpus variant's verdict, sent by xdist workers as user_properties


def pytest_runtest_logreport(report):
    if report.when == "call":
        _bugs.extend(value for key, value in report.user_properties if key == "bug")


def pytest_terminal_summary(terminalreporter):
    if _bugs:
        terminalreporter.section("bug corpus")
        for line in report.kill_rates(_bugs):
            terminalreporter.write_line(line)
