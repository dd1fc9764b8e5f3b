"""Activity analysis: which values need a gradient.

A value is active when it depends on a `wrt` argument through differentiable
operations (varied) and the returned value depends on it (useful). Only active
values get an adjoint, so data such as `x` and `y` in a loss get none, and
nothing is computed for a part of the computation that never reaches the
output.
"""

from __future__ import annotations

import gast

from .. import ir
from ..templates import is_nondifferentiable


def reads(atoms):
    names = []
    for atom in atoms:
        for node in gast.walk(atom):
            if isinstance(node, gast.Name):
                names.append(node.id)
    return names


def _flow(stmt):
    """(names written, names read) through which a gradient can flow; None for statements it cannot cross."""
    if isinstance(stmt, ir.Assign):
        if is_nondifferentiable(stmt.primitive):
            return None
        return [stmt.target], reads(list(stmt.args) + list(stmt.kwargs.values()))
    if isinstance(stmt, ir.Unpack):
        return list(stmt.targets), reads([stmt.value])
    return None


def active_values(fn: ir.Function, wrt) -> set:
    varied = set(wrt)
    for stmt in fn.body:
        flow = _flow(stmt)
        if flow and any(n in varied for n in flow[1]):
            varied.update(flow[0])
    useful = set(reads([fn.returned.value]))
    for stmt in reversed(fn.body):
        flow = _flow(stmt)
        if flow and any(n in useful for n in flow[0]):
            useful.update(flow[1])
    return varied & useful
