"""Python's builtins in differentiated code: `sum` of a list or tuple written out is the additions it makes
(`sum([a, b])` is `0 + a + b`), broadcasting included. Checked against float64 finite differences."""

import numpy as np
import pytest

import sourcegrad


def sum_of_a_list(x, y):
    return np.sum(sum([x, y * 2.0, np.sin(x)]) ** 2)


def sum_of_a_tuple_with_a_start(x):
    return sum((x, x * x), 1.5).sum()


def sum_in_a_loop(x, n):
    total = 0.0
    for i in range(n):
        total = total + np.sum(sum([x * i, x]))
    return total


CASES = [
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
