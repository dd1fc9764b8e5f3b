"""generated/ as a cache: reuse on a matching key, regenerate when stale or edited, write atomically."""

import collections
import multiprocessing
import os
import subprocess
import sys

import numpy as np
import pytest

import sourcegrad
import sourcegrad.compiler
from sourcegrad.emit import store

rng = np.random.default_rng(1)


def loss(w, x):
    return np.square(np.tanh(x @ w)).sum()


def args():
    return rng.standard_normal((3, 2)), rng.standard_normal((4, 3))


def compile_once(generated_dir):
    f = sourcegrad.differentiate(loss, generated_dir=generated_dir)
    f.grad(*args())
    return f


def refuse_to_compile(*a, **k):
    raise AssertionError("the cached file should have been used")


def test_later_process_reuses_the_file(tmp_path, monkeypatch):
    first = compile_once(tmp_path)
    monkeypatch.setattr(sourcegrad.compiler, "reverse", refuse_to_compile)
    second = compile_once(tmp_path)  # a new DifferentiableFunction knows nothing in memory: like a new process
    assert second.backward_source == first.backward_source


def test_stale_file_is_regenerated(tmp_path):
    first = compile_once(tmp_path)
    path = first.generated_path
    text = path.read_text()
    key = store._KEY.search(text).group(1)
    path.write_text(text.replace(key, "0" * len(key)))  # as if the source or the options had changed
    second = compile_once(tmp_path)
    assert second.generated_path.read_text() == text


def test_hand_edited_file_is_regenerated_not_used(tmp_path):
    first = compile_once(tmp_path)
    path = first.generated_path
    text = path.read_text()
    path.write_text(text.replace("d_w = ", "d_w = 0 * "))  # an edit that would give a wrong gradient
    w, x = args()
    f = sourcegrad.differentiate(loss, generated_dir=tmp_path)
    assert sourcegrad.check_grad(f, w, x).max_error < 1e-7
    assert path.read_text() == text


def test_a_line_added_to_the_header_is_an_edit_and_the_file_is_regenerated(tmp_path):
    first = compile_once(tmp_path)
    path = first.generated_path
    text = path.read_text()
    head, separator, code = text.partition("\n\n")
    path.write_text(head + "\nadded_above_the_code = 1  # executed with the file" + separator + code)
    second = compile_once(tmp_path)
    assert not second._last.from_cache
    assert path.read_text() == text


def test_a_file_holding_another_variants_code_is_a_cache_miss(tmp_path):
    first = compile_once(tmp_path)
    w, x = args()
    first.grad(w, x, into=np.empty_like(w))  # the `_into` variant, in a file beside the plain one
    into_path = first.generated_path.with_name(f"{first.generated_path.stem}__into.py")
    into_text = into_path.read_text()
    into_path.write_text(first.generated_path.read_text())  # same key, whole, but defining the plain function
    second = sourcegrad.differentiate(loss, generated_dir=tmp_path)
    target = np.empty_like(w)
    assert second.grad(w, x, into=target) is target
    np.testing.assert_allclose(target, first.grad(w, x))
    assert into_path.read_text() == into_text


def test_options_are_part_of_the_key(tmp_path):
    by_w = sourcegrad.differentiate(loss, wrt="w", generated_dir=tmp_path)
    by_x = sourcegrad.differentiate(loss, wrt="x", generated_dir=tmp_path)
    by_w.grad(*args())
    by_x.grad(*args())
    assert by_w.generated_path != by_x.generated_path


def test_environment_variable_and_argument_choose_the_folder(tmp_path, monkeypatch):
    monkeypatch.setenv(store.ENVIRONMENT_VARIABLE, str(tmp_path / "from_env"))
    f = sourcegrad.differentiate(loss)
    f.grad(*args())
    assert f.generated_path.parent == tmp_path / "from_env"
    g = compile_once(tmp_path / "from_argument")
    assert g.generated_path.parent == tmp_path / "from_argument"


def test_unwritable_folder_still_gives_gradients(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.warns(UserWarning, match="could not write"):
        f = compile_once(blocker / "generated")
    assert f.generated_path is None and "def loss_value_and_grad" in f.backward_source


def test_same_source_gives_byte_identical_files_across_processes(tmp_path):
    script = (
        "import sys, numpy as np, sourcegrad\n"
        "sys.path.insert(0, sys.argv[2])\n"
        "from test_cache import loss\n"
        "f = sourcegrad.differentiate(loss, generated_dir=sys.argv[1])\n"
        "f.grad(np.ones((3, 2)), np.ones((4, 3)))\n"
    )
    here = os.path.dirname(__file__)
    outputs = []
    for seed, folder in (("1", "a"), ("2", "b")):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        subprocess.run([sys.executable, "-c", script, str(tmp_path / folder), here], check=True, env=env)
        (path,) = (tmp_path / folder).iterdir()
        outputs.append(path.read_bytes())
    assert outputs[0] == outputs[1]
    assert str(tmp_path).encode() not in outputs[0] and here.encode() not in outputs[0]


def _compile_in_child(folder):
    f = sourcegrad.differentiate(loss, generated_dir=folder)
    f.grad(np.ones((3, 2)), np.ones((4, 3)))
    return str(f.generated_path)


def test_concurrent_compiles_leave_one_whole_file(tmp_path):
    context = multiprocessing.get_context("spawn")
    with context.Pool(4) as pool:
        paths = set(pool.map(_compile_in_child, [str(tmp_path)] * 8))
    assert len(paths) == 1
    files = [p for p in tmp_path.iterdir()]
    assert len(files) == 1, f"temporary files left behind: {files}"
    text = files[0].read_text()
    key = store._KEY.search(text).group(1)
    assert store.read_cached(files[0], key) == text


# ---- what the key holds: everything the generated code depends on ------------------------------------------

_PROGRAM = '''
import os
import sys
import numpy as np
import sourcegrad

SCALE = float(os.environ["SCALE"])


def scaled(x, s=SCALE):  # the default is evaluated once, from a global, and written into the gradient
    return x * s


def loss(w):
    return np.square(scaled(w)).sum()


f = sourcegrad.differentiate(loss, generated_dir=sys.argv[1])
value, gradient = f.value_and_grad(np.array([1.0, 2.0]))
print(float(value), *gradient)
'''


def test_a_helpers_default_taken_from_a_global_is_part_of_the_key(tmp_path):
    program = tmp_path / "program.py"
    program.write_text(_PROGRAM)
    folder = tmp_path / "generated"
    outputs = {}
    for scale in ("2.0", "3.0", "2.0"):  # a later process with another value must not load the first file
        env = dict(os.environ, SCALE=scale)
        result = subprocess.run([sys.executable, str(program), str(folder)], check=True, env=env,
                                capture_output=True, text=True)
        outputs.setdefault(scale, []).append([float(v) for v in result.stdout.split()])
    for scale, runs in outputs.items():
        s = float(scale)
        for value, *gradient in runs:
            assert value == pytest.approx(5 * s * s)
            assert gradient == pytest.approx([2 * s * s, 4 * s * s])


_ARGUMENT_RULE_PROGRAM = '''
import sys
import numpy as np
import sourcegrad
from sourcegrad import d


def act(x):
    return x * 3.0


@sourcegrad.adjoint(act)  # a user's rule, changed between processes
def act_adjoint(result, x):
    d[x] = d[result] * 3.0 + OFFSET_LITERAL


def by_argument(w, f):  # the function reaches the gradient as an argument, not by its global name
    return np.sum(f(w))


print(*sourcegrad.differentiate(by_argument, generated_dir=sys.argv[1]).grad(np.array([1.0, 2.0]), act))
'''


def test_the_rule_of_a_function_passed_as_an_argument_is_part_of_the_key(tmp_path):
    program = tmp_path / "program.py"
    for offset in ("0.0", "100.0", "0.0"):  # a later process with another rule must not load the first file
        program.write_text(_ARGUMENT_RULE_PROGRAM.replace("OFFSET_LITERAL", offset))
        run = subprocess.run([sys.executable, str(program), str(tmp_path / "generated")], check=True,
                             capture_output=True, text=True)
        assert [float(v) for v in run.stdout.split()] == [3.0 + float(offset)] * 2


_MOVED_PROGRAM = '''
import sys
import numpy as np
import sourcegrad
BLANK_LINES

def loss(w, mode):
    y = np.sin(w)
    return (np.pad(y, 1, mode=mode) ** 2).sum()


f = sourcegrad.differentiate(loss, generated_dir=sys.argv[1])
f.grad(np.array([1.0, 2.0]), "constant")
try:
    f.grad(np.array([1.0, 2.0]), "edge")  # refused when the gradient runs, at the line its file cites
except sourcegrad.SourcegradError as error:
    print(error.location.line)
'''


def test_a_function_moved_down_its_file_gets_a_file_citing_its_new_lines(tmp_path):
    program = tmp_path / "program.py"
    folder = tmp_path / "generated"
    for blank_lines in (0, 10):  # the second process must not load the file citing the first one's lines
        program.write_text(_MOVED_PROGRAM.replace("BLANK_LINES", "\n" * blank_lines))
        run = subprocess.run([sys.executable, str(program), str(folder)], check=True, capture_output=True, text=True)
        lines = program.read_text().splitlines()
        pad = lines.index("    return (np.pad(y, 1, mode=mode) ** 2).sum()") + 1
        assert int(run.stdout) == pad
        (path,) = folder.iterdir()
        text = path.read_text()
        assert f"(program.py:{lines.index('def loss(w, mode):') + 1})" in text and f"# program.py:{pad}  " in text


# ---- files: UTF-8, the umask's mode, no temporary files left --------------------------------------------------

_NON_ASCII = '''
import sys
import numpy as np
import sourcegrad


def énergie(w):
    α = np.tanh(w)
    return (α * α).sum()


f = sourcegrad.differentiate(énergie, generated_dir=sys.argv[1])
print(*f.grad(np.array([0.5, -0.25])))
'''


def test_non_ascii_names_are_written_and_read_as_utf8_whatever_the_locale(tmp_path):
    program = tmp_path / "program.py"
    program.write_text(_NON_ASCII, encoding="utf-8")
    folder = tmp_path / "generated"
    # an ASCII locale: Python's default encoding for files is then ASCII
    env = dict(os.environ, LC_ALL="C", LANG="C", PYTHONUTF8="0", PYTHONCOERCECLOCALE="0", PYTHONIOENCODING="utf-8")
    outputs = [subprocess.run([sys.executable, str(program), str(folder)], check=True, env=env,
                              capture_output=True, text=True).stdout for _ in range(2)]  # written, then read
    w = np.array([0.5, -0.25])
    expected = 2 * np.tanh(w) * (1 - np.tanh(w) ** 2)
    for output in outputs:
        np.testing.assert_allclose([float(v) for v in output.split()], expected)
    (path,) = folder.iterdir()
    assert "α = xp.tanh(w)" in path.read_text(encoding="utf-8")


def test_a_file_that_is_not_utf8_is_a_cache_miss(tmp_path):
    first = compile_once(tmp_path)
    path = first.generated_path
    text = path.read_text()
    path.write_bytes(b"\xff\xfe" + text.encode())
    second = compile_once(tmp_path)
    assert second.generated_path.read_text() == text


def test_files_get_the_mode_the_umask_gives(tmp_path):
    previous = os.umask(0o022)
    try:
        f = compile_once(tmp_path / "a")
        assert f.generated_path.stat().st_mode & 0o777 == 0o644
        os.umask(0o077)
        g = compile_once(tmp_path / "b")
        assert g.generated_path.stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(previous)


def test_temporary_files_of_a_killed_write_are_removed_by_the_next_write(tmp_path):
    folder = tmp_path / "generated"
    folder.mkdir()
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(child.stdout)  # a process that has ended (its number is not reused this soon)
    abandoned = folder / f".other.py.{store._HOST}.{dead}.0123abcd.tmp"
    abandoned.write_text("half a file")
    elsewhere = folder / f".other.py.another-host.{dead}.0123abcd.tmp"  # another machine's write may still run
    elsewhere.write_text("half a file")
    running = folder / f".other.py.{store._HOST}.{os.getppid()}.0123abcd.tmp"  # a write under way
    running.write_text("half a file")
    compile_once(folder)
    assert not abandoned.exists()
    assert elsewhere.exists() and running.exists()


def reads_fields(params, x):
    return np.sum(np.tanh(x @ params.first) @ params.second)


def test_namedtuples_whose_fields_differ_get_their_own_gradients(tmp_path):
    # two classes of one name, the same ranks in the same places: only the fields tell params.first apart
    first_then_second = collections.namedtuple("Params", ["first", "second"])
    second_then_first = collections.namedtuple("Params", ["second", "first"])
    a, b, x = rng.standard_normal((3, 3)), rng.standard_normal((3, 3)), rng.standard_normal((4, 3))
    f = sourcegrad.differentiate(reads_fields, generated_dir=tmp_path)
    for params in (first_then_second(a, b), second_then_first(b, a), first_then_second(a, b)):
        assert sourcegrad.check_grad(f, params, x)
