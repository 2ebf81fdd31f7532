"""The first seed's NumPy / PyTorch table, every row made a check.

Each ``Row`` holds what the seed claims, the verdict, the corrected PyTorch call, and a
``check`` that runs both libraries on generated inputs (several shapes, dtypes and axes
where the row has them) and fails if the verdict is not what the libraries do. The check
returns whether the torch operation is differentiable (None where it creates data).

``python -m parity_tests.tools.equivalence`` writes docs/numpy-torch-equivalence.md from the rows
and their checks; a test fails when the committed file is stale.
"""

from __future__ import annotations

import argparse
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "docs" / "numpy-torch-equivalence.md"

IDENTICAL = "identical"
ARGUMENTS = "identical with stated arguments"
DIFFERENT = "different"
UNAVAILABLE = "not in torch 2.13"
VERDICTS = (IDENTICAL, ARGUMENTS, DIFFERENT, UNAVAILABLE)


@dataclass(frozen=True)
class Row:
    operation: str
    numpy: str
    torch_claim: str  # the seed's PyTorch column
    verdict: str
    corrected: str  # the PyTorch call that matches NumPy
    note: str
    check: Callable[[], bool | None]


RNG = np.random.default_rng(0)
SHAPES = [(5,), (3, 4), (2, 3, 4)]


def data(shape, dtype=np.float64):
    return RNG.standard_normal(shape).astype(dtype)


def t(array) -> torch.Tensor:
    return torch.from_numpy(np.array(array))


def same(numpy_result, torch_result, dtype_too=True) -> None:
    """Values, shape and (unless told) dtype agree."""
    actual = torch_result.detach().numpy() if isinstance(torch_result, torch.Tensor) else np.asarray(torch_result)
    expected = np.asarray(numpy_result)
    assert actual.shape == expected.shape, f"shape {actual.shape} vs {expected.shape}"
    if dtype_too:
        assert actual.dtype == expected.dtype, f"dtype {actual.dtype} vs {expected.dtype}"
    np.testing.assert_allclose(actual, expected, rtol=1e-6, atol=1e-12)


def differs(numpy_result, torch_call: Callable) -> None:
    """The seed's torch call does not give NumPy's result (a different value, shape or
    dtype, a different return type, or an error)."""
    try:
        result = torch_call()
        same(numpy_result, result)
    except Exception:
        return
    raise AssertionError("the seed's call gives NumPy's result: the verdict should say identical")


def differentiable(function, *arrays) -> bool:
    """Whether autograd flows from the float inputs through ``function`` to its output."""
    inputs = [t(a).requires_grad_() for a in arrays]
    try:
        out = function(*inputs)
        out = out[0] if isinstance(out, tuple) else out
        if not out.requires_grad:
            return False
        (out.sum().abs() if out.is_complex() else out.sum()).backward()
        return all(x.grad is not None for x in inputs)
    except RuntimeError:
        return False


# -- the rows' checks ---------------------------------------------------------------------


def check_array_creation():
    same(np.array([1, 2, 3]), torch.tensor([1, 2, 3]))
    differs(np.array([1.0, 2.0]), lambda: torch.tensor([1.0, 2.0]))  # float32 by default
    same(np.array([1.0, 2.0]), torch.tensor([1.0, 2.0], dtype=torch.float64))
    return None


def check_zeros_ones():
    differs(np.zeros((3, 4)), lambda: torch.zeros(3, 4))
    same(np.zeros((3, 4)), torch.zeros(3, 4, dtype=torch.float64))
    same(np.ones((3, 4)), torch.ones(3, 4, dtype=torch.float64))
    return None


def check_random():
    a, b = np.random.default_rng(1).random((400, 50)), torch.rand(400, 50, generator=torch.Generator().manual_seed(1))
    assert a.shape == tuple(b.shape) and b.dtype == torch.float32 and a.dtype == np.float64
    assert 0 <= b.min() and b.max() < 1
    assert abs(float(b.mean()) - 0.5) < 0.01 and abs(float(b.var()) - 1 / 12) < 0.005  # U[0, 1)
    assert not np.allclose(a, b.double().numpy())  # different generators: same law, other numbers
    return None


def check_arange_linspace():
    same(np.arange(0, 10, 2), torch.arange(0, 10, 2))
    differs(np.linspace(0, 1, 5), lambda: torch.linspace(0, 1, 5))
    same(np.linspace(0, 1, 5), torch.linspace(0, 1, 5, dtype=torch.float64))
    return None


def check_shape_reshape():
    for shape in SHAPES:
        a = data(shape)
        assert a.shape == tuple(t(a).shape)
        same(a.reshape(-1, shape[-1]), t(a).reshape(-1, shape[-1]))
    return differentiable(lambda x: x.reshape(-1), data((3, 4)))


def check_indexing():
    a = data((4, 5))
    for index in [0, slice(1, 3), (slice(None), 0), (slice(None, None, 2), -1)]:
        same(a[index], t(a)[index])
    return differentiable(lambda x: x[1:3], a)


def check_math():
    a, b = np.abs(data((3, 4))), data((3, 4))
    same(a + b, t(a) + t(b))
    same(a * 2, t(a) * 2)
    same(np.sqrt(a), torch.sqrt(t(a)))
    return differentiable(torch.sqrt, a)


def check_matmul():
    a, b = data((3, 4)), data((4, 5))
    same(np.dot(a, b), torch.mm(t(a), t(b)))
    same(a @ b, t(a) @ t(b))
    batch_a, batch_b = data((2, 3, 4)), data((2, 4, 5))
    differs(np.dot(batch_a, batch_b), lambda: torch.matmul(t(batch_a), t(batch_b)))  # np.dot pairs every batch
    same(np.matmul(batch_a, batch_b), torch.matmul(t(batch_a), t(batch_b)))
    same(np.dot(batch_a, batch_b), torch.tensordot(t(batch_a), t(batch_b), dims=([-1], [-2])))
    differs(np.dot(batch_a, batch_b), lambda: torch.mm(t(batch_a), t(batch_b)))  # mm is 2-D only
    return differentiable(torch.mm, a, b)


def check_transpose():
    a = data((3, 4))
    same(a.T, t(a).T)
    cube = data((2, 3, 4))
    same(np.transpose(cube), t(cube).permute(2, 1, 0))
    differs(np.transpose(cube), lambda: t(cube).transpose(0, 1))  # swaps two axes, np reverses all
    return differentiable(lambda x: x.T, a)


def check_concatenation():
    a, b = data((2, 3)), data((2, 3))
    for axis in (0, 1):
        same(np.concatenate([a, b], axis=axis), torch.cat([t(a), t(b)], dim=axis))
        same(np.stack([a, b], axis=axis), torch.stack([t(a), t(b)], dim=axis))
    return differentiable(lambda x, y: torch.cat([x, y]), a, b)


def check_reductions():
    a = data((3, 4))
    same(np.sum(a), torch.sum(t(a)))
    same(np.mean(a), torch.mean(t(a)))
    same(np.max(a), torch.max(t(a)))
    differs(np.max(a, axis=1), lambda: torch.max(t(a), dim=1))  # (values, indices)
    same(np.max(a, axis=1), torch.amax(t(a), dim=1))
    return differentiable(torch.sum, a)


def check_broadcasting():
    a, row, scalar = data((3, 4)), data((4,)), 2.5
    same(a + row, t(a) + t(row))
    same(a + scalar, t(a) + scalar)
    same(a[:, None, :] * row[None, :, None], t(a)[:, None, :] * t(row)[None, :, None])
    return differentiable(lambda x, y: x + y, a, row)


def check_boolean_indexing():
    a = data((4, 5))
    same(a[a > 0.5], t(a)[t(a) > 0.5])
    for np_index, torch_index in zip(np.where(a > 0), torch.where(t(a) > 0), strict=True):
        same(np_index, torch_index)
    return differentiable(lambda x: x[x > 0.5], a)


def check_dtypes():
    a = data((3, 4))
    same(a.astype(np.float32), t(a).float())
    same(a.astype(np.float16), t(a).to(torch.float16))
    assert str(t(a).dtype) == "torch.float64" and a.dtype == np.float64
    return differentiable(lambda x: x.float(), a)


def check_axis_operations():
    a = data((3, 4, 5))
    a[0, 0, :2] = a.max() + 1  # a tie: both take the first maximum
    for axis in range(3):
        same(np.sum(a, axis=axis), torch.sum(t(a), dim=axis))
        same(np.argmax(a, axis=axis), torch.argmax(t(a), dim=axis))
    return differentiable(lambda x: torch.sum(x, dim=0), a)


def check_squeeze():
    a = data((1, 3, 1, 4))
    same(np.squeeze(a), t(a).squeeze())
    same(np.expand_dims(a, 0), t(a).unsqueeze(0))
    try:
        np.squeeze(a, axis=1)  # size 3: NumPy refuses
        raise AssertionError("np.squeeze of a non-unit axis should raise")
    except ValueError:
        pass
    assert t(a).squeeze(1).shape == t(a).shape  # torch silently returns the input unchanged
    return differentiable(lambda x: x.squeeze(), a)


def check_flatten():
    a = data((3, 4))
    same(a.flatten(), t(a).flatten())
    same(np.ravel(a.T), t(a).T.reshape(-1))
    try:
        t(a).T.view(-1)  # view needs contiguous memory
        raise AssertionError("view(-1) of a transposed tensor should raise")
    except RuntimeError:
        pass
    return differentiable(torch.flatten, a)


def check_clip():
    a = data((3, 4)) * 3
    same(np.clip(a, -1, 1), torch.clamp(t(a), -1, 1))
    return differentiable(lambda x: torch.clamp(x, -1, 1), a)


def check_sorting():
    a = data((3, 6))
    differs(np.sort(a), lambda: torch.sort(t(a)))  # (values, indices)
    same(np.sort(a), torch.sort(t(a)).values)
    ties = np.array([3, 1, 2, 1, 3, 1, 2, 1] * 8)
    same(np.argsort(ties, kind="stable"), torch.argsort(t(ties), stable=True))
    return differentiable(lambda x: torch.sort(x).values, a)


def check_unique():
    a = RNG.integers(0, 5, 30)
    same(np.unique(a), torch.unique(t(a)))
    values, counts = np.unique(a, return_counts=True)
    torch_values, torch_counts = torch.unique(t(a), return_counts=True)
    same(values, torch_values)
    same(counts, torch_counts)
    return differentiable(torch.unique, data((5,)))


def check_comparison():
    a, b = data((3, 4)), data((3, 4))
    same(np.equal(a, a.copy()), torch.eq(t(a), t(a)))
    assert np.allclose(a, a + 1e-9) == torch.allclose(t(a), t(a + 1e-9))  # same rtol=1e-5, atol=1e-8
    assert np.allclose(a, b) == torch.allclose(t(a), t(b))
    try:
        torch.allclose(t(a).float(), t(a))  # NumPy compares across dtypes; torch refuses
        raise AssertionError("torch.allclose across dtypes should raise")
    except RuntimeError:
        pass
    return None


def check_nan():
    a = data((3, 4))
    a[0, 1] = a[2, 2] = np.nan
    same(np.isnan(a), torch.isnan(t(a)))
    same(np.nanmean(a), torch.nanmean(t(a)))
    same(np.nanmean(a, axis=0), torch.nanmean(t(a), dim=0))
    return differentiable(torch.nanmean, data((3, 4)))


def check_copying():
    a = data((3,))
    copy, tensor = a.copy(), t(a)
    clone, detached = tensor.clone(), tensor.detach()
    tensor[0] = 99.0
    assert copy[0] != 99.0 and clone[0] != 99.0
    assert detached[0] == 99.0  # detach() shares memory: it is not a copy
    return differentiable(torch.clone, a)


def check_memory_layout():
    a = data((3, 4)).T  # a strided view
    tensor = torch.from_numpy(a)  # keeps the strides
    assert not a.flags.c_contiguous and not tensor.is_contiguous()
    same(np.ascontiguousarray(a), tensor.contiguous())
    assert np.ascontiguousarray(a).flags.c_contiguous and tensor.contiguous().is_contiguous()
    return differentiable(lambda x: x.T.contiguous(), data((3, 4)))


def check_splitting():
    a = data((6, 4))
    parts = np.split(a, 3)
    differs(parts[0], lambda: torch.split(t(a), 3)[0])  # torch.split takes a chunk SIZE
    for np_part, chunk, split in zip(parts, torch.chunk(t(a), 3), torch.tensor_split(t(a), 3), strict=True):
        same(np_part, chunk)
        same(np_part, split)
    for np_part, torch_part in zip(np.hsplit(a, 2), torch.chunk(t(a), 2, dim=1), strict=True):
        same(np_part, torch_part)
    return differentiable(lambda x: torch.chunk(x, 3)[0], a)


def check_padding():
    a = data((2, 3))
    numpy_result = np.pad(a, ((1, 2), (0, 3)))
    differs(numpy_result, lambda: F.pad(t(a), (1, 2, 0, 3)))  # torch starts from the LAST axis
    same(numpy_result, F.pad(t(a), (0, 3, 1, 2)))
    same(np.pad(a, 1), F.pad(t(a), (1, 1, 1, 1)))
    return differentiable(lambda x: F.pad(x, (1, 1)), a)


def check_meshgrid():
    x, y = data((3,)), data((4,))
    numpy_grids = np.meshgrid(x, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch warns that the default will change
        differs(numpy_grids[0], lambda: torch.meshgrid(t(x), t(y))[0])  # 'ij' by default
    for np_grid, torch_grid in zip(numpy_grids, torch.meshgrid(t(x), t(y), indexing="xy"), strict=True):
        same(np_grid, torch_grid)
    return differentiable(lambda u, v: torch.meshgrid(u, v, indexing="xy")[0], x, y)


def check_norm():
    for shape in SHAPES:
        a = data(shape)
        same(np.linalg.norm(a), torch.norm(t(a)))
        same(np.linalg.norm(a), torch.linalg.norm(t(a).flatten()))
    return differentiable(torch.norm, data((3, 4)))


def check_inverse():
    a = data((4, 4)) + 4 * np.eye(4)
    same(np.linalg.inv(a), torch.inverse(t(a)))
    same(np.linalg.inv(a), torch.linalg.inv(t(a)))
    return differentiable(torch.inverse, a)


def check_eigenvalues():
    try:
        torch.eig(t(np.eye(2)))  # removed from torch (it now only raises); torch.linalg.eig replaces it
        raise AssertionError("torch.eig still computes")
    except RuntimeError:
        pass
    a = data((4, 4))
    a = a + a.T  # symmetric: real eigenvalues, comparable in order
    np_values = np.sort(np.linalg.eig(a)[0].real)
    same(np_values, torch.sort(torch.linalg.eig(t(a))[0].real).values)
    same(np.linalg.eigvalsh(a), torch.linalg.eigvalsh(t(a)))
    return differentiable(torch.linalg.eigvalsh, a)


def check_take():
    a, index = data((3, 4)), np.array([0, 5, 11])
    same(np.take(a, index), torch.take(t(a), t(index)))
    same(np.take(a, [2, 0], axis=1), torch.index_select(t(a), 1, t(np.array([2, 0]))))
    return differentiable(lambda x: torch.take(x, t(index)), a)


def check_put():
    a, index, values = data((3, 4)), np.array([0, 5, 11]), np.array([7.0, 8.0, 9.0])
    expected = a.copy()
    np.put(expected, index, values)
    differs(expected, lambda: t(a).scatter_(0, t(index[None, :3] % 3), t(values[None, :])))
    same(expected, t(a).put_(t(index), t(values)))
    return differentiable(lambda x: x.clone().put_(t(index), t(values)), a)


def check_choose():
    choices = [data((5,)) for _ in range(3)]
    index = RNG.integers(0, 3, 5)
    expected = np.choose(index, choices)
    differs(expected, lambda: torch.gather(t(choices[0]), 0, t(index)))
    same(expected, torch.gather(torch.stack([t(c) for c in choices]), 0, t(index)[None])[0])
    return differentiable(lambda x: torch.gather(x, 0, t(index)[None])[0], np.stack(choices))


def check_std_var():
    a = data((4, 5))
    differs(np.std(a), lambda: torch.std(t(a)))  # torch divides by n - 1
    same(np.std(a), torch.std(t(a), correction=0))
    differs(np.var(a, axis=0), lambda: torch.var(t(a), dim=0))
    same(np.var(a, axis=0), torch.var(t(a), dim=0, correction=0))
    return differentiable(lambda x: torch.std(x, correction=0), a)


def check_percentile():
    a = data((101,))
    differs(np.percentile(a, 30), lambda: torch.quantile(t(a), 30))  # q in [0, 1] for torch
    same(np.percentile(a, 30), torch.quantile(t(a), 0.30))
    return differentiable(lambda x: torch.quantile(x, 0.3), a)


def check_histogram():
    a = data((200,))
    counts, edges = np.histogram(a)
    differs(counts, lambda: torch.histc(t(a)))  # 100 float bins by default, no edges
    hist, bin_edges = torch.histogram(t(a), bins=10)
    same(counts.astype(np.float64), hist)
    same(edges, bin_edges)
    return differentiable(lambda x: torch.histc(x, bins=10), a)


def check_einsum():
    a, b = data((3, 4)), data((4, 5))
    same(np.einsum("ij,jk->ik", a, b), torch.einsum("ij,jk->ik", t(a), t(b)))
    same(np.einsum("ii->", a[:3, :3]), torch.einsum("ii->", t(a[:3, :3])))
    return differentiable(lambda x, y: torch.einsum("ij,jk->ik", x, y), a, b)


def check_roll():
    a = data((3, 4))
    same(np.roll(a, 2), torch.roll(t(a), 2))
    same(np.roll(a, -1, axis=1), torch.roll(t(a), -1, dims=1))
    return differentiable(lambda x: torch.roll(x, 1), a)


def check_flip():
    a = data((2, 3, 4))
    differs(np.flip(a), lambda: torch.flip(t(a)))  # dims is required
    same(np.flip(a), torch.flip(t(a), dims=(0, 1, 2)))
    same(np.flip(a, axis=1), torch.flip(t(a), dims=(1,)))
    return differentiable(lambda x: torch.flip(x, dims=(0,)), a)


def check_gradient():
    a = data((6,))
    same(np.gradient(a), torch.gradient(t(a))[0])  # the seed says there is none
    grid = data((4, 5))
    for np_grad, torch_grad in zip(np.gradient(grid), torch.gradient(t(grid)), strict=True):
        same(np_grad, torch_grad)
    return differentiable(lambda x: torch.gradient(x)[0], a)


def check_convolve():
    a, b = data((8,)), data((3,))
    expected = np.convolve(a, b)  # full length, kernel flipped
    differs(expected, lambda: F.conv1d(t(a)[None, None], t(b)[None, None])[0, 0])
    same(expected, F.conv1d(t(a)[None, None], t(b).flip(0)[None, None], padding=len(b) - 1)[0, 0])
    return differentiable(lambda x, k: F.conv1d(x[None, None], k.flip(0)[None, None], padding=2), a, b)


def check_fft():
    a = data((16,))
    same(np.fft.fft(a), torch.fft.fft(t(a)))
    same(np.fft.rfft(a), torch.fft.rfft(t(a)))
    return differentiable(torch.fft.fft, a)


def horner(coefficients: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    result = torch.zeros_like(x)
    for c in coefficients.flip(0):
        result = result * x + c
    return result


def check_polynomial():
    assert not hasattr(torch, "polyval") and not hasattr(torch.special, "polyval")
    x, c = data((7,)), data((4,))
    same(np.polynomial.polynomial.polyval(x, c), horner(t(c), t(x)))
    return differentiable(horner, c, x)


def check_save_load():
    a = data((3, 4))
    with tempfile.TemporaryDirectory() as folder:
        np.savez(Path(folder, "file.npz"), arr=a)
        torch.save(t(a), Path(folder, "file.pt"))
        same(np.load(Path(folder, "file.npz"))["arr"], torch.load(Path(folder, "file.pt")))
        try:
            torch.load(Path(folder, "file.npz"))  # the formats are not interchangeable
            raise AssertionError("torch read a NumPy archive")
        except RuntimeError:
            pass
    return None


# -- the table ----------------------------------------------------------------------------

ROWS = [
    Row("Array Creation", "np.array([1,2,3])", "torch.tensor([1,2,3])", ARGUMENTS,
        "torch.tensor(data, dtype=torch.float64) (or torch.from_numpy)",
        "integers agree; Python floats become float32 in torch, float64 in NumPy", check_array_creation),
    Row("Zeros/Ones", "np.zeros((3,4)), np.ones((3,4))", "torch.zeros(3,4), torch.ones(3,4)", ARGUMENTS,
        "torch.zeros(3, 4, dtype=torch.float64)", "torch's default dtype is float32", check_zeros_ones),
    Row("Random Arrays", "np.random.rand(3,4)", "torch.rand(3,4)", ARGUMENTS,
        "torch.rand(3, 4, dtype=torch.float64)",
        "same law U[0, 1) and shape; float32 by default; different generators, so other numbers", check_random),
    Row("Arange/Linspace", "np.arange(0,10,2), np.linspace(0,1,5)", "torch.arange(0,10,2), torch.linspace(0,1,5)",
        ARGUMENTS, "torch.linspace(0, 1, 5, dtype=torch.float64)", "arange agrees; linspace is float32",
        check_arange_linspace),
    Row("Shape/Reshape", "arr.shape, arr.reshape(2,3)", "tensor.shape, tensor.reshape(2,3)", IDENTICAL,
        "tensor.shape, tensor.reshape(2, 3)", "torch.Size is a tuple", check_shape_reshape),
    Row("Indexing/Slicing", "arr[0], arr[1:3], arr[:, 0]", "tensor[0], tensor[1:3], tensor[:, 0]", IDENTICAL,
        "tensor[0], tensor[1:3], tensor[:, 0]", "", check_indexing),
    Row("Mathematical Ops", "arr1 + arr2, arr * 2, np.sqrt(arr)", "tensor1 + tensor2, tensor * 2, torch.sqrt(tensor)",
        IDENTICAL, "tensor1 + tensor2, tensor * 2, torch.sqrt(tensor)", "", check_math),
    Row("Matrix Multiplication", "np.dot(a,b), a @ b", "torch.mm(a,b), a @ b, torch.matmul(a,b)", DIFFERENT,
        "torch.matmul(a, b) for np.matmul; torch.tensordot(a, b, dims=([-1], [-2])) for np.dot on N-D",
        "2-D agrees; np.dot on N-D pairs every batch of a with every batch of b, torch.mm refuses N-D",
        check_matmul),
    Row("Transpose", "arr.T, np.transpose(arr)", "tensor.T, tensor.transpose(0,1)", DIFFERENT,
        "tensor.permute(*reversed(range(tensor.ndim)))",
        "2-D agrees; np.transpose reverses all axes, tensor.transpose(0, 1) swaps two", check_transpose),
    Row("Concatenation", "np.concatenate([a,b]), np.stack([a,b])", "torch.cat([a,b]), torch.stack([a,b])",
        IDENTICAL, "torch.cat([a, b], dim=axis), torch.stack([a, b], dim=axis)", "", check_concatenation),
    Row("Reduction Ops", "np.sum(arr), np.mean(arr), np.max(arr)", "torch.sum(tensor), torch.mean(tensor), "
        "torch.max(tensor)", DIFFERENT, "torch.amax(tensor, dim=axis)",
        "whole-array reductions agree; torch.max(t, dim) returns (values, indices)", check_reductions),
    Row("Broadcasting", "arr + scalar, automatic expansion", "Same behavior with tensors", IDENTICAL,
        "the same expressions", "", check_broadcasting),
    Row("Boolean Indexing", "arr[arr > 5], np.where(condition)", "tensor[tensor > 5], torch.where(condition)",
        IDENTICAL, "tensor[tensor > 5], torch.where(condition)", "", check_boolean_indexing),
    Row("Data Types", "arr.astype(np.float32), arr.dtype", "tensor.float(), tensor.dtype", IDENTICAL,
        "tensor.to(torch.float32) (tensor.float() is float32 only)", "", check_dtypes),
    Row("Axis Operations", "np.sum(arr, axis=0), np.argmax(arr, axis=1)", "torch.sum(tensor, dim=0), "
        "torch.argmax(tensor, dim=1)", IDENTICAL, "torch.sum(tensor, dim=0), torch.argmax(tensor, dim=1)",
        "argmax takes the first maximum on both", check_axis_operations),
    Row("Squeeze/Unsqueeze", "np.squeeze(arr), np.expand_dims(arr, axis=0)", "tensor.squeeze(), tensor.unsqueeze(0)",
        DIFFERENT, "tensor.squeeze(dim) after checking tensor.shape[dim] == 1",
        "no-axis forms agree; np.squeeze(a, axis) raises on a non-unit axis, torch returns the input unchanged",
        check_squeeze),
    Row("Flatten/Ravel", "arr.flatten(), arr.ravel()", "tensor.flatten(), tensor.view(-1)", DIFFERENT,
        "tensor.flatten() or tensor.reshape(-1)", "view(-1) raises on non-contiguous tensors (a transpose)",
        check_flatten),
    Row("Clipping", "np.clip(arr, min_val, max_val)", "torch.clamp(tensor, min_val, max_val)", IDENTICAL,
        "torch.clamp(tensor, min_val, max_val)", "", check_clip),
    Row("Sorting", "np.sort(arr), np.argsort(arr)", "torch.sort(tensor), torch.argsort(tensor)", DIFFERENT,
        "torch.sort(tensor).values; torch.argsort(tensor, stable=True) with np.argsort(kind='stable')",
        "torch.sort returns (values, indices); tie order needs stable sorts on both", check_sorting),
    Row("Unique Values", "np.unique(arr)", "torch.unique(tensor)", IDENTICAL, "torch.unique(tensor)",
        "sorted on both; return_counts agrees", check_unique),
    Row("Array Comparison", "np.equal(a, b), np.allclose(a, b)", "torch.eq(a, b), torch.allclose(a, b)", IDENTICAL,
        "torch.eq(a, b), torch.allclose(a, b) on tensors of one dtype",
        "same rtol/atol defaults; torch.allclose refuses mixed dtypes", check_comparison),
    Row("NaN Handling", "np.isnan(arr), np.nanmean(arr)", "torch.isnan(tensor), torch.nanmean(tensor)", IDENTICAL,
        "torch.isnan(tensor), torch.nanmean(tensor)", "", check_nan),
    Row("Copying", "arr.copy()", "tensor.clone(), tensor.detach()", DIFFERENT, "tensor.clone()",
        "tensor.detach() shares memory with the tensor: it is not a copy", check_copying),
    Row("Memory Layout", "np.ascontiguousarray(arr)", "tensor.contiguous()", IDENTICAL, "tensor.contiguous()", "",
        check_memory_layout),
    Row("Splitting", "np.split(arr, 3), np.hsplit(arr, 2)", "torch.split(tensor, 3), torch.chunk(tensor, 2)",
        DIFFERENT, "torch.chunk(tensor, 3) (or torch.tensor_split); torch.chunk(tensor, 2, dim=1) for hsplit",
        "torch.split(t, 3) makes chunks of size 3, np.split(a, 3) makes 3 chunks", check_splitting),
    Row("Padding", "np.pad(arr, pad_width)", "torch.nn.functional.pad(tensor, pad)", DIFFERENT,
        "F.pad(tensor, (last_before, last_after, first_before, first_after))",
        "np.pad lists axes first to last, F.pad last to first", check_padding),
    Row("Meshgrid", "np.meshgrid(x, y)", "torch.meshgrid(x, y)", ARGUMENTS, "torch.meshgrid(x, y, indexing='xy')",
        "NumPy's default indexing is 'xy', torch's 'ij'", check_meshgrid),
    Row("Linear Algebra - Norm", "np.linalg.norm(arr)", "torch.norm(tensor)", IDENTICAL, "torch.linalg.norm(tensor)",
        "torch.norm is deprecated in favour of torch.linalg.norm", check_norm),
    Row("Linear Algebra - Inverse", "np.linalg.inv(arr)", "torch.inverse(tensor)", IDENTICAL,
        "torch.linalg.inv(tensor)", "", check_inverse),
    Row("Linear Algebra - Eigenvalues", "np.linalg.eig(arr)", "torch.eig(tensor)", UNAVAILABLE,
        "torch.linalg.eig(tensor) (torch.linalg.eigvalsh for symmetric matrices)",
        "torch.eig was removed; linalg.eig returns complex eigenvalues, like NumPy's", check_eigenvalues),
    Row("Advanced Indexing - Take", "np.take(arr, indices)", "torch.take(tensor, indices)", IDENTICAL,
        "torch.take(tensor, indices); torch.index_select for np.take(..., axis)", "flat indices on both",
        check_take),
    Row("Advanced Indexing - Put", "np.put(arr, indices, values)", "tensor.scatter_(dim, indices, values)",
        DIFFERENT, "tensor.put_(indices, values)", "scatter_ indexes along a dimension, np.put flat", check_put),
    Row("Advanced Indexing - Choose", "np.choose(indices, arrays)", "torch.gather(tensor, dim, indices)", ARGUMENTS,
        "torch.gather(torch.stack(arrays), 0, indices[None])[0]", "gather needs the choices stacked first",
        check_choose),
    Row("Statistics - Std Dev", "np.std(arr)", "torch.std(tensor)", ARGUMENTS, "torch.std(tensor, correction=0)",
        "torch divides by n - 1 by default, NumPy by n", check_std_var),
    Row("Statistics - Variance", "np.var(arr)", "torch.var(tensor)", ARGUMENTS, "torch.var(tensor, correction=0)",
        "torch divides by n - 1 by default, NumPy by n", check_std_var),
    Row("Statistics - Percentiles", "np.percentile(arr, q)", "torch.quantile(tensor, q)", ARGUMENTS,
        "torch.quantile(tensor, q / 100)", "percentiles are in [0, 100], quantiles in [0, 1]", check_percentile),
    Row("Statistics - Histogram", "np.histogram(arr)", "torch.histc(tensor)", DIFFERENT,
        "torch.histogram(tensor, bins=10) (float counts and edges)",
        "histc defaults to 100 bins and returns no edges", check_histogram),
    Row("Einstein Summation", "np.einsum('ij,jk->ik', a, b)", "torch.einsum('ij,jk->ik', a, b)", IDENTICAL,
        "torch.einsum('ij,jk->ik', a, b)", "", check_einsum),
    Row("Roll Elements", "np.roll(arr, shift)", "torch.roll(tensor, shift)", IDENTICAL, "torch.roll(tensor, shift)",
        "without an axis both roll the flattened array", check_roll),
    Row("Flip Arrays", "np.flip(arr)", "torch.flip(tensor, dims)", ARGUMENTS,
        "torch.flip(tensor, dims=tuple(range(tensor.ndim)))", "torch requires dims", check_flip),
    Row("Numerical Gradient", "np.gradient(arr)", "No direct equivalent (use autograd)", DIFFERENT,
        "torch.gradient(tensor)[0]", "the seed's claim is wrong: torch.gradient computes the same differences",
        check_gradient),
    Row("1D Convolution", "np.convolve(a, b)", "torch.nn.functional.conv1d()", DIFFERENT,
        "F.conv1d(a[None, None], b.flip(0)[None, None], padding=len(b) - 1)[0, 0]",
        "conv1d is cross-correlation without padding on (N, C, L); np.convolve flips and returns full length",
        check_convolve),
    Row("FFT", "np.fft.fft(arr)", "torch.fft.fft(tensor)", IDENTICAL, "torch.fft.fft(tensor)", "", check_fft),
    Row("Polynomial Operations", "np.polynomial.polynomial.polyval()", "No direct equivalent", UNAVAILABLE,
        "Horner's rule: r = 0; for c in reversed(coefficients): r = r * x + c",
        "the seed's claim holds: torch has no polyval", check_polynomial),
    Row("Save/Load Arrays", "np.savez('file.npz', arr)", "torch.save(tensor, 'file.pt')", IDENTICAL,
        "torch.save(tensor, path); torch.load(path)", "each round-trips its own values; the file formats differ",
        check_save_load),
]


def render(rows=ROWS) -> str:
    lines = [
        "# NumPy / PyTorch equivalence",
        "",
        "Generated by `make docs` (`python -m parity_tests.tools.equivalence`) from the checks in",
        "`parity_tests/tools/equivalence.py`, which run both libraries on generated inputs. Do not edit by hand.",
        f"Checked against torch {torch.__version__.split('+')[0]} (the pinned release).",
        "",
        "| operation | NumPy | the seed's PyTorch | verdict | PyTorch that matches NumPy | differentiable | notes |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        grad = row.check()
        grad_text = "n/a (creates data)" if grad is None else ("yes" if grad else "no")
        cells = [row.operation, f"`{row.numpy}`", f"`{row.torch_claim}`", row.verdict, f"`{row.corrected}`",
                 grad_text, row.note]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description="write docs/numpy-torch-equivalence.md from the checks")
    parser.add_argument("--out", type=Path, default=DOCUMENT)
    args = parser.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render())
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
