"""The tutorial's two-layer ReLU network, with the backward pass written by sourcegrad.

Only the forward pass is written here (the loss). sourcegrad reads it, writes
the backward pass as plain Python into generated/ (compare it with the
hand-written one in examples/two_layer_numpy.py), and the training loop
calls it. Same data, same learning rate, same losses as the hand-written version.

    python -m sourcegrad examples/two_layer.py
    python -m sourcegrad --show examples/two_layer.py     # print the generated backward pass
"""

import numpy as np

import sourcegrad
from two_layer_numpy import make_data, print_every


@sourcegrad.differentiate(wrt=("w1", "w2"))
def loss_fn(x, y, w1, w2):
    h = x.dot(w1)
    h_relu = np.maximum(h, 0)
    y_pred = h_relu.dot(w2)
    return np.square(y_pred - y).sum()


def train(steps=500, learning_rate=1e-6, seed=0, dtype=np.float64, log=print, loss=loss_fn, device=None):
    x, y, w1, w2 = sourcegrad.to_device(make_data(seed, dtype), device)
    losses = []
    for t in range(steps):
        loss_value, (grad_w1, grad_w2) = loss.value_and_grad(x, y, w1, w2)
        losses.append(float(loss_value))
        log(t, loss_value)

        w1 -= learning_rate * grad_w1
        w2 -= learning_rate * grad_w2
    return losses


def main(steps=500, log=None, device=None):
    sourcegrad.keep_freed_memory()  # a training loop: the allocator keeps each step's freed arrays for the next
    return train(steps, log=log or print_every(100), device=device)


if __name__ == "__main__":
    main()
