"""Run the corpus: differentiate every program and classify what sourcegrad makes of it.

    python -m tests.corpus.run [--verbose] [--only NAME]

Each program's `wrt` arguments are differentiated with sourcegrad.DifferentiableFunction.value_and_grad;
the value is compared with the original function's, the gradient with float64 central finite differences
(sourcegrad.check_grad), and float32 inputs must give float32 gradients. Outcomes:

- correct;
- refused: a SourcegradError whose location is in the program's own file (the allowed way to say no);
- refused without location: a SourcegradError that names no place in the program's file (a defect);
- wrong gradient, wrong value (of value_and_grad), crash (any other exception): defects.

The table counts each outcome per origin and the programs left out of the corpus (out of scope); below it,
the share of correct programs overall and among those that use plain numpy (no scipy call), then the
refusals grouped by their message's first line, the most common first. The exit status is 1 when any
program shows a defect.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import copy
import inspect
import io
import os
import sys
import tempfile
import traceback
import warnings
from dataclasses import dataclass

import numpy as np

import sourcegrad
from sourcegrad import SourcegradError
from sourcegrad.api import DifferentiableFunction
from sourcegrad.emit.store import ENVIRONMENT_VARIABLE

from . import autograd_examples, autograd_tests, jax_docs, tangent_tests  # noqa: F401  (they register)
from .registry import OUT_OF_SCOPE, PROGRAMS, Program

CORRECT = "correct"
REFUSED = "refused"
REFUSED_WITHOUT_LOCATION = "refused without location"
WRONG_GRADIENT = "wrong gradient"
WRONG_VALUE = "wrong value"
CRASH = "crash"
OUTCOMES = (CORRECT, REFUSED, REFUSED_WITHOUT_LOCATION, WRONG_GRADIENT, WRONG_VALUE, CRASH)
DEFECTS = (REFUSED_WITHOUT_LOCATION, WRONG_GRADIENT, WRONG_VALUE, CRASH)

RTOL = 1e-4
ATOL = 1e-6


@dataclass
class Result:
    program: Program
    outcome: str
    summary: str = ""   # the refusal's first line, or what went wrong
    details: str = ""   # the whole message or traceback
    uses_scipy: bool = False  # the program reaches scipy (the corpus's target counts plain numpy apart)


def _float32(value):
    """The same structure with every float64 array made float32 (Python floats stay: they carry no dtype)."""
    if isinstance(value, np.ndarray) and value.dtype == np.float64:
        return value.astype(np.float32)
    if isinstance(value, (list, tuple)):
        return type(value)(_float32(item) for item in value)
    if isinstance(value, dict):
        return {key: _float32(item) for key, item in value.items()}
    return value


def _leaves(value):
    if isinstance(value, (list, tuple)):
        for item in value:
            yield from _leaves(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    else:
        yield value


def _paired_leaves(argument, gradient):
    """(argument's leaf, its gradient) pairs: a dict by key, a list or tuple by position."""
    if isinstance(argument, dict) and isinstance(gradient, dict):
        for key, item in argument.items():
            if key in gradient:
                yield from _paired_leaves(item, gradient[key])
    elif isinstance(argument, (list, tuple)) and isinstance(gradient, (list, tuple)):
        for item, item_gradient in zip(argument, gradient):
            yield from _paired_leaves(item, item_gradient)
    else:
        yield argument, gradient


def _values_agree(expected, actual) -> bool:
    expected_leaves, actual_leaves = list(_leaves(expected)), list(_leaves(actual))
    if len(expected_leaves) != len(actual_leaves):
        return False
    for want, got in zip(expected_leaves, actual_leaves):
        want, got = np.asarray(want), np.asarray(got)
        if want.shape != got.shape or not np.allclose(got, want, rtol=1e-9, atol=1e-12, equal_nan=True):
            return False
    return True


def _random_like(value, rng):
    """A gradient for a non-scalar output: random weights of its structure and shapes."""
    if isinstance(value, (list, tuple)):
        return type(value)(_random_like(item, rng) for item in value)
    if isinstance(value, dict):
        return {key: _random_like(item, rng) for key, item in value.items()}
    if np.ndim(value) == 0:
        return 1.0 if isinstance(value, float) else np.asarray(1.0)
    return rng.standard_normal(np.shape(value))


def _is_scalar(value) -> bool:
    return not isinstance(value, (list, tuple, dict)) and np.ndim(value) == 0


def _in_program_file(error: SourcegradError, function) -> bool:
    location = error.location
    if location is None or not location.path:
        return False
    program_file = inspect.getsourcefile(function)
    try:
        return os.path.samefile(location.path, program_file)
    except OSError:
        return os.path.basename(location.path) == os.path.basename(program_file)


def run_program(program: Program) -> Result:
    try:
        function, arguments = program.build()
    except Exception:  # the corpus' own mistake, not sourcegrad's: still reported, as a crash
        return Result(program, CRASH, "the program's example inputs could not be made", traceback.format_exc())
    with contextlib.redirect_stdout(io.StringIO()):  # some programs print as they run (fluidsim's simulate)
        result = _classify(program, function, arguments)
    result.uses_scipy = uses_scipy(function)
    return result


def _classify(program: Program, function, arguments) -> Result:
    try:
        expected = function(*copy.deepcopy(arguments))
    except Exception:  # the corpus' own mistake, not sourcegrad's: still reported, as a crash
        return Result(program, CRASH, "the original function fails on its example inputs", traceback.format_exc())
    grad_output = None if _is_scalar(expected) else _random_like(expected, np.random.RandomState(0))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            # One `wrt` given alone, so that the gradient comes back alone (a tuple of wrt gives a tuple).
            wrt = program.wrt[0] if len(program.wrt) == 1 else program.wrt
            differentiable = DifferentiableFunction(function, wrt)
            value, _ = differentiable.value_and_grad(*copy.deepcopy(arguments), grad_output=grad_output)
            if not _values_agree(expected, value):
                return Result(program, WRONG_VALUE, "value_and_grad's value differs from the function's",
                              f"expected {expected!r}\ngot {value!r}")
            check = sourcegrad.check_grad(function, *copy.deepcopy(arguments), wrt=program.wrt,
                                          rtol=RTOL, atol=ATOL, directions=program.directions,
                                          grad_output=grad_output)
            if not check:
                return Result(program, WRONG_GRADIENT, "the gradient differs from finite differences",
                              check.explain())
            single_arguments = _float32(copy.deepcopy(arguments))
            _, gradients = differentiable.value_and_grad(*single_arguments, grad_output=_float32(grad_output))
            if len(program.wrt) == 1:
                gradients = (gradients,)
            positions = [differentiable_position(function, wrt) for wrt in program.wrt]
            for position, gradient in zip(positions, gradients):
                for argument, leaf in _paired_leaves(single_arguments[position], gradient):
                    if isinstance(argument, np.ndarray) and argument.dtype == np.float32 \
                            and np.asarray(leaf).dtype != np.float32:
                        return Result(program, WRONG_GRADIENT, "float32 inputs gave a gradient that is not float32",
                                      f"argument {position}: gradient dtype {np.asarray(leaf).dtype}")
    except SourcegradError as error:
        first_line = error.message.splitlines()[0] if error.message else str(error).splitlines()[0]
        if _in_program_file(error, function):
            return Result(program, REFUSED, first_line, str(error))
        return Result(program, REFUSED_WITHOUT_LOCATION, first_line, str(error))
    except Exception as error:
        return Result(program, CRASH, f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}",
                      traceback.format_exc())
    return Result(program, CORRECT)


def _code_names(code):
    yield from code.co_names
    for constant in code.co_consts:  # nested functions and lambdas
        if hasattr(constant, "co_names"):
            yield from _code_names(constant)


def uses_scipy(function, seen=None) -> bool:
    """Whether the function, or a function of the corpus it calls, reaches scipy: the corpus's target counts
    the programs that use plain numpy apart."""
    seen = set() if seen is None else seen
    if function in seen or not hasattr(function, "__code__"):
        return False
    seen.add(function)
    closure = [cell.cell_contents for cell in function.__closure__ or ()]  # a lambda over make_gp_funs' function
    if any(inspect.isfunction(value) and uses_scipy(value, seen) for value in closure):
        return True
    for name in _code_names(function.__code__):
        value = function.__globals__.get(name)
        module = getattr(value, "__name__", "") if inspect.ismodule(value) else getattr(value, "__module__", "")
        if (module or "").split(".")[0] == "scipy":
            return True
        if inspect.isfunction(value) and uses_scipy(value, seen):
            return True
    return False


def differentiable_position(function, wrt) -> int:
    if isinstance(wrt, int):
        return wrt
    return list(inspect.signature(function).parameters).index(wrt)


def run_all(names=None) -> list[Result]:
    """Every program's result (or those named), with generated code written to a temporary folder."""
    selected = [program for program in PROGRAMS if names is None or program.name in names
                or program.name.split(".", 1)[1] in names]
    previous = os.environ.get(ENVIRONMENT_VARIABLE)
    with tempfile.TemporaryDirectory(prefix="sourcegrad-corpus-") as folder:
        if previous is None:  # under pytest the fixture has already chosen a folder
            os.environ[ENVIRONMENT_VARIABLE] = folder
        try:
            return [run_program(program) for program in selected]
        finally:
            if previous is None:
                del os.environ[ENVIRONMENT_VARIABLE]


def report(results: list[Result], verbose: bool = False) -> str:
    lines = []
    groups = sorted({result.program.group for result in results})
    out_of_scope = collections.Counter(group for group, _, _ in OUT_OF_SCOPE)
    header = ["origin", "programs"] + list(OUTCOMES) + ["out of scope"]
    rows = []
    for group in groups + ["all"]:
        members = [result for result in results if group in ("all", result.program.group)]
        counts = collections.Counter(result.outcome for result in members)
        skipped = sum(out_of_scope.values()) if group == "all" else out_of_scope[group]
        rows.append([group, str(len(members))] + [str(counts[outcome]) for outcome in OUTCOMES] + [str(skipped)])
    widths = [max(len(row[i]) for row in rows + [header]) for i in range(len(header))]
    for row in [header] + rows:
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths)))
    total = len(results)
    correct = sum(result.outcome == CORRECT for result in results)
    if total:
        lines.append(f"\ncorrect: {correct}/{total} = {100.0 * correct / total:.1f}%")
        plain = [result for result in results if not result.uses_scipy]
        plain_correct = sum(result.outcome == CORRECT for result in plain)
        if plain:
            lines.append(f"programs using plain numpy (no scipy): correct {plain_correct}/{len(plain)} = "
                         f"{100.0 * plain_correct / len(plain):.1f}%")

    refusals = collections.defaultdict(list)
    for result in results:
        if result.outcome in (REFUSED, REFUSED_WITHOUT_LOCATION):
            refusals[result.summary].append(result)
    if refusals:
        lines.append("\nrefusals, by the message's first line (most programs first):")
        for summary, members in sorted(refusals.items(), key=lambda item: (-len(item[1]), item[0])):
            lines.append(f"  {len(members):3d}  {summary}")
            lines.append("       " + ", ".join(member.program.name + ("" if member.outcome == REFUSED
                                                                      else " (no location)")
                                             for member in members))
    failures = [result for result in results if result.outcome in (WRONG_GRADIENT, WRONG_VALUE, CRASH)]
    if failures:
        lines.append("\ndefects:")
        for result in failures:
            lines.append(f"  {result.outcome}: {result.program.name} ({result.program.origin}): {result.summary}")
    if verbose:
        for result in results:
            if result.outcome != CORRECT:
                lines.append(f"\n==== {result.program.name}: {result.outcome} ({result.program.origin})")
                lines.append(result.details.rstrip())
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--verbose", action="store_true", help="print each failure's message or traceback")
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="run only this program (module.function or function); may be repeated")
    options = parser.parse_args(argv)
    results = run_all(options.only)
    if options.only and not results:
        print(f"no program named {', '.join(options.only)}", file=sys.stderr)
        return 2
    print(report(results, verbose=options.verbose or bool(options.only)))
    return 1 if any(result.outcome in DEFECTS for result in results) else 0


if __name__ == "__main__":
    sys.exit(main())
