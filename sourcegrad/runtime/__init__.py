"""The thin runtime the generated code calls.

Generated code receives one argument, `xp`, for everything it needs beyond
Python operators: the array module's functions (`xp.maximum`, `xp.log`) and
sourcegrad's helpers (`xp.unbroadcast`). The helpers use only array methods and
operators, so the same generated file runs on numpy and on cupy.

core.py holds the registry and the shared helpers, one module per rule family
the rest (importing them registers their helpers), device.py the choice of
numpy or cupy.
"""

from .core import *  # noqa: F401,F403
from .core import __all__ as _core_names
from . import checkpoint, elementwise, indexing, linalg, reductions, shape  # noqa: F401  (registers their helpers)
from .device import DEVICES, array_module_for, device_module, device_of  # noqa: F401

__all__ = [*_core_names, "DEVICES", "array_module_for", "device_module", "device_of"]
