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

from ..runtime import element_count, ratio, reduce_like, safe_divisor, unreduce
from ..runtime.reductions import (accumulate_extreme_grad, accumulate_extreme_jvp, correlation_grad, correlation_jvp, correlation_jvp_grad, cov_grad, cov_jvp,
                                  cov_jvp_grad, cumprod_grad, cumprod_jvp, cumprod_jvp_grad, cumsum_grad, diff_grad, diff_part_grad,
                                  diff_part_jvp, max_grad, max_jvp, min_grad, min_jvp, nanmean_grad,
                                  nanmean_jvp, nansum_grad, prod_grad, prod_jvp, prod_jvp_grad, quantile_grad,
                                  quantile_jvp, quantile_q_grad, quantile_q_jvp, quantile_slope_grad)
from .registry import adjoint, d, method, ndim, nondifferentiable, tangent

# ---- the helpers of the rules below, differentiated in turn (hvp: reverse mode over tangent lines) ------------


@adjoint(unreduce, zero_gradient=("target",))  # linear in grad; target gives only the shape
def unreduce_rule(result, grad, target, axis, keepdims):
    d[grad] = reduce_like(d[result], grad, axis, keepdims)


@adjoint(safe_divisor)  # value itself wherever it has a derivative (it moves only the point 0)
def safe_divisor_rule(result, value):
    d[value] = d[result]


nondifferentiable(element_count, ratio, why="it counts elements")


# ---- sums and means ------------------------------------------------------------------------------


@adjoint(np.sum, aliases={"a": "x"}, new_array=True, rank="reduction", shape="constants")
def sum(result, x, axis=None, dtype=None, out=None, keepdims=False):
    d[x] = unreduce(d[result], x, axis, keepdims)


@tangent(np.sum, aliases={"a": "x"})
def sum_tangent(result, x, axis=None, dtype=None, out=None, keepdims=False):
    # (an `if` not decided when the rule is compiled takes its last else: the rank is tested on its own)
    if axis is None and keepdims == False:  # noqa: E712
        if ndim(x) >= 1:
            d[result] = d[x].sum()
        else:  # a number, or a rank not known
            d[result] = np.sum(d[x])
    elif keepdims == False:  # noqa: E712
        d[result] = np.sum(d[x], axis=axis)
    else:
        d[result] = np.sum(d[x], axis=axis, keepdims=keepdims)


@adjoint(np.mean, aliases={"a": "x"}, new_array=True, rank="reduction", shape="constants")
def mean(result, x, axis=None, dtype=None, out=None, keepdims=False):
    d[x] = unreduce(d[result] * ratio(element_count(result), element_count(x)), x, axis, keepdims)


@tangent(np.mean, aliases={"a": "x"})
def mean_tangent(result, x, axis=None, dtype=None, out=None, keepdims=False):
    # (an `if` not decided when the rule is compiled takes its last else: the rank is tested on its own)
    if axis is None and keepdims == False:  # noqa: E712
        if ndim(x) >= 1:
            d[result] = d[x].mean()
        else:  # a number, or a rank not known
            d[result] = np.mean(d[x])
    elif keepdims == False:  # noqa: E712
        d[result] = np.mean(d[x], axis=axis)
    else:
        d[result] = np.mean(d[x], axis=axis, keepdims=keepdims)


# ---- sums and means that skip nan -----------------------------------------------------------------


@adjoint(np.nansum, aliases={"a": "x"}, new_array=True)
def nansum(result, x, axis=None, dtype=None, out=None, keepdims=False):
    d[x] = nansum_grad(d[result], x, axis, keepdims)


@tangent(np.nansum, aliases={"a": "x"})
def nansum_tangent(result, x, axis=None, dtype=None, out=None, keepdims=False):
    if keepdims == False:  # noqa: E712
        if axis is None and ndim(x) >= 1:
            d[result] = np.where(np.isnan(x), 0, d[x]).sum()
        else:
            d[result] = np.sum(np.where(np.isnan(x), 0, d[x]), axis=axis)
    else:
        d[result] = np.sum(np.where(np.isnan(x), 0, d[x]), axis=axis, keepdims=keepdims)


@adjoint(np.nanmean, aliases={"a": "x"}, new_array=True)
def nanmean(result, x, axis=None, dtype=None, out=None, keepdims=False):
    d[x] = nanmean_grad(d[result], x, axis, keepdims)


@tangent(np.nanmean, aliases={"a": "x"})
def nanmean_tangent(result, x, axis=None, dtype=None, out=None, keepdims=False):
    d[result] = nanmean_jvp(d[x], x, axis, keepdims)


# for hvp: linear in the tangent; x only says which elements are nan
@adjoint(nanmean_jvp, zero_gradient=("x",))
def nanmean_jvp_rule(result, tangent, x, axis, keepdims):
    d[tangent] = nanmean_grad(d[result], x, axis, keepdims)


# ---- products ------------------------------------------------------------------------------------


@adjoint(np.prod, aliases={"a": "x"}, new_array=True, rank="reduction", shape="constants")
def prod(result, x, axis=None, dtype=None, out=None, keepdims=False):
    d[x] = prod_grad(d[result], x, axis, keepdims)


@tangent(np.prod, aliases={"a": "x"})
def prod_tangent(result, x, axis=None, dtype=None, out=None, keepdims=False):
    d[result] = prod_jvp(d[x], x, axis, keepdims)


method("prod", np.prod)


# for hvp: linear in the tangent, whose gradient is np.prod's own; x's is the second derivative, the products of
# all the elements of a group but two (without dividing by x, as prod_grad)
@adjoint(prod_jvp)
def prod_jvp_rule(out, tangent, x, axis, keepdims):
    d[tangent] = prod_grad(d[out], x, axis, keepdims)
    d[x] = prod_jvp_grad(d[out], tangent, x, axis, keepdims)


# ---- max and min: the gradient goes to the first extreme element -------------------------------------


@adjoint(np.max, np.amax, aliases={"a": "x"}, new_array=True, rank="reduction", shape="constants")
def max(result, x, axis=None, out=None, keepdims=False):
    d[x] = max_grad(d[result], x, axis, keepdims)


@tangent(np.max, np.amax, aliases={"a": "x"})
def max_tangent(result, x, axis=None, out=None, keepdims=False):
    if axis is None and keepdims == False and ndim(x) >= 1:  # noqa: E712
        d[result] = np.ravel(d[x])[np.argmax(x)]
    else:
        d[result] = max_jvp(d[x], x, axis, keepdims)


# The tangent helpers' own gradients, for hvp (reverse mode over the tangent lines): linear in the tangent, and
# x only picks which element's tangent is taken, so x's gradient is zero.
@adjoint(max_jvp, zero_gradient=("x",))
def max_jvp_rule(result, tangent, x, axis, keepdims):
    d[tangent] = max_grad(d[result], x, axis, keepdims)


@adjoint(np.min, np.amin, aliases={"a": "x"}, new_array=True, rank="reduction", shape="constants")
def min(result, x, axis=None, out=None, keepdims=False):
    d[x] = min_grad(d[result], x, axis, keepdims)


@tangent(np.min, np.amin, aliases={"a": "x"})
def min_tangent(result, x, axis=None, out=None, keepdims=False):
    if axis is None and keepdims == False and ndim(x) >= 1:  # noqa: E712
        d[result] = np.ravel(d[x])[np.argmin(x)]
    else:
        d[result] = min_jvp(d[x], x, axis, keepdims)


@adjoint(min_jvp, zero_gradient=("x",))
def min_jvp_rule(result, tangent, x, axis, keepdims):
    d[tangent] = min_grad(d[result], x, axis, keepdims)


method("max", np.max)
method("min", np.min)

# The ufuncs' reduce: np.sum, np.prod, np.max and np.min along axis, whose default is 0 here. dtype= and out=
# follow axis positionally and initial=/where= change which elements take part: none is a parameter, so each is
# refused.


@adjoint(np.add.reduce, aliases={"array": "x"}, new_array=True, rank="reduction", shape="constants")
def add_reduce(result, x, axis=0, *, keepdims=False):
    d[x] = unreduce(d[result], x, axis, keepdims)


@tangent(np.add.reduce, aliases={"array": "x"})
def add_reduce_tangent(result, x, axis=0, *, keepdims=False):
    d[result] = np.sum(d[x], axis=axis, keepdims=keepdims)


@adjoint(np.multiply.reduce, aliases={"array": "x"}, new_array=True, rank="reduction", shape="constants")
def multiply_reduce(result, x, axis=0, *, keepdims=False):
    d[x] = prod_grad(d[result], x, axis, keepdims)


@tangent(np.multiply.reduce, aliases={"array": "x"})
def multiply_reduce_tangent(result, x, axis=0, *, keepdims=False):
    d[result] = prod_jvp(d[x], x, axis, keepdims)


@adjoint(np.maximum.reduce, aliases={"array": "x"}, new_array=True, rank="reduction", shape="constants")
def maximum_reduce(result, x, axis=0, *, keepdims=False):
    d[x] = max_grad(d[result], x, axis, keepdims)


@tangent(np.maximum.reduce, aliases={"array": "x"})
def maximum_reduce_tangent(result, x, axis=0, *, keepdims=False):
    d[result] = max_jvp(d[x], x, axis, keepdims)


@adjoint(np.minimum.reduce, aliases={"array": "x"}, new_array=True, rank="reduction", shape="constants")
def minimum_reduce(result, x, axis=0, *, keepdims=False):
    d[x] = min_grad(d[result], x, axis, keepdims)


@tangent(np.minimum.reduce, aliases={"array": "x"})
def minimum_reduce_tangent(result, x, axis=0, *, keepdims=False):
    d[result] = min_jvp(d[x], x, axis, keepdims)

# ---- variance and standard deviation -----------------------------------------------------------------
# N = element_count(x) / element_count(result) elements per group; d var / d x = 2 (x - mean) / (N - ddof).


@adjoint(np.var, aliases={"a": "x", "correction": "ddof"}, new_array=True, rank="reduction", shape="constants")
def var(result, x, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    d[x] = unreduce(d[result] * ratio(2, ratio(element_count(x), element_count(result)) - ddof), x, axis, keepdims) * (
        x - np.mean(x, axis=axis, keepdims=True))


# d var = 2 sum((x - mean) dx) / (N - ddof): the mean's own change multiplies sum(x - mean), which is 0.
@tangent(np.var, aliases={"a": "x", "correction": "ddof"})
def var_tangent(result, x, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    if axis is None and keepdims == False and ddof == 0 and ndim(x) >= 1:  # noqa: E712
        d[result] = 2 * (d[x] * (x - x.mean())).mean()
    else:
        d[result] = np.sum(d[x] * (x - np.mean(x, axis=axis, keepdims=True)), axis=axis, keepdims=keepdims) * ratio(
            2, ratio(element_count(x), element_count(result)) - ddof)


@adjoint(np.std, aliases={"a": "x", "correction": "ddof"}, new_array=True, rank="reduction", shape="constants")
def std(result, x, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    # (where std is 0, x - mean is 0 too: the gradient there is 0, not 0/0)
    d[x] = unreduce(d[result] / (safe_divisor(result) * (ratio(element_count(x), element_count(result)) - ddof)),
                    x, axis, keepdims) * (x - np.mean(x, axis=axis, keepdims=True))


# d std = d var / (2 std); 0 where std is 0, as the gradient is.
@tangent(np.std, aliases={"a": "x", "correction": "ddof"})
def std_tangent(result, x, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    if axis is None and keepdims == False and ddof == 0 and ndim(x) >= 1:  # noqa: E712
        d[result] = (d[x] * (x - x.mean())).mean() / safe_divisor(result)
    else:
        d[result] = np.sum(d[x] * (x - np.mean(x, axis=axis, keepdims=True)), axis=axis, keepdims=keepdims) / (
            safe_divisor(result) * (ratio(element_count(x), element_count(result)) - ddof))


method("var", np.var)
method("std", np.std)

# ---- cumulative sums ---------------------------------------------------------------------------------


@adjoint(np.cumsum, aliases={"a": "x"}, new_array=True)
def cumsum(result, x, axis=None, dtype=None, out=None):
    d[x] = cumsum_grad(d[result], x, axis)


@tangent(np.cumsum, aliases={"a": "x"})
def cumsum_tangent(result, x, axis=None, dtype=None, out=None):
    if axis is None:
        d[result] = np.cumsum(d[x])
    else:
        d[result] = np.cumsum(d[x], axis=axis)


method("cumsum", np.cumsum)


# ---- running maxima and minima ---------------------------------------------------------------------------------
# result[i] holds the element that first reached the running extreme: np.maximum gives a tie to its first argument,
# the running value, so a later element equal to it takes no gradient (runtime/reductions.py). dtype= and out= are
# refused.


@adjoint(np.maximum.accumulate, aliases={"array": "x"}, new_array=True)
def maximum_accumulate(result, x, axis=0):
    d[x] = accumulate_extreme_grad(d[result], x, axis, True)


@tangent(np.maximum.accumulate, aliases={"array": "x"})
def maximum_accumulate_tangent(result, x, axis=0):
    d[result] = accumulate_extreme_jvp(d[x], x, axis, True)


@adjoint(np.minimum.accumulate, aliases={"array": "x"}, new_array=True)
def minimum_accumulate(result, x, axis=0):
    d[x] = accumulate_extreme_grad(d[result], x, axis, False)


@tangent(np.minimum.accumulate, aliases={"array": "x"})
def minimum_accumulate_tangent(result, x, axis=0):
    d[result] = accumulate_extreme_jvp(d[x], x, axis, False)


# for hvp: linear in the tangent; x only says which element each position holds
@adjoint(accumulate_extreme_jvp, zero_gradient=("x",))
def accumulate_extreme_jvp_rule(result, tangent, x, axis, largest):
    d[tangent] = accumulate_extreme_grad(d[result], x, axis, largest)


# ---- cumulative products: without dividing by x, as for np.prod ---------------------------------------


@adjoint(np.cumprod, aliases={"a": "x"}, new_array=True)
def cumprod(result, x, axis=None, dtype=None, out=None):
    d[x] = cumprod_grad(d[result], x, axis)


@tangent(np.cumprod, aliases={"a": "x"})
def cumprod_tangent(result, x, axis=None, dtype=None, out=None):
    d[result] = cumprod_jvp(d[x], x, axis)


method("cumprod", np.cumprod)


# for hvp: as for prod_jvp, the tangent's gradient is np.cumprod's own and x's the second derivative
@adjoint(cumprod_jvp)
def cumprod_jvp_rule(out, tangent, x, axis):
    d[tangent] = cumprod_grad(d[out], x, axis)
    d[x] = cumprod_jvp_grad(d[out], tangent, x, axis)


# ---- differences: the adjoint of a difference is minus the difference the other way ---------------------


# (not marked new_array: np.diff(x, n=0) returns x itself.) With prepend= or append=, np.diff differences them
# joined to x along axis: diff_part_grad splits the joined array's gradient back (part 0, 1, 2).
@adjoint(np.diff, aliases={"a": "x"})
def diff(result, x, n=1, axis=-1, prepend=None, append=None):
    if prepend is None and append is None:
        d[x] = diff_grad(d[result], n, axis)
    else:
        d[prepend] = diff_part_grad(d[result], x, n, axis, prepend, append, 0)
        d[x] = diff_part_grad(d[result], x, n, axis, prepend, append, 1)
        d[append] = diff_part_grad(d[result], x, n, axis, prepend, append, 2)


@tangent(np.diff, aliases={"a": "x"})
def diff_tangent(result, x, n=1, axis=-1, prepend=None, append=None):
    if prepend is None and append is None:
        d[result] = np.diff(d[x], n=n, axis=axis)
    else:
        d[result] = diff_part_jvp(d[prepend], x, n, axis, prepend, append, 0)
        d[result] = diff_part_jvp(d[x], x, n, axis, prepend, append, 1)
        d[result] = diff_part_jvp(d[append], x, n, axis, prepend, append, 2)


# for hvp: linear in the tangent; x, prepend and append give only shapes
@adjoint(diff_part_jvp, zero_gradient=("x", "prepend", "append"))
def diff_part_jvp_rule(result, tangent, x, n, axis, prepend, append, part):
    d[tangent] = diff_part_grad(d[result], x, n, axis, prepend, append, part)


# ---- medians, quantiles and percentiles (numpy's linear method; the nan forms skip nan) ---------------------------
# Each reads two elements of a sorted group and mixes them (runtime/reductions.py's _quantile_points): the gradient
# goes to those two through np.argsort's stable order, so where elements tie it goes as np.sort's does, to the first
# of them in x. The quantile's own gradient is the slope between the two, 0 across a group of equal elements. out=,
# overwrite_input= (which scrambles x, which the gradient reads), weights= and a method other than 'linear' are
# refused; keepdims and method are taken by keyword only, so that no positional argument binds to the wrong one.


@adjoint(np.median, aliases={"a": "x"}, new_array=True)
def median(result, x, axis=None, *, keepdims=False):
    d[x] = quantile_grad(d[result], x, 0.5, axis, keepdims, 1, False, "linear")


@tangent(np.median, aliases={"a": "x"})
def median_tangent(result, x, axis=None, *, keepdims=False):
    d[result] = quantile_jvp(d[x], x, 0.5, axis, keepdims, 1, False, "linear")


@adjoint(np.nanmedian, aliases={"a": "x"}, new_array=True)
def nanmedian(result, x, axis=None, *, keepdims=False):
    d[x] = quantile_grad(d[result], x, 0.5, axis, keepdims, 1, True, "linear")


@tangent(np.nanmedian, aliases={"a": "x"})
def nanmedian_tangent(result, x, axis=None, *, keepdims=False):
    d[result] = quantile_jvp(d[x], x, 0.5, axis, keepdims, 1, True, "linear")


@adjoint(np.quantile, aliases={"a": "x"}, new_array=True)
def quantile(result, x, q, axis=None, *, method="linear", keepdims=False):
    d[x] = quantile_grad(d[result], x, q, axis, keepdims, 1, False, method)
    d[q] = quantile_q_grad(d[result], x, x, q, axis, keepdims, 1, False, method)


@tangent(np.quantile, aliases={"a": "x"})
def quantile_tangent(result, x, q, axis=None, *, method="linear", keepdims=False):
    d[result] = quantile_jvp(d[x], x, q, axis, keepdims, 1, False, method)
    d[result] = quantile_q_jvp(d[q], x, x, q, axis, keepdims, 1, False, method)


@adjoint(np.nanquantile, aliases={"a": "x"}, new_array=True)
def nanquantile(result, x, q, axis=None, *, method="linear", keepdims=False):
    d[x] = quantile_grad(d[result], x, q, axis, keepdims, 1, True, method)
    d[q] = quantile_q_grad(d[result], x, x, q, axis, keepdims, 1, True, method)


@tangent(np.nanquantile, aliases={"a": "x"})
def nanquantile_tangent(result, x, q, axis=None, *, method="linear", keepdims=False):
    d[result] = quantile_jvp(d[x], x, q, axis, keepdims, 1, True, method)
    d[result] = quantile_q_jvp(d[q], x, x, q, axis, keepdims, 1, True, method)


# q in percent: the quantile is q / 100
@adjoint(np.percentile, aliases={"a": "x"}, new_array=True)
def percentile(result, x, q, axis=None, *, method="linear", keepdims=False):
    d[x] = quantile_grad(d[result], x, q, axis, keepdims, 100, False, method)
    d[q] = quantile_q_grad(d[result], x, x, q, axis, keepdims, 100, False, method)


@tangent(np.percentile, aliases={"a": "x"})
def percentile_tangent(result, x, q, axis=None, *, method="linear", keepdims=False):
    d[result] = quantile_jvp(d[x], x, q, axis, keepdims, 100, False, method)
    d[result] = quantile_q_jvp(d[q], x, x, q, axis, keepdims, 100, False, method)


@adjoint(np.nanpercentile, aliases={"a": "x"}, new_array=True)
def nanpercentile(result, x, q, axis=None, *, method="linear", keepdims=False):
    d[x] = quantile_grad(d[result], x, q, axis, keepdims, 100, True, method)
    d[q] = quantile_q_grad(d[result], x, x, q, axis, keepdims, 100, True, method)


@tangent(np.nanpercentile, aliases={"a": "x"})
def nanpercentile_tangent(result, x, q, axis=None, *, method="linear", keepdims=False):
    d[result] = quantile_jvp(d[x], x, q, axis, keepdims, 100, True, method)
    d[result] = quantile_q_jvp(d[q], x, x, q, axis, keepdims, 100, True, method)


# for hvp: quantile_jvp is linear in the tangent, whose gradient is the quantile's own; x only picks which elements are
# read (zero), and q moves the mix between them: the slope of the tangent between the two. quantile_q_jvp is linear in
# q's tangent and in values (x, read at the two elements), and piecewise constant in q.
@adjoint(quantile_jvp, zero_gradient=("x",))
def quantile_jvp_rule(out, tangent, x, q, axis, keepdims, scale, skip_nan, method):
    d[tangent] = quantile_grad(d[out], x, q, axis, keepdims, scale, skip_nan, method)
    d[q] = quantile_q_grad(d[out], tangent, x, q, axis, keepdims, scale, skip_nan, method)


@adjoint(quantile_q_jvp, zero_gradient=("x", "q"))
def quantile_q_jvp_rule(out, tangent, values, x, q, axis, keepdims, scale, skip_nan, method):
    d[tangent] = quantile_q_grad(d[out], values, x, q, axis, keepdims, scale, skip_nan, method)
    d[values] = quantile_slope_grad(d[out], tangent, x, q, axis, keepdims, scale, skip_nan, method)


# ---- covariance and correlation --------------------------------------------------------------------------------
# m and y as np.cov arranges them (rows of variables, columns of observations; rowvar=False the other way), part 0 and
# 1 of the stacked rows. fweights=, aweights= and dtype= are refused (not parameters of the rules).


@adjoint(np.cov, new_array=True)
def cov(result, m, y=None, rowvar=True, bias=False, ddof=None):
    d[m] = cov_grad(d[result], m, y, rowvar, bias, ddof, 0)
    d[y] = cov_grad(d[result], m, y, rowvar, bias, ddof, 1)


@tangent(np.cov)
def cov_tangent(result, m, y=None, rowvar=True, bias=False, ddof=None):
    d[result] = cov_jvp(d[m], m, y, rowvar, bias, ddof, 0)
    d[result] = cov_jvp(d[y], m, y, rowvar, bias, ddof, 1)


# for hvp: linear in the tangent (np.cov's own gradient) and in the centered data
@adjoint(cov_jvp)
def cov_jvp_rule(out, tangent, m, y, rowvar, bias, ddof, part):
    d[tangent] = cov_grad(d[out], m, y, rowvar, bias, ddof, part)
    d[m] = cov_jvp_grad(d[out], tangent, m, y, rowvar, bias, ddof, part, 0)
    d[y] = cov_jvp_grad(d[out], tangent, m, y, rowvar, bias, ddof, part, 1)


# np.corrcoef normalizes np.cov's matrix: its gradients go through the normalization's (correlation_grad) to np.cov's,
# and its tangent is the normalization's of np.cov's, so hvp reaches through np.cov's rules and the normalization's.
@adjoint(np.corrcoef, new_array=True)
def corrcoef(result, x, y=None, rowvar=True):
    d[x] = cov_grad(correlation_grad(d[result], np.cov(x, y, rowvar)), x, y, rowvar, False, None, 0)
    d[y] = cov_grad(correlation_grad(d[result], np.cov(x, y, rowvar)), x, y, rowvar, False, None, 1)


@tangent(np.corrcoef)
def corrcoef_tangent(result, x, y=None, rowvar=True):
    d[result] = correlation_jvp(cov_jvp(d[x], x, y, rowvar, False, None, 0), np.cov(x, y, rowvar))
    d[result] = correlation_jvp(cov_jvp(d[y], x, y, rowvar, False, None, 1), np.cov(x, y, rowvar))


@adjoint(correlation_jvp)
def correlation_jvp_rule(out, tangent, cov):
    d[tangent] = correlation_grad(d[out], cov)
    d[cov] = correlation_jvp_grad(d[out], tangent, cov)
