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
        return (layer.named_params() | layer.named_state()).get(name)

    def load(self, layer, values, dtype):
        layer.to(dtype)
        arrays = layer.named_params() | layer.named_state()
        for name, value in values.items():
            arrays[name][...] = value

    def grad(self, layer, name):
        return layer.named_grads().get(name)

    def where(self, name):
        return f"named_grads()[{name!r}]"

    def forward(self, layer, arguments, training=True):
        return layer(*arguments, **self.mode_keywords(training))

    def backward(self, layer, method, upstreams, inputs, every_input):
        return input_gradients(getattr(layer, method)(*upstreams), inputs, every_input,
                               f"{type(layer).__name__}.{method}")


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

    def prepare(self, obj, pair_name):
        if not (isinstance(obj, tuple) and len(obj) == 2 and all(callable(f) for f in obj)):
            raise DeclarationError(f"pair {pair_name}: the Functional convention expects the reference factory to "
                                   f"return (forward, backward), two functions; got {type(obj).__name__}")
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
        returned = layer.backward(*upstreams, layer.cache)
        name = getattr(layer.backward, "__name__", "backward")
        if not self.params:
            return input_gradients(returned, inputs, every_input, name)  # dx alone (relu_backward)
        counts = {len(inputs) + len(self.params), len(every_input) + len(self.params)}
        if not isinstance(returned, tuple) or len(returned) not in counts:
            got = f"a tuple of {len(returned)}" if isinstance(returned, tuple) else type(returned).__name__
            wanted = ", ".join(["d" + n for n in inputs] + ["d" + p for p in self.params])
            raise DeclarationError(f"{name} returned {got}; the Functional convention expects "
                                   f"{len(inputs) + len(self.params)} values ({wanted})")
        *grad_inputs, = returned[:len(returned) - len(self.params)]
        layer.grads = dict(zip(self.params, returned[len(grad_inputs):], strict=True))
        return input_gradients(tuple(grad_inputs), inputs, every_input, name)
