"""The parity suite: the pair registry, the generic harness, the test matrix.

Usable from another project's tests to check that project's own layers::

    from parity_tests import Pair, Param, assert_pair, grid, normal

    SCALE = Pair(name="Scale", reference=lambda c: MyScale(c.C), torch=lambda c: TorchScale(c.C),
                 inputs=(normal("N", "C"),), configs=grid("N{N}C{C}", N=[1, 4], C=[3]),
                 params=(Param("w", "weight"),))

    def test_scale():
        assert_pair(SCALE)
"""

from parity_tests.engine.judge import Verdict, check_case
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
    "Case", "Config", "Pair", "Param", "Tolerance", "Verdict", "assert_pair", "cases", "check_case", "grid",
    "integers", "nested", "normal", "normal_or_tied", "probabilities", "targets",
]
