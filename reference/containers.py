"""Composition: Sequential, and Flatten between convolutional and linear layers."""

import numpy as np

from reference.base import Layer, check_input


class Flatten(Layer):
    """y = x.reshape(N, d1 * ... * dk).  x: (N, d1, ..., dk).  dL/dx = g reshaped to x's shape."""

    def forward(self, x):
        check_input(x, "Flatten input")
        if x.ndim < 2:
            raise ValueError(f"Flatten input: expected shape (N, ...) with at least 2 axes, got {x.shape}")
        self.x_shape = x.shape
        return self._remember_output(x.reshape(x.shape[0], -1).copy())

    def backward(self, grad_out):
        return self._check_grad(grad_out).reshape(self.x_shape).copy()  # never a view of the caller's array


class Sequential(Layer):
    """y = f_k(...f_2(f_1(x))); backward runs the layers in reverse.

    A layer instance may appear more than once (shared weights). Each use keeps what its
    forward cached (the layer's attributes and its sub-layers' are set aside after every
    use and put back for that use's backward), and the instance's gradients are the sum over
    its uses, as autograd's are. Its parameters are listed once, under its first position,
    as torch's named_parameters() lists them.
    """

    def __init__(self, *layers):
        super().__init__()
        self.layers = list(layers)

    def children(self):
        first = {}
        for index, layer in enumerate(self.layers):
            if not any(layer is seen for seen in first.values()):
                first[str(index)] = layer
        return first

    def forward(self, x):
        self._uses = []
        for layer in self.layers:
            x = layer(x)
            self._uses.append([(part, dict(vars(part))) for part in _subtree(layer)])
        return self._remember_output(x)

    def backward(self, grad_out):
        g = self._check_grad(grad_out)
        totals: dict[int, dict[str, np.ndarray]] = {}
        for layer, cached in zip(reversed(self.layers), reversed(self._uses), strict=True):
            for part, attributes in cached:
                vars(part).update(attributes)  # this use's caches, as its forward left them
            g = layer.backward(g)
            summed = totals.setdefault(id(layer), {})
            for name, grad in layer.named_grads().items():
                summed[name] = summed[name] + grad if name in summed else np.array(grad, copy=True)
        for layer in self.children().values():
            for name, grad in totals[id(layer)].items():
                _set_grad(layer, name, grad)
        return g


def _subtree(layer):
    return [layer] + [part for child in layer.children().values() for part in _subtree(child)]


def _set_grad(layer, name, grad):
    head, _, rest = name.partition(".")
    if rest and head in layer.children():
        _set_grad(layer.children()[head], rest, grad)
    else:
        layer.grads[name] = grad
