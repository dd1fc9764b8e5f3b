"""Runtime helpers for the linalg gradient rules (array methods and operators only: numpy and cupy alike).

The rules in sourcegrad/templates/linalg.py write the plain matrix case out; these helpers take every
other rank (batches, vectors, tensors) and the arguments only known when the code runs (einsum's
subscripts, tensordot's axes, norm's ord and axis), and the decompositions (cholesky, eigh, qr, svd,
slogdet, pinv), whose gradients are too long to write out in a rule.
"""

from __future__ import annotations

import importlib
import operator
import string

import numpy

from ..errors import SourcegradError
from .core import array_namespace, as_array_like, dot_grad_left, dot_grad_right, helper, unbroadcast


def _xp(*values):
    return array_namespace(*values)


def _ndim(value):
    return getattr(value, "ndim", 0)


@helper
def swap_last_axes(x):
    """The transpose of each matrix in a stack: x with its last two axes swapped."""
    return x.swapaxes(-1, -2)


# ---- inner, outer, tensordot ---------------------------------------------------------------------------


@helper
def inner_grad_left(grad, x, y):
    """d(np.inner(x, y))/dx for any ranks: the result's axes are x's leading axes, then y's."""
    if _ndim(x) == 0 or _ndim(y) == 0:  # np.inner with a scalar is a product
        return unbroadcast(as_array_like(grad, x) * y, x)
    grad = as_array_like(grad, x)
    p, q = _ndim(x), _ndim(y)
    # contract grad's trailing (y-leading) axes with y's leading axes: leaves x's leading axes + the shared axis
    return _xp(grad, y).tensordot(grad, y, axes=(list(range(p - 1, p + q - 2)), list(range(q - 1))))


@helper
def inner_grad_right(grad, x, y):
    if _ndim(x) == 0 or _ndim(y) == 0:
        return unbroadcast(as_array_like(grad, y) * x, y)
    grad = as_array_like(grad, y)
    p = _ndim(x)
    return _xp(grad, x).tensordot(grad, x, axes=(list(range(p - 1)), list(range(p - 1))))


@helper
def outer_grad_left(grad, x, y):
    """d(np.outer(x, y))/dx: np.outer flattens both operands, so the gradient is reshaped back."""
    y = as_array_like(y, grad).reshape(-1)
    return (grad @ y).reshape(getattr(x, "shape", ()))


@helper
def outer_grad_right(grad, x, y):
    x = as_array_like(x, grad).reshape(-1)
    return (x @ grad).reshape(getattr(y, "shape", ()))


def _tensordot_axes(axes, x_ndim, y_ndim):
    """np.tensordot's `axes` as two lists of non-negative axes, paired in order."""
    if isinstance(axes, int):
        return list(range(x_ndim - axes, x_ndim)), list(range(axes))
    x_axes, y_axes = axes
    x_axes = [x_axes] if isinstance(x_axes, int) else list(x_axes)
    y_axes = [y_axes] if isinstance(y_axes, int) else list(y_axes)
    return [a % x_ndim for a in x_axes], [a % y_ndim for a in y_axes]


def _argsort(order):
    inverse = [0] * len(order)
    for position, axis in enumerate(order):
        inverse[axis] = position
    return tuple(inverse)


@helper
def tensordot_grad_left(grad, x, y, axes):
    """d(np.tensordot(x, y, axes))/dx: contract grad with y's free axes, then put x's axes back in order."""
    x, y = as_array_like(x, grad), as_array_like(y, grad)  # a Python number operand (axes=0): a 0-d array
    x_axes, y_axes = _tensordot_axes(axes, x.ndim, y.ndim)
    x_free = [a for a in range(x.ndim) if a not in x_axes]
    y_free = [a for a in range(y.ndim) if a not in y_axes]
    grad = as_array_like(grad, x)
    # grad's axes: x_free, then y_free; contracting its y_free axes with y's leaves x_free + y's
    # contracted axes in y's own order, each standing for the x axis it was paired with.
    partial = _xp(grad, y).tensordot(grad, y, axes=(list(range(len(x_free), grad.ndim)), y_free))
    paired = {b: a for a, b in zip(x_axes, y_axes)}
    order = x_free + [paired[b] for b in sorted(y_axes)]
    return partial.transpose(_argsort(order))


@helper
def tensordot_grad_right(grad, x, y, axes):
    x, y = as_array_like(x, grad), as_array_like(y, grad)
    x_axes, y_axes = _tensordot_axes(axes, x.ndim, y.ndim)
    x_free = [a for a in range(x.ndim) if a not in x_axes]
    y_free = [a for a in range(y.ndim) if a not in y_axes]
    grad = as_array_like(grad, y)
    partial = _xp(grad, x).tensordot(x, grad, axes=(x_free, list(range(len(x_free)))))
    paired = dict(zip(x_axes, y_axes))
    order = [paired[a] for a in sorted(x_axes)] + y_free
    return partial.transpose(_argsort(order))


@helper
def dot_nd_grad_left(grad, x, y):
    """d(np.dot(x, y))/dx for any ranks. Above two dimensions np.dot is not a batched matmul: it sums x's last
    axis against y's second-to-last, every other axis of both kept, which is np.tensordot with those axes."""
    if _ndim(x) <= 2 and _ndim(y) <= 2:
        return dot_grad_left(grad, x, y)
    return tensordot_grad_left(grad, x, y, _dot_axes(x, y))


@helper
def dot_nd_grad_right(grad, x, y):
    if _ndim(x) <= 2 and _ndim(y) <= 2:
        return dot_grad_right(grad, x, y)
    return tensordot_grad_right(grad, x, y, _dot_axes(x, y))


def _dot_axes(x, y):
    if not _ndim(x) or not _ndim(y):  # np.dot with a number is a product: tensordot over no axes
        return 0
    return [_ndim(x) - 1], [max(_ndim(y) - 2, 0)]


# ---- kron and cross ------------------------------------------------------------------------------------


def _kron_parts(grad, a, b):
    """grad of np.kron(a, b) with each result axis split into (a's axis, b's axis), both operands given the
    same rank as np.kron gives them (ones prepended): result[i*p + k] = a[i] * b[k] along each axis."""
    a, b = as_array_like(a, grad), as_array_like(b, grad)
    rank = max(a.ndim, b.ndim)
    a_shape = (1,) * (rank - a.ndim) + a.shape
    b_shape = (1,) * (rank - b.ndim) + b.shape
    interleaved = tuple(n for pair in zip(a_shape, b_shape) for n in pair)
    return as_array_like(grad, a).reshape(interleaved), a.reshape(a_shape), b.reshape(b_shape)


@helper
def kron_grad_left(grad, a, b):
    """d(np.kron(a, b))/da: each entry of a meets all of b, in its own block of the result."""
    parts, _, b_full = _kron_parts(grad, a, b)
    rank = b_full.ndim
    da = _xp(grad, b).tensordot(parts, b_full, axes=(list(range(1, 2 * rank, 2)), list(range(rank))))
    return da.reshape(getattr(a, "shape", ()))


@helper
def kron_grad_right(grad, a, b):
    parts, a_full, _ = _kron_parts(grad, a, b)
    rank = a_full.ndim
    db = _xp(grad, a).tensordot(a_full, parts, axes=(list(range(rank)), list(range(0, 2 * rank, 2))))
    return db.reshape(getattr(b, "shape", ()))


def _cross_vectors(grad, a, b, axisa, axisb, axisc):
    """The array module, and a, b and grad with their vector axes last."""
    a, b = as_array_like(a, grad), as_array_like(b, grad)
    xp = _xp(grad, a, b)
    a, b = xp.moveaxis(a, axisa, -1), xp.moveaxis(b, axisb, -1)
    if a.shape[-1] != 3 or b.shape[-1] != 3:
        raise SourcegradError("np.cross of 2-element vectors has no gradient rule (numpy 2 deprecates them)",
                              hint="Append a zero to make 3-element vectors: the cross product's last entry is the "
                                   "2-D one.")
    return xp, a, b, xp.moveaxis(as_array_like(grad, a), axisc, -1)


@helper
def cross_grad_left(grad, a, b, axisa, axisb, axisc, axis):
    """d(np.cross(a, b))/da: <g, a x b> = <b x g, a>, summed back over broadcast axes."""
    if axis is not None:  # np.cross's axis overrides the other three
        axisa = axisb = axisc = axis
    xp, a_last, b_last, g = _cross_vectors(grad, a, b, axisa, axisb, axisc)
    return xp.moveaxis(unbroadcast(xp.cross(b_last, g), a_last), -1, axisa)


@helper
def cross_grad_right(grad, a, b, axisa, axisb, axisc, axis):
    """d(np.cross(a, b))/db: <g, a x b> = <g x a, b>."""
    if axis is not None:
        axisa = axisb = axisc = axis
    xp, a_last, b_last, g = _cross_vectors(grad, a, b, axisa, axisb, axisc)
    return xp.moveaxis(unbroadcast(xp.cross(g, a_last), b_last), -1, axisb)


# ---- einsum ------------------------------------------------------------------------------------------------


def _einsum_parse(subscripts, operands):
    """(input subscripts, output subscripts) with `...` kept, the implicit output made explicit."""
    subscripts = subscripts.replace(" ", "")
    if "->" in subscripts:
        inputs, output = subscripts.split("->")
        inputs = inputs.split(",")
    else:
        inputs = subscripts.split(",")
        letters = "".join(s.replace("...", "") for s in inputs)
        # numpy's implicit mode: the letters used exactly once, in alphabetical order, after any broadcast axes
        output = ("..." if any("..." in s for s in inputs) else "") + "".join(
            sorted(c for c in set(letters) if letters.count(c) == 1))
    if len(inputs) != len(operands):
        raise ValueError(f"einsum subscripts {subscripts!r} name {len(inputs)} operands, {len(operands)} given")
    return inputs, output


def _einsum_sizes(term, operand):
    """letter -> size for the letters of one input term (the `...` axes skipped)."""
    shape = getattr(operand, "shape", ())
    if "..." in term:
        head, tail = term.split("...")
        dims = list(zip(head, shape[:len(head)])) + list(zip(tail, shape[len(shape) - len(tail):]))
    else:
        dims = list(zip(term, shape))
    return dict(dims)


@helper
def einsum_grad(grad, subscripts, index, *operands):
    """The gradient of operand `index` of np.einsum(subscripts, *operands): another einsum.

    The gradient of operand k is the einsum of the output gradient with the other operands, written
    to operand k's subscripts. Two things einsum cannot write directly are added as operands:
    - a letter repeated in operand k (the trace 'ii->', the diagonal 'ii->i'): the gradient lies on
      that diagonal, so each repetition gets a fresh letter tied to the first by an identity matrix;
    - a letter only operand k has (summed over in 'ij->i' or 'ij->'): the gradient is the same along
      it, so a vector of ones gives the output that axis.
    Broadcast (`...`) axes are computed at the broadcast shape, then summed back to operand k's shape.
    """
    inputs, output = _einsum_parse(subscripts, operands)
    x = operands[index]
    xp = _xp(grad, *operands)
    grad = as_array_like(grad, x)
    term = inputs[index]
    used = set("".join(inputs) + output)
    fresh = iter(c for c in string.ascii_letters if c not in used)
    # a letter's size is its largest among the operands: einsum stretches a size-1 axis as broadcasting does
    sizes = {}
    for t, operand in zip(inputs + [output], list(operands) + [grad]):
        for c, n in _einsum_sizes(t, operand).items():
            sizes[c] = max(n, sizes.get(c, 1))
    dtype = xp.result_type(*[o for o in operands if hasattr(o, "dtype")], grad)

    terms = [output] + [t for i, t in enumerate(inputs) if i != index]
    arrays = [grad] + [o for i, o in enumerate(operands) if i != index]
    # the output term: operand k's letters, each repetition renamed and tied to its first by eye(n)
    target, seen = [], set()
    for part in term.split("...") if "..." in term else [term]:
        letters = []
        for c in part:
            if c in seen:
                tied = next(fresh)
                terms.append(c + tied)
                arrays.append(xp.eye(sizes[c], dtype=dtype))
                letters.append(tied)
            else:
                seen.add(c)
                letters.append(c)
        target.append("".join(letters))
    present = set("".join(terms))
    for c in sorted(seen - present):
        terms.append(c)
        arrays.append(xp.ones(sizes[c], dtype=dtype))
    head, tail = target if "..." in term else (target[0], "")
    if not any("..." in t for t in terms):  # no broadcast axes anywhere (operand k's `...`, if any, is empty)
        return _sum_stretched(xp.einsum(",".join(terms) + "->" + head + tail, *arrays), x)
    # the broadcast axes first, at the broadcast shape; then summed back to operand k's own from the left
    full = xp.einsum(",".join(terms) + "->..." + head + tail, *arrays)
    n_ell = x.ndim - len(head) - len(tail)
    n_full = full.ndim - len(head) - len(tail)
    if n_full > n_ell:
        full = full.sum(axis=tuple(range(n_full - n_ell)))
    ell_shape = x.shape[len(head):len(head) + n_ell]
    stretched = tuple(i for i, n in enumerate(ell_shape) if n == 1 and full.shape[i] != 1)
    if stretched:
        full = full.sum(axis=stretched, keepdims=True)
    lead = n_ell
    # move the broadcast axes from the front to where `...` stands in operand k
    order = list(range(lead, lead + len(head))) + list(range(lead)) + list(range(lead + len(head), full.ndim))
    return _sum_stretched(full.transpose(order), x)


def _sum_stretched(grad, x):
    """grad at x's shape where einsum broadcast a size-1 axis: summed over the axes where x has size 1 and
    another operand stretched it; spread over the axes where x stretched another operand's size 1 (no
    other operand then carries that axis, so every position along it gets the same gradient)."""
    shape = numpy.shape(x)  # a Python number's is ()
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    if grad.shape != shape:
        grad = grad + _xp(grad).zeros(shape, dtype=grad.dtype)
    return grad


def _einsum_letters(arguments):
    """np.einsum's interleaved form, einsum(x, [0, 1], y, [1, 2], [0, 2]), as (subscripts string, operands)."""
    output = arguments[-1] if len(arguments) % 2 == 1 else None  # an odd count ends with the output's sublist
    if output is not None:
        arguments = arguments[:-1]
    operands, sublists = list(arguments[0::2]), list(arguments[1::2])
    letters = string.ascii_letters

    def term(sublist):
        return "".join("..." if label is Ellipsis else letters[operator.index(label)] for label in sublist)

    subscripts = ",".join(term(s) for s in sublists)
    if output is not None:
        subscripts += "->" + term(output)
    return subscripts, operands


@helper
def einsum_operand_grad(grad, position, *arguments):
    """The gradient of the positional argument `position` of np.einsum(*arguments), in either form:
    the subscripts string then the operands, or the interleaved operand, sublist, operand, sublist, ...
    The rule passes unused parameters as None; they are dropped here."""
    while arguments and arguments[-1] is None:
        arguments = arguments[:-1]
    if isinstance(arguments[0], str):
        return einsum_grad(grad, arguments[0], position - 1, *arguments[1:])
    subscripts, operands = _einsum_letters(arguments)
    return einsum_grad(grad, subscripts, position // 2, *operands)


# ---- trace -------------------------------------------------------------------------------------------------


@helper
def trace_grad(grad, x, offset, axis1, axis2):
    """d(np.trace(x, offset, axis1, axis2))/dx: the gradient of each trace spread over its diagonal."""
    xp = _xp(grad, x)
    axis1, axis2 = axis1 % x.ndim, axis2 % x.ndim
    eye = xp.eye(x.shape[axis1], x.shape[axis2], k=offset, dtype=x.dtype)
    spread = as_array_like(grad, x)[..., None, None] * eye  # the trace's axes, then (axis1, axis2)
    return xp.moveaxis(spread, (-2, -1), (axis1, axis2))


# ---- norms -------------------------------------------------------------------------------------------------


@helper
def norm_divisor(norm):
    """The norm to divide by, with 1 where it is 0: there the gradient x / |x| is taken to be 0.

    The norm has no derivative at x = 0; every vector of length <= 1 is a subgradient there, and 0, the
    shortest, is what the gradient rules return (x is 0 there, so x / 1 is 0), never nan.
    """
    return norm + (norm == 0)


def _keep(value, x, axes, keepdims):
    """A reduction's result with the reduced axes put back as length 1, to broadcast against x."""
    value = as_array_like(value, x)
    if keepdims:
        return value
    shape = list(value.shape)
    for a in sorted(axes):
        shape.insert(a, 1)
    return value.reshape(tuple(shape))


def _spread(mask, axes, dtype):
    """Share the gradient evenly among tied maxima (a subgradient of max): mask / its count."""
    mask = mask.astype(dtype)
    return mask / mask.sum(axis=axes, keepdims=True)


@helper
def norm_grad(grad, norm, x, ord, axis, keepdims):
    """d(np.linalg.norm(x, ord, axis, keepdims))/dx for every ord numpy accepts.

    Where the norm is not differentiable the result is a subgradient: 0 at x = 0 for the 2-norm and the
    p-norms, sign(x) (0 where x is 0) for the 1-norm, the gradient shared evenly among tied entries for
    the max and min norms and the matrix 1- and inf-norms, and the top singular pair numpy's svd picks
    for the spectral norm when singular values tie.
    """
    if isinstance(x, (list, tuple)):  # numpy's conversion; the gradient's rows are then the items' gradients
        x = _xp(grad, *x).stack([as_array_like(item, grad) for item in x])
    xp = _xp(grad, x)
    nd = x.ndim
    if axis is None:
        if ord is None:
            return _keep(grad / norm_divisor(norm), x, range(nd), keepdims) * x
        axes = tuple(range(nd))
    else:
        axes = tuple(axis) if isinstance(axis, (tuple, list)) else (operator.index(axis),)  # np.int64 too
        axes = tuple(a % nd for a in axes)
    g = _keep(grad, x, axes, keepdims)
    r = _keep(norm, x, axes, keepdims)
    if len(axes) == 1:
        return g * _vector_norm_grad(xp, x, r, ord, axes)
    if len(axes) == 2:
        return g * _matrix_norm_grad(xp, x, r, ord, axes)
    raise ValueError(f"np.linalg.norm over {len(axes)} axes has no gradient rule (numpy refuses it too)")


def _vector_norm_grad(xp, x, r, ord, axes):
    if ord is None or ord == 2:
        return x / norm_divisor(r)
    if ord == 1:
        return xp.sign(x)
    if ord == 0:
        return xp.zeros_like(x)  # a count of nonzeros: constant almost everywhere
    if ord in (float("inf"), float("-inf")):
        return xp.sign(x) * _spread(abs(x) == r, axes, x.dtype)
    if isinstance(ord, str):
        raise ValueError(f"invalid norm order {ord!r} for vectors")
    # |x|_p = (sum |x|^p)^(1/p): the gradient is sign(x) |x|^(p-1) / |x|_p^(p-1)
    return xp.sign(x) * (abs(x) / norm_divisor(r)) ** (ord - 1)


def _matrix_norm_grad(xp, x, r, ord, axes):
    row, col = axes
    if ord is None or ord == "fro":
        return x / norm_divisor(r)
    if ord in (1, -1):  # the largest (smallest) sum of absolute values of a column
        sums = abs(x).sum(axis=row, keepdims=True)
        return xp.sign(x) * _spread(sums == r, axes, x.dtype)
    if ord in (float("inf"), float("-inf")):  # of a row
        sums = abs(x).sum(axis=col, keepdims=True)
        return xp.sign(x) * _spread(sums == r, axes, x.dtype)
    if ord in (2, -2, "nuc"):
        # singular values of the matrices over (row, col): move those axes last for svd
        m = xp.moveaxis(x, (row, col), (-2, -1))
        u, s, vh = xp.linalg.svd(m, full_matrices=False)
        if ord == "nuc":
            g = u @ vh
        else:
            k = 0 if ord == 2 else s.shape[-1] - 1
            g = u[..., :, k:k + 1] @ vh[..., k:k + 1, :]
        return xp.moveaxis(g, (-2, -1), (row, col))
    raise ValueError(f"invalid norm order {ord!r} for matrices")


# ---- inverse, determinant, solve ---------------------------------------------------------------------


@helper
def det_grad(grad, x):
    """d(det(x))/dx is the transposed adjugate of x, for a matrix or a stack of them.

    For an invertible x that is det(x) * inv(x)^T, but a singular x has an adjugate too (nonzero at rank
    n - 1), so it is computed from the SVD x = U diag(s) V^T: adj(x)^T = det(U) det(V) U diag(p) V^T, where
    p_i is the product of every singular value but s_i.
    """
    xp = _xp(grad, x)
    u, s, vt = xp.linalg.svd(x)
    ones = xp.ones_like(s[..., :1])
    before = xp.cumprod(xp.concatenate([ones, s[..., :-1]], axis=-1), axis=-1)  # s_0 ... s_{i-1}
    after = xp.flip(xp.cumprod(xp.flip(xp.concatenate([s[..., 1:], ones], axis=-1), axis=-1), axis=-1), axis=-1)
    others = before * after  # the product of all singular values but s_i, without dividing by s_i
    scale = as_array_like(grad, x) * xp.linalg.det(u) * xp.linalg.det(vt)
    return scale[..., None, None] * ((u * others[..., None, :]) @ vt)


def _solve_is_vector(a, result):
    """Whether np.linalg.solve(a, b) solved for vectors: its result then has one axis fewer than a.

    (numpy 2 takes b as vectors only when b is 1-D, numpy 1 and cupy also when b.ndim == a.ndim - 1;
    a result of matrices always has at least a's rank, so the result's rank tells either way.)
    """
    return result.ndim == a.ndim - 1


def broadcast_solve(solve, xp, a, b):
    """solve(a, b) as numpy 2's np.linalg.solve: batch axes broadcast, and b a vector only when it is 1-D.
    cupy's solve wants equal batch axes, so they are broadcast here, for numpy alike."""
    if b.ndim == 1:
        return broadcast_solve(solve, xp, a, b[:, None])[..., 0]
    batch = numpy.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    if a.shape[:-2] != batch:
        a = xp.broadcast_to(a, batch + a.shape[-2:])
    if b.shape[:-2] != batch:
        b = xp.broadcast_to(b, batch + b.shape[-2:])
    return solve(a, b)


@helper
def solve_grad_right(grad, a, b, result):
    """d(np.linalg.solve(a, b))/db = solve(a^T, grad), summed back over broadcast batch axes."""
    xp = _xp(grad, a, b)
    grad = as_array_like(grad, result)
    if _solve_is_vector(a, result):
        db = broadcast_solve(xp.linalg.solve, xp, a.swapaxes(-1, -2), grad[..., None])[..., 0]
    else:
        db = broadcast_solve(xp.linalg.solve, xp, a.swapaxes(-1, -2), grad)
    return unbroadcast(db, b)


@helper
def solve_grad_left(grad, a, b, result):
    """d(np.linalg.solve(a, b))/da = -solve(a^T, grad) @ result^T, summed back over broadcast batch axes."""
    xp = _xp(grad, a, b)
    grad = as_array_like(grad, result)
    if _solve_is_vector(a, result):
        db = broadcast_solve(xp.linalg.solve, xp, a.swapaxes(-1, -2), grad[..., None])
        da = -(db @ result[..., None, :])
    else:
        db = broadcast_solve(xp.linalg.solve, xp, a.swapaxes(-1, -2), grad)
        da = -(db @ result.swapaxes(-1, -2))
    return unbroadcast(da, a)


# ---- decompositions ----------------------------------------------------------------------------------------
# slogdet, eigh, qr and svd return several arrays, and the gradient of their result is a list with one entry
# per array (zeros for those the function never used). These need the conditions under which the
# decomposition is smooth: invertible matrices, distinct eigenvalues and singular values, full rank.


def _eye_like(x):
    """The identity matrix of x's last axis, in x's dtype (it broadcasts over a stack)."""
    return _xp(x).eye(x.shape[-1], dtype=x.dtype)


def from_triangle(symmetric_grad, upper):
    """The gradient with respect to a matrix of which only one triangle is read (cholesky, eigh).

    symmetric_grad is the gradient with respect to the symmetric matrix built from that triangle: an
    entry off the diagonal stands for itself and its mirror, so it gets both their gradients, and the
    triangle not read gets none, as finite differences of numpy's function see it.
    """
    xp = _xp(symmetric_grad)
    both = symmetric_grad + swap_last_axes(symmetric_grad)
    triangle = xp.triu(both) if upper else xp.tril(both)
    return triangle - symmetric_grad * _eye_like(symmetric_grad)


def _pair_reciprocals(values):
    """F[..., i, j] = 1 / (values_j - values_i) off the diagonal, 0 on it (values assumed distinct)."""
    eye = _xp(values).eye(values.shape[-1], dtype=values.dtype)
    differences = values[..., None, :] - values[..., :, None]
    return (1 - eye) / (differences + eye)


def _reciprocals_times(reciprocals, m):
    """reciprocals * m, 0 where m is 0: where only the values (eigen- or singular) carry a gradient, m is 0, and a
    repeated value's infinite reciprocal must not turn that 0 into nan (their gradient exists)."""
    return _xp(m).where(m == 0, 0, reciprocals * m)


def _diagonal_matrix(values):
    return values[..., None, :] * _xp(values).eye(values.shape[-1], dtype=values.dtype)


@helper
def slogdet_grad(grad, a):
    """d(np.linalg.slogdet(a).logabsdet)/da = inv(a)^T; the sign is constant wherever it has a derivative."""
    xp = _xp(a)
    logabsdet_grad = as_array_like(grad[1], a)
    return logabsdet_grad[..., None, None] * swap_last_axes(xp.linalg.inv(a))


@helper
def cholesky_grad(grad, result, upper):
    """d(np.linalg.cholesky(a))/da, with a = L L^T read from its lower triangle (its upper one for upper=True).

    For symmetric changes of a, dL = L phi(L^-1 da L^-T), phi taking the lower triangle with half the
    diagonal; so the gradient is L^-T phi(L^T grad_L) L^-1, given to the triangle numpy reads.
    """
    xp = _xp(grad, result)
    grad = as_array_like(grad, result)
    lower, lower_grad = (swap_last_axes(result), swap_last_axes(grad)) if upper else (result, grad)
    product = swap_last_axes(lower) @ lower_grad
    phi = xp.tril(product) - 0.5 * product * _eye_like(product)
    left = xp.linalg.solve(swap_last_axes(lower), phi)  # L^-T phi
    symmetric_grad = swap_last_axes(xp.linalg.solve(swap_last_axes(lower), swap_last_axes(left)))  # ... L^-1
    return from_triangle(symmetric_grad, upper)


@helper
def eigh_grad(grad, result, a, UPLO):
    """d(np.linalg.eigh(a))/da for distinct eigenvalues, a read from the triangle UPLO names.

    With a = V diag(w) V^T: the gradient with respect to a symmetric a is
    V (diag(grad_w) + F * (V^T grad_V)) V^T, F[i, j] = 1 / (w_j - w_i) off the diagonal.
    """
    values, vectors = result
    values_grad, vectors_grad = (as_array_like(g, a) for g in grad)
    inner = _diagonal_matrix(values_grad) + _reciprocals_times(_pair_reciprocals(values),
                                                               swap_last_axes(vectors) @ vectors_grad)
    symmetric_grad = vectors @ inner @ swap_last_axes(vectors)
    return from_triangle(symmetric_grad, upper=UPLO in ("U", "u"))


@helper
def qr_grad(grad, result, a, mode):
    """d(np.linalg.qr(a))/da for the reduced QR of a square or tall matrix of full rank (mode 'r': R alone, mode
    'complete' of a square matrix: the reduced QR).

    With M = R grad_R^T - grad_Q^T Q: (grad_Q + Q copyltu(M)) R^-T, copyltu(M) the symmetric matrix with M's
    lower triangle.
    """
    square = a.shape[-2] == a.shape[-1]
    if a.shape[-2] < a.shape[-1] or not (mode in ("reduced", "r") or (mode == "complete" and square)):
        raise SourcegradError("np.linalg.qr has a gradient rule only for mode='reduced' or 'r' of a square or tall "
                              "matrix", hint="Take the QR of the transpose for a wide matrix; the extra columns of "
                                             "mode='complete' are not unique.")
    xp = _xp(a)
    if mode == "r":  # R alone, and its gradient: Q is the reduced QR's, and has none
        r, r_grad = result, as_array_like(grad, a)
        q = xp.linalg.qr(a)[0]
        q_grad = xp.zeros_like(q)
    else:
        q, r = result
        q_grad, r_grad = (as_array_like(g, a) for g in grad)
    m = r @ swap_last_axes(r_grad) - swap_last_axes(q_grad) @ q
    copyltu = xp.tril(m) + swap_last_axes(xp.tril(m, -1))
    left = q_grad + q @ copyltu
    return swap_last_axes(xp.linalg.solve(r, swap_last_axes(left)))  # left R^-T


@helper
def svd_grad(grad, result, a, full_matrices, compute_uv, hermitian):
    """d(np.linalg.svd(a))/da for distinct nonzero singular values (Townsend, "Differentiating the SVD").

    With a = U diag(s) V^T, F[i, j] = 1 / (s_j^2 - s_i^2) off the diagonal, J = F * (U^T grad_U - grad_U^T U),
    K = F * (V^T grad_V - grad_V^T V): U (J S + diag(grad_s) + S K) V^T, plus the parts of grad_U and grad_V
    outside the spans of U and V, (I - U U^T) grad_U S^-1 V^T + U S^-1 grad_V^T (I - V V^T).
    """
    xp = _xp(a)
    if hermitian:
        raise SourcegradError("np.linalg.svd(..., hermitian=True) has no gradient rule",
                              hint="Leave hermitian=False, or use np.linalg.eigh for a symmetric matrix.")
    if not compute_uv:  # the singular values alone: U diag(grad_s) V^T
        u, _, vh = xp.linalg.svd(a, full_matrices=False)
        return (u * as_array_like(grad, a)[..., None, :]) @ vh
    if full_matrices and a.shape[-2] != a.shape[-1]:
        raise SourcegradError("np.linalg.svd of a non-square matrix has a gradient rule only with full_matrices=False",
                              hint="Write np.linalg.svd(x, full_matrices=False): the extra singular vectors of "
                                   "full_matrices=True are not unique.")
    u, s, vh = result
    u_grad, s_grad, vh_grad = (as_array_like(g, a) for g in grad)
    ut_du = swap_last_axes(u) @ u_grad
    vt_dv = vh @ swap_last_axes(vh_grad)
    f = _pair_reciprocals(s * s)
    j = _reciprocals_times(f, ut_du - swap_last_axes(ut_du))
    k = _reciprocals_times(f, vt_dv - swap_last_axes(vt_dv))
    inner = j * s[..., None, :] + _diagonal_matrix(s_grad) + s[..., :, None] * k
    da = u @ inner @ vh
    u_scaled = _reciprocals_times(1 / s[..., None, :], u_grad)  # grad_U S^-1
    da = da + (u_scaled - u @ (swap_last_axes(u) @ u_scaled)) @ vh
    vh_scaled = _reciprocals_times(1 / s[..., :, None], vh_grad)  # S^-1 grad_V^T
    return da + u @ (vh_scaled - (vh_scaled @ swap_last_axes(vh)) @ vh)


@helper
def pinv_grad(grad, a, result, hermitian):
    """d(np.linalg.pinv(a))/da for a of full rank (pinv is smooth only where the rank does not change).

    With P = pinv(a) (Golub and Pereyra): -P^T G P^T + (I - a P) G^T P P^T + P^T P G^T (I - P a),
    the projections applied as products rather than built as identity matrices.
    """
    grad = as_array_like(grad, result)
    if hermitian:  # the matrix numpy took the pseudo-inverse of: the upper triangle may differ from the lower
        a = symmetric_part(a, upper=False)
    p, p_t, g_t = result, swap_last_axes(result), swap_last_axes(grad)
    da = -(p_t @ grad @ p_t)
    left = g_t @ (p @ p_t)  # G^T P P^T, then (I - a P) in front
    da = da + left - a @ (p @ left)
    right = (p_t @ p) @ g_t  # P^T P G^T, then (I - P a) behind
    da = da + right - (right @ p) @ a
    if hermitian:  # numpy reads the lower triangle of a hermitian a
        return from_triangle(da, upper=False)
    return da


# ---- forward mode: tangents (jvp) of the functions above whose tangent does not fit in a rule ---------------------


@helper
def einsum_operand_jvp(tangent, position, *arguments):
    """np.einsum(*arguments) with its positional argument `position` replaced by that argument's tangent: einsum is
    linear in each operand, in either form (subscripts then operands, or operands interleaved with their sublists).
    The rule passes unused parameters as None; they are dropped here."""
    while arguments and arguments[-1] is None:
        arguments = arguments[:-1]
    arguments = list(arguments)
    arguments[position] = tangent
    return _xp(*arguments).einsum(*arguments)


@helper
def einsum_operand_jvp_grad(grad, operand, position, tangent, *arguments):
    """For hvp: the gradient of einsum_operand_jvp(tangent, position, *arguments) with respect to arguments[operand].
    einsum is linear in each operand, so it is einsum's own gradient with the tangent in place `position`; the
    operand the tangent replaces does not enter at all, and gets zeros."""
    if operand == position:
        return _xp(arguments[operand]).zeros_like(arguments[operand])
    arguments = list(arguments)
    arguments[position] = tangent
    return einsum_operand_grad(grad, operand, *arguments)


@helper
def norm_jvp(tangent, norm, x, ord, axis, keepdims):
    """The tangent of np.linalg.norm(x, ord, axis, keepdims): the norm's derivative in each element (norm_grad's,
    subgradients and ties included) times that element's tangent, summed over the reduced axes."""
    if isinstance(x, (list, tuple)):  # numpy makes the list one array; the tangent is the list of the items' tangents
        xp = _xp(*x, *tangent)
        x = xp.stack([as_array_like(item, norm) for item in x])
        tangent = xp.stack([as_array_like(item, x) for item in tangent])
    xp = _xp(tangent, x)
    slope = norm_grad(xp.ones_like(as_array_like(norm, x)), norm, x, ord, axis, keepdims)
    if axis is None:
        axes = tuple(range(x.ndim))
    else:
        axes = tuple(axis) if isinstance(axis, (tuple, list)) else (operator.index(axis),)
    return (slope * tangent).sum(axis=axes, keepdims=keepdims)


@helper
def norm_jvp_grad(grad, tangent, norm, x, ord, axis, keepdims, part):
    """For hvp: the gradient of sum(grad * norm_jvp(tangent, norm, x, ord, axis, keepdims)) with respect to x (part
    "x") or to the norm it was handed (part "norm").

    norm_jvp sums slope * tangent over the reduced axes, slope being the norm's gradient. For a p-norm (the 2-norm
    and Frobenius norm among them) slope = sign(x) |x|^(p-1) / norm^(p-1), whose derivatives are
    (p-1) |x|^(p-2) / norm^(p-1) in x and -(p-1) sign(x) |x|^(p-1) / norm^p in the norm. The 1-, max-, min- and
    count norms and the matrix 1- and inf-norms are piecewise linear: no second derivative where they have a first.
    The spectral and nuclear norms' would need the singular vectors' derivatives: refused.
    """
    listed = isinstance(x, (list, tuple))
    if listed:  # numpy makes the list one array, as norm_jvp does
        xp = _xp(*x, *tangent)
        x = xp.stack([as_array_like(item, norm) for item in x])
        tangent = xp.stack([as_array_like(item, x) for item in tangent])
    xp = _xp(tangent, x)
    nd = x.ndim
    if axis is None:
        axes = tuple(range(nd))
        matrix = ord is not None and nd == 2
    else:
        axes = tuple(a % nd for a in (tuple(axis) if isinstance(axis, (tuple, list)) else (operator.index(axis),)))
        matrix = len(axes) == 2
    if matrix and ord in (2, -2, "nuc"):
        raise SourcegradError(f"no second derivative through np.linalg.norm(..., ord={ord!r}) of matrices yet: hvp "
                              "would need the singular vectors' derivatives",
                              hint="Take hvp of a function without it, or difference f.grad numerically.")
    p = 2 if ord is None or ord == "fro" else ord
    flat = p in (0, 1, -1, float("inf"), float("-inf")) if matrix else p in (0, 1, float("inf"), float("-inf"))
    if flat:
        zeros = xp.zeros_like(x) if part == "x" else xp.zeros_like(as_array_like(norm, x))
        return list(zeros) if listed and part == "x" else zeros
    # a zero norm (x = 0 there) divides as 1, as norm_grad's does: this is the derivative of the gradient
    # the rules return, and it keeps a norm that is 0 for every x (a distance matrix's diagonal) out of the sum
    g, r = _keep(grad, x, axes, keepdims), norm_divisor(_keep(norm, x, axes, keepdims))
    if part == "x":
        result = g * tangent * (p - 1) * abs(x) ** (p - 2) / r ** (p - 1)
        return list(result) if listed else result
    slope = xp.sign(x) * abs(x) ** (p - 1)
    return -(p - 1) * (g * tangent * slope).sum(axis=axes, keepdims=keepdims) / norm_divisor(as_array_like(norm, x)) ** p


@helper
def det_jvp(tangent, a):
    """The tangent of np.linalg.det(a): the sum of the tangent times the transposed adjugate (det_grad's), which a
    singular matrix has too."""
    return (det_grad(1.0, a) * tangent).sum(axis=(-2, -1))


@helper
def solve_jvp(tangent, a, result):
    """The tangent np.linalg.solve(a, b) gets from a's: -solve(a, da @ result), for vectors or matrices as numpy
    solved for (b's own tangent is np.linalg.solve(a, db), written out in the rule)."""
    xp = _xp(tangent, a)
    if _solve_is_vector(a, result):
        return -broadcast_solve(xp.linalg.solve, xp, a, tangent @ result[..., None])[..., 0]
    return -broadcast_solve(xp.linalg.solve, xp, a, tangent @ result)


def symmetric_part(m, upper):
    """The symmetric matrix of m's lower triangle (its upper one for upper): what numpy's cholesky and eigh read."""
    xp = _xp(m)
    if upper:
        return xp.triu(m) + swap_last_axes(xp.triu(m, 1))
    return xp.tril(m) + swap_last_axes(xp.tril(m, -1))


@helper
def pinv_jvp(tangent, a, result, hermitian):
    """The tangent of np.linalg.pinv(a) for a of full rank (Golub and Pereyra): with P = pinv(a),
    -P da P + P P^T da^T (I - a P) + (I - P a) da^T P^T P; a hermitian=True pinv reads a's lower triangle."""
    if hermitian:
        a, tangent = symmetric_part(a, upper=False), symmetric_part(tangent, upper=False)
    p, p_t, t_t = result, swap_last_axes(result), swap_last_axes(tangent)
    dp = -(p @ tangent @ p)
    left = (p @ p_t) @ t_t  # P P^T da^T, then (I - a P) behind
    dp = dp + left - (left @ a) @ p
    right = t_t @ (p_t @ p)  # da^T P^T P, then (I - P a) in front
    return dp + right - p @ (a @ right)


@helper
def cholesky_jvp(tangent, result, upper):
    """The tangent of np.linalg.cholesky(a), a = L L^T read from its lower triangle (its upper one for upper=True):
    dL = L phi(L^-1 da L^-T), phi taking the lower triangle with half the diagonal."""
    xp = _xp(tangent, result)
    lower = swap_last_axes(result) if upper else result
    da = symmetric_part(as_array_like(tangent, result), upper)
    inner = xp.linalg.solve(lower, swap_last_axes(xp.linalg.solve(lower, da)))  # L^-1 da L^-T (da symmetric)
    d_lower = lower @ (xp.tril(inner) - 0.5 * inner * _eye_like(inner))
    return swap_last_axes(d_lower) if upper else d_lower


@helper
def slogdet_jvp(tangent, result, a):
    """The tangents of np.linalg.slogdet(a): the sign's is 0 (it is constant wherever it has a derivative),
    logabsdet's the trace of solve(a, da)."""
    xp = _xp(tangent, a)
    sign = result[0]
    return xp.zeros_like(sign), xp.trace(xp.linalg.solve(a, tangent), axis1=-2, axis2=-1)


@helper
def eigh_jvp(tangent, result, UPLO):
    """The tangents of np.linalg.eigh(a) for distinct eigenvalues, a read from the triangle UPLO names.

    With a = V diag(w) V^T and M = V^T da V: dw is M's diagonal, dV = V (F * M), F[i, j] = 1 / (w_j - w_i) off the
    diagonal (the eigenvectors stay of length 1, so F's diagonal is 0).
    """
    values, vectors = result
    m = swap_last_axes(vectors) @ symmetric_part(as_array_like(tangent, vectors), UPLO in ("U", "u")) @ vectors
    return _xp(m).diagonal(m, axis1=-2, axis2=-1).copy(), vectors @ (_pair_reciprocals(values) * m)


@helper
def qr_jvp(tangent, result, a, mode):
    """The tangents of np.linalg.qr(a) for a square or tall matrix of full rank (mode 'r': R's alone; mode 'complete'
    of a square matrix: the reduced QR's).

    With C = Q^T da R^-1, whose strictly lower triangle is that of the antisymmetric Q^T dQ, Omega = that triangle
    minus its transpose: dR = (C - Omega) R and dQ = da R^-1 - Q (C - Omega).
    """
    square = a.shape[-2] == a.shape[-1]
    if a.shape[-2] < a.shape[-1] or not (mode in ("reduced", "r") or (mode == "complete" and square)):
        raise SourcegradError("np.linalg.qr has a derivative rule only for mode='reduced' or 'r' of a square or tall "
                              "matrix", hint="Take the QR of the transpose for a wide matrix; the extra columns of "
                                             "mode='complete' are not unique.")
    xp = _xp(tangent, a)
    q, r = (xp.linalg.qr(a)[0], result) if mode == "r" else result
    da_r = swap_last_axes(xp.linalg.solve(swap_last_axes(r), swap_last_axes(tangent)))  # da R^-1
    c = swap_last_axes(q) @ da_r
    below = xp.tril(c, -1)
    upper = c - below + swap_last_axes(below)  # C - Omega: dR R^-1, upper triangular
    if mode == "r":
        return upper @ r
    return da_r - q @ upper, upper @ r


@helper
def svd_jvp(tangent, result, a, full_matrices, compute_uv, hermitian):
    """The tangents of np.linalg.svd(a) for distinct nonzero singular values, as svd_grad's conditions.

    With a = U diag(s) V^T, dP = U^T da V and F[i, j] = 1 / (s_j^2 - s_i^2) off the diagonal: ds is dP's diagonal,
    dU = U (F * (dP S + S dP^T)) + (I - U U^T) da V S^-1 and dV = V (F * (S dP + dP^T S)) + (I - V V^T) da^T U S^-1.
    """
    xp = _xp(tangent, a)
    if hermitian:
        raise SourcegradError("np.linalg.svd(..., hermitian=True) has no derivative rule",
                              hint="Leave hermitian=False, or use np.linalg.eigh for a symmetric matrix.")
    if not compute_uv:  # the singular values alone: the diagonal of U^T da V
        u, _, vh = xp.linalg.svd(a, full_matrices=False)
        return xp.diagonal(swap_last_axes(u) @ tangent @ swap_last_axes(vh), axis1=-2, axis2=-1).copy()
    if full_matrices and a.shape[-2] != a.shape[-1]:
        raise SourcegradError("np.linalg.svd of a non-square matrix has a derivative rule only with "
                              "full_matrices=False", hint="Write np.linalg.svd(x, full_matrices=False): the extra "
                                                          "singular vectors of full_matrices=True are not unique.")
    u, s, vh = result
    v, t_t = swap_last_axes(vh), swap_last_axes(tangent)
    dp = swap_last_axes(u) @ tangent @ v
    dp_t = swap_last_axes(dp)
    f = _pair_reciprocals(s * s)
    columns, rows = s[..., None, :], s[..., :, None]  # X * columns is X S, rows * X is S X
    d_u = u @ (f * (dp * columns + rows * dp_t)) + (tangent @ v - u @ dp) / columns
    d_v = v @ (f * (rows * dp + dp_t * columns)) + (t_t @ u - v @ dp_t) / columns
    return d_u, xp.diagonal(dp, axis1=-2, axis2=-1).copy(), swap_last_axes(d_v)


# ---- second order: the gradients of the tangent helpers above, for hvp (reverse mode over the tangent lines) ------
# Each helper is linear in its tangent, whose gradient is the primitive's own gradient helper; these are the terms of
# the other arguments (the matrix, or the primal result the tangent reads), the second derivatives proper.


def _all_but_pairs(s):
    """P[..., i, j] = the product of every value of s but s_i and s_j (i != j), 0 on the diagonal, without dividing (a
    singular matrix's singular values have zeros): for i < j, the product before i, times the one strictly between i
    and j (a running product along each row of s masked to the columns after i), times the one after j."""
    xp = _xp(s)
    ones = xp.ones_like(s[..., :1])
    before = xp.cumprod(xp.concatenate([ones, s[..., :-1]], axis=-1), axis=-1)  # s_0 ... s_{i-1}
    after = xp.flip(xp.cumprod(xp.flip(xp.concatenate([s[..., 1:], ones], axis=-1), axis=-1), axis=-1), axis=-1)
    later = xp.triu(xp.ones((s.shape[-1],) * 2, dtype=bool), 1)  # [i, k]: k > i
    masked = xp.where(later, s[..., None, :], 1)
    running = xp.cumprod(xp.concatenate([xp.ones_like(masked[..., :1]), masked[..., :-1]], axis=-1), axis=-1)
    upper = xp.where(later, before[..., :, None] * running * after[..., None, :], 0)  # s_{i+1} ... s_{j-1} between
    return upper + swap_last_axes(upper)


@helper
def det_jvp_grad(grad, tangent, a):
    """d(grad * det_jvp(tangent, a))/da: the Hessian of det along the tangent, exact at a singular matrix too.

    With a = U diag(s) V^T and T = U^T tangent V: det(a + e) = det(U) det(V) det(diag(s) + U^T e V), whose part of
    second order is, with P_ij the product of every singular value but s_i and s_j, the sum over i != j of
    P_ij (E_ii E_jj - E_ij E_ji) / 2. Its derivative along T is U (diag(P diag(T)) - P * T^T) V^T, times det(U) det(V).
    """
    xp = _xp(grad, tangent, a)
    u, s, vt = xp.linalg.svd(a)
    t = swap_last_axes(u) @ as_array_like(tangent, a) @ swap_last_axes(vt)
    p = _all_but_pairs(s)
    diagonal = xp.diagonal(t, axis1=-2, axis2=-1)
    inner = _diagonal_matrix((p @ diagonal[..., None])[..., 0]) - p * swap_last_axes(t)
    scale = as_array_like(grad, a) * xp.linalg.det(u) * xp.linalg.det(vt)
    return scale[..., None, None] * (u @ inner @ vt)


@helper
def slogdet_jvp_grad(grad, tangent, a):
    """d(grad[1] * trace(solve(a, tangent)))/da = -grad[1] (a^-1 tangent a^-1)^T: the Hessian of logabsdet along the
    tangent (the sign's tangent is 0 everywhere)."""
    xp = _xp(tangent, a)
    inverse = xp.linalg.inv(a)
    return -as_array_like(grad[1], a)[..., None, None] * swap_last_axes(inverse @ as_array_like(tangent, a) @ inverse)


@helper
def solve_jvp_grad_result(grad, tangent, a, result):
    """d(grad . solve_jvp(tangent, a, result))/d result = -tangent^T solve(a^T, grad), vectors or matrices as numpy
    solved for (a's gradient is solve's own, solve_grad_left, of the tangent's result)."""
    xp = _xp(grad, tangent, a)
    grad = as_array_like(grad, result)
    if _solve_is_vector(a, result):
        back = broadcast_solve(xp.linalg.solve, xp, swap_last_axes(a), grad[..., None])
        return unbroadcast(-(swap_last_axes(as_array_like(tangent, a)) @ back)[..., 0], result)
    back = broadcast_solve(xp.linalg.solve, xp, swap_last_axes(a), grad)
    return unbroadcast(-(swap_last_axes(as_array_like(tangent, a)) @ back), result)


@helper
def cholesky_jvp_grad(grad, tangent, result, upper):
    """d(grad . cholesky_jvp(tangent, result, upper))/d result, the factor L (result, or its transpose for upper=True).

    With M = L^-1 S L^-T (S the symmetric matrix the tangent's triangle stands for), phi taking the lower triangle with
    half the diagonal, and H = phi(L^T grad): the tangent L phi(M) moves with L as grad phi(M)^T - L^-T (H + H^T) M.
    """
    xp = _xp(grad, tangent, result)
    grad = as_array_like(grad, result)
    lower, lower_grad = (swap_last_axes(result), swap_last_axes(grad)) if upper else (result, grad)
    s = symmetric_part(as_array_like(tangent, result), upper)
    inner = xp.linalg.solve(lower, swap_last_axes(xp.linalg.solve(lower, s)))  # M = L^-1 S L^-T (S symmetric)
    phi_inner = xp.tril(inner) - 0.5 * inner * _eye_like(inner)
    product = swap_last_axes(lower) @ lower_grad
    h = xp.tril(product) - 0.5 * product * _eye_like(product)
    d_lower = (lower_grad @ swap_last_axes(phi_inner)
               - xp.linalg.solve(swap_last_axes(lower), (h + swap_last_axes(h)) @ inner))  # ... - L^-T (H + H^T) M
    return swap_last_axes(d_lower) if upper else d_lower


@helper
def eigh_jvp_grad(grad, tangent, result, UPLO):
    """d(grad . eigh_jvp(tangent, result, UPLO))/d result: the gradients of the eigenvalues and of the eigenvectors.

    With S the symmetric matrix of the tangent's triangle, M = V^T S V, F as in eigh_jvp and K = F * (V^T grad_V):
    the tangents diag(M) and V (F * M) move with V as 2 S V diag(grad_w) + grad_V (F * M)^T + S V (K + K^T), and
    with w through F (dF_ij = -F_ij^2 (dw_j - dw_i)): Q = F^2 * M * (V^T grad_V), its row sums less its column sums.
    """
    values, vectors = result
    values_grad, vectors_grad = (as_array_like(g, vectors) for g in grad)
    s = symmetric_part(as_array_like(tangent, vectors), UPLO in ("U", "u"))
    s_v = s @ vectors
    m = swap_last_axes(vectors) @ s_v
    f = _pair_reciprocals(values)
    projected = swap_last_axes(vectors) @ vectors_grad  # V^T grad_V
    k = f * projected
    d_vectors = (2 * s_v * values_grad[..., None, :] + vectors_grad @ swap_last_axes(f * m)
                 + s_v @ (k + swap_last_axes(k)))
    q = f * f * m * projected
    return q.sum(axis=-1) - q.sum(axis=-2), d_vectors


def _pinv_jvp_parts(grad, tangent, a, result, hermitian):
    """The gradient, the tangent and the matrix (their triangles made symmetric for hermitian=True), P, P^T, T^T."""
    grad = as_array_like(grad, result)
    if hermitian:
        a, tangent = symmetric_part(a, upper=False), symmetric_part(tangent, upper=False)
    return grad, tangent, a, result, swap_last_axes(result), swap_last_axes(tangent)


@helper
def pinv_jvp_grad_matrix(grad, tangent, a, result, hermitian):
    """d(grad . pinv_jvp(tangent, a, result, hermitian))/da: a appears in the projections (I - a P) and (I - P a) alone,
    in -P P^T T^T a P and -P a T^T P^T P, whose gradients are -(T P P^T) G P^T and -P^T G (P^T P T)."""
    g, t, a, p, p_t, _ = _pinv_jvp_parts(grad, tangent, a, result, hermitian)
    da = -((t @ (p @ p_t)) @ g @ p_t) - p_t @ g @ ((p_t @ p) @ t)
    return from_triangle(da, upper=False) if hermitian else da


@helper
def pinv_jvp_grad_result(grad, tangent, a, result, hermitian):
    """d(grad . pinv_jvp(tangent, a, result, hermitian))/d result, P = result: the gradient of each P in
    -P T P + P P^T T^T - P P^T T^T a P + T^T P^T P - P a T^T P^T P, the tangent and a held still."""
    g, t, a, p, p_t, t_t = _pinv_jvp_parts(grad, tangent, a, result, hermitian)
    g_t = swap_last_axes(g)
    w, y = t_t @ a, a @ t_t  # T^T a and a T^T
    w_t, y_t = swap_last_axes(w), swap_last_axes(y)
    dp = -(g @ p_t @ t_t) - t_t @ p_t @ g  # -P T P
    dp = dp + g @ t @ p + t_t @ g_t @ p  # P P^T T^T
    dp = dp - g @ p_t @ w_t @ p - w @ p @ g_t @ p - w_t @ p @ p_t @ g  # -P P^T (T^T a) P
    dp = dp + p @ g_t @ t_t + p @ t @ g  # T^T P^T P
    return dp - g @ p_t @ p @ y_t - p @ g_t @ p @ y - p @ y_t @ p_t @ g  # -P (a T^T) P^T P


def _qr_jvp_backward(grad, tangent, result, a, mode):
    """The gradients of Q and R (Q the reduced QR's, which mode 'r' computes inside qr_jvp) from qr_jvp's tangents.

    qr_jvp is X = T R^-1, C = Q^T X, U = triu(C) + tril(C, -1)^T, dR = U R and dQ = X - Q U: each step backwards.
    """
    xp = _xp(tangent, a)
    if mode == "r":
        q, r = xp.linalg.qr(a)[0], result
        q_grad, r_grad = xp.zeros_like(q), as_array_like(grad, a)
    else:
        q, r = result
        q_grad, r_grad = (as_array_like(g, a) for g in grad)
    x = swap_last_axes(xp.linalg.solve(swap_last_axes(r), swap_last_axes(as_array_like(tangent, a))))  # T R^-1
    c = swap_last_axes(q) @ x
    u = xp.triu(c) + swap_last_axes(xp.tril(c, -1))
    u_grad = r_grad @ swap_last_axes(r) - swap_last_axes(q) @ q_grad
    c_grad = xp.triu(u_grad) + xp.tril(swap_last_axes(u_grad), -1)
    x_grad = q_grad + q @ c_grad
    q_total = -(q_grad @ swap_last_axes(u)) + x @ swap_last_axes(c_grad)
    r_total = swap_last_axes(u) @ r_grad - swap_last_axes(xp.linalg.solve(r, swap_last_axes(x_grad) @ x))  # X^T..R^-T
    return q, r, q_total, r_total


@helper
def qr_jvp_grad_result(grad, tangent, result, a, mode):
    """d(grad . qr_jvp(tangent, result, a, mode))/d result: the gradients of Q and R (of R alone for mode 'r')."""
    _, _, q_total, r_total = _qr_jvp_backward(grad, tangent, result, a, mode)
    return r_total if mode == "r" else (q_total, r_total)


@helper
def qr_jvp_grad_matrix(grad, tangent, result, a, mode):
    """d(grad . qr_jvp(tangent, result, a, mode))/da: for mode 'r', through the Q that qr_jvp computes from a (its
    gradient qr's own); other modes read a for its shape alone (0)."""
    if mode != "r":
        return _xp(a).zeros_like(a)
    q, r, q_total, _ = _qr_jvp_backward(grad, tangent, result, a, mode)
    return qr_grad((q_total, _xp(a).zeros_like(r)), (q, r), a, "reduced")


def _svd_jvp_backward(grad, tangent, result, a):
    """The gradients of U, s and V^T from svd_jvp's tangents (compute_uv=True), each of its steps backwards:
    dP = U^T T V, A = dP S + S dP^T, B = S dP + dP^T S, dU = U (F * A) + (T V - U dP) S^-1,
    dV = V (F * B) + (T^T U - V dP^T) S^-1, ds = diag(dP), F[i, j] = 1 / (s_j^2 - s_i^2) off the diagonal."""
    u, s, vh = result
    u_grad, s_grad, vh_grad = (as_array_like(g, a) for g in grad)
    t = as_array_like(tangent, a)
    v, t_t, v_grad = swap_last_axes(vh), swap_last_axes(t), swap_last_axes(vh_grad)
    dp = swap_last_axes(u) @ t @ v
    dp_t = swap_last_axes(dp)
    f = _pair_reciprocals(s * s)
    columns, rows = s[..., None, :], s[..., :, None]
    a_part, b_part = dp * columns + rows * dp_t, rows * dp + dp_t * columns
    z, y = t @ v - u @ dp, t_t @ u - v @ dp_t  # dU's and dV's parts outside the spans, before dividing by S
    z_grad, y_grad = u_grad / columns, v_grad / columns
    ut_gu, vt_gv = swap_last_axes(u) @ u_grad, swap_last_axes(v) @ v_grad
    a_grad, b_grad = ut_gu * f, vt_gv * f
    f_grad = ut_gu * a_part + vt_gv * b_part
    u_total = u_grad @ swap_last_axes(f * a_part) - z_grad @ dp_t + t @ y_grad
    v_total = v_grad @ swap_last_axes(f * b_part) + t_t @ z_grad - y_grad @ dp
    dp_grad = (_diagonal_matrix(s_grad) - swap_last_axes(u) @ z_grad - swap_last_axes(y_grad) @ v
               + a_grad * columns + swap_last_axes(a_grad) * columns + rows * b_grad + rows * swap_last_axes(b_grad))
    u_total = u_total + t @ v @ swap_last_axes(dp_grad)
    v_total = v_total + t_t @ u @ dp_grad
    q = f_grad * f * f
    s_total = (-(z_grad * z).sum(axis=-2) / s - (y_grad * y).sum(axis=-2) / s
               + (a_grad * dp).sum(axis=-2) + (a_grad * dp_t).sum(axis=-1)
               + (b_grad * dp).sum(axis=-1) + (b_grad * dp_t).sum(axis=-2)
               + 2 * s * (q.sum(axis=-1) - q.sum(axis=-2)))
    return u_total, s_total, swap_last_axes(v_total)


def _svd_values_jvp_backward(grad, tangent, a):
    """compute_uv=False: ds = diag(U^T T V) with U and V computed from a; the gradients of that U and V^T."""
    xp = _xp(tangent, a)
    u, s, vh = xp.linalg.svd(a, full_matrices=False)
    t, s_grad = as_array_like(tangent, a), as_array_like(grad, a)[..., None, :]
    u_total = (t @ swap_last_axes(vh)) * s_grad  # T V diag(grad_s)
    vh_total = swap_last_axes((swap_last_axes(t) @ u) * s_grad)  # (T^T U diag(grad_s))^T
    return (u, s, vh), (u_total, xp.zeros_like(s), vh_total)


@helper
def svd_jvp_grad_result(grad, tangent, result, a, full_matrices, compute_uv, hermitian):
    """d(grad . svd_jvp(tangent, result, a, ...))/d result: the gradients of U, s and V^T (compute_uv=False: the
    singular values' tangent reads U and V computed from a, not the result, so 0)."""
    if not compute_uv:
        return _xp(result).zeros_like(result)
    return _svd_jvp_backward(grad, tangent, result, a)


@helper
def svd_jvp_grad_matrix(grad, tangent, result, a, full_matrices, compute_uv, hermitian):
    """d(grad . svd_jvp(tangent, result, a, ...))/da: with compute_uv=False, through the U and V that svd_jvp computes
    from a (their gradient svd's own); otherwise a is read for its shape alone (0)."""
    if compute_uv:
        return _xp(a).zeros_like(a)
    factors, factor_grads = _svd_values_jvp_backward(grad, tangent, a)
    return svd_grad(factor_grads, factors, a, False, True, False)


# ---- scipy.linalg.solve_triangular ----------------------------------------------------------------------------------
# x = op(A)^-1 b, op(A) A or A^T (trans 0 / 'N', or 1, 2, 'T', 'C': real matrices only), A the triangle of a that scipy
# reads (lower or upper; with unit_diagonal the diagonal is taken for 1s and not read either). b's gradient is
# op(A)^-T G; op(A)'s is -(that) x^T, of which a gets the triangle read: the rest of a changes nothing.


def _transposes(trans):
    if trans in (0, "N", "n"):
        return False
    if trans in (1, 2, "T", "t", "C", "c"):
        return True
    raise SourcegradError(f"scipy.linalg.solve_triangular's trans must be 0, 1, 2, 'N', 'T' or 'C', not {trans!r}")


def _read_triangle(matrix, lower, unit_diagonal):
    """The entries of matrix that solve_triangular reads, zeros elsewhere."""
    xp = array_namespace(matrix)
    if lower:
        return xp.tril(matrix, -1 if unit_diagonal else 0)
    return xp.triu(matrix, 1 if unit_diagonal else 0)


def _scipy_linalg(a):
    """scipy.linalg, or cupyx.scipy.linalg for a cupy array."""
    if array_namespace(a).__name__.startswith("cupy"):
        return importlib.import_module("cupyx.scipy.linalg")
    return importlib.import_module("scipy.linalg")


@helper
def triangular_solve(a, b, trans, lower, unit_diagonal):
    """scipy.linalg.solve_triangular(a, b, trans, lower, unit_diagonal): what its tangent rule solves with."""
    return _scipy_linalg(a).solve_triangular(a, b, trans=trans, lower=lower, unit_diagonal=unit_diagonal)


def _outer_product(left, right):
    """left right^T for the columns of a solve: vectors (an outer product) or matrices."""
    if _ndim(left) == 1:
        return left[:, None] * right[None, :]
    return left @ right.swapaxes(-1, -2)


@helper
def triangular_solve_grad(grad, a, result, trans, lower, unit_diagonal, wrt):
    """b's (wrt 'b') or a's (wrt 'a') gradient of result = scipy.linalg.solve_triangular(a, b, trans, lower,
    unit_diagonal)."""
    grad = as_array_like(grad, result)
    grad_b = triangular_solve(a, grad, 0 if _transposes(trans) else 1, lower, unit_diagonal)
    if wrt == "b":
        return grad_b
    full = -_outer_product(grad_b, result)
    return _read_triangle(full.swapaxes(-1, -2) if _transposes(trans) else full, lower, unit_diagonal)


@helper
def triangular_product(matrix, x, trans, lower, unit_diagonal):
    """op(T) x, T the triangle of matrix that solve_triangular reads (its tangent's term: a's tangent, read so, times
    the solution)."""
    read = _read_triangle(as_array_like(matrix, x), lower, unit_diagonal)
    return (read.swapaxes(-1, -2) if _transposes(trans) else read) @ x


@helper
def triangular_product_grad(grad, matrix, x, trans, lower, unit_diagonal, wrt):
    """matrix's (wrt 0) or x's (wrt 1) gradient of triangular_product: linear in each."""
    grad = as_array_like(grad, x)
    if wrt == 0:
        full = _outer_product(grad, x)
        return _read_triangle(full.swapaxes(-1, -2) if _transposes(trans) else full, lower, unit_diagonal)
    read = _read_triangle(as_array_like(matrix, x), lower, unit_diagonal)
    return (read if _transposes(trans) else read.swapaxes(-1, -2)) @ grad
