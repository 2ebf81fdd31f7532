"""The report files, from real cases."""

import json

from parity_tests.engine import report
from parity_tests.engine.judge import judge_case
from parity_tests.engine.registry import cases
from parity_tests.suite.pairs import REGISTRY


def rows_for(pair_names):
    return [report.case_row(case, judge_case(case)) for case in cases([REGISTRY[n] for n in pair_names], seeds=1)]


def test_write_reports(tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    rows = rows_for(["BatchNorm2d", "Linear"])
    notes = report.write_reports(rows, tmp_path / "reports")
    saved = json.loads((tmp_path / "reports" / "parity.json").read_text())
    assert {r["case"] for r in saved} == {r["case"] for r in rows}
    markdown = (tmp_path / "reports" / "parity.md").read_text()
    assert "| BatchNorm2d | float32 |" in markdown and "Closest calls" in markdown
    assert summary.read_text() == markdown
    assert (tmp_path / "reports" / "parity.png").stat().st_size > 0, notes


def test_heatmap_categories():
    labels, grid = report.heatmap_grid(rows_for(["BatchNorm2d"]))
    assert labels == ["BatchNorm2d float32", "BatchNorm2d float64"]
    assert all(value is not None for row in grid for value in row)  # output, grads and state all present


def test_table_and_closest_calls():
    rows = rows_for(["Sigmoid"])
    header, *lines = report.table(rows)
    assert header.split()[:4] == ["pair", "dtype", "cases", "failed"]
    assert [line.split()[:2] for line in lines] == [["Sigmoid", "float32"], ["Sigmoid", "float64"]]
    assert len(report.closest_calls(rows, count=3)) == 3


def test_headroom_per_distribution():
    rows = rows_for(["LayerNorm"])
    header, *lines = report.by_distribution(rows)
    assert header.split()[:2] == ["distribution", "dtype"]
    assert [line.split()[:2] for line in lines] == [[d, t] for d in ("large", "offset", "standard", "wide")
                                                    for t in ("float32", "float64")]
    assert all(line.split()[4].replace(".", "").replace("e-", "").isdigit() for line in lines)  # a headroom
    markdown = report.markdown(rows)
    assert "By input distribution:" in markdown and "offset        float32" in markdown
