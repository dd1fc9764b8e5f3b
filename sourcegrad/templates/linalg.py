"""Gradient rules for linear algebra: products, einsum, trace, norms, inverse, determinant, solve, decompositions.

For two matrices the adjoints are written out as a person would write them,
`d_y @ w.T` and `x.T @ d_y`; other ranks (vectors, batches) and arguments known
only when the code runs go through the runtime helpers of sourcegrad/runtime/linalg.py.
"""

import operator

import numpy as np

from ..runtime import dot_grad_left, dot_grad_right, matmul_grad_left, matmul_grad_right
from ..runtime.linalg import (cholesky_grad, cholesky_jvp, cholesky_jvp_grad, cross_grad_left, cross_grad_right,
                              det_grad, det_jvp, det_jvp_grad, dot_nd_grad_left, dot_nd_grad_right, eigh_grad, eigh_jvp,
                              eigh_jvp_grad, einsum_grad, einsum_operand_grad, einsum_operand_jvp, einsum_operand_jvp_grad,
                              inner_grad_left,
                              inner_grad_right, kron_grad_left, kron_grad_right, norm_divisor, norm_grad, norm_jvp, norm_jvp_grad,
                              outer_grad_left, outer_grad_right, pinv_grad, pinv_jvp, pinv_jvp_grad_matrix,
                              pinv_jvp_grad_result, qr_grad, qr_jvp, qr_jvp_grad_matrix, qr_jvp_grad_result,
                              slogdet_grad, slogdet_jvp, slogdet_jvp_grad, solve_grad_left, solve_grad_right, solve_jvp,
                              solve_jvp_grad_result, svd_grad, svd_jvp, svd_jvp_grad_matrix, svd_jvp_grad_result,
                              swap_last_axes, tensordot_grad_left, tensordot_grad_right, trace_grad)
from .registry import adjoint, d, describe, method, ndim, tangent

# ---- matrix products -------------------------------------------------------------------------


# For two matrices the adjoints are written as a person would, with transposed views (no copies) and
# the product the user wrote: `d_y @ w.T` for `x @ w`, and the tutorial's own `grad_y_pred.dot(w2.T)`
# for `h_relu.dot(w2)`. The two cost differently: `.dot` less per call on tiny matrices, where a step is
# all per-call costs, `@` less once an operand is a transposed matrix of some size (benchmarks/README.md).
@adjoint(operator.matmul, np.matmul, new_array=True, out=True, rank="batched product")
def matmul(result, x, y):
    if ndim(x) == 2 and ndim(y) == 2:
        d[x] = d[result] @ y.T
        d[y] = x.T @ d[result]
    else:
        d[x] = matmul_grad_left(d[result], x, y)
        d[y] = matmul_grad_right(d[result], x, y)


@tangent(operator.matmul, np.matmul)
def matmul_tangent(result, x, y):
    d[result] = d[x] @ y
    d[result] = x @ d[y]


@adjoint(np.dot, new_array=True, out=True, rank="product")
def dot(result, x, y):
    if ndim(x) == 2 and ndim(y) == 2:
        d[x] = d[result].dot(y.T)
        d[y] = x.T.dot(d[result])
    elif ndim(x) <= 2 and ndim(y) <= 2:
        d[x] = dot_grad_left(d[result], x, y)
        d[y] = dot_grad_right(d[result], x, y)
    else:  # above two dimensions (np.dot is then a tensordot, not a batched matmul), or ranks unknown
        d[x] = dot_nd_grad_left(d[result], x, y)
        d[y] = dot_nd_grad_right(d[result], x, y)


@tangent(np.dot)
def dot_tangent(result, x, y):
    if ndim(x) >= 1 and ndim(y) >= 1:
        d[result] = d[x].dot(y)
        d[result] = x.dot(d[y])
    else:
        d[result] = np.dot(d[x], y)
        d[result] = np.dot(x, d[y])


# ---- inner and outer products ----------------------------------------------------------------


@adjoint(np.inner, new_array=True)
def inner(result, a, b):
    if ndim(a) == 1 and ndim(b) == 1:
        d[a] = d[result] * b
        d[b] = d[result] * a
    elif ndim(a) == 2 and ndim(b) == 2:  # np.inner(a, b) is a @ b.T
        d[a] = d[result] @ b
        d[b] = d[result].T @ a
    else:
        d[a] = inner_grad_left(d[result], a, b)
        d[b] = inner_grad_right(d[result], a, b)


@tangent(np.inner)
def inner_tangent(result, a, b):
    d[result] = np.inner(d[a], b)
    d[result] = np.inner(a, d[b])


@adjoint(np.outer, new_array=True)
def outer(result, a, b, out=None):
    if ndim(a) == 1 and ndim(b) == 1:
        d[a] = d[result] @ b
        d[b] = a @ d[result]
    else:  # np.outer flattens its operands first
        d[a] = outer_grad_left(d[result], a, b)
        d[b] = outer_grad_right(d[result], a, b)


@tangent(np.outer)
def outer_tangent(result, a, b, out=None):
    d[result] = np.outer(d[a], b)
    d[result] = np.outer(a, d[b])


# ---- tensordot and einsum --------------------------------------------------------------------


@adjoint(np.tensordot, new_array=True)
def tensordot(result, a, b, axes=2):
    if ndim(a) == 2 and ndim(b) == 2 and axes == 1:  # a @ b
        d[a] = d[result] @ b.T
        d[b] = a.T @ d[result]
    elif ndim(a) == 2 and ndim(b) == 2 and axes == 2:  # (a * b).sum()
        d[a] = d[result] * b
        d[b] = d[result] * a
    else:
        d[a] = tensordot_grad_left(d[result], a, b, axes)
        d[b] = tensordot_grad_right(d[result], a, b, axes)


@tangent(np.tensordot)
def tensordot_tangent(result, a, b, axes=2):
    d[result] = np.tensordot(d[a], b, axes)
    d[result] = np.tensordot(a, d[b], axes)


# np.einsum('ij,jk->ik', x, y): the adjoint of an operand is another einsum, of the output gradient with
# the other operands, written to that operand's subscripts (einsum_grad; it also handles repeated letters
# such as the trace 'ii->'). Up to six operands; and numpy's interleaved form, einsum(x, [0, 1], y, [1, 2]),
# which binds its first operand to `subscripts` and its sublists to operands: einsum_operand_grad takes the
# call's positional arguments as they come and tells the two forms apart when it runs.
@adjoint(np.einsum)
def einsum(result, subscripts, x, y=None, z=None, t=None, u=None, v=None, /, *, out=None, dtype=None, order="K",
           casting="safe", optimize=False):
    if y is None:
        d[x] = einsum_grad(d[result], subscripts, 0, x)
        d[subscripts] = einsum_operand_grad(d[result], 0, subscripts, x)
    elif z is None:
        d[x] = einsum_grad(d[result], subscripts, 0, x, y)
        d[y] = einsum_grad(d[result], subscripts, 1, x, y)
        d[subscripts] = einsum_operand_grad(d[result], 0, subscripts, x, y)
    else:
        d[subscripts] = einsum_operand_grad(d[result], 0, subscripts, x, y, z, t, u, v)
        d[x] = einsum_operand_grad(d[result], 1, subscripts, x, y, z, t, u, v)
        d[y] = einsum_operand_grad(d[result], 2, subscripts, x, y, z, t, u, v)
        d[z] = einsum_operand_grad(d[result], 3, subscripts, x, y, z, t, u, v)
        d[t] = einsum_operand_grad(d[result], 4, subscripts, x, y, z, t, u, v)
        d[u] = einsum_operand_grad(d[result], 5, subscripts, x, y, z, t, u, v)
        d[v] = einsum_operand_grad(d[result], 6, subscripts, x, y, z, t, u, v)


# einsum is linear in each operand: an operand's contribution is the einsum with its tangent in its place. In the
# interleaved form the operands sit at other positions (the first in `subscripts`), which only the last branch,
# the one for every form, takes.
@tangent(np.einsum)
def einsum_tangent(result, subscripts, x, y=None, z=None, t=None, u=None, v=None, /, *, out=None, dtype=None,
                   order="K", casting="safe", optimize=False):
    if y is None:
        d[result] = np.einsum(subscripts, d[x])
        d[result] = np.einsum(d[subscripts], x)
    elif z is None:
        d[result] = np.einsum(subscripts, d[x], y)
        d[result] = np.einsum(subscripts, x, d[y])
        d[result] = np.einsum(d[subscripts], x, y)
    else:
        d[result] = einsum_operand_jvp(d[subscripts], 0, subscripts, x, y, z, t, u, v)
        d[result] = einsum_operand_jvp(d[x], 1, subscripts, x, y, z, t, u, v)
        d[result] = einsum_operand_jvp(d[y], 2, subscripts, x, y, z, t, u, v)
        d[result] = einsum_operand_jvp(d[z], 3, subscripts, x, y, z, t, u, v)
        d[result] = einsum_operand_jvp(d[t], 4, subscripts, x, y, z, t, u, v)
        d[result] = einsum_operand_jvp(d[u], 5, subscripts, x, y, z, t, u, v)
        d[result] = einsum_operand_jvp(d[v], 6, subscripts, x, y, z, t, u, v)


# for hvp: the tangent's gradient is its operand's own; every other operand's is einsum's gradient with the tangent
# in place `position` (einsum_operand_jvp_grad), the replaced one's zero
@adjoint(einsum_operand_jvp)
def einsum_operand_jvp_rule(out, tangent, position, subscripts, x, y, z, t, u, v):
    d[tangent] = einsum_operand_grad(d[out], position, subscripts, x, y, z, t, u, v)
    d[subscripts] = einsum_operand_jvp_grad(d[out], 0, position, tangent, subscripts, x, y, z, t, u, v)
    d[x] = einsum_operand_jvp_grad(d[out], 1, position, tangent, subscripts, x, y, z, t, u, v)
    d[y] = einsum_operand_jvp_grad(d[out], 2, position, tangent, subscripts, x, y, z, t, u, v)
    d[z] = einsum_operand_jvp_grad(d[out], 3, position, tangent, subscripts, x, y, z, t, u, v)
    d[t] = einsum_operand_jvp_grad(d[out], 4, position, tangent, subscripts, x, y, z, t, u, v)
    d[u] = einsum_operand_jvp_grad(d[out], 5, position, tangent, subscripts, x, y, z, t, u, v)
    d[v] = einsum_operand_jvp_grad(d[out], 6, position, tangent, subscripts, x, y, z, t, u, v)


# ---- kron and cross ----------------------------------------------------------------------------


@adjoint(np.kron, new_array=True)
def kron(result, a, b):
    d[a] = kron_grad_left(d[result], a, b)
    d[b] = kron_grad_right(d[result], a, b)


@tangent(np.kron)
def kron_tangent(result, a, b):
    d[result] = np.kron(d[a], b)
    d[result] = np.kron(a, d[b])


# Vectors of three elements, along any axes (np.cross of 2-element vectors, deprecated, is refused when it runs).
@adjoint(np.cross, new_array=True)
def cross(result, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    d[a] = cross_grad_left(d[result], a, b, axisa, axisb, axisc, axis)
    d[b] = cross_grad_right(d[result], a, b, axisa, axisb, axisc, axis)


@tangent(np.cross)
def cross_tangent(result, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    d[result] = np.cross(d[a], b, axisa, axisb, axisc, axis)
    d[result] = np.cross(a, d[b], axisa, axisb, axisc, axis)


# ---- trace -------------------------------------------------------------------------------------


@adjoint(np.trace, new_array=True)
def trace(result, a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    if ndim(a) == 2 and axis1 == 0 and axis2 == 1:
        d[a] = d[result] * np.eye(a.shape[0], a.shape[1], k=offset, dtype=a.dtype)
    else:
        d[a] = trace_grad(d[result], a, offset, axis1, axis2)


@tangent(np.trace)
def trace_tangent(result, a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    if offset == 0 and axis1 == 0 and axis2 == 1:
        d[result] = np.trace(d[a])
    else:
        d[result] = np.trace(d[a], offset, axis1, axis2)


method("trace", np.trace)


# ---- norms -------------------------------------------------------------------------------------
# At x = 0 the 2-norm has no derivative; the rules return 0 there (the shortest subgradient), never nan:
# norm_divisor(result) is the norm with 1 in place of 0, and x is 0 wherever the norm is. norm_grad
# takes every other ord numpy accepts (p-norms, max norms, nuclear and spectral norms), and a list of arrays or
# numbers, which numpy makes one array (a list has no rank here, so `ndim(x) >= 0` sends it to norm_grad).


@adjoint(np.linalg.norm, new_array=True, rank="reduction")
def norm(result, x, ord=None, axis=None, keepdims=False):
    if axis is None and ndim(x) >= 0 and (ord is None or ord == "fro" or (ord == 2 and ndim(x) == 1)):
        d[x] = d[result] / norm_divisor(result) * x
    else:
        d[x] = norm_grad(d[result], result, x, ord, axis, keepdims)


@tangent(np.linalg.norm)
def norm_tangent(result, x, ord=None, axis=None, keepdims=False):
    if (axis is None and keepdims == False and ndim(x) >= 1  # noqa: E712
            and (ord is None or ord == "fro" or (ord == 2 and ndim(x) == 1))):
        d[result] = (x * d[x]).sum() / norm_divisor(result)
    elif (ord is None or ord == "fro") and ndim(x) >= 1:  # 2-norms along axis, Frobenius norms over two
        d[result] = np.sum(x * d[x], axis=axis, keepdims=keepdims) / norm_divisor(result)
    else:
        d[result] = norm_jvp(d[x], result, x, ord, axis, keepdims)


# for hvp: linear in the tangent (the norm's own gradient); x's and the norm's terms are the p-norms' second
# derivatives, zero for the piecewise linear norms
@adjoint(norm_jvp)
def norm_jvp_rule(out, tangent, norm, x, ord, axis, keepdims):
    d[tangent] = norm_grad(d[out], norm, x, ord, axis, keepdims)
    d[x] = norm_jvp_grad(d[out], tangent, norm, x, ord, axis, keepdims, "x")
    d[norm] = norm_jvp_grad(d[out], tangent, norm, x, ord, axis, keepdims, "norm")


@adjoint(norm_divisor)  # for hvp: the norm itself wherever it has a derivative (it moves only the point 0)
def norm_divisor_rule(result, norm):
    d[norm] = d[result]


# norm + (norm == 0): the norm's own rank, which hvp needs to unpack what it divides (`w1, x1 = q / |q|`'s tangent)
describe(norm_divisor, rank="elementwise")


# ---- inverse, determinant, solve -------------------------------------------------------------
# These need invertible matrices: at a singular one numpy raises LinAlgError in the backward pass.


@adjoint(np.linalg.inv, new_array=True)
def inv(result, a):
    if ndim(a) == 2:
        d[a] = -(result.T @ d[result] @ result.T)
    else:
        d[a] = -(swap_last_axes(result) @ d[result] @ swap_last_axes(result))


@tangent(np.linalg.inv)
def inv_tangent(result, a):
    d[result] = -(result @ d[a] @ result)


# The adjugate, not det(a) * inv(a).T: a singular matrix has a gradient too (see det_grad).
@adjoint(np.linalg.det, new_array=True)
def det(result, a):
    d[a] = det_grad(d[result], a)


@tangent(np.linalg.det)
def det_tangent(result, a):
    d[result] = det_jvp(d[a], a)


# for hvp: linear in the tangent (det's own gradient); a's term is det's Hessian along the tangent, from the SVD
# so that a singular matrix has one too
@adjoint(det_jvp)
def det_jvp_rule(result, tangent, a):
    d[tangent] = det_grad(d[result], a)
    d[a] = det_jvp_grad(d[result], tangent, a)


# result = solve(a, b) = inv(a) @ b: d[b] = solve(a.T, d[result]) and d[a] = -d[b] @ result.T
@adjoint(np.linalg.solve, new_array=True)
def solve(result, a, b):
    if ndim(a) == 2 and ndim(b) == 2:
        d[b] = np.linalg.solve(a.T, d[result])
        d[a] = -(np.linalg.solve(a.T, d[result]) @ result.T)
    elif ndim(a) == 2 and ndim(b) == 1:
        d[b] = np.linalg.solve(a.T, d[result])
        d[a] = -np.outer(np.linalg.solve(a.T, d[result]), result)
    else:
        d[b] = solve_grad_right(d[result], a, b, result)
        d[a] = solve_grad_left(d[result], a, b, result)


# d result = solve(a, db - da @ result)
@tangent(np.linalg.solve)
def solve_tangent(result, a, b):
    d[result] = np.linalg.solve(a, d[b])
    if ndim(a) == 2:
        d[result] = -np.linalg.solve(a, d[a] @ result)
    else:
        d[result] = solve_jvp(d[a], a, result)


# for hvp: out = -solve(a, tangent @ result) is solve's result for the right-hand side -tangent @ result, so the
# tangent's and a's gradients are solve's left one (of result and of out), and result's is tangent^T's product
@adjoint(solve_jvp)
def solve_jvp_rule(out, tangent, a, result):
    d[tangent] = solve_grad_left(d[out], a, result, result)
    d[a] = solve_grad_left(d[out], a, out, out)
    d[result] = solve_jvp_grad_result(d[out], tangent, a, result)


# Full rank only: where the rank changes, pinv jumps. A hermitian=True pinv reads a's lower triangle.
@adjoint(np.linalg.pinv, new_array=True)
def pinv(result, a, rcond=None, hermitian=False, *, rtol=None):
    d[a] = pinv_grad(d[result], a, result, hermitian)


@tangent(np.linalg.pinv)
def pinv_tangent(result, a, rcond=None, hermitian=False, *, rtol=None):
    d[result] = pinv_jvp(d[a], a, result, hermitian)


# for hvp: linear in the tangent (pinv's own gradient), and a product of a and P = result otherwise
@adjoint(pinv_jvp)
def pinv_jvp_rule(out, tangent, a, result, hermitian):
    d[tangent] = pinv_grad(d[out], a, result, hermitian)
    d[a] = pinv_jvp_grad_matrix(d[out], tangent, a, result, hermitian)
    d[result] = pinv_jvp_grad_result(d[out], tangent, a, result, hermitian)


# ---- decompositions ----------------------------------------------------------------------------
# cholesky and eigh read one triangle of a symmetric matrix: the other gets no gradient, and each entry
# of the one read stands for itself and its mirror (runtime/linalg.py's from_triangle).


@adjoint(np.linalg.cholesky, new_array=True)
def cholesky(result, a, /, *, upper=False):
    d[a] = cholesky_grad(d[result], result, upper)


@tangent(np.linalg.cholesky)
def cholesky_tangent(result, a, /, *, upper=False):
    d[result] = cholesky_jvp(d[a], result, upper)


# for hvp: linear in the tangent (cholesky's own gradient); the factor's term is the second derivative
@adjoint(cholesky_jvp)
def cholesky_jvp_rule(out, tangent, result, upper):
    d[tangent] = cholesky_grad(d[out], result, upper)
    d[result] = cholesky_jvp_grad(d[out], tangent, result, upper)


# slogdet, eigh, qr and svd return several arrays. d[result] is then a list with one gradient per array,
# zeros for those the program never used: `sign, logabsdet = np.linalg.slogdet(a)` and
# `np.linalg.slogdet(a)[1]` alike.


# Only logabsdet has a gradient: the sign is constant wherever it has a derivative.
@adjoint(np.linalg.slogdet, list_result=True)
def slogdet(result, a):
    if ndim(a) == 2:
        d[a] = d[result][1] * np.linalg.inv(a).T
    else:
        d[a] = slogdet_grad(d[result], a)


# slogdet, eigh, qr and svd have a tuple of tangents, one per array they return.
@tangent(np.linalg.slogdet)
def slogdet_tangent(result, a):
    d[result] = slogdet_jvp(d[a], result, a)


# for hvp: linear in the tangent (slogdet's own gradient); the sign read from result only for its shape
@adjoint(slogdet_jvp, list_result=True, zero_gradient=("result",))
def slogdet_jvp_rule(out, tangent, result, a):
    d[tangent] = slogdet_grad(d[out], a)
    d[a] = slogdet_jvp_grad(d[out], tangent, a)


# The eigenvalues must be distinct (the eigenvectors are not unique otherwise).
@adjoint(np.linalg.eigh, list_result=True)
def eigh(result, a, UPLO="L"):
    d[a] = eigh_grad(d[result], result, a, UPLO)


@tangent(np.linalg.eigh)
def eigh_tangent(result, a, UPLO="L"):
    d[result] = eigh_jvp(d[a], result, UPLO)


# for hvp: linear in the tangent (eigh's own gradient); the eigenvalues' and eigenvectors' terms are the second
# derivative, a list of two gradients as eigh's result has
@adjoint(eigh_jvp, list_result=True)
def eigh_jvp_rule(out, tangent, result, UPLO):
    d[tangent] = eigh_grad(d[out], result, tangent, UPLO)
    d[result] = eigh_jvp_grad(d[out], tangent, result, UPLO)


@adjoint(np.linalg.qr, list_result=True)
def qr(result, a, mode="reduced"):
    d[a] = qr_grad(d[result], result, a, mode)


@tangent(np.linalg.qr)
def qr_tangent(result, a, mode="reduced"):
    d[result] = qr_jvp(d[a], result, a, mode)


# for hvp: linear in the tangent (qr's own gradient); Q's and R's terms are the second derivative, and a has one only
# for mode 'r', whose tangent computes Q from it
@adjoint(qr_jvp, list_result=True)
def qr_jvp_rule(out, tangent, result, a, mode):
    d[tangent] = qr_grad(d[out], result, a, mode)
    d[result] = qr_jvp_grad_result(d[out], tangent, result, a, mode)
    d[a] = qr_jvp_grad_matrix(d[out], tangent, result, a, mode)


# Distinct nonzero singular values; full_matrices=False unless the matrix is square.
@adjoint(np.linalg.svd, list_result=True)
def svd(result, a, full_matrices=True, compute_uv=True, hermitian=False):
    d[a] = svd_grad(d[result], result, a, full_matrices, compute_uv, hermitian)


@tangent(np.linalg.svd)
def svd_tangent(result, a, full_matrices=True, compute_uv=True, hermitian=False):
    d[result] = svd_jvp(d[a], result, a, full_matrices, compute_uv, hermitian)


# for hvp: linear in the tangent (svd's own gradient); U's, s's and V^T's terms are the second derivative, and a has
# one only for compute_uv=False, whose tangent computes U and V from it
@adjoint(svd_jvp, list_result=True)
def svd_jvp_rule(out, tangent, result, a, full_matrices, compute_uv, hermitian):
    d[tangent] = svd_grad(d[out], result, a, full_matrices, compute_uv, hermitian)
    d[result] = svd_jvp_grad_result(d[out], tangent, result, a, full_matrices, compute_uv, hermitian)
    d[a] = svd_jvp_grad_matrix(d[out], tangent, result, a, full_matrices, compute_uv, hermitian)
