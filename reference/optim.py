"""Optimizers, as torch.optim defines them: each holds the parameter arrays (by name) and
updates them in place; ``step(grads)`` takes the gradients by the same names; ``state``
keeps what is carried from step to step. ``clip_grad_norm`` scales gradients before a step."""

import math

import numpy as np

from reference.base import check_input


class SGD:
    """Stochastic gradient descent with momentum mu, dampening tau, weight decay lambda:

      g = grad + lambda p
      b = g at the first step, then mu b + (1 - tau) g      (when mu != 0)
      g = g + mu b with Nesterov, else b
      p = p - lr g
    state[name]["momentum_buffer"] is b.
    """

    def __init__(self, params: dict, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(f"SGD: Nesterov momentum expects momentum > 0 and dampening 0, got momentum "
                             f"{momentum}, dampening {dampening}")
        self.params, self.lr, self.momentum, self.dampening = params, lr, momentum, dampening
        self.weight_decay, self.nesterov = weight_decay, nesterov
        self.state: dict[str, dict[str, np.ndarray]] = {name: {} for name in params}

    def step(self, grads: dict):
        for name, p in self.params.items():
            g = grads[name] + self.weight_decay * p if self.weight_decay else grads[name]
            if self.momentum:
                state = self.state[name]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = np.array(g, copy=True)
                else:
                    state["momentum_buffer"] = self.momentum * state["momentum_buffer"] + (1 - self.dampening) * g
                g = g + self.momentum * state["momentum_buffer"] if self.nesterov else state["momentum_buffer"]
            p -= self.lr * g


class Adam:
    """Adam with L2 weight decay as torch.optim.Adam adds it (to the gradient, not decoupled):

      g = grad + lambda p,  t = t + 1
      m = b1 m + (1 - b1) g,  v = b2 v + (1 - b2) g^2
      p = p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
    state[name]: "step" t, "exp_avg" m, "exp_avg_sq" v.
    """

    def __init__(self, params: dict, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        self.params, self.lr, self.betas, self.eps, self.weight_decay = params, lr, betas, eps, weight_decay
        self.state: dict[str, dict] = {name: {} for name in params}

    def step(self, grads: dict):
        beta1, beta2 = self.betas
        for name, p in self.params.items():
            g = grads[name] + self.weight_decay * p if self.weight_decay else grads[name]
            state = self.state[name]
            if not state:
                state.update(step=0, exp_avg=np.zeros_like(p), exp_avg_sq=np.zeros_like(p))
            state["step"] += 1
            state["exp_avg"] = beta1 * state["exp_avg"] + (1 - beta1) * g
            state["exp_avg_sq"] = beta2 * state["exp_avg_sq"] + (1 - beta2) * g * g
            correction1, correction2 = 1 - beta1 ** state["step"], 1 - beta2 ** state["step"]
            # Python floats, so a float32 step stays float32
            denominator = np.sqrt(state["exp_avg_sq"]) / math.sqrt(correction2) + self.eps
            p -= self.lr / correction1 * state["exp_avg"] / denominator


def optimize(optimizer, param, grads, state=(), **hyper):
    """``param`` through one step per row of ``grads``: the parameter after them, then each
    ``state`` entry the optimizer ends with."""
    check_input(param, f"{optimizer.__name__} param")
    check_input(grads, f"{optimizer.__name__} grads", ("steps", *param.shape))
    p = param.copy()
    opt = optimizer({"p": p}, **hyper)
    for g in grads:
        opt.step({"p": g})
    return (p, *(opt.state["p"][name] for name in state))


def check_hyperparameters(name: str, betas=None, **nonnegative) -> None:
    """Refuse what torch.optim refuses when an optimizer is built: a negative rate, decay,
    momentum, eps..., or a beta outside [0, 1)."""
    for key, value in nonnegative.items():
        if value < 0:
            raise ValueError(f"{name}: expected {key} >= 0, got {value}")
    if betas is not None and not all(0 <= beta < 1 for beta in betas):
        raise ValueError(f"{name}: expected betas in [0, 1), got {tuple(betas)}")


class RMSprop:
    """RMSprop with smoothing alpha, weight decay lambda (L2, added to the gradient), momentum mu:

      g = grad + lambda p
      v = alpha v + (1 - alpha) g^2
      a = alpha a + (1 - alpha) g,  d = sqrt(v - a^2) + eps      (centered: v - a^2 estimates Var g)
      d = sqrt(v) + eps                                          (otherwise)
      b = mu b + g / d,  p = p - lr b     (when mu != 0; else p = p - lr g / d)
    state[name]: "step", "square_avg" v, "momentum_buffer" b (mu != 0), "grad_avg" a (centered),
    each starting at zero.
    """

    def __init__(self, params: dict, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False):
        check_hyperparameters("RMSprop", lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum)
        self.params, self.lr, self.alpha, self.eps = params, lr, alpha, eps
        self.weight_decay, self.momentum, self.centered = weight_decay, momentum, centered
        self.state: dict[str, dict] = {name: {} for name in params}

    def step(self, grads: dict):
        alpha = self.alpha
        for name, p in self.params.items():
            g = grads[name] + self.weight_decay * p if self.weight_decay else grads[name]
            state = self.state[name]
            if not state:
                state.update(step=0, square_avg=np.zeros_like(p))
                if self.momentum:
                    state["momentum_buffer"] = np.zeros_like(p)
                if self.centered:
                    state["grad_avg"] = np.zeros_like(p)
            state["step"] += 1
            state["square_avg"] = alpha * state["square_avg"] + (1 - alpha) * g * g
            if self.centered:
                state["grad_avg"] = alpha * state["grad_avg"] + (1 - alpha) * g
                denominator = np.sqrt(state["square_avg"] - state["grad_avg"] ** 2) + self.eps
            else:
                denominator = np.sqrt(state["square_avg"]) + self.eps
            if self.momentum:
                state["momentum_buffer"] = self.momentum * state["momentum_buffer"] + g / denominator
                p -= self.lr * state["momentum_buffer"]
            else:
                p -= self.lr * g / denominator


class Adagrad:
    """Adagrad with learning-rate decay delta and weight decay lambda (L2):

      t = t + 1,  g = grad + lambda p
      s = s + g^2                                   (s starts at initial_accumulator_value)
      p = p - lr / (1 + (t - 1) delta) * g / (sqrt(s) + eps)
    state[name]: "step" t, "sum" s.
    """

    def __init__(self, params: dict, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10):
        check_hyperparameters("Adagrad", lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                              initial_accumulator_value=initial_accumulator_value, eps=eps)
        self.params, self.lr, self.lr_decay, self.weight_decay, self.eps = params, lr, lr_decay, weight_decay, eps
        # torch fills the sum when the optimizer is built, not at the first step
        self.state: dict[str, dict] = {name: {"step": 0, "sum": np.full_like(p, initial_accumulator_value)}
                                       for name, p in params.items()}

    def step(self, grads: dict):
        for name, p in self.params.items():
            g = grads[name] + self.weight_decay * p if self.weight_decay else grads[name]
            state = self.state[name]
            state["step"] += 1
            state["sum"] = state["sum"] + g * g
            lr = self.lr / (1 + (state["step"] - 1) * self.lr_decay)  # the first step at the full rate
            p -= lr * g / (np.sqrt(state["sum"]) + self.eps)


class AdamW:
    """Adam with decoupled weight decay lambda: the parameter shrinks by lr lambda p before the
    Adam step, and the gradient is left alone (Adam's L2 would add lambda p to it):

      p = p - lr lambda p,  t = t + 1
      m = b1 m + (1 - b1) grad,  v = b2 v + (1 - b2) grad^2
      p = p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
    state[name]: "step" t, "exp_avg" m, "exp_avg_sq" v.
    """

    def __init__(self, params: dict, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        check_hyperparameters("AdamW", betas, lr=lr, eps=eps, weight_decay=weight_decay)
        self.params, self.lr, self.betas, self.eps, self.weight_decay = params, lr, betas, eps, weight_decay
        self.state: dict[str, dict] = {name: {} for name in params}

    def step(self, grads: dict):
        beta1, beta2 = self.betas
        for name, p in self.params.items():
            g = grads[name]
            p *= 1 - self.lr * self.weight_decay
            state = self.state[name]
            if not state:
                state.update(step=0, exp_avg=np.zeros_like(p), exp_avg_sq=np.zeros_like(p))
            state["step"] += 1
            state["exp_avg"] = beta1 * state["exp_avg"] + (1 - beta1) * g
            state["exp_avg_sq"] = beta2 * state["exp_avg_sq"] + (1 - beta2) * g * g
            correction1, correction2 = 1 - beta1 ** state["step"], 1 - beta2 ** state["step"]
            denominator = np.sqrt(state["exp_avg_sq"]) / math.sqrt(correction2) + self.eps
            p -= self.lr / correction1 * state["exp_avg"] / denominator


def clip_grad_norm(grads, max_norm, norm_type=2.0):
    """Gradients scaled together so that their global norm is at most ``max_norm``:

      n = || (||g_1||_q, ..., ||g_k||_q) ||_q     (= ||all the g_i as one vector||_q; q = inf: max |g|)
      g_i = g_i * min(1, max_norm / (n + 1e-6))
    as torch.nn.utils.clip_grad_norm_ computes it. Returns (the scaled arrays, as a list, and
    n as a 0-d array); the arrays given are left alone.
    """
    grads = list(grads)
    if not grads:
        raise ValueError("clip_grad_norm: expected at least one gradient array, got none")
    for index, g in enumerate(grads):
        check_input(g, f"clip_grad_norm grads[{index}]")
    norm_type = float(norm_type)
    norms = np.stack([np.linalg.norm(g.ravel(), norm_type) for g in grads])
    total = np.asarray(np.linalg.norm(norms, norm_type))
    # one factor for every array: their directions, and the ratios between them, are kept
    coefficient = np.minimum(max_norm / (total + 1e-6), 1.0)
    return [g * coefficient for g in grads], total
