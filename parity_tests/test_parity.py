"""The matrix: every case of every pair, forward, gradients and state against torch."""

import dataclasses

import pytest

from parity_tests.judge import check_case


def test_parity(parity_case, request):
    verdicts = check_case(parity_case)
    case = parity_case
    request.node.user_properties.append(("parity", {
        "case": case.id, "pair": case.pair.name, "dtype": case.dtype, "config": case.config.id,
        "seed": case.seed_index, "passed": all(v.passed for v in verdicts),
        "checks": [{k: v for k, v in dataclasses.asdict(verdict).items() if k != "message"} for verdict in verdicts],
    }))
    failures = [v.message for v in verdicts if not v.passed]
    if failures:
        pytest.fail("\n\n".join(failures), pytrace=False)
