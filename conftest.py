"""Pytest options of the parity suite, the case matrix, and the end-of-run summary."""

from collections import defaultdict

import pytest

from parity_tests.pairs import PAIRS
from parity_tests.registry import cases

DTYPES = ("float32", "float64")


def pytest_addoption(parser):
    group = parser.getgroup("parity", "layer parity suite")
    group.addoption("--parity-dtype", default=",".join(DTYPES),
                    help="comma-separated dtypes of the parity matrix (default: float32,float64)")
    group.addoption("--parity-seeds", type=int, default=3,
                    help="seeds per configuration of the parity matrix (default: 3)")


def pytest_generate_tests(metafunc):
    if "parity_case" in metafunc.fixturenames:
        dtypes = metafunc.config.getoption("--parity-dtype").split(",")
        unknown = set(dtypes) - set(DTYPES)
        if unknown:
            raise pytest.UsageError(f"--parity-dtype: expected some of {DTYPES}, got {sorted(unknown)}")
        matrix = cases(PAIRS, dtypes, metafunc.config.getoption("--parity-seeds"))
        metafunc.parametrize("parity_case", matrix, ids=[c.id for c in matrix])


# -- summary: workers send each case's verdicts as user_properties -----------------------

_results = defaultdict(list)


def pytest_runtest_logreport(report):
    if report.when == "call":
        for key, value in report.user_properties:
            if key == "parity":
                _results[(value["pair"], value["dtype"])].append(value)


def pytest_terminal_summary(terminalreporter):
    if not _results:
        return
    write = terminalreporter.write_line
    terminalreporter.section("parity summary")
    write(f"{'pair':<22}{'dtype':<9}{'cases':>6}{'failed':>8}{'worst headroom':>16}  worst check")
    for (pair, dtype), rows in sorted(_results.items()):
        worst = max(rows, key=lambda r: r["headroom"])
        failed = sum(not r["passed"] for r in rows)
        write(f"{pair:<22}{dtype:<9}{len(rows):>6}{failed:>8}{worst['headroom']:>16.3g}  {worst['check']}")
