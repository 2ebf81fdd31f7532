"""Another project, as a user has one: a fresh virtual environment with this project installed
(not this checkout on the path), a test file in a directory of its own declaring one pair and
a broken copy, and plain ``pytest`` with ``--parity-*`` options. The plugin comes from the
``pytest11`` entry point; the matrix runs, the report is written, the broken copy fails with
the re-run line of its own test, and that line re-runs exactly that case."""

import json
import re
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# the other project's layer is written out in full: it must not import this repository's suite
PROJECT_TEST = '''
import dataclasses
import sys

import numpy as np
import torch
from threadpoolctl import threadpool_info
from torch import nn

import parity_tests
from parity_tests import grid, Pair, Param, parity_matrix
from parity_tests.conventions import Attributes
from parity_tests.engine import plugin
from parity_tests.inputs import normal


class Dense:
    def __init__(self, n_inputs, n_neurons):
        self.weights = 0.01 * np.random.default_rng(0).standard_normal((n_inputs, n_neurons))
        self.biases = np.zeros((1, n_neurons))

    def forward(self, inputs):
        self.inputs = inputs
        self.output = inputs @ self.weights + self.biases

    def backward(self, dvalues):
        self.dweights = self.inputs.T @ dvalues
        self.dbiases = dvalues.sum(axis=0, keepdims=True)
        self.dinputs = dvalues @ self.weights.T


class BrokenDense(Dense):
    def backward(self, dvalues):
        super().backward(dvalues)
        self.dinputs = dvalues @ self.weights.T * 0.5


DENSE = Pair(
    name="Dense", reference=lambda c: Dense(c.C, 4), torch=lambda c: nn.Linear(c.C, 4),
    inputs=(normal("N", "C"),), configs=grid("N{N}C{C}", N=[1, 4], C=[3]),
    params=(Param("weights", "weight", permute=(1, 0)), Param("biases", "bias", shape=(1, -1))),
    convention=Attributes(grads="d{}", output="output", grad_input="dinputs"),
)

BROKEN = dataclasses.replace(DENSE, name="BrokenDense", reference=lambda c: BrokenDense(c.C, 4))

test_dense = parity_matrix(DENSE, BROKEN)
# an engine's uncovered catalog entries are items of this kind: run as skipped, saying why
SKIPPED = dataclasses.replace(DENSE, name="SkippedDense")
test_skipped = plugin.parity_matrix(SKIPPED, skipped={"SkippedDense": "said why"})
THREADS_BEFORE = torch.get_num_threads(), sorted(p["num_threads"] for p in threadpool_info())


def test_zz_the_plugin_imported_nothing_of_the_parity_repository():
    assert parity_tests.__file__.startswith(sys.prefix), parity_tests.__file__
    assert not {"reference", "torch_impl", "parity_tests.suite"} & set(sys.modules)


def test_zz_a_test_after_the_parity_items_has_its_thread_counts_back():
    assert (torch.get_num_threads(), sorted(p["num_threads"] for p in threadpool_info())) == THREADS_BEFORE
'''


def fresh_environment(tmp_path: Path) -> Path:
    """A virtual environment with this project installed from a copy of its sources; the
    dependencies (numpy, torch, pytest) are the ones this environment already has."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site_packages = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                        capture_output=True, text=True, check=True).stdout.strip())
    (site_packages / "dependencies.pth").write_text(site.getsitepackages()[0] + "\n")
    source = tmp_path / "source"
    for part in ["parity_tests", "reference", "torch_impl"]:
        shutil.copytree(ROOT / part, source / part, ignore=shutil.ignore_patterns("__pycache__"))
    for part in ["pyproject.toml", "README.md"]:
        shutil.copy(ROOT / part, source / part)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--no-index", "--disable-pip-version-check", str(source)],
                   check=True, capture_output=True)
    return python


def run_pytest(python: Path, project: Path, *args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([python, "-m", "pytest", "-p", "no:randomly", "-p", "no:cacheprovider", *args],
                          cwd=project, capture_output=True, text=True,
                          env={"PATH": str(python.parent), "HOME": "/", **(env or {})})


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    return fresh_environment(tmp_path_factory.mktemp("installed"))


# a project of its own tests only: the installed plugin must leave it as it would be without it
PLAIN_TEST = """
import os
import sys


def test_the_plugin_imported_no_torch_and_changed_no_thread_count():
    assert "torch" not in sys.modules, "the parity plugin imported torch into a run without parity items"
    import torch
    from threadpoolctl import threadpool_info

    assert (torch.get_num_threads(), sorted(p["num_threads"] for p in threadpool_info())) == \\
        eval(os.environ["THREADS_WITHOUT_PYTEST"])
"""

THREADS = ("import torch; from threadpoolctl import threadpool_info; "
           "print((torch.get_num_threads(), sorted(p['num_threads'] for p in threadpool_info())))")


def test_a_project_without_parity_items_is_left_alone(installed, tmp_path):
    (tmp_path / "test_plain.py").write_text(PLAIN_TEST)
    expected = subprocess.run([installed, "-c", THREADS], capture_output=True, text=True, check=True,
                              env={"PATH": str(installed.parent), "HOME": "/"}).stdout.strip()
    result = run_pytest(installed, tmp_path, env={"THREADS_WITHOUT_PYTEST": expected})
    assert re.search(r"^=+ 1 passed in ", result.stdout, re.M), result.stdout[-2000:] + result.stderr[-2000:]
    listed = run_pytest(installed, tmp_path, "--trace-config", "--collect-only", "-q")
    assert "parity_tests.engine.plugin" in listed.stdout  # the plugin is there, and idle


def test_another_project_runs_its_own_pair_through_the_installed_plugin(installed, tmp_path):
    python = installed
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_layers.py").write_text(PROJECT_TEST)

    result = run_pytest(python, project, "--parity-seeds", "1", "--parity-report", "reports", "-rs")
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    # per pair: 2 configurations x 2 dtypes, and 2 float32 cases after a first use in float64
    assert re.search(r"^=+ 6 failed, 8 passed, 6 skipped in ", output, re.M), output[-2000:]
    assert re.search(r"^SKIPPED \[6\] test_layers.py(:\d+)?: said why$", output, re.M), output[-2000:]
    assert "Dense                 float64" in output  # the end-of-run table
    rows = json.loads((project / "reports" / "parity.json").read_text())
    assert sorted(r["case"] for r in rows if r["passed"]) == sorted(
        [f"Dense-{d}-N{n}C3-seed0" for d in ("float32", "float64", "float32-after-float64") for n in (1, 4)])

    rerun = "re-run:    pytest 'test_layers.py::test_dense[BrokenDense-float64-N4C3-seed0]' -p no:randomly"
    assert rerun in output, output[-3000:]
    assert "finite differences: reference wrong" in output

    again = run_pytest(python, project, rerun.split("'")[1])
    assert re.search(r"^=+ 1 failed in ", again.stdout, re.M), again.stdout[-2000:]
