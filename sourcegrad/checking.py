"""Gradient checking against float64 central finite differences of the original function.

`check_grad` returns a report that is true when the check passed, so `assert sourcegrad.check_grad(...)` is a
test; `assert_grad` raises an AssertionError that names the worst element instead. Parameters may be arrays,
Python numbers, or dicts, lists, tuples and objects of those (the gradient has the matching structure). An
output that is not a scalar is checked through a random output gradient, so every output element counts.
Large inputs can be checked along a few random directions instead of element by element.
"""

from __future__ import annotations

import copy
import inspect
import numbers

import numpy as np

from .runtime.core import object_attributes, opaque_callable, sequence_like
from .runtime.device import device_of, to_device


class GradCheck(dict):
    """argument name -> worst error over its elements, |analytic - numeric| / max(1, |numeric|).

    True when every element passed, |analytic - numeric| <= atol + rtol * |numeric|; `failures` then is
    empty, else it holds, per failing argument, where its worst element is and both values there.
    """

    def __init__(self, errors, failures, rtol, atol):
        super().__init__(errors)
        self.failures = failures
        self.rtol, self.atol = rtol, atol

    @property
    def passed(self) -> bool:
        return not self.failures

    def __bool__(self):
        return self.passed

    @property
    def max_error(self) -> float:
        return max(self.values(), default=0.0)  # not `if self`: a failed check is falsy

    def explain(self) -> str:
        if self.passed:
            return f"gradient check passed (rtol={self.rtol}, atol={self.atol}): {self._rows()}"
        lines = [f"gradient check failed (rtol={self.rtol}, atol={self.atol}): {self._rows()}"]
        for name, (where, analytic, numeric) in self.failures.items():
            lines.append(f"  {name}{where}: sourcegrad {analytic!r}, finite differences {numeric!r}")
        return "\n".join(lines)

    def _rows(self):
        return ", ".join(f"{name}: {error:.2e}" for name, error in self.items())

    def __repr__(self):
        return f"GradCheck({'passed' if self.passed else 'FAILED'}; {self._rows()})"


def finite_difference_check(differentiable, args, kwargs, eps=1e-6, rtol=1e-5, atol=1e-6, directions=None, seed=0,
                            grad_output=None, device=None) -> GradCheck:
    """differentiable (an api.DifferentiableFunction) checked at args, kwargs: see api.check_grad."""
    # A check that compares nothing would pass: directions=0, or a tolerance no difference can fail.
    if directions is not None and (isinstance(directions, bool) or not isinstance(directions, numbers.Integral)
                                   or directions < 1):
        raise ValueError(f"check_grad's directions must be a positive number of random directions, or None to check "
                         f"every element, not {directions!r}")
    if not (rtol >= 0 and atol >= 0 and np.isfinite(rtol) and np.isfinite(atol)) or not eps > 0:
        raise ValueError(f"check_grad needs finite, non-negative rtol and atol and a positive eps, not rtol={rtol!r}, "
                         f"atol={atol!r}, eps={eps!r}")
    original = differentiable.fn  # what a call runs: the finite differences take it as it is
    signature = inspect.signature(differentiable.source_fn, follow_wrapped=False)
    by_name = original

    # The arguments are checked by name (`*args` as its tuple), and passed by position where the signature allows:
    # the call spreads `*args` again, and a wrapper looked through (`def wrapper(*args)`) takes no keywords.
    def original(**arguments):
        bound = inspect.BoundArguments(signature, arguments)
        return by_name(*bound.args, **bound.kwargs)
    if differentiable.has_aux:  # `return loss, aux`: the finite differences are of loss
        function = original

        def original(**arguments):
            return function(**arguments)[0]
    bound = signature.bind(*[_float64(a) for a in args], **{k: _float64(v) for k, v in kwargs.items()})
    bound.apply_defaults()
    arguments = dict(bound.arguments)
    random = np.random.default_rng(seed)

    output = original(**copy.deepcopy(arguments))
    if grad_output is None and _needs_output_gradient(output):
        grad_output = _random_output_gradient(output, random)  # every output element weighs in
    weights = None if grad_output is None else _on_host(grad_output)

    def objective(values):
        return _weighted_sum(original(**values), weights)

    options = {"device": device} if device is not None else {}
    if grad_output is not None:
        options["grad_output"] = grad_output if device is None else to_device(grad_output, device)
    # device= too: with no array among the arguments, they alone would choose numpy
    call_arguments = copy.deepcopy(arguments) if device is None else to_device(arguments, device)
    analytic = differentiable.grad(**call_arguments, **options)
    if differentiable.has_aux:
        analytic = analytic[0]
    if differentiable._single:  # one array for wrt='w'; a tuple for wrt=('w',)
        analytic = (analytic,)
    errors, failures = {}, {}
    for name, gradient in zip(differentiable.wrt, analytic):
        if device is not None:
            gradient = _device_gradient(gradient, name, arguments[name], device)
        if directions is None:
            compared = _elementwise(objective, arguments, name, gradient, eps)
        else:
            compared = _directional(objective, arguments, name, gradient, eps, directions, random)
        worst, failure = 0.0, None
        for where, got, numeric in compared:
            got, numeric = np.asarray(got, dtype=np.float64), np.asarray(numeric, dtype=np.float64)
            if got.shape != numeric.shape:
                worst, failure = np.inf, failure or (f"{where} (its shape)", got.shape, numeric.shape)
                continue
            difference = np.abs(got - numeric)
            error = np.nan_to_num(difference / np.maximum(1.0, np.abs(numeric)), nan=np.inf)
            bad = ~(difference <= atol + rtol * np.abs(numeric))  # a nan fails too
            worst = max(worst, float(np.max(error, initial=0.0)))
            if failure is None and np.any(bad):
                index = np.unravel_index(int(np.argmax(np.where(bad, error, -1.0))), numeric.shape)
                position = where + (f"[{', '.join(map(str, index))}]" if index else "")
                failure = (position, float(got[index]), float(numeric[index]))
        errors[name] = worst
        if failure is not None:
            failures[name] = failure
    return GradCheck(errors, failures, rtol, atol)


def _needs_output_gradient(output) -> bool:
    return isinstance(output, (tuple, list, dict)) or np.size(output) != 1


def _random_output_gradient(output, random):
    """A gradient of the output's structure: standard normal for each floating item, None (zero) for the rest."""
    if isinstance(output, dict):
        return {key: _random_output_gradient(item, random) for key, item in output.items()}
    if isinstance(output, (tuple, list)):
        return type(output)(_random_output_gradient(item, random) for item in output)
    if not np.issubdtype(np.asarray(output).dtype, np.inexact):
        return None  # an integer or boolean output has no gradient to check
    return random.standard_normal(np.shape(output))


def _weighted_sum(output, weights) -> float:
    """sum(output * weights), over every item of a structured output (an item weighted None counts for nothing);
    sum(output) for a scalar output checked without weights."""
    if weights is None:
        return float(np.sum(np.asarray(output, dtype=np.float64)))
    return _weighted_items(output, weights)


def _weighted_items(output, weights) -> float:
    if weights is None:
        return 0.0
    if isinstance(output, dict):
        return sum(_weighted_items(output[key], weights[key]) for key in output)
    if isinstance(output, (tuple, list)):
        return sum(_weighted_items(item, weight) for item, weight in zip(output, weights))
    return float(np.sum(np.asarray(output, dtype=np.float64) * np.asarray(weights, dtype=np.float64)))


def numeric_gradient(fn, arguments: dict, name: str, eps: float):
    """The central finite-difference gradient of sum(fn(**arguments)) with respect to the array or float
    arguments[name]."""

    def objective(values):
        return float(np.sum(fn(**values)))

    [(_, _, numeric)] = _elementwise(objective, arguments, name, None, eps)
    return numeric


def _elementwise(objective, arguments, name, gradient, eps):
    """(where, analytic, numeric) per leaf of the argument: every element perturbed in turn."""
    for path, leaf in _leaves(arguments[name]):
        numeric = np.zeros(np.shape(leaf))
        flat = numeric.reshape(-1)
        for index in range(flat.size):
            plus = _with_leaf(arguments[name], path, _shifted(leaf, index, eps))
            minus = _with_leaf(arguments[name], path, _shifted(leaf, index, -eps))
            flat[index] = (objective({**arguments, name: plus}) - objective({**arguments, name: minus})) / (2 * eps)
        yield _path_text(path), None if gradient is None else _at(gradient, path, np.shape(leaf)), numeric


def _directional(objective, arguments, name, gradient, eps, count, random):
    """(where, analytic, numeric) for `count` random directions: the derivative along each, two calls apiece."""
    leaves = list(_leaves(arguments[name]))
    for path, leaf in leaves:  # a gradient of another shape would broadcast against the direction and might agree
        part = _at(gradient, path, np.shape(leaf))
        if part.shape != np.shape(leaf):
            yield _path_text(path), part, np.zeros(np.shape(leaf))
            return
    for direction_index in range(count):
        direction = [random.standard_normal(np.shape(leaf)) for _, leaf in leaves]
        plus = minus = arguments[name]
        analytic = 0.0
        for (path, leaf), step in zip(leaves, direction):
            plus = _with_leaf(plus, path, leaf + eps * step)
            minus = _with_leaf(minus, path, leaf - eps * step)
            analytic += float(np.sum(np.asarray(_at(gradient, path, np.shape(leaf)), dtype=np.float64) * step))
        numeric = (objective({**arguments, name: plus}) - objective({**arguments, name: minus})) / (2 * eps)
        yield f" along random direction {direction_index}", analytic, numeric


# ---- structures: their differentiable leaves ---------------------------------------------------------------


def _leaves(value, path=(), within=()):
    """(path, leaf) for every float array and number in a dict, list, tuple or object, in a fixed order; a
    structure met again inside itself (a layer holding its parent model) is not walked again."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "f":
            yield path, value
    elif isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        yield path, value  # a float; an integer is a count or an index, never perturbed
    elif id(value) in within:
        return
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, path + (key,), (*within, id(value)))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _leaves(item, path + (index,), (*within, id(value)))
    elif (attributes := object_attributes(value)) is not None:  # a layer with __call__ too
        for key, item in attributes.items():
            if not opaque_callable(item):
                yield from _leaves(item, path + (key,), (*within, id(value)))


def _with_leaf(value, path, leaf):
    """value with the leaf at path replaced, the containers along the path copied (the original unchanged)."""
    if not path:
        return leaf
    key, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, key: _with_leaf(value[key], rest, leaf)}
    if isinstance(value, (list, tuple)):
        items = list(value)
        items[key] = _with_leaf(items[key], rest, leaf)
        return sequence_like(value, items)
    changed = copy.copy(value)
    # (object's own __setattr__: a frozen dataclass refuses its class's, which is there to keep users from changing it)
    object.__setattr__(changed, key, _with_leaf(getattr(value, key), rest, leaf))
    return changed


def _at(gradient, path, shape):
    """The gradient's part at path (a dict of an object's attributes is indexed by name)."""
    for key in path:
        if isinstance(gradient, dict) and key not in gradient:
            # an object's gradient holds the attributes the function reads: one it never reads has gradient zero
            return np.zeros(shape)
        gradient = gradient[key]
    gradient = np.asarray(gradient, dtype=np.float64)
    return np.broadcast_to(gradient, shape) if gradient.shape != shape and gradient.size == 1 else gradient


def _path_text(path):
    return "".join(f"[{key!r}]" for key in path)


def _float64(value):
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return value.astype(np.float64)
    if isinstance(value, np.floating):  # before float: np.float64 is a float subclass, keep it a numpy scalar
        return np.float64(value)
    if isinstance(value, (dict, list, tuple)) or object_attributes(value) is not None:
        for path, leaf in list(_leaves(value)):
            value = _with_leaf(value, path, _float64(leaf))
    return value


def _shifted(point, index, eps):
    if isinstance(point, np.ndarray):
        copy_ = point.copy()
        copy_.reshape(-1)[index] += eps
        return copy_
    return point + eps


def _device_gradient(gradient, name, argument, device):
    """A gradient computed on `device`, brought to the host. Gradients stay where their arguments are, so
    one that came back elsewhere is a sourcegrad bug, not an error to measure."""
    if isinstance(argument, np.ndarray) and (device_of(gradient) == "cuda") != (device == "cuda"):
        raise AssertionError(f"the gradient of {name} came back as a {type(gradient).__module__}."
                             f"{type(gradient).__name__}, not on {device}")
    return _on_host(gradient)


def _on_host(value):
    return to_device(value, "cpu")
