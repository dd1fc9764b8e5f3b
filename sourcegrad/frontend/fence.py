"""Reject, before any transformation, the syntax this version cannot differentiate.

Each construct has one message and one suggestion. The fence is the only
place that decides what is unsupported syntax, so the later stages can assume
the function is made of the statements and expressions listed here.
"""

from __future__ import annotations

import gast

from .source import FunctionSource
from .syntax import root_name

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
    gast.FunctionDef: ("a function defined inside a loop, a branch or another nested function is not supported",
                       "Define it at the top of the function's body, or at module level."),
    gast.AsyncFunctionDef: ("async functions defined inside a differentiated function are not supported", "Define the helper at module level."),
    gast.ClassDef: ("classes defined inside a differentiated function are not supported", "Define the class at module level."),
}
if hasattr(gast, "Match"):
    _STATEMENTS[gast.Match] = ("`match` statements are not supported", "Select values with np.where(...).")
if hasattr(gast, "TryStar"):
    _STATEMENTS[gast.TryStar] = _STATEMENTS[gast.Try]

_EXPRESSIONS = {
    gast.Lambda: ("lambdas are not supported inside a differentiated function, except as the function `map` "
                  "applies or the key= of max or min",
                  "Define the function with `def` at the top of the function's body, or at module level."),
    gast.SetComp: ("set comprehensions are not supported", "Build the set outside the differentiated function."),
    gast.DictComp: ("dict comprehensions are not supported", "Build the dict outside the differentiated function."),
    gast.GeneratorExp: ("a generator expression is supported only as the one argument of sum, min, max, any, all, "
                        "tuple, list or sorted (`sum(f(x) for x in xs)`)",
                        "Write a list comprehension: `[f(x) for x in xs]`."),
    gast.NamedExpr: ("assignment expressions (`:=`) are not supported", "Assign on a line of its own."),
    gast.Await: ("`await` cannot be differentiated", "Move it out of the differentiated function."),
    gast.Yield: ("generators cannot be differentiated", "Return a value instead of yielding."),
    gast.YieldFrom: ("generators cannot be differentiated", "Return a value instead of yielding."),
    gast.Set: ("set literals are not supported", "Build the set outside the differentiated function."),
    gast.Starred: ("`*` unpacking is only supported in a call's arguments, a list or tuple display, and an "
                   "assignment's targets", "Unpack into names first: `first, *rest = xs`."),
}

_READ_WHOLE = ("sum", "min", "max", "any", "all", "tuple", "list", "sorted")  # builtins that read every item they get

_BINARY_OPS = (gast.Add, gast.Sub, gast.Mult, gast.Div, gast.Pow, gast.MatMult, gast.FloorDiv, gast.Mod, gast.BitAnd,
               gast.BitOr, gast.BitXor)


def check_helper(src: FunctionSource) -> None:
    """The checks for a helper the differentiated function calls: the same, but it may return a tuple."""
    check(src, helper=True)


def check(src: FunctionSource, helper=False) -> None:
    """Raise SourcegradError at the first construct this version does not support."""
    tree = src.tree
    if isinstance(tree, gast.AsyncFunctionDef):
        raise src.error(tree, "async functions cannot be differentiated", "Use a plain `def`.")
    args = tree.args
    if args.kwarg is not None:
        raise src.error(args.kwarg, f"`**{args.kwarg.id}` parameters are not supported", "Name each parameter.")
    if not tree.body:
        raise src.error(tree, f"{tree.name} has no body")
    nested = [stmt for stmt in tree.body if isinstance(stmt, gast.FunctionDef)]
    for definition in nested:
        _check_nested_function(src, definition, tree)
    _check_block(src, [stmt for stmt in tree.body if not isinstance(stmt, gast.FunctionDef)], in_loop=False, helper=helper)


def _check_nested_function(src, definition, enclosing):
    """A `def` at the top of the body is inlined where it is called, reading the enclosing function's values:
    it may only be called, and must not rebind what it reads."""
    if definition.decorator_list:
        raise src.error(definition.decorator_list[0], "a decorated function defined inside a differentiated function "
                        "is not supported", "Drop the decorator, or define the function at module level.")
    arguments = definition.args
    if arguments.kwarg is not None:
        raise src.error(arguments.kwarg, f"`**{arguments.kwarg.id}` parameters of the nested function "
                        f"{definition.name} are not supported", "Name each parameter.")
    for default in arguments.defaults + [d for d in arguments.kw_defaults if d is not None]:
        try:
            gast.literal_eval(default)
        except ValueError:
            raise src.error(default, f"the nested function {definition.name} has a default that is not a literal",
                            "Use a literal default (a number, a string, None), or pass the value at each call.") from None
    for node in gast.walk(definition):
        if isinstance(node, gast.Nonlocal):
            raise src.error(node, f"the nested function {definition.name} rebinds a variable of {enclosing.name} "
                            "(`nonlocal`), which sourcegrad cannot follow", "Return the new value and assign it in "
                            f"{enclosing.name}.")
    called = {id(node.func) for node in gast.walk(enclosing) if isinstance(node, gast.Call)}
    for node in gast.walk(enclosing):
        if isinstance(node, gast.Name) and node.id == definition.name and id(node) not in called:
            what = "rebinds" if isinstance(node.ctx, gast.Store) else "uses"
            raise src.error(node, f"{enclosing.name} {what} the nested function {definition.name} other than by calling "
                            "it (returning it, storing it, passing it on or assigning the name)",
                            f"Only call {definition.name}(...) inside {enclosing.name}, or define it at module level.")
    if sum(1 for stmt in enclosing.body if isinstance(stmt, gast.FunctionDef) and stmt.name == definition.name) > 1:
        raise src.error(definition, f"{definition.name} is defined twice", "Give each nested function a name of its own.")
    _check_block(src, definition.body, in_loop=False, helper=True)


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
        # several values (`return loss, aux`): the normaliser decides, knowing whether has_aux was given
    elif isinstance(stmt, (gast.Break, gast.Continue)) and not in_loop:
        raise src.error(stmt, f"`{type(stmt).__name__.lower()}` outside a loop")
    elif isinstance(stmt, gast.For):
        if stmt.orelse:
            raise src.error(stmt, "`for ... else` is not supported", "Use a flag set before `break`.")
        _check_loop_target(src, stmt.target)
        _check_iterable(src, stmt.iter)
        _check_expressions(src, stmt.iter, loop_body=stmt.body)
        _check_block(src, stmt.body, in_loop=True)
        return
    elif isinstance(stmt, gast.While):
        if stmt.orelse:
            raise src.error(stmt, "`while ... else` is not supported", "Use a flag set before `break`.")
        for node in gast.walk(stmt.test):
            if isinstance(node, (gast.IfExp, gast.ListComp, gast.GeneratorExp)):
                what = "a conditional expression (`a if c else b`)" if isinstance(node, gast.IfExp) else \
                    "a comprehension"
                raise src.error(node, f"{what} in a `while` condition is not supported",
                                "Compute the condition into a name before the loop and again at the end of its body: "
                                "`while keep_going:`.")
        _check_expressions(src, stmt.test)
        _check_block(src, stmt.body, in_loop=True)
        return
    elif isinstance(stmt, gast.If):
        _check_expressions(src, stmt.test)
        _check_block(src, stmt.body, in_loop, helper)
        _check_block(src, stmt.orelse, in_loop, helper)
        return
    elif isinstance(stmt, gast.Assign):
        # elements are written alone (`a[i] = v`), in a chain (`u[0] = u[-1] = 0.0`), or from a written-out tuple
        # of as many values (`a[i], a[j] = a[j], a[i]`): normalize takes the values first, then each target
        spread = isinstance(stmt.value, (gast.Tuple, gast.List)) and not any(
            isinstance(e, gast.Starred) for e in stmt.value.elts)
        for target in stmt.targets:
            if isinstance(target, (gast.Tuple, gast.List)) and spread and len(target.elts) == len(stmt.value.elts):
                for element in target.elts:
                    _check_target(src, element, alone=not isinstance(element, gast.Attribute))
            else:  # an attribute only alone: `self.a = b = v` and `self.a, b = ...` are refused
                _check_target(src, target, alone=len(stmt.targets) == 1 or not isinstance(target, gast.Attribute))
    elif isinstance(stmt, gast.AugAssign):
        if not (isinstance(stmt.target, gast.Name) or _is_element(stmt.target)):
            element = isinstance(stmt.target, gast.Subscript)
            stored = gast.unparse(stmt.target.value if element else stmt.target).strip()
            raise src.error(stmt.target, f"augmented assignment to {'an element of ' if element else ''}an attribute "
                            "changes in place the array the object holds, which the caller, or another name in the "
                            "function, may hold too", f"Store a new value on the object, `{stored} = {stored} + ...` "
                            "(kept for later calls, it carries no gradient in this one), or add into a local name.")
        _check_binary_op(src, stmt, stmt.op)
    elif isinstance(stmt, gast.AnnAssign):
        if stmt.value is None or not isinstance(stmt.target, gast.Name):
            raise src.error(stmt, "only `name: type = value` annotations are supported", "Assign a value to a plain name.")
    _check_expressions(src, stmt)


def _check_expressions(src, node, loop_body=None):
    # `*xs` where it spreads a sequence into separate values: a call's arguments, a list or tuple display
    # or an assignment's target (`first, *rest = xs`, checked by _check_target)
    spread = {id(e) for n in gast.walk(node) if isinstance(n, (gast.Call, gast.List, gast.Tuple))
              for e in (n.args if isinstance(n, gast.Call) else n.elts)}
    # a generator expression as the one argument of a builtin that reads every item: made a list (control.py)
    generators = {id(n.args[0]) for n in gast.walk(node) if isinstance(n, gast.Call) and len(n.args) == 1
                  and isinstance(n.func, gast.Name) and n.func.id in _READ_WHOLE
                  and isinstance(n.args[0], gast.GeneratorExp)}
    passed = _passed_lambdas(node)
    walked_where_made = _maps_walked_where_made(node, loop_body)
    for node in gast.walk(node):
        kind = type(node)
        if kind is gast.Call and isinstance(node.func, gast.Name) and node.func.id == "map" \
                and id(node) not in walked_where_made:
            raise src.error(node, "a map that is not walked where it is made (or is walked by a loop that rebinds a "
                            "name its lambda reads): Python calls the function as the map is walked, with the values "
                            "the names it reads hold then, and walks it once",
                            "Make it a list where it is made, `list(map(...))`, or pass it straight to what reads "
                            "it: `sum(map(...))`, `max(map(...))`.")
        if kind is gast.Lambda and id(node) in passed:
            _check_passed_lambda(src, node)
            continue
        if kind in _EXPRESSIONS and not (kind is gast.Starred and id(node) in spread) \
                and not (kind is gast.GeneratorExp and id(node) in generators):
            what, instead = _EXPRESSIONS[kind]
            raise src.error(node, what, instead)
        if isinstance(node, gast.BinOp):
            _check_binary_op(src, node, node.op)
        elif isinstance(node, gast.Call):
            for kw in node.keywords:
                if kw.arg is None:
                    raise src.error(kw.value, "`**` unpacking in calls is not supported", "Pass the keyword arguments by name.")
        elif isinstance(node, gast.Dict):
            for key, value in zip(node.keys, node.values):
                if not (isinstance(key, gast.Constant) and isinstance(key.value, (str, int))):
                    raise src.error(key if key is not None else value, "a dict literal's keys must be strings or "
                                    "integers written out", "Write each key as a literal: `{\"w\": w, \"b\": b}`.")
        elif isinstance(node, (gast.ListComp, gast.GeneratorExp)):
            for generator in node.generators:
                if generator.is_async:
                    raise src.error(node, "`async for` in a comprehension cannot be differentiated",
                                    "Use a plain `for`.")
                _check_loop_target(src, generator.target)


def _maps_walked_where_made(root, loop_body=None):
    """The `map(...)` calls walked whole where they are made: the one argument of a builtin that reads every item
    (`sum(map(f, xs))`), what a comprehension walks, spread into a display (`[*map(f, xs)]`), each directly or
    through zip or enumerate; with loop_body, root is a `for` loop's iterable, walked too where no lambda mapped
    reads a name the body assigns. The front end calls the function on each item there; a map kept to be walked
    later would see names the function reads rebound in between, and could be walked twice."""
    walked = set()

    def whole(node, rebound=frozenset()):
        if isinstance(node, gast.Starred):
            whole(node.value, rebound)
        elif isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and node.func.id == "map":
            mapped = node.args[0] if node.args else None
            if not (isinstance(mapped, gast.Lambda) and _lambda_reads(mapped) & rebound):
                walked.add(id(node))
        elif isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and node.func.id in ("zip", "enumerate"):
            for argument in node.args:
                whole(argument, rebound)

    for node in gast.walk(root):
        if isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and node.func.id in _READ_WHOLE \
                and node.args:
            whole(node.args[0])
        elif isinstance(node, (gast.ListComp, gast.GeneratorExp)):
            for generator in node.generators:
                whole(generator.iter)
        elif isinstance(node, (gast.List, gast.Tuple)):
            for element in node.elts:
                if isinstance(element, gast.Starred):
                    whole(element)
    if loop_body is not None:
        whole(root, frozenset(_changed_names(loop_body)))
    return walked


def _changed_names(body):
    """The names statements rebind or may change in place: assigned, written into (`ys[0] = v`, `o.a = v`), or
    given a method call of their own on a line (`ys.append(v)`)."""
    changed = set()
    for stmt in body:
        for node in gast.walk(stmt):
            if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Store):
                changed.add(node.id)
            elif isinstance(node, (gast.Subscript, gast.Attribute)) and isinstance(node.ctx, gast.Store):
                root = node
                while isinstance(root, (gast.Subscript, gast.Attribute)):
                    root = root.value
                if isinstance(root, gast.Name):
                    changed.add(root.id)
            elif isinstance(node, gast.Expr) and isinstance(node.value, gast.Call) \
                    and isinstance(node.value.func, gast.Attribute) and isinstance(node.value.func.value, gast.Name):
                changed.add(node.value.func.value.id)
    return changed


def _lambda_reads(node):
    """The names a lambda's body reads other than its parameters."""
    parameters = {a.id for a in node.args.args}
    return {n.id for n in gast.walk(node.body) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)} - parameters


def _passed_lambdas(root):
    """The lambdas written as the function `map(f, xs)` applies or as the key= of max or min: each call of one is
    written in where it is made (normalize.applied_lambda), with its parameters bound to the arguments."""
    passed = set()
    for node in gast.walk(root):
        if isinstance(node, gast.Call) and isinstance(node.func, gast.Name):
            if node.func.id == "map" and node.args:
                passed.add(id(node.args[0]))
            elif node.func.id in ("max", "min"):
                passed |= {id(k.value) for k in node.keywords if k.arg == "key"}
    return passed


# inside a lambda's body, nothing is lifted into statements of their own (control.py): these stay refused there
_NOT_IN_A_LAMBDA = (gast.Lambda, gast.IfExp, gast.ListComp, gast.GeneratorExp)


def _check_passed_lambda(src, node):
    arguments = node.args
    if arguments.vararg or arguments.kwarg or arguments.kwonlyargs or arguments.defaults \
            or getattr(arguments, "posonlyargs", None):
        raise src.error(node, "a lambda passed to map, max or min may take only plain parameters (no defaults, `*`, "
                        "or `**`)", "Define the function with `def` at the top of the function's body.")
    inner = next((n for n in gast.walk(node.body) if isinstance(n, _NOT_IN_A_LAMBDA)), None)
    if inner is not None:
        raise src.error(inner, "a conditional expression, comprehension, generator or lambda inside a lambda is "
                        "not supported", "Define the function with `def` at the top of the function's body.")


def _check_iterable(src, node):
    """A loop walks range(...), a sequence held by a name, or enumerate/zip of those."""
    if isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and node.func.id in ("enumerate", "zip"):
        sequences = node.args[:1] if node.func.id == "enumerate" else node.args
        for sequence in sequences:
            if node.func.id == "enumerate" and _is_plain_zip(sequence):
                continue  # `enumerate(zip(ws, bs))`: control.py walks zip(range(len(ws)), ws, bs) instead
            if isinstance(sequence, gast.Call) and isinstance(sequence.func, gast.Name) and sequence.func.id in ("enumerate", "zip"):
                raise src.error(sequence, f"nested {sequence.func.id}() in a loop header is not supported",
                                "Loop over enumerate(xs) or zip(xs, ys) of plain sequences.")
        if node.keywords and node.func.id == "zip":
            raise src.error(node, "zip() keywords are not supported in a loop header", "Use zip(a, b).")


def _is_plain_zip(node):
    return isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and node.func.id == "zip" \
        and not node.keywords and node.args and not any(isinstance(a, (gast.Starred, gast.Call)) for a in node.args)


def _is_element(target):
    """`a[i]`, `a[i, j]`, `a[1:3]`: an element (or part) of an array held by a plain name."""
    return isinstance(target, gast.Subscript) and isinstance(target.value, gast.Name)


def _check_loop_target(src, target):
    for node in gast.walk(target):
        if isinstance(node, gast.Starred):
            raise src.error(node, "`*` in a loop's target is not supported", "Unpack the item in the loop's body: "
                            "`first, *rest = item`.")
    _check_target(src, target)


def _check_target(src, target, alone=True):
    if isinstance(target, gast.Name):
        return
    if _is_element(target) and alone:
        return  # written as a new version of the array (normalize checks that the function made it)
    if isinstance(target, (gast.Tuple, gast.List)):
        starred = [e for e in target.elts if isinstance(e, gast.Starred)]
        for element in target.elts:
            if isinstance(element, gast.Starred) and isinstance(element.value, gast.Name) and len(starred) == 1:
                continue  # `first, *rest = xs`
            if isinstance(element, (gast.Tuple, gast.List)):
                _check_target(src, element)  # `for i, (k, v) in ...`
            elif not isinstance(element, gast.Name):
                raise src.error(element, "only names can be unpacked into", "Unpack into plain names.")
        return
    if isinstance(target, gast.Subscript):
        part, key = gast.unparse(target.value).strip(), gast.unparse(target.slice).strip()
        raise src.error(target, "assigning to an element of this kind is not supported: only `a[index] = value`, "
                                "alone on its line, where `a` is a plain name",
                        "Assign the part to a name first, or build the new array with np.where or np.concatenate; "
                        f"for a dict inside a dict: `inner = dict({part})`, `inner[{key}] = ...`, "
                        f"`{part} = inner`.")
    if isinstance(target, gast.Attribute) and alone and root_name(target) is not None:
        return  # `self.cache = x`: stored on the object (normalize refuses reading it back in the same call)
    if isinstance(target, gast.Attribute):
        raise src.error(target, "assigning to an attribute this way is not supported: only `obj.name = value`, alone "
                                "on its line", "Assign the attribute on a line of its own.")
    raise src.error(target, "unsupported assignment target", "Assign to a plain name.")


def _check_binary_op(src, node, op):
    if not isinstance(op, _BINARY_OPS):
        raise src.error(node, f"the operator `{type(op).__name__}` is not supported on arrays here",
                        "Use +, -, *, /, **, @, %, //, &, |, ^ or a numpy function.")
