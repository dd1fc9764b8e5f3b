"""Gradient rules, one short template per primitive, grouped by family in the modules below."""

from .registry import (ATTRIBUTES, METHODS, NONDIFFERENTIABLE, RULES, Template, TemplateError, adjoint, d,
                       is_nondifferentiable, lookup, ndim, nondifferentiable)
from . import arithmetic, calls, elementwise, indexing, linalg, reductions, shape  # noqa: F401  (registers the rules)

__all__ = ["ATTRIBUTES", "METHODS", "NONDIFFERENTIABLE", "RULES", "Template", "TemplateError", "adjoint", "d",
           "is_nondifferentiable", "lookup", "ndim", "nondifferentiable"]
