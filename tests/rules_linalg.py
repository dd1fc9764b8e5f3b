"""The table of linalg gradient rules: inner, outer, tensordot, einsum, kron, cross, trace, norm, inv, det, solve,
pinv and the decompositions (cholesky, slogdet, eigh, qr, svd).

(matmul and dot, the core products, are in test_primitives.py; np.dot above two dimensions is here.)
test_primitives.py imports TABLE and runs every entry: float64 against central finite differences, and
float32 in gives float32 out. The test_ functions at the end check the inputs the rules refuse.
"""

from __future__ import annotations

import operator

import numpy as np
import pytest

import sourcegrad

from rule_support import SCALAR, Entry, real, shapes

# `a, b = np.linalg.eigh(x)` needs the compiler to know that these functions return a tuple of arrays, whose
# gradient is a list (as it knows np.split's); `np.linalg.eigh(x)[1]` works without.


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


def _transposed(m):
    return np.swapaxes(m, -1, -2)


def positive_definite(rng, shape):
    """Symmetric positive definite matrices, eigenvalues at least n: cholesky's (and a hermitian pinv's) domain."""
    m = rng.standard_normal(shape)
    return m @ _transposed(m) + shape[-1] * np.eye(shape[-1])


def _orthonormal_columns(rng, shape):
    q, _ = np.linalg.qr(rng.standard_normal(shape))
    return q


def distinct_eigenvalues(rng, shape):
    """Symmetric matrices with eigenvalues of both signs at least 0.6 apart: eigh is smooth there, and its
    eigenvectors unique up to a sign that numpy keeps under the finite differences' small steps."""
    n = shape[-1]
    q = _orthonormal_columns(rng, shape)
    values = np.arange(n) - n / 2 + rng.uniform(-0.2, 0.2, (*shape[:-2], n))
    return (q * values[..., None, :]) @ _transposed(q)


def distinct_singular_values(rng, shape):
    """Matrices with singular values k, k - 1, ..., 1 (up to 0.2), k the smaller side: svd is smooth there."""
    m, n = shape[-2:]
    k = min(m, n)
    u = _orthonormal_columns(rng, (*shape[:-2], m, k))
    v = _orthonormal_columns(rng, (*shape[:-2], n, k))
    values = np.arange(k, 0, -1) + rng.uniform(-0.2, 0.2, (*shape[:-2], k))
    return (u * values[..., None, :]) @ _transposed(v)


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


def dot_tensors(x, y, w):  # above two dimensions np.dot sums x's last axis with y's second-to-last
    return (np.dot(x, y) * w).sum()


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


def dot_with_a_list_of_numbers(x, w):  # numpy makes the nested list a matrix
    return (np.dot(x, [[1.0, 2.0], [3.0, -4.0]]) * w).sum() + (np.inner(x, ((0.5, 1.0), (2.0, 3.0))) * w).sum()


def matmul_with_a_list_of_numbers(x, w):
    return ((x @ [[1.0, 2.0], [3.0, -4.0]]) * w).sum()


def einsum_number_times_vector(x, y, w):  # a Python number as an operand: the empty term
    return (np.einsum(",i->i", x, y) * w).sum()


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


def einsum_three_operands(x, y, z, w):
    return (np.einsum("ij,jk,kl->il", x, y, z) * w).sum()


def einsum_quadratic_form(x, y, z, w):  # implicit output, every letter summed
    return (np.einsum("i,ij,j", x, y, z) * w).sum()


def einsum_four_operands(x, y, z, t, w):
    return (np.einsum("bi,ij,jk,bk->b", x, y, z, t) * w).sum()


def einsum_interleaved(x, y, w):  # numpy's other form: operands, each followed by its axes' labels
    return (np.einsum(x, [0, 1], y, [1, 2]) * w).sum()


def einsum_interleaved_output(x, y, w):
    return (np.einsum(x, [0, 1], y, [1, 2], [2, 0]) * w).sum()


def einsum_interleaved_trace(x, w):
    return (np.einsum(x, [0, 0]) * w).sum()


def einsum_interleaved_ellipsis(x, w):
    return (np.einsum(x, [Ellipsis, 1], [Ellipsis]) * w).sum()


def einsum_interleaved_three_operands(x, y, z, w):
    return (np.einsum(x, [0, 1], y, [1, 2], z, [2, 3], [0, 3]) * w).sum()


# ---- kron and cross --------------------------------------------------------------------------


def kron(x, y, w):
    return (np.kron(x, y) * w).sum()


def cross(x, y, w):
    return (np.cross(x, y) * w).sum()


def cross_axis(x, y, w):  # the vectors along axis 0 of both, and of the result
    return (np.cross(x, y, axis=0) * w).sum()


def cross_axes(x, y, w):
    return (np.cross(x, y, axisa=0, axisb=-1, axisc=0) * w).sum()


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


# np.linalg.norm of a list: numpy makes the list one array, whose rows are the items


def norm_of_a_list(x, y, w):
    return (np.linalg.norm([x, 2.0 * y, 0.5]) * w).sum()


def norm_of_a_list_of_arrays(x, y, w):
    return (np.linalg.norm([x, y, x * y], axis=0) * w).sum()


def norm_of_a_tuple_ord_1(x, y, w):
    return (np.linalg.norm((x, y), ord=1) * w).sum()


def norm_of_a_list_held_by_a_name(x, y, w):
    items = [x, y * 3.0]
    return (np.linalg.norm(items) * w).sum()


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


def pinv(x, w):
    return (np.linalg.pinv(x) * w).sum()


def pinv_hermitian(x, w):  # numpy reads the lower triangle
    return (np.linalg.pinv(x, hermitian=True) * w).sum()


# ---- decompositions --------------------------------------------------------------------------


def cholesky(x, w):  # numpy reads the lower triangle: the upper one has no gradient
    return (np.linalg.cholesky(x) * w).sum()


def cholesky_upper(x, w):
    return (np.linalg.cholesky(x, upper=True) * w).sum()


def slogdet_logabsdet(x, w):
    return (np.linalg.slogdet(x)[1] * w).sum()


def slogdet_unpacked(x, w):
    sign, logabsdet = np.linalg.slogdet(x)
    return (sign * logabsdet * w).sum()


def eigh_values(x, w):
    return (np.linalg.eigh(x)[0] * w).sum()


def eigh_values_repeated(x, w):
    # outer(x, x) + I has the eigenvalue 1 twice: only the values are read, so the gradient exists
    return (np.linalg.eigh(np.outer(x, x) + np.eye(3))[0] * w).sum()


def svd_values_repeated(x, w):
    return (np.linalg.svd(np.outer(x, x) + np.eye(3))[1] * w).sum()


def eigh_vectors(x, w):
    return (np.linalg.eigh(x)[1] * w).sum()


def eigh_upper(x, w):
    return (np.linalg.eigh(x, UPLO="U")[1] * w).sum()


def eigh_unpacked(x, w):
    values, vectors = np.linalg.eigh(x)
    return ((vectors * values[..., None, :]) * w).sum()


def qr_q(x, w):
    return (np.linalg.qr(x)[0] * w).sum()


def qr_r(x, w):
    return (np.linalg.qr(x)[1] * w).sum()


def qr_mode_r(x, w):  # R alone
    return (np.linalg.qr(x, mode="r") * w).sum()


def qr_complete_square(x, w):  # of a square matrix, the reduced QR
    q, r = np.linalg.qr(x, mode="complete")
    return (q * w).sum() + (r * w).sum()


def qr_unpacked(x, w):
    q, r = np.linalg.qr(x)
    return ((q * np.diag(r)) * w).sum()


def svd_u(x, w):
    return (np.linalg.svd(x, full_matrices=False)[0] * w).sum()


def svd_singular_values(x, w):
    return (np.linalg.svd(x, full_matrices=False)[1] * w).sum()


def svd_vh(x, w):
    return (np.linalg.svd(x, full_matrices=False)[2] * w).sum()


def svd_square_default(x, w):  # full_matrices=True is the same as False for a square matrix
    return (np.linalg.svd(x)[0] * w).sum()


def svd_values_only(x, w):
    return (np.linalg.svd(x, compute_uv=False) * w).sum()


def svd_unpacked(x, w):
    u, s, vh = np.linalg.svd(x, full_matrices=False)
    return ((u * s[..., None, :] ** 2 @ vh) * w).sum()


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
    Entry(np.dot, dot_tensors, shapes([(2, 3, 4), (5, 4, 2)], [(2, 3, 4), (4,)], [(4,), (2, 4, 3)],
                                      [(3, 4), (2, 4, 5)], [(2, 3, 4), (4, 5)],
                                      # a number with a tensor: a product
                                      [SCALAR, (2, 3, 4)], [(2, 3, 4), ()], [(), (2, 3, 4)])),
    Entry(np.inner, np_inner, INNER),
    Entry(np.dot, dot_with_a_list_of_numbers, shapes([(2,)], [(3, 2)])),
    Entry(operator.matmul, matmul_with_a_list_of_numbers, shapes([(2,)], [(3, 2)])),
    Entry(np.outer, np_outer, OUTER),
    # tensordot
    Entry(np.tensordot, tensordot_default, shapes([(3, 4), (3, 4)], [(2, 3, 4), (3, 4, 5)], [(3, 4, 2), (4, 2)])),
    Entry(np.tensordot, tensordot_axes_1, shapes([(3, 4), (4, 5)], [(2, 3, 4), (4, 5)], [(4,), (4, 2, 3)])),
    Entry(np.tensordot, tensordot_positional, shapes([(3, 4), (4, 5)])),
    Entry(np.tensordot, tensordot_axes_0, shapes([(3,), (4,)], [(2, 3), (4,)], [SCALAR, (3,)], [(), (2, 3)], [(3,), ()])),
    Entry(np.tensordot, tensordot_axes_pairs, shapes([(3, 4, 5), (4, 2, 3)])),
    Entry(np.tensordot, tensordot_axes_ints, shapes([(3, 4), (5, 3)], [(3, 2, 4), (5, 3)])),
    Entry(np.tensordot, tensordot_axes_negative, shapes([(3, 4), (5, 4, 2)])),
    # einsum
    # size-1 named axes broadcast as in arithmetic: the gradient is summed back, or spread over the other's size
    Entry(np.einsum, einsum_matmul, shapes([(3, 4), (4, 5)], [(3, 1), (4, 5)], [(3, 4), (1, 5)])),
    Entry(np.einsum, einsum_number_times_vector, shapes([SCALAR, (3,)], [(), (3,)])),
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
    Entry(np.einsum, einsum_product_sum, shapes([(3, 4), (3, 4)], [(1, 4), (3, 1)])),
    Entry(np.einsum, einsum_diagonal_times_vector, shapes([(4, 4), (4,)], [(1, 1), (4,)], [(4, 4), (1,)])),
    Entry(np.einsum, einsum_contract_all_of_y, shapes([(3, 4), (4, 5)])),
    Entry(np.einsum, einsum_ellipsis, shapes([(3, 4), (4, 5)], [(2, 3, 4), (4, 5)], [(2, 1, 3, 4), (5, 4, 2)])),
    Entry(np.einsum, einsum_ellipsis_diagonal, shapes([(3, 3)], [(2, 3, 3)])),
    Entry(np.einsum, einsum_ellipsis_middle, shapes([(3, 4)], [(3, 2, 4)], [(3, 2, 5, 4)])),
    Entry(np.einsum, einsum_optimize, shapes([(3, 4), (4, 5)])),
    Entry(np.einsum, einsum_three_operands, shapes([(2, 3), (3, 4), (4, 5)])),
    Entry(np.einsum, einsum_quadratic_form, shapes([(3,), (3, 4), (4,)])),
    Entry(np.einsum, einsum_four_operands, shapes([(2, 3), (3, 4), (4, 5), (2, 5)])),
    Entry(np.einsum, einsum_interleaved, shapes([(2, 3), (3, 4)])),
    Entry(np.einsum, einsum_interleaved_output, shapes([(2, 3), (3, 4)])),
    Entry(np.einsum, einsum_interleaved_trace, shapes([(4, 4)])),
    Entry(np.einsum, einsum_interleaved_ellipsis, shapes([(3, 4)], [(2, 3, 4)])),
    Entry(np.einsum, einsum_interleaved_three_operands, shapes([(2, 3), (3, 4), (4, 5)])),
    # kron and cross
    Entry(np.kron, kron, shapes([(2, 3), (4, 2)], [(3,), (2, 2)], [(2, 2, 2), (3,)], [SCALAR, (3,)], [(2,), ()])),
    Entry(np.cross, cross, shapes([(3,), (3,)], [(4, 3), (3,)], [(2, 1, 3), (4, 3)])),
    Entry(np.cross, cross_axis, shapes([(3, 4), (3, 4)], [(3, 2, 4), (3, 1, 4)])),
    Entry(np.cross, cross_axes, shapes([(3, 4), (4, 3)])),
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
    Entry(np.linalg.norm, norm_of_a_list, shapes([SCALAR, SCALAR], [(), ()], [SCALAR, ()])),
    Entry(np.linalg.norm, norm_of_a_list_of_arrays, shapes([(3,), (3,)], [(2, 3), (2, 3)], [(), ()])),
    Entry(np.linalg.norm, norm_of_a_tuple_ord_1, shapes([SCALAR, SCALAR], [(3,), (3,)])),
    Entry(np.linalg.norm, norm_of_a_list_held_by_a_name, shapes([SCALAR, ()], [(3,), (3,)], [(2, 3), (2, 3)])),
    # inverse, determinant, solve
    Entry(np.linalg.inv, inv, SQUARE, domain=well_conditioned),
    Entry(np.linalg.det, det, SQUARE, domain=well_conditioned),
    Entry(np.linalg.det, det_singular, SQUARE, domain=rank_deficient),
    Entry(np.linalg.solve, solve, SOLVE, domain=(well_conditioned, real)),
    Entry(np.linalg.solve, solve_keywords, shapes([(3, 3), (3,)]), domain=(well_conditioned, real)),
    Entry(np.linalg.pinv, pinv, shapes([(3, 3)], [(5, 3)], [(3, 4)], [(2, 4, 3)]), domain=well_conditioned),
    Entry(np.linalg.pinv, pinv_hermitian, shapes([(3, 3)], [(2, 4, 4)]), domain=positive_definite),
    # decompositions
    Entry(np.linalg.cholesky, cholesky, SQUARE, domain=positive_definite),
    Entry(np.linalg.cholesky, cholesky_upper, shapes([(3, 3)], [(2, 3, 3)]), domain=positive_definite),
    Entry(np.linalg.slogdet, slogdet_logabsdet, SQUARE, domain=well_conditioned),
    Entry(np.linalg.slogdet, slogdet_unpacked, shapes([(3, 3)]), domain=well_conditioned),
    Entry(np.linalg.eigh, eigh_values, SQUARE, domain=distinct_eigenvalues),
    Entry(np.linalg.eigh, eigh_values_repeated, shapes([(3,)])),
    Entry(np.linalg.svd, svd_values_repeated, shapes([(3,)])),
    Entry(np.linalg.eigh, eigh_vectors, SQUARE, domain=distinct_eigenvalues),
    Entry(np.linalg.eigh, eigh_upper, shapes([(3, 3)], [(2, 4, 4)]), domain=distinct_eigenvalues),
    Entry(np.linalg.eigh, eigh_unpacked, shapes([(3, 3)]), domain=distinct_eigenvalues),
    Entry(np.linalg.qr, qr_q, shapes([(3, 3)], [(5, 3)], [(2, 4, 3)]), domain=well_conditioned),
    Entry(np.linalg.qr, qr_r, shapes([(3, 3)], [(5, 3)], [(2, 4, 3)]), domain=well_conditioned),
    Entry(np.linalg.qr, qr_unpacked, shapes([(4, 3)]), domain=well_conditioned),
    Entry(np.linalg.qr, qr_mode_r, shapes([(3, 3)], [(5, 3)], [(2, 4, 3)]), domain=well_conditioned),
    Entry(np.linalg.qr, qr_complete_square, shapes([(3, 3)], [(2, 4, 4)]), domain=well_conditioned),
    Entry(np.linalg.svd, svd_u, shapes([(3, 3)], [(5, 3)], [(3, 5)], [(2, 4, 3)]), domain=distinct_singular_values),
    Entry(np.linalg.svd, svd_singular_values, shapes([(3, 3)], [(5, 3)], [(3, 5)], [(2, 4, 3)]),
          domain=distinct_singular_values),
    Entry(np.linalg.svd, svd_vh, shapes([(3, 3)], [(5, 3)], [(3, 5)], [(2, 4, 3)]), domain=distinct_singular_values),
    Entry(np.linalg.svd, svd_square_default, shapes([(3, 3)]), domain=distinct_singular_values),
    Entry(np.linalg.svd, svd_values_only, shapes([(3, 3)], [(5, 3)], [(2, 3, 4)]), domain=distinct_singular_values),
    Entry(np.linalg.svd, svd_unpacked, shapes([(4, 3)]), domain=distinct_singular_values),
]


# ---- what the rules refuse, with the way out ----------------------------------------------------------


def cross_of_pairs(x, y):
    return np.cross(x, y).sum()


def qr_wide(x):
    return np.linalg.qr(x)[0].sum()


def qr_complete_tall(x):  # the columns beyond the reduced Q's are not unique
    return np.linalg.qr(x, mode="complete")[0].sum()


def svd_full_matrices(x):
    return np.linalg.svd(x)[0].sum()


def svd_hermitian(x):
    return np.linalg.svd(x, hermitian=True)[1].sum()


@pytest.mark.filterwarnings("ignore:Arrays of 2-dimensional vectors are deprecated")
def test_cross_of_2_element_vectors_is_refused(generated_dir):
    f = sourcegrad.differentiate(cross_of_pairs, wrt=("x", "y"), generated_dir=generated_dir)
    with pytest.raises(sourcegrad.SourcegradError, match="2-element vectors"):
        f.grad(np.array([1.0, 2.0]), np.array([3.0, 5.0]))


@pytest.mark.parametrize("fn, shape, message", [
    (qr_wide, (3, 5), "mode='reduced' or 'r' of a square or tall matrix"),
    (qr_complete_tall, (5, 3), "mode='complete' are not unique"),
    (svd_full_matrices, (4, 3), "full_matrices=False"),
    (svd_hermitian, (3, 3), "hermitian=True"),
], ids=["qr_wide", "qr_complete_tall", "svd_full_matrices", "svd_hermitian"])
def test_decompositions_without_a_unique_gradient_are_refused(fn, shape, message, generated_dir):
    f = sourcegrad.differentiate(fn, wrt=("x",), generated_dir=generated_dir)
    x = well_conditioned(np.random.default_rng(0), shape)
    if fn is svd_hermitian:
        x = x + x.T
    with pytest.raises(sourcegrad.SourcegradError, match=message):
        f.grad(x)
