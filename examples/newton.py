"""Logistic regression fitted by Newton's method, with Hessian-vector products and no Hessian.

Each Newton step solves H d = g by conjugate gradients, which needs H only through products H p: `loss.hvp`
gives them, reverse mode over forward mode, at a few times the cost of the loss, without forming H (20 x 20
here, but the same code serves a million parameters). sourcegrad writes the product's code into generated/
beside the gradient's: the loss's lines, each followed by its tangent, then the gradient of that tangent.

    python -m sourcegrad examples/newton.py
    python -m sourcegrad --show examples/newton.py     # print the generated code
"""

import numpy as np

import sourcegrad


@sourcegrad.differentiate(wrt="w")
def loss(w, x, y, l2):
    margins = y * (x @ w)
    return np.logaddexp(0.0, -margins).mean() + 0.5 * l2 * (w * w).sum()


def make_data(seed=0, n=500, d=20, dtype=np.float64):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    truth = rng.standard_normal(d)
    y = np.where(x @ truth + 0.5 * rng.standard_normal(n) > 0, 1.0, -1.0)
    return x.astype(dtype), y.astype(dtype)


def conjugate_gradient(product, g, iterations=10, tolerance=1e-10):
    """d with product(d) = g, H symmetric positive definite, H reached only through product(p) = H p."""
    d = g * 0
    r = g.copy()
    p = r.copy()
    rr = float((r * r).sum())
    for _ in range(iterations):
        hp = product(p)
        alpha = rr / float((p * hp).sum())
        d = d + alpha * p
        r = r - alpha * hp
        rr_next = float((r * r).sum())
        if rr_next < tolerance ** 2:
            break
        p = r + (rr_next / rr) * p
        rr = rr_next
    return d


def fit(steps=8, l2=1e-2, seed=0, log=print, device=None):
    x, y = sourcegrad.to_device(make_data(seed), device)
    w = x[0] * 0
    losses = []
    for step in range(steps):
        value, g = loss.value_and_grad(w, x, y, l2)
        w = w - conjugate_gradient(lambda p: loss.hvp((w, x, y, l2), p), g)
        losses.append(float(value))
        log(step, losses[-1])
    return losses


def main(steps=8, log=None, device=None):
    return fit(steps, log=log or print, device=device)


if __name__ == "__main__":
    main()
