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
            self.target = np.zeros_like(pred)  # one-hot rows, made in the predictions' dtype
            self.target[np.arange(n), target] = 1
        else:
            check_input(target, "CrossEntropyLoss target rows", (n, classes))
            self.target = target.astype(pred.dtype, copy=False)
        self.p = np.clip(pred, self.eps, 1 - self.eps)
        self.unclipped = self.p == pred  # the clip left it alone
        log_p = np.log(self.p)
        log_p *= self.target
        return self._remember_output(-np.sum(log_p) / n)

    def backward(self, grad_out=1.0):
        grad_out = self._check_grad(grad_out)
        n = self.p.shape[0]
        grad = np.where(self.unclipped, self.target / (n * self.p), 0)  # 0 where the clip was active
        grad *= -grad_out
        return grad


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
