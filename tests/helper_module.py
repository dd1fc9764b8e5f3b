"""Helpers in a module of their own, called by functions in tests/test_structures.py."""

import numpy as xnp  # a different alias than the caller's, on purpose

SCALE = 3.0


def soft_layer(x, w, bias=0.5):
    return xnp.tanh(x @ w + bias)


def scaled(x):
    return x * SCALE  # a global of this module: the generated code could not see it


def without_rule(x):
    y = xnp.sinc(x)  # no rule: the refusal must cite this line, in this file
    return y * 2.0


def passes_on(a):
    return a


def passes_on_twice(a):
    y = passes_on(a)  # a function of this module, called by its name here and through the module by the caller
    return passes_on(y) * 2.0
