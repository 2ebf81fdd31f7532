"""A stochastic layer's own sampling, judged over many draws.

Parity with a twin that draws the same noise proves the arithmetic, not the noise: a dropout
that keeps with probability p instead of 1 - p matches a twin that makes the same mistake.
So a pair that declares ``sampling=InvertedDropout("p")`` also has its reference run on a large
batch of ones, in training and in eval mode, and its statistics judged:

- the fraction kept lies within ``sigmas`` binomial standard deviations of 1 - p;
- every kept value is 1 / (1 - p) (to rounding), every other is exactly 0;
- eval mode returns its input unchanged.

With n draws the keep rate's standard deviation is sqrt(p (1 - p) / n); at n = 100,000 and 6
sigmas a correct layer fails one run in ~5e8, and swapping p and 1 - p (p = 0.1: a keep rate
of 0.1 for 0.9) is ~600 sigmas away.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class InvertedDropout:
    """Dropout's sampling: each element kept with probability 1 - p and scaled by 1 / (1 - p)."""

    p: str = "p"  # the config key of the drop probability
    draws: int = 100_000
    sigmas: float = 6.0

    def findings(self, pair, config, dtype) -> list[tuple[str, str, bool]]:
        """(what, finding, passed) for the keep rate, the kept values and eval mode."""
        p = float(getattr(config, self.p))
        x = np.ones(self.draws, dtype=dtype)
        train = self._output(pair, config, x, training=True)
        kept = train != 0
        rate, expected = float(kept.mean()), 1.0 - p
        bound = self.sigmas * math.sqrt(p * (1 - p) / self.draws)
        scale = 1.0 / (1.0 - p)
        values = train[kept]
        eps = float(np.finfo(dtype).eps)
        off = values[np.abs(values - scale) > 4 * eps * scale]
        same = np.array_equal(self._output(pair, config, x, training=False), x)
        return [
            ("keep rate", f"kept {rate:.5f} of {self.draws} draws; expected 1 - p = {expected:g} within "
                          f"{self.sigmas:g} binomial sigmas ({bound:.2g})", abs(rate - expected) <= bound),
            ("kept values", f"{off.size} of {values.size} kept values differ from 1 / (1 - p) = {scale:.6g}"
                            + (f" (the first is {off[0]:.6g})" if off.size else ""), off.size == 0),
            ("eval identity", "eval mode returns its input unchanged" if same else
             "eval mode changed its input (an eval forward must be the identity)", same),
        ]

    @staticmethod
    def _output(pair, config, x, training: bool) -> np.ndarray:
        from parity_tests.engine.harness import reference_forward  # the harness imports torch: only when judged

        return np.asarray(reference_forward(pair, config, [x.copy()], training))
