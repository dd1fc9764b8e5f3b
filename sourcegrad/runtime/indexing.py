"""Runtime helpers for indexing rules: gradients scattered back to the positions an index selected."""

from . import _float_dtype, array_namespace, helper


@helper
def index_grad(grad, target, index):
    """The gradient of target[index]: zeros of target's shape with grad added at the selected positions.

    Positions selected twice (an integer array with repeated entries) get both contributions.
    """
    module = array_namespace(grad, target)
    out = module.zeros(getattr(target, "shape", ()), dtype=_float_dtype(target, grad))
    index_add(out, index, grad)
    return out


@helper
def index_add(out, index, grad):
    """out[index] += grad, in place, adding every contribution even where the index repeats a position."""
    if _is_basic(index):
        out[index] += grad  # a basic index selects each position at most once
    else:
        array_namespace(out).add.at(out, index, grad)
    return out


def _is_basic(index):
    parts = index if isinstance(index, tuple) else (index,)
    return all(isinstance(p, (int, slice)) or p is None or p is Ellipsis or (getattr(p, "ndim", 1) == 0 and
               getattr(getattr(p, "dtype", None), "kind", "") in "iu") for p in parts)


@helper
def split_grad(grad, arrays, axis):
    """The gradients of the arrays concatenated along axis, from the gradient of the result."""
    bounds, position = [], 0
    for array in arrays[:-1]:
        position += array.shape[axis]
        bounds.append(position)
    module = array_namespace(grad)
    return module.split(grad, bounds, axis=axis)


@helper
def unstack_grad(grad, count, axis):
    """The gradients of the arrays stacked along axis."""
    module = array_namespace(grad)
    return [module.take(grad, i, axis=axis) for i in range(count)]


@helper
def hstack_grad(grad, arrays):
    """np.hstack joins 1-D arrays along axis 0 and the others along axis 1."""
    return split_grad(grad, arrays, 0 if getattr(arrays[0], "ndim", 0) <= 1 else 1)


@helper
def vstack_grad(grad, arrays):
    """np.vstack makes 1-D arrays rows and joins along axis 0."""
    rows = [a.reshape(1, -1) if getattr(a, "ndim", 0) <= 1 else a for a in arrays]
    parts = split_grad(grad, rows, 0)
    return [part.reshape(getattr(a, "shape", ())) for part, a in zip(parts, arrays)]
