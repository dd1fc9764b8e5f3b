"""Gradient rules for operations that only move, copy or select elements: transposes, reshapes,
axis moves, broadcasts, repeats, flips, rotations and rolls, sorting, padding, triangles and diagonals,
and copies and casts.

The gradient of a view is written with np.transpose / np.reshape of the output's gradient, which the
simplifier knows may share memory with it; the other gradients come from runtime helpers that always
return new arrays.

The array operand is named x in every rule, as in np.transpose's and np.reshape's; numpy's own keyword
(`a=`, `m=`, `v=`, `A=`, `array=`, `object=`) is an alias.
"""

import numpy as np

from ..runtime import inverse_permutation, unbroadcast
from ..runtime.shape import (astype_grad, diag_grad, fftshift_grad, flip_grad, ifftshift_grad, moveaxis_inverse,
                             pad_constant_grad, pad_grad, ravel_axes, ravel_shape, repeat_grad, roll_grad, rot90_grad,
                             linspace_grad, sort_grad, swapaxes_permutation, tile_grad)
from .registry import adjoint, d, method, ndim

# ---- transposes ------------------------------------------------------------------------------------


@adjoint(np.transpose)
def transpose(result, x, axes=None):
    if axes is None and ndim(x) >= 1:
        d[x] = d[result].T
    else:
        d[x] = np.transpose(d[result], inverse_permutation(axes))


@adjoint(np.swapaxes, aliases={"a": "x"})
def swapaxes(result, x, axis1, axis2):
    d[x] = np.transpose(d[result], swapaxes_permutation(d[result], axis1, axis2))


@adjoint(np.moveaxis, aliases={"a": "x"})
def moveaxis(result, x, source, destination):
    d[x] = np.transpose(d[result], moveaxis_inverse(d[result], source, destination))


method("swapaxes", np.swapaxes)

# ---- reshapes ----------------------------------------------------------------------------------------


@adjoint(np.reshape, aliases={"newshape": "shape"})
def reshape(result, x, shape=None, order="C"):
    d[x] = np.reshape(d[result], np.shape(x), order=order)


@adjoint(np.ravel, aliases={"a": "x"})
def ravel(result, x, order="C"):
    if order == "C":
        d[x] = np.reshape(d[result], np.shape(x))
    else:
        d[x] = np.transpose(np.reshape(d[result], ravel_shape(x, order)), ravel_axes(x, order))


@adjoint(np.expand_dims, aliases={"a": "x"})
def expand_dims(result, x, axis):
    d[x] = np.reshape(d[result], np.shape(x))


@adjoint(np.squeeze, aliases={"a": "x"})
def squeeze(result, x, axis=None):
    d[x] = np.reshape(d[result], np.shape(x))


# np.atleast_1d/2d/3d of one array: a view with axes of length 1 added (of several, a list: no rule)


@adjoint(np.atleast_1d, np.atleast_2d, np.atleast_3d)
def atleast_nd(result, x):
    d[x] = np.reshape(d[result], np.shape(x))


method("ravel", np.ravel)
method("flatten", np.ravel)  # x.flatten(order) copies what np.ravel(x, order) may view: the same gradient
method("squeeze", np.squeeze)

# ---- broadcasts and repeats: the copies' gradients are summed ----------------------------------------


@adjoint(np.broadcast_to, aliases={"array": "x"})
def broadcast_to(result, x, shape, subok=False):
    d[x] = unbroadcast(d[result], x)


@adjoint(np.tile, aliases={"A": "x"}, new_array=True)
def tile(result, x, reps):
    d[x] = tile_grad(d[result], x, reps)


@adjoint(np.repeat, aliases={"a": "x"}, new_array=True)
def repeat(result, x, repeats, axis=None):
    d[x] = repeat_grad(d[result], x, repeats, axis)


method("repeat", np.repeat)

# ---- flips and rolls -------------------------------------------------------------------------------


@adjoint(np.flip, aliases={"m": "x"})
def flip(result, x, axis=None):
    d[x] = flip_grad(d[result], axis)


@adjoint(np.fliplr, aliases={"m": "x"})
def fliplr(result, x):
    d[x] = flip_grad(d[result], 1)


@adjoint(np.flipud, aliases={"m": "x"})
def flipud(result, x):
    d[x] = flip_grad(d[result], 0)


@adjoint(np.rot90, aliases={"m": "x"})
def rot90(result, x, k=1, axes=(0, 1)):
    d[x] = rot90_grad(d[result], k, axes)


@adjoint(np.roll, aliases={"a": "x"}, new_array=True)
def roll(result, x, shift, axis=None):
    d[x] = roll_grad(d[result], shift, axis)


# np.fft.fftshift and ifftshift are rolls by half of each axis (new arrays); each undoes the other.


@adjoint(np.fft.fftshift, new_array=True)
def fftshift(result, x, axes=None):
    d[x] = ifftshift_grad(d[result], axes)


@adjoint(np.fft.ifftshift, new_array=True)
def ifftshift(result, x, axes=None):
    d[x] = fftshift_grad(d[result], axes)


# ---- sorting: the gradient goes back through the permutation (ties in np.argsort's stable order) ---------


@adjoint(np.sort, aliases={"a": "x"}, new_array=True)
def sort(result, x, axis=-1, kind=None, order=None, stable=None):
    d[x] = sort_grad(d[result], x, axis)


# x.sort() sorts in place and returns None: it has no rule, so it stays refused.

# ---- padding: the gradient of the padded array's interior; only mode "constant" ---------------------------


@adjoint(np.pad, aliases={"array": "x"}, new_array=True)
def pad(result, x, pad_width, mode="constant", constant_values=0):
    d[x] = pad_grad(d[result], x, pad_width, mode)
    d[constant_values] = pad_constant_grad(d[result], x, pad_width, constant_values)


# ---- triangles and diagonals -------------------------------------------------------------------------
# np.triu of a 1-D m is the triangle of m broadcast to rows: its gradient sums the rows back.


@adjoint(np.triu, aliases={"m": "x"}, new_array=True)
def triu(result, x, k=0):
    if ndim(x) >= 2:
        d[x] = np.triu(d[result], k)
    else:
        d[x] = unbroadcast(np.triu(d[result], k), x)


@adjoint(np.tril, aliases={"m": "x"}, new_array=True)
def tril(result, x, k=0):
    if ndim(x) >= 2:
        d[x] = np.tril(d[result], k)
    else:
        d[x] = unbroadcast(np.tril(d[result], k), x)


@adjoint(np.diag, aliases={"v": "x"})
def diag(result, x, k=0):
    d[x] = diag_grad(d[result], x, k)


# ---- copies and casts: the gradient passes through, in the input's dtype --------------------------------


@adjoint(np.copy, aliases={"a": "x"}, new_array=True)
def copy(result, x, order="K", subok=False):
    d[x] = d[result]


@adjoint(np.asarray, aliases={"a": "x"})
def asarray(result, x, dtype=None, order=None, device=None, copy=None, like=None):
    if dtype is None:
        d[x] = d[result]
    else:
        d[x] = astype_grad(d[result], x, dtype)


@adjoint(np.array, aliases={"object": "x"}, new_array=True)
def array(result, x, dtype=None, copy=True, order="K", subok=False, ndmin=0, like=None):
    if dtype is None and ndmin == 0:
        d[x] = d[result]
    else:
        d[x] = np.reshape(astype_grad(d[result], x, dtype), np.shape(x))


@adjoint(np.astype, new_array=True)
def astype(result, x, dtype, order="K", casting="unsafe", subok=True, copy=True, device=None):
    d[x] = astype_grad(d[result], x, dtype)


method("copy", np.copy)
method("astype", np.astype)


# ---- evenly spaced samples between two end points ---------------------------------------------------------


@adjoint(np.linspace, new_array=True)
def linspace(result, start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0, device=None):
    d[start] = linspace_grad(d[result], start, num, endpoint, axis, False, retstep)
    d[stop] = linspace_grad(d[result], stop, num, endpoint, axis, True, retstep)
