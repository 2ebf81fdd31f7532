"""The generic harness: run one case of any pair on both sides and judge every tensor.

For a layer, one case is: draw inputs, parameters and state from the case's seed; load the
same values into the reference and the torch judge in float64 (and the twin in the case's
dtype, where a verdict needs torch's own error); run a decoy batch on the reference (one
sample more: a first batch the layer is used on), then forward and backward on the case's
inputs with a random upstream gradient per differentiable output; compare every output, the
gradient of every differentiated input, every parameter gradient and every state entry
(after both forwards). A function is run forward and its outputs compared.
"""

from __future__ import annotations

import contextlib
import dataclasses
import zlib
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
from torch.overrides import TorchFunctionMode

from parity_tests.engine import structure
from parity_tests.engine.layouts import IDENTITY, DeclarationError, Layout
from parity_tests.engine.registry import Case, Config, Pair, Param
from parity_tests.engine.tolerances import FD_STEP, KINK_ATTEMPTS, KINK_MARGIN


class HarnessError(AssertionError):
    """The case could not be run as declared (unsynchronised parameter, mutated input, ...)."""


class LayerRaised(Exception):
    """One side raised while a case ran; ``side`` says which (the reference, the torch twin)."""

    def __init__(self, side: str, error: BaseException):
        super().__init__(f"{side} raised {type(error).__name__}: {error}")
        self.side, self.error = side, error


REFERENCE_SIDE, TORCH_SIDE = "the reference", "the torch twin"


@contextlib.contextmanager
def raised_by(side: str):
    """Whatever the layers of ``side`` raise (not the harness's own errors) is said to be theirs."""
    try:
        yield
    except (DeclarationError, HarnessError, LayerRaised):
        raise
    except Exception as error:
        raise LayerRaised(side, error) from error


# the kinds of check: what a Key's ``kind`` may be
OUTPUT, GRAD_INPUT, GRAD_PARAM, STATE = "output", "grad input", "grad param", "state"
SIDE_EFFECT, TWIN, SAMPLING, STEP, REFUSED = "side effect", "twin", "sampling", "step", "refused"


class Key(NamedTuple):  # a tuple: a case looks its results up by key dozens of times
    """What a check judges: its kind (above) and the tensor's name (an input, an output, a
    reference array; for a side effect, what it changed)."""

    kind: str
    tensor: str

    def __str__(self) -> str:
        if self.kind == OUTPUT:
            return self.tensor if self.tensor.startswith("output") else f"output {self.tensor}"
        if self.kind in (GRAD_INPUT, GRAD_PARAM):
            return f"grad {self.tensor}"
        if self.kind == STATE:
            return f"state {self.tensor}"
        if self.kind == STEP:
            return self.tensor
        return f"{self.kind}: {self.tensor}"


@dataclass
class Compared:
    """One tensor as the reference, torch in the case's dtype and the float64 judge see it,
    in torch's layout; ``layout`` is how the reference stores it (identity when the same)."""

    key: Key
    reference: np.ndarray  # as the reference returned it, in its own layout
    torch: np.ndarray | None  # None: the twin in the case's dtype not run (yet; ``with_twin``)
    judge: np.ndarray
    layout: Layout = IDENTITY
    problem: str = ""  # a finding instead of a value (a side effect, a missing array): the check fails with it
    exact: bool = False  # compared exactly (an integer output, indices)

    @classmethod
    def finding(cls, key: Key, problem: str) -> Compared:
        """A check that fails with ``problem`` and has no values to compare."""
        return cls(key, np.zeros(0), np.zeros(0), np.zeros(0), problem=problem)

    @property
    def name(self) -> str:
        return str(self.key)

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
    if unmapped := set(tensors) - {p.torch for p in present} - set(pair.held_at_zero):
        problems.append(f"torch parameters/buffers not synchronised: {sorted(unmapped)}")
    if absent := sorted(set(pair.held_at_zero) - set(tensors)):
        problems.append(f"held_at_zero names torch tensors that do not exist: {absent}")
    problems += _gate_problems(present)
    if problems:
        raise DeclarationError(f"pair {pair.name}: " + "; ".join(problems) + f" (the reference holds: "
                               f"{_listing(held)}; torch: {_listing(tensors)})")
    for p in present:
        _check_layout(pair, p, convention.read(layer, p.reference), p.part_shape(tuple(tensors[p.torch].shape)))
    return present


def _gate_problems(present: list[Param]) -> list[str]:
    """Every row of a gate-packed torch tensor mapped exactly once: a gate left out would go
    unsynchronised, a gate mapped twice judged twice from two arrays."""
    problems = []
    for name in sorted({p.torch for p in present if p.gates is not None}):
        sharing = [p for p in present if p.torch == name]
        orders = {p.gates[0] if p.gates else None for p in sharing}
        if len(orders) > 1:
            problems.append(f"torch's {name} is mapped whole and by gates, or by different gate orders: "
                            + ", ".join(str(p) for p in sharing))
            continue
        order, held = orders.pop(), [g for p in sharing for g in p.gates[1]]
        if missing := [g for g in order if g not in held]:
            problems.append(f"gates {''.join(missing)} of torch's {name} (gates {order}) are mapped to no "
                            "reference array")
        if twice := [g for g in order if held.count(g) > 1]:
            problems.append(f"gates {''.join(twice)} of torch's {name} are mapped twice: "
                            + ", ".join(p.reference for p in sharing if set(twice) & set(p.gates[1])))
    return problems


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


def _torch_tensors(module) -> dict[str, torch.Tensor]:
    """Every parameter and buffer by name, under each name it has (a shared one under all)."""
    return dict(module.named_parameters(remove_duplicate=False)) | dict(module.named_buffers(remove_duplicate=False))


def load_into_torch(params: list[Param], values: dict[str, np.ndarray], module) -> None:
    """Torch-layout values -> the module's parameters and buffers."""
    tensors = _torch_tensors(module)
    with torch.no_grad():
        for p in params:
            tensor, value = tensors[p.torch], torch.from_numpy(np.array(values[p.reference]))
            if p.gates is None:
                tensor.copy_(value)
            else:
                tensor[p.rows(tuple(tensor.shape))] = value.to(tensor.device, tensor.dtype)


def torch_values(params: list[Param], module) -> dict[str, np.ndarray]:
    """The module's parameters and buffers, keyed by reference name, in torch's layout."""
    tensors = _torch_tensors(module)
    return {p.reference: _numpy(p.part(tensors[p.torch])).copy() for p in params}


def load_into_reference(pair: Pair, params: list[Param], values: dict[str, np.ndarray], layer, dtype) -> None:
    """Torch-layout values -> the reference's arrays, each in its declared layout."""
    pair.convention.load(layer, {p.reference: p.layout.to_reference(values[p.reference]) for p in params}, dtype)


# -- running one side --------------------------------------------------------------------


def _to_torch(array: np.ndarray, dtype: torch.dtype, device: str = "cpu") -> torch.Tensor:
    """A tensor of its own (a copy) on ``device``, in ``dtype`` if floating."""
    array = np.asarray(array)
    tensor = torch.from_numpy(array if array.flags.c_contiguous else array.copy())  # no negative strides
    return tensor.to(device=device, dtype=dtype if tensor.is_floating_point() else tensor.dtype, copy=True)


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy()


def _equal(a: np.ndarray, b: np.ndarray) -> bool:
    """The same shape and values, NaN equal to NaN; equal bytes settle it at once (the usual case)."""
    if a.shape != b.shape:
        return False
    if a.dtype == b.dtype and a.tobytes() == b.tobytes():
        return True
    return bool(np.array_equal(a, b, equal_nan=a.dtype.kind == "f" and b.dtype.kind == "f"))


def _check_unchanged(side: str, originals: dict, after: dict) -> None:
    for name, before in originals.items():
        now = after[name]
        now = _numpy(now) if isinstance(now, torch.Tensor) else np.asarray(now)
        if not _equal(np.asarray(before).astype(now.dtype, copy=False), now):
            raise HarnessError(f"the {side} modified its input {name!r} in place")


def reference_inputs(pair: Pair, inputs: dict) -> dict[str, np.ndarray]:
    """Torch-layout inputs as the reference takes them (fresh copies), by name."""
    return {name: np.array(pair.input_layout(i).to_reference(inputs[name]))
            for i, name in enumerate(pair.input_names)}


def arguments(pair: Pair, inputs: dict) -> list:
    """The inputs as the layer is called with them: one argument each, or nested as declared."""
    return list(structure.build(pair.call_structure, inputs))


def _first_change(before: np.ndarray, after) -> str | None:
    """Where ``after`` first differs from ``before``; None if it does not."""
    after = np.asarray(after)
    if before.shape != after.shape:
        return f"shape {before.shape} -> {after.shape}"
    if _equal(before, after):
        return None
    same = (before == after) | (np.isnan(before) & np.isnan(after)) if before.dtype.kind == "f" else before == after
    if same.all():
        return None
    index = tuple(int(i) for i in np.argwhere(~same)[0])
    return f"first change at index {index}: {before[index]:.6g} -> {after[index]:.6g}"


def _snapshot(arrays: dict) -> dict:
    return {name: np.array(value, copy=True) for name, value in arrays.items() if value is not None}


def _changes(what: str, before: dict, now: dict, roles: dict[str, str]) -> list[tuple[Key, str]]:
    """(check key, message) for each array of ``before`` that ``now`` holds changed; ``roles``
    says what each array is to the caller."""
    return [(Key(SIDE_EFFECT, name), f"{what} changed {roles[name]} in place: {change}")
            for name, value in before.items() if (change := _first_change(value, now.get(name))) is not None]


def _upstream_name(pair: Pair, output: str) -> str:
    return "upstream gradient" if len(pair.output_names) == 1 else f"upstream gradient of {output}"


def upstream_arguments(pair: Pair, upstreams: dict[str, np.ndarray]) -> list:
    """The upstream gradients as the reference's backward takes them: one per top-level
    output (nested as it is), or one tuple (``upstream="tuple"``); exact outputs get none."""
    def without_exact(part):
        if isinstance(part, str):
            return None if part in pair.exact else part
        kept = tuple(p for p in (without_exact(q) for q in part) if p is not None)
        return kept or None

    shaped = without_exact(pair.outputs if isinstance(pair.outputs, tuple) else (pair.outputs,)) or ()
    built = structure.build(shaped, upstreams)
    return [built] if pair.upstream == "tuple" and len(pair.differentiable_outputs) > 1 else list(built)


def _outputs(pair: Pair, returned, side: str) -> dict:
    found = structure.unpack(pair.outputs, returned, side)
    return {name: (_numpy(v) if isinstance(v, torch.Tensor) else np.asarray(v)) for name, v in found.items()}


def run_reference_layer(pair: Pair, layer, setup: Setup, first_call: dict | None = None) -> dict[Key, np.ndarray | str]:
    """Forward and backward on the reference; every result as it returns it (its own layout).

    Side effects torch never has are results too (a ``side effect`` key -> what happened):
    backward gets the caller's own upstream arrays and must leave them alone; parameters must
    not move in forward or backward, nor state in backward; the outputs already handed out
    must not change in backward; an input gradient must not be an upstream array; and this
    forward and backward must not overwrite the outputs or input gradients ``first_call``
    (the decoy's, ``run_decoy``) handed out (a buffer handed out and reused).
    """
    convention, output_layout = pair.convention, Layout(pair.output_layout)
    differentiated = setup.differentiated

    def held(names) -> dict:
        return {name: convention.read(layer, name) for name in names}

    arrays = [p.reference for p in setup.params]
    params = [name for name in arrays if name not in setup.state]
    roles = {name: f"{'state' if name in setup.state else 'parameter'} {name}" for name in arrays}
    originals = reference_inputs(pair, setup.inputs)
    working = {name: x.copy() for name, x in originals.items()}
    before_forward = _snapshot(held(params))
    convention.run_clear(layer)
    outputs = _outputs(pair, convention.forward(layer, arguments(pair, working), setup.training),
                       f"the reference's {type(layer).__name__}.forward")
    _check_output_shapes(pair, outputs, setup.output_shapes)
    effects = _changes("forward", before_forward, held(params), roles)
    # the objects the caller holds, watched from here on, and their values as handed out (judged)
    handed_out = {str(Key(OUTPUT, name)): value for name, value in outputs.items()}
    roles |= {name: _handed_role(name) for name in handed_out}
    before_backward = _snapshot(held(arrays))
    caller_upstreams = {name: np.array(output_layout.to_reference(g)) for name, g in setup.upstream.items()}
    upstreams = {_upstream_name(pair, name): g for name, g in caller_upstreams.items()}
    roles |= {name: f"the caller's {name}" for name in upstreams}
    upstreams_before, handed_before = _snapshot(upstreams), _snapshot(handed_out)
    grads = convention.backward(layer, pair.backward, upstream_arguments(pair, caller_upstreams), differentiated,
                                pair.input_names)
    effects += _changes("backward", upstreams_before, upstreams, roles)
    effects += _changes("backward", handed_before, handed_out, roles)
    effects += _changes("backward", before_backward, held(arrays), roles)
    for name, grad in zip(differentiated, grads, strict=True):
        handed_out[f"grad {name}"] = grad
        roles[f"grad {name}"] = _handed_role(f"grad {name}")
        if isinstance(grad, np.ndarray) and any(np.shares_memory(grad, g) for g in caller_upstreams.values()):
            effects.append((Key(SIDE_EFFECT, f"grad {name}"), f"backward returned (a view of) the caller's upstream "
                                                             f"gradient as {_gradient_role(name)}"))
    handed_values = handed_before | _snapshot({f"grad {name}": grad for name, grad in zip(differentiated, grads,
                                                                                        strict=True)})
    judged = {Key(OUTPUT, name): handed_values[str(Key(OUTPUT, name))] for name in outputs}
    judged |= {Key(GRAD_INPUT, name): handed_values.get(f"grad {name}") for name in differentiated}
    if forgotten := convention.unmapped_gradients(layer, set(arrays), grads):
        raise DeclarationError(
            f"pair {pair.name}: reference arrays with a gradient but no mapping: {forgotten} (their gradients: "
            f"{', '.join(convention.where(name) for name in forgotten)}); map each with Param(...), or the check "
            "of its gradient is skipped")
    for p in setup.params:
        if p.reference in setup.state:  # as forward left it: backward must not change it
            judged[Key(STATE, p.reference)] = before_backward[p.reference]
            continue
        grad = convention.grad(layer, p.reference)
        if grad is None:
            raise HarnessError(f"reference backward left no gradient for {p.reference} "
                               f"(looked for {convention.where(p.reference)})")
        judged[Key(GRAD_PARAM, p.reference)] = np.array(grad, copy=True)
    _check_unchanged("reference", originals, working)
    if first_call is not None:  # the decoy's arrays, as it handed them out and their values then
        arrays, values = first_call
        found = _changes("the next forward and backward", values, arrays, {name: _handed_role(name) for name in arrays})
        effects += [(Key(SIDE_EFFECT, f"{key.tensor} (next call)"), text) for key, text in found]
    return judged | dict(effects)


def _check_output_shapes(pair: Pair, outputs: dict, torch_shapes: dict[str, tuple]) -> None:
    layout = Layout(pair.output_layout)
    for name, value in outputs.items():
        wanted = layout.reference_shape(torch_shapes[name])
        if np.shape(value) != wanted:
            what = "reference output" if len(outputs) == 1 else f"reference output {name}"
            raise HarnessError(
                f"{what} has shape {np.shape(value)}, torch's has {torch_shapes[name]}"
                + ("" if layout.identity else f" (the declared output layout, {layout}, expects {wanted})"))


def _gradient_role(name: str) -> str:
    """What the gradient of the input ``name`` is to the caller: "the input gradient", "the gradient of q"."""
    return "the input gradient" if name == "input" else f"the gradient of {name}"


def _handed_role(name: str) -> str:
    """What an array a call handed out is to the caller, by its name ("output", "grad input")."""
    return f"{_gradient_role(name[5:]) if name.startswith('grad ') else f'the {name}'} it had handed out"


def torch_forward(pair: Pair, module, inputs: dict, dtype: torch.dtype, device: str = "cpu",
                  differentiated: tuple[str, ...] = ()):
    """Forward on copies of the inputs, the differentiated ones requiring a gradient; the
    outputs by name, and the inputs as torch saw them."""
    working = {name: _to_torch(x, dtype, device) for name, x in inputs.items()}
    for name in differentiated:
        working[name].requires_grad_(True)
    returned = module(*arguments(pair, working))
    return structure.unpack(pair.outputs, returned, f"the torch twin {type(module).__name__}"), working


def torch_backward(pair: Pair, module, setup: Setup, outputs: dict, working: dict) -> dict[Key, np.ndarray]:
    """One ``torch.autograd.backward`` over every differentiable output, each with its own
    upstream gradient."""
    differentiable = [outputs[name] for name in pair.differentiable_outputs]
    if dead := [name for name, t in zip(pair.differentiable_outputs, differentiable, strict=True)
                if not t.requires_grad]:
        raise HarnessError(f"torch output(s) {', '.join(dead)} do not depend on any differentiated input or "
                           "parameter; declare them exact=(...) if they are indices or counts")
    torch.autograd.backward(differentiable, [_to_torch(setup.upstream[name], t.dtype, t.device)
                                             for name, t in zip(pair.differentiable_outputs, differentiable,
                                                                strict=True)])
    results = {Key(OUTPUT, name): t for name, t in outputs.items()}
    for name in setup.differentiated:  # an input the outputs never reach has a zero gradient
        results[Key(GRAD_INPUT, name)] = working[name].grad if working[name].grad is not None \
            else torch.zeros_like(working[name])
    tensors = _torch_tensors(module)
    for p in setup.params:
        if p.reference in setup.state:
            results[Key(STATE, p.reference)] = p.part(tensors[p.torch])
        else:
            grad = tensors[p.torch].grad
            if grad is None:
                raise HarnessError(f"torch parameter {p.torch} received no gradient")
            results[Key(GRAD_PARAM, p.reference)] = p.part(grad)
    _check_unchanged("torch twin", setup.inputs, working)
    return {k: _numpy(v) for k, v in results.items()}


def run_function(pair: Pair, function, inputs: dict, torch_dtype=None, device="cpu") -> dict[Key, np.ndarray]:
    """Run a forward-only function; ``torch_dtype`` None means the reference side."""
    if torch_dtype is None:
        originals = reference_inputs(pair, inputs)
        working = {name: x.copy() for name, x in originals.items()}
        outputs = _outputs(pair, function(*arguments(pair, working)), "the reference")
        _check_unchanged("reference", originals, working)
    else:
        working = {name: _to_torch(x, torch_dtype, device) for name, x in inputs.items()}
        outputs = _outputs(pair, function(*arguments(pair, working)), "the torch twin")
        _check_unchanged("torch twin", inputs, working)
    return {Key(OUTPUT, name): np.asarray(value) for name, value in outputs.items()}


# -- one case ----------------------------------------------------------------------------


@dataclass
class Setup:
    """Everything a case draws, in torch's layout; the same values go to every side."""

    config: Config  # what the factories get: the case's, with ``seed`` for a seeded pair
    inputs: dict[str, np.ndarray]
    params: list[Param]
    values: dict[str, np.ndarray]  # reference name -> array, torch's layout, case dtype
    training: bool
    state: frozenset[str] = frozenset()  # the reference names of torch buffers (compared after forward)
    differentiated: tuple[str, ...] = ()  # the inputs whose gradients are judged
    upstream: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)  # per differentiable output
    output_shapes: dict[str, tuple] = dataclasses.field(default_factory=dict)  # torch's, per output
    decoy: dict[str, np.ndarray] | None = None  # a first batch the layer sees before the real one
    # the reference the draw built for its declaration checks, not yet run: the case's run takes
    # it (once; a copy of the setup shares the list, so no two runs share the layer)
    unused_reference: list = dataclasses.field(default_factory=list)

    def astype(self, dtype) -> Setup:
        def cast(x):
            return x.astype(dtype) if np.issubdtype(x.dtype, np.floating) else x

        return dataclasses.replace(
            self, inputs={k: cast(x) for k, x in self.inputs.items()},
            values={k: cast(v) for k, v in self.values.items()},
            upstream={k: cast(g) for k, g in self.upstream.items()},
            decoy=None if self.decoy is None else {k: cast(x) for k, x in self.decoy.items()},
        )


def is_training(config: Config) -> bool:
    """A configuration runs in training mode unless its ``mode`` is "eval"."""
    return getattr(config, "mode", "train") == "train"


def factory_config(case: Case) -> Config:
    """The config the factories get: a seeded pair's carries the case's own seed."""
    if not case.pair.seeded:
        return case.config
    return Config(**(vars(case.config) | {"seed": case_seed(case)}))


def new_reference(pair: Pair, setup: Setup):
    """The reference for the setup's config, its lazily built arrays created on the first batch."""
    layer = pair.convention.prepare(pair.reference(setup.config), pair.name)
    first = setup.decoy if setup.decoy is not None else setup.inputs
    pair.convention.run_init(layer, arguments(pair, reference_inputs(pair, first)))
    return layer


def build_reference(pair: Pair, setup: Setup, dtype, fresh: bool = False):
    """The reference with the case's values loaded; ``fresh``: the draw's own, if not yet taken."""
    layer = setup.unused_reference.pop() if fresh and setup.unused_reference else new_reference(pair, setup)
    load_into_reference(pair, setup.params, setup.values, layer, dtype)
    pair.convention.train(layer, setup.training, pair.name)
    return layer


class TorchFunction(torch.nn.Module):
    """A plain torch function (``torch.matmul``) as the module a layer's twin must be."""

    def __init__(self, function):
        super().__init__()
        self.function = function

    def forward(self, *inputs):
        return self.function(*inputs)


def as_module(twin) -> torch.nn.Module:
    return twin if isinstance(twin, torch.nn.Module) else TorchFunction(twin)


# torch.nn.init's in-place initialisers (kaiming_uniform_, zeros_, ...), which torch's modules call as init.<name>
INITIALISERS = tuple(name for name in vars(torch.nn.init) if name.endswith("_") and not name.startswith("_"))


@contextlib.contextmanager
def without_initialisation():
    """Twins built with torch's initialisers made no-ops: every floating tensor of a twin is
    then loaded from the case's draw (``synchronised`` refuses one left unmapped), so the random
    initialisation would be thrown away; it cost a fifth of a convolution's case."""
    saved = {name: getattr(torch.nn.init, name) for name in INITIALISERS}
    for name in saved:
        setattr(torch.nn.init, name, _left_as_is)
    try:
        yield
    finally:
        for name, initialiser in saved.items():
            setattr(torch.nn.init, name, initialiser)


def _left_as_is(tensor, *args, **kwargs):
    return tensor


def new_twin(pair: Pair, config: Config):
    """The pair's torch twin for ``config``, its parameters uninitialised (see above)."""
    with without_initialisation():
        return as_module(pair.torch(config))


def build_torch(pair: Pair, setup: Setup, dtype: torch.dtype, device: str = "cpu", module=None):
    """The twin in ``dtype`` with the case's values; ``module``: one just built from
    ``setup.config`` and not yet run, used instead of building another."""
    module = new_twin(pair, setup.config) if module is None else module  # not `or`: a Sequential has a length
    module = module.to(device=device, dtype=dtype).train(setup.training)
    load_into_torch(setup.params, setup.values, module)
    tensors = _torch_tensors(module)
    with torch.no_grad():
        for name in pair.held_at_zero:
            tensors[name].zero_()
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
    """The case's draw (see ``judged_draw``)."""
    return judged_draw(case, values)[0]


def judged_draw(case: Case, values: dict[str, np.ndarray] | None = None) -> tuple[Setup, dict | None]:
    """The case's draw and the float64 judge's results on it (None for a function): the
    judge's forward fixes the shapes of the upstream gradients it then runs backward with.

    The draw keeps away from ReLU kinks: a float32 pre-activation within rounding of zero
    can fall on the other side in the reference than in torch, and a flipped unit changes
    whole channels downstream (BatchNorm couples them). Such a draw is replaced by the next
    one from the same seed, so every case still reproduces from its id alone.

    ``values`` (torch layout) replaces the drawn parameters and state."""
    for attempt in range(KINK_ATTEMPTS):
        setup, judge, margin = _draw_setup(case, attempt, values)
        if case.dtype != "float32" or margin >= KINK_MARGIN:
            return setup, judge
    raise HarnessError(f"{case.id}: no draw in {KINK_ATTEMPTS} kept every ReLU input {KINK_MARGIN:g} away from 0")


def decoy_config(pair: Pair, config: Config) -> Config:
    """The decoy batch's configuration: the batch size (``pair.batch``) one more."""
    size = getattr(config, pair.batch, None) if pair.batch else None
    if not isinstance(size, int):
        return config
    return Config(**(vars(config) | {pair.batch: size + 1}))


def _draw(pair: Pair, config, rng, dtype) -> dict[str, np.ndarray]:
    return {name: make(config, rng, dtype) for name, make in zip(pair.input_names, pair.inputs, strict=True)}


def _draw_setup(case: Case, attempt: int, given: dict[str, np.ndarray] | None) -> tuple[Setup, dict | None, float]:
    """Draw inputs, parameters and state, the decoy batch, then run the judge, drawing the
    upstream gradients once its forward gives their shapes; the draw's ReLU margin."""
    pair, config, dtype = case.pair, case.config, np.dtype(case.dtype)
    rng = np.random.default_rng(case_seed(case) if attempt == 0 else [case_seed(case), attempt])
    inputs = _draw(pair, config, rng, dtype)
    training = is_training(config)
    built = factory_config(case)
    if not pair.is_layer:
        return Setup(built, inputs, [], {}, training), None, np.inf
    # layers are reused across batches: a value cached by the first forward must not leak, nor a
    # scratch array sized by the first batch (the decoy has one sample more where it can)
    # (a first use in another dtype keeps the batch size: a scratch of the same shape must not keep its dtype)
    # The decoy is drawn from a stream of its own, spawned: the upstream gradients, drawn once the
    # judge's forward gives their shapes, stay the draws that follow the parameters'
    decoy = _draw(pair, config if case.first_dtype else decoy_config(pair, config), rng.spawn(1)[0], dtype)
    setup = Setup(built, inputs, [], {}, training, decoy=decoy)
    with raised_by(TORCH_SIDE):
        module = new_twin(pair, built)
    with raised_by(REFERENCE_SIDE):
        layer = new_reference(pair, setup)
    setup.params = params = synchronised(pair, layer, module)
    setup.unused_reference.append(layer)
    buffers = {name for name, _ in module.named_buffers()}
    tensors = torch_arrays(module)
    setup.values = {p.reference: (p.draw(rng, tuple(tensors[p.torch].shape)) if given is None else given[p.reference])
                    .astype(dtype) for p in params}
    setup.state = frozenset(p.reference for p in params if p.torch in buffers)
    setup.differentiated = pair.differentiated(inputs)
    watch = ReluWatch()  # float32 draws alone keep away from the kinks

    def draw_upstream(outputs: dict) -> None:
        setup.output_shapes = {name: tuple(t.shape) for name, t in outputs.items()}
        setup.upstream = {name: rng.standard_normal(setup.output_shapes[name]).astype(dtype)
                          for name in pair.differentiable_outputs}

    with raised_by(TORCH_SIDE):
        judge = run_torch(pair, setup, torch.float64, case.device, module=module,
                          watch=watch if case.dtype == "float32" else None, on_forward=draw_upstream)
    return setup, judge, watch.margin


def reference_forward(pair: Pair, config: Config, given: list, training: bool):
    """A fresh reference, built from ``config`` (its lazy arrays on ``given``), run forward once."""
    if not pair.is_layer:
        return pair.reference(config)(*given)
    layer = pair.convention.prepare(pair.reference(config), pair.name)
    pair.convention.run_init(layer, given)
    pair.convention.train(layer, training, pair.name)
    return pair.convention.forward(layer, given, training)


def reference_refusal(case: Case) -> str | None:
    """What the reference raises when built and run forward on the case's inputs, or None
    where it accepts them (asked when torch refuses the configuration)."""
    pair = case.pair
    inputs = _draw(pair, case.config, np.random.default_rng(case_seed(case)), np.dtype(case.dtype))
    try:
        reference_forward(pair, factory_config(case), arguments(pair, reference_inputs(pair, inputs)),
                          is_training(case.config))
    except DeclarationError:
        raise
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    return None


def torch_refusal(case: Case) -> str | None:
    """What the torch twin raises when built and run forward on the case's inputs, or None."""
    pair = case.pair
    inputs = _draw(pair, case.config, np.random.default_rng(case_seed(case)), np.dtype(case.dtype))
    working = {name: _to_torch(x, torch.float64, case.device) for name, x in inputs.items()}
    try:
        with torch.no_grad():
            twin = pair.torch(factory_config(case))
            if pair.is_layer:
                twin = as_module(twin).double().train(is_training(case.config))
            twin(*arguments(pair, working))
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    return None


def run_torch(pair: Pair, setup: Setup, dtype: torch.dtype, device: str = "cpu", module=None, watch=None,
              on_forward=None) -> dict[Key, np.ndarray | str]:
    """The twin's results in ``dtype``: built (``module``: one just built from the setup's
    config and not yet run), then forward on the decoy batch where that can change what it does
    next (its buffers, a seeded pair's generators: a torch module keeps nothing else from one
    call to the next), forward on the case's inputs
    (inside the context ``watch``, if given) and backward with the setup's upstream gradients
    (``on_forward(outputs)`` draws them first, if given). A run that draws from torch's global
    generators gives a finding instead (a ``twin`` key): randomness the pair does not share."""
    if not pair.is_layer:  # the modules a function builds are loaded before use, as a twin's are
        with generators_drawn_from(device) as drawn, without_initialisation():
            results = run_function(pair, pair.torch(setup.config), setup.inputs, dtype, device)
    else:
        module = build_torch(pair, setup, dtype, device, module)  # a twin may draw its own parameters: not watched
        with generators_drawn_from(device) as drawn:
            if pair.seeded or next(module.buffers(), None) is not None:  # all a decoy can change in a twin
                with torch.no_grad():
                    module(*arguments(pair, {n: _to_torch(x, dtype, device) for n, x in setup.decoy.items()}))
            with watch or contextlib.nullcontext():
                outputs, working = torch_forward(pair, module, setup.inputs, dtype, device, setup.differentiated)
            if on_forward is not None:
                on_forward(outputs)
            results = torch_backward(pair, module, setup, outputs, working)
    if drawn:
        return {Key(TWIN, "global generator"): (
            f"the torch twin draws from {' and '.join(drawn)}: randomness the pair does not share, so no reference "
            "can match it. Hand both sides the noise as a constant input, or declare seeded=True and draw from "
            "generators made from config.seed")}
    return results


@contextlib.contextmanager
def generators_drawn_from(device: str = "cpu"):
    """Torch's global generators (the CPU's; each GPU's once CUDA is in use, or the run is on
    one) watched: the list yielded names, on exit, those the block drew from; their states are
    put back. (A second run with other seeds would find the draws too, at the cost of a run.)"""
    generators = [("torch's global generator", torch.default_generator)]
    if device != "cpu" or torch.cuda.is_initialized():
        torch.cuda.init()  # a function's first run on the GPU initialises CUDA inside the block otherwise
        generators += [(f"torch's cuda:{i} generator", torch.cuda.default_generators[i])
                       for i in range(torch.cuda.device_count())]
    states = [generator.get_state() for _, generator in generators]
    drawn: list[str] = []
    try:
        yield drawn
    finally:
        for (name, generator), state in zip(generators, states, strict=True):
            if not torch.equal(generator.get_state(), state):
                drawn.append(name)
                generator.set_state(state)


DECOY_UPSTREAM = np.random.default_rng(0).standard_normal(997)  # a prime length: no period of a small shape


def run_decoy(pair: Pair, layer, setup: Setup, dtype=None) -> dict[str, np.ndarray]:
    """Forward and backward on the decoy batch (cast to ``dtype``), with upstream gradients of
    the shapes the reference returns: the decoy's batch size is not the case's. State is put
    back as the forward left it (torch's decoy runs forward alone): a backward that changes it
    is reported once, as the side effect of the case's own call. What it handed out, the
    arrays themselves: the outputs and the input gradients, named as side effects name them."""
    decoy = setup.decoy if dtype is None else {n: x.astype(dtype) if x.dtype.kind == "f" else x
                                               for n, x in setup.decoy.items()}
    convention = pair.convention
    convention.run_clear(layer)
    outputs = _outputs(pair, convention.forward(layer, arguments(pair, reference_inputs(pair, decoy)), setup.training),
                       f"the reference's {type(layer).__name__}.forward")
    state = _snapshot({name: convention.read(layer, name) for name in setup.state})
    # any fixed values: what the decoy's backward gives is not judged
    upstreams = {name: np.resize(DECOY_UPSTREAM, np.shape(outputs[name])).astype(outputs[name].dtype)
                 for name in pair.differentiable_outputs}
    grads = convention.backward(layer, pair.backward, upstream_arguments(pair, upstreams), setup.differentiated,
                                pair.input_names)
    if state:  # as the forward left it, in the dtype it had
        convention.load(layer, state, next(iter(state.values())).dtype)
    return {str(Key(OUTPUT, name)): value for name, value in outputs.items()} | {
        f"grad {name}": grad for name, grad in zip(setup.differentiated, grads, strict=True)}


def run_reference(pair: Pair, setup: Setup, dtype, first_dtype=None) -> dict[Key, np.ndarray | str]:
    """The reference's results, each in its own layout. A layer runs forward and backward on the
    decoy batch first (in ``first_dtype``, if given, its arrays then cast to the case's)."""
    if not pair.is_layer:
        return run_function(pair, pair.reference(setup.config), setup.inputs)
    layer = build_reference(pair, setup, first_dtype or dtype, fresh=True)
    # the next call after the decoy's is the case's: what the decoy handed out must not change in it
    handed_out = run_decoy(pair, layer, setup, first_dtype)
    handed_values = _snapshot(handed_out)
    # the case's parameters again, in its dtype (a backward that moves them is reported once, as the
    # side effect of the case's own call); state as the decoy left it, as torch's
    values = {p.reference: np.array(pair.convention.read(layer, p.reference)) if p.reference in setup.state
              else p.layout.to_reference(setup.values[p.reference]) for p in setup.params}
    pair.convention.load(layer, values, dtype)
    return run_reference_layer(pair, layer, setup, (handed_out, handed_values))


def layouts(pair: Pair, setup: Setup) -> dict[Key, Layout]:
    """How the reference stores each checked tensor."""
    found = {Key(OUTPUT, name): Layout(pair.output_layout) for name in pair.output_names}
    found |= {Key(GRAD_INPUT, name): pair.input_layout(pair.input_names.index(name)) for name in setup.differentiated}
    for p in setup.params:
        found[Key(STATE if p.reference in setup.state else GRAD_PARAM, p.reference)] = p.layout
    return found


def twin_disagreement(first: dict[Key, np.ndarray], second: dict[Key, np.ndarray]) -> list[str]:
    """The tensors two float64 runs of the twin on the same draw give differently (beyond
    float64 rounding: a GPU's atomics may reorder sums)."""
    differ = []
    for key, a in first.items():
        b = second[key]
        if a.shape != b.shape or a.dtype != b.dtype:
            differ.append(f"{key} ({a.shape} then {b.shape})")
            continue
        floating = a.dtype.kind == "f"
        if _equal(a, b):  # a CPU's runs agree to the bit
            continue
        if floating and np.allclose(a, b, rtol=1e-12, atol=1e-12 * float(np.max(np.abs(a))), equal_nan=True):
            continue
        gap = float(np.max(np.abs(a.astype(np.float64) - b), initial=0.0)) if a.size else 0.0
        differ.append(f"{key} (max abs difference {gap:.3g})")
    return differ


def run_case(case: Case, setup: Setup | None = None, judge: dict | None = None) -> list[Compared]:
    """Every tensor of the case on the reference and the float64 judge (``judge``: its results
    on ``setup`` when already run, ``judged_draw``). A twin must draw nothing from torch's
    global generators. A float64 case's twin is its judge; in another dtype the twin runs only
    where a verdict needs its error (``with_twin``), and whether it agrees with itself is asked
    where a verdict depends on it (``twin_self_check``)."""
    if setup is None:
        setup, judge = judged_draw(case)
    pair = case.pair
    judge = run_judge(case, setup) if judge is None else judge
    if found := judge.get(Key(TWIN, "global generator")):
        return [Compared.finding(Key(TWIN, "global generator"), found)]
    with raised_by(REFERENCE_SIDE):
        ref = run_reference(pair, setup, np.dtype(case.dtype), case.first_dtype and np.dtype(case.first_dtype))
    stored = layouts(pair, setup)
    exact = {Key(OUTPUT, name) for name in pair.exact}
    missing = [Compared.finding(key, f"{key}: the reference gives no such tensor") for key in judge if key not in ref]
    return missing + [
        Compared.finding(key, f"side effect: {value}")
        if key.kind == SIDE_EFFECT
        else Compared(key, value, judge[key] if case.dtype == "float64" else None, judge[key],
                      stored.get(key, IDENTITY), exact=key in exact or np.asarray(judge[key]).dtype.kind in "biu")
        for key, value in ref.items()]


def with_twin(case: Case, setup: Setup, checks: list[Compared]) -> list[Compared]:
    """The checks with the twin's results in the case's dtype, run now; or its one finding, if
    it draws from torch's global generators."""
    with raised_by(TORCH_SIDE):
        twin = run_torch(case.pair, setup, getattr(torch, case.dtype), case.device)
    if found := twin.get(Key(TWIN, "global generator")):
        return [Compared.finding(Key(TWIN, "global generator"), found)]
    return [dataclasses.replace(check, torch=twin[check.key]) if check.torch is None else check for check in checks]


def run_judge(case: Case, setup: Setup) -> dict[Key, np.ndarray | str]:
    """The float64 judge's results on ``setup`` (``judged_draw`` runs it on its own draw)."""
    with raised_by(TORCH_SIDE):
        return run_torch(case.pair, setup, torch.float64, case.device)


def twin_self_check(case: Case, setup: Setup, judge: dict[Key, np.ndarray]) -> Compared | None:
    """The twin run a second time in float64 on the same draw; a finding (a ``twin`` key) if
    the two runs disagree: the twin draws randomness the pair does not share (an unseeded
    generator of its own), so its float32 error against the judge is noise, and a tolerance
    widened by it, or a failure, says nothing of the reference. None when they agree."""
    pair = case.pair
    with raised_by(TORCH_SIDE):
        again = run_torch(pair, setup, torch.float64, case.device)
    if found := again.get(Key(TWIN, "global generator")):  # drawn this time only
        return Compared.finding(Key(TWIN, "global generator"), found)
    differ = twin_disagreement(judge, again)
    if not differ:
        return None
    return Compared.finding(Key(TWIN, "same draw"), (
        f"the torch twin disagrees with itself: two float64 runs on the same draw differ in "
        f"{'; '.join(differ)}. It draws randomness the pair does not share: " + (
            "draw every random value from generators made from config.seed" if pair.seeded else
            "hand both sides the noise as a constant input, or declare seeded=True and draw from generators "
            "made from config.seed")))


# -- finite differences: the third judge -------------------------------------------------


def finite_difference(case: Case, setup: Setup, key: Key, indices, eps: float = FD_STEP):
    """Central differences, in float64, of L = sum over the differentiable outputs of
    (reference output * its upstream) with respect to the tensor behind ``key`` (an input or
    a parameter), at ``indices`` (in torch's layout). A seeded pair's reference runs the decoy
    batch first, as in the case, so it draws the same noise."""
    pair = case.pair
    setup = setup.astype(np.float64)
    output_layout = Layout(pair.output_layout)

    def loss(shift_index, shift) -> float:
        inputs = {k: x.copy() for k, x in setup.inputs.items()}
        values = {k: v.copy() for k, v in setup.values.items()}
        (inputs if key.kind == GRAD_INPUT else values)[key.tensor][shift_index] += shift
        shifted = dataclasses.replace(setup, inputs=inputs, values=values)
        layer = build_reference(pair, shifted, np.float64)
        if pair.seeded:
            run_decoy(pair, layer, setup)
        pair.convention.run_clear(layer)
        outputs = _outputs(pair, pair.convention.forward(layer, arguments(pair, reference_inputs(pair, inputs)),
                                                         setup.training), "the reference")
        return float(sum(np.sum(output_layout.to_torch(np.asarray(outputs[name]), g.shape) * g)
                         for name, g in setup.upstream.items()))

    return np.array([(loss(i, eps) - loss(i, -eps)) / (2 * eps) for i in indices])
