"""The buffered variant of each generated gradient (`<name>_into`): large temporaries kept between calls,
gradients written into the caller's arrays (into=). It must give the gradients the plain function gives,
checked here against finite differences, on the calls that write into kept buffers; it must never
overwrite what an earlier call handed out; and two threads must not share buffers."""

import threading
import weakref

import numpy as np
import pytest

import sourcegrad
from sourcegrad.checking import numeric_gradient
from sourcegrad.errors import SourcegradError
from sourcegrad.runtime import buffers as buffer_runtime

from device_support import assert_on, host, on
from rule_support import TOLERANCE, make_inputs
from test_primitives import _params

rng = np.random.default_rng(11)


@pytest.fixture
def always_buffered(monkeypatch, tmp_path):
    """Keep buffers and reuse dropped gradient arrays whatever the size of the arrays (normally only from
    4 MiB of arguments, and from 256 KiB of gradients)."""
    monkeypatch.setattr(buffer_runtime, "MINIMUM_BYTES", 0)
    monkeypatch.setattr(buffer_runtime, "REUSE_MINIMUM_BYTES", 0)
    monkeypatch.setattr(buffer_runtime, "REUSE_PROBE_CALLS", 0)  # reuse at once, without measuring page faults
    monkeypatch.setenv("SOURCEGRAD_GENERATED_DIR", str(tmp_path / "generated"))


@pytest.fixture
def reuse_at_once(monkeypatch):
    """Reuse dropped gradient arrays from the first call, without first measuring whether fresh ones fault."""
    monkeypatch.setattr(buffer_runtime, "REUSE_PROBE_CALLS", 0)


def _numeric(fn, args, wrt):
    names = list(fn.__code__.co_varnames[:fn.__code__.co_argcount])
    arguments = dict(zip(names, args))
    return [numeric_gradient(fn, arguments, name, 1e-6) for name in wrt]


def _assert_close(gradients, numeric, names):
    for name, gradient, expected in zip(names, gradients, numeric):
        error = np.max(np.abs(np.asarray(gradient) - expected) / np.maximum(1.0, np.abs(expected)), initial=0.0)
        assert error < TOLERANCE, f"d_{name}: {error}"


def _other_weights(args):
    """The same call with other output weights (the last argument of every table entry): other gradients."""
    return [*args[:-1], np.asarray(args[-1]) * -1.5 + 0.25]


@pytest.mark.parametrize("entry, case", _params())
def test_kept_buffers_give_the_finite_difference_gradient(entry, case, always_buffered, device):
    args = make_inputs(entry, case, np.float64)
    f = sourcegrad.differentiate(entry.fn, wrt=tuple(entry.inputs))
    first = f.grad(*on(device, _other_weights(args)))  # fills the buffers
    first = first if isinstance(first, tuple) else (first,)
    kept = [np.array(g, copy=True) for g in host(first)]
    second = f.grad(*on(device, args))  # writes into them
    second = second if isinstance(second, tuple) else (second,)
    assert_on(device, [g for g, a in zip(second, args) if isinstance(a, np.ndarray)])
    _assert_close(host(second), _numeric(entry.fn, args, entry.inputs), entry.inputs)
    for name, gradient, copy in zip(entry.inputs, host(first), kept):  # what the first call handed out is intact
        np.testing.assert_array_equal(gradient, copy, err_msg=f"d_{name} changed under the caller")


@pytest.mark.parametrize("entry, case", _params())
def test_reused_gradient_arrays_give_the_finite_difference_gradient_and_leave_held_ones(entry, case, always_buffered):
    args = make_inputs(entry, case, np.float64)
    f = sourcegrad.differentiate(entry.fn, wrt=tuple(entry.inputs))
    f.grad(*_other_weights(args))  # handed out and dropped at once: the next call may write into it
    held = f.grad(*args)
    held = held if isinstance(held, tuple) else (held,)
    _assert_close(held, _numeric(entry.fn, args, entry.inputs), entry.inputs)
    kept = [np.array(g, copy=True) for g in held]
    later = f.grad(*_other_weights(args))  # `held` is still referenced: it must not be written into
    later = later if isinstance(later, tuple) else (later,)
    for name, gradient, copy, new in zip(entry.inputs, held, kept, later):
        np.testing.assert_array_equal(gradient, copy, err_msg=f"d_{name} changed under the caller")
        assert not np.shares_memory(gradient, new)


@pytest.mark.parametrize("entry, case", _params())
def test_gradients_written_into_the_callers_arrays(entry, case, always_buffered, device):
    args = make_inputs(entry, case, np.float64)
    names = list(entry.fn.__code__.co_varnames[:entry.fn.__code__.co_argcount])
    if not all(isinstance(args[names.index(n)], np.ndarray) for n in entry.inputs):
        pytest.skip("into= takes arrays; this case differentiates a Python float")
    f = sourcegrad.differentiate(entry.fn, wrt=tuple(entry.inputs))
    into = on(device, tuple(np.full_like(args[names.index(n)], np.nan) for n in entry.inputs))
    f.grad(*on(device, _other_weights(args)), into=into)
    gradients = f.grad(*on(device, args), into=into)
    gradients = gradients if isinstance(gradients, tuple) else (gradients,)
    assert all(g is target for g, target in zip(gradients, into))
    _assert_close(host(gradients), _numeric(entry.fn, args, entry.inputs), entry.inputs)


def two_layer(x, y, w1, w2):
    h = x.dot(w1)
    h_relu = np.maximum(h, 0)
    y_pred = h_relu.dot(w2)
    return np.square(y_pred - y).sum()


def two_layer_data(n=16, d_in=20, h=12, d_out=3):
    return (rng.standard_normal((n, d_in)), rng.standard_normal((n, d_out)), rng.standard_normal((d_in, h)),
            rng.standard_normal((h, d_out)))


def test_two_layer_keeps_its_temporaries_and_writes_gradients_into_the_callers_arrays(always_buffered):
    f = sourcegrad.differentiate(two_layer, wrt=("w1", "w2"))
    x, y, w1, w2 = two_layer_data()
    f.grad(x, y, w1, w2)
    source = f.backward_source.split("def two_layer_value_and_grad_into(")[1]
    # every forward and backward array operation but the loss's scaling writes into a buffer
    assert source.count("out=buffers.") == 7 and "out=into[0]" in source and "out=into[1]" in source
    (buffers,) = f._last.pool.idle
    h = buffers.h
    f.grad(x, y, w1, w2)
    assert f._last.pool.idle[0].h is h, "the second call writes into the first call's array"
    f.grad(x[:5], y[:5], w1, w2)  # other shapes: new buffers, and the right gradient
    assert f._last.pool.idle[0].h.shape == (5, 12)
    for gradient, expected in zip(f.grad(x[:5], y[:5], w1, w2), hand_written(x[:5], y[:5], w1, w2)):
        np.testing.assert_allclose(gradient, expected, rtol=1e-12)


def test_a_call_writing_into_the_callers_arrays_keeps_its_temporaries_at_any_size():
    f = sourcegrad.differentiate(two_layer, wrt=("w1", "w2"))
    x, y, w1, w2 = large_two_layer_data()  # gradients over 64 KiB, arguments far under 4 MiB
    assert sum(a.nbytes for a in (x, y, w1, w2)) < buffer_runtime.MINIMUM_BYTES
    into = (np.empty_like(w1), np.empty_like(w2))
    f.grad(x, y, w1, w2, into=into)
    (buffers,) = f._last.pool.idle
    h = buffers.h
    for _ in range(2):
        f.grad(x, y, w1, w2, into=into)
        assert f._last.pool.idle[0].h is h
    for gradient, expected in zip(into, hand_written(x, y, w1, w2)):
        np.testing.assert_allclose(gradient, expected, rtol=1e-12)


def test_small_arrays_keep_no_buffers():
    f = sourcegrad.differentiate(two_layer, wrt=("w1", "w2"))
    f.grad(*two_layer_data())
    f.grad(*two_layer_data())
    assert not f._last.pool.idle and f._last.pool.gradients is None


def test_float32_buffers_stay_float32_and_a_dtype_change_gets_new_buffers(always_buffered):
    f = sourcegrad.differentiate(two_layer, wrt=("w1", "w2"))
    data = two_layer_data()
    f.grad(*data)
    single = [a.astype(np.float32) for a in data]
    g1, g2 = f.grad(*single)
    assert g1.dtype == g2.dtype == np.float32 and f._last.pool.idle[0].h.dtype == np.float32
    reference = f.grad(*data)
    np.testing.assert_allclose(g1, reference[0], rtol=1e-3, atol=1e-3)


def test_two_threads_never_share_buffers(always_buffered):
    f = sourcegrad.differentiate(two_layer, wrt=("w1", "w2"))
    datasets = [two_layer_data() for _ in range(4)]
    expected = [f.grad(*d) for d in datasets]
    assert not _wrong_in_threads(lambda index: f.grad(*datasets[index]), expected, steps=300)


def _wrong_in_threads(gradients_of, expected, steps):
    """Three threads call gradients_of(index) `steps` times each, cycling over the cases; the indices whose
    gradients differed from expected[index]."""
    failures = []

    def work(offset):
        for step in range(steps):
            index = (step + offset) % len(expected)
            g1, g2 = gradients_of(index)
            if not (np.allclose(g1, expected[index][0], rtol=1e-12) and np.allclose(g2, expected[index][1])):
                failures.append(index)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return failures


def test_into_is_checked():
    f = sourcegrad.differentiate(two_layer, wrt=("w1", "w2"))
    x, y, w1, w2 = two_layer_data()
    with pytest.raises(SourcegradError, match="2 gradients"):
        f.grad(x, y, w1, w2, into=(np.empty_like(w1),))
    with pytest.raises(SourcegradError, match=r"into\[1\] is a ndarray \(12, 4\)"):
        f.grad(x, y, w1, w2, into=(np.empty_like(w1), np.empty((12, 4))))
    with pytest.raises(SourcegradError, match="float32"):
        f.grad(x, y, w1, w2, into=(np.empty_like(w1), np.empty_like(w2, dtype=np.float32)))
    with pytest.raises(SourcegradError, match="shares memory with an argument"):
        f.grad(x, y, w1, w2, into=(w1, np.empty_like(w2)))
    with pytest.raises(SourcegradError, match="shares memory with another array of into"):
        buffer = np.empty_like(w2)
        f.grad(x, y, np.empty_like(w2), w2.copy(), into=(buffer, buffer))


@pytest.mark.parametrize("writes", [True, False], ids=["written into", "an operation refuses it: copied into"])
def test_into_a_fortran_ordered_array(writes, always_buffered, monkeypatch):
    """matmul writes into an array of any layout; where an operation refuses one (numpy's dot takes only a
    C-contiguous `out=`), the plain function computes the gradient and it is copied into the caller's array."""
    f = sourcegrad.differentiate(two_layer, wrt=("w1", "w2"))
    x, y, w1, w2 = two_layer_data()
    f.grad(x, y, w1, w2)
    if not writes:
        def refuses(*args, **kwargs):
            raise ValueError("output array is not acceptable (must have the right datatype, number of dimensions, "
                             "and be a C-Array)")
        monkeypatch.setattr(f._last, "buffered", refuses)
    into = (np.asfortranarray(np.empty_like(w1)), np.empty_like(w2))
    g1, g2 = f.grad(x, y, w1, w2, into=into)
    assert g1 is into[0] and g2 is into[1]
    # against the hand-written backward: finite differences of a ReLU net can straddle a kink
    for gradient, expected in zip((g1, g2), hand_written(x, y, w1, w2)):
        np.testing.assert_allclose(gradient, expected, rtol=1e-12)


@pytest.mark.parametrize("buffered", [False, True], ids=["small arrays: copied into", "written into"])
def test_into_for_one_argument_takes_an_array(buffered, monkeypatch):
    if buffered:
        monkeypatch.setattr(buffer_runtime, "MINIMUM_BYTES", 0)
    def f(w, x):
        return np.tanh(x @ w).sum()

    g = sourcegrad.differentiate(f)
    w, x = rng.standard_normal((4, 3)), rng.standard_normal((5, 4))
    target = np.empty_like(w)
    assert g.grad(w, x, into=target) is target
    _assert_close((target,), _numeric(f, (w, x), ("w",)), ("w",))


def test_a_value_that_reaches_the_caller_is_never_kept(always_buffered):
    """The output (an array here, with grad_output) and views of it are handed out: no buffer for them."""
    def f(x, w):
        h = x * w
        return h.T

    g = sourcegrad.differentiate(f, wrt="w")
    x, w = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    first, _ = g.value_and_grad(x, w, grad_output=np.ones((4, 3)))
    kept = first.copy()
    g.value_and_grad(x * 2, w, grad_output=np.ones((4, 3)))
    np.testing.assert_array_equal(first, kept)


def _control_flow_cases():
    from test_control_flow import CASES
    return CASES


@pytest.mark.parametrize("fn, wrt, args", _control_flow_cases())
def test_control_flow_corpus_with_kept_buffers(fn, wrt, args, always_buffered, device):
    """Loops and branches keep their own arrays; the straight-line code around them writes into buffers.
    The second call (into kept buffers) gives the finite-difference gradient, and leaves the first
    call's gradients as they were."""
    names = list(fn.__code__.co_varnames[:fn.__code__.co_argcount])
    if not all(isinstance(args[names.index(n)], (np.ndarray, float)) for n in wrt):
        pytest.skip("a gradient of a structure: covered by test_structures")
    f = sourcegrad.differentiate(fn, wrt=wrt)
    first = [np.array(g, copy=True) for g in host(f.grad(*on(device, args)))]
    handed_out = f.grad(*on(device, args))
    second = f.grad(*on(device, args))
    arguments = dict(zip(names, args))
    _assert_close(host(second), [numeric_gradient(fn, arguments, n, 1e-6) for n in wrt], wrt)
    for gradient, copy in zip(host(handed_out), first):
        np.testing.assert_array_equal(gradient, copy)



# ---- gradient arrays written into again once the caller has dropped them ------------------------------------


def hand_written(x, y, w1, w2):
    """The tutorial's backward pass: the reference for the large cases, where finite differences of a loss in
    the thousands lose the digits a comparison needs."""
    h = x.dot(w1)
    h_relu = np.maximum(h, 0)
    grad_y_pred = 2.0 * (h_relu.dot(w2) - y)
    grad_h = grad_y_pred.dot(w2.T)
    grad_h[h < 0] = 0
    return x.T.dot(grad_h), h_relu.T.dot(grad_y_pred)


def large_two_layer_data():
    """Gradients of 256 KiB and more: reused without any threshold patched."""
    return two_layer_data(n=8, d_in=200, h=180, d_out=3)


exact_references = pytest.mark.skipif(not buffer_runtime.REFERENCES_ARE_EXACT,
                                      reason="reference counts are not exact here: no gradient array is reused")


@exact_references
def test_a_training_loop_alternates_between_two_gradient_arrays(reuse_at_once):
    f = sourcegrad.differentiate(two_layer, wrt=("w1", "w2"))
    x, y, w1, w2 = large_two_layer_data()
    addresses = set()
    for _ in range(6):
        expected = hand_written(x, y, w1, w2)
        loss, (grad_w1, grad_w2) = f.value_and_grad(x, y, w1, w2)  # the last step's arrays are held meanwhile
        addresses.add(grad_w1.ctypes.data)
        np.testing.assert_allclose(grad_w1, expected[0], rtol=1e-12)
        np.testing.assert_allclose(grad_w2, expected[1], rtol=1e-12)
        w1 -= 1e-6 * grad_w1
        w2 -= 1e-6 * grad_w2
    assert len(addresses) == 2  # this step's gradient, and the one the loop variable held during the call


@exact_references
def test_calls_at_a_size_where_reuse_pays_take_the_entry_points_reusing_path(reuse_at_once, monkeypatch):
    f = sourcegrad.differentiate(two_layer, wrt=("w1", "w2"))
    x, y, w1, w2 = large_two_layer_data()
    f.grad(x, y, w1, w2)  # compiles; the general method reuses, and marks the size
    assert f._last.reuse_size == sum(a.nbytes for a in (x, y, w1, w2))
    general = []
    original = type(f)._call_with_buffers
    monkeypatch.setattr(type(f), "_call_with_buffers", lambda *a, **k: general.append(1) or original(*a, **k))
    addresses = set()
    for _ in range(4):
        expected = hand_written(x, y, w1, w2)
        grad_w1, grad_w2 = f.grad(x, y, w1, w2)
        addresses.add(grad_w1.ctypes.data)
        np.testing.assert_allclose(grad_w1, expected[0], rtol=1e-12)
        np.testing.assert_allclose(grad_w2, expected[1], rtol=1e-12)
        w1 -= 1e-6 * grad_w1
    assert not general and len(addresses) == 2


@exact_references
def test_the_reusing_path_gives_way_to_the_general_method_when_it_cannot_write(reuse_at_once, monkeypatch):
    f = sourcegrad.differentiate(two_layer, wrt=("w1", "w2"))
    data = large_two_layer_data()
    f.grad(*data)
    compiled = f._last

    def refuses(*args, **kwargs):
        raise ValueError("output array is not acceptable")  # what numpy says of an `out=` it cannot use

    monkeypatch.setattr(compiled, "buffered", refuses)
    for gradient, expected in zip(f.grad(*data), hand_written(*data)):
        np.testing.assert_allclose(gradient, expected, rtol=1e-12)
    assert compiled.reuse_size == -1 and compiled.pool.disabled


def _held_array(holder):
    if isinstance(holder, weakref.ref):
        return holder()
    return np.asarray(holder[0] if isinstance(holder, list) else holder)


@exact_references
@pytest.mark.parametrize("hold", [
    lambda g: g,
    lambda g: g[1:],
    lambda g: [g],
    lambda g: memoryview(g),
    lambda g: np.frombuffer(g, dtype=g.dtype),
    lambda g: weakref.ref(g),
], ids=["a variable", "a view", "a list", "a memoryview", "an array on its buffer", "a weak reference"])
def test_gradients_still_referenced_in_any_way_are_never_written_into(hold, reuse_at_once):
    f = sourcegrad.differentiate(two_layer, wrt=("w1", "w2"))
    x, y, w1, w2 = large_two_layer_data()
    f.grad(x, y, w1, w2)  # dropped at once: kept for the next call
    g1, _ = f.grad(x, y, w1, w2)
    original = g1.copy()
    holder = hold(g1)
    del g1
    for scale in (2.0, -3.0):  # later calls, other gradients
        new, _ = f.grad(x, y, w1 * scale, w2)
        assert not np.shares_memory(_held_array(holder), new)
        np.testing.assert_allclose(new, hand_written(x, y, w1 * scale, w2)[0], rtol=1e-12)
    np.testing.assert_array_equal(_held_array(holder), _held_array(hold(original)))


@exact_references
def test_a_dropped_gradient_array_is_written_into_by_the_next_call(monkeypatch, reuse_at_once):
    given = []
    take = buffer_runtime.GradientArrays.take
    monkeypatch.setattr(buffer_runtime.GradientArrays, "take", lambda self, a: given.append(take(self, a)) or given[-1])
    f = sourcegrad.differentiate(two_layer, wrt=("w1", "w2"))
    x, y, w1, w2 = large_two_layer_data()
    first, _ = f.grad(x, y, w1, w2)
    identity = id(first)
    del first
    second, _ = f.grad(x, y, w1 * 2.0, w2)
    assert id(given[1][0]) == identity and given[1][0] is second  # the first call's array, written into
    np.testing.assert_allclose(second, hand_written(x, y, w1 * 2.0, w2)[0], rtol=1e-12)


def test_no_gradient_array_is_reused_where_reference_counts_are_not_exact(monkeypatch, reuse_at_once):
    monkeypatch.setattr(buffer_runtime, "REFERENCES_ARE_EXACT", False)
    f = sourcegrad.differentiate(two_layer, wrt=("w1", "w2"))
    data = large_two_layer_data()
    f.grad(*data)
    f.grad(*data)
    assert f._last.pool.gradients is None  # (an address check would prove nothing: malloc reuses freed blocks)


@exact_references
def test_threads_each_get_their_own_gradient_arrays(reuse_at_once):
    f = sourcegrad.differentiate(two_layer, wrt=("w1", "w2"))
    x, y, w1, w2 = large_two_layer_data()
    weights = [w1 * s for s in (1.0, -0.5, 2.0, 0.25)]
    expected = [hand_written(x, y, w, w2) for w in weights]
    assert not _wrong_in_threads(lambda index: f.grad(x, y, weights[index], w2), expected, steps=60)
    assert f._last.pool.gradients is not None


@exact_references
def test_a_shape_change_lets_the_old_arrays_go(reuse_at_once):
    f = sourcegrad.differentiate(two_layer, wrt=("w1", "w2"))
    x, y, w1, w2 = large_two_layer_data()
    f.grad(x, y, w1, w2)
    wider = rng.standard_normal((200, 190)), rng.standard_normal((190, 3))
    g1, g2 = f.grad(x, y, *wider)
    assert g1.shape == (200, 190) and g2.shape == (190, 3)
    for gradient, expected in zip((g1, g2), hand_written(x, y, *wider)):
        np.testing.assert_allclose(gradient, expected, rtol=1e-12)


@exact_references
def test_a_small_first_call_does_not_keep_later_large_calls_from_reusing_arrays(reuse_at_once):
    f = sourcegrad.differentiate(two_layer, wrt=("w1", "w2"))
    f.grad(*two_layer_data())  # small: the plain function
    x, y, w1, w2 = large_two_layer_data()
    first, _ = f.grad(x, y, w1, w2)
    address = first.ctypes.data
    del first
    second, _ = f.grad(x, y, w1, w2)
    assert second.ctypes.data == address
    np.testing.assert_allclose(second, hand_written(x, y, w1, w2)[0], rtol=1e-12)
    small = two_layer_data()
    g1, g2 = f.grad(*small)  # and small again: the plain function, right
    for gradient, expected in zip((g1, g2), hand_written(*small)):
        np.testing.assert_allclose(gradient, expected, rtol=1e-12)


@pytest.mark.parametrize("plain, reusing, chosen", [(1.0, 0.6, True), (1.0, 0.93, False), (1.0, 1.3, False)])
def test_reuse_is_chosen_only_when_timed_clearly_faster(plain, reusing, chosen):
    probe = buffer_runtime.ReuseProbe()
    while probe.verdict is None:
        reuse = probe.next_probe()
        probe.record(reuse, reusing if reuse else plain)
    assert probe.verdict is chosen
    # four calls to settle, then blocks: plain, reusing, plain, reusing
    assert probe.calls == 4 + 4 * buffer_runtime.REUSE_PROBE_CALLS


def _probe_blocks(probe, blocks):
    """Run the probe's calls, each reusing one taking `blocks[i]` for the i-th block (plain ones: 1.0)."""
    kinds = []
    while probe.verdict is None:
        reuse = probe.next_probe()
        block = (probe.calls - 1 - probe.settling) // buffer_runtime.REUSE_PROBE_CALLS
        kinds.append(reuse)
        probe.record(reuse, blocks[block] if reuse else 1.0)
    return kinds


def test_reuse_must_win_in_both_pairs_of_blocks():
    probe = buffer_runtime.ReuseProbe()
    n = buffer_runtime.REUSE_PROBE_CALLS
    kinds = _probe_blocks(probe, {1: 0.5, 3: 1.0})  # faster in the first pair only: noise, or a change
    assert kinds == [False] * 4 + [False] * n + [True] * n + [False] * n + [True] * n
    assert probe.verdict is False
    probe = buffer_runtime.ReuseProbe()
    _probe_blocks(probe, {1: 0.7, 3: 0.8})
    assert probe.verdict is True


def test_a_verdict_for_reuse_is_timed_again_later():
    probe = buffer_runtime.ReuseProbe()
    _probe_blocks(probe, {1: 0.6, 3: 0.6})
    assert probe.verdict is True
    for _ in range(buffer_runtime._RECHECK_AFTER[0] - 1):
        probe.reused_call()
    assert probe.verdict is True
    probe.reused_call()
    assert probe.verdict is None  # timed again: reuse has stopped paying
    _probe_blocks(probe, {1: 1.1, 3: 1.1})
    assert probe.verdict is False  # and it stands: plain calls never ask for another


def test_rechecks_end():
    probe = buffer_runtime.ReuseProbe()
    _probe_blocks(probe, {1: 0.6, 3: 0.6})
    for after in buffer_runtime._RECHECK_AFTER:
        for _ in range(after):
            probe.reused_call()
        assert probe.verdict is None
        _probe_blocks(probe, {1: 0.6, 3: 0.6})
    for _ in range(10 * buffer_runtime._RECHECK_AFTER[-1]):
        probe.reused_call()
    assert probe.verdict is True


@exact_references
def test_every_call_while_reuse_is_measured_gives_the_right_gradient():
    f = sourcegrad.differentiate(two_layer, wrt=("w1", "w2"))
    x, y, w1, w2 = large_two_layer_data()
    for step in range(32):
        weights = w1 * (1.0 + 0.1 * step)
        g1, g2 = f.grad(x, y, weights, w2)
        expected = hand_written(x, y, weights, w2)
        np.testing.assert_allclose(g1, expected[0], rtol=1e-12)
        np.testing.assert_allclose(g2, expected[1], rtol=1e-12)
    (probe,) = f._last.pool.gradients.probes.values()
    assert probe.verdict in (True, False)


@exact_references
def test_calls_on_a_verdict_for_reuse_count_toward_timing_it_again(monkeypatch):
    monkeypatch.setattr(buffer_runtime, "_RECHECK_AFTER", (3,))
    f = sourcegrad.differentiate(two_layer, wrt=("w1", "w2"))
    x, y, w1, w2 = large_two_layer_data()
    f.grad(x, y, w1, w2)
    (probe,) = f._last.pool.gradients.probes.values()
    probe.verdict = True  # as if reuse had been timed faster
    for _ in range(2):
        f.grad(x, y, w1, w2)
    assert (probe.verdict, probe.reused) == (True, 2)
    f.grad(x, y, w1, w2)
    assert (probe.verdict, probe.rechecks) == (None, 1)
    for step in range(30):  # timed again, and every gradient right meanwhile
        weights = w1 * (1.0 + 0.1 * step)
        g1, g2 = f.grad(x, y, weights, w2)
        expected = hand_written(x, y, weights, w2)
        np.testing.assert_allclose(g1, expected[0], rtol=1e-12)
        np.testing.assert_allclose(g2, expected[1], rtol=1e-12)
    assert probe.verdict in (True, False)


@exact_references
def test_reuse_is_measured_for_each_shape_and_dtype():
    f = sourcegrad.differentiate(two_layer, wrt=("w1", "w2"))
    data = two_layer_data(n=8, d_in=400, h=180, d_out=3)  # gradients of 256 KiB and more in float32 too
    for dtype in (np.float64, np.float32):
        arrays = [a.astype(dtype) for a in data]
        for _ in range(12):
            f.grad(*arrays)
    assert len(f._last.pool.gradients.probes) == 2


@exact_references
def test_calls_of_a_size_where_reuse_does_not_pay_go_straight_to_the_plain_function(monkeypatch):
    def record(self, reusing, seconds):
        self.verdict = False  # as if the plain calls had been timed faster

    monkeypatch.setattr(buffer_runtime.ReuseProbe, "record", record)
    f = sourcegrad.differentiate(two_layer, wrt=("w1", "w2"))
    data = large_two_layer_data()
    f.grad(*data)  # compiles
    f.grad(*data)  # the probe: a plain call, and the verdict
    assert f._last.plain_size == sum(a.nbytes for a in data)
    general = []
    monkeypatch.setattr(type(f), "_call_with_buffers", lambda *a, **k: general.append(1))
    g1, g2 = f.grad(*data)
    assert not general  # the entry point called the plain function itself
    for gradient, expected in zip((g1, g2), hand_written(*data)):
        np.testing.assert_allclose(gradient, expected, rtol=1e-12)



def repeated_layer(x, w, depth):
    h = np.tanh(x @ w)
    for _ in range(depth):
        h = np.tanh(h @ w)
    return (h * h).sum()


def _some_partials(fn, args, position, entries, eps=1e-6):
    """Central differences of fn for a few entries of args[position] (a whole large array would take long)."""
    values = []
    for entry in entries:
        up, down = [list(args), list(args)]
        up[position], down[position] = args[position].copy(), args[position].copy()
        up[position][entry] += eps
        down[position][entry] -= eps
        values.append((fn(*up) - fn(*down)) / (2 * eps))
    return np.array(values)


@exact_references
def test_reuse_is_measured_apart_for_calls_doing_different_amounts_of_work():
    f = sourcegrad.differentiate(repeated_layer, wrt="w")
    x, w = rng.standard_normal((8, 200)), rng.standard_normal((200, 200)) * 0.05  # w: 320 KB
    entries = [(0, 0), (3, 7), (199, 5), (50, 199)]
    for step in range(24):
        depth = step % 3 + 1  # like the dynamic net: a depth per call, each timed on its own
        gradient = f.grad(x, w, depth)
        expected = _some_partials(repeated_layer, (x, w, depth), 1, entries)
        np.testing.assert_allclose([gradient[e] for e in entries], expected, rtol=1e-5, atol=1e-8)
    assert {key[1] for key in f._last.pool.gradients.probes} == {(1,), (2,), (3,)}
