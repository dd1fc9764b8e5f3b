"""The tutorial's dynamic net: its gradients, for every depth, against the backward pass written by hand
in examples/dynamic_net_numpy.py."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))

import dynamic_net  # noqa: E402
from device_support import assert_on, host, on  # noqa: E402
from dynamic_net_numpy import loss_and_grads as hand_written_backward  # noqa: E402


@pytest.fixture(scope="module")
def small_net():
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((8, 12)), rng.standard_normal((8, 3))
    params = [*dynamic_net.linear_layer(rng, 12, 6, np.float64), *dynamic_net.linear_layer(rng, 6, 6, np.float64),
              *dynamic_net.linear_layer(rng, 6, 3, np.float64)]
    return x, y, params


def test_one_compiled_gradient_serves_every_depth(small_net, device):
    x, y, params = small_net
    paths = set()
    for depth in (0, 3, 1, 2, 0, 3):  # a different depth at every call, as in training
        loss, grads = dynamic_net.loss_fn.value_and_grad(*on(device, (x, y, *params)), depth)
        assert_on(device, grads)
        expected_loss, expected = hand_written_backward(x, y, *params, depth)
        assert float(loss) == pytest.approx(expected_loss, rel=1e-12)
        for name, got, want in zip(dynamic_net.loss_fn.wrt, host(grads), expected):
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
    source = dynamic_net.loss_fn.backward_source.split("_into(")[0]  # the plain function, not its buffered twin
    loops = [line for line in source.splitlines() if line.strip().startswith("for ")]
    assert len(loops) == 2  # one forward loop, one backward loop
    assert "d_w_mid += " in source and "d_w_mid = xp.zeros_gradient(w_mid)" in source


def test_float32_stays_float32(small_net, device):
    x, y, params = small_net
    single = on(device, [a.astype(np.float32) for a in (x, y, *params)])
    grads = dynamic_net.loss_fn.grad(*single, 2)
    assert_on(device, grads)
    assert all(g.dtype == np.float32 for g in grads)


def test_training_reduces_the_loss():
    losses = dynamic_net.train(steps=500, log=lambda t, loss: None)
    assert losses[-1] < losses[0] / 10
