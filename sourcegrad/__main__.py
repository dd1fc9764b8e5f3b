"""python -m sourcegrad [--show] [--steps N] SCRIPT.py: run a script once and say where its backward passes are.

A script that defines `main(steps=..., log=..., device=...)` at top level, as the examples do, is imported and
trained through main (each keyword only if main takes it): `log(step, loss)` prints the loss ten times over
the run. Any other script runs once, as `python SCRIPT.py` would. --show prints the backward passes the run
generated (an example with a main runs one step for it).
"""

from __future__ import annotations

import argparse
import ast
import inspect
import runpy
import sys
from pathlib import Path

from .version import __version__
from .api import compiled_files
from .compiler import FORWARD_TAG
from .memory import keep_freed_memory
from .errors import SourcegradError


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m sourcegrad", description=__doc__.split(":", 1)[1].split("\n")[0].strip())
    parser.add_argument("script", help="a Python file, such as examples/two_layer.py")
    parser.add_argument("--show", action="store_true",
                        help="print the generated backward passes after the run (an example with a main: one step)")
    parser.add_argument("--steps", type=int, default=None, help="training steps (default: the example's own)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default=None,
                        help="run on numpy (cpu) or cupy (cuda); the generated code is the same")
    parser.add_argument("--version", action="version", version=f"sourcegrad {__version__}")
    args = parser.parse_args(argv)

    script = Path(args.script)
    if not script.is_file():
        parser.error(f"no such file: {script}")
    sys.path.insert(0, str(script.resolve().parent))  # so an example can import its neighbours
    keep_freed_memory()  # a training loop frees and allocates the same arrays every step (README, Memory)
    try:
        if _defines_main(script):
            # imported under another name, so that its `if __name__ == "__main__": main()` does not run it too
            entry = runpy.run_path(str(script), run_name="__sourcegrad_example__")["main"]
            if args.show:
                _call(entry, script, steps=1, log=lambda t, loss: None)
            else:
                _run(entry, script, args.steps, args.device)
        else:  # a plain script: run it once, as `python script.py` would
            if args.steps is not None or args.device is not None:
                parser.error(f"{script} has no main(): --steps and --device apply only to a script with one")
            sys.argv = [str(script)]
            runpy.run_path(str(script), run_name="__main__")
    except SourcegradError as exc:
        print(f"sourcegrad: error: {exc}", file=sys.stderr)
        return 1

    files = list(dict.fromkeys(compiled_files()))
    if args.show:
        for path in files:
            print(Path(path).read_text(encoding="utf-8"))
        if not files:
            print(f"{script} differentiates nothing: no backward pass was generated.")
        return 0
    for path in files:
        what = "forward-mode code" if FORWARD_TAG in Path(path).name else "backward pass"
        print(f"generated {what}: {_shown(path)}")
    return 0


def _run(entry, script, steps, device):
    print(f"sourcegrad {__version__}: running {script}" + (f" on {device}" if device else ""))
    default = inspect.signature(entry).parameters.get("steps")
    total = steps if steps is not None else getattr(default, "default", None)
    total = total if isinstance(total, int) and total > 0 else 100

    def log(t, loss):
        # A line every 10% of the run, and the last step: progress without flooding the terminal. No times:
        # nothing in sourcegrad reads a clock (benchmarks/ measures).
        period = max(1, total // 10)
        if t % period == period - 1 or t == total - 1:
            print(f"  step {t + 1:>5}/{total}  loss {float(loss):.6g}")

    if device is not None and "device" not in inspect.signature(entry).parameters:
        raise SourcegradError(f"{script}'s main() takes no device", hint="Give its main() a `device` parameter.")
    _call(entry, script, log=log, steps=steps, device=device)
    print("done")


def _call(entry, script, **options):
    """main(**options), passing only the options given (not None) that main takes."""
    parameters = inspect.signature(entry).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    entry(**{name: value for name, value in options.items()
             if value is not None and (takes_any or name in parameters)})


def _defines_main(script):
    """Whether the script defines `main` at top level: read from its text, so the script runs only once."""
    try:
        tree = ast.parse(script.read_text(encoding="utf-8"), filename=str(script))
    except SyntaxError:
        return False  # running it reports the error as Python would
    return any(isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == "main" for node in tree.body)


def _shown(path):
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    sys.exit(main())
