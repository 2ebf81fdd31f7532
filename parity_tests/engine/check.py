"""The one-call check, for someone without a test file:

    >>> from parity_tests import check
    >>> check(MyDense(3, 4), torch.nn.Linear(3, 4), x)

runs forward and backward with a random upstream gradient per output in float64 and in
float32, with torch's parameter values copied into the layer through the mapping, and prints
a verdict that lists every tensor judged, with the same explanation a matrix failure gives.
The inputs are given as the layer takes them, nested where it takes a tuple
(``check(cell, nn.LSTMCell(4, 5), x, (h0, c0))``): every floating input is differentiated
unless named in ``constant``, integer inputs are indices; integer outputs are compared
exactly. A plain torch function may stand for the module (``torch.matmul``).

The convention and the mapping are inferred where that is unambiguous: the convention from
the object (``named_params()``, a ``parameters`` or ``params`` dict, a ``(forward, backward)``
pair of functions, else attributes, whose gradient and result names are found by running
the layer once); each torch parameter from the reference arrays of a matching name and a
fitting shape (the same shape, a permutation of it, or the same sizes with axes of one).
Anything ambiguous is an error that lists the candidates; declare ``params=`` or
``convention=`` to settle it. A layer that returns its backward (``out, backprop = layer(x)``)
is a ``Closure``, a ``(f, vjp)`` pair whose f returns its output alone is a ``VJP``.

An autograd engine is checked over the op catalog, or over the ops named:

    >>> check(MY_ENGINE)              # every catalog entry it covers; the rest listed as not covered
    >>> check(MY_ENGINE, "matmul")    # one op, every configuration of its grid

each configuration at one seed in each of the engine's dtypes, with the same explanation a
matrix failure gives (see ``engines`` and ``ops``).
"""

from __future__ import annotations

import copy
import inspect
import itertools
from dataclasses import dataclass

import numpy as np
import torch

from parity_tests.engine import structure
from parity_tests.engine.conventions import VJP, Attributes, Closure, Convention, Dicts, Functional, NamedArrays
from parity_tests.engine.engines import Engine
from parity_tests.engine.harness import HarnessError, as_module, draw_setup, torch_arrays, torch_values
from parity_tests.engine.judge import CaseError, Verdict, judge_case
from parity_tests.engine.layouts import DeclarationError, Layout
from parity_tests.engine.registry import Case, Config, Pair, Param, cases, input_maker
from parity_tests.engine.structure import leaves

SYNONYMS = [{"w", "weight", "weights", "kernel"}, {"b", "bias", "biases", "intercept"},
            {"gamma", "weight", "scale", "scaler"}, {"beta", "bias", "shift", "intercept"},
            {"running_mean", "mean", "mu"}, {"running_var", "var", "variance"}]
GRAD_PATTERNS = ["grad_{}", "d{}", "{}_grad", "d_{}", "grad{}"]
OUTPUT_NAMES = ["output", "out", "y", "Y"]
GRAD_INPUT_NAMES = ["dinputs", "grad_input", "grad_in", "dx", "dX", "grad_x"]
STORE_NAMES = [("params", "grads"), ("parameters", "gradients")]
CLEAR_NAMES = ["zero_grads", "zero_grad"]


class CheckFailed(AssertionError):
    """A one-call check that failed: inside a test, the test fails with the verdict."""


@dataclass
class CheckResult:
    pair: Pair
    verdicts: dict[str, list[Verdict]]  # dtype -> every tensor's verdict

    @property
    def passed(self) -> bool:
        return all(v.passed for verdicts in self.verdicts.values() for v in verdicts)

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        mapping = ", ".join(str(p) for p in self.pair.params) or "no parameters"
        lines = [f"parity check of {self.pair.name}: {type(self.pair.convention).__name__} convention; {mapping}"]
        for dtype, verdicts in self.verdicts.items():
            failed = [v for v in verdicts if not v.passed]
            worst = max((v.headroom for v in verdicts if v.passed), default=0.0)
            matched = f"  {dtype}: {len(verdicts) - len(failed)} of {len(verdicts)} tensors match torch"
            if failed:
                off = [v.headroom for v in failed if np.isfinite(v.headroom)]
                how = f" (the worst {max(off):.2g} times its tolerance)" if off else ""
                lines.append(f"{matched}; failed: {', '.join(v.check for v in failed)}{how}")
            else:
                lines.append(f"{matched} ({', '.join(v.check for v in verdicts)}); the closest came to "
                             f"{worst:.2g} of its tolerance")
            lines += [f"    {v.check}: {v.note}" for v in verdicts if v.note and v.passed]
            lines += ["", *(v.message for v in failed), ""] if failed else []
        lines.append("PASSED" if self.passed else "FAILED")
        return "\n".join(lines)


def check(layer, module=None, *inputs, params: tuple[Param, ...] | None = None,
          convention: Convention | None = None, input_layout: tuple[int, ...] | None = None,
          output_layout: tuple[int, ...] | None = None, backward: str = "backward", name: str | None = None,
          names: tuple[str, ...] | None = None, constant: tuple[str, ...] = (),
          held_at_zero: dict[str, str] | None = None, verbose: bool = True,
          raises: bool = True) -> CheckResult | EngineCheckResult:
    """Check ``layer`` against ``module`` on ``inputs`` (as the layer takes them, nested where it
    takes a tuple: ``x, (h0, c0)``); see the module doc. Inputs are named ``input``,
    ``input1``... or by ``names``; every floating one is differentiated unless named in
    ``constant`` (a target, a mask), integer and boolean ones never are (indices). A failed
    check raises CheckFailed (an AssertionError: a test calling it fails) with the verdict;
    ``raises=False`` returns the failing result instead, which is falsy. ``held_at_zero``
    names torch tensors the layer has no array for, with the reason (see ``Pair``).

    ``check(engine)`` checks an ``Engine`` over the op catalog; ``check(engine, "sum")``, or a
    list of names, over those ops (``check_engine``)."""
    if isinstance(layer, Engine):
        if inputs:
            raise DeclarationError("check(engine, ops): an engine is checked on the catalog's own inputs; give no "
                                   "inputs")
        return check_engine(layer, module, verbose=verbose, raises=raises)
    if module is None:
        raise DeclarationError("check(layer, module, *inputs): no torch twin given: a module, or a torch function "
                               "(torch.tanh)")
    module = as_module(module)  # a plain torch function (torch.matmul) is a module without parameters
    given = [np.asarray(x) for x in leaves(inputs)]
    names = tuple(names) if names is not None else tuple("input" if i == 0 else f"input{i}"
                                                         for i in range(len(given)))
    if len(names) != len(given):
        raise DeclarationError(f"names={names}: {len(names)} names for {len(given)} inputs")
    if unknown := sorted(set(constant) - set(names)):
        raise DeclarationError(f"constant={tuple(constant)}: {unknown} name no input (the inputs: {', '.join(names)})")
    arguments = _shaped(inputs, iter(names))
    torch_inputs = [Layout(input_layout if i == 0 else None).to_torch(x, None) for i, x in enumerate(given)]
    convention = convention or infer_convention(layer, arguments, dict(zip(names, given, strict=True)), backward)
    if params is None:
        params = infer_mapping(layer, convention, module, list(structure.build(arguments, dict(zip(names, given,
                                                                                                  strict=True)))))
    outputs, exact = _output_structure(module, arguments, dict(zip(names, torch_inputs, strict=True)))
    pair = Pair(
        name=name or _name(layer),
        reference=lambda c: copy.deepcopy(layer), torch=lambda c: copy.deepcopy(module),
        inputs=tuple(_given(x, n, n in constant) for x, n in zip(torch_inputs, names, strict=True)),
        configs=(Config(id="given"),), params=tuple(params), held_at_zero=dict(held_at_zero or {}),
        convention=convention,
        input_layouts=(input_layout,) if input_layout else (), output_layout=output_layout, backward=backward,
        outputs=outputs, arguments=arguments, exact=exact,
    )
    values = {k: v.astype(np.float64) for k, v in torch_values(list(pair.params), module).items()}
    verdicts = {}
    for dtype in ("float64", "float32"):
        case = Case(pair, pair.configs[0], dtype, 0)
        setup = draw_setup(case, values)
        setup.training = module.training
        # the decoy batch: the given one rolled by a row, so a value the first call caches shows
        setup.decoy = {n: np.roll(x, 1, axis=0) if x.ndim else x for n, x in setup.inputs.items()}
        verdicts[dtype] = judge_case(case, setup)
    result = CheckResult(pair, verdicts)
    if raises and not result:
        raise CheckFailed(str(result))  # the verdict is the error's message: printed once
    if verbose:
        print(result)
    return result


# -- an engine over the op catalog ---------------------------------------------------------------


@dataclass
class EngineCheckResult:
    engine: Engine
    cases: dict[str, dict[str, list[Verdict]]]  # catalog entry -> case id -> every tensor's verdict
    not_covered: dict[str, str]  # catalog entry -> why the engine does not cover it

    @property
    def failed(self) -> dict[str, list[Verdict]]:
        """Each failing entry's failing verdicts."""
        found = {entry: [v for verdicts in by_case.values() for v in verdicts if not v.passed]
                 for entry, by_case in self.cases.items()}
        return {entry: verdicts for entry, verdicts in found.items() if verdicts}

    @property
    def passed(self) -> bool:
        return not self.failed

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        from parity_tests.engine.ops import BY_NAME, Semantic

        engine, failed = self.engine, self.failed
        semantics = sum(isinstance(BY_NAME.get(entry), Semantic) for entry in self.cases)
        lines = [f"engine check of {engine.label}: {_count(len(self.cases), 'catalog entry', 'catalog entries')} "
                 f"({_count(len(self.cases) - semantics, 'op')}, {_count(semantics, 'semantic')}), "
                 f"{_count(sum(map(len, self.cases.values())), 'case')} in {' and '.join(engine.dtypes)}"]
        passed = [entry for entry in self.cases if entry not in failed]
        lines.append(f"  passed {len(passed)}: {', '.join(passed) or 'none'}")
        if failed:
            lines.append(f"  failed {len(failed)}: " + ", ".join(
                f"{entry} ({sum(not all(v.passed for v in vs) for vs in self.cases[entry].values())} of "
                f"{len(self.cases[entry])} cases)" for entry in failed))
        by_reason: dict[str, list[str]] = {}
        for entry, reason in self.not_covered.items():
            by_reason.setdefault(reason, []).append(entry)
        if by_reason:
            lines.append(f"  not covered {len(self.not_covered)}: " + "; ".join(
                f"{', '.join(entries)} ({reason})" for reason, entries in by_reason.items()))
        if "float32" not in engine.dtypes:
            lines.append(f"  float32: not run: the engine declares dtypes={engine.dtypes}")
        for verdicts in failed.values():  # the first failure of each entry, explained
            more = f"\n  ({len(verdicts) - 1} more failing tensor(s) of this entry)" if len(verdicts) > 1 else ""
            lines += ["", verdicts[0].message + more]
        lines += ["", "FAILED"] if failed else ["PASSED"]
        return "\n".join(lines)


def _count(n: int, one: str, several: str | None = None) -> str:
    return f"{n} {one if n == 1 else several or one + 's'}"


def check_engine(engine: Engine, selection=None, verbose: bool = True, raises: bool = True) -> EngineCheckResult:
    """Every case of every catalog entry ``engine`` covers (of ``selection``: a name, an Op, or a
    list of them), at one seed in each of its dtypes. What it does not cover is listed; a named
    entry it does not cover is a DeclarationError. A failure raises CheckFailed with the
    verdict unless ``raises=False``; a case the engine raises on is a failure of its entry."""
    from parity_tests.engine.ops import engine_pairs

    if selection is not None and not isinstance(selection, list | tuple):
        selection = [selection]
    pairs, missing = engine_pairs(engine, selection)
    judged = {}
    for pair in pairs:
        by_case = {}
        for case in cases([pair], pair.dtypes, seeds=1):
            try:
                by_case[case.id] = judge_case(case)
            except (CaseError, HarnessError) as error:  # CaseError names the case; HarnessError does not
                text = str(error) if str(error).startswith(case.id) else f"{case.id}: {error}"
                by_case[case.id] = [Verdict("raised", False, np.inf, np.inf, np.inf, 0.0, 0.0, text)]
        judged[pair.name.split(".", 1)[1]] = by_case
    result = EngineCheckResult(engine, judged, missing)
    if raises and not result:
        raise CheckFailed(str(result))
    if verbose:
        print(result)
    return result


def _name(layer) -> str:
    if isinstance(layer, tuple):
        return layer[0].__name__
    return getattr(layer, "__name__", None) or type(layer).__name__  # a function's own name, else its class's


def _shaped(inputs: tuple, names) -> tuple:
    """The structure of names of nested ``inputs``: ``(x, (h0, c0))`` -> ("input", ("input1", "input2"))."""
    return tuple(_shaped(x, names) if isinstance(x, tuple | list) else next(names) for x in inputs)


def _output_structure(module, arguments, inputs: dict) -> tuple:
    """The torch module's outputs as a structure of names (``output``, or ``output0``,
    ``output1``... nested as returned) and the ones compared exactly (not floating)."""
    tensors = {n: torch.from_numpy(np.array(x)) for n, x in inputs.items()}
    with torch.no_grad():
        returned = copy.deepcopy(module).double()(*structure.build(arguments, {
            n: t.double() if t.is_floating_point() else t for n, t in tensors.items()}))
    if isinstance(returned, torch.Tensor):
        return "output", () if returned.is_floating_point() else ("output",)
    count = iter(range(len(leaves(returned))))

    def shape(value):
        return tuple(shape(v) for v in value) if isinstance(value, tuple | list) else f"output{next(count)}"

    outputs = shape(returned)
    exact = tuple(n for n, t in zip(structure.names(outputs), leaves(returned), strict=True)
                  if not t.is_floating_point())
    return outputs, exact


def _given(x: np.ndarray, name: str, constant: bool):
    def make(config, rng, dtype):
        return x.astype(dtype) if np.issubdtype(x.dtype, np.floating) else x.copy()

    return input_maker(make, name=name, constant=constant)


# -- inferring the convention ------------------------------------------------------------------


def infer_convention(layer, arguments, inputs: dict, backward: str = "backward") -> Convention:
    """The convention of ``layer``, which takes ``inputs`` (by name) as ``arguments`` (their structure)."""
    given = list(structure.build(arguments, {n: x.astype(np.float64) if np.issubdtype(x.dtype, np.floating) else x
                                             for n, x in inputs.items()}))
    if isinstance(layer, tuple) and len(layer) == 2 and all(callable(f) for f in layer):
        names = list(inspect.signature(layer[0]).parameters)[len(arguments):]
        if not names and not isinstance(layer[0](*given), tuple):  # f(x) -> out: a function and its vjp
            return VJP()
        return Functional(params=tuple(names))
    if callable(getattr(layer, "named_params", None)):
        return NamedArrays()
    if callable(layer) and not callable(getattr(layer, "forward", None)):
        returned = copy.deepcopy(layer)(*given)
        if isinstance(returned, tuple) and len(returned) == 2 and callable(returned[1]):
            return _infer_closure(layer)
    for params, grads in (("parameters", "gradients"), ("params", "grads")):
        if isinstance(getattr(layer, params, None), dict) and isinstance(getattr(layer, grads, None), dict):
            return Dicts(params, grads, **_probe(layer, given, backward)[2])
    return _infer_attributes(layer, given, backward)


def _infer_closure(layer) -> Closure:
    """A closure-style layer's stores: dicts of the usual names on the layer, or on one object
    it holds (``store.params``); its clear hook, where it has one of the usual names."""
    holders = [("", layer)] + [(f"{k}.", v) for k, v in (vars(layer).items() if hasattr(layer, "__dict__") else [])
                                if hasattr(v, "__dict__")]
    stores = [(f"{prefix}{p}", f"{prefix}{g}") for prefix, holder in holders for p, g in STORE_NAMES
              if isinstance(getattr(holder, p, None), dict) and isinstance(getattr(holder, g, None), dict)]
    if len(stores) > 1:
        raise DeclarationError(f"cannot infer the stores of {_name(layer)}: {stores} all fit; declare "
                               "convention=Closure(params=..., grads=...)")
    params, grads = stores[0] if stores else (None, None)
    clear = next((n for n in CLEAR_NAMES if callable(getattr(layer, n, None))), None)
    return Closure(params=params, grads=grads, clear=clear)


def _probe(layer, given, backward):
    """Run a copy of the layer forward and backward once in float64. Returns the copy, the
    array attributes it held before, and where it keeps the results it does not return
    (``{"output": ..., "grad_input": ...}``, the keywords of its convention)."""
    probe = copy.deepcopy(layer)
    before = _arrays(probe)
    output, stored = probe.forward(*given), {}
    if output is None:
        stored["output"] = next((n for n in OUTPUT_NAMES if isinstance(getattr(probe, n, None), np.ndarray)), None)
        if stored["output"] is None:
            raise DeclarationError(f"cannot infer the convention of {type(layer).__name__}: forward returned None "
                                   f"and left none of {OUTPUT_NAMES}; declare convention=Attributes(output=...)")
        output = getattr(probe, stored["output"])
    upstreams = [np.ones_like(o, dtype=np.float64) for o in leaves(output)]
    floating = any(np.issubdtype(np.asarray(x).dtype, np.floating) for x in leaves(given))
    if getattr(probe, backward)(*upstreams) is None and floating:  # indices alone have no gradient
        stored["grad_input"] = _one_of(probe, GRAD_INPUT_NAMES, type(layer).__name__, "the input gradient")
    return probe, before, stored


def _one_of(probe, names, owner, what) -> str:
    present = [n for n in names if isinstance(getattr(probe, n, None), np.ndarray)]
    if len(present) != 1:
        raise DeclarationError(f"cannot infer where {owner} keeps {what}: expected one of {names}, found "
                               f"{present or 'none'}; declare it in the convention")
    return present[0]


def _infer_attributes(layer, inputs, backward) -> Attributes:
    probe, before, stored = _probe(layer, inputs, backward)
    after = _arrays(probe)
    # by name alone: a gradient of the wrong shape is the judge's to report, not a reason to refuse
    patterns = [p for p in GRAD_PATTERNS if all(p.format(n) in after for n in before)]
    if before and len(patterns) != 1:
        raise DeclarationError(f"cannot infer the gradient attributes of {type(layer).__name__} (arrays "
                               f"{sorted(before)}): patterns that fit every one: {patterns or 'none'} of "
                               f"{GRAD_PATTERNS}; declare convention=Attributes(grads=...)")
    return Attributes(grads=patterns[0] if patterns else "grad_{}", **stored)


def _arrays(obj) -> dict[str, np.ndarray]:
    return {k: v for k, v in vars(obj).items() if isinstance(v, np.ndarray)} if hasattr(obj, "__dict__") else {}


# -- inferring the mapping -----------------------------------------------------------------------


def _reference_arrays(layer, convention: Convention, inputs) -> dict[str, tuple]:
    """The reference's arrays and their shapes, built first where they are built lazily."""
    layer = convention.prepare(copy.deepcopy(layer), "check")
    convention.run_init(layer, inputs)
    names = convention.names(layer)
    if names is None:
        names = set(_arrays(layer))
    return {n: np.shape(convention.read(layer, n)) for n in names if convention.read(layer, n) is not None}


def _layouts(held: tuple, torch_shape: tuple) -> list[Layout]:
    """Every simple layout that turns torch_shape into held: identity, a permutation, a reshape."""
    if held == torch_shape:
        return [Layout()] + ([Layout(permute=(1, 0))] if len(held) == 2 and held[0] == held[1] else [])
    found = [Layout(permute=p) for p in itertools.permutations(range(len(held)))
             if tuple(held[i] for i in p) == torch_shape]
    if not found and int(np.prod(held)) == int(np.prod(torch_shape)) and \
            [s for s in held if s != 1] == [s for s in torch_shape if s != 1]:
        found = [Layout(shape=tuple(held))]
    return found


def _same_name(reference: str, torch_name: str) -> bool:
    a, b = reference.lower(), torch_name.rsplit(".", 1)[-1].lower()
    return a == b or any(a in group and b in group for group in SYNONYMS)


def infer_mapping(layer, convention: Convention, module, inputs) -> tuple[Param, ...]:
    if isinstance(convention, Functional) and convention.params:
        raise DeclarationError(f"cannot infer the layouts of {', '.join(convention.params)}: a functional layer's "
                               "parameters are arguments, with no shapes to compare; declare params=(Param(...), ...)")
    held = _reference_arrays(layer, convention, inputs)
    mapping, problems = [], []
    for torch_name, tensor in torch_arrays(module).items():
        shape = tuple(tensor.shape)
        candidates = [(name, layout) for name, h in held.items() for layout in _layouts(h, shape)]
        named = [c for c in candidates if _same_name(c[0], torch_name)]
        chosen = named or candidates
        if len(chosen) == 1:
            name, layout = chosen[0]
            mapping.append(Param(name, torch_name, permute=layout.permute, shape=layout.shape))
        else:
            listed = "; ".join(f"{n} ({layout})" for n, layout in chosen) or "none"
            problems.append(f"torch {torch_name} {shape}: candidates {listed}")
    if problems:
        raise DeclarationError(f"cannot infer the mapping of {type(layer).__name__} (reference arrays: "
                               f"{', '.join(f'{n} {s}' for n, s in sorted(held.items())) or 'none'}): "
                               + "; ".join(problems) + "; declare params=(Param(...), ...)")
    return tuple(mapping)
