"""Lists the function builds: `xs.append(v)` on a list it made, list comprehensions and generator expressions
(made loops that build the list), and what reads such a list whole (`sum`, `np.stack`, numpy functions given
it). Every gradient is checked against float64 central finite differences; what cannot be followed (a list
another name holds, the caller's list) is refused at its line."""

import numpy as np
import pytest

import sourcegrad
from sourcegrad import SourcegradError

from device_support import unless_rows_refused

rng = np.random.default_rng(40)


def vector(n=3):
    return rng.standard_normal(n)


def matrix(m=2, n=3):
    return rng.standard_normal((m, n))


# ---- xs.append(v) on a list the function made ------------------------------------------------------------------

def appends_in_a_loop(x, w):
    outs = []
    h = w
    for i in range(len(x)):
        h = np.tanh(h * x[i])
        outs.append(h)  # each row of the stack is one step's h, weighed differently below
    return (np.stack(outs) * np.arange(1.0, len(x) + 1)[:, None]).sum()


def appends_reading_the_last_item(h, W, xs):
    # a hand-written RNN's forward pass: the list is read (hs[-1]) and appended to in each iteration
    hs = [h]
    for t in range(xs.shape[0]):
        hs.append(np.tanh(hs[-1] @ W + xs[t]))  # xs[t] broadcasts over h's rows
    return np.square(np.stack(hs)).sum() + len(hs)


def appends_in_branches(x, n):
    outs = []
    for i in range(n):
        if i % 2 == 0:
            outs.append(x * i)
        else:
            outs.append(np.sin(x))
    return (np.stack(outs) ** 2).sum()


def extends_with_a_display_and_a_tuple(x, w):
    outs = [x]
    outs.extend([w * 2.0, x * w])
    pair = (np.cos(w), x)
    outs.extend(pair)
    return (np.stack(outs) * np.arange(1.0, 6.0)[:, None]).sum()


def appends_to_a_copy_of_a_parameter(ws, x):
    ws = list(ws)  # a new list: appending to it leaves the caller's alone
    ws.append(x * 3.0)
    return sum(np.sum(w * w) for w in ws)


def writes_an_item_then_appends(ws, x):
    ws = list(ws)
    ws[0] = ws[0] * 2.0  # a new version of the function's own list: still its own to append to
    ws.append(ws[1] * x)
    return np.sum(np.concatenate(ws) ** 2)


def collect(h, w):
    outs = []
    for _ in range(2):
        h = np.tanh(h @ w)
        outs.append(h)
    return outs


def appends_inside_a_helper(h, w):
    outs = collect(h, w)  # the helper's own list, read by index afterwards
    return (outs[0] * outs[1]).sum()


def appends_then_adds_and_repeats(x):
    # a list built in a loop is still known to be a list: `+` and `*` join and repeat it
    outs = [x]
    for _ in range(2):
        outs.append(x * 2.0)
    more = outs * 2 + [np.sin(x)]
    return (np.stack(more) * np.arange(1.0, 8.0)[:, None]).sum()



def reads_the_list_the_loop_grows(x, w):
    outs = [x]
    total = 0.0
    for _ in range(3):
        total = total + np.sum(sum(outs) ** 2)  # every item so far, not only the one it held before the loop
        outs.append(np.tanh(outs[-1] * w))
    return total


APPEND_CASES = [
    (appends_in_a_loop, ("x", "w"), (vector(), vector())),
    (appends_reading_the_last_item, ("h", "W", "xs"), (matrix(2, 3), matrix(3, 3) * 0.5, matrix(4, 3))),
    (appends_in_branches, ("x",), (vector(), 4)),
    (extends_with_a_display_and_a_tuple, ("x", "w"), (vector(), vector())),
    (appends_to_a_copy_of_a_parameter, ("ws", "x"), ([vector(), vector()], vector())),
    (writes_an_item_then_appends, ("ws", "x"), ([vector(), vector()], vector())),
    (appends_inside_a_helper, ("h", "w"), (matrix(2, 3), matrix(3, 3) * 0.5)),
    (appends_then_adds_and_repeats, ("x",), (vector(),)),
    (reads_the_list_the_loop_grows, ("x", "w"), (vector(), vector())),
]


@pytest.mark.parametrize("fn, wrt, args", APPEND_CASES, ids=[c[0].__name__ for c in APPEND_CASES])
def test_appending_to_a_list_the_function_made_matches_finite_differences(fn, wrt, args, device):
    assert sourcegrad.check_grad(fn, *args, wrt=wrt, device=device)


def test_appending_keeps_the_value_and_leaves_the_callers_list_alone():
    ws = [vector(), vector()]
    value, _ = sourcegrad.differentiate(appends_to_a_copy_of_a_parameter, wrt="ws").value_and_grad(ws, vector())
    assert len(ws) == 2 and np.isfinite(value)
    args = (matrix(2, 3), matrix(3, 3) * 0.5, matrix(4, 3))
    value, _ = sourcegrad.differentiate(appends_reading_the_last_item).value_and_grad(*args)
    assert value == pytest.approx(appends_reading_the_last_item(*args))


def appends_to_the_callers_list(ws, x):
    ws.append(x)
    return np.stack(ws).sum()


def appends_to_a_list_another_name_holds(x):
    outs = [x]
    kept = outs
    outs.append(x * 2.0)
    return np.stack(kept).sum()


def appends_after_another_name_took_the_list(x):
    outs = []
    for _ in range(2):
        outs.append(np.sin(x))
        last = outs  # from the second iteration on, the append changes `last` too
    return np.stack(last).sum()


def extends_with_a_list_of_unknown_length(x, n):
    outs = [x]
    more = []
    for _ in range(n):
        more.append(x * 2.0)
    other = more
    outs.extend(other)
    return np.stack(outs).sum()


def changes_an_array_a_list_holds(x):
    h = x * 1.0
    outs = [x]
    outs = outs + [h]
    h *= 2.0  # Python changes outs[1] too: the rebinding the gradient would use does not
    return np.stack(outs).sum() + h.sum()


REFUSED = [
    (changes_an_array_a_list_holds, "h *= 2.0", "`h *= ...` would change an array that another name may also hold"),
    (appends_to_the_callers_list, "ws.append(x)", "`ws.append(...)` would change the caller's list in place"),
    (appends_to_a_list_another_name_holds, "outs.append(x * 2.0)", "would change a list that another name may also hold"),
    (appends_after_another_name_took_the_list, "outs.append(np.sin(x))",
     "in a loop would change a list that another name holds by the next iteration"),
    (extends_with_a_list_of_unknown_length, "other", "`outs.extend(...)` of a sequence whose length"),
]


@pytest.mark.parametrize("fn, at, message", REFUSED, ids=[c[0].__name__ for c in REFUSED])
def test_appending_to_a_list_others_may_hold_is_refused_at_its_line(fn, at, message):
    arguments = {appends_to_the_callers_list: ([vector()], vector()),
                 extends_with_a_list_of_unknown_length: (vector(), 2)}.get(fn, (vector(),))
    with pytest.raises(SourcegradError) as info:
        sourcegrad.differentiate(fn).grad(*arguments)
    text = str(info.value)
    assert message in text and "test_list_building.py:" in text
    assert at in text.splitlines()[1]


# ---- list comprehensions and generator expressions -----------------------------------------------------------

def comprehension_over_rows(x, w):
    return np.stack([np.sin(row) * w for row in x]).sum()  # w broadcasts against each row


def comprehension_over_a_range_with_a_condition(x):
    return sum([x[i] * i for i in range(len(x)) if i != 1])


def comprehension_with_a_data_dependent_condition(x):
    return sum([np.sin(a) if a > 0 else a * a for a in x if a < 1.0])


def comprehension_unpacking_pairs(params, x):
    flat = np.concatenate([np.ravel(W) for W, b in params] + [np.ravel(b) for W, b in params])
    return np.dot(flat, flat) + sum(np.sum(x @ W + b) for W, b in params)


def nested_comprehensions(x, w):
    rows = [np.stack([a * b for b in w]) for a in x]
    return np.sum(rows)


def two_generators(x, w):
    return sum([a * b for a in x for b in w if b > -1.0])


def comprehension_in_a_loop(x, n):
    total = 0.0
    for k in range(n):
        total = total + np.sum([np.tanh(v * k) for v in x])
    return total


v = 10.0  # a global: the comprehension's own v must not hide it


def comprehension_variable_stays_inside(x):
    squares = [v * v for v in x]
    return np.stack(squares).sum() * v


def comprehension_in_a_helper(x):
    return np.stack([np.exp(a) for a in x])


def calls_a_helper_with_a_comprehension(x, w):
    return np.sum(comprehension_in_a_helper(x) * w)


def generator_expressions_read_whole(x):
    return sum(np.sin(a) for a in x).sum() + np.sum(list(a * a for a in x)) + np.sum(list([np.cos(a) for a in x]))


def tuples_of_generators_and_comprehensions(x, w):
    rows = tuple(np.tanh(a * w) for a in x)
    squares = tuple([a * a for a in x])
    return np.sum(rows[0] * rows[-1]) + sum(np.sum(s) for s in squares) + np.sum(tuple(np.cos(r) for r in rows)[1])


COMPREHENSION_CASES = [
    (comprehension_over_rows, ("x", "w"), (matrix(3, 2), vector(2))),
    (comprehension_over_a_range_with_a_condition, ("x",), (vector(4),)),
    (comprehension_with_a_data_dependent_condition, ("x",), (np.array([0.3, -0.4, 1.5, 0.8]),)),
    (comprehension_unpacking_pairs, ("params", "x"), ([(matrix(3, 2), vector(2)), (matrix(3, 2), vector(2))], vector())),
    (nested_comprehensions, ("x", "w"), (vector(), vector(2))),
    (two_generators, ("x", "w"), (vector(), np.array([0.5, -2.0, 1.0]))),
    (comprehension_in_a_loop, ("x",), (vector(), 3)),
    (comprehension_variable_stays_inside, ("x",), (vector(),)),
    (calls_a_helper_with_a_comprehension, ("x", "w"), (vector(), vector())),
    (generator_expressions_read_whole, ("x",), (matrix(2, 3),)),
    (tuples_of_generators_and_comprehensions, ("x", "w"), (matrix(3, 2), vector(2))),
]


@pytest.mark.parametrize("fn, wrt, args", COMPREHENSION_CASES, ids=[c[0].__name__ for c in COMPREHENSION_CASES])
def test_comprehensions_match_finite_differences(fn, wrt, args, device):
    assert unless_rows_refused(device, lambda: sourcegrad.check_grad(fn, *args, wrt=wrt, device=device))


def test_a_comprehensions_variable_does_not_leak_into_the_function():
    x = vector()
    value, gradient = sourcegrad.differentiate(comprehension_variable_stays_inside).value_and_grad(x)
    assert value == pytest.approx(comprehension_variable_stays_inside(x))  # the trailing `* v` reads the global
    np.testing.assert_allclose(gradient, 20.0 * x)


def test_a_comprehension_is_written_as_the_loop_that_builds_the_list():
    f = sourcegrad.differentiate(comprehension_over_rows, wrt="x")
    f.grad(matrix(3, 2), vector(2))
    code = f.backward_source
    assert "for row in x:" in code and "[]" in code


def sums_a_generator_in_a_while_condition(x):
    while sum(a for a in x) < 10.0:
        x = x * 2.0
    return x.sum()


def generator_kept_in_a_name(x):
    items = (a * 2.0 for a in x)
    return sum(items)


def tuple_of_an_arrays_rows(x):
    rows = tuple(x)
    return np.sum(rows[0] * rows[1])


@pytest.mark.parametrize("fn, message", [
    (sums_a_generator_in_a_while_condition, "a comprehension in a `while` condition is not supported"),
    (tuple_of_an_arrays_rows, "tuple\\(\\) of a value that is not surely a list"),
    (generator_kept_in_a_name, "a generator expression is supported only as the one argument of sum"),
], ids=["in_a_while_condition", "kept_in_a_name", "tuple_of_rows"])
def test_comprehensions_where_sourcegrad_cannot_follow_them_are_refused(fn, message):
    with pytest.raises(SourcegradError, match=message) as info:
        sourcegrad.differentiate(fn).grad(np.array([0.5, 1.0]))
    assert "test_list_building.py:" in str(info.value)


# ---- numpy functions and sum() reading a list whole ------------------------------------------------------------

def numpy_sum_of_a_list_written_out(a):
    b = [1, a * a, 2]
    return np.sum(b)


def numpy_functions_of_a_built_list(x, w):
    outs = [x * w, np.sin(x)]
    return np.sum(np.maximum(outs, 0.1) * [[1.0], [2.0]]) + np.mean(outs)


def builtin_sum_of_a_built_list(x):
    outs = []
    for i in range(3):
        outs.append(x * i + np.cos(x))
    return sum(outs, np.ones(3)).sum()  # with a start, broadcast against each item


READ_WHOLE_CASES = [
    (numpy_sum_of_a_list_written_out, ("a",), (0.7,)),
    (numpy_functions_of_a_built_list, ("x", "w"), (vector(), vector())),
    (builtin_sum_of_a_built_list, ("x",), (vector(),)),
]


@pytest.mark.parametrize("fn, wrt, args", READ_WHOLE_CASES, ids=[c[0].__name__ for c in READ_WHOLE_CASES])
def test_a_list_read_whole_matches_finite_differences(fn, wrt, args, device):
    assert sourcegrad.check_grad(fn, *args, wrt=wrt, device=device)
