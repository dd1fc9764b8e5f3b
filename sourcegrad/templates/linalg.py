"""Gradient rules for matrix products.

For two matrices the adjoints are written out as a person would write them,
`d_y @ w.T` and `x.T @ d_y`; other ranks (vectors, batches) go through
runtime helpers that handle every case numpy's matmul accepts.
"""

import operator

import numpy as np

from ..runtime import dot_grad_left, dot_grad_right, matmul_grad_left, matmul_grad_right
from .registry import adjoint, d, ndim

# ---- matrix products -------------------------------------------------------------------------


@adjoint(operator.matmul, np.matmul)
def matmul(result, x, y):
    if ndim(x) == 2 and ndim(y) == 2:
        d[x] = d[result] @ y.T
        d[y] = x.T @ d[result]
    else:
        d[x] = matmul_grad_left(d[result], x, y)
        d[y] = matmul_grad_right(d[result], x, y)


@adjoint(np.dot)
def dot(result, x, y):
    if ndim(x) == 2 and ndim(y) == 2:
        d[x] = d[result] @ y.T
        d[y] = x.T @ d[result]
    else:
        d[x] = dot_grad_left(d[result], x, y)
        d[y] = dot_grad_right(d[result], x, y)
