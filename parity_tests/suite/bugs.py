"""A corpus of realistic mistakes in hand-written layers, each one the default matrix must catch.

Every ``Bug`` replaces one method or function of ``reference/`` (or of the suite's own
autograd engine) with a variant carrying one mistake people make when they write these
layers by hand. ``test_bugs.py`` patches it in, runs the default matrix of the pairs it
names, and asserts some case fails.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from parity_tests.suite import (
    bugs_activations,
    bugs_attention,
    bugs_conv_optim,
    bugs_engines,
    bugs_inputs,
    bugs_losses,
    bugs_norm_pool,
    bugs_recurrent,
)
from reference import activations, attention, blocks, containers, conv, linear, losses, neuron, norm, optim, pooling


@dataclass(frozen=True)
class Bug:
    name: str
    pairs: tuple[str, ...]  # the pairs whose matrix must catch it
    owner: Any  # the class or module patched
    attribute: str
    replacement: Callable
    mistake: str
    family: str = "maths"  # maths, side effects, numerics, composition, optimizers, randomness, through time, engines


# -- activations ------------------------------------------------------------------------


def sigmoid_grad_missing_one_minus_y(self, g):
    return self._check_grad(g) * self.y


def sigmoid_grad_plus(self, g):
    return self._check_grad(g) * self.y * (1 + self.y)


def sigmoid_exponent_sign(self, x):
    self.y = 1.0 / (1.0 + np.exp(np.clip(x, -500, 500)))
    return self._remember_output(self.y)


def relu_grad_identity(self, g):
    return self._check_grad(g)


def relu_mask_from_gradient(self, g):
    g = self._check_grad(g)
    return g * (g > 0)


def softmax_over_batch_axis(self, x):
    exp = np.exp(x - x.max(axis=0, keepdims=True))
    self.y = exp / exp.sum(axis=0, keepdims=True)
    return self._remember_output(self.y)


def softmax_grad_diagonal_only(self, g):
    return self._check_grad(g) * self.y * (1 - self.y)


def softmax_grad_dot_over_batch(self, g):
    g = self._check_grad(g)
    return self.y * (g - np.sum(self.y * g, axis=0, keepdims=True))


def softmax_jacobian_missing_diag(self, g):
    g = self._check_grad(g)
    return np.stack([-np.outer(y, y) @ gi for y, gi in zip(self.y, g, strict=True)])


# -- losses -------------------------------------------------------------------------------

_ce_forward = losses.CrossEntropyLoss.forward


def ce_sum_over_batch(self, pred, target):
    return self._remember_output(np.asarray(_ce_forward(self, pred, target) * pred.shape[0], dtype=pred.dtype))


def ce_grad_missing_batch_division(self, g=1.0):
    g = self._check_grad(g)
    return g * np.where(self.unclipped, -self.target / self.p, 0)


def ce_grad_ignores_clip(self, g=1.0):
    g = self._check_grad(g)
    return g * -self.target / (self.p.shape[0] * self.p)


def ce_log_without_clip(self, pred, target):
    result = _ce_forward(self, pred, target)
    with np.errstate(divide="ignore", invalid="ignore"):
        loss = -np.sum(self.target * np.log(pred)) / pred.shape[0]
    return self._remember_output(np.asarray(loss, dtype=result.dtype))


def mse_grad_missing_two(self, g=1.0):
    return self._check_grad(g) * self.diff / self.diff.size


def mse_mean_over_batch_only(self, g=1.0):
    return self._check_grad(g) * 2.0 * self.diff / self.diff.shape[0]


# -- linear -------------------------------------------------------------------------------


_linear_backward = linear.Linear.backward


def linear_grad_w_wrong_order(self, g):
    grad_x = _linear_backward(self, g)
    self.grads["W"] = self.x.T @ g[::-1]  # each input paired with another sample's gradient
    return grad_x


def linear_grad_b_mean(self, g):
    grad_x = _linear_backward(self, g)
    if "b" in self.params:
        self.grads["b"] = g.mean(axis=0)
    return grad_x


def linear_grad_x_untransposed(self, g):
    _linear_backward(self, g)
    return g @ self.params["W"]


def linear_stale_input(self, x):
    if not hasattr(self, "x"):  # caches the first batch only
        self.x = x
    y = x @ self.params["W"] + self.params.get("b", 0)
    return self._remember_output(y)


# -- convolution --------------------------------------------------------------------------

_conv_forward, _conv_backward = conv.Conv2d.forward, conv.Conv2d.backward


def conv_flipped_kernel(self, x):
    saved = self.params["W"]
    self.params["W"] = saved[:, :, ::-1, ::-1]  # true convolution instead of cross-correlation
    try:
        return _conv_forward(self, x)
    finally:
        self.params["W"] = saved


def conv_grad_b_mean(self, g):
    grad_x = _conv_backward(self, g)
    if "b" in self.params:
        self.grads["b"] = g.mean(axis=(0, 2, 3))
    return grad_x


def conv_grad_w_first_sample(self, g):
    grad_x = _conv_backward(self, g)
    first = g.shape[2] * g.shape[3]  # the im2col columns of sample 0
    g_rows = g.transpose(1, 0, 2, 3).reshape(g.shape[1], -1)
    self.grads["W"] = (g_rows[:, :first] @ self.cols[:, :first].T).reshape(self.params["W"].shape)
    return grad_x


def conv_backward_ignores_stride(self, g):
    stride, self.stride = self.stride, (1, 1)  # the scatter steps by 1 whatever the stride
    try:
        return _conv_backward(self, g)
    finally:
        self.stride = stride


def conv_crop_without_offset(self, g):
    grad_x = _conv_backward(self, g)
    ph, pw = self.padding
    if not ph:
        return grad_x
    full = np.pad(grad_x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))  # undo the right crop, then crop wrong
    return full[:, :, : grad_x.shape[2], : grad_x.shape[3]]


def simple_conv2d_swapped_output(input_matrix, kernel, padding, stride):
    padded = np.pad(input_matrix, padding)
    kh, kw = kernel.shape
    out_h = (padded.shape[0] - kh) // stride + 1
    out_w = (padded.shape[1] - kw) // stride + 1
    output = np.zeros((out_w, out_h), dtype=np.result_type(input_matrix, kernel, np.float32))
    for i in range(out_h):
        for j in range(out_w):
            output[i, j] = np.sum(padded[i * stride : i * stride + kh, j * stride : j * stride + kw] * kernel)
    return output


def simple_conv2d_no_stride(input_matrix, kernel, padding, stride):
    padded = np.pad(input_matrix, padding)
    kh, kw = kernel.shape
    windows = sliding_window_view(padded, (kh, kw))
    out_h = (padded.shape[0] - kh) // stride + 1
    out_w = (padded.shape[1] - kw) // stride + 1
    return np.einsum("ijuv,uv->ij", windows[:out_h, :out_w], kernel).astype(np.result_type(input_matrix, np.float32))


# -- normalisation ------------------------------------------------------------------------

_bn_forward, _bn_backward = norm.BatchNorm2d.forward, norm.BatchNorm2d.backward


def _bn_output(self, x, mean, std):
    """Normalise with the given statistics, keeping what backward reads."""
    self.std, self.x_hat = std, (x - mean) / std
    y = self.params["gamma"][:, None, None] * self.x_hat + self.params["beta"][:, None, None]
    return self._remember_output(y)


def _bn_running_update(update, unbiased=True):
    """A training forward whose running statistics follow ``update(running, batch, momentum)``,
    fed the unbiased batch variance or (``unbiased=False``) the biased one."""

    def forward(self, x):
        if not self.training:
            return _bn_forward(self, x)
        m = x.shape[0] * x.shape[2] * x.shape[3]
        mean, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))
        batch_var = var * m / (m - 1) if unbiased else var
        self.state["running_mean"] = update(self.state["running_mean"], mean, self.momentum)
        self.state["running_var"] = update(self.state["running_var"], batch_var, self.momentum)
        return _bn_output(self, x, mean[:, None, None], np.sqrt(var + self.eps)[:, None, None])

    return forward


def _bn_normalised_with(statistics):
    """A training forward (running statistics right) normalising with ``statistics(x, eps) -> (mean, std)``."""

    def forward(self, x):
        y = _bn_forward(self, x)
        return _bn_output(self, x, *statistics(x, self.eps)) if self.training else y

    return forward


bn_unbiased_var_in_normalisation = _bn_normalised_with(
    lambda x, eps: (x.mean(axis=(0, 2, 3))[:, None, None], np.sqrt(x.var(axis=(0, 2, 3), ddof=1) + eps)[:, None, None])
)
bn_eps_outside_sqrt = _bn_normalised_with(
    lambda x, eps: (x.mean(axis=(0, 2, 3))[:, None, None], (np.sqrt(x.var(axis=(0, 2, 3))) + eps)[:, None, None])
)
bn_per_sample_statistics = _bn_normalised_with(
    lambda x, eps: (x.mean(axis=(2, 3), keepdims=True), np.sqrt(x.var(axis=(2, 3), keepdims=True) + eps))
)
bn_biased_running_var = _bn_running_update(lambda running, batch, m: (1 - m) * running + m * batch, unbiased=False)
bn_momentum_inverted = _bn_running_update(lambda running, batch, m: m * running + (1 - m) * batch)


def bn_backward_treats_stats_as_constants(self, g):
    _bn_backward(self, g)
    return self.params["gamma"][:, None, None] / self.std * g


def bn_eval_uses_batch_stats(self, x):
    if self.training:
        return _bn_forward(self, x)
    saved, self.training = dict(self.state), True
    y = _bn_forward(self, x)
    self.training, self.state = False, saved
    return y


def bn_grad_gamma_without_xhat(self, g):
    grad_x = _bn_backward(self, g)
    self.grads["gamma"] = g.sum(axis=(0, 2, 3))
    return grad_x


def batch_normalization_eps_outside_sqrt(X, gamma, beta, epsilon=1e-5):
    mean, var = X.mean(axis=(0, 2, 3), keepdims=True), X.var(axis=(0, 2, 3), keepdims=True)
    return gamma * (X - mean) / (np.sqrt(var) + epsilon) + beta


def batch_normalization_over_all_axes(X, gamma, beta, epsilon=1e-5):
    return gamma * (X - X.mean()) / np.sqrt(X.var() + epsilon) + beta


# -- pooling ------------------------------------------------------------------------------


def gap_grad_missing_division(self, g):
    return np.broadcast_to(self._check_grad(g), self.x_shape).copy()


def global_avg_pool_swapped_dims(x):
    width, height, channels = x.shape  # the seed's loop: the names swapped, then used as if right
    output = np.zeros(channels, dtype=x.dtype)
    for c in range(channels):
        channel_sum = 0
        for i in range(height):
            for j in range(width):
                channel_sum += x[i, j, c]
        output[c] = channel_sum / (height * width)
    return output


def global_avg_pool_wrong_axes(x):
    return x.mean(axis=(1, 2))  # as if channels came first


_ln_forward, _ln_backward = norm.LayerNorm.forward, norm.LayerNorm.backward


def layernorm_over_all_but_batch(self, x):
    _ln_forward(self, x)
    self.axes = tuple(range(1, x.ndim))  # every axis but the first, whatever normalized_shape says
    mean, var = x.mean(axis=self.axes, keepdims=True), x.var(axis=self.axes, keepdims=True)
    self.std = np.sqrt(var + self.eps)
    self.x_hat = (x - mean) / self.std
    y = self.params["gamma"] * self.x_hat + self.params["beta"] if self.params else self.x_hat
    return self._remember_output(y)


def layernorm_grad_missing_mean_terms(self, g):
    _ln_backward(self, g)
    return (g * self.params["gamma"] if self.params else g) / self.std


def maxpool_grad_overwrites_overlaps(self, g):
    g = self._check_grad(g)
    (_, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
    n, c, h, w = self.x_shape
    rows = np.arange(g.shape[2])[:, None] * sh + self.argmax // kw
    cols = np.arange(g.shape[3])[None, :] * sw + self.argmax % kw
    grad_xp = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=g.dtype)
    batch, channel = np.indices((n, c))
    grad_xp[batch[:, :, None, None], channel[:, :, None, None], rows, cols] = g  # = instead of +=
    return grad_xp[:, :, ph : ph + h, pw : pw + w]


def maxpool_ties_to_last(self, x):
    (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
    self.x_shape = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=-np.inf)
    windows = sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    flat = windows.reshape(*windows.shape[:4], kh * kw)
    self.argmax = kh * kw - 1 - flat[..., ::-1].argmax(axis=-1)  # the last maximum wins a tie
    return self._remember_output(flat.max(axis=-1))


# -- blocks -------------------------------------------------------------------------------

_res_backward = blocks.ResidualBlock.backward


def residual_grad_missing_skip(self, g):
    g2 = self._check_grad(g).reshape(self.h2.shape) * (self.h2 > 0)
    _res_backward(self, g)
    g1 = (self.params["w2"].T @ g2) * (self.h1 > 0)
    return (self.params["w1"].T @ g1).reshape(self._output_shape)


def residual_outer_mask_from_inner(self, g):
    g = self._check_grad(g).reshape(self.h2.shape)
    g2 = g * (self.h1 > 0)
    self.grads["w2"] = g2 @ self.a1.T
    g1 = (self.params["w2"].T @ g2) * (self.h1 > 0)
    self.grads["w1"] = g1 @ self.x.T
    return (self.params["w1"].T @ g1 + g2).reshape(self._output_shape)


def residual_grad_w1_with_activation(self, g):
    grad_x = _res_backward(self, g)
    g2 = self._check_grad(g).reshape(self.h2.shape) * (self.h2 > 0)
    g1 = (self.params["w2"].T @ g2) * (self.h1 > 0)
    self.grads["w1"] = g1 @ self.a1.T  # the hidden activation instead of the block input
    return grad_x


_se_forward, _se_backward = blocks.SEBlock.forward, blocks.SEBlock.backward


def se_grad_missing_direct_path(self, g):
    return _se_backward(self, g) - self._check_grad(g) * self.s


def se_gate_grad_uses_output(self, g):
    g = self._check_grad(g)
    grad_s = np.sum(g * self.x * self.s, axis=(2, 3))  # differentiates y = x*s at y, not at x
    grad_squeezed = self.fc1.backward(self.relu.backward(self.fc2.backward(self.sigmoid.backward(grad_s))))
    return g * self.s + self.pool.backward(grad_squeezed[:, :, None, None])


def se_squeeze_with_max(self, x):
    n, channels = x.shape[:2]
    self.x = x
    self.pool(x)
    squeezed = x.max(axis=(2, 3))
    self.s = self.sigmoid(self.fc2(self.relu(self.fc1(squeezed))))[:, :, None, None]
    return self._remember_output(x * self.s)


_seres_forward, _seres_backward = blocks.SEResNetBlock.forward, blocks.SEResNetBlock.backward


def seres_se_after_addition(self, x):
    out = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
    shortcut = self.shortcut_bn(self.shortcut_conv(x)) if self.projects else x
    return self._remember_output(self.relu_out(self.se(out + shortcut)))


def seres_shortcut_grad_dropped(self, g):
    g_out = self.relu_out.backward(self._check_grad(g))
    grad_main = self.conv2.backward(self.bn2.backward(self.se.backward(g_out)))
    grad_main = self.conv1.backward(self.bn1.backward(self.relu1.backward(grad_main)))
    if self.projects:
        self.shortcut_conv.backward(self.shortcut_bn.backward(g_out))
        return grad_main
    return grad_main + g_out


def seres_relu_before_bn(self, x):
    out = self.bn1(self.relu1(self.conv1(x)))
    out = self.se(self.bn2(self.conv2(out)))
    shortcut = self.shortcut_bn(self.shortcut_conv(x)) if self.projects else x
    return self._remember_output(self.relu_out(out + shortcut))


# -- neuron -------------------------------------------------------------------------------


def _neuron(step):
    """A train_neuron whose update is ``step(X, y, w, b, p, lr) -> (w, b, loss_after)``."""

    def train(features, labels, initial_weights, initial_bias, learning_rate, epochs):
        X, y = features, labels.astype(features.dtype)
        w, b = initial_weights.astype(X.dtype), X.dtype.type(initial_bias)
        losses = np.empty(epochs, dtype=X.dtype)
        for epoch in range(epochs):
            p = 1.0 / (1.0 + np.exp(-(X @ w + b)))
            w, b, losses[epoch] = step(X, y, w, b, p, learning_rate)
        return w, b, losses

    return train


def _mse(p, y):
    return np.mean((p - y) ** 2)


neuron_missing_factor_two = _neuron(lambda X, y, w, b, p, lr: (
    w - lr * X.T @ ((p - y) * p * (1 - p)) / len(y), b - lr * np.sum((p - y) * p * (1 - p)) / len(y), _mse(p, y)))
neuron_sum_not_mean = _neuron(lambda X, y, w, b, p, lr: (
    w - lr * 2 * X.T @ ((p - y) * p * (1 - p)), b - lr * 2 * np.sum((p - y) * p * (1 - p)), _mse(p, y)))
neuron_bias_never_updated = _neuron(lambda X, y, w, b, p, lr: (
    w - lr * 2 * X.T @ ((p - y) * p * (1 - p)) / len(y), b, _mse(p, y)))


_train_neuron = neuron.train_neuron


def neuron_loss_after_step(features, labels, initial_weights, initial_bias, learning_rate, epochs):
    *_, losses = _train_neuron(features, labels, initial_weights, initial_bias, learning_rate, epochs + 1)
    w, b, _ = _train_neuron(features, labels, initial_weights, initial_bias, learning_rate, epochs)
    return w, b, losses[1:]


# -- the corpus ---------------------------------------------------------------------------



# -- side effects: right numbers, wrong behaviour in a network ---------------------------

# the correct methods, kept before any variant is patched in, for variants that wrap them
LINEAR_BACKWARD = linear.Linear.backward
RESIDUAL_BACKWARD = blocks.ResidualBlock.backward
BATCHNORM_BACKWARD = norm.BatchNorm2d.backward


def relu_grad_zeroes_upstream_in_place(self, g):
    g = self._check_grad(g)
    g[~self.active] = 0  # the classic shortcut: the caller's array is zeroed where x <= 0
    return g


def linear_backward_steps_its_weights(self, grad_out):
    grad_x = LINEAR_BACKWARD(self, grad_out)
    self.params["W"] -= 0.01 * self.grads["W"]  # an SGD step hidden in backward
    return grad_x


def sigmoid_output_in_a_reused_buffer(self, x):
    activations.check_input(x, "Sigmoid input")
    if getattr(self, "buffer", None) is None or self.buffer.shape != x.shape or self.buffer.dtype != x.dtype:
        self.buffer = np.empty_like(x)
    with np.errstate(over="ignore"):
        np.divide(1.0, 1.0 + np.exp(-np.clip(x, -500, 500)), out=self.buffer)  # one buffer, handed out every call
    self.y = self.buffer
    return self._remember_output(self.y)


def softmax_grad_written_into_output(self, g):
    g = self._check_grad(g)
    dot = np.sum(self.y * g, axis=1, keepdims=True)
    grad = self.y  # not a copy: the output the caller holds becomes the gradient
    grad *= g - dot
    return grad


def residual_weight_decay_in_backward(self, grad_out):
    grad_x = RESIDUAL_BACKWARD(self, grad_out)
    for name in ("w1", "w2"):
        self.params[name] *= 1 - 1e-4  # weight decay applied where the gradient is computed
    return grad_x


def bn_running_stats_updated_in_backward(self, g):
    grad_x = BATCHNORM_BACKWARD(self, g)
    self.state["running_mean"] = 0.9 * self.state["running_mean"]  # a second momentum step, in backward
    return grad_x


def gap_grad_returns_upstream_for_one_pixel(self, grad_out):
    grad_out = self._check_grad(grad_out)
    h, w = self.x_shape[2:]
    if h * w == 1:
        return grad_out  # "nothing to spread": hands the caller's own array back as dL/dx
    return np.broadcast_to(grad_out / (h * w), self.x_shape).copy()


# -- numerics: exact on paper, unstable in float32 on real inputs ------------------------


def _one_pass_var(x, axis):
    return np.mean(x * x, axis=axis, keepdims=True) - np.mean(x, axis=axis, keepdims=True) ** 2


def bn_one_pass_variance(self, x):
    channels = self.params["gamma"].shape[0]
    norm.check_input(x, "BatchNorm2d input", ("N", channels, "H", "W"))
    if self.training:
        m = x.shape[0] * x.shape[2] * x.shape[3]
        mean = x.mean(axis=norm.AXES)
        var = _one_pass_var(x, norm.AXES).reshape(-1)  # E[x^2] - E[x]^2
        self.state["running_mean"] = (1 - self.momentum) * self.state["running_mean"] + self.momentum * mean
        self.state["running_var"] = (1 - self.momentum) * self.state["running_var"] + self.momentum * var * m / (m - 1)
    else:
        mean, var = self.state["running_mean"], self.state["running_var"]
    self.std = np.sqrt(var + self.eps)[:, None, None]
    self.x_hat = (x - mean[:, None, None]) / self.std
    return self._remember_output(self.params["gamma"][:, None, None] * self.x_hat + self.params["beta"][:, None, None])


def layernorm_one_pass_variance(self, x):
    k = len(self.normalized_shape)
    self.axes = tuple(range(x.ndim - k, x.ndim))
    mean, var = x.mean(axis=self.axes, keepdims=True), _one_pass_var(x, self.axes)  # E[x^2] - E[x]^2
    self.std = np.sqrt(var + self.eps)
    self.x_hat = (x - mean) / self.std
    y = self.params["gamma"] * self.x_hat + self.params["beta"] if self.params else self.x_hat
    return self._remember_output(y)


def batch_normalization_one_pass_variance(X, gamma, beta, epsilon=1e-5):
    mean, var = X.mean(axis=norm.AXES, keepdims=True), _one_pass_var(X, norm.AXES)
    return gamma * (X - mean) / np.sqrt(var + epsilon) + beta


def softmax_without_max_shift(self, x):
    exp = np.exp(x)  # overflows once logits pass ~88 in float32
    self.y = exp / exp.sum(axis=1, keepdims=True)
    return self._remember_output(self.y)


def softmax_naive_log_sum_exp(self, x):
    log_sum = np.log(np.sum(np.exp(x), axis=1, keepdims=True))  # log-sum-exp without the max
    self.y = np.exp(x - log_sum)
    return self._remember_output(self.y)


def sigmoid_exp_over_one_plus_exp(self, x):
    exp = np.exp(np.clip(x, -500, 500))
    self.y = exp / (1.0 + exp)  # inf / inf once x passes ~88 in float32
    return self._remember_output(self.y)


def mse_expanded_square(self, pred, target):
    self.diff = pred - target
    return self._remember_output(np.mean(pred * pred - 2 * pred * target + target * target))  # cancels


# -- optimizers ---------------------------------------------------------------------------


def _sgd_step(self, grads, *, velocity_with_lr=False, forget_nesterov=False, decoupled_decay=False,
              drop_buffer=False):
    """SGD.step with one of its classic mistakes switched on."""
    for name, p in self.params.items():
        g = grads[name] + (0 if decoupled_decay else self.weight_decay * p)
        state = self.state[name]
        if "momentum_buffer" not in state or drop_buffer:
            state["momentum_buffer"] = (self.lr if velocity_with_lr else 1.0) * g
        else:
            state["momentum_buffer"] = self.momentum * state["momentum_buffer"] + (self.lr if velocity_with_lr
                                                                                     else 1.0) * g
        b = state["momentum_buffer"]
        step = b / self.lr if velocity_with_lr else (g + self.momentum * b if self.nesterov and not forget_nesterov
                                                     else b)
        if decoupled_decay:
            p *= 1 - self.lr * self.weight_decay
        p -= self.lr * step


def sgd_dampened_from_the_first_step(self, grads):
    """The buffer starts at zero and is damped at once: b1 = (1 - tau) g, where torch's b1 = g."""
    for name, p in self.params.items():
        g = grads[name] + self.weight_decay * p if self.weight_decay else grads[name]
        state = self.state[name]
        state["momentum_buffer"] = self.momentum * state.get("momentum_buffer", 0.0) + (1 - self.dampening) * g
        p -= self.lr * (g + self.momentum * state["momentum_buffer"] if self.nesterov else state["momentum_buffer"])


def sgd_velocity_holds_lr(self, grads):
    _sgd_step(self, grads, velocity_with_lr=True)  # v = mu v + lr g: the textbook velocity, not torch's buffer


def sgd_nesterov_ignored(self, grads):
    _sgd_step(self, grads, forget_nesterov=True)


def sgd_decoupled_weight_decay(self, grads):
    _sgd_step(self, grads, decoupled_decay=True)


def sgd_buffer_not_carried(self, grads):
    _sgd_step(self, grads, drop_buffer=True)  # a fresh buffer every step: the momentum is lost


def _adam_step(self, grads, *, no_bias_correction=False, eps_inside_sqrt=False, decoupled_decay=False,
               reset_step=False):
    """Adam.step with one of its classic mistakes switched on."""
    beta1, beta2 = self.betas
    for name, p in self.params.items():
        g = grads[name] + (0 if decoupled_decay else self.weight_decay * p)
        state = self.state[name]
        if not state or reset_step:
            state.update(step=0, exp_avg=state.get("exp_avg", np.zeros_like(p)),
                         exp_avg_sq=state.get("exp_avg_sq", np.zeros_like(p)))
        state["step"] += 1
        state["exp_avg"] = beta1 * state["exp_avg"] + (1 - beta1) * g
        state["exp_avg_sq"] = beta2 * state["exp_avg_sq"] + (1 - beta2) * g * g
        c1, c2 = (1.0, 1.0) if no_bias_correction else (1 - beta1 ** state["step"], 1 - beta2 ** state["step"])
        if eps_inside_sqrt:
            denominator = np.sqrt(state["exp_avg_sq"] / c2 + self.eps)
        else:
            denominator = np.sqrt(state["exp_avg_sq"]) / math.sqrt(c2) + self.eps
        if decoupled_decay:
            p *= 1 - self.lr * self.weight_decay
        p -= self.lr / c1 * state["exp_avg"] / denominator


def adam_without_bias_correction(self, grads):
    _adam_step(self, grads, no_bias_correction=True)


def adam_eps_inside_sqrt(self, grads):
    _adam_step(self, grads, eps_inside_sqrt=True)


def adam_decoupled_weight_decay(self, grads):
    _adam_step(self, grads, decoupled_decay=True)  # AdamW's decay, where torch's Adam adds L2 to g


def adam_step_count_not_carried(self, grads):
    _adam_step(self, grads, reset_step=True)  # bias correction as if every step were the first


# -- composition and training: right for one call, wrong in a network -----------------------

SEQUENTIAL_FORWARD = containers.Sequential.forward
BATCHNORM_FORWARD = norm.BatchNorm2d.forward


def sequential_shared_layer_cache_overwritten(self, grad_out):
    g = self._check_grad(grad_out)
    for layer in reversed(self.layers):  # a shared layer's backward sees its last use's cache every time
        g = layer.backward(g)
    return g


def conv_one_column_buffer(self, x):
    self.free_buffer = getattr(self, "kept_buffer", None)  # reused at every forward, backward done or not
    y = _conv_forward(self, x)
    self.kept_buffer = self.cols_buffer
    return y


def sequential_shared_grads_not_summed(self, grad_out):
    g = self._check_grad(grad_out)
    for layer, cached in zip(reversed(self.layers), reversed(self._uses), strict=True):
        for part, attributes in cached:
            vars(part).update(attributes)
        g = layer.backward(g)  # each use's gradients replace the previous use's
    return g


def sequential_eval_not_propagated(self, mode=True):
    self.training = mode  # model.eval() that never reaches the layers inside
    return self


def flatten_grad_not_reshaped(self, grad_out):
    return self._check_grad(grad_out).copy()  # (N, d) handed back where x was (N, C, H, W)


def linear_grads_accumulate_across_steps(self, grad_out):
    grad_x = LINEAR_BACKWARD(self, grad_out)
    for name, grad in list(self.grads.items()):  # += into the previous step's gradient: never zeroed
        self.grads[name] = getattr(self, "_previous", {}).get(name, 0) + grad
    self._previous = dict(self.grads)
    return grad_x


def bn_eval_reuses_last_training_batch(self, x):
    if self.training:
        self.last_batch = (x.mean(axis=norm.AXES), x.var(axis=norm.AXES))
        return BATCHNORM_FORWARD(self, x)
    saved = self.state["running_mean"], self.state["running_var"]
    mean, var = getattr(self, "last_batch", saved)  # a cache from training, read in eval
    self.state["running_mean"], self.state["running_var"] = mean, var
    try:
        return BATCHNORM_FORWARD(self, x)
    finally:
        self.state["running_mean"], self.state["running_var"] = saved


def _patch(name, pairs, owner, attribute, replacement, mistake, family="maths"):
    return Bug(name, tuple(pairs.split()), owner, attribute, replacement, mistake, family)


A, L, C, N, P, B = activations, losses, conv, norm, pooling, blocks
BUGS = [
    _patch("sigmoid_grad_missing_one_minus_y", "Sigmoid", A.Sigmoid, "backward", sigmoid_grad_missing_one_minus_y,
           "derivative y instead of y(1-y)"),
    _patch("sigmoid_grad_plus", "Sigmoid", A.Sigmoid, "backward", sigmoid_grad_plus,
           "y(1+y): a sign in the derivative"),
    _patch("sigmoid_exponent_sign", "Sigmoid", A.Sigmoid, "forward", sigmoid_exponent_sign, "exp(x) for exp(-x)"),
    _patch("relu_grad_identity", "ReLU", A.ReLU, "backward", relu_grad_identity, "gradient passed where x < 0"),
    _patch("relu_mask_from_gradient", "ReLU", A.ReLU, "backward", relu_mask_from_gradient,
           "masks by the sign of the gradient, not of the input"),
    _patch("softmax_over_batch_axis", "Softmax", A.Softmax, "forward", softmax_over_batch_axis,
           "normalises over axis 0 (the batch)"),
    _patch("softmax_grad_diagonal_only", "Softmax", A.Softmax, "backward", softmax_grad_diagonal_only,
           "keeps only the Jacobian's diagonal"),
    _patch("softmax_grad_dot_over_batch", "Softmax", A.Softmax, "backward", softmax_grad_dot_over_batch,
           "<y, g> summed over the wrong axis"),
    _patch("softmax_jacobian_missing_diag", "SoftmaxJacobian", A.Softmax, "backward_jacobian",
           softmax_jacobian_missing_diag, "Jacobian -y y^T without diag(y)"),
    _patch("ce_sum_over_batch", "CrossEntropyLoss", L.CrossEntropyLoss, "forward", ce_sum_over_batch,
           "sums over the batch instead of the mean"),
    _patch("ce_grad_missing_batch_division", "CrossEntropyLoss", L.CrossEntropyLoss, "backward",
           ce_grad_missing_batch_division, "gradient not divided by N"),
    _patch("ce_grad_ignores_clip", "CrossEntropyLoss", L.CrossEntropyLoss, "backward", ce_grad_ignores_clip,
           "gradient flows through clipped probabilities (the seed's backward)"),
    _patch("ce_log_without_clip", "CrossEntropyLoss", L.CrossEntropyLoss, "forward", ce_log_without_clip,
           "log(0) at exact-zero probabilities"),
    _patch("mse_grad_missing_two", "MSELoss", L.MSELoss, "backward", mse_grad_missing_two, "d(p-t)^2 = (p-t)"),
    _patch("mse_mean_over_batch_only", "MSELoss", L.MSELoss, "backward", mse_mean_over_batch_only,
           "divides by the batch size, not the element count"),
    _patch("linear_grad_w_wrong_order", "Linear", linear.Linear, "backward", linear_grad_w_wrong_order,
           "weight gradient pairs inputs with the wrong samples' gradients"),
    _patch("linear_grad_b_mean", "Linear", linear.Linear, "backward", linear_grad_b_mean, "bias gradient is a mean"),
    _patch("linear_grad_x_untransposed", "Linear", linear.Linear, "backward", linear_grad_x_untransposed,
           "input gradient g W instead of g W^T"),
    _patch("linear_stale_input", "Linear", linear.Linear, "forward", linear_stale_input,
           "caches the first batch's input and reuses it"),
    _patch("conv_flipped_kernel", "Conv2d", C.Conv2d, "forward", conv_flipped_kernel,
           "true convolution (flipped kernel) instead of cross-correlation"),
    _patch("conv_grad_b_mean", "Conv2d", C.Conv2d, "backward", conv_grad_b_mean, "bias gradient averaged"),
    _patch("conv_grad_w_first_sample", "Conv2d", C.Conv2d, "backward", conv_grad_w_first_sample,
           "weight gradient from the first sample only"),
    _patch("conv_backward_ignores_stride", "Conv2d", C.Conv2d, "backward", conv_backward_ignores_stride,
           "scatters the input gradient with stride 1"),
    _patch("conv_crop_without_offset", "Conv2d", C.Conv2d, "backward", conv_crop_without_offset,
           "crops the padded gradient at 0 instead of at the padding"),
    _patch("simple_conv2d_swapped_output", "simple_conv2d", C, "simple_conv2d", simple_conv2d_swapped_output,
           "output allocated (OW, OH), as in the seed"),
    _patch("simple_conv2d_no_stride", "simple_conv2d", C, "simple_conv2d", simple_conv2d_no_stride,
           "windows taken at every position, not every stride"),
    _patch("bn_unbiased_var_in_normalisation", "BatchNorm2d", N.BatchNorm2d, "forward",
           bn_unbiased_var_in_normalisation, "normalises with the unbiased variance"),
    _patch("bn_biased_running_var", "BatchNorm2d", N.BatchNorm2d, "forward", bn_biased_running_var,
           "running variance updated with the biased variance"),
    _patch("bn_eps_outside_sqrt", "BatchNorm2d", N.BatchNorm2d, "forward", bn_eps_outside_sqrt,
           "sqrt(var) + eps, as the seed's formula writes it"),
    _patch("bn_backward_treats_stats_as_constants", "BatchNorm2d", N.BatchNorm2d, "backward",
           bn_backward_treats_stats_as_constants, "forgets that mean and variance depend on x"),
    _patch("bn_eval_uses_batch_stats", "BatchNorm2d", N.BatchNorm2d, "forward", bn_eval_uses_batch_stats,
           "eval mode normalises with the batch statistics"),
    _patch("bn_momentum_inverted", "BatchNorm2d", N.BatchNorm2d, "forward", bn_momentum_inverted,
           "momentum weights the old running value"),
    _patch("bn_per_sample_statistics", "BatchNorm2d", N.BatchNorm2d, "forward", bn_per_sample_statistics,
           "statistics per sample (instance norm)"),
    _patch("bn_grad_gamma_without_xhat", "BatchNorm2d", N.BatchNorm2d, "backward", bn_grad_gamma_without_xhat,
           "gamma gradient sum(g) instead of sum(g x_hat)"),
    _patch("batch_normalization_eps_outside_sqrt", "batch_normalization", N, "batch_normalization",
           batch_normalization_eps_outside_sqrt, "sqrt(var) + eps in the stateless function"),
    _patch("batch_normalization_over_all_axes", "batch_normalization", N, "batch_normalization",
           batch_normalization_over_all_axes, "one mean and variance for all channels"),
    _patch("gap_grad_missing_division", "GlobalAvgPool2d", P.GlobalAvgPool2d, "backward", gap_grad_missing_division,
           "gradient not divided by H*W"),
    _patch("global_avg_pool_swapped_dims", "global_avg_pool", P, "global_avg_pool", global_avg_pool_swapped_dims,
           "height and width swapped, as in the seed's loop"),
    _patch("global_avg_pool_wrong_axes", "global_avg_pool", P, "global_avg_pool", global_avg_pool_wrong_axes,
           "averages the wrong axes"),
    _patch("layernorm_over_all_but_batch", "LayerNorm", N.LayerNorm, "forward", layernorm_over_all_but_batch,
           "normalises every axis but the batch's, not normalized_shape's"),
    _patch("layernorm_grad_missing_mean_terms", "LayerNorm", N.LayerNorm, "backward",
           layernorm_grad_missing_mean_terms, "forgets that mean and variance depend on x"),
    _patch("maxpool_grad_overwrites_overlaps", "MaxPool2d", P.MaxPool2d, "backward", maxpool_grad_overwrites_overlaps,
           "overlapping windows' gradients overwrite instead of adding"),
    _patch("maxpool_ties_to_last", "MaxPool2d", P.MaxPool2d, "forward", maxpool_ties_to_last,
           "ties broken towards the last maximum, not the first"),
    _patch("residual_grad_missing_skip", "ResidualBlock ResidualBlockTwice", B.ResidualBlock, "backward",
           residual_grad_missing_skip, "the skip connection's gradient is dropped"),
    _patch("residual_outer_mask_from_inner", "ResidualBlock", B.ResidualBlock, "backward",
           residual_outer_mask_from_inner, "the outer ReLU masked with the inner one's pattern"),
    _patch("residual_grad_w1_with_activation", "ResidualBlock", B.ResidualBlock, "backward",
           residual_grad_w1_with_activation, "dL/dw1 uses the hidden activation instead of x"),
    _patch("se_grad_missing_direct_path", "SEBlock SEResNetBlock", B.SEBlock, "backward", se_grad_missing_direct_path,
           "only the gate path of y = x * s is differentiated"),
    _patch("se_gate_grad_uses_output", "SEBlock SEResNetBlock", B.SEBlock, "backward", se_gate_grad_uses_output,
           "dL/ds computed from y instead of x"),
    _patch("se_squeeze_with_max", "SEBlock SEResNetBlock", B.SEBlock, "forward", se_squeeze_with_max,
           "squeezes with max instead of mean"),
    _patch("seres_se_after_addition", "SEResNetBlock", B.SEResNetBlock, "forward", seres_se_after_addition,
           "SE branch placed after the residual addition"),
    _patch("seres_shortcut_grad_dropped", "SEResNetBlock", B.SEResNetBlock, "backward", seres_shortcut_grad_dropped,
           "the projection shortcut's input gradient is dropped"),
    _patch("seres_relu_before_bn", "SEResNetBlock", B.SEResNetBlock, "forward", seres_relu_before_bn,
           "ReLU before BatchNorm in the first stage"),
    _patch("neuron_missing_factor_two", "train_neuron", neuron, "train_neuron", neuron_missing_factor_two,
           "d(p-y)^2 = (p-y)"),
    _patch("neuron_sum_not_mean", "train_neuron", neuron, "train_neuron", neuron_sum_not_mean,
           "gradient summed over samples, not averaged"),
    _patch("neuron_bias_never_updated", "train_neuron", neuron, "train_neuron", neuron_bias_never_updated,
           "the bias is never stepped"),
    _patch("neuron_loss_after_step", "train_neuron", neuron, "train_neuron", neuron_loss_after_step,
           "records each epoch's loss after the step"),
    # side effects
    _patch("relu_grad_zeroes_upstream_in_place", "ReLU", A.ReLU, "backward", relu_grad_zeroes_upstream_in_place,
           "dout[x <= 0] = 0 on the caller's array", "side effects"),
    _patch("linear_backward_steps_its_weights", "Linear", linear.Linear, "backward",
           linear_backward_steps_its_weights, "backward quietly updates W", "side effects"),
    _patch("sigmoid_output_in_a_reused_buffer", "Sigmoid", A.Sigmoid, "forward", sigmoid_output_in_a_reused_buffer,
           "forward returns one buffer that the next forward overwrites", "side effects"),
    _patch("softmax_grad_written_into_output", "Softmax", A.Softmax, "backward", softmax_grad_written_into_output,
           "backward computes the gradient in the output array it handed out", "side effects"),
    _patch("residual_weight_decay_in_backward", "ResidualBlock", B.ResidualBlock, "backward",
           residual_weight_decay_in_backward, "weight decay applied to the weights inside backward", "side effects"),
    _patch("bn_running_stats_updated_in_backward", "BatchNorm2d", N.BatchNorm2d, "backward",
           bn_running_stats_updated_in_backward, "running statistics moved again in backward", "side effects"),
    _patch("gap_grad_returns_upstream_for_one_pixel", "GlobalAvgPool2d", P.GlobalAvgPool2d, "backward",
           gap_grad_returns_upstream_for_one_pixel, "returns the caller's upstream array as dL/dx for 1x1 inputs",
           "side effects"),
    # numerics on hostile inputs
    _patch("bn_one_pass_variance", "BatchNorm2d", N.BatchNorm2d, "forward", bn_one_pass_variance,
           "variance as E[x^2] - E[x]^2", "numerics"),
    _patch("layernorm_one_pass_variance", "LayerNorm", N.LayerNorm, "forward", layernorm_one_pass_variance,
           "variance as E[x^2] - E[x]^2", "numerics"),
    _patch("batch_normalization_one_pass_variance", "batch_normalization", N, "batch_normalization",
           batch_normalization_one_pass_variance, "variance as E[x^2] - E[x]^2", "numerics"),
    _patch("softmax_without_max_shift", "Softmax", A.Softmax, "forward", softmax_without_max_shift,
           "exp(x) without subtracting the row max", "numerics"),
    _patch("softmax_naive_log_sum_exp", "Softmax", A.Softmax, "forward", softmax_naive_log_sum_exp,
           "exp(x - log sum exp x) with a naive log-sum-exp", "numerics"),
    _patch("sigmoid_exp_over_one_plus_exp", "Sigmoid", A.Sigmoid, "forward", sigmoid_exp_over_one_plus_exp,
           "sigmoid as exp(x) / (1 + exp(x))", "numerics"),
    _patch("mse_expanded_square", "MSELoss", L.MSELoss, "forward", mse_expanded_square,
           "(p - t)^2 expanded to p^2 - 2pt + t^2", "numerics"),
    # composition and training
    _patch("conv_one_column_buffer", "ConvStack", C.Conv2d, "forward", conv_one_column_buffer,
           "the column buffer is reused by every forward: a layer used twice loses its first use's columns",
           "composition"),
    _patch("sequential_shared_layer_cache_overwritten", "Sequential ConvStack SharedLayerMLP", containers.Sequential,
           "backward", sequential_shared_layer_cache_overwritten,
           "a layer used twice: its second use's cache serves both backwards", "composition"),
    _patch("sequential_shared_grads_not_summed", "Sequential SharedLayerMLP", containers.Sequential, "backward",
           sequential_shared_grads_not_summed, "a layer used twice keeps one use's gradient, not the sum",
           "composition"),
    _patch("sequential_eval_not_propagated", "ConvNet", containers.Sequential, "train",
           sequential_eval_not_propagated, "eval() sets the container's flag only", "composition"),
    _patch("flatten_grad_not_reshaped", "Flatten", containers.Flatten, "backward", flatten_grad_not_reshaped,
           "the input gradient keeps the flattened shape", "composition"),
    _patch("linear_grads_accumulate_across_steps", "SharedLayerMLP Neuron", linear.Linear, "backward",
           linear_grads_accumulate_across_steps, "gradients summed across steps, never reset", "composition"),
    _patch("bn_eval_reuses_last_training_batch", "ConvNet", N.BatchNorm2d, "forward",
           bn_eval_reuses_last_training_batch, "eval mode reads the last training batch's statistics",
           "composition"),
    # optimizers
    _patch("sgd_velocity_holds_lr", "SGD", optim.SGD, "step", sgd_velocity_holds_lr,
           "momentum buffer v = mu v + lr g, not torch's mu b + g", "optimizers"),
    _patch("sgd_nesterov_ignored", "SGD", optim.SGD, "step", sgd_nesterov_ignored,
           "Nesterov flag accepted and ignored", "optimizers"),
    _patch("sgd_decoupled_weight_decay", "SGD", optim.SGD, "step", sgd_decoupled_weight_decay,
           "weight decay applied to p, not added to the gradient", "optimizers"),
    _patch("sgd_buffer_not_carried", "SGD", optim.SGD, "step", sgd_buffer_not_carried,
           "momentum buffer rebuilt every step", "optimizers"),
    _patch("adam_without_bias_correction", "Adam", optim.Adam, "step", adam_without_bias_correction,
           "m and v used without bias correction", "optimizers"),
    _patch("adam_eps_inside_sqrt", "Adam", optim.Adam, "step", adam_eps_inside_sqrt,
           "sqrt(v_hat + eps) instead of sqrt(v_hat) + eps", "optimizers"),
    _patch("adam_decoupled_weight_decay", "Adam", optim.Adam, "step", adam_decoupled_weight_decay,
           "AdamW's decoupled decay in Adam", "optimizers"),
    _patch("adam_step_count_not_carried", "Adam", optim.Adam, "step", adam_step_count_not_carried,
           "step counter restarts every step", "optimizers"),
]


# -- a layer seen again: a hand-kept list of sub-layers, a scratch kept from the first call


def seblock_children_hand_kept(self):
    return {"fc1": self.fc1, "fc2": self.fc2}  # its ReLU and Sigmoid left out


def seresnet_children_hand_kept(self):
    layers = {"conv1": self.conv1, "bn1": self.bn1, "conv2": self.conv2, "bn2": self.bn2, "se": self.se}
    if self.projects:
        layers.update(shortcut_conv=self.shortcut_conv, shortcut_bn=self.shortcut_bn)
    return layers  # its two ReLUs left out


def relu_scratch_kept_from_first_batch(self, x):
    activations.check_input(x, "ReLU input")
    self.active = x > 0
    if getattr(self, "zeros", None) is None:
        self.zeros = np.zeros_like(x)  # sized by the first batch, never checked again
    return self._remember_output(np.maximum(x, self.zeros))


def relu_scratch_dtype_kept(self, x):
    activations.check_input(x, "ReLU input")
    self.active = x > 0
    if getattr(self, "zeros", None) is None or self.zeros.shape != x.shape:
        self.zeros = np.zeros_like(x)  # its shape checked, its dtype not: a float64 first call stays float64
    return self._remember_output(np.maximum(x, self.zeros))


BUGS += [
    _patch("seblock_children_hand_kept", "SEBlockTwice", B.SEBlock, "children", seblock_children_hand_kept,
           "children() listed by hand without the ReLU and Sigmoid: a second use overwrites their caches",
           "composition"),
    _patch("seresnet_children_hand_kept", "SEResNetBlockTwice", B.SEResNetBlock, "children",
           seresnet_children_hand_kept, "children() listed by hand without the two ReLUs", "composition"),
    _patch("relu_scratch_kept_from_first_batch", "ReLU", A.ReLU, "forward", relu_scratch_kept_from_first_batch,
           "a scratch array sized by the first batch, reused for a batch of another size", "composition"),
    _patch("relu_scratch_dtype_kept", "ReLU", A.ReLU, "forward", relu_scratch_dtype_kept,
           "a float64 scratch from the first call kept into a float32 call", "composition"),
    _patch("sgd_dampened_from_the_first_step", "SGD SharedLayerMLP", optim.SGD, "step",
           sgd_dampened_from_the_first_step, "momentum buffer starts at zero and is damped from the first step",
           "optimizers"),
]


# -- layers of several inputs and outputs, integer inputs and randomness: variants in modules of
# their own, each caught by the pairs of its class
CAUGHT_BY = {
    "ScaledDotProductAttention": "ScaledDotProductAttention MaskedAttention",
    "MultiheadAttention": "MultiheadAttention SelfAttention", "SelfAttention": "SelfAttention",
    "Embedding": "Embedding", "Dropout": "Dropout", "Bilinear": "Bilinear", "Add": "Add",
}
FAMILY = {"Dropout": "randomness", "add_stale_second_operand": "composition"}
BUGS += [_patch(name, CAUGHT_BY[owner], getattr(attention, owner), method, replacement, mistake)
         for name, owner, method, replacement, mistake in bugs_attention.VARIANTS]
BUGS += [_patch(name, CAUGHT_BY[owner], getattr(importlib.import_module(module), owner), method, replacement, mistake,
                FAMILY.get(name, FAMILY.get(owner, "maths")))
         for name, module, owner, method, replacement, mistake in bugs_inputs.VARIANTS]

# -- the catalog's layers and the suite's engine: variants in modules of their own, one per family, each as
# (name, pairs, owner, attribute, replacement, mistake, family)
for family in (bugs_activations, bugs_losses, bugs_norm_pool, bugs_conv_optim, bugs_recurrent, bugs_engines):
    BUGS += [_patch(*variant) for variant in family.VARIANTS]
BUGS += [_patch(*variant) for variant in bugs_attention.BLOCK_VARIANTS]
