"""The arrays a generated `_into` function keeps from one call to the next (see sourcegrad/emit/buffers.py).

A set of buffers belongs to one call at a time: a call takes a set from its gradient's pool and gives it
back when it returns, so two threads calling the same gradient at once each write into their own arrays.
A set is keyed on the arguments' types, shapes and dtypes (the signature); a call with another signature
starts a new set and the old one is dropped. Buffers are worth keeping only for large arrays: below a few
megabytes the allocator keeps freed blocks for the next call anyway, and the bookkeeping costs more than it
saves. The arguments of the first call decide.
"""

from __future__ import annotations

_SCALARS = (int, float, complex, bool, str, type(None))
MINIMUM_BYTES = 4 << 20  # the first call's array arguments must take this much for buffers to be kept
INTO_MINIMUM_BYTES = 64 << 10  # into= arrays smaller than this are filled by a copy from the plain function
_MOST_IDLE = 4  # sets kept for concurrent calls; more threads than this allocate afresh


class Buffers:
    """One call's arrays, as attributes named after the values they hold (`buffers.h`); None until made."""

    def __init__(self, signature):
        self.signature = signature

    def __getattr__(self, name):  # only called for an attribute not set yet: no array made for it so far
        if name.startswith("__"):
            raise AttributeError(name)
        return None



class BufferPool:
    """The idle buffer sets of one compiled gradient."""

    def __init__(self):
        self.idle = []
        self.worthwhile = False  # set by the first call: are its arrays large enough to keep buffers for?

    def decide(self, args, kwargs) -> None:
        if signature(args, kwargs, None) is None:  # a list, a dict, an object: no buffers (see signature)
            self.worthwhile = False
            return
        arrays = [a for a in (*args, *kwargs.values()) if hasattr(a, "nbytes") and hasattr(a, "shape")]
        self.worthwhile = sum(a.nbytes for a in arrays) >= MINIMUM_BYTES

    def take(self, signature) -> Buffers:
        if signature is not None and self.worthwhile:
            try:
                buffers = self.idle.pop()  # atomic: no two calls get the same set
            except IndexError:
                buffers = None
            if buffers is not None and buffers.signature == signature:
                return buffers
        return Buffers(signature)

    def give_back(self, buffers: Buffers) -> None:
        if self.worthwhile and buffers.signature is not None and len(self.idle) < _MOST_IDLE:
            self.idle.append(buffers)

    def drop(self) -> None:
        """Stop keeping buffers for this gradient (after a call that could not use them)."""
        self.worthwhile = False
        self.idle.clear()


def signature(args, kwargs, grad_output):
    """What the shapes and dtypes of a call's values follow from: each argument's type, and an array's
    shape and dtype. None for a call with a list, a dict or an object among its arguments: their contents
    are not looked into, and such a call keeps no buffers."""
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
    """The array that owns array's memory (a view's base, followed to the end)."""
    while getattr(array, "base", None) is not None and hasattr(array.base, "shape"):
        array = array.base
    return array
