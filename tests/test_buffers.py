"""into=: the `_into` variant of a generated gradient writes the gradients into the caller's arrays and its
temporaries into buffers kept from one such call to the next. It must give the gradients the plain function
gives, checked here against finite differences, on the calls that write into kept buffers; it must never
overwrite what an earlier call handed out; two threads must not share buffers; and a call without into= keeps
nothing (the variant is not even made)."""

import collections
import threading

import numpy as np
import pytest

import sourcegrad
from sourcegrad.checking import numeric_gradient
from sourcegrad.errors import SourcegradError

from device_support import IN_MEMORY_DEVICES, assert_on, host, on
from rule_support import TOLERANCE, make_inputs
from test_primitives import _params


@pytest.fixture(params=IN_MEMORY_DEVICES)
def device(request):
    """numpy, and cupy where a GPU is present: into= is refused on dask, whose gradients are new arrays from
    dask.compute (test_dask_device.py checks the refusal)."""
    return request.param


rng = np.random.default_rng(11)


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


def _into_like(f, args, fill=np.nan):
    """One array per wrt argument of the call, of its shape and dtype, for into=."""
    names = list(f.fn.__code__.co_varnames[:f.fn.__code__.co_argcount])
    return tuple(np.full_like(args[names.index(n)], fill) for n in f.wrt)


def _as_tuple(gradients):
    return gradients if isinstance(gradients, tuple) else (gradients,)


@pytest.mark.parametrize("entry, case", _params())
def test_kept_buffers_give_the_finite_difference_gradient(entry, case, device):
    args = make_inputs(entry, case, np.float64)
    names = list(entry.fn.__code__.co_varnames[:entry.fn.__code__.co_argcount])
    if not all(isinstance(args[names.index(n)], np.ndarray) for n in entry.inputs):
        pytest.skip("into= takes arrays; this case differentiates a Python float")
    f = sourcegrad.differentiate(entry.fn, wrt=tuple(entry.inputs))
    first = f.grad(*on(device, _other_weights(args)), into=on(device, _into_like(f, args)))  # fills the buffers
    kept = [np.array(g, copy=True) for g in host(_as_tuple(first))]
    second = _as_tuple(f.grad(*on(device, args), into=on(device, _into_like(f, args))))  # writes into them
    assert_on(device, list(second))
    _assert_close(host(second), _numeric(entry.fn, args, entry.inputs), entry.inputs)
    for name, gradient, copy in zip(entry.inputs, host(_as_tuple(first)), kept):  # the first call's are intact
        np.testing.assert_array_equal(gradient, copy, err_msg=f"d_{name} changed under the caller")


@pytest.mark.parametrize("entry, case", _params())
def test_gradients_written_into_the_callers_arrays(entry, case, device):
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


def test_two_layer_keeps_its_temporaries_and_writes_gradients_into_the_callers_arrays():
    f = sourcegrad.differentiate(two_layer, wrt=("w1", "w2"))
    x, y, w1, w2 = two_layer_data()
    into = (np.empty_like(w1), np.empty_like(w2))
    f.grad(x, y, w1, w2, into=into)
    into_file = f.generated_path.with_name(f.generated_path.stem + "__into.py")
    source = into_file.read_text()
    assert "def two_layer_value_and_grad_into(" in source and "def two_layer_value_and_grad(" not in source
    # every forward and backward array operation but the loss's scaling writes into a buffer
    assert source.count("out=buffers.") == 7 and "out=into[0]" in source and "out=into[1]" in source
    (buffers,) = f._last.pool.idle
    h = buffers.arrays.h
    f.grad(x, y, w1, w2, into=into)
    assert f._last.pool.idle[0].arrays.h is h, "the second call writes into the first call's array"
    smaller = (np.empty_like(w1), np.empty_like(w2))
    f.grad(x[:5], y[:5], w1, w2, into=smaller)  # other shapes: new buffers, and the right gradient
    assert f._last.pool.idle[-1].arrays.h.shape == (5, 12)
    for gradient, expected in zip(smaller, hand_written(x[:5], y[:5], w1, w2)):
        np.testing.assert_allclose(gradient, expected, rtol=1e-12)


def test_which_operations_take_out_is_the_rule_registrys_record(monkeypatch):
    """The memory plan asks the rule registry which functions take out= (Primitive.takes_out, and ufuncs without
    saying): taken out of the matrix products' records, they write into nothing; a ufunc still does."""
    import operator
    from sourcegrad.templates import registry
    for product in (np.matmul, np.dot, operator.matmul):
        monkeypatch.setattr(registry.record(product), "takes_out", False)
    f = sourcegrad.differentiate(two_layer, wrt=("w1", "w2"))
    x, y, w1, w2 = two_layer_data()
    into = (np.empty_like(w1), np.empty_like(w2))
    f.grad(x, y, w1, w2, into=into)
    source = f.generated_path.with_name(f.generated_path.stem + "__into.py").read_text()
    assert "xp.matmul" not in source and "out=into" not in source
    assert "square = buffers.square = xp.square(y_pred_minus_y, out=buffers.square)" in source
    for gradient, expected in zip(into, hand_written(x, y, w1, w2)):
        np.testing.assert_allclose(gradient, expected, rtol=1e-12)


def test_a_call_without_into_keeps_nothing_and_makes_no_variant():
    f = sourcegrad.differentiate(two_layer, wrt=("w1", "w2"))
    data = large_two_layer_data()
    first = f.grad(*data)
    second = f.grad(*data)
    assert not f._last.pool.idle and not f._last._buffered_made
    assert not any(path.name.endswith("__into.py") for path in f.generated_path.parent.iterdir())
    assert not any(np.shares_memory(a, b) for a in first for b in second)


def test_the_into_variant_is_loaded_from_its_file_by_a_later_process(monkeypatch):
    import sourcegrad.compiler
    f = sourcegrad.differentiate(two_layer, wrt=("w1", "w2"))
    x, y, w1, w2 = two_layer_data()
    f.grad(x, y, w1, w2, into=(np.empty_like(w1), np.empty_like(w2)))

    def refuse(*args, **kwargs):
        raise AssertionError("the file in generated/ should have been used")

    monkeypatch.setattr(sourcegrad.compiler, "reverse", refuse)
    g = sourcegrad.differentiate(two_layer, wrt=("w1", "w2"))  # knows nothing in memory: like a new process
    into = (np.empty_like(w1), np.empty_like(w2))
    g.grad(x, y, w1, w2, into=into)
    for gradient, expected in zip(into, hand_written(x, y, w1, w2)):
        np.testing.assert_allclose(gradient, expected, rtol=1e-12)


def test_float32_buffers_stay_float32_and_a_dtype_change_gets_new_buffers():
    f = sourcegrad.differentiate(two_layer, wrt=("w1", "w2"))
    data = two_layer_data()
    f.grad(*data, into=(np.empty_like(data[2]), np.empty_like(data[3])))
    single = [a.astype(np.float32) for a in data]
    g1, g2 = f.grad(*single, into=(np.empty_like(single[2]), np.empty_like(single[3])))
    assert g1.dtype == g2.dtype == np.float32 and f._last.pool.idle[-1].arrays.h.dtype == np.float32
    reference = f.grad(*data)
    np.testing.assert_allclose(g1, reference[0], rtol=1e-3, atol=1e-3)


def test_calls_with_alternating_shapes_each_reuse_their_own_buffers(monkeypatch):
    """A smaller batch between two full ones, or validation between training steps: each signature finds its
    own set again, and from its second call on writes the gradients straight into the caller's arrays."""
    copies = _copies_into(monkeypatch)
    f = sourcegrad.differentiate(two_layer, wrt=("w1", "w2"))
    x, y, w1, w2 = two_layer_data()
    into = (np.empty_like(w1), np.empty_like(w2))
    batches = [(x, y), (x[:5], y[:5])]
    for batch in batches:
        f.grad(*batch, w1, w2, into=into)
    kept = {len(bx): next(b for b in f._last.pool.idle if b.signature[0][1][0] == len(bx)).arrays.h
            for bx, _ in batches}
    for _ in range(3):
        for bx, by in batches:
            copies.clear()
            f.grad(bx, by, w1, w2, into=into)
            assert copies == []
            for gradient, expected in zip(into, hand_written(bx, by, w1, w2)):
                np.testing.assert_allclose(gradient, expected, rtol=1e-12)
    idle = f._last.pool.idle
    assert len(idle) == 2 and all(b.arrays.h is kept[b.arrays.h.shape[0]] for b in idle)


def test_two_threads_never_share_buffers():
    f = sourcegrad.differentiate(two_layer, wrt=("w1", "w2"))
    datasets = [two_layer_data() for _ in range(4)]
    expected = [f.grad(*d) for d in datasets]

    def into_call(index):
        data = datasets[index]
        return f.grad(*data, into=(np.empty_like(data[2]), np.empty_like(data[3])))

    assert not _wrong_in_threads(into_call, expected, steps=300)


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


def _copies_into(monkeypatch):
    """A list that records, by wrt position, each gradient a call copies into its into= array after computing
    it in an array of its own, rather than having its operation write it there."""
    import sourcegrad.api
    copies, write_into = [], sourcegrad.api._write_into

    def recording(target, gradient):
        copies.append(target)
        write_into(target, gradient)

    monkeypatch.setattr(sourcegrad.api, "_write_into", recording)
    return copies


def test_from_the_second_call_on_the_gradients_are_written_straight_into_the_callers_arrays(monkeypatch):
    """The first call with a set of buffers learns each gradient's dtype and copies; later calls write in."""
    copies = _copies_into(monkeypatch)
    f = sourcegrad.differentiate(two_layer, wrt=("w1", "w2"))
    x, y, w1, w2 = two_layer_data()
    into = (np.empty_like(w1), np.empty_like(w2))
    f.grad(x, y, w1, w2, into=into)
    assert len(copies) == 2
    for _ in range(2):
        copies.clear()
        f.grad(x, y, w1 * 0.5, w2, into=into)
        assert copies == []
        for gradient, expected in zip(into, hand_written(x, y, w1 * 0.5, w2)):
            np.testing.assert_allclose(gradient, expected, rtol=1e-12)


@pytest.mark.parametrize("layout", ["fortran", "strided view", "unaligned", "float32 weights, float64 data"])
def test_into_an_array_no_operation_can_write_into_is_copied_into(layout, monkeypatch):
    """numpy's dot takes only a C-contiguous `out=` of its result's dtype (cupy's matrix products too): a
    gradient an operation cannot write into its into= array is computed in an array of its own and copied in,
    on every call, and no operation is handed that array."""
    copies = _copies_into(monkeypatch)
    f = sourcegrad.differentiate(two_layer, wrt=("w1", "w2"))
    x, y, w1, w2 = two_layer_data()
    if layout == "fortran":
        first = np.asfortranarray(np.empty_like(w1))
    elif layout == "strided view":
        first = np.empty((w1.shape[0], 2 * w1.shape[1]))[:, ::2]
    elif layout == "unaligned":  # C-contiguous, but one byte off: numpy's dot refuses it as `out=`
        memory = bytearray(w1.nbytes + 1)
        first = np.frombuffer(memory, dtype=w1.dtype, count=w1.size, offset=1).reshape(w1.shape)
        assert not first.flags.aligned and first.flags.c_contiguous
    else:
        w1, w2 = w1.astype(np.float32), w2.astype(np.float32)
        first = np.empty_like(w1)
    into = (first, np.empty_like(w2))
    for _ in range(3):
        copies.clear()
        g1, g2 = f.grad(x, y, w1, w2, into=into)
        assert g1 is into[0] and g2 is into[1] and g1.dtype == w1.dtype
        assert any(target is first for target in copies)
        # against the hand-written backward: finite differences of a ReLU net can straddle a kink
        tolerance = 1e-5 if w1.dtype == np.float32 else 1e-12
        for gradient, expected in zip((g1, g2), hand_written(x, y, w1, w2)):
            np.testing.assert_allclose(gradient, expected, rtol=tolerance)


def three_weights(x, a, b, c):
    return (x * a * b * c).sum()


def test_an_into_array_passed_twice_is_refused_wherever_it_repeats():
    f = sourcegrad.differentiate(three_weights, wrt=("a", "b", "c"))
    x, a, b, c = (rng.standard_normal(4) for _ in range(4))
    first, second = np.empty(4), np.empty(4)
    for into in ((first, first, second), (first, second, first), (first, second, second)):
        with pytest.raises(SourcegradError, match="shares memory with another array of into"):
            f.grad(x, a, b, c, into=into)
    d_a, d_b, d_c = f.grad(x, a, b, c, into=(first, second, np.empty(4)))
    np.testing.assert_allclose(d_c, x * a * b, rtol=1e-12)


def swapped_by_keywords(x, w):
    h = x * w
    swapped = np.swapaxes(axis1=0, axis2=1, a=h)  # a view of h, its array named by keyword
    return (swapped * 1.0).sum(), swapped


def test_a_view_of_a_value_made_by_keywords_alone_is_never_kept():
    """What reaches the caller, a view of h here, is never in a buffer a later call writes into."""
    f = sourcegrad.differentiate(swapped_by_keywords, wrt="w", has_aux=True)
    x, w = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    target = np.empty_like(w)
    _, first = f.grad(x, w, into=target)
    kept = first.copy()
    _, second = f.grad(2 * x, w, into=target)
    np.testing.assert_array_equal(first, kept)
    assert not np.shares_memory(first, second)
    np.testing.assert_allclose(second, (2 * x * w).T, rtol=1e-12)


def test_a_read_only_into_array_is_refused():
    f = sourcegrad.differentiate(two_layer, wrt=("w1", "w2"))
    x, y, w1, w2 = two_layer_data()
    locked = np.empty_like(w2)
    locked.flags.writeable = False
    with pytest.raises(SourcegradError, match=r"into\[1\] is read-only"):
        f.grad(x, y, w1, w2, into=(np.empty_like(w1), locked))


def test_a_value_error_of_the_function_with_into_runs_it_once():
    """An error of the function's own code is raised as it comes, not taken for an operation refusing `out=`
    and the function run again."""
    calls = []

    @sourcegrad.nondifferentiable
    def count(x):
        calls.append(1)
        return 0.0

    def f(x, w):
        offset = count(x)  # run before the product that fails
        return np.tanh(x @ w + offset).sum()

    g = sourcegrad.differentiate(f, wrt="w")
    x, w = rng.standard_normal((5, 4)), rng.standard_normal((4, 3))
    target = np.empty_like(w)
    g.grad(x, w, into=target)
    calls.clear()
    with pytest.raises(ValueError):
        g.grad(rng.standard_normal((5, 6)), w, into=target)  # x @ w: the shapes do not fit
    assert calls == [1]


def named_like_the_pools_records(x, w):
    signature = x * w
    arrays = signature * signature
    return arrays.sum()


def private_names(x, w):
    __h = x * w  # a name with leading underscores, as a buffer's attribute name too
    __h_squared = __h * __h
    return __h_squared.sum()


@pytest.mark.parametrize("fn, kept", [(named_like_the_pools_records, "signature"), (private_names, "__h")])
def test_a_buffer_may_be_named_like_anything(fn, kept):
    """The buffers are attributes named after the function's values: a value named like the pool's own
    records (signature, arrays), or with leading underscores, is kept like any other."""
    g = sourcegrad.differentiate(fn, wrt="w")
    x, w = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    target = np.empty_like(w)
    for _ in range(3):
        assert g.grad(x, w, into=target) is target
        np.testing.assert_allclose(target, 2 * x ** 2 * w, rtol=1e-12)
    (buffers,) = g._last.pool.idle
    assert getattr(buffers.arrays, kept).shape == (3, 4)


def test_into_for_one_argument_takes_an_array():
    def f(w, x):
        return np.tanh(x @ w).sum()

    g = sourcegrad.differentiate(f)
    w, x = rng.standard_normal((4, 3)), rng.standard_normal((5, 4))
    target = np.empty_like(w)
    assert g.grad(w, x, into=target) is target
    _assert_close((target,), _numeric(f, (w, x), ("w",)), ("w",))


def test_into_takes_a_list_or_a_named_tuple_of_arrays():
    f = sourcegrad.differentiate(two_layer, wrt=("w1", "w2"))
    x, y, w1, w2 = two_layer_data()
    expected = _numeric(two_layer, (x, y, w1, w2), ("w1", "w2"))
    Gradients = collections.namedtuple("Gradients", "w1 w2")
    for into in ([np.empty_like(w1), np.empty_like(w2)], Gradients(np.empty_like(w1), np.empty_like(w2))):
        for _ in range(2):  # the set's first call, then the usual one
            got = f.grad(x, y, w1, w2, into=into)
            assert got[0] is into[0] and got[1] is into[1]
            _assert_close(got, expected, ("w1", "w2"))


def test_an_into_array_that_is_another_argument_is_refused():
    def product(a, b):
        return (a * b).sum()

    f = sourcegrad.differentiate(product, wrt="a")
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    f.grad(a, b, into=np.empty_like(a))  # a set of buffers made, so that the call below is the usual kind
    with pytest.raises(SourcegradError, match="shares memory with an argument"):
        f.grad(a, b, into=b)  # b's gradient would overwrite b while it is read


def test_an_into_array_held_inside_an_argument_is_refused():
    def weighted(w, *xs):
        total = (w * w).sum()
        for x in xs:
            total = total + (w * x).sum()
        return total

    def listed(w, xs):
        return (w * xs[0]).sum() + (w * xs[1]["b"]).sum()

    class Holder:
        def __init__(self, b):
            self.b = b

    def held(w, holder):
        return (w * holder.b).sum()

    w, b = rng.standard_normal(4), rng.standard_normal(4)
    calls = [(weighted, lambda: (w, b)),  # b reaches the function through its `*xs`
             (listed, lambda: (w, [b.copy(), {"b": b}])),
             (held, lambda: (w, Holder(b)))]
    for fn, make_args in calls:
        f = sourcegrad.differentiate(fn, wrt="w")
        f.grad(*make_args(), into=np.empty_like(w))  # buffers made, as a training loop's first call
        kept = b.copy()
        with pytest.raises(SourcegradError, match="shares memory with an argument"):
            f.grad(*make_args(), into=b)  # w's gradient would overwrite b while it is read
        np.testing.assert_array_equal(b, kept)


def test_into_is_compared_with_arrays_at_any_depth_and_objects_with_cycles_are_walked_once():
    from sourcegrad.runtime.device import array_leaves

    class Node:
        def __init__(self, b):
            self.b, self.numpy, self.parent = b, np, None

    b = rng.standard_normal(4)
    node = Node(b)
    node.parent = node  # a cycle, and a module among the attributes: neither is walked twice or into
    deep = [b]
    for _ in range(8):
        deep = [deep]
    leaves = list(array_leaves([node, deep]))
    assert sum(leaf is b for leaf in leaves) == 2 and sum(leaf is np for leaf in leaves) == 1 and len(leaves) == 3

    def nested(w, xs):
        return (w * w).sum()

    f = sourcegrad.differentiate(nested, wrt="w")
    w = rng.standard_normal(4)
    f.grad(w, deep, into=np.empty_like(w))
    with pytest.raises(SourcegradError, match="shares memory with an argument"):
        f.grad(w, deep, into=b)  # b is nine lists down in an argument


def test_a_value_that_reaches_the_caller_is_never_kept():
    """The output (an array here, with grad_output) and views of it are handed out: no buffer for them."""
    def f(x, w):
        h = x * w
        return h.T

    g = sourcegrad.differentiate(f, wrt="w")
    x, w = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    first, _ = g.value_and_grad(x, w, grad_output=np.ones((4, 3)), into=np.empty_like(w))
    kept = first.copy()
    g.value_and_grad(x * 2, w, grad_output=np.ones((4, 3)), into=np.empty_like(w))
    np.testing.assert_array_equal(first, kept)


def _control_flow_cases():
    from test_control_flow import CASES
    return CASES


@pytest.mark.parametrize("fn, wrt, args", _control_flow_cases())
def test_control_flow_corpus_with_kept_buffers(fn, wrt, args, device):
    """Loops and branches keep their own arrays; the straight-line code around them writes into buffers.
    The second call (into kept buffers) gives the finite-difference gradient, and leaves the first
    call's gradients as they were."""
    names = list(fn.__code__.co_varnames[:fn.__code__.co_argcount])
    if not all(isinstance(args[names.index(n)], np.ndarray) for n in wrt):
        pytest.skip("into= takes arrays: a float or a structure is covered elsewhere")
    f = sourcegrad.differentiate(fn, wrt=wrt)
    handed_out = _as_tuple(f.grad(*on(device, args), into=on(device, _into_like(f, args))))
    first = [np.array(g, copy=True) for g in host(handed_out)]
    second = f.grad(*on(device, args), into=on(device, _into_like(f, args)))
    arguments = dict(zip(names, args))
    _assert_close(host(_as_tuple(second)), [numeric_gradient(fn, arguments, n, 1e-6) for n in wrt], wrt)
    for gradient, copy in zip(host(handed_out), first):
        np.testing.assert_array_equal(gradient, copy)


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
    """Arrays large enough for what into= is meant for: its gradients written in, its temporaries kept."""
    return two_layer_data(n=8, d_in=200, h=180, d_out=3)




# ---- into=: what it refuses, and what it never keeps ----------------------------------------------------------

SEEN = []


def remember(a):
    SEEN.append(a)  # a logger keeping what it is given
    return a.shape[1]


@sourcegrad.nondifferentiable
def remember_activation(a):
    SEEN.append(a)
    return 0.0


def hands_a_temporary_to_a_helper_that_keeps_it(w, x):
    features = np.exp(x) * 2.0
    n = remember(features)  # noqa: F841 (only logged)
    h = np.tanh(features @ w)
    z = remember_activation(h)  # noqa: F841
    return (h ** 2).sum()


def test_a_temporary_a_helper_keeps_is_never_a_kept_buffer():
    f = sourcegrad.differentiate(hands_a_temporary_to_a_helper_that_keeps_it, wrt="w")
    w, x = rng.standard_normal((4, 3)), rng.standard_normal((5, 4))
    SEEN.clear()
    f.grad(w, x, into=np.empty_like(w))
    first = [a.copy() for a in SEEN]
    f.grad(w, x + 1.0, into=np.empty_like(w))
    assert SEEN[0] is not SEEN[2] and SEEN[1] is not SEEN[3]
    for kept, copy in zip(SEEN[:2], first):
        np.testing.assert_array_equal(kept, copy)


def test_into_sharing_memory_with_grad_output_is_refused():
    def product(a, b):
        return a @ b

    f = sourcegrad.differentiate(product, wrt=("a", "b"))
    a, b, seed = rng.standard_normal((3, 3)), rng.standard_normal((3, 3)), rng.standard_normal((3, 3))
    with pytest.raises(SourcegradError, match="shares memory with an argument of the call"):
        f.grad(a, b, grad_output=seed, into=(seed, np.empty_like(b)))
    with pytest.raises(SourcegradError, match="shares memory with an argument of the call"):
        f.grad(a, b, into=(np.lib.stride_tricks.as_strided(b), np.empty_like(b)))



def test_into_sharing_memory_through_views_and_buffers_is_refused():
    def product(a, b):
        return (a @ b).sum()

    f = sourcegrad.differentiate(product, wrt=("a", "b"))
    block = rng.standard_normal((2, 3, 3))
    a, b = block[0], block[1]  # two views of one array: an into= array over the block overlaps them
    with pytest.raises(SourcegradError, match="shares memory with an argument of the call"):
        f.grad(a, b, into=(np.empty_like(a), block.reshape(6, 3)[3:]))
    raw = bytearray(2 * 9 * 8)  # arrays over one buffer, no array owning it
    left, right = np.frombuffer(raw, np.float64, 9).reshape(3, 3), np.frombuffer(raw, np.float64, 9, 72).reshape(3, 3)
    over_left = np.frombuffer(raw, np.float64, 9).reshape(3, 3)
    with pytest.raises(SourcegradError, match="shares memory with an argument of the call"):
        f.grad(left, right, into=(np.empty((3, 3)), over_left))
    outputs = np.empty((2, 3, 3))
    with pytest.raises(SourcegradError, match="shares memory with another array of into"):
        f.grad(a.copy(), b.copy(), into=(outputs[0], outputs[1]))  # disjoint halves of one array: refused too
    into = (np.empty((3, 3)), np.empty((3, 3)))  # arrays of their own: written into
    assert all(g is t for g, t in zip(f.grad(a, b, into=into), into))
    np.testing.assert_allclose(into[0], np.ones((3, 3)) @ b.T)


def test_into_takes_the_gradient_of_a_rank_0_array():
    f = sourcegrad.differentiate(tanh_layer_with_bias, wrt=("w", "b"))
    x, w, b = rng.standard_normal((8, 20)), 0.1 * rng.standard_normal((20, 20)), np.array(0.5)
    into = (np.empty_like(w), np.empty_like(b))
    for _ in range(2):  # the second call writes into the first call's buffers
        d_w, d_b = f.grad(x, w, b, into=into)
        assert d_w is into[0] and d_b is into[1] and d_b == 2.0
        np.testing.assert_allclose(d_w, x.T @ (1 - np.tanh(x @ w) ** 2), rtol=1e-12)


def test_an_error_of_the_function_with_into_is_raised_once():
    f = sourcegrad.differentiate(inverse_and_product, wrt=("x", "w"))
    x, w = rng.standard_normal((8, 30)), rng.standard_normal((30, 30)) + 10 * np.eye(30)
    into = (np.empty_like(x), np.empty_like(w))
    f.grad(x, w, into=into)
    with pytest.raises(np.linalg.LinAlgError) as raised:
        f.grad(x, np.zeros((30, 30)), into=into)
    assert raised.value.__context__ is None  # not "during handling of the above exception, another occurred"
    d_x, d_w = f.grad(x, w, into=into)
    np.testing.assert_allclose(d_x, np.ones((8, 30)) @ w.T, rtol=1e-12)


def tanh_layer_with_bias(x, w, b):
    return np.tanh(x @ w).sum() + 2.0 * b  # the gradient of b is the Python number 2.0 * 1.0


def inverse_and_product(x, w):
    return np.linalg.inv(w).sum() + x.dot(w).sum()


class ScaleAndShape:
    """An object argument that has a `shape` without being an array."""

    def __init__(self):
        self.scale = 2.0
        self.shape = (3,)


def scaled_by_an_object(w, config):
    return (w * config.scale).sum()


def test_into_with_an_object_argument_that_has_a_shape():
    f = sourcegrad.differentiate(scaled_by_an_object, wrt="w")
    w, target = rng.standard_normal(3), np.empty(3)
    assert f.grad(w, ScaleAndShape(), into=target) is target
    np.testing.assert_array_equal(target, [2.0, 2.0, 2.0])
