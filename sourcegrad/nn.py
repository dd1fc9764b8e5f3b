"""Small building blocks for networks, in plain numpy.

Nothing here is special to sourcegrad: these are the functions people write
themselves, and sourcegrad differentiates them like the user's own code
(it inlines them into the differentiated function; see the README). A network
is a list of layers, each a dict {"w": ..., "b": ...}.
"""

import numpy as np

# ---- layers ---------------------------------------------------------------------------------------------


def linear(x, w, b):
    """x @ w + b: a fully connected layer (w is (inputs, outputs), as in the tutorial's numpy code)."""
    return x @ w + b


def relu(x):
    return np.maximum(x, 0)


def sequential(layers, x):
    """Linear layers with a relu between each two: the tutorial's torch.nn.Sequential(Linear, ReLU, Linear)."""
    h = x
    for i, layer in enumerate(layers):
        h = linear(h, layer["w"], layer["b"])
        if i < len(layers) - 1:
            h = relu(h)
    return h


# ---- losses -----------------------------------------------------------------------------------------------


def mse_loss(prediction, target):
    """Squared error, summed (torch.nn.MSELoss(reduction="sum"), as in the tutorial)."""
    return np.square(prediction - target).sum()


def softmax_cross_entropy(logits, labels):
    """Mean cross-entropy of softmax(logits) against integer class labels, computed stably."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probabilities = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    # each row's label picked by a mask rather than by fancy indexing, which chunked data (dask) cannot take
    chosen = labels[:, None] == np.arange(logits.shape[1])
    picked = (log_probabilities * chosen).sum(axis=1)
    return -picked.mean()


# ---- initialisation -----------------------------------------------------------------------------------------


def init_linear(rng, inputs, outputs, dtype=np.float64):
    """A layer's {"w", "b"} drawn as torch.nn.Linear draws them: uniform in +-1/sqrt(inputs)."""
    bound = 1.0 / np.sqrt(inputs)
    return {"w": rng.uniform(-bound, bound, (inputs, outputs)).astype(dtype),
            "b": rng.uniform(-bound, bound, outputs).astype(dtype)}
