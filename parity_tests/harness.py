"""The generic harness: run one case of any pair on both sides and judge every tensor.

For a layer, one case is: draw inputs, parameters and state from the case's seed; load the
same values into the reference, the torch twin in the case's dtype and the torch judge in
float64; run forward, then backward with a random upstream gradient; compare the output,
the input gradient, every parameter gradient and every state entry. A function is run
forward and its outputs compared.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import torch

from parity_tests.registry import Case, Pair, Param
from parity_tests.tolerances import VACUOUS, tolerance_for


class HarnessError(AssertionError):
    """The case could not be run as declared (unsynchronised parameter, mutated input, ...)."""


@dataclass
class Check:
    """One tensor as the reference, torch in the case's dtype and the float64 judge see it."""

    name: str
    reference: np.ndarray
    torch: np.ndarray
    judge: np.ndarray


@dataclass
class Verdict:
    name: str
    passed: bool
    max_abs_error: float
    headroom: float  # largest |r - e| / (atol + rtol |e|): 1.0 is the edge of failing
    atol: float
    rtol: float
    message: str = ""


def case_seed(case: Case) -> int:
    """Every case draws from a generator seeded by its own id: it reproduces alone."""
    return zlib.crc32(case.id.encode())


# -- parameter synchronisation: the one mechanism, both directions ----------------------


def synchronised(pair: Pair, reference, module) -> list[Param]:
    """The mapped entries present on both sides; raise if either side has one unmapped.

    Integer buffers (BatchNorm's num_batches_tracked) are not compared: with a momentum
    set, torch never reads them.
    """
    reference_arrays = reference.named_params() | reference.named_state()
    torch_tensors = dict(module.named_parameters()) | {
        name: b for name, b in module.named_buffers() if b.is_floating_point()
    }
    present = [p for p in pair.params if p.reference in reference_arrays]
    problems = []
    if unmapped := set(reference_arrays) - {p.reference for p in present}:
        problems.append(f"reference arrays with no mapping: {sorted(unmapped)}")
    if unmapped := set(torch_tensors) - {p.torch for p in present}:
        problems.append(f"torch parameters/buffers not synchronised: {sorted(unmapped)}")
    if missing := {p.torch for p in present} - set(torch_tensors):
        problems.append(f"mapped torch names that do not exist: {sorted(missing)}")
    if problems:
        raise HarnessError(f"pair {pair.name}: " + "; ".join(problems))
    return present


def _torch_tensor(module, name: str) -> torch.Tensor:
    buffers = dict(module.named_buffers())
    return buffers[name] if name in buffers else module.get_parameter(name)


def load_into_torch(params: list[Param], reference, module) -> None:
    arrays = reference.named_params() | reference.named_state()
    with torch.no_grad():
        for p in params:
            value = np.ascontiguousarray(p.to_torch(arrays[p.reference]))
            _torch_tensor(module, p.torch).copy_(torch.from_numpy(value))


def load_into_reference(params: list[Param], module, reference) -> None:
    arrays = reference.named_params() | reference.named_state()
    for p in params:
        arrays[p.reference][...] = p.to_reference(_torch_tensor(module, p.torch).detach().numpy())


# -- running one side --------------------------------------------------------------------


def _to_torch(array: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    tensor = torch.from_numpy(array.copy())
    return tensor.to(dtype) if tensor.is_floating_point() else tensor


def _check_unchanged(side: str, originals, after) -> None:
    for i, (before, now) in enumerate(zip(originals, after, strict=True)):
        now = now.detach().numpy() if isinstance(now, torch.Tensor) else now
        if not np.array_equal(np.asarray(before, dtype=now.dtype), now):
            raise HarnessError(f"the {side} modified its input {i} in place")


def run_reference_layer(pair: Pair, layer, params, inputs, upstream) -> dict[str, np.ndarray]:
    working = [x.copy() for x in inputs]
    results = {"output": np.asarray(layer(*working))}
    if results["output"].shape != upstream.shape:
        raise HarnessError(
            f"reference output has shape {results['output'].shape}, torch's has {upstream.shape}"
        )
    results["grad input"] = getattr(layer, pair.backward)(upstream.copy())
    grads, state = layer.named_grads(), layer.named_state()
    for p in params:
        if p.reference in state:
            results[f"state {p.reference}"] = state[p.reference]
        elif p.reference not in grads:
            raise HarnessError(f"reference backward left no gradient for {p.reference}")
        else:
            results[f"grad {p.reference}"] = grads[p.reference]
    _check_unchanged("reference", inputs, working)
    return results


def torch_forward(module, inputs, dtype: torch.dtype):
    """Forward on copies of the inputs; the first requires a gradient."""
    working = [_to_torch(x, dtype) for x in inputs]
    working[0].requires_grad_(True)
    return module(*working), working


def torch_backward(module, params, output, working, inputs, upstream) -> dict[str, np.ndarray]:
    output.backward(_to_torch(upstream, output.dtype))
    results = {"output": output, "grad input": working[0].grad}
    buffers = dict(module.named_buffers())
    for p in params:
        if p.torch in buffers:
            results[f"state {p.reference}"] = p.to_reference(buffers[p.torch])
        else:
            grad = module.get_parameter(p.torch).grad
            if grad is None:
                raise HarnessError(f"torch parameter {p.torch} received no gradient")
            results[f"grad {p.reference}"] = p.to_reference(grad)
    _check_unchanged("torch twin", inputs, working)
    return {k: v.detach().numpy() for k, v in results.items()}


def _as_outputs(pair: Pair, result) -> dict[str, np.ndarray]:
    values = result if isinstance(result, tuple) else (result,)
    if len(values) != len(pair.outputs):
        raise HarnessError(f"pair {pair.name}: expected outputs {pair.outputs}, got {len(values)} values")
    return {
        name: (v.detach().numpy() if isinstance(v, torch.Tensor) else np.asarray(v))
        for name, v in zip(pair.outputs, values, strict=True)
    }


def run_function(pair: Pair, function, inputs, torch_dtype=None) -> dict[str, np.ndarray]:
    """Run a forward-only function; ``torch_dtype`` None means the reference side."""
    if torch_dtype is None:
        working = [x.copy() for x in inputs]
        outputs = _as_outputs(pair, function(*working))
        _check_unchanged("reference", inputs, working)
    else:
        working = [_to_torch(x, torch_dtype) for x in inputs]
        outputs = _as_outputs(pair, function(*working))
        _check_unchanged("torch twin", inputs, working)
    return outputs


# -- one case ----------------------------------------------------------------------------


def run_case(case: Case) -> list[Check]:
    pair, config = case.pair, case.config
    dtype, torch_dtype = np.dtype(case.dtype), getattr(torch, case.dtype)
    rng = np.random.default_rng(case_seed(case))
    inputs = [make(config, rng, dtype) for make in pair.inputs]
    if not pair.is_layer:
        ref = run_function(pair, pair.reference(config), inputs)
        twin = run_function(pair, pair.torch(config), inputs, torch_dtype)
        judge = run_function(pair, pair.torch(config), inputs, torch.float64)
        return [Check(name, ref[name], twin[name], judge[name]) for name in ref]

    layer = pair.reference(config).to(dtype)
    twin, judge = pair.torch(config).to(torch_dtype), pair.torch(config).to(torch.float64)
    params = synchronised(pair, layer, twin)
    arrays = layer.named_params() | layer.named_state()
    for p in params:
        arrays[p.reference][...] = p.draw(rng, arrays[p.reference].shape)
    for side in (layer, twin, judge):
        side.train(getattr(config, "mode", "train") == "train")
    load_into_torch(params, layer, twin)
    load_into_torch(params, layer, judge)

    # the judge's output fixes the shape of the random upstream gradient all three get
    judge_output, judge_inputs = torch_forward(judge, inputs, torch.float64)
    upstream = rng.standard_normal(tuple(judge_output.shape)).astype(dtype)
    judge_results = torch_backward(judge, params, judge_output, judge_inputs, inputs, upstream)
    twin_results = torch_backward(twin, params, *torch_forward(twin, inputs, torch_dtype), inputs, upstream)
    ref = run_reference_layer(pair, layer, params, inputs, upstream)
    return [Check(name, ref[name], twin_results[name], judge_results[name]) for name in ref]


# -- judging -----------------------------------------------------------------------------


def judge_check(case: Case, check: Check) -> Verdict:
    """Compare the reference with the float64 judge under the case's tolerance."""
    tolerance = tolerance_for(case.pair, case.dtype)
    reference = np.asarray(check.reference)
    expected = np.asarray(check.judge, dtype=np.float64)
    label = f"{case.id}: {check.name}"
    if reference.dtype != np.dtype(case.dtype):
        return Verdict(check.name, False, np.inf, np.inf, 0.0, tolerance.rtol,
                       f"{label}: the reference returned {reference.dtype} for a {case.dtype} case")
    if reference.shape != expected.shape:
        return Verdict(check.name, False, np.inf, np.inf, 0.0, tolerance.rtol,
                       f"{label}: the reference has shape {reference.shape}, torch {expected.shape}")
    torch_error = float(np.max(np.abs(check.torch - expected), initial=0.0))
    atol = tolerance.atol(expected, torch_error)
    error = np.abs(reference.astype(np.float64) - expected)
    allowed = atol + tolerance.rtol * np.abs(expected)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(error == 0, 0.0, error / allowed)
    headroom = float(np.max(np.nan_to_num(ratio, nan=np.inf), initial=0.0))
    max_abs_error = float(np.max(np.nan_to_num(error, nan=np.inf), initial=0.0))
    if np.max(np.abs(expected), initial=0.0) <= VACUOUS:
        return Verdict(check.name, False, max_abs_error, headroom, atol, tolerance.rtol,
                       f"{label}: the expected tensor is zero everywhere (max |x| <= {VACUOUS:g}), "
                       "so this check cannot fail; change the case's inputs or upstream gradient")
    try:
        torch.testing.assert_close(
            torch.from_numpy(reference.astype(np.float64)), torch.from_numpy(expected),
            rtol=tolerance.rtol, atol=atol,
            msg=lambda text: f"{label} (reference vs torch float64)\n{text}",
        )
    except AssertionError as failure:
        return Verdict(check.name, False, max_abs_error, headroom, atol, tolerance.rtol, str(failure))
    return Verdict(check.name, True, max_abs_error, headroom, atol, tolerance.rtol)


def check_case(case: Case) -> list[Verdict]:
    return [judge_check(case, check) for check in run_case(case)]
