"""What the shape of a user's expression says, asked both by the normal form and by the inliner.

A module of its own because the normaliser imports the inliner: the inliner cannot import these from it.
"""

from __future__ import annotations

import gast


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
    """The names a statement's targets rebind, `a[i] = v` and `a[i] += v` included: those write a new version of
    a (normalize.write_element), so a loop or branch treats a as assigned, as it does for `a = ...`."""
    if isinstance(node, gast.Name):
        return [node.id] if isinstance(node.ctx, gast.Store) else []
    if isinstance(node, (gast.Assign, gast.AugAssign, gast.AnnAssign)):
        targets = node.targets if isinstance(node, gast.Assign) else [node.target]
        names = []
        for target in targets:
            if isinstance(target, gast.Subscript) and isinstance(target.value, gast.Name):
                names.append(target.value.id)
            elif isinstance(target, gast.Name):
                names.append(target.id)
        return names
    return []
