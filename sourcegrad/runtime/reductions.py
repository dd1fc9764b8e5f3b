"""Runtime helpers for the reductions gradient rules (array methods and operators only: numpy and cupy alike).

Each helper returns a new array (or a view of one nothing else holds): the simplifier takes a helper's
result for an array of its own and may add into it in place.
"""

import functools
import operator

import numpy

from ..errors import SourcegradError
from .core import array_namespace, as_array_like, float_dtype, helper, unreduce


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
    return x if hasattr(x, "ndim") else as_array_like(x, grad)


@helper
def prod_grad(grad, x, axis, keepdims):
    """d np.prod(x, axis)/dx: the product of the other elements of each reduced group, times grad.

    Exclusive products from both ends (two cumprods) rather than prod/x, so a zero in the input
    gives the right gradient: the product of the others where x is 0, and 0 elsewhere in its group.
    """
    x = _operand(x, grad)
    flat, kept_shape, permutation = _axes_last(x, axis)
    grad = as_array_like(grad, x).reshape(kept_shape + (1,))
    return _axes_back(_products_of_the_others(flat) * grad, x, permutation)


def _products_of_the_others(flat):
    """For each element along the last axis, the product of the other elements there: exclusive products from both
    ends (two cumprods), never the product over x, so a zero in x does not turn into 0 / 0."""
    xp = array_namespace(flat)
    ones = xp.ones_like(flat[..., :1])
    before = xp.cumprod(xp.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    after = xp.cumprod(xp.concatenate([ones, flat[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    return before * after


def _reduced(values, x, axis, keepdims):
    """A reduction's values over the kept axes, with the reduced axes put back as length 1 for keepdims."""
    if not keepdims:
        return values
    axes = _reduced_axes(x.ndim, axis)
    return values.reshape(tuple(1 if a in axes else n for a, n in enumerate(x.shape)))


@helper
def prod_jvp(tangent, x, axis, keepdims):
    """The tangent of np.prod(x, axis, keepdims=keepdims): each element's tangent times the product of the other
    elements of its group, summed over the group (right where x has zeros, as prod_grad is)."""
    x = _operand(x, tangent)
    flat, _, _ = _axes_last(x, axis)
    moved, _, _ = _axes_last(as_array_like(tangent, x), axis)
    return _reduced((_products_of_the_others(flat) * moved).sum(axis=-1), x, axis, keepdims)


@helper
def prod_jvp_grad(grad, tangent, x, axis, keepdims):
    """x's gradient through prod_jvp (hvp of np.prod): prod_jvp is the sum over i of t[i] times the product of x[k]
    for k not i, so x[j] gets grad times the sum over i not j of t[i] times the product of x[k] for k neither i nor
    j. Those pair products come from x with a 1 at i, for each i, as prod_grad's do from x: no dividing by x, so
    right where x has zeros (n times the memory of x along the reduced axes, n their size)."""
    x = _operand(x, grad)
    flat, kept_shape, permutation = _axes_last(x, axis)
    moved, _, _ = _axes_last(as_array_like(tangent, x), axis)
    xp = array_namespace(flat)
    own = xp.eye(flat.shape[-1], dtype=bool)  # own[i, k]: k is i
    with_one = xp.where(own, xp.ones((), dtype=flat.dtype), flat[..., None, :])  # (..., i, k)
    pairs = xp.where(own, xp.zeros((), dtype=flat.dtype), _products_of_the_others(with_one))  # (..., i, j), 0 at j = i
    summed = (moved[..., :, None] * pairs).sum(axis=-2)
    grad = as_array_like(grad, x).reshape(kept_shape + (1,))
    return _axes_back(summed * grad, x, permutation)


def _first_extreme_grad(grad, x, axis, pick):
    x = _operand(x, grad)
    flat, kept_shape, permutation = _axes_last(x, axis)
    xp = array_namespace(flat)
    chosen = pick(flat)
    onehot = xp.arange(flat.shape[-1]) == chosen[..., None]
    grad = as_array_like(grad, x).reshape(kept_shape + (1,))
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


def _first_extreme_tangent(tangent, x, axis, keepdims, pick):
    x = _operand(x, tangent)
    flat, _, _ = _axes_last(x, axis)
    moved, _, _ = _axes_last(as_array_like(tangent, x), axis)
    chosen = pick(flat)[..., None]
    return _reduced(array_namespace(moved).take_along_axis(moved, chosen, axis=-1)[..., 0], x, axis, keepdims)


@helper
def max_jvp(tangent, x, axis, keepdims):
    """The tangent of np.max(x, axis, keepdims=keepdims): the tangent of each group's first maximal element, the one
    max_grad gives the gradient to."""
    return _first_extreme_tangent(tangent, x, axis, keepdims, lambda flat: flat.argmax(axis=-1))


@helper
def min_jvp(tangent, x, axis, keepdims):
    """The tangent of np.min(x, axis, keepdims=keepdims): the tangent of each group's first minimal element."""
    return _first_extreme_tangent(tangent, x, axis, keepdims, lambda flat: flat.argmin(axis=-1))


@helper
def cumsum_grad(grad, x, axis):
    """d np.cumsum(x, axis)/dx: the reversed cumulative sum of grad (axis=None: over x flattened)."""
    shape = getattr(x, "shape", ())
    grad = as_array_like(grad, x)
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
    shape = _operand(x, grad).shape
    xp, axis, x, grad = _along_cumprod_axis(axis, x, grad)
    partial = _cumprod_partials(xp.moveaxis(x, axis, -1))
    moved_grad = xp.moveaxis(grad, axis, -1)[..., None, :]
    summed = (partial * moved_grad).sum(axis=-1).astype(grad.dtype, copy=False)
    return xp.moveaxis(summed, -1, axis).reshape(shape)


def _along_cumprod_axis(axis, x, *others):
    """(xp, axis, x, *others) for a cumprod helper: x an array, the others (a gradient, a tangent) arrays of its
    floating dtype, all flattened where axis is None (np.cumprod flattens x first), axis made non-negative."""
    x = _operand(x, others[0])
    others = [as_array_like(other, x) for other in others]
    if axis is None:
        x, others, axis = x.reshape(-1), [other.reshape(-1) for other in others], 0
    return (array_namespace(x, *others), operator.index(axis) % max(x.ndim, 1), x, *others)


def _cumprod_partials(moved):
    """d result[j] / d x[i] for result = np.cumprod(x) along the last axis, as (..., i, j): the cumulative product of x
    with a 1 at i where j >= i, 0 where j < i."""
    xp = array_namespace(moved)
    n = moved.shape[-1]
    own = xp.eye(n, dtype=bool)  # own[i, k]: k is i
    with_one = xp.where(own, xp.ones((), dtype=moved.dtype), moved[..., None, :])  # (..., i, k)
    later = xp.triu(xp.ones((n, n), dtype=bool))  # j >= i
    return xp.where(later, xp.cumprod(with_one, axis=-1), 0)


@helper
def cumprod_jvp(tangent, x, axis):
    """The tangent of np.cumprod(x, axis): result[j]'s is the sum over i <= j of x[i]'s tangent times the product of
    x[k] for k <= j but i, without dividing by x (n times the memory of x along the axis, as cumprod_grad)."""
    xp, axis, x, tangent = _along_cumprod_axis(axis, x, tangent)
    partial = _cumprod_partials(xp.moveaxis(x, axis, -1))
    summed = (partial * xp.moveaxis(tangent, axis, -1)[..., :, None]).sum(axis=-2)
    return xp.moveaxis(summed, -1, axis)


@helper
def cumprod_jvp_grad(grad, tangent, x, axis):
    """x's gradient through cumprod_jvp (hvp of np.cumprod), without dividing by x.

    cumprod_jvp's result[j] is the sum over i <= j of t[i] times the product of x[k] for k <= j but i, so x[m] gets
    the sum over i not m of t[i] S[i, m], with S[i, m] = sum over j >= max(i, m) of grad[j] times the product of x[k]
    for k <= j but i and m. For i < m that splits at m: (the product of x[k] for k < m but i) times B[m], with
    B[m] = the sum over j >= m of grad[j] times the product of x[k] for m < k <= j; S is symmetric. Each factor is
    an n-by-n table of cumulative products (n the length of the axis), as in cumprod_grad.
    """
    shape = _operand(x, grad).shape
    xp, axis, x, grad, tangent = _along_cumprod_axis(axis, x, grad, tangent)
    moved = xp.moveaxis(x, axis, -1)
    n = moved.shape[-1]
    partial = _cumprod_partials(moved)  # (..., i, j): the product of x[k] for k <= j but i, where j >= i
    before = xp.concatenate([xp.zeros_like(partial[..., :1]), partial[..., :-1]], axis=-1)  # (..., i, m): k < m, i < m
    not_after = xp.tril(xp.ones((n, n), dtype=bool))  # not_after[m, k]: k <= m
    later = xp.triu(xp.ones((n, n), dtype=bool))  # later[m, j]: j >= m
    between = xp.where(later, xp.cumprod(xp.where(not_after, xp.ones((), dtype=moved.dtype), moved[..., None, :]),
                                         axis=-1), 0)  # (..., m, j): the product of x[k] for m < k <= j
    weights = (between * xp.moveaxis(grad, axis, -1)[..., None, :]).sum(axis=-1)  # B[m]
    pairs = before * weights[..., None, :]  # (..., i, m): S[i, m] for i < m, 0 elsewhere
    t = xp.moveaxis(tangent, axis, -1)
    summed = (t[..., :, None] * pairs).sum(axis=-2) + (pairs * t[..., None, :]).sum(axis=-1)
    return xp.moveaxis(summed.astype(grad.dtype, copy=False), -1, axis).reshape(shape)


def _kept(x):
    """Where x is not nan, as x's floating dtype (0 or 1)."""
    return (x == x).astype(x.dtype)


@helper
def nansum_grad(grad, x, axis, keepdims):
    """d np.nansum(x, axis)/dx: grad spread over each group, 0 at nan elements (np.nansum skips them)."""
    x = _operand(x, grad)
    return unreduce(as_array_like(grad, x), x, axis, keepdims) * _kept(x)


@helper
def nanmean_grad(grad, x, axis, keepdims):
    """d np.nanmean(x, axis)/dx: grad over the number of non-nan elements of each group, 0 at nan elements."""
    x = _operand(x, grad)
    kept = _kept(x)
    xp = array_namespace(kept)
    count = kept.sum(axis=None if axis is None else axis, keepdims=True)
    share = kept / xp.where(count == 0, 1, count)  # a group of nans alone has no gradient, not 0 / 0
    return unreduce(as_array_like(grad, x), x, axis, keepdims) * share


@helper
def nanmean_jvp(tangent, x, axis, keepdims):
    """The tangent of np.nanmean(x, axis, keepdims=keepdims): the mean of the tangents of the non-nan elements of each
    group (0 for a group of nans alone, as nanmean_grad gives them no gradient)."""
    x = _operand(x, tangent)
    kept = _kept(x)
    xp = array_namespace(kept)
    count = kept.sum(axis=axis, keepdims=keepdims)
    total = xp.where(x == x, tangent, 0).sum(axis=axis, keepdims=keepdims)
    return total / xp.where(count == 0, 1, count)


@helper
def diff_grad(grad, n, axis):
    """d np.diff(x, n, axis)/dx. Once: result[i] = x[i + 1] - x[i], so x[j] gets grad[j - 1] - grad[j], with
    zeros past either end: minus the difference of grad padded with a zero on each side. n times over."""
    grad = as_array_like(grad, grad)
    xp = array_namespace(grad)
    axis = operator.index(axis) % max(grad.ndim, 1)
    zero_shape = grad.shape[:axis] + (1,) + grad.shape[axis + 1:]
    zero = xp.zeros(zero_shape, dtype=grad.dtype)
    for _ in range(operator.index(n)):
        grad = -xp.diff(xp.concatenate([zero, grad, zero], axis=axis), axis=axis)
    return grad if n else grad.copy()


@helper
def diff_part_grad(grad, x, n, axis, prepend, append, part):
    """The gradient of x (part 1), prepend (part 0) or append (part 2) in np.diff(x, n, axis, prepend=prepend,
    append=append), either of those None when not given. np.diff joins prepend, x and append along axis (a number
    stretched to one slice of x) and differences that: its gradient is split back in the same places, a number's
    part summed. With n=0 np.diff returns x as it is, and prepend and append get nothing."""
    grad = as_array_like(grad, x)
    xp = array_namespace(grad)
    # a list or tuple given as prepend or append is the array numpy makes of it (its rows, not one slice)
    values = tuple(xp.asarray(v) if isinstance(v, (list, tuple)) else v for v in (prepend, x, append))
    if not operator.index(n):
        return grad.copy() if part == 1 else xp.zeros(getattr(values[part], "shape", ()), dtype=grad.dtype)
    joined = diff_grad(grad, n, axis)
    axis = operator.index(axis) % joined.ndim
    sizes = [0 if v is None else 1 if not getattr(v, "ndim", 0) else v.shape[axis] for v in values]
    start = sum(sizes[:part])
    piece = joined[(slice(None),) * axis + (slice(start, start + sizes[part]),)]
    return piece.sum() if not getattr(values[part], "ndim", 0) else piece.copy()


@helper
def diff_part_jvp(tangent, x, n, axis, prepend, append, part):
    """The tangent np.diff(x, n, axis, prepend=prepend, append=append) gets from x's (part 1), prepend's (part 0) or
    append's (part 2), either of those None when not given. np.diff is linear in the three together: the tangent is
    np.diff of this part's tangent with zeros in place of the other two."""
    values = [prepend, x, append]
    xp = array_namespace(tangent, x)
    parts = [None if v is None else tangent if i == part else xp.zeros_like(xp.asarray(v))
             for i, v in enumerate(values)]
    joined = {name: p for name, p in (("prepend", parts[0]), ("append", parts[2])) if p is not None}
    return xp.diff(parts[1], n, axis, **joined)


# ---- quantiles: np.quantile, np.percentile, np.median and their nan-skipping forms ------------------------------
# numpy's linear method reads each group of x sorted, at the virtual position q (n - 1) (n the group's size, or its
# count of numbers for the nan forms, which sort nan last): the elements at the positions either side of it, mixed
# by its fraction. The gradient goes back to those two elements through np.argsort's stable order, as np.sort's
# does, so tied elements are told apart the way sort_grad tells them (the first one, the first position). q / scale
# is the quantile (scale 100 for percentiles).


def _quantile_points(x, q, axis, scale, skip_nan, method):
    """Where np.quantile(x, q / scale, axis, method="linear") reads x, per group and quantile (axes q's shape + the
    kept axes, Q + K): (flat, kept_shape, permutation, low, high, fraction, slope, valid, dtype). flat is x with its
    reduced axes last and merged (K + (n,)); low and high the flat positions of the two elements read, fraction the
    weight of high's; slope the change of the virtual position per unit of q; valid whether the group holds a
    number at all (a group of nans alone gets no gradient); dtype numpy's result's."""
    if method != "linear":
        raise SourcegradError(f"np.quantile and np.percentile have a gradient rule for method='linear' only, not "
                              f"{method!r}", hint="Leave method at its default, 'linear', or wrap the call in "
                                                  "sourcegrad.stop_gradient(...) if it needs no gradient.")
    x = x if hasattr(x, "ndim") else as_array_like(x, x)
    flat, kept_shape, permutation = _axes_last(x, axis)
    xp = array_namespace(flat, q)
    q = xp.asarray(q) if isinstance(q, (list, tuple)) else q  # numpy makes a list of quantiles an array
    dtype = xp.result_type(flat.dtype if flat.dtype.kind == "f" else xp.float64, q)
    quantiles = xp.asarray(q, dtype=xp.float64) / scale
    q_shape = quantiles.shape
    n = flat.shape[-1]
    order = xp.argsort(flat, axis=-1, kind="stable")  # nan last
    count = (flat == flat).sum(axis=-1) if skip_nan else xp.full(kept_shape, n)
    quantiles = quantiles.reshape(q_shape + (1,) * len(kept_shape))
    virtual = quantiles * count - quantiles  # numpy's n q - q, rounded as numpy rounds it
    top = xp.maximum(count - 1, 0)
    lower = xp.floor(virtual)
    fraction = virtual - lower
    lower = xp.minimum(xp.maximum(lower, 0), top).astype(order.dtype)
    upper = xp.minimum(lower + 1, top)
    if not skip_nan:
        # numpy's quantile of a group holding a nan is nan: the group's gradient goes to its first nan (the sort puts
        # the nans last), as np.max's goes to the nan it returns
        nans = (flat != flat).sum(axis=-1)
        held = nans > 0
        lower = xp.where(held, n - nans, lower).astype(order.dtype)
        upper = xp.where(held, n - nans, upper).astype(order.dtype)
        fraction = xp.where(held, 0.0, fraction)
    valid = count > 0
    everywhere = q_shape + order.shape
    low = xp.take_along_axis(xp.broadcast_to(order, everywhere), lower[..., None], axis=-1)[..., 0]
    high = xp.take_along_axis(xp.broadcast_to(order, everywhere), upper[..., None], axis=-1)[..., 0]
    slope = xp.broadcast_to((count - 1) / scale, fraction.shape)
    return flat, kept_shape, permutation, low, high, fraction * valid, slope * valid, valid, dtype


def _read_at(values, x, axis, positions):
    """values (of x's shape) at flat positions of x's groups (see _quantile_points)."""
    xp = array_namespace(values, positions)
    moved, _, _ = _axes_last(as_array_like(values, x) if not hasattr(values, "ndim") else values, axis)
    everywhere = positions.shape + moved.shape[-1:]
    return xp.take_along_axis(xp.broadcast_to(moved, everywhere), positions[..., None], axis=-1)[..., 0]


def _as_quantile_result(values, x, axis, keepdims, q_shape):
    """Values over Q + K in np.quantile's result's shape: keepdims puts x's reduced axes back as 1s after Q."""
    if not keepdims:
        return values
    axes = _reduced_axes(len(getattr(x, "shape", ())), axis)
    return values.reshape(q_shape + tuple(1 if a in axes else n for a, n in enumerate(getattr(x, "shape", ()))))


def _scatter_to_groups(low_weights, high_weights, low, high, flat):
    """Weights at flat positions low and high of each group, added up over the quantiles: an array like flat."""
    xp = array_namespace(low_weights, flat)
    positions = xp.arange(flat.shape[-1])
    spread = (positions == low[..., None]) * low_weights[..., None] + (positions == high[..., None]) * high_weights[..., None]
    return spread.reshape((-1,) + flat.shape).sum(axis=0)


def _q_shape(q):
    return tuple(getattr(q, "shape", ())) if not isinstance(q, (list, tuple)) else numpy.shape(q)


def _grouped(grad, x, q, kept_shape):
    """The output's gradient (np.quantile's result's shape) as Q + K."""
    return as_array_like(grad, x).reshape(_q_shape(q) + kept_shape)


@helper
def quantile_jvp(tangent, x, q, axis, keepdims, scale, skip_nan, method):
    """The tangent of np.quantile(x, q / scale, axis, keepdims=keepdims) from x's (the nan form with skip_nan): the
    tangent read where the quantile reads x, mixed as it mixes x."""
    flat, kept_shape, _, low, high, fraction, _, valid, dtype = _quantile_points(x, q, axis, scale, skip_nan, method)
    below, above = _read_at(tangent, x, axis, low), _read_at(tangent, x, axis, high)
    mixed = ((below + (above - below) * fraction) * valid).astype(dtype, copy=False)
    return _as_quantile_result(mixed, x, axis, keepdims, _q_shape(q))


@helper
def quantile_grad(grad, x, q, axis, keepdims, scale, skip_nan, method):
    """x's gradient of np.quantile(x, q / scale, axis, keepdims=keepdims): each group's two elements read get grad
    times their weights (1 - fraction and fraction), summed over the quantiles."""
    flat, kept_shape, permutation, low, high, fraction, _, valid, _ = _quantile_points(x, q, axis, scale, skip_nan,
                                                                                       method)
    grad = _grouped(grad, x, q, kept_shape)
    spread = _scatter_to_groups(grad * (valid - fraction), grad * fraction, low, high, flat)
    x = x if hasattr(x, "ndim") else as_array_like(x, grad)
    return _axes_back(spread, x, permutation).astype(float_dtype(x, grad), copy=False)


def _slopes(values, x, q, axis, scale, skip_nan, method):
    """d quantile / d q per group and quantile: the difference of the two elements read (of values, in x's order)
    times the change of the virtual position; with it the points."""
    points = _quantile_points(x, q, axis, scale, skip_nan, method)
    _, _, _, low, high, _, slope, _, _ = points
    return (_read_at(values, x, axis, high) - _read_at(values, x, axis, low)) * slope, points


@helper
def quantile_q_grad(grad, values, x, q, axis, keepdims, scale, skip_nan, method):
    """q's gradient of np.quantile(x, q / scale, axis, keepdims=keepdims) with values=x: grad times the slope
    between the two elements read, summed over the groups. (values differ from x in hvp: a tangent read in x's
    order.)"""
    slopes, (_, kept_shape, _, _, _, _, _, _, _) = _slopes(values, x, q, axis, scale, skip_nan, method)
    total = (_grouped(grad, x, q, kept_shape) * slopes).reshape(_q_shape(q) + (-1,)).sum(axis=-1)
    return total.astype(float_dtype(q, grad), copy=False) if hasattr(q, "dtype") else total


@helper
def quantile_q_jvp(tangent, values, x, q, axis, keepdims, scale, skip_nan, method):
    """The tangent of np.quantile(x, q / scale, axis, keepdims=keepdims) from q's (values=x): q's tangent times the
    slope between the two elements read."""
    slopes, (_, kept_shape, _, _, _, _, _, _, dtype) = _slopes(values, x, q, axis, scale, skip_nan, method)
    xp = array_namespace(slopes)
    moved = xp.asarray(tangent).reshape(_q_shape(q) + (1,) * len(kept_shape))
    return _as_quantile_result((moved * slopes).astype(dtype, copy=False), x, axis, keepdims, _q_shape(q))


@helper
def quantile_slope_grad(grad, tangent, x, q, axis, keepdims, scale, skip_nan, method):
    """values' gradient of quantile_q_jvp(tangent, values, x, q, ...) (hvp of np.quantile in q and x): linear in
    values, which it reads at the two elements either side: minus and plus grad times q's tangent and the slope of
    the virtual position."""
    flat, kept_shape, permutation, low, high, _, slope, _, _ = _quantile_points(x, q, axis, scale, skip_nan, method)
    xp = array_namespace(flat)
    grad = _grouped(grad, x, q, kept_shape) * xp.asarray(tangent).reshape(_q_shape(q) + (1,) * len(kept_shape))
    spread = _scatter_to_groups(-grad * slope, grad * slope, low, high, flat)
    x = x if hasattr(x, "ndim") else as_array_like(x, grad)
    return _axes_back(spread, x, permutation).astype(float_dtype(x, grad), copy=False)


# ---- covariance and correlation: np.cov, np.corrcoef -------------------------------------------------------------
# np.cov arranges m and y (if given) as rows of variables over columns of observations, X, stacked, and returns
# Xc Xc^T / (N - ddof), Xc = X less its means over the observations, squeezed. Its gradient is (G + G^T) Xc / (N - ddof)
# (Xc's rows sum to 0, so the means' own change adds nothing), split back into m's and y's parts.


@functools.cache
def _matrix_of_one_row_by_columns():
    """Whether np.cov(m, rowvar=False) takes a matrix m of one row for one observation of m.shape[1] variables, as
    numpy does from 2.2 on; before, it took that row for one variable, as it takes a vector (and a y of one row)."""
    return numpy.cov(numpy.zeros((1, 2)), rowvar=False, bias=True).ndim == 2


def _by_columns(shape, rowvar, part):
    """Whether np.cov transposes m (part 0) or y (part 1) of that shape: with rowvar=False, a matrix, but one of a
    single row only where numpy does (y's never)."""
    if rowvar or len(shape) != 2:
        return False
    return shape[0] != 1 or (part == 0 and _matrix_of_one_row_by_columns())


def _variables(m, y, rowvar):
    """(xp, X, rows of m): np.cov's arrangement of m and y, in the dtype numpy computes in (float64 at least)."""
    xp = array_namespace(m, *([] if y is None else [y]))
    values = [m] if y is None else [m, y]
    dtype = xp.result_type(*[getattr(v, "dtype", xp.float64) for v in values], xp.float64)
    rows = [_arranged(xp, value, dtype, rowvar, part) for part, value in enumerate(values)]
    return xp, rows[0] if y is None else xp.concatenate(rows, axis=0), rows[0].shape[0]


def _arranged(xp, value, dtype, rowvar, part):
    """m (part 0) or y (part 1), or a tangent of it, as rows of variables over columns of observations."""
    value = xp.asarray(value, dtype=dtype)
    if value.ndim > 2:
        raise SourcegradError("np.cov and np.corrcoef take arrays of at most two dimensions")
    by_columns = _by_columns(value.shape, rowvar, part)
    value = value.reshape((1, -1)) if value.ndim < 2 else value
    return value.T if by_columns else value


def _divisor(observations, bias, ddof):
    """N - ddof, or 0 where that is not positive, as numpy divides (its covariance is then infinite or nan)."""
    if ddof is None:
        ddof = 0 if bias else 1
    return max(observations - ddof, 0)


def _part_of(full, m, y, rowvar, mine, part):
    """The rows of the stacked arrangement that hold m (part 0) or y (part 1), back in that argument's shape."""
    value = m if part == 0 else y
    rows = full[:mine] if part == 0 else full[mine:]
    shape = numpy.shape(value)
    if _by_columns(shape, rowvar, part):
        rows = rows.T
    return rows.reshape(shape).astype(float_dtype(value, full), copy=False)


def _placed(tangent, m, y, rowvar, part):
    """A tangent of m (part 0) or y (part 1) in the stacked arrangement, zeros in the other's rows."""
    xp, data, mine = _variables(m, y, rowvar)
    moved = _arranged(xp, tangent, data.dtype, rowvar, part)
    full = xp.zeros_like(data)
    if part == 0:
        full[:mine] = moved
    else:
        full[mine:] = moved
    return xp, data, mine, full


def _as_matrix(grad, xp, size, dtype):
    return xp.asarray(grad, dtype=dtype).reshape((size, size))


@helper
def cov_grad(grad, m, y, rowvar, bias, ddof, part):
    """m's (part 0) or y's (part 1) gradient of np.cov(m, y, rowvar, bias, ddof): (G + G^T) Xc / (N - ddof)."""
    xp, data, mine = _variables(m, y, rowvar)
    grad = _as_matrix(grad, xp, data.shape[0], data.dtype)
    centered = data - data.mean(axis=1, keepdims=True)
    full = (grad + grad.T) @ centered / _divisor(data.shape[1], bias, ddof)
    return _part_of(full, m, y, rowvar, mine, part)


@helper
def cov_jvp(tangent, m, y, rowvar, bias, ddof, part):
    """The tangent of np.cov(m, y, rowvar, bias, ddof) from m's (part 0) or y's (part 1): with T that tangent in the
    stacked arrangement, (T Xc^T + Xc T^T) / (N - ddof) (T's means would multiply Xc's row sums, which are 0)."""
    xp, data, _, moved = _placed(tangent, m, y, rowvar, part)
    centered = data - data.mean(axis=1, keepdims=True)
    product = moved @ centered.T
    return ((product + product.T) / _divisor(data.shape[1], bias, ddof)).squeeze()


@helper
def cov_jvp_grad(grad, tangent, m, y, rowvar, bias, ddof, part, wrt):
    """m's (wrt 0) or y's (wrt 1) gradient of cov_jvp(tangent, m, y, ..., part) (hvp of np.cov): linear in Xc, whose
    gradient is (G + G^T) T / (N - ddof); T's rows do not sum to 0, so the means' change is taken off."""
    xp, data, mine, moved = _placed(tangent, m, y, rowvar, part)
    grad = _as_matrix(grad, xp, data.shape[0], data.dtype)
    full = (grad + grad.T) @ moved / _divisor(data.shape[1], bias, ddof)
    return _part_of(full - full.mean(axis=1, keepdims=True), m, y, rowvar, mine, wrt)


# np.corrcoef is np.cov normalized: R = C / (s s^T), s the square roots of C's diagonal. With u = 1 / s, R's change is
# dC (u u^T) - R (a 1^T + 1 a^T) / 2, a = diag(dC) u^2; its diagonal stays 1. One variable alone (a 0-d C) has R = 1.


def _correlation_parts(cov):
    xp = array_namespace(cov)
    inverse_scale = 1 / xp.sqrt(cov.diagonal())
    return xp, inverse_scale, cov * inverse_scale[:, None] * inverse_scale[None, :]


@helper
def correlation_grad(grad, cov):
    """The gradient of C of R = C / (s s^T) (np.corrcoef from np.cov): G (u u^T) less, on the diagonal, the sums of
    G R over C's row and column over 2 C_ii."""
    if not getattr(cov, "ndim", 0):
        return array_namespace(cov).zeros_like(cov)
    xp, u, correlation = _correlation_parts(cov)
    grad = _as_matrix(grad, xp, cov.shape[0], cov.dtype)
    weighted = grad * correlation
    return grad * u[:, None] * u[None, :] - xp.eye(cov.shape[0], dtype=cov.dtype) * (
        (weighted.sum(axis=0) + weighted.sum(axis=1)) * u * u / 2)


@helper
def correlation_jvp(tangent, cov):
    """The tangent of R = C / (s s^T) from C's: dC (u u^T) - R (a 1^T + 1 a^T) / 2, a = diag(dC) u^2."""
    if not getattr(cov, "ndim", 0):
        return array_namespace(cov).zeros_like(cov)
    xp, u, correlation = _correlation_parts(cov)
    tangent = _as_matrix(tangent, xp, cov.shape[0], cov.dtype)
    a = tangent.diagonal() * u * u
    return tangent * u[:, None] * u[None, :] - correlation * (a[:, None] + a[None, :]) / 2


@helper
def correlation_jvp_grad(grad, tangent, cov):
    """C's gradient of correlation_jvp(dC, C) (hvp of np.corrcoef). With M = G C and A = a 1^T + 1 a^T: C's own
    entries give -G (u u^T) A / 2, and u (u_k = C_kk^(-1/2), whose change is -u_k^3 / 2 per change of C_kk) gives
    ((G dC) u + (G dC)^T u)_k - dC_kk u_k h_k - ((A M) u + (A M)^T u)_k / 2, h the row and column sums of M u u^T."""
    if not getattr(cov, "ndim", 0):
        return array_namespace(cov).zeros_like(cov)
    xp, u, _ = _correlation_parts(cov)
    size = cov.shape[0]
    grad, tangent = _as_matrix(grad, xp, size, cov.dtype), _as_matrix(tangent, xp, size, cov.dtype)
    a = tangent.diagonal() * u * u
    pairs = a[:, None] + a[None, :]
    scaled = grad * cov * u[:, None] * u[None, :]
    h = scaled.sum(axis=1) + scaled.sum(axis=0)
    both = grad * tangent
    mixed = pairs * grad * cov
    along_u = both @ u + both.T @ u - tangent.diagonal() * u * h - (mixed @ u + mixed.T @ u) / 2
    own = -grad * u[:, None] * u[None, :] * pairs / 2
    return own + xp.eye(size, dtype=cov.dtype) * (along_u * (-u ** 3 / 2))


# ---- running maxima and minima: np.maximum.accumulate, np.minimum.accumulate --------------------------------------
# result[i] = maximum(result[i - 1], x[i]) along the axis, and np.maximum gives a tie to its first argument: so
# result[i] is x[s(i)], s(i) the first element that reached the running maximum (a later equal one does not take it
# over). The gradient of result[i] goes to x[s(i)]; each x[k] that starts a run collects the gradients of its run.


def _runs(x, axis, largest):
    """(xp, axis, x, starts, source): along axis, where x starts a new run (strictly beyond the running extreme before
    it; the first element always) and, for each position, the position whose element it holds."""
    xp = array_namespace(x)
    axis = operator.index(axis) % x.ndim
    extreme = (xp.maximum if largest else xp.minimum).accumulate(x, axis=axis)
    first = (slice(None),) * axis + (slice(0, 1),)
    rest, before = (slice(None),) * axis + (slice(1, None),), (slice(None),) * axis + (slice(None, -1),)
    beyond = x[rest] > extreme[before] if largest else x[rest] < extreme[before]
    starts = xp.concatenate([xp.ones_like(x[first], dtype=bool), beyond], axis=axis)
    positions = xp.arange(x.shape[axis]).reshape((-1,) + (1,) * (x.ndim - axis - 1))
    source = xp.maximum.accumulate(xp.where(starts, positions, 0), axis=axis)
    return xp, axis, starts, source


@helper
def accumulate_extreme_grad(grad, x, axis, largest):
    """x's gradient of np.maximum.accumulate(x, axis) (largest) or np.minimum's: each run's gradients, summed, to the
    element that starts it. A run's sum is a difference of cumulative sums at its two ends."""
    xp, axis, starts, source = _runs(x, axis, largest)
    grad = as_array_like(grad, x)
    n = x.shape[axis]
    zero = xp.zeros_like(grad[(slice(None),) * axis + (slice(0, 1),)])
    totals = xp.concatenate([zero, xp.cumsum(grad, axis=axis)], axis=axis)  # totals[k]: the sum of grad before k
    positions = xp.arange(n).reshape((-1,) + (1,) * (x.ndim - axis - 1))
    marked = xp.where(starts, positions, n)
    reverse = (slice(None),) * axis + (slice(None, None, -1),)
    next_start = xp.minimum.accumulate(marked[reverse], axis=axis)[reverse]  # the first start at or after each position
    after = xp.concatenate([next_start[(slice(None),) * axis + (slice(1, None),)],
                            xp.full_like(next_start[(slice(None),) * axis + (slice(0, 1),)], n)], axis=axis)
    run = xp.take_along_axis(totals, after, axis=axis) - xp.take_along_axis(totals, xp.broadcast_to(positions, after.shape), axis=axis)
    return xp.where(starts, run, 0).astype(float_dtype(x, grad), copy=False)


@helper
def accumulate_extreme_jvp(tangent, x, axis, largest):
    """The tangent of np.maximum.accumulate(x, axis) (largest) or np.minimum's: at each position the tangent of the
    element it holds."""
    xp, axis, _, source = _runs(x, axis, largest)
    return xp.take_along_axis(as_array_like(tangent, x), source, axis=axis)
