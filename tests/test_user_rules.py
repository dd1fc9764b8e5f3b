"""User gradient rules (@sourcegrad.adjoint), stop_gradient and non-differentiable functions."""

import math
import sys
from pathlib import Path

import numpy as np
import pytest

import sourcegrad
from sourcegrad import SourcegradError, d

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))

rng = np.random.default_rng(11)


def softplus(x):
    return np.log(1 + np.exp(x))


@sourcegrad.adjoint(softplus)
def softplus_adjoint(result, x):
    d[x] = d[result] / (1 + np.exp(-x))


def uses_softplus(w, x):
    return softplus(x @ w).sum()


def test_user_rule_is_used_and_right(device):
    w, x = rng.standard_normal((3, 2)), rng.standard_normal((4, 3))
    f = sourcegrad.differentiate(uses_softplus)
    assert sourcegrad.check_grad(f, w, x, device=device).max_error < 1e-7
    assert "xp.exp(-" in f.backward_source  # the rule's own expression, not a derived one


def test_custom_relu_example_trains_like_the_tutorial(device):
    import custom_gradient
    import two_layer_numpy

    quiet = lambda t, loss: None  # noqa: E731
    np.testing.assert_allclose(custom_gradient.main(steps=100, log=quiet, device=device),
                               two_layer_numpy.train(steps=100, log=quiet), rtol=1e-9)


def scaled(x, a=2.0):
    return x * a


@sourcegrad.adjoint(scaled)
def scaled_adjoint(result, x, a):  # no default here: the function's own is taken
    d[x] = d[result] * a


def scales_with_the_default(w):
    return np.sum(scaled(w) ** 2)


def test_a_call_leaving_out_a_defaulted_argument_binds_to_the_rule():
    assert sourcegrad.check_grad(scales_with_the_default, rng.standard_normal(3))


def add_bias(x, b):
    return x + b


@sourcegrad.adjoint(add_bias)
def add_bias_adjoint_forgetting_to_unbroadcast(result, x, b):
    d[x] = d[result]
    d[b] = d[result]  # of x's shape, not b's


def biased(x, b):
    return np.sum(add_bias(x, b) ** 2)


def biased_in_a_dict(x, params):
    return np.sum(add_bias(x, params["b"]) ** 2)


def test_a_rule_giving_a_gradient_of_another_shape_is_an_error(device):
    x, b = np.ones((3, 2)), np.ones(2)
    with pytest.raises(SourcegradError, match=r"the gradient of b has shape \(3, 2\), but b has shape \(2,\)") as info:
        sourcegrad.differentiate(biased, wrt="b").grad(x, b, device=device)
    assert "add_bias_adjoint_forgetting_to_unbroadcast" in str(info.value)
    with pytest.raises(SourcegradError, match=r"the gradient of params\['b'\] has shape"):
        sourcegrad.differentiate(biased_in_a_dict, wrt="params").grad(x, {"b": b}, device=device)
    if device != "dask":  # (dask takes no into=)
        with pytest.raises(SourcegradError, match="another shape than its argument's"):
            sourcegrad.differentiate(biased, wrt="b").grad(x, b, into=np.empty(2), device=device)


def test_rule_parameters_must_match_the_primal():
    def scale(x, factor):
        return x * factor

    with pytest.raises(SourcegradError, match=r"takes \(x, k\) after the result, but .* takes \(x, factor\)"):
        @sourcegrad.adjoint(scale)
        def bad(result, x, k):
            d[x] = d[result] * k


def test_rule_body_mistakes_are_reported_at_registration():
    def identity(x):
        return x

    with pytest.raises(SourcegradError, match="may only hold `d\\[param\\] = expression`"):
        @sourcegrad.adjoint(identity)
        def bad(result, x):
            print(x)


def test_stop_gradient_blocks_the_gradient():
    def partly_constant(w):
        return (w * sourcegrad.stop_gradient(w)).sum()

    w = rng.standard_normal(3)
    np.testing.assert_allclose(sourcegrad.differentiate(partly_constant).grad(w), w)


@sourcegrad.nondifferentiable
def bucket(x):
    return np.floor(x * 3)


def test_nondifferentiable_user_function_gives_zero_not_an_error():
    def uses_bucket(w):
        return (bucket(w) * w).sum()

    w = rng.uniform(0.1, 0.9, 4)
    np.testing.assert_allclose(sourcegrad.differentiate(uses_bucket).grad(w), np.floor(w * 3))


def test_a_call_without_a_rule_says_how_to_register_one():
    def calls_copysign(w):
        return math.copysign(w, -1.0) * 2.0

    with pytest.raises(SourcegradError) as info:
        sourcegrad.differentiate(calls_copysign).grad(0.5)
    text = str(info.value)
    assert "no gradient rule for `math.copysign`" in text and "test_user_rules.py" in text
    assert "@sourcegrad.adjoint(math.copysign)" in text


def cube(x):
    return x ** 3


def test_changing_a_rule_recompiles(tmp_path):
    def uses_cube(w):
        return cube(w).sum()

    @sourcegrad.adjoint(cube)
    def right(result, x):
        d[x] = d[result] * 3 * x ** 2

    w = np.array([1.0, 2.0])
    first = sourcegrad.differentiate(uses_cube, generated_dir=tmp_path)
    np.testing.assert_allclose(first.grad(w), 3 * w ** 2)

    @sourcegrad.adjoint(cube)
    def doubled(result, x):
        d[x] = d[result] * 6 * x ** 2

    second = sourcegrad.differentiate(uses_cube, generated_dir=tmp_path)
    np.testing.assert_allclose(second.grad(w), 6 * w ** 2)  # not the cached file of the first rule


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
        registry.set_rule(quadruple, None)


def halve(x):
    return x * 0.5


def test_a_rule_registered_while_a_function_compiles_is_used_by_its_next_call(monkeypatch):
    # as another thread would: the rule arrives after the compiler read the rules, before the result is kept
    from sourcegrad.compiler import Frontend

    def uses(w):
        return halve(w).sum()

    @sourcegrad.adjoint(halve)
    def halve_adjoint(result, x):
        d[x] = d[result] * 0.5

    compile_ = Frontend.compile

    def compile_then_register(self, *args, **kwargs):
        compiled = compile_(self, *args, **kwargs)
        monkeypatch.setattr(Frontend, "compile", compile_)

        @sourcegrad.adjoint(halve)
        def replaced(result, x):
            d[x] = d[result] * 7.0  # not the true gradient, to see which one runs

        return compiled

    monkeypatch.setattr(Frontend, "compile", compile_then_register)
    f = sourcegrad.differentiate(uses)
    w = np.array([1.0, 2.0])
    try:
        np.testing.assert_allclose(f.grad(w), [0.5, 0.5])  # compiled before the rule came
        np.testing.assert_allclose(f.grad(w), [7.0, 7.0])
    finally:
        from sourcegrad.templates import registry
        registry.set_rule(halve, None)


def cubed(x):
    return x ** 3


def test_what_is_known_of_a_primitive_is_one_record():
    """A primitive's rules, its non-differentiable mark and what the analyses read (what its result may share
    memory with, how its rank and shape follow, whether it takes out=) live in one record; RULES and
    NONDIFFERENTIABLE are views of it, so a rule and a non-differentiable mark never disagree."""
    from sourcegrad.templates import registry
    reshape = registry.record(np.reshape)
    assert reshape.rule is registry.RULES[np.reshape] and reshape.tangent is registry.TANGENT_RULES[np.reshape]
    assert (reshape.rank, reshape.result, reshape.shape) == ("reshape", "view of first argument", "constants")
    sine = registry.record(np.sin)  # a ufunc: elementwise, a new array, takes out=, without saying
    assert (sine.rank, sine.result, sine.takes_out, sine.shape) == ("elementwise", "new array", True, "arguments")
    assert registry.record(print) is registry.record({}) and registry.record(print).rule is None
    with pytest.raises(ValueError, match="result='maybe'"):
        registry.describe(np.sin, result="maybe")

    try:
        @sourcegrad.adjoint(cubed)
        def cubed_adjoint(result, x):
            d[x] = d[result] * 3 * x ** 2

        assert cubed in registry.RULES and not registry.is_nondifferentiable(cubed)
        sourcegrad.nondifferentiable(cubed)
        assert cubed not in registry.RULES and cubed in registry.NONDIFFERENTIABLE
        sourcegrad.adjoint(cubed)(cubed_adjoint)
        assert cubed in registry.RULES and cubed not in registry.NONDIFFERENTIABLE
    finally:
        registry.PRIMITIVES.pop(cubed, None)
        registry.rules_changed()
