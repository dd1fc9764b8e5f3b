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

Last, each accumulation is marked in place (`d_w += ...`) where the adjoint is
an array this code made and that nothing else refers to; a gradient handed
back that might share memory with anything else is copied.
"""

from __future__ import annotations

import copy
import operator

import gast
import numpy

from ..transform.reverse import ReverseFunction

SCALAR = "scalar"  # the shape class of a rank-0 value


def simplify(rev: ReverseFunction) -> ReverseFunction:
    passes = _Passes(rev)
    changed = True
    while changed:
        changed = False
        for step in (passes.fold_constants, passes.drop_shape_noops, passes.merge_single_use,
                     passes.propagate_aliases, passes.inline_broadcasts, passes.drop_dead):
            changed |= step()
    passes.choose_in_place()
    return rev


class _Passes:
    def __init__(self, rev: ReverseFunction):
        self.rev = rev
        self.backend = rev.backend
        self.facts = rev.facts
        self.adjoint_primal = {adj: primal for primal, adj in rev.adjoint_names.items()}

    # ---- shape classes of expressions ---------------------------------------------

    def shape_class(self, expr):
        """A token equal for expressions that surely have the same shape, or None."""
        if isinstance(expr, gast.Name):
            name = self.adjoint_primal.get(expr.id, expr.id)
            if self.facts.ranks.get(name) == 0:
                return SCALAR
            if expr.id == self.rev.seed or name in self.facts.ranks or expr.id in self.adjoint_primal:
                return ("class", self.facts._find(name))
            return None
        if isinstance(expr, gast.Constant):
            return SCALAR if isinstance(expr.value, (int, float, complex)) else None
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
        return None

    def _is_backend_call(self, expr, attr=None):
        return (isinstance(expr, gast.Call) and isinstance(expr.func, gast.Attribute)
                and isinstance(expr.func.value, gast.Name) and expr.func.value.id == self.backend
                and (attr is None or expr.func.attr == attr))

    # ---- pass: unbroadcast / unreduce that cannot change anything -------------------

    def drop_shape_noops(self):
        changed = False
        for stmt in self.rev.backward:
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
        for stmt in self.rev.backward:
            changed |= _rewrite(stmt, _fold)
        return changed

    # ---- pass: merge an adjoint used once into its use -----------------------------------

    def _uses(self, count_accumulation=True):
        counts = {}
        for expr in [s.value for s in self.rev.backward] + self.rev.gradients:
            for node in gast.walk(expr):
                if isinstance(node, gast.Name):
                    counts[node.id] = counts.get(node.id, 0) + 1
        for stmt in self.rev.backward:
            if stmt.accumulate and count_accumulation:  # `d += e` reads d
                counts[stmt.target] = counts.get(stmt.target, 0) + 1
        return counts

    def merge_single_use(self):
        backward = self.rev.backward
        uses = self._uses()
        definitions = {}
        for stmt in backward:
            definitions.setdefault(stmt.target, []).append(stmt)
        for stmt in backward:
            placeholder = None
            if isinstance(stmt.value, gast.Name):
                placeholder = stmt.value
            elif self._is_backend_call(stmt.value, "unbroadcast") and isinstance(stmt.value.args[0], gast.Name):
                placeholder = stmt.value.args[0]
            if placeholder is None or uses.get(placeholder.id) != 1 or placeholder.id == self.rev.seed:
                continue
            single = definitions.get(placeholder.id, [])
            if len(single) != 1 or single[0].accumulate or single[0] is stmt:
                continue
            source = single[0]
            if placeholder is stmt.value:
                stmt.value = source.value
            else:
                stmt.value.args[0] = source.value
            start, end = backward.index(source), backward.index(stmt)
            between = backward[start + 1:end]
            if not stmt.accumulate and all(b.target != stmt.target for b in between):
                # The merged statement computes what the source line's rule computed: put it there, under that line.
                backward.remove(stmt)
                stmt.origin = source.origin
                backward[backward.index(source)] = stmt
            else:
                backward.remove(source)
            return True
        return False

    # ---- pass: `d_a = d_b` makes d_a another name for d_b ---------------------------------------

    def propagate_aliases(self):
        backward = self.rev.backward
        counts = {}
        for stmt in backward:
            counts[stmt.target] = counts.get(stmt.target, 0) + 1
        for stmt in backward:
            if not isinstance(stmt.value, gast.Name) or stmt.accumulate or counts[stmt.target] != 1:
                continue
            if stmt.target == self.rev.seed:
                continue
            # Every adjoint read here is complete (all its contributions come earlier), so the two
            # names hold the same value from now on; gradients handed out are copied if they alias.
            alias, original = stmt.target, stmt.value
            backward.remove(stmt)
            for other in backward:
                other.value = _Substitute(alias, original).visit(other.value)
            self.rev.gradients[:] = [_Substitute(alias, original).visit(g) for g in self.rev.gradients]
            return True
        return False

    # ---- pass: a broadcast used once, as a factor of a product that has the shape anyway ----------

    def inline_broadcasts(self):
        backward = self.rev.backward
        uses = self._uses()
        for source in backward:
            value = source.value
            if source.accumulate or uses.get(source.target) != 1 or source.target == self.rev.seed:
                continue
            if not (self._is_backend_call(value, "unreduce") and self._unreduce_is_broadcast(value)):
                continue
            for stmt in backward:
                if stmt is source or source.target not in {n.id for n in gast.walk(stmt.value) if isinstance(n, gast.Name)}:
                    continue
                before = stmt.value
                stmt.value = _Substitute(source.target, value).visit(copy.deepcopy(before))
                _rewrite(stmt, self._noop_rewrite)
                if any(self._is_backend_call(n, "unreduce") and gast.dump(n) == gast.dump(value) for n in gast.walk(stmt.value)):
                    stmt.value = before  # the broadcast would stay: keep it a statement of its own
                    break
                backward.remove(source)
                return True
        return False

    # ---- pass: adjoints nobody reads -----------------------------------------------------

    def drop_dead(self):
        uses = self._uses(count_accumulation=False)
        returned = {n.id for g in self.rev.gradients for n in gast.walk(g) if isinstance(n, gast.Name)}
        keep = [s for s in self.rev.backward if uses.get(s.target, 0) or s.target in returned]
        if len(keep) == len(self.rev.backward):
            return False
        self.rev.backward[:] = keep
        # an accumulation whose first assignment was dropped becomes the first assignment
        seen = set()
        for stmt in keep:
            if stmt.accumulate and stmt.target not in seen:
                stmt.accumulate = False
            seen.add(stmt.target)
        return True

    # ---- last: in-place accumulation and copies of returned gradients -----------------------

    def choose_in_place(self):
        fresh = {}
        for stmt in self.rev.backward:
            if not stmt.accumulate:
                fresh[stmt.target] = self.is_fresh(stmt.value)
                stmt.in_place = False
            else:
                stmt.in_place = fresh[stmt.target]
                fresh[stmt.target] = True  # `d = d + e` makes a new array too
        self.rev.copy_gradient = [isinstance(g, gast.Name) and not fresh.get(g.id, False) for g in self.rev.gradients]

    def is_fresh(self, expr):
        """Whether expr surely evaluates to a new array (or an immutable scalar) that nothing else refers to."""
        if isinstance(expr, (gast.BinOp, gast.UnaryOp, gast.Compare, gast.Constant)):
            return True
        if self._is_backend_call(expr):
            if expr.func.attr in ("unbroadcast", "unreduce", "reshape", "transpose", "broadcast_to", "asarray"):
                return False
            return True
        return False


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


def _name_of(expr):
    return expr.id if isinstance(expr, gast.Name) else None


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
