"""sourcegrad: source-to-source automatic differentiation for numpy code.

    @sourcegrad.differentiate(wrt=("w1", "w2"))
    def loss_fn(x, y, w1, w2): ...

    loss, (d_w1, d_w2) = loss_fn.value_and_grad(x, y, w1, w2)
"""

from .version import __version__

from .api import (DifferentiableFunction, adjoint, assert_grad, check_grad, checkpoint, differentiate, explain,  # noqa: E402
                  grad, hessian, hvp, jacobian, jvp, keep_freed_memory, nondifferentiable, stop_gradient, to_device)
from .errors import SourcegradError  # noqa: E402
from .templates.registry import d  # noqa: E402  (`d[x]` in a user's gradient rule)
from . import nn, optim  # noqa: E402,F401  (sourcegrad.nn, sourcegrad.optim)

__all__ = ["DifferentiableFunction", "SourcegradError", "adjoint", "assert_grad", "check_grad", "checkpoint", "d", "differentiate",
           "explain", "grad", "hessian", "hvp", "jacobian", "jvp", "keep_freed_memory", "nn", "nondifferentiable", "optim", "stop_gradient", "to_device",
           "__version__"]
