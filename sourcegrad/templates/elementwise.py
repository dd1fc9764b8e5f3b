"""Gradient rules for numpy's elementwise functions.

Kinks follow one convention: where the derivative jumps, the gradient is the
one from the side that includes the point, and ties go to the first argument.
So relu (`np.maximum(x, 0)`) passes the gradient at x == 0, as the tutorial's
hand-written backward does (it zeroes only where x < 0), `np.clip` passes it
at the bounds, and `np.abs` uses `np.sign`, which is 0 at 0.
"""

import builtins

import numpy as np

from ..runtime import unbroadcast
from .registry import adjoint, d

# ---- exponentials and logarithms ------------------------------------------------------


@adjoint(np.exp)
def exp(result, x):
    d[x] = d[result] * result


@adjoint(np.log)
def log(result, x):
    d[x] = d[result] / x


@adjoint(np.sqrt)
def sqrt(result, x):
    d[x] = d[result] / (2 * result)


@adjoint(np.square)
def square(result, x):
    d[x] = d[result] * 2 * x


# ---- trigonometric and hyperbolic ---------------------------------------------------------


@adjoint(np.sin)
def sin(result, x):
    d[x] = d[result] * np.cos(x)


@adjoint(np.cos)
def cos(result, x):
    d[x] = -d[result] * np.sin(x)


@adjoint(np.tanh)
def tanh(result, x):
    d[x] = d[result] * (1 - result * result)


# ---- piecewise: kinks pass the gradient to the first argument -------------------------------


@adjoint(np.abs, np.absolute, builtins.abs)
def absolute(result, x):
    d[x] = d[result] * np.sign(x)


@adjoint(np.maximum)
def maximum(result, x, y):
    d[x] = unbroadcast(d[result] * (x >= y), x)
    d[y] = unbroadcast(d[result] * (x < y), y)


@adjoint(np.minimum)
def minimum(result, x, y):
    d[x] = unbroadcast(d[result] * (x <= y), x)
    d[y] = unbroadcast(d[result] * (x > y), y)


@adjoint(np.clip, aliases={"min": "a_min", "max": "a_max"})
def clip(result, x, a_min=None, a_max=None, out=None):
    if a_min is None:
        d[x] = unbroadcast(d[result] * (x <= a_max), x)
        d[a_max] = unbroadcast(d[result] * (x > a_max), a_max)
    elif a_max is None:
        d[x] = unbroadcast(d[result] * (x >= a_min), x)
        d[a_min] = unbroadcast(d[result] * (x < a_min), a_min)
    else:
        d[x] = unbroadcast(d[result] * ((x >= a_min) & (x <= a_max)), x)
        d[a_min] = unbroadcast(d[result] * (x < a_min), a_min)
        d[a_max] = unbroadcast(d[result] * (x > a_max), a_max)
