"""The matrix: every case of every pair, forward, gradients and state against torch."""

import pytest

from parity_tests.harness import check_case


def test_parity(parity_case, request):
    verdicts = check_case(parity_case)
    worst = max(verdicts, key=lambda v: v.headroom)
    request.node.user_properties.append(("parity", {
        "pair": parity_case.pair.name, "dtype": parity_case.dtype, "case": parity_case.id,
        "check": worst.name, "headroom": worst.headroom, "passed": all(v.passed for v in verdicts),
    }))
    failures = [v.message for v in verdicts if not v.passed]
    if failures:
        pytest.fail("\n\n".join(failures), pytrace=False)
