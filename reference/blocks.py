"""Blocks built from the other layers: the seed's residual block, the SE blocks, a pre-norm
transformer block, and two character-level language models (an LSTM, a one-block transformer)."""

import numpy as np

from reference.activations import GELU, ReLU, Sigmoid
from reference.attention import MultiheadAttention
from reference.base import Layer, check_input, check_shape
from reference.conv import Conv2d
from reference.embedding import Embedding, check_indices
from reference.linear import Linear
from reference.norm import BatchNorm2d, LayerNorm
from reference.pooling import GlobalAvgPool2d
from reference.recurrent import LSTM


class ResidualBlock(Layer):
    """y = relu(w2 relu(w1 x) + x).  x, y: (d,) or (d, N) (columns); w1, w2: (d, d).

    With h1 = w1 x, a1 = relu(h1), h2 = w2 a1 + x and g2 = g * [h2 > 0]:
      dL/dw2 = g2 a1^T,  g1 = (w2^T g2) * [h1 > 0],  dL/dw1 = g1 x^T,
      dL/dx = w1^T g1 + g2  (the skip connection adds g2 directly).
    """

    def __init__(self, features, rng=None):
        super().__init__()
        rng = rng or np.random.default_rng()
        bound = 1.0 / np.sqrt(features)
        self.params["w1"] = rng.uniform(-bound, bound, (features, features))
        self.params["w2"] = rng.uniform(-bound, bound, (features, features))

    def forward(self, x):
        features = self.params["w1"].shape[0]
        check_input(x, "ResidualBlock input", (features,) if np.ndim(x) == 1 else (features, "N"))
        self.x = x.reshape(features, -1)  # a vector is one column
        self.h1 = self.params["w1"] @ self.x
        self.a1 = np.maximum(self.h1, 0)
        self.h2 = self.params["w2"] @ self.a1 + self.x
        return self._remember_output(np.maximum(self.h2, 0).reshape(x.shape))

    def backward(self, grad_out):
        g = self._check_grad(grad_out).reshape(self.h2.shape)
        g2 = g * (self.h2 > 0)
        self.grads["w2"] = g2 @ self.a1.T
        g1 = (self.params["w2"].T @ g2) * (self.h1 > 0)
        self.grads["w1"] = g1 @ self.x.T
        return (self.params["w1"].T @ g1 + g2).reshape(self._output_shape)


class SEBlock(Layer):
    """Squeeze-and-excitation: y = x * s, s = sigmoid(W2 relu(W1 mean_hw(x))) per channel.

    x, y: (N, C, H, W); W1: (C, C // r), W2: (C // r, C) in Linear's (in, out) layout, no
    biases. With g the upstream gradient:
      dL/ds[n,c] = sum_{h,w} g x,  dL/dx = g * s + (gradient through s back to x).
    """

    def __init__(self, channels, reduction=16, rng=None):
        super().__init__()
        hidden = channels // reduction
        if hidden < 1:
            raise ValueError(
                f"SEBlock: channels // reduction must be at least 1, got {channels} // {reduction} = 0"
            )
        self.pool = GlobalAvgPool2d()
        self.fc1 = Linear(channels, hidden, bias=False, rng=rng)
        self.relu = ReLU()
        self.fc2 = Linear(hidden, channels, bias=False, rng=rng)
        self.sigmoid = Sigmoid()

    def forward(self, x):
        channels = self.fc1.params["W"].shape[0]
        check_input(x, "SEBlock input", ("N", channels, "H", "W"))
        n = x.shape[0]
        self.x = x
        squeezed = self.pool(x).reshape(n, channels)
        self.s = self.sigmoid(self.fc2(self.relu(self.fc1(squeezed))))[:, :, None, None]
        return self._remember_output(x * self.s)

    def backward(self, grad_out):
        g = self._check_grad(grad_out)
        grad_s = np.sum(g * self.x, axis=(2, 3))
        grad_squeezed = self.fc1.backward(self.relu.backward(self.fc2.backward(self.sigmoid.backward(grad_s))))
        return g * self.s + self.pool.backward(grad_squeezed[:, :, None, None])


class SEResNetBlock(Layer):
    """y = relu(se(bn2(conv2(relu(bn1(conv1(x)))))) + shortcut(x)).

    x: (N, C_in, H, W), y: (N, C_out, H', W'). conv1 is 3x3 with the block's stride and
    padding 1, conv2 3x3 stride 1 padding 1, both bias-free. The shortcut is the identity,
    or a bias-free 1x1 conv with the stride plus a BatchNorm when the stride is not 1 or the
    channel count changes. Backward runs the chain in reverse; the two branches' input
    gradients add.
    """

    def __init__(self, in_channels, out_channels, stride=1, reduction=16, rng=None):
        super().__init__()
        rng = rng or np.random.default_rng()
        self.conv1 = Conv2d(in_channels, out_channels, 3, stride, 1, bias=False, rng=rng)
        self.bn1 = BatchNorm2d(out_channels)
        self.relu1 = ReLU()
        self.conv2 = Conv2d(out_channels, out_channels, 3, 1, 1, bias=False, rng=rng)
        self.bn2 = BatchNorm2d(out_channels)
        self.se = SEBlock(out_channels, reduction, rng=rng)
        self.relu_out = ReLU()
        self.projects = stride != 1 or in_channels != out_channels
        if self.projects:
            self.shortcut_conv = Conv2d(in_channels, out_channels, 1, stride, 0, bias=False, rng=rng)
            self.shortcut_bn = BatchNorm2d(out_channels)

    def forward(self, x):
        in_channels = self.conv1.params["W"].shape[1]
        check_input(x, "SEResNetBlock input", ("N", in_channels, "H", "W"))
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.se(self.bn2(self.conv2(out)))
        shortcut = self.shortcut_bn(self.shortcut_conv(x)) if self.projects else x
        return self._remember_output(self.relu_out(out + shortcut))

    def backward(self, grad_out):
        g = self.relu_out.backward(self._check_grad(grad_out))
        grad_main = self.conv2.backward(self.bn2.backward(self.se.backward(g)))
        grad_main = self.conv1.backward(self.bn1.backward(self.relu1.backward(grad_main)))
        grad_shortcut = self.shortcut_conv.backward(self.shortcut_bn.backward(g)) if self.projects else g
        return grad_main + grad_shortcut


class TransformerBlock(Layer):
    """Pre-norm transformer block with causal self-attention:

      a = x + MHA(LN1(x)),  y = a + fc2(GELU(fc1(LN2(a)))),  MHA causal (position t sees 0..t).

    x, a, y: (N, T, E); fc1: E -> hidden, fc2: hidden -> E, applied to the (N * T, .) rows.
    With g = dL/dy, the residuals add their branch's gradient to the identity's:
      dL/da = g + LN2^T(fc1^T(GELU'(fc2^T g))),  dL/dx = dL/da + LN1^T(d_query + d_key + d_value),
    where MHA^T gets dL/da for its output and zero for its (unused) weights, and LN1(x) feeds
    all three projections.
    """

    def __init__(self, embed_dim, num_heads, hidden, rng=None):
        super().__init__()
        rng = rng or np.random.default_rng()
        self.norm1 = LayerNorm(embed_dim)
        self.attention = MultiheadAttention(embed_dim, num_heads, causal=True, rng=rng)
        self.norm2 = LayerNorm(embed_dim)
        self.fc1 = Linear(embed_dim, hidden, rng=rng)
        self.gelu = GELU()
        self.fc2 = Linear(hidden, embed_dim, rng=rng)

    def forward(self, x):
        check_input(x, "TransformerBlock input", ("N", "T", self.attention.embed_dim))
        h = self.norm1(x)
        attended, weights = self.attention(h, h, h)
        self.weights_shape = weights.shape
        a = x + attended
        rows = self.norm2(a).reshape(-1, a.shape[-1])  # (N * T, E): Linear takes rows
        return self._remember_output(a + self.fc2(self.gelu(self.fc1(rows))).reshape(a.shape))

    def backward(self, grad_out):
        g = self._check_grad(grad_out)
        d_rows = self.fc1.backward(self.gelu.backward(self.fc2.backward(g.reshape(-1, g.shape[-1]))))
        d_a = g + self.norm2.backward(d_rows.reshape(g.shape))
        d_query, d_key, d_value = self.attention.backward(d_a, np.zeros(self.weights_shape, dtype=g.dtype))
        return d_a + self.norm1.backward(d_query + d_key + d_value)


class CharTransformer(Layer):
    """A one-block causal transformer language model over characters, with a learned position
    embedding (one row per position, added to the token's):

      h = token[idx] + position[0..T-1],  logits = LN(TransformerBlock(h)) W + b.

    idx: (N, T) integers in [0, vocab - 1], T <= context; logits: (N * T, vocab), the rows in
    (n, t) order, so a loss over rows scores every step (with targets the next characters).
    The position rows' gradient is the batch's sum of dL/dh; idx gets none: backward returns None.
    """

    def __init__(self, vocab, embed_dim, num_heads, hidden, context, rng=None):
        super().__init__()
        rng = rng or np.random.default_rng()
        self.token = Embedding(vocab, embed_dim, rng=rng)
        self.position = Embedding(context, embed_dim, rng=rng)
        self.block = TransformerBlock(embed_dim, num_heads, hidden, rng=rng)
        self.norm = LayerNorm(embed_dim)
        self.head = Linear(embed_dim, vocab, rng=rng)

    def forward(self, idx):
        vocab, context = self.token.params["weight"].shape[0], self.position.params["weight"].shape[0]
        check_indices(idx, "CharTransformer input", vocab)
        check_shape("CharTransformer input", idx.shape, ("N", "T"))
        if idx.shape[1] > context:
            raise ValueError(f"CharTransformer input: expected at most {context} positions, got {idx.shape[1]}")
        h = self.token(idx) + self.position(np.arange(idx.shape[1]))  # (N, T, E) + (T, E): every sample
        self.hidden_shape = h.shape
        rows = self.norm(self.block(h)).reshape(-1, h.shape[-1])
        return self._remember_output(self.head(rows))

    def backward(self, grad_out):
        g = self._check_grad(grad_out)
        d_h = self.block.backward(self.norm.backward(self.head.backward(g).reshape(self.hidden_shape)))
        self.token.backward(d_h)
        self.position.backward(d_h.sum(axis=0))  # each position's row was added to every sample
        return None


class CharLSTM(Layer):
    """A character-level LSTM language model: h_t = LSTM(token[idx])_t, logits_t = h_t W + b.

    idx: (N, T) integers in [0, vocab - 1]; the LSTM is batch_first and starts from the zero
    state; logits: (N * T, vocab), the rows in (n, t) order, so a loss over rows scores every step.
    The final states (h_n, c_n) are not used: backward gives them zero upstream gradients, so
    the whole gradient reaches the LSTM through its outputs. idx gets none: backward returns None.
    """

    def __init__(self, vocab, embed_dim, hidden_size, rng=None):
        super().__init__()
        rng = rng or np.random.default_rng()
        self.token = Embedding(vocab, embed_dim, rng=rng)
        self.lstm = LSTM(embed_dim, hidden_size, batch_first=True, rng=rng)
        self.head = Linear(hidden_size, vocab, rng=rng)

    def forward(self, idx):
        check_indices(idx, "CharLSTM input", self.token.params["weight"].shape[0])
        check_shape("CharLSTM input", idx.shape, ("N", "T"))
        output, (h_n, _) = self.lstm(self.token(idx))
        self.lstm_output_shape, self.final_shape = output.shape, h_n.shape
        return self._remember_output(self.head(output.reshape(-1, output.shape[-1])))

    def backward(self, grad_out):
        g = self._check_grad(grad_out)
        d_output = self.head.backward(g).reshape(self.lstm_output_shape)
        d_h_n, d_c_n = np.zeros(self.final_shape, dtype=g.dtype), np.zeros(self.final_shape, dtype=g.dtype)
        self.token.backward(self.lstm.backward(d_output, (d_h_n, d_c_n)))
        return None
