"""Helpers (the user's own functions), parameters in dicts, lists, tuples and objects, methods, sourcegrad.nn.

Every gradient is checked element by element, per entry of the container, against float64 central
finite differences of the original function.
"""

import sys
from pathlib import Path

import numpy as np
import pytest

import helper_module
import sourcegrad
from device_support import assert_on, host, module_of, on
from sourcegrad import SourcegradError, nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))

rng = np.random.default_rng(21)
EPS = 1e-6


# ---- finite differences over containers ----------------------------------------------------------------------

def leaves(value, path=()):
    """(path, array) for every array in a dict / list / tuple / object, in a fixed order."""
    if isinstance(value, np.ndarray) or module_of(value) == "cupy":
        yield path, value
    elif isinstance(value, dict):
        for key in value:
            yield from leaves(value[key], path + (key,))
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from leaves(item, path + (i,))
    elif hasattr(value, "__dict__"):
        for key, item in vars(value).items():
            yield from leaves(item, path + (key,))


def at(gradient, path):
    for key in path:
        gradient = gradient[key]
    return gradient


def check_container(fn, container, *rest, argument=0, device="cpu"):
    """Compare sourcegrad's gradient of fn with respect to the container argument, leaf by leaf; the gradient
    computed on `device`, the finite differences on the host."""
    args = [container, *rest] if argument == 0 else [*rest[:argument], container, *rest[argument:]]
    gradient = sourcegrad.differentiate(fn, wrt=argument).grad(*on(device, args))
    assert_on(device, [leaf for _, leaf in leaves(gradient)])
    gradient = host(gradient)
    worst = 0.0
    for path, leaf in leaves(container):
        numeric = np.zeros_like(leaf)
        for i in range(leaf.size):
            original = leaf.flat[i]
            leaf.flat[i] = original + EPS
            plus = fn(*args)
            leaf.flat[i] = original - EPS
            minus = fn(*args)
            leaf.flat[i] = original
            numeric.flat[i] = (plus - minus) / (2 * EPS)
        got = at(gradient, path)
        assert np.shape(got) == leaf.shape, path
        worst = max(worst, float(np.max(np.abs(got - numeric) / np.maximum(1.0, np.abs(numeric)))))
    assert worst < 1e-6, worst
    return gradient


# ---- helpers ---------------------------------------------------------------------------------------------------

def affine(x, w, b=0.0, *, scale=1.0):
    return (x @ w + b) * scale


def split_pair(x):
    return x * 2.0, x * x


def twice(x, w):
    return affine(affine(x, w), w, b=1.0)  # a helper calling a helper, twice, with the same weights


def uses_helpers(x, w, v):
    a = affine(x, w, 0.5, scale=2.0)
    b = affine(a, v)  # the same helper with other active arguments
    p, q = split_pair(b)
    total = 0.0
    for i in range(2):  # a helper in a loop and in a branch
        if i == 0:
            total = total + (twice(p, np.eye(2) * 0.5 + v[:, :2] * 0.0) * q[:, :2]).sum()
        else:
            total = total + np.tanh(affine(q, v.T @ v)).sum()
    return total


def test_helpers_of_every_kind(device):
    x, w, v = rng.standard_normal((3, 4)), rng.standard_normal((4, 2)), rng.standard_normal((2, 2))
    f = sourcegrad.differentiate(uses_helpers, wrt=("x", "w", "v"))
    assert sourcegrad.check_grad(f, x, w, v, device=device).max_error < 1e-6
    # inlined: no call to the helpers in the generated code, and their lines are cited
    code = [line for line in f.backward_source.split('"""')[2].splitlines() if not line.strip().startswith("#")]
    assert not any("affine(" in line for line in code)
    assert "test_structures.py:" in f.backward_source and "return (x @ w + b) * scale" in f.backward_source


def calls_other_module(x, w):
    return helper_module.soft_layer(x, w).sum()


def test_helper_from_another_module(device):
    x, w = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    assert sourcegrad.check_grad(calls_other_module, x, w, wrt=("x", "w"), device=device).max_error < 1e-6


def reads_other_modules_global(x):
    return helper_module.scaled(x).sum()


def test_helper_reading_its_modules_global_is_refused():
    with pytest.raises(SourcegradError, match="`SCALE` is a global of helper_module"):
        sourcegrad.differentiate(reads_other_modules_global).grad(np.ones(2))


def countdown(x, n):
    if n == 0:
        return x
    return countdown(x * 2.0, n - 1)


def recursive(x):
    return countdown(x, 3).sum()


def test_recursion_is_refused():
    with pytest.raises(SourcegradError, match="countdown calls itself"):
        sourcegrad.differentiate(recursive).grad(np.ones(2))


# ---- containers -------------------------------------------------------------------------------------------------

def dict_loss(params, x, y):
    h = np.tanh(x @ params["w1"] + params["b1"])
    return np.square(h @ params["w2"] - y).sum()


def list_loss(layers, x):
    h = x
    for w in layers:  # a loop over a list of parameters
        h = np.tanh(h @ w)
    return (h * h).sum() + (layers[0] * layers[-1]).sum()


def indexed_loss(layers, x, order):
    h = x
    for i in order:  # indices known only at run time
        h = np.tanh(h @ layers[i])
    return h.sum()


def test_dict_of_arrays(device):
    params = {"w1": rng.standard_normal((3, 4)), "b1": rng.standard_normal(4), "w2": rng.standard_normal((4, 2)),
              "unused": rng.standard_normal(5)}
    gradient = check_container(dict_loss, params, rng.standard_normal((5, 3)), rng.standard_normal((5, 2)),
                               device=device)
    assert set(gradient) == set(params) and not gradient["unused"].any()


def test_list_and_tuple_of_arrays(device):
    layers = [rng.standard_normal((3, 3)) * 0.5 for _ in range(3)]
    gradient = check_container(list_loss, layers, rng.standard_normal((4, 3)), device=device)
    assert isinstance(gradient, list) and len(gradient) == 3
    check_container(list_loss, tuple(layers), rng.standard_normal((4, 3)), device=device)
    check_container(indexed_loss, layers, rng.standard_normal((4, 3)), [2, 0, 2, 1], device=device)


class Layer:
    def __init__(self, n_in, n_out):
        self.w = rng.standard_normal((n_in, n_out)) * 0.5
        self.b = rng.standard_normal(n_out)
        self.name = "layer"  # not a parameter

    def forward(self, x):
        return np.tanh(x @ self.w + self.b)


class Model:
    def __init__(self):
        self.first = Layer(3, 4)
        self.second = Layer(4, 2)
        self.scale = np.array(2.0)

    def forward(self, x):
        return self.second.forward(self.first.forward(x)) * self.scale

    @sourcegrad.differentiate(wrt="self")
    def loss(self, x, y):
        return np.square(self.forward(x) - y).sum()


def model_loss(model, x, y):
    return np.square(model.forward(x) - y).sum()


def test_object_with_methods_and_nested_objects(device):
    model = Model()
    x, y = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    gradient = check_container(model_loss, model, x, y, device=device)
    assert set(gradient) == {"first", "second", "scale"} and set(gradient["first"]) == {"w", "b"}


def test_a_method_can_be_the_decorated_function():
    model = Model()
    x, y = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    by_method = model.loss.grad(x, y)
    by_function = sourcegrad.differentiate(model_loss, wrt="model").grad(model, x, y)
    for path, leaf in leaves(by_function):
        np.testing.assert_allclose(at(by_method, path), leaf)
    assert model.loss(x, y) == pytest.approx(model_loss(model, x, y))


# ---- sourcegrad.nn -------------------------------------------------------------------------------------------------

def classifier_loss(layers, x, labels):
    return nn.softmax_cross_entropy(nn.sequential(layers, x), labels)


def test_nn_pieces(device):
    layers = [nn.init_linear(rng, 4, 5), nn.init_linear(rng, 5, 3)]
    x, labels = rng.standard_normal((6, 4)), rng.integers(0, 3, 6)
    check_container(classifier_loss, layers, x, labels, device=device)


# ---- the tutorial's programs ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["nn", "optim", "module", "dynamic_net"])
def test_example_loss_falls_tenfold(name, device):
    example = __import__(name)
    losses = example.main(steps=500, log=lambda t, loss: None, device=device)
    assert losses[-1] < losses[0] / 10, (losses[0], losses[-1])
