"""Gradient rules for Python's arithmetic operators and their numpy functions.

Every binary rule reduces each operand's gradient to that operand's shape with
`unbroadcast`, so `x / y` with y of shape (1, n) gets y's gradient summed over
the stretched axis.
"""

import builtins
import math
import operator

import numpy as np

from ..runtime import unbroadcast
from ..runtime.elementwise import exponent_less_one, log_of_base
from .registry import adjoint, d, ndim, tangent

# ---- addition and subtraction --------------------------------------------------


@adjoint(operator.add, np.add, new_array=True, rank="elementwise")
def add(result, x, y):
    d[x] = unbroadcast(d[result], x)
    d[y] = unbroadcast(d[result], y)


@tangent(operator.add, np.add, broadcasts=True)
def add_tangent(result, x, y):
    d[result] = d[x]
    d[result] = d[y]


@adjoint(operator.sub, np.subtract, new_array=True, rank="elementwise")
def subtract(result, x, y):
    d[x] = unbroadcast(d[result], x)
    d[y] = unbroadcast(-d[result], y)


@tangent(operator.sub, np.subtract, broadcasts=True)
def subtract_tangent(result, x, y):
    d[result] = d[x]
    d[result] = -d[y]


@adjoint(operator.neg, np.negative, new_array=True, rank="elementwise")
def negative(result, x):
    d[x] = -d[result]


@tangent(operator.neg, np.negative)
def negative_tangent(result, x):
    d[result] = -d[x]


@adjoint(operator.pos, np.positive, new_array=True, rank="elementwise")
def positive(result, x):
    d[x] = d[result]


@tangent(operator.pos, np.positive)
def positive_tangent(result, x):
    d[result] = d[x]


# ---- multiplication and division ------------------------------------------------


@adjoint(operator.mul, np.multiply, new_array=True, rank="elementwise")
def multiply(result, x, y):
    d[x] = unbroadcast(d[result] * y, x)
    d[y] = unbroadcast(x * d[result], y)


@tangent(operator.mul, np.multiply)
def multiply_tangent(result, x, y):
    d[result] = d[x] * y
    d[result] = x * d[y]


@adjoint(operator.truediv, np.divide, new_array=True, rank="elementwise")
def divide(result, x, y):
    d[x] = unbroadcast(d[result] / y, x)
    d[y] = unbroadcast(-d[result] * result / y, y)


@tangent(operator.truediv, np.divide)
def divide_tangent(result, x, y):
    d[result] = d[x] / y
    d[result] = -(d[y] * result / y)


# ---- remainders: x % y is x - floor(x / y) * y, and floor is flat between its jumps --------------------


@adjoint(operator.mod, np.remainder, new_array=True, rank="elementwise")
def remainder(result, x, y):
    d[x] = unbroadcast(d[result], x)
    d[y] = unbroadcast(-d[result] * np.floor(x / y), y)


@tangent(operator.mod, np.remainder, broadcasts=True)
def remainder_tangent(result, x, y):
    d[result] = d[x]
    d[result] = -(d[y] * np.floor(x / y))


# ---- powers ------------------------------------------------------------------------


@adjoint(operator.pow, np.power, builtins.pow, math.pow, new_array=True, rank="elementwise")
def power(result, x, y):
    # d/dy x**y = x**y log(x); at x == 0 the product is 0 for y > 0, so log(0) is kept out.
    if y == 0:  # x ** 0 is 1: no gradient, even at x == 0 (where x ** (y - 1) would be inf)
        d[x] = 0 * x
        d[y] = unbroadcast(d[result] * result * np.log(np.where(x == 0, 1, x)), y)
    elif y != 0:  # a constant exponent other than 0
        d[x] = unbroadcast(d[result] * y * x ** (y - 1), x)
        d[y] = unbroadcast(d[result] * result * np.log(np.where(x == 0, 1, x)), y)
    else:  # an exponent known only at run time, maybe 0, maybe boolean
        d[x] = unbroadcast(d[result] * y * x ** exponent_less_one(y), x)
        d[y] = unbroadcast(d[result] * result * np.log(np.where(x == 0, 1, x)), y)


@tangent(operator.pow, np.power, builtins.pow, math.pow)
def power_tangent(result, x, y):
    if y == 0:
        d[result] = 0 * d[x]
    elif y != 0:
        d[result] = d[x] * y * x ** (y - 1)
    else:
        d[result] = d[x] * y * x ** exponent_less_one(y)
    if ndim(x) >= 1:
        d[result] = d[y] * result * np.log(np.where(x == 0, 1, x))
    else:  # a number's log as a Python float: numpy's, a float64 scalar, would widen a float32 tangent
        d[result] = d[y] * result * log_of_base(x)


@adjoint(exponent_less_one)  # for hvp: y shifted by a constant (by 0 where y is 0, a point)
def exponent_less_one_rule(result, y):
    d[y] = d[result]


@adjoint(log_of_base)  # for hvp: log's derivative, 0 where the helper holds 0 in place of log(0)
def log_of_base_rule(result, x):
    d[x] = np.where(x == 0, 0 * d[result], d[result] / np.where(x == 0, 1, x))