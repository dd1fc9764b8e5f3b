"""Lambdas, closures, conditional expressions and nested functions: programs written elsewhere use
them, and each must give the gradient float64 central finite differences give, or a SourcegradError at its line."""

import functools

import numpy as np
import pytest

import sourcegrad
from sourcegrad import SourcegradError

rng = np.random.default_rng(16)
X = rng.normal(size=(4, 3))
W = rng.normal(size=(3, 2)) * 0.5


def assert_matches_finite_differences(fn, *args, wrt=None):
    check = sourcegrad.check_grad(fn, *args, wrt=wrt)
    assert check, check


# ---- lambdas ---------------------------------------------------------------------------------

tanh_loss = lambda x, w: np.sum(np.tanh(x @ w))  # noqa: E731
relu = lambda z: np.maximum(z, 0)  # noqa: E731
uses_relu = lambda x, w: np.sum(relu(x @ w) ** 2)  # noqa: E731
square_loss, cube_loss = lambda x, w: np.sum((x @ w) ** 2), lambda x, w: np.sum((x @ w) ** 3)  # noqa: E731
twins = [lambda x, w: np.sum(x @ w), lambda x, w: np.sum(np.sin(x @ w))]  # noqa: E731
chooses = lambda x, w: np.sum(x @ w) if np.sum(w) > 0 else np.sum((x @ w) ** 2)  # noqa: E731


def test_lambda_differentiated_with_respect_to_a_named_argument():
    assert_matches_finite_differences(tanh_loss, X, W, wrt="w")
    gradient = sourcegrad.differentiate(tanh_loss, wrt="w").grad(X.astype(np.float32), W.astype(np.float32))
    assert gradient.dtype == np.float32


def test_lambda_through_the_functional_grad():
    expected = X.T @ (1 - np.tanh(X @ W) ** 2)
    assert np.allclose(sourcegrad.grad(tanh_loss, wrt=1)(X, W), expected)


def test_lambda_called_by_a_lambda_is_inlined():
    assert_matches_finite_differences(uses_relu, X, W, wrt="w")


def test_two_lambdas_on_one_line_are_told_apart_by_column():
    assert_matches_finite_differences(square_loss, X, W, wrt="w")
    assert_matches_finite_differences(cube_loss, X, W, wrt="w")
    assert not np.allclose(sourcegrad.grad(square_loss, wrt="w")(X, W), sourcegrad.grad(cube_loss, wrt="w")(X, W))


def calls_a_lambda_in_a_loop_and_a_branch(x, w):
    h = x @ w
    for i in range(3):
        if np.sum(h) > 0:
            h = relu(h) * 0.5 + h * (i + 1) * 0.1
        else:
            h = relu(-h) + h
    return np.sum(h ** 2)


def test_lambda_helper_called_in_a_loop_and_branches():
    assert_matches_finite_differences(calls_a_lambda_in_a_loop_and_a_branch, X, W, wrt="w")
    assert_matches_finite_differences(calls_a_lambda_in_a_loop_and_a_branch, X, -W, wrt="w")


multi_line = lambda x, w: np.sum(  # noqa: E731
    np.tanh(x @ w) * (x @ w))


def test_lambda_over_several_lines():
    assert_matches_finite_differences(multi_line, X, W, wrt="w")


def test_lambda_holding_a_conditional_expression():
    assert_matches_finite_differences(chooses, X, W, wrt="w")
    assert_matches_finite_differences(chooses, X, -W, wrt="w")


def test_generated_file_of_a_lambda_cites_its_line():
    function = sourcegrad.differentiate(uses_relu, wrt="w")
    function.grad(X, W)
    line = uses_relu.__code__.co_firstlineno
    assert f"line{line}" in function.generated_path.name
    assert f"test_lambdas_and_closures.py:{line}" in function.backward_source
    assert f"test_lambdas_and_closures.py:{relu.__code__.co_firstlineno}  relu = lambda" in function.backward_source


def test_lambdas_of_one_line_in_a_list_are_told_apart_by_the_positions_of_their_code():
    assert np.allclose(sourcegrad.grad(twins[0], wrt="w")(X, W), X.T @ np.ones((4, 2)))
    assert np.allclose(sourcegrad.grad(twins[1], wrt="w")(X, W), X.T @ np.cos(X @ W))


def test_lambda_passed_in_a_call_broadcasts():
    gradient = sourcegrad.grad(lambda a, b: np.sum(np.sin(a * b)), wrt=(0, 1))(X, np.ones(3))
    assert gradient[1].shape == (3,)
    assert np.allclose(gradient[1], np.sum(np.cos(X) * X, axis=0))


# ---- lambdas passed to map, max and min inside a differentiated function ------------------------------------

def maps_a_lambda_over_layers(x, ws):
    outs = list(map(lambda w: np.tanh(x @ w), ws))  # x read by the lambda where map calls it
    return np.sum(np.stack(outs) ** 2) + np.sum(sum(map(lambda a: a ** 2, outs)))


def maps_a_lambda_of_two_lists_in_a_loop(x, ws):
    total = 0.0
    for i in range(2):
        scale = i + 1.0
        total = total + sum(map(lambda w, s: np.sum(np.sin(x @ w) * s * scale), ws, [1.0, 2.0]))
    return total


def a_lambdas_parameter_hides_a_local_of_the_same_name(x, ws):
    w = ws[0] * 3.0  # the lambda's w is its own parameter; this w is read after it
    return np.sum(sum(map(lambda w: x @ w, ws)) ** 2) + np.sum(w)


def picks_the_layer_whose_output_is_largest(x, ws):
    return np.sum(max(ws, key=lambda w: np.sum(x @ w)) ** 2)


@pytest.mark.parametrize("fn", [maps_a_lambda_over_layers, maps_a_lambda_of_two_lists_in_a_loop,
                                a_lambdas_parameter_hides_a_local_of_the_same_name,
                                picks_the_layer_whose_output_is_largest])
def test_a_lambda_passed_to_map_or_max_is_written_in_where_it_is_called(fn):
    ws = [rng.normal(size=(3, 2)) * 0.5, rng.normal(size=(3, 2)) * 0.5]
    assert_matches_finite_differences(fn, X, ws, wrt=("x", "ws"))
    f = sourcegrad.differentiate(fn, wrt="x")
    direction = rng.normal(size=X.shape)
    _, derivative = f.jvp((X, ws), direction)
    eps = 1e-6
    assert np.isclose(derivative, (fn(X + eps * direction, ws) - fn(X - eps * direction, ws)) / (2 * eps),
                      rtol=1e-6, atol=1e-8)
    gradient_along = (f.grad(X + eps * direction, ws) - f.grad(X - eps * direction, ws)) / (2 * eps)
    np.testing.assert_allclose(f.hvp((X, ws), direction), gradient_along, rtol=1e-5, atol=1e-6)


def assigns_a_lambda(x, ws):
    f = lambda a: a * 2.0  # noqa: E731
    return np.sum(f(x))


def maps_a_lambda_with_a_default(x, ws):
    return np.sum(sum(map(lambda w, s=2.0: x @ w * s, ws)))


def maps_a_lambda_holding_a_conditional(x, ws):
    return np.sum(sum(map(lambda w: x @ w if np.sum(w) > 0 else -(x @ w), ws)))


def maps_a_lambda_over_a_list_built_in_a_loop(x, ws):
    outs = []
    for w in ws:
        outs.append(x @ w)
    return np.sum(sum(map(lambda h: h ** 2, outs)))


def maps_a_lambda_of_two_parameters_over_one_list(x, ws):
    return np.sum(sum(map(lambda w, s: x @ w * s, ws)))


def sorts_by_a_lambda(x, ws):
    return np.sum(sorted(ws, key=lambda w: w[0, 0])[0])


def maps_lazily_and_rebinds_what_the_lambda_reads(x, ws):
    scale = 1.0
    mapped = map(lambda w: x @ w * scale, ws)  # Python calls the lambda as the map is walked: with scale 3.0
    scale = 3.0
    return np.sum(sum(mapped))


def walks_a_map_twice(x, ws):
    mapped = map(np.tanh, ws)
    first = sum(np.sum(h) for h in mapped)
    return first + sum(np.sum(h) for h in mapped)  # the map is spent: Python adds 0


def walks_a_map_in_a_loop_that_rebinds_what_the_lambda_reads(x, ws):
    scale, total = 1.0, 0.0
    for h, w in zip(map(lambda w: x @ w * scale, ws), ws):
        scale = 3.0  # the next item is computed with it
        total = total + np.sum(h * h)
    return total


def walks_a_map_in_a_loop_that_writes_into_what_the_lambda_reads(x, ws):
    scales, total = [1.0], 0.0
    for h, w in zip(map(lambda w: x @ w * scales[-1], ws), ws):
        scales.append(3.0)  # the next item is computed with it
        total = total + np.sum(h * h)
    return total


def walks_maps_where_they_are_made(x, ws):
    scale, total = 2.0, 0.0
    for h, w in zip(map(lambda w: x @ w * scale, ws), ws):
        total = total + np.sum(h * (x @ w))
    stacked = np.stack([*map(np.tanh, ws)])
    return total + np.sum(stacked ** 2) + sum(np.sum(a * b) for a, b in zip(map(np.sin, ws), ws))


def test_a_map_walked_where_it_is_made_through_zip_or_a_display_matches_finite_differences():
    assert sourcegrad.check_grad(walks_maps_where_they_are_made, X, [W, W * 2.0], wrt="x")


@pytest.mark.parametrize("fn, at, message", [
    (maps_lazily_and_rebinds_what_the_lambda_reads, "map(lambda w", "a map that is not walked where it is made"),
    (walks_a_map_twice, "map(np.tanh", "a map that is not walked where it is made"),
    (walks_a_map_in_a_loop_that_rebinds_what_the_lambda_reads, "map(lambda w", "walked by a loop that rebinds"),
    (walks_a_map_in_a_loop_that_writes_into_what_the_lambda_reads, "map(lambda w", "walked by a loop that rebinds"),
], ids=["rebinds_before_the_walk", "walked_twice", "rebound_by_the_walking_loop", "changed_by_the_walking_loop"])
def test_a_map_kept_to_be_walked_later_is_refused_at_its_line(fn, at, message):
    with pytest.raises(SourcegradError, match=r"test_lambdas_and_closures.py:\d+:\d+: ") as info:
        sourcegrad.differentiate(fn, wrt="x").grad(X, [W, W * 2.0])
    text = str(info.value)
    assert message in text and at in text.splitlines()[1][text.splitlines()[2].index("^"):]


@pytest.mark.parametrize("fn, at, message", [
    (assigns_a_lambda, "lambda a", "lambdas are not supported inside a differentiated function, except as"),
    (maps_a_lambda_with_a_default, "lambda w, s=2.0", "may take only plain parameters"),
    (maps_a_lambda_holding_a_conditional, "x @ w if", "a conditional expression, comprehension, generator or lambda "
                                                      "inside a lambda"),
    (maps_a_lambda_over_a_list_built_in_a_loop, "lambda h", "to map over a list whose length it does not know here"),
    (maps_a_lambda_of_two_parameters_over_one_list, "lambda w, s", "this lambda takes 2 argument(s), and is given 1"),
    (sorts_by_a_lambda, "lambda w", "lambdas are not supported inside a differentiated function, except as"),
], ids=["assigned", "default", "conditional", "unknown_length", "argument_count", "sorted_key"])
def test_a_lambda_sourcegrad_cannot_write_in_is_refused_at_its_line(fn, at, message):
    with pytest.raises(SourcegradError, match=r"test_lambdas_and_closures.py:\d+:\d+: ") as info:
        sourcegrad.differentiate(fn, wrt="x").grad(X, [W, W * 2.0])
    text = str(info.value)
    assert message in text and at in text.splitlines()[1][text.splitlines()[2].index("^"):]


# ---- closures --------------------------------------------------------------------------------

def make_loss(scale):
    def loss(w, x):
        return scale * np.sum((x @ w) ** 2)
    return loss


def make_network(nonlinearity):
    def network(w, x):
        return np.sum(nonlinearity(x @ w))
    return network


def make_with_helper(power, offset):
    def helper(v):
        return (v + offset) ** power
    def loss(w, x):
        total = 0.0
        for i in range(2):
            total = total + np.sum(helper(x @ w)) * (i + 1)
        return total
    return loss


def test_closures_from_one_factory_read_their_own_values():
    double, fivefold = make_loss(2.0), make_loss(5.0)
    assert_matches_finite_differences(double, W, X)
    assert_matches_finite_differences(fivefold, W, X)
    assert np.allclose(sourcegrad.grad(fivefold)(W, X), 2.5 * sourcegrad.grad(double)(W, X))


def test_closure_holding_an_array_broadcasts():
    bias = np.linspace(-1.0, 1.0, 2)
    def loss(w, x):
        return np.sum(np.tanh(x @ w + bias))
    assert_matches_finite_differences(loss, W, X)


def test_function_valued_closure_variable_recompiles_when_rebound():
    activation = np.tanh
    def network(w, x):
        return np.sum(activation(x @ w))
    function = sourcegrad.differentiate(network)
    assert np.allclose(function.grad(W, X), X.T @ (1 - np.tanh(X @ W) ** 2))
    activation = np.sin  # noqa: F841  (the cell network reads)
    assert np.allclose(function.grad(W, X), X.T @ np.cos(X @ W))
    # as a later process would: a new front end, the generated file of the tanh closure on disk
    assert np.allclose(sourcegrad.differentiate(network).grad(W, X), X.T @ np.cos(X @ W))


def test_function_valued_closures_from_one_factory_key_their_own_files():
    tanh_network, sin_network = make_network(np.tanh), make_network(np.sin)
    assert_matches_finite_differences(tanh_network, W, X)
    assert_matches_finite_differences(sin_network, W, X)
    function, other = sourcegrad.differentiate(tanh_network), sourcegrad.differentiate(sin_network)
    function.grad(W, X)
    other.grad(W, X)
    assert "xp.tanh" in function.backward_source and "xp.sin" in other.backward_source
    assert function.generated_path != other.generated_path
    assert np.allclose(sourcegrad.grad(tanh_network)(W, X), X.T @ (1 - np.tanh(X @ W) ** 2))


def test_helper_that_reads_its_own_closure_inside_a_loop():
    assert_matches_finite_differences(make_with_helper(3, 0.5), W, X)
    assert_matches_finite_differences(make_with_helper(2, -0.5), W, X)


# ---- conditional expressions ----------------------------------------------------------------

def conditional_in_an_expression(w, x):
    y = np.sum(x @ w if np.sum(w) > 0 else -(x @ w) ** 2)
    return y * 2.0


def conditional_in_a_loop(w, x):
    h = x @ w
    for i in range(3):
        h = np.tanh(h) * 0.5 if np.sum(h) > 0 else h * h + (w[0] if i > 0 else w[1])
    return np.sum(h)


def nested_conditionals(w, x):
    z = x @ w
    return np.sum(z if z[0, 0] > 0 else (z ** 2 if z[1, 0] > 0 else np.sin(z)))


@pytest.mark.parametrize("sign", [1.0, -1.0])
@pytest.mark.parametrize("fn", [conditional_in_an_expression, conditional_in_a_loop, nested_conditionals])
def test_conditional_expression_on_both_branches(fn, sign):
    assert_matches_finite_differences(fn, sign * W, X)
    assert sourcegrad.grad(fn)((sign * W).astype(np.float32), X.astype(np.float32)).dtype == np.float32


def conditional_in_a_while_condition(w):
    while (np.sum(w) if w[0] > 0 else -np.sum(w)) < 10:
        w = w * 2.0
    return np.sum(w)


def test_conditional_expression_in_a_while_condition_is_refused():
    with pytest.raises(SourcegradError, match=r"test_lambdas_and_closures.py:\d+:\d+: a conditional expression"):
        sourcegrad.grad(conditional_in_a_while_condition)(np.ones(3))


# ---- nested functions -----------------------------------------------------------------------

def rnn_loss(w_h, w_x, xs):
    scale = 0.5

    def update_rnn(h, x):
        return np.tanh(h @ w_h + x @ w_x) * scale

    h = np.zeros((2, 3))
    for x in xs:
        h = update_rnn(h, x)
        if np.sum(h) > 0:
            h = update_rnn(h, x) if np.sum(h) > 0.5 else h * 2.0
    return np.sum(h ** 2)


def test_nested_function_reads_enclosing_values_in_a_loop():
    w_h, w_x = rng.normal(size=(3, 3)) * 0.5, rng.normal(size=(4, 3)) * 0.5
    xs = [rng.normal(size=(2, 4)) for _ in range(3)]
    assert_matches_finite_differences(rnn_loss, w_h, w_x, xs, wrt=("w_h", "w_x"))


def late_binding(w):
    factor = 2.0

    def scaled(v, power=2):
        return (v * factor) ** power

    first = scaled(w)
    factor = 3.0
    return np.sum(first + scaled(w, power=3))


def test_nested_function_reads_the_enclosing_value_at_the_call():
    w = np.array([0.5, -1.0, 2.0])
    assert_matches_finite_differences(late_binding, w)
    assert np.allclose(sourcegrad.grad(late_binding)(w), 8.0 * w + 81.0 * w ** 2)


def returns_a_nested_function(w):
    def inner(v):
        return v * 2
    return inner


def stores_a_nested_function(w):
    def inner(v):
        return v * 2
    functions = [inner]
    return np.sum(w)


def rebinds_an_enclosing_variable(w):
    total = 0.0

    def add(v):
        nonlocal total
        total = total + v
        return total
    return np.sum(add(w))


def nested_in_a_loop(w):
    for i in range(2):
        def inner(v):
            return v * 2
        w = inner(w)
    return np.sum(w)


@pytest.mark.parametrize("fn, message", [
    (returns_a_nested_function, "uses the nested function inner other than by calling it"),
    (stores_a_nested_function, "uses the nested function inner other than by calling it"),
    (rebinds_an_enclosing_variable, "rebinds a variable of rebinds_an_enclosing_variable"),
    (nested_in_a_loop, "a function defined inside a loop"),
], ids=["returned", "stored", "nonlocal", "in_a_loop"])
def test_nested_function_that_cannot_be_inlined_is_refused(fn, message):
    with pytest.raises(SourcegradError, match=r"test_lambdas_and_closures.py:\d+:\d+: ") as info:
        sourcegrad.grad(fn)(np.ones(3))
    assert message in str(info.value)


# ---- function-valued defaults --------------------------------------------------------------

def relu_helper(z):
    return np.maximum(z, 0.0)


def dense(x, w, act=np.tanh):
    return act(x @ w)


def network_loss(w, x, nonlinearity=np.tanh):
    hidden = nonlinearity(x @ w)
    if np.sum(hidden) > 0:
        hidden = dense(x, w) * hidden
    return np.sum(hidden ** 2) + np.sum(dense(x, w, act=relu_helper)) + np.sum(dense(x, w, act=np.sin))


@pytest.mark.parametrize("nonlinearity", [None, np.sin, relu_helper],
                         ids=["default_tanh", "passed_sin", "passed_helper"])
def test_function_valued_default_calls_the_function_it_names(nonlinearity):
    keywords = {} if nonlinearity is None else {"nonlinearity": nonlinearity}
    for w in (W, -W):
        check = sourcegrad.check_grad(network_loss, w, X, **keywords)
        assert check, check
    gradient = sourcegrad.grad(network_loss)(W.astype(np.float32), X.astype(np.float32), **keywords)
    assert gradient.dtype == np.float32


def test_function_valued_argument_is_part_of_the_compiled_key():
    function = sourcegrad.differentiate(network_loss)
    tanh_gradient = function.grad(W, X)
    sin_gradient = function.grad(W, X, nonlinearity=np.sin)
    assert not np.allclose(tanh_gradient, sin_gradient)
    assert np.allclose(function.grad(W, X), tanh_gradient)
    assert "nonlinearity=sin" in function.backward_source


def leaky(z, slope, *, offset=0.0):
    return np.where(z > 0, z, slope * z) + offset


class DenseWithActivation:
    def __init__(self, w, act):
        self.w, self.act = w, act

    def __call__(self, x):
        return self.act(x @ self.w)


class Scaled:
    def __init__(self, w):
        self.w = w

    def __call__(self, x):
        return x @ self.w


def through_a_held_activation(w, x, act):
    return np.sum(act(x @ w) ** 2)


def through_an_objects_activation(layer, x):
    return np.sum(layer(x) ** 2)


def through_layers_of_a_list(layers, x):
    for layer in layers:  # an object, a partial, numpy's function: written out layer by layer
        x = layer(x)
    return np.sum(x ** 2)


PARTIALS = [functools.partial(leaky, slope=0.1), functools.partial(leaky, 0.3, offset=1.0),
            functools.partial(np.clip, a_min=-0.5, a_max=0.5)]


@pytest.mark.parametrize("act", PARTIALS, ids=["keyword", "positional_and_keyword", "numpy"])
def test_a_partial_is_called_as_its_function_with_what_it_binds(act):
    assert sourcegrad.check_grad(through_a_held_activation, W, X, act)
    assert sourcegrad.check_grad(through_an_objects_activation, DenseWithActivation(W, act), X)
    layers = [Scaled(rng.normal(size=(3, 3))), act, Scaled(rng.normal(size=(3, 2))), np.tanh]
    assert sourcegrad.check_grad(through_layers_of_a_list, layers, X)


def test_what_a_partial_binds_is_part_of_the_compiled_key():
    function = sourcegrad.differentiate(through_a_held_activation)
    for slope in (0.1, 0.5, 0.1, 1):  # 1 (an int) is another literal than 1.0: code of its own
        act = functools.partial(leaky, slope=slope)
        assert sourcegrad.check_grad(function, W, -np.abs(X), act)


def divided_by(scale, x):
    return x / scale


def arctan_of_a_held_activation(w, x, act):
    return np.sum(np.arctan(act(x @ w)))


def test_a_partial_binding_minus_zero_is_compiled_apart_from_one_binding_zero():
    # 0.0 == -0.0, but the literal written in decides the sign of x / scale: +-inf, whose arctan is +-pi/2
    function = sourcegrad.differentiate(arctan_of_a_held_activation)
    for scale in (0.0, -0.0):
        act = functools.partial(divided_by, scale)
        value, _ = function.value_and_grad(W, np.abs(X), act)
        assert value == arctan_of_a_held_activation(W, np.abs(X), act)


def test_a_partial_binding_an_array_is_refused_at_the_call():
    with pytest.raises(SourcegradError, match="functools.partial that binds arrays"):
        sourcegrad.grad(through_a_held_activation)(W, X, functools.partial(leaky, slope=np.ones(2)))


def test_function_valued_default_with_a_rule_outside_numpy():
    scipy_special = pytest.importorskip("scipy.special")

    def loss(w, x, squash=scipy_special.expit):
        return np.sum(squash(x @ w))

    assert_matches_finite_differences(loss, W, X)


OFFSET = 0.25


def nested_function_assigns_a_name_the_enclosing_function_reads_as_a_global(w):
    def shifted(v):
        OFFSET = 2.0  # noqa: N806  (the nested function's own)
        return v + OFFSET
    return np.sum(shifted(w) * OFFSET)


def test_names_a_nested_function_assigns_are_its_own():
    w = np.array([0.5, -1.0])
    assert_matches_finite_differences(nested_function_assigns_a_name_the_enclosing_function_reads_as_a_global, w)


# ---- what would reach another function than Python's, refused or kept apart ---------------------------------


def rebinds_a_function_parameter_in_a_loop(w, act=np.tanh):
    h = w
    for _ in range(3):
        h = act(h)
        act = np.sin  # the first iteration calls tanh, the others sin
    return np.sum(h)


def test_a_function_valued_parameter_rebound_in_a_loop_is_refused():
    with pytest.raises(SourcegradError, match="holds a function and is assigned in the function"):
        sourcegrad.differentiate(rebinds_a_function_parameter_in_a_loop).grad(np.array([0.3, -0.5, 0.8]))


def nested_def_with_a_conditional_expression(w):
    chosen = w * 3.0  # the name the lifted conditional expression would take

    def g(z):
        return np.sum(z if np.sum(z) > 0 else -z)
    return g(w) + np.sum(chosen * w)


@pytest.mark.parametrize("w", [np.array([0.3, -0.5, 0.8]), np.array([-0.3, -0.5, 0.1])], ids=["positive", "negative"])
def test_a_conditional_expression_in_a_nested_def_keeps_the_enclosing_names(w):
    value, _ = sourcegrad.differentiate(nested_def_with_a_conditional_expression).value_and_grad(w)
    assert value == pytest.approx(nested_def_with_a_conditional_expression(w))
    assert sourcegrad.check_grad(nested_def_with_a_conditional_expression, w)


def g(z):
    return z * 100.0


def calls_a_nested_def_before_it(w):
    a = g(w)  # noqa: F823  (Python raises UnboundLocalError here: g is the local function from the first line on)

    def g(z):
        return z * 2.0
    return np.sum(a * g(w))


def test_a_nested_def_called_before_its_def_is_refused():
    with pytest.raises(SourcegradError, match="is called before its `def`"):
        sourcegrad.differentiate(calls_a_nested_def_before_it).grad(np.array([0.3, -0.5]))


def _make_helper_with_a_numpy_cell():
    act = np.tanh

    def helper(z):
        return act(z)

    def set_act(function):
        nonlocal act
        act = function
    return helper, set_act


cell_helper, set_cell_act = _make_helper_with_a_numpy_cell()


def calls_a_helper_with_a_numpy_cell(w):
    return np.sum(cell_helper(w) * w)


def test_a_helpers_closure_cell_holding_a_numpy_function_recompiles_when_rebound():
    f = sourcegrad.differentiate(calls_a_helper_with_a_numpy_cell)
    w = np.array([0.3, -0.5, 1.1])
    try:
        for function in (np.tanh, np.sin, np.tanh):
            set_cell_act(function)
            value, _ = f.value_and_grad(w)
            assert value == pytest.approx(calls_a_helper_with_a_numpy_cell(w))
            assert sourcegrad.check_grad(f, w)
    finally:
        set_cell_act(np.tanh)


act = np.sin


def reads_the_global_act(z):
    return act(z)


def _make_loss_reading_two_acts(act):
    def loss(w):
        return np.sum(act(w) + reads_the_global_act(w) * 2.0)
    return loss


def test_one_name_for_two_functions_in_the_gradient_is_refused():
    with pytest.raises(SourcegradError, match="names two different objects"):
        sourcegrad.differentiate(_make_loss_reading_two_acts(np.tanh)).grad(np.array([0.3, -0.5]))


GLOBAL_WEIGHTS = np.arange(6.0).reshape(2, 3) / 6.0


def reads_a_global_arrays_attribute_twice(x):
    # each read of GLOBAL_WEIGHTS.T makes a new array object, always the same transpose of the same array
    return np.sum(GLOBAL_WEIGHTS.T @ x) + np.sum(GLOBAL_WEIGHTS.T * x[0])


def test_an_attribute_of_one_global_read_twice_is_one_object():
    assert sourcegrad.check_grad(reads_a_global_arrays_attribute_twice, np.array([0.3, -0.5]))


def calls_a_nested_def_as_a_statement(x):
    a = x * 3.0

    def write(v):
        a[0] = v
        return 1.0
    write(x[1] * 2.0)
    return np.sum(a * x)


def nested_def_writes_into_the_enclosing_array(x):
    a = x * 3.0

    def add(v):
        a[0] += v
        return 1.0
    t = add(x[1])
    return np.sum(a * x) * t


@pytest.mark.parametrize("fn, message", [
    (calls_a_nested_def_as_a_statement, "whose result is not used"),
    (nested_def_writes_into_the_enclosing_array, "would change an array of the enclosing function in place"),
], ids=["statement_call", "write_into_enclosing"])
def test_a_nested_def_that_could_only_act_by_changing_the_enclosing_arrays_is_refused(fn, message):
    with pytest.raises(SourcegradError, match=message):
        sourcegrad.differentiate(fn).grad(np.array([0.5, -1.0, 2.0]))


def make_optionally_activated_loss():
    act = None

    def loss(x):
        if act is not None:
            x = act(x)
        return np.sum(x ** 2)

    def set_act(function):
        nonlocal act
        act = function

    return loss, set_act


def test_a_closure_variable_left_none_and_set_later_compiles_again():
    loss, set_act = make_optionally_activated_loss()
    x = np.array([0.3, -0.5, 0.9])
    f = sourcegrad.differentiate(loss)
    np.testing.assert_allclose(f.grad(x), 2 * x)  # compiled with the branch left out
    set_act(np.sin)
    np.testing.assert_allclose(f.grad(x), 2 * np.sin(x) * np.cos(x))
