"""Twin of reference/optim.py: torch.optim's own SGD and Adam."""

import torch
from torch.optim import SGD, Adam

from torch_impl.base import check_input

__all__ = ["SGD", "Adam", "optimize"]


def optimize(optimizer, param, grads, state=(), **hyper):
    check_input(param, f"{optimizer.__name__} param")
    check_input(grads, f"{optimizer.__name__} grads", ("steps", *param.shape))
    p = torch.nn.Parameter(param.detach().clone())
    opt = optimizer([p], **hyper)
    for g in grads:
        p.grad = g.clone()
        opt.step()
    return (p.detach(), *(opt.state[p][name] for name in state))
