"""The fast call path: `value_and_grad` and `grad` written for one function's own parameters.

At the tutorial's smallest size a training step takes about 10 us, so the few microseconds that a
general `value_and_grad(*args, **kwargs)` spends packing arguments, building a rank key with a loop
and checking dtypes with another are a third of the step. For a function with plain parameters, the
first compile therefore also builds (once, from a few lines of source) an entry point with the
function's own signature, which replaces the two methods on that DifferentiableFunction:

    def value_and_grad(x, y, w1, w2, *, grad_output=None, device=None, into=None):
        if grad_output is None and device is None and into is None:
            if 'cupy' not in _modules or (type(x) is _ndarray and ... and type(w2) is _ndarray):
                _xp = _numpy
            else:
                _xp = _device_module(x, y, w1, w2)  # cupy's xp for cupy arrays alone, else None
            try:
                _compiled = _table[x.ndim, y.ndim, w1.ndim, w2.ndim]
            except (AttributeError, KeyError, TypeError):  # not compiled yet, or not arrays this time
                pass
            else:
                _size = x.nbytes + y.nbytes + w1.nbytes + w2.nbytes
                if _xp is None:
                    pass  # arrays of both devices, or objects: the general method says what is wrong
                elif ((_size < _compiled.plain_below or _size == _compiled.plain_size or _compiled.buffered is None)
                        and _compiled.serves_plain_calls()):
                    _value, _gradients = _compiled.function(_xp, x, y, w1, w2)
                    if _gradients[0].dtype is w1.dtype and _gradients[1].dtype is w2.dtype:
                        return _value, _gradients
                    ...  # other dtypes, or a structure: the general method's fix
                elif _size == _compiled.reuse_size and _xp is _numpy and _compiled.serves_plain_calls():
                    return _reusing(_compiled, (x, y, w1, w2))  # a size where reused gradient arrays pay
        return _general(x, y, w1, w2, grad_output=grad_output, device=device, into=into)

Python binds the arguments (keywords and defaults included), the key is one tuple of `ndim`s (a Python
number's rank is read from its type), and anything out of the ordinary (a rank not compiled yet, a
structure, grad_output, a device, into=, arrays large enough for kept buffers or reused gradient arrays,
arrays of both devices) goes to the general method, which stays the one place with the semantics. cupy
arrays take the entry point too (their xp is cupy's), and numpy arrays still do once cupy is imported. One exception: at a size
where the general method found reused gradient arrays to pay, `_reusing_call` does what it would do there
without deciding again. The entry point changes how fast a call is, never what it returns.
"""

from __future__ import annotations

import inspect
import sys

import numpy

from .errors import SourcegradError
from .runtime import NUMPY, OutputGradientError, device_module

OPTIONS = ("grad_output", "device", "into")  # value_and_grad's own keywords, never a parameter's
_INTERNAL = ("_modules", "_table", "_compiled", "_numpy", "_number_ranks", "_value", "_gradients", "_general",
             "_finish", "_reusing", "_OutputGradientError", "_error", "_cannot_start", "_SourcegradError", "_size",
             "_xp", "_ndarray", "_device_module", "value_and_grad", "grad")
_NUMBER_RANKS = {int: 0, float: 0, complex: 0}  # Python numbers are rank 0 (bool is not a number here)


def build(function, arguments):
    """(value_and_grad, grad) for a DifferentiableFunction, or None where its parameters are not plain
    (keyword-only, positional-only, a name the entry point itself uses) or the first call passed a structure.

    arguments: the first call's arguments by parameter name (defaults included). They decide how the
    entry point reads each rank: `x.ndim` for an array, the type of a Python number (rank 0). A later call
    with other kinds of values still works: it takes the general method.
    """
    parameters = list(inspect.signature(function.source_fn, follow_wrapped=False).parameters.values())
    if any(p.kind is not inspect.Parameter.POSITIONAL_OR_KEYWORD for p in parameters):
        return None
    names = [p.name for p in parameters]
    if not names or set(names) & set(OPTIONS + _INTERNAL) or function.device is not None:
        return None
    ranks, arrays = [], []
    for name in names:
        value = arguments.get(name)
        if isinstance(getattr(value, "ndim", None), int):
            ranks.append(f"{name}.ndim")
            arrays.append(name)
        elif type(value) in _NUMBER_RANKS:
            ranks.append(f"_number_ranks[type({name})]")
        else:  # a list, a dict, an object: its rank is its structure, which the general method describes
            return None
    general = type(function).value_and_grad.__get__(function)  # the method, not the entry point built here
    namespace = {"_modules": sys.modules, "_table": function._compiled, "_numpy": NUMPY,
                 "_ndarray": numpy.ndarray, "_device_module": device_module,
                 "_number_ranks": _NUMBER_RANKS, "_general": general, "_finish": function._returned,
                 "_reusing": function._reusing_call,
                 "_OutputGradientError": OutputGradientError, "_cannot_start": function._cannot_start,
                 "_SourcegradError": SourcegradError}
    exec(compile(_source(names, ranks, arrays, function.wrt, function._single),
                 f"<sourcegrad entry {function.fn.__qualname__}>", "exec"), namespace)
    value_and_grad, grad = namespace["value_and_grad"], namespace["grad"]
    for entry in (value_and_grad, grad):
        entry.__defaults__ = function.source_fn.__defaults__
        entry.__qualname__ = f"{function.fn.__qualname__}.{entry.__name__}"
        if hasattr(entry.__code__, "co_qualname"):  # Python 3.11+: the name a wrong call's TypeError shows
            entry.__code__ = entry.__code__.replace(co_qualname=entry.__qualname__)
        entry.__doc__ = getattr(type(function), entry.__name__).__doc__
    return value_and_grad, grad


def _source(names, ranks, arrays, wrt, single):
    arguments = ", ".join(names)
    # arrays too small for kept buffers or reused gradient arrays: the plain function (else the general method)
    size = " + ".join(f"{name}.nbytes" for name in arrays) or "0"
    ranks = ", ".join(ranks) + ("," if len(names) == 1 else "")
    same_dtypes = " and ".join(f"_gradients[{i}].dtype is {name}.dtype" for i, name in enumerate(wrt))
    all_numpy = " and ".join(f"type({name}) is _ndarray" for name in arrays) or "True"
    gradients = "_gradients[0]" if single else "_gradients"
    options = "grad_output=grad_output, device=device, into=into"
    return f"""
def value_and_grad({arguments}, *, grad_output=None, device=None, into=None):
    if grad_output is None and device is None and into is None:
        if 'cupy' not in _modules or ({all_numpy}):
            _xp = _numpy
        else:
            _xp = _device_module({", ".join(arrays)})
        try:
            _compiled = _table[{ranks}]
        except (AttributeError, KeyError, TypeError):
            pass
        else:
            _size = {size}  # small arrays, or a size reused gradient arrays were found not to pay at: plain
            if _xp is None:
                pass
            elif ((_size < _compiled.plain_below or _size == _compiled.plain_size or _compiled.buffered is None)
                    and _compiled.serves_plain_calls()):
                try:
                    _value, _gradients = _compiled.function(_xp, {arguments})
                except _OutputGradientError as _error:
                    _cannot_start(_compiled, _error)
                except _SourcegradError as _error:
                    raise _compiled.locate(_error) from None
                try:
                    if {same_dtypes}:
                        return _value, {gradients}
                except AttributeError:  # a gradient that is a structure: the general check
                    pass
                return _finish(_value, _gradients, ({arguments},))
            elif _size == _compiled.reuse_size and _xp is _numpy and _compiled.serves_plain_calls():
                return _reusing(_compiled, ({arguments},))  # a size where reused gradient arrays pay
    return _general({arguments}, {options})

def grad({arguments}, *, grad_output=None, device=None, into=None):
    return value_and_grad({arguments}, {options})[1]
"""
