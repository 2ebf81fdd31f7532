"""Nested names: how a layer's inputs are passed and its outputs come back.

A structure is a name or a tuple of structures: ``("out", ("hT", "cT"))`` for an LSTM that
returns its sequence and its final states. The harness keeps values flat, keyed by name, and
builds or takes apart the nested tuples only where a layer is called or returns.
"""

from __future__ import annotations

from parity_tests.engine.layouts import DeclarationError

Structure = str | tuple


def names(structure: Structure) -> tuple[str, ...]:
    """Every name of the structure, in order."""
    if isinstance(structure, str):
        return (structure,)
    return tuple(name for part in structure for name in names(part))


def build(structure: Structure, values: dict):
    """The nested tuple of ``values`` (keyed by name) shaped as ``structure``."""
    if isinstance(structure, str):
        return values[structure]
    return tuple(build(part, values) for part in structure)


def show(structure: Structure) -> str:
    return structure if isinstance(structure, str) else "(" + ", ".join(show(p) for p in structure) + ")"


def unpack(structure: Structure, value, what: str) -> dict:
    """``value`` taken apart by ``structure``, keyed by name; a value of another nesting is a
    DeclarationError that says what was declared and what came."""
    if isinstance(structure, str):
        return {structure: value}
    if not isinstance(value, tuple | list) or len(value) != len(structure):
        came = f"a {type(value).__name__} of {len(value)}" if isinstance(value, tuple | list) else \
            type(value).__name__
        raise DeclarationError(f"{what} returned {came}; the pair declares outputs {show(structure)}")
    found = {}
    for part, item in zip(structure, value, strict=True):
        found |= unpack(part, item, what)
    return found


def leaves(value) -> list:
    """The values of a nested tuple or list, flat and in order."""
    if isinstance(value, tuple | list):
        return [leaf for item in value for leaf in leaves(item)]
    return [value]
