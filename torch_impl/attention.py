"""Twins of reference/attention.py: torch's own scaled_dot_product_attention and nn.MultiheadAttention.

The checks repeat the reference's (same rules, same messages) before torch is called; autograd does
every backward.
"""

import torch
import torch.nn.functional as F
from torch import nn

from torch_impl.base import check_input


class ScaledDotProductAttention(nn.Module):
    """F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal).

    q: (..., L, E), k: (..., S, E), v: (..., S, Ev); mask boolean (True = takes part) or additive.
    """

    def __init__(self, causal=False):
        super().__init__()
        self.causal = causal

    def forward(self, q, k, v, mask=None):
        name = "ScaledDotProductAttention"
        _check_qkv(name, q, k, v)
        if self.causal and mask is not None:
            raise ValueError(f"{name}: expected no mask with causal=True (torch refuses attn_mask with is_causal)")
        if mask is not None:
            _check_mask(name, mask, q.dtype, (*q.shape[:-1], k.shape[-2]))
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=self.causal)


class MultiheadAttention(nn.Module):
    """nn.MultiheadAttention(batch_first=True) under ``attention``, returning (out, weights averaged over heads).

    query: (N, L, E), key and value: (N, S, E); key_padding_mask: boolean (N, S), True = ignore that key.
    ``causal=True``: attn_mask True above the diagonal of (L, S) (torch's True = not allowed), so
    query i attends to keys j <= i.
    """

    def __init__(self, embed_dim, num_heads, bias=True, causal=False):
        super().__init__()
        if embed_dim % num_heads:  # torch only asserts
            raise ValueError(
                f"MultiheadAttention: expected embed_dim divisible by num_heads, got {embed_dim} and {num_heads}"
            )
        self.attention = nn.MultiheadAttention(embed_dim, num_heads, bias=bias, batch_first=True)
        self.causal = causal

    def forward(self, query, key, value, key_padding_mask=None):
        name, e = "MultiheadAttention", self.attention.embed_dim
        check_input(query, f"{name} query", ("N", "L", e))
        check_input(key, f"{name} key", (query.shape[0], "S", e))
        check_input(value, f"{name} value", tuple(key.shape))
        _check_dtypes(name, query, key, value)
        if key_padding_mask is not None:
            _check_padding_mask(name, key_padding_mask, tuple(key.shape[:2]))
        attn_mask = None
        if self.causal:
            attn_mask = torch.ones(query.shape[1], key.shape[1], dtype=torch.bool, device=query.device).triu(1)
        out, weights = self.attention(query, key, value, key_padding_mask=key_padding_mask, need_weights=True,
                                      attn_mask=attn_mask, average_attn_weights=True)
        return out, weights


class SelfAttention(nn.Module):
    """The MultiheadAttention twin with query = key = value = x; x: (N, L, E)."""

    def __init__(self, embed_dim, num_heads, bias=True):
        super().__init__()
        self.attention = MultiheadAttention(embed_dim, num_heads, bias=bias)

    def forward(self, x, key_padding_mask=None):
        check_input(x, "SelfAttention input", ("N", "L", self.attention.attention.embed_dim))
        return self.attention(x, x, x, key_padding_mask)


# -- input checks, as the reference's ------------------------------------------------------


def _check_dtypes(name, *tensors):
    if len({x.dtype for x in tensors}) > 1:
        raise TypeError(f"{name}: expected query, key and value of one dtype, got {[_short(x.dtype) for x in tensors]}")


def _check_qkv(name, q, k, v):
    for x, part in ((q, "query"), (k, "key"), (v, "value")):
        check_input(x, f"{name} {part}")
    if q.ndim < 2:
        raise ValueError(f"{name} query: expected shape (..., L, E), got {tuple(q.shape)}")
    check_input(k, f"{name} key", (*q.shape[:-2], "S", q.shape[-1]))
    check_input(v, f"{name} value", (*k.shape[:-1], "Ev"))
    _check_dtypes(name, q, k, v)


def _check_mask(name, mask, dtype, shape):
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"{name} mask: expected a torch.Tensor, got {type(mask).__name__}")
    if mask.dtype not in (torch.bool, dtype, torch.float32):
        allowed = " or ".join(dict.fromkeys(["bool", _short(dtype), "float32"]))
        raise TypeError(f"{name} mask: expected dtype {allowed}, got dtype {_short(mask.dtype)}")
    try:
        fits = torch.broadcast_shapes(mask.shape, shape) == shape
    except RuntimeError:
        fits = False
    if not fits:
        raise ValueError(f"{name} mask: expected a shape broadcastable to {shape}, got {tuple(mask.shape)}")


def _check_padding_mask(name, mask, shape):
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        got = f"dtype {_short(mask.dtype)}" if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise TypeError(f"{name} key_padding_mask: expected a boolean torch.Tensor, got {got}")
    if tuple(mask.shape) != shape:  # check_input refuses booleans, so the shape check is spelt out
        raise ValueError(f"{name} key_padding_mask: expected shape {shape}, got {tuple(mask.shape)}")


def _short(dtype):
    return str(dtype).removeprefix("torch.")
