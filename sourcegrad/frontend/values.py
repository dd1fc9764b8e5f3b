"""What the compiler may know of an argument from its value: its rank, or the structure around its arrays.

A gradient is compiled per combination of these descriptions: an array is known by its
rank (shapes, dtypes and devices may vary), a dict, list or tuple by its keys or length and
what it holds, an object by its class and its attributes. Knowing a model object's class
is what lets `model.forward(x)` be inlined, and knowing `params["w1"]` is a matrix what
lets its gradient read `d_y @ w1.T`.
"""

from __future__ import annotations

import functools
import types

from ..runtime.core import instance_attributes, is_namedtuple, opaque_callable
from .resolve import describe as describe_object

_DEPTH = 8  # a model's modules nest: Sequential > its layers > a Sequential > its layers > a Linear > its w
_LONGEST = 64
TEXT = "text"  # a string or int written in the function (a key, a mode): it never carries a gradient
NOTHING = "none"  # None passed in (`act=None`, `bias=None`): `if act is not None:` is then decided when compiling
# A Python int or bool inside a structure (a model's `self.hidden_size`, a config's `p["n"]`): a setting, not a
# parameter. Its changes cannot be followed by a derivative, so it carries no gradient, and it may size an array or
# bound a slice.
INTEGER = "int"


def describe(value, depth=_DEPTH, within=()):
    """An int rank for an array or a number, a tuple for a structure, NOTHING for None, INTEGER for an int or a
    bool inside a structure, None for anything else.
    within: the ids of the structures value is inside of: a layer holding its parent model is not walked again."""
    if value is None:
        return NOTHING
    ndim = getattr(value, "ndim", None)
    if isinstance(ndim, int) and hasattr(value, "shape"):
        return ndim
    if isinstance(value, (bool, int)) and depth < _DEPTH:  # a setting held by a structure (at the top: a number)
        return INTEGER
    if isinstance(value, (int, float, complex)) and not isinstance(value, bool):
        return 0
    if is_function(value):  # `nonlinearity=np.tanh`: the function decides the code (its rule, or its code written in)
        return ("function", value)
    if isinstance(value, functools.partial):
        return _partial(value)
    if depth == 0:
        return None
    if id(value) in within:  # a layer's reference back to its model: described again, but only near the surface
        depth = min(depth, 2)
    within = (*within, id(value))
    if isinstance(value, dict):
        if all(isinstance(k, (str, int)) for k in value):
            return ("dict", tuple((k, describe(v, depth - 1, within)) for k, v in value.items()))
        return None
    if isinstance(value, (list, tuple)):
        if len(value) > _LONGEST:
            return None
        items = tuple(describe(v, depth - 1, within) for v in value)
        if is_namedtuple(value):  # a tuple whose items are also read by name (`params.w1`, compiled as params[0])
            return ("tuple", items, type(value)._fields)
        return (type(value).__name__, items)
    if _is_plain_object(value):
        attributes = sorted(instance_attributes(value).items())
        # a callable is known by its name, but a layer object with __call__ (`self.linear1`) as any object is,
        # and a function (`self.act = np.tanh`) by what it is: the call goes to it
        def named_only(v):
            return opaque_callable(v) and not is_function(v) and not isinstance(v, functools.partial)

        return ("object", type(value), tuple(sorted(k for k, v in attributes if named_only(v))),
                tuple((k, describe(v, depth - 1, within)) for k, v in attributes if not named_only(v)))
    return None


def field_index(description, name):
    """The position of the field `name` of a namedtuple this describes (`params.w1` is `params[0]`), or None."""
    if isinstance(description, tuple) and description[0] == "tuple" and len(description) == 3 and name in description[2]:
        return description[2].index(name)
    return None


def _partial(value):
    """("partial", the function, its bound arguments, its bound keywords) for a functools.partial of a function that
    binds numbers, strings and None: the call is compiled as the function's, those written in as literals (so each
    is in the key, with its repr: 1, 1.0 and True are other code, and so are 0.0 and -0.0, which are equal);
    ("partial", None) for another, which is not."""
    function = describe(value.func)
    bound = (*value.args, *value.keywords.values())
    if function_of(function) is None or not all(v is None or type(v) in (bool, int, float, complex, str) for v in bound):
        return ("partial", None)
    return ("partial", function, tuple((repr(v), v) for v in value.args),
            tuple((k, repr(v), v) for k, v in sorted(value.keywords.items())))


def partial_call(description):
    """(the function, its bound arguments, its bound keywords as a dict) of a partial this describes, or None."""
    if not (isinstance(description, tuple) and description[0] == "partial" and description[1] is not None):
        return None
    return function_of(description[1]), [v for _, v in description[2]], {k: v for k, _, v in description[3]}


def is_function(value):
    """Whether value is a function (the user's, a builtin, numpy's), not an object that can also be called."""
    return isinstance(value, (types.FunctionType, types.BuiltinFunctionType)) or (
        callable(value) and not isinstance(value, type) and type(value).__module__ == "numpy")


def function_of(description):
    """The function a ("function", f) description names, or None."""
    return description[1] if isinstance(description, tuple) and description[0] == "function" else None


def _is_plain_object(value):
    return instance_attributes(value) is not None and not isinstance(
        value, (types.ModuleType, types.FunctionType, types.MethodType, type))


def rank(description):
    return description if isinstance(description, int) else None


def element(description, key):
    """The description of description[key] (a dict entry, a list item, an attribute), or None."""
    if not isinstance(description, tuple):
        return None
    kind = description[0]
    if kind == "dict" or kind == "object":
        return dict(description[-1]).get(key)
    if field_index(description, key) is not None:
        key = field_index(description, key)
    if kind in ("list", "tuple") and isinstance(key, int) and -len(description[1]) <= key < len(description[1]):
        return description[1][key]
    return None


def sliced(description, bounds):
    """The description of a list's or tuple's slice (bounds: its start, stop and step, ints or None), where known."""
    if isinstance(description, tuple) and description[0] in ("list", "tuple") and bounds is not None and bounds[2] != 0:
        return (description[0], description[1][slice(*bounds)])
    return None


def items(description):
    """What every item of a list or tuple is, as far as they agree (`common`), or None."""
    if isinstance(description, tuple) and description[0] in ("list", "tuple") and description[1]:
        return common(description[1])
    return None


def indexed(description):
    """What `x[i]` is, i known only when it runs: every item of a list or tuple, or value of a dict, as far as
    they agree (`common`), or None."""
    if isinstance(description, tuple) and description[0] == "dict" and description[1]:
        return common([value for _, value in description[1]])
    return items(description)


def common(descriptions):
    """What all of descriptions say: the description itself where they are one; lists or tuples of one length
    (namedtuples of the same fields), or dicts of the same keys, with what their items have in common (`(k, v)`
    pairs of `d.items()`, whose values differ in rank); else None."""
    first = descriptions[0]
    if all(d == first for d in descriptions):
        return first
    if isinstance(first, tuple) and first[0] in ("list", "tuple", "dict") and all(
            isinstance(d, tuple) and d[0] == first[0] and len(d[1]) == len(first[1]) for d in descriptions):
        if first[0] == "dict":
            keys = [k for k, _ in first[1]]
            if any([k for k, _ in d[1]] != keys for d in descriptions):
                return None
            return ("dict", tuple((k, common([dict(d[1])[k] for d in descriptions])) for k in keys))
        fields = first[2:] if all(d[2:] == first[2:] for d in descriptions) else ()  # namedtuples of one kind
        return (first[0], tuple(common([d[1][i] for d in descriptions]) for i in range(len(first[1]))), *fields)
    return None


def instance_callables(description):
    """Names of callables stored on the object itself (they hide the class's methods of those names)."""
    if not (isinstance(description, tuple) and description[0] == "object"):
        return ()
    return (*description[2], *(key for key, kind in description[3] if function_of(kind) is not None))


def instance_holds(description, name):
    """Whether the object description describes holds an attribute of that name itself (not its class)."""
    return isinstance(description, tuple) and description[0] == "object" and (
        name in description[2] or any(key == name for key, _ in description[3]))


def is_known_not_none(description):
    """Whether a value of this description is surely not None: an array, a number, a structure, a function."""
    return description is not None and description != NOTHING


def class_of(description):
    return description[1] if isinstance(description, tuple) and description[0] == "object" else None


def text(description):
    """A short human-readable form, for the generated file's header."""
    if isinstance(description, int):
        return str(description)
    if isinstance(description, tuple):
        if description[0] == "object":
            return description[1].__name__
        if description[0] == "function":
            return getattr(description[1], "__name__", "function")
        return description[0]
    return "?"


def stable(description):
    """description with classes by name: the same in `python examples/module.py` (where the class lives
    in __main__) as when the module is imported, so both find the same generated file."""
    if isinstance(description, tuple):
        return tuple(stable(d) for d in description)
    if isinstance(description, type):
        return description.__qualname__
    if is_function(description):  # numpy's by their path, the user's by name (their code is in the key beside)
        return describe_object(description)
    return description
