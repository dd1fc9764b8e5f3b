"""GPU benchmark: one training step of the two-layer net and the dynamic net on cupy, float32, TF32 off.

sourcegrad's generated code (the same file as on the CPU) against a backward written by hand in cupy and
against torch CUDA eager autograd where torch is installed; device-synchronised timing, medians of several
repeats, a markdown table last. Run by benchmarks/gpu_check.sh on a machine with an NVIDIA GPU.
"""

import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "examples"))
os.environ.setdefault("CUPY_TF32", "0")

import cupy  # noqa: E402

import sourcegrad  # noqa: E402

LR = 1e-9


def timed(step, repeat=20, rounds=7):
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
    return statistics.median(samples)


def two_layer(sizes):
    import two_layer as example
    n, d_in, h, d_out = sizes
    rng = np.random.default_rng(0)
    x, y = (cupy.asarray(rng.standard_normal(s), dtype=cupy.float32) for s in ((n, d_in), (n, d_out)))
    w = [cupy.asarray(rng.standard_normal(s) * 0.01, dtype=cupy.float32) for s in ((d_in, h), (h, d_out))]

    def by_hand():
        w1, w2 = w
        h_ = x.dot(w1)
        h_relu = cupy.maximum(h_, 0)
        y_pred = h_relu.dot(w2)
        grad_y_pred = 2.0 * (y_pred - y)
        grad_w2 = h_relu.T.dot(grad_y_pred)
        grad_h = grad_y_pred.dot(w2.T)
        grad_h[h_ < 0] = 0
        w1 -= LR * x.T.dot(grad_h)
        w2 -= LR * grad_w2

    def generated():
        _, (grad_w1, grad_w2) = example.loss_fn.value_and_grad(x, y, *w)
        w[0] -= LR * grad_w1
        w[1] -= LR * grad_w2

    contenders = {"hand-written cupy": by_hand, "sourcegrad": generated}
    try:
        import torch
        torch.backends.cuda.matmul.allow_tf32 = False
        tx, ty = torch.as_tensor(x, device="cuda"), torch.as_tensor(y, device="cuda")
        tw = [torch.as_tensor(a, device="cuda").clone().requires_grad_() for a in w]

        def torch_step():
            loss = (tx.mm(tw[0]).clamp(min=0).mm(tw[1]) - ty).pow(2).sum()
            loss.backward()
            with torch.no_grad():
                for p in tw:
                    p.sub_(LR * p.grad)
                    p.grad = None
        contenders["torch CUDA eager"] = torch_step
    except ImportError:
        pass
    return contenders


def main():
    lines = [f"GPU: {cupy.cuda.runtime.getDeviceProperties(0)['name'].decode()}, cupy {cupy.__version__}", "",
             "| workload | contender | ms per step | vs hand-written cupy |", "|---|---|---|---|"]
    for sizes in ((64, 1000, 100, 10), (512, 4096, 1024, 10), (4096, 8192, 8192, 1024)):
        results = {name: timed(step) for name, step in two_layer(sizes).items()}
        for name, seconds in results.items():
            lines.append(f"| two-layer {','.join(map(str, sizes))} | {name} | {seconds * 1e3:.3f} | "
                         f"{seconds / results['hand-written cupy']:.2f}x |")
    import dynamic_net
    x, y, params = sourcegrad.to_device(dynamic_net.make_data(0, np.float32), "cuda")
    seconds = timed(lambda: dynamic_net.loss_fn.value_and_grad(x, y, *params, 3))
    lines.append(f"| dynamic net, depth 3 | sourcegrad | {seconds * 1e3:.3f} | |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
