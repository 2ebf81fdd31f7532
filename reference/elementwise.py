"""Element-wise operations of two inputs."""

import numpy as np

from reference.base import Layer, check_input


def check_broadcasts_to(a_shape: tuple, b_shape: tuple) -> None:
    """Refuse a second input that does not broadcast to the first's shape exactly: nothing
    may broadcast the other way and silently grow the output."""
    try:
        shape = np.broadcast_shapes(a_shape, b_shape)
    except ValueError:
        shape = None
    if shape != tuple(a_shape):
        raise ValueError(
            f"Add: expected a second input whose shape broadcasts to the first's {tuple(a_shape)}, "
            f"got {tuple(b_shape)}"
        )


class Add(Layer):
    """y = a + b, b broadcast to a's shape by NumPy's rules.  a, y: any shape; b: a shape that
    broadcasts to a's (e.g. (C,), (1, C, 1, 1), (C, 1, 1), a's own, or ()).

    dL/da = g;  dL/db = g summed over the leading axes b lacks and, keeping them, over the
    axes where b has size 1, so it has b's shape. backward returns (dL/da, dL/db).
    """

    def forward(self, a, b):
        check_input(a, "Add first input")
        check_input(b, "Add second input")
        check_broadcasts_to(a.shape, b.shape)
        self.b_shape = b.shape
        return self._remember_output(a + b)

    def backward(self, grad_out):
        g = self._check_grad(grad_out)
        leading = g.ndim - len(self.b_shape)
        grad_b = g.sum(axis=tuple(range(leading)))
        grad_b = grad_b.sum(axis=tuple(i for i, size in enumerate(self.b_shape) if size == 1), keepdims=True)
        # a sum over no axes is already a new array; dL/da is copied so the caller's g stays its own
        return g.copy(), grad_b
