"""Bad input: a SourcegradError naming file:line:col, quoting the line, saying what to write instead.

Each function below is refused as a whole; no gradient is ever returned for it.
"""

import re
import statistics

import numpy as np
import pytest

import helper_module
import sourcegrad
from sourcegrad import SourcegradError

rng = np.random.default_rng(17)


def return_in_loop(w):
    for i in range(3):
        if i == 1:
            return w.sum()
    return (w * w).sum()


def for_else(w):
    for i in range(3):
        w = w * 2
    else:
        w = w + 1
    return w.sum()


def while_else(w):
    while w.sum() < 10:
        w = w * 2
    else:
        w = w + 1
    return w.sum()


def returns_on_some_paths(w):
    if w.sum() > 0:
        return w.sum()
    w = w * 2


def writes_an_element(w):
    w[0] = 3.0  # the caller's array: an array the function makes may be written into
    return w.sum()


def comprehension(w):
    return sum({v * v for v in w})


def no_rule(w):
    spectrum = np.fft.fft(w)
    return np.abs(spectrum).sum()


def returns_a_tuple(w):
    return w.sum(), w.prod()


def undefined_name(w):
    return (w * not_defined_anywhere).sum()  # noqa: F821


def star_kwargs(w, **options):
    return w.sum()


def joins_with_r_(w):
    return (np.r_["0,2", w, w * 2.0] ** 2).sum()  # a directive: the plain np.r_[a, b] is differentiated


def joins_with_c_(w):
    return (np.c_["0", w, w * 2.0] ** 2).sum()  # a directive: the plain np.c_[a, b] is differentiated


def library_function_without_rule(w):
    # a library's function is a primitive, never read as source: statistics.fmean is Python code, like scipy's
    mean = statistics.fmean(w * 2.0)
    return mean


def one_or_two_values(v):
    if v.sum() > 0:
        return v, v * 2.0
    return v


def unpacks_a_helper_of_uneven_returns(w):
    a, b = one_or_two_values(w)
    return (a * b).sum()


def writes_a_dict_item(w, d={"a": 1.0}):  # noqa: B006 (the caller's dict, as a default: never written)
    d["b"] = w * 3.0
    return np.sum(d["a"] * d["b"])


def calls_a_method_of_an_object_it_makes(w):
    z = np.zeros(3)
    return np.sum(z.frobnicate(w))


def writes_into_a_dict_inside_a_dict(w):
    d = {"a": {}}
    d["a"]["b"] = w * 2.0
    return np.sum(d["a"]["b"])


def scatters_with_add_at(w):
    a = np.zeros(3)
    np.add.at(a, np.array([0, 0, 2]), w)
    return np.sum(a ** 2)


def zeroes_the_diagonal_in_place(w):
    a = np.outer(w, w)
    np.fill_diagonal(a, 0.0)
    return np.sum(a)


def holds_numpy_in_a_local(w):
    xp = np
    return xp.sum(w ** 2)


# (function, where the error points: the text at the caret, what the message says)
CASES = [
    (scatters_with_add_at, "np.add.at(a", "`np.add.at(...)` changes its array in place"),
    (zeroes_the_diagonal_in_place, "np.fill_diagonal(a", "`a = a * (1 - np.eye(n)) + value * np.eye(n)`"),
    (writes_a_dict_item, 'd["b"] = w * 3.0', "would change the caller's dict in place"),
    (writes_into_a_dict_inside_a_dict, 'd["a"]["b"]', "`inner = dict(d['a'])`, `inner['b'] = ...`, `d['a'] = inner`"),
    (calls_a_method_of_an_object_it_makes, "z.frobnicate(w)", "call methods of the objects passed in"),
    (unpacks_a_helper_of_uneven_returns, "return v", "gives another number of values than the helper's other"),
    (joins_with_r_, 'np.r_["0,2", w, w * 2.0]', "`np.r_[...]` with values that carry a gradient is not supported"),
    (joins_with_c_, 'np.c_["0", w, w * 2.0]', "`np.c_[...]` with values that carry a gradient is not supported"),
    (library_function_without_rule, "statistics.fmean(w * 2.0)", "no gradient rule for `statistics.fmean`"),
    (return_in_loop, "return w.sum()", "`return` inside a loop is not supported"),
    (for_else, "for i in range(3):", "`for ... else` is not supported"),
    (while_else, "while w.sum() < 10:", "`while ... else` is not supported"),
    (returns_on_some_paths, "if w.sum() > 0:", "not every path through returns_on_some_paths ends in `return"),
    (writes_an_element, "w[0] = 3.0", "would change the caller's array in place"),
    (comprehension, "{v * v for v in w}", "set comprehensions"),
    (no_rule, "np.fft.fft(w)", "no gradient rule for `np.fft.fft`"),
    (returns_a_tuple, "w.sum(), w.prod()", "the output is a tuple, which has no gradient of its own"),
    (undefined_name, "not_defined_anywhere", "`not_defined_anywhere` is not defined"),
    (star_kwargs, "options", "`**options` parameters are not supported"),
    (holds_numpy_in_a_local, "np", "bind the alias at the module's top level"),
]


@pytest.mark.parametrize("fn, at, message", CASES, ids=[c[0].__name__ for c in CASES])
def test_refused_with_location_and_advice(fn, at, message):
    with pytest.raises(SourcegradError) as info:
        sourcegrad.differentiate(fn).grad(np.arange(1.0, 4.0))
    text = str(info.value)
    assert message in text
    first, quoted, caret = text.splitlines()[:3]
    path, line, col = re.match(r"(.+):(\d+):(\d+): ", first).groups()
    assert path.endswith("test_errors.py")
    assert quoted.strip() == open(__file__).read().splitlines()[int(line) - 1].strip()
    # the caret sits under the column reported, and that column starts the offending construct
    assert caret.index("^") == 4 + int(col) - 1
    assert quoted[4 + int(col) - 1:].startswith(at) or at in quoted
    assert len(text.splitlines()) >= 4, "the message must say what to do instead"


def test_nothing_written_for_refused_function(generated_dir):
    with pytest.raises(SourcegradError):
        sourcegrad.differentiate(return_in_loop).grad(np.arange(3.0))
    assert not generated_dir.exists() or not any(generated_dir.iterdir())


def test_wrt_name_that_is_not_a_parameter():
    with pytest.raises(SourcegradError, match=r"'w3', which is not a parameter of .*\(its parameters: x, w\)"):
        sourcegrad.differentiate(lambda_free, wrt="w3")
    with pytest.raises(SourcegradError, match="out of range"):
        sourcegrad.differentiate(lambda_free, wrt=5)


def lambda_free(x, w):
    return (x * w).sum()


def test_function_without_readable_source():
    namespace = {}
    exec("def made_by_exec(w):\n    return w.sum()\n", namespace)
    with pytest.raises(SourcegradError, match="cannot read the source") as info:
        sourcegrad.differentiate(namespace["made_by_exec"]).grad(np.ones(2))
    assert "define the function in a .py file" in str(info.value)


def test_lambda_is_differentiated_now():
    # lambdas were refused "without a line"; they are read from their file (tests/test_lambdas_and_closures.py)
    assert np.allclose(sourcegrad.differentiate(lambda w: (w * w).sum()).grad(np.arange(2.0)), [0.0, 2.0])


def test_closure_variable_is_read_now():
    scale = 3.0

    def closes_over(w):
        return (scale * w).sum()

    assert np.allclose(sourcegrad.differentiate(closes_over).grad(np.ones(2)), [3.0, 3.0])


def test_unpacking_rows_of_an_array_and_parts_of_a_split():
    def unpacks(w):
        a, b = w
        p, q = np.split(w * 2.0, 2)
        return (a * b).sum() + (p * q * q).sum()

    w = np.arange(1.0, 7.0).reshape(2, 3)
    assert sourcegrad.check_grad(unpacks, w).max_error < 1e-7


def test_unpacking_a_tuple_parameter_of_an_array_and_a_number():
    def unpacks(w, pair):
        a, b = pair
        return (a * w).sum() + b * b

    gradient = sourcegrad.differentiate(unpacks, wrt=("w", "pair")).grad(np.ones(2), (np.full(2, 0.5), 1.5))
    assert isinstance(gradient[1], tuple)  # a tuple's gradient is a tuple: (array, number)
    assert sourcegrad.check_grad(unpacks, np.ones(2), (np.full(2, 0.5), 1.5), wrt=("w", "pair"))


def test_inactive_unsupported_operations_are_fine():
    def uses_fft_on_data(w, x):
        spectrum_size = np.abs(np.fft.fft(x)).sum()
        return (w * x[0]).sum() * spectrum_size

    w, x = np.ones(2), np.arange(1.0, 5.0)
    expected = x[0] * np.abs(np.fft.fft(x)).sum()
    np.testing.assert_allclose(sourcegrad.differentiate(uses_fft_on_data).grad(w, x), [expected, expected])


def test_local_read_before_assignment_is_refused():
    def reads_early(w):
        v = w * scale  # noqa: F821
        scale = 2.0
        return (v * scale).sum()

    with pytest.raises(SourcegradError, match="`scale` is read before it is assigned"):
        sourcegrad.differentiate(reads_early).grad(np.ones(2))


def test_a_refusal_inside_a_helper_cites_the_helpers_own_file_and_line():
    def calls_helper(w):
        return helper_module.without_rule(w).sum()

    with pytest.raises(SourcegradError, match="no gradient rule for `xnp.sinc`") as info:
        sourcegrad.differentiate(calls_helper).grad(np.ones(2))
    first, quoted = str(info.value).splitlines()[:2]
    path, line = re.match(r"(.+):(\d+):\d+: ", first).groups()
    assert path == helper_module.__file__
    assert quoted.strip() == "y = xnp.sinc(x)  # no rule: the refusal must cite this line, in this file"
    assert open(path).read().splitlines()[int(line) - 1].strip() == quoted.strip()


try:
    import scipy.special as scipy_special
except ImportError:  # scipy is optional
    scipy_special = None


def uses_scipy(w):
    return scipy_special.spherical_jn(0, w).sum()


@pytest.mark.skipif(scipy_special is None, reason="scipy is not installed")
def test_scipy_functions_are_primitives_not_source_to_read():
    with pytest.raises(SourcegradError, match="no gradient rule for `scipy_special.spherical_jn`") as info:
        sourcegrad.differentiate(uses_scipy).grad(np.ones(2))
    assert "test_errors.py" in str(info.value).splitlines()[0]


def test_an_index_that_carries_a_gradient_is_refused():
    def integer_index_from_weights(w, dtype):  # cast to a dtype known only when it runs
        return np.arange(4.0)[(w * 0.0).astype(dtype)].sum() + w.sum()

    with pytest.raises(SourcegradError, match="an index that carries a gradient"):
        sourcegrad.differentiate(integer_index_from_weights, wrt="w").grad(np.ones(2), int)


def test_an_index_cast_to_integers_written_out_carries_no_gradient():
    def integer_index_from_weights(w):
        return np.arange(4.0)[(w * 0.0).astype(int)].sum() + w.sum()

    np.testing.assert_array_equal(sourcegrad.grad(integer_index_from_weights)(np.ones(2)), np.ones(2))


# ---- refused rather than wrong: in-place changes, lists reaching operations, operators without rules ---------

def aliased_in_place(x):
    h = x * 2
    g = h
    h += 1
    return (g * h).sum()


def in_place_on_parameter(x):
    x += 1.0
    return (x * x).sum()


def or_operator(x):
    z = x or 1.0
    return z * z


def mutates_in_an_expression_statement(x):
    h = x * 1.0
    np.multiply(h, 2.0, out=h)
    return (h * h).sum()


def appended_to_a_list_another_name_holds(x):
    outs = []
    same = outs
    h = x
    for _ in range(3):
        h = np.tanh(h * 2.0)
        outs.append(h)
    return np.stack(same).sum()


def in_place_on_a_name_that_later_holds_the_parameter(x):
    h = x * 1.0
    for _ in range(3):
        h += 1.0  # from the second iteration on, h is x itself
        h = x
    return (h * x).sum()


def list_of_active_arrays_plus_an_array(x):
    return ([x * 2.0, x] + x).sum()


def out_by_keyword(x):
    o = np.zeros(3)
    z = np.cumsum(x, axis=0, out=o)  # o holds the result too, and its gradient would be lost
    return np.sum(z * o)


def out_by_position(x):
    o = np.zeros(3)
    z = np.cumsum(x, 0, None, o)
    return np.sum(z * o)


def out_of_a_method_by_position(x):
    o = np.zeros(())
    z = x.sum(0, None, o)
    return z * o


def copy_false_by_position_then_in_place(x):
    h = x * 2.0
    z = np.nan_to_num(h, False)  # z is h itself
    z += 1.0
    return np.sum(h * x)


def out_by_position_then_in_place(x):
    o = np.zeros(3)
    z = np.cumsum(x * 1.0, 0, None, o)  # z is o
    o *= 2.0
    return np.sum(z * z)


def in_place_on_a_name_an_integer_on_one_path_only(x):
    i = len(x)
    if x[0] > 0:
        i = x  # an integer is never shared, but here i may hold the caller's array
    i += 1
    return np.sum(i * x)



def appended_to_a_list_a_dict_holds(x):
    d = {"hs": []}
    for t in range(3):
        d["hs"].append(x * t)  # the dict's list changes in place: a later read of d["hs"] sees it
    return np.sum(d["hs"][2])


def appended_to_a_list_in_a_list(x):
    xs = [[x]]
    xs[0].append(x * 3.0)
    return np.sum(xs[0][1])

REFUSED_RATHER_THAN_WRONG = [
    (appended_to_a_list_another_name_holds, r"`outs.append\(...\)` would change a list that another name may also hold"),
    (appended_to_a_list_a_dict_holds, "changes the list .* in place, and a gradient cannot follow"),
    (appended_to_a_list_in_a_list, "changes the list .* in place, and a gradient cannot follow"),
    (in_place_on_a_name_that_later_holds_the_parameter, "in a loop would change an array that another name holds"),
    (list_of_active_arrays_plus_an_array, "a list of arrays that carry gradients reached an operation"),
    (aliased_in_place, "would change an array that another name may also hold"),
    (in_place_on_parameter, "would change the caller's"),
    (or_operator, "no gradient rule for `and`/`or`"),
    (mutates_in_an_expression_statement, "may change an array that carries a gradient"),
    (out_by_keyword, "with `out=`: the result is written into that array as well"),
    (out_by_position, "with `out=`: the result is written into that array as well"),
    (out_of_a_method_by_position, "with `out=`: the result is written into that array as well"),
    (copy_false_by_position_then_in_place, "would change an array that another name may also hold"),
    (out_by_position_then_in_place, "would change an array that another name may also hold"),
    (in_place_on_a_name_an_integer_on_one_path_only, "would change an array that another name may also hold"),
]


@pytest.mark.parametrize("fn, message", REFUSED_RATHER_THAN_WRONG, ids=[c[0].__name__ for c in REFUSED_RATHER_THAN_WRONG])
def test_refused_rather_than_wrong(fn, message):
    with pytest.raises(SourcegradError, match=message):
        sourcegrad.differentiate(fn).grad(np.array([0.3, 1.7, -0.4]))


def sorts_in_place(w):
    h = w * 2.0
    h.sort()
    return h[0] + 5.0 * h[2]


def multiplies_in_place(w):
    h = w * 1.0
    np.multiply(h, 2.0, out=h)
    return (h * h).sum()


def test_an_in_place_method_on_a_value_with_a_gradient_is_refused():
    with pytest.raises(SourcegradError, match="changes its array in place") as info:
        sourcegrad.differentiate(sorts_in_place).grad(np.array([3.0, 1.0, 2.0]))
    assert "h.sort()" in str(info.value) and "`a = np.sort(a)`" in str(info.value)


def test_the_out_refusal_points_at_its_line():
    with pytest.raises(SourcegradError) as info:
        sourcegrad.differentiate(multiplies_in_place).grad(np.ones(2))
    assert "np.multiply(h, 2.0, out=h)" in str(info.value)


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


# ---- what lambdas, closures, conditional expressions and nested functions still may not do -----------------

def conditional_in_while_condition(w):
    while (w.sum() if w[0] > 0 else -w.sum()) < 10:
        w = w * 2.0
    return w.sum()


def returns_its_nested_function(w):
    def inner(v):
        return v * 2
    return inner


def passes_its_nested_function_on(w):
    def inner(v):
        return v * 2
    return np.sum(np.apply_along_axis(inner, 0, w))


def nested_function_rebinds_with_nonlocal(w):
    total = w

    def accumulate(v):
        nonlocal total
        total = total + v
        return total
    return accumulate(w).sum()


def nested_function_in_a_branch(w):
    if w.sum() > 0:
        def inner(v):
            return v * 2
        w = inner(w)
    return w.sum()


def decorated_nested_function(w):
    @staticmethod
    def inner(v):
        return v * 2
    return inner(w).sum()


def lambda_inside_the_body(w):
    act = lambda v: v * 2  # noqa: E731
    return act(w).sum()


def nested_function_with_a_computed_default(w):
    def inner(v, scale=w.sum()):
        return v * scale
    return inner(w).sum()


NESTED_CASES = [
    (conditional_in_while_condition, "w.sum() if w[0] > 0 else -w.sum()", "in a `while` condition is not supported"),
    (returns_its_nested_function, "inner", "uses the nested function inner other than by calling it"),
    (passes_its_nested_function_on, "inner", "uses the nested function inner other than by calling it"),
    (nested_function_rebinds_with_nonlocal, "nonlocal total", "rebinds a variable of nested_function_rebinds_with_nonlocal"),
    (nested_function_in_a_branch, "def inner(v):", "a function defined inside a loop, a branch"),
    (decorated_nested_function, "staticmethod", "a decorated function defined inside"),
    (lambda_inside_the_body, "lambda v: v * 2", "lambdas are not supported inside a differentiated function"),
    (nested_function_with_a_computed_default, "w.sum()", "has a default that is not a literal"),
]


@pytest.mark.parametrize("fn, at, message", NESTED_CASES, ids=[c[0].__name__ for c in NESTED_CASES])
def test_nested_forms_refused_with_location_and_advice(fn, at, message):
    test_refused_with_location_and_advice(fn, at, message)


def test_lambda_error_cites_the_lambdas_own_line():
    refused = lambda w: w.sum() if w[0] > 0 else sum({v for v in w})  # noqa: E731
    with pytest.raises(SourcegradError) as info:
        sourcegrad.grad(refused)(np.ones(3))
    assert f"test_errors.py:{refused.__code__.co_firstlineno}:" in str(info.value)
    assert "set comprehensions" in str(info.value)


def test_an_append_to_a_list_a_dict_holds_is_refused_in_the_words_the_user_wrote():
    with pytest.raises(SourcegradError) as info:
        sourcegrad.differentiate(appended_to_a_list_a_dict_holds).grad(np.array([1.0, 2.0]))
    assert '`d["hs"].append(...)`' in str(info.value) and '`d["hs"] = d["hs"] + [value]`' in str(info.value)


class _Cached:
    def __init__(self):
        self.cache = np.zeros(3)


def reads_back_what_it_stored(box, w):
    box.cache = w * 2.0
    return np.sum(box.cache * w)  # Python reads the new value, through the object


def stores_in_a_chain(box, w):
    box.cache = total = w * 2.0
    return np.sum(total)


@pytest.mark.parametrize("fn, message", [
    (reads_back_what_it_stored, "`.cache` is read here, and the function also assigns"),
    (stores_in_a_chain, "only `obj.name = value`, alone on its line"),
], ids=["read_back", "chain"])
def test_an_attribute_stored_and_read_back_or_stored_in_a_chain_is_refused(fn, message):
    with pytest.raises(SourcegradError, match=message) as info:
        sourcegrad.differentiate(fn, wrt="w").grad(_Cached(), np.arange(1.0, 4.0))
    assert "test_errors.py" in str(info.value).splitlines()[0]


ARRAY_MODULE = np  # an alias of numpy at the top level, which sourcegrad resolves


def calls_numpy_through_a_module_level_alias(w):
    return ARRAY_MODULE.sum(w ** 2) + ARRAY_MODULE.exp(w[0])


def test_numpy_through_a_module_level_alias_is_differentiated():
    w = np.arange(1.0, 4.0)
    np.testing.assert_allclose(sourcegrad.grad(calls_numpy_through_a_module_level_alias)(w),
                               2 * w + np.array([np.e, 0.0, 0.0]))
