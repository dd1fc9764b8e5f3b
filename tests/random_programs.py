"""Seeded random numpy programs, each differentiated by sourcegrad and checked against the original function.

A seed gives one program: a module with `def f(...)` (and perhaps helpers, a global constant and a small
class), written to a temporary folder and imported, since sourcegrad reads source with inspect. The
program uses only what README.md lists under "Supported today": operators with broadcasting, functions
of the rule table, reductions, indexing, matrix products, reshapes and joins, for/while/if/break/continue,
early returns, lists built in loops, dict/list/object parameters, helpers with keyword arguments and
defaults, augmented assignment on arrays the function made, writes into them (`a[i] = e`, `a[i] += e`),
conditional expressions; objects called (`model(h)`, through `__call__`) and properties (`model.scaled`); a
list of layer objects of differing classes (`layers2`: Affine, Squash, Affine) walked by `for`, by `enumerate`
and indexed with constants; optional functions (`act=None`, `if act is not None: h = act(h)`, in f and in
helpers); tests of a number's truth (`if s:`); a vector's items unpacked (`a, b = pair`) before a write into
it. Later idioms (Builder.new_idiom), drawn from a second random stream so that a seed drawing none keeps the
program it had before they came: the math module and max/min/pow/abs/round on numbers made with float() and
.item(); element writes in a chain and from a tuple; dicts made and written (.get, in, len, walks, a list
as a value); a namedtuple parameter `pt` and an object `cfg` with an int setting; tuples held by a name and
unpacked; log-sum-exps of -inf-masked entries. `check_program(seed)` then checks:

- sourcegrad's gradient of every `wrt` argument against float64 central finite differences;
- the value value_and_grad returns against the original function's;
- that no argument was changed by the call;
- float32 arguments give float32 gradients (and values close to the float64 ones);
- a second trip count `n` is served by the same compiled code, with a correct gradient again;
- where f has `act=None`, a further call with act the other way (a numpy function, or None), correct again.

`check_forward_modes(seed)` checks jvp and hvp on the same program (see its docstring).

As a script, from the repository's root:

    python -m tests.random_programs --n 5000 [--seed S] [--start K] [--show SEED] [--forward]

prints a summary of the outcomes and, for every failure, its seed, program and error. The test
tests/test_random_programs.py runs a few hundred seeds.

Kinks and decisions. A generated program may take max, abs, clip, where, branch on data or run a while
loop whose trip count depends on data, so a finite difference can straddle a kink or flip a decision
and mean nothing. The check therefore takes central differences with eps=1e-6 and trusts one only where
it agrees with sourcegrad, or, where it does not, where a second difference with eps=1e-4 agrees with it:
two steps a hundred times apart agree only if no kink or decision lies within 1e-4 of the point (a kink
between them shifts the larger step's difference by about half the jump in slope, a decision by the jump
in value over the step). Where they disagree the point is "unstable": the check draws new inputs (up to
INPUT_TRIES times) and, failing that, generates another program from the same seed. A wrong gradient is
reported only where both steps agree with each other and not with sourcegrad.
"""

from __future__ import annotations

import argparse
import collections
import copy
import importlib.util
import itertools
import math
import os
import random
import re
import shutil
import sys
import tempfile
import time
import traceback
import warnings
from dataclasses import dataclass, field

import numpy as np

try:  # optional: the masked log-sum-exps call scipy.special.logsumexp where it is installed
    import scipy.special as scipy_special
except ImportError:
    scipy_special = None

import sourcegrad
from sourcegrad import SourcegradError
from sourcegrad.api import compiled_files

# ---- shapes ---------------------------------------------------------------------------------------------------
# A handful of fixed shapes, distinct sizes so a transposition or a wrong axis shows: the main array is (3, 4).
H, V, R, C, M, S = (3, 4), (4,), (3,), (3, 1), (4, 4), ()
ARRAY_SHAPES = (H, V, R, C, M)

# Pairs of operand shapes that broadcast to a target shape (for the binary operators, np.where, ...).
BROADCAST = {
    H: [(H, H), (H, V), (V, H), (H, C), (C, H), (C, V), (V, C), (H, S), (S, H)],
    V: [(V, V), (V, S), (S, V)],
    R: [(R, R), (R, S), (S, R)],
    C: [(C, C), (C, S), (S, C)],
    M: [(M, M), (M, V), (V, M), (M, S), (S, M)],
    S: [(S, S)],
}

# ---- tolerances -----------------------------------------------------------------------------------------------
GRAD_TOLERANCE = 1e-5    # |sourcegrad - finite difference| / max(1, |finite difference|)
AGREE_TOLERANCE = 1e-4   # the eps=1e-6 and eps=1e-4 differences must agree this well to be trusted
FLOAT32_TOLERANCE = 2e-3  # float32 gradient against the float64 one, same measure
VALUE_RTOL = 1e-12
INPUT_TRIES = 4          # new inputs for an unstable point before another program is generated
PROGRAM_TRIES = 6        # programs generated from one seed before giving up (too large, or never stable)
MAX_MAGNITUDE = 1e4      # a program whose value or gradient is larger is regenerated: keep values tame

SPREAD = "np.linspace(-1.0, 1.0, 12).reshape(3, 4)"  # a global constant of each program: distinct entries

# ---- parameters -----------------------------------------------------------------------------------------------
# name -> (kind, structure). `n`, the trip count, is always the last parameter and never differentiated.
PARAMETERS = {
    "x": ("array", H),
    "w": ("array", M),
    "v": ("array", V),
    "b": ("array", C),
    "u": ("array", R),
    "z": ("array", S),          # a 0-d array
    "c": ("float", S),          # a Python float
    "params": ("dict", {"w1": M, "b1": V, "inner": {"s": C}}),   # nested: params["inner"]["s"]
    "layers": ("list", [M, M]),
    "blocks": ("list", [{"w": M, "b": V}, {"w": M, "b": V}]),  # a list of layer dicts, as sourcegrad.nn uses
    "model": ("object", {"w": M, "b": V}),
    # a list of layer objects of differing classes (LAYER_CLASSES), as Sequential(Linear, Tanh, Linear) holds
    "layers2": ("objects", [("Affine", {"w": M, "b": V}), ("Squash", {}), ("Affine", {"w": M, "b": V})]),
}

# Parameters of the later idioms (Builder.new_idiom), drawn from a random stream of their own so that the programs
# of seeds that draw none keep their text: a namedtuple of arrays, and an object holding an array and an int
# setting (README: an int a structure holds is a setting, with no gradient: `np.zeros(cfg.n)`, `h[:cfg.n]`).
EXTRA_PARAMETERS = {
    "pt": ("namedtuple", {"w": M, "b": V}),
    "cfg": ("setting", {"w": V}),
}
ALL_PARAMETERS = {**PARAMETERS, **EXTRA_PARAMETERS}

PAIR_CLASS = 'Pair = collections.namedtuple("Pair", ["w", "b"])'

CONFIG_CLASS = '''
class Config:
    def __init__(self, w, n=2):
        self.w = w
        self.n = n
'''

# A helper that builds a tuple under a name and returns the name (README: a tuple held by a name, unpacked).
PAIR_HELPER = '''
def make_pair(a, b):
    pair = (np.tanh(a), b * 0.5)
    return pair
'''

MODEL_CLASS = '''
class Model:
    def __init__(self, w, b):
        self.w = w
        self.b = b

    @property
    def scaled(self):
        return self.w * SCALE

    def forward(self, h):
        return np.tanh(h @ self.w + self.b)

    def score(self, h, scale=1.0):
        return np.sin(h @ self.b).sum() * scale

    def __call__(self, h):
        return np.tanh(h @ self.scaled + self.b)
'''

# The classes of layers2's items: a callable layer with arrays, and a stateless one (its gradient: an empty dict).
LAYER_CLASSES = '''
class Affine:
    def __init__(self, w, b):
        self.w = w
        self.b = b

    def __call__(self, h):
        return h @ self.w + self.b


class Squash:
    def __call__(self, h):
        return np.tanh(h)
'''

# The functions passed for f's optional `act=None` parameter (and a helper's).
ACTIVATIONS = ("np.tanh", "np.sin", "np.arctan")


def activation(name):
    """The numpy function an ACTIVATIONS entry names, or None."""
    return None if name is None else getattr(np, name.split(".", 1)[1])


def leaf_expressions(name):
    """(expression, shape) for each array a parameter holds, as the function reads it."""
    kind, structure = ALL_PARAMETERS[name]
    if kind in ("namedtuple", "setting"):  # fields read by name (a setting's int is no leaf)
        return [(f"{name}.{key}", shape) for key, shape in structure.items()]
    if kind == "object":  # the property too: read like an attribute, computed by its getter
        return [(f"{name}.{key}", shape) for key, shape in structure.items()] + [(f"{name}.scaled", M)]
    if kind == "objects":  # the first item's arrays by index from the start, the last's from the end
        last = len(structure) - 1
        return [(f"{name}[{0 if k == 0 else -1}].{key}", shape) for k, (_, attributes) in enumerate(structure)
                if k in (0, last) for key, shape in attributes.items()]
    return list(_walk(name, structure))


def _walk(expression, structure):
    """A structure is a shape (a tuple), a dict or a list of structures."""
    if isinstance(structure, tuple):
        yield expression, structure
    elif isinstance(structure, dict):
        for key, item in structure.items():
            yield from _walk(f'{expression}["{key}"]', item)
    else:
        for i, item in enumerate(structure):
            yield from _walk(f"{expression}[{i}]", item)


def make_argument(name, rng, module):
    """A float64 value for parameter `name`, drawn from rng (a numpy Generator)."""
    kind, structure = ALL_PARAMETERS[name]

    def build(structure):
        if isinstance(structure, tuple):
            scale = 0.5 if structure == M else 1.0  # a matrix product then keeps values of order one
            return np.asarray(rng.standard_normal(structure) * scale)
        if isinstance(structure, dict):
            return {key: build(item) for key, item in structure.items()}
        return [build(item) for item in structure]

    if kind == "float":
        return float(rng.standard_normal())
    if kind == "object":
        return module.Model(**{key: build(shape) for key, shape in structure.items()})
    if kind == "namedtuple":
        return module.Pair(**{key: build(shape) for key, shape in structure.items()})
    if kind == "setting":  # Config(w, n=2): n, an int, is a setting
        return module.Config(**{key: build(shape) for key, shape in structure.items()})
    if kind == "objects":
        return [getattr(module, cls)(**{key: build(shape) for key, shape in attributes.items()})
                for cls, attributes in structure]
    return build(structure)


def to_float64(value, module):
    """The same argument with every array float64."""
    if isinstance(value, np.ndarray):
        return value.astype(np.float64)
    if isinstance(value, dict):
        return {k: to_float64(v, module) for k, v in value.items()}
    if isinstance(value, list):
        return [to_float64(v, module) for v in value]
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a namedtuple
        return type(value)(*[to_float64(v, module) for v in value])
    if hasattr(value, "__dict__") and not isinstance(value, np.ufunc):  # a Model, an Affine, a Squash
        return type(value)(**{k: to_float64(v, module) for k, v in vars(value).items()})
    return value


def to_float32(value, module):
    """The same argument with every array float32 (Python floats stay Python floats)."""
    if isinstance(value, np.ndarray):
        return value.astype(np.float32)
    if isinstance(value, dict):
        return {k: to_float32(v, module) for k, v in value.items()}
    if isinstance(value, list):
        return [to_float32(v, module) for v in value]
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a namedtuple
        return type(value)(*[to_float32(v, module) for v in value])
    if hasattr(value, "__dict__") and not isinstance(value, np.ufunc):  # a Model, an Affine, a Squash
        return type(value)(**{k: to_float32(v, module) for k, v in vars(value).items()})
    return value


# ---- the program --------------------------------------------------------------------------------------------


@dataclass
class Program:
    seed: int
    attempt: int
    source: str
    parameters: list          # names, in the signature's order, `n` last
    wrt: tuple
    n: int                    # the trip count of the first call
    n2: int                   # the second trip count
    modules: dict = field(default_factory=dict)   # other modules the program imports: name -> source
    acts: tuple = ()          # where f has `act=None` (its last parameter, after n): (first call's, other call's),
    #                           an ACTIVATIONS name and None, one way or the other


@dataclass
class Helper:
    name: str
    module: str               # "" for a helper of the program's own module, else the alias it is imported as
    parameters: list          # [(name, shape (None for the optional function act), default or None)]
    returns: tuple            # shapes: one, or two for a helper returning a tuple


class Builder:
    """Generates one program. Expressions are typed by shape; every expression it returns is atomic
    (a name, a call, a subscript or parenthesised), so it can be used as an operand or have a method called
    on it as it is. Shape-() expressions may be Python floats, so they never get a method or a subscript."""

    def __init__(self, rng: random.Random, names):
        self.rng = rng
        self.names = names                  # parameters in the signature (without n)
        self.lines = []
        self.indent = 1
        self.vars = {}                      # readable expression -> shape
        self.locals = set()                 # names the function may rebind
        self.locked = set()                 # accumulators a loop augments in place: not read inside it
        self.counters = []                  # int loop counters in scope, each at most 2 (so any index is valid)
        self.loop_depth = 0
        self.loop_kinds = []                # "for" or "while", innermost last (no `continue` in a while: see s_while)
        self.block_depth = 0
        self.ids = itertools.count()
        self.helpers = []
        self.min_trip = 0                   # 1 where a list built in a loop over range(n) is stacked
        # A helper in another module may not read that module's globals (README, "Not supported yet"): it
        # spells SPREAD out and never reads SCALE.
        self.module_globals = True
        self.uses_alpha = False
        self.uses_act = False               # f has `act=None`, passed a numpy function or None
        self.in_helper = False
        # Inside a loop over layers2, whose items differ in class: sourcegrad writes it out item by item, and
        # (LIMITATION) refuses a `break` or `continue` anywhere in its body, one of a loop nested in it too
        # ("`break` in a loop over items that differ ...": the nested loop's own break is taken for the outer's).
        self.no_jumps = False
        self.returned_early = False         # an early return was written: see s_for_layers2's LIMITATION
        self.extra = None                   # the later idioms' random stream (new_idiom); None: none written
        self.extra_ids = itertools.count()
        self.extra_params = []              # EXTRA_PARAMETERS f takes, read by the later idioms only
        self.extra_leaves = {}              # their arrays as those idioms read them: expression -> shape
        self.pt_unpacked = False            # pt is read by `w, b = pt` at the top of f, never by field
        self.extra_results = []             # terms the later idioms add to the result
        self.uses_pair_helper = False       # make_pair is called: the module defines it
        self.uses_scipy = False
        for name in names:
            for expression, shape in leaf_expressions(name):
                self.vars[expression] = shape
        # Plain array parameters may be rebound (`x = np.tanh(x)` is a new binding, not a change in place).
        self.rebindable_parameters = {n for n in names if PARAMETERS[n][0] == "array"}

    # ---- small tools ----------------------------------------------------------------------------------------

    def chance(self, p):
        return self.rng.random() < p

    def pick(self, items):
        return self.rng.choice(list(items))

    def weighted(self, table):
        """table: [(weight, value)] -> one value."""
        total = sum(w for w, _ in table)
        r = self.rng.random() * total
        for w, value in table:
            r -= w
            if r <= 0:
                return value
        return table[-1][1]

    def fresh(self, prefix):
        return f"{prefix}{next(self.ids)}"

    def emit(self, line):
        self.lines.append("    " * self.indent + line)

    def readable(self, shape):
        return [e for e, s in self.vars.items() if s == shape and e not in self.locked]

    def block(self, statements):
        """Run `statements()` one level deeper; names first bound inside are forgotten afterwards (a loop may
        run zero times, a branch may not be taken), rebinding existing names keeps them."""
        saved_vars, saved_locals = dict(self.vars), set(self.locals)
        self.indent += 1
        self.block_depth += 1
        start = len(self.lines)
        statements()
        if len(self.lines) == start:
            self.emit("pass")
        self.indent -= 1
        self.block_depth -= 1
        self.vars, self.locals = saved_vars, saved_locals

    # ---- expressions ----------------------------------------------------------------------------------------

    def expr(self, shape, depth):
        """An expression of exactly `shape`."""
        if depth <= 0:
            return self.leaf(shape)
        families = [
            (3, self.leaf), (3, self.unary), (3, self.binary), (1.2, self.kink), (1, self.reduction),
            (1, self.index), (1, self.matmul), (0.7, self.reshape), (0.6, self.join), (1.5, self.call),
        ]
        for _ in range(20):
            result = self.weighted(families)(shape, depth)
            if result is not None:
                return result
        return self.leaf(shape)

    def leaf(self, shape, depth=0):
        names = self.readable(shape)
        if shape == S:
            constants = ["0.5", "1.5", "0.3", "2.0"] + (["SCALE"] if self.module_globals else [])  # read live
            if not self.in_helper:
                constants.append("(n * 0.25)")                 # the trip count as a number
            if self.counters:
                i = self.pick(self.counters)
                constants.append(f"({i} + 1) * 0.25")  # a loop counter as a number: no gradient
            arrays = [e for e in self.vars if self.vars[e] != S and e not in self.locked]
            if arrays and self.chance(0.2):          # .shape .size .ndim len(): numbers, no gradient
                a = self.pick(arrays)
                constants.append(self.pick([f"(1.0 / {a}.size)", f"(len({a}) * 0.25)", f"({a}.shape[0] * 0.1)",
                                            f"({a}.ndim * 0.3)"]))
            if not names or self.chance(0.3):
                constant = self.pick(constants)
                return constant
        if names:
            return self.pick(names)
        return self.derived(shape)

    def derived(self, shape):
        """An expression of `shape` made from a readable array of shape H, V or M (every function has x, of
        shape H; a helper has its first parameter, of shape H or V)."""
        for source_shape in (H, V, M):
            sources = self.readable(source_shape)
            if sources:
                a = self.pick(sources)
                break
        conversions = {
            H: {V: f"{a}[1]", R: f"{a}[:, 2]", C: f"{a}[:, 1:2]", M: f"(0.25 * ({a}.T @ {a}))", S: f"{a}[0, 1]", H: a},
            V: {H: f"(np.ones((3, 1)) * {a})", R: f"{a}[:3]", C: f"{a}[:3, None]", M: f"np.outer({a}, {a})",
                S: f"{a}[0]", V: a},
            M: {H: f"{a}[:3]", V: f"{a}[0]", R: f"{a}[0, :3]", C: f"{a}[:3, :1]", S: f"{a}[1, 1]", M: a},
        }
        return conversions[source_shape][shape]

    def squash(self, shape, depth):
        """An expression of `shape` with values in [-1.6, 1.6]: safe inside exp, sinh and friends."""
        template = self.pick(["np.tanh({})", "np.sin({})", "np.arctan({})"])
        return template.format(self.expr(shape, depth - 1))

    def positive(self, shape, depth):
        """An expression of `shape` with values at least 0.2: safe for log, sqrt, division and a ** b."""
        e = self.expr(shape, depth - 1)
        template = self.pick(["np.exp(np.tanh({}))", "(np.square({}) + 0.5)", "(1.5 + np.sin({}))",
                              "np.cosh(np.tanh({}))", "np.hypot({}, 1.0)", "(np.abs({}) + 0.5)"])
        return template.format(e)

    def unary(self, shape, depth):
        """Elementwise functions of the rule table, each fed values inside its domain."""
        e = lambda: self.expr(shape, depth - 1)      # noqa: E731 (small local makers read best here)
        sq = lambda: self.squash(shape, depth)       # noqa: E731
        p = lambda: self.positive(shape, depth)      # noqa: E731
        choices = [
            lambda: f"np.sin({e()})", lambda: f"np.cos({e()})", lambda: f"np.tanh({e()})",
            lambda: f"np.arctan({e()})", lambda: f"np.exp({sq()})", lambda: f"np.log({p()})",
            lambda: f"np.sqrt({p()})", lambda: f"np.square({e()})", lambda: f"(-{e()})", lambda: f"(+{e()})",
            lambda: f"np.log1p({p()})", lambda: f"np.expm1({sq()})", lambda: f"np.sinh({sq()})",
            lambda: f"np.cosh({sq()})", lambda: f"np.arcsin(0.5 * {sq()})", lambda: f"np.arccos(0.5 * {sq()})",
            lambda: f"np.arctanh(0.5 * {sq()})", lambda: f"np.arcsinh({e()})", lambda: f"np.arccosh(1.0 + {p()})",
            lambda: f"np.reciprocal({p()})", lambda: f"np.cbrt({p()})", lambda: f"np.exp2({sq()})",
            lambda: f"np.log2({p()})", lambda: f"np.log10({p()})", lambda: f"({e()} ** 2)",
            lambda: f"({p()} ** 0.5)", lambda: f"({p()} ** 1.5)", lambda: f"np.power({p()}, 3)",
            lambda: f"np.negative({e()})", lambda: f"np.positive({e()})", lambda: f"np.tan(0.5 * {sq()})",
        ]
        return self.pick(choices)()

    def operands(self, shape):
        """Two operand shapes that broadcast to `shape`."""
        return self.pick(BROADCAST[shape])

    def binary(self, shape, depth):
        """Binary operators and their numpy spellings, operands of shapes that broadcast to `shape`."""
        a_shape, b_shape = self.operands(shape)
        a = lambda: self.expr(a_shape, depth - 1)           # noqa: E731
        b = lambda: self.expr(b_shape, depth - 1)           # noqa: E731
        pb = lambda: self.positive(b_shape, depth)          # noqa: E731
        pa = lambda: self.positive(a_shape, depth)          # noqa: E731
        choices = [
            (3, lambda: f"({a()} + {b()})"), (3, lambda: f"({a()} - {b()})"), (3, lambda: f"({a()} * {b()})"),
            (2, lambda: f"({a()} / {pb()})"), (1, lambda: f"({pa()} ** {self.squash(b_shape, depth)})"),
            (1, lambda: f"({self.positive(shape, depth)} ** 2.0)"), (1, lambda: f"np.add({a()}, {b()})"),
            (1, lambda: f"np.subtract({a()}, {b()})"), (1, lambda: f"np.multiply({a()}, {b()})"),
            (1, lambda: f"np.divide({a()}, {pb()})"), (1, lambda: f"np.power({self.positive(shape, depth)}, 0.5)"),
            (1, lambda: f"np.arctan2({a()}, {pb()})"), (1, lambda: f"np.logaddexp({a()}, {b()})"),
            (0.5, lambda: f"np.logaddexp2({a()}, {b()})"), (0.5, lambda: f"np.hypot({a()}, {pb()})"),
        ]
        if "c" in self.names:  # the Python-float parameter as an exponent
            choices.append((0.5, lambda: f"({self.positive(shape, depth)} ** np.tanh(c))"))
        return self.weighted(choices)()

    def kink(self, shape, depth):
        """Functions with kinks or selections: abs, maximum, minimum, clip, where. The check's two
        finite-difference steps reject points near a kink (see the module's docstring)."""
        a_shape, b_shape = self.operands(shape)
        e = lambda: self.expr(shape, depth - 1)             # noqa: E731
        a = lambda: self.expr(a_shape, depth - 1)           # noqa: E731
        b = lambda: self.expr(b_shape, depth - 1)           # noqa: E731
        choices = [
            lambda: f"np.abs({e()})", lambda: f"abs({e()})", lambda: f"np.absolute({e()})",
            lambda: f"np.maximum({e()}, 0.0)", lambda: f"np.maximum({a()}, {b()})",
            lambda: f"np.minimum({a()}, {b()})", lambda: f"np.fmax({a()}, {b()})", lambda: f"np.fmin({a()}, {b()})",
            lambda: f"np.clip({e()}, -0.5, 0.5)",
            lambda: f"np.where({a()} > {b()}, {self.expr(shape, depth - 1)}, {self.expr(shape, depth - 1)})",
            lambda: f"np.where({e()} < 0.0, {self.expr(shape, depth - 1)}, {self.expr(shape, depth - 1)})",
        ]
        if shape != S:  # a method: not on a shape-() expression, which may be a Python float
            choices.append(lambda: f"{e()}.clip(-0.5, 0.5)")
        # README's "no gradient, no error": comparisons as values, sign/floor/round, *_like, argmax
        choices += [
            lambda: f"({e()} * ({a()} > {b()}))", lambda: f"({e()} * np.sign({e()}))",
            lambda: f"({e()} + 0.1 * np.floor({e()}))", lambda: f"({e()} + 0.1 * np.round({e()}))",
            lambda: f"(np.zeros_like({e()}) + {e()})", lambda: f"(np.ones_like({e()}) * {e()})",
        ]
        if shape == V:
            choices.append(lambda: f"{self.expr(H, depth - 1)}[np.argmax({self.expr(R, depth - 1)})]")
        if shape == S:
            choices.append(lambda: f"{self.expr(V, depth - 1)}[np.argmin({self.expr(V, depth - 1)})]")
        return self.pick(choices)()

    def reduction(self, shape, depth):
        """Reductions with axis and keepdims, from a larger shape down to `shape`.

        std and norm take the square root of a sum of squares, whose rule divides by the result: where the
        values are equal by construction (the rows of np.ones((3, 1)) * v), the result is 0 up to rounding
        and the rule's 0/0 gives garbage while the finite differences give 0 (no step moves off that point).
        Their arguments get SPREAD, a global constant with distinct entries, added.
        """
        h = lambda: self.expr(H, depth - 1)                 # noqa: E731
        m = lambda: self.expr(M, depth - 1)                 # noqa: E731
        any_array = lambda: self.expr(self.pick(ARRAY_SHAPES), depth - 1)  # noqa: E731
        table = {
            V: [lambda: f"{h()}.sum(axis=0)", lambda: f"np.mean({h()}, axis=0)", lambda: f"{h()}.max(axis=0)",
                lambda: f"np.min({h()}, axis=0)", lambda: f"np.prod({self.squash(H, depth)}, axis=0)",
                lambda: f"{m()}.sum(axis=1)", lambda: f"np.amax({m()}, axis=-1)", lambda: f"({h()} + {self.spread()}).std(axis=0)",
                lambda: f"np.var({h()}, axis=0)", lambda: f"np.cumsum({self.expr(V, depth - 1)})"],
            R: [lambda: f"{h()}.sum(axis=1)", lambda: f"{h()}.mean(axis=-1)", lambda: f"np.max({h()}, axis=1)",
                lambda: f"{self.squash(H, depth)}.prod(axis=1)", lambda: f"np.amin({h()}, axis=1)"],
            C: [lambda: f"{h()}.sum(axis=1, keepdims=True)", lambda: f"np.mean({h()}, axis=1, keepdims=True)",
                lambda: f"{h()}.max(axis=1, keepdims=True)", lambda: f"np.var({h()}, axis=1, keepdims=True)"],
            S: [lambda: f"{any_array()}.sum()", lambda: f"np.sum({any_array()})", lambda: f"{any_array()}.mean()",
                lambda: f"{any_array()}.max()", lambda: f"np.min({any_array()})",
                lambda: f"{self.squash(V, depth)}.prod()", lambda: f"np.linalg.norm({self.expr(V, depth - 1)} + {self.spread()}[0])",
                lambda: f"({h()} + {self.spread()}).std()", lambda: f"np.mean({h()}, axis=(0, 1))"],
            H: [lambda: f"np.cumsum({h()}, axis=1)", lambda: f"{h()}.cumsum(axis=0)",
                lambda: f"({h()} - {h()}.mean(axis=0, keepdims=True))"],
            M: [lambda: f"np.cumsum({m()}, axis=0)"],
        }
        return self.pick(table[shape])()

    def spread(self):
        return "SPREAD" if self.module_globals else f"({SPREAD})"

    def index(self, shape, depth):
        """Indexing and slicing, with constants and with loop counters (each counter is at most 2)."""
        h = lambda: self.expr(H, depth - 1)                 # noqa: E731
        m = lambda: self.expr(M, depth - 1)                 # noqa: E731
        v = lambda: self.expr(V, depth - 1)                 # noqa: E731
        r = lambda: self.expr(R, depth - 1)                 # noqa: E731
        table = {
            V: [lambda: f"{h()}[0]", lambda: f"{h()}[-1]", lambda: f"{m()}[2]", lambda: f"{h()}[1, :]",
                lambda: f"{m()}[:, 1]", lambda: f"{h()}[[0, 2]].sum(axis=0)", lambda: f"{v()}[::-1]"],
            R: [lambda: f"{h()}[:, 1]", lambda: f"{h()}[:, -1]", lambda: f"{v()}[:3]", lambda: f"{v()}[1:]",
                lambda: f"{self.expr(C, depth - 1)}[:, 0]"],
            C: [lambda: f"{h()}[:, 1:2]", lambda: f"{h()}[:, :1]", lambda: f"{r()}[:, None]"],
            S: [lambda: f"{v()}[0]", lambda: f"{h()}[1, 2]", lambda: f"{h()}[2][3]", lambda: f"{r()}[-1]",
                lambda: f"{h()}[{h()} > 0.0].sum()"],
            H: [lambda: f"{m()}[1:]", lambda: f"{m()}[:3]", lambda: f"{h()}[::-1]", lambda: f"{h()}[:, ::-1]",
                lambda: f"{m()}[:3, :]"],
            M: [lambda: f"{m()}[::-1]"],
        }
        choices = list(table[shape])
        if self.counters:
            i = self.pick(self.counters)
            counted = {V: [lambda: f"{h()}[{i}]", lambda: f"{m()}[{i}]"], R: [lambda: f"{h()}[:, {i}]"],
                       S: [lambda: f"{v()}[{i}]", lambda: f"{r()}[{i}]", lambda: f"{h()}[{i}, 1]"],
                       C: [lambda: f"{h()}[:, {i}:{i} + 1]"], H: [], M: [lambda: f"({m()}[{i}:{i} + 2].sum() * {m()})"]}
            choices += counted[shape] * 2
        return self.pick(choices)()

    def matmul(self, shape, depth):
        """@, np.dot, .dot, np.matmul, np.inner, np.outer, np.einsum, np.trace."""
        h = lambda: self.expr(H, depth - 1)                 # noqa: E731
        m = lambda: self.expr(M, depth - 1)                 # noqa: E731
        v = lambda: self.expr(V, depth - 1)                 # noqa: E731
        r = lambda: self.expr(R, depth - 1)                 # noqa: E731
        table = {
            H: [lambda: f"({h()} @ {m()})", lambda: f"np.dot({h()}, {m()})", lambda: f"{h()}.dot({m()})",
                lambda: f"np.matmul({h()}, {m()})", lambda: f"np.einsum('ij,jk->ik', {h()}, {m()})"],
            V: [lambda: f"({v()} @ {m()})", lambda: f"({h()}.T @ {r()})", lambda: f"np.dot({m()}, {v()})"],
            R: [lambda: f"({h()} @ {v()})", lambda: f"np.dot({h()}, {v()})", lambda: f"np.einsum('ij,j->i', {h()}, {v()})"],
            S: [lambda: f"({v()} @ {v()})", lambda: f"np.dot({v()}, {v()})", lambda: f"np.inner({r()}, {r()})",
                lambda: f"np.trace({m()})", lambda: f"{m()}.trace()"],
            M: [lambda: f"(0.25 * ({h()}.T @ {h()}))", lambda: f"np.outer({v()}, {v()})", lambda: f"({m()} @ {m()})"],
            C: [lambda: f"({h()} @ {v()}[:, None])"],
        }
        # np.linalg on matrices kept well conditioned (0.2 * m + I), np.tensordot, np.einsum to a number
        table[S] += [lambda: f"np.linalg.det(0.2 * {m()} + np.eye(4))", lambda: f"np.einsum('ij,ij->', {h()}, {h()})",
                     lambda: f"np.tensordot({h()}, {h()}, axes=2)"]
        table[M] += [lambda: f"np.linalg.inv(0.2 * {m()} + np.eye(4))",
                     lambda: f"(0.25 * np.tensordot({h()}, {h()}, axes=([0], [0])))"]
        table[V] += [lambda: f"np.linalg.solve(0.2 * {m()} + np.eye(4), {v()})"]
        result = self.pick(table[shape])()
        # products add up four terms: squash half of them so values stay of order one through loops
        return f"np.tanh({result})" if self.chance(0.5) else result

    def reshape(self, shape, depth):
        """reshape, transpose, .T, squeeze, expand_dims, ravel, flatten, swapaxes, flip, roll, tril."""
        h = lambda: self.expr(H, depth - 1)                 # noqa: E731
        m = lambda: self.expr(M, depth - 1)                 # noqa: E731
        r = lambda: self.expr(R, depth - 1)                 # noqa: E731
        c = lambda: self.expr(C, depth - 1)                 # noqa: E731
        table = {
            H: [lambda: f"{h()}.reshape(4, 3).T", lambda: f"np.reshape({h()}, (4, 3)).T", lambda: f"{h()}.T.T",
                lambda: f"np.transpose({h()}.T)", lambda: f"{h()}.ravel().reshape(3, 4)",
                lambda: f"{h()}.flatten().reshape(3, -1)", lambda: f"np.swapaxes({h()}.T, 0, 1)",
                lambda: f"np.flip({h()}, axis=0)", lambda: f"np.roll({h()}, 1, axis=1)",
                lambda: f"{h()}.reshape(12)[::-1].reshape(3, 4)", lambda: f"{m()}.T[1:]"],
            V: [lambda: f"{m()}.T[1]", lambda: f"{h()}.reshape(4, 3)[:, 0]", lambda: f"np.squeeze({m()}[1:2])",
                lambda: f"{h()}.reshape(-1)[4:8]"],
            R: [lambda: f"{c()}.reshape(3)", lambda: f"np.squeeze({c()}, axis=1)", lambda: f"{c()}.ravel()",
                lambda: f"{c()}.flatten()", lambda: f"np.ravel({c()})"],
            C: [lambda: f"{r()}.reshape(3, 1)", lambda: f"np.expand_dims({r()}, 1)", lambda: f"np.reshape({r()}, (3, 1))",
                lambda: f"{r()}.reshape(-1, 1)"],
            M: [lambda: f"{m()}.T", lambda: f"np.transpose({m()})", lambda: f"{m()}.transpose()",
                lambda: f"np.tril({m()})", lambda: f"np.triu({m()})", lambda: f"{m()}.swapaxes(0, 1)",
                lambda: f"np.diag({self.expr(V, depth - 1)})", lambda: f"np.diag(np.diag({m()}))"],
            S: [],
        }
        # broadcast_to, tile, repeat, moveaxis, copies, astype, asarray, np.array of a list display
        v = lambda: self.expr(V, depth - 1)                 # noqa: E731
        table[H] += [lambda: f"np.broadcast_to({v()}, (3, 4))", lambda: f"np.tile({v()}, (3, 1))",
                     lambda: f"np.repeat({c()}, 4, axis=1)", lambda: f"np.moveaxis({h()}.T, 0, 1)",
                     lambda: f"{h()}.copy()", lambda: f"np.copy({h()})", lambda: f"{h()}.astype(np.float64)",
                     lambda: f"np.asarray({h()})", lambda: f"np.array([{v()}, {v()}, {v()}])",
                     lambda: f"np.expand_dims({v()}, 0).repeat(3, axis=0)"]
        table[V] += [lambda: f"np.diag({m()})", lambda: f"np.repeat({v()}[:2], 2)", lambda: f"np.tile({v()}[:2], 2)"]
        table[R] += [lambda: f"np.squeeze({c()})"]
        return self.pick(table[shape])() if table[shape] else None

    def join(self, shape, depth):
        """np.stack, np.concatenate, np.vstack, np.hstack of list displays."""
        h = lambda: self.expr(H, depth - 1)                 # noqa: E731
        v = lambda: self.expr(V, depth - 1)                 # noqa: E731
        r = lambda: self.expr(R, depth - 1)                 # noqa: E731
        c = lambda: self.expr(C, depth - 1)                 # noqa: E731
        table = {
            H: [lambda: f"np.stack([{v()}, {v()}, {v()}])", lambda: f"np.stack([{r()}, {r()}, {r()}, {r()}], axis=1)",
                lambda: f"np.concatenate([{h()}[:, :2], {h()}[:, 2:]], axis=1)",
                lambda: f"np.concatenate([{h()}[:1], {h()}[1:]])", lambda: f"np.vstack([{v()}, {h()}[1:]])",
                lambda: f"np.hstack([{c()}, {h()}[:, 1:]])"],
            V: [lambda: f"np.concatenate([{v()}[:2], {v()}[2:]])", lambda: f"np.stack([{v()}, {v()}]).sum(axis=0)",
                lambda: f"np.hstack([{v()}[:1], {v()}[1:]])"],
            R: [lambda: f"np.concatenate([{r()}[:1], {r()}[1:]])"],
            C: [lambda: f"np.vstack([{c()}[:1], {c()}[1:]])", lambda: f"np.concatenate([{c()}, {c()}], axis=1)[:, 1:]"],
            M: [lambda: f"np.stack([{v()}, {v()}, {v()}, {v()}])", lambda: f"np.vstack([{h()}, {v()}])"],
            S: [],
        }
        return self.pick(table[shape])() if table[shape] else None

    def call(self, shape, depth):
        """A call of one of the module's helpers (keywords, defaults), or of the model's methods."""
        choices = [h for h in self.helpers if len(h.returns) == 1 and h.returns[0] == shape]
        if "model" in self.names and not self.in_helper:
            if shape == H:  # a method, or the model called (its __call__, which reads the property `scaled`)
                return f"{self.pick(['model.forward', 'model'])}({self.expr(H, depth - 1)})"
            if shape == S and self.chance(0.5):
                scale = f", scale={self.leaf(S)}" if self.chance(0.5) else ""
                return f"model.score({self.expr(H, depth - 1)}{scale})"
        if "layers2" in self.names and not self.in_helper and shape in (H, V, M) and self.chance(0.4):
            # an item of the list of differing layers, indexed with a constant (from the end too), called
            index = self.pick(["0", "-1", "1", "2", "-3"])
            return f"layers2[{index}]({self.expr(shape, depth - 1)})"
        if not choices:
            return None
        return self.call_text(self.pick(choices), depth)

    def call_text(self, helper, depth):
        """helper(...) with its first arguments by position, later ones by keyword, defaults sometimes left out."""
        parts = []
        by_keyword = False
        for name, shape, default in helper.parameters:
            if name == "act":  # an optional function: left out (None), a numpy function, or f's own act passed on
                passed = self.pick([None, None, self.pick(ACTIVATIONS)]
                                   + (["act", "act"] if self.uses_act and not self.in_helper else []))
                if passed is not None:
                    parts.append(f"act={passed}")
                continue
            if default is not None and self.chance(0.4):
                by_keyword = True  # leaving a default out: what follows must go by keyword
                continue
            by_keyword = by_keyword or self.chance(0.35)
            value = self.expr(shape, depth - 1)
            parts.append(f"{name}={value}" if by_keyword else value)
        prefix = f"{helper.module}." if helper.module and not self.in_helper else ""
        return f"{prefix}{helper.name}({', '.join(parts)})"

    def condition(self, depth=2):
        """A data-dependent condition: a comparison of a shape-() expression with a threshold, or with the
        Python-float parameter c; sometimes two joined by `and` or `or`, or a chained comparison
        (`-0.5 < e < 1.0`), whose later operands Python computes only while the earlier ones leave it open."""
        comparison = self.comparison(depth)
        if self.chance(0.15):
            comparison = f"{comparison} {self.pick(['and', 'or'])} {self.comparison(max(depth - 1, 1))}"
        elif self.chance(0.08):
            low, high = self.pick([("-0.5", "1.0"), ("-2.0", "0.3"), ("0.0", "2.0")])
            comparison = f"{low} < {self.scalar_value(depth)} < {high}"
        return f"not ({comparison})" if self.chance(0.1) else comparison

    def comparison(self, depth):
        threshold = self.pick(["0.0", "0.3", "-0.2", "1.0"] + (["c"] if "c" in self.names else []))
        return f"{self.scalar_value(depth)} {self.pick(['>', '<', '>=', '<='])} {threshold}"

    def scalar_value(self, depth):
        shape = self.pick([H, V, R, S])
        e = self.expr(shape, depth)
        if shape != S:
            e = self.pick([f"{e}.sum()", f"np.tanh({e}).mean()", f"{e}.max()", f"np.sum({e})"])
        return e

    def bounded(self, name, shape, depth):
        """A new value for `name` that stays of order one however many times a loop repeats it."""
        inner = self.expr(shape, depth)
        return self.pick([f"np.tanh({inner})", f"(0.5 * {name} + 0.5 * np.sin({inner}))",
                          f"np.tanh({name} + {inner})"])

    # ---- statements -----------------------------------------------------------------------------------------

    def statements(self, count):
        for _ in range(count):
            self.statement()

    def statement(self):
        if self.extra is not None and not self.in_helper and self.extra.random() < NEW_IDIOM_RATE:
            self.new_idiom()   # before the main stream's statement, which it leaves as it was
        at_top = self.block_depth == 0
        in_loop = self.loop_depth > 0
        nested_ok = self.block_depth < 2
        table = [(5, self.s_assign), (3, self.s_rebind), (1.5, self.s_rebind_twice), (1, self.s_tuple)]
        if self.in_helper:  # a helper has no n and no x: straight-line code and branches
            table += [(1, self.s_if)] if nested_ok else []
            return self.weighted(table)()
        table += [(0.4, self.s_shape_unpack), (0.8, self.s_augmented), (1.5, self.s_helper_call),
                  (0.5, self.s_split), (0.2, self.s_assert), (0.8, self.s_element_write),
                  (0.6, self.s_conditional_expression), (0.6, self.s_truth_test)]
        if at_top and not self.returned_early and self.pair_sources():  # see s_unpack_pair's LIMITATION
            table += [(1.0, self.s_unpack_pair)]
        if self.uses_act:
            table += [(1.0, self.s_act)]
        if nested_ok:
            table += [(1.5, self.s_if), (1, self.s_if_define), (1.5, self.s_for_range), (0.8, self.s_for_rows),
                      (1.2, self.s_for_list), (0.8, self.s_list_built_in_loop), (0.5, self.s_list_display)]
        if nested_ok:
            table += [(1.0 if not in_loop else 0.4, self.s_while)]
        if nested_ok and "blocks" in self.names:
            table += [(1.5, self.s_for_blocks)]
        # LIMITATION: a loop over layers2 (items of differing classes) only at the top of f, and before any early
        # return. Inside an if, a for or a while, or after `if c: return ...` (which puts the rest of f in a
        # branch), the calls of its items are refused ("sourcegrad cannot tell here which function or object
        # this calls"), as they are when the loop walks zip(layers2, ...) or reversed(layers2).
        if at_top and "layers2" in self.names and not self.returned_early:
            table += [(1.5, self.s_for_layers2)]
        if in_loop and not self.no_jumps:
            table += [(2, self.s_loop_control)]
        if in_loop:
            table += [(1, self.s_if_counter)]
        if self.block_depth <= 1 and not in_loop:  # return in a branch (not in a loop: README refuses that)
            table += [(0.5 if at_top else 0.3, self.s_early_return)]
        self.weighted(table)()

    def enter_loop(self, kind="for"):
        self.loop_depth += 1
        self.loop_kinds.append(kind)

    def leave_loop(self):
        self.loop_depth -= 1
        self.loop_kinds.pop()

    def target_shape(self):
        return self.weighted([(5, H), (2, V), (1, R), (1, C), (1, M), (1.5, S)])

    def bind(self, name, shape):
        self.vars[name] = shape
        self.locals.add(name)

    def rebindable(self, shape=None):
        names = [n for n in self.locals | self.rebindable_parameters
                 if n in self.vars and n not in self.locked and (shape is None or self.vars[n] == shape)]
        return sorted(names)

    def s_assign(self):
        """`t = expression`: a new name."""
        shape = self.target_shape()
        name = self.fresh("t")
        self.emit(f"{name} = {strip(self.expr(shape, self.rng.randint(1, 3)))}")
        self.bind(name, shape)

    def s_rebind(self):
        """`h = f(h, ...)`: an existing name gets a new value of its shape (bounded inside loops)."""
        names = self.rebindable()
        if not names:
            return self.s_assign()
        name = self.pick(names)
        shape = self.vars[name]
        if self.loop_depth:
            value = self.bounded(name, shape, 2)
        else:
            value = self.expr(shape, self.rng.randint(1, 3))
        self.emit(f"{name} = {strip(value)}")

    def s_rebind_twice(self):
        """`t = np.sin(x); t = t * t`: a name rebound several times in a row (inside branches too)."""
        shape = self.target_shape()
        names = self.rebindable(shape)
        name = self.pick(names) if names and self.chance(0.5) else self.fresh("r")
        first = self.bounded(name, shape, 1) if name in self.vars else self.squash(shape, 2)
        self.emit(f"{name} = {strip(first)}")
        self.bind(name, shape)
        for _ in range(self.rng.randint(1, 2)):
            self.emit(f"{name} = " + self.pick([f"{name} * {name}", f"np.sin({name}) + 0.5 * {name}",
                                                f"np.tanh({name} * {self.leaf(shape)})"]))

    def s_tuple(self):
        """Tuple assignment: a swap with an update (`a, b = b, np.tanh(a + b)`), or two new names at once."""
        shape = self.target_shape()
        names = self.rebindable(shape)
        if len(names) >= 2 and self.chance(0.7):
            a, b = self.rng.sample(names, 2)
            update = self.pick([f"np.tanh({a} + {b})", f"np.sin({a} * 2.0)", f"0.5 * ({a} - {b})"])
            self.emit(f"{a}, {b} = {b}, {update}")
        else:
            p, q = self.fresh("p"), self.fresh("q")
            self.emit(f"{p}, {q} = {strip(self.expr(shape, 2))}, {strip(self.expr(shape, 2))}")
            self.bind(p, shape)
            self.bind(q, shape)

    def s_shape_unpack(self):
        """`rows, cols = h.shape` (no gradient) and a use of the numbers."""
        h = self.pick(self.readable(H))
        rows, cols = self.fresh("rows"), self.fresh("cols")
        self.emit(f"{rows}, {cols} = {h}.shape")
        name = self.fresh("t")
        self.emit(f"{name} = {strip(self.expr(H, 2))} * ({rows} / {cols})")
        self.bind(name, H)

    def s_augmented(self):
        """`acc += e` where acc holds an array the function itself just made (README: augmented assignment on
        names where the name holds an array the function made), at top level or across a loop."""
        shape = self.pick([H, V, R, C, M])
        acc = self.fresh("acc")
        fresh_array = self.pick([f"np.tanh({self.expr(shape, 1)})", f"({self.expr(shape, 1)} * 1.0)",
                                 f"np.zeros_like({self.pick(self.readable(shape) or [self.derived(shape)])})"])
        self.emit(f"{acc} = {strip(fresh_array)}")
        op = self.pick(["+=", "+=", "-=", "*="])

        def increment():
            b_shape = self.pick([b for a, b in BROADCAST[shape] if a == shape])
            value = self.expr(b_shape, 2)
            return f"np.tanh({value})" if op == "*=" else value   # *= by a bounded factor

        if self.loop_depth == 0 and self.block_depth < 2 and self.chance(0.4):
            # across a loop: the accumulator is made before the loop, augmented in it, read after it
            i = self.fresh("i")
            self.emit(f"for {i} in range(n):")
            self.locked.add(acc)
            self.enter_loop()
            self.counters.append(i)
            self.block(lambda: self.emit(f"{acc} {op} {strip(increment())}"))
            self.counters.pop()
            self.leave_loop()
            self.locked.discard(acc)
        else:
            self.emit(f"{acc} {op} {strip(increment())}")
        self.bind(acc, shape)
        self.locals.discard(acc)  # never rebound afterwards, so nothing else ever holds it before an update

    def s_element_write(self):
        """`a[index] = e` and `a[index] += e` into an array the function just made (README: writing into such an
        array): a row, a column slice, an element, a mask, and inside a loop a row picked by the counter."""
        shape = self.pick([H, M])
        a = self.fresh("a")
        self.emit(f"{a} = {strip(self.squash(shape, 1))} * 1.0")
        rows = shape[0]
        writes = self.rng.randint(1, 3)
        for _ in range(writes):
            form = self.pick(["row", "columns", "element", "mask", "augmented_row"]
                             + (["counter_row"] if self.counters else []))
            if form == "row":
                self.emit(f"{a}[{self.rng.randrange(rows)}] = {strip(self.expr(V, 1))}")
            elif form == "columns":
                self.emit(f"{a}[:, 1:3] = {strip(self.squash(S, 1))}")
            elif form == "element":
                self.emit(f"{a}[{self.rng.randrange(rows)}, {self.rng.randrange(4)}] = {strip(self.squash(S, 1))}")
            elif form == "mask":
                self.emit(f"{a}[{a} > {self.pick(['0.3', '-0.2', '0.0'])}] = {self.pick(['0.0', '0.5', '-1.0'])}")
            elif form == "augmented_row":
                self.emit(f"{a}[{self.rng.randrange(rows)}] += {strip(self.expr(V, 1))}")
            else:
                self.emit(f"{a}[{self.pick(self.counters)} % {rows}] = {strip(self.expr(V, 1))}")
        self.bind(a, shape)

    def s_conditional_expression(self):
        """`t = e1 if condition else e2` (README: conditional expressions), the condition on data."""
        shape = self.target_shape()
        name = self.fresh("t")
        self.emit(f"{name} = ({strip(self.expr(shape, 1))}) if {self.condition()} else ({strip(self.expr(shape, 1))})")
        self.bind(name, shape)

    def s_split(self):
        """np.split / np.array_split into a tuple of names, joined again another way."""
        h = strip(self.expr(H, 1))
        name = self.fresh("t")
        if self.chance(0.5):
            a, b = self.fresh("a"), self.fresh("b")
            self.emit(f"{a}, {b} = np.split({h}, 2, axis=1)")
            self.emit(f"{name} = np.concatenate([{b}, {a} * {self.leaf(S)}], axis=1)")
        else:
            parts = self.fresh("parts")
            self.emit(f"{parts} = np.array_split({h}, 3)")
            self.emit(f"{name} = np.vstack([{parts}[2], {parts}[0], {parts}[1]])")
        self.bind(name, H)

    def s_assert(self):
        """assert (README: statements)."""
        name = self.pick([e for e in self.vars if self.vars[e] != S and e not in self.locked])
        self.emit(f"assert {name}.shape == {self.vars[name]}")

    def s_helper_call(self):
        """A call of a helper as a statement: a tuple result unpacked, or one result bound."""
        tuples = [h for h in self.helpers if len(h.returns) == 2]
        if tuples and self.chance(0.6):
            helper = self.pick(tuples)
            p, q = self.fresh("p"), self.fresh("q")
            self.emit(f"{p}, {q} = {self.call_text(helper, 2)}")
            self.bind(p, helper.returns[0])
            self.bind(q, helper.returns[1])
            return
        singles = [h for h in self.helpers if len(h.returns) == 1]
        if not singles:
            return self.s_assign()
        helper = self.pick(singles)
        name = self.fresh("t")
        self.emit(f"{name} = {self.call_text(helper, 2)}")
        self.bind(name, helper.returns[0])

    def s_if(self):
        """if/elif/else on data."""
        self.emit(f"if {self.condition()}:")
        self.block(lambda: self.statements(self.rng.randint(1, 3)))
        if self.chance(0.4):
            self.emit(f"elif {self.condition()}:")
            self.block(lambda: self.statements(self.rng.randint(1, 2)))
        if self.chance(0.6):
            self.emit("else:")
            self.block(lambda: self.statements(self.rng.randint(1, 2)))

    def s_if_define(self):
        """A name first bound in every branch of an if/elif/else, used after it."""
        shape = self.target_shape()
        name = self.fresh("y")
        branches = self.rng.randint(2, 3)

        def body():
            self.statements(self.rng.randint(0, 1))
            self.emit(f"{name} = {strip(self.expr(shape, 2))}")

        self.emit(f"if {self.condition()}:")
        self.block(body)
        if branches == 3:
            self.emit(f"elif {self.condition()}:")
            self.block(body)
        self.emit("else:")
        self.block(body)
        self.bind(name, shape)

    def accumulator(self):
        """A name made before a loop that the loop updates (the loop-carried state)."""
        shape = self.weighted([(4, H), (2, V), (1, S)])
        names = self.rebindable(shape)
        if names and self.chance(0.5):
            return self.pick(names), shape
        name = self.fresh("h")
        self.emit(f"{name} = {strip(self.expr(shape, 1))}")
        self.bind(name, shape)
        return name, shape

    def s_for_range(self):
        """for over range(...) with the trip count n an argument; the counter indexes arrays and steers ifs."""
        h, shape = self.accumulator()
        i = self.fresh("i")
        header = self.pick(["range(n)", "range(n)", "range(1, n)", "range(n - 1, -1, -1)", "range(len(x))",
                            "range(0, n, 2)"])
        self.emit(f"for {i} in {header}:")
        self.counters.append(i)
        self.enter_loop()

        def body():
            self.statements(self.rng.randint(0, 2))
            self.emit(f"{h} = {strip(self.bounded(h, shape, 2))}")
            self.statements(self.rng.randint(0, 1))

        self.block(body)
        self.leave_loop()
        self.counters.pop()

    def s_for_rows(self):
        """for over an array's rows (a parameter's or one the function made), or over zip of two arrays' rows:
        each row gets its gradient."""
        source = self.pick(self.readable(H) + self.readable(M))
        if "[" in source or "." in source:  # iterate a name, as README asks: bind a structure's array first
            name = self.fresh("a")
            self.emit(f"{name} = {source}")
            self.bind(name, self.vars[source])
            source = name
        acc, shape = self.accumulator()
        row, other = self.fresh("row"), None
        partners = [e for e in self.readable(self.vars[source]) if e != source and "[" not in e and "." not in e]
        if partners and self.chance(0.3):
            other = self.fresh("row")
            self.emit(f"for {row}, {other} in zip({source}, {self.pick(partners)}):")
        else:
            self.emit(f"for {row} in {source}:")

        def body():
            self.bind(row, V)        # a loop target may be rebound in the body
            if other:
                self.bind(other, V)
            self.statements(self.rng.randint(0, 1))
            update = self.expr(shape, 1)
            if other:
                update = f"({update} * {other}.mean())"
            if shape == V:   # the row itself broadcasts against the accumulator
                value = self.pick([f"np.tanh({acc} + {row} * {update})", f"0.5 * {acc} + 0.5 * np.sin({row} - {update})"])
            else:            # a number made of the row
                value = self.pick([f"np.tanh({acc} + {update} * {row}.sum())",
                                   f"0.5 * {acc} + 0.5 * np.sin({update} + {row}.mean())"])
            self.emit(f"{acc} = {value}")

        self.enter_loop()
        self.block(body)
        self.leave_loop()

    def s_for_list(self):
        """for over a list (the list parameter or a display held by a name), with enumerate or zip."""
        acc, shape = self.accumulator()
        if "layers" in self.names and self.chance(0.6):
            items, item_shape, length = "layers", M, 2
        else:
            item_shape = self.pick([H, V, M])
            length = self.rng.randint(2, 3)
            items = self.fresh("hs")
            opener, closer = ("[", "]") if self.chance(0.7) else ("(", ")")  # a list or a tuple
            self.emit(f"{items} = {opener}{', '.join(strip(self.expr(item_shape, 1)) for _ in range(length))}{closer}")
        item = self.fresh("item")
        form = self.pick(["plain", "enumerate", "zip", "range_len"])
        counter = partner = partner_shape = None
        if form == "plain":
            self.emit(f"for {item} in {items}:")
        elif form == "enumerate":
            counter = self.fresh("j")
            self.emit(f"for {counter}, {item} in enumerate({items}):")
        elif form == "range_len":
            counter = self.fresh("j")
            self.emit(f"for {counter} in range(len({items})):")
        else:
            other, partner = self.fresh("o"), self.fresh("k")
            partner_shape = self.pick([H, V, S])
            self.emit(f"{other} = [{', '.join(strip(self.expr(partner_shape, 1)) for _ in range(length))}]")
            self.emit(f"for {item}, {partner} in zip({items}, {other}):")

        def body():
            if form == "range_len":
                self.emit(f"{item} = {items}[{counter}]")
            if form == "zip":
                self.vars[partner] = partner_shape
            self.vars[item] = item_shape
            self.statements(self.rng.randint(0, 1))
            update = self.combine(acc, shape, item, item_shape)
            if form == "zip":
                update = self.combine(acc, shape, partner, partner_shape, update)
            self.emit(f"{acc} = {update}")

        if counter is not None:
            self.counters.append(counter)
        self.enter_loop()
        self.block(body)
        self.leave_loop()
        if counter is not None:
            self.counters.pop()

    def s_for_blocks(self):
        """for over a list of layer dicts (`for blk in blocks: h = np.tanh(h @ blk["w"] + blk["b"])`), by item, by
        index, with enumerate, or zipped with the list of matrices."""
        acc = self.fresh("h")
        shape = self.pick([H, V])
        self.emit(f"{acc} = {strip(self.expr(shape, 1))}")
        self.bind(acc, shape)
        blk = self.fresh("blk")
        form = self.pick(["plain", "index", "enumerate"] + (["zip"] if "layers" in self.names else []))
        counter = other = None
        if form == "plain":
            self.emit(f"for {blk} in blocks:")
        elif form == "index":
            counter = self.fresh("j")
            self.emit(f"for {counter} in range(len(blocks)):")
        elif form == "enumerate":
            counter = self.fresh("j")
            self.emit(f"for {counter}, {blk} in enumerate(blocks):")
        else:
            other = self.fresh("m")
            self.emit(f"for {blk}, {other} in zip(blocks, layers):")

        def body():
            if form == "index":
                self.emit(f"{blk} = blocks[{counter}]")
            self.bind(f'{blk}["w"]', M)
            self.bind(f'{blk}["b"]', V)
            self.locals -= {f'{blk}["w"]', f'{blk}["b"]'}
            if other:
                self.bind(other, M)
            self.statements(self.rng.randint(0, 1))
            extra = f" @ {other}" if other else ""
            self.emit(f'{acc} = np.tanh({acc} @ {blk}["w"]{extra} + {blk}["b"] * {self.leaf(S)})')

        self.loop_body(body, counter)

    def loop_body(self, body, counter=None):
        """body() written as a loop's body, counter (the loop's index name, or None) readable inside it."""
        if counter:
            self.counters.append(counter)
        self.enter_loop()
        self.block(body)
        self.leave_loop()
        if counter:
            self.counters.pop()

    def s_for_layers2(self):
        """for over layers2, a list of layer objects of differing classes (Affine, Squash, Affine), by item or
        with enumerate: `for layer in layers2: h = layer(h)` (README: written out item by item)."""
        acc = self.fresh("h")
        shape = self.pick([H, V])
        self.emit(f"{acc} = {strip(self.expr(shape, 1))}")
        self.bind(acc, shape)
        layer, counter = self.fresh("layer"), None
        if self.chance(0.5):
            self.emit(f"for {layer} in layers2:")
        else:
            counter = self.fresh("j")
            self.emit(f"for {counter}, {layer} in enumerate(layers2):")

        def body():
            self.statements(self.rng.randint(0, 1))
            if counter:
                value = self.pick([f"np.tanh({layer}({acc}) * ({counter} + 1) * 0.5)",
                                   f"{layer}({acc}) if {counter} != 1 else {layer}({acc} * {self.leaf(S)})",
                                   f"np.tanh({layer}({acc})) + {self.leaf(S)} * {counter}"])
            else:
                value = self.pick([f"{layer}({acc})", f"np.tanh({layer}({acc}))", f"{layer}({acc}) * {self.leaf(S)}",
                                   f"0.5 * {acc} + 0.5 * {layer}({acc})"])
            self.emit(f"{acc} = {value}")
            self.statements(self.rng.randint(0, 1))

        saved = self.no_jumps
        self.no_jumps = True
        self.loop_body(body, counter)
        self.no_jumps = saved

    def s_act(self):
        """`if act is not None: h = act(h)`: f's optional function, decided when compiling (README: function
        arguments), sometimes with an else."""
        names = self.rebindable()
        if not names:
            return self.s_assign()
        name = self.pick(names)
        self.emit(f"if {self.pick(['act is not None', 'act is not None', 'act'])}:")
        self.indent += 1
        self.emit(f"{name} = act({name})")
        self.indent -= 1
        if self.chance(0.3):
            self.emit("else:")
            self.indent += 1
            self.emit(f"{name} = {self.pick([f'np.sin({name})', f'0.5 * {name}'])}")
            self.indent -= 1

    def s_truth_test(self):
        """`if s:` on a number, the Python-float parameter c or a reduction the function made, which is used
        afterwards too: a test of a number's truth, decided when the gradient runs, as a comparison is."""
        if "c" in self.names and self.chance(0.4):
            number = "c"
        else:
            number = self.fresh("s")
            self.emit(f"{number} = {strip(self.scalar_value(1))}")
            self.bind(number, S)
        self.emit(f"if {'not ' if self.chance(0.25) else ''}{number}:")
        names = self.rebindable()

        def body():
            if names and self.chance(0.7):
                name = self.pick(names)
                self.emit(f"{name} = {name} * np.tanh({number})")
            else:
                self.statements(1)

        self.block(body)
        if self.chance(0.4):
            self.emit("else:")
            self.block(lambda: self.statements(1))
        name = self.fresh("t")
        shape = self.target_shape()
        self.emit(f"{name} = {strip(self.expr(shape, 1))} * {self.pick([f'np.tanh({number})', f'np.sin({number})'])}")
        self.bind(name, shape)

    def s_unpack_pair(self):
        """`a, b = pair` of a length-2 vector the function made, then a write into it (`pair[0] = a * b`): the
        items are numbers, so the write leaves a and b as they were (README: reading elements before writing)."""
        # LIMITATION: hvp refuses `a, b = pair` ("unpacking this value with a gradient is not supported:
        # sourcegrad cannot tell whether it is an array or a list") wherever pair's tangent carries a gradient in
        # the hvp program: its rank is unknown there when it comes from a reshape (`xp.reshape(t, xp.shape(r))`)
        # or np.zeros (`xp.zero_tangent(pair)`). That is where pair is made nonlinearly (`np.tanh(h.reshape(2,
        # 2).sum(axis=0))`, `pair[1] = np.sin(x[2, 2])`), made of an array parameter a later line rebinds, or
        # made inside a branch or a loop or after an early return (there one name holds pair before and after
        # the write `pair[0] = a * b`). The gradient and jvp take all of these. So pair is made here, at the top
        # of f before any early return, by a reshape, or np.zeros(2) and writes, of a structure's array (never
        # rebound), linear in it. Made by a slice (`h[0, :2] * 1.0`), np.array([p, q]) or np.stack, the
        # vector's rank is unknown in every mode: `a, b = pair` is refused ("sourcegrad cannot tell whether it
        # is an array or a list"), and so is `a = pair[0]` before a write into it ("would change an array in
        # place after an element of it was read, which is a view of the array ...").
        source = self.pick(self.pair_sources())
        rows = self.vars[source][0]
        pair, a, b = self.fresh("pair"), self.fresh("a"), self.fresh("b")
        form = self.pick(["reshape", "reshape", "zeros"])
        if form == "zeros" and self.vars[source] == V:
            self.emit(f"{pair} = np.zeros(2)")
            self.emit(f"{pair}[0] = {source}[{self.rng.randrange(4)}]")
            self.emit(f"{pair}[1] = {source}[{self.rng.randrange(4)}] * {self.pick(['0.5', '-1.5', 'SCALE'])}")
        elif form == "zeros":
            self.emit(f"{pair} = np.zeros(2)")
            self.emit(f"{pair}[0] = {source}[{self.rng.randrange(rows)}, {self.rng.randrange(4)}]")
            self.emit(f"{pair}[1] = {source}[{self.rng.randrange(rows)}, {self.rng.randrange(4)}] * "
                      f"{self.pick(['0.5', '-1.5', 'SCALE'])}")
        elif self.vars[source] == V:
            self.emit(f"{pair} = {source}.reshape(2, 2){self.pick(['.sum(axis=0) * 0.5', '[0] * 1.0', '[1] * 1.0'])}")
        else:
            self.emit(f"{pair} = {source}[{self.rng.randrange(rows)}].reshape(2, 2)[{self.rng.randrange(2)}] * 1.0")
        self.emit(f"{a}, {b} = {pair}")
        self.emit(f"{pair}[{self.rng.randrange(2)}] = {self.pick([f'{a} * {b}', f'{a} - 0.5 * {b}', f'np.tanh({a} + {b})'])}")
        # a and b are read, never rebound. LIMITATION: a name bound by unpacking a value without a gradient
        # (wrt=x, pair made of model.b) that a later loop rebinds to one with a gradient is refused there
        # ("unpacking this value with a gradient is not supported"), np.split's parts too.
        self.vars[a] = S
        self.vars[b] = S
        name = self.fresh("t")
        self.emit(f"{name} = {self.pick([f'{pair}.sum()', f'{pair} @ {pair}', f'np.sin({pair}).sum() * {a}', f'{pair}[0] * {pair}[1] + {b}'])}")
        self.bind(name, S)

    def pair_sources(self):
        """The arrays of shape H, M or V that structures hold (params["w1"], model.b, model.scaled, layers[0],
        layers2[0].w): read as they were passed, never rebound."""
        return [e for e in self.readable(H) + self.readable(M) + self.readable(V)
                if e not in self.locals and ("." in e or "[" in e)]

    def combine(self, acc, shape, item, item_shape, inner=None):
        """A bounded new value for the loop-carried `acc` that uses the loop's item (so its gradient flows)."""
        e = inner or self.expr(shape, 1)
        if (shape, item_shape) in BROADCAST[shape]:   # the item broadcasts against the accumulator
            return f"np.tanh({acc} + {item} * {e})"
        if item_shape == M and shape in (H, V):
            return f"np.tanh({acc} @ {item} + {e})"
        if item_shape == S:
            return f"np.tanh({acc} + {item} * {e})"
        return f"np.tanh({acc} + {item}.mean() * {e})"

    def s_list_built_in_loop(self):
        """`outs = outs + [h]` in a loop over range(n), then np.stack or a loop summing over the list."""
        h, shape = self.accumulator()
        if shape == S:
            h, shape = self.fresh("h"), H
            self.emit(f"{h} = {strip(self.expr(H, 1))}")
            self.bind(h, H)
        outs = self.fresh("outs")
        i = self.fresh("i")
        self.emit(f"{outs} = []")
        self.emit(f"for {i} in range(n):")
        self.counters.append(i)
        self.enter_loop()

        def body():
            # no break/continue here: the list then has n items, so np.stack below never sees an empty list
            self.emit(f"{h} = {strip(self.bounded(h, shape, 2))}")
            self.emit(f"{outs} = {outs} + [{self.pick([h, f'np.sin({h})', f'{h} * {self.leaf(S)}'])}]")

        self.block(body)
        self.leave_loop()
        self.counters.pop()
        name = self.fresh("t")
        if self.chance(0.6):
            self.min_trip = 1  # np.stack of an empty list is an error in numpy itself
            reduce = self.pick(["np.stack({}).sum(axis=0)", "np.stack({}).mean(axis=0)", "np.stack({})[-1]",
                                "np.stack({}, axis=1).max(axis=1)", "{}[0]", "np.concatenate({}).sum(axis=0)"])
            if reduce.startswith("np.concatenate") and shape != H:
                reduce = "np.stack({}).sum(axis=0)"
            self.emit(f"{name} = {reduce.format(outs)}")
            self.bind(name, shape if "concatenate" not in reduce else V)
        elif self.chance(0.5):
            total = self.fresh("total")
            item = self.fresh("o")
            self.emit(f"{total} = 0.0")
            self.emit(f"for {item} in {outs}:")
            self.indent += 1
            self.emit(f"{total} = {total} + {self.pick([f'np.tanh({item}).sum()', f'({item} * {item}).mean()'])}")
            self.indent -= 1
            self.bind(total, S)
        else:
            # read back by the counter of a second loop over range(n) (the list has n items), maybe backwards
            total, j = self.fresh("total"), self.fresh("i")
            self.emit(f"{total} = 0.0")
            self.emit(f"for {j} in range(n):")
            self.indent += 1
            index = self.pick([j, f"n - 1 - {j}"])
            self.emit(f"{total} = {total} + np.sin({outs}[{index}] * ({j} + 1.0)).sum()")
            self.indent -= 1
            self.bind(total, S)

    def s_list_display(self):
        """A list display or `[h] * 3`, read by index and by np.stack / np.concatenate."""
        shape = self.pick([V, H])
        items = self.fresh("ls")
        if self.chance(0.4):
            self.emit(f"{items} = [{strip(self.expr(shape, 1))}] * 3")
        else:
            self.emit(f"{items} = [{', '.join(strip(self.expr(shape, 1)) for _ in range(3))}]")
        name = self.fresh("t")
        if shape == V:
            use, result = self.pick([(f"np.stack({items})", H), (f"{items}[1]", V), (f"np.concatenate({items})[2:6]", V),
                                     (f"np.vstack({items})", H)])
        else:
            use, result = self.pick([(f"np.stack({items}).sum(axis=0)", H), (f"{items}[-1]", H),
                                     (f"np.concatenate({items}, axis=1).sum(axis=1)", R), (f"np.hstack({items})[:, 3:7]", H)])
        self.emit(f"{name} = {use}")
        self.bind(name, result)

    def s_while(self):
        """while with a data-dependent condition: s grows by at least e**-1 per trip, so it ends in at most
        about ten trips; sometimes a counter breaks out earlier."""
        h, shape = self.accumulator()
        s, k = self.fresh("s"), self.fresh("k")
        self.emit(f"{s} = np.tanh({strip(self.expr(S, 1))})")
        use_counter = self.chance(0.5) and not self.no_jumps  # its break: see no_jumps
        if use_counter:
            self.emit(f"{k} = 0")
        self.emit(f"while {s} < {self.pick(['1.0', '2.0', '3.0'])}:")
        self.enter_loop("while")

        def body():
            self.statements(self.rng.randint(0, 1))
            self.emit(f"{h} = {strip(self.bounded(h, shape, 2))}")
            growth = f"np.tanh({h}).mean()" if shape != S else f"np.tanh({h})"
            self.emit(f"{s} = {s} + np.exp({growth})")
            if use_counter:
                self.emit(f"{k} = {k} + 1")
                self.emit(f"if {k} >= {self.rng.randint(2, 4)}:")
                self.indent += 1
                self.emit("break")
                self.indent -= 1

        self.block(body)
        self.leave_loop()
        self.bind(s, S)

    def s_loop_control(self):
        """break or continue under a condition on the counter or on data (README: `break`, `continue`)."""
        if self.counters and self.chance(0.5):
            i = self.counters[-1]
            cond = self.pick([f"{i} == 1", f"{i} >= 2", f"{i} == 0"])
        else:
            cond = self.condition(1)
        self.emit(f"if {cond}:")
        # no `continue` directly in a while: it would skip the update that ends the loop
        keyword = "break" if self.loop_kinds[-1] == "while" else self.pick(["break", "continue"])

        def body():
            self.statements(self.rng.randint(0, 1))
            self.emit(keyword)

        self.block(body)

    def s_if_counter(self):
        """if/elif/else on a loop counter."""
        if not self.counters:
            return self.s_if()
        i = self.pick(self.counters)
        self.emit(f"if {self.pick([f'{i} == 0', f'{i} < n - 1', f'{i} >= 1'])}:")
        self.block(lambda: self.statements(1))
        if self.chance(0.4):
            self.emit(f"elif {i} == 1:")
            self.block(lambda: self.statements(1))
        if self.chance(0.5):
            self.emit("else:")
            self.block(lambda: self.statements(1))

    def s_early_return(self):
        """`if cond: return ...` at top level, the function going on after it."""
        self.returned_early = True
        self.emit(f"if {self.condition()}:")
        self.indent += 1
        self.emit(f"return {self.result()}")
        self.indent -= 1

    def result(self):
        """A scalar made of a few of the live values, so that most statements reach the output."""
        recent = [n for n in self.vars if n in self.locals and n not in self.locked]
        chosen = recent[-3:] if recent else []
        if self.chance(0.5) or not chosen:
            chosen.append(self.pick(self.readable(H)))
        terms = []
        for name in chosen:
            if self.vars[name] == S:
                terms.append(name)
            else:
                terms.append(self.pick([f"{name}.sum()", f"np.sum({name})", f"np.tanh({name}).mean()",
                                        f"({name} * {name}).sum()", f"np.mean(np.sin({name}))"]))
        return " + ".join(terms + self.extra_results)

    # ---- the later idioms -----------------------------------------------------------------------------------
    # The math module and builtins on numbers, element writes in a chain and from a tuple, dicts the function
    # makes and writes, namedtuple and setting parameters, tuples held by a name, masked log-sum-exps. They are
    # drawn from a random stream of their own (self.extra), written with names of their own (`s_3`: an
    # underscore, which no other name has) and bound nowhere the main stream looks, so that a seed drawing none
    # keeps its program's text. Their values reach the output through a name they rebind (its text unchanged
    # elsewhere) or, at the top of f, a term of the result (self.extra_results).

    def fresh_extra(self, prefix):
        return f"{prefix}_{next(self.extra_ids)}"

    def new_idiom(self, kind=None):
        """One of the later idioms (or kind, a method), written with the extra stream; the main stream is left
        where it was."""
        saved_rng, saved_vars = self.rng, dict(self.vars)
        self.rng = self.extra
        self.vars.update(self.extra_leaves)   # the extra parameters' arrays: readable here only
        try:
            table = [(3, self.n_math), (2, self.n_element_writes), (2.5, self.n_dict), (1, self.n_tuple_by_name),
                     (1.5, self.n_masked_logsumexp)]
            if self.extra_params:
                table += [(2, self.n_structures)]
            (kind or self.weighted(table))()
        finally:
            self.rng, self.vars = saved_rng, saved_vars

    def feed(self, term):
        """A number (term, a Python float or 0-d expression) into the output: at the top of f a term of the
        result, else (or sometimes) a name rebound with it, bounded (a loop may repeat it)."""
        names = self.rebindable()
        if self.block_depth == 0 and (not names or self.chance(0.6)):
            self.extra_results.append(term)
            return
        if names:
            name = self.pick(names)
            self.emit(f"{name} = {self.pick([f'np.tanh({name} + 0.5 * {term})', f'{name} * np.tanh({term})'])}")

    def number(self):
        """A Python float or 0-d value computed from the arrays (no gradient lost: float(), .item())."""
        a = lambda: self.expr(self.pick(ARRAY_SHAPES), 1)   # noqa: E731
        choices = [lambda: f"float(np.sum({a()}))", lambda: f"{a()}.sum().item()", lambda: f"float({a()}.mean())",
                   lambda: f"np.tanh({a()}).mean().item()", lambda: f"float({self.expr(H, 1)}[1, 2])",
                   lambda: f"float({self.expr(S, 1)})"]
        if "c" in self.names:
            choices.append(lambda: "c")
        return self.pick(choices)()

    def n_math(self):
        """`s = float(np.sum(h))`, then the math module and builtins on such numbers (README: builtins)."""
        a, b = self.fresh_extra("s"), self.fresh_extra("s")
        self.emit(f"{a} = {self.number()}")
        self.emit(f"{b} = {self.number() if self.chance(0.7) else self.pick(['0.5', '-1.5', '2.0'])}")
        forms = [
            "math.sin({a})", "math.cos({a})", "math.tanh({a})", "math.atan({a})", "math.exp(math.tanh({a}))",
            "math.log({a} * {a} + 0.5)", "math.sqrt(abs({a}) + 0.5)", "math.atan2({a}, {b})",
            "math.hypot({a}, {b})", "math.pow(abs({a}) + 0.5, math.tanh({b}))", "pow(abs({a}) + 0.5, 1.5)",
            "pow({a}, 2)", "max({a}, {b})", "min({a}, {b})", "max({a}, 0.0)", "abs({a})", "math.fabs({a})",
            "({a} + 0.1 * round({b}))", "({a} * (1.0 + 0.1 * math.floor({b})))", "math.log1p({a} * {a})",
            "math.expm1(math.tanh({a}))", "math.sinh(math.tanh({a}))", "math.cosh(math.tanh({a}))",
            "math.asin(0.5 * math.tanh({a}))", "math.degrees({a}) * 0.01",
        ]
        m = self.fresh_extra("m")
        value = self.pick(forms).format(a=a, b=b)
        if self.chance(0.4):
            value = f"{value} {self.pick(['+', '*', '-'])} {self.pick(forms).format(a=b, b=a)}"
        self.emit(f"{m} = {value}")
        if self.chance(0.3):  # a number times an array: the array's gradient through the number's
            shape = self.pick([H, V])
            t = self.fresh_extra("t")
            self.emit(f"{t} = {self.expr(shape, 1)} * {self.pick([f'math.tanh({m})', f'math.sin({m})', m])}")
            self.feed(f"np.tanh({t}).sum()")
        else:
            self.feed(self.pick([m, f"math.tanh({m})", f"np.tanh({m})"]))

    def n_element_writes(self):
        """Writes into a 1-d array the function made: in a chain (`u[0] = u[-1] = v`), from a tuple (`u[i], u[j] =
        u[j], u[i]`, values first), inside a loop over range(n) and a branch too (README: statements)."""
        u = self.fresh_extra("u")
        # LIMITATION: made as `np.tanh(e) * 1.0`, u's rank is unknown to sourcegrad wherever e's is (e made in a
        # loop, say), and then a write after a read of its elements (`u[0], u[3] = u[3], u[0]`) is refused ("would
        # change an array in place after an element of it was read, which is a view of the array ... unless it
        # gives an integer index for every axis"): `.reshape(4)` tells the rank.
        self.emit(f"{u} = {self.squash(V, 1)}.reshape(4) * 1.0")
        index = lambda: self.rng.choice(["0", "1", "2", "3", "-1", "-2"])   # noqa: E731

        def two():
            i = index()
            j = self.pick([k for k in ("0", "1", "2", "3", "-1", "-2") if int(k) % 4 != int(i) % 4])
            return i, j

        def write(counter=None):
            form = self.pick(["chain", "chain3", "swap", "swap_update", "pair_values"])
            if counter is not None and self.chance(0.7):
                i, j = f"{counter} % 4", f"({counter} + 1) % 4"
            else:
                i, j = two()
            if form == "chain":
                self.emit(f"{u}[{i}] = {u}[{j}] = {strip(self.squash(S, 1))}")
            elif form == "chain3":
                k = self.pick([x for x in ("0", "1", "2", "3") if x not in (i, j)]) if counter is None else "-1"
                self.emit(f"{u}[{i}] = {u}[{j}] = {u}[{k}] = {self.pick([f'np.tanh({u}[{i}] + 0.5)', '0.25'])}")
            elif form == "swap":
                self.emit(f"{u}[{i}], {u}[{j}] = {u}[{j}], {u}[{i}]")
            elif form == "swap_update":
                self.emit(f"{u}[{i}], {u}[{j}] = {u}[{j}] * 0.5, np.sin({u}[{i}])")
            else:
                self.emit(f"{u}[{i}], {u}[{j}] = {strip(self.squash(S, 1))}, {u}[{i}] * {self.leaf(S)}")

        where = self.pick(["plain", "plain", "loop", "branch"] + (["counter"] if self.counters else []))
        if where == "plain":
            for _ in range(self.rng.randint(1, 2)):
                write()
        elif where == "counter":
            write(self.pick(self.counters))
        elif where == "loop":
            k = self.fresh_extra("i")
            self.emit(f"for {k} in range(n):")
            self.loop_body(lambda: write(k), k)
        else:
            self.emit(f"if {self.condition(1)}:")
            self.block(write)
            if self.chance(0.5):
                self.emit("else:")
                self.block(write)
        self.feed(self.pick([f"np.tanh({u}).sum()", f"({u} @ {self.expr(V, 1)})", f"{u}[0] * {u}[-1]"]))

    def n_dict(self):
        """A dict the function makes and writes (`d = {}`, `d["k"] = h`, `d[t] = h` in a loop), read by key,
        `.get`, `in`, `len`, `for k in d`, `.items()`, `.values()` and `sum(d.values())` (where a list is no value;
        keys known when compiling or only when it runs); a list as a value."""
        d = self.fresh_extra("d")
        shape = self.pick([H, V, R])
        self.emit(f"{d} = {{}}")
        self.emit(f'{d}["a"] = {strip(self.squash(shape, 1))}')
        if self.chance(0.3):  # README: `d[k] += v` on an entry the dict alone holds
            self.emit(f'{d}["a"] += {strip(self.expr(shape, 1))}')
        keys = ["'a'"]
        loop = self.pick(["none", "constant", "tuple", "n"])
        t = self.fresh_extra("t")
        if loop == "constant":
            self.emit(f"for {t} in range({self.rng.randint(1, 3)}):")
        elif loop == "tuple":
            self.emit(f'for {t} in ("p", "q"):')
        elif loop == "n":
            self.emit(f"for {t} in range(n):")
        if loop != "none":
            def body():
                number = f"({t} + 1) * 0.5" if loop != "tuple" else self.leaf(S)
                entry = f'{d}["a"]'
                self.emit(f"{d}[{t}] = {self.pick([f'np.tanh({entry} * {number})', strip(self.squash(shape, 1))])}")
            self.loop_body(body, t if loop in ("constant", "n") else None)
        listed = self.chance(0.25)
        if listed:   # a list as a dict value
            self.emit(f'{d}["l"] = [{strip(self.expr(shape, 1))}, {strip(self.expr(shape, 1))}]')
        elif self.chance(0.3):
            self.emit(f'{d}["b"] = {strip(self.squash(shape, 1))}')
            keys.append("'b'")
        # A dict made inside a loop or a branch (or after an early return, which puts the rest of f in a branch)
        # has keys sourcegrad cannot tell even where they are constants or a constant range's (`for t in range(2):
        # d[t] = ...`): a loop over its keys, items or values, and sum(d.values()), read each entry by key there.
        g = self.fresh_extra("g")
        reads = [f'{d}.get("a", {self.expr(shape, 1)})', f'{d}.get("z", {self.expr(shape, 1)})', f'{d}["a"]',
                 f'({d}["a"] if "b" in {d} else {self.expr(shape, 1)})']
        if loop == "n":
            reads += [f"{d}.get(1, {self.expr(shape, 1)})", f"({d}[0] if 0 in {d} else {self.expr(shape, 1)})"]
        if listed:
            reads += [f'np.stack({d}["l"]).sum(axis=0)', f'{d}["l"][1]']
        if not listed:
            reads += [f"({d}['a'] * len({d}))", f"sum({d}.values())"]
        self.emit(f"{g} = {strip(self.pick(reads))}")
        acc = self.fresh_extra("h")
        walk = self.pick(["none", "list"] if listed else
                         ["none", "keys", "items", "values"] + (["range_n"] if loop == "n" else []))
        if walk != "none":
            self.emit(f"{acc} = {g} * 0.5")
            k, v = self.fresh_extra("k"), self.fresh_extra("v")
            if walk == "range_n":
                self.emit(f"for {k} in range(n):")
                item = f"{d}[{k}]"
            elif walk == "keys":
                self.emit(f"for {k} in {d}:")
                item = f"{d}[{k}]"
            elif walk == "items":
                self.emit(f"for {k}, {v} in {d}.items():")
                item = v
            elif walk == "values":
                self.emit(f"for {v} in {d}.values():")
                item = v
            else:
                self.emit(f'for {v} in {d}["l"]:')
                item = v
            self.indent += 1
            self.emit(f"{acc} = np.tanh({acc} + {item})")
            self.indent -= 1
            g = acc
        self.feed(f"np.tanh({g}).sum()")

    def n_tuple_by_name(self):
        """A tuple built under a name and unpacked (`pair = (a, b)`; `u, v = pair`), also one a helper returns."""
        shape = self.pick([H, V])
        p, q = self.fresh_extra("p"), self.fresh_extra("q")
        form = self.pick(["name", "helper", "helper_name", "loop"])
        first, second = strip(self.expr(shape, 1)), strip(self.expr(self.pick([shape, S]), 1))
        if form == "helper" or form == "helper_name":
            self.uses_pair_helper = True
            if form == "helper":
                self.emit(f"{p}, {q} = make_pair({first}, {second})")
            else:
                pair = self.fresh_extra("pr")
                self.emit(f"{pair} = make_pair({first}, {second})")
                self.emit(f"{p}, {q} = {pair}")
        else:
            pair = self.fresh_extra("pair")
            self.emit(f"{pair} = ({first}, {second})")
            if form == "loop":
                acc = self.fresh_extra("h")
                self.emit(f"{acc} = 0.0")
                self.emit(f"for {p} in {pair}:")
                self.indent += 1
                self.emit(f"{acc} = {acc} + np.tanh({p}).sum()")
                self.indent -= 1
                return self.feed(acc)
            self.emit(f"{p}, {q} = {pair}")
        self.feed(f"(np.tanh({p}) * {q}).sum()")

    def n_masked_logsumexp(self):
        """np.logaddexp / scipy.special.logsumexp of entries masked with -inf, the -inf results excluded after
        by np.where(z > -np.inf, z, 0.0) (README: a masked entry gets a zero gradient)."""
        shape = self.pick([H, V, R])
        m, z, q = self.fresh_extra("mk"), self.fresh_extra("z"), self.fresh_extra("q")
        threshold = self.pick(["0.0", "0.3", "-0.2", "0.8"])
        self.emit(f"{m} = np.where({self.expr(shape, 1)} > {threshold}, {strip(self.expr(shape, 1))}, -np.inf)")
        forms = [f"np.logaddexp({m}, {strip(self.expr(shape, 1))})",
                 f"np.logaddexp({m}, np.where({self.expr(shape, 1)} < {threshold}, {strip(self.expr(shape, 1))}, -np.inf))",
                 f"np.logaddexp2({m}, {m} * 0.5)", f"np.logaddexp({m}, {m})"]
        if scipy_special is not None:
            self.uses_scipy = True
            axes = {H: ["axis=1", "axis=0", "axis=1, keepdims=True", "axis=None"], V: ["axis=0", "axis=None"],
                    R: ["axis=0", "axis=-1"]}[shape]
            forms += [f"scipy.special.logsumexp({m}, {self.pick(axes)})"] * 3
        self.emit(f"{z} = {self.pick(forms)}")
        self.emit(f"{q} = np.where({z} > -np.inf, {z}, 0.0)")
        self.feed(self.pick([f"{q}.sum()", f"np.tanh({q}).sum()", f"np.sum({q} * {q})"]))

    def n_structures(self):
        """The namedtuple parameter pt (fields by name, unpacked) and the object cfg with an int setting
        (`np.zeros(cfg.n)`, `h[:cfg.n]`, `range(cfg.n)`)."""
        choices = []
        if "pt" in self.extra_params and not self.pt_unpacked:
            choices += [lambda: f"np.tanh({self.expr(H, 1)} @ pt.w + pt.b).sum()",
                        lambda: f"(pt.b @ pt.w @ {self.expr(V, 1)})"]
        if "pt" in self.extra_params and self.pt_unpacked:
            w, b = [e for e in self.extra_leaves if not e.startswith("cfg.")]
            choices += [lambda: f"np.tanh({self.expr(H, 1)} @ {w} + {b}).sum()"]
        if "cfg" in self.extra_params:
            choices += [self.zeros_of_setting, lambda: f"({self.expr(H, 1)}[:cfg.n].sum(axis=0) * cfg.w).sum()",
                        lambda: f"np.tanh({self.expr(H, 1)}[:, :cfg.n] * cfg.w[cfg.n:]).sum()",
                        self.loop_of_setting]
        term = self.pick(choices)()
        self.feed(term)

    def zeros_of_setting(self):
        z = self.fresh_extra("zs")
        self.emit(f"{z} = np.zeros(cfg.n)")
        self.emit(f"{z}[0] = {strip(self.squash(S, 1))}")
        if self.chance(0.5):
            self.emit(f"{z}[-1] = {z}[0] * {self.leaf(S)}")
        return f"({z} * cfg.w[:cfg.n]).sum()"

    def loop_of_setting(self):
        acc, j = self.fresh_extra("h"), self.fresh_extra("j")
        self.emit(f"{acc} = 0.0")
        self.emit(f"for {j} in range(cfg.n):")
        self.indent += 1
        self.emit(f"{acc} = {acc} + cfg.w[{j}] * {self.expr(S, 1)}")
        self.indent -= 1
        return acc


def strip(expression):
    """`(a + b)` -> `a + b` for the right-hand side of an assignment (only when the outer parentheses match)."""
    if expression.startswith("(") and expression.endswith(")"):
        depth = 0
        for k, ch in enumerate(expression):
            depth += ch == "("
            depth -= ch == ")"
            if depth == 0 and k < len(expression) - 1:
                return expression
        return expression[1:-1]
    return expression


# ---- helpers and the whole module ----------------------------------------------------------------------------

def generate_helpers(builder, module):
    """0-3 helper functions at module level: defaults, keyword arguments, tuple results, a branch or a loop
    inside, helpers calling earlier helpers."""
    texts = []
    for k in range(builder.rng.choice([0, 1, 1, 2, 3])):
        first = builder.pick([H, V])
        second = builder.pick([M, V, H]) if first == H else builder.pick([V, M])
        parameters = [("a", first, None), ("w", second, None)]
        if builder.chance(0.7):
            parameters.append(("scale", S, "0.5"))
        if builder.chance(0.5):
            parameters.append(("shift", S, "0.0"))
        if builder.chance(0.3):  # an optional function, `if act is not None: a = act(a)` first
            parameters.append(("act", None, "None"))
        shape_kind = builder.pick(["straight", "branch", "early_return", "loop"])
        returns = (builder.pick([first, S]),) if builder.chance(0.7) else (first, builder.pick([first, S]))
        helper = Builder(builder.rng, [])
        helper.in_helper = True
        helper.module_globals = not module
        helper.helpers = list(builder.helpers)
        helper.vars = {name: shape for name, shape, _ in parameters if name != "act"}
        helper.locals = {name for name, shape, _ in parameters if shape not in (S, None)}
        helper.ids = builder.ids
        signature = ", ".join(name if default is None else f"{name}={default}" for name, _, default in parameters)
        helper.indent = 1
        if any(name == "act" for name, _, _ in parameters):
            helper.emit("if act is not None:")
            helper.emit("    a = act(a)")
        if shape_kind == "straight":
            helper.statements(builder.rng.randint(1, 2))
        elif shape_kind == "branch":
            helper.s_if_define()
        elif shape_kind == "loop":
            i = helper.fresh("i")
            helper.emit(f"for {i} in range(2):")
            helper.counters.append(i)
            helper.enter_loop()
            helper.block(lambda: helper.emit(f"a = {strip(helper.bounded('a', first, 2))}"))
            helper.leave_loop()
            helper.counters.pop()
        else:
            helper.emit(f"if {helper.condition(1)}:")
            helper.indent += 1
            helper.emit(f"return {helper_return(helper, returns)}")
            helper.indent -= 1
        helper.emit(f"return {helper_return(helper, returns)}")
        name = f"helper_{k}"
        texts.append(f"def {name}({signature}):\n" + "\n".join(helper.lines) + "\n")
        builder.helpers.append(Helper(name, module, parameters, returns))
    return texts


def helper_return(helper, returns):
    parts = []
    for shape in returns:
        e = helper.expr(shape, 2)
        if "scale" in helper.vars and helper.chance(0.5):
            e = f"{e} * scale"
        if "shift" in helper.vars and helper.chance(0.5):
            e = f"{e} + shift"
        parts.append(strip(e))
    return ", ".join(parts)


# The chance that a statement of f is preceded by one of the later idioms (Builder.new_idiom), and that f takes
# each of EXTRA_PARAMETERS.
NEW_IDIOM_RATE = 0.1
EXTRA_PARAMETER_RATE = 0.12


def generate(seed, attempt=0) -> Program:
    """The program for (seed, attempt), deterministic. The later idioms are drawn from a second stream, extra:
    where it draws none, the program is the one the generator wrote before they came."""
    rng = random.Random(f"sourcegrad-random-programs:{seed}:{attempt}")
    extra = random.Random(f"sourcegrad-random-programs-later-idioms:{seed}:{attempt}")
    others = [name for name in PARAMETERS if name != "x"]
    names = ["x"] + rng.sample(others, rng.randint(1, 4))
    names = [name for name in PARAMETERS if name in names]  # a fixed order reads better
    builder = Builder(rng, names)
    builder.extra = extra
    builder.extra_params = [name for name in EXTRA_PARAMETERS if extra.random() < EXTRA_PARAMETER_RATE]
    for name in builder.extra_params:
        builder.extra_leaves.update(leaf_expressions(name))
    # LIMITATION: a namedtuple unpacked (`w, b = pt`) and also read by field (`pt.b`) is refused with wrt=pt ("`pt`
    # is unpacked and also used whole; its gradient cannot be both a list and an array"): one way per program.
    if "pt" in builder.extra_params and extra.random() < 0.4:
        builder.pt_unpacked = True
        w, b = builder.fresh_extra("w"), builder.fresh_extra("b")
        builder.emit(f"{w}, {b} = pt")
        del builder.extra_leaves["pt.w"], builder.extra_leaves["pt.b"]
        builder.extra_leaves.update({w: M, b: V})
    # f's optional function `act=None`: passed a numpy function, or None, and the other way in a further call
    acts = ()
    if rng.random() < 0.25:
        builder.uses_act = True
        first = rng.choice([None, *ACTIVATIONS])
        acts = (first, None if first else rng.choice(ACTIVATIONS))
    # README: calls of helpers "from other modules" are differentiated too
    helper_module = f"rp_helpers_s{seed}_a{attempt}" if rng.random() < 0.25 else ""
    helper_texts = generate_helpers(builder, "hm" if helper_module else "")
    if rng.random() < 0.3:  # a parameter with a default, never passed: read like any number
        builder.vars["alpha"] = S
        builder.uses_alpha = True
    if builder.extra_params:  # each read at least once, at the top of f
        builder.new_idiom(builder.n_structures)
    builder.statements(rng.randint(3, 7))
    if rng.random() < 0.2:
        builder.emit(f"if {builder.condition()}:")
        builder.indent += 1
        builder.emit(f"return {builder.result()}")
        builder.indent -= 1
        builder.emit("else:")
        builder.indent += 1
        builder.emit(f"return {builder.result()}")
        builder.indent -= 1
    else:
        builder.emit(f"return {builder.result()}")
    differentiable = [name for name in names]
    wrt = tuple(name for name in differentiable if rng.random() < 0.6) or (rng.choice(differentiable),)
    wrt += tuple(name for name in builder.extra_params if extra.random() < 0.6)
    names = names + builder.extra_params
    parameters = names + ["n"] + (["act"] if acts else [])
    signature = ", ".join(name if name != "act" else "act=None" for name in parameters) + \
        (", alpha=0.5" if builder.uses_alpha else "")
    text = "\n".join(builder.lines)
    imports = [*(["import collections"] if "pt" in names else []), *(["import math"] if "math." in text else []),
               "import numpy as np", *(["import scipy.special"] if builder.uses_scipy else [])]
    header = [*imports, *([f"import {helper_module} as hm"] if helper_module else []), "",
              "SCALE = 0.7", f"SPREAD = {SPREAD}", *([PAIR_CLASS] if "pt" in names else []), "", MODEL_CLASS.strip(),
              "", "", LAYER_CLASSES.strip(), "", *(["", CONFIG_CLASS.strip(), ""] if "cfg" in names else [])]
    modules = {}
    if helper_module:  # the helpers in a module of their own, imported as hm
        modules[helper_module] = "import numpy as np\n\n\n" + "\n\n".join(helper_texts)
        helper_texts = []
    if builder.uses_pair_helper:
        helper_texts = helper_texts + [PAIR_HELPER.strip() + "\n"]
    body = [f"def f({signature}):"] + builder.lines
    source = "\n".join(header) + "\n\n" + "\n\n".join(helper_texts) + ("\n\n" if helper_texts else "") + \
        "\n".join(body) + "\n"
    n = rng.choice([1, 2, 3])
    second = [k for k in range(builder.min_trip, 4) if k != n]
    return Program(seed, attempt, source, parameters, wrt, n, rng.choice(second), modules, acts)


# ---- checking -------------------------------------------------------------------------------------------------

@dataclass
class Result:
    seed: int
    status: str                   # correct, wrong_gradient, wrong_value, crash, refusal, changed_input,
    #                               wrong_dtype, generator_error, skipped (no stable program found)
    message: str = ""
    source: str = ""
    details: list = field(default_factory=list)   # notes that are not failures (unstable points, skipped checks)
    wrt: tuple = ()
    attempt: int = 0

    @property
    def ok(self):
        return self.status in ("correct", "skipped")

    def report(self):
        return (f"seed {self.seed} (attempt {self.attempt}): {self.status}\nwrt={self.wrt}\n{self.message}\n"
                f"---- program ----\n{self.source}")


class Unstable(Exception):
    """A finite difference that cannot be trusted here (a kink or decision near the point)."""


class Failure(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


_module_ids = itertools.count()


def program_text(program):
    """The program as a report shows it: the other modules first, each under its file name."""
    parts = [f"# ---- {name}.py ----\n{text}\n# ---- the program's module ----\n" for name, text in program.modules.items()]
    return "".join(parts) + program.source


def load(program, folder):
    """Write the program to its own file under folder and import it under a name no other program has."""
    if folder not in sys.path:
        sys.path.insert(0, folder)   # for the program's `import rp_helpers_... as hm`
    for other, text in program.modules.items():
        with open(os.path.join(folder, other + ".py"), "w") as handle:
            handle.write(text)
        sys.modules.pop(other, None)   # a module of that name from an earlier folder is not this one
    importlib.invalidate_caches()
    name = f"rp_seed{program.seed}_a{program.attempt}_{os.getpid()}_{next(_module_ids)}"
    path = os.path.join(folder, name + ".py")
    with open(path, "w") as handle:
        handle.write(program.source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def leaves(value, path=()):
    """(path, array) for every array in an argument; a Python float is its own leaf at path ()."""
    if isinstance(value, np.ndarray):
        yield path, value
    elif isinstance(value, float):
        yield path, value
    elif isinstance(value, dict):
        for key in value:
            yield from leaves(value[key], path + (key,))
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from leaves(item, path + (i,))
    elif hasattr(value, "__dict__") and not isinstance(value, np.ufunc):  # an object; not f's act
        for key, item in vars(value).items():
            yield from leaves(item, path + (key,))


def at(gradient, path):
    """The gradient's leaf at path: dicts and objects (whose gradient is a dict) by key, lists by index."""
    for key in path:
        gradient = gradient[key]
    return gradient


def same_arguments(a, b):
    la, lb = list(leaves(a)), list(leaves(b))
    if [p for p, _ in la] != [p for p, _ in lb]:
        return False
    for (_, x), (_, y) in zip(la, lb):
        if isinstance(x, float) or isinstance(y, float):
            if x != y:
                return False
        elif x.dtype != y.dtype or x.shape != y.shape or not np.array_equal(x, y):
            return False
    return True


def scalar(fn, args):
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        return float(np.sum(fn(*args)))


class Differences:
    """Central finite differences of the original function with respect to one element of one argument."""

    def __init__(self, fn, args):
        self.fn = fn
        self.args = copy.deepcopy(args)

    def element(self, position, path, index, eps, centred=False):
        """The central difference; with centred=True, first check that the point itself lies on the branch
        its two neighbours lie on: a decision sitting on its threshold by construction (a variance of equal
        rows compared with 0) can go one way at the point, up to rounding, and the other way at both
        neighbours, and then both steps agree on the derivative of a branch the point does not take."""
        target = self.args[position]
        if isinstance(target, float):
            def evaluate(delta):
                work = list(self.args)
                work[position] = target + delta
                return scalar(self.fn, work)
        else:
            leaf = at_argument(target, path)

            def evaluate(delta):
                original = leaf.flat[index]
                leaf.flat[index] = original + delta
                try:
                    return scalar(self.fn, self.args)
                finally:
                    leaf.flat[index] = original
        try:
            plus, minus = evaluate(eps), evaluate(-eps)
            if centred:
                here = evaluate(0.0)
                if abs((plus + minus) / 2 - here) > 1e-6 * max(1.0, abs(here)):
                    raise Unstable(f"the point lies on another branch than its neighbours at eps={eps}: "
                                   f"f={here!r}, f(+eps)={plus!r}, f(-eps)={minus!r}")
            return (plus - minus) / (2 * eps)
        except (FloatingPointError, ZeroDivisionError, OverflowError):
            raise Unstable("the function overflows or leaves its domain within a finite-difference step")


def at_argument(value, path):
    for key in path:
        value = getattr(value, key) if not isinstance(value, (dict, list, tuple)) else value[key]
    return value


def error(analytic, numeric):
    return abs(analytic - numeric) / max(1.0, abs(numeric))


def compare_gradients(fn, args, program, gradients, label):
    """Every element of every wrt argument's gradient against finite differences (see the module docstring
    for the two steps). Raises Failure for a wrong gradient, Unstable for a point near a kink."""
    differences = Differences(fn, args)
    if len(program.wrt) == 1:
        gradients = (gradients,)
    biggest = 0.0
    for name, gradient in zip(program.wrt, gradients):
        position = program.parameters.index(name)
        problem = structure_problem(gradient, args[position])
        if problem:
            raise Failure("wrong_gradient", f"{label}: the gradient of {name} {problem}")
        for path, leaf in leaves(args[position]):
            got = np.asarray(at(gradient, path) if path else gradient, dtype=np.float64)
            shape = np.shape(leaf)
            if got.shape != shape:
                raise Failure("wrong_gradient", f"{label}: the gradient of {name}{format_path(path)} has shape "
                                                f"{got.shape}, the argument {shape}")
            for index in range(int(np.prod(shape, dtype=int))):
                analytic = float(got.flat[index])
                fine = differences.element(position, path, index, 1e-6)
                biggest = max(biggest, abs(fine))
                if error(analytic, fine) <= GRAD_TOLERANCE:
                    continue
                coarse = differences.element(position, path, index, 1e-4, centred=True)
                if error(coarse, fine) > AGREE_TOLERANCE:
                    raise Unstable(f"{label}: finite differences disagree at {name}{format_path(path)}"
                                   f"[{index}]: {fine:.6g} (eps 1e-6) and {coarse:.6g} (eps 1e-4)")
                raise Failure("wrong_gradient",
                              f"{label}: d/d {name}{format_path(path)} flat[{index}]: sourcegrad {analytic:.10g}, "
                              f"finite differences {fine:.10g} (eps 1e-6) and {coarse:.10g} (eps 1e-4)\n"
                              f"sourcegrad's gradient of {name}{format_path(path)}:\n{got}\n")
    if biggest > MAX_MAGNITUDE:
        raise TooLarge(f"a gradient of {biggest:.3g}")


class TooLarge(Exception):
    """Values too large to check well: generate another program."""


def structure_problem(gradient, argument, path=""):
    """What is wrong with the gradient's structure (README: the gradient has the argument's structure; an
    object's is a dict keyed by attribute name), or None."""
    if isinstance(argument, (np.ndarray, float)):
        if not isinstance(gradient, (np.ndarray, np.floating, float)):
            return f"{path} is a {type(gradient).__name__}, not an array"
        return None
    if isinstance(argument, dict) or hasattr(argument, "__dict__") and not isinstance(argument, (list, tuple)):
        items = argument if isinstance(argument, dict) else settings_left_out(vars(argument))
        if not isinstance(gradient, dict) or list(gradient) != list(items):
            return (f"{path} is a {type(gradient).__name__}"
                    f"{' with keys ' + str(list(gradient)) if isinstance(gradient, dict) else ''}, not a dict with "
                    f"keys {list(items)}")
        for key in items:
            problem = structure_problem(gradient[key], items[key], f"{path}[{key!r}]")
            if problem:
                return problem
        return None
    if not isinstance(gradient, type(argument)) or len(gradient) != len(argument):
        return (f"{path} is a {type(gradient).__name__}{' of shape ' + str(gradient.shape) if hasattr(gradient, 'shape') else ''}"
                f", not a {type(argument).__name__} of {len(argument)}")
    for i, (g, a) in enumerate(zip(gradient, argument)):
        problem = structure_problem(g, a, f"{path}[{i}]")
        if problem:
            return problem
    return None


def settings_left_out(attributes):
    """An object's attributes without its int and bool settings, which carry no gradient (README: parameters)."""
    return {key: item for key, item in attributes.items() if not isinstance(item, (int, bool))}


def format_path(path):
    return "".join(f"[{key!r}]" for key in path)


def check_value(value, expected, label, rtol=VALUE_RTOL):
    value_array, expected_array = np.asarray(value), np.asarray(expected)
    if value_array.shape != expected_array.shape:
        raise Failure("wrong_value", f"{label}: value of shape {value_array.shape}, the function's {expected_array.shape}")
    if not np.allclose(value_array, expected_array, rtol=rtol, atol=rtol):
        raise Failure("wrong_value", f"{label}: value_and_grad's value {value!r}, the function's {expected!r}")


def call_sourcegrad(differentiable, args, label, keywords=()):
    """value_and_grad(*args); refusals and crashes become Failures, changed inputs too. keywords: names of the
    last parameters, passed by keyword instead."""
    pristine = copy.deepcopy(args)
    positional = args[:len(args) - len(keywords)]
    by_keyword = dict(zip(keywords, args[len(positional):]))
    try:
        with np.errstate(all="ignore"):
            value, gradients = differentiable.value_and_grad(*positional, **by_keyword)
    except SourcegradError as exc:
        raise Failure("refusal", f"{label}: SourcegradError: {exc}") from None
    except Exception as exc:  # noqa: BLE001 (anything else is a crash, reported with its traceback)
        raise Failure("crash", f"{label}: {type(exc).__name__}: {exc}\n{traceback.format_exc()}") from None
    if not same_arguments(args, pristine):
        raise Failure("changed_input", f"{label}: value_and_grad changed an argument")
    return value, gradients


def check_float32(differentiable, module, program, args, gradients64):
    """float32 arguments: float32 gradients, close to the float64 ones, and the value the function gives.

    The reference is the float64 gradient at the float32 arguments (cast back to float64), so that rounding
    the inputs is not counted as an error; the tolerance is FLOAT32_TOLERANCE plus ten times how far that
    rounding alone moved the float64 gradient (an ill-conditioned program amplifies float32 arithmetic's
    errors as much as it amplifies the rounding of its inputs).
    """
    args32 = [to_float32(a, module) for a in args]
    value32, gradients32 = call_sourcegrad(differentiable, args32, "float32")
    with np.errstate(all="ignore"):
        expected32 = module.f(*args32)
    check_value(value32, expected32, "float32", rtol=1e-5)
    rounded = [to_float64(a, module) for a in args32]
    with np.errstate(all="ignore"):
        expected64 = float(np.sum(module.f(*rounded)))
        _, rounded64 = differentiable.value_and_grad(*rounded)
    # A decision that sits on its threshold by construction (the std of identical rows compared with 0, say)
    # may go the other way in float32; the finite differences cannot see it, since no step moves it. Where
    # the function's own float32 value shows another path, only the dtypes are compared.
    same_path = abs(float(np.sum(expected32)) - expected64) <= 1e-3 * max(1.0, abs(expected64))
    if len(program.wrt) == 1:
        gradients32, gradients64, rounded64 = (gradients32,), (gradients64,), (rounded64,)
    for name, g32, g64, r64 in zip(program.wrt, gradients32, gradients64, rounded64):
        position = program.parameters.index(name)
        for path, leaf in leaves(args32[position]):
            got = at(g32, path) if path else g32
            if isinstance(leaf, np.ndarray) and getattr(got, "dtype", None) != np.float32:
                raise Failure("wrong_dtype", f"float32: the gradient of {name}{format_path(path)} is "
                                             f"{getattr(got, 'dtype', type(got).__name__)}, its argument float32")
            if not same_path:
                continue
            reference = np.asarray(at(r64, path) if path else r64, dtype=np.float64)
            original = np.asarray(at(g64, path) if path else g64, dtype=np.float64)
            allowed = FLOAT32_TOLERANCE * np.maximum(1.0, np.abs(reference)) + 10 * np.abs(reference - original)
            difference = np.abs(np.asarray(got, dtype=np.float64) - reference)
            if difference.size and not np.all(difference <= allowed):
                raise Failure("wrong_gradient", f"float32: the gradient of {name}{format_path(path)} differs from the "
                                                f"float64 one (at the same rounded arguments) by up to "
                                                f"{np.nanmax(difference / allowed) * FLOAT32_TOLERANCE:.3g} "
                                                f"(relative):\n{got}\nfloat64:\n{reference}")


def check_program(seed, folder=None) -> Result:
    """Generate the program for `seed` and check sourcegrad on it (see the module's docstring)."""
    own_folder = folder is None
    folder = folder or tempfile.mkdtemp(prefix="sourcegrad_random_")
    try:
        return _check(seed, folder)
    finally:
        if own_folder:
            shutil.rmtree(folder, ignore_errors=True)


def _check(seed, folder):
    notes = []
    generated = os.path.join(folder, "generated")
    for attempt in range(PROGRAM_TRIES):
        program = generate(seed, attempt)
        result = Result(seed, "correct", source=program_text(program), wrt=program.wrt, attempt=attempt, details=notes)
        try:
            module = load(program, folder)
        except Exception as exc:  # noqa: BLE001 (the generator wrote a module that does not import: its bug)
            result.status, result.message = "generator_error", f"the module does not import: {exc!r}"
            return result
        try:
            outcome = _check_loaded(program, module, generated, notes)
        except Failure as failure:
            result.status, result.message = failure.status, failure.message
            return result
        finally:
            for name in [module.__name__, *program.modules]:
                sys.modules.pop(name, None)
        if outcome == "ok":
            return result
        notes.append(f"attempt {attempt}: {outcome}")
    return Result(seed, "skipped", "no stable, tame program in %d attempts" % PROGRAM_TRIES,
                  source=program.source, details=notes, wrt=program.wrt, attempt=PROGRAM_TRIES - 1)


def _check_loaded(program, module, generated, notes):
    """'ok', or why another program should be generated (a Failure is raised for a failure)."""
    differentiable = None
    for tries in range(INPUT_TRIES):
        rng = np.random.default_rng([program.seed, program.attempt, tries])
        args = program_arguments(program, rng, module)
        try:
            expected = scalar(module.f, args)
        except (FloatingPointError, ZeroDivisionError, OverflowError):
            return "the function overflows or leaves its domain"
        except Exception as exc:  # noqa: BLE001 (the generator made an ill-typed program: its bug, reported)
            raise Failure("generator_error", f"the original function raised {type(exc).__name__}: {exc}\n"
                                             f"{traceback.format_exc()}") from None
        if not math.isfinite(expected) or abs(expected) > MAX_MAGNITUDE:
            return f"value {expected:.3g} too large"
        if differentiable is None:
            try:
                differentiable = sourcegrad.differentiate(
                    module.f, wrt=program.wrt if len(program.wrt) > 1 else program.wrt[0], generated_dir=generated)
            except SourcegradError as exc:
                raise Failure("refusal", f"differentiate: SourcegradError: {exc}") from None
        value, gradients = call_sourcegrad(differentiable, args, f"n={program.n}")
        check_value(value, module.f(*args), f"n={program.n}")
        try:
            compare_gradients(module.f, args, program, gradients, f"n={program.n}")
        except Unstable as exc:
            notes.append(f"inputs {tries} unstable: {exc}")
            continue
        except TooLarge as exc:
            return str(exc)
        if compare_with_autograd(program, os.path.dirname(generated), args, gradients, f"n={program.n}"):
            notes.append("compared with autograd")
        check_float32(differentiable, module, program, args, gradients)
        _check_second_trip_count(differentiable, module, program, args, notes)
        if program.acts:
            _check_other_activation(differentiable, module, program, args, notes)
        return "ok"
    return "no stable inputs"


def program_arguments(program, rng, module):
    """The arguments of the program's first call, drawn from rng: one per parameter, n, and f's `act` where it
    has one (the first of program.acts)."""
    args = [make_argument(name, rng, module) for name in program.parameters if name not in ("n", "act")]
    return args + [program.n] + ([activation(program.acts[0])] if program.acts else [])


def with_trip_count(program, args, n):
    """args with the trip count n instead."""
    args = list(args)
    args[program.parameters.index("n")] = n
    return args


def _check_second_trip_count(differentiable, module, program, args, notes):
    """A second trip count: the same compiled code must serve it, with a correct gradient."""
    files, path = len(compiled_files()), differentiable.generated_path
    args2 = with_trip_count(program, args, program.n2)
    try:
        expected2 = scalar(module.f, args2)
    except (FloatingPointError, ZeroDivisionError, OverflowError):
        notes.append(f"n={program.n2} not checked: the function overflows")
        return
    value2, gradients2 = call_sourcegrad(differentiable, args2, f"n={program.n2}")
    check_value(value2, module.f(*args2), f"n={program.n2}")
    if len(compiled_files()) != files or differentiable.generated_path != path:
        raise Failure("crash", f"n={program.n2}: a second trip count compiled the gradient again")
    # the last one or two arguments by keyword (the call path's other road): the same value and gradients
    keywords = program.parameters[-1 - program.seed % 2:]
    value3, gradients3 = call_sourcegrad(differentiable, args2, f"n={program.n2} by keyword", keywords)
    if not same_arguments([value3, gradients3], [value2, gradients2]):
        raise Failure("wrong_gradient", f"n={program.n2}: passing {', '.join(keywords)} by keyword changed the "
                                        f"value or the gradients: {value3!r} and {gradients3!r}, by position "
                                        f"{value2!r} and {gradients2!r}")
    if abs(expected2) <= MAX_MAGNITUDE:
        try:
            compare_gradients(module.f, args2, program, gradients2, f"n={program.n2}")
        except (Unstable, TooLarge) as exc:
            notes.append(f"n={program.n2} not checked: {exc}")


def _check_other_activation(differentiable, module, program, args, notes):
    """f's `act` the other way: a numpy function where the first call passed None, or None where it passed one
    (then left out, so that f's default gives it). README: `if act is not None:` is decided when compiling, per
    call's kind, so this call has a gradient of its own, checked as the first call's was."""
    other = program.acts[1]
    args3 = list(args[:-1]) + ([activation(other)] if other else [])
    label = f"n={program.n}, act={other}"
    try:
        expected3 = scalar(module.f, args3)
    except (FloatingPointError, ZeroDivisionError, OverflowError):
        notes.append(f"{label} not checked: the function overflows")
        return
    value3, gradients3 = call_sourcegrad(differentiable, args3, label)
    check_value(value3, module.f(*args3), label)
    if abs(expected3) <= MAX_MAGNITUDE:
        try:
            compare_gradients(module.f, args3, program, gradients3, label)
        except (Unstable, TooLarge) as exc:
            notes.append(f"{label} not checked: {exc}")


# ---- autograd as a second reference -----------------------------------------------------------------------

try:  # optional (the `reference` extra): never needed by sourcegrad itself
    import autograd
    import autograd.numpy
except ImportError:
    autograd = None

# ---- forward mode and Hessian-vector products ------------------------------------------------------------------

# Refusals README documents for forward mode, and so for hvp: such a program is skipped there.
FORWARD_LIMITATIONS = ("no forward-mode rule for the `*` operator",
                       "a checkpointed loop must be a statement of the function itself")
JVP_TOLERANCE = 1e-8      # jvp against the gradient's inner product with the tangents: two exact derivatives
HVP_TOLERANCE = 1e-4      # hvp against central differences of the gradient, same measure as GRAD_TOLERANCE


def check_forward_modes(seed, folder=None) -> Result:
    """jvp and hvp on the seed's first program at its first inputs (those check_program tries first):
    - jvp's value against the function's, and its derivative along random tangents against the inner product
      of the tangents with the gradient (the two modes must agree wherever both are defined) and against a
      central difference of the function along the tangents, trusted as compare_gradients trusts one;
    - hvp against central differences of the gradient along the vectors, with steps 1e-5 and 1e-3 that must
      agree with each other before a disagreement with hvp counts (a kink or decision within the larger step
      makes the point unstable, and the program is skipped);
    - neither changes an argument.
    An object's tangent is a dict of its attributes'. A program with a refusal in FORWARD_LIMITATIONS is
    skipped."""
    own_folder = folder is None
    folder = folder or tempfile.mkdtemp(prefix="sourcegrad_random_")
    program = generate(seed, 0)
    result = Result(seed, "correct", source=program_text(program), wrt=program.wrt)
    try:
        module = load(program, folder)
        try:
            _check_forward_loaded(program, module, os.path.join(folder, "generated"))
        finally:
            for name in [module.__name__, *program.modules]:
                sys.modules.pop(name, None)
    except Failure as failure:
        result.status, result.message = failure.status, failure.message
    except Unstable as why:
        result.status, result.message = "skipped", str(why)
    finally:
        if own_folder:
            shutil.rmtree(folder, ignore_errors=True)
    return result


def _check_forward_loaded(program, module, generated):
    rng = np.random.default_rng([program.seed, 0, 0])
    args = program_arguments(program, rng, module)
    try:
        expected = scalar(module.f, args)
    except (FloatingPointError, ZeroDivisionError, OverflowError):
        raise Unstable("the function overflows or leaves its domain") from None
    if not math.isfinite(expected) or abs(expected) > MAX_MAGNITUDE:
        raise Unstable(f"value {expected:.3g} too large")
    positions = [program.parameters.index(name) for name in program.wrt]
    single = len(program.wrt) == 1
    differentiable = sourcegrad.differentiate(module.f, wrt=program.wrt[0] if single else program.wrt,
                                              generated_dir=generated)
    value, gradients = call_sourcegrad(differentiable, args, "value_and_grad")
    gradients = (gradients,) if single else gradients
    tangents = [_random_like(args[p], rng) for p in positions]
    packed = tangents[0] if single else tuple(tangents)

    def call(method):
        pristine = copy.deepcopy(args)
        try:
            with np.errstate(all="ignore"):
                out = getattr(differentiable, method)(tuple(args), packed)
        except SourcegradError as exc:
            if any(limitation in str(exc) for limitation in FORWARD_LIMITATIONS):
                raise Unstable(f"{method}: a documented forward-mode limitation: {first_line(str(exc))}") from None
            raise Failure("refusal", f"{method}: SourcegradError: {exc}") from None
        except Exception as exc:  # noqa: BLE001 (anything else is a crash, reported with its traceback)
            raise Failure("crash", f"{method}: {type(exc).__name__}: {exc}\n{traceback.format_exc()}") from None
        if not same_arguments(args, pristine):
            raise Failure("changed_input", f"{method} changed an argument")
        return out

    jvp_value, derivative = call("jvp")
    check_value(jvp_value, expected, "jvp")
    inner = sum(float(np.sum(at(gradients[k], path) * at(tangents[k], path)))
                for k, p in enumerate(positions) for path, _ in leaves(args[p]))
    if error(float(np.sum(derivative)), inner) > JVP_TOLERANCE:
        along = [_moved(args, positions, tangents, eps) for eps in (1e-6, -1e-6, 1e-4, -1e-4)]
        try:
            fine, coarse = ((scalar(module.f, along[i]) - scalar(module.f, along[i + 1])) / (2 * eps)
                            for i, eps in ((0, 1e-6), (2, 1e-4)))
        except (FloatingPointError, ZeroDivisionError, OverflowError):
            raise Unstable("the function leaves its domain along the tangents") from None
        if error(fine, coarse) <= AGREE_TOLERANCE and error(float(np.sum(derivative)), fine) > GRAD_TOLERANCE:
            raise Failure("wrong_gradient", f"jvp's derivative {float(np.sum(derivative))!r}; the gradient's inner "
                                            f"product with the tangents {inner!r}; finite differences {fine!r}")
        raise Unstable("jvp and the gradient disagree where finite differences cannot tell")

    products = call("hvp")
    products = (products,) if single else products
    steps = {}
    for eps in (1e-5, 1e-3):
        ahead, behind = (call_sourcegrad(differentiable, _moved(args, positions, tangents, sign * eps), "shifted")[1]
                         for sign in (1, -1))
        ahead, behind = ((g,) if single else g for g in (ahead, behind))
        steps[eps] = [(np.asarray(at(ahead[k], path)) - np.asarray(at(behind[k], path))) / (2 * eps)
                      for k, p in enumerate(positions) for path, _ in leaves(args[p])]
    got = [np.asarray(at(products[k], path)) for k, p in enumerate(positions) for path, _ in leaves(args[p])]
    worst = max((float(np.max(np.abs(g - f) / np.maximum(1.0, np.abs(f)), initial=0.0))
                 for g, f in zip(got, steps[1e-5])), default=0.0)
    if worst > HVP_TOLERANCE:
        agree = max((float(np.max(np.abs(a - b) / np.maximum(1.0, np.abs(a)), initial=0.0))
                     for a, b in zip(steps[1e-5], steps[1e-3])), default=0.0)
        if agree <= 1e-3:
            raise Failure("wrong_gradient", f"hvp differs from central differences of the gradient by {worst:.3g} "
                                            f"(relative); hvp {got}, differences {steps[1e-5]}")
        raise Unstable("hvp: the gradient's differences at two steps disagree (a kink or decision nearby)")


def _random_like(value, rng):
    """A random tangent of value's structure (an object's: a dict of its attributes')."""
    if isinstance(value, np.ndarray):
        return rng.standard_normal(value.shape)
    if isinstance(value, float):
        return float(rng.standard_normal())
    if isinstance(value, dict):
        return {key: _random_like(item, rng) for key, item in value.items()}
    if isinstance(value, list):
        return [_random_like(item, rng) for item in value]
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a namedtuple's tangent: the same namedtuple
        return type(value)(*[_random_like(item, rng) for item in value])
    return {key: _random_like(item, rng) for key, item in settings_left_out(vars(value)).items()}


def _moved(args, positions, tangents, eps):
    """args with each wrt argument moved by eps times its tangent."""
    def move(value, tangent):
        if isinstance(value, (np.ndarray, float)):
            return value + eps * tangent
        if isinstance(value, dict):
            return {key: move(item, tangent[key]) for key, item in value.items()}
        if isinstance(value, list):
            return [move(item, t) for item, t in zip(value, tangent)]
        if isinstance(value, tuple) and hasattr(value, "_fields"):  # a namedtuple
            return type(value)(*[move(item, t) for item, t in zip(value, tangent)])
        if tangent is None:  # a setting (an int): no tangent
            return value
        return type(value)(**{key: move(item, tangent.get(key)) for key, item in vars(value).items()})  # the Model

    moved = list(args)
    for k, p in enumerate(positions):
        moved[p] = move(args[p], tangents[k])
    return moved


AUTOGRAD_TOLERANCE = 1e-9  # |sourcegrad - autograd| / max(1, |autograd|): two exact gradients, summed apart


def autograd_gradients(program, folder, args):
    """autograd's gradients of the program at args, with respect to program.wrt, or None where autograd cannot
    run it: not installed, an object parameter (whose methods call plain numpy), or a function or method
    autograd has no gradient for. The program is imported again with `autograd.numpy` for `np` (and f's act,
    a numpy function, is passed as autograd.numpy's)."""
    if autograd is None or "model" in program.parameters or "layers2" in program.parameters:
        return None
    args = [getattr(autograd.numpy, a.__name__) if isinstance(a, np.ufunc) else a for a in args]
    replace = {name: f"{name}_autograd" for name in program.modules}
    for name, text in program.modules.items():
        with open(os.path.join(folder, replace[name] + ".py"), "w") as handle:
            handle.write(text.replace("import numpy as np", "import autograd.numpy as np", 1))
    source = program.source.replace("import numpy as np", "import autograd.numpy as np", 1)
    for name, new in replace.items():
        source = source.replace(f"import {name} as hm", f"import {new} as hm", 1)
    twin = Program(program.seed, program.attempt, source, program.parameters, program.wrt, program.n, program.n2, {})
    module = load(twin, folder)
    positions = [program.parameters.index(name) for name in program.wrt]

    def loss(values):
        work = list(args)
        for position, value in zip(positions, values):
            work[position] = value
        return autograd.numpy.sum(module.f(*work))

    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return autograd.grad(loss)(tuple(copy.deepcopy(args[p]) for p in positions))
    except Exception:  # noqa: BLE001 (autograd lacks a rule or a method here: no reference for this program)
        return None
    finally:
        for name in [module.__name__, *replace.values()]:
            sys.modules.pop(name, None)


def compare_with_autograd(program, folder, args, gradients, label):
    """sourcegrad's gradients against autograd's, where autograd can run the program: True if compared."""
    reference = autograd_gradients(program, folder, args)
    if reference is None:
        return False
    if len(program.wrt) == 1:
        gradients = (gradients,)
    for name, gradient, expected in zip(program.wrt, gradients, reference):
        position = program.parameters.index(name)
        for path, _ in leaves(args[position]):
            got = np.asarray(at(gradient, path) if path else gradient, dtype=np.float64)
            want = np.asarray(at(expected, path) if path else expected, dtype=np.float64)
            # where autograd's own rule breaks down (its np.prod divides by x: nan at a zero) the finite
            # differences, checked already, are the only reference
            finite = np.isfinite(want)
            close = np.abs(got - want) <= AUTOGRAD_TOLERANCE * np.maximum(1.0, np.abs(want))
            if got.shape != want.shape or not np.all(close | ~finite):
                raise Failure("wrong_gradient", f"{label}: the gradient of {name}{format_path(path)} differs from "
                                                f"autograd's:\nsourcegrad:\n{got}\nautograd:\n{want}\n")
    return True


# ---- the script -----------------------------------------------------------------------------------------------

def first_line(message):
    """A refusal's or crash's message reduced to what it says, without the place: groups the summary."""
    line = message.split("\n", 1)[0]
    line = re.sub(r"^[^:]*: ", "", line, count=1)                      # the label (n=2, float32, differentiate)
    line = re.sub(r"^(SourcegradError: )?\S+\.py:\d+:\d+: ", r"\1", line)  # file:line:col
    line = re.sub(r"\((rp_seed|\S*/)\S*\.py, line \d+\)", "(the generated file)", line)  # a SyntaxError's file
    line = re.sub(r"`[^`]*`", "`...`", line)  # names, which differ from program to program
    return line


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="how many programs")
    parser.add_argument("--start", type=int, default=0, help="the first seed (the seeds are start, start+1, ...)")
    parser.add_argument("--seed", type=int, default=None, help="check this one seed and print its program")
    parser.add_argument("--show", type=int, default=None, help="print the program of this seed and stop")
    parser.add_argument("--quiet", action="store_true", help="print failures' first lines only")
    parser.add_argument("--forward", action="store_true", help="check jvp and hvp (check_forward_modes) instead")
    options = parser.parse_args(argv)
    if options.show is not None:
        print(generate(options.show).source)
        return 0
    seeds = [options.seed] if options.seed is not None else range(options.start, options.start + options.n)
    counts = collections.Counter()  # outcome -> programs
    extras = collections.Counter()
    groups = collections.Counter()
    failures = []
    started = time.perf_counter()
    folder = tempfile.mkdtemp(prefix="sourcegrad_random_")
    try:
        for k, seed in enumerate(seeds):
            result = (check_forward_modes if options.forward else check_program)(seed, folder)
            counts[result.status] += 1
            extras["new inputs"] += any("unstable" in note for note in result.details)
            extras["another program"] += result.attempt > 0
            extras["autograd"] += "compared with autograd" in result.details
            if result.status in ("refusal", "crash"):
                groups[(result.status, first_line(result.message))] += 1
            if not result.ok:
                failures.append(result)
                print(f"FAIL seed {seed}: {result.status}: {first_line(result.message)}", file=sys.stderr, flush=True)
            if options.seed is not None:
                print(result.source)
                print("\n".join(result.details))
            if (k + 1) % 100 == 0:
                print(f"... {k + 1} programs, {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    elapsed = time.perf_counter() - started
    if not options.quiet:
        for result in failures:
            print("=" * 100)
            print(result.report())
    print("=" * 100)
    print(f"programs run:      {sum(counts.values())} in {elapsed:.1f} s")
    for status in ("correct", "wrong_gradient", "wrong_value", "crash", "refusal", "changed_input", "wrong_dtype",
                   "generator_error", "skipped"):
        print(f"{status + ':':18} {counts[status]}")
    print(f"(checked at new inputs after an unstable point: {extras['new inputs']}; "
          f"another program from the same seed, the first too large or never stable: {extras['another program']})")
    print(f"also compared with autograd: {extras['autograd']}"
          + ("" if autograd else " (autograd is not installed: pip install -e '.[reference]')"))
    if groups:
        print("refusals and crashes by message:")
        for (status, line), count in groups.most_common():
            print(f"  {count:5}  {status}: {line}")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
