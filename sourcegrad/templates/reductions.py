"""Gradient rules for reductions: the gradient is spread back over the reduced axes."""

import numpy as np

from ..runtime import size, unreduce
from .registry import adjoint, d

# ---- sums and means ------------------------------------------------------------------------------


@adjoint(np.sum)
def sum(result, x, axis=None, dtype=None, out=None, keepdims=False):
    d[x] = unreduce(d[result], x, axis, keepdims)


@adjoint(np.mean)
def mean(result, x, axis=None, dtype=None, out=None, keepdims=False):
    d[x] = unreduce(d[result] * (size(result) / size(x)), x, axis, keepdims)
