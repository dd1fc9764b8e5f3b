"""sourcegrad.check_grad and sourcegrad.assert_grad: what the README promises of them.

A check is only worth its failures, so most tests here give check_grad a gradient that is wrong on purpose
(sourcegrad.stop_gradient hides part of a function from sourcegrad, never from the finite differences) and
see that it fails, where and by how much, and that it passes once the tolerance allows the difference. The
report's tests in test_api.py (the worst error per argument, containers, two calls per direction) are not
repeated here.
"""

import copy

import numpy as np
import pytest

import sourcegrad

rng = np.random.default_rng(3)


def tanh_loss(w, x):
    return np.tanh(x @ w).sum()


def half_hidden(x):
    # sourcegrad sees x * c (c the stopped copy): its gradient, c, is half the true one, 2x
    return (sourcegrad.stop_gradient(x) * x).sum()


def slightly_off(x, scale):
    # the true gradient is 2x (1 + scale); sourcegrad's misses the stopped part, scale * x: off by scale * |x|
    return (x * x).sum() + scale * (sourcegrad.stop_gradient(x) * x).sum()


# ---- pass and fail --------------------------------------------------------------------------------------


def test_a_passing_report_is_true_and_assert_grad_returns_it():
    w, x = rng.standard_normal((3, 2)), rng.standard_normal((4, 3))
    report = sourcegrad.check_grad(tanh_loss, w, x)
    assert report and report.passed and not report.failures
    assert list(report) == ["w"] and report["w"] < 1e-7  # wrt defaults to the first parameter
    assert "passed" in repr(report) and "passed" in report.explain()
    assert sourcegrad.assert_grad(tanh_loss, w, x) == report


def test_a_failing_report_is_false_and_names_its_worst_element():
    x = np.array([0.1, -2.0, 0.3])
    report = sourcegrad.check_grad(half_hidden, x)
    assert not report and not report.passed and "FAILED" in repr(report)
    where, analytic, numeric = report.failures["x"]
    assert where == "[1]"  # the largest error, |x| / max(1, |2x|)
    assert analytic == pytest.approx(-2.0) and numeric == pytest.approx(-4.0, rel=1e-6)
    with pytest.raises(AssertionError) as raised:
        sourcegrad.assert_grad(half_hidden, x)
    assert "x[1]: sourcegrad -2.0" in str(raised.value) and "finite differences -4.0" in str(raised.value)


def nan_gradient(x):
    # sqrt's rule at 0 divides by 0: a nan (or inf) gradient where finite differences of |x| see a slope
    return np.sum(np.sqrt(x * x))


def test_a_nan_gradient_fails():
    report = sourcegrad.check_grad(nan_gradient, np.array([0.0, 1.0]))
    assert not report and report["x"] == np.inf


# ---- rtol and atol: |analytic - numeric| <= atol + rtol * |numeric|, element by element ----------------


def test_rtol_and_atol_decide_element_by_element():
    x = np.array([0.5, -1.0, 2.0])
    scale = 1e-3  # sourcegrad's gradient is off by 1e-3 * |x|, relative to the true one 1e-3 / (2 (1 + 1e-3))
    assert not sourcegrad.check_grad(slightly_off, x, scale, wrt="x")  # the defaults: rtol 1e-5, atol 1e-6
    assert sourcegrad.check_grad(slightly_off, x, scale, wrt="x", rtol=1e-3, atol=0.0)
    assert not sourcegrad.check_grad(slightly_off, x, scale, wrt="x", rtol=1e-4, atol=0.0)
    # an absolute tolerance above the largest difference (2e-3, at x = 2) alone
    assert sourcegrad.check_grad(slightly_off, x, scale, wrt="x", rtol=0.0, atol=2.1e-3)
    report = sourcegrad.check_grad(slightly_off, x, scale, wrt="x", rtol=0.0, atol=1.5e-3)
    assert not report and report.failures["x"][0] == "[2]"  # only x = 2 is off by more than 1.5e-3


@pytest.mark.parametrize("options", [dict(rtol=-1e-5), dict(atol=np.nan), dict(eps=0.0)], ids=str)
def test_tolerances_that_would_hide_every_difference_are_refused(options):
    with pytest.raises(ValueError, match="rtol"):
        sourcegrad.check_grad(half_hidden, np.ones(2), **options)


# ---- parameters: arrays, numbers, containers and objects, by name or position ---------------------------


def layered(params, x):
    h = x
    for layer in params["layers"]:
        h = np.tanh(h @ layer["w"] + layer["b"])
    return (h * params["out"][0]).sum() + params["out"][1] * 2.0


def half_hidden_in_a_dict(params, x):
    return (sourcegrad.stop_gradient(params["w"]) * params["w"]).sum() + (x * params["b"]).sum()


def test_nested_parameters_are_checked_leaf_by_leaf():
    params = {"layers": [{"w": rng.standard_normal((3, 3)), "b": rng.standard_normal(3)} for _ in range(2)],
              "out": (rng.standard_normal(3), 0.4)}
    x = rng.standard_normal((2, 3))
    kept = copy.deepcopy(params)
    assert sourcegrad.check_grad(layered, params, x)
    assert sourcegrad.check_grad(layered, params, x, directions=3)
    # the caller's structure is left as it was (the perturbations go to copies)
    for layer, before in zip(params["layers"], kept["layers"]):
        np.testing.assert_array_equal(layer["w"], before["w"])
        np.testing.assert_array_equal(layer["b"], before["b"])


def test_a_failure_inside_a_structure_names_its_path():
    params = {"w": np.array([[0.5, -3.0], [1.0, 0.2]]), "b": np.ones(2)}
    report = sourcegrad.check_grad(half_hidden_in_a_dict, params, np.ones(2))
    assert not report and report.failures["params"][0] == "['w'][0, 1]"


class Model:
    def __init__(self):
        self.w = rng.standard_normal(3)
        self.scale = 1.5
        self.steps = 2  # an integer: a count, never perturbed

    def loss(self, x):
        total = 0.0
        for _ in range(self.steps):
            total = total + np.sum(np.sin(x * self.w)) * self.scale
        return total


def model_loss(model, x):
    return model.loss(x)


def test_an_object_parameter_and_its_integer_attributes():
    model, x = Model(), rng.standard_normal(3)
    report = sourcegrad.check_grad(model_loss, model, x, wrt=("model", "x"))
    assert report and list(report) == ["model", "x"]
    assert model.steps == 2 and isinstance(model.steps, int)


class ModelWithAnUnreadFloat:
    def __init__(self):
        self.w = rng.standard_normal((3, 2))
        self.count = 0.0  # a float attribute the loss never reads: its gradient is zero, and checked as zero


def reads_only_w(model, x):
    return np.sum(np.tanh(x @ model.w))


def test_an_object_attribute_the_function_never_reads_is_checked_as_zero():
    model, x = ModelWithAnUnreadFloat(), rng.standard_normal((4, 3))
    report = sourcegrad.check_grad(reads_only_w, model, x, wrt=("model", "x"))
    assert report and list(report) == ["model", "x"]


def keyword_loss(w, x, power=2.0):
    return np.sum(np.abs(x @ w) ** power)


def test_keyword_arguments_and_positions_for_wrt():
    w, x = rng.standard_normal(3) + 2.0, np.abs(rng.standard_normal((4, 3))) + 0.5
    assert sourcegrad.check_grad(keyword_loss, w, x, power=3.0)
    assert sourcegrad.check_grad(keyword_loss, w, x=x, wrt=(0, 1))
    assert list(sourcegrad.check_grad(keyword_loss, w, x, 2.5, wrt=("power",))) == ["power"]


def test_float32_arguments_are_checked_in_float64():
    # the finite differences of a float32 function would be noise at eps = 1e-6; check_grad promotes the inputs
    w, x = rng.standard_normal(3).astype(np.float32), rng.standard_normal((4, 3)).astype(np.float32)
    report = sourcegrad.check_grad(tanh_loss, w, x)
    assert report and report["w"] < 1e-7
    assert w.dtype == np.float32


def with_aux(w):
    loss = np.sum(w ** 3)
    return loss, {"norm": np.linalg.norm(w)}


def test_a_function_with_aux_is_checked_on_its_loss():
    f = sourcegrad.differentiate(with_aux, has_aux=True)
    assert sourcegrad.check_grad(f, rng.standard_normal(4))


# ---- outputs that are not scalars: weighed by grad_output ----------------------------------------------------


def reversed_twice(x):
    # the true function is 2 x[::-1] - x; sourcegrad sees x[::-1] alone. With every output weighted 1 the two
    # gradients agree (both are 1 everywhere), so only unequal weights show the error.
    return x[::-1] + sourcegrad.stop_gradient(x[::-1]) - sourcegrad.stop_gradient(x)


def test_an_array_output_is_weighed_by_a_random_grad_output_by_default():
    x = rng.standard_normal(4)
    assert sourcegrad.check_grad(reversed_twice, x, grad_output=np.ones(4))  # blind to the error, as said above
    assert not sourcegrad.check_grad(reversed_twice, x)  # random weights, drawn from seed
    assert not sourcegrad.check_grad(reversed_twice, x, seed=7)
    assert not sourcegrad.check_grad(reversed_twice, x, grad_output=np.arange(4.0))


def matrix_output(w, x):
    return np.tanh(x @ w)


def test_grad_output_of_the_output_shape():
    w, x = rng.standard_normal((3, 2)), rng.standard_normal((4, 3))
    weights = rng.standard_normal((4, 2))
    assert sourcegrad.check_grad(matrix_output, w, x, grad_output=weights)
    assert sourcegrad.check_grad(matrix_output, w, x, grad_output=weights, directions=2)
    with pytest.raises(Exception, match="shape"):
        sourcegrad.check_grad(matrix_output, w, x, grad_output=np.ones(2))


# ---- random directions: the derivative along k directions, two calls each ------------------------------------


def test_random_directions_catch_a_wrong_gradient_of_a_large_input():
    x = rng.standard_normal(2000)  # element by element: 4000 calls; along 3 directions: 6
    report = sourcegrad.check_grad(half_hidden, x, directions=3)
    assert not report
    where, analytic, numeric = report.failures["x"]
    assert where == " along random direction 0" and analytic == pytest.approx(numeric / 2, rel=1e-4)
    assert sourcegrad.check_grad(tanh_loss, rng.standard_normal((200, 10)), rng.standard_normal((5, 200)),
                                 directions=3)


def test_random_directions_are_drawn_from_seed():
    x = rng.standard_normal(50)
    first = sourcegrad.check_grad(half_hidden, x, directions=2, seed=1)
    again = sourcegrad.check_grad(half_hidden, x, directions=2, seed=1)
    other = sourcegrad.check_grad(half_hidden, x, directions=2, seed=2)
    assert first.failures == again.failures and first.failures != other.failures


@pytest.mark.parametrize("directions", [0, -1, 1.5, True])
def test_a_number_of_directions_that_checks_nothing_is_refused(directions):
    with pytest.raises(ValueError, match="directions"):
        sourcegrad.check_grad(half_hidden, np.ones(3), directions=directions)


def vector_for_a_scalar(w):
    return np.sum(w * w)


def test_a_gradient_of_another_shape_fails_along_random_directions_too(monkeypatch):
    """Along random directions a gradient of the wrong shape broadcasts against the direction, and its sum can
    agree with the derivative: its shape is checked first."""
    f = sourcegrad.differentiate(vector_for_a_scalar)
    w = np.array(0.7)
    wrong = lambda *args, **kwargs: np.full(3, 2 * 0.7 / 3)  # noqa: E731  (sums to the right derivative)
    monkeypatch.setattr(f, "grad", wrong)
    result = sourcegrad.check_grad(f, w, directions=4)
    assert not result and "its shape" in result.explain()


class CallableLayer:
    def __init__(self):
        self.w = np.array([1.0, 2.0])

    def __call__(self, x):
        return x * self.w


def half_stopped(layer, x):
    return np.sum(layer(x) * sourcegrad.stop_gradient(layer(x)))


def test_an_object_with_call_is_checked_through_its_arrays():
    # stop_gradient makes sourcegrad's gradient half the function's own: the check must see the layer's w
    report = sourcegrad.check_grad(half_stopped, CallableLayer(), np.array([0.5, -1.0]), wrt="layer")
    assert not report and report.failures["layer"][0].startswith("['w']")
