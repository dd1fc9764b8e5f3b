"""Forward mode (sourcegrad.jvp, f.jvp) and sourcegrad.jacobian: derivatives along tangents, checked against
float64 central finite differences of the original function, through loops, branches and helpers.

The rule-by-rule checks of the tangent rules live with the gradient rules' table (test_primitives.py).
"""

import zlib

import numpy as np
import pytest

import sourcegrad
from sourcegrad import SourcegradError, d
from test_python_builtins import max_and_min_of_a_list_built_in_a_loop, max_and_min_of_several
from test_structures import UNPACKINGS

EPS = 1e-6


def directional_difference(f, args, tangents):
    """(f(args + eps t) - f(args - eps t)) / 2 eps, where tangents has one entry per argument (None: held)."""
    def moved(sign):
        return [a if t is None else a + sign * EPS * t for a, t in zip(args, tangents)]

    return (np.asarray(f(*moved(1))) - np.asarray(f(*moved(-1)))) / (2 * EPS)


# ---- programs ------------------------------------------------------------------------------------------


def straight_line(x, w, b):
    h = np.tanh(x @ w + b)
    return (h * h).sum()


def broadcast_add_with_one_tangent(x, b):
    return np.sin(x + b)  # b's tangent alone has b's shape: the result's is x's


def accumulator_made_without_tangent(x, w, n):
    s = np.zeros_like(x)
    for i in range(n):
        s = s + np.sin(x * w) * (i + 1)
    return s.sum()


def loop_carried_with_branch(x, w, n):
    h = x
    for i in range(n):
        h = np.tanh(h @ w)
        if h.sum() > 0:
            h = h * 2.0
        else:
            h = h - 0.5
    return h.sum()


def while_loop(x, w):
    h = x
    steps = 0
    while np.abs(h).sum() < 50 and steps < 20:
        h = h * w + 1.0
        steps += 1
    return h.sum()


def rows_of_an_argument(X, w):
    total = 0.0
    for row in X:
        total = total + np.tanh(row @ w).sum()
    return total


def enumerate_rows(X, w):
    total = 0.0
    for i, row in enumerate(X):
        total = total + (i + 1) * np.exp(row * w).sum()
    return total


def zip_of_two_sequences(X, Y, w):
    total = 0.0
    for a, b in zip(X, Y):
        total = total + (a * w - b) ** 2
    return total.sum()


def element_writes(x, w):
    out = np.zeros(3)
    for i in range(3):
        out[i] = (x[i] * w).sum()
    return out


def stores_into_integer_and_boolean_arrays(x, w):
    # numpy truncates what an integer or boolean array stores: a small step in x or w changes nothing stored there
    counts = np.zeros(3, dtype=int)
    counts[0] = x[0] * 3.0 + w[0]
    flags = np.zeros(3, dtype=bool)
    flags[1:] = x[1:] * w[1:]
    kept = np.zeros(3)
    kept[:2] = x[:2] * w[2]
    return np.sum(counts * x) + np.sum(flags * w) + np.sum(kept ** 2)


def stacked_list_display(x, w):
    a = x * w
    b = np.exp(x)
    return np.stack([a, b, x], axis=0).sum(axis=0)


def helper_layer(h, w):
    return np.maximum(h @ w, 0)


def calls_a_helper(x, w1, w2):
    h = helper_layer(x, w1)
    h = helper_layer(h, w2)
    return h.mean()


def break_out_of_loop(x, w):
    h = x
    for i in range(10):
        h = np.sin(h * w)
        if i == 3:
            break
    return h


def nested_loops(x, w):
    h = x
    for i in range(2):
        for j in range(3):
            h = h + np.cos(h * w) / (j + 1)
    return h.sum()


def rng_for(name):
    # crc32, not hash(): str hashes differ from one process to the next, and so would the inputs
    return np.random.default_rng(zlib.crc32(name.encode()))


def enumerate_rows_from_a_start(X, w):
    total = 0.0
    for i, row in enumerate(X, start=2):
        total = total + np.tanh(row @ w).sum() * i
    return total


def reads_a_dict_it_builds(x, w):
    p = {"a": x * w, "b": np.sin(x)}
    return np.sum(p["a"] ** 2) + np.sum(p["b"] * w)


def scaled_and_sine(x, w):
    return x * w, np.sin(x)


def reads_a_helpers_tuple_result_by_index(x, w):
    # the helper returns two values; the call's result is their tuple, indexed and walked as any tuple is
    total = np.sum(scaled_and_sine(x, w)[0] ** 2)
    for part in scaled_and_sine(x, w):
        total = total + np.sum(part * w)
    return total + np.sum(np.stack(scaled_and_sine(w, x)) ** 2)


def arithmetic_with_lists_of_numbers(x, w):
    # x and w are arrays: numpy multiplies and adds the numbers elementwise (no list is repeated or joined)
    return np.sum(x * [1.0, 2.0, 3.0] + [0.5, 0.5, 0.5] - w ** 2 / [2.0, 4.0, 8.0] + (x @ [1.0, -1.0, 0.5]) * w)


def lists_built_by_append_and_a_comprehension(x, w):
    outs = []
    h = x
    for _ in range(3):
        h = np.tanh(h * w)
        outs.append(h)
    scaled = [row * (i + 1) for i, row in enumerate(outs)]
    return np.sum(np.stack(scaled) ** 2) + np.sum(np.concatenate(outs + [x * w]))



def reads_a_dict_by_get_before_the_loop_writes_it(x, w):
    seen = {}
    h = x
    for _ in range(3):
        if seen.get("last") is not None:  # None in the first step only
            h = h + seen["last"]
        h = np.tanh(h * w)
        seen["last"] = h
    return np.sum(h ** 2)


def sums_states_kept_by_step(x, w):
    states = {}
    h = x
    for t in range(3):
        h = np.tanh(h * w)
        states[t] = h
    total = 0.0
    for t in reversed(states):
        total = total * 0.5 + np.sum(states[t] * x)
    return total + np.sum(sum(states.values()) ** 2)


def keeps_a_list_under_a_key(x, w):
    d = {}
    d["hs"] = [x * w, np.sin(x)]
    d["hs"] = d["hs"] + [d["hs"][0] * d["hs"][1]]
    return sum(np.sum(h ** 2) for h in d["hs"])


def adds_into_a_dicts_own_entries(x, w):
    stats = {"loss": 0.0}
    acc = {"g": np.zeros(3)}
    for i in range(2):
        acc["g"] += w * x
        stats["loss"] += np.sum(acc["g"] ** 2) * (i + 1)
    return stats["loss"]


def walks_a_dict_made_in_either_branch(x, w):
    if np.sum(x) > 0:
        d = {"a": np.tanh(x * w)}
    else:
        d = {"a": x, "b": np.sin(w) * x}
    d["c"] = x * x
    total = 0.0
    for k, v in d.items():
        total = total + np.sum(v * w)
    for k in reversed(d):
        total = total * 0.5 + np.sum(d[k] ** 2)
    return total + np.sum(sum(d.values()) * x)


def adds_into_an_entry_after_a_loop_wrote_other_keys(x, w):
    d = {"a": x * 1.0}
    for i in range(3):
        d[f"k{i}"] = np.sin(x * w) * i
    d["a"] += w * d["k2"]
    return np.sum(d["a"] ** 2)


def _quaternion_product(a, b):
    w1, x1, y1, z1 = a  # a unit quaternion, by its components
    w2, x2, y2, z2 = b
    return np.array([w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
                     w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
                     w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
                     w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2])


def rotates_by_a_unit_quaternion(q, v):
    q = q / np.linalg.norm(q)
    rotated = _quaternion_product(_quaternion_product(q, np.concatenate([[0.0], v])), q * np.array([1.0, -1, -1, -1]))
    return np.sum(rotated[1:] ** 2 * np.array([1.0, 2.0, 3.0]))


def unpacks_rows_of_unit_columns(M):
    first, second = M / np.linalg.norm(M, axis=0)
    return np.sum(first * second ** 2)


CASES = [
    (rotates_by_a_unit_quaternion, lambda r: (r.standard_normal(4), r.standard_normal(3)), (0, 1)),
    (unpacks_rows_of_unit_columns, lambda r: (r.standard_normal((2, 3)),), (0,)),
    (straight_line, lambda r: (r.standard_normal((4, 3)), r.standard_normal((3, 2)), r.standard_normal(2)), (1, 2)),
    (straight_line, lambda r: (r.standard_normal((4, 3)), r.standard_normal((3, 2)), r.standard_normal(2)), (0,)),
    (broadcast_add_with_one_tangent, lambda r: (r.standard_normal((4, 3)), r.standard_normal(3)), (1,)),
    (broadcast_add_with_one_tangent, lambda r: (r.standard_normal((4, 3)), r.standard_normal((4, 1))), (0, 1)),
    (accumulator_made_without_tangent, lambda r: (r.standard_normal(5), r.standard_normal(5), 3), (1,)),
    (loop_carried_with_branch, lambda r: (r.standard_normal((2, 3)), 0.5 * r.standard_normal((3, 3)), 4), (0, 1)),
    (while_loop, lambda r: (r.uniform(0.5, 1, 3), r.uniform(1.2, 1.5, 3)), (0, 1)),
    (rows_of_an_argument, lambda r: (r.standard_normal((4, 3)), r.standard_normal(3)), (0, 1)),
    (rows_of_an_argument, lambda r: (r.standard_normal((4, 3)), r.standard_normal(3)), (1,)),
    (enumerate_rows, lambda r: (r.standard_normal((4, 3)), 0.3 * r.standard_normal(3)), (0, 1)),
    (zip_of_two_sequences, lambda r: (r.standard_normal((4, 3)), r.standard_normal((4, 3)), r.standard_normal(3)),
     (0, 2)),
    (element_writes, lambda r: (r.standard_normal((3, 2)), r.standard_normal(2)), (0, 1)),
    (stores_into_integer_and_boolean_arrays, lambda r: (np.array([0.37, -1.21, 0.83]) + 0.01 * r.standard_normal(3),
                                                        np.array([0.45, 0.9, -0.6]) + 0.01 * r.standard_normal(3)),
     (0, 1)),
    (stacked_list_display, lambda r: (r.standard_normal(4), r.standard_normal(4)), (0, 1)),
    (stacked_list_display, lambda r: (r.standard_normal(4), r.standard_normal(4)), (1,)),
    (calls_a_helper, lambda r: (r.standard_normal((4, 3)), r.standard_normal((3, 5)), r.standard_normal((5, 2))),
     (1, 2)),
    (break_out_of_loop, lambda r: (r.standard_normal(3), r.standard_normal(3)), (0, 1)),
    (nested_loops, lambda r: (r.standard_normal(3), r.standard_normal(3)), (1,)),
    (reads_a_helpers_tuple_result_by_index, lambda r: (r.standard_normal(3), r.standard_normal(3)), (0, 1)),
    (arithmetic_with_lists_of_numbers, lambda r: (r.standard_normal(3), r.standard_normal(3)), (0, 1)),
    (reads_a_dict_it_builds, lambda r: (r.standard_normal(3), r.standard_normal(3)), (0, 1)),
    (enumerate_rows_from_a_start, lambda r: (r.standard_normal((4, 3)), 0.3 * r.standard_normal(3)), (0, 1)),
    (lists_built_by_append_and_a_comprehension, lambda r: (r.standard_normal(3), r.standard_normal(3)), (0, 1)),
    (lists_built_by_append_and_a_comprehension, lambda r: (r.standard_normal(3), r.standard_normal(3)), (1,)),
    *[(fn, lambda r: (r.standard_normal(3),), (0,)) for fn in UNPACKINGS],
    (max_and_min_of_several, lambda r: (np.array([0.3, 0.5, -0.2]) + 0.01 * r.standard_normal(3),), (0,)),
    (max_and_min_of_a_list_built_in_a_loop, lambda r: (np.array([0.3, 0.5, -0.2]) + 0.01 * r.standard_normal(3),), (0,)),
    (reads_a_dict_by_get_before_the_loop_writes_it, lambda r: (r.standard_normal(3), r.standard_normal(3)), (0, 1)),
    (sums_states_kept_by_step, lambda r: (r.standard_normal(3), r.standard_normal(3)), (0, 1)),
    (keeps_a_list_under_a_key, lambda r: (r.standard_normal(3), r.standard_normal(3)), (0, 1)),
    (adds_into_a_dicts_own_entries, lambda r: (r.standard_normal(3), r.standard_normal(3)), (0, 1)),
    (walks_a_dict_made_in_either_branch, lambda r: (np.abs(r.standard_normal(3)), r.standard_normal(3)), (0, 1)),
    (walks_a_dict_made_in_either_branch, lambda r: (-np.abs(r.standard_normal(3)), r.standard_normal(3)), (0, 1)),
    (adds_into_an_entry_after_a_loop_wrote_other_keys, lambda r: (r.standard_normal(3), r.standard_normal(3)), (0, 1)),
]


@pytest.mark.parametrize("fn, make_args, positions", CASES,
                         ids=[f"{fn.__name__}-{'_'.join(map(str, p))}" for fn, _, p in CASES])
def test_jvp_matches_finite_differences(fn, make_args, positions, tmp_path):
    rng = rng_for(fn.__name__ + str(positions))
    args = make_args(rng)
    tangents = [rng.standard_normal(np.shape(a)) if i in positions else None for i, a in enumerate(args)]
    value, tangent = sourcegrad.jvp(sourcegrad.differentiate(fn, wrt=positions, generated_dir=tmp_path),
                                    args, [t for t in tangents if t is not None])
    np.testing.assert_allclose(value, fn(*args), rtol=1e-12)
    expected = directional_difference(fn, args, tangents)
    assert np.shape(tangent) == np.shape(expected)
    np.testing.assert_allclose(tangent, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("fn, make_args, positions", [c for c in CASES if np.ndim(c[0](*c[1](rng_for("x")))) == 0],
                         ids=lambda v: getattr(v, "__name__", None))
def test_jvp_of_a_scalar_is_the_gradient_along_the_tangent(fn, make_args, positions, tmp_path):
    rng = rng_for(fn.__name__)
    args = make_args(rng)
    f = sourcegrad.differentiate(fn, wrt=positions, generated_dir=tmp_path)
    tangents = [rng.standard_normal(np.shape(args[p])) for p in positions]
    _, tangent = f.jvp(args, tangents)
    gradients = f.grad(*args)
    gradients = gradients if isinstance(gradients, tuple) else (gradients,)
    expected = sum(float(np.sum(g * t)) for g, t in zip(gradients, tangents))
    np.testing.assert_allclose(tangent, expected, rtol=1e-10, atol=1e-10)


def test_functional_jvp_takes_a_tangent_per_primal_with_none_for_data(tmp_path):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    v = rng.standard_normal(w.shape)
    value, tangent = sourcegrad.jvp(straight_line, (x, w, np.zeros(2)), (None, v, None), generated_dir=tmp_path)
    np.testing.assert_allclose(tangent, directional_difference(straight_line, (x, w, np.zeros(2)), (None, v, None)),
                               rtol=1e-6, atol=1e-7)


def test_jvp_keeps_float32(tmp_path):
    rng = np.random.default_rng(1)
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in ((4, 3), (3, 2), (2,)))
    f = sourcegrad.differentiate(straight_line, wrt=("w", "b"), generated_dir=tmp_path)
    value, tangent = f.jvp((x, w, b), (np.ones_like(w), np.ones_like(b)))
    assert tangent.dtype == np.float32 and value.dtype == np.float32


@pytest.mark.parametrize("fn", [accumulator_made_without_tangent, lists_built_by_append_and_a_comprehension,
                                rows_of_an_argument])
def test_jvp_keeps_float32_through_values_made_without_a_tangent(fn, tmp_path):
    # `s = 0.0`, `outs = []`: their zero tangents must not widen the float32 ones they meet
    rng = rng_for("float32" + fn.__name__)
    args = tuple(a.astype(np.float32) if isinstance(a, np.ndarray) else a for a in dict(
        (c[0], c[1]) for c in CASES)[fn](rng))
    f = sourcegrad.differentiate(fn, wrt=1, generated_dir=tmp_path)
    value, tangent = f.jvp(args, np.ones_like(args[1]))
    assert np.asarray(value).dtype == np.float32 and np.asarray(tangent).dtype == np.float32


def transposed(x):
    return x.T


def test_jvp_hands_out_a_tangent_of_its_own_never_the_callers(tmp_path):
    x, v = np.arange(6.0).reshape(2, 3), np.ones((2, 3))
    _, tangent = sourcegrad.differentiate(transposed, generated_dir=tmp_path).jvp((x,), v)
    np.testing.assert_array_equal(tangent, v.T)
    assert not np.shares_memory(tangent, v)
    tangent[0, 0] = 5.0
    assert v[0, 0] == 1.0


def test_jvp_with_has_aux_returns_the_pair_as_the_value(tmp_path):
    def loss(w):
        h = np.sin(w)
        return h.sum(), {"peak": h.max()}

    f = sourcegrad.differentiate(loss, has_aux=True, generated_dir=tmp_path)
    w, v = np.linspace(0, 1, 4), np.ones(4)
    (value, aux), tangent = f.jvp((w,), v)
    assert value == pytest.approx(np.sin(w).sum()) and aux["peak"] == pytest.approx(np.sin(1.0))
    assert tangent == pytest.approx(np.cos(w).sum())


def test_output_that_does_not_depend_on_wrt_has_a_zero_tangent(tmp_path):
    def f(x, w):
        return x * 2.0

    value, tangent = sourcegrad.differentiate(f, wrt="w", generated_dir=tmp_path).jvp((np.ones(3), np.ones(3)), np.ones(3))
    assert np.array_equal(tangent, np.zeros(3))


# ---- the generated file -------------------------------------------------------------------------------------


def test_generated_jvp_file_cites_each_line_and_is_written_once(tmp_path):
    f = sourcegrad.differentiate(straight_line, wrt=("w",), generated_dir=tmp_path)
    args = (np.ones((2, 3)), np.ones((3, 2)), np.ones(2))
    f.jvp(args, np.ones((3, 2)))
    files = sorted(tmp_path.glob("*jvp*.py"))
    assert len(files) == 1 and "__jvp_w__" in files[0].name
    text = files[0].read_text()
    assert "Forward-mode derivative of straight_line" in text
    assert "# test_forward_mode.py:" in text and "h = np.tanh(x @ w + b)" in text
    assert "def straight_line_jvp(xp, x, w, b, *, d_w):" in text
    assert f.forward_source == text
    first = text
    sourcegrad.differentiate(straight_line, wrt=("w",), generated_dir=tmp_path).jvp(args, np.ones((3, 2)))
    assert files[0].read_text() == first  # the same code, taken from the file


# ---- mistakes -------------------------------------------------------------------------------------------


def test_wrong_number_of_tangents_is_refused(tmp_path):
    f = sourcegrad.differentiate(straight_line, wrt=("w", "b"), generated_dir=tmp_path)
    with pytest.raises(SourcegradError, match="2 wrt arguments"):
        f.jvp((np.ones((2, 3)), np.ones((3, 2)), np.ones(2)), (np.ones((3, 2)),))


def test_tangent_of_another_shape_is_refused(tmp_path):
    f = sourcegrad.differentiate(straight_line, wrt="w", generated_dir=tmp_path)
    with pytest.raises(SourcegradError, match=r"tangent of w has shape \(2, 3\)"):
        f.jvp((np.ones((2, 3)), np.ones((3, 2)), np.ones(2)), np.ones((2, 3)))


def sine_weighted(x):
    return np.sum(np.sin(x) * x)


def test_primals_given_bare_rather_than_as_a_tuple_are_refused(tmp_path):
    # a bare array would otherwise be split into its rows, one argument each
    f = sourcegrad.differentiate(sine_weighted, generated_dir=tmp_path)
    for method in (f.jvp, f.hvp, lambda x, v: sourcegrad.jvp(sine_weighted, x, (v,))):
        with pytest.raises(SourcegradError, match=r"as a tuple, but got a ndarray"):
            method(np.array([0.5, 1.0]), np.ones(2))


def test_a_number_is_the_tangent_of_a_0d_array(tmp_path):
    f = sourcegrad.differentiate(sine_weighted, generated_dir=tmp_path)
    x = np.array(0.5)
    value, tangent = f.jvp((x,), 2.0)
    assert value == pytest.approx(np.sin(0.5) * 0.5)
    assert tangent == pytest.approx(2.0 * (np.cos(0.5) * 0.5 + np.sin(0.5)))
    assert f.hvp((x,), 2.0) == pytest.approx(2.0 * (2 * np.cos(0.5) - 0.5 * np.sin(0.5)))


def magnitude_of_products(x, w):
    return np.sum(np.abs(x * w))


@pytest.mark.parametrize("derivative", [
    lambda x, w: sourcegrad.differentiate(magnitude_of_products, wrt="w").jvp((x, w), np.ones(3)),
    lambda x, w: sourcegrad.jvp(magnitude_of_products, (x, w), (None, np.ones(3))),
    lambda x, w: sourcegrad.jacobian(magnitude_of_products, wrt="w", mode="forward")(x, w),
], ids=["method_jvp", "functional_jvp", "forward_jacobian"])
def test_complex_data_reaching_a_forward_derivative_is_refused(derivative):
    x, w = np.array([1.0 + 2.0j, 0.5 - 1.0j, 2.0j]), np.array([0.3, -0.7, 1.1])
    with pytest.raises(SourcegradError, match="a derivative came out complex"):
        derivative(x, w)


def my_softplus(x):
    return np.log1p(np.exp(x))


@sourcegrad.adjoint(my_softplus)
def my_softplus_adjoint(result, x):
    d[x] = d[result] / (1 + np.exp(-x))


def uses_a_function_with_only_a_gradient_rule(w):
    return my_softplus(w).sum()


def test_primitive_without_a_forward_rule_is_refused_at_its_line(tmp_path):
    f = sourcegrad.differentiate(uses_a_function_with_only_a_gradient_rule, generated_dir=tmp_path)
    assert f.grad(np.zeros(2)) == pytest.approx([0.5, 0.5])
    with pytest.raises(SourcegradError, match="no forward-mode rule for") as raised:
        f.jvp((np.zeros(2),), np.ones(2))
    assert "test_forward_mode.py" in str(raised.value) and "return my_softplus(w).sum()" in str(raised.value)


# ---- jacobian ---------------------------------------------------------------------------------------------


def layer(x, w):
    return np.tanh(x @ w)


@pytest.mark.parametrize("mode", ["forward", "reverse", "auto"])
def test_jacobian_matches_finite_differences_in_every_mode(mode, tmp_path):
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    jac = sourcegrad.jacobian(sourcegrad.differentiate(layer, wrt=("x", "w"), generated_dir=tmp_path), mode=mode)
    d_x, d_w = jac(x, w)
    assert d_x.shape == (2, 4, 2, 3) and d_w.shape == (2, 4, 3, 4)
    for i in np.ndindex(w.shape):
        e = np.zeros_like(w)
        e[i] = 1
        np.testing.assert_allclose(d_w[(...,) + i], directional_difference(layer, (x, w), (None, e)), atol=1e-7)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = 1
        np.testing.assert_allclose(d_x[(...,) + i], directional_difference(layer, (x, w), (e, None)), atol=1e-7)


def test_jacobian_of_one_argument_is_one_array(tmp_path):
    jac = sourcegrad.jacobian(sourcegrad.differentiate(layer, wrt="w", generated_dir=tmp_path))
    x, w = np.ones((1, 2)), np.full((2, 2), 0.1)
    d_w = jac(x, w)
    assert isinstance(d_w, np.ndarray) and d_w.shape == (1, 2, 2, 2)


def test_jacobian_refuses_an_unknown_mode():
    with pytest.raises(SourcegradError, match="no mode 'sideways'"):
        sourcegrad.jacobian(layer, mode="sideways")


def cubic_sum(a):
    return (a ** 3 + 2 * a).sum()


@pytest.mark.parametrize("primal", [np.array([1, 2]), np.array([1.0, 2.0], np.float32)], ids=["int64", "float32"])
def test_a_tangent_keeps_a_float_dtype_its_primals_own_when_that_is_a_float(primal):
    """An integer primal's tangent is a float (0.5 cast to the primal's int64 would be 0, and the derivative
    with it); a float32 primal's tangent stays float32."""
    tangent = np.array([0.5, 0.5])
    expected_jvp = float(np.sum((3 * primal.astype(float) ** 2 + 2) * tangent))
    _, directional = sourcegrad.jvp(cubic_sum, (primal,), (tangent,))
    np.testing.assert_allclose(directional, expected_jvp, rtol=1e-6)
    product = sourcegrad.hvp(cubic_sum)((primal,), tangent)
    np.testing.assert_allclose(product, 6 * primal.astype(float) * tangent, rtol=1e-6)
    assert np.result_type(product) == (np.float32 if primal.dtype == np.float32 else np.float64)


class Holder:
    def __init__(self, w):
        self.w = w


def reads_an_object_only_to_decide(x, holder):
    if holder.w.sum() > 0:
        return np.sum(np.sin(x))
    return np.sum(np.cos(x))


def test_an_objects_tangent_is_a_dict_of_its_attributes():
    f = sourcegrad.differentiate(reads_an_object_only_to_decide, wrt=("x", "holder"))
    x, holder = np.array([1.0, 2.0]), Holder(np.array([0.5, 1.0]))
    for tangent in ({"w": np.ones(2)}, {}, None):  # the object is read only to decide: its tangent moves nothing
        value, derivative = f.jvp((x, holder), (np.ones(2), tangent))
        np.testing.assert_allclose(derivative, np.sum(np.cos(x)))
    with pytest.raises(SourcegradError, match="holder holds no v") as info:
        f.jvp((x, holder), (np.ones(2), {"v": np.ones(2)}))
    assert "(w)" in str(info.value)  # what it holds
    _, derivative = f.jvp((x, holder), (np.ones(2), {"w": [1.0, 1.0]}))  # a list of numbers for an array
    np.testing.assert_allclose(derivative, np.sum(np.cos(x)))


def test_hessian_and_forward_jacobian_of_an_object_are_refused_with_what_to_take_instead():
    x, holder = np.array([1.0, 2.0]), Holder(np.array([0.5, 1.0]))
    with pytest.raises(SourcegradError, match="take arrays or numbers as their wrt arguments; holder is a Holder"):
        sourcegrad.hessian(reads_an_object_only_to_decide, wrt="holder")(x, holder)
    with pytest.raises(SourcegradError, match="Take hvp"):
        sourcegrad.jacobian(reads_an_object_only_to_decide, wrt="holder", mode="forward")(x, holder)


class TanhLayer:
    def __init__(self, w, b):
        self.w, self.b, self.depth, self.name = w, b, 2, "layer"

    def __call__(self, x):
        h = x @ self.w + self.b
        for _ in range(self.depth):
            h = np.tanh(h)
        return h


def layer_loss(layer, x):
    return np.sum(layer(x) ** 2)


def test_jvp_and_hvp_of_an_object_argument_match_its_gradient():
    rng = np.random.default_rng(5)
    layer, x = TanhLayer(rng.standard_normal((3, 2)), rng.standard_normal(2)), rng.standard_normal((4, 3))
    f = sourcegrad.differentiate(layer_loss)
    gradient = f.grad(layer, x)
    tangent = {"w": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)}
    _, derivative = f.jvp((layer, x), tangent)
    np.testing.assert_allclose(derivative, np.sum(gradient["w"] * tangent["w"]) + np.sum(gradient["b"] * tangent["b"]))
    product = f.hvp((layer, x), tangent)

    def moved(eps):  # the gradient at the layer moved along the tangent
        return f.grad(TanhLayer(layer.w + eps * tangent["w"], layer.b + eps * tangent["b"]), x)

    ahead, behind = moved(1e-5), moved(-1e-5)
    for key in ("w", "b"):
        np.testing.assert_allclose(product[key], (ahead[key] - behind[key]) / 2e-5, rtol=1e-5, atol=1e-6)


def keyword_only_cube(a, *, x):
    return np.sum(a * x ** 3)


@pytest.mark.parametrize("derivative", [sourcegrad.hessian, sourcegrad.jacobian])
def test_hessian_and_jacobian_refuse_arguments_given_by_keyword(derivative):
    with pytest.raises(SourcegradError, match="by position") as info:
        derivative(keyword_only_cube, wrt="x")(np.ones(2), x=np.array([1.0, 2.0]))
    assert "def " in info.value.hint
