"""device="dask": the same generated code on dask arrays, the data chunked, the weights numpy arrays.

Every gradient is checked against float64 central finite differences of the original function on numpy (the
rule table, one shape case per entry), or against the numpy gradient (the examples' losses). Skipped where
dask is not installed.
"""

import sys
from pathlib import Path

import numpy as np
import pytest

da = pytest.importorskip("dask.array")

import sourcegrad  # noqa: E402
import test_primitives  # noqa: E402
from sourcegrad import SourcegradError  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))

rng = np.random.default_rng(18)

# Table entries that raise on dask, by table function name, and why: each raises an error (never a wrong
# gradient). Most are methods the user's own code calls on the array, which dask's arrays do not have or take
# differently; the function itself fails the same way on dask.
DASK_REFUSED = {
    "cumprod_method": "dask's Array.cumprod needs an axis",
    "cumsum_method": "dask's Array.cumsum needs an axis",
    "diagonal_method": "dask's arrays have no .diagonal()",
    "take_method": "dask's arrays have no .take()",
    "repeat_method": "dask's Array.repeat needs an axis",
    "flatten_method_order_f": "dask's Array.ravel takes no order",
    "dot_method": "dask's Array.dot of a 0-d array",
    "index_boolean_mask": "a boolean mask of a dask array has unknown chunk sizes",
    "index_integer_array_in_tuple": "dask does not index with several integer arrays",
    "index_by_nonzero_positions": "dask does not index with several integer arrays (np.nonzero's, one per axis)",
    "index_with_a_bool_literal": "dask reads x[True] as x[1] (numpy as x[None]): the function's own value differs",
    "index_with_a_bool_name": "dask reads x[True] as x[1] (numpy as x[None]): the function's own value differs",
    "ravel_order_a_of_transpose": "order 'A' follows memory layout, which dask arrays do not have",
    "ravel_order_k_of_transpose": "order 'K' follows memory layout, which dask arrays do not have",
    "select_default": "np.select's default broadcast to the choices' shape on dask",
    "item_of_a_sum": "a dask array has no .item(): the function itself fails on dask",
    **{name: "dask's arrays take no ufunc.accumulate: np.maximum.accumulate(x) on dask fails alike"
       for name in ("maximum_accumulate", "maximum_accumulate_axis_1", "maximum_accumulate_axis_minus_1_keyword",
                    "minimum_accumulate", "minimum_accumulate_axis_minus_1")},
    **{name: "dask's arrays take no ufunc.reduce: np.add.reduce(x) on dask fails alike (write np.sum, np.max)"
       for name in ("add_reduce", "add_reduce_axis_tuple_keepdims", "multiply_reduce", "multiply_reduce_all",
                    "maximum_reduce", "maximum_reduce_all", "maximum_reduce_axis_tuple_keepdims", "minimum_reduce",
                    "minimum_reduce_axis_minus_1_positional")},
    "clip_keyword_a": "dask's clip recurses without end given the array as a= (np.clip(a=x) on dask fails alike)",
}


def _last_cases():
    params = []
    for entry in test_primitives.TABLE:
        if not entry.xfail:
            case = entry.shapes[-1]
            params.append(pytest.param(entry, case, id=f"{entry.fn.__name__}-{case.id}"))
    return params


@pytest.mark.parametrize("entry, case", _last_cases())
def test_rule_table_on_dask_matches_finite_differences(entry, case, generated_dir):
    if entry.fn.__name__ in DASK_REFUSED:
        with pytest.raises(Exception):
            test_primitives.test_gradient_matches_finite_differences(entry, case, generated_dir, "dask")
        return
    test_primitives.test_gradient_matches_finite_differences(entry, case, generated_dir, "dask")


def _two_layer_data(n=400):
    x, y = rng.standard_normal((n, 20)), rng.standard_normal((n, 5))
    w1, w2 = rng.standard_normal((20, 30)) * 0.1, rng.standard_normal((30, 5)) * 0.1
    return x, y, w1, w2


def test_two_layer_gradient_on_chunked_data_is_numpys():
    from two_layer import loss_fn

    x, y, w1, w2 = _two_layer_data()
    f = sourcegrad.differentiate(loss_fn, wrt=("w1", "w2"))
    value, (d_w1, d_w2) = f.value_and_grad(x, y, w1, w2)
    chunked_x, chunked_y = da.from_array(x, chunks=(100, 20)), da.from_array(y, chunks=(100, 5))
    on_dask, (g1, g2) = f.value_and_grad(chunked_x, chunked_y, w1, w2)
    assert type(g1) is np.ndarray and type(g2) is np.ndarray  # computed, handed back as numpy
    assert on_dask == pytest.approx(value, rel=1e-12)
    np.testing.assert_allclose(g1, d_w1, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(g2, d_w2, rtol=1e-10, atol=1e-12)


def test_lazy_returns_dask_arrays_that_compute_to_the_gradient():
    from two_layer import loss_fn

    x, y, w1, w2 = _two_layer_data()
    f = sourcegrad.differentiate(loss_fn, wrt=("w1", "w2"))
    _, (d_w1, _) = f.value_and_grad(x, y, w1, w2)
    _, (g1, _) = f.value_and_grad(da.from_array(x, chunks=(100, 20)), da.from_array(y, chunks=(100, 5)), w1, w2,
                                  lazy=True)
    assert isinstance(g1, da.Array)
    np.testing.assert_allclose(g1.compute(), d_w1, rtol=1e-10, atol=1e-12)


def loss_with_a_data_dependent_branch_and_loop(w, x):
    h = np.tanh(x @ w)
    total = 0.0
    for _ in range(2):
        if h.sum() > 0:
            total = total + np.sum(h * h)
        else:
            total = total - np.sum(h)
        h = np.tanh(h @ w[:, :3].T @ w)
    return total


def test_branches_and_loops_on_dask_data_match_finite_differences():
    w, x = rng.standard_normal((4, 3)) * 0.5, rng.standard_normal((60, 4))
    assert sourcegrad.check_grad(loss_with_a_data_dependent_branch_and_loop, w, x, device="dask")


def test_dynamic_net_on_dask_is_numpys():
    import dynamic_net

    x, y, params = dynamic_net.make_data(seed=3)
    chunked_x, chunked_y = da.from_array(x, chunks=(16, x.shape[1])), da.from_array(y, chunks=(16, y.shape[1]))
    for depth in range(4):  # the middle layer shared 0 to 3 times
        value, expected = dynamic_net.loss_fn.value_and_grad(x, y, *params, depth)
        on_dask, got = dynamic_net.loss_fn.value_and_grad(chunked_x, chunked_y, *params, depth)
        assert on_dask == pytest.approx(value, rel=1e-12)
        for a, b in zip(got, expected):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def batch_in_a_dict(w, batch):
    return np.square(batch["x"] @ w).sum()


def batches_in_a_list(w, xs):
    s = 0.0
    for x in xs:
        s = s + np.square(x @ w).sum()
    return s


def test_dask_arrays_inside_dicts_and_lists_put_the_call_on_dask():
    x, w = np.arange(24.0).reshape(6, 4) / 10, np.ones((4, 2))
    chunked = da.from_array(x, chunks=2)
    for fn, data, plain in ((batch_in_a_dict, {"x": chunked}, {"x": x}), (batches_in_a_list, [chunked], [x])):
        f = sourcegrad.differentiate(fn, wrt="w")
        value, gradient = f.value_and_grad(w, data)
        assert type(gradient) is np.ndarray  # computed, as for a dask array passed alone
        expected_value, expected = f.value_and_grad(w, plain)
        np.testing.assert_allclose(gradient, expected)
        np.testing.assert_allclose(value, expected_value)
        assert isinstance(f.value_and_grad(w, data, lazy=True)[1], da.Array)


def test_into_is_refused_on_dask():
    from two_layer import loss_fn

    x, y, w1, w2 = _two_layer_data()
    f = sourcegrad.differentiate(loss_fn, wrt=("w1", "w2"))
    with pytest.raises(SourcegradError, match="into= is not supported on dask"):
        f.grad(da.from_array(x), da.from_array(y), w1, w2, into=(np.empty_like(w1), np.empty_like(w2)))


def test_device_dask_moves_numpy_arguments_into_the_graph():
    from two_layer import loss_fn

    x, y, w1, w2 = _two_layer_data()
    f = sourcegrad.differentiate(loss_fn, wrt="w1")
    np.testing.assert_allclose(f.grad(x, y, w1, w2, device="dask"), f.grad(x, y, w1, w2), rtol=1e-10, atol=1e-12)


def loss_with_one_data_dependent_branch(w, x):
    h = np.tanh(x @ w)
    if h.sum() > 0:
        return np.sum(h * h)
    return -np.sum(h)


def test_a_data_dependent_branch_is_computed_once_and_the_gradient_once():
    """The decision is kept as a Python bool, so the backward pass's `if` computes nothing: one computation for
    the condition, one for value and gradients together."""
    from dask.callbacks import Callback

    class CountComputations(Callback):
        count = 0

        def _start(self, dsk):
            CountComputations.count += 1

    w, x = rng.standard_normal((4, 3)) * 0.5, rng.standard_normal((60, 4))
    f = sourcegrad.differentiate(loss_with_one_data_dependent_branch)
    expected = f.grad(w, x)
    with CountComputations():
        got = f.grad(w, da.from_array(x, chunks=(20, 4)))
    assert CountComputations.count == 2
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_the_two_layer_gradient_stays_a_graph_until_it_is_computed():
    """lazy=True computes nothing: every operation of the generated code went to dask (none fell back to numpy's
    function on computed arrays)."""
    from dask.callbacks import Callback
    from two_layer import loss_fn

    class CountComputations(Callback):
        count = 0

        def _start(self, dsk):
            CountComputations.count += 1

    x, y, w1, w2 = _two_layer_data()
    f = sourcegrad.differentiate(loss_fn, wrt=("w1", "w2"))
    with CountComputations():
        value, (g1, g2) = f.value_and_grad(da.from_array(x, chunks=(100, 20)), da.from_array(y, chunks=(100, 5)),
                                           w1, w2, lazy=True)
    assert CountComputations.count == 0
    assert all(isinstance(v, da.Array) for v in (value, g1, g2))


def loss_of_a_boolean_mask_of_the_data(w, x):
    h = x @ w
    return np.sum(h[h > 0] ** 2)


def test_a_boolean_mask_of_the_data_gives_numpys_gradient():
    w, x = rng.standard_normal((4, 3)), rng.standard_normal((60, 4))
    f = sourcegrad.differentiate(loss_of_a_boolean_mask_of_the_data)
    np.testing.assert_allclose(f.grad(w, da.from_array(x, chunks=(20, 4))), f.grad(w, x), rtol=1e-10, atol=1e-12)


def loss_of_a_cumulative_sum_without_an_axis(w, x):
    return np.sum((x @ w).cumsum() ** 2)


def test_what_dask_cannot_do_on_chunked_data_is_a_sourcegrad_error_with_advice():
    w, x = rng.standard_normal((4, 3)), da.from_array(rng.standard_normal((60, 4)), chunks=(20, 4))
    with pytest.raises(SourcegradError, match="on dask") as info:
        sourcegrad.grad(loss_of_a_cumulative_sum_without_an_axis)(w, x)
    assert "give cumsum and cumprod an axis" in str(info.value)


def loss_of_rows_walked_one_by_one(w, x):
    total = 0.0
    for row in x:
        total = total + np.sum(np.tanh(row @ w))
    return total


def loss_of_rows_of_two_arrays_walked_together(w, x):
    scaled = x * 2.0
    total = 0.0
    for row, other in zip(scaled, x):
        total = total + np.sum(np.tanh(row @ w) * other[0])
    return total


@pytest.mark.parametrize("loss", [loss_of_rows_walked_one_by_one, loss_of_rows_of_two_arrays_walked_together])
def test_a_loop_over_the_rows_of_dask_data_is_refused_at_the_loop(loss):
    w, x = rng.standard_normal((4, 3)), rng.standard_normal((60, 4))
    f = sourcegrad.differentiate(loss)
    assert sourcegrad.check_grad(loss, w, x)  # on numpy the loop is fine
    chunked = da.from_array(x, chunks=(20, 4))
    with pytest.raises(SourcegradError, match="row by row") as info:
        f.grad(w, chunked)
    error = info.value
    assert error.location.text.strip().startswith("for ") and "rows at once" in str(error)
    with pytest.raises(SourcegradError, match="row by row"):
        f.jvp((w, chunked), (np.ones_like(w),))


def loss_of_weights_walked_beside_dask_data(w, x, layers):
    h = x
    for layer in layers:  # a list of numpy weights
        h = np.tanh(h @ layer)
    for column in w.T:  # the rows of a numpy weight
        h = h + np.sum(column)
    for i in range(2):
        h = h * x[i, 0]
    return np.sum(h @ w)


def test_loops_over_weights_and_ranges_run_on_dask_data():
    w, x = rng.standard_normal((4, 3)), rng.standard_normal((60, 4))
    layers = [rng.standard_normal((4, 4)) * 0.5 for _ in range(3)]
    f = sourcegrad.differentiate(loss_of_weights_walked_beside_dask_data, wrt=("w", "layers"))
    expected = f.grad(w, x, layers)
    on_dask = f.grad(w, da.from_array(x, chunks=(20, 4)), layers)
    np.testing.assert_allclose(on_dask[0], expected[0], rtol=1e-10, atol=1e-12)
    for got, want in zip(on_dask[1], expected[1]):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def penalty_then_data(w, x):
    return (w * w).sum() + (x * w).sum()


def test_a_gradient_from_a_weights_only_term_and_the_data_stays_in_the_graph():
    """The penalty's gradient (from the weights alone) and the data's add up to one dask array, computed only on
    request: the weights join the data's graph, and the backward pass starts from the graph's own 1."""
    w, x = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    f = sourcegrad.differentiate(penalty_then_data, wrt="w")
    value, gradient = f.value_and_grad(w, da.from_array(x, chunks=2), lazy=True)
    assert isinstance(value, da.Array) and isinstance(gradient, da.Array)
    np.testing.assert_allclose(gradient.compute(), 2 * w + x)


def constant_weights_plus_data(v, x):
    c = np.array([1.0, 2.0, 3.0, 4.0]).reshape(4)  # a numpy constant of the function's own, never in the graph
    return (x * v).sum() + c @ v


def test_a_term_of_a_numpy_constant_beside_the_data_stays_in_the_graph():
    v, x = rng.standard_normal(4), rng.standard_normal(4)
    f = sourcegrad.differentiate(constant_weights_plus_data, wrt="v")
    value, gradient = f.value_and_grad(v, da.from_array(x, chunks=2), lazy=True)
    assert isinstance(gradient, da.Array)
    np.testing.assert_allclose(gradient.compute(), x + np.arange(1.0, 5.0))


def logistic_loss(w, x, y, l2):
    margins = y * (x @ w)
    return np.logaddexp(0.0, -margins).mean() + 0.5 * l2 * (w * w).sum()


def test_a_hessian_vector_product_over_dask_data_is_numpys():
    """The weights are numpy arrays and the data a dask array: the backward pass of the product starts in the
    graph, so the penalty's part (from the weights alone) and the data's part add up."""
    x, y = rng.standard_normal((50, 4)), np.sign(rng.standard_normal(50))
    w, v = rng.standard_normal(4), rng.standard_normal(4)
    f = sourcegrad.differentiate(logistic_loss, wrt="w")
    expected = f.hvp((w, x, y, 0.1), v)
    np.testing.assert_allclose(np.asarray(f.hvp((w, da.from_array(x, chunks=10), y, 0.1), v)), expected,
                               rtol=1e-10, atol=1e-14)
