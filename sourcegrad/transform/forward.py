"""Forward mode: walk the normal form in order and write each active statement's tangent right after it.

For `target = primitive(args)` the primitive's tangent rule gives one contribution per argument that has a
tangent; the target's tangent is their sum, `d_h = d_x @ w1 + x @ d_w1`. A tangent is computed right after
its value, from values that are all still there, so nothing is saved and loops and branches keep the shape
of the function's own code.

Every active name has a tangent wherever it has a value: an active name given a value that depends on no
tangent (`s = 0.0` before `s = s + w`) gets zeros beside it, so a tangent read later, on whatever path or in
whatever iteration, is the right one. Arguments with a tangent are the `wrt` arguments; a contribution from a
value that is not active is left out.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import gast

from .. import ir
from ..analysis.activity import active_values, is_harmless, makes_no_gradient, reads
from ..analysis.shapes import ShapeFacts
from ..frontend.source import FunctionSource
from ..ir import COPY, DICT_DISPLAY, JOIN_SEQUENCES, SET_ITEM
from ..templates import lookup
from ..templates.registry import TANGENT_RULES
from .reverse import (AdjointNames, StatementWalker, as_expression, backend_call, effect_error,
                      extreme_of_unseen_items, may_cast_to_integers, no_gradient_through)


@dataclass
class TangentStatement:
    """`target = value`: the tangent of the value the statement before it computed."""

    target: str
    value: gast.expr
    origin: ir.Origin


@dataclass
class ForwardFunction:
    primal: ir.Function
    wrt: list
    backend: str  # what the generated code calls the array module
    body: list = field(default_factory=list)  # the primal's statements with TangentStatements after them
    tangent_names: dict = field(default_factory=dict)  # primal name -> the name of its tangent
    output_tangent: gast.expr = None
    facts: ShapeFacts = None


def forward(fn: ir.Function, src: FunctionSource, wrt, argument_ranks, backend="xp", prefix="d_") -> ForwardFunction:
    """prefix: what tangent names start with, `d_`; `t_` where a gradient's `d_` names will join them (hvp)."""
    facts = ShapeFacts(fn, argument_ranks)
    active = active_values(fn, wrt)
    names = AdjointNames(fn.names | {backend}, prefix)
    for w in wrt:  # the tangent parameters come first, with the plain names
        names.get(w)
    walker = _Forward(fn, src, facts, active, names, backend)
    result = ForwardFunction(fn, list(wrt), backend, facts=facts)
    # An active parameter outside wrt (a name the function rebinds to something made from wrt) starts at zero.
    entry = [walker.zeros(p, fn.body[0].origin) for p in fn.params + fn.kwonly if p in active and p not in wrt]
    result.body = entry + walker.block(fn.body)
    returned = fn.returned.value
    if isinstance(returned, gast.Name) and returned.id in active:
        result.output_tangent = ir.name(names.get(returned.id))
    else:  # the output does not depend on wrt
        result.output_tangent = backend_call(backend, "zeros_like", [as_expression(returned)])
    result.tangent_names = dict(names.assigned)
    return result


class _Forward(StatementWalker):
    def block(self, stmts):
        out = []
        for stmt in stmts:
            out.extend(self.statement(stmt))
        return out

    def statement(self, stmt):
        if isinstance(stmt, ir.Assign):
            return [stmt] + self.assignment(stmt)
        if isinstance(stmt, ir.Unpack):
            return [stmt] + self.unpacking(stmt)
        if isinstance(stmt, ir.Effect):
            if any(n in self.active for n in reads([stmt.stmt])) and not is_harmless(stmt, self.fn):
                raise effect_error(self.source(stmt), stmt)
            return [stmt]
        if isinstance(stmt, ir.If):
            return [dataclasses.replace(stmt, body=self.block(stmt.body), orelse=self.block(stmt.orelse))]
        if isinstance(stmt, ir.Loop):
            return [self.loop(stmt)]
        return [stmt]  # Return, Break

    # ---- assignments ------------------------------------------------------------------------------

    def tangent_of(self, atom):
        """The tangent of an atom as an expression, or None where it is zero. A list or tuple display of
        arrays, some with tangents (`np.stack([h, c])`), has the display of their tangents, zeros elsewhere."""
        if isinstance(atom, gast.Name):
            return ir.name(self.names.get(atom.id)) if atom.id in self.active else None
        if isinstance(atom, (gast.List, gast.Tuple)):
            parts = [self.tangent_of(e) for e in atom.elts]
            if all(p is None for p in parts):
                return None
            elts = [p if p is not None else backend_call(self.backend, "zeros_like", [as_expression(e)])
                    for p, e in zip(parts, atom.elts)]
            return type(atom)(elts=elts, ctx=gast.Load())
        return None  # a constant, a slice, a global

    def zeros(self, name, origin):
        # a list's tangent is a list of zeros (`outs = []` before `outs.append(h)`), an array's an array of its
        # shape and float dtype, a Python number's 0.0
        return TangentStatement(self.names.get(name), backend_call(self.backend, "zero_tangent", [ir.name(name)]),
                                origin)

    def assignment(self, stmt):
        y = stmt.target
        if y not in self.active:
            return []
        if makes_no_gradient(stmt, self.fn) or not any(
                n in self.active for n in reads(list(stmt.args) + list(stmt.kwargs.values()))):
            return [self.zeros(y, stmt.origin)]  # `out = np.zeros(3)` before `out[i] = ...` with a tangent
        if stmt.primitive is COPY:
            value = self.tangent_of(stmt.args[0])
        elif stmt.primitive == SET_ITEM:
            value = self.set_item(stmt)
        elif stmt.primitive is JOIN_SEQUENCES:
            value = self.joined(stmt)
        elif stmt.primitive is DICT_DISPLAY:  # `{"a": a, "b": b}`: the dict of their tangents, zeros where none
            keys, entries = stmt.args
            value = gast.Dict(keys=[as_expression(k) for k in keys.elts], values=[
                self.tangent_of(e) or backend_call(self.backend, "zero_tangent", [as_expression(e)])
                for e in entries.elts])
        else:
            value = self.contributions(stmt)
        if value is None:  # a value made without active inputs, `acc = np.zeros_like(w)`: its tangent is zero
            return [self.zeros(y, stmt.origin)]
        return [TangentStatement(self.names.get(y), value, stmt.origin)]

    def joined(self, stmt):
        """`outs + [h]`: lists joined, or (an array on a side) numpy's sum; xp.joined_tangent tells which when
        it runs, as the reverse pass's sequence_head and sequence_tail do."""
        tangents = [self.tangent_of(a) for a in stmt.args]
        if all(t is None for t in tangents):
            return None
        nothing = gast.Constant(value=None, kind=None)
        return backend_call(self.backend, "joined_tangent", [ir.name(stmt.target), *map(as_expression, stmt.args),
                                                             *(nothing if t is None else t for t in tangents)])

    def set_item(self, stmt):
        """`a[i] = v` makes a new version of a: its tangent is a's with v's written at i."""
        array, index, value = stmt.args
        d_array, d_value = self.tangent_of(array), self.tangent_of(value)
        if d_array is None and d_value is None:
            return None
        if d_array is None:  # (a dict's, `d = {}` before `d["k"] = v`, is a dict: zero_tangent makes either)
            d_array = backend_call(self.backend, "zero_tangent", [as_expression(array)])
        if d_value is None and stmt.display == ir.DICT_WRITE:  # the entry's zeros, a list's items' too
            d_value = backend_call(self.backend, "zero_tangent", [as_expression(value)])
        elif d_value is None:
            d_value = gast.Constant(value=0.0, kind=None)
        elif stmt.display != ir.DICT_WRITE:  # an integer or boolean array truncates what it stores: zeros reach it
            d_value = backend_call(self.backend, "stored_derivative",
                                   [d_value, backend_call(self.backend, "dtype_of", [as_expression(array)])])
        return backend_call(self.backend, "set_item", [d_array, as_expression(index), d_value])

    def contributions(self, stmt):
        """The sum of the contributions of the arguments with tangents to the target's tangent, or None."""
        template, args, kwargs = lookup(stmt.primitive, stmt.args, stmt.kwargs, TANGENT_RULES)
        if template is None:
            gradient_rule, _, _ = lookup(stmt.primitive, stmt.args, stmt.kwargs)
            if gradient_rule is not None:
                raise self.error(stmt, f"no forward-mode rule for {stmt.display} yet (it has a gradient rule)",
                                 "Use reverse mode (value_and_grad, grad) for this function; README lists the "
                                 "functions with forward rules.")
            raise self.error(stmt, f"no rule for {stmt.display}",
                             "Wrap the value in sourcegrad.stop_gradient(...) if it needs no derivative, or compute "
                             "it outside the differentiated function.")
        bindings = template.bind([as_expression(a) for a in args], {k: as_expression(v) for k, v in kwargs.items()})
        if bindings is None and stmt.primitive in (max, min) and len(args) == 1:
            raise extreme_of_unseen_items(self, stmt)
        if bindings is None:
            raise self.error(stmt, f"{stmt.display} is called with arguments its forward rule does not accept",
                             f"The rule accepts ({', '.join(template.parameters())}).")
        zero = gast.Constant(value=0, kind=None)  # stands for a tangent that is zero: its contribution is left out
        pairs = template.instantiate(bindings, stmt.target, lambda atom: self.tangent_of(atom) or zero,
                                     self.facts.ranks, self.backend)
        given = {param for param, _ in pairs}
        for param, atom in bindings.items():
            # an argument the rule gives no contribution (an index, an axis) must carry no tangent here
            if param not in given and param not in template.zero_gradient and self.tangent_of(atom) is not None:
                raise no_gradient_through(self.source(stmt), stmt, param)
        kept = [value for param, value in pairs if self.tangent_of(bindings[param]) is not None]
        if not kept:
            return None
        total = kept[0]
        for value in kept[1:]:
            if isinstance(value, gast.UnaryOp) and isinstance(value.op, gast.USub):
                total = gast.BinOp(left=total, op=gast.Sub(), right=value.operand)
            else:
                total = gast.BinOp(left=total, op=gast.Add(), right=value)
        dropped = [bindings[param] for param, _ in pairs if self.tangent_of(bindings[param]) is None]
        if template.broadcasts and any(not self.is_number(atom) for atom in dropped):
            # `x + y` with a tangent for x alone: d_x has x's shape, the result may be larger
            total = backend_call(self.backend, "broadcast_like", [total, ir.name(stmt.target)])
        if may_cast_to_integers(stmt.primitive, bindings, self.fn):  # `np.sum(x, dtype=int)`: integers move with nothing
            total = backend_call(self.backend, "stored_derivative",
                                 [total, backend_call(self.backend, "dtype_of", [ir.name(stmt.target)])])
        return total

    def is_number(self, atom):
        return isinstance(atom, gast.Constant) or (isinstance(atom, gast.Name) and self.facts.ranks.get(atom.id) == 0)

    def unpacking(self, stmt):
        """`a, b = parts`: the tangents of the parts are the parts of the tangent."""
        targets = [t for t in stmt.targets if t in self.active]
        if not targets:
            return []
        d_value = self.tangent_of(stmt.value)
        if d_value is None:
            return [self.zeros(t, stmt.origin) for t in targets]
        return [ir.Unpack([self.names.get(t) for t in stmt.targets], d_value, stmt.origin, stmt.node, stmt.of_sequence)]

    # ---- loops ---------------------------------------------------------------------------------------

    def loop(self, stmt):
        body = self.block(stmt.body)
        test_body = self.block(stmt.test_body)
        if stmt.kind == "while":
            return dataclasses.replace(stmt, body=body, test_body=test_body)
        # Each name the header binds walks its sequence; its tangent walks the sequence's tangent beside it.
        target, iterable = stmt.target, stmt.iterable
        pairs = _header_pairs(target, iterable)
        if pairs is None:
            if any(n in self.active for n in reads([target])):
                raise self.error(stmt, "forward mode cannot follow tangents through this loop's header",
                                 "Loop over range(len(xs)) and index xs[i] in the body.")
            return dataclasses.replace(stmt, body=body, test_body=test_body)
        extra_targets, extra_sequences, first = [], [], []
        counter = _enumerate_counter(target, iterable)
        for name, sequence in pairs:
            if name not in self.active:
                continue
            d_sequence = self.tangent_of(sequence)
            if d_sequence is None:
                first.append(self.zeros(name, stmt.origin))
            elif counter is not None:  # `for i, row in enumerate(X)`: the row's tangent is d_X[i]
                position = ir.name(counter)
                if len(iterable.args) == 2:  # enumerate(X, start): d_X[i - start]
                    position = gast.BinOp(left=position, op=gast.Sub(), right=as_expression(iterable.args[1]))
                first.append(TangentStatement(self.names.get(name), gast.Subscript(
                    value=d_sequence, slice=position, ctx=gast.Load()), stmt.origin))
            else:
                extra_targets.append(gast.Name(id=self.names.get(name), ctx=gast.Store(), annotation=None,
                                               type_comment=None))
                extra_sequences.append(d_sequence)
        if extra_targets:
            target, iterable = _zipped(target, iterable, extra_targets, extra_sequences)
        return dataclasses.replace(stmt, body=first + body, test_body=test_body, target=target,
                                   iterable=iterable)


def _header_pairs(target, iterable):
    """(name, sequence atom) for each name a `for` header binds from a sequence, or None for a header
    sourcegrad cannot pair so (range's counter binds no sequence: an empty list)."""
    call = iterable.func.id if isinstance(iterable, gast.Call) and isinstance(iterable.func, gast.Name) else None
    if call == "range":
        return []
    if call is None and isinstance(target, gast.Name):
        return [(target.id, iterable)]
    if call == "enumerate" and isinstance(target, gast.Tuple) and len(target.elts) == 2 \
            and isinstance(target.elts[1], gast.Name) and len(iterable.args) in (1, 2) and not iterable.keywords:
        return [(target.elts[1].id, iterable.args[0])]
    if call == "zip" and isinstance(target, gast.Tuple) and len(target.elts) == len(iterable.args) \
            and all(isinstance(t, gast.Name) for t in target.elts) and not iterable.keywords:
        return [(t.id, a) for t, a in zip(target.elts, iterable.args)]
    return None


def _enumerate_counter(target, iterable):
    """The counter's name in `for i, row in enumerate(xs)`, else None."""
    if isinstance(iterable, gast.Call) and isinstance(iterable.func, gast.Name) and iterable.func.id == "enumerate" \
            and isinstance(target.elts[0], gast.Name):
        return target.elts[0].id
    return None


def _zipped(target, iterable, extra_targets, extra_sequences):
    """The header walking the tangents' sequences too: `for row, d_row in zip(X, d_X)`."""
    call = iterable.func.id if isinstance(iterable, gast.Call) and isinstance(iterable.func, gast.Name) else None
    if call == "zip":
        return (gast.Tuple(elts=list(target.elts) + extra_targets, ctx=gast.Store()),
                gast.Call(func=iterable.func, args=list(iterable.args) + extra_sequences, keywords=[]))
    return (gast.Tuple(elts=[target] + extra_targets, ctx=gast.Store()),
            gast.Call(func=ir.name("zip"), args=[iterable] + extra_sequences, keywords=[]))


__all__ = ["ForwardFunction", "TangentStatement", "forward"]
