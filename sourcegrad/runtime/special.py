"""Runtime helpers for the scipy.special and scipy.stats gradient rules (sourcegrad/templates/scipy_*.py).

The derivatives of the gamma-function family are other special functions: scipy.special's for numpy arrays,
cupyx.scipy.special's for cupy arrays. This module imports neither until a helper runs, so it loads without scipy.
"""

from __future__ import annotations

import importlib

import numpy

from ..errors import SourcegradError
from .core import array_namespace, as_array_like, helper, unreduce
from .elementwise import exp_share, reduced_count
from .linalg import from_triangle, symmetric_part


def _special_functions(x):
    """scipy.special, or cupyx.scipy.special for a cupy array."""
    if array_namespace(x).__name__.startswith("cupy"):
        return importlib.import_module("cupyx.scipy.special")
    return importlib.import_module("scipy.special")


@helper
def digamma(x):
    """The derivative of gammaln: scipy.special.digamma."""
    return _special_functions(x).digamma(x)


@helper
def trigamma(x):
    """The derivative of digamma: scipy.special.polygamma(1, x), in x's floating dtype (polygamma computes in
    float64, which would widen a float32 tangent)."""
    return _polygamma(1, x)


@helper
def tetragamma(x):
    """The derivative of trigamma (hvp of psi): scipy.special.polygamma(2, x), in x's floating dtype."""
    return _polygamma(2, x)


def _polygamma(n, x):
    value = _special_functions(x).polygamma(n, x)
    dtype = getattr(x, "dtype", None)
    return value.astype(dtype, copy=False) if dtype is not None and dtype.kind == "f" else value


@helper
def logsumexp_grad(grad, result, a, axis, b, keepdims, return_sign):
    """d(scipy.special.logsumexp(a, axis, keepdims=keepdims))/da: the softmax of a along axis, times grad."""
    if b is not None or return_sign:
        raise SourcegradError("scipy.special.logsumexp with b= or return_sign=True has no gradient rule",
                              hint="Fold the weights into the exponents: logsumexp(a + np.log(b)) for positive b.")
    return unreduce(grad, a, axis, keepdims) * exp_share(a, unreduce(result, a, axis, keepdims), reduced_count(a, result))


@helper
def logsumexp_jvp(tangent, result, a, axis, b, keepdims, return_sign):
    """The tangent of scipy.special.logsumexp(a, axis, keepdims=keepdims): a's tangent averaged with the softmax of a
    along axis; b= and return_sign=True refused, as by logsumexp_grad."""
    if b is not None or return_sign:
        raise SourcegradError("scipy.special.logsumexp with b= or return_sign=True has no derivative rule",
                              hint="Fold the weights into the exponents: logsumexp(a + np.log(b)) for positive b.")
    shares = exp_share(a, unreduce(result, a, axis, keepdims), reduced_count(a, result))
    return array_namespace(a).sum(tangent * shares, axis=axis, keepdims=keepdims)


# ---- scipy.stats.multivariate_normal.logpdf ------------------------------------------------------------


def _multivariate_normal(x, mean, cov):
    """What scipy.stats.multivariate_normal.logpdf(x, mean, cov) computes with, read as scipy reads it.

    Returns (xp, points, residuals, whitened, inverse): the shape of the points (x's shape without its last
    axis, as scipy arranges x), r = x - mean per point (points + (k,)), cov^-1 r per point, and cov^-1, with
    cov the symmetric matrix of the given one's lower triangle (scipy reads no more of it).
    """
    xp = array_namespace(x, cov, *([] if mean is None else [mean]))
    cov = xp.asarray(cov)
    dtype = xp.result_type(*[getattr(v, "dtype", xp.float64) for v in (x, mean, cov) if v is not None], xp.float32)
    if mean is not None:
        dim = int(numpy.prod(numpy.shape(mean)))
    else:
        dim = 1 if cov.ndim < 2 else cov.shape[0]
    mean = xp.zeros(dim, dtype=dtype) if mean is None else xp.reshape(xp.asarray(mean, dtype=dtype), (dim,))
    if cov.ndim > 2:
        raise SourcegradError("scipy.stats.multivariate_normal's cov must be at most two-dimensional")
    if cov.ndim == 0:
        full = cov.astype(dtype) * xp.eye(dim, dtype=dtype)
    elif cov.ndim == 1:
        full = xp.diag(xp.reshape(cov.astype(dtype), (-1,)))
    else:
        lower = xp.tril(cov.astype(dtype))
        full = lower + xp.tril(lower, -1).T
    x = xp.asarray(x, dtype=dtype)
    if x.ndim == 0:
        x = xp.reshape(x, (1, 1))
    elif x.ndim == 1:
        x = xp.reshape(x, (-1, 1) if dim == 1 else (1, -1))
    try:
        inverse = xp.linalg.inv(full)
    except Exception as error:  # numpy's LinAlgError, cupy's own
        raise SourcegradError("the gradient of scipy.stats.multivariate_normal.logpdf needs a positive definite cov",
                              hint="A singular cov (allow_singular=True) has no gradient there.") from error
    residuals = x - mean
    return xp, x.shape[:-1], residuals, residuals @ inverse, inverse


def _point_weights(grad, points, like):
    """The output gradient with one entry per point: scipy squeezes the output, so its axes of 1 come back."""
    return array_namespace(like).reshape(as_array_like(grad, like), points)


@helper
def multivariate_normal_x_grad(grad, x, mean, cov):
    """d(scipy.stats.multivariate_normal.logpdf(x, mean, cov))/dx: -cov^-1 (x - mean) per point."""
    xp, points, _, whitened, _ = _multivariate_normal(x, mean, cov)
    weights = _point_weights(grad, points, whitened)
    return xp.reshape(-weights[..., None] * whitened, numpy.shape(x))


@helper
def multivariate_normal_mean_grad(grad, x, mean, cov):
    """d(scipy.stats.multivariate_normal.logpdf(x, mean, cov))/dmean: cov^-1 (x - mean), summed over the points."""
    xp, points, _, whitened, _ = _multivariate_normal(x, mean, cov)
    weights = _point_weights(grad, points, whitened)
    total = xp.reshape(weights[..., None] * whitened, (-1, whitened.shape[-1])).sum(axis=0)
    return xp.reshape(total, numpy.shape(mean))


@helper
def multivariate_normal_cov_grad(grad, x, mean, cov):
    """d(scipy.stats.multivariate_normal.logpdf(x, mean, cov))/dcov: per point (a a^T - cov^-1) / 2 with
    a = cov^-1 (x - mean), summed; for a matrix cov, on its lower triangle (see from_triangle), for a diagonal
    its diagonal, for one number the trace."""
    xp, points, _, whitened, inverse = _multivariate_normal(x, mean, cov)
    weights = xp.reshape(_point_weights(grad, points, whitened), (-1,))
    flat = xp.reshape(whitened, (-1, whitened.shape[-1]))
    symmetric = ((flat * weights[:, None]).T @ flat - weights.sum() * inverse) / 2
    return _as_cov_is_read(symmetric, cov)


def _as_cov_is_read(full_grad, cov):
    """The gradient with respect to cov from the one with respect to the symmetric matrix scipy builds of it: a
    matrix's lower triangle (an entry below the diagonal stands for its mirror too, so it gets both entries'
    gradients: full_grad need not be symmetric), a diagonal's diagonal, one number's trace."""
    xp = array_namespace(full_grad)
    ndim = len(numpy.shape(cov))
    if ndim == 0:
        return xp.trace(full_grad)
    if ndim == 1:
        return xp.reshape(xp.diagonal(full_grad).copy(), numpy.shape(cov))
    return from_triangle(full_grad, upper=False)


def _cov_change(tangent, cov, inverse):
    """cov's tangent as the change of the symmetric matrix scipy builds of cov (see _multivariate_normal)."""
    xp = array_namespace(inverse)
    tangent = as_array_like(tangent, inverse)
    ndim = len(numpy.shape(cov))
    if ndim == 0:
        return tangent * xp.eye(inverse.shape[-1], dtype=inverse.dtype)
    if ndim == 1:
        return xp.diag(xp.reshape(tangent, (-1,)))
    return symmetric_part(tangent, upper=False)


# ---- forward mode: the tangents of scipy.stats.multivariate_normal.logpdf ----------------------------------------
# Per point, logpdf = -(k log(2 pi) + log det(cov) + r^T cov^-1 r) / 2 with r = x - mean; the output has scipy's
# squeezed shape, the result's.


@helper
def multivariate_normal_x_jvp(tangent, result, x, mean, cov):
    """The tangent of scipy.stats.multivariate_normal.logpdf(x, mean, cov) from x's: -(cov^-1 r) . dx per point."""
    xp, _, residuals, whitened, _ = _multivariate_normal(x, mean, cov)
    moved = xp.reshape(as_array_like(tangent, whitened), residuals.shape)  # arranged in points as scipy arranges x
    return xp.reshape(-(whitened * moved).sum(axis=-1), numpy.shape(result))


@helper
def multivariate_normal_mean_jvp(tangent, result, x, mean, cov):
    """The tangent from mean's: (cov^-1 r) . dmean per point."""
    xp, _, residuals, whitened, _ = _multivariate_normal(x, mean, cov)
    moved = xp.reshape(as_array_like(tangent, whitened), residuals.shape[-1:])
    return xp.reshape((whitened * moved).sum(axis=-1), numpy.shape(result))


@helper
def multivariate_normal_cov_jvp(tangent, result, x, mean, cov):
    """The tangent from cov's: (a^T dcov a - trace(cov^-1 dcov)) / 2 per point with a = cov^-1 r, dcov read as scipy
    reads cov (a matrix's lower triangle, a diagonal, one number times the identity)."""
    xp, _, _, whitened, inverse = _multivariate_normal(x, mean, cov)
    change = _cov_change(tangent, cov, inverse)
    per_point = (((whitened @ change) * whitened).sum(axis=-1) - (inverse * change).sum()) / 2
    return xp.reshape(per_point, numpy.shape(result))


# ---- hvp: the tangents above differentiated in turn ----------------------------------------------------------
# With W = cov^-1, a = W r per point, and cov's change dC read as the symmetric matrix scipy builds (dW = -W dC W):
# x's tangent gives -(a . t), whose change is -(W t) . dr + (W t)^T dC a; mean's gives a . t, that with -t for t;
# cov's gives (a^T D a - trace(W D)) / 2 with D its tangent read as cov, whose change is (W D a) . dr
# - a^T dC (W D a) + trace(dC W D W) / 2. r = x - mean, so mean's gradient is minus x's, summed over the points.


@helper
def multivariate_normal_jvp_grad(grad, tangent, x, mean, cov, part, wrt):
    """The gradient of multivariate_normal_{x,mean,cov}_jvp (part 0, 1, 2: whose tangent it is) with respect to x,
    mean or cov (wrt 0, 1, 2); grad has the logpdf's shape, tangent that of the part's argument."""
    xp, points, residuals, whitened, inverse = _multivariate_normal(x, mean, cov)
    weights = _point_weights(grad, points, whitened)[..., None]
    if part == 2:
        change = _cov_change(tangent, cov, inverse)
        along = (whitened @ change) @ inverse  # per point (W D a)^T
        x_grad = weights * along
        full = -(xp.reshape(x_grad, (-1, along.shape[-1])).T @ xp.reshape(whitened, (-1, along.shape[-1])))
        full = full + weights.sum() * ((inverse @ change) @ inverse) / 2
    else:
        moved = as_array_like(tangent, whitened)
        direction = xp.reshape(moved, residuals.shape) if part == 0 else -xp.reshape(moved, residuals.shape[-1:])
        along = direction @ inverse  # per point (W t)^T, t a point's own tangent or minus mean's
        x_grad = -(weights * along)  # points + (k,): mean's one tangent reaches every point
        full = -(xp.reshape(x_grad, (-1, along.shape[-1])).T @ xp.reshape(whitened, (-1, along.shape[-1])))
    if wrt == 0:
        return xp.reshape(x_grad, numpy.shape(x))
    if wrt == 1:
        return xp.reshape(-xp.reshape(x_grad, (-1, x_grad.shape[-1])).sum(axis=0), numpy.shape(mean))
    return _as_cov_is_read(full, cov)
