"""Calls to the user's own functions, inlined into the normal form of the function that calls them.

A helper's statements are written into the caller, its names made unique and its lines cited in the
generated code's comments: the reverse pass then sees one function, gives adjoints only to what is
active at this call, and keeps one tape, with no call overhead at run time.

The inliner normalises a helper's body with the caller's normaliser, pointed at the helper's source and
globals for the while, so the helper's statements land in the caller's statement list.
"""

from __future__ import annotations

import builtins
import dataclasses
import inspect
import types

import gast
import numpy

from .. import ir
from . import control, values
from .fence import check_helper
from .resolve import (UNBOUND, AttributeNamespace, CellNamespace, Resolver, describe, function_guards,
                      is_library_code, is_numpy_module, numpy_path)
from .source import function_to_differentiate, read_function
from .syntax import appended_list, attribute_chain, is_atom, root_name, walk_function_scope, written_names
from ..runtime.checkpoint import checkpoint
from ..templates import RULES, is_nondifferentiable


class Inliner:
    """Inlines the calls a normaliser meets, and keeps what the compiled gradient must know of them."""

    def __init__(self, normalizer):
        self.normalizer = normalizer
        self.helpers = []  # the user functions being inlined, innermost last
        self.receivers = []  # beside each, what is known of the object a method is called on (None: a function)
        self.root_globals = normalizer.resolver.globals
        self.callees = []  # (globals, chain, helper) of each helper inlined, for the compiled gradient's guards
        self.clashes = set()  # names helpers read as globals that temporaries made before had taken
        self.sources = []  # their source texts and the default values they took, for the cache key
        # The innermost helper's result so far, the statement list its body starts in (a return there is
        # its last statement), and the caller's name for its result (or None).
        self.result = self.top_block = self.into = None

    def inlinable(self, call):
        """The user function a call runs, if sourcegrad should inline it (no rule of its own), else None.

        A method of an object whose class is known (`model.forward(x)`) comes back bound, as
        (function, receiver expression).
        """
        normalizer = self.normalizer
        func = call.func
        if isinstance(func, gast.Name) and func.id in normalizer.local_functions:
            return normalizer.local_functions[func.id]
        if isinstance(func, gast.Name) and func.id not in normalizer.names.current and any(
                isinstance(stmt, gast.FunctionDef) and stmt.name == func.id for stmt in normalizer.src.tree.body):
            # Python would raise UnboundLocalError: the name is the function's own from its first line on
            raise normalizer.src.error(call, f"`{func.id}` is called before its `def` in this function",
                                       f"Move the `def {func.id}` above its first call.")
        if isinstance(func, gast.Subscript) and root_name(func) in normalizer.names.current:
            # `layers[0](x)`, `self.blocks["enc"](h)`: an object held in a list or dict, called
            kind = normalizer.static_kind(func)
            held_function = values.function_of(kind)
            if held_function is not None:  # `acts[0](h)`, a function of the user's: written in
                return _users_function(held_function)
            held = values.class_of(kind)
            method = inspect.getattr_static(held, "__call__", None) if held is not None else None
            if isinstance(method, types.FunctionType) and not is_library_code(method):
                self.guard(AttributeNamespace(held), ("__call__",), method)
                return (method, func)
            return None
        if isinstance(func, gast.Attribute) and root_name(func) in normalizer.names.current:
            # `model.forward(x)`, `layers[i].forward(x)`, `self.linear1(x)`
            kind = normalizer.static_kind(func.value)
            cls = values.class_of(kind)
            held = values.class_of(values.element(kind, func.attr))
            if held is not None:  # `self.linear1(x)`: an object the object holds, called: its class's __call__
                method = inspect.getattr_static(held, "__call__", None)
                if isinstance(method, types.FunctionType) and not is_library_code(method):
                    self.guard(AttributeNamespace(held), ("__call__",), method)
                    return (method, func)
                return None
            held_function = values.function_of(values.element(kind, func.attr))
            if held_function is not None:  # `self.act(h)`, act a function of the user's: written in
                return _users_function(held_function)
            if cls is None or func.attr in values.instance_callables(kind):
                return None  # unknown class, or an attribute of the object itself hides the class's method
            method = inspect.getattr_static(cls, func.attr, None)
            if isinstance(method, staticmethod):  # `self.act(z)`: a function of the class, given no object
                self.guard(AttributeNamespace(cls), (func.attr,), method.__func__)  # (what the class gives for it)
                return _users_function(method.__func__)
            if isinstance(method, classmethod):  # `self.apply(w, x)`: a function of the class, given the class
                self.guard(AttributeNamespace(cls), (func.attr, "__func__"), method.__func__)
                return self.class_bound(method.__func__, cls)
            if isinstance(method, types.FunctionType) and not is_library_code(method):
                if method in RULES or is_nondifferentiable(method):
                    # the rule's own parameters would meet the object as `self`: not a rule sourcegrad applies
                    what = "a gradient rule of its own" if method in RULES else "been marked nondifferentiable"
                    raise normalizer.src.error(call, f"{method.__qualname__} has {what}, and such marks on methods "
                                               "are not applied", "Register the rule (or the mark) for a "
                                               "module-level function and call it: `quantize(layer, z)`.")
                # the class's method is written in: one put in its place (`Net.forward = other`) means recompiling
                self.guard(AttributeNamespace(cls), (func.attr,), method)
                return (method, func.value)
            return None
        if isinstance(func, gast.Name) and func.id in normalizer.names.current:
            # a parameter holding a function (`nonlinearity=np.tanh`): the compiled gradient is for that function
            function = _users_function(normalizer.function_value(func))
            kind = normalizer.static_kind(func)
            cls = values.class_of(kind)
            if function is None and cls is not None and "__call__" not in values.instance_callables(kind):
                method = inspect.getattr_static(cls, "__call__", None)  # `model(x)`: its class's __call__
                if isinstance(method, types.FunctionType) and not is_library_code(method):
                    self.guard(AttributeNamespace(cls), ("__call__",), method)
                    return (method, func)
            return function
        chain = attribute_chain(func)
        if chain is None or chain[0] in normalizer.names.current:
            return None
        reached = normalizer.resolver.resolve_chain(chain)
        if isinstance(reached, types.MethodType) and isinstance(reached.__self__, type) \
                and _users_function(reached.__func__) is not None:  # `Linear.apply(w, x)`, a classmethod
            namespace = normalizer.resolver.globals if not normalizer.resolver.is_closure_variable(chain[0]) \
                else CellNamespace(normalizer.resolver.cells[chain[0]])
            self.guard(namespace, (*chain, "__func__"), reached.__func__)  # the same class, with the same method
            return self.class_bound(reached.__func__, reached.__self__)
        if isinstance(reached, types.MethodType) and len(chain) > 1 and not isinstance(reached.__self__, type):
            # `net.forward(w)`, net a global object: its class's method, with net (a constant here) as self
            method = inspect.getattr_static(type(reached.__self__), chain[-1], None)
            if method is not reached.__func__ or _users_function(method) is None:
                return None
            namespace = normalizer.resolver.globals if not normalizer.resolver.is_closure_variable(chain[0]) \
                else CellNamespace(normalizer.resolver.cells[chain[0]])
            self.guard(namespace, chain[:-1], reached.__self__)  # the same object, of the same class, whose
            self.guard(namespace, (*chain[:-1], "__class__"), type(reached.__self__))  # method is the same
            self.guard(AttributeNamespace(type(reached.__self__)), (chain[-1],), method)
            # and whose own attributes do not hide it (`net.forward = np.sin` on the instance): the name read on
            # the object must still give the class's method bound to it
            self.guard(namespace, (*chain, "__func__"), method)
            return (method, func.value)
        obj = _users_function(reached)
        if obj is None:
            return None
        # Rebinding this name (`act = other_act`, `layers.act = other_act`, or a closure's `act`) changes the code
        # written into the gradient: a guard.
        if normalizer.resolver.is_closure_variable(chain[0]):
            cell = normalizer.resolver.cells[chain[0]]
            if not any(isinstance(g, CellNamespace) and g.cell is cell and c == tuple(chain) for g, c, _ in self.callees):
                self.callees.append((CellNamespace(cell), tuple(chain), normalizer.resolver.resolve_chain(chain)))
        else:
            namespace = normalizer.resolver.globals
            if not any(g is namespace and c == tuple(chain) for g, c, _ in self.callees):
                self.callees.append((namespace, tuple(chain), normalizer.resolver.resolve_chain(chain)))
        return obj

    def class_bound(self, function, cls):
        """A classmethod's function, to be written in with its class as first argument: (function, cls). Its body
        may not read the class (`cls(...)`, `cls.scale`): sourcegrad follows arrays and objects, not classes."""
        function = _users_function(function)
        if function is None:
            return None
        src = read_function(function)
        first = (src.tree.args.posonlyargs + src.tree.args.args)[0].id
        read = next((n for n in gast.walk(src.tree) if isinstance(n, gast.Name) and n.id == first
                     and isinstance(n.ctx, gast.Load)), None)
        if read is not None:
            raise src.error(read, f"{function.__qualname__} is a classmethod that reads its class `{first}`, which "
                            "sourcegrad does not follow", f"Name what it reads on the class itself "
                            f"(`{cls.__name__}.name`), or make it a staticmethod.")
        return (function, cls)

    def property_getter(self, attribute):
        """(the getter, the object expression) where attribute (`model.scaled`) reads a property of the
        object's class written in Python, to be inlined as a method call; else None. An attribute neither the
        object nor its class holds (served by __getattr__) or another computed one (a descriptor) is refused:
        its gradient would be given to a key the object does not have."""
        normalizer = self.normalizer
        chain = attribute_chain(attribute)
        if chain is None or chain[0] not in normalizer.names.current:
            return None
        kind = normalizer.static_kind(attribute.value)
        cls = values.class_of(kind)
        if cls is None or values.instance_holds(kind, attribute.attr):
            return None
        found = inspect.getattr_static(cls, attribute.attr, _MISSING)
        if isinstance(found, property) and isinstance(found.fget, types.FunctionType) \
                and not is_library_code(found.fget):
            self.guard(AttributeNamespace(cls), (attribute.attr,), found)
            return (found.fget, attribute.value)
        if found is _MISSING and attribute.attr in normalizer.attribute_writes:  # `self.state = ...` earlier
            raise normalizer.attribute_read_back(normalizer.src, attribute)
        if found is _MISSING or hasattr(type(found), "__get__") and not isinstance(
                found, (types.FunctionType, staticmethod, classmethod)):  # (a method is called, and inlined so)
            how = "served by __getattr__" if found is _MISSING else f"computed by a {type(found).__name__}"
            raise normalizer.src.error(attribute, f"`.{attribute.attr}` is not an attribute {cls.__name__} objects "
                                       f"hold but one {how}, whose gradient sourcegrad cannot give to what it reads",
                                       "Read the attribute the value is stored in, or make it a property written in "
                                       "Python (its getter is written into the gradient).")
        return None

    def guard(self, namespace, chain, obj):
        """A guard of the compiled gradient: namespace's chain must still reach obj when the gradient is reused
        (once each, however often a helper is called)."""
        def same(other):
            if isinstance(other, AttributeNamespace) and isinstance(namespace, AttributeNamespace):
                return other.obj is namespace.obj
            return other is namespace
        if not any(same(g) and c == tuple(chain) for g, c, _ in self.callees):
            self.callees.append((namespace, tuple(chain), obj))

    def inline(self, fn, call, into=None):
        """Write fn's body into the caller for this call; return the atom holding its result.

        into() gives the caller's name for the result: the helper's final `return <operation>`
        computes straight into it.
        """
        normalizer = self.normalizer
        receiver = None
        if isinstance(fn, tuple):  # a method: its object is the first argument
            fn, receiver = fn
        # A method may run again on another object (a base class's __call__ calling self.forward, whose module
        # calls a sub-module's __call__): a chain as long as the objects nest. On the same object, or one sourcegrad
        # knows nothing of, it is recursion.
        receiver_kind = normalizer.static_kind(receiver) if isinstance(receiver, gast.AST) else None
        if any(fn is f and (receiver_kind is None or kind == receiver_kind)
               for f, kind in zip(self.helpers, self.receivers)):
            raise normalizer.src.error(call, f"{fn.__qualname__} calls itself (recursion), which sourcegrad cannot "
                                       "inline", "Write the recursion as a loop.")
        args = normalizer.arguments(call.args)
        if isinstance(receiver, type):  # a classmethod's class (Inliner.class_bound): bound to its parameter, unread
            args.insert(0, receiver)
        elif receiver is not None:
            args.insert(0, normalizer.atom(receiver, None))
        kwargs = {k.arg: normalizer.atom(k.value, None) for k in call.keywords}
        local = isinstance(fn, LocalFunction)
        if local:
            src, signature = fn.src, fn.signature()
        else:
            src = read_function(fn)
            check_helper(src)
            # the parameters of the code read: a wrapper looked through passes its arguments on unchanged
            signature = inspect.signature(function_to_differentiate(fn), follow_wrapped=False)
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise normalizer.src.error(call, f"the call does not fit {fn.__qualname__}'s parameters: {exc}") from None
        bound.apply_defaults()
        for name, parameter in signature.parameters.items():
            if parameter.kind is inspect.Parameter.VAR_POSITIONAL:  # `*args`: a tuple of the arguments it took
                bound.arguments[name] = gast.Tuple(elts=list(bound.arguments[name]), ctx=gast.Load())
        saved = (normalizer.src, normalizer.resolver, normalizer.assigned, normalizer.result_name, normalizer.origin)
        # `a if c else b` made an `if` first, so that the names it assigns count as the helper's own (a nested
        # function's must not be a name of the function it is in, which it may read)
        searches = control.builtin_searches(normalizer.resolver if local else Resolver(fn), stored_names(src.tree))
        body = control.structured_body(src.tree.body, taken=set(normalizer.names.used) | set(normalizer.names.current),
                                       searches=searches)
        helper_assigned = stored_names(src.tree) | stored_names(gast.Module(body=body, type_ignores=[]))
        normalizer.names.take({n.id for stmt in body for n in gast.walk(stmt) if isinstance(n, gast.Name)})
        # Every name the helper mentions is taken: a local of the helper must not get the name of a global
        # that another helper (or the caller) reads.
        mentioned = {n.id for n in gast.walk(src.tree) if isinstance(n, gast.Name)}
        # a name the helper reads from its globals that a temporary of the caller already has: normalize starts
        # again with it reserved (its own parameters and assigned names are bound apart, and clash with nothing)
        self.clashes |= (mentioned - helper_assigned - set(signature.parameters)) & normalizer.names.made
        normalizer.names.take(mentioned)
        bindings = {}
        callers_names = set(normalizer.names.current.values())
        for name, value in bound.arguments.items():
            if isinstance(value, gast.Name) and value.id in callers_names and values.function_of(
                    normalizer.kinds.get(value.id)) is not None:
                user = next((u for u, held in normalizer.names.current.items() if held == value.id), None)
                normalizer.refuse_if_rebound(user, call, "passes on")
            if isinstance(value, gast.Name) and value.id not in callers_names \
                    and values.is_function(normalizer.references.get(value.id)):
                value = normalizer.references[value.id]  # `layer(x, w, act=relu)`: a global function passed on
            chain = attribute_chain(value) if isinstance(value, gast.Attribute) else None
            if chain is not None and chain[0] not in callers_names and chain[0] not in normalizer.names.current:
                reached = normalizer.resolver.resolve_chain(chain)  # `layer(x, w, act=np.sin)`
                if values.is_function(reached):
                    normalizer.global_reference(chain, value)  # read as any global is: guarded, so a rebinding recompiles
                    value = reached
            if isinstance(value, type):  # a classmethod's class, which its body does not read
                continue
            if values.is_function(value):  # `act=np.tanh`: a name the helper calls, standing for that function
                bindings[name] = normalizer.names.fresh(name)
                normalizer.kinds[bindings[name]] = values.describe(value)
                continue
            if not isinstance(value, gast.AST):
                value = _literal(value, normalizer.src, call, fn, name)
            if isinstance(value, gast.Name) and name not in helper_assigned:
                bindings[name] = value.id  # the helper reads the caller's value under its own name
            else:
                local_name = normalizer.names.fresh(name)
                normalizer.emit_copy(local_name, value, call)
                bindings[name] = local_name
        if local:  # a nested function reads the enclosing function's names as they are now, those it assigns aside
            enclosing = {user: name for user, name in normalizer.names.current.items() if user not in helper_assigned}
            bindings = {**enclosing, **bindings}
        saved_helper = (self.result, self.top_block, self.into)
        if into is not None:  # the caller's name for the result, taken in the caller's scope, after its arguments
            result_name = into()
            into = lambda: result_name  # noqa: E731
        self.helpers.append(fn)
        self.receivers.append(receiver_kind)
        # The defaults' values are written into the gradient as literals: they belong in the cache key beside
        # the source, which shows only their expressions (`s=SCALE`).
        defaults = tuple((name, describe(value) if values.is_function(value) else repr(value))
                         for name, value in bound.arguments.items() if not isinstance(value, gast.AST))
        saved_locals = normalizer.local_functions
        if not local:  # a nested function's source is its enclosing function's, already in the key
            self.sources.append((fn.__qualname__, src.text, defaults))
            for guard in function_guards(fn):  # its code and defaults, written in with it
                self.guard(*guard)
            normalizer.src, normalizer.resolver, normalizer.local_functions = src, Resolver(fn), {}
        else:
            normalizer.src = src
        outer_names = normalizer.names.enter_helper(bindings)
        normalizer.assigned = stored_names(src.tree, appends=False) | stored_names(gast.Module(body=body, type_ignores=[]),
                                                                                   appends=False)
        normalizer.result_name = None
        self.result, self.top_block, self.into = None, normalizer.block, into
        try:
            if not control.always_jumps(body, (gast.Return,)):
                raise normalizer.src.error(body[-1] if body else src.tree, f"not every path through {fn.__qualname__} "
                                           "ends in `return <value>`", "Return a value on every path.")
            normalizer.statements(body)
            result = self.result
        finally:
            self.helpers.pop()
            self.receivers.pop()
            normalizer.names.leave(outer_names)
            normalizer.src, normalizer.resolver, normalizer.assigned, normalizer.result_name, normalizer.origin = saved
            normalizer.local_functions = saved_locals
            self.result, self.top_block, self.into = saved_helper
        for name in ir.names_in(result):  # the helper's own (unique) names, now read by the caller
            normalizer.names.current.setdefault(name, name)
        return result

    def inlines(self, expr):
        """Whether expr is itself a call that will be inlined (then its own return takes the name)."""
        return isinstance(expr, gast.Call) and self.inlinable(expr) is not None

    def helper_return(self, stmt):
        """A `return` in the helper being inlined: its value becomes the helper's result."""
        normalizer = self.normalizer
        if normalizer.block is self.top_block and self.into is not None and not is_atom(stmt.value) \
                and not isinstance(stmt.value, gast.Tuple) and not self.inlines(stmt.value):
            self.result = ir.name(normalizer.operation(stmt.value, target=self.into()))
            return
        value = normalizer.atom(stmt.value, hint=None)
        if normalizer.block is self.top_block:  # the helper's one return, at its end
            self.result = value
            return
        # a return in a branch: every return of the helper assigns the same result names, read after it
        count = len(value.elts) if isinstance(value, gast.Tuple) else None
        if normalizer.result_name is None:
            normalizer.result_name = normalizer.names.fresh("result") if count is None else [
                normalizer.names.fresh("result") for _ in range(count)]
        if count != (len(normalizer.result_name) if isinstance(normalizer.result_name, list) else None):
            raise normalizer.src.error(stmt, "this return gives another number of values than the helper's other "
                                       "returns", "Return the same number of values on every path.")
        if count is None:
            normalizer.emit_copy(normalizer.result_name, value, stmt)
            self.result = ir.name(normalizer.result_name)
            return
        for name, element in zip(normalizer.result_name, value.elts):
            normalizer.emit_copy(name, element, stmt)
        self.result = gast.Tuple(elts=[ir.name(name) for name in normalizer.result_name], ctx=gast.Load())

    def check_global(self, chain, root, node):
        """Refuse a global a helper from another module reads: the generated code runs in the differentiated
        function's module, where that name means something else. numpy's (reached through `xp` whatever the
        name) and a builtin the differentiated function's module leaves alone are kept, each guarded in the
        helper's module, where a rebinding (`act = np.cos`, `range = ...`) changes what the helper does."""
        normalizer = self.normalizer
        helper_globals = normalizer.resolver.globals
        if not self.helpers or helper_globals is self.root_globals:
            return
        name = chain[0]
        builtin = getattr(builtins, name, None) is root
        if not (is_numpy_module(root) or numpy_path(root) or builtin):
            raise normalizer.src.error(node, f"`{name}` is a global of {self.helpers[-1].__module__}, which the "
                                       "generated code cannot see from the differentiated function's module",
                                       "Pass it as an argument to the helper.")
        if builtin and self.root_globals.get(name, root) is not root:  # the generated code's `range`: that module's
            raise normalizer.src.error(node, f"`{name}` is the builtin in {self.helpers[-1].__module__}, but the "
                                       f"differentiated function's module has a global `{name}` of its own, which "
                                       "the generated code, running there, would call instead",
                                       f"Rename that module's `{name}`, or pass what the helper needs as an argument.")
        if name in helper_globals and not is_numpy_module(root):
            self.guard(helper_globals, (name,), root)  # `act = np.tanh` there: np.cos tomorrow
        elif builtin:
            self.guard(helper_globals, (name,), UNBOUND)  # `range = ...` in the helper's module later


def stored_names(tree, appends=True):
    """The names a function assigns, not those its nested functions or its comprehensions assign; without appends,
    not the lists it only appends to (`log.append(v)` on a global list reads the global)."""
    return {name for stmt in tree.body if not isinstance(stmt, gast.FunctionDef)
            for node in walk_function_scope(stmt) if appends or appended_list(node) is None
            for name in written_names(node)}


_MISSING = object()


def _users_function(obj):
    """obj as the user's function to inline, or None: a library's function is a primitive (its rule, or the error
    that it has none), and so is a function with a rule of its own."""
    obj = getattr(obj, "fn", obj) if type(obj).__name__ == "DifferentiableFunction" else obj
    obj = function_to_differentiate(obj)
    if not isinstance(obj, types.FunctionType) or numpy_path(obj) or is_library_code(obj) or obj is checkpoint:
        return None
    if obj in RULES or is_nondifferentiable(obj):
        return None
    return obj


class LocalFunction:
    """A `def` at the top of the body of the function being normalised (the fence checked it): inlined where it is
    called, like a helper, reading the enclosing function's names as they are at the call."""

    def __init__(self, definition, enclosing_src):
        self.definition = definition
        self.src = dataclasses.replace(enclosing_src, tree=definition)
        self.__name__ = definition.name
        self.__qualname__ = f"{enclosing_src.tree.name}.<locals>.{definition.name}"

    def signature(self):
        arguments = self.definition.args
        positional = arguments.posonlyargs + arguments.args
        defaults = [inspect.Parameter.empty] * (len(positional) - len(arguments.defaults)) + [
            gast.literal_eval(d) for d in arguments.defaults]
        kinds = [inspect.Parameter.POSITIONAL_ONLY] * len(arguments.posonlyargs) + [
            inspect.Parameter.POSITIONAL_OR_KEYWORD] * len(arguments.args)
        parameters = [inspect.Parameter(a.id, kind, default=d) for a, kind, d in zip(positional, kinds, defaults)]
        if arguments.vararg is not None:
            parameters.append(inspect.Parameter(arguments.vararg.id, inspect.Parameter.VAR_POSITIONAL))
        parameters += [inspect.Parameter(a.id, inspect.Parameter.KEYWORD_ONLY,
                                         default=inspect.Parameter.empty if d is None else gast.literal_eval(d))
                       for a, d in zip(arguments.kwonlyargs, arguments.kw_defaults)]
        return inspect.Signature(parameters)


def _literal(value, src, call, fn, name):
    """A helper's default value as a constant; only literals can be written into generated code."""
    if isinstance(value, numpy.generic) and not isinstance(value, (numpy.datetime64, numpy.timedelta64)):
        value = value.item()  # np.float64(0.5) is written 0.5: the generated code has no `np`
    if value is None or isinstance(value, (bool, int, float, complex, str)):
        return gast.Constant(value=value, kind=None)
    if isinstance(value, tuple) and all(v is None or isinstance(v, (bool, int, float, str)) for v in value):
        return gast.Tuple(elts=[gast.Constant(value=v, kind=None) for v in value], ctx=gast.Load())
    raise src.error(call, f"{fn.__qualname__}'s default for `{name}` ({value!r}) is not a literal sourcegrad can "
                    "write into the generated code", f"Pass `{name}` explicitly.")
