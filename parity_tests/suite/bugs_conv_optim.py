"""Realistic mistakes in the ConvTranspose2d, Conv1d, RMSprop, Adagrad, AdamW and clip_grad_norm
references, each a copy of one method (or function) with one thing wrong.

``VARIANTS`` lists them as (name, pairs, owner, attribute, function, mistake, family): patching
``function`` in as ``owner.attribute`` (a class's method, or reference.optim's function) must
make the default matrix of ``pairs`` (space-separated pair names) fail.
"""

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from reference import optim
from reference.base import check_input
from reference.conv import Conv1d, ConvTranspose2d, im2col
from reference.optim import Adagrad, AdamW, RMSprop

# -- ConvTranspose2d ------------------------------------------------------------------------


def conv_transpose_output_padding_at_start(self, x):
    in_channels, out_channels, kh, kw = self.params["W"].shape
    check_input(x, "ConvTranspose2d input", ("N", in_channels, "H", "W"))
    n, _, h, w = x.shape
    out_h, out_w = self.output_size(h, w)
    (sh, sw), (ph, pw), (oph, opw) = self.stride, self.padding, self.output_padding
    self.x_shape, self.x_rows = x.shape, x.transpose(1, 0, 2, 3).reshape(in_channels, -1)
    cols = (self.params["W"].reshape(in_channels, -1).T @ self.x_rows).reshape(out_channels, kh, kw, n, h, w)
    full = np.zeros((out_channels, n, out_h + 2 * ph, out_w + 2 * pw), dtype=cols.dtype)
    for u in range(kh):  # the extra rows put first: every scatter shifted down and right by them
        for v in range(kw):
            full[:, :, oph + u : oph + u + sh * h : sh, opw + v : opw + v + sw * w : sw] += cols[:, u, v]
    y = full[:, :, ph : ph + out_h, pw : pw + out_w]
    if "b" in self.params:
        y = y + self.params["b"][:, None, None, None]
    return self._remember_output(y.transpose(1, 0, 2, 3))


def conv_transpose_grad_w_in_out_swapped(self, grad_out):
    g = self._check_grad(grad_out)
    weight = self.params["W"]
    in_channels, out_channels, kh, kw = weight.shape
    n, _, h, w = self.x_shape
    g_cols, _ = im2col(g.transpose(1, 0, 2, 3), (kh, kw), self.stride, self.padding)
    # dL/dW = g X^T as Conv2d writes it: (O, kh, kw, C) -> (O, C, kh, kw), Conv2d's layout, not (C, O, kh, kw)
    self.grads["W"] = (g_cols @ self.x_rows.T).reshape(out_channels, kh, kw, in_channels).transpose(0, 3, 1, 2)
    if "b" in self.params:
        self.grads["b"] = g.sum(axis=(0, 2, 3))
    return (weight.reshape(in_channels, -1) @ g_cols).reshape(in_channels, n, h, w).transpose(1, 0, 2, 3)


def conv_transpose_grad_x_kernel_flipped(self, grad_out):
    g = self._check_grad(grad_out)
    weight = self.params["W"]
    in_channels, _, kh, kw = weight.shape
    n, _, h, w = self.x_shape
    g_cols, _ = im2col(g.transpose(1, 0, 2, 3), (kh, kw), self.stride, self.padding)
    self.grads["W"] = (self.x_rows @ g_cols.T).reshape(weight.shape)
    if "b" in self.params:
        self.grads["b"] = g.sum(axis=(0, 2, 3))
    # "the transpose of a convolution flips its kernel": true of Conv2d's dL/dx, not here
    flipped = np.ascontiguousarray(weight[:, :, ::-1, ::-1]).reshape(in_channels, -1)
    return (flipped @ g_cols).reshape(in_channels, n, h, w).transpose(1, 0, 2, 3)


# -- Conv1d ---------------------------------------------------------------------------------


def conv1d_backward_stride_ignored(self, grad_out):
    g = self._check_grad(grad_out)
    (n, c, length), p = self.x_shape, self.padding
    self.grads["W"] = np.tensordot(g, self.windows, axes=([0, 2], [0, 2]))
    if "b" in self.params:
        self.grads["b"] = g.sum(axis=(0, 2))
    grad_windows = np.tensordot(g, self.params["W"], axes=([1], [0]))
    out_len = g.shape[2]
    grad_xp = np.zeros((n, c, length + 2 * p), dtype=grad_windows.dtype)
    for u in range(self.kernel_size):  # window l starts at l, as at stride 1, not at l * stride
        grad_xp[:, :, u : u + out_len] += grad_windows[..., u].transpose(0, 2, 1)
    return grad_xp[:, :, p : p + length]


def conv1d_kernel_flipped(self, x):
    _, in_channels, k = self.params["W"].shape
    check_input(x, "Conv1d input", ("N", in_channels, "L"))
    p = self.padding
    if x.shape[2] + 2 * p < k:
        raise ValueError(f"Conv1d: kernel {k} is larger than the padded input {x.shape[2] + 2 * p}")
    self.x_shape = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p, p))) if p else x
    self.windows = sliding_window_view(xp, k, axis=2)[:, :, :: self.stride]
    # a true convolution (np.convolve's), where torch's Conv1d is a cross-correlation
    y = np.tensordot(self.windows, self.params["W"][:, :, ::-1], axes=([1, 3], [1, 2]))
    if "b" in self.params:
        y += self.params["b"]
    return self._remember_output(y.transpose(0, 2, 1))


# -- RMSprop --------------------------------------------------------------------------------


def rmsprop_centered_mean_not_subtracted(self, grads):
    alpha = self.alpha
    for name, p in self.params.items():
        g = grads[name] + self.weight_decay * p if self.weight_decay else grads[name]
        state = self.state[name]
        if not state:
            state.update(step=0, square_avg=np.zeros_like(p))
            if self.momentum:
                state["momentum_buffer"] = np.zeros_like(p)
            if self.centered:
                state["grad_avg"] = np.zeros_like(p)
        state["step"] += 1
        state["square_avg"] = alpha * state["square_avg"] + (1 - alpha) * g * g
        if self.centered:  # the mean kept, but the denominator still the uncentered second moment
            state["grad_avg"] = alpha * state["grad_avg"] + (1 - alpha) * g
        denominator = np.sqrt(state["square_avg"]) + self.eps
        if self.momentum:
            state["momentum_buffer"] = self.momentum * state["momentum_buffer"] + g / denominator
            p -= self.lr * state["momentum_buffer"]
        else:
            p -= self.lr * g / denominator


def rmsprop_eps_inside_sqrt(self, grads):
    alpha = self.alpha
    for name, p in self.params.items():
        g = grads[name] + self.weight_decay * p if self.weight_decay else grads[name]
        state = self.state[name]
        if not state:
            state.update(step=0, square_avg=np.zeros_like(p))
            if self.momentum:
                state["momentum_buffer"] = np.zeros_like(p)
            if self.centered:
                state["grad_avg"] = np.zeros_like(p)
        state["step"] += 1
        state["square_avg"] = alpha * state["square_avg"] + (1 - alpha) * g * g
        if self.centered:
            state["grad_avg"] = alpha * state["grad_avg"] + (1 - alpha) * g
            variance = state["square_avg"] - state["grad_avg"] ** 2
        else:
            variance = state["square_avg"]
        denominator = np.sqrt(variance + self.eps)  # torch adds eps after the square root
        if self.momentum:
            state["momentum_buffer"] = self.momentum * state["momentum_buffer"] + g / denominator
            p -= self.lr * state["momentum_buffer"]
        else:
            p -= self.lr * g / denominator


# -- Adagrad --------------------------------------------------------------------------------


def adagrad_lr_decayed_from_the_first_step(self, grads):
    for name, p in self.params.items():
        g = grads[name] + self.weight_decay * p if self.weight_decay else grads[name]
        state = self.state[name]
        state["step"] += 1
        state["sum"] = state["sum"] + g * g
        lr = self.lr / (1 + state["step"] * self.lr_decay)  # the step already counted: t, not t - 1
        p -= lr * g / (np.sqrt(state["sum"]) + self.eps)


# -- AdamW ----------------------------------------------------------------------------------


def adamw_decay_added_to_gradient(self, grads):
    beta1, beta2 = self.betas
    for name, p in self.params.items():
        g = grads[name] + self.weight_decay * p  # Adam's L2, which the moments then rescale
        state = self.state[name]
        if not state:
            state.update(step=0, exp_avg=np.zeros_like(p), exp_avg_sq=np.zeros_like(p))
        state["step"] += 1
        state["exp_avg"] = beta1 * state["exp_avg"] + (1 - beta1) * g
        state["exp_avg_sq"] = beta2 * state["exp_avg_sq"] + (1 - beta2) * g * g
        correction1, correction2 = 1 - beta1 ** state["step"], 1 - beta2 ** state["step"]
        denominator = np.sqrt(state["exp_avg_sq"]) / math.sqrt(correction2) + self.eps
        p -= self.lr / correction1 * state["exp_avg"] / denominator


# -- clip_grad_norm -------------------------------------------------------------------------


def clip_by_each_arrays_norm(grads, max_norm, norm_type=2.0):
    grads = list(grads)
    if not grads:
        raise ValueError("clip_grad_norm: expected at least one gradient array, got none")
    for index, g in enumerate(grads):
        check_input(g, f"clip_grad_norm grads[{index}]")
    norm_type = float(norm_type)
    norms = np.stack([np.linalg.norm(g.ravel(), norm_type) for g in grads])
    total = np.asarray(np.linalg.norm(norms, norm_type))
    # each array clipped to max_norm on its own: the global norm can stay above it
    return [g * np.minimum(max_norm / (norm + 1e-6), 1.0) for g, norm in zip(grads, norms, strict=True)], total


def clip_scales_up_below_max_norm(grads, max_norm, norm_type=2.0):
    grads = list(grads)
    if not grads:
        raise ValueError("clip_grad_norm: expected at least one gradient array, got none")
    for index, g in enumerate(grads):
        check_input(g, f"clip_grad_norm grads[{index}]")
    norm_type = float(norm_type)
    norms = np.stack([np.linalg.norm(g.ravel(), norm_type) for g in grads])
    total = np.asarray(np.linalg.norm(norms, norm_type))
    coefficient = max_norm / (total + 1e-6)  # not clamped to 1: small gradients are scaled up to max_norm
    return [g * coefficient for g in grads], total


VARIANTS = [
    ("conv_transpose_output_padding_at_start", "ConvTranspose2d", ConvTranspose2d, "forward",
     conv_transpose_output_padding_at_start,
     "output_padding's extra rows and columns put at the top and left, every scatter shifted by them", "maths"),
    ("conv_transpose_grad_w_in_out_swapped", "ConvTranspose2d", ConvTranspose2d, "backward",
     conv_transpose_grad_w_in_out_swapped,
     "dL/dW in Conv2d's (out, in, kh, kw) layout, not the stored (in, out, kh, kw)", "maths"),
    ("conv_transpose_grad_x_kernel_flipped", "ConvTranspose2d", ConvTranspose2d, "backward",
     conv_transpose_grad_x_kernel_flipped,
     "dL/dx correlates g with the kernel flipped in both spatial axes", "maths"),
    ("conv1d_backward_stride_ignored", "Conv1d", Conv1d, "backward", conv1d_backward_stride_ignored,
     "dL/dx adds each window's gradient back at l + u, as at stride 1, not at l * stride + u", "maths"),
    ("conv1d_kernel_flipped", "Conv1d", Conv1d, "forward", conv1d_kernel_flipped,
     "a true convolution (kernel reversed), not torch's cross-correlation", "maths"),
    ("rmsprop_centered_mean_not_subtracted", "RMSprop RMSpropCenteredMomentum", RMSprop, "step",
     rmsprop_centered_mean_not_subtracted,
     "centered: grad_avg kept but grad_avg^2 not subtracted from square_avg", "optimizers"),
    ("rmsprop_eps_inside_sqrt", "RMSprop RMSpropCenteredMomentum", RMSprop, "step", rmsprop_eps_inside_sqrt,
     "sqrt(v + eps) for sqrt(v) + eps", "optimizers"),
    ("adagrad_lr_decayed_from_the_first_step", "Adagrad", Adagrad, "step", adagrad_lr_decayed_from_the_first_step,
     "lr / (1 + t lr_decay) with t already counted, not (t - 1): the first step decayed", "optimizers"),
    ("adamw_decay_added_to_gradient", "AdamW", AdamW, "step", adamw_decay_added_to_gradient,
     "weight decay added to the gradient (Adam's L2), not applied to the parameter, decoupled", "optimizers"),
    ("clip_by_each_arrays_norm", "clip_grad_norm", optim, "clip_grad_norm", clip_by_each_arrays_norm,
     "each array clipped by its own norm instead of all of them by the global norm", "optimizers"),
    ("clip_scales_up_below_max_norm", "clip_grad_norm", optim, "clip_grad_norm", clip_scales_up_below_max_norm,
     "the coefficient max_norm / (norm + 1e-6) not clamped to 1: gradients below max_norm scaled up", "optimizers"),
]
