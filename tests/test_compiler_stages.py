"""Golden tests per compiler stage: each program of tests/stage_programs.py goes through the pipeline, and
what every stage makes of it (sourcegrad.explain) must equal tests/golden/<program>.txt.

They pin the normal form, the activity and rank facts, the reverse pass as the transformation writes it, the
simplified one, the memory plan and the generated function, so a change that moves any of them shows as a diff of text; and,
in tests/golden/<program>__into.txt, the `_into` variant printed from the memory plan's buffer slots (which
operations write with out=, into a kept buffer or the caller's array). After a deliberate change, rewrite the
files and review their diff:

    SOURCEGRAD_UPDATE_GOLDEN=1 python -m pytest tests/test_compiler_stages.py
"""

import os
from pathlib import Path

import pytest

import sourcegrad
import stage_programs

GOLDEN = Path(__file__).resolve().parent / "golden"


def _assert_golden(text, path, what):
    if os.environ.get("SOURCEGRAD_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{what} changed: diff it against {path}"


@pytest.mark.parametrize("name", sorted(stage_programs.PROGRAMS))
def test_every_stage_is_what_it_was(name):
    args, wrt = stage_programs.PROGRAMS[name]
    text = sourcegrad.explain(getattr(stage_programs, name), *args, wrt=wrt)
    _assert_golden(text, GOLDEN / f"{name}.txt", f"a stage for {name}")


@pytest.mark.parametrize("name", sorted(stage_programs.PROGRAMS))
def test_the_buffer_slots_are_what_they_were(name):
    args, wrt = stage_programs.PROGRAMS[name]
    f = sourcegrad.differentiate(getattr(stage_programs, name), wrt=wrt)
    f.grad(*args)
    # the variant a first call with into= makes, made here directly: into= takes no gradient of a structure
    if f._last.buffered() is None:
        text = "no statement writes into a buffer: no `_into` variant\n"
    else:
        into_file = f.generated_path.with_name(f.generated_path.stem + "__into.py")
        text = into_file.read_text(encoding="utf-8").partition("\n\n")[2]  # without the header and its key
    _assert_golden(text, GOLDEN / f"{name}__into.txt", f"the buffer slots of {name}")


def test_the_golden_gradients_are_right():
    for name, (args, wrt) in stage_programs.PROGRAMS.items():
        assert sourcegrad.check_grad(getattr(stage_programs, name), *args, wrt=wrt), name


def test_explain_shows_one_stage_and_refuses_an_unknown_one():
    args, wrt = stage_programs.PROGRAMS["two_layer"]
    text = sourcegrad.explain(stage_programs.two_layer, *args, wrt=wrt, stage="normal form")
    assert text.startswith("def two_layer(x, y, w1, w2):\n    h = x.dot(w1)\n")
    rnn_args, rnn_wrt = stage_programs.PROGRAMS["rnn"]
    plan = sourcegrad.explain(stage_programs.rnn, *rnn_args, wrt=rnn_wrt, stage="memory plan")
    assert plan.startswith("tape (values the backward pass reads") and "accumulated in place (`d += e`): d_W" in plan
    with pytest.raises(sourcegrad.SourcegradError, match="explain has no stage 'parse'"):
        sourcegrad.explain(stage_programs.two_layer, *args, wrt=wrt, stage="parse")
