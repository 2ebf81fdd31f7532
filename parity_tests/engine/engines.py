"""Autograd engines: a tensor that records the operations that made it and a backward that
fills ``.grad``, checked operation by operation against torch through the op catalog (``ops``).

An ``Engine`` declares how to make the engine's tensor from an array, read its values and
its gradient, and run backward from an output with an upstream gradient:

    ENGINE = Engine(tensor=Tensor, value="data", grad="grad", backward="backward",
                    zero_grad="zero_grad", ops=("add", "mul", "sum", "matmul"))

- ``value``, ``grad``: an attribute name or a function of a tensor; a gradient of None is
  one no backward has reached (judged as zeros, as torch's are);
- ``backward``: a method name or a function, called ``backward(out, g)`` with the upstream
  gradient ``g`` (an array of out's shape). An engine whose backward takes no argument
  declares ``seed(out, g)``: a scalar made of ``out`` and ``g`` (then an engine tensor) in the
  engine's own operations, ``(out * g).sum()``, whose ``backward()`` is run. Several outputs
  (``split``) are seeded with the sum of their seeds, so backward runs once;
- ``zero_grad``: a method name or a function that clears a leaf's gradient; without it the
  catalog's ``zero_grad`` semantic is reported not covered;
- ``scalar=True``: one engine number per element (micrograd's ``Value``): ``tensor``,
  ``value``, ``grad`` and ``zero_grad`` apply to one number, and the spellings get arrays of
  them (``ScalarArray``);
- ``ops``: the catalog's ops the engine implements: names (each spelled the catalog's
  default way) or ``{name: spelling}``, a spelling ``(config, *operands) -> result`` (None:
  the default); the catalog's semantics are covered where their ops are;
- ``dtypes``: the dtypes the engine computes in; one that computes in Python floats
  declares ``("float64",)``, and its float32 cases are reported not run.

Every floating operand is a leaf of the graph and its gradient is judged; integer and
boolean operands (indices, targets, conditions) are passed as the arrays they are.
The convention the harness asks is ``engine.convention``, an ``EngineConvention`` (apart
from the declaration, whose ``grad`` and ``backward`` would shadow the convention's methods
of those names): every mechanism of a layer's case applies (a decoy batch first, side
effects on the caller's arrays, finite differences, float32 and float64, refusals where
torch refuses).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from parity_tests.engine.conventions import Convention
from parity_tests.engine.layouts import DeclarationError
from parity_tests.engine.structure import leaves

Access = str | Callable  # an attribute or method name, or a function of the tensor
CALLS = ("once", "halves", "zeroed")


@dataclass(frozen=True, kw_only=True)
class Engine:
    """An autograd engine, declared (see the module doc)."""

    tensor: Callable
    value: Access = "data"
    grad: Access = "grad"
    backward: Access = "backward"
    seed: Callable | None = None
    zero_grad: Access | None = None
    scalar: bool = False
    ops: Any = ()  # names, Op objects, or {name: spelling or None}
    name: str | None = None
    dtypes: tuple[str, ...] = ("float32", "float64")

    def __post_init__(self):
        if not callable(self.tensor):
            raise DeclarationError(f"Engine(tensor={self.tensor!r}): expected a function from an array to the "
                                   "engine's tensor (its class, usually)")
        if self.scalar and self.seed is None:
            raise DeclarationError(f"engine {self.label}: a scalar engine's backward starts from one number; declare "
                                   "seed=lambda out, g: (out * g).sum()")
        if unknown := sorted(set(self.dtypes) - {"float32", "float64"}):
            raise DeclarationError(f"engine {self.label}: dtypes {unknown}: expected float32 and/or float64")
        if isinstance(self.ops, str):
            raise DeclarationError(f"engine {self.label}: ops={self.ops!r}: expected a collection of op names, "
                                   "e.g. ops=(\"add\", \"mul\")")

    @property
    def label(self) -> str:
        return self.name or getattr(self.tensor, "__name__", "engine")

    @property
    def convention(self) -> EngineConvention:
        return EngineConvention(engine=self)

    def declared(self) -> dict[str, Callable | None]:
        """Every op the engine declares, and its own spelling (None: the catalog's default)."""
        if isinstance(self.ops, dict):
            return dict(self.ops)
        return {getattr(op, "name", op): None for op in self.ops}

    def spelling(self, op) -> Callable:
        """How the engine spells ``op`` (a catalog entry): ``(config, *operands) -> result``."""
        return self.declared().get(op.name) or op.default_spelling

    # -- one tensor ----------------------------------------------------------------------

    def make(self, array: np.ndarray):
        """The engine's tensor of ``array``; for a scalar engine, an array of its numbers."""
        if not self.scalar:
            return self.tensor(array)
        numbers = np.empty(array.shape, dtype=object)
        for index, number in np.ndenumerate(array):
            numbers[index] = self.tensor(number)
        return numbers.view(ScalarArray)

    def values(self, tensor) -> np.ndarray:
        if not self.scalar:
            return np.asarray(_access(self.value, tensor, "value"))
        numbers = as_scalar_array(tensor)
        return np.array([_access(self.value, n, "value") for n in numbers.flat]).reshape(numbers.shape)

    def gradient(self, leaf) -> np.ndarray:
        """The leaf's gradient; zeros where no backward reached it (torch's None)."""
        if self.scalar:
            return np.array([self._number_grad(n) for n in leaf.flat]).reshape(leaf.shape)
        grad = _access(self.grad, leaf, "grad")
        return np.zeros_like(self.values(leaf)) if grad is None else np.asarray(grad)

    def _number_grad(self, number):
        grad = _access(self.grad, number, "grad")
        return _access(self.value, number, "value") * 0 if grad is None else grad

    def clear(self, leaf) -> None:
        for number in (leaf.flat if self.scalar else [leaf]):
            _access(self.zero_grad, number, "zero_grad")

    def run_backward(self, outputs: list, upstreams: list[np.ndarray]) -> None:
        """Backward from every output with its upstream gradient: ``backward(out, g)`` for each,
        or one ``backward()`` from the sum of their seeds."""
        if self.seed is None:
            for output, upstream in zip(outputs, upstreams, strict=True):
                _access(self.backward, output, "backward", upstream)
            return
        scalars = [self.seed(as_scalar_array(o) if self.scalar else o, self.make(g))
                   for o, g in zip(outputs, upstreams, strict=True)]
        total = functools.reduce(operator.add, scalars)
        _access(self.backward, as_scalar_array(total).item() if self.scalar else total, "backward")


def _access(how: Access, obj, role: str, *args):
    """``how`` applied to ``obj``: a function called with it (and ``args``), a method of it
    called with ``args``, or an attribute of it read."""
    if callable(how):
        return how(obj, *args)
    if not hasattr(obj, how):
        raise DeclarationError(f"the engine declares {role}={how!r}, but its {type(obj).__name__} has no "
                               f"attribute {how!r}")
    found = getattr(obj, how)
    return found(*args) if callable(found) else found


# -- a scalar engine's numbers, as arrays -------------------------------------------------


class ScalarArray(np.ndarray):
    """An object array of a scalar engine's numbers (``Value``). Arithmetic, matmul,
    reductions, indexing and reshaping are NumPy's over the numbers' own operators; a method
    the array does not have is every number's (``x.exp()`` calls each Value's ``exp()``); the
    catalog's structural functions NumPy spells as functions are methods here (``expand``,
    ``unsqueeze``, ``split``, ``take_along_axis``; ``concatenate``, ``stack``, ``where`` on the
    class); every result stays an array, 0-d included."""

    def __array_wrap__(self, array, context=None, return_scalar=False):
        return as_scalar_array(array)

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)

        def each(*args, **kwargs):
            result = np.empty(self.shape, dtype=object)
            for index, number in np.ndenumerate(self):
                result[index] = getattr(number, name)(*args, **kwargs)
            return result.view(ScalarArray)

        return each

    def expand(self, shape):
        return as_scalar_array(np.broadcast_to(self, shape))

    def unsqueeze(self, axis):
        return as_scalar_array(np.expand_dims(self, axis))

    def split(self, sizes, axis=0):
        return [as_scalar_array(part) for part in np.split(self, np.cumsum(sizes)[:-1], axis=axis)]

    def take_along_axis(self, indices, axis):
        return as_scalar_array(np.take_along_axis(self, indices, axis))

    @staticmethod
    def concatenate(arrays, axis=0):
        return as_scalar_array(np.concatenate(arrays, axis=axis))

    @staticmethod
    def stack(arrays, axis=0):
        return as_scalar_array(np.stack(arrays, axis=axis))

    @staticmethod
    def where(condition, a, b):
        return as_scalar_array(np.where(condition, a, b))


def as_scalar_array(numbers) -> ScalarArray:
    """Numbers (an array of them, or one) as a ScalarArray."""
    return np.asarray(numbers, dtype=object).view(ScalarArray)


# -- the convention the harness asks -------------------------------------------------------


@dataclass
class EngineCall:
    """One op of an engine as the harness holds it: the spelled function of engine tensors,
    how its backward is called (``calls``: once; in two ``halves`` that must accumulate;
    ``zeroed``: after a first backward that ``zero_grad`` must clear), and what its last forward
    made."""

    function: Callable
    calls: str = "once"
    wrapped: tuple = ()  # the arguments as the function took them: leaves, and integer arrays as given
    slots: list = field(default_factory=list)  # per flat argument: its leaf, or None (not floating)
    outputs: Any = None

    def __post_init__(self):
        if self.calls not in CALLS:
            raise DeclarationError(f"calls={self.calls!r}: expected one of {CALLS}")


@dataclass(frozen=True, kw_only=True)
class EngineConvention(Convention):
    """The harness's questions, answered for an engine's op: no parameters (every operand is an
    input), the inputs made leaves, backward run from the outputs, the leaves' gradients read."""

    engine: Engine

    def prepare(self, obj, pair_name):
        if isinstance(obj, EngineCall):
            return obj
        if not callable(obj):
            raise DeclarationError(f"pair {pair_name}: the engine convention expects the reference factory to return "
                                   f"a function of the engine's tensors; got {type(obj).__name__}")
        return EngineCall(obj)

    def names(self, layer):
        return set()

    def read(self, layer, name):
        return None

    def load(self, layer, values, dtype):
        if values:
            raise DeclarationError(f"an engine's op has no parameters ({', '.join(values)} mapped): declare them as "
                                   "inputs, which are the engine's leaves")

    def grad(self, layer, name):
        return None

    def where(self, name):
        return f"the {self.engine.label} leaf's gradient of {name}"

    def forward(self, layer, arguments, training=True):
        layer.slots = []

        def leaf(value):
            if isinstance(value, tuple | list):
                return type(value)(leaf(v) for v in value)
            made = self.engine.make(value) if np.issubdtype(np.asarray(value).dtype, np.floating) else None
            layer.slots.append(made)
            return value if made is None else made

        layer.wrapped = tuple(leaf(a) for a in arguments)
        layer.outputs = layer.function(*layer.wrapped)
        return self._values(layer.outputs)

    def _values(self, outputs):
        if isinstance(outputs, tuple | list):
            return tuple(self._values(o) for o in outputs)
        return self.engine.values(outputs)

    def backward(self, layer, method, upstreams, inputs, every_input):
        engine, gradients = self.engine, leaves(upstreams)
        outputs = leaves(layer.outputs)
        if len(outputs) != len(gradients):
            raise DeclarationError(f"the op returned {len(outputs)} tensor(s) for {len(gradients)} upstream "
                                   "gradient(s): declare its outputs")
        if len(layer.slots) != len(every_input):
            raise DeclarationError(f"the op took {len(layer.slots)} operand(s) for {len(every_input)} input(s): pass "
                                   "every input, in input order")
        if layer.calls == "halves":  # two backward calls of half the upstream each: the leaves must sum them
            halves = [np.asarray(g / 2) for g in gradients]
            engine.run_backward(outputs, halves)
            engine.run_backward(leaves(layer.function(*layer.wrapped)), halves)
        elif layer.calls == "zeroed":  # a first backward, cleared by zero_grad, then the case's own
            engine.run_backward(outputs, gradients)
            for made in filter(lambda s: s is not None, layer.slots):
                engine.clear(made)
            engine.run_backward(leaves(layer.function(*layer.wrapped)), gradients)
        else:
            engine.run_backward(outputs, gradients)
        by_name = dict(zip(every_input, layer.slots, strict=True))
        return tuple(engine.gradient(by_name[name]) for name in inputs)


# -- the matrix of an engine ---------------------------------------------------------------------


def parity_matrix(*declarations):
    """Every case of the declarations, one pytest item a case: pairs, and engines over the op
    catalog, or over the ops named among the declarations (names or ``Op`` objects):

        test_my_layers = parity_matrix(MY_PAIR)
        test_my_engine = parity_matrix(MY_ENGINE)            # the whole catalog
        test_my_matmul = parity_matrix(MY_ENGINE, "matmul")  # one op

    Over the whole catalog, each entry an engine does not cover (and float32, where it does not
    compute in it) is run as skipped items whose reason says why (``pytest -rs`` lists them); a
    named op the engine does not declare is a DeclarationError. With no declarations, the
    project's own pairs run."""
    from parity_tests.engine import plugin

    engines = [d for d in declarations if isinstance(d, Engine)]
    if not engines:
        return plugin.parity_matrix(*declarations)
    from parity_tests.engine import ops

    selection = [d for d in declarations if isinstance(d, str | ops.Op)] or None
    pairs = [d for d in declarations if not isinstance(d, Engine | str | ops.Op)]
    skipped: dict[str, str] = {}
    for engine in engines:
        covered, missing = ops.engine_pairs(engine, selection)
        pairs += covered
        for placeholder, reason in ops.not_covered_pairs(engine, missing):
            pairs.append(placeholder)
            skipped[placeholder.name] = reason
    return plugin.parity_matrix(*pairs, skipped=skipped)
