"""The tutorial's two-layer net trained on data read from disk a chunk at a time, on dask.

The data are a dask array over a memory-mapped .npy file (written a block at a time, so it never has to fit in
memory); the weights are numpy arrays. `loss_fn` is examples/two_layer.py's, and so is its generated backward
pass (generated/two_layer_loss_fn__*.py): on dask arrays the same file builds a graph over the chunks, `x.T @
d_h` becomes a sum over them, and one dask.compute per step gives the loss and both gradients as numpy arrays.
The squared error is summed over all rows, so the step is the tutorial's learning rate over the number of rows.

    python examples/out_of_core.py                         # 200,000 rows, a LocalCluster on this machine
    python examples/out_of_core.py --rows 10000000         # 8.8 GB on disk, read a chunk at a time
    python examples/out_of_core.py --scheduler threads     # dask's threads in this process, no cluster
    python examples/out_of_core.py --scheduler tcp://host:8786 --path /shared/data.npy   # a dask cluster

Each worker reads its chunks from the file itself, so on a cluster the file must be readable at the same path
by every worker (a shared file system).
"""

import argparse
import contextlib
import os
import tempfile

import numpy as np

from two_layer import loss_fn

D_in, H, D_out = 100, 50, 10


def write_data(path, rows, block=50_000, seed=0):
    """x and y of a random linear teacher, written to path (one .npy file of [x | y] rows) a block at a time."""
    rng = np.random.default_rng(seed)
    teacher = rng.standard_normal((D_in, D_out)) / np.sqrt(D_in)
    data = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(rows, D_in + D_out))
    for start in range(0, rows, block):
        x = rng.standard_normal((min(block, rows - start), D_in))
        data[start:start + len(x), :D_in] = x
        data[start:start + len(x), D_in:] = x @ teacher
    data.flush()
    del data


def load_data(path, chunk_rows):
    """x and y as dask arrays over the .npy file: nothing is read until a step computes, and then each chunk is
    read by the worker that needs it, from the path (the graph carries the path, never the data)."""
    try:
        import dask
        import dask.array as da
    except ImportError:
        raise SystemExit("examples/out_of_core.py needs dask: pip install -e '.[dask]'") from None

    rows, columns = np.load(path, mmap_mode="r").shape  # reads the header only
    blocks = [da.from_delayed(dask.delayed(read_rows)(path, start, min(start + chunk_rows, rows)),
                              shape=(min(start + chunk_rows, rows) - start, columns), dtype=np.float64)
              for start in range(0, rows, chunk_rows)]
    data = da.concatenate(blocks)
    return data[:, :D_in], data[:, D_in:]


def read_rows(path, start, stop):
    """Rows start:stop of the .npy file: a slice of the memory-mapped file, whose pages are read as the step
    computes on them (and sent whole where another worker needs the chunk)."""
    return np.load(path, mmap_mode="r")[start:stop]


def train(x, y, steps=20, learning_rate=1e-1, seed=1, log=print):
    rng = np.random.default_rng(seed)
    w1 = rng.standard_normal((D_in, H)) / np.sqrt(D_in)
    w2 = rng.standard_normal((H, D_out)) / np.sqrt(H)
    rows = x.shape[0]
    losses = []
    for t in range(steps):
        loss, (grad_w1, grad_w2) = loss_fn.value_and_grad(x, y, w1, w2)  # one dask.compute
        losses.append(float(loss) / rows)
        log(t, losses[-1])
        w1 -= learning_rate / rows * grad_w1
        w2 -= learning_rate / rows * grad_w2
    return losses


def main(steps=20, log=None, rows=200_000, chunk_rows=50_000, path=None, scheduler=None):
    """`python -m sourcegrad examples/out_of_core.py` calls this with steps and log (the weights are numpy arrays
    and the data dask's: no device to choose); the command line below takes the rest. scheduler: a dask
    scheduler's address, "threads" for dask's threads in this process, or None for a LocalCluster of worker
    processes on this machine."""
    log = log or (lambda t, loss: print(f"step {t + 1:4d}  loss per row {loss:.6f}"))
    with tempfile.TemporaryDirectory() as scratch:
        path = path or os.path.join(scratch, "data.npy")
        if not os.path.exists(path):
            write_data(path, rows)
        with _scheduler(scheduler) as where:
            x, y = load_data(path, chunk_rows)
            print(f"{x.shape[0]:,} rows in {x.numblocks[0]} chunks of {chunk_rows:,}, on {where}")
            return train(x, y, steps, log=log)


@contextlib.contextmanager
def _scheduler(scheduler):
    """Where dask computes while the block runs: a description of it."""
    if scheduler == "threads":
        yield "dask's threads"
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise SystemExit("a dask cluster needs distributed: pip install -e '.[dask]' (or --scheduler threads)") from None
    if scheduler:
        with Client(scheduler) as client:
            workers = len(client.scheduler_info()["workers"])
            yield f"the cluster at {scheduler} ({workers} worker{'s' if workers != 1 else ''})"
    else:
        with LocalCluster(processes=True) as cluster, Client(cluster):
            yield f"a LocalCluster of {len(cluster.workers)} worker processes on this machine"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--chunk-rows", type=int, default=50_000)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--path", help="the .npy file: written if missing (default: a temporary file)")
    parser.add_argument("--scheduler", help="a dask scheduler's address, tcp://host:port, or 'threads' for dask's "
                                            "threads in this process (default: a LocalCluster on this machine)")
    args = parser.parse_args()
    main(args.steps, rows=args.rows, chunk_rows=args.chunk_rows, path=args.path, scheduler=args.scheduler)
