"""The third judge: central finite differences check every reference backward, and
torch.autograd.gradcheck every twin, on the smallest configuration of each pair and mode."""

import numpy as np
import pytest
import torch
from torch.func import functional_call

from parity_tests.engine import tolerances
from parity_tests.engine.harness import build_torch, draw_setup, finite_difference, run_case
from parity_tests.engine.registry import Case
from parity_tests.suite.pairs import PAIRS

ELEMENTS_PER_TENSOR = 12  # sampled coordinates: every tensor is checked, not every element


def smallest_cases(pairs):
    """Per pair, the configuration with the smallest input in each mode, in float64."""
    chosen = []
    for pair in pairs:
        by_mode = {}
        for config in pair.configs:
            if getattr(config, "ties", False):
                continue  # a max is not differentiable where values tie: no finite differences there
            size = sum(make(config, np.random.default_rng(0), np.float64).size for make in pair.inputs)
            mode = getattr(config, "mode", "")
            if mode not in by_mode or size < by_mode[mode][0]:
                by_mode[mode] = (size, config)
        chosen += [Case(pair, config, "float64", 0) for _, config in by_mode.values()]
    return chosen


LAYER_CASES = smallest_cases([p for p in PAIRS if p.is_layer])
DIFFERENTIABLE_CASES = smallest_cases([p for p in PAIRS if p.differentiable])


@pytest.mark.parametrize("case", LAYER_CASES, ids=lambda c: c.id)
def test_reference_backward_matches_finite_differences(case):
    setup = draw_setup(case)
    rng = np.random.default_rng(0)
    grads = {c.name: c.reference_in_torch_layout() for c in run_case(case, setup) if c.name.startswith("grad ")}
    for name, grad in grads.items():
        flat = rng.permutation(grad.size)[:ELEMENTS_PER_TENSOR]
        indices = [np.unravel_index(i, grad.shape) for i in flat]
        fd = finite_difference(case.pair, case.config, setup, name, indices)
        picked = np.array([grad[i] for i in indices])
        scale = np.max(np.abs(grad))
        np.testing.assert_allclose(picked, fd, rtol=tolerances.FD_RTOL, atol=tolerances.FD_RTOL * scale,
                                   err_msg=f"{case.id}: {name} vs central differences")


@pytest.mark.parametrize("case", DIFFERENTIABLE_CASES, ids=lambda c: c.id)
def test_torch_twin_passes_gradcheck(case):
    pair, setup = case.pair, draw_setup(case)
    inputs = [torch.from_numpy(x) for x in setup.inputs]
    differentiable = [i for i, x in enumerate(inputs) if x.is_floating_point()]
    if pair.is_layer:
        differentiable = differentiable[:1]  # a loss's target is data, not a variable
        module = build_torch(pair, case.config, setup, torch.float64)
        names = [name for name, _ in module.named_parameters()]

        def function(*variables):
            args = list(inputs)
            args[0] = variables[0]
            return functional_call(module, dict(zip(names, variables[1:], strict=True)), tuple(args))

        variables = [inputs[0]] + [p.detach().clone() for p in module.parameters()]
    else:
        twin = pair.torch(case.config)

        def function(*variables):
            args = list(inputs)
            for i, v in zip(differentiable, variables, strict=True):
                args[i] = v
            return twin(*args)

        variables = [inputs[i] for i in differentiable]
    variables = [v.detach().clone().requires_grad_() for v in variables]
    assert torch.autograd.gradcheck(function, variables, fast_mode=True)
