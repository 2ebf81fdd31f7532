"""Every tolerance of the suite, in one place.

The judge of every value is torch in float64 on the same inputs and parameters. An element
of the reference's result r passes against the judge's e when

    |r - e| <= atol + rtol * |e|,   atol = floor + scale * max|e| + multiple * max|t - e|

where t is torch's own result in the case's dtype. So:
- ``floor`` is an absolute term of a few hundred ulp of 1: inputs, parameters and upstream
  gradients are O(1), so rounding errors are absolute at that scale even where a result
  is small because terms cancelled (a saturated softmax's gradient is ~1e-8 made of O(1)
  terms);
- ``rtol`` and ``scale`` are a floor of a few hundred units in the last place of the dtype,
  relative to the element and to the tensor's largest element (so elements that cancel to
  near zero are judged at the tensor's scale, not at their own);
- ``multiple`` lets the reference be that many times as inaccurate as torch itself in
  float32, where both round; in float64 t is the judge, so the term is zero.
The term in t can only pass more, so it is computed (torch run in the case's dtype) only for
a case with a tensor beyond ``WITHOUT_TWIN`` of the rest of the tolerance; a tensor within it
passes, and is reported against the rest (a headroom of at most ``WITHOUT_TWIN``).
A pair may override a dtype's tolerance; the override must say why.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tolerance:
    rtol: float
    scale: float
    floor: float
    multiple: float = 0.0
    reason: str = ""

    def atol(self, peak: float, torch_error: float) -> float:
        """``peak``: max|e| over the expected tensor (0 for an empty one)."""
        return self.floor + self.scale * peak + self.multiple * torch_error


DEFAULT = {
    # float32 epsilon is 1.2e-7: rtol and scale are about 80 ulp. The floor, 1e-6, is 8 ulp of
    # 1: a result that cancels n O(1) terms carries their rounding, a few ulp for the ~80-term
    # sums of the grid (a bias gradient summed over N*OH*OW), and torch's own error does not
    # cover it, because torch's CPU kernels accumulate float32 sums in double. (At 1e-7, under
    # one ulp, a 200-seed sweep failed a 12-term Conv2d bias gradient that cancelled to 9e-4
    # and was 3.7e-7 = 3 ulp off.) The reference may be up to 10x as far from the float64 judge
    # as torch's own float32 result is.
    "float32": Tolerance(rtol=1e-5, scale=1e-5, floor=1e-6, multiple=10.0),
    # float64 epsilon is 2.2e-16: 1e-10 leaves room for long sums and cancellation, and is
    # still a million times below any real gradient mistake at O(1) values.
    "float64": Tolerance(rtol=1e-10, scale=1e-10, floor=1e-13),
}

# A tensor whose error is within this fraction of its tolerance less the torch term passes
# without torch's run in the case's dtype (the term can only pass more). Nearer the edge the
# twin runs, so every headroom a report ranks near 1 is against the whole tolerance.
WITHOUT_TWIN = 0.5

# A check whose expected tensor never exceeds this (relative to nothing: inputs, parameters
# and upstream gradients are O(1)) cannot fail whatever the reference computes.
VACUOUS = 1e-9


# Central differences in float64 with step 1e-6 are accurate to about 1e-9 relative
# (truncation ~ eps^2, rounding ~ 1e-16 / eps). A gradient agrees with them within
# FD_RTOL * (|fd| + max|gradient|): far above that error, far below any real mistake.
FD_STEP = 1e-6
FD_RTOL = 1e-5


# Float32 cases keep every ReLU input at least KINK_MARGIN x (that ReLU's largest input)
# away from zero: float32 rounding of a long sum is ~1e-6 of its terms, so nearer inputs
# may take either side of the kink. (A 200-seed sweep met 2 such flips in ~2,400 float32
# SE-ResNet cases.) A draw too close is replaced by the next draw from the same seed.
KINK_MARGIN = 1e-5
KINK_ATTEMPTS = 50


def tolerance_for(pair, dtype: str) -> Tolerance:
    return pair.tolerances.get(dtype, DEFAULT[dtype])
