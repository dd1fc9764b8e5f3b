"""sourcegrad.optim: SGD and Adam against their formulas written out here, and against torch.optim where installed.

The formulas are those of PyTorch's documentation. Each test runs ten steps on a small problem whose gradient
depends on the current parameters, so a wrong step shows up in every later one.
"""

import numpy as np
import pytest

import sourcegrad
from sourcegrad import SourcegradError
from sourcegrad.optim import SGD, Adam

STEPS = 10
P0 = np.array([0.5, -1.5, 2.0, 0.0])

SGD_CASES = {
    "plain": dict(lr=0.1),
    "momentum": dict(lr=0.1, momentum=0.9),
    "nesterov": dict(lr=0.1, momentum=0.9, nesterov=True),
    "weight_decay": dict(lr=0.1, weight_decay=0.05),
    "dampening": dict(lr=0.1, momentum=0.8, dampening=0.3),
    "all": dict(lr=0.05, momentum=0.7, nesterov=True, weight_decay=0.02),
}
ADAM_CASES = {
    "plain": dict(lr=0.1),
    "weight_decay": dict(lr=0.1, weight_decay=0.05),
    "amsgrad": dict(lr=0.1, amsgrad=True),
    "all": dict(lr=0.05, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.02, amsgrad=True),
}


def gradient(p, t):
    """The gradient at step t (1-based): a quadratic's, small on every third step so that v falls (AMSGrad)."""
    scale = 0.01 if t % 3 == 0 else 1.0
    return scale * (np.array([1.0, 2.0, 0.5, 3.0]) * p - np.array([0.3, -0.2, 0.1, 0.4]))


def reference_sgd(lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0, p0=P0, grad=gradient,
                  steps=STEPS):
    p, buf = np.copy(p0), None
    for t in range(1, steps + 1):
        g = grad(p, t)
        if weight_decay != 0:
            g = g + weight_decay * p
        if momentum != 0:
            buf = g if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g
    return p


def reference_adam(lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, p0=P0, grad=gradient,
                   steps=STEPS):
    beta1, beta2 = betas
    p, m, v, v_max = np.copy(p0), np.zeros_like(p0), np.zeros_like(p0), np.zeros_like(p0)
    for t in range(1, steps + 1):
        g = grad(p, t)
        if weight_decay != 0:
            g = g + weight_decay * p
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g ** 2
        m_hat = m / (1 - beta1 ** t)
        if amsgrad:
            v_max = np.maximum(v_max, v)
            v_hat = v_max / (1 - beta2 ** t)
        else:
            v_hat = v / (1 - beta2 ** t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return p


def run(optimizer_class, options, p0=P0):
    p = p0.copy()
    opt = optimizer_class(p, **options)
    for t in range(1, STEPS + 1):
        opt.step(gradient(p, t))
    return p


# ---- (1) the formulas, written out above -----------------------------------

@pytest.mark.parametrize("case", SGD_CASES)
def test_sgd_matches_the_formulas(case):
    np.testing.assert_allclose(run(SGD, SGD_CASES[case]), reference_sgd(**SGD_CASES[case]), rtol=0, atol=1e-12)


@pytest.mark.parametrize("case", ADAM_CASES)
def test_adam_matches_the_formulas(case):
    np.testing.assert_allclose(run(Adam, ADAM_CASES[case]), reference_adam(**ADAM_CASES[case]), rtol=0, atol=1e-12)


def test_the_cases_exercise_what_they_name():
    """Each option changes the result, so a test above would notice an option that is ignored."""
    assert not np.allclose(reference_adam(lr=0.1, amsgrad=True), reference_adam(lr=0.1))
    results = [reference_sgd(**options) for options in SGD_CASES.values()]
    assert all(not np.allclose(a, b) for i, a in enumerate(results) for b in results[i + 1:])


def test_zero_state_restarts_from_the_first_step():
    p = P0.copy()
    opt = Adam(p, lr=0.1, amsgrad=True)
    opt.step(gradient(p, 1))
    opt.step(gradient(p, 2))
    after_two = p.copy()
    opt.zero_state()
    assert opt.state == {}
    opt.step(gradient(p, 1))
    fresh = after_two.copy()
    Adam(fresh, lr=0.1, amsgrad=True).step(gradient(after_two, 1))
    np.testing.assert_array_equal(p, fresh)
    assert opt.state[()]["step"] == 1


# ---- (2) torch.optim, where torch is installed ------------------------------

def run_torch(optimizer_name, options):
    torch = pytest.importorskip("torch")
    p = torch.tensor(P0, dtype=torch.float64, requires_grad=True)
    opt = getattr(torch.optim, optimizer_name)([p], **options)
    for t in range(1, STEPS + 1):
        p.grad = torch.from_numpy(gradient(p.detach().numpy(), t))
        opt.step()
    return p.detach().numpy()


@pytest.mark.parametrize("case", SGD_CASES)
def test_sgd_matches_torch(case):
    expected = run_torch("SGD", SGD_CASES[case])
    np.testing.assert_allclose(run(SGD, SGD_CASES[case]), expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("case", ADAM_CASES)
def test_adam_matches_torch(case):
    expected = run_torch("Adam", ADAM_CASES[case])
    np.testing.assert_allclose(run(Adam, ADAM_CASES[case]), expected, rtol=0, atol=1e-12)


# ---- (3) every kind of container, updated in place --------------------------

class Layer:
    def __init__(self):
        self.w = np.array([[1.0, 2.0], [3.0, 4.0]])
        self.b = np.array([0.5, -0.5])
        self.name = "dense"  # not an array: not a parameter
        self.units = 2


class SlottedLayer:
    __slots__ = ("w", "b")

    def __init__(self):
        self.w = np.array([[1.0, 2.0], [3.0, 4.0]])
        self.b = np.array([0.5, -0.5])


def containers():
    """(params, gradient, the parameter arrays in order, their gradients in the same order)."""
    a, b, c = np.array([1.0, 2.0]), np.array([[3.0]]), np.array(4.0)
    ga, gb, gc = np.array([0.1, -0.2]), np.array([[0.3]]), np.array(-0.4)
    layer, slotted = Layer(), SlottedLayer()
    gw, gbias = np.full((2, 2), 0.5), np.array([1.0, -1.0])
    return {
        "dict": ({"a": a, "b": b}, {"b": gb, "a": ga}, [a, b], [ga, gb]),
        "list": ([a, b, c], [ga, gb, gc], [a, b, c], [ga, gb, gc]),
        "tuple": ((a, b), [ga, gb], [a, b], [ga, gb]),
        "nested": ({"layer": {"w": a, "b": [b, c]}}, {"layer": {"w": ga, "b": (gb, gc)}}, [a, b, c], [ga, gb, gc]),
        "object": (layer, {"w": gw, "b": gbias}, [layer.w, layer.b], [gw, gbias]),
        "object with __slots__": (slotted, {"w": gw, "b": gbias}, [slotted.w, slotted.b], [gw, gbias]),
        "array": (a, ga, [a], [ga]),
        "0-d array": (c, gc, [c], [gc]),
    }


@pytest.mark.parametrize("kind", containers())
@pytest.mark.parametrize("optimizer_class", [SGD, Adam])
def test_every_container_is_updated_in_place(kind, optimizer_class):
    params, grads, arrays, array_grads = containers()[kind]
    before = [array.copy() for array in arrays]
    opt = optimizer_class(params, lr=0.1)
    opt.step(grads)
    opt.step(grads)
    for array, old, grad in zip(arrays, before, array_grads):
        if optimizer_class is SGD:
            expected = old - 0.2 * grad
        else:  # Adam with a constant gradient moves each entry by lr per step (up to eps)
            expected = old - 0.2 * np.sign(grad)
        np.testing.assert_allclose(array, expected, rtol=0, atol=1e-6)
    assert len(opt.state) == len(arrays)  # state is kept per parameter
    if kind == "object":
        assert params.w is arrays[0] and params.b is arrays[1]
        assert (params.name, params.units) == ("dense", 2)
    if kind == "nested":
        assert params["layer"]["w"] is arrays[0] and params["layer"]["b"][0] is arrays[1]


def test_references_held_elsewhere_see_the_update():
    layer = Layer()
    w = layer.w
    view = layer.w[0]
    SGD(layer, lr=1.0).step({"w": np.ones((2, 2)), "b": np.zeros(2)})
    assert layer.w is w
    np.testing.assert_array_equal(view, [0.0, 1.0])


# ---- (4) dtypes -------------------------------------------------------------

@pytest.mark.parametrize("optimizer_class, options", [
    (SGD, dict(lr=np.float64(0.1), momentum=np.float64(0.9), nesterov=True, weight_decay=np.float64(0.01))),
    (SGD, dict(lr=0.1, momentum=0.9, dampening=0.1)),
    (Adam, dict(lr=np.float64(0.1), betas=(np.float64(0.9), 0.99), eps=np.float64(1e-8), weight_decay=0.01,
                amsgrad=True)),
])
@pytest.mark.parametrize("grad_dtype", [np.float32, np.float64])
def test_float32_stays_float32(optimizer_class, options, grad_dtype):
    p = P0.astype(np.float32)
    opt = optimizer_class({"p": p}, **options)
    for t in range(1, 4):
        opt.step({"p": gradient(p.astype(np.float64), t).astype(grad_dtype)})
    assert p.dtype == np.float32
    assert all(buffer.dtype == np.float32 for buffer in opt.state[("p",)].values() if hasattr(buffer, "dtype"))
    reference = P0.copy()  # the same steps in float64
    ref_opt = optimizer_class({"p": reference}, **options)
    for t in range(1, 4):
        ref_opt.step({"p": gradient(reference, t)})
    np.testing.assert_allclose(p, reference, rtol=1e-5, atol=1e-5)


# ---- (5) gradients that do not match the parameters -------------------------

def mismatches():
    a, b = np.zeros(2), np.zeros((2, 3))
    return {
        "missing key": ({"a": a, "b": b}, {"a": a}, r"missing keys \['b'\]$"),
        "unknown key": ({"a": a}, {"a": a, "c": a}, r"unknown keys \['c'\]"),
        "short list": ([a, b], [a], "1 entries.*list of 2"),
        "long tuple": ((a,), (a, a), "2 entries.*tuple of 1"),
        "wrong shape": ({"a": a, "b": b}, {"a": a, "b": np.zeros((3, 2))},
                        r"\['b'\] has shape \(3, 2\), where the parameter has shape \(2, 3\)"),
        "array for a dict": ({"a": a}, a, "is a ndarray, where the parameters have a dict"),
        "dict for a list": ([a], {0: a}, "is a dict, where the parameters have a list"),
        "scalar for an array": (a, 0.5, "is a float, where the parameter has shape"),
        "nested": ({"layer": [a, {"w": b}]}, {"layer": [a, {"w": a}]}, r"\['layer'\]\[1\]\['w'\] has shape \(2,\)"),
        "object attribute": (Layer(), {"w": np.zeros((2, 2))}, r"missing keys \['b'\]"),
        "object attribute shape": (Layer(), {"w": np.zeros(2), "b": np.zeros(2)}, r"\['w'\] has shape \(2,\)"),
    }


@pytest.mark.parametrize("case", mismatches())
@pytest.mark.parametrize("optimizer_class", [SGD, Adam])
def test_mismatched_gradients_are_refused(case, optimizer_class):
    params, grads, message = mismatches()[case]
    with pytest.raises(SourcegradError, match=message):
        optimizer_class(params, lr=0.1).step(grads)


def test_a_refused_step_changes_nothing():
    a, b = np.ones(2), np.ones(3)
    opt = SGD({"a": a, "b": b}, lr=0.1, momentum=0.9)
    with pytest.raises(SourcegradError):
        opt.step({"a": np.ones(2), "b": np.ones(4)})
    np.testing.assert_array_equal(a, np.ones(2))
    assert opt.state == {}


@pytest.mark.parametrize("params", [{"a": 1.5}, [np.float64(1.0)], "weights"])
def test_parameters_that_cannot_change_in_place_are_refused(params):
    with pytest.raises(SourcegradError, match="not an array"):
        SGD(params, lr=0.1).step(params)


def test_bad_hyperparameters_are_refused():
    with pytest.raises(ValueError, match="nesterov"):
        SGD(np.zeros(2), lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="beta"):
        Adam(np.zeros(2), betas=(0.9, 1.0))


def all_cases():
    return [pytest.param(SGD, options, id=f"SGD-{name}") for name, options in SGD_CASES.items()] + \
           [pytest.param(Adam, options, id=f"Adam-{name}") for name, options in ADAM_CASES.items()]


def reference(optimizer_class, options, **problem):
    return (reference_sgd if optimizer_class is SGD else reference_adam)(**options, **problem)


# ---- (6) 0-d parameters, whatever form their gradient takes -----------------

def gradient_0d(p, t):
    """A 0-d quadratic's gradient, small on every third step as gradient() is."""
    return (0.01 if t % 3 == 0 else 1.0) * (2.0 * p - 0.3)


def test_a_0d_parameter_with_momentum_accumulates_its_buffer():
    p = np.array(1.0)
    opt = SGD(p, lr=0.1, momentum=0.9)
    for _ in range(3):
        opt.step(np.float64(1.0))  # what sourcegrad returns for a 0-d parameter
    # buffer 1, 0.9 * 1 + 1 = 1.9, 0.9 * 1.9 + 1 = 2.71; p = 1 - 0.1 * (1 + 1.9 + 2.71)
    np.testing.assert_allclose(opt.state[()]["momentum_buffer"], 2.71, rtol=1e-12)
    np.testing.assert_allclose(p, 0.439, rtol=1e-12)


@pytest.mark.parametrize("as_gradient", [np.float64, np.array, float], ids=["numpy scalar", "0-d array", "float"])
@pytest.mark.parametrize("optimizer_class, options", all_cases())
def test_0d_parameters_follow_the_formulas_whatever_form_the_gradient_takes(optimizer_class, options, as_gradient):
    p = np.array(0.7)
    opt = optimizer_class([p], **options)
    for t in range(1, STEPS + 1):
        opt.step([as_gradient(gradient_0d(float(p), t))])
    expected = reference(optimizer_class, options, p0=np.array(0.7), grad=gradient_0d)
    np.testing.assert_allclose(p, expected, rtol=0, atol=1e-12)
    buffers = [value for value in opt.state[(0,)].values() if not isinstance(value, int)]
    assert len(buffers) == len(opt.state[(0,)]) - (optimizer_class is Adam)  # every buffer but Adam's step count
    assert all(type(buffer) is np.ndarray and buffer.shape == () for buffer in buffers)


# ---- (7) one array in several places is one parameter ------------------------

class Holder:
    def __init__(self, w):
        self.w = w


def shared_structures(w):
    """(params holding w twice and another array, the gradient from a per-reference gradient of w and of b)."""
    b = np.array([1.0, -1.0])
    return {
        "two objects": ({"layers": [Holder(w), Holder(w)], "b": b},
                        lambda g1, g2, gb: {"layers": [{"w": g1}, {"w": g2}], "b": gb}),
        "a list": ([w, b, w], lambda g1, g2, gb: [g1, gb, g2]),
    }


@pytest.mark.parametrize("kind", ["two objects", "a list"])
@pytest.mark.parametrize("optimizer_class, options", all_cases())
def test_an_array_held_twice_is_updated_once_from_its_summed_gradient(kind, optimizer_class, options):
    w = P0.copy()
    params, make_gradient = shared_structures(w)[kind]
    opt = optimizer_class(params, **options)
    for t in range(1, STEPS + 1):
        # the two references' gradients: gradient(w) split 1 : 0.5
        opt.step(make_gradient(gradient(w, t), 0.5 * gradient(w, t), np.array([0.25, 0.5])))
    summed = reference(optimizer_class, options, grad=lambda p, t: 1.5 * gradient(p, t))
    np.testing.assert_allclose(w, summed, rtol=0, atol=1e-12)
    assert len(opt.state) == 2  # one state for w, one for b


# ---- (8) what is not a float array is not a parameter --------------------------

class Counter:
    scale = np.array([2.0, 3.0])  # a class attribute: a constant, not a parameter

    def __init__(self):
        self.w = np.array([1.0, -2.0])
        self.steps_seen = np.array(0)
        self.mask = np.array([True, False])
        self.name = "counter"

    def loss(self, x):
        return (self.w * self.scale * x).sum()


def counter_loss(model, x):
    return model.loss(x)


def test_integer_and_bool_arrays_are_left_alone():
    model, x = Counter(), np.array([1.0, 0.5])
    grads = sourcegrad.grad(counter_loss, wrt="model")(model, x)
    grads.pop("scale")  # the class attribute's gradient: see test_a_class_attribute_is_not_a_parameter
    assert set(grads) == {"w", "steps_seen", "mask"}  # the gradient the optimizer receives from sourcegrad
    opt = SGD(model, lr=0.1, weight_decay=0.5)
    opt.step(grads)
    np.testing.assert_allclose(model.w, [1.0, -2.0] - 0.1 * (Counter.scale * x + 0.5 * np.array([1.0, -2.0])))
    assert model.steps_seen == 0 and model.steps_seen.dtype.kind == "i" and model.mask.tolist() == [True, False]
    assert list(opt.state) == [("w",)]


def test_a_class_attribute_is_not_a_parameter():
    model, x = Counter(), np.array([1.0, 0.5])
    grads = sourcegrad.grad(counter_loss, wrt="model")(model, x)
    np.testing.assert_allclose(grads["scale"], model.w * x)  # sourcegrad differentiates with respect to it
    with pytest.raises(SourcegradError, match=r"gradient\['scale'\] is not zero.*class Counter.*stop_gradient"):
        Adam(model, lr=0.1).step(grads)
    np.testing.assert_array_equal(model.w, [1.0, -2.0])
    grads["scale"] = np.zeros(2)  # a zero gradient for it (a constant) is ignored
    Adam(model, lr=0.1).step(grads)
    np.testing.assert_allclose(model.w, [1.0 - 0.1, -2.0 - 0.1], rtol=1e-6)  # Adam's first step: lr * sign(g)
    np.testing.assert_array_equal(Counter.scale, [2.0, 3.0])


def test_layer_dicts_and_lists_may_hold_names_and_settings():
    @sourcegrad.differentiate(wrt="layers")
    def loss(layers, x):
        total = 0.0
        for layer in layers:
            total = total + (layer["w"] * x).sum() * layer["c"][0]
        return total

    layers = [{"w": np.array([1.0, 2.0]), "name": "fc1", "c": [np.array(3.0), "relu", np.array(1), None]},
              {"w": np.array([-1.0, 0.0]), "name": "fc2", "c": [np.array(-1.0), "tanh", np.array(2), None]}]
    x = np.array([0.5, 2.0])
    grads = loss.grad(layers, x)
    assert grads[0]["name"] == 0.0  # sourcegrad's gradient for a string
    expected = [{"w": layer["w"] - 0.1 * x * layer["c"][0], "c0": layer["c"][0] - 0.1 * (layer["w"] * x).sum()}
                for layer in layers]
    SGD(layers, lr=0.1).step(grads)
    for layer, want in zip(layers, expected):
        np.testing.assert_allclose(layer["w"], want["w"], rtol=1e-12)
        np.testing.assert_allclose(layer["c"][0], want["c0"], rtol=1e-12)
    assert [(layer["name"], layer["c"][1:]) for layer in layers] == [("fc1", ["relu", 1, None]),
                                                                      ("fc2", ["tanh", 2, None])]
    # a dict key or attribute holding no parameter may be left out of a hand-written gradient
    SGD(layers[0], lr=0.1).step({"w": np.zeros(2), "c": [np.float64(0.0), 0.0, 0.0, None]})


@pytest.mark.parametrize("params, grads, message", [
    ({"w": np.ones(2), "n": np.array([1, 2])}, {"w": np.ones(2), "n": np.ones(2)},
     r"gradient\['n'\] is not zero, but params\['n'\] has dtype int64, and only floating-point arrays"),
    ([np.ones(2), "relu"], [np.ones(2), 1.0], r"gradient\[1\] is not zero, but params\[1\] is a str, not an array"),
    ({"n": np.array(0)}, {"n": np.array(0.0)}, "holds no floating-point array"),
    ({"w": np.ones(2), "z": np.ones(2, complex)}, {"w": np.ones(2), "z": np.ones(2)},
     r"params\['z'\] has dtype complex128: the optimizers update real floating-point parameters only"),
], ids=["integer array", "string", "no parameter", "complex"])
def test_what_cannot_be_a_parameter_is_refused_by_name(params, grads, message):
    for optimizer_class in (SGD, Adam):
        before = {key: np.copy(value) for key, value in params.items()} if isinstance(params, dict) else None
        with pytest.raises(SourcegradError, match=message):
            optimizer_class(params, lr=0.1).step(grads)
        if before:
            assert all(np.array_equal(params[key], value) for key, value in before.items())


# ---- (9) a step that cannot be taken changes nothing ----------------------------

def test_a_parameter_replaced_by_another_shape_needs_its_state_reset():
    params = {"a": P0.copy(), "b": np.ones(3)}
    opt = Adam(params, lr=0.1)
    opt.step({"a": gradient(params["a"], 1), "b": np.ones(3)})
    a_after_one, state_after_one = params["a"].copy(), {key: dict(value) for key, value in opt.state.items()}
    params["b"] = np.ones(4)
    with pytest.raises(SourcegradError, match=r"params\['b'\] has shape \(4,\).*state for it.*has shape \(3,\).*"
                                              r"del optimizer\.state\[\('b',\)\]"):
        opt.step({"a": gradient(params["a"], 2), "b": np.ones(4)})
    np.testing.assert_array_equal(params["a"], a_after_one)
    assert opt.state[("a",)]["step"] == 1 and {key: value["step"] for key, value in opt.state.items()} == \
        {key: value["step"] for key, value in state_after_one.items()}
    del opt.state[("b",)]
    opt.step({"a": gradient(params["a"], 2), "b": -np.ones(4)})
    np.testing.assert_allclose(params["a"], reference_adam(lr=0.1, steps=2), rtol=0, atol=1e-12)
    np.testing.assert_allclose(params["b"], 1.0 + 0.1, rtol=1e-6)  # a first step again: lr * sign(g)


@pytest.mark.parametrize("optimizer_class", [SGD, Adam])
def test_a_read_only_parameter_is_refused_before_anything_changes(optimizer_class):
    frozen = np.ones(3)
    frozen.flags.writeable = False
    params = {"a": np.ones(2), "layer": [frozen]}
    opt = optimizer_class(params, lr=0.1)
    with pytest.raises(SourcegradError, match=r"params\['layer'\]\[0\] is read-only.*writeable copy"):
        opt.step({"a": np.ones(2), "layer": [np.ones(3)]})
    np.testing.assert_array_equal(params["a"], np.ones(2))
    assert opt.state == {}


# ---- (10) constructor arguments ------------------------------------------------

@pytest.mark.parametrize("optimizer_class, options, message", [
    (SGD, dict(lr=None), r"SGD's lr must be a finite number >= 0, got None: give, for example, lr="),
    (SGD, dict(lr=float("nan")), "lr must be a finite number >= 0, got nan"),
    (SGD, dict(lr=-0.1), "lr must be a finite number >= 0, got -0.1"),
    (SGD, dict(lr="0.1"), "lr must be a finite number"),
    (SGD, dict(lr=0.1, momentum=float("inf")), "momentum must be a finite number"),
    (SGD, dict(lr=0.1, dampening=-0.5), "dampening must be a finite number"),
    (SGD, dict(lr=0.1, weight_decay=float("nan")), "weight_decay must be a finite number"),
    (SGD, dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "nesterov momentum needs .*dampening == 0"),
    (Adam, dict(lr=float("inf")), "Adam's lr must be a finite number"),
    (Adam, dict(betas=(0.9,)), r"betas must be two numbers in \[0, 1\), got \(0.9,\): give, for example"),
    (Adam, dict(betas=0.9), r"betas must be two numbers in \[0, 1\), got 0.9"),
    (Adam, dict(betas=(-0.1, 0.999)), r"betas\[0\] must be a number in \[0, 1.0\), got -0.1"),
    (Adam, dict(betas=(0.9, None)), r"betas\[1\] must be a number in \[0, 1.0\), got None"),
    (Adam, dict(eps=float("nan")), "eps must be a finite number"),
    (Adam, dict(weight_decay=-1), "weight_decay must be a finite number"),
])
def test_bad_constructor_arguments_are_refused_with_the_fix(optimizer_class, options, message):
    with pytest.raises(SourcegradError, match=message):
        optimizer_class(np.zeros(2), **options)


def test_edge_hyperparameters_torch_accepts_are_accepted():
    SGD(np.zeros(2), lr=0, momentum=0, weight_decay=0)
    SGD(np.zeros(2), lr=np.array(0.1), momentum=np.float32(0.5), nesterov=True)
    Adam(np.zeros(2), lr=1, betas=[0, 0], eps=0)
