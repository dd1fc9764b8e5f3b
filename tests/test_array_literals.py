"""Arrays written as literals: `np.array` of nested lists of values that carry gradients, `np.r_[...]` and
`np.c_[...]`, all written by the front end with functions that have gradient rules (np.array per row;
np.concatenate of np.atleast_1d and np.arange for np.r_, of np.column_stack of each item along the last axis for
np.c_). Checked against float64 finite differences, on numpy and cupy, and the values against numpy's."""

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


COLUMNS = np.arange(6.0).reshape(3, 2)


def c_of_vectors_a_matrix_and_a_range(x):
    # 1-D items and the range become columns beside the matrix's two
    b = np.c_[x, COLUMNS, 0:3, x * x]
    return np.sum(b ** 2 * np.arange(b.size).reshape(b.shape))


def c_of_matrices(x):
    return np.sum(np.c_[x, x * 3.0] ** 3)


def c_of_three_dimensional_arrays(x):
    # joined along the last axis (np.column_stack alone would join them along the second)
    b = np.c_[x, x * 2.0]
    return np.sum(b * np.arange(b.size).reshape(b.shape))


def c_of_numbers(x, y):
    # numbers and 0-d arrays become 1 x 1 matrices: one row
    b = np.c_[x, 2.5, y * x]
    return np.sum(b * np.array([[1.0, 3.0, -2.0]]))


def c_of_one_vector(x):
    return np.sum(np.c_[x] ** 2 * np.arange(x.size).reshape(-1, 1))


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
    (c_of_vectors_a_matrix_and_a_range, ("x",), (np.array([0.3, -1.2, 0.5]),)),
    (c_of_matrices, ("x",), (np.full((2, 3), 0.7),)),
    (c_of_three_dimensional_arrays, ("x",), (np.linspace(-1.0, 1.0, 12).reshape(2, 2, 3),)),
    (c_of_numbers, ("x", "y"), (0.7, np.array(1.1))),
    (c_of_one_vector, ("x",), (np.array([0.7, 0.2]),)),
]


@pytest.mark.parametrize("fn, wrt, args", CASES, ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(CASES)])
def test_array_literal_gradient_matches_finite_differences(fn, wrt, args, device):
    report = sourcegrad.check_grad(fn, *args, wrt=wrt, device=device)  # the device fixture: "cpu", or "cuda" too
    assert report, report


@pytest.mark.parametrize("fn, wrt, args", CASES[:1] + CASES[5:6] + CASES[9:], ids=lambda c: getattr(c, "__name__", ""))
def test_array_literal_value_is_numpys(fn, wrt, args):
    value, _ = sourcegrad.differentiate(fn, wrt=wrt).value_and_grad(*args)
    np.testing.assert_allclose(value, fn(*args), rtol=1e-12)


def c_of_a_vector_a_range_and_a_matrix(x, y):
    return np.c_[x, 0:2, y]


def c_of_two_three_dimensional_arrays(x, y):
    return np.c_[x, y]


def c_of_numbers_and_a_0d_array(x, y):
    return np.c_[x, y, 2.5]


@pytest.mark.parametrize("join, x, y", [
    (c_of_a_vector_a_range_and_a_matrix, np.array([0.5, 1.5]), np.ones((2, 2))),
    (c_of_two_three_dimensional_arrays, np.ones((2, 1, 3)), np.ones((2, 1, 2))),
    (c_of_numbers_and_a_0d_array, 0.5, np.array(2.0)),
], ids=lambda c: getattr(c, "__name__", ""))
def test_c_makes_numpys_array(join, x, y):
    """The rewritten np.c_ gives numpy's array, shape included, whatever the items' ranks."""
    expected = join(x, y)
    value, gradient = sourcegrad.differentiate(join, wrt="x").value_and_grad(x, y, grad_output=np.ones(expected.shape))
    assert value.shape == expected.shape
    np.testing.assert_array_equal(value, expected)
    assert np.shape(gradient) == np.shape(x)
