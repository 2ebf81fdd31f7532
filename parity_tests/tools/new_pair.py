"""Write the skeleton of a new layer pair: ``python -m parity_tests.tools.new_pair Foo``.

Creates ``reference/foo.py`` (the NumPy layer), ``torch_impl/foo.py`` (its twin), appends the
pair's declaration to ``parity_tests/suite/pairs.py`` and a bug variant to
``parity_tests/suite/bugs.py``. The skeleton is the identity, and ``make test`` is green from
the start with no test file edited; replace its maths, mapping, grid and variant with the
real ones. File names follow the class's words: ``LeakyReLU`` -> ``leaky_relu.py``.
"""

import argparse
import re
from pathlib import Path

REFERENCE = '''"""{name}: TODO one line on what it computes."""

from reference.base import Layer, check_input


class {name}(Layer):
    """y = x (TODO: the formula).  x, y: (N, C) (TODO: the shapes).

    dL/dx = g (TODO: the gradient of every input and parameter).
    """

    def forward(self, x):
        check_input(x, "{name} input", ("N", "C"))
        return self._remember_output(x.copy())

    def backward(self, grad_out):
        grad_out = self._check_grad(grad_out)
        return grad_out.copy()
'''

TWIN = '''"""Twin of reference/{module}.py, from torch's own modules and operations."""

from torch import nn

from torch_impl.base import check_input


class {name}(nn.Module):
    def forward(self, x):
        check_input(x, "{name} input", ("N", "C"))
        return x.clone()  # TODO: torch's modules and operations; never a hand-written backward
'''

DECLARATION = '''

# -- {name}: written by `make new-pair NAME={name}` ---------------------------------------

from reference import {module} as _{module}_reference  # noqa: E402
from torch_impl import {module} as _{module}_torch  # noqa: E402

PAIRS.append(
    Pair(
        name="{name}",
        reference=lambda c: _{module}_reference.{name}(),
        torch=lambda c: _{module}_torch.{name}(),
        inputs=(normal("N", "C"),),
        configs=grid("N{{N}}C{{C}}", N=[1, 4], C=[3, 8]),
        params=(),  # Param("W", "weight", permute=...) for each parameter
    )
)
REGISTRY["{name}"] = PAIRS[-1]
'''


VARIANT = '''

# -- {name}: written by `make new-pair NAME={name}` ---------------------------------------

from reference import {module} as _{module}_reference  # noqa: E402


def {module}_grad_doubled(self, grad_out):
    """TODO: a mistake people really make writing {name}; this stub doubles the gradient."""
    return 2 * _{module}_backward(self, grad_out)


_{module}_backward = _{module}_reference.{name}.backward
BUGS.append(_patch("{module}_grad_doubled", "{name}", _{module}_reference.{name}, "backward",
                   {module}_grad_doubled, "TODO: the mistake, in a few words"))
'''


def module_name(name: str) -> str:
    """The class's words, lower case, joined by underscores: LeakyReLU -> leaky_relu, LSTM ->
    lstm, LayerScale -> layer_scale, BatchNorm1d -> batch_norm1d."""
    words = re.findall(r"[A-Z][a-z]+(?:[A-Z]+(?![a-z]))?|[A-Z]+(?![a-z])|[a-z]+|\d+[a-z]*", name)
    module = ""
    for word in words:
        module += word.lower() if not module or word[0].isdigit() else "_" + word.lower()
    return module


def write_skeleton(name: str, root: Path) -> list[Path]:
    if not re.fullmatch(r"[A-Z][A-Za-z0-9]*", name):
        raise SystemExit(f"new-pair: expected a class name like LayerScale, got {name!r}")
    module = module_name(name)
    targets = [root / "reference" / f"{module}.py", root / "torch_impl" / f"{module}.py"]
    if existing := [str(p) for p in targets if p.exists()]:
        raise SystemExit(f"new-pair: expected new files, but {existing} already exist")
    targets[0].write_text(REFERENCE.format(name=name))
    targets[1].write_text(TWIN.format(name=name, module=module))
    with open(root / "parity_tests" / "suite" / "pairs.py", "a") as pairs:
        pairs.write(DECLARATION.format(name=name, module=module))
    with open(root / "parity_tests" / "suite" / "bugs.py", "a") as bugs:
        bugs.write(VARIANT.format(name=name, module=module))
    return [*targets, root / "parity_tests" / "suite" / "pairs.py", root / "parity_tests" / "suite" / "bugs.py"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="the layer's class name, e.g. LayerScale")
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[2])
    args = parser.parse_args(argv)
    for path in write_skeleton(args.name, args.root):
        print(f"wrote {path}")
    print(f"next: make parity, then pytest -k {args.name}")


if __name__ == "__main__":
    main()
