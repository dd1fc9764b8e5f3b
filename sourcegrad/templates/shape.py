"""Gradient rules for operations that only move, copy or select elements: transposes, reshapes,
axis moves, broadcasts, repeats, flips, rotations and rolls, sorting and partitioning, padding, triangles and
diagonals,
and copies and casts.

The gradient of a view is written with np.transpose / np.reshape of the output's gradient, which the
simplifier knows may share memory with it; the other gradients come from runtime helpers that always
return new arrays.

The array operand is named x in every rule, as in np.transpose's and np.reshape's; numpy's own keyword
(`a=`, `m=`, `v=`, `A=`, `array=`, `object=`) is an alias.
"""

import builtins

import numpy as np

from ..runtime import broadcast_like, inverse_permutation, unbroadcast
from ..runtime.indexing import dtype_of, stored_derivative
from ..runtime.shape import (astype_grad, astype_jvp, diag_grad, diagonal_grad, fftshift_grad, flip_grad,
                             ifftshift_grad, linspace_grad, linspace_jvp, moveaxis_inverse, pad_constant_grad, pad_grad,
                             pad_jvp, partition_grad, partition_jvp, ravel_axes, ravel_shape, ravel_walk, repeat_grad,
                             roll_grad, rot90_grad, sort_grad, swapaxes_permutation, tile_grad)
from .registry import adjoint, d, method, ndim, nondifferentiable, tangent

# ---- transposes ------------------------------------------------------------------------------------


@adjoint(np.transpose, aliases={"a": "x"}, rank="first argument", result="view of first argument", shape="constants")
def transpose(result, x, axes=None):
    if axes is None and ndim(x) >= 1:
        d[x] = d[result].T
    else:
        d[x] = np.transpose(d[result], inverse_permutation(axes))


@tangent(np.transpose, aliases={"a": "x"})
def transpose_tangent(result, x, axes=None):
    if axes is None and ndim(x) >= 1:
        d[result] = d[x].T
    else:
        d[result] = np.transpose(d[x], axes)


@adjoint(np.swapaxes, aliases={"a": "x"}, result="view of first argument", shape="constants")
def swapaxes(result, x, axis1, axis2):
    d[x] = np.transpose(d[result], swapaxes_permutation(d[result], axis1, axis2))


@tangent(np.swapaxes, aliases={"a": "x"})
def swapaxes_tangent(result, x, axis1, axis2):
    d[result] = np.swapaxes(d[x], axis1, axis2)


@adjoint(np.moveaxis, aliases={"a": "x"}, result="view of first argument", shape="constants")
def moveaxis(result, x, source, destination):
    d[x] = np.transpose(d[result], moveaxis_inverse(d[result], source, destination))


@tangent(np.moveaxis, aliases={"a": "x"})
def moveaxis_tangent(result, x, source, destination):
    d[result] = np.moveaxis(d[x], source, destination)


method("swapaxes", np.swapaxes)

# ---- reshapes ----------------------------------------------------------------------------------------


@adjoint(np.reshape, aliases={"newshape": "shape"}, rank="reshape", result="view of first argument",
         shape="constants")
def reshape(result, x, shape=None, order="C"):
    d[x] = np.reshape(d[result], np.shape(x), order=order)


@tangent(np.reshape, aliases={"newshape": "shape"})
def reshape_tangent(result, x, shape=None, order="C"):
    d[result] = np.reshape(d[x], np.shape(result), order=order)


@adjoint(np.ravel, aliases={"a": "x"}, result="view of first argument", rank="vector", shape="arguments")
def ravel(result, x, order="C"):
    if order == "C":
        d[x] = np.reshape(d[result], np.shape(x))
    else:
        d[x] = np.transpose(np.reshape(d[result], ravel_shape(x, order)), ravel_axes(x, order))


# Orders "K" and "A" walk x in its memory order, which its tangent need not share: the tangent is walked in x's.
@tangent(np.ravel, aliases={"a": "x"})
def ravel_tangent(result, x, order="C"):
    if order == "C":
        d[result] = np.ravel(d[x])
    elif order == "F":
        d[result] = np.ravel(d[x], order)
    else:
        d[result] = np.ravel(np.transpose(d[x], ravel_walk(x, order)))


nondifferentiable(ravel_shape, ravel_axes, ravel_walk, why="it describes an array's layout")


@adjoint(np.expand_dims, aliases={"a": "x"}, result="view of first argument", shape="constants")
def expand_dims(result, x, axis):
    d[x] = np.reshape(d[result], np.shape(x))


@tangent(np.expand_dims, aliases={"a": "x"})
def expand_dims_tangent(result, x, axis):
    d[result] = np.expand_dims(d[x], axis)


@adjoint(np.squeeze, aliases={"a": "x"}, result="view of first argument", shape="constants")
def squeeze(result, x, axis=None):
    d[x] = np.reshape(d[result], np.shape(x))


@tangent(np.squeeze, aliases={"a": "x"})
def squeeze_tangent(result, x, axis=None):
    if axis is None:
        d[result] = np.squeeze(d[x])
    else:
        d[result] = np.squeeze(d[x], axis)


# np.atleast_1d/2d/3d of one array: a view with axes of length 1 added (of several, a list: no rule)


@adjoint(np.atleast_1d, np.atleast_2d, np.atleast_3d)
def atleast_nd(result, x):
    d[x] = np.reshape(d[result], np.shape(x))


@tangent(np.atleast_1d, np.atleast_2d, np.atleast_3d)
def atleast_nd_tangent(result, x):
    d[result] = np.reshape(d[x], np.shape(result))


method("ravel", np.ravel)
method("flatten", np.ravel, new_array=True)  # x.flatten(order) copies what np.ravel(x, order) may view
method("squeeze", np.squeeze)

# ---- broadcasts and repeats: the copies' gradients are summed ----------------------------------------


@adjoint(np.broadcast_to, aliases={"array": "x"}, result="view of first argument")
def broadcast_to(result, x, shape, subok=False):
    d[x] = unbroadcast(d[result], x)


@tangent(np.broadcast_to, aliases={"array": "x"})
def broadcast_to_tangent(result, x, shape, subok=False):
    d[result] = np.broadcast_to(d[x], shape)


# forward mode's stretch of a tangent to its result's shape (`x + y` with a tangent for x alone): what reverse
# mode meets when it differentiates forward-mode code (Hessian-vector products)
@adjoint(broadcast_like, zero_gradient=("like",))
def broadcast_like_rule(result, tangent, like):
    d[tangent] = unbroadcast(d[result], tangent)


@tangent(broadcast_like)
def broadcast_like_tangent(result, tangent, like):
    d[result] = broadcast_like(d[tangent], like)


@adjoint(np.tile, aliases={"A": "x"}, new_array=True)
def tile(result, x, reps):
    d[x] = tile_grad(d[result], x, reps)


@tangent(np.tile, aliases={"A": "x"})
def tile_tangent(result, x, reps):
    d[result] = np.tile(d[x], reps)


@adjoint(np.repeat, aliases={"a": "x"}, new_array=True)
def repeat(result, x, repeats, axis=None):
    d[x] = repeat_grad(d[result], x, repeats, axis)


@tangent(np.repeat, aliases={"a": "x"})
def repeat_tangent(result, x, repeats, axis=None):
    if axis is None:
        d[result] = np.repeat(d[x], repeats)
    else:
        d[result] = np.repeat(d[x], repeats, axis)


method("repeat", np.repeat)

# ---- flips and rolls -------------------------------------------------------------------------------


@adjoint(np.flip, aliases={"m": "x"})
def flip(result, x, axis=None):
    d[x] = flip_grad(d[result], axis)


@tangent(np.flip, aliases={"m": "x"})
def flip_tangent(result, x, axis=None):
    if axis is None:
        d[result] = np.flip(d[x])
    else:
        d[result] = np.flip(d[x], axis)


@adjoint(np.fliplr, aliases={"m": "x"})
def fliplr(result, x):
    d[x] = flip_grad(d[result], 1)


@tangent(np.fliplr, aliases={"m": "x"})
def fliplr_tangent(result, x):
    d[result] = np.fliplr(d[x])


@adjoint(np.flipud, aliases={"m": "x"})
def flipud(result, x):
    d[x] = flip_grad(d[result], 0)


@tangent(np.flipud, aliases={"m": "x"})
def flipud_tangent(result, x):
    d[result] = np.flipud(d[x])


@adjoint(np.rot90, aliases={"m": "x"})
def rot90(result, x, k=1, axes=(0, 1)):
    d[x] = rot90_grad(d[result], k, axes)


@tangent(np.rot90, aliases={"m": "x"})
def rot90_tangent(result, x, k=1, axes=(0, 1)):
    d[result] = np.rot90(d[x], k, axes)


@adjoint(np.roll, aliases={"a": "x"}, new_array=True)
def roll(result, x, shift, axis=None):
    d[x] = roll_grad(d[result], shift, axis)


@tangent(np.roll, aliases={"a": "x"})
def roll_tangent(result, x, shift, axis=None):
    if axis is None:
        d[result] = np.roll(d[x], shift)
    else:
        d[result] = np.roll(d[x], shift, axis)


# np.fft.fftshift and ifftshift are rolls by half of each axis (new arrays); each undoes the other.


@adjoint(np.fft.fftshift, new_array=True)
def fftshift(result, x, axes=None):
    d[x] = ifftshift_grad(d[result], axes)


@tangent(np.fft.fftshift)
def fftshift_tangent(result, x, axes=None):
    if axes is None:
        d[result] = np.fft.fftshift(d[x])
    else:
        d[result] = np.fft.fftshift(d[x], axes)


@adjoint(np.fft.ifftshift, new_array=True)
def ifftshift(result, x, axes=None):
    d[x] = fftshift_grad(d[result], axes)


@tangent(np.fft.ifftshift)
def ifftshift_tangent(result, x, axes=None):
    if axes is None:
        d[result] = np.fft.ifftshift(d[x])
    else:
        d[result] = np.fft.ifftshift(d[x], axes)


# ---- sorting: the gradient goes back through the permutation (ties in np.argsort's stable order) ---------


@adjoint(np.sort, aliases={"a": "x"}, new_array=True)
def sort(result, x, axis=-1, kind=None, order=None, stable=None):
    d[x] = sort_grad(d[result], x, axis)


# x's tangent in the order the stable sort puts x, the order sort_grad sends the gradient back in
@tangent(np.sort, aliases={"a": "x"})
def sort_tangent(result, x, axis=-1, kind=None, order=None, stable=None):
    d[result] = np.take_along_axis(d[x], np.argsort(x, axis=axis, kind="stable"), axis=axis)


# x.sort() sorts in place and returns None: it has no rule, so it stays refused.

# np.partition's order within each side of kth is numpy's to choose: the gradient matches the result's elements
# to x's by value, tied elements in the order np.sort's rule gives them (the first one, the first position).
# x.partition() partitions in place and returns None: refused, like x.sort().


@adjoint(np.partition, aliases={"a": "x"}, new_array=True)
def partition(result, x, kth, axis=-1, kind="introselect", order=None):
    d[x] = partition_grad(d[result], result, x, axis)


@tangent(np.partition, aliases={"a": "x"})
def partition_tangent(result, x, kth, axis=-1, kind="introselect", order=None):
    d[result] = partition_jvp(d[x], result, x, axis)


# for hvp: linear in the tangent; the values only say which element went where
@adjoint(partition_jvp, zero_gradient=("result", "x"))
def partition_jvp_rule(out, tangent, result, x, axis):
    d[tangent] = partition_grad(d[out], result, x, axis)


# ---- padding: the gradient of the padded array's interior; only mode "constant" ---------------------------


@adjoint(np.pad, aliases={"array": "x"}, new_array=True)
def pad(result, x, pad_width, mode="constant", constant_values=0):
    d[x] = pad_grad(d[result], x, pad_width, mode)
    d[constant_values] = pad_constant_grad(d[result], x, pad_width, constant_values)


@tangent(np.pad, aliases={"array": "x"})
def pad_tangent(result, x, pad_width, mode="constant", constant_values=0):
    if mode == "constant":
        d[result] = np.pad(d[x], pad_width)
    else:
        d[result] = pad_jvp(d[x], pad_width, mode)
    d[result] = np.pad(np.zeros_like(x), pad_width, constant_values=d[constant_values])


@adjoint(pad_jvp)  # for hvp: padding with zeros is linear
def pad_jvp_rule(result, tangent, pad_width, mode):
    d[tangent] = pad_grad(d[result], tangent, pad_width, mode)


# ---- triangles and diagonals -------------------------------------------------------------------------
# np.triu of a 1-D m is the triangle of m broadcast to rows: its gradient sums the rows back.


@adjoint(np.triu, aliases={"m": "x"}, new_array=True)
def triu(result, x, k=0):
    if ndim(x) >= 2:
        d[x] = np.triu(d[result], k)
    else:
        d[x] = unbroadcast(np.triu(d[result], k), x)


# np.triu of a 1-D m broadcasts it to rows, its tangent with it
@tangent(np.triu, aliases={"m": "x"})
def triu_tangent(result, x, k=0):
    if k == 0:
        d[result] = np.triu(d[x])
    else:
        d[result] = np.triu(d[x], k)


@adjoint(np.tril, aliases={"m": "x"}, new_array=True)
def tril(result, x, k=0):
    if ndim(x) >= 2:
        d[x] = np.tril(d[result], k)
    else:
        d[x] = unbroadcast(np.tril(d[result], k), x)


@tangent(np.tril, aliases={"m": "x"})
def tril_tangent(result, x, k=0):
    if k == 0:
        d[result] = np.tril(d[x])
    else:
        d[result] = np.tril(d[x], k)


@adjoint(np.diag, aliases={"v": "x"})
def diag(result, x, k=0):
    d[x] = diag_grad(d[result], x, k)


@tangent(np.diag, aliases={"v": "x"})
def diag_tangent(result, x, k=0):
    if k == 0:
        d[result] = np.diag(d[x])
    else:
        d[result] = np.diag(d[x], k)


# np.diagonal (a read-only view) puts the diagonal of axis1 and axis2 last: its gradient is zeros, grad on it.
@adjoint(np.diagonal, aliases={"a": "x"})
def diagonal(result, x, offset=0, axis1=0, axis2=1):
    d[x] = diagonal_grad(d[result], x, offset, axis1, axis2)


@tangent(np.diagonal, aliases={"a": "x"})
def diagonal_tangent(result, x, offset=0, axis1=0, axis2=1):
    if offset == 0 and axis1 == 0 and axis2 == 1:
        d[result] = np.diagonal(d[x])
    else:
        d[result] = np.diagonal(d[x], offset, axis1, axis2)


method("diagonal", np.diagonal)


# ---- copies and casts: the gradient passes through, in the input's dtype --------------------------------


@adjoint(np.copy, aliases={"a": "x"}, new_array=True, rank="first argument", shape="constants")
def copy(result, x, order="K", subok=False):
    d[x] = d[result]


@tangent(np.copy, aliases={"a": "x"})
def copy_tangent(result, x, order="K", subok=False):
    d[result] = np.copy(d[x])


@adjoint(np.asarray, aliases={"a": "x"}, result="view of first argument", rank="array")
def asarray(result, x, dtype=None, order=None, device=None, copy=None, like=None):
    if dtype is None:
        d[x] = d[result]
    else:
        d[x] = astype_grad(d[result], x, dtype)


# np.ascontiguousarray and np.asfortranarray change the memory layout alone, and make a 0-d array 1-d (its rank
# is then not x's: no rank rule is given)
@adjoint(np.ascontiguousarray, np.asfortranarray, aliases={"a": "x"}, result="view of first argument")
def ascontiguousarray(result, x, dtype=None, *, like=None):
    if dtype is None:
        d[x] = np.reshape(d[result], np.shape(x))
    else:
        d[x] = np.reshape(astype_grad(d[result], x, dtype), np.shape(x))


@tangent(np.ascontiguousarray, np.asfortranarray, aliases={"a": "x"})
def ascontiguousarray_tangent(result, x, dtype=None, *, like=None):
    if dtype is None:
        d[result] = np.atleast_1d(d[x])
    else:
        d[result] = astype_jvp(np.atleast_1d(d[x]), dtype)


# float(x) (and x.item()) of a one-item array or a number: the number itself, whose gradient takes x's shape back
@adjoint(builtins.float, new_array=True)
def float_(result, x):
    d[x] = np.reshape(d[result], np.shape(x))


@tangent(builtins.float)
def float_tangent(result, x):
    d[result] = np.reshape(d[x], ())


# The tangent of np.array([a, b]) is np.array of the tangents; a cast casts it too (to zeros for an integer dtype).
@tangent(np.asarray, aliases={"a": "x"})
def asarray_tangent(result, x, dtype=None, order=None, device=None, copy=None, like=None):
    if dtype is None:
        d[result] = np.asarray(d[x])
    else:
        d[result] = astype_jvp(np.asarray(d[x]), dtype)


@adjoint(np.array, aliases={"object": "x"}, new_array=True, rank="array")
def array(result, x, dtype=None, copy=True, order="K", subok=False, ndmin=0, like=None):
    if dtype is None and ndmin == 0:
        d[x] = d[result]
    else:
        d[x] = np.reshape(astype_grad(d[result], x, dtype), np.shape(x))


@tangent(np.array, aliases={"object": "x"})
def array_tangent(result, x, dtype=None, copy=True, order="K", subok=False, ndmin=0, like=None):
    if dtype is None and ndmin == 0:
        d[result] = np.array(d[x])
    else:
        d[result] = astype_jvp(np.array(d[x], ndmin=ndmin), dtype)


# np.float64(x) and np.float32(x): casts of a number or an array (numpy returns an array for an array)
@adjoint(np.float64, new_array=True, rank="first argument")
def float64_(result, x):
    d[x] = astype_grad(d[result], x, np.float64)


@tangent(np.float64)
def float64_tangent(result, x):
    d[result] = astype_jvp(d[x], np.float64)


@adjoint(np.float32, new_array=True, rank="first argument")
def float32_(result, x):
    d[x] = astype_grad(d[result], x, np.float32)


@tangent(np.float32)
def float32_tangent(result, x):
    d[result] = astype_jvp(d[x], np.float32)


@adjoint(np.astype, new_array=True, rank="first argument", shape="constants")
def astype(result, x, dtype, order="K", casting="unsafe", subok=True, copy=True, device=None):
    d[x] = astype_grad(d[result], x, dtype)


@tangent(np.astype)
def astype_tangent(result, x, dtype, order="K", casting="unsafe", subok=True, copy=True, device=None):
    d[result] = astype_jvp(d[x], dtype)


@adjoint(astype_jvp)  # for hvp: a cast is linear
def astype_jvp_rule(result, tangent, dtype):
    d[tangent] = astype_grad(d[result], tangent, dtype)


method("copy", np.copy)
method("astype", np.astype)


# ---- arrays filled with one value: np.full_like(a, v), np.full(shape, v) ----------------------------------
# Every element is v, broadcast: v's gradient is the result's summed back to v's shape. a gives only a shape and
# a dtype. An integer or boolean result truncates v (np.full(3, 0) is one): no gradient reaches v then.


@adjoint(np.full_like, new_array=True, zero_gradient=("a",))
def full_like(result, a, fill_value, dtype=None, order="K", subok=True, shape=None, device=None):
    d[fill_value] = unbroadcast(stored_derivative(d[result], result), fill_value)


@tangent(np.full_like, zero_gradient=("a",))
def full_like_tangent(result, a, fill_value, dtype=None, order="K", subok=True, shape=None, device=None):
    d[result] = stored_derivative(broadcast_like(d[fill_value], result), dtype_of(result))


@adjoint(np.full, new_array=True)
def full(result, shape, fill_value, dtype=None, order="C", device=None, like=None):
    d[fill_value] = unbroadcast(stored_derivative(d[result], result), fill_value)


@tangent(np.full)
def full_tangent(result, shape, fill_value, dtype=None, order="C", device=None, like=None):
    d[result] = stored_derivative(broadcast_like(d[fill_value], result), dtype_of(result))


# ---- evenly spaced samples between two end points ---------------------------------------------------------


@adjoint(np.linspace, new_array=True)
def linspace(result, start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0, device=None):
    d[start] = linspace_grad(d[result], start, num, endpoint, axis, False, retstep)
    d[stop] = linspace_grad(d[result], stop, num, endpoint, axis, True, retstep)


# np.linspace is linear in its two end points together: the samples of each end point's tangent and a zero
@tangent(np.linspace)
def linspace_tangent(result, start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0, device=None):
    if retstep == False:  # noqa: E712  (decided when the rule is compiled)
        d[result] = np.linspace(d[start], 0 * stop, num, endpoint, dtype=dtype, axis=axis)
        d[result] = np.linspace(0 * start, d[stop], num, endpoint, dtype=dtype, axis=axis)
    else:
        d[result] = linspace_jvp(d[start], 0 * stop, num, endpoint, retstep, dtype, axis)
        d[result] = linspace_jvp(0 * start, d[stop], num, endpoint, retstep, dtype, axis)


@adjoint(linspace_jvp)  # for hvp: np.linspace's own gradient, the end points being tangents here
def linspace_jvp_rule(result, start, stop, num, endpoint, retstep, dtype, axis):
    d[start] = linspace_grad(d[result], start, num, endpoint, axis, False, retstep)
    d[stop] = linspace_grad(d[result], stop, num, endpoint, axis, True, retstep)
