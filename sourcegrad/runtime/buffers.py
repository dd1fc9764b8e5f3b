"""The arrays a generated `_into` function keeps from one call to the next (which ones the memory plan decides:
sourcegrad/analysis/memory.py).

A call that passes into= runs the `_into` variant: the gradients are written into the caller's arrays, and
the temporaries into buffers kept for the next such call. A set of buffers belongs to one call at a time: a
call takes a set from its gradient's pool and gives it back when it returns, so two threads calling the same
gradient at once each write into their own arrays. A set is keyed on the arguments' types, shapes and dtypes
(the signature); a call with another signature takes a set made for it, or starts one (a few sets are kept,
the oldest given back dropped first). Nothing here depends on timing or on
reference counts: into= is the caller's explicit request, like numpy's out=.
"""

from __future__ import annotations

_SCALARS = (int, float, complex, bool, str, type(None))
_MOST_IDLE = 4  # sets kept, for concurrent calls and alternating shapes; more than this allocate afresh


class Buffers:
    """One set's arrays, as attributes named after the values they hold (`buffers.h`); None until made.
    Nothing else is kept here, so that the generated code may name a buffer after any variable."""

    def __getattr__(self, name):  # only called for an attribute not set yet: no array made for it so far
        if name.startswith("__") and name.endswith("__"):  # Python's protocols (copy, pickle) ask for these
            raise AttributeError(name)
        return None


class BufferSet:
    """A set of buffers and what a call needs to know about it: the signature it was made for, and, from its
    first call on, which gradients an operation may write straight into the caller's arrays."""

    __slots__ = ("signature", "arrays", "writes_into")

    def __init__(self, signature):
        self.signature = signature
        self.arrays = Buffers()
        # None until the set's first call has run with every gradient in an array of its own; then True when
        # each gradient came out in its into= array's dtype, else one bool per gradient. An operation given
        # an `out=` of another dtype may refuse it (numpy's dot, cupy's matmul): such a gradient is copied in.
        # The dtypes follow from the signature alone, since a buffer slot's operands' do.
        self.writes_into = None

    def learn(self, gradients, targets):
        matches = tuple(getattr(g, "dtype", None) == t.dtype for g, t in zip(gradients, targets))
        self.writes_into = True if all(matches) else matches


class BufferPool:
    """The idle buffer sets of one compiled gradient's `_into` variant."""

    def __init__(self):
        self.idle = []

    def take(self, signature) -> BufferSet:
        """A set of buffers for a call with this signature: an idle one made for it, else a new, empty one. The
        last set given back is the usual match; shapes that alternate (a smaller last batch, training and
        validation in turn) find theirs further back."""
        if signature is None:
            return BufferSet(None)
        try:
            buffers = self.idle.pop()  # atomic: no two calls get the same set
        except IndexError:
            return BufferSet(signature)
        if buffers.signature == signature:
            return buffers
        self.idle.append(buffers)  # another signature's: kept for its next call
        for other in reversed(self.idle):
            if other.signature == signature:
                try:
                    self.idle.remove(other)  # atomic too: a set another call took first is no longer there
                except ValueError:
                    continue
                return other
        return BufferSet(signature)

    def give_back(self, buffers: BufferSet) -> None:
        """Keep buffers for the next call, and at most _MOST_IDLE sets, the oldest given back going first."""
        if buffers.signature is not None:
            self.idle.append(buffers)
            while len(self.idle) > _MOST_IDLE:
                try:
                    self.idle.pop(0)
                except IndexError:
                    break


def signature(args, kwargs, grad_output):
    """What the shapes and dtypes of a call's values follow from: each argument's type, and an array's
    shape and dtype. None for a call with a list, a dict or an object among its arguments: their contents
    are not looked into, and such a call keeps no buffers."""
    if not kwargs and grad_output is None:
        try:  # arrays alone: the common call, in one pass
            return tuple([(type(value), value.shape, value.dtype) for value in args])
        except AttributeError:
            pass
    parts = []
    for value in (*args, *(kwargs[k] for k in sorted(kwargs)), grad_output):
        kind = type(value)
        if kind in _SCALARS:
            parts.append(kind)
        elif hasattr(value, "shape") and hasattr(value, "dtype"):
            parts.append((kind, value.shape, value.dtype))
        else:
            return None
    if kwargs:
        parts.append(tuple(sorted(kwargs)))
    return tuple(parts)


def memory_root(array):
    """The array that owns array's memory (a view's base, followed to the end). An array that is no view has
    no base when it owns its memory, and the object it was made over (bytes, a buffer) otherwise."""
    base = getattr(array, "base", None)
    while base is not None and hasattr(base, "shape"):
        array, base = base, getattr(base, "base", None)
    return array
