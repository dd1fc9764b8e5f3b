"""Table entries for the scipy.special rules (expit, logit, gammaln, digamma, erf, erfc, logsumexp,
softmax and log_softmax), the scipy.stats rules (the normal distribution's logpdf, pdf, cdf, logcdf and
logsf, Student's t's
logpdf and pdf, the multivariate normal's logpdf) and the scipy.linalg rule (solve_triangular).

test_primitives.py imports TABLE from here when scipy is installed and runs every entry; without scipy
this module is skipped. The test_ functions at the end check what finite differences cannot.
"""

import numpy as np
import pytest

import sourcegrad

special = pytest.importorskip("scipy.special")
stats = pytest.importorskip("scipy.stats")
linalg = pytest.importorskip("scipy.linalg")

from rule_support import SCALAR, UNARY, Entry, positive, real, shapes  # noqa: E402


def inside_unit_interval(rng, shape):
    """logit's domain (0, 1), kept away from its poles at the ends."""
    return rng.uniform(0.1, 0.9, shape)


# ---- elementwise functions -------------------------------------------------------------------------


def expit(x, w):
    return (special.expit(x) * w).sum()


def logit(x, w):
    return (special.logit(x) * w).sum()


def gammaln(x, w):
    return (special.gammaln(x) * w).sum()


def digamma(x, w):
    return (special.digamma(x) * w).sum()


def erf(x, w):
    return (special.erf(x) * w).sum()


def erfc(x, w):
    return (special.erfc(x) * w).sum()


# ---- logsumexp and softmax -------------------------------------------------------------------------


def logsumexp(x, w):
    return (special.logsumexp(x) * w).sum()


def logsumexp_of_a_masked_row(x, w):
    # a row of -inf entries (a mask, as in log-space CTC or HMM code) whose result nothing weighs: its gradient is 0
    y = x + np.where(np.array([[False], [True], [False]]), -np.inf, 0.0 * x)
    z = special.logsumexp(y, axis=1)
    return (np.where(z > -np.inf, z, 0.0) * w).sum() + special.logsumexp(y)


def logsumexp_axis(x, w):
    return (special.logsumexp(x, axis=-1) * w).sum()


def logsumexp_axis_keepdims(x, w):
    return (special.logsumexp(x, axis=0, keepdims=True) * w).sum()


def logsumexp_axes(x, w):
    return (special.logsumexp(x, axis=(0, 2)) * w).sum()


def softmax(x, w):  # over every element
    return (special.softmax(x) * w).sum()


def softmax_axis(x, w):
    return (special.softmax(x, axis=-1) * w).sum()


def log_softmax(x, w):
    return (special.log_softmax(x) * w).sum()


def log_softmax_axis(x, w):
    return (special.log_softmax(x, axis=1) * w).sum()


# ---- the normal distribution ------------------------------------------------------------------------


def norm_logpdf(x, loc, scale, w):
    return (stats.norm.logpdf(x, loc, scale) * w).sum()


def norm_logpdf_standard(x, w):
    return (stats.norm.logpdf(x) * w).sum()


def norm_logpdf_keywords(x, loc, scale, w):
    return (stats.norm.logpdf(x, loc=loc, scale=scale) * w).sum()


def norm_pdf(x, loc, scale, w):
    return (stats.norm.pdf(x, loc, scale) * w).sum()


def norm_cdf(x, loc, scale, w):
    return (stats.norm.cdf(x, loc, scale) * w).sum()


def norm_cdf_standard(x, w):
    return (stats.norm.cdf(x) * w).sum()


def norm_logcdf(x, loc, scale, w):
    return (stats.norm.logcdf(x, loc, scale) * w).sum()


def norm_logcdf_standard(x, w):
    return (stats.norm.logcdf(x) * w).sum()


def norm_logsf(x, loc, scale, w):
    return (stats.norm.logsf(x, loc=loc, scale=scale) * w).sum()


def norm_logsf_standard(x, w):
    return (stats.norm.logsf(x) * w).sum()


# ---- Student's t distribution ------------------------------------------------------------------------


def t_logpdf(x, df, loc, scale, w):
    return (stats.t.logpdf(x, df, loc, scale) * w).sum()


def t_logpdf_standard(x, df, w):
    return (stats.t.logpdf(x, df) * w).sum()


def t_logpdf_keywords(x, df, loc, scale, w):
    return (stats.t.logpdf(x, df=df, loc=loc, scale=scale) * w).sum()


def t_pdf(x, df, loc, scale, w):
    return (stats.t.pdf(x, df, loc, scale) * w).sum()


# ---- the multivariate normal distribution ---------------------------------------------------------------
# cov = a a^T + 3 I is positive definite for any a; its upper triangle is what the caller passes too, and
# scipy reads only the lower one, as the finite differences see. x's last axis holds a point's coordinates.


def positive_definite(a):
    return a @ a.T + 3.0 * np.eye(a.shape[0])


def multivariate_normal_logpdf(x, mean, a, w):
    return (stats.multivariate_normal.logpdf(x, mean, positive_definite(a)) * w).sum()


def multivariate_normal_logpdf_cov(x, mean, cov, w):
    # cov passed as it is: a random matrix plus 3 I, whose lower triangle scipy reads (diagonally dominant enough
    # for these sizes to be positive definite once mirrored)
    return (stats.multivariate_normal.logpdf(x, mean, cov + 3.0 * np.eye(cov.shape[-1])) * w).sum()


def multivariate_normal_logpdf_diagonal(x, mean, variances, w):
    return (stats.multivariate_normal.logpdf(x, mean=mean, cov=variances) * w).sum()


def multivariate_normal_logpdf_scalar_cov(x, mean, variance, w):
    return (stats.multivariate_normal.logpdf(x, mean, variance) * w).sum()


def multivariate_normal_logpdf_no_mean(x, a, w):  # mean=None: zeros, of the dimension cov has
    return (stats.multivariate_normal.logpdf(x, cov=positive_definite(a)) * w).sum()


def multivariate_normal_logpdf_standard(x, w):
    return (stats.multivariate_normal.logpdf(x, np.zeros(x.shape[-1])) * w).sum()


# ---- triangular systems -----------------------------------------------------------------------------------------


def triangular_system(rng, shape):
    """A square matrix whose triangles are both well conditioned (3 on the diagonal); any other array as it is."""
    values = 0.5 * rng.standard_normal(shape)
    return values + 3.0 * np.eye(shape[-1]) if len(shape) >= 2 and shape[-2] == shape[-1] else values


def solve_triangular_upper(a, b, w):
    return (linalg.solve_triangular(a, b) * w).sum()


def solve_triangular_lower_transposed(a, b, w):
    return (linalg.solve_triangular(a, b, trans="T", lower=True) * w).sum()


def solve_triangular_unit_diagonal(a, b, w):
    return (linalg.solve_triangular(a, b, 1, False, True, check_finite=False) * w).sum()


def solve_triangular_lower_unit_diagonal(a, b, w):
    return (linalg.solve_triangular(a, b, lower=True, unit_diagonal=True, trans="N") * w).sum()


# scipy broadcasts a stack of matrices against a stack of right-hand sides: the gradient of the one stretched sums
TRIANGULAR = shapes([(3, 3), (3,)], [(4, 4), (4, 2)], [(1, 1), (1, 3)], [(3, 3), (2, 3, 2)], [(2, 3, 3), (3, 2)],
                    [(2, 1, 3, 3), (3, 3, 1)])


# x, loc and scale broadcast against each other; scale is drawn positive
LOCATION_SCALE = shapes([(3, 4), (3, 4), (3, 4)], [(3, 4), (4,), ()], [(5,), SCALAR, SCALAR], [SCALAR, (3, 1), (1, 4)])
NORMAL = (real, real, positive)

# x, df, loc and scale broadcast against each other; df and scale are drawn positive
STUDENT = shapes([(3, 4), (3, 4), (3, 4), (3, 4)], [(3, 4), (4,), (3, 1), ()], [(5,), SCALAR, SCALAR, SCALAR],
                 [SCALAR, (3, 1), (1, 4), ()], [(2, 3, 4), (), (4,), (3, 1)])
T_DOMAIN = (real, positive, real, positive)
# (x, mean, a or cov): one point, several points, points in a grid (scipy squeezes the output's axes of 1), and
# the one-dimensional distribution, where x's last axis is the points rather than the coordinates
MULTIVARIATE = shapes([(3,), (3,), (3, 3)], [(5, 3), (3,), (3, 3)], [(2, 1, 3), (3,), (3, 3)], [(4,), (1,), (1, 1)])
DIAGONAL = shapes([(3,), (3,), (3,)], [(5, 3), (3,), (3,)], [(4,), (1,), (1,)])
SCALAR_COV = shapes([(3,), (3,), ()], [(5, 3), (3,), SCALAR], [(4,), SCALAR, SCALAR])

ARRAYS = shapes([(5,)], [(3, 4)], [(2, 3, 4)])
MATRICES = shapes([(3, 4)], [(2, 3, 4)])

TABLE = [
    Entry(linalg.solve_triangular, solve_triangular_upper, TRIANGULAR, domain=triangular_system),
    Entry(linalg.solve_triangular, solve_triangular_lower_transposed, TRIANGULAR, domain=triangular_system),
    Entry(linalg.solve_triangular, solve_triangular_unit_diagonal, TRIANGULAR, domain=triangular_system),
    Entry(linalg.solve_triangular, solve_triangular_lower_unit_diagonal, TRIANGULAR, domain=triangular_system),
    Entry(special.expit, expit, UNARY),
    Entry(special.logit, logit, UNARY, domain=inside_unit_interval),
    Entry(special.gammaln, gammaln, UNARY, domain=positive),
    Entry(special.digamma, digamma, UNARY, domain=positive),
    Entry(special.erf, erf, UNARY),
    Entry(special.erfc, erfc, UNARY),
    Entry(special.logsumexp, logsumexp, shapes([SCALAR], [()]) + ARRAYS),
    Entry(special.logsumexp, logsumexp_axis, ARRAYS),
    Entry(special.logsumexp, logsumexp_of_a_masked_row, shapes([(3, 4)])),
    Entry(special.logsumexp, logsumexp_axis_keepdims, ARRAYS),
    Entry(special.logsumexp, logsumexp_axes, shapes([(2, 3, 4)])),
    Entry(special.softmax, softmax, ARRAYS),
    Entry(special.softmax, softmax_axis, ARRAYS),
    Entry(special.log_softmax, log_softmax, ARRAYS),
    Entry(special.log_softmax, log_softmax_axis, MATRICES),
    Entry(stats.norm.logpdf, norm_logpdf, LOCATION_SCALE, domain=NORMAL),
    Entry(stats.norm.logpdf, norm_logpdf_standard, UNARY),
    Entry(stats.norm.logpdf, norm_logpdf_keywords, LOCATION_SCALE, domain=NORMAL),
    Entry(stats.norm.pdf, norm_pdf, LOCATION_SCALE, domain=NORMAL),
    Entry(stats.norm.cdf, norm_cdf, LOCATION_SCALE, domain=NORMAL),
    Entry(stats.norm.cdf, norm_cdf_standard, UNARY),
    Entry(stats.norm.logcdf, norm_logcdf, LOCATION_SCALE, domain=NORMAL),
    Entry(stats.norm.logcdf, norm_logcdf_standard, UNARY),
    Entry(stats.norm.logsf, norm_logsf, LOCATION_SCALE, domain=NORMAL),
    Entry(stats.norm.logsf, norm_logsf_standard, UNARY),
    Entry(stats.t.logpdf, t_logpdf, STUDENT, domain=T_DOMAIN),
    Entry(stats.t.logpdf, t_logpdf_standard, shapes([(3, 4), (3, 4)], [(3, 4), ()], [(5,), SCALAR], [SCALAR, (4,)]),
          domain=(real, positive)),
    Entry(stats.t.logpdf, t_logpdf_keywords, STUDENT[:2], domain=T_DOMAIN),
    Entry(stats.t.pdf, t_pdf, STUDENT, domain=T_DOMAIN),
    Entry(stats.multivariate_normal.logpdf, multivariate_normal_logpdf, MULTIVARIATE),
    Entry(stats.multivariate_normal.logpdf, multivariate_normal_logpdf_cov, MULTIVARIATE),
    Entry(stats.multivariate_normal.logpdf, multivariate_normal_logpdf_diagonal, DIAGONAL, domain=(real, real, positive)),
    Entry(stats.multivariate_normal.logpdf, multivariate_normal_logpdf_scalar_cov, SCALAR_COV,
          domain=(real, real, positive)),
    Entry(stats.multivariate_normal.logpdf, multivariate_normal_logpdf_no_mean, shapes([(3,), (3, 3)], [(5, 3), (3, 3)])),
    Entry(stats.multivariate_normal.logpdf, multivariate_normal_logpdf_standard, shapes([(3,)], [(5, 3)])),
]


# ---- what finite differences cannot check ------------------------------------------------------------


def logsumexp_weighted(x, b):
    return special.logsumexp(x, b=b)


def logsumexp_with_sign(x):
    return special.logsumexp(x, return_sign=True)[0]


def test_logsumexp_gradient_of_large_values_is_the_softmax(generated_dir):
    # exp(1000) overflows: the rule uses exp(x - result), never exp(x) / sum(exp(x)).
    x = np.array([1000.0, 1000.0, 999.0])
    f = sourcegrad.differentiate(logsumexp_axis, wrt=("x",), generated_dir=generated_dir)
    (gradient,) = f.grad(x, np.ones(()))
    np.testing.assert_allclose(gradient, special.softmax(x))


def test_logsumexp_with_weights_is_refused(generated_dir):
    f = sourcegrad.differentiate(logsumexp_weighted, wrt="x", generated_dir=generated_dir)
    with pytest.raises(sourcegrad.SourcegradError, match="b= or return_sign"):
        f.grad(np.ones(3), np.array([1.0, 2.0, 3.0]))


def test_logsumexp_with_sign_is_refused(generated_dir):
    f = sourcegrad.differentiate(logsumexp_with_sign, wrt="x", generated_dir=generated_dir)
    with pytest.raises(sourcegrad.SourcegradError, match="b= or return_sign"):
        f.grad(np.ones(3))


def multivariate_normal_singular(x, mean, cov):
    return stats.multivariate_normal.logpdf(x, mean, cov, allow_singular=True)


def test_multivariate_normal_with_a_singular_cov_is_refused(generated_dir):
    # scipy's pseudo-determinant and pseudo-inverse jump where the rank changes: no gradient there
    f = sourcegrad.differentiate(multivariate_normal_singular, wrt=("x", "cov"), generated_dir=generated_dir)
    with pytest.raises(sourcegrad.SourcegradError, match="positive definite cov"):
        f.grad(np.array([0.5, 0.5]), np.zeros(2), np.ones((2, 2)))


def multivariate_normal_upper_triangle(cov):
    return stats.multivariate_normal.logpdf(np.array([0.3, -0.2, 0.5]), np.zeros(3), cov)


def test_multivariate_normal_reads_the_lower_triangle_of_cov(generated_dir):
    # scipy reads cov's lower triangle only: the upper one gets no gradient, even where it differs from the lower
    cov = np.array([[2.0, 0.9, -5.0], [0.3, 1.5, 0.0], [0.1, 0.2, 1.0]])
    f = sourcegrad.differentiate(multivariate_normal_upper_triangle, generated_dir=generated_dir)
    gradient = f.grad(cov)
    np.testing.assert_array_equal(np.triu(gradient, 1), 0.0)
    assert sourcegrad.check_grad(multivariate_normal_upper_triangle, cov)


def solve_lower(a):
    return (linalg.solve_triangular(a, np.array([1.0, -2.0, 0.5]), lower=True, trans=1) ** 2).sum()


def solve_upper_unit(a):
    return (linalg.solve_triangular(a, np.array([1.0, -2.0, 0.5]), unit_diagonal=True) ** 2).sum()


def test_solve_triangular_gives_the_unread_entries_of_a_no_gradient(generated_dir):
    # full of values in both triangles: scipy reads one (less the diagonal with unit_diagonal), as finite differences see
    a = np.array([[2.0, 0.7, -1.0], [0.3, 1.5, 0.4], [-0.2, 0.6, 1.8]])
    lower = sourcegrad.differentiate(solve_lower, generated_dir=generated_dir).grad(a)
    np.testing.assert_array_equal(np.triu(lower, 1), 0.0)
    assert sourcegrad.check_grad(solve_lower, a)
    upper = sourcegrad.differentiate(solve_upper_unit, generated_dir=generated_dir).grad(a)
    np.testing.assert_array_equal(np.tril(upper), 0.0)
    assert np.all(upper[np.triu_indices(3, 1)] != 0.0)
    assert sourcegrad.check_grad(solve_upper_unit, a)


def solve_overwriting_b(a, b):
    return linalg.solve_triangular(a, b, overwrite_b=True).sum()


def solve_with_overwrite_by_position(a, b):
    return linalg.solve_triangular(a, b, 0, False, False, True).sum()


@pytest.mark.parametrize("fn", [solve_overwriting_b, solve_with_overwrite_by_position], ids=["keyword", "position"])
def test_solve_triangular_overwriting_b_is_refused(fn, generated_dir):
    with pytest.raises(sourcegrad.SourcegradError, match="does not accept"):
        sourcegrad.differentiate(fn, wrt="a", generated_dir=generated_dir).grad(np.eye(2) * 2.0, np.ones(2))


def norm_log_tails(x):
    return stats.norm.logcdf(x).sum() + 2.0 * stats.norm.logsf(x).sum()


def test_norm_logcdf_and_logsf_gradients_far_in_the_tails(generated_dir):
    # cdf(-40) and sf(40) are 1e-350, beyond float64; their logarithms, and so the gradients, are not
    x = np.array([-40.0, 40.0, -8.0, 8.0])
    f = sourcegrad.differentiate(norm_log_tails, generated_dir=generated_dir)
    gradient = f.grad(x)
    assert np.all(np.isfinite(gradient))
    eps = 1e-5  # logcdf and logsf are computed to full precision there: their differences are good
    numeric = [(norm_log_tails(x + eps * e) - norm_log_tails(x - eps * e)) / (2 * eps) for e in np.eye(4)]
    np.testing.assert_allclose(gradient, numeric, rtol=1e-7)
    # -z / (1 - 1/z^2 + ...) of the Mills ratio: about 40.025 for logcdf at -40, twice minus that for logsf at 40
    assert gradient[0] == pytest.approx(40.0249, rel=1e-5) and gradient[1] == pytest.approx(-2 * 40.0249, rel=1e-5)
    hessian = f.hvp((x,), (np.ones(4),))
    assert np.all(np.isfinite(hessian))
    numeric = (f.grad(x + eps) - f.grad(x - eps)) / (2 * eps)
    np.testing.assert_allclose(hessian, numeric, rtol=1e-5)
