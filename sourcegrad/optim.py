"""Optimizers that update parameters in place from gradients: SGD and Adam, with PyTorch's update rules.

    opt = sourcegrad.optim.Adam({"w1": w1, "w2": w2}, lr=1e-3)
    for step in range(500):
        d_w1, d_w2 = loss_fn.grad(x, y, w1, w2)
        opt.step({"w1": d_w1, "w2": d_w2})      # w1 and w2 change in place

The parameters may be a single array, a dict, list or tuple of arrays (nested freely), or an object whose
array attributes are the parameters; the gradient has the same structure, with a dict keyed by attribute
name standing for an object. Updates are in place, so every reference to a parameter sees the new values.
The code uses only operators and array methods, so it runs on numpy and cupy arrays alike, and every
hyperparameter is a Python float, so a float32 parameter and its state stay float32.
"""

from __future__ import annotations

from .errors import SourcegradError
from .runtime.indexing import holds_arrays
from .runtime import array_namespace


def _is_array(value) -> bool:
    # A numpy scalar has a shape and a dtype too, but `p -= x` would rebind it instead of changing it.
    return hasattr(value, "shape") and hasattr(value, "dtype") and hasattr(type(value), "__setitem__")


def _where(path) -> str:
    return "".join(f"[{key!r}]" for key in path)


def _children(params, path):
    """The parameters one level down, as {key: value}; None for an array."""
    if _is_array(params):
        return None
    if isinstance(params, dict):
        return params
    if isinstance(params, (list, tuple)):
        return dict(enumerate(params))
    # an object: its array attributes, and attributes that hold arrays (a layer object, a dict of arrays)
    arrays = {name: value for name, value in getattr(params, "__dict__", {}).items() if holds_arrays(value)}
    if not arrays:
        raise SourcegradError(f"params{_where(path)} is a {type(params).__name__}: not an array, a dict, "
                              "a list, a tuple or an object with array attributes")
    return arrays


def _pairs(params, grads, path=()):
    """Yield (path, parameter, gradient) for every array in `params`, checking that `grads` matches."""
    children = _children(params, path)
    if children is None:
        if getattr(grads, "shape", None) != params.shape:
            got = f"has shape {grads.shape}" if hasattr(grads, "shape") else f"is a {type(grads).__name__}"
            raise SourcegradError(f"gradient{_where(path)} {got}, where the parameter has shape {params.shape}")
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
    missing = [key for key in children if key not in grads]
    extra = [key for key in grads if key not in children]
    if missing or extra:
        details = "; ".join(f"{what} {keys}" for what, keys in (("missing keys", missing), ("unknown keys", extra))
                            if keys)
        raise SourcegradError(f"gradient{_where(path)} does not match the parameters: {details}")
    for key, value in children.items():
        yield from _pairs(value, grads[key], path + (key,))


class _Optimizer:
    """The walk over parameters and the per-parameter state; subclasses give `_update`."""

    def __init__(self, params):
        self.params = params
        self.state = {}  # path of a parameter (a tuple of keys, () for a single array) -> its buffers

    def step(self, grads):
        """Update every parameter in place from its gradient in `grads`, which has the parameters' structure."""
        # Check the whole structure before changing anything, so a bad gradient leaves no parameter half-updated.
        pairs = list(_pairs(self.params, grads))
        for path, param, grad in pairs:
            if grad.dtype != param.dtype:
                grad = grad.astype(param.dtype)  # keeps the buffers in the parameter's dtype
            self._update(param, grad, self.state.setdefault(path, {}))

    def zero_state(self):
        """Forget the buffers and step counts: the next step behaves like the first."""
        self.state.clear()


class SGD(_Optimizer):
    """torch.optim.SGD: optional momentum (with dampening and Nesterov) and weight decay (L2)."""

    def __init__(self, params, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
        if lr < 0 or momentum < 0 or weight_decay < 0:
            raise ValueError("lr, momentum and weight_decay must not be negative")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("nesterov momentum needs momentum > 0 and dampening == 0")
        super().__init__(params)
        self.lr, self.momentum, self.dampening = float(lr), float(momentum), float(dampening)
        self.nesterov, self.weight_decay = bool(nesterov), float(weight_decay)

    def _update(self, p, g, state):
        if self.weight_decay:
            g = g + self.weight_decay * p
        if self.momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                # The first step starts the buffer at the gradient itself, undamped (as PyTorch does).
                buf = state["momentum_buffer"] = g.copy()
            else:
                buf *= self.momentum
                buf += (1.0 - self.dampening) * g
            g = g + self.momentum * buf if self.nesterov else buf
        p -= self.lr * g  # augmented assignment on an array writes into it: references stay valid


class Adam(_Optimizer):
    """torch.optim.Adam: bias-corrected moving averages of g and g*g, L2 weight decay, optional AMSGrad."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False):
        if lr < 0 or eps < 0 or weight_decay < 0 or not all(0.0 <= beta < 1.0 for beta in betas):
            raise ValueError("lr, eps and weight_decay must not be negative, and each beta must be in [0, 1)")
        super().__init__(params)
        self.lr, self.eps, self.weight_decay, self.amsgrad = float(lr), float(eps), float(weight_decay), bool(amsgrad)
        self.beta1, self.beta2 = float(betas[0]), float(betas[1])

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
