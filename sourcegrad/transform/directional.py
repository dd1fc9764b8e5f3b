"""The forward-mode program as a function in normal form, for reverse mode to differentiate (Hessian-vector
products).

The gradient of the derivative along a tangent v, with respect to the arguments, is the Hessian times v:
grad_w (grad f(w) . v) = H v. So a Hessian-vector product is reverse mode over forward mode. The forward
program is already the primal's normal form with a tangent line after each active statement; flattening each
tangent line to one operation per statement (`t_y = t_h.dot(w2) + h.dot(t_w2)` becomes three statements)
makes it a normal-form function like any other, whose output is the tangent of f's output and whose extra
parameters are the tangents. Reverse mode then writes its gradient with the rules it already has; the
runtime helpers that tangent lines call (`xp.broadcast_like`) have gradient rules of their own.
"""

from __future__ import annotations

import dataclasses
import functools

import gast
import numpy

from .. import ir
from ..ir import BINARY_OPERATORS, COMPARISON, COPY, DICT_DISPLAY, SET_ITEM, SUBSCRIPT, UNARY_OPERATORS
from ..runtime import HELPERS
from ..templates.registry import backend_function
from .forward import ForwardFunction, TangentStatement


def directional_function(fwd: ForwardFunction) -> ir.Function:
    """f's forward program as `f_jvp(*params, *, t_w...)`, returning the tangent of f's output."""
    fn = fwd.primal
    tangents = [fwd.tangent_names[w] for w in fwd.wrt]
    flattener = _Flattener(fn.names | set(fwd.tangent_names.values()) | {fwd.backend}, fwd.backend)
    body = flattener.block([node for node in fwd.body if not isinstance(node, ir.Return)])
    returned = fn.returned
    flattener.out, flattener.node, flattener.origin = [], returned.node, returned.origin
    output = flattener.atom(fwd.output_tangent, "t_output")
    body += flattener.out
    body.append(ir.Return(value=output, origin=returned.origin, node=returned.node))
    return ir.Function(name=f"{fn.name}_jvp", params=list(fn.params), kwonly=list(fn.kwonly) + tangents,
                       defaults=dict(fn.defaults), body=body, names=set(flattener.taken), references=dict(fn.references),
                       inlined=list(fn.inlined), callees=list(fn.callees), kinds=dict(fn.kinds),
                       closure_cells=dict(fn.closure_cells))


class _Flattener:
    def __init__(self, taken, backend):
        self.taken = set(taken)
        self.backend = backend
        self.out = []  # the statements of the tangent line being flattened
        self.node = None  # the primal statement the line belongs to: for error locations
        self.origin = None
        self.primal_display = "the line's operation"  # how the user wrote the primal operation, for messages

    def block(self, nodes):
        result = []
        for node in nodes:
            if isinstance(node, TangentStatement):
                self.out, self.origin = [], node.origin
                self.flatten(node.target, node.value)
                result.extend(self.out)
            elif isinstance(node, ir.If):
                self.node = node.node
                result.append(dataclasses.replace(node, body=self.block(node.body), orelse=self.block(node.orelse)))
            elif isinstance(node, ir.Loop):
                self.node = node.node  # the loop's own tangent lines (`t_row = t_X[i]`) point at its header
                result.append(dataclasses.replace(node, test_body=self.block(node.test_body), body=self.block(node.body)))
            else:
                self.node = getattr(node, "node", None) or getattr(node, "stmt", None)  # an Effect: its statement
                if isinstance(node, ir.Assign) and node.display:
                    self.primal_display = node.display
                result.append(node)
        return result

    def fresh(self, base):
        name = ir.fresh_name(base, self.taken)
        self.taken.add(name)
        return name

    def atom(self, expr, base):
        """An atom for expr, statements for the operations inside it emitted first."""
        if isinstance(expr, (gast.Name, gast.Constant)):
            return expr
        if isinstance(expr, (gast.Tuple, gast.List)):
            return type(expr)(elts=[self.atom(e, base) for e in expr.elts], ctx=gast.Load())
        target = self.fresh(base)
        self.flatten(target, expr, base)
        return ir.name(target)

    def index(self, expr, base):
        """An index atom: `slice(a, b, c)` as the slice `a:b:c` it was written as."""
        if isinstance(expr, gast.Call) and isinstance(expr.func, gast.Name) and expr.func.id == "slice":
            parts = [None if isinstance(p, gast.Constant) and p.value is None else self.atom(p, base) for p in expr.args]
            return gast.Slice(lower=parts[0], upper=parts[1], step=parts[2])
        if isinstance(expr, gast.Tuple):
            return gast.Tuple(elts=[self.index(e, base) for e in expr.elts], ctx=gast.Load())
        return self.atom(expr, base)

    def flatten(self, target, expr, base=None):
        """Emit `target = expr` as statements of one operation each."""
        base = base or target
        if isinstance(expr, (gast.Name, gast.Constant, gast.Tuple, gast.List)):
            value = self.atom(expr, base)
            self.emit(target, value, COPY, (value,), {}, "assignment")
        elif isinstance(expr, gast.BinOp):
            left, right = self.atom(expr.left, base), self.atom(expr.right, base)
            self.emit(target, gast.BinOp(left=left, op=expr.op, right=right), BINARY_OPERATORS[type(expr.op)],
                      (left, right), {}, "an operator")
        elif isinstance(expr, gast.UnaryOp):
            operand = self.atom(expr.operand, base)
            self.emit(target, gast.UnaryOp(op=expr.op, operand=operand), UNARY_OPERATORS[type(expr.op)], (operand,), {},
                      "an operator")
        elif isinstance(expr, gast.Compare):
            left = self.atom(expr.left, base)
            rights = [self.atom(c, base) for c in expr.comparators]
            self.emit(target, gast.Compare(left=left, ops=expr.ops, comparators=rights), COMPARISON, (left, *rights), {},
                      "a comparison")
        elif isinstance(expr, gast.Subscript):
            value, index = self.atom(expr.value, base), self.index(expr.slice, base)
            self.emit(target, gast.Subscript(value=value, slice=index, ctx=gast.Load()), SUBSCRIPT, (value, index), {},
                      "indexing")
        elif isinstance(expr, gast.Attribute):  # an array attribute, `t_x.T`
            receiver = self.atom(expr.value, base)
            self.emit(target, gast.Attribute(value=receiver, attr=expr.attr, ctx=gast.Load()),
                      ir.Method(expr.attr, is_call=False), (receiver,), {}, f"`.{expr.attr}`")
        elif isinstance(expr, gast.Call) and isinstance(expr.func, gast.Attribute):
            self.call(target, expr, base)
        elif isinstance(expr, gast.Dict):  # a dict literal's tangent, `{"a": t_a, "b": t_b}`
            keys = gast.Tuple(elts=list(expr.keys), ctx=gast.Load())
            entries = gast.Tuple(elts=[self.atom(v, base) for v in expr.values], ctx=gast.Load())
            self.emit(target, gast.Dict(keys=list(keys.elts), values=list(entries.elts)), DICT_DISPLAY, (keys, entries),
                      {}, "a dict literal")
        else:
            raise NotImplementedError(f"a tangent line holding {gast.dump(expr)}")

    def call(self, target, expr, base):
        func = expr.func
        args = [self.index(a, base) if isinstance(func.value, gast.Name) and func.value.id == self.backend
                and func.attr == "set_item" and i == 1 else self.atom(a, base) for i, a in enumerate(expr.args)]
        keywords = {k.arg: self.atom(k.value, base) for k in expr.keywords}
        if isinstance(func.value, gast.Name) and func.value.id == self.backend:  # `xp.exp(a)`, `xp.broadcast_like(t, y)`
            if func.attr == "set_item":
                display = ir.DICT_WRITE if self.primal_display == ir.DICT_WRITE else "writing into an array"
                self.emit(target, gast.Call(func=func, args=args, keywords=[]), SET_ITEM, tuple(args), {}, display)
                return
            primitive = backend_function(func.attr)
            display = (f"`{func.attr}`{ir.TANGENT_HELPER}{self.primal_display}" if func.attr in HELPERS
                       else f"`np.{func.attr}`")
            new_func = gast.Attribute(value=ir.name(self.backend), attr=func.attr, ctx=gast.Load())
        elif _submodule_chain(func, self.backend) is not None:  # `xp.linalg.solve(a, t_b)`: numpy's function
            chain = _submodule_chain(func, self.backend)
            primitive = functools.reduce(getattr, chain, numpy)
            display = f"`np.{'.'.join(chain)}`"
            new_func = func
        else:  # a method of an array, `t_h.dot(w2)`, `t_x.sum()`
            receiver = self.atom(func.value, base)
            primitive, args = ir.Method(func.attr), [receiver] + args
            display = f"`.{func.attr}()`"
            new_func = gast.Attribute(value=receiver, attr=func.attr, ctx=gast.Load())
        call_args = args if not isinstance(primitive, ir.Method) else args[1:]
        call = gast.Call(func=new_func, args=call_args,
                         keywords=[gast.keyword(arg=k, value=v) for k, v in keywords.items()])
        self.emit(target, call, primitive, tuple(args), keywords, display)

    def emit(self, target, expr, primitive, args, kwargs, display):
        self.out.append(ir.Assign(target, expr, primitive, args, kwargs, self.origin, self.node, display))


def _submodule_chain(func, backend):
    """["linalg", "solve"] for `xp.linalg.solve`; None for anything else."""
    chain = []
    while isinstance(func, gast.Attribute):
        chain.insert(0, func.attr)
        func = func.value
    if isinstance(func, gast.Name) and func.id == backend and len(chain) >= 2 and chain[0] in ("linalg", "fft"):
        return chain
    return None


__all__ = ["directional_function"]
