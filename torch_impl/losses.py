"""Twins of reference/losses.py."""

import torch
import torch.nn.functional as F
from torch import nn

from torch_impl.base import check_classes, check_input, check_shape


class CrossEntropyLoss(nn.Module):
    """Cross-entropy of probabilities clipped to [1e-12, 1 - 1e-12], mean over the batch.

    Class targets go through ``F.nll_loss``; one-hot / probability rows through the sum
    -t log p, so the two target forms take different torch paths.
    """

    eps = 1e-12

    def forward(self, pred, target):
        check_input(pred, "CrossEntropyLoss predictions", ("N", "C"))
        n, classes = pred.shape
        log_p = torch.log(torch.clamp(pred, self.eps, 1 - self.eps))
        if not target.is_floating_point():
            check_classes(target, n, classes)
            return F.nll_loss(log_p, target)
        check_input(target, "CrossEntropyLoss target rows", (n, classes))
        return -(target * log_p).sum(dim=1).mean()


class MSELoss(nn.Module):
    def __init__(self):
        super().__init__()
        self.mse = nn.MSELoss()

    def forward(self, pred, target):
        check_input(pred, "MSELoss predictions")
        check_input(target, "MSELoss target", tuple(pred.shape))
        return self.mse(pred, target)


# -- losses with a reduction: torch's own modules, the inputs checked as the reference does ----

REDUCTIONS = ("mean", "sum", "none")


def check_reduction(name: str, reduction: str) -> str:
    if reduction not in REDUCTIONS:
        raise ValueError(f"{name}: expected reduction 'mean', 'sum' or 'none', got {reduction!r}")
    return reduction


def check_pair(name: str, pred, target) -> None:
    check_input(pred, f"{name} predictions")
    check_input(target, f"{name} target", tuple(pred.shape))  # torch would broadcast, with a warning


def check_broadcast(name: str, weight: torch.Tensor | None, shape: tuple) -> None:
    if weight is None:
        return
    try:
        fits = tuple(torch.broadcast_shapes(weight.shape, shape)) == tuple(shape)
    except RuntimeError:
        fits = False
    if not fits:
        raise ValueError(f"{name}: expected a shape that broadcasts to the predictions' {tuple(shape)}, "
                         f"got {tuple(weight.shape)}")


class NLLLoss(nn.NLLLoss):
    """torch's NLLLoss on (N, C) log-probabilities; class weights a buffer (``weight``)."""

    def __init__(self, weight=None, reduction: str = "mean"):
        super().__init__(weight=weight, reduction=check_reduction("NLLLoss", reduction))

    def forward(self, pred, target):
        check_input(pred, "NLLLoss predictions", ("N", "C"))
        n, classes = pred.shape
        if target.is_floating_point() or target.is_complex() or target.dtype == torch.bool:
            raise TypeError(f"NLLLoss target: expected integer class indices, got dtype {target.dtype}")
        check_classes(target, n, classes)
        if self.weight is not None:
            check_shape("NLLLoss weight", tuple(self.weight.shape), (classes,))
        return super().forward(pred, target.long())  # torch takes int64 (or uint8) classes only


class BCELoss(nn.BCELoss):
    """torch's BCELoss (log clamped at -100); the optional weight a buffer broadcast to the input."""

    def __init__(self, weight=None, reduction: str = "mean"):
        super().__init__(weight=weight, reduction=check_reduction("BCELoss", reduction))

    def forward(self, pred, target):
        check_pair("BCELoss", pred, target)
        if pred.numel() and (pred.min() < 0 or pred.max() > 1):
            raise ValueError(f"BCELoss predictions: expected values in [0, 1], "
                             f"got [{float(pred.min()):.6g}, {float(pred.max()):.6g}]")
        check_broadcast("BCELoss weight", self.weight, tuple(pred.shape))
        return super().forward(pred, target)


class BCEWithLogitsLoss(nn.BCEWithLogitsLoss):
    """torch's BCEWithLogitsLoss; ``pos_weight`` a buffer broadcast to the input."""

    def __init__(self, pos_weight=None, reduction: str = "mean"):
        super().__init__(pos_weight=pos_weight, reduction=check_reduction("BCEWithLogitsLoss", reduction))

    def forward(self, logits, target):
        check_pair("BCEWithLogitsLoss", logits, target)
        check_broadcast("BCEWithLogitsLoss pos_weight", self.pos_weight, tuple(logits.shape))
        return super().forward(logits, target)


class L1Loss(nn.L1Loss):
    def __init__(self, reduction: str = "mean"):
        super().__init__(reduction=check_reduction("L1Loss", reduction))

    def forward(self, pred, target):
        check_pair("L1Loss", pred, target)
        return super().forward(pred, target)


class SmoothL1Loss(nn.SmoothL1Loss):
    def __init__(self, beta: float = 1.0, reduction: str = "mean"):
        if beta < 0:  # torch refuses it at the first forward; here at once, as the reference
            raise ValueError(f"SmoothL1Loss: expected beta >= 0, got {beta}")
        super().__init__(reduction=check_reduction("SmoothL1Loss", reduction), beta=beta)

    def forward(self, pred, target):
        check_pair("SmoothL1Loss", pred, target)
        return super().forward(pred, target)


class HuberLoss(nn.HuberLoss):
    def __init__(self, delta: float = 1.0, reduction: str = "mean"):
        if delta <= 0:  # torch refuses it at the first forward; here at once, as the reference
            raise ValueError(f"HuberLoss: expected delta > 0, got {delta}")
        super().__init__(reduction=check_reduction("HuberLoss", reduction), delta=delta)

    def forward(self, pred, target):
        check_pair("HuberLoss", pred, target)
        return super().forward(pred, target)
