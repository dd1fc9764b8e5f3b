"""Write the reverse-mode function as Python source.

The generated function takes the array module first (`xp`), then the
primal's own parameters, then, keyword-only, the output's gradient. It runs
the forward pass in normal form, then the backward pass, each adjoint block
under a comment quoting the primal line it comes from, and returns
`(value, (gradient, ...))`. Nothing in it names numpy: calls the user wrote as
`np.maximum` become `xp.maximum`, so the file runs on numpy and cupy alike.
"""

from __future__ import annotations

import ast
import copy
import math
import os
import re
import textwrap
import types

import gast

from .. import ir
from ..frontend.resolve import is_numpy_module, numpy_path
from ..analysis.activity import target_names
from ..analysis.shapes import ShapeFacts
from ..analysis.memory import MemoryPlan
from ..ir import SET_ITEM
from ..transform.reverse import (AdjointStatement, IndexAccumulate, OwnAdjoint, Restore, ReverseFunction, ReverseIf,
                                 ReverseLoop, as_expression)
from ..transform.reverse import walk as walk_reverse

COMMENT_PLACEHOLDER = "__sourcegrad_comment_{}__"
COMMENT_LINE = re.compile(r"^(\s*)__sourcegrad_comment_(\d+)__$")


def function_name(primal_name: str) -> str:
    return f"{primal_name}_value_and_grad"


def generate(rev: ReverseFunction, memory: MemoryPlan):
    """The generated function's source text (without the file header), and notes for the header: rev printed
    as its memory plan (analysis/memory.py) says."""
    writer = _Writer(rev, memory)
    return writer.text(gast.gast_to_ast(writer.definition())), _tape_notes(writer.memory, rev.primal)


def generate_buffered(rev: ReverseFunction, memory: MemoryPlan):
    """The source text of the `_into` variant: the plain function with the statements the memory plan gives a
    buffer slot writing with `out=`, into buffers kept between calls and the caller's arrays (into=). None
    when the plan gives no statement a slot."""
    writer = _Writer(rev, memory)
    function = writer.definition()
    slots = writer.memory.buffer_slots(function)
    if not slots:
        return None
    taken = rev.primal.names | set(rev.adjoint_names.values()) | {rev.backend, rev.tape}
    buffers, into = ir.fresh_name("buffers", taken), ir.fresh_name("into", taken)
    for slot in slots:
        targets = [_store(slot.target)]
        if slot.into is None:
            targets.append(gast.Attribute(value=ir.name(buffers), attr=slot.target, ctx=gast.Store()))
            out = gast.Attribute(value=ir.name(buffers), attr=slot.target, ctx=gast.Load())
        else:
            out = gast.Subscript(value=ir.name(into), slice=gast.Constant(value=slot.into, kind=None), ctx=gast.Load())
        call = _call(rev.backend, slot.function, slot.args)
        call.keywords = slot.keywords + [gast.keyword(arg="out", value=out)]
        function.body[slot.index] = gast.Assign(targets=targets, value=call, type_comment=None)
    kept = [slot.target for slot in slots if slot.into is None]
    written = [slot.into for slot in slots if slot.into is not None]
    function.body[0] = gast.Expr(value=gast.Constant(value=_buffered_docstring(rev, kept, written, into), kind=None))
    function.name = f"{function.name}_into"
    function.args.args[1:1] = [_parameter(buffers), _parameter(into)]
    return writer.text(gast.gast_to_ast(function))


def normal_form(fn, backend="xp") -> str:
    """The normal form of a function as Python: its forward code, one operation per line (for explain)."""
    rev = ReverseFunction(fn, [], backend, "d_result", facts=ShapeFacts(fn, {}))
    writer = _Writer(rev, MemoryPlan(rev))  # nothing to save: no backward pass
    writer.retarget = copy.deepcopy  # numpy as the user spelled it: `np.tanh`, not `xp.tanh`
    body = writer.forward(fn.body)
    body.append(gast.Return(value=copy.deepcopy(fn.returned.value)))
    definition = gast.FunctionDef(name=fn.name, args=_arguments(rev, seed=False), body=body, decorator_list=[],
                                  returns=None, type_comment=None, type_params=[])
    module = gast.gast_to_ast(gast.Module(body=[definition], type_ignores=[]))
    return unparse(module) + "\n"


class _SignedConstants(ast.NodeTransformer):
    """A negative number folded into one constant (`-0.5`) written as the negation it came from: ast.unparse
    prints the constant bare, and `-0.5 ** 2` reads as `-(0.5 ** 2)`."""

    def visit_Constant(self, node):
        value = node.value
        if isinstance(value, (int, float)) and not isinstance(value, bool) \
                and (value < 0 or math.copysign(1.0, value) < 0):
            return ast.UnaryOp(op=ast.USub(), operand=ast.Constant(value=-value))
        return node


def unparse(module) -> str:
    """Python text of an ast module, negative constants in parentheses where precedence needs them."""
    return ast.unparse(ast.fix_missing_locations(_SignedConstants().visit(module)))


BACKWARD_PASS = "backward pass: gradients in reverse order"  # the comment that starts it (Compiled.locate reads it)


def citation(origin) -> str:
    """`file.py:23`: where a statement is, in its own file (a helper's lines are in the helper's file). The
    base name alone: generated files hold no absolute paths."""
    return f"{os.path.basename(origin.location.path)}:{origin.location.line}"


class _Writer:
    def __init__(self, rev, memory):
        self.rev = rev
        self.fn = rev.primal
        self.comments = []
        locals_ = set(self.fn.params) | set(self.fn.kwonly)
        for stmt in ir.walk(self.fn.body):
            locals_ |= set(ir.bound_names(stmt))
        self.retarget = Retarget(self.fn.references, rev.backend, locals_)
        self.memory = memory
        self.loop_variable = "_" if "_" not in self.fn.names else "iteration"
        # loops written with sourcegrad.checkpoint: the forward pass prints them with their saved states
        self.checkpointed = {id(node.loop): node for node in walk_reverse(rev.backward)
                             if isinstance(node, ReverseLoop) and node.checkpoint is not None}
        self.taken = set(self.fn.names) | set(rev.adjoint_names.values()) | {rev.backend, rev.tape}

    def fresh(self, base):
        name = ir.fresh_name(base, self.taken)
        self.taken.add(name)
        return name

    def comment(self, text):
        self.comments.append(text)
        return gast.Expr(value=ir.name(COMMENT_PLACEHOLDER.format(len(self.comments) - 1)))

    def definition(self):
        """The generated function, as a gast FunctionDef (comments are placeholders until `text`)."""
        rev, fn = self.rev, self.fn
        body = [gast.Expr(value=gast.Constant(value=_docstring(rev), kind=None))]
        body.append(self.comment("forward pass: the function's own code, one operation per line"))
        if self.memory.used:
            body.append(self.comment("values the backward pass needs and the forward pass overwrites are saved here"))
            body.append(assign(rev.tape, gast.List(elts=[], ctx=gast.Load())))
        for index, stmt in enumerate(fn.body):
            for name in self.memory.unset_before(index):
                body.append(assign(name, gast.Constant(value=None, kind=None)))
            body.extend(self.forward([stmt]))
            if isinstance(stmt, ir.Loop):
                body.extend(self.release_after(stmt, fn.body[index + 1:]))

        taken = fn.names | set(rev.adjoint_names.values()) | {rev.backend, rev.tape}

        def kept(expr, base):
            """expr, or a name holding its value now where the memory plan asks for one."""
            nonlocal taken
            if not self.memory.needs_own_name(expr):
                return copy.deepcopy(expr)
            name = ir.fresh_name(base, taken)
            taken = taken | {name}
            body.append(assign(name, copy.deepcopy(expr)))
            return ir.name(name)

        returned = kept(fn.returned.value, "value")
        aux = kept(fn.returned.aux, "aux")  # has_aux: the auxiliary output, kept the same way
        body.append(self.comment(BACKWARD_PASS))
        body.append(assign(rev.seed, _call(rev.backend, "output_gradient", [copy.deepcopy(returned), ir.name(rev.seed)])))
        body.extend(self.backward(rev.backward, [None]))

        gradients = []
        copies = rev.copy_gradient or [False] * len(rev.gradients)  # decided by the memory plan: none before it
        for w, gradient, needs_copy in zip(rev.wrt, rev.gradients, copies):
            # a gradient that may share memory with an input or another gradient is copied before it is handed out
            copier = "copy" if rev.facts.ranks.get(w) is not None else "copy_gradient"  # a dict of arrays: each
            gradients.append(_call(rev.backend, copier, [gradient]) if needs_copy else gradient)
        if aux is not None:  # has_aux: the value is the pair the function returns, as JAX's value_and_grad gives it
            returned = gast.Tuple(elts=[returned, aux], ctx=gast.Load())
        returned_value = gast.Tuple(elts=[returned, gast.Tuple(elts=gradients, ctx=gast.Load())], ctx=gast.Load())
        body.append(gast.Return(value=returned_value))
        return gast.FunctionDef(name=function_name(fn.name), args=_arguments(rev), body=body, decorator_list=[],
                                returns=None, type_comment=None, type_params=[])

    def text(self, definition):
        """An ast FunctionDef as Python text, its comment placeholders written out as comments."""
        text = unparse(ast.Module(body=[definition], type_ignores=[]))
        lines = []
        for line in text.splitlines():
            match = COMMENT_LINE.match(line)
            lines.append(f"{match.group(1)}# {self.comments[int(match.group(2))]}" if match else line)
        return "\n".join(lines) + "\n"

    def rank_of(self, name):
        return self.memory.rank_of(name)

    # ---- forward ----------------------------------------------------------------------------------

    def forward(self, stmts, taping=True):
        """The forward code of stmts; taping=False leaves out the tape's saves (a checkpointed loop's iterations
        that only move its state forward)."""
        out = []
        for stmt in stmts:
            for name in self.memory.saved_at(stmt) if taping else ():
                value = ir.name(name)
                if name in self.memory.shape_only:  # the backward pass reads only its shape: keep no data
                    value = _call(self.rev.backend, "ghost", [value])
                out.append(_call_statement(ir.name(self.rev.tape), "append", [value]))
            simple = primal_statement(stmt, self.rev.backend, self.retarget)
            if simple is not None:
                if isinstance(stmt, ir.Assign) and stmt.primitive == SET_ITEM:
                    # xp.set_item refuses an index naming a position twice: its error cites the user's line
                    out.append(self.comment(f"{citation(stmt.origin)}  {stmt.origin.text}"))
                out.append(simple)
            elif isinstance(stmt, ir.If):
                out.extend(self.decided(stmt.test))
                out.append(gast.If(test=copy.deepcopy(stmt.test), body=self.forward(stmt.body, taping) or [gast.Pass()],
                                   orelse=self.forward(stmt.orelse, taping)))
            elif isinstance(stmt, ir.Loop) and id(stmt) in self.checkpointed:
                out.extend(self.checkpointed_loop(self.checkpointed[id(stmt)]))
            elif isinstance(stmt, ir.Loop):
                out.extend(self.forward_loop(stmt, taping))
        return out

    def decided(self, test):
        """`c = bool(c)` before an `if` on an array's truth value (`c = x.sum() > 0`): the backward pass tests c
        again, and a Python bool is read there without a second wait for the GPU (cupy) or a second computation
        of everything before it (dask)."""
        if isinstance(test, gast.Name) and isinstance(self.rev.facts.rank(test), int):
            return [assign(test.id, _call_name("bool", [ir.name(test.id)]))]
        return []

    def checkpointed_loop(self, node):
        """A loop written with sourcegrad.checkpoint, forward: no tape, its state saved where the schedule says."""
        loop, backend = node.loop, self.rev.backend
        node.steps, node.schedule, node.states = self.fresh("steps"), self.fresh("schedule"), self.fresh("states")
        node.position = self.fresh("i")
        out = [self.comment(f"{citation(loop.origin)}  {loop.origin.text}"),
               self.comment(f"no tape for this loop: its state ({', '.join(node.checkpoint.state) or 'nothing'}) is "
                            f"saved at the iterations the schedule picks, at most {unparse_expression(loop.snapshots)} "
                            "at once (sourcegrad.checkpoint)"),
               assign(node.steps, self.retarget(loop.iterable)),
               assign(node.schedule, _call(backend, "revolve", [_call_name("len", [ir.name(node.steps)]),
                                                                 copy.deepcopy(loop.snapshots)])),
               assign(node.states, gast.Dict(keys=[], values=[]))]
        if node.checkpoint.before:  # values the loop overwrites that the code before it needs in the backward pass
            node.before = self.fresh("before_loop")
            out.append(assign(node.before, _names_tuple(node.checkpoint.before)))
        node.maybe_before = {}
        for name in node.checkpoint.maybe_before:  # bound before only on some paths: saved where it is bound
            saved = node.maybe_before[name] = self.fresh(f"before_loop_{name}")
            unbound = [self.comment(f"{name} was bound only on a path not taken (a loop of no iteration, a "
                                    "branch), so nothing before this loop reads it"), assign(saved, gast.Tuple(elts=[], ctx=gast.Load()))]
            out.append(gast.Try(body=[assign(saved, _names_tuple([name]))],
                                handlers=[gast.ExceptHandler(type=ir.name("UnboundLocalError"), name=None, body=unbound)],
                                orelse=[], finalbody=[]))
        save = gast.If(test=gast.Compare(left=ir.name(node.position), ops=[gast.In()], comparators=[
            gast.Attribute(value=ir.name(node.schedule), attr="forward", ctx=gast.Load())]),
            body=[self.save_state(node)], orelse=[])
        header = gast.Tuple(elts=[_store(node.position), copy.deepcopy(loop.target)], ctx=gast.Store())
        out.append(_for(header, _call_name("enumerate", [ir.name(node.steps)]), [save] + self.forward(loop.body, False)))
        return out

    def save_state(self, node):
        element = gast.Subscript(value=ir.name(node.states), slice=ir.name(node.position), ctx=gast.Store())
        return gast.Assign(targets=[element], value=_names_tuple(node.checkpoint.state), type_comment=None)

    def checkpointed_reverse(self, node):
        """Its gradients: the schedule's backward actions, each iteration run once more with its tape and at
        once reversed."""
        loop = node.loop
        position = ir.name(node.position)
        state = gast.Subscript(value=ir.name(node.states), slice=position, ctx=gast.Load())
        step = _assign_target(copy.deepcopy(loop.target), gast.Subscript(value=ir.name(node.steps), slice=position,
                                                                       ctx=gast.Load()))
        cases = [("restore", [_assign_target(_names_tuple(node.checkpoint.state, gast.Store()), state)]),
                 ("snapshot", [self.save_state(node)]),
                 ("forget", [gast.Delete(targets=[gast.Subscript(value=ir.name(node.states), slice=position,
                                                                ctx=gast.Del())])]),
                 ("advance", [copy.deepcopy(step)] + self.forward(loop.body, False))]
        reverse = [copy.deepcopy(step)] + self.forward(loop.body) + self.backward(node.body, [node.origin])
        chain = [self.comment('"reverse": the iteration once more, with its tape, then its gradients')] + reverse
        for action, body in reversed(cases):
            test = gast.Compare(left=ir.name("action"), ops=[gast.Eq()],
                                comparators=[gast.Constant(value=action, kind=None)])
            chain = [gast.If(test=test, body=body or [gast.Pass()], orelse=chain)]
        action = self.fresh("action")
        for stmt in gast.walk(chain[0]):
            if isinstance(stmt, gast.Name) and stmt.id == "action":
                stmt.id = action
        header = gast.Tuple(elts=[_store(action), _store(node.position)], ctx=gast.Store())
        out = [_for(header, gast.Attribute(value=ir.name(node.schedule), attr="backward", ctx=gast.Load()), chain)]
        if node.checkpoint.before:
            out.append(_assign_target(_names_tuple(node.checkpoint.before, gast.Store()), ir.name(node.before)))
        for name, saved in node.maybe_before.items():
            out.append(gast.If(test=ir.name(saved), body=[_assign_target(_names_tuple([name], gast.Store()),
                                                                          ir.name(saved))], orelse=[]))
        return out

    def release_after(self, loop, rest):
        released = self.memory.released_after(loop, rest)
        if not released:
            return []
        out = [self.comment("let go of arrays the loop's last iteration left that nothing reads again "
                            "(the backward pass: their shapes)")]
        for name, shape_read in released:
            if shape_read:
                out.append(assign(name, _call(self.rev.backend, "ghost", [ir.name(name)])))
            else:
                out.append(assign(name, gast.Constant(value=None, kind=None)))
        return out

    def forward_loop(self, loop, taping=True):
        out = []
        counting = []
        if loop.counter:
            out.append(assign(loop.counter, gast.Constant(value=0, kind=None)))
            counting = [gast.AugAssign(target=_store(loop.counter), op=gast.Add(), value=gast.Constant(value=1, kind=None))]
        body = counting + self.forward(loop.body, taping)
        test_body = self.forward(loop.test_body, taping) if loop.test_body else []
        out.append(loop_statement(loop, body, test_body, self.retarget))
        return out

    # ---- backward ---------------------------------------------------------------------------------

    def backward(self, nodes, last_origin):
        """last_origin is a one-element list: the origin whose comment was written last."""
        out = []
        for node in nodes:
            if isinstance(node, Restore) and not self.memory.saves(node.site, node.name):
                continue
            if isinstance(node, OwnAdjoint) and not getattr(node, "needed", True):
                continue
            if node.origin is not last_origin[0]:
                out.append(self.comment(f"{citation(node.origin)}  {node.origin.text}"))
                last_origin[0] = node.origin
            if isinstance(node, Restore):
                out.append(assign(node.name, _call_expression(ir.name(self.rev.tape), "pop", [])))
            elif isinstance(node, AdjointStatement):
                value = self.retarget(node.value)
                scatter = self.memory.scatter(node, value)
                if scatter is not None:
                    out.append(self.scatter(node.target, *scatter))
                elif not node.accumulate:
                    out.append(assign(node.target, value))
                elif self.rev.facts.ranks.get(self.rev.primal_of(node.target)) is None:
                    # maybe a dict or a list of gradients, where `+=` would append, not add
                    out.append(assign(node.target, _call(self.rev.backend, "add_gradients", [ir.name(node.target), value])))
                elif node.in_place:
                    out.append(gast.AugAssign(target=_store(node.target), op=gast.Add(), value=value))
                else:
                    out.append(assign(node.target, gast.BinOp(left=ir.name(node.target), op=gast.Add(), right=value)))
            elif isinstance(node, OwnAdjoint):
                # a structure's gradient (a list of a layer's dicts) is copied entry by entry
                copier = "copy" if self.rank_of(node.target) is not None else "copy_gradient"
                out.append(assign(node.target, _call(self.rev.backend, copier, [ir.name(node.target)])))
            elif isinstance(node, IndexAccumulate):
                row = self.rev.primal_of(node.value.id) if isinstance(node.value, gast.Name) else None
                if row is not None and self.rev.facts.ranks.get(row) is not None:
                    element = gast.Subscript(value=ir.name(node.target), slice=ir.name(node.index), ctx=gast.Store())
                    out.append(gast.AugAssign(target=element, op=gast.Add(), value=self.retarget(node.value)))
                else:  # the rows are structures (a layer's dict): add them entry by entry
                    out.append(_call_statement(ir.name(self.rev.backend), "index_add",
                                               [ir.name(node.target), ir.name(node.index), self.retarget(node.value)]))
            elif isinstance(node, ReverseIf):
                body = self.backward(node.body, [node.origin]) or [gast.Pass()]
                orelse = self.backward(node.orelse, [node.origin])
                out.append(gast.If(test=copy.deepcopy(node.test), body=body, orelse=orelse))
                last_origin[0] = None
            elif isinstance(node, ReverseLoop) and node.checkpoint is not None:
                out.extend(self.checkpointed_reverse(node))
                last_origin[0] = None
            elif isinstance(node, ReverseLoop):
                out.append(self.reverse_loop(node))
                last_origin[0] = None
        return out

    def scatter(self, target, how, grad, index):
        """`d_x[index] += g` or `xp.index_add(d_x, index, g)`, as the memory plan chose (MemoryPlan.scatter)."""
        if how == "element":
            element = gast.Subscript(value=ir.name(target), slice=_as_slices(index), ctx=gast.Store())
            return gast.AugAssign(target=element, op=gast.Add(), value=grad)
        return _call_statement(ir.name(self.rev.backend), "index_add", [ir.name(target), index, grad])

    def reverse_loop(self, node):
        loop = node.loop
        body = self.backward(node.body, [node.origin])
        if loop.kind == "while":
            return _for(_store(self.loop_variable), _range(ir.name(loop.counter)), body)
        needed = self.memory.rows_read_again(node)
        iterable = self.retarget(loop.iterable)
        kind = iterable.func.id if isinstance(iterable, gast.Call) and isinstance(iterable.func, gast.Name) else "sequence"
        sequences = iterable.args if kind in ("enumerate", "zip") else [iterable]
        if not needed and not node.indexed:
            count = ir.name(loop.counter) if loop.counter else _len_of(kind, iterable, sequences)
            return _for(_store(self.loop_variable), _range(count), body)
        if kind == "range" or (kind == "sequence" and not node.indexed):
            walked = _prefix(iterable, loop.counter)
            return _for(copy.deepcopy(loop.target), _reversed(walked), body)
        # Walk positions backwards and take each row again: its gradient goes back to the same position.
        index = node.index
        count = ir.name(loop.counter) if loop.counter else _len_of(kind, iterable, sequences[:1] if kind == "enumerate" else sequences)
        rows = []
        targets = target_names(loop.target)
        if kind == "enumerate":
            start = iterable.args[1] if len(iterable.args) > 1 else None
            position = ir.name(index) if start is None else gast.BinOp(left=ir.name(index), op=gast.Add(), right=copy.deepcopy(start))
            pairs = [(targets[0], position), (targets[1], _item(sequences[0], index))]
        else:
            pairs = [(t, _item(s, index)) for t, s in zip(targets, sequences)]
        for target, value in pairs:
            if target in needed:
                rows.append(assign(target, value))
        return _for(_store(index), _reversed(_range(count)), rows + body)


def _tape_notes(memory, fn):
    """One line per loop that saves values: what an iteration adds to the tape."""
    lines = []
    for loop in ir.walk(fn.body):
        if not isinstance(loop, ir.Loop):
            continue
        saves = memory.loop_saves(loop)
        if not saves:
            continue
        parts, arrays = [], []
        for name, how, copied in saves:
            if how == "shape":
                parts.append(f"{name} (its shape only)")
            elif how == "alias":
                parts.append(f"{name} (the array {copied} already holds)")
            else:
                parts.append(name)
                arrays.append(f"{name}.nbytes")
        total = " + ".join(arrays) if arrays else "a few bytes"
        if loop.snapshots is not None:  # checkpointed: one iteration's saves at a time, and the saved states
            lines.append(f"Tape: the checkpointed loop at {citation(loop.origin)} saves {', '.join(parts)} for one "
                         f"iteration at a time ({total}), and its state at most "
                         f"{unparse_expression(loop.snapshots)} times.")
            continue
        lines.append(f"Tape: each iteration of the loop at {citation(loop.origin)} saves "
                     f"{', '.join(parts)}: {total} per iteration.")
    return lines


def _as_slices(index):
    """slice(a, b, c) calls back to `a:b:c` inside brackets, where a reader expects them."""
    if isinstance(index, gast.Tuple):
        return gast.Tuple(elts=[_as_slices(e) for e in index.elts], ctx=gast.Load())
    if isinstance(index, gast.Call) and isinstance(index.func, gast.Name) and index.func.id == "slice":
        parts = [None if isinstance(a, gast.Constant) and a.value is None else a for a in index.args]
        return gast.Slice(lower=parts[0], upper=parts[1], step=parts[2])
    return index


def _for(target, iterable, body):
    return gast.For(target=target, iter=iterable, body=body or [gast.Pass()], orelse=[], type_comment=None)


def _range(count):
    return gast.Call(func=ir.name("range"), args=[count], keywords=[])


def _reversed(iterable):
    return gast.Call(func=ir.name("reversed"), args=[iterable], keywords=[])


def _prefix(iterable, counter):
    """The part of the iterable the forward loop walked: all of it, or the first `counter` items after a break."""
    if counter is None:
        return copy.deepcopy(iterable)
    return gast.Subscript(value=copy.deepcopy(iterable), slice=gast.Slice(lower=None, upper=ir.name(counter), step=None),
                          ctx=gast.Load())


def _len_of(kind, iterable, sequences):
    if kind == "range":
        if len(iterable.args) == 1 and not iterable.keywords:  # range(n) runs max(n, 0) times, as range(n) does
            return copy.deepcopy(iterable.args[0])
        return gast.Call(func=ir.name("len"), args=[copy.deepcopy(iterable)], keywords=[])
    lengths = [gast.Call(func=ir.name("len"), args=[copy.deepcopy(s)], keywords=[]) for s in sequences]
    return lengths[0] if len(lengths) == 1 else gast.Call(func=ir.name("min"), args=lengths, keywords=[])


def _item(sequence, index):
    return gast.Subscript(value=copy.deepcopy(sequence), slice=ir.name(index), ctx=gast.Load())


def _call_statement(value, attr, args):
    return gast.Expr(value=_call_expression(value, attr, args))


def _call_expression(value, attr, args):
    return gast.Call(func=gast.Attribute(value=value, attr=attr, ctx=gast.Load()), args=args, keywords=[])


def _docstring(rev):
    gradients = ", ".join(rev.adjoint_names.get(w, "d_" + w) for w in rev.wrt)
    return (f"Return {rev.primal.name}(...) and its gradients ({gradients}).\n\n"
            f"    {rev.seed}: the gradient of the output; by default 1 for a scalar output.\n    ")


def _buffered_docstring(rev, kept, written, into_name):
    gradients = [rev.adjoint_names.get(w, "d_" + w) for w in rev.wrt]
    text = (f"sourcegrad calls this one when a call passes into=. Kept in buffers for the next call with the same "
            f"shapes and dtypes, never handed to the caller: {', '.join(kept) or 'nothing'}.")
    if written:
        text += (" Written into the caller's arrays when given (into=): "
                 + ", ".join(f"{gradients[i]} ({into_name}[{i}])" for i in written) + ".")
    body = textwrap.fill(text, 104, initial_indent="    ", subsequent_indent="    ")
    return f"{function_name(rev.primal.name)}, writing its arrays into buffers.\n\n{body}\n    "


def primal_statement(stmt, backend, retarget):
    """The code of one primal statement without a body (an assignment, `a[i] = v`, an unpacking, an effect, a
    break), as both printers write it, the gradient's (codegen) and the tangents' (forward_code); None for an `if`
    or a loop, whose bodies each printer fills in its own way."""
    if isinstance(stmt, ir.Assign) and stmt.primitive == SET_ITEM:
        # `a[i] = v` as a new version of a: xp.set_item copies a and writes v at i
        array, index, value = stmt.args
        return assign(stmt.target, _call(backend, "set_item", [retarget(array), retarget(as_expression(index)),
                                                                retarget(value)]))
    if isinstance(stmt, ir.Assign):
        return assign(stmt.target, retarget(stmt.expr))
    if isinstance(stmt, ir.Unpack):
        targets = gast.Tuple(elts=[_store(t) for t in stmt.targets], ctx=gast.Store())
        return gast.Assign(targets=[targets], value=retarget(stmt.value), type_comment=None)
    if isinstance(stmt, ir.Effect):
        return retarget(stmt.stmt)
    if isinstance(stmt, ir.Break):
        return gast.Break()
    return None


def loop_statement(loop, body, test_body, retarget):
    """A primal loop around its printed body; a `while` whose test needs statements of its own (test_body, printed)
    evaluates them at the top of every iteration and breaks when the test fails."""
    if loop.kind == "for":
        return gast.For(target=copy.deepcopy(loop.target), iter=retarget(loop.iterable), body=body or [gast.Pass()],
                        orelse=[], type_comment=None)
    if not loop.test_body:
        return gast.While(test=retarget(loop.test), body=body or [gast.Pass()], orelse=[])
    stop = gast.If(test=gast.UnaryOp(op=gast.Not(), operand=copy.deepcopy(loop.test)), body=[gast.Break()], orelse=[])
    return gast.While(test=gast.Constant(value=True, kind=None), body=test_body + [stop] + body, orelse=[])


def _parameter(name):
    return gast.Name(id=name, ctx=gast.Param(), annotation=None, type_comment=None)


def _arguments(rev, seed=True):
    fn = rev.primal
    positional = ([_parameter(rev.backend)] if seed else []) + [_parameter(p) for p in fn.params]
    # Literal defaults are written out for the reader; every default is also set from the
    # original function when the module is loaded, so non-literal ones work too.
    defaults = []
    for p in fn.params:
        if p in fn.defaults:
            defaults.append(copy.deepcopy(fn.defaults[p]))
        elif defaults:
            defaults = []  # a parameter without a written default after one with: write none before it
    kwonly = [_parameter(p) for p in fn.kwonly] + ([_parameter(rev.seed)] if seed else [])
    kw_defaults = [copy.deepcopy(fn.defaults[p]) if p in fn.defaults else None for p in fn.kwonly]
    if seed:
        kw_defaults.append(gast.Constant(value=None, kind=None))
    return gast.arguments(args=positional, posonlyargs=[], vararg=None, kwonlyargs=kwonly, kw_defaults=kw_defaults,
                          kwarg=None, defaults=defaults)


def assign(target, value):
    return gast.Assign(targets=[_store(target)], value=value, type_comment=None)


def _assign_target(target, value):
    return gast.Assign(targets=[target], value=value, type_comment=None)


def _names_tuple(names, ctx=None):
    ctx = ctx or gast.Load()
    return gast.Tuple(elts=[gast.Name(id=n, ctx=ctx, annotation=None, type_comment=None) for n in names], ctx=ctx)


def _call_name(function, args):
    return gast.Call(func=ir.name(function), args=args, keywords=[])


def unparse_expression(expr):
    return ast.unparse(gast.gast_to_ast(copy.deepcopy(expr)))


def _store(identifier):
    return gast.Name(id=identifier, ctx=gast.Store(), annotation=None, type_comment=None)


def _call(backend, attr, args):
    return gast.Call(func=gast.Attribute(value=ir.name(backend), attr=attr, ctx=gast.Load()), args=args, keywords=[])


class Retarget(gast.NodeTransformer):
    """Point references to numpy at the array module the generated code is handed."""

    def __init__(self, references, backend, locals_):
        self.references = references
        self.backend = backend
        self.locals = locals_

    def __call__(self, node):
        return self.visit(copy.deepcopy(node))

    def visit_Name(self, node):
        if node.id in self.locals or node.id not in self.references:
            return node
        obj = self.references[node.id]
        if is_numpy_module(obj):
            path = obj.__name__.split(".")[1:]
            expr = ir.name(self.backend)
            for attr in path:
                expr = gast.Attribute(value=expr, attr=attr, ctx=gast.Load())
            return expr
        path = numpy_path(obj) if not isinstance(obj, types.ModuleType) else None
        if path is not None and getattr(obj, "__module__", "") != "builtins":
            expr = ir.name(self.backend)
            for attr in path.split("."):
                expr = gast.Attribute(value=expr, attr=attr, ctx=gast.Load())
            return expr
        return node
