"""Runtime helpers for elementwise rules: np.clip with bounds that may be None, known only at run time,
np.select's choices, np.nan_to_num's copy known only at run time, and the shares of a log-sum-exp."""

import math

from ..errors import SourcegradError
from .core import array_namespace, as_array_like, float_dtype, helper, unbroadcast


def _lower(x, a_min):
    return x if a_min is None else array_namespace(x).maximum(x, a_min)


@helper
def clip_passes(x, a_min, a_max):
    """Where np.clip(x, a_min, a_max) is x itself (bounds included), either bound maybe None."""
    inside = x == x  # everywhere (nan aside), then narrowed by each bound there is
    if a_min is not None:
        inside = inside & (x >= a_min)
    if a_max is not None:
        inside = inside & (_lower(x, a_min) <= a_max)
    return inside


@helper
def clip_takes_lower(x, a_min, a_max):
    """Where the result is a_min."""
    below = x < a_min
    return below & (_lower(x, a_min) <= a_max) if a_max is not None else below


@helper
def clip_takes_upper(x, a_min, a_max):
    """Where the result is a_max."""
    return _lower(x, a_min) > a_max


def _select_masks(condlist):
    """For each condition, where it is the first that holds; and where any of them holds."""
    taken = None
    masks = []
    for condition in condlist:
        masks.append(condition if taken is None else condition & ~taken)
        taken = condition if taken is None else taken | condition
    return masks, taken


@helper
def select_grad(grad, condlist, choicelist):
    """The gradients of np.select's choices: grad where a choice was picked, 0 elsewhere, each in its choice's shape."""
    grad = as_array_like(grad, grad)
    xp = array_namespace(grad)
    masks, _ = _select_masks(condlist)
    return [unbroadcast(xp.where(mask, grad, 0).astype(grad.dtype, copy=False), choice)
            for mask, choice in zip(masks, choicelist)]


@helper
def select_default_grad(grad, condlist, default):
    """The gradient of np.select's default: grad where no condition holds."""
    grad = as_array_like(grad, grad)
    _, taken = _select_masks(condlist)  # (numpy refuses an empty condlist: there is at least one)
    return unbroadcast(array_namespace(grad).where(taken, 0, grad).astype(grad.dtype, copy=False), default)


@helper
def nan_to_num_grad(grad, x, copy):
    """d np.nan_to_num(x, copy=copy)/dx, copy known only when the code runs: grad where x is finite.

    np.nan_to_num(x, copy=False) replaces the values in x itself, so the backward pass would read x without its
    nan and infinities and pass the gradient there too: refused.
    """
    if not copy:
        raise SourcegradError("np.nan_to_num(..., copy=False) of a value that carries a gradient changes it in place",
                              hint="Leave copy at its default, True: np.nan_to_num(x) returns a new array.")
    xp = array_namespace(grad, x)
    return xp.where(xp.isfinite(x), grad, 0)


@helper
def select_default_jvp(tangent, condlist, result):
    """The tangent np.select(condlist, choicelist, default) gets from default's: default's tangent where no condition
    holds, 0 elsewhere, in the result's shape and dtype."""
    xp = array_namespace(result)
    _, taken = _select_masks(condlist)
    return xp.where(taken, xp.zeros_like(result), tangent)


@helper
def exponent_less_one(y):
    """y - 1 where y is not 0, and 0 where it is: the exponent in d/dx x ** y = y x ** (y - 1), kept finite at
    x == 0 for y == 0. A boolean y gives False everywhere (True - 1 and False - 0 are both 0), boolean still, so
    that x ** it keeps x's dtype (numpy subtracts no booleans, and an integer array would widen a float32 x).
    """
    if getattr(y, "dtype", None) == bool:
        return y & False
    return y - (y != 0)


@helper
def log_of_base(x):
    """log(x), for the derivative of x ** y in y, with 0 where x is 0 (x ** y log(x) is 0 there for y > 0).

    A Python number's is a Python float: numpy's log of a number is a float64 scalar, which would make the tangent
    of 2.0 ** x float64 for a float32 x.
    """
    if isinstance(x, (int, float)):
        return math.log(x) if x > 0 else 0.0 if x == 0 else math.nan
    xp = array_namespace(x)
    return xp.log(xp.where(x == 0, 1, x))


# ---- a log-sum-exp's shares: logaddexp's, logaddexp2's and logsumexp's gradients -------------------------------
# Each operand's share of result = log(sum(exp(operands))) is exp(operand - result), which cannot overflow. Where
# the result is -inf every operand is -inf (a masked entry, as log-space CTC, HMM and attention code writes), and
# operand - result is nan: there the shares are 1/count each, their limit as equal operands fall together. A
# masked entry that nothing downstream weighs then gets 0 times a number, not 0 * nan, and its neighbours, which
# broadcasting may sum it into, keep their gradients.


def _share(power, x, result, count):
    xp = array_namespace(x, result)
    empty = result == -math.inf
    difference = x - xp.where(empty, 0, result)  # -inf where empty (x is -inf there): no nan, no warning
    return xp.where(empty, 1.0 / max(count, 1), power(difference))


@helper
def exp_share(x, result, count):
    """exp(x - result), with 1/count where result is -inf: x's share of a log-sum-exp of count operands."""
    return _share(array_namespace(x, result).exp, x, result, count)


@helper
def exp2_share(x, result, count):
    """2 ** (x - result), with 1/count where result is -inf: x's share of a logaddexp2 of count operands."""
    return _share(array_namespace(x, result).exp2, x, result, count)


@helper
def reduced_count(a, result):
    """How many of a's items each item of result, a reduction of a, sums: a.size / result.size."""
    size = getattr(result, "size", 1)
    return getattr(a, "size", 1) // size if size else 0


# ---- np.interp(x, xp, fp, left, right) -------------------------------------------------------------------------------
# x in [xp[j], xp[j + 1]) reads fp[j] + (fp[j + 1] - fp[j]) t, t = (x - xp[j]) / (xp[j + 1] - xp[j]); x == xp[-1] reads
# fp[-1]; below xp[0] left (fp[0] when left is None), above xp[-1] right (fp[-1] when right is None). At a knot the
# segment that starts there is the one read (np.searchsorted's side 'right'), so the derivative in x there is that
# segment's slope, and 0 at xp[-1] and beyond, where the value stays. Moving a knot moves t: with s the segment's
# slope, the value changes by -s (1 - t) per change of xp[j] and by -s t per change of xp[j + 1] (0 outside the span).


def _segments(x, knots):
    """(xp, x as an array, j, inside, t, width): each x's segment, whether it is strictly within the knots' span (at
    xp[-1] it is not), its place t in the segment and the segment's width (1 outside, never 0 / 0)."""
    xp = array_namespace(x, knots)
    knots = xp.asarray(knots)
    x = xp.asarray(x, dtype=xp.result_type(getattr(x, "dtype", xp.float64), knots.dtype, xp.float64))
    n = knots.shape[0]
    j = xp.searchsorted(knots, x, side="right") - 1
    inside = (j >= 0) & (j < n - 1)
    start = xp.clip(j, 0, max(n - 2, 0))
    stop = xp.minimum(start + 1, n - 1)
    width = xp.where(inside, knots[stop] - knots[start], 1)
    t = xp.where(inside, (x - knots[start]) / width, 0)
    return xp, x, start, stop, inside, t, width


def _at_knots(xp, n, start, stop, first, second, dtype):
    """first added at each x's knot start, second at its knot stop: an array of n knots."""
    return (xp.bincount(start.reshape(-1), weights=xp.broadcast_to(first, start.shape).reshape(-1), minlength=n)
            + xp.bincount(stop.reshape(-1), weights=xp.broadcast_to(second, stop.shape).reshape(-1), minlength=n)
            ).astype(dtype, copy=False)


def _knot_weights(x, knots, left, right):
    """The weights of the two knots each x reads, (start, stop, weight of start, weight of stop), with the ends' rule:
    below the span fp[0] (weight 1 at knot 0) unless left is given, at xp[-1] fp[-1], above it fp[-1] unless right is
    given (a given left or right takes that weight away from fp)."""
    xp, x, start, stop, inside, t, _ = _segments(x, knots)
    knots = xp.asarray(knots)
    below, above = x < knots[0], x > knots[-1]
    at_end = x == knots[-1]
    first = xp.where(inside, 1 - t, 0) + (below if left is None else 0)
    last = xp.where(inside, t, 0) + at_end + (above if right is None else 0)
    return xp, start, xp.where(inside, stop, knots.shape[0] - 1), first, last


@helper
def interp_values(x, knots, values, left, right):
    """np.interp(x, knots, values) with values' part replaced by 0 where a left or right is given (not None): the
    tangent np.interp gets from fp's (values a tangent of fp), linear in values."""
    xp, start, stop, first, last = _knot_weights(x, knots, left, right)
    values = xp.asarray(values)
    return values[start] * first + values[stop] * last


@helper
def interp_values_grad(grad, x, knots, values, left, right):
    """values' gradient of interp_values(x, knots, values, left, right), and fp's of np.interp: grad times each x's
    weight, added up at the knots it reads."""
    xp, start, stop, first, last = _knot_weights(x, knots, left, right)
    grad = xp.asarray(grad)
    return _at_knots(xp, len(knots), start, stop, grad * first, grad * last, float_dtype(values, grad))


@helper
def interp_slope(x, knots, values):
    """The slope of np.interp(x, knots, values) in x: that of x's segment, 0 below xp[0] and from xp[-1] on."""
    xp, _, start, stop, inside, _, width = _segments(x, knots)
    values = xp.asarray(values)
    return xp.where(inside, (values[stop] - values[start]) / width, 0)


@helper
def interp_slope_grad(grad, x, knots, values):
    """values' gradient of interp_slope: grad over the segment's width, minus at its start and plus at its stop."""
    xp, _, start, stop, inside, _, width = _segments(x, knots)
    share = xp.where(inside, xp.asarray(grad) / width, 0)
    return _at_knots(xp, len(knots), start, stop, -share, share, float_dtype(values, share))


@helper
def interp_slope_knots_grad(grad, x, knots, values):
    """knots' gradient of interp_slope (hvp of np.interp in xp): the slope s over the width w grows with the start
    (s / w) and shrinks with the stop (-s / w)."""
    xp, _, start, stop, inside, _, width = _segments(x, knots)
    values = xp.asarray(values)
    share = xp.where(inside, xp.asarray(grad) * (values[stop] - values[start]) / (width * width), 0)
    return _at_knots(xp, len(knots), start, stop, share, -share, float_dtype(knots, share))


# ---- the gamma function's derivatives for the math module's numbers ---------------------------------------------
# math.lgamma and math.gamma take one number: their derivatives, digamma and trigamma, are computed here in Python
# (scipy is optional), by the recurrence up to 10 and the asymptotic series beyond, whose first left-out term is below
# 1e-13 there; below 1/2 from the reflection formula. At the poles (0, -1, -2, ...) they are nan, as lgamma has none.


def _pole(x):
    return x <= 0 and x == math.floor(x)


@helper
def digamma_of_number(x):
    """The digamma function of a number: the derivative of math.lgamma."""
    x = float(x)
    if _pole(x):
        return math.nan
    if x < 0.5:  # psi(1 - x) - psi(x) = pi cot(pi x)
        return digamma_of_number(1.0 - x) - math.pi / math.tan(math.pi * x)
    total = 0.0
    while x < 10.0:
        total -= 1.0 / x
        x += 1.0
    f = 1.0 / (x * x)
    series = f * (1 / 12 - f * (1 / 120 - f * (1 / 252 - f * (1 / 240 - f * (1 / 132 - f * 691 / 32760)))))
    return total + math.log(x) - 0.5 / x - series


@helper
def trigamma_of_number(x):
    """The trigamma function of a number: the derivative of digamma_of_number."""
    x = float(x)
    if _pole(x):
        return math.nan
    if x < 0.5:  # psi1(1 - x) + psi1(x) = pi^2 / sin^2(pi x)
        # a product, not `** 2`: near 0 the square passes the largest float, which a product makes inf (a power
        # raises OverflowError)
        ratio = math.pi / math.sin(math.pi * x)
        return ratio * ratio - trigamma_of_number(1.0 - x)
    total = 0.0
    while x < 10.0:
        total += 1.0 / (x * x)
        x += 1.0
    f = 1.0 / (x * x)
    series = 1.0 / x + 0.5 * f + f / x * (1 / 6 - f * (1 / 30 - f * (1 / 42 - f * (1 / 30 - f * 5 / 66))))
    return total + series
