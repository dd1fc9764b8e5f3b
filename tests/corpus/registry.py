"""The corpus' registry: each program module registers its functions with `program(...)`.

A program is a function exactly as its origin writes it (numpy for autograd.numpy / jax.numpy), example
inputs drawn from a seeded generator, and the arguments to differentiate. Inputs are chosen away from
kinks and branch boundaries, so central finite differences are a fair reference.

Many of autograd's tests define `fun` inside the test, closing over the test's own arrays
(`def fun(x): return np.concatenate((A, x))`). Those are registered with `case(...)` as the test itself:
a function of the generator that makes its arrays and returns `fun` and its arguments, so the closure
stays a closure.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np


@dataclass(frozen=True)
class Program:
    name: str            # unique in the corpus: "<module>.<function>"
    group: str           # the origin's family, one row of the runner's table ("autograd tests", ...)
    origin: str          # repository and file/test it is modelled on
    function: Callable | None  # None for a case: `make_args` then returns the function too
    make_args: Callable[[np.random.RandomState], tuple]
    wrt: tuple
    directions: int | None = None  # check k random directions instead of every element (large inputs)

    def build(self) -> tuple[Callable, tuple]:
        """The function and its example arguments."""
        # Seeded by the name, so a program's inputs do not change when others are added before it.
        rng = np.random.RandomState(zlib.crc32(self.name.encode()))
        if self.function is None:
            function, arguments = self.make_args(rng)
            return function, tuple(arguments)
        return self.function, tuple(self.make_args(rng))


PROGRAMS: list[Program] = []

# Programs of the origins that the corpus leaves out, with why: complex numbers, random sampling inside the
# function, or libraries other than numpy and scipy. Counted in the runner's table.
OUT_OF_SCOPE: list[tuple[str, str, str]] = []  # (group, origin, reason)


def collector(group: str):
    """The `program` decorator for one module: `@program(origin, args, wrt=...)`."""

    def program(origin: str, args: Callable[[np.random.RandomState], tuple], wrt: Any = 0,
                directions: int | None = None, name: str | None = None):
        def register(function):
            module = function.__module__.rsplit(".", 1)[-1]
            PROGRAMS.append(Program(f"{module}.{name or function.__name__}", group, origin, function, args,
                                    wrt if isinstance(wrt, tuple) else (wrt,), directions))
            return function
        return register

    def case(origin: str, wrt: Any = 0, directions: int | None = None):
        """`@case(origin)` on a test written as its origin writes it: `def test_x(r): ...; return fun, (A,)`."""
        def register(test):
            module = test.__module__.rsplit(".", 1)[-1]
            PROGRAMS.append(Program(f"{module}.{test.__name__}", group, origin, None, test,
                                    wrt if isinstance(wrt, tuple) else (wrt,), directions))
            return test
        return register

    return program, case


def out_of_scope(group: str, origin: str, reason: str):
    OUT_OF_SCOPE.append((group, origin, reason))
