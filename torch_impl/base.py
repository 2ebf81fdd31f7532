"""Input checks for the twins: the same rules and messages as the reference layers', written
again here so the twins stand alone (torch_impl imports nothing from reference)."""

import torch


def check_shape(name: str, actual: tuple, wanted: tuple | None) -> None:
    """Raise unless ``actual`` matches ``wanted``: ints must match exactly, strings (axis
    names, e.g. ``("N", 3, "H", "W")``) match any size. ``None`` matches any shape."""
    if wanted is None:
        return
    if len(actual) != len(wanted) or any(
        isinstance(w, int) and w != a for w, a in zip(wanted, actual, strict=True)
    ):
        shown = "(" + ", ".join(str(w) for w in wanted) + ("," if len(wanted) == 1 else "") + ")"
        raise ValueError(f"{name}: expected shape {shown}, got {tuple(actual)}")


def check_input(x, name: str, shape: tuple | None = None, integers_ok: bool = False) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point() and not (integers_ok and not x.is_complex() and x.dtype != torch.bool):
        raise TypeError(f"{name}: expected a floating-point tensor, got dtype {x.dtype}")
    check_shape(name, tuple(x.shape), shape)
    return x


def check_classes(target: torch.Tensor, n: int, classes: int) -> None:
    """Class targets: shape (n,), values in [0, classes - 1]."""
    if tuple(target.shape) != (n,):
        raise ValueError(f"class targets: expected shape ({n},), got {tuple(target.shape)}")
    if target.numel() and (target.min() < 0 or target.max() >= classes):
        raise ValueError(f"class targets: expected values in [0, {classes - 1}], "
                         f"got [{int(target.min())}, {int(target.max())}]")
