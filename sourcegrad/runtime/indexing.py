"""Runtime helpers for indexing rules: gradients scattered back to the positions an index selected."""

from .core import _float_dtype, array_namespace, helper, unbroadcast


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
def zeros_gradient(value):
    """A zero gradient for value: an array of zeros, or zeros in the same structure (an object's: a dict)."""
    if isinstance(value, dict):
        return {k: zeros_gradient(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [zeros_gradient(v) for v in value]
    if hasattr(value, "shape") or isinstance(value, (int, float, complex)):
        module = array_namespace(value)
        return module.zeros(getattr(value, "shape", ()), dtype=_float_dtype(value, None))
    if hasattr(value, "__dict__"):
        return {k: zeros_gradient(v) for k, v in vars(value).items() if holds_arrays(v)}
    return 0.0


def holds_arrays(value, depth=8):
    """Whether value is an array or a structure (dict, list, tuple, object) with arrays in it."""
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return True
    if depth == 0 or callable(value):
        return False
    if isinstance(value, dict):
        return any(holds_arrays(v, depth - 1) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(holds_arrays(v, depth - 1) for v in value)
    return hasattr(value, "__dict__") and any(holds_arrays(v, depth - 1) for v in vars(value).values())


def _is_basic(index):
    parts = index if isinstance(index, tuple) else (index,)
    return all(isinstance(p, (int, slice)) or p is None or p is Ellipsis or (getattr(p, "ndim", 1) == 0 and
               getattr(getattr(p, "dtype", None), "kind", "") in "iu") for p in parts)


@helper
def split_grad(grad, arrays, axis):
    """The gradients of the arrays concatenated along axis, from the gradient of the result."""
    module = array_namespace(grad)
    if axis is None:  # the arrays were flattened first: split the flat gradient by size, then reshape
        bounds, position = [], 0
        for array in arrays[:-1]:
            position += getattr(array, "size", 1)
            bounds.append(position)
        return [part.reshape(getattr(a, "shape", ())) for part, a in zip(module.split(grad, bounds), arrays)]
    bounds, position = [], 0
    for array in arrays[:-1]:
        position += array.shape[axis]
        bounds.append(position)
    return module.split(grad, bounds, axis=axis)


@helper
def unstack_grad(grad, count, axis):
    """The gradients of the arrays stacked along axis."""
    module = array_namespace(grad)
    return [module.take(grad, i, axis=axis) for i in range(count)]


@helper
def hstack_grad(grad, arrays):
    """np.hstack joins 0-d and 1-D arrays along axis 0 (a 0-d one as one element), the others along axis 1."""
    if getattr(arrays[0], "ndim", 0) <= 1:
        flat = [a.reshape(-1) if hasattr(a, "reshape") else a for a in arrays]
        return [part.reshape(getattr(a, "shape", ())) for part, a in zip(split_grad(grad, flat, 0), arrays)]
    return split_grad(grad, arrays, 1)


@helper
def vstack_grad(grad, arrays):
    """np.vstack makes 1-D arrays rows and joins along axis 0."""
    rows = [a.reshape(1, -1) if getattr(a, "ndim", 0) <= 1 else a for a in arrays]
    parts = split_grad(grad, rows, 0)
    return [part.reshape(getattr(a, "shape", ())) for part, a in zip(parts, arrays)]


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
