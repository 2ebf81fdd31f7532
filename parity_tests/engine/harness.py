"""The generic harness: run one case of any pair on both sides and judge every tensor.

For a layer, one case is: draw inputs, parameters and state from the case's seed; load the
same values into the reference, the torch twin in the case's dtype and the torch judge in
float64; run a decoy forward (a first batch), then forward and backward on the case's
inputs with a random upstream gradient; compare the output, the input gradient, every
parameter gradient and every state entry (after both forwards). A function is run
forward and its outputs compared.
"""

from __future__ import annotations

import dataclasses
import zlib
from dataclasses import dataclass

import numpy as np
import torch
from torch.overrides import TorchFunctionMode

from parity_tests.engine.layouts import IDENTITY, DeclarationError, Layout
from parity_tests.engine.registry import Case, Pair, Param
from parity_tests.engine.tolerances import FD_STEP, KINK_ATTEMPTS, KINK_MARGIN


class HarnessError(AssertionError):
    """The case could not be run as declared (unsynchronised parameter, mutated input, ...)."""


@dataclass
class Check:
    """One tensor as the reference, torch in the case's dtype and the float64 judge see it,
    in torch's layout; ``layout`` is how the reference stores it (identity when the same)."""

    name: str
    reference: np.ndarray  # as the reference returned it, in its own layout
    torch: np.ndarray
    judge: np.ndarray
    layout: Layout = IDENTITY
    problem: str = ""  # a finding instead of a value (a side effect, a missing array): the check fails with it

    def reference_shape(self) -> tuple[int, ...]:
        """The shape the reference must return: the judge's, in the reference's layout."""
        return self.layout.reference_shape(np.shape(self.judge))

    def reference_in_torch_layout(self) -> np.ndarray:
        return self.layout.to_torch(np.asarray(self.reference), np.shape(self.judge))


def case_seed(case: Case) -> int:
    """Every case draws from a generator seeded by its own id: it reproduces alone."""
    return zlib.crc32(case.id.encode())


# -- parameter synchronisation: the one mechanism, both directions ----------------------


def torch_arrays(module) -> dict[str, torch.Tensor]:
    """Parameters and floating buffers. Integer buffers (BatchNorm's num_batches_tracked) are
    not compared: with a momentum set, torch never reads them."""
    return dict(module.named_parameters()) | {n: b for n, b in module.named_buffers() if b.is_floating_point()}


def synchronised(pair: Pair, layer, module) -> list[Param]:
    """The mapped entries present on both sides, their layouts checked against torch's shapes;
    raise if a name is missing on one side, found on neither, or an array is left unmapped."""
    convention, tensors = pair.convention, torch_arrays(module)
    held = convention.names(layer)
    present, problems = [], []
    for p in pair.params:
        on_reference, on_torch = convention.holds(layer, p.reference), p.torch in tensors
        if on_reference and on_torch:
            present.append(p)
        elif on_torch:
            problems.append(f"mapped reference name {p.reference!r} not found on the reference")
        elif on_reference:
            problems.append(f"mapped torch names that do not exist: [{p.torch!r}]")
        elif not p.optional:
            problems.append(f"Param({p.reference!r}, {p.torch!r}) is found on neither side")
    if unmapped := (held or set()) - {p.reference for p in present}:
        problems.append(f"reference arrays with no mapping: {sorted(unmapped)}")
    if unmapped := set(tensors) - {p.torch for p in present}:
        problems.append(f"torch parameters/buffers not synchronised: {sorted(unmapped)}")
    if problems:
        raise DeclarationError(f"pair {pair.name}: " + "; ".join(problems) + f" (the reference holds: "
                               f"{_listing(held)}; torch: {_listing(tensors)})")
    for p in present:
        _check_layout(pair, p, convention.read(layer, p.reference), tuple(tensors[p.torch].shape))
    return present


def _listing(names) -> str:
    return "unlisted by its convention" if names is None else (", ".join(sorted(names)) or "nothing")


def _check_layout(pair: Pair, p: Param, held: np.ndarray | None, torch_shape: tuple) -> None:
    what = f"pair {pair.name}: Param({p.reference!r}, {p.torch!r})"
    p.layout.validate(what, torch_shape)
    wanted = p.layout.reference_shape(torch_shape)
    if held is not None and np.shape(held) != wanted:
        hint = f"; declare shape={np.shape(held)}" if np.size(held) == int(np.prod(torch_shape)) else ""
        raise DeclarationError(f"{what}: the declared layout ({p.layout}) turns torch's {p.torch} of shape "
                               f"{torch_shape} into {wanted}, but the reference holds {np.shape(held)}{hint}")


def _torch_tensor(module, name: str) -> torch.Tensor:
    buffers = dict(module.named_buffers())
    return buffers[name] if name in buffers else module.get_parameter(name)


def load_into_torch(params: list[Param], values: dict[str, np.ndarray], module) -> None:
    """Torch-layout values -> the module's parameters and buffers."""
    with torch.no_grad():
        for p in params:
            _torch_tensor(module, p.torch).copy_(torch.from_numpy(np.array(values[p.reference])))


def torch_values(params: list[Param], module) -> dict[str, np.ndarray]:
    """The module's parameters and buffers, keyed by reference name, in torch's layout."""
    return {p.reference: _numpy(_torch_tensor(module, p.torch)).copy() for p in params}


def load_into_reference(pair: Pair, params: list[Param], values: dict[str, np.ndarray], layer, dtype) -> None:
    """Torch-layout values -> the reference's arrays, each in its declared layout."""
    pair.convention.load(layer, {p.reference: p.layout.to_reference(values[p.reference]) for p in params}, dtype)


# -- running one side --------------------------------------------------------------------


def _to_torch(array: np.ndarray, dtype: torch.dtype, device: str = "cpu") -> torch.Tensor:
    tensor = torch.from_numpy(array.copy()).to(device)
    return tensor.to(dtype) if tensor.is_floating_point() else tensor


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy()


def _check_unchanged(side: str, originals, after) -> None:
    for i, (before, now) in enumerate(zip(originals, after, strict=True)):
        now = _numpy(now) if isinstance(now, torch.Tensor) else now
        if not np.array_equal(np.asarray(before, dtype=now.dtype), now):
            raise HarnessError(f"the {side} modified its input {i} in place")


def reference_inputs(pair: Pair, inputs) -> list[np.ndarray]:
    """Torch-layout inputs as the reference takes them (fresh copies)."""
    return [np.array(pair.input_layout(i).to_reference(x)) for i, x in enumerate(inputs)]


def _first_change(before: np.ndarray, after) -> str | None:
    """Where ``after`` first differs from ``before``; None if it does not."""
    after = np.asarray(after)
    if before.shape != after.shape:
        return f"shape {before.shape} -> {after.shape}"
    same = (before == after) | (np.isnan(before) & np.isnan(after))
    if same.all():
        return None
    index = tuple(int(i) for i in np.argwhere(~same)[0])
    return f"first change at index {index}: {before[index]:.6g} -> {after[index]:.6g}"


def _snapshot(arrays: dict) -> dict[str, np.ndarray]:
    return {name: np.array(value, copy=True) for name, value in arrays.items() if value is not None}


ROLES = {"upstream gradient": "the caller's upstream gradient", "output": "the output it had handed out",
         "grad input": "the input gradient it had handed out"}


def _changes(what: str, before: dict[str, np.ndarray], now: dict, state=frozenset()) -> list[tuple[str, str]]:
    """(check name, message) for each array of ``before`` that ``now`` holds changed."""
    def role(name):
        return ROLES.get(name) or f"{'state' if name in state else 'parameter'} {name}"

    return [(f"side effect: {name}", f"{what} changed {role(name)} in place: {change}")
            for name, value in before.items() if (change := _first_change(value, now.get(name))) is not None]


def run_reference_layer(pair: Pair, layer, setup: Setup, inputs, upstream) -> dict[str, np.ndarray]:
    """Forward and backward on the reference; every result as it returns it (its own layout).

    Side effects torch never has are results too (``side effect: <array>`` -> what happened):
    backward gets the caller's own upstream array and must leave it alone; parameters must
    not move in forward or backward, nor state in backward; the output already handed out
    must not change in backward; the input gradient must not be the upstream array; and a
    second forward and backward must not overwrite the first call's output or input gradient
    (a buffer handed out and reused).
    """
    convention, output_layout = pair.convention, Layout(pair.output_layout)

    def held(names) -> dict:
        return {name: convention.read(layer, name) for name in names}

    arrays = [p.reference for p in setup.params]
    params = [name for name in arrays if name not in setup.state]
    originals = reference_inputs(pair, inputs)
    working = [x.copy() for x in originals]
    before_forward = _snapshot(held(params))
    convention.run_clear(layer)
    output = np.asarray(convention.forward(layer, working))
    if output.shape != output_layout.reference_shape(upstream.shape):
        raise HarnessError(
            f"reference output has shape {output.shape}, torch's has {upstream.shape}"
            + ("" if output_layout.identity else f" (the declared output layout, {output_layout}, expects "
                                                 f"{output_layout.reference_shape(upstream.shape)})")
        )
    effects = _changes("forward", before_forward, held(params))
    handed_out = {"output": output}  # the objects the caller holds, watched from here on
    judged = _snapshot(handed_out)  # the values judged: as they were when handed out
    before_backward = _snapshot(held(arrays))
    caller_upstream = np.array(output_layout.to_reference(upstream))
    upstream_before = _snapshot({"upstream gradient": caller_upstream})
    handed_out["grad input"] = convention.backward(layer, pair.backward, caller_upstream)
    judged |= _snapshot({"grad input": handed_out["grad input"]})
    effects += _changes("backward", upstream_before, {"upstream gradient": caller_upstream})
    effects += _changes("backward", {"output": judged["output"]}, handed_out)
    effects += _changes("backward", before_backward, held(arrays), setup.state)
    if isinstance(handed_out["grad input"], np.ndarray) and np.shares_memory(handed_out["grad input"],
                                                                             caller_upstream):
        effects.append(("side effect: grad input", "backward returned (a view of) the caller's upstream gradient "
                                                   "as the input gradient"))
    for p in setup.params:
        if p.reference in setup.state:  # as forward left it: backward must not change it
            judged[f"state {p.reference}"] = before_backward[p.reference]
            continue
        grad = convention.grad(layer, p.reference)
        if grad is None:
            raise HarnessError(f"reference backward left no gradient for {p.reference} "
                               f"(looked for {convention.where(p.reference)})")
        judged[f"grad {p.reference}"] = np.array(grad, copy=True)
    _check_unchanged("reference", originals, working)
    effects += _second_call(pair, layer, setup, handed_out, judged)
    return judged | {name: np.array(text) for name, text in effects}


def _second_call(pair: Pair, layer, setup: Setup, handed_out, judged) -> list[tuple[str, str]]:
    """Run forward and backward once more, on the decoy batch and another upstream gradient:
    what the first call handed out must not change."""
    convention = pair.convention
    convention.run_clear(layer)
    convention.forward(layer, reference_inputs(pair, setup.decoy))
    convention.backward(layer, pair.backward, np.array(Layout(pair.output_layout).to_reference(-2.0 * setup.upstream)))
    found = _changes("the next forward and backward", {k: judged[k] for k in handed_out}, handed_out)
    return [(f"{name} (next call)", text) for name, text in found]


def torch_forward(module, inputs, dtype: torch.dtype, device: str = "cpu"):
    """Forward on copies of the inputs; the first requires a gradient."""
    working = [_to_torch(x, dtype, device) for x in inputs]
    working[0].requires_grad_(True)
    return module(*working), working


def torch_backward(module, setup: Setup, output, working) -> dict[str, np.ndarray]:
    output.backward(_to_torch(setup.upstream, output.dtype, output.device))
    results = {"output": output, "grad input": working[0].grad}
    for p in setup.params:
        if p.reference in setup.state:
            results[f"state {p.reference}"] = _torch_tensor(module, p.torch)
        else:
            grad = module.get_parameter(p.torch).grad
            if grad is None:
                raise HarnessError(f"torch parameter {p.torch} received no gradient")
            results[f"grad {p.reference}"] = grad
    _check_unchanged("torch twin", setup.inputs, working)
    return {k: _numpy(v) for k, v in results.items()}


def _as_outputs(pair: Pair, result) -> dict[str, np.ndarray]:
    values = result if isinstance(result, tuple) else (result,)
    if len(values) != len(pair.outputs):
        raise HarnessError(f"pair {pair.name}: expected outputs {pair.outputs}, got {len(values)} values")
    return {
        name: (_numpy(v) if isinstance(v, torch.Tensor) else np.asarray(v))
        for name, v in zip(pair.outputs, values, strict=True)
    }


def run_function(pair: Pair, function, inputs, torch_dtype=None, device="cpu") -> dict[str, np.ndarray]:
    """Run a forward-only function; ``torch_dtype`` None means the reference side."""
    if torch_dtype is None:
        originals = reference_inputs(pair, inputs)
        working = [x.copy() for x in originals]
        outputs = _as_outputs(pair, function(*working))
        _check_unchanged("reference", originals, working)
    else:
        working = [_to_torch(x, torch_dtype, device) for x in inputs]
        outputs = _as_outputs(pair, function(*working))
        _check_unchanged("torch twin", inputs, working)
    return outputs


# -- one case ----------------------------------------------------------------------------


@dataclass
class Setup:
    """Everything a case draws, in torch's layout; the same values go to every side."""

    inputs: list[np.ndarray]
    params: list[Param]
    values: dict[str, np.ndarray]  # reference name -> array, torch's layout, case dtype
    training: bool
    state: frozenset[str] = frozenset()  # the reference names of torch buffers (compared after forward)
    upstream: np.ndarray | None = None
    decoy: list[np.ndarray] | None = None  # a first batch every side sees before the real one

    def astype(self, dtype) -> Setup:
        def cast(x):
            return x.astype(dtype) if np.issubdtype(x.dtype, np.floating) else x

        return dataclasses.replace(
            self, inputs=[cast(x) for x in self.inputs], values={k: cast(v) for k, v in self.values.items()},
            upstream=None if self.upstream is None else cast(self.upstream),
            decoy=None if self.decoy is None else [cast(x) for x in self.decoy],
        )


def build_reference(pair: Pair, config, setup: Setup, dtype):
    """The reference, its lazily built arrays created on the first batch, the case's values loaded."""
    layer = pair.convention.prepare(pair.reference(config), pair.name)
    pair.convention.run_init(layer, reference_inputs(pair, setup.decoy or setup.inputs))
    load_into_reference(pair, setup.params, setup.values, layer, dtype)
    pair.convention.train(layer, setup.training, pair.name)
    return layer


def build_torch(pair: Pair, config, setup: Setup, dtype: torch.dtype, device: str = "cpu"):
    module = pair.torch(config).to(device=device, dtype=dtype).train(setup.training)
    load_into_torch(setup.params, setup.values, module)
    return module


class ReluWatch(TorchFunctionMode):
    """Records how close to its kink the nearest input of any relu in a forward comes,
    relative to the largest input of that relu."""

    def __init__(self):
        super().__init__()
        self.margin = np.inf

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", "") in ("relu", "relu_"):
            x = args[0].detach().abs()
            if x.numel() and x.max() > 0:
                self.margin = min(self.margin, float(x.min() / x.max()))
        return func(*args, **(kwargs or {}))


def draw_setup(case: Case, values: dict[str, np.ndarray] | None = None) -> Setup:
    """Draw a case away from ReLU kinks: a float32 pre-activation within rounding of zero
    can fall on the other side in the reference than in torch, and a flipped unit changes
    whole channels downstream (BatchNorm couples them). Such a draw is replaced by the next
    one from the same seed, so every case still reproduces from its id alone.

    ``values`` (torch layout) replaces the drawn parameters and state."""
    for attempt in range(KINK_ATTEMPTS):
        setup, margin = _draw_setup(case, attempt, values)
        if case.dtype != "float32" or margin >= KINK_MARGIN:
            return setup
    raise HarnessError(f"{case.id}: no draw in {KINK_ATTEMPTS} kept every ReLU input {KINK_MARGIN:g} away from 0")


def _draw_setup(case: Case, attempt: int, given: dict[str, np.ndarray] | None) -> tuple[Setup, float]:
    """Draw inputs, then parameters and state, then the upstream gradient, from the case's seed."""
    pair, config, dtype = case.pair, case.config, np.dtype(case.dtype)
    rng = np.random.default_rng(case_seed(case) if attempt == 0 else [case_seed(case), attempt])
    inputs = [make(config, rng, dtype) for make in pair.inputs]
    training = getattr(config, "mode", "train") == "train"
    if not pair.is_layer:
        return Setup(inputs, [], {}, training), np.inf
    layer, module = pair.convention.prepare(pair.reference(config), pair.name), pair.torch(config)
    pair.convention.run_init(layer, reference_inputs(pair, inputs))
    params = synchronised(pair, layer, module)
    buffers = {name for name, _ in module.named_buffers()}
    tensors = torch_arrays(module)
    values = {p.reference: (p.draw(rng, tuple(tensors[p.torch].shape)) if given is None else given[p.reference])
              .astype(dtype) for p in params}
    setup = Setup(inputs, params, values, training, frozenset(p.reference for p in params if p.torch in buffers))
    # the judge's output fixes the shape of the random upstream gradient every side gets
    with ReluWatch() as watch:
        output, _ = torch_forward(build_torch(pair, config, setup, torch.float64), inputs, torch.float64)
    setup.upstream = rng.standard_normal(tuple(output.shape)).astype(dtype)
    # layers are reused across batches: a value cached by the first forward must not leak
    setup.decoy = [make(config, rng, dtype) for make in pair.inputs]
    return setup, watch.margin


def run_torch(pair: Pair, config, setup: Setup, dtype: torch.dtype, device: str = "cpu") -> dict[str, np.ndarray]:
    if not pair.is_layer:
        return run_function(pair, pair.torch(config), setup.inputs, dtype, device)
    module = build_torch(pair, config, setup, dtype, device)
    with torch.no_grad():
        module(*[_to_torch(x, dtype, device) for x in setup.decoy])
    return torch_backward(module, setup, *torch_forward(module, setup.inputs, dtype, device))


def run_reference(pair: Pair, config, setup: Setup, dtype) -> dict[str, np.ndarray]:
    """The reference's results, each in its own layout."""
    if not pair.is_layer:
        return run_function(pair, pair.reference(config), setup.inputs)
    layer = build_reference(pair, config, setup, dtype)
    pair.convention.run_clear(layer)
    pair.convention.forward(layer, reference_inputs(pair, setup.decoy))
    return run_reference_layer(pair, layer, setup, setup.inputs, setup.upstream)


def layouts(pair: Pair, setup: Setup) -> dict[str, Layout]:
    """How the reference stores each checked tensor."""
    found = {"output": Layout(pair.output_layout), "grad input": pair.input_layout(0)}
    for p in setup.params:
        found[("state " if p.reference in setup.state else "grad ") + p.reference] = p.layout
    return found


def run_case(case: Case, setup: Setup | None = None) -> list[Check]:
    setup = setup or draw_setup(case)
    pair, config = case.pair, case.config
    judge = run_torch(pair, config, setup, torch.float64, case.device)
    twin = run_torch(pair, config, setup, getattr(torch, case.dtype), case.device)
    ref = run_reference(pair, config, setup, np.dtype(case.dtype))
    stored = layouts(pair, setup)
    return [Check(name, value, np.zeros(0), np.zeros(0), problem=f"side effect: {value}")
            if name.startswith("side effect")
            else Check(name, value, twin[name], judge[name], stored.get(name, IDENTITY))
            for name, value in ref.items()]


# -- finite differences: the third judge -------------------------------------------------


def finite_difference(pair: Pair, config, setup: Setup, check_name: str, indices, eps: float = FD_STEP):
    """Central differences, in float64, of L = sum(reference output * upstream) with respect
    to the tensor behind ``check_name`` ("grad input" or "grad <param>"), at ``indices`` (in
    torch's layout)."""
    setup = setup.astype(np.float64)
    target = "input" if check_name == "grad input" else check_name.removeprefix("grad ")
    output_layout = Layout(pair.output_layout)

    def loss(shift_index, shift) -> float:
        inputs = [x.copy() for x in setup.inputs]
        values = {k: v.copy() for k, v in setup.values.items()}
        (inputs[0] if target == "input" else values[target])[shift_index] += shift
        shifted = dataclasses.replace(setup, inputs=inputs, values=values)
        layer = build_reference(pair, config, shifted, np.float64)
        pair.convention.run_clear(layer)
        output = np.asarray(pair.convention.forward(layer, reference_inputs(pair, inputs)))
        return float(np.sum(output_layout.to_torch(output, setup.upstream.shape) * setup.upstream))

    return np.array([(loss(i, eps) - loss(i, -eps)) / (2 * eps) for i in indices])
