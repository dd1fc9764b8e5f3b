"""Programs from Tangent's test functions (google/tangent, tests/functions.py), written as Tangent's tests
write them. Scalars are Python floats, as Tangent's tests pass them; `n` is an integer trip count."""

import numpy as np

from .registry import collector, out_of_scope

GROUP = "tangent tests"
ORIGIN = "google/tangent tests/functions.py"
program, _ = collector(GROUP)


def scalar(low=0.5, high=1.5):
    return lambda r: (float(r.uniform(low, high)),)


def vector(n=5):
    return lambda r: (r.randn(n),)


@program(ORIGIN + " id_", scalar())
def id_(a):
    return a


@program(ORIGIN + " unary_sub", scalar())
def unary_sub(a):
    return -a


@program(ORIGIN + " sum_", vector())
def sum_(x):
    return np.sum(x)


@program(ORIGIN + " cast_sum_", vector())
def cast_sum_(x):
    return np.sum(np.array(x))


@program(ORIGIN + " overwrite_call", vector())
def overwrite_call(x):
    x = np.sum(x)
    x = x * x
    return x


@program(ORIGIN + " tanh", scalar())
def tanh(a):
    return np.tanh(a)


@program(ORIGIN + " I_assign", scalar())
def I_assign(a):
    b = a
    return b


@program(ORIGIN + " increment", scalar())
def increment(a):
    return a + 1


def three_scalars(r):
    return tuple(float(v) for v in r.uniform(0.5, 1.5, 3))


@program(ORIGIN + " saxpy", three_scalars, wrt=(0, 1, 2))
def saxpy(a, b, c):
    return a * b + c


@program(ORIGIN + " mul", lambda r: three_scalars(r)[:2], wrt=(0, 1))
def mul(a, b):
    return a * b


@program(ORIGIN + " add", lambda r: three_scalars(r)[:2], wrt=(0, 1))
def add(a, b):
    return a + b


@program(ORIGIN + " saxpy_call", three_scalars, wrt=(0, 1, 2))
def saxpy_call(a, b, c):
    return add(mul(a, b), c)


@program(ORIGIN + " saxpy_anf", three_scalars, wrt=(0, 1, 2))
def saxpy_anf(a, b, c):
    t1 = a * b
    t2 = t1 + c
    return t2


@program(ORIGIN + " saxpy_overwrite", three_scalars, wrt=(0, 1, 2))
def saxpy_overwrite(a, b, c):
    t = a * b
    t = t + c
    return t


@program(ORIGIN + " gradname_aliasing", scalar())
def gradname_aliasing(a):
    da = a * a
    return da


@program(ORIGIN + " overwrite_if", scalar(-1.5, -0.5))
def overwrite_if(a):
    if a > 0:
        a = a * 3.0
    else:
        a = a * 2.0
    return a


@program(ORIGIN + " test_binop_mul1", scalar())
def test_binop_mul1(a):
    return a * 3.0


@program(ORIGIN + " test_binop_mul2", scalar())
def test_binop_mul2(a):
    return 3.0 * a


@program(ORIGIN + " test_binop_mul3", scalar())
def test_binop_mul3(a):
    return a * a


@program(ORIGIN + " test_binop_div1", scalar())
def test_binop_div1(a):
    return a / 3.0


@program(ORIGIN + " test_binop_div2", scalar())
def test_binop_div2(a):
    return 3.0 / a


@program(ORIGIN + " test_binop_div3", scalar())
def test_binop_div3(a):
    return a / a


@program(ORIGIN + " test_binop_sub1", scalar())
def test_binop_sub1(a):
    return a - 3.0


@program(ORIGIN + " test_binop_sub2", scalar())
def test_binop_sub2(a):
    return 3.0 - a


@program(ORIGIN + " test_binop_sub3", scalar())
def test_binop_sub3(a):
    return a - a


@program(ORIGIN + " test_binop_add1", scalar())
def test_binop_add1(a):
    return a + 3.0


@program(ORIGIN + " test_binop_add2", scalar())
def test_binop_add2(a):
    return 3.0 + a


@program(ORIGIN + " test_binop_add3", scalar())
def test_binop_add3(a):
    return a + a


@program(ORIGIN + " nested_if", scalar(2.0, 3.0))
def nested_if(a):
    if a > 0:
        if a < 10:
            a = a * a
    else:
        a = 3.0 * a
    return a


@program(ORIGIN + " multiarg_if", scalar(0.5, 0.9))
def multiarg_if(a):
    # A bunch of spammy nonsense to try to break the system (Tangent's own comment)
    if a * a / 3.0 > 0:
        b = 3.0
    else:
        b = 4.0
    a = a * b
    if a < b - a * b:
        a = a * a
    elif a > b + 3.0 * a:
        if a / 2.0 < 0:
            a = a / b
        else:
            a = a * b
    else:
        a = -a
    return a


@program(ORIGIN + " fn_multiply", scalar())
def fn_multiply(a):
    return np.multiply(a, 3.0)


@program(ORIGIN + " fn_multiple_return", scalar())
def fn_multiple_return(a):
    return 2 * a, a


@program(ORIGIN + " test_anf_list", scalar())
def test_anf_list(a):
    b = [1, a * a, 2]
    return np.sum(b)


@program(ORIGIN + " test_deep_anf_list", vector(3))
def test_deep_anf_list(x):
    b = [1, x[0] * x[1] * x[2], 3]
    return np.sum(b)


@program(ORIGIN + " test_subscript1", vector(3))
def test_subscript1(x):
    a = x[0]
    b = x[1]
    return a * b


@program(ORIGIN + " test_subscript2", vector(3))
def test_subscript2(x):
    a = x[0]
    b = x[1]
    x[0] = a * b
    return np.sum(x)


@program(ORIGIN + " test_subscript3", vector(3))
def test_subscript3(x):
    y = x ** 2.0
    x[0] = y[1] * y[2]
    return np.sum(x * y)


@program(ORIGIN + " test_list_and_subscript", scalar())
def test_list_and_subscript(a):
    x = [1.0, a, 3.0]
    return x[0] * x[1]


@program(ORIGIN + " serial_if", scalar())
def serial_if(a):
    if a > 0:
        a = a * a
    a = a + a
    if a < 0:
        a = 3.0 * a
    return a


@program(ORIGIN + " multivar_if", lambda r: (1.4, 0.7), wrt=(0, 1))
def multivar_if(a, b):
    if a > b:
        a = a * a
    else:
        a = a * b
    return a


def scalar_and_n(low=0.8, high=1.1, n=2):
    return lambda r: (float(r.uniform(low, high)), n)


@program(ORIGIN + " serial_for", scalar_and_n())
def serial_for(a, n):
    for i in range(n):
        a = a * a
    a = 2.0 * a
    for i in range(n + 1):
        a = a * 3.0
    return a


@program(ORIGIN + " serial_ifthenfor", scalar_and_n())
def serial_ifthenfor(a, n):
    if a > 0:
        a = a * a
    a = 2.0 * a
    for i in range(n):
        a = a * a
    return a


@program(ORIGIN + " serial_forthenif", scalar_and_n())
def serial_forthenif(a, n):
    for i in range(n):
        a = a * a
    a = 2.0 * a
    if a > 0:
        a = a * a
    return a


@program(ORIGIN + " devilish_nested_if", scalar(1.0, 1.5))
def devilish_nested_if(a):
    if a > 0:
        a = a * 3.0
        if a < 10:
            a = a * a
        else:
            a = a * 2.0
    return a


@program(ORIGIN + " overwrite_ifelse", scalar(-1.5, -0.5))
def overwrite_ifelse(a):
    if a > 0:
        a = a * 3.0
    elif 0 > a:
        a = a * 2.0
    else:
        a = 1.0 * a
    return a


@program(ORIGIN + " overwrite_arg", scalar())
def overwrite_arg(a):
    a = a * 3.0
    return a


@program(ORIGIN + " overwrite_non_arg", scalar())
def overwrite_non_arg(a):
    b = a
    b = b * 3.0
    return b


@program(ORIGIN + " third_pow", scalar())
def third_pow(a):
    return a * a * a


@program(ORIGIN + " direct_third_pow", scalar())
def direct_third_pow(a):
    return a**3


@program(ORIGIN + " iter_third_pow1", scalar())
def iter_third_pow1(a):
    out = 1
    for i in range(3):
        out = out * a
    return out


@program(ORIGIN + " iter_third_pow2", scalar())
def iter_third_pow2(a):
    out = a
    for i in range(3 - 1):
        out = out * a
    return out


@program(ORIGIN + " iterpower_static", scalar(0.9, 1.1))
def iterpower_static(a):
    for i in range(3):
        a = a * a
    return a


@program(ORIGIN + " iterpower", scalar_and_n(n=3))
def iterpower(a, n):
    for i in range(n):
        a = a * a
    return a


@program(ORIGIN + " cond_iterpower1", scalar(1.2, 1.4))
def cond_iterpower1(a):
    for i in range(3):
        if a < 20:
            a = a * a
    return a


@program(ORIGIN + " cond_iterpower2", scalar(0.9, 1.1))
def cond_iterpower2(a):
    if a < 20:
        for i in range(3):
            a = a * a
    return a


@program(ORIGIN + " superfor_iterpower", scalar(0.97, 1.03))
def superfor_iterpower(a):
    for i in range(2):
        for j in range(3):
            a = a * a
    return a


@program(ORIGIN + " super_iterpower", scalar(0.97, 1.03))
def super_iterpower(a):
    # Tests ANF in a for loop (Tangent's comment)
    for i in range(3):
        a = a * a * a
    return a


@program(ORIGIN + " numpy_sum", vector())
def numpy_sum(x):
    return np.sum(x)


@program(ORIGIN + " numpy_mean", vector())
def numpy_mean(x):
    return np.mean(x)


@program(ORIGIN + " numpy_exp", scalar())
def numpy_exp(a):
    return np.exp(a)


@program(ORIGIN + " numpy_exp2", scalar())
def numpy_exp2(a):
    return np.exp(np.exp(a))


@program(ORIGIN + " numpy_sqrt", scalar())
def numpy_sqrt(a):
    return np.sqrt(a)


def logistic_regression_args(r):
    return r.randn(5, 3), (r.rand(5, 2) > 0.5).astype(float), r.randn(3, 2) * 0.5, r.randn(2) * 0.5


# Label is 0 or 1 (Tangent's comment)
@program(ORIGIN + " logistic_regression", logistic_regression_args, wrt=(2, 3))
def logistic_regression(input, label, W, b):
    h1 = np.dot(input, W) + b
    prediction = 0.5 * (np.tanh(h1) + 1)
    label_probabilities = prediction * label + (1 - prediction) * (1 - label)
    loss = -np.sum(np.log(label_probabilities))
    return loss


def _inner_fn(a, b):
    return a * b


@program(ORIGIN + " mul_with_call", lambda r: three_scalars(r)[:2], wrt=(0, 1))
def mul_with_call(a, b):
    return _inner_fn(a, b)


@program(ORIGIN + " if_mul_with_call", lambda r: (1.3, 0.6), wrt=(0, 1))
def if_mul_with_call(a, b):
    if a > b:
        o = _inner_fn(a, b)
    else:
        o = _inner_fn(b, a)
    return o


@program(ORIGIN + " iterpower_with_call", scalar_and_n(0.9, 1.1, 3))
def iterpower_with_call(a, n):
    for i in range(n):
        a = _inner_fn(a, a)
    return a


@program(ORIGIN + " nested_call", lambda r: three_scalars(r)[:2], wrt=(0, 1))
def nested_call(a, b):
    return mul_with_call(a, b)


@program(ORIGIN + " iterpower_with_nested_def", scalar_and_n(0.9, 1.1, 3))
def iterpower_with_nested_def(a, n):
    def _fn(a, n):
        return a * n

    for i in range(n):
        a = _fn(a, a)
    return a


@program(ORIGIN + " unpacking_args_saxpy", lambda r: (three_scalars(r),))
def unpacking_args_saxpy(abc_packed_in_tuple):
    a, b, c = abc_packed_in_tuple
    return a * b + c


@program(ORIGIN + " dict_saxpy", lambda r: (dict(zip("abc", three_scalars(r))),))
def dict_saxpy(val):
    return val['a'] * val['b'] + val['c']


@program(ORIGIN + " dict_wrapper", lambda r: (three_scalars(r),))
def dict_wrapper(abc_packed_in_tuple):
    a, b, c = abc_packed_in_tuple
    return dict_saxpy(dict(a=a, b=b, c=c))


@program(ORIGIN + " passthru_pack", lambda r: three_scalars(r) + (1,), wrt=(0, 1, 2))
def passthru_pack(a, b, c, i):
    x = a, b, c
    return x[i]


@program(ORIGIN + " passthru_unpack", lambda r: (three_scalars(r),))
def passthru_unpack(abc_packed_in_tuple):
    a, b, c = abc_packed_in_tuple
    return a


@program(ORIGIN + " cart2polar", lambda r: three_scalars(r)[:2], wrt=(0, 1))
def cart2polar(a, b):
    r = np.sqrt(a**2.0 + b**2.0)
    theta = np.arctan2(b, a)  # Tangent writes np.arctan(b, a), noting "should really be arctan2"
    return r, theta


@program(ORIGIN + " listcomp", vector())
def listcomp(a):
    return np.sum([i * 3 for i in a])


@program(ORIGIN + " while_big", scalar(1.1, 1.5))
def while_big(a):
    while np.abs(a) > 0.1:
        a = a * 0.5
    return a


@program(ORIGIN + " active_subscript", vector())
def active_subscript(x):
    y = np.zeros_like(x)
    for i in range(len(x)):
        y[i] = x[i]
    return np.sum(y)


@program(ORIGIN + " init_array_grad_maybe_active", lambda r: (r.randn(4, 3),))
def init_array_grad_maybe_active(x):
    h = np.zeros((len(x), 3))
    for t in range(len(h)):
        h[t] = x[t]
    return np.sum(h)


@program(ORIGIN + " slicing", vector())
def slicing(x):
    return np.sum(x[1:])


@program(ORIGIN + " rnn", lambda r: (r.randn(3, 5), r.randn(5, 3)), wrt=(0, 1))
def rnn(inputs, W):
    h = np.zeros((4, 3))
    for t in range(3):
        h[t + 1] = np.dot(inputs[t], W) + h[t]
    return np.sum(h[1:])


@program(ORIGIN + " augassign", scalar())
def augassign(a):
    x = a * a
    x *= x
    return x


def bilinear_args(r):
    return r.randn(2, 3), r.randn(2, 4), r.randn(4, 5), r.randn(3, 5), r.randn(5)


@program(ORIGIN + " bilinear", bilinear_args, wrt=(0, 1, 2, 3, 4))
def bilinear(x, h, U, W, b):
    y = np.dot(x, W)
    y = y + np.dot(h, U)
    y = y + b
    y = np.tanh(y)
    return np.sum(y)


@program(ORIGIN + " gradgrad_pow", lambda r: (1.3, 2.2), wrt=(0, 1))
def gradgrad_pow(a, b):
    a = a ** b
    return a


@program(ORIGIN + " gradgrad_pow_twice", scalar())
def gradgrad_pow_twice(a):
    a = a * a
    y = a * a
    return y


@program(ORIGIN + " gradgrad_chain_of_mults", scalar(0.9, 1.1))
def gradgrad_chain_of_mults(a):
    b = a  # this line forces overwrite protection (Tangent's comment)
    b = a * a
    c = b * b
    d = c * c
    return d


@program(ORIGIN + " gradgrad_chain_of_multcalls", scalar(0.9, 1.1))
def gradgrad_chain_of_multcalls(a):
    b = mul(a, a)
    c = mul(b, b)
    d = mul(c, c)
    return d


@program(ORIGIN + " nested_dict", lambda r: ({"i": {"j": 1.2, "k": 0.7}},))
def nested_dict(p):
    return p['i']['j'] * p['i']['k']


@program(ORIGIN + " extended_slice", lambda r: (r.randn(6),))
def extended_slice(x):
    return np.sum(x[::2, np.newaxis])


for _name in ["tfe_negative", "tfe_exp", "tfe_log", "tfe_tanh", "tfe_cosh", "tfe_sinh", "tfe_rsqrt",
              "tfe_expand_dims_before", "tfe_expand_dims_after", "tfe_squeeze_before", "tfe_reshape_flat",
              "tfe_reshape_noop", "tfe_reduce_sum", "tfe_reduce_sum_axis", "tfe_reduce_mean",
              "tfe_reduce_mean_axis", "tfe_reduce_max", "tfe_reduce_max_axis", "tfe_add", "tfe_add_bcast",
              "tfe_subtract", "tfe_multiply", "tfe_divide", "tfe_maximum", "tfe_squared_difference",
              "tfe_matmul", "tfe_matmul_highdim", "tfe_conv2d", "tfe_max_pool", "tfe_avg_pool",
              "tfe_trace_fn", "tfe_notrace_fn"]:
    out_of_scope(GROUP, f"{ORIGIN} {_name}", "TensorFlow eager")
for _name in ["inlining_contextmanager", "stack_pushing", "useless_stack_ops", "redefining_var_as_list"]:
    out_of_scope(GROUP, f"{ORIGIN} {_name}", "Tangent's own API (insert_grad_of, tangent.Stack)")
