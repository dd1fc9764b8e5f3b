"""Python's builtins in differentiated code: `sum` of a list or tuple written out is the additions it makes
(`sum([a, b])` is `0 + a + b`), broadcasting included; `tuple`, `list`, `dict`, dict literals, `d.get`,
`d.keys()`, `d.values()`, `d.items()`, `sorted` of keys and numbers, `*` in calls and in unpacking. Checked
against float64 finite differences; what sourcegrad cannot follow is refused at its line."""

import operator

import numpy as np
import pytest

import sourcegrad
from sourcegrad import SourcegradError

from device_support import unless_rows_refused


rng_for_maps = np.random.default_rng(45)


def sum_of_a_list(x, y):
    return np.sum(sum([x, y * 2.0, np.sin(x)]) ** 2)


def sum_of_a_tuple_with_a_start(x):
    return sum((x, x * x), 1.5).sum()


def sum_in_a_loop(x, n):
    total = 0.0
    for i in range(n):
        total = total + np.sum(sum([x * i, x]))
    return total


def max_and_min_of_several(x):
    a, b, c = np.sum(x), np.sum(x ** 2), np.sum(np.sin(x))
    return max(a, b, c) + min([a, b, c]) + max((a * 2.0, c)) - min(a, 0.1)


def max_and_min_of_a_list_built_in_a_loop(x):
    scores = [np.sum(x * i) for i in range(1, 4)]
    return max(scores) - min(np.sum(x ** k) for k in (1, 2, 3))


def _layer_loss(w, x):
    return np.sum(np.tanh(x @ w) ** 2)


def sums_a_map_over_layers(ws, xs):
    return sum(map(_layer_loss, ws, xs)) + max(map(np.sum, ws)) + np.sum(list(map(np.tanh, xs))[0])


def _energy(a):
    return np.sum(a ** 2)


def picks_an_array_by_a_key(x, w):
    best = max([x * w, np.sin(x), x - w], key=_energy)  # arrays, compared by the number key gives
    worst = min(x * 2.0, w, key=np.sum)
    return np.sum(best * x) + np.sum(worst ** 3)


def picks_by_a_key_in_a_loop_and_a_branch(x, w):
    total = 0.0
    for i in range(3):
        if np.sum(w) > 0.5 * i:
            best = max([x * i, w * (2 - i)], key=lambda a: np.sum(a * x))
        else:
            best = min((x, w * i), key=lambda a: a[0])
        total = total + np.sum(best * w)
    return total


def the_first_of_equal_keys_is_picked(x, w):
    # every key ties: Python's max and min return the first item, so only x * w has a gradient
    return np.sum(max([x * w, x * 2.0], key=lambda a: 1.0)) + np.sum(min([w * 3.0, x], key=lambda a: 1.0) * x)


def an_extreme_with_a_default(x, w):
    scores = [np.sum(x * 2.0), np.sum(np.sin(x))]
    none = []
    return max(scores, default=np.sum(w)) * np.sum(w) + min(none, default=np.sum(w * x))


def picks_the_key_of_the_largest_score(x, w):
    scores = {"a": np.sum(x * w), "b": np.sum(np.sin(x)), "c": np.sum(x ** 2)}
    best = max(scores, key=scores.get)  # a key: the gradient reaches the score read by it
    return scores[best] * 2.0 + scores[min(scores, key=lambda k: scores[k])]


def sum_of_an_arrays_rows(W, w):
    return np.sum(sum(W) ** 2) + sum(w) ** 2 + np.sum(sum(W, w[:1]) * w[0])


def unpacks_an_arrays_rows_with_a_star(X):
    first, second, *rest = X  # rest: a list of the rows after
    rest.append(first * 2.0)
    return np.sum(first * second) + np.sum(sum(rest) ** 2) + len(rest)


def unpacks_an_array_into_itself_with_a_star(x):
    x, *rest = x  # every part is read before x is bound again
    return x * 3.0 + sum(rest) ** 2


def max_and_min_of_an_arrays_elements(w):
    return max(w) * 2.0 + min(w) ** 2


CASES = [
    (picks_the_key_of_the_largest_score, ("x", "w"), (np.array([0.3, 0.5, -0.2]), np.array([1.1, -0.4, 0.6]))),
    (picks_the_key_of_the_largest_score, ("x", "w"), (np.array([-1.3, 0.5, -0.2]), np.array([1.1, -0.4, 0.6]))),
    (picks_an_array_by_a_key, ("x", "w"), (np.array([0.3, 0.5, -0.2]), np.array([1.1, -0.4, 0.6]))),
    (picks_an_array_by_a_key, ("x", "w"), (np.array([1.3, 0.5, -0.2]), np.array([0.1, -0.4, 0.6]))),
    (picks_by_a_key_in_a_loop_and_a_branch, ("x", "w"), (np.array([0.3, 0.5, -0.2]), np.array([1.1, -0.4, 0.6]))),
    (picks_by_a_key_in_a_loop_and_a_branch, ("x", "w"), (np.array([-0.3, 0.5, 0.2]), np.array([0.1, 0.4, 0.6]))),
    (the_first_of_equal_keys_is_picked, ("x", "w"), (np.array([0.3, 0.5, -0.2]), np.array([1.1, -0.4, 0.6]))),
    (an_extreme_with_a_default, ("x", "w"), (np.array([0.3, 0.5, -0.2]), np.array([1.1, -0.4, 0.6]))),
    (sums_a_map_over_layers, ("ws", "xs"), ([rng_for_maps.standard_normal((3, 3)) for _ in range(3)],
                                            [rng_for_maps.standard_normal((2, 3)) for _ in range(3)])),
    (max_and_min_of_several, ("x",), (np.array([0.3, 0.5, -0.2]),)),
    (max_and_min_of_a_list_built_in_a_loop, ("x",), (np.array([0.3, 0.5, -0.2]),)),
    (sum_of_a_list, ("x", "y"), (np.array([0.3, 0.5]), np.array([[0.1, -0.2], [0.4, 0.2]]))),  # broadcasts
    (sum_of_a_tuple_with_a_start, ("x",), (np.array([0.3, -0.5]),)),
    (sum_in_a_loop, ("x",), (np.array([0.3, -0.5]), 3)),
]


@pytest.mark.parametrize("fn, wrt, args", CASES, ids=[c[0].__name__ for c in CASES])
def test_builtin_sum_of_a_display_matches_finite_differences(fn, wrt, args, device):
    assert sourcegrad.check_grad(fn, *args, wrt=wrt, device=device)


def test_builtin_sum_keeps_the_value():
    x = np.array([0.3, -0.5])
    value, _ = sourcegrad.differentiate(sum_of_a_tuple_with_a_start).value_and_grad(x)
    assert value == pytest.approx(sum_of_a_tuple_with_a_start(x))


ARRAY_ROWS_CASES = [
    (sum_of_an_arrays_rows, ("W", "w"), (np.array([[0.3, -0.5, 1.2], [0.7, 0.1, -0.4]]), np.array([0.2, -1.1, 0.5]))),
    (sum_of_an_arrays_rows, ("W", "w"), (np.arange(24.0).reshape(2, 3, 4) / 10, np.array([0.2, -1.1, 0.5, 0.9]))),
    (max_and_min_of_an_arrays_elements, ("w",), (np.array([0.3, -1.5, 1.2, 0.7]),)),
    (unpacks_an_arrays_rows_with_a_star, ("X",), (np.arange(12.0).reshape(4, 3) / 7 - 0.5,)),
    (unpacks_an_arrays_rows_with_a_star, ("X",), (np.array([[0.3, -0.2], [1.1, 0.4]]),)),  # rest empty
    (unpacks_an_array_into_itself_with_a_star, ("x",), (np.array([0.3, -1.5, 1.2]),)),
]


# (numpy only: on dask these loops over an array's rows are refused, as a written loop over its rows is)
@pytest.mark.parametrize("fn, wrt, args", ARRAY_ROWS_CASES, ids=[c[0].__name__ for c in ARRAY_ROWS_CASES])
def test_builtin_sum_max_and_min_of_an_arrays_rows_match_finite_differences(fn, wrt, args):
    assert sourcegrad.check_grad(fn, *args, wrt=wrt)


def test_builtins_over_an_arrays_rows_match_in_forward_mode_and_hvp():
    w = np.array([0.3, -1.5, 1.2, 0.7])
    tangent = np.array([1.0, -0.5, 2.0, 0.25])
    for fn, args in ((max_and_min_of_an_arrays_elements, (w,)), (sum_of_an_arrays_rows, (w.reshape(2, 2) * 3.0, w)),
                     (unpacks_an_arrays_rows_with_a_star, (np.outer(w, w[:2]),)),
                     (dict_of_names_zipped_with_values, (w, [w[:3], w[1:]]))):
        f = sourcegrad.differentiate(fn, wrt=fn.__code__.co_varnames[0])
        gradient = f.grad(*args)
        tangents = (np.resize(tangent, args[0].shape),) + (None,) * (len(args) - 1)
        _, derivative = sourcegrad.jvp(fn, args, tangents)
        assert derivative == pytest.approx(np.sum(gradient * tangents[0]))
        step = 1e-5
        moved = [(a + step * tangents[0] if i == 0 else a) for i, a in enumerate(args)]
        back = [(a - step * tangents[0] if i == 0 else a) for i, a in enumerate(args)]
        expected = (f.grad(*moved) - f.grad(*back)) / (2 * step)
        np.testing.assert_allclose(f.hvp(args, tangents[:1]), expected, atol=1e-6)


def largest_element(w):
    return max(w) * 1.0


def larger_and_smaller_of_two(w):
    return max(w[0], w[1]) + 10.0 * min(w[0], w[1])


def test_builtin_max_and_min_give_the_gradient_to_the_value_python_returns():
    # Python keeps the first of equal elements, and an element that compares false against nan
    np.testing.assert_array_equal(sourcegrad.grad(largest_element)(np.array([1.0, 3.0, 3.0, 0.0])), [0, 1, 0, 0])
    np.testing.assert_array_equal(sourcegrad.grad(largest_element)(np.array([3.0, np.nan, 1.0])), [1, 0, 0])
    np.testing.assert_array_equal(sourcegrad.grad(larger_and_smaller_of_two)(np.array([3.0, np.nan])), [11, 0])
    np.testing.assert_array_equal(sourcegrad.grad(larger_and_smaller_of_two)(np.array([np.nan, 3.0])), [11, 0])
    _, derivative = sourcegrad.jvp(larger_and_smaller_of_two, (np.array([3.0, np.nan]),), (np.array([1.0, 0.0]),))
    assert derivative == 11.0


# ---- lists, tuples and dicts made and read by Python's builtins and displays ----------------------------------
# Each is written as the display it makes where the compiler knows its items (a parameter's, a display's), so a
# gradient reaches every item by its own name; checked against float64 finite differences, with broadcasting.

rng = np.random.default_rng(44)


def tuple_and_list_of_sequences(x, w):
    pair = tuple([x * 2.0, w])  # a list made a tuple
    items = list(pair)  # and back
    both = tuple((x, w))
    return np.sum(items[0] * items[1]) + np.sum(both[1] ** 2) + np.sum(pair[0])


def dict_literal_and_dict_call(x, w):
    layer = {"w": w, "b": x * 0.5}  # b broadcasts against the rows of x @ w below
    twice = dict(w=w * 2.0, b=layer["b"])
    pairs = dict([("scale", x)], shift=1.0)
    return np.sum(np.tanh(x @ layer["w"] + twice["b"])) + np.sum(pairs["scale"] * pairs["shift"]) + twice["w"].sum()


def dict_of_names_zipped_with_values(w, layers):
    d = dict(zip(["a", "b", "c"], w))  # an array: its first three elements
    named = dict(zip(("first", "second"), layers))  # a list of known length
    return d["a"] * d["b"] + d["c"] ** 2 + np.sum(named["first"] * named["second"])


def dict_get_with_known_keys(params, x):
    w = params.get("w")
    b = params.get("b", 0.0)
    missing = params.get("bias", 2.0)  # not a key: the default
    return np.sum(x @ w + b) * missing


def dict_keys_values_items(params):
    total = 0.0
    for i, (key, value) in enumerate(sorted(params.items(), key=operator.itemgetter(0))):
        total = total + np.sum(np.sin(value)) * (i + 1.0)
    for value in params.values():
        total = total + np.sum(value ** 2)
    for key in sorted(params.keys(), reverse=True):
        total = total + np.sum(np.cos(params[key]))
    for i, key in enumerate(sorted(params)):  # iterating a dict gives its keys
        total = total + np.sum(params[key]) * i
    return total


def starred_unpacking(params, x):
    *hidden, last = params
    first, *rest = hidden + [last]
    for w in hidden:
        x = np.tanh(x @ w)
    return np.sum(x @ last) + np.sum(first) * len(rest)


def spread_into_calls(pair, x):
    joined = np.concatenate([*pair, x])
    return np.sum(np.maximum(*pair) * joined[:2].sum()) + np.sum(joined ** 2)


def helper_returning_three(x):
    return x, x * 2.0, np.sin(x)


def spread_of_a_helpers_result(x, w):
    total = 0.0
    for a, b, c in zip(*helper_returning_three(x)):
        total = total + a * b * c * w
    return total.sum()


def sum_of_a_tuple_parameter(pair):
    return np.sum(sum(pair) ** 2)


def a_key_name_that_held_an_array_before(params, x):
    k = x * 2.0
    total = np.sum(k ** 2)  # k holds an array here, a key in the loop: the array's gradient still flows
    for k, v in params.items():
        total = total + np.sum(v) * len(k)
    return total


def sorted_numbers_written_out(x):
    order = sorted([2, 0, 1])
    return np.sum(x[order[0]] * 3.0 + x[order[2]])


def truncates_with_int_and_tests_with_bool(x):
    k = int(x[0] * 10.0)  # a number with no gradient, as np.trunc's
    on = bool(x[1])
    return k * x[0] + (x[1] if on else 0.0) + np.sum(x ** 2)


STRUCTURE_CASES = [
    (truncates_with_int_and_tests_with_bool, ("x",), lambda: (np.array([0.37, 0.5, 0.83]) + 0.001 * rng.random(3),)),
    (tuple_and_list_of_sequences, ("x", "w"), lambda: (rng.standard_normal(3), rng.standard_normal(3))),
    (dict_literal_and_dict_call, ("x", "w"), lambda: (rng.standard_normal((3, 3)), rng.standard_normal((3, 3)))),
    (dict_of_names_zipped_with_values, ("w", "layers"),
     lambda: (rng.standard_normal(4), [rng.standard_normal(3), rng.standard_normal(3)])),
    (dict_get_with_known_keys, ("params", "x"),
     lambda: ({"w": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)}, rng.standard_normal((4, 3)))),
    (dict_keys_values_items, ("params",), lambda: ({"b": rng.standard_normal(3), "a": rng.standard_normal((2, 2))},)),
    (starred_unpacking, ("params", "x"), lambda: ([rng.standard_normal((3, 3)) * 0.5 for _ in range(3)],
                                                   rng.standard_normal((2, 3)))),
    (spread_into_calls, ("pair", "x"), lambda: ((rng.standard_normal(2), rng.standard_normal(2)), rng.standard_normal(2))),
    (spread_of_a_helpers_result, ("x", "w"), lambda: (rng.standard_normal(3), rng.standard_normal(2))),
    (sum_of_a_tuple_parameter, ("pair",), lambda: ((rng.standard_normal(3), rng.standard_normal(3)),)),
    (sorted_numbers_written_out, ("x",), lambda: (rng.standard_normal(3),)),
    (a_key_name_that_held_an_array_before, ("params", "x"), lambda: ({"ab": rng.standard_normal(2)}, rng.standard_normal(2))),
]


@pytest.mark.parametrize("fn, wrt, make_args", STRUCTURE_CASES, ids=[c[0].__name__ for c in STRUCTURE_CASES])
def test_builtins_making_and_reading_structures_match_finite_differences(fn, wrt, make_args, device):
    args = make_args()
    assert unless_rows_refused(device, lambda: sourcegrad.check_grad(fn, *args, wrt=wrt, device=device))
    value, _ = sourcegrad.differentiate(fn, wrt=wrt).value_and_grad(*args)
    assert value == pytest.approx(fn(*args))


def test_a_dict_parameters_gradient_is_a_dict_of_every_key():
    params = {"w": rng.standard_normal((3, 2)), "b": rng.standard_normal(2), "unused": rng.standard_normal(4)}
    gradient = sourcegrad.differentiate(dict_get_with_known_keys).grad(params, rng.standard_normal((4, 3)))
    assert set(gradient) == set(params) and not gradient["unused"].any()


def sorts_values_with_a_gradient(x):
    return sorted([x[0] * 2.0, x[1]])[0]


def spreads_an_array(x):
    return np.maximum(*x)


def unpacks_an_array_with_a_star_before_the_end(x):
    first, *middle, last = x
    return first * 2.0


def dict_with_a_computed_key(x):
    key = "a"
    return {key: x}[key].sum()


def returns_a_dict(x):
    return {"a": x * 2.0}


def returns_a_built_tuple(x):
    return tuple([x, x * 2.0])


def zips_names_known_only_when_it_runs(x):
    names = [str(i) for i in range(3)]
    return dict(zip(names, x))["0"]


def picks_by_a_key_from_a_list_built_in_a_loop(x):
    rows = [x * i for i in range(3)]
    return np.sum(max(rows, key=np.sum))


REFUSED = [
    (picks_by_a_key_from_a_list_built_in_a_loop, "max(rows, key=np.sum)",
     "with key= or default= of a list whose length sourcegrad does not know here"),
    (sorts_values_with_a_gradient, "sorted([x[0] * 2.0, x[1]])", "sorted() of values that carry a gradient"),
    (zips_names_known_only_when_it_runs, "dict(zip(names, x))", "no gradient rule for `dict`"),
    (spreads_an_array, "*x", "`*` spreads a sequence whose length sourcegrad does not know here"),
    (unpacks_an_array_with_a_star_before_the_end, "x",
     "unpacking with `*` a sequence whose length sourcegrad does not know"),
    (dict_with_a_computed_key, "key", "a dict literal's keys must be strings or integers written out"),
    (returns_a_dict, '{"a": x * 2.0}', "the output is a dict, which has no gradient of its own"),
    (returns_a_built_tuple, "tuple([x, x * 2.0])", "the output is a tuple, which has no gradient of its own"),
]


@pytest.mark.parametrize("fn, at, message", REFUSED, ids=[c[0].__name__ for c in REFUSED])
def test_structures_sourcegrad_cannot_follow_are_refused_at_their_line(fn, at, message):
    with pytest.raises(SourcegradError) as info:
        sourcegrad.differentiate(fn).grad(np.array([0.3, 1.7, -0.4]))
    text = str(info.value)
    assert message in text and "test_python_builtins.py:" in text
    assert at in text.splitlines()[1]
