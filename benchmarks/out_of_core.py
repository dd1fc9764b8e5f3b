"""Out-of-core benchmark: one gradient of the two-layer net over N rows read from a memory-mapped file.

The data are examples/out_of_core.py's (D_in 100, H 50, D_out 10, float64, [x | y] rows in one .npy file);
the gradient is examples/two_layer.py's loss_fn, summed over all rows. Contenders, each timed on the same file:

- dask: the data as a dask array over the memory-mapped file (chunks of --chunk-rows rows), one
  `loss_fn.value_and_grad` call, which computes value and gradients with one dask.compute on dask's threads;
- numpy, block loop: the same generated gradient called on each block of --chunk-rows rows of the memory-mapped
  file, the blocks' gradients added (the loss is a sum over rows, so that is the whole gradient);
- numpy, in memory: the file read into memory first (not timed), one call (only where it fits: --in-memory-max);
- dask on a distributed.LocalCluster of --workers worker processes (one thread each), reading their chunks from
  the file themselves: CPU time is the client's and the workers' together, and each worker's numpy allocations
  are traced as the client's are.

The dask contenders also time an SGD step (the gradient, then the weights updated in place), as
examples/out_of_core.py trains.

For each: wall time and CPU time (the process's, all threads: dask runs on two here), the median of --repeats
calls after one untimed call; and the peak of the bytes numpy allocated during one call (tracemalloc, which
numpy reports its buffers to: the memory-mapped file's pages are the kernel's page cache, not counted).

    python benchmarks/out_of_core.py [--rows 100000,1000000,10000000] [--repeats 3] [--output FILE]
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "examples"))

import out_of_core  # noqa: E402
from out_of_core import D_in, D_out, H, load_data, loss_fn, write_data  # noqa: E402


def measure(call, repeats, client=None):
    """Wall time and CPU time (medians of repeats, after one untimed call) and the peak of numpy's allocations
    during one call. With a distributed client, CPU time is this process's and the workers' together, and the
    busiest worker's peak of numpy's allocations comes fourth."""
    def workers_cpu():
        return sum(client.run(time.process_time).values()) if client is not None else 0.0

    call()  # compiled, warmed up
    walls, cpus = [], []
    for _ in range(repeats):
        workers = workers_cpu()
        wall, cpu = time.perf_counter(), time.process_time()
        call()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu + workers_cpu() - workers)
    if client is not None:
        client.run(tracemalloc.start)
    tracemalloc.start()
    call()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    if client is None:
        return statistics.median(walls), statistics.median(cpus), peak
    worker_peak = max(client.run(lambda: tracemalloc.get_traced_memory()[1]).values())
    client.run(tracemalloc.stop)
    return statistics.median(walls), statistics.median(cpus), peak, worker_peak


def sgd_step(x, y, w1, w2, learning_rate=1e-6):
    """One step of examples/out_of_core.py's training: the gradient, then the weights updated in place."""
    def call():
        _, (g1, g2) = loss_fn.value_and_grad(x, y, w1, w2)
        np.subtract(w1, learning_rate * g1, out=w1)
        np.subtract(w2, learning_rate * g2, out=w2)

    return call


def block_loop(path, chunk_rows, w1, w2):
    data = np.load(path, mmap_mode="r")

    def call():
        total, g1, g2 = 0.0, np.zeros_like(w1), np.zeros_like(w2)
        for start in range(0, data.shape[0], chunk_rows):
            block = np.asarray(data[start:start + chunk_rows])
            value, (d1, d2) = loss_fn.value_and_grad(block[:, :D_in], block[:, D_in:], w1, w2)
            total, g1, g2 = total + value, g1 + d1, g2 + d2
        return total, g1, g2

    return call


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", default="100000,1000000,10000000")
    parser.add_argument("--chunk-rows", type=int, default=25_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--in-memory-max", type=int, default=2_000_000, help="the most rows read into memory")
    parser.add_argument("--workers", type=int, default=2,
                        help="worker processes of a distributed.LocalCluster, one thread each (0: no cluster)")
    parser.add_argument("--output")
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    w1, w2 = rng.standard_normal((D_in, H)) / np.sqrt(D_in), rng.standard_normal((H, D_out)) / np.sqrt(H)
    results = []
    for rows in [int(r) for r in args.rows.split(",")]:
        with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR")) as scratch:
            path = os.path.join(scratch, "data.npy")
            started = time.perf_counter()
            write_data(path, rows)
            print(f"{rows:,} rows: file of {os.path.getsize(path) / 1e9:.2f} GB written in "
                  f"{time.perf_counter() - started:.0f} s", flush=True)
            x, y = load_data(path, args.chunk_rows)
            reference = block_loop(path, args.chunk_rows, w1, w2)()
            row = {"rows": rows}
            value, (g1, g2) = loss_fn.value_and_grad(x, y, w1, w2)
            row["dask agrees"] = bool(np.allclose(value, reference[0], rtol=1e-10)
                                      and np.allclose(g1, reference[1], rtol=1e-9) and np.allclose(g2, reference[2], rtol=1e-9))
            row["dask"] = measure(lambda: loss_fn.value_and_grad(x, y, w1, w2), args.repeats)
            row["dask, SGD step"] = measure(sgd_step(x, y, w1.copy(), w2.copy()), args.repeats)
            if args.workers:
                from distributed import Client, LocalCluster

                # the same graphs: while the client is open, dask computes them on its cluster
                with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True) as cluster, \
                        Client(cluster) as client:
                    row["cluster"] = measure(lambda: loss_fn.value_and_grad(x, y, w1, w2), args.repeats, client)
                    row["cluster, SGD step"] = measure(sgd_step(x, y, w1.copy(), w2.copy()), args.repeats, client)
            row["block loop"] = measure(block_loop(path, args.chunk_rows, w1, w2), args.repeats)
            if rows <= args.in_memory_max:
                data = np.load(path)
                xs, ys = np.ascontiguousarray(data[:, :D_in]), np.ascontiguousarray(data[:, D_in:])
                del data
                row["in memory"] = measure(lambda: loss_fn.value_and_grad(xs, ys, w1, w2), args.repeats)
                del xs, ys
            results.append(row)
            print(json.dumps(row), flush=True)
    print()
    print(f"Measured {datetime.date.today()} on {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, numpy {np.__version__}, dask {__import__('dask').__version__}; "
          f"chunks of {args.chunk_rows:,} rows.")
    print()
    print("| rows | contender | wall (s) | CPU (s) | CPU vs block loop | peak numpy allocations, client (MB) "
          "| the same, busiest worker (MB) | gradient |")
    print("|---|---|---|---|---|---|---|---|")
    labels = {"dask": "dask (threads): gradient", "dask, SGD step": "dask (threads): SGD step",
              "cluster": f"dask (LocalCluster, {args.workers} workers): gradient",
              "cluster, SGD step": f"dask (LocalCluster, {args.workers} workers): SGD step",
              "block loop": "numpy, block loop: gradient", "in memory": "numpy, in memory: gradient"}
    for row in results:
        loop_cpu = row["block loop"][1]
        for name, label in labels.items():
            if name == "in memory" and name not in row:
                print(f"| {row['rows']:,} | {label} | not run (more than --in-memory-max rows) | | | | | |")
                continue
            if name not in row:
                continue
            wall, cpu, peak, *worker = row[name]
            agrees = ("= the block loop's" if row["dask agrees"] else "DIFFERS") if name == "dask" else ""
            on_worker = f"{worker[0] / 1e6:.1f}" if worker else "(in the client)"
            print(f"| {row['rows']:,} | {label} | {wall:.2f} | {cpu:.2f} | {cpu / loop_cpu:.2f}x | {peak / 1e6:.1f} "
                  f"| {on_worker} | {agrees} |")
    if args.output:
        Path(args.output).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
