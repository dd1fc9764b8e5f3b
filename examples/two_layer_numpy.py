"""The tutorial's warm-up: a two-layer ReLU network fitted to random data, forward AND backward by hand.

This is the reference that sourcegrad's generated code is compared with:
examples/two_layer.py trains the same network from the same data, but writes
only the forward pass; open generated/two_layer_loss_fn*.py to see the
backward pass sourcegrad wrote for it, next to the one below.

    python -m sourcegrad examples/two_layer_numpy.py
"""

import numpy as np

# N is the batch size; D_in the input dimension; H the hidden dimension; D_out the output dimension.
N, D_in, H, D_out = 64, 1000, 100, 10


def make_data(seed=0, dtype=np.float64):
    """Random inputs, targets and initial weights, drawn in a fixed order from one seed."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, D_in)).astype(dtype)
    y = rng.standard_normal((N, D_out)).astype(dtype)
    w1 = rng.standard_normal((D_in, H)).astype(dtype)
    w2 = rng.standard_normal((H, D_out)).astype(dtype)
    return x, y, w1, w2


def train(steps=500, learning_rate=1e-6, seed=0, dtype=np.float64, log=print, device=None):
    x, y, w1, w2 = on_device(make_data(seed, dtype), device)
    losses = []
    for t in range(steps):
        # Forward pass: compute predicted y.
        h = x.dot(w1)
        h_relu = np.maximum(h, 0)
        y_pred = h_relu.dot(w2)

        loss = np.square(y_pred - y).sum()
        losses.append(float(loss))
        log(t, loss)

        # Backward pass by hand: gradients of w1 and w2 with respect to the loss.
        grad_y_pred = 2.0 * (y_pred - y)
        grad_w2 = h_relu.T.dot(grad_y_pred)
        grad_h_relu = grad_y_pred.dot(w2.T)
        grad_h = grad_h_relu.copy()
        grad_h[h < 0] = 0
        grad_w1 = x.T.dot(grad_h)

        w1 -= learning_rate * grad_w1
        w2 -= learning_rate * grad_w2
    return losses


def main(steps=500, log=None, device=None):
    return train(steps, log=log or print_every(100), device=device)


def on_device(arrays, device):
    """The arrays on the device: "cuda" moves them to the GPU with cupy (the numpy code above then runs there)."""
    if device == "cuda":
        import cupy
        return [cupy.asarray(a) for a in arrays]
    return arrays


def print_every(period):
    def log(t, loss):
        if t % period == period - 1:
            print(t, float(loss))
    return log


if __name__ == "__main__":
    main()
