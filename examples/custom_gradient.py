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
from two_layer_numpy import make_data, print_every


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


def train(steps=500, learning_rate=1e-6, seed=0, dtype=np.float64, log=print):
    x, y, w1, w2 = make_data(seed, dtype)
    losses = []
    for t in range(steps):
        loss, (grad_w1, grad_w2) = loss_fn.value_and_grad(x, y, w1, w2)
        losses.append(float(loss))
        log(t, loss)
        w1 -= learning_rate * grad_w1
        w2 -= learning_rate * grad_w2
    return losses


def main(steps=500, log=None):
    return train(steps, log=log or print_every(100))


if __name__ == "__main__":
    main()
