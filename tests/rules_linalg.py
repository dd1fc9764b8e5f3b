"""The table of linalg gradient rules: inner, outer, tensordot, einsum, trace, norm, inv, det, solve.

(matmul and dot, the core products, are in test_primitives.py.) test_primitives.py imports TABLE and
runs every entry: float64 against central finite differences, and float32 in gives float32 out.
"""

from __future__ import annotations

import numpy as np

from rule_support import SCALAR, Entry, real, shapes


def rank_deficient(rng, shape):
    """Matrices of rank n - 1 (a stack of them): det is 0 there, but its gradient, the adjugate, is not."""
    left = rng.standard_normal((*shape[:-1], shape[-1] - 1))
    right = rng.standard_normal((*shape[:-2], shape[-1] - 1, shape[-1]))
    return left @ right


def well_conditioned(rng, shape):
    """Matrices 3 I + small noise (a stack of them for more than two axes): far from singular.

    inv, det and solve are smooth only away from singular matrices; there finite differences and the
    float32 comparison stay accurate.
    """
    noise = 0.3 * rng.standard_normal(shape)
    if len(shape) < 2:
        return noise
    return 3.0 * np.eye(shape[-2], shape[-1]) + noise


# ---- inner and outer products ----------------------------------------------------------------


def np_inner(x, y, w):
    return (np.inner(x, y) * w).sum()


def np_outer(x, y, w):
    return (np.outer(x, y) * w).sum()


INNER = shapes(
    [(4,), (4,)],
    [(3, 4), (5, 4)],  # x @ y.T
    [(2, 3, 4), (4,)],
    [(4,), (2, 3, 4)],
    [(2, 3, 4), (5, 4)],
    [(3, 4), ()],  # with a scalar, np.inner is a product
    [SCALAR, (3, 4)],
)
OUTER = shapes(
    [(4,), (5,)],
    [(2, 3), (4,)],  # np.outer flattens both operands
    [(4,), (2, 3)],
    [(), (3,)],
    [(2, 2), (3, 1)],
)


# ---- tensordot -------------------------------------------------------------------------------


def tensordot_default(x, y, w):  # axes=2: the last two axes of x with the first two of y
    return (np.tensordot(x, y) * w).sum()


def tensordot_axes_1(x, y, w):
    return (np.tensordot(x, y, axes=1) * w).sum()


def tensordot_positional(x, y, w):
    return (np.tensordot(x, y, 1) * w).sum()


def tensordot_axes_0(x, y, w):  # an outer product
    return (np.tensordot(x, y, axes=0) * w).sum()


def tensordot_axes_pairs(x, y, w):  # x's axes 1 and 0 with y's axes 0 and 2, in that pairing
    return (np.tensordot(x, y, axes=([1, 0], [0, 2])) * w).sum()


def tensordot_axes_ints(x, y, w):
    return (np.tensordot(x, y, axes=(0, 1)) * w).sum()


def tensordot_axes_negative(x, y, w):
    return (np.tensordot(x, y, axes=([-1], [-2])) * w).sum()


# ---- einsum ----------------------------------------------------------------------------------


def einsum_matmul(x, y, w):
    return (np.einsum("ij,jk->ik", x, y) * w).sum()


def einsum_implicit(x, y, w):  # the output is the letters used once, sorted: 'ik'
    return (np.einsum("ij,jk", x, y) * w).sum()


def einsum_batched(x, y, w):
    return (np.einsum("bij,bjk->bik", x, y) * w).sum()


def einsum_trace(x, w):  # a repeated letter: the gradient goes back onto the diagonal
    return (np.einsum("ii->", x) * w).sum()


def einsum_trace_implicit(x, w):
    return (np.einsum("ii", x) * w).sum()


def einsum_diagonal(x, w):
    return (np.einsum("ii->i", x) * w).sum()


def einsum_transpose(x, w):
    return (np.einsum("ij->ji", x) * w).sum()


def einsum_row_sums(x, w):  # j only in the operand: the gradient is the same along it
    return (np.einsum("ij->i", x) * w).sum()


def einsum_sum_all(x, w):
    return (np.einsum("ijk->", x) * w).sum()


def einsum_dot(x, y, w):
    return (np.einsum("i,i", x, y) * w).sum()


def einsum_outer(x, y, w):
    return (np.einsum("i,j->ij", x, y) * w).sum()


def einsum_product_sum(x, y, w):
    return (np.einsum("ij,ij->", x, y) * w).sum()


def einsum_diagonal_times_vector(x, y, w):  # a repeated letter with a second operand
    return (np.einsum("ii,i->i", x, y) * w).sum()


def einsum_contract_all_of_y(x, y, w):  # y's k is summed only in y
    return (np.einsum("ij,jk->i", x, y) * w).sum()


def einsum_ellipsis(x, y, w):  # broadcast batch axes: the gradient is summed back over them
    return (np.einsum("...ij,...jk->...ik", x, y) * w).sum()


def einsum_ellipsis_diagonal(x, w):
    return (np.einsum("...ii->...i", x) * w).sum()


def einsum_ellipsis_middle(x, w):
    return (np.einsum("i...j->j...i", x) * w).sum()


def einsum_optimize(x, y, w):
    return (np.einsum("ij,jk->ik", x, y, optimize=True) * w).sum()


# ---- trace -----------------------------------------------------------------------------------


def np_trace(x, w):
    return (np.trace(x) * w).sum()


def trace_offset(x, w):
    return (np.trace(x, offset=1) * w).sum()


def trace_negative_offset(x, w):
    return (np.trace(x, -1) * w).sum()


def trace_axes(x, w):  # the trace of each matrix in a stack
    return (np.trace(x, axis1=1, axis2=2) * w).sum()


def trace_swapped_axes(x, w):
    return (np.trace(x, 1, 1, 0) * w).sum()


def trace_method(x, w):
    return (x.trace() * w).sum()


def trace_method_keywords(x, w):
    return (x.trace(offset=1, axis1=1, axis2=0) * w).sum()


# ---- norms -----------------------------------------------------------------------------------


def norm(x, w):
    return (np.linalg.norm(x) * w).sum()


def norm_ord_2(x, w):
    return (np.linalg.norm(x, 2) * w).sum()


def norm_fro(x, w):
    return (np.linalg.norm(x, "fro") * w).sum()


def norm_axis(x, w):
    return (np.linalg.norm(x, axis=1) * w).sum()


def norm_axis_keepdims(x, w):
    return (np.linalg.norm(x, axis=-1, keepdims=True) * w).sum()


def norm_keepdims(x, w):
    return (np.linalg.norm(x, keepdims=True) * w).sum()


def norm_fro_batched(x, w):
    return (np.linalg.norm(x, ord="fro", axis=(1, 2)) * w).sum()


def norm_ord_1(x, w):
    return (np.linalg.norm(x, ord=1) * w).sum()


def norm_ord_3(x, w):
    return (np.linalg.norm(x, ord=3) * w).sum()


def norm_ord_inf(x, w):
    return (np.linalg.norm(x, ord=np.inf) * w).sum()


def norm_ord_0(x, w):  # the count of nonzero entries: its gradient is 0
    return (np.linalg.norm(x, ord=0) * w).sum()


def norm_ord_minus_1(x, w):
    return (np.linalg.norm(x, ord=-1, axis=1) * w).sum()


def norm_ord_2_axis(x, w):
    return (np.linalg.norm(x, ord=2, axis=0) * w).sum()


def norm_nuclear(x, w):
    return (np.linalg.norm(x, "nuc") * w).sum()


def norm_spectral(x, w):  # ord=2 of a matrix: its largest singular value
    return (np.linalg.norm(x, 2) * w).sum()


def norm_spectral_batched(x, w):
    return (np.linalg.norm(x, ord=-2, axis=(2, 1)) * w).sum()


def norm_matrix_ord_1(x, w):
    return (np.linalg.norm(x, ord=1) * w).sum()


def norm_matrix_ord_minus_inf(x, w):  # the smallest sum of absolute values of a row
    return (np.linalg.norm(x, ord=-np.inf) * w).sum()


# ---- inverse, determinant, solve -------------------------------------------------------------


def inv(x, w):
    return (np.linalg.inv(x) * w).sum()


def det(x, w):
    return (np.linalg.det(x) * w).sum()


def det_singular(x, w):
    return (np.linalg.det(x) * w).sum()


def solve(a, b, w):
    return (np.linalg.solve(a, b) * w).sum()


def solve_keywords(a, b, w):
    return (np.linalg.solve(a=a, b=b) * w).sum()


VECTORS = shapes([(5,)], [(3, 4)], [(2, 3, 4)])
SQUARE = shapes([(3, 3)], [(2, 3, 3)], [(2, 1, 4, 4)])
SOLVE = shapes(
    [(3, 3), (3,)],
    [(3, 3), (3, 2)],
    [(2, 3, 3), (2, 3, 2)],
    [(2, 3, 3), (3,)],  # numpy 2: a 1-D b is a vector for every matrix of the stack
    [(2, 3, 3), (3, 2)],  # b broadcast over the stack: its gradient is summed over it
    [(3, 3), (2, 3, 2)],  # a broadcast
    [(2, 3, 3), (2, 3, 1)],
)

TABLE = [
    Entry(np.inner, np_inner, INNER),
    Entry(np.outer, np_outer, OUTER),
    # tensordot
    Entry(np.tensordot, tensordot_default, shapes([(3, 4), (3, 4)], [(2, 3, 4), (3, 4, 5)], [(3, 4, 2), (4, 2)])),
    Entry(np.tensordot, tensordot_axes_1, shapes([(3, 4), (4, 5)], [(2, 3, 4), (4, 5)], [(4,), (4, 2, 3)])),
    Entry(np.tensordot, tensordot_positional, shapes([(3, 4), (4, 5)])),
    Entry(np.tensordot, tensordot_axes_0, shapes([(3,), (4,)], [(2, 3), (4,)])),
    Entry(np.tensordot, tensordot_axes_pairs, shapes([(3, 4, 5), (4, 2, 3)])),
    Entry(np.tensordot, tensordot_axes_ints, shapes([(3, 4), (5, 3)], [(3, 2, 4), (5, 3)])),
    Entry(np.tensordot, tensordot_axes_negative, shapes([(3, 4), (5, 4, 2)])),
    # einsum
    Entry(np.einsum, einsum_matmul, shapes([(3, 4), (4, 5)])),
    Entry(np.einsum, einsum_implicit, shapes([(3, 4), (4, 5)])),
    Entry(np.einsum, einsum_batched, shapes([(2, 3, 4), (2, 4, 5)])),
    Entry(np.einsum, einsum_trace, shapes([(4, 4)])),
    Entry(np.einsum, einsum_trace_implicit, shapes([(4, 4)])),
    Entry(np.einsum, einsum_diagonal, shapes([(4, 4)])),
    Entry(np.einsum, einsum_transpose, shapes([(3, 4)])),
    Entry(np.einsum, einsum_row_sums, shapes([(3, 4)])),
    Entry(np.einsum, einsum_sum_all, shapes([(2, 3, 4)])),
    Entry(np.einsum, einsum_dot, shapes([(4,), (4,)])),
    Entry(np.einsum, einsum_outer, shapes([(3,), (4,)])),
    Entry(np.einsum, einsum_product_sum, shapes([(3, 4), (3, 4)])),
    Entry(np.einsum, einsum_diagonal_times_vector, shapes([(4, 4), (4,)])),
    Entry(np.einsum, einsum_contract_all_of_y, shapes([(3, 4), (4, 5)])),
    Entry(np.einsum, einsum_ellipsis, shapes([(3, 4), (4, 5)], [(2, 3, 4), (4, 5)], [(2, 1, 3, 4), (5, 4, 2)])),
    Entry(np.einsum, einsum_ellipsis_diagonal, shapes([(3, 3)], [(2, 3, 3)])),
    Entry(np.einsum, einsum_ellipsis_middle, shapes([(3, 4)], [(3, 2, 4)], [(3, 2, 5, 4)])),
    Entry(np.einsum, einsum_optimize, shapes([(3, 4), (4, 5)])),
    # trace
    Entry(np.trace, np_trace, shapes([(4, 4)], [(3, 5)], [(3, 3, 2)])),
    Entry(np.trace, trace_offset, shapes([(4, 4)], [(3, 5)])),
    Entry(np.trace, trace_negative_offset, shapes([(4, 4)], [(3, 5)])),
    Entry(np.trace, trace_axes, shapes([(2, 3, 3)], [(2, 3, 4)])),
    Entry(np.trace, trace_swapped_axes, shapes([(3, 5)])),
    Entry(np.trace, trace_method, shapes([(4, 4)], [(3, 3, 2)])),
    Entry(np.trace, trace_method_keywords, shapes([(3, 4)], [(4, 3, 2)])),
    # norm
    Entry(np.linalg.norm, norm, VECTORS),
    Entry(np.linalg.norm, norm_ord_2, shapes([(5,)])),
    Entry(np.linalg.norm, norm_fro, shapes([(3, 4)])),
    Entry(np.linalg.norm, norm_axis, shapes([(3, 4)], [(2, 3, 4)])),
    Entry(np.linalg.norm, norm_axis_keepdims, shapes([(5,)], [(3, 4)], [(2, 3, 4)])),
    Entry(np.linalg.norm, norm_keepdims, shapes([(5,)], [(3, 4)])),
    Entry(np.linalg.norm, norm_fro_batched, shapes([(2, 3, 4)])),
    Entry(np.linalg.norm, norm_ord_1, shapes([(5,)])),
    Entry(np.linalg.norm, norm_ord_3, shapes([(5,)])),
    Entry(np.linalg.norm, norm_ord_inf, shapes([(5,)])),
    Entry(np.linalg.norm, norm_ord_0, shapes([(5,)])),
    Entry(np.linalg.norm, norm_ord_minus_1, shapes([(3, 4)])),
    Entry(np.linalg.norm, norm_ord_2_axis, shapes([(3, 4)])),
    Entry(np.linalg.norm, norm_nuclear, shapes([(3, 4)])),
    Entry(np.linalg.norm, norm_spectral, shapes([(3, 4)])),
    Entry(np.linalg.norm, norm_spectral_batched, shapes([(2, 3, 4)])),
    Entry(np.linalg.norm, norm_matrix_ord_1, shapes([(3, 4)])),
    Entry(np.linalg.norm, norm_matrix_ord_minus_inf, shapes([(3, 4)])),
    # inverse, determinant, solve
    Entry(np.linalg.inv, inv, SQUARE, domain=well_conditioned),
    Entry(np.linalg.det, det, SQUARE, domain=well_conditioned),
    Entry(np.linalg.det, det_singular, SQUARE, domain=rank_deficient),
    Entry(np.linalg.solve, solve, SOLVE, domain=(well_conditioned, real)),
    Entry(np.linalg.solve, solve_keywords, shapes([(3, 3), (3,)]), domain=(well_conditioned, real)),
]
