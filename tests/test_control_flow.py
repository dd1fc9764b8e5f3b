"""Loops and branches: a catalogue of small functions, each checked against finite differences.

Every function below is defined at module level (sourcegrad reads source with
inspect), returns a scalar, and is registered with `case(...)` together with
its inputs and the arguments to differentiate. `test_gradient` then compares
sourcegrad's gradient with float64 central finite differences
(`sourcegrad.check_grad`) and checks that computing the gradient did not change
the inputs; `test_value` checks the value value_and_grad returns against the
original function.

Inputs come from one seeded Generator. Where a function has a kink (maximum,
abs) or a data-dependent decision (an `if` on a value, a `while` condition),
the inputs are chosen so that a 1e-6 perturbation cannot change the decision:
test_decisions_have_margins repeats the check with a 1e-4 step, and
test_decisions_are_stable measures the margins of a few cases directly.

After the catalogue: one compiled function run with many trip counts, float32,
which functions get a tape, and the shape of the generated code.
"""

import ast
import inspect
import textwrap

import numpy as np
import pytest

import sourcegrad
from sourcegrad.api import compiled_files
from sourcegrad.checking import numeric_gradient

from device_support import ROWS_REFUSED, assert_on, host, on, unless_rows_refused

rng = np.random.default_rng(20240531)
TOLERANCE = 1e-6

CASES = []  # for test_gradient
VALUE_CASES = []  # the same cases, for test_value (the value value_and_grad returns)

# A case that hits a known sourcegrad bug is marked xfail(strict=True) with it (none open now). Bugs this
# catalogue found, now fixed and still covered here: a returned name restored by the backward pass
# (scalar_recurrence), accumulators started with np.zeros_like / np.ones / np.zeros (accumulate_array), a
# `continue` alone in its branch (continue_on_index), `+=` on np.zeros_like's array (augmented_on_zeros),
# `a, b = b, f(a, b)` in a loop (fibonacci_like, swap_in_loop), a loop target rebound in the body
# (rebind_loop_target, rebind_range_counter), enumerate over a tuple (enumerate_tuple_of_arrays).


def case(fn, wrt, *args, id=None, xfail=None, value_xfail=None):
    """Register fn(*args) to be checked with respect to the arguments named in wrt.

    xfail: a known sourcegrad bug that breaks the gradient (test_gradient);
    value_xfail: a known bug that breaks the value value_and_grad returns (test_value).
    """
    marks = [pytest.mark.xfail(strict=True, reason=xfail)] if xfail else []
    value_marks = [pytest.mark.xfail(strict=True, reason=value_xfail)] if value_xfail else []
    CASES.append(pytest.param(fn, tuple(wrt), args, id=id or fn.__name__, marks=marks))
    VALUE_CASES.append(pytest.param(fn, tuple(wrt), args, id=id or fn.__name__, marks=value_marks))


def randn(*shape, scale=1.0):
    return rng.standard_normal(shape) * scale


def uniform(low, high, *shape):
    return rng.uniform(low, high, shape)


# ==== loop-carried state ===========================================================================

def rnn(W, h0, xs):
    # The classic: h depends on the previous h, xs[t] is data indexed by the counter.
    h = h0
    for t in range(len(xs)):
        h = np.tanh(h @ W + xs[t])
    return h.sum()


case(rnn, ("W", "h0"), randn(3, 3, scale=0.5), randn(3), randn(4, 3))


def rnn_with_loss(W, U, V, h0, xs, ys):
    # An RNN over the rows of a wrt array zipped with data, with a loss summed over the steps.
    h = h0
    loss = 0.0
    for x, y in zip(xs, ys):
        h = np.tanh(h @ W + x @ U)
        loss = loss + np.sum(np.square(h @ V - y))
    return loss


case(rnn_with_loss, ("W", "U", "V", "h0", "xs"),
     randn(3, 3, scale=0.5), randn(2, 3), randn(3, 2), randn(3), randn(4, 2), randn(4, 2))


def scalar_recurrence(x, n):
    # A Python float as the wrt argument, a loop counter given as an int parameter.
    for i in range(n):
        x = np.sin(x) + 0.5 * x
    return x


case(scalar_recurrence, ("x",), 0.7, 5)


def fibonacci_like(w, n):
    # Simultaneous assignment: both new values must read the old ones.
    a = w
    b = w * 0.5
    for i in range(n):
        a, b = b, a + b * w
    return np.sum(a + 2.0 * b)


case(fibonacci_like, ("w",), uniform(0.2, 0.6, 3), 4)


def swap_in_loop(a, b, n):
    # The plain swap-and-combine; both names carry gradients.
    for i in range(n):
        a, b = b, a * b
    return np.sum(b)


case(swap_in_loop, ("a", "b"), uniform(0.5, 1.5, 3), uniform(0.5, 1.5, 3), 3)


def swap_with_temporary(w, n):
    # fibonacci_like written without tuple assignment: the same recurrence through a temporary.
    a = w
    b = w * 0.5
    for i in range(n):
        t = b
        b = a + b * w
        a = t
    return np.sum(a + 2.0 * b)


case(swap_with_temporary, ("w",), uniform(0.2, 0.6, 3), 4)


def matrix_power(A, n):
    # P @ A: A is used as the right operand in every iteration and as the initial value.
    P = A
    for i in range(n - 1):
        P = P @ A
    return np.sum(P)


case(matrix_power, ("A",), randn(3, 3, scale=0.6), 4)


def previous_state_alias(W, h0, n):
    # prev holds the old h while h is rebound: both are overwritten every iteration, and prev is read after.
    h = h0
    s = 0.0
    for t in range(n):
        prev = h
        h = np.tanh(h @ W)
        s = s + np.sum(prev * h)
    return s + np.sum(prev)


case(previous_state_alias, ("W", "h0"), randn(3, 3, scale=0.5), randn(3), 3)


def reversed_data_index(W, h0, xs):
    # The data row is picked by an expression of the counter (xs[T - 1 - t]).
    T = len(xs)
    h = h0
    for t in range(T):
        h = np.tanh(h @ W + xs[T - 1 - t])
    return np.sum(h)


case(reversed_data_index, ("W", "h0"), randn(3, 3, scale=0.5), randn(3), randn(4, 3))


# ==== accumulation ==================================================================================

def accumulate_scalar(w, n):
    total = 0.0
    for i in range(n):
        total = total + np.sum(np.sin(w * (i + 1)))
    return total


case(accumulate_scalar, ("w",), randn(4), 3)


def accumulate_array(w, v):
    acc = np.zeros_like(w)
    for k in range(1, 4):
        acc = acc + np.cos(w * k) * v
    return np.sum(acc * acc)


case(accumulate_array, ("w", "v"), randn(2, 3), randn(3))


def augmented_on_reductions(w, n):
    # a reduction, a matrix product and a norm each make an array of their own: `+=` on them is allowed
    total = w.sum()
    column = np.max(w, axis=0)
    rows = w.sum(axis=1, keepdims=True)
    gram = w @ w.T
    norm = np.linalg.norm(w)
    for i in range(n):
        total += w.mean()
        column += np.tanh(w[i])
        rows *= w[:, :1]
        gram -= 0.1 * np.eye(3)
        norm += 1.0
    return total + (column * column).sum() + (rows * rows).sum() + (gram * gram).sum() + norm


case(augmented_on_reductions, ("w",), randn(3, 4), 2)


def accumulate_array_from_expression(w, v):
    # accumulate_array with the accumulator started from an expression of w, which carries a gradient itself.
    acc = w * 0.0
    for k in range(1, 4):
        acc = acc + np.cos(w * k) * v
    return np.sum(acc * acc)


case(accumulate_array_from_expression, ("w", "v"), randn(2, 3), randn(3))


def augmented_accumulation(w, X):
    # `+=` on an array the function made, whose old value the backward pass needs (acc * acc):
    # the tape must not hold a reference that the next `+=` changes.
    total = 0.0
    acc = w * 1.0
    for row in X:
        acc += row * w
        total += np.sum(acc * acc)
    return total


case(augmented_accumulation, ("w", "X"), randn(3), randn(4, 3, scale=0.5))


def augmented_on_zeros(w, X):
    total = 0.0
    acc = np.zeros_like(w)
    for row in X:
        acc += row * w
        total += np.sum(np.tanh(acc))
    return total


case(augmented_on_zeros, ("w", "X"), randn(3), randn(4, 3, scale=0.5))


def product_of_rows(X):
    # p starts as a Python float and becomes an array in the first iteration.
    p = 1.0
    for row in X:
        p = p * row
    return np.sum(p)


case(product_of_rows, ("X",), uniform(0.5, 1.5, 4, 3))


def sum_of_rows_squared(X, w):
    # The accumulator's shape grows from () to (3,) and is used nonlinearly after the loop.
    s = 0.0
    for row in X:
        s = s + row * w
    return np.sum(s * s)


case(sum_of_rows_squared, ("X", "w"), randn(4, 3), randn(3))


def two_accumulators(w, X):
    # One intermediate feeds two accumulators that meet after the loop.
    a = 0.0
    b = 0.0
    for row in X:
        z = np.tanh(row * w)
        a = a + z
        b = b + z * z
    return np.sum(a * b)


case(two_accumulators, ("w", "X"), randn(3), randn(4, 3))


def two_loops_one_accumulator(w, n):
    # The same name is carried through two loops in a row: first a sum, then a product.
    s = 0.0
    for i in range(n):
        s = s + w
    for i in range(n):
        s = s * w
    return np.sum(s)


case(two_loops_one_accumulator, ("w",), randn(2), 3)


# ==== branches inside loops ==========================================================================

def branch_on_data_in_loop(w, X):
    # z = row @ w is far from 0 for these inputs (checked in test_decisions_are_stable).
    s = 0.0
    for row in X:
        z = row @ w
        if z > 0:
            s = s + z * z
        else:
            s = s - np.sin(z)
    return s


BRANCH_W = np.array([1.0, -0.5, 0.25])
BRANCH_X = np.array([[1.0, 0.2, 0.3], [-1.0, 0.5, 0.1], [0.4, -1.0, 2.0], [-0.3, 0.3, -2.0]])
case(branch_on_data_in_loop, ("w", "X"), BRANCH_W, BRANCH_X)


def branch_on_index_parity(w, n):
    h = w
    for i in range(n):
        if i % 2 == 0:
            h = np.tanh(h) * 2.0
        else:
            h = h * w
    return np.sum(h)


case(branch_on_index_parity, ("w",), randn(3), 5)


def first_iteration_special(W, X):
    # h is first assigned inside the loop (iteration 0), carried afterwards and read after the loop.
    for i, row in enumerate(X):
        if i == 0:
            h = row @ W
        else:
            h = np.tanh(h + row @ W)
    return h.sum()


case(first_iteration_special, ("W", "X"), randn(3, 2), randn(4, 3))


def elif_in_loop(w, X):
    # The sums of the rows are -3.2, -0.4, 0.6, 2.9: every branch runs once, none is near a threshold.
    s = 0.0
    for row in X:
        t = np.sum(row)
        if t > 2.0:
            s = s + np.sum(row * w)
        elif t > 0.0:
            s = s + np.sum(np.exp(w)) * t
        elif t > -1.0:
            s = s * 0.5
        else:
            s = s - np.sum(w * w)
    return s


case(elif_in_loop, ("w", "X"), randn(3),
     np.array([[-1.0, -1.2, -1.0], [0.1, -0.3, -0.2], [0.2, 0.2, 0.2], [1.0, 0.9, 1.0]]))


def one_side_uses_param_in_loop(w, v, X):
    # v is used only on the negative branch, w only on the positive one.
    h = np.ones(3)
    for row in X:
        if np.sum(row) > 0:
            h = h * np.tanh(w + row)
        else:
            h = h + v * row
    return np.sum(h)


ONE_SIDE_X = np.array([[1.0, 0.5, -0.2], [-1.0, -0.5, 0.3], [0.7, 0.1, 0.1]])
case(one_side_uses_param_in_loop, ("w", "v"), randn(3), randn(3), ONE_SIDE_X)


def one_side_uses_param_in_loop_float_start(w, v, X):
    # The same loop with h starting as a Python float: its shape changes in the first iteration.
    h = 1.0
    for row in X:
        if np.sum(row) > 0:
            h = h * np.tanh(w + row)
        else:
            h = h + v * row
    return np.sum(h)


case(one_side_uses_param_in_loop_float_start, ("w", "v"), randn(3), randn(3), ONE_SIDE_X)


def if_without_else_in_loop(w, X):
    # Iterations with z <= 0 leave s alone (row sums of X * w are 0.5, -0.5, 1.75: far from 0).
    s = 0.0
    for row in X:
        z = np.sum(row * w)
        if z > 0:
            s = s + z * z
    return s


case(if_without_else_in_loop, ("w",), np.array([1.0, -0.5]), np.array([[1.0, 1.0], [-1.0, -1.0], [2.0, 0.5]]))


def and_of_two_tests_in_a_loop(w):
    # Iterations where the first test holds and the second does not (w = 3.0) take no branch: the backward pass
    # must take each iteration's branch as the forward pass decided it, not as the last test computed leaves it.
    s = 0.0
    for v in w:
        if v > 0 and v < 2:
            s = s + v * v
        elif v > 2.5 and v < 4:
            s = s + np.sin(v)
    return s


case(and_of_two_tests_in_a_loop, ("w",), np.array([-1.0, 3.0, 1.0, 0.5, 5.0]))


def branch_name_rebound_inside_its_branch(w):
    s = 0.0
    for v in w:
        go = v > 0
        if go:
            go = v < 2  # the branch rebinds the name its test read
            s = s + v * 3.0
        if go:
            s = s + v * v
    return s


case(branch_name_rebound_inside_its_branch, ("w",), np.array([-1.0, 3.0, 1.0, 0.5]))


def chained_comparison_reads_only_while_it_holds(w):
    # Python computes `10 + w[i]` only where `i < n` holds: past w's end it is never read
    s = 0.0
    n = len(w)
    for i in range(n + 2):
        if i < n < 10 + w[i]:
            s = s + w[i] ** 2
    return s


case(chained_comparison_reads_only_while_it_holds, ("w",), np.array([0.2, 0.9, -0.3]))


def any_and_all_stop_at_the_deciding_item(w):
    # any() stops at w[1] and all() at w[1]: neither reads past w's end, as Python's builtins do not
    s = np.sum(w)
    if any(w[i] > 0.5 for i in range(10)):
        s = s + np.sum(w ** 2)
    if not all(w[i] < 0.5 for i in range(10) if i != 0):
        s = s * np.sin(w[0])
    return s


case(any_and_all_stop_at_the_deciding_item, ("w",), np.array([0.2, 0.9, -0.3]))


def branches_on_numbers_it_also_uses(w, scale, n):
    # `if scale:` tests a number the branch then multiplies by: the test must not turn it into a bool
    if scale:
        w = w * scale
    s = np.sum(w)
    if s:
        w = w * s
    for i in range(3):
        t = w[i]
        if t:
            n = n + t * t
    return np.sum(w) * n


case(branches_on_numbers_it_also_uses, ("w", "scale"), np.array([0.5, 0.0, -1.5]), 2.0, 3)


def enumerates_zipped_layers(ws, bs, x):
    for i, (w, b) in enumerate(zip(ws, bs)):
        x = np.tanh(x @ w + b) * (i + 1)
    return np.sum(x)


case(enumerates_zipped_layers, ("ws", "bs", "x"), [randn(3, 3, scale=0.5), randn(3, 3, scale=0.5)], [randn(3), randn(3)],
     randn(2, 3))


def overwritten_in_branch_in_loop(w, X):
    # a is computed before the loop, overwritten on either branch inside it; its first value is read after.
    a = np.exp(w)
    keep = a
    for row in X:
        if np.sum(row) > 0:
            a = a * row
        else:
            a = np.sin(a)
    return np.sum(a * keep)


case(overwritten_in_branch_in_loop, ("w",), randn(2), np.array([[1.0, 1.0], [-1.0, -1.0], [2.0, 0.5]]))


def defined_in_some_iterations(w, X):
    # last is assigned only when the row sum is positive; the value after the loop is the last such one.
    for row in X:
        if np.sum(row) > 0:
            last = row * w
    return np.sum(np.sin(last))


case(defined_in_some_iterations, ("w",), randn(2), np.array([[1.0, 1.0], [2.0, 3.0], [-1.0, -1.0]]))


def count_decisions(w, X):
    # The loop only counts (no gradient inside); the count scales the result.
    k = 0
    for row in X:
        if np.sum(row) > 0:
            k = k + 1
    return np.sum(w * w) * k


case(count_decisions, ("w",), randn(3), np.array([[1.0, 1.0], [-1.0, -1.0], [2.0, 2.0]]))


# ==== while ===========================================================================================

def grow_until_large(w, limit):
    # The trip count depends on w (five iterations here).
    x = w
    while np.sum(x * x) < limit:
        x = x * 1.5 + 0.1 * np.sin(x)
    return np.sum(x)


case(grow_until_large, ("w",), np.array([0.3, -0.2, 0.1]), 10.0)


def doubling(w, limit):
    # Trip count = how often |x|^2 must be quadrupled to reach limit; used by the trip-count test too.
    x = w
    while np.sum(x * x) < limit:
        x = x * 2.0
    return np.sum(np.sin(x))


def doubling_trips(w, limit):
    """The number of iterations doubling() runs (plain Python, no gradient)."""
    trips, norm = 0, float(np.sum(w * w))
    while norm < limit:
        norm, trips = norm * 4.0, trips + 1
    return trips


DOUBLING_W = np.array([0.3, -0.4])  # |w|^2 = 0.25: limits 1.0, 4**2, ... are thresholds to avoid
case(doubling, ("w",), DOUBLING_W, 20.0)


def while_with_counter(w, n):
    i = 0
    h = w
    while i < n:
        h = np.sin(h) * w
        i = i + 1
    return h.sum()


case(while_with_counter, ("w",), randn(3), 4)


def while_zero_trips(w, limit):
    # sum(w) is far below limit: the body never runs and the gradient is that of the return line.
    x = w
    while np.sum(x) > limit:
        x = x * 0.5
    return np.sum(x * x)


case(while_zero_trips, ("w",), np.array([0.5, 1.0, -0.3]), 10.0)


def newton_sqrt(a):
    # Newton's iteration for sqrt(a): the trip count depends on a (the residual drops quadratically).
    y = a
    while np.sum(np.abs(y * y - a)) > 1e-4:
        y = 0.5 * (y + a / y)
    return np.sum(y)


case(newton_sqrt, ("a",), np.array([2.0, 3.0, 5.0]))


def while_true_break(w):
    # `while True` with the exit decided by the data.
    x = w
    while True:
        x = x * 0.5 + 0.05 * x * x
        if np.sum(np.abs(x)) < 1.0:
            break
    return np.sum(x * x)


case(while_true_break, ("w",), np.array([3.0, -2.0, 1.5]))


def while_with_branch(w, limit):
    # The branch inside alternates on an int counter k; k also scales the result.
    x = w
    k = 0
    while np.sum(x * x) < limit:
        if k % 2 == 0:
            x = x * 1.7
        else:
            x = x + np.tanh(x)
        k = k + 1
    return np.sum(x) * k


case(while_with_branch, ("w",), np.array([0.3, 0.2, -0.1]), 12.0)


def while_continue(w, n):
    i = 0
    h = w
    while i < n:
        i = i + 1
        if i == 2:
            continue
        h = np.cos(h) * w
    return np.sum(h)


case(while_continue, ("w",), randn(3), 4)


def while_continue_after_work(w, n):
    # A continue that follows a statement in its branch.
    i = 0
    h = w
    while i < n:
        i = i + 1
        if i == 2:
            h = h * 0.5
            continue
        h = np.cos(h) * w
    return np.sum(h)


case(while_continue_after_work, ("w",), randn(3), 4)


def while_counter_break(w, n):
    # Two exits: the counter runs out, or the data crosses 3.0 (here in the second iteration).
    i = 0
    h = w
    while i < n:
        h = np.sin(h) * 1.5 + w
        if np.sum(h) > 3.0:
            break
        i = i + 1
    return np.sum(h)


case(while_counter_break, ("w",), np.array([0.5, 0.6]), 5)


def while_around_rows(w, X):
    # A while (data-dependent, three iterations here) around a for over the rows of a wrt array.
    h = w
    n = 0
    while np.sum(h * h) < 4.0:
        for row in X:
            h = h * 1.2 + row * 0.1
        n = n + 1
    return np.sum(h) + n


case(while_around_rows, ("w", "X"), np.array([0.5, 0.4]), np.array([[0.3, 0.2], [0.1, 0.3]]))


# ==== nested loops ====================================================================================

def triangular_nested(w, n):
    # The inner bound depends on the outer index (0 trips when i == 0).
    s = 0.0
    h = w
    for i in range(n):
        for j in range(i):
            h = np.tanh(h * w + j)
        s = s + np.sum(h) * i
    return s


case(triangular_nested, ("w",), randn(3), 4)


def nested_range_and_rows(W, X, k):
    # Passes over the rows of a wrt array, repeated k times: each row gets k contributions.
    h = np.zeros(W.shape[1])
    for r in range(k):
        for row in X:
            h = np.tanh(h + row @ W)
    return h.sum()


case(nested_range_and_rows, ("W", "X"), randn(3, 2, scale=0.5), randn(3, 3), 2)


def nested_range_and_rows_float_start(W, X, k):
    # nested_range_and_rows with h starting as the Python float 0.0.
    h = 0.0
    for r in range(k):
        for row in X:
            h = np.tanh(h + row @ W)
    return np.sum(h)


case(nested_range_and_rows_float_start, ("W", "X"), randn(3, 2, scale=0.5), randn(3, 3), 2)


def nested_from_i(w, n):
    # Inner range starts at the outer index: range(i, n).
    s = 0.0
    for i in range(n):
        for j in range(i, n):
            s = s + np.sum(np.sin(w * (j - i + 1)))
        s = s * 0.8
    return s


case(nested_from_i, ("w",), randn(3), 3)


def nested_inner_break(w, X):
    # Only the inner loop breaks; the break point differs between the outer iterations.
    s = 0.0
    for k in range(3):
        h = w * (k + 1)
        for row in X:
            h = h * row
            if np.sum(np.abs(h)) > 2.0:
                break
        s = s + np.sum(h)
    return s


case(nested_inner_break, ("w", "X"), np.array([0.9, 0.6]),
     np.array([[1.1, 0.9], [1.3, 1.2], [0.7, 1.4], [1.2, 1.1]]))


def nested_rows_of_same_array(X):
    # Both loops walk the rows of X: every row gets gradient from the outer and the inner position.
    s = 0.0
    for a in X:
        for b in X:
            s = s + np.tanh(np.dot(a, b))
    return s


case(nested_rows_of_same_array, ("X",), randn(3, 2))


def break_inner_and_outer(w, n):
    h = w
    for i in range(n):
        for j in range(n):
            h = np.sin(h) + w
            if j == 1:
                break
        if i == 2:
            break
    return np.sum(h)


case(break_inner_and_outer, ("w",), randn(3), 4)


def continue_in_nested(w, n):
    h = w
    for i in range(n):
        for j in range(n):
            if j == i:
                continue
            h = np.sin(h) * 1.1 + w * j
    return np.sum(h)


case(continue_in_nested, ("w",), randn(2), 3)


# ==== zero-trip loops =================================================================================

def zero_trip_range(W, h0, n):
    # n == 0: the loop never runs and h keeps h0; W gets zeros.
    h = h0 * 2.0
    for t in range(n):
        h = np.tanh(h @ W)
    return np.sum(h * h)


case(zero_trip_range, ("W", "h0"), randn(3, 3), randn(3), 0)


def zero_trip_start_equals_stop(w, n):
    s = np.sum(w)
    for i in range(n, n):
        s = s * np.sum(w * i)
    return s * s


case(zero_trip_start_equals_stop, ("w",), randn(3), 2)


def zero_trip_empty_rows(w, X):
    # X has no rows: its gradient is an empty array of its shape, w's comes from before the loop.
    s = np.sum(w * w)
    for row in X:
        s = s + np.sum(row * w)
    return s


case(zero_trip_empty_rows, ("w", "X"), randn(3), np.zeros((0, 3)))


def zero_trip_returns_param(w, n):
    # With n == 0 the returned w is the parameter itself.
    for i in range(n):
        w = w * 2.0
    return np.sum(w)


case(zero_trip_returns_param, ("w",), randn(2), 0, id="zero_trip_returns_param[0]")
case(zero_trip_returns_param, ("w",), randn(2), 2, id="zero_trip_returns_param[2]")


# ==== break and continue ==============================================================================

def break_on_threshold(w, X, limit):
    h = w
    for row in X:
        h = np.tanh(h * row + w)
        if np.sum(h) > limit:
            break
    return np.sum(h * h)


BREAK_W = np.array([0.8, 0.9, 0.7])
BREAK_X = np.array([[1.0, 1.2, 0.9], [0.5, 0.4, 0.6], [1.1, 0.9, 1.0]])
# The first step gives sum(h) ~ 2.4: limit 1.0 breaks in the first iteration, limit 10 never breaks.
case(break_on_threshold, ("w", "X"), BREAK_W, BREAK_X, 1.0, id="break_early")
case(break_on_threshold, ("w", "X"), BREAK_W, BREAK_X, 10.0, id="break_never")


def break_on_index(w, n):
    h = w
    for i in range(n):
        if i == 2:
            break
        h = np.sin(h) * w
    return np.sum(h)


case(break_on_index, ("w",), randn(3), 5)


def skip_negative_rows(w, X):
    s = 0.0
    for row in X:
        z = np.sum(row * w)
        if z < 0:
            continue
        s = s + z * z
        s = s * 0.9
    return s


case(skip_negative_rows, ("w", "X"), BRANCH_W, BRANCH_X)


def continue_on_index(w, n):
    h = w
    for i in range(n):
        if i == 2:
            continue
        h = np.sin(h) + w
    return np.sum(h)


case(continue_on_index, ("w",), randn(3), 5)


def continue_after_work(w, X):
    # skip_negative_rows with work before the continue.
    s = 0.0
    for row in X:
        z = np.sum(row * w)
        if z < 0:
            s = s - z * 0.1
            continue
        s = s + z * z
        s = s * 0.9
    return s


case(continue_after_work, ("w", "X"), BRANCH_W, BRANCH_X)


def rows_with_break(X, w):
    # Rows after the break get zero gradient; the reverse loop starts at the row that broke.
    s = 0.0
    for i, row in enumerate(X):
        s = s + np.sum(np.sin(row * w))
        if i == 1:
            break
    return s


case(rows_with_break, ("X", "w"), randn(4, 2), randn(2))


# ==== early return, elif, nested if ===================================================================

def early_return(w, v):
    s = np.sum(w * v)
    if s > 0:
        return s * s
    t = np.exp(w)
    return np.sum(t * v) + s


EARLY_W = np.array([0.5, -0.3, 0.8])
EARLY_V = np.array([1.0, 0.4, 0.6])  # w @ v = 0.86, w @ -v = -0.86
case(early_return, ("w", "v"), EARLY_W, EARLY_V, id="early_return_taken")
case(early_return, ("w", "v"), EARLY_W, -EARLY_V, id="early_return_not_taken")


def return_in_nested_if_after_loop(w, X):
    h = w
    for row in X:
        h = h * row
    if np.sum(h) > 0:
        if np.sum(w) > 0:
            return np.sum(h * w)
        return np.sum(h)
    return -np.sum(h * h)


# After the loop h = w * p with p = prod(RETURN_X) ~ (0.65, 0.44, 0.70), so sum(h) and sum(w) are
# (0.74, 1.2) for the first w, (0.20, -0.1) for the second and (-0.74, -1.2) for the third: one per return.
RETURN_X = uniform(0.5, 1.5, 3, 3)
case(return_in_nested_if_after_loop, ("w", "X"), np.array([0.5, 0.3, 0.4]), RETURN_X, id="return_inner")
case(return_in_nested_if_after_loop, ("w", "X"), np.array([1.0, -1.2, 0.1]), RETURN_X, id="return_outer")
case(return_in_nested_if_after_loop, ("w", "X"), np.array([-0.5, -0.3, -0.4]), RETURN_X, id="return_last")


def elif_chain(w, x):
    if x < -1:
        y = w * w
    elif x < 0:
        y = np.sin(w)
    elif x < 1:
        y = np.exp(w) * x
    else:
        y = w ** 3
    return np.sum(y)


for _x in (-2.0, -0.5, 0.5, 2.0):
    case(elif_chain, ("w",), randn(3), _x, id=f"elif_chain[{_x}]")


def nested_ifs(w, v):
    s = np.sum(w)
    if s > 0:
        if np.sum(v) > 0:
            y = w * v
        else:
            y = w + v
    else:
        if np.sum(v * v) > 1:
            y = np.exp(w)
        else:
            y = v
    return np.sum(y * y)


_w, _v = np.array([0.5, 0.4]), np.array([0.6, 0.7])
for _name, (_sw, _sv) in {"pos_pos": (1, 1), "pos_neg": (1, -1), "neg_big": (-1, 2), "neg_small": (-1, 0.5)}.items():
    case(nested_ifs, ("w", "v"), _sw * _w, _sv * _v, id=f"nested_ifs[{_name}]")


def one_side_uses_param(w, v, flag):
    # Only the taken side's parameter gets a gradient; the other gets zeros.
    if flag > 0:
        y = w * 2.0
    else:
        y = np.sin(v)
    return np.sum(y * y)


case(one_side_uses_param, ("w", "v"), randn(3), randn(3), 1.0, id="one_side_uses_param[w]")
case(one_side_uses_param, ("w", "v"), randn(3), randn(3), -1.0, id="one_side_uses_param[v]")


def if_without_else_overwrites(w):
    h = np.sin(w)
    if np.sum(h) > 0:
        h = h * h
    return np.sum(h * w)


case(if_without_else_overwrites, ("w",), np.array([0.5, 0.6, 0.2]), id="if_without_else[taken]")
case(if_without_else_overwrites, ("w",), np.array([-0.5, -0.6, 0.2]), id="if_without_else[skipped]")


def elif_chain_with_returns(w):
    # Three of the four branches return; the third falls through to the last line.
    s = np.sum(w)
    if s > 1:
        return s * s
    elif s > 0:
        t = np.exp(w)
        return np.sum(t)
    elif s > -1:
        w = w * 3.0
    else:
        return np.sum(w * w * w)
    return np.sum(np.sin(w))


RETURNS_W = {"first": [1.0, 0.5], "second": [0.3, 0.5], "falls_through": [-0.3, -0.5], "last": [-1.3, -0.5]}
for _name, _w in RETURNS_W.items():
    case(elif_chain_with_returns, ("w",), np.array(_w), id=f"elif_chain_with_returns[{_name}]")


def pair_from_branches(a, w):
    if a[0] > 0:
        if a[1] > 0:
            return np.tanh(a), a * w
        return w * 2.0, np.sin(a)
    return a * a, w


def helper_returns_a_pair_from_branches(x, w, n):
    # each return of the helper gives two values; the call, inside a loop, unpacks them
    for i in range(n):
        p, q = pair_from_branches(x, w)
        x = np.tanh(p + q) - 0.3 * i
    return x.sum()


for _name, _x in {"both": [0.5, 0.4, 0.1], "first": [0.5, -0.4, 0.1], "neither": [-0.5, 0.4, 0.1]}.items():
    case(helper_returns_a_pair_from_branches, ("x", "w"), np.array(_x), randn(3), 3,
         id=f"helper_returns_a_pair_from_branches[{_name}]")


# ==== overwriting and reuse ===========================================================================

def overwritten_in_iteration(w, n):
    # h is rebound four times per iteration; every adjoint must read its own version of h.
    h = w
    for i in range(n):
        h = h * w
        h = np.sin(h)
        h = h + w
        h = h / (1.0 + h * h)
    return np.sum(h)


case(overwritten_in_iteration, ("w",), randn(3), 3)


def before_during_after(w, n):
    # a is computed before the loop, overwritten in it; its first value (first) is used after it.
    a = np.exp(w)
    first = a
    for i in range(n):
        a = np.tanh(a * w)
    return np.sum(a * first) + np.sum(first)


case(before_during_after, ("w",), randn(3, scale=0.5), 3)


def used_before_inside_after(w, X):
    # c is read before, inside (every iteration) and after the loop, and never overwritten.
    c = np.sin(w)
    s = c * 0.5
    for row in X:
        s = s + row * c
    s = s * c
    return np.sum(s)


case(used_before_inside_after, ("w", "X"), randn(3), randn(4, 3))


def shared_weight(W, xs):
    # W appears three times per iteration and twice outside the loop: every use must accumulate.
    h = xs[0] @ W
    for t in range(1, len(xs)):
        h = np.tanh(h @ W) + xs[t] @ W
        h = h @ W * 0.5
    return np.sum(h @ W)


case(shared_weight, ("W",), randn(3, 3, scale=0.6), randn(4, 3))


def loop_invariant_inside(w, n):
    # c has the same value in every iteration; its gradient must still be added n times.
    s = 0.0
    for i in range(n):
        c = np.tanh(w)
        s = s + c * i
    return np.sum(s * s)


case(loop_invariant_inside, ("w",), randn(3), 4)


def weight_rebound_in_loop(W, h0, n):
    # The parameter name itself is rebound in every iteration; the gradient is for the W passed in.
    h = h0
    for i in range(n):
        W = W * 0.9
        h = np.tanh(h @ W)
    return np.sum(h)


case(weight_rebound_in_loop, ("W", "h0"), randn(3, 3, scale=0.5), randn(3), 3)


def augmented_in_branches(w, X):
    # `+=` and `-=` on a made array, inside both branches of an if inside a loop; acc's old value is needed.
    acc = w * 1.0
    for row in X:
        if np.sum(row) > 0:
            acc += row * acc
        else:
            acc -= row
    return np.sum(acc * acc)


case(augmented_in_branches, ("w", "X"), np.array([0.5, 0.6]), np.array([[0.5, 0.2], [-0.3, -0.1], [0.2, 0.4]]))


# ==== rebinding inside a block ========================================================================
# Inside a branch or a loop a name keeps one name, so a second assignment there overwrites the first one's
# value while the backward pass still needs it; tuple assignments there read their own targets.

def rebind_in_branch(x):
    if x.sum() > -100:
        v = np.sin(x)
        v = v * v
        return v.sum()
    return x.sum()


case(rebind_in_branch, ("x",), randn(4))


def rebind_after_early_return(x):
    # the statements after the return become the other branch
    if x.sum() < -100:
        return x.sum()
    v = np.sin(x)
    v = v * v
    v = np.tanh(v) * v
    return v.sum()


case(rebind_after_early_return, ("x",), randn(4))


def rebind_in_elif(x, w):
    if x.sum() > 100:
        h = x
    elif x.sum() > -100:
        h = x * w
        h = np.sin(h) + h
        h = h * w
    else:
        h = w
    return (h * h).sum()


case(rebind_in_elif, ("x", "w"), randn(3), randn(3))


def rebind_in_branch_inside_loop(w, x):
    s = 0.0
    for i in range(3):
        if i % 2 == 0:
            v = x * w
            v = np.cos(v) * v
            s = s + v.sum()
    return s


case(rebind_in_branch_inside_loop, ("w",), randn(3), randn(3))


def swap_in_branch(a, b):
    if a.sum() > -100:
        a, b = b, a
    return (a * 3.0 + b * b).sum()


case(swap_in_branch, ("a", "b"), randn(3), randn(3))


def swap_with_call_in_branch(a, b):
    if a.sum() > -100:
        a, b = np.sin(b), a
    return (a * 3.0 + b * b).sum()


case(swap_with_call_in_branch, ("a", "b"), randn(3), randn(3))


def crossing_copies_in_branch(a, b):
    if a.sum() > -100:
        t = a
        a = b
        b = t
    return (a * 3.0 + b * b).sum()


case(crossing_copies_in_branch, ("a", "b"), randn(3), randn(3))


def swap_in_branch_inside_loop(a, b, n):
    for i in range(n):
        if i % 2 == 0:
            a, b = b * 0.5, a
        else:
            a, b = np.tanh(b), a * a
    return (a * 3.0 + b).sum()


case(swap_in_branch_inside_loop, ("a", "b"), randn(3), randn(3), 5)


def unpacked_call_result_in_loop(x, z, n):
    # Both unpacked names are overwritten each iteration and read by the backward pass: the tape gives them
    # back in the reverse of the order it took them.
    for i in range(n):
        a, b = np.split(z, 2, axis=1)
        z = np.concatenate([b * np.sin(a), a * x], axis=1)
    return z.sum()


case(unpacked_call_result_in_loop, ("x", "z"), randn(3, 2), randn(3, 4), 3)


def augmented_on_an_array_made_in_the_same_iteration(w, x, n):
    # acc is made afresh in the branch before each update, so no other name can hold it by then
    h = x
    for i in range(n):
        if i % 2 == 0:
            acc = np.zeros_like(h)
            acc += np.tanh(h @ w)
            acc *= h
            h = h + acc
    return (h * h).sum()


case(augmented_on_an_array_made_in_the_same_iteration, ("w", "x"), randn(3, 3), randn(2, 3), 3)


def inner_loop_of(w):
    a = w
    for _ in range(2):
        a = np.tanh(np.exp(w))
    return a


def read_in_one_branch_rebound_in_the_other_in_loop(x, v):
    # v is rebound on one side and read on the other: its gradient carries across iterations, through an
    # inlined helper's own loop, and into the v from before the loop
    t = v * 1.0
    for j in range(3):
        if x[j] > 1.5:
            v = np.tanh(x)
        else:
            t = t + np.sin(inner_loop_of(v))
    return np.tanh(t).sum()


case(read_in_one_branch_rebound_in_the_other_in_loop, ("x", "v"), np.array([-0.5, 0.3, 0.2]), randn(3))
case(read_in_one_branch_rebound_in_the_other_in_loop, ("x", "v"), np.array([-0.5, 2.0, 0.2]), randn(3),
     id="read_in_one_branch_rebound_in_the_other_in_loop[rebound in the second iteration]")


def value_before_loop_kept_when_branch_never_taken(w, x):
    a = w
    for i in range(3):
        if x.sum() > 1e9:
            a = x * 2.0
    return (a * a).sum()


case(value_before_loop_kept_when_branch_never_taken, ("w",), randn(3), randn(3))


def value_before_while_kept_when_branch_never_taken(w, x):
    a = w
    i = 0
    while i < 3:
        if i > 100:
            a = np.sin(a) + x
        i = i + 1
    return (a * w).sum()


case(value_before_while_kept_when_branch_never_taken, ("w",), randn(3), randn(3))


def negates_a_long_condition(w):
    # `not` of a name too long to join: its temporary must not be named `not`, a keyword
    abc_sum = w.sum()
    lim = 100.0
    if not abc_sum > lim:
        return (w * w).sum()
    return w.sum()


case(negates_a_long_condition, ("w",), randn(3))


# ==== rows of wrt arrays ==============================================================================

def rows_of_wrt(X, w):
    s = 0.0
    for row in X:
        s = s + np.tanh(row @ w) ** 2
    return s


case(rows_of_wrt, ("X", "w"), randn(4, 3), randn(3))


def enumerate_wrt(X, w):
    s = 0.0
    for i, row in enumerate(X):
        if i % 2 == 1:
            s = s + np.sum(row * w) * i
        else:
            s = s + np.sum(np.sin(row))
    return s


case(enumerate_wrt, ("X", "w"), randn(4, 3), randn(3))


def bound_on_one_path_read_under_the_same_test(x, use_sin):
    # y exists only where use_sin holds; the backward pass sets d_y to zeros on the other path too
    if use_sin:
        y = np.sin(x)
    out = x.sum()
    if use_sin:
        out = out + (y * x).sum()
    return out


case(bound_on_one_path_read_under_the_same_test, ("x",), randn(3), True, id="bound_on_one_path-taken")
case(bound_on_one_path_read_under_the_same_test, ("x",), randn(3), False, id="bound_on_one_path-not_taken")


def one_of_two_names_bound_then_returned(x):
    if x[0] > 0:
        a = np.sin(x)
    else:
        b = np.cos(x) * 2.0
    if x[0] > 0:
        return (a * x).sum()
    return (b * b).sum()


case(one_of_two_names_bound_then_returned, ("x",), np.abs(randn(3)) + 0.1, id="one_of_two_names-first")
case(one_of_two_names_bound_then_returned, ("x",), -np.abs(randn(3)) - 0.1, id="one_of_two_names-second")


def walks_reversed_and_iter(X, w, params):
    # reversed() and iter() give iterators, walked once; the backward pass walks the same items again
    s = 0.0
    for i in reversed(range(X.shape[0])):
        s = s * 0.5 + np.sum(X[i] * w)
    for row in reversed(X):
        s = s * 0.5 + np.sum(np.sin(row))
    for j, row in enumerate(iter(X)):
        s = s + np.sum(row * w) * j
    for key in reversed(params):
        s = s * 0.5 + np.sum(params[key] * w)
    return s


case(walks_reversed_and_iter, ("X", "w", "params"), randn(4, 3), randn(3), {"a": randn(3), "b": randn(3)})


def counts_down_with_an_augmented_integer(x, w):
    # i holds an integer on every path (an item of x.shape, len, literals): `i -= 1` rebinds it, sharing nothing
    i = x.shape[0] - 1
    s = 0.0
    while i >= 0:
        s = s * 0.5 + x[i] * w
        i -= 1
    j = len(x)
    j -= 2
    k = x.ndim
    k *= 2
    return s + x[j] * k


case(counts_down_with_an_augmented_integer, ("x", "w"), randn(4), 0.7)


def reads_what_the_previous_iteration_bound(x, n):
    # prev exists from the second iteration on; the first does not read it
    s = 0.0
    for i in range(n):
        if i > 0:
            s = s + np.sum(prev * x)
        prev = np.sin(x * (i + 1))
    return s


case(reads_what_the_previous_iteration_bound, ("x",), randn(3), 4, id="previous_iteration-4")
case(reads_what_the_previous_iteration_bound, ("x",), randn(3), 1, id="previous_iteration-1")


def short_circuits_an_index_out_of_range(x, n):
    # x[i] is read only where i < x.shape[0]: `and` and `or` evaluate an operand only where it decides
    i = 0
    s = 0.0
    while i < x.shape[0] and x[i] > -1.0:
        s = s + x[i] ** 2
        i += 1
    for j in range(x.shape[0] + 1):
        if j >= n or x[j] < 0.0:
            s = s + np.sin(x[j % x.shape[0]])
    picked = (x[0] * 0.0) or (x[1] * 3.0)  # the operand that decides is the value, with its gradient
    return s + picked


case(short_circuits_an_index_out_of_range, ("x",), np.array([0.5, -0.3, 1.2]), 2, id="short_circuit-stops")
case(short_circuits_an_index_out_of_range, ("x",), np.array([0.5, 0.3, 1.2]), 3, id="short_circuit-runs_out")


def enumerate_from_a_start(X, w):
    # the counter starts at start=, by keyword or by position, in the backward pass as in the forward one
    s = 0.0
    for i, row in enumerate(X, start=2):
        s = s + np.sum(row * w) * i
    for j, row in enumerate(X, 3):
        s = s + np.sum(np.sin(row)) * j
    return s + np.sum(np.stack([row * k for k, row in enumerate(X, start=1)]))


case(enumerate_from_a_start, ("X", "w"), randn(4, 3), randn(3))


def zip_two_wrt(A, B):
    # Each row of A is used twice in its iteration.
    s = 0.0
    for a, b in zip(A, B):
        s = s + np.dot(a, b) * np.sum(a)
    return s


case(zip_two_wrt, ("A", "B"), randn(3, 4), randn(3, 4))


def zip_with_itself(A):
    # Both loop targets are rows of A: each row's gradient gets two contributions.
    s = 0.0
    for a, b in zip(A, A):
        s = s + np.sum(np.sin(a) * b)
    return s


case(zip_with_itself, ("A",), randn(3, 2))


def scalar_rows(v):
    # Rows of a vector are 0-d values.
    s = 1.0
    for x in v:
        s = s * x + x
    return s


case(scalar_rows, ("v",), uniform(0.5, 1.5, 4))


def matrices_of_wrt_tensor(Ms, h0):
    # Rows of a rank-3 array are matrices.
    h = h0
    for M in Ms:
        h = np.tanh(M @ h)
    return np.sum(h)


case(matrices_of_wrt_tensor, ("Ms", "h0"), randn(3, 2, 2), randn(2))


def rows_of_intermediate(X, w):
    # The loop walks rows of an array computed from X, not of X itself.
    Y = np.tanh(X * w)
    s = 0.0
    for row in Y:
        s = s + np.sum(row * row) * np.sum(w)
    return s


case(rows_of_intermediate, ("X", "w"), randn(3, 2), randn(2))


def targets_read_after_loop(X, w):
    # i and row keep their last values after the loop.
    s = 0.0
    for i, row in enumerate(X):
        s = s + np.sum(row * w)
    return s * i + np.sum(row * row * w)


case(targets_read_after_loop, ("X", "w"), randn(3, 2), randn(2))


def relu_layers(x, Ws):
    # A loop over layers (rows of a rank-3 wrt array) with relu; no pre-activation is within 1e-3 of 0.
    h = x
    for W in Ws:
        h = np.maximum(h @ W, 0)
    return np.sum(h)


RELU_X = np.array([[0.61, 0.96, 0.32], [0.96, 0.45, 0.54], [0.86, 0.53, 0.64], [0.22, 0.8, 0.63]])
RELU_WS = np.array([[[-0.07, 0.66, -0.11], [0.13, -0.39, 0.04], [-0.27, -0.18, 0.6]],
                    [[-0.15, 0.18, 0.97], [0.94, 0.56, 0.27], [-0.16, -0.34, 0.95]]])
case(relu_layers, ("x", "Ws"), RELU_X, RELU_WS)  # both layers have negative and positive pre-activations


def rows_and_whole_array(X, w):
    # X is walked row by row and also used whole in every iteration and after the loop.
    s = 0.0
    for row in X:
        s = s + np.sum(np.tanh(X @ row) * w)
    return s + np.sum(X * X)


case(rows_and_whole_array, ("X", "w"), randn(3, 3), randn(3))


def zip_unequal_lengths(A, B):
    # zip stops at the shorter array: B's last row gets zero gradient.
    s = 0.0
    for a, b in zip(A, B):
        s = s + np.sum(a * b * b)
    return s


case(zip_unequal_lengths, ("A", "B"), randn(3, 2), randn(4, 2))


def sequence_rebound_in_loop(X):
    # Rebinding X inside the loop does not change the rows the loop walks (Python evaluates X once).
    s = 0.0
    for row in X:
        X = X * 0.5
        s = s + np.sum(row * row) + np.sum(X)
    return s


case(sequence_rebound_in_loop, ("X",), randn(3, 2))


def rebind_loop_target(X, w):
    # The loop target is rebound inside the body; later statements must see the new row.
    s = 0.0
    for row in X:
        row = np.sin(row * 2.0)
        s = s + np.sum(row * row * w)
    return s


case(rebind_loop_target, ("X", "w"), randn(3, 2), randn(2))


def rebind_range_counter(w, n):
    # The same with the counter of a range loop: the backward pass must read i * 2, not i.
    s = 0.0
    for i in range(n):
        i = i * 2
        s = s + np.sum(w) * i
    return s


case(rebind_range_counter, ("w",), randn(2), 3)


# ==== lists of arrays (data) ==========================================================================

def list_of_matrices(w, mats):
    h = w
    for M in mats:
        h = np.tanh(M @ h)
    return np.sum(h)


case(list_of_matrices, ("w",), randn(3), [randn(3, 3), randn(3, 3), randn(3, 3)])


def enumerate_tuple_of_arrays(w, arrays):
    s = 0.0
    for i, a in enumerate(arrays):
        if i == 1:
            s = s + np.sum(np.exp(w * a))
        else:
            s = s + np.sum(w * a) * (i + 1)
    return s


case(enumerate_tuple_of_arrays, ("w",), randn(3), (randn(3), randn(3), randn(3)))


def tuple_of_arrays(w, arrays):
    # A plain `for` over a tuple argument.
    s = 0.0
    for a in arrays:
        if np.sum(a) > 0:
            s = s + np.sum(np.exp(w * a))
        else:
            s = s + np.sum(w * a)
    return s


case(tuple_of_arrays, ("w",), randn(3), (np.array([0.5, 0.2, 0.1]), np.array([-0.5, 0.2, -0.1]), randn(3) * 0.5 + 1))


def zip_list_and_rows(W, mats, V):
    # zip of a data list and the rows of a wrt array.
    s = 0.0
    for M, v in zip(mats, V):
        s = s + np.sum(np.tanh(M @ W) * v)
    return s


case(zip_list_and_rows, ("W", "V"), randn(3, 2), [randn(2, 3), randn(2, 3)], randn(2, 2))


# ==== counters and ranges =============================================================================

def range_with_negative_step(w, n):
    # The counter runs n, n-2, ... > 0 and scales the state.
    h = w
    for i in range(n, 0, -2):
        h = h * i * 0.1 + np.sin(h)
    return np.sum(h)


case(range_with_negative_step, ("w",), randn(3), 5)


def counter_used_after_loop(w, n):
    s = np.zeros_like(w)
    for i in range(n):
        s = s + np.cos(w) * i
    return np.sum(s * w) * i


case(counter_used_after_loop, ("w",), randn(3), 3)


def counter_used_after_loop_float_start(w, n):
    s = 0.0
    for i in range(n):
        s = s + np.cos(w) * i
    return np.sum(s * w) * i


case(counter_used_after_loop_float_start, ("w",), randn(3), 3)


# ==== nonlinearities with kinks and reductions inside loops ==========================================

def kinks_in_loop(w, X):
    # minimum, abs and clip in every iteration; no argument is within 1e-3 of a kink (test below).
    h = w
    for row in X:
        h = np.minimum(h * row, 1.0) + np.abs(h - row) * 0.5
        h = np.clip(h, -2.0, 2.0)
    return np.sum(h)


case(kinks_in_loop, ("w", "X"), np.array([0.3, -0.6, 0.9]),
     np.array([[0.5, 1.2, 0.7], [1.1, 0.4, -0.8], [0.9, -0.7, 1.3]]))


def normalize_in_loop(X, n):
    # Reductions along an axis with keepdims, a full mean, a sqrt: all inside the loop.
    h = X
    total = 0.0
    for i in range(n):
        m = h.mean(axis=0, keepdims=True)
        s = np.sum((h - m) ** 2, axis=1, keepdims=True)
        h = (h - m) / np.sqrt(s + 1.0)
        h = h * 2.0 + np.sin(h)
        total = total + h.sum(axis=1).mean()
    return total + np.sum(h * h)


case(normalize_in_loop, ("X",), randn(3, 4), 3)


def row_sums_in_loop(W, X):
    s = 0.0
    for row in X:
        z = np.tanh(row @ W)
        s = s + z.sum() * z.mean() + np.square(z).sum(axis=0)
    return s


case(row_sums_in_loop, ("W", "X"), randn(3, 2), randn(3, 3))


# ==== the catalogue's test =============================================================================

def _copy(value):
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, (list, tuple)):
        return type(value)(_copy(v) for v in value)
    return value


def _assert_same(before, after):
    if isinstance(before, (list, tuple)):
        for b, a in zip(before, after):
            _assert_same(b, a)
    else:
        np.testing.assert_array_equal(after, before)


@pytest.mark.parametrize("fn, wrt, args", CASES)
def test_gradient(fn, wrt, args, device):
    before = _copy(args)
    report = unless_rows_refused(device, lambda: sourcegrad.check_grad(fn, *args, wrt=wrt, device=device))
    if report is ROWS_REFUSED:
        return
    assert report.max_error < TOLERANCE, report

    on_device = on(device, args)
    gradients = sourcegrad.differentiate(fn, wrt=wrt).grad(*on_device)
    parameters = list(inspect.signature(fn).parameters)
    for name, gradient in zip(wrt, gradients):
        assert np.shape(gradient) == np.shape(args[parameters.index(name)]), name
    _assert_same(before, host(on_device))  # computing a gradient never changes its inputs


@pytest.mark.parametrize("fn, wrt, args", CASES)
def test_decisions_have_margins(fn, wrt, args):
    """The same check with a step 100 times larger still agrees: no branch decision, while condition or kink
    is within 1e-4 of the inputs along any coordinate, so the 1e-6 step of test_gradient is far from them."""
    report = sourcegrad.check_grad(fn, *args, wrt=wrt, eps=1e-4)
    assert report.max_error < 1e-5, report


@pytest.mark.parametrize("fn, wrt, args", VALUE_CASES)
def test_value(fn, wrt, args, device):
    """value_and_grad's value is the function's own value."""
    result = unless_rows_refused(device, lambda: sourcegrad.differentiate(fn, wrt=wrt).value_and_grad(*on(device, args)))
    if result is not ROWS_REFUSED:
        np.testing.assert_allclose(host(result[0]), fn(*args), rtol=1e-12, atol=1e-12)


def test_the_catalogue_is_large_enough():
    functions = {p.values[0] for p in CASES}
    assert len(functions) >= 40


# ---- the inputs keep their decisions under a perturbation ------------------------------------------

def test_decisions_are_stable():
    """The margins the comments above promise: data-dependent decisions are far from their thresholds."""
    z = BRANCH_X @ BRANCH_W
    assert np.min(np.abs(z)) > 1e-2
    # kinks_in_loop: replay it and look at the distance of each kink's argument from the kink.
    w, X = case_args(kinks_in_loop)
    h = w
    for row in X:
        assert np.min(np.abs(h * row - 1.0)) > 1e-3 and np.min(np.abs(h - row)) > 1e-3
        h = np.minimum(h * row, 1.0) + np.abs(h - row) * 0.5
        assert np.min(np.abs(np.abs(h) - 2.0)) > 1e-3
        h = np.clip(h, -2.0, 2.0)
    # relu_layers: no pre-activation near 0.
    x, Ws = case_args(relu_layers)
    h = x
    for W in Ws:
        assert np.min(np.abs(h @ W)) > 1e-3
        h = np.maximum(h @ W, 0)
    # doubling: no |w|^2 * 4^k, the value compared with the limit, is within 1e-3 of a limit used here.
    for limit in (20.0,) + tuple(DOUBLING_LIMITS.values()):
        for k in range(doubling_trips(DOUBLING_W, limit) + 1):
            assert abs(np.sum(DOUBLING_W ** 2) * 4.0 ** k - limit) > 1e-3


def case_args(fn):
    return next(p.values[2] for p in CASES if p.values[0] is fn)


# ==== one compiled function, many trip counts ===========================================================

def _loop_count(source):
    return sum(isinstance(node, (ast.For, ast.While)) for node in ast.walk(ast.parse(source)))


def _forward_loop_count(fn):
    return _loop_count(textwrap.dedent(inspect.getsource(fn)))


def rnn_depth(W, h0, xs, depth):
    h = h0
    for t in range(depth):
        h = np.tanh(h @ W + xs[t])
    return np.sum(h * h)


def test_same_function_different_depths(device):
    local = np.random.default_rng(1)
    W, h0, xs = local.standard_normal((3, 3)) * 0.5, local.standard_normal(3), local.standard_normal((4, 3))
    f = sourcegrad.differentiate(rnn_depth, wrt=("W", "h0"))
    compiled_before = len(compiled_files())
    paths, sources = set(), set()
    for depth in (0, 3, 1, 2):
        # check_grad with wrt=None uses f itself, so this checks f's own compiled gradient.
        report = sourcegrad.check_grad(f, W, h0, xs, depth, device=device)
        assert report.max_error < TOLERANCE, (depth, report)
        paths.add(f.generated_path)
        sources.add(f.backward_source)
    assert len(paths) == 1 and len(sources) == 1
    assert len(compiled_files()) - compiled_before == 1, "compiled once for all depths"
    # Not unrolled: one loop forward and one backward (counted as syntax: comments also say `for`).
    assert _loop_count(f.backward_source) == 2 * _forward_loop_count(rnn_depth) == 2


DOUBLING_LIMITS = {1: 0.9, 5: 200.0, 2: 3.0}  # trips -> limit, for |w|^2 = 0.25


def test_same_function_different_while_trips(device):
    f = sourcegrad.differentiate(doubling, wrt="w")
    compiled_before = len(compiled_files())
    paths = set()
    for trips, limit in DOUBLING_LIMITS.items():
        assert doubling_trips(DOUBLING_W, limit) == trips
        report = sourcegrad.check_grad(f, DOUBLING_W, limit, device=device)
        assert report.max_error < TOLERANCE, (trips, report)
        paths.add(f.generated_path)
    assert len(paths) == 1
    assert len(compiled_files()) - compiled_before == 1
    assert _loop_count(f.backward_source) == 2 * _forward_loop_count(doubling)


def test_same_function_rows_of_different_lengths(device):
    # The number of rows is a shape, not a rank: 0, 3 and 1 rows share one compiled gradient.
    f = sourcegrad.differentiate(rows_of_wrt, wrt=("X", "w"))
    local = np.random.default_rng(2)
    w = local.standard_normal(3)
    paths = set()
    for rows in (0, 3, 1):
        report = unless_rows_refused(device, lambda: sourcegrad.check_grad(f, local.standard_normal((rows, 3)), w,
                                                                           device=device))
        if report is ROWS_REFUSED:
            return
        assert report.max_error < TOLERANCE, (rows, report)
        paths.add(f.generated_path)
    assert len(paths) == 1


# ==== float32 ============================================================================================

FLOAT32_CASES = [
    (rnn, ("W", "h0"), (randn(3, 3, scale=0.5), randn(3), randn(4, 3))),
    (rows_of_wrt, ("X", "w"), (randn(4, 3), randn(3))),
    (branch_on_data_in_loop, ("w", "X"), (BRANCH_W, BRANCH_X)),
    (doubling, ("w",), (DOUBLING_W, 20.0)),
    (accumulate_array_from_expression, ("w", "v"), (randn(2, 3), randn(3))),
    (product_of_rows, ("X",), (uniform(0.5, 1.5, 4, 3),)),
]


@pytest.mark.parametrize("fn, wrt, args", FLOAT32_CASES, ids=[c[0].__name__ for c in FLOAT32_CASES])
def test_float32_in_float32_out(fn, wrt, args, device):
    single = tuple(a.astype(np.float32) if isinstance(a, np.ndarray) else a for a in args)
    f = sourcegrad.differentiate(fn, wrt=wrt)
    expected = f.grad(*args)
    got = unless_rows_refused(device, lambda: f.grad(*on(device, single)))  # a tuple of gradients, also for one name
    if got is ROWS_REFUSED:
        return
    assert_on(device, got)
    got = host(got)
    for name, e, g in zip(wrt, expected, got):
        assert g.dtype == np.float32, name
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-5, err_msg=name)


# ==== the tape ===========================================================================================

def straight_line(w, v):
    h = np.tanh(w * v)
    h = h * w
    return np.sum(h * h)


def test_straight_line_code_has_no_tape():
    f = sourcegrad.differentiate(straight_line, wrt=("w", "v"))
    f.grad(np.array([0.1, 0.2, 0.3]), np.array([1.0, -1.0, 0.5]))
    assert "tape" not in f.backward_source


def test_loop_that_overwrites_needed_values_has_a_tape():
    # rnn overwrites h each iteration, and the backward pass needs every h (for h @ W and tanh).
    f = sourcegrad.differentiate(rnn, wrt=("W", "h0"))
    f.grad(*case_args(rnn))
    assert "tape" in f.backward_source
    assert "tape.append" in f.backward_source and "tape.pop()" in f.backward_source


def rnn_temporaries(h, W, xs):
    for t in range(xs.shape[0]):
        h = np.tanh(h @ W + xs[t])  # two temporaries an iteration: h @ W and the sum
    return np.square(h).sum()


def rnn_temporaries_by_hand(h, W, xs):
    hs = [h]
    for t in range(xs.shape[0]):
        hs.append(np.tanh(hs[-1] @ W + xs[t]))
    grad_h, grad_W = 2.0 * hs[-1], np.zeros_like(W)
    for t in range(xs.shape[0], 0, -1):
        grad_z = grad_h * (1 - hs[t] * hs[t])
        grad_W += hs[t - 1].T @ grad_z
        grad_h = grad_z @ W.T
    return np.square(hs[-1]).sum(), (grad_h, grad_W)


def test_a_loop_leaves_no_temporaries_held_through_the_backward_pass():
    """The last iteration's `h @ W` (the backward pass reads only its shape) and sum (not read at all) are let go
    before the backward pass: at its peak the gradient holds what the hand-written one holds, the tape's hidden
    states, and not two arrays more."""
    import tracemalloc

    rng = np.random.default_rng(3)
    h, W, xs = rng.standard_normal((64, 100)), 0.1 * rng.standard_normal((100, 100)), rng.standard_normal((40, 64, 100))
    f = sourcegrad.differentiate(rnn_temporaries, wrt=("h", "W"))
    value, gradients = f.value_and_grad(h, W, xs)
    expected_value, expected = rnn_temporaries_by_hand(h, W, xs)
    np.testing.assert_allclose(value, expected_value, rtol=1e-12)
    for gradient, hand in zip(gradients, expected):
        np.testing.assert_allclose(gradient, hand, rtol=1e-10)
    peaks = []
    for gradient in (lambda: rnn_temporaries_by_hand(h, W, xs), lambda: f.value_and_grad(h, W, xs)):
        tracemalloc.start()
        gradient()
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[1] <= peaks[0] + h.nbytes // 2, f"peak {peaks[1]} bytes against the hand-written {peaks[0]}"


# ==== the shape of the generated code ====================================================================

def _function_body(source):
    tree = ast.parse(source)
    function = next(node for node in tree.body if isinstance(node, ast.FunctionDef))
    return function.body


def _control(statements):
    """The nesting of loops and ifs in a block: a list of ("loop"|"if", [children]), other statements dropped.

    An `if` holding only `break` is dropped too: the generated forward pass may write `while c:` as
    `while True:` with `if not c: break` (and the backward replays it as `for _ in range(n_iterations)`).
    """
    out = []
    for stmt in statements:
        if isinstance(stmt, (ast.For, ast.While)):
            out.append(("loop", _control(stmt.body)))
        elif isinstance(stmt, ast.If) and not stmt.orelse and all(isinstance(s, ast.Break) for s in stmt.body):
            continue
        elif isinstance(stmt, ast.If):
            out.append(("if", _control(stmt.body) + _control(stmt.orelse)))
    return out


def _forward_control(fn):
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    return _control(tree.body[0].body)


@pytest.mark.parametrize("fn", [rnn, branch_on_data_in_loop, elif_in_loop, triangular_nested, one_side_uses_param,
                                nested_ifs, while_with_counter],
                         ids=lambda fn: fn.__name__)
def test_backward_has_the_forward_shape(fn):
    """The generated function is the forward code followed by its mirror: same loops, same ifs, not unrolled."""
    f = sourcegrad.differentiate(fn, wrt=case_wrt(fn))
    f.grad(*case_args(fn))
    forward = _forward_control(fn)
    generated = _control(_function_body(f.backward_source))
    assert generated == forward + forward, f.backward_source


def case_wrt(fn):
    return next(p.values[1] for p in CASES if p.values[0] is fn)


# ==== a temporary of a top-level loop read afterwards ===================================================

def loop_then_an_effect_reads_its_temporary(h, W):
    for t in range(3):
        z = h @ W
        h = np.tanh(z)
    print("the last pre-activation:", z)  # read after the loop by a statement kept for its effect: not let go
    return h.sum()


def test_a_temporary_read_after_the_loop_by_an_effect_is_kept(capsys):
    h, W = rng.standard_normal((4, 5)), 0.3 * rng.standard_normal((5, 5))
    f = sourcegrad.differentiate(loop_then_an_effect_reads_its_temporary, wrt=("h", "W"))
    d_h, d_W = f.grad(h, W)
    printed = capsys.readouterr().out
    assert "pre-activation: [[" in printed and "None" not in printed
    for name, gradient in (("h", d_h), ("W", d_W)):
        numeric = numeric_gradient(loop_then_an_effect_reads_its_temporary, {"h": h, "W": W}, name, 1e-6)
        np.testing.assert_allclose(gradient, numeric, rtol=1e-6, atol=1e-8)


# ==== an integer argument's gradient, gathered row by row in a loop =======================================

def rows_of_an_integer_array(x):
    s = 0.0
    for i in range(3):
        s = s + np.sin(x[i] * 0.7)
    return s


def items_of_an_integer_array(x):
    s = 0.0
    for row in x:
        s = s + np.sin(row * 0.7)
    return s


@pytest.mark.parametrize("fn", [rows_of_an_integer_array, items_of_an_integer_array])
def test_an_integer_arrays_gradient_gathered_in_a_loop_is_a_float(fn):
    """The gradient a loop gathers row by row starts from zeros of a float dtype: zeros of the argument's own
    integer dtype cut each row's float gradient to an integer (0 here), as numpy's setitem casts silently."""
    x = np.array([1, 2, 3])
    gradient = sourcegrad.differentiate(fn).grad(x)
    assert gradient.dtype == np.float64
    np.testing.assert_allclose(gradient, 0.7 * np.cos(0.7 * x))
