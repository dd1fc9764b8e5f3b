"""Gradient rules for linear algebra: products, einsum, trace, norms, inverse, determinant, solve.

For two matrices the adjoints are written out as a person would write them,
`d_y @ w.T` and `x.T @ d_y`; other ranks (vectors, batches) and arguments known
only when the code runs go through the runtime helpers of sourcegrad/runtime/linalg.py.
"""

import operator

import numpy as np

from ..runtime import dot_grad_left, dot_grad_right, matmul_grad_left, matmul_grad_right
from ..runtime.linalg import (det_grad, einsum_grad, einsum_interleaved_grad, inner_grad_left, inner_grad_right,
                              norm_divisor, norm_grad, outer_grad_left, outer_grad_right, solve_grad_left,
                              solve_grad_right, swap_last_axes, tensordot_grad_left, tensordot_grad_right, trace_grad)
from .registry import adjoint, d, method, ndim

# ---- matrix products -------------------------------------------------------------------------


# For two matrices the adjoints are written as a person would, with transposed views (no copies) and
# the product the user wrote: `d_y @ w.T` for `x @ w`, and the tutorial's own `grad_y_pred.dot(w2.T)`
# for `h_relu.dot(w2)`. The two cost differently: `.dot` less per call on tiny matrices, where a step is
# all per-call costs, `@` less once an operand is a transposed matrix of some size (benchmarks/README.md).
@adjoint(operator.matmul, np.matmul, new_array=True)
def matmul(result, x, y):
    if ndim(x) == 2 and ndim(y) == 2:
        d[x] = d[result] @ y.T
        d[y] = x.T @ d[result]
    else:
        d[x] = matmul_grad_left(d[result], x, y)
        d[y] = matmul_grad_right(d[result], x, y)


@adjoint(np.dot, new_array=True)
def dot(result, x, y):
    if ndim(x) == 2 and ndim(y) == 2:
        d[x] = d[result].dot(y.T)
        d[y] = x.T.dot(d[result])
    else:
        d[x] = dot_grad_left(d[result], x, y)
        d[y] = dot_grad_right(d[result], x, y)


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


@adjoint(np.outer, new_array=True)
def outer(result, a, b, out=None):
    if ndim(a) == 1 and ndim(b) == 1:
        d[a] = d[result] @ b
        d[b] = a @ d[result]
    else:  # np.outer flattens its operands first
        d[a] = outer_grad_left(d[result], a, b)
        d[b] = outer_grad_right(d[result], a, b)


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


# np.einsum('ij,jk->ik', x, y): one or two operands after the subscripts string. The adjoint of an
# operand is another einsum, of the output gradient with the other operands, written to that operand's
# subscripts (einsum_grad; it also handles repeated letters such as the trace 'ii->').
@adjoint(np.einsum)
def einsum(result, subscripts, x, y=None, /, *, out=None, dtype=None, order="K", casting="safe", optimize=False):
    if y is None:
        d[x] = einsum_grad(d[result], subscripts, 0, x)
    else:
        d[x] = einsum_grad(d[result], subscripts, 0, x, y)
        d[y] = einsum_grad(d[result], subscripts, 1, x, y)
    # With a string, as einsum takes it here, this has no effect; an array in its place is numpy's
    # interleaved form, einsum(x, [0, 1], ...), which has no rule: the helper says so when it runs.
    d[subscripts] = einsum_interleaved_grad(subscripts)


# ---- trace -------------------------------------------------------------------------------------


@adjoint(np.trace, new_array=True)
def trace(result, a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    if ndim(a) == 2 and axis1 == 0 and axis2 == 1:
        d[a] = d[result] * np.eye(a.shape[0], a.shape[1], k=offset, dtype=a.dtype)
    else:
        d[a] = trace_grad(d[result], a, offset, axis1, axis2)


method("trace", np.trace)


# ---- norms -------------------------------------------------------------------------------------
# At x = 0 the 2-norm has no derivative; the rules return 0 there (the shortest subgradient), never nan:
# norm_divisor(result) is the norm with 1 in place of 0, and x is 0 wherever the norm is. norm_grad
# takes every other ord numpy accepts (p-norms, max norms, nuclear and spectral norms).


@adjoint(np.linalg.norm, new_array=True)
def norm(result, x, ord=None, axis=None, keepdims=False):
    if axis is None and (ord is None or ord == "fro" or (ord == 2 and ndim(x) == 1)):
        d[x] = d[result] / norm_divisor(result) * x
    else:
        d[x] = norm_grad(d[result], result, x, ord, axis, keepdims)


# ---- inverse, determinant, solve -------------------------------------------------------------
# These need invertible matrices: at a singular one numpy raises LinAlgError in the backward pass.


@adjoint(np.linalg.inv, new_array=True)
def inv(result, a):
    if ndim(a) == 2:
        d[a] = -(result.T @ d[result] @ result.T)
    else:
        d[a] = -(swap_last_axes(result) @ d[result] @ swap_last_axes(result))


# The adjugate, not det(a) * inv(a).T: a singular matrix has a gradient too (see det_grad).
@adjoint(np.linalg.det, new_array=True)
def det(result, a):
    d[a] = det_grad(d[result], a)


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
