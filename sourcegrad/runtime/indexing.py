"""Runtime helpers for the indexing gradient rules (array methods and operators only: numpy and cupy alike)."""

from . import helper  # noqa: F401
