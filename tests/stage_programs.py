"""Small programs whose every compiler stage is pinned in tests/golden/ (tests/test_compiler_stages.py).

Each covers a part of the pipeline a refactoring could move: straight-line code, a loop's tape, a while loop,
branches with early returns and breaks, names rebound inside a block, a helper written in, structures as
parameters, lists built in a loop, rows of an array, weight sharing, and the `_into` variant's buffers.
"""

import numpy as np

import helper_module


def two_layer(x, y, w1, w2):
    h = x.dot(w1)
    h_relu = np.maximum(h, 0)
    y_pred = h_relu.dot(w2)
    return np.square(y_pred - y).sum()


def rnn(W, h0, xs):
    h = h0
    for t in range(len(xs)):
        h = np.tanh(h @ W + xs[t])
    return (h * h).sum()


def doubling_while(w, limit):
    s = w * 1.0
    while s.sum() < limit:
        s = s * 2.0
    return (s * w).sum()


def branches_and_jumps(w, x, n):
    total = 0.0
    for i in range(n):
        if x[i].sum() > 0:
            continue
        v = np.sin(x[i] * w)
        v = v * v
        total = total + v.sum()
        if total > 10.0:
            break
    if total < -1.0:
        return w.sum()
    return total


def swap_in_branch(a, b):
    if a.sum() > -100:
        a, b = b, a * 2.0
    return (a * 3.0 + b * b).sum()


def calls_a_helper(x, w):
    h = helper_module.soft_layer(x, w, bias=0.25)
    return (h * h).sum()


def dict_of_layers(params, x):
    h = np.tanh(x @ params["w1"] + params["b1"])
    return (h @ params["w2"]).sum()


def list_built_in_a_loop(w, xs):
    outs = []
    for x in xs:
        outs = outs + [np.tanh(x * w)]
    return np.stack(outs).sum()


def rows_of_an_array(W, v):
    total = 0.0
    for row in W:
        total = total + np.sin(row @ v)
    return total


def shared_layer(x, w, depth):
    h = np.maximum(x @ w, 0)
    for _ in range(depth):
        h = np.maximum(h @ w, 0)
    return h.sum()


def buffers_kept_and_not(x, w, t, v):
    # `a.dot(b)` writes with xp.dot (with xp.matmul where a matrix operand is transposed); `picked` has a shape the data
    # decides, and the values it reaches get no buffer
    h = np.tanh(x.dot(w))
    s = t.dot(v)
    picked = h[h > 0.5]
    return (-h * s).sum() + (picked * 2.0).sum()


rng = np.random.default_rng(5)

# name -> (arguments, wrt)
PROGRAMS = {
    "two_layer": ((rng.standard_normal((4, 3)), rng.standard_normal((4, 2)), rng.standard_normal((3, 5)),
                   rng.standard_normal((5, 2))), ("w1", "w2")),
    "rnn": ((rng.standard_normal((3, 3)) * 0.5, rng.standard_normal(3), rng.standard_normal((4, 3))), ("W", "h0")),
    "doubling_while": ((rng.uniform(0.5, 1.0, 3), 20.0), ("w",)),
    "branches_and_jumps": ((rng.standard_normal(3), rng.standard_normal((5, 3)), 5), ("w",)),
    "swap_in_branch": ((rng.standard_normal(3), rng.standard_normal(3)), ("a", "b")),
    "calls_a_helper": ((rng.standard_normal((4, 3)), rng.standard_normal((3, 2))), ("w",)),
    "dict_of_layers": (({"w1": rng.standard_normal((3, 4)), "b1": rng.standard_normal(4),
                         "w2": rng.standard_normal((4, 2))}, rng.standard_normal((5, 3))), ("params",)),
    "list_built_in_a_loop": ((rng.standard_normal(3), rng.standard_normal((4, 3))), ("w",)),
    "rows_of_an_array": ((rng.standard_normal((4, 3)), rng.standard_normal(3)), ("W", "v")),
    "shared_layer": ((rng.standard_normal((4, 3)), rng.standard_normal((3, 3)), 2), ("w",)),
    "buffers_kept_and_not": ((rng.standard_normal((4, 3)), rng.standard_normal((3, 3)), rng.standard_normal((4, 3, 2)),
                              rng.standard_normal(2)), ("w", "v")),
}
