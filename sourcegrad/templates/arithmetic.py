"""Gradient rules for Python's arithmetic operators and their numpy functions.

Every binary rule reduces each operand's gradient to that operand's shape with
`unbroadcast`, so `x / y` with y of shape (1, n) gets y's gradient summed over
the stretched axis.
"""

import operator

import numpy as np

from ..runtime import unbroadcast
from .registry import adjoint, d

# ---- addition and subtraction --------------------------------------------------


@adjoint(operator.add, np.add, new_array=True)
def add(result, x, y):
    d[x] = unbroadcast(d[result], x)
    d[y] = unbroadcast(d[result], y)


@adjoint(operator.sub, np.subtract, new_array=True)
def subtract(result, x, y):
    d[x] = unbroadcast(d[result], x)
    d[y] = unbroadcast(-d[result], y)


@adjoint(operator.neg, np.negative, new_array=True)
def negative(result, x):
    d[x] = -d[result]


@adjoint(operator.pos, np.positive, new_array=True)
def positive(result, x):
    d[x] = d[result]


# ---- multiplication and division ------------------------------------------------


@adjoint(operator.mul, np.multiply, new_array=True)
def multiply(result, x, y):
    d[x] = unbroadcast(d[result] * y, x)
    d[y] = unbroadcast(x * d[result], y)


@adjoint(operator.truediv, np.divide, new_array=True)
def divide(result, x, y):
    d[x] = unbroadcast(d[result] / y, x)
    d[y] = unbroadcast(-d[result] * result / y, y)


# ---- remainders: x % y is x - floor(x / y) * y, and floor is flat between its jumps --------------------


@adjoint(operator.mod, np.remainder, new_array=True)
def remainder(result, x, y):
    d[x] = unbroadcast(d[result], x)
    d[y] = unbroadcast(-d[result] * np.floor(x / y), y)


# ---- powers ------------------------------------------------------------------------


@adjoint(operator.pow, np.power, new_array=True)
def power(result, x, y):
    # d/dy x**y = x**y log(x); at x == 0 the product is 0 for y > 0, so log(0) is kept out.
    if y == 0:  # x ** 0 is 1: no gradient, even at x == 0 (where x ** (y - 1) would be inf)
        d[x] = 0 * x
        d[y] = unbroadcast(d[result] * result * np.log(np.where(x == 0, 1, x)), y)
    elif y != 0:  # a constant exponent other than 0
        d[x] = unbroadcast(d[result] * y * x ** (y - 1), x)
        d[y] = unbroadcast(d[result] * result * np.log(np.where(x == 0, 1, x)), y)
    else:  # an exponent known only at run time, maybe 0
        d[x] = unbroadcast(d[result] * y * x ** (y - (y != 0)), x)
        d[y] = unbroadcast(d[result] * result * np.log(np.where(x == 0, 1, x)), y)
