"""Layers that return their backward, and plain function pairs, as people write them, each
with broken copies. ``test_closures.py`` checks them through declarations alone.

- A closure-style library (Thinc's ``begin_update`` design): ``Y, backprop = layer(X)``,
  ``dX = backprop(dY)``. A model's parameters and their gradients live in one ``Store``
  (``store.params``, ``store.grads``), keyed ``"<index>.<name>"`` inside a ``Chain``; backprop
  adds into the store's gradients until ``zero_grads()``. ``Linear`` (W (out, in), b (out,)),
  ``ReLU``, ``Chain``; ``relu``, the same layer as a plain function.
- Function pairs ``(f, vjp)``: ``softmax`` / ``softmax_vjp(x, dy)``, and ``affine`` /
  ``affine_vjp(x, w, b, dy) -> (dx, dw, db)``.
"""

import numpy as np


class Store:
    """Every parameter of a model and its gradient, by name."""

    def __init__(self):
        self.params, self.grads = {}, {}

    def zero_grads(self):
        self.grads = {name: np.zeros_like(value) for name, value in self.params.items()}


class Layer:
    """A closure-style layer: its parameters in a store, under its prefix."""

    def __init__(self, **params):
        self.store, self.prefix = Store(), ""
        self.store.params.update(params)
        self.store.zero_grads()

    def bind(self, store: Store, prefix: str):
        """Move this layer's parameters into ``store``, their names prefixed (a chain's)."""
        for name in list(self.store.params):
            store.params[prefix + name] = self.store.params.pop(name)
        self.store, self.prefix = store, prefix
        store.zero_grads()

    def param(self, name):
        return self.store.params[self.prefix + name]

    def add_grad(self, name, grad):
        key = self.prefix + name
        self.store.grads[key] = self.store.grads[key] + grad

    def zero_grads(self):
        self.store.zero_grads()


class Linear(Layer):
    """Y = X W^T + b.  X: (N, in), W: (out, in), b: (out,)."""

    def __init__(self, n_in, n_out):
        rng = np.random.default_rng(0)
        super().__init__(W=rng.standard_normal((n_out, n_in)) / np.sqrt(n_in), b=np.zeros(n_out))

    def __call__(self, X):
        W, b = self.param("W"), self.param("b")

        def backprop(dY):
            self.add_grad("W", dY.T @ X)
            self.add_grad("b", dY.sum(axis=0))
            return dY @ W

        return X @ W.T + b, backprop


class ReLU(Layer):
    """Y = max(X, 0)."""

    def __call__(self, X):
        mask = X > 0
        return X * mask, lambda dY: dY * mask


def relu(X):
    """ReLU as a plain function that returns its backward."""
    mask = X > 0
    return X * mask, lambda dY: dY * mask


class Chain(Layer):
    """Layers applied in order, their parameters in one store."""

    def __init__(self, *layers):
        super().__init__()
        self.layers = layers
        for index, layer in enumerate(layers):
            layer.bind(self.store, f"{index}.")

    def __call__(self, X):
        backprops = []
        for layer in self.layers:
            X, backprop = layer(X)
            backprops.append(backprop)

        def backprop(dY):
            for step in reversed(backprops):
                dY = step(dY)
            return dY

        return X, backprop


def softmax(x):
    """Along the last axis.  x: (N, C)."""
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def softmax_vjp(x, dy):
    y = softmax(x)
    return y * (dy - (dy * y).sum(axis=-1, keepdims=True))


def affine(x, w, b):
    """x w + b.  x: (N, in), w: (in, out), b: (out,)."""
    return x @ w + b


def affine_vjp(x, w, b, dy):
    return dy @ w.T, x.T @ dy, dy.sum(axis=0)


# -- broken copies: one mistake each ------------------------------------------------------------


class LateBindingChain(Chain):
    def __call__(self, X):
        backprops = []
        for layer in self.layers:
            X, backprop = layer(X)
            backprops.append(lambda dY: backprop(dY))  # noqa: B023 (the mistake: each calls the last layer's)

        def chained(dY):
            for step in reversed(backprops):
                dY = step(dY)
            return dY

        return X, chained


class InPlaceReLU(ReLU):
    def __call__(self, X):
        mask = X > 0

        def backprop(dY):
            dY[~mask] = 0  # the caller's upstream gradient, zeroed in place
            return dY

        return X * mask, backprop


class MeanBiasLinear(Linear):
    def __call__(self, X):
        W, b = self.param("W"), self.param("b")

        def backprop(dY):
            self.add_grad("W", dY.T @ X)
            self.add_grad("b", dY.mean(axis=0))  # a mean over the batch, where the loss sums
            return dY @ W

        return X @ W.T + b, backprop


def softmax_vjp_over_batch(x, dy):
    y = softmax(x)
    return y * (dy - (dy * y).sum(axis=0, keepdims=True))  # the dot product summed over the batch


def affine_vjp_transposed_dw(x, w, b, dy):
    dx, dw, db = affine_vjp(x, w, b, dy)
    return dx, dw.T.reshape(w.shape), db  # right shape when w is square, wrong values
