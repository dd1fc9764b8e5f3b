"""The generated code is a first-class artifact: readable, minimal, deterministic."""

import re

import numpy as np
import pytest

import helper_module
import sourcegrad

rng = np.random.default_rng(2)


def two_layer(x, y, w1, w2):
    h = x @ w1
    h_relu = np.maximum(h, 0)
    y_pred = h_relu @ w2
    return np.square(y_pred - y).sum()


def backward_lines(source):
    """The backward pass's statements, without comments."""
    body = source.split("# backward pass", 1)[1]
    return [line.strip() for line in body.splitlines()[1:] if line.strip() and not line.strip().startswith("#")]


def compiled(fn, *args, wrt=None):
    """The generated function's source."""
    f = sourcegrad.differentiate(fn, wrt=wrt)
    f.grad(*args)
    return f.backward_source


def two_layer_args():
    return rng.standard_normal((5, 4)), rng.standard_normal((5, 3)), rng.standard_normal((4, 6)), rng.standard_normal((6, 3))


def two_layer_with_dot(x, y, w1, w2):  # the tutorial's own spelling
    h = x.dot(w1)
    h_relu = np.maximum(h, 0)
    y_pred = h_relu.dot(w2)
    return np.square(y_pred - y).sum()


@pytest.mark.parametrize("fn, product", [(two_layer, "{} @ {}"), (two_layer_with_dot, "{}.dot({})")],
                         ids=["written with @", "written with .dot"])
def test_two_layer_backward_is_the_hand_written_one(fn, product):
    """The tutorial's hand-written backward, line for line, with the matrix product the user wrote."""
    source = compiled(fn, *two_layer_args(), wrt=("w1", "w2"))
    assert backward_lines(source) == [
        "d_sum_square = xp.output_gradient(sum_square, d_sum_square)",
        "d_y_pred = xp.unbroadcast(d_sum_square * 2 * y_pred_minus_y, y_pred)",
        f"d_h_relu = {product.format('d_y_pred', 'w2.T')}",
        f"d_w2 = {product.format('h_relu.T', 'd_y_pred')}",
        "d_h = d_h_relu * xp.heaviside(h, 1.0)",
        f"d_w1 = {product.format('x.T', 'd_h')}",
        "return (sum_square, (d_w1, d_w2))",
    ]


def test_each_adjoint_block_cites_its_primal_line():
    source = compiled(two_layer, *two_layer_args(), wrt=("w1", "w2"))
    cited = re.findall(r"# test_generated_code\.py:(\d+)  (.*)", source)
    lines = open(__file__).read().splitlines()
    assert [text for _, text in cited] == ["return np.square(y_pred - y).sum()", "y_pred = h_relu @ w2",
                                           "h_relu = np.maximum(h, 0)", "h = x @ w1"]
    for number, text in cited:
        assert lines[int(number) - 1].strip() == text
    assert "/" not in "".join(number for number, _ in cited) and "/work" not in source and "/tmp" not in source


def calls_a_helper_of_another_module(x, w):
    h = helper_module.soft_layer(x, w)
    return (h * h).sum()


def test_a_helpers_lines_are_cited_in_the_helpers_own_file():
    source = compiled(calls_a_helper_of_another_module, rng.standard_normal((2, 3)), rng.standard_normal((3, 2)), wrt="w")
    cited = re.findall(r"# (\S+):(\d+)  (.*)", source)
    files = {"test_generated_code.py": open(__file__).read().splitlines(),
             "helper_module.py": open(helper_module.__file__).read().splitlines()}
    assert {name for name, _, _ in cited} == set(files)
    for name, number, text in cited:
        assert files[name][int(number) - 1].strip() == text


def test_no_needless_operations():
    source = compiled(two_layer, *two_layer_args(), wrt=("w1", "w2"))
    assert "* 1.0" not in source and "zeros" not in source and "ones" not in source
    assert ".astype" not in source and "copy" not in source


def test_weight_sharing_accumulates_in_place():
    def shared(w, x):
        h = np.tanh(x @ w)
        return (h @ w).sum()

    source = compiled(shared, rng.standard_normal((3, 3)), rng.standard_normal((2, 3)))
    statements = backward_lines(source)
    assert sum(s.startswith("d_w = ") for s in statements) == 1, "first contribution assigns"
    assert sum(s.startswith("d_w += ") for s in statements) == 1, "later ones add in place"


def test_same_function_compiles_to_the_same_text_twice(tmp_path):
    first = sourcegrad.differentiate(two_layer, wrt=("w1", "w2"), generated_dir=tmp_path / "a")
    second = sourcegrad.differentiate(two_layer, wrt=("w1", "w2"), generated_dir=tmp_path / "b")
    first.grad(*two_layer_args())
    second.grad(*two_layer_args())
    assert first.backward_source == second.backward_source


def test_one_compiled_gradient_serves_every_shape_of_the_same_ranks():
    f = sourcegrad.differentiate(two_layer, wrt=("w1", "w2"))
    f.grad(*two_layer_args())
    path = f.generated_path
    small = [rng.standard_normal(s) for s in ((2, 3), (2, 1), (3, 2), (2, 1))]
    assert sourcegrad.check_grad(f, *small).max_error < 1e-7
    assert f.generated_path == path


def test_vectors_use_the_general_matmul_rule_and_stay_right():
    def vector_product(w, v):
        return np.tanh(w @ v).sum()

    w, v = rng.standard_normal((3, 4)), rng.standard_normal(4)
    f = sourcegrad.differentiate(vector_product, wrt=("w", "v"))
    assert sourcegrad.check_grad(f, w, v).max_error < 1e-7
    assert "matmul_grad_left" in f.backward_source and ".T" not in f.backward_source


def test_two_layer_has_exactly_the_array_operations_the_hand_written_backward_needs():
    """x is data: two matmuls forward and three backward, one step, one subtraction, one scaling, and the
    loss's square and sum; a change that adds an array operation fails here."""
    import ast

    def loss_fn(x, y, w1, w2):
        h = x.dot(w1)
        h_relu = np.maximum(h, 0)
        y_pred = h_relu.dot(w2)
        return np.square(y_pred - y).sum()

    source = compiled(loss_fn, *two_layer_args(), wrt=("w1", "w2"))
    forward, backward = source.split("# backward pass")
    counts = {}
    for name, part in (("forward", forward), ("backward", backward)):
        tree = ast.parse("\n".join(line[4:] for line in part.splitlines() if line.startswith("    ")
                                   and not line.strip().startswith(("#", '"""', "d_sum_square:"))))
        calls = [n.func.attr for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)]
        counts[name] = {
            "dot": calls.count("dot"),
            "compare": sum(isinstance(n, ast.Compare) for n in ast.walk(tree)),
            "binary": sum(isinstance(n, ast.BinOp) for n in ast.walk(tree)),
            "calls": sorted(c for c in calls if c != "dot"),
        }
    assert counts["forward"] == {"dot": 2, "compare": 0, "binary": 1, "calls": ["maximum", "square", "sum"]}
    # backward: d_sum_square * 2 (a Python scalar), * y_pred_minus_y (the scaling), * step (the relu), the
    # step itself (heaviside), three matmuls; output_gradient and unbroadcast are Python checks, no array
    # operation when the shapes already agree
    assert counts["backward"] == {"dot": 3, "compare": 0, "binary": 3,
                                  "calls": ["heaviside", "output_gradient", "unbroadcast"]}


def test_a_negative_constant_as_a_power_base_keeps_its_parentheses():
    def powers(x):
        p = (-0.5) ** 2
        q = (-2) ** 3
        return (p * x + q * x ** 2).sum()

    x = rng.standard_normal(4)
    f = sourcegrad.differentiate(powers)
    value, gradient = f.value_and_grad(x)
    assert value == pytest.approx(powers(x))
    np.testing.assert_allclose(gradient, 0.25 - 16 * x)
    assert "(-0.5) ** 2" in f.backward_source
