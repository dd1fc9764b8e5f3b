"""The runtime's core: the helper registry, the helpers every rule family uses, and the array module.

The helpers use only array methods and operators, so the same generated file runs on numpy and on cupy.
"""

from __future__ import annotations

import math
import operator
import sys
import types

import numpy

from ..errors import SourcegradError

HELPERS = {}  # name -> function: everything generated code reaches as `xp.<name>` besides the array module


def helper(function):
    """Register a function as a runtime helper (generated code calls it as `xp.<name>`)."""
    # `xp.<name>` finds a helper before the array module's function of that name, so a helper named
    # like a numpy function would silently replace the user's np.<name> in the generated code.
    if hasattr(numpy, function.__name__):
        raise AssertionError(f"runtime helper {function.__name__!r} shadows numpy.{function.__name__}: rename it")
    HELPERS[function.__name__] = function
    return function


# ---- the gradient the backward pass starts from -------------------------------

class OutputGradientError(Exception):
    """The output is not a scalar and no output gradient was given, or the given one has the wrong shape."""


@helper
def output_gradient(value, grad):
    """The output's gradient: 1 for a scalar output when the caller gave none, else the caller's, checked.

    A tuple, list or dict output takes a gradient of the same structure (JAX's and autograd's vjp convention);
    None stands for zeros, for an item nothing downstream weighs, such as an integer count beside a loss.
    """
    if grad is None and type(value) in _FLOAT_SCALARS:  # a loss, as numpy's sum() returns it: the common case first
        return 1.0
    if isinstance(value, (tuple, list, dict)):
        return _structured_output_gradient(value, grad)
    shape = getattr(value, "shape", ())
    if grad is None:
        if getattr(value, "size", 1) != 1:
            raise OutputGradientError(f"the function returns an array of shape {shape}, not a scalar")
        if not shape:
            return 1.0  # a Python float keeps the output's dtype (numpy's weak scalar promotion)
        return array_namespace(value).ones_like(value)
    if not hasattr(grad, "shape") and not isinstance(grad, (int, float, list, tuple, dict)) or isinstance(grad, bool):
        raise OutputGradientError(f"the output gradient is a {type(grad).__name__}: pass an array of the output's "
                                  f"shape {shape}" + (" or a number" if not shape else ""))
    if isinstance(grad, (list, tuple, dict)):  # a structure for an array: numpy's shape of it would mislead
        raise OutputGradientError(f"the output gradient is a {type(grad).__name__}, the output an array of shape "
                                  f"{shape}: pass an array of that shape")
    if getattr(grad, "shape", ()) != shape:
        raise OutputGradientError(f"the output gradient has shape {getattr(grad, 'shape', ())}, the output {shape}")
    return grad


def instance_attributes(value):
    """name -> value of the attributes value holds itself: its __dict__'s, and those its classes declare in
    __slots__ (which then has no __dict__) and that are set; None for a value holding none so (a number, a list)."""
    slots = [name for cls in type(value).__mro__ for name in _slot_names(cls)]
    if not slots:
        return vars(value) if hasattr(value, "__dict__") else None
    held = dict(getattr(value, "__dict__", {}))
    held.update((name, getattr(value, name)) for name in slots if hasattr(value, name))
    return held


def _slot_names(cls):
    slots = cls.__dict__.get("__slots__", ())
    return [name for name in ([slots] if isinstance(slots, str) else slots) if name not in ("__dict__", "__weakref__")]


def opaque_callable(value):
    """Whether value is a callable known by its name alone (a function, a method, a class, a library's object),
    not an object of the user's class that has a __call__: a layer (`self.linear1(x)`) holds parameters, and is
    a structure as any object is."""
    if not callable(value):
        return False
    return instance_attributes(value) is None or isinstance(value, (types.ModuleType, types.FunctionType,
                                                                 types.MethodType, type)) \
        or type(value).__module__.split(".")[0] in _LIBRARIES


def object_attributes(value):
    """The attributes of an object of the user's (a layer, a model; one with a __call__ too), which may hold
    parameters; None for an array, a callable known by its name, or a value holding no attributes."""
    if hasattr(value, "shape") or opaque_callable(value):
        return None
    return instance_attributes(value)


def is_namedtuple(value):
    """Whether value is a collections.namedtuple or typing.NamedTuple."""
    return isinstance(value, tuple) and isinstance(getattr(type(value), "_fields", None), tuple)


def sequence_like(value, items):
    """items as a list or tuple of value's own type: a namedtuple takes them one per field."""
    return type(value)(*items) if is_namedtuple(value) else type(value)(items)


_LIBRARIES = frozenset({"sourcegrad", "numpy", "functools", "builtins", "scipy", "cupy", "dask"})
_FLOAT_SCALARS = frozenset({float, numpy.float16, numpy.float32, numpy.float64, numpy.longdouble})


def _structured_output_gradient(value, grad, where="the output"):
    kind = type(value).__name__
    if grad is None:
        raise OutputGradientError(f"{where} is a {kind}, which has no gradient of its own to start from")
    if isinstance(value, dict):
        if not isinstance(grad, dict) or set(grad) != set(value):
            raise OutputGradientError(f"{where} is a dict with keys {sorted(value, key=str)}; its gradient must be a "
                                      f"dict with the same keys")
        return {key: _item_gradient(value[key], grad[key], f"{where}[{key!r}]") for key in value}
    if not isinstance(grad, (tuple, list)) or len(grad) != len(value):
        raise OutputGradientError(f"{where} is a {kind} of {len(value)} items; its gradient must be a tuple or "
                                  f"list of {len(value)}")
    return sequence_like(value, [_item_gradient(item, g, f"{where}[{i}]") for i, (item, g) in enumerate(zip(value, grad))])


def _item_gradient(item, grad, where):
    if isinstance(item, (tuple, list, dict)):
        if grad is None:  # the whole part weighs nothing
            grad = {key: None for key in item} if isinstance(item, dict) else [None] * len(item)
        return _structured_output_gradient(item, grad, where)
    shape = getattr(item, "shape", ())
    if grad is None:
        return array_namespace(item).zeros_like(item) if shape else 0.0
    if getattr(grad, "shape", ()) != shape:
        raise OutputGradientError(f"the gradient of {where} has shape {getattr(grad, 'shape', ())}, the item {shape}")
    return grad


# ---- helpers the gradient rules call ---------------------------------------

@helper
def unbroadcast(grad, target):
    """Sum `grad` over the axes that broadcasting added or stretched, giving `target`'s shape.

    Every elementwise binary rule calls this on both operands; when the shapes
    already match it returns `grad` itself, so it costs a shape comparison.
    """
    try:  # the common case first: two arrays of one shape
        if grad.shape == target.shape:
            return grad
    except AttributeError:  # a Python number on either side: shape ()
        pass
    if isinstance(target, (list, tuple)):
        raise sequence_error(target)
    shape = getattr(target, "shape", ())
    grad_shape = getattr(grad, "shape", ())
    if grad_shape == shape:
        return grad
    leading = len(grad_shape) - len(shape)
    axes = tuple(range(leading)) + tuple(
        leading + i for i, size in enumerate(shape) if size == 1 and grad_shape[leading + i] != 1
    )
    if axes:
        grad = grad.sum(axis=axes)
    return grad.reshape(shape)


@helper
def broadcast_like(tangent, result):
    """A tangent stretched to its result's shape (forward mode's `x + y` with a tangent for x alone): the
    other way round from `unbroadcast`, and as cheap when the shapes already match."""
    shape = getattr(result, "shape", ())
    if getattr(tangent, "shape", ()) == shape:
        return tangent
    return _broadcast(tangent, shape, result)


@helper
def unreduce(grad, target, axis, keepdims):
    """Broadcast the gradient of a reduction over `axis` back to `target`'s shape."""
    if isinstance(target, (list, tuple)):
        raise sequence_error(target)
    shape = getattr(target, "shape", ())
    if axis is not None and not keepdims:
        grad = as_array_like(grad, target)
        axes = tuple(axis) if isinstance(axis, (tuple, list)) else (operator.index(axis),)  # np.int64 too
        ndim = len(shape)
        kept = list(getattr(grad, "shape", ()))
        for a in sorted(a % ndim for a in axes):
            kept.insert(a, 1)
        grad = grad.reshape(tuple(kept))
    return _broadcast(grad, shape, target)


def sequence_error(target):
    # A list met a rule written for arrays: numpy turned it into an array (np.sum of a list), or it is list
    # `+`/`*` on a list the compiler could not tell was one. Either way the items' gradients would be lost.
    kind = type(target).__name__
    return SourcegradError(f"a {kind} of arrays that carry gradients reached an operation whose gradient sourcegrad "
                           f"takes for arrays only: a numpy function or operator given the {kind}, or {kind} `+`/`*` "
                           f"on a {kind} built in a loop or a branch, which the compiler could not tell was a {kind}",
                           hint=f"Make it an array first (np.stack(items)); for {kind} `+` and `*`, write the {kind} "
                                f"out where it is used (`outs + [h]`, `[h] * 3`).")


@helper
def reduce_like(grad, reduced, axis, keepdims):
    """The gradient of unreduce(reduced, target, axis, keepdims) with respect to reduced (hvp differentiates the
    tangent lines that call unreduce): grad summed over axis (every axis for None), in reduced's shape.
    unreduce is linear in reduced, so that is the whole of it."""
    xp = array_namespace(grad, reduced)
    if axis is not None:
        axis = tuple(axis) if isinstance(axis, (tuple, list)) else operator.index(axis)
    total = xp.sum(as_array_like(grad, reduced), axis=axis, keepdims=keepdims)
    return total.reshape(getattr(reduced, "shape", ()))


@helper
def element_count(value):
    """The number of elements of an array or a Python scalar (1)."""
    return getattr(value, "size", 1)


# ---- what the tape keeps of arrays the backward pass needs only the shape of ---------------

class Ghost:
    """An array's shape, dtype and array module, without its data.

    When the backward pass reads a value only for its shape (the target of
    `unbroadcast`), the forward pass saves this instead of the array.
    """

    __slots__ = ("shape", "dtype", "module")

    def __init__(self, shape, dtype, module):
        self.shape, self.dtype, self.module = shape, dtype, module

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        count = 1
        for n in self.shape:
            count *= n
        return count

    def __repr__(self):
        return f"Ghost(shape={self.shape}, dtype={self.dtype})"


@helper
def ghost(value):
    """What to save of a value the backward pass needs only the shape of (scalars and None as they are)."""
    if not hasattr(value, "shape") or not hasattr(value, "dtype"):
        return value
    if type(value).__module__.startswith("dask"):
        # a graph, which holds no data until computed: kept whole, so that the zeros the backward pass makes of it
        # are dask's too (numpy's zeros would take no `d_x[index] += g` of a dask g)
        return value
    return Ghost(value.shape, value.dtype, array_namespace(value))


@helper
def ratio(numerator, denominator):
    """numerator / denominator for counts, as numpy divides: inf or nan for 0, never ZeroDivisionError."""
    if denominator:
        return numerator / denominator
    return math.copysign(math.inf, numerator) if numerator else math.nan


@helper
def safe_divisor(value):
    """value, with 1 where it is 0: a divisor that is safe where the numerator is 0 as well."""
    return value + (value == 0)


@helper
def inverse_permutation(axes):
    """The axes that undo `transpose(x, axes)` (None, reversing all axes, undoes itself)."""
    if axes is None:
        return None
    inverse = [0] * len(axes)
    for position, axis in enumerate(axes):
        inverse[axis % len(axes)] = position
    return tuple(inverse)


@helper
def matmul_grad_left(grad, x, y):
    """d(x @ y)/dx for operands of any rank (1-D, 2-D, batched), reduced to x's shape."""
    x_ndim, y_ndim = _ndim(x), _ndim(y)
    grad = as_array_like(grad, x)
    if y_ndim == 1:
        dx = grad[..., None] * y
    elif x_ndim == 1:
        dx = (y @ grad[..., None])[..., 0]
    else:
        dx = grad @ y.swapaxes(-1, -2)
    return unbroadcast(dx, x)


@helper
def matmul_grad_right(grad, x, y):
    """d(x @ y)/dy for operands of any rank (1-D, 2-D, batched), reduced to y's shape."""
    x_ndim, y_ndim = _ndim(x), _ndim(y)
    grad = as_array_like(grad, y)
    if x_ndim == 1 and y_ndim == 1:
        dy = grad * x
    elif x_ndim == 1:
        dy = x[:, None] * grad[..., None, :]
    elif y_ndim == 1:
        dy = (x.swapaxes(-1, -2) @ grad[..., None])[..., 0]
    else:
        dy = x.swapaxes(-1, -2) @ grad
    return unbroadcast(dy, y)


@helper
def dot_grad_left(grad, x, y):
    """d(np.dot(x, y))/dx: a product when either side is a scalar, else as matmul (up to 2-D)."""
    if _ndim(x) == 0 or _ndim(y) == 0:
        return unbroadcast(grad * y, x)
    _check_dot_rank(x, y)
    return matmul_grad_left(grad, x, y)


@helper
def dot_grad_right(grad, x, y):
    if _ndim(x) == 0 or _ndim(y) == 0:
        return unbroadcast(grad * x, y)
    _check_dot_rank(x, y)
    return matmul_grad_right(grad, x, y)


def _check_dot_rank(x, y):
    if _ndim(x) > 2 or _ndim(y) > 2:
        raise SourcegradError(
            "np.dot of arrays with more than two dimensions is not supported: it is not a batched matmul.",
            hint="Use `x @ y` (np.matmul) or np.tensordot.")


def _ndim(value):
    return getattr(value, "ndim", 0)


def float_dtype(target, grad):
    """The dtype of target's gradient: target's own when it is floating, else grad's."""
    dtype = getattr(target, "dtype", None)
    if dtype is not None and dtype.kind in "fc":
        return dtype
    return getattr(grad, "dtype", None) or numpy.float64


def _broadcast(grad, shape, target):
    if getattr(grad, "shape", ()) == shape:
        return grad
    return array_namespace(grad, target).broadcast_to(as_array_like(grad, target), shape)


def as_array_like(value, like):
    """value as an array on like's device; a Python scalar takes like's floating dtype (never an integer one)."""
    if hasattr(value, "shape"):
        if isinstance(value, numpy.generic) and array_namespace(like) is not numpy:
            return array_namespace(like).asarray(value)  # a numpy scalar beside cupy arrays: its own dtype
        return value
    dtype = getattr(like, "dtype", None)
    return array_namespace(like).asarray(value, dtype=dtype if dtype is not None and dtype.kind in "fc" else None)




# ---- the `xp` object --------------------------------------------------------

class ArrayModule:
    """The array module plus the helpers above, as one namespace: what generated code calls `xp`.

    Attribute reads fall through to the wrapped module (numpy or cupy) and are
    cached on the instance, so `xp.maximum` costs what `np.maximum` costs.
    """

    def __init__(self, module):
        self.module = module

    def __getattr__(self, attr):
        value = HELPERS[attr] if attr in HELPERS else getattr(self.module, attr)
        setattr(self, attr, value)
        return value

    def __repr__(self):
        return f"<sourcegrad array module {self.module.__name__}>"


NUMPY = ArrayModule(numpy)


def array_namespace(*values):
    """numpy's ArrayModule unless an input is a cupy array."""
    if "cupy" not in sys.modules:
        return numpy
    for value in values:
        if isinstance(value, Ghost):
            return value.module
        if type(value).__module__.startswith("cupy"):
            return sys.modules["cupy"]
    return numpy


__all__ = ['HELPERS', 'helper', 'OutputGradientError', 'output_gradient', 'unbroadcast', 'broadcast_like', 'unreduce', 'reduce_like', 'element_count', 'Ghost', 'ghost', 'ratio', 'safe_divisor', 'inverse_permutation', 'matmul_grad_left', 'matmul_grad_right', 'dot_grad_left', 'dot_grad_right', 'ArrayModule', 'NUMPY', 'array_namespace']
