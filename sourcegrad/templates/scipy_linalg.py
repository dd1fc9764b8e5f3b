"""Gradient rules for scipy.linalg: solve_triangular.

Registered when a compile finds scipy.linalg imported (sourcegrad/templates/__init__.py). The gradients come from
the runtime helpers of sourcegrad/runtime/linalg.py, which solve with scipy.linalg (cupyx.scipy.linalg on cupy).
"""

import scipy.linalg

from ..runtime import unbroadcast
from ..runtime.linalg import triangular_product, triangular_product_grad, triangular_solve, triangular_solve_grad
from .registry import adjoint, d, tangent

# ---- triangular systems ------------------------------------------------------------------------------------------
# a is read in one triangle (lower or upper), less its diagonal with unit_diagonal: the rest of a gets no gradient, as
# for np.linalg.cholesky's. Real matrices, trans 0 / 'N' or 1, 2 / 'T', 'C'. overwrite_b= is refused (b would be
# scrambled for whatever else reads it); check_finite is taken by keyword only, so that no positional argument binds
# to the wrong parameter. The tangent helper triangular_solve shares the rule, so hvp reaches through. scipy
# broadcasts a stack of matrices against a stack of right-hand sides: the gradient of the one stretched is summed.


@adjoint(scipy.linalg.solve_triangular, triangular_solve, new_array=True)
def solve_triangular(result, a, b, trans=0, lower=False, unit_diagonal=False, *, check_finite=True):
    d[b] = unbroadcast(triangular_solve_grad(d[result], a, result, trans, lower, unit_diagonal, "b"), b)
    d[a] = unbroadcast(triangular_solve_grad(d[result], a, result, trans, lower, unit_diagonal, "a"), a)


# d x = op(A)^-1 (d b - op(d A) x), d A read as a is
@tangent(scipy.linalg.solve_triangular)
def solve_triangular_tangent(result, a, b, trans=0, lower=False, unit_diagonal=False, *, check_finite=True):
    d[result] = triangular_solve(a, d[b], trans, lower, unit_diagonal)
    d[result] = -triangular_solve(a, triangular_product(d[a], result, trans, lower, unit_diagonal), trans, lower,
                                  unit_diagonal)


# for hvp: linear in the matrix and in x
@adjoint(triangular_product)
def triangular_product_rule(out, matrix, x, trans, lower, unit_diagonal):
    d[matrix] = unbroadcast(triangular_product_grad(d[out], matrix, x, trans, lower, unit_diagonal, 0), matrix)
    d[x] = unbroadcast(triangular_product_grad(d[out], matrix, x, trans, lower, unit_diagonal, 1), x)
