"""Static shape facts: the rank of each value, and which values surely have the same shape.

Only the ranks of the arguments are known at compile time (a gradient is
compiled once per combination of argument ranks, never per shape). From
them follow the ranks of intermediate values, which let the rules choose the
plain matrix form `d_y @ w.T` where both operands are matrices. The same-shape
classes let the simplifier drop `unbroadcast` and broadcasts where they
cannot change anything: the result of `np.exp(x)` has x's shape, and so does
`np.maximum(h, 0)`.
"""

from __future__ import annotations

import operator

import gast
import numpy

from .. import ir
from ..frontend.normalize import COMPARISON, COPY
from ..templates import ATTRIBUTES, METHODS, lookup

_ELEMENTWISE_OPERATORS = {operator.add, operator.sub, operator.mul, operator.truediv, operator.pow, operator.neg,
                          operator.pos, operator.floordiv, operator.mod, COMPARISON, numpy.clip}
_REDUCTIONS = {numpy.sum, numpy.mean}


def canonical(primitive):
    """The function a method or attribute stands for (`x.sum` -> np.sum)."""
    if isinstance(primitive, ir.Method):
        if primitive.is_call and primitive.name in METHODS:
            return METHODS[primitive.name][0]
        if not primitive.is_call and primitive.name in ATTRIBUTES:
            return ATTRIBUTES[primitive.name]
    return primitive


def is_elementwise(primitive) -> bool:
    primitive = canonical(primitive)
    try:
        if isinstance(primitive, numpy.ufunc):  # np.matmul is a ufunc too, but with a core signature
            return primitive.nout == 1 and primitive.signature is None
        return primitive in _ELEMENTWISE_OPERATORS
    except TypeError:
        return False


class ShapeFacts:
    def __init__(self, fn: ir.Function, argument_ranks: dict):
        self.ranks = dict(argument_ranks)
        self._parent = {}
        for stmt in fn.body:
            if isinstance(stmt, ir.Assign):
                self.ranks[stmt.target] = self._rank_of(stmt)
                self._relate(stmt)

    # ---- ranks ----------------------------------------------------------------

    def rank(self, atom):
        if isinstance(atom, gast.Name):
            return self.ranks.get(atom.id)
        if isinstance(atom, gast.Constant) and isinstance(atom.value, (int, float, complex)):
            return 0
        return None

    def _rank_of(self, stmt):
        primitive = canonical(stmt.primitive)
        if primitive is COPY:
            return self.rank(stmt.args[0])
        if is_elementwise(primitive):
            operands = _operands(stmt)
            if not operands or any(isinstance(a, (gast.Tuple, gast.List)) for a in operands):
                return None  # a list literal is an array of unknown rank
            ranks = [self.rank(a) for a in operands]
            return None if any(r is None for r in ranks) else max(ranks)
        template, args, kwargs = lookup(stmt.primitive, stmt.args, stmt.kwargs)
        bound = template.bind(args, kwargs) if template is not None else None
        if bound is None:
            return None
        if primitive in (operator.matmul, numpy.matmul, numpy.dot):
            return _product_rank(self.rank(bound["x"]), self.rank(bound["y"]), batched=primitive is not numpy.dot)
        if primitive in _REDUCTIONS:
            rank, axis, keepdims = self.rank(bound["x"]), bound["axis"], bound["keepdims"]
            if rank is None or not isinstance(keepdims, gast.Constant):
                return None
            if keepdims.value:
                return rank
            if isinstance(axis, gast.Constant):
                if axis.value is None:
                    return 0
                return rank - 1 if isinstance(axis.value, int) else None
            if isinstance(axis, gast.Tuple):
                return rank - len(axis.elts)
            return None
        if primitive is numpy.transpose:
            return self.rank(bound["x"])
        if primitive is numpy.reshape:
            shape = bound["shape"]
            if isinstance(shape, gast.Tuple):
                return len(shape.elts)
            if isinstance(shape, gast.Constant) and isinstance(shape.value, int):
                return 1
        return None

    # ---- same-shape classes ------------------------------------------------------

    def _find(self, name):
        while name in self._parent:
            name = self._parent[name]
        return name

    def _union(self, a, b):
        ra, rb = self._find(a), self._find(b)
        if ra != rb:
            self._parent[ra] = rb

    def _relate(self, stmt):
        if stmt.primitive is COPY:
            if isinstance(stmt.args[0], gast.Name):
                self._union(stmt.target, stmt.args[0].id)
            return
        if not is_elementwise(stmt.primitive):
            return
        operands = _operands(stmt)
        for i, operand in enumerate(operands):
            if not isinstance(operand, gast.Name):
                continue
            others = operands[:i] + operands[i + 1:]
            if all(self.rank(o) == 0 or (isinstance(o, gast.Name) and self.same(o.id, operand.id)) for o in others):
                self._union(stmt.target, operand.id)
                return

    def same(self, a: str, b: str) -> bool:
        return self._find(a) == self._find(b)


def _operands(stmt):
    """Every value an elementwise operation combines, keyword operands (np.clip's a_min=) included."""
    return list(stmt.args) + list(stmt.kwargs.values())


def _product_rank(a, b, batched):
    """The rank of x @ y (batched) or np.dot(x, y), from the operands' ranks; None when unknown."""
    if a is None or b is None:
        return None
    if a == 0 or b == 0:
        return max(a, b) if not batched else None  # matmul refuses scalars
    if a == 1 and b == 1:
        return 0
    if a == 1:
        return b - 1
    if b == 1:
        return a - 1
    if not batched and (a > 2 or b > 2):
        return None
    return max(a, b)
