"""This repository's networks, trained in lockstep with torch (see engine/trajectory.py)."""

import numpy as np
import torch

from parity_tests.engine.registry import Param, nested
from parity_tests.engine.trajectory import GradientClip, Optimizer, Trajectory
from parity_tests.suite.pairs import (
    AFFINE_PARAMS,
    BATCHNORM_PARAMS,
    CONV_PARAMS,
    LINEAR_PARAMS,
    SE_RESNET_PARAMS,
    SEQUENCE_PARAMS,
    TRANSFORMER_BLOCK_PARAMS,
)
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

# -- character-level language models: next-character prediction on a fixed text ------------------

TEXT = ("a gradient checked for one step can still be wrong for twenty; so train the model with its "
        "twin, step by step, and compare every weight, every moment and the loss along the way.")
VOCAB = sorted(set(TEXT))
TOKENS = np.array([VOCAB.index(char) for char in TEXT])
WINDOW = 8  # characters a sample sees: the transformer's context, the LSTM's steps


def text_windows(rng, dtype, n=4):
    """n windows of WINDOW characters at random offsets into TEXT (the inputs, (n, WINDOW) indices)
    and the character after each position (the targets, (n * WINDOW,) in the logits' (n, t) row
    order). Indices in any dtype: ``dtype`` is unused."""
    starts = rng.integers(0, len(TOKENS) - WINDOW, n)
    windows = np.stack([TOKENS[start:start + WINDOW + 1] for start in starts])
    return windows[:, :-1], windows[:, 1:].reshape(-1)


EMBEDDING_PARAMS = (Param("weight", "weight"),)
CHAR_LSTM_PARAMS = (
    nested("token", "token", EMBEDDING_PARAMS) + nested("lstm", "lstm", SEQUENCE_PARAMS[:4])  # one layer
    + nested("head", "head", LINEAR_PARAMS)
)
CHAR_TRANSFORMER_PARAMS = (
    nested("token", "token", EMBEDDING_PARAMS) + nested("position", "position", EMBEDDING_PARAMS)
    + nested("block", "block", TRANSFORMER_BLOCK_PARAMS) + nested("norm", "norm", AFFINE_PARAMS)
    + nested("head", "head", LINEAR_PARAMS)
)


def clip(max_norm):
    """Clipping by global norm; the reference's function looked up at each call, so a patched
    ``optim.clip_grad_norm`` (the corpus) is the one that runs."""
    return GradientClip(max_norm, lambda grads, max_norm: optim.clip_grad_norm(grads, max_norm))


def language_model(model, containers_, activations_):
    """The model's (N * T, vocab) logits through a Softmax: the suite's CrossEntropyLoss takes
    probabilities, and scores every row, so every step of every window."""
    return containers_.Sequential(model, activations_.Softmax())


# Embedding (8) -> LSTM (16, from the zero state) -> Linear
CHAR_LSTM = Trajectory(
    name="CharLSTM",
    reference=lambda: language_model(blocks.CharLSTM(len(VOCAB), 8, 16), containers, activations),
    torch=lambda: language_model(t_blocks.CharLSTM(len(VOCAB), 8, 16), t_containers, t_activations),
    params=nested("0", "0", CHAR_LSTM_PARAMS),
    loss=(losses.CrossEntropyLoss, t_losses.CrossEntropyLoss),
    data=text_windows,
    optimizers=(ADAM,),
    steps=20,
    # the global norm stays within 0.28-0.65 over the 20 steps (seed 0): 0.4 clips 7 of the
    # float64 run's steps and 18 of the float32 run's (the two draw differently), so a clip
    # that is wrong when it clips and one that is wrong when it does not are both caught
    clip=clip(0.4),
)

# Embedding (16) + a learned position embedding -> TransformerBlock (2 heads, MLP 32) -> LayerNorm -> Linear
CHAR_TRANSFORMER = Trajectory(
    name="CharTransformer",
    reference=lambda: language_model(blocks.CharTransformer(len(VOCAB), 16, 2, 32, WINDOW), containers,
                                     activations),
    torch=lambda: language_model(t_blocks.CharTransformer(len(VOCAB), 16, 2, 32, WINDOW), t_containers,
                                 t_activations),
    params=nested("0", "0", CHAR_TRANSFORMER_PARAMS),
    loss=(losses.CrossEntropyLoss, t_losses.CrossEntropyLoss),
    data=text_windows,
    optimizers=(ADAM,),
    steps=20,
    # the global norm falls from 2.9 (float64) and 4.2 (float32) at step 1 to 0.7-1.0 by step 20:
    # 1.0 clips 14 of the 20 steps in each dtype
    clip=clip(1.0),
)

TRAJECTORIES = [CONVNET, SHARED_MLP, NEURON, CHAR_LSTM, CHAR_TRANSFORMER]
REGISTRY = {t.name: t for t in TRAJECTORIES}
