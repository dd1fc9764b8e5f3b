"""Optimizers that update parameters in place from gradients: SGD and Adam, with PyTorch's update rules.

    opt = sourcegrad.optim.Adam({"w1": w1, "w2": w2}, lr=1e-3)
    for step in range(500):
        d_w1, d_w2 = loss_fn.grad(x, y, w1, w2)
        opt.step({"w1": d_w1, "w2": d_w2})      # w1 and w2 change in place

The parameters may be a single array, a dict, list or tuple of arrays (nested freely), or an object whose
array attributes are the parameters; the gradient has the same structure, with a dict keyed by attribute
name standing for an object. Updates are in place, so every reference to a parameter sees the new values.
As in torch, only floating-point arrays are parameters: strings, numbers and integer or bool arrays in the
structure are left alone (sourcegrad gives them a zero gradient), and an array reached from several places
is one parameter, updated once from the sum of its gradients.
The code uses only operators and array methods, so it runs on numpy and cupy arrays alike, and every
hyperparameter is a Python float, so a float32 parameter and its state stay float32.
"""

from __future__ import annotations

import math
import numbers

from .errors import SourcegradError
from .runtime.core import instance_attributes
from .runtime.indexing import holds_arrays
from .runtime import array_namespace


class HyperparameterError(SourcegradError, ValueError):
    """A bad constructor argument; a ValueError too, as these were before they were SourcegradErrors."""


def _is_array(value) -> bool:
    # A numpy scalar has a shape and a dtype too, but `p -= x` would rebind it instead of changing it.
    return hasattr(value, "shape") and hasattr(value, "dtype") and hasattr(type(value), "__setitem__")


def _where(path) -> str:
    return "".join(f"[{key!r}]" for key in path)


def _children(value):
    """The parts one level down, as {key: part}; None for a leaf (an array, or anything else holding no array)."""
    if _is_array(value):
        return None
    if isinstance(value, dict):
        return value
    if isinstance(value, (list, tuple)):
        return dict(enumerate(value))
    # an object: its attributes that hold arrays (a layer object, a dict of arrays); other attributes are settings
    return {name: part for name, part in (instance_attributes(value) or {}).items() if holds_arrays(part)} or None


def _holds_parameters(value) -> bool:
    """Whether value holds a floating-point array (or a complex one, which step refuses by name)."""
    children = _children(value)
    if children is None:
        return _is_array(value) and value.dtype.kind in "fc"
    return any(_holds_parameters(part) for part in children.values())


def _is_zero(grad) -> bool:
    """Whether grad is a zero gradient: None, a zero number or array, or a structure of them."""
    if grad is None:
        return True
    if isinstance(grad, dict):
        return all(_is_zero(part) for part in grad.values())
    if isinstance(grad, (list, tuple)):
        return all(_is_zero(part) for part in grad)
    return not bool(array_namespace(grad).any(grad != 0))


def _not_a_parameter(path, value, grads):
    """Refuse a nonzero gradient for something in the structure that is not a parameter."""
    if _is_zero(grads):
        return
    if _is_array(value):
        why = f"has dtype {value.dtype}, and only floating-point arrays are parameters: make it a float array"
    else:
        why = (f"is a {type(value).__name__}, not an array, so it cannot be updated in place: make it an "
               f"array (np.array(...))")
    raise SourcegradError(f"gradient{_where(path)} is not zero, but params{_where(path)} {why} to train it")


def _walk(params, grads, path=()):
    """Yield (path, parameter, gradient) for every floating-point array in `params`, checking that `grads` matches.

    Parts of the structure that hold no parameter (a layer's name, an integer counter) take a zero gradient of
    any form, or none: a dict key or an attribute the gradient leaves out."""
    if not _holds_parameters(params):
        _not_a_parameter(path, params, grads)
        return
    children = _children(params)
    if children is None:
        if params.dtype.kind == "c":
            raise SourcegradError(f"params{_where(path)} has dtype {params.dtype}: the optimizers update real "
                                  "floating-point parameters only; keep its real and imaginary parts as two arrays")
        yield path, params, grads
        return
    if isinstance(params, (list, tuple)):
        if not isinstance(grads, (list, tuple)) or len(grads) != len(params):
            got = f"has {len(grads)} entries" if isinstance(grads, (list, tuple)) else f"is a {type(grads).__name__}"
            raise SourcegradError(f"gradient{_where(path)} {got}, where the parameters have "
                                  f"a {type(params).__name__} of {len(params)}")
        grads = dict(enumerate(grads))
    elif not isinstance(grads, dict):
        raise SourcegradError(f"gradient{_where(path)} is a {type(grads).__name__}, where the parameters have "
                              f"a {type(params).__name__}: give a dict keyed by {sorted(map(str, children))}")
    missing = [key for key in children if key not in grads and _holds_parameters(children[key])]
    extra = [key for key in grads if key not in children]
    if not isinstance(params, (dict, list, tuple)):
        # An object's gradient may name attributes that are not parameters: one holding no array, or a class
        # attribute read through `self` (sourcegrad differentiates with respect to it, but updating it in place
        # would change every instance). Their gradient must be zero.
        own = instance_attributes(params) or {}
        named = [key for key in extra if isinstance(key, str) and (key in own or hasattr(type(params), key))]
        for key in named:
            extra.remove(key)
            if key in own:
                _not_a_parameter(path + (key,), own[key], grads[key])
            elif not _is_zero(grads[key]):
                raise SourcegradError(
                    f"gradient{_where(path + (key,))} is not zero, but {key!r} is an attribute of the class "
                    f"{type(params).__name__}, not of the object, so it is not a parameter: to train it, set it on "
                    f"the object (self.{key} = ... in __init__); to keep it constant, read it through "
                    f"sourcegrad.stop_gradient(self.{key})")
    if missing or extra:
        details = "; ".join(f"{what} {keys}" for what, keys in (("missing keys", missing), ("unknown keys", extra))
                            if keys)
        raise SourcegradError(f"gradient{_where(path)} does not match the parameters: {details}")
    for key, value in children.items():
        yield from _walk(value, grads.get(key), path + (key,))


def _checked_gradient(path, param, grad):
    """grad as an array of the parameter's dtype, once the parameter and gradient are known to fit."""
    if not getattr(getattr(param, "flags", None), "writeable", True):
        raise SourcegradError(f"params{_where(path)} is read-only, and the optimizers update parameters in place: "
                              "put a writeable copy (np.array(...)) in its place")
    # a number stands for a 0-d gradient; a numpy scalar (a 0-d gradient sourcegrad may return) has shape ()
    shape = () if isinstance(grad, numbers.Real) else getattr(grad, "shape", None)
    if shape != param.shape:
        got = f"has shape {grad.shape}" if hasattr(grad, "shape") else f"is a {type(grad).__name__}"
        raise SourcegradError(f"gradient{_where(path)} {got}, where the parameter has shape {param.shape}")
    if getattr(getattr(grad, "dtype", None), "kind", "f") not in "biuf":
        raise SourcegradError(f"gradient{_where(path)} has dtype {grad.dtype}, where the parameter is real: "
                              "give a real gradient")
    return array_namespace(param).asarray(grad, dtype=param.dtype)


def _check_state(path, param, state):
    """Refuse a parameter that no longer fits the buffers kept for it (it was replaced by another array)."""
    for buffer in state.values():
        if hasattr(buffer, "shape") and (buffer.shape, buffer.dtype) != (param.shape, param.dtype):
            raise SourcegradError(
                f"params{_where(path)} has shape {param.shape} and dtype {param.dtype}, but the optimizer's state "
                f"for it, kept from the array there at an earlier step, has shape {buffer.shape} and dtype "
                f"{buffer.dtype}: to start this parameter afresh, `del optimizer.state[{path!r}]` (or call "
                "optimizer.zero_state() to restart them all, or make a new optimizer)")


class _Optimizer:
    """The walk over parameters and the per-parameter state; subclasses give `_update`."""

    def __init__(self, params):
        self.params = params
        self.state = {}  # path of a parameter's first reference (a tuple of keys, () for a single array) -> buffers

    def step(self, grads):
        """Update every parameter in place from its gradient in `grads`, which has the parameters' structure."""
        # Check everything (structure, shapes, dtypes, state, writeability) before changing anything, so a bad
        # step leaves every parameter and buffer as it was. An array reached from several places is one parameter,
        # as in torch: one update, on the sum of its gradients, with one state.
        found = {}  # id of the array -> [path of its first reference, the array, its summed gradient]
        for path, param, grad in _walk(self.params, grads):
            grad = _checked_gradient(path, param, grad)
            if id(param) in found:
                found[id(param)][2] = found[id(param)][2] + grad
            else:
                found[id(param)] = [path, param, grad]
        if not found:
            raise SourcegradError("params holds no floating-point array, so there is nothing to update: give the "
                                  "arrays to train, alone or in a dict, list, tuple or object")
        for path, param, _ in found.values():
            _check_state(path, param, self.state.get(path, {}))
        for path, param, grad in found.values():
            self._update(param, grad, self.state.setdefault(path, {}))

    def zero_state(self):
        """Forget the buffers and step counts: the next step behaves like the first."""
        self.state.clear()


def _number(owner, name, value, example, below=None):
    """value as a float, refused unless it is a finite number >= 0 (and < `below` where given)."""
    real = ((isinstance(value, numbers.Real) and not isinstance(value, bool))
            or (getattr(value, "shape", None) == () and getattr(getattr(value, "dtype", None), "kind", "") in "iuf"))
    number = float(value) if real else math.nan
    if not (math.isfinite(number) and number >= 0 and (below is None or number < below)):
        allowed = f"a number in [0, {below})" if below is not None else "a finite number >= 0"
        raise HyperparameterError(f"{owner}'s {name} must be {allowed}, got {value!r}: "
                                   f"give, for example, {example}")
    return number


class SGD(_Optimizer):
    """torch.optim.SGD: optional momentum (with dampening and Nesterov) and weight decay (L2)."""

    def __init__(self, params, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
        self.lr = _number("SGD", "lr", lr, "lr=0.01")
        self.momentum = _number("SGD", "momentum", momentum, "momentum=0.9, or 0 for none")
        self.dampening = _number("SGD", "dampening", dampening, "dampening=0")
        self.weight_decay = _number("SGD", "weight_decay", weight_decay, "weight_decay=1e-4, or 0 for none")
        self.nesterov = bool(nesterov)
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise HyperparameterError(f"nesterov momentum needs momentum > 0 and dampening == 0, got momentum="
                                       f"{momentum!r} and dampening={dampening!r}: give momentum=0.9, say, and "
                                       "dampening=0, or nesterov=False")
        super().__init__(params)

    def _update(self, p, g, state):
        # g may be a numpy scalar where p is 0-d (numpy's arithmetic on 0-d arrays gives scalars): it is only
        # read, and every buffer is an array made here, so that `*=` and `+=` change it in place.
        if self.weight_decay:
            g = g + self.weight_decay * p
        if self.momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                # The first step starts the buffer at the gradient itself, undamped (as PyTorch does).
                buf = state["momentum_buffer"] = array_namespace(p).zeros_like(p)
                buf += g
            else:
                buf *= self.momentum
                buf += (1.0 - self.dampening) * g
            g = g + self.momentum * buf if self.nesterov else buf
        p -= self.lr * g  # augmented assignment on an array writes into it: references stay valid


class Adam(_Optimizer):
    """torch.optim.Adam: bias-corrected moving averages of g and g*g, L2 weight decay, optional AMSGrad."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False):
        self.lr = _number("Adam", "lr", lr, "lr=1e-3")
        if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
            raise HyperparameterError(f"Adam's betas must be two numbers in [0, 1), got {betas!r}: give, for "
                                       "example, betas=(0.9, 0.999)")
        self.beta1, self.beta2 = (_number("Adam", f"betas[{i}]", beta, "betas=(0.9, 0.999)", below=1.0)
                                  for i, beta in enumerate(betas))
        self.eps = _number("Adam", "eps", eps, "eps=1e-8")
        self.weight_decay = _number("Adam", "weight_decay", weight_decay, "weight_decay=1e-4, or 0 for none")
        self.amsgrad = bool(amsgrad)
        super().__init__(params)

    def _update(self, p, g, state):
        if not state:
            xp = array_namespace(p)
            state.update(step=0, exp_avg=xp.zeros_like(p), exp_avg_sq=xp.zeros_like(p))
            if self.amsgrad:
                state["max_exp_avg_sq"] = xp.zeros_like(p)
        state["step"] += 1
        t, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]
        if self.weight_decay:
            g = g + self.weight_decay * p
        m *= self.beta1
        m += (1.0 - self.beta1) * g
        v *= self.beta2
        v += (1.0 - self.beta2) * g * g
        if self.amsgrad:
            # The running maximum of v (not of its bias-corrected value), as PyTorch keeps it.
            v = array_namespace(p).maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
        m_hat = m / (1.0 - self.beta1 ** t)
        v_hat = v / (1.0 - self.beta2 ** t)
        p -= self.lr * m_hat / (v_hat ** 0.5 + self.eps)
