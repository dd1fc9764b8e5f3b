"""The tutorial's optim program: the same network as examples/nn.py, trained with Adam (lr 1e-4).

sourcegrad.optim.Adam updates the list of layer dicts in place from a gradient of
the same structure, with PyTorch's update rule.

    python -m sourcegrad examples/optim.py
"""

import nn as nn_example

import sourcegrad
from sourcegrad.optim import Adam
from two_layer_numpy import print_every


def main(steps=500, log=None, device=None):
    sourcegrad.keep_freed_memory()  # a training loop: the allocator keeps each step's freed arrays for the next
    return nn_example.train(steps, log=log or print_every(100), device=device,
                            optimizer=lambda layers: Adam(layers, lr=1e-4))


if __name__ == "__main__":
    main()
