"""Checkpointed loops (`for t in sourcegrad.checkpoint(range(n), snapshots=s)`): the Revolve schedule keeps its
promises (every iteration reversed once, last first; at most s states held; each iteration run forward no more
often than the binomial bound allows), and the gradients are those of the same loop with a tape, checked against
float64 central finite differences too."""

import numpy as np
import pytest

import sourcegrad
from sourcegrad import SourcegradError
from sourcegrad.runtime.checkpoint import reversible, revolve

# ---- the schedule ---------------------------------------------------------------------------------------


def play(steps, snapshots):
    """Walk a schedule as the generated code does, checking each action is possible; (times each iteration ran
    forward, the most states held at once)."""
    schedule = revolve(steps, snapshots)
    saved, state = set(schedule.forward), steps  # the forward pass ran every iteration, saving on its way
    runs, held, reversed_ = [1] * steps, len(saved), []
    for action, i in schedule.backward:
        if action == "restore":
            assert i in saved
            state = i
        elif action == "snapshot":
            assert state == i
            saved.add(i)
            held = max(held, len(saved))
        elif action == "forget":
            saved.remove(i)
        else:
            assert action in ("advance", "reverse") and state == i
            runs[i] += 1
            state = i + 1
            if action == "reverse":
                reversed_.append(i)
    assert reversed_ == list(range(steps - 1, -1, -1))
    return runs, held


@pytest.mark.parametrize("steps, snapshots", [(0, 1), (1, 1), (2, 1), (6, 1), (10, 2), (10, 3), (37, 4), (100, 5),
                                              (1000, 10), (5, 5), (3, 10), (10000, 100), (2000, 1000)])
def test_schedule_reverses_every_iteration_within_the_binomial_bound(steps, snapshots):
    runs, held = play(steps, snapshots)
    assert held <= snapshots
    repetitions = next(r for r in range(steps + 1) if reversible(snapshots, r) >= steps) if steps else 0
    # the forward pass and at most r runs more without the tape, and the run with its tape before its gradients
    assert max(runs, default=0) <= repetitions + 2


def test_schedule_with_enough_snapshots_recomputes_nothing():
    runs, _ = play(8, 8)
    assert runs == [2] * 8  # the forward pass, then once more with its tape


# ---- gradients ----------------------------------------------------------------------------------------


def rnn(h, W, xs, n):
    for t in sourcegrad.checkpoint(range(n), snapshots=3):
        h = np.tanh(h @ W + xs[t])
    return (h * h).sum()


def rnn_with_a_tape(h, W, xs, n):
    for t in range(n):
        h = np.tanh(h @ W + xs[t])
    return (h * h).sum()


def lstm_like(h, c, W, xs, n):
    outs = []
    for t in sourcegrad.checkpoint(range(n), snapshots=2):
        gates = np.concatenate([h, xs[t]]) @ W
        c = c * np.tanh(gates[:4]) + np.sin(gates[4:])
        h = np.tanh(c) * 0.9
        outs = outs + [h]
    return np.stack(outs).sum() + (c * c).sum()


def branches_and_writes(x, w, n):
    out = np.zeros((n, 3))
    z = x * 2.0
    for t in sourcegrad.checkpoint(range(n), snapshots=2):
        z = np.sin(x * w)
        if z.sum() > 0:
            x = x * w + z
        else:
            x = x - 0.5 * z
        out[t] = x
    return (out * out).sum() + z.sum()


def counting_backwards(x, w):
    for t in sourcegrad.checkpoint(range(6, 0, -2), snapshots=1):
        x = np.cos(x * w) * t
    return x.sum()


def two_loops_sharing_names(h, W, n, m):
    for t in sourcegrad.checkpoint(range(n), snapshots=2):
        a = np.tanh(h @ W)
        h = a * t
    for t in sourcegrad.checkpoint(range(m), snapshots=2):  # t and a: unbound here when the first ran no iteration
        a = np.sin(h * W[0])
        h = a + h
    return h.sum()


def a_branch_binds_what_the_loop_overwrites(h, W, n, m):
    if n > 1:
        a = np.sin(h @ W)
        h = a * a  # its gradient reads a, which the loop below overwrites
    for t in sourcegrad.checkpoint(range(m), snapshots=2):
        a = np.cos(h)
        h = a * W[0]
    return h.sum()


def args_for(fn, n, rng):
    if fn in (two_loops_sharing_names, a_branch_binds_what_the_loop_overwrites):
        return (rng.standard_normal(4), 0.5 * rng.standard_normal((4, 4)), n[0], n[1])
    if fn is lstm_like:
        return (rng.standard_normal(4), rng.standard_normal(4), 0.4 * rng.standard_normal((7, 8)),
                rng.standard_normal((n, 3)), n)
    if fn is branches_and_writes:
        return (rng.standard_normal(3), rng.uniform(0.5, 1.0, 3), n)
    if fn is counting_backwards:
        return (rng.standard_normal(3), rng.standard_normal(3))
    return (rng.standard_normal(4), 0.5 * rng.standard_normal((4, 4)), rng.standard_normal((max(n, 1), 4)), n)


WRT = {rnn: ("h", "W", "xs"), lstm_like: ("h", "c", "W", "xs"), branches_and_writes: ("x", "w"),
       counting_backwards: ("x", "w"), two_loops_sharing_names: ("h", "W"),
       a_branch_binds_what_the_loop_overwrites: ("h", "W")}


@pytest.mark.parametrize("fn, n", [(rnn, 0), (rnn, 1), (rnn, 2), (rnn, 7), (rnn, 25), (lstm_like, 1), (lstm_like, 9),
                                   (branches_and_writes, 1), (branches_and_writes, 8), (counting_backwards, None),
                                   (two_loops_sharing_names, (3, 2)), (two_loops_sharing_names, (0, 2)),
                                   (two_loops_sharing_names, (2, 0)), (two_loops_sharing_names, (0, 0)),
                                   (a_branch_binds_what_the_loop_overwrites, (2, 3)),
                                   (a_branch_binds_what_the_loop_overwrites, (0, 3))],
                         ids=lambda v: getattr(v, "__name__", str(v)))
def test_checkpointed_gradient_matches_finite_differences(fn, n, tmp_path):
    args = args_for(fn, n, np.random.default_rng(0 if n is None else n if isinstance(n, int) else 10 * n[0] + n[1]))
    f = sourcegrad.differentiate(fn, wrt=WRT[fn], generated_dir=tmp_path)
    report = sourcegrad.check_grad(f, *args)
    assert report, report


@pytest.mark.parametrize("n", [1, 5, 30])
def test_checkpointed_gradient_is_the_taped_one(n, tmp_path):
    args = args_for(rnn, n, np.random.default_rng(n))
    checkpointed = sourcegrad.differentiate(rnn, wrt=("h", "W", "xs"), generated_dir=tmp_path).value_and_grad(*args)
    taped = sourcegrad.differentiate(rnn_with_a_tape, wrt=("h", "W", "xs"), generated_dir=tmp_path).value_and_grad(*args)
    assert checkpointed[0] == taped[0]
    for a, b in zip(checkpointed[1], taped[1]):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)


def test_generated_code_keeps_no_tape_for_the_loop_and_walks_the_schedule(tmp_path):
    f = sourcegrad.differentiate(rnn, wrt=("W",), generated_dir=tmp_path)
    f.grad(*args_for(rnn, 4, np.random.default_rng(1)))
    source = f.backward_source
    assert "schedule = xp.revolve(len(steps), 3)" in source
    assert "for action, i in schedule.backward:" in source
    assert "Tape: the checkpointed loop at test_checkpoint.py:" in source


def test_checkpointed_loop_has_forward_mode_and_hessian_vector_products(tmp_path):
    rng = np.random.default_rng(2)
    args = args_for(rnn, 6, rng)
    f = sourcegrad.differentiate(rnn, wrt="W", generated_dir=tmp_path)
    g = sourcegrad.differentiate(rnn_with_a_tape, wrt="W", generated_dir=tmp_path)
    v = rng.standard_normal(args[1].shape)
    np.testing.assert_allclose(f.jvp(args, v)[1], g.jvp(args, v)[1], rtol=1e-12)
    np.testing.assert_allclose(f.hvp(args, v), g.hvp(args, v), rtol=1e-10, atol=1e-12)


def returns_the_loops_state(x, n):
    s = 0.0
    for t in sourcegrad.checkpoint(range(n), snapshots=1):
        s = s + np.sin(x * t).sum()
    return s


def returns_a_count_as_aux(x, n):
    s, count = 0.0, 0.0
    for t in sourcegrad.checkpoint(range(n), snapshots=2):
        s = s + (x * x).sum() * t
        count = count + 1.0
    return s, count


@pytest.mark.parametrize("n", [0, 1, 5])
def test_a_value_the_checkpointed_loop_leaves_is_returned_as_the_forward_pass_left_it(n, tmp_path):
    # the backward pass runs the loop's iterations again, rebinding its names; the value returned is the first run's
    x = np.array([0.3, -0.7, 1.1])
    f = sourcegrad.differentiate(returns_the_loops_state, generated_dir=tmp_path)
    value, gradient = f.value_and_grad(x, n)
    assert value == pytest.approx(returns_the_loops_state(x, n), rel=1e-14, abs=0)
    assert sourcegrad.check_grad(f, x, n)
    g = sourcegrad.differentiate(returns_a_count_as_aux, has_aux=True, generated_dir=tmp_path)
    (value, count), _ = g.value_and_grad(x, n)
    assert (value, count) == returns_a_count_as_aux(x, n)


def test_checkpoint_is_the_range_itself_when_the_function_runs_as_python():
    assert list(sourcegrad.checkpoint(range(3), snapshots=2)) == [0, 1, 2]
    with pytest.raises(TypeError, match="takes a range"):
        sourcegrad.checkpoint([0, 1, 2], snapshots=2)
    with pytest.raises(ValueError, match="a whole number of saved states, 1 or more"):
        sourcegrad.checkpoint(range(3), snapshots=0)
    assert list(sourcegrad.checkpoint(range(2), snapshots=np.int64(1))) == [0, 1]  # numpy's integers count


def snapshots_passed_in(x, n, s):
    for t in sourcegrad.checkpoint(range(n), snapshots=s):
        x = np.sin(x)
    return x.sum()


@pytest.mark.parametrize("snapshots", [None, 0, -1, 2.5, True])
def test_snapshots_that_are_not_a_whole_number_of_one_or_more_are_refused_at_the_loop(snapshots, tmp_path):
    with pytest.raises(SourcegradError, match="a whole number of saved states, 1 or more") as raised:
        sourcegrad.differentiate(snapshots_passed_in, generated_dir=tmp_path).grad(np.ones(2), 3, snapshots)
    assert "test_checkpoint.py:" in str(raised.value).splitlines()[0]  # the loop's line


def test_snapshots_of_a_numpy_integer_are_taken(tmp_path):
    f = sourcegrad.differentiate(snapshots_passed_in, generated_dir=tmp_path)
    np.testing.assert_allclose(f.grad(np.ones(2), 3, np.int64(2)), f.grad(np.ones(2), 3, 2))


# ---- refusals -------------------------------------------------------------------------------------------


def breaks_out(x, n):
    for t in sourcegrad.checkpoint(range(n), snapshots=2):
        x = np.sin(x)
        if t == 2:
            break
    return x.sum()


def walks_a_list(x, xs):
    for row in sourcegrad.checkpoint(xs, snapshots=2):
        x = x * row
    return x.sum()


def nested_in_a_loop(x, n):
    for k in range(2):
        for t in sourcegrad.checkpoint(range(n), snapshots=2):
            x = np.sin(x)
    return x.sum()


def enumerates_the_checkpoint(x, n):
    for i, t in enumerate(sourcegrad.checkpoint(range(n), snapshots=2)):
        x = np.sin(x)
    return x.sum()


def carries_a_name_a_branch_binds(x, n):
    if n > 1:
        c = x * 2
    for t in sourcegrad.checkpoint(range(n), snapshots=2):
        c = np.sin(c)  # its state: unbound when the branch was not taken
    return c.sum()


@pytest.mark.parametrize("fn, args, message", [
    (breaks_out, (np.ones(2), 4), "cannot `break`"),
    (walks_a_list, (np.ones(2), np.ones((3, 2))), "takes a range and a number of snapshots"),
    (nested_in_a_loop, (np.ones(2), 3), "must be a statement of the function itself"),
    (carries_a_name_a_branch_binds, (np.ones(2), 3), "reads c from before it, where it may not have been assigned"),
    (enumerates_the_checkpoint, (np.ones(2), 3), "is the iterable of a `for` loop itself"),
], ids=["break", "not_a_range", "nested", "state_maybe_unbound", "enumerated"])
def test_checkpoint_refuses_what_its_schedule_cannot_plan(fn, args, message, tmp_path):
    with pytest.raises(SourcegradError, match=message) as raised:
        sourcegrad.differentiate(fn, generated_dir=tmp_path).grad(*args)
    assert "test_checkpoint.py:" in str(raised.value)
