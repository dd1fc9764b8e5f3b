"""What one `value_and_grad` call costs beyond the generated function it runs, at the tutorial's smallest size.

Pairs, each timed in one process, interleaved, over many short rounds (the figure is the median of each
round's difference, so that a slower moment of the machine falls on both halves of a pair, and a round it
interrupts is one of hundreds):
- the call path: `loss_fn.value_and_grad(x, y, w1, w2)` against the generated function it runs, called
  directly as `function(numpy, x, y, w1, w2)`: what the deliverable's "over the generated function alone"
  names, and what call_path_instructions.py counts;
- the call path in a training step: the same, each inside a step with its SGD update (benchmarks/run.py's
  contenders). The update's small arrays make these rounds spread by more than the path costs, so this row
  says that the path shows in a step, not what it costs;
- the `into=` call path: `value_and_grad(..., into=(g1, g2))` against the `_into` function called directly
  with its buffers: the call path above, and what into= adds to it (its options read, the call's signature,
  a set of buffers taken from the pool and given back, the checks below);
- the `into=` checks alone: each into= array matches its argument and shares memory with nothing it must
  not (`_plain_into`, the check a training loop's call passes), against an empty call;
- the generated function's step against the tutorial's hand-written step (run.py's contenders again).

    python benchmarks/call_path.py [--rounds 401] [--calls 1000] [--sizes 8,16,8,2]
"""

import argparse
import os
import platform
import statistics
import sys
import tempfile
import timeit
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "examples"))
# generated code (the `_into` variant too) goes to a scratch folder, not into the repository's generated/
os.environ.setdefault("SOURCEGRAD_GENERATED_DIR", tempfile.mkdtemp(prefix="sourcegrad-call-path-"))

import two_layer  # noqa: E402  (examples/ on the path first)
from run import two_layer_contenders  # noqa: E402  (benchmarks/run.py, beside this file)
from sourcegrad.runtime import NUMPY  # noqa: E402
from sourcegrad.runtime.buffers import signature  # noqa: E402


def pairs(sizes, dtype):
    contenders = two_layer_contenders(sizes, dtype)
    step = contenders["sourcegrad"]()
    generated_step = contenders["sourcegrad's generated function alone"]()
    tutorial_step = contenders["tutorial (hand-written numpy)"]()
    n, d_in, h, d_out = sizes
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((n, d_in)).astype(dtype), rng.standard_normal((n, d_out)).astype(dtype)
    w1, w2 = rng.standard_normal((d_in, h)).astype(dtype), rng.standard_normal((h, d_out)).astype(dtype)
    g1, g2 = np.empty_like(w1), np.empty_like(w2)
    loss = two_layer.loss_fn
    loss.value_and_grad(x, y, w1, w2, into=(g1, g2))  # the `_into` variant made and its buffers filled
    compiled = loss._last
    buffered, pool = compiled.buffered(), compiled.pool
    buffers = pool.take(pool.idle[-1].signature).arrays
    args, targets = (x, y, w1, w2), (g1, g2)
    call_signature = signature(args, {}, None)
    assert loss._plain_into(targets, args, call_signature)  # the check timed is the one these calls pass
    value_and_grad, function = loss.value_and_grad, compiled.function
    return {
        "call path": (lambda: value_and_grad(x, y, w1, w2), lambda: function(NUMPY, x, y, w1, w2)),
        "call path in a training step": (step, generated_step),
        "into= call path": (lambda: loss.value_and_grad(x, y, w1, w2, into=(g1, g2)),
                            lambda: buffered(NUMPY, buffers, (g1, g2), x, y, w1, w2)),
        "into= checks alone": (lambda: loss._plain_into(targets, args, call_signature), lambda: None),
        "generated function vs the tutorial": (generated_step, tutorial_step),
    }


UNROLLED = 20


def measure(first, second, rounds, calls):
    """Median and range over the rounds of (first - second) per call, in microseconds, each one's median, and
    the difference of each one's fastest round: the machine's interruptions only ever add time, so the
    fastest rounds are the least disturbed (timeit's own documentation reads its results so), and their
    difference spreads the least from run to run."""
    # UNROLLED calls a loop pass, so that timeit's loop is a small part of what a round times
    a = timeit.Timer("call()\n" * UNROLLED, globals={"call": first})
    b = timeit.Timer("call()\n" * UNROLLED, globals={"call": second})
    passes = max(calls // UNROLLED, 1)
    calls = passes * UNROLLED
    a.timeit(passes), b.timeit(passes)  # warm-up
    times_a, times_b, differences = [], [], []
    for _ in range(rounds):
        ta = a.timeit(passes) / calls * 1e6
        tb = b.timeit(passes) / calls * 1e6
        times_a.append(ta), times_b.append(tb), differences.append(ta - tb)
    quartiles = statistics.quantiles(differences, n=4)
    fastest = min(times_a) - min(times_b)
    return statistics.median(times_a), statistics.median(times_b), statistics.median(differences), quartiles, fastest


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=401)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--sizes", default="8,16,8,2", help="N,D_in,H,D_out")
    options = parser.parse_args()
    sizes = tuple(int(size) for size in options.sizes.split(","))
    print(f"Python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}; sizes {sizes}; "
          f"{options.rounds} rounds of {options.calls:,} calls\n")
    print("| dtype | pair | first (us) | second (us) | difference (us), median | interquartile range | "
          "difference of the fastest rounds |")
    print("|---|---|---|---|---|---|---|")
    for dtype in (np.float64, np.float32):
        for name, (first, second) in pairs(sizes, dtype).items():
            time_a, time_b, difference, (low, _, high), fastest = measure(first, second, options.rounds,
                                                                          options.calls)
            print(f"| {np.dtype(dtype).name} | {name} | {time_a:.2f} | {time_b:.2f} | {difference:+.2f} | "
                  f"{low:+.2f} to {high:+.2f} | {fastest:+.2f} |")


if __name__ == "__main__":
    main()
