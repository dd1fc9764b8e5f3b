"""Reverse mode: walk the normal form backwards and write each active statement's adjoint.

For `target = primitive(args)` the primitive's rule gives one expression per
argument that needs a gradient. The first contribution to an adjoint assigns
it; later ones add to it, which is all weight sharing needs: a parameter used
in three places, or in every iteration of a loop, gets every contribution.

Control flow is reversed with the same shape as the forward code: a branch
becomes an `if` on the same decision, a loop a loop over the same iterations
backwards. Inside loops and branches a name keeps one name, so an assignment
there may overwrite a value the reverse pass still needs; each such
assignment is a *site*. The forward pass saves the old value on a tape
before a site that overwrites something the backward code reads, and the
backward code restores it right after that site's adjoints (`Restore`), so
every adjoint reads the values its forward statement saw. Which sites need
saving is decided once the backward code is final (see codegen).

Whether an adjoint holds a value yet is tracked statically (`defined`): an
adjoint with no contribution is zero, and its statements are left out. Where
the paths of a branch disagree, or an adjoint must persist across the
iterations of a loop, it is set to zeros once, before the loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import gast

from .. import ir
from ..analysis.activity import (active_values, is_harmless, loop_sequences, makes_no_gradient, reads, target_names,
                                 written_dtype)
from ..analysis.shapes import ShapeFacts
from ..errors import SourcegradError
from ..ir import COPY, DICT_DISPLAY, SET_ITEM
from ..frontend.source import FunctionSource
from ..frontend.syntax import attribute_chain
from ..templates import lookup
from ..templates.registry import record

ADJOINT_PREFIX = "d_"


# ---- the backward code ---------------------------------------------------------------------------

@dataclass
class AdjointStatement:
    target: str  # the adjoint's name
    value: gast.expr
    accumulate: bool  # True: add to the adjoint's current value
    origin: ir.Origin
    in_place: bool = False  # decided by the optimiser: `d += e` instead of `d = d + e`


@dataclass
class Restore:
    """`name = tape.pop()`: undo the overwrite at `site`, if the forward pass saved there."""

    name: str
    site: object  # the ir statement that overwrote name
    origin: ir.Origin


@dataclass
class OwnAdjoint:
    """Make sure `target` is an array nothing else refers to, before rows are added into it."""

    target: str
    origin: ir.Origin


@dataclass
class IndexAccumulate:
    """`target[index] += value`: a row's gradient added into the gradient of the array it came from."""

    target: str
    index: str
    value: gast.expr
    origin: ir.Origin


@dataclass
class ReverseIf:
    test: gast.expr  # the forward decision (a name the tape restores, or a constant)
    body: list
    orelse: list
    origin: ir.Origin


@dataclass
class ReverseLoop:
    loop: ir.Loop  # the forward loop this one walks backwards
    body: list
    index: str  # a fresh name for the position in the forward loop, when the body needs it
    indexed: list  # (target name, sequence name) pairs whose rows get gradients by position
    origin: ir.Origin
    checkpoint: "Checkpoint" = None  # a loop written with sourcegrad.checkpoint: what its saved states hold


@dataclass
class Checkpoint:
    """What a checkpointed loop saves instead of a tape: the names an iteration reads from the one before (its
    state, saved at the iterations the schedule picks), and the values the loop overwrites that code before it
    still needs in the backward pass (saved once, before the loop, and put back after its gradients)."""

    state: list
    before: list
    # overwritten values that code before the loop binds only on some paths (in a loop that may run no
    # iteration, or in a branch): saved where they are bound, each on its own
    maybe_before: list = field(default_factory=list)


def children(node):
    if isinstance(node, ReverseIf):
        return [node.body, node.orelse]
    if isinstance(node, ReverseLoop):
        return [node.body]
    return []


def walk(body):
    for node in body:
        yield node
        for block in children(node):
            yield from walk(block)


@dataclass
class ReverseFunction:
    primal: ir.Function
    wrt: list
    backend: str  # what the generated code calls the array module
    seed: str  # the parameter holding the output's gradient
    backward: list = field(default_factory=list)
    gradients: list = field(default_factory=list)  # one expression per wrt argument
    adjoint_names: dict = field(default_factory=dict)  # primal name -> adjoint name
    primal_names: dict = field(default_factory=dict)  # adjoint name -> primal name
    facts: ShapeFacts = None
    sites: dict = field(default_factory=dict)  # id(statement) -> Site
    copy_gradient: list = field(default_factory=list)
    tape: str = "tape"  # the name of the list of saved values

    def primal_of(self, adjoint_name):
        """The primal value an adjoint belongs to (an adjoint has its primal's shape), or None."""
        return self.primal_names.get(adjoint_name)


@dataclass
class Site:
    """An assignment inside a loop or branch (or a loop header), which may overwrite a needed value."""

    statement: object
    names: list
    in_loop: bool
    top_index: int  # the index of the top-level statement holding it


# ---- the transformation ----------------------------------------------------------------------------

def reverse(fn: ir.Function, src: FunctionSource, wrt, argument_ranks, backend="xp") -> ReverseFunction:
    facts = ShapeFacts(fn, argument_ranks)
    active = active_values(fn, wrt)
    tape = ir.fresh_name("tape", fn.names | {backend})  # the list of saved values; `tape` unless the code uses it
    names = AdjointNames(fn.names | {backend, tape})
    returned = fn.returned.value
    out_name = returned.id if isinstance(returned, gast.Name) else "result"
    seed = names.get(out_name)
    result = ReverseFunction(fn, list(wrt), backend, seed, facts=facts, tape=tape)
    result.sites = _sites(fn)

    defined = set()
    if isinstance(returned, gast.Name) and returned.id in active:
        defined.add(seed)
    walker = _Reverse(fn, src, facts, active, names, backend, result.sites)
    result.backward = walker.block(fn.body, defined)

    for w in wrt:
        adjoint = names.get(w)
        if adjoint in defined:
            result.gradients.append(ir.name(adjoint))
        else:  # the output does not depend on w
            result.gradients.append(walker.zeros_of(w))
    result.adjoint_names = dict(names.assigned)
    result.primal_names = dict(names.primals)
    return result


class StatementWalker:
    """What a transform walking a function's statements works from (this module's reverse mode and forward.py's
    forward mode): the function, its source, its shapes and active values, its derivatives' names."""

    def __init__(self, fn, src, facts, active, names, backend):
        self.fn = fn
        # dicts written into (`d["k"] = v`): the gradient of a version after a write has no entry for what the
        # write replaced
        self.written_dicts = {s.args[0].id for s in ir.walk(fn.body) if isinstance(s, ir.Assign) and s.primitive == SET_ITEM
                              and isinstance(s.args[0], gast.Name)}
        self.src = src
        self.facts = facts
        self.active = active
        self.names = names
        self.backend = backend

    def source(self, stmt):
        """The source a statement's nodes belong to: a helper's statements are positioned in the helper's file."""
        return stmt.origin.source or self.src

    def error(self, stmt, message, hint=None):
        return self.source(stmt).error(stmt.node, message, hint)


class _Reverse(StatementWalker):
    def __init__(self, fn, src, facts, active, names, backend, sites):
        super().__init__(fn, src, facts, active, names, backend)
        self.sites = sites
        self.used_names = set(fn.names) | {backend, "tape", "tape_2"}
        self.producers = {s.target: s for s in ir.walk(fn.body) if isinstance(s, ir.Assign)}  # name -> its statement

    def block(self, stmts, defined):
        out = []
        for stmt in reversed(stmts):
            out.extend(self.statement(stmt, defined))
        return out

    def statement(self, stmt, defined):
        if isinstance(stmt, ir.Assign):
            return self.assignment(stmt, defined)
        if isinstance(stmt, ir.Unpack):
            if any(t in self.active for t in stmt.targets):
                return self.unpacking(stmt, defined)
            return self.restores(stmt)
        if isinstance(stmt, ir.Effect):
            if any(n in self.active for n in reads([stmt.stmt])) and not is_harmless(stmt, self.fn):
                raise effect_error(self.source(stmt), stmt)
            return []
        if isinstance(stmt, ir.If):
            return self.branch(stmt, defined)
        if isinstance(stmt, ir.Loop):
            return self.loop(stmt, defined)
        return []  # Return, Break: the recorded decisions and counts already tell the path

    def restores(self, stmt):
        site = self.sites.get(id(stmt))
        # the forward pass pushes a site's names in order, so they come off the tape last first
        return [Restore(n, stmt, stmt.origin) for n in reversed(site.names)] if site else []

    # ---- assignments ------------------------------------------------------------------------------

    def assignment(self, stmt, defined):
        out = []
        y = stmt.target
        d_y = self.names.get(y) if y in self.active else None
        # (a value made without active inputs, `acc = np.zeros_like(w)`, starts a new value: nothing flows back)
        flows = not makes_no_gradient(stmt, self.fn) and any(
            n in self.active for n in reads(list(stmt.args) + list(stmt.kwargs.values())))
        if d_y is not None and d_y in defined and flows:
            for argument, value in self.contributions(stmt):
                if isinstance(argument, (gast.Tuple, gast.List)) and any(n in self.active for n in reads([argument])):
                    out.extend(self.sequence_contributions(stmt, argument, value, defined))
                    continue
                if not isinstance(argument, gast.Name):
                    if any(n in self.active for n in reads([argument])):
                        raise self.error(stmt, f"{stmt.display} with a gradient flowing through this "
                                             "argument is not supported", "Pass the arrays as separate arguments.")
                    continue
                if argument.id not in self.active:
                    continue
                if argument.id == y:  # normalisation splits `h = f(h)` inside loops and branches
                    raise SourcegradError(f"internal error: {y} reads itself at {stmt.origin.location}")
                target = self.names.get(argument.id)
                out.append(AdjointStatement(target, value, target in defined, stmt.origin))
                defined.add(target)
        if id(stmt) in self.sites:
            # The value y had before this statement is another value, with a gradient of its own (none yet).
            if d_y is not None:
                defined.discard(d_y)
            out.extend(self.restores(stmt))
        return out

    def sequence_contributions(self, stmt, argument, value, defined, parts_of=None):
        """A rule's `d[arrays] = parts` for a tuple of arrays: each active element gets its part (an element that is
        itself a tuple or list, `[(w1, b1), (w2, b2)]`, its parts in turn)."""
        if not all(isinstance(e, (gast.Name, gast.Constant, gast.Tuple, gast.List)) for e in argument.elts):
            raise self.error(stmt, f"{stmt.display}: write each array of the sequence as a plain name",
                                 "Assign the arrays to names first.")
        parts = self.names.get(f"{parts_of or stmt.target}_parts")
        out = [AdjointStatement(parts, value, False, stmt.origin)]
        for position, element in enumerate(argument.elts):
            part = gast.Subscript(value=ir.name(parts), slice=gast.Constant(value=position, kind=None), ctx=gast.Load())
            if isinstance(element, (gast.Tuple, gast.List)) and any(n in self.active for n in reads([element])):
                out.extend(self.sequence_contributions(stmt, element, part, defined, f"{parts_of or stmt.target}_{position}"))
            elif isinstance(element, gast.Name) and element.id in self.active:
                target = self.names.get(element.id)
                out.append(AdjointStatement(target, part, target in defined, stmt.origin))
                defined.add(target)
        return out

    def unpacking(self, stmt, defined):
        """`a, b = parts` (parts from np.split, say): the gradient of parts is the list of the parts' gradients."""
        if not isinstance(stmt.value, gast.Name) or stmt.value.id not in self.active:
            raise self.error(stmt, "unpacking this value with a gradient is not supported",
                                 "Unpack the result of np.split, or compute each part with its own expression.")
        d_value = self.names.get(stmt.value.id)
        kind = self.fn.kinds.get(stmt.value.id)  # a parameter (or a part of one) known to be a list or tuple
        producer = self.producers.get(stmt.value.id)
        structure = isinstance(kind, tuple) and kind[0] in ("list", "tuple")
        is_list = stmt.of_sequence or structure or record(getattr(producer, "primitive", None)).list_result or (
            # a tuple built in the function (hvp's tangent `t_pair = (t_a, t_b)`): its gradient is one per item
            producer is not None and producer.primitive is COPY and isinstance(producer.args[0], (gast.Tuple, gast.List)))
        if is_list and d_value in defined and not structure:
            # (a list or tuple passed in, read by item or field as well (`w, b = pt` and `pt.b`), has a gradient of
            # its items from each: they are added item by item, xp.add_gradients)
            raise self.error(stmt, f"`{stmt.value.id}` is unpacked and also used whole; its gradient "
                                 "cannot be both a list and an array", "Use only the unpacked parts.")
        parts = []
        for target in stmt.targets:
            d_target = self.names.get(target)
            if target in self.active and d_target in defined:
                parts.append(ir.name(d_target))
            else:
                parts.append(self.zeros_of(target))
        out = []
        if any(isinstance(p, gast.Name) for p in parts):
            gradient = gast.List(elts=parts, ctx=gast.Load())
            if not is_list:
                if producer is not None and ir.TANGENT_HELPER in producer.display:  # hvp: name what is missing
                    self.contributions(producer)
                if not self.facts.rank(stmt.value):
                    raise self.error(stmt, "unpacking this value with a gradient is not supported: sourcegrad "
                                         "cannot tell whether it is an array or a list",
                                         "Unpack an array (its rows) or the result of np.split.")
                gradient = backend_call(self.backend, "stack", [gradient])  # an array's rows: their gradients stacked
            out.append(AdjointStatement(d_value, gradient, d_value in defined, stmt.origin))
            defined.add(d_value)
        if id(stmt) in self.sites:
            for target in stmt.targets:
                defined.discard(self.names.get(target))
        return out + self.restores(stmt)

    def contributions(self, stmt):
        """(argument atom, gradient expression) pairs for one active statement."""
        if stmt.primitive is COPY:
            return [(stmt.args[0], ir.name(self.names.get(stmt.target)))]
        if stmt.primitive is DICT_DISPLAY:  # each value's gradient is the dict's at its key
            keys, entries = stmt.args
            d_dict = ir.name(self.names.get(stmt.target))
            if stmt.target in self.written_dicts:  # a key written over since has no gradient left: zeros of its value
                return [(entry, backend_call(self.backend, "entry_gradient", [d_dict, key, as_expression(entry)]))
                        for key, entry in zip(keys.elts, entries.elts)]
            return [(entry, gast.Subscript(value=d_dict, slice=key, ctx=gast.Load())) for key, entry in zip(keys.elts, entries.elts)]
        if stmt.primitive == SET_ITEM and stmt.display == ir.DICT_WRITE:
            # the entry's gradient as it is (a list's too: nothing was broadcast), zeros where a later write of the
            # key left none; the dict before the write has none at that key
            written, key, value = stmt.args
            d_dict = ir.name(self.names.get(stmt.target))
            return [(written, backend_call(self.backend, "without_index", [d_dict, key])),
                    (value, backend_call(self.backend, "entry_gradient", [d_dict, key, as_expression(value)]))]
        template, args, kwargs = lookup(stmt.primitive, stmt.args, stmt.kwargs)
        if template is None and stmt.primitive is sum:
            raise self.error(stmt, "sum() of a value whose items sourcegrad cannot see here (an array's rows, or a list "
                                   "it cannot tell is one)",
                             "Sum a list or tuple written out or made in the function (`sum([a, b])`, `sum(f(x) for "
                             "x in xs)`), or an array with np.sum(x, axis=0).")
        if template is None and stmt.primitive is sorted:
            raise self.error(stmt, "sorted() of values that carry a gradient: the order depends on the values, and "
                                   "sourcegrad sorts only what is known when it compiles (keys, numbers written out)",
                             "Sort arrays with np.sort (it has a gradient), or sort their keys or positions and index "
                             "with them (np.argsort).")
        if template is None and ir.TANGENT_HELPER in stmt.display:  # hvp, through a tangent rule's runtime helper
            helper, primal = stmt.display.split(ir.TANGENT_HELPER)
            raise self.error(stmt, f"no second derivative through {primal} yet: hvp differentiates its tangent rule, "
                                   f"whose helper {helper} has no gradient rule",
                             "Take hvp, hessian or grad of grad of a function without it (the README's table of rules "
                             "says which functions have second derivatives), or difference f.grad numerically.")
        if template is None and isinstance(stmt.primitive, ir.Method) and stmt.primitive.name in _DICT_METHODS:
            raise self.error(stmt, f"{stmt.display} of a dict sourcegrad cannot tell the keys of here",
                             "The dicts a loop walks (a list of dicts) must hold the same keys, each of one kind, for "
                             "their keys to be known when compiling: give every dict the key (`{'alpha': 1.0, ...}`), or "
                             "read it with `d['key']` where it is surely there.")
        if template is None and isinstance(stmt.primitive, ir.Method):
            raise self.error(stmt, f"no gradient rule for {stmt.display}",
                             "It is an array method sourcegrad has no rule for, or it belongs to an object whose class "
                             "sourcegrad cannot see here (one made inside the function, or a namedtuple, whose methods are "
                             "not written in): call methods of the objects passed in (`model.forward(x)`), or compute the "
                             "value outside the differentiated function. The README lists the methods with rules.")
        if template is None:
            name = stmt.display.strip("`")
            raise self.error(stmt, f"no gradient rule for {stmt.display}",
                                 f"Register one with `@sourcegrad.adjoint({name})` (see the README), wrap the value in "
                                 "sourcegrad.stop_gradient(...) if it needs no gradient, or compute it outside the "
                                 "differentiated function. The README lists the functions sourcegrad has rules for.")
        bindings = template.bind([as_expression(a) for a in args], {k: as_expression(v) for k, v in kwargs.items()})
        if bindings is None and stmt.primitive in (max, min) and len(args) == 1:
            raise extreme_of_unseen_items(self, stmt)
        if bindings is None:
            raise self.error(stmt, f"{stmt.display} is called with arguments its gradient rule does not accept",
                                 f"The rule accepts ({', '.join(template.parameters())}).")
        out = bindings.get("out")
        if out is not None and not (isinstance(out, gast.Constant) and out.value is None):
            raise self.error(stmt, f"{stmt.display} with `out=`: the result is written into that array as well, and "
                                   "a gradient follows the value the call returns, not an array written in place",
                             "Leave out= out and bind the result to a name: `o = np.cumsum(x)`, not "
                             "`np.cumsum(x, out=o)`.")
        pairs = template.instantiate(bindings, stmt.target, self.names.get, self.facts.ranks, self.backend)
        given = {param for param, _ in pairs}
        for param, atom in bindings.items():
            # A parameter the rule treats as not differentiable (an index, an axis, a shape) must carry no
            # gradient here: otherwise its gradient would silently be zero.
            if param not in given and param not in template.zero_gradient and any(n in self.active for n in reads([atom])):
                raise no_gradient_through(self.source(stmt), stmt, param)
        if may_cast_to_integers(stmt.primitive, bindings, self.fn):
            # `np.sum(x, dtype=int)`: numpy casts, and an integer result moves with nothing (known when it runs)
            return [(bindings[param], backend_call(self.backend, "stored_derivative", [value, ir.name(stmt.target)]))
                    for param, value in pairs]
        return [(bindings[param], value) for param, value in pairs]

    # ---- branches ---------------------------------------------------------------------------------

    def branch(self, stmt, defined):
        in_body, in_orelse = set(defined), set(defined)
        body = self.block(stmt.body, in_body)
        orelse = self.block(stmt.orelse, in_orelse)
        # After the branch (before it, in forward order) an adjoint must hold a value on both paths or on neither.
        for adjoint in sorted(in_body - in_orelse):
            orelse.append(self.zeros(adjoint, stmt.origin))
        for adjoint in sorted(in_orelse - in_body):
            body.append(self.zeros(adjoint, stmt.origin))
        defined.clear()
        defined.update(in_body | in_orelse)
        if not body and not orelse:
            return []
        return [ReverseIf(stmt.test, body, orelse, stmt.origin)]

    # ---- loops ------------------------------------------------------------------------------------

    def loop(self, stmt, defined):
        carried = _carried(stmt)
        assigned = {n for s in ir.walk([stmt]) for n in ir.bound_names(s)}
        at_entry = set(defined)

        def private(adjoint):
            # An iteration's own value (a temporary, a loop target): its gradient starts afresh each iteration.
            primal = self.names.primal(adjoint)
            return primal in assigned and primal not in carried and adjoint not in at_entry

        indexed = [(t, s) for t, s in _row_pairs(stmt) if s in self.active and t in self.active]
        if stmt.kind == "for" and any(n in self.active for n in loop_sequences(stmt)):
            # Every item that can carry a gradient must map back to a position in an array it came from
            # (enumerate's counter carries none); otherwise a gradient would reach the item and stop there.
            mapped = {t for t, _ in _row_pairs(stmt)}
            iterable = stmt.iterable
            if isinstance(iterable, gast.Call) and isinstance(iterable.func, gast.Name) and iterable.func.id == "enumerate":
                mapped.add(target_names(stmt.target)[0])
            lost = [t for t in target_names(stmt.target) if t in self.active and t not in mapped]
            if lost:
                raise self.error(stmt, f"the loop's {', '.join(lost)} carr{'ies' if len(lost) == 1 else 'y'} a "
                                     "gradient, but sourcegrad cannot send it back into what the loop walks",
                                     "Loop over an array, a list or a tuple held by a name (or enumerate/zip of "
                                     "those), or over range(len(...)) with indexing.")
        walks_rows = stmt.kind == "for" and not (isinstance(stmt.iterable, gast.Call) and isinstance(stmt.iterable.func, gast.Name)
                                                 and stmt.iterable.func.id == "range")
        index = self.fresh_name(f"i_{target_names(stmt.target)[-1]}") if walks_rows else None
        entry = set(defined)
        zeros, owned = [], []
        while True:
            in_body = set(entry)
            body = self.block(stmt.body, in_body)
            for target, sequence in indexed:
                d_target, d_sequence = self.names.get(target), self.names.get(sequence)
                if d_target in in_body:
                    body.append(IndexAccumulate(d_sequence, index, ir.name(d_target), stmt.origin))
                    in_body.discard(d_target)
            grow = {a for a in in_body - entry if not private(a)}
            grow |= {self.names.get(s) for _, s in indexed} - entry
            if not grow:
                break
            zeros.extend(sorted(grow))
            entry |= grow
        # An adjoint that persists across iterations but lost its value in the body is zero for the next one.
        for adjoint in sorted(entry - in_body):
            body.append(self.zeros(adjoint, stmt.origin))
        for _, sequence in indexed:
            d_sequence = self.names.get(sequence)
            if d_sequence in at_entry:
                owned.append(OwnAdjoint(d_sequence, stmt.origin))
        defined.clear()
        defined.update(entry)
        out = [self.zeros(a, stmt.origin) for a in zeros] + owned
        checkpoint = self.checkpoint(stmt) if stmt.snapshots is not None else None
        out.append(ReverseLoop(stmt, body, index, indexed, stmt.origin, checkpoint))
        out.extend(self.restores(stmt))
        return out

    def checkpoint(self, loop):
        """The Checkpoint of a loop written with sourcegrad.checkpoint: at the function's top level, so that what
        is bound before it is known; every name it carries from one iteration to the next bound before it."""
        if not any(loop is stmt for stmt in self.fn.body):
            raise self.error(loop, "a checkpointed loop must be a statement of the function itself, not inside a "
                                   "loop, a branch or a helper", "Move it to the top level of the function.")
        position = next(i for i, stmt in enumerate(self.fn.body) if stmt is loop)
        surely = set(self.fn.params) | set(self.fn.kwonly)
        maybe = set(surely)
        for stmt in self.fn.body[:position]:
            if not isinstance(stmt, ir.Loop):  # a loop's targets stay unbound when it runs no iteration
                surely |= set(ir.bound_names(stmt))
            maybe |= {n for s in ir.walk([stmt]) for n in ir.bound_names(s)}
        assigned = {n for s in ir.walk(loop.body) for n in ir.bound_names(s)} | set(target_names(loop.target))
        state = sorted((_carried(loop) & assigned) - set(target_names(loop.target)))
        unknown = [n for n in state if n not in surely]
        if unknown:
            raise self.error(loop, f"a checkpointed loop reads {unknown[0]} from before it, where it may not have been "
                                   "assigned", f"Assign {unknown[0]} before the loop on every path.")
        before = sorted((assigned & surely) - set(state))
        return Checkpoint(state, before, sorted((assigned & maybe) - surely - set(state)))

    # ---- helpers ----------------------------------------------------------------------------------

    def zeros(self, adjoint, origin):
        primal = self.names.primal(adjoint)
        return AdjointStatement(adjoint, self.zeros_of(primal), False, origin)

    def zeros_of(self, primal):
        """Zeros in v's shape, of v's dtype when it is a float and float64 otherwise (an integer argument's
        gradient is a float, as its rows' `d_x[i] += g` must keep); for a structure, zeros in its shape."""
        return backend_call(self.backend, "zeros_gradient", [ir.name(primal)])

    def fresh_name(self, base):
        name, n = base, 2
        while name in self.used_names or name in self.names.taken:
            name = f"{base}_{n}"
            n += 1
        self.used_names.add(name)
        return name




def as_expression(atom):
    """An atom as an expression: a slice `1:3` (only valid inside brackets) becomes slice(1, 3, None)."""
    if isinstance(atom, gast.Slice):
        parts = [p if p is not None else gast.Constant(value=None, kind=None) for p in (atom.lower, atom.upper, atom.step)]
        return gast.Call(func=ir.name("slice"), args=parts, keywords=[])
    if isinstance(atom, gast.Tuple):
        return gast.Tuple(elts=[as_expression(e) for e in atom.elts], ctx=gast.Load())
    return atom


_INDEX_TRICKS = {"r_": "np.concatenate([a, b])", "c_": "np.stack([a, b], axis=1) for vectors",
                 "index_exp": None, "s_": None, "mgrid": None, "ogrid": None}


def no_gradient_through(src, stmt, param):
    """The error for an argument that carries a gradient into a parameter the rule gives none."""
    value = stmt.args[0] if stmt.args else None
    if stmt.display.startswith("indexing") and isinstance(value, gast.Attribute) and value.attr in _INDEX_TRICKS:
        instead = _INDEX_TRICKS[value.attr]
        return src.error(stmt.node, f"`np.{value.attr}[...]` with values that carry a gradient is not supported",
                         f"Write {instead}." if instead else "Build the array with numpy functions instead.")
    if stmt.display.startswith("indexing"):
        return src.error(stmt.node, "an index that carries a gradient: an index selects positions and has no gradient",
                         "Compute the index from values that carry no gradient, or wrap it in "
                         "sourcegrad.stop_gradient(...).")
    return src.error(stmt.node, f"{stmt.display}: `{param}` carries a gradient here, but its gradient rule treats "
                                f"`{param}` as not differentiable",
                     f"Compute `{param}` from values that carry no gradient, or wrap it in sourcegrad.stop_gradient(...) "
                     "if a zero gradient through it is what you mean.")


def effect_error(src, effect):
    call = effect.stmt.value if isinstance(effect.stmt, gast.Expr) else None
    method = call.func if isinstance(call, gast.Call) and isinstance(call.func, gast.Attribute) else None
    if method is not None and isinstance(method.value, gast.Name) and method.attr in ("append", "extend", "insert"):
        # (append and extend on a list the function made are new versions of it, normalize.append); the list as the
        # user wrote it (`d["hs"]`), not the generated code's name for it
        name = _written_receiver(src, call, method.attr) or method.value.id
        return src.error(effect.stmt, f"`{name}.{method.attr}(...)` changes the list {name} in place, and a gradient "
                                      "cannot follow a value into a list that way",
                         f"Make a new list instead: `{name} = {name} + "
                         + ("values`." if method.attr == "extend" else "[value]`."))
    if method is not None and method.attr in _IN_PLACE_INSTEAD:
        written = ".".join(attribute_chain(method) or ["", method.attr])
        return src.error(effect.stmt, f"`{written}(...)` changes its array in place and returns None, which cannot "
                                      "be differentiated", f"Compute a new array instead: {_IN_PLACE_INSTEAD[method.attr]}.")
    return src.error(effect.stmt, "a statement whose value is dropped may change an array that carries a gradient in "
                                  "place (a method, a call with out=), which cannot be differentiated",
                     "Assign the result to a name instead (`h = h * 2`, not `np.multiply(h, 2, out=h)`).")


_DICT_METHODS = ("get", "items", "keys", "values")

def _written_receiver(src, call, attr):
    """`d["hs"]` of the user's `d["hs"].append(v)`, read off their line (the call's receiver is a generated name)."""
    lines = src.text.splitlines()
    index, start = getattr(call, "lineno", 0) - 1, getattr(call, "col_offset", None)
    if start is None or not 0 <= index < len(lines):
        return None
    written = lines[index][start:]
    end = written.find(f".{attr}(")
    return written[:end] if end > 0 else None


# numpy's functions and methods that work only in place, and what computes the same as a new array
_IN_PLACE_INSTEAD = {
    "at": "`a = a + onehot.T @ v`, onehot = np.eye(len(a))[idx] (np.add.at's sum over repeated indices), or "
          "`a[idx] = a[idx] + v` where idx has no repeats",
    "fill_diagonal": "`a = a * (1 - np.eye(n)) + value * np.eye(n)`",
    "copyto": "`dst = np.where(mask, src, dst)`, or `dst = src.copy()`",
    "put": "`a[idx] = v` on an array the function made",
    "putmask": "`a = np.where(mask, values, a)`",
    "place": "`a = np.where(mask, values, a)`",
    "fill": "`a = np.full_like(a, value)`",
    "sort": "`a = np.sort(a)`",
}


def _carried(loop):
    """Names an iteration may read before it assigns them, on some path through it: values carried from the
    previous iteration. (A name one branch assigns and the other reads is carried: the read may see the
    value an earlier iteration left.)"""
    carried = set()

    def read(names, written):
        carried.update(n for n in names if n not in written)

    def visit(stmts, written):
        """The names assigned on every path through stmts, given those assigned before them."""
        for stmt in stmts:
            if isinstance(stmt, ir.Assign):
                read(reads(list(stmt.args) + list(stmt.kwargs.values())), written)
                written = written | {stmt.target}
            elif isinstance(stmt, ir.Unpack):
                read(reads([stmt.value]), written)
                written = written | set(stmt.targets)
            elif isinstance(stmt, ir.Effect):
                read(reads([stmt.stmt]), written)
            elif isinstance(stmt, ir.If):
                read(reads([stmt.test]), written)
                written = visit(stmt.body, written) & visit(stmt.orelse, written)
            elif isinstance(stmt, ir.Loop):
                written = visit(stmt.test_body, written)  # a while loop's test runs at least once
                if stmt.kind == "for":
                    read(reads([stmt.iterable]), written)
                    visit(stmt.body, written | set(target_names(stmt.target)))
                else:
                    visit(stmt.body, written)  # the body may not run: what it assigns is not assigned after it
        return written

    written = visit(loop.test_body, frozenset(target_names(loop.target)) if loop.kind == "for" else frozenset())
    visit(loop.body, written)
    return carried


def _row_pairs(loop):
    """(target name, sequence name) for each loop target that is a row of a sequence held by a name."""
    if loop.kind != "for":
        return []
    targets = target_names(loop.target)
    iterable = loop.iterable
    if isinstance(iterable, gast.Name):
        return [(targets[0], iterable.id)] if len(targets) == 1 else []
    if isinstance(iterable, gast.Call) and isinstance(iterable.func, gast.Name):
        if iterable.func.id == "enumerate" and len(targets) == 2 and isinstance(iterable.args[0], gast.Name):
            return [(targets[1], iterable.args[0].id)]
        if iterable.func.id == "zip" and len(targets) == len(iterable.args):
            return [(t, s.id) for t, s in zip(targets, iterable.args) if isinstance(s, gast.Name)]
    return []


def _sites(fn):
    """Every statement inside a loop or branch that binds names, and every loop's own bindings."""
    sites = {}

    def visit(stmts, top_index, in_loop, depth):
        for stmt in stmts:
            if depth > 0 and isinstance(stmt, (ir.Assign, ir.Unpack)):
                sites[id(stmt)] = Site(stmt, ir.bound_names(stmt), in_loop, top_index)
            if isinstance(stmt, ir.Loop):
                bound = ir.bound_names(stmt)
                if bound:
                    sites[id(stmt)] = Site(stmt, bound, in_loop, top_index)
                visit(stmt.test_body, top_index, True, depth + 1)
                visit(stmt.body, top_index, True, depth + 1)
            elif isinstance(stmt, ir.If):
                visit(stmt.body, top_index, in_loop, depth + 1)
                visit(stmt.orelse, top_index, in_loop, depth + 1)

    for index, stmt in enumerate(fn.body):
        visit([stmt], index, False, 0)
    return sites


# Rules that cast to their dtype= themselves (an integer dtype gives a zero gradient there already).
_CASTS = ("astype", "asarray", "array")


def may_cast_to_integers(primitive, bindings, fn) -> bool:
    """Whether a call's dtype= may make its result integers or booleans, whose values move with nothing: any dtype
    but None and a float or complex dtype written out that the function does not rebind (`float`, `np.float32`,
    "float64"; activity.written_dtype resolves it as activity does for an integer one)."""
    dtype = bindings.get("dtype")
    if dtype is None or getattr(primitive, "__name__", None) in _CASTS:
        return False
    if isinstance(dtype, gast.Constant) and dtype.value is None:
        return False
    written = written_dtype(dtype, fn)
    return written is None or written.kind not in "fc"


def extreme_of_unseen_items(walker, stmt):
    """The refusal of `max(xs)` or `min(xs)` whose items the frontend could not write out, for either mode."""
    name = stmt.primitive.__name__
    return walker.error(stmt, f"{name}() of a value whose items sourcegrad cannot see here (an array computed in the "
                              "function, whose rank is not known yet, or a list it cannot tell is one)",
                        f"Use np.{name}(x) for an array (its gradient goes to the first extreme element, as "
                        f"{name}()'s does), bind a 1-D array argument and call {name}() of it, or {name}() a list "
                        "written out.")


def backend_call(backend, attr, args):
    return gast.Call(func=gast.Attribute(value=ir.name(backend), attr=attr, ctx=gast.Load()), args=args, keywords=[])


class AdjointNames:
    """d_<name> for each primal name, never colliding with a name the function uses."""

    def __init__(self, taken, prefix=ADJOINT_PREFIX):
        self.taken = set(taken)
        self.prefix = prefix  # forward mode's tangents: `d_` too, or `t_` beside a gradient's `d_` (hvp)
        self.assigned = {}
        self.primals = {}  # adjoint name -> primal name

    def get(self, primal):
        if primal not in self.assigned:
            candidate = self.prefix + primal
            n = 2
            while candidate in self.taken:
                candidate = f"{self.prefix}{primal}_{n}"
                n += 1
            self.taken.add(candidate)
            self.assigned[primal] = candidate
            self.primals[candidate] = primal
        return self.assigned[primal]

    def primal(self, adjoint):
        return self.primals[adjoint]


__all__ = ["AdjointStatement", "Checkpoint", "StatementWalker", "IndexAccumulate", "OwnAdjoint", "Restore", "ReverseFunction", "ReverseIf", "ReverseLoop",
           "Site", "children", "loop_sequences", "reverse", "walk"]

