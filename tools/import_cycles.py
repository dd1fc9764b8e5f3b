"""Import cycles among sourcegrad's modules, every import counted (those inside functions too).

    python tools/import_cycles.py      prints the cycles, exits 1 if there is one

A module importing a name from a package depends on the package's __init__; one importing a submodule
(`from .. import ir`) depends on that submodule only.
"""

import ast
import graphlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "sourcegrad"


def modules(root=ROOT):
    """dotted name -> path, for every module of the package."""
    found = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(name, path, known):
    """The package's modules that module `name` imports."""
    is_package = path.name == "__init__.py"
    base = name.split(".") if is_package else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in known}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                target = ".".join(base[:len(base) - node.level + 1] + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                if f"{target}.{alias.name}" in known:
                    found.add(f"{target}.{alias.name}")
                elif target in known:
                    found.add(target)
    found.discard(name)
    return found


def cycles(root=ROOT):
    """Each import cycle as a list of module names (empty when there is none), found one at a time."""
    known = modules(root)
    graph = {name: imports(name, path, known) for name, path in known.items()}
    found = []
    while True:
        try:
            graphlib.TopologicalSorter(graph).prepare()
            return found
        except graphlib.CycleError as error:
            cycle = error.args[1]
            found.append(cycle)
            graph[cycle[-1]].discard(cycle[-2])  # (each module in it imports the one before): break it, look again


if __name__ == "__main__":
    found = cycles()
    for cycle in found:
        print(" -> ".join(cycle))
    print(f"{len(found)} import cycle(s)")
    sys.exit(1 if found else 0)
