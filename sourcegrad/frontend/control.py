"""Put `break`, `continue` and `return` where the reverse pass can follow them.

After this rewrite every jump is the last statement of its branch, and nothing
follows a statement that may jump: the statements after it move into the
branches that do not jump (copied into each, when both may fall through).

    for x in xs:                    for x in xs:
        if x > 1:                       if x > 1:
            continue        ->              pass
        s = s + x                       else:
                                            s = s + x

So the path an iteration takes is told by its branch decisions alone, which
is what the reverse pass records. A `continue` at the end of a branch does
nothing and is dropped; a `break` stays; a `return` becomes an assignment to
the function's result, returned once at the end.
"""

from __future__ import annotations

import builtins
import collections
import copy

import gast

LOOP_JUMPS = (gast.Break, gast.Continue)


def always_jumps(block, kinds) -> bool:
    if not block:
        return False
    last = block[-1]
    if isinstance(last, kinds):
        return True
    return isinstance(last, gast.If) and always_jumps(last.body, kinds) and always_jumps(last.orelse, kinds)


def may_jump(block, kinds) -> bool:
    for stmt in block:
        if isinstance(stmt, kinds):
            return True
        if isinstance(stmt, gast.If) and (may_jump(stmt.body, kinds) or may_jump(stmt.orelse, kinds)):
            return True
    return False


def structured_body(body, taken=(), searches=()):
    """A copy of a function's body as the normaliser reads it: conditional expressions made `if` statements,
    comprehensions loops, returns only at the ends of paths. taken, searches: see lift_expressions."""
    return restructure_function(lift_expressions(copy.deepcopy(body), taken, searches))


def builtin_searches(resolver, assigned):
    """Of "any" and "all", those a function whose free names resolver resolves, and which assigns the names in
    assigned, calls Python's builtins by (structured_body's searches)."""
    return {name for name in ("any", "all")
            if name not in assigned and resolver.lookup(name) is getattr(builtins, name)}


def restructure_function(body):
    """The function body with returns only at the ends of paths (see the module docstring)."""
    return _block(body, (gast.Return,))


def _block(stmts, kinds):
    out = []
    for i, stmt in enumerate(stmts):
        if isinstance(stmt, kinds):
            out.append(stmt)
            return out  # what follows a jump never runs
        if isinstance(stmt, gast.If):
            rest = stmts[i + 1:]
            if rest and (may_jump(stmt.body, kinds) or may_jump(stmt.orelse, kinds)):
                # The rest runs only on the paths that do not jump: move it into those branches.
                body_jumps, orelse_jumps = always_jumps(stmt.body, kinds), always_jumps(stmt.orelse, kinds)
                stmt.body = stmt.body if body_jumps else stmt.body + copy.deepcopy(rest)
                stmt.orelse = stmt.orelse if orelse_jumps else stmt.orelse + rest
                stmt.body, stmt.orelse = _block(stmt.body, kinds), _block(stmt.orelse, kinds)
                out.append(stmt)
                return out
            stmt.body, stmt.orelse = _block(stmt.body, kinds), _block(stmt.orelse, kinds)
        elif isinstance(stmt, (gast.For, gast.While)):
            stmt.body = _drop_trailing_continues(_block(stmt.body, LOOP_JUMPS))
        out.append(stmt)
    return out


def _drop_trailing_continues(block):
    """A `continue` that ends a branch of the loop body does nothing once the rest sits in the other branch."""
    if block and isinstance(block[-1], gast.Continue):
        block = block[:-1]
    for stmt in block:
        if isinstance(stmt, gast.If):
            stmt.body = _drop_trailing_continues(stmt.body) or [gast.copy_location(gast.Pass(), stmt)]
            stmt.orelse = _drop_trailing_continues(stmt.orelse)
    return block


# ---- conditional expressions, comprehensions, unpacking loop targets -------------------------------------

def lift_expressions(body, taken=(), searches=()):
    """The body in forms the rest of the pipeline knows: every `a if c else b` an `if` statement, every list
    comprehension a loop that builds the list, and every loop target or assignment that unpacks into a nested
    tuple (`for w, b in layers`, `for i, (k, v) in enumerate(pairs)`) a name unpacked in the next statement.

        y = np.sum(x if s > 0 else -x)      if s > 0:
                                                chosen = x
                                   ->       else:
                                                chosen = -x
                                            y = np.sum(chosen)

        ys = [np.sin(v) for v in xs if v.sum() > 0]     ys = []
                                                        for v in xs:
                                           ->               if v.sum() > 0:
                                                                ys = ys + [np.sin(v)]

    An assignment or return of the conditional expression itself assigns (returns) in each branch, with no
    new name; an assignment of a comprehension builds the list in its target, unless the comprehension reads
    that name. Only the branch taken is computed, as in Python. A comprehension's variables are its own (Python
    3): each keeps its name where nothing else in the function has that name, and gets a new one otherwise.
    A `while` condition is left alone: the fence refuses a conditional expression or a comprehension there,
    since it would have to be computed again on every iteration.
    taken: names the new ones must not be (the function's parameters; a nested function's: every name of the
    function it is in).
    searches: of "any" and "all", those the function's names mean Python's builtins by: `any(<generator>)` is
    then a loop that stops at the first item that decides it, as the builtin does (`any(x[i] > 0 for i in
    range(n))` reads no x[i] after the first positive one).
    """
    written = [n.id for stmt in body for n in gast.walk(stmt) if isinstance(n, gast.Name)]
    return _lift_block(body, _Taken(set(written) | set(taken), collections.Counter(written), set(taken), searches))


class _Taken:
    """The names in use, for new ones: and, for a comprehension's variables, where the function as written uses each."""

    def __init__(self, names, occurrences, outside, searches=()):
        self.searches = frozenset(searches)
        self.names = names
        self.occurrences = occurrences  # name -> how many times the body mentions it
        self.outside = outside  # names of the enclosing scope (parameters, the enclosing function's)
        self.claimed = set()  # comprehension variables made the function's own so far

    def fresh(self, base):
        name, n = base, 2
        while name in self.names:
            name, n = f"{base}_{n}", n + 1
        self.names.add(name)
        return name

    def variable(self, name, comprehension):
        """The name a comprehension's variable gets in the function: its own, where nothing else uses it."""
        inside = sum(1 for n in gast.walk(comprehension) if isinstance(n, gast.Name) and n.id == name)
        if name in self.claimed or name in self.outside or self.occurrences[name] != inside:
            name = self.fresh(name)
        self.claimed.add(name)
        return name


def _lift_block(stmts, taken):
    out = []
    for stmt in stmts:
        out.extend(_lift_statement(stmt, taken))
    return out


def _lift_statement(stmt, taken):
    """The statements stmt becomes, with no conditional expression or comprehension left outside a `while`
    condition, and no loop target or assignment unpacking into a nested tuple."""
    if isinstance(stmt, gast.If):
        prefix = _lift_from(stmt, "test", taken)
        stmt.body, stmt.orelse = _lift_block(stmt.body, taken), _lift_block(stmt.orelse, taken)
        return prefix + [stmt]
    if isinstance(stmt, gast.For):
        _enumerated_zip_as_zip(stmt)
        prefix = _lift_from(stmt, "iter", taken)
        stmt.body = _lift_block(_unpacked_in_body(stmt, taken) + stmt.body, taken)
        return prefix + [stmt]
    if isinstance(stmt, gast.While):
        stmt.body = _lift_block(stmt.body, taken)
        return [stmt]
    if isinstance(stmt, gast.FunctionDef):  # a nested function: its own body, lifted when it is inlined
        return [stmt]
    whole = stmt.value if isinstance(stmt, (gast.Assign, gast.Return)) else None
    named = isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], gast.Name)
    if isinstance(whole, gast.IfExp) and (isinstance(stmt, gast.Return) or named):
        # `y = a if c else b`, `return a if c else b`: the statement itself goes into each branch
        chosen = []
        for branch in (whole.body, whole.orelse):
            copied = copy.deepcopy(stmt)
            copied.value = branch
            chosen.append(copied)
        branches = gast.copy_location(gast.If(test=whole.test, body=[chosen[0]], orelse=[chosen[1]]), stmt)
        return _lift_statement(branches, taken)
    if isinstance(whole, gast.ListComp) and named and not any(
            isinstance(n, gast.Name) and n.id == stmt.targets[0].id for n in gast.walk(whole)):
        # `ys = [f(x) for x in xs]`: ys is the list the loop builds
        return _lift_block(_comprehension_loop(whole, stmt.targets[0].id, taken), taken)
    if isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], (gast.Tuple, gast.List)):
        following = _unpacked_parts(stmt.targets[0], taken)
        return _lift_from(stmt, None, taken) + [stmt] + _lift_block(following, taken)
    return _lift_from(stmt, None, taken) + [stmt]


def _lift_from(stmt, field, taken):
    """Statements computing the conditional expressions and comprehensions in stmt (or in its field) into new
    names, which replace them there; outermost first, each one's branches (or loop) lifted within its own."""
    prefix = []
    while True:
        root = getattr(stmt, field) if field is not None else stmt
        found = _first_lifted(root, taken.searches)
        if found is None:
            return prefix
        parent, attribute, index, expression = found
        name = taken.fresh("chosen" if isinstance(expression, gast.IfExp) else "found" if isinstance(
            expression, gast.Call) else "elements")
        replacement = gast.copy_location(gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None),
                                         expression)
        if parent is None:
            setattr(stmt, field, replacement)
        elif index is None:
            setattr(parent, attribute, replacement)
        else:
            getattr(parent, attribute)[index] = replacement
        if isinstance(expression, (gast.ListComp, gast.GeneratorExp)):  # (a generator: `sum(f(x) for x in xs)`)
            prefix.extend(_lift_block(_comprehension_loop(expression, name, taken), taken))
            continue
        if isinstance(expression, gast.Call):  # `any(<generator>)`, `all(<generator>)`
            prefix.extend(_lift_block(_search_loop(expression, name, taken), taken))
            continue
        branches = []
        for branch in (expression.body, expression.orelse):
            assign = gast.Assign(targets=[gast.Name(id=name, ctx=gast.Store(), annotation=None, type_comment=None)],
                                 value=branch, type_comment=None)
            branches.append(gast.copy_location(assign, expression))
        lifted = gast.copy_location(gast.If(test=expression.test, body=[branches[0]], orelse=[branches[1]]), stmt)
        prefix.extend(_lift_statement(lifted, taken))


def _first_lifted(root, searches=()):
    """(parent, field, index in the field's list or None, the node) of the outermost conditional expression,
    comprehension or search (`any(<generator>)`) under root, parent None when root is one; None when there is
    none. Nested functions are not entered."""
    def lifted(node):
        return isinstance(node, _LIFTED) or _is_search(node, searches)

    if lifted(root):
        return None, None, None, root
    pending = [root]
    while pending:
        node = pending.pop(0)
        if isinstance(node, (gast.Lambda, gast.FunctionDef)) and node is not root:
            continue
        for attribute, value in gast.iter_fields(node):
            children = value if isinstance(value, list) else [value]
            for index, child in enumerate(children):
                if lifted(child):
                    return node, attribute, index if isinstance(value, list) else None, child
                if isinstance(child, gast.AST):
                    pending.append(child)
    return None


_LIFTED = (gast.IfExp, gast.ListComp, gast.GeneratorExp)  # the fence lets a generator be a call's only argument


def _is_search(node, searches):
    """Whether node is `any(<generator>)` or `all(<generator>)` of the builtin, the generator of one `for`."""
    return isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and node.func.id in searches \
        and len(node.args) == 1 and not node.keywords and isinstance(node.args[0], gast.GeneratorExp) \
        and len(node.args[0].generators) == 1


def _search_loop(call, name, taken):
    """`any(e for v in vs if c)` as `name = False`, then a loop over vs that sets name and stops at the first v
    (with c) whose e is true; `all(...)` the same, stopping at the first false e. Python's builtins stop there."""
    comprehension, looking_for = call.args[0], call.func.id == "any"
    _own_variables(comprehension, taken)
    generator = comprehension.generators[0]

    def located(node):
        return gast.copy_location(node, call)

    def assign(value):
        return located(gast.Assign(targets=[located(gast.Name(id=name, ctx=gast.Store(), annotation=None,
                                                              type_comment=None))],
                                   value=located(gast.Constant(value=value, kind=None)), type_comment=None))

    test = comprehension.elt if looking_for else located(gast.UnaryOp(op=gast.Not(), operand=comprehension.elt))
    body = [located(gast.If(test=test, body=[assign(looking_for), located(gast.Break())], orelse=[]))]
    for condition in reversed(generator.ifs):
        body = [located(gast.If(test=condition, body=body, orelse=[]))]
    loop = located(gast.For(target=generator.target, iter=generator.iter, body=body, orelse=[], type_comment=None))
    return [assign(not looking_for), loop]


def _own_variables(comprehension, taken):
    """The comprehension's variables made the function's own, under names nothing else in it uses."""
    generators = comprehension.generators
    for position, generator in enumerate(generators):
        for variable in [n.id for n in gast.walk(generator.target) if isinstance(n, gast.Name)]:
            own = taken.variable(variable, comprehension)
            if own != variable:  # the first iterable is read outside the comprehension: it keeps the name
                scope = [generator.target, *generator.ifs, comprehension.elt]
                scope += [part for later in generators[position + 1:] for part in (later.target, later.iter, *later.ifs)]
                for node in scope:
                    for n in gast.walk(node):
                        if isinstance(n, gast.Name) and n.id == variable:
                            n.id = own


def _comprehension_loop(comprehension, name, taken):
    """`name = []` and the loops that fill it, one per `for` of the comprehension, an `if` per condition; the
    comprehension's variables made the function's own (_own_variables). A generator expression (only ever a
    call's argument) is made the list it would give: the call reads every item."""
    _own_variables(comprehension, taken)
    generators = comprehension.generators

    def located(node):
        return gast.copy_location(node, comprehension)

    def load(identifier):
        return located(gast.Name(id=identifier, ctx=gast.Load(), annotation=None, type_comment=None))

    def store(identifier):
        return located(gast.Name(id=identifier, ctx=gast.Store(), annotation=None, type_comment=None))

    item = located(gast.List(elts=[comprehension.elt], ctx=gast.Load()))
    body = [located(gast.Assign(targets=[store(name)], value=located(gast.BinOp(left=load(name), op=gast.Add(),
                                                                                right=item)), type_comment=None))]
    for generator in reversed(generators):
        for condition in reversed(generator.ifs):
            body = [located(gast.If(test=condition, body=body, orelse=[]))]
        body = [located(gast.For(target=generator.target, iter=generator.iter, body=body, orelse=[], type_comment=None))]
    start = located(gast.Assign(targets=[store(name)], value=located(gast.List(elts=[], ctx=gast.Load())),
                                type_comment=None))
    return [start] + body


def _enumerated_zip_as_zip(loop):
    """`for i, (w, b) in enumerate(zip(ws, bs)):` as `for i, w, b in zip(range(len(ws)), ws, bs):`, the same
    counts and items (zip stops at the shortest either way), in a form the loop transforms walk."""
    iterable, target = loop.iter, loop.target
    if not (isinstance(iterable, gast.Call) and isinstance(iterable.func, gast.Name) and iterable.func.id == "enumerate"
            and len(iterable.args) == 1 and not iterable.keywords and isinstance(iterable.args[0], gast.Call)
            and isinstance(iterable.args[0].func, gast.Name) and iterable.args[0].func.id == "zip"
            and isinstance(target, gast.Tuple) and len(target.elts) == 2
            and isinstance(target.elts[1], gast.Tuple) and len(target.elts[1].elts) == len(iterable.args[0].args)):
        return
    zipped = iterable.args[0]

    def located(node):
        return gast.copy_location(node, iterable)

    length = located(gast.Call(func=located(gast.Name(id="len", ctx=gast.Load(), annotation=None, type_comment=None)),
                               args=[copy.deepcopy(zipped.args[0])], keywords=[]))
    counts = located(gast.Call(func=located(gast.Name(id="range", ctx=gast.Load(), annotation=None, type_comment=None)),
                               args=[length], keywords=[]))
    loop.iter = located(gast.Call(func=zipped.func, args=[counts, *zipped.args], keywords=[]))
    loop.target = gast.copy_location(gast.Tuple(elts=[target.elts[0], *target.elts[1].elts], ctx=gast.Store()), target)


def _unpacked_in_body(loop, taken):
    """A loop target's parts that unpack an item (`w, b` of `for w, b in layers`; `(k, v)` of `for i, (k, v) in
    enumerate(pairs)`), each replaced by a name and unpacked from it by the statements returned, for the top of
    the body. The reverse pass then sends each item's gradient back to its position in the sequence. enumerate's
    and zip's own tuple is the loop's, not an item's."""
    iterable = loop.iter
    walks = isinstance(iterable, gast.Call) and isinstance(iterable.func, gast.Name) and \
        iterable.func.id in ("enumerate", "zip", "range")
    if not walks:
        return _unpacked_parts(loop, taken, field="target")
    if isinstance(loop.target, (gast.Tuple, gast.List)):
        return _unpacked_parts(loop.target, taken)
    return []


def _unpacked_parts(parent, taken, field=None):
    """For each tuple in parent's elements (or in its field), a new name in its place, and the assignment that
    unpacks that name into the tuple, itself flattened the same way."""
    statements = []
    slots = [(field, None)] if field is not None else [("elts", i) for i in range(len(parent.elts))]
    for attribute, index in slots:
        part = getattr(parent, attribute) if index is None else parent.elts[index]
        if not isinstance(part, (gast.Tuple, gast.List)):
            continue
        words = [n.id for n in gast.walk(part) if isinstance(n, gast.Name)]
        joined = "_".join(words)
        name = taken.fresh(joined if len(joined) <= 16 else "item")
        replacement = gast.copy_location(gast.Name(id=name, ctx=gast.Store(), annotation=None, type_comment=None), part)
        if index is None:
            setattr(parent, attribute, replacement)
        else:
            parent.elts[index] = replacement
        value = gast.copy_location(gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None), part)
        unpack = gast.copy_location(gast.Assign(targets=[part], value=value, type_comment=None), part)
        statements.append(unpack)
        statements.extend(_unpacked_parts(part, taken))
    return statements
