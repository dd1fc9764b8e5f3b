"""Gradient rules, one short template per primitive, grouped by family in the modules below."""

import importlib
import sys

from .registry import (ATTRIBUTES, METHODS, NONDIFFERENTIABLE, RULES, TANGENT_RULES, Template, TemplateError, adjoint,
                       d, is_nondifferentiable, lookup, ndim, nondifferentiable, tangent)
from . import arithmetic, calls, elementwise, indexing, linalg, reductions, shape  # noqa: F401  (registers the rules)

# Rules for optional libraries: library module -> the module of its rules. They are registered the first time
# a compile meets the library already imported (the user's code imports it to call it), so that
# `import sourcegrad` never pays for importing scipy, and a machine without scipy has none.
OPTIONAL_FAMILIES = {"scipy.special": "scipy_special", "scipy.stats": "scipy_stats", "scipy.linalg": "scipy_linalg"}


def load_optional_rules():
    """Register the rules of each optional library the process has imported; cheap when there is nothing new."""
    for library, family in OPTIONAL_FAMILIES.items():
        if library in sys.modules and f"{__name__}.{family}" not in sys.modules:
            importlib.import_module(f".{family}", __name__)

__all__ = ["ATTRIBUTES", "METHODS", "NONDIFFERENTIABLE", "RULES", "TANGENT_RULES", "Template", "TemplateError", "adjoint",
           "d", "is_nondifferentiable", "load_optional_rules", "lookup", "ndim", "nondifferentiable", "tangent"]
