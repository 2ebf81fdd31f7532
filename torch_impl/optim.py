"""Twin of reference/optim.py: torch.optim's own SGD, Adam, RMSprop, Adagrad and AdamW, and
torch.nn.utils.clip_grad_norm_."""

import torch
from torch.optim import SGD, Adagrad, Adam, AdamW, RMSprop

from torch_impl.base import check_input

__all__ = ["SGD", "Adam", "RMSprop", "Adagrad", "AdamW", "optimize", "clip_grad_norm"]


def optimize(optimizer, param, grads, state=(), **hyper):
    check_input(param, f"{optimizer.__name__} param")
    check_input(grads, f"{optimizer.__name__} grads", ("steps", *param.shape))
    p = torch.nn.Parameter(param.detach().clone())
    opt = optimizer([p], **hyper)
    for g in grads:
        p.grad = g.clone()
        opt.step()
    return (p.detach(), *(opt.state[p][name] for name in state))


def clip_grad_norm(grads, max_norm, norm_type=2.0):
    """torch.nn.utils.clip_grad_norm_ on parameters whose .grad are copies of ``grads``."""
    grads = list(grads)
    if not grads:
        raise ValueError("clip_grad_norm: expected at least one gradient array, got none")
    for index, g in enumerate(grads):
        check_input(g, f"clip_grad_norm grads[{index}]")
    params = [torch.nn.Parameter(torch.zeros_like(g)) for g in grads]
    for p, g in zip(params, grads, strict=True):
        p.grad = g.detach().clone()
    total = torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type)
    return [p.grad for p in params], total
