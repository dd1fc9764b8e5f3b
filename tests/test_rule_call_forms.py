"""Gradient rules on the spellings users write beyond the rule table's: arguments by position where numpy
takes keywords, keywords where it takes positions, lists and numpy integers as arguments, vectors against
batches, and the edge cases of each rule (a size-one axis, a power of zero, crossed clip bounds, an empty
axis, bounds that are None at run time). Each is checked against float64 central finite differences.
"""

import numpy as np
import pytest

import sourcegrad

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


FORMS = [
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
]


@pytest.mark.parametrize("fn, make_args, wrt", FORMS, ids=[c[0].__name__ for c in FORMS])
def test_gradient_matches_finite_differences(fn, make_args, wrt, device):
    assert sourcegrad.check_grad(fn, *make_args(), wrt=wrt, device=device).max_error < 1e-6


def test_mean_of_an_integer_array_has_a_fractional_gradient():
    def mean_int(x):
        return x.mean()

    np.testing.assert_allclose(sourcegrad.differentiate(mean_int).grad(np.array([1, 2, 3, 4])), [0.25] * 4)


# ---- edge cases of the rules ----------------------------------------------------------------------------------

def std_of_a_size_one_axis(x):
    return np.std(x, axis=1).sum()


def power_zero(x):
    return (x ** 0).sum() + (x * x).sum()


def clip_crossed_bounds(x, lo):
    return np.clip(x, lo, -0.5).sum()


def axis_as_numpy_integer(x):
    return np.sum(x, axis=np.int64(1)).sum() + np.linalg.norm(x, axis=np.int64(1)).sum()


def concatenate_flat(x, y):
    return (np.concatenate([x, y], axis=None) ** 2).sum()


def hstack_with_a_scalar(x, y):
    return (np.hstack([x, y]) ** 2).sum()


def tile_with_array_reps(x):
    return (np.tile(x, np.array([2, 2])) ** 2).sum()


def partition_kth_as_numpy_integers(x):
    return (np.partition(x, np.array([0, 2]), axis=np.int64(0)) * np.arange(12.0).reshape(4, 3)).sum()


def diagonal_by_position(x):
    return (np.diagonal(x, 1, 0, 2) ** 2).sum() + (x.diagonal(axis1=1, axis2=2, offset=-1) * 3.0).sum()


def nan_to_num_copy_known_at_run_time(x, copy):
    return (np.nan_to_num(x * 2.0, copy=copy) ** 2).sum()


def diff_with_a_constant_list_prepended(x):
    return (np.diff(x, prepend=[0.5], append=np.array([1.0, 2.0])) ** 2).sum()


def norm_of_a_list_over_a_numpy_integer_axis(x, y):
    return np.linalg.norm([x, y * 2.0], axis=np.int64(0)).sum()


@pytest.mark.parametrize("fn, make_args, wrt", [
    (std_of_a_size_one_axis, lambda: (rng.standard_normal((3, 1)),), ("x",)),
    (power_zero, lambda: (np.array([0.0, 2.0, -1.5]),), ("x",)),
    (clip_crossed_bounds, lambda: (rng.standard_normal(4), 0.5), ("x", "lo")),
    (axis_as_numpy_integer, lambda: (rng.standard_normal((2, 3)),), ("x",)),
    (concatenate_flat, lambda: (rng.standard_normal((2, 2)), rng.standard_normal(3)), ("x", "y")),
    (hstack_with_a_scalar, lambda: (np.array(1.5), rng.standard_normal(3)), ("x", "y")),
    (tile_with_array_reps, lambda: (rng.standard_normal(3),), ("x",)),
    (partition_kth_as_numpy_integers, lambda: (rng.standard_normal((4, 3)),), ("x",)),
    (diagonal_by_position, lambda: (rng.standard_normal((3, 4, 4)),), ("x",)),
    (nan_to_num_copy_known_at_run_time, lambda: (np.array([0.5, np.nan, -1.0, np.nan]), True), ("x",)),
    (diff_with_a_constant_list_prepended, lambda: (rng.standard_normal(4),), ("x",)),
    (norm_of_a_list_over_a_numpy_integer_axis, lambda: (rng.standard_normal(3), rng.standard_normal(3)), ("x", "y")),
], ids=lambda v: getattr(v, "__name__", ""))
def test_rule_edge_cases(fn, make_args, wrt, device):
    if device == "dask" and fn is diagonal_by_position:  # the user's `x.diagonal()`: dask's arrays have no such method
        with pytest.raises(sourcegrad.SourcegradError, match="no attribute 'diagonal'"):
            sourcegrad.check_grad(fn, *make_args(), wrt=wrt, device=device)
        return
    report = sourcegrad.check_grad(fn, *make_args(), wrt=wrt, device=device)
    assert report.max_error < 1e-6 and np.isfinite(report.max_error)


def test_mean_of_an_empty_axis_is_nan_not_an_exception():
    def empty_mean(x):
        return np.mean(x, axis=1).sum()

    with np.errstate(invalid="ignore", divide="ignore"):
        gradient = sourcegrad.differentiate(empty_mean).grad(np.zeros((3, 0)))
    assert gradient.shape == (3, 0)


def clip_with_a_variable_bound(x, lo, hi):
    return np.clip(x, lo, hi).sum()


def test_clip_bounds_that_are_none_at_run_time():
    x = np.array([-1.3, 0.2, 0.9])
    f = sourcegrad.differentiate(clip_with_a_variable_bound, wrt="x")
    np.testing.assert_allclose(f.grad(x, None, 0.5), [1.0, 1.0, 0.0])
    np.testing.assert_allclose(f.grad(x, -0.5, None), [0.0, 1.0, 1.0])


def nan_to_num_in_place(x):
    y = x * 2.0
    return np.nan_to_num(y, copy=False).sum()


def clip_without_bounds(w):
    return np.sum(np.clip(w, None, None) ** 2)  # numpy 2 takes it: a copy


def test_clip_without_either_bound_is_a_copy():
    w = np.array([1.0, -2.0, 0.5])
    assert sourcegrad.check_grad(clip_without_bounds, w)
    value, derivative = sourcegrad.differentiate(clip_without_bounds).jvp((w,), (np.ones(3),))
    np.testing.assert_allclose(derivative, np.sum(2 * w))


def test_nan_to_num_in_place_is_refused():
    # copy=False writes into y, so the backward pass would no longer see where its nan were
    for fn, args in ((nan_to_num_in_place, ()), (nan_to_num_copy_known_at_run_time, (False,))):
        with pytest.raises(sourcegrad.SourcegradError, match="copy=False"):
            sourcegrad.differentiate(fn, wrt="x").grad(np.array([1.0, np.nan]), *args)


# ---- masks combined with `&`, `|` and `^`: no gradient of their own, the selection they make has one -----------

def masks_combined_with_bitwise_operators(x, y):
    inside = (x > 0) & (y < 1) | (x > 1.5)
    differ = (x > 0) ^ (y > 0)
    return np.where(inside, x ** 2 * y, x).sum() + np.where(differ, y, 0.0).sum()


def test_masks_combined_with_bitwise_operators_match_finite_differences():
    x, y = np.linspace(-1, 2, 7) + 0.01, np.linspace(-0.5, 1.5, 7) + 0.02
    assert sourcegrad.check_grad(masks_combined_with_bitwise_operators, x, y, wrt=("x", "y"))
    t = rng.standard_normal(7)
    _, derivative = sourcegrad.jvp(masks_combined_with_bitwise_operators, (x, y), (t, None))
    eps = 1e-6
    numeric = (masks_combined_with_bitwise_operators(x + eps * t, y)
               - masks_combined_with_bitwise_operators(x - eps * t, y)) / (2 * eps)
    assert derivative == pytest.approx(numeric, rel=1e-6)


# ---- decompositions that read one triangle, at a matrix whose triangles differ ----------------------------------
# numpy's hermitian pinv, cholesky and eigh read the lower triangle (eigh's UPLO chooses): the gradient of the other
# triangle is 0, and the read triangle's gradient must come from the symmetric matrix numpy built from it, not
# from the matrix as passed. The rule table samples symmetric matrices, where both readings agree.

def pinv_hermitian_of_a_lopsided_matrix(x, w):
    return (np.linalg.pinv(x, hermitian=True) * w).sum()


def cholesky_of_a_lopsided_matrix(x, w):
    return (np.linalg.cholesky(x) * w).sum()


def eigh_of_a_lopsided_matrix(x, w):
    values, vectors = np.linalg.eigh(x)
    return (values * w[0]).sum() + (vectors * w).sum()


def _lopsided(n=3):
    """A symmetric positive definite matrix with its upper triangle then changed: numpy reads the lower one."""
    a = rng.standard_normal((n, n))
    spd = a @ a.T + n * np.eye(n)
    return spd + np.triu(rng.standard_normal((n, n)), 1)


@pytest.mark.parametrize("fn", [pinv_hermitian_of_a_lopsided_matrix, cholesky_of_a_lopsided_matrix,
                                eigh_of_a_lopsided_matrix], ids=lambda fn: fn.__name__)
def test_one_triangle_decompositions_at_a_matrix_whose_triangles_differ(fn):
    x, w = _lopsided(), rng.standard_normal((3, 3))
    check = sourcegrad.check_grad(fn, x, w, wrt="x")
    assert check, check.explain()
    gradient = sourcegrad.grad(fn, wrt="x")(x, w)
    np.testing.assert_array_equal(np.triu(gradient, 1), 0.0)


# ---- dtype= that makes integers: numpy casts, so nothing reaches the result through that call ------------------

def reduces_and_joins_with_an_integer_dtype(w):
    s = np.sum(w * 3.3, dtype=int)
    c = np.cumsum(w * 4.1, dtype=np.int64)
    p = np.prod(w * 3.3 + 5.0, dtype="int64")
    j = np.concatenate([w * 3.3, w * 2.2], dtype=int, casting="unsafe")
    kept = np.sum(w * w, dtype=np.float64)
    return s * np.sum(w) + np.sum(c * w) + 1e-3 * p * np.sum(w) + np.sum(j * np.tile(w, 2)) + kept


def samples_integers_between_end_points(a):
    return np.sum(np.linspace(a[0] * 5.0, a[1] * 5.0, 4, dtype=int) * a[0]) + np.sum(a ** 2)


def integer_dtype_held_by_a_name_spelled_like_a_float(w):
    f8 = np.int64  # a local name spelled like numpy's "f8": what it holds decides, not how it is spelled
    return np.sum(np.cumsum(w * 2.7, dtype=f8) * w)


@pytest.mark.parametrize("fn, args", [
    (reduces_and_joins_with_an_integer_dtype, (np.array([0.37, -1.21, 0.83]),)),
    (samples_integers_between_end_points, (np.array([0.37, 1.21]),)),
    (integer_dtype_held_by_a_name_spelled_like_a_float, (np.array([0.3, 0.9, 1.4]),)),
], ids=lambda v: getattr(v, "__name__", ""))
def test_an_integer_dtype_keyword_passes_no_gradient(fn, args, tmp_path):
    f = sourcegrad.differentiate(fn, generated_dir=tmp_path)
    assert sourcegrad.check_grad(f, *args)
    tangent = np.array([0.3, -0.2, 0.5])[: args[0].size]
    expected = float(np.sum(f.grad(*args) * tangent))
    _, along = sourcegrad.jvp(f, args, (tangent,))
    np.testing.assert_allclose(along, expected, rtol=1e-10)
    moved = [sourcegrad.grad(fn)(args[0] + s * 1e-6 * tangent) for s in (1, -1)]
    np.testing.assert_allclose(f.hvp(args, (tangent,)), (moved[0] - moved[1]) / 2e-6, rtol=1e-5, atol=1e-6)
