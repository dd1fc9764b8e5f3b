"""The tutorial's custom module: a TwoLayerNet class whose parameters are attributes.

forward() is an ordinary method; the loss calls model.forward(x), and sourcegrad
differentiates through the method (inlining it, with the object's attributes as
the parameters). The gradient of the model is a dict keyed by attribute name,
which sourcegrad.optim.SGD applies to the object in place.

    python -m sourcegrad examples/module.py
"""

import numpy as np

import sourcegrad
from two_layer_numpy import print_every
from sourcegrad.optim import SGD

N, D_in, H, D_out = 64, 1000, 100, 10


class TwoLayerNet:
    def __init__(self, rng, D_in, H, D_out, dtype=np.float64):
        bound1, bound2 = 1.0 / np.sqrt(D_in), 1.0 / np.sqrt(H)  # torch.nn.Linear's initialisation
        self.w1 = rng.uniform(-bound1, bound1, (D_in, H)).astype(dtype)
        self.b1 = rng.uniform(-bound1, bound1, H).astype(dtype)
        self.w2 = rng.uniform(-bound2, bound2, (H, D_out)).astype(dtype)
        self.b2 = rng.uniform(-bound2, bound2, D_out).astype(dtype)

    def forward(self, x):
        h_relu = np.maximum(x @ self.w1 + self.b1, 0)
        return h_relu @ self.w2 + self.b2


@sourcegrad.differentiate(wrt="model")
def loss_fn(model, x, y):
    return np.square(model.forward(x) - y).sum()


def train(steps=500, learning_rate=1e-4, seed=0, dtype=np.float64, log=print, device=None):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, D_in)).astype(dtype)
    y = rng.standard_normal((N, D_out)).astype(dtype)
    model = TwoLayerNet(rng, D_in, H, D_out, dtype)
    x, y = sourcegrad.to_device((x, y), device)
    vars(model).update(sourcegrad.to_device(vars(model), device))
    optimizer = SGD(model, lr=learning_rate)
    losses = []
    for t in range(steps):
        loss, grads = loss_fn.value_and_grad(model, x, y)  # grads: {"w1": ..., "b1": ..., "w2": ..., "b2": ...}
        losses.append(float(loss))
        log(t, loss)
        optimizer.step(grads)
    return losses


def main(steps=500, log=None, device=None):
    sourcegrad.keep_freed_memory()  # a training loop: the allocator keeps each step's freed arrays for the next
    return train(steps, log=log or print_every(100), device=device)


if __name__ == "__main__":
    main()
