"""Conventions: where a reference layer keeps its parameters, gradients and state, and how
it runs forward and backward. A pair declares one; the harness asks it, so a layer written
in any of these styles is checked as it is, with no wrapper class.

- ``NamedArrays()``: this suite's own (``reference.base.Layer``): ``named_params()``,
  ``named_grads()``, ``named_state()``, ``train()``.
- ``Attributes(grads="grad_{}")``: parameters as attributes (``W``, ``weights``; dotted names
  reach sub-layers), gradients as attributes named by a pattern or a dict (``grad_W``, ``dW``,
  ``dweights``); forward and backward return their results, or store them in declared
  attributes (``output="output"``, ``grad_input="dinputs"``).
- ``Dicts("parameters", "gradients")``: parameters and gradients in dicts of other names.
- ``Functional(params=("w", "b"))``: the course style. The pair's reference factory returns
  ``(forward, backward)``, ``forward(x, *params) -> (out, cache)`` and
  ``backward(dout, cache) -> (dx, *dparams)``.
- ``VJP(params=("w", "b"))``: plain function pairs. The factory returns ``(f, vjp)``,
  ``f(x, *params) -> out`` and ``vjp(x, *params, dout) -> (dx, *dparams)`` (``order`` names
  another argument order: autograd's ``vjp(ans, x, g)`` is ``order=("output", "inputs", "upstreams")``).
- ``Closure(params="params", grads="grads")``: layers that return their backward:
  ``out, backprop = layer(x)``, ``dx = backprop(dout)``; parameters and their gradients in
  a store (dicts at attributes, dotted paths ``"store.params"``, or functions of the layer).
- ``Engine(...)`` (``engines``): an autograd engine's tensors, checked op by op.

A layer takes its inputs as arguments, in the pair's order (nested where the pair declares
``arguments``), and its backward one upstream gradient per differentiable output. It gives
back the gradient of every differentiated input: the array itself when there is one, a
tuple in input order when there are several (a tuple over every input, with anything at
the constant ones, is read the same way), nothing when no input is differentiated. A layer
that keeps them instead declares where (``Attributes(grad_input=("dx", "dh0"))``).

Hooks, each a method name or a function of the layer:
- ``init(layer, *inputs)``: creates parameters that the layer builds on its first forward;
  the harness calls it once, on the first batch, before loading the case's values;
- ``clear(layer)``: drops what a layer caches across batches (a list of inputs, gradients it
  accumulates); the harness calls it before every forward;
- ``mode(layer, training)``, or an attribute name set to True or False: train / eval;
- ``mode_argument="training"``: the mode is a keyword argument of forward instead
  (``forward(x, training=True)``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from parity_tests.engine.layouts import DeclarationError
from parity_tests.engine.structure import leaves

Hook = str | Callable | None


@dataclass(frozen=True, kw_only=True)  # hooks by keyword; a subclass's own fields come first
class Convention:
    init: Hook = None
    clear: Hook = None
    mode: Hook = None
    mode_argument: str | None = None

    # -- the questions the harness asks; each subclass answers them ----------------------

    def prepare(self, obj, pair_name: str):
        """The object the other methods work on; raise DeclarationError if ``obj`` does not fit."""
        return obj

    def names(self, layer) -> set[str] | None:
        """The names of every array the layer holds, where the convention can list them."""
        return None

    def read(self, layer, name: str) -> np.ndarray | None:
        raise NotImplementedError

    def holds(self, layer, name: str) -> bool:
        return self.read(layer, name) is not None

    def load(self, layer, values: dict[str, np.ndarray], dtype) -> None:
        raise NotImplementedError

    def grad(self, layer, name: str) -> np.ndarray | None:
        raise NotImplementedError

    def forward(self, layer, arguments: list, training: bool = True):
        """Run forward on ``arguments`` (the inputs as the layer takes them); its result."""
        raise NotImplementedError

    def backward(self, layer, method: str, upstreams: list, inputs: tuple[str, ...], every_input: tuple[str, ...]):
        """Run backward on ``upstreams``; the gradients of the differentiated ``inputs``, in order."""
        raise NotImplementedError

    def mode_keywords(self, training: bool) -> dict:
        return {} if self.mode_argument is None else {self.mode_argument: training}

    def where(self, name: str) -> str:
        """Where this convention looks for the gradient of ``name`` (for messages)."""
        return f"the gradient of {name}"

    def unmapped_gradients(self, layer, mapped: set[str], input_grads=()) -> list[str]:
        """Arrays the layer keeps a gradient for after backward that no Param maps (a
        parameter the declaration forgot), where the convention cannot list its arrays; the
        input gradients it handed out are no parameter's."""
        return []

    # -- hooks -------------------------------------------------------------------------

    def run_init(self, layer, inputs) -> None:
        self._call("init", self.init, layer, *inputs)

    def run_clear(self, layer) -> None:
        self._call("clear", self.clear, layer)

    def train(self, layer, training: bool, pair_name: str) -> None:
        if self.mode_argument is not None:
            return  # passed to every forward instead
        if self.mode is None:
            if not training:
                raise DeclarationError(f"pair {pair_name}: a configuration asks for eval mode, but the "
                                       f"{type(self).__name__} convention declares no mode hook "
                                       "(mode=\"attribute\", mode=lambda layer, training: ... or "
                                       "mode_argument=\"training\")")
        elif isinstance(self.mode, str) and not callable(getattr(layer, self.mode, None)):
            setattr(layer, self.mode, training)
        else:
            self._call("mode", self.mode, layer, training)

    @staticmethod
    def _call(role: str, hook: Hook, layer, *args):
        if hook is None:
            return None
        if isinstance(hook, str):
            method = getattr(layer, hook, None)
            if not callable(method):
                raise DeclarationError(f"the {role} hook names method {hook!r}, which the "
                                       f"{type(layer).__name__} object does not have")
            return method(*args)
        return hook(layer, *args)


def _method(layer, name: str, convention: Convention):
    method = getattr(layer, name, None)
    if not callable(method):
        raise DeclarationError(f"the {type(convention).__name__} convention calls {type(layer).__name__}.{name}(), "
                               f"which the object does not have (its methods: {_public_methods(layer)})")
    return method


def _public_methods(obj) -> str:
    return ", ".join(n for n in dir(obj) if not n.startswith("_") and callable(getattr(obj, n, None))) or "none"


def _returned(value, what: str, instead: str):
    if value is None:
        raise DeclarationError(f"{what} returned None; {instead}")
    return value


def input_gradients(returned, inputs: tuple[str, ...], every_input: tuple[str, ...], what: str) -> tuple:
    """The gradients of the differentiated ``inputs`` from what a backward gave: the array
    itself for one, a tuple (nested as the inputs are, or not) for several, in input order;
    a tuple over ``every_input`` is read at the differentiated positions. Anything else is a
    DeclarationError naming what is missing."""
    if not inputs:
        return ()
    values = [returned] if isinstance(returned, np.ndarray) else leaves(returned) if returned is not None else []
    if len(values) == len(every_input) != len(inputs):
        values = [v for name, v in zip(every_input, values, strict=True) if name in inputs]
    if len(values) != len(inputs) or any(v is None for v in values):
        got = "None" if returned is None else f"{len(values)} value(s)"
        missing = ", ".join(inputs[len(values):]) if len(values) < len(inputs) else ""
        raise DeclarationError(
            f"{what} returned {got}; the pair differentiates {len(inputs)} input(s) ({', '.join(inputs)})"
            + (f": no gradient for {missing}" if missing else "")
            + ". Return every input gradient, a tuple in input order, or declare where the layer keeps them "
            "(grad_input=...); declare an input constant=True if it is not differentiated (a target, a mask)")
    return tuple(values)


# -- this suite's own protocol -------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class NamedArrays(Convention):
    """``reference.base.Layer``: named_params() / named_grads() / named_state(), train()."""

    mode: Hook = "train"

    def prepare(self, obj, pair_name):
        missing = [m for m in ("named_params", "named_grads", "named_state", "to", "train")
                   if not callable(getattr(obj, m, None))]
        if missing:
            raise DeclarationError(f"pair {pair_name}: the NamedArrays convention (reference.base.Layer) does not "
                                   f"match the {type(obj).__name__} object: it has no {', '.join(missing)}; declare "
                                   "its convention (Attributes, Dicts or Functional)")
        return obj

    def names(self, layer):
        return set(layer.named_params()) | set(layer.named_state())

    def read(self, layer, name):
        found = _named(layer, name, ("params", "state"))
        return (layer.named_params() | layer.named_state()).get(name) if found is None else found

    def load(self, layer, values, dtype):
        layer.to(dtype)
        for name, value in values.items():
            self.read(layer, name)[...] = value

    def grad(self, layer, name):
        found = _named(layer, name, ("grads",))
        return layer.named_grads().get(name) if found is None else found

    def where(self, name):
        return f"named_grads()[{name!r}]"

    def forward(self, layer, arguments, training=True):
        return layer(*arguments, **self.mode_keywords(training))

    def backward(self, layer, method, upstreams, inputs, every_input):
        return input_gradients(getattr(layer, method)(*upstreams), inputs, every_input,
                               f"{type(layer).__name__}.{method}")


def _named(layer, name: str, dicts: tuple[str, ...]):
    """What the ``params`` (``dicts`` ("params",)) and the like of ``layer`` and its
    ``children()`` hold under ``name``, walking the dotted prefix; None where not found (the
    caller then asks ``named_params()`` and the like, which collect every array of the tree:
    doing so for each name read cost a composite block's case a tenth of its time)."""
    for attribute in dicts:
        if name in (held := getattr(layer, attribute, {})):
            return held[name]
    head, dot, rest = name.partition(".")
    child = layer.children().get(head) if dot and callable(getattr(layer, "children", None)) else None
    return None if child is None else _named(child, rest, dicts)


# -- attributes and dicts of any name --------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class _Stored(Convention):
    """Forward and backward methods whose results are returned or stored in an attribute."""

    output: str | None = None
    grad_input: str | tuple[str, ...] | dict[str, str] | None = None  # one attribute, one per input, or by input

    def forward(self, layer, arguments, training=True):
        returned = _method(layer, "forward", self)(*arguments, **self.mode_keywords(training))
        if self.output is None:
            return _returned(returned, f"{type(layer).__name__}.forward",
                             "if the layer stores its output in an attribute, declare output=\"<attribute>\"")
        return getattr(layer, self.output)

    def backward(self, layer, method, upstreams, inputs, every_input):
        returned = _method(layer, method, self)(*upstreams)
        what = f"{type(layer).__name__}.{method}"
        if self.grad_input is None:
            if returned is None and inputs:
                raise DeclarationError(f"{what} returned None; if the layer stores the input gradient in an "
                                       "attribute, declare grad_input=\"<attribute>\"")
            return input_gradients(returned, inputs, every_input, what)
        if isinstance(self.grad_input, str):
            return input_gradients(getattr(layer, self.grad_input, None), inputs, every_input,
                                   f"{what} (attribute {self.grad_input})")
        if isinstance(self.grad_input, dict):
            if missing := [n for n in inputs if n not in self.grad_input]:
                raise DeclarationError(f"grad_input={self.grad_input!r} names no attribute for the "
                                       f"differentiated input(s) {', '.join(missing)}")
            attributes = [self.grad_input[n] for n in inputs]
        else:
            attributes = list(self.grad_input)
        return input_gradients(tuple(getattr(layer, a, None) for a in attributes), inputs, every_input,
                               f"{what} (attributes {', '.join(attributes)})")


def _object_at(layer, path: str):
    """The sub-object a dotted path names ("" is the layer itself)."""
    for part in filter(None, path.split(".")):
        layer = getattr(layer, part)
    return layer


def _owner(layer, dotted: str):
    """The object holding the last part of a dotted name, and that part."""
    path, _, last = dotted.rpartition(".")
    return _object_at(layer, path), last


@dataclass(frozen=True)
class Attributes(_Stored):
    """Arrays as attributes; ``grads`` a pattern (``"grad_{}"``, ``"d{}"``) or {name: attribute}."""

    grads: str | dict[str, str] = "grad_{}"

    def grad_attribute(self, name: str) -> str:
        owner_path, _, last = name.rpartition(".")
        attribute = self.grads.get(name) if isinstance(self.grads, dict) else self.grads.format(last)
        if attribute is None:
            raise DeclarationError(f"the Attributes convention maps no gradient attribute for {name!r} "
                                   f"(grads={self.grads!r})")
        return f"{owner_path}.{attribute}" if owner_path and isinstance(self.grads, str) else attribute

    def read(self, layer, name):
        try:
            owner, last = _owner(layer, name)
        except AttributeError:
            return None
        value = getattr(owner, last, None)
        return value if isinstance(value, np.ndarray) else None

    def load(self, layer, values, dtype):
        for name, value in values.items():
            owner, last = _owner(layer, name)
            setattr(owner, last, value.astype(dtype))

    def grad(self, layer, name):
        return self.read(layer, self.grad_attribute(name))

    def where(self, name):
        return f"attribute {self.grad_attribute(name)}"

    def unmapped_gradients(self, layer, mapped, input_grads=()):
        if isinstance(self.grads, dict):
            return sorted(set(self.grads) - mapped)

        def an_input_gradient(value) -> bool:
            return any(value is g or (np.shape(value) == np.shape(g) and np.array_equal(value, g))
                       for g in input_grads)
        owners = {""} | {name.rpartition(".")[0] for name in mapped}  # the layer and every mapped sub-layer
        found = []
        for prefix in sorted(owners):
            try:
                owner = _object_at(layer, prefix)
            except AttributeError:
                continue
            for attribute, value in list(vars(owner).items()) if hasattr(owner, "__dict__") else []:
                name = f"{prefix}.{attribute}" if prefix else attribute
                grad = getattr(owner, self.grads.format(attribute), None)
                if isinstance(value, np.ndarray) and name not in mapped and isinstance(grad, np.ndarray) \
                        and not an_input_gradient(grad):
                    found.append(name)
        return found


@dataclass(frozen=True)
class Dicts(_Stored):
    """Arrays in dicts held as attributes: ``params`` (and ``state``, if apart) and ``grads``."""

    params: str = "params"
    grads: str = "grads"
    state: str | None = None

    def prepare(self, obj, pair_name):
        for role, attribute in (("params", self.params), ("grads", self.grads), ("state", self.state)):
            if attribute is not None and not isinstance(getattr(obj, attribute, None), dict):
                found = ", ".join(k for k, v in vars(obj).items() if isinstance(v, dict)) if hasattr(obj, "__dict__") \
                    else ""
                raise DeclarationError(
                    f"pair {pair_name}: the Dicts convention declares {role}={attribute!r}, but the "
                    f"{type(obj).__name__} object has no dict attribute {attribute!r} "
                    f"(its dict attributes: {found or 'none'})")
        return obj

    def _arrays(self, layer) -> dict[str, Any]:
        return getattr(layer, self.params) | (getattr(layer, self.state) if self.state else {})

    def names(self, layer):
        return {k for k, v in self._arrays(layer).items() if isinstance(v, np.ndarray)}

    def read(self, layer, name):
        return self._arrays(layer).get(name)

    def load(self, layer, values, dtype):
        for name, value in values.items():
            holder = getattr(layer, self.state) if self.state and name in getattr(layer, self.state) \
                else getattr(layer, self.params)
            holder[name] = value.astype(dtype)

    def grad(self, layer, name):
        return getattr(layer, self.grads).get(name)

    def where(self, name):
        return f"{self.grads}[{name!r}]"


# -- the functional course style -------------------------------------------------------------


@dataclass
class FunctionalLayer:
    """What the harness holds for a functional pair: its two functions, parameters and cache."""

    forward: Callable
    backward: Callable
    params: dict[str, np.ndarray] = field(default_factory=dict)
    grads: dict[str, np.ndarray] = field(default_factory=dict)
    cache: Any = None


@dataclass(frozen=True)
class Functional(Convention):
    """``forward(*inputs, *params) -> (out, cache)``, ``backward(*upstreams, cache) ->
    (*dinputs, *dparams)``, the parameters in the order ``params`` names them: the course's
    ``rnn_step_forward(x, prev_h, Wx, Wh, b) -> (next_h, cache)`` and
    ``rnn_step_backward(dnext_h, cache) -> (dx, dprev_h, dWx, dWh, db)``."""

    params: tuple[str, ...] = ()
    functions = "(forward, backward)"  # what the reference factory returns, for messages

    def prepare(self, obj, pair_name):
        if not (isinstance(obj, tuple) and len(obj) == 2 and all(callable(f) for f in obj)):
            raise DeclarationError(f"pair {pair_name}: the {type(self).__name__} convention expects the reference "
                                   f"factory to return {self.functions}, two functions; got {type(obj).__name__}")
        return FunctionalLayer(*obj)

    def names(self, layer):
        return set(self.params)

    def holds(self, layer, name):
        return name in self.params  # its arrays are arguments: they exist once the harness passes them

    def read(self, layer, name):
        return layer.params.get(name)

    def load(self, layer, values, dtype):
        layer.params.update({name: value.astype(dtype) for name, value in values.items()})

    def grad(self, layer, name):
        return layer.grads.get(name)

    def where(self, name):
        return f"the backward's result for {name}"

    def forward(self, layer, arguments, training=True):
        returned = layer.forward(*arguments, *(layer.params[name] for name in self.params),
                                 **self.mode_keywords(training))
        name = getattr(layer.forward, "__name__", "forward")
        if not (isinstance(returned, tuple) and len(returned) >= 2):
            raise DeclarationError(f"{name} returned {type(returned).__name__}; the Functional convention expects "
                                   "(out, cache), or (out1, out2, ..., cache) for several outputs")
        *outputs, layer.cache = returned  # the course's lstm_step_forward: (next_h, next_c, cache)
        return outputs[0] if len(outputs) == 1 else tuple(outputs)

    def backward(self, layer, method, upstreams, inputs, every_input):
        return self._gradients(layer, layer.backward(*upstreams, layer.cache), inputs, every_input)

    def _gradients(self, layer, returned, inputs, every_input) -> tuple:
        """The input gradients of what the backward returned; the parameters' kept in ``layer.grads``."""
        name = getattr(layer.backward, "__name__", "backward")
        if not self.params:
            return input_gradients(returned, inputs, every_input, name)  # dx alone (relu_backward)
        if isinstance(returned, np.ndarray) and len(inputs) + len(self.params) == 1:
            returned = (returned,)  # one parameter's gradient alone: the course's word_embedding_backward -> dW
        counts = {len(inputs) + len(self.params), len(every_input) + len(self.params)}
        if not isinstance(returned, tuple) or len(returned) not in counts:
            got = f"a tuple of {len(returned)}" if isinstance(returned, tuple) else type(returned).__name__
            wanted = ", ".join(["d" + n for n in inputs] + ["d" + p for p in self.params])
            raise DeclarationError(f"{name} returned {got}; the {type(self).__name__} convention expects "
                                   f"{len(inputs) + len(self.params)} values ({wanted})")
        *grad_inputs, = returned[:len(returned) - len(self.params)]
        layer.grads = dict(zip(self.params, returned[len(grad_inputs):], strict=True))
        return input_gradients(tuple(grad_inputs), inputs, every_input, name)


VJP_PARTS = ("inputs", "output", "upstreams")


@dataclass(frozen=True)
class VJP(Functional):
    """``f(*inputs, *params) -> out`` and ``vjp(*inputs, *params, *upstreams) -> (*dinputs,
    *dparams)``: a function and its vector-Jacobian product, nothing cached between them.
    ``order`` is the order of the vjp's arguments, of ``"inputs"`` (with the parameters after
    them), ``"output"`` (what f returned) and ``"upstreams"``: autograd's ``vjp(ans, x, g)`` is
    ``order=("output", "inputs", "upstreams")``."""

    order: tuple[str, ...] = ("inputs", "upstreams")
    functions = "(f, vjp)"

    def __post_init__(self):
        if unknown := [part for part in self.order if part not in VJP_PARTS]:
            raise DeclarationError(f"VJP(order={self.order!r}): {unknown} are not among {VJP_PARTS}")

    def forward(self, layer, arguments, training=True):
        given = (*arguments, *(layer.params[name] for name in self.params))
        output = layer.forward(*given, **self.mode_keywords(training))
        layer.cache = given, output
        return output

    def backward(self, layer, method, upstreams, inputs, every_input):
        given, output = layer.cache
        parts = {"inputs": given, "output": (output,), "upstreams": tuple(upstreams)}
        returned = layer.backward(*(value for part in self.order for value in parts[part]))
        return self._gradients(layer, returned, inputs, every_input)


# -- layers that return their backward ---------------------------------------------------------


Place = str | Callable | None  # a dict's attribute (dotted: "store.params") or a function of the layer


@dataclass
class ClosureLayer:
    """What the harness holds for a closure-style layer: the layer and the backward its last
    forward returned."""

    layer: Any
    backprop: Callable | None = None


@dataclass(frozen=True)
class Closure(Convention):
    """``out, backprop = layer(*inputs)`` and ``backprop(*upstreams) -> dinputs``: each forward
    returns the function that computes its input gradients (Thinc's ``begin_update``, a
    JAX-style ``vjp``). Parameters, their gradients and state live in stores: ``params``,
    ``grads`` and ``state`` each name a dict attribute (dotted paths reach into an object:
    ``"store.params"``) or are a function of the layer that returns the dict; None where the
    layer has none. ``call`` names the method that runs forward (``"begin_update"``); by
    default the layer itself is called. A store the backward adds into needs its ``clear``
    hook (``clear="zero_grads"``): the harness runs a decoy batch first."""

    params: Place = "params"
    grads: Place = "grads"
    state: Place = None
    call: str | None = None

    def _store(self, layer, role: str) -> dict:
        where = getattr(self, role)
        if where is None:
            return {}
        try:
            found = where(layer) if callable(where) else _object_at(layer, where)
        except AttributeError:
            found = None
        if not isinstance(found, dict):
            raise DeclarationError(f"the Closure convention declares {role}={where!r}, but the "
                                   f"{type(layer).__name__} object gives {type(found).__name__} there, not a dict")
        return found

    def prepare(self, obj, pair_name):
        if self.call is None and not callable(obj):
            raise DeclarationError(f"pair {pair_name}: the Closure convention calls the layer (out, backprop = "
                                   f"layer(x)), but the {type(obj).__name__} object is not callable; declare the "
                                   f"method that is, call=\"<method>\" (its methods: {_public_methods(obj)})")
        if self.call is not None:
            _method(obj, self.call, self)
        for role in ("params", "grads", "state"):
            self._store(obj, role)
        return ClosureLayer(obj)

    def run_init(self, layer, inputs):
        super().run_init(layer.layer, inputs)

    def run_clear(self, layer):
        super().run_clear(layer.layer)

    def train(self, layer, training, pair_name):
        super().train(layer.layer, training, pair_name)

    def _arrays(self, layer) -> dict:
        return self._store(layer.layer, "params") | self._store(layer.layer, "state")

    def names(self, layer):
        return {name for name, value in self._arrays(layer).items() if isinstance(value, np.ndarray)}

    def read(self, layer, name):
        return self._arrays(layer).get(name)

    def load(self, layer, values, dtype):
        state = self._store(layer.layer, "state")
        for name, value in values.items():
            (state if name in state else self._store(layer.layer, "params"))[name] = value.astype(dtype)

    def grad(self, layer, name):
        return self._store(layer.layer, "grads").get(name)

    def where(self, name):
        return f"{self.grads}[{name!r}]" if isinstance(self.grads, str) else f"the grads store's {name!r}"

    def forward(self, layer, arguments, training=True):
        call = layer.layer if self.call is None else getattr(layer.layer, self.call)
        returned = call(*arguments, **self.mode_keywords(training))
        what = getattr(call, "__qualname__", type(layer.layer).__name__)
        if not (isinstance(returned, tuple) and len(returned) == 2 and callable(returned[1])):
            got = f"a tuple of {len(returned)}" if isinstance(returned, tuple) else type(returned).__name__
            raise DeclarationError(f"{what} returned {got}; the Closure convention expects (out, backprop), "
                                   "backprop a function of the upstream gradient")
        output, layer.backprop = returned
        return output

    def backward(self, layer, method, upstreams, inputs, every_input):
        return input_gradients(layer.backprop(*upstreams), inputs, every_input, "the backprop its forward returned")
