"""The memory plan of a generated gradient: what it keeps, what it shares, and when it lets go.

It runs on the reverse function after simplification, so it sees exactly the code that will be printed,
and decides:
- the tape: which sites save which names (those the backward code reads and the site may overwrite), which
  only for their shape, and which names start as None because a path may bind them first;
- releases: the arrays a top-level loop leaves bound that nothing reads again;
- in-place accumulation (`d_w += e`, only into an array nothing else refers to), and whether such an add of
  one indexed part writes only that part (`d_x[i] += g`) or goes through index_add (repeated positions);
- which returned gradients are copied (only those that may share memory with the output gradient, an input
  or each other);
- which rows a reversed `for` loop takes again from its sequence;
- the buffer slots of the `_into` variant: which operations write with `out=`, into a buffer kept between
  calls or into the caller's array.
`plan_memory` makes the plan once, after simplification; the compiler hands it to the printer
(emit/codegen.py), which asks it what to save, restore, drop and write into and decides nothing about memory
itself. Which calls make a new array and which take `out=` comes from one record, the rule
registry's (templates/registry.py), which the normaliser reads too.
"""

from __future__ import annotations

from typing import NamedTuple

import gast

from .. import ir
from .activity import target_names
from ..ir import Method
from ..templates.registry import backend_function, method_primitive, method_returns_new_array, record, returns_new_array
from ..transform.reverse import (AdjointStatement, IndexAccumulate, OwnAdjoint, Restore, ReverseIf, ReverseLoop,
                                 walk)


def _forward_reads(stmts):
    """The names the forward statements read, nested ones included."""
    names = set()
    for stmt in ir.walk(stmts):
        if isinstance(stmt, ir.Assign):
            names.update(ir.names_in(stmt.expr))
        elif isinstance(stmt, (ir.Unpack, ir.Return)):
            names.update(ir.names_in(stmt.value))
            if isinstance(stmt, ir.Return) and stmt.aux is not None:
                names.update(ir.names_in(stmt.aux))
        elif isinstance(stmt, ir.Effect):
            names.update(ir.names_in(stmt.stmt))
        elif isinstance(stmt, ir.If):
            names.update(ir.names_in(stmt.test))
        elif isinstance(stmt, ir.Loop):
            for part in (stmt.iterable, stmt.test):
                if part is not None:
                    names.update(ir.names_in(part))
    return names


def backward_reads(nodes):
    """Primal and adjoint names the backward nodes read; a reverse loop's own targets count only outside it."""
    names = set()
    for node in nodes:
        if isinstance(node, (AdjointStatement, IndexAccumulate)):
            names |= {n.id for n in gast.walk(node.value) if isinstance(n, gast.Name)}
            if isinstance(node, IndexAccumulate):
                names.add(node.index)
        elif isinstance(node, ReverseIf):
            names |= {n.id for n in gast.walk(node.test) if isinstance(n, gast.Name)}
            names |= backward_reads(node.body) | backward_reads(node.orelse)
        elif isinstance(node, ReverseLoop):
            inner = backward_reads(node.body)
            loop = node.loop
            if loop.kind == "for":
                inner -= set(target_names(loop.target))
                inner |= {n.id for n in gast.walk(loop.iterable) if isinstance(n, gast.Name)}
            if loop.counter:
                inner.add(loop.counter)
            names |= inner
    return names


def _is_backend_call(expr, backend):
    """Whether expr calls a function of the array module (`xp.maximum(h, 0)`)."""
    return (isinstance(expr, gast.Call) and isinstance(expr.func, gast.Attribute)
            and isinstance(expr.func.value, gast.Name) and expr.func.value.id == backend)


def _called(call, backend):
    """The record (templates/registry.py) of what a printed call calls: `xp.name(...)` a function of the array
    module or a runtime helper, `x.name(...)` the function an array method shares; an empty one otherwise."""
    if _is_backend_call(call, backend):
        return record(backend_function(call.func.attr))
    if isinstance(call, gast.Call) and isinstance(call.func, gast.Attribute):
        return record(method_primitive(call.func.attr))
    return record(None)


def _returns_new_array(call, backend, array_receiver=None):
    """Whether call surely makes a new array or scalar, by the rule registry: `xp.copy(d)`, or a method of an
    array (`x.sum(axis=1)`) whose function does. array_receiver(expr), where given, tells whether a method's
    receiver is an array: a list's `items.copy()` holds the same arrays."""
    if not isinstance(call, gast.Call) or not isinstance(call.func, gast.Attribute):
        return False
    keywords = [k.arg for k in call.keywords]
    if _is_backend_call(call, backend):
        return returns_new_array(backend_function(call.func.attr), keywords, len(call.args))
    return method_returns_new_array(call.func.attr, keywords, 1 + len(call.args)) and (
        array_receiver is None or array_receiver(call.func.value))


def aliased_names(expr, backend, is_new):
    """Names whose arrays expr's value may be, hold or view: the one alias analysis of the memory plan, for the
    backward code's gradients and the `_into` variant's buffers alike. A name is itself; a tuple or list holds
    its items; a value is_new(expr) says is a new array shares nothing; an attribute or an item of a value
    (`h.T`, `h[i]`) may view it; a call of a function whose record says it returns a view of its first
    argument (np.reshape, `h.reshape(...)`) views that argument (given by position) or the method's array; any
    other call, and such a call by keywords alone, may return any of its operands (the function called
    included: a closure may return a name it reads), and any other expression any name it reads."""
    if isinstance(expr, gast.Name):
        return {expr.id} - {backend}
    if isinstance(expr, (gast.Tuple, gast.List)):
        return set().union(*[aliased_names(e, backend, is_new) for e in expr.elts])
    if is_new(expr):
        return set()
    if isinstance(expr, (gast.Attribute, gast.Subscript)):
        return aliased_names(expr.value, backend, is_new)
    if isinstance(expr, gast.Call) and not any(isinstance(a, gast.Starred) for a in expr.args):
        backend_call = _is_backend_call(expr, backend)
        operands = ([] if backend_call else [expr.func]) + list(expr.args) + [k.value for k in expr.keywords]
        if _called(expr, backend).result == "view of first argument" and (expr.args or not backend_call):
            # the method's array (`h` of `h.reshape`), or the function's first positional argument; a call by
            # keywords alone (`np.swapaxes(axis1=0, axis2=1, a=h)`) may view any of them
            operands = operands[:1]
        return set().union(*[aliased_names(o, backend, is_new) for o in operands])
    return {n.id for n in gast.walk(expr) if isinstance(n, gast.Name)} - {backend}


def _zeros_of_a_name(value, backend):
    """v, where value is `xp.zeros_gradient(v)`, else None."""
    if isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) and value.func.attr == "zeros_gradient" \
            and isinstance(value.func.value, gast.Name) and value.func.value.id == backend \
            and len(value.args) == 1 and isinstance(value.args[0], gast.Name):
        return value.args[0].id
    return None


class MemoryPlan:
    """What the generated function keeps, for one reverse function.

    The tape: which sites save which names (those the backward code reads and the site may overwrite),
    which of them only for their shape, and which names start as None because a path may bind them first.
    Releases: the arrays a top-level loop leaves bound that nothing reads again. Which names the backward
    pass rebinds, so that the value to return is kept under a name of its own. How an in-place add of an
    indexed part is written, and which rows a reversed loop reads again. And the buffer slots of the `_into`
    variant. Made by plan_memory, after the in-place decisions; a MemoryPlan made directly reads a reverse
    function as it stands (explain's stages before the plan).
    """

    def __init__(self, rev):
        self.rev = rev
        fn = rev.primal
        self.sites = rev.sites
        needed = backward_reads(rev.backward)
        needed |= {n.id for g in rev.gradients for n in gast.walk(g) if isinstance(n, gast.Name)}
        self.needed = needed
        bound_before = []  # names bound by the function's parameters and top-level statements so far
        # id(statement) -> names an earlier statement of the same top-level statement may have bound
        # (`v = np.sin(x); v = v * v` in one branch: the second overwrites a value the first made)
        maybe_bound = {}
        seen = set(fn.params) | set(fn.kwonly)
        for stmt in fn.body:
            bound_before.append(set(seen))
            inside = set()
            for inner in ir.walk([stmt]):
                maybe_bound[id(inner)] = set(inside)
                inside |= set(ir.bound_names(inner))
            seen |= inside
        self.shape_only = _read_only_for_shape(rev)
        self._saved = {}
        self._unset = {}
        for key, site in self.sites.items():
            names = []
            for name in site.names:
                if name not in needed:
                    continue
                earlier = name in bound_before[site.top_index]
                if site.in_loop or earlier or name in maybe_bound.get(key, ()):
                    names.append(name)
                    if not earlier:  # a path (or the first iteration) may have no old value: start from None
                        self._unset.setdefault(site.top_index, [])
                        if name not in self._unset[site.top_index]:
                            self._unset[site.top_index].append(name)
            if names:
                self._saved[key] = names
        # The backward pass sets d_v to zeros in v's shape where a path (or an iteration) leaves it unset; on a
        # path that never bound v nothing reads d_v, but zeros_gradient(v) must not fail there: such a v starts
        # as None (zeros_gradient(None) is 0.0).
        surely = ir.surely_bound(fn.body, set(fn.params) | set(fn.kwonly))
        for node in walk(rev.backward):
            name = _zeros_of_a_name(node.value, rev.backend) if isinstance(node, AdjointStatement) else None
            if name is not None and name not in surely and name not in self._unset.setdefault(0, []):
                self._unset[0].append(name)
        self.used = bool(self._saved)

    def loop_saves(self, loop):
        """What one iteration of loop puts on the tape, in order: (name, how) with how "shape" (its shape
        only), "alias" (the array another saved name already holds) or "array"."""
        saved = []
        for stmt in _iteration(loop):
            for name in self.saved_at(stmt):
                copied = stmt.args[0].id if isinstance(stmt, ir.Assign) and stmt.primitive is None and isinstance(
                    stmt.args[0], gast.Name) else None
                saved.append((name, copied))
        names = {name for name, _ in saved}
        result = []
        for name, copied in saved:
            if name in self.shape_only:
                result.append((name, "shape", None))
            elif copied in names and copied not in self.shape_only:
                result.append((name, "alias", copied))
            else:
                result.append((name, "array", None))
        return result

    def saved_at(self, stmt):
        return self._saved.get(id(stmt), [])

    def saves(self, stmt, name):
        return name in self._saved.get(id(stmt), [])

    def unset_before(self, top_index):
        return self._unset.get(top_index, [])

    def released_after(self, loop, rest):
        """The names to let go of after a top-level loop, each with whether the backward pass still reads its
        shape (then a ghost of it is kept). Hand-written code holds its temporaries only while an expression
        runs; kept, the arrays of the loop's last iteration would stay allocated through the backward pass,
        and a step of a long loop would take more memory (and more page faults, where the allocator maps its
        blocks anew every call) than the hand-written one."""
        read_later = _forward_reads(rest)
        # Names bound by an operation, views included: dropping a view drops a reference to its base too.
        # An alias (`h = relu`) or a name bound otherwise holds what another name holds: letting go of it
        # frees nothing, and neither does letting go of what it aliases.
        made, other = {}, set()
        for stmt in ir.walk(loop.body):
            makes = (isinstance(stmt, ir.Assign) and stmt.primitive is not None
                     and not isinstance(stmt.expr, gast.Subscript))
            for name in ir.bound_names(stmt):
                if makes:
                    made[name] = True
                else:
                    other.add(name)
            if isinstance(stmt, ir.Assign) and stmt.primitive is None and isinstance(stmt.expr, gast.Name):
                other.add(stmt.expr.id)
        return [(name, name in self.needed) for name in made
                if name not in other and (self.rank_of(name) or 0) >= 1 and name not in read_later
                and (name not in self.needed or name in self.shape_only)]

    def needs_own_name(self, expr):
        """Whether a value to return, expr, is kept under a name of its own before the backward pass starts: it
        reads a name the backward code rebinds, and what is returned is the forward pass's last value."""
        return expr is not None and bool(set(ir.names_in(expr)) & self._backward_writes())

    def _backward_writes(self):
        """Primal names the backward code rebinds: restored from the tape, walked again by a reverse loop, or
        computed again by a checkpointed loop's iterations (its states restored, its body run once more)."""
        names = set()
        for node in walk(self.rev.backward):
            if isinstance(node, Restore) and self.saves(node.site, node.name):
                names.add(node.name)
            elif isinstance(node, ReverseLoop) and node.loop.kind == "for":
                names |= set(target_names(node.loop.target))
                if node.checkpoint is not None:
                    names |= {n for s in ir.walk(node.loop.body) for n in ir.bound_names(s)}
        return names

    def rank_of(self, name):
        """The static rank of a value or of an adjoint (which has its primal's shape), None if unknown."""
        rank = self.rev.facts.ranks.get(self.rev.primal_of(name) or name)
        return rank if isinstance(rank, int) else None

    def scatter(self, node, value):
        """How an accumulation in place of `xp.index_grad(g, x, index)` (value) adds only g at index, into an
        array of our own, rather than a whole array: ("element", g, index) for `d_x[index] += g`, where index
        selects each position at most once; ("index_add", g, index) for `xp.index_add(d_x, index, g)`, which
        adds repeated positions as often as they come; None when node is no such accumulation, or when x is 0-d
        (`x[()]`: its gradient may be a numpy scalar, which takes no write; `d_x += ...` rebinds it)."""
        backend = self.rev.backend
        if self.rank_of(node.target) == 0:
            return None
        if not (node.accumulate and node.in_place and isinstance(value, gast.Call)
                and isinstance(value.func, gast.Attribute) and value.func.attr == "index_grad"
                and isinstance(value.func.value, gast.Name) and value.func.value.id == backend and len(value.args) == 3):
            return None
        grad, _, index = value.args
        is_array = self.rev.facts.ranks.get(self.rev.primal_of(node.target)) is not None
        return ("element" if is_array and self._basic_index(index) else "index_add"), grad, index

    def _basic_index(self, index):
        """An index that selects each position at most once: integers, slices, None, `...`."""
        parts = index.elts if isinstance(index, gast.Tuple) else [index]
        for part in parts:
            if isinstance(part, gast.Constant) and (part.value is None or part.value is Ellipsis or (
                    isinstance(part.value, int) and not isinstance(part.value, bool))):
                continue
            if isinstance(part, gast.Call) and isinstance(part.func, gast.Name) and part.func.id == "slice":
                continue
            if isinstance(part, gast.Name) and self.rev.facts.ranks.get(part.id) == 0:
                continue  # an integer (a float would have failed in the forward pass)
            return False
        return True

    def rows_read_again(self, node):
        """The targets of a reversed `for` loop (node, a ReverseLoop) its backward body reads: each is taken
        again from its sequence at the iteration's position, the others are not."""
        read = backward_reads(node.body)
        return [t for t in target_names(node.loop.target) if t in read]

    def describe(self) -> str:
        """The plan as text, for sourcegrad.explain: what the tape saves where, what starts as None, what each
        top-level loop lets go of, which accumulations run in place, and which returned gradients are copied."""
        def where(stmt):
            return f"line {stmt.origin.location.line} `{stmt.origin.text}`"

        lines = ["tape (values the backward pass reads that the forward pass may overwrite first):"]
        for stmt in ir.walk(self.rev.primal.body):
            names = [f"{name} (its shape only)" if name in self.shape_only else name for name in self.saved_at(stmt)]
            if names:
                lines.append(f"  {where(stmt)}: {', '.join(names)}")
        if len(lines) == 1:
            lines.append("  nothing: no loop or branch overwrites a value the backward pass reads")
        unset = [name for index in sorted(self._unset) for name in self._unset[index]]
        lines.append(f"start as None (a path may bind them first): {', '.join(unset) or 'none'}")
        body = self.rev.primal.body
        for index, stmt in enumerate(body):
            if isinstance(stmt, ir.Loop):
                released = [f"{name} (kept as its shape)" if shape else name
                            for name, shape in self.released_after(stmt, body[index + 1:])]
                lines.append(f"let go of after the loop at {where(stmt)}: {', '.join(released) or 'nothing'}")
        in_place = sorted({node.target for node in walk(self.rev.backward)
                           if isinstance(node, AdjointStatement) and node.accumulate and node.in_place})
        lines.append(f"gradients accumulated in place (`d += e`): {', '.join(in_place) or 'none'}")
        copied = [self.rev.adjoint_names.get(w, "d_" + w) for w, copy in zip(self.rev.wrt, self.rev.copy_gradient)
                  if copy]
        lines.append("returned gradients copied (they may share memory with the output gradient, an input or "
                     f"each other): {', '.join(copied) or 'none'}")
        return "\n".join(lines) + "\n"

    def buffer_slots(self, definition):
        """The statements the `_into` variant writes with `out=` (BufferSlot, in order), decided on the plain
        function as the printer writes it (definition, a gast FunctionDef), since the variant is that function
        with those statements changed; empty when none can be."""
        return _buffer_slots(definition, self.rank_of, self.rev.backend)


def _iteration(loop):
    """The statements of one iteration of loop, without those of loops nested in it (but with their headers)."""
    result = []
    for block in ir.blocks(loop):
        stack = list(block)
        while stack:
            stmt = stack.pop(0)
            result.append(stmt)
            if isinstance(stmt, ir.If):
                stack[:0] = stmt.body + stmt.orelse
    return result


def _read_only_for_shape(rev):
    """Primal names the backward code reads only as the shape argument of a runtime helper."""
    shape, value = set(), set()

    def visit(expr):
        for node in gast.walk(expr):
            backend_call = _is_backend_call(node, rev.backend)  # a method's positions would count its array too
            position = record(backend_function(node.func.attr)).reads_shape_of if backend_call else None
            if position is not None:
                if len(node.args) > position and isinstance(node.args[position], gast.Name):
                    shape.add(node.args[position].id)
                    node.args[position].sourcegrad_shape_read = True
        for node in gast.walk(expr):
            if isinstance(node, gast.Name) and not getattr(node, "sourcegrad_shape_read", False):
                value.add(node.id)

    def walk_nodes(nodes):
        for node in nodes:
            if isinstance(node, (AdjointStatement, IndexAccumulate)):
                visit(node.value)
            elif isinstance(node, ReverseIf):
                visit(node.test)
                walk_nodes(node.body)
                walk_nodes(node.orelse)
            elif isinstance(node, ReverseLoop):
                walk_nodes(node.body)
                value.update(n.id for n in gast.walk(node.loop.iterable or gast.Constant(value=None, kind=None))
                             if isinstance(n, gast.Name))
                if node.loop.counter:
                    value.add(node.loop.counter)

    walk_nodes(rev.backward)
    for gradient in rev.gradients:
        visit(gradient)
    return shape - value


# ---- in-place accumulation and copies of returned gradients ---------------------------------------------

def plan_memory(rev) -> MemoryPlan:
    """The memory plan of a simplified reverse function, made once and handed to the printer. It first decides,
    on rev's own nodes, which accumulations run in place (`d += e`, only into an array nothing else refers to),
    which gradient copies (OwnAdjoint) are needed, and which returned gradients are copied (only those that may
    share memory with the output gradient, an input or each other); then the tape and the rest (MemoryPlan)."""
    _Ownership(rev).choose()
    return MemoryPlan(rev)


class _Ownership:
    def __init__(self, rev):
        self.rev = rev
        self.backend = rev.backend

    def choose(self):
        self._own(self.rev.backward, set())
        # A gradient handed back is copied only if it may share memory with the caller's output gradient
        # or with another gradient handed back; an internal array nobody else holds is handed out as it is.
        storage = self._storage(self.rev.backward, {self.rev.seed: {"output gradient"}})
        held = [storage.get(g.id, set()) if isinstance(g, gast.Name) else set() for g in self.rev.gradients]
        self.rev.copy_gradient = []
        for i, tokens in enumerate(held):
            shared = any(tokens & other for j, other in enumerate(held) if j != i)
            foreign = any(isinstance(t, tuple) and t[0] == "array" for t in tokens)  # an input's own array, say
            self.rev.copy_gradient.append("output gradient" in tokens or shared or foreign)

    def _storage(self, block, storage):
        """adjoint -> the arrays (tokens) it may be: a statement making a new array gets a token of its own."""
        for node in block:
            if isinstance(node, AdjointStatement):
                if node.accumulate and node.in_place:
                    continue
                aliased = aliased_names(node.value, self.backend, self.is_fresh)
                if node.accumulate or not aliased:
                    storage[node.target] = {id(node)}
                else:
                    storage[node.target] = set().union(*[storage.get(n, {("array", n)}) for n in aliased])
            elif isinstance(node, OwnAdjoint):
                storage[node.target] = {id(node)}
            elif isinstance(node, ReverseIf):
                first = self._storage(node.body, dict(storage))
                second = self._storage(node.orelse, dict(storage))
                for name in set(first) | set(second):
                    storage[name] = first.get(name, set()) | second.get(name, set())
            elif isinstance(node, ReverseLoop):
                while True:
                    after = self._storage(node.body, dict(storage))
                    merged = {n: storage.get(n, set()) | after.get(n, set()) for n in set(storage) | set(after)}
                    if merged == storage:
                        break
                    storage = merged
        return storage

    def _own(self, block, owned):
        """Walk block with `owned`, the adjoints surely holding an array nothing else refers to; mark
        accumulations in place where that is safe; return the set after the block."""
        for node in block:
            if isinstance(node, AdjointStatement):
                owned -= aliased_names(node.value, self.backend, self.is_fresh)
                if not node.accumulate:
                    node.in_place = False
                    (owned.add if self.is_fresh(node.value) else owned.discard)(node.target)
                else:
                    node.in_place = node.target in owned
                    owned.add(node.target)  # in place keeps its own array; `d = d + e` makes a new one
            elif isinstance(node, OwnAdjoint):
                node.needed = node.target not in owned
                owned.add(node.target)
            elif isinstance(node, ReverseIf):
                owned &= self._own(node.body, set(owned)) & self._own(node.orelse, set(owned))
            elif isinstance(node, ReverseLoop):
                entry = set(owned)
                while True:
                    after = self._own(node.body, set(entry))
                    if entry <= after:
                        break
                    entry &= after
                owned.intersection_update(entry)
        return owned

    def is_fresh(self, expr):
        """Whether expr surely evaluates to a new array (or an immutable scalar) that nothing else refers to."""
        if isinstance(expr, (gast.BinOp, gast.UnaryOp, gast.Compare, gast.Constant)):
            return True
        return _returns_new_array(expr, self.backend)  # `a.dot(b)` too: the backward code calls methods of arrays


# ---- buffer slots of the `_into` variant ------------------------------------------------------------------
#
# A training loop calls one gradient thousands of times with arrays of the same shapes. Every call of the
# plain function allocates its temporaries afresh; a caller who passes into= asks for them to be kept instead
# (benchmarks/README.md has what that saves, and when). The `_into` variant is the plain function with each
# top-level operation that makes a new array and can take `out=` (its function does, by the rule registry;
# an arithmetic operator or a comparison is its ufunc) writing into `buffers.<name>`:
#
#     h = buffers.h = xp.dot(x, w1, out=buffers.h)       # a temporary: kept for the next call
#     d_w1 = xp.matmul(x.T, d_h, out=into[0])            # a gradient: the caller's array (into=), or a new one
#
# On a call with fresh buffers every `out=` is None and the arrays made are kept; later calls write into
# them. That is sound only when they have the same shapes and dtypes as last time, so the runtime keys the
# buffers on the arguments' types, shapes and dtypes (runtime/buffers.py), and only operations whose
# operands' shapes follow from those alone get a slot (not from values: `x[x > 0]` has a shape the data
# decides). A value that may reach the caller (the result, a gradient, a view of one, anything stored in an
# argument) is never kept: what sourcegrad hands out is never overwritten by a later call. Statements inside
# loops and branches keep their own arrays (one per iteration, for the tape).


class BufferSlot(NamedTuple):
    """A top-level statement the `_into` variant writes with `out=`: body[index], which binds target, becomes
    `target = xp.<function>(*args, <keywords>, out=...)`, writing into the caller's array into[into] for a
    gradient handed back, and into a buffer of its own, kept for the next call, when into is None."""
    index: int
    target: str
    function: str
    args: list
    keywords: list
    into: int | None


_OPERATORS = {gast.Add: "add", gast.Sub: "subtract", gast.Mult: "multiply", gast.Div: "divide",
              gast.FloorDiv: "floor_divide", gast.Mod: "remainder", gast.Pow: "power", gast.MatMult: "matmul"}
_COMPARISONS = {gast.Eq: "equal", gast.NotEq: "not_equal", gast.Lt: "less", gast.LtE: "less_equal",
                gast.Gt: "greater", gast.GtE: "greater_equal"}
_UNARY = {gast.USub: "negative", gast.UAdd: "positive"}


def _buffer_slots(definition, rank_of, backend):
    body = definition.body
    params = [a.id for a in definition.args.args + definition.args.kwonlyargs]
    escaping = _escaping(body, params, rank_of, backend)
    returned = body[-1].value  # the printer ends the function with `return (value, (gradient, ...))`
    value_names = _aliased(returned.elts[0], rank_of, backend)
    gradient_names = [g.id if isinstance(g, gast.Name) else None for g in returned.elts[1].elts]
    # A gradient is written into the caller's array only by the one statement that binds it: the dtype the
    # gradient had on a buffer set's first call is then the dtype that operation makes (BufferSet.writes_into).
    bindings = [n.id for n in gast.walk(definition) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)]
    gradients = {name for name in gradient_names if name is not None and gradient_names.count(name) == 1
                 and bindings.count(name) == 1} - value_names
    stable = set(params)  # values whose shapes (and dtypes) follow from the arguments' alone
    slots, slotted = [], set()
    for index, stmt in enumerate(body):
        if not (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], gast.Name)):
            if isinstance(stmt, gast.AugAssign) and isinstance(stmt.target, gast.Name):
                if not _stable(stmt.value, stable, backend):
                    stable.discard(stmt.target.id)
            else:
                stable -= _bound(stmt)
            continue
        target, value = stmt.targets[0].id, stmt.value
        if not _stable(value, stable, backend):
            stable.discard(target)
            continue
        stable.add(target)
        rank = rank_of(target)
        call = _with_out(value, rank_of, backend)
        if call is None or not isinstance(rank, int) or rank < 1:
            continue
        if target in escaping and target not in gradients:
            continue
        if target in slotted:  # one buffer per name: a second site may make another shape
            continue
        if target.startswith("__") and target.endswith("__"):  # the object protocol's names, never a buffer's
            continue
        slotted.add(target)
        into = gradient_names.index(target) if target in escaping else None
        slots.append(BufferSlot(index, target, *call, into))
    return slots


def _with_out(value, rank_of, backend):
    """value as a call of the array module that takes `out=`, (function, args, keywords), or None."""
    call = _as_call(value, rank_of, backend)
    return call if call is not None and record(backend_function(call[0])).takes_out else None


def _as_call(value, rank_of, backend):
    """value as a call of the array module, (function, args, keywords): `a * b` is `xp.multiply(a, b)`, and
    `a.dot(b)` is `xp.dot(a, b)`, except that a product of matrices or vectors with a transposed operand
    (`x.T.dot(d_h)`, a weight's gradient) is `xp.matmul(a, b)`. That trades small arrays, where matmul costs
    more than dot, for large transposed products, where it takes less time (the figures are in
    benchmarks/README.md); without a transposed operand the two are level on large arrays. (For larger ranks
    the two compute different things.) None for what is not such a call."""
    if isinstance(value, gast.BinOp) and type(value.op) in _OPERATORS:
        return _OPERATORS[type(value.op)], [value.left, value.right], []
    if isinstance(value, gast.Compare) and len(value.ops) == 1 and type(value.ops[0]) in _COMPARISONS:
        return _COMPARISONS[type(value.ops[0])], [value.left, value.comparators[0]], []
    if isinstance(value, gast.UnaryOp) and type(value.op) in _UNARY:
        return _UNARY[type(value.op)], [value.operand], []
    if not isinstance(value, gast.Call) or any(k.arg in ("out", None) for k in value.keywords):
        return None
    if any(isinstance(a, gast.Starred) for a in value.args):
        return None
    if _is_backend_call(value, backend):
        return value.func.attr, value.args, value.keywords
    if (isinstance(value.func, gast.Attribute) and value.func.attr == "dot" and len(value.args) == 1
            and not value.keywords):  # a.dot(b)
        operands = [value.func.value, value.args[0]]
        matrices = all(_operand_rank(operand, rank_of) in (1, 2) for operand in operands)
        transposed = any(isinstance(operand, gast.Attribute) and operand.attr == "T" for operand in operands)
        return "matmul" if matrices and transposed else "dot", operands, []
    return None


def _operand_rank(expr, rank_of):
    """The static rank of `a` or `a.T`, else None."""
    if isinstance(expr, gast.Attribute) and expr.attr == "T":
        expr = expr.value
    return rank_of(expr.id) if isinstance(expr, gast.Name) else None


def _stable(expr, stable, backend):
    """Whether expr's shape and dtype follow from the shapes and dtypes of the names in `stable`."""
    if isinstance(expr, gast.Name):
        return expr.id in stable
    if isinstance(expr, gast.Constant):
        return True
    if isinstance(expr, gast.Attribute):
        if isinstance(expr.value, gast.Name) and expr.value.id == backend:
            return True  # xp.newaxis, xp.float32
        attribute = method_primitive(expr.attr, is_call=False) or Method(expr.attr, is_call=False)  # `h.T`, `h.shape`
        return record(attribute).shape is not None and _stable(expr.value, stable, backend)
    if isinstance(expr, gast.BinOp):
        return _stable(expr.left, stable, backend) and _stable(expr.right, stable, backend)
    if isinstance(expr, gast.UnaryOp):
        return _stable(expr.operand, stable, backend)
    if isinstance(expr, gast.Compare):
        return all(_stable(e, stable, backend) for e in [expr.left] + expr.comparators)
    if isinstance(expr, gast.Call):
        if any(isinstance(a, gast.Starred) for a in expr.args) or any(k.arg is None for k in expr.keywords):
            return False
        operands = list(expr.args) + [k.value for k in expr.keywords]
        if not _is_backend_call(expr, backend):
            if not isinstance(expr.func, gast.Attribute):
                return False
            operands.insert(0, expr.func.value)  # a method: its array is its first operand
        shape = _called(expr, backend).shape
        if shape == "arguments":
            return all(_stable(a, stable, backend) for a in operands)
        if shape == "constants":  # buffers are keyed on shapes, not on values: the others must be written out
            return bool(operands) and _stable(operands[0], stable, backend) and all(map(_constant, operands[1:]))
    return False


def _constant(expr):
    if isinstance(expr, gast.Tuple):
        return all(map(_constant, expr.elts))
    return isinstance(expr, gast.Constant)


def _escaping(body, params, rank_of, backend):
    """Names whose arrays may reach the caller: returned, stored in an argument, or aliased by one of those."""
    escaping = set(params) - {backend}  # the array module is read, never stored into
    for stmt in body:
        if isinstance(stmt, gast.Return) and stmt.value is not None:
            escaping |= _aliased(stmt.value, rank_of, backend)
        escaping |= _passed_to_foreign_code(stmt, rank_of, backend)
    changed = True
    while changed:
        changed = False
        for stmt in reversed(body):
            before = len(escaping)
            if isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], gast.Name):
                target = stmt.targets[0].id
                if target in escaping and not _makes_new_array(stmt.value, rank_of(target), rank_of, backend):
                    escaping |= _aliased(stmt.value, rank_of, backend)
            elif isinstance(stmt, gast.AugAssign) and isinstance(stmt.target, gast.Name):
                rank = rank_of(stmt.target.id)
                if stmt.target.id in escaping and not (isinstance(rank, int) and rank >= 1):
                    escaping |= _aliased(stmt.value, rank_of, backend)  # `s += e` rebinds a scalar (or extends a list)
            elif not isinstance(stmt, gast.Return):
                # a loop, a branch, an unpacking, a call for its effect: if it binds a name that escapes, or
                # may store into one (`params.append(h)`, `out[i] = h`), everything it touches may escape
                names = {n.id for n in gast.walk(stmt) if isinstance(n, gast.Name)}
                if (_bound(stmt) | _stored_into(stmt, backend)) & escaping:
                    escaping |= names
            changed |= len(escaping) != before
    return escaping


# Builtins that read their arguments and keep none of them.
_READ_ONLY_BUILTINS = frozenset({"len", "range", "enumerate", "zip", "reversed", "print", "float", "int", "bool",
                                 "complex", "abs", "min", "max", "round", "isinstance", "divmod"})


def _passed_to_foreign_code(stmt, rank_of, backend):
    """Names handed to code that may keep them: a function of the user's run as it is (a logger, a
    @nondifferentiable helper), a method of an object that is not an array. numpy's functions, sourcegrad's
    helpers, an array's methods and a few builtins keep nothing."""
    names = set()
    for node in gast.walk(stmt):
        if not isinstance(node, gast.Call):
            continue
        func = node.func
        if isinstance(func, gast.Name) and func.id in _READ_ONLY_BUILTINS:
            continue
        if _is_backend_call(node, backend):
            continue
        if isinstance(func, gast.Attribute):
            base = func.value
            while isinstance(base, (gast.Attribute, gast.Subscript)):
                base = base.value
            if isinstance(base, gast.Name) and base.id != backend and isinstance(rank_of(base.id), int):
                continue  # a method of an array (`h.sum()`, `h.T.dot(w)`)
        for argument in list(node.args) + [k.value for k in node.keywords]:
            names |= {n.id for n in gast.walk(argument) if isinstance(n, gast.Name)}
    return names - {backend}


def _makes_new_array(value, rank, rank_of, backend):
    return isinstance(rank, int) and rank >= 1 and (
        isinstance(value, (gast.BinOp, gast.UnaryOp, gast.Compare)) or _with_out(value, rank_of, backend) is not None
        or _is_new(value, rank_of, backend))


def _aliased(expr, rank_of, backend):
    """aliased_names in the printed function, where a method makes a new array only on an array of known rank
    (a list's `items.copy()` holds the same arrays)."""
    return aliased_names(expr, backend, lambda e: _is_new(e, rank_of, backend))


def _is_new(expr, rank_of, backend):
    """Whether expr surely makes a new array or scalar (a method's receiver must be an array of known rank)."""
    return _returns_new_array(expr, backend, lambda receiver: isinstance(receiver, gast.Name)
                              and (rank_of(receiver.id) or 0) >= 1)


def _stored_into(stmt, backend):
    """Names whose objects a statement may change: the receiver of a method call, the base of a
    subscript or attribute store."""
    names = set()
    for node in gast.walk(stmt):
        if isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute):
            names |= {n.id for n in gast.walk(node.func.value) if isinstance(n, gast.Name)} - {backend}
        elif isinstance(node, (gast.Subscript, gast.Attribute)) and isinstance(node.ctx, gast.Store):
            names |= {n.id for n in gast.walk(node.value) if isinstance(n, gast.Name)}
    return names


def _bound(stmt):
    return {n.id for n in gast.walk(stmt) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}
