"""Prove hand-written NumPy layers against their PyTorch twins, forward and backward.

    from parity_tests import check, grid, Pair, Param, parity_matrix
    from parity_tests.conventions import Attributes
    from parity_tests.inputs import normal

    check(Dense(3, 4), nn.Linear(3, 4), x)  # one call, no test file: prints a verdict, raises if it fails
    check(Engine(tensor=Tensor, ops=("add", "mul", "sum")))  # an autograd engine, op by op

    DENSE = Pair(name="Dense", reference=lambda c: Dense(c.C, 4), torch=lambda c: nn.Linear(c.C, 4),
                 inputs=(normal("N", "C"),), configs=grid("N{N}C{C}", N=[1, 4], C=[3]),
                 params=(Param("W", "weight", permute=(1, 0)), Param("b", "bias")),
                 convention=Attributes(grads="d{}"))
    test_dense = parity_matrix(DENSE)     # the matrix, one pytest item a case
    test_engine = parity_matrix(ENGINE)   # an engine over the op catalog

What another project imports is the engine (``parity_tests.engine``), named here; the input
makers are in ``parity_tests.inputs``, the conventions in ``parity_tests.conventions`` (the
closure-style ``Closure`` and ``VJP`` here too), the sampling checks in
``parity_tests.sampling``, the op catalog in ``parity_tests.engine.ops``. ``parity_tests.suite``
and ``parity_tests.tools`` are this repository's own suite and tools. A name is imported when it
is first used: importing the package (as pytest does for its plugin) imports no torch.
"""

import importlib

_WHERE = {
    # declarations
    "Pair": "registry", "Param": "registry", "grid": "registry", "nested": "registry", "axes": "layouts",
    "Tolerance": "tolerances", "Trajectory": "trajectory", "Optimizer": "trajectory",
    "Engine": "engines", "Op": "ops", "Semantic": "ops", "CATALOG": "ops", "SEMANTICS": "ops",
    "Closure": "conventions", "VJP": "conventions",
    # runners
    "check": "check", "assert_pair": "judge", "parity_matrix": "engines",
    # results and errors
    "CheckResult": "check", "EngineCheckResult": "check", "CheckFailed": "check", "Verdict": "judge",
    "DeclarationError": "layouts", "HarnessError": "harness", "CaseError": "judge",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'parity_tests' has no attribute {name!r}")
    return getattr(importlib.import_module(f"parity_tests.engine.{_WHERE[name]}"), name)


def __dir__():
    return __all__
