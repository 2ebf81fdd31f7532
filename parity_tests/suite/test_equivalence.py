"""The seed's NumPy / PyTorch table: every row checked, the generated document fresh."""

from pathlib import Path

import pytest

from parity_tests.tools.equivalence import DOCUMENT, ROWS, VERDICTS, render

SEED = Path(__file__).resolve().parents[3] / "shared" / "seeds" / "000_cac0741403306ca2.txt"


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.operation)
def test_row_verdict_holds(row):
    assert row.verdict in VERDICTS
    row.check()  # raises when NumPy and torch do not behave as the verdict says


def seed_rows() -> list[list[str]]:
    lines = [line for line in SEED.read_text().splitlines() if line.startswith("| ") and "NumPy Operation" not in line]
    return [[cell.replace("`", "").strip(" *") for cell in line.strip().strip("|").split("|")] for line in lines]


def test_every_row_of_the_seed_has_a_check():
    assert len({row.operation for row in ROWS}) == len(ROWS) == 45
    # the seed sits beside the checkout (../shared); its cells must be the rows' claims, verbatim
    if SEED.exists():
        seed = seed_rows()
        assert [(r[0], r[2], r[3]) for r in seed] == [(r.operation, r.numpy, r.torch_claim) for r in ROWS]


def test_generated_document_is_fresh():
    assert DOCUMENT.read_text() == render(), "docs/numpy-torch-equivalence.md is stale: run `make docs`"


def test_the_table_lists_every_row_that_is_not_identical():
    from parity_tests.tools.equivalence import IDENTICAL

    readme = (Path(__file__).resolve().parents[2] / "docs" / "numpy-torch-table.md").read_text()
    for row in ROWS:
        listed = f"| {row.operation} | {row.verdict} |" in readme
        assert listed == (row.verdict != IDENTICAL), row.operation
