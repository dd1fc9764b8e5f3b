"""Gradient checking against float64 central finite differences of the original function."""

from __future__ import annotations

import inspect

import numpy as np


class GradCheck(dict):
    """argument name -> worst error over its elements; `max_error` is the worst of all."""

    @property
    def max_error(self) -> float:
        return max(self.values()) if self else 0.0

    def __repr__(self):
        rows = ", ".join(f"{name}: {error:.2e}" for name, error in self.items())
        return f"GradCheck({rows})"


def finite_difference_check(fn, args, kwargs, wrt, eps, device=None):
    from .api import DifferentiableFunction, to_device

    if isinstance(fn, DifferentiableFunction):
        differentiable = fn if wrt is None else DifferentiableFunction(fn.fn, wrt, fn.generated_dir, fn.device)
    else:
        differentiable = DifferentiableFunction(fn, wrt)
    original = differentiable.fn
    signature = inspect.signature(original)
    bound = signature.bind(*[_float64(a) for a in args], **{k: _float64(v) for k, v in kwargs.items()})
    bound.apply_defaults()
    arguments = dict(bound.arguments)

    # device= too: with no array among the arguments, they alone would choose numpy
    analytic = differentiable.grad(**(arguments if device is None else to_device(arguments, device)), device=device)
    if differentiable._single:  # one array for wrt='w'; a tuple for wrt=('w',)
        analytic = (analytic,)
    report = GradCheck()
    for name, gradient in zip(differentiable.wrt, analytic):
        if device is not None:
            gradient = _on_host(gradient, name, arguments[name], device)
        numeric = numeric_gradient(original, arguments, name, eps)
        difference = np.abs(np.asarray(gradient, dtype=np.float64) - numeric)
        report[name] = float(np.max(difference / np.maximum(1.0, np.abs(numeric)), initial=0.0))
    return report


def numeric_gradient(fn, arguments: dict, name: str, eps: float):
    """The central finite-difference gradient of sum(fn(**arguments)) with respect to arguments[name]."""

    def evaluate(values):
        return float(np.sum(fn(**values)))

    point = arguments[name]
    numeric = np.zeros(np.shape(point))
    flat = numeric.reshape(-1)
    for index in range(flat.size):
        flat[index] = (evaluate({**arguments, name: _shifted(point, index, eps)})
                       - evaluate({**arguments, name: _shifted(point, index, -eps)})) / (2 * eps)
    return numeric


def _on_host(gradient, name, argument, device):
    """A gradient computed on `device`, brought to the host. Gradients stay where their arguments are, so
    one that came back elsewhere is a sourcegrad bug, not an error to measure."""
    from .api import to_device
    from .runtime import device_of

    if isinstance(argument, np.ndarray) and (device_of(gradient) == "cuda") != (device == "cuda"):
        raise AssertionError(f"the gradient of {name} came back as a {type(gradient).__module__}."
                             f"{type(gradient).__name__}, not on {device}")
    return to_device(gradient, "cpu")


def _float64(value):
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return value.astype(np.float64)
    if isinstance(value, np.floating):  # before float: np.float64 is a float subclass, keep it a numpy scalar
        return np.float64(value)
    return value


def _shifted(point, index, eps):
    if isinstance(point, np.ndarray):
        copy = point.copy()
        copy.reshape(-1)[index] += eps
        return copy
    return point + eps
