"""Runtime helpers for the reductions gradient rules (array methods and operators only: numpy and cupy alike)."""

from . import helper  # noqa: F401
