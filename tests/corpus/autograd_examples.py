"""Programs from autograd's examples (HIPS/autograd, examples/*.py): the objectives their authors
differentiate, written as the examples write them, with small stand-ins for their data sets."""

import numpy as np
import scipy.special
import scipy.stats
from scipy.special import logsumexp

from .registry import collector, out_of_scope

GROUP = "autograd examples"
program, case = collector(GROUP)

EXAMPLES = "HIPS/autograd examples/"


# ---- examples/logistic_regression.py --------------------------------------------------------------------------

def sigmoid(x):
    return 0.5 * (np.tanh(x / 2.) + 1)


def logistic_predictions(weights, inputs):
    # Outputs probability of a label being true according to logistic model (the example's comment).
    return sigmoid(np.dot(inputs, weights))


LR_INPUTS = np.array([[0.52, 1.12, 0.77],
                      [0.88, -1.08, 0.15],
                      [0.52, 0.06, -1.30],
                      [0.74, -2.49, 1.39]])
LR_TARGETS = np.array([True, True, False, True])


@program(EXAMPLES + "logistic_regression.py training_loss", lambda r: (r.randn(3),))
def training_loss(weights):
    # Training loss is the negative log-likelihood of the training labels (the example's comment).
    preds = logistic_predictions(weights, LR_INPUTS)
    label_probabilities = preds * LR_TARGETS + (1 - preds) * (1 - LR_TARGETS)
    return -np.sum(np.log(label_probabilities))


# ---- examples/neural_net.py -----------------------------------------------------------------------------------

def init_random_params(scale, layer_sizes, rs=np.random.RandomState(0)):
    return [(scale * rs.randn(m, n), scale * rs.randn(n)) for m, n, in zip(layer_sizes[:-1], layer_sizes[1:])]


def neural_net_predict(params, inputs):
    for W, b in params:
        outputs = np.dot(inputs, W) + b
        inputs = np.tanh(outputs)
    return outputs - logsumexp(outputs, axis=1, keepdims=True)


def l2_norm(params):
    flattened = np.concatenate([np.ravel(W) for W, b in params] + [np.ravel(b) for W, b in params])
    return np.dot(flattened, flattened)


def log_posterior(params, inputs, targets, L2_reg):
    log_prior = -L2_reg * l2_norm(params)
    log_lik = np.sum(neural_net_predict(params, inputs) * targets)
    return log_prior + log_lik


def classification_data(r, n=6, d=4, k=3):
    return r.randn(n, d), np.eye(k)[r.randint(0, k, n)]


@program(EXAMPLES + "neural_net.py log_posterior",
         lambda r: (init_random_params(0.3, [4, 5, 3], r),) + classification_data(r) + (0.1,))
def neural_net_objective(params, inputs, targets, L2_reg):
    return -log_posterior(params, inputs, targets, L2_reg)


# ---- examples/rnn.py ------------------------------------------------------------------------------------------

def create_rnn_params(input_size, state_size, output_size, param_scale=0.1, rs=np.random.RandomState(0)):
    return {'init hiddens': rs.randn(1, state_size) * param_scale,
            'change': rs.randn(input_size + state_size + 1, state_size) * param_scale,
            'predict': rs.randn(state_size + 1, output_size) * param_scale}


def concat_and_multiply(weights, *args):
    cat_state = np.hstack(args + (np.ones((args[0].shape[0], 1)),))
    return np.dot(cat_state, weights)


def rnn_predict(params, inputs):
    def update_rnn(input, hiddens):
        return np.tanh(concat_and_multiply(params['change'], input, hiddens))

    def hiddens_to_output_probs(hiddens):
        output = concat_and_multiply(params['predict'], hiddens)
        return output - logsumexp(output, axis=1, keepdims=True)  # Normalize log-probs.

    num_sequences = inputs.shape[1]
    hiddens = np.repeat(params['init hiddens'], num_sequences, axis=0)
    output = [hiddens_to_output_probs(hiddens)]

    for input in inputs:  # Iterate over time steps.
        hiddens = update_rnn(input, hiddens)
        output.append(hiddens_to_output_probs(hiddens))
    return output


def rnn_log_likelihood(params, inputs, targets):
    logprobs = rnn_predict(params, inputs)
    loglik = 0.0
    num_time_steps, num_examples, _ = inputs.shape
    for t in range(num_time_steps):
        loglik += np.sum(logprobs[t] * targets[t])
    return loglik / (num_time_steps * num_examples)


def sequences(r, steps=4, batch=2, size=3):
    return np.eye(size)[r.randint(0, size, (steps, batch))], np.eye(size)[r.randint(0, size, (steps, batch))]


@program(EXAMPLES + "rnn.py rnn_log_likelihood", lambda r: (create_rnn_params(3, 4, 3, rs=r),) + sequences(r))
def rnn_training_loss(params, inputs, targets):
    return -rnn_log_likelihood(params, inputs, targets)


# ---- examples/lstm.py -----------------------------------------------------------------------------------------

def init_lstm_params(input_size, state_size, output_size, param_scale=0.1, rs=np.random.RandomState(0)):
    def rp(*shape):
        return rs.randn(*shape) * param_scale

    return {'init cells': rp(1, state_size),
            'init hiddens': rp(1, state_size),
            'change': rp(input_size + state_size + 1, state_size),
            'forget': rp(input_size + state_size + 1, state_size),
            'ingate': rp(input_size + state_size + 1, state_size),
            'outgate': rp(input_size + state_size + 1, state_size),
            'predict': rp(state_size + 1, output_size)}


def lstm_predict(params, inputs):
    def update_lstm(input, hiddens, cells):
        change = np.tanh(concat_and_multiply(params['change'], input, hiddens))
        forget = sigmoid(concat_and_multiply(params['forget'], input, hiddens))
        ingate = sigmoid(concat_and_multiply(params['ingate'], input, hiddens))
        outgate = sigmoid(concat_and_multiply(params['outgate'], input, hiddens))
        cells = cells * forget + ingate * change
        hiddens = outgate * np.tanh(cells)
        return hiddens, cells

    def hiddens_to_output_probs(hiddens):
        output = concat_and_multiply(params['predict'], hiddens)
        return output - logsumexp(output, axis=1, keepdims=True)  # Normalize log-probs.

    num_sequences = inputs.shape[1]
    hiddens = np.repeat(params['init hiddens'], num_sequences, axis=0)
    cells = np.repeat(params['init cells'], num_sequences, axis=0)

    output = [hiddens_to_output_probs(hiddens)]
    for input in inputs:  # Iterate over time steps.
        hiddens, cells = update_lstm(input, hiddens, cells)
        output.append(hiddens_to_output_probs(hiddens))
    return output


@program(EXAMPLES + "lstm.py lstm_log_likelihood", lambda r: (init_lstm_params(3, 4, 3, rs=r),) + sequences(r))
def lstm_log_likelihood(params, inputs, targets):
    logprobs = lstm_predict(params, inputs)
    loglik = 0.0
    num_time_steps, num_examples, _ = inputs.shape
    for t in range(num_time_steps):
        loglik += np.sum(logprobs[t] * targets[t])
    return loglik / (num_time_steps * num_examples)


# ---- examples/bayesian_neural_net.py: make_nn_funs' logprob (the sampling objective is out of scope) -----

def make_nn_funs(layer_sizes, L2_reg, noise_variance, nonlinearity=np.tanh):
    """These functions implement a standard multi-layer perceptron,
    vectorized over both training examples and weight samples."""
    shapes = list(zip(layer_sizes[:-1], layer_sizes[1:]))
    num_weights = sum((m + 1) * n for m, n in shapes)

    def unpack_layers(weights):
        num_weight_sets = len(weights)
        for m, n in shapes:
            yield weights[:, :m * n].reshape((num_weight_sets, m, n)), \
                weights[:, m * n:m * n + n].reshape((num_weight_sets, 1, n))
            weights = weights[:, (m + 1) * n:]

    def predictions(weights, inputs):
        """weights is shape (num_weight_samples x num_weights)
           inputs  is shape (num_datapoints x D)"""
        inputs = np.expand_dims(inputs, 0)
        for W, b in unpack_layers(weights):
            outputs = np.einsum('mnd,mdo->mno', inputs, W) + b
            inputs = nonlinearity(outputs)
        return outputs

    def logprob(weights, inputs, targets):
        log_prior = -L2_reg * np.sum(weights**2, axis=1)
        preds = predictions(weights, inputs)
        log_lik = -np.sum((preds - targets)**2, axis=1)[:, 0] / noise_variance
        return log_prior + log_lik

    return num_weights, predictions, logprob


@case(EXAMPLES + "bayesian_neural_net.py logprob (made by make_nn_funs)")
def bayesian_neural_net_logprob(r):
    num_weights, predictions, logprob = make_nn_funs(layer_sizes=[1, 4, 1], L2_reg=0.1, noise_variance=0.01,
                                                     nonlinearity=np.tanh)
    inputs, targets = r.randn(5, 1), r.randn(5, 1)
    return logprob, (r.randn(2, num_weights) * 0.5, inputs, targets)


# ---- examples/gaussian_process.py ----------------------------------------------------------------------------

def make_gp_funs(cov_func, num_cov_params):
    """Functions that perform Gaussian process regression.
    cov_func has signature (cov_params, x, x')"""

    def unpack_kernel_params(params):
        mean = params[0]
        cov_params = params[2:]
        noise_scale = np.exp(params[1]) + 0.0001
        return mean, cov_params, noise_scale

    def log_marginal_likelihood(params, x, y):
        mean, cov_params, noise_scale = unpack_kernel_params(params)
        cov_y_y = cov_func(cov_params, x, x) + noise_scale * np.eye(len(y))
        prior_mean = mean * np.ones(len(y))
        return scipy.stats.multivariate_normal.logpdf(y, prior_mean, cov_y_y)

    return num_cov_params + 2, log_marginal_likelihood


def rbf_covariance(kernel_params, x, xp):
    output_scale = np.exp(kernel_params[0])
    lengthscales = np.exp(kernel_params[1:])
    diffs = np.expand_dims(x / lengthscales, 1) - np.expand_dims(xp / lengthscales, 0)
    return output_scale * np.exp(-0.5 * np.sum(diffs**2, axis=2))


@case(EXAMPLES + "gaussian_process.py log_marginal_likelihood (made by make_gp_funs)")
def gaussian_process_objective(r):
    D = 1
    num_params, log_marginal_likelihood = make_gp_funs(rbf_covariance, num_cov_params=D + 1)
    X, y = r.randn(6, D), r.randn(6)
    objective = lambda params: -log_marginal_likelihood(params, X, y)  # noqa: E731  (as the example writes it)
    return objective, (r.randn(num_params) * 0.3,)


@program(EXAMPLES + "gaussian_process.py rbf_covariance", lambda r: (r.randn(3) * 0.3, r.randn(4, 2), r.randn(5, 2)),
         wrt=(0, 1))
def rbf_covariance_program(kernel_params, x, xp):
    return rbf_covariance(kernel_params, x, xp)


# ---- examples/black_box_svi.py, mixture_variational_inference.py: the deterministic densities ---------------

@program(EXAMPLES + "black_box_svi.py log_density (the target)", lambda r: (r.randn(5, 2) * 0.5, 0))
def log_density(x, t):
    mu, log_sigma = x[:, 0], x[:, 1]
    sigma_density = scipy.stats.norm.logpdf(log_sigma, 0, 1.35)
    mu_density = scipy.stats.norm.logpdf(mu, 0, np.exp(log_sigma))
    return sigma_density + mu_density


@program(EXAMPLES + "mixture_variational_inference.py diag_gaussian_log_density",
         lambda r: (r.randn(4, 2), r.randn(2), r.randn(2) * 0.2), wrt=(1, 2))
def diag_gaussian_log_density(x, mu, log_std):
    return np.sum(scipy.stats.norm.logpdf(x, mu, np.exp(log_std)), axis=-1)


# ---- examples/fluidsim/fluidsim.py ----------------------------------------------------------------------------
# Fluid simulation code based on "Real-Time Fluid Dynamics for Games" by Jos Stam (the example's comment).
# The plotting lines of simulate (matplotlib) are left out; the rest is as the example writes it.

def project(vx, vy):
    """Project the velocity field to be approximately mass-conserving,
    using a few iterations of Gauss-Seidel."""
    p = np.zeros(vx.shape)
    h = 1.0 / vx.shape[0]
    div = (
        -0.5
        * h
        * (
            np.roll(vx, -1, axis=0)
            - np.roll(vx, 1, axis=0)
            + np.roll(vy, -1, axis=1)
            - np.roll(vy, 1, axis=1)
        )
    )

    for k in range(10):
        p = (
            div
            + np.roll(p, 1, axis=0)
            + np.roll(p, -1, axis=0)
            + np.roll(p, 1, axis=1)
            + np.roll(p, -1, axis=1)
        ) / 4.0

    vx -= 0.5 * (np.roll(p, -1, axis=0) - np.roll(p, 1, axis=0)) / h
    vy -= 0.5 * (np.roll(p, -1, axis=1) - np.roll(p, 1, axis=1)) / h
    return vx, vy


def advect(f, vx, vy):
    """Move field f according to x and y velocities (u and v)
    using an implicit Euler integrator."""
    rows, cols = f.shape
    cell_ys, cell_xs = np.meshgrid(np.arange(rows), np.arange(cols))
    center_xs = (cell_xs - vx).ravel()
    center_ys = (cell_ys - vy).ravel()

    # Compute indices of source cells.
    left_ix = np.floor(center_xs).astype(int)
    top_ix = np.floor(center_ys).astype(int)
    rw = center_xs - left_ix  # Relative weight of right-hand cells.
    bw = center_ys - top_ix  # Relative weight of bottom cells.
    left_ix = np.mod(left_ix, rows)  # Wrap around edges of simulation.
    right_ix = np.mod(left_ix + 1, rows)
    top_ix = np.mod(top_ix, cols)
    bot_ix = np.mod(top_ix + 1, cols)

    # A linearly-weighted sum of the 4 surrounding cells.
    flat_f = (1 - rw) * ((1 - bw) * f[left_ix, top_ix] + bw * f[left_ix, bot_ix]) + rw * (
        (1 - bw) * f[right_ix, top_ix] + bw * f[right_ix, bot_ix]
    )
    return np.reshape(flat_f, (rows, cols))


def simulate(vx, vy, smoke, num_time_steps, ax=None, render=False):
    print("Running simulation...")
    for t in range(num_time_steps):
        vx_updated = advect(vx, vx, vy)
        vy_updated = advect(vy, vx, vy)
        vx, vy = project(vx_updated, vy_updated)
        smoke = advect(smoke, vx, vy)
    return smoke


@case(EXAMPLES + "fluidsim/fluidsim.py objective (in __main__)")
def fluidsim_objective(r):
    simulation_timesteps = 3
    init_smoke = r.rand(6, 6)
    target = r.rand(6, 6)
    rows, cols = target.shape

    def distance_from_target_image(smoke):
        return np.mean((target - smoke) ** 2)

    def convert_param_vector_to_matrices(params):
        vx = np.reshape(params[: (rows * cols)], (rows, cols))
        vy = np.reshape(params[(rows * cols):], (rows, cols))
        return vx, vy

    def objective(params):
        init_vx, init_vy = convert_param_vector_to_matrices(params)
        final_smoke = simulate(init_vx, init_vy, init_smoke, simulation_timesteps)
        return distance_from_target_image(final_smoke)

    # small velocities away from whole cells: advect's floor() then has no jump near the point
    return objective, (r.uniform(0.2, 0.4, 2 * rows * cols) * np.sign(r.randn(2 * rows * cols)),)


# ---- examples/negative_binomial_maxlike.py, gmm.py ---------------------------------------------------------

def negbin_loglike(r, p, x):
    # the negative binomial log-likelihood we want to maximize (the example's comment)
    return scipy.special.gammaln(r + x) - scipy.special.gammaln(r) - scipy.special.gammaln(x + 1) \
        + x * np.log(p) + r * np.log(1 - p)


@case(EXAMPLES + "negative_binomial_maxlike.py fit_maxlike's loglike", wrt=(0, 1))
def negative_binomial_loglike(r):
    x = r.randint(0, 9, 20).astype(float)
    loglike = lambda r, p: np.sum(negbin_loglike(r, p, x))  # noqa: E731
    return loglike, (2.5, 0.4)


def log_normalize(x):
    return x - logsumexp(x)


def unpack_gmm_params(params):
    normalized_log_proportions = log_normalize(params["log proportions"])
    return normalized_log_proportions, params["means"], params["lower triangles"]


def gmm_params(r, num_components=3, D=2):
    return {"log proportions": r.randn(num_components) * 0.1,
            "means": r.randn(num_components, D),
            "lower triangles": np.eye(D) + np.tril(r.randn(num_components, D, D) * 0.1, -1)}


@program(EXAMPLES + "gmm.py gmm_log_likelihood", lambda r: (gmm_params(r), r.randn(6, 2)))
def gmm_log_likelihood(params, data):
    cluster_lls = []
    for log_proportion, mean, cov_sqrt in zip(*unpack_gmm_params(params)):
        cov = np.dot(cov_sqrt.T, cov_sqrt)
        cluster_lls.append(log_proportion + scipy.stats.multivariate_normal.logpdf(data, mean, cov))
    return np.sum(logsumexp(np.vstack(cluster_lls), axis=0))


# ---- examples/tanh.py, define_gradient.py, print_trace.py, sinusoid.py -----------------------------------------

@program(EXAMPLES + "tanh.py tanh", lambda r: (np.linspace(-2, 2, 7),))
def tanh(x):
    return (1.0 - np.exp(-x)) / (1.0 + np.exp(-x))


@program(EXAMPLES + "define_gradient.py logsumexp", lambda r: (r.randn(5),))
def logsumexp_by_hand(x):
    max_x = np.max(x)
    return max_x + np.log(np.sum(np.exp(x - max_x)))


@program(EXAMPLES + "define_gradient.py example_func", lambda r: (r.randn(4),))
def example_func(y):
    z = y**2
    lse = logsumexp_by_hand(z)
    return np.sum(lse)


@program(EXAMPLES + "print_trace.py tanh", lambda r: (0.7,))
def print_trace_tanh(x):
    y = np.exp(-x)
    return (1.0 - y) / (1.0 + y)


@program(EXAMPLES + "sinusoid.py fun", lambda r: (np.linspace(-3, 3, 9),))
def sinusoid_fun(x):
    return np.sin(x)


@program(EXAMPLES + "rosenbrock.py rosenbrock", lambda r: (np.array([-0.7, 1.3]),))
def rosenbrock(x):
    return 100 * (x[1] - x[0]**2)**2 + (1 - x[0])**2


for _name, _reason in [("variational_autoencoder.py", "random sampling inside the objective"),
                       ("bayesian_neural_net.py", "random sampling inside the objective"),
                       ("natural_gradient_black_box_svi.py", "random sampling inside the objective"),
                       ("generative_adversarial_net.py", "random sampling inside the objective"),
                       ("black_box_svi.py variational_objective", "random sampling inside the objective"),
                       ("mixture_variational_inference.py mixture_elbo", "random sampling inside the objective"),
                       ("convnet.py", "autograd.scipy.signal.convolve's own signature (axes, dot_axes)"),
                       ("ica.py", "autograd's own flatten/unflatten helpers inside the objective"),
                       ("deep_gaussian_process.py", "random sampling inside the objective"),
                       ("ode_net.py", "autograd.scipy.integrate.odeint (autograd's own primitive)"),
                       ("fixed_points.py", "autograd.misc.fixed_point (autograd's own API)"),
                       ("rkhs.py", "autograd's vector-space extension API"),
                       ("hmm_em.py", "complex numbers in the gradient trick"),
                       ("dot_graph.py", "autograd's tracer internals")]:
    out_of_scope(GROUP, EXAMPLES + _name, _reason)
