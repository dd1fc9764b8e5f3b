"""Cases found by review: each once gave a wrong gradient or an unhelpful crash.

Every function is checked against float64 central finite differences, or must be refused.
"""

import numpy as np
import pytest

import sourcegrad
from sourcegrad import SourcegradError, d
from sourcegrad.checking import numeric_gradient

rng = np.random.default_rng(3)


def clip_keywords_broadcast(x, lo, hi):
    c = np.clip(x, a_min=lo, a_max=hi)
    r = c * x
    return r.sum()


def list_literal_operand(x, v):
    t = np.maximum(x, [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    return (t * v).sum()


def vector_times_batch(x, v, w):
    s = (x @ v).sum(axis=-1)
    return (s @ w).sum()


def reshape_positional_order(x, w):
    v = np.reshape(x, -1, "C")
    return (v @ w).sum()


def sum_positional_keepdims(x, w):
    s = np.sum(x, 1, None, None, True)
    return (s * w).sum()


def full_reduction_with_axis(x):
    return x.sum(axis=0)


def mean_last_axis(x):
    return np.mean(x, axis=-1)


def vector_dot(x, y):
    return x @ y


def dot_scaled(x, y):
    return np.dot(x, y) * 2.0


def transpose_unknown_rank(w, axis):
    s = w.sum(axis=axis)
    return (s.T * s.T).sum()


def tuple_swap(x, y):
    x, y = y * 2, x
    x, y = y, x
    return (x * y * y).sum()


# ---- found by a random-program search (2026-11-27) ----------------------------------------------------------


def list_joined_in_a_loop(x, w):
    # `outs + [h]` is list concatenation: each row of the stack is one step's h (the rows weigh differently)
    outs = []
    h = w
    for i in range(len(x)):
        h = np.tanh(h * x[i])
        outs = outs + [h]
    return (np.stack(outs) * np.arange(1.0, len(x) + 1)[:, None]).sum()


def tuples_joined(x, w):
    items = (x,) + (x * w, w * 2.0)
    return (np.stack(items) * np.array([[1.0], [5.0], [-2.0]])).sum()


def list_used_three_times(x, w):
    items = [x * w, x]
    return np.stack(items).sum() + (np.concatenate(items) ** 2).sum() + (np.stack(items) * 3.0).sum()


def list_repeated(x, w):
    items = [x * w, np.sin(x)] * 3
    front = 2 * [w]
    return (np.stack(items) * np.arange(1.0, 7.0)[:, None]).sum() + (np.stack(front) ** 2).sum()


def named_list_repeated(w, x):
    outs = [w, x]
    outs = outs * 2
    more = 2 * outs
    return (outs[0] * outs[3]).sum() + (more[5] * more[6] * 3.0).sum()


def lists_of_constants_with_arrays(x, w):
    # a list display beside an array: numpy's elementwise `+` and `*`, not list concatenation or repetition
    return ((x + [1.0, 2.0, 3.0]) * [0.5, -1.0, 2.0] * w + ([0.5, 0.5, 0.5] - x)).sum()


def list_parameter_used_three_times(ws, x):
    return np.stack(ws).sum() + np.concatenate(ws).sum() + (np.stack(ws) * x).sum()


CASES = [
    (list_joined_in_a_loop, lambda: (rng.standard_normal(3), rng.standard_normal(3)), ("x", "w")),
    (tuples_joined, lambda: (rng.standard_normal(3), rng.standard_normal(3)), ("x", "w")),
    (list_used_three_times, lambda: (rng.standard_normal(3), rng.standard_normal(3)), ("x", "w")),
    (list_repeated, lambda: (rng.standard_normal(3), rng.standard_normal(3)), ("x", "w")),
    (named_list_repeated, lambda: (rng.standard_normal(3), rng.standard_normal(3)), ("w", "x")),
    (lists_of_constants_with_arrays, lambda: (rng.standard_normal(3), rng.standard_normal(3)), ("x", "w")),
    (clip_keywords_broadcast, lambda: (rng.uniform(-2, 2, 3), rng.uniform(-3, -2.5, (2, 3)), np.ones((2, 3))), ("x", "lo")),
    (list_literal_operand, lambda: (2.5, rng.standard_normal(3)), ("v",)),
    (vector_times_batch, lambda: (rng.standard_normal((4, 2, 3)), rng.standard_normal(3), rng.standard_normal((4, 4))), ("x", "v", "w")),
    (reshape_positional_order, lambda: (rng.standard_normal((2, 3)), rng.standard_normal((6, 4))), ("x", "w")),
    (sum_positional_keepdims, lambda: (rng.standard_normal((2, 3)), rng.standard_normal((2, 1))), ("x", "w")),
    (full_reduction_with_axis, lambda: (rng.standard_normal(3),), ("x",)),
    (mean_last_axis, lambda: (rng.standard_normal(4),), ("x",)),
    (vector_dot, lambda: (rng.standard_normal(3), rng.standard_normal(3)), ("x", "y")),
    (dot_scaled, lambda: (rng.standard_normal(3), rng.standard_normal(3)), ("x", "y")),
    (transpose_unknown_rank, lambda: (rng.standard_normal((2, 3)), 0), ("w",)),
    (tuple_swap, lambda: (rng.standard_normal(3), rng.standard_normal(3)), ("x", "y")),
]


# Python's operators on a cupy array refuse a list (numpy makes it an array); the function itself fails on cupy.
CUPY_REFUSES = {lists_of_constants_with_arrays: "cupy's operators take no Python list: `x + [1.0, 2.0]` fails on cupy"}


@pytest.mark.parametrize("fn, make_args, wrt", CASES, ids=[c[0].__name__ for c in CASES])
def test_gradient_matches_finite_differences(fn, make_args, wrt, device):
    if device == "cuda" and fn in CUPY_REFUSES:
        pytest.skip(CUPY_REFUSES[fn])
    assert sourcegrad.check_grad(fn, *make_args(), wrt=wrt, device=device).max_error < 1e-6


def test_mean_of_an_integer_array_has_a_fractional_gradient():
    def mean_int(x):
        return x.mean()

    np.testing.assert_allclose(sourcegrad.differentiate(mean_int).grad(np.array([1, 2, 3, 4])), [0.25] * 4)


def aliased_in_place(x):
    h = x * 2
    g = h
    h += 1
    return (g * h).sum()


def in_place_on_parameter(x):
    x += 1.0
    return (x * x).sum()


def modulo(x):
    return (x % 1.0).sum()


def or_operator(x):
    z = x or 1.0
    return z * z


def mutates_in_an_expression_statement(x):
    h = x * 1.0
    np.multiply(h, 2.0, out=h)
    return (h * h).sum()


def appended_to_an_empty_list(x):
    outs = []
    h = x
    for _ in range(3):
        h = np.tanh(h * 2.0)
        outs.append(h)
    return np.stack(outs).sum()


def in_place_on_a_name_that_later_holds_the_parameter(x):
    h = x * 1.0
    for _ in range(3):
        h += 1.0  # from the second iteration on, h is x itself
        h = x
    return (h * x).sum()


def sum_of_a_list(x):
    return np.sum([x * 2.0, x])


def list_built_in_a_loop_then_repeated(x):
    # the compiler cannot tell `outs` is a list after the loop: refused at run time, at this line
    outs = [x]
    for _ in range(2):
        outs = outs + [x * 2.0]
    more = outs * 2
    return np.stack(more).sum()


def list_of_active_arrays_plus_an_array(x):
    return ([x * 2.0, x] + x).sum()


REFUSED = [
    (appended_to_an_empty_list, r"`outs.append\(...\)` changes the list outs in place"),
    (in_place_on_a_name_that_later_holds_the_parameter, "in a loop would change an array that another name holds"),
    (sum_of_a_list, "a list of arrays that carry gradients reached an operation"),
    (list_of_active_arrays_plus_an_array, "a list of arrays that carry gradients reached an operation"),
    (list_built_in_a_loop_then_repeated, r"review_cases.py:\d+:\d+: a list of arrays that carry gradients"),
    (aliased_in_place, "would change an array that another name may also hold"),
    (in_place_on_parameter, "would change the caller's"),
    (modulo, "no gradient rule for the `%` operator"),
    (or_operator, "no gradient rule for `and`/`or`"),
    (mutates_in_an_expression_statement, "may change an array that carries a gradient"),
]


@pytest.mark.parametrize("fn, message", REFUSED, ids=[c[0].__name__ for c in REFUSED])
def test_refused_rather_than_wrong(fn, message):
    with pytest.raises(SourcegradError, match=message):
        sourcegrad.differentiate(fn).grad(np.array([0.3, 1.7, -0.4]))


def test_print_of_a_value_with_a_gradient_is_allowed(capsys):
    def prints(x):
        h = x * 3.0
        print("h is", h.sum())
        return (h * h).sum()

    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(sourcegrad.differentiate(prints).grad(x), 18 * x)
    assert "h is" in capsys.readouterr().out


# ---- found by review of helpers, containers and loops --------------------------------------------------------

K = 10.0


def sets_a_local_named_k(a):
    K = a * 2.0  # noqa: N806  (a local of the helper, the same name as the global K)
    return K + 1.0


def reads_the_global_k(a):
    return a * K


def helpers_sharing_a_name(x):
    return reads_the_global_k(sets_a_local_named_k(x)).sum()


def rank_changes_in_a_branch(x, w):
    if x.sum() > 0:
        x = x.sum(axis=0)
    return (x @ w).sum()


def names_a_variable_tape(x, n):
    s = x
    for i in range(n):
        tape = np.sin(s)
        s = tape * s
    return s.sum()


class Scaled:
    def __init__(self, w):
        self.w = w

    def forward(self, x):
        return np.sin(x * self.w)


class Tripled:
    def __init__(self, w):
        self.w = w

    def forward(self, x):
        return x * self.w * 3.0


def method_of_an_object_chosen_by_a_branch(a, b, x, flag):
    m = a
    if flag > 0:
        m = b
    return m.forward(x).sum()


def test_a_helpers_local_never_hides_a_global_another_helper_reads():
    x = np.array([0.5, -1.0, 2.0])
    f = sourcegrad.differentiate(helpers_sharing_a_name)
    assert f.value_and_grad(x)[0] == pytest.approx(helpers_sharing_a_name(x))
    np.testing.assert_allclose(f.grad(x), [20.0, 20.0, 20.0])


def test_a_parameter_reassigned_in_a_branch_loses_its_rank():
    x, w = rng.uniform(0.1, 1.0, (2, 3)), rng.standard_normal((3, 3))
    assert sourcegrad.check_grad(rank_changes_in_a_branch, x, w, wrt=("x", "w")).max_error < 1e-6


def test_a_variable_named_tape():
    assert sourcegrad.check_grad(names_a_variable_tape, rng.standard_normal(3), 3).max_error < 1e-6


def test_a_method_whose_class_depends_on_the_path_is_refused():
    with pytest.raises(SourcegradError, match="no gradient rule for the method `.forward\\(\\)`"):
        sourcegrad.differentiate(method_of_an_object_chosen_by_a_branch, wrt=("a", "b")).grad(
            Scaled(np.ones(2)), Tripled(np.ones(2)), np.ones(2), -1)


def test_an_instance_attribute_hiding_the_method_is_refused():
    model = Scaled(np.ones(2))
    model.forward = lambda x: x * 100.0

    def calls_forward(m, x):
        return m.forward(x).sum()

    with pytest.raises(SourcegradError):
        sourcegrad.differentiate(calls_forward).grad(model, np.ones(2))


def test_structure_gradients_keep_their_structure_and_dtype():
    def shared(p, q, x, flag):
        d = p
        if flag > 0:
            d = q
        return (x @ d["w"]).sum()

    p = {"w": np.ones((3, 3), np.float32)}
    q = {"w": np.ones((3, 3), np.float32)}
    d_p, d_q = sourcegrad.differentiate(shared, wrt=("p", "q")).grad(p, q, np.ones((2, 3)), 1)
    assert isinstance(d_p, dict) and d_p["w"].dtype == np.float32 and d_q["w"].dtype == np.float32


# ---- found by review of the rules -------------------------------------------------------------------------------

def std_of_a_size_one_axis(x):
    return np.std(x, axis=1).sum()


def power_zero(x):
    return (x ** 0).sum() + (x * x).sum()


def clip_crossed_bounds(x, lo):
    return np.clip(x, lo, -0.5).sum()


def axis_as_numpy_integer(x):
    return np.sum(x, axis=np.int64(1)).sum() + np.linalg.norm(x, axis=np.int64(1)).sum()


def concatenate_flat(x, y):
    return (np.concatenate([x, y], axis=None) ** 2).sum()


def hstack_with_a_scalar(x, y):
    return (np.hstack([x, y]) ** 2).sum()


def tile_with_array_reps(x):
    return (np.tile(x, np.array([2, 2])) ** 2).sum()


@pytest.mark.parametrize("fn, make_args, wrt", [
    (std_of_a_size_one_axis, lambda: (rng.standard_normal((3, 1)),), ("x",)),
    (power_zero, lambda: (np.array([0.0, 2.0, -1.5]),), ("x",)),
    (clip_crossed_bounds, lambda: (rng.standard_normal(4), 0.5), ("x", "lo")),
    (axis_as_numpy_integer, lambda: (rng.standard_normal((2, 3)),), ("x",)),
    (concatenate_flat, lambda: (rng.standard_normal((2, 2)), rng.standard_normal(3)), ("x", "y")),
    (hstack_with_a_scalar, lambda: (np.array(1.5), rng.standard_normal(3)), ("x", "y")),
    (tile_with_array_reps, lambda: (rng.standard_normal(3),), ("x",)),
], ids=lambda v: getattr(v, "__name__", ""))
def test_rule_edge_cases(fn, make_args, wrt, device):
    report = sourcegrad.check_grad(fn, *make_args(), wrt=wrt, device=device)
    assert report.max_error < 1e-6 and np.isfinite(report.max_error)


def test_mean_of_an_empty_axis_is_nan_not_an_exception():
    def empty_mean(x):
        return np.mean(x, axis=1).sum()

    with np.errstate(invalid="ignore", divide="ignore"):
        gradient = sourcegrad.differentiate(empty_mean).grad(np.zeros((3, 0)))
    assert gradient.shape == (3, 0)


def clip_with_a_variable_bound(x, lo, hi):
    return np.clip(x, lo, hi).sum()


def test_clip_bounds_that_are_none_at_run_time():
    x = np.array([-1.3, 0.2, 0.9])
    f = sourcegrad.differentiate(clip_with_a_variable_bound, wrt="x")
    np.testing.assert_allclose(f.grad(x, None, 0.5), [1.0, 1.0, 0.0])
    np.testing.assert_allclose(f.grad(x, -0.5, None), [0.0, 1.0, 1.0])


# ---- found by checking the README --------------------------------------------------------------------------------

def sorts_in_place(w):
    h = w * 2.0
    h.sort()
    return h[0] + 5.0 * h[2]


def loops_over_items(params):
    s = 0.0
    for k, v in params.items():
        s = s + np.sum(v ** 2)
    return s


def multiplies_in_place(w):
    h = w * 1.0
    np.multiply(h, 2.0, out=h)
    return (h * h).sum()


def test_an_in_place_method_on_a_value_with_a_gradient_is_refused():
    with pytest.raises(SourcegradError, match="may change an array that carries a gradient") as info:
        sourcegrad.differentiate(sorts_in_place).grad(np.array([3.0, 1.0, 2.0]))
    assert "h.sort()" in str(info.value)


def test_the_out_refusal_points_at_its_line():
    with pytest.raises(SourcegradError) as info:
        sourcegrad.differentiate(multiplies_in_place).grad(np.ones(2))
    assert "np.multiply(h, 2.0, out=h)" in str(info.value)


def test_a_loop_whose_items_cannot_take_their_gradient_back_is_refused():
    with pytest.raises(SourcegradError, match="cannot send it back into what the loop walks"):
        sourcegrad.differentiate(loops_over_items).grad({"a": np.ones(2)})


def quadruple(x):
    return x * 4.0


def test_a_rule_registered_later_is_used_by_a_function_compiled_before():
    def uses(w):
        return quadruple(w).sum()

    f = sourcegrad.differentiate(uses)
    w = np.array([1.0, 2.0])
    np.testing.assert_allclose(f.grad(w), [4.0, 4.0])  # inlined: the true gradient

    @sourcegrad.adjoint(quadruple)
    def quadruple_adjoint(result, x):
        d[x] = d[result] * 5.0  # a deliberately different rule, to see that it is picked up

    try:
        np.testing.assert_allclose(f.grad(w), [5.0, 5.0])
    finally:
        from sourcegrad.templates import registry
        registry.RULES.pop(quadruple, None)
        registry.VERSION[0] += 1


class Base:
    def __init__(self, w):
        self.w = w

    def forward(self, x):
        return np.tanh(x @ self.w)


class Child(Base):
    def forward(self, x):
        return super().forward(x) * 3.0


def child_loss(model, x):
    return model.forward(x).sum()


def test_super_is_refused_with_what_to_write_instead():
    f = sourcegrad.differentiate(child_loss)
    with pytest.raises(SourcegradError, match=r"super\(\) cannot be used.*\n.*\n.*\n.*Base.forward\(self, x\)"):
        f.grad(Child(rng.standard_normal((3, 2))), rng.standard_normal((4, 3)))


def activation(a):
    return np.tanh(a)


def doubled_sine(a):
    return np.sin(a) * 2.0


def calls_a_helper_through_a_global(x):
    return act(x).sum()


act = activation


def test_rebinding_a_global_that_names_an_inlined_helper_recompiles():
    global act
    f = sourcegrad.differentiate(calls_a_helper_through_a_global)
    x = rng.standard_normal(3)
    try:
        np.testing.assert_allclose(f.grad(x), 1 - np.tanh(x) ** 2)
        act = doubled_sine
        value, gradient = f.value_and_grad(x)
        assert value == pytest.approx((2 * np.sin(x)).sum())
        np.testing.assert_allclose(gradient, 2 * np.cos(x))
        act = activation
        np.testing.assert_allclose(f.grad(x), 1 - np.tanh(x) ** 2)
    finally:
        act = activation


def test_a_list_parameter_used_three_times_gets_each_use():
    ws, x = [rng.standard_normal(3) for _ in range(2)], rng.standard_normal(3)
    gradient = sourcegrad.differentiate(list_parameter_used_three_times, wrt="ws").grad(ws, x)
    for k, w in enumerate(ws):  # float64 central differences, element by element
        numeric = np.zeros_like(w)
        for i in range(w.size):
            w[i] += 1e-6
            up = list_parameter_used_three_times(ws, x)
            w[i] -= 2e-6
            down = list_parameter_used_three_times(ws, x)
            w[i] += 1e-6
            numeric[i] = (up - down) / 2e-6
        np.testing.assert_allclose(gradient[k], numeric, rtol=1e-6, atol=1e-8)


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


def test_a_temporary_a_helper_keeps_is_never_a_kept_buffer(monkeypatch):
    from sourcegrad.runtime import buffers
    monkeypatch.setattr(buffers, "MINIMUM_BYTES", 0)
    f = sourcegrad.differentiate(hands_a_temporary_to_a_helper_that_keeps_it, wrt="w")
    w, x = rng.standard_normal((4, 3)), rng.standard_normal((5, 4))
    SEEN.clear()
    f.grad(w, x)
    first = [a.copy() for a in SEEN]
    f.grad(w, x + 1.0)
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


# ---- fourth review: the reusing call path and into= checks --------------------------------------------------

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


@pytest.fixture
def reuse_at_once(monkeypatch):
    from sourcegrad.runtime import buffers
    monkeypatch.setattr(buffers, "REUSE_PROBE_CALLS", 0)


def test_the_reusing_path_returns_a_rank_0_arrays_gradient_as_an_array(reuse_at_once):
    f = sourcegrad.differentiate(tanh_layer_with_bias, wrt=("w", "b"))
    x, w, b = rng.standard_normal((8, 200)), 0.1 * rng.standard_normal((200, 200)), np.array(0.5)
    for _ in range(3):  # the compile, then calls at the size where reuse was chosen
        d_w, d_b = f.grad(x, w, b)
        assert isinstance(d_b, np.ndarray) and d_b.dtype == np.float64 and d_b == 2.0
        np.testing.assert_allclose(d_w, x.T @ (1 - np.tanh(x @ w) ** 2), rtol=1e-12)
    assert f._last.reuse_size == x.nbytes + w.nbytes + b.nbytes


def test_an_error_of_the_function_on_the_reusing_path_is_raised_once_and_gives_nothing_up(reuse_at_once):
    f = sourcegrad.differentiate(inverse_and_product, wrt=("x", "w"))
    x, w = rng.standard_normal((8, 300)), rng.standard_normal((300, 300)) + 30 * np.eye(300)
    f.grad(x, w)
    f.grad(x, w)
    with pytest.raises(np.linalg.LinAlgError) as raised:
        f.grad(x, np.zeros((300, 300)))
    assert raised.value.__context__ is None  # not "during handling of the above exception, another occurred"
    assert not f._last.pool.disabled and f._last.reuse_size > 0
    with pytest.raises(np.linalg.LinAlgError) as raised:
        f.grad(x, np.zeros((300, 300)), device="cpu")  # an option: the general method, the same way
    assert raised.value.__context__ is None and not f._last.pool.disabled
    d_x, d_w = f.grad(x, w)
    np.testing.assert_allclose(d_x, np.ones((8, 300)) @ w.T, rtol=1e-12)


def test_into_with_an_object_argument_that_has_a_shape():
    f = sourcegrad.differentiate(scaled_by_an_object, wrt="w")
    w, target = rng.standard_normal(3), np.empty(3)
    assert f.grad(w, ScaleAndShape(), into=target) is target
    np.testing.assert_array_equal(target, [2.0, 2.0, 2.0])


def loop_then_an_effect_reads_its_temporary(h, W):
    for t in range(3):
        z = h @ W
        h = np.tanh(z)
    print("the last pre-activation:", z)  # read after the loop by a statement kept for its effect: not let go
    return h.sum()


def test_a_temporary_read_after_the_loop_by_an_effect_is_kept(capsys):
    h, W = rng.standard_normal((4, 5)), 0.3 * rng.standard_normal((5, 5))
    f = sourcegrad.differentiate(loop_then_an_effect_reads_its_temporary, wrt=("h", "W"))
    d_h, d_W = f.grad(h, W)
    printed = capsys.readouterr().out
    assert "pre-activation: [[" in printed and "None" not in printed
    for name, gradient in (("h", d_h), ("W", d_W)):
        numeric = numeric_gradient(loop_then_an_effect_reads_its_temporary, {"h": h, "W": W}, name, 1e-6)
        np.testing.assert_allclose(gradient, numeric, rtol=1e-6, atol=1e-8)
