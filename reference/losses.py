"""Losses: ``forward(pred, target)`` returns a scalar; ``backward(grad_out=1.0)`` returns
the gradient with respect to ``pred`` (the target gets none).

The losses with a ``reduction`` (torch's "mean", "sum", "none") return, for "none", the
per-element losses, and their backward then takes an upstream gradient of that shape.
Loss weights are torch buffers: ``state`` entries."""

import numpy as np

from reference.base import Layer, check_input, check_shape


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


# -- losses with a reduction: torch's "mean", "sum" and "none" -----------------------------

REDUCTIONS = ("mean", "sum", "none")


def check_reduction(name: str, reduction: str) -> str:
    if reduction not in REDUCTIONS:
        raise ValueError(f"{name}: expected reduction 'mean', 'sum' or 'none', got {reduction!r}")
    return reduction


def reduce(losses: np.ndarray, reduction: str):
    """The per-element losses as ``reduction`` asks: their mean, their sum, or themselves."""
    if reduction == "mean":
        return np.mean(losses)
    if reduction == "sum":
        return np.sum(losses)
    return losses


def spread(grad_out: np.ndarray, shape: tuple, reduction: str) -> np.ndarray:
    """dL/d(per-element loss): grad_out / n for the mean of n elements, grad_out for the sum,
    the upstream array itself for "none" (a caller multiplies it into a new array)."""
    if reduction == "none":
        return grad_out
    size = int(np.prod(shape))
    return np.broadcast_to(grad_out / size if reduction == "mean" else grad_out, shape)


def check_broadcast(name: str, weight: np.ndarray, shape: tuple) -> None:
    """A per-element weight must broadcast to the predictions' shape without enlarging it."""
    try:
        fits = np.broadcast_shapes(weight.shape, shape) == tuple(shape)
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"{name}: expected a shape that broadcasts to the predictions' {tuple(shape)}, "
                         f"got {weight.shape}")


class _ReducedLoss(Layer):
    """A loss of predictions and a same-shape constant target, reduced by ``reduction``."""

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        self.reduction = check_reduction(type(self).__name__, reduction)

    def _check_pair(self, pred, target) -> tuple[np.ndarray, np.ndarray]:
        name = type(self).__name__
        check_input(pred, f"{name} predictions")
        check_input(target, f"{name} target", pred.shape)  # nothing is broadcast
        return pred, target.astype(pred.dtype, copy=False)

    def _weight(self, key: str, pred: np.ndarray):
        """The state entry ``key`` in the predictions' dtype, checked to broadcast; None if absent."""
        if key not in self.state:
            return None
        weight = self.state[key]
        check_broadcast(f"{type(self).__name__} {key}", weight, pred.shape)
        return weight.astype(pred.dtype, copy=False)


class NLLLoss(_ReducedLoss):
    """Negative log-likelihood of class targets, with optional class weights w (C,).

    x: (N, C) log-probabilities (any reals are accepted). t: (N,) integer classes in [0, C).
    L_i = -w[t_i] x[i, t_i]; "mean" = sum_i L_i / sum_i w[t_i] (the picked weights' sum, N
    without weights, as torch), "sum" = sum_i L_i, "none" = (L_i) of shape (N,).
    dL/dx[i, c] = -w[t_i] s_i where c = t_i and 0 elsewhere; s_i = g / sum_i w[t_i], g, g_i.
    The weights are a buffer in torch: ``state["weight"]``. torch's ignore_index (-100) is
    not supported: every target must be a class.
    """

    def __init__(self, weight=None, reduction: str = "mean"):
        super().__init__(reduction)
        if weight is not None:
            self.state["weight"] = np.array(weight)

    def forward(self, pred, target):
        check_input(pred, "NLLLoss predictions", ("N", "C"))
        n, classes = pred.shape
        target = np.asarray(target)
        if not np.issubdtype(target.dtype, np.integer):
            raise TypeError(f"NLLLoss target: expected integer class indices, got dtype {target.dtype}")
        check_classes(target, n, classes)
        if "weight" in self.state:
            check_shape("NLLLoss weight", self.state["weight"].shape, (classes,))
            self.picked = self.state["weight"].astype(pred.dtype, copy=False)[target]
        else:
            self.picked = np.ones(n, dtype=pred.dtype)
        self.target, self.shape = target, pred.shape
        losses = -self.picked * pred[np.arange(n), target]
        if self.reduction == "mean":
            return self._remember_output(np.sum(losses) / np.sum(self.picked))
        return self._remember_output(reduce(losses, self.reduction))

    def backward(self, grad_out=1.0):
        g = self._check_grad(grad_out)
        scale = g / np.sum(self.picked) if self.reduction == "mean" else g  # a scalar, or (N,) for "none"
        grad = np.zeros(self.shape, dtype=self.picked.dtype)
        grad[np.arange(self.shape[0]), self.target] = -self.picked * scale
        return grad


class BCELoss(_ReducedLoss):
    """Binary cross-entropy of probabilities p in [0, 1] against targets t in [0, 1], any shape.

    l = -w [t max(log p, -100) + (1 - t) max(log(1 - p), -100)], reduced over all n elements
    ("mean" divides by n, not by the weights' sum). w (optional, ``state["weight"]``) broadcasts
    to p's shape. The clamp at -100 is torch's: a p of exactly 0 or 1 costs at most 100, not inf.
    dl/dp = w (p - t) / max(p (1 - p), 1e-12): torch's backward, which does not follow the clamp
    (where the clamp is active the true derivative is 0, torch's is this large finite value).
    """

    def __init__(self, weight=None, reduction: str = "mean"):
        super().__init__(reduction)
        if weight is not None:
            self.state["weight"] = np.array(weight)

    def forward(self, pred, target):
        pred, target = self._check_pair(pred, target)
        if pred.size and (pred.min() < 0 or pred.max() > 1):  # torch refuses these too
            raise ValueError(f"BCELoss predictions: expected values in [0, 1], "
                             f"got [{pred.min():.6g}, {pred.max():.6g}]")
        self.p, self.t, self.w = pred, target, self._weight("weight", pred)
        with np.errstate(divide="ignore"):  # log(0) = -inf, then clamped
            losses = -(target * np.maximum(np.log(pred), -100) + (1 - target) * np.maximum(np.log1p(-pred), -100))
        if self.w is not None:
            losses = losses * self.w
        return self._remember_output(reduce(losses, self.reduction))

    def backward(self, grad_out=1.0):
        g = spread(self._check_grad(grad_out), self.p.shape, self.reduction)
        grad = g * (self.p - self.t) / np.maximum(self.p * (1 - self.p), 1e-12)
        return grad if self.w is None else grad * self.w


class BCEWithLogitsLoss(_ReducedLoss):
    """Binary cross-entropy of logits x against targets t in [0, 1], any shape; numerically stable.

    l = -[pw t log s(x) + (1 - t) log(1 - s(x))], s the sigmoid, pw the optional positive-class
    weight (``state["pos_weight"]``, broadcast to x's shape: (C,) for (N, C), (C, 1) for (N, C, L)).
    Never log(s(x)) itself (it is -inf once s(x) rounds to 0 or 1): with
    softplus(-x) = -log s(x) = log1p(exp(-|x|)) + max(-x, 0) and log(1 - s(x)) = -x - softplus(-x),
    l = (1 - t) x + (1 + (pw - 1) t) softplus(-x), finite for every x (torch's form).
    dl/dx = (1 + (pw - 1) t) s(x) - pw t, reduced as the loss ("mean" over all n elements).
    """

    def __init__(self, pos_weight=None, reduction: str = "mean"):
        super().__init__(reduction)
        if pos_weight is not None:
            self.state["pos_weight"] = np.array(pos_weight)

    def forward(self, logits, target):
        x, t = self._check_pair(logits, target)
        pw = self._weight("pos_weight", x)
        self.pw = 1 if pw is None else pw  # a Python 1 keeps float32 float32
        self.t = t
        self.coefficient = 1 + (self.pw - 1) * t  # weight of the -log s(x) term
        e = np.exp(-np.abs(x))  # <= 1: never overflows
        self.s = np.where(x >= 0, 1 / (1 + e), e / (1 + e))  # the sigmoid, stable on both sides
        losses = (1 - t) * x + self.coefficient * (np.log1p(e) + np.maximum(-x, 0))
        return self._remember_output(reduce(losses, self.reduction))

    def backward(self, grad_out=1.0):
        g = spread(self._check_grad(grad_out), self.s.shape, self.reduction)
        return g * (self.coefficient * self.s - self.pw * self.t)


class L1Loss(_ReducedLoss):
    """l = |p - t| per element, any shape, reduced over all n elements.

    dl/dp = sign(p - t): 0 where p == t, as torch (the subgradient it picks).
    """

    def forward(self, pred, target):
        pred, target = self._check_pair(pred, target)
        self.diff = pred - target
        return self._remember_output(reduce(np.abs(self.diff), self.reduction))

    def backward(self, grad_out=1.0):
        g = spread(self._check_grad(grad_out), self.diff.shape, self.reduction)
        return g * np.sign(self.diff)


class SmoothL1Loss(_ReducedLoss):
    """torch's smooth L1: with d = p - t, l = 0.5 d^2 / beta where |d| < beta, |d| - 0.5 beta
    elsewhere; any shape, reduced over all n elements. beta >= 0; beta = 0 is the L1 loss.

    dl/dp = d / beta where |d| < beta, sign(d) elsewhere: the slope never exceeds 1.
    (HuberLoss(delta) is delta * SmoothL1Loss(beta=delta).)
    """

    def __init__(self, beta: float = 1.0, reduction: str = "mean"):
        super().__init__(reduction)
        if beta < 0:
            raise ValueError(f"SmoothL1Loss: expected beta >= 0, got {beta}")
        self.beta = float(beta)  # a Python float keeps float32 float32

    def forward(self, pred, target):
        pred, target = self._check_pair(pred, target)
        self.diff = d = pred - target
        self.inside = np.abs(d) < self.beta  # none at beta = 0, so its divisor below never matters
        losses = np.where(self.inside, 0.5 * d * d / (self.beta or 1.0), np.abs(d) - 0.5 * self.beta)
        return self._remember_output(reduce(losses, self.reduction))

    def backward(self, grad_out=1.0):
        g = spread(self._check_grad(grad_out), self.diff.shape, self.reduction)
        return g * np.where(self.inside, self.diff / (self.beta or 1.0), np.sign(self.diff))


class HuberLoss(_ReducedLoss):
    """torch's Huber loss: with d = p - t, l = 0.5 d^2 where |d| < delta, delta (|d| - 0.5 delta)
    elsewhere; any shape, reduced over all n elements. delta > 0.

    dl/dp = clip(d, -delta, delta): the slope grows to delta and stays there.
    (It is delta * SmoothL1Loss(beta=delta): the two agree only at delta = beta = 1.)
    """

    def __init__(self, delta: float = 1.0, reduction: str = "mean"):
        super().__init__(reduction)
        if delta <= 0:
            raise ValueError(f"HuberLoss: expected delta > 0, got {delta}")
        self.delta = float(delta)

    def forward(self, pred, target):
        pred, target = self._check_pair(pred, target)
        self.diff = d = pred - target
        abs_d = np.abs(d)
        losses = np.where(abs_d < self.delta, 0.5 * d * d, self.delta * (abs_d - 0.5 * self.delta))
        return self._remember_output(reduce(losses, self.reduction))

    def backward(self, grad_out=1.0):
        g = spread(self._check_grad(grad_out), self.diff.shape, self.reduction)
        return g * np.clip(self.diff, -self.delta, self.delta)
