"""Realistic mistakes in the layers of several or integer inputs: Embedding, Dropout, Bilinear, Add.

Each function is a copy of one reference method carrying one mistake. ``VARIANTS`` says where it
belongs, as (name, module, class, method, function, mistake): patching ``function`` in as
``getattr(importlib.import_module(module), class).method`` gives the reference that mistake.
"""

import numpy as np

from reference.base import check_input

# -- embedding ----------------------------------------------------------------------------


def embedding_rows_overwritten(self, grad_out):
    g = self._check_grad(grad_out)
    grad_w = np.zeros(self.params["weight"].shape, dtype=g.dtype)
    grad_w[self.idx] = g  # fancy-index assignment: a repeated index keeps one of its gradients
    if self.padding_idx is not None:
        grad_w[self.padding_idx] = 0.0
    self.grads["weight"] = grad_w
    return None


def embedding_padding_row_trained(self, grad_out):
    g = self._check_grad(grad_out)
    grad_w = np.zeros(self.params["weight"].shape, dtype=g.dtype)
    np.add.at(grad_w, self.idx, g)  # the padding row keeps the gradient it collected
    self.grads["weight"] = grad_w
    return None


# -- dropout ------------------------------------------------------------------------------


def dropout_mask_redrawn_in_backward(self, grad_out):
    g = self._check_grad(grad_out)
    if self.mask is None:
        return g.copy()
    mask = self.rng.random(g.shape) >= self.p  # a fresh draw, not the mask forward applied
    return g * mask / (1 - self.p)


def dropout_keep_probability_p(self, x):
    check_input(x, "Dropout input")
    if not self.training:
        self.mask = None
        return self._remember_output(x.copy())
    self.mask = self.rng.random(x.shape) < self.p  # keeps with probability p, not 1 - p
    return self._remember_output(x * self.mask / (1 - self.p))


def dropout_forward_not_rescaled(self, x):
    check_input(x, "Dropout input")
    if not self.training:
        self.mask = None
        return self._remember_output(x.copy())
    self.mask = self.rng.random(x.shape) >= self.p
    return self._remember_output(x * self.mask)  # no 1 / (1 - p)


def dropout_backward_not_rescaled(self, grad_out):
    g = self._check_grad(grad_out)
    if self.mask is None:
        return g.copy()
    return g * self.mask  # no 1 / (1 - p)


# -- bilinear -----------------------------------------------------------------------------


def _bilinear_weight_grads(self, g):
    """The right dL/dW and dL/db, shared by the variants whose mistake is elsewhere."""
    self.grads["W"] = np.einsum("no,ni,nj->oij", g, self.x1, self.x2, optimize=True)
    if "b" in self.params:
        self.grads["b"] = g.sum(axis=0)


def bilinear_grad_x2_dropped(self, grad_out):
    g = self._check_grad(grad_out)
    _bilinear_weight_grads(self, g)
    grad_x1 = np.einsum("no,oij,nj->ni", g, self.params["W"], self.x2, optimize=True)
    return grad_x1, np.zeros_like(self.x2)  # the second input treated as a constant


def bilinear_grad_x2_scaled_3x(self, grad_out):
    g = self._check_grad(grad_out)
    _bilinear_weight_grads(self, g)
    W = self.params["W"]
    grad_x1 = np.einsum("no,oij,nj->ni", g, W, self.x2, optimize=True)
    grad_x2 = 3 * np.einsum("no,ni,oij->nj", g, self.x1, W, optimize=True)  # a stray factor
    return grad_x1, grad_x2


def bilinear_grad_w_transposed(self, grad_out):
    g = self._check_grad(grad_out)
    W = self.params["W"]
    self.grads["W"] = np.einsum("no,ni,nj->oji", g, self.x1, self.x2, optimize=True)  # (out, in2, in1)
    if "b" in self.params:
        self.grads["b"] = g.sum(axis=0)
    grad_x1 = np.einsum("no,oij,nj->ni", g, W, self.x2, optimize=True)
    grad_x2 = np.einsum("no,ni,oij->nj", g, self.x1, W, optimize=True)
    return grad_x1, grad_x2


# -- add ----------------------------------------------------------------------------------


def add_grad_b_truncated(self, grad_out):
    g = self._check_grad(grad_out)
    size = int(np.prod(self.b_shape))
    return g.copy(), g.ravel()[:size].reshape(self.b_shape)  # the first values of g, nothing summed


def add_grad_b_summed_over_all_axes(self, grad_out):
    g = self._check_grad(grad_out)
    return g.copy(), np.full(self.b_shape, g.sum(), dtype=g.dtype)  # every element of b gets the whole sum


def add_grad_b_leading_axes_only(self, grad_out):
    g = self._check_grad(grad_out)
    leading = g.ndim - len(self.b_shape)
    return g.copy(), g.sum(axis=tuple(range(leading)))  # b's size-1 axes left unsummed


def add_grad_b_dropped(self, grad_out):
    g = self._check_grad(grad_out)
    return g.copy(), np.zeros(self.b_shape, dtype=g.dtype)  # b treated as a constant


def add_returns_first_gradient_only(self, grad_out):
    return self._check_grad(grad_out).copy()  # the one-input protocol: no gradient for b at all


def add_stale_second_operand(self, a, b):
    check_input(a, "Add first input")
    check_input(b, "Add second input")
    if getattr(self, "b", None) is None:
        self.b = b  # kept from the first call, as a bias would be
    self.b_shape = self.b.shape
    return self._remember_output(a + self.b)


VARIANTS = [
    ("add_stale_second_operand", "reference.elementwise", "Add", "forward", add_stale_second_operand,
     "the first call's second operand kept and added to every later input"),
    ("embedding_rows_overwritten", "reference.embedding", "Embedding", "backward", embedding_rows_overwritten,
     "rows assigned by fancy indexing, so a repeated index keeps one gradient instead of their sum"),
    ("embedding_padding_row_trained", "reference.embedding", "Embedding", "backward", embedding_padding_row_trained,
     "the padding_idx row gets the gradient of the positions that look it up"),
    ("dropout_mask_redrawn_in_backward", "reference.dropout", "Dropout", "backward",
     dropout_mask_redrawn_in_backward, "backward draws a fresh mask from the generator instead of forward's"),
    ("dropout_keep_probability_p", "reference.dropout", "Dropout", "forward", dropout_keep_probability_p,
     "p and 1 - p swapped: keeps where rng.random() < p, with probability p"),
    ("dropout_forward_not_rescaled", "reference.dropout", "Dropout", "forward", dropout_forward_not_rescaled,
     "kept values not rescaled by 1 / (1 - p) in forward"),
    ("dropout_backward_not_rescaled", "reference.dropout", "Dropout", "backward", dropout_backward_not_rescaled,
     "the gradient of kept values not rescaled by 1 / (1 - p)"),
    ("bilinear_grad_x2_dropped", "reference.bilinear", "Bilinear", "backward", bilinear_grad_x2_dropped,
     "the second input's gradient returned as zeros"),
    ("bilinear_grad_x2_scaled_3x", "reference.bilinear", "Bilinear", "backward", bilinear_grad_x2_scaled_3x,
     "the second input's gradient three times too large"),
    ("bilinear_grad_w_transposed", "reference.bilinear", "Bilinear", "backward", bilinear_grad_w_transposed,
     "dL/dW transposed in its last two axes: (out, in2, in1), a wrong shape when in1 != in2"),
    ("add_grad_b_truncated", "reference.elementwise", "Add", "backward", add_grad_b_truncated,
     "b's gradient is g's first values reshaped to b's shape, not g summed over the broadcast axes"),
    ("add_grad_b_summed_over_all_axes", "reference.elementwise", "Add", "backward", add_grad_b_summed_over_all_axes,
     "b's gradient is g summed over every axis, given to each element of b"),
    ("add_grad_b_leading_axes_only", "reference.elementwise", "Add", "backward", add_grad_b_leading_axes_only,
     "b's gradient summed over the leading axes b lacks but not over its size-1 axes"),
    ("add_grad_b_dropped", "reference.elementwise", "Add", "backward", add_grad_b_dropped,
     "b's gradient returned as zeros"),
    ("add_returns_first_gradient_only", "reference.elementwise", "Add", "backward", add_returns_first_gradient_only,
     "backward returns a's gradient alone, as a one-input layer does, and none for b"),
]
