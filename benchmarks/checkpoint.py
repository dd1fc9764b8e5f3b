"""Checkpointed loops benchmark: a 10,000-step tanh RNN's gradient, plain tape against checkpointing.

The RNN is `h = tanh(h @ W + xs[t] @ U)` for t in range(steps), loss `(h * h).sum()`, the gradient taken with
respect to W and U (float64). Contenders, each in a fresh child process of its own (started and measured one at a time):

- sourcegrad with the plain tape (`for t in range(n)`) and checkpointed
  (`for t in sourcegrad.checkpoint(range(n), snapshots=s)`) for each s of --snapshots;
- torch's plain autograd, and `torch.utils.checkpoint.checkpoint(..., use_reentrant=False)` over segments of
  --segment steps (if torch is installed);
- jax (CPU, x64, jit): `jax.lax.scan` over the steps; the same with the step wrapped in `jax.checkpoint`; and
  a two-level scan (steps/segment segments of --segment steps, the inner scan wrapped in `jax.checkpoint`),
  whose memory goes as the square root of the steps (if jax is installed).

In each child: the data is made from one seed (the same in every child), the gradient compiled or warmed up
on 3 steps (jax: compiled ahead at full size with `.lower().compile()`, nothing run), and then:

1. one gradient call measured for memory: the increase of the process's peak resident set during the call
   (Linux: VmHWM after the call, reset through /proc/self/clear_refs just before it, minus VmRSS before it).
   That is the one measure every framework shares; it counts pages the allocator touched, so it is what the
   machine has to provide, and it is taken on the process's first full-size call, before the heap has grown;
2. sourcegrad: one more call under tracemalloc, which numpy reports its buffers to: the peak of the bytes
   allocated during the call, exactly, free of the allocator's habits (sourcegrad's ratios use it).
   torch: one more call with glibc malloc's bytes in use (mallinfo2) sampled every 0.5 ms from a second
   thread (torch's ratios use it): torch has no CPU allocator statistics, and its resident set is no guide to
   what it holds, since glibc's heap fragments under torch.utils.checkpoint (10,000 steps: 53 MB in use at
   the peak, the resident set up by 2.6 GB). jax: the resident set (XLA's own plan of its temporaries, from
   `compiled.memory_analysis()`, is printed beside it);
3. timed calls (wall clock, perf_counter; jax: until `block_until_ready`), --repeats rounds of one call per
   contender, the processes kept waiting in between: the machine's load falls on every contender alike, and
   each round gives a ratio to the framework's plain contender (the table: their median and range).

The gradients of every contender are checked against sourcegrad's plain tape (np.allclose, and the largest
relative difference), so the figures are those of a right answer. Then the Revolve schedule's forward
iterations: `sourcegrad.runtime.checkpoint.revolve(n, s).advances()` against the fewest any schedule with s
saved states can do after a forward pass that ran all n iterations (computed here from the binomial
recursion), and Griewank and Walther's closed form.

    python benchmarks/checkpoint.py [--steps 10000] [--repeats 3] [--snapshots 10,100,1000] [--output FILE]
"""

import argparse
import ctypes
import datetime
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from functools import lru_cache
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("SOURCEGRAD_GENERATED_DIR", str(REPO / "benchmarks" / "generated"))

import sourcegrad  # noqa: E402
from sourcegrad.runtime.checkpoint import revolve  # noqa: E402

# ---- the RNN, as a sourcegrad user writes it ---------------------------------------------------------


def rnn_loss(h, W, U, xs):
    for t in range(xs.shape[0]):
        h = np.tanh(h @ W + xs[t] @ U)
    return (h * h).sum()


def rnn_loss_checkpointed(h, W, U, xs, snapshots):
    for t in sourcegrad.checkpoint(range(xs.shape[0]), snapshots=snapshots):
        h = np.tanh(h @ W + xs[t] @ U)
    return (h * h).sum()


def make_data(steps, batch, hidden, inputs):
    rng = np.random.default_rng(0)
    h = rng.standard_normal((batch, hidden))
    W = rng.standard_normal((hidden, hidden)) * (0.9 / math.sqrt(hidden))
    U = rng.standard_normal((inputs, hidden)) / math.sqrt(inputs)
    xs = rng.standard_normal((steps, batch, inputs))
    return h, W, U, xs


# ---- memory -------------------------------------------------------------------------------------------


def _status(field):
    return int(re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.M).group(1)) * 1024


def peak_rss_increase(call):
    """Run call() and return (its result, how far the peak resident set rose above the resident set before)."""
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current VmRSS (Linux 4.0 and later)
    before = _status("VmRSS")
    result = call()
    return result, _status("VmHWM") - before


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]


def sampled_malloc_peak(call, interval=0.0005):
    """Run call() and return (its result, the peak of glibc malloc's bytes in use, its main arena's and its
    mmapped blocks', above those before the call), sampled every `interval` seconds by a second thread: a
    lower bound, close where peaks last longer than a sample (torch releases the GIL inside its operations).
    Checked on sourcegrad's numpy code, 1,000 steps: within 3% of tracemalloc for the plain tape, s = 10, 100."""
    mallinfo2 = ctypes.CDLL("libc.so.6").mallinfo2
    mallinfo2.restype = _Mallinfo2

    def in_use():
        info = mallinfo2()
        return info.uordblks + info.hblkhd

    peak, done = [0], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], in_use())
            time.sleep(interval)

    before = in_use()
    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        result = call()
    finally:
        done.set()
        sampler.join()
    return result, max(peak[0], in_use()) - before


def tracemalloc_peak(call):
    tracemalloc.start()
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    result = call()
    peak = tracemalloc.get_traced_memory()[1] - before
    tracemalloc.stop()
    return result, peak


# ---- contenders (each run in a child process) ----------------------------------------------------------


def sourcegrad_contender(data, snapshots):
    h, W, U, xs = data
    if snapshots is None:
        f = sourcegrad.differentiate(rnn_loss, wrt=("W", "U"))
        call = lambda xs: f.value_and_grad(h, W, U, xs)  # noqa: E731
    else:
        f = sourcegrad.differentiate(rnn_loss_checkpointed, wrt=("W", "U"))
        call = lambda xs: f.value_and_grad(h, W, U, xs, snapshots)  # noqa: E731
    call(xs[:3])  # compile
    return lambda: call(xs), {}


def torch_contender(data, segment, threads):
    import torch
    from torch.utils.checkpoint import checkpoint

    if threads:
        torch.set_num_threads(threads)

    h, W, U, xs = (torch.from_numpy(a) for a in data)
    W.requires_grad_(True)
    U.requires_grad_(True)

    def steps(h, W, U, xs):
        for t in range(xs.shape[0]):
            h = torch.tanh(h @ W + xs[t] @ U)
        return h

    def call(xs):
        if segment is None:
            last = steps(h, W, U, xs)
        else:
            last = h
            for start in range(0, xs.shape[0], segment):
                last = checkpoint(steps, last, W, U, xs[start:start + segment], use_reentrant=False)
        loss = (last * last).sum()
        d_W, d_U = torch.autograd.grad(loss, (W, U))
        return loss.item(), (d_W.numpy(), d_U.numpy())

    call(xs[:3])  # warm up
    return lambda: call(xs), {}


def jax_contender(data, variant, segment):
    import jax

    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_platforms", "cpu")
    import jax.numpy as jnp

    def body(h, x, W, U):
        return jnp.tanh(h @ W + x @ U)

    def loss(W, U, h, xs):
        step = lambda h, x: (body(h, x, W, U), None)  # noqa: E731
        if variant == "scan":
            h, _ = jax.lax.scan(step, h, xs)
        elif variant == "checkpointed step":
            h, _ = jax.lax.scan(jax.checkpoint(step), h, xs)
        else:  # two levels: an outer scan over segments, each an inner scan recomputed in the backward pass
            inner = jax.checkpoint(lambda h, xs_segment: (jax.lax.scan(step, h, xs_segment)[0], None))
            h, _ = jax.lax.scan(inner, h, xs.reshape((-1, segment) + xs.shape[1:]))
        return (h * h).sum()

    h, W, U, xs = (jnp.asarray(a) for a in data)
    compiled = jax.jit(jax.value_and_grad(loss, argnums=(0, 1))).lower(W, U, h, xs).compile()
    extra = {}
    try:
        extra["xla_temp_bytes"] = int(compiled.memory_analysis().temp_size_in_bytes)
    except Exception:  # noqa: BLE001 (not every jax version reports it)
        pass

    def call():
        value, (d_W, d_U) = jax.block_until_ready(compiled(W, U, h, xs))
        return value, (d_W, d_U)

    return call, extra


def child(args):
    """A contender's process: set up, measure memory, save the gradient, then time a call each time the parent
    writes "time" (so that the parent can interleave the contenders' timed calls in rounds)."""
    config = json.loads(args.child)
    data = make_data(args.steps, args.batch, args.hidden, args.inputs)
    if config["framework"] == "sourcegrad":
        call, extra = sourcegrad_contender(data, config.get("snapshots"))
    elif config["framework"] == "torch":
        call, extra = torch_contender(data, config.get("segment"), args.threads)
    else:
        call, extra = jax_contender(data, config["variant"], config.get("segment"))
    (value, grads), rss = peak_rss_increase(call)
    np.savez(args.result + ".npz", value=float(value), d_W=np.asarray(grads[0]), d_U=np.asarray(grads[1]))
    del value, grads
    result = {"rss_bytes": rss, **extra}
    if config["framework"] == "sourcegrad":
        result["tracemalloc_bytes"] = tracemalloc_peak(call)[1]
    elif config["framework"] == "torch":
        result["malloc_bytes"] = sampled_malloc_peak(call)[1]
    Path(args.result).write_text(json.dumps(result))
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() != "time":
            break
        start = time.perf_counter()
        call()
        print(f"time {time.perf_counter() - start!r}", flush=True)


# ---- the schedule's forward iterations -------------------------------------------------------------------


def repetitions(n, s):
    """r: the least with binomial(s + r, s) >= n (each iteration then runs forward at most r + 1 times)."""
    r = 0
    while math.comb(s + r, s) < n:
        r += 1
    return r


def griewank_walther(n, s):
    """The fewest forward steps (the first sweep included) that reverse n steps holding s states, the state
    at 0 one of them: r n - binomial(s + r, r - 1) (Griewank and Walther 2000)."""
    if n <= 1:
        return 0
    r = repetitions(n, s)
    return r * n - math.comb(s + r, r - 1)


def _griewank_walther_all(n, s):
    """griewank_walther(m, s) for m = 1..n, as an array."""
    binomials = [1]
    while binomials[-1] < n:
        binomials.append(math.comb(s + len(binomials), s))
    m = np.arange(1, n + 1)
    r = np.searchsorted(np.array(binomials), m, side="left")
    subtract = np.array([math.comb(s + k, k - 1) if k else 0 for k in range(len(binomials))])
    return r * m - subtract[r]


def fewest_after_forward(n, s):
    """The fewest iterations any schedule holding s states (the state at 0 one of them) runs forward in the
    backward pass, when the forward pass has run all n iterations and saved states where it liked, and the
    loop's final state is of no use to the backward pass (as in sourcegrad's generated code). The recursion:
    F(1, s) = 0, F(m, 1) = m(m - 1)/2, F(m, s) = min over the first saved state k of
    F(m - k, s - 1) + griewank_walther(k, s). Both terms are convex in their argument, so the minimum over k is
    a merge of their increments (checked against the plain recursion on small cases below)."""
    F = np.arange(n, dtype=np.int64) * np.arange(1, n + 1) // 2  # F(m, 1) for m = 1..n
    for k in range(2, s + 1):
        if k >= n:  # a state for each iteration before the last: no iteration runs twice
            return 0
        increments = np.sort(np.concatenate([np.diff(F), np.diff(_griewank_walther_all(n, k))]))
        F = np.concatenate([[0, 0], np.cumsum(increments)[: n - 2]])
    return int(F[n - 1])


@lru_cache(maxsize=None)
def _fewest_by_recursion(n, s):
    if n <= 1:
        return 0
    if s == 1:
        return n * (n - 1) // 2
    return min(_fewest_by_recursion(n - k, s - 1) + griewank_walther(k, s) for k in range(1, n))


def schedule_rows(n, snapshot_list):
    for m in range(1, 41):  # the merge against the plain recursion, and the closed form against its own
        for s in range(1, 5):
            assert fewest_after_forward(m, s) == _fewest_by_recursion(m, s), (m, s)
    rows = []
    for s in snapshot_list:
        r = repetitions(n, s)
        row = [f"{s:,}", str(r), f"{math.comb(s + r, s):,}"]
        try:
            schedule = revolve(n, s)
        except RecursionError as error:
            row += [f"RecursionError ({error})", "", ""]
        else:
            runs = np.ones(n, dtype=np.int64)  # the forward pass runs each iteration once
            held, most_held = set(schedule.forward), len(schedule.forward)
            for action, i in schedule.backward:
                if action == "advance":
                    runs[i] += 1
                elif action == "snapshot":
                    held.add(i)
                    most_held = max(most_held, len(held))
                elif action == "forget":
                    held.discard(i)
            row += [f"{schedule.advances():,}", f"{runs.max()} (bound r + 1 = {r + 1})", str(most_held)]
        fewest = fewest_after_forward(n, s)
        row += [f"{fewest:,}", f"{griewank_walther(n, s) - (n - 1):,}"]
        if not row[3].startswith("RecursionError"):
            row.append(f"{schedule.advances() / fewest:.3f}x" if fewest else "")
        else:
            row.append("")
        rows.append(row)
    return rows


# ---- the parent: run the children, print the tables -----------------------------------------------------


def configurations(args):
    configs = [{"framework": "sourcegrad", "label": "sourcegrad, plain tape"}]
    for s in args.snapshots:
        configs.append({"framework": "sourcegrad", "snapshots": s,
                        "label": f"sourcegrad.checkpoint, snapshots={s}"})
    for name in ("torch", "jax"):
        try:
            __import__(name)
        except ImportError:
            print(f"{name} is not installed: its rows are left out")
            continue
        if name == "torch":
            configs += [{"framework": "torch", "label": "torch autograd, plain"},
                        {"framework": "torch", "segment": args.segment,
                         "label": f"torch.utils.checkpoint, {args.steps // args.segment} segments of {args.segment} steps"}]
        else:
            configs += [{"framework": "jax", "variant": "scan", "label": "jax.lax.scan, plain"},
                        {"framework": "jax", "variant": "checkpointed step",
                         "label": "jax.lax.scan of jax.checkpoint(step)"},
                        {"framework": "jax", "variant": "two levels", "segment": args.segment,
                         "label": f"two-level scan, {args.steps // args.segment} x {args.segment}, "
                                  "jax.checkpoint on the inner scan"}]
    return configs


class Contender:
    """A child process running one configuration (see child)."""

    def __init__(self, config, args, folder, index):
        self.config, self.result, self.times = config, str(Path(folder) / f"{index}.json"), []
        command = [sys.executable, __file__, "--child", json.dumps(config), "--result", self.result,
                   "--steps", str(args.steps), "--batch", str(args.batch), "--hidden", str(args.hidden),
                   "--inputs", str(args.inputs), "--threads", str(args.threads)]
        environment = dict(os.environ)
        if args.threads:
            for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
                environment[variable] = str(args.threads)
            if args.threads == 1:
                environment["XLA_FLAGS"] = (environment.get("XLA_FLAGS", "") +
                                            " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1").strip()
        self.stderr = open(Path(folder) / f"{index}.stderr", "w+")
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr,
                                        text=True, env=environment)

    def _reply(self, prefix):
        for line in self.process.stdout:
            if line.startswith(prefix):
                return line
        self.process.wait()
        self.stderr.seek(0)
        last = [line for line in self.stderr.read().strip().splitlines() if line.strip()]
        raise RuntimeError(last[-1] if last else f"exit status {self.process.returncode}")

    def measured(self):
        """Wait for the child's memory figures and gradient; a dict, with "error" if the child failed."""
        try:
            self._reply("ready")
        except RuntimeError as error:
            return {"error": str(error)}
        out = json.loads(Path(self.result).read_text())
        with np.load(self.result + ".npz") as saved:
            out["value"], out["grads"] = float(saved["value"]), (saved["d_W"], saved["d_U"])
        return out

    def timed_call(self):
        self.process.stdin.write("time\n")
        self.process.stdin.flush()
        self.times.append(float(self._reply("time ").split()[1]))

    def close(self):
        if self.process.poll() is None:
            self.process.stdin.close()
            self.process.wait()
        self.stderr.close()


def mb(n):
    return f"{n / 1e6:,.1f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--inputs", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3, help="rounds of timed calls (one per contender a round)")
    parser.add_argument("--snapshots", default="10,100,1000", help="comma-separated values of s")
    parser.add_argument("--segment", type=int, default=100, help="steps per torch/jax checkpointed segment")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads for each library (BLAS, torch, XLA); 0: each library's default")
    parser.add_argument("--output")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    args.snapshots = [int(s) for s in args.snapshots.split(",")]
    if args.steps % args.segment:
        parser.error("--steps must be a multiple of --segment (the two-level scan)")

    versions = [f"numpy {np.__version__}"]
    for name in ("torch", "jax"):
        try:
            versions.append(f"{name} {__import__(name).__version__}")
        except ImportError:
            pass
    threads = (f"{args.threads} per library (OPENBLAS/OMP/MKL_NUM_THREADS, torch.set_num_threads"
               f"{', XLA_FLAGS without its Eigen thread pool' if args.threads == 1 else ''})" if args.threads else "")
    lines = [f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
             f"{', '.join(versions)}; threads: {threads or 'each library its default'}; load average "
             f"{os.getloadavg()[0]:.1f} at the start; "
             f"{datetime.datetime.now().isoformat(timespec='minutes')}.",
             f"tanh RNN, {args.steps:,} steps, batch {args.batch}, hidden {args.hidden}, inputs {args.inputs}, "
             f"float64; gradient with respect to W ({args.hidden}x{args.hidden}) and U ({args.inputs}x{args.hidden}). "
             f"Each contender in a fresh process; time: {args.repeats} rounds of one call per contender, interleaved "
             f"(median and range); the ratio to the framework's plain contender is the median of the rounds' ratios "
             f"(and their range).", ""]

    configs = configurations(args)
    results, contenders = [], []
    with tempfile.TemporaryDirectory() as folder:
        try:
            for index, config in enumerate(configs):  # one at a time: each measures its memory alone
                start = time.perf_counter()
                contender = Contender(config, args, folder, index)
                results.append(contender.measured())
                print(f"  {config['label']}: set up and measured in {time.perf_counter() - start:.0f} s",
                      file=sys.stderr)
                if "error" in results[-1]:
                    contender.close()
                    contender = None
                contenders.append(contender)
            for round_ in range(args.repeats):  # interleaved, so that the machine's load falls on every contender
                start = time.perf_counter()
                for contender in contenders:
                    if contender is not None:
                        contender.timed_call()
                print(f"  round {round_ + 1} of {args.repeats}: {time.perf_counter() - start:.0f} s", file=sys.stderr)
        finally:
            for contender in contenders:
                if contender is not None:
                    contender.close()
    for contender, result in zip(contenders, results):
        if contender is not None:
            result["times"] = contender.times

    reference = results[0]
    if "error" in reference:
        sys.exit(f"sourcegrad's plain tape failed: {reference['error']}")
    plain_of = {}  # each framework's plain contender: what its ratios are against
    for config, result in zip(configs, results):
        if "error" not in result and config["framework"] not in plain_of:
            plain_of[config["framework"]] = result

    lines += ["| contender | time (s), median | range | time vs the framework's plain (range) | peak memory (MB) "
              "| measured by | memory vs the framework's plain | peak RSS increase (MB) | gradient vs sourcegrad's plain tape |",
              "|---|---|---|---|---|---|---|---|---|"]
    failures = []
    for config, result in zip(configs, results):
        if "error" in result:
            failures.append(f"{config['label']}: {result['error']}")
            lines.append(f"| {config['label']} | failed: {result['error']} | | | | | | | |")
            continue
        plain = plain_of[config["framework"]]
        median = statistics.median(result["times"])
        if config["framework"] == "sourcegrad":
            memory, how, plain_memory = result["tracemalloc_bytes"], "tracemalloc", plain["tracemalloc_bytes"]
        elif config["framework"] == "torch":
            memory, how, plain_memory = result["malloc_bytes"], "malloc in use, sampled", plain["malloc_bytes"]
        else:
            memory, how, plain_memory = result["rss_bytes"], "peak RSS increase", plain["rss_bytes"]
        if "xla_temp_bytes" in result:
            how += f" (XLA plans {mb(result['xla_temp_bytes'])} MB of temporaries)"
        close = np.allclose(result["value"], reference["value"]) and all(
            np.allclose(g, r) for g, r in zip(result["grads"], reference["grads"]))
        difference = max(float(np.max(np.abs(g - r)) / np.max(np.abs(r)))
                         for g, r in zip(result["grads"], reference["grads"]))
        if not close:
            failures.append(f"{config['label']}: gradient differs from the plain tape's (largest difference "
                            f"{difference:.1e} of the largest element)")
        check = ("identical" if difference == 0 else f"allclose, largest difference {difference:.1e}") if close \
            else f"NOT allclose ({difference:.1e})"
        ratios = [t / p for t, p in zip(result["times"], plain["times"])]
        result["median"], result["memory"], result["ratios"] = median, memory, ratios
        lines.append(f"| {config['label']} | {median:.2f} | {min(result['times']):.2f}-{max(result['times']):.2f} "
                     f"| {statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f}) | {mb(memory)} | {how} "
                     f"| {memory / plain_memory:.4f} (1/{plain_memory / memory:.0f}) | {mb(result['rss_bytes'])} | {check} |")

    target = next((r for c, r in zip(configs, results) if c.get("snapshots") == 100 and "median" in r), None)
    lines.append("")
    if target is not None and "median" in reference:
        memory_ratio = target["memory"] / reference["memory"]
        time_ratio = statistics.median(target["ratios"])
        lines.append(f"Issue 17's target, sourcegrad with snapshots=100 against its plain tape: peak memory "
                     f"{mb(target['memory'])} / {mb(reference['memory'])} MB = {memory_ratio:.4f} = 1/{1 / memory_ratio:.0f} "
                     f"(target at most 1/20: {'met' if memory_ratio <= 1 / 20 else 'NOT met'}); time "
                     f"{time_ratio:.2f}x, the median of the rounds' ratios (range {min(target['ratios']):.2f}-"
                     f"{max(target['ratios']):.2f}; medians {target['median']:.2f} / {reference['median']:.2f} s) "
                     f"(target at most 3x: {'met' if time_ratio <= 3 else 'NOT met'}).")
    else:
        lines.append("Issue 17's target: no result for snapshots=100 (add 100 to --snapshots).")

    lines += ["", f"The Revolve schedule for {args.steps:,} iterations (`revolve(n, s)`); \"advances\" are iterations "
              "the backward pass runs forward without their tape, beyond the forward pass (which runs each once) and "
              "the reversed iterations (each once more, with its tape):", "",
              "| snapshots s | r | binomial(s + r, s) | advances, `revolve(n, s).advances()` | most plain runs of one iteration "
              "| states held at most | fewest possible after a full forward pass | Griewank-Walther t(n, s) - (n - 1) "
              "| advances vs fewest |",
              "|---|---|---|---|---|---|---|---|---|"]
    lines += ["| " + " | ".join(row) + " |" for row in schedule_rows(args.steps, args.snapshots)]
    lines += ["", f"Load average at the end: {os.getloadavg()[0]:.1f} (other processes included: the machine may be shared)."]
    if failures:
        lines += ["", "Failures:"] + [f"- {failure}" for failure in failures]
    table = "\n".join(lines)
    print(table)
    if args.output:
        Path(args.output).write_text(table + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
