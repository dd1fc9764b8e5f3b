"""Runtime helpers for the reductions gradient rules (array methods and operators only: numpy and cupy alike).

Each helper returns a new array (or a view of one nothing else holds): the simplifier takes a helper's
result for an array of its own and may add into it in place.
"""

import operator

from .core import _as_array, array_namespace, helper


def _reduced_axes(ndim, axis):
    """The reduced axes as sorted non-negative ints (all of them for axis=None)."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if not isinstance(axis, (tuple, list)) else axis
    return tuple(sorted({operator.index(a) % ndim if ndim else operator.index(a) for a in axes}))


def _axes_last(x, axis):
    """x with the reduced axes moved to the end and merged into one: (that array, kept shape, permutation)."""
    axes = _reduced_axes(x.ndim, axis)
    kept = tuple(i for i in range(x.ndim) if i not in axes)
    permutation = kept + axes
    kept_shape = tuple(x.shape[i] for i in kept)
    count = 1
    for a in axes:
        count *= x.shape[a]
    return x.transpose(permutation).reshape(kept_shape + (count,)), kept_shape, permutation


def _axes_back(values, x, permutation):
    """Undo _axes_last: values of shape kept + (count,) back to x's shape and axis order."""
    inverse = [0] * len(permutation)
    for position, a in enumerate(permutation):
        inverse[a] = position
    return values.reshape(tuple(x.shape[i] for i in permutation)).transpose(tuple(inverse))


def _operand(x, grad):
    """x as an array (np.prod(3.0) reduces a Python float)."""
    return x if hasattr(x, "ndim") else _as_array(x, grad)


@helper
def prod_grad(grad, x, axis, keepdims):
    """d np.prod(x, axis)/dx: the product of the other elements of each reduced group, times grad.

    Exclusive products from both ends (two cumprods) rather than prod/x, so a zero in the input
    gives the right gradient: the product of the others where x is 0, and 0 elsewhere in its group.
    """
    x = _operand(x, grad)
    flat, kept_shape, permutation = _axes_last(x, axis)
    xp = array_namespace(flat)
    ones = xp.ones_like(flat[..., :1])
    before = xp.cumprod(xp.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    after = xp.cumprod(xp.concatenate([ones, flat[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    grad = _as_array(grad, x).reshape(kept_shape + (1,))
    return _axes_back(before * after * grad, x, permutation)


def _first_extreme_grad(grad, x, axis, pick):
    x = _operand(x, grad)
    flat, kept_shape, permutation = _axes_last(x, axis)
    xp = array_namespace(flat)
    chosen = pick(flat)
    onehot = xp.arange(flat.shape[-1]) == chosen[..., None]
    grad = _as_array(grad, x).reshape(kept_shape + (1,))
    return _axes_back(onehot * grad, x, permutation)


@helper
def max_grad(grad, x, axis, keepdims):
    """d np.max(x, axis)/dx: grad at the first maximal element of each reduced group (np.argmax's), 0 elsewhere.

    With a tuple of axes or axis=None, "first" is in C order over the reduced axes.
    """
    return _first_extreme_grad(grad, x, axis, lambda flat: flat.argmax(axis=-1))


@helper
def min_grad(grad, x, axis, keepdims):
    """d np.min(x, axis)/dx: grad at the first minimal element of each reduced group (np.argmin's)."""
    return _first_extreme_grad(grad, x, axis, lambda flat: flat.argmin(axis=-1))


@helper
def cumsum_grad(grad, x, axis):
    """d np.cumsum(x, axis)/dx: the reversed cumulative sum of grad (axis=None: over x flattened)."""
    shape = getattr(x, "shape", ())
    grad = _as_array(grad, x)
    if axis is None:
        return grad.reshape(-1)[::-1].cumsum()[::-1].reshape(shape)
    axis = operator.index(axis) % max(grad.ndim, 1)
    reverse = (slice(None),) * axis + (slice(None, None, -1),)
    return grad[reverse].cumsum(axis=axis)[reverse]
