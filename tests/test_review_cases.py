"""Cases found by review: each once gave a wrong gradient or an unhelpful crash.

Every function is checked against float64 central finite differences, or must be refused.
"""

import numpy as np
import pytest

import sourcegrad
from sourcegrad import SourcegradError

rng = np.random.default_rng(3)


def clip_keywords_broadcast(x, lo, hi):
    c = np.clip(x, a_min=lo, a_max=hi)
    r = c * x
    return r.sum()


def list_literal_operand(x, v):
    t = np.maximum(x, [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    return (t * v).sum()


def vector_times_batch(x, v, w):
    s = (x @ v).sum(axis=-1)
    return (s @ w).sum()


def reshape_positional_order(x, w):
    v = np.reshape(x, -1, "C")
    return (v @ w).sum()


def sum_positional_keepdims(x, w):
    s = np.sum(x, 1, None, None, True)
    return (s * w).sum()


def full_reduction_with_axis(x):
    return x.sum(axis=0)


def mean_last_axis(x):
    return np.mean(x, axis=-1)


def vector_dot(x, y):
    return x @ y


def dot_scaled(x, y):
    return np.dot(x, y) * 2.0


def transpose_unknown_rank(w, axis):
    s = w.sum(axis=axis)
    return (s.T * s.T).sum()


def tuple_swap(x, y):
    x, y = y * 2, x
    x, y = y, x
    return (x * y * y).sum()


CASES = [
    (clip_keywords_broadcast, lambda: (rng.uniform(-2, 2, 3), rng.uniform(-3, -2.5, (2, 3)), np.ones((2, 3))), ("x", "lo")),
    (list_literal_operand, lambda: (2.5, rng.standard_normal(3)), ("v",)),
    (vector_times_batch, lambda: (rng.standard_normal((4, 2, 3)), rng.standard_normal(3), rng.standard_normal((4, 4))), ("x", "v", "w")),
    (reshape_positional_order, lambda: (rng.standard_normal((2, 3)), rng.standard_normal((6, 4))), ("x", "w")),
    (sum_positional_keepdims, lambda: (rng.standard_normal((2, 3)), rng.standard_normal((2, 1))), ("x", "w")),
    (full_reduction_with_axis, lambda: (rng.standard_normal(3),), ("x",)),
    (mean_last_axis, lambda: (rng.standard_normal(4),), ("x",)),
    (vector_dot, lambda: (rng.standard_normal(3), rng.standard_normal(3)), ("x", "y")),
    (dot_scaled, lambda: (rng.standard_normal(3), rng.standard_normal(3)), ("x", "y")),
    (transpose_unknown_rank, lambda: (rng.standard_normal((2, 3)), 0), ("w",)),
    (tuple_swap, lambda: (rng.standard_normal(3), rng.standard_normal(3)), ("x", "y")),
]


@pytest.mark.parametrize("fn, make_args, wrt", CASES, ids=[c[0].__name__ for c in CASES])
def test_gradient_matches_finite_differences(fn, make_args, wrt):
    assert sourcegrad.check_grad(fn, *make_args(), wrt=wrt).max_error < 1e-6


def test_mean_of_an_integer_array_has_a_fractional_gradient():
    def mean_int(x):
        return x.mean()

    np.testing.assert_allclose(sourcegrad.differentiate(mean_int).grad(np.array([1, 2, 3, 4])), [0.25] * 4)


def aliased_in_place(x):
    h = x * 2
    g = h
    h += 1
    return (g * h).sum()


def in_place_on_parameter(x):
    x += 1.0
    return (x * x).sum()


def modulo(x):
    return (x % 1.0).sum()


def or_operator(x):
    z = x or 1.0
    return z * z


def mutates_in_an_expression_statement(x):
    h = x * 1.0
    np.multiply(h, 2.0, out=h)
    return (h * h).sum()


REFUSED = [
    (aliased_in_place, "would change an array that another name may also hold"),
    (in_place_on_parameter, "would change the caller's"),
    (modulo, "no gradient rule for the `%` operator"),
    (or_operator, "no gradient rule for `and`/`or`"),
    (mutates_in_an_expression_statement, "may change an array that carries a gradient"),
]


@pytest.mark.parametrize("fn, message", REFUSED, ids=[c[0].__name__ for c in REFUSED])
def test_refused_rather_than_wrong(fn, message):
    with pytest.raises(SourcegradError, match=message):
        sourcegrad.differentiate(fn).grad(np.array([0.3, 1.7, -0.4]))


def test_print_of_a_value_with_a_gradient_is_allowed(capsys):
    def prints(x):
        h = x * 3.0
        print("h is", h.sum())
        return (h * h).sum()

    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(sourcegrad.differentiate(prints).grad(x), 18 * x)
    assert "h is" in capsys.readouterr().out
