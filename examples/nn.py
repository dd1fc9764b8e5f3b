"""The tutorial's nn program: the two-layer net built from sourcegrad.nn's pieces, trained with plain SGD.

PyTorch's version stacks nn.Linear, nn.ReLU, nn.Linear in nn.Sequential and sums
the squared error. Here the same pieces are plain numpy functions over a list of
layer dicts; sourcegrad inlines them into the loss and writes its backward pass.

    python -m sourcegrad examples/nn.py
"""

import numpy as np

import sourcegrad
from two_layer_numpy import print_every
from sourcegrad import nn

N, D_in, H, D_out = 64, 1000, 100, 10


@sourcegrad.differentiate(wrt="layers")
def loss_fn(layers, x, y):
    return nn.mse_loss(nn.sequential(layers, x), y)


def make_data(seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, D_in)).astype(dtype)
    y = rng.standard_normal((N, D_out)).astype(dtype)
    layers = [nn.init_linear(rng, D_in, H, dtype), nn.init_linear(rng, H, D_out, dtype)]
    return x, y, layers


def train(steps=500, learning_rate=1e-4, seed=0, dtype=np.float64, log=print, optimizer=None, device=None):
    x, y, layers = sourcegrad.to_device(make_data(seed, dtype), device)
    step = optimizer(layers) if optimizer else None
    losses = []
    for t in range(steps):
        loss, grads = loss_fn.value_and_grad(layers, x, y)
        losses.append(float(loss))
        log(t, loss)
        if step is not None:
            step.step(grads)
        else:  # the tutorial's manual update: each parameter minus learning rate times its gradient
            for layer, grad in zip(layers, grads):
                for name in layer:
                    layer[name] -= learning_rate * grad[name]
    return losses


def main(steps=500, log=None, device=None):
    sourcegrad.keep_freed_memory()  # a training loop: the allocator keeps each step's freed arrays for the next
    return train(steps, log=log or print_every(100), device=device)


if __name__ == "__main__":
    main()
