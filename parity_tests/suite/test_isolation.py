"""The NumPy side stands alone: nothing in reference/ imports torch."""

import ast
import pathlib
import subprocess
import sys

REFERENCE = pathlib.Path(__file__).resolve().parents[2] / "reference"


def test_reference_sources_never_import_torch():
    offenders = []
    for path in sorted(REFERENCE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] == "torch"]
    assert not offenders, f"reference/ imports torch: {offenders}"
    assert len(list(REFERENCE.glob("*.py"))) > 1, "found no reference sources to scan"


def test_importing_reference_loads_no_torch():
    code = (
        "import sys, pkgutil, importlib, reference\n"
        "for m in pkgutil.iter_modules(reference.__path__): importlib.import_module('reference.' + m.name)\n"
        "print('torch' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=REFERENCE.parent, check=True)
    assert result.stdout.strip() == "False"
