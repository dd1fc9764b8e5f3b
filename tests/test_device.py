"""Devices: the same generated code on numpy and on cupy, chosen by the arguments or by `device=`.

The cupy half runs only where cupy and an NVIDIA GPU are present, and is skipped (not failed) elsewhere,
so CI on a CPU machine stays green.
"""

import sys
import types
from functools import partial
from pathlib import Path

import numpy as np
import pytest

import sourcegrad
from sourcegrad import SourcegradError
from sourcegrad.runtime import HELPERS
from sourcegrad.runtime.device import DeviceFunctions, device_array_module

from device_support import GPU, IN_MEMORY_DEVICES, host, needs_gpu, on

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))

import dynamic_net  # noqa: E402
import dynamic_net_numpy  # noqa: E402


rng = np.random.default_rng(8)


def two_layer(x, y, w1, w2):
    h = x.dot(w1)
    h_relu = np.maximum(h, 0)
    y_pred = h_relu.dot(w2)
    return np.square(y_pred - y).sum()


def rnn(h, W, xs):
    for t in range(xs.shape[0]):
        h = np.tanh(h @ W + xs[t])
    return (h * h).sum()


def picks(x, w):
    return (x[[0, 0, 2]] * w).sum() + (x[1:] ** 2).sum()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_two_layer_same_gradients_on_every_device(device, dtype):
    args = [rng.standard_normal(s).astype(dtype) for s in ((6, 5), (6, 3), (5, 4), (4, 3))]
    f = sourcegrad.differentiate(two_layer, wrt=("w1", "w2"))
    reference = f.grad(*args)
    loss, grads = f.value_and_grad(*on(device, args))
    assert all(type(g).__module__.split(".")[0] == ("cupy" if device == "cuda" else "numpy") for g in grads)
    for got, want in zip(host(grads), reference):
        assert got.dtype == dtype
        np.testing.assert_allclose(got, want, rtol=1e-5 if dtype == np.float32 else 1e-10, atol=1e-6)


def test_loops_indexing_and_the_dynamic_net_on_every_device(device):
    h, W, xs = rng.standard_normal((2, 3)), rng.standard_normal((3, 3)) * 0.5, rng.standard_normal((4, 2, 3))
    f = sourcegrad.differentiate(rnn, wrt=("h", "W"))
    for got, want in zip(host(f.grad(*on(device, (h, W, xs)))), f.grad(h, W, xs)):
        np.testing.assert_allclose(got, want, rtol=1e-10)
    g = sourcegrad.differentiate(picks, wrt=("x", "w"))
    x, w = rng.standard_normal(4), rng.standard_normal(3)
    for got, want in zip(host(g.grad(*on(device, (x, w)))), g.grad(x, w)):
        np.testing.assert_allclose(got, want, rtol=1e-10)
    x, y, params = dynamic_net.make_data(0)
    for depth in (0, 3):
        _, want = dynamic_net_numpy.loss_and_grads(x, y, *params, depth)
        _, got = dynamic_net.loss_fn.value_and_grad(*on(device, (x, y, *params)), depth)
        for a, b in zip(host(got), want):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9)


LOWER, UPPER = np.array([-0.5, -0.2, 0.0]), np.array([0.5, 0.8, 1.0])  # numpy constants, outside the function


def clip_to_constants(x, w):
    return (np.clip(x, LOWER, UPPER) * w).sum()


def test_numpy_constants_from_outside_the_function_serve_on_every_device(device):
    # On cupy the forward pass and the backward pass's helpers get them on the device, as numpy would use them.
    x, w = np.array([-1.0, 0.3, 2.0]), np.array([1.0, 2.0, 3.0])
    assert sourcegrad.check_grad(clip_to_constants, x, w, wrt=("x", "w"), device=device).max_error < 1e-7


def test_one_generated_file_serves_both_devices(device):
    f = sourcegrad.differentiate(two_layer, wrt="w1")
    args = [rng.standard_normal(s) for s in ((6, 5), (6, 3), (5, 4), (4, 3))]
    f.grad(*args)
    path = f.generated_path
    f.grad(*on(device, args), device=device)
    assert f.generated_path == path


def test_device_cpu_is_numpy():
    args = [rng.standard_normal(s) for s in ((6, 5), (6, 3), (5, 4), (4, 3))]
    grads = sourcegrad.differentiate(two_layer, wrt=("w1", "w2"), device="cpu").grad(*args)
    assert all(isinstance(g, np.ndarray) for g in grads)


def test_unknown_device_is_an_error():
    with pytest.raises(SourcegradError, match="unknown device 'tpu'"):
        sourcegrad.differentiate(two_layer).grad(*[np.ones((2, 2))] * 4, device="tpu")


@pytest.mark.skipif(GPU, reason="this machine has cupy and a GPU")
def test_cuda_without_cupy_or_gpu_says_what_to_install():
    with pytest.raises(SourcegradError) as info:
        sourcegrad.differentiate(two_layer, device="cuda").grad(*[np.ones((2, 2))] * 4)
    text = str(info.value)
    assert ("pip install cupy-cuda12x" in text and "pip install -e '.[cuda12]'" in text) or ("needs an NVIDIA GPU" in text)


@needs_gpu
def test_mixed_numpy_and_cupy_arguments_are_an_error():
    import cupy

    args = [np.ones((2, 2)), cupy.ones((2, 2)), np.ones((2, 2)), np.ones((2, 2))]
    with pytest.raises(SourcegradError, match="mix numpy and cupy"):
        sourcegrad.differentiate(two_layer).grad(*args)
    with pytest.raises(SourcegradError, match="device='cuda' was asked for, but the arguments are numpy"):
        sourcegrad.differentiate(two_layer, device="cuda").grad(*[np.ones((2, 2))] * 4)


@needs_gpu
@pytest.mark.parametrize("dtype, tolerance", [(np.float64, 1e-9), (np.float32, 1e-4)])
def test_two_layer_example_on_cupy_matches_numpy(dtype, tolerance):
    import two_layer

    quiet = lambda t, loss: None  # noqa: E731
    on_gpu = two_layer.train(steps=50, dtype=dtype, log=quiet, device="cuda")
    on_cpu = two_layer.train(steps=50, dtype=dtype, log=quiet)
    np.testing.assert_allclose(on_gpu, on_cpu, rtol=tolerance)


@pytest.mark.parametrize("device", IN_MEMORY_DEVICES)  # on dask the weights, and so the optimizers, stay numpy's
def test_optimizers_update_in_place_on_every_device(device):
    from sourcegrad.optim import SGD, Adam

    for make in (lambda p: SGD(p, lr=0.1, momentum=0.9, nesterov=True), lambda p: Adam(p, lr=0.1)):
        reference = {"w": np.arange(6.0).reshape(2, 3), "b": [np.ones(3)]}
        params = {"w": on(device, reference["w"].copy()), "b": [on(device, reference["b"][0].copy())]}
        grads = {"w": np.full((2, 3), 0.5), "b": [np.full(3, -0.25)]}
        same = params["w"]
        on_host, on_device = make(reference), make(params)
        for _ in range(3):
            on_host.step(grads)
            on_device.step({"w": on(device, grads["w"]), "b": [on(device, grads["b"][0])]})
        assert params["w"] is same  # in place
        np.testing.assert_allclose(host(params["w"]), reference["w"], rtol=1e-12)
        np.testing.assert_allclose(host(params["b"][0]), reference["b"][0], rtol=1e-12)


# ---- cupy's xp, checked on the CPU: a stand-in module as strict as cupy -------------------------------------


class OnDevice(np.ndarray):
    """An array the stand-in module counts as its own (cupy's functions take only cupy arrays)."""


def strict_module():
    """A module whose functions refuse what cupy's refuse: host values where an array goes, numpy 2's
    `correction=` and `reshape(shape=)`, arrays of repetitions, and batch axes that differ in solve."""

    def own(*arrays):
        for a in arrays:
            if not isinstance(a, OnDevice):
                raise TypeError(f"expected a device array, got {type(a).__name__}")

    def asarray(value, dtype=None):
        return np.asarray(value, dtype=dtype).view(OnDevice)

    def total(a, axis=None, keepdims=False):
        own(a)
        if not isinstance(axis, (int, np.integer, type(None))) or not isinstance(keepdims, bool):
            raise TypeError("axis and keepdims are host values")
        return np.asarray(np.sum(a, axis=axis, keepdims=keepdims)).view(OnDevice)

    def inv(a):
        if not isinstance(a, OnDevice):
            raise np.linalg.LinAlgError("cupy.linalg takes cupy arrays only")
        if a.shape[-1] != a.shape[-2]:
            raise ValueError("a must be square")
        return np.linalg.inv(a).view(OnDevice)

    def var(a, axis=None, ddof=0):
        own(a)
        return np.var(a, axis=axis, ddof=ddof).view(OnDevice)

    def reshape(a, newshape):
        own(a)
        return np.reshape(a, newshape).view(OnDevice)

    def tile(A, reps):
        own(A)
        if not all(isinstance(r, int) for r in np.atleast_1d(reps).tolist()) or isinstance(reps, np.ndarray):
            raise TypeError("'ndarray' object cannot be interpreted as an integer")
        return np.tile(A, reps).view(OnDevice)

    def zeros_like(a):
        return np.zeros_like(a, dtype=a.dtype).view(OnDevice)  # None has no dtype: AttributeError

    def where(condition, x, y):
        own(condition)
        return np.where(condition, x, y).view(OnDevice)

    def solve(a, b):
        own(a, b)
        if b.ndim > 1 and a.shape[:-2] != b.shape[:-2]:
            raise ValueError("a must have (..., M, M) shape and b must have (..., M, K) for multidimensional b")
        return np.linalg.solve(a, b).view(OnDevice)

    module = types.ModuleType("strict")
    module.__dict__.update(asarray=asarray, sum=total, var=var, reshape=reshape, tile=tile, zeros_like=zeros_like,
                           where=where, broadcast_to=partial(np.broadcast_to, subok=True), add=np.add, float32=np.float32)
    module.linalg = types.ModuleType("strict.linalg")
    module.linalg.solve, module.linalg.inv = solve, inv
    return module


def test_cupys_xp_takes_what_numpys_takes():
    xp = DeviceFunctions(strict_module())
    x = np.arange(6.0).reshape(2, 3).view(OnDevice)
    # host values where an array goes are moved to the device, and give numpy's result there
    assert isinstance(xp.sum(2.5), OnDevice) and float(xp.sum(2.5)) == 2.5
    np.testing.assert_array_equal(xp.where(True, x, 0.0), x)
    # a Python float is weak, as in numpy: float32 stays float32; a numpy scalar keeps its dtype
    single = x.astype(np.float32)
    assert xp.where(True, single, 0.5).dtype == np.float32
    assert xp.where(True, 0.5, single).dtype == np.float32
    assert xp.sum(np.float32(2.5)).dtype == np.float32
    # keywords: a value is moved, an option (keepdims=True) and an integer axis are not
    assert float(xp.sum(a=2.5)) == 2.5 and xp.sum(x, axis=np.int64(0)).shape == (3,)
    # numpy 2's spellings
    np.testing.assert_allclose(xp.var(x, correction=1), np.var(np.asarray(x), ddof=1))
    assert xp.reshape(x, shape=(3, 2)).shape == (3, 2)
    assert xp.tile(x, np.array([2, 1])).shape == (4, 3)
    # numpy broadcasts solve's batch axes, and takes a 1-D b as one vector
    a = (np.eye(3) * 2.0).view(OnDevice)
    b = np.ones((4, 3, 2)).view(OnDevice)
    np.testing.assert_allclose(xp.linalg.solve(a, b), np.full((4, 3, 2), 0.5))
    np.testing.assert_allclose(xp.linalg.solve(np.broadcast_to(a, (4, 3, 3), subok=True), np.ones(3).view(OnDevice)),
                               np.full((4, 3), 0.5))
    # the gradient of a name not yet bound at a branch is never read
    assert xp.zeros_like(None) is None
    # what is not a function, and a ufunc's methods, pass through
    assert xp.float32 is np.float32 and xp.add.at == np.add.at
    # linalg refuses a host array with LinAlgError, as cupy's does; solve takes host values and lists
    np.testing.assert_allclose(xp.linalg.inv(np.eye(2) * 2.0), np.eye(2) * 0.5)
    np.testing.assert_allclose(xp.linalg.solve(np.eye(2) * 2.0, [1.0, 1.0]), [0.5, 0.5])
    # an error with nothing to move is the call's own; a moved call's error says what it was moved from
    with pytest.raises(TypeError, match="expected a device array, got list"):
        xp.sum([1, 2])
    with pytest.raises(ValueError) as failed:
        xp.linalg.inv(np.ones((2, 3)))
    assert isinstance(failed.value.__cause__, np.linalg.LinAlgError)
    # numpy's error for both spellings of one option, not a silent choice
    with pytest.raises(TypeError):
        xp.var(x, ddof=1, correction=1)


def test_cupys_xp_hands_runtime_helpers_device_values(monkeypatch):
    strict = strict_module()

    def scaled_sum(grad, scale):  # a helper computing with cupy's own functions, as the runtime's do
        return strict.sum(grad) * scale

    monkeypatch.setitem(HELPERS, "scaled_sum", scaled_sum)
    xp = device_array_module(strict)
    assert float(xp.scaled_sum(np.ones(3), 2.0)) == 6.0  # a numpy constant: moved, then numpy's result
    assert xp.index_add is HELPERS["index_add"]  # writes into its argument: never retried
    assert xp.sum(2.5) == 2.5 and xp.scaled_sum.__name__ == "scaled_sum"  # and cupy's functions, adapted


def test_asking_for_dask_without_it_says_what_to_install(monkeypatch):
    """device='dask' on a machine without dask: an error naming the install command, whichever device the
    arguments are on."""
    import builtins

    from sourcegrad.runtime import device as devices

    real_import = builtins.__import__

    def no_dask(name, *args, **kwargs):
        if name.split(".")[0] == "dask":
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(devices, "_dask_module", None)
    monkeypatch.setattr(builtins, "__import__", no_dask)
    with pytest.raises(sourcegrad.SourcegradError, match=r"(?s)device='dask' needs dask.*pip install -e '\.\[dask\]'"):
        sourcegrad.grad(lambda w: (w * w).sum())(np.ones(3), device="dask")
