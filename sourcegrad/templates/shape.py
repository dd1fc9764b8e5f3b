"""Gradient rules for operations that only move elements: transposes and reshapes."""

import numpy as np

from ..runtime import inverse_permutation
from .registry import adjoint, d, ndim

# ---- transposes ------------------------------------------------------------------------------------


@adjoint(np.transpose)
def transpose(result, x, axes=None):
    if axes is None and ndim(x) >= 1:
        d[x] = d[result].T
    else:
        d[x] = np.transpose(d[result], inverse_permutation(axes))


# ---- reshapes ----------------------------------------------------------------------------------------


@adjoint(np.reshape, aliases={"newshape": "shape"})
def reshape(result, x, shape=None, order="C"):
    d[x] = np.reshape(d[result], np.shape(x), order=order)
