"""The known-bug corpus: every variant must fail the default matrix of its pairs."""

import numpy as np
import pytest

from parity_tests.engine.judge import check_case
from parity_tests.engine.registry import cases
from parity_tests.suite.bugs import BUGS
from parity_tests.suite.pairs import PAIRS, REGISTRY


def first_catch(bug) -> str | None:
    """The id of the first default-matrix case that fails with the bug in place, and how."""
    for case in cases([REGISTRY[name] for name in bug.pairs]):
        try:
            with np.errstate(all="ignore"):  # a buggy layer may overflow; the verdict decides
                failed = [v.check for v in check_case(case) if not v.passed]
        except Exception as error:  # a crash in the matrix is a caught bug too
            return f"{case.id}: {type(error).__name__}"
        if failed:
            return f"{case.id}: {', '.join(failed)}"
    return None


def test_corpus_is_large_and_spread_over_every_pair():
    assert len(BUGS) >= 40
    assert len({bug.name for bug in BUGS}) == len(BUGS)
    assert {p.name for p in PAIRS} <= {name for bug in BUGS for name in bug.pairs}


@pytest.mark.parametrize("bug", BUGS, ids=lambda bug: bug.name)
def test_bug_is_caught(bug, monkeypatch, request):
    monkeypatch.setattr(bug.owner, bug.attribute, bug.replacement)
    caught_by = first_catch(bug)
    request.node.user_properties.append(("bug", {"name": bug.name, "layer": bug.pairs[0], "caught": bool(caught_by)}))
    assert caught_by, f"{bug.name} ({bug.mistake}) survived the default matrix of {bug.pairs}"
