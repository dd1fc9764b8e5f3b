"""The normal form that the analyses and the transformation work on.

A function becomes a flat list of statements, each doing one operation on
atoms (names, constants, tuples of atoms, references to globals such as
`np.pi`). Every statement remembers the source statement it came from, so
errors and the generated code's comments can point at the user's line.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field

import gast

from .errors import Location

# The primitives of operations that are not calls of a function (an ir.Assign's `primitive`); a call's
# primitive is the function itself, an array method's an ir.Method.
COMPARISON = "comparison"  # the primitive of `a < b` and friends: never carries a gradient
LOGICAL = "logical"  # `a and b`
SUBSCRIPT = "subscript"  # `a[i]`
SET_ITEM = "set item"  # `a[i] = v` on an array the function made: a new version of a, written at i
ATTRIBUTE = "attribute"  # `model.w1`: an attribute of an object (array attributes such as `.T` are Methods)
COPY = None  # `a = b`
JOIN_SEQUENCES = "join sequences"  # `a + b` where a list or tuple is an operand: concatenation, not addition
REPEAT_SEQUENCE = "repeat sequence"  # `[a] * 3`: repetition, not multiplication
DICT_DISPLAY = "dict display"  # `{"w": w, "b": b}`: args (the keys, the values), each a tuple; d[value] is d[dict][key]
# `[*d]`: a new list of the keys the dict d holds when it runs, in order; what `for k in d` walks where the front end
# cannot tell the keys (written in a branch, say). Keys carry no gradient.
DICT_KEYS = "dict keys"
# An operator's primitive: the `operator` function its rule is registered under.
BINARY_OPERATORS = {gast.Add: operator.add, gast.Sub: operator.sub, gast.Mult: operator.mul, gast.Div: operator.truediv,
                    gast.Pow: operator.pow, gast.MatMult: operator.matmul, gast.FloorDiv: operator.floordiv,
                    gast.Mod: operator.mod, gast.BitAnd: operator.and_, gast.BitOr: operator.or_,
                    gast.BitXor: operator.xor}
UNARY_OPERATORS = {gast.USub: operator.neg, gast.UAdd: operator.pos, gast.Not: operator.not_, gast.Invert: operator.invert}


@dataclass(frozen=True)
class Origin:
    """The user's statement a normal-form statement came from."""

    location: Location
    text: str  # the statement's source, on one line
    # the FunctionSource it was read from (the differentiated function's, or a helper's written into it):
    # positions of its nodes are translated to file lines through it
    source: object = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Method:
    """An array method or attribute, resolved against the receiver at run time (`x.sum`, `x.T`)."""

    name: str
    is_call: bool = True

    def __str__(self) -> str:
        return f".{self.name}()" if self.is_call else f".{self.name}"


# The display of a SET_ITEM that writes an item of a dict the function made: the dict keeps the value as it is (a
# list too), where an array would take numpy's array of it.
DICT_WRITE = "writing an item of a dict (`d[k] = v`)"

# In an Assign's display, between a runtime helper a tangent line calls and the primal operation whose tangent rule
# calls it (hvp's reverse pass over tangent lines names the operation the user wrote when the helper has no rule).
TANGENT_HELPER = ", called by the tangent rule of "


@dataclass
class Assign:
    """`target = expr`, where expr applies one primitive to atoms."""

    target: str
    expr: gast.expr  # what the forward pass executes, over atoms
    primitive: object  # the operation: a numpy function, an `operator` function, a Method, or None for a copy
    args: tuple  # atoms bound positionally (a method's receiver comes first)
    kwargs: dict  # keyword atoms
    origin: Origin
    node: gast.AST  # the operation's own node, for precise error locations
    display: str = ""  # how the user spelled the operation, for messages


@dataclass
class Unpack:
    """`a, b = value` where value is not a literal tuple: a list or tuple held by a name, an array's rows, the
    parts np.split returns."""

    targets: list
    value: gast.expr
    origin: Origin
    node: gast.AST
    of_sequence: bool = False  # value surely is a list or tuple (`xs.append` built it), so its gradient is one too


@dataclass
class Effect:
    """An expression statement kept for its side effects (a print, an assert)."""

    stmt: gast.stmt
    origin: Origin


@dataclass
class Return:
    value: gast.expr  # an atom
    origin: Origin
    node: gast.AST
    aux: gast.expr = None  # with has_aux: the auxiliary output (an atom), returned beside the value, never differentiated


@dataclass
class If:
    """`if test: body else: orelse`, test an atom (a name holding the decision, or a constant)."""

    test: gast.expr
    body: list
    orelse: list
    origin: Origin
    node: gast.AST


@dataclass
class Loop:
    """A `for` or `while` loop.

    For a `for` loop, `target` is what the header binds (a name or a tuple of names) and `iterable`
    the atom expression it walks (`range(n)`, `xs`, `enumerate(xs)`, `zip(a, b)`). For a `while`
    loop, `test` is re-evaluated by `test_body` before each iteration. `counter` names the variable
    that counts iterations when the count is not known from the iterable (a `while`, a `break`).
    """

    kind: str  # "for" or "while"
    body: list
    origin: Origin
    node: gast.AST
    target: gast.expr = None
    iterable: gast.expr = None
    test: gast.expr = None
    test_body: list = field(default_factory=list)
    counter: str = None
    has_break: bool = False
    snapshots: gast.expr = None  # `for t in sourcegrad.checkpoint(range(n), snapshots=s)`: s (an atom); no tape


@dataclass
class Break:
    origin: Origin
    node: gast.AST


def fresh_name(base, taken):
    """base, or base_2, base_3, ...: the first not in taken."""
    name, n = base, 2
    while name in taken:
        name = f"{base}_{n}"
        n += 1
    return name


def bound_names(stmt, counters=True):
    """The names a statement binds itself (a loop: its targets and, with counters, its trip counter)."""
    if isinstance(stmt, Assign):
        return [stmt.target]
    if isinstance(stmt, Unpack):
        return list(stmt.targets)
    if isinstance(stmt, Loop):
        names = [stmt.counter] if counters and stmt.counter else []
        if stmt.kind == "for":
            names += [n.id for n in gast.walk(stmt.target) if isinstance(n, gast.Name)]
        return names
    return []


def surely_bound(body, bound=()):
    """The names surely bound once body has run, given those bound before it: an `if` adds what both of its
    paths bind, a loop what its test binds (a `for` loop may run no iteration, a `while` loop's test runs once)."""
    bound = set(bound)
    for stmt in body:
        if isinstance(stmt, If):
            bound = surely_bound(stmt.body, bound) & surely_bound(stmt.orelse, bound)
        elif isinstance(stmt, Loop):
            bound = surely_bound(stmt.test_body, bound)
        else:
            bound |= set(bound_names(stmt))
    return bound


def blocks(stmt):
    """The statement lists nested directly in a compound statement."""
    if isinstance(stmt, If):
        return [stmt.body, stmt.orelse]
    if isinstance(stmt, Loop):
        return [stmt.test_body, stmt.body]
    return []


def walk(body):
    """Every statement in body, compound statements before their contents, in program order."""
    for stmt in body:
        yield stmt
        for block in blocks(stmt):
            yield from walk(block)


@dataclass
class Function:
    """A function in normal form."""

    name: str
    params: list  # positional parameter names, in order
    kwonly: list  # keyword-only parameter names
    defaults: dict  # parameter name -> source text of a literal default (others are set at load time)
    body: list = field(default_factory=list)
    names: set = field(default_factory=set)  # every identifier in use, for picking fresh names
    references: dict = field(default_factory=dict)  # global name -> resolved object (for the cache key)
    inlined: list = field(default_factory=list)  # (qualname, source, defaults taken) of each helper written in
    callees: list = field(default_factory=list)  # (globals, attribute chain, helper): how an inlined helper was reached
    kinds: dict = field(default_factory=dict)  # name -> what is known of its value (frontend.values)
    closure_cells: dict = field(default_factory=dict)  # generated code's name for a closure variable -> its cell, read live
    # (name, SourcegradError) for each `name op= v` where name may hold an array another name holds: the error
    # stands unless name surely holds an integer (analysis.shapes.refuse_shared_updates), which nothing shares
    shared_updates: list = field(default_factory=list)
    # (SourcegradError, reads) for each change in place of an array of which elements were read before it, each
    # read (array name, index atom) a view of the array unless the index is an integer per axis: the error
    # stands unless every read is such (analysis.shapes.refuse_shared_updates)
    element_read_updates: list = field(default_factory=list)

    @property
    def returned(self) -> Return:
        return self.body[-1]


def name(identifier: str) -> gast.Name:
    return gast.Name(id=identifier, ctx=gast.Load(), annotation=None, type_comment=None)


def constant_int(atom):
    """The int an index written as a constant is (`0`, `-1`), else None (a bool is no index of this kind)."""
    negative = isinstance(atom, gast.UnaryOp) and isinstance(atom.op, gast.USub)
    atom = atom.operand if negative else atom
    if isinstance(atom, gast.Constant) and type(atom.value) is int:
        return -atom.value if negative else atom.value
    return None


def names_in(expr) -> list:
    """The identifiers an atom or expression reads, in order, each once."""
    seen = []
    for node in gast.walk(expr):
        if isinstance(node, gast.Name) and node.id not in seen:
            seen.append(node.id)
    return seen
