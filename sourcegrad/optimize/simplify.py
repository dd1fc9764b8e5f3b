"""Simplify the backward statements until they read like hand-written code.

The rules are written for every shape; most calls have simpler shapes. What
these passes remove is what cannot change a value:

- `unbroadcast(g, x)` where g surely has x's shape (the static shape facts);
- a broadcast back over a reduction, `unreduce(a, x, None, False)`, inside a
  product with a factor of x's shape: broadcasting does the same work for free;
- an adjoint used once, as the whole of another statement's value (or of an
  unbroadcast that stays): the two statements become one;
- `e * 1`, `e ** 1` and constant arithmetic;
- adjoints that nothing reads.

Last, the memory plan (analysis/memory.py) marks each accumulation in place
(`d_w += ...`) where it can be, and the gradients handed back that must be
copied.
"""

from __future__ import annotations

import copy
import functools
import operator

import gast
import numpy

from ..analysis.shapes import is_elementwise
from ..runtime import HELPERS
from ..transform.reverse import (AdjointStatement, IndexAccumulate, OwnAdjoint, Restore, ReverseFunction, ReverseIf,
                                 ReverseLoop, children, walk)

SCALAR = "scalar"  # the shape class of a rank-0 value


def simplify(rev: ReverseFunction) -> ReverseFunction:
    passes = _Passes(rev)
    changed = True
    while changed:
        changed = False
        for step in (passes.fold_constants, passes.drop_shape_noops, passes.merge_single_use,
                     passes.propagate_aliases, passes.inline_broadcasts, passes.drop_dead):
            changed |= step()
    return rev


class _Passes:
    def __init__(self, rev: ReverseFunction):
        self.rev = rev
        self.backend = rev.backend
        self.facts = rev.facts
        self.adjoint_primal = rev.primal_names

    # ---- the tree ---------------------------------------------------------------------------

    def lists(self):
        """Every statement list of the backward code, the top level first."""
        result = [self.rev.backward]
        for node in walk(self.rev.backward):
            result.extend(children(node))
        return result

    def valued(self):
        return [n for n in walk(self.rev.backward) if isinstance(n, (AdjointStatement, IndexAccumulate))]

    # ---- shape classes of expressions ---------------------------------------------

    def shape_class(self, expr):
        """A token equal for expressions that surely have the same shape, or None."""
        if isinstance(expr, gast.Name):
            name = self.adjoint_primal.get(expr.id, expr.id)
            if self.facts.ranks.get(name) == 0:
                return SCALAR
            if name in self.facts.may_be_sequence:
                return None  # maybe a list, not an array: unbroadcast stays, and checks at run time
            if expr.id == self.rev.seed or name in self.facts.ranks or expr.id in self.adjoint_primal:
                return ("class", self.facts._find(name))
            return None
        if isinstance(expr, gast.Constant):
            return SCALAR if isinstance(expr.value, (int, float, complex)) else None
        if isinstance(expr, gast.Attribute) and isinstance(expr.value, gast.Name) and expr.value.id == self.backend \
                and isinstance(getattr(numpy, expr.attr, None), float):  # `xp.inf`, `xp.pi`
            return SCALAR
        if isinstance(expr, gast.UnaryOp):
            return self.shape_class(expr.operand)
        if isinstance(expr, gast.BinOp) and not isinstance(expr.op, gast.MatMult):
            return _combine(self.shape_class(expr.left), self.shape_class(expr.right))
        if isinstance(expr, gast.Compare) and len(expr.comparators) == 1:
            return _combine(self.shape_class(expr.left), self.shape_class(expr.comparators[0]))
        if self._is_backend_call(expr) and len(expr.args) == 1 and not expr.keywords:
            ufunc = getattr(numpy, expr.func.attr, None)
            if isinstance(ufunc, numpy.ufunc) and ufunc.nin == 1 and ufunc.signature is None:
                return self.shape_class(expr.args[0])
        if self._is_backend_call(expr) and expr.args and not expr.keywords and expr.func.attr in HELPERS and \
                is_elementwise(HELPERS[expr.func.attr]):  # a runtime helper that broadcasts its arguments (`xp.exp_share`)
            return functools.reduce(_combine, [self.shape_class(a) for a in expr.args])
        return None

    def _is_backend_call(self, expr, attr=None):
        return (isinstance(expr, gast.Call) and isinstance(expr.func, gast.Attribute)
                and isinstance(expr.func.value, gast.Name) and expr.func.value.id == self.backend
                and (attr is None or expr.func.attr == attr))

    # ---- pass: unbroadcast / unreduce that cannot change anything -------------------

    def drop_shape_noops(self):
        changed = False
        for stmt in self.valued():
            changed |= _rewrite(stmt, self._noop_rewrite)
        return changed

    def _noop_rewrite(self, node):
        if self._is_backend_call(node, "unbroadcast") and len(node.args) == 2:
            grad, target = node.args
            cls = self.shape_class(target)
            if cls is not None and self.shape_class(grad) == cls:
                return grad
        if self._is_backend_call(node, "unreduce") and self._unreduce_is_broadcast(node):
            grad, target = node.args[0], node.args[1]
            cls = self.shape_class(target)
            if cls is not None and self.shape_class(grad) == cls:
                return grad
        if isinstance(node, gast.BinOp) and isinstance(node.op, gast.Mult):
            factors = _factors(node)
            classes = [self.shape_class(f) for f in factors]
            for i, factor in enumerate(factors):
                if self._is_backend_call(factor, "unreduce") and self._unreduce_is_broadcast(factor):
                    cls = self.shape_class(factor.args[1])
                    if cls is not None and cls in classes[:i] + classes[i + 1:]:
                        factors[i] = factor.args[0]
                        return _product(factors)
        return None

    def _unreduce_is_broadcast(self, call):
        """unreduce(a, x, axis, keepdims) is a plain broadcast of a when axis is None or keepdims is True."""
        if len(call.args) != 4:
            return False
        axis, keepdims = call.args[2], call.args[3]
        return (isinstance(axis, gast.Constant) and axis.value is None) or (
            isinstance(keepdims, gast.Constant) and keepdims.value is True)

    # ---- pass: constant arithmetic -------------------------------------------------------

    def fold_constants(self):
        changed = False
        for stmt in self.valued():
            changed |= _rewrite(stmt, _fold)
        return changed

    # ---- use and definition counts -----------------------------------------------------------

    def _uses(self, count_accumulation=True):
        counts = {}
        expressions = [n.value for n in self.valued()] + list(self.rev.gradients)
        for expr in expressions:
            for node in gast.walk(expr):
                if isinstance(node, gast.Name):
                    counts[node.id] = counts.get(node.id, 0) + 1
        for node in walk(self.rev.backward):
            if count_accumulation and isinstance(node, AdjointStatement) and node.accumulate:  # `d += e` reads d
                counts[node.target] = counts.get(node.target, 0) + 1
            if isinstance(node, (IndexAccumulate, OwnAdjoint)):
                counts[node.target] = counts.get(node.target, 0) + 1
        return counts

    def _definitions(self):
        counts = {}
        for node in walk(self.rev.backward):
            if isinstance(node, (AdjointStatement, IndexAccumulate, OwnAdjoint)):
                counts[node.target] = counts.get(node.target, 0) + 1
        return counts

    # ---- pass: merge an adjoint used once into its use -----------------------------------

    def merge_single_use(self):
        uses, definitions = self._uses(), self._definitions()
        for block in self.lists():
            for position, stmt in enumerate(block):
                if not isinstance(stmt, AdjointStatement):
                    continue
                placeholder = None
                if isinstance(stmt.value, gast.Name):
                    placeholder = stmt.value
                elif self._is_backend_call(stmt.value, "unbroadcast") and isinstance(stmt.value.args[0], gast.Name):
                    placeholder = stmt.value.args[0]
                if placeholder is None or uses.get(placeholder.id) != 1 or definitions.get(placeholder.id) != 1:
                    continue
                if placeholder.id == self.rev.seed:
                    continue
                source_position = _position_of_definition(block[:position], placeholder.id)
                if source_position is None:
                    continue
                source = block[source_position]
                between = block[source_position + 1:position]
                if source.accumulate or _writes_any(between, _names(source.value)):
                    continue
                if placeholder is stmt.value:
                    stmt.value = source.value
                else:
                    stmt.value.args[0] = source.value
                if not stmt.accumulate and not _writes_any(between, {stmt.target} | _names(stmt.value)) \
                        and not any(stmt.target in _reads(node) for node in between):
                    # The merged statement computes what the source line's rule computed: put it there, under that line.
                    block.pop(position)
                    stmt.origin = source.origin
                    block[source_position] = stmt
                else:
                    block.pop(source_position)
                return True
        return False

    # ---- pass: `d_a = d_b` makes d_a another name for d_b ---------------------------------------

    def propagate_aliases(self):
        definitions = self._definitions()
        returned = {n.id for g in self.rev.gradients for n in gast.walk(g) if isinstance(n, gast.Name)}
        for block in self.lists():
            for position, stmt in enumerate(block):
                if not (isinstance(stmt, AdjointStatement) and isinstance(stmt.value, gast.Name)) or stmt.accumulate:
                    continue
                alias, original = stmt.target, stmt.value
                if definitions.get(alias) != 1 or alias == self.rev.seed or alias in returned:
                    continue
                rest = block[position + 1:]
                users = [i for i, node in enumerate(rest) if alias in _reads(node)]
                if not users or any(alias in _reads(node) for node in block[:position]) \
                        or _elsewhere(self.lists(), block, alias):
                    continue
                # Every adjoint read here is complete (all its contributions come earlier), so the two
                # names hold the same value until one of them is written again. (`original = alias`
                # writes the value it already holds: it goes away with the alias.)
                span = rest[:users[-1] + 1]
                copies_back = [n for n in span if isinstance(n, AdjointStatement) and n.target == original.id
                               and not n.accumulate and isinstance(n.value, gast.Name) and n.value.id == alias]
                if _writes_any([n for n in span if not any(n is c for c in copies_back)], {original.id, alias}):
                    continue
                block.pop(position)
                for node in span:
                    _substitute_in(node, alias, original)
                block[:] = [n for n in block if not any(n is c for c in copies_back)]
                return True
        return False

    # ---- pass: a broadcast used once, as a factor of a product that has the shape anyway ----------

    def inline_broadcasts(self):
        uses, definitions = self._uses(), self._definitions()
        for block in self.lists():
            for position, source in enumerate(block):
                if not isinstance(source, AdjointStatement) or source.accumulate:
                    continue
                value = source.value
                if uses.get(source.target) != 1 or definitions.get(source.target) != 1 or source.target == self.rev.seed:
                    continue
                if not (self._is_backend_call(value, "unreduce") and self._unreduce_is_broadcast(value)):
                    continue
                for offset, stmt in enumerate(block[position + 1:]):
                    if not isinstance(stmt, AdjointStatement) or source.target not in _names(stmt.value):
                        continue
                    if _writes_any(block[position + 1:position + 1 + offset], _names(value)):
                        break
                    before = stmt.value
                    stmt.value = _Substitute(source.target, value).visit(copy.deepcopy(before))
                    _rewrite(stmt, self._noop_rewrite)
                    if any(self._is_backend_call(n, "unreduce") and gast.dump(n) == gast.dump(value) for n in gast.walk(stmt.value)):
                        stmt.value = before  # the broadcast would stay: keep it a statement of its own
                        break
                    block.pop(position)
                    return True
        return False

    # ---- pass: adjoints nobody reads -----------------------------------------------------

    def drop_dead(self):
        uses = self._uses(count_accumulation=False)
        returned = {n.id for g in self.rev.gradients for n in gast.walk(g) if isinstance(n, gast.Name)}
        changed = False
        for block in self.lists():
            keep = []
            for node in block:
                dead_value = isinstance(node, (AdjointStatement, OwnAdjoint)) and not (
                    uses.get(node.target, 0) or node.target in returned)
                empty = (isinstance(node, ReverseIf) and not node.body and not node.orelse) or (
                    isinstance(node, ReverseLoop) and not node.body)
                if dead_value or empty:
                    changed = True
                else:
                    keep.append(node)
            block[:] = keep
        return changed


def _names(expr):
    return {n.id for n in gast.walk(expr) if isinstance(n, gast.Name)}


def _reads(node):
    """Names a backward node reads, nested blocks included."""
    names = set()
    if isinstance(node, (AdjointStatement, IndexAccumulate)):
        names |= _names(node.value)
        if isinstance(node, AdjointStatement) and node.accumulate:
            names.add(node.target)
        if isinstance(node, IndexAccumulate):
            names |= {node.target, node.index}
    elif isinstance(node, OwnAdjoint):
        names.add(node.target)
    elif isinstance(node, ReverseIf):
        names |= _names(node.test)
    for block in children(node):
        for child in block:
            names |= _reads(child)
    return names


def _writes(node):
    names = set()
    if isinstance(node, (AdjointStatement, IndexAccumulate, OwnAdjoint)):
        names.add(node.target)
    elif isinstance(node, Restore):
        names.add(node.name)
    elif isinstance(node, ReverseLoop):
        names |= _loop_bindings(node)
    for block in children(node):
        for child in block:
            names |= _writes(child)
    return names


def _loop_bindings(node):
    loop = node.loop
    names = {node.index} if node.index else set()
    if loop.kind == "for":
        names |= {n.id for n in gast.walk(loop.target) if isinstance(n, gast.Name)}
    return names


def _writes_any(nodes, names):
    return any(_writes(node) & names for node in nodes)


def _position_of_definition(nodes, target):
    for position in range(len(nodes) - 1, -1, -1):
        node = nodes[position]
        if isinstance(node, AdjointStatement) and node.target == target:
            return position
        if target in _writes(node):
            return None
    return None


def _elsewhere(blocks, block, name):
    """Whether name is read in a list other than block that is not nested inside block."""
    inside = set()
    for node in walk(block):
        for child in children(node):
            inside.add(id(child))
    for other in blocks:
        if other is block or id(other) in inside:
            continue
        if any(name in _direct_reads(node) for node in other):
            return True
    return False


def _direct_reads(node):
    """Names a node reads itself, not counting the lists nested in it (those are lists of their own)."""
    if isinstance(node, (ReverseIf, ReverseLoop)):
        shallow = copy.copy(node)
        if isinstance(node, ReverseIf):
            shallow.body, shallow.orelse = [], []
        else:
            shallow.body = []
        return _reads(shallow)
    return _reads(node)


def _substitute_in(node, name, replacement):
    if isinstance(node, (AdjointStatement, IndexAccumulate)):
        node.value = _Substitute(name, replacement).visit(node.value)
    for block in children(node):
        for child in block:
            _substitute_in(child, name, replacement)


def _combine(a, b):
    if a is None or b is None:
        return None
    if a == b:
        return a
    if a == SCALAR:
        return b
    if b == SCALAR:
        return a
    return None


def _factors(node):
    if isinstance(node, gast.BinOp) and isinstance(node.op, gast.Mult):
        return _factors(node.left) + _factors(node.right)
    return [node]


def _product(factors):
    result = factors[0]
    for factor in factors[1:]:
        result = gast.BinOp(left=result, op=gast.Mult(), right=factor)
    return result


_FOLDABLE = {gast.Add: operator.add, gast.Sub: operator.sub, gast.Mult: operator.mul, gast.Pow: operator.pow}


def _is_number(node, value=None):
    return (isinstance(node, gast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool)
            and (value is None or node.value == value))


def _fold(node):
    if isinstance(node, gast.BinOp):
        if _is_number(node.left) and _is_number(node.right) and type(node.op) in _FOLDABLE:
            return gast.Constant(value=_FOLDABLE[type(node.op)](node.left.value, node.right.value), kind=None)
        # (a boolean mask times 1 is an integer array: keep that multiplication)
        if isinstance(node.op, gast.Mult) and _is_number(node.right, 1) and not isinstance(node.left, gast.Compare):
            return node.left
        if isinstance(node.op, gast.Mult) and _is_number(node.left, 1) and not isinstance(node.right, gast.Compare):
            return node.right
        if isinstance(node.op, gast.Pow) and _is_number(node.right, 1):
            return node.left
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub) and isinstance(node.operand, gast.UnaryOp) \
            and isinstance(node.operand.op, gast.USub):
        return node.operand.operand
    return None


def _rewrite(stmt, rewrite):
    """Apply rewrite(node) bottom-up to stmt.value wherever it returns a replacement; True if anything changed."""
    before = gast.dump(stmt.value)
    stmt.value = _Rewriter(rewrite).visit(copy.deepcopy(stmt.value))
    return gast.dump(stmt.value) != before


class _Substitute(gast.NodeTransformer):
    def __init__(self, identifier, replacement):
        self.identifier = identifier
        self.replacement = replacement

    def visit_Name(self, node):
        return copy.deepcopy(self.replacement) if node.id == self.identifier else node


class _Rewriter(gast.NodeTransformer):
    def __init__(self, rewrite):
        self.rewrite = rewrite

    def visit(self, node):
        self.generic_visit(node)
        replacement = self.rewrite(node)
        return node if replacement is None else replacement
