"""Normal form: one operation per statement, temporaries named after what they hold.

`return np.square(y_pred - y).sum()` becomes

    y_pred_minus_y = y_pred - y
    square = np.square(y_pred_minus_y)
    sum_square = square.sum()
    return sum_square

A name assigned twice gets a new version (`h`, then `h_2`), so each value the
reverse pass reads is still there when it reads it.

Two jobs live beside this one: naming.py picks the names (temporaries, versions),
and inline.py writes the user's own helper functions into the caller, normalising
their bodies with this module's normaliser.
"""

from __future__ import annotations

import builtins
import collections.abc
import contextlib
import copy
import functools
import inspect
import io
import operator
import tokenize
import types

import gast
import numpy

from .. import ir
from ..errors import SourcegradError
from ..ir import (ATTRIBUTE, BINARY_OPERATORS, COMPARISON, COPY, DICT_DISPLAY, DICT_KEYS, JOIN_SEQUENCES, LOGICAL,
                  REPEAT_SEQUENCE, SET_ITEM, SUBSCRIPT, UNARY_OPERATORS)
from . import control, naming, values
from .inline import Inliner, LocalFunction, stored_names
from .naming import Names
from .resolve import MISSING, CellNamespace, Resolver, describe, is_numpy_module, numpy_path
from .source import FunctionSource
from .syntax import appended_list, attribute_chain, is_atom, root_name, written_names
from ..runtime.checkpoint import checkpoint
from ..templates.registry import RULES, method_returns_new_array, returns_new_array

_OP_SYMBOL = {gast.Add: "+", gast.Sub: "-", gast.Mult: "*", gast.Div: "/", gast.Pow: "**", gast.MatMult: "@",
              gast.FloorDiv: "//", gast.Mod: "%", gast.BitAnd: "&", gast.BitOr: "|", gast.BitXor: "^"}


def normalize(src: FunctionSource, resolver: Resolver, reserved=(), kinds=None, has_aux=False) -> ir.Function:
    """kinds: parameter name -> what is known of its value (frontend.values.describe). has_aux: the function
    returns `value, aux`, and only value is differentiated (ir.Return.aux holds the other)."""
    unsettled = frozenset()
    reserved = frozenset(reserved)
    # Again, at most once per loop whose reads saw a kind its body changes (_Normalizer.unsettled), and at most
    # once per helper that mentions a name already given to a temporary: the generated code has one namespace,
    # so a temporary `total` made before inlining a helper that reads a global `total` hid the global (and a
    # helper calling `helper_0` after an argument held in a temporary `helper_0` came back was refused); the
    # names are reserved from the start the next time
    while True:
        normalizer = _Normalizer(src, resolver, reserved, kinds or {}, has_aux, unsettled)
        try:
            function = normalizer.run()
        except SourcegradError:
            if normalizer.unsettled <= unsettled and normalizer.inliner.clashes <= reserved:
                raise
        else:
            if normalizer.unsettled <= unsettled and normalizer.inliner.clashes <= reserved:
                return function
        unsettled = unsettled | normalizer.unsettled
        reserved = reserved | normalizer.inliner.clashes


class _Normalizer:
    """Normalises one function. Its names come from self.names (naming.Names); a call of one of the user's
    own functions goes to self.inliner (inline.Inliner), which normalises the helper's body with this
    normaliser."""

    def __init__(self, src: FunctionSource, resolver: Resolver, reserved, kinds, has_aux=False, unsettled=frozenset()):
        self.src = src
        self.resolver = resolver
        tree = src.tree
        # `*args` is a parameter like the others, holding a tuple: the generated function takes it as one argument
        self.params = [a.id for a in tree.args.posonlyargs + tree.args.args + [tree.args.vararg] if a is not None]
        self.kwonly = [a.id for a in tree.args.kwonlyargs]
        self.names = Names({n.id for n in gast.walk(tree) if isinstance(n, gast.Name)} | set(reserved), self.params,
                           self.kwonly)
        self.assigned = stored_names(tree, appends=False)  # (what a local name is: reading it first is an error)
        self.body = []
        self.block = self.body  # the statement list being filled
        self.result_name = None
        self.kinds = dict(kinds)  # name -> description of its value, where known (parameters, their parts)
        self.conflicting = set()  # names whose assignments disagree on their kind
        self.owned = set()  # names holding an array (or a list) this function made (a new one, not a view or an alias)
        self.shared_updates = []  # ir.Function.shared_updates
        # name -> the element reads of the array it holds (`a = h[0]`, `h[i, j] > 0`), each a view of that array
        # unless it indexes every axis with an integer, which yields a number: known only once ranks are known
        self.element_reads = {}
        # a temporary holding such a read -> the read: while nothing but operations making new arrays has read the
        # temporary, the read is forgotten once its statement is done (`if h[0].sum() > 0:` then `h[1] = v`)
        self.transient = {}
        self.truths = set()  # names holding a comparison's, `and`/`or`'s or `not`'s result: what an `if` may test
        self.dicts = set()  # names surely holding a dict the function made (`cache = {}`), which it may write into
        # a dict's name -> the constant keys whose values no other value holds (a number, or an array made for the
        # entry): `d[k] += v` on one of these is `d[k] = d[k] + v`, which Python's in-place change then matches
        self.sole_entries = {}
        # a temporary holding a dict's entry -> (the dict, the key, None for any): what keeps the temporary, other
        # than an operation making a new array, holds the entry too
        self.entry_reads = {}
        self.element_read_updates = []  # ir.Function.element_read_updates
        self.loop_assigned = []  # the names each enclosing loop assigns, innermost last
        self.lists = set()  # names surely holding a list: `xs.append(v)` on one of these that is owned is `xs = xs + [v]`
        self.references = {}
        self.closure_cells = {}  # the generated code's name for a closure variable it reads -> the variable's cell
        self.global_roots = set()  # the globals read by name, which no closure variable's name may take
        self.function_aliases = set()  # names the generated code calls numpy functions held by parameters through
        self.item_names = set()  # the names a loop written out item by item binds its items to, one per item
        self.origin = None
        self.inliner = Inliner(self)
        self.local_functions = {}  # name -> LocalFunction: the `def`s met so far in the function being normalised
        self.has_aux = has_aux
        self.root_assigned = set(self.assigned)  # the differentiated function's own, seen from its helpers too
        self.aux_name = None  # with has_aux and returns in branches: the name every branch assigns its aux to
        # (a loop's place, a name it assigns) where the loop's body changes what is known of the name's value
        # (`cache[t] = h` adds a key, `xs = xs + [h]` an item): a read in the body before that change must not
        # take the value for what it was before the loop, so normalize runs again, the name unknown in that loop
        self.unsettled = set(unsettled)
        # `self.cache = x`, `self.running_mean = ...`: attribute name -> {statement number: its places} of the
        # statements that assign it, and -> (statement, its source, the node, its places) of each read; a read that
        # one of those may run before would take the value through the object, where no gradient follows it
        # (checked when all is normalised)
        self.attribute_writes, self.attribute_reads = {}, {}
        # where the statement being normalised is: (a number of its own, "body", "orelse" or "loop") for each branch
        # of an if and each loop it is in, outermost first
        self.places, self.compounds_seen = (), 0
        # a name of the normal form's own -> (the module's dict, the key, the node) it stands for (`ACTS["relu"]`)
        self.functions_of_global_dicts = {}
        self.statement_number, self.statements_seen = 0, 0

    # ---- statements ---------------------------------------------------------

    def run(self) -> ir.Function:
        body = control.structured_body(self.src.tree.body, taken=self.params + self.kwonly,
                                       searches=control.builtin_searches(self.resolver, self.assigned))
        self.names.take({n.id for stmt in body for n in gast.walk(stmt) if isinstance(n, gast.Name)})  # lifted ones
        if not control.always_jumps(body, (gast.Return,)):
            last = body[-1] if body else self.src.tree
            raise self.src.error(last, f"not every path through {self.src.tree.name} ends in `return <value>`",
                                 "Return the value (a scalar loss) to differentiate on every path.")
        self.statements(body)
        self.refuse_reads_of_assigned_attributes()
        if not isinstance(self.body[-1], ir.Return):  # the returns were in branches: return their shared result
            aux = ir.name(self.aux_name) if self.aux_name is not None else None
            self.emit(ir.Return(ir.name(self.result_name), self.body[-1].origin, self.src.tree.body[-1], aux))
        function = ir.Function(
            name=self.src.tree.name,
            params=self.params,
            kwonly=self.kwonly,
            defaults=self._literal_defaults(),
            body=self.body,
            names=self.names.used,
            references=self.references,
            inlined=self.inliner.sources,
            callees=self.inliner.callees,
            kinds=self.kinds,
            closure_cells=self.closure_cells,
            shared_updates=self.shared_updates,
            element_read_updates=self.element_read_updates,
        )
        return function

    def emit(self, stmt, makes_new_array=False):
        if isinstance(stmt, ir.If) and isinstance(stmt.test, gast.Name) and (stmt.test.id not in self.truths or stmt.test.id in {
                name for inner in ir.walk(stmt.body + stmt.orelse) for name in ir.bound_names(inner)}):
            # `if c: c = ...` (and `a and b`, written so): the backward pass takes the branch the forward pass
            # took by reading the test again, so the test must be a name the branch does not rebind; and the
            # generated code keeps the decision as a Python bool (`decision = bool(decision)`), so a value read
            # for more than its truth (`if scale: w = w * scale`) is tested through a name of its own
            decision = self.names.fresh("decision")
            self.block.append(ir.Assign(decision, stmt.test, COPY, (stmt.test,), {}, stmt.origin, stmt.node,
                                        "assignment"))
            stmt.test = ir.name(decision)
        self.block.append(stmt)
        for name in ir.bound_names(stmt, counters=False):
            self.element_reads.pop(name, None)  # the name holds another value now, of which nothing was read
            if isinstance(stmt, ir.Assign) and (stmt.primitive in (COMPARISON, LOGICAL) or stmt.primitive is operator.not_):
                self.truths.add(name)
            else:
                self.truths.discard(name)
            if isinstance(stmt, ir.Assign) and (stmt.primitive is DICT_DISPLAY or stmt.primitive in (SET_ITEM, COPY)
                                                and isinstance(stmt.args[0], gast.Name) and stmt.args[0].id in self.dicts):
                self.dicts.add(name)
            elif not isinstance(stmt, (ir.If, ir.Loop)):  # (what a branch or loop binds, its own statements told)
                self.dicts.discard(name)
            if isinstance(stmt, ir.Assign) and stmt.primitive is COPY and isinstance(stmt.args[0], gast.Name):
                self.sole_entries[name] = self.sole_entries.get(stmt.args[0].id, frozenset())
            elif not isinstance(stmt, (ir.If, ir.Loop)):
                self.sole_entries.pop(name, None)
        if not makes_new_array:
            for name in _names_mentioned(stmt) & set(self.entry_reads):
                self.entry_shared(*self.entry_reads.pop(name))
        if self.transient and not makes_new_array:  # what reads such a temporary may keep the view: so is the read
            for name in _names_mentioned(stmt):
                self.transient.pop(name, None)

    @contextlib.contextmanager
    def placed(self, place):
        """Around the statements of a branch of an if, or of a loop: place added to self.places."""
        outer = self.places
        self.places = outer + (place,)
        try:
            yield
        finally:
            self.places = outer

    @contextlib.contextmanager
    def transient_reads_forgotten(self):
        """Around a statement (or an if's or while's test): afterwards, forget the reads of elements held only by
        temporaries made inside it (the transient ones then), since that statement is done and nothing keeps them."""
        before = set(self.transient)
        yield
        for temporary in set(self.transient) - before:
            _, read = self.transient.pop(temporary)
            # from the array's later versions too: `h[0] = h[0] / s` carries the reads of h over to its new version
            for entries in self.element_reads.values():
                entries[:] = [entry for entry in entries if entry is not read]

    def statements(self, stmts):
        outer = self.statement_number
        for stmt in stmts:
            self.origin = self._origin(stmt)
            self.statements_seen += 1
            self.statement_number = self.statements_seen
            with self.transient_reads_forgotten():
                self.statement(stmt)
        self.statement_number = outer

    def nested(self, stmts):
        """Normalise stmts into a new statement list and return it."""
        outer, self.block = self.block, []
        try:
            self.statements(stmts)
            return self.block
        finally:
            self.block = outer

    def statement(self, stmt):
        decided = self.static_truth(stmt.test) if isinstance(stmt, gast.If) else None
        if decided is not None:  # `if act is not None:` with act known to be None, or a function: one branch
            self.statements(stmt.body if decided else stmt.orelse)
            return
        if isinstance(stmt, gast.For):
            stmt = self.walk_by_key(stmt)
        if isinstance(stmt, gast.For) and self.unrolled(stmt):
            return
        if isinstance(stmt, (gast.If, gast.For, gast.While)):
            self.compound(stmt)
        elif isinstance(stmt, gast.Break):
            self.emit(ir.Break(self.origin, stmt))
        elif isinstance(stmt, gast.Continue):  # only a `continue` that ends the loop body is left: it does nothing
            return
        elif isinstance(stmt, gast.Assign) and _writes_elements_in_turn(stmt):
            self.write_in_turn(stmt)
        elif isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Subscript):
            self.write_element(stmt.targets[0], stmt.value, stmt)
        elif isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Attribute):
            self.write_attribute(stmt.targets[0], stmt.value, stmt)
        elif isinstance(stmt, gast.Assign):
            self.assign(stmt.targets, stmt.value, stmt)
        elif isinstance(stmt, gast.AnnAssign):
            self.assign([stmt.target], stmt.value, stmt)
        elif isinstance(stmt, gast.AugAssign) and isinstance(stmt.target, gast.Subscript):  # `a[i] += v`
            entry = self.updated_entry(stmt)
            element = gast.Subscript(value=stmt.target.value, slice=stmt.target.slice, ctx=gast.Load())
            value = gast.copy_location(gast.BinOp(left=gast.copy_location(element, stmt.target), op=stmt.op, right=stmt.value), stmt)
            self.write_element(stmt.target, value, stmt)
            self.block[-1].entry = entry
        elif isinstance(stmt, gast.AugAssign):
            # `h += b` writes into h's array in Python. The generated code rebinds h to h + b instead, which is
            # the same only when no other name holds that array: so h must hold an array this function made.
            name, symbol = stmt.target.id, _OP_SYMBOL[type(stmt.op)]
            try:
                self.require_owned(name, stmt, f"`{name} {symbol}= ...`",
                                   f"Write `{name} = {name} {symbol} ...`, which makes a new array.")
            except SourcegradError as error:
                if name not in self.names.current:  # a global or the enclosing function's: nothing to wait for
                    raise
                # `i -= 1` where i holds len(x) or another name's integer: no array is shared, known only once
                # the whole function is normalised (every binding of i counts)
                self.shared_updates.append((self.names.current[name], error))
            value = gast.BinOp(left=ir.name(stmt.target.id), op=stmt.op, right=stmt.value)
            gast.copy_location(value, stmt)
            self.update_in_place(name, stmt.target, value, stmt)
        elif isinstance(stmt, gast.Expr) and appended_list(stmt) in self.names.current:
            self.append(stmt)  # (a global list appended to is an effect, refused if a gradient would flow into it)
        elif isinstance(stmt, gast.Expr):
            if isinstance(stmt.value, gast.Constant):
                return  # a docstring or a bare constant does nothing
            effect = gast.copy_location(gast.Expr(value=self.expression_atoms(stmt.value)), stmt)
            self.owned.difference_update(ir.names_in(effect))
            self.emit(ir.Effect(effect, self.origin))
        elif isinstance(stmt, gast.Assert):
            test = self.expression_atoms(stmt.test)
            msg = self.expression_atoms(stmt.msg) if stmt.msg is not None else None
            self.emit(ir.Effect(gast.Assert(test=test, msg=msg), self.origin))
        elif isinstance(stmt, gast.Return) and self.inliner.helpers:
            self.inliner.helper_return(stmt)
        elif isinstance(stmt, gast.Return):
            returned, aux = self.returned_parts(stmt)
            if isinstance(returned, (gast.Tuple, gast.List, gast.Dict)):
                # `return a, b`: a name for the structure, whose gradient (one part per item) the caller gives
                value = ir.name(self.operation(returned, target=self.names.fresh("output")))
            else:
                value = self.atom(returned, hint=None)
            if isinstance(aux, gast.Dict):  # `{"accuracy": acc}`: handed back as it is, each value an atom
                aux = gast.Dict(keys=[gast.Constant(value=k.value, kind=None) for k in aux.keys],
                                values=[self.atom(v, hint=None) for v in aux.values])
            elif aux is not None:
                aux = self.atom(aux, hint=None)
            if self.block is self.body:
                self.emit(ir.Return(value, self.origin, stmt, aux))
            else:  # a return at the end of a branch: every branch assigns the one result, returned at the end
                if self.result_name is None:
                    self.result_name = self.names.fresh("result")
                self.emit_copy(self.result_name, value, stmt)
                if aux is not None:
                    if self.aux_name is None:
                        self.aux_name = self.names.fresh("aux")
                    self.emit_copy(self.aux_name, aux, stmt)
        elif isinstance(stmt, gast.Pass):
            return
        elif isinstance(stmt, gast.FunctionDef):  # written in where it is called
            self.local_functions[stmt.name] = LocalFunction(stmt, self.src)
        else:  # the fence lets nothing else through
            raise self.src.error(stmt, f"internal error: unexpected {type(stmt).__name__} after the fence")

    def assign(self, targets, value, stmt):
        first, *others = targets
        self.refuse_a_local_module(first, value)
        if isinstance(first, gast.Name) and first.id in self.names.pinned and first.id in _loaded_names(value):
            # `h = np.maximum(h, 0)` in a loop or branch: h keeps one name there, and the reverse pass
            # needs the old h and the new one at once. So compute into a temporary, then rebind h.
            temporary = self.operation(value)
            owned, listed = temporary in self.owned, temporary in self.lists
            self.emit_copy(self.names.version(first.id), ir.name(temporary), stmt)
            target = self.names.current[first.id]
            if owned:  # the temporary is ours alone: the array is still this function's own
                self.owned.add(target)
            if listed:
                self.lists.add(target)
        elif isinstance(first, gast.Name):
            target = self.operation(value, assigns=first.id)
        elif any(isinstance(e, gast.Starred) for e in first.elts):
            unpacked = self.starred_unpacking(first, value, chained=bool(others))
            if unpacked is not None:  # (an array's rows are bound there)
                self.assign([unpacked[0], *others], unpacked[1], stmt)
            return
        elif isinstance(value, gast.Call) and self.inliner.inlinable(value) is not None:
            result = self.inliner.inline(self.inliner.inlinable(value), value)
            if isinstance(result, (gast.Tuple, gast.List)) and len(result.elts) != len(first.elts) or not isinstance(
                    result, (gast.Tuple, gast.List, gast.Name)):
                raise self.src.error(value, f"cannot unpack what this call returns into {len(first.elts)} names",
                                     "Return a tuple of that many values.")
            self.assign(targets, result, stmt)
            return
        elif isinstance(value, (gast.Tuple, gast.List)) and len(value.elts) == len(first.elts):
            # `a, b = e1, e2`: every right-hand side is evaluated before any name is rebound, as in
            # Python; new versions are new names, so each element can be computed straight into its own.
            if any(t.id in self.names.pinned for t in first.elts):
                # Inside a loop or branch a name keeps one name, so `a, b = b, a + b` must compute
                # every value into a temporary before it rebinds any name.
                computed = []
                for element in value.elts:
                    atom = self.atom(element, hint=None)
                    if isinstance(atom, gast.Name) and atom.id in {self.names.current.get(t.id) for t in first.elts}:
                        held = self.names.fresh(f"{atom.id}_before")
                        self.emit_copy(held, atom, stmt)
                        atom = ir.name(held)
                    computed.append(atom)
                for t, atom in zip(first.elts, computed):
                    self.emit_copy(self.names.version(t.id), atom, stmt)
                target = None
            else:
                versions = []
                for element, t in zip(value.elts, first.elts):
                    name = self.names.fresh_version(t.id)
                    if is_atom(element):
                        self.emit_copy(name, self.atom(element, hint=None), stmt)
                    else:
                        self.operation(element, target=name)
                    versions.append((t.id, name))
                for user_name, name in versions:
                    self.names.current[user_name] = name
                target = None
        else:
            atom = self.atom(value, hint=None)
            names = [self.names.version(t.id) for t in first.elts]
            of_sequence = isinstance(atom, gast.Name) and (atom.id in self.lists or self.sequence_kind(atom) is not None)
            self.emit(ir.Unpack(names, atom, self.origin, stmt, of_sequence))
            for position, name in enumerate(names):  # `w, b = layer`, `k, v = item`: what each item is, where known
                self.bind_kind(name, values.element(self.kind(atom), position))
            if isinstance(atom, gast.Name) and not of_sequence:
                # `x, v = s` of an array: s[0] and s[1], numbers of a vector but views of a matrix's rows
                for position in range(len(names)):
                    self.element_reads.setdefault(atom.id, []).append((atom.id, gast.Constant(value=position, kind=None)))
            self.owned.difference_update(names)  # each holds an item another value holds too
            self.lists.difference_update(names)
            target = None
        for other in others:  # `a = b = value`
            if target is None:
                raise self.src.error(stmt, "chained assignment with unpacking is not supported", "Split it into two assignments.")
            self.emit_copy(self.names.version(other.id), ir.name(target), stmt)

    # ---- compound statements ------------------------------------------------------------

    def compound(self, stmt):
        """An if, for or while. Each name it assigns keeps one name throughout (pinned), so the
        branches and iterations agree on where a value lives; the reverse pass restores the values
        they overwrite from its tape."""
        newly = [user_name for user_name in _assigned_names(stmt) if self.names.pin(user_name)]
        loop = isinstance(stmt, (gast.For, gast.While))
        if loop:
            self.loop_assigned.append(set(_assigned_names(stmt)))
        try:
            if isinstance(stmt, gast.If):
                with self.transient_reads_forgotten():  # the test is a bool computed once: nothing keeps its views
                    test = self.atom(stmt.test, hint=None)
                origin = self.origin
                owned, lists, dicts, reads = set(self.owned), set(self.lists), set(self.dicts), _copied(self.element_reads)
                sole = dict(self.sole_entries)
                self.compounds_seen += 1
                place = self.compounds_seen
                with self.placed((place, "body")):
                    body = self.nested(stmt.body)
                (owned, self.owned), (lists, self.lists) = (self.owned, owned), (self.lists, lists)
                (dicts, self.dicts), (sole, self.sole_entries) = (self.dicts, dicts), (self.sole_entries, sole)
                reads, self.element_reads = self.element_reads, reads
                with self.placed((place, "orelse")):
                    orelse = self.nested(stmt.orelse)
                self.owned &= owned  # owned after the if: owned on both paths
                self.lists &= lists
                self.dicts &= dicts
                self.sole_entries = _common_entries(self.sole_entries, sole)
                _add_reads(self.element_reads, reads)  # the reads of either path
                self.emit(ir.If(test, body, orelse, origin, stmt))
            else:
                self.loop(stmt)
        finally:
            if loop:
                self.loop_assigned.pop()
            for user_name in newly:
                self.names.unpin(user_name)

    def loop(self, stmt):
        """A for or while loop. What is known of a name it assigns holds in its body only if the body keeps it: a
        name whose value the body changes (`cache[t] = h` adds a key, `xs = xs + [h]` an item) is unknown there in
        the next run (self.unsettled); after the loop, a dict's keys are known where its writes tell them."""
        places = {self.names.pinned[user_name]: (str(self.src.location(stmt)), user_name)
                  for user_name in _assigned_names(stmt)}
        before = {name: self.kinds[name] for name in places if self.kinds.get(name) is not None}
        for name in before:
            if places[name] in self.unsettled:
                self.kinds[name] = None
                self.conflicting.add(name)
        self.compounds_seen += 1
        try:
            with self.placed((self.compounds_seen, "loop")):
                if isinstance(stmt, gast.For):
                    self.for_loop(stmt)
                else:
                    self.while_loop(stmt)
        except SourcegradError:
            # perhaps from a read that took a name for what it held before the loop: normalize tries again without
            self.unsettled.update(places[name] for name in before)
            raise
        for name, place in places.items():
            if name in before and self.kinds.get(name) != before[name]:
                self.unsettled.add(place)
            after = self.loop_dict_kind(stmt, place[1], before.get(name))
            if after is not None:
                self.kinds[name] = after
                self.conflicting.discard(name)

    def loop_dict_kind(self, loop, user_name, before):
        """What a dict the function made holds after a loop that writes its items (`cache[t] = h`), where every
        write is a statement of the body itself (in no branch or inner loop) with a key known for each iteration
        of a range of constants or a tuple of constants: its keys before, then those written, in order (the
        values written are not described). None where the keys are not known so."""
        if not (isinstance(loop, gast.For) and isinstance(before, tuple) and before[0] == "dict"
                and isinstance(loop.target, gast.Name)) or loop.orelse or _has_break(loop.body):
            return None
        writes = []
        for stmt in loop.body:
            if user_name not in _assigned_names(stmt) if isinstance(stmt, (gast.If, gast.For, gast.While)) else \
                    user_name not in written_names(stmt):
                continue
            target = stmt.targets[0] if isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 else \
                getattr(stmt, "target", None)
            if not (isinstance(target, gast.Subscript) and isinstance(target.value, gast.Name)
                    and target.value.id == user_name and user_name != loop.target.id):
                return None
            writes.append(target.slice)
        steps = _constant_steps(loop.iter)
        if steps is None:
            return None
        entries = dict(before[1])
        for step in steps:
            for key in writes:
                key = _key_at(key, {loop.target.id: step})
                if key is None:
                    return None
                entries[key] = None  # (a key written over keeps its place, as in Python's dict)
        return ("dict", tuple(entries.items()))

    def for_loop(self, stmt):
        origin = self.origin
        assigned = _assigned_names(stmt)
        walked, snapshots = self.checkpointed(stmt)
        iterable = self.iterable(walked, assigned)
        # A target the body assigns again (`for row in X: row = np.sin(row)`) gets a name of its own in the
        # header, copied at the top of the body: the reverse loop rebinds header names, the tape the rest.
        reassigned = {n for s in stmt.body for n in _assigned_names(s)}
        header_names = [t.id for t in gast.walk(stmt.target) if isinstance(t, gast.Name)]
        bound = {}
        for user_name in header_names:
            if user_name in reassigned:
                bound[user_name] = self.names.fresh(f"{user_name}_item")
                self.names.current[bound[user_name]] = bound[user_name]  # an internal name, read by the copy below
            else:
                bound[user_name] = self.names.version(user_name)
        if isinstance(stmt.target, gast.Name):
            target = _store(bound[stmt.target.id])
        else:
            target = gast.Tuple(elts=[_store(bound[t.id]) for t in stmt.target.elts], ctx=gast.Store())
        if isinstance(target, gast.Name) and isinstance(iterable, gast.Name):  # `for layer in layers`
            self.bind_kind(target.id, values.items(self.kinds.get(iterable.id)))
        elif isinstance(target, gast.Tuple) and len(target.elts) == 2 and isinstance(iterable, gast.Call) \
                and iterable.func.id == "enumerate" and isinstance(iterable.args[0], gast.Name):
            # `for i, layer in enumerate(layers)`
            self.bind_kind(target.elts[1].id, values.items(self.kinds.get(iterable.args[0].id)))
        has_break = _has_break(stmt.body)
        counter = self.names.fresh(f"n_{_target_word(target)}") if has_break else None
        copies = [gast.copy_location(gast.Assign(targets=[_store(user_name)], value=ir.name(header), type_comment=None), stmt)
                  for user_name, header in bound.items() if header != self.names.pinned.get(user_name)]
        body = self.loop_body(copies + stmt.body)
        self.emit(ir.Loop("for", body, origin, stmt, target=target, iterable=iterable, counter=counter, has_break=has_break,
                          snapshots=snapshots))

    def checkpointed(self, stmt):
        """(what the loop walks, the snapshots atom) for `for t in sourcegrad.checkpoint(range(n), snapshots=s)`;
        (stmt.iter, None) for any other loop."""
        call = stmt.iter
        chain = attribute_chain(call.func) if isinstance(call, gast.Call) else None
        if chain is None or chain[0] in self.names.current or self.resolver.resolve_chain(chain) is not checkpoint:
            return call, None
        arguments = {k.arg: k.value for k in call.keywords}
        arguments.update(zip(("steps", "snapshots"), call.args))
        steps, snapshots = arguments.get("steps"), arguments.get("snapshots")
        if not (isinstance(steps, gast.Call) and isinstance(steps.func, gast.Name) and steps.func.id == "range"
                and self.resolver.lookup("range") is builtins.range) or snapshots is None:
            raise self.src.error(call, "sourcegrad.checkpoint takes a range and a number of snapshots",
                                 "Write `for t in sourcegrad.checkpoint(range(n), snapshots=s):`.")
        if _has_break(stmt.body):
            raise self.src.error(stmt, "a checkpointed loop cannot `break`: its schedule is planned for all its "
                                 "iterations", "Leave out sourcegrad.checkpoint, or compute the count first.")
        return steps, self.atom(snapshots, None)

    def while_loop(self, stmt):
        origin = self.origin
        outer, self.block = self.block, []
        with self.transient_reads_forgotten():  # computed again before each iteration, kept by nothing
            test = self.atom(stmt.test, hint=None)
        test_body, self.block = self.block, outer
        body = self.loop_body(stmt.body)
        counter = self.names.fresh("n_iterations")
        self.emit(ir.Loop("while", body, origin, stmt, test=test, test_body=test_body, counter=counter,
                          has_break=_has_break(stmt.body)))

    def loop_body(self, stmts):
        owned_before, lists_before, reads_before = set(self.owned), set(self.lists), _copied(self.element_reads)
        dicts_before, sole_before = set(self.dicts), dict(self.sole_entries)
        body = self.nested(stmts)
        # An array updated in place (`s += x`) in one iteration must still be this function's own in the next,
        # unless every iteration makes it afresh before the update (`s = np.zeros_like(x); s += x`); so must a
        # list appended to.
        for node in ir.walk(body):
            augmented = getattr(node, "augmented", None)
            if not isinstance(node, ir.Assign) or augmented is None or _assigned_before(stmts, augmented):
                continue
            if getattr(node, "entry", None) is not None and node.entry not in self.sole_entries.get(node.target, ()):
                raise self.entry_update_error(augmented, "in a loop ", "by the next iteration")
            if appended_list(augmented) is not None and not (node.target in self.owned and node.target in self.lists):
                name = appended_list(augmented)
                raise self.src.error(augmented, f"`{name}.{augmented.value.func.attr}(...)` in a loop would change a "
                                     "list that another name holds by the next iteration",
                                     f"Make a new list where another name takes it: `{name} = list({name})`.")
            if node.target not in self.owned:
                self.shared_updates.append((node.target, self.src.error(
                    node.node, f"`{node.target} ...=` in a loop would change an array that another name holds by the "
                               "next iteration", f"Write `{node.target} = {node.target} + ...`.")))
            elif self.element_reads.get(node.target):  # read at the end of one iteration, changed in the next
                self.element_read_updates.append(self.read_elements_error(
                    node.target, augmented, f"`{node.target} ...=` in a loop"))
        self.owned &= owned_before  # the loop may run no iteration at all
        self.lists &= lists_before
        self.dicts &= dicts_before
        self.sole_entries = _common_entries(self.sole_entries, sole_before)
        _add_reads(self.element_reads, reads_before)
        return body

    def iterable(self, node, assigned):
        """The loop's iterable as atoms; a sequence the body reassigns is first given a name of its own."""
        if isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and node.func.id in ("range", "enumerate", "zip") \
                and self.resolver.lookup(node.func.id) is getattr(builtins, node.func.id) and node.func.id not in self.names.current:
            # written by name into the generated code, which runs in the differentiated function's module
            self.inliner.check_global([node.func.id], getattr(builtins, node.func.id), node.func)
            self.references[node.func.id] = getattr(builtins, node.func.id)
            args = []
            for arg in node.args:
                spread = self.arguments([arg]) if isinstance(arg, gast.Starred) else None  # `zip(*pairs)`
                args.extend([self.sequence_atom(a, assigned) for a in map(_held, spread)] if spread is not None
                            else [self.sequence_atom(arg, assigned)])
            keywords = [gast.keyword(arg=k.arg, value=self.atom(k.value, None)) for k in node.keywords]
            if node.func.id == "enumerate" and len(args) == 1 and [k.arg for k in keywords] == ["start"]:
                # enumerate(xs, start=k) as enumerate(xs, k): the one form the passes after this read
                args, keywords = args + [keywords[0].value], []
            return gast.Call(func=ir.name(node.func.id), args=args, keywords=keywords)
        return self.sequence_atom(node, assigned)

    def walked_again(self, node):
        """A loop's sequence, node, as one the backward pass can walk again: an iterator is walked once, so
        `iter(a)` is a itself and `reversed(a)` is a[::-1] (a dict's keys, last first); anything else as it is."""
        if not (isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and node.func.id in ("reversed", "iter")
                and len(node.args) == 1 and not node.keywords and node.func.id not in self.names.current
                and self.resolver.lookup(node.func.id) is getattr(builtins, node.func.id)):
            return node
        inner = node.args[0]
        if self.keys_unknown(inner):  # the keys as they are when the loop starts, a list the backward pass walks again
            keys = _held(self.dict_keys(inner, node))
            if node.func.id == "iter":
                return keys
            backwards = gast.Slice(lower=None, upper=None, step=gast.Constant(value=-1, kind=None))
            return gast.copy_location(gast.Subscript(value=keys, slice=backwards, ctx=gast.Load()), node)
        if node.func.id == "iter":
            return inner
        held = ir.name(self.names.current[inner.id]) if isinstance(inner, gast.Name) and inner.id in self.names.current \
            else None
        if held is not None and isinstance(self.kind(held), tuple) and self.kind(held)[0] == "dict":
            return gast.Tuple(elts=self.items_of(held, node)[::-1], ctx=gast.Load())  # its keys, last first
        backwards = gast.Slice(lower=None, upper=None, step=gast.Constant(value=-1, kind=None))
        return gast.copy_location(gast.Subscript(value=inner, slice=backwards, ctx=gast.Load()), node)

    def sequence_atom(self, node, assigned):
        if self.keys_unknown(node):
            if node.id in assigned:
                raise self.src.error(node, f"a loop over the keys of the dict `{node.id}` that also writes into it or "
                                     "rebinds it: sourcegrad cannot tell its keys here, and Python raises where the "
                                     "loop adds a key", f"Walk a copy of its keys: `for k in list({node.id}):`.")
            return self.dict_keys(node, node)  # `for k in d`: its keys as they are when the loop starts
        walked = self.walked_again(node)
        atom = self.atom(walked, hint="sequence")
        if isinstance(self.kind(atom), tuple) and self.kind(atom)[0] == "dict":  # `for k in d`: its keys
            atom = gast.Tuple(elts=self.items_of(atom, node), ctx=gast.Load())
        if isinstance(atom, (gast.List, gast.Tuple)):
            # a display (`d.values()` is one): the reverse loop sends each item's gradient to a sequence's row
            name = self.names.temporary("items")
            self.emit_copy(name, atom, node)
            return ir.name(name)
        if isinstance(atom, gast.Name) and atom.id in {self.names.current.get(n) for n in assigned}:
            # Python walks the object the name held when the loop started; so does the reverse loop.
            copy_name = self.names.fresh(f"{atom.id}_at_start")
            self.emit_copy(copy_name, atom, node)
            atom = ir.name(copy_name)
        return atom

    # ---- what a name holds ----------------------------------------------------

    def bind_kind(self, target, kind):
        """Record what is known of target's value. A name assigned in several places (in branches, in
        loops) keeps a kind only while every assignment agrees: the facts must hold on every path."""
        if target in self.conflicting:
            return
        if target in self.kinds and self.kinds[target] != kind:
            self.kinds[target] = None
            self.conflicting.add(target)
        else:  # an unknown kind is recorded too: a name known to hold a key here may hold an array elsewhere
            self.kinds[target] = kind

    def emit_copy(self, target, atom, node):
        self.emit(ir.Assign(target, atom, COPY, (atom,), {}, self.origin, node, "assignment"))
        self.bind_kind(target, self.kinds.get(atom.id) if isinstance(atom, gast.Name) else
                       values.NOTHING if _is_none(atom) else self.sequence_kind(atom))
        self.owned.difference_update(ir.names_in(atom))  # two names now hold one array
        self.owned.discard(target)  # ...and the target is one of them, whatever it held before
        self.lists.discard(target)
        if isinstance(atom, gast.Constant):  # `a, t = 1.0, 0.0`: a number no other name holds, so `t += dt` may rebind t
            self.owned.add(target)

    # ---- expressions --------------------------------------------------------

    def atom(self, expr, hint):
        """Return an atom for expr, emitting statements for any operation inside it."""
        if isinstance(expr, gast.Name) and getattr(expr, "held", False):  # a value already normalised (_held)
            return ir.name(expr.id)
        if isinstance(expr, gast.Name):
            if expr.id in self.names.current:
                return ir.name(self.names.current[expr.id])
            if expr.id in self.names.pinned and any(expr.id in names for names in self.loop_assigned):
                # what an earlier iteration bound (`prev`, read under `if i > 0` and assigned after): where no
                # iteration has yet, the generated code raises UnboundLocalError as Python does
                return ir.name(self.names.pinned[expr.id])
            if expr.id in self.assigned:  # Python would raise UnboundLocalError here, not read a global
                raise self.src.error(expr, f"`{expr.id}` is read before it is assigned",
                                     "Assign it first (a local name never refers to the global of the same name).")
            return self.global_reference([expr.id], expr)
        if isinstance(expr, gast.Constant):
            return gast.Constant(value=expr.value, kind=None)
        if isinstance(expr, gast.UnaryOp) and isinstance(expr.op, (gast.USub, gast.UAdd)) and isinstance(expr.operand, gast.Constant) \
                and isinstance(expr.operand.value, (int, float, complex)) and not isinstance(expr.operand.value, bool):
            value = -expr.operand.value if isinstance(expr.op, gast.USub) else expr.operand.value
            return gast.Constant(value=value, kind=None)
        if isinstance(expr, (gast.Tuple, gast.List)):
            return type(expr)(elts=self.arguments(expr.elts), ctx=gast.Load())  # `[*xs, y]` too
        if isinstance(expr, gast.Attribute):
            chain = attribute_chain(expr)
            if chain is not None and chain[0] not in self.names.current:
                return self.global_reference(chain, expr)
        if isinstance(expr, gast.Slice):
            parts = [None if p is None else self.atom(p, hint=None) for p in (expr.lower, expr.upper, expr.step)]
            return gast.Slice(lower=parts[0], upper=parts[1], step=parts[2])
        return ir.name(self.operation(expr, None))

    def expression_atoms(self, expr):
        """Flatten the operands of an expression whose own result is not kept (an expression statement)."""
        if isinstance(expr, gast.Call) and isinstance(expr.func, gast.Name) and expr.func.id in self.local_functions:
            raise self.src.error(expr, f"a call of the nested function `{expr.func.id}` whose result is not used",
                                 "Assign its result to a name; a nested function can only compute a value here.")
        if isinstance(expr, gast.Call):
            chain = attribute_chain(expr.func)
            if isinstance(expr.func, gast.Attribute) and (chain is None or chain[0] in self.names.current):
                # `h.sort()`: the statement reads h itself, so a change to an array with a gradient is seen
                func = gast.Attribute(value=self.atom(expr.func.value, None), attr=expr.func.attr, ctx=gast.Load())
            else:
                func = self.callee_expression(expr.func)
            call = gast.Call(func=func, args=self.arguments(expr.args),
                             keywords=[gast.keyword(arg=k.arg, value=self.atom(k.value, None)) for k in expr.keywords])
            return gast.copy_location(call, expr)
        return self.atom(expr, hint=None)

    def global_reference(self, chain, node):
        """A name (or module attribute) from the function's globals: a constant as far as gradients go."""
        obj = self.resolver.resolve_chain(chain)
        if obj is MISSING:
            raise self.src.error(node, f"name `{'.'.join(chain)}` is not defined",
                                 "Define it at module level or pass it as an argument.")
        root = self.resolver.lookup(chain[0])
        if self.resolver.is_closure_variable(chain[0]):
            # numpy objects are reached through `xp` in the generated code, whatever their name; any other closure
            # variable is read from its cell when the gradient runs, under a name of the generated code's own
            if not (is_numpy_module(root) or numpy_path(root)):
                chain = [self.closure_alias(chain[0], node), *chain[1:]]
            elif self.inliner.helpers:
                # A helper's cell holding numpy's function decides the code written in (`act` is np.tanh or
                # np.sin): guarded as its callees are, so rebinding it recompiles (the differentiated
                # function's own cells are guarded by the compiler).
                cell = self.resolver.cells[chain[0]]
                entry = (CellNamespace(cell), (chain[0],), root)
                if not any(isinstance(g, CellNamespace) and g.cell is cell for g, _, _ in self.inliner.callees):
                    self.inliner.callees.append(entry)
        else:
            self.inliner.check_global(chain, root, node)
            self.global_roots.add(chain[0])
            if chain[0] in self.closure_cells:
                raise self._closure_clash(chain[0], node)
        known = self.references.get(chain[0], MISSING)
        if known is not MISSING and known is not root and not _same_method(known, root):
            # One name, two objects (a closure variable and a helper's global, say): the generated code
            # has one namespace, so a call through that name would reach one of them for both.
            raise self.src.error(node, f"`{chain[0]}` names two different objects in the code written into the "
                                       f"gradient ({_short_repr(known)} and {_short_repr(root)})",
                                 "Rename one of them.")
        # The attributes are read from that one root in the generated code, so they need no check of their
        # own: `W.T` is a new array at each read, the same transpose of the same W.
        self.references[chain[0]] = root
        self.references[".".join(chain)] = obj
        return _chain_expression(chain)

    def function_value(self, func):
        """The function a name of this function holds, where it is known to hold one (a parameter with a
        function for its value, `nonlinearity=np.tanh`), or an attribute of an object passed in (`self.act`,
        set to np.tanh in __init__), else None."""
        if isinstance(func, gast.Name) and func.id in self.names.current:
            function = values.function_of(self.kinds.get(self.names.current[func.id]))
            if function is not None:
                self.refuse_if_rebound(func.id, func, "reaches")
            return function
        if isinstance(func, (gast.Attribute, gast.Subscript)) and root_name(func) in self.names.current:
            return values.function_of(self.static_kind(func))  # `acts[0](h)`, `self.act(h)`
        return None

    def refuse_if_rebound(self, user_name, node, what):
        """A name holding a function that is also assigned in the function: in a loop a call may run before and
        after the rebinding, so which function it reaches depends on the iteration, and the generated code
        would call the first one every time."""
        if self.names.current.get(user_name) in self.item_names:
            return  # one item of a loop written out, bound once (`for act in (np.tanh, relu)`)
        if user_name in self.assigned or user_name in self.root_assigned:
            raise self.src.error(node, f"`{user_name}` holds a function and is assigned in the function: sourcegrad "
                                       f"cannot tell which function this call {what}",
                                 "Give each function a name of its own and use it by that name.")

    def refuse_a_local_module(self, target, value):
        """`xp = np` inside the function: calls through xp (`xp.sum(w)`) would be taken for array methods of a value
        named xp, so they are refused here with what works instead."""
        if not isinstance(target, gast.Name) or not isinstance(value, (gast.Name, gast.Attribute)):
            return
        chain = attribute_chain(value) if isinstance(value, gast.Attribute) else [value.id]
        if chain is None or chain[0] in self.names.current or self.resolver.is_closure_variable(chain[0]):
            return
        if isinstance(self.resolver.resolve_chain(chain), types.ModuleType):
            spelled = ".".join(chain)
            raise self.src.error(value, f"`{target.id} = {spelled}`: a module held by a local name is not supported "
                                 f"(calls through it would be read as methods of a value named {target.id})",
                                 f"Call the module's functions by their own name (`{spelled}.sum(x)`), or bind the "
                                 f"alias at the module's top level (`{target.id} = {spelled}` outside the function), "
                                 "where sourcegrad resolves it.")

    def function_of_a_global_dict(self, expr):
        """`ACTS["tanh"](h)`, ACTS a dict of the module's (no name of this function's) and the key written as a
        constant: the function the dict holds there now, called through a name of the generated code's own as a
        function a parameter holds is (written in, or numpy's through the array module). The compiled gradient is
        guarded on the module's name still holding that dict and the dict that function at that key: a change to
        either compiles again. (The code written differs with the function, which the file's key holds.)"""
        if not (isinstance(expr, gast.Call) and isinstance(expr.func, gast.Subscript)
                and isinstance(expr.func.value, gast.Name)):
            return expr
        name = expr.func.value.id
        if name in self.names.current or self.resolver.is_closure_variable(name):
            return expr
        table = self.resolver.lookup(name)
        if type(table) is not dict:  # a subclass may compute its items (`__getitem__`, `__missing__`)
            return expr
        index = expr.func.slice
        key = index.value if isinstance(index, gast.Constant) else ir.constant_int(index)
        if not isinstance(key, (str, int)) or isinstance(key, bool):
            raise self.src.error(expr.func, f"this calls a function of the module's dict `{name}` picked by a key "
                                 "known only when it runs: sourcegrad writes in the function a call reaches when "
                                 "it compiles", f"Index `{name}` with a key written as a constant "
                                 f"(`{name}[\"tanh\"](h)`), or pick the function before the call and pass it in "
                                 f"(`f(x, act={name}[name])`): a function argument is part of the compiled key.")
        if key not in table or not (values.is_function(table[key]) or isinstance(table[key], functools.partial)):
            # Python's KeyError or TypeError, or the refusal of a call of an unknown value: an object with a
            # __call__ there would be written in reading its attributes through a name the generated code lacks
            return expr
        function = table[key]
        self.inliner.check_global([name], table, expr.func)
        for guard in ((self.resolver.globals, (name,), table), (table, (key,), function)):
            if not any(namespace is guard[0] and chain == guard[1] for namespace, chain, _ in self.inliner.callees):
                self.inliner.callees.append(guard)
        named = getattr(function, "__name__", "")
        if not named.isidentifier():  # a lambda's `<lambda>`: named after the key where that is a name
            named = key if isinstance(key, str) and key.isidentifier() else "function"
        held = self.names.fresh(named)
        self.names.current[held] = held
        self.kinds[held] = values.describe(function)
        self.functions_of_global_dicts[held] = (name, key, expr.func)
        # for the cache key: which function the entry holds (numpy's, or one written in, is keyed as any call's is;
        # one with a rule of the user's is called through the dict), with that rule's source
        template = RULES.get(function) if isinstance(function, collections.abc.Hashable) else None
        rule = template.source() if template is not None and not template.fn.__module__.startswith("sourcegrad.") \
            else None
        # a partial's bound literals are written into the code: they are in the key, by their reprs
        held_as = repr(values.stable(self.kinds[held])) if isinstance(function, functools.partial) else describe(function)
        self.inliner.sources.append((f"{name}[{key!r}]", held_as, rule))
        return gast.copy_location(gast.Call(func=gast.copy_location(ir.name(held), expr.func), args=expr.args,
                                            keywords=expr.keywords), expr)

    def partial_as_its_function(self, expr):
        """`act(z)`, act a functools.partial of f binding literals: `f(*bound, z, **bound_keywords, **keywords)`, f
        called through a name of the generated code's own that holds it (written in, or called with its rule)."""
        if not isinstance(expr, gast.Call) or not isinstance(expr.func, (gast.Name, gast.Attribute, gast.Subscript)) \
                or root_name(expr.func) not in self.names.current:
            return expr
        kind = self.static_kind(expr.func)
        if kind == ("partial", None):
            raise self.src.error(expr, "this calls a functools.partial that binds arrays or objects, or whose function "
                                 "is not one sourcegrad writes in or has a rule for",
                                 "Bind only numbers, strings and None (they are written into the gradient), and pass "
                                 "arrays at the call; or hold a function of your own instead.")
        applied = values.partial_call(kind)
        if applied is None:
            return expr
        function, bound, bound_keywords = applied
        name = self.names.fresh(getattr(function, "__name__", "function"))
        self.names.current[name] = name
        self.kinds[name] = values.describe(function)
        given = {k.arg for k in expr.keywords}
        keywords = [gast.keyword(arg=k, value=gast.Constant(value=v, kind=None)) for k, v in bound_keywords.items()
                    if k not in given]  # a keyword given at the call replaces the bound one, as in Python
        args = [gast.Constant(value=v, kind=None) for v in bound] + expr.args
        return gast.copy_location(gast.Call(func=ir.name(name), args=args, keywords=keywords + expr.keywords), expr)

    def function_callee(self, func, function):
        """What the generated code calls for a name holding function (one with a rule, not inlined): numpy's through
        the array module, any other through the differentiated function's own parameter that holds it."""
        if numpy_path(function) is not None:
            return self.numpy_alias(function)
        if isinstance(func, gast.Attribute):  # `self.act(h)`: through the object, which the generated code holds
            return gast.Attribute(value=self.atom(func.value, None), attr=func.attr, ctx=gast.Load())
        if isinstance(func, gast.Subscript):  # `acts[0](h)`: through the list or dict
            return gast.Subscript(value=self.atom(func.value, None), slice=self.atom(func.slice, None), ctx=gast.Load())
        held = self.names.current[func.id]
        if held in self.params + self.kwonly:
            return ir.name(held)
        if held in self.functions_of_global_dicts:  # `ACTS["relu"](h)`, relu with a rule of its own: through the dict
            name, key, node = self.functions_of_global_dicts[held]
            return gast.Subscript(value=self.global_reference([name], node), slice=gast.Constant(value=key, kind=None),
                                  ctx=gast.Load())
        raise self.src.error(func, f"`{func.id}` holds {getattr(function, '__qualname__', function)!r}, which the "
                             "generated code cannot reach from here", f"Pass {func.id} as an argument of the "
                             "differentiated function, or call the function by its name.")

    def numpy_alias(self, function):
        """A name of the generated code's own for one of numpy's functions, reached through the array module."""
        alias = next((a for a, known in self.references.items() if known is function and a in self.function_aliases),
                     None)
        if alias is None:
            alias = self.names.fresh(numpy_path(function).replace(".", "_"))
            self.function_aliases.add(alias)
            self.references[alias] = function
        return ir.name(alias)

    def stacked_sequences(self, function, args, node):
        """args, with each list or tuple of values that numpy's function takes as an array operand (`np.sum(xs)`,
        `np.maximum(outs, 0)`) stacked first: numpy makes it the array np.stack makes of it, and np.stack's
        gradient gives each item its own. (np.array and np.asarray give a display's items theirs already.)"""
        template = RULES.get(function) if numpy_path(function) is not None else None
        if template is None:
            return args
        stacked = list(args)
        for position, (parameter, atom) in enumerate(zip(template.parameters(), args)):
            display = isinstance(atom, (gast.List, gast.Tuple)) and function not in (numpy.array, numpy.asarray)
            constant = self.constant_array(atom, node) if parameter in ("x", "y", "a", "b") and display else atom
            if constant is not atom:  # `np.dot(x, [[1.0, 2.0], [3.0, 4.0]])`: the array numpy makes of the numbers
                stacked[position] = constant
                continue
            if parameter not in ("x", "y", "a", "b") or not (
                    (display and any(isinstance(n, gast.Name) for n in gast.walk(atom)))
                    or (isinstance(atom, gast.Name) and self.is_sequence(atom))):
                continue
            target = self.names.temporary("stacked")
            call = gast.copy_location(gast.Call(func=self.numpy_alias(numpy.stack), args=[atom], keywords=[]), node)
            self.emit(ir.Assign(target, call, numpy.stack, (atom,), {}, self.origin, node, "`np.stack`"))
            self.owned.difference_update(ir.names_in(atom))
            self.owned.add(target)
            stacked[position] = ir.name(target)
        return stacked

    def constant_array(self, atom, node):
        """atom, or where it is a list or tuple of numbers, a name for the array numpy makes of it: the gradient
        rules then meet the array numpy met (a list has no shape)."""
        if not isinstance(atom, (gast.List, gast.Tuple)) or any(isinstance(n, gast.Name) for n in gast.walk(atom)):
            return atom
        target = self.names.temporary("constant")
        call = gast.copy_location(gast.Call(func=self.numpy_alias(numpy.asarray), args=[atom], keywords=[]), node)
        self.emit(ir.Assign(target, call, numpy.asarray, (atom,), {}, self.origin, node, "`np.asarray`"))
        self.owned.add(target)
        return ir.name(target)

    def closure_alias(self, variable, node):
        """The generated code's name for a closure variable of the function being normalised: its own name in the
        differentiated function, a fresh one in a helper (whose cell is another, or whose name the caller uses)."""
        cell = self.resolver.cells[variable]
        for alias, known in self.closure_cells.items():
            if known is cell:
                return alias
        alias = variable if not self.inliner.helpers and variable not in self.closure_cells else self.names.fresh(variable)
        if alias in self.global_roots:
            raise self._closure_clash(alias, node)
        self.closure_cells[alias] = cell
        return alias

    def _closure_clash(self, name, node):
        return self.src.error(node, f"`{name}` is read both as a variable of an enclosing function and as a global of "
                              "the same name, which the generated code cannot tell apart",
                              "Rename one of them, or pass the value as an argument.")

    def callee_expression(self, func):
        chain = attribute_chain(func)
        if chain is not None and chain[0] not in self.names.current:
            return self.global_reference(chain, func)
        return self.atom(func, hint=None)

    def kind(self, atom):
        if isinstance(atom, gast.Constant) and (isinstance(atom.value, str) or type(atom.value) is int):
            return values.TEXT  # `("w", w)`, `(0, h)`: the key of an item of `d.items()`
        if isinstance(atom, gast.Constant) and atom.value is None:
            return values.NOTHING  # a helper's `act=None` default: `if act is not None:` is decided when compiling
        if isinstance(atom, (gast.List, gast.Tuple)):
            return self.sequence_kind(atom)
        return self.kinds.get(atom.id) if isinstance(atom, gast.Name) else None

    def is_sequence(self, atom):
        """Whether atom is surely a list or tuple: a display, or a value known to be one (a list the function
        built in a loop, say, of a length known only when it runs)."""
        return self.sequence_kind(atom) is not None or self.is_list(atom)

    def sequence_kind(self, atom):
        if isinstance(atom, (gast.List, gast.Tuple)):
            return ("list" if isinstance(atom, gast.List) else "tuple", tuple(self.kind(e) for e in atom.elts))
        kind = self.kind(atom)
        return kind if isinstance(kind, tuple) and kind[0] in ("list", "tuple") else None

    def joined_kind(self, primitive, left, right):
        """What `left + right` or `left * n` makes when it surely makes a list (or tuple), else None."""
        first, second = self.sequence_kind(left), self.sequence_kind(right)
        if primitive is JOIN_SEQUENCES and first is not None and second is not None:
            return (first[0], first[1] + second[1])
        if primitive is REPEAT_SEQUENCE:
            sequence, count = (first, right) if first is not None else (second, left)
            if isinstance(count, gast.Constant) and type(count.value) is int:
                return (sequence[0], sequence[1] * max(count.value, 0))
        return None

    def unrolled(self, stmt):
        """`for layer in layers:` over a list or tuple whose items are objects or functions that differ (a Linear,
        a ReLU, a Linear) or that is empty, written out item by item: each iteration then knows its item's class.
        So are `enumerate(layers)`, `zip(layers, norms)` and `reversed(layers)` of such a list. True if it did so.
        A loop that rebinds the list stays a loop; one with break or continue is refused (its items' calls could
        not be compiled in one loop)."""
        walked = self.items_written_out(stmt.iter, _assigned_names(stmt))
        if walked is None or stmt.orelse:
            return False
        differ, items = walked
        if not differ:
            return False
        jump = next((n for n in gast.walk(gast.Module(body=stmt.body, type_ignores=[]))
                     if isinstance(n, (gast.Break, gast.Continue))), None)
        if jump is not None:
            raise self.src.error(jump, f"`{type(jump).__name__.lower()}` in a loop over items that differ (in class or "
                                       "attributes): sourcegrad writes such a loop out item by item, which has no "
                                       "loop to leave", "Make the items alike, or compute which ones to run before "
                                       "the loop and walk those (`for layer in layers[:k]`).")
        # Inside a branch or another loop the loop's target is pinned: one name for every path. Each item is of
        # another class, so each gets a name of its own; the pinned one is bound to the last only where the target
        # is read outside the loop (as Python leaves it bound to the last item).
        targets = [n.id for n in gast.walk(stmt.target) if isinstance(n, gast.Name)]
        pinned = {name: self.names.pinned.pop(name) for name in targets if name in self.names.pinned}
        for name, held in pinned.items():
            self.names.current[name] = held  # so that each item's assignment takes a new version
        try:
            for item in items:
                header = [gast.copy_location(gast.Assign(targets=[target], value=value, type_comment=None), stmt)
                          for target, value in _paired(copy.deepcopy(stmt.target), item)]
                self.statements(header)
                self.item_names.update(self.names.current[name] for name in targets)
                self.statements(copy.deepcopy(stmt.body))
        finally:
            self.names.pinned.update(pinned)
        read_outside = _loaded_count(self.src.tree, pinned) > _loaded_count(stmt, pinned)
        for name, held in pinned.items():
            if items and read_outside:
                self.emit_copy(held, ir.name(self.names.current[name]), stmt)
            self.names.current[name] = held
        return True

    def items_written_out(self, iterable, assigned):
        """(whether the items differ, the value each iteration binds) for a loop over iterable: a list or tuple
        of the function's whose length and items are known when compiling, or enumerate, zip or reversed of such
        (or a range of a known count beside them); else None."""
        call = self.builtin(iterable.func) if isinstance(iterable, gast.Call) and iterable.args else None
        if call == "reversed" and len(iterable.args) == 1 and not iterable.keywords:
            walked = self.items_written_out(iterable.args[0], assigned)
            return None if walked is None else (walked[0], walked[1][::-1])
        if call == "enumerate":
            given = iterable.args[1:] + [k.value for k in iterable.keywords if k.arg == "start"]
            if len(given) > 1 or any(k.arg != "start" for k in iterable.keywords):
                return None
            start = ir.constant_int(given[0]) if given else 0
            walked = self.items_written_out(iterable.args[0], assigned) if start is not None else None
            if walked is None:
                return None
            return walked[0], [gast.Tuple(elts=[gast.Constant(value=start + i, kind=None), item], ctx=gast.Load())
                               for i, item in enumerate(walked[1])]
        if call == "zip" and not iterable.keywords:
            walked = [self.items_written_out(arg, assigned) for arg in iterable.args]
            if None in walked:
                return None
            return any(differ for differ, _ in walked), [gast.Tuple(elts=list(items), ctx=gast.Load())
                                                         for items in zip(*(items for _, items in walked))]
        if call == "range" and not iterable.keywords and len(iterable.args) <= 3:  # `zip(range(len(layers)), layers)`
            bounds = [self.known_count(arg, assigned) for arg in iterable.args]
            return None if None in bounds else (False, [gast.Constant(value=i, kind=None) for i in range(*bounds)])
        if isinstance(iterable, gast.Subscript) and isinstance(iterable.slice, gast.Slice):  # `self.layers[:-1]`
            walked, bounds = self.items_written_out(iterable.value, assigned), _slice_bounds(iterable.slice)
            if walked is None or bounds is None or bounds[2] == 0:
                return None
            items = walked[1][slice(*bounds)]
            return _differ(("list", tuple(self.static_kind(item) for item in items))), items
        if isinstance(iterable, (gast.List, gast.Tuple)):  # `for layer in (self.fc1, self.act, self.fc2)`
            if not all(self.known_before(e, assigned) for e in iterable.elts):
                return None
            kinds = [self.static_kind(e) for e in iterable.elts]
            return _differ((type(iterable).__name__.lower(), tuple(kinds))), list(iterable.elts)
        if not isinstance(iterable, (gast.Name, gast.Attribute)) or not self.known_before(iterable, assigned):
            return None
        kind = self.static_kind(iterable)
        if not (isinstance(kind, tuple) and kind[0] in ("list", "tuple")):
            return None
        return _differ(kind), [gast.Subscript(value=copy.deepcopy(iterable), slice=gast.Constant(value=index, kind=None),
                                              ctx=gast.Load()) for index in range(len(kind[1]))]

    def known_before(self, expr, assigned):
        """Whether expr reads a name or attribute chain of the function's (`self.layers`, `layers[0]`) that a loop
        assigning `assigned` leaves as it is: what it holds is known when compiling and the same at every item."""
        return root_name(expr) in self.names.current and not _loaded_names(expr) & set(assigned)

    def known_count(self, expr, assigned):
        """The int expr surely is when compiling: a constant, or len() of a sequence whose length is known; else None."""
        if isinstance(expr, gast.Call) and self.builtin(expr.func) == "len" and len(expr.args) == 1 and not expr.keywords:
            walked = self.items_written_out(expr.args[0], assigned)
            return None if walked is None else len(walked[1])
        return ir.constant_int(expr)

    def static_truth(self, test):
        """True or False where the test is decided by what is known when compiling: `act is None`, `act is not
        None` or `act` alone, act a parameter (a helper's too) or an attribute of one known to be None or to be a
        function, an array, a number, a structure (a call's key tells which); else None. The branch not taken
        then is not compiled: it may call act, which is None."""
        negate = False
        while isinstance(test, gast.UnaryOp) and isinstance(test.op, gast.Not):
            test, negate = test.operand, not negate
        if isinstance(test, gast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], (gast.Is, gast.IsNot)):
            left, right = test.left, test.comparators[0]
            subject = left if _is_none(right) else right if _is_none(left) else None
            if subject is None:
                return None
            truth = self.none_or_not(subject)
            if truth is None:
                return None
            truth = truth if isinstance(test.ops[0], gast.Is) else not truth
        elif isinstance(test, gast.Call) and self.builtin(test.func) == "hasattr" and len(test.args) == 2 \
                and not test.keywords and isinstance(test.args[1], gast.Constant) and isinstance(test.args[1].value, str):
            # `hasattr(layer, "w")` of an object whose class is known: decided when compiling, per layer
            kind = self.static_kind(test.args[0]) if isinstance(test.args[0], (gast.Name, gast.Attribute, gast.Subscript)) else None
            cls = values.class_of(kind)
            if cls is None:
                return None
            name = test.args[1].value
            truth = values.instance_holds(kind, name) or inspect.getattr_static(cls, name, _ABSENT) is not _ABSENT
        else:
            kind = self.static_kind(test) if isinstance(test, (gast.Name, gast.Attribute)) else None
            if kind == values.NOTHING:
                truth = False
            elif values.function_of(kind) is not None:  # a function is true
                truth = True
            else:
                return None
        return truth != negate

    def none_or_not(self, expr):
        """Whether expr (a name or attribute chain of the function's) surely is None (True), surely is not
        (False), or may be either (None)."""
        if not isinstance(expr, (gast.Name, gast.Attribute)):
            return None
        if isinstance(expr, gast.Name) and expr.id not in self.names.current:
            return None
        kind = self.static_kind(expr)
        if kind == values.NOTHING:
            return True
        return False if values.is_known_not_none(kind) else None

    def inlined_callee(self, expr):
        """The user's function expr runs, to be written in: a helper or method it calls, or the getter of a
        property it reads (`model.scaled`); else None."""
        if isinstance(expr, gast.Call):
            return self.inliner.inlinable(expr)
        if isinstance(expr, gast.Attribute):
            return self.inliner.property_getter(expr)
        return None

    def static_kind(self, expr):
        """What is known of `model.linear1` or `params["w1"]` before any statement computes it."""
        if isinstance(expr, gast.Name):
            return self.kinds.get(self.names.current.get(expr.id))
        if isinstance(expr, gast.Attribute):
            return values.element(self.static_kind(expr.value), expr.attr)
        if isinstance(expr, gast.Subscript) and isinstance(expr.slice, gast.Constant):
            return values.element(self.static_kind(expr.value), expr.slice.value)
        if isinstance(expr, gast.Subscript) and ir.constant_int(expr.slice) is not None:  # `layers[-1]`
            return values.element(self.static_kind(expr.value), ir.constant_int(expr.slice))
        if isinstance(expr, gast.Subscript) and isinstance(expr.slice, gast.Slice):  # `args[1:]`
            return values.sliced(self.static_kind(expr.value), _slice_bounds(expr.slice))
        if isinstance(expr, gast.Subscript):  # `layers[i]`, `blocks[k]`: what every item is, where they are alike
            return values.indexed(self.static_kind(expr.value))
        return None

    def operation(self, expr, target=None, assigns=None):
        """Emit `target = <expr with atom operands>` and return the target's name.

        With `assigns`, the target is a new version of that user name, taken only after the
        operands are read (`a = a + b` reads the old a).
        """
        # builtins, literals and partials as what they compute, in operations that have rules; each rewrite takes
        # the expression as the ones before it left it, and leaves alone what it does not rewrite
        for rewrite in (self.applied_lambda, self.transposed_zip, self.mapped_as_a_display, self.sum_of_a_display_as_additions,
                        self.extremes_as_pairs, self.row_concatenation_as_call, self.function_of_a_global_dict,
                        self.partial_as_its_function,
                        self.structures_as_displays):
            expr = rewrite(expr)
        if isinstance(expr, gast.Call) and isinstance(expr.func, gast.Attribute) \
                and self.inliner.property_getter(expr.func) is not None:
            # `model.first(x)`, first a property returning a layer: its getter written in, then the layer called
            held = self.atom(expr.func, None)
            expr = gast.copy_location(gast.Call(func=_held(held), args=expr.args, keywords=expr.keywords), expr)
        if isinstance(expr, gast.BoolOp) and not all(is_atom(v) for v in expr.values[1:]):
            return self.short_circuit(expr, target, assigns)
        if isinstance(expr, gast.Compare) and not all(is_atom(c) for c in expr.comparators[1:]):
            return self.chained_comparison(expr, target, assigns)
        node = expr
        result_kind = None
        if isinstance(expr, gast.BinOp):
            left, right = self.atom(expr.left, None), self.atom(expr.right, None)
            if isinstance(expr.op, gast.MatMult) or any(isinstance(self.kind(a), int) and self.kind(a) >= 1
                                                         for a in (left, right)):
                # `x @ [1.0, 2.0]`, or `x * [1.0, 2.0]` with x surely an array (of rank 1 or more): numpy's
                # operation on the array it makes of the numbers, not a list repeated or joined
                left, right = (self.constant_array(a, expr) for a in (left, right))
            primitive = BINARY_OPERATORS[type(expr.op)]
            if self.is_sequence(left) or self.is_sequence(right):  # list `+` and `*` have gradients of their own
                primitive = {operator.add: JOIN_SEQUENCES, operator.mul: REPEAT_SEQUENCE}.get(primitive, primitive)
                result_kind = self.joined_kind(primitive, left, right)
            new = gast.BinOp(left=left, op=expr.op, right=right)
            args, kwargs = (left, right), {}
            hint = naming.binary_hint(expr.op, left, right)
            display = f"the `{_OP_SYMBOL[type(expr.op)]}` operator"
        elif isinstance(expr, gast.UnaryOp):
            operand = self.atom(expr.operand, None)
            primitive = UNARY_OPERATORS[type(expr.op)]
            new = gast.UnaryOp(op=expr.op, operand=operand)
            args, kwargs = (operand,), {}
            hint = naming.unary_hint(expr.op, operand)
            display = f"unary `{naming.UNARY_WORDS[type(expr.op)]}`"
        elif isinstance(expr, gast.Compare):
            left = self.atom(expr.left, None)
            comparators = [self.atom(c, None) for c in expr.comparators]
            new = gast.Compare(left=left, ops=expr.ops, comparators=comparators)
            primitive, args, kwargs = COMPARISON, (left, *comparators), {}
            hint = naming.comparison_hint(left, expr.ops, comparators)
            display = "a comparison"
        elif isinstance(expr, gast.BoolOp):
            operands = [self.atom(v, None) for v in expr.values]
            new = gast.BoolOp(op=expr.op, values=operands)
            primitive, args, kwargs, hint, display = LOGICAL, tuple(operands), {}, "condition", "`and`/`or`"
        elif _is_element_write(expr):
            x, index, value = (self.atom(a, None) for a in expr.args)
            new = gast.Call(func=ir.name(_ELEMENT_WRITE), args=[x, index, value], keywords=[])
            primitive, args, kwargs = SET_ITEM, (x, index, value), {}
            result_kind = _with_entry(self.kind(x), index, self.kind(value))
            for name in set(ir.names_in(value)) & set(self.entry_reads):
                # the value is or holds an entry of a dict (`d["h"] = d["g"]`, `d["h"] = [d["g"]]`): that entry is
                # held twice from now on, which the new version of d, if it is that dict, must know before it takes
                # d's entries held alone
                self.entry_shared(*self.entry_reads.pop(name))
            # the entries after the write held by the dict alone, where x is a dict: the value is one if it is a
            # number or a new array no name of the user's holds
            sole = self.sole_entries.get(x.id, frozenset()) - {_key_at(index, {})} if isinstance(x, gast.Name) else None
            if sole is not None and _key_at(index, {}) is None:
                # a key known only when it runs (`d[t] = h` in a loop) may be any of them: a value the dict alone
                # holds keeps every entry so, whichever it replaces; another may put a shared value at any key
                sole = self.sole_entries.get(x.id, frozenset()) if self.made_for_an_entry(value) else frozenset()
            elif sole is not None and self.made_for_an_entry(value):
                sole = sole | {_key_at(index, {})}
            hint = x.id if isinstance(x, gast.Name) else "written"
            display = ir.DICT_WRITE if isinstance(x, gast.Name) and x.id in self.dicts else \
                "writing into an array (`a[...] = ...`)"
        elif (fn := self.inlined_callee(expr)) is not None:
            if isinstance(expr, gast.Attribute):  # a property's getter, called with the object
                expr = gast.copy_location(gast.Call(func=expr, args=[], keywords=[]), expr)
            chosen = {}

            function_name = (fn[0] if isinstance(fn, tuple) else fn).__name__
            if not function_name.isidentifier():  # a lambda: its result is named after the name it is called by
                chain = attribute_chain(expr.func)
                function_name = chain[-1] if chain is not None else "result"

            def into():  # the name the helper's result gets, chosen once the call's arguments are read
                if "name" not in chosen:
                    chosen["name"] = self.names.version(assigns) if assigns is not None else target or \
                        self.names.named_after(function_name)
                return chosen["name"]

            new = self.inliner.inline(fn, expr, into)
            # several values (`return a, b`): the name holds their tuple, read by index (`two(x)[0]`) as any is
            if isinstance(new, gast.Name) and new.id == chosen.get("name"):
                return new.id  # the helper computed its result straight into the name
            target, assigns = into(), None
            primitive, args, kwargs, hint, display = COPY, (new,), {}, "value", "assignment"
        elif isinstance(expr, gast.Call):
            new, primitive, args, kwargs, hint, display = self.call(expr)
        elif isinstance(expr, gast.Attribute):
            receiver = self.atom(expr.value, None)
            self.attribute_reads.setdefault(expr.attr, []).append((self.statement_number, self.src, expr, self.places))
            new = gast.Attribute(value=receiver, attr=expr.attr, ctx=gast.Load())
            hint = f"{receiver.id}_{expr.attr}" if isinstance(receiver, gast.Name) else expr.attr
            if values.class_of(self.kind(receiver)) is not None:  # an object's attribute: `model.w1`
                primitive, args, kwargs = ATTRIBUTE, (receiver, gast.Constant(value=expr.attr, kind=None)), {}
                result_kind = values.element(self.kind(receiver), expr.attr)
            elif values.field_index(self.kind(receiver), expr.attr) is not None:  # `params.w1` of a namedtuple
                position = values.field_index(self.kind(receiver), expr.attr)
                primitive, args, kwargs = SUBSCRIPT, (receiver, gast.Constant(value=position, kind=None)), {}
                result_kind = values.element(self.kind(receiver), position)
            else:
                primitive, args, kwargs = ir.Method(expr.attr, is_call=False), (receiver,), {}
            display = f"the attribute `.{expr.attr}`"
        elif isinstance(expr, gast.Subscript):
            value = self.atom(expr.value, None)
            index = self.atom(expr.slice, None)
            if isinstance(index, gast.Constant) or ir.constant_int(expr.slice) is not None:  # `params["w1"]`, `layers[-1]`
                key = index.value if isinstance(index, gast.Constant) else ir.constant_int(expr.slice)
                result_kind = values.element(self.kind(value), key)
            elif isinstance(index, gast.Slice):  # `params[:-1]`, `args[1:]`: the items it keeps, where known
                result_kind = values.sliced(self.kind(value), _slice_bounds(index))
            else:  # `layers[i]`, `blocks[k]`: what every item of the list (value of the dict) is, where they are alike
                result_kind = values.indexed(self.kind(value))
            key = index.value if isinstance(index, gast.Constant) and isinstance(index.value, (str, int)) else None
            new = gast.Subscript(value=value, slice=index, ctx=gast.Load())
            primitive, args, kwargs = SUBSCRIPT, (value, index), {}
            hint = (f"{value.id}_{key}" if key is not None and str(key).isidentifier() else f"{value.id}_item") \
                if isinstance(value, gast.Name) else "item"
            display = "indexing (`a[...]`)"
        elif isinstance(expr, gast.Dict):  # `{"w": w, "b": b}`: a dict of its values (what Python makes of a repeated key)
            entries = {key.value: self.atom(value, None) for key, value in zip(expr.keys, expr.values)}
            keys = [gast.Constant(value=key, kind=None) for key in entries]
            new = gast.Dict(keys=keys, values=list(entries.values()))
            primitive, kwargs = DICT_DISPLAY, {}
            args = (gast.Tuple(elts=keys, ctx=gast.Load()), gast.Tuple(elts=list(entries.values()), ctx=gast.Load()))
            result_kind = ("dict", tuple((key, self.kind(value)) for key, value in entries.items()))
            sole = frozenset(key for key, value in entries.items() if self.made_for_an_entry(value))
            hint, display = "entries", "a dict literal"
        elif isinstance(expr, (gast.Name, gast.Constant, gast.Tuple, gast.List, gast.JoinedStr)) or (
                isinstance(expr, gast.UnaryOp)):
            new = self.atom(expr, None) if not isinstance(expr, gast.JoinedStr) else expr
            primitive, args, kwargs, hint, display = COPY, (new,), {}, "value", "assignment"
            if isinstance(new, (gast.List, gast.Tuple)):  # `tuple(xs)`, `d.items()`, a comprehension's start
                hint = "items"
        elif isinstance(expr, gast.Lambda):  # let through by the fence for map and max, but not written in there
            raise self.src.error(expr, "this lambda is passed where sourcegrad cannot write its calls in: to map over "
                                 "a list whose length it does not know here (built in a loop, say), or to a map, "
                                 "max or min that is not the builtin",
                                 "Write a list comprehension (`[f(a) for a in xs]`), or define the function with "
                                 "`def` at the top of the function's body.")
        else:
            raise self.src.error(expr, f"internal error: unexpected {type(expr).__name__} after the fence")
        gast.copy_location(new, node)
        if isinstance(primitive, ir.Method):
            makes_new_array = primitive.is_call and method_returns_new_array(primitive.name, kwargs, len(args))
        else:
            makes_new_array = isinstance(expr, (gast.BinOp, gast.UnaryOp, gast.Compare)) or (
                primitive is COPY and isinstance(new, gast.Constant)) or returns_new_array(primitive, kwargs, len(args))
        if assigns is not None:
            target = self.names.version(assigns)
        temporary = assigns is None and target is None
        if temporary:
            target = self.names.temporary(hint)
        is_list = self.is_list(new) or (primitive in (JOIN_SEQUENCES, REPEAT_SEQUENCE) and all(
            self.is_list(a) for a in args if not (isinstance(a, gast.Constant) or self.kind(a) == 0))) or (
            primitive == SET_ITEM and self.is_list(args[0]))  # `xs[0] = v` of a list: a new list (xp.set_item copies)
        # a list or dict holds its items: a view among them is kept, as by any other value that is no new array
        holds_operands = is_list or primitive in (JOIN_SEQUENCES, REPEAT_SEQUENCE, DICT_DISPLAY) or (
            primitive == SET_ITEM and isinstance(args[0], gast.Name) and args[0].id in self.dicts)
        self.emit(ir.Assign(target, new, primitive, tuple(args), dict(kwargs), self.origin, node, display),
                  makes_new_array=makes_new_array and not holds_operands)
        if primitive is COPY and isinstance(new, gast.Name):
            result_kind = self.kinds.get(new.id)
        elif primitive is COPY and isinstance(new, (gast.List, gast.Tuple)):  # `outs = [w, x]`: known to be a list
            result_kind = self.sequence_kind(new)
        self.bind_kind(target, result_kind)
        if primitive in (SET_ITEM, DICT_DISPLAY) and target in self.dicts:
            self.sole_entries[target] = sole
        operands = ir.names_in(gast.Tuple(elts=list(args) + list(kwargs.values()), ctx=gast.Load()))
        self.lists.discard(target)
        if holds_operands:
            # a new list or dict (or, for `+` and `*` beside an array, a new array); its items are held by it too now
            self.owned.difference_update(operands)
            self.owned.add(target)
            if is_list:
                self.lists.add(target)
        elif makes_new_array:
            self.owned.add(target)
        else:  # the result may be a view or an alias of any operand: those arrays are shared from now on
            if primitive in (SUBSCRIPT, builtins.len) and isinstance(args[0], gast.Name) and args[0].id in self.lists:
                operands.remove(args[0].id)  # an item or a slice of a list, or its length: the list is not shared
            if primitive is builtins.len or isinstance(primitive, ir.Method) and primitive in _DESCRIPTIONS:
                operands = []  # a count or a shape: numbers, which share no array (`n = len(u)` before `u[i] = v`)
            if primitive is SUBSCRIPT and isinstance(args[0], gast.Name) and args[0].id in self.dicts:
                operands = [name for name in operands if name != args[0].id]  # a dict's entry: the dict is not shared
                if temporary:  # held only as long as what reads the temporary makes new arrays
                    self.entry_reads[target] = (args[0].id, _key_at(args[1], {}))
                else:
                    self.entry_shared(args[0].id, _key_at(args[1], {}))
            elif primitive is SUBSCRIPT and isinstance(args[0], gast.Name) and args[0].id in operands \
                    and _may_index_elements(args[1], args[0].id):
                # `h[0]` is a number if h has one axis and a view of h if it has more: ranks are known only after
                # normalisation, so a later change of h in place is decided then (analysis.shapes)
                read = (args[0].id, args[1])
                self.element_reads.setdefault(args[0].id, []).append(read)
                operands = [name for name in operands if name != args[0].id]
                if temporary:
                    self.transient[target] = (args[0].id, read)
            self.owned.difference_update(operands)
            self.owned.discard(target)  # a name a loop or branch keeps may have held an array of ours before
        return target

    def call(self, expr):
        func = expr.func
        if isinstance(func, gast.Name) and func.id == "super" and func.id not in self.names.current \
                and self.resolver.lookup("super") is builtins.super:
            # the generated function is not a method of the class: it has no `__class__` for super() to find
            raise self.src.error(expr, "super() cannot be used in code sourcegrad differentiates",
                                 "Call the base class's method by name: `Base.forward(self, x)`.")
        if self.builtin(func) == "vars" and expr.args:
            # `vars(obj)["a"]` reads obj.a through its __dict__, past what sourcegrad follows of attributes (a
            # value the function stored there and read back so would carry no gradient)
            raise self.src.error(expr, "vars(obj) reads an object's attributes through its __dict__, which "
                                 "sourcegrad does not follow", "Read the attribute by name: `obj.a`.")
        expr = self.nested_rows_as_arrays(expr)
        args = self.arguments(expr.args)
        kwargs = {k.arg: self.atom(k.value, None) for k in expr.keywords}
        keywords = [gast.keyword(arg=k, value=v) for k, v in kwargs.items()]
        chain = attribute_chain(func)
        function = self.function_value(func)
        if isinstance(func, gast.Attribute) and (chain is None or chain[0] in self.names.current) and function is None:
            # A method of a value computed in this function: `x.sum(axis=1)`.
            receiver = self.atom(func.value, None)
            new = gast.Call(func=gast.Attribute(value=receiver, attr=func.attr, ctx=gast.Load()), args=args, keywords=keywords)
            hint = f"{func.attr}_{receiver.id}" if isinstance(receiver, gast.Name) else func.attr
            return new, ir.Method(func.attr), (receiver, *args), kwargs, hint, f"the method `.{func.attr}()`"
        if function is not None:
            callee, obj = self.function_callee(func, function), function
            chain = [func.id] if isinstance(func, gast.Name) else chain or [getattr(function, "__name__", "function")]
        elif chain is None or chain[0] in self.names.current:
            if isinstance(func, gast.Name):  # `act = np.sin` in a loop that calls act: say why it is unknown
                self.refuse_if_rebound(func.id, func, "reaches")
            raise self.src.error(func, "sourcegrad cannot tell here which function or object this calls",
                                 "Call a function defined at module level, or a function or object passed in (or held "
                                 "by one) whose kind is known when compiling: the items of a list walked by a loop or "
                                 "indexed by a variable must be alike (one class, the same attributes), so index "
                                 "differing ones with constants or give each a name; a value computed inside the "
                                 "function, or None, cannot be called.")
        else:
            if self.resolver.resolve_chain(chain) is checkpoint:
                raise self.src.error(expr, "sourcegrad.checkpoint(...) is the iterable of a `for` loop itself",
                                     "Write `for t in sourcegrad.checkpoint(range(n), snapshots=s):`; t counts the "
                                     "iterations (enumerate is not needed).")
            callee = self.global_reference(chain, func)
            obj = self.references[".".join(chain)]
        args = self.stacked_sequences(obj, args, expr)
        new = gast.Call(func=callee, args=args, keywords=keywords)
        first = args[0] if args else None
        hint = f"{chain[-1]}_{first.id}" if isinstance(first, gast.Name) else chain[-1]
        return new, obj, tuple(args), kwargs, hint, f"`{'.'.join(chain)}`"

    def result_named(self, result, expr, target, assigns):
        """result (a short circuit's temporary), copied to the name the caller asked for, if it asked for one."""
        if assigns is not None or target is not None:
            name = self.names.version(assigns) if assigns is not None else target
            self.emit_copy(name, ir.name(result), expr)
            return name
        return result

    def chained_comparison(self, expr, target=None, assigns=None):
        """`a < b < c[i]` where a later operand is a computation: each operand computed once, and only while the
        comparisons before it hold, as Python does (`i < n < len(xs[i])`), each later one inside an `if`."""
        result = self.names.temporary("condition")
        right = self.atom(expr.comparators[0], None)
        first = gast.Compare(left=expr.left, ops=expr.ops[:1], comparators=[_held(right)])
        self.emit_copy(result, self.atom(gast.copy_location(first, expr), None), expr)
        for op, comparator in zip(expr.ops[1:], expr.comparators[1:]):
            outer, self.block = self.block, []
            try:
                left, right = right, self.atom(comparator, None)
                test = gast.Compare(left=_held(left), ops=[op], comparators=[_held(right)])
                self.emit_copy(result, self.atom(gast.copy_location(test, comparator), None), comparator)
            finally:
                body, self.block = self.block, outer
            self.emit(ir.If(ir.name(result), body, [], self.origin, expr))
        return self.result_named(result, expr, target, assigns)

    def short_circuit(self, expr, target=None, assigns=None):
        """`a and b` or `a or b` where b is a computation: b computed only where a leaves the result open, as
        Python does (`i < n and x[i] > 0` reads x[i] only while i < n), each later operand inside an `if`; the
        result is the operand that decided it, as Python's is."""
        result = self.names.temporary("condition")
        self.emit_copy(result, self.atom(expr.values[0], None), expr)
        for value in expr.values[1:]:
            test = ir.name(result)
            if isinstance(expr.op, gast.Or):  # the next operand counts only where the result so far is false
                test = ir.name(self.operation(gast.copy_location(gast.UnaryOp(op=gast.Not(), operand=_held(test)), expr)))
            outer, self.block = self.block, []
            try:
                self.emit_copy(result, self.atom(value, None), value)
            finally:
                body, self.block = self.block, outer
            self.emit(ir.If(test, body, [], self.origin, expr))
        return self.result_named(result, expr, target, assigns)

    def returned_parts(self, stmt):
        """(what is differentiated, the auxiliary output or None) of the differentiated function's `return`."""
        several = isinstance(stmt.value, (gast.Tuple, gast.List))
        if not self.has_aux:  # `return a, b` is differentiated as a whole: its gradient is a tuple (grad_output=)
            return stmt.value, None
        if not (several and len(stmt.value.elts) == 2) or any(isinstance(e, gast.Starred) for e in stmt.value.elts):
            raise self.src.error(stmt.value, "with has_aux=True the function returns two values, `loss, aux`",
                                 "Return the value to differentiate and the auxiliary output as a pair; put several "
                                 "auxiliary values in a tuple or dict: `return loss, (a, b)`.")
        return stmt.value.elts[0], stmt.value.elts[1]

    def require_owned(self, name, stmt, what, hint, noun="array"):
        """Refuse a change in place (`h += b`, `h[i] = v`, `xs.append(v)`) unless name holds an array (a list, for
        noun "list") this function made and no other name holds: the generated code rebinds name to a new array
        (list) instead, which is the same only then."""
        current = self.names.current.get(name)
        if current is not None and current in self.owned and (noun != "list" or current in self.lists):
            if self.element_reads.get(current):
                self.element_read_updates.append(self.read_elements_error(current, stmt, what))
            return
        parameters = [a.id for a in self.src.tree.args.posonlyargs + self.src.tree.args.args + self.src.tree.args.kwonlyargs]
        caller_s = current in self.params + self.kwonly or (self.inliner.helpers and name in parameters)
        a = "an" if noun == "array" else "a"
        whose = (f"the caller's {noun}" if caller_s else
                 f"{a} {noun} of the enclosing function" if current is None and self.inliner.helpers else
                 f"a global {noun}" if current is None else f"{a} {noun} that another name may also hold")
        raise self.src.error(stmt, f"{what} would change {whose} in place", hint)

    def updated_entry(self, stmt):
        """For `d[k] += v` on a dict, k, which must hold a value of d's alone (self.sole_entries): Python changes an
        array held there in place, which another name holding it would see. None for an array's `a[i] += v`."""
        target = stmt.target
        if isinstance(target.value, gast.Name) and self.is_sequence(target.value):
            # `xs[i] += v` on a list: Python changes an array held there in place, which the name the list was
            # built from (`xs = [h]`) would see; which items other names hold is not followed for lists
            raise self.entry_update_error(stmt, noun="list")
        if not (isinstance(target.value, gast.Name) and self.holds_a_dict(target.value)):
            return None
        key = _key_at(target.slice, {})
        if key is None or key not in self.sole_entries.get(self.names.current.get(target.value.id), ()):
            raise self.entry_update_error(stmt)
        return key

    def entry_update_error(self, stmt, where="", when="", noun="dict"):
        name, key = stmt.target.value.id, gast.unparse(stmt.target.slice).strip()
        symbol = _OP_SYMBOL[type(stmt.op)]
        return self.src.error(stmt, f"`{name}[{key}] {symbol}= ...` {where}would change in place the value the {noun} "
                              f"holds at {key}, which another name may hold too {when}".rstrip(),
                              f"Write `{name}[{key}] = {name}[{key}] {symbol} ...`, which makes a new value (what "
                              f"another name holds stays as it was)" + (
                                  f", or give the entry a value of its own first: a number, or a new array "
                                  f"(`{name}[{key}] = np.zeros(...)`)." if noun == "dict" else "."))

    def made_for_an_entry(self, atom):
        """Whether the value atom, put into a dict, is held by the dict alone: a number, or a new array that no
        name of the user's holds (`d[k] = np.zeros(3)`, `d[k] = d[k] + v`)."""
        if isinstance(atom, gast.Constant):
            return isinstance(atom.value, (int, float, complex))
        return isinstance(atom, gast.Name) and atom.id in self.owned and atom.id not in self.names.current.values()

    def entry_shared(self, name, key):
        """The dict name holds has its entry at key (every entry for None) held by another value too."""
        if name in self.sole_entries:
            self.sole_entries[name] = frozenset() if key is None else self.sole_entries[name] - {key}

    def holds_a_dict(self, name_node):
        """Whether the name surely holds a dict: one passed in, or one the function made."""
        kind = self.static_kind(name_node)
        return isinstance(kind, tuple) and kind[0] == "dict" or self.names.current.get(name_node.id) in self.dicts

    def read_elements_error(self, name, stmt, what):
        """(the refusal, the reads) of a change in place of the array name holds, after reads of its elements
        that are views of it unless each yields a number."""
        error = self.src.error(stmt, f"{what} would change an array in place after an element of it was read, "
                               "which is a view of the array (and sees the change) unless it gives an integer "
                               "index for every axis",
                               "Index every axis with an integer, which reads a number, or copy what is read "
                               "(`row = h[0].copy()`).")
        return error, tuple(self.element_reads[name])

    def append(self, stmt):
        """`xs.append(v)` as `xs = xs + [v]` (and `xs.extend(vs)` as `xs = xs + [v1, v2]`): the same list, to every
        reader, when no other name holds the list xs holds, as for a list the function made and kept to itself
        (`xs = []`, `xs = [h]`, `xs = list(ys)`). The loop over time steps of an RNN appends its outputs so."""
        call, name = stmt.value, appended_list(stmt)
        method = call.func.attr
        self.require_owned(name, stmt, f"`{name}.{method}(...)`", f"Make a new list instead, `{name} = {name} + "
                           f"{'[value]' if method == 'append' else 'list(values)'}`, or append to a list the function "
                           f"makes: `{name} = list({name})` first.", noun="list")
        if len(call.args) != 1 or call.keywords or isinstance(call.args[0], gast.Starred):
            raise self.src.error(call, f"`{name}.{method}(...)` takes one argument", f"Pass one value to {method}.")
        if method == "append":
            added = gast.List(elts=[call.args[0]], ctx=gast.Load())
        else:
            items = self.items_of(self.atom(call.args[0], None), call.args[0])
            if items is None:
                raise self.src.error(call.args[0], f"`{name}.extend(...)` of a sequence whose length sourcegrad does "
                                     "not know here", f"Append the values one by one: `{name}.append(value)`.")
            added = gast.List(elts=[_held(item) for item in items], ctx=gast.Load())
        value = gast.copy_location(gast.BinOp(left=gast.copy_location(ir.name(name), call), op=gast.Add(),
                                              right=gast.copy_location(added, call)), call)
        self.assign([gast.copy_location(_store(name), call)], value, stmt)
        self.block[-1].augmented = stmt  # a change in place, as `h += b` is: loop_body checks it the same way

    def array_rank(self, atom):
        """The rank of the array atom surely holds where it is known here (a parameter's, say), else None."""
        kind = self.static_kind(atom) if isinstance(atom, gast.Name) else None
        return kind if isinstance(kind, int) and not isinstance(kind, bool) and kind >= 1 else None

    def is_list(self, atom):
        """Whether atom surely holds a list: a list display, or a name known to hold one."""
        kind = self.sequence_kind(atom)
        return (kind is not None and kind[0] == "list") or (isinstance(atom, gast.Name) and atom.id in self.lists)

    def arguments(self, nodes):
        """Atoms for a call's arguments or a display's items: `*xs` spread into one atom per item of xs."""
        atoms = []
        for node in nodes:
            if not isinstance(node, gast.Starred):
                atoms.append(self.atom(node, None))
                continue
            if self.inliner.inlines(node.value):  # `zip(*unpack(params))`: the helper's result, a tuple
                spread = self.inliner.inline(self.inliner.inlinable(node.value), node.value)
            else:
                spread = self.atom(node.value, None)
            items = self.items_of(spread, node.value)
            if items is None:
                raise self.src.error(node, "`*` spreads a sequence whose length sourcegrad does not know here (an "
                                     "array, or a list built in a loop or a branch)",
                                     "Spread a list or tuple of known length (a parameter, a display, `*args`), or "
                                     "pass the items one by one.")
            atoms.extend(items)
        return atoms

    def items_of(self, atom, node):
        """The atoms of a sequence's items: a display's own, or `xs[0]`, `xs[1]`, ... for a list or tuple whose length
        is known (a parameter's, a display's, `*args`), each computed here, or a dict's keys (what iterating it
        gives); None for any other value."""
        if isinstance(atom, (gast.List, gast.Tuple)):
            return list(atom.elts)
        if isinstance(self.kind(atom), tuple) and self.kind(atom)[0] == "dict":
            return [gast.Constant(value=key, kind=None) for key, _ in self.kind(atom)[1]]
        kind = self.sequence_kind(atom)
        if kind is None:
            return None
        return [self.atom(gast.copy_location(gast.Subscript(value=_held(atom), slice=gast.Constant(value=i, kind=None),
                                                            ctx=gast.Load()), node), None) for i in range(len(kind[1]))]

    def starred_unpacking(self, target, value, chained=False):
        """`first, *rest = xs` as `first, rest = xs[0], [xs[1], ...]`: (the target without its star, the values); or
        None where it bound the names itself (an array's rows, not in a chained assignment `a = b, *c = x`)."""
        atom = self.atom(value, None)
        items = self.items_of(atom, value)
        star = next(i for i, e in enumerate(target.elts) if isinstance(e, gast.Starred))
        after = len(target.elts) - star - 1
        if items is None and after == 0 and not chained and isinstance(target.elts[star].value, gast.Name) \
                and self.array_rank(atom):
            # `first, *rest = x` of an array: x[0], then a list of the rows after, built by a loop (reading
            # x[star - 1] fails where Python's unpacking would: too few rows; a star before the end would need the
            # length, and stays refused). Every part is read before any name is bound: `x, *rest = x` reads x first.
            def located(node):
                return gast.copy_location(node, value)

            parts = [self.atom(located(gast.Subscript(value=_held(atom), slice=slice_, ctx=gast.Load())), None)
                     for slice_ in [gast.Constant(value=i, kind=None) for i in range(star)]
                     + [gast.Slice(lower=gast.Constant(value=star, kind=None), upper=None, step=None)]]
            *firsts, rows = parts
            for name, part in zip(target.elts, firsts):
                self.assign([name], _held(part), value)
            rest = target.elts[star].value
            row = self.names.fresh("row")
            append = located(gast.Expr(value=located(gast.Call(func=located(gast.Attribute(
                value=located(ir.name(rest.id)),
                attr="append", ctx=gast.Load())), args=[located(ir.name(row))], keywords=[]))))
            loop = located(gast.For(target=located(_store(row)), iter=_held(rows), body=[append], orelse=[],
                                    type_comment=None))
            origin = self.origin
            self.assign([rest], located(gast.List(elts=[], ctx=gast.Load())), value)
            self.statement(loop)
            self.origin = origin
            return None
        if items is None:
            raise self.src.error(value, "unpacking with `*` a sequence whose length sourcegrad does not know here (an "
                                 "array, or a list built in a loop or a branch)",
                                 "Unpack a list or tuple of known length, or index it: `first, rest = xs[0], xs[1:]`.")
        if len(items) < len(target.elts) - 1:
            raise self.src.error(value, f"not enough values to unpack: {len(items)} into {len(target.elts) - 1} names "
                                 "and a starred one", "Unpack into fewer names.")
        held = [_held(item) for item in items]
        rest = gast.List(elts=held[star:len(held) - after], ctx=gast.Load())  # Python makes the starred part a list
        names = [e.value if isinstance(e, gast.Starred) else e for e in target.elts]
        return (gast.copy_location(gast.Tuple(elts=names, ctx=gast.Store()), target),
                gast.copy_location(gast.Tuple(elts=held[:star] + [rest] + held[len(held) - after:], ctx=gast.Load()), value))

    def builtin(self, func):
        """The name of the builtin func names (`tuple`, `dict`, ...) where it is the builtin, else None."""
        if isinstance(func, gast.Name) and func.id not in self.names.current and hasattr(builtins, func.id) \
                and self.resolver.lookup(func.id) is getattr(builtins, func.id):
            return func.id
        return None

    def structures_as_displays(self, expr):
        """Python's builtins that make or read lists, tuples and dicts, as displays where what they make is known
        here, so that a gradient reaches each item by its own name: `tuple(xs)` and `list(xs)` of a sequence of
        known length as `(xs[0], xs[1])`; `dict(a=x)` and `dict([("a", x)])` as `{"a": x}`; `d.get("k", v)`,
        `d.keys()`, `d.values()` and `d.items()` of a dict whose keys are known as `d["k"]` (or v) and displays of its
        keys and entries; `sorted(...)` of keys and numbers written out as their sorted display. Anything else stays
        a call (refused if a gradient flows through it)."""
        if not isinstance(expr, gast.Call):
            return expr
        builtin, func = self.builtin(expr.func), expr.func

        def located(node):
            return gast.copy_location(node, expr)

        if builtin == "getattr" and len(expr.args) == 2 and not expr.keywords and isinstance(expr.args[1], gast.Constant) \
                and isinstance(expr.args[1].value, str) and expr.args[1].value.isidentifier():
            return located(gast.Attribute(value=expr.args[0], attr=expr.args[1].value, ctx=gast.Load()))  # `getattr(m, "w")`

        if builtin in ("tuple", "list", "sorted") and len(expr.args) == 1 and self.keys_unknown(expr.args[0]) \
                and not expr.keywords:
            keys = _held(self.dict_keys(expr.args[0], expr))  # a new list of its keys, known when it runs
            if builtin == "list":  # the list's own copy, so that the name it is given owns a list (`ks.append(k)`)
                return located(gast.BinOp(left=keys, op=gast.Add(), right=gast.List(elts=[], ctx=gast.Load())))
            return located(gast.Call(func=func, args=[keys], keywords=[]))
        if builtin in ("tuple", "list") and len(expr.args) == 1 and not expr.keywords \
                and not isinstance(expr.args[0], gast.Starred):
            atom = self.atom(expr.args[0], None)
            items = self.items_of(atom, expr.args[0])
            if items is None and builtin == "list" and self.is_list(atom):  # a copy of a list built in a loop
                return located(gast.BinOp(left=_held(atom), op=gast.Add(), right=gast.List(elts=[], ctx=gast.Load())))
            if items is None and builtin == "tuple" and not self.is_list(atom):
                raise self.src.error(expr, "tuple() of a value that is not surely a list (an array's rows, say): "
                                     "sourcegrad gives its gradient only for a list's items",
                                     "Make a list first (`tuple([... for ...])`), or index the array's rows.")
            if items is None:
                return located(gast.Call(func=func, args=[_held(atom)], keywords=[]))
            display = gast.Tuple if builtin == "tuple" else gast.List
            return located(display(elts=[_held(item) for item in items], ctx=gast.Load()))
        if builtin == "dict" and len(expr.args) <= 1:
            pairs = expr.args[0] if expr.args else gast.Tuple(elts=[], ctx=gast.Load())
            known = self.static_kind(pairs) if isinstance(pairs, (gast.Name, gast.Attribute, gast.Subscript)) else None
            if isinstance(known, tuple) and known[0] == "dict":  # `dict(params)`, `dict(d["a"])`: the same entries
                pairs = gast.Dict(keys=[located(gast.Constant(value=k, kind=None)) for k, _ in known[1]],
                                  values=[located(gast.Subscript(value=copy.deepcopy(pairs), slice=gast.Constant(
                                      value=k, kind=None), ctx=gast.Load())) for k, _ in known[1]])
            pairs = self.zipped_pairs(pairs)
            if isinstance(pairs, gast.Dict):
                keys, entries = list(pairs.keys), list(pairs.values)
            elif isinstance(pairs, (gast.List, gast.Tuple)) and all(
                    isinstance(p, (gast.List, gast.Tuple)) and len(p.elts) == 2 and isinstance(p.elts[0], gast.Constant)
                    and isinstance(p.elts[0].value, (str, int)) for p in pairs.elts):
                keys, entries = [p.elts[0] for p in pairs.elts], [p.elts[1] for p in pairs.elts]
            else:
                return expr
            keys += [located(gast.Constant(value=k.arg, kind=None)) for k in expr.keywords]
            return located(gast.Dict(keys=keys, values=entries + [k.value for k in expr.keywords]))
        if builtin == "sorted" and len(expr.args) == 1 and not isinstance(expr.args[0], gast.Starred):
            return self.sorted_display(expr) or expr
        if isinstance(func, gast.Attribute) and func.attr in ("get", "keys", "values", "items"):
            kind = self.static_kind(func.value)
            if self.keys_unknown(func.value) and not expr.keywords:
                if func.attr == "keys" and not expr.args:
                    return _held(self.dict_keys(func.value, expr))
                if func.attr != "get":
                    raise self.keys_unknown_error(func.value, expr)
                if 1 <= len(expr.args) <= 2 and not any(isinstance(a, gast.Starred) for a in expr.args):
                    default = expr.args[1] if len(expr.args) == 2 else None
                    return self.entry_or_default(func.value, expr.args[0], default, expr)
            if not (isinstance(kind, tuple) and kind[0] == "dict") or expr.keywords:
                return expr
            keys = [key for key, _ in kind[1]]
            if func.attr == "get" and not (1 <= len(expr.args) <= 2 and isinstance(expr.args[0], gast.Constant)):
                return expr
            if func.attr != "get" and expr.args:
                return expr
            receiver = _held(self.atom(func.value, None))

            def entry(key):
                return located(gast.Subscript(value=receiver, slice=located(gast.Constant(value=key, kind=None)),
                                              ctx=gast.Load()))

            if func.attr == "get":
                key = expr.args[0].value
                return entry(key) if key in keys else (expr.args[1] if len(expr.args) == 2 else
                                                       located(gast.Constant(value=None, kind=None)))
            parts = {"keys": lambda k: located(gast.Constant(value=k, kind=None)), "values": entry,
                     "items": lambda k: located(gast.Tuple(elts=[located(gast.Constant(value=k, kind=None)), entry(k)],
                                                           ctx=gast.Load()))}[func.attr]
            return located(gast.Tuple(elts=[parts(key) for key in keys], ctx=gast.Load()))
        return expr

    def keys_unknown(self, expr):
        """Whether expr names a dict the function made whose keys are not known here (some written in a branch,
        or in a loop whose steps are known only when it runs)."""
        if not (isinstance(expr, gast.Name) and self.names.current.get(expr.id) in self.dicts):
            return False
        kind = self.static_kind(expr)
        return not (isinstance(kind, tuple) and kind[0] == "dict")

    def keys_unknown_error(self, dict_node, node):
        d = dict_node.id
        return self.src.error(node, f"sourcegrad cannot tell here which keys the dict `{d}` holds (a key was written "
                              "in a branch, in a `while` loop, or in a `for` loop over values known only when it "
                              f"runs), so it cannot give `{d}.values()` or `{d}.items()` as a list of its entries",
                              f"Walk its entries in a loop, which reads each by key: `for k, v in {d}.items():`, "
                              f"`for v in {d}.values():`, `[{d}[k] for k in {d}]`, or add them: `sum({d}.values())`.")

    def dict_keys(self, dict_node, node):
        """A new list of the keys the dict dict_node names holds when this runs (`[*d]`), for a dict whose keys are
        not known here: a loop walks it as Python walks the dict, and reads each entry by key."""
        receiver = _held(self.atom(dict_node, None))
        name = self.names.temporary("keys")
        expr = gast.List(elts=[gast.Starred(value=receiver, ctx=gast.Load())], ctx=gast.Load())
        self.emit(ir.Assign(name, expr, DICT_KEYS, (receiver,), {}, self.origin, node, "the keys of a dict"))
        self.lists.add(name)  # a new list, which nothing else holds
        self.owned.add(name)
        return ir.name(name)

    def walk_by_key(self, loop):
        """`for k, v in d.items():` (`d.values()`, `d.keys()`) of a dict whose keys are not known here, as
        `for key in d: k, v = key, d[key]`: each entry read by key, as the loop reaches it. Only where the loop
        neither writes into d nor rebinds it, so that `d[key]` reads the entry Python's walk gives (a write
        that adds a key makes Python raise, and a rebinding leaves Python walking the old dict)."""
        call = loop.iter
        if not (isinstance(call, gast.Call) and isinstance(call.func, gast.Attribute) and not call.args
                and not call.keywords and call.func.attr in ("items", "values", "keys")
                and isinstance(call.func.value, gast.Name) and self.keys_unknown(call.func.value)):
            return loop
        d = call.func.value.id
        if d in _assigned_names(loop):
            raise self.src.error(call, f"a loop over the entries of the dict `{d}` that also writes into it or "
                                 "rebinds it: sourcegrad cannot tell its keys here, and Python raises where the loop "
                                 "adds a key", f"Walk a copy of its keys and read each entry: "
                                 f"`for k in list({d}): v = {d}[k]`.")
        dict_node = gast.copy_location(ir.name(d), call)
        if call.func.attr == "keys":
            return gast.copy_location(gast.For(target=loop.target, iter=dict_node, body=loop.body,
                                               orelse=loop.orelse, type_comment=None), loop)
        key = self.names.fresh("key")
        entry = gast.copy_location(gast.Subscript(value=copy.deepcopy(dict_node), slice=ir.name(key), ctx=gast.Load()),
                                   call)
        key_node = ir.name(key)
        body = list(loop.body)
        if call.func.attr == "values":
            pairs = [(loop.target, entry)]
        else:
            pairs = [(loop.target, gast.copy_location(gast.Tuple(elts=[key_node, entry], ctx=gast.Load()), call))]
            first = body[0] if body else None
            if isinstance(loop.target, gast.Name) and isinstance(first, gast.Assign) and len(first.targets) == 1 \
                    and isinstance(first.targets[0], (gast.Tuple, gast.List)) and len(first.targets[0].elts) == 2 \
                    and isinstance(first.value, gast.Name) and first.value.id == loop.target.id:
                # `k, v = item` (how `for k, v in d.items()` reaches here): k bound to the key itself, which
                # carries no tangent, v to the entry, as unpacking the pair would bind them
                pairs += [(first.targets[0].elts[0], copy.deepcopy(key_node)), (first.targets[0].elts[1],
                                                                              copy.deepcopy(entry))]
                body = body[1:]
        header = [gast.copy_location(gast.Assign(targets=[target], value=value, type_comment=None), loop)
                  for target, value in pairs]
        target = gast.copy_location(_store(key), loop.target)
        return gast.copy_location(gast.For(target=target, iter=dict_node, body=[*header, *body],
                                           orelse=loop.orelse, type_comment=None), loop)

    def entry_or_default(self, dict_node, key, default, expr):
        """`d.get(k, default)` of a dict whose keys are not known here, as Python computes it: the entry where d
        holds k, else default (None if not given); the gradient reaches the one taken."""
        default = default if default is not None else gast.Constant(value=None, kind=None)
        key, default = _held(self.atom(key, None)), _held(self.atom(default, None))
        receiver = _held(self.atom(dict_node, None))
        found = self.atom(gast.copy_location(gast.Compare(left=key, ops=[gast.In()], comparators=[receiver]), expr), None)
        result = self.names.temporary("entry")
        branches = []
        for value in (gast.Subscript(value=receiver, slice=key, ctx=gast.Load()), default):
            outer, self.block = self.block, []
            try:
                self.emit_copy(result, self.atom(gast.copy_location(value, expr), None), expr)
            finally:
                branch, self.block = self.block, outer
            branches.append(branch)
        self.emit(ir.If(found, branches[0], branches[1], self.origin, expr))
        return _held(ir.name(result))

    def sorted_display(self, expr):
        """`sorted(xs)` as the sorted display, where xs's items are known here and what decides their order is
        written out: numbers or strings, or pairs whose first items are (`d.items()`, by key or with
        `key=operator.itemgetter(0)`). Else the call, its argument normalised, or None where it is left untouched."""
        keywords = {k.arg: k.value for k in expr.keywords}
        if set(keywords) - {"key", "reverse"}:
            return None
        reverse = keywords.get("reverse", gast.Constant(value=False, kind=None))
        key = keywords.get("key")
        by_first = key is not None and isinstance(key, gast.Call) and len(key.args) == 1 and not key.keywords \
            and isinstance(key.args[0], gast.Constant) and key.args[0].value == 0 \
            and attribute_chain(key.func) is not None and attribute_chain(key.func)[0] not in self.names.current \
            and self.resolver.resolve_chain(attribute_chain(key.func)) is operator.itemgetter
        if not isinstance(reverse, gast.Constant) or (key is not None and not by_first):
            return None
        sequence = self.structures_as_displays(expr.args[0])
        kind = self.static_kind(sequence)
        if isinstance(kind, tuple) and kind[0] == "dict":  # `sorted(d)`: its keys
            sequence = gast.Tuple(elts=[gast.Constant(value=key, kind=None) for key, _ in kind[1]], ctx=gast.Load())
        unsorted = gast.copy_location(gast.Call(func=expr.func, args=[sequence], keywords=expr.keywords), expr)
        if not isinstance(sequence, (gast.List, gast.Tuple)):
            return unsorted  # sorted when it runs (refused if a gradient flows through it)

        def order(item):
            first = item.elts[0] if isinstance(item, (gast.Tuple, gast.List)) and item.elts else None
            if isinstance(item, gast.Constant) and not by_first:
                return item.value
            return first.value if isinstance(first, gast.Constant) else None

        orders = [order(item) for item in sequence.elts]
        if any(o is None or isinstance(o, bool) for o in orders) or len(set(map(repr, orders))) < len(orders) \
                and any(isinstance(item, (gast.Tuple, gast.List)) for item in sequence.elts):
            return unsorted  # pairs with equal first items would be ordered by what they hold
        try:
            ranked = sorted(range(len(orders)), key=lambda i: orders[i], reverse=bool(reverse.value))
        except TypeError:  # numbers and strings mixed: Python refuses too
            return unsorted
        return gast.copy_location(gast.List(elts=[sequence.elts[i] for i in ranked], ctx=gast.Load()), expr)

    def write_attribute(self, target, value, stmt):
        """`self.cache = x`, `self.running_mean = m * self.running_mean + (1 - m) * mean`: stored on the object in the
        forward pass, as Python stores it, for later calls or for the caller. Nothing in this call may read the
        attribute again (refuse_reads_of_assigned_attributes): what it stores then reaches the result through no
        path, and carries no gradient."""
        self.refuse_stores_through_code_of_the_class(target)
        atom = self.atom(value, None)
        receiver = self.atom(target.value, None)
        store = gast.copy_location(gast.Assign(targets=[gast.copy_location(gast.Attribute(
            value=receiver, attr=target.attr, ctx=gast.Store()), target)], value=atom, type_comment=None), stmt)
        self.emit(ir.Effect(store, self.origin))
        # the object holds the value now: a change in place of it later (`h[0] = 0.0`, `h += 1`) is Python's to
        # what the object keeps too, where the generated code would make a new array and store the old one
        self.owned.difference_update(ir.names_in(atom))
        self.attribute_writes.setdefault(target.attr, {})[self.statement_number] = self.places

    def refuse_stores_through_code_of_the_class(self, target):
        """Refuse `obj.name = v` where obj's class runs code of its own for it, a property's setter or a __setattr__:
        what that stores, and under which name, is not followed, so a read of it later in the call would take the
        value through the object, without its gradient."""
        cls = values.class_of(self.static_kind(target.value))
        if cls is None:
            chain = attribute_chain(target.value)
            if chain is None or chain[0] in self.names.current or self.resolver.is_closure_variable(chain[0]):
                return
            obj = self.resolver.resolve_chain(chain)
            if obj is MISSING:
                return
            cls = type(obj)
        descriptor = inspect.getattr_static(cls, target.attr, None)
        setter = hasattr(type(descriptor), "__set__") and not isinstance(descriptor, types.MemberDescriptorType)
        if setter or getattr(cls, "__setattr__", object.__setattr__) is not object.__setattr__:
            what = "its property's setter" if isinstance(descriptor, property) else \
                "a descriptor's __set__" if setter else f"{cls.__name__}.__setattr__"
            raise self.src.error(target, f"assigning `.{target.attr}` runs code of the class ({what}), which "
                                 "sourcegrad does not follow: what it stores, and under which name, could be read "
                                 "back in this call without its gradient",
                                 "Keep the value in a local name, or store it on a plain attribute (or return it and "
                                 "store it outside the differentiated function).")

    def refuse_reads_of_assigned_attributes(self):
        """Refuse a read of an attribute that a statement assigning it (to any object: which objects are one is not
        known) may run before in the call: a read earlier in the function, or on the other branch of an if from
        every assignment (numpy-ml's BatchNorm reads `self.running_mean` where it does not update it), takes the
        value the object was passed in with, as any read of an attribute does. The statement that assigns it may
        read it too (`self.m = 0.9 * self.m + ...`): what it reads reaches only what it stores."""
        for attribute, writes in self.attribute_writes.items():
            for number, src, node, places in self.attribute_reads.get(attribute, ()):
                if number in writes:
                    continue
                if any(_may_run_before(written, written_places, number, places)
                       for written, written_places in writes.items()):
                    raise self.attribute_read_back(src, node)

    @staticmethod
    def attribute_read_back(src, node):
        return src.error(node, f"`.{node.attr}` is read here, and the function also assigns an object's `.{node.attr}`: a "
                               "value stored on an object and read back carries no gradient through it",
                         "Keep the value in a local name (or return it) and read it from there; assign the attribute "
                         "only to keep it for later calls.")

    def write_in_turn(self, stmt):
        """`u[0] = u[-1] = 0.0` and `a[i], a[j] = a[j], a[i]`, as Python runs them: every value first, then each
        target in turn, left to right. (A swap of a matrix's rows reads views, which the first write changes: the
        element reads refuse it, as for any read then write.)"""
        if len(stmt.targets) > 1:
            value = _held(self.atom(stmt.value, hint=None))
            pairs = [(target, value) for target in stmt.targets]
        else:
            values = [_held(self.atom(element, hint=None)) for element in stmt.value.elts]
            pairs = list(zip(stmt.targets[0].elts, values))
        for target, value in pairs:
            if isinstance(target, gast.Subscript):
                self.write_element(target, value, stmt)
            else:
                self.assign([target], value, stmt)

    def write_element(self, target, value, stmt):
        """`a[index] = value` as `a = <a with value at index>`, a new version of a (ir.SET_ITEM). Python writes into
        a's array; the new version is the same only when no other name holds that array, so, as for `a += b`,
        a must hold an array this function made."""
        name = target.value.id
        if self.holds_a_dict(target.value):
            # `cache[t] = h`: a new dict with that entry (xp.set_item), the same to every reader while no other
            # name holds the dict, as for an array
            self.require_owned(name, stmt, f"`{name}[...] = ...`", f"Write into a dict the function makes: "
                               f"`{name} = {{}}`, or `{name} = dict({name})` first.", noun="dict")
        else:
            self.require_owned(name, stmt, f"`{name}[...] = ...`", f"Write into an array the function makes: "
                           f"`{name} = np.zeros(...)`, or `{name} = {name}.copy()` first.")
        write = gast.copy_location(gast.Call(func=ir.name(_ELEMENT_WRITE), args=[
            gast.copy_location(ir.name(name), target),
            target.slice, value], keywords=[]), stmt)
        self.update_in_place(name, gast.copy_location(_store(name), target), write, stmt)

    def update_in_place(self, name, target, value, stmt):
        """`name = value` for what Python does in place (`h += b`, `h[i] = v`): a new version of name, marked as
        an update (loop_body checks it), that in Python is the same array, so what viewed the array still does."""
        reads = self.element_reads.get(self.names.current.get(name), ())
        self.assign([target], value, stmt)
        self.block[-1].augmented = stmt
        if reads:
            self.element_reads[self.names.current[name]] = list(reads)

    def sum_of_a_display_as_additions(self, expr):
        """Python's `sum([a, b, c])` as `0 + a + b + c`, what sum computes: the additions have gradient rules,
        broadcasting included. So for a list or tuple written out or of a length known here (`sum(args)`); a list
        the function built (`sum([f(x) for x in xs])`) is added up by a loop over it, as sum does."""
        if not (self.builtin(expr.func) == "sum" if isinstance(expr, gast.Call) else False):
            return expr
        start = expr.args[1] if len(expr.args) > 1 else next((k.value for k in expr.keywords if k.arg == "start"), None)
        if not expr.args or len(expr.args) > 2 or any(k.arg != "start" for k in expr.keywords) \
                or any(isinstance(a, gast.Starred) for a in gast.walk(expr)):
            return expr
        total = start if start is not None else gast.Constant(value=0, kind=None)
        walked = expr.args[0]
        if isinstance(walked, gast.Call) and isinstance(walked.func, gast.Attribute) and walked.func.attr == "values" \
                and not walked.args and not walked.keywords and self.keys_unknown(walked.func.value):
            # `sum(d.values())` of a dict whose keys only the run knows: a loop over its keys adds each entry, read
            # by key, in the dict's order, as sum adds them
            keys, dict_node = self.dict_keys(walked.func.value, expr), walked.func.value
            return self.folded_by_a_loop(keys, total, expr, "total", lambda total, key: gast.BinOp(
                left=total, op=gast.Add(), right=gast.Subscript(value=copy.deepcopy(dict_node), slice=key,
                                                                 ctx=gast.Load())))
        sequence = self.structures_as_displays(walked)  # `sum(d.values())`: of its entries, where known
        items = self.known_items(sequence)
        if items is None:
            atom = self.atom(sequence, None)
            if not self.is_list(atom) and not self.array_rank(atom):  # sum(W) adds W's rows, as a loop over W does
                return gast.copy_location(gast.Call(func=expr.func, args=[_held(atom), *expr.args[1:]],
                                                    keywords=expr.keywords), expr)
            return self.sum_by_a_loop(atom, total, expr)
        for item in items:
            total = gast.copy_location(gast.BinOp(left=total, op=gast.Add(), right=item), expr)
        return total

    def zipped_pairs(self, expr):
        """`zip(names, values)` inside dict(): its pairs written out, `[("a", values[0]), ("b", values[1])]`, where names
        are distinct strings or integers written out and values a list or tuple of known length or an array argument
        (whose first len(names) rows zip takes; fewer fail when read, where dict(zip(...)) would leave keys out).
        Anything else is returned as it is."""
        if not (isinstance(expr, gast.Call) and self.builtin(expr.func) == "zip" and len(expr.args) == 2
                and not expr.keywords and not any(isinstance(a, gast.Starred) for a in expr.args)):
            return expr
        names, values_ = expr.args
        keys = self.known_items(names)
        if keys is None or not all(isinstance(k, gast.Constant) and isinstance(k.value, (str, int))
                                   and not isinstance(k.value, bool) for k in keys) \
                or len({k.value for k in keys}) != len(keys):
            return expr
        entries = self.known_items(values_)
        if entries is None and isinstance(values_, gast.Name) and self.array_rank(values_):
            entries = [gast.copy_location(gast.Subscript(value=copy.deepcopy(values_), slice=gast.Constant(
                value=i, kind=None), ctx=gast.Load()), values_) for i in range(len(keys))]
        if entries is None:
            return expr
        return gast.copy_location(gast.List(elts=[gast.Tuple(elts=[key, entry], ctx=gast.Load())
                                                  for key, entry in zip(keys, entries)], ctx=gast.Load()), expr)

    def known_items(self, sequence):
        """The items of a list or tuple written out, or of a name whose length is known here (reading them is all
        it takes), as expressions; else None."""
        kind = self.static_kind(sequence)
        if isinstance(sequence, (gast.List, gast.Tuple)):
            return list(sequence.elts)
        if isinstance(kind, tuple) and kind[0] in ("list", "tuple"):
            return [gast.copy_location(gast.Subscript(value=sequence, slice=gast.Constant(value=i, kind=None),
                                                      ctx=gast.Load()), sequence) for i in range(len(kind[1]))]
        return None

    def transposed_zip(self, expr):
        """`zip(*pairs)` of a list of pairs whose length and items' lengths are known here (`ws, bs = zip(*params)`):
        the tuples it yields, written out (`((pairs[0][0], pairs[1][0]), (pairs[0][1], pairs[1][1]))`), which
        unpacking, tuple() and list() read as they read zip's. (Walked once, as an iterator, they are the same.)"""
        if not (isinstance(expr, gast.Call) and self.builtin(expr.func) == "zip" and len(expr.args) == 1
                and isinstance(expr.args[0], gast.Starred) and not expr.keywords):
            return expr
        rows = self.known_items(expr.args[0].value)
        columns = [self.known_items(row) for row in rows] if rows else None
        if not columns or None in columns or len({len(c) for c in columns}) != 1:
            return expr
        return gast.copy_location(gast.Tuple(elts=[gast.Tuple(elts=list(column), ctx=gast.Load())
                                                   for column in zip(*columns)], ctx=gast.Load()), expr)

    def mapped_as_a_display(self, expr):
        """`map(f, xs)` (and `map(f, xs, ys)`) over lists whose lengths are known here as the list of calls it
        yields, `[f(xs[0]), f(xs[1])]`: each call is then compiled as any other, f written in or given its rule."""
        if not (isinstance(expr, gast.Call) and self.builtin(expr.func) == "map" and len(expr.args) >= 2
                and not expr.keywords and not any(isinstance(a, gast.Starred) for a in expr.args)):
            return expr
        columns = [self.known_items(self.structures_as_displays(a)) for a in expr.args[1:]]
        if None in columns:
            return expr
        return gast.copy_location(gast.List(elts=[
            gast.copy_location(gast.Call(func=copy.deepcopy(expr.args[0]), args=list(items), keywords=[]), expr)
            for items in zip(*columns)], ctx=gast.Load()), expr)

    def applied_lambda(self, expr):
        """`(lambda a, b: body)(u, v)`, which is how `map(lambda ...)` and a key= of max or min call a lambda (the
        fence lets a lambda through only there): body, with a and b standing for the values of u and v, computed
        first, in order. The names body reads otherwise are the enclosing function's, read at the call, as Python
        reads them; the fence keeps out of body anything that binds names of its own."""
        if not (isinstance(expr, gast.Call) and isinstance(expr.func, gast.Lambda)):
            return expr
        parameters = [a.id for a in expr.func.args.args]
        if expr.keywords or any(isinstance(a, gast.Starred) for a in expr.args) or len(expr.args) != len(parameters):
            raise self.src.error(expr.func, f"this lambda takes {len(parameters)} argument(s), and is given "
                                 f"{len(expr.args)}{' or keyword arguments' if expr.keywords else ''}",
                                 "Pass it as many lists as it takes parameters: `map(lambda a, b: ..., xs, ys)`.")
        bound = {name: _held(self.atom(argument, None)) for name, argument in zip(parameters, expr.args)}
        return gast.copy_location(_substituted(copy.deepcopy(expr.func.body), bound), expr)

    def extreme_by_key(self, expr):
        """`max(xs, key=f)` and `min(a, b, c, key=f)` of items known here: the first item whose f(item) no later
        item's exceeds (falls below, for min), as Python picks it, each f(item) computed once; the gradient
        reaches the item picked. `default=` with one list: the list's maximum, or the default where it is empty.
        Anything else is left as it is, and refused."""
        keywords = {k.arg: k.value for k in expr.keywords}
        if set(keywords) - {"key", "default"} or any(isinstance(a, gast.Starred) for a in expr.args) \
                or ("default" in keywords and len(expr.args) != 1) or not expr.args:
            return expr
        items = self.known_items(self.structures_as_displays(expr.args[0])) if len(expr.args) == 1 \
            else list(expr.args)
        walked = self.static_kind(expr.args[0]) if len(expr.args) == 1 and isinstance(
            expr.args[0], (gast.Name, gast.Attribute, gast.Subscript)) else None
        if items is None and isinstance(walked, tuple) and walked[0] == "dict":  # `max(d, key=d.get)`: of its keys
            items = [gast.copy_location(gast.Constant(value=k, kind=None), expr) for k, _ in walked[1]]
        if items is None:
            raise self.src.error(expr, f"`{expr.func.id}(...)` with key= or default= of a list whose length "
                                 "sourcegrad does not know here (built in a loop, say)",
                                 f"Compute each item's key in the loop and keep the best there, or call "
                                 f"{expr.func.id} without key= and default=.")
        default = keywords.get("default")
        if default is not None:
            default = _held(self.atom(default, None))  # Python computes it whether or not it is returned
        if not items:
            return default if default is not None else expr
        key = keywords.get("key")
        if key is None or isinstance(key, gast.Constant) and key.value is None:
            folded = items[0]
            for item in items[1:]:
                folded = gast.copy_location(gast.Call(func=expr.func, args=[folded, item], keywords=[]), expr)
            return folded

        def key_of(value):
            return _held(self.atom(gast.copy_location(gast.Call(func=copy.deepcopy(key), args=[value], keywords=[]),
                                                      expr), None))

        better = gast.Gt() if expr.func.id == "max" else gast.Lt()
        best = _held(self.atom(items[0], None))
        best_key = key_of(best)
        for item in items[1:]:
            value = _held(self.atom(item, None))
            value_key = key_of(value)
            test = self.atom(gast.copy_location(gast.Compare(left=value_key, ops=[better], comparators=[best_key]),
                                                expr), None)
            chosen, chosen_key = self.names.temporary("best"), self.names.temporary("best_key")
            branches = []
            for pair in ((value, value_key), (best, best_key)):
                outer, self.block = self.block, []
                try:
                    self.emit_copy(chosen, pair[0], expr)
                    self.emit_copy(chosen_key, pair[1], expr)
                finally:
                    branch, self.block = self.block, outer
                branches.append(branch)
            self.emit(ir.If(test, branches[0], branches[1], self.origin, expr))
            best, best_key = _held(ir.name(chosen)), _held(ir.name(chosen_key))
        return best

    def extremes_as_pairs(self, expr):
        """`max(a, b, c)` as `max(max(a, b), c)`, and `max([a, b, c])` or `max(xs)` of a length known here so too:
        the rule is for two values, and folding from the left keeps Python's choice of the first among ties.
        With key= or default=: extreme_by_key. (A list whose length only the run knows is left to be refused.)"""
        if isinstance(expr, gast.Call) and self.builtin(expr.func) in ("max", "min") and expr.keywords:
            return self.extreme_by_key(expr)
        if not (isinstance(expr, gast.Call) and self.builtin(expr.func) in ("max", "min")) or expr.keywords \
                or any(isinstance(a, gast.Starred) for a in expr.args):
            return expr
        if len(expr.args) == 2:
            return expr
        sequence = self.structures_as_displays(expr.args[0]) if len(expr.args) == 1 else None
        items = expr.args if sequence is None else self.known_items(sequence)
        if items is None:  # a list only the run knows the length of (`max(f(x) for x in xs)`): the first, then a loop
            atom = self.atom(sequence, None)
            # a 1-D array's elements are numbers, compared as Python compares them (the rows of a 2-D array compare
            # to arrays, whose truth Python refuses)
            if not self.is_list(atom) and self.array_rank(atom) != 1:
                return expr
            first = self.atom(gast.Subscript(value=_held(atom), slice=gast.Constant(value=0, kind=None),
                                             ctx=gast.Load()), None)
            rest = self.atom(gast.Subscript(value=_held(atom), slice=gast.Slice(
                lower=gast.Constant(value=1, kind=None), upper=None, step=None), ctx=gast.Load()), None)
            return self.folded_by_a_loop(rest, _held(first), expr, "extreme", lambda best, item: gast.Call(
                func=copy.deepcopy(expr.func), args=[best, item], keywords=[]))
        if not items:
            return expr
        folded = items[0]
        for item in items[1:]:
            folded = gast.copy_location(gast.Call(func=expr.func, args=[folded, item], keywords=[]), expr)
        return folded

    def sum_by_a_loop(self, sequence, start, node):
        """`total = start; for item in sequence: total = total + item`, normalised here: the value of `sum(sequence,
        start)` for a list whose length only the run knows. Returns the total, held."""
        return self.folded_by_a_loop(sequence, start, node, "total",
                                     lambda total, item: gast.BinOp(left=total, op=gast.Add(), right=item))

    def folded_by_a_loop(self, sequence, start, node, base, combine):
        """`total = start; for item in sequence: total = combine(total, item)`, normalised here. Returns the total,
        held."""
        total, item = self.names.fresh(base), self.names.fresh("item")

        def located(n):
            return gast.copy_location(n, node)

        combined = located(combine(located(ir.name(total)), located(ir.name(item))))
        loop = located(gast.For(target=located(_store(item)), iter=_held(sequence), orelse=[], type_comment=None,
                                body=[located(gast.Assign(targets=[located(_store(total))], value=combined,
                                                          type_comment=None))]))
        origin = self.origin
        self.assign([located(_store(total))], start, node)
        self.statement(loop)
        self.origin = origin
        return _held(ir.name(self.names.current[total]))

    def row_concatenation_as_call(self, expr):
        """`np.r_[a, 2.0, 0:3]` as `np.concatenate([np.atleast_1d(a), np.atleast_1d(2.0), np.arange(0, 3, 1)])`: the
        same array (numbers become one-element arrays, arrays join along their first axis, a slice is its
        range), written with functions that have gradient rules. Only the plain forms: a string directive or
        a complex step (`0:1:5j`, a linspace) stays as it is, and is refused if a gradient flows through it.

        `np.c_[a, b, 0:3]` likewise, as `np.concatenate([np.column_stack([a]), np.column_stack([b]),
        np.reshape(np.arange(0, 3, 1), (-1, 1))], axis=-1)`: np.c_ makes each item at least 2-D with a 1-D item
        (and a range) as a column and a number as a 1 x 1 matrix, then joins them along the last axis.
        np.column_stack of one item is exactly that item made so, whatever its rank (np.column_stack alone would
        join items of three or more dimensions along their second axis, np.c_ along their last)."""
        if not isinstance(expr, gast.Subscript):
            return expr
        chain = attribute_chain(expr.value)
        if chain is None or len(chain) < 2 or chain[0] in self.names.current:
            return expr
        trick = self.resolver.resolve_chain(chain)
        columns = trick is getattr(numpy, "c_", None)
        if not (columns or trick is getattr(numpy, "r_", None)):
            return expr
        if not is_numpy_module(self.resolver.resolve_chain(chain[:-1])):
            return expr
        module = expr.value.value  # the user's own spelling of numpy (`np`), so the calls resolve as theirs do

        def numpy_call(name, args, keywords=()):
            return gast.Call(func=gast.Attribute(value=copy.deepcopy(module), attr=name, ctx=gast.Load()), args=args,
                             keywords=list(keywords))

        def number(value):
            return gast.Constant(value=value, kind=None)

        items = expr.slice.elts if isinstance(expr.slice, gast.Tuple) else [expr.slice]
        parts = []
        for item in items:
            if isinstance(item, gast.Constant) and not isinstance(item.value, (int, float)):
                return expr  # a directive ("r", "0,2") or another constant
            if isinstance(item, gast.Slice):
                step = item.step
                if item.upper is None or (isinstance(step, gast.Constant) and isinstance(step.value, complex)):
                    return expr
                bounds = [item.lower or number(0), item.upper, step or number(1)]
                part = numpy_call("arange", bounds)
                if columns:
                    part = numpy_call("reshape", [part, gast.Tuple(elts=[number(-1), number(1)], ctx=gast.Load())])
                parts.append(part)
            elif columns:
                parts.append(numpy_call("column_stack", [gast.List(elts=[item], ctx=gast.Load())]))
            else:
                parts.append(numpy_call("atleast_1d", [item]))
        axis = [gast.keyword(arg="axis", value=number(-1))] if columns else []
        joined = numpy_call("concatenate", [gast.List(elts=parts, ctx=gast.Load())], axis)
        return gast.copy_location(joined, expr)

    def nested_rows_as_arrays(self, expr):
        """`np.array([[x, 2 * x], [3.0, x]])` as `np.array([np.array([x, 2 * x]), np.array([3.0, x])])`: each
        row an array of its own (made by the same rule, whose gradient splits it back into its elements), so a
        gradient flows to every element however deep the nesting. The same array for any regular nesting."""
        chain = attribute_chain(expr.func)
        if not expr.args or chain is None or chain[0] in self.names.current:
            return expr
        rows = expr.args[0]
        if not (isinstance(rows, (gast.List, gast.Tuple)) and any(isinstance(e, (gast.List, gast.Tuple)) for e in rows.elts)):
            return expr
        if self.resolver.resolve_chain(chain) not in (numpy.array, numpy.asarray):
            return expr
        elements = [gast.copy_location(gast.Call(func=copy.deepcopy(expr.func), args=[e], keywords=[]), e)
                    if isinstance(e, (gast.List, gast.Tuple)) else e for e in rows.elts]
        outer = type(rows)(elts=elements, ctx=gast.Load())
        return gast.copy_location(gast.Call(func=expr.func, args=[outer, *expr.args[1:]], keywords=expr.keywords), expr)

    def _origin(self, stmt):
        """Where stmt is, and its text on one line: a compound statement by its header alone."""
        location = self.src.location(stmt)
        start = stmt.lineno - 1
        if isinstance(stmt, (gast.If, gast.For, gast.While)):
            last = getattr(stmt.body[0], "lineno", stmt.lineno) - 2 if stmt.body else start
            end = max(start, last)
        else:
            end = (getattr(stmt, "end_lineno", None) or stmt.lineno) - 1
        text = " ".join(_without_comment(line).strip() for line in self.src.file_lines[start:end + 1])
        return ir.Origin(location, text, self.src)

    def _literal_defaults(self):
        args = self.src.tree.args
        positional = args.posonlyargs + args.args
        result = {}
        for param, default in zip(positional[len(positional) - len(args.defaults):], args.defaults):
            if _is_literal(default):
                result[param.id] = default
        for param, default in zip(args.kwonlyargs, args.kw_defaults):
            if default is not None and _is_literal(default):
                result[param.id] = default
        return result


def _slice_bounds(index):
    """(start, stop, step) of a slice written with integers (`1:`, `:-1`), else None."""
    bounds = []
    for part in (index.lower, index.upper, index.step):
        if isinstance(part, gast.UnaryOp) and isinstance(part.op, gast.USub) and isinstance(part.operand, gast.Constant):
            part = gast.Constant(value=-part.operand.value, kind=None)
        if part is not None and not (isinstance(part, gast.Constant) and type(part.value) is int):
            return None
        bounds.append(None if part is None else part.value)
    return tuple(bounds)


# Attributes that describe an array (numbers and tuples of them) rather than hold its data
_DESCRIPTIONS = frozenset(ir.Method(name, is_call=False) for name in ("shape", "ndim", "size", "dtype"))


_ABSENT = object()


def _is_none(node):
    return isinstance(node, gast.Constant) and node.value is None


def _may_index_elements(index, array):
    """Whether index is one numpy reads by basic indexing (integers, names that may hold them, slices, None,
    ...): its result is a number, or a view of the array. Either way the read is one of its elements, which a
    later change of the array in place sees unless it is a number (decided on ranks, in analysis.shapes) or the
    read was used up in its own statement (`v = V[:, 1] - Q[:, 0]` then `Q[:, 1] = v`). A list or an array
    index copies, but is not told from an integer name here: names stay element reads, decided on ranks."""
    atoms = index.elts if isinstance(index, gast.Tuple) else [index]
    return all(isinstance(a, gast.Name) and a.id != array or ir.constant_int(a) is not None
               or isinstance(a, gast.Slice) and all(p is None or isinstance(p, gast.Constant) or isinstance(p, gast.Name)
                                                   and p.id != array for p in (a.lower, a.upper, a.step))
               or isinstance(a, gast.Constant) and (a.value is None or a.value is Ellipsis) for a in atoms)


def _names_mentioned(stmt):
    """The names an emitted statement reads (its own nested statements were emitted, and looked at, already)."""
    if isinstance(stmt, ir.Assign):
        atoms = [*stmt.args, *stmt.kwargs.values()]
    else:
        atoms = [value for field, value in vars(stmt).items() if isinstance(value, gast.AST) and field != "node"]
    return {n.id for atom in atoms if isinstance(atom, gast.AST) for n in gast.walk(atom) if isinstance(n, gast.Name)}


def _copied(reads):
    return {name: list(entries) for name, entries in reads.items()}


def _add_reads(reads, more):
    """reads with more's added: after a branch or loop, a name's reads on any path count."""
    for name, entries in more.items():
        known = reads.setdefault(name, [])
        known.extend(entry for entry in entries if all(entry is not k for k in known))


def _writes_elements_in_turn(stmt):
    """Whether an assignment writes an element among several targets: a chain, or a tuple of targets."""
    targets = stmt.targets[0].elts if len(stmt.targets) == 1 and isinstance(stmt.targets[0], (gast.Tuple, gast.List)) \
        else stmt.targets if len(stmt.targets) > 1 else ()
    return any(isinstance(t, gast.Subscript) for t in targets)


def _may_run_before(first, first_places, second, second_places):
    """Whether, in one call, the statement numbered first (inside first_places: the branches and loops around it)
    may run before the one numbered second: both in one loop (a later iteration), or first earlier in the function
    and not on the other branch of an if from second."""
    if any(place[1] == "loop" and place in second_places for place in first_places):
        return True
    if first > second:
        return False
    return not any((number, "orelse" if branch == "body" else "body") in second_places
                   for number, branch in first_places if branch in ("body", "orelse"))


def _substituted(node, bound):
    """node with each name of bound it reads replaced by bound's atom for it (node already a copy)."""
    if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load) and node.id in bound:
        return copy.deepcopy(bound[node.id])
    for field, value in gast.iter_fields(node):
        if isinstance(value, list):
            setattr(node, field, [_substituted(v, bound) if isinstance(v, gast.AST) else v for v in value])
        elif isinstance(value, gast.AST):
            setattr(node, field, _substituted(value, bound))
    return node


def _held(atom):
    """A copy of a normalised atom that atom() returns as it is: a value already computed, placed into an expression
    of the user's (the items `*xs` spreads, a dict's entry read by `.get`)."""
    atom = copy.deepcopy(atom)
    for node in gast.walk(atom):
        if isinstance(node, gast.Name):
            node.held = True
    return atom


# The callee of the normal form's `a = <a written at index>` (ir.SET_ITEM), a name no program can use.
_ELEMENT_WRITE = "__sourcegrad_set_item__"


def _same_method(a, b):
    """Two bound methods of one object (`norm.logpdf` read twice gives two method objects, equal ones)."""
    return isinstance(a, types.MethodType) and isinstance(b, types.MethodType) and a == b


def _short_repr(obj):
    text = getattr(obj, "__qualname__", None) or repr(obj)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_element_write(expr):
    return isinstance(expr, gast.Call) and isinstance(expr.func, gast.Name) and expr.func.id == _ELEMENT_WRITE


def _chain_expression(chain):
    expr = ir.name(chain[0])
    for attr in chain[1:]:
        expr = gast.Attribute(value=expr, attr=attr, ctx=gast.Load())
    return expr


def _is_literal(node):
    try:
        gast.literal_eval(node)
        return True
    except ValueError:
        return False


def _common_entries(sole, other):
    """The entries held by their dicts alone on both of two paths (self.sole_entries after each)."""
    return {name: keys & other[name] for name, keys in sole.items() if name in other}


def _with_entry(description, index, value):
    """The description of a dict after `d[index] = value`, where its keys are known and index is a constant: a
    key written over keeps its place, a new one comes last. Else None."""
    key = index.value if isinstance(index, gast.Constant) else ir.constant_int(index)
    if not (isinstance(description, tuple) and description[0] == "dict" and isinstance(key, (str, int))) \
            or isinstance(key, bool):
        return None
    entries = dict(description[1])
    entries[key] = value
    return ("dict", tuple(entries.items()))


def _constant_steps(iterable):
    """The values a loop's counter takes, where the loop walks `range(...)` of constant ints or a tuple or list
    of constants; else None."""
    if isinstance(iterable, gast.Call) and isinstance(iterable.func, gast.Name) and iterable.func.id == "range" \
            and 1 <= len(iterable.args) <= 3 and not iterable.keywords:
        bounds = [ir.constant_int(arg) for arg in iterable.args]
        return list(range(*bounds)) if None not in bounds else None
    if isinstance(iterable, (gast.Tuple, gast.List)) and all(
            isinstance(e, gast.Constant) and isinstance(e.value, (str, int)) for e in iterable.elts):
        return [e.value for e in iterable.elts]
    return None


def _key_at(expr, bindings):
    """The str or int key expr is where the names in bindings have those values (`t`, `t + 1`, `f"h{t}"`, a
    constant), else None."""
    operations = {gast.Add: operator.add, gast.Sub: operator.sub, gast.Mult: operator.mul}
    if isinstance(expr, gast.Constant) and isinstance(expr.value, (str, int)) and not isinstance(expr.value, bool):
        return expr.value
    if ir.constant_int(expr) is not None:
        return ir.constant_int(expr)
    if isinstance(expr, gast.Name):
        return bindings.get(expr.id)
    if isinstance(expr, gast.BinOp) and type(expr.op) in operations:
        left, right = _key_at(expr.left, bindings), _key_at(expr.right, bindings)
        if not (isinstance(left, int) and isinstance(right, int)):
            return None
        return operations[type(expr.op)](left, right)
    if isinstance(expr, gast.JoinedStr):
        parts = []
        for part in expr.values:
            if isinstance(part, gast.FormattedValue):
                if part.conversion not in (-1, None) or part.format_spec is not None:
                    return None
                part = part.value
            value = _key_at(part, bindings)
            if value is None:
                return None
            parts.append(str(value))
        return "".join(parts)
    return None


def _assigned_names(stmt):
    """User names a compound statement binds anywhere inside it (assignments and loop targets)."""
    names = []
    for node in gast.walk(stmt):
        for name in written_names(node):
            if name not in names:
                names.append(name)
    return names


def _assigned_before(body, augmented):
    """Whether every path from the start of body to the augmented assignment `augmented` (somewhere inside it)
    assigns its target first, with a plain assignment. A loop's body may not run, a branch may not be taken:
    only what both branches of an if assign counts after it."""
    name = written_names(augmented)[0]

    def walk(stmts, assigned):
        """(the answer, or None if `augmented` is not in stmts; the names assigned on every path through)"""
        for stmt in stmts:
            if stmt is augmented:
                return name in assigned, assigned
            if isinstance(stmt, gast.If):
                found, in_body = walk(stmt.body, assigned)
                if found is not None:
                    return found, in_body
                found, in_orelse = walk(stmt.orelse, assigned)
                if found is not None:
                    return found, in_orelse
                assigned = in_body & in_orelse
            elif isinstance(stmt, (gast.For, gast.While)):
                targets = set(_assigned_names(stmt.target)) if isinstance(stmt, gast.For) else set()
                for part, start in ((stmt.body, assigned | targets), (stmt.orelse, assigned)):
                    found, _ = walk(part, start)
                    if found is not None:
                        return found, assigned
            elif isinstance(stmt, (gast.Assign, gast.AnnAssign)):
                targets = stmt.targets if isinstance(stmt, gast.Assign) else [stmt.target]
                assigned = assigned | {n for t in targets for n in _assigned_names(t)}
        return None, assigned

    return walk(body, frozenset())[0] is True


def _has_break(body):
    """A `break` of this loop (not of a loop nested in it)."""
    for stmt in body:
        if isinstance(stmt, gast.Break):
            return True
        if isinstance(stmt, gast.If) and (_has_break(stmt.body) or _has_break(stmt.orelse)):
            return True
    return False


def _store(identifier):
    return gast.Name(id=identifier, ctx=gast.Store(), annotation=None, type_comment=None)


def _target_word(target):
    first = target if isinstance(target, gast.Name) else target.elts[-1]
    return first.id.strip("_") or "loop"


def _differ(kind):
    """Whether the items of a list or tuple of this kind must be written out one by one: there are none, or some are
    objects, dicts or functions not all alike (a layer's dict with an optional key; arrays and numbers of different
    ranks are not: one loop serves them all)."""
    return not kind[1] or values.items(kind) is None and any(
        values.class_of(k) is not None or values.function_of(k) is not None or values.partial_call(k) is not None
        or isinstance(k, tuple) and k[0] == "dict" for k in kind[1])


def _paired(target, value):
    """(name target, value) pairs binding a loop's target to one iteration's item: `i, (layer, norm)` to a display
    of the same shape pairs name by name; a name, or a tuple of names unpacking an item, takes the item whole."""
    if isinstance(target, (gast.Tuple, gast.List)) and isinstance(value, gast.Tuple) and len(target.elts) == len(value.elts):
        return [pair for t, v in zip(target.elts, value.elts) for pair in _paired(t, v)]
    return [(target, value)]


def _loaded_count(tree, names):
    return sum(1 for n in gast.walk(tree) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and n.id in names)


def _loaded_names(expr):
    return {n.id for n in gast.walk(expr) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)}


def _without_comment(line):
    """The line without a trailing `# comment` (a `#` inside a string literal stays)."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(line).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return line
    for token in tokens:
        if token.type == tokenize.COMMENT:
            return line[:token.start[1]].rstrip()
    return line
