"""The dynamic net with its backward pass written by hand in numpy: the reference for examples/dynamic_net.py.

The test of the dynamic net compares sourcegrad's gradients with these, and
benchmarks/loops.py times both. It keeps what a careful person keeps: each
layer's input and pre-activation.
"""

import numpy as np


def loss_and_grads(x, y, w_in, b_in, w_mid, b_mid, w_out, b_out, depth):
    """Forward keeping what the backward needs, then the backward; gradients in parameter order."""
    pre = [x @ w_in + b_in]
    inputs = [x]
    h = np.maximum(pre[-1], 0)
    for _ in range(depth):
        inputs.append(h)
        pre.append(h @ w_mid + b_mid)
        h = np.maximum(pre[-1], 0)
    y_pred = h @ w_out + b_out
    loss = np.square(y_pred - y).sum()

    grad_y_pred = 2.0 * (y_pred - y)
    grad_w_out = h.T @ grad_y_pred
    grad_b_out = grad_y_pred.sum(axis=0)
    grad_h = grad_y_pred @ w_out.T
    grad_w_mid, grad_b_mid = np.zeros_like(w_mid), np.zeros_like(b_mid)
    for layer in range(depth, 0, -1):  # the shared layer, once per use, last use first
        grad_pre = grad_h * (pre[layer] >= 0)
        grad_w_mid += inputs[layer].T @ grad_pre
        grad_b_mid += grad_pre.sum(axis=0)
        grad_h = grad_pre @ w_mid.T
    grad_pre = grad_h * (pre[0] >= 0)
    grad_w_in = x.T @ grad_pre
    grad_b_in = grad_pre.sum(axis=0)
    return loss, (grad_w_in, grad_b_in, grad_w_mid, grad_b_mid, grad_w_out, grad_b_out)
