"""The pytest plugin (entry point ``pytest11``: installing the project registers it).

It gives any project the ``--parity-*`` options, the case matrix and the end-of-run table
and reports. A project names its pairs in one of three ways:

- in a test file: ``test_my_layers = parity_matrix(PAIR_A, PAIR_B)``;
- in its ini file: ``parity_pairs = mypackage.pairs`` (modules holding a ``PAIRS`` list),
  or ``--parity-pairs mypackage.pairs`` on the command line, with
  ``test_parity = parity_matrix()`` in a test file;
- in a conftest.py: ``def pytest_parity_pairs(config): return [...]``.

A matrix is collected as one item a case (a ``ParityItem``, as pytest's own plugins make
items of what is not a function): ``test_layers.py::test_my_layers[Dense-float32-N1C3-seed0]``.
The node id names the case, and a failing case's re-run line is that node id. The items ask
for no fixtures, so pytest sets up and tears down nothing around them.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from parity_tests.engine import report

if TYPE_CHECKING:
    from parity_tests.engine.registry import Pair

# torch, threadpoolctl and the harness are imported where a parity item is collected or run:
# a project whose run collects none pays nothing for the plugin, and keeps its thread counts

DTYPES = ("float32", "float64")
DEVICES = ("cpu", "cuda")


class HookSpecs:
    @pytest.hookspec
    def pytest_parity_pairs(self, config: pytest.Config) -> list:
        """The pairs of this project's parity matrix; every implementation's are used."""


def pytest_addhooks(pluginmanager):
    pluginmanager.add_hookspecs(HookSpecs)


def pytest_addoption(parser):
    group = parser.getgroup("parity", "layer parity suite")
    group.addoption("--parity-pairs", default=None, metavar="MODULES",
                    help="comma-separated modules whose PAIRS list the matrix runs (adds to ini parity_pairs)")
    group.addoption("--parity-dtype", default=",".join(DTYPES),
                    help="comma-separated dtypes of the parity matrix (default: float32,float64)")
    group.addoption("--parity-seeds", type=int, default=3,  # registry.DEFAULT_SEEDS; numpy is not imported yet
                    help="seeds per configuration of the parity matrix (default: 3)")
    group.addoption("--parity-report", metavar="DIR", default=None,
                    help="write parity.json, parity.md and parity.png into DIR")
    group.addoption("--parity-device", default="cpu",
                    help="comma-separated torch devices of the parity matrix, cpu and/or cuda (default: cpu); "
                         "cuda cases skip when no GPU is present and run with TF32 off")
    group.addoption("--parity-shard", metavar="K/N", default=None,
                    help="run only shard K of N (0 <= K < N) of the parity matrix, split by case id")
    parser.addini("parity_pairs", type="linelist", default=[],
                  help="modules whose PAIRS list the parity matrix runs")


def pytest_configure(config):
    for marker in ("slow: long runs (seeds past the default three); deselect with -m 'not slow'",
                   "gpu: cases that need a CUDA device"):
        config.addinivalue_line("markers", marker)
    config.pluginmanager.register(ParityReport(config.getoption("--parity-report")), "parity-report")
    config.pluginmanager.register(OneThread(), "parity-threads")


class OneThread:
    """Around parity items: one thread for torch and for BLAS, and TF32 off on CUDA; what was
    set before is restored before the next item that is not a parity item, and at the end of
    the session (setting and restoring around every item cost a twentieth of a case). The
    matrix is thousands of tiny cases: one thread each is fastest, and xdist's workers (one a
    core) must not each spin up a pool of their own and fight over the cores. TF32 rounds
    float32 matmul inputs to 10 mantissa bits: torch's own float32 result would be ~1e-3 off,
    and the float32 tolerance (10x torch's error) would swell with it."""

    def __init__(self):
        self.restore = None  # puts back what was set before the current run of parity items

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item):
        if not isinstance(item, ParityItem):
            self._put_back()
        elif self.restore is None:
            self.restore = self._limit()
        return (yield)

    def pytest_sessionfinish(self):
        self._put_back()

    def _put_back(self):
        if self.restore is not None:
            self.restore()
            self.restore = None

    @staticmethod
    def _limit():
        import torch
        from threadpoolctl import threadpool_limits

        threads, tf32 = torch.get_num_threads(), (torch.backends.cuda.matmul.allow_tf32,
                                                  torch.backends.cudnn.allow_tf32)
        torch.set_num_threads(1)
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
        blas = threadpool_limits(limits=1)

        def restore():
            blas.restore_original_limits()
            torch.set_num_threads(threads)
            torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = tf32

        return restore


@pytest.hookimpl
def pytest_parity_pairs(config):
    """The pairs of the modules named by ``--parity-pairs`` and the ini key ``parity_pairs``."""
    option = config.getoption("--parity-pairs")
    modules = list(config.getini("parity_pairs")) + (option.split(",") if option else [])
    pairs = []
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ImportError as error:
            raise pytest.UsageError(f"parity_pairs: cannot import {name!r}: {error}") from None
        if not isinstance(getattr(module, "PAIRS", None), list | tuple):
            raise pytest.UsageError(f"parity_pairs: module {name!r} has no PAIRS list of Pair declarations")
        pairs += module.PAIRS
    return pairs


class ParityMatrix:
    """What ``parity_matrix`` returns: bound to a test name in a test module, it is collected
    as one ``ParityItem`` a case. ``skipped``: pair name -> why its cases run as skipped items
    (an engine's uncovered catalog entries)."""

    def __init__(self, pairs: tuple, skipped: dict[str, str] | None = None):
        self.pairs, self.skipped = pairs, dict(skipped or {})

    def __repr__(self) -> str:
        return f"parity_matrix({', '.join(p.name for p in self.pairs) or 'the project pairs'})"


def parity_matrix(*pairs: Pair, skipped: dict[str, str] | None = None) -> ParityMatrix:
    """Every case of ``pairs``, one pytest item a case; with none, of the pairs the project
    names (ini ``parity_pairs``, ``--parity-pairs``, or the ``pytest_parity_pairs`` hook).

        test_my_layers = parity_matrix(MY_PAIR)
    """
    return ParityMatrix(pairs, skipped)


class ParityItem(pytest.Item):
    """One case of a matrix: judged, its row kept for the report, failed with every failing
    tensor's explanation."""

    def __init__(self, *, case, line: int = 0, skipped: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.case, self.line = dataclasses.replace(case, nodeid=self.nodeid), line
        for mark in _marks(case) + ([pytest.mark.skip(reason=skipped)] if skipped is not None else []):
            self.add_marker(mark)

    def runtest(self):
        from parity_tests.engine.judge import judge_case
        from parity_tests.engine.layouts import DeclarationError

        case = self.case
        try:
            verdicts = judge_case(case)
        except DeclarationError as error:  # the declaration is at fault, not the layer: say so plainly
            pytest.fail(f"{case.id}: bad declaration: {error}", pytrace=False)
        self.user_properties.append(("parity", report.case_row(case, verdicts)))
        if failures := [v.message for v in verdicts if not v.passed]:
            pytest.fail("\n\n".join(failures), pytrace=False)

    def reportinfo(self):
        return self.path, self.line, self.name


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector, name, obj):
    """A ``ParityMatrix`` under a test name (``python_functions``): one item a case."""
    if not isinstance(obj, ParityMatrix) or not collector.funcnamefilter(name):
        return None
    options = collector.config.getoption
    dtypes, devices = options("--parity-dtype").split(","), options("--parity-device").split(",")
    if unknown := set(dtypes) - set(DTYPES):
        raise pytest.UsageError(f"--parity-dtype: expected some of {DTYPES}, got {sorted(unknown)}")
    if unknown := set(devices) - set(DEVICES):
        raise pytest.UsageError(f"--parity-device: expected some of {DEVICES}, got {sorted(unknown)}")
    from parity_tests.engine.registry import cases

    pairs = _pairs(collector.config, obj, f"{collector.nodeid}::{name}")
    matrix = _shard(cases(pairs, dtypes, options("--parity-seeds"), devices), options("--parity-shard"))
    line = _line_defining(collector.path, name)
    return [ParityItem.from_parent(collector, name=f"{name}[{case.id}]", case=case, line=line,
                                   skipped=obj.skipped.get(case.pair.name)) for case in matrix]


def _line_defining(path: Path, name: str) -> int:
    """The (0-based) line of the module that assigns ``name``: where its items say they are."""
    lines = path.read_text().splitlines()
    return next((i for i, line in enumerate(lines) if re.match(rf"{re.escape(name)}\s*=", line)), 0)


def _shard(matrix, spec):
    if spec is None:
        return matrix
    try:
        index, count = (int(part) for part in spec.split("/"))
        assert 0 <= index < count
    except (ValueError, AssertionError):
        raise pytest.UsageError(f"--parity-shard: expected K/N with 0 <= K < N, got {spec!r}") from None
    return [case for case in matrix if zlib.crc32(case.id.encode()) % count == index]


def _pairs(config, matrix: ParityMatrix, where: str) -> list:
    from parity_tests.engine.registry import Pair

    pairs = list(matrix.pairs) or [p for found in config.hook.pytest_parity_pairs(config=config) for p in found]
    if not pairs:
        raise pytest.UsageError(f"{where} is a parity matrix, but no pairs are named: pass them to "
                                "parity_matrix(...), or set the ini key parity_pairs")
    if not all(isinstance(p, Pair) for p in pairs):
        wrong = next(p for p in pairs if not isinstance(p, Pair))
        raise pytest.UsageError(f"expected Pair declarations, got {type(wrong).__name__}: {wrong!r:.80}")
    names = [p.name for p in pairs]
    if repeated := sorted({n for n in names if names.count(n) > 1}):
        raise pytest.UsageError(f"two pairs share the name {repeated}: case ids would collide")
    return pairs


def _marks(case):
    marks = [pytest.mark.slow] if case.seed_index >= 3 else []  # seeds past the default three: a sweep
    if case.device == "cuda":
        import torch

        marks += [pytest.mark.gpu,
                  pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")]
    return marks


# -- report: xdist workers send each case's verdicts to the controller as user_properties --


class ParityReport:
    """Collects every case's row and prints the table (and writes the reports) at the end."""

    def __init__(self, directory: str | None):
        self.directory = directory
        self.rows: list[dict] = []

    def pytest_runtest_logreport(self, report):
        if report.when == "call":
            self.rows.extend(value for key, value in report.user_properties if key == "parity")

    def pytest_terminal_summary(self, terminalreporter):
        if not self.rows:
            return
        terminalreporter.section("parity summary")
        for line in report.table(self.rows):
            terminalreporter.write_line(line)
        terminalreporter.write_line("by input distribution:")
        for line in report.by_distribution(self.rows):
            terminalreporter.write_line("  " + line)
        terminalreporter.write_line("closest calls (headroom = error / tolerance; 1 fails):")
        for line in report.closest_calls(self.rows):
            terminalreporter.write_line("  " + line)
        if self.directory:
            for note in report.write_reports(self.rows, Path(self.directory)):
                terminalreporter.write_line(note)
