"""Names for the normal form: temporaries named after what they hold, a new version for each reassignment.

The generated code is meant to be read, so a temporary is called `y_pred_minus_y` or `square`, not `t3`;
a name a reader knows (a keyword, a builtin such as `sum`) is never shadowed. A user name assigned twice
gets a new version (`h`, then `h_2`), so each value the reverse pass reads is still there when it reads
it; inside a loop or branch a name instead keeps one name throughout (it is pinned), so the iterations
and branches agree on where the value lives.
"""

from __future__ import annotations

import keyword

import gast

_MAX_NAME = 16
_INSTEAD_OF_KEYWORD = {"not": "negation", "and": "both", "or": "either", "in": "contained", "is": "identical"}
# Temporaries never shadow a builtin a reader knows: `.sum()` of a long expression is `total`, not `sum`.
_INSTEAD_OF_BUILTIN = {"sum": "total", "max": "largest", "min": "smallest", "abs": "magnitude", "pow": "power",
                       "round": "rounded", "len": "length", "all": "all_true", "any": "any_true"}

# An operator's word, for a name joining its operands (`a_plus_b`), and its result's noun, for when they
# cannot be joined (`total`).
_BINARY_WORDS = {gast.Add: ("plus", "total"), gast.Sub: ("minus", "difference"), gast.Mult: ("times", "product"),
                 gast.Div: ("over", "quotient"), gast.Pow: ("pow", "power"), gast.MatMult: ("matmul", "matmul"),
                 gast.FloorDiv: ("floordiv", "floor_quotient"), gast.Mod: ("mod", "remainder"),
                 gast.BitAnd: ("and", "both"), gast.BitOr: ("or", "either"), gast.BitXor: ("xor", "one_of")}
UNARY_WORDS = {gast.USub: "neg", gast.UAdd: "pos", gast.Not: "not", gast.Invert: "invert"}
_COMPARE_WORDS = {gast.Gt: "gt", gast.GtE: "ge", gast.Lt: "lt", gast.LtE: "le", gast.Eq: "eq", gast.NotEq: "ne",
                  gast.Is: "is", gast.IsNot: "is_not", gast.In: "in", gast.NotIn: "not_in"}


class Names:
    """The names one function's normal form uses, and which name each of the user's names holds now."""

    def __init__(self, taken, params, kwonly):
        self.used = set(taken)  # every name in use: a fresh name is none of these
        self.params = params
        self.current = {p: p for p in params + kwonly}  # user name -> its live version
        self.pinned = {}  # user name -> the one name it has throughout the compound statement being normalised
        self.in_helper = False  # naming the body of a helper being inlined
        self.made = set()  # the fresh names given out, which a helper inlined later may read as globals

    def version(self, user_name):
        """The name a new assignment to user_name binds: the name itself the first time, then name_2, ...;
        inside a compound statement, always its pinned name."""
        name = self.pinned[user_name] if user_name in self.pinned else self.fresh_version(user_name)
        self.current[user_name] = name
        return name

    def fresh_version(self, user_name):
        if user_name in self.pinned:
            return self.pinned[user_name]
        if self.in_helper:  # a helper's names must not take names the caller uses
            return self.fresh(user_name)
        name = user_name if user_name not in self.current and user_name not in self.params else self.fresh(user_name)
        self.used.add(name)
        return name

    def fresh(self, base):
        if keyword.iskeyword(base):  # `not x` of a long expression: a temporary named `not` would not parse
            base = _INSTEAD_OF_KEYWORD.get(base, f"{base}_value")
        if base not in self.used and base not in self.current:
            self.used.add(base)
            self.made.add(base)
            return base
        n = 2
        while f"{base}_{n}" in self.used:
            n += 1
        self.used.add(f"{base}_{n}")
        self.made.add(f"{base}_{n}")
        return f"{base}_{n}"

    def temporary(self, hint):
        """A fresh name for a temporary, from a hint of what it holds: a long or odd hint is cut to its first word."""
        hint = hint if _short(hint) else _fallback(hint)
        return self.fresh(_INSTEAD_OF_BUILTIN.get(hint, hint))

    def named_after(self, function_name):
        """A fresh name for what a call of the user's function_name returns."""
        return self.fresh(_INSTEAD_OF_BUILTIN.get(function_name, function_name))

    def take(self, identifiers):
        """Mark identifiers as in use, so that no fresh name is one of them."""
        self.used |= identifiers

    # ---- compound statements: a name keeps one name throughout ----------------------------

    def pin(self, user_name):
        """Fix the name user_name has throughout the compound statement about to be normalised: the one it
        holds now, or a new one. False if an enclosing compound statement pinned it already."""
        if user_name in self.pinned:
            return False
        self.pinned[user_name] = self.current.get(user_name) or self.fresh_version(user_name)
        return True

    def unpin(self, user_name):
        """After the compound statement, user_name holds the name it kept throughout."""
        self.current[user_name] = self.pinned.pop(user_name)

    # ---- a helper being inlined: a scope of its own ---------------------------------------

    def enter_helper(self, bindings):
        """Start naming a helper's body, its parameters bound to the caller's names in bindings; returns
        what leave() restores."""
        outer = (self.current, self.pinned, self.in_helper)
        self.current, self.pinned, self.in_helper = dict(bindings), {}, True
        return outer

    def leave(self, outer):
        self.current, self.pinned, self.in_helper = outer


def binary_hint(op, left, right):
    """`y_pred_minus_y` for `y_pred - y` where that is short enough, else the result's noun (`difference`)."""
    word, noun = _BINARY_WORDS[type(op)]
    return _joined(left, word, right) or noun


def unary_hint(op, operand):
    word = UNARY_WORDS[type(op)]
    return f"{word}_{operand.id}" if isinstance(operand, gast.Name) else word


def comparison_hint(left, ops, comparators):
    hint = _joined(left, _COMPARE_WORDS[type(ops[0])], comparators[0]) if len(comparators) == 1 else None
    return hint or "condition"


def _joined(left, word, right):
    parts = []
    for operand in (left, right):
        if isinstance(operand, gast.Name):
            parts.append(operand.id)
        elif isinstance(operand, gast.Constant) and isinstance(operand.value, int) and not isinstance(operand.value, bool) \
                and operand.value >= 0:
            parts.append(str(operand.value))
        else:
            return None
    name = f"{parts[0]}_{word}_{parts[1]}"
    return name if len(name) <= _MAX_NAME else None


def _short(hint):
    return hint is not None and len(hint) <= _MAX_NAME and hint.isidentifier()


def _fallback(hint):
    if hint and hint.split("_")[0].isidentifier():
        return hint.split("_")[0]
    return "value"
