"""Runtime helpers for indexing rules: gradients scattered back to the positions an index selected."""

import operator

import numpy

from ..errors import SourcegradError
from .core import (array_namespace, as_array_like, broadcast_like, float_dtype, helper, instance_attributes,
                   opaque_callable, sequence_error, unbroadcast)


@helper
def index_grad(grad, target, index):
    """The gradient of target[index]: zeros like target with grad added at the selected positions.

    Positions selected twice (an integer array with repeated entries) get both contributions.
    target may also be a dict, list or tuple of arrays, or an object (index: an attribute name):
    the gradient is then the same structure (a dict of attributes for an object), zeros elsewhere.
    """
    out = zeros_gradient(target)
    index_add(out, index, grad)
    return out


@helper
def set_item(target, index, value):
    """`target[index] = value` as a new array: the forward pass of a write into an array the function made.

    A copy, so that every version of the array stays what it was for the backward pass (a hand-written
    backward would keep the old values where it needs them). An integer index that names a position twice
    is refused: only the last write lands there, and the gradient would go to both values.
    """
    if isinstance(target, dict):  # `cache[t] = h` of a dict the function made: a new dict, the values shared
        return {**target, index: value}
    if not _is_basic(index) and not _is_mask(index) and _names_a_position_twice(target, index):
        raise SourcegradError("`a[index] = value` with an index that names a position twice: only the "
                              "last value lands there, so its gradient is not the sum of both",
                              hint="Write through an index without repeats (np.unique), or add the values first.")
    out = target.copy()
    out[index] = value
    return out


@helper
def stored_derivative(derivative, target):
    """The gradient (or tangent) of a value stored into an array of target's dtype, `a[i] = v`: the derivative
    itself where target holds floats (or is no array: a list, a dict), zeros where it holds integers or
    booleans, which truncate what they store, so that a small step in v changes nothing stored. Only target's
    dtype is read (the tape may hold its Ghost; target may be the dtype itself, or None). Linear in derivative:
    it is its own gradient, for hvp."""
    dtype = target if isinstance(target, numpy.dtype) else getattr(target, "dtype", None)
    if dtype is None or numpy.dtype(dtype).kind in "fc":
        return derivative
    return zeros_gradient(derivative)


@helper
def dtype_of(value):
    """value's dtype, None for what has none (a list, a dict, a Python number). Forward mode hands it to
    stored_derivative rather than the array: read through a call without a gradient, it leaves hvp's tangent
    free of the array's gradient."""
    return getattr(value, "dtype", None)


def _names_a_position_twice(target, index):
    # Counting writes per position of the target itself, rather than comparing index values, sees a
    # negative index and its positive twin as one position, and index arrays on several axes as the
    # positions they name together (z[[0, 1], [0, 0]] names two distinct positions).
    module = array_namespace(target)
    counts = module.zeros(numpy.shape(target), dtype=module.intp)
    module.add.at(counts, index, 1)
    return bool((counts > 1).any())


@helper
def entry_gradient(grad, key, value):
    """The gradient of a dict display's entry: the dict's gradient at key, or zeros like the entry where a later
    write replaced it (`d["k"] = v`: the gradient after it has no entry for the value it replaced)."""
    return grad[key] if key in grad else zeros_gradient(value)


@helper
def without_index(grad, index):
    """The gradient of the array written into by `a[index] = value`: grad with zeros at index (what was there
    before the write no longer reaches the result). A dict's: grad without that key."""
    if isinstance(grad, dict):
        return {key: value for key, value in grad.items() if key != index}
    out = grad.copy()
    out[index] = 0
    return out


@helper
def index_add(out, index, grad):
    """out[index] += grad, in place, adding every contribution even where the index repeats a position."""
    if isinstance(out, dict) and index not in out:  # an attribute that holds no array (a float): its own entry
        out[index] = grad
    elif isinstance(out, (dict, list)):
        out[index] = add_gradients(out[index], grad)  # one entry of a structure: its own array, number or structure
    elif _is_basic(index):
        out[index] += grad  # a basic index selects each position at most once
    else:
        array_namespace(out).add.at(out, index, grad)
    return out


@helper
def zero_tangent(value):
    """Forward mode's tangent of a value made without one (`s = 0.0`, `outs = []`): zeros_gradient's, but a
    Python number's is the number 0.0, which numpy's weak promotion keeps from widening the float32 tangents
    it meets later, as the Python number itself does."""
    if isinstance(value, (int, float)):
        return 0.0
    return zeros_gradient(value)


@helper
def zeros_gradient(value, within=()):
    """A zero gradient for value: an array of zeros, or zeros in the same structure (an object's: a dict). A
    structure met again inside itself (a layer holding its parent model) gets no entry there."""
    attributes = instance_attributes(value)
    if isinstance(value, (dict, list, tuple)) or attributes is not None and not hasattr(value, "shape"):
        within = (*within, id(value))
    if isinstance(value, dict):
        return {k: zeros_gradient(v, within) for k, v in value.items() if id(v) not in within}
    if isinstance(value, (list, tuple)):
        return [zeros_gradient(v, within) for v in value]
    if type(value).__module__.startswith("dask"):  # dask's zeros (numpy's dispatch), which `+=` of a dask value takes
        return numpy.zeros_like(value, dtype=float_dtype(value, None))
    if hasattr(value, "shape") or isinstance(value, (int, float, complex)):
        module = array_namespace(value)
        return module.zeros(getattr(value, "shape", ()), dtype=float_dtype(value, None))
    if attributes is not None:
        return {k: zeros_gradient(v, within) for k, v in attributes.items() if id(v) not in within and holds_arrays(v)}
    return 0.0


def holds_arrays(value, depth=8, within=()):
    """Whether value is an array or a structure (dict, list, tuple, object) with arrays in it, within depth
    levels; a structure met again inside itself (a layer holding its parent model) is not walked again."""
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return True
    if depth == 0 or opaque_callable(value) or id(value) in within:  # a layer with __call__ is walked as any object
        return False
    within = (*within, id(value))
    if isinstance(value, dict):
        return any(holds_arrays(v, depth - 1, within) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(holds_arrays(v, depth - 1, within) for v in value)
    attributes = instance_attributes(value)
    return attributes is not None and any(holds_arrays(v, depth - 1, within) for v in attributes.values())


def _is_mask(index):
    return getattr(getattr(index, "dtype", None), "kind", "") == "b"


def _is_basic(index):
    parts = index if isinstance(index, tuple) else (index,)
    return all(isinstance(p, (int, slice)) or p is None or p is Ellipsis or (getattr(p, "ndim", 1) == 0 and
               getattr(getattr(p, "dtype", None), "kind", "") in "iu") for p in parts)


@helper
def split_grad(grad, arrays, axis):
    """The gradients of the arrays concatenated along axis, from the gradient of the result."""
    module = array_namespace(grad)
    shapes = [_shape_of(a) for a in arrays]  # a list of numbers among the arrays: the shape numpy gives it
    if axis is None:  # the arrays were flattened first: split the flat gradient by size, then reshape
        bounds, position = [], 0
        for shape in shapes[:-1]:
            position += _count(shape)
            bounds.append(position)
        return [part.reshape(shape) for part, shape in zip(module.split(grad, bounds), shapes)]
    bounds, position = [], 0
    for shape in shapes[:-1]:
        position += shape[axis]
        bounds.append(position)
    return module.split(grad, bounds, axis=axis)


@helper
def unstack_grad(grad, count, axis):
    """The gradients of the arrays stacked along axis."""
    module = array_namespace(grad)
    return [module.take(grad, i, axis=axis) for i in range(count)]


def _split_sizes(grad, sizes, axis, shapes):
    """grad split along axis into parts of these sizes, each reshaped to its array's shape."""
    bounds, position = [], 0
    for size in sizes[:-1]:
        position += size
        bounds.append(position)
    parts = array_namespace(grad).split(grad, bounds, axis=axis)
    return [part.reshape(shape) for part, shape in zip(parts, shapes)]


# The joining functions take Python numbers among the arrays too (np.hstack([x, 2.0])): shapes come from
# numpy.shape, never from an attribute a number lacks.


@helper
def hstack_grad(grad, arrays):
    """np.hstack joins 0-d and 1-D arrays along axis 0 (a 0-d one as one element), the others along axis 1."""
    shapes = [_shape_of(a) for a in arrays]
    if len(shapes[0]) <= 1:
        return _split_sizes(grad, [_count(shape) for shape in shapes], 0, shapes)
    return _split_sizes(grad, [shape[1] for shape in shapes], 1, shapes)


@helper
def vstack_grad(grad, arrays):
    """np.vstack makes 0-d and 1-D arrays rows and joins along axis 0."""
    shapes = [_shape_of(a) for a in arrays]
    return _split_sizes(grad, [1 if len(shape) <= 1 else shape[0] for shape in shapes], 0, shapes)


@helper
def column_stack_grad(grad, arrays):
    """np.column_stack makes 0-d and 1-D arrays columns and joins along axis 1."""
    shapes = [_shape_of(a) for a in arrays]
    return _split_sizes(grad, [1 if len(shape) <= 1 else shape[1] for shape in shapes], 1, shapes)


def _atleast_3d_shape(shape):
    """np.atleast_3d's shape for an array of this shape: (N,) becomes (1, N, 1), (M, N) becomes (M, N, 1)."""
    return {0: (1, 1, 1), 1: (1,) + tuple(shape) + (1,), 2: tuple(shape) + (1,)}.get(len(shape), tuple(shape))


@helper
def dstack_grad(grad, arrays):
    """np.dstack makes each array at least 3-D (np.atleast_3d) and joins along axis 2."""
    shapes = [_shape_of(a) for a in arrays]
    return _split_sizes(grad, [_atleast_3d_shape(shape)[2] for shape in shapes], 2, shapes)


def _shape_of(value):
    return tuple(value.shape) if hasattr(value, "shape") else numpy.shape(value)


@helper
def append_head_grad(grad, arr, axis):
    """arr's part of the gradient of np.append(arr, values, axis): the first elements, or rows along axis."""
    shape = _shape_of(arr)
    if axis is None:
        return grad[:_count(shape)].reshape(shape).copy()  # a helper's result is never a view of grad
    axis = operator.index(axis) % len(shape)
    return grad[(slice(None),) * axis + (slice(0, shape[axis]),)].copy()


@helper
def append_tail_grad(grad, arr, values, axis):
    """values' part of the gradient of np.append(arr, values, axis): what follows arr's part."""
    shape, values_shape = _shape_of(arr), _shape_of(values)
    if axis is None:
        return grad[_count(shape):].reshape(values_shape).copy()
    axis = operator.index(axis) % len(shape)
    return grad[(slice(None),) * axis + (slice(shape[axis], None),)].copy()


def _count(shape):
    count = 1
    for n in shape:
        count *= n
    return count


@helper
def take_grad(grad, x, indices, axis, mode):
    """d np.take(x, indices, axis, mode=mode)/dx: zeros like x with grad added at the taken positions
    (a position taken twice gets both). Out-of-range indices are wrapped or clipped as mode says."""
    shape = _shape_of(x)
    grad = as_array_like(grad, x)
    xp = array_namespace(grad, x)
    out = xp.zeros(shape, dtype=float_dtype(x, grad))
    flat = out.reshape(-1) if axis is None else out  # np.take with axis=None takes from x flattened
    axis = 0 if axis is None else operator.index(axis) % len(shape)
    count = flat.shape[axis]
    indices = xp.asarray(indices)
    if mode == "wrap":
        indices = indices % count
    elif mode == "clip":
        indices = xp.clip(indices, 0, count - 1)
    # grad has x's axes before axis, then the indices' axes, then x's axes after axis
    moved = xp.moveaxis(flat, axis, 0)
    grad_moved = xp.moveaxis(grad.reshape(flat.shape[:axis] + indices.shape + flat.shape[axis + 1:]),
                             tuple(range(axis, axis + indices.ndim)), tuple(range(indices.ndim)))
    xp.add.at(moved, indices, grad_moved)  # moved is a view of out: this adds into out
    return out


@helper
def take_along_axis_grad(grad, x, indices, axis):
    """d np.take_along_axis(x, indices, axis)/dx: grad added back at the positions taken along axis."""
    shape = _shape_of(x)
    grad = as_array_like(grad, x)
    xp = array_namespace(grad, x)
    out = xp.zeros(shape, dtype=float_dtype(x, grad))
    flat = out.reshape(-1) if axis is None else out
    axis = 0 if axis is None else operator.index(axis) % len(shape)
    ndim = flat.ndim
    index = tuple(indices if a == axis else
                  xp.arange(flat.shape[a]).reshape((1,) * a + (-1,) + (1,) * (ndim - a - 1)) for a in range(ndim))
    xp.add.at(flat, index, grad)
    return out


# `a + b` and `a * n` with a list display or a known list as an operand are list operations when both sides
# are lists (or one is a count), and numpy's elementwise ones when the other side is an array (`x + [1.0, 2.0]`).
# The gradient of a list is a list, of an array an array: that tells the two apart at run time.


@helper
def sequence_head(grad, head):
    """Of the gradient of `head + tail`: head's part (the first items when both were lists)."""
    if isinstance(grad, list):
        return list(grad[:len(head)])
    return unbroadcast(grad, head)


@helper
def sequence_tail(grad, tail):
    """Of the gradient of `head + tail`: tail's part (the last items when both were lists)."""
    if isinstance(grad, list):
        return list(grad[len(grad) - len(tail):])
    return unbroadcast(grad, tail)


@helper
def joined_tangent(result, head, tail, d_head, d_tail):
    """The tangent of `result = head + tail` (None for a side without one): the tangents joined where the two
    were lists or tuples, their sum at result's shape where numpy added them (an array on either side)."""
    if isinstance(result, (list, tuple)):
        return list(zeros_gradient(head) if d_head is None else d_head) + list(
            zeros_gradient(tail) if d_tail is None else d_tail)
    for operand, tangent in ((head, d_head), (tail, d_tail)):
        if isinstance(tangent, list):  # a list of arrays with tangents, taken by numpy as one array
            raise sequence_error(operand)
    total = d_head if d_tail is None else d_tail if d_head is None else d_head + d_tail
    return broadcast_like(total, result)


@helper
def repeated_grad(grad, operand, other):
    """Of the gradient of `operand * other`: operand's part. For a repeated list (`items * n`) item i's
    gradient is the sum over its n copies, and the count has none."""
    if not isinstance(grad, list):
        return unbroadcast(grad * other, operand)
    if not isinstance(operand, (list, tuple)):
        return None
    width = len(operand)
    total = list(grad[:width])
    for start in range(width, len(grad), width):
        total = add_gradients(total, list(grad[start:start + width]))
    return total


@helper
def add_gradients(a, b):
    """a + b for gradients that may be structures (dicts and lists of arrays, nested)."""
    if isinstance(a, dict):
        return {k: add_gradients(a[k], b[k]) if k in b else a[k] for k in a} | {k: v for k, v in b.items() if k not in a}
    if isinstance(a, list):
        return [add_gradients(x, y) for x, y in zip(a, b)]
    return a + b


@helper
def copy_gradient(gradient):
    """A copy of a gradient that may be a structure: every array in it copied."""
    if isinstance(gradient, dict):
        return {k: copy_gradient(v) for k, v in gradient.items()}
    if isinstance(gradient, (list, tuple)):
        return [copy_gradient(v) for v in gradient]
    return gradient.copy() if hasattr(gradient, "copy") else gradient
