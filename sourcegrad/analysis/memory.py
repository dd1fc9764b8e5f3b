"""The memory plan of a generated gradient: what it keeps, what it shares, and when it lets go.

It runs on the reverse function after simplification, so it sees exactly the code that will be printed,
and decides:
- the tape: which sites save which names (those the backward code reads and the site may overwrite), which
  only for their shape, and which names start as None because a path may bind them first;
- releases: the arrays a top-level loop leaves bound that nothing reads again;
- in-place accumulation (`d_w += e`, only into an array nothing else refers to) and which returned
  gradients are copied (only those that may share memory with the output gradient, an input or each other).
The printer (emit/codegen.py) asks it what to save, restore and drop; it decides nothing about memory
itself. Which calls make a new array comes from one record, the rule registry's (templates/registry.py),
which the normaliser and the `_into` variant's buffer planner (emit/buffers.py) read too.
"""

from __future__ import annotations

import gast

from .. import ir
from .activity import target_names
from ..templates.registry import backend_function, method_returns_new_array, returns_new_array
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


class MemoryPlan:
    """What the generated function keeps, for one reverse function.

    The tape: which sites save which names (those the backward code reads and the site may overwrite),
    which of them only for their shape, and which names start as None because a path may bind them first.
    Releases: the arrays a top-level loop leaves bound that nothing reads again. And which names the
    backward pass rebinds, so that the value to return is kept under a name of its own.
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

    def backward_writes(self):
        """Primal names the backward code rebinds: restored from the tape, or walked again by a reverse loop."""
        names = set()
        for node in walk(self.rev.backward):
            if isinstance(node, Restore) and self.saves(node.site, node.name):
                names.add(node.name)
            elif isinstance(node, ReverseLoop) and node.loop.kind == "for":
                names |= set(target_names(node.loop.target))
        return names

    def rank_of(self, name):
        """The static rank of a value or of an adjoint (which has its primal's shape), None if unknown."""
        rank = self.rev.facts.ranks.get(self.rev.primal_of(name) or name)
        return rank if isinstance(rank, int) else None


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


_SHAPE_READS = {"unbroadcast": 1, "unreduce": 1, "size": 0, "index_grad": 1}


def _read_only_for_shape(rev):
    """Primal names the backward code reads only as the shape argument of a runtime helper."""
    shape, value = set(), set()

    def visit(expr):
        for node in gast.walk(expr):
            if isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) and isinstance(node.func.value, gast.Name) \
                    and node.func.value.id == rev.backend and node.func.attr in _SHAPE_READS:
                position = _SHAPE_READS[node.func.attr]
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

def choose_accumulation(rev):
    """Decide, on the simplified reverse function, which accumulations run in place (`d += e`, only into an
    array nothing else refers to), which gradient copies (OwnAdjoint) are needed, and which returned gradients
    are copied (only those that may share memory with the output gradient, an input or each other)."""
    _Ownership(rev).choose()


class _Ownership:
    def __init__(self, rev):
        self.rev = rev
        self.backend = rev.backend

    def _is_backend_call(self, expr, attr=None):
        return (isinstance(expr, gast.Call) and isinstance(expr.func, gast.Attribute)
                and isinstance(expr.func.value, gast.Name) and expr.func.value.id == self.backend
                and (attr is None or expr.func.attr == attr))

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
                aliased = self._aliased(node.value)
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
                owned -= self._aliased(node.value)
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

    def _aliased(self, expr):
        """Names whose arrays expr's value may share memory with (a view, or the array itself)."""
        if isinstance(expr, gast.Name):
            return {expr.id}
        if isinstance(expr, (gast.Attribute, gast.Subscript)):
            return self._aliased(expr.value)
        if isinstance(expr, gast.Call) and not self.is_fresh(expr):
            if self._is_backend_call(expr) and expr.func.attr in _RETURNS_FIRST_ARGUMENT:
                return self._aliased(expr.args[0]) if expr.args else set()
            if isinstance(expr.func, gast.Attribute) and expr.func.attr in _VIEW_METHODS:
                return self._aliased(expr.func.value)
            # a function not known to make a new array may return an argument or a view of one
            parts = list(expr.args) + ([expr.func.value] if isinstance(expr.func, gast.Attribute) and not
                                       self._is_backend_call(expr) else [])
            return set().union(*[self._aliased(a) for a in parts]) if parts else set()
        return set()

    def is_fresh(self, expr):
        """Whether expr surely evaluates to a new array (or an immutable scalar) that nothing else refers to."""
        if isinstance(expr, (gast.BinOp, gast.UnaryOp, gast.Compare, gast.Constant)):
            return True
        if isinstance(expr, gast.Call):
            keywords = [k.arg for k in expr.keywords]
            if self._is_backend_call(expr):
                return returns_new_array(backend_function(expr.func.attr), keywords)
            if isinstance(expr.func, gast.Attribute):
                return method_returns_new_array(expr.func.attr, keywords)  # `a.dot(b)`: a new array
        return False


# Helpers that return their first argument, a view of it, or a new array: never another argument.
_RETURNS_FIRST_ARGUMENT = ("unbroadcast", "unreduce", "reshape", "transpose", "broadcast_to", "asarray", "split_grad",
                           "unstack_grad", "hstack_grad", "vstack_grad", "swapaxes", "moveaxis", "squeeze",
                           "expand_dims", "ravel")
# Array methods that return a view of the array. (Which calls make a new array: templates/registry.py.)
_VIEW_METHODS = ("reshape", "transpose", "squeeze", "ravel", "swapaxes", "view", "T")
