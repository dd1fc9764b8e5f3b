"""Gradient rules for indexing, and for functions that join or split several arrays.

An index's gradient is scattered back to the positions it selected, with
positions selected twice (an integer array with repeated entries) getting
both contributions. Joining and splitting are each other's adjoints.
"""

import numpy as np

from ..ir import ATTRIBUTE, JOIN_SEQUENCES, REPEAT_SEQUENCE, SUBSCRIPT
from ..runtime.indexing import (hstack_grad, index_grad, repeated_grad, sequence_head, sequence_tail, split_grad,
                                unstack_grad, vstack_grad)
from .registry import adjoint, d

# ---- indexing: x[i], x[1:-1:2], x[None, ...], x[mask], x[[0, 0, 2]] ---------------------------------


@adjoint(SUBSCRIPT)
def getitem(result, x, index):
    d[x] = index_grad(d[result], x, index)


# An attribute of an object (`model.w1`): the object's gradient is a dict of its attributes' gradients.
@adjoint(ATTRIBUTE)
def getattribute(result, x, name):
    d[x] = index_grad(d[result], x, name)


# ---- joining arrays -------------------------------------------------------------------------------------


@adjoint(np.concatenate, new_array=True)
def concatenate(result, arrays, axis=0, out=None, dtype=None, casting="same_kind"):
    d[arrays] = split_grad(d[result], arrays, axis)


@adjoint(np.stack, new_array=True)
def stack(result, arrays, axis=0, out=None, dtype=None, casting="same_kind"):
    d[arrays] = unstack_grad(d[result], len(arrays), axis)


@adjoint(np.hstack, new_array=True)
def hstack(result, tup, dtype=None, casting="same_kind"):
    d[tup] = hstack_grad(d[result], tup)


@adjoint(np.vstack, new_array=True)
def vstack(result, tup, dtype=None, casting="same_kind"):
    d[tup] = vstack_grad(d[result], tup)


# ---- lists and tuples: `outs + [h]` and `[h] * 3` ---------------------------------------------------------
# The gradient of a list is a list of its items' gradients: a joined list's splits at the first operand's
# length, and each item of a repeated list gets the sum of its copies' gradients. (With an array on the
# other side numpy adds or multiplies elementwise instead; the helpers tell at run time.)


@adjoint(JOIN_SEQUENCES)
def join_sequences(result, x, y):
    d[x] = sequence_head(d[result], x)
    d[y] = sequence_tail(d[result], y)


@adjoint(REPEAT_SEQUENCE)
def repeat_sequence(result, x, y):
    d[x] = repeated_grad(d[result], x, y)
    d[y] = repeated_grad(d[result], y, x)


# ---- splitting an array ----------------------------------------------------------------------------------


@adjoint(np.split, np.array_split)
def split(result, x, indices_or_sections, axis=0):
    d[x] = np.concatenate(d[result], axis=axis)
