"""What one `value_and_grad` call costs beyond the generated function, counted in machine instructions.

call_path.py times the call path, and on a busy machine its rounds spread by more than the path costs. This
counts instead: each side runs under valgrind's callgrind (one BLAS thread, hash seed 0, address-space
randomisation off) with no calls and with --calls calls, and the difference divided by the calls is what one
call executes, the same from run to run within a few instructions. The two sides:
- the generated function called directly, `function(numpy, x, y, w1, w2)`;
- `loss_fn.value_and_grad(x, y, w1, w2)`, the call path around it.
A count is not a time (a call path run between numpy's calls finds its code and data out of the caches), but
it says whether a change to the path made it do less, where a timing here cannot.

    python benchmarks/call_path_instructions.py [--calls 3000] [--sizes 8,16,8,2]

Needs valgrind and setarch (util-linux) on the path; neither is a dependency of sourcegrad.
"""

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run_calls(side, calls, sizes, dtype):
    """The body each counted process runs: one call to compile (or load), then `calls` calls of one side."""
    sys.path.insert(0, str(REPO))
    sys.path.insert(0, str(REPO / "examples"))
    import numpy as np

    import two_layer
    from sourcegrad.runtime import NUMPY

    n, d_in, h, d_out = sizes
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((n, d_in)).astype(dtype), rng.standard_normal((n, d_out)).astype(dtype)
    w1, w2 = rng.standard_normal((d_in, h)).astype(dtype), rng.standard_normal((h, d_out)).astype(dtype)
    loss = two_layer.loss_fn
    loss.value_and_grad(x, y, w1, w2)
    if side == "generated function":
        function = loss._last.function
        for _ in range(calls):
            function(NUMPY, x, y, w1, w2)
    else:
        value_and_grad = loss.value_and_grad
        for _ in range(calls):
            value_and_grad(x, y, w1, w2)


def count(side, calls, sizes, dtype, generated_dir):
    """Instructions the whole process executed, from callgrind's summary line."""
    environment = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                   "PYTHONHASHSEED": "0", "SOURCEGRAD_GENERATED_DIR": generated_dir}
    command = ["setarch", platform.machine(), "-R", "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
               sys.executable, __file__, "--child", side, str(calls), ",".join(map(str, sizes)), dtype]
    # the collector's garbage collection runs by allocation counts, which both sides share: left on, as in use
    finished = subprocess.run(command, env=environment, capture_output=True, text=True)
    found = re.search(r"Collected : (\d+)", finished.stderr)
    if finished.returncode != 0 or found is None:
        raise SystemExit(f"callgrind did not finish:\n{finished.stderr[-2000:]}")
    return int(found.group(1))


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        side, calls, sizes, dtype = sys.argv[2], int(sys.argv[3]), tuple(map(int, sys.argv[4].split(","))), sys.argv[5]
        return run_calls(side, calls, sizes, dtype)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--sizes", default="8,16,8,2", help="N,D_in,H,D_out")
    options = parser.parse_args()
    missing = [tool for tool in ("valgrind", "setarch") if shutil.which(tool) is None]
    if missing:
        raise SystemExit(f"{' and '.join(missing)} not found: this benchmark counts instructions under valgrind")
    sizes = tuple(int(size) for size in options.sizes.split(","))
    import numpy as np

    print(f"Python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}; sizes {sizes}; "
          f"instructions per call, the difference of {options.calls:,} calls and none\n")
    print("| dtype | generated function | value_and_grad | the call path |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="sourcegrad-instructions-") as generated_dir:
        for dtype in ("float64", "float32"):
            per_call = {}
            for side in ("generated function", "value_and_grad"):
                count(side, 0, sizes, dtype, generated_dir)  # the file written first, so both counts load it
                none, many = (count(side, calls, sizes, dtype, generated_dir) for calls in (0, options.calls))
                per_call[side] = (many - none) / options.calls
            generated, whole = per_call["generated function"], per_call["value_and_grad"]
            print(f"| {dtype} | {generated:,.0f} | {whole:,.0f} | {whole - generated:+,.0f} |")


if __name__ == "__main__":
    main()
