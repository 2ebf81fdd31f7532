"""Autograd engines checked op by op against the catalog through a declaration alone: the
suite's own NumPy engine over every entry, a scalar engine in at most 10 lines, and broken
copies that fail with the usual explanation."""

import ast
import dataclasses
import inspect
import sys

import numpy as np
import pytest

from parity_tests import CATALOG, SEMANTICS, CheckFailed, DeclarationError, Engine, check, parity_matrix
from parity_tests.engine.ops import engine_pairs
from parity_tests.suite import own_engines as own

# -- the declarations ---------------------------------------------------------------------------

NUMPY_ENGINE = Engine(tensor=own.Tensor, zero_grad="zero_grad", ops=CATALOG)

VALUE_ENGINE = Engine(
    tensor=own.Value, seed=lambda out, g: (out * g).sum(), zero_grad="zero_grad", scalar=True,
    ops=("neg", "add", "sub", "mul", "div", "rsub", "rdiv", "pow_scalar", "exp", "log", "tanh", "sigmoid", "relu",
         "sum", "mean", "prod", "matmul", "reshape", "transpose", "T", "permute", "expand", "squeeze", "unsqueeze",
         "flatten", "index_basic", "index_advanced", "index_mask", "take_along_axis", "concatenate", "stack",
         "split", "where"),
)

test_numpy_engine = parity_matrix(NUMPY_ENGINE)  # every case of every catalog entry, one pytest item a case


def test_the_scalar_engine_declaration_is_at_most_ten_lines():
    tree = ast.parse(inspect.getsource(sys.modules[__name__]))
    spans = {node.targets[0].id: node.end_lineno - node.lineno + 1 for node in tree.body
             if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
             and getattr(node.value.func, "id", "") == "Engine"}
    assert set(spans) == {"NUMPY_ENGINE", "VALUE_ENGINE"} and max(spans.values()) <= 10, spans


def test_the_numpy_engine_covers_every_entry():
    pairs, missing = engine_pairs(NUMPY_ENGINE)
    assert not missing and len(pairs) == len(CATALOG) + len(SEMANTICS) >= 60


def test_the_scalar_engine_passes_what_it_declares_and_lists_the_rest():
    result = check(VALUE_ENGINE, verbose=False)
    text = str(result)
    assert result and text.startswith("engine check of Value: 41 catalog entries (33 ops, 8 semantics), ")
    assert "cases in float32 and float64" in text.splitlines()[0]
    assert "x_times_x, x_plus_x, diamond, accumulates, zero_grad, leaf_dtype, broadcast_summed_back, view_to_base" \
        in text
    assert set(result.not_covered) == {op.name for op in CATALOG} - set(VALUE_ENGINE.declared())
    assert "  not covered 21: sqrt, abs, sin, cos, leaky_relu, softplus, clip, pow, maximum, minimum, max, min, var, " \
           "std, logsumexp, softmax, log_softmax, cross_entropy, conv2d, max_pool2d, avg_pool2d (not declared)" in text


class PythonFloatValue(own.Value):
    """micrograd's numbers exactly: Python floats, so every result is float64."""

    def __init__(self, data, parents=()):
        super().__init__(float(data), parents)


def test_an_engine_of_python_floats_fails_float32_unless_it_declares_float64_alone():
    engine = dataclasses.replace(VALUE_ENGINE, tensor=PythonFloatValue, ops=("exp", "mul"))
    with pytest.raises(CheckFailed, match="PythonFloatValue.exp-float32-4x5-seed0: output: the reference returned "
                                          "float64 for a float32 case"):
        check(engine, verbose=False)
    result = check(dataclasses.replace(engine, dtypes=("float64",)), verbose=False)
    assert result and "  float32: not run: the engine declares dtypes=('float64',)" in str(result)


# -- the broken copies, and what the failure says ------------------------------------------------


@pytest.mark.parametrize("tensor, entries, expected", [pytest.param(*row, id=row[0].__name__) for row in [
    (own.UnsummedBroadcastTensor, ["add", "broadcast_summed_back"],
     ["failed 2: add (12 of 18 cases), broadcast_summed_back (6 of 6 cases)",
      "UnsummedBroadcastTensor.add-float32-3x4-4-seed0: grad b: the reference has shape (3, 4), torch (4,)"]),
    (own.RecursiveTensor, ["x_times_x", "diamond", "accumulates"],
     ["passed 2: x_times_x, accumulates", "failed 1: diamond (3 of 3 cases)",
      "RecursiveTensor.diamond-float32-3x4-3x4-seed0: grad a does not match torch",
      "finite differences: reference wrong (they agree with torch)"]),
    (own.OverwritingTensor, ["x_times_x", "accumulates", "mul"],
     ["passed 1: mul", "OverwritingTensor.x_times_x-float32-3x4-seed0: grad x does not match torch",
      "OverwritingTensor.accumulates-float32-3x4-3x4-seed0: grad a does not match torch",
      "diagnosis: constant factor: reference = 0.5 x expected"]),
    (own.TieSplittingTensor, ["max"],
     ["failed 1: max (6 of 18 cases)", "TieSplittingTensor.max-float32-axis0-ties-seed0: grad x does not match torch"]),
    (own.LastAxisSoftmaxTensor, ["softmax"],
     ["failed 1: softmax (5 of 10 cases)", "LastAxisSoftmaxTensor.softmax-float32-axis0-seed0: output does not match "
                                           "torch"]),
]])
def test_broken_copy_fails_with_the_usual_explanation(tensor, entries, expected):
    result = check(dataclasses.replace(NUMPY_ENGINE, tensor=tensor), entries, verbose=False, raises=False)
    text = str(result)
    assert not result and text.endswith("FAILED")
    for fragment in expected + ["re-run:    pytest 'parity_tests/suite/test_engines.py::"
                                "test_broken_copy_fails_with_the_usual_explanation["]:
        assert fragment in text, text[:3000]


class KeepingTensor(own.Tensor):
    def zero_grad(self):
        pass  # the gradient kept


class DetachingTensor(own.Tensor):
    def reshape(self, shape):
        return type(self)(self.data.reshape(shape))  # a new leaf: the graph starts again


class Float64Tensor(own.Tensor):
    def __init__(self, data, parents=(), backward=None):
        super().__init__(np.asarray(data, dtype=np.float64), parents, backward)


@pytest.mark.parametrize("tensor, entry, expected", [
    (KeepingTensor, "zero_grad", "diagnosis: constant factor: reference = 2 x expected"),
    (DetachingTensor, "view_to_base", "DetachingTensor.view_to_base-float32-3x4-seed0: grad x does not match torch"),
    (Float64Tensor, "leaf_dtype", "Float64Tensor.leaf_dtype-float32-3x4-seed0: output: the reference returned float64 "
                                  "for a float32 case"),
], ids=["zero_grad", "view_to_base", "leaf_dtype"])
def test_each_semantic_fails_the_engine_that_breaks_it(tensor, entry, expected):
    text = str(check(dataclasses.replace(NUMPY_ENGINE, tensor=tensor), entry, verbose=False, raises=False))
    assert expected in text, text[:3000]


# -- every mechanism of a layer's case applies ------------------------------------------------------


def test_a_configuration_torch_refuses_must_be_refused():
    result = check(NUMPY_ENGINE, "matmul", verbose=False)
    refused = result.cases["matmul"]["Tensor.matmul-float64-3x4@5x2-seed0"]
    assert [v.check for v in refused] == ["refused"] and "so does the reference (ValueError: matmul" in refused[0].note

    class ResizingTensor(own.Tensor):
        def reshape(self, shape):
            try:
                return super().reshape(shape)
            except ValueError:  # sizes that disagree: repeated or cut to fit, silently
                return self._view(np.resize(self.data, [abs(n) for n in shape]))

    result = check(dataclasses.replace(NUMPY_ENGINE, tensor=ResizingTensor), "reshape", verbose=False, raises=False)
    assert "failed 1: reshape (3 of 12 cases)" in str(result)
    accepted = result.cases["reshape"]["ResizingTensor.reshape-float32-3x4to5x-1-seed0"][0]
    assert accepted.message.startswith("ResizingTensor.reshape-float32-3x4to5x-1-seed0: refused: torch refuses this "
                                       "configuration (RuntimeError: shape '[5, -1]' is invalid for input of size 12), "
                                       "but the reference accepts it")


def test_a_leaf_gradient_that_is_the_callers_upstream_is_a_side_effect():
    class SharedTensor(own.Tensor):
        @staticmethod
        def _accumulate(held, grad):
            return grad if held is None else held + grad  # the first gradient kept as handed over

    text = str(check(dataclasses.replace(NUMPY_ENGINE, tensor=SharedTensor), "leaf_dtype", verbose=False,
                     raises=False))
    assert "SharedTensor.leaf_dtype-float32-3x4-seed0: side effect: backward returned (a view of) the caller's " \
           "upstream gradient as the gradient of x" in text


def test_an_engine_whose_backward_takes_no_argument_is_seeded_in_its_own_operations():
    """seed(out, g) = (out * g).sum(): one backward() from it, for several outputs too (split)."""
    seeded = dataclasses.replace(NUMPY_ENGINE, backward=lambda out: out.backward(), seed=lambda out, g: (out * g).sum())
    assert check(seeded, ["sum", "split", "diamond", "accumulates", "zero_grad"], verbose=False)


def test_semantics_are_made_of_the_engines_own_spellings():
    class Renamed(own.Tensor):
        def times(self, other):
            return self * other

    renamed = Engine(tensor=Renamed, ops={"mul": lambda c, a, b: a.times(b)})
    assert check(renamed, ["mul", "x_times_x"], verbose=False)
    wrong = Engine(tensor=Renamed, ops={"mul": lambda c, a, b: a + b})
    assert "failed 2: mul (15 of 15 cases), x_times_x (3 of 3 cases)" in str(check(wrong, ["mul", "x_times_x"],
                                                                                   verbose=False, raises=False))


def test_what_an_engine_does_not_cover_is_said():
    _, missing = engine_pairs(Engine(tensor=own.Tensor, ops=("mul", "reshape")))
    assert missing["zero_grad"] == "the engine declares no zero_grad"
    assert missing["x_plus_x"] == "made of add, not declared"
    assert missing["view_to_base"] == "made of index_basic, not declared"
    assert missing["conv2d"] == "not declared" and "x_times_x" not in missing


def test_the_matrix_lists_every_entry_not_covered_as_skipped():
    matrix = parity_matrix(dataclasses.replace(VALUE_ENGINE, ops=("mul",), dtypes=("float64",)))
    assert {"Value.mul", "Value.x_times_x", "Value.leaf_dtype", "Value.conv2d", "Value.float32"} <= \
        {p.name for p in matrix.pairs}
    assert matrix.skipped["Value.conv2d"] == "Value: conv2d not covered: not declared"
    assert matrix.skipped["Value.float32"] == "Value: float32 not run: the engine declares dtypes=('float64',)"
    assert "Value.mul" not in matrix.skipped


def test_bad_declarations_are_refused_with_what_to_declare():
    with pytest.raises(DeclarationError, match=r"declares \['maxium'\], which are not catalog ops"):
        engine_pairs(Engine(tensor=own.Tensor, ops=("maxium",)))
    with pytest.raises(DeclarationError, match=r"\['diamond'\], which are not catalog ops \(diamond: semantics, "
                                               r"covered where the ops they are made of are\)"):
        engine_pairs(Engine(tensor=own.Tensor, ops=("mul", "diamond")))
    with pytest.raises(DeclarationError, match=r"no catalog entry 'maxium' \(did you mean maximum"):
        check(NUMPY_ENGINE, "maxium")
    with pytest.raises(DeclarationError, match="engine Tensor does not cover conv2d: not declared"):
        check(Engine(tensor=own.Tensor, ops=("mul",)), "conv2d")
    with pytest.raises(DeclarationError, match=r"a scalar engine's backward starts from one number; declare seed="):
        Engine(tensor=own.Value, scalar=True, ops=("mul",))
    with pytest.raises(DeclarationError, match="declares value='numbers', but its Tensor has no attribute 'numbers'"):
        check(Engine(tensor=own.Tensor, value="numbers", ops=("mul",)), "mul", raises=False)
