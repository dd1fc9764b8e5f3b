"""Read a Python function's source and parse it into a gast tree.

The function's text is dedented before parsing, so node positions are
translated back to the file's own lines and columns for error messages
and for the comments that cite primal lines in the generated code.
"""

from __future__ import annotations

import inspect
import os
import textwrap
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


def read_function(fn) -> FunctionSource:
    """Return the parsed source of `fn`, or raise SourcegradError saying why it cannot be read."""
    target = inspect.unwrap(fn)
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
        lines, first_line = inspect.getsourcelines(target)
        path = inspect.getsourcefile(target) or target.__code__.co_filename
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
    if not isinstance(tree, gast.FunctionDef):
        raise SourcegradError(f"expected a function definition for {target.__qualname__}.")
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


def _removed_indent(raw: str, dedented: str) -> int:
    for a, b in zip(raw.splitlines(), dedented.splitlines()):
        if a.strip():
            return len(a) - len(b)
    return 0
