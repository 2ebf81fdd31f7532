"""``make bench``: every reference layer against its torch twin and against its own limit on
this machine, and the parity matrix against pytest's own floor. Writes reports/bench.md and
reports/bench.png.

The limit of a layer is measured in the same run:
- matrix-bound layers (Conv2d, Linear): the three products any im2col layer must do,
  x W^T, g^T x and g W, at the layer's own (M, K, O), on contiguous operands, each in the
  faster of its two layouts (positions as rows, or as columns);
- memory-bound layers: the fewest passes over their bytes the maths needs (read every input
  once, write every output once, forward and backward, plus a pass for a statistic that must
  be known before the output can be written), each pass timed as half a NumPy copy of the
  first input's bytes.
Timings are medians of repeated runs, in one process, with NumPy's BLAS and torch held to the
same thread count.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_info, threadpool_limits

from reference import activations, blocks, conv, linear, losses, norm, pooling
from torch_impl import activations as t_activations
from torch_impl import blocks as t_blocks
from torch_impl import conv as t_conv
from torch_impl import linear as t_linear
from torch_impl import losses as t_losses
from torch_impl import norm as t_norm
from torch_impl import pooling as t_pooling

ROOT = Path(__file__).resolve().parents[2]
RESNET_STAGE = (8, 64, 32, 32)  # batch 8, 64 channels, 32x32
LATER_STAGE = (32, 256, 14, 14)  # batch 32, 256 channels, 14x14: 6.4 MB in float32, past the L2 cache
CONV_TARGET, MEMORY_TARGET = 1.3, 2.0  # reference / limit for matrix-bound layers; reference / torch otherwise


@dataclass(frozen=True)
class Target:
    """reference / ``against`` (the limit, or torch) must be at most ``bound``."""

    against: str
    bound: float

    def __str__(self) -> str:
        return f"ref/{self.against} <= {self.bound}"


@dataclass
class Workload:
    """One layer on one shape. ``products`` are the (M, K, O) of its three matrix products
    (matrix-bound layers); ``passes`` the fewest passes over the first input's bytes its
    forward and backward need (memory-bound layers)."""

    name: str
    reference: object
    twin: object
    inputs: tuple[tuple[int, ...], ...]
    products: tuple[int, int, int] | None = None
    passes: float = 0.0
    backward: str = "backward"
    classes: bool = False  # the second input is integer class targets

    @property
    def target(self) -> Target | None:
        if self.products:
            return Target("limit", CONV_TARGET)
        return Target("torch", MEMORY_TARGET) if self.passes else None


CONV_SHAPES = [  # (N, C, O, H, kernel, stride, padding)
    (16, 256, 64, 14, 1, 1, 0),   # 1x1, many channels in, batch 16
    (1, 64, 256, 56, 1, 1, 0),    # 1x1, batch 1
    (16, 16, 16, 32, 3, 1, 1),    # 3x3, few channels
    (16, 32, 32, 32, 3, 1, 0),    # 3x3, no padding
    (16, 128, 128, 16, 3, 1, 1),  # 3x3, many channels
    (16, 64, 128, 32, 3, 2, 1),   # 3x3, stride 2
    (1, 256, 256, 14, 3, 1, 1),   # 3x3, batch 1, many channels
    (16, 32, 32, 32, 5, 1, 2),    # 5x5
    (8, 64, 64, 32, 3, 1, 1),     # the ResNet stage
]


def conv_workload(n, c, o, h, k, s, p) -> Workload:
    out = (h + 2 * p - k) // s + 1
    return Workload(f"Conv2d {k}x{k} s{s} p{p} C{c}->{o} N{n} {h}x{h}", conv.Conv2d(c, o, k, s, p),
                    t_conv.Conv2d(c, o, k, s, p), ((n, c, h, h),), products=(n * out * out, c * k * k, o))


def bn_eval(layer):
    layer.eval()
    return layer


def memory_workloads(shape) -> list[Workload]:
    n, c, h, w = shape
    rows = (n * c, h * w)  # the same bytes as rows, for the row-wise layers
    label = "x".join(map(str, shape))
    return [
        # read x, write y; read g and the mask (or y), write dx
        Workload(f"ReLU {label}", activations.ReLU(), t_activations.ReLU(), (shape,), passes=5),
        Workload(f"Sigmoid {label}", activations.Sigmoid(), t_activations.Sigmoid(), (shape,), passes=5),
        # a row fits in cache: read x, write y; read y and g, write dx
        Workload(f"Softmax {rows[0]}x{rows[1]}", activations.Softmax(), t_activations.Softmax(), (rows,), passes=5),
        Workload(f"LayerNorm {rows[0]}x{rows[1]}", norm.LayerNorm(rows[1]), t_norm.LayerNorm(rows[1]), (rows,),
                 passes=5),
        # the statistics are a pass before the output: read x twice, write y; read g and x twice
        # (the sums of g and g x_hat come before dx), write dx
        Workload(f"BatchNorm2d train {label}", norm.BatchNorm2d(c), t_norm.BatchNorm2d(c), (shape,), passes=8),
        Workload(f"BatchNorm2d eval {label}", bn_eval(norm.BatchNorm2d(c)), bn_eval(t_norm.BatchNorm2d(c)),
                 (shape,), passes=5),
        # read x, write y (a quarter); read g and the indices (a quarter each), write dx
        Workload(f"MaxPool2d 2x2 {label}", pooling.MaxPool2d(2), t_pooling.MaxPool2d(2), (shape,), passes=2.75),
        Workload(f"MaxPool2d 3x3 s2 p1 {label}", pooling.MaxPool2d(3, 2, 1), t_pooling.MaxPool2d(3, 2, 1), (shape,),
                 passes=2.75),
        Workload(f"GlobalAvgPool2d {label}", pooling.GlobalAvgPool2d(), t_pooling.GlobalAvgPool2d(), (shape,),
                 passes=2),
        # read p; read p again, write dx
        Workload(f"CrossEntropyLoss {rows[0]}x{rows[1]}", losses.CrossEntropyLoss(), t_losses.CrossEntropyLoss(),
                 (rows, rows[:1]), passes=3, classes=True),
        # read p and t; read them again, write dx
        Workload(f"MSELoss {label}", losses.MSELoss(), t_losses.MSELoss(), (shape, shape), passes=5),
    ]


def workloads() -> list[Workload]:
    n, c, h, w = RESNET_STAGE
    return [
        *(conv_workload(*shape) for shape in CONV_SHAPES),
        Workload("Linear 256x1024->1024", linear.Linear(1024, 1024), t_linear.Linear(1024, 1024), ((256, 1024),),
                 products=(256, 1024, 1024)),
        *memory_workloads(RESNET_STAGE),
        *memory_workloads(LATER_STAGE),
        Workload("Softmax 512x1000 (Jacobian loop)", activations.Softmax(), t_activations.Softmax(), ((512, 1000),),
                 backward="backward_jacobian"),
        Workload("ResidualBlock d1024 N256", blocks.ResidualBlock(1024), t_blocks.ResidualBlock(1024),
                 ((1024, 256),)),
        Workload("SEBlock r16", blocks.SEBlock(c, 16), t_blocks.SEBlock(c, 16), (RESNET_STAGE,)),
        Workload("SEResNetBlock", blocks.SEResNetBlock(c, c, 1, 16), t_blocks.SEResNetBlock(c, c, 1, 16),
                 (RESNET_STAGE,)),
    ]


def median_time(function, repeats: int, budget: float = 2.0) -> float:
    """Median of up to ``repeats`` runs after a warm-up, within ``budget`` seconds (at least 3).

    Each function is timed in a block of its own: interleaving torch with NumPy would time
    each against the other's worker threads, which spin for a while after their work."""
    function()
    times = []
    start = time.perf_counter()
    while len(times) < repeats and (time.perf_counter() - start < budget or len(times) < 3):
        t0 = time.perf_counter()
        function()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def make_inputs(load: Workload, dtype, rng):
    arrays = [rng.standard_normal(shape).astype(dtype) for shape in load.inputs]
    if load.classes:
        probabilities = np.exp(arrays[0]) / np.exp(arrays[0]).sum(axis=1, keepdims=True)
        arrays = [probabilities.astype(dtype), rng.integers(0, load.inputs[0][1], load.inputs[1])]
    return arrays


def limit_time(load: Workload, dtype, rng, repeats: int, budget: float) -> float | None:
    """The time of the work the layer cannot avoid, on arrays made here: its three products
    (each in its faster layout), or its passes over memory. None for a layer with neither."""
    if load.products:
        m, k, o = load.products
        x, weight, g = (rng.standard_normal(shape).astype(dtype) for shape in ((m, k), (o, k), (m, o)))
        x_cols, g_cols = np.ascontiguousarray(x.T), np.ascontiguousarray(g.T)  # positions as columns
        products = [(lambda: x @ weight.T, lambda: weight @ x_cols),
                    (lambda: g.T @ x, lambda: g_cols @ x_cols.T),
                    (lambda: g @ weight, lambda: weight.T @ g_cols)]
        return sum(min(median_time(form, repeats, budget / 6) for form in forms) for forms in products)
    if load.passes:
        source = rng.standard_normal(load.inputs[0]).astype(dtype).reshape(-1)
        target = np.empty_like(source)
        copies = load.passes / 2  # a copy is one read and one write
        cut = round((copies - int(copies)) * source.size)

        def passes():
            for _ in range(int(copies)):
                np.copyto(target, source)
            np.copyto(target[:cut], source[:cut])

        return median_time(passes, repeats, budget)
    return None


def time_workload(load: Workload, dtype, rounds: int, budget: float) -> tuple[float, float, float | None]:
    """Reference, torch and limit times, in seconds (limit None where the layer has none)."""
    rng = np.random.default_rng(0)
    inputs = make_inputs(load, dtype, rng)
    layer = load.reference.to(dtype)
    upstream = rng.standard_normal(np.shape(layer(*inputs))).astype(dtype)

    def reference():
        layer(*inputs)
        getattr(layer, load.backward)(upstream)

    module = load.twin.to(getattr(torch, np.dtype(dtype).name))
    tensors = [torch.from_numpy(x) for x in inputs]
    tensors[0].requires_grad_(True)
    grad = torch.from_numpy(upstream)

    def twin():
        module.zero_grad(set_to_none=True)
        tensors[0].grad = None
        module(*tensors).backward(grad)

    return (median_time(reference, rounds, budget), median_time(twin, rounds, budget),
            limit_time(load, dtype, rng, rounds, budget))


def matmul_rate(dtype, size: int = 1024) -> float:
    a, b = (np.random.default_rng(0).standard_normal((size, size)).astype(dtype) for _ in range(2))
    return 2 * size**3 / median_time(lambda: a @ b, 20)


def time_pytest(args: list[str], cwd: Path, env: dict | None = None) -> float:
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
                             *args], cwd=cwd, capture_output=True, text=True,
                            env=None if env is None else os.environ | env)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"pytest {' '.join(args)} failed:\n{result.stdout[-2000:]}")
    return elapsed


# a plugin that passes every parity case at once, with one verdict and nothing run: the
# matrix's items then cost what pytest and the parity plugin cost around them
NOTHING_JUDGED = """
def pytest_configure(config):
    from parity_tests.engine import judge
    judge.judge_case = lambda case, setup=None: [judge.Verdict("output", True, 0.0, 0.0, 0.0, 0.0, 0.0, kind="output")]
"""


def matrix_timings(seeds: int, rounds: int = 1) -> dict:
    """The parity matrix at ``seeds`` seeds a configuration and an empty test with as many
    cases (pytest's own floor), serial and -n auto; and, serially, the matrix with nothing
    judged (what its items cost outside the harness). Serially the two run in turn ``rounds``
    times: each time is the median of its runs, and "serial ratio" the median of the ratios of
    the runs made side by side (a machine whose speed drifts moves both), "ratio range" their
    lowest and highest."""
    args = ["parity_tests/suite/test_parity.py", "--parity-seeds", str(seeds)]
    collected = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:randomly", *args],
                               cwd=ROOT, capture_output=True, text=True)
    count = sum(1 for line in collected.stdout.splitlines() if "::test_parity[" in line)
    with tempfile.TemporaryDirectory() as empty_dir:
        Path(empty_dir, "test_empty.py").write_text(textwrap.dedent(f"""
            import pytest
            import numpy, torch  # the same imports the matrix pays for

            @pytest.mark.parametrize("case", range({count}))
            def test_empty(case):
                pass
        """))
        Path(empty_dir, "nothing_judged.py").write_text(NOTHING_JUDGED)
        timings = {"cases": count}
        for label, extra, times in (("serial", [], rounds), ("-n auto", ["-n", "auto"], 1)):
            print(f"timing the matrix at {seeds} seeds ({count} cases) and its floor, {label}, x{times}", flush=True)
            pairs = [(time_pytest([*args, *extra], ROOT), time_pytest(["test_empty.py", *extra], Path(empty_dir)))
                     for _ in range(times)]
            timings[f"matrix {label}"] = statistics.median(matrix for matrix, _ in pairs)
            timings[f"empty {label}"] = statistics.median(empty for _, empty in pairs)
            ratios = [matrix / empty for matrix, empty in pairs]
            timings[f"{label} ratio"] = statistics.median(ratios)
            timings[f"{label} ratio range"] = (min(ratios), max(ratios))
        timings["nothing judged serial"] = time_pytest([*args, "-p", "nothing_judged"], ROOT, {"PYTHONPATH": empty_dir})
    return timings


def shown_ratio(timings: dict, label: str) -> str:
    """The median matrix / floor ratio, and the range of the ratios where several were run."""
    low, high = timings[f"{label} ratio range"]
    median = f"{timings[f'{label} ratio']:.2f}"
    return median if low == high else f"{median} ({low:.2f} to {high:.2f})"


def case_breakdown(pair_names=None) -> tuple[int, dict[str, float]]:
    """CPU ms a case in each phase of ``judge_case``, over the default matrix (of the pairs
    named, or all), serially on one thread, after one case of each pair has paid its first-call
    costs: the draw (inputs, parameters, state, the decoy and the upstreams, less the judge run
    it holds), the float64 runs of the twin, its run in the case's dtype, the reference
    (the decoy, forward, backward), the verdicts (the comparisons and their messages) and the rest
    (the twin's self-agreement, bookkeeping)."""
    from parity_tests.engine import harness, judge
    from parity_tests.engine.registry import cases
    from parity_tests.suite.pairs import REGISTRY

    spent: dict[str, float] = dict.fromkeys(("draw", "judge", "twin", "reference", "verdicts"), 0.0)
    inner = [0.0]  # the time of the phases running inside the current one (the draw runs the judge)

    def timed(function, phase_of):
        def wrapper(*args, **kwargs):
            start, outer = time.process_time(), inner[0]
            inner[0] = 0.0
            try:
                return function(*args, **kwargs)
            finally:
                elapsed = time.process_time() - start
                spent[phase_of(*args)] += elapsed - inner[0]
                inner[0] = outer + elapsed
        return wrapper

    matrix = cases([REGISTRY[name] for name in pair_names or REGISTRY])
    originals = harness.judged_draw, harness.run_torch, harness.run_reference, judge.judge_tensor
    judge.judged_draw = timed(harness.judged_draw, lambda *a: "draw")
    harness.run_torch = timed(harness.run_torch, lambda pair, setup, dtype, *a: "judge" if dtype == torch.float64
                              else "twin")
    harness.run_reference = timed(harness.run_reference, lambda *a: "reference")
    judge.judge_tensor = timed(judge.judge_tensor, lambda *a: "verdicts")
    try:
        with threadpool_limits(1):
            torch.set_num_threads(1)
            for case in {case.pair.name: case for case in matrix}.values():
                judge.judge_case(case)
            spent.update(dict.fromkeys(spent, 0.0))
            start = time.process_time()
            for case in matrix:
                judge.judge_case(case)
            total = time.process_time() - start
    finally:
        judge.judged_draw, harness.run_torch, harness.run_reference, judge.judge_tensor = originals
    spent["rest"] = total - sum(spent.values())
    return len(matrix), {phase: seconds / len(matrix) * 1e3 for phase, seconds in spent.items()}


def plugin_startup(repeats: int = 7) -> tuple[float, float]:
    """Median wall time of a pytest run of one plain test in a project of its own, with the
    installed plugin and with ``-p no:parity``: the plugin must cost nothing until used."""
    with tempfile.TemporaryDirectory() as project:
        Path(project, "test_plain.py").write_text("def test_plain():\n    assert True\n")
        times = {flag: sorted(time_pytest(list(flag), Path(project)) for _ in range(repeats))[repeats // 2]
                 for flag in ((), ("-p", "no:parity"))}
    return times[()], times[("-p", "no:parity")]


def softmax_backward_ratio(dtype) -> float:
    """The Jacobian loop's backward against the vectorized one, at 512x1000, backward alone."""
    rng = np.random.default_rng(0)
    layer = activations.Softmax()
    layer(rng.standard_normal((512, 1000)).astype(dtype))
    upstream = rng.standard_normal((512, 1000)).astype(dtype)
    return median_time(lambda: layer.backward_jacobian(upstream), 3) / median_time(lambda: layer.backward(upstream), 20)


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        model = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    blas = ", ".join(f"{i['internal_api']} {i.get('version', '')} ({i.get('architecture', '')})"
                     for i in threadpool_info() if i["user_api"] == "blas")
    return f"{model}, {os.cpu_count()} cores; NumPy {np.__version__} with {blas}; torch {torch.__version__}"


@dataclass
class Row:
    name: str
    dtype: str
    threads: int
    reference: float
    torch: float
    limit: float | None
    target: Target | None

    @property
    def met(self) -> str:
        if self.target is None:
            return ""
        ratio = self.reference / (self.limit if self.target.against == "limit" else self.torch)
        return "yes" if ratio <= self.target.bound else "no"

    def markdown(self) -> str:
        limit = f"{self.limit * 1e3:.2f} | {self.reference / self.limit:.2f}" if self.limit else " | "
        return (f"| {self.name} | {self.dtype} | {self.threads} | {self.reference * 1e3:.2f} | {self.torch * 1e3:.2f} "
                f"| {limit} | {self.reference / self.torch:.2f} | {self.target or ''} | {self.met} |")


def measure(thread_counts, rounds: int, budget: float, only: str | None = None) -> list[Row]:
    loads = [load for load in workloads() if only is None or only in load.name]
    total, rows = len(loads) * 2 * len(thread_counts), []
    for threads in thread_counts:
        torch.set_num_threads(threads)
        with threadpool_limits(threads):
            for load in loads:
                for dtype in ("float32", "float64"):
                    ref, twin, limit = time_workload(load, dtype, rounds, budget)
                    rows.append(Row(load.name, dtype, threads, ref, twin, limit, load.target))
                    print(f"[{len(rows)}/{total}] {rows[-1].markdown()}", flush=True)
    return rows


def picture(rows: list[Row], path: Path) -> None:
    """Time per layer, reference, torch and the limit side by side: one panel per dtype, at the
    largest thread count."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    threads = max(row.threads for row in rows)
    dtypes = ("float32", "float64")
    targeted = [row for row in rows if row.threads == threads and row.target is not None]
    shown = [[row for row in targeted if row.dtype == dtype] for dtype in dtypes]
    figure, axes = plt.subplots(1, 2, figsize=(16, 0.32 * len(shown[0]) + 1.5), sharey=True)
    for ax, dtype, panel in zip(axes, dtypes, shown, strict=True):
        y = np.arange(len(panel))
        height = 0.27
        ax.barh(y - height, [row.reference * 1e3 for row in panel], height, label="reference (NumPy)")
        ax.barh(y, [row.torch * 1e3 for row in panel], height, label="torch")
        ax.barh(y + height, [(row.limit or 0) * 1e3 for row in panel], height, label="limit on this machine")
        ax.set_xscale("log")
        ax.set_xlabel("ms, forward + backward (log scale)")
        ax.set_title(f"{dtype}, {threads} threads")
        ax.grid(axis="x", which="both", alpha=0.3)
    axes[0].set_yticks(np.arange(len(shown[0])), [row.name for row in shown[0]], fontsize=8)
    axes[0].invert_yaxis()
    axes[0].legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def run(thread_counts, rounds: int, with_matrix: bool, only: str | None = None) -> tuple[str, list[Row]]:
    lines = [f"# Benchmark ({datetime.date.today().isoformat()})", "", f"Machine: {machine()}.",
             f"Threads: {', '.join(map(str, thread_counts))}, the same for NumPy's BLAS and for torch. "
             "Times are medians of repeated runs, forward + backward, in ms.",
             f"GLIBC_TUNABLES: {os.environ.get('GLIBC_TUNABLES', '(unset)')}.", ""]
    with threadpool_limits(max(thread_counts)):
        rates = {dtype: matmul_rate(dtype) for dtype in ("float32", "float64")}
    lines += [f"NumPy matmul rate (1024x1024, {max(thread_counts)} threads): float32 {rates['float32'] / 1e9:.1f} "
              f"GFLOP/s, float64 {rates['float64'] / 1e9:.1f} GFLOP/s.", "",
              "| layer | dtype | threads | reference | torch | limit | ref / limit | ref / torch | target | met |",
              "|---|---|---:|---:|---:|---:|---:|---:|---|---|"]
    rows = measure(thread_counts, rounds, budget=0.5, only=only)
    lines += [row.markdown() for row in rows]
    targeted = [row for row in rows if row.target is not None]
    lines += ["", f"Targets met: {sum(row.met == 'yes' for row in targeted)} of {len(targeted)}.", ""]
    with threadpool_limits(max(thread_counts)):
        lines += ["Softmax 512x1000, backward alone, Jacobian loop / vectorized: " + ", ".join(
            f"{dtype} {softmax_backward_ratio(dtype):.0f}x" for dtype in ("float32", "float64")) + "."]
    with_plugin, without = plugin_startup()
    lines += ["", f"pytest start-up, one plain test in a project of its own: {with_plugin * 1e3:.0f} ms with the "
                  f"parity plugin, {without * 1e3:.0f} ms with -p no:parity ({with_plugin / without:.2f}x).", ""]
    if with_matrix:
        lines += ["", "## The parity matrix against pytest's floor", "",
                  "Wall time of whole pytest runs (start-up, collection and all), against an empty",
                  "parametrized test with as many cases (in a directory of its own: pytest's defaults, log",
                  "capture on; the matrix runs with this project's options, -p no:logging). \"Nothing judged\"",
                  "is the matrix with every case passed at once, nothing run: what its items cost",
                  "outside the harness. The default matrix and its floor run in turn three times serially:",
                  "each time is the median of three, the ratio the median of the three side-by-side ratios",
                  "(their range in brackets: how far this machine's speed drifted while they ran).", "",
                  "| matrix | run | cases | matrix s | empty test s | matrix ms/case | floor ms/case "
                  "| matrix / floor |",
                  "|---|---|---:|---:|---:|---:|---:|---:|"]
        for seeds in (3, 10):
            timings = matrix_timings(seeds, rounds=3 if seeds == 3 else 1)
            count = timings["cases"]
            for label in ("serial", "-n auto"):
                matrix, empty = timings[f"matrix {label}"], timings[f"empty {label}"]
                default = " (default)" if seeds == 3 else ""
                lines.append(f"| {seeds} seeds{default} | {label} | {count} | {matrix:.1f} "
                             f"| {empty:.1f} | {matrix / count * 1e3:.2f} | {empty / count * 1e3:.2f} "
                             f"| {shown_ratio(timings, label)} |")
            stubbed, empty = timings["nothing judged serial"], timings["empty serial"]
            lines.append(f"| {seeds} seeds, nothing judged | serial | {count} | {stubbed:.1f} | {empty:.1f} "
                         f"| {stubbed / count * 1e3:.2f} | {empty / count * 1e3:.2f} | {stubbed / empty:.2f} |")
            speedup = timings["matrix serial"] / timings["matrix -n auto"]
            lines.append(f"| {seeds} seeds | serial / -n auto | | {speedup:.2f}x | | | | |")
        count, phases = case_breakdown()
        lines += ["", f"Where a case's time goes: CPU ms a case, the {count} default cases, serial, outside "
                      "pytest (judge: the float64 runs of the twin, the judge's and any second run; twin: its "
                      "float32 run, where a verdict needs it; a float64 case's twin is its judge).", "",
                  "| " + " | ".join(phases) + " | total |", "|" + "---:|" * (len(phases) + 1),
                  "| " + " | ".join(f"{ms:.2f}" for ms in phases.values()) + f" | {sum(phases.values()):.2f} |"]
    return "\n".join(lines) + "\n", rows


def main(argv=None):
    parser = argparse.ArgumentParser(description="reference layers against torch and their limits, "
                                                 "and the matrix against pytest")
    parser.add_argument("--threads", type=int, nargs="+", default=sorted({1, os.cpu_count() or 1}))
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--only", help="time only the layers whose name contains this")
    parser.add_argument("--no-matrix", action="store_true", help="skip timing the parity matrix")
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "bench.md")
    args = parser.parse_args(argv)
    text, rows = run(args.threads, args.rounds, not args.no_matrix, args.only)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    picture(rows, args.out.with_suffix(".png"))
    print(text)
    print(f"wrote {args.out} and {args.out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
