"""The `_into` variant of a generated function: the same code, writing its arrays into buffers and the
gradients into the caller's arrays.

A training loop calls one gradient thousands of times with arrays of the same shapes. Every call of the
plain function allocates its temporaries afresh; a caller who passes into= asks for them to be kept instead
(benchmarks/README.md has what that saves, and when). This pass writes that variant, printed into a file
of its own when a call first passes into=: each top-level operation that makes a new array and can take
`out=` (an arithmetic operator, a comparison, a ufunc, `dot`, `matmul`) writes into `buffers.<name>`:

    h = buffers.h = xp.matmul(x, w1, out=buffers.h)    # a temporary: kept for the next call
    d_w1 = xp.matmul(x.T, d_h, out=into[0])            # a gradient: the caller's array (into=), or a new one

On a call with fresh buffers every `out=` is None and the arrays made are kept; later calls write into
them. That is sound only when they have the same shapes and dtypes as last time, so the runtime keys the
buffers on the arguments' types, shapes and dtypes, and this pass rewrites only operations whose operands'
shapes follow from those alone (not from values: `x[x > 0]` has a shape the data decides). A value that may
reach the caller (the result, a gradient, a view of one, anything stored in an argument) is never kept:
what sourcegrad hands out is never overwritten by a later call. Statements inside loops and branches keep
their own arrays (one per iteration, for the tape).
"""

from __future__ import annotations

import ast
import copy

import numpy

from ..templates.registry import backend_function, method_returns_new_array, returns_new_array


_OPERATORS = {ast.Add: "add", ast.Sub: "subtract", ast.Mult: "multiply", ast.Div: "divide",
              ast.FloorDiv: "floor_divide", ast.Mod: "remainder", ast.Pow: "power", ast.MatMult: "matmul"}
_COMPARISONS = {ast.Eq: "equal", ast.NotEq: "not_equal", ast.Lt: "less", ast.LtE: "less_equal", ast.Gt: "greater",
                ast.GtE: "greater_equal"}
_UNARY = {ast.USub: "negative", ast.UAdd: "positive"}
_MATRIX_PRODUCTS = ("dot", "matmul")
# Calls whose result's shape follows from their arguments' shapes (besides ufuncs and matrix products).
_SHAPE_FOLLOWS = ("unbroadcast", "output_gradient")
_SHAPE_ATTRIBUTES = ("T", "shape", "ndim", "dtype", "size")
# Methods whose result's shape follows from the array's shape and their arguments' values: those must be
# written-out constants (`x.sum(axis=0)`), since the buffers are keyed on shapes, not on argument values.
_SHAPE_METHODS = ("sum", "mean", "prod", "max", "min", "std", "var", "copy", "astype")


def buffered_function(definition: ast.FunctionDef, rank_of, backend, buffers="buffers", into="into"):
    """(the `_into` FunctionDef, the names of the temporaries it keeps, the positions of the gradients it
    writes into `into`), or None when no statement can write into a buffer. rank_of(name) is a value's
    static rank, None if unknown. The function takes `buffers` and `into` (one array or None per
    gradient) after the array module, under the names given (names the code does not use otherwise).
    """
    function = copy.deepcopy(definition)
    body = function.body
    params = [a.arg for a in function.args.args + function.args.kwonlyargs]
    escaping = _escaping(body, params, rank_of, backend)
    returned = body[-1].value  # codegen ends the function with `return (value, (gradient, ...))`
    value_names = _aliased(returned.elts[0], rank_of, backend)
    gradient_names = [g.id if isinstance(g, ast.Name) else None for g in returned.elts[1].elts]
    gradients = {name for name in gradient_names if name is not None and gradient_names.count(name) == 1} - value_names
    stable = set(params)  # values whose shapes (and dtypes) follow from the arguments' alone
    temporaries, gradient_buffers, slotted = [], [], set()
    for index, stmt in enumerate(body):
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)):
            if isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
                if not _stable(stmt.value, stable, backend):
                    stable.discard(stmt.target.id)
            else:
                stable -= _bound(stmt)
            continue
        target, value = stmt.targets[0].id, stmt.value
        if not _stable(value, stable, backend):
            stable.discard(target)
            continue
        stable.add(target)
        rank = rank_of(target)
        call = _with_out(value, backend, rank_of)
        if call is None or not isinstance(rank, int) or rank < 1:
            continue
        if target in escaping and target not in gradients:
            continue
        if target in slotted:  # one buffer per name: a second site may make another shape
            continue
        slotted.add(target)
        targets = [ast.Name(id=target, ctx=ast.Store())]
        if target in escaping:
            position = gradient_names.index(target)
            slot = ast.Subscript(value=ast.Name(id=into, ctx=ast.Load()), slice=ast.Constant(value=position), ctx=ast.Load())
            gradient_buffers.append(position)
        else:
            slot = ast.Attribute(value=ast.Name(id=buffers, ctx=ast.Load()), attr=target, ctx=ast.Load())
            targets.append(ast.Attribute(value=ast.Name(id=buffers, ctx=ast.Load()), attr=target, ctx=ast.Store()))
            temporaries.append(target)
        call.keywords.append(ast.keyword(arg="out", value=slot))
        body[index] = ast.Assign(targets=targets, value=call)
    if not temporaries and not gradient_buffers:
        return None
    function.name = f"{definition.name}_into"
    function.args.args[1:1] = [ast.arg(arg=buffers), ast.arg(arg=into)]
    return function, temporaries, gradient_buffers


def _with_out(value, backend, rank_of):
    """value as a call that takes `out=` (`a * b` -> `xp.multiply(a, b)`), or None. A product of matrices
    or vectors, `a.dot(b)`, becomes `xp.matmul(a, b)`: numpy's matmul takes less time than its dot when an
    operand is transposed (`x.T.dot(d_h)`, a weight's gradient; figures in benchmarks/README.md); for larger
    ranks the two differ, and it stays `xp.dot`."""
    def module_call(name, args):
        return ast.Call(func=ast.Attribute(value=ast.Name(id=backend, ctx=ast.Load()), attr=name, ctx=ast.Load()),
                        args=args, keywords=[])

    if isinstance(value, ast.BinOp) and type(value.op) in _OPERATORS:
        return module_call(_OPERATORS[type(value.op)], [value.left, value.right])
    if isinstance(value, ast.Compare) and len(value.ops) == 1 and type(value.ops[0]) in _COMPARISONS:
        return module_call(_COMPARISONS[type(value.ops[0])], [value.left, value.comparators[0]])
    if isinstance(value, ast.UnaryOp) and type(value.op) in _UNARY:
        return module_call(_UNARY[type(value.op)], [value.operand])
    if not isinstance(value, ast.Call) or any(k.arg in ("out", None) for k in value.keywords):
        return None
    if any(isinstance(a, ast.Starred) for a in value.args):
        return None
    if _is_module_call(value, backend) and (_is_ufunc(value.func.attr) or value.func.attr in _MATRIX_PRODUCTS):
        return value
    if (isinstance(value.func, ast.Attribute) and value.func.attr == "dot" and len(value.args) == 1
            and not value.keywords):  # a.dot(b)
        operands = [value.func.value, value.args[0]]
        matrices = all(_operand_rank(operand, rank_of) in (1, 2) for operand in operands)
        return module_call("matmul" if matrices else "dot", operands)
    return None


def _operand_rank(expr, rank_of):
    """The static rank of `a` or `a.T`, else None."""
    if isinstance(expr, ast.Attribute) and expr.attr == "T":
        expr = expr.value
    return rank_of(expr.id) if isinstance(expr, ast.Name) else None


def _stable(expr, stable, backend):
    """Whether expr's shape and dtype follow from the shapes and dtypes of the names in `stable`."""
    if isinstance(expr, ast.Name):
        return expr.id in stable
    if isinstance(expr, ast.Constant):
        return True
    if isinstance(expr, ast.Attribute):
        if isinstance(expr.value, ast.Name) and expr.value.id == backend:
            return True  # xp.newaxis, xp.float32
        return expr.attr in _SHAPE_ATTRIBUTES and _stable(expr.value, stable, backend)
    if isinstance(expr, ast.BinOp):
        return _stable(expr.left, stable, backend) and _stable(expr.right, stable, backend)
    if isinstance(expr, ast.UnaryOp):
        return _stable(expr.operand, stable, backend)
    if isinstance(expr, ast.Compare):
        return all(_stable(e, stable, backend) for e in [expr.left] + expr.comparators)
    if isinstance(expr, ast.Call):
        if any(isinstance(a, ast.Starred) for a in expr.args) or any(k.arg is None for k in expr.keywords):
            return False
        operands = list(expr.args) + [k.value for k in expr.keywords]
        if _is_module_call(expr, backend):
            known = _is_ufunc(expr.func.attr) or expr.func.attr in _MATRIX_PRODUCTS + _SHAPE_FOLLOWS
            return known and all(_stable(a, stable, backend) for a in operands)
        if isinstance(expr.func, ast.Attribute) and expr.func.attr == "dot":
            return _stable(expr.func.value, stable, backend) and all(_stable(a, stable, backend) for a in operands)
        if isinstance(expr.func, ast.Attribute) and expr.func.attr in _SHAPE_METHODS:
            return _stable(expr.func.value, stable, backend) and all(map(_constant, operands))
    return False


def _constant(expr):
    if isinstance(expr, ast.Tuple):
        return all(map(_constant, expr.elts))
    return isinstance(expr, ast.Constant)


def _escaping(body, params, rank_of, backend):
    """Names whose arrays may reach the caller: returned, stored in an argument, or aliased by one of those."""
    escaping = set(params) - {backend}  # the array module is read, never stored into
    for stmt in body:
        if isinstance(stmt, ast.Return) and stmt.value is not None:
            escaping |= _aliased(stmt.value, rank_of, backend)
        escaping |= _passed_to_foreign_code(stmt, rank_of, backend)
    changed = True
    while changed:
        changed = False
        for stmt in reversed(body):
            before = len(escaping)
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                target = stmt.targets[0].id
                if target in escaping and not _makes_new_array(stmt.value, rank_of(target), rank_of, backend):
                    escaping |= _aliased(stmt.value, rank_of, backend)
            elif isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
                rank = rank_of(stmt.target.id)
                if stmt.target.id in escaping and not (isinstance(rank, int) and rank >= 1):
                    escaping |= _aliased(stmt.value, rank_of, backend)  # `s += e` rebinds a scalar (or extends a list)
            elif not isinstance(stmt, ast.Return):
                # a loop, a branch, an unpacking, a call for its effect: if it binds a name that escapes, or
                # may store into one (`params.append(h)`, `out[i] = h`), everything it touches may escape
                names = {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name)}
                if (_bound(stmt) | _stored_into(stmt, backend)) & escaping:
                    escaping |= names
            changed |= len(escaping) != before
    return escaping


# Builtins that read their arguments and keep none of them.
_READ_ONLY_BUILTINS = frozenset({"len", "range", "enumerate", "zip", "reversed", "print", "float", "int", "bool",
                                 "complex", "abs", "min", "max", "round", "isinstance", "divmod"})


def _passed_to_foreign_code(stmt, rank_of, backend):
    """Names handed to code that may keep them: a function of the user's run as it is (a logger, a
    @nondifferentiable helper), a method of an object that is not an array. numpy's functions, sourcegrad's
    helpers, an array's methods and a few builtins keep nothing."""
    names = set()
    for node in ast.walk(stmt):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in _READ_ONLY_BUILTINS:
            continue
        if _is_module_call(node, backend):
            continue
        if isinstance(func, ast.Attribute):
            base = func.value
            while isinstance(base, (ast.Attribute, ast.Subscript)):
                base = base.value
            if isinstance(base, ast.Name) and base.id != backend and isinstance(rank_of(base.id), int):
                continue  # a method of an array (`h.sum()`, `h.T.dot(w)`)
        for argument in list(node.args) + [k.value for k in node.keywords]:
            names |= {n.id for n in ast.walk(argument) if isinstance(n, ast.Name)}
    return names - {backend}


def _makes_new_array(value, rank, rank_of, backend):
    return isinstance(rank, int) and rank >= 1 and (
        isinstance(value, (ast.BinOp, ast.UnaryOp, ast.Compare)) or _with_out(value, backend, rank_of) is not None
        or _is_new(value, rank_of, backend))


def _aliased(expr, rank_of, backend):
    """Names whose arrays expr's value may be, hold, or view."""
    if isinstance(expr, ast.Name):
        return {expr.id}
    if isinstance(expr, (ast.Tuple, ast.List)):
        return set().union(*[_aliased(e, rank_of, backend) for e in expr.elts])
    if _is_new(expr, rank_of, backend):
        return set()
    return {n.id for n in ast.walk(expr) if isinstance(n, ast.Name)}


def _is_new(expr, rank_of, backend):
    """Whether expr surely makes a new array or scalar: `xp.copy(d)`, or a reduction or copy of an array
    (not of a list: `items.copy()` holds the same arrays)."""
    if not isinstance(expr, ast.Call) or not isinstance(expr.func, ast.Attribute):
        return False
    keywords = [k.arg for k in expr.keywords]
    if _is_module_call(expr, backend):
        return returns_new_array(backend_function(expr.func.attr), keywords)
    receiver = expr.func.value
    return (method_returns_new_array(expr.func.attr, keywords) and isinstance(receiver, ast.Name)
            and isinstance(rank_of(receiver.id), int) and rank_of(receiver.id) >= 1)


def _stored_into(stmt, backend):
    """Names whose objects a statement may change: the receiver of a method call, the base of a
    subscript or attribute store."""
    names = set()
    for node in ast.walk(stmt):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            names |= {n.id for n in ast.walk(node.func.value) if isinstance(n, ast.Name)} - {backend}
        elif isinstance(node, (ast.Subscript, ast.Attribute)) and isinstance(node.ctx, ast.Store):
            names |= {n.id for n in ast.walk(node.value) if isinstance(n, ast.Name)}
    return names


def _bound(stmt):
    return {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def _is_module_call(call, backend):
    return (isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Name)
            and call.func.value.id == backend)


def _is_ufunc(name):
    ufunc = getattr(numpy, name, None)
    return isinstance(ufunc, numpy.ufunc) and ufunc.nout == 1 and ufunc.signature is None
