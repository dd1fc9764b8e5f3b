"""Static shape facts: the rank of each value, and which values surely have the same shape.

Only the ranks of the arguments are known at compile time (a gradient is
compiled once per combination of argument ranks, never per shape). From
them follow the ranks of intermediate values, which let the rules choose the
plain matrix form `d_y @ w.T` where both operands are matrices. The same-shape
classes let the simplifier drop `unbroadcast` and broadcasts where they
cannot change anything: the result of `np.exp(x)` has x's shape, and so does
`np.maximum(h, 0)`.
"""

from __future__ import annotations

import operator

import gast
import numpy

from .. import ir
from ..ir import ATTRIBUTE, COPY, JOIN_SEQUENCES, REPEAT_SEQUENCE, SUBSCRIPT
from ..templates import lookup
from ..templates.registry import method_primitive, record
from .activity import loop_sequences, same_structures, structure_parts


def canonical(primitive):
    """The function a method or attribute stands for (`x.sum` -> np.sum)."""
    if isinstance(primitive, ir.Method):
        return method_primitive(primitive.name, primitive.is_call) or primitive
    return primitive


def is_elementwise(primitive) -> bool:
    return record(canonical(primitive)).rank == "elementwise"


_UNSET = object()


class ShapeFacts:
    """Ranks and same-shape classes, true wherever the reverse pass reads them.

    A name assigned in several places (in branches, in loops) has a rank only when every
    assignment agrees, and joins no same-shape class: the facts must hold for all its values.
    """

    def __init__(self, fn: ir.Function, argument_ranks: dict):
        self.ranks = dict(argument_ranks)
        self.kinds = fn.kinds
        self._parent = {}
        sites = {name: 1 for name in fn.params + fn.kwonly}  # a parameter is bound once on entry
        for stmt in ir.walk(fn.body):
            for name in ir.bound_names(stmt, counters=False):
                sites[name] = sites.get(name, 0) + 1
        self.single = {name for name, count in sites.items() if count == 1}
        self.integers = _integer_names(fn)
        self.changed_in_place = _changed_in_place(fn)
        # Names a loop binds: bound once in the source, such a name still takes a new value (maybe of a new
        # shape) each iteration, while another bound in a branch of the loop may keep an earlier iteration's.
        self.in_loops = {name for loop in ir.walk(fn.body) if isinstance(loop, ir.Loop)
                         for stmt in [loop, *ir.walk(loop.test_body + loop.body)]
                         for name in ir.bound_names(stmt)}
        # id(statement) -> (its loop, its position in the loop's body), for the statements a loop's body runs on
        # every iteration, outside any branch or inner loop
        self._every_iteration = {id(stmt): (loop, position) for loop in ir.walk(fn.body)
                                 if isinstance(loop, ir.Loop) for position, stmt in enumerate(loop.body)}
        # Ranks: grow to a fixed point (a loop reads ranks its own body assigns); a disagreement is unknown.
        changed = True
        while changed:
            changed = False
            for stmt in ir.walk(fn.body):
                for name, rank in self._bindings(stmt):
                    old = self.ranks.get(name, _UNSET)
                    new = rank if old is _UNSET or old == rank else None
                    if new is not old and new != old:
                        self.ranks[name] = new
                        changed = True
        for name in list(self.ranks):
            if self.ranks[name] is _UNSET:
                self.ranks[name] = None
        for stmt in ir.walk(fn.body):
            if isinstance(stmt, ir.Assign) and stmt.target in self.single:
                self._relate(stmt)
        self.may_be_sequence = self._sequences(fn)

    def _sequences(self, fn):
        """Names that may hold a list or tuple rather than an array: known lists, names a loop or a branch
        assigns without a known rank, and what `=`, `+` and `*` make of those. The simplifier proves no
        shape for them: `d_outs * 2` may be a list repeated, not an array scaled."""
        names = {n for n, kind in self.kinds.items() if isinstance(kind, tuple) and kind[0] in ("list", "tuple")}
        names |= {stmt.target for stmt in ir.walk(fn.body)  # np.split's parts: `parts + parts` joins two lists
                  if isinstance(stmt, ir.Assign) and stmt.primitive is not COPY
                  and record(canonical(stmt.primitive)).list_result}
        names |= {n for n, rank in self.ranks.items() if rank is None and n not in self.single}
        spreading = (COPY, operator.add, operator.mul, JOIN_SEQUENCES, REPEAT_SEQUENCE)
        changed = True
        while changed:
            changed = False
            for stmt in ir.walk(fn.body):
                if (isinstance(stmt, ir.Assign) and stmt.target not in names and self.ranks.get(stmt.target) is None
                        and stmt.primitive in spreading
                        and (stmt.primitive in (JOIN_SEQUENCES, REPEAT_SEQUENCE)
                             or any(isinstance(a, gast.Name) and a.id in names for a in stmt.args))):
                    names.add(stmt.target)
                    changed = True
        return names

    def _bindings(self, stmt):
        if isinstance(stmt, ir.Assign):
            known = self.kinds.get(stmt.target) if stmt.target in self.single and self._kind_holds(stmt) else None
            return [(stmt.target, known if isinstance(known, int) else self._rank_of(stmt))]
        if isinstance(stmt, ir.Unpack):  # an array's rows have one axis fewer; a list's items: what is known of each
            rank = None if stmt.of_sequence else self.rank(stmt.value)
            return [(t, self.kinds[t] if isinstance(self.kinds.get(t), int) and t in self.single
                     else rank - 1 if rank else None) for t in stmt.targets]
        if isinstance(stmt, ir.Loop) and stmt.kind == "for":
            return [(n, self.kinds[n] if isinstance(self.kinds.get(n), int) and n in self.single else r)
                    for n, r in _loop_target_ranks(stmt, self)]
        return []

    def _kind_holds(self, stmt):
        """Whether what the front end knew of stmt's result when it read it (`params["w1"]`, `model.w1`, from the
        structure the call passed) is what it holds at run time: not when the structure may have been changed
        in place (`ls.reverse()`, `setattr(box, ...)`, a method of the object), nor for an item picked by an
        index that may not be an integer (`ws[s]` with s a slice gives a list)."""
        if stmt.primitive not in (SUBSCRIPT, ATTRIBUTE):
            return True
        structure, index = stmt.args
        if not isinstance(structure, gast.Name) or structure.id in self.changed_in_place:
            return False
        return stmt.primitive is ATTRIBUTE or isinstance(index, gast.Constant) and not isinstance(index.value, bool) \
            or isinstance(index, gast.Name) and index.id in self.integers

    # ---- ranks ----------------------------------------------------------------

    def rank(self, atom):
        if isinstance(atom, gast.Name):
            rank = self.ranks.get(atom.id)
            return None if rank is _UNSET else rank
        if isinstance(atom, gast.Constant) and isinstance(atom.value, (int, float, complex)):
            return 0
        return None

    def _shared_rank(self, items, known_suffice=False):
        """The rank every item of a written-out list or tuple has, or None (a list held by a name: unknown).
        known_suffice: the items whose rank is known decide (np.concatenate and np.stack refuse items of other
        ranks, so the unknown ones share it: `np.concatenate([np.zeros_like([0.0]), t])` has t's)."""
        if not isinstance(items, (gast.Tuple, gast.List)) or not items.elts:
            return None
        ranks = {self.rank(item) if not isinstance(item, (gast.Tuple, gast.List)) else self._listed_rank(item)
                 for item in items.elts}
        if known_suffice:
            ranks.discard(None)
        return ranks.pop() if len(ranks) == 1 and None not in ranks else None

    def _listed_rank(self, items):
        """The rank of the array numpy makes of a written-out list (`[0.0]`, `[[a, b], [c, d]]`), or None."""
        rank = self._shared_rank(items)
        return None if rank is None else rank + 1

    def _rank_of(self, stmt):
        primitive = canonical(stmt.primitive)
        if primitive is COPY:
            return self.rank(stmt.args[0])
        rule = record(primitive).rank  # the primitive's record in the rule registry
        if rule == "elementwise":
            operands = _operands(stmt)
            if not operands or any(isinstance(a, (gast.Tuple, gast.List)) for a in operands):
                return None  # a list literal is an array of unknown rank
            ranks = [self.rank(a) for a in operands]
            return None if any(r is None for r in ranks) else max(ranks)
        if primitive is SUBSCRIPT:
            # x[i] with an integer i takes one axis away (other indexing: unknown for now). A rank-0 index that
            # may be a bool does not: x[True] and x[np.array(True)] add an axis.
            value, index = stmt.args
            rank = self.rank(value)
            parts = index.elts if isinstance(index, gast.Tuple) else [index]
            if not rank or len(parts) > rank:
                return None
            taken = 0
            for part in parts:  # a slice keeps its axis, an integer takes it away; None, ..., arrays: unknown
                if _is_int_constant(part) or isinstance(part, gast.Name) and part.id in self.integers:
                    taken += 1
                elif not isinstance(part, gast.Slice):
                    return None
            return rank - taken
        if primitive in _MADE_OF_A_SHAPE:  # np.zeros(n), np.zeros((n, m)), np.full(n, v): one axis per length
            shape = stmt.args[0] if stmt.args else stmt.kwargs.get("shape")
            if isinstance(shape, gast.Tuple):
                return len(shape.elts)
            if _is_int_constant(shape) or isinstance(shape, gast.Name) and shape.id in self.integers:
                return 1
            return None
        template, args, kwargs = lookup(stmt.primitive, stmt.args, stmt.kwargs)
        bound = template.bind(args, kwargs) if template is not None else None
        if bound is None:
            return None
        if rule in ("product", "batched product"):
            return _product_rank(self.rank(bound["x"]), self.rank(bound["y"]), batched=rule == "batched product")
        if rule == "reduction":
            rank, axis, keepdims = self.rank(bound["x"]), bound["axis"], bound["keepdims"]
            if rank is None or not isinstance(keepdims, gast.Constant):
                return None
            if keepdims.value:
                return rank
            if isinstance(axis, gast.Constant):
                if axis.value is None:
                    return 0
                return rank - 1 if isinstance(axis.value, int) else None
            if isinstance(axis, gast.Tuple):
                return rank - len(axis.elts)
            return None
        if rule == "first argument":
            return self.rank(bound["x"])
        if rule == "vector":
            return 1
        if rule in ("stack", "join"):
            arrays, axis = bound["arrays"], bound["axis"]
            if rule == "join" and not (isinstance(axis, gast.Constant) and isinstance(axis.value, int)):
                return None  # axis=None flattens first; a computed axis: unknown
            rank = self._shared_rank(arrays, known_suffice=True)
            return None if rank is None else rank + (rule == "stack")
        if rule == "array":
            x, ndmin = bound["x"], bound.get("ndmin")
            if ndmin is not None and not (isinstance(ndmin, gast.Constant) and ndmin.value == 0):
                return None
            return self._listed_rank(x) if isinstance(x, (gast.Tuple, gast.List)) else self.rank(x)
        if rule == "reshape":
            shape = bound["shape"]
            if isinstance(shape, gast.Tuple):
                return len(shape.elts)
            if isinstance(shape, gast.Constant) and isinstance(shape.value, int):
                return 1
        return None

    # ---- same-shape classes ------------------------------------------------------

    def _find(self, name):
        while name in self._parent:
            name = self._parent[name]
        return name

    def _union(self, a, b):
        ra, rb = self._find(a), self._find(b)
        if ra != rb:
            self._parent[ra] = rb

    def _relate(self, stmt):
        if stmt.primitive is COPY:
            if isinstance(stmt.args[0], gast.Name) and self._related_throughout(stmt, stmt.args[0].id):
                self._union(stmt.target, stmt.args[0].id)
            return
        if not is_elementwise(stmt.primitive):
            return
        operands = _operands(stmt)
        for i, operand in enumerate(operands):
            if not isinstance(operand, gast.Name) or operand.id not in self.single:
                continue
            if not self._related_throughout(stmt, operand.id):
                continue
            others = operands[:i] + operands[i + 1:]
            if all(self.rank(o) == 0 or (isinstance(o, gast.Name) and self.same(o.id, operand.id)) for o in others):
                self._union(stmt.target, operand.id)
                return

    def _related_throughout(self, stmt, operand):
        """Whether stmt's target keeps the shape stmt gives it from operand wherever the two are read. A loop
        rebinds the names it binds each iteration, so for two of them this holds only when the loop's body binds
        both on every iteration, operand first, and nothing between the two reads the target (which still holds
        the previous iteration's value there)."""
        if stmt.target not in self.in_loops or operand not in self.in_loops:
            return True  # neither changes after the other's binding, or the loop reruns stmt against the same operand
        place = self._every_iteration.get(id(stmt))
        if place is None:
            return False
        loop, position = place
        body = loop.body
        for earlier in range(position - 1, -2, -1):  # -1: the loop's header (`for row in xs` binds row)
            binder = body[earlier] if earlier >= 0 else loop
            if operand in ir.bound_names(binder, counters=False):
                if earlier >= 0 and isinstance(binder, ir.Loop):
                    return False  # an inner loop's target: the inner loop may run no iteration
                return not any(n.id == stmt.target for between in body[earlier + 1:position]
                               for node in ir.walk([between]) for n in _names_read(node))
        return False

    def same(self, a: str, b: str) -> bool:
        return self._find(a) == self._find(b)


def _operands(stmt):
    """Every value an elementwise operation combines, keyword operands (np.clip's a_min=) included."""
    return list(stmt.args) + list(stmt.kwargs.values())


def _product_rank(a, b, batched):
    """The rank of x @ y (batched) or np.dot(x, y), from the operands' ranks; None when unknown."""
    if a is None or b is None:
        return None
    if a == 0 or b == 0:
        return max(a, b) if not batched else None  # matmul refuses scalars
    if a == 1 and b == 1:
        return 0
    if a == 1:
        return b - 1
    if b == 1:
        return a - 1
    if not batched and (a > 2 or b > 2):
        return None
    return max(a, b)


def _loop_header(loop):
    """A `for` header as (kind, the names it binds, the sequences it walks): kind is "range", "enumerate", "zip"
    or another function's name for `for ... in f(...)`, else "sequence" (`for row in xs`)."""
    names = [n.id for n in gast.walk(loop.target) if isinstance(n, gast.Name)]
    iterable = loop.iterable
    if isinstance(iterable, gast.Call) and isinstance(iterable.func, gast.Name):
        return iterable.func.id, names, iterable.args
    return "sequence", names, [iterable]


def _loop_target_ranks(loop, facts):
    """Ranks of what a `for` header binds: ints from range, rows of an array (one rank less)."""
    kind, names, sequences = _loop_header(loop)

    def element(sequence):
        rank = facts.rank(sequence)
        return rank - 1 if rank is not None and rank >= 1 else None

    if kind == "range":
        return [(n, 0) for n in names]
    if kind == "enumerate" and len(names) == 2:
        return [(names[0], 0), (names[1], element(sequences[0]))]
    if kind == "zip" and len(names) == len(sequences):
        return [(n, element(s)) for n, s in zip(names, sequences)]
    if kind == "sequence" and len(names) == 1:
        return [(names[0], element(sequences[0]))]
    return [(n, None) for n in names]


_MADE_OF_A_SHAPE = (numpy.zeros, numpy.ones, numpy.empty, numpy.full)


def _is_int_constant(atom):
    """An integer written as a constant, negative ones included (`x[-1]` takes an axis away as `x[0]` does): the
    same test refuse_shared_updates applies to an index, so the two never disagree on what reads a number."""
    return ir.constant_int(atom) is not None


_INTEGER_ARITHMETIC = (operator.add, operator.sub, operator.mul, operator.floordiv, operator.mod)


def refuse_shared_updates(fn: ir.Function, argument_ranks: dict):
    """Raise the error of the first `name op= v` of fn that may change an array another name holds: one whose
    name does not surely hold an integer (an integer is never shared: `i -= 1` rebinds i in Python too), or one
    after which a read of an element of that array may still view it: one that does not give an integer per
    axis (`h[0]` of a matrix is its first row, a view; of a vector, a number)."""
    integers = _integer_names(fn)
    for name, error in fn.shared_updates:
        if name not in integers:
            raise error
    if not fn.element_read_updates:
        return
    facts = ShapeFacts(fn, argument_ranks)

    def reads_a_number(array, index):
        atoms = index.elts if isinstance(index, gast.Tuple) else [index]
        integer = [ir.constant_int(a) is not None or isinstance(a, gast.Name) and a.id in integers for a in atoms]
        return all(integer) and facts.rank(ir.name(array)) == len(atoms)

    for error, reads in fn.element_read_updates:
        if not all(reads_a_number(array, index) for array, index in reads):
            raise error


def _integer_names(fn: ir.Function) -> set:
    """Names that surely hold an integer, never a bool: a `range` loop's counter, enumerate's index, an int
    literal, len(), an array's .ndim, .size and an item of its .shape, and +, -, *, // and % of those, at
    every place the name is bound. Only these index an array
    as an integer does. A parameter is never among them: the call's key (each argument's rank) does not tell
    a 0-d bool array or np.True_ from an integer."""
    bindings = {}  # name -> the statements binding it, or None where one binds it otherwise
    for name in fn.params + fn.kwonly:
        bindings[name] = None
    for stmt in ir.walk(fn.body):
        for name in ir.bound_names(stmt):
            if bindings.get(name, []) is not None:
                bindings.setdefault(name, []).append(stmt)

    def integer_atoms(atoms, names):
        return all(_is_int_constant(a) or isinstance(a, gast.Name) and a.id in names for a in atoms)

    def binds_integer(stmt, name, names):
        if isinstance(stmt, ir.Assign):
            if stmt.primitive is COPY or stmt.primitive in _INTEGER_ARITHMETIC:
                return not stmt.kwargs and integer_atoms(stmt.args, names)
            if stmt.primitive == SUBSCRIPT:  # `x.shape[0]`
                shape, index = stmt.args[0], stmt.args[1]
                return isinstance(shape, gast.Name) and shape.id in shapes and _is_int_constant(index)
            return stmt.primitive is len or _attribute_of_an_array(stmt, ("ndim", "size"), fn.kinds)
        if isinstance(stmt, ir.Loop) and stmt.kind == "for":  # the ints _loop_target_ranks gives rank 0
            kind, targets, _ = _loop_header(stmt)
            return kind == "range" or kind == "enumerate" and len(targets) == 2 and targets[0] == name
        return False  # an unpacking, a while loop's counter, anything else

    # names bound only to an array's shape (a tuple of ints)
    shapes = {name for name, stmts in bindings.items()
              if stmts is not None and all(_attribute_of_an_array(s, ("shape",), fn.kinds) for s in stmts)}
    # the largest set closed under the rules: `i = 0` then `i = i + 1` in a loop keeps i an integer
    names = {name for name, stmts in bindings.items() if stmts is not None}
    changed = True
    while changed:
        changed = False
        for name in list(names):
            if not all(binds_integer(stmt, name, names) for stmt in bindings[name]):
                names.discard(name)
                changed = True
    return names


def _attribute_of_an_array(stmt, attributes, kinds):
    """Whether stmt binds `x.<attribute>` for one of attributes, x known to be an array (its kind a rank): another
    object's attribute of that name may be anything."""
    return isinstance(stmt, ir.Assign) and isinstance(stmt.primitive, ir.Method) and not stmt.primitive.is_call \
        and stmt.primitive.name in attributes and isinstance(stmt.args[0], gast.Name) \
        and isinstance(kinds.get(stmt.args[0].id), int)


def _names_read(stmt):
    """The names a statement mentions outside its targets (everything it may read)."""
    if isinstance(stmt, ir.Assign):
        atoms = [*stmt.args, *stmt.kwargs.values()]
    elif isinstance(stmt, ir.Effect):
        atoms = [stmt.stmt]
    else:
        atoms = [getattr(stmt, field, None) for field in ("value", "test", "iterable")]
    return [n for atom in atoms if isinstance(atom, gast.AST) for n in gast.walk(atom) if isinstance(n, gast.Name)]


# Builtins that change nothing they are given: a structure passed to any other function may be changed by it.
_READING_BUILTINS = frozenset({len, range, enumerate, zip, reversed, sorted, min, max, sum, abs, float, int, bool,
                               complex, round, isinstance, list, tuple, dict, print})
_READING_BUILTIN_NAMES = frozenset(f.__name__ for f in _READING_BUILTINS)


def _changed_in_place(fn: ir.Function) -> set:
    """Names of structures (lists, dicts, objects) a statement may change in place, with every name that may
    be the same structure or part of it: what the calls of an expression statement are given (`ls.reverse()`,
    `box.store(u)`, `setattr(box, "a", u)`, `rng.shuffle(ls)`), the receiver of a method call whose result is
    kept (`x = ls.pop(0)`), and what is passed to a function other than numpy's and a few builtins'. The
    front end's knowledge of their items is then not used."""
    changed = set()
    for stmt in ir.walk(fn.body):
        if isinstance(stmt, ir.Effect):  # what its calls are given, receivers included (an assert's test is read)
            for call in gast.walk(stmt.stmt):
                if isinstance(call, gast.Call) and not (isinstance(call.func, gast.Name)
                                                        and call.func.id in _READING_BUILTIN_NAMES):
                    changed |= {n.id for n in gast.walk(call) if isinstance(n, gast.Name)}
        elif isinstance(stmt, ir.Assign) and not (stmt.primitive is COPY or stmt.primitive in (SUBSCRIPT, ATTRIBUTE)):
            names = [a.id for a in (*stmt.args, *stmt.kwargs.values()) if isinstance(a, gast.Name)]
            if isinstance(stmt.primitive, ir.Method):
                changed |= set(names[:1])
            elif not _is_numpy(stmt.primitive) and not any(stmt.primitive is f for f in _READING_BUILTINS):
                changed |= set(names)
    return same_structures(changed, structure_parts(fn))


def _is_numpy(primitive):
    """numpy's functions and ufuncs, scipy's, sourcegrad's helpers, operators, and the normal form's own
    operations (indexing, joining lists): none changes a structure it is given."""
    module = str(getattr(primitive, "__module__", None) or type(primitive).__module__)
    return isinstance(primitive, str) or isinstance(primitive, numpy.ufunc) or module in ("operator", "_operator") \
        or module.startswith(("numpy", "scipy", "sourcegrad"))


def row_loops(fn: ir.Function, argument_ranks: dict) -> tuple:
    """The `for` loops that walk an array (`for row in X`), each as (its location, the parameters that array is
    computed from). On dask, where the data is chunked along its rows, such a loop makes tasks per row and reads
    every chunk once per row; a call passing one of those parameters as a dask array is refused with a hint."""
    facts = ShapeFacts(fn, argument_ranks)
    sources = {name: {name} for name in fn.params + fn.kwonly}
    changed = True
    while changed:  # which parameters each name is computed from, grown to a fixed point as a loop carries values
        changed = False
        for stmt in ir.walk(fn.body):
            if isinstance(stmt, ir.Assign):
                written = [stmt.target]
                read = [name for atom in (*stmt.args, *stmt.kwargs.values()) if atom is not None
                        for name in ir.names_in(atom)]
            elif isinstance(stmt, ir.Unpack):
                written, read = list(stmt.targets), ir.names_in(stmt.value)
            elif isinstance(stmt, ir.Loop) and stmt.kind == "for":
                written, read = ir.bound_names(stmt, counters=False), ir.names_in(stmt.iterable)
            elif isinstance(stmt, ir.Effect):  # `rows.append(x[i])`: the list now holds what it read
                written = read = ir.names_in(stmt.stmt)
            else:
                continue
            found = set().union(*(sources.get(name, ()) for name in read))
            for name in written:
                if not found <= sources.setdefault(name, set()):
                    sources[name] |= found
                    changed = True
    loops = []
    for stmt in ir.walk(fn.body):
        if isinstance(stmt, ir.Loop) and stmt.kind == "for":
            arrays = [name for name in loop_sequences(stmt) if (facts.ranks.get(name) or 0) >= 1]
            parameters = set().union(*(sources.get(name, ()) for name in arrays))
            if parameters:
                loops.append((stmt.origin.location, frozenset(parameters)))
    return tuple(loops)
