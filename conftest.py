"""Pytest options of the parity suite, the case matrix, and the end-of-run report."""

from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from parity_tests import report
from parity_tests.pairs import PAIRS
from parity_tests.registry import cases

DTYPES = ("float32", "float64")

# Hypothesis profiles: "fast" (the default, derandomized: make test) and "long" (make fuzz,
# --hypothesis-profile=long).
settings.register_profile("fast", max_examples=8, derandomize=True, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("fast")


def pytest_addoption(parser):
    group = parser.getgroup("parity", "layer parity suite")
    group.addoption("--parity-dtype", default=",".join(DTYPES),
                    help="comma-separated dtypes of the parity matrix (default: float32,float64)")
    group.addoption("--parity-seeds", type=int, default=3,
                    help="seeds per configuration of the parity matrix (default: 3)")
    group.addoption("--parity-report", metavar="DIR", default=None,
                    help="write parity.json, parity.md and parity.png into DIR")


def pytest_generate_tests(metafunc):
    if "parity_case" in metafunc.fixturenames:
        dtypes = metafunc.config.getoption("--parity-dtype").split(",")
        unknown = set(dtypes) - set(DTYPES)
        if unknown:
            raise pytest.UsageError(f"--parity-dtype: expected some of {DTYPES}, got {sorted(unknown)}")
        matrix = cases(PAIRS, dtypes, metafunc.config.getoption("--parity-seeds"))
        # seeds past the default three are a sweep: marked slow
        params = [pytest.param(c, id=c.id, marks=[pytest.mark.slow] if c.seed_index >= 3 else []) for c in matrix]
        metafunc.parametrize("parity_case", params)


# -- report: xdist workers send each case's verdicts to the controller as user_properties --

_rows: list[dict] = []
_bugs: list[dict] = []


def pytest_runtest_logreport(report):
    if report.when == "call":
        _rows.extend(value for key, value in report.user_properties if key == "parity")
        _bugs.extend(value for key, value in report.user_properties if key == "bug")


def pytest_terminal_summary(terminalreporter, config):
    if _bugs:
        terminalreporter.section("bug corpus")
        for line in report.kill_rates(_bugs):
            terminalreporter.write_line(line)
    if not _rows:
        return
    terminalreporter.section("parity summary")
    for line in report.table(_rows):
        terminalreporter.write_line(line)
    terminalreporter.write_line("closest calls (headroom = error / tolerance; 1 fails):")
    for line in report.closest_calls(_rows):
        terminalreporter.write_line("  " + line)
    if directory := config.getoption("--parity-report"):
        for note in report.write_reports(_rows, Path(directory)):
            terminalreporter.write_line(note)
