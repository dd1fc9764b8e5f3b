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


def function_to_differentiate(fn):
    """The function whose source sourcegrad reads for fn: fn itself, the code that is called.

    A decorator made with functools.wraps leaves the decorated function in `__wrapped__`. Its wrapper is
    what a call runs, and it may change the result (`return 2 * f(x)`), so it is the wrapper that is
    differentiated; only a wrapper that surely returns what the wrapped function returns (it passes its
    arguments through unchanged and returns the call's result, after logging or timing, say), and
    functools' caches, are looked through.
    """
    while getattr(fn, "__wrapped__", None) is not None:
        wrapped = fn.__wrapped__
        if isinstance(fn, functools._lru_cache_wrapper) or (inspect.isfunction(fn) and _passes_through(fn, wrapped)):
            fn = wrapped
        else:
            break
    return fn


def _passes_through(wrapper, wrapped) -> bool:
    """Whether wrapper's body is statements for their effect around `return wrapped(*args, **kwargs)` (or an
    assignment of that call to a name that is returned unchanged)."""
    try:
        tree = gast.parse(textwrap.dedent(inspect.getsource(wrapper.__code__))).body[0]
    except (OSError, TypeError, SyntaxError, IndentationError):
        return False
    if not isinstance(tree, gast.FunctionDef):
        return False
    arguments = tree.args
    if arguments.vararg is None or arguments.kwarg is None or arguments.args or arguments.posonlyargs \
            or arguments.kwonlyargs:
        return False
    names = dict(zip(wrapper.__code__.co_freevars, [cell.cell_contents for cell in wrapper.__closure__ or ()]))

    def is_call_through(node):
        return (isinstance(node, gast.Call) and isinstance(node.func, gast.Name)
                and names.get(node.func.id, wrapper.__globals__.get(node.func.id)) is wrapped
                and len(node.args) == 1 and isinstance(node.args[0], gast.Starred)
                and isinstance(node.args[0].value, gast.Name) and node.args[0].value.id == arguments.vararg.id
                and len(node.keywords) == 1 and node.keywords[0].arg is None
                and isinstance(node.keywords[0].value, gast.Name) and node.keywords[0].value.id == arguments.kwarg.id)

    result = None  # the name holding the call's result
    kept = {arguments.vararg.id, arguments.kwarg.id}  # names that must reach the call, and its result, unchanged
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
            continue  # `start = time.perf_counter()`
        else:
            return False
    if not isinstance(last, gast.Return) or last.value is None:
        return False
    return is_call_through(last.value) or (result is not None and isinstance(last.value, gast.Name)
                                           and last.value.id == result)


def read_function(fn) -> FunctionSource:
    """Return the parsed source of `fn`, or raise SourcegradError saying why it cannot be read."""
    target = function_to_differentiate(fn)
    if not inspect.isfunction(target):
        raise SourcegradError(
            f"sourcegrad differentiates Python functions; got {type(fn).__name__} {fn!r}.",
            hint="Decorate a `def` function (a lambda or a builtin has no source to transform).",
        )
    if target.__name__ == "<lambda>":
        raise SourcegradError(
            "a lambda cannot be differentiated: its source is part of another expression.",
            hint="Write it as a `def` function.",
        )
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
    found = module is not None and _find_code(module, code)
    return bool(found) and _behaviour(found) == _behaviour(code)


_COMPILED_FILES = {}  # (file name, text) -> its module's code object


def _find_code(code, target):
    """The code object among code's constants (depth first) defined where target was, with its name."""
    name = getattr(target, "co_qualname", target.co_name)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            if getattr(const, "co_qualname", const.co_name) == name and const.co_firstlineno == target.co_firstlineno:
                return const
            inner = _find_code(const, target)
            if inner is not None:
                return inner
    return None


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
