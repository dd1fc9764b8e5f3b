"""Write the README's table of supported functions from sourcegrad's rule registry.

    python tools/rules_table.py          # rewrite the table in README.md
    python tools/rules_table.py --check  # exit 1 if the committed table is stale (a test runs this)
"""

import argparse
import builtins
import operator
import sys
from pathlib import Path

import gast
import numpy

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sourcegrad.ir import ATTRIBUTE, COMPARISON, DICT_KEYS, JOIN_SEQUENCES, REPEAT_SEQUENCE, SET_ITEM, SUBSCRIPT  # noqa: E402
from sourcegrad.frontend.resolve import numpy_path  # noqa: E402
from sourcegrad.ir import Method  # noqa: E402
from sourcegrad.runtime import HELPERS  # noqa: E402
from sourcegrad.templates import (ATTRIBUTES, METHODS, NONDIFFERENTIABLE, RULES, TANGENT_RULES,  # noqa: E402
                                  load_optional_rules)
from sourcegrad.templates.registry import helpers_without_gradient  # noqa: E402

try:  # the table lists the rules for optional libraries too (the test extra installs scipy)
    import scipy.linalg  # noqa: F401
    import scipy.special  # noqa: F401
    import scipy.stats  # noqa: F401
except ImportError:
    pass
load_optional_rules()

BEGIN, END = "<!-- rules table: begin (tools/rules_table.py writes it) -->", "<!-- rules table: end -->"
OPERATORS = {operator.add: "`+`", operator.sub: "`-`", operator.mul: "`*`", operator.truediv: "`/`",
             operator.pow: "`**`", operator.matmul: "`@`", operator.neg: "unary `-`", operator.pos: "unary `+`",
             operator.floordiv: "`//`", operator.mod: "`%`", operator.not_: "`not`", operator.and_: "`&`",
             operator.or_: "`|`", operator.xor: "`^`", COMPARISON: "comparisons", SUBSCRIPT: "`x[...]`",
             ATTRIBUTE: "an object's attribute (`model.w1`)", JOIN_SEQUENCES: "`+` of lists (`outs + [h]`)",
             REPEAT_SEQUENCE: "`*` of a list (`[h] * 3`)", DICT_KEYS: "a dict's keys (`list(d)`)"}
# What forward mode does without a tangent rule: transform/forward.py writes `a[i] = v`'s tangent itself.
FORWARD_WITHOUT_A_RULE = {SET_ITEM}
FAMILIES = {"arithmetic": "arithmetic", "elementwise": "elementwise math", "linalg": "linear algebra",
            "reductions": "reductions", "shape": "shape and copies", "indexing": "indexing, joining, splitting",
            "scipy_special": "scipy.special (when scipy is installed)",
            "scipy_stats": "scipy.stats (when scipy is installed)",
            "scipy_linalg": "scipy.linalg (when scipy is installed)"}


def spelling(primitive):
    if primitive in OPERATORS:
        return OPERATORS[primitive]
    if isinstance(primitive, Method):
        return f"`.{primitive.name}{'()' if primitive.is_call else ''}`"
    if getattr(builtins, getattr(primitive, "__name__", ""), None) is primitive:
        return f"`{primitive.__name__}()`"
    if getattr(primitive, "__module__", None) == "math":
        return f"`math.{primitive.__name__}`"
    owner = getattr(primitive, "__self__", None)  # a distribution's method: `scipy.stats.norm.logpdf`
    stats = sys.modules.get("scipy.stats")
    if stats is not None and owner is not None and not isinstance(owner, type):
        for name in ("norm", "t", "multivariate_normal"):
            if getattr(stats, name, None) is owner:
                return f"`scipy.stats.{name}.{primitive.__name__}`"
    if isinstance(owner, numpy.ufunc):  # a ufunc's method: `np.maximum.accumulate`
        return f"`np.{owner.__name__}.{primitive.__name__}`"
    scipy_linalg = sys.modules.get("scipy.linalg")
    if scipy_linalg is not None and getattr(scipy_linalg, getattr(primitive, "__name__", ""), None) is primitive:
        return f"`scipy.linalg.{primitive.__name__}`"
    special = sys.modules.get("scipy.special")
    if special is not None and getattr(special, getattr(primitive, "__name__", ""), None) is primitive:
        return f"`scipy.special.{primitive.__name__}`"  # scipy's ufuncs have no __module__ to tell by
    path = numpy_path(primitive)
    if path is None:
        return f"`sourcegrad.{primitive.__name__}`" if getattr(primitive, "__module__", "").startswith("sourcegrad") \
            else f"`{getattr(primitive, '__name__', primitive)}`"
    return f"`np.{path}`"


def table():
    by_family, without_tangent, without_second, second_in_part = {}, {}, {}, {}
    for primitive, template in RULES.items():
        family = template.fn.__module__.rsplit(".", 1)[-1]
        if family in FAMILIES and not _runtime_helper(primitive):
            by_family.setdefault(family, set()).add(spelling(primitive))
            if primitive not in TANGENT_RULES and primitive not in FORWARD_WITHOUT_A_RULE:
                without_tangent.setdefault(family, set()).add(spelling(primitive))
            if primitive in TANGENT_RULES and helpers_without_gradient(TANGENT_RULES[primitive]):
                partly = _in_part(TANGENT_RULES[primitive])
                (second_in_part if partly else without_second).setdefault(family, set()).add(spelling(primitive))
    methods = {}
    for name, (primitive, _) in METHODS.items():
        methods.setdefault(RULES[primitive].fn.__module__.rsplit(".", 1)[-1], set()).add(f"`.{name}()`")
    for name, primitive in ATTRIBUTES.items():
        methods.setdefault(RULES[primitive].fn.__module__.rsplit(".", 1)[-1], set()).add(f"`.{name}`")
    lines = ["| family | with a gradient rule | array methods and attributes | forward mode (jvp) | second derivatives (hvp) |",
             "|---|---|---|---|---|"]
    for family, title in FAMILIES.items():
        if family in by_family:
            forward = _forward(by_family[family], without_tangent.get(family, set()))
            without = without_tangent.get(family, set()) | without_second.get(family, set())
            second = _forward(by_family[family], without)
            if second_in_part.get(family):
                second += f"; in part: {', '.join(sorted(second_in_part[family]))}"
            lines.append(f"| {title} | {', '.join(sorted(by_family[family]))} | {', '.join(sorted(methods.get(family, [])))} "
                         f"| {forward} | {second} |")
    zero = sorted({spelling(p) for p in NONDIFFERENTIABLE if not _user(p) and not _runtime_helper(p)})
    lines.append(f"| no gradient (zero, never an error) | {', '.join(zero)} | | zero tangents | zero |")
    return "\n".join(lines)


def _forward(spellings, without):
    """Which of a family's functions have a forward-mode (tangent) rule too: the methods share their functions'."""
    if not without:
        return "all"
    if without == spellings:
        return "none"
    return "all but " + ", ".join(sorted(without))


def _runtime_helper(primitive):
    """A helper the generated code calls (`xp.max_jvp`): its rules serve hvp, they are not functions users call.
    sourcegrad.broadcast_like is one users may call, and is listed."""
    return any(primitive is helper for helper in HELPERS.values()) and primitive.__name__ != "broadcast_like"


def _in_part(template):
    """Whether some line of a tangent rule calls no helper without a gradient rule: hvp then reaches through some
    forms of the function (np.linalg.norm's 2-norms) and not others."""
    missing = set(helpers_without_gradient(template))
    lines = [node for node in gast.walk(gast.Module(body=template._parse(), type_ignores=[]))
             if isinstance(node, gast.Assign)]
    return any(not any(isinstance(n, gast.Name) and n.id in missing for n in gast.walk(line.value)) for line in lines)


def _user(primitive):
    module = getattr(primitive, "__module__", "") or ""
    return not (module.startswith("numpy") or module in ("builtins", "_operator", "operator", "math") or isinstance(primitive, (str, Method))
                or module.startswith("sourcegrad") or primitive in OPERATORS)


def rewritten(readme):
    start, end = readme.index(BEGIN), readme.index(END)
    return readme[:start] + BEGIN + "\n" + table() + "\n" + readme[end:]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    path = REPO / "README.md"
    readme = path.read_text()
    new = rewritten(readme)
    if args.check:
        if new != readme:
            print("README.md's table of supported functions is stale: run python tools/rules_table.py")
            return 1
        return 0
    path.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
