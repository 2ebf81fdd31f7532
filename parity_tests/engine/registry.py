"""What a layer pair is: a declaration the generic harness runs.

A ``Pair`` names the reference factory, the torch factory, how their parameters map onto
each other, how to make inputs, and the grid of configurations. ``PAIRS`` (in
``parity_tests.suite.pairs``) lists every pair; every check of the suite iterates over it.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import numpy as np

from parity_tests.engine import structure
from parity_tests.engine.conventions import Convention, NamedArrays
from parity_tests.engine.layouts import DeclarationError, Layout
from parity_tests.engine.structure import Structure
from parity_tests.engine.tolerances import Tolerance


@dataclass(frozen=True)
class Param:
    """One reference array (parameter or state) and its torch twin.

    ``reference`` is the name the pair's convention finds the array under (dotted for a
    sub-layer's); ``torch`` a dotted name of ``named_parameters()`` / ``named_buffers()``.
    ``permute`` and ``shape`` declare how the reference stores it (see ``layouts``): Linear's
    W is (in, out), ``permute=(1, 0)``; a bias stored (1, 1, 1, out), ``shape=(1, 1, 1, -1)``.
    ``optional`` arrays may be absent on both sides (a layer built without bias); any other
    name missing on either side is an error.

    ``gates=(torch's order, the reference's)`` maps part of a gate-packed torch tensor. Torch
    stacks an LSTM's gates along dimension 0 (``weight_ih_l0`` is (4H, D), gates i, f, g, o):
    ``gates=("ifgo", "f")`` is the forget gate's (H, D) block alone, so a reference keeping
    ``Wi, Wf, Wg, Wo`` apart declares four Params on one torch tensor; ``gates=("ifgo", "ifog")``
    is every block in the reference's own packing order. ``permute`` and ``shape`` then apply
    to that part. Every block of a gated tensor must be mapped exactly once.

    The harness draws every mapped array afresh for each case, in torch's layout: weights
    (2-D and more) from N(0, 1 / fan_in), fan_in being the product of the trailing
    dimensions as in torch's own initialisers, so activations stay O(1) through deep blocks;
    vectors (biases, gamma, beta, running means) from N(0, 1); ``positive`` arrays (running
    variances) from U[0.5, 2).
    """

    reference: str
    torch: str
    permute: tuple[int, ...] | None = None
    shape: tuple[int, ...] | None = None
    positive: bool = False
    optional: bool = False
    gates: tuple[str, str] | None = None

    def __post_init__(self):
        if self.gates is None:
            return
        what = f"Param({self.reference!r}, {self.torch!r}, gates={self.gates!r})"
        if not (isinstance(self.gates, tuple) and len(self.gates) == 2 and all(isinstance(g, str) for g in self.gates)):
            raise DeclarationError(f"{what}: expected (torch's gate order, the reference's gates), e.g. "
                                   "(\"ifgo\", \"f\")")
        order, held = self.gates
        if len(set(order)) != len(order) or len(set(held)) != len(held) or not held:
            raise DeclarationError(f"{what}: each gate letter once on each side, at least one held")
        if unknown := [g for g in held if g not in order]:
            raise DeclarationError(f"{what}: gates {unknown} are not in torch's order {order!r}")

    @property
    def layout(self) -> Layout:
        return Layout(self.permute, self.shape)

    def __str__(self) -> str:
        gates = "" if self.gates is None else f" gates {self.gates[1]} of {self.gates[0]}"
        return f"{self.reference} <- {self.torch}{gates}" + ("" if self.layout.identity else f" ({self.layout})")

    def rows(self, torch_shape: tuple[int, ...]) -> list[int]:
        """The rows (dimension 0) of torch's tensor a gated array holds, in the reference's order."""
        order, held = self.gates
        if not torch_shape or torch_shape[0] % len(order):
            raise DeclarationError(f"Param({self.reference!r}, {self.torch!r}): torch's {self.torch} of shape "
                                   f"{torch_shape} does not split into the {len(order)} gates {order!r} along "
                                   "dimension 0")
        size = torch_shape[0] // len(order)
        return [order.index(g) * size + row for g in held for row in range(size)]

    def part_shape(self, torch_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The shape of this array in torch's layout: the whole tensor, or its gates' rows."""
        return torch_shape if self.gates is None else (len(self.rows(torch_shape)), *torch_shape[1:])

    def part(self, tensor):
        """This array's part of torch's tensor (NumPy or torch), a copy where gates pick rows."""
        return tensor if self.gates is None else tensor[self.rows(tuple(tensor.shape))]

    def draw(self, rng: np.random.Generator, torch_shape: tuple) -> np.ndarray:
        """Values for this array in torch's layout, for torch's tensor of ``torch_shape``."""
        torch_shape = self.part_shape(torch_shape)
        if self.positive:
            return rng.uniform(0.5, 2.0, torch_shape)
        fan_in = int(np.prod(torch_shape[1:]))
        return rng.standard_normal(torch_shape) / np.sqrt(fan_in)


def nested(reference_prefix: str, torch_prefix: str, params: tuple[Param, ...]) -> tuple[Param, ...]:
    """The mapping of a sub-layer, moved under a prefix on each side."""
    return tuple(
        dataclasses.replace(p, reference=f"{reference_prefix}.{p.reference}", torch=f"{torch_prefix}.{p.torch}")
        for p in params
    )


class Config(SimpleNamespace):
    """One point of a pair's grid: attributes for the factories and input makers, and ``id``."""


@dataclass(frozen=True)
class Grid:
    """How a pair's configurations are made: axes combined, axes derived from the others, and
    a constraint; fuzzing recombines the axes and keeps the same rules."""

    id_format: str | Callable[[Config], str]
    axes: dict[str, tuple]  # combined: every value with every other axis's
    derived: dict[str, Callable[[Config], Any]]  # computed from the combined axes
    where: Callable[[Config], bool] | None = None

    def build(self, values: dict) -> Config | None:
        """The configuration of one combination, or None where ``where`` rejects it."""
        config = type("GridConfig", (Config,), {"grid": self})(**values)
        for name, derive in self.derived.items():
            setattr(config, name, derive(config))
        if self.where is not None and not self.where(config):
            return None
        config.id = self.id_format(config) if callable(self.id_format) else self.id_format.format(**vars(config))
        return config

    def configs(self) -> tuple[Config, ...]:
        combinations = itertools.product(*self.axes.values())
        built = (self.build(dict(zip(self.axes, values, strict=True))) for values in combinations)
        return tuple(config for config in built if config is not None)


def grid(id_format: str | Callable[[Config], str], where: Callable[[Config], bool] | None = None,
         **axes) -> tuple[Config, ...]:
    """Every combination of ``axes`` that ``where(config)`` accepts (a configuration torch
    refuses is better left out than run as a refusal); an axis given as a function of the
    configuration is derived from the others, not combined: ``grid(..., k=[2, 3], p=lambda c:
    c.k // 2)``. ``id_format`` is a ``str.format`` pattern or a function."""
    combined = {name: tuple(values) for name, values in axes.items() if not callable(values)}
    derived = {name: values for name, values in axes.items() if callable(values)}
    configs = Grid(id_format, combined, derived, where).configs()
    if not configs:
        raise DeclarationError(f"grid {id_format!r}: the constraint leaves no configuration")
    return configs


# -- input makers: (config, rng, dtype) -> array; a dimension is an int or a config key ----


def shape_of(config: Config, dims) -> tuple[int, ...]:
    """The shape ``dims`` names for ``config``: an int is a size, a key a config attribute; a
    key whose value is a tuple is spliced in (a whole shape), one whose value is None is left
    out (a vector instead of a matrix). For input makers of one's own."""
    shape = []
    for dim in dims:
        value = getattr(config, dim) if isinstance(dim, str) else dim
        if isinstance(value, tuple):
            shape.extend(value)
        elif value is not None:
            shape.append(value)
    return tuple(shape)


# Input distributions: real activations are not zero-mean with unit spread. A case's
# ``config.distribution`` names one; an input maker that declares it draws from it, any
# other input of the case stays standard. With z ~ N(0, 1) and the maker's scale s:
DISTRIBUTIONS = {
    "standard": "s z",
    "offset": "100 + s z: a mean far above the spread, as after a ReLU or for raw pixels",
    "wide": "s z 10^u, u ~ U(-2, 2): magnitudes over four orders",
    "large": "100 z: values in the hundreds, as logits and exponents reach",
}


def distributed(rng: np.random.Generator, shape: tuple, scale: float, distribution: str) -> np.ndarray:
    z = rng.standard_normal(shape)  # first, so a standard draw is the same whatever else is declared
    if distribution == "offset":
        return 100.0 + scale * z
    if distribution == "wide":
        return scale * z * 10.0 ** rng.uniform(-2, 2, shape)
    if distribution == "large":
        return 100.0 * z
    return scale * z


def input_maker(make, distributions: tuple[str, ...] = ("standard",), name: str | None = None, constant: bool = False,
                scalable: bool = True):
    """``make(config, rng, dtype) -> array`` declared as an input: the distributions it draws
    from, its name (in checks and failures: ``grad q``) and whether it is constant (a mask, a
    target, noise: never differentiated; integer and boolean inputs never are, declared or not).
    ``scalable=False`` where multiplying the values would leave their domain (probabilities):
    fuzzing scales the first input of a pair otherwise."""
    if unknown := set(distributions) - set(DISTRIBUTIONS):
        raise DeclarationError(f"unknown input distributions {sorted(unknown)}: expected some of {list(DISTRIBUTIONS)}")
    if name is not None and not name.isidentifier():
        raise DeclarationError(f"input name {name!r}: expected an identifier (x, h0, q, idx)")
    make.distributions = ("standard", *(d for d in distributions if d != "standard"))
    make.input_name, make.constant, make.scalable = name, constant, scalable
    return make


def _distribution(config: Config, make) -> str:
    wanted = getattr(config, "distribution", "standard")
    return wanted if wanted in make.distributions else "standard"


def normal(*dims, scale: float = 1.0, distributions: tuple[str, ...] = ("standard",), name: str | None = None,
           constant: bool = False):
    """Normal values of the shape ``dims`` names, from the case's distribution where this
    input declares it (see DISTRIBUTIONS)."""

    def make(config, rng, dtype):
        return np.asarray(distributed(rng, shape_of(config, dims), scale, _distribution(config, make)), dtype=dtype)

    return input_maker(make, distributions, name, constant)


def normal_or_tied(*dims, distributions: tuple[str, ...] = ("standard",), name: str | None = None,
                   constant: bool = False):
    """Normal values, or with ``config.ties`` small integers (as floats): many equal values,
    so a max must break ties the way torch does. An offset moves the integers, ties and all."""

    def make(config, rng, dtype):
        if getattr(config, "ties", False):
            offset = 100.0 if _distribution(config, make) == "offset" else 0.0
            return (offset + rng.integers(-2, 3, shape_of(config, dims))).astype(dtype)
        return np.asarray(distributed(rng, shape_of(config, dims), 1.0, _distribution(config, make)), dtype=dtype)

    return input_maker(make, distributions, name, constant)


def probabilities(*dims, name: str | None = None, constant: bool = False):
    """Rows on the simplex (a softmax of normal logits), the last axis summing to one.

    With ``config.saturated``, about a quarter of the entries are exactly 0 and the first is
    exactly 1: the values a loss must clip. The last row stays untouched, so some gradient
    always flows and the case is never vacuous.
    """

    def make(config, rng, dtype):
        logits = rng.standard_normal(shape_of(config, dims))
        exp = np.exp(logits - logits.max(axis=-1, keepdims=True))
        rows = exp / exp.sum(axis=-1, keepdims=True)
        if getattr(config, "saturated", False):
            zeroed = rng.random(rows.shape) < 1 / 4
            zeroed[-1] = False
            rows[zeroed] = 0.0
            rows.flat[0] = 1.0
        return rows.astype(dtype)

    return input_maker(make, name=name, constant=constant, scalable=False)


def integers(high, *dims, name: str | None = None):
    """Integers in [0, high): class indices (high a config key) or binary labels (2)."""

    def make(config, rng, dtype):
        upper = getattr(config, high) if isinstance(high, str) else high
        return rng.integers(0, upper, shape_of(config, dims))

    return input_maker(make, name=name)


def bernoulli(*dims, p: str | float, name: str | None = None, first: bool | None = None):
    """A boolean mask, True with probability ``p`` (a config key or a number): a keep-mask
    both sides are handed (noise shared by declaration), an attention mask. ``first`` fixes
    the first entry of the last axis (a key every query sees, so no row is masked whole)."""

    def make(config, rng, dtype):
        chance = getattr(config, p) if isinstance(p, str) else p
        mask = rng.random(shape_of(config, dims)) < chance
        if first is not None:
            mask[..., 0] = first
        return mask

    return input_maker(make, name=name)


def targets(n: str, classes: str, name: str | None = "target"):
    """Cross-entropy targets in the form ``config.target`` names: integer ``classes``,
    ``onehot`` rows or ``probs`` rows."""

    def make(config, rng, dtype):
        labels = integers(classes, n)(config, rng, dtype)
        if config.target == "classes":
            return labels
        if config.target == "onehot":
            return np.eye(getattr(config, classes), dtype=dtype)[labels]
        return probabilities(n, classes)(config, rng, dtype)

    return input_maker(make, name=name, constant=True)


@dataclass(frozen=True)
class BadInput:
    """What a layer refuses, as the generic bad-input tests ask it: an input with one axis too
    many, integers where it takes floats, a wrong channel count (axis 1); and the name its
    error messages start with (a part's, where a part refuses: ``SEBlock`` in ``SEBlockTwice``)."""

    wrong_ndim: bool = True  # False: any number of axes (element-wise layers, leading axes)
    integers: bool = True  # False: integers are welcome (pixel values, indices)
    channels: bool = False
    named: str | None = None  # the pair's name by default


@dataclass(frozen=True)
class Pair:
    """A reference layer (or function) and its torch twin, declared once.

    reference, torch: config -> a layer / module, or a function of the inputs.
    inputs:      input makers, drawing in torch's layout. Each has a name (``name=``; by
                 default ``input``, then ``input1``, ``input2``...) used in checks and
                 failures (``grad q``). Every floating input is differentiated unless
                 declared ``constant=True`` (masks, targets, noise); integer and boolean
                 inputs never are.
    arguments:   how the inputs are passed, as a structure of their names (see
                 ``structure``): ``("x", ("h0", "c0"))`` calls ``forward(x, (h0, c0))``; by
                 default each input is one argument, in order.
    params:      the parameter and state mapping (see ``Param``).
    held_at_zero: {torch name: reason}: torch tensors the reference has no array for, whose
                 value zero makes torch compute the reference's function (torch's LSTM adds
                 two biases, bias_ih + bias_hh, where a course LSTM keeps one b); loaded as
                 zeros in every case and not compared.
    convention:  where the reference keeps parameters, gradients and state, and how it
                 runs (see ``conventions``); this suite's own ``NamedArrays()`` by default.
    input_layouts, output_layout: permutations (see ``layouts.axes``) for a reference that
                 takes its inputs or gives its output in another layout than torch (NHWC
                 against NCHW); one entry per input, None where the layouts agree.
    backward:    the reference method that computes the input gradients; None for
                 forward-only functions, which are compared on their outputs alone.
    outputs:     the structure of names of what forward returns: ``"output"``, a tuple of
                 several, nested as the layer nests them (``("out", ("hT", "cT"))``).
    exact:       outputs compared exactly, with no upstream gradient (indices, counts).
    upstream:    how the reference's backward receives the upstream gradients of several
                 outputs: ``"arguments"`` (one argument per top-level output, nested as it
                 is) or ``"tuple"`` (one argument, shaped as the outputs).
    seeded:      the pair draws randomness: both factories get ``config.seed``, one integer
                 per case, and every random draw on either side must come from generators
                 made from it, none from torch's global generators (the twin is run twice
                 on the same draw and must agree).
    sampling:    a statistical check of the reference's own randomness (see ``sampling``).
    structural_zeros: {tensor: reason}, or config -> that dict: checks that are zero for a
                 declared reason (one RNN step from h = 0 has dW_hh = 0); they pass when
                 the reference's is zero too. Undeclared, a zero expected tensor fails.
    batch:       the config key of the batch size: the decoy batch has one sample more, so a
                 scratch array sized by the first call shows; None where it cannot change.
    dtypes:      the dtypes the pair runs in (a float64-only layer: ("float64",)).
    bad_input:   what the layer refuses (see ``BadInput``), for the generic bad-input tests.
    deviations:  {tensor: reason}, or config -> that dict: a known difference from torch (a
                 biased running variance), judged as expected to differ; it fails once the
                 tensor matches, so a stale declaration does not linger.
    differentiable: False where the twin's outputs are not differentiable functions of its
                 inputs (a training loop returns detached results), so gradcheck has nothing
                 to check.
    tolerances:  per-dtype overrides of ``tolerances.DEFAULT``; each carries its reason.
    """

    name: str
    reference: Callable[[Config], Any]
    torch: Callable[[Config], Any]
    inputs: tuple[Callable, ...]
    configs: tuple[Config, ...]
    params: tuple[Param, ...] = ()
    held_at_zero: dict[str, str] = field(default_factory=dict)
    convention: Convention = NamedArrays()
    input_layouts: tuple[tuple[int, ...] | None, ...] = ()
    output_layout: tuple[int, ...] | None = None
    backward: str | None = "backward"
    outputs: Structure = "output"
    arguments: Structure | None = None
    exact: tuple[str, ...] = ()
    upstream: str = "arguments"
    seeded: bool = False
    sampling: Any = None
    structural_zeros: dict[str, str] | Callable[[Config], dict[str, str]] = field(default_factory=dict)
    batch: str | None = "N"
    dtypes: tuple[str, ...] = ("float32", "float64")
    bad_input: BadInput = BadInput()
    deviations: dict[str, str] | Callable[[Config], dict[str, str]] = field(default_factory=dict)
    differentiable: bool = True
    tolerances: dict[str, Tolerance] = field(default_factory=dict)

    def __post_init__(self):
        ids = [c.id for c in self.configs]
        duplicates = {i for i in ids if ids.count(i) > 1}
        if duplicates:
            raise ValueError(f"pair {self.name}: duplicate config ids {sorted(duplicates)}")
        for dtype, tolerance in self.tolerances.items():
            if not tolerance.reason:
                raise ValueError(f"pair {self.name}: the {dtype} tolerance override needs a reason")
        if len(self.input_layouts) > len(self.inputs):
            raise DeclarationError(f"pair {self.name}: {len(self.input_layouts)} input layouts declared for "
                                   f"{len(self.inputs)} input(s)")
        names = [p.reference for p in self.params]
        if repeated := sorted({n for n in names if names.count(n) > 1}):
            raise DeclarationError(f"pair {self.name}: reference names mapped twice: {repeated}")
        self._check_names(names)
        if unreasoned := sorted(name for name, reason in self.held_at_zero.items() if not reason):
            raise DeclarationError(f"pair {self.name}: held_at_zero {unreasoned} need a reason")
        if mapped := sorted(set(self.held_at_zero) & {p.torch for p in self.params}):
            raise DeclarationError(f"pair {self.name}: {mapped} are both mapped by a Param and held at zero")
        if unknown := sorted(set(self.dtypes) - {"float32", "float64"}):
            raise DeclarationError(f"pair {self.name}: dtypes {unknown}: expected float32 and/or float64")
        if self.upstream not in ("arguments", "tuple"):
            raise DeclarationError(f"pair {self.name}: upstream={self.upstream!r}: expected 'arguments' or 'tuple'")

    def _check_names(self, params: list[str]) -> None:
        inputs, outputs = list(self.input_names), list(structure.names(self.outputs))
        for what, found in (("inputs", inputs), ("outputs", outputs)):
            if repeated := sorted({n for n in found if found.count(n) > 1}):
                raise DeclarationError(f"pair {self.name}: {what} named twice: {repeated}")
        if clash := sorted(set(inputs) & set(params)):
            raise DeclarationError(f"pair {self.name}: {clash} name both an input and a parameter: the gradient "
                                   "checks would share a name; rename the input (name=...)")
        if self.arguments is not None and sorted(structure.names(self.arguments)) != sorted(inputs):
            raise DeclarationError(f"pair {self.name}: arguments {structure.show(self.arguments)} must name every "
                                   f"input once: the inputs are {', '.join(inputs)}")
        if unknown := sorted(set(self.exact) - set(outputs)):
            raise DeclarationError(f"pair {self.name}: exact outputs {unknown} are not among the outputs "
                                   f"{structure.show(self.outputs)}")

    @functools.cached_property  # asked for many times a case; a Pair does not change
    def input_names(self) -> tuple[str, ...]:
        return tuple(getattr(make, "input_name", None) or ("input" if i == 0 else f"input{i}")
                     for i, make in enumerate(self.inputs))

    @functools.cached_property
    def call_structure(self) -> Structure:
        return self.arguments if self.arguments is not None else self.input_names

    @functools.cached_property
    def output_names(self) -> tuple[str, ...]:
        return structure.names(self.outputs)

    @functools.cached_property
    def differentiable_outputs(self) -> tuple[str, ...]:
        return tuple(n for n in self.output_names if n not in self.exact)

    def differentiated(self, inputs: dict[str, np.ndarray]) -> tuple[str, ...]:
        """The inputs whose gradients a layer's case judges: floating, not declared constant."""
        if not self.is_layer:
            return ()
        constant = {name for name, make in zip(self.input_names, self.inputs, strict=True)
                    if getattr(make, "constant", False)}
        return tuple(n for n, x in inputs.items() if n not in constant and np.issubdtype(x.dtype, np.floating))

    def zeros_declared(self, config: Config) -> dict[str, str]:
        return self.structural_zeros(config) if callable(self.structural_zeros) else dict(self.structural_zeros)

    def deviations_declared(self, config: Config) -> dict[str, str]:
        return self.deviations(config) if callable(self.deviations) else dict(self.deviations)

    def input_layout(self, index: int) -> Layout:
        return self._input_layouts[index]

    @functools.cached_property
    def _input_layouts(self) -> tuple[Layout, ...]:
        return tuple(Layout(self.input_layouts[i] if i < len(self.input_layouts) else None)
                     for i in range(len(self.inputs)))

    @property
    def is_layer(self) -> bool:
        return self.backward is not None

    @property
    def distributions(self) -> tuple[str, ...]:
        """Every input distribution some input of the pair declares, standard first."""
        declared = {d for make in self.inputs for d in getattr(make, "distributions", ("standard",))}
        return tuple(d for d in DISTRIBUTIONS if d in declared)


@dataclass(frozen=True)
class Case:
    """One test case: a pair at one config, dtype, seed index and torch device."""

    pair: Pair
    config: Config
    dtype: str
    seed_index: int
    device: str = "cpu"
    nodeid: str | None = None  # the pytest node that runs it, for the re-run line
    first_dtype: str | None = None  # the dtype the reference is first used in, before the case's

    @property
    def id(self) -> str:
        device = "" if self.device == "cpu" else f"-{self.device}"
        first = f"-after-{self.first_dtype}" if self.first_dtype else ""
        return f"{self.pair.name}-{self.dtype}{first}{device}-{self.config.id}-seed{self.seed_index}"

    @property
    def seeds_needed(self) -> int:
        """The --parity-seeds that puts this case in the matrix."""
        if getattr(self.config, "distribution", "standard") == "standard":
            needed = self.seed_index + 1
        else:
            needed = 3 * (self.seed_index + 1)  # see distribution_seeds
        return max(needed, DEFAULT_SEEDS + 1) if sweep_only(self.config) else needed


DEFAULT_SEEDS = 3  # seeds per configuration in the default matrix; more make a sweep


def sweep_only(config: Config) -> bool:
    """A configuration declared ``sweep_only=True`` (a 64-step sequence) runs only in a sweep,
    with more seeds than the default: the default matrix stays fast, the sweep reaches it."""
    return bool(getattr(config, "sweep_only", False))


def with_distribution(config: Config, distribution: str) -> Config:
    """The configuration drawn from another input distribution; its id says which."""
    if distribution == "standard":
        return config
    return Config(**(vars(config) | {"distribution": distribution, "id": f"{config.id}-{distribution}"}))


def distribution_seeds(seeds: int) -> int:
    """Seeds of each non-standard distribution: a third of the standard ones, at least one
    (the default matrix: one), so the axis costs at most about twice the standard matrix."""
    return max(1, seeds // 3)


def cases(pairs, dtypes=("float32", "float64"), seeds: int = DEFAULT_SEEDS, devices=("cpu",)) -> list[Case]:
    """Every case of the pairs; and for each layer configuration one float32 case whose
    reference first runs in float64 (a scratch kept in the first dtype must not leak).
    Sweep-only configurations join with more than the default seeds."""
    matrix = [
        Case(pair, with_distribution(config, distribution), dtype, seed, device)
        for pair in pairs
        for dtype in dtypes if dtype in pair.dtypes
        for device in devices
        for config in pair.configs if seeds > DEFAULT_SEEDS or not sweep_only(config)
        for distribution in pair.distributions
        for seed in range(seeds if distribution == "standard" else distribution_seeds(seeds))
    ]
    if {"float32", "float64"} <= set(dtypes):
        matrix += [Case(pair, config, "float32", 0, device, first_dtype="float64")
                   for pair in pairs if pair.is_layer and {"float32", "float64"} <= set(pair.dtypes)
                   for device in devices for config in pair.configs if not sweep_only(config)]
    return matrix
