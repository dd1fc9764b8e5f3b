"""cupy's and dask's `xp`: numpy's calling conventions on cupy's and dask.array's functions.

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

dask.array goes through the same adapter (device "dask"): the generated code builds a task graph over the
chunks of the data, and the caller computes it once (api.DifferentiableFunction.value_and_grad). numpy arrays
(the weights) mix freely with dask arrays (the data): dask takes them as constants of the graph.
"""

from __future__ import annotations

import inspect
import sys
import types

import numpy

from ..errors import SourcegradError
from .core import HELPERS, NUMPY, ArrayModule, object_attributes, sequence_like
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


def device_array_module(module, special=None):
    """cupy's (or dask.array's) `xp`: its functions and sourcegrad's runtime helpers, each taking what numpy's
    take (a helper handed a numpy constant beside cupy arrays gets it on the device, as the function it served
    did)."""
    xp = ArrayModule(DeviceFunctions(module, special))
    for name, helper in HELPERS.items():  # set on the instance: ArrayModule's lookup then never finds the bare one
        setattr(xp, name, helper if name in _WRITING_HELPERS else _Lenient(helper, module))
    return xp


# ---- which device a call runs on -------------------------------------------------------------

_cupy_module = None  # made on first use: importing cupy costs time and needs a GPU
_dask_module = None


DEVICES = ("cpu", "cuda", "dask")


def array_module_for(values, device=None) -> ArrayModule:
    """The `xp` for a call: numpy's or cupy's, from `device` or, when it is None, from the arguments.

    The arguments must all live on one device (and on `device`, when it is given): sourcegrad never copies
    an array between devices behind the caller's back.
    """
    if device is None and "cupy" not in sys.modules and "dask" not in sys.modules:  # the common case: one lookup
        return NUMPY
    places = {device_of(v) for v in array_leaves(values)} - {None}
    if "dask" in places:  # dask arrays (the data) beside numpy arrays (the weights): the graph takes both
        places.discard("cpu")
    if len(places) > 1:
        libraries = {"cpu": "numpy", "cuda": "cupy", "dask": "dask"}
        raise _device_error(f"the arguments mix {' and '.join(sorted(libraries[p] for p in places))} arrays; "
                            "sourcegrad does not copy between devices",
                            "Move them to one device first: cupy.asarray(a) or cupy.asnumpy(a).")
    if device is None:
        device = places.pop() if places else "cpu"
        places = {device}
    if device not in DEVICES:
        raise _device_error(f"unknown device {device!r}", "Use device='cpu' (numpy), 'cuda' (cupy) or 'dask' "
                                                          "(dask.array).")
    module = NUMPY if device == "cpu" else _cupy() if device == "cuda" else _dask()  # first: a missing library
    if device == "dask":
        return module  # numpy arguments are constants of the graph
    if places and places != {device}:
        where = "numpy (cpu)" if places == {"cpu"} else "cupy (cuda)"
        raise _device_error(f"device={device!r} was asked for, but the arguments are {where} arrays",
                            "Move them with cupy.asarray(a) or cupy.asnumpy(a), or leave device out.")
    return module


def array_leaves(values):
    """The values, with what the dicts, lists, tuples and objects among them hold (`{"x": dask_array}`) at any
    depth: the arrays, and the other leaves. Each structure is looked into once (a cycle ends there) and a
    module not at all: it holds no data of the call's."""
    seen, pending = set(), list(values)
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            inside = value.values()
        elif isinstance(value, (list, tuple)):
            inside = value
        elif isinstance(value, types.ModuleType) or (attributes := object_attributes(value)) is None:
            yield value  # an array, a number, a function, a module
            continue
        else:
            inside = attributes.values()
        if id(value) not in seen:
            seen.add(id(value))
            pending.extend(inside)


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
    if module.startswith("dask"):
        return "dask"
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


def _dask():
    global _dask_module
    if _dask_module is None:
        try:
            import dask.array
        except ImportError:
            raise _device_error("device='dask' needs dask, which is not installed",
                                "Install it with pip install 'dask[array]' distributed, or pip install -e '.[dask]' "
                                "in sourcegrad's checkout.") from None
        _dask_module = ArrayModule(_DaskFunctions(dask.array, numpy))
        for name, helper in HELPERS.items():
            setattr(_dask_module, name, _OnDask(helper, helper))
        _dask_module.index_add = _dask_index_add
        _dask_module.output_gradient = _dask_output_gradient
        _dask_module.zeros_gradient = _dask_zeros_gradient
    return _dask_module


# What dask.array raises for a call it does not take as numpy does: a function or keyword it lacks (`np.sort`,
# `reshape(order=)`), a case it leaves out (batched `linalg.inv`, `cumsum` without an axis).
_DASK_REFUSALS = (AttributeError, TypeError, NotImplementedError, ValueError, IndexError)


class _DaskFunctions:
    """numpy's namespace (or numpy.linalg's) on dask arrays: dask.array's function of the name where it has one,
    else numpy's, which dispatches to dask's implementation when there is one (NEP 18)."""

    def __init__(self, module, numpy_module):
        self.module, self._numpy = module, numpy_module

    def __getattr__(self, attr):
        reference = getattr(self._numpy, attr)
        if self.module is None and callable(reference) and not isinstance(reference, type):
            value = _OnDask(None, reference)
            setattr(self, attr, value)
            return value
        if isinstance(reference, types.ModuleType):
            # linalg and fft: numpy's, on the computed arrays. dask's decompositions are for tall data and differ
            # from numpy's where numpy's are what the gradient rules and the user's code expect (its cholesky
            # returns the upper factor, its svd other signs); they apply to weights, which fit in memory.
            value = _DaskFunctions(None, reference)
        elif attr in _HOST_CONSTRUCTORS and self.module is not None:
            value = _HostUnlessDask(getattr(self.module, attr), reference)
        elif callable(reference) and not isinstance(reference, type):
            # A numpy ufunc dask.array does not name (np.heaviside, np.atan2) stays lazy on dask arrays called as it
            # is: dask arrays take ufuncs through __array_ufunc__.
            lazy = reference if isinstance(reference, numpy.ufunc) else None
            value = _OnDask(getattr(self.module, attr, lazy), reference)
        else:  # a constant or a dtype: numpy's (`np.inf`, `np.float32`)
            value = reference
        setattr(self, attr, value)
        return value


# `np.array([2, 2])` in the user's code: a constant, which stays a numpy array (the graph takes it as it is), so
# that what reads it as a shape or repetitions gets numbers. Of dask arrays, a dask array.
_HOST_CONSTRUCTORS = {"array", "asarray"}


class _HostUnlessDask:
    def __init__(self, dask_function, numpy_function):
        self._dask, self._numpy = dask_function, numpy_function

    def __call__(self, *args, **kwargs):
        if any(device_of(v) == "dask" for v in _leaves((*args, *kwargs.values()))):
            return self._dask(*args, **kwargs)
        return self._numpy(*args, **kwargs)


class _OnDask:
    """A function called on dask arrays: dask's own form first; where dask refuses the call, numpy's function on
    the computed arrays, which is right but reads them into memory. The generated code applies such functions
    (sorts, decompositions, `reshape(order="F")`) to weights and their gradients far more than to the data."""

    def __init__(self, dask_function, numpy_function):
        self._dask, self._numpy = dask_function, numpy_function
        self.__name__ = getattr(numpy_function, "__name__", "function")
        self._agreeing = _agreeing_positions(dask_function, numpy_function) if dask_function is not None else 0

    def __call__(self, *args, **kwargs):
        # dask's function only where its positional parameters are numpy's: dask.array.eye(N, chunks, ...) would
        # read numpy's eye(N, M) as a chunk size, and give a wrong shape rather than an error
        memory_order = _walks_memory_order(args, kwargs)
        if self._dask is not None and len(args) <= self._agreeing and not memory_order:
            try:
                return self._dask(*args, **kwargs)
            except _DASK_REFUSALS:
                pass
        if memory_order and any(device_of(v) == "dask" for v in _leaves((*args, *kwargs.values()))):
            raise SourcegradError(f"{self.__name__}(..., order='A' or 'K') follows an array's memory layout, which a "
                                  "dask array does not have", hint="Write order='C' or order='F' on dask.")
        args, kwargs = _computed((args, kwargs))
        return self._numpy(*args, **kwargs)

    def __getattr__(self, attr):  # a ufunc's `.at`, `.reduce`: numpy's
        return getattr(self._numpy, attr)


def _agreeing_positions(dask_function, numpy_function):
    """How many leading positional parameters two functions share by name (all, for a ufunc or a function whose
    signature Python cannot read: dask's ufuncs and numpy's C functions take numpy's arguments)."""
    try:
        ours = list(inspect.signature(numpy_function).parameters.values())
        theirs = list(inspect.signature(dask_function).parameters.values())
    except (TypeError, ValueError):
        return sys.maxsize
    count = 0
    for mine, other in zip(ours, theirs):
        if other.kind is inspect.Parameter.VAR_POSITIONAL:
            return sys.maxsize  # dask's `*args` wrappers (its ufuncs) hand numpy's arguments on as they are
        same = _SYNONYMS.get(mine.name, mine.name) == _SYNONYMS.get(other.name, other.name)
        if not same or mine.kind not in _POSITIONAL or other.kind not in _POSITIONAL:
            break
        count += 1
    return count


_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
# Names the two libraries give the same positional parameter: the array operated on, a sequence of arrays, a shape.
_SYNONYMS = {**dict.fromkeys(("a", "x", "z", "arr", "array", "ary", "m", "x1", "arr1", "lhs", "array_like", "object",
                              "prototype"), "array"),
             **dict.fromkeys(("b", "x2", "arr2", "rhs"), "b"), **dict.fromkeys(("arrays", "seq", "tup"), "arrays"),
             "newshape": "shape"}


def _walks_memory_order(args, kwargs):
    """ravel, flatten and reshape with order 'A' or 'K' follow memory layout (numpy's strides)."""
    order = kwargs.get("order", next((a for a in args[1:] if isinstance(a, str)), None))
    return order in ("A", "K")


def _computed(value):
    """value with every dask array in it computed (one dask.compute for all of them)."""
    import dask

    return dask.compute(value)[0]


def _dask_output_gradient(value, grad):
    """The output's gradient, in the graph where the output is: every adjoint is made from it, so a gradient that
    meets the data once stays a dask array, and `d_w += ...` never finds a numpy array on its left and a dask
    array on its right (numpy's in-place add refuses that)."""
    seed = HELPERS["output_gradient"](value, grad)
    if device_of(value) == "dask" and not isinstance(seed, (dict, list, tuple)) and device_of(seed) != "dask":
        import dask.array

        return dask.array.asarray(seed, dtype=getattr(seed, "dtype", value.dtype))  # 1.0: the output's dtype
    return seed


def _dask_zeros_gradient(value):
    """The zeros a loop gathers a gradient into, in the graph even for a number or a numpy argument: numpy's
    in-place `d += g` refuses a dask g."""
    return into_graph(HELPERS["zeros_gradient"](value))


def _dask_index_add(out, index, grad):
    """index_add on dask: `out[index] += grad` in place where the index is basic (dask assigns into its arrays);
    for an integer-array index, which may repeat a position, the sum is scattered on the host and added to out
    as a whole, in place (the backward pass reads out afterwards, so it must be the same object)."""
    index_add = HELPERS["index_add"]
    index, grad = _computed((index, grad))
    if device_of(out) != "dask":  # a numpy array or a structure: written in place as on numpy
        return index_add(out, index, grad)
    scattered = numpy.zeros(out.shape, dtype=out.dtype)
    index_add(scattered, index, grad)
    out[...] = out + scattered
    return out


def is_dask(xp) -> bool:
    """Whether xp is dask's: its results are task graphs, computed once by the caller."""
    return xp is _dask_module and xp is not None


def into_graph(value):
    """value with each numpy array in it (in lists, tuples and dicts too) made a dask array of one chunk. A call
    on dask puts the weights into the data's graph: a gradient gathered from both (`d_w` from a penalty on w, then
    from `x @ w`) is then a dask array throughout, where numpy's in-place `+=` would refuse a dask operand."""
    if isinstance(value, dict):
        return {k: into_graph(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return sequence_like(value, [into_graph(v) for v in value])
    if device_of(value) == "cpu":
        import dask.array

        return dask.array.from_array(value, chunks=-1)
    return value


def _device_error(message, hint):
    return SourcegradError(message, hint=hint)


def to_device(value, device):
    """value with every numpy array in it moved to `device` ("cpu" or "cuda"), structures kept as they are."""
    if isinstance(value, dict):
        return {k: to_device(v, device) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return sequence_like(value, [to_device(v, device) for v in value])
    if device in (None, "cpu"):
        if type(value).__module__.startswith("dask"):
            return value.compute()
        return value.get() if type(value).__module__.startswith("cupy") else value
    if device == "dask" and device_of(value) == "cpu":
        _dask()  # dask installed, or the error that says what to install
        import dask.array
        return dask.array.from_array(value)
    if device == "cuda" and device_of(value) == "cpu":  # an array, not a numpy scalar: a number stays a number
        return array_module_for([], "cuda").asarray(value)
    return value
