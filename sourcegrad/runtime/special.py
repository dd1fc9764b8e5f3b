"""Runtime helpers for the scipy.special gradient rules (sourcegrad/templates/scipy_special.py).

The derivatives of the gamma-function family are other special functions: scipy.special's for numpy arrays,
cupyx.scipy.special's for cupy arrays. This module imports neither until a helper runs, so it loads without scipy.
"""

from __future__ import annotations

import importlib

from ..errors import SourcegradError
from .core import array_namespace, helper, unreduce


def _special_functions(x):
    """scipy.special, or cupyx.scipy.special for a cupy array."""
    if array_namespace(x).__name__.startswith("cupy"):
        return importlib.import_module("cupyx.scipy.special")
    return importlib.import_module("scipy.special")


@helper
def digamma(x):
    """The derivative of gammaln: scipy.special.digamma."""
    return _special_functions(x).digamma(x)


@helper
def trigamma(x):
    """The derivative of digamma: scipy.special.polygamma(1, x)."""
    return _special_functions(x).polygamma(1, x)


@helper
def logsumexp_grad(grad, result, a, axis, b, keepdims, return_sign):
    """d(scipy.special.logsumexp(a, axis, keepdims=keepdims))/da: the softmax of a along axis, times grad."""
    if b is not None or return_sign:
        raise SourcegradError("scipy.special.logsumexp with b= or return_sign=True has no gradient rule",
                              hint="Fold the weights into the exponents: logsumexp(a + np.log(b)) for positive b.")
    return unreduce(grad, a, axis, keepdims) * array_namespace(a).exp(a - unreduce(result, a, axis, keepdims))
