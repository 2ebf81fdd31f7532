"""The parity report: the end-of-run table, and reports/parity.{json,md,png}."""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path

CATEGORIES = ("output", "grad input", "grad params", "state")


def case_row(case, verdicts) -> dict:
    """One case as the report keeps it: ids, verdict, and every check's errors and tolerance."""
    return {"case": case.id, "pair": case.pair.name, "dtype": case.dtype, "config": case.config.id,
            "distribution": getattr(case.config, "distribution", "standard"), "seed": case.seed_index,
            "passed": all(v.passed for v in verdicts),
            # not dataclasses.asdict: its deep copies cost a fiftieth of a case (a verdict's fields are plain values)
            "checks": [{name: value for name, value in vars(verdict).items() if name != "message"}
                       for verdict in verdicts]}


def category(check: dict) -> str:
    """The heatmap column of a check: its kind, parameter gradients together."""
    kind = check.get("kind", "")
    return {"grad param": "grad params"}.get(kind, kind if kind in CATEGORIES else "output")


def by_pair(rows: list[dict]) -> dict[tuple[str, str], list[dict]]:
    groups = defaultdict(list)
    for row in rows:
        groups[(row["pair"], row["dtype"])].append(row)
    return dict(sorted(groups.items()))


def worst_check(row: dict) -> dict:
    return max(row["checks"], key=lambda c: c["headroom"])


def table(rows: list[dict]) -> list[str]:
    """One line per pair and dtype: cases, failures, the worst check's error, tolerance, headroom."""
    width = max([22, *(len(row["pair"]) + 2 for row in rows)])  # the longest pair name, and room
    lines = [f"{'pair':<{width}}{'dtype':<9}{'cases':>6}{'failed':>7}{'worst error':>13}{'tolerance':>11}"
             f"{'headroom':>10}  worst check"]
    for (pair, dtype), group in by_pair(rows).items():
        worst = max((worst_check(r) | {"case": r["case"]} for r in group), key=lambda c: c["headroom"])
        failed = sum(not r["passed"] for r in group)
        lines.append(f"{pair:<{width}}{dtype:<9}{len(group):>6}{failed:>7}{worst['max_abs_error']:>13.3g}"
                     f"{worst['atol']:>11.3g}{worst['headroom']:>10.3g}  {worst['check']}")
    return lines


def by_distribution(rows: list[dict]) -> list[str]:
    """Worst headroom per input distribution and dtype, over every pair that runs it."""
    groups = defaultdict(list)
    for row in rows:
        groups[(row.get("distribution", "standard"), row["dtype"])].append(row)
    lines = [f"{'distribution':<14}{'dtype':<9}{'cases':>6}{'failed':>7}{'headroom':>10}  worst case"]
    for (distribution, dtype), group in sorted(groups.items()):
        worst_row = max(group, key=lambda r: worst_check(r)["headroom"])
        worst = worst_check(worst_row)
        lines.append(f"{distribution:<14}{dtype:<9}{len(group):>6}{sum(not r['passed'] for r in group):>7}"
                     f"{worst['headroom']:>10.3g}  {worst_row['case']}: {worst['check']}")
    return lines


def closest_calls(rows: list[dict], count: int = 10) -> list[str]:
    """The passing checks nearest their tolerance."""
    passing = [(c["headroom"], r["case"], c["check"]) for r in rows for c in r["checks"] if c["passed"]]
    return [f"{headroom:>8.3g}  {case}: {check}" for headroom, case, check in sorted(passing, reverse=True)[:count]]


def kill_rates(bugs: list[dict]) -> list[str]:
    """Caught / total of a bug corpus, overall, per family and per layer."""
    caught = sum(b["caught"] for b in bugs)
    lines = [f"caught {caught}/{len(bugs)} ({100 * caught / len(bugs):.0f}%)"]
    for key in ("family", "layer"):
        groups = defaultdict(list)
        for bug in bugs:
            groups[bug.get(key, "")].append(bug["caught"])
        lines += [f"  by {key}:"] + [f"    {name:<22}{sum(c)}/{len(c)} ({100 * sum(c) / len(c):.0f}%)"
                                    for name, c in sorted(groups.items())]
    lines += [f"  SURVIVED: {b['name']}" for b in bugs if not b["caught"]]
    return lines


def heatmap_grid(rows: list[dict]) -> tuple[list[str], list[list[float | None]]]:
    """Worst headroom by (pair, dtype) and check category; None where a pair has no such check."""
    labels, grid = [], []
    for (pair, dtype), group in by_pair(rows).items():
        worst = dict.fromkeys(CATEGORIES)
        for check in (c for r in group for c in r["checks"]):
            key = category(check)
            worst[key] = max(worst[key] or 0.0, check["headroom"])
        labels.append(f"{pair} {dtype}")
        grid.append([worst[c] for c in CATEGORIES])
    return labels, grid


def markdown(rows: list[dict]) -> str:
    lines = ["## Parity report", "", f"{len(rows)} cases, {sum(not r['passed'] for r in rows)} failed.", "",
             "| pair | dtype | cases | failed | worst error | tolerance | headroom | worst check |",
             "|---|---|---:|---:|---:|---:|---:|---|"]
    for (pair, dtype), group in by_pair(rows).items():
        worst = max((worst_check(r) for r in group), key=lambda c: c["headroom"])
        failed = sum(not r["passed"] for r in group)
        lines.append(f"| {pair} | {dtype} | {len(group)} | {failed} | {worst['max_abs_error']:.3g} | "
                     f"{worst['atol']:.3g} | {worst['headroom']:.3g} | {worst['check']} |")
    lines += ["", "By input distribution:", "", "```", *by_distribution(rows), "```"]
    lines += ["", "Closest calls (headroom = error / tolerance; 1 fails):", "", "```", *closest_calls(rows), "```", ""]
    return "\n".join(lines)


def write_heatmap(rows: list[dict], path: Path) -> str:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.colors import LogNorm
    except ImportError:
        return f"{path.name} skipped: matplotlib is not installed (pip install '.[report]')"
    import numpy as np

    labels, grid = heatmap_grid(rows)
    values = np.array([[np.nan if v is None else max(v, 1e-8) for v in row] for row in grid])
    fig, ax = plt.subplots(figsize=(8, 0.32 * len(labels) + 1.5))
    image = ax.imshow(values, cmap="viridis", norm=LogNorm(vmin=1e-8, vmax=1.0), aspect="auto")
    ax.set_xticks(range(len(CATEGORIES)), CATEGORIES)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    for (i, j), v in np.ndenumerate(values):
        if not np.isnan(v):
            ax.text(j, i, f"{v:.0e}", ha="center", va="center", fontsize=6, color="white" if v < 1e-3 else "black")
    fig.colorbar(image, label="worst headroom (error / tolerance)")
    ax.set_title("Parity headroom: 1 fails; the darker, the safer")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return f"wrote {path}"


def write_reports(rows: list[dict], directory: Path) -> list[str]:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "parity.json").write_text(json.dumps(sorted(rows, key=lambda r: r["case"]), indent=1))
    text = markdown(rows)
    (directory / "parity.md").write_text(text)
    notes = [f"wrote {directory / 'parity.json'}", f"wrote {directory / 'parity.md'}"]
    if summary := os.environ.get("GITHUB_STEP_SUMMARY"):
        with open(summary, "a") as handle:
            handle.write(text)
        notes.append("appended the markdown to $GITHUB_STEP_SUMMARY")
    notes.append(write_heatmap(rows, directory / "parity.png"))
    return notes
