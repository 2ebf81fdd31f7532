"""Statistical checks of a stochastic layer's own sampling (see ``engine.sampling``)."""

from parity_tests.engine.sampling import InvertedDropout

__all__ = ["InvertedDropout"]
