"""Layouts: how the reference stores an array, against torch's layout of the same values.

A layout is an axis permutation and/or a reshape, declared once and applied when values
cross sides, never inside a comparison: every comparison and failure index is in torch's
layout.

    torch_array = reference_array.transpose(permute).reshape(torch_shape)

so ``permute`` lists the reference's axes in torch's order, and ``shape`` is the shape the
reference stores (one size may be -1). ``axes("OIHW", "HWIO")`` spells a permutation by axis
letters: a conv weight stored (kh, kw, in, out) gives ``(3, 2, 0, 1)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class DeclarationError(ValueError):
    """A pair's declaration does not fit the objects it names: says what was declared and what was found."""


def axes(torch: str, reference: str) -> tuple[int, ...]:
    """The permutation taking the reference's axes (letters) to torch's: ``axes("NCHW", "NHWC") == (0, 3, 1, 2)``."""
    if sorted(torch) != sorted(reference) or len(set(torch)) != len(torch):
        raise DeclarationError(f"axes({torch!r}, {reference!r}): expected the same distinct axis letters on both sides")
    return tuple(reference.index(letter) for letter in torch)


@dataclass(frozen=True)
class Layout:
    permute: tuple[int, ...] | None = None
    shape: tuple[int, ...] | None = None

    @property
    def identity(self) -> bool:
        return self.permute is None and self.shape is None

    def __str__(self) -> str:
        parts = ([f"permute {self.permute}"] if self.permute else []) + ([f"shape {self.shape}"] if self.shape else [])
        return ", ".join(parts) or "identity"

    def validate(self, what: str, torch_shape: tuple[int, ...]) -> None:
        """Raise DeclarationError unless this layout can hold a torch array of ``torch_shape``."""
        size = int(np.prod(torch_shape))
        if self.permute is not None:
            if sorted(self.permute) != list(range(len(self.permute))):
                raise DeclarationError(f"{what}: permute {self.permute} is not a permutation of "
                                       f"{tuple(range(len(self.permute)))}")
            axes_held = len(self.shape) if self.shape is not None else len(torch_shape)
            if len(self.permute) != axes_held:
                holder = f"the declared shape {self.shape}" if self.shape is not None else f"torch's {torch_shape}"
                raise DeclarationError(f"{what}: permute {self.permute} has {len(self.permute)} axes, "
                                       f"{holder} has {axes_held}")
        if self.shape is not None:
            known = int(np.prod([s for s in self.shape if s != -1]))
            fits = (size % known == 0) if -1 in self.shape else known == size
            if list(self.shape).count(-1) > 1 or not fits:
                raise DeclarationError(f"{what}: the declared shape {self.shape} cannot hold torch's "
                                       f"{torch_shape} ({size} elements)")

    def reference_shape(self, torch_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The shape the reference holds for a torch array of ``torch_shape``."""
        return tuple(torch_shape) if self.identity else self.to_reference(np.empty(torch_shape, dtype=np.int8)).shape

    def to_reference(self, array: np.ndarray) -> np.ndarray:
        if self.shape is not None:
            permuted = self.shape if self.permute is None else tuple(self.shape[i] for i in self.permute)
            array = array.reshape(permuted)
        return array if self.permute is None else array.transpose(np.argsort(self.permute))

    def to_torch(self, array: np.ndarray, torch_shape: tuple[int, ...]) -> np.ndarray:
        if self.permute is not None:
            array = array.transpose(self.permute)
        return array.reshape(torch_shape) if self.shape is not None else array


IDENTITY = Layout()
