"""Every reference layer and twin refuses bad input with an error that says what it expected
and what came: wrong ndim, wrong channel count, mismatched shapes, integers where floats are
needed, and (reference) backward before forward or with a gradient of the wrong shape."""

from typing import NamedTuple

import numpy as np
import pytest
import torch

from parity_tests.engine.harness import arguments, draw_setup, upstream_arguments
from parity_tests.engine.registry import Case
from parity_tests.suite.pairs import PAIRS


class Drawn(NamedTuple):
    inputs: list[np.ndarray]  # in the pair's order
    upstreams: list[np.ndarray]  # one per differentiable output


def valid(pair):
    """A pair's first configuration (as its factories get it) and a valid draw of its inputs."""
    case = Case(pair, pair.configs[0], "float64", 0)
    setup = draw_setup(case)
    return setup.config, Drawn(list(setup.inputs.values()), list(setup.upstream.values()))


def nest(pair, inputs):
    """The inputs (a list in the pair's order) as the layer takes them, nested as declared."""
    return arguments(pair, dict(zip(pair.input_names, inputs, strict=True)))


def upstreams_of(pair, upstreams):
    """The upstream gradients (a list, one per differentiable output) as backward takes them."""
    return upstream_arguments(pair, dict(zip(pair.differentiable_outputs, upstreams, strict=True)))


def call(pair, backend, config, inputs):
    if backend == "reference":
        return pair.reference(config)(*nest(pair, inputs))
    tensors = nest(pair, [torch.from_numpy(x) for x in inputs])
    return pair.torch(config).double()(*tensors) if pair.is_layer else pair.torch(config)(*tensors)


def expect_refusal(pair, backend, config, inputs, error, *fragments):
    with pytest.raises(error) as raised:
        call(pair, backend, config, inputs)
    message = str(raised.value)
    assert "expected" in message, message
    assert message.split()[0] == (pair.bad_input.named or pair.name), message  # names the layer
    for fragment in fragments:
        assert fragment in message, message


BACKENDS = ["reference", "torch"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("pair", [p for p in PAIRS if p.bad_input.wrong_ndim], ids=lambda p: p.name)
def test_wrong_ndim(pair, backend):
    config, setup = valid(pair)
    inputs = [setup.inputs[0][None], *setup.inputs[1:]]
    expect_refusal(pair, backend, config, inputs, ValueError, f"got {tuple(inputs[0].shape)}")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("pair", [p for p in PAIRS if p.bad_input.integers], ids=lambda p: p.name)
def test_integer_input(pair, backend):
    config, setup = valid(pair)
    inputs = [np.round(setup.inputs[0] * 10).astype(np.int64), *setup.inputs[1:]]
    expect_refusal(pair, backend, config, inputs, TypeError, "floating-point", "int64")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("pair", [p for p in PAIRS if p.bad_input.channels], ids=lambda p: p.name)
def test_wrong_channel_count(pair, backend):
    config, setup = valid(pair)
    x = setup.inputs[0]
    wrong = np.concatenate([x, x[:, :1]], axis=1)
    expect_refusal(pair, backend, config, [wrong, *setup.inputs[1:]], ValueError, f"got {wrong.shape}")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name, position", [
    ("MSELoss", 1), ("CrossEntropyLoss", 1), ("batch_normalization", 1), ("batch_normalization", 2),
    ("train_neuron", 1), ("train_neuron", 2),
])
def test_mismatched_second_input(name, position, backend):
    pair = next(p for p in PAIRS if p.name == name)
    config, setup = valid(pair)
    inputs = list(setup.inputs)
    inputs[position] = np.concatenate([inputs[position]] * 2, axis=0)  # one axis twice too long
    with pytest.raises(ValueError, match="expected"):
        call(pair, backend, config, inputs)


@pytest.mark.parametrize("pair", [p for p in PAIRS if p.is_layer], ids=lambda p: p.name)
def test_backward_before_forward(pair):
    config, setup = valid(pair)
    with pytest.raises(RuntimeError, match="backward called before forward"):
        getattr(pair.reference(config), pair.backward)(*upstreams_of(pair, setup.upstreams))


@pytest.mark.parametrize("pair", [p for p in PAIRS if p.is_layer], ids=lambda p: p.name)
def test_gradient_of_the_wrong_shape(pair):
    config, setup = valid(pair)
    layer = pair.reference(config)
    layer(*nest(pair, setup.inputs))
    first, *others = setup.upstreams
    wrong = np.ones(first.shape + (2,))
    with pytest.raises(ValueError) as raised:
        getattr(layer, pair.backward)(*upstreams_of(pair, [wrong, *others]))
    assert f"of shape {first.shape}" in str(raised.value)
    assert f"got {wrong.shape}" in str(raised.value)


def test_se_reduction_larger_than_channels():
    from reference.blocks import SEBlock
    from torch_impl.blocks import SEBlock as TorchSEBlock

    for block in (SEBlock, TorchSEBlock):
        with pytest.raises(ValueError, match="channels // reduction must be at least 1, got 8 // 16 = 0"):
            block(8, 16)


def test_class_targets_out_of_range():
    from reference.losses import CrossEntropyLoss

    with pytest.raises(ValueError, match=r"expected values in \[0, 2\], got \[0, 3\]"):
        CrossEntropyLoss()(np.full((2, 3), 1 / 3), np.array([0, 3]))


@pytest.mark.parametrize("name", ["CrossEntropyLoss", "MSELoss"])
def test_loss_backward_starts_from_one(name):
    pair = next(p for p in PAIRS if p.name == name)
    config, setup = valid(pair)
    loss = pair.reference(config)
    loss(*setup.inputs)
    np.testing.assert_array_equal(loss.backward(), loss.backward(1.0))
    loss(*[x.astype(np.float32) if x.dtype == np.float64 else x for x in setup.inputs])
    assert loss.backward().dtype == np.float32  # the default upstream does not promote a float32 network


# -- later inputs: a key, a value, a mask, a target, an initial state ----------------------------

RESHAPES = {
    "an extra leading axis": lambda x: x[None],
    "one more along the last axis": lambda x: np.concatenate([x, x[..., :1]], axis=-1),
}


def outcome(pair, backend, config, inputs) -> str:
    try:
        call(pair, backend, config, inputs)
    except (ValueError, TypeError, RuntimeError, IndexError) as error:
        return f"refused: {type(error).__name__}: {error}"
    return "accepted"


def reshapeable(pair, index: int) -> list[str]:
    """The reshapes an input of the pair's first configuration takes: a 0-d one has no last axis."""
    drawn = pair.inputs[index](pair.configs[0], np.random.default_rng(0), np.float64)
    return [name for name in RESHAPES if np.ndim(drawn) or name == "an extra leading axis"]


@pytest.mark.parametrize("pair, index, reshape", [
    pytest.param(pair, index, reshape, id=f"{pair.name}-{pair.input_names[index]}-{reshape}")
    for pair in PAIRS if len(pair.inputs) > 1 for index in range(1, len(pair.inputs))
    for reshape in reshapeable(pair, index)])
def test_a_later_input_of_another_shape_is_refused_by_both_sides_or_by_neither(pair, index, reshape):
    """A later input's checks have no generic test of their own kind (the ones above change the
    first input): whatever the twin does with a reshaped one (refuse it, or broadcast it as
    Add's b), the reference must do too, and say what it expected where it refuses."""
    config, setup = valid(pair)
    inputs = list(setup.inputs)
    inputs[index] = RESHAPES[reshape](inputs[index])
    with np.errstate(all="ignore"):
        reference, twin = (outcome(pair, backend, config, inputs) for backend in BACKENDS)
    assert reference.split(":")[0] == twin.split(":")[0], f"reference {reference}; torch twin {twin}"
    if reference != "accepted":
        assert "expected" in reference.lower(), reference
