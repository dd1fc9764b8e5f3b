"""Read a Python function's source and parse it into a gast tree.

The function's text is dedented before parsing, so node positions are
translated back to the file's own lines and columns for error messages
and for the comments that cite primal lines in the generated code.
"""

from __future__ import annotations

import functools
import inspect
import linecache
import os
import textwrap
import types
from dataclasses import dataclass

import gast

from ..errors import Location, SourcegradError
from .resolve import AttributeNamespace, CellNamespace


@dataclass
class FunctionSource:
    fn: object
    path: str  # as the interpreter knows it (may be absolute); used in error messages
    filename: str  # the file's base name: the only part written into generated code
    first_line: int  # file line of the first line of `text`
    indent: int  # columns removed by dedenting
    text: str  # the dedented source of the function
    file_lines: list  # the original lines of the whole function, for quoting
    tree: gast.FunctionDef

    def location(self, node) -> Location:
        """The file position of a gast node of this function."""
        lineno = getattr(node, "lineno", None) or 1
        col = (getattr(node, "col_offset", None) or 0) + self.indent
        index = lineno - 1
        line = self.file_lines[index] if 0 <= index < len(self.file_lines) else ""
        return Location(self.path, self.first_line + index, col + 1, line)

    def line_text(self, node) -> str:
        return self.location(node).text.strip()

    def error(self, node, message: str, hint: str | None = None) -> SourcegradError:
        return SourcegradError(message, self.location(node), hint)


def function_to_differentiate(fn, guards=None):
    """The function whose source sourcegrad reads for fn: fn itself, the code that is called.

    A decorator made with functools.wraps leaves the decorated function in `__wrapped__`. Its wrapper is
    what a call runs, and it may change the result (`return 2 * f(x)`), so it is the wrapper that is
    differentiated; only a wrapper that surely returns what the wrapped function returns (it passes its
    arguments through unchanged and returns the call's result, after logging or timing, say), and
    functools' caches, are looked through.

    guards, a list, receives (namespace, attribute chain, object) for what looking through a wrapper rests on:
    its code object, and the global or closure variable it calls the wrapped function by. Either rebound (a
    notebook cell defining the wrapped function run again) and the wrapper calls other code.
    """
    while getattr(fn, "__wrapped__", None) is not None:
        wrapped = fn.__wrapped__
        if isinstance(fn, functools._lru_cache_wrapper):
            fn = wrapped
            continue
        called_by = _passes_through(fn, wrapped) if inspect.isfunction(fn) else None
        if called_by is None:
            break
        if guards is not None:
            guards += [(AttributeNamespace(fn), ("__code__",), fn.__code__), *called_by]
        fn = wrapped
    return fn


def _passes_through(wrapper, wrapped):
    """Whether wrapper's body is statements for their effect around `return wrapped(*args, **kwargs)`, or
    `return wrapped(*args)` of a wrapper taking no keywords (or an assignment of that call to a name that is
    returned unchanged): then the guards (namespace, (name,), wrapped) of the names it calls wrapped by, else None."""
    try:
        tree = gast.parse(textwrap.dedent(inspect.getsource(wrapper.__code__))).body[0]
    except (OSError, TypeError, SyntaxError, IndentationError):
        return None
    if not isinstance(tree, gast.FunctionDef):
        return None
    arguments = tree.args
    if arguments.vararg is None or arguments.args or arguments.posonlyargs or arguments.kwonlyargs:
        return None
    passed_on = [] if arguments.kwarg is None else [arguments.kwarg.id]  # `**kwargs`, where the wrapper takes it
    cells = dict(zip(wrapper.__code__.co_freevars, wrapper.__closure__ or ()))
    names = {name: cell.cell_contents for name, cell in cells.items()}

    def is_call_through(node):
        return (isinstance(node, gast.Call) and isinstance(node.func, gast.Name)
                and names.get(node.func.id, wrapper.__globals__.get(node.func.id)) is wrapped
                and len(node.args) == 1 and isinstance(node.args[0], gast.Starred)
                and isinstance(node.args[0].value, gast.Name) and node.args[0].value.id == arguments.vararg.id
                and [k.value.id if k.arg is None and isinstance(k.value, gast.Name) else None
                     for k in node.keywords] == passed_on)

    result = None  # the name holding the call's result
    kept = {arguments.vararg.id, *passed_on}  # names that must reach the call, and its result, unchanged
    *effects, last = tree.body
    for stmt in effects:
        mentioned = {n.id for n in gast.walk(stmt) if isinstance(n, gast.Name)}
        if isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], gast.Name) \
                and is_call_through(stmt.value) and result is None and stmt.targets[0].id not in kept:
            result = stmt.targets[0].id
            kept.add(result)
        elif isinstance(stmt, gast.Expr) and result not in mentioned and not any(
                isinstance(n, gast.keyword) and n.arg == "out" for n in gast.walk(stmt)):
            continue  # a print or a log line
        elif isinstance(stmt, gast.Assign) and all(isinstance(t, gast.Name) and t.id not in kept for t in stmt.targets):
            continue  # a value of the wrapper's own (a timing decorator's start), never the result
        else:
            return None
    if not isinstance(last, gast.Return) or last.value is None:
        return None
    if not (is_call_through(last.value) or (result is not None and isinstance(last.value, gast.Name)
                                            and last.value.id == result)):
        return None
    called_by = sorted({node.func.id for node in gast.walk(tree) if is_call_through(node)})
    return [(CellNamespace(cells[name]) if name in cells else wrapper.__globals__, (name,), wrapped)
            for name in called_by]


def read_function(fn) -> FunctionSource:
    """Return the parsed source of `fn`, or raise SourcegradError saying why it cannot be read."""
    target = function_to_differentiate(fn)
    if not inspect.isfunction(target):
        raise SourcegradError(
            f"sourcegrad differentiates Python functions; got {type(fn).__name__} {fn!r}.",
            hint="Decorate a `def` function (a lambda or a builtin has no source to transform).",
        )
    if target.__code__.co_name == "<lambda>":
        return _read_lambda(target)
    try:
        # by the code object: inspect would follow __wrapped__ from the function to another function's source
        lines, first_line = inspect.getsourcelines(target.__code__)
        path = inspect.getsourcefile(target.__code__) or target.__code__.co_filename
    except (OSError, TypeError) as exc:
        raise SourcegradError(
            f"cannot read the source of {target.__qualname__} ({exc}).",
            hint="sourcegrad reads the function's source file: define the function in a .py file "
            "(functions typed at the interactive prompt or built with exec have none).",
        ) from None
    raw = "".join(lines)
    text = textwrap.dedent(raw)
    indent = _removed_indent(raw, text)
    module = gast.parse(text)
    tree = module.body[0]
    if not isinstance(tree, gast.FunctionDef) or tree.name != target.__code__.co_name \
            or not _is_current(target.__code__):
        raise SourcegradError(
            f"the source of {target.__qualname__} in {path} is not the code Python runs: the file has changed "
            "since the function was defined.",
            hint="Run the program again (or reload the module) so that the function is defined from the file "
                 "as it is now.")
    return FunctionSource(
        fn=target,
        path=path,
        filename=os.path.basename(path),
        first_line=first_line,
        indent=indent,
        text=text,
        file_lines=[line.rstrip("\n") for line in lines],
        tree=tree,
    )


def _read_lambda(fn) -> FunctionSource:
    """A lambda's source, as a function `def lambda_<line>(<its parameters>): return <its body>`.

    inspect gives a lambda's source as whole lines, which may hold other lambdas or begin in the middle of an
    expression, so the lambda is found in its whole file instead: among the lambdas on its first line, the one
    with its parameters whose span holds every position its code object records.
    """
    code = fn.__code__
    path = inspect.getsourcefile(code) or code.co_filename
    lines = linecache.getlines(code.co_filename)
    module = _parsed_file(code.co_filename, "".join(lines)) if lines else None
    if module is None:
        raise SourcegradError(
            f"cannot read the source of the lambda defined at {path}:{code.co_firstlineno}.",
            hint="sourcegrad reads the function's source file: define the lambda in a .py file "
                 "(lambdas typed at the interactive prompt or built with eval have none).")
    line = code.co_firstlineno
    parameters = list(code.co_varnames[:code.co_argcount + code.co_kwonlyargcount])
    on_line = [node for node in gast.walk(module) if isinstance(node, gast.Lambda) and node.lineno == line]
    candidates = [node for node in on_line if _parameter_names(node.args) == parameters
                  and _spans(node, code.co_positions())]
    location = Location(path, line, (candidates[0].col_offset if candidates else 0) + 1,
                        lines[line - 1].rstrip("\n") if line <= len(lines) else "")
    if not candidates or not _is_current(code):
        raise SourcegradError(
            f"the source of the lambda at line {line} of {path} is not the code Python runs: the file has changed "
            "since the lambda was made.", location,
            "Run the program again (or reload the module) so that the lambda is made from the file as it is now.")
    if len(candidates) > 1:
        innermost = [node for node in candidates
                     if not any(other is not node and other in list(gast.walk(node)) for other in candidates)]
        if len(innermost) != 1 or not all(innermost[0] in list(gast.walk(other)) for other in candidates):
            raise SourcegradError(
                f"line {line} holds {len(candidates)} lambdas with the parameters ({', '.join(parameters)}) that "
                "sourcegrad cannot tell apart", location,
                "Put the lambda on a line of its own, or write it as a `def` function.")
        candidates = innermost
    lambda_node = candidates[0]
    body = gast.copy_location(gast.Return(value=lambda_node.body), lambda_node.body)
    tree = gast.copy_location(gast.FunctionDef(name=f"lambda_{line}", args=lambda_node.args, body=[body],
                                               decorator_list=[], returns=None, type_comment=None,
                                               type_params=[]), lambda_node)
    tree.end_lineno = getattr(lambda_node, "end_lineno", line)
    file_lines = [text.rstrip("\n") for text in lines]
    return FunctionSource(
        fn=fn,
        path=path,
        filename=os.path.basename(path),
        first_line=1,
        indent=0,
        text=gast.unparse(tree) if hasattr(gast, "unparse") else "\n".join(file_lines[line - 1:tree.end_lineno]),
        file_lines=file_lines,
        tree=tree,
    )


def _parameter_names(arguments):
    return [a.id for a in arguments.posonlyargs + arguments.args + arguments.kwonlyargs]


def _spans(node, positions):
    """Whether every source position a code object records lies within node."""
    start, end = (node.lineno, node.col_offset), (node.end_lineno, node.end_col_offset)
    for first_line, last_line, first_col, last_col in positions:
        if first_line is None or first_col is None or (first_line == last_line and first_col == last_col):
            continue  # no position, or a zero-width one (the code's RESUME and implicit return)
        if (first_line, first_col) < start or (last_line, last_col if last_col is not None else first_col) > end:
            return False
    return True


_PARSED_FILES = {}  # (file name, text) -> its gast module, or None where it does not parse


def _parsed_file(filename, text):
    key = (filename, text)
    if key not in _PARSED_FILES:
        try:
            _PARSED_FILES[key] = gast.parse(text)
        except (SyntaxError, ValueError):
            _PARSED_FILES[key] = None
        if len(_PARSED_FILES) > 16:
            del _PARSED_FILES[next(iter(_PARSED_FILES))]
    return _PARSED_FILES[key]


def _is_current(code) -> bool:
    """Whether the function's file, as it is now, still compiles to the code object Python runs.

    The whole file is compiled (the same names are then imports, globals and closures, which changes the
    bytecode) and the function found in it by its qualified name and first line: lines inserted above it,
    or an edit inside it, make the two differ. Line numbers themselves are not compared.
    """
    lines = linecache.getlines(code.co_filename)
    text = "".join(lines)
    key = (code.co_filename, text)
    if key not in _COMPILED_FILES:
        try:
            _COMPILED_FILES[key] = compile(text, code.co_filename, "exec", dont_inherit=True)
        except (SyntaxError, ValueError):
            _COMPILED_FILES[key] = None
        if len(_COMPILED_FILES) > 64:  # a file edited again and again in one session: keep the newest
            del _COMPILED_FILES[next(iter(_COMPILED_FILES))]
    module = _COMPILED_FILES[key]
    # several lambdas on one line share a name and a first line: the code is current if one of them matches
    return module is not None and any(_behaviour(found) == _behaviour(code) for found in _find_codes(module, code))


_COMPILED_FILES = {}  # (file name, text) -> its module's code object


def _find_codes(code, target):
    """The code objects among code's constants (depth first) defined where target was, with its name."""
    name = getattr(target, "co_qualname", target.co_name)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            if getattr(const, "co_qualname", const.co_name) == name and const.co_firstlineno == target.co_firstlineno:
                yield const
            yield from _find_codes(const, target)


def _behaviour(code):
    """What a code object does, without where it was written (file, lines, qualified name)."""
    consts = tuple(_behaviour(c) if isinstance(c, types.CodeType) else (type(c).__name__, repr(c)) for c in code.co_consts)
    return (code.co_code, consts, code.co_names, code.co_varnames, code.co_freevars, code.co_cellvars,
            code.co_argcount, code.co_posonlyargcount, code.co_kwonlyargcount, code.co_flags)


def _removed_indent(raw: str, dedented: str) -> int:
    for a, b in zip(raw.splitlines(), dedented.splitlines()):
        if a.strip():
            return len(a) - len(b)
    return 0
