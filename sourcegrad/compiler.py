"""The pipeline, stage by stage: source -> checks -> normal form -> analysis -> reverse mode ->
simplification -> Python text -> a file in generated/ -> a loaded function.

One compiled gradient serves every call whose arguments have the same ranks
(number of dimensions); shapes, dtypes and devices may vary.
"""

from __future__ import annotations

import builtins
import functools
import linecache
import os
import re
import types
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from . import ir
from .version import __version__
from .analysis.memory import MemoryPlan, plan_memory
from .analysis.shapes import refuse_shared_updates, row_loops
from .emit import codegen, forward_code, store
from .errors import Location, SourcegradError
from .frontend import fence, values
from .frontend.normalize import normalize
from .frontend.resolve import (MISSING, UNBOUND, AttributeNamespace, CellNamespace, Resolver, describe,
                                function_guards, is_numpy_module, numpy_own)
from .frontend.source import FunctionSource, function_to_differentiate, read_function
from .optimize.simplify import simplify
from .runtime.buffers import BufferPool
from .templates import load_optional_rules, registry
from .templates.registry import VERSION as RULES_VERSION
from .transform.directional import directional_function
from .transform.forward import forward
from .transform.reverse import reverse

BACKEND = "xp"


@dataclass
class Compiled:
    function: object  # (xp, *args, **kwargs) -> (value, gradients)
    source: str  # the whole generated file
    path: Path | None  # where it lives, None if it could not be written
    seed: str  # the keyword that takes the output's gradient
    return_location: Location
    from_cache: bool
    guards: tuple = ()  # (namespace, name, attributes, object): the globals the code was compiled against
    rules_version: int = 0  # the rule registry's version then
    sources: dict = field(default_factory=dict)  # file base name -> path, of the function and the helpers in it
    make_buffered: object = None  # () -> the `_into` variant or None: made when a call first passes into=
    row_loops: tuple = ()  # (location, parameters): the `for` loops walking an array made from those parameters
    user_rules: tuple = ()  # the names of the user's gradient rules the code applies: their gradients' shapes are checked
    pool: BufferPool = field(default_factory=BufferPool)  # the buffers the `_into` variant keeps between calls
    _buffered: object = field(default=None, repr=False)
    _buffered_made: bool = field(default=False, repr=False)

    def __post_init__(self):
        # The call path checks the guards on every call, cheapest first: a global's name (`np`, a helper) with
        # one subscript each, a builtin's name that must stay no global (`range`) with one `in`, the function's
        # code object with one attribute read, and every other guard (an attribute chain, a closure cell, a
        # default, a wrapper's code) through current(), which only a function that has one pays for.
        # A name may be guarded twice (a builtin the function reads, and the same builtin among its references):
        # each check is kept once, keyed by its namespace and name (and, for a binding, the object).
        name_guards, unbound_names, self.code_owner, self.code, self.other_guards = {}, {}, None, None, False
        for namespace, name, attributes, obj in self.guards:
            if not attributes and type(namespace) is dict and obj is not UNBOUND:
                name_guards.setdefault((id(namespace), name, id(obj)), (namespace, name, obj))
            elif not attributes and type(namespace) is dict:
                unbound_names.setdefault((id(namespace), name), (namespace, name))
            elif not attributes and name == "__code__" and self.code_owner is None \
                    and isinstance(namespace, AttributeNamespace) and isinstance(namespace.obj, types.FunctionType):
                self.code_owner, self.code = namespace.obj, obj
            else:
                self.other_guards = True
        self.name_guards, self.unbound_names = tuple(name_guards.values()), tuple(unbound_names.values())
        # The first binding is checked without a loop (a loop's iterator costs more than its one check): almost
        # every function reads one global (`np`), and a function that reads none checks one that always holds.
        self.name_guard, self.more_name_guards = (self.name_guards or (_NO_NAME_GUARD,))[0], self.name_guards[1:]
        if self.code_owner is None:  # no code guard (a callable object's gradient): the check always holds
            self.code_owner, self.code = _NoCode, None
        # Bools, not the tuples themselves: the call path tests them on every call, and a bool is tested without
        # asking the object for its truth.
        self.has_more_guards = bool(self.more_name_guards or self.unbound_names or self.other_guards)
        self.checks_shapes = bool(self.user_rules)

    def more_guards_hold(self) -> bool:
        """The guards after the first name and the code object (the call path checks those two itself): the
        further globals, the builtin names that must stay unbound, and every other guard."""
        for namespace, name, obj in self.more_name_guards:
            if namespace.get(name, UNBOUND) is not obj:
                return False  # a global it calls through was rebound or deleted
        for namespace, name in self.unbound_names:
            if name in namespace:
                return False  # `range = ...`: a global now hides the builtin it calls
        return not self.other_guards or self.current()  # `cfg.act = np.sin`, a closure cell, a default

    def buffered(self):
        """The `_into` variant, (xp, buffers, into, *args, **kwargs) -> (value, gradients), or None when no
        statement of the function can write into a buffer. Made on first use, in a file of its own."""
        if not self._buffered_made:
            self._buffered = self.make_buffered() if self.make_buffered is not None else None
            self._buffered_made = True
        return self._buffered

    def locate(self, error):
        """error, raised inside the generated code without a place (by a runtime helper), at the user's line
        whose adjoint raised it: the line the comment above that adjoint block cites. In the forward pass, which
        cites only the lines whose helpers refuse input (`xp.set_item`), the comment just above the line."""
        if error.location is not None or self.path is None:
            return error
        line, traceback = None, error.__traceback__
        while traceback is not None:  # the innermost frame in the generated file
            if traceback.tb_frame.f_code.co_filename == str(self.path):
                line = traceback.tb_lineno
            traceback = traceback.tb_next
        lines = self.source.splitlines()
        at = min(line or 0, len(lines)) - 1
        backward = next((i for i, text in enumerate(lines) if text.strip() == f"# {codegen.BACKWARD_PASS}"), len(lines))
        for index in range(at, -1 if at >= backward else max(at - 4, -1), -1):
            cited = _CITATION.match(lines[index])
            if cited:
                path, number = self.sources.get(cited.group(1), self.return_location.path), int(cited.group(2))
                text = linecache.getline(path, number).rstrip("\n")
                return SourcegradError(error.message, Location(path, number, len(text) - len(text.lstrip()) + 1, text),
                                       error.hint)
        return error

    def current(self) -> bool:
        """False once a global the function calls through has been rebound (`act = np.sin`, or
        `cfg.act = np.sin`), or a gradient rule registered since: then recompile."""
        if self.rules_version != RULES_VERSION[0]:
            return False
        for namespace, name, attributes, obj in self.guards:  # usually one or two names: `np`, a helper
            value = namespace.get(name, UNBOUND)
            for attribute in attributes:
                value = getattr(value, attribute, UNBOUND)
            if value is not obj:
                return False
        return True


_NO_NAME_GUARD = ({"": None}, "", None)  # the name guard of a gradient that reads no global: it always holds


class _NoCode:
    """The code guard of a gradient that has none (a callable object's): the check always holds."""
    __code__ = None


_CITATION = re.compile(r"\s*# (\S+):(\d+)  ")  # the comment above each adjoint block: `# file.py:23  <line>`


class Frontend:
    """A function read, checked and resolved once; compiled per argument-rank signature."""

    def __init__(self, fn, has_aux=False):
        self.has_aux = has_aux  # fn returns `value, aux`; only value is differentiated
        # (namespace, chain, object) of the wrappers looked through to the function read (a decorator's that
        # passes its arguments and result through): their code, and the names they call it by
        self.through = []
        self.src: FunctionSource = read_function(function_to_differentiate(fn, self.through))
        try:
            fence.check(self.src)
        except SourcegradError as exc:
            if getattr(self.src.fn, "__wrapped__", None) is None:
                raise
            # A decorator's wrapper is what a call runs, so it is what is differentiated; say so, since the
            # user did not write `wrapper` as the function they asked for.
            raise SourcegradError(f"{exc.message} (in the wrapper that a decorator put around "
                                  f"{self.src.fn.__wrapped__.__qualname__}: a call runs the wrapper, so sourcegrad "
                                  "differentiates it)", exc.location,
                                  f"{exc.hint or ''} Or decorate the undecorated function with "
                                  "@sourcegrad.differentiate and apply the decorator's change yourself.".strip()) from None
        self.resolver = Resolver(self.src.fn)
        self.code = self.src.fn.__code__  # the code whose source was read

    def stale(self) -> bool:
        """Whether another code object was put in the function's place (`f.__code__ = g.__code__`) since its
        source was read, or a wrapper looked through to it now calls something else (or has other code): then
        the source to read is another."""
        return self.src.fn.__code__ is not self.code or any(namespace.get(chain[0], UNBOUND) is not obj
                                                            for namespace, chain, obj in self.through)

    def normal_form(self, ranks: dict) -> ir.Function:
        """The function in normal form for these argument kinds; refused here if it updates in place a value
        another name may hold (known only once every statement is normalised)."""
        fn_ir = normalize(self.src, self.resolver, reserved={BACKEND}, kinds=ranks, has_aux=self.has_aux)
        refuse_shared_updates(fn_ir, {name: values.rank(d) for name, d in ranks.items()})
        self._refuse_replaced_numpy(fn_ir)
        return fn_ir

    def _refuse_replaced_numpy(self, fn_ir):
        """Refuse `np.sin` where another object was put in numpy's place (`np.sin = np.tanh`, or a mock): the
        generated code calls numpy's own function by that name, and a gradient compiled before the change is
        not compiled again (numpy's attributes are not guarded: that would cost every call)."""
        for chain in fn_ir.references:
            root, *attributes = chain.split(".")
            obj = fn_ir.references.get(root, MISSING)
            obj = self.resolver.lookup(root) if obj is MISSING else obj
            for attribute in attributes:
                if not is_numpy_module(obj):
                    break
                module, own, obj = obj, numpy_own(obj, attribute), getattr(obj, attribute, MISSING)
                if own is not MISSING and obj is not own:
                    where = next((stmt.origin.location for stmt in ir.walk(fn_ir.body) if chain in stmt.origin.text),
                                 self.src.location(self.src.tree))
                    raise SourcegradError(
                        f"`{chain}` is not {module.__name__}.{attribute}: numpy's function was replaced (by "
                        f"{getattr(obj, '__qualname__', None) or type(obj).__name__}), and sourcegrad differentiates "
                        "numpy's own functions", where,
                        f"Restore {module.__name__}.{attribute}, or call the replacement by a name of its own "
                        "(`act = ...`, then `act(x)`).")

    def compile(self, wrt, ranks: dict, generated_dir=None, mode="reverse") -> Compiled:
        """The gradient for these argument ranks (mode "reverse"), or the derivative along tangents of the wrt
        arguments (mode "forward", `sourcegrad.jvp`): from its file in generated/ where one is current."""
        load_optional_rules()  # scipy's rules, once the program has imported scipy
        rules_version = RULES_VERSION[0]  # before any rule is read: a rule changed meanwhile leaves this one stale
        forward_mode = mode == "forward"
        src = self.src
        fn_ir = self.normal_form(ranks)
        backend = _backend_name(fn_ir)
        references = sorted((chain, describe(obj), _rule_source(obj)) for chain, obj in fn_ir.references.items())
        # Where the function and each helper written in start in their files: the comments and the header cite
        # their lines, and a runtime error is placed by them (Compiled.locate), so a function moved is another file.
        lines = sorted({(s.filename, s.location(s.tree).line) for stmt in ir.walk(fn_ir.body)
                        for s in [stmt.origin.source] if s is not None} | {(src.filename, src.location(src.tree).line)})
        key = store.digest(__version__, store.compiler_fingerprint(), src.text, src.filename, src.fn.__qualname__,
                           tuple(wrt), sorted(values.stable(tuple(ranks.items()))), references, fn_ir.inlined,
                           self.has_aux, _argument_rules(ranks), mode, lines)
        name = (forward_code.function_name(fn_ir.name) if forward_mode
                else codegen.function_name(f"{fn_ir.name}_jvp" if mode == "hvp" else fn_ir.name))
        # Closures of one factory share a qualified name; those holding other functions (`act`) get other code,
        # so a file of their own each, rather than one file rewritten by turns.
        captured = sorted(describe(obj) for chain, obj in fn_ir.references.items()
                          if self.resolver.is_closure_variable(chain.split(".")[0]) or chain.split(".")[0] in fn_ir.closure_cells
                          if callable(obj) or isinstance(obj, types.ModuleType))
        path = store.generated_dir(generated_dir) / _file_name(src, wrt, [ranks.get(p) for p in fn_ir.params + fn_ir.kwonly],
                                                               captured, self.has_aux, mode)

        argument_ranks = {name: values.rank(d) for name, d in ranks.items()}

        def transformed():  # the reverse pass, simplified: made only where no file in generated/ has it
            return simplify(reverse(fn_ir, src, wrt, argument_ranks, backend))

        text = store.read_cached(path, key, name)
        from_cache = text is not None
        if text is None and forward_mode:
            code = forward_code.generate(forward(fn_ir, src, wrt, argument_ranks, backend))
            text = store.file_text(code, key, _description(src, wrt, fn_ir, ranks, mode))
            path = _write(path, text)
        elif text is None and mode == "hvp":
            # reverse mode over forward mode: the gradient of the derivative along tangents t is the Hessian times t
            fwd = forward(fn_ir, src, wrt, argument_ranks, backend, prefix="t_")
            directional = directional_function(fwd)
            tangent_ranks = {fwd.tangent_names[w]: argument_ranks.get(w) for w in wrt}
            rev = simplify(reverse(directional, src, wrt, {**argument_ranks, **tangent_ranks}, backend))
            code, notes = codegen.generate(rev, plan_memory(rev))
            text = store.file_text(code, key, _description(src, wrt, fn_ir, ranks, mode) + notes)
            path = _write(path, text)
        elif text is None:
            rev = transformed()
            code, notes = codegen.generate(rev, plan_memory(rev))
            text = store.file_text(code, key, _description(src, wrt, fn_ir, ranks) + notes)
            path = _write(path, text)
        function = _reading_cells(store.load_function(text, str(path or f"<sourcegrad {name}>"), name, src.fn),
                                  fn_ir.closure_cells)
        seed = None if forward_mode else _seed_from(function)

        def make_buffered():
            into_path = path.with_name(f"{path.stem}{_INTO_SUFFIX}.py") if path is not None else None
            into_text = store.read_cached(into_path, key, f"{name}_into") if into_path is not None else None
            if into_text is None:
                rev = transformed()
                code = codegen.generate_buffered(rev, plan_memory(rev))
                if code is None:
                    return None
                description = [f"The `_into` variant of {path.name if path else name}: the same code, writing its "
                               "arrays into buffers kept between calls and the gradients into the caller's arrays."]
                into_text = store.file_text(code, key, description)
                into_path = _write(into_path, into_text) if into_path is not None else None
            return _reading_cells(store.load_function(into_text, str(into_path or f"<sourcegrad {name}_into>"),
                                                      f"{name}_into", src.fn), fn_ir.closure_cells)

        globals_ = src.fn.__globals__
        guards = []
        for chain, obj in fn_ir.references.items():
            root, *attributes = chain.split(".")
            cell = fn_ir.closure_cells.get(root) or (self.resolver.cells.get(root) if self.resolver.is_closure_variable(root) else None)
            if cell is not None:
                # A closure variable is read from its cell when the gradient runs; one holding a function, a
                # module or None decides the code (`act`, captured from a factory, is np.tanh or np.sin, or None
                # and `if act is not None:` leaves its branch out): a guard.
                if callable(obj) or isinstance(obj, types.ModuleType) or obj is None:
                    guards.append((CellNamespace(cell), root, tuple(attributes), obj))
                continue
            # An attribute (`cfg.act`) is guarded where what it holds decides the code: a function (its rule,
            # or its code written in), a module, or None (`if cfg.act is not None:` is decided when compiling).
            # numpy's are reached through `xp` whatever they are bound to, and data (`cfg.scale`) is read when
            # the code runs.
            if not attributes:  # a builtin (`range`) is guarded as not being a global
                guards.append((globals_, root, (), globals_.get(root, UNBOUND)))
            elif (callable(obj) or isinstance(obj, types.ModuleType) or obj is None) \
                    and not is_numpy_module(globals_.get(root)):
                guards.append((globals_, root, tuple(attributes), obj))
        guards += [(namespace, chain[0], chain[1:], obj) for namespace, chain, obj in fn_ir.callees]
        # The generated function takes the defaults the user's had when it was loaded: one rebound since
        # (`f.__defaults__ = (5.0,)`, or a keyword-only default changed in its dict) means loading it again,
        # and, where a default's rank changed, compiling for the new rank. Another code object put in the
        # function's place (`f.__code__ = g.__code__`) means reading its source anew (Frontend.stale).
        guards += [(namespace, chain[0], chain[1:], obj) for namespace, chain, obj in function_guards(src.fn)]
        # A pass-through decorator's wrapper, looked through to the function read (here, or to a helper
        # inlined): its code, and the name it calls the function by, rebound, and the call runs other code.
        through = list(self.through)
        for _, _, callee in fn_ir.callees:
            callee = getattr(callee, "fn", callee) if type(callee).__name__ == "DifferentiableFunction" else callee
            if isinstance(callee, (types.FunctionType, functools._lru_cache_wrapper)):
                function_to_differentiate(callee, through)
        guards += [(namespace, chain[0], chain[1:], obj) for namespace, chain, obj in through]
        sources = {src.filename: src.path}  # first: a helper's file of the same base name does not hide it
        for stmt in ir.walk(fn_ir.body):
            sources.setdefault(os.path.basename(stmt.origin.location.path), stmt.origin.location.path)
        user_rules = sorted({rule.name for stmt in ir.walk(fn_ir.body) if isinstance(stmt, ir.Assign)
                             for rule in [registry.record(stmt.primitive).rule] if getattr(rule, "by_user", False)})
        return Compiled(function, text, path, seed, src.location(src.tree.body[-1]), from_cache, tuple(guards),
                        rules_version, sources, make_buffered if mode == "reverse" else None,
                        row_loops(fn_ir, argument_ranks), tuple(user_rules))


    STAGES = ("normal form", "activity", "reverse", "simplified", "memory plan", "generated")

    def stages(self, wrt, ranks: dict) -> dict:
        """Each stage's output as text, in pipeline order (see STAGES), for `sourcegrad.explain`: the normal
        form, what activity and shape analysis know of each value, the reverse pass as the transformation
        writes it, the same after simplification, the memory plan, and the generated function."""
        load_optional_rules()
        src = self.src
        fn_ir = self.normal_form(ranks)
        backend = _backend_name(fn_ir)
        argument_ranks = {name: values.rank(d) for name, d in ranks.items()}
        rev = reverse(fn_ir, src, wrt, argument_ranks, backend)
        texts = {"normal form": codegen.normal_form(fn_ir, backend),
                 "activity": _activity_text(fn_ir, rev)}
        texts["reverse"] = codegen.generate(rev, MemoryPlan(rev))[0]  # as the transformation writes it: no decisions
        simplified = simplify(rev)
        texts["simplified"] = codegen.generate(simplified, MemoryPlan(simplified))[0]
        memory = plan_memory(simplified)
        texts["memory plan"] = memory.describe()
        code, notes = codegen.generate(simplified, memory)
        texts["generated"] = "\n".join(f"# {line}" for line in _description(src, wrt, fn_ir, ranks) + notes) + "\n\n" + code
        return texts


class _WithClosureCells(dict):
    """The generated function's globals where it reads closure variables: those names from their cells, live (a
    closure made again with another value gives its own gradient), every other from the module's globals."""

    def __init__(self, module_globals, cells):
        super().__init__(__builtins__=module_globals.get("__builtins__", builtins))
        self.module_globals, self.cells = module_globals, cells

    def __missing__(self, name):
        cell = self.cells.get(name)
        if cell is None:
            return self.module_globals[name]  # a KeyError sends Python on to the builtins
        try:
            return cell.cell_contents
        except ValueError:
            raise NameError(f"the variable `{name}` of an enclosing function has no value now") from None


def _reading_cells(function, cells):
    """function, reading the closure variables in cells (generated name -> cell) from them."""
    if not cells:
        return function
    reading = types.FunctionType(function.__code__, _WithClosureCells(function.__globals__, dict(cells)),
                                 function.__name__, function.__defaults__, None)
    reading.__kwdefaults__, reading.__doc__ = function.__kwdefaults__, function.__doc__
    return reading


def _activity_text(fn_ir, rev):
    """One line per value the function binds: its rank where known, and whether it needs a gradient."""
    active = set(rev.adjoint_names)
    lines, seen = [], set()
    for name in fn_ir.params + fn_ir.kwonly + [n for stmt in ir.walk(fn_ir.body) for n in ir.bound_names(stmt)]:
        if name in seen:
            continue
        seen.add(name)
        rank = rev.facts.ranks.get(name)
        kind = "rank ?" if rank is None else f"rank {rank}" if isinstance(rank, int) else "structure"
        lines.append(f"{name}: {kind}, {'active: ' + rev.adjoint_names[name] if name in active else 'no gradient'}")
    return "\n".join(lines) + "\n"


FORWARD_TAG = "__jvp_"  # in the name of a forward-mode file, before its wrt names
HVP_TAG = "__hvp_"  # the same for Hessian-vector products
_INTO_SUFFIX = "__into"  # the `_into` variant's file: the plain file's name with this before `.py`


def _write(path, text):
    """Write a generated file; path, or None where it could not be written (the code is then in memory only)."""
    try:
        store.write_atomic(path, text)
    except OSError as exc:
        warnings.warn(f"sourcegrad could not write {path} ({exc}); the gradient is compiled in memory only.")
        return None
    return path


def _argument_rules(ranks):
    """The user's rules for functions passed as arguments (`loss(w, act=myact)`): they decide the code as the
    rules of the globals it calls do, so they are part of the cache key too."""
    return sorted((name, _rule_source(values.function_of(d)) or "") for name, d in ranks.items()
                  if values.function_of(d) is not None)


def _rule_source(obj):
    """The source of a user's @adjoint rule for obj, or of its non-differentiable mark: part of the cache key."""

    try:
        if obj in registry.NONDIFFERENTIABLE:
            return "non-differentiable"
        template = registry.RULES.get(obj)
    except TypeError:  # unhashable
        return None
    if template is None or template.fn.__module__.startswith("sourcegrad."):
        return None
    return template.source()


def _seed_from(function):
    # The output-gradient keyword is the generated function's last keyword-only parameter.
    code = function.__code__
    return code.co_varnames[code.co_argcount + code.co_kwonlyargcount - 1]


def _backend_name(fn_ir):
    """`xp`, unless the function itself uses `xp` for something other than numpy."""
    local = set(fn_ir.params) | set(fn_ir.kwonly) | {s.target for s in fn_ir.body if hasattr(s, "target")}
    for s in fn_ir.body:
        local.update(getattr(s, "targets", ()))
    clash = BACKEND in local or (BACKEND in fn_ir.references and not is_numpy_module(fn_ir.references[BACKEND]))
    if not clash:
        return BACKEND
    n = 2
    while f"{BACKEND}{n}" in fn_ir.names:
        n += 1
    return f"{BACKEND}{n}"


def _description(src, wrt, fn_ir, ranks, mode="reverse"):
    where = f"{src.filename}:{src.location(src.tree).line}"
    rank_text = ", ".join(f"{p}={values.text(ranks.get(p))}" for p in fn_ir.params + fn_ir.kwonly)
    name = f"{src.fn.__qualname__} ({where})"
    what = {"forward": f"Forward-mode derivative of {name} along tangents of {', '.join(wrt)}.",
            "hvp": f"Hessian-vector products of {name}: the gradient, with respect to {', '.join(wrt)}, of its "
                   f"derivative along the tangents t_{', t_'.join(wrt)}.",
            }.get(mode, f"Gradient of {name} with respect to {', '.join(wrt)}.")
    return [what,
            f"Compiled for argument ranks {rank_text} (? = not an array); any shapes of those ranks."]


def _file_name(src, wrt, ranks, captured=(), has_aux=False, mode="reverse"):
    stem = Path(src.filename).stem
    qualname = re.sub(r"[^0-9A-Za-z_]+", "_", src.fn.__qualname__.replace("<locals>", "")).strip("_")
    qualname = re.sub(r"_+", "_", qualname)
    if src.fn.__code__.co_name == "<lambda>":  # lambdas have no name of their own: tell them apart by their line
        qualname = f"{qualname}_line{src.tree.lineno}"
    rank_text = "".join(str(r) if isinstance(r, int) else "x" for r in ranks)
    if any(isinstance(r, tuple) for r in ranks):  # structures: tell them apart by a short hash
        rank_text += "_" + store.digest(*values.stable(tuple(ranks)))[:6]
    if captured:  # the functions closure variables hold
        rank_text += "_" + store.digest(*captured)[:6]
    aux = "_aux" if has_aux else ""  # another function (it returns the pair): a file of its own
    direction = {"forward": FORWARD_TAG, "hvp": HVP_TAG}.get(mode, "__")  # a file of its own beside the gradient's
    return f"{stem}_{qualname}{direction}{'_'.join(wrt)}__{rank_text}{aux}.py"
