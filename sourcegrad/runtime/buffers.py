"""The arrays a generated `_into` function keeps from one call to the next (see sourcegrad/emit/buffers.py).

A set of buffers belongs to one call at a time: a call takes a set from its gradient's pool and gives it
back when it returns, so two threads calling the same gradient at once each write into their own arrays.
A set is keyed on the arguments' types, shapes and dtypes (the signature); a call with another signature
starts a new set and the old one is dropped. Buffers are worth keeping only for large arrays: below a few
megabytes the allocator keeps freed blocks for the next call anyway, and the bookkeeping costs more than it
saves. Each call's arrays decide, except that a call writing its gradients into the caller's arrays (into=)
keeps them at any size where its out= calls pay: its caller has asked for a training loop's memory.
"""

from __future__ import annotations

import sys
import threading
import weakref

import numpy

_SCALARS = (int, float, complex, bool, str, type(None))
MINIMUM_BYTES = 4 << 20  # a call's array arguments must take this much for its buffers to be kept
INTO_MINIMUM_BYTES = 64 << 10  # into= arrays smaller than this are filled by a copy from the plain function
REUSE_MINIMUM_BYTES = 256 << 10  # gradients at least this large may be written into reused arrays...
REUSE_PROBE_CALLS = 5  # ...if that was timed faster, in blocks of this many calls (0: reuse at once, untimed)
_SETTLING_CALLS = 4
_REUSE_MARGIN = 0.9  # "clearly faster": at most this fraction of the plain calls' time
_RECHECK_AFTER = (256, 2048, 16384)  # calls reusing arrays after which a verdict for reuse is timed again
_MOST_IDLE = 4  # sets kept for concurrent calls; more threads than this allocate afresh
_MOST_KEPT = 2  # gradient arrays kept per wrt argument: a training loop holds one step's while the next runs


class Buffers:
    """One call's arrays, as attributes named after the values they hold (`buffers.h`); None until made."""

    def __init__(self, signature):
        self.signature = signature

    def __getattr__(self, name):  # only called for an attribute not set yet: no array made for it so far
        if name.startswith("__"):
            raise AttributeError(name)
        return None



class BufferPool:
    """The idle buffer sets of one compiled gradient, and the gradient arrays it may write into again.

    Whether a call keeps buffers, or writes its gradients into reused arrays, is decided call by call from
    the sizes of its arrays: a process may call one gradient on a small batch first and a large one later.
    """

    def __init__(self):
        self.idle = []
        self.gradients = None  # a GradientArrays, made by the first call whose gradients are large enough
        self.disabled = False  # set when a call could not write into its buffers: plain calls from then on

    def signature_to_keep(self, args, kwargs, grad_output, size, writing_into=False):
        """The call's signature when its arrays (`size` bytes) are large enough to keep buffers for, else None.
        A call writing its gradients into the caller's arrays (into=, `writing_into`) keeps them at any size:
        its caller asked for a training loop's memory, one set of arrays written again every step."""
        if self.disabled or (size < MINIMUM_BYTES and not writing_into):
            return None
        return signature(args, kwargs, grad_output)

    def reusable(self, wrt_arguments):
        """The GradientArrays for a call whose gradients are large enough to write into reused arrays."""
        if (self.disabled or not REFERENCES_ARE_EXACT or not all(type(a) is numpy.ndarray for a in wrt_arguments)
                or sum(a.nbytes for a in wrt_arguments) < REUSE_MINIMUM_BYTES):
            return None
        if self.gradients is None:
            self.gradients = GradientArrays(len(wrt_arguments))  # two threads may both make one: either serves
        return self.gradients

    def take(self, signature) -> Buffers:
        if signature is not None:
            try:
                buffers = self.idle.pop()  # atomic: no two calls get the same set
            except IndexError:
                buffers = None
            if buffers is not None and buffers.signature == signature:
                return buffers
        return Buffers(signature)

    def give_back(self, buffers: Buffers) -> None:
        if not self.disabled and buffers.signature is not None and len(self.idle) < _MOST_IDLE:
            self.idle.append(buffers)

    def drop(self) -> None:
        """Stop keeping buffers for this gradient (after a call that could not use them)."""
        self.disabled = True
        self.gradients = None
        self.idle.clear()


# ---- gradient arrays written into again once the caller has let go of them ------------------------------
#
# A training step at the tutorial's size allocates its 800 KB weight gradient afresh every step, and in a
# process with numpy alone the allocator maps that memory anew each time: 200 page faults and a third of
# the step. The arrays a call hands out are its caller's, and a later call must never overwrite one the
# caller can still see. CPython's reference count says exactly that: an array held only by this pool (no
# variable, container, view or exported buffer of the caller's refers to it, and no weak reference either)
# is one nobody can see, and the next call may write its gradient into it. Where references are not exact
# (PyPy, free-threaded builds) no array is reused.


class ReuseProbe:
    """Whether writing gradients of one shape and dtype into reused arrays pays: timed, then decided.

    Reusing pays where the allocator maps fresh gradient arrays anew (page faults): with numpy alone in the
    process, float64 at the tutorial's size, 0.7x the step. Where it serves them from memory it keeps, the
    `_into` path costs up to a tenth more instead. Which holds depends on the allocator's state and on the
    arrays' sizes, so it is timed: after a few calls to settle, a block of plain calls, a block of reusing
    ones, and both again (blocks, because alternating call by call would change the heap each one meets).
    Reuse is chosen only if each reusing block was clearly faster than the plain block before it: a pair
    that disagrees is the machine's noise, and plain calls are the safe side, since they run the operations
    a hand-written backward runs. The allocator's state can change later (a process that loads a library, a
    data set, another thread), so a verdict for reuse is timed again after a few hundred and a few thousand
    calls; a verdict for plain calls stands. Counters are not locked: two threads racing on one may time a
    call into the wrong block, which can change a verdict but never a gradient.
    """

    def __init__(self):
        self.verdict = True if REUSE_PROBE_CALLS == 0 else None  # True: reuse, False: plain, None: measuring
        self.calls = 0  # calls of the current measurement, the settling ones included
        self.settling = _SETTLING_CALLS
        self.timings = {False: [], True: []}
        self.rechecks = 0  # how many times a verdict for reuse has been timed again
        self.reused = 0  # calls reusing arrays on that verdict since it was reached

    def next_probe(self) -> bool:
        """While the verdict is open: whether this call should reuse arrays (else it runs plain), timed."""
        self.calls += 1
        block = (self.calls - 1 - self.settling) // REUSE_PROBE_CALLS
        return block >= 0 and block % 2 == 1

    def record(self, reusing, seconds) -> None:
        if self.calls <= self.settling or self.verdict is not None:
            return
        self.timings[reusing].append(seconds)
        plain, reuse, n = self.timings[False], self.timings[True], REUSE_PROBE_CALLS
        if len(plain) >= 2 * n and len(reuse) >= 2 * n:
            median = lambda block: sorted(block)[len(block) // 2]  # noqa: E731
            self.verdict = all(median(reuse[i:i + n]) < _REUSE_MARGIN * median(plain[i:i + n]) for i in (0, n))

    def reused_call(self) -> None:
        """Count a call that reused arrays on the verdict; after enough of them, time the verdict again."""
        self.reused += 1
        if REUSE_PROBE_CALLS and self.rechecks < len(_RECHECK_AFTER) and self.reused >= _RECHECK_AFTER[self.rechecks]:
            self.rechecks += 1
            self.reused, self.calls, self.settling = 0, 0, 1
            self.timings = {False: [], True: []}
            self.verdict = None


def _references(slot, index):
    """The reference count of slot[index] as this module sees it (the same code path for every array)."""
    return sys.getrefcount(slot[index])


def _exact_references() -> bool:
    if not hasattr(sys, "getrefcount"):
        return False
    gil_enabled = getattr(sys, "_is_gil_enabled", None)
    return gil_enabled is None or gil_enabled()


REFERENCES_ARE_EXACT = _exact_references()
_UNSEEN = _references([numpy.empty(0)], 0) if REFERENCES_ARE_EXACT else None  # held by the slot alone


class GradientArrays:
    """Per wrt argument, a few arrays this gradient handed out before; those the caller has dropped are
    written into again (the `into` of the generated `_into` function)."""

    def __init__(self, count):
        self.slots = [[] for _ in range(count)]
        self.lock = threading.Lock()  # a slot is scanned and taken from by one call at a time
        self.probes = {}  # ((shape, dtype) of each gradient, integer arguments) -> ReuseProbe

    def probe(self, arguments, counts=()):
        """The ReuseProbe for gradients of these arguments' shapes and dtypes; `counts`, the call's integer
        arguments (a depth, a number of steps), tell apart calls that do different amounts of work."""
        key = (tuple((a.shape, a.dtype) for a in arguments), counts)
        found = self.probes.get(key)
        if found is None:
            found = self.probes[key] = ReuseProbe()
        return found

    def take(self, arguments) -> tuple:
        """For each argument, an array of its type, shape and dtype that nobody else holds, or None."""
        targets = []
        with self.lock:
            for slot, argument in zip(self.slots, arguments):
                found = None
                for index in range(len(slot)):
                    # a weak reference does not count, but whoever holds one expects the array's values to stay
                    if _references(slot, index) == _UNSEEN and not weakref.getweakrefcount(slot[index]):
                        array = slot[index]
                        if array.shape == argument.shape and array.dtype == argument.dtype:
                            found = slot.pop(index)  # out of the slot while this call writes into it
                        else:  # from a call with other shapes: let it go
                            del slot[index]
                        break
                targets.append(found)
        return tuple(targets)

    def keep(self, gradients, targets) -> None:
        """Remember the arrays handed out now (`targets`: those this call was given to write into), to write
        into once the caller has dropped them."""
        with self.lock:
            for slot, gradient, target in zip(self.slots, gradients, targets):
                if len(slot) >= _MOST_KEPT or any(kept is gradient for kept in slot):
                    continue
                if gradient is target or (type(gradient) is numpy.ndarray and gradient.base is None
                                          and gradient.flags.c_contiguous and gradient.flags.writeable):
                    slot.append(gradient)


def array_bytes(args, kwargs):
    """The bytes of a call's array arguments: what decides between the plain function, kept buffers and
    reused gradient arrays."""
    return sum(a.nbytes for a in (*args, *kwargs.values()) if hasattr(a, "nbytes") and hasattr(a, "shape"))


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
