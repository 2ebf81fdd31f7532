"""Layers of several inputs and outputs, integer inputs and randomness are judged whole, or
refused with a message that names the problem; never passed on their first input alone."""

import dataclasses
from functools import partial

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from parity_tests import Pair, Param, assert_pair, check, grid, parity_matrix
from parity_tests.conventions import Attributes, Functional
from parity_tests.engine.harness import TWIN
from parity_tests.engine.judge import judge_case
from parity_tests.engine.registry import Case, bernoulli, cases, input_maker
from parity_tests.engine.sampling import InvertedDropout
from parity_tests.inputs import normal
from parity_tests.suite import own_cells as own
from parity_tests.suite.pairs import REGISTRY
from reference import attention, bilinear, dropout, embedding
from torch_impl import dropout as t_dropout

RNG = np.random.default_rng(0)


class TorchRNNStep(nn.Module):
    """The twin of the course's RNN step: tanh(x Wx + h Wh + b) in its (D, H) layouts."""

    def __init__(self, D, H):
        super().__init__()
        self.Wx, self.Wh, self.b = (nn.Parameter(torch.zeros(*s)) for s in ((D, H), (H, H), (H,)))

    def forward(self, x, h):
        return torch.tanh(x @ self.Wx + h @ self.Wh + self.b)


class TorchLSTMStep(TorchRNNStep):
    """The twin of the course's LSTM step: gates i, f, o, g in that order along Wx's columns."""

    def __init__(self, D, H):
        super().__init__(D, 4 * H)
        self.Wh = nn.Parameter(torch.zeros(H, 4 * H))

    def forward(self, x, h, c):
        i, f, o, g = (x @ self.Wx + h @ self.Wh + self.b).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c


def zeros(*dims, name):
    return input_maker(lambda c, rng, dtype: np.zeros(tuple(getattr(c, d) for d in dims), dtype=dtype), name=name)


# -- declarations of other people's layers of several inputs and outputs --------------------------

LSTM_CELL = Pair(
    name="LSTMCell", reference=lambda c: own.LSTMCell(c.D, c.H), torch=lambda c: nn.LSTMCell(c.D, c.H),
    inputs=(normal("N", "D", name="x"), normal("N", "H", name="h0"), normal("N", "H", name="c0")),
    arguments=("x", ("h0", "c0")), outputs=("h", "c"), configs=grid("N{N}D{D}H{H}", N=[3], D=[4], H=[5]),
    params=tuple(Param(n, n) for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")),
    convention=Attributes(grads="grad_{}"),
)
RNN_STEP = Pair(
    name="rnn_step", reference=lambda c: (own.rnn_step_forward, own.rnn_step_backward),
    torch=lambda c: TorchRNNStep(c.D, c.H), inputs=(normal("N", "D", name="x"), normal("N", "H", name="prev_h")),
    configs=grid("N{N}D{D}H{H}", N=[3], D=[4], H=[5]), params=(Param("Wx", "Wx"), Param("Wh", "Wh"), Param("b", "b")),
    convention=Functional(params=("Wx", "Wh", "b")),
)
LSTM_STEP = Pair(
    name="lstm_step", reference=lambda c: (own.lstm_step_forward, own.lstm_step_backward),
    torch=lambda c: TorchLSTMStep(c.D, c.H), outputs=("next_h", "next_c"),
    inputs=(normal("N", "D", name="x"), normal("N", "H", name="prev_h"), normal("N", "H", name="prev_c")),
    configs=grid("N{N}D{D}H{H}", N=[3], D=[4], H=[5]), params=(Param("Wx", "Wx"), Param("Wh", "Wh"), Param("b", "b")),
    convention=Functional(params=("Wx", "Wh", "b")),
)
MATMUL = Pair(
    name="matmul", reference=lambda c: (own.matmul_forward, own.matmul_backward), torch=lambda c: torch.matmul,
    inputs=(normal("N", "K", name="a"), normal("K", "M", name="b")),
    configs=grid("N{N}K{K}M{M}", N=[3], K=[4], M=[4, 2]), convention=Functional(),
)
TRAINING_ARG_DROPOUT = Pair(
    name="TrainingArgDropout", reference=lambda c: own.TrainingArgDropout(c.p, c.seed),
    torch=lambda c: t_dropout.Dropout(c.p, np.random.default_rng(c.seed)), inputs=(normal("N", "C"),),
    configs=grid("N{N}C{C}-p{p}-{mode}", N=[4], C=[25], p=[0.3], mode=["train", "eval"]),
    convention=Attributes(mode_argument="training"), seeded=True, sampling=InvertedDropout("p"),
)

test_declared = parity_matrix(LSTM_CELL, RNN_STEP, LSTM_STEP, MATMUL, TRAINING_ARG_DROPOUT)


def failures(pair, **kwargs) -> str:
    with pytest.raises(AssertionError) as raised:
        assert_pair(pair, seeds=1, **kwargs)
    return str(raised.value)


@pytest.mark.parametrize("pair, expected", [pytest.param(pair, expected, id=pair.name) for pair, expected in [
    (dataclasses.replace(LSTM_CELL, name="StaleStateLSTMCell",
                         reference=lambda c: own.StaleStateLSTMCell(c.D, c.H)),
     ["StaleStateLSTMCell-float32-N3D4H5-seed0: the reference raised ValueError: operands could not be broadcast"]),
    (dataclasses.replace(LSTM_CELL, name="ForgetGateLSTMCell", reference=lambda c: own.ForgetGateLSTMCell(c.D, c.H)),
     ["grad c0 does not match torch", "finite differences: reference wrong"]),
    (dataclasses.replace(LSTM_STEP, name="lstm_step_ignores_dnext_c",
                         reference=lambda c: (own.lstm_step_forward, own.lstm_step_backward_ignores_dnext_c)),
     ["grad prev_c does not match torch"]),
    (dataclasses.replace(MATMUL, name="matmul_transposed_db",
                         reference=lambda c: (own.matmul_forward, own.matmul_backward_transposed_db)),
     ["grad b does not match torch", "transposed layout"]),
    (dataclasses.replace(TRAINING_ARG_DROPOUT, name="TrainingArgDropoutKeepsP",
                         reference=lambda c: own.TrainingArgDropoutKeepsP(c.p, c.seed)),
     ["output does not match torch", "sampling: keep rate: kept 0.3"]),
]])
def test_broken_copy_fails_on_the_tensor_it_breaks(pair, expected):
    text = failures(pair)
    for fragment in expected:
        assert fragment in text, text[:3000]


def test_a_backward_one_gradient_short_is_a_declaration_error_naming_it():
    short = dataclasses.replace(RNN_STEP, reference=lambda c: (own.rnn_step_forward, own.rnn_step_backward_no_dprev_h))
    with pytest.raises(ValueError, match=r"expects 5 values \(dx, dprev_h, dWx, dWh, db\)"):
        assert_pair(short, seeds=1)

    class FirstOnly(bilinear.Bilinear):
        def backward(self, grad_out):
            return super().backward(grad_out)[0]

    with pytest.raises(ValueError, match=r"differentiates 2 input\(s\) \(x1, x2\): no gradient for x2"):
        assert_pair(dataclasses.replace(REGISTRY["Bilinear"], reference=lambda c: FirstOnly(c.in1, c.in2, c.out)),
                    seeds=1)


def test_a_wrong_gradient_of_a_later_input_fails():
    """q, k, v declared as three inputs: a dk 5x too large fails (only dq was judged before)."""
    original = attention.ScaledDotProductAttention.backward

    def dk_five_times(self, grad_out):
        dq, dk, dv = original(self, grad_out)
        return dq, 5 * dk, dv

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(attention.ScaledDotProductAttention, "backward", dk_five_times)
        text = failures(REGISTRY["ScaledDotProductAttention"])
    assert "grad k does not match torch" in text and "constant factor: reference = 5 x expected" in text
    assert "grad q does not match" not in text and "grad v does not match" not in text


def test_a_wrong_dropout_gradient_fails_in_float32_too():
    """A twin that draws its own masks once widened the float32 tolerance to 30-67: no longer."""
    original = dropout.Dropout.backward
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dropout.Dropout, "backward", lambda self, g: 3 * original(self, g))
        text = failures(REGISTRY["Dropout"], dtypes=("float32",))
    assert "float32-4x25-p0.1-train-seed0: grad input does not match torch" in text


def dropout_with_twin(name: str, twin, seeded: bool):
    """The Dropout pair with another twin (``twin(p)``), seeded or not: dtype -> its first case
    at p = 0.5 in training."""
    pair = dataclasses.replace(REGISTRY["Dropout"], name=name, seeded=seeded, sampling=None,
                               reference=lambda c: dropout.Dropout(c.p, np.random.default_rng(getattr(c, "seed", 0))),
                               torch=lambda c: twin(c.p))
    return lambda dtype: next(c for c in cases([pair], dtypes=(dtype,))
                              if c.config.p == 0.5 and c.config.mode == "train" and not c.first_dtype)


@pytest.mark.parametrize("seeded", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_twin_that_draws_from_torchs_generator_is_refused(seeded, dtype):
    """torch's nn.Dropout draws from torch's global generator: refused in either dtype."""
    case = dropout_with_twin("TorchDropout", nn.Dropout, seeded)(dtype)
    state = torch.default_generator.get_state()
    verdicts = judge_case(case)
    assert [v.kind for v in verdicts] == [TWIN] and not verdicts[0].passed
    assert "the torch twin draws from torch's global generator: randomness the pair does not share" in \
        verdicts[0].message
    assert "declare seeded=True" in verdicts[0].message
    assert torch.equal(torch.default_generator.get_state(), state), "the harness put the generator back"


class OwnNoiseDropout(nn.Module):
    """A dropout twin with a NumPy generator of its own, unseeded: nothing global moves."""

    def __init__(self, p):
        super().__init__()
        self.p, self.rng = p, np.random.default_rng()

    def forward(self, x):
        if not self.training:
            return x
        return x * torch.from_numpy(self.rng.random(tuple(x.shape)) >= self.p) / (1 - self.p)


@pytest.mark.parametrize("seeded", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_twin_with_unshared_noise_of_its_own_disagrees_with_itself(seeded, dtype):
    """Its float32 error against the float64 judge would be O(1) and would set the tolerance,
    and in float64 the reference fails against the noise: either way a verdict rests on the
    twin, so it runs again in float64 on the same draw, disagrees, and the case fails on that."""
    verdicts = judge_case(dropout_with_twin("OwnNoiseDropout", OwnNoiseDropout, seeded)(dtype))
    assert [v.kind for v in verdicts] == [TWIN] and not verdicts[0].passed
    assert "the torch twin disagrees with itself: two float64 runs on the same draw differ in output" in \
        verdicts[0].message
    assert ("generators made from config.seed" if seeded else "declare seeded=True") in verdicts[0].message


def test_a_twin_runs_only_where_a_verdict_needs_it(monkeypatch):
    """A float32 case whose tensors are all well within the tolerance less its torch term runs
    the float64 judge alone, and reports headrooms against that rest; one beyond half of it runs
    the twin in float32 for torch's own error, and, where a verdict then leans on that error, in
    float64 once more to see it agrees with itself."""
    from parity_tests.engine import harness, judge, tolerances

    runs, run_torch = [], harness.run_torch

    def counted(pair, setup, dtype, *args, **kwargs):
        runs.append(dtype)
        return run_torch(pair, setup, dtype, *args, **kwargs)

    monkeypatch.setattr(harness, "run_torch", counted)
    case = next(c for c in cases([REGISTRY["Linear"]]) if c.dtype == "float32")
    verdicts = judge_case(case)
    assert all(v.passed and not v.twin_matters and v.headroom <= tolerances.WITHOUT_TWIN for v in verdicts)
    assert runs == [torch.float64]
    runs.clear()
    # with no fixed part left, the tolerance is torch's own error alone: every verdict needs the twin
    bare = dataclasses.replace(tolerances.DEFAULT["float32"], rtol=0.0, scale=0.0, floor=0.0)
    monkeypatch.setitem(judge.tolerances.DEFAULT, "float32", bare)
    verdicts = judge_case(case)
    assert any(v.twin_matters for v in verdicts) and all(v.atol > 0 for v in verdicts if v.max_abs_error > 0)
    assert runs == [torch.float64, torch.float32, torch.float64]


def test_sampling_catches_p_and_1_minus_p_swapped_even_when_the_twin_swaps_too():
    def keeps_p(self, x):
        y = original(self, x)
        if self.training:
            self.mask = ~self.mask
            y = x * self.mask / (1 - self.p)
        return y

    original = dropout.Dropout.forward
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dropout.Dropout, "forward", keeps_p)
        patch.setattr(t_dropout.Dropout, "forward", lambda self, x: x * torch.from_numpy(
            self.rng.random(tuple(x.shape)) < self.p) / (1 - self.p) if self.training else x)
        case = next(c for c in cases([REGISTRY["Dropout"]]) if c.config.p == 0.1 and c.config.mode == "train")
        verdicts = judge_case(case)
    assert [v.check for v in verdicts if not v.passed] == ["sampling: keep rate"]
    assert "kept 0.1" in next(v.message for v in verdicts if not v.passed)


def test_a_structural_zero_passes_when_declared_and_fails_undeclared():
    """One RNN step from h = 0: dWh = prev_h^T da is zero for a reason."""
    from_zero = dataclasses.replace(RNN_STEP, inputs=(RNN_STEP.inputs[0], zeros("N", "H", name="prev_h")))
    assert "grad Wh: the expected tensor is zero everywhere" in failures(from_zero)
    declared = dataclasses.replace(from_zero, structural_zeros={"grad Wh": "prev_h = 0, so dWh = prev_h^T da = 0"})
    verdicts = judge_case(Case(declared, declared.configs[0], "float64", 0))
    assert all(v.passed for v in verdicts)
    assert next(v for v in verdicts if v.check == "grad Wh").note == "structurally zero: prev_h = 0, so dWh = " \
                                                                     "prev_h^T da = 0"
    assert "declared structurally zero" in failures(dataclasses.replace(RNN_STEP, structural_zeros={"grad Wh": "-"}))


def test_an_upstream_tuple_and_a_side_effect_on_a_later_upstream():
    class TupleUpstream(own.LSTMCell):
        def backward(self, upstreams):
            return super().backward(*upstreams)

    assert assert_pair(dataclasses.replace(LSTM_CELL, reference=lambda c: TupleUpstream(c.D, c.H), upstream="tuple"))

    class ClobbersDc(own.LSTMCell):
        def backward(self, dh_next, dc_next):
            grads = super().backward(dh_next, dc_next)
            dc_next *= 0  # the caller's upstream, zeroed in place
            return grads

    text = failures(dataclasses.replace(LSTM_CELL, reference=lambda c: ClobbersDc(c.D, c.H)))
    assert "side effect: backward changed the caller's upstream gradient of c in place" in text


# -- the one-call check: every input, every output --------------------------------------------------


def verdict_line(result, dtype="float64") -> str:
    return next(line for line in str(result).splitlines() if line.startswith(f"  {dtype}:"))


def test_check_a_bilinear_layer_judges_both_inputs():
    x1, x2 = RNG.standard_normal((4, 3)), RNG.standard_normal((4, 5))
    result = check(bilinear.Bilinear(3, 5, 2), nn.Bilinear(3, 5, 2), x1, x2, verbose=False)
    assert result and "(output, grad input, grad input1, grad W, grad b)" in verdict_line(result)

    class ThreeTimesDx2(bilinear.Bilinear):
        def backward(self, grad_out):
            dx1, dx2 = super().backward(grad_out)
            return dx1, 3 * dx2

    result = check(ThreeTimesDx2(3, 5, 2), nn.Bilinear(3, 5, 2), x1, x2, verbose=False, raises=False)
    assert not result and "4 of 5 tensors match torch; failed: grad input1 (the worst " in verdict_line(result)
    assert "finite differences: reference wrong" in str(result)


def test_check_attention_an_embedding_and_an_lstm_cell():
    q, k, v = RNG.standard_normal((2, 3, 4)), RNG.standard_normal((2, 5, 4)), RNG.standard_normal((2, 5, 6))
    result = check(attention.ScaledDotProductAttention(), F.scaled_dot_product_attention, q, k, v,
                   names=("q", "k", "v"), verbose=False)
    assert result and "(output, grad q, grad k, grad v)" in verdict_line(result)

    idx = np.array([[0, 3, 3], [1, 4, 0]])
    result = check(embedding.Embedding(5, 3), nn.Embedding(5, 3), idx, verbose=False)
    assert result and "(output, grad weight)" in verdict_line(result)

    x, h0, c0 = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 5)), RNG.standard_normal((3, 5))
    result = check(own.LSTMCell(4, 5), nn.LSTMCell(4, 5), x, (h0, c0), verbose=False)
    assert result and verdict_line(result).startswith("  float64: 9 of 9 tensors match torch (output0, output1, "
                                                      "grad input, grad input1, grad input2, grad weight_ih")
    assert not check(own.StaleStateLSTMCell(4, 5), nn.LSTMCell(4, 5), x, (h0, c0), verbose=False, raises=False)


def test_check_an_index_output_compared_exactly():
    def max_forward(x):
        index = x.argmax(axis=1)
        return np.take_along_axis(x, index[:, None], 1)[:, 0], index, (x.shape, index)

    def max_backward(dvalues, cache):
        shape, index = cache
        dx = np.zeros(shape, dtype=dvalues.dtype)
        dx[np.arange(shape[0]), index] = dvalues
        return dx

    x = RNG.standard_normal((4, 6))
    result = check((max_forward, max_backward), lambda x: tuple(torch.max(x, dim=1)), x, verbose=False)
    assert result and "(output0, output1, grad input)" in verdict_line(result)
    result = check((lambda x: (*max_forward(x)[:1], max_forward(x)[1] + 1, max_forward(x)[2]), max_backward),
                   lambda x: tuple(torch.max(x, dim=1)), x, verbose=False, raises=False)
    assert not result and "output1: differs from torch (compared exactly)" in str(result)


def test_a_loss_target_is_declared_constant():
    from reference.losses import MSELoss

    pred, target = RNG.standard_normal((4, 3)), RNG.standard_normal((4, 3))
    with pytest.raises(ValueError, match=r"differentiates 2 input\(s\) \(input, input1\): no gradient for input1"):
        check(MSELoss(), nn.MSELoss(), pred, target, verbose=False)
    assert check(MSELoss(), nn.MSELoss(), pred, target, constant=("input1",), verbose=False)


def test_nested_outputs_each_with_its_own_upstream():
    """An LSTM's (out, (hT, cT)): three outputs, nested as torch's nn.LSTM returns them."""

    class Sequence(own.LSTMCell):
        def forward(self, x, state):
            h, c = super().forward(x, state)
            return h, (h, c)

        def backward(self, d_out, d_state):
            dh, dc = d_state
            return super().backward(d_out + dh, dc)

    class TorchSequence(nn.LSTMCell):
        def forward(self, x, state):
            h, c = super().forward(x, state)
            return h, (h, c)

    pair = dataclasses.replace(LSTM_CELL, name="LSTMSequence", reference=lambda c: Sequence(c.D, c.H),
                               torch=lambda c: TorchSequence(c.D, c.H), outputs=("out", ("hT", "cT")))
    verdicts = judge_case(Case(pair, pair.configs[0], "float64", 0))
    assert all(v.passed for v in verdicts)
    assert [v.check for v in verdicts][:3] == ["output out", "output hT", "output cT"]

    class ForgetsDhT(Sequence):
        def backward(self, d_out, d_state):
            return own.LSTMCell.backward(self, d_out, d_state[1])  # the final state's dh dropped

    assert "grad h0 does not match torch" in failures(dataclasses.replace(pair, reference=lambda c: ForgetsDhT(c.D,
                                                                                                            c.H)))


def dropout_forward(x, keep, p):
    return x * keep / (1 - p), (keep, p)


def dropout_backward(dout, cache):
    keep, p = cache
    return dout * keep / (1 - p)


def test_noise_the_harness_draws_and_hands_to_both_sides():
    """A keep-mask as a constant input: a functional dropout and torch's own arithmetic."""
    pair = Pair(name="dropout_by_mask", reference=lambda c: (partial(dropout_forward, p=c.p), dropout_backward),
                torch=lambda c: lambda x, keep: x * keep / (1 - c.p),
                inputs=(normal("N", "C"), bernoulli("N", "C", p="keep", name="keep")),
                configs=grid("N{N}C{C}-p{p}", N=[4], C=[25], p=[0.5], keep=[0.5]), convention=Functional())
    assert assert_pair(pair, seeds=1)
    unmasked = dataclasses.replace(pair, reference=lambda c: (partial(dropout_forward, p=c.p),
                                                              lambda dout, cache: dout / (1 - cache[1])))
    assert "grad input does not match torch" in failures(unmasked)
