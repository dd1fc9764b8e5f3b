"""Gradient rules for scipy.stats: the normal distribution's logpdf, pdf, cdf, logcdf and logsf, Student's t's logpdf and pdf,
and the multivariate normal's logpdf.

Registered when a compile finds scipy.stats imported (sourcegrad/templates/__init__.py). The rules are keyed
on the bound methods of scipy's distribution objects (`norm`, `t`, `multivariate_normal`), which compare
equal however often they are read. In each, z = (x - loc) / scale.
"""

import numpy as np
import scipy.stats

from ..runtime import unbroadcast
from ..runtime.special import (digamma, multivariate_normal_cov_grad, multivariate_normal_cov_jvp,
                               multivariate_normal_jvp_grad, multivariate_normal_mean_grad, multivariate_normal_mean_jvp,
                               multivariate_normal_x_grad, multivariate_normal_x_jvp)
from .registry import adjoint, d, tangent

# ---- the normal distribution ----------------------------------------------------------------------------


@adjoint(scipy.stats.norm.logpdf, new_array=True)
def norm_logpdf(result, x, loc=0, scale=1):
    d[x] = unbroadcast(-d[result] * (x - loc) / (scale * scale), x)
    d[loc] = unbroadcast(d[result] * (x - loc) / (scale * scale), loc)
    d[scale] = unbroadcast(d[result] * (((x - loc) / scale) ** 2 - 1) / scale, scale)


@tangent(scipy.stats.norm.logpdf)
def norm_logpdf_tangent(result, x, loc=0, scale=1):
    d[result] = d[x] * (loc - x) / (scale * scale)
    d[result] = d[loc] * (x - loc) / (scale * scale)
    d[result] = d[scale] * (((x - loc) / scale) ** 2 - 1) / scale


@adjoint(scipy.stats.norm.pdf, new_array=True)
def norm_pdf(result, x, loc=0, scale=1):
    d[x] = unbroadcast(-d[result] * result * (x - loc) / (scale * scale), x)
    d[loc] = unbroadcast(d[result] * result * (x - loc) / (scale * scale), loc)
    d[scale] = unbroadcast(d[result] * result * (((x - loc) / scale) ** 2 - 1) / scale, scale)


@tangent(scipy.stats.norm.pdf)
def norm_pdf_tangent(result, x, loc=0, scale=1):
    d[result] = d[x] * result * (loc - x) / (scale * scale)
    d[result] = d[loc] * result * (x - loc) / (scale * scale)
    d[result] = d[scale] * result * (((x - loc) / scale) ** 2 - 1) / scale


@adjoint(scipy.stats.norm.cdf, new_array=True)
def norm_cdf(result, x, loc=0, scale=1):
    d[x] = unbroadcast(d[result] * np.exp(-0.5 * ((x - loc) / scale) ** 2) / (scale * np.sqrt(2 * np.pi)), x)
    d[loc] = unbroadcast(-d[result] * np.exp(-0.5 * ((x - loc) / scale) ** 2) / (scale * np.sqrt(2 * np.pi)), loc)
    d[scale] = unbroadcast(-d[result] * np.exp(-0.5 * ((x - loc) / scale) ** 2) / (scale * np.sqrt(2 * np.pi))
                           * (x - loc) / scale, scale)


# sqrt(2 pi) as a Python float: np.sqrt's would be a float64 scalar, and the tangent float64 for float32 inputs
@tangent(scipy.stats.norm.cdf)
def norm_cdf_tangent(result, x, loc=0, scale=1):
    d[result] = d[x] * np.exp(-0.5 * ((x - loc) / scale) ** 2) / (scale * 2.5066282746310002)
    d[result] = -(d[loc] * np.exp(-0.5 * ((x - loc) / scale) ** 2) / (scale * 2.5066282746310002))
    d[result] = -(d[scale] * np.exp(-0.5 * ((x - loc) / scale) ** 2) / (scale * 2.5066282746310002) * (x - loc) / scale)


# logcdf's derivative is pdf / cdf over scale, logsf's minus pdf / sf: each written exp(logpdf(z) - result), with
# logpdf(z) = -z^2 / 2 - log(sqrt(2 pi)), so that neither ratio is ever 0 / 0 or inf / inf far in a tail (at z = -40 the
# cdf is 1e-350, beyond float64, and its logarithm -804.6 is not). The tangents are the same expressions of numpy's
# functions and of the result, so hvp goes through their rules and logcdf's own.


@adjoint(scipy.stats.norm.logcdf, new_array=True)
def norm_logcdf(result, x, loc=0, scale=1):
    d[x] = unbroadcast(d[result] * np.exp(-0.5 * ((x - loc) / scale) ** 2 - 0.9189385332046728 - result) / scale, x)
    d[loc] = unbroadcast(-d[result] * np.exp(-0.5 * ((x - loc) / scale) ** 2 - 0.9189385332046728 - result) / scale,
                         loc)
    d[scale] = unbroadcast(-d[result] * np.exp(-0.5 * ((x - loc) / scale) ** 2 - 0.9189385332046728 - result)
                           * (x - loc) / (scale * scale), scale)


@tangent(scipy.stats.norm.logcdf)
def norm_logcdf_tangent(result, x, loc=0, scale=1):
    d[result] = d[x] * np.exp(-0.5 * ((x - loc) / scale) ** 2 - 0.9189385332046728 - result) / scale
    d[result] = -(d[loc] * np.exp(-0.5 * ((x - loc) / scale) ** 2 - 0.9189385332046728 - result) / scale)
    d[result] = -(d[scale] * np.exp(-0.5 * ((x - loc) / scale) ** 2 - 0.9189385332046728 - result) * (x - loc)
                  / (scale * scale))


@adjoint(scipy.stats.norm.logsf, new_array=True)
def norm_logsf(result, x, loc=0, scale=1):
    d[x] = unbroadcast(-d[result] * np.exp(-0.5 * ((x - loc) / scale) ** 2 - 0.9189385332046728 - result) / scale, x)
    d[loc] = unbroadcast(d[result] * np.exp(-0.5 * ((x - loc) / scale) ** 2 - 0.9189385332046728 - result) / scale,
                         loc)
    d[scale] = unbroadcast(d[result] * np.exp(-0.5 * ((x - loc) / scale) ** 2 - 0.9189385332046728 - result)
                           * (x - loc) / (scale * scale), scale)


@tangent(scipy.stats.norm.logsf)
def norm_logsf_tangent(result, x, loc=0, scale=1):
    d[result] = -(d[x] * np.exp(-0.5 * ((x - loc) / scale) ** 2 - 0.9189385332046728 - result) / scale)
    d[result] = d[loc] * np.exp(-0.5 * ((x - loc) / scale) ** 2 - 0.9189385332046728 - result) / scale
    d[result] = d[scale] * np.exp(-0.5 * ((x - loc) / scale) ** 2 - 0.9189385332046728 - result) * (x - loc) / (
        scale * scale)


# ---- Student's t distribution ----------------------------------------------------------------------------
# logpdf = gammaln((df + 1) / 2) - gammaln(df / 2) - log(pi df) / 2 - log(scale) - (df + 1) / 2 log(1 + z^2 / df).
# Written with u = x - loc rather than z, so that each derivative is one fraction over df scale^2 + u^2; the
# derivative in df is where the gamma functions' derivative, digamma, comes in. pdf's are logpdf's times pdf.


@adjoint(scipy.stats.t.logpdf, new_array=True)
def t_logpdf(result, x, df, loc=0, scale=1):
    d[x] = unbroadcast(-d[result] * (df + 1) * (x - loc) / (df * scale * scale + (x - loc) ** 2), x)
    d[loc] = unbroadcast(d[result] * (df + 1) * (x - loc) / (df * scale * scale + (x - loc) ** 2), loc)
    d[scale] = unbroadcast(d[result] * df * ((x - loc) ** 2 - scale * scale)
                           / (scale * (df * scale * scale + (x - loc) ** 2)), scale)
    d[df] = unbroadcast(0.5 * d[result] * (digamma((df + 1) / 2) - digamma(df / 2)
                                           - np.log1p((x - loc) ** 2 / (df * scale * scale))
                                           + ((x - loc) ** 2 - scale * scale) / (df * scale * scale + (x - loc) ** 2)),
                        df)


@tangent(scipy.stats.t.logpdf)
def t_logpdf_tangent(result, x, df, loc=0, scale=1):
    d[result] = d[x] * (df + 1) * (loc - x) / (df * scale * scale + (x - loc) ** 2)
    d[result] = d[loc] * (df + 1) * (x - loc) / (df * scale * scale + (x - loc) ** 2)
    d[result] = d[scale] * df * ((x - loc) ** 2 - scale * scale) / (scale * (df * scale * scale + (x - loc) ** 2))
    d[result] = 0.5 * d[df] * (digamma((df + 1) / 2) - digamma(df / 2) - np.log1p((x - loc) ** 2 / (df * scale * scale))
                               + ((x - loc) ** 2 - scale * scale) / (df * scale * scale + (x - loc) ** 2))


@adjoint(scipy.stats.t.pdf, new_array=True)
def t_pdf(result, x, df, loc=0, scale=1):
    d[x] = unbroadcast(-d[result] * result * (df + 1) * (x - loc) / (df * scale * scale + (x - loc) ** 2), x)
    d[loc] = unbroadcast(d[result] * result * (df + 1) * (x - loc) / (df * scale * scale + (x - loc) ** 2), loc)
    d[scale] = unbroadcast(d[result] * result * df * ((x - loc) ** 2 - scale * scale)
                           / (scale * (df * scale * scale + (x - loc) ** 2)), scale)
    d[df] = unbroadcast(0.5 * d[result] * result * (digamma((df + 1) / 2) - digamma(df / 2)
                                                    - np.log1p((x - loc) ** 2 / (df * scale * scale))
                                                    + ((x - loc) ** 2 - scale * scale)
                                                    / (df * scale * scale + (x - loc) ** 2)),
                        df)


@tangent(scipy.stats.t.pdf)
def t_pdf_tangent(result, x, df, loc=0, scale=1):
    d[result] = d[x] * result * (df + 1) * (loc - x) / (df * scale * scale + (x - loc) ** 2)
    d[result] = d[loc] * result * (df + 1) * (x - loc) / (df * scale * scale + (x - loc) ** 2)
    d[result] = d[scale] * result * df * ((x - loc) ** 2 - scale * scale) / (scale * (df * scale * scale
                                                                                       + (x - loc) ** 2))
    d[result] = 0.5 * d[df] * result * (digamma((df + 1) / 2) - digamma(df / 2)
                                        - np.log1p((x - loc) ** 2 / (df * scale * scale))
                                        + ((x - loc) ** 2 - scale * scale) / (df * scale * scale + (x - loc) ** 2))


# ---- the multivariate normal distribution ----------------------------------------------------------------
# logpdf = -(k log(2 pi) + log det(cov) + r^T cov^-1 r) / 2 with r = x - mean, per point (x's last axis holds a
# point's coordinates). scipy reads cov's lower triangle only (scipy.linalg.eigh), so the upper one gets no
# gradient, as for np.linalg.cholesky; cov may also be one number (times the identity) or a diagonal.
# The helpers take scipy's own reading of the arguments' shapes and need a positive definite cov.


@adjoint(scipy.stats.multivariate_normal.logpdf, new_array=True)
def multivariate_normal_logpdf(result, x, mean=None, cov=1, allow_singular=False):
    d[x] = multivariate_normal_x_grad(d[result], x, mean, cov)
    d[mean] = multivariate_normal_mean_grad(d[result], x, mean, cov)
    d[cov] = multivariate_normal_cov_grad(d[result], x, mean, cov)


@tangent(scipy.stats.multivariate_normal.logpdf)
def multivariate_normal_logpdf_tangent(result, x, mean=None, cov=1, allow_singular=False):
    d[result] = multivariate_normal_x_jvp(d[x], result, x, mean, cov)
    d[result] = multivariate_normal_mean_jvp(d[mean], result, x, mean, cov)
    d[result] = multivariate_normal_cov_jvp(d[cov], result, x, mean, cov)


# for hvp: each tangent helper is linear in its tangent, whose gradient is the logpdf's own; x's, mean's and cov's
# are the second derivatives (multivariate_normal_jvp_grad's parts: 0 x, 1 mean, 2 cov). result gives the shape.
@adjoint(multivariate_normal_x_jvp, zero_gradient=("result",))
def multivariate_normal_x_jvp_rule(out, tangent, result, x, mean, cov):
    d[tangent] = multivariate_normal_x_grad(d[out], x, mean, cov)
    d[x] = multivariate_normal_jvp_grad(d[out], tangent, x, mean, cov, 0, 0)
    d[mean] = multivariate_normal_jvp_grad(d[out], tangent, x, mean, cov, 0, 1)
    d[cov] = multivariate_normal_jvp_grad(d[out], tangent, x, mean, cov, 0, 2)


@adjoint(multivariate_normal_mean_jvp, zero_gradient=("result",))
def multivariate_normal_mean_jvp_rule(out, tangent, result, x, mean, cov):
    d[tangent] = multivariate_normal_mean_grad(d[out], x, mean, cov)
    d[x] = multivariate_normal_jvp_grad(d[out], tangent, x, mean, cov, 1, 0)
    d[mean] = multivariate_normal_jvp_grad(d[out], tangent, x, mean, cov, 1, 1)
    d[cov] = multivariate_normal_jvp_grad(d[out], tangent, x, mean, cov, 1, 2)


@adjoint(multivariate_normal_cov_jvp, zero_gradient=("result",))
def multivariate_normal_cov_jvp_rule(out, tangent, result, x, mean, cov):
    d[tangent] = multivariate_normal_cov_grad(d[out], x, mean, cov)
    d[x] = multivariate_normal_jvp_grad(d[out], tangent, x, mean, cov, 2, 0)
    d[mean] = multivariate_normal_jvp_grad(d[out], tangent, x, mean, cov, 2, 1)
    d[cov] = multivariate_normal_jvp_grad(d[out], tangent, x, mean, cov, 2, 2)
