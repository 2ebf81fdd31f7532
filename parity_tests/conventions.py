"""Conventions: where a reference layer keeps its arrays and how it runs (see
``engine.conventions``)."""

from parity_tests.engine.conventions import VJP, Attributes, Closure, Convention, Dicts, Functional, NamedArrays

__all__ = ["VJP", "Attributes", "Closure", "Convention", "Dicts", "Functional", "NamedArrays"]
