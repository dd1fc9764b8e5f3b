"""The package's layout: the compiler's stages import downwards only, and only each other's public names; and
its source carries no measured figures."""

import ast
import os
import re
import sys
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools"))

import import_cycles  # noqa: E402

LIBRARY = Path(__file__).resolve().parent.parent / "sourcegrad"


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


# a time (0.6 us, 12 ms), a count of machine instructions, or a ratio to another program (1.07x the tutorial)
_MEASUREMENT = re.compile(r"\b\d[\d,.]*\s?(us|ns|ms|µs|instructions)\b|\b\d+(\.\d+)?x\s+(the|faster|slower|of)\b")


def test_no_measured_figure_is_written_in_the_librarys_source():
    # Figures go stale as the code changes; they live, dated, with the machine they came from, in
    # benchmarks/README.md.
    found = [f"{path.relative_to(LIBRARY.parent)}:{number}: {line.strip()}"
             for path in sorted(LIBRARY.rglob("*.py"))
             for number, line in enumerate(path.read_text().splitlines(), 1) if _MEASUREMENT.search(line)]
    assert found == []


def test_the_figure_finder_finds_a_figure():
    assert _MEASUREMENT.search("# matmul costs about 0.6 us more than dot")
    assert _MEASUREMENT.search("the step is 1.07x the tutorial")
    assert not _MEASUREMENT.search("pip install cupy-cuda12x")

