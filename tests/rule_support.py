"""What the table of gradient rules is made of: input domains, shape cases, entries, inputs.

The table itself is spread over test_primitives.py (the core rules) and the tests/rules_*.py
modules (one per family); test_primitives.py joins them into one table and runs every entry.
"""

from __future__ import annotations

import inspect
import zlib
from dataclasses import dataclass

import numpy as np

TOLERANCE = 1e-6
SCALAR = "scalar"  # in a shape case: a Python float rather than an array


# ---- input domains ---------------------------------------------------------------------------------
# A sampler takes (rng, shape) and returns float64 values. Finite differences step 1e-6 either way,
# so a point closer than that to a kink (abs at 0, maximum where its arguments tie, clip at a bound)
# would give a meaningless numeric gradient: those primitives sample off a grid instead.


def real(rng, shape):
    return rng.standard_normal(shape)


def positive(rng, shape):
    # log, sqrt, x ** 0.5, x ** y and division need positive inputs; [0.5, 2] keeps them well conditioned.
    return rng.uniform(0.5, 2.0, shape)


def off_grid(offset, low=-2, high=3):
    """Values k + offset + jitter (k an integer in [low, high), jitter within 0.05).

    Arguments given different offsets stay at least 0.15 apart, and every value stays that far from
    the integers, so comparisons with each other or with integer constants (0, -1, 1) never tie.
    """

    def sample(rng, shape):
        return rng.integers(low, high, shape) + offset + rng.uniform(-0.05, 0.05, shape)

    return sample


# Two arguments compared with each other (maximum, minimum).
APART = (off_grid(1 / 3), off_grid(2 / 3))
# One argument compared with integer constants (abs at 0, relu at 0, clip at -1 and 1).
OFF_INTEGERS = off_grid(0.5)
# np.clip(x, lo, hi) with array bounds: lo < hi everywhere (numpy gives hi when lo > hi, which the rule
# does not model and users do not mean), and x lands below, inside and above the interval.
X_LO_HI = (off_grid(0.25, -3, 3), off_grid(0.5, -2, 0), off_grid(0.75, 0, 2))
X_LO = X_LO_HI[:2]
X_HI = (X_LO_HI[0], X_LO_HI[2])


# ---- shape cases -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shapes:
    """One shape per input: a tuple for an array (() is a 0-d array), or SCALAR for a Python float."""

    inputs: tuple

    @property
    def id(self):
        return ",".join("scalar" if s == SCALAR else "0d" if s == () else "x".join(map(str, s)) for s in self.inputs)


def shapes(*cases):
    return [Shapes(tuple(case)) for case in cases]


UNARY = shapes([SCALAR], [()], [(5,)], [(3, 4)], [(2, 3, 4)])
UNARY_ARRAYS = shapes([()], [(5,)], [(3, 4)], [(2, 3, 4)])  # for methods: a Python float has none
# Every binary elementwise rule unbroadcasts both operands; these pairs stretch, prepend and
# mix axes on either side, and mix Python floats and 0-d arrays with arrays.
BROADCAST = shapes(
    [(3, 4), (3, 4)],
    [(3, 4), (4,)],
    [(4,), (3, 4)],
    [(3, 4), (3, 1)],
    [(3, 1), (1, 4)],
    [(2, 3, 4), (3, 4)],
    [(3, 1), (2, 1, 4)],
    [SCALAR, (3, 4)],
    [(3, 4), SCALAR],
    [(), (3, 4)],
    [(3, 4), ()],
    [(), ()],
    [SCALAR, SCALAR],
    [SCALAR, ()],
)
MATMUL = shapes(
    [(3, 4), (4, 5)],
    [(4,), (4, 5)],
    [(3, 4), (4,)],
    [(4,), (4,)],
    [(2, 3, 4), (4, 5)],
    [(2, 3, 4), (2, 4, 5)],
    [(3, 4), (2, 4, 5)],  # the left operand is broadcast over the batch: its gradient sums over it
    [(4,), (2, 4, 5)],
    [(2, 3, 4), (4,)],
    [(2, 1, 3, 4), (5, 4, 2)],  # both batch axes broadcast
)
DOT = shapes(
    [(3, 4), (4, 5)],
    [(4,), (4, 5)],
    [(3, 4), (4,)],
    [(4,), (4,)],
    [SCALAR, (3, 4)],  # np.dot with a scalar operand is a product
    [(3, 4), ()],
)
DOT_METHOD = shapes([(3, 4), (4, 5)], [(4,), (4, 5)], [(3, 4), (4,)], [(4,), (4,)], [(), (3, 4)])
CLIP_ARRAYS = shapes(
    [(3, 4), (3, 4), (3, 4)],
    [(3, 4), (4,), (3, 1)],
    [(3, 4), (), ()],
    [(4,), (3, 4), (3, 4)],  # the bounds broadcast x: its gradient is summed back
    [(3, 4), SCALAR, SCALAR],
)
CLIP_ONE_ARRAY = shapes([(3, 4), (3, 4)], [(3, 4), (4,)], [(3, 4), ()], [(4,), (3, 4)], [(3, 4), SCALAR])
RANK3 = shapes([(2, 3, 4)])
TWELVE = shapes([(12,)], [(3, 4)], [(2, 6)], [(2, 3, 2)])  # reshapes of 12 elements


# ---- the table ----------------------------------------------------------------------------------------


@dataclass
class Entry:
    primitive: object  # the key of its rule in sourcegrad.templates.RULES
    fn: object
    shapes: list
    domain: object = real  # one sampler for every input, or a tuple with one per input
    # A known sourcegrad bug that fails every shape case of this entry. Strict, so a fix shows up as an
    # XPASS failure and the mark must be removed.
    xfail: str | None = None

    @property
    def inputs(self):
        """The parameters differentiated: all but the trailing weights."""
        names = list(inspect.signature(self.fn).parameters)
        assert names[-1] == "w", f"{self.fn.__name__} must take the output weights last, as w"
        return names[:-1]

    def samplers(self):
        if isinstance(self.domain, tuple):
            assert len(self.domain) == len(self.inputs), f"{self.fn.__name__}: one sampler per input"
            return self.domain
        return (self.domain,) * len(self.inputs)



# ---- building inputs ------------------------------------------------------------------------------------


class _ShapeProbe:
    """Stands in for w to learn the primitive's output shape from `(out * w).sum()`.

    __array_ufunc__ = None makes numpy arrays and scalars defer `out * probe` to __rmul__.
    """

    __array_ufunc__ = None

    def __init__(self):
        self.shape = None

    def __rmul__(self, out):
        self.shape = np.shape(out)
        return self

    def sum(self):
        return 0.0


def make_inputs(entry, case, dtype):
    """The arguments for one case: inputs from the entry's domain, then weights of the output's shape.

    The seed depends only on the case id, so the float64 and float32 tests see the same values.
    """
    rng = np.random.default_rng(zlib.crc32(f"{entry.fn.__name__}-{case.id}".encode()))
    inputs = []
    for sample, shape in zip(entry.samplers(), case.inputs, strict=True):
        value = sample(rng, () if shape == SCALAR else shape)
        # np.asarray: with shape () numpy samplers return numpy scalars, not the 0-d arrays a case asks for
        inputs.append(float(value) if shape == SCALAR else np.asarray(value, dtype=dtype))
    probe = _ShapeProbe()
    entry.fn(*inputs, probe)
    weights = np.asarray(rng.standard_normal(probe.shape), dtype=dtype)
    return [*inputs, weights]
