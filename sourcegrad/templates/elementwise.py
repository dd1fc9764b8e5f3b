"""Gradient rules for numpy's elementwise functions.

Kinks follow one convention: where the derivative jumps, the gradient is the
one from the side that includes the point, and ties go to the first argument.
So relu (`np.maximum(x, 0)`) passes the gradient at x == 0, as the tutorial's
hand-written backward does (it zeroes only where x < 0), `np.clip` passes it
at the bounds, and `np.abs` uses `np.sign`, which is 0 at 0.
"""

import builtins
import math

import numpy as np

from ..runtime import unbroadcast
from ..runtime.elementwise import (clip_passes, clip_takes_lower, clip_takes_upper, digamma_of_number, exp2_share,
                                  exp_share, interp_slope, interp_slope_grad, interp_slope_knots_grad, interp_values,
                                  interp_values_grad, nan_to_num_grad, reduced_count, select_default_grad,
                                  select_default_jvp, select_grad, trigamma_of_number)
from .registry import adjoint, d, ndim, nondifferentiable, tangent

# math.cbrt and math.exp2 are new in Python 3.11
_SINCE_PYTHON_3_11 = {name: [getattr(math, name)] if hasattr(math, name) else [] for name in ("cbrt", "exp2")}

# ---- exponentials and logarithms ------------------------------------------------------


@adjoint(np.exp, math.exp)
def exp(result, x):
    d[x] = d[result] * result


@tangent(np.exp, math.exp)
def exp_tangent(result, x):
    d[result] = d[x] * result


@adjoint(np.log, math.log)
def log(result, x):
    d[x] = d[result] / x


@tangent(np.log, math.log)
def log_tangent(result, x):
    d[result] = d[x] / x


@adjoint(np.sqrt, math.sqrt)
def sqrt(result, x):
    d[x] = d[result] / (2 * result)


@tangent(np.sqrt, math.sqrt)
def sqrt_tangent(result, x):
    d[result] = d[x] / (2 * result)


@adjoint(np.square)
def square(result, x):
    d[x] = d[result] * 2 * x


@tangent(np.square)
def square_tangent(result, x):
    d[result] = d[x] * 2 * x


@adjoint(np.cbrt, *_SINCE_PYTHON_3_11["cbrt"])
def cbrt(result, x):
    d[x] = d[result] / (3 * result * result)


@tangent(np.cbrt, *_SINCE_PYTHON_3_11["cbrt"])
def cbrt_tangent(result, x):
    d[result] = d[x] / (3 * result * result)


@adjoint(np.reciprocal)
def reciprocal(result, x):
    d[x] = -d[result] * result * result


@tangent(np.reciprocal)
def reciprocal_tangent(result, x):
    d[result] = -d[x] * result * result


# Constants are Python floats, not np.log(2): a float64 numpy scalar would promote float32 gradients.


@adjoint(np.exp2, *_SINCE_PYTHON_3_11["exp2"])
def exp2(result, x):
    d[x] = d[result] * result * 0.6931471805599453  # ln 2


@tangent(np.exp2, *_SINCE_PYTHON_3_11["exp2"])
def exp2_tangent(result, x):
    d[result] = d[x] * result * 0.6931471805599453  # ln 2


@adjoint(np.expm1, math.expm1)
def expm1(result, x):
    d[x] = d[result] * (result + 1)


@tangent(np.expm1, math.expm1)
def expm1_tangent(result, x):
    d[result] = d[x] * (result + 1)


@adjoint(np.log2, math.log2)
def log2(result, x):
    d[x] = d[result] / (x * 0.6931471805599453)  # ln 2


@tangent(np.log2, math.log2)
def log2_tangent(result, x):
    d[result] = d[x] / (x * 0.6931471805599453)  # ln 2


@adjoint(np.log10, math.log10)
def log10(result, x):
    d[x] = d[result] / (x * 2.302585092994046)  # ln 10


@tangent(np.log10, math.log10)
def log10_tangent(result, x):
    d[result] = d[x] / (x * 2.302585092994046)  # ln 10


@adjoint(np.log1p, math.log1p)
def log1p(result, x):
    d[x] = d[result] / (1 + x)


@tangent(np.log1p, math.log1p)
def log1p_tangent(result, x):
    d[result] = d[x] / (1 + x)


# ---- angle conversions: a constant factor -------------------------------------------------------------


@adjoint(np.deg2rad, np.radians, math.radians)
def deg2rad(result, x):
    d[x] = d[result] * 0.017453292519943295  # pi / 180


@tangent(np.deg2rad, np.radians, math.radians)
def deg2rad_tangent(result, x):
    d[result] = d[x] * 0.017453292519943295  # pi / 180


@adjoint(np.rad2deg, np.degrees, math.degrees)
def rad2deg(result, x):
    d[x] = d[result] * 57.29577951308232  # 180 / pi


@tangent(np.rad2deg, np.degrees, math.degrees)
def rad2deg_tangent(result, x):
    d[result] = d[x] * 57.29577951308232  # 180 / pi


# ---- sums of exponentials: each operand's share is exp(operand - result), which cannot overflow ---------
# (exp_share: 1/2 each where both operands are -inf, where operand - result would be nan)


@adjoint(np.logaddexp)
def logaddexp(result, x, y):
    d[x] = unbroadcast(d[result] * exp_share(x, result, 2), x)
    d[y] = unbroadcast(d[result] * exp_share(y, result, 2), y)


@tangent(np.logaddexp)
def logaddexp_tangent(result, x, y):
    d[result] = d[x] * exp_share(x, result, 2)
    d[result] = d[y] * exp_share(y, result, 2)


@adjoint(np.logaddexp2)
def logaddexp2(result, x, y):
    d[x] = unbroadcast(d[result] * exp2_share(x, result, 2), x)
    d[y] = unbroadcast(d[result] * exp2_share(y, result, 2), y)


@tangent(np.logaddexp2)
def logaddexp2_tangent(result, x, y):
    d[result] = d[x] * exp2_share(x, result, 2)
    d[result] = d[y] * exp2_share(y, result, 2)


# A share's slope is the share itself (times log 2 for base 2), in x and against result; where result is -inf the
# share is a constant, 1/count, and its slope 0.
@adjoint(exp_share, rank="elementwise")
def exp_share_grad(share, x, result, count):
    d[x] = unbroadcast(d[share] * share * (result > -np.inf), x)
    d[result] = unbroadcast(-(d[share] * share * (result > -np.inf)), result)


@adjoint(exp2_share, rank="elementwise")
def exp2_share_grad(share, x, result, count):
    d[x] = unbroadcast(d[share] * share * (result > -np.inf) * 0.6931471805599453, x)  # log(2)
    d[result] = unbroadcast(-(d[share] * share * (result > -np.inf) * 0.6931471805599453), result)


nondifferentiable(reduced_count, why="it is a count")


# ---- trigonometric and hyperbolic ---------------------------------------------------------


@adjoint(np.sin, math.sin)
def sin(result, x):
    d[x] = d[result] * np.cos(x)


@tangent(np.sin, math.sin)
def sin_tangent(result, x):
    d[result] = d[x] * np.cos(x)


@adjoint(np.cos, math.cos)
def cos(result, x):
    d[x] = -d[result] * np.sin(x)


@tangent(np.cos, math.cos)
def cos_tangent(result, x):
    d[result] = -(d[x] * np.sin(x))


@adjoint(np.tan, math.tan)
def tan(result, x):
    d[x] = d[result] * (1 + result * result)


@tangent(np.tan, math.tan)
def tan_tangent(result, x):
    d[result] = d[x] * (1 + result * result)


@adjoint(np.arcsin, math.asin)
def arcsin(result, x):
    d[x] = d[result] / np.sqrt(1 - x * x)


@tangent(np.arcsin, math.asin)
def arcsin_tangent(result, x):
    d[result] = d[x] / np.sqrt(1 - x * x)


@adjoint(np.arccos, math.acos)
def arccos(result, x):
    d[x] = -d[result] / np.sqrt(1 - x * x)


@tangent(np.arccos, math.acos)
def arccos_tangent(result, x):
    d[result] = -d[x] / np.sqrt(1 - x * x)


@adjoint(np.arctan, math.atan)
def arctan(result, x):
    d[x] = d[result] / (1 + x * x)


@tangent(np.arctan, math.atan)
def arctan_tangent(result, x):
    d[result] = d[x] / (1 + x * x)


@adjoint(np.arctan2, math.atan2)
def arctan2(result, y, x):
    """np.arctan2(y, x), the angle of the point (x, y): numpy's x1 is the y coordinate."""
    d[y] = unbroadcast(d[result] * x / (x * x + y * y), y)
    d[x] = unbroadcast(-d[result] * y / (x * x + y * y), x)


@tangent(np.arctan2, math.atan2)
def arctan2_tangent(result, y, x):
    d[result] = d[y] * x / (x * x + y * y)
    d[result] = -(d[x] * y / (x * x + y * y))


@adjoint(np.hypot, math.hypot)
def hypot(result, x, y):
    # At the origin the gradient is 0, as np.abs's is at 0 (hypot(x, 0) is |x|), not 0 / 0.
    d[x] = unbroadcast(d[result] * x / np.where(result == 0, 1, result), x)
    d[y] = unbroadcast(d[result] * y / np.where(result == 0, 1, result), y)


@tangent(np.hypot, math.hypot)
def hypot_tangent(result, x, y):
    d[result] = d[x] * x / np.where(result == 0, 1, result)
    d[result] = d[y] * y / np.where(result == 0, 1, result)


@adjoint(np.sinh, math.sinh)
def sinh(result, x):
    d[x] = d[result] * np.cosh(x)


@tangent(np.sinh, math.sinh)
def sinh_tangent(result, x):
    d[result] = d[x] * np.cosh(x)


@adjoint(np.cosh, math.cosh)
def cosh(result, x):
    d[x] = d[result] * np.sinh(x)


@tangent(np.cosh, math.cosh)
def cosh_tangent(result, x):
    d[result] = d[x] * np.sinh(x)


@adjoint(np.tanh, math.tanh)
def tanh(result, x):
    d[x] = d[result] * (1 - result * result)


@tangent(np.tanh, math.tanh)
def tanh_tangent(result, x):
    d[result] = d[x] * (1 - result * result)


@adjoint(np.arcsinh, math.asinh)
def arcsinh(result, x):
    d[x] = d[result] / np.sqrt(x * x + 1)


@tangent(np.arcsinh, math.asinh)
def arcsinh_tangent(result, x):
    d[result] = d[x] / np.sqrt(x * x + 1)


@adjoint(np.arccosh, math.acosh)
def arccosh(result, x):
    d[x] = d[result] / np.sqrt((x - 1) * (x + 1))  # not x * x - 1, which cancels near 1


@tangent(np.arccosh, math.acosh)
def arccosh_tangent(result, x):
    d[result] = d[x] / np.sqrt((x - 1) * (x + 1))


@adjoint(np.arctanh, math.atanh)
def arctanh(result, x):
    d[x] = d[result] / (1 - x * x)


@tangent(np.arctanh, math.atanh)
def arctanh_tangent(result, x):
    d[result] = d[x] / (1 - x * x)


# ---- piecewise: kinks pass the gradient to the first argument -------------------------------


@adjoint(np.abs, np.absolute, np.fabs, builtins.abs, math.fabs)
def absolute(result, x):
    d[x] = d[result] * np.sign(x)


@tangent(np.abs, np.absolute, np.fabs, builtins.abs, math.fabs)
def absolute_tangent(result, x):
    d[result] = d[x] * np.sign(x)


# relu, np.maximum(x, 0) on an array, takes the step as np.heaviside(x, 1.0), 1 at and above 0: the same numbers as
# the mask (x >= 0) wherever x is a number, but a product of two float arrays, where numpy's product of a float
# array and a boolean one first casts the mask, a cost as large as the product's own on a small array. A nan in x
# gives a nan gradient there rather than zero, as the nan it gives the result does.


@adjoint(np.maximum)
def maximum(result, x, y):
    if y == 0 and ndim(x) >= 1:
        d[x] = d[result] * np.heaviside(x, 1.0)
    else:
        d[x] = unbroadcast(d[result] * (x >= y), x)
    if x == 0 and ndim(y) >= 1:
        d[y] = d[result] * np.heaviside(y, 0.0)
    else:
        d[y] = unbroadcast(d[result] * (x < y), y)


# A tangent rule passes each operand's tangent where the result is that operand, ties as the gradient rule has
# them. The tangent of a number is a Python float, which times a mask would give float64: it is selected into zeros
# of the result's dtype instead.


@tangent(np.maximum)
def maximum_tangent(result, x, y):
    if y == 0 and ndim(x) >= 1:
        d[result] = d[x] * np.heaviside(x, 1.0)
    elif ndim(x) >= 1:
        d[result] = d[x] * (x >= y)
    else:
        d[result] = np.where(x >= y, d[x], np.zeros_like(result))
    if x == 0 and ndim(y) >= 1:
        d[result] = d[y] * np.heaviside(y, 0.0)
    elif ndim(y) >= 1:
        d[result] = d[y] * (x < y)
    else:
        d[result] = np.where(x < y, d[y], np.zeros_like(result))


@adjoint(np.minimum)
def minimum(result, x, y):
    d[x] = unbroadcast(d[result] * (x <= y), x)
    d[y] = unbroadcast(d[result] * (x > y), y)


@tangent(np.minimum)
def minimum_tangent(result, x, y):
    if ndim(x) >= 1:
        d[result] = d[x] * (x <= y)
    else:
        d[result] = np.where(x <= y, d[x], np.zeros_like(result))
    if ndim(y) >= 1:
        d[result] = d[y] * (x > y)
    else:
        d[result] = np.where(x > y, d[y], np.zeros_like(result))


# Python's max(x, y) is y where y > x and x otherwise, min(x, y) y where y < x: x where either is nan, which
# np.maximum would propagate. The gradient goes to the operand returned.


@adjoint(builtins.max)
def builtin_max(result, x, y):
    d[x] = unbroadcast(d[result] * np.logical_not(y > x), x)
    d[y] = unbroadcast(d[result] * (y > x), y)


@tangent(builtins.max)
def builtin_max_tangent(result, x, y):
    d[result] = np.where(y > x, np.zeros_like(result), d[x])
    d[result] = np.where(y > x, d[y], np.zeros_like(result))


@adjoint(builtins.min)
def builtin_min(result, x, y):
    d[x] = unbroadcast(d[result] * np.logical_not(y < x), x)
    d[y] = unbroadcast(d[result] * (y < x), y)


@tangent(builtins.min)
def builtin_min_tangent(result, x, y):
    d[result] = np.where(y < x, np.zeros_like(result), d[x])
    d[result] = np.where(y < x, d[y], np.zeros_like(result))


# fmax and fmin ignore a nan operand (the result is the other one), so the gradient goes to the
# operand the result is: the first on ties, as for maximum and minimum, and the first when both are nan.


@adjoint(np.fmax)
def fmax(result, x, y):
    d[x] = unbroadcast(d[result] * ((x >= y) | np.isnan(y)), x)
    d[y] = unbroadcast(d[result] * ~((x >= y) | np.isnan(y)), y)


@tangent(np.fmax)
def fmax_tangent(result, x, y):
    if ndim(x) >= 1:
        d[result] = d[x] * ((x >= y) | np.isnan(y))
    else:
        d[result] = np.where((x >= y) | np.isnan(y), d[x], np.zeros_like(result))
    if ndim(y) >= 1:
        d[result] = d[y] * ~((x >= y) | np.isnan(y))
    else:
        d[result] = np.where((x >= y) | np.isnan(y), np.zeros_like(result), d[y])


@adjoint(np.fmin)
def fmin(result, x, y):
    d[x] = unbroadcast(d[result] * ((x <= y) | np.isnan(y)), x)
    d[y] = unbroadcast(d[result] * ~((x <= y) | np.isnan(y)), y)


@tangent(np.fmin)
def fmin_tangent(result, x, y):
    if ndim(x) >= 1:
        d[result] = d[x] * ((x <= y) | np.isnan(y))
    else:
        d[result] = np.where((x <= y) | np.isnan(y), d[x], np.zeros_like(result))
    if ndim(y) >= 1:
        d[result] = d[y] * ~((x <= y) | np.isnan(y))
    else:
        d[result] = np.where((x <= y) | np.isnan(y), np.zeros_like(result), d[y])


@adjoint(np.clip, aliases={"a": "x", "min": "a_min", "max": "a_max"}, new_array=True, rank="elementwise")
def clip(result, x, a_min=None, a_max=None, out=None):
    if a_min is None and a_max is None:  # numpy 2 allows it: a copy
        d[x] = d[result]
    elif a_min is None:
        d[x] = unbroadcast(d[result] * (x <= a_max), x)
        d[a_max] = unbroadcast(d[result] * (x > a_max), a_max)
    elif a_max is None:
        d[x] = unbroadcast(d[result] * (x >= a_min), x)
        d[a_min] = unbroadcast(d[result] * (x < a_min), a_min)
    elif a_min is not None and a_max is not None:
        # numpy's minimum(maximum(x, a_min), a_max): with a_min > a_max the result is a_max everywhere
        d[x] = unbroadcast(d[result] * ((x >= a_min) & (np.maximum(x, a_min) <= a_max)), x)
        d[a_min] = unbroadcast(d[result] * ((x < a_min) & (np.maximum(x, a_min) <= a_max)), a_min)
        d[a_max] = unbroadcast(d[result] * (np.maximum(x, a_min) > a_max), a_max)
    else:  # a bound that may be None, known only at run time
        d[x] = unbroadcast(d[result] * clip_passes(x, a_min, a_max), x)
        d[a_min] = unbroadcast(d[result] * clip_takes_lower(x, a_min, a_max), a_min)
        d[a_max] = unbroadcast(d[result] * clip_takes_upper(x, a_min, a_max), a_max)


# The bounds' tangents are selected (as numbers' tangents are above); x's is masked when x is an array.
@tangent(np.clip, aliases={"a": "x", "min": "a_min", "max": "a_max"})
def clip_tangent(result, x, a_min=None, a_max=None, out=None):
    if a_min is None and a_max is None:
        d[result] = d[x]
    elif a_min is None and ndim(x) >= 1:
        d[result] = d[x] * (x <= a_max)
    elif a_max is None and ndim(x) >= 1:
        d[result] = d[x] * (x >= a_min)
    elif a_min is not None and a_max is not None and ndim(x) >= 1:
        d[result] = d[x] * ((x >= a_min) & (np.maximum(x, a_min) <= a_max))
    else:
        d[result] = np.where(clip_passes(x, a_min, a_max), d[x], np.zeros_like(result))
    d[result] = np.where(clip_takes_lower(x, a_min, a_max), d[a_min], np.zeros_like(result))
    d[result] = np.where(clip_takes_upper(x, a_min, a_max), d[a_max], np.zeros_like(result))


nondifferentiable(clip_passes, clip_takes_lower, clip_takes_upper, why="it is a mask")


# np.heaviside(x, h0) is flat in x wherever its derivative exists (the jump at 0 has none), and is h0 where x == 0.
@adjoint(np.heaviside, zero_gradient=("x",))
def heaviside(result, x, h0):
    d[h0] = unbroadcast(np.where(x == 0, d[result], 0), h0)


# Selected into zeros of the result's dtype, which x alone may widen (x a float64 scalar, h0 float32).
@tangent(np.heaviside, broadcasts=True)
def heaviside_tangent(result, x, h0):
    d[result] = np.where(x == 0, d[h0], np.zeros_like(result))


# ---- selection: the condition carries no gradient ------------------------------------------------------


@adjoint(np.where, new_array=True)
def where(result, condition, x, y):
    # A select, not a product with the mask: where d[result] is inf or nan, the branch not taken
    # gets 0, not 0 * inf = nan. (The taken branch's own rule still runs on the whole array: see
    # np.where(x > 0, np.log(x), 0.0) at x == 0 in tests/rules_elementwise.py.)
    d[x] = unbroadcast(np.where(condition, d[result], 0), x)
    d[y] = unbroadcast(np.where(condition, 0, d[result]), y)


@tangent(np.where, broadcasts=True)
def where_tangent(result, condition, x, y):
    if ndim(x) >= 1:
        d[result] = np.where(condition, d[x], 0)
    else:
        d[result] = np.where(condition, d[x], np.zeros_like(result))
    if ndim(y) >= 1:
        d[result] = np.where(condition, 0, d[y])
    else:
        d[result] = np.where(condition, np.zeros_like(result), d[y])

# np.select(condlist, choicelist, default): each element comes from the first choice whose condition holds
# there, else from default; that one gets the element's gradient, the others none.


@adjoint(np.select, new_array=True)
def select(result, condlist, choicelist, default=0):
    d[choicelist] = select_grad(d[result], condlist, choicelist)
    d[default] = select_default_grad(d[result], condlist, default)


@tangent(np.select, broadcasts=True)
def select_tangent(result, condlist, choicelist, default=0):
    d[result] = np.select(condlist, d[choicelist])
    d[result] = select_default_jvp(d[default], condlist, result)


# for hvp: linear in the tangent; the result gives only its shape
@adjoint(select_default_jvp, zero_gradient=("result",))
def select_default_jvp_rule(out, tangent, condlist, result):
    d[tangent] = select_default_grad(d[out], condlist, tangent)


# ---- replacing nan and infinities: where x was one, the result is a constant ------------------------------
# np.where rather than a product with np.isfinite(x), for np.where's reason. The replacements carry a gradient
# from the positions they fill; posinf and neginf left None are numpy's largest numbers, constants.
# copy=False writes into x, whose nan the backward pass would no longer see: nan_to_num_grad refuses it.


@adjoint(np.nan_to_num, new_array=True)
def nan_to_num(result, x, copy=True, nan=0.0, posinf=None, neginf=None):
    if copy is True:
        d[x] = np.where(np.isfinite(x), d[result], 0)
    else:
        d[x] = nan_to_num_grad(d[result], x, copy)
    d[nan] = unbroadcast(np.where(np.isnan(x), d[result], 0), nan)
    d[posinf] = unbroadcast(np.where(x == np.inf, d[result], 0), posinf)
    d[neginf] = unbroadcast(np.where(x == -np.inf, d[result], 0), neginf)


@tangent(np.nan_to_num)
def nan_to_num_tangent(result, x, copy=True, nan=0.0, posinf=None, neginf=None):
    if copy is True:
        d[result] = np.where(np.isfinite(x), d[x], 0)
    else:
        d[result] = nan_to_num_grad(d[x], x, copy)  # (the same selection, refusing copy=False)
    d[result] = np.where(np.isnan(x), d[nan], np.zeros_like(result))
    d[result] = np.where(x == np.inf, d[posinf], np.zeros_like(result))
    d[result] = np.where(x == -np.inf, d[neginf], np.zeros_like(result))


@adjoint(nan_to_num_grad, zero_gradient=("x",))  # for hvp: linear in grad; x only says where it is finite
def nan_to_num_grad_rule(result, grad, x, copy):
    d[grad] = nan_to_num_grad(d[result], x, copy)


# ---- parts of a real array: sourcegrad refuses complex arguments, so np.real is the array and np.imag zeros ----


@adjoint(np.real, aliases={"val": "x"})
def real(result, x):
    d[x] = d[result]


@tangent(np.real, aliases={"val": "x"})
def real_tangent(result, x):
    d[result] = d[x]


@adjoint(np.imag, aliases={"val": "x"})
def imag(result, x):
    d[x] = np.zeros_like(d[result])


@tangent(np.imag, aliases={"val": "x"})
def imag_tangent(result, x):
    d[result] = np.zeros_like(d[x])


# ---- piecewise linear interpolation ------------------------------------------------------------------------------
# np.interp(x, xp, fp): in x the slope of x's segment (at a knot the segment starting there, 0 from xp[-1] on and below
# xp[0]); in fp each x's two weights; in xp minus the slope times them (runtime/elementwise.py); a given left or right
# takes the gradient of the values below or above the knots. xp must increase strictly; period= is refused.


@adjoint(np.interp, aliases={"xp": "knots"}, new_array=True)
def interp(result, x, knots, fp, left=None, right=None):
    d[x] = d[result] * interp_slope(x, knots, fp)
    d[fp] = interp_values_grad(d[result], x, knots, fp, left, right)
    d[knots] = -interp_values_grad(d[result] * interp_slope(x, knots, fp), x, knots, knots, 0.0, 0.0)
    d[left] = np.sum(d[result] * (x < knots[0]))
    d[right] = np.sum(d[result] * (x > knots[-1]))


@tangent(np.interp, aliases={"xp": "knots"})
def interp_tangent(result, x, knots, fp, left=None, right=None):
    d[result] = d[x] * interp_slope(x, knots, fp)
    d[result] = interp_values(x, knots, d[fp], left, right)
    d[result] = -(interp_slope(x, knots, fp) * interp_values(x, knots, d[knots], 0.0, 0.0))
    d[result] = d[left] * (x < knots[0])
    d[result] = d[right] * (x > knots[-1])


# for hvp: interp_values is linear in values, and in x and the knots it moves as np.interp does; interp_slope is
# linear in values, constant in x within a segment, and moves with the knots that bound the segment. left and right
# say only whether fp's ends are read.
@adjoint(interp_values, zero_gradient=("left", "right"))
def interp_values_rule(result, x, knots, values, left, right):
    d[values] = interp_values_grad(d[result], x, knots, values, left, right)
    d[x] = d[result] * interp_slope(x, knots, values)
    d[knots] = -interp_values_grad(d[result] * interp_slope(x, knots, values), x, knots, knots, 0.0, 0.0)


@adjoint(interp_slope, zero_gradient=("x",))
def interp_slope_rule(result, x, knots, values):
    d[values] = interp_slope_grad(d[result], x, knots, values)
    d[knots] = interp_slope_knots_grad(d[result], x, knots, values)


# ---- the math module's error and gamma functions of numbers ---------------------------------------------------------
# 2 / sqrt(pi) as a Python number (np.pi ** -0.5 is one), as scipy.special.erf's rule writes it. lgamma's derivative is
# digamma, gamma's gamma times digamma, from runtime/elementwise.py's digamma_of_number (scipy is optional).


@adjoint(math.erf)
def math_erf(result, x):
    d[x] = d[result] * (2 * np.pi ** -0.5) * np.exp(-(x * x))


@tangent(math.erf)
def math_erf_tangent(result, x):
    d[result] = d[x] * (2 * np.pi ** -0.5) * np.exp(-(x * x))


@adjoint(math.erfc)
def math_erfc(result, x):
    d[x] = d[result] * (-2 * np.pi ** -0.5) * np.exp(-(x * x))


@tangent(math.erfc)
def math_erfc_tangent(result, x):
    d[result] = d[x] * (-2 * np.pi ** -0.5) * np.exp(-(x * x))


@adjoint(math.lgamma)
def math_lgamma(result, x):
    d[x] = d[result] * digamma_of_number(x)


@tangent(math.lgamma)
def math_lgamma_tangent(result, x):
    d[result] = d[x] * digamma_of_number(x)


@adjoint(math.gamma)
def math_gamma(result, x):
    d[x] = d[result] * result * digamma_of_number(x)


@tangent(math.gamma)
def math_gamma_tangent(result, x):
    d[result] = d[x] * result * digamma_of_number(x)


# for hvp: digamma's derivative
@adjoint(digamma_of_number)
def digamma_of_number_rule(result, x):
    d[x] = d[result] * trigamma_of_number(x)

