"""Second derivatives: Hessian-vector products (reverse mode over forward mode), Hessians and grad(grad(f)),
checked against float64 central finite differences of the gradient, on the forward-mode corpus of programs
with loops and branches (tests/test_forward_mode.py)."""

import numpy as np
import pytest

import sourcegrad
from sourcegrad import SourcegradError
from test_forward_mode import CASES, rng_for

EPS = 1e-6


def gradient_difference(f, args, vectors):
    """(grad f(w + eps v) - grad f(w - eps v)) / 2 eps for each wrt argument (vectors: one per wrt argument)."""
    def moved(sign):
        moved_args = list(args)
        for position, v in zip(f._wrt_positions, vectors):
            moved_args[position] = args[position] + sign * EPS * v
        gradients = f.grad(*moved_args)
        return gradients if isinstance(gradients, tuple) else (gradients,)

    return [(p - m) / (2 * EPS) for p, m in zip(moved(1), moved(-1))]


SCALAR_CASES = [c for c in CASES if np.ndim(c[0](*c[1](rng_for("x")))) == 0]


@pytest.mark.parametrize("fn, make_args, positions", SCALAR_CASES,
                         ids=[f"{fn.__name__}-{'_'.join(map(str, p))}" for fn, _, p in SCALAR_CASES])
def test_hvp_matches_finite_differences_of_the_gradient(fn, make_args, positions, tmp_path):
    rng = rng_for("hvp" + fn.__name__ + str(positions))
    args = make_args(rng)
    f = sourcegrad.differentiate(fn, wrt=positions, generated_dir=tmp_path)
    vectors = [rng.standard_normal(np.shape(args[p])) for p in positions]
    products = f.hvp(args, vectors)
    products = products if isinstance(products, tuple) else (products,)
    for product, expected in zip(products, gradient_difference(f, args, vectors)):
        assert np.shape(product) == np.shape(expected)
        np.testing.assert_allclose(product, expected, rtol=1e-5, atol=1e-6)


def quadratic_form(w, a):
    return (w @ a @ w) * 0.5 + np.sin(w).sum()


def test_hessian_of_one_argument_matches_finite_differences_and_is_symmetric(tmp_path):
    rng = np.random.default_rng(0)
    w, a = rng.standard_normal(4), rng.standard_normal((4, 4))
    h = sourcegrad.hessian(sourcegrad.differentiate(quadratic_form, wrt="w", generated_dir=tmp_path))(w, a)
    expected = (a + a.T) / 2 - np.diag(np.sin(w))
    assert h.shape == (4, 4)
    np.testing.assert_allclose(h, expected, atol=1e-12)


def two_arguments(x, w):
    return np.tanh(x @ w).sum() + (x * x).sum() * w.sum()


def test_hessian_of_two_arguments_has_a_block_per_pair(tmp_path):
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 3)), rng.standard_normal((3, 2))
    f = sourcegrad.differentiate(two_arguments, wrt=("x", "w"), generated_dir=tmp_path)
    blocks = sourcegrad.hessian(f)(x, w)
    assert [[b.shape for b in row] for row in blocks] == [[(2, 3, 2, 3), (2, 3, 3, 2)], [(3, 2, 2, 3), (3, 2, 3, 2)]]
    for b, arg in enumerate((x, w)):
        for i in np.ndindex(arg.shape):
            e = [np.zeros_like(x), np.zeros_like(w)]
            e[b][i] = 1
            for a, expected in enumerate(gradient_difference(f, (x, w), e)):
                np.testing.assert_allclose(blocks[a][b][(...,) + i], expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(blocks[0][1], blocks[1][0].transpose(2, 3, 0, 1), atol=1e-12)  # symmetry


def sine_sum(x):
    return np.sin(x).sum()


def empty_beside_a_pair(e, w):
    return np.sum(e ** 2) * np.sum(w) + np.sum(w ** 3) + w[0] * w[1]


def test_hessian_of_an_empty_argument_is_empty(tmp_path):
    h = sourcegrad.hessian(sourcegrad.differentiate(sine_sum, generated_dir=tmp_path))(np.zeros(0))
    assert isinstance(h, np.ndarray) and h.shape == (0, 0)


def test_hessian_blocks_of_an_empty_and_a_nonempty_argument(tmp_path):
    e, w = np.zeros(0), np.array([0.5, -1.5])
    f = sourcegrad.differentiate(empty_beside_a_pair, wrt=("e", "w"), generated_dir=tmp_path)
    blocks = sourcegrad.hessian(f)(e, w)
    assert [[b.shape for b in row] for row in blocks] == [[(0, 0), (0, 2)], [(2, 0), (2, 2)]]
    np.testing.assert_allclose(blocks[1][1], np.diag(6 * w) + np.array([[0.0, 1.0], [1.0, 0.0]]), atol=1e-12)
    for i in range(2):
        _, expected = gradient_difference(f, (e, w), [np.zeros(0), np.eye(2)[i]])
        np.testing.assert_allclose(blocks[1][1][:, i], expected, rtol=1e-5, atol=1e-6)


def test_functional_hvp_takes_primals_and_vectors(tmp_path):
    w, a = np.ones(3), np.eye(3)
    product = sourcegrad.hvp(quadratic_form, wrt="w", generated_dir=tmp_path)((w, a), np.array([1.0, 0.0, 0.0]))
    np.testing.assert_allclose(product, [1 - np.sin(1.0), 0, 0], atol=1e-12)


def test_grad_of_grad_is_the_second_derivative_of_a_scalar_function():
    def f(x):
        return x ** 3 * np.sin(x)

    second = sourcegrad.grad(sourcegrad.grad(f))
    x = 0.7
    expected = 6 * x * np.sin(x) + 6 * x ** 2 * np.cos(x) - x ** 3 * np.sin(x)
    assert second(x) == pytest.approx(expected, rel=1e-12)


def test_grad_of_grad_refuses_an_array_argument():
    second = sourcegrad.grad(sourcegrad.grad(lambda x: np.sum(x ** 3)))
    with pytest.raises(SourcegradError, match="sourcegrad.hessian"):
        second(np.ones(3))


def test_hvp_of_a_function_that_does_not_return_a_scalar_is_refused(tmp_path):
    f = sourcegrad.differentiate(lambda w: np.sin(w), generated_dir=tmp_path)
    with pytest.raises(SourcegradError, match="hvp needs .* to return a scalar"):
        f.hvp((np.ones(3),), np.ones(3))


def test_hvp_file_is_the_gradient_of_the_forward_program(tmp_path):
    f = sourcegrad.differentiate(quadratic_form, wrt="w", generated_dir=tmp_path)
    f.hvp((np.ones(3), np.eye(3)), np.ones(3))
    (path,) = tmp_path.glob("*__hvp_w__*.py")
    text = path.read_text()
    assert "Hessian-vector products of quadratic_form" in text
    assert "def quadratic_form_jvp_value_and_grad(xp, w, a, *, t_w, d_t_" in text
    assert f.hvp_source == text


def checks_and_prints(x):
    # (no `assert` here: pytest rewrites a test module's asserts, and sourcegrad then refuses the changed code)
    print("evaluating at", x.shape)
    return np.sum(np.sin(x) * x)


def test_hvp_of_a_function_with_an_expression_statement(tmp_path, capsys):
    x, v = np.array([0.1, 0.2, 0.3]), np.array([1.0, -2.0, 0.5])
    f = sourcegrad.differentiate(checks_and_prints, generated_dir=tmp_path)
    np.testing.assert_allclose(f.hvp((x,), (v,)), gradient_difference(f, (x,), [v])[0], rtol=1e-5, atol=1e-6)
    assert "evaluating at (3,)" in capsys.readouterr().out  # the statement still runs


def pairwise_distance_sum(x):
    # the diagonal of the distance matrix is |x_i - x_i| = 0 for every x: it adds nothing to any derivative
    d = np.linalg.norm(x[:, None] - x[None], axis=-1)
    return np.sum(d ** 3) + np.sum(d)


def test_hvp_through_norms_that_are_identically_zero_is_finite(tmp_path):
    rng = np.random.default_rng(3)
    x, v = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    f = sourcegrad.differentiate(pairwise_distance_sum, wrt="x", generated_dir=tmp_path)
    np.testing.assert_allclose(f.hvp((x,), v), gradient_difference(f, (x,), [v])[0], rtol=1e-5, atol=1e-6)
