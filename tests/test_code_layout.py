"""The package's layout: the compiler's stages import downwards only, and only each other's public names."""

import ast
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools"))

import import_cycles  # noqa: E402


def test_no_module_imports_itself_through_others():
    assert import_cycles.cycles() == []


def test_the_cycle_finder_finds_a_cycle(tmp_path):
    package = tmp_path / "sourcegrad"
    (package / "inner").mkdir(parents=True)
    (package / "__init__.py").write_text("from .inner import b\n")
    (package / "inner" / "__init__.py").write_text("")
    (package / "inner" / "b.py").write_text("def f():\n    from .. import c  # inside a function: counted too\n")
    (package / "c.py").write_text("from .inner.b import f\n")
    assert [set(cycle) for cycle in import_cycles.cycles(tmp_path)] == [{"sourcegrad.c", "sourcegrad.inner.b"}]


def test_no_module_imports_another_modules_private_names():
    # a name with a leading underscore is its module's own: one another stage needs is given a public name
    private = []
    for name, path in import_cycles.modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("sourcegrad")):
                private += [f"{name}: {alias.name}" for alias in node.names
                            if alias.name.startswith("_") and not alias.name.startswith("__")]
    assert private == []
