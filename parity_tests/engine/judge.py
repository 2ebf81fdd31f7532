"""Judging a case: each tensor against the float64 judge, and a failure that explains itself.

A failing tensor's message names the case and the tensor, the largest absolute and relative
errors, how many elements are out of tolerance and where the worst one is, a diagnosis
where the pattern is clear (NaN on one side, sign flip, constant factor, transposed layout,
errors only on the padded border), what finite differences say about which side is wrong,
and the command that re-runs the case alone.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

import numpy as np

from parity_tests.engine import tolerances
from parity_tests.engine.harness import (
    GRAD_INPUT,
    GRAD_PARAM,
    OUTPUT,
    REFUSED,
    SAMPLING,
    TORCH_SIDE,
    TWIN,
    Compared,
    LayerRaised,
    Setup,
    finite_difference,
    judged_draw,
    reference_refusal,
    run_case,
    run_judge,
    twin_self_check,
    with_twin,
)
from parity_tests.engine.registry import DEFAULT_SEEDS, Case, cases


@dataclass
class Verdict:
    check: str  # what was judged, as the messages name it: "grad q", "output hT", "side effect: W"
    passed: bool
    max_abs_error: float
    max_rel_error: float
    headroom: float  # largest |r - e| / (atol + rtol |e|): 1.0 is the edge of failing
    atol: float
    rtol: float
    message: str = ""
    kind: str = ""  # the check's kind (harness.OUTPUT, GRAD_INPUT, ...)
    note: str = ""  # why a passing check passed in a way worth saying (a declared structural zero)
    # the verdict holds only if the twin is deterministic: it fails, or passes by no more than
    # the margin torch's own float32 error adds to the tolerance (noise would widen it)
    twin_matters: bool = False


def rerun_command(case: Case) -> str:
    """The command that re-runs the failing test: the matrix item that ran the case, else the
    test that called the check (pytest names it in PYTEST_CURRENT_TEST)."""
    nodeid = case.nodeid or os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" (", 1)[0]
    if not nodeid:
        return "call the same check again: every case reproduces from its id"
    in_matrix = nodeid.endswith(f"[{case.id}]")
    seeds = f" --parity-seeds {case.seeds_needed}" if in_matrix and case.seeds_needed > DEFAULT_SEEDS else ""
    device = f" --parity-device {case.device}" if in_matrix and case.device != "cpu" else ""
    return f"pytest '{nodeid}' -p no:randomly{seeds}{device}"


class CaseError(AssertionError):
    """A layer (or its twin) raised while the case ran: the case fails, and says which it was."""


def judge_case(case: Case, setup: Setup | None = None) -> list[Verdict]:
    """Every tensor of the case judged; ``setup`` replaces the case's own draw (edge values).

    An exception from a layer fails the case with its id, the side that raised and the
    re-run line; but a configuration torch refuses is a verdict of its own: it passes when
    the reference refuses it too, and fails when the reference accepts it.

    The twin in the case's dtype runs only where a tensor is beyond half the tolerance less
    its torch term (10x torch's own error, ``tolerances.WITHOUT_TWIN``): that term can only
    pass more, so a tensor within it passes, and is reported against it. Where a verdict then
    holds only if the twin is deterministic (it fails, or passes by the margin torch's own
    error adds), the twin runs again in float64 on the same draw; if the runs disagree, the
    case fails on that alone (``twin_self_check``)."""
    try:
        setup, judge = judged_draw(case) if setup is None else (setup, None)
        judge = run_judge(case, setup) if judge is None else judge
        checks = run_case(case, setup, judge)
        verdicts = judge_tensors(case, checks, setup)
        if any(check.torch is None for check in checks) and not all(v.passed for v in verdicts):
            checks = with_twin(case, setup, checks)  # torch's own error now joins the tolerance
            verdicts = judge_tensors(case, checks, setup)
        if any(v.twin_matters for v in verdicts) and all(c.key.kind != TWIN for c in checks) \
                and (finding := twin_self_check(case, setup, judge)) is not None:
            return [judge_tensor(case, finding)]
    except LayerRaised as raised:
        if raised.side == TORCH_SIDE:
            return [refused(case, raised)]
        raise CaseError(f"{case.id}: {raised}\n  re-run:    {rerun_command(case)}") from raised.error
    if getattr(case.pair, "sampling", None) is not None:
        verdicts += sampling_verdicts(case, setup)
    return verdicts


def judge_tensors(case: Case, checks: list[Compared], setup: Setup) -> list[Verdict]:
    """Each tensor's verdict; outputs come first, so a gradient's explanation knows whether
    the forward was right."""
    outputs_match = True
    verdicts = []
    for check in checks:
        verdicts.append(judge_tensor(case, check, setup, outputs_match))
        outputs_match &= check.key.kind != OUTPUT or verdicts[-1].passed
    return verdicts


def refused(case: Case, raised: LayerRaised) -> Verdict:
    """Torch refuses the configuration: so must the reference, with an error of its own."""
    torch_says = f"{type(raised.error).__name__}: {raised.error}"
    reference_says = reference_refusal(case)
    if reference_says is None:
        message = (f"{case.id}: refused: torch refuses this configuration ({torch_says}), but the reference "
                   f"accepts it; it must refuse it too, with a clear error\n  re-run:    {rerun_command(case)}")
        return Verdict("refused", False, np.inf, np.inf, np.inf, 0.0, 0.0, message, REFUSED)
    return Verdict("refused", True, 0.0, 0.0, 0.0, 0.0, 0.0, kind=REFUSED,
                   note=f"torch refuses this configuration ({torch_says}); so does the reference ({reference_says})")


def sampling_verdicts(case: Case, setup: Setup) -> list[Verdict]:
    """The reference's own randomness over many draws (see ``sampling``)."""
    verdicts = []
    for what, finding, passed in case.pair.sampling.findings(case.pair, setup.config, np.dtype(case.dtype)):
        message = "" if passed else f"{case.id}: sampling: {what}: {finding}\n  re-run:    {rerun_command(case)}"
        verdicts.append(Verdict(f"sampling: {what}", passed, 0.0, 0.0, 0.0, 0.0, 0.0, message, SAMPLING,
                                finding if passed else ""))
    return verdicts


def judge_tensor(case: Case, check: Compared, setup: Setup | None = None, outputs_match: bool = True) -> Verdict:
    """The tensor against the float64 judge; a declared deviation is expected to differ."""
    verdict = _judge_tensor(case, check, setup, outputs_match)
    reason = case.pair.deviations_declared(case.config).get(check.name)
    if reason is None or (check.torch is None and not verdict.passed):  # judged again with the twin
        return verdict
    if verdict.passed:
        return dataclasses.replace(verdict, passed=False, message=(
            f"{case.id}: {check.name}: declared to deviate from torch ({reason}), but it matches: remove the "
            f"declaration\n  re-run:    {rerun_command(case)}"))
    if not np.isfinite(verdict.max_abs_error):  # a shape, dtype or side-effect finding is no known deviation
        return verdict
    return dataclasses.replace(verdict, passed=True, message="", note=(
        f"differs from torch as declared ({reason}): max abs error {verdict.max_abs_error:.3g}"))


def _judge_tensor(case: Case, check: Compared, setup: Setup | None = None, outputs_match: bool = True) -> Verdict:
    tolerance = tolerances.tolerance_for(case.pair, case.dtype)
    reference = np.asarray(check.reference)
    kind = check.key.kind

    def fail(text: str, errors=(np.inf, np.inf, np.inf), atol=0.0) -> Verdict:
        lines = [f"{case.id}: {check.name}: {text}", f"  re-run:    {rerun_command(case)}"]
        return Verdict(check.name, False, *errors, atol, tolerance.rtol, "\n".join(lines), kind, twin_matters=True)

    if check.problem:
        return Verdict(check.name, False, np.inf, np.inf, np.inf, 0.0, tolerance.rtol,
                       f"{case.id}: {check.problem}\n  re-run:    {rerun_command(case)}", kind,
                       twin_matters=kind != TWIN)
    if check.exact:
        return judge_exactly(case, check, fail)
    expected = np.asarray(check.judge, dtype=np.float64)
    if reference.dtype != np.dtype(case.dtype):
        return fail(f"the reference returned {reference.dtype} for a {case.dtype} case")
    wanted = check.reference_shape()
    if reference.shape != wanted:
        transposed = reference.ndim == 2 and reference.shape == wanted[::-1]
        hint = " (a transposed layout)" if transposed else ""
        if check.layout.identity:
            return fail(f"the reference has shape {reference.shape}, torch {expected.shape}{hint}")
        return fail(f"the reference has shape {reference.shape}; its declared layout ({check.layout}) expects "
                    f"{wanted}, torch's {expected.shape}{hint}")
    reference = check.reference_in_torch_layout()  # compared, and indexed, in torch's layout

    # without the twin's run (not yet needed), its term of the tolerance is left out
    torch_error = 0.0 if check.torch is None else float(np.abs(check.torch - expected).max(initial=0.0))
    magnitude = np.abs(expected)
    peak = float(magnitude.max(initial=0.0))
    atol = tolerance.atol(peak, torch_error)
    # torch.testing.assert_close's test, |r - e| <= atol + rtol |e| (equal infinities agree, NaN
    # fails), evaluated once on the arrays the verdict reports: its own call cost a third of it
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        error = np.abs(reference - expected)
        if np.isfinite(error).all():  # then so is every element on both sides
            allowed = atol + tolerance.rtol * magnitude
        else:  # equal infinities agree; an infinity (or NaN) is matched only by itself
            error = np.where(reference == expected, 0.0, error)
            error[np.isnan(error)] = np.inf
            allowed = np.where(np.isfinite(expected), atol + tolerance.rtol * magnitude, 0.0)
        wrong = error > 0
        headroom = float(np.divide(error, allowed, out=np.zeros_like(error), where=wrong).max(initial=0.0))
        relative = float(np.divide(error, magnitude, out=np.zeros_like(error), where=wrong).max(initial=0.0))
    errors = (float(error.max(initial=0.0)), relative, headroom)

    zero = peak <= tolerances.VACUOUS
    declared = case.pair.zeros_declared(case.config).get(check.name)
    if zero and declared is None:
        return fail(f"the expected tensor is zero everywhere (max |x| <= {tolerances.VACUOUS:g}), so this "
                    "check cannot fail; change the case's inputs or upstream gradient, or declare it a structural "
                    "zero (structural_zeros={name: reason}) if it is zero for a reason", errors, atol)
    if declared is not None and not zero:
        return fail(f"declared structurally zero ({declared}), but torch's is not: max |x| = "
                    f"{peak:.3g}; the declaration is wrong for this configuration", errors, atol)
    if check.torch is None and headroom > tolerances.WITHOUT_TWIN:  # judged again with the twin's error
        return Verdict(check.name, False, *errors, atol, tolerance.rtol, kind=kind, twin_matters=True)
    if headroom > 1.0:
        return Verdict(check.name, False, *errors, atol, tolerance.rtol,
                       explain(case, check, setup, error > allowed, errors, atol, tolerance.rtol, outputs_match),
                       kind, twin_matters=True)
    note = f"structurally zero: {declared}" if declared is not None else ""
    twin_term = tolerance.multiple * torch_error  # what torch's own error adds to atol
    # does any element off at all pass by that term alone?
    twin_matters = twin_term > 0 and bool(np.any(wrong & (error > allowed - twin_term)))
    return Verdict(check.name, True, *errors, atol, tolerance.rtol, kind=kind, note=note, twin_matters=twin_matters)


def judge_exactly(case: Case, check: Compared, fail) -> Verdict:
    """An output compared exactly (indices, counts): the same kind of dtype, shape and values."""
    reference, expected = np.asarray(check.reference), np.asarray(check.judge)
    if reference.dtype.kind != expected.dtype.kind:
        return fail(f"the reference returned {reference.dtype}, torch {expected.dtype} (compared exactly)")
    if reference.shape != check.reference_shape():
        return fail(f"the reference has shape {reference.shape}, torch {expected.shape}")
    reference = check.reference_in_torch_layout()
    if not np.array_equal(reference, expected):
        differ = np.argwhere(reference != expected)
        index = tuple(int(i) for i in differ[0])
        return fail(f"differs from torch (compared exactly) at {len(differ)} of {expected.size} elements; first at "
                    f"index {index}: reference {reference[index]}, torch {expected[index]}", (np.inf, np.inf, np.inf))
    return Verdict(check.name, True, 0.0, 0.0, 0.0, 0.0, 0.0, kind=check.key.kind)


def explain(case: Case, check: Compared, setup: Setup | None, bad: np.ndarray, errors, atol, rtol,
            outputs_match: bool = True) -> str:
    reference, expected = check.reference_in_torch_layout().astype(np.float64), np.asarray(check.judge)
    max_abs, max_rel, _ = errors
    worst = np.unravel_index(int(np.argmax(np.abs(reference - expected))), expected.shape) if expected.ndim else ()
    where = "" if check.layout.identity else f" in torch's layout (the reference's own: {check.layout})"
    lines = [
        f"{case.id}: {check.name} does not match torch (float64 judge)",
        f"  case:      pair {case.pair.name}, config {case.config.id}, {case.dtype}, seed {case.seed_index}",
        f"  error:     max abs {max_abs:.3g}, max rel {max_rel:.3g}; {int(bad.sum())} of {bad.size} elements "
        f"outside |r - e| <= {atol:.3g} + {rtol:g}|e|",
        f"  worst:     index {tuple(int(i) for i in worst)}{where}: reference {reference[worst]:.6g}, "
        f"torch {float(check.torch[worst]):.6g}, expected {expected[worst]:.6g}",
    ]
    if diagnosis := diagnose(reference, expected, bad, case, setup):
        lines.append(f"  diagnosis: {diagnosis}")
    if setup is not None and case.pair.is_layer and check.key.kind in (GRAD_INPUT, GRAD_PARAM):
        lines.append(f"  finite differences: {attribute(case, check, setup, bad, worst, outputs_match)}")
    lines.append(f"  re-run:    {rerun_command(case)}")
    return "\n".join(lines)


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    scale = float(np.max(np.abs(b), initial=0.0))
    return bool(np.allclose(a, b, rtol=1e-4, atol=1e-4 * scale))


def _named_sizes(setup: Setup | None) -> dict[str, int]:
    """Sizes a constant factor is often off by, read from the first input's shape."""
    first = next(iter(setup.inputs.values()), None) if setup is not None else None
    if first is None or first.ndim < 2:
        return {}
    shape = first.shape
    sizes = {"the batch size N": shape[0]}
    if len(shape) == 4:
        sizes |= {"the spatial size H*W": shape[2] * shape[3], "N*H*W": shape[0] * shape[2] * shape[3]}
    elif len(shape) == 2:
        sizes |= {"the feature count": shape[1], "the element count": shape[0] * shape[1]}
    return {name: size for name, size in sizes.items() if size > 1}


def diagnose(reference, expected, bad, case: Case, setup: Setup | None) -> str | None:
    ref_bad, exp_bad = ~np.isfinite(reference), ~np.isfinite(expected)
    if ref_bad.any() != exp_bad.any():
        side = "reference" if ref_bad.any() else "torch"
        count = int((ref_bad if ref_bad.any() else exp_bad).sum())
        return f"NaN or inf on one side only: the {side} ({count} elements)"
    if ref_bad.any():
        return None
    if _close(reference, -expected):
        return "sign flip: reference = -expected"
    if reference.ndim == 2 and reference.shape[0] == reference.shape[1] and _close(reference, expected.T):
        return "transposed layout: reference = expected.T"
    denominator = float(np.sum(expected * expected))
    factor = float(np.sum(reference * expected)) / denominator if denominator else 0.0
    if factor and abs(factor - 1) > 1e-3 and _close(reference, factor * expected):
        text = f"constant factor: reference = {factor:.6g} x expected"
        for name, size in _named_sizes(setup).items():
            if abs(factor * size - 1) < 1e-3 or abs(factor - size) < 1e-3 * size:
                text += f"; the factor is {name} = {size} (a missing or extra division by it?)"
                break
        return text
    padding = getattr(case.config, "p", 0)
    if reference.ndim == 4 and padding and min(reference.shape[2:]) > 2 * padding:
        interior = np.zeros(bad.shape, dtype=bool)
        interior[:, :, padding:-padding, padding:-padding] = True
        if bad.any() and not (bad & interior).any():
            return f"errors only on the border (the outer {padding} rows/columns): padding handled wrong?"
    return None


def attribute(case: Case, check: Compared, setup: Setup, bad: np.ndarray, worst, outputs_match: bool = True) -> str:
    """Ask central differences (float64) which side is wrong, at the worst element and a few
    more mismatching ones. They differentiate the reference's own forward: where that forward
    does not match torch's, agreeing with the reference says only that its backward fits it."""
    rng = np.random.default_rng(0)
    mismatching = [tuple(i) for i in np.argwhere(bad)]
    picks = [mismatching[i] for i in rng.permutation(len(mismatching))[:5]]
    indices = list(dict.fromkeys([tuple(int(i) for i in worst), *picks]))
    fd = finite_difference(case, setup, check.key, indices)
    scale = float(np.max(np.abs(check.judge), initial=0.0))

    def agrees(values: np.ndarray) -> bool:
        picked = np.array([values[i] for i in indices], dtype=np.float64)
        return bool(np.all(np.abs(picked - fd) <= tolerances.FD_RTOL * (np.abs(fd) + scale)))

    reference_ok, torch_ok = agrees(check.reference_in_torch_layout()), agrees(check.torch)
    verdict = {
        (False, True): "reference wrong (they agree with torch)",
        (True, False): "torch twin wrong (they agree with the reference)" if outputs_match else
        "the reference's forward is wrong (its output does not match torch's): they differentiate that forward, "
        "and agree with the reference's backward, which fits the wrong forward",
        (False, False): "both disagree with finite differences",
        (True, True): "they agree with both at the sampled elements: the gap is below their resolution",
    }[(reference_ok, torch_ok)]
    if getattr(case.config, "ties", False):  # a max over equal values has no derivative there
        verdict += " (but the inputs hold ties, where no derivative exists: central differences split them, " \
                   "so they are no evidence at a tied element)"
    return f"{verdict}; checked at {len(indices)} element(s)"


def assert_pair(pair, dtypes=("float32", "float64"), seeds: int = 3) -> int:
    """Run every case of ``pair``; raise AssertionError with every failing tensor's
    explanation, or return the number of cases run."""
    matrix = cases([pair], dtypes, seeds)
    failures = [v.message for case in matrix for v in judge_case(case) if not v.passed]
    if failures:
        raise AssertionError(f"{len(failures)} failing tensor(s) in {pair.name}:\n\n" + "\n\n".join(failures))
    return len(matrix)
