"""Attention: scaled dot-product attention, multi-head attention and self-attention."""

import math

import numpy as np

from reference.base import Layer, check_input, check_shape


def _softmax(scores):
    """Softmax over the last axis, the row max subtracted so exp never overflows.

    A row whose scores are all -inf gives NaN (0 / 0), as torch's softmax does.
    """
    with np.errstate(invalid="ignore"):  # -inf - -inf in such a row: its NaN is the documented result
        exp = np.exp(scores - scores.max(axis=-1, keepdims=True))
        return exp / exp.sum(axis=-1, keepdims=True)


def _softmax_backward(p, grad_p):
    """dL/ds = p * (dL/dp - <p, dL/dp>) row by row: the softmax Jacobian diag(p) - p p^T applied."""
    return p * (grad_p - np.sum(p * grad_p, axis=-1, keepdims=True))


def _swap(x):
    return np.swapaxes(x, -1, -2)


def _split_heads(x, heads):
    """(N, L, E) -> (N, heads, L, E / heads): each head's slice of the features, as its own matrix."""
    n, length, embed = x.shape
    return x.reshape(n, length, heads, embed // heads).transpose(0, 2, 1, 3)


def _merge_heads(x):
    """(N, heads, L, d) -> (N, L, heads * d), the inverse of _split_heads."""
    n, heads, length, d = x.shape
    return x.transpose(0, 2, 1, 3).reshape(n, length, heads * d)


def _affine(x, w, b):
    return x @ w if b is None else x @ w + b


class ScaledDotProductAttention(Layer):
    """y = softmax(q k^T / sqrt(E) + bias) v, torch's F.scaled_dot_product_attention.

    q: (..., L, E), k: (..., S, E), v: (..., S, Ev), y: (..., L, Ev); the leading axes must agree.
    ``mask`` (optional, broadcastable to (..., L, S)) is boolean, True = the key takes part (False
    gives the score -inf), or floating (the query's dtype or float32, as torch accepts), added to
    the scores. ``causal=True`` keeps keys j <= i: tril of ones of (L, S), top-left aligned as
    torch's is_causal; it refuses a mask as torch does. Masks are constants: no gradient.
    A query row with every key masked gets zero weights and zero gradients, as torch's SDPA (its
    safe softmax) gives; out of the tests' scope.
    With P = softmax(s), s the scaled masked scores, c = 1 / sqrt(E) and g = dL/dy:
      dL/dv = P^T g,  dL/ds = P * (g v^T - rowsum(P * g v^T)),  dL/dq = c dL/ds k,  dL/dk = c dL/ds^T q.
    ``backward(g)`` returns (dL/dq, dL/dk, dL/dv).
    """

    def __init__(self, causal=False):
        super().__init__()
        self.causal = causal

    def forward(self, q, k, v, mask=None):
        name = "ScaledDotProductAttention"
        _check_qkv(name, q, k, v)
        shape = (*q.shape[:-1], k.shape[-2])  # the scores' (..., L, S)
        if self.causal and mask is not None:
            raise ValueError(f"{name}: expected no mask with causal=True (torch refuses attn_mask with is_causal)")
        if self.causal:
            mask = np.tril(np.ones(shape[-2:], dtype=bool))
        elif mask is not None:
            _check_mask(name, mask, q.dtype, shape)
        self.scale = 1.0 / math.sqrt(q.shape[-1])  # a Python float: float32 stays float32
        scores = q @ _swap(k) * self.scale
        if mask is not None:
            scores = np.where(mask, scores, -np.inf) if mask.dtype == bool else scores + mask
        # the rows with no key left: 0 where a plain softmax gives NaN, as torch's SDPA does
        self.p = np.where(np.isneginf(scores).all(axis=-1, keepdims=True), 0, _softmax(scores))
        self.q, self.k, self.v = q, k, v
        return self._remember_output(self.p @ v)

    def backward(self, grad_out):
        g = self._check_grad(grad_out)
        p = self.p
        grad_v = _swap(p) @ g
        grad_scores = _softmax_backward(p, g @ _swap(self.v)) * self.scale  # the scale is part of the scores
        return grad_scores @ self.k, _swap(grad_scores) @ self.q, grad_v


class MultiheadAttention(Layer):
    """torch's nn.MultiheadAttention(embed_dim, num_heads, bias, batch_first=True), need_weights=True.

    query: (N, L, E), key and value: (N, S, E); out: (N, L, E), weights: (N, L, S).
    W_in: (E, 3E), the q, k and v projections side by side; b_in: (3E,); W_out: (E, E); b_out: (E,)
    (no biases with bias=False). x @ W layouts: torch's in_proj_weight and out_proj.weight are the
    transposes. With H heads of d = E / H features:
      q, k, v = query W_q + b_q, key W_k + b_k, value W_v + b_v, each split into H (N, H, ., d);
      P_h = softmax(q_h k_h^T / sqrt(d) + mask),  out = concat_h(P_h v_h) W_out + b_out,
      weights = mean_h P_h.
    ``key_padding_mask`` (N, S), boolean, True = ignore that key (torch's meaning): score -inf. A
    query with every key ignored gives NaN, as torch's MultiheadAttention does. ``causal=True``
    keeps keys j <= i for query i (tril of (L, S), top-left aligned as ScaledDotProductAttention's):
    torch's attn_mask of the strict upper triangle. Both masks are constants: no gradient.
    With c = 1 / sqrt(d), G = d_out W_out^T split into heads and s_h the scaled masked scores:
      dL/dW_out = concat_h(P_h v_h)^T d_out,  dL/dP_h = G_h v_h^T + d_weights / H  (the mean's share),
      dL/ds_h = P_h * (dL/dP_h - rowsum(P_h * dL/dP_h)),
      dq_h = c dL/ds_h k_h,  dk_h = c dL/ds_h^T q_h,  dv_h = P_h^T G_h  (heads merged back to (N, ., E)),
      dL/dW_in = [query^T dq | key^T dk | value^T dv],  d_query = dq W_q^T, d_key = dk W_k^T, d_value = dv W_v^T.
    ``backward(d_out, d_weights)`` returns (d_query, d_key, d_value).
    """

    def __init__(self, embed_dim, num_heads, bias=True, causal=False, rng=None):
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(
                f"MultiheadAttention: expected embed_dim divisible by num_heads, got {embed_dim} and {num_heads}"
            )
        rng = rng or np.random.default_rng()
        self.embed_dim, self.num_heads, self.causal = embed_dim, num_heads, causal
        self.scale = 1.0 / math.sqrt(embed_dim // num_heads)
        # torch's initialisation: Xavier-uniform packed projection, out_proj as a Linear, zero biases
        bound_in = math.sqrt(6.0 / (embed_dim + 3 * embed_dim))
        self.params["W_in"] = rng.uniform(-bound_in, bound_in, (embed_dim, 3 * embed_dim))
        self.params["W_out"] = rng.uniform(-1 / math.sqrt(embed_dim), 1 / math.sqrt(embed_dim), (embed_dim, embed_dim))
        if bias:
            self.params["b_in"] = np.zeros(3 * embed_dim)
            self.params["b_out"] = np.zeros(embed_dim)

    def forward(self, query, key, value, key_padding_mask=None):
        name, e, h = "MultiheadAttention", self.embed_dim, self.num_heads
        check_input(query, f"{name} query", ("N", "L", e))
        check_input(key, f"{name} key", (query.shape[0], "S", e))
        check_input(value, f"{name} value", key.shape)
        _check_dtypes(name, query, key, value)
        if key_padding_mask is not None:
            _check_padding_mask(name, key_padding_mask, key.shape[:2])
        b_in = self.params.get("b_in")
        b_qkv = np.split(b_in, 3) if b_in is not None else (None,) * 3
        w_qkv = np.split(self.params["W_in"], 3, axis=1)  # views: W_q, W_k, W_v
        self.inputs = (query, key, value)
        self.q, self.k, self.v = (
            _split_heads(_affine(x, w, b), h) for x, w, b in zip(self.inputs, w_qkv, b_qkv, strict=True)
        )
        scores = self.q @ _swap(self.k) * self.scale
        if self.causal:
            scores = np.where(np.tril(np.ones(scores.shape[-2:], dtype=bool)), scores, -np.inf)
        if key_padding_mask is not None:
            scores = np.where(key_padding_mask[:, None, None, :], -np.inf, scores)  # every head, every query
        self.p = _softmax(scores)
        self.context = _merge_heads(self.p @ self.v)
        out = _affine(self.context, self.params["W_out"], self.params.get("b_out"))
        return self._remember_outputs(out, self.p.mean(axis=1))

    def backward(self, d_out, d_weights):
        d_out, d_weights = self._check_grads(d_out, d_weights)
        p = self.p
        self.grads["W_out"] = np.tensordot(self.context, d_out, axes=([0, 1], [0, 1]))
        if "b_out" in self.params:
            self.grads["b_out"] = d_out.sum(axis=(0, 1))
        d_context = _split_heads(d_out @ self.params["W_out"].T, self.num_heads)
        # the weights are the heads' mean, so each head's probabilities also get d_weights / H
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


class SelfAttention(Layer):
    """MultiheadAttention with query = key = value = x.  x, out: (N, L, E); weights: (N, L, S = L).

    Its parameters are the child's: attention.W_in, attention.b_in, attention.W_out, attention.b_out.
    x feeds all three projections, so dL/dx = d_query + d_key + d_value.
    """

    def __init__(self, embed_dim, num_heads, bias=True, rng=None):
        super().__init__()
        self.attention = MultiheadAttention(embed_dim, num_heads, bias=bias, rng=rng)

    def forward(self, x, key_padding_mask=None):
        check_input(x, "SelfAttention input", ("N", "L", self.attention.embed_dim))
        return self._remember_outputs(*self.attention(x, x, x, key_padding_mask))

    def backward(self, d_out, d_weights):
        d_query, d_key, d_value = self.attention.backward(*self._check_grads(d_out, d_weights))
        return d_query + d_key + d_value


# -- input checks ------------------------------------------------------------------------


def _check_dtypes(name, *arrays):
    if len({x.dtype for x in arrays}) > 1:  # torch refuses a mix; NumPy would quietly promote
        raise TypeError(f"{name}: expected query, key and value of one dtype, got {[str(x.dtype) for x in arrays]}")


def _check_qkv(name, q, k, v):
    for x, part in ((q, "query"), (k, "key"), (v, "value")):
        check_input(x, f"{name} {part}")
    if q.ndim < 2:
        raise ValueError(f"{name} query: expected shape (..., L, E), got {q.shape}")
    check_shape(f"{name} key", k.shape, (*q.shape[:-2], "S", q.shape[-1]))
    check_shape(f"{name} value", v.shape, (*k.shape[:-1], "Ev"))
    _check_dtypes(name, q, k, v)


def _check_mask(name, mask, dtype, shape):
    """A boolean mask, or a floating one of the query's dtype or float32 (torch's rule), broadcastable to shape."""
    if not isinstance(mask, np.ndarray):
        raise TypeError(f"{name} mask: expected a NumPy array, got {type(mask).__name__}")
    if mask.dtype != bool and mask.dtype not in (dtype, np.float32):
        allowed = " or ".join(dict.fromkeys(["bool", str(dtype), "float32"]))  # float32 once for a float32 query
        raise TypeError(f"{name} mask: expected dtype {allowed}, got dtype {mask.dtype}")
    try:
        fits = np.broadcast_shapes(mask.shape, shape) == shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"{name} mask: expected a shape broadcastable to {shape}, got {mask.shape}")


def _check_padding_mask(name, mask, shape):
    if not isinstance(mask, np.ndarray) or mask.dtype != bool:
        got = f"dtype {mask.dtype}" if isinstance(mask, np.ndarray) else type(mask).__name__
        raise TypeError(f"{name} key_padding_mask: expected a boolean NumPy array, got {got}")
    check_shape(f"{name} key_padding_mask", mask.shape, shape)
