"""Gradient rules for reductions: the gradient is spread back over the reduced axes.

Ties in max and min reductions follow the convention of the elementwise rules (ties go to the first
argument, as in np.maximum): the whole gradient of each reduced group goes to its FIRST extreme
element along the reduced axes, the one np.argmax / np.argmin pick (in C order over a tuple of axes
or over all of them for axis=None), and none to the elements that tie with it. The gradient of
np.prod and np.cumprod is the product of the other elements of the group, computed without dividing by
x, so it is right where the input has zeros. np.nansum and np.nanmean skip nan elements: their gradient
there is 0.

The reduced array is named x in every rule, as in np.sum's (so the shape analysis can read every
reduction's operand, axis and keepdims alike); numpy's own keyword, `a=`, is an alias.
"""

import numpy as np

from ..runtime import nonzero, ratio, size, unreduce
from ..runtime.reductions import (cumprod_grad, cumsum_grad, diff_grad, max_grad, min_grad, nanmean_grad, nansum_grad,
                                  prod_grad)
from .registry import adjoint, d, method

# ---- sums and means ------------------------------------------------------------------------------


@adjoint(np.sum, new_array=True)
def sum(result, x, axis=None, dtype=None, out=None, keepdims=False):
    d[x] = unreduce(d[result], x, axis, keepdims)


@adjoint(np.mean, new_array=True)
def mean(result, x, axis=None, dtype=None, out=None, keepdims=False):
    d[x] = unreduce(d[result] * ratio(size(result), size(x)), x, axis, keepdims)


# ---- sums and means that skip nan -----------------------------------------------------------------


@adjoint(np.nansum, aliases={"a": "x"}, new_array=True)
def nansum(result, x, axis=None, dtype=None, out=None, keepdims=False):
    d[x] = nansum_grad(d[result], x, axis, keepdims)


@adjoint(np.nanmean, aliases={"a": "x"}, new_array=True)
def nanmean(result, x, axis=None, dtype=None, out=None, keepdims=False):
    d[x] = nanmean_grad(d[result], x, axis, keepdims)


# ---- products ------------------------------------------------------------------------------------


@adjoint(np.prod, aliases={"a": "x"}, new_array=True)
def prod(result, x, axis=None, dtype=None, out=None, keepdims=False):
    d[x] = prod_grad(d[result], x, axis, keepdims)


method("prod", np.prod)

# ---- max and min: the gradient goes to the first extreme element -------------------------------------


@adjoint(np.max, np.amax, aliases={"a": "x"}, new_array=True)
def max(result, x, axis=None, out=None, keepdims=False):
    d[x] = max_grad(d[result], x, axis, keepdims)


@adjoint(np.min, np.amin, aliases={"a": "x"}, new_array=True)
def min(result, x, axis=None, out=None, keepdims=False):
    d[x] = min_grad(d[result], x, axis, keepdims)


method("max", np.max)
method("min", np.min)

# ---- variance and standard deviation -----------------------------------------------------------------
# N = size(x) / size(result) elements per group; d var / d x = 2 (x - mean) / (N - ddof).


@adjoint(np.var, aliases={"a": "x", "correction": "ddof"}, new_array=True)
def var(result, x, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    d[x] = unreduce(d[result] * ratio(2, ratio(size(x), size(result)) - ddof), x, axis, keepdims) * (
        x - np.mean(x, axis=axis, keepdims=True))


@adjoint(np.std, aliases={"a": "x", "correction": "ddof"}, new_array=True)
def std(result, x, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    # (where std is 0, x - mean is 0 too: the gradient there is 0, not 0/0)
    d[x] = unreduce(d[result] / (nonzero(result) * (ratio(size(x), size(result)) - ddof)), x, axis, keepdims) * (
        x - np.mean(x, axis=axis, keepdims=True))


method("var", np.var)
method("std", np.std)

# ---- cumulative sums ---------------------------------------------------------------------------------


@adjoint(np.cumsum, aliases={"a": "x"}, new_array=True)
def cumsum(result, x, axis=None, dtype=None, out=None):
    d[x] = cumsum_grad(d[result], x, axis)


method("cumsum", np.cumsum)


# ---- cumulative products: without dividing by x, as for np.prod ---------------------------------------


@adjoint(np.cumprod, aliases={"a": "x"}, new_array=True)
def cumprod(result, x, axis=None, dtype=None, out=None):
    d[x] = cumprod_grad(d[result], x, axis)


method("cumprod", np.cumprod)

# ---- differences: the adjoint of a difference is minus the difference the other way ---------------------


# (not marked new_array: np.diff(x, n=0) returns x itself)
@adjoint(np.diff, aliases={"a": "x"})
def diff(result, x, n=1, axis=-1):
    d[x] = diff_grad(d[result], n, axis)
