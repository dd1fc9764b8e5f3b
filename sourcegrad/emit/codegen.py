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
import re
import types

import gast

from .. import ir
from ..frontend.resolve import is_numpy_module, numpy_path
from ..transform.reverse import ReverseFunction

_COMMENT = "__sourcegrad_comment_{}__"
_COMMENT_LINE = re.compile(r"^(\s*)__sourcegrad_comment_(\d+)__$")


def function_name(primal_name: str) -> str:
    return f"{primal_name}_value_and_grad"


def generate(rev: ReverseFunction, filename: str) -> str:
    """The generated function's source text (without the file header)."""
    fn = rev.primal
    comments = []

    def comment(text):
        comments.append(text)
        return gast.Expr(value=ir.name(_COMMENT.format(len(comments) - 1)))

    locals_ = set(fn.params) | set(fn.kwonly) | {s.target for s in fn.body if isinstance(s, ir.Assign)}
    retarget = _Retarget(fn.references, rev.backend, locals_)
    body = [gast.Expr(value=gast.Constant(value=_docstring(rev), kind=None))]

    body.append(comment("forward pass: the function's own code, one operation per line"))
    for stmt in fn.body:
        if isinstance(stmt, ir.Assign):
            body.append(_assign(stmt.target, retarget(stmt.expr)))
        elif isinstance(stmt, ir.Unpack):
            targets = gast.Tuple(elts=[_store(t) for t in stmt.targets], ctx=gast.Store())
            body.append(gast.Assign(targets=[targets], value=retarget(stmt.value), type_comment=None))
        elif isinstance(stmt, ir.Effect):
            body.append(retarget(stmt.stmt))

    returned = fn.returned
    body.append(comment("backward pass: gradients in reverse order"))
    body.append(_assign(rev.seed, _call(rev.backend, "output_gradient", [copy.deepcopy(returned.value), ir.name(rev.seed)])))
    last_origin = None
    for stmt in rev.backward:
        if stmt.origin is not last_origin:
            location = stmt.origin.location
            body.append(comment(f"{filename}:{location.line}  {stmt.origin.text}"))
            last_origin = stmt.origin
        value = retarget(stmt.value)
        if not stmt.accumulate:
            body.append(_assign(stmt.target, value))
        elif stmt.in_place:
            body.append(gast.AugAssign(target=_store(stmt.target), op=gast.Add(), value=value))
        else:
            body.append(_assign(stmt.target, gast.BinOp(left=ir.name(stmt.target), op=gast.Add(), right=value)))

    gradients = []
    for gradient, needs_copy in zip(rev.gradients, rev.copy_gradient):
        # a gradient that may share memory with an input or another gradient is copied before it is handed out
        gradients.append(_call(rev.backend, "copy", [gradient]) if needs_copy else gradient)
    returned_value = gast.Tuple(elts=[copy.deepcopy(returned.value), gast.Tuple(elts=gradients, ctx=gast.Load())], ctx=gast.Load())
    body.append(gast.Return(value=returned_value))

    definition = gast.FunctionDef(
        name=function_name(fn.name),
        args=_arguments(rev),
        body=body,
        decorator_list=[],
        returns=None,
        type_comment=None,
        type_params=[],
    )
    module = gast.gast_to_ast(gast.Module(body=[definition], type_ignores=[]))
    text = ast.unparse(ast.fix_missing_locations(module))
    lines = []
    for line in text.splitlines():
        match = _COMMENT_LINE.match(line)
        lines.append(f"{match.group(1)}# {comments[int(match.group(2))]}" if match else line)
    return "\n".join(lines) + "\n"


def _docstring(rev):
    gradients = ", ".join(rev.adjoint_names.get(w, "d_" + w) for w in rev.wrt)
    return (f"Return {rev.primal.name}(...) and its gradients ({gradients}).\n\n"
            f"    {rev.seed}: the gradient of the output; by default 1 for a scalar output.\n    ")


def _arguments(rev):
    fn = rev.primal

    def param(name):
        return gast.Name(id=name, ctx=gast.Param(), annotation=None, type_comment=None)

    positional = [param(rev.backend)] + [param(p) for p in fn.params]
    # Literal defaults are written out for the reader; every default is also set from the
    # original function when the module is loaded, so non-literal ones work too.
    defaults = []
    for p in fn.params:
        if p in fn.defaults:
            defaults.append(copy.deepcopy(fn.defaults[p]))
        elif defaults:
            defaults = []  # a parameter without a written default after one with: write none before it
    kwonly = [param(p) for p in fn.kwonly] + [param(rev.seed)]
    kw_defaults = [copy.deepcopy(fn.defaults[p]) if p in fn.defaults else None for p in fn.kwonly]
    kw_defaults.append(gast.Constant(value=None, kind=None))
    return gast.arguments(args=positional, posonlyargs=[], vararg=None, kwonlyargs=kwonly, kw_defaults=kw_defaults,
                          kwarg=None, defaults=defaults)


def _assign(target, value):
    return gast.Assign(targets=[_store(target)], value=value, type_comment=None)


def _store(identifier):
    return gast.Name(id=identifier, ctx=gast.Store(), annotation=None, type_comment=None)


def _call(backend, attr, args):
    return gast.Call(func=gast.Attribute(value=ir.name(backend), attr=attr, ctx=gast.Load()), args=args, keywords=[])


class _Retarget(gast.NodeTransformer):
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
