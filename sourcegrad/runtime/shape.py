"""Runtime helpers for the shape gradient rules (array methods and operators only: numpy and cupy alike)."""

from . import helper  # noqa: F401
