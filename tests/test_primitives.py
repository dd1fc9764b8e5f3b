"""Every gradient rule, checked on the spellings and shapes users write.

One table drives the tests. Each entry is a primitive as a user writes it (an
operator, an np. function, an array method) inside a tiny module-level function,
the input domain on which float64 central finite differences are valid for it,
and the shape cases to try. Every function has the form

    def f(<inputs>, w):
        return (<primitive applied to the inputs> * w).sum()

w is a fixed random array of the primitive's output shape: weighting the output
makes each output element's gradient different, so a rule that sends the
gradient to the wrong element, or sums it over the wrong axis, is caught, which
an all-ones output gradient would hide. Gradients are taken with respect to
every input except w.

The functions must live in this file, not in exec'd strings or lambdas:
sourcegrad reads a function's source with inspect.
"""
from __future__ import annotations

import builtins
import operator
import zlib

import numpy as np
import pytest

import sourcegrad
from sourcegrad.emit.store import ENVIRONMENT_VARIABLE
from sourcegrad.ir import JOIN_SEQUENCES, REPEAT_SEQUENCE, SET_ITEM
from sourcegrad.templates import RULES, TANGENT_RULES

from device_support import IN_MEMORY_DEVICES, assert_on, host, on
from rule_support import (
    APART, BROADCAST, CLIP_ARRAYS, CLIP_ONE_ARRAY, DOT, DOT_METHOD, Entry, MATMUL, OFF_INTEGERS, RANK3, SCALAR,
    TOLERANCE, TWELVE, UNARY, UNARY_ARRAYS, X_HI, X_LO, X_LO_HI, make_inputs, positive, real, shapes,
)


@pytest.fixture(params=IN_MEMORY_DEVICES)
def device(request):
    """numpy, and cupy where a GPU is present. On dask the table runs one shape case per entry
    (test_dask_device.py): all of them would add minutes to CI and test the same rules again."""
    return request.param


# ---- the primitives, as users write them --------------------------------------------------------------
# Operators (each broadcast pair is tried on every binary operator).


def add_op(x, y, w):
    return ((x + y) * w).sum()


def sub_op(x, y, w):
    return ((x - y) * w).sum()


def mul_op(x, y, w):
    return ((x * y) * w).sum()


def div_op(x, y, w):
    return ((x / y) * w).sum()


def pow_op(x, y, w):
    return ((x ** y) * w).sum()


def neg_op(x, w):
    return (-x * w).sum()


def pos_op(x, w):
    return (+x * w).sum()


def pow_2(x, w):
    return ((x ** 2) * w).sum()


def pow_3(x, w):
    return ((x ** 3) * w).sum()


def pow_half(x, w):
    return ((x ** 0.5) * w).sum()


def pow_minus_1(x, w):
    return ((x ** -1) * w).sum()


def pow_boolean_exponent(x, w):
    # an exponent known only at run time, and boolean: x where x > 0.5, else 1
    return ((x ** (x > 0.5)) * w).sum()


def pow_constant_base(x, w):
    return ((2.0 ** x) * w).sum()


def matmul_op(x, y, w):
    return ((x @ y) * w).sum()


# The numpy functions the operators stand for have rules of their own.


def np_add(x, y, w):
    return (np.add(x, y) * w).sum()


def np_subtract(x, y, w):
    return (np.subtract(x, y) * w).sum()


def np_multiply(x, y, w):
    return (np.multiply(x, y) * w).sum()


def np_divide(x, y, w):
    return (np.divide(x, y) * w).sum()


def np_power(x, y, w):
    return (np.power(x, y) * w).sum()


def np_power_3(x, w):
    return (np.power(x, 3) * w).sum()


def np_negative(x, w):
    return (np.negative(x) * w).sum()


def np_positive(x, w):
    return (np.positive(x) * w).sum()


def np_matmul(x, y, w):
    return (np.matmul(x, y) * w).sum()


def np_dot(x, y, w):
    return (np.dot(x, y) * w).sum()


def dot_method(x, y, w):
    return (x.dot(y) * w).sum()


# Elementwise functions.


def np_exp(x, w):
    return (np.exp(x) * w).sum()


def np_log(x, w):
    return (np.log(x) * w).sum()


def np_sqrt(x, w):
    return (np.sqrt(x) * w).sum()


def np_square(x, w):
    return (np.square(x) * w).sum()


def np_tanh(x, w):
    return (np.tanh(x) * w).sum()


def np_sin(x, w):
    return (np.sin(x) * w).sum()


def np_cos(x, w):
    return (np.cos(x) * w).sum()


def np_abs(x, w):
    return (np.abs(x) * w).sum()


def builtin_abs(x, w):
    return (abs(x) * w).sum()


def relu(x, w):
    return (np.maximum(x, 0) * w).sum()


def relu_zero_first(x, w):
    return (np.maximum(0, x) * w).sum()


def min_zero(x, w):
    return (np.minimum(x, 0.0) * w).sum()


def np_maximum(x, y, w):
    return (np.maximum(x, y) * w).sum()


def np_minimum(x, y, w):
    return (np.minimum(x, y) * w).sum()


# clip: constant bounds, array bounds (differentiated too), and None for one bound.


def clip_constants(x, w):
    return (np.clip(x, -1.0, 1.0) * w).sum()


def clip_no_lower(x, w):
    return (np.clip(x, None, 1.0) * w).sum()


def clip_no_upper(x, w):
    return (np.clip(x, -1, None) * w).sum()


def clip_arrays(x, lo, hi, w):
    return (np.clip(x, lo, hi) * w).sum()


def clip_lower_array(x, lo, w):
    return (np.clip(x, lo, None) * w).sum()


def clip_upper_array(x, hi, w):
    return (np.clip(x, None, hi) * w).sum()


def clip_keywords(x, w):
    return (np.clip(x, a_min=-1.0, a_max=1.0) * w).sum()


def clip_keyword_a(x, w):
    return (np.clip(a=x, a_min=-1.0, a_max=1.0) * w).sum()  # numpy's keyword for the array too


def clip_method(x, w):
    return (x.clip(-1.0, 1.0) * w).sum()


def clip_method_arrays(x, lo, hi, w):
    return (x.clip(lo, hi) * w).sum()


def clip_method_no_lower(x, w):
    return (x.clip(None, 1.0) * w).sum()


# ndarray.clip names its bounds min= and max= (np.clip's a_min= and a_max= are not accepted there).
def clip_method_max_keyword(x, w):
    return (x.clip(max=1.0) * w).sum()


def clip_method_min_keyword(x, lo, w):
    return (x.clip(min=lo) * w).sum()


# Reductions: every way of naming axes, with and without keepdims, as a function and as a method.


def sum_keyword_a(x, w):
    return (np.sum(a=x, axis=0) * w).sum()  # numpy's keyword for the array


def sum_all(x, w):
    return (np.sum(x) * w).sum()


def sum_axis_0(x, w):
    return (np.sum(x, axis=0) * w).sum()


def sum_axis_1_positional(x, w):
    return (np.sum(x, 1) * w).sum()


def sum_axis_minus_1(x, w):
    return (np.sum(x, axis=-1) * w).sum()


def sum_axis_tuple(x, w):
    return (np.sum(x, axis=(0, 2)) * w).sum()


def sum_axis_tuple_negative(x, w):
    return (np.sum(x, axis=(0, -1)) * w).sum()


def sum_all_keepdims(x, w):
    return (np.sum(x, keepdims=True) * w).sum()


def sum_axis_1_keepdims(x, w):
    return (np.sum(x, axis=1, keepdims=True) * w).sum()


def sum_axis_minus_1_keepdims(x, w):
    return (np.sum(x, axis=-1, keepdims=True) * w).sum()


def sum_axis_tuple_keepdims(x, w):
    return (np.sum(x, axis=(0, 2), keepdims=True) * w).sum()


def sum_axis_0_keepdims_false(x, w):
    return (np.sum(x, axis=0, keepdims=False) * w).sum()


def sum_method(x, w):
    return (x.sum() * w).sum()


def sum_method_axis(x, w):
    return (x.sum(axis=0) * w).sum()


def sum_method_positional_negative(x, w):
    return (x.sum(-1) * w).sum()


def sum_method_tuple_keepdims(x, w):
    return (x.sum(axis=(0, 2), keepdims=True) * w).sum()


def sum_method_axis_keepdims(x, w):
    return (x.sum(axis=1, keepdims=True) * w).sum()


def sum_method_keepdims(x, w):
    return (x.sum(keepdims=True) * w).sum()


def mean_keyword_a(x, w):
    return (np.mean(a=x, axis=-1) * w).sum()


def mean_all(x, w):
    return (np.mean(x) * w).sum()


def mean_axis_0(x, w):
    return (np.mean(x, axis=0) * w).sum()


def mean_axis_1_positional(x, w):
    return (np.mean(x, 1) * w).sum()


def mean_axis_minus_1(x, w):
    return (np.mean(x, axis=-1) * w).sum()


def mean_axis_tuple(x, w):
    return (np.mean(x, axis=(0, 2)) * w).sum()


def mean_axis_tuple_negative(x, w):
    return (np.mean(x, axis=(0, -1)) * w).sum()


def mean_all_keepdims(x, w):
    return (np.mean(x, keepdims=True) * w).sum()


def mean_axis_1_keepdims(x, w):
    return (np.mean(x, axis=1, keepdims=True) * w).sum()


def mean_axis_minus_1_keepdims(x, w):
    return (np.mean(x, axis=-1, keepdims=True) * w).sum()


def mean_axis_tuple_keepdims(x, w):
    return (np.mean(x, axis=(0, 2), keepdims=True) * w).sum()


def mean_method(x, w):
    return (x.mean() * w).sum()


def mean_method_axis(x, w):
    return (x.mean(axis=0) * w).sum()


def mean_method_positional_negative(x, w):
    return (x.mean(-1) * w).sum()


def mean_method_tuple_keepdims(x, w):
    return (x.mean(axis=(0, 2), keepdims=True) * w).sum()


def mean_method_axis_keepdims(x, w):
    return (x.mean(axis=1, keepdims=True) * w).sum()


def mean_method_keepdims(x, w):
    return (x.mean(keepdims=True) * w).sum()


# Transposes.


def transpose(x, w):
    return (np.transpose(x) * w).sum()


def transpose_axes(x, w):
    return (np.transpose(x, (1, 0, 2)) * w).sum()


def transpose_axes_keyword(x, w):
    return (np.transpose(a=x, axes=(2, 0, 1)) * w).sum()  # numpy's keyword for the array too


def transpose_negative_axes(x, w):
    return (np.transpose(x, (-1, 0, 1)) * w).sum()


def T_attribute(x, w):
    return (x.T * w).sum()


def transpose_method(x, w):
    return (x.transpose() * w).sum()


def transpose_method_varargs(x, w):
    return (x.transpose(2, 0, 1) * w).sum()


def transpose_method_tuple(x, w):
    return (x.transpose((1, 0, 2)) * w).sum()


# Reshapes.


def reshape(x, w):
    return (np.reshape(x, (4, 3)) * w).sum()


def reshape_minus_1(x, w):
    return (np.reshape(x, (2, -1)) * w).sum()


def reshape_flat(x, w):
    return (np.reshape(x, -1) * w).sum()


def reshape_shape_keyword(x, w):
    return (np.reshape(x, shape=(6, 2)) * w).sum()


def reshape_0d_to_1d(x, w):
    return (np.reshape(x, (1,)) * w).sum()


def reshape_method_varargs(x, w):
    return (x.reshape(3, 4) * w).sum()


def reshape_method_varargs_minus_1(x, w):
    return (x.reshape(2, -1, 3) * w).sum()


def reshape_method_tuple(x, w):
    return (x.reshape((2, 6)) * w).sum()


def reshape_method_flat(x, w):
    return (x.reshape(-1) * w).sum()


CORE = [
    # operators
    Entry(operator.add, add_op, BROADCAST),
    Entry(operator.sub, sub_op, BROADCAST),
    Entry(operator.mul, mul_op, BROADCAST),
    Entry(operator.truediv, div_op, BROADCAST, domain=(real, positive)),
    Entry(operator.pow, pow_op, BROADCAST, domain=positive),
    Entry(operator.pow, pow_2, UNARY),
    Entry(operator.pow, pow_3, UNARY),
    Entry(operator.pow, pow_half, UNARY, domain=positive),
    Entry(operator.pow, pow_minus_1, UNARY, domain=positive),
    Entry(operator.pow, pow_boolean_exponent, UNARY, domain=positive),
    Entry(operator.pow, pow_constant_base, UNARY),
    Entry(operator.neg, neg_op, UNARY),
    Entry(operator.pos, pos_op, UNARY),
    Entry(operator.matmul, matmul_op, MATMUL),
    # their numpy functions
    Entry(np.add, np_add, BROADCAST),
    Entry(np.subtract, np_subtract, BROADCAST),
    Entry(np.multiply, np_multiply, BROADCAST),
    Entry(np.divide, np_divide, BROADCAST, domain=(real, positive)),
    Entry(np.power, np_power, BROADCAST, domain=positive),
    Entry(np.power, np_power_3, UNARY),
    Entry(np.negative, np_negative, UNARY),
    Entry(np.positive, np_positive, UNARY),
    Entry(np.matmul, np_matmul, MATMUL),
    Entry(np.dot, np_dot, DOT),
    Entry(np.dot, dot_method, DOT_METHOD),
    # elementwise
    Entry(np.exp, np_exp, UNARY),
    Entry(np.log, np_log, UNARY, domain=positive),
    Entry(np.sqrt, np_sqrt, UNARY, domain=positive),
    Entry(np.square, np_square, UNARY),
    Entry(np.tanh, np_tanh, UNARY),
    Entry(np.sin, np_sin, UNARY),
    Entry(np.cos, np_cos, UNARY),
    Entry(np.abs, np_abs, UNARY, domain=OFF_INTEGERS),
    Entry(builtins.abs, builtin_abs, UNARY, domain=OFF_INTEGERS),
    Entry(np.maximum, relu, UNARY, domain=OFF_INTEGERS),
    Entry(np.maximum, relu_zero_first, UNARY, domain=OFF_INTEGERS),
    Entry(np.minimum, min_zero, UNARY, domain=OFF_INTEGERS),
    Entry(np.maximum, np_maximum, BROADCAST, domain=APART),
    Entry(np.minimum, np_minimum, BROADCAST, domain=APART),
    # clip
    Entry(np.clip, clip_constants, UNARY, domain=OFF_INTEGERS),
    Entry(np.clip, clip_no_lower, UNARY, domain=OFF_INTEGERS),
    Entry(np.clip, clip_no_upper, UNARY, domain=OFF_INTEGERS),
    Entry(np.clip, clip_keywords, UNARY, domain=OFF_INTEGERS),
    Entry(np.clip, clip_keyword_a, UNARY, domain=OFF_INTEGERS),
    Entry(np.clip, clip_arrays, CLIP_ARRAYS, domain=X_LO_HI),
    Entry(np.clip, clip_lower_array, CLIP_ONE_ARRAY, domain=X_LO),
    Entry(np.clip, clip_upper_array, CLIP_ONE_ARRAY, domain=X_HI),
    Entry(np.clip, clip_method, UNARY_ARRAYS, domain=OFF_INTEGERS),
    Entry(np.clip, clip_method_arrays, shapes([(3, 4), (3, 4), (3, 4)], [(3, 4), (4,), (3, 1)]), domain=X_LO_HI),
    Entry(np.clip, clip_method_no_lower, UNARY_ARRAYS, domain=OFF_INTEGERS),
    Entry(np.clip, clip_method_max_keyword, UNARY_ARRAYS, domain=OFF_INTEGERS),
    Entry(np.clip, clip_method_min_keyword, shapes([(3, 4), (3, 4)], [(3, 4), (4,)]), domain=X_LO),
    # sum
    Entry(np.sum, sum_all, UNARY),
    Entry(np.sum, sum_keyword_a, shapes([(5,)], [(3, 4)])),
    Entry(np.sum, sum_axis_0, shapes([(5,)], [(3, 4)], [(2, 3, 4)])),
    Entry(np.sum, sum_axis_1_positional, shapes([(3, 4)], [(2, 3, 4)])),
    Entry(np.sum, sum_axis_minus_1, shapes([(5,)], [(3, 4)], [(2, 3, 4)])),
    Entry(np.sum, sum_axis_tuple, RANK3),
    Entry(np.sum, sum_axis_tuple_negative, shapes([(3, 4)], [(2, 3, 4)])),
    Entry(np.sum, sum_all_keepdims, UNARY_ARRAYS),
    Entry(np.sum, sum_axis_1_keepdims, shapes([(3, 4)], [(2, 3, 4)])),
    Entry(np.sum, sum_axis_minus_1_keepdims, shapes([(5,)], [(3, 4)], [(2, 3, 4)])),
    Entry(np.sum, sum_axis_tuple_keepdims, RANK3),
    Entry(np.sum, sum_axis_0_keepdims_false, shapes([(3, 4)], [(2, 3, 4)])),
    Entry(np.sum, sum_method, UNARY_ARRAYS),
    Entry(np.sum, sum_method_axis, shapes([(5,)], [(3, 4)], [(2, 3, 4)])),
    Entry(np.sum, sum_method_positional_negative, shapes([(5,)], [(3, 4)], [(2, 3, 4)])),
    Entry(np.sum, sum_method_tuple_keepdims, RANK3),
    Entry(np.sum, sum_method_axis_keepdims, shapes([(3, 4)], [(2, 3, 4)])),
    Entry(np.sum, sum_method_keepdims, UNARY_ARRAYS),
    # mean
    Entry(np.mean, mean_all, UNARY),
    Entry(np.mean, mean_keyword_a, shapes([(5,)], [(3, 4)])),
    Entry(np.mean, mean_axis_0, shapes([(5,)], [(3, 4)], [(2, 3, 4)])),
    Entry(np.mean, mean_axis_1_positional, shapes([(3, 4)], [(2, 3, 4)])),
    Entry(np.mean, mean_axis_minus_1, shapes([(5,)], [(3, 4)], [(2, 3, 4)])),
    Entry(np.mean, mean_axis_tuple, RANK3),
    Entry(np.mean, mean_axis_tuple_negative, shapes([(3, 4)], [(2, 3, 4)])),
    Entry(np.mean, mean_all_keepdims, UNARY_ARRAYS),
    Entry(np.mean, mean_axis_1_keepdims, shapes([(3, 4)], [(2, 3, 4)])),
    Entry(np.mean, mean_axis_minus_1_keepdims, shapes([(5,)], [(3, 4)], [(2, 3, 4)])),
    Entry(np.mean, mean_axis_tuple_keepdims, RANK3),
    Entry(np.mean, mean_method, UNARY_ARRAYS),
    Entry(np.mean, mean_method_axis, shapes([(5,)], [(3, 4)], [(2, 3, 4)])),
    Entry(np.mean, mean_method_positional_negative, shapes([(5,)], [(3, 4)], [(2, 3, 4)])),
    Entry(np.mean, mean_method_tuple_keepdims, RANK3),
    Entry(np.mean, mean_method_axis_keepdims, shapes([(3, 4)], [(2, 3, 4)])),
    Entry(np.mean, mean_method_keepdims, UNARY_ARRAYS),
    # transpose
    Entry(np.transpose, transpose, UNARY),
    Entry(np.transpose, transpose_axes, RANK3),
    Entry(np.transpose, transpose_axes_keyword, RANK3),
    Entry(np.transpose, transpose_negative_axes, RANK3),
    Entry(np.transpose, T_attribute, UNARY_ARRAYS),
    Entry(np.transpose, transpose_method, UNARY_ARRAYS),
    Entry(np.transpose, transpose_method_varargs, RANK3),
    Entry(np.transpose, transpose_method_tuple, RANK3),
    # reshape
    Entry(np.reshape, reshape, TWELVE),
    Entry(np.reshape, reshape_minus_1, TWELVE),
    Entry(np.reshape, reshape_flat, TWELVE + shapes([()])),
    Entry(np.reshape, reshape_shape_keyword, TWELVE),
    Entry(np.reshape, reshape_0d_to_1d, shapes([()], [(1,)], [(1, 1)])),
    Entry(np.reshape, reshape_method_varargs, TWELVE),
    Entry(np.reshape, reshape_method_varargs_minus_1, TWELVE),
    Entry(np.reshape, reshape_method_tuple, TWELVE),
    Entry(np.reshape, reshape_method_flat, TWELVE + shapes([()])),
]



# One table: the core rules above and each family's module.
FAMILIES = []
for _name in ("rules_elementwise", "rules_reductions", "rules_shape", "rules_linalg", "rules_indexing"):
    try:
        FAMILIES.append(__import__(_name))
    except ModuleNotFoundError as _missing:
        if _missing.name != _name:
            raise
try:
    import scipy.linalg  # noqa: F401
    import scipy.special  # noqa: F401
    import scipy.stats  # noqa: F401
except ImportError:  # scipy is optional: without it there are no scipy rules, and rules_scipy skips itself
    pass
else:
    sourcegrad.templates.load_optional_rules()  # registered when a compile meets scipy; the coverage test needs them now
    FAMILIES.append(__import__("rules_scipy"))
TABLE = CORE + [entry for family in FAMILIES for entry in family.TABLE]


def _params():
    """One pytest.param per (entry, shape case), id '<function>-<shapes>', with the entry's xfail."""
    params = []
    for entry in TABLE:
        for case in entry.shapes:
            marks = [pytest.mark.xfail(strict=True, reason=entry.xfail)] if entry.xfail else []
            params.append(pytest.param(entry, case, id=f"{entry.fn.__name__}-{case.id}", marks=marks))
    return params


@pytest.fixture
def generated_dir(tmp_path, monkeypatch):
    """Generated code goes to a fresh folder, never into the repository's generated/.

    The folder is read when a function's gradient is first compiled, so the tests also pass it to
    differentiate explicitly rather than rely on the variable being set at that moment.
    """
    folder = tmp_path / "generated"
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, str(folder))
    return folder


# ---- the tests --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("entry, case", _params())
def test_gradient_matches_finite_differences(entry, case, generated_dir, device):
    args = make_inputs(entry, case, np.float64)
    f = sourcegrad.differentiate(entry.fn, wrt=tuple(entry.inputs), generated_dir=generated_dir)
    errors = sourcegrad.check_grad(f, *args, device=device)
    assert list(errors) == entry.inputs
    assert max(errors.values()) < TOLERANCE, errors


@pytest.mark.parametrize("entry, case", _params())
def test_float32_gradients_keep_dtype_and_shape(entry, case, generated_dir, device):
    args = make_inputs(entry, case, np.float32)
    f = sourcegrad.differentiate(entry.fn, wrt=tuple(entry.inputs), generated_dir=generated_dir)
    gradients = f.grad(*on(device, args))
    assert len(gradients) == len(entry.inputs)
    assert_on(device, [g for g, a in zip(gradients, args) if isinstance(a, np.ndarray)])
    gradients = host(gradients)
    expected = f.grad(*[a.astype(np.float64) if isinstance(a, np.ndarray) else a for a in args])
    for name, argument, gradient, reference in zip(entry.inputs, args, gradients, expected):
        assert np.shape(gradient) == np.shape(argument), name
        if isinstance(argument, np.ndarray):
            assert gradient.dtype == np.float32, f"d_{name} is {gradient.dtype}"
        # float32 rounding only: a float32-specific path must not compute something else
        np.testing.assert_allclose(gradient, reference, rtol=1e-4, atol=1e-4, err_msg=name)


def index_by_an_argument(v, x, m):
    return (v * x[m]).sum()


@pytest.mark.parametrize("index", [np.array(True), np.True_, np.array(1), 1], ids=["0-d bool array", "numpy bool",
                                                                                   "0-d int array", "int"])
def test_an_index_argument_of_rank_0_may_add_an_axis(index):
    """A rank-0 argument used as an index takes an axis away when it is an integer and adds one when it is a bool
    (x[True] is x[None]), and one compiled gradient serves both (it is compiled per rank): each gradient keeps
    its argument's shape."""
    v, x = np.arange(3.0), np.array([2.0, -1.0, 0.5])
    d_v, d_x = sourcegrad.differentiate(index_by_an_argument, wrt=("v", "x")).grad(v, x, index)
    if x[index].ndim:  # a bool: the loss is (v * x).sum()
        np.testing.assert_allclose(d_v, x)
        np.testing.assert_allclose(d_x, v)
    else:  # an integer: the loss is v.sum() * x[1]
        np.testing.assert_allclose(d_v, np.full(3, x[1]))
        np.testing.assert_allclose(d_x, [0.0, v.sum(), 0.0])


# Rules whose results the table's float64 finite differences cannot check, and where their tests are.
CHECKED_OUTSIDE_THE_TABLE = {
    # a cast to float32 rounds each step of a finite difference away; tested on exact values
    np.float32: "rules_shape.py: test_a_float32_constructor_is_a_cast_with_the_gradient_in_the_input_dtype",
}


def test_table_covers_every_registered_rule():
    """A rule added to sourcegrad.templates without an entry here fails this test."""

    def is_function_rule(primitive):
        # numpy functions and ufuncs, and what operators and builtins (abs) resolve to; methods and
        # attributes share these rules, so their keys never appear here.
        if isinstance(primitive, np.ufunc) or getattr(primitive, "__module__", None) == "numpy":
            return True
        name = getattr(primitive, "__name__", "")
        return any(getattr(module, name, None) is primitive for module in (operator, builtins))

    tested = [entry.primitive for entry in TABLE] + list(CHECKED_OUTSIDE_THE_TABLE)
    missing = [primitive for primitive in RULES
               if is_function_rule(primitive) and not any(primitive is t for t in tested)]
    assert not missing, f"primitives with a gradient rule but no table entry: {missing}"


def test_table_primitives_have_rules():
    # The converse: an entry naming a primitive without a rule would claim coverage it does not give.
    assert all(entry.primitive in RULES for entry in TABLE)


# ---- forward mode: the tangent rules, on the same table -------------------------------------------------------
# Every entry's function is scalar-valued, so its derivative along tangents t (one for each input, w held still)
# is one number. Float64 central differences of f along t check it, and so does the gradient: grad . t. A tangent
# rule that puts an input's tangent in the wrong place, or reduces it over the wrong axes, changes that number,
# because w weighs every output element differently.

# Primitives with a gradient rule and no tangent rule, and why. A rule added to one table and not the other fails
# test_gradient_and_tangent_rules_come_in_pairs until it gets its pair or is listed here.
WITHOUT_TANGENT_RULE = {
    SET_ITEM: "the forward transform writes `a[i] = v` itself: the new version's tangent is xp.set_item(d_a, i, d_v)",
    JOIN_SEQUENCES: "`outs + [h]`: forward mode keeps no tangent for a list built by + (its items' tangents would be "
                    "a list beside it)",
    REPEAT_SEQUENCE: "`[h] * 3`: as for `+` of lists",
}

# The kinks where a tie picks one side: maximum's x == y, abs at 0, a clip bound, tied maxima of a reduction,
# tied elements of a sort. Finite differences cannot see which side a rule picks; the gradient rules pick by
# the convention of templates/elementwise.py, and the tangent rules must pick the same.
KINKS = {np.maximum, np.minimum, np.fmax, np.fmin, np.clip, np.abs, np.fabs, builtins.abs, np.hypot, np.max, np.min,
         np.amax, np.amin, np.sort, np.partition, np.linalg.norm, np.median, np.nanmedian, np.quantile, np.nanquantile,
         np.percentile, np.nanpercentile, np.maximum.accumulate, np.minimum.accumulate}


def _own(table):
    """The primitives of sourcegrad's own rules in RULES or TANGENT_RULES (other tests register users' rules)."""
    return {primitive for primitive, template in table.items() if template.fn.__module__.startswith("sourcegrad.")}


# Entries whose tangent is known to differ from finite differences, by table function name, and why. Strict, so a
# fix shows up as an XPASS failure.
TANGENT_XFAIL = {
    "sqrt_of_where": "forward mode's side of np.where's gradient at an untaken branch: where x < 0 the where's tangent "
                     "is 0 and sqrt's derivative at 0 is inf, and the tangent rule computes 0 / 0 = nan (the gradient "
                     "rule selects the inf away). The cure is the README's: keep 0 out of sqrt with a second where",
}


def _tangent_params(primitives=None, xfail=False):
    """One pytest.param per (entry, shape case) of the entries whose primitive has a tangent rule (of the
    entries whose primitive is in primitives, if given). Not with the entries' own xfail marks, which name
    gradient bugs; with TANGENT_XFAIL's if xfail."""
    params = []
    for entry in TABLE:
        if entry.primitive in TANGENT_RULES and (primitives is None or entry.primitive in primitives):
            reason = TANGENT_XFAIL.get(entry.fn.__name__) if xfail else None
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            params.extend(pytest.param(entry, case, id=f"{entry.fn.__name__}-{case.id}", marks=marks)
                          for case in entry.shapes)
    return params


def _tangents(entry, case, dtype):
    """A random tangent for each input: an array of its shape, a Python float for a Python float.
    Seeded by the case alone, so the float64 and float32 tests move along the same direction."""
    rng = np.random.default_rng(zlib.crc32(f"tangent-{entry.fn.__name__}-{case.id}".encode()))
    return [float(rng.standard_normal()) if shape == SCALAR else np.asarray(rng.standard_normal(shape), dtype=dtype)
            for shape in case.inputs]


def _in_scipy_stats(primitive):
    """Whether primitive is a method of one of scipy.stats's distributions (scipy.stats.norm.logpdf)."""
    return type(getattr(primitive, "__self__", None)).__module__.startswith("scipy.stats")


def _moved(inputs, tangents, step):
    return [x + step * t if isinstance(x, float) else np.asarray(x + step * t) for x, t in zip(inputs, tangents)]


def _directional_difference(fn, inputs, tangents, weights, eps=1e-6):
    """(f(x + eps t) - f(x - eps t)) / (2 eps), in float64, with the weights held still."""
    plus = float(fn(*_moved(inputs, tangents, eps), weights))
    minus = float(fn(*_moved(inputs, tangents, -eps), weights))
    return (plus - minus) / (2 * eps)


def _gradient_along(f, inputs, weights, tangents, device):
    """grad . t from the gradient rules, and the sum of the terms' magnitudes (the scale of its rounding)."""
    gradients = host(f.grad(*on(device, [*inputs, weights])))
    terms = [np.asarray(g, dtype=np.float64) * t for g, t in zip(gradients, tangents)]
    return sum(float(np.sum(term)) for term in terms), sum(float(np.sum(np.abs(term))) for term in terms)


@pytest.mark.parametrize("entry, case", _tangent_params(xfail=True))
def test_tangent_matches_finite_differences_and_the_gradient(entry, case, generated_dir, device):
    *inputs, weights = make_inputs(entry, case, np.float64)
    tangents = _tangents(entry, case, np.float64)
    f = sourcegrad.differentiate(entry.fn, wrt=tuple(entry.inputs), generated_dir=generated_dir)
    _, derivative = f.jvp(on(device, [*inputs, weights]), on(device, tangents), device=device)
    derivative = float(host(derivative))
    numeric = _directional_difference(entry.fn, inputs, tangents, weights)
    # the measure check_grad uses: relative where the derivative is large, absolute where it is small
    assert abs(derivative - numeric) / max(1.0, abs(numeric)) < TOLERANCE, (derivative, numeric)
    along, scale = _gradient_along(f, inputs, weights, tangents, device)
    assert abs(derivative - along) <= 1e-9 * max(1.0, scale), (derivative, along)


@pytest.mark.parametrize("entry, case", _tangent_params())
def test_float32_tangents_keep_dtype_and_shape(entry, case, generated_dir, device):
    args = make_inputs(entry, case, np.float32)
    tangents = _tangents(entry, case, np.float32)
    f = sourcegrad.differentiate(entry.fn, wrt=tuple(entry.inputs), generated_dir=generated_dir)
    value, derivative = f.jvp(on(device, args), on(device, tangents), device=device)
    assert_on(device, [v for v in (value, derivative) if hasattr(v, "dtype")])
    value, derivative = host(value), host(derivative)
    assert np.shape(derivative) == np.shape(value)
    # The output's own dtype: float32, or float64 where the function casts (np.array(x, dtype=np.float64)). Two
    # exceptions. With Python numbers as the only inputs: numpy makes np.add(2.0, 3.0) a float64 scalar, which a
    # float32 w does not narrow, but d_x + d_y stays a Python float, which it does (and abs(2.0) the other way
    # round). And scipy.stats computes in float64 whatever it is given: the tangent stays its inputs' float32.
    dtype, expected = np.asarray(derivative).dtype, np.asarray(value).dtype
    numbers_only = all(shape == SCALAR for shape in case.inputs)
    widened = _in_scipy_stats(entry.primitive) and (dtype, expected) == (np.float32, np.float64)
    assert dtype == expected or numbers_only or widened, f"the tangent is {dtype}, not {expected}"
    wide = [np.float64(a) if isinstance(a, float) else np.asarray(a, dtype=np.float64) for a in args]
    _, reference = f.jvp([float(a) if isinstance(a, float) else a for a in wide],
                         [t if isinstance(t, float) else t.astype(np.float64) for t in tangents])
    # float32 rounding only: a float32-specific path must not compute something else
    np.testing.assert_allclose(np.float64(derivative), reference, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("entry, case", _tangent_params(KINKS))
def test_tangents_follow_the_gradients_convention_at_ties(entry, case, generated_dir, device):
    # The inputs rounded to integers: maximum's operands tie, abs and relu sit at 0, clip's x at its bounds,
    # reductions and sorts meet equal elements.
    *inputs, weights = make_inputs(entry, case, np.float64)
    inputs = [float(np.round(x)) if isinstance(x, float) else np.round(x) for x in inputs]
    tangents = _tangents(entry, case, np.float64)
    f = sourcegrad.differentiate(entry.fn, wrt=tuple(entry.inputs), generated_dir=generated_dir)
    _, derivative = f.jvp(on(device, [*inputs, weights]), on(device, tangents), device=device)
    derivative = float(host(derivative))
    along, scale = _gradient_along(f, inputs, weights, tangents, device)
    # both nan counts as agreeing: norm(x, ord=-1) of a row with a 0 in it has nan for both
    both_nan = np.isnan(derivative) and np.isnan(along)
    assert both_nan or abs(derivative - along) <= 1e-9 * max(1.0, scale), (derivative, along)


def test_gradient_and_tangent_rules_come_in_pairs():
    """Each gradient rule has a tangent rule beside it, but for the primitives WITHOUT_TANGENT_RULE lists; and
    no tangent rule stands without a gradient rule."""

    def names(primitives):
        return sorted(str(getattr(p, "__qualname__", p)) for p in primitives)

    # the runtime helpers of tangent rules have gradient rules for hvp, and need no tangent rules: nothing takes a
    # third derivative
    helpers = set(sourcegrad.runtime.HELPERS.values()) - set(TANGENT_RULES)
    without = _own(RULES) - _own(TANGENT_RULES) - helpers
    assert names(without - set(WITHOUT_TANGENT_RULE)) == [], "gradient rules without a tangent rule"
    assert names(set(WITHOUT_TANGENT_RULE) - without) == [], "listed in WITHOUT_TANGENT_RULE, but have a tangent rule"
    assert names(_own(TANGENT_RULES) - _own(RULES)) == [], "tangent rules without a gradient rule"


# ---- second order: Hessian-vector products on the table ------------------------------------------------------------
# hvp is reverse mode over the tangent lines, so it reaches through a primitive when the runtime helpers its tangent
# rule calls have gradient rules (registry.helpers_without_gradient lists those that have none). The entries whose
# hvp is refused for that reason, by table function name; strict both ways: a listed entry must be refused with
# the message that names the primitive, an unlisted one must match finite differences of the gradient.
# An entry refused in one shape case only is listed as "name[case id]".
SECOND_ORDER_REFUSED = {
    "norm_nuclear", "norm_spectral", "norm_spectral_batched",
}
# Primitives whose helpers have gradient rules that refuse some forms at run time, and which forms.
REFUSED_BY_THEIR_RULES = {np.linalg.norm: "the spectral and nuclear norms of matrices (ord 2, -2, 'nuc')"}


def _second_order_params():
    """Two shape cases per entry with a tangent rule (the first and the last, usually the largest or broadcast):
    each hvp compiles a program of its own, so the whole list of cases would cost minutes."""
    params = []
    for entry in TABLE:
        if entry.primitive in TANGENT_RULES and not entry.xfail and entry.fn.__name__ not in TANGENT_XFAIL:
            cases = {case.id: case for case in (entry.shapes[0], entry.shapes[-1])}
            params.extend(pytest.param(entry, case, id=f"{entry.fn.__name__}-{case.id}") for case in cases.values())
    return params


@pytest.mark.parametrize("entry, case", _second_order_params())
def test_hvp_matches_finite_differences_of_the_gradient(entry, case, generated_dir, device):
    *inputs, weights = make_inputs(entry, case, np.float64)
    vectors = _tangents(entry, case, np.float64)
    f = sourcegrad.differentiate(entry.fn, wrt=tuple(entry.inputs), generated_dir=generated_dir)
    if entry.fn.__name__ in SECOND_ORDER_REFUSED or f"{entry.fn.__name__}[{case.id}]" in SECOND_ORDER_REFUSED:
        with pytest.raises(sourcegrad.SourcegradError, match="no second derivative through"):
            f.hvp(on(device, [*inputs, weights]), on(device, vectors), device=device)
        return
    products = host(f.hvp(on(device, [*inputs, weights]), on(device, vectors), device=device))
    eps = 1e-5
    ahead = f.grad(*_moved(inputs, vectors, eps), weights)
    behind = f.grad(*_moved(inputs, vectors, -eps), weights)
    for name, product, a, b in zip(entry.inputs, products, ahead, behind):
        numeric = (np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)) / (2 * eps)
        product = np.asarray(product, dtype=np.float64)
        assert product.shape == numeric.shape, name
        np.testing.assert_allclose(product, numeric, rtol=1e-5, atol=1e-5, err_msg=name)


def test_second_order_refusals_are_the_helpers_without_gradient_rules():
    """Each entry listed as refused has a primitive whose tangent rule calls a helper without a gradient rule, or
    one whose helpers' rules refuse some of its forms."""
    from sourcegrad.templates.registry import helpers_without_gradient

    by_name = {entry.fn.__name__: entry for entry in TABLE}
    unexplained = sorted(name for name in SECOND_ORDER_REFUSED
                         if not helpers_without_gradient(TANGENT_RULES[by_name[name.split("[")[0]].primitive])
                         and by_name[name.split("[")[0]].primitive not in REFUSED_BY_THEIR_RULES)
    assert unexplained == [], "listed as refused, but their tangent rules' helpers all have gradient rules"
