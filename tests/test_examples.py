"""The examples run, agree with the tutorial's hand-written backward, and their generated code is committed."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import sourcegrad

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
sys.path.insert(0, str(EXAMPLES))

import two_layer  # noqa: E402
import two_layer_numpy  # noqa: E402
from device_support import IN_MEMORY_DEVICES  # noqa: E402


@pytest.fixture(params=IN_MEMORY_DEVICES)
def device(request):
    """numpy, and cupy where a GPU is present. The tutorial's examples keep their weights on the device, which
    on dask would grow each weight's graph by a step per step: there the data is chunked and the weights stay
    numpy, as in examples/out_of_core.py (tested below)."""
    return request.param


def quiet(t, loss):
    pass


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_two_layer_losses_match_the_hand_written_backward_at_every_step(dtype, device):
    # The tutorial's own code on the same device: cupy's float32 products round differently from numpy's, and
    # 500 steps of training carry that far beyond float32's tolerance (test_device compares the devices).
    by_hand = two_layer_numpy.train(steps=500, dtype=dtype, log=quiet, device=device)
    generated = two_layer.train(steps=500, dtype=dtype, log=quiet, device=device)
    tolerance = 1e-9 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(generated, by_hand, rtol=tolerance)
    assert generated[-1] < generated[0] / 1e3  # and it trains


def regenerate(folder):
    """Run every example for one step in a fresh process, writing generated code to folder."""
    env = dict(os.environ, SOURCEGRAD_GENERATED_DIR=str(folder))
    for example in sorted(EXAMPLES.glob("*.py")):
        subprocess.run([sys.executable, "-m", "sourcegrad", "--show", str(example)], check=True, env=env,
                       cwd=REPO, stdout=subprocess.DEVNULL)
    return {p.name: p.read_text() for p in folder.glob("*.py")}


def test_committed_generated_code_is_what_the_compiler_writes_today(tmp_path):
    fresh = regenerate(tmp_path / "generated")
    committed = {p.name: p.read_text() for p in (REPO / "generated").glob("*.py")}
    assert fresh, "the examples generated nothing"
    assert sorted(committed) == sorted(fresh), "generated/ holds stale files or misses some: run tools/regenerate.py and commit"
    for name, text in fresh.items():
        assert committed[name] == text, f"generated/{name} differs from what the compiler writes now: run tools/regenerate.py, review the diff, commit"


# (examples/out_of_core.py runs on dask, with numpy weights: its main takes no device, and has a test of its own)
EXAMPLES_WITH_MAIN = sorted(p.name for p in EXAMPLES.glob("*.py") if "\ndef main(" in p.read_text()
                            and "device=None" in p.read_text().split("\ndef main(")[1].split(")")[0])


@pytest.mark.parametrize("example", EXAMPLES_WITH_MAIN)
def test_every_example_runs_on_the_device_from_the_cli(example, device, tmp_path):
    env = dict(os.environ, SOURCEGRAD_GENERATED_DIR=str(tmp_path / "generated"))
    run = subprocess.run([sys.executable, "-m", "sourcegrad", "--steps", "20", "--device", device, f"examples/{example}"],
                         env=env, cwd=REPO, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert f"on {device}" in run.stdout and "step    20/20  loss" in run.stdout


def test_cli_runs_an_example_and_says_where_the_backward_is(tmp_path):
    env = dict(os.environ, SOURCEGRAD_GENERATED_DIR=str(tmp_path / "generated"))
    run = subprocess.run([sys.executable, "-m", "sourcegrad", "--steps", "20", "examples/two_layer.py"], env=env,
                         cwd=REPO, capture_output=True, text=True, check=True)
    assert "step    20/20  loss" in run.stdout
    assert "generated backward pass: " in run.stdout and "two_layer_loss_fn" in run.stdout
    shown = subprocess.run([sys.executable, "-m", "sourcegrad", "--show", "examples/two_layer.py"], env=env, cwd=REPO,
                           capture_output=True, text=True, check=True)
    assert "def loss_fn_value_and_grad(xp, x, y, w1, w2" in shown.stdout


_USER_SCRIPT = '''
import numpy as np
import sourcegrad

print("script ran")


@sourcegrad.differentiate
def loss(w, x):
    return np.sum(np.tanh(x @ w) ** 2)


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    print("gradient", loss.grad(rng.standard_normal(3), rng.standard_normal((4, 3))).shape)
'''


def test_cli_runs_a_users_script_once_and_shows_its_backward_pass(tmp_path):
    script = tmp_path / "my_script.py"
    script.write_text(_USER_SCRIPT)
    env = dict(os.environ, SOURCEGRAD_GENERATED_DIR=str(tmp_path / "generated"))
    run = subprocess.run([sys.executable, "-m", "sourcegrad", str(script)], env=env, cwd=tmp_path,
                         capture_output=True, text=True, check=True)
    assert run.stdout.count("script ran") == 1, run.stdout
    assert "gradient (3,)" in run.stdout and "generated backward pass: " in run.stdout
    shown = subprocess.run([sys.executable, "-m", "sourcegrad", "--show", str(script)], env=env, cwd=tmp_path,
                           capture_output=True, text=True, check=True)
    assert shown.stdout.count("script ran") == 1, shown.stdout
    assert "def loss_value_and_grad(xp, w, x" in shown.stdout


def test_cli_refuses_steps_for_a_script_without_main(tmp_path):
    script = tmp_path / "my_script.py"
    script.write_text(_USER_SCRIPT)
    run = subprocess.run([sys.executable, "-m", "sourcegrad", "--steps", "3", str(script)], cwd=tmp_path,
                         capture_output=True, text=True)
    assert run.returncode == 2 and "has no main()" in run.stderr
    assert "script ran" not in run.stdout


def test_newton_with_hessian_vector_products_converges_quadratically():
    import newton

    losses = newton.fit(steps=8, log=quiet)
    assert all(b <= a for a, b in zip(losses, losses[1:]))
    gaps = [loss - losses[-1] for loss in losses[:5]]
    assert gaps[3] < 10 * gaps[2] ** 2 and gaps[4] < 10 * gaps[3] ** 2  # each error about the square of the one before


def test_newtons_conjugate_gradient_matches_a_solve_with_the_whole_hessian():
    import newton

    x, y = newton.make_data()
    w = np.random.default_rng(1).standard_normal(x.shape[1]) * 0.1
    g = newton.loss.grad(w, x, y, 1e-2)
    hessian = sourcegrad.hessian(newton.loss)(w, x, y, 1e-2)
    step = newton.conjugate_gradient(lambda p: newton.loss.hvp((w, x, y, 1e-2), p), g, iterations=40,
                                     tolerance=1e-12)
    np.testing.assert_allclose(step, np.linalg.solve(hessian, g), rtol=1e-8, atol=1e-10)


def test_out_of_core_example_trains_on_chunks_read_from_disk_as_numpy_would(tmp_path):
    pytest.importorskip("dask.array")
    import out_of_core

    path = str(tmp_path / "data.npy")
    out_of_core.write_data(path, rows=2_000, block=700)
    x, y = out_of_core.load_data(path, chunk_rows=500)
    assert x.numblocks[0] == 4
    rng = np.random.default_rng(0)
    w1, w2 = rng.standard_normal((out_of_core.D_in, out_of_core.H)), rng.standard_normal((out_of_core.H, out_of_core.D_out))
    in_memory = np.load(path)
    value, (d_w1, d_w2) = out_of_core.loss_fn.value_and_grad(in_memory[:, :out_of_core.D_in],
                                                              in_memory[:, out_of_core.D_in:], w1, w2)
    on_dask, (g1, g2) = out_of_core.loss_fn.value_and_grad(x, y, w1, w2)
    assert on_dask == pytest.approx(value, rel=1e-12)
    np.testing.assert_allclose(g1, d_w1, rtol=1e-10)
    np.testing.assert_allclose(g2, d_w2, rtol=1e-10)
    losses = out_of_core.train(x, y, steps=5, log=quiet)
    assert all(b < a for a, b in zip(losses, losses[1:]))


def test_out_of_core_example_trains_on_a_cluster_whose_workers_read_the_file(tmp_path, capsys):
    pytest.importorskip("dask.array")
    distributed = pytest.importorskip("distributed")
    import pickle

    import out_of_core

    path = str(tmp_path / "data.npy")
    out_of_core.write_data(path, rows=3_000, block=1_000)
    x, _ = out_of_core.load_data(path, chunk_rows=1_000)
    assert len(pickle.dumps(dict(x.__dask_graph__()))) < 100_000  # the graph names the file; the rows stay out
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True) as cluster:
        # the scheduler's address, as --scheduler tcp://host:port gives it
        on_cluster = out_of_core.main(steps=4, log=quiet, path=path, chunk_rows=1_000, scheduler=cluster.scheduler_address)
    assert f"on the cluster at {cluster.scheduler_address} (1 worker)" in capsys.readouterr().out
    on_threads = out_of_core.main(steps=4, log=quiet, path=path, chunk_rows=1_000, scheduler="threads")
    np.testing.assert_allclose(on_cluster, on_threads, rtol=1e-12)
    assert on_cluster[-1] < on_cluster[0]
