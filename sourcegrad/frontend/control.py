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


def structured_body(body, taken=()):
    """A copy of a function's body as the normaliser reads it: conditional expressions made `if` statements,
    returns only at the ends of paths. taken: see lift_conditional_expressions."""
    return restructure_function(lift_conditional_expressions(copy.deepcopy(body), taken))


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


# ---- conditional expressions --------------------------------------------------------------

def lift_conditional_expressions(body, taken=()):
    """The body with every `a if c else b` made an `if` statement, which the rest of the pipeline knows.

        y = np.sum(x if s > 0 else -x)      if s > 0:
                                                chosen = x
                                   ->       else:
                                                chosen = -x
                                            y = np.sum(chosen)

    An assignment or return of the conditional expression itself assigns (returns) in each branch, with no
    new name. Only the branch taken is computed, as in Python. A `while` condition is left alone: the fence
    refuses a conditional expression there, since it would have to be computed again on every iteration.
    taken: names the new ones must not be (a nested function's: every name of the function it is in).
    """
    taken = {n.id for stmt in body for n in gast.walk(stmt) if isinstance(n, gast.Name)} | set(taken)
    return _lift_block(body, taken)


def _lift_block(stmts, taken):
    out = []
    for stmt in stmts:
        out.extend(_lift_statement(stmt, taken))
    return out


def _lift_statement(stmt, taken):
    """The statements stmt becomes, with no conditional expression left outside a `while` condition."""
    if isinstance(stmt, gast.If):
        prefix = _lift_from(stmt, "test", taken)
        stmt.body, stmt.orelse = _lift_block(stmt.body, taken), _lift_block(stmt.orelse, taken)
        return prefix + [stmt]
    if isinstance(stmt, gast.For):
        prefix = _lift_from(stmt, "iter", taken)
        stmt.body = _lift_block(stmt.body, taken)
        return prefix + [stmt]
    if isinstance(stmt, gast.While):
        stmt.body = _lift_block(stmt.body, taken)
        return [stmt]
    if isinstance(stmt, gast.FunctionDef):  # a nested function: its own body, lifted when it is inlined
        return [stmt]
    whole = stmt.value if isinstance(stmt, (gast.Assign, gast.Return)) else None
    if isinstance(whole, gast.IfExp) and (isinstance(stmt, gast.Return) or (
            len(stmt.targets) == 1 and isinstance(stmt.targets[0], gast.Name))):
        # `y = a if c else b`, `return a if c else b`: the statement itself goes into each branch
        chosen = []
        for branch in (whole.body, whole.orelse):
            copied = copy.deepcopy(stmt)
            copied.value = branch
            chosen.append(copied)
        branches = gast.copy_location(gast.If(test=whole.test, body=[chosen[0]], orelse=[chosen[1]]), stmt)
        return _lift_statement(branches, taken)
    return _lift_from(stmt, None, taken) + [stmt]


def _lift_from(stmt, field, taken):
    """Statements computing the conditional expressions in stmt (or in its field) into new names, which
    replace them there; outermost first, each one's branches lifted within its own branch."""
    prefix = []
    while True:
        root = getattr(stmt, field) if field is not None else stmt
        found = _first_conditional(root)
        if found is None:
            return prefix
        parent, attribute, index, expression = found
        name = _fresh("chosen", taken)
        branches = []
        for branch in (expression.body, expression.orelse):
            assign = gast.Assign(targets=[gast.Name(id=name, ctx=gast.Store(), annotation=None, type_comment=None)],
                                 value=branch, type_comment=None)
            branches.append(gast.copy_location(assign, expression))
        replacement = gast.copy_location(gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None),
                                         expression)
        if parent is None:
            setattr(stmt, field, replacement)
        elif index is None:
            setattr(parent, attribute, replacement)
        else:
            getattr(parent, attribute)[index] = replacement
        lifted = gast.copy_location(gast.If(test=expression.test, body=[branches[0]], orelse=[branches[1]]), stmt)
        prefix.extend(_lift_statement(lifted, taken))


def _first_conditional(root):
    """(parent, field, index in the field's list or None, the node) of the outermost conditional expression
    under root, parent None when root is one; None when there is none. Nested functions are not entered."""
    if isinstance(root, gast.IfExp):
        return None, None, None, root
    pending = [root]
    while pending:
        node = pending.pop(0)
        if isinstance(node, (gast.Lambda, gast.FunctionDef)) and node is not root:
            continue
        for attribute, value in gast.iter_fields(node):
            children = value if isinstance(value, list) else [value]
            for index, child in enumerate(children):
                if isinstance(child, gast.IfExp):
                    return node, attribute, index if isinstance(value, list) else None, child
                if isinstance(child, gast.AST):
                    pending.append(child)
    return None


def _fresh(base, taken):
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    taken.add(name)
    return name
