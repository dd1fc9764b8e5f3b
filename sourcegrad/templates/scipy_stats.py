"""Gradient rules for scipy.stats: the normal distribution's logpdf, pdf and cdf.

Registered when a compile finds scipy.stats imported (sourcegrad/templates/__init__.py). The rules are keyed
on the bound methods of scipy's `norm` object, which compare equal however often they are read. In each,
z = (x - loc) / scale.
"""

import numpy as np
import scipy.stats

from ..runtime import unbroadcast
from .registry import adjoint, d

# ---- the normal distribution ----------------------------------------------------------------------------


@adjoint(scipy.stats.norm.logpdf, new_array=True)
def norm_logpdf(result, x, loc=0, scale=1):
    d[x] = unbroadcast(-d[result] * (x - loc) / (scale * scale), x)
    d[loc] = unbroadcast(d[result] * (x - loc) / (scale * scale), loc)
    d[scale] = unbroadcast(d[result] * (((x - loc) / scale) ** 2 - 1) / scale, scale)


@adjoint(scipy.stats.norm.pdf, new_array=True)
def norm_pdf(result, x, loc=0, scale=1):
    d[x] = unbroadcast(-d[result] * result * (x - loc) / (scale * scale), x)
    d[loc] = unbroadcast(d[result] * result * (x - loc) / (scale * scale), loc)
    d[scale] = unbroadcast(d[result] * result * (((x - loc) / scale) ** 2 - 1) / scale, scale)


@adjoint(scipy.stats.norm.cdf, new_array=True)
def norm_cdf(result, x, loc=0, scale=1):
    d[x] = unbroadcast(d[result] * np.exp(-0.5 * ((x - loc) / scale) ** 2) / (scale * np.sqrt(2 * np.pi)), x)
    d[loc] = unbroadcast(-d[result] * np.exp(-0.5 * ((x - loc) / scale) ** 2) / (scale * np.sqrt(2 * np.pi)), loc)
    d[scale] = unbroadcast(-d[result] * np.exp(-0.5 * ((x - loc) / scale) ** 2) / (scale * np.sqrt(2 * np.pi))
                           * (x - loc) / scale, scale)
