"""Twin of reference/dropout.py: the reference's NumPy mask, applied with torch operations."""

import numpy as np
import torch
from torch import nn

from torch_impl.base import check_input


class Dropout(nn.Module):
    """Training: y = x * m / (1 - p), m = rng.random(x.shape) >= p; eval: y = x.

    Not ``nn.Dropout``: torch draws its mask from its own generator (a Mersenne Twister on the
    CPU, Philox on CUDA, each turned into floats its own way), which NumPy cannot reproduce, so
    no reference could match it value for value. The harness instead hands both sides NumPy
    generators seeded alike, and this twin draws its mask with the reference's call from its
    own; the product and the division are torch operations, so autograd computes the gradient.
    """

    def __init__(self, p, rng):
        super().__init__()
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"Dropout: expected rng to be a numpy.random.Generator, got {type(rng).__name__}")
        if not 0 <= p < 1:
            raise ValueError(f"Dropout: expected p in [0, 1), got {p}")
        self.p, self.rng = float(p), rng

    def extra_repr(self):
        return f"p={self.p}"

    def forward(self, x):
        check_input(x, "Dropout input")
        if not self.training:
            return x
        # asarray: for a 0-d x the comparison gives a NumPy scalar, which from_numpy refuses
        mask = torch.from_numpy(np.asarray(self.rng.random(tuple(x.shape)) >= self.p)).to(x.device)
        return x * mask / (1 - self.p)
