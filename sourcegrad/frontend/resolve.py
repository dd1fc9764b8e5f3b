"""Resolve the names a function reads through its globals, closure and builtins.

Nothing here assumes the alias `np`: `import numpy as xp` or
`from numpy import maximum` resolve to the same numpy objects, and the
generated code then calls them through the array module it is handed.
"""

from __future__ import annotations

import builtins
import dis
import functools
import os
import site
import sys
import sysconfig
import types

_MISSING = object()
UNBOUND = object()  # a guard's value for a name that is no global (a builtin, or a name not defined yet)


class Resolver:
    def __init__(self, fn):
        self.fn = fn
        self.globals = fn.__globals__
        self.cells = {}  # closure variable -> its cell, read live (here, and by the generated code)
        if fn.__closure__:
            self.cells = dict(zip(fn.__code__.co_freevars, fn.__closure__))

    def lookup(self, identifier: str):
        """The object a free name refers to, or _MISSING."""
        if identifier in self.cells:  # read now: a Frontend outlives a rebinding of the variable (then recompiles)
            try:
                return self.cells[identifier].cell_contents
            except ValueError:  # a cell not yet filled, or emptied
                return _MISSING
        if identifier in self.globals:
            return self.globals[identifier]
        return getattr(builtins, identifier, _MISSING)

    def is_closure_variable(self, identifier: str) -> bool:
        return identifier in self.cells

    def resolve_chain(self, chain):
        """Resolve `a.b.c` given as ['a', 'b', 'c']; _MISSING where any step is missing."""
        obj = self.lookup(chain[0])
        for attr in chain[1:]:
            if obj is _MISSING:
                return _MISSING
            obj = getattr(obj, attr, _MISSING)
        return obj


MISSING = _MISSING


class CellNamespace:
    """One closure cell with the `get` of a namespace dict, so that a compiled gradient's guards check a closure
    variable (`act`, captured from a factory) the way they check a global: `namespace.get(name, default)`."""

    __slots__ = ("cell",)

    def __init__(self, cell):
        self.cell = cell

    def get(self, name, default=None):
        try:
            return self.cell.cell_contents
        except ValueError:  # emptied (`del`), or not yet filled
            return default


class AttributeNamespace:
    """An object's attributes with the `get` of a namespace dict, so that a guard checks a function's
    `__code__` or `__defaults__`, or a class's method (rebound after the gradient was compiled), the way it
    checks a global."""

    __slots__ = ("obj", "get")

    def __init__(self, obj):
        self.obj = obj
        self.get = functools.partial(getattr, obj)  # get(name, default): a call in C, on every call's guards


def function_guards(fn):
    """(namespace, attribute chain, object) for what of fn a compiled gradient takes besides its source file: its
    code object (one put in its place, `f.__code__ = g.__code__`, is other code) and its defaults (written in as
    literals), each of them that fn has; its keyword-only defaults each on its own, since their dict may change
    in place."""
    attributes = AttributeNamespace(fn)
    guards = [(attributes, (name,), getattr(fn, name)) for name in ("__code__", "__defaults__", "__kwdefaults__")
              if getattr(fn, name) is not None]
    # The names it reads as globals that are none when it is compiled (a builtin: `sum`, `len`): one defined
    # later (`from numpy import *` in a notebook rebinds `sum`) is what the function then calls.
    guards += [(fn.__globals__, (name,), UNBOUND) for name in sorted(global_reads(fn.__code__))
               if name not in fn.__globals__]
    return guards + [(fn.__kwdefaults__, (name,), value) for name, value in (fn.__kwdefaults__ or {}).items()]


def global_reads(code) -> set:
    """The names code reads as globals or builtins, in its own body and in the functions and lambdas defined in it."""
    names = {instruction.argval for instruction in dis.get_instructions(code)
             if instruction.opname in ("LOAD_GLOBAL", "LOAD_NAME")}
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            names |= global_reads(constant)
    return names


def is_numpy_module(obj) -> bool:
    return isinstance(obj, types.ModuleType) and (obj.__name__ == "numpy" or obj.__name__.startswith("numpy."))


_numpy_paths = None


def numpy_path(obj):
    """The attribute path of a numpy object under the numpy namespace ('maximum', 'linalg.norm'), or None."""
    global _numpy_paths
    if _numpy_paths is None:
        paths = {}
        # The modules' own dicts, not dir() and getattr(): those would import every lazily loaded part of
        # numpy (f2py, testing, ...), a tenth of a second spent on nothing.
        for prefix, name in (("", "numpy"), ("linalg.", "numpy.linalg"), ("random.", "numpy.random"), ("fft.", "numpy.fft")):
            module = sys.modules.get(name)
            for attr, value in (vars(module).items() if module is not None else ()):
                if attr.startswith("_"):
                    continue
                if callable(value) and not isinstance(value, type):
                    # numpy 2 has aliases (np.acos for np.arccos): prefer the function's own name
                    if id(value) not in paths or attr == getattr(value, "__name__", None):
                        paths[id(value)] = prefix + attr
        _numpy_paths = paths
    return _numpy_paths.get(id(obj))


_numpy_own = {}  # numpy module name -> {attribute: object}: its functions as numpy defined them


def _take_numpy(name):
    module = sys.modules.get(name)
    if module is not None and name not in _numpy_own:
        _numpy_own[name] = {attr: value for attr, value in vars(module).items()
                            if not attr.startswith("_") and callable(value)}


for _name in ("numpy", "numpy.linalg", "numpy.random", "numpy.fft"):  # when sourcegrad is imported, those loaded then
    _take_numpy(_name)


def numpy_own(module, attribute):
    """numpy's own function `attribute` of module (numpy or one of its modules), as it was when sourcegrad was
    imported (or first saw that module), or MISSING: a program may have put another object in its place since
    (`np.sin = np.tanh`, `mock.patch("numpy.sin")`)."""
    _take_numpy(module.__name__)
    return _numpy_own.get(module.__name__, {}).get(attribute, _MISSING)


def describe(obj) -> str:
    """A stable, human-readable identity of a resolved object (for messages and the cache key)."""
    if isinstance(obj, types.ModuleType):
        return f"module {obj.__name__}"
    path = numpy_path(obj)
    if path is not None:
        return f"numpy.{path}"
    # By name alone: a script run directly lives in __main__, the same file imported in its own module,
    # and both must find the same generated file (what the code does is in the rest of the key).
    qualname = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    return qualname or type(obj).__name__


_library_roots = None
_OWN_PACKAGE = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))  # sourcegrad/: sourcegrad.nn is inlined


def is_library_code(fn) -> bool:
    """Whether fn was defined in an installed library or the standard library rather than the user's code.

    sourcegrad writes the user's own functions into the gradient; a library's function (scipy's, say) is a
    primitive that needs a rule, whatever its source holds. sourcegrad's own helpers (sourcegrad.nn) are
    written in like the user's.
    """
    global _library_roots
    if _library_roots is None:
        paths = sysconfig.get_paths()
        roots = {paths.get(key) for key in ("stdlib", "platstdlib", "purelib", "platlib")}
        roots |= set(getattr(site, "getsitepackages", lambda: [])())
        roots.add(getattr(site, "getusersitepackages", lambda: None)())
        _library_roots = tuple(os.path.realpath(root) + os.sep for root in roots if root)
    filename = os.path.realpath(getattr(getattr(fn, "__code__", None), "co_filename", "") or "")
    if filename.startswith(_OWN_PACKAGE + os.sep):
        return False
    return filename.startswith(_library_roots)
