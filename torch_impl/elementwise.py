"""Twin of reference/elementwise.py: torch's broadcasting addition; autograd sums b's gradient back."""

import torch
from torch import nn

from torch_impl.base import check_input


class Add(nn.Module):
    """y = a + b, b broadcast to a's shape (and never a to b's)."""

    def forward(self, a, b):
        check_input(a, "Add first input")
        check_input(b, "Add second input")
        try:
            shape = tuple(torch.broadcast_shapes(a.shape, b.shape))
        except RuntimeError:  # torch's word for shapes that do not broadcast at all
            shape = None
        if shape != tuple(a.shape):
            raise ValueError(
                f"Add: expected a second input whose shape broadcasts to the first's {tuple(a.shape)}, "
                f"got {tuple(b.shape)}"
            )
        return a + b
