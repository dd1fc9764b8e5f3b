"""Reject, before any transformation, the syntax this version cannot differentiate.

Each construct has one message and one suggestion. The fence is the only
place that decides what is unsupported syntax, so the later stages can assume
the function is made of the statements and expressions listed here.
"""

from __future__ import annotations

import gast

from .source import FunctionSource

# What a user gets told for each unsupported statement: (what, what to do instead).
_STATEMENTS = {
    gast.AsyncFor: ("`async for` cannot be differentiated", "Move it out of the differentiated function."),
    gast.With: ("`with` blocks cannot be differentiated", "Move the `with` block out of the differentiated function."),
    gast.AsyncWith: ("`async with` cannot be differentiated", "Move it out of the differentiated function."),
    gast.Try: ("`try` blocks cannot be differentiated", "Handle errors outside the differentiated function."),
    gast.Raise: ("`raise` is not supported inside a differentiated function", "Check inputs before calling it."),
    gast.Delete: ("`del` is not supported inside a differentiated function", "Drop the `del`; names go out of scope when the function returns."),
    gast.Global: ("`global` is not supported: a differentiated function must not rebind globals", "Return the value instead."),
    gast.Nonlocal: ("`nonlocal` is not supported: a differentiated function must not rebind outer variables", "Return the value instead."),
    gast.Import: ("`import` inside a differentiated function is not supported", "Import at the top of the module."),
    gast.ImportFrom: ("`from ... import` inside a differentiated function is not supported", "Import at the top of the module."),
    gast.FunctionDef: ("functions defined inside a differentiated function are not supported", "Define the helper at module level."),
    gast.AsyncFunctionDef: ("functions defined inside a differentiated function are not supported", "Define the helper at module level."),
    gast.ClassDef: ("classes defined inside a differentiated function are not supported", "Define the class at module level."),
}
if hasattr(gast, "Match"):
    _STATEMENTS[gast.Match] = ("`match` statements are not supported", "Select values with np.where(...).")
if hasattr(gast, "TryStar"):
    _STATEMENTS[gast.TryStar] = _STATEMENTS[gast.Try]

_EXPRESSIONS = {
    gast.IfExp: ("conditional expressions (`a if c else b`) are not supported", "Use an `if` statement, or np.where(c, a, b)."),
    gast.Lambda: ("lambdas are not supported inside a differentiated function", "Define a function at module level."),
    gast.ListComp: ("list comprehensions are not supported", "Use array operations (np.stack of arrays, broadcasting)."),
    gast.SetComp: ("set comprehensions are not supported", "Build the set outside the differentiated function."),
    gast.DictComp: ("dict comprehensions are not supported", "Build the dict outside the differentiated function."),
    gast.GeneratorExp: ("generator expressions are not supported", "Use array operations (np.sum over an axis)."),
    gast.NamedExpr: ("assignment expressions (`:=`) are not supported", "Assign on a line of its own."),
    gast.Await: ("`await` cannot be differentiated", "Move it out of the differentiated function."),
    gast.Yield: ("generators cannot be differentiated", "Return a value instead of yielding."),
    gast.YieldFrom: ("generators cannot be differentiated", "Return a value instead of yielding."),
    gast.Dict: ("dict literals are not supported in this version", "Pass arrays as separate arguments."),
    gast.Set: ("set literals are not supported", "Build the set outside the differentiated function."),
    gast.Starred: ("`*` unpacking is not supported here", "Pass the arguments one by one."),
}

_BINARY_OPS = (gast.Add, gast.Sub, gast.Mult, gast.Div, gast.Pow, gast.MatMult, gast.FloorDiv, gast.Mod)


def check_helper(src: FunctionSource) -> None:
    """The checks for a helper the differentiated function calls: the same, but it may return a tuple."""
    check(src, helper=True)


def check(src: FunctionSource, helper=False) -> None:
    """Raise SourcegradError at the first construct this version does not support."""
    tree = src.tree
    if isinstance(tree, gast.AsyncFunctionDef):
        raise src.error(tree, "async functions cannot be differentiated", "Use a plain `def`.")
    args = tree.args
    if args.vararg is not None:
        raise src.error(args.vararg, f"`*{args.vararg.id}` parameters are not supported", "Name each parameter.")
    if args.kwarg is not None:
        raise src.error(args.kwarg, f"`**{args.kwarg.id}` parameters are not supported", "Name each parameter.")
    if not tree.body:
        raise src.error(tree, f"{tree.name} has no body")
    _check_block(src, tree.body, in_loop=False, helper=helper)


def _check_block(src, body, in_loop, helper=False):
    for stmt in body:
        _check_statement(src, stmt, in_loop, helper)


def _check_statement(src, stmt, in_loop, helper=False):
    kind = type(stmt)
    if kind in _STATEMENTS:
        what, instead = _STATEMENTS[kind]
        raise src.error(stmt, what, instead)
    if isinstance(stmt, gast.Return):
        if in_loop:
            raise src.error(stmt, "`return` inside a loop is not supported",
                            "Store the value, `break` out of the loop, and return after it.")
        if stmt.value is None:
            raise src.error(stmt, "a differentiated function must return a value", "Return the scalar (a loss) to differentiate.")
        if isinstance(stmt.value, (gast.Tuple, gast.List)) and not helper:
            raise src.error(stmt.value, "the function returns several values; sourcegrad differentiates one array",
                            "Return one value (a scalar loss), and compute the others in a separate function.")
    elif isinstance(stmt, (gast.Break, gast.Continue)) and not in_loop:
        raise src.error(stmt, f"`{type(stmt).__name__.lower()}` outside a loop")
    elif isinstance(stmt, gast.For):
        if stmt.orelse:
            raise src.error(stmt, "`for ... else` is not supported", "Use a flag set before `break`.")
        _check_target(src, stmt.target)
        _check_iterable(src, stmt.iter)
        _check_expressions(src, stmt.iter)
        _check_block(src, stmt.body, in_loop=True)
        return
    elif isinstance(stmt, gast.While):
        if stmt.orelse:
            raise src.error(stmt, "`while ... else` is not supported", "Use a flag set before `break`.")
        _check_expressions(src, stmt.test)
        _check_block(src, stmt.body, in_loop=True)
        return
    elif isinstance(stmt, gast.If):
        _check_expressions(src, stmt.test)
        _check_block(src, stmt.body, in_loop, helper)
        _check_block(src, stmt.orelse, in_loop, helper)
        return
    elif isinstance(stmt, gast.Assign):
        for target in stmt.targets:
            _check_target(src, target)
    elif isinstance(stmt, gast.AugAssign):
        if not isinstance(stmt.target, gast.Name):
            raise src.error(stmt.target, "augmented assignment to an element or attribute mutates an array in place, which cannot be differentiated",
                            "Build a new array instead (for example with np.where).")
        _check_binary_op(src, stmt, stmt.op)
    elif isinstance(stmt, gast.AnnAssign):
        if stmt.value is None or not isinstance(stmt.target, gast.Name):
            raise src.error(stmt, "only `name: type = value` annotations are supported", "Assign a value to a plain name.")
    _check_expressions(src, stmt)


def _check_expressions(src, node):
    for node in gast.walk(node):
        kind = type(node)
        if kind in _EXPRESSIONS:
            what, instead = _EXPRESSIONS[kind]
            raise src.error(node, what, instead)
        if isinstance(node, gast.BinOp):
            _check_binary_op(src, node, node.op)
        elif isinstance(node, gast.Call):
            for kw in node.keywords:
                if kw.arg is None:
                    raise src.error(kw.value, "`**` unpacking in calls is not supported", "Pass the keyword arguments by name.")


def _check_iterable(src, node):
    """A loop walks range(...), a sequence held by a name, or enumerate/zip of those."""
    if isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and node.func.id in ("enumerate", "zip"):
        sequences = node.args[:1] if node.func.id == "enumerate" else node.args
        for sequence in sequences:
            if isinstance(sequence, gast.Call) and isinstance(sequence.func, gast.Name) and sequence.func.id in ("enumerate", "zip"):
                raise src.error(sequence, f"nested {sequence.func.id}() in a loop header is not supported",
                                "Loop over enumerate(xs) or zip(xs, ys) of plain sequences.")
        if node.keywords and node.func.id == "zip":
            raise src.error(node, "zip() keywords are not supported in a loop header", "Use zip(a, b).")


def _check_target(src, target):
    if isinstance(target, gast.Name):
        return
    if isinstance(target, (gast.Tuple, gast.List)):
        for element in target.elts:
            if not isinstance(element, gast.Name):
                raise src.error(element, "only names can be unpacked into", "Unpack into plain names.")
        return
    if isinstance(target, gast.Subscript):
        raise src.error(target, "assigning to an element (`a[i] = ...`) mutates an array in place, which cannot be differentiated in this version",
                        "Build the new array with np.where or np.concatenate.")
    if isinstance(target, gast.Attribute):
        raise src.error(target, "assigning to an attribute mutates an object, which cannot be differentiated",
                        "Assign to a local name and return it.")
    raise src.error(target, "unsupported assignment target", "Assign to a plain name.")


def _check_binary_op(src, node, op):
    if not isinstance(op, _BINARY_OPS):
        raise src.error(node, f"the operator `{type(op).__name__}` is not supported on arrays here",
                        "Use +, -, *, /, **, @ or a numpy function.")
