"""Put `break`, `continue` and `return` where the reverse pass can follow them.

After this rewrite every jump is the last statement of its branch, and nothing
follows a statement that may jump: the statements after it move into the
branches that do not jump (copied into each, when both may fall through).

    for x in xs:                    for x in xs:
        if x > 1:                       if x > 1:
            continue        ->              pass
        s = s + x                       else:
                                            s = s + x

So the path an iteration takes is told by its branch decisions alone, which
is what the reverse pass records. A `continue` at the end of a branch does
nothing and is dropped; a `break` stays; a `return` becomes an assignment to
the function's result, returned once at the end.
"""

from __future__ import annotations

import copy

import gast

LOOP_JUMPS = (gast.Break, gast.Continue)


def always_jumps(block, kinds) -> bool:
    if not block:
        return False
    last = block[-1]
    if isinstance(last, kinds):
        return True
    return isinstance(last, gast.If) and always_jumps(last.body, kinds) and always_jumps(last.orelse, kinds)


def may_jump(block, kinds) -> bool:
    for stmt in block:
        if isinstance(stmt, kinds):
            return True
        if isinstance(stmt, gast.If) and (may_jump(stmt.body, kinds) or may_jump(stmt.orelse, kinds)):
            return True
    return False


def restructure_function(body):
    """The function body with returns only at the ends of paths (see the module docstring)."""
    return _block(body, (gast.Return,))


def _block(stmts, kinds):
    out = []
    for i, stmt in enumerate(stmts):
        if isinstance(stmt, kinds):
            out.append(stmt)
            return out  # what follows a jump never runs
        if isinstance(stmt, gast.If):
            rest = stmts[i + 1:]
            if rest and (may_jump(stmt.body, kinds) or may_jump(stmt.orelse, kinds)):
                # The rest runs only on the paths that do not jump: move it into those branches.
                body_jumps, orelse_jumps = always_jumps(stmt.body, kinds), always_jumps(stmt.orelse, kinds)
                stmt.body = stmt.body if body_jumps else stmt.body + copy.deepcopy(rest)
                stmt.orelse = stmt.orelse if orelse_jumps else stmt.orelse + rest
                stmt.body, stmt.orelse = _block(stmt.body, kinds), _block(stmt.orelse, kinds)
                out.append(stmt)
                return out
            stmt.body, stmt.orelse = _block(stmt.body, kinds), _block(stmt.orelse, kinds)
        elif isinstance(stmt, (gast.For, gast.While)):
            stmt.body = _drop_trailing_continues(_block(stmt.body, LOOP_JUMPS))
        out.append(stmt)
    return out


def _drop_trailing_continues(block):
    """A `continue` that ends a branch of the loop body does nothing once the rest sits in the other branch."""
    if block and isinstance(block[-1], gast.Continue):
        block = block[:-1]
    for stmt in block:
        if isinstance(stmt, gast.If):
            stmt.body = _drop_trailing_continues(stmt.body) or [gast.copy_location(gast.Pass(), stmt)]
            stmt.orelse = _drop_trailing_continues(stmt.orelse)
    return block
