"""Networks trained in lockstep with torch.

A ``Trajectory`` declares a network on each side (a reference ``NamedArrays`` layer, usually a
``Sequential``, and its torch module), the parameter mapping, a loss, synthetic data and the
optimizers to train with. One case is the network trained for ``steps`` steps with one
optimizer in one dtype: the reference, torch in that dtype and torch in float64 (the judge)
start from the same drawn values and see the same batches. After every step the loss, every
parameter, every optimizer state entry and every running statistic are judged, and at the
``evaluate_after`` steps the network also runs one batch in eval mode and back. With ``clip``
the gradients are clipped by their global norm between backward and the step, and that norm
(before clipping) is judged after every step too.

The float32 tolerance is the suite's (``tolerances.DEFAULT``): its ``multiple`` term is torch's
own float32 drift from the float64 judge at that step of the same trajectory, so the bar
widens exactly as far as torch itself drifts. A failure names the first step that diverged,
the tensor and the layer it belongs to, with the explanation of a matrix failure.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from parity_tests.engine.conventions import NamedArrays
from parity_tests.engine.harness import (
    STEP,
    Compared,
    HarnessError,
    Key,
    ReluWatch,
    load_into_reference,
    load_into_torch,
    synchronised,
    torch_arrays,
)
from parity_tests.engine.judge import Verdict, judge_tensor
from parity_tests.engine.layouts import IDENTITY
from parity_tests.engine.registry import Config, Pair, Param
from parity_tests.engine.tolerances import KINK_ATTEMPTS, KINK_MARGIN, Tolerance


@dataclass(frozen=True)
class Optimizer:
    """An optimizer on both sides: ``reference(params)`` takes the reference's arrays by name,
    ``torch(parameters)`` torch's; ``state`` names the entries compared after every step."""

    name: str
    reference: Callable[[dict], Any]
    torch: Callable[[Any], torch.optim.Optimizer]
    state: tuple[str, ...] = ()


@dataclass(frozen=True)
class GradientClip:
    """Clipping by global norm: ``torch.nn.utils.clip_grad_norm_(parameters, max_norm)`` on the
    torch side, ``reference(grads, max_norm)`` on the reference side, which takes the gradient
    arrays as a list and returns (the clipped arrays in the same order, the norm before clipping)."""

    max_norm: float
    reference: Callable[[list, float], tuple[list, Any]]


@dataclass(frozen=True)
class Trajectory:
    """reference, torch: () -> the network; loss: (reference loss, torch loss) factories;
    data: (rng, dtype) -> (inputs, targets), one batch (called once a step, and for every eval);
    floating inputs take the case's dtype, integer ones (token indices) stay integers;
    with ``epoch = (steps, n)``, every epoch of that many steps ends on a smaller batch,
    ``data(rng, dtype, n)``, as a data set that does not divide by the batch size does;
    clip: gradients clipped by their global norm between backward and every step."""

    name: str
    reference: Callable[[], Any]
    torch: Callable[[], torch.nn.Module]
    params: tuple[Param, ...]
    loss: tuple[Callable[[], Any], Callable[[], Any]]
    data: Callable[[np.random.Generator, np.dtype], tuple[np.ndarray, np.ndarray]]
    optimizers: tuple[Optimizer, ...]
    steps: int = 20
    evaluate_after: tuple[int, ...] = ()
    full_batch: bool = False  # one batch for every step (full-batch gradient descent)
    epoch: tuple[int, int] | None = None  # (steps per epoch, the size of its last batch)
    tolerances: dict[str, Tolerance] = field(default_factory=dict)
    clip: GradientClip | None = None

    is_layer = False  # as the judge asks of a pair: no finite differences here

    def zeros_declared(self, config) -> dict[str, str]:
        return {}  # as the judge asks of a pair: no structural zeros in a trained network

    def deviations_declared(self, config) -> dict[str, str]:
        return {}  # nor known deviations

    def as_pair(self) -> Pair:
        """The network as a pair, for the harness's parameter synchronisation."""
        return Pair(name=self.name, reference=lambda c: self.reference(), torch=lambda c: self.torch(),
                    inputs=(), configs=(Config(id="network"),), params=self.params, convention=NamedArrays())


@dataclass(frozen=True)
class TrajectoryCase:
    pair: Trajectory
    optimizer: Optimizer
    dtype: str
    seed_index: int
    device: str = "cpu"
    nodeid: str | None = None

    @property
    def config(self) -> Config:
        return Config(id=f"{self.optimizer.name}-steps{self.pair.steps}")

    @property
    def id(self) -> str:
        return f"{self.pair.name}-{self.dtype}-{self.config.id}-seed{self.seed_index}"

    @property
    def seeds_needed(self) -> int:
        """The --parity-seeds that runs this case: trajectories take a tenth as many seeds."""
        return 10 * (self.seed_index + 1) if self.seed_index else 1


def trajectory_cases(trajectories, dtypes=("float32", "float64"), seeds: int = 1) -> list[TrajectoryCase]:
    return [TrajectoryCase(t, opt, dtype, seed) for t in trajectories for opt in t.optimizers for dtype in dtypes
            for seed in range(seeds)]


# -- one side's network, loss and optimizer -------------------------------------------------


class _Reference:
    def __init__(self, case: TrajectoryCase, params: list[Param], values, dtype):
        self.network, self.loss = case.pair.reference(), case.pair.loss[0]()
        load_into_reference(case.pair.as_pair(), params, values, self.network, dtype)
        self.params, self.clip = params, case.pair.clip
        self.optimizer = case.optimizer.reference(self.network.named_params())

    def train(self, mode: bool):
        self.network.train(mode)

    def forward(self, inputs, targets) -> np.ndarray:
        return self.loss(self.network(inputs.copy()), targets.copy())

    def step(self, inputs, targets) -> np.ndarray:
        loss = self.forward(inputs, targets)
        self.network.backward(self.loss.backward())
        grads = self.network.named_grads()
        if self.clip:
            clipped, self.grad_norm = self.clip.reference(list(grads.values()), self.clip.max_norm)
            grads = dict(zip(grads, clipped, strict=True))
        self.optimizer.step(grads)
        return np.asarray(loss)

    def arrays(self, names: tuple[str, ...]) -> dict[str, np.ndarray]:
        """Copies: the optimizer updates the live arrays in place at the next step."""
        held = self.network.named_params() | self.network.named_state()
        found = {p.reference: np.array(held[p.reference], copy=True) for p in self.params}
        if self.clip:
            found["grad norm"] = np.array(self.grad_norm, copy=True)
        for entry in names:
            found |= {f"{entry} {name}": np.array(state[entry], copy=True)
                      for name, state in self.optimizer.state.items() if entry in state}
        return found


class _Torch:
    def __init__(self, case: TrajectoryCase, params: list[Param], values, dtype: torch.dtype):
        self.network, self.loss = case.pair.torch().to(dtype), case.pair.loss[1]()
        load_into_torch(params, values, self.network)
        self.params, self.dtype, self.clip = params, dtype, case.pair.clip
        self.optimizer = case.optimizer.torch(self.network.parameters())

    def train(self, mode: bool):
        self.network.train(mode)

    def _tensors(self, inputs, targets):
        x, t = torch.from_numpy(inputs.copy()), torch.from_numpy(targets.copy())
        return tuple(a.to(self.dtype) if a.is_floating_point() else a for a in (x, t))

    def forward(self, inputs, targets) -> torch.Tensor:
        x, t = self._tensors(inputs, targets)
        with torch.no_grad():
            return self.loss(self.network(x), t)

    def step(self, inputs, targets) -> np.ndarray:
        x, t = self._tensors(inputs, targets)
        self.optimizer.zero_grad()
        loss = self.loss(self.network(x), t)
        loss.backward()
        if self.clip:
            self.grad_norm = torch.nn.utils.clip_grad_norm_(self.network.parameters(), self.clip.max_norm)
        self.optimizer.step()
        return loss.detach().numpy().copy()

    def arrays(self, names: tuple[str, ...]) -> dict[str, np.ndarray]:
        tensors = torch_arrays(self.network)
        found = {p.reference: p.part(tensors[p.torch].detach()).numpy().copy() for p in self.params}
        if self.clip:
            found["grad norm"] = self.grad_norm.detach().numpy().copy()
        for entry in names:
            found |= {f"{entry} {p.reference}": p.part(self.optimizer.state[tensors[p.torch]][entry].detach())
                      .numpy().copy() for p in self.params if tensors[p.torch] in self.optimizer.state}
        return found


# -- running and judging a case ----------------------------------------------------------------


def _layer_path(network, name: str) -> str:
    """The classes a dotted reference name passes through: '2.conv1.W' -> 'SEResNetBlock > Conv2d'."""
    path, layer = [], network
    for part in name.split(".")[:-1]:
        layer = layer.children()[part]
        path.append(type(layer).__name__)
    return " > ".join(path) or type(network).__name__


def _checks(step: str, reference: dict, twin: dict, judge: dict, network, layouts: dict) -> list[Compared]:
    """One check per array the judge holds; one the reference lacks (an optimizer state entry
    never stored) fails as such."""
    checks = []
    for name, expected in judge.items():
        param = name.split(" ")[-1]
        label = f"{step}: {name}" + (f" ({_layer_path(network, param)})" if param in layouts else "")
        missing = "" if name in reference else f"{label}: the reference keeps no such array"
        checks.append(Compared(Key(STEP, label), reference.get(name, np.zeros(0)), twin[name], expected,
                            layouts.get(param, IDENTITY), problem=missing))
    return checks


def run_trajectory(case: TrajectoryCase, attempt: int = 0,
                   judge_only: bool = False) -> tuple[list[list[Compared]], float]:
    """Every step's checks, and the nearest any ReLU input came to its kink in the judge's run
    (``judge_only``: the float64 run alone, for that margin)."""
    trajectory, dtype = case.pair, np.dtype(case.dtype)
    seed = zlib.crc32(case.id.encode())
    rng = np.random.default_rng(seed if attempt == 0 else [seed, attempt])
    pair = trajectory.as_pair()
    module = trajectory.torch()
    params = synchronised(pair, trajectory.reference(), module)
    tensors = torch_arrays(module)
    values = {p.reference: p.draw(rng, tuple(tensors[p.torch].shape)).astype(dtype) for p in params}
    if trajectory.full_batch:
        batches = [trajectory.data(rng, dtype)] * (trajectory.steps + len(trajectory.evaluate_after))
    else:
        batches = [trajectory.data(rng, dtype, trajectory.epoch[1]) if trajectory.epoch and step % trajectory.epoch[0]
                   == 0 else trajectory.data(rng, dtype)
                   for step in range(1, trajectory.steps + len(trajectory.evaluate_after) + 1)]
    judge = _Torch(case, params, values, torch.float64)
    sides = [judge] if judge_only else [_Reference(case, params, values, dtype),
                                         _Torch(case, params, values, getattr(torch, case.dtype)), judge]
    layouts = {p.reference: p.layout for p in params}
    steps, watch, evaluations = [], ReluWatch(), iter(batches[trajectory.steps:])

    def run(method, *batch):  # every side, the judge watched for ReLU kinks
        return [np.asarray(_watched(watch, getattr(side, method), *batch) if side is judge
                           else getattr(side, method)(*batch)) for side in sides]

    for step, batch in enumerate(batches[:trajectory.steps], start=1):
        losses = run("step", *batch)
        arrays = [{"loss": loss} | side.arrays(case.optimizer.state) for side, loss in zip(sides, losses, strict=True)]
        checks = [] if judge_only else _checks(f"step {step}", *arrays, sides[0].network, layouts)
        if step in trajectory.evaluate_after:
            for side in sides:
                side.train(False)
            evaluated = run("forward", *next(evaluations))
            for side in sides:
                side.train(True)
            checks += [] if judge_only else _checks(f"step {step}, eval", *[{"loss": e} for e in evaluated],
                                                    sides[0].network, layouts)
        steps.append(checks)
    return steps, watch.margin


def _watched(watch: ReluWatch, function, *args):
    with watch:
        result = function(*args)
    return result.detach().numpy() if isinstance(result, torch.Tensor) else result


def judge_trajectory(case: TrajectoryCase) -> list[Verdict]:
    """The verdicts of the first step where any check fails, or of the last step if none does.

    In float32, draws whose float64 run brings a ReLU input within KINK_MARGIN of its kink
    are replaced by the next draw from the same seed, as the matrix does for single layers."""
    attempt = 0
    while case.dtype == "float32" and run_trajectory(case, attempt, judge_only=True)[1] < KINK_MARGIN:
        attempt += 1
        if attempt == KINK_ATTEMPTS:
            raise HarnessError(f"{case.id}: no draw in {KINK_ATTEMPTS} kept every ReLU input {KINK_MARGIN:g} from 0")
    steps, _ = run_trajectory(case, attempt)
    verdicts = []
    for checks in steps:
        verdicts = [judge_tensor(case, check) for check in checks]
        if not all(v.passed for v in verdicts):
            break
    return verdicts

