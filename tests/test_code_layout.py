"""The package's layout: the compiler's stages import downwards only."""

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
