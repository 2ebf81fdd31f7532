"""Losses: ``forward(pred, target)`` returns a scalar; ``backward(grad_out=1.0)`` returns
the gradient with respect to ``pred`` (the target gets none)."""

import numpy as np

from reference.base import Layer, check_input


class CrossEntropyLoss(Layer):
    """L = -(1/N) sum_i sum_c t_ic log(clip(p_ic, 1e-12, 1 - 1e-12)).

    p: (N, C) probabilities (softmax outputs, not logits). t: (N,) integer classes, turned
    into one-hot rows, or (N, C) one-hot / probability rows.
    dL/dp = -t / (N p) where the clip is inactive, and 0 where it clips: a clipped entry is
    a constant, so the loss does not change with it.
    """

    eps = 1e-12

    def forward(self, pred, target):
        pred = check_input(pred, "CrossEntropyLoss predictions", ("N", "C"))
        n, classes = pred.shape
        target = np.asarray(target)
        if np.issubdtype(target.dtype, np.integer):
            check_classes(target, n, classes)
            target = np.eye(classes)[target]
        else:
            check_input(target, "CrossEntropyLoss target rows", (n, classes))
        self.target = target.astype(pred.dtype, copy=False)
        self.unclipped = (pred >= pred.dtype.type(self.eps)) & (pred <= pred.dtype.type(1 - self.eps))
        self.p = np.clip(pred, self.eps, 1 - self.eps)
        return self._remember_output(-np.sum(self.target * np.log(self.p)) / n)

    def backward(self, grad_out=1.0):
        grad_out = self._check_grad(grad_out)
        n = self.p.shape[0]
        return grad_out * np.where(self.unclipped, -self.target / (n * self.p), 0)


def check_classes(target: np.ndarray, n: int, classes: int) -> None:
    if target.shape != (n,):
        raise ValueError(f"class targets: expected shape ({n},), got {target.shape}")
    if target.size and (target.min() < 0 or target.max() >= classes):
        raise ValueError(
            f"class targets: expected values in [0, {classes - 1}], "
            f"got [{target.min()}, {target.max()}]"
        )


class MSELoss(Layer):
    """L = (1/n) sum (p - t)^2 over all n elements; dL/dp = 2 (p - t) / n.

    p and t must have the same shape: nothing is broadcast.
    """

    def forward(self, pred, target):
        check_input(pred, "MSELoss predictions")
        check_input(target, "MSELoss target", pred.shape)
        self.diff = pred - target
        return self._remember_output(np.mean(self.diff**2))

    def backward(self, grad_out=1.0):
        grad_out = self._check_grad(grad_out)
        return grad_out * 2.0 * self.diff / self.diff.size
