"""Each side stands alone: nothing in reference/ imports torch, nothing in torch_impl/ imports
reference (a twin that borrowed the reference's checks would share its mistakes)."""

import ast
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "reference"


@pytest.mark.parametrize("side, forbidden", [("reference", "torch"), ("torch_impl", "reference")])
def test_a_side_never_imports_the_other(side, forbidden):
    offenders = []
    for path in sorted((ROOT / side).glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] == forbidden]
    assert not offenders, f"{side}/ imports {forbidden}: {offenders}"
    assert len(list((ROOT / side).glob("*.py"))) > 1, f"found no {side} sources to scan"


def test_the_two_sides_mirror_each_other_file_for_file():
    def modules(side):
        return {p.name for p in (ROOT / side).glob("*.py")} - {"__init__.py"}

    assert modules("reference") == modules("torch_impl")


def test_importing_reference_loads_no_torch():
    code = (
        "import sys, pkgutil, importlib, reference\n"
        "for m in pkgutil.iter_modules(reference.__path__): importlib.import_module('reference.' + m.name)\n"
        "print('torch' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=REFERENCE.parent, check=True)
    assert result.stdout.strip() == "False"
