"""The tutorial's dynamic net: control flow and weight sharing.

An input layer, then the SAME middle layer applied a random 0 to 3 times (a new
count at every step), then an output layer. The loop below is ordinary Python;
sourcegrad writes its backward pass once, as a loop that runs backwards as many
times as the forward one ran, and the middle layer's weights collect a gradient
from every repetition. Open generated/dynamic_net_loss_fn*.py to read it.

    python -m sourcegrad examples/dynamic_net.py
"""

import random

import numpy as np

import sourcegrad
from two_layer_numpy import print_every

N, D_in, H, D_out = 64, 1000, 100, 10


@sourcegrad.differentiate(wrt=("w_in", "b_in", "w_mid", "b_mid", "w_out", "b_out"))
def loss_fn(x, y, w_in, b_in, w_mid, b_mid, w_out, b_out, depth):
    h_relu = np.maximum(x @ w_in + b_in, 0)
    for _ in range(depth):  # the same middle layer, `depth` times: weight sharing
        h_relu = np.maximum(h_relu @ w_mid + b_mid, 0)
    y_pred = h_relu @ w_out + b_out
    return np.square(y_pred - y).sum()


def linear_layer(rng, fan_in, fan_out, dtype):
    """Weights and bias drawn as torch.nn.Linear draws them: uniform in +-1/sqrt(fan_in)."""
    bound = 1.0 / np.sqrt(fan_in)
    weight = rng.uniform(-bound, bound, (fan_in, fan_out)).astype(dtype)
    bias = rng.uniform(-bound, bound, fan_out).astype(dtype)
    return weight, bias


def make_data(seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, D_in)).astype(dtype)
    y = rng.standard_normal((N, D_out)).astype(dtype)
    params = [*linear_layer(rng, D_in, H, dtype), *linear_layer(rng, H, H, dtype), *linear_layer(rng, H, D_out, dtype)]
    return x, y, params


def train(steps=500, learning_rate=1e-4, momentum=0.9, seed=0, dtype=np.float64, log=print, device=None):
    x, y, params = sourcegrad.to_device(make_data(seed, dtype), device)
    depths = random.Random(seed)
    velocities = [np.zeros_like(p) for p in params]
    losses = []
    for t in range(steps):
        depth = depths.randint(0, 3)  # a different network at every step
        loss, grads = loss_fn.value_and_grad(x, y, *params, depth)
        losses.append(float(loss))
        log(t, loss)
        # SGD with momentum, as torch.optim.SGD(lr, momentum) does it: v = momentum * v + g; p -= lr * v
        for p, v, g in zip(params, velocities, grads):
            v *= momentum
            v += g
            p -= learning_rate * v
    return losses


def main(steps=500, log=None, device=None):
    sourcegrad.keep_freed_memory()  # a training loop: the allocator keeps each step's freed arrays for the next
    return train(steps, log=log or print_every(100), device=device)


if __name__ == "__main__":
    main()
