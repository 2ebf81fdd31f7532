"""The layer protocol every reference layer follows, and the input checks they share.

- ``forward(*inputs)`` returns the output and keeps what ``backward`` needs;
- ``backward(grad_out)`` returns the gradient with respect to the input and fills ``grads``
  (keyed like ``params``); with several floating inputs it returns a tuple of their gradients,
  in input order (masks, targets and indices get none), and with several outputs (attention)
  ``forward`` returns a tuple and ``backward`` takes one upstream gradient per output;
- ``params`` and ``state`` are dicts of NumPy arrays; composite layers expose their
  children's (every attribute that is a layer) through ``named_params()``, ``named_grads()``
  and ``named_state()``;
- ``train()`` / ``eval()`` switch mode-dependent layers (BatchNorm).
"""

from __future__ import annotations

import numpy as np


class Layer:
    def __init__(self):
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.state: dict[str, np.ndarray] = {}
        self.training = True
        self._output_shape: tuple[int, ...] | None = None

    def __call__(self, *inputs):
        return self.forward(*inputs)

    def children(self) -> dict[str, Layer]:
        """Sub-layers by name, found as torch finds submodules: every attribute that is a Layer
        (an instance held twice, under its first name). Their parameters appear as
        ``"name.param"``; a container restores every one's cache for each of its uses."""
        found = {}
        for name, value in vars(self).items():
            if isinstance(value, Layer) and not any(value is seen for seen in found.values()):
                found[name] = value
        return found

    def named_params(self) -> dict[str, np.ndarray]:
        return self._collect("params")

    def named_grads(self) -> dict[str, np.ndarray]:
        return self._collect("grads")

    def named_state(self) -> dict[str, np.ndarray]:
        return self._collect("state")

    def _collect(self, attribute: str) -> dict[str, np.ndarray]:
        found = dict(getattr(self, attribute))
        for prefix, child in self.children().items():
            found.update({f"{prefix}.{k}": v for k, v in child._collect(attribute).items()})
        return found

    def train(self, mode: bool = True) -> Layer:
        self.training = mode
        for child in self.children().values():
            child.train(mode)
        return self

    def eval(self) -> Layer:
        return self.train(False)

    def to(self, dtype) -> Layer:
        """Cast parameters and state to ``dtype`` (as ``torch.nn.Module.to`` does)."""
        self.params = {k: v.astype(dtype) for k, v in self.params.items()}
        self.state = {k: v.astype(dtype) for k, v in self.state.items()}
        for child in self.children().values():
            child.to(dtype)
        return self

    # -- guards shared by forward and backward ---------------------------------------

    def _remember_output(self, output: np.ndarray) -> np.ndarray:
        self._output_shape, self._output_dtype = np.shape(output), np.result_type(output)
        return output

    def _check_grad(self, grad_out) -> np.ndarray:
        """Refuse a backward before forward, or an upstream gradient of the wrong shape."""
        name = type(self).__name__
        if self._output_shape is None:
            raise RuntimeError(f"{name}.backward called before forward")
        if isinstance(grad_out, int | float):  # a Python scalar (a loss's default 1.0) takes the output's dtype
            grad_out = np.asarray(grad_out, dtype=self._output_dtype)
        grad_out = np.asarray(grad_out)
        if grad_out.shape != self._output_shape:
            raise ValueError(
                f"{name}.backward: expected grad_out of shape {self._output_shape} "
                f"(the forward output's), got {grad_out.shape}"
            )
        return grad_out

    # the same pair for layers with several outputs (attention's output and weights)

    _output_shapes: tuple[tuple[int, ...], ...] | None = None  # a class default: no forward yet

    def _remember_outputs(self, *outputs: np.ndarray) -> tuple[np.ndarray, ...]:
        self._output_shapes = tuple(np.shape(output) for output in outputs)
        self._output_dtypes = tuple(np.result_type(output) for output in outputs)
        return outputs

    def _check_grads(self, *grads) -> tuple[np.ndarray, ...]:
        """``_check_grad`` for several outputs: one upstream gradient per output, in output order."""
        name = type(self).__name__
        if self._output_shapes is None:
            raise RuntimeError(f"{name}.backward called before forward")
        if len(grads) != len(self._output_shapes):
            raise ValueError(
                f"{name}.backward: expected {len(self._output_shapes)} upstream gradients (one per output), "
                f"got {len(grads)}"
            )
        checked = []
        for index, (grad, shape, dtype) in enumerate(zip(grads, self._output_shapes, self._output_dtypes, strict=True)):
            if isinstance(grad, int | float):  # as in _check_grad: a Python scalar takes its output's dtype
                grad = np.asarray(grad, dtype=dtype)
            grad = np.asarray(grad)
            if grad.shape != shape:
                raise ValueError(
                    f"{name}.backward: expected upstream gradient {index} of shape {shape} "
                    f"(forward output {index}'s), got {grad.shape}"
                )
            checked.append(grad)
        return tuple(checked)


def check_input(x, name: str, shape: tuple | None = None, integers_ok: bool = False) -> np.ndarray:
    """Check ``x`` is a floating array whose shape matches ``shape`` (any shape if None).

    ``integers_ok`` lets integer arrays through, for forward-only functions (pixels).
    """
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name}: expected a NumPy array, got {type(x).__name__}")
    if not np.issubdtype(x.dtype, np.floating) and not (
        integers_ok and np.issubdtype(x.dtype, np.integer)
    ):
        raise TypeError(f"{name}: expected a floating-point array, got dtype {x.dtype}")
    check_shape(name, x.shape, shape)
    return x


def check_shape(name: str, actual: tuple, wanted: tuple | None) -> None:
    """Raise unless ``actual`` matches ``wanted``: ints must match exactly, strings
    (axis names, e.g. ``("N", 3, "H", "W")``) match any size. ``None`` matches any shape."""
    if wanted is None:
        return
    if len(actual) != len(wanted) or any(
        isinstance(w, int) and w != a for w, a in zip(wanted, actual, strict=True)
    ):
        shown = "(" + ", ".join(str(w) for w in wanted) + ("," if len(wanted) == 1 else "") + ")"
        raise ValueError(f"{name}: expected shape {shown}, got {tuple(actual)}")
