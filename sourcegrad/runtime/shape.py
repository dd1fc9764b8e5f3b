"""Runtime helpers for the shape gradient rules (array methods and operators only: numpy and cupy alike).

Two kinds: permutations and shapes (the rules hand them to np.transpose and np.reshape, whose
results the simplifier knows may share memory with the gradient), and whole gradients, which are
always new arrays (the simplifier takes a helper's result for an array of its own and may add into
it in place, so a helper must never return a view of its argument).
"""

import operator

import numpy

from ..errors import SourcegradError
from .core import array_namespace, as_array_like, float_dtype, helper, unbroadcast


def _axis(axis, ndim):
    return operator.index(axis) % ndim if ndim else operator.index(axis)


def _axes(axis, ndim):
    """An int or a sequence of ints as a tuple of non-negative axes."""
    if isinstance(axis, (tuple, list)):
        return tuple(_axis(a, ndim) for a in axis)
    return (_axis(axis, ndim),)


def _shape(value):
    return tuple(getattr(value, "shape", ()))


# ---- permutations and shapes for np.transpose / np.reshape ------------------------------------------


@helper
def swapaxes_permutation(value, axis1, axis2):
    """The axes for np.transpose that swap axis1 and axis2 of value (its own inverse)."""
    ndim = getattr(value, "ndim", 0)
    axes = list(range(ndim))
    a, b = _axis(axis1, ndim), _axis(axis2, ndim)
    axes[a], axes[b] = axes[b], axes[a]
    return tuple(axes)


@helper
def moveaxis_inverse(value, source, destination):
    """The axes for np.transpose that undo np.moveaxis(x, source, destination), value being its result."""
    ndim = getattr(value, "ndim", 0)
    source, destination = _axes(source, ndim), _axes(destination, ndim)
    order = [a for a in range(ndim) if a not in source]  # np.moveaxis's own construction
    for dest, src in sorted(zip(destination, source)):
        order.insert(dest, src)
    inverse = [0] * ndim
    for position, a in enumerate(order):
        inverse[a] = position
    return tuple(inverse)


def _traversal(x, order):
    """The axes in the order np.ravel(x, order) walks them, outermost first."""
    ndim = len(_shape(x))
    if order in ("A", "a"):
        flags = getattr(x, "flags", None)
        order = "F" if flags is not None and flags.f_contiguous and not flags.c_contiguous else "C"
    if order in ("F", "f"):
        return tuple(reversed(range(ndim)))
    if order in ("K", "k") and ndim:
        strides = getattr(x, "strides", None) or (0,) * ndim
        if any(stride == 0 and size > 1 for stride, size in zip(strides, _shape(x))):
            raise SourcegradError("ravel/flatten with order 'K' of a broadcast view (a zero stride) walks an order "
                                  "sourcegrad does not model", hint="Use order 'C', or make the array contiguous first.")
        # memory order, outermost (largest stride) first; ties keep C order. Negative strides are
        # walked forwards (numpy: "except for reversing the data when strides are negative").
        return tuple(sorted(range(ndim), key=lambda a: -abs(strides[a])))
    return tuple(range(ndim))


@helper
def ravel_shape(x, order):
    """x's shape with its axes in np.ravel(x, order)'s walking order."""
    shape = _shape(x)
    return tuple(shape[a] for a in _traversal(x, order))


@helper
def ravel_walk(x, order):
    """The axes of x in the order np.ravel(x, order) walks them, outermost first: np.ravel(np.transpose(t, walk))
    walks t as np.ravel(x, order) walks x, whatever t's own memory order."""
    return _traversal(x, order)


@helper
def ravel_axes(x, order):
    """The axes for np.transpose that bring ravel_shape(x, order) back to x's axis order."""
    walk = _traversal(x, order)
    inverse = [0] * len(walk)
    for position, a in enumerate(walk):
        inverse[a] = position
    return tuple(inverse)


# ---- whole gradients (new arrays) -----------------------------------------------------------------------


def _fresh(result, source):
    """result, copied if it may share memory with source (a reshape or a reduction over no axes may)."""
    if array_namespace(result).may_share_memory(result, source):
        return result.copy()
    return result


@helper
def tile_grad(grad, x, reps):
    """d np.tile(x, reps)/dx: grad summed over the copies."""
    shape = _shape(x)
    reps = tuple(int(r) for r in numpy.reshape(reps, -1))  # an int, a sequence, or an array of them
    n = max(len(shape), len(reps))
    shape_n = (1,) * (n - len(shape)) + shape
    reps_n = (1,) * (n - len(reps)) + reps
    grad = as_array_like(grad, x)
    interleaved = tuple(size for pair in zip(reps_n, shape_n) for size in pair)
    summed = grad.reshape(interleaved).sum(axis=tuple(range(0, 2 * n, 2)))
    return _fresh(summed.reshape(shape), grad)


@helper
def repeat_grad(grad, x, repeats, axis):
    """d np.repeat(x, repeats, axis)/dx: each element gets the sum of its copies' gradients."""
    shape = _shape(x)
    grad = as_array_like(grad, x)
    xp = array_namespace(grad)
    if axis is None:  # np.repeat flattens x first
        grad, axis, axis_shape = grad.reshape(-1), 0, (_size(shape),)
    else:
        axis = _axis(axis, len(shape))
        axis_shape = shape
    count = axis_shape[axis]
    counts = repeats.reshape(-1).tolist() if hasattr(repeats, "shape") else repeats
    if isinstance(counts, (tuple, list)) and len(counts) == 1:
        counts = counts[0]
    if not isinstance(counts, (tuple, list)) and not getattr(counts, "ndim", 0):
        # the same number of copies of each element: split the axis into (element, copy) and sum the copies
        r = int(counts)
        split = axis_shape[:axis] + (count, r) + axis_shape[axis + 1:]
        return _fresh(grad.reshape(split).sum(axis=axis + 1).reshape(shape), grad)
    # a number of copies per element: sum each element's run of copies (elements with none get 0)
    counts = [int(c) for c in counts]
    starts, total = [], 0
    for c in counts:
        starts.append(total)
        total += c
    moved = xp.moveaxis(grad, axis, 0)
    present = [i for i, c in enumerate(counts) if c]
    if not present:
        return xp.zeros(shape, dtype=grad.dtype)
    summed = xp.add.reduceat(moved, xp.asarray([starts[i] for i in present]), axis=0)
    if len(present) < count:
        out = xp.zeros((count,) + moved.shape[1:], dtype=grad.dtype)
        out[xp.asarray(present)] = summed
        summed = out
    return xp.moveaxis(summed, 0, axis).reshape(shape)


def _size(shape):
    count = 1
    for n in shape:
        count *= n
    return count


@helper
def flip_grad(grad, axis):
    """d np.flip(x, axis)/dx: grad flipped back, as a new array (np.flip gives a view)."""
    grad = as_array_like(grad, grad)
    return array_namespace(grad).flip(grad, axis).copy()


@helper
def rot90_grad(grad, k, axes):
    """d np.rot90(x, k, axes)/dx: grad turned back, as a new array (np.rot90 gives a view)."""
    grad = as_array_like(grad, grad)
    return array_namespace(grad).rot90(grad, -operator.index(k), axes).copy()


def _half_shifts(grad, axes, sign):
    """np.roll's shifts and axes for np.fft.fftshift (sign 1) or ifftshift (sign -1) over axes (None: all)."""
    axes = tuple(range(grad.ndim)) if axes is None else _axes(axes, grad.ndim)
    return tuple(sign * (grad.shape[a] // 2) for a in axes), axes


@helper
def fftshift_grad(grad, axes):
    """d np.fft.ifftshift(x, axes)/dx: grad shifted forward again, np.fft.fftshift's roll (a new array)."""
    grad = as_array_like(grad, grad)
    shifts, axes = _half_shifts(grad, axes, 1)
    return array_namespace(grad).roll(grad, shifts, axes)


@helper
def ifftshift_grad(grad, axes):
    """d np.fft.fftshift(x, axes)/dx: grad shifted back, np.fft.ifftshift's roll (a new array)."""
    grad = as_array_like(grad, grad)
    shifts, axes = _half_shifts(grad, axes, -1)
    return array_namespace(grad).roll(grad, shifts, axes)


@helper
def sort_grad(grad, x, axis):
    """d np.sort(x, axis)/dx: the gradient of each sorted position goes back to the element sorted there.
    Tied elements are told apart by np.argsort's stable order (the first one gets the first position)."""
    grad = as_array_like(grad, x)
    xp = array_namespace(grad, x)
    shape = _shape(x)
    x = as_array_like(x, grad)
    if axis is None:  # np.sort flattens x first
        x, grad, axis = x.reshape(-1), grad.reshape(-1), 0
    order = xp.argsort(x, axis=axis, kind="stable")
    out = xp.zeros(x.shape, dtype=grad.dtype)
    xp.put_along_axis(out, order, grad, axis=axis)  # a permutation: each position is written once
    return out.reshape(shape)


@helper
def partition_grad(grad, result, x, axis):
    """d np.partition(x, kth, axis)/dx: each position's gradient goes back to an element of x holding its value.

    numpy does not say which element went where, but the values tell: the k-th smallest of the result (np.argsort,
    stable) came from the k-th smallest of x. Tied elements are matched in their order, the first of x to the
    first position of the result, as np.sort's rule (sort_grad) sends them.
    """
    grad = as_array_like(grad, x)
    xp = array_namespace(grad, x)
    shape = _shape(x)
    x, result = as_array_like(x, grad), as_array_like(result, grad)
    if axis is None:  # np.partition flattens x first
        x, result, grad, axis = x.reshape(-1), result.reshape(-1), grad.reshape(-1), 0
    taken = xp.take_along_axis(grad, xp.argsort(result, axis=axis, kind="stable"), axis=axis)
    out = xp.zeros(x.shape, dtype=grad.dtype)
    xp.put_along_axis(out, xp.argsort(x, axis=axis, kind="stable"), taken, axis=axis)  # a permutation
    return out.reshape(shape)


@helper
def partition_jvp(tangent, result, x, axis):
    """The tangent of np.partition(x, kth, axis), matched by value as partition_grad matches the gradient: each
    position of the result gets the tangent of the element of x of the same rank (ties in np.argsort's stable order)."""
    tangent = as_array_like(tangent, x)
    xp = array_namespace(tangent, x)
    x, result = as_array_like(x, tangent), as_array_like(result, tangent)
    if axis is None:  # np.partition flattens x first
        x, tangent, axis = x.reshape(-1), tangent.reshape(-1), 0
    in_order = xp.take_along_axis(tangent, xp.argsort(x, axis=axis, kind="stable"), axis=axis)
    out = xp.zeros(result.shape, dtype=tangent.dtype)
    xp.put_along_axis(out, xp.argsort(result, axis=axis, kind="stable"), in_order, axis=axis)  # a permutation
    return out


def _pad_widths(pad_width, ndim):
    """np.pad's pad_width (an int, a pair, or a pair per axis) as a (before, after) pair per axis, as ints."""
    widths = numpy.broadcast_to(numpy.asarray(pad_width, dtype=numpy.int64), (ndim, 2))  # host metadata, for cupy too
    return [(int(before), int(after)) for before, after in widths.tolist()]


def _interior(grad, x, pad_width):
    """The index of x's elements in np.pad(x, pad_width)."""
    widths = _pad_widths(pad_width, len(_shape(x)))
    return tuple(slice(before, before + size) for (before, _), size in zip(widths, _shape(x)))


@helper
def pad_grad(grad, x, pad_width, mode):
    """d np.pad(x, pad_width, mode="constant")/dx: the interior of grad, as a new array."""
    _check_pad_mode(mode)
    grad = as_array_like(grad, x)
    return grad[_interior(grad, x, pad_width)].copy()


def _check_pad_mode(mode):
    if mode != "constant":
        raise SourcegradError(f"np.pad with mode={mode!r} has no gradient rule: only mode 'constant' (the default) "
                              "has one", hint="Pad with mode='constant', or build the padding from slices of x "
                              "and np.concatenate, whose gradients sourcegrad knows.")


@helper
def pad_jvp(tangent, pad_width, mode):
    """The tangent of np.pad(x, pad_width, mode) from x's, mode known only at run time: the tangent padded with 0,
    for mode "constant" alone (as pad_grad)."""
    _check_pad_mode(mode)
    return array_namespace(tangent).pad(tangent, pad_width)


@helper
def pad_constant_grad(grad, x, pad_width, constant_values):
    """d np.pad(x, pad_width, constant_values=c)/dc for one number c: the sum of grad outside the interior."""
    if len(_shape(constant_values)) or isinstance(constant_values, (tuple, list)):
        raise SourcegradError("np.pad's constant_values carries a gradient only as one number, not one per axis",
                              hint="Pass the per-axis values as constants, or pad with one value.")
    grad = as_array_like(grad, x)
    return grad.sum() - grad[_interior(grad, x, pad_width)].sum()


@helper
def roll_grad(grad, shift, axis):
    """d np.roll(x, shift, axis)/dx: grad rolled back (np.roll makes a new array)."""
    if isinstance(shift, (tuple, list)):
        back = tuple(-operator.index(s) for s in shift)
    elif hasattr(shift, "shape"):
        back = -shift
    else:
        back = -operator.index(shift)
    grad = as_array_like(grad, grad)
    return array_namespace(grad).roll(grad, back, axis)


@helper
def diag_grad(grad, v, k):
    """d np.diag(v, k)/dv: the k-th diagonal of grad for a 1-D v; grad placed on v's k-th diagonal for a 2-D v."""
    xp = array_namespace(grad, v)
    if len(_shape(v)) == 1:
        return xp.diagonal(grad, k).copy()  # np.diagonal gives a read-only view
    rows, cols = _shape(v)
    out = xp.zeros((rows, cols), dtype=as_array_like(grad, v).dtype)
    length = grad.shape[0]
    start_row, start_col = max(-k, 0), max(k, 0)
    index = xp.arange(length)
    out[index + start_row, index + start_col] = grad
    return out


@helper
def diagonal_grad(grad, x, offset, axis1, axis2):
    """d np.diagonal(x, offset, axis1, axis2)/dx: zeros like x, with grad (whose last axis is the diagonal) on it."""
    grad = as_array_like(grad, x)
    xp = array_namespace(grad, x)
    shape = _shape(x)
    out = xp.zeros(shape, dtype=float_dtype(x, grad))
    moved = xp.moveaxis(out, (_axis(axis1, len(shape)), _axis(axis2, len(shape))), (-2, -1))  # a view of out
    offset = operator.index(offset)
    index = xp.arange(grad.shape[-1])
    moved[..., index + max(-offset, 0), index + max(offset, 0)] = grad  # above the diagonal for a positive offset
    return out


@helper
def astype_grad(grad, x, dtype):
    """d x.astype(dtype)/dx: grad in x's dtype (a new array); 0 when dtype is not floating (an integer cast is flat)."""
    xp = array_namespace(grad, x)
    target = getattr(x, "dtype", None)
    if dtype is not None and numpy.dtype(dtype).kind not in "fc":  # a dtype is host metadata, for cupy too
        return xp.zeros(_shape(x), dtype=target if target is not None and target.kind in "fc" else float)
    grad = as_array_like(grad, x)
    if target is None or target.kind not in "fc":
        return grad.copy()
    return grad.astype(target)  # astype copies


@helper
def astype_jvp(tangent, dtype):
    """The tangent of x.astype(dtype) from x's: the tangent cast to dtype, or integer zeros for an integer or boolean
    dtype (the cast is flat: forward mode gives such values zeros of their own dtype). dtype None: the tangent."""
    if dtype is None:
        return tangent
    xp = array_namespace(tangent)
    if numpy.dtype(dtype).kind not in "fc":  # a dtype is host metadata, for cupy too
        return xp.zeros(_shape(tangent), dtype=dtype)
    return xp.asarray(tangent, dtype=dtype)


@helper
def linspace_grad(grad, end, num, endpoint, axis, is_stop, retstep):
    """The gradient of np.linspace's start (is_stop False) or stop: each sample is start + t * (stop - start)
    with t = i / (num - 1) (or i / num without the endpoint), so it weighs the samples' gradients by 1 - t or t,
    summed along the samples' axis and back to the end point's shape."""
    if retstep:
        raise SourcegradError("np.linspace(..., retstep=True) returns a pair; its gradient is not supported",
                              hint="Compute the step as (stop - start) / (num - 1) yourself.")
    module = array_namespace(grad)
    intervals = num - 1 if endpoint else num
    t = module.arange(num, dtype=grad.dtype) / intervals if intervals > 0 else module.zeros(num, dtype=grad.dtype)
    axis = axis % grad.ndim
    shape = [1] * grad.ndim
    shape[axis] = num
    t = t.reshape(shape)
    weighted = module.sum(grad * (t if is_stop else 1 - t), axis=axis)
    return unbroadcast(weighted, end)



@helper
def linspace_jvp(start, stop, num, endpoint, retstep, dtype, axis):
    """np.linspace(start, stop, num, endpoint, dtype=dtype, axis=axis) of a tangent and zeros, retstep known only at
    run time: np.linspace is linear in its two end points, so that is the tangent. retstep=True is refused, as by
    linspace_grad."""
    if retstep:
        raise SourcegradError("np.linspace(..., retstep=True) returns a pair; its derivative is not supported",
                              hint="Compute the step as (stop - start) / (num - 1) yourself.")
    return array_namespace(start, stop).linspace(start, stop, num, endpoint, dtype=dtype, axis=axis)
