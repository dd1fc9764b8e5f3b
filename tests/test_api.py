"""The API contract: names and return shapes users rely on."""

import functools
import importlib
import inspect
import sys
import textwrap
import types

import numpy as np
import pytest

import sourcegrad
from sourcegrad import SourcegradError

rng = np.random.default_rng(0)


def two_layer(x, y, w1, w2):
    h = x @ w1
    h_relu = np.maximum(h, 0)
    y_pred = h_relu @ w2
    return np.square(y_pred - y).sum()


def data(dtype=np.float64):
    return (rng.standard_normal((5, 4)).astype(dtype), rng.standard_normal((5, 3)).astype(dtype),
            rng.standard_normal((4, 6)).astype(dtype), rng.standard_normal((6, 3)).astype(dtype))


def hand_written(x, y, w1, w2):
    h = x @ w1
    y_pred = np.maximum(h, 0) @ w2
    grad_y_pred = 2.0 * (y_pred - y)
    grad_w2 = np.maximum(h, 0).T @ grad_y_pred
    grad_h = grad_y_pred @ w2.T
    grad_h[h < 0] = 0
    return x.T @ grad_h, grad_w2


def test_decorated_function_runs_unchanged():
    f = sourcegrad.differentiate(wrt=("w1", "w2"))(two_layer)
    args = data()
    assert f(*args) == two_layer(*args)
    assert f.__name__ == "two_layer" and f.__wrapped__ is two_layer


def test_decorated_function_keeps_its_name_doc_module_and_attributes():
    def documented(w):
        """The sum of squares."""
        return np.sum(w * w)

    documented.unit = "m^2"  # an attribute set on the function, as update_wrapper copies it
    f = sourcegrad.differentiate(documented)
    assert (f.__name__, f.__qualname__, f.__doc__, f.__module__) == (
        documented.__name__, documented.__qualname__, documented.__doc__, documented.__module__)
    assert f.unit == "m^2" and f.__wrapped__ is documented
    assert str(inspect.signature(f)) == "(w)"
    # value_and_grad and grad read their options from the keywords; their signatures still name them
    for method in (f.value_and_grad, f.grad):
        assert str(inspect.signature(method)) == "(*args, grad_output=None, device=None, into=None, lazy=False, **kwargs)"


def keyword_weights(x, *, w, scale=1.0):
    return (scale * x * w).sum()


def test_options_and_the_functions_own_keywords_travel_together():
    f = sourcegrad.differentiate(keyword_weights, wrt="w")
    x, w = np.random.default_rng(3).standard_normal((2, 3))
    target = np.empty(3)
    assert f.grad(x, w=w, scale=2.0, into=target, device="cpu") is target
    np.testing.assert_allclose(target, 2.0 * x, rtol=1e-12)
    value, d_w = f.value_and_grad(x, scale=3.0, w=w)
    np.testing.assert_allclose(d_w, 3.0 * x, rtol=1e-12)


def sine_of_products(x, w):
    return np.sum(np.sin(x * w))


def test_into_a_lone_array_fills_the_one_gradient_of_a_one_item_wrt_tuple():
    x, w = rng.standard_normal(3), rng.standard_normal(3)
    target = np.full(3, 99.0)
    gradients = sourcegrad.differentiate(sine_of_products, wrt=("w",)).grad(x, w, into=target)
    assert isinstance(gradients, tuple) and len(gradients) == 1 and gradients[0] is target
    np.testing.assert_allclose(target, x * np.cos(x * w), rtol=1e-12)


def dict_parameters_loss(p, x):
    return np.square(x @ p["w"]).sum()


def test_into_for_a_dict_argument_is_refused_clearly():
    p, x = {"w": np.ones((4, 2))}, np.ones((3, 4))
    with pytest.raises(SourcegradError, match="into= can take the gradient of p only if p is an array; it is a dict"):
        sourcegrad.differentiate(dict_parameters_loss).grad(p, x, into={"w": np.empty((4, 2))})


def matrix_loss(w, x):
    return np.square(x @ w).sum()


def test_into_a_memmap_of_the_arguments_shape_and_dtype(tmp_path):
    w, x = np.ones((4, 2)), np.arange(12.0).reshape(3, 4)
    mapped = np.memmap(tmp_path / "gradient.dat", dtype=np.float64, mode="w+", shape=w.shape)
    f = sourcegrad.differentiate(matrix_loss)
    assert f.grad(w, x, into=mapped) is mapped
    np.testing.assert_allclose(mapped, f.grad(w, x))


def test_into_a_lone_array_for_two_gradients_is_refused():
    x, w = rng.standard_normal(3), rng.standard_normal(3)
    with pytest.raises(SourcegradError, match="into= has 1 arrays for 2 gradients"):
        sourcegrad.differentiate(sine_of_products, wrt=("x", "w")).grad(x, w, into=np.empty(3))


def test_wrt_of_another_kind_than_a_name_or_position_is_refused():
    with pytest.raises(SourcegradError, match="wrt takes parameter names or positions"):
        sourcegrad.differentiate(sine_of_products, wrt=1.0).grad(np.ones(3), np.ones(3))


def test_value_and_grad_matches_hand_written_backward():
    f = sourcegrad.differentiate(two_layer, wrt=("w1", "w2"))
    args = data()
    value, (d_w1, d_w2) = f.value_and_grad(*args)
    expected_w1, expected_w2 = hand_written(*args)
    assert value == pytest.approx(two_layer(*args))
    np.testing.assert_allclose(d_w1, expected_w1, rtol=1e-12)
    np.testing.assert_allclose(d_w2, expected_w2, rtol=1e-12)


def test_one_wrt_gives_one_array_and_several_give_a_tuple_in_wrt_order():
    args = data()
    expected_w1, expected_w2 = hand_written(*args)
    single = sourcegrad.differentiate(two_layer, wrt="w2").grad(*args)
    assert isinstance(single, np.ndarray)
    np.testing.assert_allclose(single, expected_w2)
    reordered = sourcegrad.differentiate(two_layer, wrt=("w2", "w1")).grad(*args)
    np.testing.assert_allclose(reordered[0], expected_w2)
    np.testing.assert_allclose(reordered[1], expected_w1)


def test_wrt_by_position_and_default_first_argument():
    args = data()
    by_position = sourcegrad.differentiate(two_layer, wrt=(2, 3)).grad(*args)
    np.testing.assert_allclose(by_position[0], hand_written(*args)[0])

    @sourcegrad.differentiate
    def first(w, x):
        return (w * x).sum()

    w, x = rng.standard_normal(3), rng.standard_normal(3)
    np.testing.assert_allclose(first.grad(w, x), x)


def test_functional_grad():
    args = data()
    d_w1, d_w2 = sourcegrad.grad(two_layer, wrt=("w1", "w2"))(*args)
    np.testing.assert_allclose(d_w2, hand_written(*args)[1])


def test_keyword_arguments_and_defaults():
    def scaled(w, x, scale=3.0):
        return (scale * w * x).sum()

    f = sourcegrad.differentiate(scaled, wrt="w")
    w, x = rng.standard_normal(4), rng.standard_normal(4)
    np.testing.assert_allclose(f.grad(w, x), 3.0 * x)
    np.testing.assert_allclose(f.grad(w, x=x, scale=2.0), 2.0 * x)


def test_unused_wrt_argument_gets_zeros_of_its_shape():
    def uses_only_a(a, b):
        return (a * a).sum()

    a, b = rng.standard_normal(3), rng.standard_normal((2, 5)).astype(np.float32)
    d_a, d_b = sourcegrad.differentiate(uses_only_a, wrt=("a", "b")).grad(a, b)
    np.testing.assert_allclose(d_a, 2 * a)
    assert d_b.shape == (2, 5) and d_b.dtype == np.float32 and not d_b.any()


def test_data_arguments_get_no_adjoint_in_generated_code():
    f = sourcegrad.differentiate(two_layer, wrt=("w1", "w2"))
    f.grad(*data())
    assert "d_x " not in f.backward_source and "d_y " not in f.backward_source


def test_float32_in_float32_out():
    f = sourcegrad.differentiate(two_layer, wrt=("w1", "w2"))
    d_w1, d_w2 = f.grad(*data(np.float32))
    assert d_w1.dtype == np.float32 and d_w2.dtype == np.float32


def test_float32_parameter_with_float64_data_keeps_float32():
    def loss(w, x):
        return (w * x).sum()

    g = sourcegrad.differentiate(loss).grad(np.ones(3, np.float32), np.arange(3.0))
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, [0, 1, 2])


def test_python_scalars_and_zero_d_arrays():
    def f(a, b):
        return a * a * b + 3.0 * a

    d_a, d_b = sourcegrad.differentiate(f, wrt=("a", "b")).grad(2.0, 5.0)
    assert float(d_a) == pytest.approx(2 * 2.0 * 5.0 + 3.0) and float(d_b) == pytest.approx(4.0)
    d_a, d_b = sourcegrad.differentiate(f, wrt=("a", "b")).grad(np.array(2.0), np.array(5.0))
    assert np.shape(d_a) == () and float(d_a) == pytest.approx(23.0)


def test_backward_source_and_generated_path():
    f = sourcegrad.differentiate(two_layer, wrt=("w1", "w2"))
    with pytest.raises(SourcegradError, match="not been compiled yet"):
        f.backward_source
    f.grad(*data())
    assert f.generated_path.read_text() == f.backward_source
    assert "def two_layer_value_and_grad(xp, x, y, w1, w2" in f.backward_source


def _sum_of_squares_tripled(w):
    return np.sum(w * w) * 3.0  # numpy's scalar of w's dtype


def _sum_of_squares_tripled_as_a_0d_array(w):
    return np.reshape(np.sum(w * w, keepdims=True) * 3.0, ())


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.longdouble])
@pytest.mark.parametrize("fn", [_sum_of_squares_tripled, _sum_of_squares_tripled_as_a_0d_array])
def test_a_scalar_output_of_any_float_type_starts_its_gradient_at_one(fn, dtype):
    w = np.array([1.0, -2.0, 0.5], dtype)
    f = sourcegrad.differentiate(fn)
    value, gradient = f.value_and_grad(w)
    assert gradient.dtype == dtype and np.ndim(value) == 0
    np.testing.assert_allclose(gradient.astype(np.float64), 6.0 * w.astype(np.float64), rtol=1e-3)
    with pytest.raises(SourcegradError, match="output gradient has shape"):
        f.grad(w, grad_output=np.ones(2, dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_0d_array_argument_gets_a_0d_array_gradient_of_its_dtype(dtype):
    gradient = sourcegrad.differentiate(_sum_of_squares_tripled).grad(np.array(2.0, dtype))
    assert type(gradient) is np.ndarray and gradient.shape == () and gradient.dtype == dtype
    assert float(gradient) == pytest.approx(12.0)
    number = sourcegrad.differentiate(_sum_of_squares_tripled).grad(2.0)  # a Python float: a number back
    assert not isinstance(number, np.ndarray) and isinstance(number, float) and number == pytest.approx(12.0)


@pytest.mark.parametrize("dtypes", [("float32", "float64"), ("float64", "float32"), ("float32", "float32"),
                                    ("float16", "float64")])
@pytest.mark.parametrize("wrt", [("w1",), ("w1", "w2"), ("x", "w1", "w2")])
def test_each_gradient_comes_back_in_its_own_arguments_dtype(wrt, dtypes):
    x, y, w1, w2 = data()
    x, w1, w2 = x.astype(dtypes[0]), w1.astype(dtypes[0]), w2.astype(dtypes[1])
    f = sourcegrad.differentiate(two_layer, wrt=wrt)
    gradients = f.grad(x, y, w1, w2)
    arguments = {"x": x, "w1": w1, "w2": w2}
    assert [g.dtype for g in gradients] == [arguments[name].dtype for name in wrt]
    reference = sourcegrad.differentiate(two_layer, wrt=wrt).grad(*(a.astype(np.float64) for a in (x, y, w1, w2)))
    for gradient, expected in zip(gradients, reference):
        # a sum of products in float16 is off by a few of its epsilons of the largest term, wherever it lands
        scale = np.finfo(gradient.dtype).eps * np.abs(expected).max()
        np.testing.assert_allclose(gradient, expected.astype(gradient.dtype), rtol=2e-2, atol=50 * scale)


def test_non_scalar_output_needs_an_output_gradient():
    def elementwise(w):
        return w * w

    f = sourcegrad.differentiate(elementwise)
    w = rng.standard_normal(4)
    with pytest.raises(SourcegradError, match=r"shape \(4,\), not a scalar") as info:
        f.grad(w)
    assert "test_api.py" in str(info.value) and "return w * w" in str(info.value)
    seed = rng.standard_normal(4)
    np.testing.assert_allclose(f.grad(w, grad_output=seed), 2 * w * seed)
    with pytest.raises(SourcegradError, match="output gradient has shape"):
        f.grad(w, grad_output=np.ones(3))
    with pytest.raises(SourcegradError, match=r"output gradient is a list, the output an array of shape \(4,\)"):
        f.grad(w, grad_output=seed.tolist())


def elementwise_sine(z):
    return np.sin(z)


@pytest.mark.parametrize("fn, grad_output, kind", [
    (_sum_of_squares_tripled, "x", "str"),
    (elementwise_sine, "x", "str"),
    (_sum_of_squares_tripled, True, "bool"),
    (elementwise_sine, True, "bool"),
], ids=["str_for_a_scalar", "str_for_an_array", "bool_for_a_scalar", "bool_for_an_array"])
def test_an_output_gradient_that_is_not_a_number_or_an_array_is_refused(fn, grad_output, kind):
    with pytest.raises(SourcegradError, match=f"the output gradient is a {kind}") as info:
        sourcegrad.differentiate(fn).grad(np.array([0.5, -1.0, 2.0]), grad_output=grad_output)
    assert "test_api.py" in str(info.value).splitlines()[0]


def test_size_one_output_is_a_scalar():
    def keep(w):
        return (w * w).sum(keepdims=True)

    w = rng.standard_normal((2, 3))
    np.testing.assert_allclose(sourcegrad.differentiate(keep).grad(w), 2 * w)


def test_returned_gradient_never_aliases_inputs_or_other_gradients():
    def total(a, b):
        return (a + b).sum()

    a, b = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    d_a, d_b = sourcegrad.differentiate(total, wrt=("a", "b")).grad(a, b)
    d_a += 1.0  # writable, and not shared with d_b
    np.testing.assert_allclose(d_b, np.ones((2, 3)))


def test_weight_used_twice_accumulates(device):
    def shared(w, x):
        h = np.tanh(x @ w)
        return (h @ w).sum()

    w, x = rng.standard_normal((3, 3)), rng.standard_normal((2, 3))
    assert sourcegrad.check_grad(shared, w, x, device=device).max_error < 1e-7


def test_augmented_assignment_and_tuple_unpacking(device):
    def f(w, x):
        a, b = w * x, w + x
        a += b
        a, b = b, a
        n, m = x.shape
        return (a * b).sum() / (n * m)

    w, x = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    assert sourcegrad.check_grad(f, w, x, wrt=("w", "x"), device=device).max_error < 1e-7


def test_augmented_assignment_of_numbers_bound_by_tuple_unpacking(device):
    def damped(k, x0):
        x, t = x0, 0.0
        while t < 1.0:  # a float clock, as integrators write it
            x = x - 0.1 * k * x
            t += 0.25
        return np.sum(x) * t

    k, x0 = np.array(0.7), rng.standard_normal(3)
    assert sourcegrad.check_grad(damped, k, x0, wrt=("k", "x0"), device=device).max_error < 1e-7


def test_numpy_under_any_alias():
    import numpy
    import numpy as xp  # noqa: F401  (the function below uses this alias)
    from numpy import maximum

    def aliased(w):
        return numpy.sum(xp.exp(maximum(w, 0.0)))

    w = rng.standard_normal(5)
    f = sourcegrad.differentiate(aliased)
    np.testing.assert_allclose(f.grad(w), np.exp(np.maximum(w, 0)) * (w >= 0))
    assert "numpy." not in f.backward_source.split("# backward")[0].split('"""')[-1]


def sums_sines(w):
    return np.sin(w).sum() + np.linalg.norm(w)


def test_a_numpy_function_replaced_in_numpy_is_refused():
    from unittest import mock

    w = rng.standard_normal(3)
    own = np.sin
    np.sin = np.tanh  # the generated code would call numpy's sin with tanh's rule
    try:
        with pytest.raises(SourcegradError, match=r"`np.sin` is not numpy.sin: numpy's function was replaced \(by "
                                                  r"tanh\), and sourcegrad differentiates numpy's own functions"):
            sourcegrad.grad(sums_sines)(w)
    finally:
        np.sin = own
    with mock.patch("numpy.linalg.norm"):
        with pytest.raises(SourcegradError, match=r"`np.linalg.norm` is not numpy.linalg.norm"):
            sourcegrad.grad(sums_sines)(w)
    np.testing.assert_allclose(sourcegrad.grad(sums_sines)(w), np.cos(w) + w / np.linalg.norm(w))


def test_shape_reads_are_constants():
    def normalised(w):
        n = w.shape[0]
        k = len(w)
        return (w * w).sum() / (n * k * w.ndim)

    w = rng.standard_normal(4)
    np.testing.assert_allclose(sourcegrad.differentiate(normalised).grad(w), 2 * w / 16)


def test_check_grad_reports_worst_error_per_argument():
    report = sourcegrad.check_grad(two_layer, *data(), wrt=("w1", "w2"))
    assert set(report) == {"w1", "w2"} and report.max_error < 1e-6
    assert report and report.passed and not report.failures


def stops_half_the_gradient(x):
    # sourcegrad's gradient is half the true one here, by design: a check that must fail
    return (sourcegrad.stop_gradient(x) * x).sum()


def test_check_grad_is_false_and_assert_grad_raises_when_the_gradient_is_wrong():
    x = rng.standard_normal(4)
    report = sourcegrad.check_grad(stops_half_the_gradient, x)
    assert not report and not report.passed
    assert report["x"] > 0.1 and report.max_error == report["x"]  # a failed report still tells its worst error
    where, analytic, numeric = report.failures["x"]
    assert where.startswith("[") and analytic == pytest.approx(numeric / 2, rel=1e-6)
    with pytest.raises(AssertionError, match=r"gradient check failed .*\n  x\["):
        sourcegrad.assert_grad(stops_half_the_gradient, x)
    with pytest.raises(AssertionError, match="along random direction 0"):
        sourcegrad.assert_grad(stops_half_the_gradient, x, directions=2)
    # a tolerance wide enough lets it pass: rtol and atol decide, element by element
    assert sourcegrad.check_grad(stops_half_the_gradient, x, rtol=0.6, atol=1e-6)


def container_loss(params, x):
    h = np.tanh(x @ params["w"] + params["b"])
    for layer in params["layers"]:
        h = np.sin(h * layer)
    return (h * params["scale"]).sum()


def object_loss(model, x):
    return (np.tanh(x @ model.w) * model.b).sum() * model.scale


def test_check_grad_takes_dict_list_and_object_parameters():
    x = rng.standard_normal((4, 3))
    params = {"w": rng.standard_normal((3, 2)), "b": rng.standard_normal(2),
              "layers": [rng.standard_normal(2), rng.standard_normal(2)], "scale": 0.7}
    report = sourcegrad.assert_grad(container_loss, params, x)
    assert set(report) == {"params"} and report.max_error < 1e-6
    model = types.SimpleNamespace(w=rng.standard_normal((3, 2)), b=rng.standard_normal(2), scale=1.5, depth=3)
    assert sourcegrad.check_grad(object_loss, model, x)
    assert sourcegrad.check_grad(object_loss, model, x, directions=3)


CALLS = []


def counted(w, x):
    CALLS.append(1)
    return np.tanh(x @ w).sum()


def test_check_grad_in_random_directions_takes_two_calls_per_direction():
    w, x = rng.standard_normal((30, 20)), rng.standard_normal((5, 30))
    before = len(CALLS)
    assert sourcegrad.check_grad(counted, w, x, directions=4)
    assert len(CALLS) - before <= 2 + 2 * 4  # the value, the gradient, two calls per direction (not 2 * 600)


def elementwise_output(x):
    return np.sin(x) * 2.0


def test_check_grad_of_a_function_whose_output_is_not_a_scalar():
    x = rng.standard_normal(5)
    assert sourcegrad.check_grad(elementwise_output, x)  # a random output gradient, from seed
    weights = rng.standard_normal(5)
    assert sourcegrad.check_grad(elementwise_output, x, grad_output=weights)


def test_method_on_a_class_instance():
    class Model:
        @sourcegrad.differentiate(wrt="w")
        def loss(self, w, x):
            return np.square(w * x).sum()

    w, x = rng.standard_normal(3), rng.standard_normal(3)
    assert Model().loss(w, x) == pytest.approx(np.square(w * x).sum())



class ScaledEnergy:
    def __init__(self, scale):
        self.scale = scale

    @sourcegrad.differentiate(wrt="w")
    def energy(self, w, x):
        return self.scale * np.sum(np.sin(w * x) * w)


def test_a_decorated_method_takes_jvp_and_hvp_with_its_object_as_self():
    model = ScaledEnergy(1.5)
    w, x, v = rng.standard_normal(3), rng.standard_normal(3), rng.standard_normal(3)
    value, derivative = model.energy.jvp((w, x), v)
    eps = 1e-6
    assert value == pytest.approx(model.energy(w, x))
    assert derivative == pytest.approx((model.energy(w + eps * v, x) - model.energy(w - eps * v, x)) / (2 * eps),
                                       rel=1e-6)
    difference = (model.energy.grad(w + eps * v, x) - model.energy.grad(w - eps * v, x)) / (2 * eps)
    np.testing.assert_allclose(model.energy.hvp((w, x), v), difference, rtol=1e-5, atol=1e-7)
    assert "d_w" in model.energy.forward_source and "t_w" in model.energy.hvp_source



def test_functional_forms_of_a_decorated_function_keep_its_wrt():
    @sourcegrad.differentiate(wrt="b")
    def weighted(a, b):
        return np.sum(a * b ** 2)

    a, b = rng.standard_normal(3), rng.standard_normal(3)
    np.testing.assert_allclose(sourcegrad.grad(weighted)(a, b), 2 * a * b)
    np.testing.assert_allclose(sourcegrad.hessian(weighted)(a, b), np.diag(2 * a))


def test_functional_forms_take_a_decorated_method_from_its_object():
    model = ScaledEnergy(1.5)
    w, x, v = rng.standard_normal(3), rng.standard_normal(3), rng.standard_normal(3)
    eps = 1e-6
    np.testing.assert_allclose(sourcegrad.grad(model.energy)(w, x), model.energy.grad(w, x))
    _, derivative = sourcegrad.jvp(model.energy, (w, x), (v,))
    assert derivative == pytest.approx(model.energy.jvp((w, x), v)[1])
    np.testing.assert_allclose(sourcegrad.hvp(model.energy)((w, x), v), model.energy.hvp((w, x), v))
    columns = [(model.energy.grad(w + eps * e, x) - model.energy.grad(w - eps * e, x)) / (2 * eps) for e in np.eye(3)]
    np.testing.assert_allclose(sourcegrad.hessian(model.energy)(w, x), np.stack(columns, axis=1), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(sourcegrad.jacobian(model.energy, mode="forward")(w, x), model.energy.grad(w, x))


activation = np.tanh


def test_rebinding_a_global_function_recompiles():
    global activation

    def uses_global(w):
        return activation(w).sum()

    f = sourcegrad.differentiate(uses_global)
    w = rng.standard_normal(3)
    try:
        np.testing.assert_allclose(f.grad(w), 1 - np.tanh(w) ** 2)
        activation = np.sin
        np.testing.assert_allclose(f.grad(w), np.cos(w))
        assert f.value_and_grad(w)[0] == pytest.approx(np.sin(w).sum())
    finally:
        activation = np.tanh


def test_rebinding_any_of_several_globals_it_calls_recompiles(tmp_path):
    _write_module(tmp_path, "several_globals", """
        import numpy as np

        first = np.tanh
        second = np.sin

        def both(w):
            return (first(w) + second(w) + np.cos(w)).sum()
    """)
    module = _import(tmp_path, "several_globals")
    f = sourcegrad.differentiate(module.both, generated_dir=tmp_path / "generated")
    w = rng.standard_normal(3)
    np.testing.assert_allclose(f.grad(w), 1 - np.tanh(w) ** 2 + np.cos(w) - np.sin(w))
    assert sorted(name for _, name, _ in f._last.name_guards) == ["first", "np", "second"]
    module.second = np.exp  # whichever of the three the call path checks first, this one is checked too
    np.testing.assert_allclose(f.grad(w), 1 - np.tanh(w) ** 2 + np.exp(w) - np.sin(w))
    module.first = np.square
    np.testing.assert_allclose(f.grad(w), 2 * w + np.exp(w) - np.sin(w))
    assert f.value_and_grad(w)[0] == pytest.approx(module.both(w))


@pytest.mark.parametrize("deleted", ["first", "second"])
def test_deleting_any_of_several_globals_it_calls_is_not_called_through_the_old_gradient(tmp_path, deleted):
    _write_module(tmp_path, f"several_deleted_{deleted}", """
        import numpy as np

        first = np.tanh
        second = np.sin

        def both(w):
            return (first(w) + second(w)).sum()
    """)
    module = _import(tmp_path, f"several_deleted_{deleted}")
    f = sourcegrad.differentiate(module.both, generated_dir=tmp_path / "generated")
    w = rng.standard_normal(3)
    np.testing.assert_allclose(f.grad(w), 1 - np.tanh(w) ** 2 + np.cos(w))
    delattr(module, deleted)  # whichever guard the call path checks first, a deleted one is seen
    with pytest.raises((SourcegradError, NameError), match=deleted):
        f.grad(w)


def test_rebinding_a_numpy_function_that_a_helper_of_another_module_calls_recompiles(tmp_path):
    _write_module(tmp_path, "numpy_act_helpers", """
        import numpy as np

        act = np.tanh

        def activated(x):
            return act(x)
    """)
    _write_module(tmp_path, "numpy_act_caller", """
        import numpy as np
        import numpy_act_helpers

        def loss(x):
            return np.sum(numpy_act_helpers.activated(x))
    """)
    caller, helpers = _import(tmp_path, "numpy_act_caller"), _import(tmp_path, "numpy_act_helpers")
    f = sourcegrad.differentiate(caller.loss, generated_dir=tmp_path / "generated")
    x = rng.standard_normal(4)
    np.testing.assert_allclose(f.grad(x), 1 - np.tanh(x) ** 2)
    helpers.act = np.sin  # a global of the helper's module, not of the differentiated function's
    value, gradient = f.value_and_grad(x)
    assert value == pytest.approx(caller.loss(x))
    np.testing.assert_allclose(gradient, np.cos(x))


def test_an_attribute_of_a_global_object_hiding_its_method_recompiles(tmp_path):
    _write_module(tmp_path, "hidden_method", """
        import numpy as np

        class Net:
            def forward(self, x):
                return np.tanh(x)

        net = Net()

        def loss(x):
            return np.sum(net.forward(x))
    """)
    module = _import(tmp_path, "hidden_method")
    f = sourcegrad.differentiate(module.loss, generated_dir=tmp_path / "generated")
    x = rng.standard_normal(4)
    np.testing.assert_allclose(f.grad(x), 1 - np.tanh(x) ** 2)
    module.net.forward = np.sin  # on the instance: Net.forward, net and its class are all unchanged
    assert f.value_and_grad(x)[0] == pytest.approx(module.loss(x))
    np.testing.assert_allclose(f.grad(x), np.cos(x))
    del module.net.forward  # the class's method again
    np.testing.assert_allclose(f.grad(x), 1 - np.tanh(x) ** 2)


def test_a_builtin_a_helper_of_another_module_loops_with_is_refused_where_the_callers_module_rebinds_it(tmp_path):
    _write_module(tmp_path, "looping_helpers", """
        def weighted(x):
            total = 0.0
            for i in range(3):
                total = total + x * i
            return total
    """)
    _write_module(tmp_path, "looping_caller", """
        import numpy as np
        import looping_helpers

        def loss(x):
            return np.sum(looping_helpers.weighted(x) ** 2)
    """)
    caller, helpers = _import(tmp_path, "looping_caller"), _import(tmp_path, "looping_helpers")
    f = sourcegrad.differentiate(caller.loss, generated_dir=tmp_path / "generated")
    x = rng.standard_normal(4)
    np.testing.assert_allclose(f.grad(x), 2 * 3.0 * (3.0 * x))
    # the generated code runs in the caller's module: its own `range` would be called in the helper's place
    caller.range = lambda n: [0, 1, 2, 3, 4]
    with pytest.raises(SourcegradError, match="`range` is the builtin in looping_helpers, but the differentiated"):
        f.grad(x)
    del caller.range
    np.testing.assert_allclose(f.grad(x), 2 * 3.0 * (3.0 * x))
    helpers.range = lambda n: [0, 1, 2, 3, 4]  # the helper's own module rebinds it: its loop runs five times now
    assert f.value_and_grad(x)[0] == pytest.approx(caller.loss(x))
    np.testing.assert_allclose(f.grad(x), 2 * 10.0 * (10.0 * x))


def test_a_global_defined_later_over_a_builtin_it_calls_recompiles(tmp_path):
    _write_module(tmp_path, "shadowed_builtin", """
        import numpy as np

        def total(w):
            return sum([np.sin(w), w]).sum()
    """)
    module = _import(tmp_path, "shadowed_builtin")
    f = sourcegrad.differentiate(module.total, generated_dir=tmp_path / "generated")
    w = rng.standard_normal(3)
    np.testing.assert_allclose(f.grad(w), np.cos(w) + 1)
    module.sum = lambda items: items[0] * 3.0  # the name `sum` the function calls now means this
    assert f.value_and_grad(w)[0] == pytest.approx(module.total(w))
    np.testing.assert_allclose(f.grad(w), 3 * np.cos(w))


def counts_by_index(w):
    total = 0.0
    for i in range(len(w)):
        total = total + w[i] * float(len(w))
    return total


def test_each_builtin_a_function_reads_is_checked_once_per_call(tmp_path):
    f = sourcegrad.differentiate(counts_by_index, generated_dir=tmp_path)
    np.testing.assert_allclose(f.grad(np.ones(3)), [3.0, 3.0, 3.0])
    names = [name for _, name in f._last.unbound_names]
    assert sorted(names) == ["float", "len", "range"]


def test_a_guarded_global_deleted_after_compiling_is_not_called_through_the_old_gradient(tmp_path):
    _write_module(tmp_path, "deleted_helper", """
        import numpy as np

        activation = np.tanh

        def activated(w):
            return activation(w).sum()
    """)
    module = _import(tmp_path, "deleted_helper")
    f = sourcegrad.differentiate(module.activated, generated_dir=tmp_path / "generated")
    w = rng.standard_normal(3)
    np.testing.assert_allclose(f.grad(w), 1 - np.tanh(w) ** 2)
    del module.activation  # calling the function now raises NameError; so must its gradient, not use np.tanh
    with pytest.raises((SourcegradError, NameError), match="activation"):
        f.grad(w)


config = types.SimpleNamespace(activation=np.tanh, scale=2.0)


def uses_an_attribute_of_a_global(w):
    return (config.activation(w) * config.scale).sum()


def test_rebinding_an_attribute_of_a_global_recompiles():
    f = sourcegrad.differentiate(uses_an_attribute_of_a_global)
    w = rng.standard_normal(3)
    try:
        np.testing.assert_allclose(f.grad(w), 2 * (1 - np.tanh(w) ** 2))
        config.activation = np.sin  # another function: another rule
        np.testing.assert_allclose(f.grad(w), 2 * np.cos(w))
        config.scale = 3.0  # data is read when the code runs
        np.testing.assert_allclose(f.grad(w), 3 * np.cos(w))
        assert f.value_and_grad(w)[0] == pytest.approx(3 * np.sin(w).sum())
    finally:
        config.activation, config.scale = np.tanh, 2.0


def double(x):
    return 2.0 * x


def triple(x):
    return 3.0 * x


layers = types.SimpleNamespace(act=double)


def calls_a_helper_through_an_attribute(w):
    return layers.act(w * w).sum()


def test_rebinding_an_attribute_that_names_a_helper_recompiles():
    f = sourcegrad.differentiate(calls_a_helper_through_an_attribute)
    w = rng.standard_normal(3)
    try:
        np.testing.assert_allclose(f.grad(w), 4 * w)
        layers.act = triple  # its code was written into the gradient: the gradient is compiled again
        np.testing.assert_allclose(f.grad(w), 6 * w)
    finally:
        layers.act = double


def test_rebinding_a_functions_defaults_recompiles():
    def scaled(w, s=2.0):
        return np.sin(w * s).sum()

    def keyword_scaled(w, *, s=2.0):
        return np.sin(w * s).sum()

    w = rng.standard_normal(3)
    f = sourcegrad.differentiate(scaled)
    np.testing.assert_allclose(f.grad(w), 2.0 * np.cos(2.0 * w))
    scaled.__defaults__ = (5.0,)
    np.testing.assert_allclose(f.grad(w), 5.0 * np.cos(5.0 * w))
    s = rng.standard_normal(3)
    scaled.__defaults__ = (s,)  # a default of another rank: compiled again for it
    np.testing.assert_allclose(f.grad(w), s * np.cos(s * w))
    assert f.value_and_grad(w)[0] == pytest.approx(np.sin(w * s).sum())
    np.testing.assert_allclose(f.jvp((w,), (np.ones(3),))[1], (s * np.cos(s * w)).sum())

    g = sourcegrad.differentiate(keyword_scaled)
    np.testing.assert_allclose(g.grad(w), 2.0 * np.cos(2.0 * w))
    keyword_scaled.__kwdefaults__["s"] = 3.0  # changed in place
    np.testing.assert_allclose(g.grad(w), 3.0 * np.cos(3.0 * w))
    keyword_scaled.__kwdefaults__ = {"s": 4.0}  # rebound
    np.testing.assert_allclose(g.grad(w), 4.0 * np.cos(4.0 * w))


def scales(z, k=2.0, *, shift=0.0):
    return k * z + shift


def calls_scales(w):
    return np.sin(scales(w)).sum()


def test_rebinding_a_helpers_defaults_recompiles():
    w = rng.standard_normal(3)
    f = sourcegrad.differentiate(calls_scales)
    try:
        np.testing.assert_allclose(f.grad(w), 2.0 * np.cos(2.0 * w))
        scales.__defaults__ = (5.0,)  # written into the gradient as a literal: compiled again
        np.testing.assert_allclose(f.grad(w), 5.0 * np.cos(5.0 * w))
        scales.__kwdefaults__["shift"] = 1.0
        assert f.value_and_grad(w)[0] == pytest.approx(np.sin(5.0 * w + 1.0).sum())
    finally:
        scales.__defaults__, scales.__kwdefaults__ = (2.0,), {"shift": 0.0}


class Layer:
    def __init__(self, w):
        self.w = w

    def forward(self):
        return np.tanh(self.w)


def sine_forward(self):
    return np.sin(self.w)


def layer_loss(layer):
    return layer.forward().sum()


def test_a_method_put_in_its_class_in_place_of_another_recompiles():
    layer = Layer(rng.standard_normal(3))
    f = sourcegrad.differentiate(layer_loss)
    tanh_forward = Layer.forward
    try:
        np.testing.assert_allclose(f.grad(layer)["w"], 1.0 - np.tanh(layer.w) ** 2)
        Layer.forward = sine_forward  # the instance and its class are as they were: only the method changed
        value, gradient = f.value_and_grad(layer)
        assert value == pytest.approx(np.sin(layer.w).sum())
        np.testing.assert_allclose(gradient["w"], np.cos(layer.w))
    finally:
        Layer.forward = tanh_forward


class Squasher:
    def __init__(self, scale):
        self.scale = scale

    def forward(self, w):
        return np.tanh(w * self.scale)


class SineSquasher(Squasher):
    def forward(self, w):
        return np.sin(w * self.scale)


squasher = Squasher(2.0)


def calls_a_global_objects_method(w):
    return squasher.forward(w).sum()


def test_a_method_of_a_module_level_object_is_differentiated_and_follows_the_object():
    global squasher
    w = rng.standard_normal(3)
    f = sourcegrad.differentiate(calls_a_global_objects_method)
    np.testing.assert_allclose(f.grad(w), 2.0 * (1.0 - np.tanh(2.0 * w) ** 2))
    kept = squasher
    try:
        squasher.scale = 3.0  # data the method reads when the gradient runs
        np.testing.assert_allclose(f.grad(w), 3.0 * (1.0 - np.tanh(3.0 * w) ** 2))
        squasher = Squasher(0.5)  # another object
        np.testing.assert_allclose(f.grad(w), 0.5 * (1.0 - np.tanh(0.5 * w) ** 2))
        squasher.__class__ = SineSquasher  # the same object, another class and method
        np.testing.assert_allclose(f.grad(w), 0.5 * np.cos(0.5 * w))
    finally:
        squasher, kept.scale = kept, 2.0


class CallableLayer:
    def __init__(self, w):
        self.w = w

    def __call__(self, x):
        return np.tanh(x @ self.w)


def calls_the_model_itself(model, x):
    return np.sum(model(x) ** 2)  # its class's __call__, as model.forward(x) would be


def test_calling_an_object_runs_its_classs_call_method_differentiated():
    model, x = CallableLayer(rng.standard_normal((3, 2))), rng.standard_normal((4, 3))
    report = sourcegrad.check_grad(calls_the_model_itself, model, x)
    assert report, report
    value, gradient = sourcegrad.differentiate(calls_the_model_itself).value_and_grad(model, x)
    assert value == pytest.approx(calls_the_model_itself(model, x)) and set(gradient) == {"w"}


def tanh_of(z):
    return np.tanh(z)


def sine_of(z):
    return np.sin(z)


def sums_tanh_of(w):
    return tanh_of(w).sum()


def test_another_code_object_put_in_a_functions_place_recompiles():
    w = rng.standard_normal(3)
    helper_user, helper_code = sourcegrad.differentiate(sums_tanh_of), tanh_of.__code__
    direct, direct_code = sourcegrad.differentiate(tanh_of, wrt="z"), tanh_of.__code__
    try:
        np.testing.assert_allclose(helper_user.grad(w), 1.0 - np.tanh(w) ** 2)
        np.testing.assert_allclose(direct.grad(w, grad_output=np.ones(3)), 1.0 - np.tanh(w) ** 2)
        tanh_of.__code__ = sine_of.__code__  # the helper's and the differentiated function's own code
        np.testing.assert_allclose(helper_user.grad(w), np.cos(w))
        np.testing.assert_allclose(direct.grad(w, grad_output=np.ones(3)), np.cos(w))
    finally:
        tanh_of.__code__ = helper_code
    assert helper_code is direct_code


# ---- decorators: what a call runs is what is differentiated ------------------------------------------------


def doubles_result(fn):
    @functools.wraps(fn)
    def wrapper(x):
        return 2.0 * fn(x)
    return wrapper


def logs_calls(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        print("calling", fn.__name__)
        result = fn(*args, **kwargs)
        print("done")
        return result
    return wrapper


def scales_result(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        result = fn(*args, **kwargs)
        return result * 3.0
    return wrapper


@doubles_result
def doubled_sine(x):
    return np.sin(x).sum()


@logs_calls
def logged_sine(x, scale=2.0):
    return (np.sin(x) * scale).sum()


@scales_result
def tripled_sine(x):
    return np.sin(x).sum()


def calls_a_decorated_helper(x):
    return doubled_sine(x) + x.sum()


def test_a_decorator_that_changes_the_result_is_differentiated_with_it():
    x = rng.standard_normal(3)
    f = sourcegrad.differentiate(doubled_sine)
    value, gradient = f.value_and_grad(x)
    assert value == pytest.approx(doubled_sine(x)) and value == pytest.approx(2 * np.sin(x).sum())
    np.testing.assert_allclose(gradient, 2 * np.cos(x))
    assert sourcegrad.check_grad(calls_a_decorated_helper, x)


def test_a_decorator_that_passes_arguments_and_result_through_is_looked_through(capsys):
    x = rng.standard_normal(3)
    f = sourcegrad.differentiate(logged_sine)
    value, gradient = f.value_and_grad(x, scale=3.0)
    assert value == pytest.approx(logged_sine(x, scale=3.0))
    np.testing.assert_allclose(gradient, 3 * np.cos(x))


def passes_positions_on(fn):
    @functools.wraps(fn)
    def wrapper(*args):
        return fn(*args)
    return wrapper


@passes_positions_on
def positions_passed_on(w, x):
    return np.sum(np.tanh(x @ w) ** 2)


class NetWithWrappedMethods:
    def __init__(self, w):
        self.w = w

    @passes_positions_on
    def forward(self, x):
        return np.tanh(x @ self.w)

    @logs_calls
    def logged_forward(self, x):
        return np.sin(x @ self.w)


def calls_wrapped_methods(net, x):
    return np.sum(net.forward(x) ** 2) + np.sum(net.logged_forward(x))


def test_a_wrapper_passing_its_positional_arguments_on_is_looked_through_also_on_a_method():
    w, x = rng.standard_normal((3, 2)), rng.standard_normal((4, 3))
    gradient = sourcegrad.differentiate(positions_passed_on, wrt="w").grad(w, x)  # w, as the function names it
    assert gradient.shape == w.shape
    assert sourcegrad.check_grad(positions_passed_on, w, x)
    assert sourcegrad.check_grad(calls_wrapped_methods, NetWithWrappedMethods(w), x)


def test_a_decorator_sourcegrad_cannot_differentiate_is_refused_never_looked_through():
    with pytest.raises(SourcegradError, match=r"in the wrapper that a decorator put around tripled_sine"):
        sourcegrad.differentiate(tripled_sine).grad(rng.standard_normal(3))


def doubles_result_passing_the_rest_on(fn):
    @functools.wraps(fn)
    def wrapper(x, *args):
        return 2.0 * fn(x, *args)
    return wrapper


@doubles_result_passing_the_rest_on
def doubled_affine(x, w, b):
    return np.sum(np.sin(x @ w + b))


def test_a_wrt_position_on_a_wrappers_star_args_is_refused_the_name_is_not():
    # inspect.signature(doubled_affine) shows (x, w, b): position 1 there is w, but the wrapper's is *args
    x, w, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 2)), rng.standard_normal(2)
    with pytest.raises(SourcegradError, match=r"wrt position 1 falls on `\*args` of the wrapper"):
        sourcegrad.differentiate(doubled_affine, wrt=1).grad(x, w, b)
    d_w, d_b = sourcegrad.differentiate(doubled_affine, wrt="args").grad(x, w, b)
    h = x @ w + b
    np.testing.assert_allclose(d_w, x.T @ (2.0 * np.cos(h)))
    np.testing.assert_allclose(d_b, 2.0 * np.cos(h).sum(axis=0))


def swappable(fn):
    """A pass-through decorator whose wrapped function can be swapped for another."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)

    def swap(other):
        nonlocal fn
        fn = other
        wrapper.__wrapped__ = other
    wrapper.swap = swap
    return wrapper


@swappable
def swappable_sine(x):
    return np.sin(x).sum()


def scaled_cube(x, scale=1.0):
    return (scale * x ** 3).sum()


def calls_swappable_sine(x):
    return swappable_sine(x) + x.sum()


def sine_total(x):
    return np.sin(x).sum()


def cube_total(x):
    return (x ** 3).sum()


called_through = sine_total


@functools.wraps(sine_total)
def calls_a_global_through(*args, **kwargs):
    return called_through(*args, **kwargs)


@logs_calls
def logged_cosine(x):
    return np.cos(x).sum()


def test_a_wrapper_looked_through_is_followed_to_what_it_calls_now(capsys):
    x = rng.standard_normal(3)
    f, caller = sourcegrad.differentiate(swappable_sine), sourcegrad.differentiate(calls_swappable_sine)
    np.testing.assert_allclose(f.grad(x), np.cos(x))
    np.testing.assert_allclose(caller.grad(x), np.cos(x) + 1)
    swappable_sine.swap(scaled_cube)  # the name the wrapper calls by now holds another function
    try:
        np.testing.assert_allclose(f.grad(x), 3 * x ** 2)
        np.testing.assert_allclose(f.grad(x, scale=2.0), 6 * x ** 2)  # and its parameters
        np.testing.assert_allclose(caller.grad(x), 3 * x ** 2 + 1)  # a helper's wrapper, likewise
    finally:
        swappable_sine.swap(swappable_sine.__wrapped__)
    wrapper_code = logged_cosine.__code__
    g = sourcegrad.differentiate(logged_cosine)
    np.testing.assert_allclose(g.grad(x), -np.sin(x))
    logged_cosine.__code__ = doubled_sine.__code__  # the wrapper's own code, which no longer passes through
    try:
        np.testing.assert_allclose(g.grad(x), -2 * np.sin(x))
    finally:
        logged_cosine.__code__ = wrapper_code


def test_a_wrapper_that_no_longer_calls_the_function_it_wraps_is_not_looked_through():
    global called_through
    x = rng.standard_normal(3)
    f = sourcegrad.differentiate(calls_a_global_through)
    np.testing.assert_allclose(f.grad(x), np.cos(x))
    called_through = cube_total  # `__wrapped__` is still sine_total: the wrapper is what is read, as anew
    try:
        with pytest.raises(SourcegradError, match="in the wrapper that a decorator put around sine_total"):
            f.grad(x)
    finally:
        called_through = sine_total
    np.testing.assert_allclose(f.grad(x), np.cos(x))


# ---- the source read must be the code that runs ---------------------------------------------------------------


def _write_module(folder, name, text):
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(text))
    return path


def _import(folder, name):
    sys.path.insert(0, str(folder))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(folder))


def test_a_function_whose_file_changed_since_import_is_refused(tmp_path):
    source = """
        import numpy as np


        def loss(w):
            return np.sin(w).sum()
    """
    path = _write_module(tmp_path, "edited_after_import", source)
    module = _import(tmp_path, "edited_after_import")
    path.write_text(textwrap.dedent(source).replace("np.sin(w)", "np.cos(w) * 2.0"))
    with pytest.raises(SourcegradError, match="is not the code Python runs: the file has changed"):
        sourcegrad.differentiate(module.loss).grad(np.ones(2))


def test_lines_inserted_above_a_function_since_import_are_refused(tmp_path):
    source = """
        import numpy as np


        def loss(w):
            return np.sin(w).sum()


        def other(w):
            return np.cos(w).sum()
    """
    path = _write_module(tmp_path, "shifted_after_import", source)
    module = _import(tmp_path, "shifted_after_import")
    # `other` now starts where `loss` did, and `loss` further down: neither is read for the wrong function
    path.write_text(textwrap.dedent(source).replace("import numpy as np\n", "import numpy as np\n\n\n# a note\n"))
    for fn in (module.loss, module.other):
        with pytest.raises(SourcegradError, match="the file has changed"):
            sourcegrad.differentiate(fn).grad(np.ones(2))


def test_an_edit_elsewhere_in_the_file_leaves_the_function_readable(tmp_path):
    source = """
        import numpy as np


        def loss(w):
            return np.sin(w).sum()
    """
    path = _write_module(tmp_path, "edited_below", source)
    module = _import(tmp_path, "edited_below")
    path.write_text(textwrap.dedent(source) + "\n\ndef added_later(w):\n    return w\n")
    np.testing.assert_allclose(sourcegrad.differentiate(module.loss).grad(np.ones(2)), np.cos(np.ones(2)))


def test_two_threads_calling_one_gradient_get_their_own_results():
    from concurrent.futures import ThreadPoolExecutor

    f = sourcegrad.differentiate(two_layer, wrt=("w1", "w2"))
    inputs = [data() for _ in range(8)]
    expected = [hand_written(*args) for args in inputs]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda args: f.grad(*args), inputs * 4))
    for got, want in zip(results, expected * 4):
        np.testing.assert_allclose(got[0], want[0], rtol=1e-12)
        np.testing.assert_allclose(got[1], want[1], rtol=1e-12)


def test_a_later_call_never_overwrites_gradients_already_handed_out():
    f = sourcegrad.differentiate(two_layer, wrt=("w1", "w2"))
    first_args, second_args = data(), data()
    first = f.grad(*first_args)
    kept = [g.copy() for g in first]
    f.grad(*second_args)
    for g, k in zip(first, kept):
        np.testing.assert_array_equal(g, k)


def test_print_of_a_value_with_a_gradient_is_allowed(capsys):
    def prints(x):
        h = x * 3.0
        print("h is", h.sum())
        return (h * h).sum()

    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(sourcegrad.differentiate(prints).grad(x), 18 * x)
    assert "h is" in capsys.readouterr().out


_STEPS_OF_LARGE_ARRAYS = '''
import resource, sys
import numpy as np
import sourcegrad

kept = sourcegrad.keep_freed_memory() if sys.argv[1] == "keep" else False


def step():
    arrays = [np.ones(100_000) for _ in range(8)]  # 800 KB each, like a step's temporaries at 64,1000,100,10
    del arrays


for _ in range(3):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    step()
print(kept, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
'''


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's")
def test_keep_freed_memory_spares_each_step_its_page_faults():
    import platform
    import subprocess
    if platform.libc_ver()[0] != "glibc":
        pytest.skip("not glibc: keep_freed_memory changes nothing and says so")
    runs = {}
    for mode in ("plain", "keep"):
        out = subprocess.run([sys.executable, "-c", _STEPS_OF_LARGE_ARRAYS, mode], capture_output=True, text=True,
                             check=True).stdout.split()
        runs[mode] = (out[0] == "True", int(out[1]))
    assert runs["keep"][0] and not runs["plain"][0]
    # freed 800 KB arrays are returned to the system and mapped afresh (a fault per 4 KiB page) unless kept
    assert runs["plain"][1] > 1000 and runs["keep"][1] < 100, runs


def _squared_magnitude(z, w):
    return np.sum(np.abs(z * w) ** 2)


@pytest.mark.parametrize("wrt, z, w", [
    ("z", np.ones(3) + 1j, np.ones(3)),         # a complex wrt argument
    ("w", np.ones(3), np.ones(3) + 0j),         # the same, by the second position
    ("w", np.ones(3) * 1j, np.ones(3)),         # complex data reaching a real wrt argument
    (("z", "w"), np.ones(3) + 1j, np.ones(3) + 1j),  # two complex wrt arguments of one dtype
    (("z", "w"), np.ones(3), np.ones(3) + 1j),  # one of two
], ids=["complex_wrt", "complex_second_wrt", "complex_data", "two_complex_wrt", "one_of_two_complex"])
def test_a_complex_value_is_refused_not_differentiated(wrt, z, w):
    f = sourcegrad.differentiate(_squared_magnitude, wrt=wrt)
    f.grad(np.ones(3), np.ones(3))  # compiled for real arrays of these ranks first: the complex call reuses it
    with pytest.raises(SourcegradError, match="complex"):
        f.grad(z, w)
    into = tuple(np.empty_like(z if name == "z" else w) for name in wrt) if isinstance(wrt, tuple) else \
        np.empty_like(z if wrt == "z" else w)
    with pytest.raises(SourcegradError, match="complex"):
        f.grad(z, w, into=into)


def _products_summed(x, w):
    return np.sum(x * w)


def _products_of_a_dict_summed(data, w):
    return np.sum(data["x"] * w)


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # numpy's, for making an np.matrix
def test_an_np_matrix_argument_is_refused():
    x, w = np.matrix([[1.0, 2.0], [3.0, 4.0]]), rng.standard_normal((2, 2))
    with pytest.raises(SourcegradError, match="np.matrix arguments are not supported"):
        sourcegrad.differentiate(_products_summed, wrt="w").grad(x, w)
    f = sourcegrad.differentiate(_products_summed, wrt="w")
    np.testing.assert_allclose(f.grad(np.asarray(x), w), np.asarray(x))  # compiled for arrays first
    with pytest.raises(SourcegradError, match="np.matrix arguments are not supported"):
        f.grad(x, w)
    with pytest.raises(SourcegradError, match="np.matrix arguments are not supported"):
        sourcegrad.differentiate(_products_of_a_dict_summed, wrt="w").grad({"x": x}, w)


# ---- has_aux: `return loss, aux`, aux handed back beside the value, as JAX's has_aux -------------------------


def loss_with_metrics(w, x, y):
    prediction = np.tanh(x @ w)
    error = prediction - y
    loss = np.mean(error ** 2)
    return loss, {"accuracy": np.mean(np.sign(prediction) == np.sign(y)), "prediction": prediction}


def loss_with_aux_from_branches(w, c):
    h = w * 2.0
    for _ in range(3):
        h = np.sin(h)  # rebound in a loop: the backward pass restores earlier h, the aux keeps the last
    if c > 0:
        return np.sum(h ** 2), h
    return np.sum(h), (h, c)


def test_has_aux_returns_the_pair_and_differentiates_the_first():
    rng = np.random.default_rng(0)
    w, x, y = rng.standard_normal(3), rng.standard_normal((5, 3)), rng.standard_normal(5)
    f = sourcegrad.differentiate(loss_with_metrics, has_aux=True)
    (value, aux), gradient = f.value_and_grad(w, x, y)
    expected_value, expected_aux = loss_with_metrics(w, x, y)
    assert value == pytest.approx(expected_value)
    assert aux["accuracy"] == expected_aux["accuracy"]
    np.testing.assert_allclose(aux["prediction"], expected_aux["prediction"])
    gradient_again, aux_again = f.grad(w, x, y)  # grad gives (gradients, aux), as jax.grad(..., has_aux=True)
    np.testing.assert_allclose(gradient_again, gradient)
    assert set(aux_again) == {"accuracy", "prediction"}
    assert sourcegrad.check_grad(f, w, x, y)


@pytest.mark.parametrize("c", [1.0, -1.0], ids=["first_return", "second_return"])
def test_has_aux_with_returns_in_branches_after_a_loop(c):
    w = np.array([0.3, -0.5, 0.8])
    f = sourcegrad.differentiate(loss_with_aux_from_branches, has_aux=True)
    (value, aux), _ = f.value_and_grad(w, c)
    expected_value, expected_aux = loss_with_aux_from_branches(w, c)
    assert value == pytest.approx(expected_value)
    np.testing.assert_allclose(aux if c > 0 else aux[0], expected_aux if c > 0 else expected_aux[0])
    assert sourcegrad.check_grad(f, w, c)


def returns_one_value(w):
    return np.sum(w ** 2)


def test_several_returned_values_without_grad_output_point_to_has_aux_and_has_aux_needs_a_pair():
    with pytest.raises(SourcegradError, match="has_aux=True"):
        sourcegrad.differentiate(loss_with_metrics).grad(np.ones(3), np.ones((2, 3)), np.ones(2))
    with pytest.raises(SourcegradError, match="returns two values"):
        sourcegrad.differentiate(returns_one_value, has_aux=True).grad(np.ones(3))


# ---- functional forms and explain: the differentiated function's own options, the function as it is now ---------


def test_functional_forms_of_a_differentiated_function_keep_its_own_folder(tmp_path):
    def sine_of_matrix(x):
        return np.sin(x).sum()

    x = rng.standard_normal((2, 2))
    for folder in ("a", "b"):  # two differentiated functions of one function, each with a folder of its own
        f = sourcegrad.differentiate(sine_of_matrix, generated_dir=tmp_path / folder)
        np.testing.assert_allclose(sourcegrad.hessian(f, wrt="x")(x), np.diag(-np.sin(x).ravel()).reshape(2, 2, 2, 2))
        (path,) = (tmp_path / folder).iterdir()  # its Hessian-vector products' file
        assert path.name.endswith("sine_of_matrix__hvp_x__2.py")


def test_explain_shows_the_function_as_it_is_now():
    def sine_sum(x):
        return np.sin(x).sum()

    def exp_sum(x):
        return np.exp(x).sum()

    x = rng.standard_normal(3)
    f = sourcegrad.differentiate(sine_sum)
    f.grad(x)
    sine_sum.__code__ = exp_sum.__code__
    assert "np.exp(x)" in sourcegrad.explain(f, x, stage="normal form")
    np.testing.assert_allclose(f.grad(x), np.exp(x))
