"""Input makers: ``make(config, rng, dtype) -> array``, each with a name, a role (constant or
differentiated) and the distributions it draws from (see ``engine.registry``)."""

from parity_tests.engine.registry import (
    DISTRIBUTIONS,
    bernoulli,
    input_maker,
    integers,
    normal,
    normal_or_tied,
    probabilities,
    targets,
)

__all__ = ["DISTRIBUTIONS", "bernoulli", "input_maker", "integers", "normal", "normal_or_tied", "probabilities",
           "targets"]
