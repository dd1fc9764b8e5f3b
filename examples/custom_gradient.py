"""The tutorial's custom autograd function: a ReLU with a gradient rule written by hand.

PyTorch's version subclasses torch.autograd.Function with a forward that saves
its input and a backward that zeroes the gradient where the input was negative.
Here the forward is a plain function and the backward a rule registered with
@sourcegrad.adjoint, written like sourcegrad's own rules; the two-layer net
below calls relu, and its generated backward uses the rule.

    python -m sourcegrad examples/custom_gradient.py
"""

import numpy as np

import sourcegrad
from sourcegrad import d
import two_layer
from two_layer_numpy import print_every


def relu(x):
    return np.maximum(x, 0)


@sourcegrad.adjoint(relu)
def relu_adjoint(result, x):
    # The tutorial's backward: grad_input = grad_output.clone(); grad_input[input < 0] = 0
    d[x] = d[result] * (x >= 0)


@sourcegrad.differentiate(wrt=("w1", "w2"))
def loss_fn(x, y, w1, w2):
    y_pred = relu(x @ w1) @ w2
    return np.square(y_pred - y).sum()


def main(steps=500, log=None, device=None):
    sourcegrad.keep_freed_memory()  # a training loop: the allocator keeps each step's freed arrays for the next
    # The tutorial's two-layer training loop, with this loss.
    return two_layer.train(steps, log=log or print_every(100), loss=loss_fn, device=device)


if __name__ == "__main__":
    main()
