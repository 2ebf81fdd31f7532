"""Realistic mistakes in the losses with a reduction: NLLLoss, BCELoss, BCEWithLogitsLoss, L1Loss,
SmoothL1Loss, HuberLoss.

Each function is a copy of one reference method carrying one mistake. ``VARIANTS`` lists them as
(name, pairs, owner, attribute, function, mistake, family): patching ``function`` in as
``owner.attribute`` gives the reference that mistake, and the default matrix of ``pairs`` (a
space-separated string of pair names) must catch it.
"""

import numpy as np

from reference import losses
from reference.base import check_input, check_shape
from reference.losses import check_classes, reduce, spread

# -- NLLLoss ------------------------------------------------------------------------------


def nll_weighted_mean_over_batch(self, pred, target):
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
    losses_ = -self.picked * pred[np.arange(n), target]
    if self.reduction == "mean":
        return self._remember_output(np.sum(losses_) / n)  # N, not the picked weights' sum
    return self._remember_output(reduce(losses_, self.reduction))


def nll_grad_ignores_weights(self, grad_out=1.0):
    g = self._check_grad(grad_out)
    scale = g / np.sum(self.picked) if self.reduction == "mean" else g
    grad = np.zeros(self.shape, dtype=self.picked.dtype)
    grad[np.arange(self.shape[0]), self.target] = -scale  # the class weights left out
    return grad


# -- BCELoss ------------------------------------------------------------------------------


def bce_grad_missing_variance_factor(self, grad_out=1.0):
    g = spread(self._check_grad(grad_out), self.p.shape, self.reduction)
    grad = g * (self.p - self.t)  # no 1 / (p (1 - p)): the logits' gradient, not the probabilities'
    return grad if self.w is None else grad * self.w


def bce_mean_over_weight_sum(self, pred, target):
    pred, target = self._check_pair(pred, target)
    if pred.size and (pred.min() < 0 or pred.max() > 1):
        raise ValueError(f"BCELoss predictions: expected values in [0, 1], "
                         f"got [{pred.min():.6g}, {pred.max():.6g}]")
    self.p, self.t, self.w = pred, target, self._weight("weight", pred)
    with np.errstate(divide="ignore"):
        losses_ = -(target * np.maximum(np.log(pred), -100) + (1 - target) * np.maximum(np.log1p(-pred), -100))
    if self.w is not None:
        losses_ = losses_ * self.w
        if self.reduction == "mean":  # NLLLoss's rule: divided by the weights' sum, not by n
            return self._remember_output(np.sum(losses_) / np.sum(np.broadcast_to(self.w, pred.shape)))
    return self._remember_output(reduce(losses_, self.reduction))


# -- BCEWithLogitsLoss --------------------------------------------------------------------


def bce_logits_naive(self, logits, target):
    x, t = self._check_pair(logits, target)
    pw = self._weight("pos_weight", x)
    self.pw = 1 if pw is None else pw
    self.t = t
    self.coefficient = 1 + (self.pw - 1) * t
    self.s = 1 / (1 + np.exp(-x))
    # log of the sigmoid itself: -inf (and 0 * inf = nan) once s rounds to 0 or 1
    losses_ = -(self.pw * t * np.log(self.s) + (1 - t) * np.log(1 - self.s))
    return self._remember_output(reduce(losses_, self.reduction))


def bce_logits_pos_weight_on_negatives(self, logits, target):
    x, t = self._check_pair(logits, target)
    pw = self._weight("pos_weight", x)
    self.pw = 1 if pw is None else pw
    self.t = t
    self.coefficient = 1 + (self.pw - 1) * t
    e = np.exp(-np.abs(x))
    self.s = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
    softplus_neg = np.log1p(e) + np.maximum(-x, 0)  # -log s(x); -log(1 - s(x)) = x + softplus(-x)
    losses_ = t * softplus_neg + self.pw * (1 - t) * (x + softplus_neg)  # pw weighs the negatives' term
    return self._remember_output(reduce(losses_, self.reduction))


def bce_logits_none_grad_divided_by_n(self, grad_out=1.0):
    g = self._check_grad(grad_out)
    if self.reduction != "sum":  # "none" divided by n as if it were the mean
        g = g / self.s.size
    return g * (self.coefficient * self.s - self.pw * self.t)


# -- L1Loss -------------------------------------------------------------------------------


def l1_sum_grad_divided_by_n(self, grad_out=1.0):
    g = self._check_grad(grad_out)
    if self.reduction != "none":  # the mean's 1 / n kept for "sum" too
        g = np.broadcast_to(g / self.diff.size, self.diff.shape)
    return g * np.sign(self.diff)


def l1_grad_not_zero_safe(self, grad_out=1.0):
    g = spread(self._check_grad(grad_out), self.diff.shape, self.reduction)
    return g * self.diff / np.abs(self.diff)  # the sign as d / |d|: 0 / 0 = nan where p == t


def l1_grad_in_callers_upstream(self, grad_out=1.0):
    g = self._check_grad(grad_out)
    if self.reduction != "none":
        g = np.broadcast_to(g / self.diff.size if self.reduction == "mean" else g, self.diff.shape).copy()
    g *= np.sign(self.diff)  # in place: for "none", g is the caller's upstream array
    return g


# -- SmoothL1Loss / HuberLoss -------------------------------------------------------------


def smooth_l1_beta_huber_way(self, pred, target):
    pred, target = self._check_pair(pred, target)
    self.diff = d = pred - target
    self.inside = np.abs(d) < self.beta
    # Huber's pieces: no 1 / beta on the square, beta times the linear piece
    losses_ = np.where(self.inside, 0.5 * d * d, self.beta * (np.abs(d) - 0.5 * self.beta))
    return self._remember_output(reduce(losses_, self.reduction))


def smooth_l1_grad_unclipped(self, grad_out=1.0):
    g = spread(self._check_grad(grad_out), self.diff.shape, self.reduction)
    return g * self.diff / (self.beta or 1.0)  # the quadratic piece's slope everywhere: no sign(d) outside


def huber_grad_smooth_l1_way(self, grad_out=1.0):
    g = spread(self._check_grad(grad_out), self.diff.shape, self.reduction)
    return g * np.clip(self.diff / self.delta, -1, 1)  # SmoothL1's slope: off by the factor delta


def huber_linear_piece_missing_delta(self, pred, target):
    pred, target = self._check_pair(pred, target)
    self.diff = d = pred - target
    abs_d = np.abs(d)
    losses_ = np.where(abs_d < self.delta, 0.5 * d * d, abs_d - 0.5 * self.delta)  # no delta * (...)
    return self._remember_output(reduce(losses_, self.reduction))


L = losses
VARIANTS = [
    ("nll_weighted_mean_over_batch", "NLLLoss", L.NLLLoss, "forward", nll_weighted_mean_over_batch,
     "the weighted mean divided by N instead of the sum of the picked class weights", "maths"),
    ("nll_grad_ignores_weights", "NLLLoss", L.NLLLoss, "backward", nll_grad_ignores_weights,
     "the gradient leaves out the class weights (only the mean's denominator has them)", "maths"),
    ("bce_grad_missing_variance_factor", "BCELoss", L.BCELoss, "backward", bce_grad_missing_variance_factor,
     "dL/dp = p - t, missing the factor 1 / (p (1 - p)) (the gradient with respect to the logits)", "maths"),
    ("bce_mean_over_weight_sum", "BCELoss", L.BCELoss, "forward", bce_mean_over_weight_sum,
     "the weighted mean divided by the weights' sum (NLLLoss's rule) instead of the element count", "maths"),
    ("bce_logits_naive", "BCEWithLogitsLoss", L.BCEWithLogitsLoss, "forward", bce_logits_naive,
     "-pw t log(sigmoid(x)) - (1 - t) log(1 - sigmoid(x)) computed as written: inf / nan for large logits",
     "numerics"),
    ("bce_logits_pos_weight_on_negatives", "BCEWithLogitsLoss", L.BCEWithLogitsLoss, "forward",
     bce_logits_pos_weight_on_negatives, "pos_weight multiplies the negative term (1 - t) log(1 - s) instead "
     "of the positive one", "maths"),
    ("bce_logits_none_grad_divided_by_n", "BCEWithLogitsLoss", L.BCEWithLogitsLoss, "backward",
     bce_logits_none_grad_divided_by_n, "reduction 'none': the upstream gradient divided by n as the mean's",
     "maths"),
    ("l1_sum_grad_divided_by_n", "L1Loss", L.L1Loss, "backward", l1_sum_grad_divided_by_n,
     "reduction 'sum': the gradient still divided by n", "maths"),
    ("l1_grad_not_zero_safe", "L1Loss", L.L1Loss, "backward", l1_grad_not_zero_safe,
     "sign(p - t) as d / |d|: nan where p == t, where torch gives 0 (caught by tied draws, a configuration: maths)",
     "maths"),
    ("l1_grad_in_callers_upstream", "L1Loss", L.L1Loss, "backward", l1_grad_in_callers_upstream,
     "reduction 'none': the gradient written into the caller's upstream array and returned", "side effects"),
    ("smooth_l1_beta_huber_way", "SmoothL1Loss", L.SmoothL1Loss, "forward", smooth_l1_beta_huber_way,
     "beta applied the Huber way: 0.5 d^2 and beta (|d| - 0.5 beta), equal to torch's only at beta = 1",
     "maths"),
    ("smooth_l1_grad_unclipped", "SmoothL1Loss", L.SmoothL1Loss, "backward", smooth_l1_grad_unclipped,
     "the gradient d / beta everywhere: the linear piece's slope sign(d) forgotten", "maths"),
    ("huber_grad_smooth_l1_way", "HuberLoss", L.HuberLoss, "backward", huber_grad_smooth_l1_way,
     "the gradient clip(d / delta, -1, 1) (SmoothL1's), off by the factor delta", "maths"),
    ("huber_linear_piece_missing_delta", "HuberLoss", L.HuberLoss, "forward", huber_linear_piece_missing_delta,
     "the linear piece |d| - 0.5 delta without the factor delta", "maths"),
]
