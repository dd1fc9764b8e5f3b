"""Gradient rules for indexing, and for functions that join or split several arrays.

An index's gradient is scattered back to the positions it selected, with
positions selected twice (an integer array with repeated entries) getting
both contributions. Joining and splitting are each other's adjoints.
"""

import builtins

import numpy as np

from ..ir import ATTRIBUTE, JOIN_SEQUENCES, REPEAT_SEQUENCE, SET_ITEM, SUBSCRIPT
from ..runtime.indexing import (append_head_grad, append_tail_grad, column_stack_grad, dstack_grad, hstack_grad,
                                index_grad, joined_tangent, repeated_grad, sequence_head, sequence_tail, split_grad, take_along_axis_grad,
                                stored_derivative, take_grad, unstack_grad, vstack_grad, without_index)
from ..runtime import unbroadcast
from .registry import adjoint, d, method, tangent

# ---- indexing: x[i], x[1:-1:2], x[None, ...], x[mask], x[[0, 0, 2]] ---------------------------------


@adjoint(SUBSCRIPT)
def getitem(result, x, index):
    d[x] = index_grad(d[result], x, index)


@tangent(SUBSCRIPT)
def getitem_tangent(result, x, index):
    d[result] = d[x][index]

# `a[i] = v` on an array the function made, as a new version of a: what was at i no longer reaches the result,
# and v's gradient is the result's at i (summed back where v was broadcast over the positions), or zero where a
# holds integers or booleans, which truncate what they store (the dtype is known only when it runs).
@adjoint(SET_ITEM, new_array=True, rank="first argument")
def setitem(result, x, index, value):
    d[x] = without_index(d[result], index)
    d[value] = unbroadcast(stored_derivative(d[result][index], x), value)


# for hvp: forward mode writes a value's tangent through it (transform/forward.py), and it is linear in that
@adjoint(stored_derivative, zero_gradient=("target",), result="view of first argument", rank="first argument")
def stored_derivative_rule(result, x, target):
    d[x] = stored_derivative(d[result], target)


# An attribute of an object (`model.w1`): the object's gradient is a dict of its attributes' gradients, and so
# is its tangent.
@adjoint(ATTRIBUTE)
def getattribute(result, x, name):
    d[x] = index_grad(d[result], x, name)


@tangent(ATTRIBUTE)
def getattribute_tangent(result, x, name):
    d[result] = d[x][name]


# ---- joining arrays -------------------------------------------------------------------------------------


@adjoint(np.concatenate, new_array=True, rank="join")
def concatenate(result, arrays, axis=0, out=None, dtype=None, casting="same_kind"):
    d[arrays] = split_grad(d[result], arrays, axis)


@tangent(np.concatenate)
def concatenate_tangent(result, arrays, axis=0, out=None, dtype=None, casting="same_kind"):
    d[result] = np.concatenate(d[arrays], axis)


@adjoint(np.stack, new_array=True, rank="stack")
def stack(result, arrays, axis=0, out=None, dtype=None, casting="same_kind"):
    d[arrays] = unstack_grad(d[result], len(arrays), axis)


@tangent(np.stack)
def stack_tangent(result, arrays, axis=0, out=None, dtype=None, casting="same_kind"):
    d[result] = np.stack(d[arrays], axis)


@adjoint(np.hstack, new_array=True)
def hstack(result, tup, dtype=None, casting="same_kind"):
    d[tup] = hstack_grad(d[result], tup)


@tangent(np.hstack)
def hstack_tangent(result, tup, dtype=None, casting="same_kind"):
    d[result] = np.hstack(d[tup])


# np.row_stack is np.vstack under its deprecated name (numpy 2.4 still has it, with a warning).
@adjoint(np.vstack, np.row_stack, new_array=True)
def vstack(result, tup, dtype=None, casting="same_kind"):
    d[tup] = vstack_grad(d[result], tup)


@tangent(np.vstack, np.row_stack)
def vstack_tangent(result, tup, dtype=None, casting="same_kind"):
    d[result] = np.vstack(d[tup])


@adjoint(np.column_stack, new_array=True)
def column_stack(result, tup):
    d[tup] = column_stack_grad(d[result], tup)


@tangent(np.column_stack)
def column_stack_tangent(result, tup):
    d[result] = np.column_stack(d[tup])


@adjoint(np.dstack, new_array=True)
def dstack(result, tup):
    d[tup] = dstack_grad(d[result], tup)


@tangent(np.dstack)
def dstack_tangent(result, tup):
    d[result] = np.dstack(d[tup])


# np.append(arr, values, axis) is np.concatenate((arr, values), axis), both flattened first when axis is None.
@adjoint(np.append, aliases={"arr": "x"}, new_array=True)
def append(result, x, values, axis=None):
    d[x] = append_head_grad(d[result], x, axis)
    d[values] = append_tail_grad(d[result], x, values, axis)


@tangent(np.append, aliases={"arr": "x"})
def append_tangent(result, x, values, axis=None):
    d[result] = np.append(d[x], np.zeros_like(values), axis)
    d[result] = np.append(np.zeros_like(x), d[values], axis)


# ---- lists and tuples: `outs + [h]` and `[h] * 3` ---------------------------------------------------------
# The gradient of a list is a list of its items' gradients: a joined list's splits at the first operand's
# length, and each item of a repeated list gets the sum of its copies' gradients. (With an array on the
# other side numpy adds or multiplies elementwise instead; the helpers tell at run time.)


@adjoint(JOIN_SEQUENCES)
def join_sequences(result, x, y):
    d[x] = sequence_head(d[result], x)
    d[y] = sequence_tail(d[result], y)


# forward mode's `outs + [h]` (its tangents joined, or added), differentiated again by hvp: linear in the tangents
@adjoint(joined_tangent, zero_gradient=("result", "head", "tail"))
def joined_tangent_rule(out, result, head, tail, d_head, d_tail):
    d[d_head] = sequence_head(d[out], head)
    d[d_tail] = sequence_tail(d[out], tail)


# `tuple(outs)` of a list built in a loop: the same items, in a tuple (whose gradient is a list, as a list's is)
@adjoint(builtins.tuple, result="view of first argument")
def tuple_of_items(result, x):
    d[x] = d[result]


@tangent(builtins.tuple)
def tuple_of_items_tangent(result, x):
    d[result] = d[x]


@adjoint(REPEAT_SEQUENCE)
def repeat_sequence(result, x, y):
    d[x] = repeated_grad(d[result], x, y)
    d[y] = repeated_grad(d[result], y, x)


# ---- splitting an array ----------------------------------------------------------------------------------


@adjoint(np.split, np.array_split, list_result=True)
def split(result, x, indices_or_sections, axis=0):
    d[x] = np.concatenate(d[result], axis=axis)


# The tangent of a list of parts is the list of the parts' tangents: the tangent split as x was.
@tangent(np.split)
def split_tangent(result, x, indices_or_sections, axis=0):
    d[result] = np.split(d[x], indices_or_sections, axis)


@tangent(np.array_split)
def array_split_tangent(result, x, indices_or_sections, axis=0):
    d[result] = np.array_split(d[x], indices_or_sections, axis)


# np.hsplit splits a 1-D array along axis 0 and others along axis 1: np.hstack joins the parts back either way.
@adjoint(np.hsplit, aliases={"ary": "x"}, list_result=True)
def hsplit(result, x, indices_or_sections):
    d[x] = np.hstack(d[result])


@tangent(np.hsplit, aliases={"ary": "x"})
def hsplit_tangent(result, x, indices_or_sections):
    d[result] = np.hsplit(d[x], indices_or_sections)


@adjoint(np.vsplit, aliases={"ary": "x"}, list_result=True)
def vsplit(result, x, indices_or_sections):
    d[x] = np.concatenate(d[result], axis=0)


@tangent(np.vsplit, aliases={"ary": "x"})
def vsplit_tangent(result, x, indices_or_sections):
    d[result] = np.vsplit(d[x], indices_or_sections)


@adjoint(np.dsplit, aliases={"ary": "x"}, list_result=True)
def dsplit(result, x, indices_or_sections):
    d[x] = np.concatenate(d[result], axis=2)


@tangent(np.dsplit, aliases={"ary": "x"})
def dsplit_tangent(result, x, indices_or_sections):
    d[result] = np.dsplit(d[x], indices_or_sections)


# ---- taking elements by index: the gradient is scattered back, repeated indices adding up ---------------


@adjoint(np.take, aliases={"a": "x"}, new_array=True)
def take(result, x, indices, axis=None, out=None, mode="raise"):
    d[x] = take_grad(d[result], x, indices, axis, mode)


@tangent(np.take, aliases={"a": "x"})
def take_tangent(result, x, indices, axis=None, out=None, mode="raise"):
    if axis is None and mode == "raise":
        d[result] = np.take(d[x], indices)
    elif mode == "raise":
        d[result] = np.take(d[x], indices, axis)
    else:
        d[result] = np.take(d[x], indices, axis, mode=mode)


@adjoint(np.take_along_axis, aliases={"arr": "x"}, new_array=True)
def take_along_axis(result, x, indices, axis=-1):
    d[x] = take_along_axis_grad(d[result], x, indices, axis)


@tangent(np.take_along_axis, aliases={"arr": "x"})
def take_along_axis_tangent(result, x, indices, axis=-1):
    d[result] = np.take_along_axis(d[x], indices, axis)


method("take", np.take)
