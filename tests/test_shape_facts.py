"""Programs where a static shape fact (a rank, or two values of one shape) could be wrong at run time.

The simplifier drops an `unbroadcast` where the facts say shapes already agree, so a wrong fact is a wrong
gradient with no error. Each program's gradients are checked against central finite differences in float64,
and each gradient's shape against its argument's.
"""

import numpy as np
import pytest

import sourcegrad


class Box:
    def __init__(self, a):
        self.a = a

    def store(self, u):
        self.a = u


def reversed_in_place(s, u, v):
    ls = [s, u]
    ls.reverse()  # ls[0] is now u, a vector: no longer the 0-d s the list was built with
    b = ls[0] * v
    return (b * b).sum()


def popped(s, u, v):
    ls = [s, u]
    first = ls.pop(0)
    b = ls[0] * v * first
    return (b * b).sum()


def set_by_a_method(box, u, v):
    box.store(u)  # box.a was a 0-d array when the call passed box
    b = box.a * v
    return (b * b).sum()


def set_by_setattr(box, u, v):
    setattr(box, "a", u)
    b = box.a * v
    return (b * b).sum()


def indexed_by_a_slice_object(ws, v):
    s = slice(0, 2)  # picks a list of two items, not one item
    c = ws[s] * v
    return (c * c).sum()


def grows_each_iteration(x, w):
    total = 0.0
    for i in range(2):
        a = x[:i + 1] * w
        if i == 0:
            c = a * 2  # kept from the first iteration, while a grows
        e = c * a
        total = total + e.sum()
    return total


def same_iteration(x, w):
    total = 0.0
    for i in range(3):
        a = x[:i + 1] * w
        e = np.maximum(a, 0.0)  # bound after a on every iteration: e has a's shape wherever both are read
        total = total + (e * a).sum()
    return total


def sliced_then_multiplied(m, v):
    corner = m[1:, :2]  # a slice keeps its axes, an integer index takes one: np.dot's rule depends on the ranks
    row = m[0, ::2]
    return np.sum(np.dot(corner, v[:2]) ** 2) + np.sum(np.outer(row, v) * m[1:2, :])


def stacked_joined_and_listed(x, w):
    s = np.stack([x, x * 2.0])
    joined = np.concatenate([s, s * s], axis=1)
    listed = np.array([x, w, x * w])
    return np.sum(np.dot(joined, np.ones(6)) ** 2) + np.sum(np.dot(listed.T, w) ** 2) + np.sum(np.asarray(s) * s)


def numbers_read_from_a_listed_vector_then_written(x, w):
    v = np.array([x[0], x[1] * w, w])
    first = v[0]
    v[1] = first * v[2]
    return np.sum(v * v) + first


def _hamilton_product(q, r):
    w1, x1, y1, z1 = q  # the rows of a vector: numbers
    w2, x2, y2, z2 = r
    return np.array([w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2, w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
                     w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2, w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2])


def rotates_by_a_unit_quaternion(q, v):
    q = q / np.linalg.norm(q)  # a vector over a number: a vector
    pure = np.concatenate([[0.0], v])
    return np.sum(_hamilton_product(_hamilton_product(q, pure), q * np.array([1.0, -1.0, -1.0, -1.0]))[1:] ** 2)


def sorts_a_copy_by_swaps(x, w):
    a = x.copy()  # a copy, a reduction's maximum and a flattened copy keep what is known of ranks
    n = len(a)
    for i in range(n):
        for j in range(n - 1 - i):
            if a[j] > a[j + 1]:
                a[j], a[j + 1] = a[j + 1], a[j]
    flat = np.outer(a, w).flatten()
    top = np.max(flat)
    flat[0] = top * 2.0
    return np.sum(flat * np.arange(flat.size))


def read_from_the_end(m, v):
    row = m[-1]  # a negative index takes an axis away as a non-negative one does: a row, then a number
    corner = m[-1, -2]
    u = np.tanh(m[:, -1]) * 1.0
    last = u[-1]
    u[0], u[-1] = u[-1], u[0]  # a write after reading a number of u: no view of u was read
    return np.sum(np.dot(row, v[[0, 1, 2, 0]]) ** 2) + corner * last + np.sum(np.outer(u, v) * m[:, :3])


def _vector():
    return np.array([0.3, -1.2, 2.0])


CASES = [
    (reversed_in_place, lambda: (np.array(1.5), _vector(), np.array(0.7)), ("v",)),
    (reversed_in_place, lambda: (np.array(1.5), _vector(), np.array([0.7])), ("v",)),
    (popped, lambda: (np.array(1.5), _vector(), np.array(0.7)), ("v",)),
    (set_by_a_method, lambda: (Box(np.array(1.5)), _vector(), np.array(0.7)), ("v",)),
    (set_by_setattr, lambda: (Box(np.array(1.5)), _vector(), np.array(0.7)), ("v",)),
    (indexed_by_a_slice_object, lambda: ([np.array(1.5), np.array(-0.5), np.array(2.0)], np.array([0.7])), ("v",)),
    (indexed_by_a_slice_object, lambda: ([np.array(1.5), np.array(-0.5), np.array(2.0)], np.array(0.7)), ("v",)),
    (grows_each_iteration, lambda: (np.array([0.4, -1.1, 0.9, 2.0]), np.array(0.8)), ("w",)),
    (same_iteration, lambda: (np.array([0.4, -1.1, 0.9, 2.0]), np.array(0.8)), ("x", "w")),
    (sliced_then_multiplied, lambda: (np.arange(12.0).reshape(3, 4) / 7 - 0.5, _vector()[[0, 1, 2, 0]]), ("m", "v")),
    (stacked_joined_and_listed, lambda: (_vector(), np.array([0.5, 1.5, -0.25])), ("x", "w")),
    (numbers_read_from_a_listed_vector_then_written, lambda: (_vector(), np.array(0.8)), ("x", "w")),
    (rotates_by_a_unit_quaternion, lambda: (np.array([0.9, 0.2, -0.3, 0.4]), _vector()), ("q", "v")),
    (read_from_the_end, lambda: (np.arange(12.0).reshape(3, 4) / 7 - 0.5, _vector()), ("m", "v")),
    (sorts_a_copy_by_swaps, lambda: (np.array([0.4, -1.1, 0.9, 2.0]), np.array([0.5, -0.7])), ("x", "w")),
]


def _finite_difference(fn, args, position, eps=1e-6):
    value = np.array(args[position], dtype=np.float64)
    gradient = np.zeros_like(value)
    for index in np.ndindex(value.shape):
        shifted = []
        for step in (eps, -eps):
            moved = value.copy()
            moved[index] += step
            arguments = list(args)
            arguments[position] = moved
            shifted.append(fn(*arguments))
        gradient[index] = (shifted[0] - shifted[1]) / (2 * eps)
    return gradient


@pytest.mark.parametrize("fn, make_args, wrt", CASES,
                         ids=[f"{fn.__name__}-{i}" for i, (fn, _, _) in enumerate(CASES)])
def test_gradient_has_its_arguments_shape_and_the_finite_difference_value(fn, make_args, wrt):
    f = sourcegrad.differentiate(fn, wrt=wrt)
    gradients = f.grad(*make_args())
    gradients = gradients if isinstance(gradients, tuple) else (gradients,)
    parameters = fn.__code__.co_varnames[:fn.__code__.co_argcount]
    for name, gradient in zip(wrt, gradients):
        position = parameters.index(name)
        argument = make_args()[position]
        assert np.shape(gradient) == np.shape(argument), name
        np.testing.assert_allclose(gradient, _finite_difference(fn, make_args(), position), rtol=1e-6, atol=1e-8,
                                   err_msg=name)


def split_parts_joined_with_themselves(x, w):
    parts = np.split(x, 2)  # a list: `parts + parts` joins it to itself, it adds no arrays
    return (np.concatenate(parts + parts) * w).sum()


def split_parts_repeated(x, w):
    parts = np.split(x, 2)
    return (np.concatenate(parts * 2) * w).sum()


@pytest.mark.parametrize("fn", [split_parts_joined_with_themselves, split_parts_repeated])
def test_a_list_from_np_split_is_never_taken_for_an_array(fn):
    """`parts + parts` of np.split's list has no gradient rule for lists; taken for an array of parts' shape,
    its gradient lost its unbroadcast and came back twice the argument's length. Now it is refused, saying why."""
    x, w = np.array([0.4, -1.1, 0.9, 2.0]), np.linspace(-1.0, 1.0, 8)
    with pytest.raises(sourcegrad.SourcegradError, match="list of arrays"):
        sourcegrad.differentiate(fn, wrt="x").grad(x, w)


def test_a_negative_constant_index_takes_an_axis_away():
    text = sourcegrad.explain(read_from_the_end, np.ones((3, 4)), _vector(), stage="activity", wrt="m")
    ranks = dict(line.split(": rank ") for line in text.splitlines() if ": rank " in line)
    assert ranks["row"].startswith("1,") and ranks["corner"].startswith("0,") and ranks["last"].startswith("0,")
