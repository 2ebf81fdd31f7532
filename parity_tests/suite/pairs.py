"""Every layer pair of the suite, declared once. Adding a pair is adding an entry here."""

import dataclasses
from functools import partial

import numpy as np
import torch

from parity_tests.engine.registry import (
    BadInput,
    Config,
    Pair,
    Param,
    bernoulli,
    grid,
    input_maker,
    integers,
    nested,
    normal,
    normal_or_tied,
    probabilities,
    shape_of,
    targets,
)
from parity_tests.engine.sampling import InvertedDropout
from reference import (
    activations,
    attention,
    bilinear,
    blocks,
    containers,
    conv,
    dropout,
    elementwise,
    embedding,
    linear,
    losses,
    neuron,
    norm,
    optim,
    pooling,
    recurrent,
)
from torch_impl import activations as t_activations
from torch_impl import attention as t_attention
from torch_impl import bilinear as t_bilinear
from torch_impl import blocks as t_blocks
from torch_impl import containers as t_containers
from torch_impl import conv as t_conv
from torch_impl import dropout as t_dropout
from torch_impl import elementwise as t_elementwise
from torch_impl import embedding as t_embedding
from torch_impl import linear as t_linear
from torch_impl import losses as t_losses
from torch_impl import neuron as t_neuron
from torch_impl import norm as t_norm
from torch_impl import optim as t_optim
from torch_impl import pooling as t_pooling
from torch_impl import recurrent as t_recurrent

# -- parameter mappings of the building blocks -------------------------------------------

LINEAR_PARAMS = (Param("W", "weight", permute=(1, 0)), Param("b", "bias", optional=True))  # W: (in, out)
CONV_PARAMS = (Param("W", "weight"), Param("b", "bias", optional=True))
AFFINE_PARAMS = (Param("gamma", "weight", optional=True), Param("beta", "bias", optional=True))
BATCHNORM_PARAMS = (
    Param("gamma", "weight"),
    Param("beta", "bias"),
    Param("running_mean", "running_mean"),
    Param("running_var", "running_var", positive=True),
)
SE_PARAMS = nested("fc1", "excitation.0", LINEAR_PARAMS) + nested("fc2", "excitation.2", LINEAR_PARAMS)
SE_RESNET_PARAMS = (
    nested("conv1", "conv1", CONV_PARAMS)
    + nested("bn1", "bn1", BATCHNORM_PARAMS)
    + nested("conv2", "conv2", CONV_PARAMS)
    + nested("bn2", "bn2", BATCHNORM_PARAMS)
    + nested("se", "se", SE_PARAMS)
    # the projection shortcut exists only where the block changes shape or stride
    + tuple(dataclasses.replace(p, optional=True) for p in nested("shortcut_conv", "shortcut.0", CONV_PARAMS)
            + nested("shortcut_bn", "shortcut.1", BATCHNORM_PARAMS))
)


def dims(shape) -> str:
    """A shape (or a size, or a size per axis) as in ids: (2, 3) -> 2x3."""
    return "x".join(map(str, shape)) if isinstance(shape, tuple) else str(shape)


def shape_id(config: Config) -> str:
    return dims(config.shape)


def conv_id(c: Config) -> str:
    kernel = c.k[0] if c.k[0] == c.k[1] else dims(c.k)
    return f"N{c.N}C{c.C}H{c.hw[0]}W{c.hw[1]}-O{c.O}k{kernel}s{c.s}p{c.p}" + ("" if c.bias else "-nobias")


def nchw_id(c: Config) -> str:
    return f"N{c.N}C{c.C}H{c.hw[0]}W{c.hw[1]}"


def ce_id(c: Config) -> str:
    return f"N{c.N}C{c.C}-{c.target}" + ("-saturated" if c.saturated else "")


# input distributions (registry.DISTRIBUTIONS) each pair runs besides the standard one; left
# out where a case would prove nothing: a sigmoid at +100 or a softmax of logits in the
# hundreds is saturated, its gradient ~1e-40, and the check vacuous
PIXELS = ("offset",)
SPREAD = ("offset", "wide")
EVERY = ("offset", "wide", "large")

CE_TARGETS = ["classes", "onehot", "probs"]
ELEMENTWISE_SHAPES = [(1, 24), (4, 9), (2, 3, 5, 4)]  # >= 20 elements: ReLU never all dead
BATCH_CLASSES = [(1, 10), (4, 7), (5, 2), (8, 33)]

SOFTMAX = Pair(
    name="Softmax",
    reference=lambda c: activations.Softmax(),
    torch=lambda c: t_activations.Softmax(),
    inputs=(normal("N", "C", scale=3.0, distributions=("offset",)),),  # a shift any softmax must survive
    configs=grid("N{N}C{C}", N=[1, 4], C=[2, 7, 33]),
)

PAIRS = [
    Pair(
        name="Sigmoid",
        bad_input=BadInput(wrong_ndim=False),
        reference=lambda c: activations.Sigmoid(),
        torch=lambda c: t_activations.Sigmoid(),
        inputs=(normal("shape", scale=4.0, distributions=("wide",)),),  # wide enough to reach the flat tails
        configs=grid(shape_id, shape=ELEMENTWISE_SHAPES),
    ),
    Pair(
        name="ReLU",
        bad_input=BadInput(wrong_ndim=False),
        reference=lambda c: activations.ReLU(),
        torch=lambda c: t_activations.ReLU(),
        inputs=(normal("shape", distributions=EVERY),),
        configs=grid(shape_id, shape=ELEMENTWISE_SHAPES),
    ),
    SOFTMAX,
    dataclasses.replace(SOFTMAX, name="SoftmaxJacobian", backward="backward_jacobian",
                        bad_input=BadInput(named="Softmax")),
    Pair(
        name="CrossEntropyLoss",
        reference=lambda c: losses.CrossEntropyLoss(),
        torch=lambda c: t_losses.CrossEntropyLoss(),
        inputs=(probabilities("N", "C"), targets("N", "C")),
        configs=grid(ce_id, N=[1, 4, 6], C=[3, 10], target=CE_TARGETS, saturated=[False])
        # exact 0 and 1 probabilities, which the clip must stop; rows enough that some stay unclipped
        + grid(ce_id, N=[6, 8], C=[3, 10], target=CE_TARGETS, saturated=[True]),
    ),
    Pair(
        name="MSELoss",
        bad_input=BadInput(wrong_ndim=False),
        reference=lambda c: losses.MSELoss(),
        torch=lambda c: t_losses.MSELoss(),
        inputs=(normal("shape", distributions=("offset", "large")),
                normal("shape", distributions=("offset",), name="target", constant=True)),
        configs=grid(shape_id, shape=[(1,), (4, 3), (2, 3, 4, 5)]),
    ),
    Pair(
        name="Linear",
        reference=lambda c: linear.Linear(c.fan_in, c.fan_out, bias=c.bias),
        torch=lambda c: t_linear.Linear(c.fan_in, c.fan_out, bias=c.bias),
        inputs=(normal("N", "fan_in", distributions=SPREAD),),
        configs=grid(
            lambda c: f"N{c.N}-{c.fan_in}to{c.fan_out}" + ("" if c.bias else "-nobias"),
            N=[1, 4], fan_in=[3, 8], fan_out=[5, 2], bias=[True, False],
        ),
        params=LINEAR_PARAMS,
    ),
    Pair(
        name="Conv2d",
        bad_input=BadInput(channels=True),
        reference=lambda c: conv.Conv2d(c.C, c.O, c.k, c.s, c.p, bias=c.bias),
        torch=lambda c: t_conv.Conv2d(c.C, c.O, c.k, c.s, c.p, bias=c.bias),
        inputs=(normal("N", "C", "hw", distributions=SPREAD),),
        configs=grid(
            conv_id, N=[1, 2], C=[1, 3], O=[1, 4], hw=[(7, 5), (6, 6)], k=[(3, 3), (2, 3)],
            s=[1, 2], p=[0, 1], bias=[True, False],
        )
        # edges: a 1x1 image whose padded size equals the kernel; a stride larger than the kernel
        + grid(conv_id, N=[1, 2], C=[2], O=[3], hw=[(1, 1)], k=[(3, 3)], s=[1, 2], p=[1], bias=[True])
        + grid(conv_id, N=[2], C=[2], O=[3], hw=[(7, 6)], k=[(2, 2)], s=[3], p=[0, 1], bias=[True])
        # 1x1 kernels (no windows; padding as wide as the kernel), and a stride equal to the kernel
        + grid(conv_id, N=[2], C=[3], O=[2], hw=[(5, 4)], k=[(1, 1)], s=[1, 2], p=[0, 1], bias=[True])
        + grid(conv_id, N=[2], C=[2], O=[3], hw=[(6, 6)], k=[(2, 2)], s=[2], p=[0], bias=[True]),
        params=CONV_PARAMS,
    ),
    Pair(
        name="simple_conv2d",
        bad_input=BadInput(integers=False),
        reference=lambda c: partial(conv.simple_conv2d, padding=c.p, stride=c.s),
        torch=lambda c: partial(t_conv.simple_conv2d, padding=c.p, stride=c.s),
        inputs=(normal("hw", distributions=PIXELS), normal("k")),
        configs=grid(
            lambda c: f"H{c.hw[0]}W{c.hw[1]}-k{dims(c.k)}s{c.s}p{c.p}",
            hw=[(4, 4), (5, 7)], k=[(2, 2), (3, 2)], s=[1, 2], p=[0, 1],
        ),
        backward=None,
    ),
    Pair(
        name="BatchNorm2d",
        bad_input=BadInput(channels=True),
        reference=lambda c: norm.BatchNorm2d(c.C),
        torch=lambda c: t_norm.BatchNorm2d(c.C),
        inputs=(normal("N", "C", "hw", scale=2.0, distributions=EVERY),),
        configs=grid(
            lambda c: f"{nchw_id(c)}-{c.mode}",
            N=[1, 4], C=[1, 3], hw=[(5, 4), (1, 3)], mode=["train", "eval"],
        ),
        params=BATCHNORM_PARAMS,
    ),
    Pair(
        name="LayerNorm",
        bad_input=BadInput(wrong_ndim=False),
        reference=lambda c: norm.LayerNorm(c.shape[-c.last:], elementwise_affine=c.affine),
        torch=lambda c: t_norm.LayerNorm(c.shape[-c.last:], elementwise_affine=c.affine),
        inputs=(normal("shape", scale=2.0, distributions=EVERY),),
        configs=grid(
            lambda c: f"{dims(c.shape)}-last{c.last}" + ("" if c.affine else "-noaffine"),
            shape=[(1, 6), (4, 5), (2, 3, 4), (2, 3, 4, 5)], last=[1, 2], affine=[True, False],
        ),
        params=AFFINE_PARAMS,
    ),
    Pair(
        name="batch_normalization",
        reference=lambda c: norm.batch_normalization,
        torch=lambda c: t_norm.batch_normalization,
        inputs=(normal("N", "C", "hw", distributions=EVERY), normal(1, "C", 1, 1), normal(1, "C", 1, 1)),
        configs=grid(nchw_id, N=[1, 2, 4], C=[2, 3], hw=[(2, 2), (5, 3)]),
        backward=None,
    ),
    Pair(
        name="GlobalAvgPool2d",
        reference=lambda c: pooling.GlobalAvgPool2d(),
        torch=lambda c: t_pooling.GlobalAvgPool2d(),
        inputs=(normal("N", "C", "hw", distributions=SPREAD),),
        configs=grid(nchw_id, N=[1, 3], C=[2, 5], hw=[(1, 1), (6, 6), (7, 3)]),
    ),
    Pair(
        name="MaxPool2d",
        reference=lambda c: pooling.MaxPool2d(c.k, c.s, c.p),
        torch=lambda c: t_pooling.MaxPool2d(c.k, c.s, c.p),
        inputs=(normal_or_tied("N", "C", "hw", distributions=SPREAD),),
        configs=grid(
            lambda c: f"{nchw_id(c)}-k{dims(c.k)}s{c.s}p{c.p}" + ("-ties" if c.ties else ""),
            N=[1, 2], C=[3], hw=[(7, 6), (4, 4)], k=[(2, 2), (3, 2)], s=[None, 1, 2], p=[0, 1],
            ties=[False, True],
        ),
    ),
    Pair(
        name="global_avg_pool",
        bad_input=BadInput(integers=False),
        reference=lambda c: pooling.global_avg_pool,
        torch=lambda c: t_pooling.global_avg_pool,
        inputs=(normal("shape", distributions=PIXELS),),
        configs=grid(lambda c: f"H{c.shape[0]}W{c.shape[1]}C{c.shape[2]}",
                     shape=[(2, 2, 3), (5, 3, 4), (1, 1, 2), (4, 7, 1)]),
        backward=None,
    ),
    Pair(
        name="ResidualBlock",
        reference=lambda c: blocks.ResidualBlock(c.d),
        torch=lambda c: t_blocks.ResidualBlock(c.d),
        inputs=(normal("d", "N", distributions=PIXELS),),  # N None: the seed's single vector
        configs=grid(lambda c: f"d{c.d}" + ("" if c.N is None else f"N{c.N}"), d=[16, 21], N=[None, 1, 3]),
        params=(Param("w1", "w1"), Param("w2", "w2")),
    ),
    Pair(
        name="SEBlock",
        bad_input=BadInput(channels=True),
        reference=lambda c: blocks.SEBlock(c.C, c.r),
        torch=lambda c: t_blocks.SEBlock(c.C, c.r),
        inputs=(normal("N", "C", "hw"),),
        # >= 16 hidden units: with fewer, a 200-seed sweep finds cases where every hidden ReLU
        # is dead, the excitation's gradients are zero and the case proves nothing
        configs=grid(
            lambda c: f"{nchw_id(c)}-r{c.r}", N=[1, 3], C=[32, 48], hw=[(3, 3), (5, 2), (1, 1)], r=[2],
        ),
        params=SE_PARAMS,
    ),
    Pair(
        name="SEResNetBlock",
        bad_input=BadInput(channels=True),
        reference=lambda c: blocks.SEResNetBlock(c.C, c.O, c.s, c.r),
        torch=lambda c: t_blocks.SEResNetBlock(c.C, c.O, c.s, c.r),
        inputs=(normal("N", "C", "hw"),),
        configs=grid(
            lambda c: f"{nchw_id(c)}-O{c.O}s{c.s}r{c.r}-{c.mode}",
            N=[2], C=[8, 32], O=[32], hw=[(5, 6)], s=[1, 2], r=[2], mode=["train", "eval"],
        )
        + grid(lambda c: f"{nchw_id(c)}-O{c.O}s{c.s}r{c.r}-{c.mode}",
               N=[1], C=[4], O=[48], hw=[(7, 7)], s=[2], r=[2], mode=["train", "eval"]),
        params=SE_RESNET_PARAMS,
    ),
    Pair(
        name="train_neuron",
        reference=lambda c: partial(neuron.train_neuron, learning_rate=c.lr, epochs=c.epochs),
        torch=lambda c: partial(t_neuron.train_neuron, learning_rate=c.lr, epochs=c.epochs),
        inputs=(normal("n", "d"), integers(2, "n"), normal("d"), normal()),
        configs=grid(
            "n{n}d{d}-epochs{epochs}-lr{lr}",
            n=[1, 3, 10], d=[1, 2, 4], epochs=[20], lr=[0.5],
        ),
        backward=None,
        outputs=("weights", "bias", "losses"),
        differentiable=False,  # its gradients live inside the loop; the trajectory checks them
    ),
]


def shared_layer_mlp(c: Config, containers, linear, activations):
    """Linear, ReLU, then one Linear instance used twice (shared weights), on either side."""
    shared = linear.Linear(c.hidden, c.hidden)
    return containers.Sequential(linear.Linear(c.d, c.hidden), activations.ReLU(), shared, activations.Sigmoid(),
                                 shared)


def conv_stack(c: Config, containers, conv):
    """Conv2d into a shared 3x3 Conv2d, a 1x1 Conv2d, then the shared one again: each conv reads
    the previous one's output as it hands it out (a view), and the shared one keeps a column
    buffer per use."""
    shared = conv.Conv2d(c.O, c.O, 3, 1, 1)
    return containers.Sequential(conv.Conv2d(c.C, c.O, 3, c.s, 1), shared, conv.Conv2d(c.O, c.O, 1), shared)


def twice(block, containers_):
    """One block instance used twice in a row: each use's caches, its sub-layers' included,
    must be its own for its backward, and its gradients the sum over both uses."""
    return containers_.Sequential(block, block)


PAIRS += [
    Pair(
        name="Flatten",
        bad_input=BadInput(wrong_ndim=False),
        reference=lambda c: containers.Flatten(),
        torch=lambda c: t_containers.Flatten(),
        inputs=(normal("shape"),),
        configs=grid(shape_id, shape=[(2, 3, 4, 5), (1, 6, 1, 1), (3, 4)]),
    ),
    Pair(
        name="Sequential",
        bad_input=BadInput(named="Linear"),
        reference=lambda c: shared_layer_mlp(c, containers, linear, activations),
        torch=lambda c: shared_layer_mlp(c, t_containers, t_linear, t_activations),
        inputs=(normal("N", "d", distributions=("offset",)),),
        configs=grid("N{N}d{d}-hidden{hidden}-shared", N=[1, 4], d=[3], hidden=[24]),
        # the shared Linear is listed once, at its first position, on both sides
        params=nested("0", "0", LINEAR_PARAMS) + nested("2", "2", LINEAR_PARAMS),
    ),
    Pair(
        name="ConvStack",
        bad_input=BadInput(named="Conv2d"),
        reference=lambda c: conv_stack(c, containers, conv),
        torch=lambda c: conv_stack(c, t_containers, t_conv),
        inputs=(normal("N", "C", "hw"),),
        configs=grid("N{N}C{C}H{hw[0]}W{hw[1]}-O{O}s{s}-shared", N=[2], C=[3], O=[4], hw=[(6, 5)], s=[1, 2]),
        params=nested("0", "0", CONV_PARAMS) + nested("1", "1", CONV_PARAMS) + nested("2", "2", CONV_PARAMS),
    ),
    # every composite block used twice inside one network (listed once, at its first use)
    Pair(
        name="ResidualBlockTwice",
        bad_input=BadInput(named="ResidualBlock"),
        reference=lambda c: twice(blocks.ResidualBlock(c.d), containers),
        torch=lambda c: twice(t_blocks.ResidualBlock(c.d), t_containers),
        inputs=(normal("d", "N"),),
        configs=grid("d{d}N{N}-twice", d=[16], N=[3]),
        params=nested("0", "0", (Param("w1", "w1"), Param("w2", "w2"))),
    ),
    Pair(
        name="SEBlockTwice",
        bad_input=BadInput(named="SEBlock"),
        reference=lambda c: twice(blocks.SEBlock(c.C, c.r), containers),
        torch=lambda c: twice(t_blocks.SEBlock(c.C, c.r), t_containers),
        inputs=(normal("N", "C", "hw"),),
        configs=grid(lambda c: f"{nchw_id(c)}-r{c.r}-twice", N=[2], C=[32], hw=[(3, 3)], r=[2]),
        params=nested("0", "0", SE_PARAMS),
    ),
    Pair(
        name="SEResNetBlockTwice",
        bad_input=BadInput(named="SEResNetBlock"),
        reference=lambda c: twice(blocks.SEResNetBlock(c.C, c.C, 1, c.r), containers),
        torch=lambda c: twice(t_blocks.SEResNetBlock(c.C, c.C, 1, c.r), t_containers),
        inputs=(normal("N", "C", "hw"),),
        configs=grid(lambda c: f"{nchw_id(c)}-r{c.r}-{c.mode}-twice", N=[2], C=[32], hw=[(4, 5)], r=[2],
                     mode=["train", "eval"]),
        params=nested("0", "0", SE_RESNET_PARAMS),
    ),
]


def optimizer_id(c: Config) -> str:
    momentum = ("-nesterov" if c.nesterov else "-momentum") if getattr(c, "momentum", 0) else ""
    damped = f"-dampening{c.dampening}" if getattr(c, "dampening", 0) else ""
    return f"{dims(c.shape)}-steps{c.steps}{momentum}{damped}" + (f"-wd{c.wd}" if c.wd else "")


# optimizers: one parameter through 1 and 5 steps of random gradients; the parameter and
# every state entry compared (a state not carried shows at the second step)
PAIRS += [
    Pair(
        name="SGD",
        reference=lambda c: partial(optim.optimize, optim.SGD, state=("momentum_buffer",), lr=0.1,
                                    momentum=c.momentum, dampening=c.dampening, nesterov=c.nesterov,
                                    weight_decay=c.wd),
        torch=lambda c: partial(t_optim.optimize, t_optim.SGD, state=("momentum_buffer",), lr=0.1,
                                momentum=c.momentum, dampening=c.dampening, nesterov=c.nesterov, weight_decay=c.wd),
        inputs=(normal("shape"), normal("steps", "shape")),
        configs=grid(optimizer_id, shape=[(3, 4)], steps=[1, 5], momentum=[0.9], dampening=[0],
                     nesterov=[False, True], wd=[0, 0.01])
        # dampening damps every buffer update but the first (torch's first buffer is the gradient);
        # Nesterov refuses it
        + grid(optimizer_id, shape=[(3, 4)], steps=[1, 5], momentum=[0.9], dampening=[0.5], nesterov=[False],
               wd=[0, 0.01]),
        backward=None,
        outputs=("param", "momentum_buffer"),
        differentiable=False,  # torch.optim steps without autograd
    ),
    Pair(
        name="Adam",
        reference=lambda c: partial(optim.optimize, optim.Adam, state=("exp_avg", "exp_avg_sq"), lr=0.01,
                                    weight_decay=c.wd),
        torch=lambda c: partial(t_optim.optimize, t_optim.Adam, state=("exp_avg", "exp_avg_sq"), lr=0.01,
                                weight_decay=c.wd),
        inputs=(normal("shape"), normal("steps", "shape")),
        configs=grid(optimizer_id, shape=[(3, 4), (5,)], steps=[1, 5], wd=[0, 0.01]),
        backward=None,
        outputs=("param", "exp_avg", "exp_avg_sq"),
        differentiable=False,  # torch.optim steps without autograd
    ),
]


# -- layers of several inputs, several outputs, integer inputs and randomness ----------------


def attention_mask(*dims):
    """The mask ``config.mask`` names: boolean (True = the key takes part; the first key always
    does, so no query loses every key) or an additive float bias. A constant either way."""
    keep, bias = bernoulli(*dims, p=0.7, first=True), normal(*dims)

    def make(config, rng, dtype):
        return keep(config, rng, dtype) if config.mask == "bool" else bias(config, rng, dtype)

    return input_maker(make, name="mask", constant=True)


def attention_id(c: Config) -> str:
    return f"{dims(c.batch)}-L{c.L}S{c.S}E{c.E}Ev{c.Ev}" + ("-causal" if c.causal else "") + \
        (f"-{c.mask}mask{dims(c.mask_shape)}" if getattr(c, "mask", None) else "")


def mha_id(c: Config) -> str:
    return f"N{c.N}L{c.L}S{c.S}E{c.E}-heads{c.heads}" + ("" if c.bias else "-nobias") + \
        ("-padded" if c.padded else "")


QKV = (normal("batch", "L", "E", name="q"), normal("batch", "S", "E", name="k"),
       normal("batch", "S", "Ev", name="v", distributions=SPREAD))
MHA_PARAMS = (  # the reference's x @ W projections; torch packs q, k, v in in_proj_weight (3E, E)
    Param("W_in", "in_proj_weight", permute=(1, 0)), Param("b_in", "in_proj_bias", optional=True),
    Param("W_out", "out_proj.weight", permute=(1, 0)), Param("b_out", "out_proj.bias", optional=True),
)

PAIRS += [
    Pair(
        name="Embedding",
        bad_input=BadInput(wrong_ndim=False, integers=False),
        reference=lambda c: embedding.Embedding(c.num, c.dim, padding_idx=c.padding),
        torch=lambda c: t_embedding.Embedding(c.num, c.dim, padding_idx=c.padding),
        # more indices than rows: some repeat, so their gradients must add up
        inputs=(integers("num", "shape", name="idx"),),
        configs=grid(lambda c: f"num{c.num}dim{c.dim}-idx{dims(c.shape)}" + (
            "" if c.padding is None else f"-padding{c.padding}"), num=[4], dim=[3], shape=[(6,), (2, 5)],
                     padding=[None, 1]),
        params=(Param("weight", "weight"),),
    ),
    Pair(
        name="Dropout",
        bad_input=BadInput(wrong_ndim=False),
        # both sides draw the keep-mask from NumPy generators made from the case's seed
        reference=lambda c: dropout.Dropout(c.p, np.random.default_rng(c.seed)),
        torch=lambda c: t_dropout.Dropout(c.p, np.random.default_rng(c.seed)),
        inputs=(normal("shape", distributions=SPREAD),),
        configs=grid("{shape[0]}x{shape[1]}-p{p}-{mode}", shape=[(4, 25)], p=[0, 0.1, 0.5, 0.9],
                     mode=["train", "eval"]),
        seeded=True,
        sampling=InvertedDropout("p"),
    ),
    Pair(
        name="Bilinear",
        reference=lambda c: bilinear.Bilinear(c.in1, c.in2, c.out, bias=c.bias),
        torch=lambda c: t_bilinear.Bilinear(c.in1, c.in2, c.out, bias=c.bias),
        inputs=(normal("N", "in1", name="x1", distributions=SPREAD), normal("N", "in2", name="x2")),
        configs=grid(lambda c: f"N{c.N}-{c.in1}x{c.in2}to{c.out}" + ("" if c.bias else "-nobias"),
                     N=[3], in1=[3], in2=[5], out=[4], bias=[True])
        + grid(lambda c: f"N{c.N}-{c.in1}x{c.in2}to{c.out}" + ("" if c.bias else "-nobias"),
               N=[1], in1=[4], in2=[4], out=[2], bias=[False]),
        params=(Param("W", "weight"), Param("b", "bias", optional=True)),
    ),
    Pair(
        name="Add",
        bad_input=BadInput(wrong_ndim=False),
        reference=lambda c: elementwise.Add(),
        torch=lambda c: t_elementwise.Add(),
        inputs=(normal("shape", name="a", distributions=SPREAD), normal("b_shape", name="b")),
        # b broadcast over leading axes, over size-1 axes, both, neither, and as a 0-d array
        configs=grid(lambda c: f"{dims(c.shape)}+{dims(c.b_shape) or 'scalar'}", shape=[(2, 3, 4, 5)],
                     b_shape=[(5,), (1, 3, 1, 1), (3, 1, 1), (2, 3, 4, 5), ()]),
    ),
    Pair(
        name="ScaledDotProductAttention",
        bad_input=BadInput(wrong_ndim=False),
        reference=lambda c: attention.ScaledDotProductAttention(causal=c.causal),
        torch=lambda c: t_attention.ScaledDotProductAttention(causal=c.causal),
        inputs=QKV,
        configs=grid(attention_id, batch=[(2,)], L=[3], S=[5], E=[4], Ev=[6], causal=[False])
        # causal with L < S, L > S (top-left aligned) and L = S, over two batch axes
        + grid(attention_id, batch=[(1, 2)], L=[4, 6], S=[6, 4], E=[8], Ev=[8], causal=[True]),
    ),
    Pair(
        name="MaskedAttention",
        bad_input=BadInput(wrong_ndim=False, named="ScaledDotProductAttention"),
        reference=lambda c: attention.ScaledDotProductAttention(),
        torch=lambda c: t_attention.ScaledDotProductAttention(),
        inputs=(*QKV, attention_mask("mask_shape")),
        configs=grid(attention_id, batch=[(2, 2)], L=[3], S=[5], E=[4], Ev=[6], causal=[False], mask=["bool", "float"],
                     mask_shape=[(3, 5), (2, 2, 3, 5)]),
    ),
    Pair(
        name="MultiheadAttention",
        reference=lambda c: attention.MultiheadAttention(c.E, c.heads, bias=c.bias),
        torch=lambda c: t_attention.MultiheadAttention(c.E, c.heads, bias=c.bias),
        inputs=(normal("N", "L", "E", name="query"), normal("N", "S", "E", name="key"),
                normal("N", "S", "E", name="value"),
                # True = the key is ignored; the first never is, so no query loses every key
                bernoulli("N", "S", p="pad", name="key_padding_mask", first=False)),
        outputs=("out", "weights"),
        configs=grid(mha_id, N=[2], L=[4], S=[6], E=[8], heads=[2], bias=[True], padded=[True], pad=[0.4])
        + grid(mha_id, N=[1], L=[5], S=[3], E=[6], heads=[1, 3], bias=[False], padded=[False], pad=[0.0]),
        params=tuple(dataclasses.replace(p, torch=f"attention.{p.torch}") for p in MHA_PARAMS),
    ),
    Pair(
        name="SelfAttention",
        reference=lambda c: attention.SelfAttention(c.E, c.heads),
        torch=lambda c: t_attention.SelfAttention(c.E, c.heads),
        inputs=(normal("N", "L", "E", name="x", distributions=SPREAD),),
        outputs=("out", "weights"),
        configs=grid("N{N}L{L}E{E}-heads{heads}", N=[2], L=[5], E=[8], heads=[2]),
        params=nested("attention", "attention.attention", MHA_PARAMS),
    ),
]


# -- activations people write: element-wise ones on the shapes above, every distribution where
# the gradient stays O(1) (at +100 and in the hundreds a linear region's gradient is 1 or a slope)

PAIRS += [
    Pair(
        name="Tanh",
        bad_input=BadInput(wrong_ndim=False),
        reference=lambda c: activations.Tanh(),
        torch=lambda c: t_activations.Tanh(),
        # not offset or large: at +100 tanh is 1 and its gradient ~1e-87, a vacuous check; wide
        # reaches both flat tails and keeps most elements where the gradient is O(1)
        inputs=(normal("shape", scale=2.0, distributions=("wide",)),),
        configs=grid(shape_id, shape=ELEMENTWISE_SHAPES),
    ),
    Pair(
        name="LeakyReLU",
        bad_input=BadInput(wrong_ndim=False),
        reference=lambda c: activations.LeakyReLU(c.slope),
        torch=lambda c: t_activations.LeakyReLU(c.slope),
        inputs=(normal("shape", distributions=EVERY),),
        configs=grid(lambda c: f"{dims(c.shape)}-slope{c.slope}", shape=ELEMENTWISE_SHAPES[1:],
                     slope=[0.01, 0.2]),
    ),
    Pair(
        name="ELU",
        bad_input=BadInput(wrong_ndim=False),
        reference=lambda c: activations.ELU(c.alpha),
        torch=lambda c: t_activations.ELU(c.alpha),
        inputs=(normal("shape", distributions=EVERY),),
        configs=grid(lambda c: f"{dims(c.shape)}-alpha{c.alpha}", shape=ELEMENTWISE_SHAPES[1:],
                     alpha=[1.0, 0.5]),
    ),
    Pair(
        name="GELU",
        bad_input=BadInput(wrong_ndim=False),
        reference=lambda c: activations.GELU(c.approximate),
        torch=lambda c: t_activations.GELU(c.approximate),
        inputs=(normal("shape", scale=2.0, distributions=EVERY),),
        configs=grid(lambda c: f"{dims(c.shape)}-{c.approximate}", shape=ELEMENTWISE_SHAPES[1:],
                     approximate=["none", "tanh"]),
    ),
    Pair(
        name="SiLU",
        bad_input=BadInput(wrong_ndim=False),
        reference=lambda c: activations.SiLU(),
        torch=lambda c: t_activations.SiLU(),
        inputs=(normal("shape", scale=2.0, distributions=EVERY),),
        configs=grid(shape_id, shape=ELEMENTWISE_SHAPES),
    ),
    Pair(
        name="Softplus",
        bad_input=BadInput(wrong_ndim=False),
        reference=lambda c: activations.Softplus(c.beta, c.threshold),
        torch=lambda c: t_activations.Softplus(c.beta, c.threshold),
        # threshold 20 (torch's default) is crossed by the offset, wide and large draws, 1.5 by the
        # standard one as well; beta a power of two, so beta x is exact and no element near the
        # threshold falls on another side in float32 than in the float64 judge
        inputs=(normal("shape", scale=2.0, distributions=EVERY),),
        configs=grid(lambda c: f"{dims(c.shape)}-beta{c.beta:g}-threshold{c.threshold:g}",
                     shape=[(4, 9)], beta=[1.0, 2.0], threshold=[20.0, 1.5])
        + grid(lambda c: f"{dims(c.shape)}-beta{c.beta:g}-threshold{c.threshold:g}",
               shape=[(2, 3, 5, 4)], beta=[2.0], threshold=[1.5]),
    ),
    Pair(
        name="LogSoftmax",
        reference=lambda c: activations.LogSoftmax(),
        torch=lambda c: t_activations.LogSoftmax(),
        # a shift (offset) and logits in the hundreds (large) must both come through: unlike a
        # softmax's, the log-softmax's gradient g - softmax * sum(g) stays O(1) when saturated
        inputs=(normal("N", "C", scale=3.0, distributions=EVERY),),
        configs=grid("N{N}C{C}", N=[1, 4], C=[2, 7, 33]),
    ),
]


# -- normalisation and pooling people write --------------------------------------------------

def batchnorm1d_id(c: Config) -> str:
    return f"N{c.N}C{c.C}" + ("" if c.L is None else f"L{c.L}") + f"-{c.mode}"


def spatial_id(c: Config) -> str:
    return f"N{c.N}C{c.C}" + ("" if c.hw is None else f"H{c.hw[0]}W{c.hw[1]}")


def groupnorm_id(c: Config) -> str:
    return f"{spatial_id(c)}-G{c.G}" + ("" if c.affine else "-noaffine")


def instancenorm_id(c: Config) -> str:
    return f"{spatial_id(c)}-{c.mode}" + ("-affine" if c.affine else "")


def avgpool_id(c: Config) -> str:
    return (f"{spatial_id(c)}-k{dims(c.k)}s{dims(c.s)}p{dims(c.p)}" + ("-ceil" if c.ceil else "")
            + ("" if c.include else "-nopadcount"))

PAIRS += [
    Pair(
        name="BatchNorm1d",
        bad_input=BadInput(channels=True),
        reference=lambda c: norm.BatchNorm1d(c.C),
        torch=lambda c: t_norm.BatchNorm1d(c.C),
        inputs=(normal("N", "C", "L", scale=2.0, distributions=EVERY),),  # L None: (N, C)
        configs=grid(batchnorm1d_id, N=[4], C=[3], L=[None, 5], mode=["train", "eval"])
        # one sample of length 5: the statistics come from L alone (torch refuses (1, C) in training)
        + grid(batchnorm1d_id, N=[1], C=[3], L=[5], mode=["train"]),
        params=BATCHNORM_PARAMS,
    ),
    Pair(
        name="GroupNorm",
        bad_input=BadInput(channels=True),
        reference=lambda c: norm.GroupNorm(c.G, c.C, affine=c.affine),
        torch=lambda c: t_norm.GroupNorm(c.G, c.C, affine=c.affine),
        inputs=(normal("N", "C", "hw", scale=2.0, distributions=EVERY),),  # hw None: (N, C)
        configs=grid(groupnorm_id, N=[2], C=[6], hw=[(3, 4)], G=[3], affine=[True, False])
        # groups of three channels and no positions (two values a group would be degenerate: x_hat is
        # +-1 whatever x, and the input gradient only eps's trace); one channel a group (instance norm)
        + grid(groupnorm_id, N=[3], C=[6], hw=[None], G=[2], affine=[True])
        + grid(groupnorm_id, N=[2], C=[3], hw=[(2, 3)], G=[3], affine=[True]),
        params=AFFINE_PARAMS,
    ),
    Pair(
        name="InstanceNorm2d",
        bad_input=BadInput(channels=True),
        reference=lambda c: norm.InstanceNorm2d(c.C, affine=c.affine),
        torch=lambda c: t_norm.InstanceNorm2d(c.C, affine=c.affine),
        inputs=(normal("N", "C", "hw", scale=2.0, distributions=EVERY),),
        configs=grid(instancenorm_id, N=[1, 3], C=[2], hw=[(4, 5)], affine=[False, True], mode=["train"])
        # eval: still the instance's statistics (no running ones); a single row of positions
        + grid(instancenorm_id, N=[3], C=[2], hw=[(1, 3)], affine=[True], mode=["eval"]),
        params=AFFINE_PARAMS,
    ),
    Pair(
        name="AvgPool2d",
        reference=lambda c: pooling.AvgPool2d(c.k, c.s, c.p, c.ceil, c.include),
        torch=lambda c: t_pooling.AvgPool2d(c.k, c.s, c.p, c.ceil, c.include),
        inputs=(normal("N", "C", "hw", distributions=SPREAD),),
        # the stride the kernel's, the last rows and column outside every window
        configs=grid(avgpool_id, N=[2], C=[3], hw=[(7, 6)], k=[3], s=[None], p=[0], ceil=[False], include=[True])
        # overlapping padded windows, the padding counted or not; with ceil_mode the last window
        # runs past the padded input, and those positions count in neither divisor
        + grid(avgpool_id, N=[2], C=[3], hw=[(6, 6)], k=[3], s=[2], p=[1], ceil=[False, True],
               include=[True, False])
        # ceil_mode's rule: a last window that would start in the right padding is dropped
        + grid(avgpool_id, N=[1], C=[2], hw=[(5, 5)], k=[2], s=[2], p=[1], ceil=[True], include=[True])
        # a rectangular kernel and stride, overlapping along H
        + grid(avgpool_id, N=[2], C=[2], hw=[(5, 7)], k=[(2, 3)], s=[(1, 2)], p=[(1, 1)], ceil=[False],
               include=[False])
        # a stride above the kernel (positions no window holds); ceil_mode past an unpadded input
        + grid(avgpool_id, N=[2], C=[2], hw=[(7, 6)], k=[2], s=[3], p=[0], ceil=[True], include=[True])
        # a single pixel, padded: one window, mostly padding
        + grid(avgpool_id, N=[2], C=[2], hw=[(1, 1)], k=[2], s=[2], p=[1], ceil=[False], include=[True, False]),
    ),
]


# -- losses with a reduction -----------------------------------------------------------------

REDUCTIONS = ["mean", "sum", "none"]
EVERY_REDUCTION = dict(reduction=REDUCTIONS, weighted=[False, True])


def loss_id(c: Config) -> str:
    extra = "".join(f"-{key}{getattr(c, key)}" for key in ("beta", "delta") if hasattr(c, key))
    return (f"N{c.N}x{dims(c.rest)}-{c.reduction}" + ("-weighted" if getattr(c, "weighted", False) else "")
            + extra + ("-ties" if getattr(c, "ties", False) else ""))


def nll_id(c: Config) -> str:
    return f"N{c.N}C{c.C}-{c.reduction}" + ("-weighted" if c.weighted else "")


def class_weight_shape(c: Config) -> tuple[int, ...]:
    """A per-class weight that broadcasts to (N, *rest): (C,) for (N, C), (C, 1) for (N, C, L)."""
    return (c.rest[0],) + (1,) * (len(c.rest) - 1)


# the input makers of the losses


def log_probabilities(*dims, name: str | None = None):
    """Log-softmax rows of normal logits (scale 2): what an NLLLoss is fed. Its gradient does
    not depend on them; its output does."""

    def make(config, rng, dtype):
        logits = 2.0 * rng.standard_normal(shape_of(config, dims))
        shifted = logits - logits.max(axis=-1, keepdims=True)
        return (shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))).astype(dtype)

    return input_maker(make, name=name)


def open_probabilities(*dims, name: str | None = None, constant: bool = False):
    """Probabilities strictly inside (0, 1): 0.001 + 0.998 sigmoid(2 z), z ~ N(0, 1), so in
    [0.001, 0.999]. Away from 0 and 1 a BCE's log and its 1 / (p (1 - p)) stay finite and its
    -100 clamp inactive (the clamp is torch's, pinned by the reference's docstring)."""

    def make(config, rng, dtype):
        z = rng.standard_normal(shape_of(config, dims))
        return (0.001 + 0.998 / (1.0 + np.exp(-2.0 * z))).astype(dtype)

    return input_maker(make, name=name, constant=constant, scalable=False)


def binary_targets(*dims, name: str = "target"):
    """BCE targets in [0, 1], a constant: about half hard labels (exactly 0 or 1), the rest soft
    labels uniform in [0, 1), so both kinds of target take part in every case."""

    def make(config, rng, dtype):
        shape = shape_of(config, dims)
        soft, hard = rng.random(shape), rng.integers(0, 2, shape)
        return np.where(rng.random(shape) < 0.5, hard, soft).astype(dtype)

    return input_maker(make, name=name, constant=True)


PAIRS += [
    Pair(
        name="NLLLoss",
        reference=lambda c: losses.NLLLoss(weight=np.ones(c.C) if c.weighted else None, reduction=c.reduction),
        torch=lambda c: t_losses.NLLLoss(weight=torch.ones(c.C) if c.weighted else None, reduction=c.reduction),
        inputs=(log_probabilities("N", "C"), integers("C", "N", name="target")),
        # weighted "mean" divides by the picked weights' sum, not by N; one sample: the weight cancels
        configs=grid(nll_id, N=[5], C=[4], **EVERY_REDUCTION) + grid(nll_id, N=[1], C=[3], reduction=["mean"],
                                                                     weighted=[True]),
        params=(Param("weight", "weight", positive=True, optional=True),),
    ),
    Pair(
        name="BCELoss",
        bad_input=BadInput(wrong_ndim=False),
        reference=lambda c: losses.BCELoss(weight=np.ones(class_weight_shape(c)) if c.weighted else None,
                                           reduction=c.reduction),
        torch=lambda c: t_losses.BCELoss(weight=torch.ones(class_weight_shape(c)) if c.weighted else None,
                                         reduction=c.reduction),
        inputs=(open_probabilities("N", "rest"), binary_targets("N", "rest")),
        configs=grid(loss_id, N=[4], rest=[(5,)], **EVERY_REDUCTION)
        + grid(loss_id, N=[2], rest=[(3, 4)], reduction=["mean", "none"], weighted=[True]),
        params=(Param("weight", "weight", positive=True, optional=True),),
    ),
    Pair(
        name="BCEWithLogitsLoss",
        bad_input=BadInput(wrong_ndim=False),
        reference=lambda c: losses.BCEWithLogitsLoss(
            pos_weight=np.ones(class_weight_shape(c)) if c.weighted else None, reduction=c.reduction),
        torch=lambda c: t_losses.BCEWithLogitsLoss(
            pos_weight=torch.ones(class_weight_shape(c)) if c.weighted else None, reduction=c.reduction),
        # logits in the hundreds and over four orders: where log(sigmoid(x)) is -inf
        inputs=(normal("N", "rest", scale=2.0, distributions=("wide", "large"), name="logits"),
                binary_targets("N", "rest")),
        configs=grid(loss_id, N=[4], rest=[(5,)], **EVERY_REDUCTION)
        + grid(loss_id, N=[2], rest=[(3, 4)], reduction=["mean", "none"], weighted=[True]),
        params=(Param("pos_weight", "pos_weight", positive=True, optional=True),),
    ),
    Pair(
        name="L1Loss",
        bad_input=BadInput(wrong_ndim=False),
        reference=lambda c: losses.L1Loss(reduction=c.reduction),
        torch=lambda c: t_losses.L1Loss(reduction=c.reduction),
        inputs=(normal_or_tied("N", "rest", distributions=("offset", "wide")),
                normal_or_tied("N", "rest", distributions=("offset",), name="target", constant=True)),
        # ties: p == t in some elements, where the gradient is 0
        configs=grid(loss_id, N=[4], rest=[(5,)], reduction=REDUCTIONS, ties=[False])
        + grid(loss_id, N=[2], rest=[(3, 4)], reduction=["sum", "none"], ties=[True]),
    ),
    Pair(
        name="SmoothL1Loss",
        bad_input=BadInput(wrong_ndim=False),
        reference=lambda c: losses.SmoothL1Loss(beta=c.beta, reduction=c.reduction),
        torch=lambda c: t_losses.SmoothL1Loss(beta=c.beta, reduction=c.reduction),
        inputs=(normal_or_tied("N", "rest", distributions=("offset", "wide")),
                normal_or_tied("N", "rest", distributions=("offset",), name="target", constant=True)),
        # |p - t| ~ |N(0, 2)| on either side of beta; beta 0.5 tells it from Huber's
        configs=grid(loss_id, N=[4], rest=[(5,)], reduction=REDUCTIONS, beta=[1.0, 0.5], ties=[False])
        + grid(loss_id, N=[2], rest=[(3, 4)], reduction=["mean"], beta=[0.5], ties=[True]),
    ),
    Pair(
        name="HuberLoss",
        bad_input=BadInput(wrong_ndim=False),
        reference=lambda c: losses.HuberLoss(delta=c.delta, reduction=c.reduction),
        torch=lambda c: t_losses.HuberLoss(delta=c.delta, reduction=c.reduction),
        inputs=(normal_or_tied("N", "rest", distributions=("offset", "wide")),
                normal_or_tied("N", "rest", distributions=("offset",), name="target", constant=True)),
        configs=grid(loss_id, N=[4], rest=[(5,)], reduction=REDUCTIONS, delta=[1.0, 0.5], ties=[False])
        + grid(loss_id, N=[2], rest=[(3, 4)], reduction=["mean"], delta=[0.5], ties=[True]),
    ),
]


# -- convolutions and optimizers people write ------------------------------------------------

def conv_transpose_id(c: Config) -> str:
    kernel = c.k[0] if c.k[0] == c.k[1] else dims(c.k)
    return (f"N{c.N}C{c.C}H{c.hw[0]}W{c.hw[1]}-O{c.O}k{kernel}s{c.s}p{c.p}op{c.op}"
            + ("" if c.bias else "-nobias"))


def conv1d_id(c: Config) -> str:
    return f"N{c.N}C{c.C}L{c.L}-O{c.O}k{c.k}s{c.s}p{c.p}" + ("" if c.bias else "-nobias")


def optimizer_options_id(c: Config) -> str:
    options = [f"{name}{getattr(c, name)}" for name in ("momentum", "lr_decay", "init", "wd") if getattr(c, name, 0)]
    return "-".join([dims(c.shape), f"steps{c.steps}", *(["centered"] if getattr(c, "centered", False) else []),
                     *options])


def clip_id(c: Config) -> str:
    norm = "inf" if c.norm_type == float("inf") else f"{c.norm_type:g}"
    shapes = (c.shape1, c.shape2, c.shape3)
    return "+".join(dims(s) or "scalar" for s in shapes) + f"-max{c.max_norm:g}-L{norm}"


def clip_arrays(clip, max_norm, norm_type):
    """clip_grad_norm called as the harness calls a function: one argument per gradient array."""
    return lambda *grads: clip(grads, max_norm, norm_type)


# (N, C, H, W): stride 1 and 2, padding 0 and 1, output_padding 1 (only with stride 2: torch
# refuses output_padding >= stride), with and without bias, a rectangular kernel, and C == O
# once, so a dL/dW with in and out swapped has the right shape and must be caught by value
CONV_TRANSPOSE_CONFIGS = (
    grid(conv_transpose_id, N=[2], C=[2], O=[3], hw=[(4, 5)], k=[(3, 3)], s=[1], p=[0], op=[0], bias=[True])
    + grid(conv_transpose_id, N=[2], C=[2], O=[3], hw=[(4, 5)], k=[(3, 3)], s=[1], p=[1], op=[0], bias=[False])
    + grid(conv_transpose_id, N=[1], C=[3], O=[2], hw=[(3, 4)], k=[(3, 3)], s=[2], p=[0], op=[0], bias=[True])
    + grid(conv_transpose_id, N=[2], C=[3], O=[2], hw=[(3, 4)], k=[(3, 3)], s=[2], p=[1], op=[1], bias=[True])
    + grid(conv_transpose_id, N=[2], C=[2], O=[3], hw=[(3, 3)], k=[(2, 3)], s=[2], p=[1], op=[1], bias=[False])
    + grid(conv_transpose_id, N=[2], C=[3], O=[3], hw=[(3, 2)], k=[(3, 3)], s=[2], p=[0], op=[1], bias=[True])
)

PAIRS += [
    Pair(
        name="ConvTranspose2d",
        reference=lambda c: conv.ConvTranspose2d(c.C, c.O, c.k, c.s, c.p, c.op, bias=c.bias),
        torch=lambda c: t_conv.ConvTranspose2d(c.C, c.O, c.k, c.s, c.p, c.op, bias=c.bias),
        inputs=(normal("N", "C", "hw", distributions=SPREAD),),
        configs=CONV_TRANSPOSE_CONFIGS,
        params=CONV_PARAMS,  # W: (in, out, kh, kw) on both sides
        bad_input=BadInput(channels=True),
    ),
    Pair(
        name="Conv1d",
        reference=lambda c: conv.Conv1d(c.C, c.O, c.k, c.s, c.p, bias=c.bias),
        torch=lambda c: t_conv.Conv1d(c.C, c.O, c.k, c.s, c.p, bias=c.bias),
        inputs=(normal("N", "C", "L", distributions=SPREAD),),
        configs=grid(conv1d_id, N=[2], C=[3], L=[8], O=[4], k=[3], s=[1], p=[0], bias=[True])
        + grid(conv1d_id, N=[2], C=[3], L=[9], O=[2], k=[3], s=[2], p=[1], bias=[False])
        # a stride larger than the kernel (positions no window reads), and a kernel as long as
        # the padded input (one output position)
        + grid(conv1d_id, N=[1], C=[2], L=[7], O=[3], k=[2], s=[3], p=[1], bias=[True])
        + grid(conv1d_id, N=[2], C=[2], L=[3], O=[3], k=[5], s=[1], p=[1], bias=[True]),
        params=CONV_PARAMS,
        bad_input=BadInput(channels=True),
    ),
]

# optimizers: one parameter through 1 and 5 steps of random gradients, each option on its own;
# the parameter and every state entry the configuration keeps are compared (torch keeps
# RMSprop's momentum_buffer and grad_avg only with momentum and centered, hence two pairs)
RMSPROP_STATE = ("square_avg", "momentum_buffer", "grad_avg")


def rmsprop(optimize, rmsprop_class, c: Config, state: tuple[str, ...]):
    return partial(optimize, rmsprop_class, state=state, lr=0.01, momentum=c.momentum, centered=c.centered,
                   weight_decay=c.wd)


PAIRS += [
    Pair(
        name="RMSprop",
        reference=lambda c: rmsprop(optim.optimize, optim.RMSprop, c, RMSPROP_STATE[:1]),
        torch=lambda c: rmsprop(t_optim.optimize, t_optim.RMSprop, c, RMSPROP_STATE[:1]),
        inputs=(normal("shape"), normal("steps", "shape")),
        configs=grid(optimizer_options_id, shape=[(3, 4)], steps=[1, 5], centered=[False, True], momentum=[0], wd=[0])
        + grid(optimizer_options_id, shape=[(3, 4)], steps=[1, 5], centered=[False], momentum=[0.9], wd=[0])
        + grid(optimizer_options_id, shape=[(3, 4)], steps=[1, 5], centered=[False], momentum=[0], wd=[0.01]),
        backward=None,
        outputs=("param", "square_avg"),
        differentiable=False,  # torch.optim steps without autograd
    ),
    Pair(
        name="RMSpropCenteredMomentum",
        reference=lambda c: rmsprop(optim.optimize, optim.RMSprop, c, RMSPROP_STATE),
        torch=lambda c: rmsprop(t_optim.optimize, t_optim.RMSprop, c, RMSPROP_STATE),
        inputs=(normal("shape"), normal("steps", "shape")),
        configs=grid(optimizer_options_id, shape=[(5,)], steps=[1, 5], centered=[True], momentum=[0.9], wd=[0])
        + grid(optimizer_options_id, shape=[(5,)], steps=[5], centered=[True], momentum=[0.9], wd=[0.01]),
        backward=None,
        outputs=("param", *RMSPROP_STATE),
        bad_input=BadInput(named="RMSprop"),
        differentiable=False,  # torch.optim steps without autograd
    ),
    Pair(
        name="Adagrad",
        reference=lambda c: partial(optim.optimize, optim.Adagrad, state=("sum",), lr=0.1, lr_decay=c.lr_decay,
                                    weight_decay=c.wd, initial_accumulator_value=c.init),
        torch=lambda c: partial(t_optim.optimize, t_optim.Adagrad, state=("sum",), lr=0.1, lr_decay=c.lr_decay,
                                weight_decay=c.wd, initial_accumulator_value=c.init),
        inputs=(normal("shape"), normal("steps", "shape")),
        configs=grid(optimizer_options_id, shape=[(3, 4)], steps=[1, 5], lr_decay=[0, 0.5], wd=[0], init=[0])
        + grid(optimizer_options_id, shape=[(3, 4)], steps=[1, 5], lr_decay=[0], wd=[0.01], init=[0])
        + grid(optimizer_options_id, shape=[(5,)], steps=[1, 5], lr_decay=[0], wd=[0], init=[0.1]),
        backward=None,
        outputs=("param", "sum"),
        differentiable=False,  # torch.optim steps without autograd
    ),
    Pair(
        name="AdamW",
        reference=lambda c: partial(optim.optimize, optim.AdamW, state=("exp_avg", "exp_avg_sq"), lr=0.01,
                                    weight_decay=c.wd),
        torch=lambda c: partial(t_optim.optimize, t_optim.AdamW, state=("exp_avg", "exp_avg_sq"), lr=0.01,
                                weight_decay=c.wd),
        inputs=(normal("shape"), normal("steps", "shape")),
        # torch's default decay and a larger one, which moves the parameter 10x as far per step
        configs=grid(optimizer_options_id, shape=[(3, 4)], steps=[1, 5], wd=[0.01, 0.1]),
        backward=None,
        outputs=("param", "exp_avg", "exp_avg_sq"),
        differentiable=False,  # torch.optim steps without autograd
    ),
    Pair(
        name="clip_grad_norm",
        reference=lambda c: clip_arrays(optim.clip_grad_norm, c.max_norm, c.norm_type),
        torch=lambda c: clip_arrays(t_optim.clip_grad_norm, c.max_norm, c.norm_type),
        inputs=(normal("shape1", name="g1"), normal("shape2", name="g2"), normal("shape3", name="g3")),
        # standard normal gradients: a 2-norm of 3 to 6 and a max of 2 to 4, so max_norm 1 clips
        # and 100 leaves them as they are; a 0-d gradient (a scalar parameter's) once
        configs=grid(clip_id, shape1=[(3, 4)], shape2=[(5,)], shape3=[(2, 3, 2)], max_norm=[1.0, 100.0],
                     norm_type=[2.0, float("inf")])
        + grid(clip_id, shape1=[(4,)], shape2=[(2, 5)], shape3=[()], max_norm=[1.0], norm_type=[2.0, 1.0]),
        backward=None,
        outputs=(("clipped1", "clipped2", "clipped3"), "total_norm"),
        bad_input=BadInput(wrong_ndim=False),  # gradients of any shape
        differentiable=False,  # clip_grad_norm_ scales .grad in place, outside autograd
    ),
]


# -- recurrent layers: cells (one step) and sequences, each with and without its initial state ---
# A state not given is zeros and gets no gradient: that call's pair has x alone as its input, a pair
# of its own ("...FromZeros"). torch packs the gates along the rows of weight_ih (G H, D); the
# reference keeps the x @ W transposes, W_ih (D, G H) and W_hh (H, G H), the gates in torch's order.

CELL_PARAMS = (Param("W_ih", "weight_ih", permute=(1, 0)), Param("W_hh", "weight_hh", permute=(1, 0)),
               Param("b_ih", "bias_ih", optional=True), Param("b_hh", "bias_hh", optional=True))
# each layer's set; the second layer's (and the biases) only where the configuration has them
SEQUENCE_PARAMS = tuple(dataclasses.replace(p, reference=f"{p.reference}_l{layer}", torch=f"{p.torch}_l{layer}",
                                            optional=p.optional or layer > 0)
                        for layer in range(2) for p in CELL_PARAMS)

# x takes "wide" inputs (four orders of magnitude): they saturate some gates and leave others in
# their linear range, so the gradients stay meaningful; "large" ones (values in the hundreds) would
# saturate every sigmoid and tanh they feed, where 1 - tanh^2 rounds to 0 and the checks go vacuous.
# h and h0 stay standard: a tanh layer's state lies in (-1, 1), and one in the hundreds saturates the
# whole first step, which leaves dh0 vacuous. An LSTM's cell state is unbounded: c and c0 take wide
# and large values, tanh(c) saturates, and dc still flows through the forget gate.
SPREAD_INPUT = ("wide",)
SPREAD_CELL_STATE = ("wide", "large")


def cell_id(c: Config) -> str:
    return f"N{c.N}D{c.D}H{c.H}" + (f"-{c.nonlinearity}" if hasattr(c, "nonlinearity") else "") + \
        ("" if c.bias else "-nobias")


def sequence_id(c: Config) -> str:
    return (f"T{c.T}N{c.N}D{c.D}H{c.H}-layers{c.L}" + (f"-{c.nonlinearity}" if hasattr(c, "nonlinearity") else "")
            + ("" if c.bias else "-nobias") + ("-batch_first" if c.batch_first else ""))


def sequence_input(distributions: tuple[str, ...]):
    """x of (T, N, D), or of (N, T, D) where ``config.batch_first``."""
    time_major = normal("T", "N", "D", distributions=distributions)
    batch_major = normal("N", "T", "D", distributions=distributions)

    def make(config, rng, dtype):
        return (batch_major if config.batch_first else time_major)(config, rng, dtype)

    return input_maker(make, distributions, name="x")


def magnitudes(*dims, name: str, distributions: tuple[str, ...] = ("standard",)):
    """|z| for z the normal draw of ``dims``: positive inputs."""
    draw = normal(*dims, distributions=distributions)

    def make(config, rng, dtype):
        return np.abs(draw(config, rng, dtype))

    return input_maker(make, distributions, name=name)


def from_zeros(pair: Pair, configs, **changes) -> Pair:
    """The pair's layer called without its initial state: x its only input, the state zeros."""
    return dataclasses.replace(pair, name=f"{pair.name}FromZeros", inputs=pair.inputs[:1], arguments=None,
                               configs=configs, bad_input=dataclasses.replace(pair.bad_input, named=pair.name),
                               **changes)


# one step from h = 0 has nothing to multiply W_hh's gradient by
FROM_ZERO_STATE = {"grad W_hh": "h = 0, so dW_hh = h^T da = 0"}

# relu layers have 8 units: with 3 to 5, a sweep finds draws where every unit stays dead, and the
# checks of the outputs and of a layer's gradients go vacuous. A tanh layer's first step is wholly
# saturated by a wide x in about one sample in eight, so where dh0 (or, over one step, dx) rests on
# it alone the batch has 6 samples: with 2, one draw in a hundred leaves the check vacuous (the
# gated layers' single steps take 4: their sigmoids saturate later).

RNN_CELL = Pair(
    name="RNNCell",
    bad_input=BadInput(channels=True),
    reference=lambda c: recurrent.RNNCell(c.D, c.H, c.nonlinearity, bias=c.bias),
    torch=lambda c: t_recurrent.RNNCell(c.D, c.H, c.nonlinearity, bias=c.bias),
    inputs=(normal("N", "D", name="x", distributions=SPREAD_INPUT),
            normal("N", "H", name="h")),
    outputs="h_next",
    configs=grid(cell_id, N=[6], D=[4], H=[5], nonlinearity=["tanh"], bias=[True, False])
    + grid(cell_id, N=[3], D=[4], H=[8], nonlinearity=["relu"], bias=[True, False]),
    params=CELL_PARAMS,
)
LSTM_CELL = Pair(
    name="LSTMCell",
    bad_input=BadInput(channels=True),
    reference=lambda c: recurrent.LSTMCell(c.D, c.H, bias=c.bias),
    torch=lambda c: t_recurrent.LSTMCell(c.D, c.H, bias=c.bias),
    inputs=(normal("N", "D", name="x", distributions=SPREAD_INPUT),
            normal("N", "H", name="h"),
            normal("N", "H", name="c", distributions=SPREAD_CELL_STATE)),
    arguments=("x", ("h", "c")),
    outputs=("h_next", "c_next"),
    configs=grid(cell_id, N=[3], D=[4], H=[5], bias=[True, False]),
    params=CELL_PARAMS,
)
GRU_CELL = Pair(
    name="GRUCell",
    bad_input=BadInput(channels=True),
    reference=lambda c: recurrent.GRUCell(c.D, c.H, bias=c.bias),
    torch=lambda c: t_recurrent.GRUCell(c.D, c.H, bias=c.bias),
    inputs=(normal("N", "D", name="x", distributions=SPREAD_INPUT),
            normal("N", "H", name="h")),
    outputs="h_next",
    configs=grid(cell_id, N=[3], D=[4], H=[5], bias=[True, False]),
    params=CELL_PARAMS,
)

# sequences: one and two layers, batch_first both ways, one step and up to 8; and, in the sweep
# alone, 64 steps. The tanh RNN's gradient from its last steps back to the first vanishes there
# (each step multiplies it by (1 - h^2) W_hh, whose weights the harness draws from N(0, 1/H)).
# Their axis 1 is the batch or the time, not a channel: the bad-input tests widen no features there.
RNN = Pair(
    name="RNN",
    reference=lambda c: recurrent.RNN(c.D, c.H, c.L, c.nonlinearity, bias=c.bias, batch_first=c.batch_first),
    torch=lambda c: t_recurrent.RNN(c.D, c.H, c.L, c.nonlinearity, bias=c.bias, batch_first=c.batch_first),
    inputs=(sequence_input(SPREAD_INPUT), normal("L", "N", "H", name="h0")),
    outputs=("output", "h_n"),
    configs=grid(sequence_id, T=[5], N=[6], D=[3], H=[4], L=[1], nonlinearity=["tanh"], bias=[True],
                 batch_first=[False])
    + grid(sequence_id, T=[5], N=[2], D=[3], H=[8], L=[1], nonlinearity=["relu"], bias=[True], batch_first=[False])
    + grid(sequence_id, T=[8], N=[3], D=[2], H=[3], L=[2], nonlinearity=["tanh"], bias=[True], batch_first=[True])
    + grid(sequence_id, T=[8], N=[3], D=[2], H=[8], L=[2], nonlinearity=["relu"], bias=[True], batch_first=[True])
    + grid(sequence_id, T=[1], N=[6], D=[3], H=[4], L=[2], nonlinearity=["tanh"], bias=[False], batch_first=[False])
    + grid(sequence_id, T=[64], N=[6], D=[3], H=[4], L=[1], nonlinearity=["tanh"], bias=[True], batch_first=[False],
           sweep_only=[True]),
    params=SEQUENCE_PARAMS,
)
LSTM = Pair(
    name="LSTM",
    reference=lambda c: recurrent.LSTM(c.D, c.H, c.L, bias=c.bias, batch_first=c.batch_first),
    torch=lambda c: t_recurrent.LSTM(c.D, c.H, c.L, bias=c.bias, batch_first=c.batch_first),
    inputs=(sequence_input(SPREAD_INPUT), normal("L", "N", "H", name="h0"),
            normal("L", "N", "H", name="c0", distributions=SPREAD_CELL_STATE)),
    arguments=("x", ("h0", "c0")),
    outputs=("output", ("h_n", "c_n")),
    configs=grid(sequence_id, T=[5], N=[2], D=[3], H=[4], L=[1], bias=[True, False], batch_first=[False])
    + grid(sequence_id, T=[8], N=[3], D=[4], H=[3], L=[2], bias=[True], batch_first=[True])
    + grid(sequence_id, T=[1], N=[4], D=[3], H=[2], L=[1], bias=[True], batch_first=[True]),
    params=SEQUENCE_PARAMS,
)
GRU = Pair(
    name="GRU",
    reference=lambda c: recurrent.GRU(c.D, c.H, c.L, bias=c.bias, batch_first=c.batch_first),
    torch=lambda c: t_recurrent.GRU(c.D, c.H, c.L, bias=c.bias, batch_first=c.batch_first),
    inputs=(sequence_input(SPREAD_INPUT), normal("L", "N", "H", name="h0")),
    outputs=("output", "h_n"),
    configs=grid(sequence_id, T=[5], N=[2], D=[3], H=[4], L=[1], bias=[True, False], batch_first=[False])
    + grid(sequence_id, T=[8], N=[3], D=[4], H=[3], L=[2], bias=[True], batch_first=[True])
    + grid(sequence_id, T=[1], N=[4], D=[3], H=[2], L=[1], bias=[True], batch_first=[True]),
    params=SEQUENCE_PARAMS,
)

PAIRS += [
    RNN_CELL, from_zeros(RNN_CELL, RNN_CELL.configs[::3], structural_zeros=FROM_ZERO_STATE),
    LSTM_CELL, from_zeros(LSTM_CELL, LSTM_CELL.configs[:1], structural_zeros=FROM_ZERO_STATE),
    GRU_CELL, from_zeros(GRU_CELL, GRU_CELL.configs[:1], structural_zeros=FROM_ZERO_STATE),
    RNN, from_zeros(RNN, grid(sequence_id, T=[4], N=[3], D=[3], H=[8], L=[1], nonlinearity=["relu"], bias=[True],
                              batch_first=[True])
                    + grid(sequence_id, T=[3], N=[2], D=[3], H=[4], L=[2], nonlinearity=["tanh"], bias=[True],
                           batch_first=[False])),
    LSTM, from_zeros(LSTM, grid(sequence_id, T=[6], N=[2], D=[3], H=[4], L=[1], bias=[True], batch_first=[True])
                     + grid(sequence_id, T=[3], N=[3], D=[2], H=[3], L=[2], bias=[True], batch_first=[False])),
    GRU, from_zeros(GRU, grid(sequence_id, T=[6], N=[2], D=[3], H=[4], L=[1], bias=[True], batch_first=[True])
                    + grid(sequence_id, T=[3], N=[3], D=[2], H=[3], L=[2], bias=[True], batch_first=[False])),
    # gradients that grow: every weight and bias drawn positive, U[0.5, 2) (Param's positive draw), and
    # positive inputs, so every relu is in its linear part and h_t = h_{t-1} W_hh + (a positive drive).
    # With H = 2 each row of W_hh sums to 1 or more: its Perron root is at least 1 (at most 4) and the
    # gradient carried back grows by it at every step, ~1,000x over 8 steps. The sweep's 64 steps take
    # H = 1, a factor w in [0.5, 2) a step (two draws in three grow, to at most 2^64 ~ 2e19): at H = 2,
    # 4^64 would come within rounding of float32's largest value.
    Pair(
        name="RNNExploding",
        bad_input=BadInput(named="RNN"),
        reference=lambda c: recurrent.RNN(c.D, c.H, c.L, c.nonlinearity, bias=c.bias, batch_first=c.batch_first),
        torch=lambda c: t_recurrent.RNN(c.D, c.H, c.L, c.nonlinearity, bias=c.bias, batch_first=c.batch_first),
        inputs=(magnitudes("T", "N", "D", name="x", distributions=SPREAD_INPUT), magnitudes("L", "N", "H", name="h0")),
        outputs=("output", "h_n"),
        configs=grid(sequence_id, T=[8], N=[2], D=[3], H=[2], L=[1], nonlinearity=["relu"], bias=[True],
                     batch_first=[False])
        + grid(sequence_id, T=[64], N=[2], D=[3], H=[1], L=[1], nonlinearity=["relu"], bias=[True],
               batch_first=[False], sweep_only=[True]),
        params=tuple(dataclasses.replace(p, positive=True) for p in SEQUENCE_PARAMS[:4]),
    ),
]

# -- the pre-norm transformer block: causal self-attention and a GELU MLP, each with its residual --

TRANSFORMER_BLOCK_PARAMS = (
    nested("norm1", "norm1", AFFINE_PARAMS) + nested("attention", "attention.attention", MHA_PARAMS)
    + nested("norm2", "norm2", AFFINE_PARAMS) + nested("fc1", "fc1", LINEAR_PARAMS)
    + nested("fc2", "fc2", LINEAR_PARAMS)
)


def transformer_block_id(c: Config) -> str:
    return f"N{c.N}T{c.T}E{c.E}-heads{c.heads}-hidden{c.hidden}"


PAIRS += [
    Pair(
        name="TransformerBlock",
        reference=lambda c: blocks.TransformerBlock(c.E, c.heads, c.hidden),
        torch=lambda c: t_blocks.TransformerBlock(c.E, c.heads, c.hidden),
        inputs=(normal("N", "T", "E", name="x", distributions=SPREAD),),
        # two heads of 4 features over 5 steps; three heads of 2 over 8, the longest default sequence
        configs=grid(transformer_block_id, N=[2], T=[5], E=[8], heads=[2], hidden=[16])
        + grid(transformer_block_id, N=[1], T=[8], E=[6], heads=[3], hidden=[12]),
        params=TRANSFORMER_BLOCK_PARAMS,
    ),
]


REGISTRY = {pair.name: pair for pair in PAIRS}
