"""The one exception type the compiler raises, with a source location a person can act on."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    """A place in the user's source file: 1-based line, 1-based column."""

    path: str
    line: int
    col: int
    text: str  # the whole source line, as written

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"


class SourcegradError(Exception):
    """Raised for everything sourcegrad refuses to differentiate.

    The message names the place (file:line:col), quotes the line, says what is
    not supported and, where there is one, what to write instead.
    """

    def __init__(self, message: str, location: Location | None = None, hint: str | None = None):
        self.message = message
        self.location = location
        self.hint = hint
        super().__init__(self._format())

    def _format(self) -> str:
        parts = []
        if self.location is not None:
            loc = self.location
            parts.append(f"{loc}: {self.message}")
            stripped = loc.text.rstrip()
            if stripped:
                parts.append("    " + stripped)
                # Point at the column; tabs stay tabs so the caret lines up.
                prefix = "".join(c if c == "\t" else " " for c in loc.text[: max(loc.col - 1, 0)])
                parts.append("    " + prefix + "^")
        else:
            parts.append(self.message)
        if self.hint:
            parts.append(self.hint)
        return "\n".join(parts)
