"""The matrix: every case of every pair, forward, gradients and state against torch."""

import pytest

from parity_tests.engine.judge import check_case
from parity_tests.engine.report import case_row


def test_parity(parity_case, request):
    verdicts = check_case(parity_case)
    request.node.user_properties.append(("parity", case_row(parity_case, verdicts)))
    failures = [v.message for v in verdicts if not v.passed]
    if failures:
        pytest.fail("\n\n".join(failures), pytrace=False)
