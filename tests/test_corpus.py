"""The corpus of real programs (tests/corpus/): autograd's tests and examples, Tangent's tests and JAX's
documentation, each program as its authors write it. Every program must get a correct gradient and value,
or a SourcegradError that names a place in the program's own file. A wrong gradient, a wrong value, a crash
or a refusal without such a location fails, named after its program. Refusals with a location pass: they
are the corpus' measure of what is left to support (`python -m tests.corpus.run` counts them).
"""

import pytest

from corpus import run  # tests/ is on sys.path here, as for random_programs (no tests/__init__.py)
from corpus.registry import PROGRAMS


@pytest.mark.parametrize("program", PROGRAMS, ids=[program.name for program in PROGRAMS])
def test_corpus_program(program):
    result = run.run_program(program)
    assert result.outcome in (run.CORRECT, run.REFUSED), (
        f"{program.name} ({program.origin}): {result.outcome}: {result.summary}\n{result.details}")


def test_corpus_names_are_unique():
    names = [program.name for program in PROGRAMS]
    assert len(names) == len(set(names))
