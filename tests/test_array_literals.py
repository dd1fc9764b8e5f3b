"""Arrays written as literals: `np.array` of nested lists of values that carry gradients, and `np.r_[...]`,
both written by the front end with functions that have gradient rules (np.array per row; np.concatenate of
np.atleast_1d and np.arange). Checked against float64 finite differences, on numpy and cupy."""

import numpy as np
import pytest

import sourcegrad


OFFSETS = np.array([1.0, 2.0])


def nested_rows(x):
    return np.sum(np.array([[x, x * 1.0, x + 2.5], [x ** 2, x, x / 2.0]]) ** 2)


def nested_rows_of_two_names(x, y):
    a = np.array([[x, 0.5, y], [y, x, 1.0]])
    return np.sum(a @ a.T)


def three_levels_deep(x, y):
    return np.max(np.array([[[x, y]], [[y * 2.0, x]]]))


def rows_in_a_loop(x, n):
    total = 0.0
    for i in range(n):
        total = total + np.sum(np.array([[x * i, 1.0], [2.0, x]]) ** 2)
    return total


def r_of_arrays_numbers_and_a_range(x):
    b = np.r_[x, OFFSETS, 1:4, 2.5, x * 2.0]
    return np.sum(b ** 2 * np.arange(b.size))


def r_of_matrices(x):
    return np.sum(np.r_[x, x * 3.0] ** 3)


def r_of_one_value(x):
    return np.sum(np.r_[x] ** 2)


CASES = [
    (nested_rows, ("x",), (1.3,)),
    (nested_rows, ("x",), (np.array([0.3, 1.2]),)),  # rows of arrays: a 3-D result
    (nested_rows_of_two_names, ("x", "y"), (0.7, 1.1)),
    (three_levels_deep, ("x", "y"), (0.7, 1.1)),
    (rows_in_a_loop, ("x",), (0.3, 3)),
    (r_of_arrays_numbers_and_a_range, ("x",), (np.array([0.3, -1.2, 0.5]),)),
    (r_of_matrices, ("x",), (np.full((2, 3), 0.7),)),
    (r_of_one_value, ("x",), (np.array(0.7),)),
    (r_of_one_value, ("x",), (np.array([0.7, 0.2]),)),
]


@pytest.mark.parametrize("fn, wrt, args", CASES, ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(CASES)])
def test_array_literal_gradient_matches_finite_differences(fn, wrt, args, device):
    report = sourcegrad.check_grad(fn, *args, wrt=wrt, device=device)  # the device fixture: "cpu", or "cuda" too
    assert report, report


@pytest.mark.parametrize("fn, wrt, args", CASES[:1] + CASES[5:6], ids=["nested_rows", "r_"])
def test_array_literal_value_is_numpys(fn, wrt, args):
    value, _ = sourcegrad.differentiate(fn, wrt=wrt).value_and_grad(*args)
    np.testing.assert_allclose(value, fn(*args), rtol=1e-12)
