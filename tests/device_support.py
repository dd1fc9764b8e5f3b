"""Devices for the tests: numpy always, cupy where cupy and an NVIDIA GPU are present, dask where it is installed.

A test that takes the `device` fixture (tests/conftest.py) runs once per device; its cupy half is
skipped, not failed, on a machine without a GPU, so CI on a CPU machine stays green. On a GPU machine
`pytest -k cupy` runs the cupy halves alone (benchmarks/gpu_check.sh).
"""

import copy
import importlib.util
import re

import numpy as np
import pytest

import sourcegrad
from sourcegrad import SourcegradError


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
DASK = importlib.util.find_spec("dask") is not None and importlib.util.find_spec("dask.array") is not None
needs_dask = pytest.mark.skipif(not DASK, reason="needs dask (pip install -e '.[dask]')")
# dask (threaded scheduler, no GPU needed) where it is installed, as CI installs it. Two files narrow it:
# test_primitives runs one shape case per table entry on dask (test_dask_device.py), not all of them, and
# test_buffers none, since into= is refused on dask (its gradients are new arrays from dask.compute).
IN_MEMORY_DEVICES = [pytest.param("cpu", id="numpy"), pytest.param("cuda", id="cupy", marks=needs_gpu)]
DEVICES = [*IN_MEMORY_DEVICES, pytest.param("dask", id="dask", marks=needs_dask)]


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
    # a call on dask computes its results and hands them back as numpy arrays
    expected = "cupy" if device == "cuda" else "numpy"
    for array in arrays:
        if isinstance(array, (np.ndarray, np.generic)) or module_of(array) == "cupy":
            assert module_of(array) == expected, f"a {type(array)} came back from a call on {device}"


ROWS_REFUSED = "refused on dask: a loop over the rows of the data"


def unless_rows_refused(device, check):
    """check(), which computes a gradient on device. On dask, a `for` loop or a comprehension walking an array
    made from the data is refused (a task per row); there the refusal is what is checked: its message, and the
    place it names being such a loop. Returns ROWS_REFUSED then, for the test to stop."""
    try:
        return check()
    except SourcegradError as error:
        if device != "dask" or "row by row" not in str(error):
            raise
        line = error.location.text
        assert re.search(r"\bfor\b.+\bin\b", line) and not re.search(r"\bin\s+range\(", line), line
        return ROWS_REFUSED
