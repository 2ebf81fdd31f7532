"""Embedding: a lookup table of rows, indexed by integers."""

import numpy as np

from reference.base import Layer


def check_indices(idx, name: str, rows: int) -> np.ndarray:
    """Refuse anything but an integer array whose values all lie in [0, rows - 1]."""
    if not isinstance(idx, np.ndarray):
        raise TypeError(f"{name}: expected a NumPy array of integer indices, got {type(idx).__name__}")
    if not np.issubdtype(idx.dtype, np.integer):  # bool is not an integer dtype here
        raise TypeError(f"{name}: expected integer indices, got dtype {idx.dtype}")
    if idx.size and (idx.min() < 0 or idx.max() >= rows):
        raise ValueError(f"{name}: expected indices in [0, {rows - 1}], got [{idx.min()}, {idx.max()}]")
    return idx


def check_padding_idx(padding_idx, rows: int):
    """torch's rule: padding_idx in [-rows, rows - 1], a negative one counted from the end."""
    if padding_idx is None:
        return None
    if not -rows <= padding_idx < rows:
        raise ValueError(f"Embedding: expected padding_idx in [{-rows}, {rows - 1}], got {padding_idx}")
    return int(padding_idx) % rows


class Embedding(Layer):
    """y[p] = weight[idx[p]] for every position p of idx.

    idx: integers of any shape, each in [0, num_embeddings - 1]; weight: (num_embeddings,
    embedding_dim); y: idx.shape + (embedding_dim,).
    dL/dweight[k] = sum of g[p] over the positions p with idx[p] == k (repeated indices add up),
    except the padding_idx row, which never receives gradient (torch's meaning of padding_idx).
    idx is not differentiated: backward returns None.
    The padding row starts at zero, as torch initialises it; other rows ~ N(0, 1), as torch.
    """

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, rng=None):
        super().__init__()
        rng = rng or np.random.default_rng()
        self.padding_idx = check_padding_idx(padding_idx, num_embeddings)
        self.params["weight"] = rng.standard_normal((num_embeddings, embedding_dim))
        if self.padding_idx is not None:
            self.params["weight"][self.padding_idx] = 0.0

    def forward(self, idx):
        self.idx = check_indices(idx, "Embedding input", self.params["weight"].shape[0])
        return self._remember_output(self.params["weight"][idx])

    def backward(self, grad_out):
        g = self._check_grad(grad_out)
        grad_w = np.zeros(self.params["weight"].shape, dtype=g.dtype)
        np.add.at(grad_w, self.idx, g)  # unbuffered: a row indexed twice gets both gradients
        if self.padding_idx is not None:
            grad_w[self.padding_idx] = 0.0
        self.grads["weight"] = grad_w
        return None
