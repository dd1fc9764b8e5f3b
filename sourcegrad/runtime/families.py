"""Runtime helpers of the gradient-rule families, one module each, registered with @helper."""

from . import indexing, linalg, reductions, shape  # noqa: F401
