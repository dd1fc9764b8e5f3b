"""Write the forward-mode function as Python source.

The generated function takes the array module first (`xp`), then the primal's own parameters, then,
keyword-only, the tangents of the `wrt` arguments (`d_w1`), and returns `(value, tangent of the value)`.
Each of the function's lines is followed by its tangent, under a comment quoting the line:

    # two_layer.py:9  h = x.dot(w1)
    h = x.dot(w1)
    d_h = x.dot(d_w1)
"""

from __future__ import annotations

import ast
import copy

import gast

from .. import ir
from ..transform.forward import ForwardFunction, TangentStatement
from .codegen import (COMMENT_LINE, COMMENT_PLACEHOLDER, Retarget, assign, citation, loop_statement, primal_statement,
                      unparse)


def function_name(primal_name: str) -> str:
    return f"{primal_name}_jvp"


def generate(fwd: ForwardFunction) -> str:
    """The generated function's source text (without the file header)."""
    writer = _ForwardWriter(fwd)
    definition = gast.gast_to_ast(writer.definition())
    text = unparse(ast.Module(body=[definition], type_ignores=[]))
    lines = []
    for line in text.splitlines():
        match = COMMENT_LINE.match(line)
        lines.append(f"{match.group(1)}# {writer.comments[int(match.group(2))]}" if match else line)
    return "\n".join(lines) + "\n"


class _ForwardWriter:
    def __init__(self, fwd):
        self.fwd = fwd
        self.fn = fwd.primal
        self.comments = []
        locals_ = set(self.fn.params) | set(self.fn.kwonly)
        for stmt in ir.walk(self.fn.body):
            locals_ |= set(ir.bound_names(stmt))
        self.retarget = Retarget(self.fn.references, fwd.backend, locals_)
        self.last_origin = None

    def comment(self, text):
        self.comments.append(text)
        return gast.Expr(value=ir.name(COMMENT_PLACEHOLDER.format(len(self.comments) - 1)))

    def definition(self):
        fwd, fn = self.fwd, self.fn
        tangents = [fwd.tangent_names[w] for w in fwd.wrt]
        docstring = (f"Return {fn.name}(...) and its derivative along the tangents {', '.join(tangents)} of "
                     f"{', '.join(fwd.wrt)}.")
        body = [gast.Expr(value=gast.Constant(value=docstring, kind=None))]
        body.extend(self.block(fwd.body))
        returned = copy.deepcopy(fn.returned.value)
        if fn.returned.aux is not None:  # has_aux: the value is the pair the function returns
            returned = gast.Tuple(elts=[returned, copy.deepcopy(fn.returned.aux)], ctx=gast.Load())
        body.append(gast.Return(value=gast.Tuple(elts=[returned, self.retarget(fwd.output_tangent)], ctx=gast.Load())))
        return gast.FunctionDef(name=function_name(fn.name), args=self.arguments(tangents), body=body,
                                decorator_list=[], returns=None, type_comment=None, type_params=[])

    def arguments(self, tangents):
        fn = self.fn

        def param(name):
            return gast.Name(id=name, ctx=gast.Param(), annotation=None, type_comment=None)

        defaults = []
        for p in fn.params:  # literal defaults written out for the reader (all are set again at load time)
            if p in fn.defaults:
                defaults.append(copy.deepcopy(fn.defaults[p]))
            elif defaults:
                defaults = []
        kwonly = [param(p) for p in fn.kwonly] + [param(t) for t in tangents]
        kw_defaults = [copy.deepcopy(fn.defaults[p]) if p in fn.defaults else None for p in fn.kwonly]
        kw_defaults += [None] * len(tangents)
        return gast.arguments(args=[param(self.fwd.backend)] + [param(p) for p in fn.params], posonlyargs=[],
                              vararg=None, kwonlyargs=kwonly, kw_defaults=kw_defaults, kwarg=None, defaults=defaults)

    def cite(self, origin, out):
        if origin is not self.last_origin:
            out.append(self.comment(f"{citation(origin)}  {origin.text}"))
            self.last_origin = origin

    def block(self, nodes):
        out = []
        for node in nodes:
            if isinstance(node, (ir.Return,)):
                continue
            if hasattr(node, "origin") and not isinstance(node, (ir.If, ir.Loop)):
                self.cite(node.origin, out)
            simple = None if isinstance(node, TangentStatement) else primal_statement(node, self.fwd.backend,
                                                                                        self.retarget)
            if isinstance(node, TangentStatement):
                out.append(assign(node.target, self.retarget(node.value)))
            elif simple is not None:
                out.append(simple)
            elif isinstance(node, ir.If):
                self.cite(node.origin, out)
                body = self.block(node.body) or [gast.Pass()]
                orelse = self.block(node.orelse)
                out.append(gast.If(test=copy.deepcopy(node.test), body=body, orelse=orelse))
                self.last_origin = None
            elif isinstance(node, ir.Loop):
                self.cite(node.origin, out)
                out.append(self.loop(node))
                self.last_origin = None
        return out

    def loop(self, loop):
        test_body = self.block(loop.test_body) if loop.test_body else []
        return loop_statement(loop, self.block(loop.body), test_body, self.retarget)
