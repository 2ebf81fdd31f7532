"""Realistic mistakes in reference/attention.py and in the blocks built on it (reference/blocks.py),
each a copy of one method with one thing wrong.

``VARIANTS`` lists them as (name, class name, method name, replacement, mistake): patch the
replacement in as ``class.method`` and the attention pairs' parity must fail. ``BLOCK_VARIANTS``
lists those the transformer block and the language models' trajectories catch, as (name, pairs,
owner, attribute, replacement, mistake, family), as the catalog's families do.
"""

from __future__ import annotations

import math

import numpy as np

from reference.attention import (
    MultiheadAttention,
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
from reference.blocks import CharLSTM, CharTransformer, TransformerBlock

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
    if self.causal:
        scores = np.where(np.tril(np.ones(scores.shape[-2:], dtype=bool)), scores, -np.inf)
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
    if self.causal:
        scores = np.where(np.tril(np.ones(scores.shape[-2:], dtype=bool)), scores, -np.inf)
    if key_padding_mask is not None:
        scores = np.where(key_padding_mask[:, None, None, :], -np.inf, scores)
    self.p = _softmax(scores)
    self.context = _merge_heads(self.p @ self.v)
    out = _affine(self.context, self.params["W_out"], self.params.get("b_out"))
    return self._remember_outputs(out, self.p.sum(axis=1))  # summed, not averaged


def mha_causal_mask_transposed(self, query, key, value, key_padding_mask=None):
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
    if self.causal:  # torch's attn_mask is the upper triangle, so the upper triangle is what was kept
        scores = np.where(np.triu(np.ones(scores.shape[-2:], dtype=bool)), scores, -np.inf)
    if key_padding_mask is not None:
        scores = np.where(key_padding_mask[:, None, None, :], -np.inf, scores)
    self.p = _softmax(scores)
    self.context = _merge_heads(self.p @ self.v)
    out = _affine(self.context, self.params["W_out"], self.params.get("b_out"))
    return self._remember_outputs(out, self.p.mean(axis=1))


def mha_causal_mask_after_softmax(self, query, key, value, key_padding_mask=None):
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
    if self.causal:  # the future's weights zeroed after the softmax: the rows no longer sum to 1
        self.p = self.p * np.tril(np.ones(scores.shape[-2:], dtype=scores.dtype))
    self.context = _merge_heads(self.p @ self.v)
    out = _affine(self.context, self.params["W_out"], self.params.get("b_out"))
    return self._remember_outputs(out, self.p.mean(axis=1))


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


# -- TransformerBlock (reference/blocks.py) ------------------------------------------------------


def transformer_backward_post_norm(self, grad_out):
    g = self._check_grad(grad_out)
    d_sum = self.norm2.backward(g)  # post-norm's chain, y = LN2(a + MLP(a)): the norm on the residual path
    d_rows = self.fc1.backward(self.gelu.backward(self.fc2.backward(d_sum.reshape(-1, g.shape[-1]))))
    d_a = d_sum + d_rows.reshape(g.shape)
    d_sum = self.norm1.backward(d_a)
    d_query, d_key, d_value = self.attention.backward(d_sum, np.zeros(self.weights_shape, dtype=g.dtype))
    return d_sum + d_query + d_key + d_value


def transformer_backward_residual_not_added(self, grad_out):
    g = self._check_grad(grad_out)
    d_rows = self.fc1.backward(self.gelu.backward(self.fc2.backward(g.reshape(-1, g.shape[-1]))))
    d_a = self.norm2.backward(d_rows.reshape(g.shape))  # the MLP residual's own g left out
    d_query, d_key, d_value = self.attention.backward(d_a, np.zeros(self.weights_shape, dtype=g.dtype))
    return d_a + self.norm1.backward(d_query + d_key + d_value)


def transformer_backward_query_only(self, grad_out):
    g = self._check_grad(grad_out)
    d_rows = self.fc1.backward(self.gelu.backward(self.fc2.backward(g.reshape(-1, g.shape[-1]))))
    d_a = g + self.norm2.backward(d_rows.reshape(g.shape))
    d_query, d_key, d_value = self.attention.backward(d_a, np.zeros(self.weights_shape, dtype=g.dtype))
    return d_a + self.norm1.backward(d_query)  # LN1(x) fed the key and value projections too


def transformer_backward_gelu_skipped(self, grad_out):
    g = self._check_grad(grad_out)
    d_rows = self.fc1.backward(self.fc2.backward(g.reshape(-1, g.shape[-1])))  # GELU's derivative left out
    d_a = g + self.norm2.backward(d_rows.reshape(g.shape))
    d_query, d_key, d_value = self.attention.backward(d_a, np.zeros(self.weights_shape, dtype=g.dtype))
    return d_a + self.norm1.backward(d_query + d_key + d_value)


# -- the language models (reference/blocks.py), caught by their trajectories -------------------------


def char_transformer_position_grad_averaged(self, grad_out):
    g = self._check_grad(grad_out)
    d_h = self.block.backward(self.norm.backward(self.head.backward(g).reshape(self.hidden_shape)))
    self.token.backward(d_h)
    self.position.backward(d_h.mean(axis=0))  # averaged over the batch: each row was added to every sample
    return None


def char_lstm_backward_rows_time_major(self, grad_out):
    g = self._check_grad(grad_out)
    n, t, hidden = self.lstm_output_shape
    d_output = self.head.backward(g).reshape(t, n, hidden).swapaxes(0, 1)  # rows read as (t, n), not (n, t)
    d_h_n, d_c_n = np.zeros(self.final_shape, dtype=g.dtype), np.zeros(self.final_shape, dtype=g.dtype)
    self.token.backward(self.lstm.backward(d_output, (d_h_n, d_c_n)))
    return None


def char_lstm_last_output_counted_twice(self, grad_out):
    g = self._check_grad(grad_out)
    d_output = self.head.backward(g).reshape(self.lstm_output_shape)
    d_h_n = d_output[None, :, -1]  # "h_n is the last output": its gradient handed in a second time
    d_c_n = np.zeros(self.final_shape, dtype=g.dtype)
    self.token.backward(self.lstm.backward(d_output, (d_h_n, d_c_n)))
    return None


# (name, pairs, owner, attribute, replacement, mistake, family), as the catalog's families list theirs
BLOCK_VARIANTS = [
    ("transformer_backward_post_norm", "TransformerBlock", TransformerBlock, "backward",
     transformer_backward_post_norm,
     "backward of a post-norm block (y = LN(a + MLP(a))) for a pre-norm forward", "maths"),
    ("transformer_backward_residual_not_added", "TransformerBlock", TransformerBlock, "backward",
     transformer_backward_residual_not_added, "the MLP residual's gradient g not added to dL/da", "maths"),
    ("transformer_backward_query_only", "TransformerBlock", TransformerBlock, "backward",
     transformer_backward_query_only, "LN1's gradient from the query projection alone, not query + key + value",
     "maths"),
    ("transformer_backward_gelu_skipped", "TransformerBlock", TransformerBlock, "backward",
     transformer_backward_gelu_skipped, "the MLP's backward skips GELU's derivative", "maths"),
    ("mha_causal_mask_transposed", "TransformerBlock", MultiheadAttention, "forward", mha_causal_mask_transposed,
     "the causal mask keeps keys j >= i (torch's attn_mask triangle) instead of j <= i", "maths"),
    ("mha_causal_mask_after_softmax", "TransformerBlock", MultiheadAttention, "forward",
     mha_causal_mask_after_softmax, "future keys' weights zeroed after the softmax instead of -inf before it",
     "maths"),
    ("char_transformer_position_grad_averaged", "CharTransformer", CharTransformer, "backward",
     char_transformer_position_grad_averaged,
     "the position embedding's gradient averaged over the batch instead of summed", "composition"),
    ("char_lstm_backward_rows_time_major", "CharLSTM", CharLSTM, "backward", char_lstm_backward_rows_time_major,
     "the logits' gradient rows read back in (t, n) order for a batch_first LSTM", "composition"),
    ("char_lstm_last_output_counted_twice", "CharLSTM", CharLSTM, "backward", char_lstm_last_output_counted_twice,
     "the last step's output gradient also given as h_n's upstream: counted twice", "composition"),
]
