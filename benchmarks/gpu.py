"""GPU benchmark: one training step (forward, gradients, SGD update) on cupy, float32, TF32 off.

Workloads: the two-layer net at 64,1000,100,10 / 512,4096,1024,10 / 4096,8192,8192,1024 and the dynamic
net (depth 3). Contenders: sourcegrad's generated code (the same file as on the CPU), the backward written
by hand (the tutorial's numpy code run on cupy arrays), and torch CUDA eager autograd where torch is
installed. Device-synchronised timing, the median of several rounds, a markdown table last (and in
--output). Run by benchmarks/gpu_check.sh on a machine with an NVIDIA GPU.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "examples"))
os.environ.setdefault("CUPY_TF32", "0")  # read when cupy is imported: plain float32 matrix products

import cupy  # noqa: E402

import sourcegrad  # noqa: E402

LR = 1e-9  # small enough that hundreds of timed steps leave the weights where they were


def timed(step, repeat, rounds=7):
    """Seconds per step: the median over rounds of `repeat` steps, each round ended by a device sync."""
    for _ in range(3):
        step()
    cupy.cuda.Device().synchronize()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(repeat):
            step()
        cupy.cuda.Device().synchronize()
        samples.append((time.perf_counter() - start) / repeat)
    return statistics.median(samples), min(samples), max(samples)


def _torch():
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    return torch


def with_torch(contenders, loss, data, params):
    """contenders, and torch CUDA eager where torch is installed: loss(*data, *params) backward, then the SGD
    update, on torch's own copies of the parameters."""
    torch = _torch()
    if torch is None:
        return contenders
    data = [torch.as_tensor(a, device="cuda") for a in data]
    params = [torch.as_tensor(a, device="cuda").clone().requires_grad_() for a in params]

    def torch_step():
        loss(*data, *params).backward()
        with torch.no_grad():
            for p in params:
                p.sub_(LR * p.grad)
                p.grad = None

    return {**contenders, "torch CUDA eager": torch_step}


def two_layer(sizes):
    import two_layer as example
    n, d_in, h, d_out = sizes
    rng = np.random.default_rng(0)
    x, y = (cupy.asarray(rng.standard_normal(s), dtype=cupy.float32) for s in ((n, d_in), (n, d_out)))
    w = [cupy.asarray(rng.standard_normal(s) * 0.01, dtype=cupy.float32) for s in ((d_in, h), (h, d_out))]

    def by_hand():  # the tutorial's loop body
        w1, w2 = w
        h_ = x.dot(w1)
        h_relu = cupy.maximum(h_, 0)
        y_pred = h_relu.dot(w2)
        loss = cupy.square(y_pred - y).sum()  # noqa: F841 (the tutorial computes it every step)
        grad_y_pred = 2.0 * (y_pred - y)
        grad_w2 = h_relu.T.dot(grad_y_pred)
        grad_h_relu = grad_y_pred.dot(w2.T)
        grad_h = grad_h_relu.copy()
        grad_h[h_ < 0] = 0
        grad_w1 = x.T.dot(grad_h)
        w1 -= LR * grad_w1
        w2 -= LR * grad_w2

    def generated():
        _, (grad_w1, grad_w2) = example.loss_fn.value_and_grad(x, y, *w)
        w[0] -= LR * grad_w1
        w[1] -= LR * grad_w2

    def loss(x, y, w1, w2):
        return (x.mm(w1).clamp(min=0).mm(w2) - y).pow(2).sum()

    return with_torch({"hand-written (cupy)": by_hand, "sourcegrad": generated}, loss, (x, y), w)


def dynamic_net(depth=3):
    import dynamic_net as example
    import dynamic_net_numpy
    x, y, params = sourcegrad.to_device(example.make_data(0, np.float32), "cuda")

    def by_hand():  # numpy's functions on cupy arrays dispatch to cupy
        _, grads = dynamic_net_numpy.loss_and_grads(x, y, *params, depth)
        for p, g in zip(params, grads):
            p -= LR * g

    def generated():
        _, grads = example.loss_fn.value_and_grad(x, y, *params, depth)
        for p, g in zip(params, grads):
            p -= LR * g

    def loss(x, y, w_in, b_in, w_mid, b_mid, w_out, b_out):
        h = (x @ w_in + b_in).clamp(min=0)
        for _ in range(depth):
            h = (h @ w_mid + b_mid).clamp(min=0)
        return (h @ w_out + b_out - y).pow(2).sum()

    return with_torch({"hand-written (cupy)": by_hand, "sourcegrad": generated}, loss, (x, y), params)


def profile(step, steps=300):
    """At small sizes a GPU step is bound by the host: Python and kernel launches. cProfile says where it goes."""
    import cProfile
    import pstats

    timed(step, repeat=20, rounds=1)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(steps):
        step()
    cupy.cuda.Device().synchronize()
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", help="also write the table to this file")
    parser.add_argument("--smoke", action="store_true", help="the smallest workloads, a few steps: does it run?")
    parser.add_argument("--profile", action="store_true",
                        help="first, where the host's time goes in sourcegrad's step of the dynamic net (cProfile)")
    options = parser.parse_args()
    if options.profile:
        profile(dynamic_net()["sourcegrad"])
    properties = cupy.cuda.runtime.getDeviceProperties(0)
    name = properties["name"].decode() if isinstance(properties["name"], bytes) else properties["name"]
    torch = _torch()
    lines = [f"GPU: {name}; cupy {cupy.__version__}, CUDA runtime {cupy.cuda.runtime.runtimeGetVersion()}, "
             f"torch {torch.__version__ if torch is not None else 'not installed'}; float32, TF32 off; "
             "median of 7 rounds (min-max)", "",
             "| workload | contender | ms per step | range | vs hand-written |", "|---|---|---|---|---|"]
    sizes = (((64, 1000, 100, 10), 50), ((512, 4096, 1024, 10), 50), ((4096, 8192, 8192, 1024), 5))  # with repeats
    workloads = [(f"two-layer {','.join(map(str, s))}", lambda s=s: two_layer(s), repeat) for s, repeat in sizes]
    workloads.append(("dynamic net, depth 3", dynamic_net, 50))
    if options.smoke:
        workloads = [(label, make, 2) for label, make, _ in (workloads[0], workloads[-1])]
    for label, make, repeat in workloads:
        rounds = 2 if options.smoke else 7
        results = {contender: timed(step, repeat, rounds) for contender, step in make().items()}
        base = results["hand-written (cupy)"][0]
        for contender, (median, low, high) in results.items():
            lines.append(f"| {label} | {contender} | {median * 1e3:.3f} | {low * 1e3:.3f}-{high * 1e3:.3f} | "
                         f"{median / base:.2f}x |")
        print("\n".join(lines[-len(results):]), flush=True)
    table = "\n".join(lines)
    print(table)
    if options.output:
        Path(options.output).write_text(table + "\n")


if __name__ == "__main__":
    main()
