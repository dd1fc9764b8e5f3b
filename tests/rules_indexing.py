"""Table entries for indexing, joining and splitting (sourcegrad/templates/indexing.py)."""

import numpy as np

from rule_support import Entry, shapes
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


def index_repeated_integers(x, w):
    # position 0 is taken three times: its gradient adds up three contributions
    return (x[[0, 0, 2, 0]] * w).sum()


def index_integer_array_in_tuple(x, w):
    return (x[[0, 1, 1], [2, 0, 2]] * w).sum()


def concatenate_axis0(a, b, w):
    return (np.concatenate((a, b)) * w).sum()


def concatenate_axis1(a, b, w):
    return (np.concatenate([a, b], axis=1) * w).sum()


def stack_axis(a, b, w):
    return (np.stack((a, b), axis=-1) * w).sum()


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


TABLE = [
    Entry(SUBSCRIPT, index_integer, shapes([(4,)], [(4, 3)])),
    Entry(SUBSCRIPT, index_negative, shapes([(4,)], [(4, 3)])),
    Entry(SUBSCRIPT, index_slice_step, shapes([(5,)], [(5, 2)])),
    Entry(SUBSCRIPT, index_reverse_slice, shapes([(5,)], [(5, 2)])),
    Entry(SUBSCRIPT, index_tuple_with_slices, shapes([(3, 4)], [(3, 4, 2)])),
    Entry(SUBSCRIPT, index_none_and_ellipsis, shapes([(3, 4)], [(2, 3, 4)])),
    Entry(SUBSCRIPT, index_boolean_mask, shapes([(6,)], [(3, 4)])),
    Entry(SUBSCRIPT, index_repeated_integers, shapes([(4,)], [(4, 3)])),
    Entry(SUBSCRIPT, index_integer_array_in_tuple, shapes([(3, 4)])),
    Entry(np.concatenate, concatenate_axis0, shapes([(3,), (2,)], [(2, 3), (1, 3)])),
    Entry(np.concatenate, concatenate_axis1, shapes([(2, 3), (2, 1)])),
    Entry(np.stack, stack_axis, shapes([(3,), (3,)], [(2, 3), (2, 3)])),
    Entry(np.hstack, hstack_pair, shapes([(3,), (2,)], [(2, 3), (2, 1)])),
    Entry(np.vstack, vstack_pair, shapes([(3,), (3,)], [(2, 3), (1, 3)])),
    Entry(np.split, split_sections, shapes([(4,)], [(4, 3)])),
    Entry(np.array_split, array_split_uneven, shapes([(7,)], [(5, 2)])),
]
