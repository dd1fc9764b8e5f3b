"""Table entries for the elementwise rules beyond the core ones: more exponentials and logarithms,
trigonometric and hyperbolic functions, fmax/fmin, hypot, logaddexp and np.where.

test_primitives.py imports TABLE from here and runs every entry. The test_ functions at the end check
what finite differences cannot (a point where the function jumps, ties, nan inputs); pytest collects
them only when this file is named on its command line (it does not match test_*.py), or when a
collected test module imports them.
"""

import math
import operator

import numpy as np
import pytest

import sourcegrad

from rule_support import APART, BROADCAST, OFF_INTEGERS, SCALAR, UNARY, Entry, positive, real, shapes

# ---- domains ------------------------------------------------------------------------------------------------


def uniform(low, high):
    def sample(rng, shape):
        return rng.uniform(low, high, shape)

    sample.__name__ = f"uniform_{low}_{high}"
    return sample


INSIDE_UNIT = uniform(-0.9, 0.9)  # arcsin, arccos, arctanh: (-1, 1), kept away from the ends
ABOVE_ONE = uniform(1.5, 3.0)  # arccosh
ABOVE_MINUS_ONE = uniform(-0.5, 2.0)  # log1p
NEAR_ZERO = uniform(-1.2, 1.2)  # tan: away from its poles at +-pi/2


def with_nans(sample):
    """sample, with about a third of the values nan (fmax and fmin then give the other operand)."""

    def sample_with_nans(rng, shape):
        values = np.asarray(sample(rng, shape), dtype=np.float64)
        return np.where(rng.random(shape) < 0.35, np.nan, values)

    return sample_with_nans


# np.where(condition, x, y) with three operands: the condition broadcasts too, and can be the
# largest of the three (then both gradients are summed back).
WHERE = shapes(
    [(3, 4), (3, 4), (3, 4)],
    [(3, 4), (4,), (3, 1)],
    [(3, 4), (), (4,)],
    [(4,), (3, 1), (3, 4)],
    [(2, 3, 4), (3, 4), (4,)],
    [(3, 1), (1, 4), ()],
    [(), (3, 4), (3, 4)],
    [(), (), ()],
    [(3, 4), SCALAR, (3, 4)],
    [(3, 4), (3, 4), SCALAR],
    [SCALAR, (3, 4), SCALAR],
    [SCALAR, SCALAR, SCALAR],
)


# ---- the primitives, as users write them -------------------------------------------------------------------
# exponentials and logarithms


def np_cbrt(x, w):
    return (np.cbrt(x) * w).sum()


def np_reciprocal(x, w):
    return (np.reciprocal(x) * w).sum()


def np_exp2(x, w):
    return (np.exp2(x) * w).sum()


def np_expm1(x, w):
    return (np.expm1(x) * w).sum()


def np_log2(x, w):
    return (np.log2(x) * w).sum()


def np_log10(x, w):
    return (np.log10(x) * w).sum()


def np_log1p(x, w):
    return (np.log1p(x) * w).sum()


def np_logaddexp(x, y, w):
    return (np.logaddexp(x, y) * w).sum()


def np_logaddexp2(x, y, w):
    return (np.logaddexp2(x, y) * w).sum()


# A mask of -inf entries, as log-space CTC, HMM and attention code writes; their results are left out of the sum
# (nothing weighs them), so their gradient is 0, and a neighbour that broadcasting sums them into keeps its own.
MASKED_COLUMN = np.array([False, True, False, False])


def logaddexp_of_masked_entries(x, w):
    y = x + np.where(MASKED_COLUMN, -np.inf, 0.0 * x)  # added: x's gradient passes the mask
    z = np.logaddexp(y, 0.5 * y) + np.logaddexp(y, y[0])  # both operands -inf in the masked column
    return (np.where(z > -np.inf, z, 0.0) * w).sum()


def logaddexp2_of_masked_entries(x, w):
    y = x + np.where(MASKED_COLUMN, -np.inf, 0.0 * x)
    z = np.logaddexp2(y, y[-1])
    return (np.where(z > -np.inf, z, 0.0) * w).sum()


def logaddexp_large(x, w):
    # exp(1000) overflows; the rule's exp(x - result) does not
    return (np.logaddexp(x + 1000.0, 1000.0) * w).sum()


# trigonometric and hyperbolic


def np_tan(x, w):
    return (np.tan(x) * w).sum()


def np_arcsin(x, w):
    return (np.arcsin(x) * w).sum()


def np_arccos(x, w):
    return (np.arccos(x) * w).sum()


def np_arctan(x, w):
    return (np.arctan(x) * w).sum()


def np_arctan2(y, x, w):
    return (np.arctan2(y, x) * w).sum()


def np_hypot(x, y, w):
    return (np.hypot(x, y) * w).sum()


def hypot_constant(x, w):
    return (np.hypot(x, 3.0) * w).sum()


def np_sinh(x, w):
    return (np.sinh(x) * w).sum()


def np_cosh(x, w):
    return (np.cosh(x) * w).sum()


def np_arcsinh(x, w):
    return (np.arcsinh(x) * w).sum()


def np_arccosh(x, w):
    return (np.arccosh(x) * w).sum()


def np_arctanh(x, w):
    return (np.arctanh(x) * w).sum()


# fmax and fmin: like maximum and minimum, and a nan operand gives the other one


def np_fmax(x, y, w):
    return (np.fmax(x, y) * w).sum()


def np_fmin(x, y, w):
    return (np.fmin(x, y) * w).sum()


# heaviside: x floored onto the integers, so that some entries are exactly 0 and take h0 there


def heaviside_at_zeros(x, h0, w):
    return (np.heaviside(np.floor(x), h0) * w).sum()


def fmax_nans(x, y, w):
    return (np.fmax(x, y) * w).sum()


def fmin_nans(x, y, w):
    return (np.fmin(x, y) * w).sum()


def fmax_zero(x, w):
    return (np.fmax(x, 0.0) * w).sum()


def fmin_zero_first(x, w):
    return (np.fmin(0.0, x) * w).sum()


# np.where


def where_log(x, w):
    return (np.where(x > 0, np.log(x), 0.0) * w).sum()


def where_log_safe(x, w):
    # the double where: log never sees x <= 0, so its rule never divides 0 by 0
    return (np.where(x > 0, np.log(np.where(x > 0, x, 1.0)), 0.0) * w).sum()


def where_relu(x, w):
    return (np.where(x > 0, x, 0.0) * w).sum()


def where_constant_first(x, w):
    return (np.where(x > 0, 1.0, x * x) * w).sum()


def where_two(x, y, w):
    return (np.where(x > 0, x, y) * w).sum()


def where_three(c, x, y, w):
    return (np.where(c > 0, x, y) * w).sum()


def sqrt_of_where(x, w):
    # at x < 0 sqrt's rule gives d = w / 0 = inf for the where's result; the select keeps it from x
    return (np.sqrt(np.where(x > 0, x, 0.0)) * w).sum()


# ---- angle conversions, fabs, remainders, np.select, real and imag ---------------------------------------------


def deg2rad(x, w):
    return (np.deg2rad(x) * w).sum()


def radians(x, w):
    return (np.radians(x) * w).sum()


def rad2deg(x, w):
    return (np.rad2deg(x) * w).sum()


def degrees(x, w):
    return (np.degrees(x) * w).sum()


def fabs(x, w):
    return (np.fabs(x) * w).sum()


def remainder(x, y, w):
    return (np.remainder(x, y) * w).sum()


def mod(x, y, w):
    return (np.mod(x, y) * w).sum()


def mod_operator(x, y, w):
    return ((x % y) * w).sum()


# x / y (the divisor k + 0.5 + jitter, never 0) stays away from the integers, where x % y jumps
REMAINDER_DOMAIN = (real, OFF_INTEGERS)


def select_two_choices(x, y, w):
    # where both conditions hold the first choice wins; where neither holds, the default 0
    return (np.select([x > 0.0, y > 0.0], [x * y, np.sin(y)]) * w).sum()


def select_default(x, y, w):
    return (np.select([x > 0.0], [x], default=y * 2.0) * w).sum()


def nonfinite(*values):
    """Normal samples with about a sixth of them each of these values (nan, inf, -inf): what np.nan_to_num
    replaces. A finite-difference step leaves them where they are, so their gradient is 0."""

    def sample(rng, shape):
        kind = rng.integers(0, 6, shape)
        return np.select([kind == k for k in range(len(values))], list(values), rng.standard_normal(shape))

    return sample


def nan_to_num(x, w):  # (inf becomes the largest float, whose weighted sum would overflow: nan only here)
    return (np.nan_to_num(x) * w).sum()


def nan_to_num_replacements(x, v, w):
    return (np.nan_to_num(x, nan=v, posinf=v + 1.0, neginf=-2.0 * v) * w).sum()


def nan_to_num_of_a_sum(x, w):  # autograd's test_nan_to_num: the nan and infinities come from a constant
    return (np.sin(np.nan_to_num(x + np.array([0.0, np.nan, np.inf, -np.inf]))) * w).sum()


def real_of_real(x, w):
    return (np.real(x) * w).sum()


def imag_of_real(x, w):
    return ((np.imag(x) + x) * w).sum()  # np.imag alone would leave x without a gradient


# ---- the math module and builtins on numbers: they share numpy's rules -----------------------------------------


def math_exp(x, w):
    return math.exp(x) * w


def math_expm1(x, w):
    return math.expm1(x) * w


def math_log(x, w):
    return math.log(x) * w


def math_log2(x, w):
    return math.log2(x) * w


def math_log10(x, w):
    return math.log10(x) * w


def math_log1p(x, w):
    return math.log1p(x) * w


def math_sqrt(x, w):
    return math.sqrt(x) * w


def math_sin(x, w):
    return math.sin(x) * w


def math_cos(x, w):
    return math.cos(x) * w


def math_tan(x, w):
    return math.tan(x) * w


def math_asin(x, w):
    return math.asin(x) * w


def math_acos(x, w):
    return math.acos(x) * w


def math_atan(x, w):
    return math.atan(x) * w


def math_sinh(x, w):
    return math.sinh(x) * w


def math_cosh(x, w):
    return math.cosh(x) * w


def math_tanh(x, w):
    return math.tanh(x) * w


def math_asinh(x, w):
    return math.asinh(x) * w


def math_acosh(x, w):
    return math.acosh(x) * w


def math_atanh(x, w):
    return math.atanh(x) * w


def math_degrees(x, w):
    return math.degrees(x) * w


def math_radians(x, w):
    return math.radians(x) * w


def math_fabs(x, w):
    return math.fabs(x) * w


def math_cbrt(x, w):
    return math.cbrt(x) * w


def math_exp2(x, w):
    return math.exp2(x) * w


def math_atan2(y, x, w):
    return math.atan2(y, x) * w


def math_hypot(x, y, w):
    return math.hypot(x, y) * w


def math_pow(x, y, w):
    return math.pow(x, y) * w


def builtin_pow(x, y, w):
    return pow(x, y) * w


def builtin_max(x, y, w):
    return max(x, y) * w


def builtin_min(x, y, w):
    return min(x, y) * w


def math_erf(x, w):
    return math.erf(x) * w


def math_erfc(x, w):
    return math.erfc(x) * w


def math_lgamma(x, w):
    return math.lgamma(x) * w


def math_gamma(x, w):
    return math.gamma(x) * w


def between_poles(rng, shape):
    """Numbers off gamma's poles: in (0.1, 4), and in (-2.9, -2.1) (where gamma is negative, and lgamma is the
    logarithm of its absolute value)."""
    values = rng.uniform(0.1, 4.0, shape)
    return np.where(rng.uniform(size=shape) < 0.5, values, rng.uniform(-2.9, -2.1, shape))


NUMBERS = shapes([SCALAR], [()])


# ---- interp ------------------------------------------------------------------------------------------------------


def increasing(rng, shape):
    """Knots for np.interp: strictly increasing, 0.5 to 1.5 apart, from about -1.5, so normal x fall below, between
    and above them."""
    return -1.5 + np.cumsum(rng.uniform(0.5, 1.5, shape))


def interp(x, xp, fp, w):
    return (np.interp(x, xp, fp) * w).sum()


def interp_left_right(x, xp, fp, left, right, w):
    return (np.interp(x, xp, fp, left, right=right) * w).sum()


def interp_of_constant_knots(x, w):
    return (np.interp(x, [-1.0, 0.0, 0.25, 2.0], [1.0, -1.0, 0.5, 0.0]) * w).sum()


INTERP = shapes([SCALAR, (4,), (4,)], [(), (4,), (4,)], [(7,), (5,), (5,)], [(3, 4), (6,), (6,)])
INTERP_ENDS = shapes([(7,), (4,), (4,), SCALAR, SCALAR], [(3, 4), (5,), (5,), (), ()])
PAIRS_OF_NUMBERS = shapes([SCALAR, SCALAR])  # math computes in float64 whatever it is given: numbers only


TABLE = [
    # interp: x below, between and above the knots; the knots and the values differentiated too
    Entry(np.interp, interp, INTERP, domain=(real, increasing, real)),
    Entry(np.interp, interp_left_right, INTERP_ENDS, domain=(real, increasing, real, real, real)),
    Entry(np.interp, interp_of_constant_knots, shapes([SCALAR], [(9,)], [(3, 4)]), domain=OFF_INTEGERS),
    # exponentials and logarithms
    Entry(np.cbrt, np_cbrt, UNARY, domain=OFF_INTEGERS),  # both signs, away from the infinite slope at 0
    Entry(np.reciprocal, np_reciprocal, UNARY, domain=OFF_INTEGERS),
    Entry(np.exp2, np_exp2, UNARY),
    Entry(np.expm1, np_expm1, UNARY),
    Entry(np.log2, np_log2, UNARY, domain=positive),
    Entry(np.log10, np_log10, UNARY, domain=positive),
    Entry(np.log1p, np_log1p, UNARY, domain=ABOVE_MINUS_ONE),
    Entry(np.logaddexp, np_logaddexp, BROADCAST),
    Entry(np.logaddexp, logaddexp_large, UNARY),
    Entry(np.logaddexp, logaddexp_of_masked_entries, shapes([(3, 4)])),
    Entry(np.logaddexp2, logaddexp2_of_masked_entries, shapes([(3, 4)])),
    Entry(np.logaddexp2, np_logaddexp2, BROADCAST),
    # trigonometric and hyperbolic
    Entry(np.tan, np_tan, UNARY, domain=NEAR_ZERO),
    Entry(np.arcsin, np_arcsin, UNARY, domain=INSIDE_UNIT),
    Entry(np.arccos, np_arccos, UNARY, domain=INSIDE_UNIT),
    Entry(np.arctan, np_arctan, UNARY),
    # off the integers: never near the origin, nor on the cut along y == 0, x < 0
    Entry(np.arctan2, np_arctan2, BROADCAST, domain=OFF_INTEGERS),
    Entry(np.hypot, np_hypot, BROADCAST),
    Entry(np.hypot, hypot_constant, UNARY),
    Entry(np.sinh, np_sinh, UNARY),
    Entry(np.cosh, np_cosh, UNARY),
    Entry(np.arcsinh, np_arcsinh, UNARY),
    Entry(np.arccosh, np_arccosh, UNARY, domain=ABOVE_ONE),
    Entry(np.arctanh, np_arctanh, UNARY, domain=INSIDE_UNIT),
    # fmax, fmin: off-grid values never tie; nans in one operand at a time (both nan gives nan)
    Entry(np.fmax, np_fmax, BROADCAST, domain=APART),
    Entry(np.fmin, np_fmin, BROADCAST, domain=APART),
    Entry(np.fmax, fmax_nans, BROADCAST, domain=(with_nans(APART[0]), APART[1])),
    Entry(np.fmin, fmin_nans, BROADCAST, domain=(APART[0], with_nans(APART[1]))),
    Entry(np.fmax, fmax_zero, UNARY, domain=OFF_INTEGERS),
    Entry(np.fmin, fmin_zero_first, UNARY, domain=OFF_INTEGERS),
    # heaviside: x's gradient is zero off the jump; h0's flows where x is exactly 0
    Entry(np.heaviside, heaviside_at_zeros, BROADCAST, domain=(OFF_INTEGERS, real)),
    # np.where: x of both signs, never within a finite-difference step of the condition's jump at 0
    Entry(np.where, where_log, UNARY, domain=OFF_INTEGERS),
    Entry(np.where, where_log_safe, UNARY, domain=OFF_INTEGERS),
    Entry(np.where, where_relu, UNARY, domain=OFF_INTEGERS),
    Entry(np.where, where_constant_first, UNARY, domain=OFF_INTEGERS),
    Entry(np.where, where_two, BROADCAST, domain=(OFF_INTEGERS, real)),
    Entry(np.where, where_three, WHERE, domain=(OFF_INTEGERS, real, real)),
    Entry(np.where, sqrt_of_where, UNARY, domain=OFF_INTEGERS),
    # angle conversions, fabs, remainders, np.select
    Entry(np.deg2rad, deg2rad, UNARY),
    Entry(np.radians, radians, UNARY),
    Entry(np.rad2deg, rad2deg, UNARY),
    Entry(np.degrees, degrees, UNARY),
    Entry(np.fabs, fabs, UNARY, domain=OFF_INTEGERS),
    Entry(np.remainder, remainder, BROADCAST, domain=REMAINDER_DOMAIN),
    Entry(np.remainder, mod, BROADCAST, domain=REMAINDER_DOMAIN),
    Entry(operator.mod, mod_operator, BROADCAST, domain=REMAINDER_DOMAIN),
    Entry(np.select, select_two_choices, BROADCAST[:7], domain=(OFF_INTEGERS, OFF_INTEGERS)),
    Entry(np.select, select_default, BROADCAST[:7], domain=(OFF_INTEGERS, real)),
    # nan_to_num: the replaced positions get no gradient, the replacements the sum of theirs
    Entry(np.nan_to_num, nan_to_num, UNARY, domain=nonfinite(np.nan)),
    Entry(np.nan_to_num, nan_to_num_replacements, shapes([(3, 4), SCALAR], [(12,), ()]),
          domain=(nonfinite(np.nan, np.inf, -np.inf), real)),
    Entry(np.nan_to_num, nan_to_num_of_a_sum, shapes([(4,)], [(3, 4)])),
    Entry(np.real, real_of_real, UNARY),
    Entry(np.imag, imag_of_real, UNARY),
    # the math module and builtins on numbers
    Entry(math.exp, math_exp, NUMBERS, domain=real),
    Entry(math.expm1, math_expm1, NUMBERS, domain=real),
    Entry(math.log, math_log, NUMBERS, domain=positive),
    Entry(math.log2, math_log2, NUMBERS, domain=positive),
    Entry(math.log10, math_log10, NUMBERS, domain=positive),
    Entry(math.log1p, math_log1p, NUMBERS, domain=positive),
    Entry(math.sqrt, math_sqrt, NUMBERS, domain=positive),
    Entry(math.sin, math_sin, NUMBERS, domain=real),
    Entry(math.cos, math_cos, NUMBERS, domain=real),
    Entry(math.tan, math_tan, NUMBERS, domain=NEAR_ZERO),
    Entry(math.asin, math_asin, NUMBERS, domain=INSIDE_UNIT),
    Entry(math.acos, math_acos, NUMBERS, domain=INSIDE_UNIT),
    Entry(math.atan, math_atan, NUMBERS, domain=real),
    Entry(math.sinh, math_sinh, NUMBERS, domain=real),
    Entry(math.cosh, math_cosh, NUMBERS, domain=real),
    Entry(math.tanh, math_tanh, NUMBERS, domain=real),
    Entry(math.asinh, math_asinh, NUMBERS, domain=real),
    Entry(math.acosh, math_acosh, NUMBERS, domain=ABOVE_ONE),
    Entry(math.atanh, math_atanh, NUMBERS, domain=INSIDE_UNIT),
    Entry(math.degrees, math_degrees, NUMBERS, domain=real),
    Entry(math.radians, math_radians, NUMBERS, domain=real),
    Entry(math.fabs, math_fabs, NUMBERS, domain=OFF_INTEGERS),
    *([Entry(math.cbrt, math_cbrt, NUMBERS, domain=OFF_INTEGERS), Entry(math.exp2, math_exp2, NUMBERS)]
      if hasattr(math, "cbrt") else []),  # Python 3.11
    Entry(math.erf, math_erf, NUMBERS, domain=real),
    Entry(math.erfc, math_erfc, NUMBERS, domain=real),
    Entry(math.lgamma, math_lgamma, NUMBERS, domain=between_poles),
    Entry(math.gamma, math_gamma, NUMBERS, domain=between_poles),
    Entry(math.atan2, math_atan2, PAIRS_OF_NUMBERS),
    Entry(math.hypot, math_hypot, PAIRS_OF_NUMBERS),
    Entry(math.pow, math_pow, PAIRS_OF_NUMBERS, domain=positive),
    Entry(pow, builtin_pow, PAIRS_OF_NUMBERS, domain=positive),
    Entry(max, builtin_max, PAIRS_OF_NUMBERS, domain=APART),
    Entry(min, builtin_min, PAIRS_OF_NUMBERS, domain=APART),
]


# ---- what finite differences cannot check -------------------------------------------------------------------
# Collected only when this file is named on pytest's command line, or imported by a collected module.


def where_exp(x, w):
    return (np.where(x < 100, np.exp(x), 0.0) * w).sum()


def _grad(fn, generated_dir, *args):
    (gradient,) = sourcegrad.differentiate(fn, wrt=("x",), generated_dir=generated_dir).grad(*args)
    return gradient


@pytest.mark.filterwarnings("ignore:invalid value encountered in log", "ignore:divide by zero encountered in log")
def test_where_log_gradient_where_log_is_not_taken(generated_dir):
    # log(x) is nan for x < 0; the where does not take it, and its gradient there is 0, not nan.
    x = np.array([-2.0, -0.5, -1e-300, 0.5, 2.0])
    gradient = _grad(where_log, generated_dir, x, np.ones_like(x))
    np.testing.assert_array_equal(gradient, [0.0, 0.0, 0.0, 2.0, 0.5])


@pytest.mark.xfail(strict=True, reason=(
    "the where rule gives log's result the gradient 0 at x == 0, but log's rule d[result] / x then "
    "divides 0 by 0: nan. Rules run on whole arrays, so a value the where does not take still goes "
    "through its own rule. Write np.where(x > 0, np.log(np.where(x > 0, x, 1.0)), 0.0) instead."))
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_where_log_gradient_at_zero(generated_dir):
    x = np.array([-0.0, 0.0])
    gradient = _grad(where_log, generated_dir, x, np.ones_like(x))
    np.testing.assert_array_equal(gradient, [0.0, 0.0])


def test_where_double_where_gradient_at_zero(generated_dir):
    x = np.array([-2.0, -0.0, 0.0, 0.5, 2.0])
    gradient = _grad(where_log_safe, generated_dir, x, np.ones_like(x))
    np.testing.assert_array_equal(gradient, [0.0, 0.0, 0.0, 2.0, 0.5])


@pytest.mark.xfail(strict=True, reason=(
    "exp(1000) overflows to inf; the where gives it the gradient 0, and exp's rule d[result] * result "
    "is then 0 * inf: nan. Same cause as at log(0): the rule runs where the where does not take it."))
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_where_exp_gradient_where_exp_overflows(generated_dir):
    x = np.array([0.0, 1000.0])
    gradient = _grad(where_exp, generated_dir, x, np.ones_like(x))
    np.testing.assert_array_equal(gradient, [1.0, 0.0])


@pytest.mark.filterwarnings("ignore:divide by zero encountered in divide")
def test_where_gradient_not_taken_is_zero_where_the_output_gradient_is_inf(generated_dir):
    # sqrt's rule gives the where's result the gradient inf at 0; a mask product would give 0 * inf = nan
    x = np.array([-1.0, 4.0])
    gradient = _grad(sqrt_of_where, generated_dir, x, np.ones_like(x))
    np.testing.assert_array_equal(gradient, [0.0, 0.25])


@pytest.mark.parametrize("fn, same", [(np_fmax, np.maximum), (np_fmin, np.minimum)])
def test_fmax_fmin_ties_go_to_the_first_argument_as_maximum_minimum(fn, same, generated_dir):
    x = np.array([1.0, 2.0, 3.0])
    y = np.array([1.0, 0.0, 5.0])
    w = np.array([1.0, 10.0, 100.0])
    d_x, d_y = sourcegrad.differentiate(fn, wrt=("x", "y"), generated_dir=generated_dir).grad(x, y, w)
    first = (x >= y) if same is np.maximum else (x <= y)
    np.testing.assert_array_equal(d_x, w * first)
    np.testing.assert_array_equal(d_y, w * ~first)
    assert d_x[0] == 1.0 and d_y[0] == 0.0  # the tie


def relu_sum(x, w):
    return (np.maximum(x, 0) * w).sum()


def relu_zero_first_sum(x, w):
    return (np.maximum(0, x) * w).sum()


@pytest.mark.parametrize("fn, at_zero", [(relu_sum, 10.0), (relu_zero_first_sum, 0.0)])
def test_relu_gradient_at_zero_follows_the_tie_and_is_nan_at_nan(fn, at_zero, generated_dir):
    # The tie goes to the first argument: x itself in np.maximum(x, 0), the constant in np.maximum(0, x). A nan
    # input gives the result nan, and its gradient too.
    x = np.array([-1.0, 0.0, 2.0, np.nan])
    w = np.array([1.0, 10.0, 100.0, 1000.0])
    d_x = sourcegrad.differentiate(fn, wrt="x", generated_dir=generated_dir).grad(x, w)
    np.testing.assert_array_equal(d_x, [0.0, at_zero, 100.0, np.nan])


@pytest.mark.parametrize("fn", [fmax_nans, fmin_nans])
def test_fmax_fmin_nan_operands(fn, generated_dir):
    # the result is the operand that is not nan; when both are nan, the first (the result is nan anyway)
    x = np.array([np.nan, 1.0, np.nan])
    y = np.array([2.0, np.nan, np.nan])
    w = np.array([1.0, 10.0, 100.0])
    d_x, d_y = sourcegrad.differentiate(fn, wrt=("x", "y"), generated_dir=generated_dir).grad(x, y, w)
    np.testing.assert_array_equal(d_x, [0.0, 10.0, 100.0])
    np.testing.assert_array_equal(d_y, [1.0, 0.0, 0.0])


def test_hypot_gradient_at_the_origin_is_zero(generated_dir):
    x = np.array([0.0, 3.0])
    y = np.array([0.0, 4.0])
    d_x, d_y = sourcegrad.differentiate(np_hypot, wrt=("x", "y"), generated_dir=generated_dir).grad(x, y, np.ones(2))
    np.testing.assert_array_equal(d_x, [0.0, 0.6])
    np.testing.assert_array_equal(d_y, [0.0, 0.8])


def weighted_by_its_rounding(x):
    return (round(x) + math.floor(x) + math.ceil(x) + math.trunc(x)) * x


def test_builtin_round_and_the_math_roundings_carry_no_gradient():
    # constant between the integers: the derivative of (round(x) + ...) * x is round(x) + ... there
    assert sourcegrad.grad(weighted_by_its_rounding)(2.3) == pytest.approx(2 + 2 + 3 + 2)


def weighted_by_numpy_truncations(x):
    return np.sum(np.fix(x * 3.0) * x) + np.int64(x[0] * 10.0) * x[1] + np.sum(np.int32(x) * x)


def test_np_fix_and_the_integer_constructors_carry_no_gradient():
    # constant between the integers: each truncation multiplies x as a constant
    x = np.array([2.3, -1.7, 0.4])
    expected = np.fix(x * 3.0) + np.array([0.0, 23.0, 0.0]) + np.trunc(x)
    np.testing.assert_allclose(sourcegrad.grad(weighted_by_numpy_truncations)(x), expected)
    tangent = np.array([0.5, -1.0, 2.0])
    _, derivative = sourcegrad.jvp(weighted_by_numpy_truncations, (x,), (tangent,))
    assert derivative == pytest.approx(expected @ tangent)
    np.testing.assert_allclose(sourcegrad.hvp(weighted_by_numpy_truncations)((x,), (tangent,)), 0.0, atol=1e-12)


def interp_at_the_ends(x, fp):
    return (np.interp(x, np.array([0.0, 1.0, 3.0]), fp) * np.array([1.0, 10.0, 100.0, 1000.0, 1e4])).sum()


def interp_given_ends(x, fp, left, right):
    return np.interp(x, np.array([0.0, 1.0, 3.0]), fp, left=left, right=right).sum()


def test_interp_at_and_beyond_the_knots(generated_dir):
    # at a knot the segment starting there is read: its slope; at the last knot and outside the value stays (slope 0)
    x = np.array([0.0, 1.0, 3.0, -2.0, 5.0])
    fp = np.array([1.0, 3.0, 2.0])
    f = sourcegrad.differentiate(interp_at_the_ends, wrt=("x", "fp"), generated_dir=generated_dir)
    np.testing.assert_array_equal(f(x, fp), (np.interp(x, [0.0, 1.0, 3.0], fp) * [1, 10, 100, 1000, 1e4]).sum())
    d_x, d_fp = f.grad(x, fp)
    np.testing.assert_array_equal(d_x, [2.0, -5.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(d_fp, [1.0 + 1000.0, 10.0, 100.0 + 1e4])  # below reads fp[0], above fp[-1]
    g = sourcegrad.differentiate(interp_given_ends, wrt=("fp", "left", "right"), generated_dir=generated_dir)
    d_fp, d_left, d_right = g.grad(x, fp, 7.0, -7.0)
    np.testing.assert_array_equal(d_fp, [1.0, 1.0, 1.0])  # x == 3.0 is fp[-1]'s still, not right's
    assert (d_left, d_right) == (1.0, 1.0)


def interp_periodic(x):
    return np.interp(x, np.array([0.0, 1.0]), np.array([0.0, 2.0]), period=2.0).sum()


def test_interp_with_a_period_is_refused(generated_dir):
    with pytest.raises(sourcegrad.SourcegradError, match="does not accept"):
        sourcegrad.differentiate(interp_periodic, wrt="x", generated_dir=generated_dir).grad(np.array([0.5]))


def gamma_and_lgamma(x):
    return math.lgamma(x) + 0.1 * math.gamma(x)


@pytest.mark.parametrize("x", [-2.5, -0.5, 0.3, 1.0, 2.0, 5.5, 12.5, 30.25])
def test_math_gamma_functions_first_and_second_derivatives(x, generated_dir):
    # around the recurrence's and the reflection's thresholds (10, 1/2) and where gamma is negative
    f = sourcegrad.differentiate(gamma_and_lgamma, generated_dir=generated_dir)
    eps = 1e-6 * max(1.0, abs(x))
    numeric = (gamma_and_lgamma(x + eps) - gamma_and_lgamma(x - eps)) / (2 * eps)
    assert f.grad(x) == pytest.approx(numeric, rel=1e-7)
    second = (f.grad(x + eps) - f.grad(x - eps)) / (2 * eps)
    assert f.hvp((x,), (1.0,)) == pytest.approx(second, rel=1e-6)


def lgamma_alone(x):
    return math.lgamma(x)


@pytest.mark.parametrize("x", [1e-170, -1e-170])
def test_math_lgamma_second_derivative_beyond_floats_is_infinite(x, generated_dir):
    # trigamma near the pole at 0 is 1 / x^2, past the largest float here: inf, as the numbers give it
    f = sourcegrad.differentiate(lgamma_alone, generated_dir=generated_dir)
    assert f.hvp((x,), (1.0,)) == math.inf
