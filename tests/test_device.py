"""Devices: the same generated code on numpy and on cupy, chosen by the arguments or by `device=`.

The cupy half runs only where cupy and an NVIDIA GPU are present, and is skipped (not failed) elsewhere,
so CI on a CPU machine stays green.
"""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

import sourcegrad
from sourcegrad import SourcegradError

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))

import dynamic_net  # noqa: E402
import dynamic_net_numpy  # noqa: E402


def gpu_available():
    if importlib.util.find_spec("cupy") is None:
        return False
    try:
        import cupy
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


DEVICES = [pytest.param("cpu", id="numpy"),
           pytest.param("cuda", id="cupy", marks=pytest.mark.skipif(not gpu_available(), reason="needs cupy and a GPU"))]


def on(device, value):
    """value (a numpy array, or a list/tuple of them) on the device."""
    if isinstance(value, (list, tuple)):
        return type(value)(on(device, v) for v in value)
    if device == "cuda" and isinstance(value, np.ndarray):
        import cupy
        return cupy.asarray(value)
    return value


def host(value):
    if isinstance(value, (list, tuple)):
        return type(value)(host(v) for v in value)
    return value.get() if hasattr(value, "get") and not isinstance(value, np.ndarray) else value


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


@pytest.mark.parametrize("device", DEVICES)
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


@pytest.mark.parametrize("device", DEVICES)
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


@pytest.mark.parametrize("device", DEVICES)
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


@pytest.mark.skipif(gpu_available(), reason="this machine has cupy and a GPU")
def test_cuda_without_cupy_or_gpu_says_what_to_install():
    with pytest.raises(SourcegradError) as info:
        sourcegrad.differentiate(two_layer, device="cuda").grad(*[np.ones((2, 2))] * 4)
    text = str(info.value)
    assert ("pip install 'sourcegrad[cuda12]'" in text) or ("needs an NVIDIA GPU" in text)


@pytest.mark.skipif(not gpu_available(), reason="needs cupy and a GPU")
def test_mixed_numpy_and_cupy_arguments_are_an_error():
    import cupy

    args = [np.ones((2, 2)), cupy.ones((2, 2)), np.ones((2, 2)), np.ones((2, 2))]
    with pytest.raises(SourcegradError, match="mix numpy and cupy"):
        sourcegrad.differentiate(two_layer).grad(*args)
    with pytest.raises(SourcegradError, match="device='cuda' was asked for, but the arguments are numpy"):
        sourcegrad.differentiate(two_layer, device="cuda").grad(*[np.ones((2, 2))] * 4)


@pytest.mark.skipif(not gpu_available(), reason="needs cupy and a GPU")
@pytest.mark.parametrize("dtype, tolerance", [(np.float64, 1e-9), (np.float32, 1e-4)])
def test_two_layer_example_on_cupy_matches_numpy(dtype, tolerance):
    import two_layer

    quiet = lambda t, loss: None  # noqa: E731
    on_gpu = two_layer.train(steps=50, dtype=dtype, log=quiet, device="cuda")
    on_cpu = two_layer.train(steps=50, dtype=dtype, log=quiet)
    np.testing.assert_allclose(on_gpu, on_cpu, rtol=tolerance)


@pytest.mark.parametrize("device", DEVICES)
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
