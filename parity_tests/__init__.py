"""Prove hand-written NumPy layers against their PyTorch twins, forward and backward.

What another project imports is the engine (``parity_tests.engine``), re-exported here;
``parity_tests.suite`` and ``parity_tests.tools`` are this repository's own suite and tools.

    from parity_tests import Attributes, Pair, Param, grid, normal, parity_matrix

    DENSE = Pair(name="Dense", reference=lambda c: Dense(c.C, 4), torch=lambda c: nn.Linear(c.C, 4),
                 inputs=(normal("N", "C"),), configs=grid("N{N}C{C}", N=[1, 4], C=[3]),
                 params=(Param("W", "weight", permute=(1, 0)), Param("b", "bias")),
                 convention=Attributes(grads="d{}"))

    test_dense = parity_matrix(DENSE)     # the matrix, one pytest item a case

    check(Dense(3, 4), nn.Linear(3, 4), x)  # one call, no test file: prints a verdict
"""

from parity_tests.engine.check import CheckResult, check
from parity_tests.engine.conventions import Attributes, Convention, Dicts, Functional, Protocol
from parity_tests.engine.judge import Verdict, check_case
from parity_tests.engine.layouts import DeclarationError, Layout, axes
from parity_tests.engine.plugin import parity_matrix
from parity_tests.engine.registry import (
    Case,
    Config,
    Pair,
    Param,
    cases,
    grid,
    integers,
    nested,
    normal,
    normal_or_tied,
    probabilities,
    targets,
)
from parity_tests.engine.tolerances import Tolerance


def assert_pair(pair: Pair, dtypes=("float32", "float64"), seeds: int = 3) -> int:
    """Run every case of ``pair``; raise AssertionError with every failing tensor's
    explanation, or return the number of cases run."""
    matrix = cases([pair], dtypes, seeds)
    failures = [v.message for case in matrix for v in check_case(case) if not v.passed]
    if failures:
        raise AssertionError(f"{len(failures)} failing tensor(s) in {pair.name}:\n\n" + "\n\n".join(failures))
    return len(matrix)


__all__ = [
    "Attributes", "Case", "CheckResult", "Config", "Convention", "DeclarationError", "Dicts", "Functional", "Layout",
    "Pair", "Param", "Protocol", "Tolerance", "Verdict", "assert_pair", "axes", "cases", "check", "check_case", "grid",
    "integers", "nested", "normal", "normal_or_tied", "parity_matrix", "probabilities", "targets",
]
