"""The third judge: central finite differences check every reference backward, and
torch.autograd.gradcheck every twin, on the smallest configuration of each pair and mode."""

import numpy as np
import pytest
import torch
from torch.func import functional_call

from parity_tests.engine import tolerances
from parity_tests.engine.harness import (
    GRAD_INPUT,
    GRAD_PARAM,
    arguments,
    build_torch,
    draw_setup,
    finite_difference,
    run_case,
)
from parity_tests.engine.registry import Case
from parity_tests.engine.structure import leaves
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
    checks = [c for c in run_case(case, setup) if c.key.kind in (GRAD_INPUT, GRAD_PARAM)]
    assert {c.key.tensor for c in checks if c.key.kind == GRAD_INPUT} == set(setup.differentiated)
    for check in checks:
        grad = check.reference_in_torch_layout()
        flat = rng.permutation(grad.size)[:ELEMENTS_PER_TENSOR]
        indices = [np.unravel_index(i, grad.shape) for i in flat]
        fd = finite_difference(case, setup, check.key, indices)
        picked = np.array([grad[i] for i in indices])
        scale = np.max(np.abs(grad))
        np.testing.assert_allclose(picked, fd, rtol=tolerances.FD_RTOL, atol=tolerances.FD_RTOL * scale,
                                   err_msg=f"{case.id}: {check.name} vs central differences")


@pytest.mark.parametrize("case", DIFFERENTIABLE_CASES, ids=lambda c: c.id)
def test_torch_twin_passes_gradcheck(case):
    """Every differentiated input and every parameter, through every differentiable output."""
    pair, setup = case.pair, draw_setup(case)
    inputs = {name: torch.from_numpy(x) for name, x in setup.inputs.items()}
    differentiated = setup.differentiated or tuple(n for n, x in inputs.items() if x.is_floating_point())
    module = build_torch(pair, setup, torch.float64) if pair.is_layer else pair.torch(setup.config)
    names = [name for name, _ in module.named_parameters()] if pair.is_layer else []

    def function(*variables):
        given = inputs | dict(zip(differentiated, variables, strict=False))
        params = dict(zip(names, variables[len(differentiated):], strict=True))
        returned = functional_call(module, params, tuple(arguments(pair, given))) if pair.is_layer \
            else module(*arguments(pair, given))
        outputs = returned if isinstance(returned, tuple) else (returned,)
        return tuple(o for o in leaves(outputs) if o.is_floating_point())

    variables = [inputs[n] for n in differentiated] + ([p.detach().clone() for p in module.parameters()]
                                                        if pair.is_layer else [])
    variables = [v.detach().clone().requires_grad_() for v in variables]
    assert torch.autograd.gradcheck(function, variables, fast_mode=True)
