"""Helpers (the user's own functions), parameters in dicts, lists, tuples and objects, methods, sourcegrad.nn.

Every gradient is checked element by element, per entry of the container, against float64 central
finite differences of the original function.
"""

import collections
import dataclasses
import functools
import sys
import typing
from pathlib import Path

import numpy as np
import pytest

import helper_module
import sourcegrad
from device_support import IN_MEMORY_DEVICES, ROWS_REFUSED, assert_on, host, module_of, on, unless_rows_refused
from sourcegrad import SourcegradError, d, nn

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


# ---- settings: an int or a bool a structure holds sizes arrays and bounds slices, and has no gradient -------------


class RecurrentCell:
    def __init__(self, reverse=False):
        self.hidden_size = 3
        self.reverse = reverse
        self.w = rng.standard_normal((3, 3)) * 0.5
        self.u = rng.standard_normal((2, 3))


def runs_a_cell_sized_by_its_settings(cell, xs):
    h = np.zeros(cell.hidden_size)
    for x in (xs[::-1] if cell.reverse else xs):
        h = np.tanh(h @ cell.w + x @ cell.u)
    n = cell.hidden_size - 1
    return np.sum(h[:n] ** 2) + np.sum(h[n:]) * cell.hidden_size


def slices_by_a_setting_in_a_dict(params, x):
    n = params["n"]
    z = params["w"] * x
    return np.sum(z[:n] ** 2) + np.sum(np.tanh(z[n:2 * n]))


@pytest.mark.parametrize("reverse", [False, True])
def test_an_int_or_bool_setting_of_an_object_sizes_and_slices_and_has_no_gradient(reverse, device):
    xs = rng.standard_normal((4, 2))
    gradient = unless_rows_refused(
        device, lambda: check_container(runs_a_cell_sized_by_its_settings, RecurrentCell(reverse), xs, device=device))
    assert gradient is ROWS_REFUSED or set(gradient) == {"w", "u"}


def test_an_int_setting_in_a_dict_slices_and_has_no_gradient(device):
    params = {"w": rng.standard_normal(6), "n": 2}
    gradient = check_container(slices_by_a_setting_in_a_dict, params, rng.standard_normal(6), device=device)
    assert not np.any(gradient.get("n", 0))


def scales_by_an_optional_key(layers, x):
    for layer in layers:  # dicts that differ: written out one by one, each with its own keys
        x = np.tanh(x @ layer["w"]) * layer.get("alpha", 1.0)
    return np.sum(x)


def test_a_loop_over_dicts_whose_keys_differ_matches_finite_differences(device):
    layers = [{"w": rng.standard_normal((3, 3))}, {"w": rng.standard_normal((3, 3)), "alpha": np.array(0.5)}]
    gradient = check_container(scales_by_an_optional_key, layers, rng.standard_normal((2, 3)), device=device)
    assert set(gradient[0]) == {"w"} and set(gradient[1]) == {"w", "alpha"}


# ---- attributes the function assigns: stored on the object, as Python stores them, and never read back ----------


class BatchNorm:
    def __init__(self, n):
        self.gamma, self.beta = rng.standard_normal(n), rng.standard_normal(n)
        self.running_mean, self.running_var, self.momentum = np.zeros(n), np.ones(n), 0.9
        self.cache = None

    def forward(self, x):
        mean, var = x.mean(axis=0), x.var(axis=0)
        self.running_mean = self.momentum * self.running_mean + (1 - self.momentum) * mean
        self.running_var = self.momentum * self.running_var + (1 - self.momentum) * var
        normalised = (x - mean) / np.sqrt(var + 1e-5)
        self.cache = normalised  # kept for a backward pass written by hand
        return self.gamma * normalised + self.beta


def normalised_loss(bn, x):
    return np.sum(np.tanh(bn.forward(x)) ** 2)


def test_attributes_a_layer_assigns_are_stored_and_carry_no_gradient(device):
    x = rng.standard_normal((5, 3))
    gradient = check_container(normalised_loss, BatchNorm(3), x, device=device)
    assert not np.any(host(gradient["running_mean"])) and np.any(host(gradient["gamma"]))
    by_python = BatchNorm(3)
    by_sourcegrad = on(device, by_python)  # a copy, on the device
    normalised_loss(by_python, x)
    sourcegrad.differentiate(normalised_loss).grad(by_sourcegrad, *on(device, [x]))
    for name in ("running_mean", "running_var", "cache"):  # the call stores what Python's stores
        np.testing.assert_allclose(host(getattr(by_sourcegrad, name)), getattr(by_python, name), err_msg=name)


class SwitchedBatchNorm:
    """numpy-ml's form: running statistics updated in training, read in evaluation, in one forward."""

    def __init__(self, n, training):
        self.gamma = rng.standard_normal(n)
        self.running_mean, self.running_var = rng.standard_normal(n) * 0.1, rng.uniform(0.5, 1.5, n)
        self.training = training

    def forward(self, x):
        if self.training:
            mean, var = x.mean(axis=0), x.var(axis=0)
            self.running_mean = 0.9 * self.running_mean + 0.1 * mean
            self.running_var = 0.9 * self.running_var + 0.1 * var
            out = (x - mean) / np.sqrt(var + 1e-5)
        else:
            out = (x - self.running_mean) / np.sqrt(self.running_var + 1e-5)
        return out * self.gamma


def switched_loss(bn, x):
    return np.sum(np.tanh(bn.forward(x)) ** 2)


class Cached:
    def __init__(self, cache):
        self.cache = cache


def updates_only_after_an_early_return(box, w):
    if np.sum(w) > 0:
        box.cache = w * 2.0
        return np.sum(w ** 2)
    return np.sum(box.cache * w)  # reached only where the branch that stores did not run


@pytest.mark.parametrize("training", [True, False])
def test_an_attribute_read_on_the_other_branch_from_where_it_is_assigned_is_the_one_passed_in(training):
    x = rng.standard_normal((5, 3))
    bn = SwitchedBatchNorm(3, training)
    gradient = check_container(switched_loss, bn, x)
    assert np.any(gradient["running_mean"]) != training  # evaluation reads it; training only stores it
    for w in (np.array([0.5, 1.5]), np.array([-0.5, -1.5])):
        assert sourcegrad.check_grad(updates_only_after_an_early_return, Cached(np.array([0.3, -0.7])), w,
                                     wrt=("box", "w"))


def reads_after_a_branch_that_stores(box, w):
    if np.sum(w) > 0:
        box.cache = w * 2.0
    return np.sum(box.cache * w)  # the new value where the branch ran


def reads_before_a_store_in_a_loop(box, w):
    total = 0.0
    for _ in range(2):
        total = total + np.sum(box.cache * w)  # the second iteration reads what the first stored
        box.cache = w * 2.0
    return total


def reads_on_the_other_branch_inside_a_loop(box, w):
    total = 0.0
    for i in range(2):
        if i == 0:
            box.cache = w * 2.0
        else:
            total = total + np.sum(box.cache * w)  # what the first iteration stored
    return total


def reads_in_a_helper_after_a_store_on_its_path(box, w):
    if np.sum(w) > 0:
        box.cache = w * 3.0
        return _reads_the_cache(box, w)
    return np.sum(w)


def _reads_the_cache(box, w):
    return np.sum(box.cache * w)


@pytest.mark.parametrize("fn", [reads_after_a_branch_that_stores, reads_before_a_store_in_a_loop,
                                reads_on_the_other_branch_inside_a_loop, reads_in_a_helper_after_a_store_on_its_path])
def test_an_attribute_read_that_a_store_may_run_before_is_refused(fn):
    with pytest.raises(SourcegradError, match="`.cache` is read here, and the function also assigns"):
        sourcegrad.differentiate(fn, wrt="w").grad(Cached(np.array([0.3, -0.7])), np.array([0.5, 1.5]))


def adds_into_an_attribute(box, w):
    box.cache += w  # changes the caller's array in place
    return np.sum(w ** 2)


def adds_into_an_element_of_an_attribute(box, w):
    box.cache[0] += 1.0
    return np.sum(w ** 2)


@pytest.mark.parametrize("fn, stored", [(adds_into_an_attribute, "box.cache"),
                                        (adds_into_an_element_of_an_attribute, "box.cache")])
def test_adding_into_an_attribute_is_refused_with_the_store_to_write_instead(fn, stored):
    with pytest.raises(SourcegradError, match="changes in place the array the object holds") as info:
        sourcegrad.differentiate(fn, wrt="w").grad(Cached(np.array([0.3, -0.7])), np.array([0.5, 1.5]))
    assert f"`{stored} = {stored} + ...`" in str(info.value)


class CachedThroughAProperty:
    def __init__(self, cache):
        self._cache = cache

    @property
    def cache(self):
        return self._cache

    @cache.setter
    def cache(self, value):
        self._cache = value * 2.0


class CachedUnderAnotherName:
    def __init__(self, cache):
        self.cache = cache

    def __setattr__(self, name, value):  # `box.latest = v` stores v as box.cache
        object.__setattr__(self, "cache" if name == "latest" else name, value)


def stores_through_a_setter_then_reads_the_getter(box, w):
    box.cache = w * 3.0  # the setter stores 6 w under ._cache, which the getter reads back
    return np.sum(box.cache * w)


def stores_through_setattr_then_reads(box, w):
    box.latest = w * 3.0
    return np.sum(box.cache * w)


def stores_then_reads_through_vars(box, w):
    box.cache = w * 3.0
    return np.sum(vars(box)["cache"] * w)


def writes_into_an_array_after_storing_it(box, w):
    h = w * 2.0
    box.cache = h
    h[0] = 0.0  # Python's box.cache sees the write
    return np.sum(h * w)


def adds_into_an_array_after_storing_it(box, w):
    h = w * 2.0
    box.cache = h
    h += 1.0
    return np.sum(h * w)


def appends_to_a_list_after_storing_it(box, w):
    hs = [w * 2.0]
    box.cache = hs
    hs.append(w)
    return np.sum(hs[0] * w)


@pytest.mark.parametrize("fn", [writes_into_an_array_after_storing_it, adds_into_an_array_after_storing_it,
                                appends_to_a_list_after_storing_it])
def test_changing_in_place_what_an_attribute_was_given_is_refused(fn):
    # the generated code would make a new array (list) and leave the object holding the one before the change
    with pytest.raises(SourcegradError, match="another name may also hold"):
        sourcegrad.differentiate(fn, wrt="w").grad(Cached(np.array([0.3, -0.7])), np.array([0.5, 1.5]))


def test_reading_attributes_through_vars_is_refused():
    with pytest.raises(SourcegradError, match="vars\\(obj\\) reads an object's attributes through its __dict__"):
        sourcegrad.differentiate(stores_then_reads_through_vars, wrt="w").grad(Cached(np.array([0.3, -0.7])),
                                                                            np.array([0.5, 1.5]))


@pytest.mark.parametrize("fn, cls", [(stores_through_a_setter_then_reads_the_getter, CachedThroughAProperty),
                                     (stores_through_setattr_then_reads, CachedUnderAnotherName)],
                         ids=["property_setter", "setattr"])
def test_assigning_an_attribute_through_code_of_the_class_is_refused(fn, cls):
    # what the class's code stores, and under which name, is not followed: a read of it would carry no gradient
    with pytest.raises(SourcegradError, match="runs code of the class") as info:
        sourcegrad.differentiate(fn, wrt="w").grad(cls(np.array([0.3, -0.7])), np.array([0.5, 1.5]))
    assert "test_structures.py" in str(info.value).splitlines()[0]


# ---- sourcegrad.nn -------------------------------------------------------------------------------------------------

def classifier_loss(layers, x, labels):
    return nn.softmax_cross_entropy(nn.sequential(layers, x), labels)


def test_nn_pieces(device):
    layers = [nn.init_linear(rng, 4, 5), nn.init_linear(rng, 5, 3)]
    x, labels = rng.standard_normal((6, 4)), rng.integers(0, 3, 6)
    check_container(classifier_loss, layers, x, labels, device=device)


# ---- the tutorial's programs ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("device", IN_MEMORY_DEVICES)  # the examples' weights live on the device; not on dask
@pytest.mark.parametrize("name", ["nn", "optim", "module", "dynamic_net"])
def test_example_loss_falls_tenfold(name, device):
    example = __import__(name)
    losses = example.main(steps=500, log=lambda t, loss: None, device=device)
    assert losses[-1] < losses[0] / 10, (losses[0], losses[-1])


# ---- lists and tuples of arrays: joined, repeated, swapped, used several times ------------------------------

def list_joined_in_a_loop(x, w):
    # `outs + [h]` is list concatenation: each row of the stack is one step's h (the rows weigh differently)
    outs = []
    h = w
    for i in range(len(x)):
        h = np.tanh(h * x[i])
        outs = outs + [h]
    return (np.stack(outs) * np.arange(1.0, len(x) + 1)[:, None]).sum()


def tuples_joined(x, w):
    items = (x,) + (x * w, w * 2.0)
    return (np.stack(items) * np.array([[1.0], [5.0], [-2.0]])).sum()


def list_used_three_times(x, w):
    items = [x * w, x]
    return np.stack(items).sum() + (np.concatenate(items) ** 2).sum() + (np.stack(items) * 3.0).sum()


def list_repeated(x, w):
    items = [x * w, np.sin(x)] * 3
    front = 2 * [w]
    return (np.stack(items) * np.arange(1.0, 7.0)[:, None]).sum() + (np.stack(front) ** 2).sum()


def named_list_repeated(w, x):
    outs = [w, x]
    outs = outs * 2
    more = 2 * outs
    return (outs[0] * outs[3]).sum() + (more[5] * more[6] * 3.0).sum()


def lists_of_constants_with_arrays(x, w):
    # a list display beside an array: numpy's elementwise `+` and `*`, not list concatenation or repetition
    return ((x + [1.0, 2.0, 3.0]) * [0.5, -1.0, 2.0] * w + ([0.5, 0.5, 0.5] - x)).sum()


def list_parameter_used_three_times(ws, x):
    return np.stack(ws).sum() + np.concatenate(ws).sum() + (np.stack(ws) * x).sum()


def tuple_swap(x, y):
    x, y = y * 2, x
    x, y = y, x
    return (x * y * y).sum()


LIST_CASES = [
    (list_joined_in_a_loop, lambda: (rng.standard_normal(3), rng.standard_normal(3)), ("x", "w")),
    (tuples_joined, lambda: (rng.standard_normal(3), rng.standard_normal(3)), ("x", "w")),
    (list_used_three_times, lambda: (rng.standard_normal(3), rng.standard_normal(3)), ("x", "w")),
    (list_repeated, lambda: (rng.standard_normal(3), rng.standard_normal(3)), ("x", "w")),
    (named_list_repeated, lambda: (rng.standard_normal(3), rng.standard_normal(3)), ("w", "x")),
    (lists_of_constants_with_arrays, lambda: (rng.standard_normal(3), rng.standard_normal(3)), ("x", "w")),
    (tuple_swap, lambda: (rng.standard_normal(3), rng.standard_normal(3)), ("x", "y")),
]

# Python's operators on a cupy array refuse a list (numpy makes it an array); the function itself fails on cupy.
CUPY_REFUSES_LISTS = {lists_of_constants_with_arrays: "cupy's operators take no Python list: `x + [1.0, 2.0]` fails on cupy"}


@pytest.mark.parametrize("fn, make_args, wrt", LIST_CASES, ids=[c[0].__name__ for c in LIST_CASES])
def test_lists_and_tuples_of_arrays_match_finite_differences(fn, make_args, wrt, device):
    if device == "cuda" and fn in CUPY_REFUSES_LISTS:
        pytest.skip(CUPY_REFUSES_LISTS[fn])
    assert sourcegrad.check_grad(fn, *make_args(), wrt=wrt, device=device).max_error < 1e-6


def test_a_list_parameter_used_three_times_gets_each_use():
    ws, x = [rng.standard_normal(3) for _ in range(2)], rng.standard_normal(3)
    gradient = sourcegrad.differentiate(list_parameter_used_three_times, wrt="ws").grad(ws, x)
    for k, w in enumerate(ws):  # float64 central differences, element by element
        numeric = np.zeros_like(w)
        for i in range(w.size):
            w[i] += 1e-6
            up = list_parameter_used_three_times(ws, x)
            w[i] -= 2e-6
            down = list_parameter_used_three_times(ws, x)
            w[i] += 1e-6
            numeric[i] = (up - down) / 2e-6
        np.testing.assert_allclose(gradient[k], numeric, rtol=1e-6, atol=1e-8)


# ---- helpers' names, methods chosen by the path, structures through branches --------------------------------

K = 10.0


def sets_a_local_named_k(a):
    K = a * 2.0  # noqa: N806  (a local of the helper, the same name as the global K)
    return K + 1.0


def reads_the_global_k(a):
    return a * K


def helpers_sharing_a_name(x):
    return reads_the_global_k(sets_a_local_named_k(x)).sum()


def rank_changes_in_a_branch(x, w):
    if x.sum() > 0:
        x = x.sum(axis=0)
    return (x @ w).sum()


def names_a_variable_tape(x, n):
    s = x
    for i in range(n):
        tape = np.sin(s)
        s = tape * s
    return s.sum()


class Scaled:
    def __init__(self, w):
        self.w = w

    def forward(self, x):
        return np.sin(x * self.w)


class Tripled:
    def __init__(self, w):
        self.w = w

    def forward(self, x):
        return x * self.w * 3.0


def method_of_an_object_chosen_by_a_branch(a, b, x, flag):
    m = a
    if flag > 0:
        m = b
    return m.forward(x).sum()


def test_a_helpers_local_never_hides_a_global_another_helper_reads():
    x = np.array([0.5, -1.0, 2.0])
    f = sourcegrad.differentiate(helpers_sharing_a_name)
    assert f.value_and_grad(x)[0] == pytest.approx(helpers_sharing_a_name(x))
    np.testing.assert_allclose(f.grad(x), [20.0, 20.0, 20.0])


total = 0.5  # a global with the name a temporary of `x * x + 1.0` gets in the generated code


def minus_the_global_total(a):
    return a - total


def through_a_helper_then_minus_total(a):
    y = helper_module.passes_on(a)
    return y - total


def calls_helpers_reading_a_global_a_temporary_is_named_after(x):
    return np.sum(minus_the_global_total(x * x + 1.0) ** 2) + np.sum(through_a_helper_then_minus_total(x * x + 1.0))


def calls_a_helper_twice_in_a_helper_given_its_result(x):
    y = helper_module.passes_on(x)
    return np.sum(helper_module.passes_on_twice(helper_module.passes_on(x)) * y)


def test_a_temporary_never_hides_a_global_a_helper_inlined_later_reads():
    x = np.array([1.0, 2.0, 4.0])
    f = sourcegrad.differentiate(calls_helpers_reading_a_global_a_temporary_is_named_after)
    assert f.value_and_grad(x)[0] == pytest.approx(calls_helpers_reading_a_global_a_temporary_is_named_after(x))
    np.testing.assert_allclose(f.grad(x), 4.0 * x * (x * x + 0.5) + 2.0 * x)


def test_a_helper_calls_a_function_whose_name_a_temporary_of_the_caller_has():
    x = np.array([1.0, 2.0, 4.0])
    assert sourcegrad.check_grad(calls_a_helper_twice_in_a_helper_given_its_result, x).max_error < 1e-6


def test_a_parameter_reassigned_in_a_branch_loses_its_rank():
    x, w = rng.uniform(0.1, 1.0, (2, 3)), rng.standard_normal((3, 3))
    assert sourcegrad.check_grad(rank_changes_in_a_branch, x, w, wrt=("x", "w")).max_error < 1e-6


def test_a_variable_named_tape():
    assert sourcegrad.check_grad(names_a_variable_tape, rng.standard_normal(3), 3).max_error < 1e-6


def test_a_method_whose_class_depends_on_the_path_is_refused():
    with pytest.raises(SourcegradError, match="no gradient rule for the method `.forward\\(\\)`"):
        sourcegrad.differentiate(method_of_an_object_chosen_by_a_branch, wrt=("a", "b")).grad(
            Scaled(np.ones(2)), Tripled(np.ones(2)), np.ones(2), -1)


def test_an_instance_attribute_hiding_the_method_is_what_is_called():
    model = Scaled(np.ones(2))
    model.forward = lambda x: x * 100.0  # Python calls this, not Scaled.forward

    def calls_forward(m, x):
        return m.forward(x).sum()

    f = sourcegrad.differentiate(calls_forward, wrt="x")
    value, gradient = f.value_and_grad(model, np.ones(2))
    assert value == calls_forward(model, np.ones(2))
    np.testing.assert_array_equal(gradient, [100.0, 100.0])


def test_structure_gradients_keep_their_structure_and_dtype():
    def shared(p, q, x, flag):
        d = p
        if flag > 0:
            d = q
        return (x @ d["w"]).sum()

    p = {"w": np.ones((3, 3), np.float32)}
    q = {"w": np.ones((3, 3), np.float32)}
    d_p, d_q = sourcegrad.differentiate(shared, wrt=("p", "q")).grad(p, q, np.ones((2, 3)), 1)
    assert isinstance(d_p, dict) and d_p["w"].dtype == np.float32 and d_q["w"].dtype == np.float32


# ---- a global naming a helper that is written into the gradient ------------------------------------------

def activation(a):
    return np.tanh(a)


def doubled_sine(a):
    return np.sin(a) * 2.0


def calls_a_helper_through_a_global(x):
    return act(x).sum()


act = activation


def test_rebinding_a_global_that_names_an_inlined_helper_recompiles():
    global act
    f = sourcegrad.differentiate(calls_a_helper_through_a_global)
    x = rng.standard_normal(3)
    try:
        np.testing.assert_allclose(f.grad(x), 1 - np.tanh(x) ** 2)
        act = doubled_sine
        value, gradient = f.value_and_grad(x)
        assert value == pytest.approx((2 * np.sin(x)).sum())
        np.testing.assert_allclose(gradient, 2 * np.cos(x))
        act = activation
        np.testing.assert_allclose(f.grad(x), 1 - np.tanh(x) ** 2)
    finally:
        act = activation


def list_of_layer_dicts_walked_then_read_again(blocks, x):
    h = x
    for block in blocks:
        h = np.tanh(h @ block["w"] + block["b"])
    same = blocks  # after the loop, the list's gradient is another name's: copied before rows are added in
    return (h * same[0]["b"]).sum() + same[1]["w"].sum()


def test_a_list_of_dicts_walked_by_a_loop_and_read_after_it(device):
    blocks = [{"w": rng.standard_normal((3, 3)), "b": rng.standard_normal(3)} for _ in range(2)]
    check_container(list_of_layer_dicts_walked_then_read_again, blocks, rng.standard_normal((2, 3)), device=device)


# ---- tuples unpacked: a tuple parameter's gradient is a tuple ---------------------------------------------------


def unpacks_a_tuple_parameter(params, x):
    w, b = params
    return np.sum(np.tanh(x @ w + b))


def unpacks_layers_by_index_in_a_loop(layers, x):
    h = x
    for i in range(len(layers)):
        w, b = layers[i]
        h = np.tanh(h @ w + b)
    w, b = layers[-1]
    return np.sum(h * 2.0) + np.sum(b)


def test_a_tuple_parameter_unpacked_gets_a_tuple_gradient():
    rng = np.random.default_rng(0)
    params, x = (rng.standard_normal((3, 2)), rng.standard_normal(2)), rng.standard_normal((4, 3))
    gradient = sourcegrad.differentiate(unpacks_a_tuple_parameter).grad(params, x)
    assert isinstance(gradient, tuple) and [g.shape for g in gradient] == [(3, 2), (2,)]
    assert sourcegrad.check_grad(unpacks_a_tuple_parameter, params, x)


def test_tuples_of_a_list_unpacked_by_index_in_a_loop():
    rng = np.random.default_rng(1)
    layers = [(rng.standard_normal((3, 3)), rng.standard_normal(3)) for _ in range(2)]
    x = rng.standard_normal((4, 3))
    gradient = sourcegrad.differentiate(unpacks_layers_by_index_in_a_loop).grad(layers, x)
    assert isinstance(gradient, list) and all(isinstance(g, tuple) for g in gradient)
    assert sourcegrad.check_grad(unpacks_layers_by_index_in_a_loop, layers, x)


def _pair_named(x):
    pair = (x * 2, np.sin(x))
    return pair


def _rows_stacked(x):
    rows = np.stack([x, x ** 2])
    return rows


def _appended(x):
    parts = []
    for i in range(2):
        parts.append(np.cos(x) * (i + 1))
    return parts


def unpacks_a_tuple_it_named(x):
    pair = (x * 2, np.sin(x))
    a, b = pair
    return np.sum(a * b)


def unpacks_a_tuple_a_helper_named(x):
    a, b = _pair_named(x)
    return np.sum(a * b * b)


def unpacks_the_rows_of_a_stack_a_helper_named(x):
    a, b = _rows_stacked(x)
    return np.sum(a * np.exp(b))


def unpacks_an_appended_list_a_helper_named(x):
    a, b = _appended(x)
    return np.sum(a * b * x)


def unpacks_an_appended_list(x):
    parts = [x * 2]
    for i in range(2):
        parts.append(np.cos(x) * (i + 1))
    a, b, c = parts
    return np.sum(a * b * c)


def unpacks_a_tuple_in_a_loop(x):
    total = 0.0
    for i in range(3):
        pair = (x * i, np.tanh(x))
        a, b = pair
        total = total + np.sum(a * b)
    return total * total


UNPACKINGS = [unpacks_a_tuple_it_named, unpacks_a_tuple_a_helper_named, unpacks_the_rows_of_a_stack_a_helper_named,
              unpacks_an_appended_list_a_helper_named, unpacks_an_appended_list, unpacks_a_tuple_in_a_loop]


@pytest.mark.parametrize("fn", UNPACKINGS, ids=lambda fn: fn.__name__)
def test_unpacking_a_named_tuple_list_or_stack_matches_finite_differences(fn):
    x = np.random.default_rng(2).standard_normal(3)
    assert sourcegrad.check_grad(fn, x)


# ---- `*args`: a tuple parameter, in the differentiated function and in the helpers it calls ------------------


def loss_of_varargs(*args):
    return np.sum(np.tanh(args[0] @ args[1]) + args[2])  # args[2] broadcasts over the rows


def loss_with_named_parameters_and_varargs(x, *weights, scale=2.0):
    h = x
    for w in weights:
        h = np.tanh(h @ w)
    return np.sum(h) * scale


def concat_and_multiply(weights, *args):
    # autograd's RNN example: the arguments and a column of ones, side by side, times the weights
    cat_state = np.hstack(args + (np.ones((args[0].shape[0], 1)),))
    return np.dot(cat_state, weights)


def rnn_step_through_a_varargs_helper(params, inputs):
    def update(x, h):
        return np.tanh(concat_and_multiply(params["change"], x, h))

    hiddens = np.repeat(params["init"], inputs.shape[1], axis=0)
    outputs = []
    for x in inputs:
        hiddens = update(x, hiddens)
        outputs.append(concat_and_multiply(params["predict"], hiddens))
    return sum(np.sum(o ** 2) for o in outputs)


def first_and_rest(x, *rest):
    return x * sum(rest)


def calls_a_helper_spreading_its_arguments(x, w):
    return np.sum(first_and_rest(x, *[w, w * 2.0]))


spread_lambda = lambda *args: np.sum(args[0] * sum(args[1:]))  # noqa: E731


def test_varargs_gradient_is_a_tuple(device):
    args = (rng.standard_normal((4, 3)), rng.standard_normal((3, 2)), rng.standard_normal(2))
    assert sourcegrad.check_grad(loss_of_varargs, *args, device=device)
    gradient = sourcegrad.differentiate(loss_of_varargs).grad(*args)  # wrt defaults to the first: args
    assert isinstance(gradient, tuple) and [g.shape for g in gradient] == [(4, 3), (3, 2), (2,)]
    assert sourcegrad.differentiate(loss_of_varargs).value_and_grad(*args)[0] == pytest.approx(loss_of_varargs(*args))


def test_varargs_beside_named_and_keyword_only_parameters(device):
    x, weights = rng.standard_normal((2, 3)), [rng.standard_normal((3, 3)) * 0.5 for _ in range(2)]
    assert sourcegrad.check_grad(loss_with_named_parameters_and_varargs, x, *weights, wrt=("x", "weights"),
                                 device=device)
    f = sourcegrad.differentiate(loss_with_named_parameters_and_varargs, wrt="weights")
    assert len(f.grad(x, *weights, scale=3.0)) == 2 and len(f.grad(x, *weights[:1])) == 1  # another length: recompiled
    assert isinstance(f.grad(x), tuple) and f.grad(x) == ()


MlpParams = collections.namedtuple("MlpParams", ["w1", "b1", "w2"])


class TypedMlpParams(typing.NamedTuple):
    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray


def mlp_reading_fields(params, x):  # JAX's style: parameters in a namedtuple
    h = np.tanh(x @ params.w1 + params.b1)
    return np.sum((h @ params.w2) ** 2)


def mlp_unpacking_fields(params, x):
    w1, b1, w2 = params
    return np.sum((np.tanh(x @ w1 + b1) @ w2) ** 2)


def mlp_unpacking_and_reading_fields(params, x):
    w1, b1, w2 = params  # unpacked, and read by field and by index too: each read's gradient added to the others
    return np.sum((np.tanh(x @ w1 + params.b1) @ params[2]) ** 2) + np.sum(b1 * w1[0])


Dense = collections.namedtuple("Dense", ["w", "b"])


def dense_layers_of_a_list(layers, x):
    for layer in layers:  # the biases differ in rank: the loop's item is known by its fields
        x = np.tanh(x @ layer.w + layer.b)
    return np.sum(x ** 2)


def mlp_params(cls):
    return cls(rng.standard_normal((3, 4)), rng.standard_normal(4), rng.standard_normal((4, 2)))


@pytest.mark.parametrize("fn, make_params", [
    (mlp_reading_fields, lambda: mlp_params(MlpParams)),
    (mlp_reading_fields, lambda: mlp_params(TypedMlpParams)),
    (mlp_unpacking_fields, lambda: mlp_params(MlpParams)),
    (mlp_unpacking_and_reading_fields, lambda: mlp_params(MlpParams)),
    (dense_layers_of_a_list, lambda: [Dense(rng.standard_normal((3, 3)), rng.standard_normal(3)),
                                      Dense(rng.standard_normal((3, 3)), 0.5)]),
], ids=["namedtuple", "typing_namedtuple", "unpacked", "unpacked_and_read_by_field", "list_of_namedtuples"])
def test_namedtuple_parameters_get_a_gradient_of_their_type(fn, make_params):
    params, x = make_params(), rng.standard_normal((5, 3))
    assert sourcegrad.check_grad(fn, params, x)
    gradient = sourcegrad.differentiate(fn).grad(params, x)
    for got, argument in zip(gradient, params) if isinstance(params, list) else [(gradient, params)]:
        assert type(got) is type(argument)  # as JAX gives it: `grads.w1`


def test_jvp_and_hvp_of_namedtuple_parameters_take_and_give_the_namedtuple():
    params, x = mlp_params(MlpParams), rng.standard_normal((5, 3))
    for fn in (mlp_reading_fields, mlp_unpacking_and_reading_fields):
        _check_jvp_and_hvp_of_namedtuple_parameters(fn, params, x)


def _check_jvp_and_hvp_of_namedtuple_parameters(fn, params, x):
    f = sourcegrad.differentiate(fn)
    direction = mlp_params(MlpParams)

    def moved(eps):
        return MlpParams(*(p + eps * v for p, v in zip(params, direction)))

    _, derivative = f.jvp((params, x), direction)
    assert derivative == pytest.approx((fn(moved(1e-6), x) - fn(moved(-1e-6), x)) / 2e-6, rel=1e-6)
    product = f.hvp((params, x), direction)
    ahead, behind = f.grad(moved(1e-5), x), f.grad(moved(-1e-5), x)
    assert type(product) is MlpParams
    for got, a, b in zip(product, ahead, behind):
        np.testing.assert_allclose(got, (a - b) / 2e-5, rtol=1e-5, atol=1e-7)


@dataclasses.dataclass
class DenseLayer:
    w: np.ndarray
    b: np.ndarray

    def __call__(self, x):
        return np.tanh(x @ self.w + self.b)


@dataclasses.dataclass(frozen=True)
class FrozenDenseLayer:
    w: np.ndarray
    b: np.ndarray

    __call__ = DenseLayer.__call__


def dense_layer_loss(layer, x):
    return np.sum(layer(x) ** 2)


class SlottedDenseLayer:
    __slots__ = ("w", "b")

    def __init__(self, w, b):
        self.w, self.b = w, b

    __call__ = DenseLayer.__call__


@pytest.mark.parametrize("cls", [DenseLayer, FrozenDenseLayer, SlottedDenseLayer])
def test_dataclass_and_slotted_layers_match_finite_differences(cls):
    layer, x = cls(rng.standard_normal((3, 2)), rng.standard_normal(2)), rng.standard_normal((4, 3))
    assert sourcegrad.check_grad(dense_layer_loss, layer, x)
    direction = {"w": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)}  # an object's tangent: a dict
    _, derivative = sourcegrad.differentiate(dense_layer_loss).jvp((layer, x), direction)
    moved = [cls(layer.w + eps * direction["w"], layer.b + eps * direction["b"]) for eps in (1e-6, -1e-6)]
    assert derivative == pytest.approx((dense_layer_loss(moved[0], x) - dense_layer_loss(moved[1], x)) / 2e-6, rel=1e-6)


def directional_difference(fn, primals, tangents, eps=1e-6):
    """(fn(primals + eps t) - fn(primals - eps t)) / 2 eps, for a scalar fn of arrays (None: no tangent)."""
    def moved(sign):
        return [p if t is None else p + sign * eps * t for p, t in zip(primals, tangents)]
    return (fn(*moved(1)) - fn(*moved(-1))) / (2 * eps)


def test_jvp_takes_a_tangent_per_primal_that_varargs_spreads():
    x, weights = rng.standard_normal((2, 3)), [rng.standard_normal((3, 3)) * 0.5 for _ in range(2)]
    tangents = [None, rng.standard_normal((3, 3)), rng.standard_normal((3, 3))]
    value, derivative = sourcegrad.jvp(loss_with_named_parameters_and_varargs, (x, *weights), tangents)
    assert value == pytest.approx(loss_with_named_parameters_and_varargs(x, *weights))
    expected = directional_difference(loss_with_named_parameters_and_varargs, (x, *weights), tangents)
    assert derivative == pytest.approx(expected, rel=1e-6)
    # the same through wrt: one tangent for the tuple `weights`, None inside it for zeros
    f = sourcegrad.differentiate(loss_with_named_parameters_and_varargs, wrt="weights")
    _, along_first = f.jvp((x, *weights), (tangents[1], None))
    assert along_first == pytest.approx(directional_difference(loss_with_named_parameters_and_varargs, (x, *weights),
                                                               tangents[:2] + [None]), rel=1e-6)


def test_hvp_of_varargs_is_a_tuple_matching_finite_differences_of_the_gradient():
    x, weights = rng.standard_normal((2, 3)), [rng.standard_normal((3, 3)) * 0.5 for _ in range(2)]
    vectors = (rng.standard_normal((3, 3)), rng.standard_normal((3, 3)))
    f = sourcegrad.differentiate(loss_with_named_parameters_and_varargs, wrt="weights")
    products = f.hvp((x, *weights), vectors)
    assert isinstance(products, tuple) and [p.shape for p in products] == [(3, 3), (3, 3)]
    eps = 1e-5
    ahead = f.grad(x, *[w + eps * v for w, v in zip(weights, vectors)])
    behind = f.grad(x, *[w - eps * v for w, v in zip(weights, vectors)])
    for product, a, b in zip(products, ahead, behind):
        np.testing.assert_allclose(product, (a - b) / (2 * eps), rtol=1e-5, atol=1e-8)


def test_jvp_of_a_dict_parameter_takes_a_dict_tangent():
    params = {"w": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)}
    x = rng.standard_normal((4, 3))
    tangent = {"w": rng.standard_normal((3, 2)), "b": None}

    def loss(params, x):
        return np.sum(np.tanh(x @ params["w"] + params["b"]))

    f = sourcegrad.differentiate(loss, wrt="params")
    _, derivative = f.jvp((params, x), tangent)
    eps = 1e-6
    ahead = loss({"w": params["w"] + eps * tangent["w"], "b": params["b"]}, x)
    behind = loss({"w": params["w"] - eps * tangent["w"], "b": params["b"]}, x)
    assert derivative == pytest.approx((ahead - behind) / (2 * eps), rel=1e-6)
    with pytest.raises(SourcegradError, match="the tangent of params must have params's structure"):
        f.jvp((params, x), {"w": tangent["w"]})


@pytest.mark.parametrize("fn, make_args, wrt", [
    (rnn_step_through_a_varargs_helper, lambda: ({"change": rng.standard_normal((6, 3)) * 0.3,
                                                  "predict": rng.standard_normal((4, 2)) * 0.3,
                                                  "init": rng.standard_normal((1, 3))},
                                                 rng.standard_normal((4, 2, 2))), ("params",)),
    (calls_a_helper_spreading_its_arguments, lambda: (rng.standard_normal(3), rng.standard_normal(3)), ("x", "w")),
    (spread_lambda, lambda: (rng.standard_normal(3), rng.standard_normal(3), rng.standard_normal(3)), ("args",)),
], ids=["helper_with_varargs_in_a_loop", "call_spreading_a_list", "lambda_with_varargs"])
def test_varargs_of_helpers_and_lambdas_match_finite_differences(fn, make_args, wrt, device):
    assert unless_rows_refused(device, lambda: sourcegrad.check_grad(fn, *make_args(), wrt=wrt, device=device))


# ---- loops and unpacking over lists of (w, b) pairs -------------------------------------------------------------


def loops_over_pairs_of_a_slice(params, x):
    for w, b in params[:-1]:  # each (w, b) of all layers but the last
        x = np.tanh(x @ w + b)
    final_w, final_b = params[-1]
    return np.sum(x @ final_w + final_b)


def loops_over_pairs_with_enumerate(params, x):
    total = 0.0
    for i, (w, b) in enumerate(params):
        total = total + np.sum(np.tanh(x @ w + b)) * (i + 1.0)
    return total


def transposes_pairs_with_zip(params, x):
    weights, biases = zip(*params)  # the weights together, the biases together
    for w, b in zip(weights, biases):
        x = np.tanh(x @ w + b)
    return np.sum(x) + sum(np.sum(b ** 2) for b in biases)


def test_loops_unpacking_each_item_of_a_list_of_pairs(device):
    params = [(rng.standard_normal((3, 3)) * 0.5, rng.standard_normal(3)) for _ in range(3)]
    x = rng.standard_normal((2, 3))
    for fn in (loops_over_pairs_of_a_slice, loops_over_pairs_with_enumerate, transposes_pairs_with_zip):
        assert sourcegrad.check_grad(fn, params, x, wrt=("params", "x"), device=device)
    gradient = sourcegrad.differentiate(loops_over_pairs_of_a_slice).grad(params, x)
    assert isinstance(gradient, list) and all(isinstance(g, tuple) for g in gradient)


# ---- a tuple, list or dict as the output: its gradient has the same structure (grad_output=) -------------------

def returns_a_pair(x, y):
    a = np.sin(x) * y
    return a, (x ** 2).sum()


def returns_a_list_built_in_a_loop(x):
    outs = []
    for k in range(3):
        outs.append(np.tanh(x * (k + 1.0)))
    return outs


def returns_a_dict_with_a_count(x, y):
    return {"product": x * y, "norm": np.sqrt((x * x).sum()), "count": 3}


def returns_pairs_from_branches(x, y):
    if x.sum() > 0:
        return x * y, (x ** 2).sum()
    return x / y, np.exp(x).sum()


def returns_a_nested_structure(x):
    return (x * 2.0, {"cube": x ** 3}), [np.cos(x)]


STRUCTURED_OUTPUTS = [
    (returns_a_pair, lambda: (rng.standard_normal(3), rng.standard_normal(3)), ("x", "y")),
    (returns_a_list_built_in_a_loop, lambda: (rng.standard_normal(4),), ("x",)),
    (returns_a_dict_with_a_count, lambda: (rng.standard_normal((2, 3)), rng.standard_normal(3)), ("x", "y")),
    (returns_pairs_from_branches, lambda: (np.abs(rng.standard_normal(3)), rng.standard_normal(3) + 3.0), ("x", "y")),
    (returns_pairs_from_branches, lambda: (-np.abs(rng.standard_normal(3)), rng.standard_normal(3) + 3.0), ("x", "y")),
    (returns_a_nested_structure, lambda: (rng.standard_normal(3),), ("x",)),
]


@pytest.mark.parametrize("fn, make_args, wrt", STRUCTURED_OUTPUTS,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(STRUCTURED_OUTPUTS)])
def test_structured_outputs_match_finite_differences(fn, make_args, wrt, device):
    """check_grad weighs every floating item of the output by a random gradient of the output's structure."""
    check = sourcegrad.check_grad(fn, *make_args(), wrt=wrt, device=device)
    assert check, check.explain()


def test_a_structured_outputs_gradient_is_the_sum_of_its_items_gradients():
    x, y = rng.standard_normal(3), rng.standard_normal(3)
    g_a, g_b = rng.standard_normal(3), 0.7
    f = sourcegrad.differentiate(returns_a_pair, wrt=("x", "y"))
    (a, b), (d_x, d_y) = f.value_and_grad(x, y, grad_output=(g_a, g_b))
    np.testing.assert_allclose(a, np.sin(x) * y)
    np.testing.assert_allclose(d_x, g_a * np.cos(x) * y + g_b * 2 * x, rtol=1e-12)
    np.testing.assert_allclose(d_y, g_a * np.sin(x), rtol=1e-12)


def test_an_item_given_none_weighs_nothing():
    x, y = rng.standard_normal((2, 3)), rng.standard_normal(3)
    f = sourcegrad.differentiate(returns_a_dict_with_a_count, wrt=("x", "y"))
    _, (d_x, d_y) = f.value_and_grad(x, y, grad_output={"product": None, "norm": 1.0, "count": None})
    np.testing.assert_allclose(d_x, x / np.sqrt((x * x).sum()), rtol=1e-12)
    np.testing.assert_array_equal(d_y, np.zeros(3))


@pytest.mark.parametrize("grad_output, message", [
    (None, "the output is a tuple, which has no gradient of its own to start from"),
    ([np.ones(3)], "the output is a tuple of 2 items; its gradient must be a tuple or list of 2"),
    ((np.ones(4), 1.0), "the gradient of the output[0] has shape (4,), the item (3,)"),
], ids=["none", "too-few-items", "wrong-shape"])
def test_a_structured_output_without_a_matching_gradient_is_refused_at_the_return(grad_output, message):
    f = sourcegrad.differentiate(returns_a_pair, wrt="x")
    with pytest.raises(SourcegradError) as info:
        f.grad(rng.standard_normal(3), rng.standard_normal(3), grad_output=grad_output)
    text = str(info.value)
    assert message in text and "test_structures.py:" in text
    assert "return a, (x ** 2).sum()" in text.splitlines()[1]


def test_a_dict_output_needs_a_gradient_with_its_keys():
    f = sourcegrad.differentiate(returns_a_dict_with_a_count, wrt="x")
    with pytest.raises(SourcegradError, match="its gradient must be a dict with the same keys"):
        f.grad(rng.standard_normal((2, 3)), rng.standard_normal(3), grad_output={"product": np.ones((2, 3))})


def test_jvp_of_a_structured_output_has_its_structure():
    x, y, t = rng.standard_normal(3), rng.standard_normal(3), rng.standard_normal(3)
    (a, b), (t_a, t_b) = sourcegrad.jvp(returns_a_pair, (x, y), (t, None))
    np.testing.assert_allclose(t_a, np.cos(x) * y * t, rtol=1e-12)
    np.testing.assert_allclose(t_b, (2 * x * t).sum(), rtol=1e-12)


def test_jacobian_of_a_structured_output_is_refused_at_the_return():
    with pytest.raises(SourcegradError, match="jacobian takes a function of one array; returns_a_pair returns a tuple"):
        sourcegrad.jacobian(returns_a_pair, wrt="x")(rng.standard_normal(3), rng.standard_normal(3))


# ---- what an object's attribute read runs: a property's getter, __getattr__, a method with a rule -----------


class ScaledWeights:
    def __init__(self, w, s):
        self.w = w
        self.s = s

    @property
    def scaled(self):
        return self.w * self.s

    def squashed(self, x):
        return np.tanh(self.scaled * x)  # the property read inside a method


def reads_a_property(m, x):
    return np.sum(np.sin(m.scaled) * x)


def reads_a_property_in_a_method(m, x):
    return np.sum(m.squashed(x) ** 2)


@pytest.mark.parametrize("fn", [reads_a_property, reads_a_property_in_a_method])
def test_a_property_is_differentiated_through_its_getter(fn, device):
    m = ScaledWeights(rng.standard_normal(3), rng.standard_normal(3))
    gradient = check_container(fn, m, rng.standard_normal(3), device=device)
    assert set(gradient) == {"w", "s"}  # the attributes the getter reads, not the property's name


class KeyedStore:
    def __init__(self, **values):
        self.__dict__["store"] = values

    def __getattr__(self, key):
        try:
            return self.__dict__["store"][key]
        except KeyError:
            raise AttributeError(key) from None


def reads_an_attribute_served_by_getattr(params, x):
    return np.sum(params.w * x)


def test_an_attribute_served_by_getattr_is_refused():
    with pytest.raises(SourcegradError, match="served by __getattr__") as info:
        sourcegrad.differentiate(reads_an_attribute_served_by_getattr).grad(KeyedStore(w=np.ones(3)), np.ones(3))
    assert "test_structures.py" in str(info.value).splitlines()[0]


class Quantizer:
    def __init__(self, step):
        self.step = step

    def quantize(self, z):
        return np.round(z / self.step) * self.step


@sourcegrad.adjoint(Quantizer.quantize)
def quantize_adjoint(result, self, z):
    d[z] = d[result]  # straight through


def calls_a_method_with_a_rule(layer, x):
    return np.sum(layer.quantize(x) * x)


def test_a_method_with_a_gradient_rule_of_its_own_is_refused_not_inlined():
    with pytest.raises(SourcegradError, match="has a gradient rule of its own, and such marks on methods are not applied") as info:
        sourcegrad.differentiate(calls_a_method_with_a_rule, wrt="x").grad(Quantizer(0.5), np.array([0.3, 1.2]))
    assert "test_structures.py" in str(info.value).splitlines()[0]


# ---- the tutorial's idiom: layers held as attributes, in lists and in dicts, and called ----------------------


class Linear:
    def __init__(self, n_in, n_out):
        self.weight = rng.standard_normal((n_in, n_out)) * 0.5
        self.bias = rng.standard_normal(n_out)

    def __call__(self, x):
        return x @ self.weight + self.bias


class TwoLayerNet:
    def __init__(self):
        self.linear1 = Linear(3, 4)
        self.linear2 = Linear(4, 2)

    def __call__(self, x):
        return self.linear2(np.maximum(self.linear1(x), 0))

    def forward(self, x):
        return self.linear2(np.tanh(self.linear1(x)))


class Stack:
    def __init__(self):
        self.layers = [Layer(3, 3), Layer(3, 3)]
        self.mods = {"enc": Layer(3, 2)}


def calls_the_net(net, x):
    return np.sum(net(x) ** 2)


def calls_the_nets_forward(net, x):
    return np.sum(net.forward(x) ** 2)


def chains_layers_of_a_list_then_one_of_a_dict(net, x):
    h = net.layers[1].forward(net.layers[0].forward(x))
    return np.sum(net.mods["enc"].forward(h) ** 2)


def walks_layers_of_a_list_by_index(net, x):
    h = x
    for i in range(2):
        h = net.layers[i].forward(h)
    return np.sum(net.mods["enc"].forward(h) ** 2)


@pytest.mark.parametrize("fn, make_net", [
    (calls_the_net, TwoLayerNet),
    (calls_the_nets_forward, TwoLayerNet),
    (chains_layers_of_a_list_then_one_of_a_dict, Stack),
    (walks_layers_of_a_list_by_index, Stack),
], ids=["net_call", "net_forward", "list_and_dict_layers", "list_layers_in_a_loop"])
def test_layers_held_as_attributes_and_called_match_finite_differences(fn, make_net, device):
    net = make_net()
    gradient = check_container(fn, net, rng.standard_normal((5, 3)), device=device)
    if make_net is TwoLayerNet:
        assert set(gradient) == {"linear1", "linear2"} and set(gradient["linear1"]) == {"weight", "bias"}
    else:
        assert isinstance(gradient["layers"], list) and set(gradient["mods"]["enc"]) == {"w", "b"}


class Scaling:
    def __init__(self, w):
        self.w = w

    def __call__(self, x):
        return x * self.w


class TwoScalings:
    def __init__(self):
        self.a, self.b = Scaling(np.array([1.0, 2.0])), Scaling(np.array([3.0, 4.0]))


def uses_the_first_layer_only(net, x):
    return np.sum(net.a(x) ** 2)


def test_a_layer_the_function_does_not_call_gets_zeros():
    gradient = sourcegrad.differentiate(uses_the_first_layer_only).grad(TwoScalings(), np.array([0.5, -1.0]))
    assert set(gradient) == {"a", "b"}
    np.testing.assert_allclose(gradient["a"]["w"], 2 * np.array([1.0, 2.0]) * np.array([0.5, -1.0]) ** 2)
    np.testing.assert_array_equal(gradient["b"]["w"], np.zeros(2))


def rectified(z):
    return np.maximum(z, 0)


class ActivatedLayer:
    def __init__(self, w, act):
        self.w = w
        self.act = act  # a function held by the object: numpy's, one of the user's, or a lambda

    def forward(self, x):
        return self.act(x @ self.w)


def activated_loss(layer, x):
    return np.sum(layer.forward(x) ** 2)


@pytest.mark.parametrize("act", [np.tanh, rectified, lambda z: z * np.sin(z)], ids=["numpy", "users", "lambda"])
def test_a_function_held_by_an_object_is_called_with_its_rule_or_written_in(act):
    x, w = rng.standard_normal((5, 3)), rng.standard_normal((3, 4))
    assert sourcegrad.check_grad(activated_loss, ActivatedLayer(w, act), x)


def test_the_function_an_object_holds_decides_the_compiled_gradient():
    x, w = rng.standard_normal((5, 3)), rng.standard_normal((3, 4))
    f = sourcegrad.differentiate(activated_loss)
    layer = ActivatedLayer(w, np.tanh)
    f.grad(layer, x)
    layer.act = np.sin  # another function: another gradient, not the one compiled for tanh
    np.testing.assert_allclose(f.grad(layer, x)["w"], x.T @ (2 * np.sin(x @ w) * np.cos(x @ w)))


def softplus(z):
    return np.log1p(np.exp(z))


ACTIVATIONS = {"tanh": np.tanh, "relu": rectified, 0: np.sin}


def activated_through_a_dict_of_the_module(x, w):
    h = ACTIVATIONS["relu"](x @ w)
    total = 0.0
    for i in range(2):
        if np.sum(h) > i:
            total = total + np.sum(ACTIVATIONS["tanh"](h * i) ** 2)
    return total + np.sum(ACTIVATIONS[0](x))


def test_a_function_a_dict_of_the_module_holds_at_a_constant_key_is_written_in_or_called_with_its_rule(tmp_path):
    x, w = rng.standard_normal((5, 3)), rng.standard_normal((3, 4))
    assert sourcegrad.check_grad(activated_through_a_dict_of_the_module, x, w, wrt=("x", "w"))
    f = sourcegrad.differentiate(activated_through_a_dict_of_the_module, wrt="x", generated_dir=tmp_path)
    direction = rng.standard_normal(x.shape)
    _, derivative = f.jvp((x, w), direction)
    eps = 1e-6
    expected = (activated_through_a_dict_of_the_module(x + eps * direction, w)
                - activated_through_a_dict_of_the_module(x - eps * direction, w)) / (2 * eps)
    np.testing.assert_allclose(derivative, expected, rtol=1e-6, atol=1e-8)


def test_changing_or_rebinding_the_modules_dict_of_functions_compiles_again(monkeypatch, tmp_path):
    x, w = rng.standard_normal((5, 3)), rng.standard_normal((3, 4))
    f = sourcegrad.differentiate(activated_through_a_dict_of_the_module, wrt="x", generated_dir=tmp_path)
    f.grad(x, w)

    def expected():  # compiled afresh, in a folder of its own
        fresh = sourcegrad.differentiate(activated_through_a_dict_of_the_module, wrt="x",
                                         generated_dir=tmp_path / str(len(list(tmp_path.iterdir()))))
        return fresh.grad(x, w)

    monkeypatch.setitem(ACTIVATIONS, "relu", softplus)  # an entry written: another function written in
    np.testing.assert_allclose(f.grad(x, w), expected())
    assert sourcegrad.check_grad(activated_through_a_dict_of_the_module, x, w, wrt="x")
    monkeypatch.setattr(sys.modules[__name__], "ACTIVATIONS", {"tanh": np.sin, "relu": rectified, 0: np.cos})
    np.testing.assert_allclose(f.grad(x, w), expected())
    again = sourcegrad.differentiate(activated_through_a_dict_of_the_module, wrt="x", generated_dir=tmp_path)
    np.testing.assert_allclose(again.grad(x, w), expected())  # a file written for the old dict is not read


def clipped_below(z):
    return np.maximum(z, 0.0)


@sourcegrad.adjoint(clipped_below)
def clipped_below_adjoint(result, z):
    d[z] = d[result] * (z >= 0)


def leaky(z):
    return np.maximum(z, 0.1 * z)


@sourcegrad.adjoint(leaky)
def leaky_adjoint(result, z):
    d[z] = d[result] * np.where(z >= 0, 1.0, 0.1)


RULED_ACTIVATIONS = {"act": clipped_below}


def activated_by_a_function_with_a_rule_of_the_users(x):
    return np.sum(RULED_ACTIVATIONS["act"](x) ** 2)


def test_a_function_with_a_rule_held_by_the_modules_dict_keys_the_file_written_for_it(monkeypatch, tmp_path):
    """The generated code calls it through the dict, with its rule: a file written for another function there
    must not be read for this one, in this process or the next."""
    x = np.array([0.4, -1.1, 0.9])
    first = sourcegrad.differentiate(activated_by_a_function_with_a_rule_of_the_users, generated_dir=tmp_path)
    np.testing.assert_allclose(first.grad(x), 2 * clipped_below(x) * (x >= 0))
    monkeypatch.setitem(RULED_ACTIVATIONS, "act", leaky)
    expected = 2 * leaky(x) * np.where(x >= 0, 1.0, 0.1)
    np.testing.assert_allclose(first.grad(x), expected)
    again = sourcegrad.differentiate(activated_by_a_function_with_a_rule_of_the_users, generated_dir=tmp_path)
    np.testing.assert_allclose(again.grad(x), expected)


LAMBDAS = {"cube": lambda z: z ** 3, 1: lambda z: np.sin(z) * z}


def activated_by_lambdas_of_the_modules_dict(x):
    return np.sum(LAMBDAS["cube"](x)) + np.sum(LAMBDAS[1](x) ** 2)


def test_a_lambda_a_dict_of_the_module_holds_is_written_in():
    assert sourcegrad.check_grad(activated_by_lambdas_of_the_modules_dict, rng.standard_normal(4))


POWERS = {"p": functools.partial(np.power, 2.0)}


def powered_by_a_partial_of_the_modules_dict(x):
    return np.sum(POWERS["p"](x))


def test_what_a_partial_held_by_the_modules_dict_binds_keys_the_file_written_for_it(monkeypatch, tmp_path):
    x = np.array([0.4, -1.1, 0.9])
    f = sourcegrad.differentiate(powered_by_a_partial_of_the_modules_dict, generated_dir=tmp_path)
    np.testing.assert_allclose(f.grad(x), np.log(2.0) * 2.0 ** x)
    monkeypatch.setitem(POWERS, "p", functools.partial(np.power, 3.0))  # another literal written in: another file
    np.testing.assert_allclose(f.grad(x), np.log(3.0) * 3.0 ** x)


class ScaledActivation:
    def __init__(self, scale):
        self.scale = scale

    def __call__(self, z):
        return np.tanh(z) * self.scale


CALLABLES = {"scaled": ScaledActivation(2.0)}


def activated_by_an_object_of_the_modules_dict(x):
    return np.sum(CALLABLES["scaled"](x) ** 2)


def test_an_object_a_dict_of_the_module_holds_and_calls_is_refused_at_the_call():
    with pytest.raises(SourcegradError, match="cannot tell here which function or object this calls") as info:
        sourcegrad.differentiate(activated_by_an_object_of_the_modules_dict).grad(np.array([0.3, -0.5]))
    assert "test_structures.py" in str(info.value).splitlines()[0]


def activated_by_a_name_passed_in(x, w, name):
    return np.sum(ACTIVATIONS[name](x @ w))


def test_a_function_of_the_modules_dict_picked_by_a_key_known_only_when_it_runs_is_refused():
    x, w = rng.standard_normal((5, 3)), rng.standard_normal((3, 4))
    with pytest.raises(SourcegradError, match="picked by a key known only when it runs") as info:
        sourcegrad.differentiate(activated_by_a_name_passed_in, wrt="x").grad(x, w, "tanh")
    assert "ACTIVATIONS[name]" in str(info.value) and "act=ACTIVATIONS[name]" in str(info.value)


def maybe_activated(z, act=None):
    if act is not None:
        z = act(z)
    return z


def helper_with_an_optional_function(w):
    return np.sum(maybe_activated(w, np.tanh) + maybe_activated(w * 2.0))


def optional_function_and_bias(w, act=None, bias=None):
    h = w * 2.0
    if act is not None:
        h = act(h)
    if bias is not None:
        h = h + bias
    scale = 3.0 if not act else 1.0
    return np.sum(h ** 2) * scale


class Settings:
    act = None


SETTINGS = Settings()


def activated_if_the_settings_hold_a_function(x):
    if SETTINGS.act is not None:
        x = SETTINGS.act(x)
    return np.sum(x ** 2)


def test_a_global_objects_attribute_left_none_and_set_later_compiles_again(monkeypatch):
    x = np.array([0.3, -0.5, 0.9])
    f = sourcegrad.differentiate(activated_if_the_settings_hold_a_function)
    np.testing.assert_allclose(f.grad(x), 2 * x)  # compiled with the branch left out
    monkeypatch.setattr(SETTINGS, "act", np.sin)
    np.testing.assert_allclose(f.grad(x), 2 * np.sin(x) * np.cos(x))


def test_an_optional_function_or_array_left_none_decides_its_branch_when_compiling():
    w = rng.standard_normal(3)
    assert sourcegrad.check_grad(helper_with_an_optional_function, w)
    for act, bias in ((None, None), (np.sin, None), (None, np.ones(3)), (np.tanh, np.ones(3))):
        assert sourcegrad.check_grad(optional_function_and_bias, w, act, bias, wrt="w"), (act, bias)


class Module:
    """A base class as small numpy frameworks write one: calling a module runs its forward."""

    def __call__(self, x):
        return self.forward(x)


class LinearModule(Module):
    def __init__(self, w):
        self.w = w

    def forward(self, x):
        return x @ self.w


class StackOfModules(Module):
    def __init__(self, r):
        self.first = LinearModule(r.standard_normal((3, 3)) * 0.5)
        self.layers = [LinearModule(r.standard_normal((3, 3)) * 0.5) for _ in range(2)]
        self.blocks = {"out": LinearModule(r.standard_normal((3, 2)) * 0.5)}
        self.acts = [np.tanh]

    def forward(self, x):
        h = np.tanh(self.first(x))  # Module.__call__ again, on another object
        for i in range(2):
            h = self.acts[0](self.layers[i](h))  # items of a list called directly
        return self.blocks["out"](self.layers[-1](h))


class CallsItself(Module):
    def __init__(self):
        self.w = np.ones(3)

    def forward(self, x):
        return self(x)


def module_loss(model, x):
    return np.sum(model(x) ** 2)


def test_a_base_classs_call_runs_on_nested_modules_and_list_items_are_called():
    assert sourcegrad.check_grad(module_loss, StackOfModules(rng), rng.standard_normal((2, 3)))


def test_a_method_calling_itself_on_the_same_object_is_recursion():
    with pytest.raises(SourcegradError, match="calls itself"):
        sourcegrad.differentiate(module_loss).grad(CallsItself(), np.ones((2, 3)))


class ReluModule:
    def __call__(self, x):
        return np.maximum(x, 0)


class TanhModule:
    def __call__(self, x):
        return np.tanh(x)


class Sequence:
    """The tutorial's torch.nn.Sequential: layers of different classes, run in turn."""

    def __init__(self, *layers):
        self.layers = list(layers)

    def __call__(self, x):
        for i, layer in enumerate(self.layers):
            x = layer(x) * (1.0 + 0.1 * i)
        return x


def sequence_loss(model, x):
    return np.sum(model(x) ** 2)


def layers_of_pairs(params, x):
    for w, b in params:  # the pairs differ: a vector bias, then a number
        x = np.tanh(x @ w + b)
    return np.sum(x)


def test_a_loop_over_layers_that_differ_is_written_out_layer_by_layer():
    x = rng.standard_normal((5, 3))
    model = Sequence(LinearModule(rng.standard_normal((3, 4))), ReluModule(), LinearModule(rng.standard_normal((4, 4))),
                     TanhModule(), LinearModule(rng.standard_normal((4, 2))))
    f = sourcegrad.differentiate(sequence_loss)
    assert sourcegrad.check_grad(f, model, x)
    assert f.value_and_grad(model, x)[0] == pytest.approx(sequence_loss(model, x))
    assert sourcegrad.check_grad(sequence_loss, Sequence(), x)  # no layers: the loop runs no iteration
    params = [(rng.standard_normal((3, 3)), rng.standard_normal(3)), (rng.standard_normal((3, 2)), 0.5)]
    assert sourcegrad.check_grad(layers_of_pairs, params, x)


class WithStaticParts:
    def __init__(self, w):
        self.w = w

    @staticmethod
    def squash(z):
        return np.tanh(z)

    @classmethod
    def squash_by_class(cls, z):
        return np.tanh(z)

    def through_self(self, x):
        return self.squash(x @ getattr(self, "w"))

    def through_the_classmethod(self, x):
        return WithStaticParts.squash_by_class(x @ self.w)

    def through_the_classmethod_of_self(self, x):
        return self.squash_by_class(x @ self.w) * 2.0

    SCALE = 2.0

    @classmethod
    def scaled_by_class(cls, z):
        return np.tanh(z) * cls.SCALE


def static_parts_loss(m, x):
    return np.sum(m.through_self(x) ** 2)


def classmethod_loss(m, x):
    return np.sum(m.through_the_classmethod(x) ** 2)


def classmethod_of_self_loss(m, x):
    return np.sum(m.through_the_classmethod_of_self(x) ** 2) + np.sum(m.squash_by_class(x @ m.w))


def class_reading_classmethod_loss(m, x):
    return np.sum(m.scaled_by_class(x @ m.w))


@pytest.mark.parametrize("fn", [static_parts_loss, classmethod_loss, classmethod_of_self_loss])
def test_staticmethods_and_classmethods_through_self_and_the_class_are_written_in(fn, monkeypatch):
    m, x = WithStaticParts(rng.standard_normal((3, 2))), rng.standard_normal((4, 3))
    assert sourcegrad.check_grad(fn, m, x)
    compiles = []
    compile_for_ranks = sourcegrad.compiler.Frontend.compile
    monkeypatch.setattr(sourcegrad.compiler.Frontend, "compile",
                        lambda *args, **kwargs: compiles.append(1) or compile_for_ranks(*args, **kwargs))
    f = sourcegrad.differentiate(fn)
    f.grad(m, x)
    f.grad(m, x)
    assert len(compiles) == 1  # the method the class gives stays the one written in: no guard fails


def test_a_classmethod_reading_its_class_is_refused_at_the_read():
    with pytest.raises(SourcegradError, match="a classmethod that reads its class `cls`") as info:
        sourcegrad.differentiate(class_reading_classmethod_loss).grad(WithStaticParts(np.ones((3, 2))), np.ones((4, 3)))
    assert "cls.SCALE" in str(info.value).splitlines()[1]


class SequenceOfSequences:
    def __init__(self, layers):
        self.layers = layers

    def __call__(self, h):
        for layer in self.layers:
            h = layer(h)
        return h


def nested_sequence_loss(model, x):
    return np.sum(model(x) ** 2)


def test_sequences_nested_in_sequences_are_followed_to_their_arrays():
    inner = SequenceOfSequences([TanhModule(), LinearModule(rng.standard_normal((3, 3)) * 0.5)])
    model = SequenceOfSequences([LinearModule(rng.standard_normal((3, 3)) * 0.5),
                                 SequenceOfSequences([inner, LinearModule(rng.standard_normal((3, 2)))])])
    assert sourcegrad.check_grad(nested_sequence_loss, model, rng.standard_normal((2, 3)))


class LayerKnowingItsModel:
    def __init__(self, model, w):
        self.model, self.w = model, w  # a reference back up: the structure holds itself

    def __call__(self, x):
        return np.tanh(x @ self.w) * self.model.scale


class ModelOfLayersKnowingIt:
    def __init__(self, r):
        self.scale = 1.5
        self.layers = [LayerKnowingItsModel(self, r.standard_normal((3, 3)) * 0.5) for _ in range(3)]

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


def test_a_structure_holding_itself_is_walked_once():
    model = ModelOfLayersKnowingIt(rng)
    x = rng.standard_normal((2, 3))
    gradient = sourcegrad.differentiate(nested_sequence_loss).grad(model, x)

    def difference(nudge):  # central difference of the loss along a change of the model
        nudge(1e-6)
        ahead = nested_sequence_loss(model, x)
        nudge(-2e-6)
        behind = nested_sequence_loss(model, x)
        nudge(1e-6)
        return (ahead - behind) / 2e-6

    def nudge_scale(eps):
        model.scale += eps

    # scale is read through each layer's reference back to the model: one gradient per path, as for any value
    # held in several places, whose sum is the derivative along scale
    through_layers = sum(gradient["layers"][i]["model"]["scale"] for i in range(3))
    assert through_layers == pytest.approx(difference(nudge_scale), rel=1e-6)
    for i in range(3):
        def nudge_w(eps, i=i):
            model.layers[i].w[0, 1] += eps
        assert gradient["layers"][i]["w"][0, 1] == pytest.approx(difference(nudge_w), rel=1e-6, abs=1e-9)


class LayersOfKinds:
    def __init__(self, r):
        self.layers = [LinearModule(r.standard_normal((3, 3)) * 0.5), TanhModule(),
                       LinearModule(r.standard_normal((3, 3)) * 0.5)]
        self.blocks = {"a": LinearModule(r.standard_normal((3, 3)) * 0.5),
                       "b": LinearModule(r.standard_normal((3, 3)) * 0.5)}

    @property
    def first(self):
        return self.layers[0]


def last_of_layers_that_differ(m, x):
    return np.sum(m.layers[-1](m.layers[-2](m.first(x))) ** 2)  # constant indices from the end; a property's layer


def enumerated_from_one(m, x):
    for i, layer in enumerate(m.layers, 1):
        x = layer(x) * i
    return np.sum(x ** 2)


def blocks_by_a_key_that_runs(m, x):
    for key in ["a", "b"]:
        x = m.blocks[key](x)  # alike values of a dict, indexed by a key known only when it runs
    return np.sum(x ** 2)


def asks_each_layer_what_it_holds(m, x):
    for layer in m.layers:
        if hasattr(layer, "w"):  # decided per layer when compiling
            x = x @ layer.w
        else:
            x = layer(x)
    return np.sum(x ** 2)


@pytest.mark.parametrize("fn", [last_of_layers_that_differ, enumerated_from_one, blocks_by_a_key_that_runs,
                                asks_each_layer_what_it_holds])
def test_ways_of_reaching_layers_that_differ(fn):
    assert sourcegrad.check_grad(fn, LayersOfKinds(rng), rng.standard_normal((2, 3)))


class RecurrentLayersOfKinds(LayersOfKinds):
    """An RNN whose step runs stacked layers of different classes, each behind a normalisation."""

    def __init__(self, r):
        super().__init__(r)
        self.norms = [LinearModule(r.standard_normal((3, 3)) * 0.5) for _ in self.layers]

    def __call__(self, xs):
        h = np.zeros(xs.shape[1:])
        for t in range(xs.shape[0]):
            h = h + xs[t]
            for layer in self.layers:
                h = layer(h)
        return h


def layers_that_differ_in_a_recurrent_step(m, xs):
    return np.sum(m(xs) ** 2)


def layers_that_differ_in_a_branch(m, xs):
    h = xs[0]
    if np.sum(h) > -100.0:
        for layer in m.layers:
            h = layer(h)
    else:
        h = np.tanh(h)
    return np.sum(h ** 2)


def layers_that_differ_after_an_early_return(m, xs):
    h = xs[0]
    if np.sum(h) > 100.0:
        return np.sum(h)
    for layer in m.layers:
        h = layer(h)
    return np.sum(h ** 2)


def layers_zipped_with_their_norms(m, xs):
    h = xs[0]
    for t in range(2):
        for i, (layer, norm) in enumerate(zip(m.layers, m.norms)):
            h = h + layer(norm(h)) * (i + 1)
    return np.sum(h ** 2)


def layers_walked_last_first(m, xs):
    h = xs[0]
    for t in range(xs.shape[0]):
        for layer in reversed(m.layers):
            h = layer(h + xs[t])
    return np.sum(h ** 2)


def layers_of_a_display_in_a_loop(m, xs):
    h = xs[0]
    for t in range(2):
        for layer in (m.layers[2], m.first, m.layers[1]):
            h = layer(h)
    return np.sum(h ** 2)


def last_layer_run_again_after_the_loop(m, xs):
    h = xs[0]
    if np.sum(h) > -100.0:
        for layer in m.layers[:2]:
            h = layer(h)
    return np.sum(layer(h) ** 2)  # the loop's name holds its last item, as in Python


@pytest.mark.parametrize("fn", [layers_that_differ_in_a_recurrent_step, layers_that_differ_in_a_branch,
                                layers_that_differ_after_an_early_return, layers_zipped_with_their_norms,
                                layers_walked_last_first, layers_of_a_display_in_a_loop,
                                last_layer_run_again_after_the_loop])
def test_layers_that_differ_walked_inside_loops_and_branches(fn):
    m, xs = RecurrentLayersOfKinds(rng), rng.standard_normal((3, 2, 3))
    assert sourcegrad.check_grad(fn, m, xs)
    linears = [m.layers[0], m.layers[2], *m.norms]
    directions = [rng.standard_normal((3, 3)) for _ in linears]
    tangent = {"layers": [{"w": directions[0]}, {}, {"w": directions[1]}], "norms": [{"w": v} for v in directions[2:]]}
    _, derivative = sourcegrad.differentiate(fn).jvp((m, xs), tangent)

    def loss_moved(eps):  # the loss with every linear layer's w moved eps along its direction
        for layer, v in zip(linears, directions):
            layer.w = layer.w + eps * v
        loss = fn(m, xs)
        for layer, v in zip(linears, directions):
            layer.w = layer.w - eps * v
        return loss

    assert derivative == pytest.approx((loss_moved(1e-6) - loss_moved(-1e-6)) / 2e-6, rel=1e-6, abs=1e-9)


def stops_early_in_layers_that_differ(m, x):
    for layer in m.layers:
        x = layer(x)
        if np.sum(x) > 100.0:
            break
    return np.sum(x)


def test_break_in_a_loop_over_layers_that_differ_is_refused_at_the_break():
    with pytest.raises(SourcegradError, match="`break` in a loop over items that differ") as info:
        sourcegrad.differentiate(stops_early_in_layers_that_differ).grad(LayersOfKinds(rng), np.ones((2, 3)))
    assert "break" in str(info.value).splitlines()[1]  # the line quoted is the break's
