"""Adding a pair is one declaration: every check picks it up with no edit to any test file."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

from parity_tests import Pair, Param, assert_pair, grid
from parity_tests.inputs import normal
from reference.base import Layer, check_input

ROOT = Path(__file__).resolve().parents[2]

THROWAWAY = '''
from parity_tests import grid, Pair
from parity_tests.inputs import normal
from parity_tests.suite.pairs import PAIRS, REGISTRY
from parity_tests.suite.test_extending import Scale, TorchScale, SCALE_PARAMS

PAIRS.append(Pair(name="Throwaway", reference=lambda c: Scale(c.C), torch=lambda c: TorchScale(c.C),
                  inputs=(normal("N", "C"),), configs=grid("N{N}C{C}", N=[1, 3], C=[4]), params=SCALE_PARAMS))
REGISTRY["Throwaway"] = PAIRS[-1]
'''


class Scale(Layer):
    """y = x * w per feature.  x, y: (N, C), w: (C,).  dL/dx = g w, dL/dw = sum_n g x."""

    def __init__(self, features):
        super().__init__()
        self.params["w"] = np.ones(features)

    def forward(self, x):
        self.x = check_input(x, "Scale input", ("N", self.params["w"].shape[0]))
        return self._remember_output(x * self.params["w"])

    def backward(self, grad_out):
        g = self._check_grad(grad_out)
        self.grads["w"] = np.sum(g * self.x, axis=0)
        return g * self.params["w"]


class TorchScale(nn.Module):
    def __init__(self, features):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(features))

    def forward(self, x):
        return x * self.weight


SCALE_PARAMS = (Param("w", "weight"),)


def run_pytest(*args, cwd=ROOT, plugin_dir=None):
    env_path = f"{plugin_dir}:{cwd}" if plugin_dir else str(cwd)
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:randomly", "-p", "no:cacheprovider", *args],
                          cwd=cwd, capture_output=True, text=True, env={"PYTHONPATH": env_path, "PATH": ""})


def test_throwaway_pair_is_collected_by_every_check(tmp_path):
    (tmp_path / "throwaway_pair.py").write_text(THROWAWAY)
    result = run_pytest("--collect-only", "-q", "-p", "throwaway_pair", "parity_tests", plugin_dir=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    collected = [line for line in result.stdout.splitlines() if "Throwaway" in line]
    for check in ["test_parity.py::test_parity[Throwaway-float32-N1C4-seed0]",
                  "test_third_judge.py::test_reference_backward_matches_finite_differences[Throwaway-",
                  "test_third_judge.py::test_torch_twin_passes_gradcheck[Throwaway-",
                  "test_fuzz.py::test_fuzz[Throwaway]",
                  "test_bad_input.py::test_backward_before_forward[Throwaway]"]:
        assert any(check in line for line in collected), f"{check} not collected:\n" + "\n".join(collected)


def test_pair_checked_through_the_public_api():
    pair = Pair(name="Scale", reference=lambda c: Scale(c.C), torch=lambda c: TorchScale(c.C),
                inputs=(normal("N", "C"),), configs=grid("N{N}C{C}", N=[1, 3], C=[4]), params=SCALE_PARAMS)
    assert assert_pair(pair) == 2 * 2 * 3 + 2  # + each configuration's float32 case after a first use in float64


def test_new_pair_skeleton_is_green_from_the_start(tmp_path):
    """Scaffolding is the only step: every generic test (the matrix, the third judge, bad input,
    the corpus and its coverage, fuzzing, the mirror of the two sides) passes, no test file edited."""
    for part in ["reference", "torch_impl", "parity_tests"]:
        shutil.copytree(ROOT / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__"))
    for part in ["conftest.py", "pyproject.toml"]:
        shutil.copy(ROOT / part, tmp_path / part)
    made = subprocess.run([sys.executable, "-m", "parity_tests.tools.new_pair", "ScaledReLU", "--root", str(tmp_path)],
                          cwd=tmp_path, capture_output=True, text=True, env={"PYTHONPATH": str(tmp_path)})
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "reference" / "scaled_relu.py").exists()  # the class's words: Scaled, ReLU
    assert (tmp_path / "torch_impl" / "scaled_relu.py").exists()
    suite = [f"parity_tests/suite/{name}.py" for name in ("test_parity", "test_third_judge", "test_bad_input",
                                                          "test_bugs", "test_fuzz", "test_isolation")]
    result = run_pytest("-v", "-k", "ScaledReLU or scaled_relu or corpus_is_large or mirror", *suite, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for node in ["test_parity[ScaledReLU-float32-N1C3-seed0]", "test_reference_backward_matches_finite_differences["
                 "ScaledReLU", "test_wrong_ndim[ScaledReLU-reference]", "test_bug_is_caught[scaled_relu_grad_doubled]",
                 "test_corpus_is_large_and_spread_over_every_pair_and_family", "test_fuzz[ScaledReLU]",
                 "test_the_two_sides_mirror_each_other_file_for_file"]:
        assert re.search(re.escape(node) + r".* PASSED", result.stdout), (node, result.stdout[-3000:])


PAIRS_MODULE = '''
from parity_tests import grid, Pair
from parity_tests.inputs import normal
from parity_tests.suite.test_extending import SCALE_PARAMS, Scale, TorchScale

PAIRS = [Pair(name="Scale", reference=lambda c: Scale(c.C), torch=lambda c: TorchScale(c.C),
              inputs=(normal("N", "C"),), configs=grid("N{N}C{C}", N=[1, 3], C=[4]), params=SCALE_PARAMS)]
'''


def test_pairs_named_by_option_or_ini_key_run_in_another_directory(tmp_path):
    (tmp_path / "my_pairs.py").write_text(PAIRS_MODULE)
    (tmp_path / "test_layers.py").write_text("from parity_tests import parity_matrix\n\n"
                                             "test_parity = parity_matrix()\n")
    by_option = run_pytest("-q", "--parity-pairs", "my_pairs", "--parity-seeds", "1", cwd=tmp_path, plugin_dir=ROOT)
    assert "6 passed" in by_option.stdout, by_option.stdout[-2000:] + by_option.stderr[-2000:]  # 4 + 2 after float64
    (tmp_path / "pytest.ini").write_text("[pytest]\nparity_pairs = my_pairs\n")
    by_ini = run_pytest("-q", "--parity-seeds", "1", cwd=tmp_path, plugin_dir=ROOT)
    assert "6 passed" in by_ini.stdout, by_ini.stdout[-2000:]
    (tmp_path / "pytest.ini").write_text("[pytest]\nparity_pairs = test_layers\n")
    no_pairs = run_pytest("-q", cwd=tmp_path, plugin_dir=ROOT)
    refusal = "parity_pairs: module 'test_layers' has no PAIRS list of Pair declarations"
    assert no_pairs.returncode != 0 and refusal in no_pairs.stdout + no_pairs.stderr, no_pairs.stdout[-2000:]
