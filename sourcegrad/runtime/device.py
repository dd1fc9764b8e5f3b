"""cupy's `xp`: numpy's calling conventions on cupy's functions.

The generated code is the user's numpy code with `np.` read as `xp.`, and numpy is lenient where cupy is
strict. numpy's functions take host values (Python numbers, numpy scalars and arrays) wherever they take
an array; many of cupy's take only cupy arrays (`cupy.sum(2.0)`, `cupy.where(True, x, y)` and the
gradient of a Python-float argument all fail). A few numpy spellings are unknown to cupy (`correction=`,
`reshape(shape=)`, an array of repetitions for `tile`), and cupy's `linalg.solve` does not broadcast batch
axes.

So on cupy each function the generated code calls goes through an adapter. The call is tried as written
first: the common case costs one extra Python call, nothing more. Only where cupy refuses it are host
values moved to the device (as 0-d arrays, as numpy would promote them) and the call made again; the
result is what numpy computes, on the device. Integers are never moved: in cupy's signatures they are
axes, counts and shapes. cupy's own errors (a shape mismatch, say) pass through unchanged.
"""

from __future__ import annotations

import types

import numpy

# numpy's keyword spellings that cupy knows under another name (numpy 2: correction is ddof).
_RENAMED_KEYWORDS = {"var": {"correction": "ddof"}, "std": {"correction": "ddof"}}
_HOST_VALUES = (float, bool, complex, numpy.generic, numpy.ndarray)


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
        if self._renamed:
            kwargs = {self._renamed.get(k, k): v for k, v in kwargs.items()}
        try:
            return self._function(*args, **kwargs)
        except (TypeError, AttributeError):
            moved = _moved(args, self._module)
            if moved is None:  # nothing to move: the error is the call's own
                raise
        return self._function(*moved, **kwargs)

    def __getattr__(self, attr):
        return getattr(self._function, attr)


def _moved(args, module):
    """args with host values on the device, or None when there are none."""
    if not any(_is_host_value(a) for a in args):
        return None
    return [module.asarray(a) if _is_host_value(a) else a for a in args]


def _is_host_value(value):
    """A number, a numpy scalar or array, or a list of numbers with a float among them (a shape or a list of
    axes holds integers alone: those stay as they are)."""
    if isinstance(value, _HOST_VALUES):
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
    from .linalg import broadcast_solve

    def solve(a, b):  # numpy broadcasts the batch axes of a and b; cupy wants them equal
        return broadcast_solve(function, module, a, b)

    return solve


SPECIAL = {"reshape": _reshape, "tile": _tile, "zeros_like": _zeros_like}
_SUBMODULE_SPECIAL = {"linalg": {"solve": _solve}}
