"""``make bench``: reference layers against their torch twins, the machine's matmul rate,
and the parity matrix against pytest's own floor. Writes reports/bench.md.

Every timing is the median of repeated runs, in one process, with NumPy's BLAS and torch
limited to the same number of threads.
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


@dataclass
class Workload:
    """One layer on realistic shapes; ``flops`` is forward + backward, where it is a matmul."""

    name: str
    reference: object
    twin: object
    inputs: tuple[tuple[int, ...], ...]
    flops: float = 0.0
    backward: str = "backward"
    classes: bool = False  # the second input is integer class targets


def workloads() -> list[Workload]:
    n, c, h, w = RESNET_STAGE
    conv_flops = 3 * 2 * n * c * h * w * c * 9  # forward, input gradient, weight gradient
    return [
        Workload("Conv2d 3x3", conv.Conv2d(c, c, 3, 1, 1), t_conv.Conv2d(c, c, 3, 1, 1), (RESNET_STAGE,), conv_flops),
        Workload("Linear 256x1024->1024", linear.Linear(1024, 1024), t_linear.Linear(1024, 1024), ((256, 1024),),
                 3 * 2 * 256 * 1024 * 1024),
        Workload("Softmax 512x1000", activations.Softmax(), t_activations.Softmax(), ((512, 1000),)),
        Workload("Softmax 512x1000 (Jacobian loop)", activations.Softmax(), t_activations.Softmax(), ((512, 1000),),
                 backward="backward_jacobian"),
        Workload("Sigmoid", activations.Sigmoid(), t_activations.Sigmoid(), (RESNET_STAGE,)),
        Workload("ReLU", activations.ReLU(), t_activations.ReLU(), (RESNET_STAGE,)),
        Workload("BatchNorm2d (train)", norm.BatchNorm2d(c), t_norm.BatchNorm2d(c), (RESNET_STAGE,)),
        Workload("LayerNorm 256x1024", norm.LayerNorm(1024), t_norm.LayerNorm(1024), ((256, 1024),)),
        Workload("GlobalAvgPool2d", pooling.GlobalAvgPool2d(), t_pooling.GlobalAvgPool2d(), (RESNET_STAGE,)),
        Workload("MaxPool2d 2x2", pooling.MaxPool2d(2), t_pooling.MaxPool2d(2), (RESNET_STAGE,)),
        Workload("CrossEntropyLoss 512x1000", losses.CrossEntropyLoss(), t_losses.CrossEntropyLoss(),
                 ((512, 1000), (512,)), classes=True),
        Workload("MSELoss", losses.MSELoss(), t_losses.MSELoss(), (RESNET_STAGE, RESNET_STAGE)),
        Workload("ResidualBlock d1024 N256", blocks.ResidualBlock(1024), t_blocks.ResidualBlock(1024),
                 ((1024, 256),)),
        Workload("SEBlock r16", blocks.SEBlock(c, 16), t_blocks.SEBlock(c, 16), (RESNET_STAGE,)),
        Workload("SEResNetBlock", blocks.SEResNetBlock(c, c, 1, 16), t_blocks.SEResNetBlock(c, c, 1, 16),
                 (RESNET_STAGE,), 2 * conv_flops),
    ]


def median_time(function, repeats: int, budget: float = 2.0) -> float:
    function()  # warm-up
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


def time_pair(load: Workload, dtype, repeats: int) -> tuple[float, float]:
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

    return median_time(reference, repeats), median_time(twin, repeats)


def matmul_rate(dtype, size: int = 1024) -> float:
    a, b = (np.random.default_rng(0).standard_normal((size, size)).astype(dtype) for _ in range(2))
    return 2 * size**3 / median_time(lambda: a @ b, 20)


def time_pytest(args: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
                             *args], cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"pytest {' '.join(args)} failed:\n{result.stdout[-2000:]}")
    return elapsed


def matrix_timings(seeds: int) -> dict[str, float]:
    """The parity matrix at ``seeds`` seeds a configuration and an empty test with as many
    cases (pytest's own floor), serial and -n auto."""
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
        timings = {"cases": count}
        for label, extra in (("serial", []), ("-n auto", ["-n", "auto"])):
            timings[f"matrix {label}"] = time_pytest([*args, *extra], ROOT)
            timings[f"empty {label}"] = time_pytest(["test_empty.py", *extra], Path(empty_dir))
    return timings


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


def run(threads: int, repeats: int, with_matrix: bool) -> str:
    torch.set_num_threads(threads)
    lines = [f"# Benchmark ({datetime.date.today().isoformat()})", "", f"Machine: {machine()}.",
             f"Threads: {threads} for NumPy's BLAS and for torch. Times are medians, forward + backward.", ""]
    with threadpool_limits(threads):
        rates = {dtype: matmul_rate(dtype) for dtype in ("float32", "float64")}
        lines += [f"NumPy matmul rate (1024x1024): float32 {rates['float32'] / 1e9:.1f} GFLOP/s, "
                  f"float64 {rates['float64'] / 1e9:.1f} GFLOP/s.", "",
                  "| layer | dtype | reference ms | torch ms | reference / torch | reference GFLOP/s "
                  "| of matmul rate |",
                  "|---|---|---:|---:|---:|---:|---:|"]
        for load in workloads():
            for dtype in ("float32", "float64"):
                ref, twin = time_pair(load, dtype, repeats)
                rate = f"{load.flops / ref / 1e9:.1f} | {load.flops / ref / rates[dtype]:.0%}" if load.flops else " | "
                lines.append(f"| {load.name} | {dtype} | {ref * 1e3:.2f} | {twin * 1e3:.2f} | {ref / twin:.2f} "
                             f"| {rate} |")
                print(lines[-1], flush=True)
        lines += ["", "Softmax 512x1000, backward alone, Jacobian loop / vectorized: " + ", ".join(
            f"{dtype} {softmax_backward_ratio(dtype):.0f}x" for dtype in ("float32", "float64")) + "."]
    if with_matrix:
        lines += ["", "## The parity matrix against pytest's floor", "",
                  "Wall time of whole pytest runs (start-up, collection and all), against an empty",
                  "parametrized test with as many cases.", "",
                  "| matrix | run | cases | matrix s | empty test s | matrix ms/case | floor ms/case "
                  "| matrix / floor |",
                  "|---|---|---:|---:|---:|---:|---:|---:|"]
        for seeds in (3, 10):
            timings = matrix_timings(seeds)
            count = timings["cases"]
            for label in ("serial", "-n auto"):
                matrix, empty = timings[f"matrix {label}"], timings[f"empty {label}"]
                default = " (default)" if seeds == 3 else ""
                lines.append(f"| {seeds} seeds{default} | {label} | {count} | {matrix:.1f} "
                             f"| {empty:.1f} | {matrix / count * 1e3:.2f} | {empty / count * 1e3:.2f} "
                             f"| {matrix / empty:.2f} |")
            speedup = timings["matrix serial"] / timings["matrix -n auto"]
            lines.append(f"| {seeds} seeds | serial / -n auto | | {speedup:.2f}x | | | | |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description="reference layers against torch, and the matrix against pytest")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--no-matrix", action="store_true", help="skip timing the parity matrix")
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "bench.md")
    args = parser.parse_args(argv)
    text = run(args.threads, args.repeats, not args.no_matrix)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
