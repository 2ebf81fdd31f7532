"""Autograd engines as people write them, each with broken copies. ``test_engines.py``
checks them against the op catalog through a declaration alone.

- ``Tensor``: a small NumPy engine, micrograd's design on arrays. Every operation returns a
  tensor that keeps its parents and a function from its gradient to theirs;
  ``backward(g)`` visits the graph once, in topological order, summing each tensor's
  gradient over its uses, and accumulates into the leaves' ``.grad`` (torch's semantics:
  the graph's inner tensors keep nothing). It implements every op of the catalog, spelled
  as the catalog spells them by default.
- ``Value``: a scalar engine, micrograd's own design: one number, ``data`` and ``grad``,
  ``backward()`` from a scalar. Its numbers stay NumPy scalars of their leaf's dtype.
- The broken copies of ``Tensor``, one mistake each: a broadcast gradient not summed back,
  a tensor visited once a path by recursion, gradients overwritten instead of accumulated,
  the max's gradient split between ties where torch picks one, softmax along the wrong axis.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def _axes(axis, ndim: int) -> tuple[int, ...]:
    """A reduction's axes, non-negative: every axis for None."""
    if axis is None:
        return tuple(range(ndim))
    return tuple(a % ndim for a in (axis if isinstance(axis, tuple) else (axis,)))


class Tensor:
    """An array that records how it was made: ``data``, ``grad`` (None until a backward
    reaches it), its parents and ``_backward``: its gradient -> one gradient per parent (of
    the broadcast shape, summed back by the parent's op)."""

    def __init__(self, data, parents=(), backward=None):
        self.data = np.asarray(data)  # the caller's array, never written to
        self.grad = None
        self._parents, self._backward = parents, backward

    shape = property(lambda self: self.data.shape)
    ndim = property(lambda self: self.data.ndim)

    def _result(self, data, parents, backward):
        return type(self)(data, parents, backward)

    def _lift(self, other):
        """A constant operand (a Python number) as a tensor of this one's dtype."""
        return other if isinstance(other, Tensor) else type(self)(np.asarray(other, dtype=self.data.dtype))

    # -- backward --------------------------------------------------------------------------

    @staticmethod
    def _sum_to(grad, shape):
        """A gradient of the broadcast shape summed back to an operand's ``shape``."""
        grad = grad.sum(axis=tuple(range(grad.ndim - len(shape))))
        return grad.sum(axis=tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1), keepdims=True)

    @staticmethod
    def _accumulate(held, grad):
        """held + grad; a copy of grad where nothing is held (never the caller's array itself)."""
        return np.array(grad, copy=True) if held is None else held + grad

    def _topological(self):
        """Every tensor self is made of, each after its parents."""
        order, seen = [], set()

        def visit(node):
            if node not in seen:
                seen.add(node)
                for parent in node._parents:
                    visit(parent)
                order.append(node)

        visit(self)
        return order

    def backward(self, grad=None):
        """d(loss)/d(leaf) for every leaf, from ``grad`` = d(loss)/d(self) (ones by default),
        added to each leaf's ``.grad``."""
        grads = {self: np.ones_like(self.data) if grad is None else np.asarray(grad)}
        for node in reversed(self._topological()):
            g = grads.pop(node)
            if not node._parents:
                node.grad = self._accumulate(node.grad, g)
                continue
            for parent, parent_grad in zip(node._parents, node._backward(g), strict=True):
                grads[parent] = self._accumulate(grads.get(parent), parent_grad)

    def zero_grad(self):
        self.grad = None

    # -- element-wise ----------------------------------------------------------------------

    def _unary(self, y, dy_dx):
        return self._result(y, (self,), lambda g: (g * dy_dx,))

    def __neg__(self):
        return self._unary(-self.data, -1)

    def exp(self):
        y = np.exp(self.data)
        return self._unary(y, y)

    def log(self):
        return self._unary(np.log(self.data), 1 / self.data)

    def sqrt(self):
        y = np.sqrt(self.data)
        return self._unary(y, 0.5 / y)

    def tanh(self):
        y = np.tanh(self.data)
        return self._unary(y, 1 - y * y)

    def sigmoid(self):
        e = np.exp(-np.abs(self.data))  # never overflows
        y = np.where(self.data >= 0, 1 / (1 + e), e / (1 + e))
        return self._unary(y, y * (1 - y))

    def relu(self):
        return self._unary(np.maximum(self.data, 0), self.data > 0)

    def abs(self):
        return self._unary(np.abs(self.data), np.sign(self.data))

    def sin(self):
        return self._unary(np.sin(self.data), np.cos(self.data))

    def cos(self):
        return self._unary(np.cos(self.data), -np.sin(self.data))

    def leaky_relu(self, slope):
        x = self.data
        return self._unary(np.where(x > 0, x, slope * x), np.where(x > 0, 1, slope).astype(x.dtype))

    def softplus(self):
        return self._unary(np.logaddexp(0, self.data), self.sigmoid().data)

    def clip(self, low, high):
        x, inside = self.data, np.ones(self.shape, dtype=bool)
        if low is not None:
            inside &= x >= low
        if high is not None:
            inside &= x <= high
        return self._unary(np.clip(x, low, high), inside)

    # -- binary, broadcast -----------------------------------------------------------------

    def _binary(self, other, y, da, db):
        """``da(g)``, ``db(g)``: the operands' gradients of the broadcast shape."""
        return self._result(y, (self, other), lambda g: (self._sum_to(da(g), self.shape),
                                                         self._sum_to(db(g), other.shape)))

    def __add__(self, other):
        other = self._lift(other)
        return self._binary(other, self.data + other.data, lambda g: g, lambda g: g)

    def __sub__(self, other):
        other = self._lift(other)
        return self._binary(other, self.data - other.data, lambda g: g, lambda g: -g)

    def __mul__(self, other):
        other = self._lift(other)
        a, b = self.data, other.data
        return self._binary(other, a * b, lambda g: g * b, lambda g: g * a)

    def __truediv__(self, other):
        other = self._lift(other)
        a, b = self.data, other.data
        return self._binary(other, a / b, lambda g: g / b, lambda g: -g * a / (b * b))

    def __pow__(self, other):
        if not isinstance(other, Tensor):  # a constant exponent: no log of the base
            return self._unary(self.data ** other, other * self.data ** (other - 1))
        a, b = self.data, other.data
        y = a ** b
        return self._binary(other, y, lambda g: g * b * a ** (b - 1), lambda g: g * y * np.log(a))

    __radd__, __rmul__ = __add__, __mul__

    def __rsub__(self, other):
        return self._lift(other) - self

    def __rtruediv__(self, other):
        return self._lift(other) / self

    def maximum(self, other):
        """Ties split the gradient in halves, as torch's."""
        other = self._lift(other)
        a, b = self.data, other.data
        return self._binary(other, np.maximum(a, b), lambda g: g * (a > b) + g * (a == b) / 2,
                            lambda g: g * (b > a) + g * (a == b) / 2)

    def minimum(self, other):
        other = self._lift(other)
        a, b = self.data, other.data
        return self._binary(other, np.minimum(a, b), lambda g: g * (a < b) + g * (a == b) / 2,
                            lambda g: g * (b < a) + g * (a == b) / 2)

    def __matmul__(self, other):
        """A vector is a matrix of one row (left) or one column (right); batch axes broadcast."""
        other = self._lift(other)
        a = self.data[None, :] if self.ndim == 1 else self.data
        b = other.data[:, None] if other.ndim == 1 else other.data

        def backward(g):
            g = g.reshape(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (a.shape[-2], b.shape[-1]))
            da, db = g @ np.swapaxes(b, -1, -2), np.swapaxes(a, -1, -2) @ g
            return self._sum_to(da, a.shape).reshape(self.shape), self._sum_to(db, b.shape).reshape(other.shape)

        return self._result(self.data @ other.data, (self, other), backward)

    # -- reductions --------------------------------------------------------------------------

    def _reduced(self, y, axis, keepdims, local):
        """A reduction's result: ``local(g)`` maps its gradient, with the reduced axes kept (of
        size 1), to the input's."""
        axes = _axes(axis, self.ndim)
        return self._result(y, (self,), lambda g: (local(g if keepdims else np.expand_dims(g, axes)),))

    def _count(self, axis):
        return int(np.prod([self.shape[a] for a in _axes(axis, self.ndim)]))

    def sum(self, axis=None, keepdims=False):
        return self._reduced(self.data.sum(axis, keepdims=keepdims), axis, keepdims,
                             lambda g: np.broadcast_to(g, self.shape))

    def mean(self, axis=None, keepdims=False):
        n = self._count(axis)
        return self._reduced(self.data.mean(axis, keepdims=keepdims), axis, keepdims,
                             lambda g: np.broadcast_to(g / n, self.shape))

    def _pick(self, index, axis, keepdims):
        """The elements ``index`` picks along ``axis`` (argmax, argmin), their gradient to them alone."""
        picked = np.expand_dims(index, axis)
        y = np.take_along_axis(self.data, picked, axis)
        y = y if keepdims else np.squeeze(y, axis)

        def local(g):
            grad = np.zeros_like(self.data)
            np.put_along_axis(grad, picked, g, axis)
            return grad

        return self._reduced(y, axis, keepdims, local)

    def max(self, axis, keepdims=False):
        """Along one axis; of tied elements, the first takes the gradient, as torch's."""
        return self._pick(np.argmax(self.data, axis), axis, keepdims)

    def min(self, axis, keepdims=False):
        return self._pick(np.argmin(self.data, axis), axis, keepdims)

    def var(self, axis=None, ddof=0, keepdims=False):
        d = self.data - self.data.mean(axis, keepdims=True)
        n = self._count(axis) - ddof
        return self._reduced((d * d).sum(axis, keepdims=keepdims) / n, axis, keepdims, lambda g: g * 2 * d / n)

    def std(self, axis=None, ddof=0, keepdims=False):
        d = self.data - self.data.mean(axis, keepdims=True)
        n = self._count(axis) - ddof
        s = np.sqrt((d * d).sum(axis, keepdims=True) / n)
        return self._reduced(s if keepdims else np.squeeze(s, _axes(axis, self.ndim)), axis, keepdims,
                             lambda g: g * d / (n * s))

    def prod(self, axis, keepdims=False):
        """x nonzero: the gradient of each factor is the product over it."""
        y = self.data.prod(axis, keepdims=True)
        return self._reduced(y if keepdims else np.squeeze(y, axis), axis, keepdims, lambda g: g * y / self.data)

    def logsumexp(self, axis=None, keepdims=False):
        m = self.data.max(axis, keepdims=True)
        y = np.log(np.exp(self.data - m).sum(axis, keepdims=True)) + m
        return self._reduced(y if keepdims else np.squeeze(y, _axes(axis, self.ndim)), axis, keepdims,
                             lambda g: g * np.exp(self.data - y))

    # -- shape ---------------------------------------------------------------------------------

    def _view(self, y):
        """A result holding self's elements rearranged: its gradient reshaped back."""
        return self._result(y, (self,), lambda g: (g.reshape(self.shape),))

    def reshape(self, shape):
        return self._view(self.data.reshape(shape))

    def flatten(self):
        return self._view(self.data.reshape(-1))

    def squeeze(self, axis=None):
        return self._view(self.data.squeeze(axis))

    def unsqueeze(self, axis):
        return self._view(np.expand_dims(self.data, axis))

    def transpose(self, axes=None):
        axes = tuple(range(self.ndim))[::-1] if axes is None else axes
        return self._result(self.data.transpose(axes), (self,), lambda g: (g.transpose(np.argsort(axes)),))

    def swapaxes(self, a, b):
        return self._result(self.data.swapaxes(a, b), (self,), lambda g: (g.swapaxes(a, b),))

    T = property(lambda self: self.transpose())

    def expand(self, shape):
        return self._result(np.broadcast_to(self.data, shape), (self,), lambda g: (self._sum_to(g, self.shape),))

    # -- indexing, joining, splitting ------------------------------------------------------------

    def __getitem__(self, index):
        """Basic and advanced indexing; an element picked twice takes both gradients."""
        def backward(g):
            grad = np.zeros_like(self.data)
            np.add.at(grad, index, g)
            return (grad,)

        return self._result(self.data[index], (self,), backward)

    def take_along_axis(self, indices, axis):
        def backward(g):
            grad = np.zeros_like(self.data)
            at = list(np.ix_(*(np.arange(n) for n in indices.shape)))
            at[axis] = indices
            np.add.at(grad, tuple(at), g)
            return (grad,)

        return self._result(np.take_along_axis(self.data, indices, axis), (self,), backward)

    @staticmethod
    def concatenate(tensors, axis=0):
        ends = np.cumsum([t.shape[axis] for t in tensors])[:-1]
        return tensors[0]._result(np.concatenate([t.data for t in tensors], axis), tuple(tensors),
                                  lambda g: tuple(np.split(g, ends, axis)))

    @staticmethod
    def stack(tensors, axis=0):
        return tensors[0]._result(np.stack([t.data for t in tensors], axis), tuple(tensors),
                                  lambda g: tuple(np.take(g, i, axis) for i in range(len(tensors))))

    def split(self, sizes, axis=0):
        """Parts of ``sizes`` along ``axis``, each a slice of self."""
        starts = np.cumsum((0, *sizes))
        return [self[(slice(None),) * (axis % self.ndim) + (slice(start, end),)]
                for start, end in zip(starts[:-1], starts[1:], strict=True)]

    @staticmethod
    def where(condition, a, b):
        """``condition`` (booleans) picks a, else b; each takes the gradient where it is picked."""
        first = a if isinstance(a, Tensor) else b
        a, b = first._lift(a), first._lift(b)
        return first._result(np.where(condition, a.data, b.data), (a, b),
                             lambda g: (first._sum_to(g * condition, a.shape), first._sum_to(g * ~condition, b.shape)))

    # -- softmax, losses -----------------------------------------------------------------------

    def softmax(self, axis=-1):
        e = np.exp(self.data - self.data.max(axis, keepdims=True))
        y = e / e.sum(axis, keepdims=True)
        return self._result(y, (self,), lambda g: (y * (g - (g * y).sum(axis, keepdims=True)),))

    def log_softmax(self, axis=-1):
        shifted = self.data - self.data.max(axis, keepdims=True)
        y = shifted - np.log(np.exp(shifted).sum(axis, keepdims=True))
        return self._result(y, (self,), lambda g: (g - np.exp(y) * g.sum(axis, keepdims=True),))

    def cross_entropy(self, target, reduction="mean"):
        """Logits (N, C) against class indices (N,): the mean (or sum) of -log softmax at the target."""
        n = self.shape[0]
        log_p = self.log_softmax(axis=1).data
        losses = -log_p[np.arange(n), target]
        scale = 1 / n if reduction == "mean" else 1
        onehot = np.eye(self.shape[1], dtype=self.data.dtype)[target]
        return self._result(losses.sum() * scale, (self,), lambda g: (g * scale * (np.exp(log_p) - onehot),))

    # -- convolution, pooling (x: N, C, H, W) --------------------------------------------------------

    def _windows(self, k, stride, padding=0):
        """x padded, and its k x k windows: (N, C, OH, OW, k, k)."""
        p = padding
        padded = np.pad(self.data, ((0, 0), (0, 0), (p, p), (p, p)))
        return padded, sliding_window_view(padded, (k, k), axis=(2, 3))[:, :, ::stride, ::stride]

    @staticmethod
    def _scatter(padded_shape, window_grads, stride, padding):
        """Window gradients (N, C, OH, OW, k, k) summed into the unpadded input's."""
        grad = np.zeros(padded_shape, dtype=window_grads.dtype)
        oh, ow, k = window_grads.shape[2], window_grads.shape[3], window_grads.shape[-1]
        for i in range(k):
            for j in range(k):
                grad[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride] += window_grads[..., i, j]
        h, w = padded_shape[2] - padding, padded_shape[3] - padding
        return grad[:, :, padding:h, padding:w]

    def conv2d(self, weight, bias, stride=1, padding=0):
        """Cross-correlation with weight (O, C, k, k), plus bias (O,)."""
        padded, windows = self._windows(weight.shape[-1], stride, padding)
        y = np.einsum("ncijkl,ockl->noij", windows, weight.data) + bias.data[:, None, None]

        def backward(g):
            dx = self._scatter(padded.shape, np.einsum("noij,ockl->ncijkl", g, weight.data), stride, padding)
            return dx, np.einsum("ncijkl,noij->ockl", windows, g), g.sum(axis=(0, 2, 3))

        return self._result(y, (self, weight, bias), backward)

    def max_pool2d(self, k, stride):
        """Of tied elements in a window, the first (row by row) takes the gradient, as torch's."""
        padded, windows = self._windows(k, stride)
        flat = windows.reshape(*windows.shape[:4], k * k)
        first = flat.argmax(axis=-1)

        def backward(g):
            picked = np.zeros(flat.shape, dtype=g.dtype)
            np.put_along_axis(picked, first[..., None], g[..., None], -1)
            return (self._scatter(padded.shape, picked.reshape(windows.shape), stride, 0),)

        return self._result(np.take_along_axis(flat, first[..., None], -1)[..., 0], (self,), backward)

    def avg_pool2d(self, k, stride):
        padded, windows = self._windows(k, stride)
        return self._result(windows.mean(axis=(-2, -1)), (self,), lambda g: (self._scatter(
            padded.shape, np.broadcast_to(g[..., None, None] / (k * k), windows.shape), stride, 0),))


# -- broken copies: one mistake each ----------------------------------------------------------------


class UnsummedBroadcastTensor(Tensor):
    @staticmethod
    def _sum_to(grad, shape):
        return grad  # the broadcast operand gets the gradient of the result's shape


class RecursiveTensor(Tensor):
    def backward(self, grad=None):
        """Recursion without a topological order: a tensor's gradient so far is sent on every
        time a path reaches it, before its other uses have added theirs."""
        self.grad = self._accumulate(self.grad, np.ones_like(self.data) if grad is None else grad)
        if self._parents:
            for parent, parent_grad in zip(self._parents, self._backward(self.grad), strict=True):
                parent.backward(parent_grad)


class OverwritingTensor(Tensor):
    @staticmethod
    def _accumulate(held, grad):
        return np.array(grad, copy=True)  # the last contribution replaces the others


class TieSplittingTensor(Tensor):
    def max(self, axis, keepdims=False):
        y = self.data.max(axis, keepdims=True)
        tied = self.data == y
        share = (tied / tied.sum(axis, keepdims=True)).astype(self.data.dtype)  # where torch picks the first
        return self._reduced(y if keepdims else np.squeeze(y, axis), axis, keepdims, lambda g: g * share)


class LastAxisSoftmaxTensor(Tensor):
    def softmax(self, axis=-1):
        return super().softmax(axis=-1)  # the axis asked for ignored


# -- a scalar engine -----------------------------------------------------------------------------------


class Value:
    """One number that records how it was made (micrograd's design): ``data`` (a NumPy
    scalar: a float32 leaf stays float32), ``grad`` (d out / d self, summed by backward), its
    parents, each with d self / d parent."""

    def __init__(self, data, parents=()):
        self.data, self.grad = data, data * 0
        self._parents = parents  # (parent, local derivative) pairs

    @staticmethod
    def _of(other):
        return other if isinstance(other, Value) else Value(other)

    def __add__(self, other):
        other = self._of(other)
        return Value(self.data + other.data, ((self, 1), (other, 1)))

    def __mul__(self, other):
        other = self._of(other)
        return Value(self.data * other.data, ((self, other.data), (other, self.data)))

    def __pow__(self, p):
        return Value(self.data ** p, ((self, p * self.data ** (p - 1)),))

    def exp(self):
        y = np.exp(self.data)
        return Value(y, ((self, y),))

    def log(self):
        return Value(np.log(self.data), ((self, 1 / self.data),))

    def tanh(self):
        y = np.tanh(self.data)
        return Value(y, ((self, 1 - y * y),))

    def sigmoid(self):
        y = 1 / (1 + np.exp(-self.data))
        return Value(y, ((self, y * (1 - y)),))

    def relu(self):
        return Value(self.data * (self.data > 0), ((self, self.data > 0),))

    __radd__, __rmul__ = __add__, __mul__

    def __neg__(self):
        return self * -1

    def __sub__(self, other):
        return self + -self._of(other)

    def __rsub__(self, other):
        return self._of(other) + -self

    def __truediv__(self, other):
        return self * self._of(other) ** -1

    def __rtruediv__(self, other):
        return self._of(other) * self ** -1

    def backward(self):
        order, seen = [], set()

        def visit(value):
            if value not in seen:
                seen.add(value)
                for parent, _ in value._parents:
                    visit(parent)
                order.append(value)

        visit(self)
        self.grad = self.data * 0 + 1
        for value in reversed(order):
            for parent, local in value._parents:
                parent.grad = parent.grad + local * value.grad

    def zero_grad(self):
        self.grad = self.data * 0
