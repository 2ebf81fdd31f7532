"""Twins of reference/blocks.py. The SE blocks follow the seed's PyTorch code module for
module (same structure and parameter names); input checks are added. The transformer block and
the language models are torch's own modules (nn.LayerNorm, nn.Linear, nn.GELU, nn.Embedding)
and the twins of MultiheadAttention (nn.MultiheadAttention under ``attention``) and LSTM (nn.LSTM)."""

import torch
from torch import nn

from torch_impl.attention import MultiheadAttention
from torch_impl.base import check_input, check_shape
from torch_impl.embedding import check_indices
from torch_impl.recurrent import LSTM


class ResidualBlock(nn.Module):
    """relu(w2 relu(w1 x) + x), x: (d,) or (d, N)."""

    def __init__(self, features):
        super().__init__()
        self.w1 = nn.Parameter(torch.empty(features, features))
        self.w2 = nn.Parameter(torch.empty(features, features))
        bound = features**-0.5
        nn.init.uniform_(self.w1, -bound, bound)
        nn.init.uniform_(self.w2, -bound, bound)

    def forward(self, x):
        features = self.w1.shape[0]
        check_input(x, "ResidualBlock input", (features,) if x.ndim == 1 else (features, "N"))
        return torch.relu(self.w2 @ torch.relu(self.w1 @ x) + x)


class SEBlock(nn.Module):
    def __init__(self, channels, reduction=16):
        super().__init__()
        hidden = channels // reduction
        if hidden < 1:
            raise ValueError(
                f"SEBlock: channels // reduction must be at least 1, got {channels} // {reduction} = 0"
            )
        self.squeeze = nn.AdaptiveAvgPool2d(1)
        self.excitation = nn.Sequential(
            nn.Linear(channels, hidden, bias=False),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, channels, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, x):
        channels = self.excitation[0].in_features
        check_input(x, "SEBlock input", ("N", channels, "H", "W"))
        n = x.shape[0]
        weights = self.excitation(self.squeeze(x).view(n, channels)).view(n, channels, 1, 1)
        return x * weights.expand_as(x)


class SEResNetBlock(nn.Module):
    def __init__(self, in_channels, out_channels, stride=1, reduction=16):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.se = SEBlock(out_channels, reduction)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x):
        check_input(x, "SEResNetBlock input", ("N", self.conv1.in_channels, "H", "W"))
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.se(self.bn2(self.conv2(out)))
        out += self.shortcut(x)
        return torch.relu(out)


class TransformerBlock(nn.Module):
    """a = x + MHA(LN1(x)) (causal), y = a + fc2(GELU(fc1(LN2(a)))); x, y: (N, T, E)."""

    def __init__(self, embed_dim, num_heads, hidden):
        super().__init__()
        self.norm1 = nn.LayerNorm(embed_dim)
        self.attention = MultiheadAttention(embed_dim, num_heads, causal=True)
        self.norm2 = nn.LayerNorm(embed_dim)
        self.fc1 = nn.Linear(embed_dim, hidden)
        self.gelu = nn.GELU()
        self.fc2 = nn.Linear(hidden, embed_dim)

    def forward(self, x):
        check_input(x, "TransformerBlock input", ("N", "T", self.norm1.normalized_shape[0]))
        h = self.norm1(x)
        a = x + self.attention(h, h, h)[0]
        return a + self.fc2(self.gelu(self.fc1(self.norm2(a))))


class CharTransformer(nn.Module):
    """logits = LN(TransformerBlock(token[idx] + position[0..T-1])) W + b; idx: (N, T), logits: (N * T, vocab)."""

    def __init__(self, vocab, embed_dim, num_heads, hidden, context):
        super().__init__()
        self.token = nn.Embedding(vocab, embed_dim)
        self.position = nn.Embedding(context, embed_dim)
        self.block = TransformerBlock(embed_dim, num_heads, hidden)
        self.norm = nn.LayerNorm(embed_dim)
        self.head = nn.Linear(embed_dim, vocab)

    def forward(self, idx):
        vocab, context = self.token.num_embeddings, self.position.num_embeddings
        check_indices(idx, "CharTransformer input", vocab)
        check_shape("CharTransformer input", tuple(idx.shape), ("N", "T"))
        if idx.shape[1] > context:
            raise ValueError(f"CharTransformer input: expected at most {context} positions, got {idx.shape[1]}")
        h = self.token(idx) + self.position(torch.arange(idx.shape[1], device=idx.device))
        return self.head(self.norm(self.block(h))).reshape(-1, vocab)


class CharLSTM(nn.Module):
    """logits_t = LSTM(token[idx])_t W + b from the zero state, batch_first; idx: (N, T), logits: (N * T, vocab)."""

    def __init__(self, vocab, embed_dim, hidden_size):
        super().__init__()
        self.token = nn.Embedding(vocab, embed_dim)
        self.lstm = LSTM(embed_dim, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, vocab)

    def forward(self, idx):
        vocab = self.token.num_embeddings
        check_indices(idx, "CharLSTM input", vocab)
        check_shape("CharLSTM input", tuple(idx.shape), ("N", "T"))
        output, _ = self.lstm(self.token(idx))
        return self.head(output).reshape(-1, vocab)
