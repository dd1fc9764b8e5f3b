"""Gradient rules for scipy.special: expit, logit, gammaln, digamma, erf, erfc, logsumexp, softmax, log_softmax.

Imported only where scipy is installed (sourcegrad/templates/__init__.py). The gamma family's derivatives
are special functions themselves, called through the runtime helpers of sourcegrad/runtime/special.py.
"""

import numpy as np
import scipy.special

from ..runtime import unreduce
from ..runtime.elementwise import exp_share, reduced_count
from ..runtime.special import digamma, logsumexp_grad, logsumexp_jvp, tetragamma, trigamma
from .registry import adjoint, d, ndim, tangent

# ---- the logistic function and its inverse ----------------------------------------------------


@adjoint(scipy.special.expit)
def expit(result, x):
    d[x] = d[result] * result * (1 - result)


@tangent(scipy.special.expit)
def expit_tangent(result, x):
    d[result] = d[x] * result * (1 - result)


@adjoint(scipy.special.logit)
def logit(result, x):
    d[x] = d[result] / (x * (1 - x))


@tangent(scipy.special.logit)
def logit_tangent(result, x):
    d[result] = d[x] / (x * (1 - x))


# ---- the gamma function's logarithm and its derivatives ------------------------------------------


@adjoint(scipy.special.gammaln)
def gammaln(result, x):
    d[x] = d[result] * digamma(x)


@tangent(scipy.special.gammaln)
def gammaln_tangent(result, x):
    d[result] = d[x] * digamma(x)


# Named psi, scipy's other name for digamma: `digamma` here is the runtime helper gammaln's rule calls.
@adjoint(scipy.special.digamma)
def psi(result, x):
    d[x] = d[result] * trigamma(x)


@tangent(scipy.special.digamma)
def psi_tangent(result, x):
    d[result] = d[x] * trigamma(x)


# for hvp: the derivatives the rules above call, differentiated in turn
@adjoint(digamma)
def digamma_rule(result, x):
    d[x] = d[result] * trigamma(x)


@adjoint(trigamma)
def trigamma_rule(result, x):
    d[x] = d[result] * tetragamma(x)


# ---- error functions ---------------------------------------------------------------------------
# 2 / sqrt(pi) as a Python number (np.pi ** -0.5 is one), so float32 stays float32.


@adjoint(scipy.special.erf)
def erf(result, x):
    d[x] = d[result] * (2 * np.pi ** -0.5) * np.exp(-(x * x))


@tangent(scipy.special.erf)
def erf_tangent(result, x):
    d[result] = d[x] * (2 * np.pi ** -0.5) * np.exp(-(x * x))


@adjoint(scipy.special.erfc)
def erfc(result, x):
    d[x] = d[result] * (-2 * np.pi ** -0.5) * np.exp(-(x * x))


@tangent(scipy.special.erfc)
def erfc_tangent(result, x):
    d[result] = d[x] * (-2 * np.pi ** -0.5) * np.exp(-(x * x))


# ---- logsumexp and softmax ---------------------------------------------------------------------
# The gradient of logsumexp is the softmax, exp(a - result) (exp_share: uniform where every item is -inf); softmax's and log_softmax's are written with
# their own results, as the exp rule is.


@adjoint(scipy.special.logsumexp, new_array=True)
def logsumexp(result, a, axis=None, b=None, keepdims=False, return_sign=False):
    if b is None and not return_sign:
        d[a] = unreduce(d[result], a, axis, keepdims) * exp_share(a, unreduce(result, a, axis, keepdims),
                                                                  reduced_count(a, result))
    else:  # b= and return_sign=True have no rule; b known only when the code runs: the helper tells
        d[a] = logsumexp_grad(d[result], result, a, axis, b, keepdims, return_sign)


# a's tangent averaged with the softmax, exp(a - result)
@tangent(scipy.special.logsumexp)
def logsumexp_tangent(result, a, axis=None, b=None, keepdims=False, return_sign=False):
    if b is None and not return_sign and axis is None and keepdims == False:  # noqa: E712
        if ndim(a) >= 1:
            d[result] = (d[a] * exp_share(a, result, reduced_count(a, result))).sum()
        else:  # a number, or a rank not known
            d[result] = np.sum(d[a] * exp_share(a, result, reduced_count(a, result)))
    elif b is None and not return_sign:
        d[result] = np.sum(d[a] * exp_share(a, unreduce(result, a, axis, keepdims), reduced_count(a, result)), axis=axis,
                           keepdims=keepdims)
    else:
        d[result] = logsumexp_jvp(d[a], result, a, axis, b, keepdims, return_sign)


# for hvp, where b and return_sign are known only when the code runs (the helper refuses b= and return_sign=True,
# as logsumexp_grad does): linear in the tangent, whose gradient is logsumexp's own; with s = exp(a - result), a's
# gradient is the tangent times s, and result's minus the value itself (reverse mode adds result's through logsumexp)
@adjoint(logsumexp_jvp)
def logsumexp_jvp_rule(out, tangent, result, a, axis, b, keepdims, return_sign):
    d[tangent] = logsumexp_grad(d[out], result, a, axis, b, keepdims, return_sign)
    d[a] = unreduce(d[out], a, axis, keepdims) * tangent * exp_share(a, unreduce(result, a, axis, keepdims),
                                                                    reduced_count(a, result))
    d[result] = -(d[out] * out)


@adjoint(scipy.special.softmax, new_array=True)
def softmax(result, x, axis=None):
    d[x] = result * (d[result] - np.sum(d[result] * result, axis=axis, keepdims=True))


@tangent(scipy.special.softmax)
def softmax_tangent(result, x, axis=None):
    d[result] = result * (d[x] - np.sum(result * d[x], axis=axis, keepdims=True))


@adjoint(scipy.special.log_softmax, new_array=True)
def log_softmax(result, x, axis=None):
    d[x] = d[result] - np.exp(result) * np.sum(d[result], axis=axis, keepdims=True)


@tangent(scipy.special.log_softmax)
def log_softmax_tangent(result, x, axis=None):
    d[result] = d[x] - np.sum(np.exp(result) * d[x], axis=axis, keepdims=True)
