"""Pytest options of the parity suite, the case matrix, and the end-of-run report."""

import zlib
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, settings
from threadpoolctl import threadpool_limits

from parity_tests.engine import report
from parity_tests.engine.registry import cases
from parity_tests.suite.pairs import PAIRS

DTYPES = ("float32", "float64")
DEVICES = ("cpu", "cuda")

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
    group.addoption("--parity-device", default="cpu",
                    help="comma-separated torch devices of the parity matrix, cpu and/or cuda (default: cpu); "
                         "cuda cases skip when no GPU is present and run with TF32 off")
    group.addoption("--parity-shard", metavar="K/N", default=None,
                    help="run only shard K of N (0 <= K < N) of the parity matrix, split by case id")


def pytest_configure(config):
    # the matrix is thousands of tiny cases: one thread each is fastest, and xdist's workers
    # (one a core) must not each spin up a pool of their own and fight over the cores
    torch.set_num_threads(1)
    threadpool_limits(1)
    if "cuda" in config.getoption("--parity-device").split(","):
        # TF32 rounds float32 matmul inputs to 10 mantissa bits: torch's own float32 result
        # would be ~1e-3 off, and the float32 tolerance (10x torch's error) would swell with it
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False


def _shard(matrix, spec):
    if spec is None:
        return matrix
    try:
        index, count = (int(part) for part in spec.split("/"))
        assert 0 <= index < count
    except (ValueError, AssertionError):
        raise pytest.UsageError(f"--parity-shard: expected K/N with 0 <= K < N, got {spec!r}") from None
    return [case for case in matrix if zlib.crc32(case.id.encode()) % count == index]


def pytest_generate_tests(metafunc):
    if "parity_case" in metafunc.fixturenames:
        options = metafunc.config.getoption
        dtypes, devices = options("--parity-dtype").split(","), options("--parity-device").split(",")
        if unknown := set(dtypes) - set(DTYPES):
            raise pytest.UsageError(f"--parity-dtype: expected some of {DTYPES}, got {sorted(unknown)}")
        if unknown := set(devices) - set(DEVICES):
            raise pytest.UsageError(f"--parity-device: expected some of {DEVICES}, got {sorted(unknown)}")
        matrix = _shard(cases(PAIRS, dtypes, options("--parity-seeds"), devices), options("--parity-shard"))
        metafunc.parametrize("parity_case", [pytest.param(c, id=c.id, marks=_marks(c)) for c in matrix])


def _marks(case):
    marks = [pytest.mark.slow] if case.seed_index >= 3 else []  # seeds past the default three: a sweep
    if case.device == "cuda":
        marks += [pytest.mark.gpu,
                  pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")]
    return marks


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
