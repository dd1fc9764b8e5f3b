"""Runtime helpers for the reductions gradient rules (array methods and operators only: numpy and cupy alike).

Each helper returns a new array (or a view of one nothing else holds): the simplifier takes a helper's
result for an array of its own and may add into it in place.
"""

import operator

from .core import _as_array, array_namespace, helper, unreduce


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


@helper
def cumprod_grad(grad, x, axis):
    """d np.cumprod(x, axis)/dx, without dividing by x (so right where x has zeros).

    result[j] is the product of x[k] for k <= j, so d result[j] / d x[i] (i <= j) is that product with
    x[i] replaced by 1: for each i a cumulative product of x with a 1 at i, of which the gradient keeps
    positions j >= i. That costs n times the memory of x along the axis, n its length.
    """
    x = _operand(x, grad)
    shape = x.shape
    grad = _as_array(grad, x)
    if axis is None:  # np.cumprod flattens x first
        x, grad, axis = x.reshape(-1), grad.reshape(-1), 0
    axis = operator.index(axis) % max(x.ndim, 1)
    xp = array_namespace(x, grad)
    moved = xp.moveaxis(x, axis, -1)  # (..., n)
    n = moved.shape[-1]
    own = xp.eye(n, dtype=bool)  # own[i, k]: k is i
    with_one = xp.where(own, xp.ones((), dtype=moved.dtype), moved[..., None, :])  # (..., i, k)
    partial = xp.cumprod(with_one, axis=-1)  # (..., i, j): d result[j] / d x[i] where j >= i
    later = xp.triu(xp.ones((n, n), dtype=bool))  # j >= i
    moved_grad = xp.moveaxis(grad, axis, -1)[..., None, :]
    summed = (xp.where(later, partial, 0) * moved_grad).sum(axis=-1).astype(grad.dtype, copy=False)
    return xp.moveaxis(summed, -1, axis).reshape(shape)


def _kept(x):
    """Where x is not nan, as x's floating dtype (0 or 1)."""
    return (x == x).astype(x.dtype)


@helper
def nansum_grad(grad, x, axis, keepdims):
    """d np.nansum(x, axis)/dx: grad spread over each group, 0 at nan elements (np.nansum skips them)."""
    x = _operand(x, grad)
    return unreduce(_as_array(grad, x), x, axis, keepdims) * _kept(x)


@helper
def nanmean_grad(grad, x, axis, keepdims):
    """d np.nanmean(x, axis)/dx: grad over the number of non-nan elements of each group, 0 at nan elements."""
    x = _operand(x, grad)
    kept = _kept(x)
    xp = array_namespace(kept)
    count = kept.sum(axis=None if axis is None else axis, keepdims=True)
    share = kept / xp.where(count == 0, 1, count)  # a group of nans alone has no gradient, not 0 / 0
    return unreduce(_as_array(grad, x), x, axis, keepdims) * share


@helper
def diff_grad(grad, n, axis):
    """d np.diff(x, n, axis)/dx. Once: result[i] = x[i + 1] - x[i], so x[j] gets grad[j - 1] - grad[j], with
    zeros past either end: minus the difference of grad padded with a zero on each side. n times over."""
    grad = _as_array(grad, grad)
    xp = array_namespace(grad)
    axis = operator.index(axis) % max(grad.ndim, 1)
    zero_shape = grad.shape[:axis] + (1,) + grad.shape[axis + 1:]
    zero = xp.zeros(zero_shape, dtype=grad.dtype)
    for _ in range(operator.index(n)):
        grad = -xp.diff(xp.concatenate([zero, grad, zero], axis=axis), axis=axis)
    return grad if n else grad.copy()
