"""Devices for the tests: numpy always, cupy where cupy and an NVIDIA GPU are present.

A test that takes the `device` fixture (tests/conftest.py) runs once per device; its cupy half is
skipped, not failed, on a machine without a GPU, so CI on a CPU machine stays green. On a GPU machine
`pytest -k cupy` runs the cupy halves alone (benchmarks/gpu_check.sh).
"""

import copy
import importlib.util

import numpy as np
import pytest

import sourcegrad


def gpu_available():
    if importlib.util.find_spec("cupy") is None:
        return False
    try:
        import cupy
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # cupy raises its own CUDARuntimeError without a driver or a GPU
        return False


GPU = gpu_available()
needs_gpu = pytest.mark.skipif(not GPU, reason="needs cupy and a GPU")
DEVICES = [pytest.param("cpu", id="numpy"), pytest.param("cuda", id="cupy", marks=needs_gpu)]


def on(device, value):
    """value on the device: arrays, and lists, tuples, dicts and objects of them (an object is copied, its
    attributes moved); numbers as they are."""
    if isinstance(value, (list, tuple)):
        return type(value)(on(device, v) for v in value)
    if isinstance(value, dict):
        return {k: on(device, v) for k, v in value.items()}
    if hasattr(value, "__dict__") and not hasattr(value, "shape") and not callable(value):
        moved = copy.copy(value)
        vars(moved).update({k: on(device, v) for k, v in vars(value).items()})
        return moved
    return sourcegrad.to_device(value, device)


def host(value):
    return sourcegrad.to_device(value, "cpu")


def module_of(array):
    """'numpy' or 'cupy': where an array lives."""
    return type(array).__module__.split(".")[0]


def assert_on(device, arrays):
    expected = "cupy" if device == "cuda" else "numpy"
    for array in arrays:
        if isinstance(array, (np.ndarray, np.generic)) or module_of(array) == "cupy":
            assert module_of(array) == expected, f"a {type(array)} came back from a call on {device}"
