"""Reverse mode: walk the normal form backwards and write each active statement's adjoint.

For `target = primitive(args)` the primitive's rule gives one expression per
argument that needs a gradient. The first contribution to an adjoint assigns
it; later ones add to it, which is all weight sharing needs: a parameter used
in three places gets three contributions.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field

import gast

from .. import ir
from ..analysis.activity import active_values, reads
from ..analysis.shapes import ShapeFacts
from ..errors import SourcegradError
from ..frontend.normalize import COPY
from ..frontend.source import FunctionSource
from ..templates import lookup

ADJOINT_PREFIX = "d_"


@dataclass
class AdjointStatement:
    target: str  # the adjoint's name
    value: gast.expr
    accumulate: bool  # True: add to the adjoint's current value
    origin: ir.Origin


@dataclass
class ReverseFunction:
    primal: ir.Function
    wrt: list
    backend: str  # what the generated code calls the array module
    seed: str  # the parameter holding the output's gradient
    backward: list = field(default_factory=list)
    gradients: list = field(default_factory=list)  # one expression per wrt argument
    adjoint_names: dict = field(default_factory=dict)  # primal name -> adjoint name
    facts: ShapeFacts = None

    def primal_of(self, adjoint_name):
        """The primal value an adjoint belongs to (an adjoint has its primal's shape)."""
        for primal, adjoint in self.adjoint_names.items():
            if adjoint == adjoint_name:
                return primal
        return None


def reverse(fn: ir.Function, src: FunctionSource, wrt, argument_ranks, backend="xp") -> ReverseFunction:
    facts = ShapeFacts(fn, argument_ranks)
    active = active_values(fn, wrt)
    names = _AdjointNames(fn.names | {backend})
    returned = fn.returned.value
    out_name = returned.id if isinstance(returned, gast.Name) else "result"
    seed = names.get(out_name)
    result = ReverseFunction(fn, list(wrt), backend, seed, facts=facts)

    defined = set()
    if isinstance(returned, gast.Name) and returned.id in active:
        defined.add(seed)

    for stmt in reversed(fn.body):
        if isinstance(stmt, ir.Effect) and any(n in active for n in reads([stmt.stmt])) and not _harmless(stmt, fn):
            raise src.error(stmt.stmt, "a statement whose value is dropped may change an array that carries a gradient "
                            "in place (a method, a call with out=), which cannot be differentiated",
                            "Assign the result to a name instead (`h = h * 2`, not `np.multiply(h, 2, out=h)`).")
        if isinstance(stmt, ir.Unpack) and any(t in active for t in stmt.targets):
            raise src.error(stmt.node, "unpacking a value that carries a gradient is not supported in this version",
                            "Compute each part with its own expression.")
        if not (isinstance(stmt, ir.Assign) and stmt.target in active):
            continue
        for argument, value in _contributions(stmt, src, facts, names, backend):
            if not isinstance(argument, gast.Name):
                if any(n in active for n in reads([argument])):
                    raise src.error(stmt.node, f"{stmt.display} with a gradient flowing through a tuple or slice argument "
                                    "is not supported in this version", "Pass the arrays as separate arguments.")
                continue
            if argument.id not in active:
                continue
            target = names.get(argument.id)
            result.backward.append(AdjointStatement(target, value, target in defined, stmt.origin))
            defined.add(target)

    for w in wrt:
        adjoint = names.get(w)
        if adjoint in defined:
            result.gradients.append(ir.name(adjoint))
        else:  # the output does not depend on w
            zeros = gast.Call(func=gast.Attribute(value=ir.name(backend), attr="zeros_like", ctx=gast.Load()),
                              args=[ir.name(w)], keywords=[])
            result.gradients.append(zeros)
    result.adjoint_names = dict(names.assigned)
    return result


def _harmless(effect, fn):
    """print(...) and assert only read their arguments."""
    node = effect.stmt
    if isinstance(node, gast.Assert):
        return True
    call = node.value if isinstance(node, gast.Expr) else None
    return (isinstance(call, gast.Call) and isinstance(call.func, gast.Name)
            and fn.references.get(call.func.id) is builtins.print)


def _contributions(stmt, src, facts, names, backend):
    """(argument atom, gradient expression) pairs for one active statement."""
    if stmt.primitive is COPY:
        return [(stmt.args[0], ir.name(names.get(stmt.target)))]
    template, args, kwargs = lookup(stmt.primitive, stmt.args, stmt.kwargs)
    if template is None:
        raise src.error(stmt.node, f"no gradient rule for {stmt.display}",
                        "sourcegrad cannot differentiate through it yet. If the value needs no gradient, compute it "
                        "outside the differentiated function and pass it in; the README lists the supported functions.")
    bindings = template.bind(args, kwargs)
    if bindings is None:
        raise src.error(stmt.node, f"{stmt.display} is called with arguments its gradient rule does not accept",
                        f"The rule accepts ({', '.join(template.parameters())}).")
    pairs = template.instantiate(bindings, stmt.target, names.get, facts.ranks, backend)
    return [(bindings[param], value) for param, value in pairs]


class _AdjointNames:
    """d_<name> for each primal name, never colliding with a name the function uses."""

    def __init__(self, taken):
        self.taken = set(taken)
        self.assigned = {}

    def get(self, primal):
        if primal not in self.assigned:
            candidate = ADJOINT_PREFIX + primal
            n = 2
            while candidate in self.taken:
                candidate = f"{ADJOINT_PREFIX}{primal}_{n}"
                n += 1
            self.taken.add(candidate)
            self.assigned[primal] = candidate
        return self.assigned[primal]
