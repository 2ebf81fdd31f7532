"""Optimizers, as torch.optim defines them: each holds the parameter arrays (by name) and
updates them in place; ``step(grads)`` takes the gradients by the same names; ``state``
keeps what is carried from step to step."""

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
