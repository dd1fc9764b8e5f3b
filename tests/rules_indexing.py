"""Table entries for indexing, joining and splitting (sourcegrad/templates/indexing.py)."""

import builtins

import numpy as np

from rule_support import SCALAR, Entry, shapes
from sourcegrad.ir import SUBSCRIPT


def index_integer(x, w):
    return (x[1] * w).sum()


def index_negative(x, w):
    return (x[-1] * w).sum()


def index_slice_step(x, w):
    return (x[1::2] * w).sum()


def index_reverse_slice(x, w):
    return (x[::-1] * w).sum()


def index_tuple_with_slices(x, w):
    return (x[1:, :-1] * w).sum()


def index_none_and_ellipsis(x, w):
    return (x[None, ..., 0] * w).sum()


def index_boolean_mask(x, w):
    # the mask picks a data-dependent number of elements; weighting their squares keeps each gradient distinct
    picked = x[x > 0.1]
    return (picked * picked * 1.5).sum() + (x * w).sum()


def index_0d_with_an_empty_tuple(x, w):
    # x[()] of a 0-d array is a numpy scalar, and so may x's gradient be: it is added to, never written into
    return (x[()] ** 2 * w).sum() + np.sum(x * x)


def index_by_nonzero_positions(x, w):
    # np.nonzero and np.size are the user's numpy functions, whatever the runtime's helpers are called
    picked = x[np.nonzero(x > 0.1)]
    return (picked * picked * np.size(x, 0)).sum() + (x * w).sum() * np.size(x)


def index_with_a_bool_literal(x, v, w):
    # x[True] adds an axis rather than taking one away; v, broadcast against it, keeps its own shape's gradient
    return (v * x[True] * w).sum()


def index_with_a_bool_name(x, v, w):
    m = True  # a bool bound to a name: the index adds an axis, as the literal does
    return (v * x[m] * w).sum()


def index_repeated_integers(x, w):
    # position 0 is taken three times: its gradient adds up three contributions
    return (x[[0, 0, 2, 0]] * w).sum()


def index_integer_array_in_tuple(x, w):
    return (x[[0, 1, 1], [2, 0, 2]] * w).sum()


def concatenate_axis0(a, b, w):
    return (np.concatenate((a, b)) * w).sum()


def concatenate_a_list_of_numbers(x, w):  # numpy makes [1.0, 2.0] an array among the others
    return (np.concatenate([[1.0, 2.0], x, (3.0,)], axis=None) * w).sum()


def concatenate_a_list_of_numbers_axis_0(x, w):
    return (np.concatenate([[1.0, 2.0], x, (3.0,)]) * w).sum()


def dstack_a_list_of_numbers(x, w):
    return (np.dstack([x, [[1.0, 2.0, 3.0]]]) * w).sum()


def concatenate_axis1(a, b, w):
    return (np.concatenate([a, b], axis=1) * w).sum()


def stack_axis(a, b, w):
    return (np.stack((a, b), axis=-1) * w).sum()


def tuple_of_a_built_list(a, b, w):
    items = []
    for v in (a, b):
        items.append(np.sin(v))
    pair = tuple(items)  # a list built in a loop, of a length known only when it runs
    return (pair[0] * pair[1] * w).sum()


def hstack_pair(a, b, w):
    return (np.hstack((a, b)) * w).sum()


def vstack_pair(a, b, w):
    return (np.vstack((a, b)) * w).sum()


def split_sections(x, w):
    p, q = np.split(x, 2, axis=0)
    return (p * q * w).sum()


def array_split_uneven(x, w):
    p, q, r = np.array_split(x, 3)
    return (p[:1] * r[:1] * w).sum() + q.sum()


def row_stack_pair(a, b, w):
    return (np.row_stack((a, b)) * w).sum()


def column_stack_pair(a, b, w):
    return (np.column_stack((a, b)) * w).sum()


def dstack_pair(a, b, w):
    return (np.dstack([a, b]) * w).sum()


def append_flat(x, v, w):
    return (np.append(x, v) * w).sum()


def append_axis(x, v, w):
    return (np.append(x, v, axis=-1) * w).sum()


def append_scalar_constant(x, w):
    return (np.append(x, 2.0) * w).sum()


# The reverse pass knows a list from an array being unpacked only for np.split and np.array_split
# (_LIST_PRODUCERS in sourcegrad/transform/reverse.py): `p, q = np.hsplit(x, 2)` is refused until it lists these too.


def hsplit_sections(x, w):
    p, q = np.hsplit(x, 2)
    return (p * q * w).sum()


def vsplit_indices(x, w):
    p, q = np.vsplit(x, [1])
    return (p * w).sum() + (q * q).sum()


def dsplit_sections(x, w):
    p, q = np.dsplit(x, 2)
    return (p * np.sin(q) * w).sum()


def take_flat(x, w):
    return (np.take(x, [0, 3, 3, -1]) * w).sum()


def take_axis(x, w):
    return (np.take(x, [[1, 0], [1, 1]], axis=1) * w).sum()


def take_scalar_index(x, w):
    return (np.take(x, 1, axis=0) * w).sum()


def take_mode_wrap(x, w):
    return (np.take(x, [5, -7, 1], axis=-1, mode="wrap") * w).sum()


def take_mode_clip(x, w):
    return (np.take(x, [9, -1, 1], axis=0, mode="clip") * w).sum()


def take_method(x, w):
    return (x.take([2, 2, 0], axis=0) * w).sum()


def take_along_axis_argsort(x, w):
    return (np.take_along_axis(x, np.argsort(x, axis=-1), axis=-1) * w).sum()


def take_along_axis_repeated(x, w):
    # each row takes its element 0 twice: its gradient adds both
    return (np.take_along_axis(x, np.zeros((x.shape[0], 2), dtype=np.intp), axis=1) * w).sum()


def take_along_axis_flat(x, w):
    return (np.take_along_axis(x, np.array([3, 0, 3]), axis=None) * w).sum()


TABLE = [
    Entry(SUBSCRIPT, index_integer, shapes([(4,)], [(4, 3)])),
    Entry(SUBSCRIPT, index_negative, shapes([(4,)], [(4, 3)])),
    Entry(SUBSCRIPT, index_slice_step, shapes([(5,)], [(5, 2)])),
    Entry(SUBSCRIPT, index_reverse_slice, shapes([(5,)], [(5, 2)])),
    Entry(SUBSCRIPT, index_tuple_with_slices, shapes([(3, 4)], [(3, 4, 2)])),
    Entry(SUBSCRIPT, index_none_and_ellipsis, shapes([(3, 4)], [(2, 3, 4)])),
    Entry(SUBSCRIPT, index_boolean_mask, shapes([(6,)], [(3, 4)])),
    Entry(SUBSCRIPT, index_0d_with_an_empty_tuple, shapes([()])),
    Entry(SUBSCRIPT, index_by_nonzero_positions, shapes([(6,)], [(3, 4)])),
    Entry(SUBSCRIPT, index_repeated_integers, shapes([(4,)], [(4, 3)])),
    Entry(SUBSCRIPT, index_with_a_bool_literal, shapes([(4,), (4,)], [(2, 3), (3,)])),
    Entry(SUBSCRIPT, index_with_a_bool_name, shapes([(4,), (4,)], [(2, 3), (3,)])),
    Entry(SUBSCRIPT, index_integer_array_in_tuple, shapes([(3, 4)])),
    Entry(np.concatenate, concatenate_axis0, shapes([(3,), (2,)], [(2, 3), (1, 3)])),
    Entry(np.concatenate, concatenate_axis1, shapes([(2, 3), (2, 1)])),
    Entry(np.concatenate, concatenate_a_list_of_numbers, shapes([(3,)])),
    Entry(np.concatenate, concatenate_a_list_of_numbers_axis_0, shapes([(3,)])),
    Entry(np.dstack, dstack_a_list_of_numbers, shapes([(3,)], [(1, 3)])),
    Entry(np.stack, stack_axis, shapes([(3,), (3,)], [(2, 3), (2, 3)])),
    Entry(builtins.tuple, tuple_of_a_built_list, shapes([(3,), (3,)], [(2, 3), (2, 3)])),
    # Python numbers among the arrays too (numpy takes them as 0-d arrays)
    Entry(np.hstack, hstack_pair, shapes([(3,), (2,)], [(2, 3), (2, 1)], [SCALAR, (2,)], [(), SCALAR])),
    Entry(np.vstack, vstack_pair, shapes([(3,), (3,)], [(2, 3), (1, 3)], [SCALAR, ()])),
    Entry(np.split, split_sections, shapes([(4,)], [(4, 3)])),
    Entry(np.array_split, array_split_uneven, shapes([(7,)], [(5, 2)])),
    Entry(np.row_stack, row_stack_pair, shapes([(3,), (3,)], [(2, 3), (1, 3)])),
    Entry(np.column_stack, column_stack_pair, shapes([(3,), (3,)], [(3, 2), (3,)], [(3, 2), (3, 1)], [(), ()],
                                                     [SCALAR, ()], [(1, 2), SCALAR])),
    Entry(np.dstack, dstack_pair, shapes([(3,), (3,)], [(2, 3), (2, 3)], [(2, 3, 2), (2, 3, 1)], [(), ()],
                                         [SCALAR, ()])),
    Entry(np.append, append_flat, shapes([(3,), (2,)], [(2, 3), (4,)], [(2, 2), ()], [(3,), SCALAR])),
    Entry(np.append, append_axis, shapes([(3,), (2,)], [(2, 3), (2, 1)])),
    Entry(np.append, append_scalar_constant, shapes([(3,)], [(2, 2)])),
    Entry(np.hsplit, hsplit_sections, shapes([(4,)], [(3, 4)], [(2, 4, 3)])),
    Entry(np.vsplit, vsplit_indices, shapes([(3, 4)], [(2, 4, 3)])),
    Entry(np.dsplit, dsplit_sections, shapes([(2, 3, 4)])),
    Entry(np.take, take_flat, shapes([(5,)], [(2, 3)])),
    Entry(np.take, take_axis, shapes([(3, 4)], [(2, 3, 4)])),
    Entry(np.take, take_scalar_index, shapes([(3,)], [(3, 4)])),
    Entry(np.take, take_mode_wrap, shapes([(4,)], [(3, 4)])),
    Entry(np.take, take_mode_clip, shapes([(4,)], [(4, 3)])),
    Entry(np.take, take_method, shapes([(3,)], [(3, 4)])),
    Entry(np.take_along_axis, take_along_axis_argsort, shapes([(5,)], [(3, 4)], [(2, 3, 4)])),
    Entry(np.take_along_axis, take_along_axis_repeated, shapes([(3, 4)])),
    Entry(np.take_along_axis, take_along_axis_flat, shapes([(5,)], [(2, 3)])),
]
