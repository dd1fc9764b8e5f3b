"""Runtime helpers of the gradient-rule families, one module each, registered with @helper."""

from . import elementwise, indexing, linalg, reductions, shape  # noqa: F401
