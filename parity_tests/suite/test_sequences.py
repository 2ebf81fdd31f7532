"""The course's sequence layers, checked through the Functional convention alone: a whole RNN
and a whole LSTM (the hidden state of every step, each with its own upstream gradient), word
embedding, a temporal affine layer and the masked temporal softmax loss. Each broken copy
fails on the tensor it breaks."""

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from parity_tests import Pair, Param, assert_pair, grid, parity_matrix
from parity_tests.conventions import Functional
from parity_tests.inputs import input_maker, integers, normal
from parity_tests.suite import own_sequences as own


class TorchRNN(nn.Module):
    """rnn_forward's twin: h_t = tanh(x_t Wx + h_{t-1} Wh + b), the weights in the course's (D, H)
    layouts; autograd backpropagates through time."""

    def __init__(self, D, H):
        super().__init__()
        self.Wx, self.Wh, self.b = (nn.Parameter(torch.zeros(*s)) for s in ((D, H), (H, H), (H,)))

    def forward(self, x, h0):
        h, hs = h0, []
        for x_t in x.unbind(dim=1):
            h = torch.tanh(x_t @ self.Wx + h @ self.Wh + self.b)
            hs.append(h)
        return torch.stack(hs, dim=1)


class TorchLSTM(TorchRNN):
    """lstm_forward's twin from c0 = 0: the gates i, f, o, g in that order along Wx's columns."""

    def __init__(self, D, H):
        super().__init__(D, 4 * H)
        self.Wh = nn.Parameter(torch.zeros(H, 4 * H))

    def forward(self, x, h0):
        h, c, hs = h0, torch.zeros_like(h0), []
        for x_t in x.unbind(dim=1):
            i, f, o, g = (x_t @ self.Wx + h @ self.Wh + self.b).chunk(4, dim=1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            hs.append(h)
        return torch.stack(hs, dim=1)


def temporal_cross_entropy(x, y, mask):
    """torch's cross-entropy of every step the mask keeps, summed, over the batch size."""
    losses = F.cross_entropy(x.flatten(0, 1), y.flatten(), reduction="none")
    return losses[mask.flatten()].sum() / x.shape[0]


def padding_mask(n, t, name="mask"):
    """True on each sequence's first L steps, L from 1 to T: the last sequence is shorter than T
    (where T > 1), so some step is always padding."""

    def make(config, rng, dtype):
        N, T = getattr(config, n), getattr(config, t)
        lengths = rng.integers(1, T + 1, N)
        lengths[-1] = rng.integers(1, T) if T > 1 else 1
        return np.arange(T) < lengths[:, None]

    return input_maker(make, name=name)


RECURRENT_PARAMS = (Param("Wx", "Wx"), Param("Wh", "Wh"), Param("b", "b"))

# -- the declarations ---------------------------------------------------------------------------

RNN = Pair(
    name="rnn", reference=lambda c: (own.rnn_forward, own.rnn_backward), torch=lambda c: TorchRNN(c.D, c.H),
    inputs=(normal("N", "T", "D", name="x"), normal("N", "H", name="h0")), outputs="h",
    configs=grid("N{N}T{T}D{D}H{H}", N=[2], T=[1, 8], D=[3], H=[4]), params=RECURRENT_PARAMS,
    convention=Functional(params=("Wx", "Wh", "b")),
)
LSTM = Pair(
    name="lstm", reference=lambda c: (own.lstm_forward, own.lstm_backward), torch=lambda c: TorchLSTM(c.D, c.H),
    inputs=(normal("N", "T", "D", name="x"), normal("N", "H", name="h0")), outputs="h",
    configs=grid("N{N}T{T}D{D}H{H}", N=[2], T=[1, 8], D=[3], H=[4]), params=RECURRENT_PARAMS,
    convention=Functional(params=("Wx", "Wh", "b")),
)
WORD_EMBEDDING = Pair(
    name="word_embedding", reference=lambda c: (own.word_embedding_forward, own.word_embedding_backward),
    torch=lambda c: nn.Embedding(c.V, c.D), inputs=(integers("V", "N", "T", name="x"),),
    configs=grid("N{N}T{T}V{V}D{D}", N=[2], T=[3, 8], V=[5], D=[4]),  # N T > V: some index repeats
    params=(Param("W", "weight"),), convention=Functional(params=("W",)),
)
TEMPORAL_AFFINE = Pair(
    name="temporal_affine", reference=lambda c: (own.temporal_affine_forward, own.temporal_affine_backward),
    torch=lambda c: nn.Linear(c.D, c.M), inputs=(normal("N", "T", "D", name="x"),),
    configs=grid("N{N}T{T}D{D}M{M}", N=[2], T=[1, 8], D=[3], M=[4]),
    params=(Param("w", "weight", permute=(1, 0)), Param("b", "bias")), convention=Functional(params=("w", "b")),
)
TEMPORAL_SOFTMAX_LOSS = Pair(
    name="temporal_softmax_loss", reference=lambda c: (own.temporal_softmax_loss, own.loss_backward),
    torch=lambda c: temporal_cross_entropy, outputs="loss",
    inputs=(normal("N", "T", "V", name="x"), integers("V", "N", "T", name="y"), padding_mask("N", "T")),
    configs=grid("N{N}T{T}V{V}", N=[3], T=[1, 8], V=[5]), convention=Functional(),
)

EXAMPLES = [RNN, LSTM, WORD_EMBEDDING, TEMPORAL_AFFINE, TEMPORAL_SOFTMAX_LOSS]

test_examples = parity_matrix(*EXAMPLES)  # every case of every example, one pytest item a case


# -- the broken copies, and the tensors they break ------------------------------------------------


def broken(pair, forward, backward):
    """The pair with other functions, named after the one that is not the pair's own."""
    name = next(f.__name__ for f in (forward, backward) if f not in pair.reference(pair.configs[0]))
    return dataclasses.replace(pair, name=name, reference=lambda c: (forward, backward))


@pytest.mark.parametrize("pair, expected", [pytest.param(pair, expected, id=pair.name) for pair, expected in [
    (broken(RNN, own.rnn_forward, own.rnn_backward_not_carried),
     ["T8D3H4-seed0: grad h0 does not match torch", "T8D3H4-seed0: grad Wh does not match torch",
      "finite differences: reference wrong"]),
    (broken(LSTM, own.lstm_forward, own.lstm_backward_no_cell_gradient),
     ["T8D3H4-seed0: grad x does not match torch", "T8D3H4-seed0: grad Wx does not match torch",
      "finite differences: reference wrong"]),
    (broken(WORD_EMBEDDING, own.word_embedding_forward, own.word_embedding_backward_overwrites),
     ["T3V5D4-seed0: grad W does not match torch", "T8V5D4-seed0: grad W does not match torch",
      "finite differences: reference wrong"]),
    (broken(TEMPORAL_AFFINE, own.temporal_affine_forward, own.temporal_affine_backward_db_per_step),
     ["T8D3M4-seed0: grad b: the reference has shape (8, 4), torch (4,)"]),
    (broken(TEMPORAL_SOFTMAX_LOSS, own.temporal_softmax_loss_unmasked_dx, own.loss_backward),
     ["T8V5-seed0: grad x does not match torch", "finite differences: reference wrong"]),
]])
def test_broken_copy_fails_on_the_tensor_it_breaks(pair, expected):
    """Each breaks a backward alone: the outputs pass, the gradients it breaks fail."""
    with pytest.raises(AssertionError) as raised:
        assert_pair(pair, seeds=1)
    text = str(raised.value)
    for fragment in expected:
        assert fragment in text, text[:3000]
    assert "seed0: output" not in text, text[:3000]


def test_the_recurrent_twins_are_torchs_own_rnn_and_lstm():
    """The course's (D, 4H) packing is torch's (4H, D) transposed, gates i, f, o, g reordered to
    torch's i, f, g, o; its one bias is torch's two, the second zero."""
    rng = np.random.default_rng(0)
    N, T, D, H = 2, 5, 3, 4
    x, h0 = (torch.from_numpy(rng.standard_normal(s)) for s in ((N, T, D), (N, H)))
    for ours, theirs, gates in ((TorchRNN(D, H), nn.RNN(D, H, batch_first=True), [0]),
                                (TorchLSTM(D, H), nn.LSTM(D, H, batch_first=True), [0, 1, 3, 2])):
        ours, theirs = ours.double(), theirs.double()
        with torch.no_grad():
            for p in ours.parameters():
                p.copy_(torch.from_numpy(rng.standard_normal(tuple(p.shape))))
            order = torch.cat([torch.arange(g * H, (g + 1) * H) for g in gates])
            theirs.weight_ih_l0.copy_(ours.Wx.T[order])
            theirs.weight_hh_l0.copy_(ours.Wh.T[order])
            theirs.bias_ih_l0.copy_(ours.b[order])
            theirs.bias_hh_l0.zero_()
            state = h0[None] if isinstance(theirs, nn.RNN) else (h0[None], torch.zeros_like(h0)[None])
            torch.testing.assert_close(ours(x, h0), theirs(x, state)[0], rtol=1e-12, atol=1e-12)
