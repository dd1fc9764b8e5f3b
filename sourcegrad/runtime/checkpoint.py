"""The schedule of a checkpointed loop: binomial checkpointing (Griewank and Walther's Revolve).

A loop written `for t in sourcegrad.checkpoint(range(n), snapshots=s)` keeps no tape for its n iterations.
The forward pass saves the loop's state (the values an iteration reads from the one before) at a few
iterations; the backward pass reverses the iterations last first, each time restoring the nearest saved
state, running the loop forward from there (saving more states on the way, within s), and then running one
iteration with its tape and at once its gradients. With s saved states, reversing n iterations runs each
iteration forward without its tape at most r + 1 times (the forward pass's run included), r the least with
binomial(s + r, s) >= n, and once with it: the bound of Griewank (1992) for any schedule holding s states.

The schedule is a list of actions the generated code walks, each (action, i), i an iteration's position:

    "restore"   set the loop's state to the one saved at i
    "advance"   run iteration i forward, keeping nothing
    "snapshot"  save the state at i (the state before iteration i runs)
    "forget"    drop the state saved at i
    "reverse"   run iteration i forward with its tape, then its gradients
"""

from __future__ import annotations

import math
import numbers
from array import array
from dataclasses import dataclass, field

from ..errors import SourcegradError
from .core import helper


def _refusal(message):
    return SourcegradError(message, hint="Pass snapshots=s with s an int of 1 or more (how many loop states the "
                                         "gradient may hold at once).")


def checkpoint(steps, snapshots):
    """`for t in sourcegrad.checkpoint(range(n), snapshots=s):` marks a loop whose gradient keeps at most s
    saved states instead of a tape entry per iteration (binomial checkpointing). Run as plain Python it is
    the range itself: the function computes what it computes without sourcegrad."""
    if not isinstance(steps, range):
        raise TypeError("sourcegrad.checkpoint takes a range: for t in sourcegrad.checkpoint(range(n), snapshots=s)")
    _check_snapshots(snapshots, ValueError)
    return steps


def _check_snapshots(snapshots, error):
    """The one check of snapshots=, as plain Python runs it and as the gradient does: a whole number >= 1."""
    if isinstance(snapshots, bool) or not isinstance(snapshots, numbers.Integral) or snapshots < 1:
        raise error(f"sourcegrad.checkpoint needs snapshots= a whole number of saved states, 1 or more, not "
                    f"{snapshots!r}")


ACTIONS = ("restore", "advance", "snapshot", "forget", "reverse")


@dataclass
class Schedule:
    steps: int
    snapshots: int
    forward: frozenset = frozenset()  # the positions whose state the forward pass saves, on its way
    # The backward pass's actions, a byte and a position each: with few snapshots there are many actions, and
    # a list of tuples of them would hold more memory than the saved states themselves.
    codes: array = field(default_factory=lambda: array("b"))
    positions: array = field(default_factory=lambda: array("q"))

    @property
    def backward(self):
        """(action, position) for the backward pass, in order."""
        return zip(map(ACTIONS.__getitem__, self.codes), self.positions)

    def advances(self):
        """How many iterations the schedule runs forward beyond the forward pass and the reversed ones."""
        return self.codes.count(ACTIONS.index("advance"))


def reversible(snapshots, repetitions):
    """How many iterations `snapshots` saved states can reverse running each forward at most
    `repetitions` more times: binomial(snapshots + repetitions, snapshots)."""
    return math.comb(snapshots + repetitions, snapshots)


@helper
def revolve(steps, snapshots):
    """The Schedule that reverses `steps` iterations holding at most `snapshots` saved states at once."""
    _check_snapshots(snapshots, _refusal)
    steps, snapshots = int(steps), int(snapshots)
    codes, positions = array("b"), array("q")
    _reverse(0, steps, snapshots - 1, codes, positions)  # the state at 0 takes one of the snapshots
    if not codes:
        return Schedule(steps, snapshots, frozenset({0}))
    # The forward pass runs every iteration anyway (the loop's result is needed after it), so the schedule's
    # leading run, which only walks forward from 0 saving states, is what it does on its way; the backward pass
    # starts at the restore before the first reversed iteration.
    first = codes.index(REVERSE)
    start = max(i for i in range(first) if codes[i] == RESTORE)
    forward = {0} | {positions[i] for i in range(start) if codes[i] == SNAPSHOT}
    return Schedule(steps, snapshots, frozenset(forward), codes[start:], positions[start:])


RESTORE, ADVANCE, SNAPSHOT, FORGET, REVERSE = range(len(ACTIONS))


def _reverse(start, stop, free, codes, positions):
    """Reverse iterations start..stop-1, the state at start saved, holding at most `free` more states. A stack
    of pending work rather than recursion: a thousand states would nest a thousand calls deep."""

    def act(code, position):
        codes.append(code)
        positions.append(position)

    def advance(first, stop):
        codes.extend([ADVANCE] * (stop - first))
        positions.extend(range(first, stop))

    pending = [(start, stop, free)]  # segments to reverse, and (position,): forget the state saved there
    while pending:
        work = pending.pop()
        if len(work) == 1:
            act(FORGET, work[0])
            continue
        start, stop, free = work
        length = stop - start
        if length <= 0:
            continue
        if length == 1:
            act(RESTORE, start)
            act(REVERSE, start)
        elif free == 0:  # no state to spare: advance from start to each iteration in turn (quadratic, but right)
            for last in range(stop - 1, start - 1, -1):
                act(RESTORE, start)
                advance(start, last)
                act(REVERSE, last)
        else:
            repetitions = 1
            while reversible(free + 1, repetitions) < length:  # the state at start counts too
                repetitions += 1
            # The part before the split is reversed later with the same states and one repetition fewer, the
            # part after it now, with one state fewer (the split's): that is what binomial(s, r) adds up from.
            split = start + max(1, min(reversible(free + 1, repetitions - 1), length - 1))
            act(RESTORE, start)
            advance(start, split)
            act(SNAPSHOT, split)
            pending += [(start, split, free), (split,), (split, stop, free - 1)]


__all__ = ["Schedule", "checkpoint", "reversible", "revolve"]
