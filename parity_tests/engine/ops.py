"""The op catalog: what an autograd engine is checked on, one line an op, as data (the idea
of tinygrad's ``test_ops.py`` and PyTorch's OpInfo, for anyone's engine).

An ``Op`` is ``Op(name, torch, engine, inputs, configs)``: the torch expression that judges
it, ``torch(config, *operands)``; the default engine spelling, ``engine(config, *operands)``
(None where it is the same expression: ``x.exp()``, ``a @ b``); the input makers (each named;
every floating operand is differentiated); and the grid. The default spellings are NumPy's
names as a tensor's methods (``x.sum(axis=..., keepdims=...)``, ``x.var(axis=..., ddof=...)``,
``x.swapaxes(0, 1)``, ``x.transpose(axes)``), torch's where NumPy has none (``x.relu()``,
``x.softmax(axis=...)``, ``x.expand(shape)``, ``x.split(sizes, axis=...)``), and the functions of
several tensors on the tensor's class (``type(a).concatenate((a, b, c), axis=0)``,
``type(a).where(cond, a, b)``). An engine that spells an op otherwise declares its spelling.

``SEMANTICS`` check the engine itself, each made of the engine's own spellings of catalog
ops (``op.mul(x, x)``): a tensor used twice, a diamond graph, gradients that accumulate over
two backward calls and are cleared by zero_grad, a leaf's dtype, a broadcast gradient summed
back to its operand, backward through a view to its base. Some grids hold a configuration
torch refuses (a matmul of mismatched sizes): the engine must refuse it too.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from parity_tests.engine.engines import Engine, EngineCall
from parity_tests.engine.layouts import DeclarationError
from parity_tests.engine.registry import (
    Config,
    Pair,
    bernoulli,
    grid,
    input_maker,
    integers,
    normal,
    normal_or_tied,
    shape_of,
)
from parity_tests.engine.structure import Structure


@dataclass(frozen=True)
class Op:
    """One catalog entry (see the module doc)."""

    name: str
    torch: Callable
    engine: Callable | None
    inputs: tuple[Callable, ...]
    configs: tuple[Config, ...]
    outputs: Structure = "output"
    arguments: Structure | None = None  # how the operands are passed: (("a", "b", "c"),) for one tuple of three
    family: str = ""

    @property
    def default_spelling(self) -> Callable:
        return self.engine if self.engine is not None else self.torch


@dataclass(frozen=True)
class Semantic(Op):
    """A check of the engine itself: ``engine(op, config, *operands)`` builds it from the
    engine's spellings of the catalog ops it ``uses`` (``op.mul(x, y)``); ``calls`` says how
    backward is run (see ``engines.EngineCall``)."""

    uses: tuple[str, ...] = ()
    calls: str = "once"


# -- input makers and grids ------------------------------------------------------------------


def positive(*dims, name=None):
    """Values in [0.5, 2): the domain of log and sqrt, a base raised to any power."""

    def make(config, rng, dtype):
        return rng.uniform(0.5, 2.0, shape_of(config, dims)).astype(dtype)

    return input_maker(make, name=name, scalable=False)


def nonzero(*dims, name=None):
    """Values of either sign and magnitude in [0.5, 2): a divisor."""

    def make(config, rng, dtype):
        shape = shape_of(config, dims)
        return (rng.choice([-1.0, 1.0], shape) * rng.uniform(0.5, 2.0, shape)).astype(dtype)

    return input_maker(make, name=name, scalable=False)


def bases(*dims, name=None):
    """The base of ``x ** c.p``: normal for an integer power, positive for any other."""
    signed, unsigned = normal(*dims), positive(*dims)
    return input_maker(lambda c, rng, dtype: (signed if float(c.p).is_integer() else unsigned)(c, rng, dtype),
                       name=name, scalable=False)


def extremes(*dims, name=None):
    """Normal values (small integers with ``config.ties``), the first -3 and the last 3: against
    an operand ``within`` (-2.5, 2.5), each side of a maximum or minimum wins somewhere, however
    it is broadcast."""
    drawn = normal_or_tied(*dims)

    def make(config, rng, dtype):
        values = drawn(config, rng, dtype)
        values.flat[0], values.flat[-1] = -3, 3
        return values

    return input_maker(make, name=name, scalable=False)


def within(*dims, name=None):
    """Normal values (small integers with ``config.ties``) clipped to [-2.5, 2.5]."""
    drawn = normal_or_tied(*dims)
    return input_maker(lambda c, rng, dtype: np.clip(drawn(c, rng, dtype), -2.5, 2.5), name=name, scalable=False)


def indices(size: Callable, *dims, name=None):
    """Integer indices in [0, size(config)), the last the same as the first: an index used
    twice, whose gradient must add up."""

    def make(config, rng, dtype):
        drawn = rng.integers(0, size(config), shape_of(config, dims))
        drawn.flat[-1] = drawn.flat[0]
        return drawn

    return input_maker(make, name=name)


def condition(*dims, name=None):
    """A boolean condition, True with probability 1/2, its first element True and its last
    False: both branches of a where always take some gradient."""

    def make(config, rng, dtype):
        mask = bernoulli(*dims, p=0.5)(config, rng, dtype)
        mask.flat[0], mask.flat[-1] = True, False
        return mask

    return input_maker(make, name=name)


def dims(shape) -> str:
    return "x".join(str(n) for n in shape) if shape else "scalar"


def together(names: str, rows) -> dict:
    """Grid axes ``names`` (space-separated) taken together, a row of values at a time, not
    crossed: ``grid(..., **together("a b", [((3, 4), (4,)), ((3, 1), (1, 4))]))``."""
    keys = names.split()
    return {"row": rows, **{key: (lambda c, i=i: c.row[i]) for i, key in enumerate(keys)}}


def _axis(axis) -> str:
    return "all" if axis is None else "+".join(map(str, axis)) if isinstance(axis, tuple) else str(axis)


X = (normal("x", name="x"),)
AB = (normal("a", name="a"), normal("b", name="b"))
ABC = (normal("a", name="a"), normal("b", name="b"), normal("c", name="c"))
TIED_X = (normal_or_tied("x", name="x"),)
TIED_AB = (extremes("a", name="a"), within("b", name="b"))
OFFSET_X = (normal("x", name="x", scale=3.0, distributions=("offset",)),)  # a shift a stable softmax survives

ELEMENTWISE = grid(lambda c: dims(c.x), x=[(4, 5)])  # 20 elements: never all on one side of a kink
# broadcasting: equal shapes, a trailing vector, an outer sum, a rank lifted, a 0-d operand
BROADCASTS = [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((2, 3, 4), (3, 1)), ((3, 4), ())]
BINARY = grid(lambda c: f"{dims(c.a)}-{dims(c.b)}", **together("a b", BROADCASTS))
TIES = grid(lambda c: f"{dims(c.a)}-{dims(c.b)}-ties", **together("a b", BROADCASTS[:2]), ties=[True])
UNBROADCASTABLE = grid(lambda c: f"{dims(c.a)}-{dims(c.b)}", **together("a b", [((3, 4), (3,))]))  # torch refuses
REDUCTION = grid(lambda c: f"axis{_axis(c.axis)}" + ("-keepdims" if c.keepdims else ""),
                 x=[(2, 3, 4)], axis=[None, 1, (0, 2)], keepdims=[False, True])
EXTREMUM = grid(lambda c: f"axis{c.axis}" + ("-keepdims" if c.keepdims else "") + ("-ties" if c.ties else ""),
                x=[(2, 3, 4)], axis=[0, -1], keepdims=[False, True], ties=[False, True],
                where=lambda c: not (c.keepdims and c.ties))
MOMENT = grid(lambda c: f"axis{_axis(c.axis)}-correction{c.correction}" + ("-keepdims" if c.keepdims else ""),
              x=[(2, 3, 4)], axis=[None, 1], correction=[0, 1], keepdims=lambda c: c.axis is not None)
MATMULS = [((4,), (4,)), ((3, 4), (4,)), ((4,), (4, 5)), ((3, 4), (4, 5)), ((2, 3, 4), (2, 4, 5)),
           ((2, 3, 4), (4, 5)), ((2, 1, 3, 4), (3, 4, 5)),
           ((3, 4), (5, 2))]  # torch refuses: the inner sizes differ
INDEX = {"row1": (1,), "cols1to3": (slice(None), slice(1, 3)), "every2nd": (Ellipsis, slice(None, None, 2)),
         "newaxis-last": (None, -1)}


def _at(axis: int, index):
    """``index`` applied along ``axis``: x[:, idx] for axis 1."""
    return (slice(None),) * axis + (index,)


def _family(family: str, *ops: Op) -> tuple[Op, ...]:
    return tuple(dataclasses.replace(op, family=family) for op in ops)


CATALOG: tuple[Op, ...] = (
    *_family(
        "element-wise",
        Op("neg", lambda c, x: -x, None, X, ELEMENTWISE),
        Op("exp", lambda c, x: x.exp(), None, X, ELEMENTWISE),
        Op("log", lambda c, x: x.log(), None, (positive("x", name="x"),), ELEMENTWISE),
        Op("sqrt", lambda c, x: x.sqrt(), None, (positive("x", name="x"),), ELEMENTWISE),
        Op("tanh", lambda c, x: x.tanh(), None, X, ELEMENTWISE),
        Op("sigmoid", lambda c, x: x.sigmoid(), None, X, ELEMENTWISE),
        Op("relu", lambda c, x: x.relu(), None, X, ELEMENTWISE),
        Op("abs", lambda c, x: x.abs(), None, X, ELEMENTWISE),
        Op("sin", lambda c, x: x.sin(), None, X, ELEMENTWISE),
        Op("cos", lambda c, x: x.cos(), None, X, ELEMENTWISE),
        Op("pow_scalar", lambda c, x: x ** c.p, None, (bases("x", name="x"),), grid("p{p}", x=[(4, 5)],
                                                                                     p=[2, 3, 0.5, -1.5])),
        Op("leaky_relu", lambda c, x: F.leaky_relu(x, c.slope), lambda c, x: x.leaky_relu(c.slope), X,
           grid("slope{slope}", x=[(4, 5)], slope=[0.01, 0.2])),
        Op("softplus", lambda c, x: F.softplus(x), lambda c, x: x.softplus(), X, ELEMENTWISE),
        Op("clip", lambda c, x: x.clamp(c.low, c.high), lambda c, x: x.clip(c.low, c.high), X,
           grid("{low}to{high}", x=[(4, 5)], bounds=[(-1.0, 1.0), (0.0, None)], low=lambda c: c.bounds[0],
                high=lambda c: c.bounds[1])),
        Op("rsub", lambda c, x: 2.0 - x, None, X, ELEMENTWISE),
        Op("rdiv", lambda c, x: 2.0 / x, None, (nonzero("x", name="x"),), ELEMENTWISE),
    ),
    *_family(
        "binary, broadcast",
        Op("add", lambda c, a, b: a + b, None, AB, BINARY + UNBROADCASTABLE),
        Op("sub", lambda c, a, b: a - b, None, AB, BINARY),
        Op("mul", lambda c, a, b: a * b, None, AB, BINARY),
        Op("div", lambda c, a, b: a / b, None, (normal("a", name="a"), nonzero("b", name="b")), BINARY),
        Op("pow", lambda c, a, b: a ** b, None, (positive("a", name="a"), normal("b", name="b")), BINARY),
        Op("maximum", lambda c, a, b: torch.maximum(a, b), lambda c, a, b: a.maximum(b), TIED_AB, BINARY + TIES),
        Op("minimum", lambda c, a, b: torch.minimum(a, b), lambda c, a, b: a.minimum(b), TIED_AB, BINARY + TIES),
    ),
    *_family(
        "reduction",
        Op("sum", lambda c, x: x.sum(dim=c.axis, keepdim=c.keepdims),
           lambda c, x: x.sum(axis=c.axis, keepdims=c.keepdims), X, REDUCTION),
        Op("mean", lambda c, x: x.mean(dim=c.axis, keepdim=c.keepdims),
           lambda c, x: x.mean(axis=c.axis, keepdims=c.keepdims), X, REDUCTION),
        # along a dim, torch's max and min send the gradient to the first of tied elements
        Op("max", lambda c, x: x.max(dim=c.axis, keepdim=c.keepdims).values,
           lambda c, x: x.max(axis=c.axis, keepdims=c.keepdims), TIED_X, EXTREMUM),
        Op("min", lambda c, x: x.min(dim=c.axis, keepdim=c.keepdims).values,
           lambda c, x: x.min(axis=c.axis, keepdims=c.keepdims), TIED_X, EXTREMUM),
        Op("var", lambda c, x: x.var(dim=c.axis, correction=c.correction, keepdim=c.keepdims),
           lambda c, x: x.var(axis=c.axis, ddof=c.correction, keepdims=c.keepdims), X, MOMENT),
        Op("std", lambda c, x: x.std(dim=c.axis, correction=c.correction, keepdim=c.keepdims),
           lambda c, x: x.std(axis=c.axis, ddof=c.correction, keepdims=c.keepdims), X, MOMENT),
        Op("prod", lambda c, x: x.prod(dim=c.axis, keepdim=c.keepdims),
           lambda c, x: x.prod(axis=c.axis, keepdims=c.keepdims), X,
           grid(lambda c: f"axis{c.axis}" + ("-keepdims" if c.keepdims else ""), x=[(2, 3, 4)], axis=[1, -1],
                keepdims=lambda c: c.axis == 1)),
        Op("logsumexp", lambda c, x: x.logsumexp(dim=c.axis, keepdim=c.keepdims),
           lambda c, x: x.logsumexp(axis=c.axis, keepdims=c.keepdims), OFFSET_X,
           grid(lambda c: f"axis{_axis(c.axis)}" + ("-keepdims" if c.keepdims else ""), x=[(2, 3, 4)],
                axis=[-1, (0, 2)], keepdims=lambda c: c.axis != -1)),
    ),
    *_family(
        "matmul",
        Op("matmul", lambda c, a, b: a @ b, None, AB,
           grid(lambda c: f"{dims(c.a)}@{dims(c.b)}", **together("a b", MATMULS))),
    ),
    *_family(
        "shape",
        Op("reshape", lambda c, x: x.reshape(c.shape), None, X,
           grid(lambda c: f"{dims(c.x)}to{dims(c.shape)}",
                **together("x shape", [((3, 4), (12,)), ((3, 4), (2, -1, 3)), ((2, 3, 4), (4, 6)),
                                       ((3, 4), (5, -1))]))),  # torch refuses: 12 elements are no multiple of 5
        Op("transpose", lambda c, x: x.transpose(*c.axes), lambda c, x: x.swapaxes(*c.axes), X,
           grid(lambda c: f"axes{c.axes[0]}and{c.axes[1]}", x=[(2, 3, 4)], axes=[(0, 2), (1, -1)])),
        Op("T", lambda c, x: x.T, None, X, grid(lambda c: dims(c.x), x=[(3, 4)])),
        Op("permute", lambda c, x: x.permute(c.axes), lambda c, x: x.transpose(c.axes), X,
           grid(lambda c: "axes" + "".join(map(str, c.axes)), x=[(2, 3, 4)], axes=[(2, 0, 1), (1, 0, 2)])),
        Op("expand", lambda c, x: x.expand(c.shape), None, X,
           grid(lambda c: f"{dims(c.x)}to{dims(c.shape)}",
                **together("x shape", [((3, 1), (3, 4)), ((4,), (2, 3, 4))]))),
        Op("squeeze", lambda c, x: x.squeeze(c.axis), lambda c, x: x.squeeze(axis=c.axis), X,
           grid(lambda c: f"{dims(c.x)}-axis{_axis(c.axis)}",
                **together("x axis", [((3, 1, 4), 1), ((1, 3, 1), (0, 2))]))),
        Op("unsqueeze", lambda c, x: x.unsqueeze(c.axis), None, X, grid("axis{axis}", x=[(3, 4)], axis=[0, -1])),
        Op("flatten", lambda c, x: x.flatten(), None, X, grid(lambda c: dims(c.x), x=[(2, 3, 4)])),
    ),
    *_family(
        "indexing",
        Op("index_basic", lambda c, x: x[c.index], None, X,
           grid("{at}", x=[(3, 4)], at=list(INDEX), index=lambda c: INDEX[c.at])),
        Op("index_advanced", lambda c, x, idx: x[_at(c.axis, idx)], None,
           (normal("x", name="x"), indices(lambda c: c.x[c.axis], "idx", name="idx")),
           grid(lambda c: f"{dims(c.x)}-axis{c.axis}-idx{dims(c.idx)}",
                **together("x axis idx", [((5, 4), 0, (6,)), ((3, 5), 1, (6,)), ((5, 4), 0, (2, 3))]))),
        Op("index_mask", lambda c, x, mask: x[mask], None, (normal("x", name="x"), condition("x", name="mask")),
           grid(lambda c: dims(c.x), x=[(3, 4)])),
        Op("take_along_axis", lambda c, x, idx: torch.take_along_dim(x, idx, dim=c.axis),
           lambda c, x, idx: x.take_along_axis(idx, axis=c.axis),
           (normal("x", name="x"), indices(lambda c: c.x[c.axis], "idx", name="idx")),
           grid(lambda c: f"axis{c.axis}-idx{dims(c.idx)}",
                **together("x axis idx", [((4, 5), 1, (4, 3)), ((4, 5), 0, (2, 5))]))),
    ),
    *_family(
        "join and split",
        Op("concatenate", lambda c, ts: torch.cat(ts, dim=c.axis),
           lambda c, ts: type(ts[0]).concatenate(ts, axis=c.axis), ABC,
           grid("axis{axis}", **together("a b c axis", [((2, 4), (1, 4), (3, 4), 0), ((3, 2), (3, 1), (3, 3), -1)])),
           arguments=(("a", "b", "c"),)),
        Op("stack", lambda c, ts: torch.stack(ts, dim=c.axis), lambda c, ts: type(ts[0]).stack(ts, axis=c.axis), ABC,
           grid("axis{axis}", a=[(3, 4)], b=[(3, 4)], c=[(3, 4)], axis=[0, -1]), arguments=(("a", "b", "c"),)),
        Op("split", lambda c, x: x.split(list(c.sizes), dim=c.axis), lambda c, x: x.split(c.sizes, axis=c.axis), X,
           grid(lambda c: f"{dims(c.x)}-axis{c.axis}", **together("x axis", [((6, 4), 0), ((4, 6), -1)]),
                sizes=lambda c: (1, 2, 3)),
           outputs=("part0", "part1", "part2")),
    ),
    *_family(
        "where",
        Op("where", lambda c, cond, a, b: torch.where(cond, a, b), lambda c, cond, a, b: type(a).where(cond, a, b),
           (condition("cond", name="cond"), normal("a", name="a"), normal("b", name="b")),
           grid(lambda c: f"{dims(c.cond)}-{dims(c.a)}-{dims(c.b)}",
                **together("cond a b", [((3, 4), (3, 4), (3, 4)), ((3, 4), (3, 4), (4,)), ((3, 1), (3, 4), ())]))),
    ),
    *_family(
        "softmax and losses",
        Op("softmax", lambda c, x: x.softmax(dim=c.axis), lambda c, x: x.softmax(axis=c.axis), OFFSET_X,
           grid("axis{axis}", x=[(3, 5)], axis=[0, -1])),
        Op("log_softmax", lambda c, x: x.log_softmax(dim=c.axis), lambda c, x: x.log_softmax(axis=c.axis), OFFSET_X,
           grid("axis{axis}", x=[(3, 5)], axis=[0, -1])),
        Op("cross_entropy", lambda c, x, t: F.cross_entropy(x, t, reduction=c.reduction),
           lambda c, x, t: x.cross_entropy(t, reduction=c.reduction),
           (normal("N", "C", name="logits", scale=3.0, distributions=("offset",)), integers("C", "N", name="target")),
           grid("N{N}C{C}-{reduction}", N=[4], C=[5], reduction=["mean", "sum"])),
    ),
    *_family(
        "convolution and pooling",
        Op("conv2d", lambda c, x, w, b: F.conv2d(x, w, b, stride=c.stride, padding=c.padding),
           lambda c, x, w, b: x.conv2d(w, b, stride=c.stride, padding=c.padding),
           (normal("x", name="x"), normal("w", name="w"), normal("b", name="b")),
           grid("stride{stride}-padding{padding}", x=[(2, 3, 5, 5)], w=[(4, 3, 3, 3)], b=[(4,)], stride=[1, 2],
                padding=lambda c: c.stride - 1)),
        Op("max_pool2d", lambda c, x: F.max_pool2d(x, c.k, c.stride), lambda c, x: x.max_pool2d(c.k, c.stride),
           TIED_X, grid(lambda c: f"k{c.k}s{c.stride}" + ("-ties" if c.ties else ""), x=[(2, 2, 6, 6)],
                        window=[(2, 2), (3, 1)], ties=[False, True], k=lambda c: c.window[0],
                        stride=lambda c: c.window[1], where=lambda c: not c.ties or c.k == 2)),
        Op("avg_pool2d", lambda c, x: F.avg_pool2d(x, c.k, c.stride), lambda c, x: x.avg_pool2d(c.k, c.stride), X,
           grid("k{k}s{stride}", x=[(2, 2, 6, 6)], window=[(2, 2), (3, 1)], k=lambda c: c.window[0],
                stride=lambda c: c.window[1])),
    ),
)

SQUARE = grid(lambda c: dims(c.x), x=[(3, 4)])
PAIR_OF = grid(lambda c: f"{dims(c.a)}-{dims(c.b)}", a=[(3, 4)], b=[(3, 4)])

SEMANTICS: tuple[Semantic, ...] = tuple(dataclasses.replace(s, family="semantics") for s in (
    # a tensor used twice by one op: both uses' gradients add up
    Semantic("x_times_x", lambda c, x: x * x, lambda op, c, x: op.mul(x, x), X, SQUARE, uses=("mul",)),
    Semantic("x_plus_x", lambda c, x: x + x, lambda op, c, x: op.add(x, x), X, SQUARE, uses=("add",)),
    # y = a * b reaches the output on two paths: its gradient is complete only once both are in,
    # so it must be sent on once, in topological order, not once a path
    Semantic("diamond", lambda c, a, b: (a * b) * (a * b) + a * b,
             lambda op, c, a, b: (lambda y: op.add(op.mul(y, y), y))(op.mul(a, b)), AB, PAIR_OF,
             uses=("mul", "add")),
    # two backward calls of half the upstream gradient each: the leaves' gradients add up, as torch's .grad
    Semantic("accumulates", lambda c, a, b: a * b, lambda op, c, a, b: op.mul(a, b), AB, PAIR_OF, uses=("mul",),
             calls="halves"),
    # a first backward, zero_grad, then the case's own: nothing of the first is left
    Semantic("zero_grad", lambda c, a, b: a * b, lambda op, c, a, b: op.mul(a, b), AB, PAIR_OF, uses=("mul",),
             calls="zeroed"),
    # the leaf itself as the output: its values and gradient in the dtype it was made in
    Semantic("leaf_dtype", lambda c, x: x, lambda op, c, x: x, X, SQUARE),
    Semantic("broadcast_summed_back", lambda c, a, b: a * b, lambda op, c, a, b: op.mul(a, b), AB,
             grid(lambda c: f"{dims(c.a)}-{dims(c.b)}", **together("a b", [((3, 4), (4,)), ((2, 3, 4), (3, 1))])),
             uses=("mul",)),
    Semantic("view_to_base", lambda c, x: x.reshape(-1)[1:],
             lambda op, c, x: op.index_basic(op.reshape(x, shape=(-1,)), index=(slice(1, None),)), X, SQUARE,
             uses=("reshape", "index_basic")),
))

ENTRIES: tuple[Op, ...] = CATALOG + SEMANTICS
BY_NAME: dict[str, Op] = {entry.name: entry for entry in ENTRIES}


# -- an engine's pairs ---------------------------------------------------------------------------


class Spellings:
    """An engine's spellings of the catalog's ops, as a semantic uses them: ``op.mul(x, y)``,
    ``op.reshape(x, shape=(-1,))`` (the op's configuration by keyword)."""

    def __init__(self, engine: Engine):
        self._engine = engine

    def __getattr__(self, name):
        if name not in BY_NAME:
            raise AttributeError(name)
        spelling = self._engine.spelling(BY_NAME[name])
        return lambda *operands, **config: spelling(Config(id=name, **config), *operands)


def spelled(engine: Engine, entry: Op) -> Callable:
    """``(config, *operands) -> result`` on the engine's tensors: its spelling of an op, a semantic
    made of its spellings."""
    if isinstance(entry, Semantic):
        return functools.partial(entry.engine, Spellings(engine))
    return engine.spelling(entry)


def op_pair(engine: Engine, entry: Op) -> Pair:
    """The pair that checks ``engine`` on one catalog entry: its spelling against torch's, every
    floating operand a leaf whose gradient is judged."""
    function, calls = spelled(engine, entry), getattr(entry, "calls", "once")
    return Pair(name=f"{engine.label}.{entry.name}", reference=lambda c: EngineCall(functools.partial(function, c),
                                                                                    calls),
                torch=lambda c: functools.partial(entry.torch, c), inputs=entry.inputs, configs=entry.configs,
                outputs=entry.outputs, arguments=entry.arguments, convention=engine.convention, dtypes=engine.dtypes)


def _uncovered(engine: Engine, entry: Op, declared: dict) -> str | None:
    """Why the engine does not cover a catalog entry, or None where it does."""
    if not isinstance(entry, Semantic):
        return None if entry.name in declared or entry.name not in BY_NAME else "not declared"
    if lacking := [name for name in entry.uses if name not in declared]:
        return f"made of {', '.join(lacking)}, not declared"
    if entry.calls == "zeroed" and engine.zero_grad is None:
        return "the engine declares no zero_grad"
    return None


def _entry(selected) -> Op:
    if isinstance(selected, Op):
        return selected
    if selected not in BY_NAME:
        close = difflib.get_close_matches(str(selected), BY_NAME, n=3)
        raise DeclarationError(f"no catalog entry {selected!r}" + (f" (did you mean {', '.join(close)}?)" if close
                                                                  else f"; the catalog: {', '.join(BY_NAME)}"))
    return BY_NAME[selected]


def engine_pairs(engine: Engine, selection=None) -> tuple[list[Pair], dict[str, str]]:
    """The pairs of every catalog entry ``engine`` covers (of ``selection``, names or Ops, if
    given), and why each other entry is not covered. A selected entry the engine does not
    cover, or a declared name the catalog lacks, is a DeclarationError."""
    declared = engine.declared()
    if unknown := sorted(set(declared) - {op.name for op in CATALOG}):
        semantics = sorted(set(unknown) & {s.name for s in SEMANTICS})
        raise DeclarationError(f"engine {engine.label} declares {unknown}, which are not catalog ops"
                               + (f" ({', '.join(semantics)}: semantics, covered where the ops they are made of are)"
                                  if semantics else f"; the catalog's ops: {', '.join(op.name for op in CATALOG)}"))
    entries = ENTRIES if selection is None else [_entry(s) for s in selection]
    pairs, missing = [], {}
    for entry in entries:
        reason = _uncovered(engine, entry, declared)
        if reason is None:
            pairs.append(op_pair(engine, entry))
        elif selection is not None:
            raise DeclarationError(f"engine {engine.label} does not cover {entry.name}: {reason}")
        else:
            missing[entry.name] = reason
    return pairs, missing


def _never(config):
    raise AssertionError("an entry the engine does not cover is never run")


def not_covered_pairs(engine: Engine, missing: dict[str, str]) -> list[tuple[Pair, str]]:
    """A placeholder pair for each entry not covered, and for float32 where the engine does
    not compute in it: the matrix lists each as skipped, with the reason."""
    def placeholder(name, config_id, dtypes):
        return Pair(name=f"{engine.label}.{name}", reference=_never, torch=_never, inputs=(normal(),),
                    configs=(Config(id=config_id),), backward=None, dtypes=dtypes)

    found = [(placeholder(name, "not-covered", engine.dtypes), f"{engine.label}: {name} not covered: {reason}")
             for name, reason in missing.items()]
    if "float32" not in engine.dtypes:
        found.append((placeholder("float32", "not-run", ("float32",)), f"{engine.label}: float32 not run: the engine "
                                                                        f"declares dtypes={engine.dtypes}"))
    return found
