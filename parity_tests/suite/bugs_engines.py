"""Realistic mistakes in an autograd engine, patched into the suite's NumPy engine
(``own_engines.Tensor``): each is the method of one of its broken copies, which
``test_engines.py`` checks for the explanation their failures give. The pairs named are
the engine's entries (``Tensor.<entry>``) whose default matrix must catch it."""

from parity_tests.suite import own_engines as own

SOFTMAX = own.Tensor.softmax


def softmax_axis_ignored(self, axis=-1):
    return SOFTMAX(self, axis=-1)  # as LastAxisSoftmaxTensor: the axis asked for ignored


VARIANTS = [
    ("engine_broadcast_not_summed_back", "Tensor.add Tensor.broadcast_summed_back", own.Tensor, "_sum_to",
     vars(own.UnsummedBroadcastTensor)["_sum_to"],
     "a broadcast operand given the gradient of the result's shape, not summed back to its own", "engines"),
    ("engine_backward_without_topological_order", "Tensor.diamond", own.Tensor, "backward",
     own.RecursiveTensor.backward,
     "backward by recursion: a tensor's gradient sent on each time a path reaches it, before its other uses add "
     "theirs", "engines"),
    ("engine_gradient_overwritten", "Tensor.x_times_x Tensor.accumulates", own.Tensor, "_accumulate",
     vars(own.OverwritingTensor)["_accumulate"],
     "a leaf's gradient overwritten by each contribution instead of summed", "engines"),
    ("engine_max_splits_ties", "Tensor.max", own.Tensor, "max", own.TieSplittingTensor.max,
     "max's gradient split over tied elements, where torch gives it to the first", "engines"),
    ("engine_softmax_axis_ignored", "Tensor.softmax", own.Tensor, "softmax", softmax_axis_ignored,
     "softmax always over the last axis, whatever axis is asked for", "engines"),
]
