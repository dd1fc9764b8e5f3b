"""Table entries for the reductions beyond sum and mean: prod, max/min (and amax/amin), var/std, cumsum, medians and
quantiles, cov and corrcoef, as functions and as methods, with every way of naming axes; and logsumexp written with them.

test_primitives.py imports TABLE from here and runs every entry. The test_ functions at the end check
what finite differences cannot (ties, where the numeric derivative splits the gradient); pytest collects them
(pytest.ini lists rules_*.py in python_files).
"""

import warnings

import numpy as np
import pytest

import sourcegrad

from rule_support import RANK3, SCALAR, UNARY, UNARY_ARRAYS, Entry, positive, real, shapes

# ---- domains and shape cases ---------------------------------------------------------------------------


def one_zero(rng, shape):
    """Normal values with the first element exactly 0: its group's product is 0, its own gradient is not."""
    values = np.array(rng.standard_normal(shape), dtype=np.float64)
    values.reshape(-1)[:1] = 0.0
    return values


def two_zeros(rng, shape):
    """The first two elements exactly 0: a group holding both has a zero gradient everywhere."""
    values = np.array(rng.standard_normal(shape), dtype=np.float64)
    values.reshape(-1)[:2] = 0.0
    return values


AXIS_0 = shapes([(5,)], [(3, 4)], [(2, 3, 4)])  # also axis=-1
AXIS_1 = shapes([(3, 4)], [(2, 3, 4)])
SEVERAL = shapes([(5,)], [(3, 4)], [(2, 3, 4)])  # at least two elements per group, for std and ddof=1
ZERO_CASES = shapes([(5,)], [(3, 4)], [(2, 3, 4)], [(1, 4)])

# ---- prod ----------------------------------------------------------------------------------------------


def prod_all(x, w):
    return (np.prod(x) * w).sum()


def prod_axis_0(x, w):
    return (np.prod(x, axis=0) * w).sum()


def prod_axis_1_positional(x, w):
    return (np.prod(x, 1) * w).sum()


def prod_axis_minus_1_keepdims(x, w):
    return (np.prod(x, axis=-1, keepdims=True) * w).sum()


def prod_axis_tuple(x, w):
    return (np.prod(x, axis=(0, 2)) * w).sum()


def prod_axis_tuple_negative_keepdims(x, w):
    return (np.prod(x, axis=(0, -1), keepdims=True) * w).sum()


def prod_all_keepdims(x, w):
    return (np.prod(x, keepdims=True) * w).sum()


def prod_keyword_a(x, w):
    return (np.prod(a=x, axis=0) * w).sum()  # numpy's keyword for the array


def prod_method(x, w):
    return (x.prod() * w).sum()


def prod_method_axis(x, w):
    return (x.prod(axis=-1) * w).sum()


def prod_method_tuple_keepdims(x, w):
    return (x.prod(axis=(1, 2), keepdims=True) * w).sum()


# ---- max, min, amax, amin --------------------------------------------------------------------------------


def max_all(x, w):
    return (np.max(x) * w).sum()


def max_axis_0(x, w):
    return (np.max(x, axis=0) * w).sum()


def max_axis_1_positional(x, w):
    return (np.max(x, 1) * w).sum()


def max_axis_minus_1_keepdims(x, w):
    return (np.max(x, axis=-1, keepdims=True) * w).sum()


def max_axis_tuple(x, w):
    return (np.max(x, axis=(0, 2)) * w).sum()


def max_axis_tuple_negative_keepdims(x, w):
    return (np.max(x, axis=(0, -1), keepdims=True) * w).sum()


def add_reduce(x, w):  # the ufunc's reduce: axis 0 by default
    return (np.add.reduce(x) * w).sum()


def add_reduce_axis_tuple_keepdims(x, w):
    return (np.add.reduce(x, (0, -1), keepdims=True) * w).sum()


def multiply_reduce(x, w):
    return (np.multiply.reduce(x) * w).sum()


def multiply_reduce_all(x, w):
    return (np.multiply.reduce(x, axis=None) * w).sum()


def maximum_reduce(x, w):  # the ufunc's reduce: axis 0 by default
    return (np.maximum.reduce(x) * w).sum()


def maximum_reduce_all(x, w):
    return (np.maximum.reduce(x, axis=None) * w).sum()


def maximum_reduce_axis_tuple_keepdims(x, w):
    return (np.maximum.reduce(x, (0, 2), keepdims=True) * w).sum()


def minimum_reduce(x, w):
    return (np.minimum.reduce(x) * w).sum()


def minimum_reduce_axis_minus_1_positional(x, w):
    return (np.minimum.reduce(x, -1) * w).sum()


def max_all_keepdims(x, w):
    return (np.max(x, keepdims=True) * w).sum()


def min_all(x, w):
    return (np.min(x) * w).sum()


def min_axis_0(x, w):
    return (np.min(x, axis=0) * w).sum()


def min_axis_minus_1_keepdims(x, w):
    return (np.min(x, axis=-1, keepdims=True) * w).sum()


def min_axis_tuple(x, w):
    return (np.min(x, axis=(1, 2)) * w).sum()


def amax_axis_1(x, w):
    return (np.amax(x, axis=1) * w).sum()


def amax_all(x, w):
    return (np.amax(x) * w).sum()


def amin_axis_tuple_keepdims(x, w):
    return (np.amin(x, axis=(0, 2), keepdims=True) * w).sum()


def amin_all(x, w):
    return (np.amin(x) * w).sum()


def max_method(x, w):
    return (x.max() * w).sum()


def max_method_axis(x, w):
    return (x.max(axis=0) * w).sum()


def max_method_positional_negative_keepdims(x, w):
    return (x.max(-1, keepdims=True) * w).sum()


def min_method(x, w):
    return (x.min() * w).sum()


def min_method_tuple(x, w):
    return (x.min(axis=(0, 2)) * w).sum()


# ---- var and std -----------------------------------------------------------------------------------------


def var_all(x, w):
    return (np.var(x) * w).sum()


def var_axis_0(x, w):
    return (np.var(x, axis=0) * w).sum()


def var_axis_minus_1_keepdims(x, w):
    return (np.var(x, axis=-1, keepdims=True) * w).sum()


def var_axis_tuple(x, w):
    return (np.var(x, axis=(0, 2)) * w).sum()


def var_ddof(x, w):
    return (np.var(x, axis=-1, ddof=1) * w).sum()


def var_ddof_all_keepdims(x, w):
    return (np.var(x, ddof=1, keepdims=True) * w).sum()


def var_correction(x, w):
    return (np.var(x, axis=0, correction=1) * w).sum()


def std_all(x, w):
    return (np.std(x) * w).sum()


def std_axis_0(x, w):
    return (np.std(x, axis=0) * w).sum()


def std_axis_1_keepdims(x, w):
    return (np.std(x, axis=1, keepdims=True) * w).sum()


def std_axis_tuple_negative(x, w):
    return (np.std(x, axis=(0, -1)) * w).sum()


def std_ddof(x, w):
    return (np.std(x, axis=-1, ddof=1) * w).sum()


def var_keyword_a(x, w):
    return (np.var(a=x, axis=0, ddof=1) * w).sum()


def var_method(x, w):
    return (x.var() * w).sum()


def var_method_axis_ddof(x, w):
    return (x.var(axis=1, ddof=1) * w).sum()


def std_method(x, w):
    return (x.std() * w).sum()


def std_method_tuple_keepdims(x, w):
    return (x.std(axis=(0, 2), keepdims=True) * w).sum()


# ---- cumsum ------------------------------------------------------------------------------------------------


def cumsum_flat(x, w):
    return (np.cumsum(x) * w).sum()


def cumsum_axis_0(x, w):
    return (np.cumsum(x, axis=0) * w).sum()


def cumsum_axis_1_positional(x, w):
    return (np.cumsum(x, 1) * w).sum()


def cumsum_axis_minus_1(x, w):
    return (np.cumsum(x, axis=-1) * w).sum()


def cumsum_method(x, w):
    return (x.cumsum() * w).sum()


def cumsum_method_axis(x, w):
    return (x.cumsum(axis=-2) * w).sum()


# ---- composites ------------------------------------------------------------------------------------------


def logsumexp(x, w):
    m = x.max(axis=1, keepdims=True)
    return ((np.log(np.exp(x - m).sum(axis=1, keepdims=True)) + m).sum(axis=1) * w).sum()


def log_softmax(x, w):
    m = np.max(x, axis=-1, keepdims=True)
    shifted = x - m
    return ((shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))) * w).sum()


def standardize(x, w):
    return (((x - x.mean(axis=0)) / x.std(axis=0)) * w).sum()


def geometric_mean(x, w):
    return (np.prod(x, axis=-1) ** (1 / 4) * w).sum()


# ---- nansum and nanmean: nan elements are skipped, and their gradient is 0 --------------------------------


def with_nans(rng, shape):
    """Normal values with every third element nan (the first stays a number, so no group is all nan)."""
    values = np.array(rng.standard_normal(shape), dtype=np.float64)
    values.reshape(-1)[1::3] = np.nan
    return values


def nansum_all(x, w):
    return (np.nansum(x) * w).sum()


def nansum_axis_0(x, w):
    return (np.nansum(x, axis=0) * w).sum()


def nansum_axis_tuple_keepdims(x, w):
    return (np.nansum(x, axis=(0, 2), keepdims=True) * w).sum()


def nanmean_all(x, w):
    return (np.nanmean(x) * w).sum()


def nanmean_axis_minus_1(x, w):
    return (np.nanmean(x, axis=-1) * w).sum()


def nanmean_axis_tuple_keepdims(x, w):
    return (np.nanmean(x, axis=(0, 2), keepdims=True) * w).sum()


def nanmean_keyword_a(x, w):
    return (np.nanmean(a=x, axis=-1) * w).sum()


# ---- running maxima and minima ----------------------------------------------------------------------------------


def maximum_accumulate(x, w):
    return (np.maximum.accumulate(x) * w).sum()


def maximum_accumulate_axis_1(x, w):
    return (np.maximum.accumulate(x, axis=1) * w).sum()


def maximum_accumulate_axis_minus_1_keyword(x, w):
    return (np.maximum.accumulate(array=x, axis=-1) * w).sum()


def minimum_accumulate(x, w):
    return (np.minimum.accumulate(x, 0) * w).sum()


def minimum_accumulate_axis_minus_1(x, w):
    return (np.minimum.accumulate(x, axis=-1) * w).sum()


# ---- cumprod -----------------------------------------------------------------------------------------------


def cumprod_flat(x, w):
    return (np.cumprod(x) * w).sum()


def cumprod_axis_0(x, w):
    return (np.cumprod(x, axis=0) * w).sum()


def cumprod_axis_minus_1(x, w):
    return (np.cumprod(x, -1) * w).sum()


def cumprod_method(x, w):
    return (x.cumprod() * w).sum()


def cumprod_method_axis(x, w):
    return (x.cumprod(axis=1) * w).sum()


# ---- diff ------------------------------------------------------------------------------------------------


def diff_last_axis(x, w):
    return (np.diff(x) * w).sum()


def diff_twice(x, w):
    return (np.diff(x, n=2) * w).sum()


def diff_axis_0(x, w):
    return (np.diff(x, axis=0) * w).sum()


def diff_n_3_axis_1(x, w):
    return (np.diff(x, 3, 1) * w).sum()


def diff_n_0(x, w):
    return (np.diff(x, n=0) * w).sum()


def diff_prepend_append(x, p, a, w):  # joined to x along the last axis, then differenced
    return (np.diff(x, prepend=p, append=a) * w).sum()


def diff_prepend_a_list(x, w):  # numpy makes the list an array: two values before x, not one slice
    return (np.diff(x, prepend=[0.0, 0.5], append=(1.5,)) * w).sum()


def diff_prepend_twice_axis_0(x, p, w):
    return (np.diff(x, n=2, axis=0, prepend=p) * w).sum()


def diff_append_n_0(x, a, w):  # n=0 returns x: append is not even joined
    return (np.diff(x, n=0, append=a) * w).sum()


# ---- median, quantile, percentile and their nan forms -----------------------------------------------------------


def quantiles(rng, shape):
    """Quantiles inside (0, 1), away from its ends (numpy refuses q outside it)."""
    return rng.uniform(0.05, 0.95, shape)


def percents(rng, shape):
    return rng.uniform(5.0, 95.0, shape)


def median_all(x, w):
    return (np.median(x) * w).sum()


def median_axis_0(x, w):
    return (np.median(x, axis=0) * w).sum()


def median_axis_minus_1_keepdims(x, w):
    return (np.median(x, -1, keepdims=True) * w).sum()


def median_axis_tuple(x, w):
    return (np.median(a=x, axis=(0, 2)) * w).sum()


def median_all_keepdims(x, w):
    return (np.median(x, keepdims=True) * w).sum()


def nanmedian_axis_minus_1(x, w):
    return (np.nanmedian(x, axis=-1) * w).sum()


def nanmedian_all(x, w):
    return (np.nanmedian(x) * w).sum()


def quantile_all(x, q, w):  # q a number or an array of quantiles: the result has q's axes first
    return (np.quantile(x, q) * w).sum()


def quantile_axis_0_keepdims(x, q, w):
    return (np.quantile(x, q, axis=0, keepdims=True) * w).sum()


def quantile_axis_tuple_linear(x, q, w):
    return (np.quantile(x, q, (0, -1), method="linear") * w).sum()


def quantile_constant_q(x, w):
    return (np.quantile(x, [0.25, 0.5, 0.9], axis=-1) * w).sum()


def percentile_axis_minus_1(x, q, w):
    return (np.percentile(x, q, axis=-1) * w).sum()


def nanquantile_axis_0(x, q, w):
    return (np.nanquantile(x, q, axis=0) * w).sum()


def nanpercentile_all_keepdims(x, q, w):
    return (np.nanpercentile(x, q, keepdims=True) * w).sum()


# (x, q): q a number, a 0-d array, or quantiles along an axis of their own
QUANTILES = shapes([(5,), SCALAR], [(3, 4), ()], [(2, 3, 4), (3,)], [(4, 3), (2, 2)])
QUANTILES_RANK3 = shapes([(2, 3, 4), SCALAR], [(2, 3, 4), (2,)])
NAN_QUANTILES = shapes([(5,), SCALAR], [(4, 4), ()], [(5, 4), (3,)])  # every column keeps a number

# ---- cov and corrcoef -----------------------------------------------------------------------------------------


def cov_rows(m, w):  # rows are variables; a vector is one variable, whose covariance is a 0-d array
    return (np.cov(m) * w).sum()


def cov_columns(m, w):
    return (np.cov(m, rowvar=False) * w).sum()


def cov_bias(m, w):
    return (np.cov(m, bias=True) * w).sum()


def cov_ddof(m, w):
    return (np.cov(m, rowvar=False, ddof=2) * w).sum()


def cov_columns_biased(m, w):  # one row of m with rowvar=False: numpy (2.2 on) takes its columns for variables
    return (np.cov(m, rowvar=False, bias=True) * w).sum()


def cov_with_y(m, y, w):
    return (np.cov(m, y) * w).sum()


def cov_with_y_columns(m, y, w):
    return (np.cov(m, y, rowvar=False, bias=True) * w).sum()


def corrcoef_rows(x, w):
    return (np.corrcoef(x) * w).sum()


def corrcoef_columns(x, w):
    return (np.corrcoef(x, rowvar=False) * w).sum()


def corrcoef_with_y(x, y, w):
    return (np.corrcoef(x, y) * w).sum()


VARIABLES = shapes([(3, 5)], [(5,)], [(1, 6)], [(2, 7)])
OBSERVATIONS = shapes([(6, 3)], [(5,)], [(7, 2)])
TWO_SETS = shapes([(2, 5), (5,)], [(5,), (5,)], [(2, 6), (3, 6)])
TWO_SETS_COLUMNS = shapes([(5, 2), (5,)], [(6, 2), (6, 3)], [(5, 2), (1, 5)])  # a y of one row is one variable

TABLE = [
    # cov (variables in rows or in columns, bias, ddof, a second set y) and corrcoef
    Entry(np.cov, cov_rows, VARIABLES),
    Entry(np.cov, cov_columns, OBSERVATIONS),
    Entry(np.cov, cov_bias, VARIABLES),
    Entry(np.cov, cov_columns_biased, shapes([(1, 4)], [(2, 3)], [(6, 1)])),
    Entry(np.cov, cov_ddof, OBSERVATIONS),
    Entry(np.cov, cov_with_y, TWO_SETS),
    Entry(np.cov, cov_with_y_columns, TWO_SETS_COLUMNS),
    Entry(np.corrcoef, corrcoef_rows, VARIABLES),
    Entry(np.corrcoef, corrcoef_columns, OBSERVATIONS),
    Entry(np.corrcoef, corrcoef_with_y, TWO_SETS),
    # running maxima and minima (normal samples: no ties, see the test_ functions for those)
    Entry(np.maximum.accumulate, maximum_accumulate, AXIS_0),
    Entry(np.maximum.accumulate, maximum_accumulate_axis_1, AXIS_1),
    Entry(np.maximum.accumulate, maximum_accumulate_axis_minus_1_keyword, AXIS_0),
    Entry(np.minimum.accumulate, minimum_accumulate, AXIS_0),
    Entry(np.minimum.accumulate, minimum_accumulate_axis_minus_1, AXIS_1),
    # median (odd and even groups), quantile, percentile, and the nan forms (every third element nan)
    Entry(np.median, median_all, UNARY),
    Entry(np.median, median_axis_0, AXIS_0),
    Entry(np.median, median_axis_minus_1_keepdims, AXIS_0),
    Entry(np.median, median_axis_tuple, RANK3),
    Entry(np.median, median_all_keepdims, UNARY_ARRAYS),
    Entry(np.nanmedian, nanmedian_axis_minus_1, AXIS_1, domain=with_nans),
    Entry(np.nanmedian, nanmedian_all, UNARY_ARRAYS, domain=with_nans),
    Entry(np.quantile, quantile_all, QUANTILES, domain=(real, quantiles)),
    Entry(np.quantile, quantile_axis_0_keepdims, QUANTILES, domain=(real, quantiles)),
    Entry(np.quantile, quantile_axis_tuple_linear, QUANTILES_RANK3, domain=(real, quantiles)),
    Entry(np.quantile, quantile_constant_q, AXIS_0),
    Entry(np.percentile, percentile_axis_minus_1, QUANTILES, domain=(real, percents)),
    Entry(np.nanquantile, nanquantile_axis_0, NAN_QUANTILES, domain=(with_nans, quantiles)),
    Entry(np.nanpercentile, nanpercentile_all_keepdims, QUANTILES, domain=(with_nans, percents)),
    # prod
    # nansum, nanmean (every third element nan; without nans too)
    Entry(np.nansum, nansum_all, UNARY),
    Entry(np.nansum, nansum_all, UNARY_ARRAYS, domain=with_nans),
    Entry(np.nansum, nansum_axis_0, AXIS_0, domain=with_nans),
    Entry(np.nansum, nansum_axis_tuple_keepdims, RANK3, domain=with_nans),
    Entry(np.nanmean, nanmean_all, UNARY),
    Entry(np.nanmean, nanmean_all, UNARY_ARRAYS, domain=with_nans),
    Entry(np.nanmean, nanmean_axis_minus_1, AXIS_1, domain=with_nans),
    Entry(np.nanmean, nanmean_axis_tuple_keepdims, RANK3, domain=with_nans),
    Entry(np.nanmean, nanmean_keyword_a, AXIS_1, domain=with_nans),
    # cumprod, also with one or two zeros in the input
    Entry(np.cumprod, cumprod_flat, UNARY),
    Entry(np.cumprod, cumprod_axis_0, AXIS_0),
    Entry(np.cumprod, cumprod_axis_minus_1, AXIS_0),
    Entry(np.cumprod, cumprod_method, UNARY_ARRAYS),
    Entry(np.cumprod, cumprod_method_axis, AXIS_1),
    Entry(np.cumprod, cumprod_flat, ZERO_CASES, domain=one_zero),
    Entry(np.cumprod, cumprod_axis_0, ZERO_CASES, domain=one_zero),
    Entry(np.cumprod, cumprod_axis_minus_1, ZERO_CASES, domain=two_zeros),
    Entry(np.cumprod, cumprod_method_axis, AXIS_1, domain=two_zeros),
    # diff
    Entry(np.diff, diff_last_axis, shapes([(5,)], [(3, 4)], [(2, 3, 4)])),
    Entry(np.diff, diff_twice, shapes([(5,)], [(3, 4)], [(2, 3, 4)])),
    Entry(np.diff, diff_prepend_a_list, shapes([(3,)], [(5,)])),
    Entry(np.diff, diff_axis_0, shapes([(5,)], [(3, 4)], [(2, 3, 4)])),
    Entry(np.diff, diff_n_3_axis_1, shapes([(3, 5)], [(2, 5, 3)])),
    Entry(np.diff, diff_n_0, shapes([(5,)], [(3, 4)])),
    # prepend and append: a number stretched to one slice, or arrays of x's shape but along the axis
    Entry(np.diff, diff_prepend_append, shapes([(5,), SCALAR, ()], [(5,), (2,), (3,)], [(3, 4), (3, 2), ()],
                                               [(2, 3, 4), (), (2, 3, 1)])),
    Entry(np.diff, diff_prepend_twice_axis_0, shapes([(4, 3), (2, 3)], [(4, 3), SCALAR], [(3, 2, 2), (1, 2, 2)])),
    Entry(np.diff, diff_append_n_0, shapes([(5,), SCALAR])),
    # prod
    Entry(np.prod, prod_all, UNARY),
    Entry(np.prod, prod_axis_0, AXIS_0),
    Entry(np.prod, prod_axis_1_positional, AXIS_1),
    Entry(np.prod, prod_axis_minus_1_keepdims, AXIS_0),
    Entry(np.prod, prod_axis_tuple, RANK3),
    Entry(np.prod, prod_axis_tuple_negative_keepdims, RANK3),
    Entry(np.prod, prod_all_keepdims, UNARY_ARRAYS),
    Entry(np.prod, prod_keyword_a, AXIS_0),
    Entry(np.prod, prod_method, UNARY_ARRAYS),
    Entry(np.prod, prod_method_axis, AXIS_0),
    Entry(np.prod, prod_method_tuple_keepdims, RANK3),
    # prod where the input holds zeros: one zero (its gradient is the product of the others) or two
    Entry(np.prod, prod_all, shapes([SCALAR], [()]) + ZERO_CASES, domain=one_zero),
    Entry(np.prod, prod_axis_minus_1_keepdims, ZERO_CASES, domain=one_zero),
    Entry(np.prod, prod_axis_0, ZERO_CASES, domain=one_zero),
    Entry(np.prod, prod_axis_tuple, RANK3, domain=one_zero),
    Entry(np.prod, prod_method_axis, ZERO_CASES, domain=one_zero),
    Entry(np.prod, prod_all, ZERO_CASES, domain=two_zeros),
    Entry(np.prod, prod_axis_minus_1_keepdims, ZERO_CASES, domain=two_zeros),
    Entry(np.prod, prod_axis_0, ZERO_CASES, domain=two_zeros),
    # max and min (normal samples: no ties, see the test_ functions for those)
    Entry(np.max, max_all, UNARY),
    Entry(np.max, max_axis_0, AXIS_0),
    Entry(np.max, max_axis_1_positional, AXIS_1),
    Entry(np.max, max_axis_minus_1_keepdims, AXIS_0),
    Entry(np.max, max_axis_tuple, RANK3),
    Entry(np.max, max_axis_tuple_negative_keepdims, RANK3),
    Entry(np.max, max_all_keepdims, UNARY_ARRAYS),
    Entry(np.min, min_all, UNARY),
    Entry(np.min, min_axis_0, AXIS_0),
    Entry(np.min, min_axis_minus_1_keepdims, AXIS_0),
    Entry(np.min, min_axis_tuple, RANK3),
    Entry(np.amax, amax_all, UNARY),
    Entry(np.amax, amax_axis_1, AXIS_1),
    Entry(np.amin, amin_all, UNARY),
    Entry(np.amin, amin_axis_tuple_keepdims, RANK3),
    Entry(np.max, max_method, UNARY_ARRAYS),
    Entry(np.max, max_method_axis, AXIS_0),
    Entry(np.max, max_method_positional_negative_keepdims, AXIS_0),
    Entry(np.min, min_method, UNARY_ARRAYS),
    Entry(np.min, min_method_tuple, RANK3),
    Entry(np.add.reduce, add_reduce, AXIS_0),
    Entry(np.add.reduce, add_reduce_axis_tuple_keepdims, RANK3),
    Entry(np.multiply.reduce, multiply_reduce, AXIS_0),
    Entry(np.multiply.reduce, multiply_reduce_all, UNARY_ARRAYS[1:]),
    Entry(np.maximum.reduce, maximum_reduce, AXIS_0),
    Entry(np.maximum.reduce, maximum_reduce_all, UNARY_ARRAYS[1:]),
    Entry(np.maximum.reduce, maximum_reduce_axis_tuple_keepdims, RANK3),
    Entry(np.minimum.reduce, minimum_reduce, AXIS_0),
    Entry(np.minimum.reduce, minimum_reduce_axis_minus_1_positional, AXIS_0),
    # var and std
    Entry(np.var, var_all, UNARY),
    Entry(np.var, var_axis_0, AXIS_0),
    Entry(np.var, var_axis_minus_1_keepdims, AXIS_0),
    Entry(np.var, var_axis_tuple, RANK3),
    Entry(np.var, var_ddof, SEVERAL),
    Entry(np.var, var_ddof_all_keepdims, SEVERAL),
    Entry(np.var, var_correction, SEVERAL),
    Entry(np.std, std_all, SEVERAL),
    Entry(np.std, std_axis_0, SEVERAL),
    Entry(np.std, std_axis_1_keepdims, AXIS_1),
    Entry(np.std, std_axis_tuple_negative, AXIS_1),
    Entry(np.std, std_ddof, SEVERAL),
    Entry(np.var, var_keyword_a, SEVERAL),
    Entry(np.var, var_method, UNARY_ARRAYS),
    Entry(np.var, var_method_axis_ddof, AXIS_1),
    Entry(np.std, std_method, SEVERAL),
    Entry(np.std, std_method_tuple_keepdims, RANK3),
    # cumsum
    Entry(np.cumsum, cumsum_flat, UNARY),
    Entry(np.cumsum, cumsum_axis_0, AXIS_0),
    Entry(np.cumsum, cumsum_axis_1_positional, AXIS_1),
    Entry(np.cumsum, cumsum_axis_minus_1, AXIS_0),
    Entry(np.cumsum, cumsum_method, UNARY_ARRAYS),
    Entry(np.cumsum, cumsum_method_axis, AXIS_1),
    # composites
    Entry(np.max, logsumexp, AXIS_1),
    Entry(np.max, log_softmax, AXIS_0),
    Entry(np.std, standardize, shapes([(5, 3)], [(4, 2, 3)])),
    Entry(np.prod, geometric_mean, shapes([(4,)], [(3, 4)]), domain=positive),
]

# ---- what finite differences cannot check ---------------------------------------------------------------------
# At a tie the numeric derivative splits the gradient (+eps raises the max, -eps leaves it to the other
# element); the rules give it all to the first extreme element, as np.argmax / np.argmin pick.

TIES = np.array([[1.0, 3.0, 3.0, 0.0],
                 [2.0, 2.0, -1.0, 2.0],
                 [0.0, -1.0, -1.0, 0.0]])


def _grad(fn, *args):
    return sourcegrad.differentiate(fn, wrt="x").grad(*args)


def _first_onehot(values, axis, pick):
    index = pick(values, axis=axis, keepdims=True)
    return (np.arange(values.shape[axis]).reshape([-1 if a == axis else 1 for a in range(values.ndim)]) == index) * 1.0


def tie_max_rows(x):
    return np.max(x, axis=1).sum()


def tie_max_columns_method(x):
    return x.max(axis=0).sum()


def tie_max_all(x):
    return np.amax(x)


def tie_min_rows(x):
    return np.min(x, axis=-1, keepdims=True).sum()


def tie_min_all_method(x):
    return x.min()


def tie_max_tuple(x):
    return np.max(x, axis=(0, 1)).sum()


def tie_maximum_reduce_rows(x):
    return np.maximum.reduce(x, axis=1).sum()


def tie_minimum_reduce_columns(x):
    return np.minimum.reduce(x).sum()


def test_ufunc_reduce_tie_goes_to_the_first_extreme_as_max_and_min():
    np.testing.assert_array_equal(_grad(tie_maximum_reduce_rows, TIES), _first_onehot(TIES, 1, np.argmax))
    np.testing.assert_array_equal(_grad(tie_minimum_reduce_columns, TIES), _first_onehot(TIES, 0, np.argmin))


def maximum_reduce_with_an_initial(x):
    return np.maximum.reduce(x, initial=0.0).sum()


def maximum_reduce_with_a_dtype(x):
    return np.maximum.reduce(x, 0, np.float32).sum()


@pytest.mark.parametrize("fn", [maximum_reduce_with_an_initial, maximum_reduce_with_a_dtype])
def test_ufunc_reduce_refuses_initial_and_a_positional_dtype(fn):
    with pytest.raises(sourcegrad.SourcegradError, match="does not accept"):
        _grad(fn, TIES)


def test_max_tie_goes_to_the_first_maximum():
    np.testing.assert_array_equal(_grad(tie_max_rows, TIES), _first_onehot(TIES, 1, np.argmax))
    np.testing.assert_array_equal(_grad(tie_max_rows, TIES), [[0, 1, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0]])
    np.testing.assert_array_equal(_grad(tie_max_columns_method, TIES), _first_onehot(TIES, 0, np.argmax))
    expected = np.zeros_like(TIES)
    expected[0, 1] = 1.0
    np.testing.assert_array_equal(_grad(tie_max_all, TIES), expected)


def test_min_tie_goes_to_the_first_minimum():
    np.testing.assert_array_equal(_grad(tie_min_rows, TIES), _first_onehot(TIES, 1, np.argmin))
    expected = np.zeros_like(TIES)
    expected[1, 2] = 1.0  # -1 first occurs at [1, 2] in C order
    np.testing.assert_array_equal(_grad(tie_min_all_method, TIES), expected)


def test_max_tie_over_a_tuple_of_axes_goes_to_the_first_in_c_order():
    x = np.stack([TIES, TIES])  # every maximum ties with its copy in the other block
    gradient = _grad(tie_max_tuple, x)
    expected = np.zeros_like(x)
    # per column, over (block, row) in C order: the first 2 is at (0, 1), the first 3s at (0, 0), the first 2 at (0, 1)
    expected[0, 1, 0] = expected[0, 0, 1] = expected[0, 0, 2] = expected[0, 1, 3] = 1.0
    np.testing.assert_array_equal(gradient, expected)


def prod_rows(x):
    return np.prod(x, axis=1).sum()


def test_prod_gradient_at_zeros():
    x = np.array([[0.0, 2.0, 3.0], [0.0, 0.0, 5.0], [1.0, 2.0, 3.0]])
    np.testing.assert_array_equal(_grad(prod_rows, x), [[6, 0, 0], [0, 0, 0], [6, 3, 2]])


def cumprod_total(x):
    return np.cumprod(x).sum()


def test_cumprod_gradient_at_zeros():
    # x0 * (1 + x1 + x1 x2) + ...: at x1 == 0 the gradient of x1 is x0 (1 + x2), of x2 is 0
    x = np.array([2.0, 0.0, 3.0])
    np.testing.assert_array_equal(_grad(cumprod_total, x), [1.0, 8.0, 0.0])


def nanmean_rows(x):
    return (np.nanmean(x, axis=1) * np.array([1.0, 2.0])).sum()


def nansum_doubled(x):
    # (not x * x: the product's own rule would give nan * 0 = nan at a nan element, whatever nansum gives it)
    return np.nansum(x * 2.0)


def test_nan_reductions_give_nan_elements_no_gradient():
    x = np.array([[1.0, np.nan, 3.0], [np.nan, np.nan, 4.0]])
    np.testing.assert_array_equal(_grad(nanmean_rows, x), [[0.5, 0.0, 0.5], [0.0, 0.0, 2.0]])
    np.testing.assert_array_equal(_grad(nansum_doubled, x), [[2.0, 0.0, 2.0], [0.0, 0.0, 2.0]])


def median_rows(x):
    return (np.median(x, axis=1) * np.array([1.0, 2.0, 3.0])).sum()


def test_median_gradient_at_ties_goes_as_sorts_does():
    # each row sorted stably: the tied middle elements are told apart by their place in x, as np.sort's rule does
    x = np.array([[1.0, 3.0, 3.0, 0.0, 3.0],  # sorted 0 1 3 3 3: the middle is the first 3
                  [2.0, 2.0, 2.0, 2.0, 2.0],  # all tied: the third element
                  [5.0, -1.0, 4.0, -1.0, 0.0]])  # sorted -1 -1 0 4 5: the 0
    np.testing.assert_array_equal(_grad(median_rows, x), [[0, 1, 0, 0, 0], [0, 0, 2, 0, 0], [0, 0, 0, 0, 3]])
    x = x[:, :4]  # even: the two middle elements share the gradient (row 2 sorted: -1 at 1, -1 at 3, 4 at 2, 5)
    np.testing.assert_array_equal(_grad(median_rows, x), [[0.5, 0.5, 0, 0], [0, 1, 1, 0], [0, 0, 1.5, 1.5]])


def test_median_of_a_group_holding_nan_sends_its_gradient_to_the_first_nan_as_max_does():
    # numpy's median of such a group is nan; its gradient goes where the value came from, as np.max's does
    x = np.array([[1.0, np.nan, 2.0, np.nan], [3.0, 4.0, 0.0, 1.0], [5.0, 5.0, np.nan, 1.0]])
    np.testing.assert_array_equal(_grad(median_rows, x), [[0, 1, 0, 0], [1, 0, 0, 1], [0, 0, 3, 0]])


def quantile_nearest(x):
    return np.quantile(x, 0.3, method="nearest")


def median_overwriting_its_input(x):
    return np.median(x, overwrite_input=True)


def median_with_out_by_position(x, out):
    return np.median(x, 0, out).sum()


def percentile_weighted(x):
    return np.percentile(x, 30.0, method="inverted_cdf", weights=np.ones(4))


@pytest.mark.parametrize("fn, args, match", [
    (quantile_nearest, (np.arange(4.0),), "method='linear' only"),
    (median_overwriting_its_input, (np.arange(4.0),), "does not accept"),
    (median_with_out_by_position, (np.ones((2, 3)), np.zeros(3)), "does not accept"),
    (percentile_weighted, (np.arange(4.0),), "does not accept"),
], ids=["method", "overwrite_input", "out by position", "weights"])
def test_quantile_arguments_without_a_rule_are_refused(fn, args, match):
    with pytest.raises(sourcegrad.SourcegradError, match=match):
        sourcegrad.differentiate(fn, wrt="x").grad(*args)


def cov_frequency_weighted(x):
    return np.cov(x, fweights=np.array([1, 2, 1, 1])).sum()


def cov_weighted(x):
    return np.cov(x, aweights=np.ones(4)).sum()


def corrcoef_in_float32(x):
    return np.corrcoef(x, dtype=np.float32).sum()


@pytest.mark.parametrize("fn", [cov_frequency_weighted, cov_weighted, corrcoef_in_float32],
                         ids=["fweights", "aweights", "dtype"])
def test_cov_arguments_without_a_rule_are_refused(fn):
    with pytest.raises(sourcegrad.SourcegradError, match="does not accept"):
        sourcegrad.differentiate(fn, wrt="x").grad(np.arange(8.0).reshape(2, 4) ** 2)


def cov_without_degrees_of_freedom(m, ddof):
    return np.sum(np.cov(m, ddof=ddof))


@pytest.mark.parametrize("ddof", [4, 5, 7])
def test_cov_with_ddof_at_or_beyond_the_observations_has_no_finite_gradient(ddof):
    # numpy divides by N - ddof, and by 0 where that is not positive: its value is infinite, and so its gradient
    m = np.arange(12.0).reshape(3, 4) ** 1.5
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert not np.isfinite(cov_without_degrees_of_freedom(m, ddof))
        gradient = sourcegrad.differentiate(cov_without_degrees_of_freedom, wrt="m").grad(m, ddof)
    assert not np.any(np.isfinite(gradient))


def running_maximum(x):
    return (np.maximum.accumulate(x, axis=-1) * np.array([1.0, 10.0, 100.0, 1000.0, 1e4])).sum()


def running_minimum(x):
    return (np.minimum.accumulate(x, axis=-1) * np.array([1.0, 10.0, 100.0, 1000.0, 1e4])).sum()


def test_running_extremes_at_ties_keep_the_first_element_that_reached_them():
    # np.maximum gives a tie to its first argument, the running value: a later equal element takes nothing
    x = np.array([[1.0, 3.0, 3.0, 2.0, 4.0], [2.0, 2.0, 2.0, 2.0, 2.0], [5.0, 1.0, 5.0, 7.0, 7.0]])
    expected = [[1.0, 1110.0, 0.0, 0.0, 1e4], [11111.0, 0.0, 0.0, 0.0, 0.0], [111.0, 0.0, 0.0, 11000.0, 0.0]]
    np.testing.assert_array_equal(_grad(running_maximum, x), expected)
    np.testing.assert_array_equal(_grad(running_minimum, -x), expected)  # the running minima of -x are minus those


def running_maximum_into(x, out):
    return np.maximum.accumulate(x, out=out).sum()


def running_maximum_in_float32(x):
    return np.maximum.accumulate(x, dtype=np.float32).sum()


@pytest.mark.parametrize("fn, args", [(running_maximum_into, (np.arange(3.0), np.zeros(3))),
                                      (running_maximum_in_float32, (np.arange(3.0),))], ids=["out", "dtype"])
def test_running_extreme_arguments_without_a_rule_are_refused(fn, args):
    with pytest.raises(sourcegrad.SourcegradError, match="does not accept"):
        sourcegrad.differentiate(fn, wrt="x").grad(*args)
