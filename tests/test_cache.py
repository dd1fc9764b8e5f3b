"""generated/ as a cache: reuse on a matching key, regenerate when stale or edited, write atomically."""

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
