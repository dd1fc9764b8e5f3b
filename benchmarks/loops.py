"""Loops benchmark: the dynamic net and a 1,000-step tanh RNN, sourcegrad against a backward written by hand.

For each workload: time per gradient (forward + backward, median of interleaved rounds after warm-up) and
peak memory allocated during one gradient call (tracemalloc sees numpy's buffers), for sourcegrad's
generated code and for a hand-written numpy backward that keeps only what it needs.

    python benchmarks/loops.py [--rounds 7] [--output table.md]
"""

import argparse
import os
import platform
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "examples"))
sys.path.insert(0, str(REPO))
os.environ.setdefault("SOURCEGRAD_GENERATED_DIR", str(REPO / "benchmarks" / "generated"))

import sourcegrad  # noqa: E402
import dynamic_net  # noqa: E402
from dynamic_net_numpy import loss_and_grads as dynamic_by_hand  # noqa: E402

# ---- the RNN --------------------------------------------------------------------------------------


def rnn_loss(h, W, xs):
    for t in range(xs.shape[0]):
        h = np.tanh(h @ W + xs[t])
    return np.square(h).sum()


def rnn_by_hand(h, W, xs):
    hs = [h]
    for t in range(xs.shape[0]):
        hs.append(np.tanh(hs[-1] @ W + xs[t]))
    loss = np.square(hs[-1]).sum()
    grad_h = 2.0 * hs[-1]
    grad_W = np.zeros_like(W)
    for t in range(xs.shape[0], 0, -1):
        grad_z = grad_h * (1 - hs[t] * hs[t])
        grad_W += hs[t - 1].T @ grad_z
        grad_h = grad_z @ W.T
    return loss, (grad_h, grad_W)


def workloads(dtype):
    rng = np.random.default_rng(0)
    h0 = rng.standard_normal((64, 100)).astype(dtype)
    W = (rng.standard_normal((100, 100)) * 0.1).astype(dtype)
    xs = rng.standard_normal((1000, 64, 100)).astype(dtype)
    rnn = sourcegrad.differentiate(rnn_loss, wrt=("h", "W"))
    x, y, params = dynamic_net.make_data(0, dtype)
    return {
        "tanh RNN, 1,000 steps, h 64x100": (lambda: rnn.value_and_grad(h0, W, xs), lambda: rnn_by_hand(h0, W, xs)),
        "dynamic net, depth 3": (lambda: dynamic_net.loss_fn.value_and_grad(x, y, *params, 3),
                                 lambda: dynamic_by_hand(x, y, *params, 3)),
        "dynamic net, depths 0, 1, 2, 3 (one call each)": (
            lambda: [dynamic_net.loss_fn.value_and_grad(x, y, *params, d) for d in range(4)],
            lambda: [dynamic_by_hand(x, y, *params, d) for d in range(4)]),
    }


def timed(fn, repeat):
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def peak_memory(fn):
    tracemalloc.start()
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    result = fn()
    peak = tracemalloc.get_traced_memory()[1] - before
    tracemalloc.stop()
    del result
    return peak


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--output")
    args = parser.parse_args()
    lines = [f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
             f"numpy {np.__version__}; BLAS threads as the environment sets them.", "",
             "| workload | dtype | hand-written (ms) | sourcegrad (ms) | time ratio | peak memory, hand-written (MB) "
             "| peak memory, sourcegrad (MB) | memory ratio |",
             "|---|---|---|---|---|---|---|---|"]
    for dtype in (np.float64, np.float32):
        for name, (generated, by_hand) in workloads(dtype).items():
            generated(), by_hand()  # compile and warm up
            repeat = max(1, int(0.2 / max(timed(by_hand, 1), 1e-6)))
            ours, theirs = [], []
            for _ in range(args.rounds):  # interleaved, so drift affects both alike
                theirs.append(timed(by_hand, repeat))
                ours.append(timed(generated, repeat))
            t_ours, t_theirs = statistics.median(ours), statistics.median(theirs)
            m_ours, m_theirs = peak_memory(generated), peak_memory(by_hand)
            lines.append(f"| {name} | {np.dtype(dtype).name} | {t_theirs * 1e3:.2f} | {t_ours * 1e3:.2f} | "
                         f"{t_ours / t_theirs:.2f}x | {m_theirs / 1e6:.1f} | {m_ours / 1e6:.1f} | {m_ours / m_theirs:.2f}x |")
    table = "\n".join(lines)
    print(table)
    if args.output:
        Path(args.output).write_text(table + "\n")


if __name__ == "__main__":
    main()
