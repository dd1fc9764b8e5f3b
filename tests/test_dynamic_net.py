"""The tutorial's dynamic net: its gradients, for every depth, against a backward pass written by hand here."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))

import dynamic_net  # noqa: E402


def hand_written_backward(x, y, w_in, b_in, w_mid, b_mid, w_out, b_out, depth):
    """Forward keeping what the backward needs, then the backward, as a person would write it."""
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


@pytest.fixture(scope="module")
def small_net():
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((8, 12)), rng.standard_normal((8, 3))
    params = [*dynamic_net.linear_layer(rng, 12, 6, np.float64), *dynamic_net.linear_layer(rng, 6, 6, np.float64),
              *dynamic_net.linear_layer(rng, 6, 3, np.float64)]
    return x, y, params


def test_one_compiled_gradient_serves_every_depth(small_net):
    x, y, params = small_net
    paths = set()
    for depth in (0, 3, 1, 2, 0, 3):  # a different depth at every call, as in training
        loss, grads = dynamic_net.loss_fn.value_and_grad(x, y, *params, depth)
        expected_loss, expected = hand_written_backward(x, y, *params, depth)
        assert loss == pytest.approx(expected_loss, rel=1e-12)
        for name, got, want in zip(dynamic_net.loss_fn.wrt, grads, expected):
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12, err_msg=f"{name} at depth {depth}")
        paths.add(dynamic_net.loss_fn.generated_path)
    assert len(paths) == 1


def test_middle_layer_gradient_is_zero_at_depth_zero_and_accumulates_with_depth(small_net):
    x, y, params = small_net
    grads = dynamic_net.loss_fn.grad(x, y, *params, 0)
    assert not grads[2].any() and not grads[3].any()
    assert dynamic_net.loss_fn.grad(x, y, *params, 2)[2].any()


def test_backward_is_a_loop_not_unrolled(small_net):
    x, y, params = small_net
    dynamic_net.loss_fn.grad(x, y, *params, 3)
    source = dynamic_net.loss_fn.backward_source
    loops = [line for line in source.splitlines() if line.strip().startswith("for ")]
    assert len(loops) == 2  # one forward loop, one backward loop
    assert "d_w_mid += " in source and "d_w_mid = xp.zeros_like(w_mid)" in source


def test_float32_stays_float32(small_net):
    x, y, params = small_net
    grads = dynamic_net.loss_fn.grad(x.astype(np.float32), y.astype(np.float32), *[p.astype(np.float32) for p in params], 2)
    assert all(g.dtype == np.float32 for g in grads)


def test_training_reduces_the_loss():
    losses = dynamic_net.train(steps=500, log=lambda t, loss: None)
    assert losses[-1] < losses[0] / 10
