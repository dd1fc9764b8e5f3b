"""The benchmark suite: one training step of the tutorial's networks, sourcegrad against the peers.

A step is forward, gradients and an SGD update. For each workload and dtype the table gives the median time
per step of every contender, its range over the rounds, its ratio to the tutorial's hand-written numpy
backward (the median of each round's ratio, and their range), and the page faults per step (resource.getrusage), all measured in one process, interleaved,
after a warm-up. Each setting runs in several child processes (--processes, 3 by default), and the table
gives the median over them beside each process's own ratio: with two BLAS threads a contender's time moves
by a third or more from process to process, the code unchanged. The settings: one BLAS thread, then the
default, then one thread and without the peers: importing torch or jax changes how the allocator serves numpy's large
arrays (whether a fresh one costs page faults), so a process with numpy alone, as most users' are, is
measured too. Contenders that are not installed (HIPS autograd, torch, jax) are listed as such, never faked. Then the
compile times: importing sourcegrad, the first compile of the two-layer gradient in a fresh process, and
a later process that finds the file in generated/.

    python benchmarks/run.py [--quick] [--processes N] [--output table.md]
"""

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
LR = 1e-9  # small enough that hundreds of steps leave the weights, and so the work per step, as they were


# ---- the two-layer net ---------------------------------------------------------------------------------------

def two_layer_contenders(sizes, dtype):
    n, d_in, h, d_out = sizes
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((n, d_in)).astype(dtype), rng.standard_normal((n, d_out)).astype(dtype)
    weights = lambda: (rng.standard_normal((d_in, h)).astype(dtype), rng.standard_normal((h, d_out)).astype(dtype))  # noqa: E731

    def tutorial():
        w1, w2 = weights()

        def step():  # the tutorial's loop body, line for line (without its print)
            h_ = x.dot(w1)
            h_relu = np.maximum(h_, 0)
            y_pred = h_relu.dot(w2)
            loss = np.square(y_pred - y).sum()  # noqa: F841 (the tutorial computes it every step)
            grad_y_pred = 2.0 * (y_pred - y)
            grad_w2 = h_relu.T.dot(grad_y_pred)
            grad_h_relu = grad_y_pred.dot(w2.T)
            grad_h = grad_h_relu.copy()
            grad_h[h_ < 0] = 0
            grad_w1 = x.T.dot(grad_h)
            np.subtract(w1, LR * grad_w1, out=w1)  # w1 -= learning_rate * grad_w1, in a closure
            np.subtract(w2, LR * grad_w2, out=w2)
        return step

    def reused_buffers():
        w1, w2 = weights()
        h_, h_relu, y_pred = np.empty((n, h), dtype), np.empty((n, h), dtype), np.empty((n, d_out), dtype)
        grad_w1, grad_w2, grad_h = np.empty_like(w1), np.empty_like(w2), np.empty((n, h), dtype)
        mask, square = np.empty((n, h), bool), np.empty((n, d_out), dtype)

        def step():  # the same computation, every array written into one allocated before the loop
            np.dot(x, w1, out=h_)
            np.maximum(h_, 0, out=h_relu)
            np.dot(h_relu, w2, out=y_pred)
            np.subtract(y_pred, y, out=y_pred)
            loss = np.square(y_pred, out=square).sum()  # noqa: F841
            np.multiply(y_pred, 2.0, out=y_pred)
            np.dot(h_relu.T, y_pred, out=grad_w2)
            np.dot(y_pred, w2.T, out=grad_h)
            np.less(h_, 0, out=mask)
            grad_h[mask] = 0
            np.dot(x.T, grad_h, out=grad_w1)
            np.multiply(grad_w1, LR, out=grad_w1)
            np.multiply(grad_w2, LR, out=grad_w2)
            np.subtract(w1, grad_w1, out=w1)
            np.subtract(w2, grad_w2, out=w2)
        return step

    def sourcegrad_step():
        sys.path.insert(0, str(REPO / "examples"))
        import two_layer
        w1, w2 = weights()

        def step():
            _, (grad_w1, grad_w2) = two_layer.loss_fn.value_and_grad(x, y, w1, w2)
            np.subtract(w1, LR * grad_w1, out=w1)
            np.subtract(w2, LR * grad_w2, out=w2)
        return step

    def generated_alone():
        sys.path.insert(0, str(REPO / "examples"))
        import two_layer
        from sourcegrad.runtime import NUMPY
        w1, w2 = weights()
        two_layer.loss_fn.value_and_grad(x, y, w1, w2)  # compiled; then the generated function is called directly
        function = two_layer.loss_fn._last.function

        def step():  # what value_and_grad costs without its call path: the difference is the path's cost
            _, (grad_w1, grad_w2) = function(NUMPY, x, y, w1, w2)
            np.subtract(w1, LR * grad_w1, out=w1)
            np.subtract(w2, LR * grad_w2, out=w2)
        return step

    def sourcegrad_into_step():
        sys.path.insert(0, str(REPO / "examples"))
        import two_layer
        w1, w2 = weights()
        grad_w1, grad_w2 = np.empty_like(w1), np.empty_like(w2)

        def step():  # the gradients written into the same two arrays every step (opt-in: into=)
            two_layer.loss_fn.value_and_grad(x, y, w1, w2, into=(grad_w1, grad_w2))
            np.subtract(w1, LR * grad_w1, out=w1)
            np.subtract(w2, LR * grad_w2, out=w2)
        return step

    def autograd_step():
        import autograd.numpy as anp
        from autograd import grad
        w1, w2 = weights()
        gradient = grad(lambda w1_, w2_: anp.sum(anp.square(anp.dot(anp.maximum(anp.dot(x, w1_), 0), w2_) - y)),
                        argnum=(0, 1))

        def step():
            grad_w1, grad_w2 = gradient(w1, w2)
            np.subtract(w1, LR * grad_w1, out=w1)
            np.subtract(w2, LR * grad_w2, out=w2)
        return step

    def torch_step():
        import torch
        if os.environ.get("OPENBLAS_NUM_THREADS") == "1":
            torch.set_num_threads(1)
        w1_, w2_ = weights()
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)
        w1, w2 = torch.from_numpy(w1_).requires_grad_(), torch.from_numpy(w2_).requires_grad_()

        def step():
            loss = (tx.mm(w1).clamp(min=0).mm(w2) - ty).pow(2).sum()
            loss.backward()
            with torch.no_grad():
                w1.sub_(LR * w1.grad)
                w2.sub_(LR * w2.grad)
                w1.grad = None
                w2.grad = None
        return step

    def jax_contender(jit):
        def make():
            import jax
            import jax.numpy as jnp
            jax.config.update("jax_enable_x64", True)  # float64 stays float64; float32 stays float32
            jx, jy = jnp.asarray(x), jnp.asarray(y)
            state = list(map(jnp.asarray, weights()))

            def loss(w1, w2):
                return jnp.sum(jnp.square(jnp.dot(jnp.maximum(jnp.dot(jx, w1), 0), w2) - jy))

            value_and_grad = jax.value_and_grad(loss, argnums=(0, 1))

            def update(w1, w2):
                _, (grad_w1, grad_w2) = value_and_grad(w1, w2)
                return w1 - LR * grad_w1, w2 - LR * grad_w2

            update = jax.jit(update) if jit else update  # jit: the whole step, forward, gradients and update

            def step():
                state[:] = jax.block_until_ready(update(*state))  # jax returns before the work is done
            return step
        return make

    return {"tutorial (hand-written numpy)": tutorial, "hand-written, reused buffers": reused_buffers,
            "sourcegrad": sourcegrad_step, "sourcegrad's generated function alone": generated_alone,
            "sourcegrad, into= (gradient arrays reused)": sourcegrad_into_step,
            "HIPS autograd": autograd_step, "torch CPU eager": torch_step,
            "jax eager": jax_contender(jit=False), "jax.jit of the whole step": jax_contender(jit=True)}


# ---- the dynamic net and the RNN -------------------------------------------------------------------------------

def dynamic_net_contenders(dtype):
    sys.path.insert(0, str(REPO / "examples"))
    import dynamic_net
    import dynamic_net_numpy
    x, y, params = dynamic_net.make_data(0, dtype)
    depths = [0, 1, 2, 3]
    counter = [0]

    def depth():
        counter[0] += 1
        return depths[counter[0] % 4]

    def updated(grads):
        for p, g in zip(params, grads):
            p -= LR * g

    return {"tutorial (hand-written numpy)": lambda: lambda: updated(dynamic_net_numpy.loss_and_grads(x, y, *params, depth())[1]),
            "sourcegrad": lambda: lambda: updated(dynamic_net.loss_fn.value_and_grad(x, y, *params, depth())[1])}


def rnn_contenders(dtype):
    sys.path.insert(0, str(REPO / "benchmarks"))
    import loops
    import sourcegrad
    rng = np.random.default_rng(0)
    h0 = rng.standard_normal((64, 100)).astype(dtype)
    W = (rng.standard_normal((100, 100)) * 0.1).astype(dtype)
    xs = rng.standard_normal((1000, 64, 100)).astype(dtype)
    rnn = sourcegrad.differentiate(loops.rnn_loss, wrt=("h", "W"))

    def update(grads):
        W.__isub__(LR * grads[1])

    return {"tutorial (hand-written numpy)": lambda: lambda: update(loops.rnn_by_hand(h0, W, xs)[1]),
            "sourcegrad": lambda: lambda: update(rnn.value_and_grad(h0, W, xs)[1])}


# ---- measuring ----------------------------------------------------------------------------------------------------

def measure(contenders, rounds):
    steps, missing = {}, []
    for name, make in contenders.items():
        try:
            steps[name] = make()
        except ImportError:
            missing.append(name)
    for step in steps.values():  # warm-up: compile, caches, first-touch page faults
        for _ in range(3):
            step()
    probe = steps["tutorial (hand-written numpy)"]
    start = time.perf_counter()
    probe()
    repeat = max(1, min(4000, int(0.1 / max(time.perf_counter() - start, 1e-7))))
    times = {name: [] for name in steps}
    faults = {name: 0 for name in steps}
    for r in range(rounds):
        order = list(steps) if r % 2 == 0 else list(steps)[::-1]  # interleaved, both directions
        for name in order:
            # One untimed step first: the heap is as the previous contender left it, and the page faults of a
            # contender's first step after another's measure that hand-over, not this contender's steady state.
            steps[name]()
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            start = time.perf_counter()
            for _ in range(repeat):
                steps[name]()
            times[name].append((time.perf_counter() - start) / repeat)
            faults[name] += resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    reference = times["tutorial (hand-written numpy)"]
    rows = []
    for name in steps:
        # Each round's time over the tutorial's in the same round: the pairs share whatever the machine was
        # doing then, so their ratios scatter less than the times do.
        ratios = [t / r for t, r in zip(times[name], reference)]
        rows.append({"contender": name, "median": statistics.median(times[name]), "low": min(times[name]),
                     "high": max(times[name]), "ratio": statistics.median(ratios), "ratio_low": min(ratios),
                     "ratio_high": max(ratios), "faults": faults[name] / (rounds * repeat)})
    rows += [{"contender": name, "missing": True} for name in missing]
    return rows


PEERS = ("HIPS autograd", "torch CPU eager", "jax eager", "jax.jit of the whole step")


def child(quick, only, numpy_only, rounds=None, keep_freed=False):
    """rounds: of every workload (else 9, and 5 for the two slow ones; 3 with quick). keep_freed: the process
    keeps freed memory (sourcegrad.keep_freed_memory), for every contender alike."""
    if keep_freed:
        import sourcegrad
        if not sourcegrad.keep_freed_memory():
            raise SystemExit("keep_freed_memory() is not available here (not glibc)")
    fast, slow = (rounds, rounds) if rounds else (3, 3) if quick else (9, 5)
    workloads = {f"two-layer {','.join(map(str, sizes))}": (lambda dtype, sizes=sizes: two_layer_contenders(sizes, dtype),
                                                            slow if sizes[1] >= 4096 else fast)
                 for sizes in ((8, 16, 8, 2), (64, 1000, 100, 10), (512, 4096, 1024, 10))}
    workloads["dynamic net (depths 0-3)"] = (dynamic_net_contenders, fast)
    workloads["tanh RNN, 1,000 steps"] = (rnn_contenders, slow)
    results = []
    for dtype in (np.float64, np.float32):
        for workload, (contenders, workload_rounds) in workloads.items():
            if only and not any(part in workload for part in only):
                continue
            made = contenders(dtype)
            if numpy_only:  # the peers' imports change how the allocator serves numpy: leave them out
                made = {name: make for name, make in made.items() if name not in PEERS}
            results.append({"workload": workload, "dtype": np.dtype(dtype).name,
                            "rows": measure(made, workload_rounds)})
    print(json.dumps(results))


def compile_times():
    """(import sourcegrad, first compile in a fresh process, a later process reading generated/), in ms."""
    probe = (
        "import time; t0 = time.perf_counter(); import sourcegrad; t1 = time.perf_counter()\n"
        "import sys, numpy as np; sys.path.insert(0, sys.argv[1]); import two_layer\n"
        "args = [np.ones((4, 5)), np.ones((4, 2)), np.ones((5, 3)), np.ones((3, 2))]\n"
        "t2 = time.perf_counter(); two_layer.loss_fn._compile(args, {}); t3 = time.perf_counter()\n"
        "print((t1 - t0) * 1e3, (t3 - t2) * 1e3)\n")
    with tempfile.TemporaryDirectory() as folder:
        env = dict(os.environ, SOURCEGRAD_GENERATED_DIR=folder)
        run = lambda: subprocess.run([sys.executable, "-c", probe, str(REPO / "examples")], env=env, cwd=REPO,  # noqa: E731
                                     capture_output=True, text=True, check=True).stdout.split()
        imported, first = map(float, run())
        _, cached = map(float, run())
    return imported, first, cached


def _at_least_one(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--rounds", type=int, help="rounds of every workload (default 9, 5 for the two slow ones)")
    parser.add_argument("--output", help="also write the table to this file")
    parser.add_argument("--only", action="append", metavar="TEXT",
                        help="run only the workloads whose name contains TEXT (repeatable), e.g. --only 8,16")
    parser.add_argument("--threads", choices=("1", "default", "both"), default="both", help="BLAS threads")
    parser.add_argument("--no-compile-times", action="store_true", help="skip the compile-time probes")
    parser.add_argument("--no-numpy-only", action="store_true",
                        help="skip the run without the peers (numpy alone in the process, one BLAS thread)")
    parser.add_argument("--processes", type=_at_least_one, default=3,
                        help="child processes per thread setting (default 3); each measures on its own, and the "
                             "table gives the median over them")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--numpy-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--keep-freed-memory", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-keep-freed-memory", action="store_true",
                        help="skip the numpy-only run in a process that keeps freed memory (keep_freed_memory())")
    args = parser.parse_args()
    if args.child:
        return child(args.quick, args.only, args.numpy_only, args.rounds, args.keep_freed_memory)

    lines = [f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, numpy {np.__version__}.", ""]
    scratch = tempfile.mkdtemp(prefix="sourcegrad-benchmark-")  # generated code goes here, not into the repository
    runs = [(threads, False, False) for threads in (("1", "default") if args.threads == "both" else (args.threads,))]
    if not args.no_numpy_only and args.threads != "default":
        runs.append(("1", True, False))
        if not args.no_keep_freed_memory:
            runs.append(("1", True, True))
    for threads, numpy_only, keep_freed in runs:
        env = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}
        env["SOURCEGRAD_GENERATED_DIR"] = scratch
        if threads == "1":
            env.update({name: "1" for name in THREAD_VARIABLES})
            env["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        command = [sys.executable, __file__, "--child"] + (["--quick"] if args.quick else [])
        command += [f"--rounds={args.rounds}"] if args.rounds else []
        command += [f"--only={part}" for part in args.only or ()] + (["--numpy-only"] if numpy_only else [])
        command += ["--keep-freed-memory"] if keep_freed else []
        per_process = [json.loads(subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout)
                       for _ in range(args.processes)]
        title = f"BLAS threads: {threads}" + (", numpy alone in the process (no peer imported)" if numpy_only else "")
        title += ", the allocator keeping freed memory (keep_freed_memory())" if keep_freed else ""
        lines += [f"### {title}", "",
                  "| workload | dtype | contender | ms per step (median) | range | vs tutorial (range) "
                  "| each process's ratio | page faults per step |",
                  "|---|---|---|---|---|---|---|---|"]
        for result, rows in combined(per_process):
            for row in rows:
                if row.get("missing"):
                    lines.append(f"| {result['workload']} | {result['dtype']} | {row['contender']} | not installed | | | | |")
                    continue
                lines.append(f"| {result['workload']} | {result['dtype']} | {row['contender']} | {row['median'] * 1e3:.4g} | "
                             f"{row['low'] * 1e3:.4g}-{row['high'] * 1e3:.4g} | {row['ratio']:.2f}x "
                             f"({row['ratio_low']:.2f}-{row['ratio_high']:.2f}) | {row['ratios']} | {row['faults']:.1f} |")
        lines.append("")
    if args.no_compile_times:
        return finish("\n".join(lines), args.output)
    imported, first, cached = compile_times()
    lines += ["### Compile times", "", "| what | ms |", "|---|---|", f"| import sourcegrad | {imported:.0f} |",
              f"| first compile of the two-layer gradient, fresh process | {first:.0f} |",
              f"| a later process, file found in generated/ | {cached:.1f} |"]
    finish("\n".join(lines), args.output)


def combined(per_process):
    """(result, rows) per workload and dtype, each row over the processes: the median of their medians and of
    their ratios to the tutorial, the range of all their rounds, each process's own ratio, the mean faults.
    Rows are matched by workload, dtype and contender; a contender missing in some process (not installed
    there) is combined over the processes that have it.

    Why more than one process: with two BLAS threads a contender's time can move by a third or more from one
    process to the next with the code unchanged (where the allocator places its arrays), and the luck falls
    on any contender, the hand-written ones included. One process measures that luck; the median of a few
    measures the code.
    """
    out = []
    for results in zip(*per_process, strict=True):  # every process runs the same workloads in the same order
        rows = []
        for name in dict.fromkeys(row["contender"] for result in results for row in result["rows"]):
            same = [row for result in results for row in result["rows"]
                    if row["contender"] == name and not row.get("missing")]
            if not same:
                rows.append({"contender": name, "missing": True})
                continue
            ratios = [row["ratio"] for row in same]
            rows.append({"contender": name, "median": statistics.median(r["median"] for r in same),
                         "low": min(r["low"] for r in same), "high": max(r["high"] for r in same),
                         "ratio": statistics.median(ratios), "ratio_low": min(r["ratio_low"] for r in same),
                         "ratio_high": max(r["ratio_high"] for r in same),
                         "ratios": ", ".join(f"{r:.2f}" for r in ratios),
                         "faults": statistics.mean(r["faults"] for r in same)})
        out.append((results[0], rows))
    return out


def finish(table, output):
    print(table)
    if output:
        Path(output).write_text(table + "\n")


if __name__ == "__main__":
    main()
