"""sourcegrad.optim: SGD and Adam against their formulas written out here, and against torch.optim where installed.

The formulas are those of PyTorch's documentation. Each test runs ten steps on a small problem whose gradient
depends on the current parameters, so a wrong step shows up in every later one.
"""

import numpy as np
import pytest

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


def reference_sgd(lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
    p, buf = P0.copy(), None
    for t in range(1, STEPS + 1):
        g = gradient(p, t)
        if weight_decay != 0:
            g = g + weight_decay * p
        if momentum != 0:
            buf = g if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g
    return p


def reference_adam(lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False):
    beta1, beta2 = betas
    p, m, v, v_max = P0.copy(), np.zeros(4), np.zeros(4), np.zeros(4)
    for t in range(1, STEPS + 1):
        g = gradient(p, t)
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


def containers():
    """(params, gradient, the parameter arrays in order, their gradients in the same order)."""
    a, b, c = np.array([1.0, 2.0]), np.array([[3.0]]), np.array(4.0)
    ga, gb, gc = np.array([0.1, -0.2]), np.array([[0.3]]), np.array(-0.4)
    layer = Layer()
    gw, gbias = np.full((2, 2), 0.5), np.array([1.0, -1.0])
    return {
        "dict": ({"a": a, "b": b}, {"b": gb, "a": ga}, [a, b], [ga, gb]),
        "list": ([a, b, c], [ga, gb, gc], [a, b, c], [ga, gb, gc]),
        "tuple": ((a, b), [ga, gb], [a, b], [ga, gb]),
        "nested": ({"layer": {"w": a, "b": [b, c]}}, {"layer": {"w": ga, "b": (gb, gc)}}, [a, b, c], [ga, gb, gc]),
        "object": (layer, {"w": gw, "b": gbias}, [layer.w, layer.b], [gw, gbias]),
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
