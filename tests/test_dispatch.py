"""How a call reaches its compiled gradient: one path for every call, deterministic.

A call computes its key (a rank per argument), finds the compiled gradient, calls it and checks the
gradients' dtypes; a key not seen before compiles. Every case is checked against float64 finite differences,
a first call (which compiles) against later ones, positional against keyword arguments, and the path is
shown to depend on nothing but the arguments: no clock, no reference count, no method replaced at run time.
"""

import inspect

import numpy as np
import pytest

import sourcegrad
from sourcegrad import SourcegradError
from sourcegrad.api import DifferentiableFunction
from sourcegrad.checking import numeric_gradient

from device_support import host, on

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


CASES = [  # (function, wrt, positional arguments, keyword arguments)
    (two_layer, ("w1", "w2"), arrays((5, 4), (5, 3), (4, 6), (6, 3)), {}),
    (two_layer, ("w1", "w2"), arrays((5, 4), (5, 3)), dict(zip(("w1", "w2"), arrays((4, 6), (6, 3))))),
    (two_layer, "w2", arrays((5, 4), (1, 3), (4, 6), (6, 3)), {}),  # y broadcast over the rows
    (scaled, ("x", "w"), arrays((3, 4), (4, 2)), {}),  # the default scale
    (scaled, ("x", "w"), arrays((3, 4), (4, 2)), {"scale": 0.5}),
    (scaled, "w", arrays((3, 4), (4, 2)) + [np.float64(1.5)], {}),
    (keyword_only, "w", arrays((3, 4), (4, 2)), {"scale": 3.0}),
]


@pytest.mark.parametrize("fn, wrt, args, kwargs", CASES, ids=lambda v: getattr(v, "__name__", None))
def test_every_call_agrees_with_finite_differences_and_with_the_first(fn, wrt, args, kwargs, device):
    f = sourcegrad.differentiate(wrt=wrt)(fn)
    on_device, kwargs_on_device = on(device, args), on(device, kwargs)
    first_value, first_gradients = f.value_and_grad(*on_device, **kwargs_on_device)  # compiles
    value, gradients = f.value_and_grad(*on_device, **kwargs_on_device)
    assert_same(host(value), host(first_value))
    assert_same(host(gradients), host(first_gradients))
    assert_same(host(f.grad(*on_device, **kwargs_on_device)), host(first_gradients))
    names = list(inspect.signature(fn).parameters)
    arguments = dict(zip(names, args), **kwargs)
    wrt_names = [wrt] if isinstance(wrt, str) else list(wrt)
    numeric = finite_differences(fn, arguments, wrt_names)
    got = host([gradients] if isinstance(wrt, str) else gradients)
    for g, n in zip(got, numeric):
        np.testing.assert_allclose(g, n, rtol=1e-5, atol=1e-6)


def test_value_and_grad_and_grad_are_the_class_methods_never_replaced():
    f = sourcegrad.differentiate(wrt=("w1", "w2"))(two_layer)
    f.value_and_grad(*arrays((5, 4), (5, 3), (4, 6), (6, 3)))
    assert "value_and_grad" not in vars(f) and "grad" not in vars(f)
    assert f.value_and_grad.__func__ is DifferentiableFunction.value_and_grad


def test_the_call_path_reads_no_clock_and_no_reference_count():
    import sourcegrad.api as api_module
    import sourcegrad.compiler as compiler_module
    import sourcegrad.runtime.buffers as buffers_module
    for module in (api_module, compiler_module, buffers_module):
        text = inspect.getsource(module)
        assert "perf_counter" not in text and "getrefcount" not in text and "time.time" not in text, module


def test_arguments_by_keyword_and_by_position_share_one_compiled_gradient():
    f = sourcegrad.differentiate(wrt=("w1", "w2"))(two_layer)
    x, y, w1, w2 = arrays((5, 4), (5, 3), (4, 6), (6, 3))
    by_position = f.grad(x, y, w1, w2)
    by_keyword = f.grad(x, y, w2=w2, w1=w1)
    assert len({id(c) for c in f._compiled.values()}) == 1
    assert_same(by_keyword, by_position)


def test_wrong_arguments_are_an_error_naming_the_function():
    f = sourcegrad.differentiate(wrt=("w1", "w2"))(two_layer)
    x, y, w1, w2 = arrays((5, 4), (5, 3), (4, 6), (6, 3))
    f.value_and_grad(x, y, w1, w2)
    with pytest.raises(SourcegradError, match=r"two_layer\(\) was called with arguments that do not fit: "
                                              r"missing a required argument: 'w2'"):
        f.value_and_grad(x, y, w1)


def scaled_sine(x, *, scale=2.0):
    return np.sum(np.sin(x) * scale)


def sine_of_product(x, *, w):
    return np.sum(np.sin(x * w))


def test_a_keyword_only_argument_passed_by_position_is_an_error_naming_the_function_after_a_compile():
    x = np.linspace(0.1, 1.0, 3)
    f, g = sourcegrad.differentiate(scaled_sine), sourcegrad.differentiate(sine_of_product, wrt="w")
    np.testing.assert_allclose(f.grad(x), 2.0 * np.cos(x))
    np.testing.assert_allclose(g.grad(x, w=x), x * np.cos(x * x))
    # the gradients compiled for f(x) and g(x, w=...) are not found by a call passing one more by position
    with pytest.raises(SourcegradError, match=r"scaled_sine\(\) was called with arguments that do not fit"):
        f.grad(x, 3.0)
    with pytest.raises(SourcegradError, match=r"sine_of_product\(\) was called with arguments that do not fit"):
        g.grad(x, x)
    np.testing.assert_allclose(f.grad(x, scale=3.0), 3.0 * np.cos(x))


def test_float32_weights_with_float64_data_keep_float32():
    f = sourcegrad.differentiate(wrt=("w1", "w2"))(two_layer)
    x, y = arrays((5, 4), (5, 3))
    w1, w2 = arrays((4, 6), (6, 3), dtype=np.float32)
    for _ in range(2):
        _, (g1, g2) = f.value_and_grad(x, y, w1, w2)
    assert g1.dtype == g2.dtype == np.float32


def test_structure_gradients_are_the_same_on_every_call():
    f = sourcegrad.differentiate(wrt="params")(of_a_structure)
    params = dict(zip(("w", "b"), arrays((4, 3), (3,))))
    (x,) = arrays((5, 4))
    first = f.value_and_grad(params, x)
    assert_same(f.value_and_grad(params, x), first)
    assert sourcegrad.check_grad(of_a_structure, params, x)


def test_options_grad_output_and_into():
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


def vector_output(x, w):
    return x @ w


def repeated(x, w, times):
    for _ in range(times):
        x = np.tanh(x @ w)
    return x.sum()


def test_python_number_arguments_and_later_calls_with_other_kinds_of_values():
    f = sourcegrad.differentiate(wrt="w")(repeated)
    x, w = arrays((3, 4), (4, 4))
    for times in (2, 3, 0, 1):  # one compiled gradient for every int `times`
        value, gradient = f.value_and_grad(x, w, times)
        np.testing.assert_allclose(gradient, numeric_gradient(repeated, {"x": x, "w": w, "times": times}, "w", 1e-6),
                                   rtol=1e-5, atol=1e-7)
    assert len({id(c) for c in f._compiled.values()}) == 1
    for times in (np.int64(2), np.array(2)):  # not a Python int: the same results
        value, gradient = f.value_and_grad(x, w, times)
        np.testing.assert_allclose(gradient, f.grad(x, w, 2), rtol=1e-12)


def test_a_default_argument_compiles_once():
    f = sourcegrad.differentiate(wrt="w")(scaled)
    x, w = arrays((3, 4), (4, 2))
    f.value_and_grad(x, w)
    compiled = set(map(id, f._compiled.values()))
    f.value_and_grad(x, w)
    f.value_and_grad(x, w, 3.0)
    assert set(map(id, f._compiled.values())) == compiled


def rows_summed(x, w):
    total = 0.0
    for i in range(len(x)):  # builtins: their guards say no global shadows them
        total = total + np.tanh(x[i] * w).sum()
    return total


def test_a_function_calling_builtins_and_numpy_compiles_once(monkeypatch):
    f = sourcegrad.differentiate(wrt="w")(rows_summed)
    x, w = arrays((3, 4), (4,))
    compiles = []
    compile_ = f._compile
    monkeypatch.setattr(f, "_compile", lambda *a, **k: compiles.append(1) or compile_(*a, **k))
    first = f.grad(x, w)
    for _ in range(3):
        assert_same(f.grad(x, w), first)
    assert compiles == [1]


def test_a_parameter_named_like_an_option_is_refused_when_decorated():
    with pytest.raises(SourcegradError, match="has a parameter named 'into'"):
        sourcegrad.differentiate(named_like_an_option)
