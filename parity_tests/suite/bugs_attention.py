"""Realistic mistakes in reference/attention.py, each a copy of one method with one thing wrong.

``VARIANTS`` lists them as (name, class name, method name, replacement, mistake): patch the
replacement in as ``class.method`` and the attention pairs' parity must fail.
"""

from __future__ import annotations

import math

import numpy as np

from reference.attention import (
    _affine,
    _check_dtypes,
    _check_mask,
    _check_padding_mask,
    _check_qkv,
    _merge_heads,
    _softmax,
    _softmax_backward,
    _split_heads,
    _swap,
)
from reference.base import check_input

# -- ScaledDotProductAttention ------------------------------------------------------------


def sdpa_backward_scale_missing(self, grad_out):
    g = self._check_grad(grad_out)
    p = self.p
    grad_v = _swap(p) @ g
    grad_scores = _softmax_backward(p, g @ _swap(self.v))  # forgot: * self.scale
    return grad_scores @ self.k, _swap(grad_scores) @ self.q, grad_v


def sdpa_backward_scale_on_dq_only(self, grad_out):
    g = self._check_grad(grad_out)
    p = self.p
    grad_v = _swap(p) @ g
    grad_scores = _softmax_backward(p, g @ _swap(self.v))
    return grad_scores * self.scale @ self.k, _swap(grad_scores) @ self.q, grad_v


def sdpa_backward_mask_missing(self, grad_out):
    g = self._check_grad(grad_out)
    p = _softmax(self.q @ _swap(self.k) * self.scale)  # recomputed to save memory, the mask left out
    grad_v = _swap(p) @ g
    grad_scores = _softmax_backward(p, g @ _swap(self.v)) * self.scale
    return grad_scores @ self.k, _swap(grad_scores) @ self.q, grad_v


def sdpa_backward_dv_from_scores(self, grad_out):
    g = self._check_grad(grad_out)
    p = self.p
    grad_v = _swap(self.q @ _swap(self.k) * self.scale) @ g  # the scores, not the probabilities
    grad_scores = _softmax_backward(p, g @ _swap(self.v)) * self.scale
    return grad_scores @ self.k, _swap(grad_scores) @ self.q, grad_v


def sdpa_backward_dk_doubled(self, grad_out):
    g = self._check_grad(grad_out)
    p = self.p
    grad_v = _swap(p) @ g
    grad_scores = _softmax_backward(p, g @ _swap(self.v)) * self.scale
    return grad_scores @ self.k, 2 * _swap(grad_scores) @ self.q, grad_v  # "k appears in q k^T twice"


def sdpa_softmax_over_queries(self, q, k, v, mask=None):
    name = "ScaledDotProductAttention"
    _check_qkv(name, q, k, v)
    shape = (*q.shape[:-1], k.shape[-2])
    if self.causal and mask is not None:
        raise ValueError(f"{name}: expected no mask with causal=True (torch refuses attn_mask with is_causal)")
    if self.causal:
        mask = np.tril(np.ones(shape[-2:], dtype=bool))
    elif mask is not None:
        _check_mask(name, mask, q.dtype, shape)
    self.scale = 1.0 / math.sqrt(q.shape[-1])
    scores = q @ _swap(k) * self.scale
    if mask is not None:
        scores = np.where(mask, scores, -np.inf) if mask.dtype == bool else scores + mask
    with np.errstate(invalid="ignore"):
        exp = np.exp(scores - scores.max(axis=-2, keepdims=True))  # normalised over the queries, axis -2
        p = exp / exp.sum(axis=-2, keepdims=True)
    self.p = np.where(np.isneginf(scores).all(axis=-1, keepdims=True), 0, p)
    self.q, self.k, self.v = q, k, v
    return self._remember_output(self.p @ v)


# -- MultiheadAttention ---------------------------------------------------------------------


def mha_backward_heads_reshaped(self, d_out, d_weights):
    d_out, d_weights = self._check_grads(d_out, d_weights)
    p = self.p
    self.grads["W_out"] = np.tensordot(self.context, d_out, axes=([0, 1], [0, 1]))
    if "b_out" in self.params:
        self.grads["b_out"] = d_out.sum(axis=(0, 1))
    n, length, e = d_out.shape
    d_context = (d_out @ self.params["W_out"].T).reshape(n, self.num_heads, length, e // self.num_heads)
    d_p = d_context @ _swap(self.v) + d_weights[:, None] / self.num_heads
    d_scores = _softmax_backward(p, d_p) * self.scale
    d_projected = [_merge_heads(d) for d in (d_scores @ self.k, _swap(d_scores) @ self.q, _swap(p) @ d_context)]
    self.grads["W_in"] = np.concatenate(
        [np.tensordot(x, d, axes=([0, 1], [0, 1])) for x, d in zip(self.inputs, d_projected, strict=True)], axis=1
    )
    if "b_in" in self.params:
        self.grads["b_in"] = np.concatenate([d.sum(axis=(0, 1)) for d in d_projected])
    w_qkv = np.split(self.params["W_in"], 3, axis=1)
    return tuple(d @ w.T for d, w in zip(d_projected, w_qkv, strict=True))


def mha_backward_weights_gradient_ignored(self, d_out, d_weights):
    d_out, d_weights = self._check_grads(d_out, d_weights)
    p = self.p
    self.grads["W_out"] = np.tensordot(self.context, d_out, axes=([0, 1], [0, 1]))
    if "b_out" in self.params:
        self.grads["b_out"] = d_out.sum(axis=(0, 1))
    d_context = _split_heads(d_out @ self.params["W_out"].T, self.num_heads)
    d_p = d_context @ _swap(self.v)  # only d_out: the weights output treated as a by-product
    d_scores = _softmax_backward(p, d_p) * self.scale
    d_projected = [_merge_heads(d) for d in (d_scores @ self.k, _swap(d_scores) @ self.q, _swap(p) @ d_context)]
    self.grads["W_in"] = np.concatenate(
        [np.tensordot(x, d, axes=([0, 1], [0, 1])) for x, d in zip(self.inputs, d_projected, strict=True)], axis=1
    )
    if "b_in" in self.params:
        self.grads["b_in"] = np.concatenate([d.sum(axis=(0, 1)) for d in d_projected])
    w_qkv = np.split(self.params["W_in"], 3, axis=1)
    return tuple(d @ w.T for d, w in zip(d_projected, w_qkv, strict=True))


def mha_backward_padding_mask_missing(self, d_out, d_weights):
    d_out, d_weights = self._check_grads(d_out, d_weights)
    p = _softmax(self.q @ _swap(self.k) * self.scale)  # recomputed to save memory, key_padding_mask left out
    self.grads["W_out"] = np.tensordot(self.context, d_out, axes=([0, 1], [0, 1]))
    if "b_out" in self.params:
        self.grads["b_out"] = d_out.sum(axis=(0, 1))
    d_context = _split_heads(d_out @ self.params["W_out"].T, self.num_heads)
    d_p = d_context @ _swap(self.v) + d_weights[:, None] / self.num_heads
    d_scores = _softmax_backward(p, d_p) * self.scale
    d_projected = [_merge_heads(d) for d in (d_scores @ self.k, _swap(d_scores) @ self.q, _swap(p) @ d_context)]
    self.grads["W_in"] = np.concatenate(
        [np.tensordot(x, d, axes=([0, 1], [0, 1])) for x, d in zip(self.inputs, d_projected, strict=True)], axis=1
    )
    if "b_in" in self.params:
        self.grads["b_in"] = np.concatenate([d.sum(axis=(0, 1)) for d in d_projected])
    w_qkv = np.split(self.params["W_in"], 3, axis=1)
    return tuple(d @ w.T for d, w in zip(d_projected, w_qkv, strict=True))


def mha_backward_w_out_grad_transposed(self, d_out, d_weights):
    d_out, d_weights = self._check_grads(d_out, d_weights)
    p = self.p
    self.grads["W_out"] = np.tensordot(d_out, self.context, axes=([0, 1], [0, 1]))  # torch's (out, in) layout
    if "b_out" in self.params:
        self.grads["b_out"] = d_out.sum(axis=(0, 1))
    d_context = _split_heads(d_out @ self.params["W_out"].T, self.num_heads)
    d_p = d_context @ _swap(self.v) + d_weights[:, None] / self.num_heads
    d_scores = _softmax_backward(p, d_p) * self.scale
    d_projected = [_merge_heads(d) for d in (d_scores @ self.k, _swap(d_scores) @ self.q, _swap(p) @ d_context)]
    self.grads["W_in"] = np.concatenate(
        [np.tensordot(x, d, axes=([0, 1], [0, 1])) for x, d in zip(self.inputs, d_projected, strict=True)], axis=1
    )
    if "b_in" in self.params:
        self.grads["b_in"] = np.concatenate([d.sum(axis=(0, 1)) for d in d_projected])
    w_qkv = np.split(self.params["W_in"], 3, axis=1)
    return tuple(d @ w.T for d, w in zip(d_projected, w_qkv, strict=True))


def mha_scale_by_embed_dim(self, query, key, value, key_padding_mask=None):
    name, e, h = "MultiheadAttention", self.embed_dim, self.num_heads
    check_input(query, f"{name} query", ("N", "L", e))
    check_input(key, f"{name} key", (query.shape[0], "S", e))
    check_input(value, f"{name} value", key.shape)
    _check_dtypes(name, query, key, value)
    if key_padding_mask is not None:
        _check_padding_mask(name, key_padding_mask, key.shape[:2])
    b_in = self.params.get("b_in")
    b_qkv = np.split(b_in, 3) if b_in is not None else (None,) * 3
    w_qkv = np.split(self.params["W_in"], 3, axis=1)
    self.inputs = (query, key, value)
    self.q, self.k, self.v = (
        _split_heads(_affine(x, w, b), h) for x, w, b in zip(self.inputs, w_qkv, b_qkv, strict=True)
    )
    scores = self.q @ _swap(self.k) / math.sqrt(e)  # the model's width, not the head's
    if key_padding_mask is not None:
        scores = np.where(key_padding_mask[:, None, None, :], -np.inf, scores)
    self.p = _softmax(scores)
    self.context = _merge_heads(self.p @ self.v)
    out = _affine(self.context, self.params["W_out"], self.params.get("b_out"))
    return self._remember_outputs(out, self.p.mean(axis=1))


def mha_weights_summed_over_heads(self, query, key, value, key_padding_mask=None):
    name, e, h = "MultiheadAttention", self.embed_dim, self.num_heads
    check_input(query, f"{name} query", ("N", "L", e))
    check_input(key, f"{name} key", (query.shape[0], "S", e))
    check_input(value, f"{name} value", key.shape)
    _check_dtypes(name, query, key, value)
    if key_padding_mask is not None:
        _check_padding_mask(name, key_padding_mask, key.shape[:2])
    b_in = self.params.get("b_in")
    b_qkv = np.split(b_in, 3) if b_in is not None else (None,) * 3
    w_qkv = np.split(self.params["W_in"], 3, axis=1)
    self.inputs = (query, key, value)
    self.q, self.k, self.v = (
        _split_heads(_affine(x, w, b), h) for x, w, b in zip(self.inputs, w_qkv, b_qkv, strict=True)
    )
    scores = self.q @ _swap(self.k) * self.scale
    if key_padding_mask is not None:
        scores = np.where(key_padding_mask[:, None, None, :], -np.inf, scores)
    self.p = _softmax(scores)
    self.context = _merge_heads(self.p @ self.v)
    out = _affine(self.context, self.params["W_out"], self.params.get("b_out"))
    return self._remember_outputs(out, self.p.sum(axis=1))  # summed, not averaged


# -- SelfAttention ----------------------------------------------------------------------------


def self_attention_backward_query_only(self, d_out, d_weights):
    d_query, d_key, d_value = self.attention.backward(*self._check_grads(d_out, d_weights))
    return d_query  # as if x fed only the query projection


VARIANTS = [
    ("sdpa_backward_scale_missing", "ScaledDotProductAttention", "backward", sdpa_backward_scale_missing,
     "the 1/sqrt(E) scale left out of the scores' gradient (forward right)"),
    ("sdpa_backward_scale_on_dq_only", "ScaledDotProductAttention", "backward", sdpa_backward_scale_on_dq_only,
     "the 1/sqrt(E) scale applied to dq but not to dk"),
    ("sdpa_backward_mask_missing", "ScaledDotProductAttention", "backward", sdpa_backward_mask_missing,
     "backward recomputes the probabilities from q and k without the mask: gradient leaks into masked keys"),
    ("sdpa_backward_dv_from_scores", "ScaledDotProductAttention", "backward", sdpa_backward_dv_from_scores,
     "dv computed from the unnormalised scores q k^T / sqrt(E) instead of the softmax probabilities"),
    ("sdpa_backward_dk_doubled", "ScaledDotProductAttention", "backward", sdpa_backward_dk_doubled,
     "dk returned twice too large"),
    ("sdpa_softmax_over_queries", "ScaledDotProductAttention", "forward", sdpa_softmax_over_queries,
     "softmax normalised over the queries (axis -2) instead of the keys"),
    ("mha_backward_heads_reshaped", "MultiheadAttention", "backward", mha_backward_heads_reshaped,
     "backward splits the heads of d_out W_out^T with a reshape and no transpose"),
    ("mha_backward_weights_gradient_ignored", "MultiheadAttention", "backward",
     mha_backward_weights_gradient_ignored, "d_weights ignored: only d_out propagated"),
    ("mha_backward_padding_mask_missing", "MultiheadAttention", "backward", mha_backward_padding_mask_missing,
     "backward recomputes the probabilities without key_padding_mask"),
    ("mha_backward_w_out_grad_transposed", "MultiheadAttention", "backward", mha_backward_w_out_grad_transposed,
     "W_out's gradient in torch's (out, in) layout, the transpose of W_out's"),
    ("mha_scale_by_embed_dim", "MultiheadAttention", "forward", mha_scale_by_embed_dim,
     "scores scaled by 1/sqrt(E) instead of 1/sqrt(E / num_heads)"),
    ("mha_weights_summed_over_heads", "MultiheadAttention", "forward", mha_weights_summed_over_heads,
     "the returned weights summed over the heads instead of averaged"),
    ("self_attention_backward_query_only", "SelfAttention", "backward", self_attention_backward_query_only,
     "dx is the query's gradient alone, not the sum over query, key and value"),
]
