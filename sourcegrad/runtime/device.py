"""cupy's `xp`: numpy's calling conventions on cupy's functions.

The generated code is the user's numpy code with `np.` read as `xp.`, and numpy is lenient where cupy is
strict. numpy's functions take host values (Python numbers, numpy scalars and arrays) wherever they take
an array; many of cupy's take only cupy arrays (`cupy.sum(2.0)`, `cupy.where(True, x, y)` and the
gradient of a Python-float argument all fail). A few numpy spellings are unknown to cupy (`correction=`,
`reshape(shape=)`, an array of repetitions for `tile`), and cupy's `linalg.solve` does not broadcast batch
axes.

So on cupy each function the generated code calls goes through an adapter. The call is tried as written
first: the common case costs one extra Python call, nothing more. Only where cupy refuses it are host
values moved to the device and the call made again; the result is what numpy computes, on the device.
A Python float is moved in the dtype of the call's floating arrays, as numpy's weak scalars promote (float32
stays float32). Integers are never moved: in cupy's signatures they are axes, counts and shapes. A numpy
array (a constant from outside the function) is copied to the device at every such call: pass it as an
argument on the device to avoid that. cupy's own errors (a shape mismatch, say) pass through unchanged.
"""

from __future__ import annotations

import sys
import types

import numpy

from ..errors import SourcegradError
from .core import HELPERS, NUMPY, ArrayModule
from .linalg import broadcast_solve

# numpy's keyword spellings that cupy knows under another name (numpy 2: correction is ddof).
_RENAMED_KEYWORDS = {name: {"correction": "ddof"} for name in ("var", "std", "nanvar", "nanstd")}
# What numpy takes as an array and cupy refuses: numbers and numpy's own arrays. Integers are not among them:
# in cupy's signatures they are axes, counts and shapes.
_HOST_SCALARS = (float, bool, complex, numpy.floating, numpy.complexfloating, numpy.bool_)
# What cupy raises for a host value: TypeError or AttributeError from its functions, LinAlgError from linalg's.
_REFUSALS = (TypeError, AttributeError, numpy.linalg.LinAlgError)


class DeviceFunctions:
    """A cupy namespace (the module, or `linalg`) whose functions take what numpy's take."""

    def __init__(self, module, special=None, top=None):
        self.module = module
        self._special = SPECIAL if special is None else special  # name -> adapter replacing the generic one
        self._top = top or module  # cupy itself, also for its linalg: where asarray and broadcast_to are

    def __getattr__(self, attr):
        value = getattr(self.module, attr)
        if attr in self._special:
            value = self._special[attr](value, self._top)
        elif isinstance(value, types.ModuleType) or attr in _SUBMODULE_SPECIAL:  # linalg, fft, random
            value = DeviceFunctions(value, _SUBMODULE_SPECIAL.get(attr, {}), self._top)
        elif callable(value) and not isinstance(value, type):
            value = _Lenient(value, self._top, _RENAMED_KEYWORDS.get(attr))
        setattr(self, attr, value)
        return value


class _Lenient:
    """A cupy function called as numpy's would be; its attributes (a ufunc's `.at`, `.reduce`) pass through."""

    def __init__(self, function, module, renamed=None):
        self._function, self._module, self._renamed = function, module, renamed
        self.__name__ = getattr(function, "__name__", "function")
        self.__doc__ = function.__doc__

    def __call__(self, *args, **kwargs):
        if self._renamed and not self._renamed.values() & kwargs.keys():  # both spellings: numpy's error
            kwargs = {self._renamed.get(k, k): v for k, v in kwargs.items()}
        try:
            return self._function(*args, **kwargs)
        except _REFUSALS as refusal:
            moved = _moved(args, kwargs, self._module)
            if moved is None:  # nothing to move: the error is the call's own
                raise
            try:
                return self._function(*moved[0], **moved[1])
            except Exception as error:
                raise error from refusal

    def __getattr__(self, attr):
        return getattr(self._function, attr)


def _moved(args, kwargs, module):
    """(args, kwargs) with host values on the device, or None when there are none. A Python float takes the
    dtype of the call's floating device arrays, as numpy's weak scalars do (a float32 array stays float32);
    a keyword's bool is an option (keepdims), not a value, and stays."""
    if not any(_is_host_value(a) for a in args) and not any(_is_host_value(v, keyword=True) for v in kwargs.values()):
        return None
    dtype = next((a.dtype for a in (*args, *kwargs.values())
                  if not _is_host_value(a) and getattr(a, "dtype", None) is not None and a.dtype.kind in "fc"), None)

    def move(value):
        weak = type(value) in (float, complex)  # a list, a numpy scalar or array keeps numpy's own dtype
        return module.asarray(value, dtype=dtype if weak and dtype is not None else None)

    return ([move(a) if _is_host_value(a) else a for a in args],
            {k: move(v) if _is_host_value(v, keyword=True) else v for k, v in kwargs.items()})


def _is_host_value(value, keyword=False):
    """A number, a numpy scalar or array, or a list of numbers with a float among them (a shape or a list of
    axes holds integers alone: those stay as they are)."""
    if isinstance(value, bool) and keyword:
        return False
    if isinstance(value, _HOST_SCALARS) or type(value) is numpy.ndarray:
        return True
    if isinstance(value, (list, tuple)) and value:
        flat = list(_leaves(value))
        return all(isinstance(v, (int, float, bool, numpy.number)) for v in flat) and any(
            isinstance(v, (float, numpy.floating)) for v in flat)
    return False


def _leaves(values):
    for value in values:
        if isinstance(value, (list, tuple)):
            yield from _leaves(value)
        else:
            yield value


# ---- functions whose differences go beyond host values ------------------------------------------------


def _reshape(function, module):
    lenient = _Lenient(function, module)

    def reshape(a, *args, **kwargs):
        if "shape" in kwargs:  # numpy 2.1's keyword; cupy takes the shape positionally
            args = (kwargs.pop("shape"), *args)
        return lenient(a, *args, **kwargs)

    return reshape


def _tile(function, module):
    lenient = _Lenient(function, module)

    def tile(A, reps):
        if hasattr(reps, "tolist"):  # numpy takes an array of repetitions; cupy wants integers
            reps = reps.tolist()
        return lenient(A, reps)

    return tile


def _zeros_like(function, module):
    lenient = _Lenient(function, module)

    def zeros_like(a, *args, **kwargs):
        # The backward pass zeroes the gradient of a name at a branch it is bound in. A name first bound in
        # a loop's first iteration holds None before it; numpy makes an unused object zero of it, cupy
        # refuses. Its gradient is never read, so None serves.
        if a is None:
            return None
        return lenient(a, *args, **kwargs)

    return zeros_like


def _solve(function, module):
    def solve(a, b):  # numpy broadcasts the batch axes of a and b; cupy wants them equal
        a, b = (module.asarray(v) if _is_host_value(v) or isinstance(v, list) else v for v in (a, b))
        return broadcast_solve(function, module, a, b)

    return solve


SPECIAL = {"reshape": _reshape, "tile": _tile, "zeros_like": _zeros_like}
_SUBMODULE_SPECIAL = {"linalg": {"solve": _solve}}
# Helpers that write into an argument: a retry after a refusal could write twice.
_WRITING_HELPERS = {"index_add"}


def device_array_module(module):
    """cupy's `xp`: cupy's functions and sourcegrad's runtime helpers, each taking what numpy's take (a helper
    handed a numpy constant beside cupy arrays gets it on the device, as the function it serves did)."""
    xp = ArrayModule(DeviceFunctions(module))
    for name, helper in HELPERS.items():  # set on the instance: ArrayModule's lookup then never finds the bare one
        setattr(xp, name, helper if name in _WRITING_HELPERS else _Lenient(helper, module))
    return xp


# ---- which device a call runs on -------------------------------------------------------------

_cupy_module = None  # made on first use: importing cupy costs time and needs a GPU


DEVICES = ("cpu", "cuda")


def array_module_for(values, device=None) -> ArrayModule:
    """The `xp` for a call: numpy's or cupy's, from `device` or, when it is None, from the arguments.

    The arguments must all live on one device (and on `device`, when it is given): sourcegrad never copies
    an array between devices behind the caller's back.
    """
    if device is None and "cupy" not in sys.modules:  # the common case costs one dict lookup
        return NUMPY
    places = {device_of(v) for v in values} - {None}
    if len(places) > 1:
        raise _device_error("the arguments mix numpy and cupy arrays; sourcegrad does not copy between devices",
                            "Move them to one device first: cupy.asarray(a) or cupy.asnumpy(a).")
    if device is None:
        device = "cuda" if places == {"cuda"} else "cpu"
    if device not in DEVICES:
        raise _device_error(f"unknown device {device!r}", "Use device='cpu' (numpy) or device='cuda' (cupy).")
    module = NUMPY if device == "cpu" else _cupy()  # first: without cupy, that is what to fix
    if places and places != {device}:
        where = "numpy (cpu)" if places == {"cpu"} else "cupy (cuda)"
        raise _device_error(f"device={device!r} was asked for, but the arguments are {where} arrays",
                            "Move them with cupy.asarray(a) or cupy.asnumpy(a), or leave device out.")
    return module


def device_module(*arrays):
    """cupy's `xp` when every one of a call's arrays is a cupy array (numpy's when there are none), else None:
    the entry point's quick answer, the general method's array_module_for says what is wrong."""
    kinds = {type(a) for a in arrays}
    if not kinds:
        return NUMPY
    if len(kinds) == 1 and kinds.pop().__module__.startswith("cupy"):
        return _cupy()
    return None


def device_of(value):
    """Where an array argument lives; None for everything else, numpy scalars included: a number is a host
    value on either device, as a Python float is."""
    module = type(value).__module__
    if module.startswith("cupy"):
        return "cuda"
    if module.startswith("numpy") and hasattr(value, "shape") and not isinstance(value, numpy.generic):
        return "cpu"
    return None


def _cupy():
    global _cupy_module
    if _cupy_module is None:
        try:
            import cupy
        except ImportError:
            raise _device_error("device='cuda' needs cupy, which is not installed",
                                "Install it with pip install cupy-cuda12x (or cupy-cuda13x, matching your CUDA), or "
                                "pip install -e '.[cuda12]' in sourcegrad's checkout, on a machine with an NVIDIA GPU.") from None
        try:
            cupy.cuda.runtime.getDeviceCount()
        except Exception as exc:  # cupy raises its own CUDARuntimeError without a driver or a GPU
            raise _device_error(f"device='cuda' needs an NVIDIA GPU, and cupy found none ({exc})",
                                "Run on a machine with a GPU, or use device='cpu'.") from None
        _cupy_module = device_array_module(cupy)
    return _cupy_module


def _device_error(message, hint):
    return SourcegradError(message, hint=hint)


def to_device(value, device):
    """value with every numpy array in it moved to `device` ("cpu" or "cuda"), structures kept as they are."""
    if isinstance(value, dict):
        return {k: to_device(v, device) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_device(v, device) for v in value)
    if device in (None, "cpu"):
        return value.get() if type(value).__module__.startswith("cupy") else value
    if device == "cuda" and device_of(value) == "cpu":  # an array, not a numpy scalar: a number stays a number
        return array_module_for([], "cuda").asarray(value)
    return value
