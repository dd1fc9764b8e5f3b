"""Fitting a damped oscillation by Gauss-Newton, with the Jacobian from forward mode.

Three parameters and a hundred residuals: forward mode builds the Jacobian a column at a time, one pass of
the residuals' tangent code per parameter (three), where reverse mode would need one gradient per residual
(a hundred). sourcegrad writes that tangent code into generated/, each line of `residuals` followed by its
derivative.

    python -m sourcegrad examples/curve_fit.py
    python -m sourcegrad --show examples/curve_fit.py     # print the generated forward-mode code
"""

import numpy as np

import sourcegrad


def residuals(params, t, y):
    amplitude, rate, frequency = params[0], params[1], params[2]
    model = amplitude * np.exp(-rate * t) * np.cos(frequency * t)
    return model - y


jacobian = sourcegrad.jacobian(residuals, wrt="params", mode="forward")


def make_data(seed=0, n=100, dtype=np.float64):
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 4.0, n)
    y = residuals(np.array([2.0, 0.7, 3.0]), t, 0.0) + 0.01 * rng.standard_normal(n)
    return t.astype(dtype), y.astype(dtype)


def fit(steps=20, damping=1e-2, seed=0, log=print, device=None):
    """Levenberg-Marquardt: each step solves (J^T J + damping diag(J^T J)) delta = J^T r."""
    t, y, params = sourcegrad.to_device((*make_data(seed), np.array([1.5, 0.5, 2.8])), device)
    losses = []
    for step in range(steps):
        r = residuals(params, t, y)
        J = jacobian(params, t, y)  # (100, 3): one jvp per parameter
        normal = J.T @ J
        delta = np.linalg.solve(normal + damping * np.diag(np.diag(normal)), J.T @ r)
        params = params - delta
        losses.append(float((r * r).sum()))
        log(step, losses[-1])
    return losses


def main(steps=20, log=None, device=None):
    every = max(steps // 10, 1)
    return fit(steps, log=log or (lambda t, loss: t % every == 0 and print(t, loss)), device=device)


if __name__ == "__main__":
    main()
