"""Input checks for the twins: the same rules and messages as the reference layers'."""

import torch

from reference.base import check_shape


def check_input(x, name: str, shape: tuple | None = None, integers_ok: bool = False) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point() and not (integers_ok and not x.is_complex() and x.dtype != torch.bool):
        raise TypeError(f"{name}: expected a floating-point tensor, got dtype {x.dtype}")
    check_shape(name, tuple(x.shape), shape)
    return x
