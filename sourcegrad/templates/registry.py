"""The registry of gradient rules, and how a rule becomes code.

A rule is a short Python function, parsed and never executed:

    @adjoint(np.sin)
    def sin(result, x):
        d[x] = d[result] * np.cos(x)

Its first parameter names the primitive's result, the others its parameters
(with numpy's names and defaults, so calls bind as numpy binds them).
`d[name]` is the gradient of `name`. `np.` calls become calls on the array
module the generated code is handed; helpers from sourcegrad.runtime become
`xp.helper`. An `if` in a rule is decided at compile time from constants and
array ranks (`ndim(x) == 2`); when it cannot be decided, the last `else`
branch is used, so that branch must be right for every input.
"""

from __future__ import annotations

import builtins
import copy
import inspect
import textwrap
import types
from collections.abc import Mapping

import gast
import numpy

from .. import runtime
from ..ir import Method
from ..errors import SourcegradError


class _Adjoints:
    """`d` in a rule: `d[x]` is the gradient of x. Rules are never executed, so it is never indexed."""

    def __getitem__(self, key):
        raise RuntimeError("gradient rules are templates: they are parsed by sourcegrad, never run")

    __setitem__ = __getitem__


d = _Adjoints()


def ndim(value):  # pragma: no cover - resolved at compile time inside rules
    """In a rule's `if`, the rank of a value, known at compile time from the call's argument ranks."""
    raise RuntimeError("ndim() is only meaningful inside a gradient rule")


class Primitive:
    """Everything sourcegrad knows about one primitive (a numpy function, an operator, an array method or
    attribute, a runtime helper, a user's function with a rule), in one record that every stage reads:

    rule, tangent: its gradient rule and its forward-mode (tangent) rule, each a Template, or None.
    nondifferentiable: why its result carries no gradient (a zero gradient, not a missing rule), or None.
    result: what its result may share memory with. "new array": nothing, it is always an array (or scalar) of
        its own, never an argument, a view of one, or an array something else holds (ufuncs are, without
        saying); "view of first argument": its first argument, a view of it, or a new array, never another
        argument (np.reshape); None: any argument, or a view of one, as the analyses assume of what they
        do not know. (What decides whether a user's `h += b` may run in place, whether a gradient may be
        added into in place, and which arrays the `_into` variant may keep.)
    list_result: it returns a list of arrays (np.split): unpacking it gives each part, and its gradient is the
        list of the parts' gradients.
    takes_out: it writes its result into an array passed as `out=`, one whose shape and dtype follow from the
        arguments' shapes and dtypes alone (ufuncs with one output and no core signature do, without saying).
        The `_into` variant's buffer slots are such calls.
    rank: how its result's rank follows from its arguments' ranks, where the shape analysis knows it:
        "elementwise" (the largest operand rank; ufuncs with one output and no core signature are, without
        saying), "reduction" (x's rank less the axes taken away), "product" (np.dot's rule), "batched product"
        (matmul's), "first argument" (x's rank), "reshape" (the length of the shape given), "stack" (one more
        than the rank its listed arrays share), "join" (the rank they share: np.concatenate), "array" (np.array
        of a written-out list: one more than its items' shared rank; of an array: that array's), "vector" (1: np.ravel).
    shape: how its result's shape and dtype follow: "arguments" (from its arguments' shapes and dtypes alone;
        whatever takes out= does), "constants" (from its first argument's shape and dtype and the values of
        the others, which must then be written-out constants: `x.sum(axis=0)`), or None (from values too).
    reads_shape_of: the position of an argument it reads only for its shape (unbroadcast's target): the tape
        keeps that argument's shape alone when nothing else reads it.
    """

    __slots__ = ("rule", "tangent", "nondifferentiable", "result", "list_result", "takes_out", "rank", "shape",
                 "reads_shape_of")

    def __init__(self, primitive=None):
        ufunc = isinstance(primitive, numpy.ufunc) and primitive.nout == 1 and primitive.signature is None
        self.rule = self.tangent = self.nondifferentiable = None
        self.result = "new array" if isinstance(primitive, numpy.ufunc) else None
        self.list_result = False
        self.takes_out = ufunc
        self.rank = "elementwise" if ufunc else None
        self.shape = "arguments" if ufunc else None
        self.reads_shape_of = None

    def __repr__(self):
        facts = {name: getattr(self, name) for name in self.__slots__ if getattr(self, name) not in (None, False)}
        return f"Primitive({', '.join(f'{k}={v!r}' for k, v in facts.items())})"


PRIMITIVES = {}  # primitive -> Primitive: the one record of what sourcegrad knows about each
_NOTHING_KNOWN = Primitive()  # what a primitive nobody described is taken to be: nothing known, so nothing assumed
VERSION = [0]  # bumped whenever a rule is registered or replaced: compiled gradients check it
_ON_CHANGE = []  # what forgets the compiled gradients a changed rule leaves stale (the API's tables)


def on_change(forget):
    """Have forget() called whenever a rule is registered, replaced or taken away."""
    _ON_CHANGE.append(forget)


def rules_changed():
    """A rule was registered, replaced or taken away: bump the version and have the compiled gradients forgotten."""
    VERSION[0] += 1
    for forget in _ON_CHANGE:
        forget()


# Array methods and attributes, by name: `x.sum(...)` is np.sum(x, ...), whose record it shares.
METHODS = {}
COPYING_METHODS = set()  # methods that always return a new array, though their primitive may return a view
ATTRIBUTES = {}
RESULTS = ("new array", "view of first argument")
RANK_RULES = ("elementwise", "reduction", "product", "batched product", "first argument", "reshape", "stack", "join",
              "array", "vector")
SHAPES = ("arguments", "constants")


def record(primitive) -> Primitive:
    """primitive's record (read it, do not change it: `describe` does), a ufunc's made from what it is when
    it has none, and an empty one for a primitive nobody described or an unhashable callable."""
    try:
        found = PRIMITIVES.get(primitive)
    except TypeError:  # an unhashable callable
        return _NOTHING_KNOWN
    if found is not None:
        return found
    return Primitive(primitive) if isinstance(primitive, numpy.ufunc) else _NOTHING_KNOWN


def _entry(primitive) -> Primitive:
    entry = PRIMITIVES.get(primitive)
    if entry is None:
        entry = PRIMITIVES[primitive] = Primitive(primitive)
    return entry


def describe(*primitives, result=None, list_result=False, out=False, rank=None, shape=None, reads_shape_of=None):
    """Record facts about primitives (Primitive's fields) without touching their rules: calls that make new
    arrays (np.zeros), runtime helpers the generated code calls (unbroadcast). Facts given add to a record;
    out=True also records shape="arguments" (what takes out= has), unless shape= says otherwise."""
    for value, allowed, name in ((result, RESULTS, "result"), (rank, RANK_RULES, "rank"), (shape, SHAPES, "shape")):
        if value is not None and value not in allowed:
            raise ValueError(f"{name}={value!r}: one of {', '.join(allowed)}")
    for primitive in primitives:
        entry = _entry(primitive)
        if result is not None:
            entry.result = result
        if list_result:
            entry.list_result = True
        if out:
            entry.takes_out = True
            entry.shape = "arguments"
        if rank is not None:
            entry.rank = rank
        if shape is not None:
            entry.shape = shape
        if reads_shape_of is not None:
            entry.reads_shape_of = reads_shape_of


def set_rule(primitive, template, tangent=False):
    """Make template primitive's gradient rule (its tangent rule with tangent=True); None takes the rule away.
    A gradient rule replaces a non-differentiable mark."""
    entry = _entry(primitive)
    if tangent:
        entry.tangent = template
    else:
        entry.rule = template
        if template is not None:
            entry.nondifferentiable = None
    rules_changed()


class _RecordField(Mapping):
    """The primitives whose records have one field set, as a read-only mapping primitive -> that field: what
    `primitive in RULES` and `RULES.get(primitive)` read. Change records through set_rule and describe."""

    def __init__(self, field):
        self.field = field

    def __getitem__(self, primitive):
        value = getattr(record(primitive), self.field)
        if value is None:
            raise KeyError(primitive)
        return value

    def __iter__(self):
        return (p for p, entry in list(PRIMITIVES.items()) if getattr(entry, self.field) is not None)

    def __len__(self):
        return sum(1 for _ in self)


RULES = _RecordField("rule")  # primitive -> Template of its gradient rule
TANGENT_RULES = _RecordField("tangent")  # primitive -> Template of its forward-mode (tangent) rule
NONDIFFERENTIABLE = _RecordField("nondifferentiable")  # primitive -> why its result carries no gradient


def adjoint(*primitives, aliases=None, new_array=False, list_result=False, out=False, rank=None, result=None,
            shape=None, zero_gradient=()):
    """Register the decorated template as the gradient rule of each primitive, and record what else is known
    of it (Primitive's fields): new_array is result="new array"; result="view of first argument"; list_result;
    out (it takes out=); rank; shape.

    aliases maps other keyword spellings numpy accepts to the rule's parameter names (np.clip takes `min=` for
    `a_min=`). zero_gradient: parameters the result does not change with where it is differentiable, read
    for their shape alone (broadcast_like's `like`) or to select elements (which element max_jvp takes):
    their gradient is zero, not missing, when they carry one.
    """

    def register(template_fn):
        template = Template(template_fn, aliases)
        template.zero_gradient = tuple(zero_gradient)
        describe(*primitives, result="new array" if new_array else result, list_result=list_result, out=out,
                 rank=rank, shape=shape)
        for primitive in primitives:
            set_rule(primitive, template)
        return template_fn

    return register


def tangent(*primitives, aliases=None, broadcasts=False, zero_gradient=()):
    """Register the decorated template as the forward-mode rule of each primitive:

        @tangent(np.sin)
        def sin(result, x):
            d[result] = d[x] * np.cos(x)

    Here `d[x]` is the tangent of x. Each `d[result] = ...` line is one input's contribution, reading that
    input's tangent and no other: an input without a tangent drops its line, and the lines kept are added.
    broadcasts: the result has the operands' broadcast shape, which one contribution alone may not reach
    (`d[x]` for `x + y`); the sum is then stretched to the result's shape when a contribution was dropped.
    zero_gradient: as adjoint's, parameters whose tangent moves nothing (np.full_like's `a`, read for its shape).
    """

    def register(template_fn):
        template = Template(template_fn, aliases, forward=True, broadcasts=broadcasts)
        template.zero_gradient = tuple(zero_gradient)
        for primitive in primitives:
            set_rule(primitive, template, tangent=True)
        return template_fn

    return register


def makes_new_arrays(*functions):
    """Record functions without a rule of their own (np.zeros, runtime helpers) as returning new arrays."""
    describe(*functions, result="new array")


def returns_new_array(function, keywords=(), positional=0) -> bool:
    """Whether a call of function with these keyword names and this many positional arguments surely returns
    a new array: `out` writes into the caller's array, `copy=False` may return the argument itself, each
    given by keyword or by position (`np.cumsum(x, 0, None, o)`, `np.nan_to_num(h, False)`)."""
    if record(function).result != "new array" or "out" in keywords or "copy" in keywords:
        return False
    return not _out_or_copy_by_position(function, positional)


def _out_or_copy_by_position(function, positional):
    """Whether the first `positional` parameters of function reach its `out` or `copy` parameter (as its gradient
    rule names them, else as its own signature does; a ufunc's outputs follow its inputs)."""
    if positional == 0:
        return False
    if isinstance(function, numpy.ufunc):
        return positional > function.nin
    template = RULES.get(function)
    try:
        names = template.parameters() if template is not None else list(inspect.signature(function).parameters)
    except (TypeError, ValueError):  # a builtin without a signature
        return False
    return bool({"out", "copy"} & set(names[:positional]))


def backend_function(name):
    """What `xp.<name>` in generated code calls: a runtime helper, else numpy's function of that name."""
    return runtime.HELPERS.get(name) or getattr(numpy, name, None)


def method_primitive(name, is_call=True):
    """The primitive whose record an array method (`x.sum(...)`) or attribute (`x.T`) shares, or None."""
    if is_call:
        entry = METHODS.get(name)
        return entry[0] if entry is not None else None
    return ATTRIBUTES.get(name)


def method_returns_new_array(name, keywords=(), positional=0) -> bool:
    """The same for an array method, `x.sum(axis=1)`: that of the function whose rule it shares, the array
    counted among the positional arguments (it is the function's first)."""
    primitive = method_primitive(name)
    return primitive is not None and (name in COPYING_METHODS or returns_new_array(primitive, keywords, positional))


def nondifferentiable(*primitives, why="its result carries no gradient", rank=None):
    for primitive in primitives:
        entry = _entry(primitive)
        entry.nondifferentiable = why
        entry.rule = None
    describe(*primitives, rank=rank)
    rules_changed()


def method(name, primitive, pack_varargs=False, new_array=False):
    """`x.name(...)` uses the rule of primitive(x, ...); pack_varargs turns `x.reshape(2, 3)` into (2, 3).
    new_array: the method always copies, where the primitive may return a view (`x.flatten()`, np.ravel)."""
    METHODS[name] = (primitive, pack_varargs)
    if new_array:
        COPYING_METHODS.add(name)


def attribute(name, primitive):
    ATTRIBUTES[name] = primitive


class TemplateError(SourcegradError):
    """A mistake in a gradient rule itself (a bug in sourcegrad or in a user's @adjoint)."""


class Template:
    def __init__(self, fn, aliases=None, forward=False, broadcasts=False):
        self.fn = fn
        self.aliases = dict(aliases or {})
        self.forward = forward  # a tangent rule: `d[result] = <one input's contribution>`
        self.broadcasts = broadcasts
        self.zero_gradient = ()
        self.name = fn.__name__
        self.by_user = False  # registered with sourcegrad.adjoint: the call path checks its gradients' shapes
        self._parsed = None

    # ---- parsing --------------------------------------------------------------

    def _parse(self):
        if self._parsed is None:
            source = textwrap.dedent(inspect.getsource(self.fn))
            tree = gast.parse(source).body[0]
            signature = inspect.signature(self.fn)
            params = list(signature.parameters.values())
            if not params:
                raise TemplateError(f"rule {self.name} needs a first parameter naming the result")
            self.result = params[0].name
            self.signature = signature.replace(parameters=params[1:])
            self._check(tree.body)
            self._parsed = tree.body
        return self._parsed

    def _check(self, statements):
        for stmt in statements:
            if isinstance(stmt, gast.Expr) and isinstance(stmt.value, gast.Constant):
                continue  # a docstring
            if isinstance(stmt, gast.If):
                self._check(stmt.body)
                self._check(stmt.orelse)
                continue
            target = stmt.targets[0] if isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 else None
            if self.forward:
                self._check_contribution(stmt, target)
                continue
            if not (isinstance(target, gast.Subscript) and isinstance(target.value, gast.Name) and target.value.id == "d"
                    and isinstance(target.slice, gast.Name)):
                raise TemplateError(f"gradient rule {self.name}, line {getattr(stmt, 'lineno', '?')}: a rule's body may only "
                                    "hold `d[param] = expression` and `if` statements")
            if target.slice.id not in self.signature.parameters:
                raise TemplateError(f"gradient rule {self.name}: d[{target.slice.id}] is not a parameter of the rule")

    def _check_contribution(self, stmt, target):
        if not (_is_derivative(target) and target.slice.id == self.result):
            raise TemplateError(f"tangent rule {self.name}, line {getattr(stmt, 'lineno', '?')}: a tangent rule's body "
                                f"may only hold `d[{self.result}] = expression` and `if` statements")
        read = tangents_read(stmt.value)
        if len(read) != 1 or read[0] not in self.signature.parameters:
            raise TemplateError(f"tangent rule {self.name}, line {getattr(stmt, 'lineno', '?')}: each line is one "
                                "input's contribution and reads the tangent of exactly one parameter, d[param]")

    def parameters(self):
        self._parse()
        return list(self.signature.parameters)

    def source(self):
        return textwrap.dedent(inspect.getsource(self.fn))

    def adopt_defaults(self, signature):
        """Take the primal's defaults (numbers, strings, None) for the rule's parameters that have none, so that
        a call leaving one out (`scaled(x)` of `def scaled(x, a=2.0)`) binds to the rule as it binds to the
        function."""
        self._parse()
        parameters = []
        for parameter in self.signature.parameters.values():
            primal = signature.parameters.get(parameter.name)
            if parameter.default is inspect.Parameter.empty and primal is not None \
                    and (primal.default is None or type(primal.default) in (int, float, bool, str)):
                parameter = parameter.replace(default=primal.default)
            parameters.append(parameter)
        try:
            self.signature = self.signature.replace(parameters=parameters)
        except ValueError:  # a parameter without a default after one with: the rule stays as written
            pass

    def bind(self, args, kwargs):
        """Bind a call's atoms to the rule's parameters, as Python would; None if they do not fit."""
        self._parse()
        kwargs = {self.aliases.get(k, k): v for k, v in kwargs.items()}
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError:
            return None
        values = {}
        for param in self.signature.parameters.values():
            if param.name in bound.arguments:
                values[param.name] = bound.arguments[param.name]
            elif param.default is not inspect.Parameter.empty:
                values[param.name] = gast.Constant(value=param.default, kind=None)
        return values

    # ---- instantiation --------------------------------------------------------

    def instantiate(self, bindings, result, adjoint_name, ranks, backend):
        """The rule's `d[param] = expr` pairs for this call, decided and substituted.

        bindings: parameter name -> atom; result: the primal result's name;
        adjoint_name(name) -> the name of d[name]; ranks: name -> static rank or None;
        backend: the name the generated code calls the array module by.
        A tangent rule gives (param, contribution) pairs instead, param the input whose tangent the
        contribution reads, and adjoint_name(atom) -> the expression of that atom's tangent.
        """
        body = self._parse()
        context = _Context(self, bindings, result, adjoint_name, ranks, backend)
        contributions = []
        context.collect(body, contributions)
        return contributions


_UNKNOWN = object()


class _Context:
    def __init__(self, template, bindings, result, adjoint_name, ranks, backend):
        self.template = template
        self.bindings = bindings
        self.result = result
        self.adjoint_name = adjoint_name
        self.ranks = ranks
        self.backend = backend
        self.globals = template.fn.__globals__

    def fail(self, node, message):
        return TemplateError(f"in gradient rule {self.template.name}, line {getattr(node, 'lineno', '?')}: {message}")

    def collect(self, statements, out):
        for stmt in statements:
            if isinstance(stmt, gast.Expr) and isinstance(stmt.value, gast.Constant):
                continue  # docstring
            if isinstance(stmt, gast.If):
                self.collect(self.decide(stmt), out)
            elif self.template.forward:
                param = tangents_read(stmt.value)[0]
                if param in self.bindings:  # a parameter left at no default (numpy's `out=None`) has no tangent
                    out.append((param, self.substitute(stmt.value)))
            elif isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 and self._is_adjoint(stmt.targets[0]):
                param = stmt.targets[0].slice.id
                if param not in self.bindings:
                    raise self.fail(stmt, f"d[{param}] is not a parameter of the rule")
                out.append((param, self.substitute(stmt.value)))
            else:
                raise self.fail(stmt, "a rule's body may only hold `d[param] = expression` and `if` statements")

    def decide(self, stmt):
        """The branch of a compile-time `if`; the final else when the test cannot be decided now."""
        node = stmt
        while True:
            value = self.evaluate(node.test)
            if value is _UNKNOWN:
                while len(node.orelse) == 1 and isinstance(node.orelse[0], gast.If):
                    node = node.orelse[0]
                if not node.orelse:
                    raise self.fail(stmt, "an `if` that cannot always be decided at compile time needs an `else` that is right for every input")
                return node.orelse
            if value:
                return node.body
            if len(node.orelse) == 1 and isinstance(node.orelse[0], gast.If):
                node = node.orelse[0]
                continue
            return node.orelse

    def evaluate(self, expr):
        """A compile-time value, or _UNKNOWN."""
        if isinstance(expr, gast.Constant):
            return expr.value
        if isinstance(expr, gast.Name):
            atom = self.bindings.get(expr.id)
            if isinstance(atom, gast.Constant):
                return atom.value
            if isinstance(atom, gast.Tuple) and all(isinstance(e, gast.Constant) for e in atom.elts):
                return tuple(e.value for e in atom.elts)
            return _UNKNOWN
        if isinstance(expr, gast.Call) and isinstance(expr.func, gast.Name) and expr.func.id == "ndim" and len(expr.args) == 1:
            arg = expr.args[0]
            atom = self.bindings.get(arg.id) if isinstance(arg, gast.Name) else None
            if isinstance(atom, gast.Constant) and isinstance(atom.value, (int, float, complex)):
                return 0
            if isinstance(atom, gast.Name):
                rank = self.ranks.get(atom.id)
                return _UNKNOWN if rank is None else rank
            return _UNKNOWN
        if isinstance(expr, gast.BoolOp):
            values = [self.evaluate(v) for v in expr.values]
            is_and = isinstance(expr.op, gast.And)
            # A decided operand can settle the whole expression even when another is unknown.
            if any(v is not _UNKNOWN and (not v if is_and else v) for v in values):
                return not is_and
            return _UNKNOWN if any(v is _UNKNOWN for v in values) else is_and
        if isinstance(expr, gast.UnaryOp) and isinstance(expr.op, gast.Not):
            value = self.evaluate(expr.operand)
            return _UNKNOWN if value is _UNKNOWN else not value
        if isinstance(expr, gast.Compare) and len(expr.ops) == 1:
            if isinstance(expr.ops[0], (gast.Is, gast.IsNot)) and self._is_array(expr.left):
                # an array or a number is never None: `a_min is None` is decided even for a variable bound
                return isinstance(expr.ops[0], gast.IsNot)
            left, right = self.evaluate(expr.left), self.evaluate(expr.comparators[0])
            if left is _UNKNOWN or right is _UNKNOWN:
                return _UNKNOWN
            op = type(expr.ops[0])
            compare = {gast.Is: lambda a, b: a is b, gast.IsNot: lambda a, b: a is not b, gast.Eq: lambda a, b: a == b,
                       gast.NotEq: lambda a, b: a != b, gast.Lt: lambda a, b: a < b, gast.LtE: lambda a, b: a <= b,
                       gast.Gt: lambda a, b: a > b, gast.GtE: lambda a, b: a >= b}
            return compare[op](left, right)
        raise self.fail(expr, "a rule's `if` may only test constants, `is None` and ndim(...)")

    def _is_array(self, expr):
        """Whether a rule parameter is bound to a value of known rank (so surely not None)."""
        atom = self.bindings.get(expr.id) if isinstance(expr, gast.Name) else None
        return isinstance(atom, gast.Name) and self.ranks.get(atom.id) is not None

    def _is_adjoint(self, node):
        return _is_derivative(node)

    def substitute(self, expr):
        expr = copy.deepcopy(expr)
        return _Substituter(self).visit(expr)


class _Substituter(gast.NodeTransformer):
    def __init__(self, context):
        self.context = context

    def visit_Subscript(self, node):
        if self.context._is_adjoint(node) and self.context.template.forward:
            if node.slice.id == self.context.template.result:
                raise self.context.fail(node, "a tangent rule may not read d[result]")
            return self.context.adjoint_name(self.context.bindings[node.slice.id])
        if self.context._is_adjoint(node):
            key = node.slice.id
            if key == self.context.template.result:
                return _name(self.context.adjoint_name(self.context.result))
            raise self.context.fail(node, "a rule may read only d[result]")
        self.generic_visit(node)
        return node

    def visit_Name(self, node):
        ctx = self.context
        if node.id == ctx.template.result:
            return _name(ctx.result)
        if node.id in ctx.bindings:
            return copy.deepcopy(ctx.bindings[node.id])
        value = ctx.globals.get(node.id, _MISSING)
        if value is _MISSING and hasattr(builtins, node.id):
            return node
        if isinstance(value, types.FunctionType) and runtime.HELPERS.get(node.id) is value:
            return _attribute(_name(ctx.backend), node.id)
        if value is numpy:
            return _name(ctx.backend)
        raise ctx.fail(node, f"the name {node.id!r} is neither a parameter, numpy, nor a sourcegrad.runtime helper")


_MISSING = object()


def _is_derivative(node):
    """`d[name]` in a rule."""
    return (isinstance(node, gast.Subscript) and isinstance(node.value, gast.Name) and node.value.id == "d"
            and isinstance(node.slice, gast.Name))


def tangents_read(expr):
    """The parameters whose `d[...]` an expression of a tangent rule reads, in order, each once."""
    read = []
    for node in gast.walk(expr):
        if _is_derivative(node) and node.slice.id not in read:
            read.append(node.slice.id)
    return read


def _name(identifier):
    return gast.Name(id=identifier, ctx=gast.Load(), annotation=None, type_comment=None)


def _attribute(value, attr):
    return gast.Attribute(value=value, attr=attr, ctx=gast.Load())


def lookup(primitive, args, kwargs, rules=None):
    """(template, args, kwargs) for a normal-form operation, or (None, ...) when no rule exists.

    Methods and attributes are resolved here to the function whose rule they share. rules: the table to
    look in, RULES (gradients) by default, or TANGENT_RULES.
    """
    if isinstance(primitive, Method):
        if primitive.is_call:
            entry = METHODS.get(primitive.name)
            if entry is None:
                return None, args, kwargs
            target, pack = entry
            if pack and len(args) > 2:
                args = (args[0], gast.Tuple(elts=list(args[1:]), ctx=gast.Load()))
            primitive = target
        else:
            if primitive.name not in ATTRIBUTES:
                return None, args, kwargs
            primitive = ATTRIBUTES[primitive.name]
    return (RULES if rules is None else rules).get(primitive), args, kwargs


def helpers_without_gradient(template) -> list:
    """The runtime helpers a tangent rule calls (on any of its branches) that have no gradient rule and are not
    marked non-differentiable, by name: hvp differentiates tangent lines, and refuses a line that calls one."""
    helpers = set(runtime.HELPERS.values())
    missing = set()
    for node in gast.walk(gast.Module(body=template._parse(), type_ignores=[])):
        if isinstance(node, gast.Call) and isinstance(node.func, gast.Name):
            function = template.fn.__globals__.get(node.func.id)
            if function in helpers and function not in RULES and not is_nondifferentiable(function):
                missing.add(node.func.id)
    return sorted(missing)


def is_nondifferentiable(primitive) -> bool:
    return record(primitive).nondifferentiable is not None
