"""What the shape of a user's expression says, asked both by the normal form and by the inliner.

A module of its own because the normaliser imports the inliner: the inliner cannot import these from it.
"""

from __future__ import annotations

import gast


def root_name(expr):
    """The name an attribute and index chain starts from (`model` of `model.layers[i].w`), or None."""
    while isinstance(expr, (gast.Attribute, gast.Subscript)):
        expr = expr.value
    return expr.id if isinstance(expr, gast.Name) else None


def attribute_chain(expr):
    """['np', 'linalg', 'norm'] for `np.linalg.norm`, or None when the root is not a plain name."""
    chain = []
    while isinstance(expr, gast.Attribute):
        chain.append(expr.attr)
        expr = expr.value
    if not isinstance(expr, gast.Name):
        return None
    chain.append(expr.id)
    return chain[::-1]


def is_atom(expr):
    """Whether expr needs no statement of its own: a name, a constant, or a tuple or list of those."""
    if isinstance(expr, (gast.Name, gast.Constant)):
        return True
    return isinstance(expr, (gast.Tuple, gast.List)) and all(is_atom(e) for e in expr.elts)


def written_names(node):
    """The names a statement's targets rebind, `a[i] = v`, `a[i] += v` and `xs.append(v)` included: those write a
    new version of a or xs (normalize.write_element, normalize.append), so a loop or branch treats them as
    assigned, as it does for `a = ...`."""
    if isinstance(node, gast.Name):
        return [node.id] if isinstance(node.ctx, gast.Store) else []
    if appended_list(node) is not None:
        return [appended_list(node)]
    if isinstance(node, (gast.Assign, gast.AugAssign, gast.AnnAssign)):
        targets = node.targets if isinstance(node, gast.Assign) else [node.target]
        names = []
        for target in targets:
            if isinstance(target, gast.Subscript) and isinstance(target.value, gast.Name):
                names.append(target.value.id)
            elif isinstance(target, gast.Name):
                names.append(target.id)
            elif isinstance(target, (gast.Tuple, gast.List)):  # `a, *rest = xs`
                names.extend(n.id for n in gast.walk(target) if isinstance(n, gast.Name))
        return names
    return []


def appended_list(stmt):
    """xs for the statement `xs.append(v)` or `xs.extend(vs)`, else None."""
    if isinstance(stmt, gast.Expr) and isinstance(stmt.value, gast.Call) and isinstance(stmt.value.func, gast.Attribute) \
            and stmt.value.func.attr in ("append", "extend") and isinstance(stmt.value.func.value, gast.Name):
        return stmt.value.func.value.id
    return None


def walk_function_scope(node):
    """gast.walk, without entering what has a scope of its own: functions and lambdas nested in node, and
    comprehensions, whose variables are theirs (only a comprehension's first iterable is read in node's scope)."""
    yield node
    pending = list(gast.iter_child_nodes(node))
    while pending:
        node = pending.pop()
        yield node
        if isinstance(node, (gast.ListComp, gast.SetComp, gast.DictComp, gast.GeneratorExp)):
            pending.append(node.generators[0].iter)
        elif not isinstance(node, (gast.Lambda, gast.FunctionDef)):
            pending.extend(gast.iter_child_nodes(node))
