"""Table entries for the shape rules beyond transpose and reshape: ravel/flatten, swapaxes, moveaxis,
expand_dims, squeeze, broadcast_to, tile, repeat, flip, roll, sort, partition, triu/tril, diag, diagonal, and the
copies and casts
(np.copy, np.array, np.asarray, astype), as functions and as methods.

test_primitives.py imports TABLE from here and runs every entry. The test_ functions at the end check
what the table cannot (a cast to float32 under float64 finite differences, gradients that must not share
memory with the output gradient); pytest collects them (pytest.ini lists rules_*.py in python_files).
"""

import numpy as np
import pytest

import sourcegrad

from rule_support import OFF_INTEGERS, RANK3, SCALAR, TWELVE, UNARY, UNARY_ARRAYS, Entry, shapes

# ---- shape cases ----------------------------------------------------------------------------------------

MATRICES = shapes([(3, 4)], [(2, 3, 4)])  # rank 2 and up
TRIANGLES = shapes([(3, 4)], [(4, 3)], [(4, 4)], [(2, 3, 4)], [(4,)])  # a 1-D m makes a square
DIAG = shapes([(4,)], [(3, 4)], [(4, 3)], [(4, 4)])
BROADCASTABLE = shapes([SCALAR], [()], [(4,)], [(3, 1)], [(1, 4)], [(3, 4)], [(2, 3, 4)], [(1, 3, 1)])
SQUEEZABLE = shapes([()], [(1,)], [(3, 1)], [(1, 3, 1, 4)], [(3, 4)])

# ---- linspace: its end points carry the gradient --------------------------------------------------------


def linspace_five(start, stop, w):
    return (np.linspace(start, stop, 5) * w).sum()


def linspace_without_endpoint(start, stop, w):
    return (np.linspace(start, stop, 4, endpoint=False) * w).sum()


def linspace_of_vectors_along_the_last_axis(start, stop, w):
    return (np.linspace(start, stop, num=3, axis=-1) * w).sum()


def linspace_one_sample(start, stop, w):
    return (np.linspace(start, stop, 1) * w).sum()


END_POINTS = shapes([SCALAR, SCALAR], [(), ()], [(3,), (3,)], [(3,), SCALAR], [(2, 3), (3,)])

# ---- full and full_like: every element is the fill value, which carries the gradient ------------------------


def full_like_of_a_value(x, v, w):
    return (np.full_like(x, v) * w).sum()


def full_of_a_value(v, w):
    return (np.full((3, 4), v) * w).sum()


FILL_VALUES = shapes([(3, 4), SCALAR], [(3, 4), ()], [(3, 4), (4,)], [(3, 4), (3, 1)])

# ---- ravel and flatten ------------------------------------------------------------------------------------


def ravel(x, w):
    return (np.ravel(x) * w).sum()


def ravel_order_f(x, w):
    return (np.ravel(x, order="F") * w).sum()


def ravel_order_k_of_transpose(x, w):
    return (np.ravel(x.T, order="K") * w).sum()  # memory order of x.T is x's C order


def ravel_order_a_of_transpose(x, w):
    return (np.ravel(x.T, "A") * w).sum()  # x.T is Fortran-contiguous: "A" walks it in F order


def ravel_method(x, w):
    return (x.ravel() * w).sum()


def flatten_method(x, w):
    return (x.flatten() * w).sum()


def flatten_method_order_f(x, w):
    return (x.flatten("F") * w).sum()


# ---- swapaxes and moveaxis -------------------------------------------------------------------------------


def swapaxes(x, w):
    return (np.swapaxes(x, 0, 1) * w).sum()


def swapaxes_negative(x, w):
    return (np.swapaxes(x, 0, -1) * w).sum()


def swapaxes_keywords(x, w):
    return (np.swapaxes(x, axis1=-2, axis2=-1) * w).sum()


def swapaxes_method(x, w):
    return (x.swapaxes(1, 2) * w).sum()


def moveaxis(x, w):
    return (np.moveaxis(x, 0, -1) * w).sum()


def moveaxis_tuples(x, w):
    return (np.moveaxis(x, (0, 1), (-1, 0)) * w).sum()


def moveaxis_keywords(x, w):
    return (np.moveaxis(x, source=-1, destination=0) * w).sum()


# ---- expand_dims and squeeze -----------------------------------------------------------------------------


def expand_dims_0(x, w):
    return (np.expand_dims(x, 0) * w).sum()


def expand_dims_minus_1(x, w):
    return (np.expand_dims(x, axis=-1) * w).sum()


def expand_dims_tuple(x, w):
    return (np.expand_dims(x, (0, 2)) * w).sum()


def squeeze(x, w):
    return (np.squeeze(x) * w).sum()


def squeeze_axis(x, w):
    return (np.squeeze(x, axis=0) * w).sum()


def squeeze_axis_tuple(x, w):
    return (np.squeeze(x, axis=(0, -1)) * w).sum()


def squeeze_method(x, w):
    return (x.squeeze() * w).sum()


def squeeze_method_axis(x, w):
    return (x.squeeze(1) * w).sum()


# ---- broadcast_to, tile, repeat -----------------------------------------------------------------------------


def broadcast_to(x, w):
    return (np.broadcast_to(x, (2, 3, 4)) * w).sum()


def broadcast_to_keyword(x, w):
    return (np.broadcast_to(x, shape=(5, 3, 4)) * w).sum()


def broadcast_to_keyword_array(x, w):
    return (np.broadcast_to(array=x, shape=(3, 4)) * w).sum()  # numpy's keyword for the array


def tile_int(x, w):
    return (np.tile(x, 3) * w).sum()


def tile_tuple(x, w):
    return (np.tile(x, (2, 1)) * w).sum()


def tile_longer_reps(x, w):
    return (np.tile(x, (2, 1, 3)) * w).sum()


def tile_ones(x, w):
    return (np.tile(x, (1, 1)) * w).sum()


def repeat_flat(x, w):
    return (np.repeat(x, 3) * w).sum()


def repeat_axis(x, w):
    return (np.repeat(x, 2, axis=1) * w).sum()


def repeat_axis_minus_1(x, w):
    return (np.repeat(x, 3, -1) * w).sum()


def repeat_counts(x, w):
    return (np.repeat(x, [1, 0, 2], axis=0) * w).sum()


def repeat_counts_trailing_zero(x, w):
    return (np.repeat(x, [2, 1, 0], axis=0) * w).sum()


def repeat_counts_flat(x, w):
    return (np.repeat(x, [3, 0, 1, 2, 0, 1]) * w).sum()


def repeat_method(x, w):
    return (x.repeat(2) * w).sum()


def repeat_method_axis(x, w):
    return (x.repeat(2, axis=0) * w).sum()


# ---- flip and roll ------------------------------------------------------------------------------------------


def flip_all(x, w):
    return (np.flip(x) * w).sum()


def flip_0(x, w):
    return (np.flip(x, 0) * w).sum()


def flip_minus_1(x, w):
    return (np.flip(x, axis=-1) * w).sum()


def flip_tuple(x, w):
    return (np.flip(x, axis=(0, 2)) * w).sum()


def roll_flat(x, w):
    return (np.roll(x, 1) * w).sum()


def roll_flat_more_than_size(x, w):
    return (np.roll(x, 13) * w).sum()


def roll_axis(x, w):
    return (np.roll(x, -2, axis=1) * w).sum()


def roll_tuples(x, w):
    return (np.roll(x, (1, 2), axis=(0, -1)) * w).sum()


# ---- triu, tril, diag -----------------------------------------------------------------------------------------


def triu(x, w):
    return (np.triu(x) * w).sum()


def triu_keyword_m(x, w):
    return (np.triu(m=x, k=1) * w).sum()


def triu_k(x, w):
    return (np.triu(x, 1) * w).sum()


def triu_negative_k(x, w):
    return (np.triu(x, k=-1) * w).sum()


def tril(x, w):
    return (np.tril(x) * w).sum()


def tril_k(x, w):
    return (np.tril(x, -1) * w).sum()


def tril_positive_k(x, w):
    return (np.tril(x, k=2) * w).sum()


def diag(x, w):
    return (np.diag(x) * w).sum()


def diag_k(x, w):
    return (np.diag(x, 1) * w).sum()


def diag_negative_k(x, w):
    return (np.diag(x, k=-2) * w).sum()


def diagonal(x, w):
    return (np.diagonal(x) * w).sum()


def diagonal_last_axes_swapped(x, w):  # autograd's test_diagonal: axis1 after axis2
    return (np.diagonal(x, axis1=-1, axis2=-2) * w).sum()


def diagonal_offset(x, w):
    return (np.diagonal(x, 1) * w).sum()


def diagonal_negative_offset_axes(x, w):
    return (np.diagonal(x, -1, 2, 0) * w).sum()


def diagonal_method(x, w):
    return (x.diagonal(offset=-1) * w).sum()


# ---- copies and casts --------------------------------------------------------------------------------------------


def np_copy(x, w):
    return (np.copy(x) * w).sum()


def copy_method(x, w):
    return (x.copy() * w).sum()


def np_array(x, w):
    return (np.array(x) * w).sum()


def np_array_dtype(x, w):
    return (np.array(x, dtype=np.float64) * w).sum()


def np_array_ndmin(x, w):
    return (np.array(x, ndmin=3) * w).sum()


def np_asarray(x, w):
    return (np.asarray(x) * w).sum()


def np_asarray_dtype(x, w):
    return (np.asarray(x, np.float64) * w).sum()


def np_ascontiguousarray(x, w):
    return (np.ascontiguousarray(x) * w).sum()


def np_asfortranarray_of_a_transpose(x, w):
    return (np.asfortranarray(np.transpose(x)) * w).sum()


def np_ascontiguousarray_dtype(x, w):
    return (np.ascontiguousarray(x, dtype=np.float64) * w).sum()


def np_ascontiguousarray_integer(x, w):
    return (np.ascontiguousarray(x, np.int64) * w).sum()  # piecewise constant: a zero gradient off the integers


def float64_constructor(x, w):
    return (np.float64(x) * w).sum()


def astype_method(x, w):
    return (x.astype(np.float64) * w).sum()


def astype_method_string(x, w):
    return (x.astype("float64") * w).sum()


def astype_integer(x, w):
    return (x.astype(np.int64) * w).sum()  # piecewise constant: a zero gradient off the integers


def np_astype(x, w):
    return (np.astype(x, np.float64) * w).sum()


# ---- atleast_1d/2d/3d, fliplr, flipud, rot90, fftshift, ifftshift --------------------------------------------


def atleast_1d(x, w):
    return (np.atleast_1d(x) * w).sum()


def atleast_2d(x, w):
    return (np.atleast_2d(x) * w).sum()


def atleast_3d(x, w):
    return (np.atleast_3d(x) * w).sum()


def fliplr(x, w):
    return (np.fliplr(x) * w).sum()


def flipud(x, w):
    return (np.flipud(x) * w).sum()


def rot90(x, w):
    return (np.rot90(x) * w).sum()


def rot90_k(x, w):
    return (np.rot90(x, 3) * w).sum()


def rot90_negative_k_axes(x, w):
    return (np.rot90(x, k=-2, axes=(2, 0)) * w).sum()


def fftshift(x, w):
    return (np.fft.fftshift(x) * w).sum()


def fftshift_axes(x, w):
    return (np.fft.fftshift(x, axes=(0, -1)) * w).sum()


def ifftshift(x, w):
    return (np.fft.ifftshift(x) * w).sum()


def ifftshift_axis(x, w):
    return (np.fft.ifftshift(x, axes=1) * w).sum()


# ---- sort -------------------------------------------------------------------------------------------------


def sort_last_axis(x, w):
    return (np.sort(x) * w).sum()


def sort_axis_0(x, w):
    return (np.sort(x, axis=0) * w).sum()


def sort_flat(x, w):
    return (np.sort(x, axis=None) * w).sum()


# ---- partition: the gradient of each position goes to the element numpy put there ---------------------------


def partition(x, w):
    return (np.partition(x, 2) * w).sum()


def partition_axis_0_several_kth(x, w):
    return (np.partition(x, (0, 2), axis=0) * w).sum()


def partition_flat_negative_kth(x, w):
    return (np.partition(x, -2, axis=None) * w).sum()


# ---- pad with constants ---------------------------------------------------------------------------------------


def pad_int(x, w):
    return (np.pad(x, 2) * w).sum()


def pad_pair(x, w):
    return (np.pad(x, (1, 2), mode="constant") * w).sum()


def pad_per_axis_constants(x, w):
    return (np.pad(x, ((1, 0), (0, 2)), constant_values=((1.0, 2.0), (3.0, 4.0))) * w).sum()


def pad_scalar_constant(x, c, w):
    return (np.pad(x, 1, constant_values=c) * w).sum()


def float_of_a_sum(x, w):
    return float(np.sum(x * x)) * w


def float_of_one_item(x, w):
    return float(x) * w


def item_of_a_sum(x, w):
    return (x * x).sum().item() * w


TABLE = [
    # float(x) and x.item(): the number a one-item array holds
    Entry(float, float_of_a_sum, shapes([SCALAR], [()], [(5,)], [(3, 4)])),
    Entry(float, float_of_one_item, shapes([SCALAR], [()])),  # numpy 2 converts 0-d arrays alone
    Entry(float, item_of_a_sum, shapes([()], [(5,)], [(3, 4)])),
    Entry(np.linspace, linspace_five, END_POINTS),
    Entry(np.linspace, linspace_without_endpoint, END_POINTS),
    Entry(np.linspace, linspace_of_vectors_along_the_last_axis, shapes([(3,), (3,)], [(2, 3), (3,)])),
    Entry(np.linspace, linspace_one_sample, END_POINTS),
    # ravel, flatten
    Entry(np.full_like, full_like_of_a_value, FILL_VALUES),
    Entry(np.full, full_of_a_value, shapes([SCALAR], [()], [(4,)], [(3, 1)])),
    Entry(np.ravel, ravel, UNARY),
    Entry(np.ravel, ravel_order_f, TWELVE + shapes([()])),
    Entry(np.ravel, ravel_order_k_of_transpose, TWELVE),
    Entry(np.ravel, ravel_order_a_of_transpose, TWELVE),
    Entry(np.ravel, ravel_method, UNARY_ARRAYS),
    Entry(np.ravel, flatten_method, UNARY_ARRAYS),
    Entry(np.ravel, flatten_method_order_f, UNARY_ARRAYS),
    # swapaxes, moveaxis
    Entry(np.swapaxes, swapaxes, MATRICES),
    Entry(np.swapaxes, swapaxes_negative, shapes([(5,)], [(3, 4)], [(2, 3, 4)])),
    Entry(np.swapaxes, swapaxes_keywords, MATRICES),
    Entry(np.swapaxes, swapaxes_method, RANK3),
    Entry(np.moveaxis, moveaxis, shapes([(5,)], [(3, 4)], [(2, 3, 4)])),
    Entry(np.moveaxis, moveaxis_tuples, RANK3),
    Entry(np.moveaxis, moveaxis_keywords, MATRICES),
    # expand_dims, squeeze
    Entry(np.expand_dims, expand_dims_0, UNARY),
    Entry(np.expand_dims, expand_dims_minus_1, UNARY),
    Entry(np.expand_dims, expand_dims_tuple, shapes([(5,)], [(3, 4)])),
    Entry(np.squeeze, squeeze, SQUEEZABLE + shapes([SCALAR])),
    Entry(np.squeeze, squeeze_axis, shapes([(1,)], [(1, 4)], [(1, 3, 4)])),
    Entry(np.squeeze, squeeze_axis_tuple, shapes([(1, 1)], [(1, 3, 1)])),
    Entry(np.squeeze, squeeze_method, SQUEEZABLE),
    Entry(np.squeeze, squeeze_method_axis, shapes([(3, 1)], [(3, 1, 4)])),
    # broadcast_to, tile, repeat
    Entry(np.broadcast_to, broadcast_to, BROADCASTABLE),
    Entry(np.broadcast_to, broadcast_to_keyword, shapes([(4,)], [(3, 1)], [(1, 3, 4)])),
    Entry(np.broadcast_to, broadcast_to_keyword_array, shapes([(4,)], [(3, 1)])),
    Entry(np.tile, tile_int, UNARY),
    Entry(np.tile, tile_tuple, UNARY),
    Entry(np.tile, tile_longer_reps, shapes([()], [(5,)], [(3, 4)], [(2, 3, 4)])),
    Entry(np.tile, tile_ones, UNARY),
    Entry(np.repeat, repeat_flat, UNARY),
    Entry(np.repeat, repeat_axis, MATRICES),
    Entry(np.repeat, repeat_axis_minus_1, shapes([(5,)], [(3, 4)], [(2, 3, 4)])),
    Entry(np.repeat, repeat_counts, shapes([(3,)], [(3, 4)], [(3, 2, 2)])),
    Entry(np.repeat, repeat_counts_trailing_zero, shapes([(3,)], [(3, 4)])),
    Entry(np.repeat, repeat_counts_flat, shapes([(6,)], [(2, 3)])),
    Entry(np.repeat, repeat_method, UNARY_ARRAYS),
    Entry(np.repeat, repeat_method_axis, shapes([(5,)], [(3, 4)], [(2, 3, 4)])),
    # flip, roll
    Entry(np.flip, flip_all, UNARY),
    Entry(np.flip, flip_0, shapes([(5,)], [(3, 4)], [(2, 3, 4)])),
    Entry(np.flip, flip_minus_1, shapes([(5,)], [(3, 4)], [(2, 3, 4)])),
    Entry(np.flip, flip_tuple, RANK3),
    Entry(np.roll, roll_flat, UNARY_ARRAYS),
    Entry(np.roll, roll_flat_more_than_size, shapes([(5,)], [(3, 4)])),
    Entry(np.roll, roll_axis, MATRICES),
    Entry(np.roll, roll_tuples, MATRICES),
    # atleast_1d/2d/3d, fliplr, flipud, rot90, fftshift, ifftshift
    Entry(np.atleast_1d, atleast_1d, UNARY),
    Entry(np.atleast_2d, atleast_2d, UNARY),
    Entry(np.atleast_3d, atleast_3d, UNARY),
    Entry(np.fliplr, fliplr, MATRICES),
    Entry(np.flipud, flipud, shapes([(5,)], [(3, 4)], [(2, 3, 4)])),
    Entry(np.rot90, rot90, MATRICES),
    Entry(np.rot90, rot90_k, MATRICES),
    Entry(np.rot90, rot90_negative_k_axes, RANK3),
    Entry(np.fft.fftshift, fftshift, shapes([(5,)], [(3, 4)], [(2, 3, 5)])),
    Entry(np.fft.fftshift, fftshift_axes, MATRICES),
    Entry(np.fft.ifftshift, ifftshift, shapes([(5,)], [(3, 4)], [(2, 3, 5)])),
    Entry(np.fft.ifftshift, ifftshift_axis, shapes([(3, 5)], [(2, 3, 5)])),
    # sort (normal samples: no ties, see the test_ functions for those)
    Entry(np.sort, sort_last_axis, shapes([(5,)], [(3, 4)], [(2, 3, 4)])),
    Entry(np.sort, sort_axis_0, shapes([(5,)], [(3, 4)], [(2, 3, 4)])),
    Entry(np.sort, sort_flat, UNARY_ARRAYS),
    # partition (normal samples: no ties, see the test_ functions for those)
    Entry(np.partition, partition, shapes([(5,)], [(3, 4)], [(2, 3, 4)])),
    Entry(np.partition, partition_axis_0_several_kth, shapes([(5,)], [(3, 4)], [(4, 3, 2)])),
    Entry(np.partition, partition_flat_negative_kth, shapes([(5,)], [(3, 4)])),
    # pad
    Entry(np.pad, pad_int, UNARY_ARRAYS),
    Entry(np.pad, pad_pair, shapes([(5,)], [(3, 4)])),
    Entry(np.pad, pad_per_axis_constants, shapes([(3, 4)])),
    Entry(np.pad, pad_scalar_constant, shapes([(3, 4), SCALAR], [(5,), ()])),
    # triu, tril, diag, diagonal
    Entry(np.triu, triu, TRIANGLES),
    Entry(np.triu, triu_keyword_m, TRIANGLES),
    Entry(np.triu, triu_k, TRIANGLES),
    Entry(np.triu, triu_negative_k, TRIANGLES),
    Entry(np.tril, tril, TRIANGLES),
    Entry(np.tril, tril_k, TRIANGLES),
    Entry(np.tril, tril_positive_k, TRIANGLES),
    Entry(np.diag, diag, DIAG),
    Entry(np.diag, diag_k, DIAG),
    Entry(np.diag, diag_negative_k, DIAG),
    Entry(np.diagonal, diagonal, shapes([(3, 4)], [(4, 3)], [(2, 3, 4)])),
    Entry(np.diagonal, diagonal_last_axes_swapped, shapes([(4, 4)], [(3, 4, 4)], [(2, 3, 4, 5)])),
    Entry(np.diagonal, diagonal_offset, shapes([(3, 4)], [(4, 3)], [(2, 3, 4)])),
    Entry(np.diagonal, diagonal_negative_offset_axes, shapes([(3, 4, 5)], [(5, 2, 4)])),
    Entry(np.diagonal, diagonal_method, shapes([(3, 4)], [(4, 4)], [(2, 3, 4)])),
    # copies and casts
    Entry(np.copy, np_copy, UNARY),
    Entry(np.copy, copy_method, UNARY_ARRAYS),
    Entry(np.array, np_array, UNARY),
    Entry(np.array, np_array_dtype, UNARY),
    Entry(np.array, np_array_ndmin, UNARY),
    Entry(np.asarray, np_asarray, UNARY),
    Entry(np.asarray, np_asarray_dtype, UNARY),
    Entry(np.ascontiguousarray, np_ascontiguousarray, UNARY),  # a number or 0-d array becomes 1-d
    Entry(np.asfortranarray, np_asfortranarray_of_a_transpose, UNARY),
    Entry(np.ascontiguousarray, np_ascontiguousarray_dtype, UNARY),
    Entry(np.ascontiguousarray, np_ascontiguousarray_integer, UNARY, domain=OFF_INTEGERS),
    Entry(np.float64, float64_constructor, UNARY),
    Entry(np.astype, astype_method, UNARY_ARRAYS),
    Entry(np.astype, astype_method_string, UNARY_ARRAYS),
    Entry(np.astype, astype_integer, UNARY_ARRAYS, domain=OFF_INTEGERS),
    Entry(np.astype, np_astype, UNARY_ARRAYS),
]

# ---- what the table cannot check ------------------------------------------------------------------------------


def astype_float32(x):
    return (x.astype(np.float32) * 3.0).sum()


def float32_constructor(x):
    return (np.float32(x) * 3.0).sum() + np.float32(x[0, 0] * 2.0)


def test_a_float32_constructor_is_a_cast_with_the_gradient_in_the_input_dtype():
    x = np.linspace(-1.0, 1.0, 6).reshape(2, 3)
    gradient = sourcegrad.differentiate(float32_constructor, wrt="x").grad(x)
    assert gradient.dtype == np.float64
    np.testing.assert_array_equal(gradient, np.full((2, 3), 3.0) + np.array([[2.0, 0, 0], [0, 0, 0]]))


def test_astype_gradient_comes_back_in_the_input_dtype():
    x = np.linspace(-1.0, 1.0, 6).reshape(2, 3)  # float64 in, float32 inside
    gradient = sourcegrad.differentiate(astype_float32, wrt="x").grad(x)
    assert gradient.dtype == np.float64
    np.testing.assert_array_equal(gradient, np.full((2, 3), 3.0))


def fills_integer_and_float_arrays(v):
    counts = np.full_like(np.arange(3), v * 10.0)  # integers: v * 10 truncated
    flags = np.full(3, v, dtype=bool)
    kept = np.full((2, 3), v[0])
    return np.sum(counts * v) + np.sum(flags * v) + np.sum(kept ** 2)


def test_a_fill_of_an_integer_or_boolean_array_has_no_gradient_through_the_fill():
    v = np.array([0.37, -1.21, 0.83])
    assert sourcegrad.check_grad(fills_integer_and_float_arrays, v)
    expected = np.array([3, -12, 8]) + np.ones(3) + np.array([12 * v[0], 0.0, 0.0])
    np.testing.assert_allclose(sourcegrad.grad(fills_integer_and_float_arrays)(v), expected)


# A view's gradient added to the gradient of the value it views: the backward pass must neither write into
# the caller's output gradient nor hand back an array sharing memory with it.


def flip_plus_self(x):
    y = x * 2.0
    return np.flip(y, 0) + y


def swapaxes_plus_self(x):
    y = x * 2.0
    return np.swapaxes(y, 0, 1) + y


def moveaxis_plus_self(x):
    y = x * 2.0
    return np.moveaxis(y, 0, 1) + y


def transpose_via_ravel_plus_self(x):
    y = x * 2.0
    return np.ravel(y, order="F").reshape(3, 3) + y


def squeeze_plus_self(x):
    y = x * 2.0
    return np.squeeze(np.expand_dims(y, 0)) + y


def copy_plus_self(x):
    y = x * 2.0
    return np.asarray(y) + np.copy(y) + np.array(y) + y.astype(np.float64) + y


def roll_plus_self(x):
    y = x * 2.0
    return np.roll(y, 1, axis=1) + np.triu(y) + np.tile(y, (1, 1)) + y


def identity_output(x):
    return np.asarray(x)


def test_view_gradients_leave_the_output_gradient_alone():
    x = np.arange(9.0).reshape(1, 3, 3)[0]
    for fn in (flip_plus_self, swapaxes_plus_self, moveaxis_plus_self, transpose_via_ravel_plus_self,
               squeeze_plus_self, copy_plus_self, roll_plus_self, identity_output):
        f = sourcegrad.differentiate(fn, wrt="x")
        output_gradient = np.arange(9.0).reshape(3, 3) + 1.0
        kept = output_gradient.copy()
        gradient = f.grad(x, grad_output=output_gradient)
        np.testing.assert_array_equal(output_gradient, kept, err_msg=fn.__name__)
        assert not np.shares_memory(gradient, output_gradient), fn.__name__
        numeric = np.zeros((3, 3))
        for i in range(3):
            for j in range(3):
                e = np.zeros((3, 3))
                e[i, j] = 1.0
                numeric[i, j] = ((fn(x + e) - fn(x - e)) * output_gradient).sum() / 2  # all these are linear
        np.testing.assert_allclose(gradient, numeric, err_msg=fn.__name__)


def sort_with_ties(x):
    return (np.sort(x) * np.array([1.0, 2.0, 3.0, 4.0])).sum()


def test_sort_gradient_splits_ties_in_stable_order(generated_dir):
    # the two 1.0s sort to positions 1 and 2: the first of them (index 0) gets position 1's weight
    x = np.array([1.0, 3.0, 1.0, 0.5])
    (gradient,) = sourcegrad.differentiate(sort_with_ties, wrt=("x",), generated_dir=generated_dir).grad(x)
    np.testing.assert_array_equal(gradient, [2.0, 4.0, 3.0, 1.0])


def partition_with_ties(x):
    return (np.partition(x, 2) * np.array([1.0, 2.0, 3.0, 4.0, 5.0])).sum()


def sorted_partition(x):
    return (np.sort(np.partition(x, 3)) * np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])).sum()


def sorted_directly(x):
    return (np.sort(x) * np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])).sum()


def test_partition_gradient_splits_ties_as_sort_does(generated_dir):
    # Each element gets the weight of a position holding its value; tied elements take the tied positions in
    # order, the first element the first position, as np.sort's rule gives them.
    x = np.array([1.0, 3.0, 1.0, 0.5, 1.0])
    (gradient,) = sourcegrad.differentiate(partition_with_ties, wrt=("x",), generated_dir=generated_dir).grad(x)
    result = np.partition(x, 2)
    weights = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    for value in np.unique(x):
        np.testing.assert_array_equal(gradient[x == value], weights[result == value])
    # so sorting after partitioning sends every gradient where sorting alone does, ties included
    y = np.array([2.0, 1.0, 2.0, 2.0, 0.0, 1.0])
    through_partition = sourcegrad.differentiate(sorted_partition, generated_dir=generated_dir).grad(y)
    directly = sourcegrad.differentiate(sorted_directly, generated_dir=generated_dir).grad(y)
    np.testing.assert_array_equal(through_partition, directly)


def partition_in_place(x):
    x.partition(1)
    return x.sum()


def test_partition_method_in_place_is_refused(generated_dir):
    f = sourcegrad.differentiate(partition_in_place, generated_dir=generated_dir)
    with pytest.raises(sourcegrad.SourcegradError, match="partition"):
        f.grad(np.array([2.0, 1.0, 3.0]))


def sort_in_place(x):
    x.sort()
    return x.sum()


def test_sort_method_in_place_is_refused(generated_dir):
    f = sourcegrad.differentiate(sort_in_place, generated_dir=generated_dir)
    with pytest.raises(sourcegrad.SourcegradError, match="sort"):
        f.grad(np.array([2.0, 1.0]))


def pad_reflect(x):
    return np.pad(x, 1, mode="reflect").sum()


def test_pad_refuses_modes_other_than_constant(generated_dir):
    f = sourcegrad.differentiate(pad_reflect, generated_dir=generated_dir)
    with pytest.raises(sourcegrad.SourcegradError, match="reflect"):
        f.grad(np.array([2.0, 1.0, 3.0]))


# ---- casts to integers or booleans written out carry no gradient, so their result may decide an np.where ----


def where_of_a_boolean_cast(w):
    k = w.astype(bool)
    return np.sum(np.where(k, w, 0.0) ** 2) + np.sum(w * (w > 0).astype(float))


def integer_casts_spelled_every_way(w):
    a = w.astype(int) * w
    b = np.asarray(w * 3.0, dtype="int32") * w
    c = w.astype(dtype=np.int64) * w
    return np.sum(a + b + c) + np.sum(w * 2.0, dtype=np.int64) * w[0]


def a_local_named_like_a_type(w):
    bool = np.float64  # a local, not the builtin: the cast keeps the gradient
    return np.sum(w.astype(bool) * w)


def cast_to_a_dtype_given(w, dtype):
    return np.sum(w.astype(dtype) * w)


def where_of_a_cast_to_a_dtype_given(w, dtype):
    return np.sum(np.where(w.astype(dtype), w, 0.0))


CAST_POINT = np.array([0.3, -1.7, 2.2, 0.0])


def _grad_jvp_hvp(fn, x, tangent):
    gradient = sourcegrad.grad(fn)(x)
    _, derivative = sourcegrad.jvp(fn, (x,), (tangent,))
    curvature = sourcegrad.hvp(fn)((x,), (tangent,))
    return gradient, derivative, curvature


def test_a_boolean_cast_decides_np_where_without_a_gradient():
    tangent = np.array([1.0, -2.0, 0.5, 3.0])
    gradient, derivative, curvature = _grad_jvp_hvp(where_of_a_boolean_cast, CAST_POINT, tangent)
    expected = 2 * CAST_POINT * (CAST_POINT != 0) + (CAST_POINT > 0)
    np.testing.assert_allclose(gradient, expected)
    assert derivative == pytest.approx(expected @ tangent)
    np.testing.assert_allclose(curvature, 2 * tangent * (CAST_POINT != 0))


def test_integer_casts_written_out_carry_no_gradient():
    tangent = np.array([1.0, -2.0, 0.5, 3.0])
    gradient, derivative, curvature = _grad_jvp_hvp(integer_casts_spelled_every_way, CAST_POINT, tangent)
    x = CAST_POINT
    expected = np.trunc(x) + np.trunc(x * 3.0) + np.trunc(x) + np.array([np.sum(np.trunc(x * 2.0)), 0, 0, 0])
    np.testing.assert_allclose(gradient, expected)
    assert derivative == pytest.approx(expected @ tangent)
    np.testing.assert_allclose(curvature, 0.0, atol=1e-12)


def test_a_local_named_like_a_type_is_not_taken_for_the_type():
    np.testing.assert_allclose(sourcegrad.grad(a_local_named_like_a_type)(CAST_POINT), 2 * CAST_POINT)


def test_a_cast_to_a_dtype_passed_in_is_decided_when_it_runs():
    f = sourcegrad.differentiate(cast_to_a_dtype_given, wrt="w")
    np.testing.assert_allclose(f.grad(CAST_POINT, np.float64), 2 * CAST_POINT)
    np.testing.assert_allclose(f.grad(CAST_POINT, np.int64), np.trunc(CAST_POINT))
    with pytest.raises(sourcegrad.SourcegradError, match="condition"):
        sourcegrad.differentiate(where_of_a_cast_to_a_dtype_given, wrt="w").grad(CAST_POINT, bool)
