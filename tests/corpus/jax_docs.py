"""Programs from JAX's documentation (jax-ml/jax docs: quickstart, the autodiff cookbook, "Thinking in
JAX", "Automatic differentiation" tutorial, control flow, custom derivatives, pytrees, the MLP and linear
regression examples), written as the pages write them with `jax.numpy as jnp` become `numpy as np`."""

import numpy as np
from scipy.special import logsumexp

from .registry import collector, out_of_scope

GROUP = "jax docs"
program, _ = collector(GROUP)

QUICKSTART = "jax-ml/jax docs/quickstart.md "
COOKBOOK = "jax-ml/jax docs/notebooks/autodiff_cookbook.ipynb "
AUTODIFF = "jax-ml/jax docs/automatic-differentiation.md "
THINKING = "jax-ml/jax docs/notebooks/thinking_in_jax.ipynb "
CONTROL = "jax-ml/jax docs/control-flow.md "
CUSTOM = "jax-ml/jax docs/notebooks/Custom_derivative_rules_for_Python_code.ipynb "
PYTREES = "jax-ml/jax docs/working-with-pytrees.md "
MLP = "jax-ml/jax docs/notebooks/Neural_Network_and_Data_Loading.ipynb "
LINREG = "jax-ml/jax docs/jax-101 / key-concepts linear regression "


def scalar(value):
    return lambda r: (value,)


# ---- quickstart ------------------------------------------------------------------------------------------------

@program(QUICKSTART + "selu", lambda r: (r.randn(6) + np.sign(r.randn(6)) * 0.2,))
def selu(x, alpha=1.67, lmbda=1.05):
    return lmbda * np.where(x > 0, x, alpha * np.exp(x) - alpha)


@program(QUICKSTART + "sum_logistic", lambda r: (np.arange(3.0),))
def sum_logistic(x):
    return np.sum(1.0 / (1.0 + np.exp(-x)))


# ---- autodiff cookbook -----------------------------------------------------------------------------------------

def sigmoid(x):
    return 0.5 * (np.tanh(x / 2) + 1)


# Outputs probability of a label being true (the cookbook's comment).
def predict(W, b, inputs):
    return sigmoid(np.dot(inputs, W) + b)


# Build a toy dataset (the cookbook's comment).
inputs = np.array([[0.52, 1.12, 0.77],
                   [0.88, -1.08, 0.15],
                   [0.52, 0.06, -1.30],
                   [0.74, -2.49, 1.39]])
targets = np.array([True, True, False, True])


# Training loss is the negative log-likelihood of the training examples (the cookbook's comment).
@program(COOKBOOK + "loss", lambda r: (r.randn(3), float(r.randn())), wrt=(0, 1))
def loss(W, b):
    preds = predict(W, b, inputs)
    label_probs = preds * targets + (1 - preds) * (1 - targets)
    return -np.sum(np.log(label_probs))


@program(COOKBOOK + "loss2 (parameters in a dict)", lambda r: ({'W': r.randn(3), 'b': float(r.randn())},))
def loss2(params_dict):
    preds = predict(params_dict['W'], params_dict['b'], inputs)
    label_probs = preds * targets + (1 - preds) * (1 - targets)
    return -np.sum(np.log(label_probs))


@program(COOKBOOK + "the tanh example", scalar(2.0))
def cookbook_tanh(x):
    return np.tanh(x)


@program(COOKBOOK + "f (a vector-to-vector function for jacfwd)", lambda r: (r.randn(3),))
def jacobian_example(x):
    return np.asarray([x[0], 5 * x[2], 4 * x[1]**2 - 2 * x[2], x[2] * np.sin(x[0])])


# ---- automatic differentiation tutorial, thinking in JAX --------------------------------------------------------

program(AUTODIFF + "higher-order derivatives: f", scalar(1.0), name="polynomial")(
    lambda x: x**3 + 2*x**2 - 3*x + 1)


@program(THINKING + "norm", lambda r: (r.randn(5, 3),))
def norm(X):
    X = X - X.mean(0)
    return X / X.std(0)


@program(THINKING + "sum_of_squares", lambda r: (np.arange(4.0),))
def sum_of_squares(x):
    return np.sum(x**2)


@program(THINKING + "sum_squared_error", lambda r: (np.arange(4.0), np.arange(4.0) + 0.1), wrt=(0, 1))
def sum_squared_error(x, y):
    return np.sum((x - y)**2)


@program(THINKING + "log2", scalar(3.0))
def log2(x):
    ln_x = np.log(x)
    ln_2 = np.log(2.0)
    return ln_x / ln_2


@program(THINKING + "f(x) with Python control flow on a value", scalar(2.5))
def f_python_if(x):
    if x < 3:
        return 3. * x ** 2
    else:
        return -4 * x


# ---- control flow -----------------------------------------------------------------------------------------------

@program(CONTROL + "example_fun: a for loop with a static trip count", lambda r: (5, 0.8), wrt=(1,))
def example_fun(length, val):
    return np.ones((length,)) * val


@program(CONTROL + "f with a Python for loop", lambda r: (0.9,))
def f_for_loop(x):
    for i in range(3):
        x = 2 * x
    return x


@program(CONTROL + "g with a while loop", lambda r: (1.3,))
def g_while_loop(x):
    while x < 10:
        x = 2 * x
    return x


# ---- custom derivatives -----------------------------------------------------------------------------------------

@program(CUSTOM + "log1pexp", scalar(3.0))
def log1pexp(x):
    return np.log(1. + np.exp(x))


@program(CUSTOM + "f(x, y) = sin(x) * y", lambda r: (0.4, 1.5), wrt=(0, 1))
def custom_sin_y(x, y):
    return np.sin(x) * y


@program(CUSTOM + "f(x) = x / (1 + sqrt(x))", scalar(2.0))
def custom_sqrt_ratio(x):
    return x / (1 + np.sqrt(x))


@program(COOKBOOK + "hvp's f", lambda r: (r.randn(4),))
def hessian_example(X):
    return np.sum(np.tanh(X)**2)


# ---- the JAX README's tanh net, pytrees, MLP, linear regression ------------------------------------------------

def readme_predict(params, inputs):
    for W, b in params:
        outputs = np.dot(inputs, W) + b
        inputs = np.tanh(outputs)
    return outputs                # no activation on last layer (the README's comment)


def init_tanh_params(r, sizes=(3, 5, 2)):
    return [(r.randn(m, n) * 0.5, r.randn(n) * 0.5) for m, n in zip(sizes[:-1], sizes[1:])]


@program("jax-ml/jax README.md loss (the tanh net)", lambda r: (init_tanh_params(r), (r.randn(4, 3), r.randn(4, 2))))
def readme_loss(params, batch):
    inputs, targets = batch
    preds = readme_predict(params, inputs)
    return np.sum((preds - targets)**2)


def init_mlp_params(layer_widths, r):
    params = []
    for n_in, n_out in zip(layer_widths[:-1], layer_widths[1:]):
        params.append(dict(weights=r.normal(size=(n_in, n_out)) * np.sqrt(2 / n_in), biases=np.ones(n_out)))
    return params


def forward(params, x):
    *hidden, last = params
    for layer in hidden:
        x = np.maximum(x @ layer['weights'] + layer['biases'], 0.0)
    return x @ last['weights'] + last['biases']


@program(PYTREES + "loss_fn of the MLP example", lambda r: (init_mlp_params([1, 8, 8, 1], r), r.randn(16, 1),
                                                             r.randn(16, 1)))
def mlp_loss_fn(params, x, y):
    return np.mean((forward(params, x) - y) ** 2)


def relu(x):
    return np.maximum(0, x)


def mlp_predict(params, image):
    # per-example predictions
    activations = image
    for w, b in params[:-1]:
        outputs = np.dot(w, activations) + b
        activations = relu(outputs)

    final_w, final_b = params[-1]
    logits = np.dot(final_w, activations) + final_b
    return logits - logsumexp(logits)


def random_layer_params(m, n, r, scale=1e-1):
    return scale * r.normal(size=(n, m)), scale * r.normal(size=(n,))


@program(MLP + "predict and loss", lambda r: ([random_layer_params(m, n, r) for m, n in [(6, 5), (5, 3)]],
                                              r.randn(6), np.eye(3)[1]))
def mlp_loss(params, image, target):
    preds = mlp_predict(params, image)
    return -np.mean(preds * target)


def model(theta, x):
    """Computes wx + b on a batch of input x."""
    w, b = theta
    return w * x + b


@program(LINREG + "loss_fn", lambda r: (np.array([1.0, 0.0]), r.randn(10), r.randn(10)))
def linreg_loss_fn(theta, x, y):
    prediction = model(theta, x)
    return np.mean((prediction - y)**2)


for _name, _reason in [("vmap / per-example gradients", "jax.vmap inside the function"),
                       ("jax.lax.stop_gradient TD(0) loss", "jax.lax inside the function"),
                       ("lax.scan / fori_loop / while_loop / cond as written", "jax.lax inside the function"),
                       ("custom_jvp / custom_vjp definitions (clip_gradient, fixed_point)",
                        "JAX's own custom-derivative API"),
                       ("complex-differentiation section of the cookbook", "complex numbers"),
                       ("random.normal inside the loss (dropout examples)", "random sampling inside the function"),
                       ("jax.nn / optax losses", "libraries other than numpy and scipy"),
                       ("automatic-differentiation.md grad(jnp.tanh)",
                        "differentiates numpy's own np.tanh: no program source to read")]:
    out_of_scope(GROUP, "jax-ml/jax docs " + _name, _reason)
