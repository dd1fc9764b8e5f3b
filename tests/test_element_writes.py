"""Writing into an array the function made, `a[index] = value` and `a[index] += value`: the front end writes
each as a new version of the array (ir.SET_ITEM, `xp.set_item`), so the gradient of the value is the result's
gradient at index and what was overwritten gets none. Checked against float64 finite differences, in loops
and branches, with broadcasting values, slices, masks and float32; writes into arrays the function does not
own are refused."""

import numpy as np
import pytest

import sourcegrad
from sourcegrad import SourcegradError
from test_forward_mode import reads_a_dict_by_get_before_the_loop_writes_it, stores_into_integer_and_boolean_arrays

W3 = np.random.default_rng(0).standard_normal((3, 3)) * 0.5


def fill_rows_in_a_loop(W, x, T):
    h = np.zeros((T + 1, W.shape[0]))
    h[0] = x
    for t in range(T):
        h[t + 1] = np.tanh(W @ h[t])
    return np.sum(h ** 2)


def slices_masks_and_an_augmented_write(x):
    a = np.zeros((3, 4))
    a[1:3] = x * 2.0
    a[0, :2] = x[0, 1:3]
    a[a > 1.0] = 1.0
    a[:, 1] += x[1, 0]
    return np.sum(a * np.arange(12).reshape(3, 4))


def a_scalar_broadcast_into_a_row(x, s):
    a = x * 1.0
    a[1] = s
    return np.sum(a ** 2 * np.arange(a.size).reshape(a.shape))


def written_in_a_branch(x, c):
    a = x * 1.0
    if c > 0:
        a[0] = np.sin(x[1])
    else:
        a[1] = a[0] * 3.0
    return np.sum(a ** 2)


def written_with_a_computed_index(x):
    a = np.zeros(5)
    for i in range(x.shape[0]):
        a[(2 * i + 1) % 5] = x[i] ** 2
    return np.sum(a * np.arange(1.0, 6.0))


def stores_into_an_array_of_the_dtype_of_data(x, like):
    # the array takes the dtype of data passed in: integers truncate the stored values, floats keep them; one
    # gradient compiled for both (a gradient is compiled per rank, not per dtype)
    a = np.zeros_like(like)
    for i in range(3):
        a[i] = x[i] * 7.0
    return np.sum(a * x)


def a_copy_of_the_argument_written(x):
    a = x.copy()
    a[0] = 0.0
    return np.sum(a ** 3)


def sweeps_after_reading_its_length(b, u0):
    # len(u) and u.shape are numbers: reading them shares no array, so u is still the function's own to write into
    u = u0.copy()
    for i in range(1, len(u) - 1):
        u[i] = 0.5 * (u[i - 1] + u[i + 1] + b[i])
    u[u.shape[0] - 1] = u[0] * b[0]
    return np.sum(u * u)


def writes_through_index_arrays_on_two_axes(x):
    # (0, 0) and (1, 0): two distinct positions, though each index array alone repeats a value
    z = np.zeros((2, 3))
    z[[0, 1], [0, 0]] = x[:2]
    return np.sum(z * np.arange(1.0, 7.0).reshape(2, 3))


def integrates_a_state_read_as_numbers(k, s0):
    # s[0] and s[1] of a vector are numbers, not views: writing into s afterwards changes neither
    s = s0 * 1.0
    for _ in range(4):
        x, v = s[0], s[1]
        s[0] = x + 0.1 * v
        s[1] = v - 0.1 * k * x
    return s[0] ** 2 + s[1]


def unpacks_numbers_then_writes(x):
    s = x * 2.0
    a, b = s  # the items of a vector: numbers
    s[0] = a * b
    return np.sum(s ** 2) + a


def written_after_a_test_of_an_element(x):
    h = x * 2.0
    if h[0] > 0:
        h[1] = h[0] * 3.0
    return np.sum(h ** 2)


def reads_an_element_of_a_matrix_then_writes(x):
    h = x * 1.0
    a = h[0, 1]
    last = h.shape[0] - 1
    h[last, -1] = a * 2.0
    return np.sum(h ** 2) + a


def writes_into_a_flattened_copy(x, w):
    a = w.flatten()  # always a copy: the function's own to write into
    a[0] = x[0] * 2.0
    return np.sum(a * a)


def fills_zeros_of_an_arguments_length_then_reads_and_writes(w):
    h = np.zeros(len(w))
    for i in range(len(w)):
        h[i] = w[i] ** 2
    first = h[0]  # a number: the write below leaves it as it was
    h[1] = first * 2.0 + h[2]
    return np.sum(h * h) + first


def caches_states_in_a_dict(W, xs):
    cache = {}
    h = np.zeros(3)
    for t in range(len(xs)):
        h = np.tanh(W @ h + xs[t])
        cache[t] = h  # a dict the function made: a new dict with the entry, as for an array
    return sum(np.sum(cache[t] ** 2) for t in range(len(xs)))


def overwrites_entries_of_a_copied_dict(params):
    p = dict(params)  # a dict of the function's own, with the caller's entries
    p["w"] = p["w"] * 2.0
    p["c"] = p["w"] * p["b"]
    return np.sum(p["c"] ** 2) + np.sum(params["w"])


def overwrites_a_key_whose_value_is_not_read(params):
    p = dict(params)
    p["w"] = params["b"] * 3.0  # what p["w"] held gets no gradient through p
    return np.sum(p["w"] * p["b"])


def steps_a_copied_dict(params, x):
    p = dict(params)
    g = 2.0 * (p["w"] * x - 1.0) * x  # reading an entry shares the array, not the dict
    p["w"] = p["w"] - 0.1 * g
    return np.sum((p["w"] * x - 1.0) ** 2)


def sorts_by_swapping_elements(x):
    a = x * 1.0
    n = a.shape[0]
    for i in range(n):
        for j in range(n - 1 - i):
            if a[j] > a[j + 1]:
                a[j], a[j + 1] = a[j + 1], a[j]  # both values read before either is written, as Python does
    return np.sum(a * np.arange(n))


def pins_both_ends_in_a_chain(u0):
    u = u0.copy()
    for _ in range(3):
        old = u.copy()
        u[1:-1] = old[1:-1] + 0.1 * (old[2:] - 2 * old[1:-1] + old[:-2])
        u[0] = u[-1] = 0.0
    return np.sum(u ** 2)


def writes_an_element_and_a_name_from_one_tuple(x):
    a = x * 1.0
    b = 3.0
    a[1], b = b * x[0], a[1]
    total = a[0] = np.sum(a)
    return np.sum(a ** 2) * b + total


def orthogonalises_columns(V):
    # Gram-Schmidt: each column read as a slice, used up in its own statement, before the next column is written
    Q = np.zeros(V.shape)
    for j in range(V.shape[1]):
        v = V[:, j] * 1.0
        for i in range(j):
            v = v - np.dot(Q[:, i], V[:, j]) * Q[:, i]
        Q[:, j] = v / np.linalg.norm(v)
    return np.sum(Q * np.arange(Q.size).reshape(Q.shape))


def filters_with_scaled_rows(logA, B):
    # a scaled HMM forward pass: each row normalised in place by its own sum, read from the row itself
    A = np.exp(logA)
    alpha, c = np.zeros((3, 2)), np.zeros(3)
    alpha[0] = B[:, 0]
    c[0] = alpha[0].sum()
    alpha[0] /= c[0]
    for t in range(1, 3):
        alpha[t] = (alpha[t - 1] @ A) * B[:, t % 2]
        c[t] = alpha[t].sum()
        alpha[t] = alpha[t] / c[t]
    return np.sum(np.log(c))


CASES = [
    (orthogonalises_columns, ("V",), (np.array([[1.0, 0.5, 0.2], [0.2, 2.0, 0.4], [0.3, 0.1, 1.5]]),)),
    (filters_with_scaled_rows, ("logA", "B"), (np.log(np.array([[0.7, 0.3], [0.4, 0.6]])),
                                               np.array([[0.5, 0.2], [0.3, 0.9]]))),
    (sorts_by_swapping_elements, ("x",), (np.array([0.3, 0.9, 0.5, 0.7, 0.1]),)),
    (pins_both_ends_in_a_chain, ("u0",), (np.array([0.3, 0.9, 0.5, 0.7, 0.1]),)),
    (writes_an_element_and_a_name_from_one_tuple, ("x",), (np.array([0.3, 0.9, 0.5]),)),
    (fill_rows_in_a_loop, ("W", "x"), (W3, np.array([0.3, -0.4, 0.2]), 4)),
    (stores_into_integer_and_boolean_arrays, ("x", "w"), (np.array([0.37, -1.21, 0.83]), np.array([0.45, 0.9, -0.6]))),
    (stores_into_an_array_of_the_dtype_of_data, ("x",), (np.array([0.37, -1.21, 0.83]), np.array([4, 5, 6]))),
    (stores_into_an_array_of_the_dtype_of_data, ("x",), (np.array([0.37, -1.21, 0.83]), np.array([4.0, 5.0, 6.0]))),
    (fill_rows_in_a_loop, ("W", "x"), (W3, np.array([0.3, -0.4, 0.2]), 0)),
    (slices_masks_and_an_augmented_write, ("x",), (np.array([[0.3, -0.2, 0.6, 0.1], [0.2, 0.4, -0.5, 0.7]]),)),
    (a_scalar_broadcast_into_a_row, ("x", "s"), (np.full((3, 2), 0.5), 0.7)),
    (written_in_a_branch, ("x",), (np.array([0.3, -0.4, 0.2]), 1.0)),
    (written_in_a_branch, ("x",), (np.array([0.3, -0.4, 0.2]), -1.0)),
    (written_with_a_computed_index, ("x",), (np.array([0.3, -0.4, 0.2]),)),
    (a_copy_of_the_argument_written, ("x",), (np.array([0.3, -0.4, 0.2]),)),
    (writes_through_index_arrays_on_two_axes, ("x",), (np.array([0.3, -0.4, 0.2]),)),
    (sweeps_after_reading_its_length, ("b", "u0"), (np.array([0.3, -0.4, 0.2, 0.9, -0.1]), np.linspace(-1.0, 1.0, 5))),
    (integrates_a_state_read_as_numbers, ("k", "s0"), (np.array(2.0), np.array([0.5, -0.3]))),
    (unpacks_numbers_then_writes, ("x",), (np.array([0.3, -0.4]),)),
    (caches_states_in_a_dict, ("W", "xs"), (W3, np.array([[0.3, -0.4, 0.2], [0.1, 0.5, -0.2]]))),
    (overwrites_entries_of_a_copied_dict, ("params",), ({"w": np.array([0.3, -0.4]), "b": np.array([1.0, 2.0])},)),
    (overwrites_a_key_whose_value_is_not_read, ("params",), ({"w": np.array([0.3, -0.4]), "b": np.array([1.0, 2.0])},)),
    (steps_a_copied_dict, ("params", "x"), ({"w": np.array([0.3, -0.4]), "b": np.array([1.0, 2.0])},
                                           np.array([0.5, 1.5]))),
    (written_after_a_test_of_an_element, ("x",), (np.array([0.3, -0.4, 0.2]),)),
    (written_after_a_test_of_an_element, ("x",), (np.array([-0.3, -0.4, 0.2]),)),
    (reads_an_element_of_a_matrix_then_writes, ("x",), (np.array([[0.3, -0.2], [0.6, 0.1], [0.2, 0.4]]),)),
    (writes_into_a_flattened_copy, ("x", "w"), (np.array([0.4, -0.3]), np.array([[0.5, -1.0], [0.2, 0.7]]))),
    (fills_zeros_of_an_arguments_length_then_reads_and_writes, ("w",), (np.array([0.5, -0.3, 0.8]),)),
]


@pytest.mark.parametrize("fn, wrt, args", CASES, ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(CASES)])
def test_element_write_gradient_matches_finite_differences(fn, wrt, args, device):
    if device == "dask" and fn is writes_through_index_arrays_on_two_axes:
        pytest.skip("dask indexes with one integer array at a time (its error says so)")
    report = sourcegrad.check_grad(fn, *args, wrt=wrt, device=device)
    assert report, report


# ---- a dict the function made, read after writes: its keys, where the writes tell them ----------------------------

def sums_activations_stored_by_layer_name(x, w1, w2):
    acts = {}
    acts["hidden"] = np.tanh(x @ w1)
    acts["out"] = acts["hidden"] @ w2
    total = 0.0
    for name, a in acts.items():
        total = total + np.sum(a ** 2) * (2.0 if name == "out" else 1.0)
    return total + sum(np.sum(a) for a in acts.values()) + sum(np.sum(acts[k]) for k in sorted(acts))


def reads_written_entries_by_get_in_and_len(x, w1, w2):
    acts = {}
    acts["hidden"] = np.tanh(x @ w1)
    total = np.sum(acts.get("hidden") ** 2) + np.sum(acts.get("missing", w2) ** 2)
    if "hidden" in acts:
        total = total * 2.0
    if "out" in acts:
        total = total * 3.0
    return total * len(acts) + np.sum(acts[list(acts.keys())[-1]])


def sums_the_values_of_an_updated_params_dict(x, w1, w2):
    p = {"w1": w1, "w2": w2}
    p["w1"] = p["w1"] * 0.9  # a key written over keeps its place
    p["extra"] = np.sin(w2)
    return sum(np.sum(v ** 2) for v in p.values()) + np.sum(np.tanh(x @ p["w1"]) @ p["w2"])


def keeps_states_by_step_and_reads_them_back_in_reverse(W, x):
    states = {}
    h = x
    for t in range(3):  # steps known when compiling: so are the keys 0, 1, 2
        h = np.tanh(W @ h)
        states[t] = h
    total = 0.0
    for t in reversed(states):
        total = total * 0.5 + np.sum(states[t] * x)
    for t, s in states.items():
        total = total + (t + 1) * np.sum(s ** 2)
    return total + np.sum(sum(states.values()) ** 2) + len(states)


def keys_layers_by_a_name_made_in_the_loop(W, x):
    d = {}
    h = x
    for i in range(3):
        h = np.tanh(W @ h)
        d[f"layer{i}"] = h
    for name in ("extra", "more"):
        d[name] = d["layer1"] * 2.0
    return np.sum(d["layer2"] ** 2) + sum(np.sum(v) for v in d.values())


def reads_the_last_step_by_get_with_a_default(W, x, n):
    states = {}
    for t in range(n):
        states[t] = np.tanh(W @ states.get(t - 1, x))
    return np.sum(states[n - 1] ** 2) * len(states)


def writes_a_key_in_a_branch_then_reads_it_by_get(W, x):
    d = {}
    if np.sum(x) > 0:
        d["a"] = np.tanh(W @ x)
    return np.sum(d.get("a", x) ** 2)


def reads_the_dict_in_tests_of_the_loop_that_writes_it(W, x):
    cache = {}
    h = x
    for t in range(4):
        if t in cache:
            h = h * 2.0
        if t > 0 and np.sum(cache[t - 1]) > 0.0:
            h = np.tanh(W @ h)
        else:
            h = np.sin(W @ h)
        cache[t] = h
    cache["last"] = cache[3] * 2.0  # written again after the loop, where its keys are known
    return np.sum(cache["last"] ** 2) + len(cache)


def copies_a_dict_after_writing_it(W, x):
    d = {}
    d["h"] = np.tanh(W @ x)
    e = dict(d)
    e["y"] = e["h"] * 2.0
    return np.sum(e["y"] ** 2) + np.sum(d["h"]) + len(d) + len(e)


def keeps_a_list_of_states_under_one_key(W, x):
    d = {}
    h = np.tanh(W @ x)
    d["hs"] = [h, W @ h]  # the dict keeps the list as it is
    total = np.sum(d["hs"][0] * d["hs"][1])
    for h in d["hs"]:
        total = total + np.sum(h ** 2)
    first, second = d["hs"]
    return total + np.sum(first) * len(d["hs"])


def writes_a_key_twice_without_reading_the_first(W, x):
    d = {}
    d["a"] = W @ x
    d["a"] = np.tanh(x)  # what the first write put there reaches nothing
    return np.sum(d["a"] ** 2)


def adds_into_entries_made_for_the_dict(x, w):
    stats = {"loss": 0.0, "steps": 0}
    acc = {}
    acc["g"] = np.zeros(3)  # an array of the entry's own: `+=` changes nothing another name holds
    for i in range(3):
        stats["loss"] += np.sum((x * w) ** 2) * (i + 1)
        stats["steps"] += 1
        acc["g"] += w * x
        stats["loss"] += np.sum(acc["g"] ** 2)  # a read that keeps nothing
    acc["g"] *= acc["g"]
    return stats["loss"] / stats["steps"] + np.sum(acc["g"])


def adds_into_an_entry_after_a_loop_wrote_keys_known_when_it_runs(x, w, n):
    d = {"a": x * 1.0, "b": np.zeros(3)}
    for i in range(n):  # keys known only when it runs, each given a new array: "a" and "b" stay the dict's alone
        d[i] = np.sin(x) * (i + 1)
        d["b"] += d[i] * w
    for name in ["p", "q"]:
        d[name + "s"] = x * w
    d["a"] += w * d[1]
    d["b"] *= d["ps"]
    return np.sum(d["a"] ** 2) + np.sum(d["b"])


def writes_a_dict_inside_a_dict_through_a_copy(x, w):
    d = {"a": {}}
    inner = dict(d["a"])  # a dict of the function's own, written into, then put back
    inner["b"] = x * w
    d["a"] = inner
    return np.sum(d["a"]["b"] ** 2) + len(d["a"])


SQUARE = np.array([[0.3, -0.5, 0.2], [0.1, 0.4, -0.3], [-0.2, 0.6, 0.5]])
X23 = np.array([[0.3, -0.4, 0.2], [0.1, 0.5, -0.2]])
READ_AFTER_WRITES = [
    (sums_activations_stored_by_layer_name, ("w1", "w2"), (X23, SQUARE, SQUARE.T)),
    (reads_written_entries_by_get_in_and_len, ("w1", "w2"), (X23, SQUARE, SQUARE.T)),
    (sums_the_values_of_an_updated_params_dict, ("w1", "w2"), (X23, SQUARE, SQUARE.T)),
    (keeps_states_by_step_and_reads_them_back_in_reverse, ("W", "x"), (SQUARE, np.array([0.3, -0.4, 0.2]))),
    (keys_layers_by_a_name_made_in_the_loop, ("W", "x"), (SQUARE, np.array([0.3, -0.4, 0.2]))),
    (reads_a_dict_by_get_before_the_loop_writes_it, ("x", "w"),
     (np.array([0.3, -0.4, 0.2]), np.array([0.5, 0.1, -0.7]))),
    (reads_the_last_step_by_get_with_a_default, ("W", "x"), (SQUARE, np.array([0.3, -0.4, 0.2]), 3)),
    (writes_a_key_in_a_branch_then_reads_it_by_get, ("W", "x"), (SQUARE, np.array([0.3, -0.4, 0.2]))),
    (writes_a_key_in_a_branch_then_reads_it_by_get, ("W", "x"), (SQUARE, np.array([-0.3, -0.4, 0.2]))),
    (reads_the_dict_in_tests_of_the_loop_that_writes_it, ("W", "x"), (SQUARE, np.array([0.3, -0.4, 0.2]))),
    (copies_a_dict_after_writing_it, ("W", "x"), (SQUARE, np.array([0.3, -0.4, 0.2]))),
    (keeps_a_list_of_states_under_one_key, ("W", "x"), (SQUARE, np.array([0.3, -0.4, 0.2]))),
    (writes_a_key_twice_without_reading_the_first, ("W", "x"), (SQUARE, np.array([0.3, -0.4, 0.2]))),
    (adds_into_entries_made_for_the_dict, ("x", "w"), (np.array([0.3, -0.4, 0.2]), np.array([0.5, 0.1, -0.7]))),
    (writes_a_dict_inside_a_dict_through_a_copy, ("x", "w"), (np.array([0.3, -0.4, 0.2]), np.array([0.5, 0.1, -0.7]))),
    (adds_into_an_entry_after_a_loop_wrote_keys_known_when_it_runs, ("x", "w"),
     (np.array([0.3, -0.4, 0.2]), np.array([0.5, 0.1, -0.7]), 3)),
]


@pytest.mark.parametrize("fn, wrt, args", READ_AFTER_WRITES,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(READ_AFTER_WRITES)])
def test_a_dict_read_after_writes_matches_finite_differences(fn, wrt, args, device):
    assert sourcegrad.check_grad(fn, *args, wrt=wrt, device=device)


# ---- a dict whose keys are known only when it runs (written in a branch or a loop): walked key by key -------------

def walks_keys_written_in_a_loop_of_unknown_length(W, x, n):
    cache = {}
    for t in range(n):
        cache[t] = np.tanh(W @ x) * t
    return sum(np.sum(v) for v in cache.values())


def walks_keys_written_in_a_branch(W, x):
    d = {"a": x}
    if np.sum(x) > 0:
        d["b"] = W @ x
    total = 0.0
    for k in d:
        total = total + np.sum(d[k])
    return total


def walks_the_items_of_a_dict_made_in_either_branch(W, x):
    if np.sum(x) > 0:
        d = {"a": np.tanh(W @ x)}
    else:
        d = {"a": x, "b": W @ x}
    total = 0.0
    for k, v in d.items():
        total = total + np.sum(v * v) * (2.0 if k == "b" else 1.0)
    return total + sum(np.sum(v * x) for v in d.values())


def walks_keys_written_in_a_while_loop_backwards(W, x):
    d = {}
    h, i = x, 0
    while i < 3:
        h = np.tanh(W @ h)
        d[i] = h
        i += 1
    total = 0.0
    for t in reversed(d):
        total = total * 0.5 + np.sum(d[t] * x)
    for t in d.keys():
        total = total + np.sum(d[t]) * t
    return total + len(list(d)) + len(sorted(d))


def walks_a_dict_made_afresh_each_iteration(W, x):
    total = 0.0
    for i in range(3):
        d = {"a": x * i}
        if i % 2 == 1:
            d["b"] = W @ x * i
        for k, v in d.items():
            total = total + np.sum(np.sin(v) * x)
    return total


def writes_each_entry_walking_a_copy_of_the_keys(W, x):
    d = {"a": x}
    if np.sum(x) > 0:
        d["b"] = W @ x
    for k in list(d):
        d[k] = np.tanh(d[k]) * 2.0
    return sum(np.sum(v ** 2) for v in d.values())


def sums_the_values_of_a_dict_made_in_a_branch(W, x):
    d = {"a": x}
    if np.sum(x) > 0:
        d["b"] = W @ x
    return np.sum(sum(d.values()) ** 2) + np.sum(sum(d.values(), x) * x)


def walks_a_list_made_of_its_keys(W, x):
    d = {"a": x}
    if np.sum(x) > 0:
        d["b"] = W @ x
    keys = list(d)  # a list of the function's own
    keys.append("a")
    return sum(np.sum(d[k] ** 2) for k in keys)


UNKNOWN_KEYS = [
    (walks_a_list_made_of_its_keys, ("W", "x"), (SQUARE, np.array([0.3, -0.4, 0.2]))),
    (sums_the_values_of_a_dict_made_in_a_branch, ("W", "x"), (SQUARE, np.array([0.3, -0.4, 0.2]))),
    (sums_the_values_of_a_dict_made_in_a_branch, ("W", "x"), (SQUARE, np.array([-0.3, -0.4, 0.2]))),
    (walks_keys_written_in_a_loop_of_unknown_length, ("W", "x"), (SQUARE, np.array([0.3, -0.4, 0.2]), 2)),
    (walks_keys_written_in_a_branch, ("W", "x"), (SQUARE, np.array([0.3, -0.4, 0.2]))),
    (walks_keys_written_in_a_branch, ("W", "x"), (SQUARE, np.array([-0.3, -0.4, 0.2]))),
    (walks_the_items_of_a_dict_made_in_either_branch, ("W", "x"), (SQUARE, np.array([0.3, -0.4, 0.2]))),
    (walks_the_items_of_a_dict_made_in_either_branch, ("W", "x"), (SQUARE, np.array([-0.3, -0.4, 0.2]))),
    (walks_keys_written_in_a_while_loop_backwards, ("W", "x"), (SQUARE, np.array([0.3, -0.4, 0.2]))),
    (walks_a_dict_made_afresh_each_iteration, ("W", "x"), (SQUARE, np.array([0.3, -0.4, 0.2]))),
    (writes_each_entry_walking_a_copy_of_the_keys, ("W", "x"), (SQUARE, np.array([0.3, -0.4, 0.2]))),
    (writes_each_entry_walking_a_copy_of_the_keys, ("W", "x"), (SQUARE, np.array([-0.3, -0.4, 0.2]))),
]


@pytest.mark.parametrize("fn, wrt, args", UNKNOWN_KEYS, ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(UNKNOWN_KEYS)])
def test_walking_a_dict_whose_keys_are_known_when_it_runs_matches_finite_differences(fn, wrt, args, device):
    assert sourcegrad.check_grad(fn, *args, wrt=wrt, device=device)


def stacks_the_values_of_a_dict_made_in_a_branch(W, x):
    d = {"a": x}
    if np.sum(x) > 0:
        d["b"] = W @ x
    return np.sum(np.stack(list(d.values())) ** 2)


def writes_into_a_dict_while_walking_its_items(W, x):
    d = {"a": x}
    if np.sum(x) > 0:
        d["b"] = W @ x
    for k, v in d.items():
        d[k] = v * 2.0
    return np.sum(d["a"])


def adds_keys_while_walking_them(W, x):
    d = {"a": x}
    if np.sum(x) > 0:
        d["b"] = W @ x
    for k in d:
        d[k + "2"] = d[k] * 2.0  # Python raises: the dict changed size during the walk
    return np.sum(d["a"])


@pytest.mark.parametrize("fn, at, message", [
    (stacks_the_values_of_a_dict_made_in_a_branch, "d.values()", "cannot tell here which keys the dict"),
    (writes_into_a_dict_while_walking_its_items, "d.items()", "also writes into it or rebinds it"),
    (adds_keys_while_walking_them, "for k in d", "also writes into it or rebinds it"),
], ids=["values_as_a_list", "written_while_walking_items", "written_while_walking_keys"])
def test_walking_a_dict_whose_keys_are_unknown_is_refused_where_an_entry_could_not_be_read_by_key(fn, at, message):
    with pytest.raises(SourcegradError, match=message) as info:
        sourcegrad.differentiate(fn, wrt=(0, 1)).grad(SQUARE, np.ones(3))
    text = str(info.value)
    assert "test_element_writes.py" in text.splitlines()[0] and at in text and "for k" in text


def test_element_writes_keep_the_value_the_dtype_and_the_arguments():
    W, x = W3.astype(np.float32), np.array([0.3, -0.4, 0.2], dtype=np.float32)
    before = (W.copy(), x.copy())
    value, (d_W, d_x) = sourcegrad.differentiate(fill_rows_in_a_loop, wrt=("W", "x")).value_and_grad(W, x, 3)
    np.testing.assert_allclose(value, fill_rows_in_a_loop(W, x, 3), rtol=1e-6)
    assert d_W.dtype == np.float32 and d_x.dtype == np.float32
    np.testing.assert_array_equal(W, before[0])
    np.testing.assert_array_equal(x, before[1])


def writes_into_the_argument(x):
    x[0] = 0.0
    return np.sum(x ** 2)


def writes_into_an_alias(x):
    a = x * 1.0
    b = a
    a[0] = 0.0
    return np.sum(a * b)


def writes_into_a_view(x):
    a = x * 1.0
    row = a[0]
    row[0] = 5.0
    return np.sum(a)


def reads_a_row_then_writes_into_it(x):
    h = x * 1.0
    row = h[0]  # a view of h: Python's row sees the write below
    h[0, 1] = 5.0
    return np.sum(row ** 2)


def reads_a_slice_then_writes_into_it(x):
    h = x[0] * 1.0
    part = h[0:2]
    h[0] = 5.0
    return np.sum(part ** 2)


def reads_with_an_index_passed_in_then_writes(x, i):
    h = x * 1.0
    picked = h[i]  # a row, or with a slice for i a block: a view either way
    h[0, 0] = 5.0
    return np.sum(picked ** 2)


def reads_a_row_in_one_iteration_and_writes_into_it_in_the_next(x):
    h = x * 1.0
    row = np.zeros(3)
    for t in range(2):
        h[1, 0] = h[1, 0] + 1.0
        if t == 0:
            row = h[1]  # the second iteration's write reaches it
    return np.sum(row ** 2)


def writes_into_a_ravel(x):
    a = x.ravel()  # a view of the caller's array when x is contiguous
    a[0] = 2.0
    return np.sum(a * a)


def unpacks_rows_then_writes(x):
    h = x * 1.0
    first, second = h  # the rows of a matrix: views that see the write below
    h[0, 0] = 5.0
    return np.sum(first * second)


def collects_rows_then_writes(x):
    h = x * 1.0
    rows = [h[i] for i in range(2)]  # views, kept by the list
    h[0, 0] = 5.0
    return np.sum(rows[0] * rows[1])


def writes_an_array_a_dict_holds(x):
    h = x * 2.0
    held = {"h": h}
    h[0, 0] = 5.0  # held["h"] is the same array: Python's dict sees the write
    return np.sum(held["h"])


def adds_into_a_dicts_entry_another_name_read(x):
    acc = {"g": x * 2.0}
    keep = acc["g"]
    acc["g"] += x  # keep's array too, in Python
    return np.sum(keep * x)


def adds_into_a_dicts_entry_a_list_keeps(x):
    acc = {"g": x * 2.0}
    history = []
    for _ in range(2):
        acc["g"] += x  # by the next iteration, history[0] holds the entry's array
        history.append(acc["g"])
    return np.sum(history[0] * x)


def adds_into_a_dicts_entry_a_copy_holds(x):
    acc = {"g": x * 2.0}
    copied = dict(acc)
    acc["g"] += x
    return np.sum(copied["g"] * x)


def adds_into_a_dicts_entry_another_key_holds(x):
    acc = {"g": x * 2.0, "h": x * 3.0}
    acc["h"] = acc["g"]  # both keys hold one array
    acc["g"] += x  # acc["h"] sees the change, in Python
    return np.sum(acc["h"] * x)


def adds_into_a_dicts_entry_a_list_under_another_key_holds(x):
    acc = {"g": x * 2.0, "h": [x]}
    acc["h"] = [acc["g"]]
    acc["g"] += x  # acc["h"][0] sees the change, in Python
    return np.sum(acc["h"][0] * x)


def adds_into_a_dicts_entry_a_loop_may_have_put_under_its_key(x):
    acc = {"g": x * 2.0}
    for k in ["g", "h"]:
        acc[k] = x  # at "g" too: the entry is then x itself
    acc["g"] += 1.0
    return np.sum(acc["g"] * x)


def adds_into_a_dicts_entry_a_loop_copied_under_other_keys(x):
    acc = {"g": x * 2.0}
    for i in range(2):
        acc[i] = acc["g"]  # one array under three keys
    acc["g"] += 1.0
    return np.sum(acc[0] * x)


def adds_into_a_dicts_entry(x):
    h = x * 2.0
    d = {"k": h}
    d["k"] += 1.0  # ndarray's += changes h too
    return np.sum(d["k"] * h)


def adds_into_a_lists_item(x):
    h = x * 2.0
    items = [h]
    items[0] += 1.0  # ndarray's += changes h too
    return np.sum(items[0] * h)


def adds_into_an_item_of_a_list_map_made(x):
    h = x * 2.0
    items = list(map(lambda v: v, [h, x]))  # items[0] is h itself
    items[0] *= 3.0
    return np.sum(items[0] * h)


def writes_into_the_callers_dict(x, d):
    d["x"] = x * 2.0
    return np.sum(d["x"])


def writes_through_a_nested_index(x):
    a = x * 1.0
    a[0][1] = 2.0
    return np.sum(a)


def swaps_rows(x):
    a = x * 1.0
    a[0], a[1] = a[1], a[0]  # numpy gives both rows a[1]'s values: the second value is a view the first write changes
    return np.sum(a * np.arange(3.0))


@pytest.mark.parametrize("fn, message", [
    (writes_into_the_argument, "would change the caller's array in place"),
    (writes_into_an_alias, "would change an array that another name may also hold in place"),
    (writes_into_a_view, "would change an array that another name may also hold in place"),
    (writes_through_a_nested_index, "assigning to an element of this kind is not supported"),
    (reads_a_row_then_writes_into_it, "after an element of it was read"),
    (reads_a_slice_then_writes_into_it, "after an element of it was read"),
    (reads_with_an_index_passed_in_then_writes, "after an element of it was read"),
    (reads_a_row_in_one_iteration_and_writes_into_it_in_the_next, "in a loop would change an array in place after"),
    (writes_into_a_ravel, "would change an array that another name may also hold in place"),
    (writes_an_array_a_dict_holds, "another name may also hold"),
    (writes_into_the_callers_dict, "would change the caller's dict in place"),
    (adds_into_a_dicts_entry, "`d\\['k'\\] \\+= ...` would change in place the value the dict holds at 'k'"),
    (adds_into_a_dicts_entry_another_name_read, "would change in place the value the dict holds at 'g'"),
    (adds_into_a_dicts_entry_a_list_keeps, "in a loop would change in place the value the dict holds at 'g'"),
    (adds_into_a_dicts_entry_a_copy_holds, "would change in place the value the dict holds at 'g'"),
    (adds_into_a_dicts_entry_another_key_holds, "would change in place the value the dict holds at 'g'"),
    (adds_into_a_dicts_entry_a_list_under_another_key_holds, "would change in place the value the dict holds at 'g'"),
    (adds_into_a_dicts_entry_a_loop_may_have_put_under_its_key, "would change in place the value the dict holds at 'g'"),
    (adds_into_a_dicts_entry_a_loop_copied_under_other_keys, "would change in place the value the dict holds at 'g'"),
    (adds_into_a_lists_item, "`items\\[0\\] \\+= ...` would change in place the value the list holds at 0"),
    (adds_into_an_item_of_a_list_map_made, "would change in place the value the list holds at 0"),
    (unpacks_rows_then_writes, "after an element of it was read"),
    (collects_rows_then_writes, "after an element of it was read"),
    (swaps_rows, "after an element of it was read"),
], ids=["argument", "alias", "view", "nested_index", "row_read_before", "slice_read_before", "index_passed_in",
        "row_read_in_an_earlier_iteration", "ravel", "array_a_dict_holds", "callers_dict", "dict_entry_added_to",
        "dict_entry_another_name_read", "dict_entry_a_list_keeps", "dict_entry_a_copy_holds",
        "dict_entry_another_key_holds", "dict_entry_a_list_under_another_key_holds",
        "dict_entry_a_loop_may_have_put_under_its_key", "dict_entry_a_loop_copied_under_other_keys",
        "list_item_added_to", "list_item_map_made_multiplied", "rows_unpacked",
        "rows_collected", "rows_swapped"])
def test_a_write_python_would_make_through_another_name_is_refused(fn, message):
    args = (np.ones((2, 3)), 1) if fn is reads_with_an_index_passed_in_then_writes else \
        (np.ones((2, 3)), {}) if fn is writes_into_the_callers_dict else (np.ones((2, 3)),)
    with pytest.raises(SourcegradError, match=message) as info:
        sourcegrad.differentiate(fn).grad(*args)
    assert "test_element_writes.py" in str(info.value).splitlines()[0]


def writes_twice_to_one_position(x):
    a = np.zeros(3)
    a[np.array([0, 0, 2])] = x
    return np.sum(a)


def writes_twice_through_a_negative_index(x):
    a = np.zeros(3)
    a[[0, -3]] = x[:2]  # -3 is 0 again in a length-3 array
    return np.sum(a)


def adds_twice_through_a_negative_index(x):
    a = x * 1.0
    a[[2, -1]] += x[:2]
    return np.sum(a)


def writes_twice_through_index_arrays_on_two_axes(x):
    z = np.zeros((2, 3))
    z[[1, 1], [2, -1]] = x[:2]
    return np.sum(z)


@pytest.mark.parametrize("fn", [writes_twice_to_one_position, writes_twice_through_a_negative_index,
                                adds_twice_through_a_negative_index, writes_twice_through_index_arrays_on_two_axes])
def test_an_index_naming_a_position_twice_is_refused(fn):
    with pytest.raises(SourcegradError, match="names a position twice") as info:
        sourcegrad.differentiate(fn).grad(np.array([1.0, 2.0, 3.0]))
    assert "test_element_writes.py" in str(info.value).splitlines()[0]  # the line of the write, found when it runs
