"""This repository's networks, trained in lockstep with torch (see engine/trajectory.py)."""

import torch

from parity_tests.engine.registry import nested
from parity_tests.engine.trajectory import Optimizer, Trajectory
from parity_tests.suite.pairs import BATCHNORM_PARAMS, CONV_PARAMS, LINEAR_PARAMS, SE_RESNET_PARAMS
from reference import activations, blocks, containers, conv, linear, losses, norm, optim, pooling
from torch_impl import activations as t_activations
from torch_impl import blocks as t_blocks
from torch_impl import containers as t_containers
from torch_impl import conv as t_conv
from torch_impl import linear as t_linear
from torch_impl import losses as t_losses
from torch_impl import norm as t_norm
from torch_impl import pooling as t_pooling

SGD_NESTEROV = Optimizer(
    "sgd-nesterov-wd",
    lambda params: optim.SGD(params, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
    lambda params: torch.optim.SGD(params, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
    state=("momentum_buffer",),
)
# Adam's step lr g / (|g| + eps) is most sensitive to g where |g| ~ eps, by lr / (4 eps): with
# eps = 1e-8 that is 2.5e5, so float32 rounding of a gradient element near 1e-8 moves its
# parameter by ~1e-5 on either side (1 draw in 60 failed on such an element). eps = 1e-3 caps
# the amplification at 2.5 and leaves the tolerance alone; the Adam pair checks eps = 1e-8.
ADAM = Optimizer(
    "adam-wd",
    lambda params: optim.Adam(params, lr=0.01, eps=1e-3, weight_decay=1e-3),
    lambda params: torch.optim.Adam(params, lr=0.01, eps=1e-3, weight_decay=1e-3),
    state=("exp_avg", "exp_avg_sq"),
)
PLAIN_SGD = Optimizer("sgd", lambda params: optim.SGD(params, lr=0.5), lambda params: torch.optim.SGD(params, lr=0.5))
# dampening with weight decay: every buffer update but the first is damped
SGD_DAMPENED = Optimizer(
    "sgd-dampened-wd",
    lambda params: optim.SGD(params, lr=0.05, momentum=0.9, dampening=0.5, weight_decay=1e-3),
    lambda params: torch.optim.SGD(params, lr=0.05, momentum=0.9, dampening=0.5, weight_decay=1e-3),
    state=("momentum_buffer",),
)


def images_and_classes(rng, dtype, n=2, classes=4):
    """Small on purpose: float32 draws must keep every ReLU input of 21 forwards away from its
    kink (see tolerances.KINK_MARGIN), and fewer units need fewer redraws."""
    return rng.standard_normal((n, 3, 6, 6)).astype(dtype), rng.integers(0, classes, n)


def convnet(c, a, b, n, p, containers_, linear_):
    """Conv, BatchNorm, ReLU, MaxPool, a projecting and an identity SE-ResNet block, global
    average pooling, Linear, Softmax: (N, 3, 6, 6) -> (N, 4). ``c, a, b, n, p`` are the conv,
    activations, blocks, norm and pooling modules of one side."""
    return containers_.Sequential(
        # no bias before BatchNorm: BN removes any per-channel constant, so its gradient is only
        # rounding noise, which Adam would scale up to full steps
        c.Conv2d(3, 8, 3, 1, 1, bias=False), n.BatchNorm2d(8), a.ReLU(), p.MaxPool2d(2),
        b.SEResNetBlock(8, 16, 2, 1), b.SEResNetBlock(16, 16, 1, 1),
        p.GlobalAvgPool2d(), containers_.Flatten(), linear_.Linear(16, 4), a.Softmax(),
    )


def shared_mlp(a, containers_, linear_):
    """Linear, ReLU, one Linear instance used twice with a ReLU between, Linear, Softmax."""
    shared = linear_.Linear(16, 16)
    return containers_.Sequential(linear_.Linear(6, 16), a.ReLU(), shared, a.ReLU(), shared, a.ReLU(),
                                  linear_.Linear(16, 3), a.Softmax())


def neuron_data(rng, dtype):
    """The seed's single neuron: features and 0/1 labels, the whole set every step."""
    return rng.standard_normal((10, 3)).astype(dtype), rng.integers(0, 2, (10, 1)).astype(dtype)


CONVNET = Trajectory(
    name="ConvNet",
    reference=lambda: convnet(conv, activations, blocks, norm, pooling, containers, linear),
    torch=lambda: convnet(t_conv, t_activations, t_blocks, t_norm, t_pooling, t_containers, t_linear),
    params=(nested("0", "0", CONV_PARAMS) + nested("1", "1", BATCHNORM_PARAMS) + nested("4", "4", SE_RESNET_PARAMS)
            + nested("5", "5", SE_RESNET_PARAMS) + nested("8", "8", LINEAR_PARAMS)),
    loss=(losses.CrossEntropyLoss, t_losses.CrossEntropyLoss),
    data=images_and_classes,
    optimizers=(SGD_NESTEROV, ADAM),
    steps=20,
    evaluate_after=(10,),
    epoch=(5, 1),  # five batches of 2, the last of 1
)

SHARED_MLP = Trajectory(
    name="SharedLayerMLP",
    reference=lambda: shared_mlp(activations, containers, linear),
    torch=lambda: shared_mlp(t_activations, t_containers, t_linear),
    params=nested("0", "0", LINEAR_PARAMS) + nested("2", "2", LINEAR_PARAMS) + nested("6", "6", LINEAR_PARAMS),
    loss=(losses.CrossEntropyLoss, t_losses.CrossEntropyLoss),
    data=lambda rng, dtype, n=8: (rng.standard_normal((n, 6)).astype(dtype), rng.integers(0, 3, n)),
    optimizers=(SGD_NESTEROV, ADAM, SGD_DAMPENED),
    steps=20,
    evaluate_after=(10,),
    epoch=(5, 3),  # five batches of 8, the last of 3
)

NEURON = Trajectory(
    name="Neuron",
    reference=lambda: containers.Sequential(linear.Linear(3, 1), activations.Sigmoid()),
    torch=lambda: t_containers.Sequential(t_linear.Linear(3, 1), t_activations.Sigmoid()),
    params=nested("0", "0", LINEAR_PARAMS),
    loss=(losses.MSELoss, t_losses.MSELoss),
    data=neuron_data,
    optimizers=(PLAIN_SGD,),
    steps=20,
    full_batch=True,
)

TRAJECTORIES = [CONVNET, SHARED_MLP, NEURON]
REGISTRY = {t.name: t for t in TRAJECTORIES}
