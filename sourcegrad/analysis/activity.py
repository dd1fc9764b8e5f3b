"""Activity analysis: which values need a gradient.

A value is active when it depends on a `wrt` argument through differentiable
operations (varied) and the returned value depends on it (useful). Only active
values get an adjoint, so data such as `x` and `y` in a loss get none, and
nothing is computed for a part of the computation that never reaches the
output. Loops carry values from one iteration to the next, so both sets are
grown until they stop changing. A branch decision carries no gradient: the
gradient of each path is the gradient of the code on that path.
"""

from __future__ import annotations

import builtins

import gast
import numpy

from .. import ir
from ..frontend.values import INTEGER, TEXT
from ..frontend.syntax import attribute_chain
from ..templates import is_nondifferentiable, lookup
from ..templates.registry import TANGENT_RULES


def reads(atoms):
    names = []
    for atom in atoms:
        if atom is None:
            continue
        for node in gast.walk(atom):
            if isinstance(node, gast.Name):
                names.append(node.id)
    return names


def target_names(target):
    return [n.id for n in gast.walk(target) if isinstance(n, gast.Name)]


def flows(fn: ir.Function):
    """(names written, names read) for every statement through which a gradient can flow. A name that holds a
    string (the key of `for k, v in d.items()`) is written by none: it is never active, so indexing with it is
    no index carrying a gradient."""
    result, parts = [], structure_parts(fn)
    for stmt in ir.walk(fn.body):
        if isinstance(stmt, ir.Assign):
            if not makes_no_gradient(stmt, fn):
                result.append(([stmt.target], reads(list(stmt.args) + list(stmt.kwargs.values()))))
        elif isinstance(stmt, ir.Unpack):
            result.append((list(stmt.targets), reads([stmt.value])))
        elif isinstance(stmt, ir.Loop) and stmt.kind == "for":
            result.extend(loop_flows(stmt))
        elif isinstance(stmt, ir.Effect) and not is_harmless(stmt, fn):
            # `outs.append(h)`, `np.copyto(a, b)`: a call for its effect may store any value it reads into any
            # other, and so into the structures those are parts of (`d["hs"].append(h)` changes what d holds).
            # Counting that as a flow makes its names active whenever a gradient could pass through it, and the
            # reverse pass then refuses the statement rather than miss the gradient it carries.
            names = reads([stmt.stmt])
            result.append((sorted(same_structures(names, parts)), names))
    return [([n for n in written if fn.kinds.get(n) != TEXT], read) for written, read in result]


def makes_no_gradient(stmt: ir.Assign, fn: ir.Function) -> bool:
    """Whether an assignment's value surely carries no gradient: its primitive has none (np.floor), or it casts to
    an integer or boolean dtype= written out (`w.astype(bool)`, `np.sum(x, dtype=np.int64)`), whose values move with
    nothing. A dtype known only when the code runs is left to the rules, which cast then (to zeros for integers)."""
    if is_nondifferentiable(stmt.primitive):
        return True
    template, args, kwargs = lookup(stmt.primitive, stmt.args, stmt.kwargs)
    if template is None:
        template, args, kwargs = lookup(stmt.primitive, stmt.args, stmt.kwargs, TANGENT_RULES)
    if template is None:
        return False
    bindings = template.bind(list(args), dict(kwargs))
    dtype = None if bindings is None else written_dtype(bindings.get("dtype"), fn)
    return dtype is not None and dtype.kind in "iub"


def written_dtype(node, fn):
    """The numpy dtype a dtype argument names when it is written out: a string ("int32"), or a global the frontend
    resolved (`bool`, `np.int64`) that the function does not assign; None otherwise (a variable, a dtype= None)."""
    if isinstance(node, gast.Constant):
        value = node.value
        if not isinstance(value, str):
            return None
    elif isinstance(node, (gast.Name, gast.Attribute)):
        chain = [node.id] if isinstance(node, gast.Name) else attribute_chain(node)
        if chain is None or chain[0] in _assigned_names(fn):
            return None
        key = ".".join(chain)
        if key not in fn.references:
            return None
        value = fn.references[key]
        if not isinstance(value, (type, numpy.dtype)):
            return None
    else:
        return None
    try:
        return numpy.dtype(value)
    except TypeError:
        return None


def _assigned_names(fn):
    names = set(fn.params) | set(fn.kwonly)
    for stmt in ir.walk(fn.body):
        names.update(ir.bound_names(stmt))
    return names


def structure_parts(fn: ir.Function) -> dict:
    """name -> the names holding the same structure (a list, a dict, an object) as it, or a part of it, or the
    structure it is a part of: one copies the other (`a = b`) or reads it out of the other (`hs = d["hs"]`,
    `w = model.w`). A change in place to what one holds is a change to what the others hold."""
    parts = {}
    for stmt in ir.walk(fn.body):
        if isinstance(stmt, ir.Assign) and (stmt.primitive is ir.COPY or stmt.primitive in (ir.SUBSCRIPT, ir.ATTRIBUTE)) \
                and stmt.args and isinstance(stmt.args[0], gast.Name):
            parts.setdefault(stmt.args[0].id, set()).add(stmt.target)
            parts.setdefault(stmt.target, set()).add(stmt.args[0].id)
    return parts


def same_structures(names, parts) -> set:
    """names, with every name structure_parts' parts connect to one of them, directly or through others."""
    found, pending = set(names), list(names)
    while pending:
        for name in parts.get(pending.pop(), ()):
            if name not in found:
                found.add(name)
                pending.append(name)
    return found


def is_harmless(effect, fn):
    """print(...) and assert only read their arguments, and `obj.name = value` stores a value nothing in the
    function reads back (normalize refuses such a read)."""
    node = effect.stmt
    if isinstance(node, gast.Assert) or isinstance(node, gast.Assign) and isinstance(node.targets[0], gast.Attribute):
        return True
    call = node.value if isinstance(node, gast.Expr) else None
    return (isinstance(call, gast.Call) and isinstance(call.func, gast.Name)
            and fn.references.get(call.func.id) is builtins.print)


def loop_sequences(loop):
    """The names of the sequences a `for` loop walks (not range's bounds, nor enumerate's counter)."""
    iterable = loop.iterable
    if isinstance(iterable, gast.Call) and isinstance(iterable.func, gast.Name):
        if iterable.func.id == "range":
            return []
        if iterable.func.id == "enumerate":
            return reads(iterable.args[:1])
        return reads(iterable.args)
    return reads([iterable])


def loop_flows(loop):
    """(names written, names read) for a `for` loop's target: enumerate's counter is a number whatever the items
    are, and each name `for a, b in zip(xs, ys)` binds takes its items from its own sequence only."""
    iterable, target = loop.iterable, loop.target
    if isinstance(iterable, gast.Call) and isinstance(iterable.func, gast.Name) and isinstance(target, gast.Tuple):
        if iterable.func.id == "enumerate" and len(target.elts) == 2:
            return [(target_names(target.elts[1]), reads(iterable.args[:1]))]
        if iterable.func.id == "zip" and len(target.elts) == len(iterable.args) and not iterable.keywords:
            return [(target_names(t), reads([a])) for t, a in zip(target.elts, iterable.args)]
    return [(target_names(target), loop_sequences(loop))]


def returned_names(fn: ir.Function):
    return reads([fn.returned.value])


def active_values(fn: ir.Function, wrt) -> set:
    edges = flows(fn)
    # an int or a bool a structure holds (`n = model.hidden_size`) varies with nothing a derivative can follow
    settings = {name for name, kind in fn.kinds.items() if kind == INTEGER}
    varied = _closure(set(wrt), [(read, [name for name in written if name not in settings]) for written, read in edges])
    useful = _closure(set(returned_names(fn)), edges)
    return varied & useful


def _closure(names, edges):
    """Grow names along edges (sources -> destinations) until nothing changes: loops feed themselves."""
    changed = True
    while changed:
        changed = False
        for sources, destinations in edges:
            if any(n in names for n in sources) and not set(destinations) <= names:
                names.update(destinations)
                changed = True
    return names
