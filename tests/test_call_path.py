"""The fast call path (sourcegrad/call_path.py): an entry point with the function's own parameters.

Every case is checked against float64 finite differences and against the general method
(DifferentiableFunction.value_and_grad), which the entry point must agree with in every way users can see:
values, gradients, dtypes, which arrays are new, and errors.
"""

import inspect
import sys
import types
from contextlib import nullcontext

import numpy as np
import pytest

import sourcegrad
from sourcegrad import SourcegradError
from sourcegrad import api
from sourcegrad.api import DifferentiableFunction
from sourcegrad.checking import numeric_gradient

from device_support import assert_on, host, on

rng = np.random.default_rng(3)


def two_layer(x, y, w1, w2):
    h = x @ w1
    y_pred = np.maximum(h, 0) @ w2
    return np.square(y_pred - y).sum()


def scaled(x, w, scale=2.0):
    return (np.tanh(x @ w) * scale).sum()


def keyword_only(x, w, *, scale):
    return (x @ w * scale).sum()


def named_like_an_option(x, into):
    return (x * into).sum()


def named_like_the_entry_point(w, value_and_grad):
    return (w * value_and_grad).sum()


def of_a_structure(params, x):
    return np.tanh(x @ params["w"] + params["b"]).sum()


def arrays(*shapes, dtype=np.float64):
    return [rng.standard_normal(shape).astype(dtype) for shape in shapes]


def finite_differences(fn, arguments, wrt):
    return [numeric_gradient(fn, dict(arguments), name, 1e-6) for name in wrt]


def assert_same(a, b):
    assert type(a) is type(b)
    if isinstance(a, (tuple, list)):
        assert len(a) == len(b)
        for p, q in zip(a, b):
            assert_same(p, q)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            assert_same(a[k], b[k])
    else:
        assert getattr(a, "dtype", None) == getattr(b, "dtype", None)
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=0)


def general(f, *args, **kwargs):
    return DifferentiableFunction.value_and_grad(f, *args, **kwargs)


CASES = [  # (function, wrt, positional arguments, keyword arguments)
    (two_layer, ("w1", "w2"), arrays((5, 4), (5, 3), (4, 6), (6, 3)), {}),
    (two_layer, ("w1", "w2"), arrays((5, 4), (5, 3)), dict(zip(("w1", "w2"), arrays((4, 6), (6, 3))))),
    (two_layer, "w2", arrays((5, 4), (1, 3), (4, 6), (6, 3)), {}),  # y broadcast over the rows
    (scaled, ("x", "w"), arrays((3, 4), (4, 2)), {}),  # the default scale
    (scaled, ("x", "w"), arrays((3, 4), (4, 2)), {"scale": 0.5}),
    (scaled, "w", arrays((3, 4), (4, 2)) + [np.float64(1.5)], {}),
    (keyword_only, "w", arrays((3, 4), (4, 2)), {"scale": 3.0}),  # no entry point: the general method
]


@pytest.mark.parametrize("fn, wrt, args, kwargs", CASES, ids=lambda v: getattr(v, "__name__", None))
def test_entry_point_agrees_with_finite_differences_and_the_general_method(fn, wrt, args, kwargs, device):
    f = sourcegrad.differentiate(wrt=wrt)(fn)
    on_device, kwargs_on_device = on(device, args), on(device, kwargs)
    for _ in range(2):  # the first call compiles (general method), the second takes the entry point
        value, gradients = f.value_and_grad(*on_device, **kwargs_on_device)
    expected_value, expected_gradients = general(f, *on_device, **kwargs_on_device)
    assert_same(host(value), host(expected_value))
    assert_same(host(gradients), host(expected_gradients))
    assert_same(host(f.grad(*on_device, **kwargs_on_device)), host(expected_gradients))
    names = list(inspect.signature(fn).parameters)
    arguments = dict(zip(names, args), **kwargs)
    wrt_names = [wrt] if isinstance(wrt, str) else list(wrt)
    numeric = finite_differences(fn, arguments, wrt_names)
    got = host([gradients] if isinstance(wrt, str) else gradients)
    for g, n in zip(got, numeric):
        np.testing.assert_allclose(g, n, rtol=1e-5, atol=1e-6)


def test_entry_point_has_the_functions_parameters_and_the_options():
    f = sourcegrad.differentiate(wrt=("w1", "w2"))(two_layer)
    assert inspect.ismethod(f.value_and_grad)  # built by the first compile, from the first call's arguments
    f.value_and_grad(*arrays((5, 4), (5, 3), (4, 6), (6, 3)))
    assert inspect.isfunction(f.value_and_grad) and inspect.isfunction(f.grad)
    assert list(inspect.signature(f.value_and_grad).parameters) == ["x", "y", "w1", "w2", "grad_output", "device",
                                                                    "into"]
    assert list(inspect.signature(f.grad).parameters) == ["x", "y", "w1", "w2", "grad_output", "device", "into"]
    assert "gradients" in f.value_and_grad.__doc__
    g = sourcegrad.differentiate(wrt="w")(keyword_only)
    g.value_and_grad(*arrays((3, 4), (4, 2)), scale=3.0)
    assert inspect.ismethod(g.value_and_grad)  # keyword-only parameters: the general method
    h = sourcegrad.differentiate(wrt="params")(of_a_structure)
    h.value_and_grad(dict(zip(("w", "b"), arrays((4, 3), (3,)))), *arrays((5, 4)))
    assert inspect.ismethod(h.value_and_grad)  # a structure: the general method


def test_wrong_arguments_are_a_type_error_naming_the_function():
    f = sourcegrad.differentiate(wrt=("w1", "w2"))(two_layer)
    x, y, w1, w2 = arrays((5, 4), (5, 3), (4, 6), (6, 3))
    f.value_and_grad(x, y, w1, w2)
    with pytest.raises(TypeError, match=r"two_layer\.value_and_grad\(\) missing 1 required positional argument: 'w2'"):
        f.value_and_grad(x, y, w1)


def test_float32_weights_with_float64_data_keep_float32_on_the_entry_point():
    f = sourcegrad.differentiate(wrt=("w1", "w2"))(two_layer)
    x, y = arrays((5, 4), (5, 3))
    w1, w2 = arrays((4, 6), (6, 3), dtype=np.float32)
    for _ in range(2):
        _, (g1, g2) = f.value_and_grad(x, y, w1, w2)
    assert g1.dtype == g2.dtype == np.float32


def test_structure_gradients_take_the_general_path_and_agree():
    f = sourcegrad.differentiate(wrt="params")(of_a_structure)
    params = dict(zip(("w", "b"), arrays((4, 3), (3,))))
    (x,) = arrays((5, 4))
    for _ in range(2):
        value, gradient = f.value_and_grad(params, x)
    expected_value, expected = general(f, params, x)
    assert_same(value, expected_value)
    assert_same(gradient, expected)


def test_options_on_the_entry_point_reach_the_general_method():
    f = sourcegrad.differentiate(wrt="w")(vector_output)
    x, w = arrays((3, 4), (4, 2))
    seed = rng.standard_normal((3, 2))
    f.value_and_grad(x, w, grad_output=seed)
    value, gradient = f.value_and_grad(x, w, grad_output=seed)
    np.testing.assert_allclose(gradient, x.T @ seed, rtol=1e-12)
    with pytest.raises(SourcegradError, match="cannot start the backward pass"):
        f.value_and_grad(x, w)
    target = np.empty_like(w)
    assert f.grad(x, w, grad_output=seed, into=target) is target
    np.testing.assert_allclose(target, x.T @ seed, rtol=1e-12)


def test_numpy_arrays_take_the_entry_point_also_once_cupy_is_imported(monkeypatch, device):
    # A process that imports cupy (for other work, or for these very calls) keeps the short call path: the
    # general method's device check (array_module_for) is not reached, on numpy arrays or on cupy arrays.
    if device == "cpu":
        monkeypatch.setitem(sys.modules, "cupy", sys.modules.get("cupy") or types.ModuleType("cupy"))
    f = sourcegrad.differentiate(wrt=("w1", "w2"))(two_layer)
    args = on(device, arrays((5, 4), (5, 3), (4, 6), (6, 3)))
    expected = host(f.value_and_grad(*args))  # compiles, through the general method
    checks = []
    real = api.array_module_for
    monkeypatch.setattr(api, "array_module_for", lambda *a, **k: checks.append(a) or real(*a, **k))
    value, gradients = f.value_and_grad(*args)
    assert not checks
    assert_on(device, gradients)
    assert_same(host(value), expected[0])
    assert_same(host(gradients), expected[1])
    with pytest.raises(SourcegradError, match="mix numpy and cupy") if device == "cuda" else nullcontext():
        f.value_and_grad(*host(args[:1]), *args[1:])  # one argument on the other device: the general method


def vector_output(x, w):
    return x @ w


def repeated(x, w, times):
    for _ in range(times):
        x = np.tanh(x @ w)
    return x.sum()


def test_python_number_arguments_and_later_calls_with_other_kinds_of_values():
    f = sourcegrad.differentiate(wrt="w")(repeated)
    x, w = arrays((3, 4), (4, 4))
    for times in (2, 3, 0, 1):  # compiled for an int `times`, then the entry point
        value, gradient = f.value_and_grad(x, w, times)
        expected_value, expected = general(f, x, w, times)
        assert_same(value, expected_value)
        assert_same(gradient, expected)
        np.testing.assert_allclose(gradient, numeric_gradient(repeated, {"x": x, "w": w, "times": times}, "w", 1e-6),
                                   rtol=1e-5, atol=1e-7)
    assert inspect.isfunction(f.value_and_grad)
    for times in (np.int64(2), np.array(2)):  # not a Python int: the general method, then the same results
        value, gradient = f.value_and_grad(x, w, times)
        np.testing.assert_allclose(gradient, general(f, x, w, 2)[1], rtol=1e-12)


def test_a_default_argument_compiles_once():
    f = sourcegrad.differentiate(wrt="w")(scaled)
    x, w = arrays((3, 4), (4, 2))
    f.value_and_grad(x, w)
    compiled = set(map(id, f._compiled.values()))
    f.value_and_grad(x, w)
    f.value_and_grad(x, w, 3.0)
    assert set(map(id, f._compiled.values())) == compiled


def test_a_parameter_named_like_an_option_is_refused_when_decorated():
    with pytest.raises(SourcegradError, match="has a parameter named 'into'"):
        sourcegrad.differentiate(named_like_an_option)


def test_a_parameter_named_like_the_entry_point_itself():
    f = sourcegrad.differentiate(wrt="w")(named_like_the_entry_point)
    w, v = arrays((3,), (3,))
    for _ in range(3):  # the entry point is not built: the name is the function's own
        np.testing.assert_allclose(f.grad(w, v), v)
