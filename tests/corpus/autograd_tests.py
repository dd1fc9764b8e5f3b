"""Programs from autograd's test suite (HIPS/autograd, tests/*.py), written as its tests write them: most
tests define a small `fun` inside the test (sometimes a lambda) and call check_grads on it. Here each is a
module-level function named after its test; `autograd.numpy as np` is `numpy as np`."""

import operator as op

import numpy as np
import scipy.special
import scipy.stats

from .registry import collector, out_of_scope

GROUP = "autograd tests"
program, case = collector(GROUP)

NUMPY = "HIPS/autograd tests/test_numpy.py "
SYSTEMATIC = "HIPS/autograd tests/test_systematic.py "
LINALG = "HIPS/autograd tests/test_linalg.py "
SCIPY = "HIPS/autograd tests/test_scipy.py "
CORE = "HIPS/autograd tests/test_core.py "
GRAPHS = "HIPS/autograd tests/test_graphs.py "
WRAPPERS = "HIPS/autograd tests/test_wrappers.py "
BUILTINS = "HIPS/autograd tests/test_builtins.py "
LOGIC = "HIPS/autograd tests/test_logic.py "


def R(*shape):
    return lambda r: (r.randn(*shape),)


def R2(shape_x, shape_y):
    return lambda r: (r.randn(*shape_x), r.randn(*shape_y))


def positive(*shape):
    return lambda r: (r.rand(*shape) + 0.5,)


def unit(*shape):  # inside (-1, 1), away from its ends
    return lambda r: (r.uniform(-0.8, 0.8, shape),)


# ---- tests/test_core.py: scalar arithmetic, each a lambda as autograd writes it, at x, y = 0.7, 1.8 ---------

def core_point(r):
    return 0.7, 1.8


for _name, _function in [("test_add", lambda x, y: x + y),
                         ("test_sub", lambda x, y: x - y),
                         ("test_div", lambda x, y: x / y),
                         ("test_mul", lambda x, y: x * y),
                         ("test_pow", lambda x, y: x ** y),
                         ("test_mod", lambda x, y: x % y),
                         ("test_eq", lambda x, y: x == y),
                         ("test_lt", lambda x, y: x < y)]:
    program(CORE + _name, core_point, wrt=(0, 1), name=_name)(_function)


# ---- tests/test_numpy.py: `fun` as each test defines it; tests whose fun closes over the test's arrays are cases --

@program(NUMPY + "test_dot", R2((10, 11), (11,)), wrt=(0, 1))
def test_dot(x, y):
    return np.dot(x, y)


@program(NUMPY + "test_dot_with_floats", lambda r: (r.randn(10, 11), float(r.randn())), wrt=(0, 1))
def test_dot_with_floats(x, y):
    return np.dot(x, y)


@program(NUMPY + "test_outer", R2((11,), (11,)), wrt=(0, 1))
def test_outer(x, y):
    return np.outer(x, y)


@program(NUMPY + "test_max", R(10, 11))
def test_max(x):
    return np.max(x)


@program(NUMPY + "test_max_axis", R(3, 4, 5))
def test_max_axis(x):
    return np.max(x, axis=1)


@program(NUMPY + "test_max_axis_keepdims", R(3, 4, 5))
def test_max_axis_keepdims(x):
    return np.max(x, axis=1, keepdims=True)


@program(NUMPY + "test_min", R(10, 11))
def test_min(x):
    return np.min(x)


@program(NUMPY + "test_min_axis", R(3, 4, 5))
def test_min_axis(x):
    return np.min(x, axis=1)


@program(NUMPY + "test_sum_1", R(10, 11))
def test_sum_1(x):
    return np.sum(x)


@program(NUMPY + "test_sum_2", R(10, 11))
def test_sum_2(x):
    return np.sum(x, axis=0)


@program(NUMPY + "test_sum_3", R(10, 11))
def test_sum_3(x):
    return np.sum(x, axis=0, keepdims=True)


@program(NUMPY + "test_sum_with_axis_tuple", R(10, 11, 7))
def test_sum_with_axis_tuple(x):
    return np.sum(x, axis=(1, 2))


@program(NUMPY + "test_flipud", R(10, 11))
def test_flipud(x):
    return np.flipud(x)


@program(NUMPY + "test_fliplr", R(10, 11))
def test_fliplr(x):
    return np.fliplr(x)


@program(NUMPY + "test_rot90", R(10, 11))
def test_rot90(x):
    return np.rot90(x)


@program(NUMPY + "test_cumsum_axis0", R(10, 11))
def test_cumsum_axis0(x):
    return np.cumsum(x, axis=0)


@program(NUMPY + "test_cumsum_axis1", R(10, 11))
def test_cumsum_axis1(x):
    return np.cumsum(x, axis=1)


@program(NUMPY + "test_cumsum_1d", R(10))
def test_cumsum_1d(x):
    return np.cumsum(x)


@program(NUMPY + "test_cumsum_no_axis", R(10, 11))
def test_cumsum_no_axis(x):
    return np.cumsum(x)


@program(NUMPY + "test_non_numpy_sum", R2((10, 11), (10, 11)), wrt=(0, 1))
def test_non_numpy_sum(x, y):
    return sum([x, y])


@program(NUMPY + "test_mean_1", R(10, 11))
def test_mean_1(x):
    return np.mean(x)


@program(NUMPY + "test_mean_2", R(10, 11))
def test_mean_2(x):
    return np.mean(x, axis=0)


@program(NUMPY + "test_mean_3", R(10, 11))
def test_mean_3(x):
    return np.mean(x, axis=0, keepdims=True)


@program(NUMPY + "test_index_ints", R(5, 6, 4))
def test_index_ints(x):
    return x[3, 0, 1]


@program(NUMPY + "test_index_slice", R(5, 6, 4))
def test_index_slice(x):
    return x[::-1, 2:4, :]


@program(NUMPY + "test_index_lists", R(5, 6, 4))
def test_index_lists(x):
    return x[[0, 1, 2], :, :]


@program(NUMPY + "test_index_mixed", R(5, 6, 4))
def test_index_mixed(x):
    return x[3, 2:, [1, 3]]


@program(NUMPY + "test_vector_slice", R(5))
def test_vector_slice(x):
    return x[2:4]


@program(NUMPY + "test_index_slice_fanout", R(5, 6, 4))
def test_index_slice_fanout(x):
    y = x[::-1, 2:4, :]
    z = x[::-1, 3:5, :]
    return y + z


@program(NUMPY + "test_index_multiple_slices", R(7))
def test_index_multiple_slices(x):
    y = x[2:6]
    z = y[1:3]
    return z


@program(NUMPY + "test_reshape_method", R(5, 6, 4))
def test_reshape_method(x):
    return x.reshape((5 * 4, 6))


@program(NUMPY + "test_reshape_call", R(5, 6, 4))
def test_reshape_call(x):
    return np.reshape(x, (5 * 4, 6))


@program(NUMPY + "test_reshape_method_nolist", R(5, 6, 4))
def test_reshape_method_nolist(x):
    # The reshape can be called in two different ways: like A.reshape((5,4)) or A.reshape(5,4) (autograd's comment)
    return x.reshape(5 * 4, 6)


@program(NUMPY + "test_ravel_method", R(5, 6, 4))
def test_ravel_method(x):
    return x.ravel()


@program(NUMPY + "test_ravel_call", R(5, 6, 4))
def test_ravel_call(x):
    return np.ravel(x)


@program(NUMPY + "test_flatten_method", R(5, 6, 4))
def test_flatten_method(x):
    return x.flatten()


@case(NUMPY + "test_simple_concatenate")
def test_simple_concatenate(r):
    A = r.randn(5, 6, 4)
    B = r.randn(4, 6, 4)

    def fun(x):
        return np.concatenate((A, x))
    return fun, (B,)


@case(NUMPY + "test_concatenate_axis_0")
def test_concatenate_axis_0(r):
    A = r.randn(5, 6, 4)
    B = r.randn(5, 6, 4)

    def fun(x):
        return np.concatenate((B, x, B))
    return fun, (A,)


@case(NUMPY + "test_concatenate_axis_1")
def test_concatenate_axis_1(r):
    A = r.randn(5, 6, 4)
    B = r.randn(5, 6, 4)

    def fun(x):
        return np.concatenate((B, x, B), axis=1)
    return fun, (A,)


@case(NUMPY + "test_concatenate_axis_1_unnamed")
def test_concatenate_axis_1_unnamed(r):
    """Tests whether you can specify the axis without saying "axis=1"."""
    A = r.randn(5, 6, 4)
    B = r.randn(5, 6, 4)

    def fun(x):
        return np.concatenate((B, x, B), 1)
    return fun, (A,)


@case(NUMPY + "test_trace")
def test_trace(r):
    def fun(x):
        return np.trace(x, offset=offset)
    mat = r.randn(10, 11)
    offset = r.randint(-9, 11)
    return fun, (mat,)


@case(NUMPY + "test_trace_extradims")
def test_trace_extradims(r):
    def fun(x):
        return np.trace(x, offset=offset)
    mat = r.randn(5, 6, 4, 3)
    offset = r.randint(-5, 6)
    return fun, (mat,)


@program(NUMPY + "test_trace (the second one: np.split)", R(10))
def test_split(x):
    return np.split(x, 2)[0]


@program(NUMPY + "test_diag", R(10, 10))
def test_diag(x):
    return np.diag(x)


@program(NUMPY + "test_transpose", R(8, 8))
def test_transpose(x):
    return x.T


@program(NUMPY + "test_roll", R(4, 5))
def test_roll(x):
    return np.roll(x, 2, axis=1)


@program(NUMPY + "test_triu", R(5, 5))
def test_triu(x):
    return np.triu(x, k=2)


@program(NUMPY + "test_tril", R(5, 5))
def test_tril(x):
    return np.tril(x, k=2)


@program(NUMPY + "test_clip", lambda r: (r.uniform(-1, 2, (5, 5)) + 0.003,))
def test_clip(x):
    return np.clip(x, a_min=0.1, a_max=1.1)


@program(NUMPY + "test_prod_1", lambda r: (r.randn(2, 3)**2 / 10.0 + 0.1,))
def test_prod_1(x):
    return np.prod(x)


@program(NUMPY + "test_prod_2", lambda r: (r.randn(2, 3)**2 + 0.1,))
def test_prod_2(x):
    return np.prod(x, axis=0)


@program(NUMPY + "test_prod_3", lambda r: (r.randn(2, 3)**2 + 0.1,))
def test_prod_3(x):
    return np.prod(x, axis=0, keepdims=True)


@program(NUMPY + "test_prod_4", lambda r: (r.randn(7)**2 + 0.1,))
def test_prod_4(x):
    return np.prod(x)


@program(NUMPY + "test_1d_array", lambda r: (3.0,))
def test_1d_array(x):
    return np.array([x, x * 1.0, x + 2.5])


@program(NUMPY + "test_2d_array", lambda r: (3.0,))
def test_2d_array(x):
    return np.array([[x, x * 1.0, x + 2.5],
                     [x**2, x, x / 2.0]])


@program(NUMPY + "test_1d_array_fanout", lambda r: (3.0,))
def test_1d_array_fanout(x):
    A = np.array([x, x * 1.0, x + 2.5])
    return A + A


@program(NUMPY + "test_2d_array_fanout", lambda r: (3.0,))
def test_2d_array_fanout(x):
    A = np.array([[x, x * 1.0, x + 2.5],
                  [x**2, x, x / 2.0]])
    return A + A


@program(NUMPY + "test_array_from_scalar", lambda r: (3.0,))
def test_array_from_scalar(x):
    return np.array(x)


@program(NUMPY + "test_array_from_arrays", R(3, 2))
def test_array_from_arrays(x):
    return np.array([x, x])


@program(NUMPY + "test_array_from_arrays_2", R(3, 2))
def test_array_from_arrays_2(x):
    return np.array([[2 * x, x + 1],
                     [x, x]])


@program(NUMPY + "test_len", R(3, 2))
def test_len(x):
    assert len(x) == 3
    return x


@program(NUMPY + "test_r_basic", R(3, 2))
def test_r_basic(x):
    c = np.ones((3, 2))  # autograd draws npr.randn(3, 2) here, unused
    b = np.r_[x]
    return b


@program(NUMPY + "test_r_double", R(3, 2))
def test_r_double(x):
    b = np.r_[x, x]
    return b


@case(NUMPY + "test_no_relation")
def test_no_relation(r):
    c = r.randn(3, 2)

    def fun(x):
        return c
    return fun, (r.randn(3, 2),)


@case(NUMPY + "test_r_no_relation")
def test_r_no_relation(r):
    c = r.randn(3, 2)

    def fun(x):
        b = np.r_[c]
        return b
    return fun, (r.randn(3, 2),)


@case(NUMPY + "test_r_node_and_const")
def test_r_node_and_const(r):
    c = r.randn(3, 2)

    def fun(x):
        b = np.r_[x, c]
        return b
    return fun, (r.randn(3, 2),)


@case(NUMPY + "test_r_slicing")
def test_r_slicing(r):
    c = r.randn(10)

    def fun(x):
        b = np.r_[x, c, 1:10]
        return b
    return fun, (r.randn(10),)


@case(NUMPY + "test_c_")
def test_c_(r):
    c = r.randn(3, 2)

    def fun(x):
        b = np.c_[x, c, x]
        return b
    return fun, (r.randn(3, 2),)


@program(NUMPY + "test_var_ddof (combo_check of np.var)", R(3, 4))
def test_var_ddof(x):
    return np.var(x, axis=1, keepdims=True, ddof=2)


@program(NUMPY + "test_std_ddof (combo_check of np.std)", R(3, 4))
def test_std_ddof(x):
    return np.std(x, axis=None, keepdims=False, ddof=1)


@case(NUMPY + "test_where", wrt=(0, 1))
def test_where(r):
    def fun(x, y):
        b = np.where(C, x, y)
        return b
    C = r.randn(4, 5) > 0
    A = r.randn(4, 5)
    B = r.randn(4, 5)
    return fun, (A, B)


@program(NUMPY + "test_squeeze_func", R(5, 1, 4))
def test_squeeze_func(x):
    return np.squeeze(x)


@program(NUMPY + "test_squeeze_method", R(5, 1, 4))
def test_squeeze_method(x):
    return x.squeeze()


@program(NUMPY + "test_repeat", R(5, 3, 4))
def test_repeat(x):
    return np.repeat(x, 2, axis=1)


@program(NUMPY + "test_repeat_axis1_rep1", R(5, 3, 4))
def test_repeat_axis1_rep1(x):
    return np.repeat(x, 1, axis=1)


@program(NUMPY + "test_repeat_1d_axis0", R(5))
def test_repeat_1d_axis0(x):
    return np.repeat(x, 2, axis=0)


@program(NUMPY + "test_expand_dims", R(5, 1, 4))
def test_expand_dims(x):
    return np.expand_dims(x, 2)


@program(NUMPY + "test_tensordot_kwargs_by_position", lambda r: (1.0,))
def test_tensordot_kwargs_by_position(x):
    return np.tensordot(x * np.ones((2, 2)),
                        x * np.ones((2, 2)), 2)


program(NUMPY + "test_multi_index", R(3), name="test_multi_index")(lambda x: np.sum(x[[0, 0]]))
program(NUMPY + "test_multi_index2", R(3), name="test_multi_index2")(lambda x: np.sum(x[[0, 1, 0]]))


@program(NUMPY + "test_index_dot_slices", R(4))
def test_index_dot_slices(x):
    return np.dot(x[:2], x[2:])


@case(NUMPY + "test_cast_to_int")
def test_cast_to_int(r):
    inds = np.ones(5)[:, None]

    def fun(W):
        # glue W and inds together
        glued_together = np.concatenate((W, inds), axis=1)

        # separate W and inds back out
        new_W = W[:, :-1]
        new_inds = np.int64(W[:, -1])

        assert new_inds.dtype == np.int64
        return new_W[new_inds].sum()

    W = r.randn(5, 10)
    W[:, -1] = r.randint(0, 5, 5) + 0.5  # an index column away from integers, so int64() has no jump nearby
    return fun, (W,)


@program(NUMPY + "test_diagonal", R(3, 4, 4))
def test_diagonal(D):
    return np.diagonal(D, axis1=-1, axis2=-2)


@case(NUMPY + "test_nan_to_num")
def test_nan_to_num(r):
    y = np.array([0., np.nan, np.inf, -np.inf])
    fun = lambda x: np.sum(np.sin(np.nan_to_num(x + y)))  # noqa: E731  (as the test writes it)
    return fun, (r.randn(4),)


@program(NUMPY + "test_max_equal_values", lambda r: (1.0,))
def test_max_equal_values(x):
    return np.max(np.array([x, x]))


@program(NUMPY + "test_max_equal_values_2d", lambda r: (1.0,))
def test_max_equal_values_2d(x):
    return np.max(np.array([[x, x],
                            [x, 0.5]]), axis=1)


@program(NUMPY + "test_min_3_way_equality", lambda r: (1.0,))
def test_min_3_way_equality(x):
    return np.min(np.array([[x, x, x],
                            [x, 0.5, 0.5],
                            [0.5, 0.5, 0.5],
                            [x, x, 0.5]]), axis=0)


@program(NUMPY + "test_maximum_equal_values", lambda r: (1.0,))
def test_maximum_equal_values(x):
    return np.maximum(x, x)


@program(NUMPY + "test_maximum_equal_values_2d", lambda r: (-1.0,))
def test_maximum_equal_values_2d(x):
    return np.maximum(
        np.array([x, x, 0.5]),
        np.array([[x, 0.5, x],
                  [x, x, 0.5]]))


@case(NUMPY + "test_linspace", wrt=(0, 1))
def test_linspace(r):
    num = 5

    def fun(x, y):
        return np.linspace(x, y, num)
    return fun, (1.2, 3.4)


@program(NUMPY + "test_astype", lambda r: (np.arange(3, dtype='float32'),))
def test_astype(x):
    return np.sum(np.sin(x.astype('float64')))


@program(NUMPY + "test_einsum (autograd's einsum tests)", R2((5, 3), (3, 4)), wrt=(0, 1))
def test_einsum_matmult(x, y):
    return np.einsum("ij,jk->ik", x, y)


@program(NUMPY + "test_einsum_covsum", R2((3, 4, 5), (6, 4, 3)), wrt=(0, 1))
def test_einsum_covsum(x, y):
    return np.einsum("ijk,lji->lki", x, y)


@program(NUMPY + "test_einsum_three_args", lambda r: (r.randn(3, 2), r.randn(2, 4), r.randn(4, 5)), wrt=(0, 1, 2))
def test_einsum_three_args(a, b, c):
    return np.einsum("ij,jk,kl->il", a, b, c)


@program(NUMPY + "test_matmul", R2((2, 3, 4), (4, 5)), wrt=(0, 1))
def test_matmul(x, y):
    return np.matmul(x, y)


@program(NUMPY + "test_stack_1d", R(3))
def test_stack_1d(x):
    return np.stack([x, 2 * x])


@program(NUMPY + "test_hstack_2d", R(3, 2))
def test_hstack_2d(x):
    return np.hstack([x, x])


@program(NUMPY + "test_vstack_1d", R(3))
def test_vstack_1d(x):
    return np.vstack([x, x])


@program(NUMPY + "test_dstack_2d", R(3, 2))
def test_dstack_2d(x):
    return np.dstack([x, x])


@program(NUMPY + "test_array_split_2d", R(5, 4))
def test_array_split_2d(x):
    return np.array_split(x, 3, axis=0)[2]


# ---- tests/test_systematic.py: combo_check / unary_ufunc_check / binary_ufunc_check of numpy's functions --------
# The tests hand numpy's function itself to the checker; here each is called from a function of its own, on
# inputs inside the test's `lims`, and on a broadcasting pair for the binary ones.

def inside(low, high, *shape):
    return lambda r: (r.uniform(low, high, shape),)


def pair(low_a=-1.0, high_a=1.0, low_b=-1.0, high_b=1.0):
    return lambda r: (r.uniform(low_a, high_a, (3, 4)), r.uniform(low_b, high_b, (4,)))


@program(SYSTEMATIC + "test_mean (stat_check)", R(3, 4))
def test_stat_mean(x):
    return np.mean(x, axis=1, keepdims=True)


@program(SYSTEMATIC + "test_prod (stat_check)", inside(0.5, 1.5, 3, 4))
def test_stat_prod(x):
    return np.prod(x, axis=0)


@program(SYSTEMATIC + "test_var (stat_check)", R(3, 4))
def test_stat_var(x):
    return np.var(x, axis=0, keepdims=True)


@program(SYSTEMATIC + "test_std (stat_check)", R(3, 4))
def test_stat_std(x):
    return np.std(x, axis=1)


@program(SYSTEMATIC + "test_min (stat_check)", R(3, 4))
def test_stat_min(x):
    return np.min(x, axis=0, keepdims=True)


@program(SYSTEMATIC + "test_sin", R(3, 4))
def test_sin(x):
    return np.sin(x)


@program(SYSTEMATIC + "test_abs", inside(0.1, 4.0, 3, 4))
def test_abs(x):
    return np.abs(x)


@program(SYSTEMATIC + "test_absolute", inside(0.1, 4.0, 3, 4))
def test_absolute(x):
    return np.absolute(x)


@program(SYSTEMATIC + "test_arccosh", inside(1.1, 4.0, 3, 4))
def test_arccosh(x):
    return np.arccosh(x)


@program(SYSTEMATIC + "test_arcsinh", inside(-0.9, 0.9, 3, 4))
def test_arcsinh(x):
    return np.arcsinh(x)


@program(SYSTEMATIC + "test_arctanh", inside(-0.9, 0.9, 3, 4))
def test_arctanh(x):
    return np.arctanh(x)


@program(SYSTEMATIC + "test_ceil", inside(-1.4, -1.1, 3, 4))
def test_ceil(x):
    return np.ceil(x)


@program(SYSTEMATIC + "test_cos", R(3, 4))
def test_cos(x):
    return np.cos(x)


@program(SYSTEMATIC + "test_cosh", R(3, 4))
def test_cosh(x):
    return np.cosh(x)


@program(SYSTEMATIC + "test_deg2rad", R(3, 4))
def test_deg2rad(x):
    return np.deg2rad(x)


program(SYSTEMATIC + "test_degrees", R(3, 4), name="test_degrees")(lambda x: np.degrees(x) / 50.0)


@program(SYSTEMATIC + "test_exp", R(3, 4))
def test_exp(x):
    return np.exp(x)


@program(SYSTEMATIC + "test_exp2", R(3, 4))
def test_exp2(x):
    return np.exp2(x)


@program(SYSTEMATIC + "test_expm1", R(3, 4))
def test_expm1(x):
    return np.expm1(x)


@program(SYSTEMATIC + "test_fabs", inside(0.1, 4.0, 3, 4))
def test_fabs(x):
    return np.fabs(x)


@program(SYSTEMATIC + "test_floor", inside(0.1, 0.9, 3, 4))
def test_floor(x):
    return np.floor(x)


@program(SYSTEMATIC + "test_log", inside(0.2, 2.0, 3, 4))
def test_log(x):
    return np.log(x)


@program(SYSTEMATIC + "test_log10", inside(0.2, 2.0, 3, 4))
def test_log10(x):
    return np.log10(x)


@program(SYSTEMATIC + "test_log1p", inside(0.2, 2.0, 3, 4))
def test_log1p(x):
    return np.log1p(x)


@program(SYSTEMATIC + "test_log2", inside(0.2, 2.0, 3, 4))
def test_log2(x):
    return np.log2(x)


program(SYSTEMATIC + "test_rad2deg", R(3, 4), name="test_rad2deg")(lambda x: np.rad2deg(x) / 50.0)


@program(SYSTEMATIC + "test_radians", R(3, 4))
def test_radians(x):
    return np.radians(x)


@program(SYSTEMATIC + "test_sign", inside(0.2, 2.0, 3, 4))
def test_sign(x):
    return np.sign(x)


@program(SYSTEMATIC + "test_sinh", R(3, 4))
def test_sinh(x):
    return np.sinh(x)


@program(SYSTEMATIC + "test_sqrt", inside(1.0, 3.0, 3, 4))
def test_sqrt(x):
    return np.sqrt(x)


@program(SYSTEMATIC + "test_square", R(3, 4))
def test_square(x):
    return np.square(x)


@program(SYSTEMATIC + "test_tan", inside(-1.1, 1.1, 3, 4))
def test_tan(x):
    return np.tan(x)


@program(SYSTEMATIC + "test_tanh", R(3, 4))
def test_tanh(x):
    return np.tanh(x)


@program(SYSTEMATIC + "test_real", R(3, 4))
def test_real(x):
    return np.real(x)


@program(SYSTEMATIC + "test_add", pair(), wrt=(0, 1))
def test_add_ufunc(x, y):
    return np.add(x, y)


@program(SYSTEMATIC + "test_logaddexp", pair(), wrt=(0, 1))
def test_logaddexp(x, y):
    return np.logaddexp(x, y)


@program(SYSTEMATIC + "test_logaddexp2", pair(), wrt=(0, 1))
def test_logaddexp2(x, y):
    return np.logaddexp2(x, y)


@program(SYSTEMATIC + "test_remainder", pair(-0.9, 0.9, 0.7, 1.9), wrt=(0, 1))
def test_remainder(x, y):
    return np.remainder(x, y)


@program(SYSTEMATIC + "test_true_divide", pair(low_b=0.3, high_b=2.0), wrt=(0, 1))
def test_true_divide(x, y):
    return np.true_divide(x, y)


@program(SYSTEMATIC + "test_mod", pair(0.1, 0.7, 0.8, 2.1), wrt=(0, 1))
def test_mod_ufunc(x, y):
    return np.mod(x, y)


@program(SYSTEMATIC + "test_true_divide_neg", pair(low_b=-2.0, high_b=-0.3), wrt=(0, 1))
def test_true_divide_neg(x, y):
    return np.true_divide(x, y)


@program(SYSTEMATIC + "test_op_mul", pair(), wrt=(0, 1))
def test_op_mul(x, y):
    return op.mul(x, y)


@program(SYSTEMATIC + "test_op_sub", pair(), wrt=(0, 1))
def test_op_sub(x, y):
    return op.sub(x, y)


@program(SYSTEMATIC + "test_op_pow", pair(0.7, 2.0), wrt=(0, 1))
def test_op_pow(x, y):
    return op.pow(x, y)


@case(SYSTEMATIC + "test_transpose (axes=[2, 0, 1])")
def test_transpose_axes(r):
    axes = [2, 0, 1]

    def fun(x):
        return np.transpose(x, axes=axes)
    return fun, (r.randn(2, 3, 4),)


@program(SYSTEMATIC + "test_dot (scalar and vector)", lambda r: (1.5, r.randn(3)), wrt=(0, 1))
def test_dot_scalar(x, y):
    return np.dot(x, y)


@program(SYSTEMATIC + "test_tensordot_1", lambda r: (r.randn(2, 3, 2), r.randn(3, 4, 2)), wrt=(0, 1))
def test_tensordot_1(x, y):
    return np.tensordot(x, y, axes=[(1,), (0,)])


@program(SYSTEMATIC + "test_tensordot_3", lambda r: (r.randn(2, 3, 4), r.randn(2, 2, 3, 4)), wrt=(0, 1))
def test_tensordot_3(x, y):
    return np.tensordot(x, y, axes=[(1, 0), (2, 1)])


@program(SYSTEMATIC + "test_tensordot_4", lambda r: (r.randn(4, 2, 2), r.randn(2, 2, 4)), wrt=(0, 1))
def test_tensordot_4(x, y):
    return np.tensordot(x, y, axes=2)


@program(SYSTEMATIC + "test_maximum", lambda r: (r.randn(1, 4), r.randn(3, 4)), wrt=(0, 1))
def test_maximum(x, y):
    return np.maximum(x, y)


@program(SYSTEMATIC + "test_minimum", lambda r: (r.randn(1), r.randn(3, 4)), wrt=(0, 1))
def test_minimum(x, y):
    return np.minimum(x, y)


@program(SYSTEMATIC + "test_sort", R(7))
def test_sort(x):
    return np.sort(x)


@program(SYSTEMATIC + "test_partition", R(7))
def test_partition(x):
    return np.partition(x, 3)


@program(SYSTEMATIC + "test_atleast_1d", lambda r: (1.2,))
def test_atleast_1d(x):
    return np.atleast_1d(x)


@program(SYSTEMATIC + "test_atleast_2d", R(7))
def test_atleast_2d(x):
    return np.atleast_2d(x)


@program(SYSTEMATIC + "test_atleast_3d", R(2, 4))
def test_atleast_3d(x):
    return np.atleast_3d(x)


@program(SYSTEMATIC + "test_einsum_transpose", R(3, 4))
def test_einsum_transpose(x):
    return np.einsum('ij->ji', x)


@program(SYSTEMATIC + "test_einsum_ellipses", R2((3, 4, 4), (3, 4, 4)), wrt=(0, 1))
def test_einsum_ellipses(x, y):
    return np.einsum('...jk,...lj->...lk', x, y)


@program(SYSTEMATIC + "test_einsum_three_args", lambda r: (r.randn(3, 4, 4), r.randn(4, 4, 3), r.randn(4, 4, 3)),
         wrt=(0, 1, 2))
def test_einsum_three_args_systematic(x, y, z):
    return np.einsum('ijk,lji,lli->lki', x, y, z)


@program(SYSTEMATIC + "test_trace (offset=-1)", R(4, 5))
def test_trace_offset(x):
    return np.trace(x, offset=-1)


# ---- tests/test_linalg.py ----------------------------------------------------------------------------------

T = lambda A: np.swapaxes(A, -1, -2)  # noqa: E731  (as the test module writes it)


def symmetrized(fun):
    """check_symmetric_matrix_grads: the function the test differentiates reads a symmetrised first argument."""
    def symmetrize(A):
        L = np.tril(A)
        return (L + T(L)) / 2.
    new_fun = lambda *args: fun(symmetrize(args[0]), *args[1:])  # noqa: E731
    return new_fun


def rand_psd(r, D):
    mat = r.randn(D, D)
    return np.dot(mat, mat.T)


@case(LINALG + "test_inv")
def test_inv(r):
    def fun(x):
        return np.linalg.inv(x)
    D = 8
    mat = r.randn(D, D)
    mat = np.dot(mat, mat) + 1.0 * np.eye(D)
    return fun, (mat,)


@case(LINALG + "test_inv_3d")
def test_inv_3d(r):
    fun = lambda x: np.linalg.inv(x)  # noqa: E731
    D = 4
    mat = r.randn(D, D, D) + 5 * np.eye(D)
    return fun, (mat,)


@case(LINALG + "test_solve_arg1")
def test_solve_arg1(r):
    D = 8
    A = r.randn(D, D) + 10.0 * np.eye(D)
    B = r.randn(D, D - 1)

    def fun(a):
        return np.linalg.solve(a, B)
    return fun, (A,)


@case(LINALG + "test_solve_arg1_1d")
def test_solve_arg1_1d(r):
    D = 8
    A = r.randn(D, D) + 10.0 * np.eye(D)
    B = r.randn(D)

    def fun(a):
        return np.linalg.solve(a, B)
    return fun, (A,)


@case(LINALG + "test_solve_arg2")
def test_solve_arg2(r):
    D = 6
    A = r.randn(D, D) + 1.0 * np.eye(D)
    B = r.randn(D, D - 1)

    def fun(b):
        return np.linalg.solve(A, b)
    return fun, (B,)


@case(LINALG + "test_solve_arg1_3d")
def test_solve_arg1_3d(r):
    D = 4
    A = r.randn(D + 1, D, D) + 5 * np.eye(D)
    B = r.randn(D + 1, D, D + 2)
    fun = lambda A: np.linalg.solve(A, B)  # noqa: E731
    return fun, (A,)


@case(LINALG + "test_det")
def test_det(r):
    def fun(x):
        return np.linalg.det(x)
    D = 6
    mat = r.randn(D, D)
    return fun, (mat,)


@case(LINALG + "test_det_3d")
def test_det_3d(r):
    fun = lambda x: np.linalg.det(x)  # noqa: E731
    D = 3
    mat = r.randn(D, D, D)
    return fun, (mat,)


@case(LINALG + "test_slogdet")
def test_slogdet(r):
    def fun(x):
        sign, logdet = np.linalg.slogdet(x)
        return logdet
    D = 6
    mat = r.randn(D, D)
    return fun, (mat,)


@case(LINALG + "test_slogdet_3d")
def test_slogdet_3d(r):
    fun = lambda x: np.sum(np.linalg.slogdet(x)[1])  # noqa: E731
    mat = np.concatenate([(rand_psd(r, 5) + 5 * np.eye(5))[None, ...] for _ in range(3)])
    return fun, (mat,)


@program(LINALG + "test_vector_2norm", R(6))
def test_vector_2norm(x):
    return np.linalg.norm(x)


@program(LINALG + "test_frobenius_norm", R(6, 5))
def test_frobenius_norm(x):
    return np.linalg.norm(x)


@program(LINALG + "test_frobenius_norm_axis", R(6, 5, 4))
def test_frobenius_norm_axis(x):
    return np.linalg.norm(x, axis=(0, 1))


@case(LINALG + "test_vector_norm_ord (ord=3)")
def test_vector_norm_ord(r):
    ord = 3

    def fun(x):
        return np.linalg.norm(x, ord=ord)
    return fun, (r.randn(6),)


@case(LINALG + "test_norm_axis (axis=1)")
def test_norm_axis(r):
    axis = 1

    def fun(x):
        return np.linalg.norm(x, axis=axis)
    return fun, (r.randn(6, 5, 4),)


@program(LINALG + "test_norm_nuclear", R(6, 5))
def test_norm_nuclear(x):
    return np.linalg.norm(x, ord='nuc')


@case(LINALG + "test_eigvalh_lower")
def test_eigvalh_lower(r):
    def fun(x):
        w, v = np.linalg.eigh(x)
        return tuple((w, v))
    D = 6
    mat = r.randn(D, D)
    hmat = np.dot(mat.T, mat)
    return symmetrized(fun), (hmat,)


@case(LINALG + "test_cholesky")
def test_cholesky(r):
    fun = lambda A: np.linalg.cholesky(A)  # noqa: E731
    return symmetrized(fun), (rand_psd(r, 6),)


@case(LINALG + "test_cholesky_reparameterization_trick")
def test_cholesky_reparameterization_trick(r):
    def fun(A):
        rng = np.random.RandomState(0)
        z = np.dot(np.linalg.cholesky(A), rng.randn(A.shape[0]))
        return np.linalg.norm(z)
    return symmetrized(fun), (rand_psd(r, 6),)


@case(LINALG + "test_svd_wide_2d")
def test_svd_wide_2d(r):
    def fun(x):
        u, s, v = np.linalg.svd(x, full_matrices=False)
        return tuple((u, s, v))
    return fun, (r.randn(3, 5),)


@case(LINALG + "test_svd_only_s_2d")
def test_svd_only_s_2d(r):
    def fun(x):
        s = np.linalg.svd(x, full_matrices=False, compute_uv=False)
        return s
    return fun, (r.randn(5, 3),)


# ---- tests/test_scipy.py: scipy.special and scipy.stats ------------------------------------------------------

@program(SCIPY + "test_logsumexp1", R(5))
def test_logsumexp1(x):
    return scipy.special.logsumexp(x)


@program(SCIPY + "test_logsumexp2", R(3, 4))
def test_logsumexp2(x):
    return scipy.special.logsumexp(x, axis=1)


@program(SCIPY + "test_expit", R(5))
def test_expit(x):
    return scipy.special.expit(x)


@program(SCIPY + "test_gammaln", positive(5))
def test_gammaln(x):
    return scipy.special.gammaln(x)


@program(SCIPY + "test_norm_logpdf", lambda r: (r.randn(5), r.randn(5), r.rand(5) + 0.5), wrt=(0, 1, 2))
def test_norm_logpdf(x, loc, scale):
    return scipy.stats.norm.logpdf(x, loc, scale)


@program(SCIPY + "test_norm_cdf", R(5))
def test_norm_cdf(x):
    return scipy.stats.norm.cdf(x)


@program(SCIPY + "test_erf", R(5))
def test_erf(x):
    return scipy.special.erf(x)


# ---- tests/test_dict.py, test_list.py, test_tuple.py: parameters in containers ----------------------------------
# autograd's dict, tuple and isinstance are the builtins here (the only adaptation).

DICT = "HIPS/autograd tests/test_dict.py "
LIST = "HIPS/autograd tests/test_list.py "
TUPLE = "HIPS/autograd tests/test_tuple.py "


def three_items(r):
    return {"item_1": r.randn(5, 6), "item_2": r.randn(4, 3), "item_X": r.randn(2, 4)}


@program(DICT + "test_getter", lambda r: (three_items(r),))
def test_dict_getter(input_dict):
    A = np.sum(input_dict["item_1"])
    B = np.sum(input_dict["item_2"])
    C = np.sum(input_dict["item_2"])
    return A + B + C


@program(DICT + "test_grads", lambda r: (three_items(r),))
def test_dict_grads(input_dict):
    A = np.sum(np.sin(input_dict["item_1"]))
    B = np.sum(np.cos(input_dict["item_2"]))
    return A + B


@program(DICT + "test_iter", lambda r: (three_items(r),))
def test_dict_iter(input_dict):
    A = 0.0
    B = 0.0
    for i, k in enumerate(sorted(input_dict)):
        A = A + np.sum(np.sin(input_dict[k])) * (i + 1.0)
        B = B + np.sum(np.cos(input_dict[k]))
    return A + B


@program(DICT + "test_items_values_keys", lambda r: (three_items(r),))
def test_dict_items_values_keys(input_dict):
    A = 0.0
    B = 0.0
    for i, (k, v) in enumerate(sorted(input_dict.items(), key=op.itemgetter(0))):
        A = A + np.sum(np.sin(v)) * (i + 1.0)
        B = B + np.sum(np.cos(v))
    for v in input_dict.values():
        A = A + np.sum(np.sin(v))
    for k in sorted(input_dict.keys()):
        A = A + np.sum(np.cos(input_dict[k]))
    return A + B


@program(DICT + "test_get", lambda r: ({"item_1": 3.0}, 2.0), wrt=(0, 1))
def test_dict_get(d, x):
    return d.get("item_1", x) ** 2


@program(DICT + "test_make_dict", lambda r: (1.0,))
def test_make_dict(x):
    return dict([("a", x)], b=x)


@program(DICT + "test_isinstance", lambda r: ({"x": 1.0},))
def test_dict_isinstance(x):
    assert isinstance(x, dict)
    return x["x"]


@program(LIST + "test_getter", lambda r: ([r.randn(5, 6), r.randn(4, 3), r.randn(2, 4)],))
def test_list_getter(input_list):
    A = np.sum(input_list[0])
    B = np.sum(input_list[1])
    C = np.sum(input_list[1])
    return A + B + C


@program(LIST + "test_grads", lambda r: ([r.randn(5, 6), r.randn(4, 3), r.randn(2, 4)],))
def test_list_grads(input_list):
    A = np.sum(np.sin(input_list[0]))
    B = np.sum(np.cos(input_list[1]))
    return A + B


@program(TUPLE + "test_getter", lambda r: ((r.randn(5, 6), r.randn(4, 3), r.randn(2, 4)),))
def test_tuple_getter(input_tuple):
    A = np.sum(input_tuple[0])
    B = np.sum(input_tuple[1])
    C = np.sum(input_tuple[1])
    return A + B + C


@program(TUPLE + "test_grads", lambda r: ((r.randn(5, 6), r.randn(4, 3), r.randn(2, 4)),))
def test_tuple_grads(input_tuple):
    A = np.sum(np.sin(input_tuple[0]))
    B = np.sum(np.cos(input_tuple[1]))
    return A + B


@program(TUPLE + "test_isinstance", lambda r: ((1.0, 2.0, 3.0),))
def test_tuple_isinstance(x):
    assert isinstance(x, tuple)
    return x[0]


# ---- tests/test_graphs.py, test_wrappers.py, test_builtins.py, test_logic.py ----------------------------------

def to_scalar(x):
    # autograd.util.to_scalar, which these tests import
    return np.sum(np.real(np.sin(x)))


program(GRAPHS + "test_grad_fanout", lambda r: (float(r.randn()),), name="test_grad_fanout")(
    lambda x: np.sin(np.sin(x) + np.sin(x)))
program(GRAPHS + "test_grad_const", lambda r: (2.0,), name="test_grad_const")(lambda x: 1)
program(GRAPHS + "test_grad_identity", lambda r: (2.0,), name="test_grad_identity")(lambda x: x)


@case(GRAPHS + "test_hess_vector_prod (its fun)")
def test_hess_vector_prod(r):
    randv = r.randn(10)

    def fun(x):
        return np.sin(np.dot(x, randv))
    return fun, (r.randn(10),)


@program(GRAPHS + "test_mutating_outgrad", R(5))
def test_mutating_outgrad(a):
    b = a + 1.0
    c = b + 1.5
    d = a + b
    e = d + c
    return to_scalar(e)


@program(GRAPHS + "test_mutating_outgrad_from_indexing", R(5))
def test_mutating_outgrad_from_indexing(a):
    b = a + 1.0
    c = b[0] + 1.5
    d = a + b
    e = d + c
    return to_scalar(e)


program(GRAPHS + "test_third_derivative_other_args", lambda r: (float(r.randn()), float(r.randn())), wrt=(0, 1),
        name="test_third_derivative_other_args")(lambda x, y: np.sin(np.sin(x) + np.sin(y)))
program(GRAPHS + "test_singleton_array_output", R(3, 3), name="test_singleton_array_output")(
    lambda x: np.sum(np.sin(x), keepdims=True))
program(GRAPHS + "test_singleton_array_output_axis0", R(3, 1), name="test_singleton_array_output_axis0")(
    lambda x: np.sum(np.sin(x), axis=0, keepdims=True))
program(GRAPHS + "test_singleton_array_output_axis1", R(1, 3), name="test_singleton_array_output_axis1")(
    lambda x: np.sum(np.sin(x), axis=1, keepdims=False))

program(WRAPPERS + "test_return_both", lambda r: (1.7,), name="test_return_both")(lambda x: 3.0 * x**3.2)
program(WRAPPERS + "test_value_and_grad", R(5), name="test_value_and_grad")(lambda x: np.sum(np.sin(x)**2))


@case(WRAPPERS + "test_hessian (its fun)")
def test_hessian(r):
    # Check Hessian of a quadratic function (autograd's comment).
    D = 5
    H = r.randn(D, D)

    def fun(x):
        return np.dot(np.dot(x, H), x)
    return fun, (r.randn(D),)


def complicated_fun(a, b, c, d, e, f=1.1, g=9.0):
    return a + np.sin(b) + np.cosh(c) + np.cos(d) + np.tan(e) + f + g


@program(WRAPPERS + "test_multigrad (multigrad(complicated_fun, argnums=[3, 1]))",
         lambda r: (0.5, -0.3, 0.2, -1.1, 0.7, 0.6, -0.1), wrt=(3, 1))
def test_multigrad(a, b, c, d, e, f, g):
    return complicated_fun(a, b, c, d, e, f=f, g=g)


program(WRAPPERS + "test_multigrad_onearg", R2((3,), (3,)), wrt=(0, 1), name="test_multigrad_onearg")(
    lambda x, y: np.sum(x + np.sin(y)))
program(WRAPPERS + "test_multigrad_onearg (packed_fun)", lambda r: ((r.randn(3), r.randn(3)),),
        name="test_multigrad_onearg_packed")(lambda xy: np.sum(xy[0] + np.sin(xy[1])))


@program(WRAPPERS + "test_elementwise_grad", R(10))
def test_elementwise_grad(a):
    return a + np.sin(a) + np.cosh(a)


@program(WRAPPERS + "test_elementwise_grad_multiple_args", lambda r: (0.9, r.randn(10)), wrt=(1,))
def test_elementwise_grad_multiple_args(a, b):
    return a + np.sin(a) + np.cosh(b)


program(WRAPPERS + "test_hessian_tensor_product", R(5, 4, 3), name="test_hessian_tensor_product")(
    lambda a: np.sum(np.sin(a)))
program(WRAPPERS + "test_vector_jacobian_product", R(5), name="test_vector_jacobian_product")(
    lambda a: np.roll(np.sin(a), 1))
program(WRAPPERS + "test_tensor_jacobian_product", R(5, 4, 3), name="test_tensor_jacobian_product")(
    lambda a: np.roll(np.sin(a), 1))


@program(WRAPPERS + "test_partial (f)", lambda r: (0.3, 1), wrt=(0,))
def test_partial(x, y):
    return x


@program(WRAPPERS + "test_dtypes", lambda r: (r.randn(10, 10).astype(np.float32),))
def test_dtypes(x):
    return np.sum(x**2)


@case(WRAPPERS + "test_checkpoint_correctness (foo)")
def test_checkpoint_correctness(r):
    bar = lambda x, y: 2*x + y + 5  # noqa: E731
    foo = lambda x: bar(x, x/3.) + bar(x, x**2)  # noqa: E731
    return foo, (3.,)


@case(WRAPPERS + "test_checkpoint_correctness (foobaz)")
def test_checkpoint_correctness_args(r):
    baz = lambda *args: sum(args)  # noqa: E731
    foobaz = lambda x: baz(x, x/3.)  # noqa: E731
    return foobaz, (3.,)


@case(WRAPPERS + "checkpoint_memory (testfun, with f its argument)", wrt=(1,))
def checkpoint_memory(r):
    def f(a):
        for _ in range(10):
            a = np.sin(a**2 + 1)
        return a

    def testfun(f, x):
        for _ in range(5):
            x = f(x)
        return np.sum(x)
    return testfun, (f, r.randn(20))


@case(BUILTINS + "test_isinstance (checker)")
def test_isinstance(r):
    def checker(ex, type_, truthval):
        assert isinstance(ex, type_) == truthval
        return 1.0
    return checker, (np.zeros(1), np.ndarray, True)


@program(LOGIC + "test_assert", lambda r: (np.array([1.0, 2.0, 3.0]),))
def test_assert(x):
    assert np.allclose(x, (x * 3.0) / 3.0)
    return np.sum(x)


program(LOGIC + "test_falseyness", lambda r: (2.0,), name="test_falseyness")(
    lambda x: np.real(x**2 if np.iscomplex(x) else np.sum(x)))


for _name in ["test_fft", "test_fft_ortho", "test_ifft", "test_fft2", "test_rfft", "test_irfft", "test_fftshift",
              "test_real_type", "test_angle_real", "test_conj", "test_imag", "test_eig_complex"]:
    out_of_scope(GROUP, "HIPS/autograd tests/test_fft.py, test_numpy.py " + _name, "complex numbers")
for _name in ["test_simple_append_list", "test_simple_append_arr"]:
    out_of_scope(GROUP, NUMPY + _name, "differentiates numpy's own np.append: no program source to read")
for _name in ["test_graphs.py test_enclosing_scope_ref", "test_graphs.py test_enclosing_scope_ref_2",
              "test_wrappers.py test_deprecated_defgrad_wrapper", "test_logic.py test_no_vjp_def",
              "test_logic.py test_no_jvp_def", "test_logic.py test_unimplemented_falseyness"]:
    out_of_scope(GROUP, "HIPS/autograd tests/" + _name, "autograd's own API inside the function (grad, primitive)")
for _name in ["test_complex_mutating_outgrad_from_indexing", "test_complex_separate_real_and_imaginary"]:
    out_of_scope(GROUP, GRAPHS + _name, "complex numbers")
for _name in ["test_random_gaussian", "test_dirichlet", "test_mvn_sample"]:
    out_of_scope(GROUP, SCIPY + _name, "random sampling inside the function")
