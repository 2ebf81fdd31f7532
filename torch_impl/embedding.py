"""Twin of reference/embedding.py: torch's Embedding, with the reference's input checks."""

import torch
from torch import nn


def check_indices(idx, name: str, rows: int) -> torch.Tensor:
    """The reference's rule and messages: an integer tensor with every value in [0, rows - 1]."""
    if not isinstance(idx, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor of integer indices, got {type(idx).__name__}")
    if idx.is_floating_point() or idx.is_complex() or idx.dtype == torch.bool:
        raise TypeError(f"{name}: expected integer indices, got dtype {idx.dtype}")
    if idx.numel() and (idx.min() < 0 or idx.max() >= rows):
        raise ValueError(f"{name}: expected indices in [0, {rows - 1}], got [{idx.min().item()}, {idx.max().item()}]")
    return idx


class Embedding(nn.Embedding):
    """torch.nn.Embedding(num_embeddings, embedding_dim, padding_idx).

    Given ``rng`` (a NumPy Generator), the weight is drawn as the reference draws it (standard
    normal, padding row zeroed): the same values, rounded to the float32 torch stores them in.
    """

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, rng=None):
        if padding_idx is not None and not -num_embeddings <= padding_idx < num_embeddings:
            # torch would raise a bare AssertionError; this is the reference's refusal
            raise ValueError(
                f"Embedding: expected padding_idx in [{-num_embeddings}, {num_embeddings - 1}], got {padding_idx}"
            )
        super().__init__(num_embeddings, embedding_dim, padding_idx=padding_idx)
        if rng is not None:
            with torch.no_grad():
                self.weight.copy_(torch.from_numpy(rng.standard_normal((num_embeddings, embedding_dim))))
                if self.padding_idx is not None:
                    self.weight[self.padding_idx] = 0.0

    def forward(self, idx):
        check_indices(idx, "Embedding input", self.num_embeddings)
        if idx.dtype not in (torch.int32, torch.int64):  # torch's lookup takes only these two
            idx = idx.long()
        return super().forward(idx)
